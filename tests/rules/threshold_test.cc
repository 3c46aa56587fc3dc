// SPDX-License-Identifier: BSD-2-Clause
// SingleWithThreshold and SingleWith2Thresholds: window edges, fixed and
// sliding windows, resets, ignoring after the action, action2 at the end of
// the window, storm ends, distinct counts, bounded keys.
#include <gtest/gtest.h>

#include "rules_test_util.h"

namespace sw::rules::testing {
namespace {

std::string Flood(std::string_view window_type, std::string_view extra = "") {
  return std::string(R"(
rules:
  - name: invite-flood
    type: SingleWithThreshold
    match: {method: INVITE}
    key: [src_ip]
    window: 10s
    threshold: 3
    window_type: )") +
         std::string(window_type) + R"(
    actions:
      - emit: {name: flood, fields: {n: "${count}", src: "${src_ip}"}}
)" + std::string(extra);
}

Sip Invite(int64_t t, std::string_view src = "192.0.2.10") { return Sip("INVITE").At(t).Src(src); }

TEST(Threshold, EventExactlyAtTheWindowEndCounts) {
  Harness h(Flood("fixed"));
  h.Feed(Invite(kT0));
  h.Feed(Invite(kT0 + 5 * kS));
  h.Feed(Invite(kT0 + 10 * kS));
  ASSERT_EQ(h.synthetic.size(), 1u);
  EXPECT_EQ(*h.synthetic[0].Find("n"), "3");
  EXPECT_EQ(*h.synthetic[0].Find("src"), "192.0.2.10");
  EXPECT_EQ(h.synthetic[0].ts_ns, kT0 + 10 * kS);
}

TEST(Threshold, FixedWindowResetsWhenItEndsBelowTheThreshold) {
  Harness h(Flood("fixed"));
  h.Feed(Invite(kT0));
  h.Feed(Invite(kT0 + 5 * kS));
  h.Feed(Invite(kT0 + 10 * kS + 1));  // one nanosecond late: a new window
  h.Feed(Invite(kT0 + 12 * kS));
  EXPECT_TRUE(h.synthetic.empty());
  h.Feed(Invite(kT0 + 14 * kS));  // third in the window that began at +10 s
  ASSERT_EQ(h.synthetic.size(), 1u);
  EXPECT_EQ(h.Stats("invite-flood").operations, 2u);
}

TEST(Threshold, SlidingWindowMovesToTheNextEvent) {
  Harness sliding(Flood("sliding"));
  Harness fixed(Flood("fixed"));
  for (int64_t t : {0, 6, 12, 14}) {
    sliding.Feed(Invite(kT0 + t * kS));
    fixed.Feed(Invite(kT0 + t * kS));
  }
  // Sliding: 6, 12 and 14 lie within 10 s. Fixed: [0,10] had two, [12,22] has two.
  ASSERT_EQ(sliding.synthetic.size(), 1u);
  EXPECT_EQ(sliding.synthetic[0].ts_ns, kT0 + 14 * kS);
  EXPECT_TRUE(fixed.synthetic.empty());
}

TEST(Threshold, IgnoresTheRestOfTheWindowThenStartsAgain) {
  Harness h(Flood("sliding", R"(    actions2:
      - emit: {name: flood-over, fields: {n: "${count}", first: "${ts}"}}
)"));
  for (int64_t t : {0, 6, 12, 14}) h.Feed(Invite(kT0 + t * kS));  // fires at 14, window [6,16]
  h.Feed(Invite(kT0 + 15 * kS));
  h.Feed(Invite(kT0 + 16 * kS));  // the window's last instant: ignored
  EXPECT_EQ(h.SyntheticNames(), std::vector<std::string>{"flood"});
  EXPECT_EQ(h.Stats("invite-flood").absorbed, 2u);
  h.Feed(Invite(kT0 + 16 * kS + 1));  // after it: counting starts over
  // action2 ran when the window ended, with the operation's count.
  ASSERT_EQ(h.SyntheticNames(), (std::vector<std::string>{"flood", "flood-over"}));
  EXPECT_EQ(h.synthetic[1].ts_ns, kT0 + 16 * kS);
  EXPECT_EQ(*h.synthetic[1].Find("n"), "6");
  EXPECT_EQ(*h.synthetic[1].Find("first"), std::to_string(kT0));  // the first event's fields
  h.Feed(Invite(kT0 + 17 * kS));
  h.Feed(Invite(kT0 + 18 * kS));
  EXPECT_EQ(h.SyntheticNames().size(), 3u);
  EXPECT_EQ(h.synthetic[2].name, "flood");
}

TEST(Threshold, AFloodIsOneAlarmWithACount) {
  Harness h(R"(
rules:
  - name: invite-flood
    type: SingleWithThreshold
    match: {method: INVITE}
    key: [src_ip]
    window: 1s
    threshold: 3
    window_type: fixed
    actions:
      - alarm: {signature: "INVITE flood", category: flood, severity: 1, suppress: 30s,
                update_every: 0s}
      - rate_limit: {rate: 10, ttl: 1m}
)");
  for (int i = 0; i < 100; ++i) h.Feed(Invite(kT0 + i * 100 * kMs));  // 10/s for 10 s
  ASSERT_EQ(h.alarms.size(), 1u);
  EXPECT_EQ(h.alarms[0].count, 3u);
  EXPECT_EQ(h.alarms[0].category, "flood");
  EXPECT_EQ(h.alarms[0].action, AlarmOutcome::kBlocked);
  EXPECT_GE(h.limits.size(), 9u);  // every window that crossed the threshold
  h.Advance(kT0 + 100 * kS);
  ASSERT_EQ(h.alarms.size(), 2u);
  EXPECT_TRUE(h.alarms[1].update);
  // Every event of the flood but the last, which opened a window that never
  // reached the threshold.
  EXPECT_EQ(h.alarms[1].count, 99u);
  EXPECT_EQ(h.alarms[1].id, h.alarms[0].id);
}

constexpr char kStorm[] = R"(
rules:
  - name: register-storm
    type: SingleWith2Thresholds
    match: {method: REGISTER}
    key: [src_ip]
    window: 1s
    threshold: 5
    window2: 2s
    threshold2: 1
    window_type: WT
    actions:
      - emit: {name: storm, fields: {n: "${count}"}}
    actions2:
      - emit: {name: storm-over, fields: {n: "${count}"}}
)";

std::string Storm(std::string_view wt) {
  std::string s = kStorm;
  s.replace(s.find("WT"), 2, wt);
  return s;
}

TEST(TwoThresholds, SlidingStormEndsWhenTheRateFalls) {
  Harness h(Storm("sliding"));
  for (int i = 0; i < 50; ++i) h.Feed(Sip("REGISTER").At(kT0 + i * 100 * kMs));  // 0 .. 4.9 s
  ASSERT_EQ(h.SyntheticNames(), std::vector<std::string>{"storm"});
  EXPECT_EQ(h.synthetic[0].ts_ns, kT0 + 400 * kMs);
  // A slow trickle (one per 2.5 s) is at most one per 2 s window: not a storm.
  h.Advance(kT0 + 6 * kS);
  EXPECT_EQ(h.synthetic.size(), 1u);
  h.Advance(kT0 + 6800 * kMs);  // (4.8, 6.8] holds one event: the end is at 6.8 s
  EXPECT_EQ(h.synthetic.size(), 1u);
  h.Advance(kT0 + 6800 * kMs + 1);
  ASSERT_EQ(h.SyntheticNames(), (std::vector<std::string>{"storm", "storm-over"}));
  EXPECT_EQ(h.synthetic[1].ts_ns, kT0 + 6800 * kMs);
  EXPECT_EQ(*h.synthetic[1].Find("n"), "50");
  EXPECT_EQ(h.Stats("register-storm").open, 0u);
}

TEST(TwoThresholds, ContinuingStormDoesNotEnd) {
  Harness h(Storm("sliding"));
  for (int i = 0; i < 600; ++i) h.Feed(Sip("REGISTER").At(kT0 + i * 500 * kMs));  // 2/s, 5 min
  // 2/s never reaches 5 in 1 s.
  EXPECT_TRUE(h.synthetic.empty());
  for (int i = 0; i < 600; ++i) h.Feed(Sip("REGISTER").At(kT0 + 300 * kS + i * 100 * kMs));
  EXPECT_EQ(h.SyntheticNames(), std::vector<std::string>{"storm"});
  // One per 0.9 s puts two events in every 2 s after an event: still a storm.
  for (int i = 0; i < 20; ++i) h.Feed(Sip("REGISTER").At(kT0 + 360 * kS + i * 900 * kMs));
  EXPECT_EQ(h.synthetic.size(), 1u);
  h.Advance(kT0 + 400 * kS);
  EXPECT_EQ(h.SyntheticNames(), (std::vector<std::string>{"storm", "storm-over"}));
}

TEST(TwoThresholds, FixedSecondWindows) {
  Harness h(Storm("fixed"));
  for (int i = 0; i < 10; ++i) h.Feed(Sip("REGISTER").At(kT0 + i * 100 * kMs));
  ASSERT_EQ(h.synthetic.size(), 1u);         // at 0.4 s; second windows (0.4,2.4], (2.4,4.4], ...
  h.Feed(Sip("REGISTER").At(kT0 + 3 * kS));  // (2.4, 4.4] holds one: the storm ends at 4.4 s
  h.Advance(kT0 + 10 * kS);
  ASSERT_EQ(h.SyntheticNames(), (std::vector<std::string>{"storm", "storm-over"}));
  EXPECT_EQ(h.synthetic[1].ts_ns, kT0 + 4400 * kMs);
  EXPECT_EQ(*h.synthetic[1].Find("n"), "11");
}

TEST(Distinct, ExtensionEnumerationCountsDistinctUsersPerSource) {
  Harness h(R"(
rules:
  - name: enumeration
    type: SingleWithThreshold
    match: {status: 404}
    key: [dst_ip]          # the responses go back to the scanner
    distinct: [to_user]
    window: 60s
    threshold: 5
    actions:
      - alarm: {signature: "extension enumeration: ${count} users", category: enumeration}
)");
  auto nf = [](int64_t t, std::string_view user, std::string_view scanner = "203.0.113.5") {
    return Sip("404").At(t).Dst(scanner).To(user);
  };
  for (int i = 0; i < 20; ++i) h.Feed(nf(kT0 + i * kS, "100"));  // one user, many times
  for (int i = 0; i < 3; ++i) h.Feed(nf(kT0 + 20 * kS, "10" + std::to_string(i + 1)));
  EXPECT_TRUE(h.alarms.empty());                    // 4 distinct users
  h.Feed(nf(kT0 + 21 * kS, "101", "203.0.113.6"));  // another source
  EXPECT_TRUE(h.alarms.empty());
  h.Feed(nf(kT0 + 22 * kS, "105"));
  ASSERT_EQ(h.alarms.size(), 1u);
  EXPECT_EQ(h.alarms[0].signature, "extension enumeration: 5 users");
  EXPECT_EQ(h.alarms[0].category, "enumeration");
  EXPECT_EQ(h.alarms[0].dst.ToString(), "203.0.113.5");
}

TEST(Distinct, DistributedPasswordCrackingCountsSourcesPerUser) {
  Harness h(R"(
rules:
  - name: distributed-cracking
    type: SingleWithThreshold
    match: {status: [401, 403, 407], cseq_method: REGISTER}
    key: [to_user]
    distinct: [dst_ip]
    window: 10s
    window_type: sliding
    threshold: 3
    actions:
      - emit: {name: cracking, copy: [to_user], fields: {sources: "${count}"}}
)");
  auto challenge = [](int64_t t, std::string_view attacker) {
    return Sip("401").CseqMethod("REGISTER").At(t).Dst(attacker).To("1000");
  };
  h.Feed(challenge(kT0, "198.51.100.1"));
  h.Feed(challenge(kT0 + 1 * kS, "198.51.100.2"));
  h.Feed(challenge(kT0 + 11 * kS, "198.51.100.3"));  // .1 fell out (11 - 0 > 10)
  EXPECT_TRUE(h.synthetic.empty());
  h.Feed(challenge(kT0 + 11 * kS, "198.51.100.2"));  // same source again: still 2
  EXPECT_TRUE(h.synthetic.empty());
  h.Feed(challenge(kT0 + 12 * kS, "198.51.100.4"));
  ASSERT_EQ(h.synthetic.size(), 1u);
  EXPECT_EQ(*h.synthetic[0].Find("to_user"), "1000");
  EXPECT_EQ(*h.synthetic[0].Find("sources"), "3");
}

TEST(Bounds, OperationsAreEvictedLeastRecentlyUsedFirstAndCounted) {
  Harness h(R"(
rules:
  - name: per-source
    type: SingleWithThreshold
    match: {method: INVITE}
    key: [src_ip]
    window: 60s
    threshold: 2
    max_keys: 2
    actions: [{emit: {name: two, copy: [src_ip]}}]
)");
  h.Feed(Invite(kT0, "192.0.2.1"));
  h.Feed(Invite(kT0 + 1, "192.0.2.2"));
  h.Feed(Invite(kT0 + 2, "192.0.2.3"));  // evicts .1 (least recently used)
  EXPECT_EQ(h.Stats("per-source").evicted, 1u);
  EXPECT_EQ(h.engine->stats().operations_evicted, 1u);
  h.Feed(Invite(kT0 + 3, "192.0.2.2"));  // .2 kept its count: fires
  ASSERT_EQ(h.synthetic.size(), 1u);
  EXPECT_EQ(*h.synthetic[0].Find("src_ip"), "192.0.2.2");
  h.Feed(Invite(kT0 + 4, "192.0.2.1"));  // .1 starts over (and evicts .3)
  EXPECT_EQ(h.synthetic.size(), 1u);
  EXPECT_EQ(h.Stats("per-source").evicted, 2u);
  EXPECT_EQ(h.Stats("per-source").open, 2u);
}

}  // namespace
}  // namespace sw::rules::testing
