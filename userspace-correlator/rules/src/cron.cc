// SPDX-License-Identifier: BSD-2-Clause
#include "cron.h"

#include <limits>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "sipwarden/absl_compat.h"

namespace sw::rules::internal {
namespace {

// Parses one cron field into bits lo..hi.
absl::Status ParseField(std::string_view text, int lo, int hi, std::string_view what,
                        uint64_t* bits, bool* star) {
  *bits = 0;
  *star = text == "*";
  for (absl::string_view part : absl::StrSplit(AV(text), ',')) {
    std::string_view p = SV(part);
    int step = 1;
    if (const size_t slash = p.find('/'); slash != std::string_view::npos) {
      if (!absl::SimpleAtoi(AV(p.substr(slash + 1)), &step) || step <= 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("bad step in ", AV(what), " field '", AV(text), "'"));
      }
      p = p.substr(0, slash);
      if (step != 1) *star = false;
    }
    int a = lo, b = hi;
    if (p != "*") {
      const size_t dash = p.find('-');
      if (dash == std::string_view::npos) {
        if (!absl::SimpleAtoi(AV(p), &a)) {
          return absl::InvalidArgumentError(
              absl::StrCat("bad ", AV(what), " '", AV(p), "' (a number, a-b, */n or *)"));
        }
        b = (step != 1) ? hi : a;
      } else if (!absl::SimpleAtoi(AV(p.substr(0, dash)), &a) ||
                 !absl::SimpleAtoi(AV(p.substr(dash + 1)), &b)) {
        return absl::InvalidArgumentError(absl::StrCat("bad ", AV(what), " range '", AV(p), "'"));
      }
    }
    if (a < lo || b > hi || a > b) {
      return absl::InvalidArgumentError(
          absl::StrCat(AV(what), " '", AV(p), "' outside ", lo, "..", hi));
    }
    for (int v = a; v <= b; v += step) *bits |= uint64_t{1} << v;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ParseCron(std::string_view spec, Calendar* out) {
  std::vector<absl::string_view> f = absl::StrSplit(AV(spec), ' ', absl::SkipWhitespace());
  if (f.size() != 5) {
    return absl::InvalidArgumentError(
        absl::StrCat("calendar time '", AV(spec),
                     "' needs five fields: minute hour day-of-month month day-of-week"));
  }
  uint64_t bits;
  bool star;
  absl::Status st = ParseField(SV(f[0]), 0, 59, "minute", &bits, &star);
  if (!st.ok()) return st;
  out->minutes = bits;
  if (st = ParseField(SV(f[1]), 0, 23, "hour", &bits, &star); !st.ok()) return st;
  out->hours = static_cast<uint32_t>(bits);
  if (st = ParseField(SV(f[2]), 1, 31, "day of month", &bits, &star); !st.ok()) return st;
  out->doms = static_cast<uint32_t>(bits);
  out->dom_star = star;
  if (st = ParseField(SV(f[3]), 1, 12, "month", &bits, &star); !st.ok()) return st;
  out->months = static_cast<uint32_t>(bits);
  if (st = ParseField(SV(f[4]), 0, 7, "day of week", &bits, &star); !st.ok()) return st;
  if (bits & (1u << 7)) bits |= 1;  // 7 is Sunday too
  out->dows = static_cast<uint32_t>(bits & 0x7f);
  out->dow_star = star;
  out->is_every = false;
  return absl::OkStatus();
}

int64_t Calendar::Next(int64_t after_ns) const {
  constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
  if (is_every) {
    if (every_ns <= 0) return kNever;
    int64_t q = after_ns / every_ns;
    if (after_ns < 0 && after_ns % every_ns != 0) --q;  // floor
    return (q + 1) * every_ns;
  }
  const absl::Time after = absl::FromUnixNanos(after_ns);
  absl::CivilMinute m = absl::ToCivilMinute(after, tz) + 1;
  // Enough steps for any valid schedule (leap days, Feb 29 on a given weekday).
  for (int guard = 0; guard < 200000; ++guard) {
    if (!(months & (1u << m.month()))) {
      m = absl::CivilMinute(absl::CivilMonth(m) + 1);
      continue;
    }
    const int wd = static_cast<int>(absl::GetWeekday(absl::CivilDay(m)));  // Monday = 0
    const int dow = (wd + 1) % 7;                                          // Sunday = 0
    const bool dom_ok = (doms >> m.day()) & 1;
    const bool dow_ok = (dows >> dow) & 1;
    bool day_ok;
    if (dom_star && dow_star) {
      day_ok = true;
    } else if (dom_star) {
      day_ok = dow_ok;
    } else if (dow_star) {
      day_ok = dom_ok;
    } else {
      day_ok = dom_ok || dow_ok;
    }
    if (!day_ok) {
      m = absl::CivilMinute(absl::CivilDay(m) + 1);
      continue;
    }
    if (!((hours >> m.hour()) & 1)) {
      m = absl::CivilMinute(absl::CivilHour(m) + 1);
      continue;
    }
    if (!((minutes >> m.minute()) & 1)) {
      m += 1;
      continue;
    }
    const int64_t t = absl::ToUnixNanos(absl::FromCivil(m, tz));
    if (t > after_ns) return t;
    m += 1;  // a zone transition mapped this minute back in time
  }
  return kNever;
}

}  // namespace sw::rules::internal
