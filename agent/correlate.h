// SPDX-License-Identifier: BSD-2-Clause
// The agent's correlation stage, shared by the offline and live modes: the
// pipeline's events go to the rule engine on event time, alarms come out as
// JSON lines, verdicts are counted (and handed on to whoever applies them),
// and a summary closes the run.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "outputs.h"
#include "sipwarden/events/pipeline.h"
#include "sipwarden/rules/engine.h"
#include "sipwarden/rules/ruleset.h"

namespace sw {

// rules/default.yaml as it was when the agent was built.
std::string_view DefaultRulesYaml();
// The name errors in the embedded ruleset are reported under.
inline constexpr std::string_view kDefaultRulesName = "<built-in rules/default.yaml>";

// Loads the rule file at path, or the embedded default ruleset when path is
// empty. Every error (FILE:LINE:COL: message) is appended to errors.
absl::StatusOr<std::shared_ptr<const rules::RuleSet>> LoadAgentRules(
    const std::string& path, std::vector<rules::ConfigError>* errors);

// What to do with verdicts besides counting them (the live agent writes them
// to the data plane's maps; offline they are only counted).
struct VerdictSinks {
  std::function<void(const rules::BlockVerdict&)> block;
  std::function<void(const rules::RateLimitVerdict&)> rate_limit;
  std::function<void(const rules::WatchVerdict&)> watch;
};

class Correlator {
 public:
  // alarms may be disabled (JsonLinesOut::Open("")): alarms are then only counted.
  Correlator(std::shared_ptr<const rules::RuleSet> rules, JsonLinesOut& alarms,
             VerdictSinks verdicts = {});
  Correlator(const Correlator&) = delete;
  Correlator& operator=(const Correlator&) = delete;

  // Pipeline sinks that hand every event to the engine, then to next's sink.
  // The Correlator must outlive the pipeline built with them.
  ev::PipelineSinks Tee(ev::PipelineSinks next);
  // Moves the engine's clock to now (event time) without an event.
  void Advance(int64_t now_ns);
  // End of input: runs the clock on by drain_ns, so that windows still open
  // (ACKs awaited, failures that may still recover) conclude.
  void Finish(int64_t drain_ns);

  // "3 alarms (bruteforce 1, scanner-signature 2), 1 update; 3 blocks of 2 prefixes; ..."
  std::string Summary() const;
  uint64_t alarms() const { return alarms_; }
  const std::map<std::string, uint64_t>& alarms_by_category() const { return by_category_; }
  rules::Engine& engine() { return *engine_; }

 private:
  void OnAlarm(const rules::Alarm& a);

  JsonLinesOut& out_;
  VerdictSinks verdicts_;
  std::unique_ptr<rules::Engine> engine_;
  uint64_t alarms_ = 0, updates_ = 0;
  std::map<std::string, uint64_t> by_category_;
  uint64_t blocks_ = 0, rate_limits_ = 0, watches_ = 0;
  std::set<std::string> blocked_, limited_;
};

}  // namespace sw
