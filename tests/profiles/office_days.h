// SPDX-License-Identifier: BSD-2-Clause
// Test traffic for the profiles: office workers' calls over weeks (event
// time from 2026-03-02, a Monday), and four such accounts learned over 28
// days. Shared by the library's tests and the agent's live-hook tests.
#pragma once

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "sipwarden/profiles/config.h"
#include "sipwarden/profiles/engine.h"
#include "sipwarden/profiles/store.h"

namespace sw::profiles {

constexpr int64_t kHour = 3600LL * 1000000;
constexpr int64_t kDay = 24 * kHour;
// 2026-03-02, a Monday
constexpr int64_t kStart = 20514 * kDay;

struct Call {
  std::string account, callee;
  int64_t start;
  bool answered = true;
  double billable = 120;
};

inline void Feed(Engine& e, const std::vector<Call>& calls) {
  for (const Call& c : calls) {
    CallRecord r;
    r.account = c.account;
    r.callee = c.callee;
    r.start_us = c.start;
    r.answered = c.answered;
    r.billable_s = c.answered ? c.billable : 0;
    r.caller_ip = "192.0.2.1";
    e.Add(r);
  }
}

// An office worker's days: a few calls an hour from 9 to 17 on weekdays to
// a dozen national colleagues, now and then a new one; quiet weekends.
inline std::vector<Call> OfficeDays(const std::string& who, int64_t from_day, int days, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Call> out;
  for (int d = 0; d < days; ++d) {
    const int64_t day = kStart + (from_day + d) * kDay;
    const int wd = (from_day + d) % 7;  // 0 Monday
    for (int h = 9; h < 17; ++h) {
      const int n = wd >= 5 ? (rng() % 8 == 0) : 1 + rng() % 4;
      for (int i = 0; i < n; ++i) {
        const bool fresh = rng() % 20 == 0;
        out.push_back({who, fresh ? absl::StrFormat("030%07d", rng() % 10000000)
                                  : absl::StrFormat("03055500%02d", rng() % 12),
                       day + h * kHour + static_cast<int64_t>(rng() % 3600) * 1000000, rng() % 6 != 0,
                       30.0 + rng() % 300});
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const Call& a, const Call& b) { return a.start < b.start; });
  return out;
}

inline Config TestConfig() {
  Config c;
  c.home_country = 49;
  c.target_false_alarms = 20;  // one account: a coarse quantile
  return c;
}

// Four office accounts' calls over their 28 learning days, in time order.
inline std::vector<Call> OfficesLearning() {
  std::vector<Call> all;
  for (int i = 0; i < 4; ++i) {
    auto v = OfficeDays(absl::StrFormat("office%d", i), 0, 28, 7 + i);
    all.insert(all.end(), v.begin(), v.end());
  }
  std::sort(all.begin(), all.end(), [](const Call& a, const Call& b) { return a.start < b.start; });
  return all;
}

// Learns four office accounts over 28 days; returns the profiles and the calibration.
// shift: moves every call (whole weeks keep the weekdays).
inline ProfileSet LearnOffices(int64_t shift = 0) {
  Engine learn(TestConfig(), Engine::Mode::kLearn);
  std::vector<Call> all = OfficesLearning();
  for (Call& c : all) c.start += shift;
  Feed(learn, all);
  learn.Flush(kStart + shift + 28 * kDay);
  uint64_t young = 0;
  ProfileSet set;
  set.profiles = learn.TakeProfiles(&young);
  set.meta.calib = learn.calibration();
  set.meta.classes = learn.classes();
  set.meta.learned_until_us = kStart + shift + 28 * kDay;
  set.meta.accounts = set.profiles.size();
  EXPECT_EQ(young, 0u);
  return set;
}

}  // namespace sw::profiles
