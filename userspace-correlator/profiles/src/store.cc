// SPDX-License-Identifier: BSD-2-Clause
#include "sipwarden/profiles/store.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "bytes.h"
#include "sipwarden/absl_compat.h"

namespace sw::profiles {
namespace {

constexpr char kMagic[8] = {'S', 'W', 'P', 'R', 'O', 'F', '\n', 0};
constexpr char kLearningMagic[8] = {'S', 'W', 'L', 'E', 'A', 'R', 'N', '\n'};


absl::Status WriteAtomically(const std::string& path, const std::string& data) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return absl::UnavailableError(absl::StrFormat("%s: %s", tmp, strerror(errno)));
    f.write(data.data(), data.size());
    f.flush();
    if (!f) return absl::UnavailableError(absl::StrFormat("%s: write failed", tmp));
  }
  if (rename(tmp.c_str(), path.c_str()) != 0)
    return absl::UnavailableError(absl::StrFormat("%s: %s", path, strerror(errno)));
  return absl::OkStatus();
}

}  // namespace

absl::Status SaveProfiles(const std::string& dir, const ProfileSet& set) {
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) {
    if (mkdir(dir.c_str(), 0755) != 0)
      return absl::UnavailableError(absl::StrFormat("%s: %s", dir, strerror(errno)));
  } else if (!S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(dir + ": not a directory");
  }
  const ProfileMeta& m = set.meta;
  Writer w;
  w.Bytes(kMagic, sizeof(kMagic));
  w.Put<uint32_t>(kProfileDataFormat);
  w.Put<uint32_t>(m.bin_minutes);
  w.Put<uint64_t>(set.profiles.size());
  const uint32_t slots = 2 * 1440 / m.bin_minutes;
  for (const auto& [name, p] : set.profiles) {
    if (p.n.size() != slots || p.mean.size() != slots * kMetrics || p.sd.size() != slots * kMetrics)
      return absl::InternalError("profile of " + name + " does not match the bin length");
    w.Put<uint32_t>(name.size());
    w.Bytes(name.data(), name.size());
    w.Put(p.days);
    w.Put(p.home);
    w.Put(p.cls);
    w.Bytes(p.n.data(), p.n.size());
    w.Bytes(p.mean.data(), p.mean.size() * sizeof(_Float16));
    w.Bytes(p.sd.data(), p.sd.size() * sizeof(_Float16));
    w.Bytes(p.rinv, sizeof(p.rinv));
    w.Bytes(p.href, sizeof(p.href));
    w.Bytes(p.scale, sizeof(p.scale));
    w.Put<uint32_t>(p.bloom.size());
    w.Bytes(p.bloom.data(), p.bloom.size() * 8);
  }
  w.Put<uint64_t>(Fnv(w.buf()));
  if (auto s = WriteAtomically(dir + "/profiles.bin", w.buf()); !s.ok()) return s;
  if (set.learning.empty()) {
    unlink((dir + "/learning.bin").c_str());
  } else {
    Writer l;
    l.Bytes(kLearningMagic, sizeof(kLearningMagic));
    l.Put<uint32_t>(kProfileDataFormat);
    l.Put<uint32_t>(m.bin_minutes);
    l.Bytes(set.learning.data(), set.learning.size());
    l.Put<uint64_t>(Fnv(l.buf()));
    if (auto s = WriteAtomically(dir + "/learning.bin", l.buf()); !s.ok()) return s;
  }

  std::string meta = absl::StrFormat(
      "sipwarden-profiles format %d\n"
      "# written by sipwarden-profiles learn; profiles.bin holds the profiles\n"
      "bin_minutes %d\nwindow_bins %d\nrearm_bins %d\ntz_offset_minutes %d\nlearning_days %d\n"
      "target_false_alarms_per_1000_account_days %.17g\n"
      "hellinger_parts %s\n"
      "learned_from %d\nlearned_until %d\nrecords %d\naccounts %d\n",
      kProfileFormat, m.bin_minutes, m.window_bins, m.rearm_bins, m.tz_offset_minutes,
      m.learning_days,
      m.target_false_alarms, HellingerPartsString(m.hellinger_parts), m.learned_from_us, m.learned_until_us, m.records,
      set.profiles.size());
  meta +=
      "# calibration DISTANCE SCALE_FLOOR SAMPLES RATIO1 RATIO2 RATIO3 RATIO4: threshold = the\n"
      "# account's scale x RATIOn when n distances raise alarms together\n";
  for (int k = 0; k < kDistances; ++k) {
    meta += absl::StrFormat("calibration %s %.9g %d", DistanceName(k), m.calib.scale_floor[k],
                            m.calib.samples[k]);
    for (float r : m.calib.ratio[k]) meta += absl::StrFormat(" %.9g", r);
    meta += "\n";
  }
  const Classes& cl = m.classes;
  if (!cl.centroids.empty()) {
    meta += absl::StrFormat(
        "# classes of profiles: class_norm FEATURE MEAN SD; class ID MEMBERS CENTROID...\n"
        "classes %d\n",
        cl.centroids.size());
    for (int f = 0; f < kClassFeatures; ++f)
      meta += absl::StrFormat("class_norm %s %.9g %.9g\n", ClassFeatureName(f), cl.mean[f], cl.sd[f]);
    for (size_t c = 0; c < cl.centroids.size(); ++c) {
      meta += absl::StrFormat("class %d %d", c + 1, c < cl.members.size() ? cl.members[c] : 0);
      for (float v : cl.centroids[c]) meta += absl::StrFormat(" %.9g", v);
      meta += "\n";
    }
  }
  return WriteAtomically(dir + "/profiles.meta", meta);
}

absl::StatusOr<ProfileSet> LoadProfiles(const std::string& dir) {
  auto bad = [&](const std::string& m) { return absl::InvalidArgumentError(dir + ": " + m); };
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) return bad(strerror(errno));
  if (!S_ISDIR(st.st_mode)) return bad("not a directory");
  std::ifstream mf(dir + "/profiles.meta");
  if (!mf) {
    bool empty = true;
    if (DIR* d = opendir(dir.c_str())) {
      while (dirent* e = readdir(d))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) empty = false;
      closedir(d);
    }
    return bad(empty ? "empty directory, not a profile directory (make one with "
                       "`sipwarden-profiles learn --out DIR`)"
                     : "no profiles.meta: not a profile directory (make one with "
                       "`sipwarden-profiles learn --out DIR`)");
  }
  ProfileSet set;
  ProfileMeta& m = set.meta;
  std::string line;
  if (!std::getline(mf, line)) return bad("profiles.meta is empty");
  {
    std::vector<std::string> f = absl::StrSplit(line, ' ');
    int format;
    if (f.size() != 3 || f[0] != "sipwarden-profiles" || f[1] != "format" ||
        !absl::SimpleAtoi(f[2], &format))
      return bad("profiles.meta does not start with 'sipwarden-profiles format N'");
    if (format < kOldestProfileFormat)
      return bad(absl::StrFormat(
          "profile format %d is older than this program reads (%d to %d) and cannot be migrated "
          "(it lacks the calibration later formats keep: thresholds for distances raising "
          "alarms together): learn again with `sipwarden-profiles learn`",
          format, kOldestProfileFormat, kProfileFormat));
    if (format > kProfileFormat)
      return bad(absl::StrFormat(
          "profile format %d is newer than this program's (%d): use the sipwarden that wrote it",
          format, kProfileFormat));
    m.format = format;
  }
  int lineno = 1;
  bool seen_until = false, seen_rearm = false, seen_parts = false;
  while (std::getline(mf, line)) {
    ++lineno;
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f = absl::StrSplit(line, ' ');
    auto err = [&] { return bad(absl::StrFormat("profiles.meta:%d: bad line '%s'", lineno, line)); };
    bool ok = f.size() >= 2;
    if (!ok) return err();
    const std::string& k = f[0];
    if (k == "bin_minutes") ok = absl::SimpleAtoi(f[1], &m.bin_minutes);
    else if (k == "window_bins") ok = absl::SimpleAtoi(f[1], &m.window_bins);
    else if (k == "rearm_bins") ok = absl::SimpleAtoi(f[1], &m.rearm_bins), seen_rearm = true;
    else if (k == "hellinger_parts") {
      m.hellinger_parts = 0;
      seen_parts = true;
      for (absl::string_view n : absl::StrSplit(f[1], ',')) {
        int part = -1;
        for (int i = 0; i < kHellParts; ++i)
          if (HellingerPartName(i) == SV(n)) part = i;
        ok = ok && part >= 0;
        if (part >= 0) m.hellinger_parts |= 1u << part;
      }
    }
    else if (k == "tz_offset_minutes") ok = absl::SimpleAtoi(f[1], &m.tz_offset_minutes);
    else if (k == "learning_days") ok = absl::SimpleAtoi(f[1], &m.learning_days);
    else if (k == "target_false_alarms_per_1000_account_days")
      ok = absl::SimpleAtod(f[1], &m.target_false_alarms);
    else if (k == "learned_from") ok = absl::SimpleAtoi(f[1], &m.learned_from_us);
    else if (k == "learned_until") ok = absl::SimpleAtoi(f[1], &m.learned_until_us), seen_until = true;
    else if (k == "records") ok = absl::SimpleAtoi(f[1], &m.records);
    else if (k == "accounts") ok = absl::SimpleAtoi(f[1], &m.accounts);
    else if (k == "calibration") {
      const int d = f.size() == 4 + kDistances ? DistanceByName(f[1]).value_or(-1) : -1;
      ok = d >= 0 && absl::SimpleAtof(f[2], &m.calib.scale_floor[d]) &&
           absl::SimpleAtoi(f[3], &m.calib.samples[d]);
      for (int i = 0; ok && i < kDistances; ++i)
        ok = absl::SimpleAtof(f[4 + i], &m.calib.ratio[d][i]);
    } else if (k == "classes") {
      size_t n = 0;
      ok = absl::SimpleAtoi(f[1], &n) && n <= 250;
      if (ok) m.classes.centroids.assign(n, {}), m.classes.members.assign(n, 0);
    } else if (k == "class_norm") {
      int fi = -1;
      for (int i = 0; i < kClassFeatures; ++i)
        if (ClassFeatureName(i) == f[1]) fi = i;
      ok = f.size() == 4 && fi >= 0 && absl::SimpleAtof(f[2], &m.classes.mean[fi]) &&
           absl::SimpleAtof(f[3], &m.classes.sd[fi]);
    } else if (k == "class") {
      size_t id = 0;
      ok = f.size() == 3 + kClassFeatures && absl::SimpleAtoi(f[1], &id) && id >= 1 &&
           id <= m.classes.centroids.size() && absl::SimpleAtoi(f[2], &m.classes.members[id - 1]);
      for (int i = 0; ok && i < kClassFeatures; ++i)
        ok = absl::SimpleAtof(f[3 + i], &m.classes.centroids[id - 1][i]);
    } else ok = false;
    if (!ok) return err();
  }
  if (!seen_until) return bad("profiles.meta has no learned_until");
  // Written before rearm_bins was a setting: episodes ended after a window.
  if (!seen_rearm) m.rearm_bins = std::min(m.window_bins, 255);
  if (m.rearm_bins < 1 || m.rearm_bins > 255) return bad("profiles.meta: bad rearm_bins");
  // ... and Hellinger took all three distributions.
  if (!seen_parts) m.hellinger_parts = (1u << kHellParts) - 1;
  if (m.bin_minutes < 5 || 1440 % m.bin_minutes) return bad("profiles.meta: bad bin_minutes");
  if (m.accounts == 0) return bad("holds no profiles (the learning input had no account seen long enough)");

  std::ifstream bf(dir + "/profiles.bin", std::ios::binary);
  if (!bf) return bad("profiles.meta without profiles.bin");
  std::stringstream ss;
  ss << bf.rdbuf();
  const std::string data = ss.str();
  if (data.size() < sizeof(kMagic) + 16 + 8 || memcmp(data.data(), kMagic, sizeof(kMagic)) != 0)
    return bad("profiles.bin is not a profile file");
  uint64_t sum;
  memcpy(&sum, data.data() + data.size() - 8, 8);
  if (Fnv(std::string_view(data).substr(0, data.size() - 8)) != sum)
    return bad("profiles.bin is damaged or truncated (checksum mismatch)");
  Reader r(std::string_view(data).substr(0, data.size() - 8));
  char magic[8];
  uint32_t format, bin_minutes;
  uint64_t count;
  r.Bytes(magic, 8);
  if (!r.Get(&format) || !r.Get(&bin_minutes) || !r.Get(&count)) return bad("profiles.bin truncated");
  if (format != static_cast<uint32_t>(kProfileDataFormat))
    return bad(absl::StrFormat("profiles.bin is format %d, this program reads format %d", format,
                               kProfileDataFormat));
  if (static_cast<int>(bin_minutes) != m.bin_minutes || count != m.accounts)
    return bad("profiles.bin does not match profiles.meta");
  const uint32_t slots = 2 * 1440 / bin_minutes;
  set.profiles.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    uint32_t len;
    if (!r.Get(&len) || len > 4096) return bad("profiles.bin: bad account name");
    std::string name(len, '\0');
    Profile p;
    p.n.resize(slots);
    p.mean.resize(slots * kMetrics);
    p.sd.resize(slots * kMetrics);
    uint32_t words;
    bool ok = r.Bytes(name.data(), len) && r.Get(&p.days) && r.Get(&p.home) && r.Get(&p.cls) &&
              r.Bytes(p.n.data(), slots) &&
              r.Bytes(p.mean.data(), p.mean.size() * sizeof(_Float16)) &&
              r.Bytes(p.sd.data(), p.sd.size() * sizeof(_Float16)) &&
              r.Bytes(p.rinv, sizeof(p.rinv)) && r.Bytes(p.href, sizeof(p.href)) &&
              r.Bytes(p.scale, sizeof(p.scale)) && r.Get(&words) && words <= 1 << 20 &&
              (words & (words - 1)) == 0;
    if (ok) {
      p.bloom.resize(words);
      ok = r.Bytes(p.bloom.data(), words * 8);
    }
    if (!ok) return bad(absl::StrFormat("profiles.bin: profile %d is damaged", i + 1));
    set.profiles.emplace_back(std::move(name), std::move(p));
  }
  // The accounts still learning, when there were any.
  std::ifstream lf(dir + "/learning.bin", std::ios::binary);
  if (lf) {
    std::stringstream ls;
    ls << lf.rdbuf();
    const std::string l = ls.str();
    uint32_t format = 0, bin_minutes = 0;
    if (l.size() < sizeof(kLearningMagic) + 16 ||
        memcmp(l.data(), kLearningMagic, sizeof(kLearningMagic)) != 0)
      return bad("learning.bin is not a sipwarden learning file");
    uint64_t sum = 0;
    memcpy(&sum, l.data() + l.size() - 8, 8);
    if (Fnv(std::string_view(l.data(), l.size() - 8)) != sum)
      return bad("learning.bin is damaged (checksum)");
    memcpy(&format, l.data() + 8, 4);
    memcpy(&bin_minutes, l.data() + 12, 4);
    if (format != kProfileDataFormat || static_cast<int>(bin_minutes) != m.bin_minutes)
      return bad("learning.bin does not belong to these profiles (format or bin length)");
    set.learning = l.substr(16, l.size() - 16 - 8);
  }
  return set;
}

absl::Status CheckCompatible(const ProfileMeta& m, const Config& c) {
  auto diff = [](const char* what, int a, int b) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "the profiles were learned with %s %d, the configuration says %d (learn again, or set "
        "it as learned)", what, a, b));
  };
  if (m.bin_minutes != c.bin_minutes) return diff("bin_minutes", m.bin_minutes, c.bin_minutes);
  if (m.window_bins != c.window_bins) return diff("window_bins", m.window_bins, c.window_bins);
  if (m.rearm_bins != c.rearm_bins) return diff("rearm_bins", m.rearm_bins, c.rearm_bins);
  if (m.hellinger_parts != c.hellinger_parts)
    return absl::InvalidArgumentError(absl::StrFormat(
        "the profiles were learned with hellinger_parts %s, the configuration says %s (learn "
        "again, or set it as learned)",
        HellingerPartsString(m.hellinger_parts), HellingerPartsString(c.hellinger_parts)));
  if (m.tz_offset_minutes != c.tz_offset_minutes)
    return diff("tz_offset_minutes", m.tz_offset_minutes, c.tz_offset_minutes);
  return absl::OkStatus();
}

absl::StatusOr<ProfileSet> LoadForDetect(const std::string& dir, bool config_given,
                                         Config* config, int64_t now_us) {
  auto set = LoadProfiles(dir);
  if (!set.ok()) return set.status();
  if (set->meta.learned_until_us > now_us + 86400000000LL) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s: the profiles were learned until %s, which is in the future: the directory is "
        "future-dated (a clock or a copy gone wrong); learn again",
        dir, FormatTime(set->meta.learned_until_us)));
  }
  if (!config_given) {
    config->bin_minutes = set->meta.bin_minutes;
    config->window_bins = set->meta.window_bins;
    config->rearm_bins = set->meta.rearm_bins;
    config->hellinger_parts = set->meta.hellinger_parts;
    config->tz_offset_minutes = set->meta.tz_offset_minutes;
    config->learning_days = set->meta.learning_days;
  } else {
    // Settings the configuration leaves out are the profiles' own: the
    // directories of an earlier version keep working with a config file.
    if (!config->rearm_bins_set) config->rearm_bins = set->meta.rearm_bins;
    if (!config->hellinger_parts_set) config->hellinger_parts = set->meta.hellinger_parts;
    if (auto st = CheckCompatible(set->meta, *config); !st.ok())
      return absl::FailedPreconditionError(absl::StrFormat("%s: %s", dir, st.message()));
  }
  return set;
}

}  // namespace sw::profiles
