// SPDX-License-Identifier: BSD-2-Clause
// sw-bench-live: drop throughput of real frames through a real interface.
//
// A trivial XDP program (live_gen.bpf.c) run with BPF_PROG_TEST_RUN and
// BPF_F_TEST_XDP_LIVE_FRAMES on one end of a veth pair returns XDP_TX, so the
// kernel transmits every frame to the peer end, in another network namespace,
// where the receiver under test sees it as received traffic: sipwarden's XDP
// program (native mode), a bare XDP_DROP or XDP_PASS program, or nftables
// (no XDP program; GRO on the receiving veth lets it take frames sent with
// ndo_xdp_xmit). Each receiver is measured in turn, alternating, on the same
// frames, the same CPU and the same run; the namespaces come from live.sh.
//
// veth hands frames over synchronously: the receiver's NAPI poll runs on the
// generator's CPU when the generator's batch ends (softirq on bottom-half
// enable), so one figure is the cost of the whole path on one CPU (generate,
// transmit, receive, verdict). Differences between receivers are differences
// in the receive side, as the rest is the same.
//
// One JSON object per figure on stdout; progress on stderr.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "sipwarden/cli.h"
#include "datapath.h"
#include "../figure.h"
#include "../floor.h"
#include "netns.h"
#include "packet_builder.h"
#include "sipwarden/absl_compat.h"
#include "sipwarden/json.h"
#include "sipwarden/status_macros.h"
#include "sw_baseline.skel.h"
#include "swb_live_gen.skel.h"

extern char** environ;

ABSL_FLAG(std::string, gen_netns, "",
          "Network namespace of the generator's interface (name under /run/netns, must start "
          "with swb-)");
ABSL_FLAG(std::string, gen_iface, "", "The generator's end of the veth pair, in --gen-netns");
ABSL_FLAG(std::string, dut_netns, "",
          "Network namespace of the receiver under test (must start with swb-)");
ABSL_FLAG(std::string, dut_iface, "", "The receiving end of the veth pair, in --dut-netns");
ABSL_FLAG(std::string, dut_ip, "", "IPv4 address of --dut-iface: the frames' destination");
ABSL_FLAG(std::string, pin_dir, "",
          "Pin directory for sipwarden's maps, on a bpffs (live.sh mounts a private one under "
          "/run); empty: nothing pinned");
ABSL_FLAG(uint32_t, packets, 1000000, "Frames sent per measurement");
ABSL_FLAG(uint32_t, rounds, 5,
          "Measurements per receiver, in rotating order; the median is reported");
ABSL_FLAG(uint32_t, batch_size, 64,
          "Frames per generator batch (1..256): each batch is transmitted, then received by the "
          "peer; the veth ring holds 256");
ABSL_FLAG(uint32_t, blocklist_size, 10000,
          "Other prefixes in the blocklist besides the benchmark's source: in sipwarden's LPM "
          "trie and, the same ones, in the nftables interval set");
ABSL_FLAG(uint32_t, invite_rate, 100, "Per-source INVITE rate limit (1/s) of drop_ratelimit");
ABSL_FLAG(uint32_t, invite_burst, 100, "Per-source INVITE burst of drop_ratelimit");
ABSL_FLAG(std::string, cases, "drop_blocklist,nft_ingress,nft_prerouting,drop_ratelimit,udp_pass",
          "Comma-separated figures to measure (drop_blocklist, nft_ingress, nft_prerouting, "
          "drop_ratelimit, udp_pass); the bare programs they compare with come along");
ABSL_FLAG(uint32_t, run_timeout, 60,
          "Seconds one generator run may take before it is interrupted (and the benchmark fails)");
ABSL_FLAG(
    int32_t, cpu, -1,
    "CPU the generator (and with it the veth receive path) runs on; -1: the one it starts on");
ABSL_FLAG(bool, receiver_gro, true,
          "Turn GRO on on the receiving veth: veth takes frames sent with ndo_xdp_xmit only when "
          "the receiving end has an XDP program attached or GRO on, so nftables (no XDP program) "
          "needs it. false turns it off (the nftables cases then fail: no frame arrives)");
ABSL_FLAG(bool, verbose, false, "Show libbpf's informational messages");
ABSL_FLAG(bool, version, false, "Print the version and exit");

namespace {

using Clock = std::chrono::steady_clock;

// Addresses of the test traffic (documentation ranges, clear of the fill
// prefixes below).
constexpr char kBlockedSrc[] = "203.0.113.66";  // in the blocklist
constexpr char kFloodSrc[] = "198.51.100.20";   // over its INVITE limit
constexpr char kMediaSrc[] = "198.51.100.30";   // non-SIP UDP, passed
constexpr char kNftTable[] = "swb_live";

constexpr char kBareDrop[] = "bare_xdp_drop";
constexpr char kBarePass[] = "bare_xdp_pass";

void OnAlarm(int) {}  // only interrupts the test-run syscall (EINTR)

// ---- namespaces and interfaces (netns.h); GRO and the veth counters --------

using sw::bench::EnterNetns;
using sw::bench::Fd;
using sw::bench::Iface;
using sw::bench::IfIoctl;
using sw::bench::LiveFramesRefused;
using sw::bench::OpenIface;
using sw::bench::OpenNetns;

absl::Status SetGro(const Iface& i, bool on) {
  ethtool_value v{};
  v.cmd = ETHTOOL_SGRO;
  v.data = on ? 1 : 0;
  ifreq ifr{};
  ifr.ifr_data = reinterpret_cast<char*>(&v);
  return IfIoctl(i, SIOCETHTOOL, ifr, "enable GRO");
}

// The driver's statistics by name (ethtool -S).
absl::StatusOr<std::map<std::string, uint64_t>> DriverStats(const Iface& i) {
  // Buffers of uint64_t: ethtool's structs end in flexible arrays.
  std::vector<uint64_t> info_buf((sizeof(ethtool_sset_info) + sizeof(uint32_t) + 7) / 8 + 1);
  auto* info = reinterpret_cast<ethtool_sset_info*>(info_buf.data());
  info->cmd = ETHTOOL_GSSET_INFO;
  info->sset_mask = 1ULL << ETH_SS_STATS;
  ifreq ifr{};
  ifr.ifr_data = reinterpret_cast<char*>(info);
  SW_RETURN_IF_ERROR(IfIoctl(i, SIOCETHTOOL, ifr, "ethtool string-set info"));
  if (!(info->sset_mask & (1ULL << ETH_SS_STATS))) {
    return absl::UnimplementedError(absl::StrCat(i.name, " has no driver statistics"));
  }
  const uint32_t n = info->data[0];

  std::vector<uint64_t> names_buf((sizeof(ethtool_gstrings) + n * ETH_GSTRING_LEN) / 8 + 1);
  auto* names = reinterpret_cast<ethtool_gstrings*>(names_buf.data());
  names->cmd = ETHTOOL_GSTRINGS;
  names->string_set = ETH_SS_STATS;
  names->len = n;
  ifr = ifreq{};
  ifr.ifr_data = reinterpret_cast<char*>(names);
  SW_RETURN_IF_ERROR(IfIoctl(i, SIOCETHTOOL, ifr, "ethtool statistic names"));

  std::vector<uint64_t> stats_buf(sizeof(ethtool_stats) / 8 + 1 + n);
  auto* stats = reinterpret_cast<ethtool_stats*>(stats_buf.data());
  stats->cmd = ETHTOOL_GSTATS;
  stats->n_stats = n;
  ifr = ifreq{};
  ifr.ifr_data = reinterpret_cast<char*>(stats);
  SW_RETURN_IF_ERROR(IfIoctl(i, SIOCETHTOOL, ifr, "ethtool statistics"));

  std::map<std::string, uint64_t> out;
  const uint32_t got = std::min(n, stats->n_stats);
  for (uint32_t k = 0; k < got; ++k) {
    const char* s = reinterpret_cast<const char*>(names->data) + k * ETH_GSTRING_LEN;
    out[std::string(s, strnlen(s, ETH_GSTRING_LEN))] = stats->data[k];
  }
  return out;
}

// Sum of the per-queue veth counters "<dir>_queue_<n>_<what>".
uint64_t QueueSum(const std::map<std::string, uint64_t>& stats, std::string_view dir,
                  std::string_view what) {
  uint64_t sum = 0;
  const std::string prefix = absl::StrCat(sw::AV(dir), "_queue_");
  const std::string suffix = absl::StrCat("_", sw::AV(what));
  for (const auto& [name, v] : stats) {
    if (name.size() <= prefix.size() + suffix.size()) continue;
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    if (name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
    const std::string mid = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    if (!mid.empty() && std::all_of(mid.begin(), mid.end(), ::isdigit)) sum += v;
  }
  return sum;
}

// ---- commands (ip netns exec ... nft), bounded in time ---------------------

absl::StatusOr<std::string> RunCommand(const std::vector<std::string>& args,
                                       absl::Duration limit = absl::Seconds(30)) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return sw::ErrnoStatus(errno, "pipe");
  Fd rd(out[0]), wr(out[1]);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, wr.get(), STDOUT_FILENO);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid;
  const int err = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  const std::string cmd = absl::StrJoin(args, " ");
  if (err != 0) return sw::ErrnoStatus(err, absl::StrCat("run ", cmd));
  wr.reset();

  std::string text;
  const auto deadline = Clock::now() + absl::ToChronoNanoseconds(limit);
  bool timed_out = false;
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{rd.get(), POLLIN, 0};
    const int n = poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      timed_out = n == 0;
      break;
    }
    char buf[4096];
    const ssize_t r = read(rd.get(), buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    text.append(buf, static_cast<size_t>(r));
  }
  if (timed_out) kill(pid, SIGKILL);  // our own child, by its id
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return absl::DeadlineExceededError(
        absl::StrCat(cmd, " took longer than ", absl::FormatDuration(limit)));
  }
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    return absl::InternalError(absl::StrCat(cmd, " failed (status ", wstatus, ")"));
  }
  return text;
}

// ---- traffic ---------------------------------------------------------------

// An INVITE as a desk phone sends it to its proxy, with an SDP offer.
// clang-format off
std::string DeskPhoneInvite(std::string_view src, std::string_view dst) {
  const std::string s(src), d(dst);
  const std::string sdp = absl::StrCat(
      "v=0\r\n"
      "o=- 3849215521 3849215521 IN IP4 ", s, "\r\n"
      "s=SIP Call\r\n"
      "c=IN IP4 ", s, "\r\n"
      "t=0 0\r\n"
      "m=audio 16384 RTP/AVP 9 0 8 101\r\n"
      "a=rtpmap:9 G722/8000\r\n"
      "a=rtpmap:0 PCMU/8000\r\n"
      "a=rtpmap:8 PCMA/8000\r\n"
      "a=rtpmap:101 telephone-event/8000\r\n"
      "a=fmtp:101 0-15\r\n"
      "a=sendrecv\r\n");
  return absl::StrCat(
      "INVITE sip:2001@", d, " SIP/2.0\r\n"
      "Via: SIP/2.0/UDP ", s, ":5060;branch=z9hG4bK1f0e6a33c;rport\r\n"
      "From: \"Desk 1042\" <sip:1042@", d, ">;tag=3416787512\r\n"
      "To: <sip:2001@", d, ">\r\n"
      "Call-ID: 0_2581911337@", s, "\r\n"
      "CSeq: 1 INVITE\r\n"
      "Contact: <sip:1042@", s, ":5060>\r\n"
      "Max-Forwards: 70\r\n"
      "User-Agent: Yealink SIP-T46S 66.86.0.15\r\n"
      "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, NOTIFY, REFER, UPDATE\r\n"
      "Supported: replaces, timer\r\n"
      "Content-Type: application/sdp\r\n"
      "Content-Length: ", sdp.size(), "\r\n"
      "\r\n", sdp);
}
// clang-format on

std::vector<uint8_t> WithMacs(std::vector<uint8_t> frame, const Iface& from, const Iface& to) {
  std::copy(to.mac.begin(), to.mac.end(), frame.begin());
  std::copy(from.mac.begin(), from.mac.end(), frame.begin() + 6);
  return frame;
}

// The blocklist besides the benchmark's source: distinct, non-overlapping
// /32s in 10.0.0.0/8 and (one in 16) /24s in 100.64.0.0/10, so that both the
// LPM trie and an nftables interval set take them as they are.
std::vector<std::string> FillPrefixes(uint32_t n) {
  std::vector<std::string> out;
  out.reserve(n);
  uint32_t n24 = 0, n32 = 0;
  for (uint32_t i = 0; i < n; ++i) {
    if (i % 16 == 0 && n24 < (1u << 14)) {
      const uint32_t k = (n24++ * 2654435761u) & 0x3fffu;  // a bijection on 14 bits
      out.push_back(absl::StrCat("100.", 64 + (k >> 8), ".", k & 0xff, ".0/24"));
    } else {
      const uint32_t k = (n32++ * 2654435761u) & 0xffffffu;  // a bijection on 24 bits
      out.push_back(absl::StrCat("10.", k >> 16, ".", (k >> 8) & 0xff, ".", k & 0xff, "/32"));
    }
  }
  return out;
}

double Median(std::vector<double> v) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void PrintLine(std::string_view metric, double value, std::string_view unit,
               std::string_view baseline, double baseline_value) {
  sw::bench::PrintFigure("live", metric, value, unit, baseline, baseline_value);
}

// ---- receivers under test --------------------------------------------------

// kFloorBlock and kFloorRate: the least work a blocklist drop and a
// rate-limit drop can do with the kernel's helpers (bpf/baseline.bpf.c).
enum class Receiver {
  kSipwarden,
  kBareDrop,
  kBarePass,
  kFloorBlock,
  kFloorRate,
  kNftIngress,
  kNftPrerouting
};

// Counters around one generator run.
struct Counters {
  // Frames the generator's veth put into the peer's ring, and could not.
  uint64_t xmit = 0, xmit_err = 0;
  uint64_t rx = 0, rx_xdp_drops = 0;  // the receiving veth: frames taken off its ring, XDP drops
  sw_stats sw{};
  uint64_t nft = 0;  // the nftables rule's counter
};

Counters Minus(const Counters& a, const Counters& b) {
  Counters d;
  d.xmit = a.xmit - b.xmit;
  d.xmit_err = a.xmit_err - b.xmit_err;
  d.rx = a.rx - b.rx;
  d.rx_xdp_drops = a.rx_xdp_drops - b.rx_xdp_drops;
#define SWB_SUB(name) d.sw.name = a.sw.name - b.sw.name;
  SW_STATS_FIELDS(SWB_SUB)
#undef SWB_SUB
  d.nft = a.nft - b.nft;
  return d;
}

struct Variant {
  std::string name;  // for progress and as a baseline name
  Receiver receiver;
  const std::vector<uint8_t>* frame;
  uint32_t invite_rate = 0, invite_burst = 0;  // sipwarden's INVITE limit while measured
  std::string verdict;  // the counter that must account for every frame received
  std::function<uint64_t(const Counters&)> verdicts;
  // Extra check of the counters over a run of `received` frames.
  std::function<absl::Status(const Counters&)> check = {};
};

struct Sample {
  double wall = 0;         // seconds, first frame sent to last frame received
  double cpu = 0;          // CPU seconds of the generator's thread and its CPU's ksoftirqd
  uint64_t received = 0;   // frames the receiver took
  uint32_t kernel_ns = 0;  // the test run's own per-frame average (generator side)
  int waited_ms = 0;       // the receiver still busy after the syscall returned
  Counters d;
  // Per CPU-second: what one CPU does when it is given to this path alone.
  double mpps() const { return received / cpu / 1e6; }
  double ns() const { return cpu * 1e9 / static_cast<double>(received); }
  double wall_mpps() const { return received / wall / 1e6; }
};

// CPU time of the calling thread, ns. Without CONFIG_IRQ_TIME_ACCOUNTING
// this includes the softirq work (the veth receive) done in its context.
uint64_t ThreadCpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

// Run time of ksoftirqd/<cpu>, ns: softirq work the kernel deferred to it
// (under load) is the receive side too. -1 when it cannot be read.
class SoftirqThread {
 public:
  explicit SoftirqThread(int cpu) {
    const std::string want = absl::StrCat("ksoftirqd/", cpu);
    // Kernel threads are children of kthreadd (pid 2); without
    // CONFIG_PROC_CHILDREN, every process is looked at.
    std::vector<std::string> pids;
    std::ifstream children("/proc/2/task/2/children");
    for (std::string pid; children >> pid;) pids.push_back(pid);
    if (pids.empty()) {
      std::error_code ec;
      for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
        const std::string name = e.path().filename().string();
        if (std::all_of(name.begin(), name.end(), ::isdigit)) pids.push_back(name);
      }
    }
    for (const std::string& pid : pids) {
      std::ifstream comm(absl::StrCat("/proc/", pid, "/comm"));
      std::string name;
      if (std::getline(comm, name) && name == want) {
        path_ = absl::StrCat("/proc/", pid, "/schedstat");
        break;
      }
    }
  }
  int64_t Ns() const {
    if (path_.empty()) return -1;
    std::ifstream in(path_);
    uint64_t run = 0, wait = 0;
    if (!(in >> run >> wait) || (run == 0 && wait == 0)) return -1;  // no sched_info
    return static_cast<int64_t>(run);
  }

 private:
  std::string path_;
};

class Bench {
 public:
  static absl::StatusOr<std::unique_ptr<Bench>> Create();
  ~Bench();
  absl::Status Run();
  // Detaches and unpins, returns to the original namespace; idempotent.
  absl::Status Teardown();

 private:
  Bench() = default;
  absl::Status InDut(const std::function<absl::Status()>& f);
  absl::Status Setup(const Variant& v);
  absl::Status Unset(const Variant& v);
  absl::StatusOr<Counters> Read(const Variant& v);
  absl::StatusOr<Sample> Generate(const Variant& v, uint32_t frames);
  absl::StatusOr<std::string> NftChain(Receiver r) const;
  absl::Status WriteNftRules();

  Fd home_ns_, gen_ns_, dut_ns_;
  std::string gen_name_, dut_name_;
  Iface gen_, dut_;
  std::unique_ptr<sw::Datapath> dp_;
  swb_live_gen* gen_skel_ = nullptr;
  sw_baseline* base_skel_ = nullptr;
  std::vector<std::string> fill_;
  std::unique_ptr<SoftirqThread> softirq_;
  std::string nft_dir_;  // temporary directory of the nftables rule files
  bool attached_ = false, nft_loaded_ = false, torn_down_ = false;
};

absl::Status Bench::InDut(const std::function<absl::Status()>& f) {
  SW_RETURN_IF_ERROR(EnterNetns(dut_ns_, dut_name_));
  absl::Status s = f();
  absl::Status back = EnterNetns(gen_ns_, gen_name_);
  if (!back.ok()) {
    // Test runs would look for the generator's interface in the wrong place.
    std::cerr << "sw-bench-live: " << back.message() << "\n";
    std::abort();
  }
  return s;
}

absl::StatusOr<std::unique_ptr<Bench>> Bench::Create() {
  auto b = std::unique_ptr<Bench>(new Bench());
  b->gen_name_ = absl::GetFlag(FLAGS_gen_netns);
  b->dut_name_ = absl::GetFlag(FLAGS_dut_netns);
  for (const std::string& n : {b->gen_name_, b->dut_name_}) {
    if (n.rfind("swb-", 0) != 0 || n.find('/') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("--gen-netns and --dut-netns must name namespaces made for this "
                       "benchmark (swb-...), got '",
                       n, "'"));
    }
  }
  if (b->gen_name_ == b->dut_name_) {
    return absl::InvalidArgumentError("--gen-netns and --dut-netns must differ");
  }
  b->home_ns_ = Fd(open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (b->home_ns_.get() < 0) return sw::ErrnoStatus(errno, "open own network namespace");
  SW_ASSIGN_OR_RETURN(b->gen_ns_, OpenNetns(b->gen_name_));
  SW_ASSIGN_OR_RETURN(b->dut_ns_, OpenNetns(b->dut_name_));

  SW_RETURN_IF_ERROR(EnterNetns(b->dut_ns_, b->dut_name_));
  auto dut = OpenIface(absl::GetFlag(FLAGS_dut_iface));
  SW_RETURN_IF_ERROR(EnterNetns(b->gen_ns_, b->gen_name_));
  if (!dut.ok()) return dut.status();
  b->dut_ = std::move(*dut);
  SW_ASSIGN_OR_RETURN(b->gen_, OpenIface(absl::GetFlag(FLAGS_gen_iface)));
  // veth takes frames sent with ndo_xdp_xmit only when the receiving end
  // runs NAPI: with an XDP program attached, or with GRO on. GRO it is, so
  // that nftables (no XDP program) gets the same frames.
  SW_RETURN_IF_ERROR(SetGro(b->dut_, absl::GetFlag(FLAGS_receiver_gro)));
  SW_ASSIGN_OR_RETURN(auto st, DriverStats(b->gen_));
  if (!st.contains("peer_ifindex")) {
    return absl::FailedPreconditionError(absl::StrCat(b->gen_.name, " is not a veth"));
  }

  b->softirq_ = std::make_unique<SoftirqThread>(sched_getcpu());
  if (b->softirq_->Ns() < 0) {
    std::cerr << "sw-bench-live: cannot read ksoftirqd's run time: receive work deferred to it "
                 "is not counted\n";
  }

  b->gen_skel_ = swb_live_gen__open_and_load();
  if (!b->gen_skel_) return sw::ErrnoStatus(errno, "load the generator program");
  b->base_skel_ = sw_baseline__open_and_load();
  if (!b->base_skel_) return sw::ErrnoStatus(errno, "load the baseline programs");
  SW_ASSIGN_OR_RETURN(b->dp_, sw::Datapath::Load({.pin_dir = absl::GetFlag(FLAGS_pin_dir)}));
  if (b->dp_->reused_pins()) {
    return absl::FailedPreconditionError(absl::StrCat("maps already pinned in ",
                                                      absl::GetFlag(FLAGS_pin_dir),
                                                      ": give a private, empty pin directory"));
  }

  // The same blocklist for sipwarden and nftables.
  b->fill_ = FillPrefixes(absl::GetFlag(FLAGS_blocklist_size));
  for (const std::string& text : b->fill_) {
    SW_ASSIGN_OR_RETURN(sw::IpPrefix p, sw::IpPrefix::Parse(text));
    SW_RETURN_IF_ERROR(b->dp_->maps().BlockAdd(p, absl::ZeroDuration(), SW_REASON_MANUAL));
  }
  SW_ASSIGN_OR_RETURN(sw::IpPrefix blocked, sw::IpPrefix::Parse(absl::StrCat(kBlockedSrc, "/32")));
  SW_RETURN_IF_ERROR(b->dp_->maps().BlockAdd(blocked, absl::ZeroDuration(), SW_REASON_MANUAL));
  // The blocklist floor's trie holds the same prefixes.
  SW_RETURN_IF_ERROR(sw::bench::CopyBlocklistV4(b->dp_->maps().fds().block_v4,
                                                bpf_map__fd(b->base_skel_->maps.sw_floor_block_v4))
                         .status());
  SW_RETURN_IF_ERROR(b->WriteNftRules());
  return b;
}

Bench::~Bench() {
  if (absl::Status s = Teardown(); !s.ok()) std::cerr << "sw-bench-live: " << s.message() << "\n";
  if (gen_skel_) swb_live_gen__destroy(gen_skel_);
  if (base_skel_) sw_baseline__destroy(base_skel_);
}

absl::Status Bench::Teardown() {
  if (torn_down_) return absl::OkStatus();
  torn_down_ = true;
  absl::Status result;
  auto keep = [&result](absl::Status s) {
    if (!s.ok() && result.ok()) result = s;
  };
  if (dut_ns_.get() >= 0 && gen_ns_.get() >= 0) {
    keep(InDut([&]() -> absl::Status {
      if (attached_) {
        // Whatever is attached (ours, as the namespace is ours).
        const int err = bpf_xdp_detach(dut_.ifindex, XDP_FLAGS_DRV_MODE, nullptr);
        if (err != 0 && err != -ENODEV) return sw::ErrnoStatus(-err, "detach XDP");
        attached_ = false;
      }
      return absl::OkStatus();
    }));
    if (nft_loaded_) {
      keep(RunCommand(
               {"ip", "netns", "exec", dut_name_, "nft", "delete", "table", "inet", kNftTable})
               .status());
      nft_loaded_ = false;
    }
  }
  if (dp_) {
    keep(dp_->Unpin());
    dp_.reset();
  }
  if (!nft_dir_.empty()) {
    for (const char* f : {"ingress.nft", "prerouting.nft"}) {
      unlink(absl::StrCat(nft_dir_, "/", f).c_str());
    }
    rmdir(nft_dir_.c_str());
    nft_dir_.clear();
  }
  if (home_ns_.get() >= 0) keep(EnterNetns(home_ns_, "of the benchmark"));
  return result;
}

// The same prefixes as sipwarden's blocklist, in an interval set, matched
// at the ingress hook (before IP) or at prerouting (after IP's checks),
// priority raw (before conntrack).
absl::Status Bench::WriteNftRules() {
  char dir[] = "/tmp/swb-live-nft.XXXXXX";
  if (!mkdtemp(dir)) return sw::ErrnoStatus(errno, "mkdtemp");
  nft_dir_ = dir;
  std::string elements;
  for (size_t i = 0; i < fill_.size(); ++i) {
    std::string_view p = fill_[i];
    if (p.ends_with("/32")) p.remove_suffix(3);
    absl::StrAppend(&elements, sw::AV(p), i % 8 == 7 ? ",\n      " : ", ");
  }
  absl::StrAppend(&elements, kBlockedSrc);
  for (const bool ingress : {true, false}) {
    const std::string hook =
        ingress ? absl::StrCat("type filter hook ingress device \"", dut_.name, "\" priority 0")
                : std::string("type filter hook prerouting priority -300");
    // clang-format off
    const std::string rules = absl::StrCat(
        "table inet ", kNftTable, " {\n"
        "  set blocklist {\n"
        "    type ipv4_addr\n"
        "    flags interval\n"
        "    elements = { ", elements, " }\n"
        "  }\n"
        "  chain ", ingress ? "in" : "pre", " {\n"
        "    ", hook, "; policy accept;\n"
        "    ip saddr @blocklist counter drop\n"
        "  }\n"
        "}\n");
    // clang-format on
    const std::string path =
        absl::StrCat(nft_dir_, "/", ingress ? "ingress" : "prerouting", ".nft");
    std::ofstream out(path);
    out << rules;
    if (!out.flush()) return absl::InternalError(absl::StrCat("cannot write ", path));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Bench::NftChain(Receiver r) const {
  SW_ASSIGN_OR_RETURN(std::string text,
                      RunCommand({"ip", "netns", "exec", dut_name_, "nft", "list", "chain", "inet",
                                  kNftTable, r == Receiver::kNftIngress ? "in" : "pre"}));
  return text;
}

absl::Status Bench::Setup(const Variant& v) {
  switch (v.receiver) {
    case Receiver::kSipwarden: {
      SW_ASSIGN_OR_RETURN(sw_config cfg, dp_->maps().ReadConfig());
      cfg.limits[SW_BUCKET_INVITE].rate = v.invite_rate;
      cfg.limits[SW_BUCKET_INVITE].burst = v.invite_burst;
      SW_RETURN_IF_ERROR(dp_->maps().WriteConfig(cfg));
      return InDut([&]() -> absl::Status {
        SW_ASSIGN_OR_RETURN(sw::XdpMode mode, dp_->Attach(dut_.ifindex, sw::XdpMode::kNative));
        (void)mode;
        attached_ = true;
        return absl::OkStatus();
      });
    }
    case Receiver::kBareDrop:
    case Receiver::kBarePass:
    case Receiver::kFloorBlock:
    case Receiver::kFloorRate: {
      const auto& progs = base_skel_->progs;
      const bpf_program* prog = v.receiver == Receiver::kBareDrop     ? progs.sw_bare_drop
                                : v.receiver == Receiver::kBarePass   ? progs.sw_bare_pass
                                : v.receiver == Receiver::kFloorBlock ? progs.sw_floor_block
                                                                      : progs.sw_floor_rate;
      return InDut([&]() -> absl::Status {
        const int err =
            bpf_xdp_attach(dut_.ifindex, bpf_program__fd(prog), XDP_FLAGS_DRV_MODE, nullptr);
        if (err != 0) {
          return sw::ErrnoStatus(-err,
                                 absl::StrCat("attach ", bpf_program__name(prog), " (native XDP)"));
        }
        attached_ = true;
        return absl::OkStatus();
      });
    }
    case Receiver::kNftIngress:
    case Receiver::kNftPrerouting: {
      const std::string file = absl::StrCat(
          nft_dir_, "/", v.receiver == Receiver::kNftIngress ? "ingress" : "prerouting", ".nft");
      nft_loaded_ = true;  // a failed load may still have left the table
      return RunCommand({"ip", "netns", "exec", dut_name_, "nft", "-f", file}).status();
    }
  }
  return absl::InternalError("unknown receiver");
}

absl::Status Bench::Unset(const Variant& v) {
  switch (v.receiver) {
    case Receiver::kSipwarden:
      return InDut([&]() -> absl::Status {
        SW_RETURN_IF_ERROR(dp_->Detach());
        attached_ = false;
        return absl::OkStatus();
      });
    case Receiver::kBareDrop:
    case Receiver::kBarePass:
    case Receiver::kFloorBlock:
    case Receiver::kFloorRate:
      return InDut([&]() -> absl::Status {
        const int err = bpf_xdp_detach(dut_.ifindex, XDP_FLAGS_DRV_MODE, nullptr);
        if (err != 0) return sw::ErrnoStatus(-err, "detach the baseline program");
        attached_ = false;
        return absl::OkStatus();
      });
    case Receiver::kNftIngress:
    case Receiver::kNftPrerouting:
      SW_RETURN_IF_ERROR(RunCommand({"ip", "netns", "exec", dut_name_, "nft", "delete", "table",
                                     "inet", kNftTable})
                             .status());
      nft_loaded_ = false;
      return absl::OkStatus();
  }
  return absl::InternalError("unknown receiver");
}

absl::StatusOr<Counters> Bench::Read(const Variant& v) {
  Counters c;
  SW_ASSIGN_OR_RETURN(auto g, DriverStats(gen_));
  SW_ASSIGN_OR_RETURN(auto d, DriverStats(dut_));
  // A veth's tx_queue counters are its peer's receive-queue counters of
  // frames it sent there with ndo_xdp_xmit.
  c.xmit = QueueSum(g, "tx", "xdp_xmit");
  c.xmit_err = QueueSum(g, "tx", "xdp_xmit_errors");
  c.rx = QueueSum(d, "rx", "xdp_packets");
  c.rx_xdp_drops = QueueSum(d, "rx", "xdp_drops");
  if (v.receiver == Receiver::kSipwarden) {
    SW_ASSIGN_OR_RETURN(c.sw, dp_->maps().ReadStats());
  }
  if (v.receiver == Receiver::kNftIngress || v.receiver == Receiver::kNftPrerouting) {
    SW_ASSIGN_OR_RETURN(std::string text, NftChain(v.receiver));
    static const std::regex re("counter packets ([0-9]+)");
    std::smatch m;
    if (!std::regex_search(text, m, re)) {
      return absl::InternalError(absl::StrCat("no rule counter in: ", text));
    }
    c.nft = std::stoull(m[1].str());
  }
  return c;
}

absl::StatusOr<Sample> Bench::Generate(const Variant& v, uint32_t frames) {
  const std::vector<uint8_t>& f = *v.frame;
  xdp_md ctx{};
  ctx.data_end = static_cast<uint32_t>(f.size());
  ctx.ingress_ifindex = static_cast<uint32_t>(gen_.ifindex);
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f.data(),
              .data_size_in = static_cast<uint32_t>(f.size()), .ctx_in = &ctx,
              .ctx_size_in = sizeof(ctx), .repeat = static_cast<int>(frames),
              .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = absl::GetFlag(FLAGS_batch_size));
  SW_ASSIGN_OR_RETURN(Counters before, Read(v));
  const uint32_t limit = absl::GetFlag(FLAGS_run_timeout);
  const int64_t soft0 = softirq_->Ns();
  alarm(limit);
  const uint64_t c0 = ThreadCpuNs();
  const auto t0 = Clock::now();
  const int err = bpf_prog_test_run_opts(bpf_program__fd(gen_skel_->progs.swb_live_tx), &opts);
  auto t1 = Clock::now();
  const uint64_t c1 = ThreadCpuNs();
  alarm(0);
  if (err == -EINTR) {
    return absl::DeadlineExceededError(
        absl::StrCat("a generator run of ", frames, " frames took longer than ", limit, " s"));
  }
  if (LiveFramesRefused(err)) {
    return absl::UnimplementedError(absl::StrCat(
        "this kernel refuses live-frames test runs (BPF_F_TEST_XDP_LIVE_FRAMES: ",
        std::strerror(-err),
        "): nothing here makes frames at line rate, so no figure is measured"));
  }
  if (err != 0) {
    return sw::ErrnoStatus(-err, "generator test run (BPF_F_TEST_XDP_LIVE_FRAMES; kernel >= 5.18)");
  }
  // The receiver normally finishes within the run (its NAPI poll runs when
  // each batch ends); if the kernel deferred it to ksoftirqd, wait for it,
  // bounded, and count that time too.
  int waited = 0;
  for (; waited < 2000; ++waited) {  // 2000 x 1 ms at most
    SW_ASSIGN_OR_RETURN(auto g, DriverStats(gen_));
    SW_ASSIGN_OR_RETURN(auto r, DriverStats(dut_));
    if (QueueSum(r, "rx", "xdp_packets") - before.rx >=
        QueueSum(g, "tx", "xdp_xmit") - before.xmit) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    t1 = Clock::now();
  }
  const int64_t soft1 = softirq_->Ns();
  SW_ASSIGN_OR_RETURN(Counters after, Read(v));
  const Counters d = Minus(after, before);
  Sample s;
  s.wall = std::chrono::duration<double>(t1 - t0).count();
  s.cpu = static_cast<double>(c1 - c0) / 1e9;
  if (soft0 >= 0 && soft1 >= soft0) s.cpu += static_cast<double>(soft1 - soft0) / 1e9;
  s.received = d.rx;
  s.kernel_ns = opts.duration;
  s.d = d;
  s.waited_ms = waited;
  if (d.xmit == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no frame reached ", dut_.name, " (", d.xmit_err,
        " refused): the receiving veth needs an XDP program or GRO on to take XDP frames"));
  }
  if (d.rx < d.xmit) {
    return absl::InternalError(absl::StrCat(dut_.name, " received ", d.rx, " of the ", d.xmit,
                                            " frames put in its ring within 2 s"));
  }
  const uint64_t got = v.verdicts(d);
  // Allow for the odd stray frame (none expected: IPv6 is off in the namespaces).
  if (got + 10 < d.rx || got > d.rx + 10) {
    return absl::InternalError(absl::StrCat(v.name, ": ", v.verdict, " moved by ", got, " for ",
                                            d.rx, " frames received: not the path under test"));
  }
  if (v.check) SW_RETURN_IF_ERROR(v.check(d));
  return s;
}

absl::Status Bench::Run() {
  const uint32_t packets = absl::GetFlag(FLAGS_packets);
  const uint32_t rounds = absl::GetFlag(FLAGS_rounds);
  std::set<std::string> cases;
  for (absl::string_view c : absl::StrSplit(absl::GetFlag(FLAGS_cases), ',', absl::SkipEmpty())) {
    cases.insert(std::string(c));
  }
  static const std::set<std::string> kKnown = {"drop_blocklist", "nft_ingress", "nft_prerouting",
                                               "drop_ratelimit", "udp_pass"};
  for (const auto& c : cases) {
    if (!kKnown.contains(c)) {
      return absl::InvalidArgumentError(absl::StrCat("unknown case '", c, "' in --cases"));
    }
  }
  if (cases.empty()) return absl::InvalidArgumentError("--cases names nothing");

  const std::string dut_ip = absl::GetFlag(FLAGS_dut_ip);
  auto frame = [&](std::vector<uint8_t> f) { return WithMacs(std::move(f), gen_, dut_); };
  const std::vector<uint8_t> blocked = frame(sw::test::PacketBuilder()
                                                 .Eth()
                                                 .IPv4(kBlockedSrc, dut_ip)
                                                 .Udp(5060, 5060)
                                                 .Payload(DeskPhoneInvite(kBlockedSrc, dut_ip))
                                                 .Build());
  const std::vector<uint8_t> flood = frame(sw::test::PacketBuilder()
                                               .Eth()
                                               .IPv4(kFloodSrc, dut_ip)
                                               .Udp(5060, 5060)
                                               .Payload(DeskPhoneInvite(kFloodSrc, dut_ip))
                                               .Build());
  const std::vector<uint8_t> media = frame(sw::test::PacketBuilder()
                                               .Eth()
                                               .IPv4(kMediaSrc, dut_ip)
                                               .Udp(16384, 40000)
                                               .Payload(sw::test::RtpPacket(0x5eed1e55, 7, 0, 160))
                                               .Build());

  const uint32_t rate = absl::GetFlag(FLAGS_invite_rate);
  const uint32_t burst = std::max<uint32_t>(1, absl::GetFlag(FLAGS_invite_burst));
  std::vector<Variant> variants;
  auto want = [&](std::string_view c) { return cases.contains(std::string(c)); };
  if (want("drop_blocklist")) {
    variants.push_back({.name = "sipwarden_blocklist",
                        .receiver = Receiver::kSipwarden,
                        .frame = &blocked,
                        .verdict = "sw_stats.drop_blocked",
                        .verdicts = [](const Counters& d) { return d.sw.drop_blocked; }});
  }
  if (want("drop_blocklist") || want("nft_ingress") || want("nft_prerouting") ||
      want("drop_ratelimit")) {
    variants.push_back({.name = kBareDrop,
                        .receiver = Receiver::kBareDrop,
                        .frame = &blocked,
                        .verdict = "the veth's rx xdp_drops",
                        .verdicts = [](const Counters& d) { return d.rx_xdp_drops; }});
  }
  if (want("drop_blocklist")) {
    variants.push_back({.name = "floor_blocklist",
                        .receiver = Receiver::kFloorBlock,
                        .frame = &blocked,
                        .verdict = "the veth's rx xdp_drops",
                        .verdicts = [](const Counters& d) { return d.rx_xdp_drops; }});
  }
  if (want("nft_ingress")) {
    variants.push_back({.name = "nft_ingress_drop",
                        .receiver = Receiver::kNftIngress,
                        .frame = &blocked,
                        .verdict = "the rule's counter",
                        .verdicts = [](const Counters& d) { return d.nft; }});
  }
  if (want("nft_prerouting")) {
    variants.push_back({.name = "nft_prerouting_drop",
                        .receiver = Receiver::kNftPrerouting,
                        .frame = &blocked,
                        .verdict = "the rule's counter",
                        .verdicts = [](const Counters& d) { return d.nft; }});
  }
  if (want("drop_ratelimit")) {
    variants.push_back(
        {.name = "sipwarden_ratelimit",
         .receiver = Receiver::kSipwarden,
         .frame = &flood,
         .invite_rate = rate,
         .invite_burst = burst,
         .verdict = "sw_stats.drop_rate + pass_sip",
         .verdicts = [](const Counters& d) { return d.sw.drop_rate + d.sw.pass_sip; },
         // Conforming INVITEs pass (rate x time + burst): a small share.
         .check = [](const Counters& d) -> absl::Status {
           if (d.sw.drop_rate * 10 < d.rx * 9) {
             return absl::InternalError(absl::StrCat("only ", d.sw.drop_rate, " of ", d.rx,
                                                     " INVITEs over the limit were dropped"));
           }
           return absl::OkStatus();
         }});
  }
  if (want("drop_ratelimit")) {
    // 1 per second, burst 1: all but the odd frame dropped.
    variants.push_back({.name = "floor_ratelimit",
                        .receiver = Receiver::kFloorRate,
                        .frame = &flood,
                        .verdict = "the veth's rx xdp_drops",
                        .verdicts = [](const Counters& d) { return d.rx_xdp_drops; }});
  }
  if (want("udp_pass")) {
    variants.push_back({.name = "sipwarden_udp_pass",
                        .receiver = Receiver::kSipwarden,
                        .frame = &media,
                        .verdict = "sw_stats.pass_other",
                        .verdicts = [](const Counters& d) { return d.sw.pass_other; }});
    variants.push_back({.name = kBarePass,
                        .receiver = Receiver::kBarePass,
                        .frame = &media,
                        .verdict = "the veth's rx xdp_packets",
                        .verdicts = [](const Counters& d) { return d.rx - d.rx_xdp_drops; }});
  }

  std::cerr << "sw-bench-live: " << packets << " frames per measurement, " << rounds
            << " rounds, batch " << absl::GetFlag(FLAGS_batch_size) << ", generator on CPU "
            << sched_getcpu() << "; " << gen_.name << " (" << gen_name_ << ") -> " << dut_.name
            << " (" << dut_name_ << "), native XDP on the receiver; blocklist " << fill_.size() + 1
            << " IPv4 prefixes (sipwarden LPM trie, nftables interval set)\n"
            << "  frames: INVITE " << blocked.size() << " bytes, non-SIP UDP " << media.size()
            << " bytes\n";

  std::vector<std::vector<Sample>> samples(variants.size());
  const uint32_t warm = std::min<uint32_t>(packets, 50000);
  for (uint32_t r = 0; r < rounds; ++r) {
    for (size_t k = 0; k < variants.size(); ++k) {
      // Rotate the order so that no receiver always follows the same one.
      const size_t idx = (k + r) % variants.size();
      const Variant& v = variants[idx];
      SW_RETURN_IF_ERROR(Setup(v));
      auto run = [&]() -> absl::StatusOr<Sample> {
        SW_RETURN_IF_ERROR(Generate(v, warm).status());
        return Generate(v, packets);
      };
      absl::StatusOr<Sample> s = run();
      absl::Status unset = Unset(v);
      if (!s.ok())
        return absl::Status(s.status().code(), absl::StrCat(v.name, ": ", s.status().message()));
      SW_RETURN_IF_ERROR(unset);
      std::cerr << "  round " << r + 1 << " " << v.name << ": " << s->mpps() << " Mpps, " << s->ns()
                << " ns/frame per CPU-second; wall " << s->wall_mpps() << " Mpps, CPU "
                << 100 * s->cpu / s->wall << "%; " << s->received << " received of " << packets
                << " sent, " << s->d.xmit_err << " refused by the full ring; test run's own "
                << "average " << s->kernel_ns << " ns"
                << (s->waited_ms ? absl::StrCat("; receiver done ", s->waited_ms, " ms after it")
                                 : "")
                << "\n";
      samples[idx].push_back(*s);
    }
  }

  std::map<std::string, std::pair<double, double>> med;  // name -> (Mpps, ns)
  for (size_t i = 0; i < variants.size(); ++i) {
    std::vector<double> mpps, ns, wall;
    uint64_t refused = 0;
    for (const Sample& s : samples[i]) {
      mpps.push_back(s.mpps());
      ns.push_back(s.ns());
      wall.push_back(s.wall_mpps());
      refused += s.d.xmit_err;
    }
    med[variants[i].name] = {Median(mpps), Median(ns)};
    std::cerr << "  " << variants[i].name << ": median " << Median(mpps) << " Mpps, " << Median(ns)
              << " ns/frame (rounds: " << absl::StrJoin(mpps, " ") << "; wall-clock median "
              << Median(wall) << " Mpps)"
              << (refused ? absl::StrCat("; ", refused, " frames refused by the full ring") : "")
              << "\n";
  }

  auto figure = [&](std::string_view metric, const std::string& ours, const std::string& base) {
    const auto& [om, on] = med.at(ours);
    const auto& [bm, bn] = med.at(base);
    PrintLine(absl::StrCat("mpps_", sw::AV(metric)), om, "Mpps", base, bm);
    PrintLine(absl::StrCat("ns_per_packet_", sw::AV(metric)), on, "ns", base, bn);
    std::cerr << "  " << metric << ": " << on - bn << " ns/frame more than " << base << "\n";
  };
  if (want("drop_blocklist")) figure("drop_blocklist", "sipwarden_blocklist", kBareDrop);
  if (want("nft_ingress")) figure("nft_ingress_drop", "nft_ingress_drop", kBareDrop);
  if (want("nft_prerouting")) figure("nft_prerouting_drop", "nft_prerouting_drop", kBareDrop);
  if (want("drop_blocklist")) {
    for (const char* nft : {"nft_ingress_drop", "nft_prerouting_drop"}) {
      if (!med.contains(nft)) continue;
      PrintLine(absl::StrCat("mpps_drop_blocklist_vs_", nft), med.at("sipwarden_blocklist").first,
                "Mpps", nft, med.at(nft).first);
    }
  }
  if (want("drop_ratelimit")) figure("drop_ratelimit", "sipwarden_ratelimit", kBareDrop);
  // The floors beside the bare drop, and each path beside its floor.
  auto beside_floor = [&](std::string_view path, const std::string& ours,
                          const std::string& floor) {
    figure(absl::StrCat("floor_", sw::AV(path)), floor, kBareDrop);
    PrintLine(absl::StrCat("mpps_", sw::AV(path), "_vs_floor"), med.at(ours).first, "Mpps", floor,
              med.at(floor).first);
  };
  if (want("drop_blocklist"))
    beside_floor("drop_blocklist", "sipwarden_blocklist", "floor_blocklist");
  if (want("drop_ratelimit"))
    beside_floor("drop_ratelimit", "sipwarden_ratelimit", "floor_ratelimit");
  if (want("udp_pass")) figure("udp_pass", "sipwarden_udp_pass", kBarePass);
  return Teardown();
}

}  // namespace

int main(int argc, char** argv) {
  sw::SetUsage(
      "Measures drop throughput of real frames through a veth pair, side by side in one run:\n"
      "sipwarden's XDP program dropping a blocklisted source, a bare XDP_DROP program,\n"
      "nftables dropping the same source (inet table, ingress hook and prerouting hook),\n"
      "sipwarden's rate-limit drop (an INVITE flood over a per-source limit) and its pass\n"
      "path for non-SIP UDP beside a bare XDP_PASS program, and the two drops' floors, the\n"
      "least work the kernel's helpers allow for them (bpf/baseline.bpf.c). Frames are made\n"
      "by a trivial XDP program returning XDP_TX, run with BPF_PROG_TEST_RUN and\n"
      "BPF_F_TEST_XDP_LIVE_FRAMES (kernel >= 5.18) on the generator's end of the pair.\n\n"
      "  live.sh path/to/sw-bench-live [--packets N] [--rounds N] [--cases LIST] ...\n"
      "  sw-bench-live --gen-netns swb-... --gen-iface IF --dut-netns swb-... --dut-iface IF\n"
      "                --dut-ip A.B.C.D [--pin-dir DIR] [flags]\n\n"
      "live.sh (tools/bench/live/) makes the two namespaces and the veth pair, runs this\n"
      "program and removes them; run directly, the namespaces must exist (names starting\n"
      "with swb-). Needs root. Prints one JSON object per figure on stdout (Mpps and ns per\n"
      "frame, each beside the bare program), progress on stderr. Flags may be written with\n"
      "dashes or underscores. Exit status: 0 measured, 1 failed, 2 bad flags, 3 not\n"
      "measured because the kernel refuses live-frames test runs (some hardened or\n"
      "virtualised kernels answer EPERM).");
  sw::NormalizedArgs normalized(argc, argv);
  absl::ParseCommandLine(normalized.argc(), normalized.argv());
  if (absl::GetFlag(FLAGS_version)) {
    std::cout << "sw-bench-live " << SW_VERSION << "\n";
    return 0;
  }
  const uint32_t packets = absl::GetFlag(FLAGS_packets);
  const uint32_t batch = absl::GetFlag(FLAGS_batch_size);
  if (packets == 0 || packets > static_cast<uint32_t>(std::numeric_limits<int>::max()) ||
      absl::GetFlag(FLAGS_rounds) == 0 || batch == 0 || batch > 256 ||
      absl::GetFlag(FLAGS_run_timeout) == 0) {
    std::cerr << "sw-bench-live: --packets must be within 1..2^31-1, --batch-size within 1..256, "
                 "--rounds and --run-timeout at least 1\n";
    return 2;
  }
  for (const auto* f :
       {&FLAGS_gen_netns, &FLAGS_gen_iface, &FLAGS_dut_netns, &FLAGS_dut_iface, &FLAGS_dut_ip}) {
    if (absl::GetFlag(*f).empty()) {
      std::cerr << "sw-bench-live: --gen-netns, --gen-iface, --dut-netns, --dut-iface and "
                   "--dut-ip are required (live.sh gives them)\n";
      return 2;
    }
  }
  if (geteuid() != 0) {
    std::cerr << "sw-bench-live: needs root (namespaces, XDP, nftables)\n";
    return 1;
  }
  // One CPU for the generator, so that every receiver runs where it does.
  int cpu = absl::GetFlag(FLAGS_cpu);
  if (cpu < 0) cpu = sched_getcpu();
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) {
    std::cerr << "sw-bench-live: cannot run on CPU " << cpu << ": " << std::strerror(errno) << "\n";
    return 2;
  }
  struct sigaction sa {};
  sa.sa_handler = OnAlarm;  // no SA_RESTART: the test run returns EINTR
  sigemptyset(&sa.sa_mask);
  sigaction(SIGALRM, &sa, nullptr);
  sw::LogLibbpfToStderr(absl::GetFlag(FLAGS_verbose));

  auto bench = Bench::Create();
  if (!bench.ok()) {
    std::cerr << "sw-bench-live: " << bench.status().message() << "\n";
    return bench.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  absl::Status s = (*bench)->Run();
  if (absl::IsUnimplemented(s)) {
    std::cerr << "sw-bench-live: NOT MEASURED: " << s.message() << "\n";
    return 3;
  }
  if (!s.ok()) {
    std::cerr << "sw-bench-live: FAILED: " << s.message() << "\n";
    return 1;
  }
  return 0;
}
