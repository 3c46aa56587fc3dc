// SPDX-License-Identifier: BSD-2-Clause
// YAML rule files to compiled rules. Every error is collected with its
// position; a file with errors is refused as a whole. yaml-cpp throws: its
// exceptions stop here.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "compiled.h"
#include "sipwarden/absl_compat.h"
#include "sipwarden/rules/ruleset.h"

namespace sw::rules {

std::string ConfigError::ToString() const {
  if (line <= 0) return absl::StrCat(file, ": ", message);
  return absl::StrCat(file, ":", line, ":", column, ": ", message);
}

namespace internal {

std::string_view RuleTypeName(RuleType t) {
  switch (t) {
    case RuleType::kSingle:
      return "Single";
    case RuleType::kSingleWithSuppress:
      return "SingleWithSuppress";
    case RuleType::kSingleWithThreshold:
      return "SingleWithThreshold";
    case RuleType::kSingleWith2Thresholds:
      return "SingleWith2Thresholds";
    case RuleType::kPair:
      return "Pair";
    case RuleType::kPairWithWindow:
      return "PairWithWindow";
    case RuleType::kCalendar:
      return "Calendar";
    case RuleType::kSingleWithScript:
      return "SingleWithScript";
  }
  return "Single";
}

namespace {

constexpr RuleType kAllTypes[] = {RuleType::kSingle,
                                  RuleType::kSingleWithSuppress,
                                  RuleType::kSingleWithThreshold,
                                  RuleType::kSingleWith2Thresholds,
                                  RuleType::kPair,
                                  RuleType::kPairWithWindow,
                                  RuleType::kCalendar,
                                  RuleType::kSingleWithScript};

constexpr int64_t kSecond = 1'000'000'000;

// Levenshtein distance, for "did you mean" hints.
size_t Distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string Hint(std::string_view word, const std::vector<std::string_view>& candidates) {
  std::string_view best;
  size_t best_d = 3;
  for (auto c : candidates) {
    const size_t d = Distance(word, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  if (best.empty()) {  // "flooding" for "flood"
    for (auto c : candidates) {
      if (c.size() >= 3 && absl::StartsWith(AV(word), AV(c)) && c.size() > best.size()) best = c;
    }
  }
  if (best.empty()) return "";
  return absl::StrCat(" (did you mean '", AV(best), "'?)");
}

std::vector<std::string_view> AllFieldNames() {
  std::vector<std::string_view> v;
  for (size_t i = 0; i < static_cast<size_t>(FieldId::kCustom); ++i) {
    v.push_back(Info(static_cast<FieldId>(i)).name);
  }
  return v;
}

// A map node as (key, key node, value node) items.
struct Item {
  std::string key;
  YAML::Node key_node;
  YAML::Node value;
};

struct Defaults {
  size_t max_keys = 100000;
  int64_t alarm_suppress_ns = 60 * kSecond;
  int64_t alarm_update_every_ns = 10 * kSecond;
  bool sliding = true;
};

struct TemplateCtx {
  Source source = Source::kLive;
  CompiledRule* rule = nullptr;
};

class Loader {
 public:
  Loader(std::string file, std::vector<ConfigError>* errors, bool allow_scripts = true)
      : file_(std::move(file)), errors_(errors), allow_scripts_(allow_scripts) {}

  std::unique_ptr<RuleSetData> Load(std::string_view text);

 private:
  void Error(const YAML::Mark& m, std::string msg) {
    ConfigError e;
    e.file = file_;
    if (m.line >= 0) {
      e.line = m.line + 1;
      e.column = m.column + 1;
    }
    e.message = std::move(msg);
    errors_->push_back(std::move(e));
  }
  void Error(const YAML::Node& n, std::string msg) { Error(n.Mark(), std::move(msg)); }

  // Map items; reports non-maps and duplicate keys. Returns false if not a map.
  bool Items(const YAML::Node& n, std::string_view what, std::vector<Item>* out);
  // Reports keys not in allowed.
  void CheckKeys(const std::vector<Item>& items, const std::vector<std::string_view>& allowed,
                 std::string_view what);
  static const Item* Find(const std::vector<Item>& items, std::string_view key);

  bool Scalar(const YAML::Node& n, std::string_view what, std::string* out);
  bool Duration(const YAML::Node& n, std::string_view what, bool allow_zero, int64_t* out);
  bool Uint(const YAML::Node& n, std::string_view what, uint64_t lo, uint64_t hi, uint64_t* out);
  bool Double(const YAML::Node& n, std::string_view what, double* out);
  bool Bool(const YAML::Node& n, std::string_view what, bool* out);

  void LoadDefaults(const YAML::Node& n);
  void LoadLimits(const YAML::Node& n, Limits* limits);
  std::unique_ptr<CompiledRule> LoadRule(const YAML::Node& n);

  // Fields, patterns, keys.
  bool ParseFieldRef(std::string_view text, const YAML::Node& where, bool allow_first,
                     FieldRef* out);
  bool ParseFieldList(const YAML::Node& n, std::string_view what, std::vector<FieldRef>* out);
  bool CompileMatch(const YAML::Node& n, CompiledRule& rule, bool second, Pattern* p, Expr* out);
  bool CompileField(const Item& item, CompiledRule& rule, bool second, Pattern* p, Expr* out);
  bool Operand(const YAML::Node& n, const FieldRef& f, Condition* c);
  bool Regex(const YAML::Node& n, bool nocase, Condition* c);
  void Dispatch(Pattern* p, const Expr& top);

  // Templates and contexts.
  bool CompileTemplate(const YAML::Node& where, std::string_view text, const TemplateCtx& ctx,
                       Template* out);
  // A script's command: a list of words, or a string split on blanks (no
  // quoting: a word with a blank needs the list). Each word is its own
  // template, so a substituted value stays one argument; the program, the
  // first word, is a fixed absolute path. Refused where scripts are off.
  bool CompileCommand(const YAML::Node& n, const TemplateCtx& ctx, std::vector<Template>* out);
  // A mapping of name: template (an emit's fields, an alarm's parties).
  bool NamedTemplates(const YAML::Node& n, std::string_view what, const TemplateCtx& ctx,
                      std::vector<std::pair<std::string, Template>>* out);
  bool CompileFieldForCtx(FieldRef& f, const YAML::Node& where, const TemplateCtx& ctx);
  bool CompileContext(const YAML::Node& n, const TemplateCtx& ctx, CtxExpr* out);

  // Actions.
  int CompileList(const YAML::Node& n, Source source, CompiledRule& rule);
  bool CompileAction(const YAML::Node& n, Source source, CompiledRule& rule, Action* out);

  static int Slot(CompiledRule& rule, const FieldRef& f);

  std::string file_;
  std::vector<ConfigError>* errors_;
  bool allow_scripts_ = true;
  Defaults defaults_;
  std::set<std::string> emitted_names_;
  std::set<std::string> matched_names_;
};

bool Loader::Items(const YAML::Node& n, std::string_view what, std::vector<Item>* out) {
  if (!n.IsMap()) {
    Error(n, absl::StrCat(AV(what), " must be a mapping (key: value)"));
    return false;
  }
  std::set<std::string> seen;
  for (auto it = n.begin(); it != n.end(); ++it) {
    if (!it->first.IsScalar()) {
      Error(it->first, absl::StrCat("keys in ", AV(what), " must be plain words"));
      continue;
    }
    std::string k = it->first.Scalar();
    if (!seen.insert(k).second) {
      Error(it->first, absl::StrCat("duplicate key '", k, "' in ", AV(what)));
      continue;
    }
    out->push_back({std::move(k), it->first, it->second});
  }
  return true;
}

void Loader::CheckKeys(const std::vector<Item>& items, const std::vector<std::string_view>& allowed,
                       std::string_view what) {
  for (const auto& it : items) {
    if (std::find(allowed.begin(), allowed.end(), it.key) == allowed.end()) {
      Error(it.key_node,
            absl::StrCat(
                "unknown key '", it.key, "' in ", AV(what), Hint(it.key, allowed), " (allowed: ",
                absl::StrJoin(allowed, ", ", [](std::string* o, auto s) { o->append(s); }), ")"));
    }
  }
}

const Item* Loader::Find(const std::vector<Item>& items, std::string_view key) {
  for (const auto& it : items) {
    if (it.key == key) return &it;
  }
  return nullptr;
}

bool Loader::Scalar(const YAML::Node& n, std::string_view what, std::string* out) {
  if (!n.IsScalar()) {
    Error(n, absl::StrCat(AV(what), " must be a single value"));
    return false;
  }
  *out = n.Scalar();
  return true;
}

bool Loader::NamedTemplates(const YAML::Node& n, std::string_view what, const TemplateCtx& ctx,
                            std::vector<std::pair<std::string, Template>>* out) {
  std::vector<Item> items;
  if (!Items(n, what, &items)) return false;
  bool ok = true;
  for (const auto& item : items) {
    std::string s;
    Template t;
    if (!Scalar(item.value, item.key, &s) || !CompileTemplate(item.value, s, ctx, &t)) {
      ok = false;
      continue;
    }
    out->emplace_back(item.key, std::move(t));
  }
  return ok;
}

bool Loader::CompileCommand(const YAML::Node& n, const TemplateCtx& ctx,
                            std::vector<Template>* out) {
  if (!allow_scripts_) {
    Error(n, "scripts are disabled here (sipwarden-agent --scripts=false): remove this script "
             "or enable scripts");
    return false;
  }
  std::vector<std::pair<YAML::Node, std::string>> words;
  if (n.IsSequence()) {
    for (const auto& w : n) {
      std::string s;
      if (!Scalar(w, "a script's word", &s)) return false;
      words.emplace_back(w, s);
    }
  } else {
    std::string s;
    if (!Scalar(n, "command", &s)) return false;
    for (absl::string_view w : absl::StrSplit(s, absl::ByAnyChar(" \t"), absl::SkipEmpty())) {
      words.emplace_back(n, std::string(w));
    }
  }
  if (words.empty()) {
    Error(n, "a script needs a program");
    return false;
  }
  out->clear();
  for (const auto& [where, text] : words) {
    Template t;
    if (!CompileTemplate(where, text, ctx, &t)) return false;
    out->push_back(std::move(t));
  }
  const Template& program = out->front();
  if (!program.constant() || words.front().second.empty() || words.front().second[0] != '/') {
    Error(words.front().first,
          absl::StrCat("a script's program must be a fixed absolute path (scripts run without a "
                       "shell): '", words.front().second, "'"));
    return false;
  }
  return true;
}

bool Loader::Duration(const YAML::Node& n, std::string_view what, bool allow_zero, int64_t* out) {
  std::string s;
  if (!Scalar(n, what, &s)) return false;
  const std::string_view t = SV(absl::StripAsciiWhitespace(s));
  size_t i = 0;
  while (i < t.size() && (std::isdigit(static_cast<unsigned char>(t[i])) || t[i] == '.')) ++i;
  const std::string_view num = t.substr(0, i);
  const std::string_view unit = t.substr(i);
  double v;
  double mult = -1;
  if (unit.empty() || unit == "s")
    mult = 1e9;
  else if (unit == "ms")
    mult = 1e6;
  else if (unit == "us")
    mult = 1e3;
  else if (unit == "ns")
    mult = 1;
  else if (unit == "m")
    mult = 60e9;
  else if (unit == "h")
    mult = 3600e9;
  else if (unit == "d")
    mult = 86400e9;
  if (num.empty() || mult < 0 || !absl::SimpleAtod(AV(num), &v) || !std::isfinite(v) ||
      v * mult > 9e18 || v < 0 || (!allow_zero && v * mult < 1)) {
    Error(n, absl::StrCat("bad duration '", s, "' for ", AV(what),
                          allow_zero ? "" : " (must be more than 0)",
                          "; examples: 500ms, 10s, 5m, 1h, 1d"));
    return false;
  }
  *out = static_cast<int64_t>(std::llround(v * mult));
  return true;
}

bool Loader::Uint(const YAML::Node& n, std::string_view what, uint64_t lo, uint64_t hi,
                  uint64_t* out) {
  std::string s;
  if (!Scalar(n, what, &s)) return false;
  uint64_t v;
  if (!absl::SimpleAtoi(s, &v) || v < lo || v > hi) {
    Error(n,
          absl::StrCat("bad ", AV(what), " '", s, "' (a whole number within ", lo, "..", hi, ")"));
    return false;
  }
  *out = v;
  return true;
}

bool Loader::Double(const YAML::Node& n, std::string_view what, double* out) {
  std::string s;
  if (!Scalar(n, what, &s)) return false;
  double v;
  if (!absl::SimpleAtod(s, &v) || !std::isfinite(v)) {
    Error(n, absl::StrCat("bad ", AV(what), " '", s, "' (a number)"));
    return false;
  }
  *out = v;
  return true;
}

bool Loader::Bool(const YAML::Node& n, std::string_view what, bool* out) {
  std::string s;
  if (!Scalar(n, what, &s)) return false;
  if (s == "true" || s == "yes" || s == "on") {
    *out = true;
    return true;
  }
  if (s == "false" || s == "no" || s == "off") {
    *out = false;
    return true;
  }
  Error(n, absl::StrCat("bad ", AV(what), " '", s, "' (true or false)"));
  return false;
}

void Loader::LoadDefaults(const YAML::Node& n) {
  std::vector<Item> items;
  if (!Items(n, "defaults", &items)) return;
  CheckKeys(items, {"max_keys", "alarm_suppress", "alarm_update_every", "window_type"}, "defaults");
  uint64_t u;
  int64_t d;
  if (auto* it = Find(items, "max_keys"); it && Uint(it->value, "max_keys", 1, 1u << 30, &u)) {
    defaults_.max_keys = u;
  }
  if (auto* it = Find(items, "alarm_suppress");
      it && Duration(it->value, "alarm_suppress", true, &d)) {
    defaults_.alarm_suppress_ns = d;
  }
  if (auto* it = Find(items, "alarm_update_every");
      it && Duration(it->value, "alarm_update_every", true, &d)) {
    defaults_.alarm_update_every_ns = d;
  }
  if (auto* it = Find(items, "window_type")) {
    std::string s;
    if (Scalar(it->value, "window_type", &s)) {
      if (s == "sliding" || s == "fixed") {
        defaults_.sliding = s == "sliding";
      } else {
        Error(it->value, absl::StrCat("bad window_type '", s, "' (sliding or fixed)"));
      }
    }
  }
}

void Loader::LoadLimits(const YAML::Node& n, Limits* limits) {
  std::vector<Item> items;
  if (!Items(n, "limits", &items)) return;
  CheckKeys(items, {"max_contexts", "max_pending_scripts", "max_synthetic_depth"}, "limits");
  uint64_t u;
  if (auto* it = Find(items, "max_contexts");
      it && Uint(it->value, "max_contexts", 1, 1u << 30, &u)) {
    limits->max_contexts = u;
  }
  if (auto* it = Find(items, "max_pending_scripts");
      it && Uint(it->value, "max_pending_scripts", 1, 1u << 20, &u)) {
    limits->max_pending_scripts = u;
  }
  if (auto* it = Find(items, "max_synthetic_depth");
      it && Uint(it->value, "max_synthetic_depth", 1, 1000, &u)) {
    limits->max_synthetic_depth = static_cast<int>(u);
  }
}

// ---- fields and patterns ----

bool Loader::ParseFieldRef(std::string_view text, const YAML::Node& where, bool allow_first,
                           FieldRef* out) {
  FieldRef f;
  std::string_view name = text;
  if (absl::StartsWith(AV(name), "first.")) {
    if (!allow_first) {
      Error(where, absl::StrCat("'", AV(text),
                                "': first.FIELD is only available in match2, context2 and "
                                "actions2 of Pair and PairWithWindow rules"));
      return false;
    }
    f.first = true;
    name.remove_prefix(6);
  }
  if (absl::StartsWith(AV(name), "field.")) {
    name.remove_prefix(6);
    if (name.empty()) {
      Error(where, "field. needs a name (field.NAME)");
      return false;
    }
    for (char c : name) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') {
        Error(where, absl::StrCat("bad field name '", AV(text),
                                  "' (letters, digits, _ and - after field.)"));
        return false;
      }
    }
    f.id = FieldId::kCustom;
    f.custom = std::string(name);
    *out = std::move(f);
    return true;
  }
  auto id = FieldByName(name);
  if (!id) {
    Error(where, absl::StrCat("unknown field '", AV(text), "'", Hint(name, AllFieldNames()),
                              "; fields of synthetic events are written field.NAME"));
    return false;
  }
  f.id = *id;
  *out = std::move(f);
  return true;
}

bool Loader::ParseFieldList(const YAML::Node& n, std::string_view what,
                            std::vector<FieldRef>* out) {
  auto one = [&](const YAML::Node& e) {
    std::string s;
    if (!Scalar(e, what, &s)) return false;
    FieldRef f;
    if (!ParseFieldRef(s, e, false, &f)) return false;
    out->push_back(std::move(f));
    return true;
  };
  if (n.IsScalar()) return one(n);
  if (!n.IsSequence()) {
    Error(n, absl::StrCat(AV(what), " must be a field name or a list of field names"));
    return false;
  }
  bool ok = true;
  for (const auto& e : n) ok = one(e) && ok;
  return ok;
}

// Numbers for a numeric field: "404", "4xx" (status), "2.5".
bool ParseNumberOperand(std::string_view s, FieldId field, Range* r) {
  if ((field == FieldId::kStatus) && s.size() == 3 &&
      std::isdigit(static_cast<unsigned char>(s[0])) && (s[1] == 'x' || s[1] == 'X') &&
      (s[2] == 'x' || s[2] == 'X')) {
    const double base = (s[0] - '0') * 100;
    *r = {base, base + 99, false, false};
    return true;
  }
  double v;
  if (!absl::SimpleAtod(AV(s), &v) || !std::isfinite(v)) return false;
  *r = {v, v, false, false};
  return true;
}

bool Loader::Operand(const YAML::Node& n, const FieldRef& f, Condition* c) {
  std::string s;
  if (!Scalar(n, absl::StrCat("a value for ", AV(f.name())), &s)) return false;
  switch (f.kind()) {
    case ValueKind::kString:
    case ValueKind::kList:
      if (f.id == FieldId::kType && s != "sip" && s != "mgcp" && s != "rtp" && s != "call" &&
          s != "synthetic") {
        Error(n, absl::StrCat("unknown event type '", s, "' (sip, mgcp, rtp, call or synthetic)"));
        return false;
      }
      c->strs.push_back(c->nocase ? absl::AsciiStrToLower(s) : s);
      return true;
    case ValueKind::kIp: {
      auto p = IpPrefix::Parse(s);
      if (!p.ok()) {
        Error(n, absl::StrCat("bad address or prefix '", s, "' for ", AV(f.name()), ": ",
                              p.status().message()));
        return false;
      }
      c->prefixes.push_back(*p);
      return true;
    }
    case ValueKind::kBool: {
      bool b;
      if (!Bool(n, f.name(), &b)) return false;
      c->ranges.push_back({b ? 1.0 : 0.0, b ? 1.0 : 0.0, false, false});
      return true;
    }
    case ValueKind::kInt:
    case ValueKind::kDouble: {
      Range r;
      if (!ParseNumberOperand(s, f.id, &r)) {
        Error(n, absl::StrCat("bad value '", s, "' for ", AV(f.name()), " (a number",
                              f.id == FieldId::kStatus ? ", or a class such as 4xx" : "", ")"));
        return false;
      }
      c->ranges.push_back(r);
      return true;
    }
  }
  return false;
}

bool Loader::Regex(const YAML::Node& n, bool nocase, Condition* c) {
  std::string s;
  if (!Scalar(n, "a regular expression", &s)) return false;
  RE2::Options o;
  o.set_log_errors(false);
  o.set_case_sensitive(!nocase);
  auto re = std::make_unique<RE2>(s, o);
  if (!re->ok()) {
    Error(n, absl::StrCat("bad regular expression '", s, "': ", re->error()));
    return false;
  }
  c->re = std::move(re);
  return true;
}

bool Loader::CompileField(const Item& item, CompiledRule& rule, bool second, Pattern* p,
                          Expr* out) {
  FieldRef f;
  if (!ParseFieldRef(item.key, item.key_node, false, &f)) return false;
  const ValueKind kind = f.kind();
  const bool text = kind == ValueKind::kString || kind == ValueKind::kList;
  const bool numeric = kind == ValueKind::kInt || kind == ValueKind::kDouble;
  auto leaf = [&](Condition c) {
    c.field = f;
    if (c.op == Op::kEq && c.strs.size() > 8) {
      for (auto& s : c.strs) c.str_set.insert(std::move(s));
      c.strs.clear();
    }
    p->conds.push_back(std::move(c));
    Expr e;
    e.kind = Expr::Kind::kLeaf;
    e.leaf = static_cast<int>(p->conds.size() - 1);
    out->kids.push_back(std::move(e));
  };
  const YAML::Node& v = item.value;
  // Shorthands: a value (equality, CIDR for addresses, 4xx for status) or a list (any of).
  if (v.IsScalar() || v.IsSequence()) {
    Condition c;
    c.op = Op::kEq;
    bool ok = true;
    if (v.IsScalar()) {
      ok = Operand(v, f, &c);
    } else {
      if (v.size() == 0) {
        Error(v, absl::StrCat("empty list for ", item.key));
        return false;
      }
      for (const auto& e : v) ok = Operand(e, f, &c) && ok;
    }
    if (ok) leaf(std::move(c));
    return ok;
  }
  std::vector<Item> ops;
  if (!Items(v, absl::StrCat("the conditions on ", item.key), &ops)) return false;
  bool nocase = false;
  if (auto* nc = Find(ops, "nocase")) {
    if (!Bool(nc->value, "nocase", &nocase)) return false;
    if (!text) {
      Error(nc->key_node,
            absl::StrCat("nocase applies to text fields; ", item.key, " is ", AV(KindName(kind))));
      return false;
    }
  }
  static const std::vector<std::string_view> kOps = {
      "eq",     "ne",        "in",       "not_in",   "prefix",   "suffix", "contains",
      "regex",  "not_regex", "lt",       "le",       "gt",       "ge",     "range",
      "exists", "eq_field",  "ne_field", "eq_first", "ne_first", "nocase"};
  bool ok = true;
  if (ops.empty()) {
    Error(v, absl::StrCat("no condition given for ", item.key));
    return false;
  }
  for (const auto& op : ops) {
    const std::string& o = op.key;
    if (o == "nocase") continue;
    if (std::find(kOps.begin(), kOps.end(), o) == kOps.end()) {
      Error(op.key_node, absl::StrCat("unknown operator '", o, "'", Hint(o, kOps),
                                      " (eq, ne, in, not_in, prefix, suffix, contains, regex, "
                                      "not_regex, lt, le, gt, ge, range, exists, eq_field, "
                                      "ne_field, eq_first, ne_first, nocase)"));
      ok = false;
      continue;
    }
    Condition c;
    c.nocase = nocase;
    c.negate = o == "ne" || o == "not_in" || o == "not_regex" || o == "ne_field" || o == "ne_first";
    if (o == "eq" || o == "ne" || o == "in" || o == "not_in") {
      c.op = Op::kEq;
      if (op.value.IsSequence()) {
        if (op.value.size() == 0) {
          Error(op.value, absl::StrCat("empty list for ", o));
          ok = false;
          continue;
        }
        bool all = true;
        for (const auto& e : op.value) all = Operand(e, f, &c) && all;
        if (!all) {
          ok = false;
          continue;
        }
      } else if (!Operand(op.value, f, &c)) {
        ok = false;
        continue;
      }
    } else if (o == "prefix" || o == "suffix" || o == "contains") {
      if (!text) {
        Error(op.key_node, absl::StrCat("'", o, "' applies to text fields; ", item.key, " is ",
                                        AV(KindName(kind))));
        ok = false;
        continue;
      }
      c.op = o == "prefix" ? Op::kPrefix : o == "suffix" ? Op::kSuffix : Op::kContains;
      auto add = [&](const YAML::Node& e) {
        std::string s;
        if (!Scalar(e, o, &s)) return false;
        c.strs.push_back(nocase ? absl::AsciiStrToLower(s) : s);
        return true;
      };
      bool all = true;
      if (op.value.IsSequence()) {
        for (const auto& e : op.value) all = add(e) && all;
      } else {
        all = add(op.value);
      }
      if (!all) {
        ok = false;
        continue;
      }
    } else if (o == "regex" || o == "not_regex") {
      if (!text) {
        Error(op.key_node, absl::StrCat("'", o, "' applies to text fields; ", item.key, " is ",
                                        AV(KindName(kind))));
        ok = false;
        continue;
      }
      c.op = Op::kRegex;
      if (!Regex(op.value, nocase, &c)) {
        ok = false;
        continue;
      }
    } else if (o == "lt" || o == "le" || o == "gt" || o == "ge" || o == "range") {
      if (!numeric) {
        Error(op.key_node, absl::StrCat("'", o, "' applies to numeric fields; ", item.key, " is ",
                                        AV(KindName(kind))));
        ok = false;
        continue;
      }
      c.op = Op::kRange;
      constexpr double kInf = std::numeric_limits<double>::infinity();
      if (o == "range") {
        double lo, hi;
        if (!op.value.IsSequence() || op.value.size() != 2) {
          Error(op.value, "range needs two numbers: [low, high] (both included)");
          ok = false;
          continue;
        }
        if (!Double(op.value[0], "range low", &lo) || !Double(op.value[1], "range high", &hi)) {
          ok = false;
          continue;
        }
        if (lo > hi) {
          Error(op.value, "range low is above range high");
          ok = false;
          continue;
        }
        c.ranges.push_back({lo, hi, false, false});
      } else {
        double x;
        if (!Double(op.value, o, &x)) {
          ok = false;
          continue;
        }
        if (o == "lt") c.ranges.push_back({-kInf, x, false, true});
        if (o == "le") c.ranges.push_back({-kInf, x, false, false});
        if (o == "gt") c.ranges.push_back({x, kInf, true, false});
        if (o == "ge") c.ranges.push_back({x, kInf, false, false});
      }
    } else if (o == "exists") {
      bool b;
      if (!Bool(op.value, "exists", &b)) {
        ok = false;
        continue;
      }
      c.op = Op::kExists;
      c.negate = !b;
    } else {  // eq_field, ne_field, eq_first, ne_first
      const bool first = o == "eq_first" || o == "ne_first";
      if (first && !second) {
        Error(op.key_node, absl::StrCat("'", o,
                                        "' compares with the first event of a Pair operation: "
                                        "only in match2 of Pair and PairWithWindow rules"));
        ok = false;
        continue;
      }
      std::string s;
      if (!Scalar(op.value, "a field name", &s) || !ParseFieldRef(s, op.value, false, &c.other)) {
        ok = false;
        continue;
      }
      c.op = first ? Op::kEqFirst : Op::kEqField;
      if (first) {
        c.other.first = true;
        c.other.slot = Slot(rule, c.other);
        p->uses_first = true;
      }
    }
    leaf(std::move(c));
  }
  return ok;
}

bool Loader::CompileMatch(const YAML::Node& n, CompiledRule& rule, bool second, Pattern* p,
                          Expr* out) {
  std::vector<Item> items;
  if (!Items(n, second ? "match2" : "match", &items)) return false;
  out->kind = Expr::Kind::kAnd;
  bool ok = true;
  for (const auto& it : items) {
    if (it.key == "any" || it.key == "all" || it.key == "not") {
      Expr group;
      group.kind = it.key == "any" ? Expr::Kind::kOr : Expr::Kind::kAnd;
      if (it.value.IsSequence()) {
        if (it.value.size() == 0) {
          Error(it.value, absl::StrCat("empty list for ", it.key));
          ok = false;
          continue;
        }
        for (const auto& e : it.value) {
          Expr sub;
          ok = CompileMatch(e, rule, second, p, &sub) && ok;
          group.kids.push_back(std::move(sub));
        }
        if (it.key == "not") group.kind = Expr::Kind::kOr;  // not: [a, b] = none of them
      } else if (it.value.IsMap() && it.key != "any") {
        Expr sub;
        ok = CompileMatch(it.value, rule, second, p, &sub) && ok;
        group.kids.push_back(std::move(sub));
      } else {
        Error(it.value, absl::StrCat("'", it.key, "' takes ",
                                     it.key == "any" ? "a list of conditions"
                                                     : "conditions or a list of them"));
        ok = false;
        continue;
      }
      if (it.key == "not") {
        Expr neg;
        neg.kind = Expr::Kind::kNot;
        neg.kids.push_back(std::move(group));
        out->kids.push_back(std::move(neg));
      } else {
        out->kids.push_back(std::move(group));
      }
      continue;
    }
    ok = CompileField(it, rule, second, p, out) && ok;
  }
  return ok;
}

// Which dispatch classes a pattern can match, from its top-level positive
// conditions (a superset: the pattern is still evaluated).
void Loader::Dispatch(Pattern* p, const Expr& top) {
  p->syn_methods = ~0u;
  p->syn_statuses = ~0u;
  // Synthetic events reach only patterns that ask for them (type: synthetic
  // or a name): a rule that emits what it matches would otherwise feed itself.
  uint8_t types = kBitAll & ~kBitSyn;
  std::set<int> methods;  // request classes
  bool any_method = true;
  uint32_t status_classes = 0x7e;  // bits 1..6
  bool responses_only = false, requests_only = false;
  std::set<std::string> names;
  bool any_name = true;
  // Messages the parser refused go only to patterns that ask for them at the
  // top level (malformed: true, or a malformed_reason / malformed_what).
  bool malformed = false;
  for (const auto& kid : top.kids) {
    if (kid.kind != Expr::Kind::kLeaf) continue;
    const Condition& c = p->conds[kid.leaf];
    if (c.negate || c.field.id == FieldId::kCustom) continue;
    if (c.op == Op::kEqField || c.op == Op::kEqFirst) continue;
    const FieldInfo& info = Info(c.field.id);
    types &= info.types;
    // Any condition on the refusal's reason asks for refused messages.
    if (c.field.id == FieldId::kMalformedReason || c.field.id == FieldId::kMalformedWhat) {
      malformed = true;
    }
    if (c.op != Op::kEq) continue;
    switch (c.field.id) {
      case FieldId::kType: {
        uint8_t t = 0;
        for (const auto& s : c.strs) {
          if (s == "sip") t |= kBitSip;
          if (s == "mgcp") t |= kBitMgcp;
          if (s == "rtp") t |= kBitRtp;
          if (s == "call") t |= kBitCall;
          if (s == "synthetic") t |= kBitSyn;
        }
        types = (types | (t & kBitSyn)) & t;
        break;
      }
      case FieldId::kMethod:
        if (!c.nocase && c.str_set.empty()) {
          std::set<int> m;
          uint32_t slots = 0;  // an equal text has the same MethodIndex; absent never matches
          for (const auto& s : c.strs) {
            m.insert(MethodIndex(s));
            slots |= 1u << MethodIndex(s);
          }
          p->syn_methods &= slots;
          if (any_method) {
            methods = m;
          } else {
            std::set<int> both;
            for (int x : m) {
              if (methods.count(x)) both.insert(x);
            }
            methods = both;
          }
          any_method = false;
        }
        requests_only = true;
        break;
      case FieldId::kStatus:
      case FieldId::kStatusClass: {
        if (c.field.id == FieldId::kStatus) {
          // Every status the ranges hold falls in these slots (the slot of
          // a number is clamped to 1..6, so the ends' slots bound them);
          // an absent status (slot 0) never matches.
          uint32_t slots = 0;
          for (const auto& r : c.ranges) {
            auto slot = [](double x) {
              const double k = std::floor(x / 100);
              return static_cast<int>(k < 1 ? 1 : k > 6 ? 6 : k);
            };
            for (int k = slot(r.lo); k <= slot(r.hi); ++k) slots |= 1u << k;
          }
          p->syn_statuses &= slots;
        }
        uint32_t bits = 0;
        for (const auto& r : c.ranges) {
          const double div = c.field.id == FieldId::kStatus ? 100 : 1;
          const double lo = std::max(1.0, std::floor(r.lo / div));
          const double hi = std::min(6.0, std::floor(r.hi / div));
          for (int k = static_cast<int>(lo); k <= static_cast<int>(hi); ++k) bits |= 1u << k;
        }
        status_classes &= bits;
        responses_only = true;
        break;
      }
      case FieldId::kMalformed:
        for (const auto& r : c.ranges) {
          if (r.lo == 1) malformed = true;
        }
        break;
      case FieldId::kRequest:
        for (const auto& r : c.ranges) {
          if (r.lo == 1) requests_only = true;
          if (r.lo == 0) responses_only = true;
        }
        break;
      case FieldId::kName:
        types |= kBitSyn;
        if (c.str_set.empty() && !c.nocase) {
          std::set<std::string> n(c.strs.begin(), c.strs.end());
          if (any_name) {
            names = n;
          } else {
            std::set<std::string> both;
            for (const auto& x : n) {
              if (names.count(x)) both.insert(x);
            }
            names = both;
          }
          any_name = false;
        }
        break;
      default:
        break;
    }
  }
  // Top-level conditions the dispatch class guarantees are not evaluated.
  for (const auto& kid : top.kids) {
    if (kid.kind != Expr::Kind::kLeaf) continue;
    Condition& c = p->conds[kid.leaf];
    if (c.negate || c.nocase || c.op != Op::kEq || !c.str_set.empty()) continue;
    if (c.field.id == FieldId::kType || c.field.id == FieldId::kName) c.implied = true;
    if (c.field.id == FieldId::kMethod && !(types & kBitSyn) &&
        std::none_of(c.strs.begin(), c.strs.end(),
                     [](const std::string& m) { return MethodIndex(m) == kClassReqOther; })) {
      c.implied = true;
    }
  }
  p->flat = top.kind == Expr::Kind::kAnd && top.kids.size() == p->conds.size() &&
            std::all_of(top.kids.begin(), top.kids.end(),
                        [&](const Expr& k) { return k.kind == Expr::Kind::kLeaf; });
  for (size_t i = 0; p->flat && i < top.kids.size(); ++i)
    p->flat = top.kids[i].leaf == static_cast<int>(i);
  p->classes.clear();
  if ((types & kBitSip) && malformed) {
    p->classes.push_back(kClassMalformed);
  } else if (types & kBitSip) {
    if (!responses_only) {
      for (int m = 0; m <= kClassReqOther; ++m) {
        if (any_method || methods.count(m)) p->classes.push_back(m);
      }
    }
    if (!requests_only) {
      for (int k = 1; k <= 6; ++k) {
        if (status_classes & (1u << k)) p->classes.push_back(kClassResp + k - 1);
      }
    }
  }
  if ((types & kBitMgcp) && any_method) p->classes.push_back(kClassMgcp);
  if ((types & kBitRtp) && any_method && !responses_only && !requests_only) {
    p->classes.push_back(kClassRtp);
  }
  if ((types & kBitCall) && any_method && !requests_only) p->classes.push_back(kClassCall);
  p->syn_all = false;
  p->syn_names.clear();
  if (types & kBitSyn) {
    if (any_name) {
      p->classes.push_back(kClassSynOther);
      p->syn_all = true;  // every interned name: resolved once all rules are read
    } else {
      for (const auto& n : names) {
        matched_names_.insert(n);
        p->syn_names.push_back(n);
      }
    }
  }
}

// ---- templates and context expressions ----

int Loader::Slot(CompiledRule& rule, const FieldRef& f) {
  for (size_t i = 0; i < rule.capture.size(); ++i) {
    if (rule.capture[i].SameField(f)) return static_cast<int>(i);
  }
  FieldRef c = f;
  c.first = false;
  c.slot = static_cast<int>(rule.capture.size());
  rule.capture.push_back(std::move(c));
  return static_cast<int>(rule.capture.size() - 1);
}

bool Loader::CompileFieldForCtx(FieldRef& f, const YAML::Node& where, const TemplateCtx& ctx) {
  if (ctx.source == Source::kNone) {
    Error(where,
          absl::StrCat("'", AV(f.name()), "': Calendar rules have no event, so no event fields"));
    return false;
  }
  if (f.first || ctx.source == Source::kSnapshot) f.slot = Slot(*ctx.rule, f);
  return true;
}

bool Loader::CompileTemplate(const YAML::Node& where, std::string_view text, const TemplateCtx& ctx,
                             Template* out) {
  out->text = std::string(text);
  out->segs.clear();
  std::string lit;
  auto flush = [&] {
    if (!lit.empty()) {
      Segment s;
      s.kind = Segment::Kind::kLiteral;
      s.literal = std::move(lit);
      out->segs.push_back(std::move(s));
      lit.clear();
    }
  };
  bool ok = true;
  for (size_t i = 0; i < text.size();) {
    if (text[i] == '$' && i + 1 < text.size() && text[i + 1] == '$') {
      lit.push_back('$');
      i += 2;
      continue;
    }
    if (text[i] == '$' && i + 1 < text.size() && text[i + 1] == '{') {
      const size_t close = text.find('}', i + 2);
      if (close == std::string_view::npos) {
        Error(where, absl::StrCat("unclosed ${ in '", AV(text), "'"));
        return false;
      }
      const std::string_view inner = text.substr(i + 2, close - i - 2);
      flush();
      Segment s;
      if (inner == "count") {
        s.kind = Segment::Kind::kCount;
      } else if (inner == "rule") {
        s.kind = Segment::Kind::kRule;
      } else if (inner == "time") {
        s.kind = Segment::Kind::kTime;
      } else {
        s.kind = Segment::Kind::kField;
        if (!ParseFieldRef(inner, where, ctx.source == Source::kLiveAndFirst, &s.field) ||
            !CompileFieldForCtx(s.field, where, ctx)) {
          ok = false;
        }
      }
      out->segs.push_back(std::move(s));
      i = close + 1;
      continue;
    }
    lit.push_back(text[i]);
    ++i;
  }
  flush();
  return ok;
}

// expr := and ('||' and)* ; and := unary ('&&' unary)* ; unary := '!' unary | '(' expr ')' | NAME
class CtxParser {
 public:
  CtxParser(std::string_view text) : t_(text) {}
  std::string error;

  bool Parse(CtxExpr* out) {
    if (!Or(out)) return false;
    Skip();
    if (i_ != t_.size()) return Fail("unexpected text");
    return true;
  }

 private:
  bool Fail(std::string_view what) {
    error = absl::StrCat(AV(what), " at offset ", i_, " of context '", AV(t_), "'");
    return false;
  }
  void Skip() {
    while (i_ < t_.size() && std::isspace(static_cast<unsigned char>(t_[i_]))) ++i_;
  }
  bool Eat(std::string_view tok) {
    Skip();
    if (t_.substr(i_, tok.size()) == tok) {
      i_ += tok.size();
      return true;
    }
    return false;
  }
  bool Or(CtxExpr* out) {
    CtxExpr first;
    if (!And(&first)) return false;
    if (!Peek("||")) {
      *out = std::move(first);
      return true;
    }
    out->kind = CtxExpr::Kind::kOr;
    out->kids.push_back(std::move(first));
    while (Eat("||")) {
      CtxExpr e;
      if (!And(&e)) return false;
      out->kids.push_back(std::move(e));
    }
    return true;
  }
  bool Peek(std::string_view tok) {
    Skip();
    return t_.substr(i_, tok.size()) == tok;
  }
  bool And(CtxExpr* out) {
    CtxExpr first;
    if (!Unary(&first)) return false;
    if (!Peek("&&")) {
      *out = std::move(first);
      return true;
    }
    out->kind = CtxExpr::Kind::kAnd;
    out->kids.push_back(std::move(first));
    while (Eat("&&")) {
      CtxExpr e;
      if (!Unary(&e)) return false;
      out->kids.push_back(std::move(e));
    }
    return true;
  }
  bool Unary(CtxExpr* out) {
    if (Eat("!")) {
      out->kind = CtxExpr::Kind::kNot;
      out->kids.emplace_back();
      return Unary(&out->kids.back());
    }
    if (Eat("(")) {
      if (!Or(out)) return false;
      if (!Eat(")")) return Fail("missing )");
      return true;
    }
    Skip();
    const size_t start = i_;
    while (i_ < t_.size()) {
      const char c = t_[i_];
      if (c == '$' && i_ + 1 < t_.size() && t_[i_ + 1] == '{') {
        const size_t close = t_.find('}', i_);
        if (close == std::string_view::npos) return Fail("unclosed ${");
        i_ = close + 1;
        continue;
      }
      if (std::isspace(static_cast<unsigned char>(c)) || c == '(' || c == ')' || c == '!' ||
          c == '&' || c == '|') {
        break;
      }
      ++i_;
    }
    if (i_ == start) return Fail("expected a context name");
    out->kind = CtxExpr::Kind::kName;
    out->name.text = std::string(t_.substr(start, i_ - start));
    return true;
  }

  std::string_view t_;
  size_t i_ = 0;
};

bool Loader::CompileContext(const YAML::Node& n, const TemplateCtx& ctx, CtxExpr* out) {
  std::string text;
  if (!Scalar(n, "context", &text)) return false;
  CtxParser parser(text);
  if (!parser.Parse(out)) {
    Error(n, parser.error);
    return false;
  }
  // Then the names, in the finished tree.
  bool ok = true;
  std::vector<CtxExpr*> todo = {out};
  while (!todo.empty()) {
    CtxExpr* e = todo.back();
    todo.pop_back();
    if (e->kind == CtxExpr::Kind::kName) {
      const std::string name = e->name.text;
      ok = CompileTemplate(n, name, ctx, &e->name) && ok;
    }
    for (auto& k : e->kids) todo.push_back(&k);
  }
  return ok;
}

// ---- actions ----

int Loader::CompileList(const YAML::Node& n, Source source, CompiledRule& rule) {
  const int index = static_cast<int>(rule.lists.size());
  rule.lists.emplace_back();
  rule.lists[index].source = source;
  if (n.IsNull()) return index;
  if (!n.IsSequence()) {
    Error(n, "actions must be a list (- alarm: {...})");
    return index;
  }
  std::vector<Action> actions;
  for (const auto& a : n) {
    Action act;
    act.index = index * 1000 + static_cast<int>(actions.size());
    if (CompileAction(a, source, rule, &act)) actions.push_back(std::move(act));
  }
  ActionList& list = rule.lists[index];  // CompileAction may have grown rule.lists
  list.actions = std::move(actions);
  bool blocks = false, watches = false;
  std::string category;
  for (const auto& a : list.actions) {
    if (a.kind == ActionKind::kBlock || a.kind == ActionKind::kRateLimit) blocks = true;
    if (a.kind == ActionKind::kWatch) watches = true;
    if (a.kind == ActionKind::kAlarm) {
      list.has_alarm = true;
      if (category.empty()) category = a.category;
    }
  }
  list.outcome = blocks    ? AlarmOutcome::kBlocked
                 : watches ? AlarmOutcome::kWatched
                           : AlarmOutcome::kAllowed;
  for (auto& a : list.actions) {
    if ((a.kind == ActionKind::kBlock) && a.reason.empty()) {
      a.reason = category.empty() ? "anomaly" : category;
    }
  }
  return index;
}

bool Loader::CompileAction(const YAML::Node& n, Source source, CompiledRule& rule, Action* out) {
  static const std::vector<std::string_view> kActions = {
      "alarm",          "block",       "rate_limit",     "watch_media", "emit",
      "create_context", "set_context", "delete_context", "script",      "compare_profiles"};
  // yaml-cpp nodes are references: assigning one to another rewrites the
  // document, so every node here is bound once.
  const bool single_key_map = n.IsMap() && n.size() == 1;
  if (!n.IsScalar() && !single_key_map) {
    Error(n,
          "an action is one of: - alarm: {...}, - block: {...}, - rate_limit: {...}, "
          "- watch_media: {...}, - emit: {...}, - create_context: {...}, "
          "- set_context: {...}, - delete_context: NAME, - script: {...}, - compare_profiles");
    return false;
  }
  const YAML::Node where = n.IsScalar() ? n : n.begin()->first;
  const YAML::Node body = n.IsScalar() ? YAML::Node() : n.begin()->second;
  const std::string kind = where.Scalar();
  if (std::find(kActions.begin(), kActions.end(), kind) == kActions.end()) {
    Error(where, absl::StrCat("unknown action '", kind, "'", Hint(kind, kActions),
                              " (alarm, block, rate_limit, watch_media, emit, create_context, "
                              "set_context, delete_context, script, compare_profiles)"));
    return false;
  }
  TemplateCtx ctx{source, &rule};
  Action& a = *out;
  // Scalar shorthands.
  const bool scalar_body = body.IsDefined() && body.IsScalar() && !body.IsNull();
  std::vector<Item> items;
  if (scalar_body) {
    if (kind == "delete_context" || kind == "create_context") {
      a.kind = kind == "delete_context" ? ActionKind::kDeleteContext : ActionKind::kCreateContext;
      return CompileTemplate(body, body.Scalar(), ctx, &a.ctx_name);
    }
    if (kind == "script") {
      a.kind = ActionKind::kScript;
      a.timeout_ns = 10 * kSecond;
      return CompileCommand(body, ctx, &a.command);
    }
    if (kind == "compare_profiles") {  // - compare_profiles: ACCOUNT
      a.kind = ActionKind::kCompareProfiles;
      return CompileTemplate(body, body.Scalar(), ctx, &a.account);
    }
    Error(body, absl::StrCat("'", kind, "' takes a mapping of settings"));
    return false;
  }
  if (kind == "script" && body.IsSequence()) {  // - script: [/usr/bin/prog, arg, ...]
    a.kind = ActionKind::kScript;
    a.timeout_ns = 10 * kSecond;
    return CompileCommand(body, ctx, &a.command);
  }
  if (body.IsDefined() && !body.IsNull() && !Items(body, kind, &items)) return false;
  bool ok = true;
  auto need = [&](std::string_view key) -> const Item* {
    const Item* it = Find(items, key);
    if (it == nullptr) {
      Error(where, absl::StrCat("action '", kind, "' needs '", AV(key), "'"));
      ok = false;
    }
    return it;
  };
  auto tmpl = [&](const Item* it, Template* t) {
    std::string s;
    if (it == nullptr) return;
    if (!Scalar(it->value, it->key, &s) || !CompileTemplate(it->value, s, ctx, t)) ok = false;
  };
  auto field = [&](std::string_view name) {
    FieldRef f;
    f.id = *FieldByName(name);
    if (source == Source::kSnapshot) f.slot = Slot(rule, f);
    return f;
  };
  auto target = [&]() {
    if (const Item* it = Find(items, "target")) {
      tmpl(it, &a.target);
    } else if (source == Source::kNone) {
      Error(where, absl::StrCat("'", kind, "' in a Calendar rule needs a target address"));
      ok = false;
    } else {
      CompileTemplate(where, "${src_ip}", ctx, &a.target);
    }
    if (const Item* it = Find(items, "prefix_len")) {
      uint64_t u;
      if (Uint(it->value, "prefix_len", 0, 128, &u)) {
        a.prefix_len = static_cast<int>(u);
      } else {
        ok = false;
      }
    }
  };
  auto ttl = [&](bool required, int64_t dflt) {
    a.ttl_ns = dflt;
    const Item* it = required ? need("ttl") : Find(items, "ttl");
    if (it && !Duration(it->value, "ttl", true, &a.ttl_ns)) ok = false;
  };
  if (kind == "alarm") {
    a.kind = ActionKind::kAlarm;
    CheckKeys(items,
              {"signature", "category", "severity", "suppress", "update_every", "key", "src",
               "dest", "parties"},
              "alarm");
    tmpl(need("signature"), &a.signature);
    tmpl(Find(items, "src"), &a.alarm_src);
    tmpl(Find(items, "dest"), &a.alarm_dest);
    if (const Item* it = Find(items, "parties")) {
      if (!NamedTemplates(it->value, "parties", ctx, &a.parties)) ok = false;
    }
    if (const Item* it = need("category")) {
      std::string c;
      if (Scalar(it->value, "category", &c)) {
        if (!IsAlarmCategory(c)) {
          std::vector<std::string_view> cats(AlarmCategories().begin(), AlarmCategories().end());
          Error(it->value,
                absl::StrCat(
                    "unknown category '", c, "'", Hint(c, cats), " (one of: ",
                    absl::StrJoin(cats, ", ", [](std::string* o, auto s) { o->append(s); }), ")"));
          ok = false;
        }
        a.category = c;
      } else {
        ok = false;
      }
    }
    uint64_t sev = 2;
    if (const Item* it = Find(items, "severity")) {
      if (!Uint(it->value, "severity", 1, 3, &sev)) ok = false;
    }
    a.severity = static_cast<int>(sev);
    a.suppress_ns = defaults_.alarm_suppress_ns;
    a.update_every_ns = defaults_.alarm_update_every_ns;
    if (const Item* it = Find(items, "suppress")) {
      if (!Duration(it->value, "suppress", true, &a.suppress_ns)) ok = false;
    }
    if (const Item* it = Find(items, "update_every")) {
      if (!Duration(it->value, "update_every", true, &a.update_every_ns)) ok = false;
    }
    if (const Item* it = Find(items, "key")) {
      a.has_alarm_key = true;
      if (!ParseFieldList(it->value, "key", &a.alarm_key)) ok = false;
      if (source == Source::kNone && !a.alarm_key.empty()) {
        Error(it->value, "Calendar rules have no event, so no alarm key fields");
        ok = false;
      }
      for (auto& f : a.alarm_key) {
        if (source == Source::kSnapshot) f.slot = Slot(rule, f);
      }
    }
    if (source != Source::kNone) {
      static constexpr std::string_view kSip[6] = {"call_id",    "from_uri", "to_uri",
                                                   "user_agent", "method",   "status"};
      for (int i = 0; i < 6; ++i) a.sip[i] = field(kSip[i]);
    }
  } else if (kind == "block") {
    a.kind = ActionKind::kBlock;
    CheckKeys(items, {"ttl", "target", "prefix_len", "reason"}, "block");
    ttl(false, 3600 * kSecond);
    target();
    if (const Item* it = Find(items, "reason")) {
      std::string r;
      if (Scalar(it->value, "reason", &r) && (IsAlarmCategory(r) || r == "manual")) {
        a.reason = r;
      } else {
        Error(it->value, absl::StrCat("bad block reason '", r, "' (a category or manual)"));
        ok = false;
      }
    }
  } else if (kind == "rate_limit") {
    a.kind = ActionKind::kRateLimit;
    CheckKeys(items, {"rate", "burst", "ttl", "target", "prefix_len"}, "rate_limit");
    if (const Item* it = need("rate")) {
      if (!Double(it->value, "rate", &a.rate) || a.rate <= 0) {
        if (a.rate <= 0) Error(it->value, "rate must be more than 0 messages per second");
        ok = false;
      }
    }
    a.burst = static_cast<uint32_t>(std::max(1.0, std::ceil(a.rate)));
    if (const Item* it = Find(items, "burst")) {
      uint64_t b;
      if (Uint(it->value, "burst", 1, 1u << 30, &b)) {
        a.burst = static_cast<uint32_t>(b);
      } else {
        ok = false;
      }
    }
    ttl(false, 600 * kSecond);
    target();
  } else if (kind == "watch_media") {
    a.kind = ActionKind::kWatch;
    CheckKeys(items, {"ttl", "media", "call_id"}, "watch_media");
    ttl(false, 60 * kSecond);
    if (const Item* it = Find(items, "media")) {
      tmpl(it, &a.media);
    } else if (source == Source::kNone) {
      Error(where, "watch_media in a Calendar rule needs 'media'");
      ok = false;
    } else {
      CompileTemplate(where, "${media}", ctx, &a.media);
    }
    if (source != Source::kNone) a.call_id = field("call_id");
  } else if (kind == "emit") {
    a.kind = ActionKind::kEmit;
    CheckKeys(items, {"name", "copy", "fields", "flow"}, "emit");
    if (const Item* it = need("name")) {
      if (Scalar(it->value, "name", &a.name)) {
        const bool good = !a.name.empty() && std::all_of(a.name.begin(), a.name.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
                 c == ':';
        });
        if (!good) {
          Error(it->value,
                absl::StrCat("bad event name '", a.name, "' (letters, digits, _ - . and :)"));
          ok = false;
        }
        emitted_names_.insert(a.name);
      } else {
        ok = false;
      }
    }
    if (const Item* it = Find(items, "copy")) {
      auto one = [&](const YAML::Node& e) {
        std::string s;
        FieldRef f;
        if (!Scalar(e, "copy", &s) || !ParseFieldRef(s, e, source == Source::kLiveAndFirst, &f)) {
          ok = false;
          return;
        }
        Template t;
        if (!CompileTemplate(e, absl::StrCat("${", s, "}"), ctx, &t)) {
          ok = false;
          return;
        }
        a.fields.emplace_back(std::string(f.name()), std::move(t));
      };
      if (it->value.IsSequence()) {
        for (const auto& e : it->value) one(e);
      } else {
        one(it->value);
      }
    }
    if (const Item* it = Find(items, "fields")) {
      if (!NamedTemplates(it->value, "fields", ctx, &a.fields)) ok = false;
    }
    if (const Item* it = Find(items, "flow")) {
      std::string s;
      if (Scalar(it->value, "flow", &s) && (s == "current" || s == "first")) {
        a.flow_from_first = s == "first";
        if (a.flow_from_first && source != Source::kLiveAndFirst) {
          Error(it->value, "flow: first is only available in actions2 of Pair rules");
          ok = false;
        }
      } else {
        Error(it->value, "flow is current or first");
        ok = false;
      }
    }
  } else if (kind == "create_context" || kind == "set_context") {
    a.kind = kind == "create_context" ? ActionKind::kCreateContext : ActionKind::kSetContext;
    CheckKeys(items, {"name", "lifetime", "on_expiry"}, kind);
    tmpl(need("name"), &a.ctx_name);
    const Item* lt = kind == "set_context" ? need("lifetime") : Find(items, "lifetime");
    if (lt && !Duration(lt->value, "lifetime", true, &a.lifetime_ns)) ok = false;
    if (const Item* it = Find(items, "on_expiry")) {
      a.on_expiry = CompileList(it->value, Source::kSnapshot, rule);
      if (a.lifetime_ns == 0) {
        Error(it->key_node, "on_expiry needs a lifetime (a context without one never expires)");
        ok = false;
      }
    }
  } else if (kind == "compare_profiles") {
    a.kind = ActionKind::kCompareProfiles;
    CheckKeys(items, {"account"}, kind);
    tmpl(Find(items, "account"), &a.account);
  } else if (kind == "delete_context") {
    a.kind = ActionKind::kDeleteContext;
    CheckKeys(items, {"name"}, kind);
    tmpl(need("name"), &a.ctx_name);
  } else {  // script
    a.kind = ActionKind::kScript;
    CheckKeys(items, {"command", "timeout"}, "script");
    if (const Item* cmd = need("command"); cmd && !CompileCommand(cmd->value, ctx, &a.command)) {
      ok = false;
    }
    a.timeout_ns = 10 * kSecond;
    if (const Item* it = Find(items, "timeout")) {
      if (!Duration(it->value, "timeout", false, &a.timeout_ns)) ok = false;
    }
  }
  return ok;
}

// ---- rules ----

// A node's content independent of layout, comments, flow or block style and
// key order.
std::string Canonical(const YAML::Node& n) {
  if (n.IsScalar()) return absl::StrCat("s", n.Scalar().size(), ":", n.Scalar());
  if (n.IsSequence()) {
    std::string out = "[";
    for (const auto& e : n) absl::StrAppend(&out, Canonical(e), ",");
    return out + "]";
  }
  if (n.IsMap()) {
    std::vector<std::string> items;
    for (auto it = n.begin(); it != n.end(); ++it) {
      items.push_back(absl::StrCat(Canonical(it->first), "=", Canonical(it->second)));
    }
    std::sort(items.begin(), items.end());
    return absl::StrCat("{", absl::StrJoin(items, ","), "}");
  }
  return "~";
}

RuleType TypeFromName(std::string_view s, bool* ok) {
  std::string norm;
  for (char c : s) {
    if (c != '_' && c != '-') norm.push_back(static_cast<char>(std::tolower(c)));
  }
  for (RuleType t : kAllTypes) {
    if (absl::AsciiStrToLower(AV(RuleTypeName(t))) == norm) {
      *ok = true;
      return t;
    }
  }
  *ok = false;
  return RuleType::kSingle;
}

std::unique_ptr<CompiledRule> Loader::LoadRule(const YAML::Node& n) {
  std::vector<Item> items;
  if (!Items(n, "a rule", &items)) return nullptr;
  const size_t errors_before = errors_->size();
  auto rule = std::make_unique<CompiledRule>();
  rule->line = n.Mark().line + 1;
  if (const Item* it = Find(items, "name")) {
    if (Scalar(it->value, "name", &rule->name)) {
      const bool good =
          !rule->name.empty() && std::all_of(rule->name.begin(), rule->name.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
          });
      if (!good) Error(it->value, "a rule name uses letters, digits, _ - and .");
    }
  } else {
    Error(n, "a rule needs a 'name'");
  }
  const std::string label = rule->name.empty() ? std::string("rule") : "rule '" + rule->name + "'";
  const Item* type_item = Find(items, "type");
  if (type_item == nullptr) {
    Error(n, absl::StrCat(label,
                          " needs a 'type' (Single, SingleWithSuppress, "
                          "SingleWithThreshold, SingleWith2Thresholds, Pair, "
                          "PairWithWindow, Calendar, SingleWithScript)"));
    return nullptr;
  }
  std::string type_name;
  if (!Scalar(type_item->value, "type", &type_name)) return nullptr;
  bool type_ok;
  rule->type = TypeFromName(type_name, &type_ok);
  if (!type_ok) {
    std::vector<std::string_view> names;
    for (RuleType t : kAllTypes) names.push_back(RuleTypeName(t));
    Error(type_item->value,
          absl::StrCat("unknown rule type '", type_name, "'", Hint(type_name, names),
                       " (Single, SingleWithSuppress, SingleWithThreshold, "
                       "SingleWith2Thresholds, Pair, PairWithWindow, Calendar, "
                       "SingleWithScript)"));
    return nullptr;
  }
  const RuleType t = rule->type;
  const bool pair = t == RuleType::kPair || t == RuleType::kPairWithWindow;
  const bool threshold =
      t == RuleType::kSingleWithThreshold || t == RuleType::kSingleWith2Thresholds;
  std::vector<std::string_view> allowed = {"name",    "type",    "description",
                                           "enabled", "context", "actions"};
  if (t != RuleType::kCalendar) {
    allowed.insert(allowed.end(), {"match", "key", "continue", "max_keys"});
  }
  if (t == RuleType::kSingleWithSuppress || threshold || pair) allowed.push_back("window");
  if (threshold)
    allowed.insert(allowed.end(), {"threshold", "window_type", "distinct", "actions2"});
  if (t == RuleType::kSingleWith2Thresholds)
    allowed.insert(allowed.end(), {"window2", "threshold2"});
  if (pair) allowed.insert(allowed.end(), {"match2", "key2", "context2", "continue2", "actions2"});
  if (t == RuleType::kCalendar) allowed.insert(allowed.end(), {"time", "every", "timezone"});
  if (t == RuleType::kSingleWithScript) allowed.insert(allowed.end(), {"script", "actions2"});
  CheckKeys(items, allowed, absl::StrCat(label, " (", AV(RuleTypeName(t)), ")"));

  if (const Item* it = Find(items, "description"))
    Scalar(it->value, "description", &rule->description);
  bool enabled = true;
  if (const Item* it = Find(items, "enabled")) Bool(it->value, "enabled", &enabled);
  if (const Item* it = Find(items, "continue")) Bool(it->value, "continue", &rule->cont);
  if (const Item* it = Find(items, "continue2")) Bool(it->value, "continue2", &rule->cont2);
  rule->max_keys = defaults_.max_keys;
  if (const Item* it = Find(items, "max_keys")) {
    uint64_t u;
    if (Uint(it->value, "max_keys", 1, 1u << 30, &u)) rule->max_keys = u;
  }
  auto require = [&](std::string_view key) -> const Item* {
    const Item* it = Find(items, key);
    if (it == nullptr) {
      Error(n, absl::StrCat(label, " (", AV(RuleTypeName(t)), ") needs '", AV(key), "'"));
    }
    return it;
  };

  // Patterns, keys and contexts.
  if (t != RuleType::kCalendar) {
    if (const Item* it = require("match")) {
      Pattern& p = rule->match;
      if (CompileMatch(it->value, *rule, false, &p, &p.root)) Dispatch(&p, p.root);
    }
    if (const Item* it = Find(items, "key")) ParseFieldList(it->value, "key", &rule->key);
  }
  if (pair) {
    if (const Item* it = require("match2")) {
      Pattern& p = rule->match2;
      if (CompileMatch(it->value, *rule, true, &p, &p.root)) Dispatch(&p, p.root);
    }
    if (const Item* it = Find(items, "key2")) {
      ParseFieldList(it->value, "key2", &rule->key2);
      if (rule->key2.size() != rule->key.size()) {
        Error(it->value,
              absl::StrCat("key2 must list as many fields as key (", rule->key.size(), ")"));
      }
    } else {
      rule->key2 = rule->key;
    }
  }
  if (const Item* it = Find(items, "context")) {
    rule->has_context = true;
    CompileContext(
        it->value,
        TemplateCtx{t == RuleType::kCalendar ? Source::kNone : Source::kLive, rule.get()},
        &rule->context);
  }
  if (const Item* it = Find(items, "context2")) {
    rule->has_context2 = true;
    CompileContext(it->value, TemplateCtx{Source::kLiveAndFirst, rule.get()}, &rule->context2);
  }

  // Windows and thresholds.
  if (t == RuleType::kSingleWithSuppress || threshold || t == RuleType::kPairWithWindow) {
    if (const Item* it = require("window")) Duration(it->value, "window", false, &rule->window_ns);
  } else if (t == RuleType::kPair) {
    if (const Item* it = Find(items, "window"))
      Duration(it->value, "window", true, &rule->window_ns);
  }
  if (threshold) {
    if (const Item* it = require("threshold")) {
      Uint(it->value, "threshold", 1, 1u << 24, &rule->threshold);
    }
    rule->sliding = defaults_.sliding;
    if (const Item* it = Find(items, "window_type")) {
      std::string s;
      if (Scalar(it->value, "window_type", &s)) {
        if (s == "sliding" || s == "fixed") {
          rule->sliding = s == "sliding";
        } else {
          Error(it->value, absl::StrCat("bad window_type '", s, "' (sliding or fixed)"));
        }
      }
    }
    if (const Item* it = Find(items, "distinct")) {
      ParseFieldList(it->value, "distinct", &rule->distinct);
    }
  }
  if (t == RuleType::kSingleWith2Thresholds) {
    if (const Item* it = require("window2")) {
      Duration(it->value, "window2", false, &rule->window2_ns);
    }
    if (const Item* it = require("threshold2")) {
      Uint(it->value, "threshold2", 0, 1u << 24, &rule->threshold2);
    }
  }
  if (t == RuleType::kCalendar) {
    const Item* time = Find(items, "time");
    const Item* every = Find(items, "every");
    if ((time == nullptr) == (every == nullptr)) {
      Error(n, absl::StrCat(label,
                            " (Calendar) needs either 'time' (cron: minute hour "
                            "day-of-month month day-of-week) or 'every' (a duration)"));
    } else if (time) {
      std::string s;
      if (Scalar(time->value, "time", &s)) {
        if (absl::Status st = ParseCron(s, &rule->calendar); !st.ok()) {
          Error(time->value, std::string(st.message()));
        }
      }
    } else {
      rule->calendar.is_every = true;
      Duration(every->value, "every", false, &rule->calendar.every_ns);
    }
    if (const Item* it = Find(items, "timezone")) {
      std::string s;
      if (Scalar(it->value, "timezone", &s)) {
        absl::TimeZone tz;
        if (s == "UTC") {
          rule->calendar.tz = absl::UTCTimeZone();
        } else if (!absl::LoadTimeZone(s, &tz)) {
          Error(it->value, absl::StrCat("unknown time zone '", s, "'"));
        } else {
          rule->calendar.tz = tz;
        }
        if (every) Error(it->key_node, "timezone applies to 'time', not to 'every'");
      }
    }
  }
  if (t == RuleType::kSingleWithScript) {
    if (const Item* it = require("script")) {
      TemplateCtx live{Source::kLive, rule.get()};
      rule->script_timeout_ns = 10 * kSecond;
      if (it->value.IsScalar() || it->value.IsSequence()) {
        CompileCommand(it->value, live, &rule->script);
      } else {
        std::vector<Item> s;
        if (Items(it->value, "script", &s)) {
          CheckKeys(s, {"command", "timeout"}, "script");
          const Item* cmd = Find(s, "command");
          if (cmd == nullptr) {
            Error(it->value, "script needs a 'command'");
          } else {
            CompileCommand(cmd->value, live, &rule->script);
          }
          if (const Item* to = Find(s, "timeout")) {
            Duration(to->value, "timeout", false, &rule->script_timeout_ns);
          }
        }
      }
    }
  }

  // Action lists: where their field values come from.
  Source s0 = Source::kLive, s1 = Source::kLive;
  switch (t) {
    case RuleType::kSingleWithThreshold:
    case RuleType::kSingleWith2Thresholds:
      s1 = Source::kSnapshot;
      break;
    case RuleType::kPair:
      s1 = Source::kLiveAndFirst;
      break;
    case RuleType::kPairWithWindow:
      s0 = Source::kSnapshot;
      s1 = Source::kLiveAndFirst;
      break;
    case RuleType::kCalendar:
      s0 = Source::kNone;
      break;
    case RuleType::kSingleWithScript:
      s0 = s1 = Source::kSnapshot;
      break;
    default:
      break;
  }
  const Item* a0 = Find(items, "actions");
  const Item* a1 = Find(items, "actions2");
  if (a0 == nullptr && (a1 == nullptr || !(pair || t == RuleType::kSingleWithScript))) {
    require("actions");
  }
  // Lists 0 and 1 first, so that nested on_expiry lists come after them.
  rule->lists.resize(2);
  rule->lists[0].source = s0;
  rule->lists[1].source = s1;
  auto fill = [&](const Item* it, int index, Source src) {
    if (it == nullptr) return;
    const int at = CompileList(it->value, src, *rule);
    rule->lists[index] = std::move(rule->lists[at]);
    // Keep the slot (nested lists refer to indices past it); leave it empty.
    rule->lists[at] = ActionList{};
    rule->lists[at].source = src;
  };
  fill(a0, 0, s0);
  fill(a1, 1, s1);

  rule->needs_snapshot = t == RuleType::kPairWithWindow || t == RuleType::kSingleWithScript ||
                         (t == RuleType::kPair && !rule->capture.empty()) ||
                         (threshold && !rule->lists[1].actions.empty());

  // The fingerprint: the rule's content (not its layout) and the defaults it inherits.
  rule->fingerprint =
      absl::StrCat(Canonical(n), "|", rule->max_keys, "|", defaults_.alarm_suppress_ns, "|",
                   defaults_.alarm_update_every_ns, "|", defaults_.sliding);
  if (errors_->size() != errors_before || !enabled) return nullptr;
  return rule;
}

// What a condition tests, as text: equal texts are the same test.
std::string ConditionKey(const Condition& c) {
  auto field = [](const FieldRef& f) {
    return absl::StrCat(static_cast<int>(f.id), ":", f.custom, f.first ? ":first" : "");
  };
  std::string k = absl::StrCat(field(c.field), "|", static_cast<int>(c.op), "|", c.negate, c.nocase,
                               "|", field(c.other), "|");
  for (const auto& x : c.strs) absl::StrAppend(&k, x.size(), ":", x, ",");
  std::vector<std::string> set(c.str_set.begin(), c.str_set.end());
  std::sort(set.begin(), set.end());
  absl::StrAppend(&k, "|");
  for (const auto& x : set) absl::StrAppend(&k, x.size(), ":", x, ",");
  absl::StrAppend(&k, "|");
  for (const auto& p : c.prefixes) absl::StrAppend(&k, p.ToString(), ",");
  absl::StrAppend(&k, "|");
  for (const auto& r : c.ranges) {
    absl::StrAppend(&k, absl::StrFormat("%a,%a,%d%d;", r.lo, r.hi, r.lo_open, r.hi_open));
  }
  if (c.re) absl::StrAppend(&k, "|", c.re->options().case_sensitive(), c.re->pattern());
  return k;
}

std::unique_ptr<RuleSetData> Loader::Load(std::string_view text) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::ParserException& e) {
    Error(e.mark, absl::StrCat("YAML syntax: ", e.msg));
    return nullptr;
  }
  auto data = std::make_unique<RuleSetData>();
  data->file = file_;
  if (!root.IsMap()) {
    Error(root, "a rule file is a mapping with 'rules:' (and optionally 'defaults:', 'limits:')");
    return nullptr;
  }
  std::vector<Item> top;
  Items(root, "the rule file", &top);
  CheckKeys(top, {"version", "defaults", "limits", "rules"}, "the rule file");
  if (const Item* it = Find(top, "version")) {
    uint64_t v;
    Uint(it->value, "version", 1, 1, &v);
  }
  if (const Item* it = Find(top, "defaults")) LoadDefaults(it->value);
  if (const Item* it = Find(top, "limits")) LoadLimits(it->value, &data->limits);
  const Item* rules = Find(top, "rules");
  if (rules == nullptr) {
    Error(root, "the rule file has no 'rules:' list");
    return nullptr;
  }
  if (!rules->value.IsSequence() && !rules->value.IsNull()) {
    Error(rules->value, "'rules' must be a list (- name: ...)");
    return nullptr;
  }
  std::map<std::string, int> lines;
  for (const auto& n : rules->value) {
    auto rule = LoadRule(n);
    if (rule == nullptr) continue;
    if (auto [it, fresh] = lines.emplace(rule->name, rule->line); !fresh) {
      Error(n, absl::StrCat("rule '", rule->name, "' is defined twice (first at line ", it->second,
                            ")"));
      continue;
    }
    data->rules.push_back(std::move(rule));
  }
  // Names rules match on but no rule emits are fine (events may be injected).
  int id = 0;
  std::set<std::string> all = emitted_names_;
  all.insert(matched_names_.begin(), matched_names_.end());
  for (const auto& name : all) data->synthetic_names.emplace(name, id++);
  data->class_count = kClassSynBase + id;
  auto spec = [&](const std::vector<FieldRef>& fields) {
    for (size_t i = 0; i < data->key_specs.size(); ++i) {
      const auto& k = data->key_specs[i];
      if (k.size() == fields.size() &&
          std::equal(k.begin(), k.end(), fields.begin(),
                     [](const FieldRef& a, const FieldRef& b) { return a.SameField(b); })) {
        return static_cast<int>(i);
      }
    }
    data->key_specs.push_back(fields);
    return static_cast<int>(data->key_specs.size() - 1);
  };
  for (auto& r : data->rules) {
    r->key_spec = spec(r->key);
    r->key2_spec = spec(r->key2);
  }
  // Conditions several patterns test (request: true, has_auth: true, a
  // status class on an "outcome"): one evaluation per event serves them all.
  std::map<std::string, std::vector<Condition*>> same;
  for (auto& r : data->rules) {
    for (Pattern* p : {&r->match, &r->match2}) {
      for (Condition& c : p->conds) {
        if (c.implied || c.op == Op::kEqFirst) continue;
        same[ConditionKey(c)].push_back(&c);
      }
    }
  }
  for (auto& [key, conds] : same) {
    if (conds.size() < 2) continue;
    for (Condition* c : conds) c->memo_id = data->shared_conditions;
    ++data->shared_conditions;
  }
  // The same expression in several rules (the scanner User-Agent in two)
  // shares one memo of results in the engine.
  std::map<std::pair<std::string, bool>, int> regexes;
  for (auto& r : data->rules) {
    for (Pattern* p : {&r->match, &r->match2}) {
      for (Condition& c : p->conds) {
        if (c.re == nullptr) continue;
        const auto [it, fresh] = regexes.emplace(
            std::make_pair(c.re->pattern(), c.re->options().case_sensitive()), data->regex_count);
        if (fresh) ++data->regex_count;
        c.re_id = it->second;
      }
    }
  }
  data->dispatch.assign(data->class_count, {});
  for (size_t r = 0; r < data->rules.size(); ++r) {
    CompiledRule& rule = *data->rules[r];
    for (auto& list : rule.lists) {
      for (auto& a : list.actions) {
        if (a.kind == ActionKind::kEmit) a.name_id = data->synthetic_names.at(a.name);
      }
    }
    if (rule.type == RuleType::kCalendar) continue;
    auto add = [&](const Pattern& p, uint8_t bit) {
      std::vector<int> resolved = p.classes;
      if (p.syn_all) {
        for (int k = 0; k < id; ++k) resolved.push_back(kClassSynBase + k);
      }
      for (const auto& name : p.syn_names) {
        resolved.push_back(kClassSynBase + data->synthetic_names.at(name));
      }
      for (int k : resolved) {
        auto& v = data->dispatch[k];
        if (!v.empty() && v.back().first == r) {
          v.back().second |= bit;
        } else {
          v.emplace_back(static_cast<uint32_t>(r), bit);
        }
      }
    };
    add(rule.match, 1);
    if (rule.type == RuleType::kPair || rule.type == RuleType::kPairWithWindow) {
      add(rule.match2, 2);
    }
  }
  // Synthetic names whose rules ask for a method or a status get lists per
  // method and status slot.
  data->syn_split.assign(id, 0);
  data->syn_dispatch.clear();
  auto takes = [](const Pattern& p, int m, int s) {
    return ((p.syn_methods >> m) & 1) && ((p.syn_statuses >> s) & 1);
  };
  for (int k = 0; k < id; ++k) {
    const auto& all = data->dispatch[kClassSynBase + k];
    bool narrows = false;
    for (const auto& [ri, bits] : all) {
      const CompiledRule& rule = *data->rules[ri];
      for (const Pattern* p : {&rule.match, &rule.match2}) {
        narrows |= p->syn_methods != ~0u || p->syn_statuses != ~0u;
      }
    }
    if (all.size() < 2 || !narrows) continue;
    data->syn_split[k] = 1;
    data->syn_dispatch.resize(static_cast<size_t>(id) * kSynMethodSlots * kSynStatusSlots);
    for (int m = 0; m < kSynMethodSlots; ++m) {
      for (int s = 0; s < kSynStatusSlots; ++s) {
        auto& v = data->syn_dispatch[(static_cast<size_t>(k) * kSynMethodSlots + m) *
                                         kSynStatusSlots +
                                     s];
        for (const auto& [ri, bits] : all) {
          const CompiledRule& rule = *data->rules[ri];
          uint8_t b = 0;
          if ((bits & 1) && takes(rule.match, m, s)) b |= 1;
          if ((bits & 2) && takes(rule.match2, m, s)) b |= 2;
          if (b) v.emplace_back(ri, b);
        }
      }
    }
  }
  if (!errors_->empty()) return nullptr;
  return data;
}

}  // namespace
}  // namespace internal

RuleSet::RuleSet(std::unique_ptr<internal::RuleSetData> data) : data_(std::move(data)) {}
RuleSet::~RuleSet() = default;

size_t RuleSet::size() const { return data_->rules.size(); }

std::vector<std::string> RuleSet::names() const {
  std::vector<std::string> v;
  for (const auto& r : data_->rules) v.push_back(r->name);
  return v;
}

std::map<std::string, int> RuleSet::CountByType() const {
  std::map<std::string, int> m;
  for (const auto& r : data_->rules) ++m[std::string(internal::RuleTypeName(r->type))];
  return m;
}

std::vector<std::string> RuleSet::SyntheticNamesMatched(bool* all) const {
  std::set<std::string> names;
  bool any = false;
  for (const auto& r : data_->rules) {
    for (const internal::Pattern* p : {&r->match, &r->match2}) {
      any = any || p->syn_all;
      names.insert(p->syn_names.begin(), p->syn_names.end());
    }
  }
  if (all) *all = any;
  return {names.begin(), names.end()};
}

std::string RuleSet::Summary() const {
  std::string parts;
  for (const auto& [type, n] : CountByType()) {
    absl::StrAppend(&parts, parts.empty() ? "" : ", ", n, " ", type);
  }
  return absl::StrCat(size(), size() == 1 ? " rule" : " rules",
                      parts.empty() ? "" : absl::StrCat(" (", parts, ")"));
}

absl::StatusOr<std::shared_ptr<const RuleSet>> LoadRuleText(std::string_view yaml,
                                                            std::string_view file_name,
                                                            std::vector<ConfigError>* errors,
                                                            const LoadOptions& options) {
  std::vector<ConfigError> local;
  std::vector<ConfigError>* errs = errors ? errors : &local;
  const size_t before = errs->size();
  std::unique_ptr<internal::RuleSetData> data;
  try {
    std::vector<ConfigError> mine;
    internal::Loader loader{std::string(file_name), &mine, options.allow_scripts};
    data = loader.Load(yaml);
    errs->insert(errs->end(), mine.begin(), mine.end());
  } catch (const YAML::Exception& e) {
    errs->push_back({std::string(file_name), e.mark.line + 1, e.mark.column + 1,
                     absl::StrCat("YAML: ", e.msg)});
    data.reset();
  } catch (const std::exception& e) {
    errs->push_back({std::string(file_name), 0, 0, absl::StrCat("cannot load: ", e.what())});
    data.reset();
  }
  const size_t n = errs->size() - before;
  if (n > 0 || data == nullptr) {
    if (n == 0) errs->push_back({std::string(file_name), 0, 0, "cannot load"});
    const ConfigError& first = (*errs)[before];
    return absl::InvalidArgumentError(absl::StrCat(
        first.ToString(), n > 1 ? absl::StrCat(" (and ", n - 1, " more errors)") : std::string()));
  }
  return std::shared_ptr<const RuleSet>(std::make_shared<RuleSet>(std::move(data)));
}

absl::StatusOr<std::shared_ptr<const RuleSet>> LoadRuleFile(std::string_view path,
                                                            std::vector<ConfigError>* errors,
                                                            const LoadOptions& options) {
  std::ifstream in{std::string(path)};
  if (!in) {
    std::string msg = absl::StrCat("cannot read rule file ", AV(path));
    if (errors) errors->push_back({std::string(path), 0, 0, msg});
    return absl::NotFoundError(msg);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return LoadRuleText(ss.str(), path, errors, options);
}

}  // namespace sw::rules
