// SPDX-License-Identifier: BSD-2-Clause
// Calendar schedules: cron's five fields (minute hour day-of-month month
// day-of-week) in a time zone, or a fixed interval aligned to the Unix epoch.
// Evaluated on event time.
#pragma once

#include <cstdint>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace sw::rules::internal {

struct Calendar {
  bool is_every = false;
  int64_t every_ns = 0;
  uint64_t minutes = 0;  // bit m: minute m
  uint32_t hours = 0;
  uint32_t doms = 0;    // bits 1..31
  uint32_t months = 0;  // bits 1..12
  uint32_t dows = 0;    // bits 0..6, Sunday = 0
  bool dom_star = true, dow_star = true;
  absl::TimeZone tz = absl::UTCTimeZone();

  // The first scheduled instant strictly after after_ns, or INT64_MAX.
  int64_t Next(int64_t after_ns) const;
};

// "*/5 * * * *", "0 9-17 * * 1-5", "30 2 1,15 * *". Names (jan, mon) are not
// accepted; day-of-week 7 is Sunday.
absl::Status ParseCron(std::string_view spec, Calendar* out);

}  // namespace sw::rules::internal
