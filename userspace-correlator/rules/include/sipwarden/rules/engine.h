// SPDX-License-Identifier: BSD-2-Clause
// The VoIP security event correlator (paper section 5.2): SEC's rule types
// and contexts on typed SIP/MGCP/RTP/call events, on event time only.
//
// Time: every event advances the engine clock to its timestamp (a late event
// counts at the current clock); Advance(now) moves it without an event. A
// window of length W opened at t includes t+W; whatever waits for its end
// (timeouts, window ends, context expiry) happens once the clock passes t+W,
// with the time t+W. Calendar rules fire once the clock reaches the scheduled
// minute. Live traffic, pcap replay and tests therefore behave the same.
//
// The engine is single-threaded and does no I/O: alarms and verdicts go to
// sink callbacks, scripts to a ScriptExecutor whose results the owner feeds
// back with OnScriptDone().
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sipwarden/events/event.h"
#include "sipwarden/rules/alarm.h"
#include "sipwarden/rules/event.h"
#include "sipwarden/rules/ruleset.h"

namespace sw::rules {

struct ScriptRequest {
  uint64_t id = 0;
  // The program (an absolute path) and its arguments, each rendered from its
  // own template: run directly, without a shell, so an event's value is
  // always one argument and never shell syntax.
  std::vector<std::string> argv;
  std::string input;    // written to the script's stdin (the event as JSON)
  int64_t timeout_ns = 0;
  std::string rule;
};

struct ScriptResult {
  uint64_t id = 0;
  int exit_code = -1;  // -1 when it did not exit normally
  int signal = 0;      // terminating signal, if any
  bool timed_out = false;
  bool start_failed = false;
  std::string output;  // first bytes of stdout
  bool ok() const { return exit_code == 0 && !timed_out && !start_failed; }
};

// Runs scripts for the engine. Submit must not block; it returns false when
// the request is refused (too many running), which the engine counts.
class ScriptExecutor {
 public:
  virtual ~ScriptExecutor() = default;
  virtual bool Submit(ScriptRequest request) = 0;
};

// A compare_profiles action ran: the owner compares the accounts' recent
// behaviour with their long-term profiles (docs/profiles.md) as of ts_ns.
struct ProfileCompare {
  int64_t ts_ns = 0;
  std::string rule;
  std::string account;  // empty: every account
};

struct EngineSinks {
  std::function<void(const Alarm&)> alarm;
  std::function<void(const BlockVerdict&)> block;
  std::function<void(const RateLimitVerdict&)> rate_limit;
  std::function<void(const WatchVerdict&)> watch;
  // Every synthetic event rules emit (before other rules see it).
  std::function<void(const SyntheticEvent&)> synthetic;
  // Whether synthetic wants events of this name now (unset: every name). An
  // event that no rule matches and the sink does not want is counted
  // (EngineStats::synthetic) but not made: the call-record event of every
  // call, say, while no controller asks for call records.
  std::function<bool(std::string_view name)> synthetic_wanted;
  // compare_profiles actions (none: they are only counted).
  std::function<void(const ProfileCompare&)> compare_profiles;
};

struct EngineOptions {
  size_t max_contexts = 200000;
  size_t max_pending_scripts = 256;
  int max_synthetic_depth = 16;        // chains longer than this are cut
  size_t max_calendar_catchup = 1440;  // fires per rule per clock jump; the rest are skipped
};

struct RuleStats {
  std::string name;
  uint64_t visited = 0;     // events dispatched to the rule (its patterns tested)
  uint64_t matched = 0;     // events that matched a pattern (and the context)
  uint64_t fired = 0;       // action lists run
  uint64_t operations = 0;  // operations started (keys opened)
  uint64_t absorbed = 0;    // events taken by a running operation without action
  uint64_t evicted = 0;     // operations dropped for space
  uint64_t alarms = 0;      // new alarms (updates not counted)
  size_t open = 0;          // operations open now
  // Estimated time spent matching events against this rule and running its
  // actions (sampled: one event in kTimingSample it sees is timed, then
  // scaled). Synthetic events its actions emit are handled later (queued),
  // so other rules' time is not counted here; a script's run is not either.
  uint64_t time_ns = 0;
};

inline constexpr uint64_t kTimingSample = 61;

struct EngineStats {
  uint64_t events = 0;             // typed events in
  uint64_t synthetic = 0;          // synthetic events processed (emitted or injected)
  uint64_t late_events = 0;        // timestamps behind the clock (counted at the clock)
  uint64_t timers = 0;             // deadlines reached
  uint64_t timer_compactions = 0;  // queued timers of ended operations dropped in bulk
  uint64_t alarms = 0;
  uint64_t alarm_updates = 0;
  uint64_t blocks = 0;
  uint64_t rate_limits = 0;
  uint64_t watches = 0;
  uint64_t bad_targets = 0;  // block/limit/watch whose address did not parse
  uint64_t contexts_created = 0;
  uint64_t contexts_expired = 0;
  uint64_t contexts_deleted = 0;
  uint64_t contexts_evicted = 0;
  uint64_t operations_evicted = 0;
  uint64_t alarm_states_evicted = 0;
  uint64_t synthetic_dropped = 0;  // cut by max_synthetic_depth
  uint64_t scripts_submitted = 0;
  uint64_t scripts_refused = 0;  // executor busy, no executor, or too many pending
  uint64_t scripts_done = 0;
  uint64_t calendar_fired = 0;
  uint64_t calendar_skipped = 0;
  uint64_t profile_compares = 0;  // compare_profiles actions run
  uint64_t reloads = 0;
  uint64_t rules_kept = 0;  // at the last reload
};

namespace internal {
class EngineCore;
}

class Engine {
 public:
  Engine(std::shared_ptr<const RuleSet> rules, EngineSinks sinks, EngineOptions options = {},
         ScriptExecutor* executor = nullptr);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  void OnSip(const ev::SipEvent& e);
  void OnMgcp(const ev::MgcpEvent& e);
  void OnRtp(const ev::RtpEvent& e);
  void OnCall(const ev::CallRecord& c);  // at c.end_ns
  void OnSynthetic(const SyntheticEvent& e);
  // Moves the clock to now (event time) and runs what came due.
  void Advance(int64_t now_ns);
  // A script submitted by a SingleWithScript rule (or a script action) ended.
  void OnScriptDone(const ScriptResult& result);

  // Swaps in a new rule set. Rules present in both with the same name and the
  // same definition keep their state (operations, alarm suppression,
  // calendar, statistics, the contexts and script runs they started); the
  // state of all other rules is dropped.
  void Reload(std::shared_ptr<const RuleSet> rules);

  int64_t now() const;
  const EngineStats& stats() const;
  std::vector<RuleStats> rule_stats() const;
  bool HasContext(std::string_view name) const;
  size_t context_count() const;
  const RuleSet& rules() const;

 private:
  std::unique_ptr<internal::EngineCore> core_;
};

}  // namespace sw::rules
