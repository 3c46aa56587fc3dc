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
#include "config.h"
#include "controller_client.h"
#include "correlate.h"
#include "datapath.h"
#include "fleet_decisions.h"
#include "hep_listener.h"
#include "kernel_probe.h"
#include "host_addrs.h"
#include "media_mirror.h"
#include "metrics.h"
#include "offline.h"
#include "outputs.h"
#include "sipwarden/absl_compat.h"
#include "sipwarden/events/dedup.h"
#include "sipwarden/events/pipeline.h"
#include "sipwarden/net/tcp_stream.h"
#include "sipwarden/record.h"
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
  const int64_t boot_to_unix = sw::BootToUnixOffsetNs();
  sw::Maps& maps = (*dp)->maps();
  // Verdicts into the kernel: an allowlisted source is never blocked,
  // whatever a rule says.
  sw::VerdictSinks verdicts;
  const absl::Duration max_ttl = absl::GetFlag(FLAGS_max_block_ttl);
  auto capped = [&](int64_t ttl_ns) {
    absl::Duration ttl = absl::Nanoseconds(ttl_ns);
    if (max_ttl > absl::ZeroDuration() && (ttl == absl::ZeroDuration() || ttl > max_ttl)) {
      ttl = max_ttl;
    }
    return ttl;
  };
  sw::HostAddresses host;
  if (auto st = host.Refresh(); !st.ok()) {
    std::cerr << "sipwarden-agent: this host's addresses: " << st.message() << "\n";
  }
  auto allowlisted = [&](const sw::IpPrefix& p, const std::string& rule, const char* what) {
    if (host.Overlaps(p)) {
      std::cerr << "sipwarden-agent: rule " << rule << " wanted " << p.ToString() << " " << what
                << "; it covers an address of this host\n";
      return true;
    }
    auto allowed = maps.IsAllowed(p.addr);
    if (!allowed.ok() || !*allowed) return false;
    std::cerr << "sipwarden-agent: rule " << rule << " wanted " << p.ToString() << " " << what
              << "; it is allowlisted\n";
    return true;
  };
  // The fleet: decisions from the controller into the maps, reports up.
  std::unique_ptr<sw::FleetDecisions> fleet;
  std::unique_ptr<sw::ControllerClient> controller;
  if (!controllers.empty()) {
    fleet = std::make_unique<sw::FleetDecisions>(maps);
    sw::ControllerClientOptions co;
    co.addresses = controllers;
    co.credentials = controller_creds;
    co.name = agent_name;
    co.hostname = hostname;
    for (const auto& [name, ifindex] : ifaces) co.interfaces.push_back(name);
    co.version = SW_VERSION;
    co.ruleset_sha256 = sw::RulesetSha256(rules_path);
    const std::string state_dir = absl::GetFlag(FLAGS_state_dir);
    if (!state_dir.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(state_dir, ec);
      co.spool_path = absl::StrCat(state_dir, "/controller-reports.", agent_name, ".spool");
    }
    controller = std::make_unique<sw::ControllerClient>(
        co, [f = fleet.get()](const sipwarden::v1::DecisionBatch& b) { f->Apply(b); });
    if (auto st = controller->OpenSpool(); !st.ok()) {
      std::cerr << "sipwarden-agent: " << st.message() << " (reports kept in memory only)\n";
    } else if (const auto cs = controller->stats(); cs.reports_buffered > 0) {
      std::cerr << "sipwarden-agent: " << cs.reports_buffered
                << " reports from an earlier run wait for the controller\n";
    }
    controller->Start();
    std::cerr << "sipwarden-agent: following the controller at " << absl::StrJoin(controllers, ",")
              << " as " << agent_name << "\n";
  }
  verdicts.alarm = [&](const sw::rules::Alarm& a, const std::string& json) {
    if (!controller) return;
    sipwarden::v1::AgentReport r;
    auto* al = r.mutable_alarm();
    al->set_json(json);
    al->set_rule(a.rule);
    al->set_category(a.category);
    al->set_severity(a.severity);
    al->set_signature(a.signature);
    if (a.has_flow) al->set_src_ip(a.src.ToString());
    al->set_ts_unix_ns(a.ts_ns);
    controller->Report(std::move(r));
  };
  verdicts.synthetic = [&](const sw::rules::SyntheticEvent& e) {
    // What the controller's central rules asked for, and nothing else.
    if (!controller || !controller->Forwards(e.name)) return;
    sipwarden::v1::AgentReport r;
    *r.mutable_event() = sw::ToForwarded(e);
    controller->Report(std::move(r));
  };
  sw::MediaMirror media(maps);
  if ((*dp)->reused_pins()) {
    // The previous agent's media entries belong to calls this one never saw.
    if (auto st = maps.MediaClear(); !st.ok()) {
      std::cerr << "sipwarden-agent: clearing the adopted media map: " << st.message() << "\n";
    }
  }
  const bool enforce = absl::GetFlag(FLAGS_enforce);
  if (!enforce) std::cerr << "sipwarden-agent: detect only (--enforce=false): no rule blocks or limits\n";
  verdicts.block = [&](const sw::rules::BlockVerdict& v) {
    if (allowlisted(v.prefix, v.rule, "blocked")) return;
    if (!enforce) {
      std::cerr << "sipwarden-agent: would block " << v.prefix.ToString() << " for "
                << capped(v.ttl_ns) << " (" << v.rule << "; detect only)\n";
      return;
    }
    auto reason = sw::ReasonFromName(v.reason);
    auto st = maps.BlockAdd(v.prefix, capped(v.ttl_ns),
                            reason.ok() ? *reason : static_cast<uint32_t>(SW_REASON_ANOMALY));
    std::cerr << "sipwarden-agent: " << (st.ok() ? "blocked " : "could not block ")
              << v.prefix.ToString() << " for " << capped(v.ttl_ns) << " (" << v.rule << ")"
              << (st.ok() ? "" : absl::StrCat(": ", st.message())) << "\n";
    if (st.ok() && controller) {
      // Up to the controller, whose policy may make it fleet-wide.
      sipwarden::v1::AgentReport r;
      auto* b = r.mutable_block();
      b->set_prefix(v.prefix.ToString());
      b->set_reason(std::string(reason.ok() ? sw::ReasonName(*reason) : "anomaly"));
      b->set_rule(v.rule);
      const absl::Duration ttl = capped(v.ttl_ns);
      if (ttl > absl::ZeroDuration()) {
        b->set_expires_unix_ns(absl::ToUnixNanos(absl::Now() + ttl));
      }
      controller->Report(std::move(r));
    }
  };
  verdicts.watch = [&](const sw::rules::WatchVerdict& v) { media.OnWatch(v); };
  verdicts.rate_limit = [&](const sw::rules::RateLimitVerdict& v) {
    if (allowlisted(v.prefix, v.rule, "rate-limited")) return;
    if (!enforce) {
      std::cerr << "sipwarden-agent: would rate-limit " << v.prefix.ToString() << " ("
                << v.rule << "; detect only)\n";
      return;
    }
    const int host_len = v.prefix.addr.is_v4() ? 32 : 128;
    if (v.prefix.length != host_len) {
      std::cerr << "sipwarden-agent: rule " << v.rule << " asked for a rate limit on "
                << v.prefix.ToString() << "; limits apply to single sources only\n";
      return;
    }
    const uint32_t rate = v.rate < 1 ? 1u : v.rate > 1e9 ? 1000000000u : static_cast<uint32_t>(v.rate);
    auto st = maps.SrcLimitSet(v.prefix.addr, rate, v.burst, capped(v.ttl_ns), SW_REASON_FLOOD);
    std::cerr << "sipwarden-agent: "
              << (st.ok() ? "rate-limited " : "could not rate-limit ") << v.prefix.addr.ToString()
              << " to " << rate << "/s for " << capped(v.ttl_ns) << " (" << v.rule << ")"
              << (st.ok() ? "" : absl::StrCat(": ", st.message())) << "\n";
  };
  sw::Correlator correlator(*ruleset, **alarms_out, std::move(verdicts),
                            absl::GetFlag(FLAGS_scripts));
  sw::ev::PipelineSinks sinks;
  sinks.sip = [&](const sw::ev::SipEvent& e) { events.Write(sw::ev::ToJson(e)); };
  sinks.mgcp = [&](const sw::ev::MgcpEvent& e) { events.Write(sw::ev::ToJson(e)); };
  sinks.rtp = [&](const sw::ev::RtpEvent& e) { events.Write(sw::ev::ToJson(e)); };
  sinks.call = [&](const sw::ev::CallRecord& c) { events.Write(sw::ev::ToJson(c)); };
  // At exit the pipeline ends every open call: that is no end of their media,
  // and a watch armed then would outlive this agent.
  bool stopping = false;
  sinks.media_endpoint = [&](const sw::ev::MediaEndpointChange& c) {
    if (!stopping) media.OnEndpoint(c);
  };
  sw::ev::PipelineOptions pipeline_options;
  pipeline_options.mgcp_port = [mgcp = *mgcp_ports](uint16_t p) {
    return std::find(mgcp.begin(), mgcp.end(), p) != mgcp.end();
  };
  sw::ev::Pipeline pipeline(correlator.Tee(std::move(sinks)), pipeline_options);
  sw::ev::Deduper dedup;
  uint64_t alarms_flushed = 0;
  absl::Duration busy;  // time spent parsing and correlating
  auto feed_sip = [&](const sw::ev::Flow& flow, std::string_view bytes) {
    if (dedup.Seen(flow, bytes)) return;
    const absl::Time t0 = absl::Now();
    pipeline.OnSipBytes(flow, bytes);
    busy += absl::Now() - t0;
  };
  uint64_t bad_records = 0;
  uint64_t hep_own_requests = 0;
  // A kernel record's addresses and time as an event flow.
  auto flow_of = [&](const sw::Record& r) {
    sw::ev::Flow f;
    f.ts_ns = static_cast<int64_t>(r.hdr.ts_ns) + boot_to_unix;
    f.src = r.src;
    f.dst = r.dst;
    f.sport = r.hdr.sport;
    f.dport = r.hdr.dport;
    f.transport =
        r.hdr.transport == SW_TRANSPORT_TCP ? sw::ev::Transport::kTcp : sw::ev::Transport::kUdp;
    return f;
  };
  // SIP over TCP: the kernel copies every segment on a SIP port; its
  // messages are framed out of the reassembled streams.
  sw::net::TcpLimits tcp_limits;
  tcp_limits.max_streams = std::max<uint32_t>(1, absl::GetFlag(FLAGS_tcp_max_streams));
  tcp_limits.max_total_bytes = absl::GetFlag(FLAGS_tcp_buffer_bytes);
  tcp_limits.idle_timeout_ns = absl::ToInt64Nanoseconds(absl::GetFlag(FLAGS_tcp_idle_timeout));
  tcp_limits.hole_timeout_ns = absl::ToInt64Nanoseconds(absl::GetFlag(FLAGS_tcp_hole_timeout));
  sw::net::TcpReassembler tcp(tcp_limits);
  int64_t tcp_ts = 0;  // time of the segment (or clock tick) that frames a message
  const sw::net::TcpReassembler::Emit tcp_message = [&](const sw::net::TcpFlowKey& k,
                                                        std::string_view msg) {
    sw::ev::Flow f;
    f.ts_ns = tcp_ts;
    f.src = k.src;
    f.dst = k.dst;
    f.sport = k.sport;
    f.dport = k.dport;
    f.transport = sw::ev::Transport::kTcp;
    feed_sip(f, msg);
  };
  auto reader = sw::RingReader::Create(
      (*dp)->maps().fds().events, [&](std::span<const uint8_t> data) {
        auto rec = sw::DecodeRecord(data);
        if (!rec.ok()) {
          if (bad_records++ < 10) std::cerr << "sipwarden-agent: " << rec.status().message() << "\n";
          return;
        }
        if (records.enabled()) records.Write(sw::RecordToJson(*rec, boot_to_unix));
        if (rec->hdr.kind == SW_REC_MEDIA) {
          sw::ev::RtpEvent e;
          e.flow = flow_of(*rec);
          e.ssrc = rec->media.ssrc;
          e.seq = rec->media.seq;
          e.payload_type = rec->media.payload_type;
          media.Describe(rec->src, rec->hdr.sport, rec->dst, rec->hdr.dport, &e);
          events.Write(sw::ev::ToJson(e));
          correlator.engine().OnRtp(e);
        }
        if (rec->hdr.kind == SW_REC_MGCP) {
          // An MGCP datagram the kernel copied: the same path as offline.
          const sw::ev::Flow f = flow_of(*rec);
          sw::net::AppMessage m;
          m.ts_ns = f.ts_ns;
          m.src = f.src;
          m.dst = f.dst;
          m.sport = f.sport;
          m.dport = f.dport;
          m.transport = IPPROTO_UDP;
          m.payload = rec->payload;
          const absl::Time t0 = absl::Now();
          pipeline.OnMessage(m);
          busy += absl::Now() - t0;
        }
        if (rec->hdr.kind == SW_REC_SIP && rec->hdr.transport == SW_TRANSPORT_TCP) {
          const sw::ev::Flow f = flow_of(*rec);
          const uint32_t rf = rec->hdr.flags;
          const uint8_t tcp_flags = ((rf & SW_RECF_TCP_SYN) ? sw::net::kTcpSyn : 0) |
                                    ((rf & SW_RECF_TCP_FIN) ? sw::net::kTcpFin : 0) |
                                    ((rf & SW_RECF_TCP_RST) ? sw::net::kTcpRst : 0);
          tcp_ts = f.ts_ns;
          tcp.Add({f.src, f.dst, f.sport, f.dport}, f.ts_ns, rec->hdr.tcp_seq, tcp_flags, true,
                  rec->payload, rec->hdr.orig_len, tcp_message);
        } else if (rec->hdr.kind == SW_REC_SIP) {
          feed_sip(flow_of(*rec), rec->payload);
        }
      });
  if (!reader.ok()) {
    std::cerr << "sipwarden-agent: " << reader.status().message() << "\n";
    return 1;
  }

  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  struct sigaction hup = {};
  hup.sa_handler = OnHangup;
  sigaction(SIGHUP, &hup, nullptr);

  const uint64_t stats_every = absl::GetFlag(FLAGS_stats_interval) * 1000000000ull;
  uint64_t next_stats = sw::BootNs() + stats_every;
  uint64_t next_expire = sw::BootNs() + 1000000000ull;
  constexpr uint64_t kCountersEveryNs = 10000000000ull;
  uint64_t next_counters = sw::BootNs() + 1000000000ull;
  int rc = 0;
  while (!g_stop) {
    auto n = (*reader)->Poll(sw::kRingPollMs);
    if (!n.ok()) {
      std::cerr << "sipwarden-agent: " << n.status().message() << "\n";
      rc = 1;
      break;
    }
    correlator.PollScripts();  // scripts that ended: their action lists run now
    const uint64_t now = sw::BootNs();
    int work = *n;
    if (hep) {
      work += hep->Drain([&](const sw::net::HepPacket& p) {
        if (p.proto_type != static_cast<uint8_t>(sw::net::HepProto::kSip)) return;
        // Requests this host sent are relays of requests it received (and
        // the kernel saw); its own responses (401, 407, 404...) are news.
        if (host.Contains(p.src) && !p.payload.starts_with("SIP/")) {
          ++hep_own_requests;
          return;
        }
        sw::ev::Flow flow;
        flow.ts_ns = p.ts_ns;
        flow.src = p.src;
        flow.dst = p.dst;
        flow.sport = p.sport;
        flow.dport = p.dport;
        flow.transport = sw::ev::Transport::kHep;
        feed_sip(flow, p.payload);
      });
    }
    if (metrics) {
      metrics->Poll([&] {
        sw::PromText t;
        if (auto st = maps.ReadStats(); st.ok()) sw::AddKernelStats(*st, t);
        for (const auto& [category, n] : correlator.alarms_by_category()) {
          t.Counter("sipwarden_alarms_total", "Alarms raised, by category",
                    static_cast<double>(n), {{"category", category}});
        }
        const auto& es = correlator.engine().stats();
        t.Counter("sipwarden_engine_events_total", "Events the rule engine has seen",
                  static_cast<double>(es.events));
        t.Counter("sipwarden_engine_blocks_total", "Block verdicts of rules",
                  static_cast<double>(es.blocks));
        t.Counter("sipwarden_engine_rate_limits_total", "Rate-limit verdicts of rules",
                  static_cast<double>(es.rate_limits));
        t.Counter("sipwarden_engine_watches_total", "Media-watch verdicts of rules",
                  static_cast<double>(es.watches));
        t.Counter("sipwarden_engine_evictions_total", "Rule state dropped for space",
                  static_cast<double>(es.operations_evicted + es.contexts_evicted +
                                      es.alarm_states_evicted));
        for (const auto& r : correlator.engine().rule_stats()) {
          t.Counter("sipwarden_rule_matched_total", "Events that matched a rule",
                    static_cast<double>(r.matched), {{"rule", r.name}});
          t.Counter("sipwarden_rule_fired_total", "Action lists a rule ran",
                    static_cast<double>(r.fired), {{"rule", r.name}});
          t.Gauge("sipwarden_rule_open_operations", "Operations a rule has open",
                  static_cast<double>(r.open), {{"rule", r.name}});
          t.Counter("sipwarden_rule_seconds_total",
                    "Time spent in a rule (matching and actions; sampled 1 event in 61)",
                    static_cast<double>(r.time_ns) / 1e9, {{"rule", r.name}});
        }
        t.Counter("sipwarden_correlation_seconds_total",
                  "Time spent parsing and correlating SIP messages",
                  absl::ToDoubleSeconds(busy));
        const auto& ps = pipeline.stats();
        t.Counter("sipwarden_sip_messages_total", "SIP messages parsed", static_cast<double>(ps.sip));
        t.Counter("sipwarden_sip_rejected_total", "SIP messages the parser refused",
                  static_cast<double>(ps.sip_rejected));
        t.Gauge("sipwarden_media_endpoints", "Media endpoints mirrored into the kernel",
                static_cast<double>(media.tracked()));
        t.Counter("sipwarden_media_map_errors_total", "Kernel media map updates refused",
                  static_cast<double>(media.stats().map_errors));
        const auto& ts = tcp.stats();
        t.Gauge("sipwarden_tcp_streams", "SIP-over-TCP connection directions being reassembled",
                static_cast<double>(tcp.streams()));
        t.Gauge("sipwarden_tcp_buffered_bytes", "Bytes held by SIP-over-TCP reassembly",
                static_cast<double>(tcp.buffered_bytes()));
        t.Counter("sipwarden_tcp_segments_total", "TCP segments reassembled",
                  static_cast<double>(ts.segments));
        t.Counter("sipwarden_tcp_messages_total", "SIP messages framed out of TCP streams",
                  static_cast<double>(ts.messages));
        t.Counter("sipwarden_tcp_retransmissions_total", "TCP segments whose bytes were seen",
                  static_cast<double>(ts.retransmissions));
        t.Counter("sipwarden_tcp_out_of_order_total", "TCP segments ahead of a hole",
                  static_cast<double>(ts.out_of_order));
        t.Counter("sipwarden_tcp_gaps_total",
                  "TCP stream holes skipped (segments lost or cut by the snap length)",
                  static_cast<double>(ts.gaps));
        t.Counter("sipwarden_tcp_streams_evicted_total", "TCP streams dropped for space",
                  static_cast<double>(ts.streams_evicted));
        t.Counter("sipwarden_tcp_streams_expired_total", "TCP streams forgotten when idle",
                  static_cast<double>(ts.streams_expired));
        t.Counter("sipwarden_tcp_framing_errors_total",
                  "TCP streams with a bad Content-Length or an oversized message",
                  static_cast<double>(ts.framing_errors));
        t.Counter("sipwarden_bad_records_total", "Ring-buffer records that did not decode",
                  static_cast<double>(bad_records));
        t.Counter("sipwarden_hep_duplicates_total", "SIP messages seen twice (kernel and HEP)",
                  static_cast<double>(dedup.duplicates()));
        if (hep) {
          t.Counter("sipwarden_hep_received_total", "HEP datagrams received",
                    static_cast<double>(hep->received()));
          t.Counter("sipwarden_hep_bad_total", "HEP datagrams that did not decode",
                    static_cast<double>(hep->bad()));
          t.Counter("sipwarden_hep_own_requests_total",
                    "Requests this host sent, left out of the HEP feed",
                    static_cast<double>(hep_own_requests));
        }
        if (controller) {
          const auto cs = controller->stats();
          const auto fs = fleet->stats();
          t.Gauge("sipwarden_controller_connected", "1 while connected to a controller",
                  cs.connected ? 1 : 0);
          t.Gauge("sipwarden_controller_decision_version", "Last fleet decision version applied",
                  static_cast<double>(cs.decision_version));
          t.Counter("sipwarden_controller_connects_total", "Registrations with a controller",
                    static_cast<double>(cs.connects));
          t.Counter("sipwarden_controller_connect_failures_total",
                    "Failed attempts to reach a controller", static_cast<double>(cs.connect_failures));
          t.Gauge("sipwarden_controller_reports_buffered", "Reports waiting for the controller",
                  static_cast<double>(cs.reports_buffered));
          t.Gauge("sipwarden_controller_reports_spooled", "Reports waiting on disk (the spool)",
                  static_cast<double>(cs.reports_spooled));
          t.Counter("sipwarden_controller_reports_acked_total", "Reports the controller stored",
                    static_cast<double>(cs.reports_acked));
          t.Counter("sipwarden_controller_reports_dropped_total",
                    "Reports lost: the buffer was full while the controller was away",
                    static_cast<double>(cs.reports_dropped));
          t.Gauge("sipwarden_fleet_blocks", "Blocks installed from the controller",
                  static_cast<double>(fs.blocks));
          t.Gauge("sipwarden_fleet_allows", "Allows installed from the controller",
                  static_cast<double>(fs.allows));
          t.Counter("sipwarden_fleet_map_errors_total", "Fleet decisions the kernel maps refused",
                    static_cast<double>(fs.errors));
        }
        t.Counter("sipwarden_metrics_scrapes_total", "Scrapes answered",
                  static_cast<double>(metrics->scrapes()));
        return t.Take();
      });
    }
    if (g_reload.exchange(false)) {
      std::vector<sw::rules::ConfigError> errors;
      auto fresh = sw::LoadAgentRules(rules_path, &errors, absl::GetFlag(FLAGS_scripts));
      if (fresh.ok()) {
        correlator.engine().Reload(*fresh);
        std::cerr << "sipwarden-agent: rules reloaded (" << correlator.engine().stats().rules_kept
                  << " kept their state)\n";
      } else {
        for (const auto& e : errors) std::cerr << e.ToString() << "\n";
        std::cerr << "sipwarden-agent: rules not reloaded, the old ones stay: "
                  << fresh.status().message() << "\n";
      }
    }
    tcp_ts = static_cast<int64_t>(now) + boot_to_unix;
    tcp.Expire(tcp_ts, tcp_message);
    pipeline.Advance(static_cast<int64_t>(now) + boot_to_unix);
    correlator.Advance(static_cast<int64_t>(now) + boot_to_unix);
    if (work > 0 || correlator.alarms() != alarms_flushed) {
      // Timers may raise alarms without new input: flush those too.
      alarms_flushed = correlator.alarms();
      records.Flush();
      events.Flush();
      (**alarms_out).Flush();
    }
    if (now >= next_expire) {
      // The kernel drops expired entries when they are hit; this catches the rest.
      (void)maps.BlockExpire();
      (void)maps.SrcLimitExpire();
      next_expire = now + 1000000000ull;
    }
    media.Expire(now);
    host.MaybeRefresh(now);
    if (stats_every && now >= next_stats) {
      PrintStats((*dp)->maps());
      next_stats = now + stats_every;
    }
    if (controller && now >= next_counters) {
      // The kernel's counters, for the controller's fleet view.
      next_counters = now + kCountersEveryNs;
      if (auto st = maps.ReadStats(); st.ok()) {
        sipwarden::v1::AgentReport r;
        auto& values = *r.mutable_counters()->mutable_values();
#define SW_COUNTER(name) values[#name] = static_cast<double>(st->name);
        SW_STATS_FIELDS(SW_COUNTER)
#undef SW_COUNTER
        values["alarms"] = static_cast<double>(correlator.alarms());
        controller->Report(std::move(r));
      }
    }
  }
  (void)(*reader)->Drain();
  stopping = true;
  pipeline.Flush();
  records.Flush();
  events.Flush();
  (**alarms_out).Flush();
  std::cerr << "sipwarden-agent: " << correlator.Summary() << "\n";
  if (controller) {
    // Reports still buffered get up to 2 s to reach a connected controller.
    const absl::Time until = absl::Now() + absl::Seconds(2);
    while (absl::Now() < until && controller->stats().connected &&
           controller->stats().reports_buffered > 0) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    const auto cs = controller->stats();
    controller->Stop();
    std::cerr << "sipwarden-agent: controller: " << cs.reports_acked << " reports delivered, "
              << cs.reports_buffered << " undelivered, " << cs.reports_dropped
              << " dropped (buffer full); decision version " << cs.decision_version << "\n";
  }

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
  // --config FILE: the file's settings become flags, those on the command
  // line override them.
  auto expanded = sw::ExpandConfig(std::vector<std::string>(argv, argv + argc));
  if (!expanded.ok()) {
    std::cerr << "sipwarden-agent: " << expanded.status().message() << "\n";
    return 2;
  }
  std::vector<char*> args;
  for (std::string& a : *expanded) args.push_back(a.data());
  sw::NormalizedArgs normalized(static_cast<int>(args.size()), args.data());
  absl::ParseCommandLine(normalized.argc(), normalized.argv());
  if (absl::GetFlag(FLAGS_version)) {
    std::cout << "sipwarden-agent " << SW_VERSION << "\n";
    return 0;
  }
  return Run();
}
