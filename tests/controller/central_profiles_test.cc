// SPDX-License-Identifier: BSD-2-Clause
// The fleet's account profiles in the controller: call records agents
// forward as call-record events feed them, the central rules' Calendar rule
// compares (the paper's Figure 6 over every agent), anomalies reach the
// alarm sink; the controller asks agents for call-record only then; the
// profiles are written back when the correlator ends.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "central.h"
#include "controller_client.h"
#include "correlate.h"
#include "office_days.h"
#include "sipwarden/profiles/store.h"
#include "sipwarden/profiles/watch.h"
#include "test_util.h"

namespace sw::controller {
namespace {

namespace v1 = sipwarden::v1;
using profiles::Call;
using profiles::kDay;
using profiles::kHour;
using profiles::kStart;

constexpr char kRules[] = R"(
rules:
  - name: profile-compare
    type: Calendar
    every: 1h
    actions: [compare_profiles]
)";

v1::ForwardedEvent CallEvent(const Call& c) {
  v1::ForwardedEvent e;
  e.set_name("call-record");
  const double duration = c.answered ? c.billable + 5 : 20;
  e.set_ts_unix_ns(c.start * 1000 + static_cast<int64_t>(duration * 1e9));
  auto add = [&](const char* k, const std::string& v) {
    auto* f = e.add_fields();
    f->set_name(k);
    f->set_value(v);
  };
  add("caller_user", c.account);
  add("caller_uri", "sip:" + c.account + "@pbx.example");
  add("callee_user", c.callee);
  add("caller_ip", "198.51.100.9");
  add("disposition", c.answered ? "answered" : "no_answer");
  add("duration", absl::StrCat(duration));
  add("billable", absl::StrCat(c.answered ? c.billable : 0));
  return e;
}

TEST(CentralProfiles, ForwardedCallRecordsAreProfiledAndComparedCentrally) {
  // The offices' four learned weeks end a few days ago (whole weeks after
  // the test data's Monday), so that the controller's clock runs on.
  const int64_t now_us = absl::ToUnixMicros(absl::Now());
  const int64_t shift = (now_us - 32 * kDay - kStart) / (7 * kDay) * (7 * kDay);
  const auto dir = std::filesystem::temp_directory_path() /
                   ("sw-central-profiles-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  profiles::ProfileSet set = profiles::LearnOffices(shift);
  set.meta.bin_minutes = 60;
  set.meta.window_bins = 24;
  ASSERT_TRUE(profiles::SaveProfiles((dir / "prof").string(), set).ok());
  std::ofstream(dir / "profiles.yaml") << "home_country: '+49'\n"
                                          "target_false_alarms_per_1000_account_days: 20\n";
  auto watch = profiles::ProfileWatch::Open((dir / "prof").string(),
                                            (dir / "profiles.yaml").string(), now_us);
  ASSERT_TRUE(watch.ok()) << watch.status();

  std::mutex mu;
  std::vector<std::string> alarms;
  CentralCorrelator::Sinks sinks;
  sinks.alarm = [&](const rules::Alarm& a, const std::string& json) {
    std::lock_guard<std::mutex> lock(mu);
    if (a.category == "anomaly") alarms.push_back(json);
  };
  std::vector<rules::ConfigError> errors;
  auto rs = rules::LoadRuleText(kRules, "central.yaml", &errors);
  ASSERT_TRUE(rs.ok());
  // three ordinary days of office0, then a night of calls abroad
  std::vector<Call> calls = profiles::OfficeDays("office0", 28, 3, 99);
  for (int i = 0; i < 12; ++i)
    calls.push_back({"office0", "+88161" + std::to_string(100000 + i),
                     kStart + 31 * kDay + 2 * kHour + 480000000LL + i * 240000000LL, true, 900});
  for (Call& c : calls) c.start += shift;
  std::vector<v1::ForwardedEvent> events;
  for (const Call& c : calls) events.push_back(CallEvent(c));
  v1::ForwardedEvent bad = CallEvent(calls.front());
  bad.mutable_fields(0)->set_value("");                 // no caller user,
  bad.mutable_fields(1)->set_value("sip:pbx.example");  // nor one in the URI
  events.push_back(bad);
  {
    CentralCorrelator cc(*rs, sinks, 100000, std::move(*watch), absl::ZeroDuration());
    // As one batch, at once: the history goes in before the controller's
    // clock moves the engine on to today (its first idle turn, 200 ms on).
    cc.Submit(events);
    // it asks agents for call records
    EXPECT_TRUE(cc.Wants("call-record"));
    ASSERT_TRUE(WaitFor(
        [&] {
          std::lock_guard<std::mutex> lock(mu);
          for (const auto& j : alarms)
            if (j.find(R"("anomaly":{"account":"office0")") != std::string::npos) return true;
          return false;
        },
        20000))
        << "no anomaly for office0";
    // The alarm is raised while the batch is still being read; the counts
    // are published when the whole batch is done.
    ASSERT_TRUE(WaitFor([&] { return cc.stats().events >= events.size(); }, 20000))
        << "the batch was not counted";
    const auto st = cc.stats();
    EXPECT_EQ(st.events, events.size());
    EXPECT_EQ(st.profiles.calls, calls.size());
    EXPECT_EQ(st.profiles.skipped, 1u);
    EXPECT_GT(st.profiles.compares, 24u);
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& j : alarms) {
      if (j.find(R"("account":"office0")") == std::string::npos) continue;
      // the night's last bin (02:00) closes with the alarm
      const std::string night = profiles::FormatTime(kStart + shift + 31 * kDay + 3 * kHour);
      EXPECT_NE(j.find("\"ts\":\"" + night + "\""), std::string::npos) << j;
      break;
    }
  }
  // written back when the correlator ended
  auto back = profiles::LoadProfiles((dir / "prof").string());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_GT(back->meta.learned_until_us, kStart + shift + 31 * kDay);
  std::filesystem::remove_all(dir);
}

// What the agents' default rule (call-record-forward) emits for a call,
// forwarded and read back on the controller, is the record the profiles read.
TEST(CentralProfiles, TheAgentsDefaultRuleForwardsWhatTheProfilesRead) {
  std::vector<rules::ConfigError> errors;
  auto rs = LoadAgentRules("", &errors);
  ASSERT_TRUE(rs.ok());
  auto out = JsonLinesOut::Open("");
  ASSERT_TRUE(out.ok());
  std::vector<rules::SyntheticEvent> emitted;
  VerdictSinks v;
  v.synthetic = [&](const rules::SyntheticEvent& e) {
    if (e.name == kCallRecordEvent) emitted.push_back(e);
  };
  Correlator corr(*rs, **out, v, false);
  ev::PipelineSinks sinks = corr.Tee({});
  ev::CallRecord c;
  c.call_id = "c1";
  c.caller.uri = "sip:+4930123456@pbx.example";
  c.caller.user = "+4930123456";
  c.callee.uri = "sip:+88161000111@pbx.example";
  c.callee.user = "+88161000111";
  c.caller_ip = *IpAddress::Parse("198.51.100.9");
  c.start_ns = 1'780'000'000'000'000'000LL;
  c.answer_ns = c.start_ns + 4'000'000'000LL;
  c.end_ns = c.start_ns + 604'500'000'000LL;
  c.duration_s = 604.5;
  c.billable_s = 600.5;
  c.disposition = ev::Disposition::kAnswered;
  corr.Advance(c.end_ns);
  sinks.call(c);
  ASSERT_EQ(emitted.size(), 1u);
  // over the wire and back
  rules::SyntheticEvent back;
  ASSERT_TRUE(FromForwarded(ToForwarded(emitted[0]), &back));
  profiles::CallRecord r;
  ASSERT_TRUE(ToProfileRecord(back, &r));
  EXPECT_EQ(r.account, "+4930123456");
  EXPECT_EQ(r.callee, "+88161000111");
  EXPECT_EQ(r.caller_ip, "198.51.100.9");
  EXPECT_EQ(r.start_us, c.start_ns / 1000);
  EXPECT_TRUE(r.answered);
  EXPECT_DOUBLE_EQ(r.billable_s, 600.5);
  // and what the agent's own profiles read from the call
  std::string ip;
  profiles::CallRecord mine;
  ASSERT_TRUE(sw::ToProfileRecord(c, &ip, &mine));
  EXPECT_EQ(mine.account, r.account);
  EXPECT_EQ(mine.callee, r.callee);
  EXPECT_EQ(mine.start_us, r.start_us);
}

TEST(CentralProfiles, WithoutProfilesCallRecordsAreNotAskedFor) {
  std::vector<rules::ConfigError> errors;
  auto rs = rules::LoadRuleText(kRules, "central.yaml", &errors);
  ASSERT_TRUE(rs.ok());
  CentralCorrelator cc(*rs, {});
  EXPECT_FALSE(cc.Wants("call-record"));
}

}  // namespace
}  // namespace sw::controller
