// SPDX-License-Identifier: BSD-2-Clause
// sw-bench-correlate: events per second of the correlation engine on a
// simulated VoIP event stream, beside SEC (the Simple Event Correlator the
// paper used) running the same rules on the same events, in the same run.
// Prints one JSON line per figure (see "Benchmarks" in docs/formats.md);
// progress and notes go to stderr.
//
// Our engine runs single-threaded over the whole stream (a million events by
// default) with the full default ruleset, with the rules equivalent to SEC's
// (sec_rules.yaml) and with their pair and threshold groups alone; time is
// this thread's CPU time in the engine's calls alone (events are filled in
// batches beforehand, as the agent's parser fills them). SEC reads the
// same events as text lines (stream.h, AppendSecLine) from a file with
// sec.conf (or its pair or threshold group); it is too slow for the whole
// stream, so each SEC run gets the prefix it gets through in its share of
// --sec-seconds, and its rate is that prefix over its CPU time (user + system)
// minus its start-up time (a run on an empty file).
//
// Both sides must detect the attackers they have rules for: the run fails,
// after printing every figure, when either misses one on what it read.
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "sipwarden/cli.h"
#include "sipwarden/absl_compat.h"
#include "sipwarden/json.h"
#include "sipwarden/rules/engine.h"
#include "sipwarden/rules/ruleset.h"
#include "stream.h"
#include "yaml-cpp/yaml.h"

ABSL_FLAG(uint64_t, events, 1000000, "Events in the stream");
ABSL_FLAG(uint64_t, seed, 1, "Seed of the stream (the same seed gives the same stream)");
ABSL_FLAG(std::string, rules, SW_DEFAULT_RULES, "The full ruleset (the source tree's default)");
ABSL_FLAG(std::string, sec_rules, SW_BENCH_DIR "/sec_rules.yaml",
          "The rules of --sec-conf for our engine");
ABSL_FLAG(std::string, sec_conf, SW_BENCH_DIR "/sec.conf", "SEC's rule file");
ABSL_FLAG(std::string, sec, "sec", "The SEC program (Debian package sec); empty: skip SEC");
ABSL_FLAG(double, sec_seconds, 45,
          "Wall-clock budget of the three SEC runs together (pair, threshold, all rules)");
ABSL_FLAG(uint32_t, rounds, 3, "Runs of our engine per ruleset over the stream; median reported");
ABSL_FLAG(uint64_t, dialogs, 50000, "Open dialogs set up for the memory figure");
ABSL_FLAG(std::string, sec_input_out, "",
          "Only write the stream as SEC's input lines to this file and exit (to run SEC on it "
          "by hand: sec --conf=sec.conf --input=FILE --notail)");
ABSL_FLAG(bool, version, false, "Print the version and exit");

namespace {

using sw::bench::Event;
using sw::bench::kCallRecord;
using sw::bench::kS;
using sw::bench::Role;
using sw::bench::Stream;

// The aims, printed beside the figures, never asserted.
constexpr double kAimEventsPerS = 2e6;
constexpr double kAimPairRatio = 1000;
constexpr double kAimThresholdRatio = 10;

// The attackers, in Stream::attackers order, and the alarm categories that
// count as detecting them.
constexpr std::array<Role, 4> kAttackers = {Role::kFlooder, Role::kCracker, Role::kScanner,
                                            Role::kHandshake};

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int64_t ThreadCpuNs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Bytes the allocator handed out and not taken back (heap and mmapped).
size_t HeapInUse() {
  const struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

size_t RssBytes() {
  std::ifstream f("/proc/self/statm");
  size_t pages = 0, rss = 0;
  f >> pages >> rss;
  return rss * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

// ---- figures -----------------------------------------------------------------

struct Line {
  std::string metric;
  double value;
  std::string unit, baseline;
  double baseline_value;
};
std::vector<Line> g_lines;

void AddLine(std::string metric, double value, std::string unit, std::string baseline,
             double baseline_value) {
  g_lines.push_back(
      {std::move(metric), value, std::move(unit), std::move(baseline), baseline_value});
}

void PrintLines() {
  for (const Line& l : g_lines) {
    const double ratio = l.baseline_value != 0 ? l.value / l.baseline_value
                                               : std::numeric_limits<double>::quiet_NaN();
    sw::JsonWriter w;
    w.BeginObject().Field("bench", "correlate").Field("metric", l.metric);
    if (l.value == std::floor(l.value) && std::fabs(l.value) < 9e15) {
      w.Field("value", static_cast<int64_t>(l.value));
    } else {
      w.Field("value", l.value);
    }
    w.Field("unit", l.unit).Field("baseline", l.baseline);
    if (l.baseline_value == std::floor(l.baseline_value) && std::fabs(l.baseline_value) < 9e15) {
      w.Field("baseline_value", static_cast<int64_t>(l.baseline_value));
    } else {
      w.Field("baseline_value", l.baseline_value);
    }
    w.Field("ratio", ratio).EndObject();
    std::cout << w.str() << std::endl;
  }
}

// ---- detection -----------------------------------------------------------------

// Alarms one side raised, by category, and which attackers they named.
struct Tally {
  uint64_t alarms = 0, updates = 0, other = 0;  // other: naming no attacker
  std::map<std::string, uint64_t> by_category, by_rule;
  std::array<std::set<std::string>, kAttackers.size()> attacker_categories;
  std::map<std::string, uint64_t> other_by_rule;

  void Count(std::string_view category, std::string_view rule, int attacker) {
    ++alarms;
    ++by_category[std::string(category)];
    ++by_rule[std::string(rule)];
    if (attacker >= 0) {
      attacker_categories[static_cast<size_t>(attacker)].insert(std::string(category));
    } else {
      ++other;
      ++other_by_rule[std::string(rule)];
    }
  }
  std::string Summary() const {
    std::string s = absl::StrCat(alarms, " alarms");
    for (const auto& [c, n] : by_category) absl::StrAppend(&s, " ", c, "=", n);
    if (other) {
      absl::StrAppend(&s, "; ", other, " naming no attacker:");
      for (const auto& [r, n] : other_by_rule) absl::StrAppend(&s, " ", r, "=", n);
    }
    return s;
  }
};

int AttackerIndex(const Stream& s, const sw::IpAddress& a) {
  for (size_t i = 0; i < s.attackers.size(); ++i) {
    if (s.ips[s.attackers[i]] == a) return static_cast<int>(i);
  }
  return -1;
}

int AttackerIndex(const Stream& s, std::string_view ip) {
  for (size_t i = 0; i < s.attackers.size(); ++i) {
    if (s.ip_texts[s.attackers[i]] == ip) return static_cast<int>(i);
  }
  return -1;
}

// When a prefix of the stream holds enough of each attack for the equivalent
// rules to fire: the event index after which the threshold is reached (the
// 50th flood INVITE, the 10th refusal sent to the cracker, the 5th answered
// INVITE of the broken-handshake source, whose window still has to pass).
struct Evidence {
  size_t flood = SIZE_MAX, crack = SIZE_MAX, handshake = SIZE_MAX;
  int64_t handshake_ts = 0;
};

Evidence FindEvidence(const Stream& s) {
  Evidence ev;
  const uint32_t flooder = s.attackers[0], cracker = s.attackers[1], hs = s.attackers[3];
  size_t invites = 0, refusals = 0, answers = 0;
  std::set<uint32_t> answered;
  for (size_t i = 0; i < s.events.size(); ++i) {
    const Event& e = s.events[i];
    if (e.flags & kCallRecord) continue;
    const sw::bench::Session& ss = s.sessions[e.session];
    if (ss.client == flooder && (e.flags & sw::bench::kRequest) && e.method == sw::bench::kInvite &&
        ++invites == 50) {
      ev.flood = i;
    }
    if (ss.client == cracker && !(e.flags & sw::bench::kRequest) &&
        (e.status == 401 || e.status == 403 || e.status == 407) && ++refusals == 10) {
      ev.crack = i;
    }
    if (ss.client == hs && !(e.flags & sw::bench::kRequest) && e.status == 200 &&
        answered.insert(e.session).second && ++answers == 5) {
      ev.handshake = i;
      ev.handshake_ts = e.ts_ns;
    }
  }
  return ev;
}

struct Expectation {
  Role role;
  std::vector<std::string> categories;  // any of them
  bool checkable;
  std::string why_not;
};

// Checks that every checkable expectation was met; reports on stderr and
// returns false when one was not.
bool CheckDetections(const Stream& s, const Tally& t, std::string_view who,
                     const std::vector<Expectation>& expected) {
  bool ok = true;
  for (const Expectation& x : expected) {
    const size_t idx = static_cast<size_t>(std::find(kAttackers.begin(), kAttackers.end(), x.role) -
                                           kAttackers.begin());
    const auto& got = t.attacker_categories[idx];
    bool hit = false;
    for (const auto& c : x.categories) hit = hit || got.count(c);
    const std::string ip = s.ip_texts[s.attackers[idx]];
    if (hit) {
      std::cerr << "  " << who << ": detected the " << sw::bench::RoleName(x.role) << " (" << ip
                << ")\n";
    } else if (!x.checkable) {
      std::cerr << "  " << who << ": " << sw::bench::RoleName(x.role) << " (" << ip
                << ") not detected and not expected to be: " << x.why_not << "\n";
    } else {
      std::cerr << "  " << who << ": MISSED the " << sw::bench::RoleName(x.role) << " (" << ip
                << ")!\n";
      ok = false;
    }
  }
  return ok;
}

// ---- our engine ------------------------------------------------------------------

struct EngineResult {
  double events_per_s = 0;
  double fill_ns = 0;     // per event
  Tally tally;            // of the last round
  size_t heap_bytes = 0;  // engine heap after the stream (first round)
};

// An alarm sink that tallies (alarms name attackers by source or destination:
// a response's destination is the client it refuses).
sw::rules::EngineSinks TallySinks(const Stream& s, Tally* t) {
  sw::rules::EngineSinks sinks;
  sinks.alarm = [&s, t](const sw::rules::Alarm& a) {
    if (a.update) {
      ++t->updates;
      return;
    }
    int who = AttackerIndex(s, a.src);
    if (who < 0) who = AttackerIndex(s, a.dst);
    t->Count(a.category, a.rule, who);
  };
  return sinks;
}

void Feed(sw::rules::Engine& engine, sw::bench::Filler& filler, const Event& e) {
  if (e.flags & kCallRecord) {
    engine.OnCall(filler.Call(e));
  } else {
    engine.OnSip(filler.Sip(e));
  }
}

// Events are filled kBatch at a time, untimed, into reused objects, and only
// the engine's calls on a batch are timed (two clock reads per batch, counted
// with the engine). The engine sees events hot in the cache, as in the agent,
// where the parser has just written them.
constexpr size_t kBatch = 512;

class Batch {
 public:
  explicit Batch(const Stream& s) : s_(s), filler_(s), sip_(kBatch), call_(kBatch) {}

  // Fills the events from index begin on; returns how many.
  size_t Fill(size_t begin) {
    begin_ = begin;
    n_ = std::min(kBatch, s_.events.size() - begin);
    for (size_t j = 0; j < n_; ++j) {
      const Event& e = s_.events[begin + j];
      if (e.flags & kCallRecord) {
        filler_.FillCall(e, &call_[j]);
      } else {
        filler_.FillSip(e, &sip_[j]);
      }
    }
    return n_;
  }
  void FeedTo(sw::rules::Engine& engine) const {
    for (size_t j = 0; j < n_; ++j) {
      if (s_.events[begin_ + j].flags & kCallRecord) {
        engine.OnCall(call_[j]);
      } else {
        engine.OnSip(sip_[j]);
      }
    }
  }

 private:
  const Stream& s_;
  sw::bench::Filler filler_;
  std::vector<sw::ev::SipEvent> sip_;
  std::vector<sw::ev::CallRecord> call_;
  size_t begin_ = 0, n_ = 0;
};

EngineResult RunEngine(std::string_view label, const std::shared_ptr<const sw::rules::RuleSet>& rs,
                       const Stream& s, uint32_t rounds) {
  EngineResult r;
  std::vector<double> rates, fills;
  Batch batch(s);
  batch.Fill(0);  // the batch's strings get their storage before the heap is measured
  const double n = static_cast<double>(s.events.size());
  for (uint32_t round = 0; round < std::max<uint32_t>(rounds, 1); ++round) {
    r.tally = Tally();
    const size_t heap0 = HeapInUse();
    sw::rules::Engine engine(rs, TallySinks(s, &r.tally));
    int64_t engine_ns = 0, fill_ns = 0;
    for (size_t i = 0; i < s.events.size();) {
      const int64_t t0 = ThreadCpuNs();
      const size_t k = batch.Fill(i);
      const int64_t t1 = ThreadCpuNs();
      batch.FeedTo(engine);
      const int64_t t2 = ThreadCpuNs();
      fill_ns += t1 - t0;
      engine_ns += t2 - t1;
      i += k;
    }
    const double engine_s = std::max(1e-9, static_cast<double>(engine_ns) / 1e9);
    rates.push_back(n / engine_s);
    fills.push_back(static_cast<double>(fill_ns) / n);
    std::cerr << "  [" << label << "] round " << round + 1 << ": "
              << static_cast<uint64_t>(n / engine_s) << " events/s ("
              << static_cast<double>(engine_ns) / n << " ns per event; filling the events, not "
              << "counted: " << static_cast<double>(fill_ns) / n << " ns per event)\n";
    if (round == 0) {
      r.heap_bytes = HeapInUse() - std::min(HeapInUse(), heap0);
      size_t open = 0;
      uint64_t evicted = 0;
      for (const auto& rst : engine.rule_stats()) {
        open += rst.open;
        evicted += rst.evicted;
      }
      const auto& st = engine.stats();
      std::cerr << "  [" << label << "] after the stream: " << open << " operations open, "
                << engine.context_count() << " contexts, engine heap "
                << static_cast<double>(r.heap_bytes) / 1048576.0 << " MiB; " << st.synthetic
                << " synthetic events, " << st.timers << " deadlines, " << evicted
                << " operations evicted, " << st.late_events << " late events\n";
      for (const auto& rst : engine.rule_stats()) {
        if (rst.evicted) {
          std::cerr << "    rule " << rst.name << ": " << rst.evicted
                    << " operations evicted (max_keys reached), " << rst.open << " open\n";
        }
      }
      // Where the engine's time goes, by the engine's own sampled per-rule
      // timings (matching and actions; deadlines and dispatch are not in
      // them), to profile a slow ruleset without a profiler.
      auto by_time = engine.rule_stats();
      std::sort(by_time.begin(), by_time.end(),
                [](const auto& a, const auto& b) { return a.time_ns > b.time_ns; });
      uint64_t timed = 0, visits = 0, matched = 0;
      for (const auto& rst : by_time) {
        timed += rst.time_ns;
        visits += rst.visited;
        matched += rst.matched;
      }
      std::cerr << "  [" << label << "] rule visits: " << static_cast<double>(visits) / n
                << " per event, " << static_cast<double>(matched) / n << " of them matched\n";
      std::cerr << "  [" << label << "] rules' sampled time: " << static_cast<double>(timed) / n
                << " ns per event of " << static_cast<double>(engine_ns) / n
                << "; the most costly:\n";
      for (size_t i = 0; i < by_time.size() && i < 12 && by_time[i].time_ns > 0; ++i) {
        const auto& rst = by_time[i];
        std::cerr << "    " << rst.name << ": " << static_cast<double>(rst.time_ns) / n
                  << " ns per event; " << rst.visited << " visits, " << rst.matched << " matched, "
                  << rst.fired << " fired, " << rst.operations << " operations, " << rst.open
                  << " open\n";
      }
    }
  }
  r.events_per_s = Median(rates);
  r.fill_ns = Median(fills);
  std::cerr << "  [" << label << "] median " << static_cast<uint64_t>(r.events_per_s)
            << " events/s; " << r.tally.Summary() << "\n";
  return r;
}

// The alarms the rules raise on the first n events (untimed).
Tally TallyPrefix(const std::shared_ptr<const sw::rules::RuleSet>& rs, const Stream& s, size_t n) {
  Tally t;
  sw::rules::Engine engine(rs, TallySinks(s, &t));
  sw::bench::Filler filler(s);
  for (size_t i = 0; i < n && i < s.events.size(); ++i) Feed(engine, filler, s.events[i]);
  return t;
}

struct MemoryResult {
  double bytes_per_dialog = 0;
  size_t dialogs = 0;
};

// Engine heap for n dialogs set up and not torn down, with the full ruleset.
MemoryResult MeasureOpenDialogs(const std::shared_ptr<const sw::rules::RuleSet>& rs, size_t n,
                                uint64_t seed) {
  std::cerr << "memory: " << n << " dialogs set up (INVITE, 100, 180, 200, ACK) from " << n
            << " callers at 1000 calls per simulated second, none torn down\n";
  const Stream d = sw::bench::GenerateOpenDialogs(n, seed);
  sw::bench::Filler filler(d);
  uint64_t alarms = 0;
  sw::rules::EngineSinks sinks;
  sinks.alarm = [&alarms](const sw::rules::Alarm&) { ++alarms; };
  sw::rules::Engine engine(rs, sinks);
  const size_t heap0 = HeapInUse(), rss0 = RssBytes();
  for (const Event& e : d.events) engine.OnSip(filler.Sip(e));
  const size_t heap1 = HeapInUse(), rss1 = RssBytes();
  MemoryResult m;
  m.dialogs = n;
  m.bytes_per_dialog = static_cast<double>(heap1 - std::min(heap1, heap0)) /
                       static_cast<double>(std::max<size_t>(n, 1));
  std::cerr << "  engine heap +" << (heap1 - std::min(heap1, heap0)) / 1048576.0 << " MiB (RSS +"
            << (rss1 - std::min(rss1, rss0)) / 1048576.0 << " MiB) = " << m.bytes_per_dialog
            << " bytes per open dialog; " << alarms << " alarms; open operations:";
  for (const auto& r : engine.rule_stats()) {
    if (r.open) std::cerr << " " << r.name << "=" << r.open;
  }
  std::cerr << "; " << engine.context_count() << " contexts\n";
  return m;
}

// ---- rule groups -----------------------------------------------------------------

// The rules of a YAML rule file whose description starts with "GROUP:".
absl::StatusOr<std::shared_ptr<const sw::rules::RuleSet>> LoadGroup(const std::string& path,
                                                                    std::string_view group) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", e.what()));
  }
  YAML::Node kept(YAML::NodeType::Sequence);
  for (const auto& rule : root["rules"]) {
    const std::string desc = rule["description"] ? rule["description"].as<std::string>() : "";
    if (group.empty() || absl::StartsWith(desc, absl::StrCat(sw::AV(group), ":"))) {
      kept.push_back(rule);
    }
  }
  root["rules"] = kept;
  YAML::Emitter out;
  out << root;
  std::vector<sw::rules::ConfigError> errors;
  auto rs =
      sw::rules::LoadRuleText(out.c_str(), absl::StrCat(path, " (", sw::AV(group), ")"), &errors);
  if (!rs.ok()) {
    for (const auto& e : errors) std::cerr << e.ToString() << "\n";
    return rs.status();
  }
  return rs;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream f(path);
  if (!f) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The rules of a SEC configuration that carry "rem=group: GROUP" (all when
// group is empty), with the comments before them.
std::string SecGroup(const std::string& conf, std::string_view group) {
  std::string out;
  for (absl::string_view block : absl::StrSplit(conf, "\n\n")) {
    const bool rule = absl::StrContains(block, "type=");
    if (!rule) continue;
    if (group.empty() || absl::StrContains(block, absl::StrCat("rem=group: ", sw::AV(group)))) {
      absl::StrAppend(&out, block, "\n\n");
    }
  }
  return out;
}

// ---- SEC -----------------------------------------------------------------------

// Whether the program can be run: an executable path, or a name on $PATH.
bool FindProgram(const std::string& name) {
  if (name.find('/') != std::string::npos) return access(name.c_str(), X_OK) == 0;
  const char* path = std::getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(path ? path : "/usr/bin:/bin", ':')) {
    if (dir.empty()) continue;
    if (access(absl::StrCat(dir, "/", name).c_str(), X_OK) == 0) return true;
  }
  return false;
}

struct SecRun {
  size_t lines = 0;
  double wall_s = 0, cpu_s = 0;
  std::vector<std::string> output;  // SEC's standard output, by line
};

// Runs SEC on a file until it exits (it does at the end of the file with
// --notail), killing it after timeout_s.
absl::StatusOr<SecRun> RunSec(const std::string& sec, const std::string& conf,
                              const std::string& input, size_t lines, const std::string& dir,
                              double timeout_s) {
  const std::string out_path = dir + "/sec.out", log_path = dir + "/sec.log";
  const std::vector<std::string> args = {sec,         "--conf=" + conf,   "--input=" + input,
                                         "--notail",  "--nodetach",       "--nointevents",
                                         "--debug=3", "--log=" + log_path};
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  if (pid == 0) {
    const int in = open("/dev/null", O_RDONLY);
    const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in < 0 || out < 0 || err < 0) _exit(126);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  rusage ru{};
  bool killed = false;
  for (;;) {
    const pid_t w = wait4(pid, &status, WNOHANG, &ru);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) return absl::InternalError("wait4 on sec failed");
    const double el =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!killed && el > timeout_s) {
      kill(pid, SIGKILL);
      killed = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  SecRun r;
  r.lines = lines;
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.cpu_s = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
            static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  if (killed) {
    return absl::DeadlineExceededError(
        absl::StrCat("sec did not finish ", lines, " lines within ", timeout_s, " s"));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    auto log = ReadFile(log_path);
    return absl::InternalError(
        absl::StrCat("sec failed (",
                     WIFEXITED(status) ? absl::StrCat("exit ", WEXITSTATUS(status))
                                       : absl::StrCat("signal ", WTERMSIG(status)),
                     WIFEXITED(status) && WEXITSTATUS(status) == 127 ? ", not found" : "",
                     "); log: ", log.ok() ? *log : "none"));
  }
  auto out = ReadFile(out_path);
  if (out.ok()) {
    for (absl::string_view l : absl::StrSplit(*out, '\n', absl::SkipEmpty())) {
      r.output.emplace_back(l);
    }
  }
  return r;
}

// SEC's input: the stream's events as text lines, built as far as needed.
class SecLines {
 public:
  explicit SecLines(const Stream& s) : s_(s), filler_(s) {}
  // Writes the first n lines to path.
  absl::Status Write(size_t n, const std::string& path) {
    while (ends_.size() < n && ends_.size() < s_.events.size()) {
      const Event& e = s_.events[ends_.size()];
      if (e.flags & kCallRecord) {
        sw::bench::AppendSecLine(filler_.Call(e), &text_);
      } else {
        sw::bench::AppendSecLine(filler_.Sip(e), &text_);
      }
      ends_.push_back(text_.size());
    }
    n = std::min(n, ends_.size());
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(text_.data(), static_cast<std::streamsize>(n ? ends_[n - 1] : 0));
    if (!f) return absl::InternalError(absl::StrCat("cannot write ", path));
    return absl::OkStatus();
  }
  double BytesPerLine() const {
    return ends_.empty() ? 0 : static_cast<double>(text_.size()) / ends_.size();
  }

 private:
  const Stream& s_;
  sw::bench::Filler filler_;
  std::string text_;
  std::vector<size_t> ends_;
};

struct SecResult {
  bool ran = false;
  std::string error;
  size_t lines = 0;
  double events_per_s = 0;  // by CPU time, start-up subtracted
  double wall_s = 0, startup_wall_s = 0;
  Tally tally;
};

SecResult MeasureSec(std::string_view label, const std::string& sec, const std::string& conf_text,
                     SecLines& lines, const Stream& s, const std::string& dir, double budget_s) {
  SecResult res;
  const std::string conf = absl::StrCat(dir, "/", sw::AV(label), ".conf");
  const std::string input = absl::StrCat(dir, "/", sw::AV(label), ".events");
  {
    std::ofstream f(conf, std::ios::trunc);
    f << conf_text;
  }
  auto fail = [&](const absl::Status& st) {
    res.error = std::string(st.message());
    std::cerr << "  [sec " << label << "] " << res.error << "\n";
    return res;
  };
  // Start-up alone (an empty file), then runs on growing prefixes: each at
  // most 4 times the last and sized, at the last run's pace, to what is left
  // of the budget. The last run that completes is the measurement. (SEC
  // slows down while its operations pile up, so paces are not extrapolated
  // further than that.)
  if (auto st = lines.Write(0, input); !st.ok()) return fail(st);
  auto startup = RunSec(sec, conf, input, 0, dir, 60);
  if (!startup.ok()) return fail(startup.status());
  const size_t n = s.events.size();
  double used = startup->wall_s;
  size_t k = std::min<size_t>(n, 3000);
  std::optional<SecRun> run;
  for (;;) {
    if (auto st = lines.Write(k, input); !st.ok()) return fail(st);
    auto r = RunSec(sec, conf, input, k, dir, 2 * std::max(1.0, budget_s - used) + 10);
    if (!r.ok()) {
      if (run && absl::IsDeadlineExceeded(r.status())) {
        std::cerr << "  [sec " << label << "] " << r.status().message()
                  << "; keeping the previous run\n";
        break;
      }
      return fail(r.status());
    }
    used += r->wall_s;
    const double pace = static_cast<double>(k) / std::max(0.01, r->wall_s - startup->wall_s);
    std::cerr << "  [sec " << label << "] " << k << " events in " << r->wall_s << " s wall ("
              << static_cast<double>(s.events[k - 1].ts_ns - s.start_ns) / kS << " simulated s)\n";
    run = std::move(*r);
    const size_t next =
        std::min<size_t>({n, 4 * k, static_cast<size_t>(pace * std::max(0.0, budget_s - used))});
    if (k == n || next < k + k / 2) break;
    k = next;
  }
  k = run->lines;
  res.ran = true;
  res.lines = k;
  res.wall_s = run->wall_s;
  res.startup_wall_s = startup->wall_s;
  const double cpu = std::max(1e-6, run->cpu_s - startup->cpu_s);
  res.events_per_s = static_cast<double>(k) / cpu;
  for (const std::string& l : run->output) {
    // "ALARM <category> <address>"
    std::vector<std::string> f = absl::StrSplit(l, ' ', absl::SkipEmpty());
    if (f.size() != 3 || f[0] != "ALARM") {
      std::cerr << "  [sec " << label << "] unexpected output: " << l << "\n";
      continue;
    }
    res.tally.Count(f[1], f[1], AttackerIndex(s, f[2]));
  }
  std::cerr << "  [sec " << label << "] " << k << " events in " << run->wall_s << " s wall, "
            << run->cpu_s << " s CPU (start-up " << startup->cpu_s
            << " s CPU): " << static_cast<uint64_t>(res.events_per_s) << " events/s by CPU time, "
            << static_cast<uint64_t>(static_cast<double>(k) /
                                     std::max(1e-6, run->wall_s - startup->wall_s))
            << " by wall time; " << res.tally.Summary() << "\n";
  return res;
}

// ---- expectations ------------------------------------------------------------------

constexpr double kPairWindowS = 3;  // sec.conf and sec_rules.yaml

// What the SEC-equivalent rules must detect on the first n events (our
// engine: event time; SEC: its own clock, so the broken-handshake windows
// must also have passed while SEC was still reading).
std::vector<Expectation> SecRuleExpectations(const Stream& s, const Evidence& ev, size_t n,
                                             bool pair, bool threshold,
                                             const SecResult* sec = nullptr) {
  std::vector<Expectation> x;
  auto within = [&](size_t idx) { return idx < n; };
  if (threshold) {
    x.push_back({Role::kFlooder,
                 {"flood"},
                 within(ev.flood),
                 "fewer than 50 of its INVITEs in the events read"});
    x.push_back({Role::kCracker,
                 {"bruteforce"},
                 within(ev.crack),
                 "fewer than 10 refusals sent to it in the events read"});
  }
  if (pair) {
    bool ok = within(ev.handshake);
    std::string why = "fewer than 5 of its INVITEs answered in the events read";
    if (ok && !sec) {
      const int64_t last = s.events[std::min(n, s.events.size()) - 1].ts_ns;
      ok = last > ev.handshake_ts + static_cast<int64_t>(kPairWindowS * kS) + kS / 10;
      why = "the events read end before the ACK window of its 5th answered INVITE";
    } else if (ok && sec) {
      // When SEC read that event, by its average pace, plus the window and
      // SEC's one-second timer granularity.
      const double read_at = sec->startup_wall_s + (sec->wall_s - sec->startup_wall_s) *
                                                       static_cast<double>(ev.handshake) /
                                                       static_cast<double>(n);
      ok = sec->wall_s > read_at + kPairWindowS + 2;
      why = "SEC finished reading before the ACK window of its 5th answered INVITE passed";
    }
    x.push_back({Role::kHandshake, {"handshake"}, ok, why});
  }
  return x;
}

std::vector<Expectation> DefaultRuleExpectations() {
  return {
      {Role::kFlooder, {"flood"}, true, ""},
      {Role::kCracker, {"bruteforce"}, true, ""},
      {Role::kScanner, {"scanner-signature", "scan", "enumeration"}, true, ""},
      {Role::kHandshake, {"handshake"}, true, ""},
  };
}

}  // namespace

int main(int argc, char** argv) {
  sw::SetUsage(
      "Correlator benchmark: events per second of sipwarden's correlation engine on a\n"
      "simulated VoIP event stream (calls, registrations, keepalives, call records and four\n"
      "attackers), with the full default ruleset and with the rules of sec.conf, beside SEC\n"
      "running sec.conf on the same events; plus engine bytes per open dialog and the\n"
      "alarms each side raised. One JSON line per figure; progress on stderr.");
  sw::NormalizedArgs normalized(argc, argv);
  absl::ParseCommandLine(normalized.argc(), normalized.argv());
  if (absl::GetFlag(FLAGS_version)) {
    std::cout << "sw-bench-correlate " << SW_VERSION << "\n";
    return 0;
  }
  const size_t n_events = absl::GetFlag(FLAGS_events);
  if (n_events < 5000) {
    std::cerr << "--events must be at least 5000\n";
    return 2;
  }
  const uint32_t rounds = absl::GetFlag(FLAGS_rounds);
  bool ok = true;

  // The rule sets.
  std::vector<sw::rules::ConfigError> errors;
  auto full = sw::rules::LoadRuleFile(absl::GetFlag(FLAGS_rules), &errors);
  if (!full.ok()) {
    for (const auto& e : errors) std::cerr << e.ToString() << "\n";
    std::cerr << "cannot load " << absl::GetFlag(FLAGS_rules) << ": " << full.status() << "\n";
    return 1;
  }
  const std::string sec_rules = absl::GetFlag(FLAGS_sec_rules);
  auto sec_all = LoadGroup(sec_rules, "");
  auto sec_pair = LoadGroup(sec_rules, "pair");
  auto sec_threshold = LoadGroup(sec_rules, "threshold");
  for (const auto* rs : {&sec_all, &sec_pair, &sec_threshold}) {
    if (!rs->ok()) {
      std::cerr << "cannot load " << sec_rules << ": " << rs->status() << "\n";
      return 1;
    }
  }
  std::cerr << "rules: " << absl::GetFlag(FLAGS_rules) << ": " << (*full)->Summary() << "\n"
            << "       " << sec_rules << ": " << (*sec_all)->Summary() << "; pair group "
            << (*sec_pair)->size() << ", threshold group " << (*sec_threshold)->size() << "\n";

  // The stream.
  const auto g0 = std::chrono::steady_clock::now();
  const Stream s = sw::bench::Generate({n_events, absl::GetFlag(FLAGS_seed)});
  {
    std::map<Role, size_t> by_role;
    for (const Event& e : s.events) {
      const auto& ss = s.sessions[e.session];
      ++by_role[s.parties[ss.client].role];
    }
    size_t calls = 0;
    for (const auto& ss : s.sessions) calls += ss.type == sw::bench::SessionType::kCall;
    std::cerr << "stream: " << s.events.size() << " events over " << s.seconds() << " simulated s ("
              << static_cast<uint64_t>(s.events.size() / s.seconds()) << " events/s), generated in "
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - g0).count()
              << " s; " << s.OpenDialogsAt(s.end_ns) << " dialogs open at the end ("
              << s.OpenDialogsAt(s.start_ns + (s.end_ns - s.start_ns) / 2) << " half-way)\n"
              << "        events of legitimate parties " << by_role[Role::kLegit];
    for (size_t i = 0; i < kAttackers.size(); ++i) {
      std::cerr << ", " << sw::bench::RoleName(kAttackers[i]) << " " << s.ip_texts[s.attackers[i]]
                << " " << by_role[kAttackers[i]];
    }
    std::cerr << "\n";
  }
  if (const std::string out = absl::GetFlag(FLAGS_sec_input_out); !out.empty()) {
    SecLines lines(s);
    if (auto st = lines.Write(s.events.size(), out); !st.ok()) {
      std::cerr << st << "\n";
      return 1;
    }
    std::cerr << "wrote " << s.events.size() << " lines to " << out << "\n";
    return 0;
  }
  const Evidence evidence = FindEvidence(s);

  // Our engine, whole stream.
  std::cerr << "engine: " << rounds << " rounds per ruleset over the whole stream, one thread\n";
  const EngineResult r_full = RunEngine("default ruleset", *full, s, rounds);
  const EngineResult r_sec = RunEngine("sec rules", *sec_all, s, rounds);
  const EngineResult r_pair = RunEngine("pair rules", *sec_pair, s, rounds);
  const EngineResult r_threshold = RunEngine("threshold rules", *sec_threshold, s, rounds);
  ok &= CheckDetections(s, r_full.tally, "default ruleset", DefaultRuleExpectations());
  ok &= CheckDetections(s, r_sec.tally, "sec rules (our engine)",
                        SecRuleExpectations(s, evidence, s.events.size(), true, true));
  ok &= CheckDetections(s, r_pair.tally, "pair rules (our engine)",
                        SecRuleExpectations(s, evidence, s.events.size(), true, false));
  ok &= CheckDetections(s, r_threshold.tally, "threshold rules (our engine)",
                        SecRuleExpectations(s, evidence, s.events.size(), false, true));

  const MemoryResult mem =
      MeasureOpenDialogs(*full, absl::GetFlag(FLAGS_dialogs), absl::GetFlag(FLAGS_seed));

  // SEC.
  const std::string sec = absl::GetFlag(FLAGS_sec);
  SecResult s_pair, s_threshold, s_all;
  std::string sec_skip;
  if (sec.empty()) {
    sec_skip = "--sec is empty";
  } else {
    if (!FindProgram(sec)) sec_skip = absl::StrCat(sec, " is not installed");
  }
  Tally ours_on_sec_prefix;
  if (sec_skip.empty()) {
    auto conf = ReadFile(absl::GetFlag(FLAGS_sec_conf));
    if (!conf.ok()) {
      std::cerr << conf.status() << "\n";
      return 1;
    }
    char tmpl[] = "/tmp/sw-bench-correlate.XXXXXX";
    if (!mkdtemp(tmpl)) {
      std::cerr << "mkdtemp: " << std::strerror(errno) << "\n";
      return 1;
    }
    const std::string dir = tmpl;
    const double budget = absl::GetFlag(FLAGS_sec_seconds);
    std::cerr << "sec: " << absl::GetFlag(FLAGS_sec_conf) << ", budget " << budget
              << " s wall for the three runs, files in " << dir << "\n";
    SecLines lines(s);
    s_pair = MeasureSec("pair", sec, SecGroup(*conf, "pair"), lines, s, dir, budget * 0.35);
    s_threshold =
        MeasureSec("threshold", sec, SecGroup(*conf, "threshold"), lines, s, dir, budget * 0.25);
    s_all = MeasureSec("all", sec, *conf, lines, s, dir, budget * 0.40);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    for (const SecResult* r : {&s_pair, &s_threshold, &s_all}) {
      if (!r->ran) {
        std::cerr << "sec FAILED: " << r->error << "\n";
        ok = false;
      }
    }
    if (s_pair.ran) {
      ok &= CheckDetections(s, s_pair.tally, "SEC pair rules",
                            SecRuleExpectations(s, evidence, s_pair.lines, true, false, &s_pair));
    }
    if (s_threshold.ran) {
      ok &= CheckDetections(
          s, s_threshold.tally, "SEC threshold rules",
          SecRuleExpectations(s, evidence, s_threshold.lines, false, true, &s_threshold));
    }
    if (s_all.ran) {
      ok &= CheckDetections(s, s_all.tally, "SEC all rules",
                            SecRuleExpectations(s, evidence, s_all.lines, true, true, &s_all));
      ours_on_sec_prefix = TallyPrefix(*sec_all, s, s_all.lines);
      std::cerr << "  on the " << s_all.lines << " events SEC read with all rules: ours "
                << ours_on_sec_prefix.Summary() << "; SEC " << s_all.tally.Summary() << "\n";
      ok &= CheckDetections(s, ours_on_sec_prefix, "sec rules (our engine) on SEC's prefix",
                            SecRuleExpectations(s, evidence, s_all.lines, true, true));
    }
  } else {
    std::cerr << "sec: skipped (" << sec_skip << ")\n";
  }

  // The figures.
  auto vs_sec = [&](const std::string& metric, double ours, const SecResult& r) {
    if (r.ran) {
      AddLine(metric, ours, "events/s", "sec", r.events_per_s);
    } else {
      AddLine(metric, ours, "events/s", "sec_skipped", 0);
    }
  };
  AddLine("events_per_s_default_ruleset", r_full.events_per_s, "events/s", "aim_min_events_per_s",
          kAimEventsPerS);
  vs_sec("events_per_s_sec_rules", r_sec.events_per_s, s_all);
  vs_sec("events_per_s_pair_rules", r_pair.events_per_s, s_pair);
  vs_sec("events_per_s_threshold_rules", r_threshold.events_per_s, s_threshold);
  AddLine("bytes_per_open_dialog", mem.bytes_per_dialog, "bytes", "none", 0);
  AddLine("alarms_default_ruleset", static_cast<double>(r_full.tally.alarms), "alarms", "none", 0);
  if (s_all.ran) {
    AddLine("alarms_sec_rules", static_cast<double>(ours_on_sec_prefix.alarms), "alarms", "sec",
            static_cast<double>(s_all.tally.alarms));
  } else {
    AddLine("alarms_sec_rules", static_cast<double>(r_sec.tally.alarms), "alarms", "sec_skipped",
            0);
  }
  PrintLines();
  if (s_pair.ran && s_threshold.ran) {
    std::cerr << "aims (not asserted): " << r_full.events_per_s / 1e6 << "M events/s with the "
              << "default ruleset (aim >= " << kAimEventsPerS / 1e6 << "M); pair rules "
              << r_pair.events_per_s / s_pair.events_per_s << "x SEC (aim >= " << kAimPairRatio
              << "x); threshold rules " << r_threshold.events_per_s / s_threshold.events_per_s
              << "x SEC (aim >= " << kAimThresholdRatio << "x)\n";
  }
  if (!ok) {
    std::cerr << "FAILED: an attacker went undetected or SEC did not run (see above)\n";
    return 1;
  }
  return 0;
}
