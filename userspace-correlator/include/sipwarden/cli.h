// SPDX-License-Identifier: BSD-2-Clause
// Command-line conventions shared by every sipwarden program.
#pragma once

#include <string>
#include <vector>

#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/string_view.h"

namespace sw {

// Sets the usage text and makes --help list the program's own flags (by
// default Abseil lists only flags defined in a file named like the binary,
// and ours are not), leaving Abseil's internal flags to --helpfull.
inline void SetUsage(const char* usage) {
  absl::SetProgramUsageMessage(usage);
  absl::FlagsUsageConfig config;
  config.contains_help_flags = [](absl::string_view file) {
    return file.find("/absl/") == absl::string_view::npos;
  };
  config.contains_helpshort_flags = config.contains_help_flags;
  config.version_string = [] { return std::string(SW_VERSION) + "\n"; };
  absl::SetFlagsUsageConfig(config);
}

// Abseil flag names are C++ identifiers, but users type --pin-dir, and
// "--events-out -" (abseil would take the lone "-" for a mistake). Returns
// an argv with dashes in flag names turned into underscores (names only,
// never values) and "--flag -" joined into "--flag=-". The strings live as
// long as the returned object.
class NormalizedArgs {
 public:
  NormalizedArgs(int argc, char** argv) {
    for (int i = 0; i < argc; ++i) {
      std::string a = argv[i];
      if (i > 0 && a.size() > 2 && a[0] == '-' && a[1] == '-') {
        for (size_t k = 2; k < a.size() && a[k] != '='; ++k) {
          if (a[k] == '-') a[k] = '_';
        }
        if (a.find('=') == std::string::npos && i + 1 < argc && std::string(argv[i + 1]) == "-") {
          a += "=-";
          ++i;
        }
      }
      storage_.push_back(std::move(a));
    }
    for (auto& s : storage_) ptrs_.push_back(s.data());
    ptrs_.push_back(nullptr);
  }
  int argc() const { return static_cast<int>(storage_.size()); }
  char** argv() { return ptrs_.data(); }

 private:
  std::vector<std::string> storage_;
  std::vector<char*> ptrs_;
};

}  // namespace sw
