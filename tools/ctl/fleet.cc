// SPDX-License-Identifier: BSD-2-Clause
#include "fleet.h"

#include <grpcpp/grpcpp.h>

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "controller_client.h"
#include "sipwarden/json.h"
#include "sipwarden/record.h"
#include "sipwarden/v1/operator.grpc.pb.h"

namespace sw::ctl {
namespace {

namespace v1 = sipwarden::v1;

absl::Status FromGrpc(const grpc::Status& st, const std::string& controller) {
  if (st.ok()) return absl::OkStatus();
  static constexpr const char* kNames[] = {
      "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
      "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
      "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
      "UNAUTHENTICATED"};
  const int code = static_cast<int>(st.error_code());
  const char* name = code >= 0 && code <= 16 ? kNames[code] : "?";
  const std::string msg = st.error_code() == grpc::StatusCode::UNAVAILABLE
                              ? absl::StrCat("controller ", controller, " unavailable: ",
                                             st.error_message())
                              : absl::StrCat(st.error_message(), " (", name, ")");
  switch (st.error_code()) {
    case grpc::StatusCode::INVALID_ARGUMENT: return absl::InvalidArgumentError(msg);
    case grpc::StatusCode::NOT_FOUND: return absl::NotFoundError(msg);
    case grpc::StatusCode::FAILED_PRECONDITION: return absl::FailedPreconditionError(msg);
    case grpc::StatusCode::PERMISSION_DENIED: return absl::PermissionDeniedError(msg);
    case grpc::StatusCode::UNAUTHENTICATED: return absl::UnauthenticatedError(msg);
    default: return absl::UnavailableError(msg);
  }
}

std::string Rfc3339(int64_t unix_ns) { return unix_ns ? FormatRfc3339(unix_ns) : ""; }

std::string Left(int64_t expires, int64_t now) {
  if (!expires) return "forever";
  if (expires <= now) return "expired";
  return absl::FormatDuration(absl::Seconds((expires - now) / 1000000000LL));
}

std::string_view OriginName(v1::Origin o) {
  switch (o) {
    case v1::ORIGIN_AGENT: return "agent";
    case v1::ORIGIN_OPERATOR: return "operator";
    case v1::ORIGIN_CENTRAL_RULE: return "central-rule";
    case v1::ORIGIN_HONEYPOT: return "honeypot";
    default: return "?";
  }
}

std::string_view ActionName(v1::Action a) {
  switch (a) {
    case v1::ACTION_BLOCK:
      return "block";
    case v1::ACTION_ALLOW:
      return "allow";
    case v1::ACTION_GRAYLIST:
      return "graylist";
    default:
      return "?";
  }
}

// The list's columns: graylists show their token bucket.
std::string DecisionHeader(v1::Action action) {
  if (action == v1::ACTION_GRAYLIST) {
    return absl::StrFormat("%-43s %8s %6s %-10s %-12s %-9s %s\n", "PREFIX", "RATE/S", "BURST",
                           "REASON", "EXPIRES IN", "ORIGIN", "SOURCE");
  }
  return absl::StrFormat("%-43s %-18s %-12s %-9s %s\n", "PREFIX", "REASON",
                         action == v1::ACTION_ALLOW ? "" : "EXPIRES IN", "ORIGIN", "SOURCE");
}

void PrintDecision(const v1::Decision& d, bool json, int64_t now) {
  if (json) {
    JsonWriter w;
    w.BeginObject().Field("prefix", d.prefix());
    w.Field("action", ActionName(d.action()));
    if (d.action() == v1::ACTION_GRAYLIST) {
      w.Field("rate_per_s", d.rate_per_s()).Field("burst", d.burst());
    }
    w.Field("reason", d.reason()).Field("origin", OriginName(d.origin())).Field("source", d.source());
    w.Field("added", Rfc3339(d.created_unix_ns()));
    if (d.expires_unix_ns()) {
      w.Field("expires", Rfc3339(d.expires_unix_ns()));
    } else {
      w.Key("expires").Null();
    }
    w.Field("version", d.version()).EndObject();
    std::cout << w.str() << "\n";
    return;
  }
  if (d.action() == v1::ACTION_GRAYLIST) {
    std::cout << absl::StrFormat("%-43s %8d %6d %-10s %-12s %-9s %s\n", d.prefix(), d.rate_per_s(),
                                 d.burst(), d.reason(), Left(d.expires_unix_ns(), now),
                                 OriginName(d.origin()), d.source());
    return;
  }
  std::cout << absl::StrFormat("%-43s %-18s %-12s %-9s %s\n", d.prefix(), d.reason(),
                               d.action() == v1::ACTION_ALLOW ? "" : Left(d.expires_unix_ns(), now),
                               OriginName(d.origin()), d.source());
}

class Fleet {
 public:
  Fleet(const FleetOptions& o, std::shared_ptr<grpc::ChannelCredentials> creds)
      : o_(o), stub_(v1::OperatorService::NewStub(grpc::CreateChannel(o.controller, creds))) {}

  std::unique_ptr<grpc::ClientContext> Ctx(bool stream = false) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata("sw-name", o_.name);
    if (!stream) ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return ctx;
  }

  absl::Status Block(const std::vector<std::string>& args) {
    const std::string verb = args.size() > 1 ? args[1] : "";
    if (verb == "add" || verb == "del") {
      if (args.size() != 3) return absl::InvalidArgumentError(absl::StrCat("usage: block ", verb, " PREFIX"));
      v1::Decision d;
      if (verb == "add") {
        v1::BlockRequest req;
        req.set_prefix(args[2]);
        req.set_ttl_seconds(absl::ToInt64Seconds(o_.ttl));
        req.set_reason(o_.reason);
        if (auto st = FromGrpc(stub_->Block(Ctx().get(), req, &d), o_.controller); !st.ok()) return st;
        std::cout << "blocked " << d.prefix() << " fleet-wide for "
                  << (d.expires_unix_ns() ? absl::FormatDuration(o_.ttl) : "ever") << " ("
                  << d.reason() << ", version " << d.version() << ")\n";
        return absl::OkStatus();
      }
      v1::PrefixRequest req;
      req.set_prefix(args[2]);
      if (auto st = FromGrpc(stub_->Unblock(Ctx().get(), req, &d), o_.controller); !st.ok()) return st;
      // The controller lifts a host's block and graylist together and answers
      // with the block, or with the graylist when there was no block.
      std::cout << (d.action() == v1::ACTION_GRAYLIST ? "lifted the graylist of " : "unblocked ")
                << d.prefix() << " fleet-wide\n";
      return absl::OkStatus();
    }
    if (verb == "list") return List(v1::ACTION_BLOCK);
    return absl::InvalidArgumentError("usage: block add|del|list ...");
  }

  absl::Status Allow(const std::vector<std::string>& args) {
    const std::string verb = args.size() > 1 ? args[1] : "";
    if (verb == "add" || verb == "del") {
      if (args.size() != 3) return absl::InvalidArgumentError(absl::StrCat("usage: allow ", verb, " PREFIX"));
      v1::Decision d;
      grpc::Status st;
      if (verb == "add") {
        v1::AllowRequest req;
        req.set_prefix(args[2]);
        req.set_reason(o_.reason == "manual" ? "" : o_.reason);
        st = stub_->Allow(Ctx().get(), req, &d);
      } else {
        v1::PrefixRequest req;
        req.set_prefix(args[2]);
        st = stub_->Disallow(Ctx().get(), req, &d);
      }
      if (auto s = FromGrpc(st, o_.controller); !s.ok()) return s;
      std::cout << (verb == "add" ? "allowed " : "disallowed ") << d.prefix() << " fleet-wide\n";
      return absl::OkStatus();
    }
    if (verb == "list") return List(v1::ACTION_ALLOW);
    return absl::InvalidArgumentError("usage: allow add|del|list ...");
  }

  // Graylists are made by the honeypot policy; `block del HOST` lifts one.
  absl::Status Graylist(const std::vector<std::string>& args) {
    if (args.size() == 2 && args[1] == "list") return List(v1::ACTION_GRAYLIST);
    return absl::InvalidArgumentError(
        "usage: graylist list (graylists come from the honeypot policy; block del HOST lifts "
        "one)");
  }

  absl::Status List(v1::Action action) {
    const int64_t now = absl::ToUnixNanos(absl::Now());
    std::string token;
    bool header = !o_.json;
    do {
      v1::ListDecisionsRequest req;
      req.set_action(action);
      req.set_page_token(token);
      v1::ListDecisionsResponse resp;
      if (auto st = FromGrpc(stub_->ListDecisions(Ctx().get(), req, &resp), o_.controller); !st.ok()) {
        return st;
      }
      if (header) {  // once the controller has answered
        std::cout << DecisionHeader(action);
        header = false;
      }
      for (const auto& d : resp.decisions()) PrintDecision(d, o_.json, now);
      token = resp.next_page_token();
    } while (!token.empty());
    return absl::OkStatus();
  }

  absl::Status Agents() {
    v1::ListAgentsResponse resp;
    if (auto st = FromGrpc(stub_->ListAgents(Ctx().get(), v1::ListAgentsRequest(), &resp), o_.controller);
        !st.ok()) {
      return st;
    }
    const int64_t now = absl::ToUnixNanos(absl::Now());
    if (!o_.json) {
      std::cout << absl::StrFormat("%-20s %-24s %-10s %-9s %-10s %s\n", "AGENT", "HOST", "VERSION",
                                   "STATE", "DECISIONS", "LAST SEEN");
    }
    for (const auto& a : resp.agents()) {
      if (o_.json) {
        JsonWriter w;
        w.BeginObject().Field("agent", a.agent()).Field("hostname", a.hostname());
        w.Field("interfaces", absl::StrJoin(a.interfaces(), ","));
        w.Field("version", a.version()).Field("ruleset_sha256", a.ruleset_sha256());
        w.Field("connected", a.connected()).Field("decision_version", a.decision_version());
        w.Field("first_seen", Rfc3339(a.first_seen_unix_ns()));
        w.Field("last_seen", Rfc3339(a.last_seen_unix_ns())).Field("reports", a.reports());
        if (a.honeypot()) {
          w.Field("honeypot", true).Field("deflector_users", a.deflector_users());
        }
        w.EndObject();
        std::cout << w.str() << "\n";
        continue;
      }
      const std::string ago =
          absl::FormatDuration(absl::Seconds((now - a.last_seen_unix_ns()) / 1000000000LL));
      if (a.honeypot()) {  // no decision stream: its hits instead
        std::cout << absl::StrFormat(
            "%-20s %-24s %-10s %-9s %-10s %s ago (%d hits, %d deflectors)\n", a.agent(),
            a.hostname(), a.version(), "honeypot", "-", ago, a.reports(), a.deflector_users());
        continue;
      }
      std::cout << absl::StrFormat("%-20s %-24s %-10s %-9s %-10d %s ago\n", a.agent(), a.hostname(),
                                   a.version(), a.connected() ? "connected" : "away",
                                   a.decision_version(), ago);
    }
    return absl::OkStatus();
  }

  absl::Status Alarms() {
    v1::ListAlarmsRequest req;
    if (o_.since > absl::ZeroDuration()) {
      req.set_since_unix_ns(absl::ToUnixNanos(absl::Now() - o_.since));
    }
    req.set_category(o_.category);
    req.set_src_ip(o_.src);
    req.set_limit(static_cast<uint32_t>(std::max(1, o_.limit)));
    auto print = [&](const v1::StoredAlarm& a) {
      if (o_.json) {
        std::cout << a.alarm().json() << "\n";  // the agent's EVE line as it wrote it
      } else {
        std::cout << Rfc3339(a.alarm().ts_unix_ns()) << "  " << a.agent() << "  "
                  << a.alarm().category() << "  " << a.alarm().src_ip() << "  "
                  << a.alarm().signature() << "\n";
      }
      std::cout.flush();
    };
    if (!o_.follow) {
      v1::ListAlarmsResponse resp;
      if (auto st = FromGrpc(stub_->ListAlarms(Ctx().get(), req, &resp), o_.controller); !st.ok()) {
        return st;
      }
      for (const auto& a : resp.alarms()) print(a);
      return absl::OkStatus();
    }
    auto ctx = Ctx(/*stream=*/true);
    auto reader = stub_->FollowAlarms(ctx.get(), req);
    v1::StoredAlarm a;
    while (reader->Read(&a)) print(a);
    return FromGrpc(reader->Finish(), o_.controller);
  }

  absl::Status Stats() {
    v1::StatsResponse s;
    if (auto st = FromGrpc(stub_->Stats(Ctx().get(), v1::StatsRequest(), &s), o_.controller); !st.ok()) {
      return st;
    }
    if (o_.json) {
      JsonWriter w;
      w.BeginObject().Field("decision_version", s.decision_version()).Field("blocks", s.blocks());
      w.Field("allows", s.allows()).Field("agents", s.agents());
      w.Field("agents_connected", s.agents_connected()).Field("alarms_stored", s.alarms_stored());
      w.Field("reports_stored", s.reports_stored()).Field("reports_duplicate", s.reports_duplicate());
      w.Field("graylists", s.graylists()).Field("honeypots", s.honeypots());
      w.Field("hits_stored", s.hits_stored()).Field("hits_duplicate", s.hits_duplicate());
      w.Field("honeypot_graylisted", s.honeypot_graylisted());
      w.Field("honeypot_blocked", s.honeypot_blocked());
      w.Field("honeypot_spared_allowed", s.honeypot_spared_allowed());
      w.Field("honeypot_stale", s.honeypot_stale());
      std::vector<std::pair<std::string, double>> fc(s.fleet_counters().begin(), s.fleet_counters().end());
      std::sort(fc.begin(), fc.end());
      for (const auto& [k, v] : fc) w.Field(absl::StrCat("fleet_", k), static_cast<uint64_t>(v));
      w.EndObject();
      std::cout << w.str() << "\n";
      return absl::OkStatus();
    }
    std::cout << "decision_version " << s.decision_version() << "\nblocks " << s.blocks()
              << "\nallows " << s.allows() << "\nagents " << s.agents() << " ("
              << s.agents_connected() << " connected)\nalarms_stored " << s.alarms_stored()
              << "\nreports_stored " << s.reports_stored() << "\nreports_duplicate "
              << s.reports_duplicate() << "\ngraylists " << s.graylists() << "\nhoneypots "
              << s.honeypots() << "\nhits_stored " << s.hits_stored() << "\nhits_duplicate "
              << s.hits_duplicate() << "\nhoneypot_graylisted " << s.honeypot_graylisted()
              << "\nhoneypot_blocked " << s.honeypot_blocked() << "\nhoneypot_spared_allowed "
              << s.honeypot_spared_allowed() << "\nhoneypot_stale " << s.honeypot_stale() << "\n";
    std::vector<std::pair<std::string, double>> fc(s.fleet_counters().begin(), s.fleet_counters().end());
    std::sort(fc.begin(), fc.end());
    for (const auto& [k, v] : fc) std::cout << "fleet " << k << " " << static_cast<uint64_t>(v) << "\n";
    return absl::OkStatus();
  }

  // honeypot hits|calls|campaigns: what the honeypots saw, from the store.
  absl::Status Honeypot(const std::vector<std::string>& args) {
    const std::string verb = args.size() > 1 ? args[1] : "";
    if (args.size() != 2 || (verb != "hits" && verb != "calls" && verb != "campaigns")) {
      return absl::InvalidArgumentError(
          "usage: honeypot hits [--src IP] [--callee USER] [--honeypot NAME] [--since DUR] "
          "[--limit N] | honeypot calls --callee USER | honeypot campaigns [--min-sources N]");
    }
    if (verb == "campaigns") return Campaigns();
    v1::ListHitsRequest req;
    if (o_.since > absl::ZeroDuration()) {
      req.set_since_unix_ns(absl::ToUnixNanos(absl::Now() - o_.since));
    }
    req.set_src_ip(o_.src);
    req.set_callee(o_.callee);
    req.set_honeypot(o_.honeypot);
    req.set_limit(static_cast<uint32_t>(std::max(1, o_.limit)));
    if (verb == "calls") {
      // The calls a proxy deflected for a real user (its caller graylisted),
      // with their recordings.
      if (o_.callee.empty()) {
        return absl::InvalidArgumentError("honeypot calls needs --callee USER");
      }
      req.set_deflected_only(true);
      req.set_stage(v1::HoneypotHit::STAGE_ENDED);
    }
    v1::ListHitsResponse resp;
    if (auto st = FromGrpc(stub_->ListHoneypotHits(Ctx().get(), req, &resp), o_.controller);
        !st.ok()) {
      return st;
    }
    if (o_.json) {
      for (const auto& h : resp.hits()) std::cout << HitJson(h) << "\n";
      return absl::OkStatus();
    }
    if (verb == "calls") {
      std::cout << absl::StrFormat("%-27s %-12s %-32s %-22s %-9s %s\n", "TIME", "HONEYPOT",
                                   "CALLER", "SOURCE", "DURATION", "RECORDING");
      for (const auto& s : resp.hits()) {
        const auto& h = s.hit();
        std::cout << absl::StrFormat("%-27s %-12s %-32s %-22s %-9s %s\n", Rfc3339(h.ts_unix_ns()),
                                     s.honeypot(), h.caller().empty() ? "-" : h.caller(),
                                     Endpoint(h.src_ip(), h.src_port()),
                                     absl::FormatDuration(absl::Milliseconds(h.talk_ms())),
                                     h.recording().empty() ? "-" : h.recording());
      }
      return absl::OkStatus();
    }
    std::cout << absl::StrFormat("%-27s %-12s %-7s %-9s %-22s %-16s %6s %s\n", "TIME", "HONEYPOT",
                                 "STAGE", "METHOD", "SOURCE", "CALLEE", "STATUS", "DETAIL");
    for (const auto& s : resp.hits()) {
      const auto& h = s.hit();
      const bool ended = h.stage() == v1::HoneypotHit::STAGE_ENDED;
      std::string detail;
      if (ended) {
        detail = absl::StrCat(h.ended_by().empty() ? "ended" : h.ended_by(), ", talk ",
                              absl::FormatDuration(absl::Milliseconds(h.talk_ms())));
        if (!h.recording().empty()) absl::StrAppend(&detail, ", ", h.recording());
        if (!s.campaign().empty()) {
          absl::StrAppend(&detail, ", campaign ", s.campaign().substr(0, 16));
        }
      } else if (!h.user_agent().empty()) {
        detail = absl::StrCat("\"", h.user_agent(), "\"");
      }
      if (h.deflected()) absl::StrAppend(&detail, detail.empty() ? "" : ", ", "deflected");
      std::cout << absl::StrFormat(
          "%-27s %-12s %-7s %-9s %-22s %-16s %6s %s\n", Rfc3339(h.ts_unix_ns()), s.honeypot(),
          ended ? "ended" : "arrived", h.method(), Endpoint(h.src_ip(), h.src_port()),
          h.callee().empty() ? "-" : h.callee(),
          h.final_status() ? absl::StrCat(h.final_status()) : "-", detail);
    }
    return absl::OkStatus();
  }

  absl::Status Campaigns() {
    if (o_.min_sources < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("--min-sources must be at least 1, not ", o_.min_sources));
    }
    v1::ListCampaignsRequest req;
    req.set_min_sources(static_cast<uint32_t>(o_.min_sources));
    req.set_limit(static_cast<uint32_t>(std::max(1, o_.limit)));
    v1::ListCampaignsResponse resp;
    if (auto st = FromGrpc(stub_->ListCampaigns(Ctx().get(), req, &resp), o_.controller);
        !st.ok()) {
      return st;
    }
    if (!o_.json) {
      std::cout << absl::StrFormat("%-16s %6s %7s %-27s %-27s %s\n", "CAMPAIGN", "CALLS", "SOURCES",
                                   "FIRST", "LAST", "RECORDED");
    }
    for (const auto& c : resp.campaigns()) {
      if (o_.json) {
        JsonWriter w;
        w.BeginObject().Field("audio_sha256", c.audio_sha256()).Field("calls", c.calls());
        w.Key("sources").BeginArray();
        for (const auto& src : c.sources()) w.String(src);
        w.EndArray();
        w.Field("first", Rfc3339(c.first_unix_ns())).Field("last", Rfc3339(c.last_unix_ns()));
        w.Field("recorded_ms", c.recorded_ms());
        w.Key("callees").BeginArray();
        for (const auto& callee : c.callees()) w.String(callee);
        w.EndArray().EndObject();
        std::cout << w.str() << "\n";
        continue;
      }
      std::cout << absl::StrFormat("%-16s %6d %7d %-27s %-27s %s\n", c.audio_sha256().substr(0, 16),
                                   c.calls(), c.sources_size(), Rfc3339(c.first_unix_ns()),
                                   Rfc3339(c.last_unix_ns()),
                                   absl::FormatDuration(absl::Milliseconds(c.recorded_ms())))
                << "  sources: " << absl::StrJoin(c.sources(), " ") << "\n"
                << "  callees: " << absl::StrJoin(c.callees(), " ") << "\n";
    }
    return absl::OkStatus();
  }

 private:
  static std::string Endpoint(const std::string& ip, uint32_t port) {
    if (port == 0) return ip;
    return ip.find(':') != std::string::npos ? absl::StrCat("[", ip, "]:", port)
                                             : absl::StrCat(ip, ":", port);
  }

  // A stored hit whole, one JSON object (field names as in honeypot.proto).
  static std::string HitJson(const v1::StoredHit& s) {
    const auto& h = s.hit();
    JsonWriter w;
    w.BeginObject().Field("honeypot", s.honeypot()).Field("id", h.id());
    w.Field("time", Rfc3339(h.ts_unix_ns()));
    w.Field("stage", h.stage() == v1::HoneypotHit::STAGE_ENDED ? "ended" : "arrived");
    w.Field("method", h.method()).Field("src_ip", h.src_ip()).Field("src_port", h.src_port());
    w.Field("dst_ip", h.dst_ip()).Field("dst_port", h.dst_port());
    w.Field("transport", h.transport()).Field("ip_ttl", h.ip_ttl());
    w.Field("call_id", h.call_id()).Field("request_uri", h.request_uri());
    w.Field("callee", h.callee()).Field("caller", h.caller()).Field("user_agent", h.user_agent());
    w.Field("via_shape", h.via_shape()).Field("contact_shape", h.contact_shape());
    if (h.has_sdp()) {
      const auto& sdp = h.sdp();
      w.Key("sdp").BeginObject().Field("owner", sdp.owner()).Field("session", sdp.session());
      w.Field("conn", sdp.conn()).Key("codecs").BeginArray();
      for (const auto& c : sdp.codecs()) w.String(c);
      w.EndArray().Field("media_port", sdp.media_port()).EndObject();
    }
    w.Field("final_status", h.final_status()).Field("deflected", h.deflected());
    if (!h.auth_user().empty()) w.Field("auth_user", h.auth_user());
    if (h.stage() == v1::HoneypotHit::STAGE_ENDED) {
      w.Field("ended_by", h.ended_by()).Field("ring_ms", h.ring_ms());
      w.Field("answer_ms", h.answer_ms()).Field("talk_ms", h.talk_ms());
      w.Field("recorded_ms", h.recorded_ms()).Field("audio_sha256", h.audio_sha256());
      w.Field("recording", h.recording()).Field("rtp_packets", h.rtp_packets());
      w.Field("rtp_src", h.rtp_src()).Field("campaign", s.campaign());
    }
    w.EndObject();
    return w.Take();
  }

  const FleetOptions& o_;
  std::unique_ptr<v1::OperatorService::Stub> stub_;
};

}  // namespace

absl::Status FleetDispatch(const std::vector<std::string>& args, const FleetOptions& o) {
  if (args.empty()) return absl::InvalidArgumentError("no command given (see --help)");
  auto creds = ControllerCredentials({o.tls_cert, o.tls_key, o.tls_ca});
  if (!creds.ok()) return creds.status();
  Fleet f(o, *creds);
  const std::string& cmd = args[0];
  if (cmd == "block") return f.Block(args);
  if (cmd == "allow") return f.Allow(args);
  if (cmd == "graylist") return f.Graylist(args);
  if (cmd == "honeypot") return f.Honeypot(args);
  if (cmd == "agents") return f.Agents();
  if (cmd == "alarms") return f.Alarms();
  if (cmd == "stats") return f.Stats();
  return absl::InvalidArgumentError(
      absl::StrCat("'", cmd,
                   "' is not a fleet command (with --controller: block, graylist, allow, agents, "
                   "alarms, stats, honeypot)"));
}

}  // namespace sw::ctl
