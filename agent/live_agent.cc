// SPDX-License-Identifier: BSD-2-Clause
#include "live_agent.h"

#include <netinet/in.h>

#include <algorithm>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "sipwarden/absl_compat.h"

namespace sw {

namespace v1 = sipwarden::v1;

namespace {
constexpr uint64_t kSecondNs = 1000000000ull;
constexpr uint64_t kCountersEveryNs = 10 * kSecondNs;
}  // namespace

absl::StatusOr<std::unique_ptr<LiveAgent>> LiveAgent::Create(
    Maps& maps, std::shared_ptr<const rules::RuleSet> rules, LiveAgentOptions options,
    LiveAgentOutputs outputs) {
  if (!rules) return absl::InvalidArgumentError("the live agent needs a ruleset");
  std::unique_ptr<LiveAgent> agent(new LiveAgent(maps, std::move(options), outputs));
  auto disabled = JsonLinesOut::Open("");
  if (!disabled.ok()) return disabled.status();
  agent->disabled_ = std::move(*disabled);
  for (JsonLinesOut** o : {&agent->out_.records, &agent->out_.events, &agent->out_.alarms}) {
    if (*o == nullptr) *o = agent->disabled_.get();
  }
  if (agent->options_.kamailio) {
    if (!agent->options_.controller || agent->options_.controller->addresses.empty()) {
      return absl::InvalidArgumentError(
          "pushing graylists into Kamailio needs a controller: they are the fleet's");
    }
    auto k = KamailioGraylist::Create(*agent->options_.kamailio);
    if (!k.ok()) return k.status();
    agent->kamailio_ = std::move(*k);
  }
  agent->Init(std::move(rules));
  return agent;
}

LiveAgent::LiveAgent(Maps& maps, LiveAgentOptions options, LiveAgentOutputs outputs)
    : maps_(maps), options_(std::move(options)), out_(outputs), media_(maps),
      tcp_(options_.tcp) {}

LiveAgent::~LiveAgent() = default;

void LiveAgent::Init(std::shared_ptr<const rules::RuleSet> rules) {
  if (auto st = host_.Refresh(); !st.ok() && options_.log) {
    std::cerr << "sipwarden-agent: this host's addresses: " << st.message() << "\n";
  }
  if (options_.controller && !options_.controller->addresses.empty()) {
    fleet_ = std::make_unique<FleetDecisions>(maps_);
    fleet_->SetSpare([this](const IpPrefix& p) { return host_.Overlaps(p); });
    if (kamailio_) fleet_->SetGraylistObserver(kamailio_.get());
    controller_ = std::make_unique<ControllerClient>(
        *options_.controller, [this](const v1::DecisionBatch& b) {
          fleet_->Apply(b);
          if (b.media_watches_size() > 0) QueueWatches(b);
        });
    if (auto st = controller_->OpenSpool(); !st.ok()) {
      if (options_.log) std::cerr << "sipwarden-agent: " << st.message() << " (reports kept in memory only)\n";
    } else if (const auto cs = controller_->stats(); cs.reports_buffered > 0 && options_.log) {
      std::cerr << "sipwarden-agent: " << cs.reports_buffered
                << " reports from an earlier run wait for the controller\n";
    }
  }
  if (options_.adopted_maps) {
    if (auto st = maps_.MediaClear(); !st.ok() && options_.log) {
      std::cerr << "sipwarden-agent: clearing the adopted media map: " << st.message() << "\n";
    }
  }
  if (!options_.enforce && options_.log) {
    std::cerr << "sipwarden-agent: detect only (--enforce=false): no rule blocks or limits\n";
  }
  correlator_ = std::make_unique<Correlator>(std::move(rules), *out_.alarms, MakeVerdicts(),
                                             options_.scripts);
  if (options_.profiles) correlator_->AttachProfiles(std::move(options_.profiles));
  ev::PipelineSinks sinks;
  sinks.sip = [this](const ev::SipEvent& e) {
    if (!e.malformed()) sip_methods_.Count(e.is_request, e.method);
    out_.events->WriteJson(e);
  };
  sinks.mgcp = [this](const ev::MgcpEvent& e) { out_.events->WriteJson(e); };
  sinks.rtp = [this](const ev::RtpEvent& e) { out_.events->WriteJson(e); };
  sinks.call = [this](const ev::CallRecord& c) { out_.events->WriteJson(c); };
  // At exit the pipeline ends every open call: that is no end of their media,
  // and a watch armed then would outlive this agent.
  sinks.media_endpoint = [this](const ev::MediaEndpointChange& c) {
    if (!stopping_) media_.OnEndpoint(c);
  };
  ev::PipelineOptions po;
  po.mgcp_port = [mgcp = options_.mgcp_ports](uint16_t p) {
    return std::find(mgcp.begin(), mgcp.end(), p) != mgcp.end();
  };
  pipeline_ = std::make_unique<ev::Pipeline>(correlator_->Tee(std::move(sinks)), po);
  tcp_message_ = [this](const net::TcpFlowKey& k, std::string_view msg) {
    ev::Flow f;
    f.ts_ns = tcp_ts_;
    f.src = k.src;
    f.dst = k.dst;
    f.sport = k.sport;
    f.dport = k.dport;
    f.transport = ev::Transport::kTcp;
    FeedSip(f, msg);
  };
  const uint64_t now = BootNs();
  next_expire_ns_ = now + kSecondNs;
  next_counters_ns_ = now + kSecondNs;
}

void LiveAgent::Start() {
  if (!controller_) return;
  if (kamailio_) {
    kamailio_->Start();
    if (options_.log) {
      std::cerr << "sipwarden-agent: pushing the fleet's graylists into Kamailio's htable '"
                << options_.kamailio->table << "' through " << options_.kamailio->socket_path
                << "\n";
    }
  }
  controller_->Start();
  if (options_.log) {
    std::cerr << "sipwarden-agent: following the controller at "
              << absl::StrJoin(options_.controller->addresses, ",") << " as "
              << options_.controller->name << "\n";
  }
}

absl::Duration LiveAgent::Capped(int64_t ttl_ns) const {
  absl::Duration ttl = absl::Nanoseconds(ttl_ns);
  const absl::Duration max_ttl = options_.max_block_ttl;
  if (max_ttl > absl::ZeroDuration() && (ttl == absl::ZeroDuration() || ttl > max_ttl)) {
    ttl = max_ttl;
  }
  return ttl;
}

bool LiveAgent::Spared(const IpPrefix& p, const std::string& rule, const char* what) {
  if (host_.Overlaps(p)) {
    if (options_.log) {
      std::cerr << "sipwarden-agent: rule " << rule << " wanted " << p.ToString() << " " << what
                << "; it covers an address of this host\n";
    }
    return true;
  }
  auto allowed = maps_.IsAllowed(p.addr);
  if (!allowed.ok() || !*allowed) return false;
  if (options_.log) {
    std::cerr << "sipwarden-agent: rule " << rule << " wanted " << p.ToString() << " " << what
              << "; it is allowlisted\n";
  }
  return true;
}

VerdictSinks LiveAgent::MakeVerdicts() {
  VerdictSinks v;
  v.alarm = [this](const rules::Alarm& a, const std::string& json) {
    if (!controller_) return;
    v1::AgentReport r;
    auto* al = r.mutable_alarm();
    al->set_json(json);
    al->set_rule(a.rule);
    al->set_category(a.category);
    al->set_severity(a.severity);
    al->set_signature(a.signature);
    if (a.has_flow) al->set_src_ip(a.src.ToString());
    al->set_ts_unix_ns(a.ts_ns);
    controller_->Report(std::move(r));
  };
  // What the controller's central rules asked for, and nothing else: the
  // engine does not make the others when no local rule reads them either.
  v.synthetic_wanted = [this](std::string_view name) {
    return controller_ && controller_->Forwards(name);
  };
  v.synthetic = [this](const rules::SyntheticEvent& e) {
    if (!controller_ || !controller_->Forwards(e.name)) return;
    v1::AgentReport r;
    *r.mutable_event() = ToForwarded(e);
    controller_->Report(std::move(r));
  };
  v.block = [this](const rules::BlockVerdict& b) { OnBlock(b); };
  v.watch = [this](const rules::WatchVerdict& w) { media_.OnWatch(w); };
  v.rate_limit = [this](const rules::RateLimitVerdict& l) { OnRateLimit(l); };
  return v;
}

void LiveAgent::OnBlock(const rules::BlockVerdict& v) {
  if (Spared(v.prefix, v.rule, "blocked")) return;
  const absl::Duration ttl = Capped(v.ttl_ns);
  if (!options_.enforce) {
    if (options_.log) {
      std::cerr << "sipwarden-agent: would block " << v.prefix.ToString() << " for " << ttl << " ("
                << v.rule << "; detect only)\n";
    }
    return;
  }
  auto reason = ReasonFromName(v.reason);
  auto st = maps_.BlockAdd(v.prefix, ttl,
                           reason.ok() ? *reason : static_cast<uint32_t>(SW_REASON_ANOMALY));
  if (options_.log) {
    std::cerr << "sipwarden-agent: " << (st.ok() ? "blocked " : "could not block ")
              << v.prefix.ToString() << " for " << ttl << " (" << v.rule << ")"
              << (st.ok() ? "" : absl::StrCat(": ", st.message())) << "\n";
  }
  if (st.ok() && controller_) {
    // Up to the controller, whose policy may make it fleet-wide.
    v1::AgentReport r;
    auto* b = r.mutable_block();
    b->set_prefix(v.prefix.ToString());
    b->set_reason(std::string(reason.ok() ? ReasonName(*reason) : "anomaly"));
    b->set_rule(v.rule);
    if (ttl > absl::ZeroDuration()) b->set_expires_unix_ns(absl::ToUnixNanos(absl::Now() + ttl));
    controller_->Report(std::move(r));
  }
}

void LiveAgent::OnRateLimit(const rules::RateLimitVerdict& v) {
  if (Spared(v.prefix, v.rule, "rate-limited")) return;
  if (!options_.enforce) {
    if (options_.log) {
      std::cerr << "sipwarden-agent: would rate-limit " << v.prefix.ToString() << " (" << v.rule
                << "; detect only)\n";
    }
    return;
  }
  const int host_len = v.prefix.addr.is_v4() ? 32 : 128;
  if (v.prefix.length != host_len) {
    if (options_.log) {
      std::cerr << "sipwarden-agent: rule " << v.rule << " asked for a rate limit on "
                << v.prefix.ToString() << "; limits apply to single sources only\n";
    }
    return;
  }
  const uint32_t rate =
      v.rate < 1 ? 1u : v.rate > 1e9 ? 1000000000u : static_cast<uint32_t>(v.rate);
  const absl::Duration ttl = Capped(v.ttl_ns);
  auto st = maps_.SrcLimitSet(v.prefix.addr, rate, v.burst, ttl, SW_REASON_FLOOD);
  if (options_.log) {
    std::cerr << "sipwarden-agent: " << (st.ok() ? "rate-limited " : "could not rate-limit ")
              << v.prefix.addr.ToString() << " to " << rate << "/s for " << ttl << " (" << v.rule
              << ")" << (st.ok() ? "" : absl::StrCat(": ", st.message())) << "\n";
  }
}

void LiveAgent::FeedSip(const ev::Flow& flow, std::string_view bytes) {
  if (options_.hep_feed && dedup_.Seen(flow, bytes)) return;
  const absl::Time t0 = absl::Now();
  pipeline_->OnSipBytes(flow, bytes);
  busy_ += absl::Now() - t0;
}

ev::Flow LiveAgent::FlowOf(const Record& r) const {
  ev::Flow f;
  f.ts_ns = static_cast<int64_t>(r.hdr.ts_ns) + options_.boot_to_unix_ns;
  f.src = r.src;
  f.dst = r.dst;
  f.sport = r.hdr.sport;
  f.dport = r.hdr.dport;
  f.transport = r.hdr.transport == SW_TRANSPORT_TCP ? ev::Transport::kTcp : ev::Transport::kUdp;
  return f;
}

void LiveAgent::OnRecord(std::span<const uint8_t> data) {
  auto rec = DecodeRecord(data);
  if (!rec.ok()) {
    if (bad_records_++ < 10 && options_.log) {
      std::cerr << "sipwarden-agent: " << rec.status().message() << "\n";
    }
    return;
  }
  if (out_.records->enabled()) {
    out_.records->Write(RecordToJson(*rec, options_.boot_to_unix_ns));
  }
  switch (rec->hdr.kind) {
    case SW_REC_MEDIA: {
      ev::RtpEvent e;
      e.flow = FlowOf(*rec);
      e.ssrc = rec->media.ssrc;
      e.seq = rec->media.seq;
      e.payload_type = rec->media.payload_type;
      media_.Describe(rec->src, rec->hdr.sport, rec->dst, rec->hdr.dport, &e);
      out_.events->WriteJson(e);
      correlator_->engine().OnRtp(e);
      if (!watches_armed_.empty()) ReportWatchedMedia(e);
      break;
    }
    case SW_REC_MGCP: {
      // An MGCP datagram the kernel copied: the same path as offline.
      const ev::Flow f = FlowOf(*rec);
      net::AppMessage m;
      m.ts_ns = f.ts_ns;
      m.src = f.src;
      m.dst = f.dst;
      m.sport = f.sport;
      m.dport = f.dport;
      m.transport = IPPROTO_UDP;
      m.payload = rec->payload;
      const absl::Time t0 = absl::Now();
      pipeline_->OnMessage(m);
      busy_ += absl::Now() - t0;
      break;
    }
    case SW_REC_SIP: {
      const ev::Flow f = FlowOf(*rec);
      if (rec->hdr.transport != SW_TRANSPORT_TCP) {
        FeedSip(f, rec->payload);
        break;
      }
      // SIP over TCP: the kernel copies every segment on a SIP port; its
      // messages are framed out of the reassembled streams.
      const uint32_t rf = rec->hdr.flags;
      const uint8_t tcp_flags = ((rf & SW_RECF_TCP_SYN) ? net::kTcpSyn : 0) |
                                ((rf & SW_RECF_TCP_FIN) ? net::kTcpFin : 0) |
                                ((rf & SW_RECF_TCP_RST) ? net::kTcpRst : 0);
      tcp_ts_ = f.ts_ns;
      tcp_.Add({f.src, f.dst, f.sport, f.dport}, f.ts_ns, rec->hdr.tcp_seq, tcp_flags, true,
               rec->payload, rec->hdr.orig_len, tcp_message_);
      break;
    }
    default:
      break;
  }
}

void LiveAgent::OnHep(const net::HepPacket& p) {
  options_.hep_feed = true;
  if (p.proto_type != static_cast<uint8_t>(net::HepProto::kSip)) return;
  // Requests this host sent are relays of requests it received (and the
  // kernel saw); its own responses (401, 407, 404...) are news.
  if (host_.Contains(p.src) && !p.payload.starts_with("SIP/")) {
    ++hep_own_requests_;
    return;
  }
  ev::Flow flow;
  flow.ts_ns = p.ts_ns;
  flow.src = p.src;
  flow.dst = p.dst;
  flow.sport = p.sport;
  flow.dport = p.dport;
  flow.transport = ev::Transport::kHep;
  FeedSip(flow, p.payload);
}

void LiveAgent::Tick(uint64_t now, bool input_seen) {
  const int64_t unix_now = static_cast<int64_t>(now) + options_.boot_to_unix_ns;
  tcp_ts_ = unix_now;
  tcp_.Expire(unix_now, tcp_message_);
  pipeline_->Advance(unix_now);
  correlator_->Advance(unix_now);
  if (input_seen || correlator_->alarms() != alarms_flushed_) {
    // Timers may raise alarms without new input: flush those too.
    alarms_flushed_ = correlator_->alarms();
    out_.records->Flush();
    out_.events->Flush();
    out_.alarms->Flush();
  }
  if (now >= next_expire_ns_) {
    // The kernel drops expired entries when they are hit; this catches the rest.
    (void)maps_.BlockExpire();
    (void)maps_.SrcLimitExpire();
    next_expire_ns_ = now + kSecondNs;
  }
  ArmDueWatches(now);
  media_.Expire(now);
  host_.MaybeRefresh(now);
  if (controller_ && now >= next_counters_ns_) {
    next_counters_ns_ = now + kCountersEveryNs;
    ReportCounters();
  }
  if (correlator_->profiles() && options_.profiles_save_every > absl::ZeroDuration()) {
    const uint64_t every = absl::ToInt64Nanoseconds(options_.profiles_save_every);
    if (next_profiles_save_ns_ == 0) next_profiles_save_ns_ = now + every;
    if (now >= next_profiles_save_ns_) {
      next_profiles_save_ns_ = now + every;
      SaveProfiles();
    }
  }
}

void LiveAgent::SaveProfiles() {
  ProfileWatch* p = correlator_->profiles();
  if (!p) return;
  const absl::Time t0 = absl::Now();
  if (auto st = p->Save(); !st.ok()) {
    ++profile_save_errors_;
    if (options_.log) std::cerr << "sipwarden-agent: saving the profiles: " << st.message() << "\n";
    return;
  }
  if (options_.log) {
    const ProfileWatchStats ps = p->stats();
    std::cerr << "sipwarden-agent: " << ps.profiles << " profiles written to " << p->dir() << " in "
              << absl::ToInt64Milliseconds(absl::Now() - t0) << " ms (" << ps.learning
              << " accounts still learning are not)\n";
  }
}

void LiveAgent::QueueWatches(const v1::DecisionBatch& b) {
  const int64_t off = options_.boot_to_unix_ns;
  auto boot = [off](int64_t unix_ns) { return unix_ns > off ? static_cast<uint64_t>(unix_ns - off) : 0; };
  std::lock_guard<std::mutex> lock(watch_mu_);
  for (const auto& mw : b.media_watches()) {
    FleetWatch w;
    for (const auto& text : mw.endpoints()) {
      rules::MediaEndpoint ep;
      if (ParseEndpoint(text, &ep.addr, &ep.port)) w.endpoints.push_back(ep);
    }
    if (w.endpoints.empty() || watches_pending_.size() >= 10000) continue;
    w.rule = mw.rule();
    w.owner = mw.owner();
    w.starts_ns = boot(mw.starts_unix_ns());
    w.expires_ns = boot(mw.expires_unix_ns());
    watches_pending_.push_back(std::move(w));
  }
}

void LiveAgent::ArmDueWatches(uint64_t now) {
  std::erase_if(watches_armed_, [now](const auto& e) { return e.second.expires_ns <= now; });
  std::vector<FleetWatch> due;
  {
    std::lock_guard<std::mutex> lock(watch_mu_);
    if (watches_pending_.empty()) return;
    for (auto it = watches_pending_.begin(); it != watches_pending_.end();) {
      if (it->starts_ns <= now) {
        due.push_back(std::move(*it));
        it = watches_pending_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& w : due) {
    if (w.expires_ns <= now) continue;  // it ran out while the agent was away
    rules::WatchVerdict v;
    v.call_id = w.owner;
    v.endpoints = w.endpoints;
    v.ttl_ns = static_cast<int64_t>(w.expires_ns - now);
    v.rule = w.rule;
    media_.OnWatch(v);
    ++fleet_watches_armed_;
    for (const auto& ep : w.endpoints) watches_armed_[{ep.addr, ep.port}] = w;
    if (options_.log) {
      std::cerr << "sipwarden-agent: watching media to " << w.endpoints.size()
                << " endpoint(s) for the controller (" << w.rule << ", " << w.owner << ")\n";
    }
  }
}

void LiveAgent::ReportWatchedMedia(const ev::RtpEvent& e) {
  auto it = watches_armed_.find({e.flow.dst, e.flow.dport});
  if (it == watches_armed_.end() || !controller_) return;
  // The media the controller asked about, with what this agent knows of it.
  rules::SyntheticEvent s;
  s.ts_ns = e.flow.ts_ns;
  s.name = "watched-media";
  s.has_flow = true;
  s.flow = e.flow;
  s.Set("watch_rule", it->second.rule);
  s.Set("owner", it->second.owner);
  s.Set("media_owner", e.owner);
  s.Set("reason", e.reason);
  v1::AgentReport r;
  *r.mutable_event() = ToForwarded(s);
  controller_->Report(std::move(r));
  ++fleet_watch_reports_;
  watches_armed_.erase(it);  // once per endpoint and watch
}

void LiveAgent::ReportCounters() {
  // The kernel's counters, for the controller's fleet view.
  auto st = maps_.ReadStats();
  if (!st.ok()) return;
  v1::AgentReport r;
  auto& values = *r.mutable_counters()->mutable_values();
#define SW_COUNTER(name) values[#name] = static_cast<double>(st->name);
  SW_STATS_FIELDS(SW_COUNTER)
#undef SW_COUNTER
  values["alarms"] = static_cast<double>(correlator_->alarms());
  // SIP messages parsed, by method: sip_method_INVITE, ..., sip_method_OTHER,
  // sip_method_RESPONSE (every bucket, zeros included).
  for (size_t i = 0; i < kSipMethodBuckets.size(); ++i) {
    values[absl::StrCat("sip_method_", AV(kSipMethodBuckets[i]))] =
        static_cast<double>(sip_methods_[i]);
  }
  controller_->Report(std::move(r));
}

absl::Status LiveAgent::ReloadRules() {
  std::vector<rules::ConfigError> errors;
  auto fresh = LoadAgentRules(options_.rules_path, &errors, options_.scripts);
  if (!fresh.ok()) {
    std::string msg;
    for (const auto& e : errors) absl::StrAppend(&msg, e.ToString(), "\n");
    absl::StrAppend(&msg, fresh.status().message());
    return absl::InvalidArgumentError(msg);
  }
  correlator_->engine().Reload(*fresh);
  return absl::OkStatus();
}

void LiveAgent::AddMetrics(PromText& t) {
  if (auto st = maps_.ReadStats(); st.ok()) AddKernelStats(*st, t);
  for (const auto& [category, n] : correlator_->alarms_by_category()) {
    t.Counter("sipwarden_alarms_total", "Alarms raised, by category", static_cast<double>(n),
              {{"category", category}});
  }
  const auto& es = correlator_->engine().stats();
  t.Counter("sipwarden_engine_events_total", "Events the rule engine has seen",
            static_cast<double>(es.events));
  if (const ProfileWatch* p = correlator_->profiles()) {
    const ProfileWatchStats ps = p->stats();
    t.Counter("sipwarden_profiles_calls_total", "Call records fed to the account profiles",
              static_cast<double>(ps.calls));
    t.Counter("sipwarden_profiles_skipped_total",
              "Call records the profiles could not use (no caller or callee user)",
              static_cast<double>(ps.skipped));
    t.Counter("sipwarden_profiles_compares_total", "compare_profiles actions handled",
              static_cast<double>(ps.compares));
    t.Counter("sipwarden_profiles_anomalies_total", "Anomaly alarms of the account profiles",
              static_cast<double>(ps.alarms));
    t.Gauge("sipwarden_profiles_accounts", "Accounts the profiles know, by state",
            static_cast<double>(ps.profiles), {{"state", "profiled"}});
    t.Gauge("sipwarden_profiles_accounts", "Accounts the profiles know, by state",
            static_cast<double>(ps.learning), {{"state", "learning"}});
    t.Counter("sipwarden_profiles_saves_total", "Times the profiles were written back",
              static_cast<double>(ps.saves));
    t.Counter("sipwarden_profiles_save_errors_total", "Failed writes of the profiles",
              static_cast<double>(profile_save_errors_));
  }
  t.Counter("sipwarden_engine_blocks_total", "Block verdicts of rules",
            static_cast<double>(es.blocks));
  t.Counter("sipwarden_engine_rate_limits_total", "Rate-limit verdicts of rules",
            static_cast<double>(es.rate_limits));
  t.Counter("sipwarden_engine_watches_total", "Media-watch verdicts of rules",
            static_cast<double>(es.watches));
  t.Counter("sipwarden_engine_evictions_total", "Rule state dropped for space",
            static_cast<double>(es.operations_evicted + es.contexts_evicted +
                                es.alarm_states_evicted));
  for (const auto& r : correlator_->engine().rule_stats()) {
    t.Counter("sipwarden_rule_visits_total",
              "Events dispatched to a rule, matched or not (its patterns tested)",
              static_cast<double>(r.visited), {{"rule", r.name}});
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
            "Time spent parsing and correlating SIP messages", absl::ToDoubleSeconds(busy_));
  const auto& ps = pipeline_->stats();
  for (size_t i = 0; i < kSipMethodBuckets.size(); ++i) {
    t.Counter("sipwarden_sip_messages_total",
              "SIP messages parsed, by request method (OTHER: a method outside the known set; "
              "RESPONSE: every response)",
              static_cast<double>(sip_methods_[i]), {{"method", std::string(kSipMethodBuckets[i])}});
  }
  t.Counter("sipwarden_sip_rejected_total", "SIP messages the parser refused",
            static_cast<double>(ps.sip_rejected));
  for (const auto& [key, n] : ps.rejected_by_reason) {
    // "sip:bad_cseq", "sdp:bad_sdp_line", "mgcp:...": what was refused and why.
    const size_t colon = key.find(':');
    t.Counter("sipwarden_refused_total", "Messages the parsers refused, by protocol and reason",
              static_cast<double>(n),
              {{"protocol", key.substr(0, colon)},
               {"reason", colon == std::string::npos ? "" : key.substr(colon + 1)}});
  }
  t.Gauge("sipwarden_media_endpoints", "Media endpoints mirrored into the kernel",
          static_cast<double>(media_.tracked()));
  t.Counter("sipwarden_media_map_errors_total", "Kernel media map updates refused",
            static_cast<double>(media_.stats().map_errors));
  const auto& ts = tcp_.stats();
  t.Gauge("sipwarden_tcp_streams", "SIP-over-TCP connection directions being reassembled",
          static_cast<double>(tcp_.streams()));
  t.Gauge("sipwarden_tcp_buffered_bytes", "Bytes held by SIP-over-TCP reassembly",
          static_cast<double>(tcp_.buffered_bytes()));
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
            static_cast<double>(bad_records_));
  t.Counter("sipwarden_hep_duplicates_total", "SIP messages seen twice (kernel and HEP)",
            static_cast<double>(dedup_.duplicates()));
  t.Counter("sipwarden_hep_own_requests_total", "Requests this host sent, left out of the HEP feed",
            static_cast<double>(hep_own_requests_));
  if (controller_) {
    const auto cs = controller_->stats();
    const auto fs = fleet_->stats();
    t.Gauge("sipwarden_uplink_connected", "1 while connected to a controller",
            cs.connected ? 1 : 0);
    t.Gauge("sipwarden_uplink_decision_version", "Last fleet decision version applied",
            static_cast<double>(cs.decision_version));
    t.Counter("sipwarden_uplink_connects_total", "Registrations with a controller",
              static_cast<double>(cs.connects));
    t.Counter("sipwarden_uplink_connect_failures_total",
              "Failed attempts to reach a controller", static_cast<double>(cs.connect_failures));
    t.Gauge("sipwarden_uplink_reports_buffered", "Reports waiting for the controller",
            static_cast<double>(cs.reports_buffered));
    t.Gauge("sipwarden_uplink_reports_spooled", "Reports waiting on disk (the spool)",
            static_cast<double>(cs.reports_spooled));
    t.Counter("sipwarden_uplink_reports_acked_total", "Reports the controller stored",
              static_cast<double>(cs.reports_acked));
    t.Counter("sipwarden_uplink_reports_dropped_total",
              "Reports lost: the buffer was full while the controller was away",
              static_cast<double>(cs.reports_dropped));
    t.Gauge("sipwarden_fleet_blocks", "Blocks installed from the controller",
            static_cast<double>(fs.blocks));
    t.Gauge("sipwarden_fleet_allows", "Allows installed from the controller",
            static_cast<double>(fs.allows));
    t.Gauge("sipwarden_fleet_graylists",
            "Graylists (per-source limits) installed from the controller",
            static_cast<double>(fs.graylists));
    t.Counter("sipwarden_fleet_media_watches_total", "Media watches armed for the controller",
              static_cast<double>(fleet_watches_armed_));
    t.Counter("sipwarden_fleet_media_watch_reports_total",
              "Packets reported to the controller for its media watches",
              static_cast<double>(fleet_watch_reports_));
    t.Counter("sipwarden_fleet_spared_total",
              "Fleet blocks not installed: they cover an address of this host",
              static_cast<double>(fs.spared));
    t.Counter("sipwarden_fleet_graylists_spared_total",
              "Fleet graylists not installed: they are an address of this host",
              static_cast<double>(fs.graylists_spared));
    t.Counter("sipwarden_fleet_expired_on_arrival_total",
              "Fleet blocks and graylists skipped: past their expiry when they arrived",
              static_cast<double>(fs.expired_on_arrival));
    t.Counter("sipwarden_fleet_map_errors_total", "Fleet decisions the kernel maps refused",
              static_cast<double>(fs.errors));
  }
  if (kamailio_) {
    const auto ks = kamailio_->stats();
    t.Gauge("sipwarden_kamailio_reachable", "1 while the local Kamailio answers its RPC socket",
            ks.reachable ? 1 : 0);
    t.Gauge("sipwarden_kamailio_graylists", "Fleet graylists that belong in Kamailio's htable",
            static_cast<double>(ks.entries));
    t.Gauge("sipwarden_kamailio_graylists_pending",
            "Graylist addresses waiting to be written to (or deleted from) Kamailio",
            static_cast<double>(ks.pending));
    t.Counter("sipwarden_kamailio_graylist_sets_total", "Graylist entries written to Kamailio",
              static_cast<double>(ks.sets));
    t.Counter("sipwarden_kamailio_graylist_removes_total", "Graylist entries deleted from Kamailio",
              static_cast<double>(ks.removes));
    t.Counter("sipwarden_kamailio_resyncs_total",
              "Kamailio's htable flushed and written whole (snapshots, Kamailio restarts)",
              static_cast<double>(ks.resyncs));
    t.Counter("sipwarden_kamailio_restarts_total", "Kamailio restarts seen",
              static_cast<double>(ks.restarts));
    t.Counter("sipwarden_kamailio_unreachable_total",
              "Kamailio RPC requests that could not be sent or got no answer",
              static_cast<double>(ks.unreachable));
    t.Counter("sipwarden_kamailio_rpc_errors_total", "Kamailio RPC requests Kamailio refused",
              static_cast<double>(ks.rpc_errors));
    t.Counter("sipwarden_kamailio_graylists_dropped_total",
              "Graylists not pushed to Kamailio: beyond its entry limit",
              static_cast<double>(ks.dropped));
  }
}

void LiveAgent::Shutdown(absl::Duration flush_timeout) {
  stopping_ = true;
  pipeline_->Flush();
  out_.records->Flush();
  out_.events->Flush();
  out_.alarms->Flush();
  if (options_.log) std::cerr << "sipwarden-agent: " << correlator_->Summary() << "\n";
  SaveProfiles();
  if (!controller_) return;
  // Reports still buffered get up to flush_timeout to reach a connected controller.
  const absl::Time until = absl::Now() + flush_timeout;
  while (absl::Now() < until && controller_->stats().connected &&
         controller_->stats().reports_buffered > 0) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  const auto cs = controller_->stats();
  controller_->Stop();
  if (kamailio_) kamailio_->Stop();
  if (options_.log) {
    std::cerr << "sipwarden-agent: controller: " << cs.reports_acked << " reports delivered, "
              << cs.reports_buffered << " undelivered, " << cs.reports_dropped
              << " dropped (buffer full); decision version " << cs.decision_version << "\n";
  }
}

}  // namespace sw
