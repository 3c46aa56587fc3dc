// SPDX-License-Identifier: BSD-2-Clause
#include "sipwarden/profiles/config.h"

#include <yaml-cpp/yaml.h>

#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "sipwarden/profiles/distance.h"
#include "sipwarden/profiles/numbers.h"
#include "sipwarden/profiles/record.h"

namespace sw::profiles {

bool ParseDay(std::string_view s, int64_t* day) {
  if (s.size() != 10) return false;
  int64_t us;
  if (!ParseTime(absl::StrFormat("%sT00:00:00Z", s), &us)) return false;
  *day = us / 86400000000LL;
  return FormatTime(us).substr(0, 10) == s;  // refuses 2026-02-31
}

namespace {
// A list of names, or one name; false when it is neither.
bool Names(const YAML::Node& v, std::vector<std::string>* out) {
  if (v.IsScalar()) out->push_back(v.as<std::string>());
  else if (v.IsSequence())
    for (const auto& d : v) out->push_back(d.as<std::string>());
  else return false;
  return true;
}
}  // namespace

std::string_view HellingerPartName(int part) {
  switch (part) {
    case kHellCallees: return "callees";
    case kHellGrowth: return "growth";
    case kHellTime: return "time";
  }
  return "?";
}

std::string HellingerPartsString(uint32_t parts) {
  std::string s;
  for (int i = 0; i < kHellParts; ++i)
    if (parts >> i & 1) s += (s.empty() ? "" : ",") + std::string(HellingerPartName(i));
  return s;
}

absl::Status Validate(const Config& c) {
  auto bad = [](const std::string& m) { return absl::InvalidArgumentError(m); };
  if (c.bin_minutes < 5 || c.bin_minutes > 1440 || 1440 % c.bin_minutes != 0)
    return bad("bin_minutes must divide a day (1440) and be at least 5");
  if (c.window_bins < 1 || c.window_bins > 7 * c.bins_per_day())
    return bad("window_bins must be 1 to a week of bins");
  if (c.rearm_bins < 1 || c.rearm_bins > 255) return bad("rearm_bins must be 1 to 255");
  if (c.warmup_days < 0 || c.calibration_after_days < 1 ||
      c.learning_days < c.warmup_days + c.calibration_after_days + 1)
    return bad("learning_days must exceed warmup_days + calibration_after_days (>= 1)");
  if (c.min_learning_days <= c.warmup_days + c.calibration_after_days ||
      c.min_learning_days > c.learning_days)
    return bad("min_learning_days must exceed warmup_days + calibration_after_days and be at most "
               "learning_days");
  if (c.min_bin_samples < 1) return bad("min_bin_samples must be at least 1");
  if (c.lateness_minutes < 0 || c.lateness_minutes > 1440) return bad("lateness_minutes: 0 to 1440");
  if (c.tz_offset_minutes < -14 * 60 || c.tz_offset_minutes > 14 * 60)
    return bad("tz_offset_minutes: -840 to 840");
  if (!(c.target_false_alarms > 0 && c.target_false_alarms < 1000))
    return bad("target_false_alarms_per_1000_account_days must be in (0, 1000)");
  if (!(c.shrink_days >= 0) || !(c.hellinger_prior >= 0)) return bad("negative shrink or prior");
  if (c.adapt_days < 0 || c.adapt_days > 3650) return bad("adapt_days outside 0..3650");
  if (c.classes < 0 || c.classes > 250) return bad("classes outside 0..250");
  if (c.alarm_distances == 0) return bad("no distance raises alarms");
  if (c.hellinger_parts == 0 || c.hellinger_parts >= (1u << kHellParts))
    return bad("hellinger_parts: one or more of callees, growth, time");
  return absl::OkStatus();
}

absl::Status LoadConfig(const std::string& path, Config* c) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: %s", path, e.what()));
  }
  if (root.IsNull()) return Validate(*c);
  if (!root.IsMap()) return absl::InvalidArgumentError(path + ": not a map of settings");
  for (const auto& kv : root) {
    const std::string key = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    const int line = kv.first.Mark().line + 1;
    auto err = [&](const std::string& m) {
      return absl::InvalidArgumentError(absl::StrFormat("%s:%d: %s: %s", path, line, key, m));
    };
    try {
      if (key == "bin_minutes") c->bin_minutes = v.as<int>();
      else if (key == "window_bins") c->window_bins = v.as<int>();
      else if (key == "rearm_bins") c->rearm_bins = v.as<int>(), c->rearm_bins_set = true;
      else if (key == "learning_days") c->learning_days = v.as<int>();
      else if (key == "min_learning_days") c->min_learning_days = v.as<int>();
      else if (key == "warmup_days") c->warmup_days = v.as<int>();
      else if (key == "calibration_after_days") c->calibration_after_days = v.as<int>();
      else if (key == "min_bin_samples") c->min_bin_samples = v.as<int>();
      else if (key == "lateness_minutes") c->lateness_minutes = v.as<int>();
      else if (key == "tz_offset_minutes") c->tz_offset_minutes = v.as<int>();
      else if (key == "target_false_alarms_per_1000_account_days")
        c->target_false_alarms = v.as<double>();
      else if (key == "shrink_days") c->shrink_days = v.as<double>();
      else if (key == "hellinger_prior") c->hellinger_prior = v.as<double>();
      else if (key == "adapt_days") c->adapt_days = v.as<int>();
      else if (key == "classes") c->classes = v.as<int>();
      else if (key == "known_bots") {
        if (!v.IsSequence()) return err("a list of accounts");
        for (const auto& b : v) c->known_bots.insert(b.as<std::string>());
      }
      else if (key == "alarm_mode") {
        const std::string mode = v.as<std::string>();
        if (mode != "any" && mode != "each") return err("'" + mode + "' is not any or each");
        c->alarm_each = mode == "each";
      }
      else if (key == "home_country") {
        const std::string s = v.as<std::string>();
        const std::string d = s.substr(s.starts_with('+') ? 1 : 0);
        c->home_country = CountryCode(d);
        if (c->home_country == 0 || std::to_string(c->home_country) != d)
          return err("'" + s + "' is not an E.164 country code");
      } else if (key == "accounts") {
        if (!v.IsMap()) return err("a map of account: {home_country: CC}");
        for (const auto& a : v) {
          const std::string s = a.second["home_country"].as<std::string>();
          const std::string d = s.substr(s.starts_with('+') ? 1 : 0);
          const int cc = CountryCode(d);
          if (cc == 0 || std::to_string(cc) != d)
            return err("'" + s + "' is not an E.164 country code");
          c->account_home[a.first.as<std::string>()] = cc;
        }
      } else if (key == "high_risk" || key == "high_risk_add") {
        if (!v.IsSequence()) return err("a list of E.164 prefixes");
        if (key == "high_risk") c->high_risk.clear();
        else if (c->high_risk.empty()) c->high_risk = DefaultHighRisk();
        for (const auto& p : v) c->high_risk.push_back(p.as<std::string>());
        NumberPlan plan;
        if (auto st = plan.SetHighRisk(c->high_risk); !st.ok()) return err(std::string(st.message()));
      } else if (key == "exclusion_days") {
        if (!v.IsSequence()) return err("a list of dates (YYYY-MM-DD)");
        for (const auto& d : v) {
          int64_t day;
          if (!ParseDay(d.as<std::string>(), &day))
            return err("'" + d.as<std::string>() + "' is not a date (YYYY-MM-DD)");
          c->exclusion_days.insert(day);
        }
      } else if (key == "hellinger_parts") {
        c->hellinger_parts = 0;
        c->hellinger_parts_set = true;
        std::vector<std::string> names;
        if (!Names(v, &names)) return err("a part or a list of them (callees, growth, time)");
        for (const std::string& n : names) {
          int part = -1;
          for (int i = 0; i < kHellParts; ++i)
            if (HellingerPartName(i) == n) part = i;
          if (part < 0) return err("unknown part '" + n + "' (callees, growth, time)");
          c->hellinger_parts |= 1u << part;
        }
      } else if (key == "alarm_distances") {
        c->alarm_distances = 0;
        std::vector<std::string> names;
        if (!Names(v, &names)) return err("a distance or a list of them");
        for (const std::string& n : names) {
          if (n == "all") {
            c->alarm_distances = (1u << kDistances) - 1;
            continue;
          }
          auto id = DistanceByName(n);
          if (!id) return err("unknown distance '" + n + "' (euclidean, quadratic, mahalanobis, hellinger, all)");
          c->alarm_distances |= 1u << *id;
        }
      } else {
        return err("unknown setting");
      }
    } catch (const YAML::Exception& e) {
      return err(e.what());
    }
  }
  if (auto st = Validate(*c); !st.ok())
    return absl::InvalidArgumentError(absl::StrFormat("%s: %s", path, st.message()));
  return absl::OkStatus();
}

}  // namespace sw::profiles
