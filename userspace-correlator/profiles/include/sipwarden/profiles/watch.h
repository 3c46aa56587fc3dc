// SPDX-License-Identifier: BSD-2-Clause
// The live side of the per-account profiles (docs/profiles.md), for the
// agent (its pipeline's call records) and the controller (call records its
// agents forward): records feed them, compare_profiles actions (a Calendar
// rule, the paper's Figure 6) compare every account's recent bins with its
// long-term profile, and what deviates comes out as anomaly alarms.
// Profiles learned online are written back to the directory by Save().
// Not thread-safe: one thread drives it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "sipwarden/profiles/config.h"
#include "sipwarden/profiles/engine.h"
#include "sipwarden/profiles/record.h"
#include "sipwarden/profiles/store.h"

namespace sw::profiles {

struct ProfileWatchStats {
  uint64_t calls = 0;         // call records fed in
  uint64_t skipped = 0;       // without a caller or callee user, or a start
  uint64_t compares = 0;      // compare_profiles actions handled
  uint64_t unknown_accounts = 0;  // compares naming an account never seen
  uint64_t alarms = 0;
  uint64_t saves = 0;
  uint64_t profiles = 0;      // accounts with a profile now
  uint64_t learning = 0;      // accounts still learning
};

// The wall clock in Unix microseconds (the future-dated check of Open).
inline int64_t UnixNowUs() { return absl::ToUnixMicros(absl::Now()); }

class ProfileWatch {
 public:
  // dir: a directory `sipwarden-profiles learn` wrote (refused as detect
  // refuses it); config_path: its YAML settings, or "" for the profiles' own.
  // now_us: the wall clock, for the future-dated check.
  static absl::StatusOr<std::unique_ptr<ProfileWatch>> Open(const std::string& dir,
                                                            const std::string& config_path,
                                                            int64_t now_us);

  void Add(const CallRecord& r);
  // A record without a caller or callee user, or a start: counted only.
  void Skip() { ++stats_.skipped; }
  // Closes the bins (of every account, or of one) that end by ts_ns less
  // the lateness allowance, comparing each with the profile.
  void Compare(int64_t ts_ns, std::string_view account = {});
  // The alarms raised since the last call.
  bool has_alarms() const { return !pending_.empty(); }
  std::vector<Alarm> TakeAlarms();
  // Writes every profile (those loaded and those learned online) back to
  // the directory; accounts still learning are not written.
  absl::Status Save();

  ProfileWatchStats stats() const;
  const std::string& dir() const { return dir_; }

 private:
  ProfileWatch() = default;
  std::string dir_;
  Config config_;
  ProfileMeta meta_;
  std::unique_ptr<Engine> engine_;
  std::vector<Alarm> pending_;
  ProfileWatchStats stats_;
};

}  // namespace sw::profiles
