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

void PrintDecision(const v1::Decision& d, bool json, int64_t now) {
  if (json) {
    JsonWriter w;
    w.BeginObject().Field("prefix", d.prefix());
    w.Field("action", d.action() == v1::ACTION_ALLOW ? "allow" : "block");
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
      std::cout << "unblocked " << d.prefix() << " fleet-wide\n";
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
        std::cout << absl::StrFormat("%-43s %-18s %-12s %-9s %s\n", "PREFIX", "REASON",
                                     action == v1::ACTION_ALLOW ? "" : "EXPIRES IN", "ORIGIN",
                                     "SOURCE");
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
        w.EndObject();
        std::cout << w.str() << "\n";
        continue;
      }
      std::cout << absl::StrFormat(
          "%-20s %-24s %-10s %-9s %-10d %s ago\n", a.agent(), a.hostname(), a.version(),
          a.connected() ? "connected" : "away", a.decision_version(),
          absl::FormatDuration(absl::Seconds((now - a.last_seen_unix_ns()) / 1000000000LL)));
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
              << s.reports_duplicate() << "\n";
    std::vector<std::pair<std::string, double>> fc(s.fleet_counters().begin(), s.fleet_counters().end());
    std::sort(fc.begin(), fc.end());
    for (const auto& [k, v] : fc) std::cout << "fleet " << k << " " << static_cast<uint64_t>(v) << "\n";
    return absl::OkStatus();
  }

 private:
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
  if (cmd == "agents") return f.Agents();
  if (cmd == "alarms") return f.Alarms();
  if (cmd == "stats") return f.Stats();
  return absl::InvalidArgumentError(absl::StrCat(
      "'", cmd, "' is not a fleet command (with --controller: block, allow, agents, alarms, stats)"));
}

}  // namespace sw::ctl
