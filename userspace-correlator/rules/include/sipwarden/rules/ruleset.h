// SPDX-License-Identifier: BSD-2-Clause
// Rule files: YAML an operator edits without recompiling (docs/rules.md).
// Loading compiles every rule (conditions, regular expressions, templates,
// context expressions, calendars) once; the engine only runs compiled rules.
// A file with any error is refused as a whole, and every error is reported
// with its file, line and column.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace sw::rules {

struct ConfigError {
  std::string file;
  int line = 0;    // 1-based; 0 when the error concerns the whole file
  int column = 0;  // 1-based
  std::string message;
  // "FILE:LINE:COL: message"
  std::string ToString() const;
};

namespace internal {
struct RuleSetData;
}

// A compiled, immutable rule set. Engines share it.
class RuleSet {
 public:
  explicit RuleSet(std::unique_ptr<internal::RuleSetData> data);
  ~RuleSet();
  RuleSet(const RuleSet&) = delete;
  RuleSet& operator=(const RuleSet&) = delete;

  size_t size() const;
  std::vector<std::string> names() const;
  // Rules per type, by SEC name ("SingleWithThreshold" -> 3).
  std::map<std::string, int> CountByType() const;
  // The names of the synthetic events the rules match (sorted), and in
  // *all whether some rule matches every synthetic event. A controller's
  // central rules use it to tell agents what to forward.
  std::vector<std::string> SyntheticNamesMatched(bool* all = nullptr) const;
  // "12 rules (3 Single, 2 SingleWithThreshold, ...)"
  std::string Summary() const;

  const internal::RuleSetData& data() const { return *data_; }

 private:
  std::unique_ptr<internal::RuleSetData> data_;
};

struct LoadOptions {
  // false: a rule or action that runs a script is an error (FILE:LINE), for
  // hosts where the operator disabled scripts.
  bool allow_scripts = true;
};

// Reads and compiles a rule file. On failure returns InvalidArgument (or the
// I/O error) and, when errors is given, appends every error found.
absl::StatusOr<std::shared_ptr<const RuleSet>> LoadRuleFile(
    std::string_view path, std::vector<ConfigError>* errors = nullptr,
    const LoadOptions& options = {});
// The same from text; file_name is used in error reports.
absl::StatusOr<std::shared_ptr<const RuleSet>> LoadRuleText(
    std::string_view yaml, std::string_view file_name, std::vector<ConfigError>* errors = nullptr,
    const LoadOptions& options = {});

}  // namespace sw::rules
