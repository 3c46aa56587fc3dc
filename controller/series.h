// SPDX-License-Identifier: BSD-2-Clause
// The controller's time series, kept like a Round Robin Database: every
// series has three archives of fixed size, one value per 10 s for the last
// hour, per 5 min for the last day and per hour for the last week, so memory
// stays bounded however long it runs. Values are counts per slot (events, or
// deltas of the agents' cumulative counters); queries turn them into rates
// per second.
//
// A series is (name, agent, label): "packets" by kernel verdict, "drops",
// "sip_messages" by method, "alarms" by category, "hits" (honeypot calls,
// direct or deflected). Thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace sw::controller {

struct SeriesQuery {
  std::string name;
  int64_t since_s = 3600;  // how far back from now
  int64_t step_s = 0;      // 10, 300 or 3600; 0 = the finest covering since_s
  std::string agent;       // empty = every agent
  std::string by;          // label to keep apart; empty = the series' own
  int64_t now_s = 0;
};

struct SeriesResult {
  std::string name, by;
  int64_t step_s = 0;
  struct Line {
    std::string label;
    std::vector<std::pair<int64_t, double>> points;  // slot start (unix s), per second
  };
  std::vector<Line> series;
};

class SeriesStore {
 public:
  struct Archive {
    int64_t step_s;
    int64_t slots;
  };
  static constexpr std::array<Archive, 3> kArchives = {{{10, 360}, {300, 288}, {3600, 168}}};
  // Bound on the number of series: beyond it new ones are not kept (and
  // counted in dropped()).
  explicit SeriesStore(size_t max_series = 50000) : max_series_(max_series) {}

  // n events of series (name, agent, label) at ts_s.
  void Count(const std::string& name, const std::string& agent, const std::string& label,
             int64_t ts_s, double n);
  // An agent's cumulative counters (its counters report) at ts_s: the
  // increase since its previous report goes into "packets" (per verdict:
  // the pass_* and drop_* counters), "drops" (all drop_* together) and
  // "sip_messages" (sip_method_* per method). The first report of an agent
  // only sets the baseline; a counter that went down (agent restarted)
  // counts from zero.
  void Counters(const std::string& agent, const std::map<std::string, double>& values,
                int64_t ts_s);

  // The series' own label name ("verdict", "method", "category", "kind"),
  // or NOT_FOUND for a name that is not a series.
  static absl::StatusOr<std::string> LabelOf(std::string_view name);
  absl::StatusOr<SeriesResult> Query(const SeriesQuery& q) const;
  // Names with the labels and agents seen: name -> (label values, agents).
  std::map<std::string, std::pair<std::vector<std::string>, std::vector<std::string>>> Names() const;
  // Events per second of (name, agent) summed over labels, over the last
  // window_s seconds (from the 10 s archive).
  double RecentRate(const std::string& name, const std::string& agent, int64_t now_s,
                    int64_t window_s) const;

  // Text dump of every series (non-zero slots only) and its restore; a
  // damaged dump is refused whole (INVALID_ARGUMENT) and changes nothing.
  std::string Serialize() const;
  absl::Status Load(std::string_view text);

  size_t size() const;
  uint64_t dropped() const;

 private:
  struct Ring {
    int64_t last_slot = -1;  // newest slot written; -1 = none
    std::vector<double> v;
  };
  struct Series {
    std::array<Ring, 3> rings;
  };
  using Key = std::tuple<std::string, std::string, std::string>;  // name, agent, label
  static void AddTo(Ring& r, const Archive& a, int64_t ts_s, double n);
  static double At(const Ring& r, const Archive& a, int64_t slot);
  void CountLocked(const Key& key, int64_t ts_s, double n);

  size_t max_series_;
  mutable std::mutex mu_;
  std::map<Key, Series> series_;
  std::map<std::string, std::map<std::string, double>> last_counters_;  // agent -> counters
  uint64_t dropped_ = 0;
};

}  // namespace sw::controller
