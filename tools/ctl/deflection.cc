// SPDX-License-Identifier: BSD-2-Clause
#include "deflection.h"
#include "seeded_rng.h"

#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "sipwarden/json.h"

namespace sw::ctl {
namespace {

using Rng = honeypot::SeededRng;

// A stream per (seed, case, purpose), so that a row does not depend on the
// rows before it.
uint64_t StreamSeed(uint64_t seed, const DeflectionCase& c, uint64_t purpose) {
  Rng mix(seed ^ (c.real * 0x9e3779b97f4a7c15ull) ^ (c.deflectors * 0xc2b2ae3d27d4eb4full) ^
          (purpose * 0x165667b19e3779f9ull));
  mix.Next();
  return mix.Next();
}

constexpr double kInf = std::numeric_limits<double>::infinity();

std::string Num(double v) {
  if (std::isinf(v)) return "never";
  return absl::StrFormat("%.1f", v);
}

}  // namespace

std::vector<DeflectionCase> DefaultDeflectionCases() {
  std::vector<DeflectionCase> cases;
  for (uint64_t y : {10, 50, 100, 250, 500, 1000, 2000, 5000, 10000}) cases.push_back({1000, y});
  return cases;
}

std::string DefaultDeflectorsList() {
  std::string out;
  for (const DeflectionCase& c : DefaultDeflectionCases()) {
    absl::StrAppend(&out, out.empty() ? "" : ",", c.deflectors);
  }
  return out;
}

DeflectionRow SimulateDeflection(const DeflectionCase& c, const DeflectionOptions& o) {
  DeflectionRow r;
  r.c = c;
  r.calls = o.calls;
  r.bots = o.bots;
  r.block_after = o.block_after;
  r.seed = o.seed;
  const uint64_t n = c.real + c.deflectors;
  if (n == 0) return r;
  // Entries [0, y) of the list are the deflectors, [y, n) the real users:
  // which ones does not matter to a uniform draw.
  const uint64_t y = c.deflectors;
  const double x = static_cast<double>(c.real);
  r.formula = static_cast<double>(y) / static_cast<double>(n);
  r.expected_before_graylist = y ? x / static_cast<double>(y) : kInf;
  r.expected_before_block = y && o.block_after ? o.block_after * x / static_cast<double>(y) : kInf;

  // The share: one bot, no policy.
  Rng share(StreamSeed(o.seed, c, 1));
  for (uint64_t i = 0; i < o.calls; ++i) r.absorbed += share.Below(n) < y;
  r.measured = o.calls ? static_cast<double>(r.absorbed) / static_cast<double>(o.calls) : 0;

  // The policy: bots, each until blocked or out of calls.
  Rng bots(StreamSeed(o.seed, c, 2));
  double sum_gray = 0, sum_block = 0, sum_block_sq = 0;
  for (uint64_t b = 0; b < o.bots; ++b) {
    uint64_t real_calls = 0, hits = 0;
    bool blocked = o.block_after == 0;
    for (uint64_t i = 0; i < o.calls && !blocked; ++i) {
      if (bots.Below(n) >= y) {
        ++real_calls;
        continue;
      }
      if (++hits == 1) {
        ++r.bots_graylisted;
        sum_gray += static_cast<double>(real_calls);
      }
      blocked = hits >= o.block_after;
    }
    if (blocked) ++r.bots_blocked;
    const double rc = static_cast<double>(real_calls);
    sum_block += rc;
    sum_block_sq += rc * rc;
  }
  if (r.bots_graylisted) r.measured_before_graylist = sum_gray / r.bots_graylisted;
  if (o.bots) {
    const double m = sum_block / o.bots;
    r.measured_before_block = m;
    if (o.bots > 1) {
      r.stddev_before_block =
          std::sqrt(std::max(0.0, (sum_block_sq - o.bots * m * m) / (o.bots - 1)));
    }
  }
  return r;
}

std::string FormatDeflectionTable(const std::vector<DeflectionRow>& rows) {
  std::string out;
  absl::StrAppend(&out, absl::StrFormat("%8s %10s %10s %10s %7s | %-21s | %s\n", "", "", "absorbed",
                                        "absorbed", "", "   before graylist", "   before block"));
  absl::StrAppend(&out, absl::StrFormat("%8s %10s %10s %10s %7s | %10s %10s | %10s %10s %9s\n",
                                        "real x", "deflect y", "y/(x+y)", "measured", "diff pp",
                                        "expected", "measured", "expected", "measured", "blocked"));
  for (const DeflectionRow& r : rows) {
    const bool all_blocked = r.bots_blocked == r.bots;
    absl::StrAppend(&out,
                    absl::StrFormat("%8d %10d %9.2f%% %9.2f%% %+7.2f | %10s %10s | %10s %10s %9s\n",
                                    r.c.real, r.c.deflectors, 100 * r.formula, 100 * r.measured,
                                    100 * (r.measured - r.formula), Num(r.expected_before_graylist),
                                    r.bots_graylisted ? Num(r.measured_before_graylist) : "never",
                                    Num(r.expected_before_block),
                                    (all_blocked ? "" : ">") + Num(r.measured_before_block),
                                    absl::StrCat(r.bots_blocked, "/", r.bots)));
  }
  if (!rows.empty()) {
    absl::StrAppend(
        &out, absl::StrFormat(
                  "absorbed: the share of one bot's %d calls that reached a deflector.\n"
                  "before graylist / block: calls that reached real users before the policy\n"
                  "graylisted the bot (its first deflector call) / blocked it (its deflector call\n"
                  "%d); mean of %d bots of at most %d calls each. Seed %d.\n",
                  rows[0].calls, rows[0].block_after, rows[0].bots, rows[0].calls, rows[0].seed));
  }
  return out;
}

std::string DeflectionJson(const DeflectionRow& r) {
  JsonWriter w;
  auto maybe = [&](std::string_view k, double v) {
    if (std::isinf(v)) {
      w.Key(k).Null();
    } else {
      w.Field(k, v);
    }
  };
  w.BeginObject();
  w.Field("real", r.c.real).Field("deflectors", r.c.deflectors);
  w.Field("calls", r.calls).Field("absorbed", r.absorbed);
  w.Field("share_formula", r.formula).Field("share_measured", r.measured);
  w.Field("bots", r.bots).Field("block_after", static_cast<uint64_t>(r.block_after));
  w.Field("bots_graylisted", r.bots_graylisted).Field("bots_blocked", r.bots_blocked);
  maybe("real_before_graylist_expected", r.expected_before_graylist);
  if (r.bots_graylisted) {
    w.Field("real_before_graylist_measured", r.measured_before_graylist);
  } else {
    w.Key("real_before_graylist_measured").Null();
  }
  maybe("real_before_block_expected", r.expected_before_block);
  w.Field("real_before_block_measured", r.measured_before_block);
  w.Field("real_before_block_stddev", r.stddev_before_block);
  w.Field("seed", r.seed);
  w.EndObject();
  return w.Take();
}

}  // namespace sw::ctl
