// SPDX-License-Identifier: BSD-2-Clause
// The call records the profiles learn from: the pipeline's "type":"call"
// JSON lines (docs/formats.md). Only what the profiles use is kept.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sw::profiles {

struct CallRecord {
  std::string_view account;    // caller_user, else the user part of caller
  std::string_view callee;     // callee_user, else the user part of callee
  std::string_view caller_ip;  // empty when absent
  int64_t start_us = 0;        // microseconds since the Unix epoch (UTC)
  double billable_s = 0;
  bool answered = false;
};

enum class ParseResult { kCall, kOtherType, kMalformed };

// Parses one JSON line. The views in *out stay valid until the next call.
// On kMalformed, error() says why.
class RecordParser {
 public:
  ParseResult Parse(std::string_view line, CallRecord* out);
  const std::string& error() const { return error_; }

 private:
  bool Time(std::string_view s, int64_t* us);  // ParseTime, the last date remembered
  std::string account_, callee_, caller_ip_, caller_, callee_uri_, error_;
  char date_[10] = {};  // the last date parsed ("YYYY-MM-DD"), and its days
  int64_t days_ = 0;
  bool have_date_ = false;
};

// "2026-11-25T09:31:22.567389Z" (fraction optional, Z or +HH:MM) to
// microseconds since the epoch; false when it is not such a time.
bool ParseTime(std::string_view s, int64_t* us);
// The inverse, always with six fraction digits and Z.
std::string FormatTime(int64_t us);
// The user part of a sip:, sips: or tel: URI ("" when it has none).
std::string_view UriUser(std::string_view uri);

}  // namespace sw::profiles
