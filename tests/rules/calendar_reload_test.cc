// SPDX-License-Identifier: BSD-2-Clause
// Calendar rules on event time, reloads that keep the state of unchanged
// rules, and SingleWithScript through an executor the test drives.
#include <gtest/gtest.h>

#include "rules_test_util.h"

namespace sw::rules::testing {
namespace {

// kT0 is 2001-09-09T01:46:40Z; the next hours are at +800 s, +4400 s, ...
constexpr int64_t k0200 = kT0 + 800 * kS;
constexpr int64_t k0300 = kT0 + 4400 * kS;

constexpr char kAudit[] = R"(
rules:
  - name: auep-seen
    type: Single
    match: {type: mgcp, verb: AUEP}
    actions:
      - create_context: {name: auep, lifetime: 65m}
  - name: auep-missing
    type: Calendar
    time: "0 * * * *"
    context: "!auep"
    actions:
      - alarm: {signature: "call agent sent no AUEP in the last hour", category: audit-missing,
                severity: 2, suppress: 0s}
)";

TEST(Calendar, FiresOnEventTimeWhenTheExpectedContextIsMissing) {
  Harness h(kAudit);
  h.Feed(Mgcp("AUEP", kT0 + 200 * kS));  // 01:50: the context lives until 02:55
  h.Advance(k0200 - 1);
  EXPECT_EQ(h.Stats("auep-missing").fired, 0u);
  h.Advance(k0200);  // the scheduled instant: it fires, the context exists
  EXPECT_EQ(h.Stats("auep-missing").matched, 0u);
  EXPECT_TRUE(h.alarms.empty());
  EXPECT_EQ(h.engine->stats().calendar_fired, 0u);
  h.Advance(k0300 + 10 * kS);
  ASSERT_EQ(h.alarms.size(), 1u);
  EXPECT_EQ(h.alarms[0].ts_ns, k0300);
  EXPECT_EQ(h.alarms[0].category, "audit-missing");
  EXPECT_FALSE(h.alarms[0].has_flow);
  // An audit resets it.
  h.Feed(Mgcp("AUEP", k0300 + 20 * kS));
  h.Advance(k0300 + 3600 * kS);
  EXPECT_EQ(h.alarms.size(), 1u);
  h.Advance(k0300 + 2 * 3600 * kS);
  EXPECT_EQ(h.alarms.size(), 2u);
}

// The paper's figure 6: a Calendar event starts the profile comparison; a
// rule may also ask for one account at once.
TEST(Calendar, CompareProfilesActions) {
  Harness h(R"(
rules:
  - name: hourly
    type: Calendar
    time: "15 * * * *"
    actions: [compare_profiles]
  - name: one-account
    type: Single
    match: {type: sip, method: INVITE, to_user: {prefix: "+882"}}
    actions:
      - compare_profiles: {account: "${from_user}"}
)");
  h.Advance(kT0);
  h.Advance(k0200 + 15 * 60 * kS - 1);
  EXPECT_TRUE(h.compares.empty());
  h.Advance(k0200 + 15 * 60 * kS);
  ASSERT_EQ(h.compares.size(), 1u);
  EXPECT_EQ(h.compares[0].ts_ns, k0200 + 15 * 60 * kS);
  EXPECT_EQ(h.compares[0].rule, "hourly");
  EXPECT_EQ(h.compares[0].account, "") << "every account";
  h.Feed(Sip("INVITE").At(k0200 + 20 * 60 * kS).From("alice").To("+88216000123"));
  ASSERT_EQ(h.compares.size(), 2u);
  EXPECT_EQ(h.compares[1].account, "alice");
  EXPECT_EQ(h.compares[1].rule, "one-account");
  h.Advance(k0300 + 15 * 60 * kS);
  EXPECT_EQ(h.compares.size(), 3u);
  EXPECT_EQ(h.engine->stats().profile_compares, 3u);

}

TEST(Calendar, EveryAndCatchUpBounds) {
  EngineOptions o;
  o.max_calendar_catchup = 10;
  Harness h(R"(
rules:
  - name: tick
    type: Calendar
    every: 5m
    actions: [{emit: {name: time-to-compare, fields: {at: "${time}"}}}]
)",
            nullptr, o);
  h.Advance(kT0);  // the clock starts here; 01:50 is the first 5-minute mark after it
  h.Advance(kT0 + 3600 * kS);
  ASSERT_EQ(h.synthetic.size(), 10u);  // 01:50, 01:55, ..., 02:35 then the cap
  EXPECT_EQ(*h.synthetic[0].Find("at"), "2001-09-09T01:50:00.000000Z");
  EXPECT_EQ(*h.synthetic[9].Find("at"), "2001-09-09T02:35:00.000000Z");
  EXPECT_EQ(h.engine->stats().calendar_skipped, 1u);
  h.Advance(kT0 + 3600 * kS + 300 * kS);  // 02:51:40: the 02:50 mark only
  ASSERT_EQ(h.synthetic.size(), 11u);
  EXPECT_EQ(*h.synthetic[10].Find("at"), "2001-09-09T02:50:00.000000Z");
}

TEST(Calendar, WeekdaysAndMinutes) {
  Harness h(R"(
rules:
  - name: weekly
    type: Calendar
    time: "30 2 * * 1"
    actions: [{emit: {name: monday, fields: {at: "${time}"}}}]
)");
  h.Advance(kT0);                    // Sunday
  h.Advance(kT0 + 15 * 86400 * kS);  // 2001-09-24T01:46:40Z
  EXPECT_EQ(h.synthetic.size(), 2u);
  h.Advance(kT0 + 15 * 86400 * kS + 3600 * kS);
  ASSERT_EQ(h.synthetic.size(), 3u);
  EXPECT_EQ(*h.synthetic[0].Find("at"), "2001-09-10T02:30:00.000000Z");
  EXPECT_EQ(*h.synthetic[2].Find("at"), "2001-09-24T02:30:00.000000Z");
}

constexpr char kBase[] = R"(
rules:
  - name: flood
    type: SingleWithThreshold
    match: {method: INVITE}
    key: [src_ip]
    window: 60s
    threshold: 3
    actions: [{emit: {name: flood}}]
  - name: await-ack
    type: PairWithWindow
    match: {status: 200}
    key: [call_id]
    match2: {method: ACK}
    window: 10s
    actions: [{emit: {name: no-ack}}]
  - name: mark
    type: Single
    match: {method: REGISTER}
    actions:
      - create_context:
          name: "reg:${call_id}"
          lifetime: 30s
          on_expiry: [{emit: {name: reg-expired}}]
)";

TEST(Reload, UnchangedRulesKeepTheirStateOthersStartOver) {
  Harness h(kBase);
  h.Feed(Sip("INVITE").At(kT0));
  h.Feed(Sip("INVITE").At(kT0 + kS));
  h.Feed(Sip("200").Call("p").At(kT0 + 2 * kS));
  h.Feed(Sip("REGISTER").Call("r").At(kT0 + 2 * kS));
  // Same rules reformatted and commented, plus a new one; await-ack changed.
  std::string next = R"(
# reformatted
rules:
  - {name: flood, type: SingleWithThreshold, match: {method: INVITE}, key: [src_ip],
     window: 60s, threshold: 3, actions: [{emit: {name: flood}}]}
  - name: await-ack
    type: PairWithWindow
    match: {status: 200}
    key: [call_id]
    match2: {method: ACK}
    window: 20s
    actions: [{emit: {name: no-ack}}]
  - name: fresh
    type: Single
    match: {method: OPTIONS}
    actions: [{emit: {name: options}}]
)";
  h.engine->Reload(Harness::Load(next));
  EXPECT_EQ(h.engine->stats().rules_kept, 1u);
  EXPECT_EQ(h.engine->rules().size(), 3u);
  h.Feed(Sip("INVITE").At(kT0 + 3 * kS));  // the third: flood kept its count
  EXPECT_EQ(h.SyntheticNames(), std::vector<std::string>{"flood"});
  // await-ack changed: its operation for "p" is gone, no timeout will come.
  // mark is gone: its context (and expiry actions) went with it.
  EXPECT_FALSE(h.engine->HasContext("reg:r"));
  h.Advance(kT0 + 100 * kS);
  EXPECT_EQ(h.SyntheticNames(), std::vector<std::string>{"flood"});
  h.Feed(Sip("OPTIONS").At(kT0 + 101 * kS));
  EXPECT_EQ(h.synthetic.back().name, "options");
  EXPECT_EQ(h.Stats("flood").operations, 1u);  // statistics kept too
}

TEST(Reload, KeptOperationsKeepTheirTimersAndContexts) {
  Harness h(kBase);
  h.Feed(Sip("200").Call("p").At(kT0));
  h.Feed(Sip("REGISTER").Call("r").At(kT0));
  h.engine->Reload(Harness::Load(kBase));
  EXPECT_EQ(h.engine->stats().rules_kept, 3u);
  EXPECT_TRUE(h.engine->HasContext("reg:r"));
  h.Advance(kT0 + 60 * kS);
  EXPECT_EQ(h.SyntheticNames(), (std::vector<std::string>{"no-ack", "reg-expired"}));
  EXPECT_EQ(h.synthetic[0].ts_ns, kT0 + 10 * kS);
  EXPECT_EQ(h.synthetic[1].ts_ns, kT0 + 30 * kS);
}

class FakeExecutor : public ScriptExecutor {
 public:
  bool Submit(ScriptRequest r) override {
    if (busy) return false;
    requests.push_back(std::move(r));
    return true;
  }
  bool busy = false;
  std::vector<ScriptRequest> requests;
};

constexpr char kProfile[] = R"(
rules:
  - name: time-to-compare
    type: Calendar
    time: "0 0 * * *"
    actions: [{emit: {name: time-to-compare, fields: {user: user1}}}]
  - name: compare
    type: SingleWithScript
    match: {name: time-to-compare}
    key: [field.user]
    script: {command: "/usr/local/bin/compare.sh ${field.user}", timeout: 5s}
    actions:
      - alarm: {signature: "abnormal behaviour of ${field.user}", category: anomaly}
    actions2:
      - emit: {name: normal, copy: [field.user]}
)";

TEST(Script, ExitStatusChoosesTheActionList) {
  FakeExecutor ex;
  Harness h(kProfile, &ex);
  h.Advance(kT0);
  h.Advance(kT0 + 86400 * kS);  // midnight
  ASSERT_EQ(ex.requests.size(), 1u);
  EXPECT_EQ(ex.requests[0].argv,
            (std::vector<std::string>{"/usr/local/bin/compare.sh", "user1"}));
  EXPECT_EQ(ex.requests[0].timeout_ns, 5 * kS);
  EXPECT_EQ(ex.requests[0].rule, "compare");
  EXPECT_NE(ex.requests[0].input.find("\"name\":\"time-to-compare\""), std::string::npos);
  EXPECT_NE(ex.requests[0].input.find("\"user\":\"user1\""), std::string::npos);
  ScriptResult r;
  r.id = ex.requests[0].id;
  r.exit_code = 0;
  h.engine->OnScriptDone(r);
  ASSERT_EQ(h.alarms.size(), 1u);
  EXPECT_EQ(h.alarms[0].signature, "abnormal behaviour of user1");
  h.engine->OnScriptDone(r);  // reported twice: ignored
  EXPECT_EQ(h.alarms.size(), 1u);
  h.Advance(kT0 + 2 * 86400 * kS);
  ASSERT_EQ(ex.requests.size(), 2u);
  r.id = ex.requests[1].id;
  r.exit_code = -1;
  r.timed_out = true;
  h.engine->OnScriptDone(r);
  EXPECT_EQ(h.synthetic.back().name, "normal");
  EXPECT_EQ(*h.synthetic.back().Find("user"), "user1");
  ex.busy = true;
  h.Advance(kT0 + 3 * 86400 * kS);
  EXPECT_EQ(h.engine->stats().scripts_refused, 1u);
  EXPECT_EQ(h.engine->stats().scripts_submitted, 2u);
  EXPECT_EQ(h.engine->stats().scripts_done, 2u);
}

}  // namespace
}  // namespace sw::rules::testing
