// SPDX-License-Identifier: BSD-2-Clause
// The controller's round-robin time series: rates per step, counters turned
// into increases, the three archives' retention, the dump and its restore.
#include "series.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace sw::controller {
namespace {

const SeriesResult::Line* Find(const SeriesResult& r, const std::string& label) {
  for (const auto& l : r.series) {
    if (l.label == label) return &l;
  }
  return nullptr;
}

double ValueAt(const SeriesResult::Line& l, int64_t ts) {
  for (const auto& [t, v] : l.points) {
    if (t == ts) return v;
  }
  return -1;
}

constexpr int64_t kNow = 1765029600;  // a multiple of 3600

TEST(SeriesStore, CountsBecomeRatesPerStepInEachArchive) {
  SeriesStore s;
  s.Count("alarms", "a1", "flood", kNow - 15, 20);  // slot kNow-20
  s.Count("alarms", "a2", "flood", kNow - 12, 10);
  s.Count("alarms", "a1", "scan", kNow - 2, 5);
  SeriesQuery q;
  q.name = "alarms";
  q.now_s = kNow;
  q.since_s = 60;
  auto r = s.Query(q);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->step_s, 10);
  EXPECT_EQ(r->by, "category");
  ASSERT_NE(Find(*r, "flood"), nullptr);
  EXPECT_EQ(ValueAt(*Find(*r, "flood"), kNow - 20), 3.0);  // 30 in 10 s
  EXPECT_EQ(ValueAt(*Find(*r, "flood"), kNow - 30), 0.0);
  EXPECT_EQ(Find(*r, "flood")->points.size(), 6u);
  q.by = "agent";
  r = s.Query(q);
  EXPECT_EQ(ValueAt(*Find(*r, "a1"), kNow - 20), 2.0);
  EXPECT_EQ(ValueAt(*Find(*r, "a1"), kNow - 10), 0.5);
  q.by = "none";
  q.agent = "a2";
  r = s.Query(q);
  ASSERT_EQ(r->series.size(), 1u);
  EXPECT_EQ(ValueAt(r->series[0], kNow - 20), 1.0);
  // The day archive: 35 alarms in the 5-minute slot.
  q = SeriesQuery{};
  q.name = "alarms";
  q.now_s = kNow;
  q.since_s = 86400;
  q.by = "none";
  r = s.Query(q);
  EXPECT_EQ(r->step_s, 300);
  EXPECT_EQ(r->series[0].points.size(), 288u);
  EXPECT_DOUBLE_EQ(ValueAt(r->series[0], kNow - 300), 35.0 / 300);
}

TEST(SeriesStore, ArchivesKeepTheirOwnSpanOnly) {
  SeriesStore s;
  s.Count("alarms", "a1", "flood", kNow - 7200, 600);  // two hours back
  s.Count("alarms", "a1", "flood", kNow, 10);          // moves the 10 s ring on
  SeriesQuery q;
  q.name = "alarms";
  q.now_s = kNow;
  q.since_s = 3600;
  auto hour = s.Query(q);
  double sum = 0;
  for (const auto& [t, v] : hour->series[0].points) sum += v;
  EXPECT_EQ(sum, 1.0);  // only the new 10 in 10 s: the old slot was overwritten
  q.since_s = 3 * 3600;
  auto day = s.Query(q);
  EXPECT_EQ(day->step_s, 300);
  EXPECT_DOUBLE_EQ(ValueAt(day->series[0], kNow - 7200), 2.0);
  // Older than the week archive: not kept at all.
  s.Count("alarms", "a1", "flood", kNow - 8 * 86400, 1e6);
  q.since_s = 7 * 86400;
  auto week = s.Query(q);
  double total = 0;
  for (const auto& [t, v] : week->series[0].points) total += v * week->step_s;
  EXPECT_DOUBLE_EQ(total, 610);
}

TEST(SeriesStore, CountersBecomeIncreasesPerVerdictAndMethod) {
  SeriesStore s;
  s.Counters("a1", {{"pass_sip", 1000}, {"drop_blocked", 50}, {"sip_method_INVITE", 7}}, kNow - 40);
  s.Counters("a1", {{"pass_sip", 1100}, {"drop_blocked", 250}, {"sip_method_INVITE", 17},
                    {"rx_packets", 99999}},
             kNow - 30);
  // The agent restarted: its counters begin again from zero.
  s.Counters("a1", {{"pass_sip", 30}, {"drop_blocked", 0}, {"sip_method_INVITE", 2}}, kNow - 20);
  SeriesQuery q;
  q.name = "packets";
  q.now_s = kNow;
  q.since_s = 60;
  auto r = s.Query(q);
  ASSERT_TRUE(r.ok());
  ASSERT_NE(Find(*r, "pass_sip"), nullptr);
  EXPECT_EQ(Find(*r, "rx_packets"), nullptr);  // not a verdict
  EXPECT_EQ(ValueAt(*Find(*r, "pass_sip"), kNow - 40), 0.0);  // the first report is the baseline
  EXPECT_EQ(ValueAt(*Find(*r, "pass_sip"), kNow - 30), 10.0);
  EXPECT_EQ(ValueAt(*Find(*r, "pass_sip"), kNow - 20), 3.0);
  EXPECT_EQ(ValueAt(*Find(*r, "drop_blocked"), kNow - 30), 20.0);
  q.name = "sip_messages";
  r = s.Query(q);
  EXPECT_EQ(ValueAt(*Find(*r, "INVITE"), kNow - 30), 1.0);
  EXPECT_DOUBLE_EQ(s.RecentRate("drops", "a1", kNow, 60), 200.0 / 60);
  EXPECT_EQ(s.RecentRate("drops", "a2", kNow, 60), 0.0);
}

TEST(SeriesStore, RefusesQueriesItCannotAnswer) {
  SeriesStore s;
  SeriesQuery q;
  q.now_s = kNow;
  q.name = "temperature";
  EXPECT_EQ(s.Query(q).status().code(), absl::StatusCode::kNotFound);
  q.name = "packets";
  q.step_s = 60;
  EXPECT_FALSE(s.Query(q).ok());
  q.step_s = 10;
  q.since_s = 7200;  // the 10 s steps go back an hour
  EXPECT_FALSE(s.Query(q).ok());
  q.step_s = 0;
  q.since_s = 8 * 86400;
  EXPECT_FALSE(s.Query(q).ok());
  q.since_s = 3600;
  q.by = "method";
  EXPECT_FALSE(s.Query(q).ok());
}

TEST(SeriesStore, TheDumpRestoresEverySeriesAndADamagedOneChangesNothing) {
  SeriesStore s;
  s.Count("alarms", "a1", "flood", kNow - 15, 20);
  s.Count("alarms", "a1", "flood", kNow - 4000, 7);
  s.Count("hits", "hp1", "direct", kNow - 100, 2);
  const std::string dump = s.Serialize();
  SeriesStore t;
  ASSERT_TRUE(t.Load(dump).ok());
  EXPECT_EQ(t.Serialize(), dump);
  EXPECT_EQ(t.size(), 2u);
  for (const char* bad : {"sipwarden-series 2\n", "sipwarden-series 1\nalarms a1 flood 9 5\n",
                          "sipwarden-series 1\nalarms a1 flood 0 5 400=1\n",
                          "sipwarden-series 1\nalarms a1 flood 0 5 3=x\n",
                          "sipwarden-series 1\nalarms a1\n"}) {
    auto st = t.Load(bad);
    EXPECT_FALSE(st.ok()) << bad;
    EXPECT_TRUE(absl::StrContains(st.message(), "series dump line")) << st;
    EXPECT_EQ(t.Serialize(), dump);
  }
  EXPECT_TRUE(t.Load("").ok());  // nothing saved yet
}

TEST(SeriesStore, BoundsTheNumberOfSeries) {
  SeriesStore s(/*max_series=*/3);
  for (int i = 0; i < 10; ++i) s.Count("alarms", "a" + std::to_string(i), "flood", kNow, 1);
  EXPECT_EQ(s.size(), 3u);
  EXPECT_EQ(s.dropped(), 7u);
  // Labels that are not single tokens are not kept as given.
  SeriesStore t;
  t.Count("alarms", "a1", "bad label\nx", kNow, 1);
  EXPECT_TRUE(absl::StrContains(t.Serialize(), "alarms a1 invalid")) << t.Serialize();
}

}  // namespace
}  // namespace sw::controller
