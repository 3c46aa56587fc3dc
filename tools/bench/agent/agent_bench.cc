// SPDX-License-Identifier: BSD-2-Clause
// sw-bench-agent: the whole agent, end to end, under SIP dialogs sent as real
// frames through a veth pair.
//
// The real sipwarden-agent binary runs as a separate process in the
// receiving namespace (default ruleset, native XDP on the receiving veth
// end, maps pinned in the private bpffs live.sh mounts, alarms to a file),
// pinned to one CPU. The generator (agent_gen.bpf.c, run with
// BPF_PROG_TEST_RUN + BPF_F_TEST_XDP_LIVE_FRAMES on the other end, pinned to
// the other CPU) makes every frame from templates of a SIP dialog with its
// own Call-ID, tags, users and addresses, paced to an offered rate. The
// veth hands frames over synchronously, so sipwarden's XDP program (and the
// stack behind it) runs on the generator's CPU, and the agent has its CPU
// to itself. On a kernel that refuses live-frames test runs, the same
// program makes each frame in a plain test run and an AF_PACKET socket on
// the same veth end sends them (--generator).
//
// Figures:
//   - offered-rate steps: the highest rate (SIP messages per second) whose
//     step lost no ring-buffer record (kernel sw_stats.rb_lost), and the
//     loss rate of the lowest step above it that lost some; after the first
//     lossy step, --refine steps halve the gap between the two;
//   - the agent's CPU (cores: CPU-seconds per second, utime + stime of its
//     process) and RSS at that rate;
//   - with --dialogs (100,000) dialogs open at once (INVITE, 100, 180, 200,
//     ACK; no BYE) in a fresh agent: (RSS after - RSS before) / dialogs.
//
// One JSON object per figure on stdout; progress on stderr.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "../figure.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "agent_gen.h"
#include "datapath.h"
#include "maps.h"
#include "netns.h"
#include "packet_builder.h"
#include "sipwarden/absl_compat.h"
#include "sipwarden/cli.h"
#include "sipwarden/json.h"
#include "sipwarden/status_macros.h"
#include "swb_agent_gen.skel.h"

ABSL_FLAG(std::string, gen_netns, "",
          "Network namespace of the generator's interface (name under /run/netns, must start "
          "with swb-)");
ABSL_FLAG(std::string, gen_iface, "", "The generator's end of the veth pair, in --gen-netns");
ABSL_FLAG(std::string, dut_netns, "", "Network namespace of the agent (must start with swb-)");
ABSL_FLAG(std::string, dut_iface, "", "The receiving end of the veth pair, in --dut-netns");
ABSL_FLAG(std::string, dut_ip, "", "IPv4 address of --dut-iface: the frames' destination");
ABSL_FLAG(std::string, pin_dir, "",
          "The agent's --pin-dir, on a bpffs (live.sh mounts a private one under /run)");
ABSL_FLAG(std::string, agent, "",
          "The sipwarden-agent binary (default: sipwarden-agent next to this program)");
ABSL_FLAG(std::string, steps,
          "25000,50000,75000,100000,150000,200000,300000,400000,500000,600000,800000,1000000",
          "Offered rates, SIP messages per second, in increasing order; stepping stops at the "
          "first step that loses records, or that the generator cannot offer");
ABSL_FLAG(double, step_seconds, 5, "How long each offered-rate step lasts");
ABSL_FLAG(uint32_t, refine, 3,
          "Steps added after the first lossy one, each halving the gap between the highest "
          "rate sustained and the lowest that was not (stopping once it is within 2 %), so that "
          "the sustained figure does not depend on how coarse --steps is; 0: none");
ABSL_FLAG(uint32_t, call_cycles, 20000,
          "Calls in progress during the steps: a BYE ends the call that began this many calls "
          "ago (the 200 to the INVITE comes a tenth of that after it); the steps start once "
          "the first BYEs flow");
ABSL_FLAG(uint32_t, dialogs, 100000, "Dialogs opened at once for the bytes-per-dialog figure");
ABSL_FLAG(uint32_t, dialog_rate, 100000,
          "Offered rate (messages/s) while opening the dialogs (below the sustained rate, "
          "else records are lost and the figure is refused)");
ABSL_FLAG(std::string, correlate, "",
          "sw-bench-correlate, run with the same --dialogs for the rule engine's own bytes per "
          "open dialog beside the agent's (default: next to this program; none: skipped)");
ABSL_FLAG(std::string, events_out, "/dev/null",
          "The agent's --events-out: events are serialised as JSON lines (the packaged "
          "agent.yaml writes them to a file; /dev/null keeps the cost of making them, not "
          "the disk)");
ABSL_FLAG(std::string, agent_args, "", "More flags for the agent, space separated");
ABSL_FLAG(int32_t, gen_cpu, 0, "CPU of the generator (and with it the veth's receive path)");
ABSL_FLAG(int32_t, agent_cpu, 1, "CPU the agent process is pinned to");
ABSL_FLAG(uint32_t, metrics_port, 9464,
          "The agent's --metrics-listen port on 127.0.0.1 (its namespace)");
ABSL_FLAG(uint32_t, batch_size, 64, "Frames per generator batch (1..256)");
ABSL_FLAG(std::string, generator, "auto",
          "How frames reach the veth: live (the generator program's test run in "
          "BPF_F_TEST_XDP_LIVE_FRAMES mode transmits them), socket (the program makes each frame "
          "in a plain test run and an AF_PACKET socket sends them, paced here; for kernels that "
          "refuse live frames), or auto (live, else socket when the kernel refuses it)");
ABSL_FLAG(bool, verbose, false, "Show libbpf's informational messages");
ABSL_FLAG(bool, version, false, "Print the version and exit");

namespace {

using Clock = std::chrono::steady_clock;

std::atomic<bool> g_stop{false};
void OnAlarm(int) {}  // only ends the test-run syscall (EINTR)
void OnStop(int) { g_stop = true; }

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

void Sleep(double s) {
  std::this_thread::sleep_for(std::chrono::microseconds(static_cast<int64_t>(s * 1e6)));
}

using sw::bench::EnterNetns;
using sw::bench::Fd;
using sw::bench::Iface;
using sw::bench::LiveFramesRefused;
using sw::bench::OpenIface;
using sw::bench::OpenNetns;

// ---- the SIP messages of a dialog, as templates ----------------------------
//
// Marked places the generator fills per dialog (agent_gen.h): kHex its
// number in hex (Call-ID, tags, branches), kUser a five-digit user number,
// kCaller / kCallee the last three octets of the phone's / the trunk's
// address (10.200-209.x.y / 10.100-109.x.y, three digits each). The agent's
// host (--dut-ip) is a proxy/SBC between phones and a trunk: it receives the
// phone's requests and the trunk's responses (what it sends is not seen by
// an XDP program on ingress).

const std::string kHex(8, '%');
const std::string kUser(5, '&');
const std::string kCaller(11, '{');
const std::string kCallee(11, '}');

struct Message {
  std::string name;
  uint32_t pool;  // whose address is the IP source
  std::string sip;
};

std::string Sdp(const std::string& addr, int port) {
  return absl::StrCat(
      "v=0\r\n"
      "o=- 38492",
      kHex, " 1 IN IP4 ", addr,
      "\r\n"
      "s=SIP Call\r\n"
      "c=IN IP4 ",
      addr,
      "\r\n"
      "t=0 0\r\n"
      "m=audio ",
      port,
      " RTP/AVP 9 0 8 101\r\n"
      "a=rtpmap:9 G722/8000\r\n"
      "a=rtpmap:0 PCMU/8000\r\n"
      "a=rtpmap:8 PCMA/8000\r\n"
      "a=rtpmap:101 telephone-event/8000\r\n"
      "a=fmtp:101 0-15\r\n"
      "a=sendrecv\r\n");
}

// clang-format off
std::vector<Message> DialogMessages(const std::string& dut) {
  const std::string caller = absl::StrCat("10.", kCaller);
  const std::string callee = absl::StrCat("10.", kCallee);
  const std::string from = absl::StrCat("From: \"Desk 1", kUser, "\" <sip:1", kUser, "@", dut,
                                        ">;tag=", kHex, "f\r\n");
  const std::string to = absl::StrCat("To: <sip:2", kUser, "@", dut, ">");
  const std::string to_tagged = absl::StrCat(to, ";tag=", kHex, "t\r\n");
  const std::string call_id = absl::StrCat("Call-ID: ", kHex, "-7c1e9a@", caller, "\r\n");
  const std::string phone_via = absl::StrCat("Via: SIP/2.0/UDP ", caller, ":5060;branch=z9hG4bK",
                                             kHex);
  const std::string proxy_via = absl::StrCat("Via: SIP/2.0/UDP ", dut, ":5060;branch=z9hG4bK",
                                             kHex, "p0\r\n");
  const std::string ua = "User-Agent: Yealink SIP-T46S 66.86.0.15\r\n";
  const std::string trunk_ua = "Server: Carrier SBC 4.2\r\n";
  const std::string offer = Sdp(caller, 16384);
  const std::string answer = Sdp(callee, 20000);
  std::vector<Message> m;
  m.push_back({"INVITE", SWB_POOL_CALLER, absl::StrCat(
      "INVITE sip:2", kUser, "@", dut, " SIP/2.0\r\n",
      phone_via, "i;rport\r\n", from, to, "\r\n", call_id,
      "CSeq: 1 INVITE\r\n"
      "Contact: <sip:1", kUser, "@", caller, ":5060>\r\n"
      "Max-Forwards: 70\r\n", ua,
      "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, NOTIFY, REFER, UPDATE\r\n"
      "Supported: replaces, timer\r\n"
      "Content-Type: application/sdp\r\n"
      "Content-Length: ", offer.size(), "\r\n\r\n", offer)});
  auto response = [&](std::string_view status, std::string_view cseq, bool tagged,
                      std::string_view extra, const std::string& body) {
    return absl::StrCat("SIP/2.0 ", sw::AV(status), "\r\n", proxy_via, from,
                        tagged ? to_tagged : absl::StrCat(to, "\r\n"), call_id,
                        "CSeq: ", sw::AV(cseq), "\r\n", trunk_ua, sw::AV(extra),
                        body.empty() ? "" : "Content-Type: application/sdp\r\n",
                        "Content-Length: ", body.size(), "\r\n\r\n", body);
  };
  const std::string trunk_contact = absl::StrCat("Contact: <sip:2", kUser, "@", callee, ":5060>\r\n");
  m.push_back({"100", SWB_POOL_CALLEE, response("100 Trying", "1 INVITE", false, "", "")});
  m.push_back({"180", SWB_POOL_CALLEE, response("180 Ringing", "1 INVITE", true, trunk_contact, "")});
  m.push_back({"200-INVITE", SWB_POOL_CALLEE, response("200 OK", "1 INVITE", true, trunk_contact, answer)});
  m.push_back({"ACK", SWB_POOL_CALLER, absl::StrCat(
      "ACK sip:2", kUser, "@", callee, ":5060 SIP/2.0\r\n",
      phone_via, "k;rport\r\n", from, to_tagged, call_id,
      "CSeq: 1 ACK\r\nMax-Forwards: 70\r\n", ua, "Content-Length: 0\r\n\r\n")});
  m.push_back({"BYE", SWB_POOL_CALLER, absl::StrCat(
      "BYE sip:2", kUser, "@", callee, ":5060 SIP/2.0\r\n",
      phone_via, "b;rport\r\n", from, to_tagged, call_id,
      "CSeq: 2 BYE\r\nMax-Forwards: 70\r\n", ua, "Content-Length: 0\r\n\r\n")});
  m.push_back({"200-BYE", SWB_POOL_CALLEE, response("200 OK", "2 BYE", true, "", "")});
  // A phone's (authenticated) re-registration through the SBC, and the
  // registrar's answer.
  const std::string reg_from = absl::StrCat("From: <sip:1", kUser, "@", dut, ">;tag=", kHex, "r\r\n");
  const std::string reg_to = absl::StrCat("To: <sip:1", kUser, "@", dut, ">\r\n");
  const std::string reg_id = absl::StrCat("Call-ID: ", kHex, "-reg@", caller, "\r\n");
  m.push_back({"REGISTER", SWB_POOL_CALLER, absl::StrCat(
      "REGISTER sip:", dut, " SIP/2.0\r\n", phone_via, "r;rport\r\n", reg_from, reg_to, reg_id,
      "CSeq: 7 REGISTER\r\n"
      "Contact: <sip:1", kUser, "@", caller, ":5060>\r\n"
      "Authorization: Digest username=\"1", kUser, "\", realm=\"", dut, "\", nonce=\"", kHex,
      "5f2c\", uri=\"sip:", dut, "\", response=\"", kHex, "0c9d4e21a3b87f6e5d4c3b2a\", "
      "algorithm=MD5\r\n"
      "Max-Forwards: 70\r\n", ua, "Expires: 3600\r\nContent-Length: 0\r\n\r\n")});
  m.push_back({"200-REGISTER", SWB_POOL_CALLEE, absl::StrCat(
      "SIP/2.0 200 OK\r\n", proxy_via, reg_from, absl::StrCat("To: <sip:1", kUser, "@", dut,
      ">;tag=", kHex, "q\r\n"), reg_id, "CSeq: 7 REGISTER\r\n"
      "Contact: <sip:1", kUser, "@", caller, ":5060>;expires=3600\r\n", trunk_ua,
      "Content-Length: 0\r\n\r\n")});
  // The trunk's keep-alive (answered by the SBC itself, so unseen).
  m.push_back({"OPTIONS", SWB_POOL_CALLEE, absl::StrCat(
      "OPTIONS sip:", dut, " SIP/2.0\r\n"
      "Via: SIP/2.0/UDP ", callee, ":5060;branch=z9hG4bK", kHex, "o\r\n"
      "From: <sip:ping@", callee, ">;tag=", kHex, "o\r\n"
      "To: <sip:", dut, ">\r\n"
      "Call-ID: ", kHex, "-ka@", callee, "\r\n"
      "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n", trunk_ua, "Content-Length: 0\r\n\r\n")});
  return m;
}
// clang-format on

enum Tmpl : uint32_t {
  kInvite,
  k100,
  k180,
  k200Invite,
  kAck,
  kBye,
  k200Bye,
  kRegister,
  k200Register,
  kOptions
};

// Builds the frame and finds the marked places (each marker is as wide as
// what the generator writes there, so lengths, Content-Length included,
// hold).
absl::StatusOr<swb_tmpl> MakeTemplate(const Message& m, const std::string& dut_ip,
                                      const Iface& from, const Iface& to) {
  std::vector<uint8_t> f =
      sw::test::PacketBuilder()
          .Eth()
          .IPv4(m.pool == SWB_POOL_CALLER ? "10.200.100.100" : "10.100.100.100", dut_ip)
          .Udp(5060, 5060)
          .Payload(m.sip)
          .Build();
  if (f.size() > SWB_FRAME_MAX) {
    return absl::InternalError(absl::StrCat(m.name, ": frame of ", f.size(), " bytes"));
  }
  std::copy(to.mac.begin(), to.mac.end(), f.begin());
  std::copy(from.mac.begin(), from.mac.end(), f.begin() + 6);
  f[14 + 20 + 6] = 0;  // UDP checksum: none (IPv4), as the payload changes per frame
  f[14 + 20 + 7] = 0;
  swb_tmpl t{};
  t.len = static_cast<uint32_t>(f.size());
  t.src_pool = m.pool;
  const std::string_view text(reinterpret_cast<const char*>(f.data()), f.size());
  const std::pair<const std::string*, uint16_t> markers[] = {{&kHex, SWB_PATCH_HEX},
                                                             {&kUser, SWB_PATCH_USER},
                                                             {&kCaller, SWB_PATCH_CALLER},
                                                             {&kCallee, SWB_PATCH_CALLEE}};
  for (const auto& [marker, kind] : markers) {
    for (size_t at = text.find(*marker); at != std::string_view::npos;
         at = text.find(*marker, at + marker->size())) {
      if (t.n_patch == SWB_PATCH_MAX) {
        return absl::InternalError(absl::StrCat(m.name, ": more than ", SWB_PATCH_MAX, " places"));
      }
      t.patch[t.n_patch++] = {static_cast<uint16_t>(at), kind};
    }
  }
  std::copy(f.begin(), f.end(), t.data);
  return t;
}

// ---- the agent process ------------------------------------------------------

struct ProcStat {
  double cpu_s = 0;     // utime + stime
  double rss_mib = 0;   // VmRSS
  double hwm_mib = 0;   // VmHWM
  double anon_mib = 0;  // RssAnon: the heap, without the ring buffer's mapped pages
};

class Agent {
 public:
  ~Agent() { Stop(); }
  absl::Status Start(const Fd& ns, const std::string& log_path);
  void Stop();
  pid_t pid() const { return pid_; }
  absl::StatusOr<ProcStat> Stat() const;

 private:
  pid_t pid_ = -1;
};

absl::Status Agent::Start(const Fd& ns, const std::string& log_path) {
  std::string binary = absl::GetFlag(FLAGS_agent);
  if (binary.empty()) {
    std::error_code ec;
    binary = (std::filesystem::read_symlink("/proc/self/exe", ec).parent_path() / "sipwarden-agent")
                 .string();
  }
  if (access(binary.c_str(), X_OK) != 0) {
    return sw::ErrnoStatus(errno, absl::StrCat("agent binary ", binary, " (see --agent)"));
  }
  const std::string alarms = absl::StrCat(log_path, ".alarms");
  std::vector<std::string> args = {
      binary,
      "--iface",
      absl::GetFlag(FLAGS_dut_iface),
      "--xdp-mode",
      "native",
      "--pin-dir",
      absl::GetFlag(FLAGS_pin_dir),
      "--alarms-out",
      alarms,
      "--events-out",
      absl::GetFlag(FLAGS_events_out),
      "--metrics-listen",
      absl::StrCat("127.0.0.1:", absl::GetFlag(FLAGS_metrics_port)),
  };
  for (absl::string_view a :
       absl::StrSplit(absl::GetFlag(FLAGS_agent_args), ' ', absl::SkipEmpty())) {
    args.emplace_back(a);
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::cerr << "  agent: " << absl::StrJoin(args, " ") << "\n";

  const int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (log < 0) return sw::ErrnoStatus(errno, log_path);
  const int cpu = absl::GetFlag(FLAGS_agent_cpu);
  const pid_t pid = fork();
  if (pid < 0) {
    close(log);
    return sw::ErrnoStatus(errno, "fork");
  }
  if (pid == 0) {
    // The child: into the receiving namespace, onto its CPU, then the agent.
    // It goes when the benchmark goes, however that happens.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    if (setns(ns.get(), CLONE_NEWNET) != 0) _exit(126);
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) _exit(126);
    const int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, STDIN_FILENO);
    dup2(devnull, STDOUT_FILENO);
    dup2(log, STDERR_FILENO);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(log);
  pid_ = pid;
  // Up once it says it attached; bounded.
  for (int i = 0; i < 300; ++i) {
    std::ifstream in(log_path);
    std::stringstream text;
    text << in.rdbuf();
    if (text.str().find("attached to") != std::string::npos) return absl::OkStatus();
    int st;
    if (waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::InternalError(absl::StrCat("the agent exited (status ", st, "):\n", text.str()));
    }
    Sleep(0.1);
  }
  Stop();
  return absl::DeadlineExceededError(
      absl::StrCat("the agent did not attach within 30 s; see ", log_path));
}

void Agent::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);  // our own child, by its id: it detaches and unpins
  int st;
  for (int i = 0; i < 200; ++i) {  // 20 s at most
    if (waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    Sleep(0.1);
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, &st, 0);
  pid_ = -1;
}

absl::StatusOr<ProcStat> Agent::Stat() const {
  ProcStat s;
  std::ifstream stat(absl::StrCat("/proc/", pid_, "/stat"));
  std::string line;
  if (!std::getline(stat, line)) return absl::NotFoundError("the agent is gone");
  // Fields after the command name (which may hold spaces): state is the
  // first, utime the 12th, stime the 13th.
  const size_t close_paren = line.rfind(')');
  std::vector<std::string> f = absl::StrSplit(line.substr(close_paren + 2), ' ');
  if (f.size() < 13) return absl::InternalError("short /proc/PID/stat");
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  s.cpu_s = (std::stod(f[11]) + std::stod(f[12])) / tick;
  std::ifstream status(absl::StrCat("/proc/", pid_, "/status"));
  while (std::getline(status, line)) {
    if (line.starts_with("VmRSS:")) s.rss_mib = std::strtod(line.c_str() + 6, nullptr) / 1024.0;
    if (line.starts_with("VmHWM:")) s.hwm_mib = std::strtod(line.c_str() + 6, nullptr) / 1024.0;
    if (line.starts_with("RssAnon:")) s.anon_mib = std::strtod(line.c_str() + 8, nullptr) / 1024.0;
  }
  return s;
}

// Run time of ksoftirqd/<cpu>, ns (schedstat): receive work the kernel
// deferred from the generator's CPU to it. -1 when it cannot be read.
int64_t SoftirqNs(int cpu) {
  static std::string path;
  if (path.empty()) {
    const std::string want = absl::StrCat("ksoftirqd/", cpu);
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
      const std::string pid = e.path().filename().string();
      if (pid.empty() || !std::all_of(pid.begin(), pid.end(), ::isdigit)) continue;
      std::ifstream comm(absl::StrCat("/proc/", pid, "/comm"));
      std::string name;
      if (std::getline(comm, name) && name == want) {
        path = absl::StrCat("/proc/", pid, "/schedstat");
        break;
      }
    }
    if (path.empty()) path = "-";
  }
  std::ifstream in(path);
  int64_t run = 0;
  if (path == "-" || !(in >> run)) return -1;
  return run;
}

// ---- the ring buffer's fill level -------------------------------------------

// The ring buffer's consumer and producer positions, mapped read-only from
// the pinned map: bytes written and not yet taken by the agent.
class RingLevel {
 public:
  static absl::StatusOr<std::unique_ptr<RingLevel>> Open(int fd) {
    bpf_map_info info{};
    uint32_t len = sizeof info;
    if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) return sw::ErrnoStatus(errno, "ring info");
    auto r = std::unique_ptr<RingLevel>(new RingLevel());
    r->page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    r->bytes_ = info.max_entries;
    r->cons_ = mmap(nullptr, r->page_, PROT_READ, MAP_SHARED, fd, 0);
    if (r->cons_ == MAP_FAILED) return sw::ErrnoStatus(errno, "map the ring's consumer page");
    r->prod_ = mmap(nullptr, r->page_, PROT_READ, MAP_SHARED, fd, static_cast<off_t>(r->page_));
    if (r->prod_ == MAP_FAILED) return sw::ErrnoStatus(errno, "map the ring's producer page");
    return r;
  }
  ~RingLevel() {
    if (cons_ != MAP_FAILED) munmap(cons_, page_);
    if (prod_ != MAP_FAILED) munmap(prod_, page_);
  }
  uint64_t used() const {
    const uint64_t c = __atomic_load_n(static_cast<const uint64_t*>(cons_), __ATOMIC_ACQUIRE);
    const uint64_t p = __atomic_load_n(static_cast<const uint64_t*>(prod_), __ATOMIC_ACQUIRE);
    return p >= c ? p - c : 0;
  }
  uint64_t bytes() const { return bytes_; }

 private:
  RingLevel() = default;
  size_t page_ = 0;
  uint64_t bytes_ = 0;
  void* cons_ = MAP_FAILED;
  void* prod_ = MAP_FAILED;
};

// ---- the benchmark ----------------------------------------------------------

struct Counters {
  sw_stats k{};           // the kernel's
  uint64_t consumed = 0;  // records the agent took: SIP parsed + refused + undecodable
  uint64_t alarms = 0;
  uint64_t gen_sent = 0, gen_waits = 0;
};

struct StepResult {
  double offered = 0;  // messages per second the generator sent
  double wall = 0;
  uint64_t sent = 0, records = 0, lost = 0, pass_sip = 0;
  double cpu_cores = 0, rss_mib = 0, hwm_mib = 0, ns_per_msg = 0;
  uint64_t alarms = 0;
  uint64_t gen_waits = 0;  // generator runs that found no frame due
  double ring_used = 0;    // share of the ring buffer filled when the step ended
  double gen_cpu = 0;      // CPU-seconds of the generator's thread (its softirq work included)
  double softirqd = 0;     // CPU-seconds of ksoftirqd on the generator's CPU
};

class Bench {
 public:
  static absl::StatusOr<std::unique_ptr<Bench>> Create();
  ~Bench();
  absl::Status Run();

 private:
  Bench() = default;
  absl::Status StartAgent(std::string_view tag);
  void StopAgent();
  absl::StatusOr<Counters> Read();
  absl::StatusOr<std::map<std::string, double>> Scrape();
  // Sends frames for `seconds` (or until `limit` frames in total have been
  // sent), paced to the rate Pace set, the way --generator chose.
  absl::Status Generate(double seconds);
  // One test run of the generator in live-frames mode, ended by an interval
  // timer.
  absl::Status GenerateLive(double seconds);
  // Frames made by plain test runs of the generator and sent through an
  // AF_PACKET socket, batch by batch, paced here.
  absl::Status GenerateSocket(double seconds);
  // Picks the generator: --generator, or for auto whether the kernel takes a
  // live-frames test run (one that sends nothing: the limit is 0).
  absl::Status ChooseGenerator();
  // Waits (bounded) until the agent has taken every record the kernel wrote.
  absl::StatusOr<Counters> Drain(double max_seconds);
  void Schedule(const std::vector<swb_slot>& slots, uint64_t dialog_base);
  void Pace(uint64_t rate);
  absl::StatusOr<StepResult> Step(uint64_t rate, double seconds);
  // Where the agent's time went over its run, from its own metrics (the
  // rules' sampled time, the most costly first), on stderr.
  void ReportRuleTime();

  Fd home_ns_, gen_ns_, dut_ns_;
  Iface gen_, dut_;
  swb_agent_gen* skel_ = nullptr;
  std::vector<uint8_t> frame_;  // data_in of the test runs (the templates overwrite it)
  // Socket generator: the AF_PACKET socket on gen_, one buffer per frame of
  // a batch, and the pacing the program does itself in live mode.
  bool live_ = true;
  Fd tx_;
  std::vector<std::array<uint8_t, SWB_FRAME_MAX>> batch_;
  uint64_t rate_ = 0, burst_ = 0, paced_ = 0, waits_ = 0;
  std::optional<Clock::time_point> epoch_;
  std::unique_ptr<Agent> agent_;
  std::optional<sw::Maps> maps_;
  std::unique_ptr<RingLevel> ring_;
  std::string tmp_;
  int agent_runs_ = 0;
};

Bench::~Bench() {
  StopAgent();
  if (skel_) swb_agent_gen__destroy(skel_);
  if (!tmp_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(tmp_, ec);
  }
  if (home_ns_.get() >= 0) (void)EnterNetns(home_ns_, "of the benchmark");
}

absl::StatusOr<std::unique_ptr<Bench>> Bench::Create() {
  auto b = std::unique_ptr<Bench>(new Bench());
  const std::string gen_name = absl::GetFlag(FLAGS_gen_netns);
  const std::string dut_name = absl::GetFlag(FLAGS_dut_netns);
  for (const std::string& n : {gen_name, dut_name}) {
    if (n.rfind("swb-", 0) != 0 || n.find('/') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--gen-netns and --dut-netns must name namespaces made for this benchmark (swb-...), "
          "got '",
          n, "'"));
    }
  }
  if (gen_name == dut_name)
    return absl::InvalidArgumentError("--gen-netns and --dut-netns must differ");
  b->home_ns_ = Fd(open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (b->home_ns_.get() < 0) return sw::ErrnoStatus(errno, "open own network namespace");
  SW_ASSIGN_OR_RETURN(b->gen_ns_, OpenNetns(gen_name));
  SW_ASSIGN_OR_RETURN(b->dut_ns_, OpenNetns(dut_name));
  SW_RETURN_IF_ERROR(EnterNetns(b->dut_ns_, dut_name));
  auto dut = OpenIface(absl::GetFlag(FLAGS_dut_iface));
  SW_RETURN_IF_ERROR(EnterNetns(b->gen_ns_, gen_name));
  if (!dut.ok()) return dut.status();
  b->dut_ = std::move(*dut);
  SW_ASSIGN_OR_RETURN(b->gen_, OpenIface(absl::GetFlag(FLAGS_gen_iface)));

  char dir[] = "/tmp/swb-agent.XXXXXX";
  if (!mkdtemp(dir)) return sw::ErrnoStatus(errno, "mkdtemp");
  b->tmp_ = dir;

  b->skel_ = swb_agent_gen__open_and_load();
  if (!b->skel_) return sw::ErrnoStatus(errno, "load the generator program");
  const std::string dut_ip = absl::GetFlag(FLAGS_dut_ip);
  const std::vector<Message> msgs = DialogMessages(dut_ip);
  size_t longest = 0;
  std::cerr << "sw-bench-agent: messages (frame bytes):";
  for (uint32_t i = 0; i < msgs.size(); ++i) {
    SW_ASSIGN_OR_RETURN(swb_tmpl t, MakeTemplate(msgs[i], dut_ip, b->gen_, b->dut_));
    if (bpf_map__update_elem(b->skel_->maps.swb_tmpls, &i, sizeof i, &t, sizeof t, BPF_ANY) != 0) {
      return sw::ErrnoStatus(errno, "write a template");
    }
    longest = std::max<size_t>(longest, t.len);
    std::cerr << " " << msgs[i].name << " " << t.len;
  }
  std::cerr << "\n";
  b->frame_.assign(longest, 0);
  SW_RETURN_IF_ERROR(b->ChooseGenerator());
  return b;
}

absl::Status Bench::StartAgent(std::string_view tag) {
  agent_ = std::make_unique<Agent>();
  const std::string log = absl::StrCat(tmp_, "/agent-", ++agent_runs_, "-", sw::AV(tag), ".log");
  SW_RETURN_IF_ERROR(agent_->Start(dut_ns_, log));
  SW_ASSIGN_OR_RETURN(sw::Maps m, sw::Maps::OpenPinned(absl::GetFlag(FLAGS_pin_dir)));
  maps_.emplace(std::move(m));
  SW_ASSIGN_OR_RETURN(ring_, RingLevel::Open(maps_->fds().events));
  // Up to its metrics endpoint too (it serves them from its loop).
  for (int i = 0; i < 100; ++i) {
    if (Scrape().ok()) return absl::OkStatus();
    Sleep(0.1);
  }
  return absl::DeadlineExceededError("the agent's metrics did not answer within 10 s");
}

void Bench::StopAgent() {
  ring_.reset();
  maps_.reset();
  if (agent_) agent_->Stop();
  agent_.reset();
}

// GET /metrics from the agent, over 127.0.0.1 in its namespace.
absl::StatusOr<std::map<std::string, double>> Bench::Scrape() {
  SW_RETURN_IF_ERROR(EnterNetns(dut_ns_, "of the agent"));
  Fd s(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const int err = errno;
  if (absl::Status back = EnterNetns(gen_ns_, "of the generator"); !back.ok()) {
    // Test runs would look for the generator's interface in the wrong place.
    std::cerr << "sw-bench-agent: " << back.message() << "\n";
    std::abort();
  }
  if (s.get() < 0) return sw::ErrnoStatus(err, "socket");
  timeval tv{.tv_sec = 5, .tv_usec = 0};
  setsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(s.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(absl::GetFlag(FLAGS_metrics_port)));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    return sw::ErrnoStatus(errno, "connect to the agent's metrics");
  }
  const std::string req = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (send(s.get(), req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    return sw::ErrnoStatus(errno, "send to the agent's metrics");
  }
  std::string text;
  char buf[16384];
  for (int i = 0; i < 10000; ++i) {  // bounded: the timeout ends a stuck read
    const ssize_t n = recv(s.get(), buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sw::ErrnoStatus(errno, "read the agent's metrics");
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  // Each series under its name summed over labels, and a labelled series
  // under its whole name too (name{label="value"}).
  std::map<std::string, double> out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    const size_t sp = line.rfind(' ');
    if (sp == absl::string_view::npos) continue;
    absl::string_view name = line.substr(0, sp);
    double v;
    if (!absl::SimpleAtod(line.substr(sp + 1), &v)) continue;
    if (const size_t brace = name.find('{'); brace != absl::string_view::npos) {
      out[std::string(name)] += v;
      name = name.substr(0, brace);
    }
    out[std::string(name)] += v;
  }
  if (!out.contains("sipwarden_sip_messages_total")) {
    return absl::InternalError("no sipwarden_sip_messages_total in the agent's metrics");
  }
  return out;
}

absl::StatusOr<Counters> Bench::Read() {
  Counters c;
  SW_ASSIGN_OR_RETURN(c.k, maps_->ReadStats());
  SW_ASSIGN_OR_RETURN(auto m, Scrape());
  c.consumed =
      static_cast<uint64_t>(m["sipwarden_sip_messages_total"] + m["sipwarden_sip_rejected_total"] +
                            m["sipwarden_bad_records_total"]);
  c.alarms = static_cast<uint64_t>(m["sipwarden_alarms_total"]);
  c.gen_sent = skel_->bss->sent;
  c.gen_waits = skel_->bss->waits + waits_;
  return c;
}

absl::StatusOr<Counters> Bench::Drain(double max_seconds) {
  const auto t0 = Clock::now();
  while (true) {
    SW_ASSIGN_OR_RETURN(Counters c, Read());
    if (c.consumed >= c.k.rb_records) return c;
    if (Seconds(t0, Clock::now()) > max_seconds || g_stop) {
      return absl::DeadlineExceededError(
          absl::StrCat("the agent took ", c.consumed, " of ", c.k.rb_records,
                       " records and did not catch up within ", max_seconds, " s"));
    }
    Sleep(0.02);
  }
}

void Bench::Schedule(const std::vector<swb_slot>& slots, uint64_t dialog_base) {
  std::fill(std::begin(skel_->bss->slots), std::end(skel_->bss->slots), swb_slot{});
  std::copy(slots.begin(), slots.end(), skel_->bss->slots);
  skel_->bss->n_slots = static_cast<uint32_t>(slots.size());
  skel_->bss->dialog_base = dialog_base;
  skel_->bss->seq = 0;
}

void Bench::Pace(uint64_t rate) {
  // At most 1 ms of frames at once after the syscall's own pauses.
  const uint64_t burst = std::max<uint64_t>(64, rate / 1000);
  // The socket generator paces here; its program makes a frame per run.
  skel_->bss->rate = live_ ? rate : 0;
  skel_->bss->burst = burst;
  skel_->bss->epoch_ns = 0;
  skel_->bss->paced = 0;
  rate_ = rate;
  burst_ = burst;
  paced_ = 0;
  epoch_.reset();
}

absl::Status Bench::ChooseGenerator() {
  const std::string want = absl::GetFlag(FLAGS_generator);
  if (want != "auto" && want != "live" && want != "socket") {
    return absl::InvalidArgumentError(
        absl::StrCat("--generator: '", want, "' is not auto, live or socket"));
  }
  live_ = want != "socket";
  if (want == "auto") {
    // The limit is 0 until a phase sets it: this run sends no frame.
    skel_->bss->limit = 0;
    xdp_md ctx{};
    ctx.data_end = static_cast<uint32_t>(frame_.size());
    ctx.ingress_ifindex = static_cast<uint32_t>(gen_.ifindex);
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame_.data(),
                .data_size_in = static_cast<uint32_t>(frame_.size()), .ctx_in = &ctx,
                .ctx_size_in = sizeof(ctx), .repeat = 1, .flags = BPF_F_TEST_XDP_LIVE_FRAMES);
    const int err = bpf_prog_test_run_opts(bpf_program__fd(skel_->progs.swb_agent_gen), &opts);
    if (LiveFramesRefused(err)) {
      std::cerr << "sw-bench-agent: this kernel refuses live-frames test runs ("
                << std::strerror(-err)
                << "): frames are made by plain test runs and sent through an AF_PACKET socket "
                   "(--generator socket)\n";
      live_ = false;
    } else if (err != 0) {
      return sw::ErrnoStatus(-err, "generator test run (BPF_F_TEST_XDP_LIVE_FRAMES)");
    }
  }
  if (live_) return absl::OkStatus();
  // Made in the generator's namespace (the thread is there): frames go out
  // of gen_ straight to the driver, past the qdisc, as XDP_TX puts them.
  tx_ = Fd(socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
  if (tx_.get() < 0) return sw::ErrnoStatus(errno, "AF_PACKET socket");
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_protocol = 0;  // sends only: receives nothing
  to.sll_ifindex = gen_.ifindex;
  if (bind(tx_.get(), reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    return sw::ErrnoStatus(errno, absl::StrCat("bind the AF_PACKET socket to ", gen_.name));
  }
  const int one = 1;
  if (setsockopt(tx_.get(), SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one) != 0) {
    return sw::ErrnoStatus(errno, "PACKET_QDISC_BYPASS");
  }
  const int sndbuf = 16 << 20;
  (void)setsockopt(tx_.get(), SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf);
  batch_.resize(absl::GetFlag(FLAGS_batch_size));
  return absl::OkStatus();
}

absl::Status Bench::Generate(double seconds) {
  return live_ ? GenerateLive(seconds) : GenerateSocket(seconds);
}

absl::Status Bench::GenerateSocket(double seconds) {
  const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(seconds));
  const int prog = bpf_program__fd(skel_->progs.swb_agent_gen);
  std::vector<uint32_t> lens(batch_.size());
  std::vector<iovec> iov(batch_.size());
  std::vector<mmsghdr> msgs(batch_.size());
  while (!g_stop) {
    const auto now = Clock::now();
    if (now >= end) break;
    uint64_t want = batch_.size();
    if (rate_) {
      if (!epoch_) epoch_ = now;
      const double due_d =
          std::chrono::duration<double>(now - *epoch_).count() * static_cast<double>(rate_);
      const uint64_t due = static_cast<uint64_t>(due_d);
      if (paced_ >= due) {
        ++waits_;  // spins until the next frame is due, as the live program does
        continue;
      }
      if (due - paced_ > burst_) paced_ = due - burst_;
      want = std::min<uint64_t>(want, due - paced_);
    }
    // Make the frames: a run that returns XDP_DROP gave its turn back (a
    // slot without a frame this cycle) or met the limit.
    size_t made = 0;
    bool at_limit = false;
    while (made < want) {
      LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame_.data(),
                  .data_out = batch_[made].data(),
                  .data_size_in = static_cast<uint32_t>(frame_.size()),
                  .data_size_out = SWB_FRAME_MAX, .repeat = 1);
      const int err = bpf_prog_test_run_opts(prog, &opts);
      if (err != 0) return sw::ErrnoStatus(-err, "generator test run (a frame for the socket)");
      if (skel_->bss->errors) {
        return absl::InternalError(
            absl::StrCat("the generator failed to make ", skel_->bss->errors, " frames"));
      }
      if (opts.retval == XDP_TX) {
        lens[made++] = opts.data_size_out;
      } else if (skel_->bss->sent >= skel_->bss->limit) {
        at_limit = true;
        break;
      }
    }
    for (size_t i = 0; i < made; ++i) {
      iov[i] = {batch_[i].data(), lens[i]};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    // Every frame made is counted as sent (the program's counter): retry
    // what the socket had no room for, within a bound.
    size_t done = 0;
    for (int tries = 0; done < made; ++tries) {
      const int n = sendmmsg(tx_.get(), msgs.data() + done, static_cast<unsigned>(made - done), 0);
      if (n > 0) {
        done += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && (errno == EINTR || errno == ENOBUFS || errno == EAGAIN) && tries < 100000) {
        continue;
      }
      return sw::ErrnoStatus(n < 0 ? errno : EIO, absl::StrCat("send frames on ", gen_.name));
    }
    paced_ += made;
    if (at_limit) break;
  }
  if (g_stop) return absl::CancelledError("stopped by a signal");
  return absl::OkStatus();
}

absl::Status Bench::GenerateLive(double seconds) {
  xdp_md ctx{};
  ctx.data_end = static_cast<uint32_t>(frame_.size());
  ctx.ingress_ifindex = static_cast<uint32_t>(gen_.ifindex);
  // Every run is one frame or one wait; the timer ends the syscall long
  // before this many.
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame_.data(),
              .data_size_in = static_cast<uint32_t>(frame_.size()), .ctx_in = &ctx,
              .ctx_size_in = sizeof(ctx), .repeat = std::numeric_limits<int>::max(),
              .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = absl::GetFlag(FLAGS_batch_size));
  itimerval it{};
  it.it_value.tv_sec = static_cast<time_t>(seconds);
  it.it_value.tv_usec =
      static_cast<suseconds_t>((seconds - static_cast<double>(it.it_value.tv_sec)) * 1e6);
  if (it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0) it.it_value.tv_usec = 1000;
  setitimer(ITIMER_REAL, &it, nullptr);
  const int err = bpf_prog_test_run_opts(bpf_program__fd(skel_->progs.swb_agent_gen), &opts);
  itimerval off{};
  setitimer(ITIMER_REAL, &off, nullptr);
  if (err != 0 && err != -EINTR) {
    return sw::ErrnoStatus(-err, "generator test run (BPF_F_TEST_XDP_LIVE_FRAMES; kernel >= 5.18)");
  }
  if (skel_->bss->errors) {
    return absl::InternalError(
        absl::StrCat("the generator failed to make ", skel_->bss->errors, " frames"));
  }
  if (g_stop) return absl::CancelledError("stopped by a signal");
  return absl::OkStatus();
}

absl::StatusOr<StepResult> Bench::Step(uint64_t rate, double seconds) {
  Pace(rate);
  SW_ASSIGN_OR_RETURN(Counters before, Read());
  SW_ASSIGN_OR_RETURN(ProcStat p0, agent_->Stat());
  timespec g0{}, g1{};
  const int64_t s0 = SoftirqNs(absl::GetFlag(FLAGS_gen_cpu));
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &g0);
  const auto t0 = Clock::now();
  SW_RETURN_IF_ERROR(Generate(seconds));
  const auto t1 = Clock::now();
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &g1);
  const int64_t s1 = SoftirqNs(absl::GetFlag(FLAGS_gen_cpu));
  const double ring_used = static_cast<double>(ring_->used()) / static_cast<double>(ring_->bytes());
  SW_ASSIGN_OR_RETURN(ProcStat p1, agent_->Stat());
  // Whatever is still in the ring is taken before the next step (the agent
  // is not measured meanwhile); loss already happened or not.
  auto after = Drain(10);
  if (!after.ok()) return after.status();
  StepResult r;
  r.wall = Seconds(t0, t1);
  r.sent = after->gen_sent - before.gen_sent;
  r.offered = static_cast<double>(r.sent) / r.wall;
  r.records = after->k.rb_records - before.k.rb_records;
  r.lost = after->k.rb_lost - before.k.rb_lost;
  r.pass_sip = after->k.pass_sip - before.k.pass_sip;
  r.cpu_cores = (p1.cpu_s - p0.cpu_s) / r.wall;
  r.rss_mib = p1.rss_mib;
  r.hwm_mib = p1.hwm_mib;
  r.ns_per_msg = r.records ? (p1.cpu_s - p0.cpu_s) * 1e9 / static_cast<double>(r.records) : 0;
  r.alarms = after->alarms - before.alarms;
  r.gen_waits = after->gen_waits - before.gen_waits;
  r.ring_used = ring_used;
  r.softirqd = s0 >= 0 && s1 >= s0 ? static_cast<double>(s1 - s0) / 1e9 : 0;
  r.gen_cpu = static_cast<double>(g1.tv_sec - g0.tv_sec) +
              static_cast<double>(g1.tv_nsec - g0.tv_nsec) / 1e9;
  return r;
}

void Bench::ReportRuleTime() {
  auto m = Scrape();
  auto st = agent_->Stat();
  if (!m.ok() || !st.ok()) return;
  const double msgs = (*m)["sipwarden_sip_messages_total"];
  if (msgs <= 0) return;
  constexpr std::string_view kRule = "sipwarden_rule_seconds_total{rule=\"";
  std::vector<std::pair<double, std::string>> rules;
  for (const auto& [name, v] : *m) {
    if (name.starts_with(kRule) && name.size() > kRule.size() + 2) {
      rules.emplace_back(v, name.substr(kRule.size(), name.size() - kRule.size() - 2));
    }
  }
  std::sort(rules.rbegin(), rules.rend());
  auto per_msg = [&](double seconds) { return seconds * 1e9 / msgs; };
  std::cerr << "  where the agent's CPU went over the run (" << static_cast<uint64_t>(msgs)
            << " SIP messages, its own metrics): " << per_msg(st->cpu_s)
            << " ns per message in all, " << per_msg((*m)["sipwarden_correlation_seconds_total"])
            << " parsing and correlating, of which the rules (sampled) "
            << per_msg((*m)["sipwarden_rule_seconds_total"]) << "; the most costly rules:\n";
  for (size_t i = 0; i < rules.size() && i < 8 && rules[i].first > 0; ++i) {
    std::cerr << "    " << rules[i].second << ": " << per_msg(rules[i].first)
              << " ns per message\n";
  }
}

// The rule engine's own bytes per open dialog (no parser, pipeline, ring or
// outputs), from sw-bench-correlate with the same number of dialogs and no
// SEC; nullopt when it is not there or fails.
std::optional<double> EngineBytesPerDialog(uint32_t dialogs) {
  std::string binary = absl::GetFlag(FLAGS_correlate);
  if (binary == "none") return std::nullopt;
  if (binary.empty()) {
    std::error_code ec;
    binary =
        (std::filesystem::read_symlink("/proc/self/exe", ec).parent_path() / "sw-bench-correlate")
            .string();
  }
  if (access(binary.c_str(), X_OK) != 0 || binary.find('\'') != std::string::npos) {
    std::cerr << "  (no " << binary << ": the engine's own bytes per dialog are not measured)\n";
    return std::nullopt;
  }
  const std::string cmd = absl::StrCat("timeout 300 '", binary, "' --dialogs ", dialogs,
                                       " --events 20000 --rounds 1 --sec '' 2>/dev/null");
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return std::nullopt;
  std::string out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  if (pclose(p) != 0) {
    std::cerr << "  (" << binary
              << " failed: the engine's own bytes per dialog are not measured)\n";
    return std::nullopt;
  }
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    if (line.find("\"metric\":\"bytes_per_open_dialog\"") == absl::string_view::npos) continue;
    const size_t at = line.find("\"value\":");
    if (at == absl::string_view::npos) break;
    absl::string_view v = line.substr(at + 8);
    v = v.substr(0, v.find(','));
    double d;
    if (absl::SimpleAtod(v, &d)) return d;
  }
  return std::nullopt;
}

void PrintLine(std::string_view metric, double value, std::string_view unit,
               std::string_view baseline, double baseline_value) {
  sw::bench::PrintFigure("agent", metric, value, unit, baseline, baseline_value);
}

absl::Status Bench::Run() {
  std::vector<uint64_t> steps;
  for (absl::string_view s : absl::StrSplit(absl::GetFlag(FLAGS_steps), ',', absl::SkipEmpty())) {
    uint64_t v;
    if (!absl::SimpleAtoi(s, &v) || v == 0 || v > 20000000 ||
        (!steps.empty() && v <= steps.back())) {
      return absl::InvalidArgumentError("--steps: rates within 1..20000000, increasing");
    }
    steps.push_back(v);
  }
  if (steps.empty()) return absl::InvalidArgumentError("--steps names no rate");
  const double step_s = absl::GetFlag(FLAGS_step_seconds);
  const uint64_t calls = std::max<uint32_t>(10, absl::GetFlag(FLAGS_call_cycles));
  const uint32_t dialogs = absl::GetFlag(FLAGS_dialogs);
  if (step_s <= 0 || step_s > 60 || dialogs == 0) {
    return absl::InvalidArgumentError("--step-seconds within (0, 60], --dialogs at least 1");
  }

  // ---- offered-rate steps --------------------------------------------------
  // Per call (one cycle): its INVITE and 100 now, the 180 and the 200 (and
  // ACK) a fiftieth and a tenth of the call later, BYE and 200 when it ends;
  // every 4th a phone re-registers (REGISTER, 200); every 1000th a trunk
  // sends OPTIONS. About 7.5 messages per call.
  const std::vector<swb_slot> mix = {
      {kInvite, 0, 0},       {k100, 0, 0},
      {k180, 0, calls / 50}, {k200Invite, 0, calls / 10},
      {kAck, 0, calls / 10}, {kBye, 0, calls},
      {k200Bye, 0, calls},   {kRegister, 4, 0},
      {k200Register, 4, 0},  {kOptions, 1000, 0},
  };
  skel_->bss->limit = std::numeric_limits<uint64_t>::max();
  Schedule(mix, 0);
  SW_RETURN_IF_ERROR(StartAgent("steps"));
  SW_ASSIGN_OR_RETURN(ProcStat idle, agent_->Stat());
  std::cerr << "sw-bench-agent: agent pid " << agent_->pid() << " on CPU "
            << absl::GetFlag(FLAGS_agent_cpu) << ", idle RSS " << idle.rss_mib
            << " MiB; generator on CPU " << sched_getcpu() << " ("
            << (live_ ? "live-frames test runs" : "test runs and an AF_PACKET socket") << "); "
            << calls << " calls in progress once warm\n";

  // Warm-up at the first step's rate until the first calls end (BYEs flow).
  {
    Pace(steps[0]);
    const auto t0 = Clock::now();
    while (skel_->bss->seq / mix.size() < calls + 1) {
      if (Seconds(t0, Clock::now()) > 120) {
        return absl::DeadlineExceededError("warm-up: the first calls did not end within 120 s");
      }
      SW_RETURN_IF_ERROR(Generate(0.5));
    }
    SW_ASSIGN_OR_RETURN(Counters c, Drain(10));
    std::cerr << "  warm-up: " << c.gen_sent << " messages in " << Seconds(t0, Clock::now())
              << " s, " << c.k.rb_lost << " records lost\n";
  }

  auto report = [](uint64_t rate, const StepResult& r) {
    const double lost_pct = r.records + r.lost ? 100.0 * static_cast<double>(r.lost) /
                                                     static_cast<double>(r.records + r.lost)
                                               : 0;
    std::cerr << "  step " << rate << " msg/s: offered " << static_cast<uint64_t>(r.offered)
              << " msg/s (" << r.sent << " in " << r.wall << " s); kernel passed " << r.pass_sip
              << " SIP, ring records " << r.records << ", lost " << r.lost << " (" << lost_pct
              << "%); agent " << r.cpu_cores << " cores, " << r.ns_per_msg << " ns CPU/record, RSS "
              << r.rss_mib << " MiB (peak " << r.hwm_mib << "), alarms +" << r.alarms << "; ring "
              << 100 * r.ring_used << "% full at the end; generator CPU " << r.gen_cpu / r.wall
              << " (ksoftirqd " << r.softirqd / r.wall << "), " << r.gen_waits << " runs waited\n";
  };
  std::optional<StepResult> sustained, lossy;
  uint64_t sustained_step = 0, not_sustained_step = 0;
  for (uint64_t rate : steps) {
    SW_ASSIGN_OR_RETURN(StepResult r, Step(rate, step_s));
    // A step the generator could not offer, with no loss, is repeated (twice
    // at most): on a shared machine another process may have had its CPU.
    for (int again = 0; again < 2 && r.lost == 0 && r.offered < 0.9 * static_cast<double>(rate);
         ++again) {
      std::cerr << "  step " << rate << " msg/s: the generator offered only "
                << static_cast<uint64_t>(r.offered) << " msg/s with " << 100 * r.gen_cpu / r.wall
                << "% of its CPU (ksoftirqd " << 100 * r.softirqd / r.wall << "%); again\n";
      SW_ASSIGN_OR_RETURN(r, Step(rate, step_s));
    }
    report(rate, r);
    if (r.pass_sip + 10 < r.sent) {
      return absl::InternalError(absl::StrCat("step ", rate, ": ", r.sent,
                                              " frames sent but the "
                                              "XDP program passed only ",
                                              r.pass_sip, " SIP"));
    }
    if (r.lost > 0) {
      lossy = r;
      not_sustained_step = rate;
      break;
    }
    // No loss yet, but the agent is falling behind: a longer step would
    // lose. Not sustained; its loss rate is measured over a step three
    // times as long (the ring fills first, so this understates it a little).
    if (r.ring_used > 0.5) {
      std::cerr << "  the ring was " << 100 * r.ring_used << "% full when the step ended: the "
                << "agent is falling behind; not sustained. The same rate for " << 3 * step_s
                << " s:\n";
      SW_ASSIGN_OR_RETURN(lossy, Step(rate, 3 * step_s));
      report(rate, *lossy);
      not_sustained_step = rate;
      break;
    }
    sustained = r;
    sustained_step = rate;
    if (r.offered < 0.9 * static_cast<double>(rate)) {
      std::cerr << "  the generator offered only " << static_cast<uint64_t>(r.offered)
                << " msg/s of " << rate << " (it had " << 100 * r.gen_cpu / r.wall
                << "% of its CPU, ksoftirqd " << 100 * r.softirqd / r.wall
                << "%): no higher step is offered; the sustained figure is a lower bound\n";
      break;
    }
  }
  // Refinement: halve the gap between the highest rate sustained and the
  // lowest that was not. A rate that loses records becomes the loss figure's
  // step (the lowest measured loss); one that only fills the ring past half
  // is not sustained either, but lost nothing to report.
  for (uint32_t i = 0; i < absl::GetFlag(FLAGS_refine) && sustained && not_sustained_step; ++i) {
    const uint64_t lo = sustained_step, hi = not_sustained_step;
    if (hi - lo <= std::max<uint64_t>(1000, lo / 50)) break;
    const uint64_t mid = (lo + hi) / 2 / 1000 * 1000;
    if (mid <= lo) break;
    std::cerr << "  refining between " << lo << " and " << hi << " msg/s:\n";
    SW_ASSIGN_OR_RETURN(StepResult r, Step(mid, step_s));
    report(mid, r);
    if (r.lost > 0) {
      lossy = r;
      not_sustained_step = mid;
    } else if (r.ring_used > 0.5) {
      std::cerr << "  the ring was " << 100 * r.ring_used << "% full when the step ended: "
                << "not sustained\n";
      not_sustained_step = mid;
    } else if (r.offered < 0.9 * static_cast<double>(mid)) {
      std::cerr << "  the generator offered only " << static_cast<uint64_t>(r.offered)
                << " msg/s of " << mid << ": refinement stopped\n";
      break;
    } else {
      sustained = r;
      sustained_step = mid;
    }
  }
  ReportRuleTime();
  StopAgent();
  if (!sustained) {
    return absl::FailedPreconditionError(
        absl::StrCat("records were lost already at the first step (", steps[0], " msg/s)"));
  }
  std::cerr << "  sustained without loss: " << static_cast<uint64_t>(sustained->offered)
            << " msg/s (step " << sustained_step << ")"
            << (lossy ? absl::StrCat("; lowest lossy step offered ",
                                     static_cast<uint64_t>(lossy->offered), " msg/s")
                      : std::string("; no step lost records (the generator's limit came first: "
                                    "a lower bound)"))
            << "\n";

  // ---- open dialogs in a fresh agent ----------------------------------------
  SW_RETURN_IF_ERROR(StartAgent("dialogs"));
  {
    // Warm-up: complete calls, so that the engine, the parsers and the
    // allocator have run once before the baseline is taken.
    const uint64_t warm_calls = 5000;
    Schedule({{kInvite, 0, 0},
              {k100, 0, 0},
              {k180, 0, 0},
              {k200Invite, 0, 0},
              {kAck, 0, 0},
              {kBye, 0, 0},
              {k200Bye, 0, 0}},
             uint64_t{1} << 30);
    skel_->bss->limit = skel_->bss->sent + warm_calls * 7;
    Pace(std::min<uint64_t>(absl::GetFlag(FLAGS_dialog_rate), sustained_step));
    const auto t0 = Clock::now();
    while (skel_->bss->sent < skel_->bss->limit) {
      if (Seconds(t0, Clock::now()) > 60) return absl::DeadlineExceededError("dialog warm-up");
      SW_RETURN_IF_ERROR(Generate(0.5));
    }
    SW_RETURN_IF_ERROR(Drain(10).status());
  }
  Sleep(1);
  SW_ASSIGN_OR_RETURN(Counters c0, Read());
  SW_ASSIGN_OR_RETURN(ProcStat before, agent_->Stat());
  Schedule({{kInvite, 0, 0}, {k100, 0, 0}, {k180, 0, 0}, {k200Invite, 0, 0}, {kAck, 0, 0}},
           uint64_t{2} << 30);
  skel_->bss->limit = skel_->bss->sent + uint64_t{dialogs} * 5;
  Pace(std::min<uint64_t>(absl::GetFlag(FLAGS_dialog_rate), sustained_step));
  {
    const auto t0 = Clock::now();
    while (skel_->bss->sent < skel_->bss->limit) {
      if (Seconds(t0, Clock::now()) > 120) return absl::DeadlineExceededError("opening dialogs");
      SW_RETURN_IF_ERROR(Generate(0.5));
    }
  }
  SW_ASSIGN_OR_RETURN(Counters c1, Drain(10));
  Sleep(1);
  SW_ASSIGN_OR_RETURN(ProcStat after, agent_->Stat());
  const uint64_t lost = c1.k.rb_lost - c0.k.rb_lost;
  const uint64_t records = c1.k.rb_records - c0.k.rb_records;
  std::cerr << "  " << dialogs << " dialogs open: " << records << " records, " << lost
            << " lost; agent RSS " << before.rss_mib << " -> " << after.rss_mib
            << " MiB, of which anonymous (heap) " << before.anon_mib << " -> " << after.anon_mib
            << " MiB; alarms +" << c1.alarms - c0.alarms << "\n";
  if (lost > 0 || records < uint64_t{dialogs} * 5) {
    return absl::InternalError(absl::StrCat("opening the dialogs: ", lost, " records lost, ",
                                            records, " of ", uint64_t{dialogs} * 5, " written"));
  }
  // The anonymous part of RSS: the ring buffer's pages, mapped by the agent,
  // count in RSS (as file pages) once first touched, which depends on how
  // far the ring has gone round, not on the dialogs.
  const double per_dialog = (after.anon_mib - before.anon_mib) * 1048576.0 / dialogs;
  StopAgent();

  // ---- figures ---------------------------------------------------------------
  PrintLine("sustained_msg_per_s", std::round(sustained->offered), "msg/s", "target", 500000);
  const double lossy_pct = lossy ? 100.0 * static_cast<double>(lossy->lost) /
                                       static_cast<double>(lossy->records + lossy->lost)
                                 : 0;
  PrintLine("loss_pct_above_sustained", lossy_pct, "%", "offered_msg_per_s",
            std::round(lossy ? lossy->offered : sustained->offered));
  PrintLine("agent_cpu_cores_at_sustained", sustained->cpu_cores, "cores", "none", 0);
  PrintLine("agent_ns_per_msg_at_sustained", sustained->ns_per_msg, "ns", "none", 0);
  PrintLine("agent_rss_mib_at_sustained", sustained->rss_mib, "MiB", "agent_rss_idle",
            idle.rss_mib);
  const std::optional<double> engine = EngineBytesPerDialog(dialogs);
  if (engine) {
    std::cerr << "  the rule engine alone (sw-bench-correlate, " << dialogs
              << " dialogs): " << *engine << " bytes per open dialog\n";
  }
  PrintLine("bytes_per_open_dialog", std::round(per_dialog), "bytes",
            engine ? "correlate_engine_only" : "none", engine ? std::round(*engine) : 0);
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  sw::SetUsage(
      "Measures the whole agent, end to end: SIP dialogs sent as real frames through a veth\n"
      "pair into sipwarden's XDP program and ring buffer and the real sipwarden-agent\n"
      "process (default ruleset, native XDP, alarms to a file). Frames come from\n"
      "agent_gen.bpf.c, run with BPF_PROG_TEST_RUN and BPF_F_TEST_XDP_LIVE_FRAMES (kernel\n"
      ">= 5.18; where the kernel refuses that mode, made by plain test runs and sent through\n"
      "an AF_PACKET socket): each a message of its own dialog (INVITE, 100, 180, 200, ACK,\n"
      "BYE, 200; REGISTER and 200, OPTIONS), paced to an offered rate. Prints the highest\n"
      "rate whose step lost no ring-buffer record, the loss rate of the step above it, the\n"
      "agent's CPU and RSS at that rate, and its bytes per open dialog with --dialogs open.\n\n"
      "  live.sh path/to/sw-bench-agent [--steps LIST] [--step-seconds S] [--dialogs N] ...\n"
      "  sw-bench-agent --gen-netns swb-... --gen-iface IF --dut-netns swb-... --dut-iface IF\n"
      "                 --dut-ip A.B.C.D --pin-dir DIR [flags]\n\n"
      "tools/bench/live/live.sh makes the two namespaces, the veth pair and a private bpffs,\n"
      "runs this program and removes them (tools/bench/run agent does all of it). Needs root\n"
      "and two CPUs. One JSON object per figure on stdout, progress on stderr. Flags may be\n"
      "written with dashes or underscores.");
  sw::NormalizedArgs normalized(argc, argv);
  absl::ParseCommandLine(normalized.argc(), normalized.argv());
  if (absl::GetFlag(FLAGS_version)) {
    std::cout << "sw-bench-agent " << SW_VERSION << "\n";
    return 0;
  }
  for (const auto* f : {&FLAGS_gen_netns, &FLAGS_gen_iface, &FLAGS_dut_netns, &FLAGS_dut_iface,
                        &FLAGS_dut_ip, &FLAGS_pin_dir}) {
    if (absl::GetFlag(*f).empty()) {
      std::cerr << "sw-bench-agent: --gen-netns, --gen-iface, --dut-netns, --dut-iface, --dut-ip "
                   "and --pin-dir are required (live.sh gives them)\n";
      return 2;
    }
  }
  const uint32_t batch = absl::GetFlag(FLAGS_batch_size);
  if (batch == 0 || batch > 256) {
    std::cerr << "sw-bench-agent: --batch-size must be within 1..256\n";
    return 2;
  }
  if (geteuid() != 0) {
    std::cerr << "sw-bench-agent: needs root (namespaces, XDP)\n";
    return 1;
  }
  const int gen_cpu = absl::GetFlag(FLAGS_gen_cpu);
  const int agent_cpu = absl::GetFlag(FLAGS_agent_cpu);
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  if (gen_cpu < 0 || agent_cpu < 0 || gen_cpu >= cpus || agent_cpu >= cpus ||
      gen_cpu == agent_cpu) {
    std::cerr << "sw-bench-agent: --gen-cpu and --agent-cpu must be two different CPUs of the "
              << cpus << " online\n";
    return 2;
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(gen_cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) {
    std::cerr << "sw-bench-agent: cannot run on CPU " << gen_cpu << ": " << std::strerror(errno)
              << "\n";
    return 2;
  }
  struct sigaction sa {};
  sa.sa_handler = OnAlarm;  // no SA_RESTART: the test run returns EINTR
  sigemptyset(&sa.sa_mask);
  sigaction(SIGALRM, &sa, nullptr);
  struct sigaction stop {};
  stop.sa_handler = OnStop;  // ends the test run too; the agent is stopped on the way out
  sigemptyset(&stop.sa_mask);
  sigaction(SIGINT, &stop, nullptr);
  sigaction(SIGTERM, &stop, nullptr);
  sw::LogLibbpfToStderr(absl::GetFlag(FLAGS_verbose));

  auto bench = Bench::Create();
  if (!bench.ok()) {
    std::cerr << "sw-bench-agent: " << bench.status().message() << "\n";
    return bench.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  absl::Status s = (*bench)->Run();
  bench->reset();
  if (!s.ok()) {
    std::cerr << "sw-bench-agent: FAILED: " << s.message() << "\n";
    return 1;
  }
  return 0;
}
