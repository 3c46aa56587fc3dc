// SPDX-License-Identifier: BSD-2-Clause
// The live agent without its kernel attachment: what sipwarden-agent does with
// the records the XDP program hands up and with HEP mirrors, from parsing to
// verdicts in the maps. It owns the event pipeline, SIP-over-TCP reassembly,
// the rule engine, the verdict policy (allowlist and this host's addresses
// win, TTL cap, detect-only), the media mirror, the controller client and the
// fleet decisions, and assembles the Prometheus metrics. main.cc loads and
// attaches the data plane and runs the loop: poll the ring buffer, hand each
// record to OnRecord, call Tick. Tests hand it records directly, over maps of
// a loaded but unattached program.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "controller_client.h"
#include "correlate.h"
#include "fleet_decisions.h"
#include "host_addrs.h"
#include "kamailio_graylist.h"
#include "maps.h"
#include "media_mirror.h"
#include "metrics.h"
#include "outputs.h"
#include "sipwarden/sip_methods.h"
#include "sipwarden/events/dedup.h"
#include "sipwarden/events/pipeline.h"
#include "sipwarden/net/hep.h"
#include "sipwarden/net/tcp_stream.h"
#include "sipwarden/record.h"

namespace sw {

struct LiveAgentOptions {
  std::string rules_path;  // empty: the embedded rules/default.yaml
  bool scripts = true;     // rules may run scripts
  bool enforce = true;     // false: verdicts are logged, not applied
  absl::Duration max_block_ttl = absl::ZeroDuration();  // 0: rules' TTLs as they are
  std::vector<uint16_t> mgcp_ports;
  net::TcpLimits tcp;
  // CLOCK_BOOTTIME (record times) to Unix time.
  int64_t boot_to_unix_ns = 0;
  // The maps were adopted from an earlier agent: its media entries belong to
  // calls this one never saw and are cleared.
  bool adopted_maps = false;
  // Follow a controller (its addresses non-empty).
  std::optional<ControllerClientOptions> controller;
  // With a controller: push its graylists into the local Kamailio's htable
  // (deflection to the honeypot, packaging/kamailio/deflect.cfg).
  std::optional<KamailioGraylistOptions> kamailio;
  // Progress and verdict lines on stderr.
  bool log = true;
  // HEP mirrors come in beside the kernel's copies: a message seen on both
  // feeds is dropped the second time. Without them there is nothing to
  // deduplicate (identical packets of one feed all count), so nothing is
  // remembered; the first HEP packet turns it on regardless.
  bool hep_feed = false;
  // Per-account profiles (ProfileWatch::Open), or none; written back to
  // their directory at Shutdown and every profiles_save_every (0: at
  // Shutdown only).
  std::shared_ptr<ProfileWatch> profiles;
  absl::Duration profiles_save_every = absl::Hours(6);
};

// Where the agent writes JSON lines; each may be disabled (Open("")).
struct LiveAgentOutputs {
  JsonLinesOut* records = nullptr;
  JsonLinesOut* events = nullptr;
  JsonLinesOut* alarms = nullptr;
};

class LiveAgent {
 public:
  static absl::StatusOr<std::unique_ptr<LiveAgent>> Create(
      Maps& maps, std::shared_ptr<const rules::RuleSet> rules, LiveAgentOptions options,
      LiveAgentOutputs outputs);
  ~LiveAgent();
  LiveAgent(const LiveAgent&) = delete;
  LiveAgent& operator=(const LiveAgent&) = delete;

  // Starts the controller client (after the spool is read back).
  void Start();
  // One ring-buffer record as the kernel wrote it.
  void OnRecord(std::span<const uint8_t> data);
  // One HEP datagram's payload (SIP only; others are ignored).
  void OnHep(const net::HepPacket& p);
  // Timers, expiry, flushing, counters for the controller; input_seen: the
  // loop had input since the last tick. boot_now_ns: CLOCK_BOOTTIME.
  void Tick(uint64_t boot_now_ns, bool input_seen);
  // Scripts that ended hand their results to the engine.
  void PollScripts() { correlator_->PollScripts(); }
  // Loads the rule file again (SIGHUP); the old rules stay on an error.
  absl::Status ReloadRules();
  // Every metric of the agent (the kernel's counters included).
  void AddMetrics(PromText& t);
  // End of input: ends calls, flushes the outputs, gives buffered reports up
  // to flush_timeout to reach a connected controller, stops the client.
  void Shutdown(absl::Duration flush_timeout = absl::Seconds(2));

  Correlator& correlator() { return *correlator_; }
  ControllerClient* controller() { return controller_.get(); }
  const FleetDecisions* fleet() const { return fleet_.get(); }
  const KamailioGraylist* kamailio() const { return kamailio_.get(); }
  // Fleet media watches armed so far, and packets reported for them.
  uint64_t fleet_watches_armed() const { return fleet_watches_armed_; }
  // SIP messages parsed, by method bucket (the parser's refusals are not in it).
  const SipMethodCounts& sip_methods() const { return sip_methods_; }
  uint64_t fleet_watch_reports() const { return fleet_watch_reports_; }

 private:
  LiveAgent(Maps& maps, LiveAgentOptions options, LiveAgentOutputs outputs);
  void Init(std::shared_ptr<const rules::RuleSet> rules);
  VerdictSinks MakeVerdicts();
  // Whether the policy keeps p from being blocked or limited (what: "blocked").
  bool Spared(const IpPrefix& p, const std::string& rule, const char* what);
  absl::Duration Capped(int64_t ttl_ns) const;
  void OnBlock(const rules::BlockVerdict& v);
  // Writes the profiles back to their directory (a failure is logged and counted).
  void SaveProfiles();
  void OnRateLimit(const rules::RateLimitVerdict& v);
  void FeedSip(const ev::Flow& flow, std::string_view bytes);
  ev::Flow FlowOf(const Record& r) const;
  void ReportCounters();
  // Media watches from the controller: queued by the client's thread,
  // armed by the loop once their start (a grace) has come.
  void QueueWatches(const sipwarden::v1::DecisionBatch& b);
  void ArmDueWatches(uint64_t boot_now_ns);
  // Reports media that reached an endpoint the fleet watches.
  void ReportWatchedMedia(const ev::RtpEvent& e);

  Maps& maps_;
  LiveAgentOptions options_;
  LiveAgentOutputs out_;
  std::unique_ptr<JsonLinesOut> disabled_;  // stands in for outputs not given
  HostAddresses host_;
  std::unique_ptr<FleetDecisions> fleet_;
  std::unique_ptr<KamailioGraylist> kamailio_;  // before controller_: outlives its calls
  std::unique_ptr<ControllerClient> controller_;
  MediaMirror media_;
  std::unique_ptr<Correlator> correlator_;
  std::unique_ptr<ev::Pipeline> pipeline_;
  ev::Deduper dedup_;
  net::TcpReassembler tcp_;
  net::TcpReassembler::Emit tcp_message_;
  int64_t tcp_ts_ = 0;  // time of the segment (or clock tick) that frames a message
  bool stopping_ = false;
  uint64_t alarms_flushed_ = 0;
  absl::Duration busy_;  // time spent parsing and correlating
  uint64_t bad_records_ = 0;
  SipMethodCounts sip_methods_;
  uint64_t hep_own_requests_ = 0;
  uint64_t next_expire_ns_ = 0;
  uint64_t next_counters_ns_ = 0;
  uint64_t next_profiles_save_ns_ = 0;
  uint64_t profile_save_errors_ = 0;
  struct FleetWatch {
    std::vector<rules::MediaEndpoint> endpoints;
    std::string rule, owner;
    uint64_t starts_ns = 0, expires_ns = 0;  // CLOCK_BOOTTIME
  };
  std::mutex watch_mu_;
  std::vector<FleetWatch> watches_pending_;  // guarded by watch_mu_
  // Armed fleet watches by endpoint (the loop's thread only).
  std::map<std::pair<IpAddress, uint16_t>, FleetWatch> watches_armed_;
  uint64_t fleet_watches_armed_ = 0, fleet_watch_reports_ = 0;
};

}  // namespace sw
