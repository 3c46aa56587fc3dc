// SPDX-License-Identifier: BSD-2-Clause
// The agent's JSON-lines outputs (events, alarms, records): a path or "-"
// for stdout, opened once, flushed as records arrive. Lines for a file are
// collected and written whole (write(2) of complete lines only), so a reader
// that follows the file never sees half a line, however much is written at
// once; stdout goes through stdio, so outputs sharing it keep their order.
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "sipwarden/json.h"

namespace sw {

class JsonLinesOut {
 public:
  // "" = disabled, "-" = stdout, else a file opened for appending.
  static absl::StatusOr<std::unique_ptr<JsonLinesOut>> Open(const std::string& where);
  ~JsonLinesOut();
  bool enabled() const { return f_ != nullptr; }
  void Write(std::string_view line);
  // Writes an event or call record as its line (ev::ToJson(x, JsonWriter&),
  // found by argument-dependent lookup) formatted in a writer kept from line
  // to line: no allocation per line, and nothing is formatted for a disabled
  // output.
  template <typename T>
  void WriteJson(const T& x) {
    if (f_) Write(ToJson(x, json_));
  }
  void Flush();
  uint64_t lines() const { return lines_; }

 private:
  JsonLinesOut() = default;
  static constexpr size_t kFlushBytes = 64 * 1024;
  FILE* f_ = nullptr;
  bool owned_ = false;
  uint64_t lines_ = 0;
  std::string pending_;  // complete lines not written yet
  JsonWriter json_;
};

}  // namespace sw
