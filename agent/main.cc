// SPDX-License-Identifier: BSD-2-Clause
// sipwarden-agent: loads the XDP data plane onto an interface, pins its maps,
// and reports what the kernel hands up through the ring buffer.
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <bpf/libbpf.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "sipwarden/cli.h"
#include "sipwarden/config_file.h"
#include "controller_client.h"
#include "datapath.h"
#include "hep_listener.h"
#include "kernel_probe.h"
#include "live_agent.h"
#include "metrics.h"
#include "offline.h"
#include "outputs.h"
#include "sipwarden/absl_compat.h"
#include "sipwarden/status_macros.h"

ABSL_FLAG(std::string, iface, "",
          "Interface(s) to protect, comma separated (required unless --read-pcap)");
ABSL_FLAG(std::string, read_pcap, "",
          "Offline: analyse this pcap/pcapng file through the same pipeline, then exit");
ABSL_FLAG(std::string, events_out, "",
          "Where SIP/MGCP/RTP events and call records go as JSON lines (- = stdout)");
ABSL_FLAG(std::string, alarms_out, "", "Where alarms go as JSON lines (- = stdout)");
ABSL_FLAG(std::string, rules, "",
          "Rule file (default: the ruleset built into the agent, rules/default.yaml)");
ABSL_FLAG(bool, quiet, false, "No progress messages on stderr");
ABSL_FLAG(std::string, hep_listen, "",
          "Receive HEPv3 mirrors (Kamailio siptrace) on HOST:PORT (UDP); empty = off");
ABSL_FLAG(std::string, xdp_mode, "auto", "XDP attach mode: auto, native or generic");
ABSL_FLAG(bool, scripts, true,
          "Run the rules' scripts (each a program run without a shell, at most 4 at once, "
          "killed at its timeout); false: a rule file that runs a script is refused at load");
ABSL_FLAG(bool, replace, false,
          "Replace an XDP program of another owner already attached to an interface (without "
          "it the agent refuses and names the program; an earlier sipwarden's is always "
          "replaced)");
ABSL_FLAG(std::string, pin_dir, sw::kDefaultPinDir, "bpffs directory where maps are pinned");
ABSL_FLAG(bool, keep_attached, false,
          "On exit leave the program attached and the maps pinned for the next agent");
ABSL_FLAG(std::string, records_out, "",
          "Where raw ring-buffer records go as JSON lines (- = stdout; default: stdout "
          "unless --events-out is given)");
ABSL_FLAG(std::string, sip_ports, "5060,5080", "SIP ports (UDP and TCP), comma separated");
ABSL_FLAG(std::string, mgcp_ports, "2427,2727",
          "MGCP ports (UDP), comma separated: the kernel copies their datagrams to the agent "
          "(gateway and audit rules); empty = none");
ABSL_FLAG(uint32_t, snap_len, SW_SNAP_DEFAULT,
          "SIP bytes copied to userspace per message (over TCP: per segment)");
ABSL_FLAG(uint32_t, tcp_max_streams, 65536,
          "SIP-over-TCP connection directions reassembled at once (least recently used evicted)");
ABSL_FLAG(uint32_t, tcp_buffer_bytes, 64u << 20,
          "Bytes SIP-over-TCP reassembly may hold over all connections (least recently used "
          "evicted beyond)");
ABSL_FLAG(absl::Duration, tcp_idle_timeout, absl::Minutes(10),
          "A TCP connection direction idle this long is forgotten (its next segment that "
          "starts a message starts it again)");
ABSL_FLAG(absl::Duration, tcp_hole_timeout, absl::Seconds(1),
          "Bytes of a TCP stream missing this long (a ring-buffer record lost) are skipped: "
          "the message they belong to is lost, framing resumes at the next one");
ABSL_FLAG(uint32_t, ringbuf_bytes, SW_RINGBUF_BYTES, "Ring buffer size (power of two)");
ABSL_FLAG(uint32_t, block_entries, SW_BLOCK_ENTRIES,
          "Blocklist capacity, prefixes per address family (kernel memory is taken as "
          "entries are added)");
ABSL_FLAG(uint32_t, src_entries, SW_SRC_ENTRIES,
          "Sources the kernel tracks at once (least recently seen evicted beyond; "
          "preallocated, about 330 bytes each)");
ABSL_FLAG(uint32_t, ringbuf_wakeup_bytes, sw::kDefaultRingWakeupBytes,
          "Wake the agent once this many ring-buffer bytes wait (0 = on every record when "
          "idle); below that the agent polls every 10 ms");
ABSL_FLAG(uint32_t, invite_rate, 0, "Per-source INVITE limit, messages/s (0 = none)");
ABSL_FLAG(uint32_t, invite_burst, 0, "Per-source INVITE burst (default: one second's worth)");
ABSL_FLAG(uint32_t, register_rate, 0, "Per-source REGISTER limit, messages/s (0 = none)");
ABSL_FLAG(uint32_t, register_burst, 0, "Per-source REGISTER burst");
ABSL_FLAG(uint32_t, other_rate, 0, "Per-source limit for other requests, messages/s (0 = none)");
ABSL_FLAG(uint32_t, other_burst, 0, "Per-source burst for other requests");
ABSL_FLAG(absl::Duration, max_block_ttl, absl::ZeroDuration(),
          "Cap on the TTL of blocks and rate limits that rules ask for (0 = the rules' own)");
ABSL_FLAG(bool, enforce, true,
          "Put rules' blocks and rate limits into the kernel; false = detect only (alarms, "
          "verdicts logged, nothing dropped for them)");
ABSL_FLAG(bool, drop_malformed, false, "Drop malformed packets instead of passing them");
ABSL_FLAG(uint32_t, stats_interval, 0, "Print kernel counters to stderr every N seconds (0 = off)");
ABSL_FLAG(bool, verbose, false,
          "Show the kernel probe's answers, libbpf's informational messages and, when the "
          "kernel refuses the XDP program, the verifier's whole log");
ABSL_FLAG(bool, version, false, "Print the version and exit");
ABSL_FLAG(std::string, config, "",
          "YAML file of flag settings (name: value, e.g. /etc/sipwarden/agent.yaml); flags on "
          "the command line override it");
ABSL_FLAG(std::string, profiles, "",
          "Per-account anomaly profiles: a directory sipwarden-profiles learn wrote "
          "(docs/profiles.md). Call records feed them, the rules' compare_profiles actions "
          "compare (the default ruleset's profile-compare, hourly) and anomalies are alarms; "
          "profiles learned online are written back at exit and every --profiles-save-every. "
          "Empty = none");
ABSL_FLAG(std::string, profiles_config, "",
          "YAML settings of the profiles (docs/profiles.md); empty = those they were learned "
          "with");
ABSL_FLAG(absl::Duration, profiles_save_every, absl::Hours(6),
          "Live: how often --profiles is written back (0 = only at exit)");
ABSL_FLAG(std::string, controller, "",
          "sipwarden-controller(s) HOST:PORT[,HOST:PORT...] (tried in turn): register, report "
          "alarms and blocks, enforce the fleet's decisions; empty = this host alone");
ABSL_FLAG(std::string, tls_cert, "",
          "mTLS to the controller: this agent's certificate (PEM; its common name is the agent's "
          "name, its organisational unit 'agent')");
ABSL_FLAG(std::string, tls_key, "", "mTLS to the controller: this agent's private key (PEM)");
ABSL_FLAG(std::string, tls_ca, "", "mTLS to the controller: the CA that signed the controller's "
          "certificate (PEM)");
ABSL_FLAG(std::string, state_dir, "/var/lib/sipwarden",
          "Where the agent keeps state across runs: reports the controller has not taken yet "
          "(controller-reports.NAME.spool, at most 256 MiB)");
ABSL_FLAG(std::string, agent_name, "",
          "This agent's name at the controller (default: the host name)");
ABSL_FLAG(std::string, kamailio_rpc, "",
          "Push the fleet's graylists into the local Kamailio through this jsonrpcs datagram "
          "socket (modparam(\"jsonrpcs\", \"dgram_socket\", PATH)), one htable entry per "
          "source, for a configuration that deflects their calls to the honeypot "
          "(packaging/kamailio/deflect.cfg); needs --controller; empty = off");
ABSL_FLAG(std::string, kamailio_htable, "graylist",
          "The htable --kamailio-rpc writes: key the source address, value its expiry (Unix "
          "seconds), expiring with the graylist; the agent flushes and rewrites it whole after "
          "a snapshot or a Kamailio restart");
ABSL_FLAG(std::string, metrics_listen, "",
          "Serve Prometheus metrics on HOST:PORT (GET /metrics); empty = off");

namespace {

std::atomic<bool> g_stop{false};
std::atomic<bool> g_reload{false};

void OnSignal(int) { g_stop = true; }
void OnHangup(int) { g_reload = true; }

absl::StatusOr<std::vector<uint16_t>> ParsePorts(const std::string& text, std::string_view flag,
                                                 bool may_be_empty = false) {
  std::vector<uint16_t> ports;
  for (absl::string_view p : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    uint32_t v;
    if (!absl::SimpleAtoi(p, &v) || v == 0 || v > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("bad port '", p, "' in --", sw::AV(flag)));
    }
    ports.push_back(static_cast<uint16_t>(v));
  }
  if (ports.empty() && !may_be_empty) {
    return absl::InvalidArgumentError(absl::StrCat("--", sw::AV(flag), " is empty"));
  }
  return ports;
}

absl::Status ApplySettings(sw::Maps& maps, const std::vector<uint16_t>& ports,
                           const std::vector<uint16_t>& mgcp_ports) {
  // Only the fields the agent's flags own change, under the lock that
  // sipwardenctl takes too: flags set by others (source limits) survive.
  SW_RETURN_IF_ERROR(maps.UpdateConfig([&](sw_config& cfg) -> absl::Status {
    cfg.snap_len = absl::GetFlag(FLAGS_snap_len);
    cfg.rb_wakeup_bytes = absl::GetFlag(FLAGS_ringbuf_wakeup_bytes);
    if (cfg.snap_len == 0 || cfg.snap_len > SW_SNAP_MAX) {
      return absl::InvalidArgumentError(
          absl::StrCat("--snap_len must be within 1..", SW_SNAP_MAX));
    }
    auto set = [&](int b, uint32_t rate, uint32_t burst) {
      cfg.limits[b].rate = rate;
      cfg.limits[b].burst = burst ? burst : (rate ? rate : 0);
    };
    set(SW_BUCKET_INVITE, absl::GetFlag(FLAGS_invite_rate), absl::GetFlag(FLAGS_invite_burst));
    set(SW_BUCKET_REGISTER, absl::GetFlag(FLAGS_register_rate),
        absl::GetFlag(FLAGS_register_burst));
    set(SW_BUCKET_OTHER, absl::GetFlag(FLAGS_other_rate), absl::GetFlag(FLAGS_other_burst));
    if (absl::GetFlag(FLAGS_drop_malformed)) {
      cfg.flags |= SW_CFG_DROP_MALFORMED;
    } else {
      cfg.flags &= ~SW_CFG_DROP_MALFORMED;
    }
    return absl::OkStatus();
  }));
  // The port table is replaced wholesale, in one batch.
  return maps.SetPortRoles(ports, mgcp_ports);
}

void PrintStats(const sw::Maps& maps) {
  auto st = maps.ReadStats();
  if (!st.ok()) return;
  std::string line = "stats:";
#define SW_PRINT(name) absl::StrAppend(&line, " " #name "=", st->name);
  SW_STATS_FIELDS(SW_PRINT)
#undef SW_PRINT
  std::cerr << line << "\n";
}

int Run() {
  if (const std::string pcap = absl::GetFlag(FLAGS_read_pcap); !pcap.empty()) {
    sw::OfflineOptions o;
    o.pcap = pcap;
    o.events_out = absl::GetFlag(FLAGS_events_out);
    o.alarms_out = absl::GetFlag(FLAGS_alarms_out);
    o.rules = absl::GetFlag(FLAGS_rules);
    if (o.events_out.empty() && o.alarms_out.empty()) o.events_out = "-";
    o.quiet = absl::GetFlag(FLAGS_quiet);
    o.scripts = absl::GetFlag(FLAGS_scripts);
    o.profiles = absl::GetFlag(FLAGS_profiles);
    o.profiles_config = absl::GetFlag(FLAGS_profiles_config);
    return sw::RunOffline(o);
  }
  const std::string iface = absl::GetFlag(FLAGS_iface);
  if (iface.empty()) {
    std::cerr << "sipwarden-agent: --iface is required (see --help)\n";
    return 2;
  }
  std::vector<std::pair<std::string, int>> ifaces;  // name, ifindex
  for (absl::string_view name : absl::StrSplit(iface, ',', absl::SkipWhitespace())) {
    const std::string n(name);
    const int ifindex = static_cast<int>(if_nametoindex(n.c_str()));
    if (ifindex == 0) {
      std::cerr << "sipwarden-agent: no interface named '" << n << "'\n";
      return 2;
    }
    ifaces.emplace_back(n, ifindex);
  }
  std::vector<std::string> controllers;
  if (const std::string c = absl::GetFlag(FLAGS_controller); !c.empty()) {
    auto list = sw::ParseControllerList(c);
    if (!list.ok()) {
      std::cerr << "sipwarden-agent: " << list.status().message() << "\n";
      return 2;
    }
    controllers = *list;
  }
  const std::string kamailio_rpc = absl::GetFlag(FLAGS_kamailio_rpc);
  if (!kamailio_rpc.empty() && controllers.empty()) {
    std::cerr << "sipwarden-agent: --kamailio-rpc needs --controller (it pushes the fleet's "
                 "graylists)\n";
    return 2;
  }
  std::shared_ptr<grpc::ChannelCredentials> controller_creds;
  if (!controllers.empty()) {
    auto creds = sw::ControllerCredentials(
        {absl::GetFlag(FLAGS_tls_cert), absl::GetFlag(FLAGS_tls_key), absl::GetFlag(FLAGS_tls_ca)});
    if (!creds.ok()) {
      std::cerr << "sipwarden-agent: " << creds.status().message() << "\n";
      return 2;
    }
    controller_creds = *creds;
  }
  std::string agent_name = absl::GetFlag(FLAGS_agent_name);
  char hostname[256] = {};
  gethostname(hostname, sizeof(hostname) - 1);
  if (agent_name.empty()) agent_name = hostname;
  auto mode = sw::ParseXdpMode(absl::GetFlag(FLAGS_xdp_mode));
  auto ports = ParsePorts(absl::GetFlag(FLAGS_sip_ports), "sip_ports");
  auto mgcp_ports = ParsePorts(absl::GetFlag(FLAGS_mgcp_ports), "mgcp_ports", true);
  for (const absl::Status& s : {mode.status(), ports.status(), mgcp_ports.status()}) {
    if (!s.ok()) {
      std::cerr << "sipwarden-agent: " << s.message() << "\n";
      return 2;
    }
  }

  const std::string events_where = absl::GetFlag(FLAGS_events_out);
  std::string records_where = absl::GetFlag(FLAGS_records_out);
  if (records_where.empty() && events_where.empty()) records_where = "-";
  auto records_out = sw::JsonLinesOut::Open(records_where);
  auto events_out = sw::JsonLinesOut::Open(events_where);
  for (const absl::Status& s : {records_out.status(), events_out.status()}) {
    if (!s.ok()) {
      std::cerr << "sipwarden-agent: " << s.message() << "\n";
      return 2;
    }
  }
  sw::JsonLinesOut& records = **records_out;
  sw::JsonLinesOut& events = **events_out;
  auto alarms_out = sw::JsonLinesOut::Open(absl::GetFlag(FLAGS_alarms_out));
  if (!alarms_out.ok()) {
    std::cerr << "sipwarden-agent: " << alarms_out.status().message() << "\n";
    return 2;
  }
  const std::string rules_path = absl::GetFlag(FLAGS_rules);
  std::vector<sw::rules::ConfigError> rule_errors;
  auto ruleset = sw::LoadAgentRules(rules_path, &rule_errors, absl::GetFlag(FLAGS_scripts));
  if (!ruleset.ok()) {
    for (const auto& e : rule_errors) std::cerr << e.ToString() << "\n";
    std::cerr << "sipwarden-agent: " << ruleset.status().message() << "\n";
    return 2;
  }
  std::unique_ptr<sw::ProfileWatch> profiles;
  if (const std::string dir = absl::GetFlag(FLAGS_profiles); !dir.empty()) {
    auto p = sw::ProfileWatch::Open(dir, absl::GetFlag(FLAGS_profiles_config), sw::UnixNowUs());
    if (!p.ok()) {
      std::cerr << "sipwarden-agent: --profiles: " << p.status().message() << "\n";
      return 2;
    }
    profiles = std::move(*p);
    std::cerr << "sipwarden-agent: " << profiles->stats().profiles << " account profiles from "
              << dir << "\n";
  } else if (!absl::GetFlag(FLAGS_profiles_config).empty()) {
    std::cerr << "sipwarden-agent: --profiles-config needs --profiles\n";
    return 2;
  }
  std::unique_ptr<sw::HepListener> hep;
  if (const std::string where = absl::GetFlag(FLAGS_hep_listen); !where.empty()) {
    auto l = sw::HepListener::Open(where);
    if (!l.ok()) {
      std::cerr << "sipwarden-agent: " << l.status().message() << "\n";
      return 2;
    }
    hep = std::move(*l);
    std::cerr << "sipwarden-agent: receiving HEPv3 mirrors on " << where << "\n";
  }

  std::unique_ptr<sw::MetricsServer> metrics;
  if (const std::string where = absl::GetFlag(FLAGS_metrics_listen); !where.empty()) {
    auto m = sw::MetricsServer::Open(where);
    if (!m.ok()) {
      std::cerr << "sipwarden-agent: " << m.status().message() << "\n";
      return 2;
    }
    metrics = std::move(*m);
    std::cerr << "sipwarden-agent: Prometheus metrics on " << where << " (GET /metrics)\n";
  }

  sw::LogLibbpfToStderr(absl::GetFlag(FLAGS_verbose));
  // Refuse a kernel that cannot run the data plane with one line naming what
  // it lacks, before the verifier would say so at length.
  const sw::KernelFeatures kernel = sw::ProbeKernel();
  if (absl::GetFlag(FLAGS_verbose)) {
    std::cerr << "sipwarden-agent: " << sw::DescribeKernel(kernel) << "\n";
  }
  if (auto st = sw::CheckKernel(kernel); !st.ok()) {
    std::cerr << "sipwarden-agent: cannot run on this host: " << st.message() << "\n";
    return 1;
  }
  sw::DatapathOptions opts;
  opts.pin_dir = absl::GetFlag(FLAGS_pin_dir);
  opts.ringbuf_bytes = absl::GetFlag(FLAGS_ringbuf_bytes);
  opts.block_entries = absl::GetFlag(FLAGS_block_entries);
  opts.src_entries = absl::GetFlag(FLAGS_src_entries);
  auto dp = sw::Datapath::Load(opts);
  if (!dp.ok()) {
    std::cerr << "sipwarden-agent: " << dp.status().message() << "\n";
    return 1;
  }
  std::cerr << "sipwarden-agent: loaded; maps " << ((*dp)->reused_pins() ? "adopted from " : "pinned at ")
            << opts.pin_dir << "\n";
  if (auto s = ApplySettings((*dp)->maps(), *ports, *mgcp_ports); !s.ok()) {
    std::cerr << "sipwarden-agent: " << s.message() << "\n";
    if (!(*dp)->reused_pins()) (void)(*dp)->Unpin();
    return 2;
  }
  for (const auto& [name, ifindex] : ifaces) {
    auto used = (*dp)->Attach(ifindex, *mode, absl::GetFlag(FLAGS_replace));
    if (!used.ok()) {
      std::cerr << "sipwarden-agent: " << used.status().message() << " on " << name << "\n";
      (void)(*dp)->Detach();
      if (!(*dp)->reused_pins()) (void)(*dp)->Unpin();
      return 1;
    }
    std::cerr << "sipwarden-agent: attached to " << name << " (ifindex " << ifindex << ") in "
              << sw::XdpModeName(*used) << " mode\n";
  }
  sw::LiveAgentOptions lo;
  lo.rules_path = rules_path;
  lo.scripts = absl::GetFlag(FLAGS_scripts);
  lo.enforce = absl::GetFlag(FLAGS_enforce);
  lo.max_block_ttl = absl::GetFlag(FLAGS_max_block_ttl);
  lo.mgcp_ports = *mgcp_ports;
  lo.tcp.max_streams = std::max<uint32_t>(1, absl::GetFlag(FLAGS_tcp_max_streams));
  lo.tcp.max_total_bytes = absl::GetFlag(FLAGS_tcp_buffer_bytes);
  lo.tcp.idle_timeout_ns = absl::ToInt64Nanoseconds(absl::GetFlag(FLAGS_tcp_idle_timeout));
  lo.tcp.hole_timeout_ns = absl::ToInt64Nanoseconds(absl::GetFlag(FLAGS_tcp_hole_timeout));
  lo.boot_to_unix_ns = sw::BootToUnixOffsetNs();
  lo.adopted_maps = (*dp)->reused_pins();
  lo.hep_feed = hep != nullptr;
  lo.profiles = std::move(profiles);
  lo.profiles_save_every = absl::GetFlag(FLAGS_profiles_save_every);
  if (!controllers.empty()) {
    // The fleet: decisions from the controller into the maps, reports up.
    sw::ControllerClientOptions co;
    co.addresses = controllers;
    co.credentials = controller_creds;
    co.name = agent_name;
    co.hostname = hostname;
    for (const auto& [name, ifindex] : ifaces) co.interfaces.push_back(name);
    co.version = SW_VERSION;
    co.ruleset_sha256 = sw::RulesetSha256(rules_path);
    if (const std::string state_dir = absl::GetFlag(FLAGS_state_dir); !state_dir.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(state_dir, ec);
      co.spool_path = absl::StrCat(state_dir, "/controller-reports.", agent_name, ".spool");
    }
    lo.controller = std::move(co);
    if (!kamailio_rpc.empty()) {
      sw::KamailioGraylistOptions ko;
      ko.socket_path = kamailio_rpc;
      ko.table = absl::GetFlag(FLAGS_kamailio_htable);
      lo.kamailio = std::move(ko);
    }
  }
  auto agent = sw::LiveAgent::Create((*dp)->maps(), *ruleset, std::move(lo),
                                     {&records, &events, alarms_out->get()});
  if (!agent.ok()) {
    std::cerr << "sipwarden-agent: " << agent.status().message() << "\n";
    return 1;
  }
  sw::LiveAgent& live = **agent;
  auto reader = sw::RingReader::Create(
      (*dp)->maps().fds().events, [&](std::span<const uint8_t> data) { live.OnRecord(data); });
  if (!reader.ok()) {
    std::cerr << "sipwarden-agent: " << reader.status().message() << "\n";
    return 1;
  }
  live.Start();

  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  struct sigaction hup = {};
  hup.sa_handler = OnHangup;
  sigaction(SIGHUP, &hup, nullptr);

  const uint64_t stats_every = absl::GetFlag(FLAGS_stats_interval) * 1000000000ull;
  uint64_t next_stats = sw::BootNs() + stats_every;
  int rc = 0;
  while (!g_stop) {
    auto n = (*reader)->Poll(sw::kRingPollMs);
    if (!n.ok()) {
      std::cerr << "sipwarden-agent: " << n.status().message() << "\n";
      rc = 1;
      break;
    }
    live.PollScripts();  // scripts that ended: their action lists run now
    int work = *n;
    if (hep) work += hep->Drain([&](const sw::net::HepPacket& p) { live.OnHep(p); });
    if (metrics) {
      metrics->Poll([&] {
        sw::PromText t;
        live.AddMetrics(t);
        if (hep) {
          t.Counter("sipwarden_hep_received_total", "HEP datagrams received",
                    static_cast<double>(hep->received()));
          t.Counter("sipwarden_hep_bad_total", "HEP datagrams that did not decode",
                    static_cast<double>(hep->bad()));
        }
        t.Counter("sipwarden_metrics_scrapes_total", "Scrapes answered",
                  static_cast<double>(metrics->scrapes()));
        t.Counter("sipwarden_metrics_render_timeouts_total",
                  "Scrapes answered 503: the main loop did not render within 1 s",
                  static_cast<double>(metrics->render_timeouts()));
        return t.Take();
      });
    }
    if (g_reload.exchange(false)) {
      if (auto st = live.ReloadRules(); st.ok()) {
        std::cerr << "sipwarden-agent: rules reloaded ("
                  << live.correlator().engine().stats().rules_kept << " kept their state)\n";
      } else {
        std::cerr << st.message() << "\nsipwarden-agent: rules not reloaded, the old ones stay\n";
      }
    }
    const uint64_t now = sw::BootNs();
    live.Tick(now, work > 0);
    if (stats_every && now >= next_stats) {
      PrintStats((*dp)->maps());
      next_stats = now + stats_every;
    }
  }
  (void)(*reader)->Drain();
  live.Shutdown();

  if (absl::GetFlag(FLAGS_keep_attached)) {
    std::cerr << "sipwarden-agent: leaving the program attached to " << iface
              << " and the maps pinned at " << opts.pin_dir << "\n";
    return rc;
  }
  if (auto s = (*dp)->Detach(); !s.ok()) {
    std::cerr << "sipwarden-agent: " << s.message() << "\n";
    rc = 1;
  }
  if (auto s = (*dp)->Unpin(); !s.ok()) {
    std::cerr << "sipwarden-agent: " << s.message() << "\n";
    rc = 1;
  }
  std::cerr << "sipwarden-agent: detached from " << iface << " and unpinned; bye\n";
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  sw::SetUsage(
      "Protects a SIP host: loads the sipwarden XDP program on its interfaces, pins its maps,\n"
      "parses and correlates the SIP the kernel passes up (and HEPv3 mirrors), raises alarms and\n"
      "puts the rules' verdicts (blocks, rate limits, media watches) into the kernel.\n\n"
      "  sipwarden-agent --iface eth0 [--xdp-mode auto|native|generic] [--pin-dir DIR]\n"
      "                  [--config FILE] [--rules FILE] [--alarms-out PATH|-]\n"
      "                  [--events-out PATH|-] [--records-out PATH|-]\n"
      "                  [--hep-listen HOST:PORT] [--metrics-listen HOST:PORT]\n"
      "  sipwarden-agent --read-pcap FILE [--rules FILE] [--alarms-out PATH|-]\n"
      "                  [--events-out PATH|-]     (offline)\n\n"
      "Flags may be written with dashes or underscores (--pin-dir or --pin_dir).\n"
      "Stop with SIGINT or SIGTERM: the program is detached and the maps unpinned, unless\n"
      "--keep_attached is given.");
  if (!sw::ParseCommandLineWithConfig(argc, argv, "sipwarden-agent")) return 2;
  if (absl::GetFlag(FLAGS_version)) {
    std::cout << "sipwarden-agent " << SW_VERSION << "\n";
    return 0;
  }
  return Run();
}
