// SPDX-License-Identifier: BSD-2-Clause
// Single and SingleWithSuppress rules, field conditions and dispatch, alarm
// suppression, verdicts, contexts (lifetimes, negation, expiry actions).
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <random>
#include <string>
#include <vector>

#include "rules_test_util.h"

namespace sw::rules::testing {
namespace {

TEST(Single, ScannerUserAgentRaisesOneAlarmPerSourceWithCount) {
  Harness h(R"(
rules:
  - name: scanner-ua
    type: Single
    match:
      type: sip
      request: true
      user_agent: {regex: "friendly-scanner|sipcli|sipvicious", nocase: true}
    key: [src_ip]
    actions:
      - alarm: {signature: "SIP scanner ${user_agent}", category: scanner-signature,
                severity: 1, suppress: 60s, update_every: 0s}
      - block: {ttl: 10m}
)");
  h.Feed(Sip("OPTIONS").At(kT0).UA("friendly-scanner"));
  h.Feed(Sip("OPTIONS").At(kT0 + kS).UA("Friendly-Scanner"));
  h.Feed(Sip("REGISTER").At(kT0 + 2 * kS).UA("SIPVicious 0.3").Src("203.0.113.9"));
  h.Feed(Sip("INVITE").At(kT0 + 3 * kS).UA("Linphone"));
  h.Feed(Sip("200").At(kT0 + 4 * kS).UA("friendly-scanner"));  // a response: no
  ASSERT_EQ(h.alarms.size(), 2u);
  EXPECT_EQ(h.alarms[0].signature, "SIP scanner friendly-scanner");
  EXPECT_EQ(h.alarms[0].category, "scanner-signature");
  EXPECT_EQ(h.alarms[0].severity, 1);
  EXPECT_EQ(h.alarms[0].rule, "scanner-ua");
  EXPECT_EQ(h.alarms[0].src.ToString(), "192.0.2.10");
  EXPECT_EQ(h.alarms[0].action, AlarmOutcome::kBlocked);
  EXPECT_EQ(h.alarms[0].method, "OPTIONS");
  EXPECT_EQ(h.alarms[0].call_id, "call-1");
  EXPECT_EQ(h.alarms[1].src.ToString(), "203.0.113.9");
  ASSERT_EQ(h.blocks.size(), 3u);  // every match acts; only the alarm is suppressed
  EXPECT_EQ(h.blocks[0].prefix.ToString(), "192.0.2.10/32");
  EXPECT_EQ(h.blocks[0].ttl_ns, 600 * kS);
  EXPECT_EQ(h.blocks[0].reason, "scanner-signature");
  // The source stays quiet: the suppressed alarm reports its final count once.
  h.Advance(kT0 + 62 * kS);
  ASSERT_EQ(h.alarms.size(), 3u);
  EXPECT_TRUE(h.alarms[2].update);
  EXPECT_EQ(h.alarms[2].id, h.alarms[0].id);
  EXPECT_EQ(h.alarms[2].count, 2u);
  EXPECT_EQ(h.alarms[2].ts_ns, kT0 + 61 * kS);  // last event + suppress
  EXPECT_EQ(h.alarms[2].first_ns, kT0);
}

TEST(Single, FieldOperators) {
  Harness h(R"(
rules:
  - name: r
    type: Single
    match:
      src_ip: [10.0.0.0/8, 2001:db8::/32]
      status: [401, 403, 407, 5xx]
      to_user: {prefix: ["00", "+"], not_in: ["0044"]}
      cseq: {range: [1, 10]}
      not: {from_user: {eq_field: to_user}}
      any:
        - user_agent: {contains: bot}
        - user_agent: {exists: false}
    actions:
      - alarm: {signature: "x ${status} ${to_user}", category: anomaly, suppress: 0s}
)");
  auto r = [](int status) {
    return Sip(std::to_string(status)).Src("10.1.2.3").To("0049123").From("alice");
  };
  h.Feed(r(401));                                    // yes (no UA)
  h.Feed(r(503).UA("mybot/1"));                      // yes
  h.Feed(r(404));                                    // status no
  h.Feed(r(403).UA("phone"));                        // any: no
  h.Feed(r(407).Src("192.0.2.1"));                   // address no
  h.Feed(r(407).To("0044777"));                      // yes: not_in is exact
  h.Feed(r(407).To("0044"));                         // not_in exact: no
  h.Feed(r(407).To("bob"));                          // prefix no
  h.Feed(r(407).From("0049123"));                    // from == to: no
  h.Feed(Sip("401").Src("2001:db8::5").To("+331"));  // IPv6 prefix yes
  auto cseq = r(401);
  cseq.e.cseq = 11;
  h.Feed(cseq);  // range no
  ASSERT_EQ(h.alarms.size(), 4u);
  EXPECT_EQ(h.alarms[0].signature, "x 401 0049123");
  EXPECT_EQ(h.alarms[1].signature, "x 503 0049123");
  EXPECT_EQ(h.alarms[2].signature, "x 407 0044777");
  EXPECT_EQ(h.alarms[3].signature, "x 401 +331");
  EXPECT_EQ(h.alarms[3].status, 401);
  EXPECT_EQ(h.alarms[3].src.ToString(), "2001:db8::5");
}

TEST(Single, MethodMeansRequestsAndContinueFalseStops) {
  Harness h(R"(
rules:
  - name: first
    type: Single
    continue: false
    match: {method: BYE, src_ip: 203.0.113.0/24}
    actions: [{emit: {name: stopped}}]
  - name: invites
    type: Single
    match: {method: [INVITE, BYE]}
    actions: [{emit: {name: request, copy: [method]}}]
  - name: responses
    type: Single
    match: {status: 2xx, cseq_method: INVITE}
    actions: [{emit: {name: response, copy: [status]}}]
)");
  h.Feed(Sip("INVITE"));
  h.Feed(Sip("200"));
  h.Feed(Sip("BYE"));
  h.Feed(Sip("BYE").Src("203.0.113.7"));  // taken by the first rule only
  h.Feed(Sip("180"));
  EXPECT_EQ(h.SyntheticNames(),
            (std::vector<std::string>{"request", "response", "request", "stopped"}));
  EXPECT_EQ(*h.synthetic[1].Find("status"), "200");
  EXPECT_EQ(h.Stats("invites").matched, 2u);
}

TEST(SingleWithSuppress, ActsOnceThenSuppressesUntilTheWindowEnds) {
  Harness h(R"(
rules:
  - name: reg-unknown
    type: SingleWithSuppress
    match: {status: 404, cseq_method: REGISTER}
    key: [dst_ip]
    window: 10s
    actions:
      - alarm: {signature: "404 to REGISTER", category: scan, suppress: 0s}
)");
  auto ev = [](int64_t t) { return Sip("404").CseqMethod("REGISTER").At(t); };
  h.Feed(ev(kT0));
  h.Feed(ev(kT0 + 5 * kS));
  h.Feed(ev(kT0 + 10 * kS));  // exactly at the window's end: still suppressed
  EXPECT_EQ(h.alarms.size(), 1u);
  h.Feed(ev(kT0 + 10 * kS + 1));  // past it: acts again
  EXPECT_EQ(h.alarms.size(), 2u);
  h.Feed(ev(kT0 + 11 * kS).Dst("198.51.100.2"));  // another key
  EXPECT_EQ(h.alarms.size(), 3u);
  EXPECT_EQ(h.Stats("reg-unknown").absorbed, 2u);
}

TEST(Alarms, ContinuingEventsUpdateTheAlarmRatherThanRepeatIt) {
  Harness h(R"(
rules:
  - name: noisy
    type: Single
    match: {method: OPTIONS}
    key: [src_ip]
    actions:
      - alarm: {signature: "OPTIONS", category: scan, suppress: 30s, update_every: 10s}
)");
  for (int i = 0; i <= 100; ++i) h.Feed(Sip("OPTIONS").At(kT0 + i * kS / 4));  // 25 s
  auto fresh = h.NewAlarms();
  ASSERT_EQ(fresh.size(), 1u);
  // Updates at most every 10 s of event time, each with the running count.
  ASSERT_EQ(h.alarms.size(), 3u);
  EXPECT_EQ(h.alarms[1].count, 41u);  // at +10 s
  EXPECT_EQ(h.alarms[2].count, 81u);  // at +20 s
  h.Advance(kT0 + 60 * kS);
  ASSERT_EQ(h.alarms.size(), 4u);
  EXPECT_EQ(h.alarms[3].count, 101u);
  EXPECT_EQ(h.alarms[3].ts_ns, kT0 + 55 * kS);
  EXPECT_EQ(h.engine->stats().alarms, 1u);
  EXPECT_EQ(h.engine->stats().alarm_updates, 3u);
  // Quiet long enough: the next one is a new alarm.
  h.Feed(Sip("OPTIONS").At(kT0 + 100 * kS));
  EXPECT_EQ(h.NewAlarms().size(), 2u);
}

TEST(Verdicts, RateLimitAndWatchMedia) {
  Harness h(R"(
rules:
  - name: limit
    type: Single
    match: {method: REGISTER}
    actions:
      - rate_limit: {rate: 5, burst: 10, ttl: 2m, prefix_len: 24}
  - name: watch
    type: Single
    match: {status: 200, has_sdp: true}
    actions:
      - watch_media: {ttl: 30s}
      - alarm: {signature: w, category: anomaly}
)");
  h.Feed(Sip("REGISTER").Src("192.0.2.77"));
  ASSERT_EQ(h.limits.size(), 1u);
  EXPECT_EQ(h.limits[0].prefix.ToString(), "192.0.2.0/24");
  EXPECT_EQ(h.limits[0].rate, 5);
  EXPECT_EQ(h.limits[0].burst, 10u);
  EXPECT_EQ(h.limits[0].ttl_ns, 120 * kS);
  h.Feed(Sip("200").Media("198.51.100.20", 40000).Call("abc"));
  ASSERT_EQ(h.watches.size(), 1u);
  EXPECT_EQ(h.watches[0].call_id, "abc");
  ASSERT_EQ(h.watches[0].endpoints.size(), 1u);
  EXPECT_EQ(h.watches[0].endpoints[0].addr.ToString(), "198.51.100.20");
  EXPECT_EQ(h.watches[0].endpoints[0].port, 40000);
  ASSERT_EQ(h.alarms.size(), 1u);
  EXPECT_EQ(h.alarms[0].action, AlarmOutcome::kWatched);
}

constexpr char kContextRules[] = R"(
rules:
  - name: remember-caller
    type: Single
    match: {method: INVITE}
    actions:
      - create_context: {name: "caller:${call_id}:${src_ip}", lifetime: 60s}
      - create_context:
          name: "await-ack:${call_id}"
          lifetime: 5s
          on_expiry:
            - emit: {name: no-ack, copy: [call_id, src_ip, from_user]}
  - name: acked
    type: Single
    match: {method: ACK}
    actions:
      - delete_context: "await-ack:${call_id}"
  - name: cancel-from-stranger
    type: Single
    match: {method: CANCEL}
    context: "!caller:${call_id}:${src_ip}"
    actions:
      - alarm: {signature: "CANCEL from a party other than the caller", category: cancel}
  - name: keep-alive
    type: Single
    match: {method: INFO}
    actions:
      - set_context: {name: "await-ack:${call_id}", lifetime: 20s}
)";

TEST(Contexts, NegatedContextTestsTheCaller) {
  Harness h(kContextRules);
  h.Feed(Sip("INVITE").Call("c1").Src("192.0.2.10"));
  EXPECT_TRUE(h.engine->HasContext("caller:c1:192.0.2.10"));
  h.Feed(Sip("CANCEL").Call("c1").Src("192.0.2.10").At(kT0 + kS));  // the caller: fine
  EXPECT_TRUE(h.alarms.empty());
  h.Feed(Sip("CANCEL").Call("c1").Src("203.0.113.66").At(kT0 + 2 * kS));
  ASSERT_EQ(h.alarms.size(), 1u);
  EXPECT_EQ(h.alarms[0].category, "cancel");
  EXPECT_EQ(h.alarms[0].src.ToString(), "203.0.113.66");
}

// A context created again takes the new creator's fields (its snapshot's
// storage is reused, so nothing of the first creator may remain).
TEST(Contexts, CreatedAgainExpiresWithTheLatestCreatorsFields) {
  Harness h(kContextRules);
  h.Feed(Sip("INVITE").Call("c1").From("a-much-longer-first-caller-name").Src("192.0.2.10").At(kT0));
  h.Feed(Sip("INVITE").Call("c1").From("bob").Src("192.0.2.77").At(kT0 + kS));
  h.Advance(kT0 + 6 * kS + 1);
  ASSERT_EQ(h.synthetic.size(), 1u);
  EXPECT_EQ(h.synthetic[0].ts_ns, kT0 + 6 * kS);
  EXPECT_EQ(*h.synthetic[0].Find("from_user"), "bob");
  EXPECT_EQ(*h.synthetic[0].Find("src_ip"), "192.0.2.77");
}

TEST(Contexts, ExpiryRunsActionsWithTheCreatorsFieldsAtTheExpiryTime) {
  Harness h(kContextRules);
  h.Feed(Sip("INVITE").Call("c1").From("alice").At(kT0));
  h.Feed(Sip("INVITE").Call("c2").From("carol").At(kT0 + kS));
  h.Feed(Sip("ACK").Call("c2").At(kT0 + 2 * kS));  // deleted: no expiry action
  h.Advance(kT0 + 5 * kS);                         // exactly at the end: still alive
  EXPECT_TRUE(h.synthetic.empty());
  EXPECT_TRUE(h.engine->HasContext("await-ack:c1"));
  h.Advance(kT0 + 5 * kS + 1);
  ASSERT_EQ(h.synthetic.size(), 1u);
  EXPECT_EQ(h.synthetic[0].name, "no-ack");
  EXPECT_EQ(h.synthetic[0].ts_ns, kT0 + 5 * kS);
  EXPECT_EQ(*h.synthetic[0].Find("call_id"), "c1");
  EXPECT_EQ(*h.synthetic[0].Find("from_user"), "alice");
  EXPECT_EQ(*h.synthetic[0].Find("src_ip"), "192.0.2.10");
  EXPECT_FALSE(h.engine->HasContext("await-ack:c1"));
  h.Advance(kT0 + 100 * kS);
  EXPECT_EQ(h.synthetic.size(), 1u);
  EXPECT_EQ(h.engine->stats().contexts_expired, 3u);  // await-ack:c1, two caller contexts
  EXPECT_EQ(h.engine->stats().contexts_deleted, 1u);
}

// Timers fire in deadline order, ties in the order they were armed, across
// every queue the engine keeps: 40 context lifetimes give 32 per-duration
// FIFOs (the most it keeps) and 8 durations whose timers go to the heap.
TEST(Contexts, ExpiriesOfFortyLifetimesFireInDeadlineOrder) {
  std::string yaml = "rules:\n";
  constexpr int kRules = 40;
  auto lifetime_ms = [](int i) { return int64_t{1000} + 37 * int64_t{i}; };
  for (int i = 0; i < kRules; ++i) {
    yaml += "  - name: r" + std::to_string(i) + "\n    type: Single\n" +
            "    match: {method: INVITE, call_id: {prefix: \"w" + std::to_string(i) + "-\"}}\n" +
            "    actions:\n      - create_context:\n          name: \"c:${call_id}\"\n" +
            "          lifetime: " + std::to_string(lifetime_ms(i)) + "ms\n" +
            "          on_expiry:\n            - emit: {name: expired, copy: [call_id]}\n";
  }
  Harness h(yaml);
  struct Expected {
    int64_t at;
    int n;
    std::string call_id;
  };
  std::vector<Expected> want;
  std::mt19937 rng(20261207);
  int64_t t = kT0;
  for (int n = 0; n < 3000; ++n) {
    t += static_cast<int64_t>(rng() % 4) * 37 * 1000000;  // steps that make deadlines meet
    const int i = static_cast<int>(rng() % kRules);
    const std::string id = "w" + std::to_string(i) + "-" + std::to_string(n);
    h.Feed(Sip("INVITE").Call(id).At(t));
    want.push_back({t + lifetime_ms(i) * 1000000, n, id});
  }
  h.Advance(t + 3600 * kS);
  std::stable_sort(want.begin(), want.end(),
                   [](const Expected& a, const Expected& b) { return a.at < b.at; });
  ASSERT_EQ(h.synthetic.size(), want.size());
  for (size_t k = 0; k < want.size(); ++k) {
    ASSERT_EQ(*h.synthetic[k].Find("call_id"), want[k].call_id) << "expiry " << k;
    ASSERT_EQ(h.synthetic[k].ts_ns, want[k].at) << "expiry " << k;
  }
}

TEST(Contexts, SetExtendsTheLifetimeAndKeepsTheExpiryActions) {
  Harness h(kContextRules);
  h.Feed(Sip("INVITE").Call("c1").At(kT0));
  h.Feed(Sip("INFO").Call("c1").At(kT0 + 4 * kS));  // now lives until +24 s
  h.Advance(kT0 + 24 * kS);
  EXPECT_TRUE(h.synthetic.empty());
  h.Advance(kT0 + 25 * kS);
  ASSERT_EQ(h.synthetic.size(), 1u);
  EXPECT_EQ(h.synthetic[0].ts_ns, kT0 + 24 * kS);
  // set on a context that does not exist does nothing.
  h.Feed(Sip("INFO").Call("nope").At(kT0 + 30 * kS));
  EXPECT_FALSE(h.engine->HasContext("await-ack:nope"));
}

TEST(Contexts, BoundedWithCountedEvictions) {
  Harness h(R"(
limits: {max_contexts: 3}
rules:
  - name: c
    type: Single
    match: {method: INVITE}
    actions: [{create_context: {name: "seen:${call_id}", lifetime: 1h}}]
)");
  for (int i = 0; i < 5; ++i) h.Feed(Sip("INVITE").Call("c" + std::to_string(i)).At(kT0 + i));
  EXPECT_EQ(h.engine->context_count(), 3u);
  EXPECT_EQ(h.engine->stats().contexts_evicted, 2u);
  EXPECT_FALSE(h.engine->HasContext("seen:c0"));
  EXPECT_TRUE(h.engine->HasContext("seen:c4"));
}

TEST(Clock, LateEventsCountAtTheClock) {
  Harness h(R"(
rules:
  - name: s
    type: SingleWithSuppress
    match: {method: INVITE}
    window: 10s
    actions: [{emit: {name: x}}]
)");
  h.Feed(Sip("INVITE").At(kT0 + 20 * kS));
  h.Feed(Sip("INVITE").At(kT0));  // behind the clock: taken at +20 s, suppressed
  EXPECT_EQ(h.synthetic.size(), 1u);
  EXPECT_EQ(h.engine->stats().late_events, 1u);
  EXPECT_EQ(h.engine->now(), kT0 + 20 * kS);
}

}  // namespace
}  // namespace sw::rules::testing

namespace sw::rules::testing {
namespace {

// Rule timings are sampled (one event in kTimingSample) and scaled: a rule
// that sees many events has time counted, one no event reaches has none.
TEST(Single, RuleTimingsAreSampled) {
  Harness h(R"(
rules:
  - name: busy
    type: Single
    match: {type: sip, method: OPTIONS}
    actions:
      - emit: {name: seen}
  - name: idle
    type: Single
    match: {type: mgcp}
    actions:
      - emit: {name: never}
)");
  for (uint64_t i = 0; i < 4 * kTimingSample; ++i) h.Feed(Sip("OPTIONS").At(kT0 + i * kMs));
  uint64_t busy = 0, idle = 0;
  for (const auto& r : h.engine->rule_stats()) (r.name == "busy" ? busy : idle) = r.time_ns;
  EXPECT_GT(busy, 0u);
  EXPECT_EQ(busy % kTimingSample, 0u);
  EXPECT_EQ(idle, 0u);
}

// Visits count the events dispatched to a rule, matched or not; events its
// dispatch class rules out (another method, another event type) are not
// visits.
TEST(Single, VisitsCountDispatchedEventsMatchedOrNot) {
  Harness h(R"(
rules:
  - name: options-from-a
    type: Single
    match: {type: sip, method: OPTIONS, src_ip: 192.0.2.1}
    actions:
      - emit: {name: seen}
  - name: mgcp-only
    type: Single
    match: {type: mgcp}
    actions:
      - emit: {name: never}
)");
  h.Feed(Sip("OPTIONS").At(kT0).Src("192.0.2.1"));
  h.Feed(Sip("OPTIONS").At(kT0 + kMs).Src("192.0.2.2"));
  h.Feed(Sip("OPTIONS").At(kT0 + 2 * kMs).Src("192.0.2.2"));
  h.Feed(Sip("INVITE").At(kT0 + 3 * kMs).Src("192.0.2.1"));
  EXPECT_EQ(h.Stats("options-from-a").visited, 3u);
  EXPECT_EQ(h.Stats("options-from-a").matched, 1u);
  EXPECT_EQ(h.Stats("mgcp-only").visited, 0u);
}

// The engine keeps a regular expression's result per text (direct-mapped, shared
// by the rules with the same expression) and evaluates a condition several
// patterns share once per event: results must be those of evaluating every
// condition on every event, past the memo's bound and with alternating texts.
TEST(Single, SharedExpressionsAndConditionsGiveEachRuleItsOwnResult) {
  Harness h(R"(
rules:
  - name: bad-ua
    type: Single
    match: {request: true, user_agent: {regex: "scan|bot", nocase: true}}
    actions:
      - emit: {name: bad}
  - name: good-ua
    type: Single
    match: {request: true, user_agent: {not_regex: "scan|bot", nocase: true}}
    actions:
      - emit: {name: good}
  - name: good-ua-case
    type: Single
    match: {request: true, user_agent: {not_regex: "scan|bot"}}
    actions:
      - emit: {name: good-case}
)");
  // More distinct texts than the memo has slots (1024, a text replacing
  // whichever shares its slot), each seen twice, the
  // second time after all the others; every third a scanner, every fifth in
  // capitals (which only the case-insensitive expression sees as one).
  auto ua = [](int i) {
    std::string s = (i % 3 == 0 ? "scan" : "phone") + std::string("/") + std::to_string(i);
    if (i % 5 == 0) {
      for (auto& ch : s) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    }
    return s;
  };
  constexpr int kTexts = 5000;
  std::vector<std::string> want;
  int64_t t = kT0;
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < kTexts; ++i) {
      const int n = round == 0 ? i : kTexts - 1 - i;
      h.Feed(Sip("OPTIONS").At(t += kMs).UA(ua(n)));
      want.push_back(n % 3 == 0 ? "bad" : "good");
      if (n % 3 != 0 || n % 5 == 0) want.push_back("good-case");
      h.Feed(Sip("200").At(t += kMs).UA(ua(n)));  // a response: no rule
    }
  }
  EXPECT_EQ(h.SyntheticNames(), want);
}

}  // namespace
}  // namespace sw::rules::testing
