// SPDX-License-Identifier: BSD-2-Clause
// Compiled rules: what the loader builds from YAML and the engine runs.
// Everything that can be decided at load time is: field lookups, operator
// operands, regular expressions, template segments, dispatch classes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "cron.h"
#include "fields.h"
#include "re2/re2.h"
#include "sipwarden/ip.h"
#include "sipwarden/rules/alarm.h"

namespace sw::rules::internal {

enum class RuleType : uint8_t {
  kSingle,
  kSingleWithSuppress,
  kSingleWithThreshold,
  kSingleWith2Thresholds,
  kPair,
  kPairWithWindow,
  kCalendar,
  kSingleWithScript,
};
std::string_view RuleTypeName(RuleType t);  // SEC's names

// ---- conditions ----

enum class Op : uint8_t {
  kEq,  // strings/addresses/numbers: any of the operands (in, a list, a scalar)
  kPrefix,
  kSuffix,
  kContains,
  kRegex,
  kRange,  // numbers: any of the ranges
  kExists,
  kEqField,  // same value as another field of the event
  kEqFirst,  // same value as a field of the Pair operation's first event
};

struct Range {
  double lo = 0, hi = 0;
  bool lo_open = false, hi_open = false;
  bool Contains(double v) const {
    return (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
  }
};

struct Condition {
  FieldRef field;
  Op op = Op::kEq;
  bool negate = false;
  bool nocase = false;
  bool implied = false;                      // guaranteed by the dispatch class: not evaluated
  std::vector<std::string> strs;             // kEq (few), kPrefix, kSuffix, kContains
  absl::flat_hash_set<std::string> str_set;  // kEq with many operands
  std::vector<IpPrefix> prefixes;            // kEq on addresses
  std::vector<Range> ranges;                 // kEq/kRange on numbers
  std::unique_ptr<RE2> re;
  int re_id = -1;  // kRegex: the expression's index among the rule set's distinct ones
  // The condition's index among those several patterns share (the same test
  // on the same field of the event): evaluated once per event. -1: not shared,
  // or not a function of the event alone (eq_first).
  int memo_id = -1;
  FieldRef other;  // kEqField, kEqFirst
};

// And/Or/Not over conditions (leaf: index into Pattern::conds).
struct Expr {
  enum class Kind : uint8_t { kAnd, kOr, kNot, kLeaf };
  Kind kind = Kind::kAnd;
  int leaf = -1;
  std::vector<Expr> kids;
};

struct Pattern {
  Expr root;
  std::vector<Condition> conds;
  bool uses_first = false;   // has eq_first/ne_first conditions
  bool flat = false;         // root is an And of conds in order: evaluated as a loop
  std::vector<int> classes;  // dispatch classes this pattern can match (not synthetic ones)
  bool syn_all = false;      // every synthetic event
  std::vector<std::string> syn_names;  // synthetic events of these names
  // Which synthetic events of those names it can match, by the slots of
  // their method and status (SynMethodSlot, SynStatusSlot): bit per slot,
  // from top-level positive conditions (a superset, as classes are).
  uint32_t syn_methods = ~0u;
  uint32_t syn_statuses = ~0u;
};

// Synthetic events are dispatched by name and, for names whose rules ask for
// a method or a status (an "outcome" reaches eight rules, most of which want
// one method or one status class), by the event's method and status too.
inline constexpr int kSynMethodSlots = kClassReqOther + 2;  // MethodIndex, then "absent"
inline constexpr int kSynMethodAbsent = kClassReqOther + 1;
inline constexpr int kSynStatusSlots = 7;  // 0: absent or not a number; 1..6: status / 100
inline int SynStatusSlot(int64_t status) {
  const int64_t k = status / 100;
  return static_cast<int>(k < 1 ? 1 : k > 6 ? 6 : k);
}

// ---- templates ----

struct Segment {
  enum class Kind : uint8_t { kLiteral, kField, kCount, kRule, kTime };
  Kind kind = Kind::kLiteral;
  std::string literal;
  FieldRef field;
};

struct Template {
  std::vector<Segment> segs;
  std::string text;  // as written
  bool constant() const {
    return segs.empty() || (segs.size() == 1 && segs[0].kind == Segment::Kind::kLiteral);
  }
};

// Context expression: names are templates.
struct CtxExpr {
  enum class Kind : uint8_t { kName, kNot, kAnd, kOr };
  Kind kind = Kind::kName;
  Template name;
  std::vector<CtxExpr> kids;
};

// ---- actions ----

enum class ActionKind : uint8_t {
  kAlarm,
  kBlock,
  kRateLimit,
  kWatch,
  kEmit,
  kCreateContext,
  kSetContext,
  kDeleteContext,
  kScript,
  kCompareProfiles,
};

struct Action {
  ActionKind kind = ActionKind::kAlarm;
  int index = 0;  // position within the rule (alarm state key)
  // alarm
  Template signature;
  std::string category;
  int severity = 2;
  int64_t suppress_ns = 0;
  int64_t update_every_ns = 0;
  bool has_alarm_key = false;
  std::vector<FieldRef> alarm_key;
  FieldRef sip[6];  // call_id, from_uri, to_uri, user_agent, method, status
  // The accused and the target when they are not the event's source and
  // destination ("ADDR" or "ADDR:PORT", "[V6]:PORT"), and other parties by
  // name (victim, media, ...): templates, empty when not given.
  Template alarm_src, alarm_dest;
  std::vector<std::pair<std::string, Template>> parties;
  // block / rate_limit
  Template target;
  int prefix_len = -1;  // -1: the whole address
  int64_t ttl_ns = 0;
  double rate = 0;
  uint32_t burst = 0;
  std::string reason;
  // watch_media
  Template media;
  FieldRef call_id;
  // emit
  std::string name;
  int name_id = -1;
  std::vector<std::pair<std::string, Template>> fields;
  bool flow_from_first = false;
  // contexts
  Template ctx_name;
  int64_t lifetime_ns = 0;  // 0: until deleted (or evicted)
  int on_expiry = -1;       // action list index
  // script: the program and each argument (see ScriptRequest::argv)
  std::vector<Template> command;
  int64_t timeout_ns = 0;
  // compare_profiles: the account (empty: every account)
  Template account;
};

// Where field values come from when a list runs: the live event, a snapshot
// of an earlier one (deferred lists), or the live event plus the Pair
// operation's first event (first.FIELD).
enum class Source : uint8_t { kLive, kSnapshot, kLiveAndFirst, kNone };

struct ActionList {
  std::vector<Action> actions;
  Source source = Source::kLive;
  AlarmOutcome outcome = AlarmOutcome::kAllowed;
  bool has_alarm = false;
};

// ---- rules ----

struct CompiledRule {
  std::string name;
  std::string description;
  RuleType type = RuleType::kSingle;
  std::string fingerprint;  // same name + same fingerprint: state survives a reload
  int line = 0;

  Pattern match, match2;
  std::vector<FieldRef> key, key2, distinct;
  int key_spec = -1, key2_spec = -1;  // RuleSetData::key_specs
  bool has_context = false, has_context2 = false;
  CtxExpr context, context2;
  bool cont = true, cont2 = true;

  int64_t window_ns = 0, window2_ns = 0;
  uint64_t threshold = 0, threshold2 = 0;
  bool sliding = true;
  size_t max_keys = 0;

  Calendar calendar;

  std::vector<Template> script;  // program and arguments
  int64_t script_timeout_ns = 0;

  // [0] actions, [1] actions2, then lists nested in contexts' on_expiry.
  std::vector<ActionList> lists;
  // Fields a snapshot keeps: slot i holds capture[i] rendered as text.
  std::vector<FieldRef> capture;
  bool needs_snapshot = false;  // operations keep a snapshot of their first event
};

struct Limits {
  size_t max_contexts = 0;  // 0: the engine's option
  size_t max_pending_scripts = 0;
  int max_synthetic_depth = 0;
};

struct RuleSetData {
  std::string file;
  std::vector<std::unique_ptr<CompiledRule>> rules;
  absl::flat_hash_map<std::string, int> synthetic_names;  // interned emitted/matched names
  std::vector<std::vector<FieldRef>> key_specs;           // distinct key field lists
  int regex_count = 0;        // distinct regular expressions (pattern and case), Condition::re_id
  int shared_conditions = 0;  // Condition::memo_id
  int class_count = kClassSynBase;
  // Per dispatch class: (rule index, pattern bits 1 = match, 2 = match2), in file order.
  std::vector<std::vector<std::pair<uint32_t, uint8_t>>> dispatch;
  // Per synthetic name id: whether its events are dispatched by method and
  // status too; if so, its lists are syn_dispatch[(id * kSynMethodSlots +
  // method slot) * kSynStatusSlots + status slot], each dispatch's list for
  // the name without the rules that cannot match there, in the same order.
  std::vector<uint8_t> syn_split;
  std::vector<std::vector<std::pair<uint32_t, uint8_t>>> syn_dispatch;
  Limits limits;
};

}  // namespace sw::rules::internal
