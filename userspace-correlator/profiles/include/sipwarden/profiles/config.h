// SPDX-License-Identifier: BSD-2-Clause
// The profiles' settings: defaults that work without a file, and the YAML
// file (--config) that overrides them (docs/profiles.md lists every key).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"

namespace sw::profiles {

// The distributions the Hellinger distance takes the root mean square of.
enum HellingerPart : int {
  kHellCallees = 0,  // calls over callees: 1st, 2nd, 3rd-4th, 5th+ call to one callee that day
  kHellGrowth = 1,   // calls to new against known callees (the callee list's growth)
  kHellTime = 2,     // calls over the window's bins
  kHellParts
};
std::string_view HellingerPartName(int part);
// "growth,time" (the order above)
std::string HellingerPartsString(uint32_t parts);

struct Config {
  int bin_minutes = 60;          // a day is split into bins of this length
  int window_bins = 24;          // the short-term profile: the last N bins
  int rearm_bins = 6;            // an alarm episode ends after N bins in a row under every threshold
  // set by the configuration file (else detecting takes the profiles' own)
  bool rearm_bins_set = false, hellinger_parts_set = false;
  int learning_days = 28;        // from an account's first call to its profile
  int min_learning_days = 21;    // learn: the fewest days an account is profiled from
  int warmup_days = 7;           // callee list and home country only, no statistics
  int calibration_after_days = 7;  // statistics days before distances are sampled
  int min_bin_samples = 3;       // a bin with fewer learned days is not compared
  int lateness_minutes = 15;     // how long a bin stays open after its end
  int tz_offset_minutes = 0;     // local time = UTC + this (bins and weekends)
  double target_false_alarms = 2;  // per 1000 account-days, per distance (docs/profiles.md)
  double shrink_days = 4;        // per-bin variance shrunk toward the account's pool
  double hellinger_prior = 5;    // pseudo-calls mixing the profile into short windows
  // The distributions Hellinger compares (bit per HellingerPart): calls over
  // the window's bins and new against known callees; calls over callees can
  // be added (docs/profiles.md: measured, it adds false alarms, not detections).
  uint32_t hellinger_parts = (1u << 1) | (1u << 2);
  int classes = 16;              // k-means classes of long-term profiles (0: none)
  absl::flat_hash_set<std::string> known_bots;  // accounts known to be bots
  int adapt_days = 28;           // profiles follow the last N days once made (0: frozen)
  // bit per Distance: which raise alarms (quadratic and hellinger)
  uint32_t alarm_distances = (1u << 1) | (1u << 3);
  // false (alarm_mode any): the alarm distances share one episode per
  // account and the target; true (each): every one alarms on its own, as if
  // it were the only one (to compare them).
  bool alarm_each = false;
  int home_country = 0;          // 0: each account's own, from its calls
  absl::flat_hash_map<std::string, int> account_home;  // per account overrides
  std::vector<std::string> high_risk;  // empty: DefaultHighRisk()
  absl::flat_hash_set<int64_t> exclusion_days;  // local days since 1970-01-01

  int bins_per_day() const { return 1440 / bin_minutes; }
  bool HellingerHas(int part) const { return hellinger_parts >> part & 1; }
  bool Excluded(int64_t day) const { return exclusion_days.contains(day); }
};

// Checks the values' ranges.
absl::Status Validate(const Config& c);
// Reads a YAML file of settings over the defaults in *c.
absl::Status LoadConfig(const std::string& path, Config* c);
// "2026-12-25" to days since 1970-01-01.
bool ParseDay(std::string_view s, int64_t* day);

}  // namespace sw::profiles
