// SPDX-License-Identifier: BSD-2-Clause
// Per-account profiles: learning (per-bin means, variances and a shared
// correlation), the short-term window, distances, thresholds from a target
// false-alarm rate, alarms. Event time (the calls' start) drives it all.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "sipwarden/profiles/config.h"
#include "sipwarden/profiles/distance.h"
#include "sipwarden/profiles/numbers.h"
#include "sipwarden/profiles/record.h"

namespace sw {
class JsonWriter;
}

namespace sw::profiles {

// The metrics of one bin.
enum Metric : int {
  kCalls = 0,
  kDistinctCallees,
  kMeanDuration,   // billable seconds of the answered calls
  kShareInternational,
  kShareHighRisk,  // premium, satellite, IRSF-prone (numbers.h)
  kFailedRatio,    // calls not answered
  kNewCallees,     // callees never called before
  kMetrics
};
std::string_view MetricName(int m);

// Hellinger's counts per bin: calls by how often their callee was called
// that day (1st, 2nd, 3rd-4th, 5th+), calls to new and known callees.
constexpr int kRepeatClasses = 4;
constexpr int kHellCounts = kRepeatClasses + 2;

// A long-term profile: what detection compares against (docs/profiles.md).
struct Profile {
  uint16_t days = 0;   // days of statistics it was learned from
  int16_t home = 0;    // home country code (0 unknown)
  std::vector<uint8_t> n;         // per slot (weekday bins then weekend bins): days learned
  std::vector<_Float16> mean, sd; // per slot x metric; sd shrunk and floored
  // inverse shrunk correlation, weekday / weekend: upper triangle, row by row
  float rinv[2][kMetrics * (kMetrics + 1) / 2] = {};
  float href[2][kHellCounts] = {};          // long-term Hellinger distributions
  float scale[kDistances] = {};             // the account's median calibration distance
  std::vector<uint64_t> bloom;              // callees seen (4 hash functions)
  uint8_t cls = 0;                          // its class + 1 (Classes); 0: none

  bool BloomTest(uint64_t h) const;
  void BloomAdd(uint64_t h);
  size_t Bytes() const;
};

// Fleet-wide learning results every account's threshold is derived from.
// A distance's threshold is its scale times the fleet's ratio; the ratio
// depends on how many distances raise alarms together (each then gets its
// share of the target false-alarm rate).
struct Calibration {
  float ratio[kDistances][kDistances] = {};  // [distance][sharing distances - 1]
  float scale_floor[kDistances] = {};        // smallest scale an account gets
  uint64_t samples[kDistances] = {};
  float Ratio(int k, int sharing) const {
    return ratio[k][sharing < 1 ? 0 : sharing > kDistances ? kDistances - 1 : sharing - 1];
  }
};

// Classes of long-term profiles (the paper: "a class of VoIP bots [...] can
// be detected if a known bot profile falls into the same class"): k-means
// over features of each profile (daily calls, shares of new and distinct
// callees, failed calls, duration, abroad, high-risk, night, weekend),
// standardised over the fleet.
constexpr int kClassFeatures = 9;
std::string_view ClassFeatureName(int f);
struct Classes {
  float mean[kClassFeatures] = {}, sd[kClassFeatures] = {};
  std::vector<std::array<float, kClassFeatures>> centroids;
  std::vector<uint32_t> members;  // accounts per class when learned
  // A profile's features, standardised (mean and sd must be set).
  void Features(const Profile& p, int bins_per_day, float out[kClassFeatures]) const;
  // The nearest class to standardised features, -1 when there are none.
  int Nearest(const float f[kClassFeatures]) const;
};

struct Alarm {
  std::string json;  // one EVE line, no newline
  std::string account;
  int distance = 0;  // the distance that passed its threshold; -1: a class alarm
  std::string detector;  // its name: euclidean, ..., or class
  int64_t ts_us = 0;
  // What the JSON says, for those who pass it on (the agent's reports).
  std::string signature, rule;
  std::string src_ip;  // the account's last caller_ip, "" when unknown
  double value = 0, threshold = 0;
};

struct EngineStats {
  uint64_t calls = 0, late = 0, excluded = 0, accounts = 0, new_accounts = 0;
  uint64_t evaluations = 0, alarms = 0, profiled_online = 0;
  int64_t first_us = INT64_MAX, last_us = INT64_MIN;
};

class Engine {
 public:
  enum class Mode { kLearn, kDetect };
  using AlarmSink = std::function<void(const Alarm&)>;
  // In kDetect, calib comes from the profiles' directory; in kLearn it is
  // computed by Finish().
  Engine(const Config& config, Mode mode, AlarmSink sink = nullptr);
  ~Engine();
  absl::Status status() const { return status_; }
  Mode mode() const { return mode_; }

  // Detect: an account's profile learned before.
  void AddProfile(std::string account, Profile p);
  void SetCalibration(const Calibration& c) { calib_ = c; }
  // Detect: the classes learned (profiles keep their class) and the accounts
  // known to be bots (config known_bots): every other account of a class
  // holding a known bot raises one class alarm.
  void SetClasses(Classes c) { classes_ = std::move(c), flagged_ready_ = false; }
  const Classes& classes() const { return classes_; }
  const Calibration& calibration() const { return calib_; }

  void Add(const CallRecord& r);
  // Closes every bin that ends by end_us (end of input: the last call's
  // start rounded up to its bin's end).
  void Flush(int64_t end_us);
  void Flush() { Flush(stats_.last_us == INT64_MIN ? 0 : stats_.last_us + BinUs()); }

  // Detect, driven from outside (the agent's compare_profiles action, the
  // paper's Calendar rule): calls no longer close every account's bins as
  // event time passes them; Flush (every account) and FlushAccount (one) do.
  // An account's own calls still close its earlier bins.
  void SetDriven(bool driven) { driven_ = driven; }
  // Closes one account's bins that end by end_us; false when it is unknown.
  bool FlushAccount(std::string_view account, int64_t end_us);

  // Detect: a copy of every profile (those loaded and those learned online),
  // to be saved (ExportLearning has the accounts still learning).
  std::vector<std::pair<std::string, Profile>> Profiles() const;

  // The accounts still learning, as bytes (ProfileSet::learning), so that a
  // restart does not start their learning over; Import adds them (detect).
  // The bin being filled is not kept: after a restart an account's next
  // call opens its bin, and the hours between are not learned as silence.
  std::string ExportLearning() const;
  absl::Status ImportLearning(std::string_view bytes);

  // Learn: the profiles of the accounts seen for at least min_learning_days,
  // and the fleet's calibration (also kept for SetCalibration's use).
  // Accounts seen for less are left out and counted in *too_young.
  std::vector<std::pair<std::string, Profile>> TakeProfiles(uint64_t* too_young);

  // Every evaluation of one account: its time (the bin's end), the
  // distances and the thresholds (0 while it learns).
  using TraceSink = std::function<void(int64_t ts_us, const double* d, const double* thr)>;
  void Trace(std::string account, TraceSink sink) {
    trace_account_ = std::move(account);
    trace_ = std::move(sink);
  }

  const EngineStats& stats() const { return stats_; }
  // Bytes held per account now (state, profiles, windows), and its max.
  // profiled_only: over the accounts that have a profile (detecting).
  double BytesPerAccount(size_t* max_bytes = nullptr, bool profiled_only = false) const;
  // The last distances of an account (for tests); NaN before any.
  bool LastDistances(std::string_view account, double out[kDistances]) const;

 private:
  struct Account;
  struct Learning;
  int64_t BinUs() const { return int64_t{config_.bin_minutes} * 60000000; }
  int64_t BinOf(int64_t us) const;
  // A bin's entry in an account's window ring (bin mod window_bins).
  size_t RingIndex(int64_t bin) const {
    const int64_t w = config_.window_bins;
    if (bin >= 0 && bin <= INT32_MAX) return static_cast<uint32_t>(bin) % static_cast<uint32_t>(w);
    const int64_t r = bin % w;
    return static_cast<size_t>(r < 0 ? r + w : r);
  }
  void CloseUpTo(Account& a, int64_t bin);
  void CloseBin(Account& a, int64_t bin);
  void Evaluate(Account& a, int64_t bin);
  void RaiseAlarm(Account& a, int64_t bin, int k, const double* d, double thr, double sum_calls);
  void RaiseClassAlarm(Account& a, int64_t bin);
  // Ends an alarm's EVE line (its action and id), counts and hands it on.
  void Emit(JsonWriter& w, Alarm& al);
  void LearnClasses(std::vector<std::pair<std::string, Profile>>& profiles);
  void FlagClasses();
  void RefreshSnapshot(Account& a);
  void FinishLearning(Account& a);
  void Sweep(int64_t bin);

  Config config_;
  int bpd_ = 1;  // config_.bins_per_day()
  Mode mode_;
  AlarmSink sink_;
  absl::Status status_;
  NumberPlan plan_;
  Calibration calib_;
  absl::flat_hash_map<std::string, uint32_t> index_;
  std::vector<std::unique_ptr<Account>> accounts_;
  uint32_t last_ = UINT32_MAX;  // the account of the last call
  Classes classes_;
  bool flagged_ready_ = false;
  std::vector<uint8_t> flagged_;                 // per class: holds a known bot
  std::vector<std::string> flagged_by_;          // per class: the known bots in it
  int64_t swept_ = INT64_MIN;  // every bin before this one is closed
  bool driven_ = false;
  uint64_t alarm_id_ = 0;
  EngineStats stats_;
  std::string trace_account_;
  TraceSink trace_;
};

// FNV-1a 64 of a callee (stable: the bloom filters persist).
uint64_t CalleeHash(std::string_view callee);

}  // namespace sw::profiles
