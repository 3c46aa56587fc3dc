// SPDX-License-Identifier: BSD-2-Clause
// One benchmark figure as a JSON line on stdout (docs/formats.md,
// "Benchmarks"): {"bench","metric","value","unit","baseline",
// "baseline_value","ratio"}, ratio value / baseline_value (null when the
// baseline is 0). Shared by the benchmark programs under tools/bench.
#pragma once

#include <iostream>
#include <limits>
#include <string_view>

#include "sipwarden/json.h"

namespace sw::bench {

template <typename T>
void PrintFigure(std::string_view bench, std::string_view metric, T value, std::string_view unit,
                 std::string_view baseline, T baseline_value) {
  const double ratio = baseline_value != 0
                           ? static_cast<double>(value) / static_cast<double>(baseline_value)
                           : std::numeric_limits<double>::quiet_NaN();  // written as null
  JsonWriter w;
  w.BeginObject()
      .Field("bench", bench)
      .Field("metric", metric)
      .Field("value", value)
      .Field("unit", unit)
      .Field("baseline", baseline)
      .Field("baseline_value", baseline_value)
      .Field("ratio", ratio)
      .EndObject();
  std::cout << w.str() << std::endl;
}

}  // namespace sw::bench
