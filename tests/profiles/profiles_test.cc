// SPDX-License-Identifier: BSD-2-Clause
// sw::profiles: the distances against hand-computed values, call records,
// numbers, the engine learning and detecting on event time (no clocks), the
// profile directory and its versions.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "sipwarden/profiles/batch.h"
#include "sipwarden/profiles/config.h"
#include "sipwarden/profiles/distance.h"
#include "sipwarden/profiles/engine.h"
#include "sipwarden/profiles/numbers.h"
#include "sipwarden/profiles/record.h"
#include "sipwarden/profiles/store.h"
#include "office_days.h"

namespace sw::profiles {
namespace {

// ---- distances, by hand --------------------------------------------------

TEST(Distance, Euclidean) {
  const float x[] = {1, 2, 3}, mu[] = {0, 0, 0};
  EXPECT_DOUBLE_EQ(EuclideanSq(x, mu, 3), 14);  // 1 + 4 + 9
  const float y[] = {4, 6}, m2[] = {1, 2};
  EXPECT_DOUBLE_EQ(std::sqrt(EuclideanSq(y, m2, 2)), 5);  // 3-4-5
}

TEST(Distance, Quadratic) {
  const float x[] = {1, 2}, mu[] = {0, 0}, w[] = {2, 0.5};
  EXPECT_DOUBLE_EQ(QuadraticSq(x, mu, w, 2), 4);  // 2*1 + 0.5*4
  const float x3[] = {3, 1, 5}, mu3[] = {1, 1, 2}, w3[] = {0.25, 7, 1.0f / 9};
  EXPECT_NEAR(QuadraticSq(x3, mu3, w3, 3), 2, 1e-6);  // 0.25*4 + 0 + 9/9
}

TEST(Distance, Mahalanobis) {
  // sd (1, 2), R = [[1, .5], [.5, 1]], so Rinv = [[4/3, -2/3], [-2/3, 4/3]];
  // z = (1, 0.5): z' Rinv z = 4/3 - 2*(2/3)*0.5 + (4/3)*0.25 = 1.
  const float x[] = {1, 1}, mu[] = {0, 0}, sd[] = {1, 2};
  const float rinv[] = {4.f / 3, -2.f / 3, -2.f / 3, 4.f / 3};
  EXPECT_NEAR(MahalanobisSq(x, mu, sd, rinv, 2), 1, 1e-6);
  // With R the identity it is the quadratic distance weighted by 1/sd^2.
  const float id[] = {1, 0, 0, 1}, w[] = {1, 0.25};
  EXPECT_NEAR(MahalanobisSq(x, mu, sd, id, 2), QuadraticSq(x, mu, w, 2), 1e-6);  // 1.25
  // Packed (the upper triangle, as profiles keep it): the same values.
  const float packed[] = {4.f / 3, -2.f / 3, 4.f / 3}, packed_id[] = {1, 0, 1};
  EXPECT_NEAR(MahalanobisSqPacked(x, mu, sd, packed, 2), 1, 1e-6);
  EXPECT_NEAR(MahalanobisSqPacked(x, mu, sd, packed_id, 2), 1.25, 1e-6);
  // 3 x 3, z = (1, -1, 2), Rinv = [[2, .5, 0], [.5, 1, -.25], [0, -.25, 3]]:
  // 2 + 1 + 12 + 2*(.5*-1) + 2*0 + 2*(-.25*-2) = 15 - 1 + 1 = 15.
  const float x3[] = {1, -1, 2}, mu3[] = {0, 0, 0}, sd3[] = {1, 1, 1};
  const float full3[] = {2, .5, 0, .5, 1, -.25, 0, -.25, 3}, packed3[] = {2, .5, 0, 1, -.25, 3};
  EXPECT_NEAR(MahalanobisSq(x3, mu3, sd3, full3, 3), 15, 1e-6);
  EXPECT_NEAR(MahalanobisSqPacked(x3, mu3, sd3, packed3, 3), 15, 1e-6);
  // The inverse our learning uses: [[4, 2], [2, 3]]^-1 = [[3, -2], [-2, 4]] / 8.
  const double a[] = {4, 2, 2, 3};
  double inv[4];
  ASSERT_TRUE(Invert(a, inv, 2));
  EXPECT_NEAR(inv[0], 3.0 / 8, 1e-12);
  EXPECT_NEAR(inv[1], -2.0 / 8, 1e-12);
  EXPECT_NEAR(inv[3], 4.0 / 8, 1e-12);
  const double singular[] = {1, 2, 2, 4};
  EXPECT_FALSE(Invert(singular, inv, 2));
}

TEST(Distance, Hellinger) {
  const double p[] = {1, 0}, q[] = {0, 1};
  EXPECT_DOUBLE_EQ(Hellinger(p, q, 2), 1);
  const double a[] = {2, 6}, b[] = {1, 3};  // the same distribution, other totals
  EXPECT_NEAR(Hellinger(a, b, 2), 0, 1e-12);
  const double h[] = {0.5, 0.5};
  EXPECT_NEAR(Hellinger(h, p, 2), std::sqrt(1 - std::sqrt(0.5)), 1e-12);  // 0.541196
  // (0.36, 0.64) against (0.64, 0.36): BC = 2*sqrt(.36*.64) = 0.96, H = 0.2
  const double c[] = {36, 64}, d[] = {64, 36};
  EXPECT_NEAR(Hellinger(c, d, 2), 0.2, 1e-12);
  const double none[] = {0, 0};
  EXPECT_EQ(Hellinger(none, q, 2), 0);
}

TEST(Distance, Names) {
  for (int d = 0; d < kDistances; ++d) EXPECT_EQ(DistanceByName(DistanceName(d)), d);
  EXPECT_FALSE(DistanceByName("manhattan"));
}

// ---- records --------------------------------------------------------------

TEST(Record, DocumentedLine) {
  RecordParser p;
  CallRecord r;
  const std::string line =
      R"({"type":"call","call_id":"12013223@200.57.7.195","caller":"sip:200.57.7.195:55061;user=phone",)"
      R"("callee":"sip:francisco@bestel.com:55060","caller_user":"alice","callee_user":"francisco",)"
      R"("caller_ip":"200.57.7.195","contact":"sip:200.57.7.195:5060",)"
      R"("start":"2005-01-14T17:58:02.965944Z","end":"2005-01-14T17:58:37.874679Z","setup_ms":8477,)"
      R"("duration_s":34.9087,"billable_s":26.4308,"disposition":"answered","status":200,)"
      R"("ended_by":"end_of_input","media":[{"a":[1,2,{"b":null}]}]})";
  ASSERT_EQ(p.Parse(line, &r), ParseResult::kCall) << p.error();
  EXPECT_EQ(r.account, "alice");
  EXPECT_EQ(r.callee, "francisco");
  EXPECT_EQ(r.caller_ip, "200.57.7.195");
  EXPECT_TRUE(r.answered);
  EXPECT_NEAR(r.billable_s, 26.4308, 1e-9);
  EXPECT_EQ(FormatTime(r.start_us), "2005-01-14T17:58:02.965944Z");
}

// Strings are scanned 16 bytes at a time: an escape or the end quote in a
// later block, or in the last bytes of the line, is found all the same.
TEST(Record, EscapesAnywhereInLongStrings) {
  RecordParser p;
  CallRecord r;
  const std::string line =
      R"({"type":"call","caller_user":"a-rather-long-account-name\u0041nd-more","callee_user":)"
      R"("0123456789abcdef0123456789\"q","disposition":"answered","start":"2026-03-02T10:00:00Z",)"
      R"("note":"0123456789abcdefghij\\"})";
  ASSERT_EQ(p.Parse(line, &r), ParseResult::kCall) << p.error();
  EXPECT_EQ(r.account, "a-rather-long-account-nameAnd-more");
  EXPECT_EQ(r.callee, "0123456789abcdef0123456789\"q");
  // no end quote: the scan stops at the line's end
  EXPECT_EQ(p.Parse(R"({"type":"call","caller_user":"0123456789abcdef0123456789)", &r),
            ParseResult::kMalformed);
}

TEST(Record, OptionalFieldsAbsent) {
  RecordParser p;
  CallRecord r;
  // no caller_user, callee_user, caller_ip, end, media: users from the URIs
  ASSERT_EQ(p.Parse(R"({"type":"call","caller":"sip:+4930123@pbx;user=phone","callee":"tel:+881234;phone-context=x",)"
                    R"("start":"2026-03-02T08:00:00Z","setup_ms":null,"billable_s":0,"disposition":"busy","status":486})",
                    &r),
            ParseResult::kCall)
      << p.error();
  EXPECT_EQ(r.account, "+4930123");
  EXPECT_EQ(r.callee, "+881234");
  EXPECT_TRUE(r.caller_ip.empty());
  EXPECT_FALSE(r.answered);
  // escaped user parts are decoded
  ASSERT_EQ(p.Parse(R"({"type":"call","caller_user":"b\u00f6b","callee_user":"x\"y","start":"2026-03-02T08:00:00+01:00","disposition":"answered","billable_s":3})",
                    &r),
            ParseResult::kCall);
  EXPECT_EQ(r.account, "b\xc3\xb6" "b");
  EXPECT_EQ(r.callee, "x\"y");
  EXPECT_EQ(FormatTime(r.start_us), "2026-03-02T07:00:00.000000Z");
}

TEST(Record, OtherTypesAndMalformed) {
  RecordParser p;
  CallRecord r;
  EXPECT_EQ(p.Parse(R"({"type":"sip_record","ts":"x"})", &r), ParseResult::kOtherType);
  struct Case {
    const char* line;
    const char* error;
  } cases[] = {
      {"not json", "not a JSON object"},
      {R"({"type":"call","start":"2026-03-02T08:00:00Z")", "expected ','"},
      {R"({"start":"2026-03-02T08:00:00Z"})", "no \"type\""},
      {R"({"type":"call","caller_user":"a","callee_user":"b","disposition":"answered"})", "without \"start\""},
      {R"({"type":"call","caller_user":"a","callee_user":"b","start":"yesterday","disposition":"answered"})", "bad \"start\""},
      {R"({"type":"call","caller_user":"a","callee_user":"b","start":"2026-02-30T25:00:00Z","disposition":"answered"})", "bad \"start\""},
      {R"({"type":"call","caller":"sip:host","callee_user":"b","start":"2026-03-02T08:00:00Z","disposition":"answered"})", "caller user"},
      {R"({"type":"call","caller_user":"a","start":"2026-03-02T08:00:00Z","disposition":"answered"})", "callee user"},
      {R"({"type":"call","caller_user":"a","callee_user":"b","start":"2026-03-02T08:00:00Z"})", "disposition"},
      {R"({"type":"call","caller_user":"a","callee_user":"b","start":"2026-03-02T08:00:00Z","disposition":"answered","billable_s":"x"})", "not a number"},
      {R"({"type":"call","caller_user":7})", "not a string"},
      {R"({"type":"call"} trailing)", "text after"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(p.Parse(c.line, &r), ParseResult::kMalformed) << c.line;
    EXPECT_NE(p.error().find(c.error), std::string::npos) << c.line << " -> " << p.error();
  }
}

TEST(Record, Times) {
  int64_t us;
  ASSERT_TRUE(ParseTime("1970-01-01T00:00:00Z", &us));
  EXPECT_EQ(us, 0);
  ASSERT_TRUE(ParseTime("2026-12-06T12:00:00.5Z", &us));
  EXPECT_EQ(FormatTime(us), "2026-12-06T12:00:00.500000Z");
  EXPECT_FALSE(ParseTime("2026-12-06T12:00:00", &us));  // no zone
  int64_t day;
  ASSERT_TRUE(ParseDay("2026-12-25", &day));
  EXPECT_EQ(FormatTime(day * 86400000000LL).substr(0, 10), "2026-12-25");
  EXPECT_FALSE(ParseDay("2026-02-31", &day));
}

// The parser remembers the last date: a bad clock on the same date, a bad
// date, and then the good date again are each judged on their own.
TEST(Record, StartTimesInTurn) {
  RecordParser p;
  CallRecord r;
  auto line = [](const std::string& start) {
    return R"({"type":"call","caller_user":"a","callee_user":"b","disposition":"answered","start":")" +
           start + "\"}";
  };
  ASSERT_EQ(p.Parse(line("2026-03-02T10:00:00Z"), &r), ParseResult::kCall);
  EXPECT_EQ(FormatTime(r.start_us), "2026-03-02T10:00:00.000000Z");
  EXPECT_EQ(p.Parse(line("2026-03-02T24:00:00Z"), &r), ParseResult::kMalformed);
  EXPECT_EQ(p.Parse(line("2026-03-02T10:00:00"), &r), ParseResult::kMalformed);
  EXPECT_EQ(p.Parse(line("2026-13-02T10:00:00Z"), &r), ParseResult::kMalformed);
  std::string nuls;  // ten NULs where the date goes (a fresh parser's memory is zeros)
  for (int i = 0; i < 10; ++i) nuls += "\\u0000";
  EXPECT_EQ(RecordParser().Parse(line(nuls + "T10:00:00Z"), &r), ParseResult::kMalformed);
  ASSERT_EQ(p.Parse(line("2026-03-02T11:30:00+01:00"), &r), ParseResult::kCall);
  EXPECT_EQ(FormatTime(r.start_us), "2026-03-02T10:30:00.000000Z");
  ASSERT_EQ(p.Parse(line("2026-03-03T00:00:01Z"), &r), ParseResult::kCall);
  EXPECT_EQ(FormatTime(r.start_us), "2026-03-03T00:00:01.000000Z");
}

// ---- numbers ----------------------------------------------------------------

TEST(Numbers, CountryCodes) {
  EXPECT_EQ(CountryCode("4930123"), 49);
  EXPECT_EQ(CountryCode("12125550100"), 1);
  EXPECT_EQ(CountryCode("74951234567"), 7);
  EXPECT_EQ(CountryCode("35312345"), 353);
  EXPECT_EQ(CountryCode("8816123"), 881);
  EXPECT_EQ(CountryCode("0301"), 0);
}

TEST(Numbers, Classify) {
  NumberPlan plan;
  ASSERT_TRUE(plan.SetHighRisk(DefaultHighRisk()).ok());
  Dialled d = plan.Classify("030123456", 49);  // national, trunk prefix 0
  EXPECT_EQ(d.country, 49);
  EXPECT_FALSE(d.international);
  EXPECT_FALSE(d.high_risk);
  d = plan.Classify("+442071234567", 49);
  EXPECT_EQ(d.country, 44);
  EXPECT_TRUE(d.international);
  d = plan.Classify("0900123456", 49);  // German premium rate, dialled nationally
  EXPECT_TRUE(d.high_risk);
  EXPECT_FALSE(d.international);
  d = plan.Classify("00881612345", 49);  // satellite (GMSS)
  EXPECT_TRUE(d.high_risk && d.international);
  EXPECT_EQ(d.country, 881);
  d = plan.Classify("2001", 49);  // an extension
  EXPECT_EQ(d.country, 0);
  EXPECT_FALSE(d.international);
  EXPECT_TRUE(plan.Classify("+4930123456", 0).international);  // home unknown yet
  EXPECT_FALSE(plan.Classify("2125550100", 1).international);   // NANP, ten digits
  EXPECT_TRUE(plan.Classify("011442071234567", 1).international);
  EXPECT_TRUE(plan.Classify("19005550100", 1).high_risk);
  EXPECT_TRUE(plan.Classify("+4990012345", 1).high_risk);   // a five-digit prefix (49900)
  EXPECT_FALSE(plan.Classify("+4990112345", 1).high_risk);
  d = plan.Classify("0871234567", 353);  // a three-digit home's national number
  EXPECT_EQ(d.country, 353);
  EXPECT_FALSE(d.international);
  EXPECT_EQ(plan.Classify("+" + std::string(40, '4'), 49).country, 0);  // no number is that long
  EXPECT_EQ(NumberPlan::OwnE164("+49 30 123"), "4930123");
  EXPECT_EQ(NumberPlan::OwnE164("alice"), "");
  ASSERT_TRUE(plan.SetHighRisk({"+49 30"}).ok());
  EXPECT_TRUE(plan.Classify("030123456", 49).high_risk);
  EXPECT_FALSE(plan.Classify("+881612345", 49).high_risk);  // the default list is gone
  EXPECT_FALSE(plan.Classify("+53123456", 49).high_risk);
  EXPECT_FALSE(plan.SetHighRisk({"0049"}).ok());
  EXPECT_FALSE(plan.SetHighRisk({"+49x"}).ok());
}

// ---- the engine on event time ------------------------------------------------

TEST(Engine, LearnsProfilesFromEventTime) {
  ProfileSet set = LearnOffices();
  ASSERT_EQ(set.profiles.size(), 4u);
  const Profile& p = set.profiles[0].second;
  EXPECT_EQ(p.days, 28 - 7) << "28 days minus the warm-up week";
  EXPECT_EQ(p.home, 49);
  // 10:00 on a weekday: about 2.5 calls; 03:00: none
  EXPECT_NEAR(static_cast<float>(p.mean[10 * kMetrics + kCalls]), 2.5, 0.8);
  EXPECT_NEAR(static_cast<float>(p.mean[3 * kMetrics + kCalls]), 0, 1e-3);
  for (int k = 0; k < kDistances; ++k) {
    EXPECT_GT(set.meta.calib.ratio[k][0], 0) << DistanceName(k);
    // sharing the target with others, a distance's threshold is no lower
    for (int n = 1; n < kDistances; ++n)
      EXPECT_GE(set.meta.calib.ratio[k][n], set.meta.calib.ratio[k][n - 1]) << DistanceName(k);
    EXPECT_GT(p.scale[k], 0) << DistanceName(k);
    EXPECT_GT(set.meta.calib.samples[k], 1000u);
  }
}

struct Caught {
  std::vector<Alarm> alarms;
  Engine::AlarmSink Sink() {
    return [this](const Alarm& a) { alarms.push_back(a); };
  }
};

TEST(Engine, DetectsANightOfInternationalCallsAtTheBinsEnd) {
  ProfileSet set = LearnOffices();
  // alarm_mode any: the four distances share one episode; each: one per distance
  for (const bool each : {false, true}) {
    SCOPED_TRACE(each ? "each" : "any");
    Caught caught;
    Config c = TestConfig();
    c.alarm_distances = (1u << kDistances) - 1;
    c.alarm_each = each;
    Engine e(c, Engine::Mode::kDetect, caught.Sink());
    e.SetCalibration(set.meta.calib);
    for (auto& [n, p] : set.profiles) e.AddProfile(n, p);
    // a normal week first: office0 raises nothing
    Feed(e, OfficeDays("office0", 28, 3, 99));
    e.Flush(kStart + 31 * kDay);
    for (const Alarm& a : caught.alarms) EXPECT_NE(a.account, "office0") << a.json;
    // then, on day 31 (Thursday) from 02:08 to 02:52, twelve calls abroad and to a satellite
    std::vector<Call> night;
    for (int i = 0; i < 12; ++i)
      night.push_back({"office0", absl::StrFormat(i % 2 ? "+88161%06d" : "+5355%06d", i),
                       kStart + 31 * kDay + 2 * kHour + 480000000LL + i * 240000000LL, true, 900});
    Feed(e, night);
    // event time has not passed the bin's end: nothing yet
    for (const Alarm& a : caught.alarms) EXPECT_NE(a.account, "office0") << a.json;
    Feed(e, OfficeDays("office0", 31, 1, 5));  // the day goes on and closes the night's bins
    e.Flush(kStart + 32 * kDay);
    std::vector<const Alarm*> mine;
    for (const Alarm& a : caught.alarms)
      if (a.account == "office0") mine.push_back(&a);
    ASSERT_FALSE(mine.empty()) << "no alarm for the night";
    const Alarm& first = *mine[0];
    // raised when the night's bin closed: its end, 03:00, is the alarm's time
    EXPECT_EQ(first.ts_us, kStart + 31 * kDay + 3 * kHour) << first.json;
    EXPECT_NE(first.json.find(R"("category":"anomaly")"), std::string::npos) << first.json;
    EXPECT_NE(first.json.find(R"("account":"office0")"), std::string::npos);
    EXPECT_NE(first.json.find(R"("profile_days":21)"), std::string::npos) << first.json;
    EXPECT_NE(first.json.find(R"("threshold":)"), std::string::npos);
    EXPECT_NE(first.json.find(R"("bins":[{"start":"2026-04-02T0)"), std::string::npos) << first.json;
    // one alarm per distance (each) or in all (any) and episode, not one per bin
    std::set<int> seen;
    for (const Alarm* a : mine) EXPECT_TRUE(seen.insert(a->distance).second) << a->json;
    if (each) {
      EXPECT_GE(mine.size(), 2u);
    } else {
      EXPECT_EQ(mine.size(), 1u);
    }
  }
}

// An alarm episode ends after rearm_bins bins with every distance under its
// threshold: a second burst the next evening is a second alarm, unless the
// episode must wait longer than the quiet hours between (rearm_bins 24).
TEST(Engine, AnEpisodeEndsAfterRearmBinsQuiet) {
  ProfileSet set = LearnOffices();
  auto burst = [](int64_t at) {
    std::vector<Call> v;
    for (int i = 0; i < 12; ++i)
      v.push_back({"office0", absl::StrFormat(i % 2 ? "+88161%06d" : "+5355%06d", i),
                   at + 480000000LL + i * 240000000LL, true, 900});
    return v;
  };
  for (const int rearm : {6, 24}) {
    SCOPED_TRACE(absl::StrFormat("rearm_bins %d", rearm));
    Caught caught;
    Config c = TestConfig();
    c.rearm_bins = rearm;
    Engine e(c, Engine::Mode::kDetect, caught.Sink());
    e.SetCalibration(set.meta.calib);
    for (auto& [n, p] : set.profiles) e.AddProfile(n, p);
    // day 31 from 02:00 and day 32 from 20:00: the first burst leaves the
    // window at 03:00 on day 32, 17 quiet evaluations before the second
    std::vector<Call> calls = OfficeDays("office0", 28, 6, 99);
    for (const int64_t at : {kStart + 31 * kDay + 2 * kHour, kStart + 32 * kDay + 20 * kHour}) {
      auto b = burst(at);
      calls.insert(calls.end(), b.begin(), b.end());
    }
    std::stable_sort(calls.begin(), calls.end(),
                     [](const Call& a, const Call& b) { return a.start < b.start; });
    Feed(e, calls);
    e.Flush(kStart + 34 * kDay);
    std::vector<int64_t> at;
    for (const Alarm& a : caught.alarms)
      if (a.account == "office0") at.push_back(a.ts_us);
    ASSERT_FALSE(at.empty());
    EXPECT_EQ(at[0], kStart + 31 * kDay + 3 * kHour);
    if (rearm == 6) {
      ASSERT_EQ(at.size(), 2u);
      EXPECT_EQ(at[1], kStart + 32 * kDay + 21 * kHour);
    } else {
      EXPECT_EQ(at.size(), 1u);
    }
  }
}

// Learning with other settings: hellinger compares the parts named, and the
// calibration counts episodes ending after rearm_bins, as detection does.
TEST(Engine, HellingerPartsAndRearmBinsReachTheDistancesAndThresholds) {
  auto learn = [](const Config& c, double last[kDistances]) {
    Engine e(c, Engine::Mode::kLearn);
    Feed(e, OfficesLearning());
    e.Flush(kStart + 28 * kDay);
    EXPECT_TRUE(e.LastDistances("office0", last));
    uint64_t young = 0;
    e.TakeProfiles(&young);
    return e.calibration();
  };
  double time_only[kDistances], callees_only[kDistances], all_parts[kDistances];
  Config c = TestConfig();
  c.hellinger_parts = 1u << kHellTime;
  learn(c, time_only);
  c.hellinger_parts = 1u << kHellCallees;
  learn(c, callees_only);
  c.hellinger_parts = (1u << kHellParts) - 1;
  learn(c, all_parts);
  EXPECT_NE(time_only[kHellinger], callees_only[kHellinger]);
  for (int k = 0; k < kHellinger; ++k) {
    EXPECT_EQ(time_only[k], callees_only[k]) << DistanceName(k);  // the others untouched
    EXPECT_EQ(time_only[k], all_parts[k]) << DistanceName(k);
  }
  // the root mean square of the three
  double growth_only[kDistances];
  c.hellinger_parts = 1u << kHellGrowth;
  learn(c, growth_only);
  EXPECT_NEAR(all_parts[kHellinger],
              std::sqrt((time_only[kHellinger] * time_only[kHellinger] +
                         callees_only[kHellinger] * callees_only[kHellinger] +
                         growth_only[kHellinger] * growth_only[kHellinger]) / 3),
              1e-5);
  // One quiet bin ends an episode: more episodes at every ratio, so the
  // ratio meeting the target is no lower, and here higher.
  double d[kDistances];
  c = TestConfig();
  c.rearm_bins = 1;
  const Calibration quick = learn(c, d);
  c.rearm_bins = 24;
  const Calibration slow = learn(c, d);
  bool higher = false;
  for (int k = 0; k < kDistances; ++k) {
    EXPECT_GE(quick.ratio[k][0], slow.ratio[k][0]) << DistanceName(k);
    higher |= quick.ratio[k][0] > slow.ratio[k][0];
  }
  EXPECT_TRUE(higher);
}

TEST(Engine, NewAccountsLearnSilentlyThenDetect) {
  ProfileSet set = LearnOffices();
  Caught caught;
  Config c = TestConfig();
  c.alarm_distances = (1u << kDistances) - 1;
  Engine e(c, Engine::Mode::kDetect, caught.Sink());
  e.SetCalibration(set.meta.calib);
  for (auto& [n, p] : set.profiles) e.AddProfile(n, p);
  // newbie starts on day 28 with a burst no profile would accept
  std::vector<Call> calls = OfficeDays("newbie", 28, 28, 3);
  for (int i = 0; i < 200; ++i)
    calls.push_back({"newbie", absl::StrFormat("+88161%06d", i), kStart + 29 * kDay + i * 60000000LL});
  std::sort(calls.begin(), calls.end(), [](const Call& a, const Call& b) { return a.start < b.start; });
  Feed(e, calls);
  e.Flush(kStart + 56 * kDay);
  for (const Alarm& a : caught.alarms) EXPECT_NE(a.account, "newbie") << a.json;
  EXPECT_EQ(e.stats().new_accounts, 1u);
  EXPECT_EQ(e.stats().profiled_online, 1u);  // after learning_days, it has a profile
  // and from then on it is watched: a night burst on day 57
  std::vector<Call> night;
  for (int i = 0; i < 30; ++i)
    night.push_back({"newbie", absl::StrFormat("+88161%06d", i), kStart + 57 * kDay + 2 * kHour + i * 120000000LL});
  Feed(e, night);
  e.Flush(kStart + 58 * kDay);
  bool caught_newbie = false;
  for (const Alarm& a : caught.alarms) caught_newbie |= a.account == "newbie";
  EXPECT_TRUE(caught_newbie);
}

// Holidays (exclusion days) are not learned, and compared with the weekend's
// bins: an office silent on a Thursday holiday is as far from its profile as
// a quiet Sunday, and much nearer than a silent working Thursday; a burst of
// calls abroad on a holiday still raises alarms.
TEST(Engine, ExclusionDaysAreComparedAsWeekendsAndNotLearned) {
  ProfileSet set = LearnOffices();
  // the distances of the window that is the whole of Thursday 2026-04-02
  auto detect = [&](bool holiday, bool burst, double d[kDistances]) {
    Caught caught;
    Config c = TestConfig();
    c.alarm_distances = (1u << kDistances) - 1;
    c.alarm_each = true;
    if (holiday) c.exclusion_days.insert(20514 + 31);
    Engine e(c, Engine::Mode::kDetect, caught.Sink());
    e.SetCalibration(set.meta.calib);
    for (auto& [n, p] : set.profiles) e.AddProfile(n, p);
    Feed(e, OfficeDays("office1", 28, 3, 11));  // Monday to Wednesday, then nothing
    std::vector<Call> calls;
    for (int i = 0; burst && i < 100; ++i)
      calls.push_back({"office1", absl::StrFormat("+88161%06d", i),
                       kStart + 31 * kDay + 2 * kHour + i * 30000000LL});
    Feed(e, calls);
    e.Flush(kStart + 32 * kDay);
    EXPECT_TRUE(e.LastDistances("office1", d));
    int mine = 0;
    for (const Alarm& a : caught.alarms) mine += a.account == "office1";
    if (holiday) {
      EXPECT_EQ(e.stats().excluded, burst ? 100u : 0u);
    }
    return mine;
  };
  double working[kDistances], off[kDistances], burst[kDistances];
  detect(false, false, working);
  detect(true, false, off);
  EXPECT_LT(off[kQuadratic], working[kQuadratic] / 2)
      << "a silent holiday is like the office's weekends, a silent Thursday is not";
  EXPECT_LT(off[kEuclidean], working[kEuclidean] / 2);
  EXPECT_GT(detect(true, true, burst), 0) << "a burst abroad on a holiday";
  EXPECT_GT(burst[kQuadratic], 10 * off[kQuadratic]);

  // Learning: the holiday's calls leave the profile as it was.
  Config c = TestConfig();
  c.exclusion_days.insert(20514 + 10);  // 2026-03-12, a Thursday of the learning weeks
  Engine learn(c, Engine::Mode::kLearn);
  std::vector<Call> all = OfficeDays("office0", 0, 28, 7);
  for (int i = 0; i < 100; ++i)
    all.push_back({"office0", absl::StrFormat("+88161%06d", i),
                   kStart + 10 * kDay + 2 * kHour + i * 30000000LL});
  std::sort(all.begin(), all.end(), [](const Call& a, const Call& b) { return a.start < b.start; });
  Feed(learn, all);
  learn.Flush(kStart + 28 * kDay);
  uint64_t young = 0;
  auto profiles = learn.TakeProfiles(&young);
  ASSERT_EQ(profiles.size(), 1u);
  const Profile& p = profiles[0].second;
  EXPECT_NEAR(static_cast<float>(p.mean[2 * kMetrics + kCalls]), 0, 1e-3) << "weekday 02:00";
  EXPECT_NEAR(static_cast<float>(p.mean[(24 + 2) * kMetrics + kCalls]), 0, 1e-3) << "weekend 02:00";
}

// Bots from their first call: many short calls a day, nearly all to numbers
// never called before, most unanswered. Their own profiles are "normal".
std::vector<Call> BotDays(const std::string& who, int days, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Call> out;
  for (int d = 0; d < days; ++d)
    for (int h = 8; h < 20; ++h)
      for (int i = 0; i < 10 + static_cast<int>(rng() % 20); ++i)
        out.push_back({who, absl::StrFormat("0%09d", rng() % 1000000000),
                       kStart + d * kDay + h * kHour + static_cast<int64_t>(rng() % 3600) * 1000000,
                       rng() % 3 == 0, 5.0 + rng() % 10});
  return out;
}

// The paper: "a class of VoIP bots [...] can be detected if a known bot
// profile falls into the same class".
TEST(Classes, AKnownBotFlagsItsClassAndNothingElse) {
  Config c = TestConfig();
  c.classes = 3;
  Engine learn(c, Engine::Mode::kLearn);
  std::vector<Call> all;
  for (int i = 0; i < 12; ++i) {
    auto v = OfficeDays(absl::StrFormat("office%d", i), 0, 28, 50 + i);
    all.insert(all.end(), v.begin(), v.end());
  }
  for (int i = 0; i < 4; ++i) {
    auto v = BotDays(absl::StrFormat("bot%d", i), 28, 90 + i);
    all.insert(all.end(), v.begin(), v.end());
  }
  std::sort(all.begin(), all.end(), [](const Call& a, const Call& b) { return a.start < b.start; });
  Feed(learn, all);
  learn.Flush(kStart + 28 * kDay);
  uint64_t young = 0;
  auto profiles = learn.TakeProfiles(&young);
  ASSERT_EQ(profiles.size(), 16u);
  const Classes classes = learn.classes();
  ASSERT_EQ(classes.centroids.size(), 3u);
  std::map<std::string, int> cls;
  for (const auto& [name, p] : profiles) cls[name] = p.cls;
  for (int i = 1; i < 4; ++i) EXPECT_EQ(cls["bot0"], cls[absl::StrFormat("bot%d", i)]);
  for (int i = 0; i < 12; ++i) EXPECT_NE(cls["bot0"], cls[absl::StrFormat("office%d", i)]);
  EXPECT_EQ(classes.members[cls["bot0"] - 1], 4u);

  // the classes survive the profile directory
  ProfileSet set;
  set.profiles = profiles;
  set.meta.calib = learn.calibration();
  set.meta.classes = classes;
  set.meta.learned_until_us = kStart + 28 * kDay;
  const std::string dir = ::testing::TempDir() + "sw-classes-" + std::to_string(getpid());
  ASSERT_TRUE(SaveProfiles(dir, set).ok());
  auto back = LoadProfiles(dir);
  ASSERT_TRUE(back.ok()) << back.status();
  std::filesystem::remove_all(dir);
  ASSERT_EQ(back->meta.classes.centroids.size(), 3u);
  EXPECT_EQ(back->meta.classes.centroids[1], classes.centroids[1]);
  EXPECT_EQ(back->meta.classes.sd[0], classes.sd[0]);
  for (const auto& [name, p] : back->profiles) EXPECT_EQ(p.cls, cls[name]) << name;

  // bot0 is known: bot1..bot3 raise one class alarm each, nobody else does
  c.known_bots.insert("bot0");
  Caught caught;
  Engine e(c, Engine::Mode::kDetect, caught.Sink());
  e.SetCalibration(set.meta.calib);
  e.SetClasses(back->meta.classes);
  for (auto& [n, p] : back->profiles) e.AddProfile(n, p);
  std::vector<Call> week;
  for (int i = 0; i < 12; ++i) {
    auto v = OfficeDays(absl::StrFormat("office%d", i), 28, 2, 150 + i);
    week.insert(week.end(), v.begin(), v.end());
  }
  std::sort(week.begin(), week.end(), [](const Call& a, const Call& b) { return a.start < b.start; });
  Feed(e, week);
  e.Flush(kStart + 30 * kDay);
  std::set<std::string> flagged;
  for (const Alarm& a : caught.alarms) {
    if (a.detector != "class") continue;
    EXPECT_TRUE(flagged.insert(a.account).second) << "one class alarm per account: " << a.json;
    EXPECT_NE(a.json.find(R"("known_bots":"bot0")"), std::string::npos) << a.json;
    EXPECT_NE(a.json.find(R"("rule":"profile-class")"), std::string::npos) << a.json;
  }
  EXPECT_EQ(flagged, (std::set<std::string>{"bot1", "bot2", "bot3"}));
}

TEST(Engine, LateRecordsJoinTheOpenBin) {
  Engine e(TestConfig(), Engine::Mode::kLearn);
  Feed(e, {{"a", "1", kStart + 5 * kHour}, {"a", "2", kStart + 7 * kHour}, {"a", "3", kStart + 6 * kHour}});
  EXPECT_EQ(e.stats().late, 1u);
  EXPECT_EQ(e.stats().calls, 3u);
}

// Learning in batches grouped by account gives what learning one call at a
// time gives: the same profiles, thresholds and accounts still learning.
TEST(LearnBatch, TheSameProfilesAsOneByOne) {
  std::vector<Call> all = OfficesLearning();
  auto young = OfficeDays("young", 20, 8, 99);  // too few days for a profile: still learning
  all.insert(all.end(), young.begin(), young.end());
  std::stable_sort(all.begin(), all.end(), [](const Call& a, const Call& b) { return a.start < b.start; });
  all.insert(all.begin() + all.size() / 2, Call{"office1", "0305550001", kStart + 10 * kDay});  // late
  const int64_t end = kStart + 28 * kDay;

  Engine one(TestConfig(), Engine::Mode::kLearn);
  Feed(one, all);
  one.Flush(end);
  Engine grouped(TestConfig(), Engine::Mode::kLearn);
  {
    LearnBatch batch(grouped, 37);  // small: many batches, accounts split across them
    std::string account, callee;
    for (const Call& c : all) {
      account = c.account, callee = c.callee;
      CallRecord r;
      r.account = account, r.callee = callee, r.caller_ip = "192.0.2.1";
      r.start_us = c.start, r.answered = c.answered, r.billable_s = c.answered ? c.billable : 0;
      batch.Add(r);
      account.assign("overwritten"), callee.assign("0000");  // the batch keeps its copies
    }
  }  // the rest is handed on when the batch goes
  grouped.Flush(end);

  EXPECT_EQ(grouped.stats().calls, one.stats().calls);
  EXPECT_EQ(grouped.stats().late, 1u);
  EXPECT_EQ(grouped.stats().late, one.stats().late);
  EXPECT_EQ(grouped.stats().evaluations, one.stats().evaluations);
  EXPECT_EQ(grouped.ExportLearning(), one.ExportLearning());
  EXPECT_FALSE(one.ExportLearning().empty());
  uint64_t y1 = 0, y2 = 0;
  auto a = one.TakeProfiles(&y1), b = grouped.TakeProfiles(&y2);
  EXPECT_EQ(y1, 1u);
  EXPECT_EQ(y2, y1);
  ASSERT_EQ(a.size(), 4u);
  ASSERT_EQ(b.size(), a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    const Profile &p = a[i].second, &q = b[i].second;
    EXPECT_EQ(a[i].first, b[i].first);
    EXPECT_EQ(p.days, q.days);
    EXPECT_EQ(p.home, q.home);
    EXPECT_EQ(p.n, q.n);
    EXPECT_EQ(0, memcmp(p.mean.data(), q.mean.data(), p.mean.size() * sizeof(_Float16)));
    EXPECT_EQ(0, memcmp(p.sd.data(), q.sd.data(), p.sd.size() * sizeof(_Float16)));
    EXPECT_EQ(0, memcmp(p.rinv, q.rinv, sizeof(p.rinv)));
    EXPECT_EQ(0, memcmp(p.href, q.href, sizeof(p.href)));
    EXPECT_EQ(0, memcmp(p.scale, q.scale, sizeof(p.scale)));
    EXPECT_EQ(p.bloom, q.bloom);
    EXPECT_EQ(p.cls, q.cls);
  }
  EXPECT_EQ(0, memcmp(&one.calibration(), &grouped.calibration(), sizeof(Calibration)));
}

// ---- the profile directory ------------------------------------------------------

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/sw_profiles_test.XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string Slurp(const std::string& path) {
  std::ifstream f(path);
  return std::string(std::istreambuf_iterator<char>(f), {});
}
void Spit(const std::string& path, const std::string& s) { std::ofstream(path) << s; }

TEST(Store, RoundTrip) {
  ProfileSet set = LearnOffices();
  TempDir dir;
  ASSERT_TRUE(SaveProfiles(dir.path(), set).ok());
  auto loaded = LoadProfiles(dir.path());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->profiles.size(), set.profiles.size());
  for (size_t i = 0; i < set.profiles.size(); ++i) {
    const Profile &a = set.profiles[i].second, &b = loaded->profiles[i].second;
    EXPECT_EQ(set.profiles[i].first, loaded->profiles[i].first);
    EXPECT_EQ(a.n, b.n);
    EXPECT_EQ(a.bloom, b.bloom);
    EXPECT_EQ(0, memcmp(a.mean.data(), b.mean.data(), a.mean.size() * sizeof(_Float16)));
    EXPECT_EQ(0, memcmp(a.rinv, b.rinv, sizeof(a.rinv)));
    EXPECT_EQ(0, memcmp(a.scale, b.scale, sizeof(a.scale)));
  }
  for (int k = 0; k < kDistances; ++k)
    for (int n = 0; n < kDistances; ++n)
      EXPECT_EQ(loaded->meta.calib.ratio[k][n], set.meta.calib.ratio[k][n]);
  EXPECT_EQ(loaded->meta.learned_until_us, set.meta.learned_until_us);
  EXPECT_EQ(loaded->meta.rearm_bins, 6);
  EXPECT_EQ(loaded->meta.hellinger_parts, (1u << kHellGrowth) | (1u << kHellTime));
  // A directory written before rearm_bins and hellinger_parts were kept:
  // its episodes ended after a window and Hellinger took all three parts,
  // which its thresholds were set for.
  std::string meta = Slurp(dir.path() + "/profiles.meta");
  for (const std::string line : {"rearm_bins 6\n", "hellinger_parts growth,time\n"}) {
    const size_t at = meta.find(line);
    ASSERT_NE(at, std::string::npos) << line;
    meta.erase(at, line.size());
  }
  Spit(dir.path() + "/profiles.meta", meta);
  loaded = LoadProfiles(dir.path());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->meta.rearm_bins, loaded->meta.window_bins);
  EXPECT_EQ(loaded->meta.hellinger_parts, (1u << kHellParts) - 1);
  // Detecting with a configuration that leaves them out takes the
  // directory's; one that sets them otherwise is refused, saying what to do.
  Config c;
  auto det = LoadForDetect(dir.path(), true, &c, set.meta.learned_until_us);
  ASSERT_TRUE(det.ok()) << det.status();
  EXPECT_EQ(c.rearm_bins, det->meta.window_bins);
  EXPECT_EQ(c.hellinger_parts, (1u << kHellParts) - 1);
  Config d;
  d.rearm_bins_set = true;  // rearm_bins: 6 in the file
  det = LoadForDetect(dir.path(), true, &d, set.meta.learned_until_us);
  ASSERT_FALSE(det.ok());
  EXPECT_NE(det.status().message().find("learned with rearm_bins 24, the configuration says 6 "
                                        "(learn again, or set it as learned)"),
            std::string::npos)
      << det.status();
  Spit(dir.path() + "/profiles.meta", meta + "hellinger_parts growth,weekdays\n");
  EXPECT_FALSE(LoadProfiles(dir.path()).ok());
}

TEST(Store, RefusesEmptyMissingAndOtherVersions) {
  TempDir dir;
  auto r = LoadProfiles(dir.path());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("empty directory"), std::string::npos) << r.status();
  EXPECT_FALSE(LoadProfiles(dir.path() + "/absent").ok());
  Spit(dir.path() + "/other", "x");
  r = LoadProfiles(dir.path());
  EXPECT_NE(r.status().message().find("no profiles.meta"), std::string::npos) << r.status();

  ProfileSet set = LearnOffices();
  ASSERT_TRUE(SaveProfiles(dir.path(), set).ok());
  const std::string meta = Slurp(dir.path() + "/profiles.meta");
  auto with_format = [&](int f) {
    std::string m = meta;
    m.replace(0, m.find('\n'), absl::StrFormat("sipwarden-profiles format %d", f));
    Spit(dir.path() + "/profiles.meta", m);
    return LoadProfiles(dir.path());
  };
  r = with_format(kOldestProfileFormat - 1);  // too old to migrate: refused, with what to do
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("older than this program reads"), std::string::npos)
      << r.status();
  EXPECT_NE(r.status().message().find("learn again"), std::string::npos);
  for (int f = kOldestProfileFormat; f <= kProfileFormat; ++f) EXPECT_TRUE(with_format(f).ok()) << f;
  r = with_format(kProfileFormat + 1);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("newer"), std::string::npos) << r.status();
  ASSERT_TRUE(with_format(kProfileFormat).ok());

  // a damaged or truncated profiles.bin
  const std::string bin = Slurp(dir.path() + "/profiles.bin");
  Spit(dir.path() + "/profiles.bin", bin.substr(0, bin.size() / 2));
  r = LoadProfiles(dir.path());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("damaged or truncated"), std::string::npos) << r.status();
}

TEST(Store, CompatibleSettings) {
  ProfileMeta m;
  Config c;
  EXPECT_TRUE(CheckCompatible(m, c).ok());
  c.bin_minutes = 30;
  EXPECT_FALSE(CheckCompatible(m, c).ok());
  c = Config();
  c.rearm_bins = 12;  // the thresholds were set counting episodes the other way
  auto st = CheckCompatible(m, c);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("rearm_bins 6, the configuration says 12"), std::string::npos)
      << st.message();
  c = Config();
  c.hellinger_parts = (1u << kHellParts) - 1;
  st = CheckCompatible(m, c);
  EXPECT_NE(st.message().find("hellinger_parts growth,time, the configuration says "
                              "callees,growth,time"),
            std::string::npos)
      << st.message();
}

// ---- configuration --------------------------------------------------------------

TEST(ConfigFile, OverridesAndErrors) {
  TempDir dir;
  const std::string path = dir.path() + "/c.yaml";
  Spit(path,
       "bin_minutes: 30\nwindow_bins: 48\nhome_country: '+44'\n"
       "high_risk_add: ['+99999']\nexclusion_days: [2026-12-25, 2026-12-26]\n"
       "alarm_distances: [quadratic, hellinger]\naccounts: {alice: {home_country: 33}}\n"
       "rearm_bins: 3\nhellinger_parts: [callees, time]\n");
  Config c;
  EXPECT_EQ(c.hellinger_parts, (1u << kHellGrowth) | (1u << kHellTime));
  ASSERT_TRUE(LoadConfig(path, &c).ok());
  EXPECT_EQ(c.bin_minutes, 30);
  EXPECT_EQ(c.rearm_bins, 3);
  EXPECT_EQ(HellingerPartsString(c.hellinger_parts), "callees,time");
  EXPECT_EQ(c.home_country, 44);
  EXPECT_EQ(c.account_home["alice"], 33);
  EXPECT_EQ(c.exclusion_days.size(), 2u);
  EXPECT_EQ(c.alarm_distances, (1u << kQuadratic) | (1u << kHellinger));
  EXPECT_EQ(c.high_risk.size(), DefaultHighRisk().size() + 1);
  for (const char* bad : {"bin_minutes: 7\n", "nonsense: 1\n", "exclusion_days: [2026-13-01]\n",
                          "high_risk: ['0049']\n", "home_country: '+4x'\n",
                          "alarm_distances: [manhattan]\n", "learning_days: 5\n",
                          "rearm_bins: 0\n", "rearm_bins: 300\n", "hellinger_parts: [weekdays]\n",
                          "hellinger_parts: []\n"}) {
    Spit(path, bad);
    Config d;
    EXPECT_FALSE(LoadConfig(path, &d).ok()) << bad;
  }
  Spit(path, "window_bins: 24\nnonsense: 1\n");
  Config d;
  auto st = LoadConfig(path, &d);
  EXPECT_NE(st.message().find(":2: nonsense"), std::string::npos) << st;
}

}  // namespace
}  // namespace sw::profiles
