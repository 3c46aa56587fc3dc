// The agent's JSON-lines outputs (events, alarms, records): a path or "-"
// for stdout, opened once, flushed as records arrive.
#pragma once

#include <cstdio>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace sw {

class JsonLinesOut {
 public:
  // "" = disabled, "-" = stdout, else a file opened for appending.
  static absl::StatusOr<std::unique_ptr<JsonLinesOut>> Open(const std::string& where);
  ~JsonLinesOut();
  bool enabled() const { return f_ != nullptr; }
  void Write(const std::string& line);
  void Flush();
  uint64_t lines() const { return lines_; }

 private:
  JsonLinesOut() = default;
  FILE* f_ = nullptr;
  bool owned_ = false;
  uint64_t lines_ = 0;
};

}  // namespace sw
