// SPDX-License-Identifier: BSD-2-Clause
// sipwarden-profiles: per-account anomaly profiles from call records
// (docs/profiles.md). learn builds them, detect raises anomaly alarms.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "sipwarden/cli.h"
#include "sipwarden/json.h"
#include "sipwarden/profiles/batch.h"
#include "sipwarden/profiles/config.h"
#include "sipwarden/profiles/engine.h"
#include "sipwarden/profiles/record.h"
#include "sipwarden/profiles/store.h"

ABSL_FLAG(std::vector<std::string>, records, {},
          "call-record JSON lines (docs/formats.md, \"type\":\"call\"); FILE[,FILE...], more files may "
          "follow the flags; - is stdin. Read in order as one stream in event time");
ABSL_FLAG(std::string, out, "", "learn: the profile directory to write (made when missing)");
ABSL_FLAG(std::string, profiles, "", "detect: the profile directory learn wrote");
ABSL_FLAG(std::string, alarms_out, "", "detect: where anomaly alarms go, EVE JSON lines; - is stdout");
ABSL_FLAG(std::string, config, "",
          "YAML settings: bins, learning days, home country, high-risk prefixes, exclusion days, "
          "target false-alarm rate (docs/profiles.md)");
ABSL_FLAG(std::string, distance, "",
          "the distances that raise alarms, NAME[,NAME] of euclidean, quadratic, mahalanobis, "
          "hellinger, or all (default: the configuration's, else quadratic,hellinger)");
ABSL_FLAG(std::string, alarm_mode, "",
          "detect: any (the alarm distances share one episode per account and the target "
          "false-alarm rate) or each (every one alarms on its own, as if alone: to compare "
          "them); default: the configuration's, else any");
ABSL_FLAG(std::string, stats_out, "", "a JSON object of counts, throughput and memory at the end");
ABSL_FLAG(int, max_errors, 10, "malformed lines reported one by one before only counting them");
ABSL_FLAG(std::string, trace, "",
          "an account whose every evaluation (bin end, distances, thresholds) goes to stderr; "
          "learning, its evaluations from the day before calibration (thresholds 0)");
ABSL_FLAG(bool, progress, true, "progress on stderr every 2 s on long inputs");

namespace {

using namespace sw::profiles;
using Clock = std::chrono::steady_clock;

constexpr char kUsage[] =
    "per-account anomaly profiles from call records (docs/profiles.md).\n"
    "\n"
    "  sipwarden-profiles learn --records FILE... --out DIR [--config FILE]\n"
    "  sipwarden-profiles detect --profiles DIR --records FILE... --alarms-out PATH|-\n"
    "                            [--config FILE] [--distance NAME[,NAME]|all]\n"
    "                            [--alarm-mode any|each]\n"
    "\n"
    "learn builds every account's long-term profile (per-bin means, variances, correlation) and\n"
    "the thresholds of each distance from the target false-alarm rate; accounts seen for less\n"
    "than min_learning_days are left out. detect compares each account's last window with its\n"
    "profile once a bin closes and writes an alarm (category anomaly) when a distance passes\n"
    "its threshold; accounts without a profile learn silently and detect once learned.\n"
    "Malformed lines are skipped and counted, reported as FILE:LINE. Exits 0 on success,\n"
    "1 with one line on stderr on bad input.";

[[noreturn]] void Die(const std::string& m) {
  std::cerr << "sipwarden-profiles: " << m << "\n";
  exit(1);
}

struct Counts {
  uint64_t lines = 0, calls = 0, other = 0, malformed = 0;
};

// Reads the record files in order, handing each call to the engine (through
// batch when there is one); before_first is called with the first call's
// start before it is handed on.
template <typename Fn>
void ReadRecords(const std::vector<std::string>& files, const char* verb, Engine& engine,
                 LearnBatch* batch, Counts* counts, Fn&& before_first) {
  RecordParser parser;
  CallRecord rec;
  const int max_errors = absl::GetFlag(FLAGS_max_errors);
  const bool progress = absl::GetFlag(FLAGS_progress);
  const auto t0 = Clock::now();
  auto last_report = t0;
  bool first = true;
  std::vector<char> buf(1 << 22);
  for (const std::string& path : files) {
    FILE* f = path == "-" ? stdin : fopen(path.c_str(), "rb");
    if (!f) Die(absl::StrFormat("%s: %s", path, strerror(errno)));
    size_t have = 0;
    uint64_t lineno = 0;
    bool eof = false;
    while (!eof || have > 0) {
      if (!eof) {
        if (have == buf.size()) buf.resize(buf.size() * 2);  // a line longer than the buffer
        const size_t n = fread(buf.data() + have, 1, buf.size() - have, f);
        if (n == 0) {
          if (ferror(f)) Die(absl::StrFormat("%s: read error: %s", path, strerror(errno)));
          eof = true;
        }
        have += n;
      }
      size_t pos = 0;
      for (;;) {
        const char* nl = static_cast<const char*>(memchr(buf.data() + pos, '\n', have - pos));
        if (!nl && !(eof && pos < have)) break;
        const size_t end = nl ? nl - buf.data() : have;
        std::string_view line(buf.data() + pos, end - pos);
        pos = nl ? end + 1 : have;
        ++lineno;
        ++counts->lines;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
        switch (parser.Parse(line, &rec)) {
          case ParseResult::kCall:
            if (first) {
              before_first(rec.start_us);
              first = false;
            }
            ++counts->calls;
            if (batch) batch->Add(rec);
            else engine.Add(rec);
            break;
          case ParseResult::kOtherType: ++counts->other; break;
          case ParseResult::kMalformed:
            if (++counts->malformed <= static_cast<uint64_t>(max_errors))
              std::cerr << absl::StrFormat("sipwarden-profiles: %s:%d: skipped: %s\n", path, lineno,
                                           parser.error());
            break;
        }
        if (progress && (counts->lines & 0xFFFF) == 0) {
          const auto now = Clock::now();
          if (now - last_report > std::chrono::seconds(2)) {
            last_report = now;
            const double s = std::chrono::duration<double>(now - t0).count();
            std::cerr << absl::StrFormat(
                "%s: %.1f M records, %d accounts, event time %s (%.2f M records/s)\n", verb,
                counts->calls / 1e6, engine.stats().accounts,
                FormatTime(engine.stats().last_us).substr(0, 16), counts->calls / s / 1e6);
          }
        }
      }
      memmove(buf.data(), buf.data() + pos, have - pos);
      have -= pos;
    }
    if (f != stdin) fclose(f);
  }
  if (counts->malformed > static_cast<uint64_t>(max_errors))
    std::cerr << absl::StrFormat("sipwarden-profiles: %d malformed lines skipped in all (%d shown)\n",
                                 counts->malformed, max_errors);
}

long RssKb() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

void WriteStats(const std::string& path, sw::JsonWriter& w) {
  if (path.empty()) return;
  std::ofstream f(path);
  f << w.str() << "\n";
  if (!f) Die(path + ": cannot write");
}

Config LoadSettings() {
  Config c;
  const std::string path = absl::GetFlag(FLAGS_config);
  if (!path.empty()) {
    if (auto st = LoadConfig(path, &c); !st.ok()) Die(std::string(st.message()));
  }
  const std::string d = absl::GetFlag(FLAGS_distance);
  if (!d.empty()) {
    c.alarm_distances = 0;
    for (const std::string& n : std::vector<std::string>(absl::StrSplit(d, ','))) {
      if (n == "all") {
        c.alarm_distances = (1u << kDistances) - 1;
        continue;
      }
      auto id = DistanceByName(n);
      if (!id)
        Die(absl::StrFormat("--distance: unknown distance '%s' (euclidean, quadratic, mahalanobis, "
                            "hellinger, all)", n));
      c.alarm_distances |= 1u << *id;
    }
  }
  const std::string mode = absl::GetFlag(FLAGS_alarm_mode);
  if (mode == "each") c.alarm_each = true;
  else if (mode == "any") c.alarm_each = false;
  else if (!mode.empty()) Die("--alarm-mode: '" + mode + "' is not any or each");
  return c;
}

// --trace: the account's every evaluation on stderr (learning: thresholds 0).
void TraceFlag(Engine& engine) {
  if (const std::string t = absl::GetFlag(FLAGS_trace); !t.empty())
    engine.Trace(t, [](int64_t ts, const double* d, const double* thr) {
      std::cerr << absl::StrFormat("trace %s", FormatTime(ts).substr(0, 16));
      for (int k = 0; k < kDistances; ++k)
        std::cerr << absl::StrFormat(" %s %.3g/%.3g", DistanceName(k), d[k], thr[k]);
      std::cerr << "\n";
    });
}

int Learn(const std::vector<std::string>& files) {
  const std::string out = absl::GetFlag(FLAGS_out);
  if (out.empty()) Die("learn needs --out DIR");
  if (!absl::GetFlag(FLAGS_profiles).empty() || !absl::GetFlag(FLAGS_alarms_out).empty())
    Die("learn takes no --profiles or --alarms-out (those are detect's)");
  Config c = LoadSettings();
  Engine engine(c, Engine::Mode::kLearn);
  if (!engine.status().ok()) Die(std::string(engine.status().message()));
  TraceFlag(engine);
  Counts counts;
  const auto t0 = Clock::now();
  LearnBatch batch(engine);  // the same profiles as one by one, faster (batch.h)
  ReadRecords(files, "learn", engine, &batch, &counts, [](int64_t) {});
  batch.Drain();
  engine.Flush();
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  size_t learn_max = 0;
  const double learn_bytes = engine.BytesPerAccount(&learn_max);
  if (counts.calls == 0) Die("no call records in the input");
  uint64_t too_young = 0;
  ProfileSet set;
  set.profiles = engine.TakeProfiles(&too_young);
  // The accounts seen for too short a time go on learning in detect.
  set.learning = engine.ExportLearning();
  if (set.profiles.empty())
    Die(absl::StrFormat("no account was seen for %d days (min_learning_days): nothing to profile "
                        "(%d accounts, records from %s to %s)",
                        c.min_learning_days, engine.stats().accounts,
                        FormatTime(engine.stats().first_us), FormatTime(engine.stats().last_us)));
  size_t prof_max = 0;
  const double prof_bytes = engine.BytesPerAccount(&prof_max, true);
  ProfileMeta& m = set.meta;
  m.bin_minutes = c.bin_minutes;
  m.window_bins = c.window_bins;
  m.rearm_bins = c.rearm_bins;
  m.hellinger_parts = c.hellinger_parts;
  m.tz_offset_minutes = c.tz_offset_minutes;
  m.learning_days = c.learning_days;
  m.target_false_alarms = c.target_false_alarms;
  m.calib = engine.calibration();
  m.classes = engine.classes();
  m.learned_from_us = engine.stats().first_us;
  m.learned_until_us = engine.stats().last_us;
  m.records = counts.calls;
  m.accounts = set.profiles.size();
  if (auto st = SaveProfiles(out, set); !st.ok()) Die(std::string(st.message()));
  std::cerr << absl::StrFormat(
      "learn: %d call records (%d malformed skipped, %d of other types) in %.2f s (%.2f M "
      "records/s); %d accounts: %d profiled, %d seen for less than %d days left out; %s\n",
      counts.calls, counts.malformed, counts.other, seconds, counts.calls / seconds / 1e6,
      engine.stats().accounts, set.profiles.size(), too_young, c.min_learning_days, out);
  sw::JsonWriter w;
  w.BeginObject()
      .Field("mode", "learn")
      .Field("records", counts.calls)
      .Field("malformed", counts.malformed)
      .Field("accounts", engine.stats().accounts)
      .Field("profiles", static_cast<uint64_t>(set.profiles.size()))
      .Field("seconds", seconds)
      .Field("records_per_s", counts.calls / seconds)
      .Field("learn_bytes_per_account", learn_bytes)
      .Field("learn_max_bytes_per_account", static_cast<uint64_t>(learn_max))
      .Field("profile_bytes_per_account", prof_bytes)
      .Field("profile_max_bytes_per_account", static_cast<uint64_t>(prof_max))
      .Field("max_rss_kb", static_cast<int64_t>(RssKb()));
  w.Key("ratio").BeginObject();
  for (int k = 0; k < kDistances; ++k) w.Field(DistanceName(k), double(m.calib.ratio[k][0]));
  w.EndObject().EndObject();
  WriteStats(absl::GetFlag(FLAGS_stats_out), w);
  return 0;
}

int Detect(const std::vector<std::string>& files) {
  const std::string dir = absl::GetFlag(FLAGS_profiles);
  const std::string alarms = absl::GetFlag(FLAGS_alarms_out);
  if (dir.empty()) Die("detect needs --profiles DIR");
  if (alarms.empty()) Die("detect needs --alarms-out PATH (- for stdout)");
  if (!absl::GetFlag(FLAGS_out).empty()) Die("detect takes no --out (that is learn's)");
  const int64_t now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  Config c = LoadSettings();
  auto loaded = LoadForDetect(dir, !absl::GetFlag(FLAGS_config).empty(), &c, now_us);
  if (!loaded.ok()) Die(std::string(loaded.status().message()));
  ProfileSet& set = *loaded;
  FILE* out = alarms == "-" ? stdout : fopen(alarms.c_str(), "w");
  if (!out) Die(absl::StrFormat("%s: %s", alarms, strerror(errno)));
  Engine engine(c, Engine::Mode::kDetect, [out](const Alarm& a) {
    fwrite(a.json.data(), 1, a.json.size(), out);
    fputc('\n', out);
  });
  if (!engine.status().ok()) Die(std::string(engine.status().message()));
  engine.SetCalibration(set.meta.calib);
  engine.SetClasses(set.meta.classes);
  TraceFlag(engine);
  const size_t profiled = set.profiles.size();
  for (auto& [name, p] : set.profiles) engine.AddProfile(std::move(name), std::move(p));
  set.profiles.clear();
  if (!set.learning.empty()) {
    if (auto st = engine.ImportLearning(set.learning); !st.ok())
      Die(absl::StrFormat("%s: %s", dir, st.message()));
  }
  Counts counts;
  const auto t0 = Clock::now();
  ReadRecords(files, "detect", engine, nullptr, &counts, [&](int64_t first) {
    if (first < set.meta.learned_until_us)
      Die(absl::StrFormat(
          "the records begin at %s, before the end of the profiles' learning (%s): detect reads "
          "the records that follow the learning period (or learn from earlier records)",
          FormatTime(first), FormatTime(set.meta.learned_until_us)));
  });
  engine.Flush();
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  if (fflush(out) != 0 || ferror(out)) Die(alarms + ": write failed");
  if (out != stdout) fclose(out);
  size_t max_bytes = 0, prof_max = 0;
  const double bytes = engine.BytesPerAccount(&max_bytes);
  const double prof_bytes = engine.BytesPerAccount(&prof_max, true);
  const EngineStats& s = engine.stats();
  std::cerr << absl::StrFormat(
      "detect: %d call records (%d malformed skipped, %d of other types, %d late, %d on exclusion "
      "days) in %.2f s (%.2f M records/s); %d profiles, %d new accounts learning (%d profiled "
      "since); %d alarms\n",
      counts.calls, counts.malformed, counts.other, s.late, s.excluded, seconds,
      counts.calls / seconds / 1e6, profiled, s.new_accounts, s.profiled_online, s.alarms);
  sw::JsonWriter w;
  w.BeginObject()
      .Field("mode", "detect")
      .Field("records", counts.calls)
      .Field("malformed", counts.malformed)
      .Field("accounts", s.accounts)
      .Field("new_accounts", s.new_accounts)
      .Field("alarms", s.alarms)
      .Field("evaluations", s.evaluations)
      .Field("seconds", seconds)
      .Field("records_per_s", counts.calls / seconds)
      .Field("bytes_per_account", bytes)
      .Field("max_bytes_per_account", static_cast<uint64_t>(max_bytes))
      .Field("profiled_bytes_per_account", prof_bytes)
      .Field("profiled_max_bytes_per_account", static_cast<uint64_t>(prof_max))
      .Field("max_rss_kb", static_cast<int64_t>(RssKb()))
      .EndObject();
  WriteStats(absl::GetFlag(FLAGS_stats_out), w);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  sw::SetUsage(kUsage);
  sw::NormalizedArgs normalized(argc, argv);
  std::vector<char*> rest = absl::ParseCommandLine(normalized.argc(), normalized.argv());
  if (rest.size() < 2) Die("name a verb: learn or detect (--help)");
  const std::string verb = rest[1];
  std::vector<std::string> files = absl::GetFlag(FLAGS_records);
  for (size_t i = 2; i < rest.size(); ++i) files.emplace_back(rest[i]);
  if (verb != "learn" && verb != "detect") Die("unknown verb '" + verb + "' (learn, detect)");
  if (files.empty()) Die(verb + " needs --records FILE...");
  return verb == "learn" ? Learn(files) : Detect(files);
}
