// SPDX-License-Identifier: BSD-2-Clause
// The second correlation layer (paper section 4.2): the rule engine over the
// synthetic events agents forward, on its own thread. Its alarms are stored
// with the agents'; its blocks become fleet decisions (origin central-rule).
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "sipwarden/profiles/watch.h"
#include "sipwarden/rules/engine.h"
#include "sipwarden/rules/ruleset.h"
#include "sipwarden/v1/agent.pb.h"

namespace sw::controller {

// rules/central.yaml as it was when the controller was built.
std::string_view DefaultCentralRulesYaml();
inline constexpr std::string_view kCentralRulesName = "<built-in rules/central.yaml>";

// Loads the rule file at path, or the embedded central ruleset when empty.
absl::StatusOr<std::shared_ptr<const rules::RuleSet>> LoadCentralRules(
    const std::string& path, std::vector<rules::ConfigError>* errors);

// A forwarded event as the engine's synthetic event; false when it is not
// one (bad addresses).
bool FromForwarded(const sipwarden::v1::ForwardedEvent& in, rules::SyntheticEvent* out);

// The synthetic event agents forward a call record as (rules/default.yaml's
// call-record-forward) and its conversion for the profiles: false when it
// lacks a caller or callee user or its times.
inline constexpr std::string_view kCallRecordEvent = "call-record";
bool ToProfileRecord(const rules::SyntheticEvent& e, profiles::CallRecord* r);

class CentralCorrelator {
 public:
  struct Sinks {
    std::function<void(const rules::Alarm&, const std::string& json)> alarm;
    std::function<void(const rules::BlockVerdict&)> block;
    std::function<void(const rules::WatchVerdict&)> watch;
  };
  // max_queue: events waiting for the engine; beyond, new ones are dropped
  // and counted.
  // profiles: the fleet's account profiles (the agents' call records feed
  // them, the central rules' compare_profiles actions compare), or none;
  // written back every profiles_save_every and when the correlator ends.
  CentralCorrelator(std::shared_ptr<const rules::RuleSet> rules, Sinks sinks,
                    size_t max_queue = 100000,
                    std::unique_ptr<profiles::ProfileWatch> profiles = nullptr,
                    absl::Duration profiles_save_every = absl::Hours(6));
  ~CentralCorrelator();

  // What agents are asked to forward.
  const std::vector<std::string>& forward() const { return forward_; }
  bool Wants(std::string_view name) const;
  // Queues a forwarded event (any thread).
  void Submit(const sipwarden::v1::ForwardedEvent& e);
  // Queues events in one go: the engine takes them together, in order,
  // before its clock moves on to the controller's.
  void Submit(const std::vector<sipwarden::v1::ForwardedEvent>& events);

  struct Stats {
    uint64_t events = 0, dropped = 0, rejected = 0, alarms = 0, blocks = 0, watches = 0;
    profiles::ProfileWatchStats profiles;  // zero without profiles
  };
  Stats stats() const;

 private:
  void Run();
  // Call records to the profiles, their anomalies to the alarm sink (the
  // worker thread).
  void FeedProfiles(const rules::SyntheticEvent& e);
  void DrainProfileAlarms();
  void SaveProfiles();

  std::vector<std::string> forward_;
  bool forward_all_ = false;
  Sinks sinks_;
  std::unique_ptr<rules::Engine> engine_;  // only the worker thread touches it
  std::unique_ptr<profiles::ProfileWatch> profiles_;  // likewise
  absl::Duration profiles_save_every_;
  size_t max_queue_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<rules::SyntheticEvent> queue_;
  bool stop_ = false;
  Stats stats_;
  std::thread thread_;
};

}  // namespace sw::controller
