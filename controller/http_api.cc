// SPDX-License-Identifier: BSD-2-Clause
#include "http_api.h"

#include <google/protobuf/util/json_util.h>
#include <httplib.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <iterator>
#include <functional>
#include <initializer_list>
#include <iostream>
#include <set>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "controller.h"
#include "decision_table.h"
#include "metrics.h"
#include "sipwarden/absl_compat.h"
#include "sipwarden/ip.h"
#include "web_assets.h"

namespace sw::controller {

namespace v1 = sipwarden::v1;

std::string TokenDigest(std::string_view token) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), md);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : md) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

absl::StatusOr<std::map<std::string, HttpToken>> ParseHttpTokens(std::string_view text) {
  std::map<std::string, HttpToken> out;
  std::set<std::string> names;
  int line_no = 0;
  for (absl::string_view raw : absl::StrSplit(AV(text), '\n')) {
    ++line_no;
    absl::string_view line = raw;
    if (const size_t hash = line.find('#'); hash != absl::string_view::npos) {
      line = line.substr(0, hash);
    }
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    auto bad = [&](std::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat("tokens line ", line_no, ": ", AV(why)));
    };
    std::vector<absl::string_view> f = absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (f.size() != 3) return bad("expected ROLE NAME TOKEN");
    HttpToken t;
    if (f[0] == "operator") {
      t.role = Role::kOperator;
    } else if (f[0] == "read-only") {
      t.role = Role::kReadOnly;
    } else {
      return bad(absl::StrCat("role '", f[0], "' is neither operator nor read-only"));
    }
    t.name = std::string(f[1]);
    if (!ValidName(t.name)) return bad("bad name: 1..64 of letters, digits, '.', '_', '-'");
    if (!names.insert(t.name).second) return bad(absl::StrCat("name '", t.name, "' given twice"));
    const absl::string_view tok = f[2];
    if (tok.size() < 16 || tok.size() > 256) return bad("a token is 16 to 256 characters long");
    for (char c : tok) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) &&
          std::string_view("._~+/=-_").find(c) == std::string_view::npos) {
        return bad("a token is made of letters, digits and . _ ~ + / = -");
      }
    }
    if (!out.emplace(TokenDigest(SV(tok)), t).second) return bad("the same token given twice");
  }
  return out;
}

absl::StatusOr<int64_t> ParseSince(std::string_view text, int64_t now_unix_ns) {
  if (text.empty()) return absl::InvalidArgumentError("an empty time");
  int64_t n = 0;
  if (absl::SimpleAtoi(AV(text), &n)) {
    if (n < 0) return absl::InvalidArgumentError(absl::StrCat("time '", AV(text), "' is negative"));
    return n * 1000000000LL;
  }
  // A duration back from now: NUMBER and one of s, m, h, d.
  const char unit = text.back();
  if (std::string_view("smhd").find(unit) != std::string_view::npos &&
      absl::SimpleAtoi(AV(text.substr(0, text.size() - 1)), &n) && n >= 0 &&
      n <= 10LL * 365 * 86400) {
    const int64_t mul = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : 86400;
    return now_unix_ns - n * mul * 1000000000LL;
  }
  absl::Time t;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, AV(text), &t, &err)) return absl::ToUnixNanos(t);
  return absl::InvalidArgumentError(absl::StrCat(
      "time '", AV(text), "': give Unix seconds, RFC 3339 (2026-12-06T14:00:00Z) or a duration "
      "back from now (90s, 15m, 1h, 7d)"));
}

namespace {

int64_t NowNs() { return absl::ToUnixNanos(absl::Now()); }

constexpr size_t kMaxBody = 64 * 1024;
constexpr int kMaxStreams = 32;  // event streams open at once

int HttpStatus(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange: return 400;
    case absl::StatusCode::kUnauthenticated: return 401;
    case absl::StatusCode::kPermissionDenied: return 403;
    case absl::StatusCode::kNotFound: return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition: return 409;
    case absl::StatusCode::kResourceExhausted: return 429;
    case absl::StatusCode::kUnavailable: return 503;
    default: return 500;
  }
}

const char* CodeName(int status) {
  switch (status) {
    case 400: return "INVALID_ARGUMENT";
    case 401: return "UNAUTHENTICATED";
    case 403: return "PERMISSION_DENIED";
    case 404: return "NOT_FOUND";
    case 405: return "METHOD_NOT_ALLOWED";
    case 409: return "FAILED_PRECONDITION";
    case 413: return "PAYLOAD_TOO_LARGE";
    case 415: return "UNSUPPORTED_MEDIA_TYPE";
    case 429: return "RESOURCE_EXHAUSTED";
    case 503: return "UNAVAILABLE";
    default: return status >= 500 ? "INTERNAL" : "INVALID_ARGUMENT";
  }
}

// A JSON string literal.
std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string ErrorJson(int status, std::string_view message) {
  return absl::StrCat("{\"error\":{\"status\":", status, ",\"code\":\"", CodeName(status),
                      "\",\"message\":", Quote(message), "}}");
}

std::string ToJson(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  o.always_print_primitive_fields = true;  // stable shapes: every field, lists even when empty
  std::string out;
  auto st = google::protobuf::util::MessageToJsonString(m, &out, o);
  if (!st.ok()) return "{}";
  return out;
}

absl::Status FromJson(const std::string& body, google::protobuf::Message* m) {
  if (body.empty()) return absl::InvalidArgumentError("the request needs a JSON body");
  google::protobuf::util::JsonParseOptions o;
  o.ignore_unknown_fields = false;
  auto st = google::protobuf::util::JsonStringToMessage(body, m, o);
  if (!st.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad JSON body: ", std::string(st.message().data(), st.message().size())));
  }
  return absl::OkStatus();
}

std::string RoleName(Role r) {
  return r == Role::kOperator ? "operator" : r == Role::kReadOnly ? "read-only" : "agent";
}

bool IsLoopbackHost(const IpAddress& a) {
  const std::string s = a.ToString();
  return s.starts_with("127.") || s == "::1";
}

// An answer: status and JSON body.
struct Reply {
  int status = 200;
  std::string body;
  const char* type = "application/json";
};

}  // namespace

struct HttpApi::Impl {
  Controller* c = nullptr;
  std::unique_ptr<httplib::Server> server;
  std::thread thread;
  std::map<std::string, HttpToken> tokens;
  bool tls = false;
  bool open = false;  // no tokens, no TLS: whoever reaches the port is an operator
  std::atomic<bool> stopping{false};
  std::atomic<int> streams{0};

  absl::StatusOr<Peer> Identify(const httplib::Request& req) {
    const std::string auth = req.get_header_value("Authorization");
    if (!auth.empty()) {
      absl::string_view v = auth;
      if (!absl::ConsumePrefix(&v, "Bearer ") || v.empty()) {
        return absl::UnauthenticatedError("Authorization must be 'Bearer TOKEN'");
      }
      auto it = tokens.find(TokenDigest(SV(absl::StripAsciiWhitespace(v))));
      if (it == tokens.end()) return absl::UnauthenticatedError("unknown token");
      Peer p;
      p.name = it->second.name;
      p.role = it->second.role;
      return p;
    }
    if (tls && req.ssl != nullptr) {
      X509* cert = SSL_get_peer_certificate(req.ssl);
      if (cert != nullptr) {
        std::string pem;
        if (BIO* bio = BIO_new(BIO_s_mem())) {
          if (PEM_write_bio_X509(bio, cert) == 1) {
            char* data = nullptr;
            const long n = BIO_get_mem_data(bio, &data);
            if (n > 0) pem.assign(data, static_cast<size_t>(n));
          }
          BIO_free(bio);
        }
        X509_free(cert);
        auto p = c->authenticator().FromCertificate(pem);
        if (!p.ok()) return p.status();
        if (p->role != Role::kOperator) {
          return absl::PermissionDeniedError(
              absl::StrCat("'", p->name, "' holds an agent's certificate: only operators use "
                                         "the console and the API"));
        }
        return p;
      }
    }
    if (open) {
      Peer p;
      p.name = "http";
      p.role = Role::kOperator;
      return p;
    }
    return absl::UnauthenticatedError(
        tls ? "a bearer token (Authorization: Bearer TOKEN) or an operator's client certificate "
              "is needed"
            : "a bearer token (Authorization: Bearer TOKEN) is needed");
  }

  static void Send(httplib::Response& res, const Reply& r) {
    res.status = r.status;
    res.set_content(r.body, r.type);
  }
  static Reply Error(const absl::Status& st) {
    const int status = HttpStatus(st.code());
    return {status, ErrorJson(status, SV(st.message()))};
  }

  // Checks the caller and the query; on refusal answers and returns false.
  // change: the call changes state (operators only, JSON bodies only).
  bool Admit(const httplib::Request& req, httplib::Response& res, bool change,
             std::initializer_list<std::string_view> params, Peer* out) {
    auto peer = Identify(req);
    if (!peer.ok()) {
      if (peer.status().code() == absl::StatusCode::kUnauthenticated) {
        res.set_header("WWW-Authenticate", "Bearer realm=\"sipwarden\"");
      }
      Send(res, Error(peer.status()));
      return false;
    }
    if (change && peer->role != Role::kOperator) {
      Send(res, Error(absl::PermissionDeniedError(absl::StrCat(
                    "'", peer->name, "' holds a read-only token: it may look, not change"))));
      return false;
    }
    if (change && req.method == "POST" &&
        !absl::StartsWith(req.get_header_value("Content-Type"), "application/json")) {
      Send(res, {415, ErrorJson(415, "changes are sent as Content-Type: application/json")});
      return false;
    }
    for (const auto& [k, v] : req.params) {
      if (std::find(params.begin(), params.end(), k) == params.end()) {
        std::string known;
        for (auto p : params) absl::StrAppend(&known, known.empty() ? "" : ", ", AV(p));
        Send(res, Error(absl::InvalidArgumentError(absl::StrCat(
                      "unknown parameter '", k, "'",
                      known.empty() ? " (this call takes none)"
                                    : absl::StrCat(" (this call takes ", known, ")")))));
        return false;
      }
    }
    *out = std::move(*peer);
    return true;
  }

  void Handle(const httplib::Request& req, httplib::Response& res, bool change,
              std::initializer_list<std::string_view> params,
              const std::function<Reply(const Peer&)>& f) {
    Peer who;
    if (Admit(req, res, change, params, &who)) Send(res, f(who));
  }

  static std::string Param(const httplib::Request& req, const char* name) {
    return req.has_param(name) ? req.get_param_value(name) : std::string();
  }

  static absl::Status ParseLimit(const httplib::Request& req, uint32_t max, uint32_t* out) {
    const std::string s = Param(req, "limit");
    if (s.empty()) return absl::OkStatus();
    if (!absl::SimpleAtoi(s, out) || *out == 0 || *out > max) {
      return absl::InvalidArgumentError(absl::StrCat("limit '", s, "' is not within 1..", max));
    }
    return absl::OkStatus();
  }

  static absl::Status ParseSinceParam(const httplib::Request& req, int64_t* out) {
    const std::string s = Param(req, "since");
    if (s.empty()) return absl::OkStatus();
    auto t = ParseSince(s, NowNs());
    if (!t.ok()) return t.status();
    *out = *t;
    return absl::OkStatus();
  }

  static absl::Status ParseAddressParam(const httplib::Request& req, const char* name,
                                        std::string* out) {
    const std::string s = Param(req, name);
    if (s.empty()) return absl::OkStatus();
    auto a = IpAddress::Parse(s);
    if (!a.ok()) return absl::InvalidArgumentError(absl::StrCat(name, " '", s, "' is not an IP address"));
    *out = a->ToString();
    return absl::OkStatus();
  }

  // The filters the list calls share: limit, since, src.
  struct ListParams {
    uint32_t limit = 0;
    int64_t since = 0;
    std::string src;
    absl::Status Parse(const httplib::Request& req) {
      for (const auto& st : {ParseLimit(req, 100000, &limit), ParseSinceParam(req, &since),
                             ParseAddressParam(req, "src", &src)}) {
        if (!st.ok()) return st;
      }
      return absl::OkStatus();
    }
  };

  Reply Alarms(const httplib::Request& req) {
    v1::ListAlarmsRequest r;
    ListParams l;
    if (auto st = l.Parse(req); !st.ok()) return Error(st);
    r.set_limit(l.limit);
    r.set_since_unix_ns(l.since);
    r.set_src_ip(l.src);
    r.set_category(Param(req, "category"));
    r.set_agent(Param(req, "agent"));
    v1::ListAlarmsResponse resp;
    if (auto st = c->ListAlarms(r, &resp); !st.ok()) return Error(st);
    return {200, ToJson(resp)};
  }

  Reply Decisions(const httplib::Request& req, v1::Action action) {
    v1::ListDecisionsRequest r;
    r.set_action(action);
    uint32_t limit = 0;
    if (auto st = ParseLimit(req, 100000, &limit); !st.ok()) return Error(st);
    r.set_page_size(limit);
    r.set_within(Param(req, "within"));
    r.set_page_token(Param(req, "page_token"));
    if (const std::string o = Param(req, "origin"); !o.empty()) {
      v1::Origin origin;
      if (!v1::Origin_Parse(absl::StrCat("ORIGIN_", absl::AsciiStrToUpper(o)), &origin) ||
          origin == v1::ORIGIN_UNSPECIFIED) {
        return Error(absl::InvalidArgumentError(absl::StrCat(
            "origin '", o, "' is none of operator, agent, central_rule, honeypot")));
      }
      r.set_origin(origin);
    }
    v1::ListDecisionsResponse resp;
    if (auto st = c->ListDecisions(r, &resp); !st.ok()) return Error(st);
    return {200, ToJson(resp)};
  }

  Reply Series(const httplib::Request& req) {
    const int64_t now = NowNs();
    const std::string name = Param(req, "name");
    if (name.empty()) {
      std::string out = "{\"series\":[";
      bool first = true;
      for (const auto& [n, e] : c->series().Names()) {
        auto label = SeriesStore::LabelOf(n);
        absl::StrAppend(&out, first ? "" : ",", "{\"name\":", Quote(n), ",\"label\":",
                        Quote(label.ok() ? *label : ""), ",\"values\":[");
        for (size_t i = 0; i < e.first.size(); ++i) {
          absl::StrAppend(&out, i ? "," : "", Quote(e.first[i]));
        }
        out += "],\"agents\":[";
        for (size_t i = 0; i < e.second.size(); ++i) {
          absl::StrAppend(&out, i ? "," : "", Quote(e.second[i]));
        }
        out += "]}";
        first = false;
      }
      return {200, out + "]}"};
    }
    SeriesQuery q;
    q.name = name;
    q.now_s = now / 1000000000;
    q.agent = Param(req, "agent");
    q.by = Param(req, "by");
    if (const std::string s = Param(req, "since"); !s.empty()) {
      auto t = ParseSince(s, now);
      if (!t.ok()) return Error(t.status());
      q.since_s = (now - *t) / 1000000000;
      if (q.since_s <= 0) return Error(absl::InvalidArgumentError("since must be in the past"));
    }
    if (const std::string s = Param(req, "step"); !s.empty()) {
      if (s == "10s") q.step_s = 10;
      else if (s == "5m") q.step_s = 300;
      else if (s == "1h") q.step_s = 3600;
      else if (!absl::SimpleAtoi(s, &q.step_s))
        return Error(absl::InvalidArgumentError(
            absl::StrCat("step '", s, "': the steps kept are 10s, 5m and 1h")));
    }
    auto r = c->series().Query(q);
    if (!r.ok()) return Error(r.status());
    std::string out = absl::StrCat("{\"name\":", Quote(r->name), ",\"step_s\":", r->step_s,
                                   ",\"unit\":\"per_s\",\"by\":", Quote(r->by), ",\"series\":[");
    for (size_t i = 0; i < r->series.size(); ++i) {
      const auto& line = r->series[i];
      absl::StrAppend(&out, i ? "," : "", "{\"label\":", Quote(line.label), ",\"points\":[");
      for (size_t j = 0; j < line.points.size(); ++j) {
        absl::StrAppend(&out, j ? "," : "", "[", line.points[j].first, ",",
                        absl::SixDigits(line.points[j].second), "]");
      }
      out += "]}";
    }
    return {200, out + "]}"};
  }

  Reply Hits(const httplib::Request& req) {
    v1::ListHitsRequest r;
    ListParams l;
    if (auto st = l.Parse(req); !st.ok()) return Error(st);
    r.set_limit(l.limit);
    r.set_since_unix_ns(l.since);
    r.set_src_ip(l.src);
    r.set_callee(Param(req, "callee"));
    r.set_honeypot(Param(req, "honeypot"));
    if (const std::string d = Param(req, "deflected"); !d.empty()) {
      if (d != "true" && d != "false") {
        return Error(absl::InvalidArgumentError("deflected is true or false"));
      }
      r.set_deflected_only(d == "true");
    }
    v1::ListHitsResponse resp;
    if (auto st = c->ListHits(r, &resp); !st.ok()) return Error(st);
    return {200, ToJson(resp)};
  }

  Reply Campaigns(const httplib::Request& req) {
    v1::ListCampaignsRequest r;
    uint32_t limit = 0;
    if (auto st = ParseLimit(req, 100000, &limit); !st.ok()) return Error(st);
    r.set_limit(limit);
    if (const std::string m = Param(req, "min_sources"); !m.empty()) {
      uint32_t n = 0;
      if (!absl::SimpleAtoi(m, &n) || n == 0 || n > 1000000) {
        return Error(absl::InvalidArgumentError(
            absl::StrCat("min_sources '", m, "' is not within 1..1000000")));
      }
      r.set_min_sources(n);
    }
    v1::ListCampaignsResponse resp;
    if (auto st = c->ListCampaigns(r, &resp); !st.ok()) return Error(st);
    return {200, ToJson(resp)};
  }

  Reply Metrics() {
    v1::StatsResponse stats;
    if (auto st = c->FleetStats(&stats); !st.ok()) return Error(st);
    v1::ListAgentsResponse agents;
    if (auto st = c->ListAgents(&agents); !st.ok()) return Error(st);
    std::vector<v1::AgentInfo> list(agents.agents().begin(), agents.agents().end());
    PromText t;
    AddControllerMetrics(stats, list, NowNs(), t);
    t.Gauge("sipwarden_controller_series", "Time series the controller keeps",
            static_cast<double>(c->series().size()));
    t.Counter("sipwarden_controller_series_dropped_total",
              "Series not kept: over the bound on their number",
              static_cast<double>(c->series().dropped()));
    t.Gauge("sipwarden_controller_http_event_streams", "Event streams (/api/v1/events) open",
            streams.load());
    t.Gauge("sipwarden_controller_leader",
            "1 when this controller runs expiry, retention and the central rules (always 1 on "
            "SQLite; one controller of those sharing PostgreSQL)",
            c->leader() ? 1 : 0);
    t.Counter("sipwarden_controller_decision_reloads_total",
              "Times this controller fell behind the shared decision log and reloaded everything",
              static_cast<double>(c->decisions().reloads()));
    // The store's own (PostgreSQL: connections, reconnects, errors); only
    // the keys named here become metrics.
    const auto counters = c->store().Counters();
    auto value = [&](const char* key, double* v) {
      auto it = counters.find(key);
      if (it == counters.end()) return false;
      *v = it->second;
      return true;
    };
    double v = 0;
    if (value("db_reconnects_total", &v)) {
      t.Counter("sipwarden_controller_db_reconnects_total",
                "Connections to PostgreSQL made again after one broke", v);
    }
    if (value("db_errors_total", &v)) {
      t.Counter("sipwarden_controller_db_errors_total", "PostgreSQL calls that failed", v);
    }
    if (value("db_pool_size", &v)) {
      t.Gauge("sipwarden_controller_db_pool_size", "Connections in the PostgreSQL pool (--db-pool)",
              v);
    }
    if (value("db_pool_in_use", &v)) {
      t.Gauge("sipwarden_controller_db_pool_in_use", "PostgreSQL pool connections busy now", v);
    }
    if (value("db_leader", &v)) {
      t.Gauge("sipwarden_controller_db_leader",
              "1 while this controller's session holds the leadership lock", v);
    }
    return {200, t.Take(), "text/plain; version=0.0.4; charset=utf-8"};
  }

  // One live stream: where it is in alarms, decisions and hits.
  struct Cursor {
    int64_t alarm_row = 0;
    uint64_t version = 0;
    uint64_t hit_seq = 0;
    v1::ListAlarmsRequest filter;
    std::chrono::steady_clock::time_point last_write;
    bool hello = false;
    std::string Id() const { return absl::StrCat(alarm_row, "-", version, "-", hit_seq); }
  };

  // Writes what is new to the stream; waits up to 250 ms for news first.
  bool Pump(Cursor& cur, httplib::DataSink& sink) {
    if (stopping || c->stopping()) return false;
    std::string out;
    if (!cur.hello) {
      cur.hello = true;
      out = absl::StrCat("retry: 2000\n: sipwarden events from ", cur.Id(), "\n\n");
    } else {
      c->WaitForAlarms(c->AlarmSeq(), std::chrono::milliseconds(250));
    }
    auto alarms = c->store().AlarmsAfter(cur.alarm_row, 1000);
    if (alarms.ok()) {
      for (auto& [row, a] : *alarms) {
        cur.alarm_row = row;
        if (!AlarmMatches(cur.filter, a)) continue;
        absl::StrAppend(&out, "event: alarm\nid: ", cur.Id(), "\ndata: ", ToJson(a), "\n\n");
      }
    }
    uint64_t v = cur.version;
    if (c->decisions().version() != cur.version) {
      auto changes = c->decisions().ChangesSince(cur.version, &v);
      if (!changes) {
        v = c->decisions().version();
        cur.version = v;
        absl::StrAppend(&out, "event: resync\nid: ", cur.Id(), "\ndata: {\"version\":\"", v,
                        "\"}\n\n");
      } else {
        for (const auto& ch : *changes) {
          cur.version = std::max<uint64_t>(cur.version, ch.version());
          absl::StrAppend(&out, "event: decision\nid: ", cur.Id(), "\ndata: {\"removed\":",
                          ch.kind() == v1::DecisionChange::KIND_SET ? "false" : "true",
                          ",\"kind\":\"", v1::DecisionChange::Kind_Name(ch.kind()),
                          "\",\"version\":\"", ch.version(), "\",\"decision\":",
                          ToJson(ch.decision()), "}\n\n");
        }
        cur.version = std::max(cur.version, v);
      }
    }
    for (auto& [seq, h] : c->HitsAfter(cur.hit_seq)) {
      cur.hit_seq = seq;
      absl::StrAppend(&out, "event: hit\nid: ", cur.Id(), "\ndata: ", ToJson(h), "\n\n");
    }
    const auto now = std::chrono::steady_clock::now();
    if (out.empty() && now - cur.last_write > std::chrono::seconds(15)) out = ": keepalive\n\n";
    if (out.empty()) return true;
    cur.last_write = now;
    return sink.write(out.data(), out.size());
  }

  void Events(const httplib::Request& req, httplib::Response& res) {
    Peer who;
    if (!Admit(req, res, false, {"category", "src", "agent"}, &who)) return;
    auto cur = std::make_shared<Cursor>();
    std::string src;
    if (auto st = ParseAddressParam(req, "src", &src); !st.ok()) return Send(res, Error(st));
    cur->filter.set_category(Param(req, "category"));
    cur->filter.set_src_ip(src);
    cur->filter.set_agent(Param(req, "agent"));
    // Resume from Last-Event-ID ("ALARMROW-VERSION-HITSEQ"), else from now.
    const std::string last = req.get_header_value("Last-Event-ID");
    std::vector<std::string> parts = absl::StrSplit(last, '-');
    if (last.empty() || parts.size() != 3 || !absl::SimpleAtoi(parts[0], &cur->alarm_row) ||
        !absl::SimpleAtoi(parts[1], &cur->version) || !absl::SimpleAtoi(parts[2], &cur->hit_seq)) {
      auto row = c->store().LastAlarmRow();
      if (!row.ok()) return Send(res, Error(row.status()));
      cur->alarm_row = *row;
      cur->version = c->decisions().version();
      cur->hit_seq = c->HitSeq();
    }
    if (streams.fetch_add(1) >= kMaxStreams) {
      --streams;
      return Send(res, Error(absl::UnavailableError(
                           absl::StrCat("too many event streams open (", kMaxStreams, ")"))));
    }
    cur->last_write = std::chrono::steady_clock::now();
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, cur](size_t, httplib::DataSink& sink) { return Pump(*cur, sink); },
        [this](bool) { --streams; });
  }
};

absl::StatusOr<std::unique_ptr<HttpApi>> HttpApi::Start(Controller* c) {
  const auto& o = c->options();
  IpAddress addr;
  uint16_t port = 0;
  if (auto st = ParseHostPort(o.http_listen, &addr, &port); !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--http-listen ", o.http_listen, ": ", st.message()));
  }
  auto api = std::unique_ptr<HttpApi>(new HttpApi());
  api->impl_ = std::make_unique<Impl>();
  Impl& im = *api->impl_;
  im.c = c;
  im.tls = !o.tls_cert.empty();
  if (!o.http_tokens.empty()) {
    std::ifstream in(o.http_tokens, std::ios::binary);
    if (!in.is_open()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--http-tokens ", o.http_tokens, ": cannot open it"));
    }
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--http-tokens ", o.http_tokens, ": cannot read it"));
    }
    auto tokens = ParseHttpTokens(text);
    if (!tokens.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--http-tokens ", o.http_tokens, ": ", tokens.status().message()));
    }
    if (tokens->empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--http-tokens ", o.http_tokens, ": no tokens in the file"));
    }
    im.tokens = std::move(*tokens);
  }
  im.open = !im.tls && im.tokens.empty();
  if (!im.tls && !IsLoopbackHost(addr) && !o.insecure) {
    return absl::FailedPreconditionError(absl::StrCat(
        "refusing to serve HTTP on ", o.http_listen,
        " without TLS: only loopback addresses are served in the clear (give --insecure to "
        "serve this address anyway)"));
  }
  if (im.tls) {
    const std::string cert = o.tls_cert, key = o.tls_key, ca = o.tls_ca;
    // Client certificates are asked for, not required (tokens work too), and
    // checked by the Authenticator against --tls-ca.
    im.server = std::make_unique<httplib::SSLServer>([cert, key, ca](SSL_CTX& ctx) {
      if (SSL_CTX_use_certificate_chain_file(&ctx, cert.c_str()) != 1) return false;
      if (SSL_CTX_use_PrivateKey_file(&ctx, key.c_str(), SSL_FILETYPE_PEM) != 1) return false;
      if (SSL_CTX_check_private_key(&ctx) != 1) return false;
      SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
      if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(ca.c_str())) {
        SSL_CTX_set_client_CA_list(&ctx, names);
      }
      SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER, [](int, X509_STORE_CTX*) { return 1; });
      return true;
    });
    if (!im.server->is_valid()) {
      return absl::InvalidArgumentError(
          "HTTPS: cannot load --tls-cert / --tls-key (a PEM certificate chain and its key)");
    }
  } else {
    im.server = std::make_unique<httplib::Server>();
  }
  httplib::Server& s = *im.server;
  s.new_task_queue = [] { return new httplib::ThreadPool(kMaxStreams + 8); };
  // cpp-httplib's default adds SO_REUSEPORT, which would let a second
  // process bind the same port and take half the connections.
  s.set_socket_options([](socket_t fd) {
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  });
  s.set_address_family(addr.is_v4() ? AF_INET : AF_INET6);
  s.set_payload_max_length(kMaxBody);
  s.set_read_timeout(10, 0);
  s.set_write_timeout(10, 0);
  s.set_keep_alive_timeout(30);
  s.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty()) {
      res.set_content(ErrorJson(res.status, res.status == 404   ? "no such page or call"
                                            : res.status == 413 ? "the body is over 64 KiB"
                                                                : "bad request"),
                      "application/json");
    }
  });
  s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    res.status = 500;
    res.set_content(ErrorJson(500, "internal error"), "application/json");
  });
  s.set_default_headers({{"X-Content-Type-Options", "nosniff"},
                         {"Cache-Control", "no-store"}});

  Impl* p = &im;
  using Req = const httplib::Request&;
  using Res = httplib::Response&;
  s.Get("/api/v1/whoami", [p](Req req, Res res) {
    p->Handle(req, res, false, {}, [&](const Peer& who) -> Reply {
      return {200, absl::StrCat("{\"name\":", Quote(who.name), ",\"role\":\"", RoleName(who.role),
                                "\"}")};
    });
  });
  s.Get("/api/v1/alarms", [p](Req req, Res res) {
    p->Handle(req, res, false, {"category", "src", "agent", "since", "limit"},
              [&](const Peer&) { return p->Alarms(req); });
  });
  struct Kind {
    const char* path;
    v1::Action action;
  };
  for (const Kind k : {Kind{"blocks", v1::ACTION_BLOCK}, Kind{"graylists", v1::ACTION_GRAYLIST},
                       Kind{"allows", v1::ACTION_ALLOW}}) {
    s.Get(absl::StrCat("/api/v1/", k.path), [p, k](Req req, Res res) {
      p->Handle(req, res, false, {"within", "origin", "limit", "page_token"},
                [&](const Peer&) { return p->Decisions(req, k.action); });
    });
    if (k.action == v1::ACTION_GRAYLIST) continue;  // set by the honeypot policy only
    s.Post(absl::StrCat("/api/v1/", k.path), [p, k](Req req, Res res) {
      p->Handle(req, res, true, {}, [&](const Peer& who) -> Reply {
        absl::StatusOr<v1::Decision> d;
        if (k.action == v1::ACTION_BLOCK) {
          v1::BlockRequest r;
          if (auto st = FromJson(req.body, &r); !st.ok()) return Impl::Error(st);
          if (r.prefix().empty()) return Impl::Error(absl::InvalidArgumentError("prefix is required"));
          d = p->c->Block(who, r);
        } else {
          v1::AllowRequest r;
          if (auto st = FromJson(req.body, &r); !st.ok()) return Impl::Error(st);
          if (r.prefix().empty()) return Impl::Error(absl::InvalidArgumentError("prefix is required"));
          d = p->c->Allow(who, r);
        }
        if (!d.ok()) return Impl::Error(d.status());
        return {201, ToJson(*d)};
      });
    });
  }
  for (const Kind k : {Kind{"blocks", v1::ACTION_BLOCK}, Kind{"graylists", v1::ACTION_GRAYLIST},
                       Kind{"allows", v1::ACTION_ALLOW}}) {
    s.Delete(absl::StrCat("/api/v1/", k.path, "/(.+)"), [p, k](Req req, Res res) {
      p->Handle(req, res, true, {}, [&](const Peer& who) -> Reply {
        const std::string prefix = httplib::detail::decode_url(req.matches[1], false);
        auto d = k.action == v1::ACTION_ALLOW ? p->c->Disallow(who, prefix) : p->c->Unblock(who, prefix);
        if (!d.ok()) return Impl::Error(d.status());
        return {200, ToJson(*d)};
      });
    });
  }
  s.Get("/api/v1/agents", [p](Req req, Res res) {
    p->Handle(req, res, false, {}, [&](const Peer&) -> Reply {
      v1::ListAgentsResponse resp;
      if (auto st = p->c->ListAgents(&resp); !st.ok()) return Impl::Error(st);
      return {200, ToJson(resp)};
    });
  });
  s.Get("/api/v1/stats", [p](Req req, Res res) {
    p->Handle(req, res, false, {}, [&](const Peer&) -> Reply {
      v1::StatsResponse resp;
      if (auto st = p->c->FleetStats(&resp); !st.ok()) return Impl::Error(st);
      return {200, ToJson(resp)};
    });
  });
  s.Get("/api/v1/hits", [p](Req req, Res res) {
    p->Handle(req, res, false, {"src", "callee", "honeypot", "since", "limit", "deflected"},
              [&](const Peer&) { return p->Hits(req); });
  });
  s.Get("/api/v1/campaigns", [p](Req req, Res res) {
    p->Handle(req, res, false, {"min_sources", "limit"},
              [&](const Peer&) { return p->Campaigns(req); });
  });
  s.Get("/api/v1/series", [p](Req req, Res res) {
    p->Handle(req, res, false, {"name", "since", "step", "agent", "by"},
              [&](const Peer&) { return p->Series(req); });
  });
  s.Get("/api/v1/events", [p](Req req, Res res) { p->Events(req, res); });
  s.Get("/metrics", [p](Req req, Res res) {
    p->Handle(req, res, false, {}, [&](const Peer&) { return p->Metrics(); });
  });
  s.Get("/api/.*", [](Req, Res res) {
    res.status = 404;
    res.set_content(ErrorJson(404, "no such call (see docs/api.md)"), "application/json");
  });
  s.Get("/.*", [](Req req, Res res) {
    const WebAsset* a = FindWebAsset(req.path);
    if (a == nullptr) {
      res.status = 404;
      res.set_content(ErrorJson(404, "no such page"), "application/json");
      return;
    }
    res.set_header("Content-Security-Policy",
                   "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                   "frame-ancestors 'none'");
    res.set_content(std::string(a->body), std::string(a->content_type));
  });

  std::string host = addr.ToString();
  const int bound = port == 0 ? s.bind_to_any_port(host) : (s.bind_to_port(host, port) ? port : -1);
  if (bound <= 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", o.http_listen, " (HTTP)"));
  }
  api->port_ = bound;
  im.thread = std::thread([p] { p->server->listen_after_bind(); });
  // Serving before returning: a stop() that came before the listening loop
  // had begun would be lost, and the loop would never end.
  for (int i = 0; i < 5000 && !s.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!s.is_running()) {
    s.stop();
    im.thread.join();
    return absl::UnavailableError(absl::StrCat("HTTP on ", o.http_listen, " did not start"));
  }
  return api;
}

void HttpApi::Stop() {
  if (!impl_ || impl_->stopping.exchange(true)) return;
  if (!impl_->server) return;  // refused before serving
  impl_->server->stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

HttpApi::~HttpApi() { Stop(); }

}  // namespace sw::controller
