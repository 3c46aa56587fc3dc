// SPDX-License-Identifier: BSD-2-Clause
#include "series.h"

#include <algorithm>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "sipwarden/absl_compat.h"

namespace sw::controller {

namespace {

// Kernel verdict counters (bpf/sipwarden.h SW_STATS_FIELDS) shown as
// "packets" by verdict.
bool IsVerdict(std::string_view k) {
  return k == "pass_non_ip" || k == "pass_other" || k == "pass_sip" || k == "pass_allowed" ||
         k.starts_with("drop_");
}

constexpr std::string_view kMethodPrefix = "sip_method_";

// Series names and their labels; a fixed set, so that queries are checked.
const std::map<std::string, std::string, std::less<>>& Labels() {
  static const auto* m = new std::map<std::string, std::string, std::less<>>{
      {"packets", "verdict"}, {"drops", "kind"},  {"sip_messages", "method"},
      {"alarms", "category"}, {"hits", "kind"}};
  return *m;
}

// Names, agents and labels in a dump are single tokens.
bool Token(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c > ' ' && c < 0x7f; });
}

}  // namespace

void SeriesStore::AddTo(Ring& r, const Archive& a, int64_t ts_s, double n) {
  if (r.v.empty()) r.v.assign(static_cast<size_t>(a.slots), 0.0);
  const int64_t slot = ts_s / a.step_s;
  if (r.last_slot >= 0 && slot <= r.last_slot - a.slots) return;  // older than the archive
  if (slot > r.last_slot) {
    // Slots skipped since the last write hold nothing.
    const int64_t from = r.last_slot < 0 ? slot : std::max(r.last_slot + 1, slot - a.slots + 1);
    for (int64_t s = from; s <= slot; ++s) r.v[static_cast<size_t>(s % a.slots)] = 0;
    r.last_slot = slot;
  }
  r.v[static_cast<size_t>(slot % a.slots)] += n;
}

double SeriesStore::At(const Ring& r, const Archive& a, int64_t slot) {
  if (r.last_slot < 0 || slot > r.last_slot || slot <= r.last_slot - a.slots || slot < 0) return 0;
  return r.v[static_cast<size_t>(slot % a.slots)];
}

void SeriesStore::CountLocked(const Key& key, int64_t ts_s, double n) {
  auto it = series_.find(key);
  if (it == series_.end()) {
    if (series_.size() >= max_series_) {
      ++dropped_;
      return;
    }
    it = series_.emplace(key, Series{}).first;
  }
  for (size_t i = 0; i < kArchives.size(); ++i) AddTo(it->second.rings[i], kArchives[i], ts_s, n);
}

void SeriesStore::Count(const std::string& name, const std::string& agent,
                        const std::string& label, int64_t ts_s, double n) {
  std::lock_guard<std::mutex> lock(mu_);
  CountLocked({name, agent, label.empty() ? "-" : Token(label) ? label : "invalid"}, ts_s, n);
}

void SeriesStore::Counters(const std::string& agent, const std::map<std::string, double>& values,
                           int64_t ts_s) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [prev_it, first] = last_counters_.try_emplace(agent);
  auto& prev = prev_it->second;
  if (!first) {
    double drops = 0;
    for (const auto& [k, v] : values) {
      const bool verdict = IsVerdict(k);
      const bool method =
          k.starts_with(kMethodPrefix) && k.size() > kMethodPrefix.size() && Token(k);
      if (!verdict && !method) continue;
      auto p = prev.find(k);
      const double before = p == prev.end() ? 0 : p->second;
      const double delta = v >= before ? v - before : v;  // went down: restarted
      if (delta <= 0) continue;
      if (verdict) {
        CountLocked({"packets", agent, k}, ts_s, delta);
        if (k.starts_with("drop_")) drops += delta;
      } else {
        CountLocked({"sip_messages", agent, k.substr(kMethodPrefix.size())}, ts_s, delta);
      }
    }
    if (drops > 0) CountLocked({"drops", agent, "-"}, ts_s, drops);
  }
  prev = values;
}

absl::StatusOr<std::string> SeriesStore::LabelOf(std::string_view name) {
  auto it = Labels().find(name);
  if (it == Labels().end()) {
    std::string known;
    for (const auto& [n, l] : Labels()) absl::StrAppend(&known, known.empty() ? "" : ", ", n);
    return absl::NotFoundError(absl::StrCat("no series '", AV(name), "' (there are: ", known, ")"));
  }
  return it->second;
}

absl::StatusOr<SeriesResult> SeriesStore::Query(const SeriesQuery& q) const {
  auto own = LabelOf(q.name);
  if (!own.ok()) return own.status();
  if (q.since_s <= 0) return absl::InvalidArgumentError("since must be in the past");
  const Archive* arch = nullptr;
  size_t ai = 0;
  for (size_t i = 0; i < kArchives.size(); ++i) {
    const auto& a = kArchives[i];
    if (q.step_s != 0 && a.step_s != q.step_s) continue;
    if (q.step_s == 0 && q.since_s > a.step_s * a.slots) continue;
    arch = &a;
    ai = i;
    break;
  }
  if (q.step_s != 0 && arch == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("step ", q.step_s, " s: the steps kept are 10s, 5m and 1h"));
  }
  if (arch == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("since ", q.since_s, " s: the series go back one week at most"));
  }
  if (q.since_s > arch->step_s * arch->slots) {
    return absl::InvalidArgumentError(
        absl::StrCat("since ", q.since_s, " s with step ", arch->step_s,
                     " s: that step is kept for ", arch->step_s * arch->slots, " s"));
  }
  const std::string by = q.by.empty() ? *own : q.by;
  if (by != *own && by != "agent" && by != "none") {
    return absl::InvalidArgumentError(absl::StrCat("by '", by, "': series ", q.name,
                                                   " can be split by ", *own,
                                                   ", agent or none"));
  }
  SeriesResult res;
  res.name = q.name;
  res.by = by;
  res.step_s = arch->step_s;
  const int64_t last = q.now_s / arch->step_s;
  const int64_t first = std::max<int64_t>(0, (q.now_s - q.since_s) / arch->step_s + 1);
  std::map<std::string, std::vector<double>> sums;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [key, s] : series_) {
    const auto& [name, agent, label] = key;
    if (name != q.name || (!q.agent.empty() && agent != q.agent)) continue;
    const std::string& group = by == "agent" ? agent : by == "none" ? q.name : label;
    auto& v = sums[group];
    if (v.empty()) v.assign(static_cast<size_t>(last - first + 1), 0.0);
    for (int64_t slot = first; slot <= last; ++slot) {
      v[static_cast<size_t>(slot - first)] += At(s.rings[ai], *arch, slot);
    }
  }
  for (auto& [label, v] : sums) {
    SeriesResult::Line line;
    line.label = label;
    line.points.reserve(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
      line.points.emplace_back((first + static_cast<int64_t>(i)) * arch->step_s,
                               v[i] / static_cast<double>(arch->step_s));
    }
    res.series.push_back(std::move(line));
  }
  return res;
}

std::map<std::string, std::pair<std::vector<std::string>, std::vector<std::string>>>
SeriesStore::Names() const {
  std::map<std::string, std::pair<std::set<std::string>, std::set<std::string>>> seen;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [key, s] : series_) {
      auto& e = seen[std::get<0>(key)];
      e.first.insert(std::get<2>(key));
      e.second.insert(std::get<1>(key));
    }
  }
  std::map<std::string, std::pair<std::vector<std::string>, std::vector<std::string>>> out;
  for (const auto& [name, _] : Labels()) out[name];
  for (auto& [name, e] : seen) {
    out[name] = {{e.first.begin(), e.first.end()}, {e.second.begin(), e.second.end()}};
  }
  return out;
}

double SeriesStore::RecentRate(const std::string& name, const std::string& agent, int64_t now_s,
                               int64_t window_s) const {
  const Archive& a = kArchives[0];
  // The slot now is still filling: the window is the completed slots before it.
  const int64_t last = now_s / a.step_s - 1;
  const int64_t n = std::max<int64_t>(1, window_s / a.step_s);
  double sum = 0;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = series_.lower_bound({name, agent, ""});
       it != series_.end() && std::get<0>(it->first) == name && std::get<1>(it->first) == agent;
       ++it) {
    for (int64_t slot = last - n + 1; slot <= last; ++slot) sum += At(it->second.rings[0], a, slot);
  }
  return sum / static_cast<double>(n * a.step_s);
}

// The dump: one line per series and archive,
//   NAME AGENT LABEL ARCHIVE LAST_SLOT [INDEX=VALUE ...]
// with only the non-zero slots; a first line "sipwarden-series 1".
std::string SeriesStore::Serialize() const {
  std::string out = "sipwarden-series 1\n";
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [key, s] : series_) {
    for (size_t i = 0; i < kArchives.size(); ++i) {
      const Ring& r = s.rings[i];
      if (r.last_slot < 0) continue;
      absl::StrAppend(&out, std::get<0>(key), " ", std::get<1>(key), " ", std::get<2>(key), " ", i,
                      " ", r.last_slot);
      for (size_t j = 0; j < r.v.size(); ++j) {
        if (r.v[j] != 0) absl::StrAppend(&out, " ", j, "=", r.v[j]);
      }
      out += "\n";
    }
  }
  return out;
}

absl::Status SeriesStore::Load(std::string_view text) {
  std::map<Key, Series> loaded;
  size_t line_no = 0;
  for (absl::string_view line : absl::StrSplit(AV(text), '\n', absl::SkipEmpty())) {
    ++line_no;
    auto bad = [&](std::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat("series dump line ", line_no, ": ", AV(why)));
    };
    if (line_no == 1) {
      if (line != "sipwarden-series 1") return bad("not a series dump of version 1");
      continue;
    }
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ');
    if (f.size() < 5) return bad("too few fields");
    if (!Token(SV(f[0])) || !Token(SV(f[1])) || !Token(SV(f[2]))) return bad("bad name");
    size_t ai = 0;
    int64_t last = 0;
    if (!absl::SimpleAtoi(f[3], &ai) || ai >= kArchives.size()) return bad("bad archive");
    if (!absl::SimpleAtoi(f[4], &last) || last < 0) return bad("bad slot");
    const Archive& a = kArchives[ai];
    Ring& r = loaded[{std::string(f[0]), std::string(f[1]), std::string(f[2])}].rings[ai];
    r.last_slot = last;
    r.v.assign(static_cast<size_t>(a.slots), 0.0);
    for (size_t k = 5; k < f.size(); ++k) {
      const size_t eq = f[k].find('=');
      size_t idx = 0;
      double v = 0;
      if (eq == absl::string_view::npos || !absl::SimpleAtoi(f[k].substr(0, eq), &idx) ||
          idx >= r.v.size() || !absl::SimpleAtod(f[k].substr(eq + 1), &v)) {
        return bad(absl::StrCat("bad value '", f[k], "'"));
      }
      r.v[idx] = v;
    }
  }
  if (line_no == 0) return absl::OkStatus();  // nothing saved yet
  if (loaded.size() > max_series_) {
    return absl::InvalidArgumentError("series dump holds more series than allowed");
  }
  for (auto& [key, s] : loaded) {
    for (size_t i = 0; i < kArchives.size(); ++i) {
      if (s.rings[i].v.empty()) s.rings[i].v.assign(static_cast<size_t>(kArchives[i].slots), 0.0);
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  series_ = std::move(loaded);
  return absl::OkStatus();
}

size_t SeriesStore::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return series_.size();
}

uint64_t SeriesStore::dropped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dropped_;
}

}  // namespace sw::controller
