// SPDX-License-Identifier: BSD-2-Clause
// Micro-benchmark of the correlation engine alone: a VoIP ruleset of the kind
// the default one will be, over pre-built SIP events of tens of thousands of
// concurrent dialogs plus registrations and a little scanning. Prints one
// JSON line: {"bench":"rules_engine","metric":"events_per_s",...}.
//
//   sw_rules_bench [passes] [calls_per_pass] [rules.yaml]
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "sipwarden/rules/engine.h"
#include "sipwarden/rules/ruleset.h"

namespace {

using sw::IpAddress;
using sw::ev::SipEvent;
constexpr int64_t kS = 1'000'000'000;
constexpr int64_t kMs = 1'000'000;

constexpr char kRules[] = R"yaml(
defaults: {alarm_suppress: 60s, alarm_update_every: 10s}
rules:
  - name: invite-flood
    type: SingleWithThreshold
    match: {method: INVITE}
    key: [src_ip]
    window: 1s
    threshold: 200
    window_type: fixed
    actions:
      - alarm: {signature: "INVITE flood", category: flood, severity: 1}
      - rate_limit: {rate: 50, ttl: 5m}
  - name: register-flood
    type: SingleWithThreshold
    match: {method: REGISTER}
    key: [src_ip]
    window: 1s
    threshold: 200
    window_type: fixed
    actions: [{alarm: {signature: "REGISTER flood", category: flood}}]
  - name: auth-failures-per-source
    type: SingleWithThreshold
    match: {status: [401, 403, 407]}
    key: [dst_ip]
    window: 60s
    threshold: 5000
    window_type: fixed
    actions: [{alarm: {signature: "password guessing", category: bruteforce}}]
  - name: auth-failures-per-user
    type: SingleWithThreshold
    match: {status: 403}
    key: [to_user]
    distinct: [dst_ip]
    window: 5m
    threshold: 10
    actions: [{alarm: {signature: "distributed password guessing", category: bruteforce}}]
  - name: enumeration
    type: SingleWithThreshold
    match: {status: 404}
    key: [dst_ip]
    distinct: [to_user]
    window: 60s
    threshold: 20
    actions: [{alarm: {signature: "extension enumeration", category: enumeration}}]
  - name: scanner-ua
    type: Single
    match:
      request: true
      user_agent: {regex: "(?i)friendly-scanner|sipcli|sipvicious|sip-scan|sipsak"}
    key: [src_ip]
    actions: [{alarm: {signature: "SIP scanner", category: scanner-signature, severity: 1}}]
  - name: invite-ok
    type: PairWithWindow
    match: {method: INVITE}
    key: [call_id]
    match2: {status: 200, cseq_method: INVITE}
    window: 32s
    actions2:
      - emit:
          name: invite-ok
          copy: [call_id]
          fields: {caller: "${first.src_ip}", caller_media: "${first.media}",
                   callee_media: "${media}"}
  - name: await-ack
    type: PairWithWindow
    match: {name: invite-ok}
    key: [call_id]
    match2: {method: ACK}
    window: 32s
    actions: [{emit: {name: broken-handshake, copy: [call_id, field.caller]}}]
  - name: broken-handshake-flood
    type: SingleWithThreshold
    match: {name: broken-handshake}
    key: [field.caller]
    window: 60s
    threshold: 20
    actions: [{alarm: {signature: "broken handshake flood", category: handshake}}]
  - name: invite-ok-bye
    type: Pair
    match: {name: invite-ok}
    key: [call_id]
    match2: {method: BYE}
    window: 4h
    actions2:
      - emit: {name: invite-ok-bye, copy: [call_id], fields: {media: "${first.field.caller_media}"}}
  - name: foreign-cancel
    type: Pair
    match: {method: INVITE}
    key: [call_id]
    match2: {method: CANCEL, src_ip: {ne_first: src_ip}}
    window: 60s
    actions2: [{alarm: {signature: "CANCEL from a third party", category: cancel}}]
  - name: media-after-end
    type: Single
    match: {type: rtp, reason: media_after_end}
    key: [dst_ip, dst_port]
    actions: [{alarm: {signature: "media after the end of a call", category: teardown}}]
  - name: auep-missing
    type: Calendar
    every: 1h
    context: "!auep"
    actions: [{alarm: {signature: "no AUEP", category: audit-missing}}]
)yaml";

// Events are described compactly and filled into reused SipEvent objects, as
// a parser would fill them: the engine then sees events that are hot in the
// cache, like in the agent. The fill cost is measured alone and subtracted.
enum Kind : uint8_t {
  kInvite,
  k100,
  k180,
  k200Invite,
  kAck,
  kBye,
  k200Bye,
  kRegister,
  k401,
  kRegisterAuth,
  k200Register,
  kOptions,
  k404,
  kKinds
};

struct Compact {
  int64_t off;
  uint32_t call;
  uint32_t caller;
  Kind kind;
};

struct Gen {
  std::vector<Compact> events;
  int64_t period = 0;
};

// One period of traffic that tiles: a call that starts late in a period ends
// early in the next one, under the same Call-ID.
Gen Generate(int calls) {
  Gen g;
  const int64_t dt = 1 * kMs;
  g.period = calls * dt;
  const int64_t duration = 30 * kS;
  for (int i = 0; i < calls; ++i) {
    const uint32_t caller = static_cast<uint32_t>(i % 60000);
    const int64_t t = i * dt;
    auto add = [&](int64_t off, Kind k, uint32_t who = UINT32_MAX) {
      g.events.push_back(
          {(t + off) % g.period, static_cast<uint32_t>(i), who == UINT32_MAX ? caller : who, k});
    };
    add(0, kInvite);
    add(10 * kMs, k100);
    add(50 * kMs, k180);
    add(2 * kS, k200Invite);
    add(2 * kS + 20 * kMs, kAck);
    add(duration, kBye);
    add(duration + 10 * kMs, k200Bye);
    if (i % 5 == 0) {  // registrations with a challenge
      add(0, kRegister);
      add(5 * kMs, k401);
      add(10 * kMs, kRegisterAuth);
      add(15 * kMs, k200Register);
    }
    if (i % 100 == 0) {  // a scanner's OPTIONS and the 404 it gets
      add(3 * kMs, kOptions, 70000 + i % 7);
      add(4 * kMs, k404, 70000 + i % 7);
    }
  }
  std::stable_sort(g.events.begin(), g.events.end(),
                   [](const Compact& a, const Compact& b) { return a.off < b.off; });
  return g;
}

class Filler {
 public:
  Filler() {
    for (int k = 0; k < kKinds; ++k) {
      SipEvent& e = proto_[k];
      const bool req = k == kInvite || k == kAck || k == kBye || k == kRegister ||
                       k == kRegisterAuth || k == kOptions;
      e.is_request = req;
      const char* method = (k == kInvite || k == k100 || k == k180 || k == k200Invite) ? "INVITE"
                           : k == kAck                                                 ? "ACK"
                           : (k == kBye || k == k200Bye)                               ? "BYE"
                           : (k == kOptions || k == k404)                              ? "OPTIONS"
                                                                                       : "REGISTER";
      e.method = method;
      e.cseq_method = method;
      e.status = k == k100                                                ? 100
                 : k == k180                                              ? 180
                 : k == k401                                              ? 401
                 : k == k404                                              ? 404
                 : (k == k200Invite || k == k200Bye || k == k200Register) ? 200
                                                                          : 0;
      e.cseq = 1;
      e.from.tag = "f1";
      e.user_agent = k == kOptions ? "friendly-scanner" : "Linphone/5.0";
      e.via_hosts = {"10.0.0.1"};
      e.flow.sport = e.flow.dport = 5060;
      if (k == kInvite || k == k200Invite) {
        e.sdp.emplace();
        e.sdp->conn = "10.1.2.3";
        e.sdp->media.push_back({"audio", 40000, "RTP/AVP", "", {0}});
      }
      if (k == kRegisterAuth) e.has_auth = true;
    }
  }

  const SipEvent& Fill(const Compact& c, int64_t ts) {
    SipEvent& e = proto_[c.kind];
    e.flow.ts_ns = ts;
    uint8_t a[4] = {10, static_cast<uint8_t>(c.caller >> 16), static_cast<uint8_t>(c.caller >> 8),
                    static_cast<uint8_t>(c.caller)};
    const IpAddress ua = IpAddress::FromV4(a);
    const bool from_ua = e.is_request;
    e.flow.src = from_ua ? ua : proxy_;
    e.flow.dst = from_ua ? proxy_ : ua;
    const bool reg = c.kind >= kRegister && c.kind <= k200Register;
    e.call_id = reg ? reg_ids_[c.call / 5] : call_ids_[c.call];
    const uint32_t from = c.caller % 5000, to = (c.caller * 7 + 3) % 5000;
    e.from.user = users_[from];
    e.from.uri = uris_[from];
    e.to.user = users_[to];
    e.to.uri = uris_[to];
    if (e.has_auth) e.auth_user = users_[from];
    return e;
  }

  void Init(int calls) {
    for (int i = 0; i < calls; ++i) call_ids_.push_back(absl::StrCat("call-", i, "@10.0.0.1"));
    for (int i = 0; i < calls; i += 5) reg_ids_.push_back(absl::StrCat("reg-", i, "@10.0.0.1"));
    uint8_t p[4] = {192, 0, 2, 1};
    proxy_ = IpAddress::FromV4(p);
    for (int u = 0; u < 5000; ++u) {
      users_.push_back(absl::StrCat("u", u));
      uris_.push_back(absl::StrCat("sip:u", u, "@example.com"));
    }
  }

 private:
  SipEvent proto_[kKinds];
  IpAddress proxy_;
  std::vector<std::string> users_, uris_, call_ids_, reg_ids_;
};

}  // namespace

int main(int argc, char** argv) {
  const int passes = argc > 1 ? std::atoi(argv[1]) : 6;
  const int calls = argc > 2 ? std::atoi(argv[2]) : 80000;
  std::vector<sw::rules::ConfigError> errors;
  auto rules = argc > 3 ? sw::rules::LoadRuleFile(argv[3], &errors)
                        : sw::rules::LoadRuleText(kRules, "bench.yaml", &errors);
  if (!rules.ok()) {
    for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.ToString().c_str());
    return 1;
  }
  Gen g = Generate(calls);
  Filler filler;
  filler.Init(calls);
  sw::rules::EngineSinks sinks;
  uint64_t verdicts = 0;
  sinks.rate_limit = [&](const sw::rules::RateLimitVerdict&) { ++verdicts; };
  sw::rules::Engine engine(*rules, sinks);
  const int64_t base = 1'700'000'000 * kS;
  // CPU time of this thread: other processes on a shared machine do not count.
  auto now = [] {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return std::chrono::nanoseconds(static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec);
  };
  double engine_s = 0, fill_s = 0, best = 0;
  uint64_t total = 0, checksum = 0;
  size_t max_open = 0;
  for (int p = 0; p < passes; ++p) {
    const int64_t shift = base + p * g.period;
    // The fill alone, then fill and engine.
    auto t0 = now();
    for (const auto& c : g.events) checksum += filler.Fill(c, c.off + shift).call_id.size();
    auto t1 = now();
    for (const auto& c : g.events) engine.OnSip(filler.Fill(c, c.off + shift));
    auto t2 = now();
    const double fs = std::chrono::duration<double>(t1 - t0).count();
    const double es = std::chrono::duration<double>(t2 - t1).count() - fs;
    size_t open = 0;
    for (const auto& r : engine.rule_stats()) open += r.open;
    max_open = std::max(max_open, open);
    std::fprintf(stderr,
                 "pass %d: %zu events, engine %.3f s = %.0f events/s (fill %.3f s), %zu "
                 "operations open\n",
                 p, g.events.size(), es, static_cast<double>(g.events.size()) / es, fs, open);
    if (p > 0) {  // the first pass warms the tables up
      best = std::max(best, static_cast<double>(g.events.size()) / es);
      total += g.events.size();
      engine_s += es;
      fill_s += fs;
    }
  }
  for (const auto& r : engine.rule_stats()) {
    std::fprintf(stderr, "  %-26s matched=%-9lu fired=%-8lu ops=%-8lu open=%-7zu evicted=%lu\n",
                 r.name.c_str(), static_cast<unsigned long>(r.matched),
                 static_cast<unsigned long>(r.fired), static_cast<unsigned long>(r.operations),
                 r.open, static_cast<unsigned long>(r.evicted));
  }
  const auto& st = engine.stats();
  std::fprintf(stderr, "alarms=%lu (+%lu updates) verdicts=%lu synthetic=%lu late=%lu (%lu)\n",
               static_cast<unsigned long>(st.alarms), static_cast<unsigned long>(st.alarm_updates),
               static_cast<unsigned long>(verdicts), static_cast<unsigned long>(st.synthetic),
               static_cast<unsigned long>(st.late_events), static_cast<unsigned long>(checksum));
  const double rate = engine_s > 0 ? static_cast<double>(total) / engine_s : 0;
  std::printf(
      "{\"bench\":\"rules_engine\",\"metric\":\"events_per_s\",\"value\":%.0f,\"unit\":"
      "\"events/s\",\"rules\":%zu,\"max_open_operations\":%zu,\"best_pass\":%.0f,"
      "\"with_fill\":%.0f}\n",
      rate, (*rules)->size(), max_open, best, static_cast<double>(total) / (engine_s + 2 * fill_s));
  return 0;
}
