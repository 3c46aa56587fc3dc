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
#include "sipwarden/profiles/watch.h"
#include "sipwarden/events/pipeline.h"
#include "sipwarden/rules/engine.h"
#include "sipwarden/rules/process_executor.h"
#include "sipwarden/rules/ruleset.h"

namespace sw {

using profiles::ProfileWatch;
using profiles::ProfileWatchStats;
using profiles::UnixNowUs;

// A call record as the profiles read it (profiles/src/record.cc): the
// caller's user, else the user part of its URI; likewise the callee. false
// when one is missing (the record is only counted). ip holds the caller's
// address for r's view.
bool ToProfileRecord(const ev::CallRecord& c, std::string* ip, profiles::CallRecord* r);

// rules/default.yaml as it was when the agent was built.
std::string_view DefaultRulesYaml();
// The name errors in the embedded ruleset are reported under.
inline constexpr std::string_view kDefaultRulesName = "<built-in rules/default.yaml>";

// Loads the rule file at path, or the embedded default ruleset when path is
// empty. Every error (FILE:LINE:COL: message) is appended to errors. With
// allow_scripts false a rule that runs a script is such an error.
absl::StatusOr<std::shared_ptr<const rules::RuleSet>> LoadAgentRules(
    const std::string& path, std::vector<rules::ConfigError>* errors, bool allow_scripts = true);
// SHA-256 (hex) of the rule file's bytes, or of the embedded default ruleset
// when path is empty ("" when the file cannot be read).
std::string RulesetSha256(const std::string& path);

// How long Finish waits for scripts still running (their timeout kills them
// sooner: 10 s by default).
inline constexpr int kScriptDrainMs = 15000;

// What to do with verdicts besides counting them (the live agent writes them
// to the data plane's maps; offline they are only counted).
struct VerdictSinks {
  // Each alarm raised (not its updates), with the JSON line written for it.
  std::function<void(const rules::Alarm&, const std::string& json)> alarm;
  std::function<void(const rules::BlockVerdict&)> block;
  std::function<void(const rules::RateLimitVerdict&)> rate_limit;
  std::function<void(const rules::WatchVerdict&)> watch;
  // Every synthetic event the rules emit (forwarded to a controller).
  std::function<void(const rules::SyntheticEvent&)> synthetic;
  // Which names synthetic wants now (unset: all; see rules::EngineSinks).
  std::function<bool(std::string_view name)> synthetic_wanted;
};

class Correlator {
 public:
  // alarms may be disabled (JsonLinesOut::Open("")): alarms are then only counted.
  // scripts: the rules' scripts run (a bounded ProcessExecutor: at most 4 at
  // once, no shell, killed at their timeout); false: the engine has none.
  Correlator(std::shared_ptr<const rules::RuleSet> rules, JsonLinesOut& alarms,
             VerdictSinks verdicts = {}, bool scripts = true);
  Correlator(const Correlator&) = delete;
  Correlator& operator=(const Correlator&) = delete;

  // Per-account profiles (docs/profiles.md): call records feed them, the
  // rules' compare_profiles actions compare, anomalies become alarms (to the
  // alarm output and the alarm sink) and profile-anomaly synthetic events
  // the rules see. Without, compare_profiles actions are only counted.
  void AttachProfiles(std::shared_ptr<ProfileWatch> profiles) { profiles_ = std::move(profiles); }
  ProfileWatch* profiles() { return profiles_.get(); }

  // Pipeline sinks that hand every event to the engine, then to next's sink.
  // The Correlator must outlive the pipeline built with them.
  ev::PipelineSinks Tee(ev::PipelineSinks next);
  // Moves the engine's clock to now (event time) without an event.
  void Advance(int64_t now_ns);
  // Hands the results of scripts that ended to the engine (their action
  // lists run); waits up to wait_ms for one. Call it from the event loop.
  void PollScripts(int wait_ms = 0);
  size_t scripts_running() const { return executor_ ? executor_->running() : 0; }
  // End of input: runs the clock on by drain_ns, so that windows still open
  // (ACKs awaited, failures that may still recover) conclude, and waits up to
  // kScriptDrainMs for scripts still running.
  void Finish(int64_t drain_ns);

  // "3 alarms (bruteforce 1, scanner-signature 2), 1 update; 3 blocks of 2 prefixes; ..."
  std::string Summary() const;
  uint64_t alarms() const { return alarms_; }
  const std::map<std::string, uint64_t>& alarms_by_category() const { return by_category_; }
  rules::Engine& engine() { return *engine_; }

 private:
  void OnAlarm(const rules::Alarm& a);
  // Hands on the anomalies the profiles found during the engine's last call.
  void AfterEngine() {
    if (profiles_ && profiles_->has_alarms()) EmitProfileAlarms();
  }
  void EmitProfileAlarms();

  JsonLinesOut& out_;
  VerdictSinks verdicts_;
  std::unique_ptr<rules::ProcessExecutor> executor_;  // outlives engine_, which points to it
  std::unique_ptr<rules::Engine> engine_;
  std::shared_ptr<ProfileWatch> profiles_;
  uint64_t alarms_ = 0, updates_ = 0;
  std::map<std::string, uint64_t> by_category_;
  uint64_t blocks_ = 0, rate_limits_ = 0, watches_ = 0;
  std::set<std::string> blocked_, limited_;
};

}  // namespace sw
