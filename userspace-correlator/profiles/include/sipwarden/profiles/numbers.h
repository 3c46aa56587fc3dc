// SPDX-License-Identifier: BSD-2-Clause
// Dialled numbers: E.164 country codes, the home country, international and
// high-risk (premium, satellite, IRSF-prone) destinations.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"

namespace sw::profiles {

// The E.164 country code that starts the digits (1 to 3 digits, ITU-T
// E.164 assignment: 1 and 7 are one digit, the two-digit codes are listed,
// every other code has three). 0 when digits is empty or starts with 0.
int CountryCode(std::string_view digits);

// The high-risk destinations shipped with sipwarden (docs/profiles.md):
// E.164 prefixes, digits only.
const std::vector<std::string>& DefaultHighRisk();

struct Dialled {
  int country = 0;           // E.164 country code, 0 when not a public number
  bool international = false;
  bool high_risk = false;
};

class NumberPlan {
 public:
  // prefixes: E.164 prefixes, '+' and separators allowed ("+881", "+49 900").
  absl::Status SetHighRisk(const std::vector<std::string>& prefixes);
  // Classifies a callee user part dialled by an account whose home country
  // is home (0: not known yet; then any number in international format
  // counts as international). International format: '+', "00", or "011"
  // from a NANP (+1) home; national format: one leading 0 (a trunk prefix)
  // outside NANP, ten digits or 1 + ten digits inside it. Anything else (an
  // extension, a name) is internal.
  Dialled Classify(std::string_view user, int home) const;
  // The E.164 digits of an account's own user part when it is written in
  // international format ("+4930...", "004930..."), else "".
  static std::string OwnE164(std::string_view user);
  size_t high_risk_size() const { return prefixes_.size(); }

 private:
  absl::flat_hash_set<uint64_t> prefixes_;  // (length << 56) | value
  // The prefixes of 1 to 4 digits again, as flags: [kShortBase[len] + value].
  static constexpr int kShortBase[5] = {0, 0, 10, 110, 1110};
  std::vector<uint8_t> short_ = std::vector<uint8_t>(11110);
  int max_len_ = 0;
};

}  // namespace sw::profiles
