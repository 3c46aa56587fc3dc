// SPDX-License-Identifier: BSD-2-Clause
// sw-bench-scale: how the userspace cost grows with the state held.
//
//  - The correlation engine with the full default ruleset fed n dialogs set
//    up and never torn down (INVITE, 100, 180, 200, ACK from n distinct
//    callers, the correlate benchmark's GenerateOpenDialogs), for each n of
//    --dialogs (default 40k, 450k, 9M: about 100k, 1M and 10M keys):
//    events per second of CPU, the keys the engine holds at the end (open
//    operations and contexts), and the RSS it grew by. The ruleset's bounds
//    (100k keys per rule, 200k contexts by default) are raised to 8n so that
//    nothing is evicted: the figures show how the cost grows with the state,
//    not the bounds. Each n runs in a child process of its own, so that one n's
//    freed memory does not hide the next one's growth.
//  - Call threading (ev::CallTracker, which makes the call records) fed
//    --calls dialogs (default 1.25M) with room for --max-calls (default 1M):
//    heap bytes per open call, events per second while it fills and once it
//    is full (every new call evicts one), how many calls were evicted, and
//    whether they were the least recently active ones.
//
// One JSON line per figure on stdout (docs/formats.md "Benchmarks"),
// progress on stderr.
#include <malloc.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "../figure.h"
#include "sipwarden/cli.h"
#include "sipwarden/events/call_tracker.h"
#include "sipwarden/json.h"
#include "sipwarden/rules/engine.h"
#include "sipwarden/rules/ruleset.h"
#include "stream.h"

ABSL_FLAG(std::string, dialogs, "40000,450000,9000000",
          "Open dialogs fed to the engine, one run each (comma-separated); with the default "
          "ruleset a dialog leaves a context and 1 to 2.5 operations open (fewer as the "
          "older ones' windows end), so the default sizes hold about 100k, 1M and 10M keys");
ABSL_FLAG(std::string, rules, SW_DEFAULT_RULES, "The ruleset (the source tree's default)");
ABSL_FLAG(uint64_t, calls, 1250000, "Dialogs fed to call threading");
ABSL_FLAG(uint64_t, max_calls, 1000000, "Calls call threading holds (CallTrackerLimits)");
ABSL_FLAG(uint64_t, seed, 1, "Seed of the generated dialogs");
ABSL_FLAG(bool, version, false, "Print the version and exit");

namespace {

using sw::bench::Event;
using sw::bench::Stream;

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

int64_t CpuNs() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// "100k", "1m", "1250000": the figure names' size label.
std::string Label(uint64_t n) {
  if (n % 1000000 == 0) return absl::StrCat(n / 1000000, "m");
  if (n % 1000 == 0) return absl::StrCat(n / 1000, "k");
  return absl::StrCat(n);
}

void Line(std::string_view metric, double value, std::string_view unit,
               std::string_view baseline, double baseline_value) {
  sw::bench::PrintFigure("scale", metric, value, unit, baseline, baseline_value);
}

// ---- the engine with n open dialogs ------------------------------------------

struct EngineFigures {
  double events_per_s = 0;
  double keys = 0;
  double rss_mib = 0;
};

// The ruleset text with its state bounds raised to max_keys per rule (the
// engine's defaults, 100k keys per rule and 200k contexts, would evict long
// before 10M keys: the figures are about how the cost grows, not the bounds).
absl::StatusOr<std::shared_ptr<const sw::rules::RuleSet>> RulesWithRoom(const std::string& text,
                                                                       uint64_t max_keys) {
  const std::string defaults = "\ndefaults:\n";
  const size_t at = text.find(defaults);
  if (at == std::string::npos) {
    return absl::InvalidArgumentError("the ruleset has no top-level 'defaults:' to raise max_keys in");
  }
  std::string raised = text;
  raised.insert(at + defaults.size(), absl::StrCat("  max_keys: ", max_keys, "\n"));
  std::vector<sw::rules::ConfigError> errors;
  auto rs = sw::rules::LoadRuleText(raised, absl::GetFlag(FLAGS_rules), &errors);
  for (const auto& e : errors) std::cerr << e.ToString() << "\n";
  return rs;
}

// Runs in a child: feeds n open dialogs, writes the figures to fd.
int EngineRun(const std::string& rules_text, uint64_t n, uint64_t seed, int fd) {
  const uint64_t room = 8 * n;
  auto rs = RulesWithRoom(rules_text, room);
  if (!rs.ok()) {
    std::cerr << "sw-bench-scale: " << rs.status() << "\n";
    return 1;
  }
  std::cerr << "engine: generating " << n << " open dialogs (" << 5 * n << " events); "
            << room << " keys per rule and contexts allowed\n";
  const Stream d = sw::bench::GenerateOpenDialogs(n, seed);
  sw::bench::Filler filler(d);
  uint64_t alarms = 0;
  sw::rules::EngineSinks sinks;
  sinks.alarm = [&alarms](const sw::rules::Alarm&) { ++alarms; };
  const size_t rss0 = RssBytes();
  sw::rules::EngineOptions options;
  options.max_contexts = room;
  sw::rules::Engine engine(*rs, sinks, options);
  // The filler's work is not the engine's: fill and feed alternate, and only
  // the feeding is timed, in chunks (a clock read per event would cost more
  // than many events).
  constexpr size_t kChunk = 4096;
  std::vector<sw::ev::SipEvent> chunk(kChunk);
  int64_t engine_ns = 0;
  const size_t total = d.events.size();
  size_t next_report = total / 10;
  for (size_t i = 0; i < total; i += kChunk) {
    const size_t m = std::min(kChunk, total - i);
    for (size_t j = 0; j < m; ++j) filler.FillSip(d.events[i + j], &chunk[j]);
    const int64_t t0 = CpuNs();
    for (size_t j = 0; j < m; ++j) engine.OnSip(chunk[j]);
    engine_ns += CpuNs() - t0;
    if (i + m >= next_report) {
      std::cerr << "  " << (i + m) * 100 / total << "% of the events\n";
      next_report += total / 10;
    }
  }
  size_t open = 0, evicted = 0;
  for (const auto& r : engine.rule_stats()) {
    open += r.open;
    evicted += r.evicted;
  }
  EngineFigures f;
  f.events_per_s = static_cast<double>(total) / (static_cast<double>(engine_ns) / 1e9);
  f.keys = static_cast<double>(open + engine.context_count());
  f.rss_mib = static_cast<double>(RssBytes() - std::min(RssBytes(), rss0)) / 1048576.0;
  std::cerr << "  " << f.events_per_s << " events/s; " << open << " open operations, "
            << engine.context_count() << " contexts; " << evicted << " operations evicted; RSS +"
            << f.rss_mib << " MiB; " << alarms << " alarms\n";
  const ssize_t w = write(fd, &f, sizeof(f));
  return w == static_cast<ssize_t>(sizeof(f)) ? 0 : 1;
}

bool EngineFiguresFor(const std::string& rules_text, uint64_t n, uint64_t seed,
                      EngineFigures* out) {
  int p[2];
  if (pipe(p) != 0) return false;
  std::cout.flush();
  const pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    close(p[0]);
    _exit(EngineRun(rules_text, n, seed, p[1]));
  }
  close(p[1]);
  const ssize_t r = read(p[0], out, sizeof(*out));
  close(p[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return r == static_cast<ssize_t>(sizeof(*out)) && WIFEXITED(status) &&
         WEXITSTATUS(status) == 0;
}

// ---- call threading at its limit --------------------------------------------

bool CallThreading(uint64_t calls, uint64_t max_calls, uint64_t seed) {
  std::cerr << "call threading: " << calls << " dialogs set up, room for " << max_calls
            << " calls\n";
  const Stream d = sw::bench::GenerateOpenDialogs(calls, seed);
  sw::bench::Filler filler(d);
  // Call-IDs in the order the calls started: the least recently active
  // first, as none is touched again once set up.
  std::vector<std::string> evicted;
  uint64_t other_ends = 0;
  sw::ev::CallTrackerLimits limits;
  limits.max_calls = max_calls;
  constexpr size_t kChunk = 4096;
  // The harness's own memory is taken before the heap is read: the chunk
  // of events filled once, room for the evicted Call-IDs.
  std::vector<sw::ev::SipEvent> chunk(kChunk);
  for (size_t j = 0; j < kChunk && j < d.events.size(); ++j) {
    filler.FillSip(d.events[j], &chunk[j]);
  }
  evicted.reserve(calls > max_calls ? calls - max_calls : 0);
  const size_t heap0 = HeapInUse();
  sw::ev::CallTracker tracker(
      [&](const sw::ev::CallRecord& r) {
        if (r.ended_by == "evicted") {
          evicted.push_back(r.call_id);
        } else {
          ++other_ends;
        }
      },
      limits);
  int64_t filling_ns = 0, full_ns = 0;
  uint64_t filling_events = 0, full_events = 0;
  size_t heap_full = 0;
  const size_t total = d.events.size();
  for (size_t i = 0; i < total; i += kChunk) {
    const size_t m = std::min(kChunk, total - i);
    for (size_t j = 0; j < m; ++j) filler.FillSip(d.events[i + j], &chunk[j]);
    const bool full = tracker.open_calls() >= max_calls;
    if (full && heap_full == 0) heap_full = HeapInUse();
    const int64_t t0 = CpuNs();
    for (size_t j = 0; j < m; ++j) tracker.OnSip(chunk[j]);
    const int64_t dt = CpuNs() - t0;
    (full ? full_ns : filling_ns) += dt;
    (full ? full_events : filling_events) += m;
  }
  if (heap_full == 0) heap_full = HeapInUse();
  const double bytes_per_call = static_cast<double>(heap_full - std::min(heap_full, heap0)) /
                                static_cast<double>(std::max<size_t>(tracker.open_calls(), 1));
  // The evicted calls must be the first ones set up, in order.
  bool oldest_first = evicted.size() == (calls > max_calls ? calls - max_calls : 0);
  for (size_t i = 0; oldest_first && i < evicted.size(); ++i) {
    oldest_first = evicted[i] == d.sessions[i].call_id;
  }
  const double filling = filling_events / (static_cast<double>(filling_ns) / 1e9);
  const double at_limit =
      full_events ? full_events / (static_cast<double>(full_ns) / 1e9) : 0.0;
  std::cerr << "  " << tracker.open_calls() << " open calls, " << bytes_per_call
            << " heap bytes each; " << filling << " events/s filling, " << at_limit
            << " events/s at the limit; " << evicted.size() << " evicted ("
            << (oldest_first ? "the least recently active first" : "NOT oldest first") << "), "
            << other_ends << " other ends\n";
  const std::string l = Label(max_calls);
  Line(absl::StrCat("call_threading_bytes_per_open_call_", l), bytes_per_call, "bytes", "none",
       0);
  Line(absl::StrCat("call_threading_events_per_s_at_limit_", l), at_limit, "events/s",
       "filling", filling);
  Line(absl::StrCat("call_threading_evicted_", l), static_cast<double>(evicted.size()), "calls",
       "calls_over_limit", static_cast<double>(calls > max_calls ? calls - max_calls : 0));
  Line(absl::StrCat("call_threading_evicted_oldest_first_", l), oldest_first ? 1 : 0, "bool",
       "expected", 1);
  return oldest_first && other_ends == 0;
}

}  // namespace

int main(int argc, char** argv) {
  sw::SetUsage(
      "How the correlation engine's and call threading's cost grows with\n"
      "the state they hold. The engine (full default ruleset) with 40k, 450k and 9M open\n"
      "dialogs (about 100k, 1M and 10M keys): events/s, keys held, RSS; call threading\n"
      "past its limit of 1M calls: bytes per call, events/s at the limit, eviction order.\n"
      "JSON lines on stdout.\n\n"
      "  sw-bench-scale [--dialogs 40000,450000,9000000] [--calls 1250000]\n"
      "                 [--max-calls 1000000] [--rules FILE] [--seed N]");
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::StrContains(file, "scale_bench");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  absl::SetFlagsUsageConfig(usage);
  sw::NormalizedArgs normalized(argc, argv);
  absl::ParseCommandLine(normalized.argc(), normalized.argv());
  if (absl::GetFlag(FLAGS_version)) {
    std::cout << "sw-bench-scale " << SW_VERSION << "\n";
    return 0;
  }
  std::vector<uint64_t> keys;
  for (absl::string_view k :
       absl::StrSplit(absl::GetFlag(FLAGS_dialogs), ',', absl::SkipEmpty())) {
    uint64_t n = 0;
    if (!absl::SimpleAtoi(k, &n) || n < 1000 || n > 100'000'000) {
      std::cerr << "sw-bench-scale: --dialogs takes counts within 1000..100000000, not '"
                << k << "'\n";
      return 2;
    }
    keys.push_back(n);
  }
  const uint64_t calls = absl::GetFlag(FLAGS_calls), max_calls = absl::GetFlag(FLAGS_max_calls);
  if (calls < 1 || max_calls < 1 || calls > 100'000'000 || max_calls > 100'000'000) {
    std::cerr << "sw-bench-scale: --calls and --max-calls must be within 1..100000000\n";
    return 2;
  }
  std::ifstream in(absl::GetFlag(FLAGS_rules));
  const std::string rules_text((std::istreambuf_iterator<char>(in)),
                               std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) {
    std::cerr << "sw-bench-scale: cannot read " << absl::GetFlag(FLAGS_rules) << "\n";
    return 1;
  }
  if (auto rs = RulesWithRoom(rules_text, 1000); !rs.ok()) {  // refused early, not per child
    std::cerr << "sw-bench-scale: cannot load " << absl::GetFlag(FLAGS_rules) << ": "
              << rs.status() << "\n";
    return 1;
  }
  bool ok = true;
  const uint64_t seed = absl::GetFlag(FLAGS_seed);
  std::vector<EngineFigures> figs;
  for (uint64_t n : keys) {
    EngineFigures f;
    if (!EngineFiguresFor(rules_text, n, seed, &f)) {
      std::cerr << "sw-bench-scale: the engine run with " << n << " dialogs failed\n";
      return 1;
    }
    figs.push_back(f);
  }
  // Each size beside the smallest: how the cost grows.
  for (size_t i = 0; i < keys.size(); ++i) {
    const std::string l = Label(keys[i]), l0 = Label(keys[0]);
    Line(absl::StrCat("engine_events_per_s_", l, "_dialogs"), figs[i].events_per_s, "events/s",
         absl::StrCat("engine_events_per_s_", l0, "_dialogs"), figs[0].events_per_s);
    Line(absl::StrCat("engine_keys_", l, "_dialogs"), figs[i].keys, "keys", "dialogs",
         static_cast<double>(keys[i]));
    Line(absl::StrCat("engine_rss_mib_", l, "_dialogs"), figs[i].rss_mib, "MiB",
         absl::StrCat("engine_rss_mib_", l0, "_dialogs"), figs[0].rss_mib);
  }
  ok = CallThreading(calls, max_calls, seed) && ok;
  return ok ? 0 : 1;
}
