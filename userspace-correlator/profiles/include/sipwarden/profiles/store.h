// SPDX-License-Identifier: BSD-2-Clause
// A profile directory: profiles.meta (text: format, settings the profiles
// depend on, the fleet's calibration, the learning period) and profiles.bin
// (every account's profile, checksummed). Versioned: a directory of another
// format is refused with a message saying what to do.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "sipwarden/profiles/config.h"
#include "sipwarden/profiles/engine.h"

namespace sw::profiles {

// profiles.meta's format: 3 keeps rearm_bins and hellinger_parts; 2 (read
// as learned with the settings before them) is the oldest read.
constexpr int kProfileFormat = 3;
constexpr int kOldestProfileFormat = 2;
// The layout of profiles.bin and learning.bin (unchanged since format 2).
constexpr int kProfileDataFormat = 2;

struct ProfileMeta {
  int format = kProfileFormat;
  int bin_minutes = 60, window_bins = 24, tz_offset_minutes = 0, learning_days = 28;
  int rearm_bins = 6;  // the thresholds were set for it (a file without it: window_bins)
  uint32_t hellinger_parts = (1u << kHellGrowth) | (1u << kHellTime);  // without it: all
  double target_false_alarms = 2;
  Calibration calib;
  Classes classes;
  int64_t learned_from_us = 0, learned_until_us = 0;
  uint64_t records = 0;
  uint64_t accounts = 0;
};

struct ProfileSet {
  ProfileMeta meta;
  std::vector<std::pair<std::string, Profile>> profiles;
  // The accounts still learning (Engine::ExportLearning), in learning.bin;
  // empty: none (the file is removed).
  std::string learning;
};

// Writes dir/profiles.meta, dir/profiles.bin and dir/learning.bin (each to
// a temporary file renamed into place); makes dir when it does not exist.
absl::Status SaveProfiles(const std::string& dir, const ProfileSet& set);
// Reads a directory SaveProfiles wrote; refuses a missing or empty
// directory, another format, a damaged or truncated file.
absl::StatusOr<ProfileSet> LoadProfiles(const std::string& dir);
// The settings of config that must match the profiles' (bin length,
// window, episode end, Hellinger parts, time zone); an error naming the
// difference.
absl::Status CheckCompatible(const ProfileMeta& meta, const Config& config);
// Loads a directory to detect with, as of now_us (wall clock, Unix
// microseconds): refuses what LoadProfiles refuses and a directory learned
// in the future (more than a day ahead). With config_given the settings in
// *config must match the profiles' (rearm_bins and hellinger_parts that the
// file did not set are taken from them); without, *config takes the
// profiles' bin length, window, episode end, Hellinger parts, time zone and
// learning days.
absl::StatusOr<ProfileSet> LoadForDetect(const std::string& dir, bool config_given,
                                         Config* config, int64_t now_us);

}  // namespace sw::profiles
