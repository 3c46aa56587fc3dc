// SPDX-License-Identifier: BSD-2-Clause
// A builder for Prometheus's text exposition format (version 0.0.4), shared
// by the agent's and the controller's /metrics (library sw_prom).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace sw {

// Label pairs of one sample, in the order they are written: {{"iface", "eth0"}}.
using PromLabels = std::vector<std::pair<std::string, std::string>>;

// Content-Type of the text exposition format.
inline constexpr std::string_view kPromContentType = "text/plain; version=0.0.4; charset=utf-8";

// Builds one scrape's worth of text exposition. Samples of a family (one
// metric name) may be added in any order and interleaved with other
// families: Take() writes each family once, in the order families were first
// seen, with its "# HELP" and "# TYPE" lines before its samples.
//
// Metric names must match [a-zA-Z_:][a-zA-Z0-9_:]*, label names
// [a-zA-Z_][a-zA-Z0-9_]* and not start with "__"; a sample with a bad name, a
// repeated label name, or a family already added with another type is left
// out and its error kept in status() (the rest of the scrape still goes out).
// Label values may be any bytes: \, " and newline are escaped.
// Counter names should end in "_total" (a convention, not checked).
class PromText {
 public:
  void Counter(std::string_view name, std::string_view help, double value,
               const PromLabels& labels = {});
  void Gauge(std::string_view name, std::string_view help, double value,
             const PromLabels& labels = {});

  // The exposition text; resets the builder (and status()) for the next scrape.
  std::string Take();
  // OK, or the first error since the last Take().
  const absl::Status& status() const { return status_; }

  static bool ValidMetricName(std::string_view name);
  static bool ValidLabelName(std::string_view name);

 private:
  struct Family {
    std::string name;
    std::string help;
    const char* type;
    std::string samples;  // complete sample lines
  };
  void Add(const char* type, std::string_view name, std::string_view help, double value,
           const PromLabels& labels);
  void Fail(absl::Status st);

  std::vector<Family> families_;
  absl::Status status_;
};

}  // namespace sw
