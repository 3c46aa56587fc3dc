// SPDX-License-Identifier: BSD-2-Clause
// The profiles live in the agent: call records through the correlation stage
// feed them, a Calendar rule's compare_profiles action (the paper's Figure 6)
// compares, anomalies come out as alarms (the alarm output, the alarm sink
// that reports to the controller) and as profile-anomaly events the rules
// see; profiles learned online are written back. All on event time.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "correlate.h"
#include "gtest/gtest.h"
#include "office_days.h"
#include "outputs.h"
#include "sipwarden/profiles/watch.h"
#include "sipwarden/rules/ruleset.h"

namespace sw {
namespace {

using profiles::Call;
using profiles::kDay;
using profiles::kHour;
using profiles::kStart;

constexpr char kRules[] = R"(
rules:
  - name: profile-compare
    type: Calendar
    time: "15 * * * *"
    actions: [compare_profiles]
  - name: anomaly-seen
    type: Single
    match: {type: synthetic, name: profile-anomaly}
    actions:
      - create_context: {name: "anomalous-${field.account}", lifetime: 1d}
)";

constexpr char kRulesWithoutCompare[] = R"(
rules:
  - name: anything
    type: Single
    match: {type: call}
    actions:
      - create_context: {name: "called-${caller_user}", lifetime: 1h}
)";

std::shared_ptr<const rules::RuleSet> Rules(const char* text) {
  std::vector<rules::ConfigError> errors;
  auto rs = rules::LoadRuleText(text, "test.yaml", &errors);
  EXPECT_TRUE(rs.ok()) << (errors.empty() ? std::string(rs.status().message())
                                          : errors[0].ToString());
  return *rs;
}

std::string Slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

class LiveProfiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sw-live-profiles-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    profiles::ProfileSet set = profiles::LearnOffices();
    profiles::Config c = profiles::TestConfig();
    set.meta.bin_minutes = c.bin_minutes;
    set.meta.window_bins = c.window_bins;
    set.meta.learning_days = c.learning_days;
    auto st = profiles::SaveProfiles(dir_ / "profiles", set);
    ASSERT_TRUE(st.ok()) << st;
    config_ = (dir_ / "profiles.yaml").string();
    // The settings learned with (TestConfig), for the live side too.
    std::ofstream(config_) << "home_country: '+49'\ntarget_false_alarms_per_1000_account_days: 20\n"
                              "alarm_distances: all\n";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // A correlator with the profiles attached and every alarm and synthetic
  // event it hands on collected.
  void Start(const char* rules_text) {
    auto out = JsonLinesOut::Open((dir_ / "alarms.jsonl").string());
    ASSERT_TRUE(out.ok());
    alarms_out_ = std::move(*out);
    VerdictSinks v;
    v.alarm = [this](const rules::Alarm& a, const std::string& json) {
      reported_.push_back(a);
      reported_json_.push_back(json);
    };
    v.synthetic = [this](const rules::SyntheticEvent& e) { synthetic_.push_back(e); };
    correlator_ = std::make_unique<Correlator>(Rules(rules_text), *alarms_out_, v, false);
    auto watch = ProfileWatch::Open((dir_ / "profiles").string(), config_, UnixNowUs());
    ASSERT_TRUE(watch.ok()) << watch.status();
    EXPECT_EQ((*watch)->stats().profiles, 4u);
    correlator_->AttachProfiles(std::move(*watch));
    sinks_ = correlator_->Tee({});
  }

  // Each call as the pipeline hands it on: at its end, the clock moving on.
  void Feed(const std::vector<Call>& calls) {
    for (const Call& c : calls) {
      ev::CallRecord r;
      r.call_id = "c" + std::to_string(++seq_);
      r.caller.user = c.account;
      r.caller.uri = "sip:" + c.account + "@pbx.example";
      r.callee.user = c.callee;
      r.callee.uri = "sip:" + c.callee + "@pbx.example";
      r.caller_ip = *IpAddress::Parse("198.51.100.7");
      r.start_ns = c.start * 1000;
      r.answer_ns = c.answered ? r.start_ns + 5'000'000'000LL : 0;
      r.end_ns = r.start_ns + static_cast<int64_t>((c.answered ? c.billable + 5 : 20) * 1e9);
      r.billable_s = c.answered ? c.billable : 0;
      r.disposition = c.answered ? ev::Disposition::kAnswered : ev::Disposition::kNoAnswer;
      correlator_->Advance(r.end_ns);
      sinks_.call(r);
    }
  }
  void AdvanceTo(int64_t us) { correlator_->Advance(us * 1000); }
  // The reported alarms of one account (indexes into reported_).
  std::vector<size_t> AnomaliesOf(const std::string& account) const {
    std::vector<size_t> out;
    for (size_t i = 0; i < reported_json_.size(); ++i)
      if (reported_json_[i].find("\"anomaly\":{\"account\":\"" + account + "\"") !=
          std::string::npos)
        out.push_back(i);
    return out;
  }

  // 12 calls abroad and to a satellite from 02:08 to 02:52 on day 31
  static std::vector<Call> Night() {
    std::vector<Call> night;
    for (int i = 0; i < 12; ++i)
      night.push_back({"office0", i % 2 ? "+88161" + std::to_string(100000 + i)
                                        : "+5355" + std::to_string(100000 + i),
                       kStart + 31 * kDay + 2 * kHour + 480000000LL + i * 240000000LL, true, 900});
    return night;
  }

  std::filesystem::path dir_;
  std::string config_;
  std::unique_ptr<JsonLinesOut> alarms_out_;
  std::unique_ptr<Correlator> correlator_;
  ev::PipelineSinks sinks_;
  std::vector<rules::Alarm> reported_;
  std::vector<std::string> reported_json_;
  std::vector<rules::SyntheticEvent> synthetic_;
  uint64_t seq_ = 0;
};

TEST_F(LiveProfiles, TheCalendarRuleComparesAndAnomaliesBecomeAlarmsAndEvents) {
  Start(kRules);
  Feed(profiles::OfficeDays("office0", 28, 3, 99));  // three ordinary days
  AdvanceTo(kStart + 31 * kDay);
  EXPECT_TRUE(AnomaliesOf("office0").empty());
  const uint64_t compares = correlator_->profiles()->stats().compares;
  // one an hour from the first call (09:0x on day 28) to midnight of day 31
  EXPECT_EQ(compares, 63u);
  Feed(Night());
  // 03:14: the night's last bin ended at 03:00 but waits out its lateness
  AdvanceTo(kStart + 31 * kDay + 3 * kHour + 14 * 60000000LL);
  EXPECT_TRUE(AnomaliesOf("office0").empty());
  // 03:15: profile-compare runs and the 02:00 bin is compared
  AdvanceTo(kStart + 31 * kDay + 3 * kHour + 15 * 60000000LL);
  const std::vector<size_t> mine = AnomaliesOf("office0");
  ASSERT_FALSE(mine.empty());
  const rules::Alarm& a = reported_[mine[0]];
  const std::string& json = reported_json_[mine[0]];
  EXPECT_EQ(a.category, "anomaly");
  EXPECT_EQ(a.ts_ns, (kStart + 31 * kDay + 3 * kHour) * 1000) << "the bin's end";
  EXPECT_TRUE(a.has_flow);
  EXPECT_EQ(a.src.ToString(), "198.51.100.7");
  EXPECT_EQ(a.rule.rfind("profile-", 0), 0u) << a.rule;
  EXPECT_NE(json.find(R"("profile_days":21)"), std::string::npos) << json;
  // the alarm output has the same lines
  alarms_out_->Flush();
  const std::string written = Slurp((dir_ / "alarms.jsonl").string());
  EXPECT_NE(written.find(json), std::string::npos) << written;
  EXPECT_EQ(correlator_->alarms_by_category().at("anomaly"), reported_.size());
  // the rules saw profile-anomaly and acted on it
  ASSERT_EQ(synthetic_.size(), reported_.size());
  const rules::SyntheticEvent& e = synthetic_[mine[0]];
  EXPECT_EQ(e.name, "profile-anomaly");
  ASSERT_NE(e.Find("account"), nullptr);
  EXPECT_EQ(*e.Find("account"), "office0");
  ASSERT_NE(e.Find("distance"), nullptr);
  EXPECT_EQ("profile-" + *e.Find("distance"), a.rule);
  EXPECT_TRUE(correlator_->engine().HasContext("anomalous-office0"));
  EXPECT_EQ(correlator_->profiles()->stats().alarms, reported_.size());
}

TEST_F(LiveProfiles, WithoutACompareActionNothingIsCompared) {
  Start(kRulesWithoutCompare);
  Feed(profiles::OfficeDays("office0", 28, 3, 99));
  Feed(Night());
  AdvanceTo(kStart + 32 * kDay);
  EXPECT_EQ(correlator_->profiles()->stats().compares, 0u);
  EXPECT_EQ(correlator_->profiles()->stats().calls, correlator_->engine().stats().events);
  // office0's own calls closed its bins up to its last call (and compared
  // them), but the night is compared only when a later call comes.
  EXPECT_TRUE(AnomaliesOf("office0").empty());
  Feed(profiles::OfficeDays("office0", 32, 1, 5));
  EXPECT_FALSE(AnomaliesOf("office0").empty()) << "its next day's calls close the night's bins";
}

TEST_F(LiveProfiles, ProfilesLearnedOnlineAreWrittenBack) {
  Start(kRules);
  // a new account learns for 28 days (learning_days), then has a profile
  for (int week = 0; week < 4; ++week) {
    auto v = profiles::OfficeDays("newcomer", 28 + week * 7, 7, 300 + week);
    auto w = profiles::OfficeDays("office1", 28 + week * 7, 7, 400 + week);
    v.insert(v.end(), w.begin(), w.end());
    std::sort(v.begin(), v.end(), [](const Call& a, const Call& b) { return a.start < b.start; });
    Feed(v);
  }
  AdvanceTo(kStart + 56 * kDay + kHour);
  const ProfileWatchStats s = correlator_->profiles()->stats();
  EXPECT_EQ(s.profiles, 5u);
  EXPECT_EQ(s.learning, 0u);
  EXPECT_TRUE(AnomaliesOf("newcomer").empty()) << "nothing while it learned";
  ASSERT_TRUE(correlator_->profiles()->Save().ok());
  auto back = profiles::LoadProfiles((dir_ / "profiles").string());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->profiles.size(), 5u);
  bool found = false;
  for (const auto& [name, p] : back->profiles) found |= name == "newcomer";
  EXPECT_TRUE(found);
  EXPECT_GT(back->meta.learned_until_us, kStart + 55 * kDay);
  // and a restarted agent starts from them
  auto again = ProfileWatch::Open((dir_ / "profiles").string(), config_, UnixNowUs());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)->stats().profiles, 5u);
}

// An account still learning when the agent stops goes on learning after the
// restart, from where it was: two weeks before, two after, then its profile.
TEST_F(LiveProfiles, LearningSurvivesARestart) {
  Start(kRules);
  Feed(profiles::OfficeDays("newcomer", 28, 14, 300));
  AdvanceTo(kStart + 42 * kDay);
  ASSERT_EQ(correlator_->profiles()->stats().learning, 1u);
  ASSERT_TRUE(correlator_->profiles()->Save().ok());
  ASSERT_TRUE(std::filesystem::exists(dir_ / "profiles" / "learning.bin"));

  // the restart: a new correlator from the directory
  Start(kRules);
  EXPECT_EQ(correlator_->profiles()->stats().learning, 1u) << "the newcomer came back";
  Feed(profiles::OfficeDays("newcomer", 42, 14, 301));
  AdvanceTo(kStart + 56 * kDay + kHour);
  const ProfileWatchStats s = correlator_->profiles()->stats();
  EXPECT_EQ(s.profiles, 5u) << "profiled 28 days after its first call, across the restart";
  EXPECT_EQ(s.learning, 0u);
  ASSERT_TRUE(correlator_->profiles()->Save().ok());
  EXPECT_FALSE(std::filesystem::exists(dir_ / "profiles" / "learning.bin"))
      << "nobody learning: no file";

  // a damaged learning.bin is refused, not half read
  Feed(profiles::OfficeDays("another", 56, 3, 302));
  ASSERT_TRUE(correlator_->profiles()->Save().ok());
  const auto lb = dir_ / "profiles" / "learning.bin";
  std::string bytes = Slurp(lb.string());
  ASSERT_GT(bytes.size(), 40u);
  bytes[30] ^= 0x55;
  std::ofstream(lb, std::ios::binary | std::ios::trunc) << bytes;
  auto bad = ProfileWatch::Open((dir_ / "profiles").string(), config_, UnixNowUs());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("learning.bin is damaged"), std::string::npos)
      << bad.status();
}

TEST(ProfileWatchOpen, RefusesWhatDetectRefuses) {
  auto missing = ProfileWatch::Open("/nonexistent/sw-profiles", "", UnixNowUs());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("/nonexistent/sw-profiles"), std::string::npos)
      << missing.status();
  const auto dir = std::filesystem::temp_directory_path() /
                   ("sw-live-profiles-bad-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "settings.yaml") << "bin_minutes: 7\n";
  auto bad = ProfileWatch::Open(dir.string(), (dir / "settings.yaml").string(), UnixNowUs());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("bin_minutes"), std::string::npos) << bad.status();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sw
