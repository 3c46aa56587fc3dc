// SPDX-License-Identifier: BSD-2-Clause
// A small streaming JSON writer for the JSON-lines outputs (events, alarms,
// records, benchmark figures). Escapes strings as RFC 8259 requires; bytes
// that are not valid UTF-8 are written as U+FFFD so every line stays valid.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/inlined_vector.h"

namespace sw {

class JsonWriter {
 public:
  // Room for a line of n bytes, so that a large object is not copied as it grows.
  void Reserve(size_t n) { out_.reserve(n); }
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view k);
  JsonWriter& String(std::string_view v);
  JsonWriter& Int(int64_t v);
  JsonWriter& Uint(uint64_t v);
  JsonWriter& Double(double v);
  JsonWriter& Bool(bool v);
  JsonWriter& Null();

  // Key + value shorthands.
  JsonWriter& Field(std::string_view k, std::string_view v) { return Key(k).String(v); }
  JsonWriter& Field(std::string_view k, const char* v) { return Key(k).String(v); }
  JsonWriter& Field(std::string_view k, int64_t v) { return Key(k).Int(v); }
  JsonWriter& Field(std::string_view k, int v) { return Key(k).Int(v); }
  JsonWriter& Field(std::string_view k, uint64_t v) { return Key(k).Uint(v); }
  JsonWriter& Field(std::string_view k, uint32_t v) { return Key(k).Uint(v); }
  JsonWriter& Field(std::string_view k, double v) { return Key(k).Double(v); }
  JsonWriter& Field(std::string_view k, bool v) { return Key(k).Bool(v); }

  const std::string& str() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  // The comma before an element, unless it is the first of its container
  // or a key's value.
  void Separate() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (!written_.empty()) {
      if (written_.back()) out_.push_back(',');
      written_.back() = 1;
    }
  }
  static constexpr size_t kShortKey = 64;
  std::string out_;
  // Per open container: 1 once an element is written. Inline (lines nest a
  // few levels), and bytes rather than vector<bool>'s bits: every element
  // reads and writes it.
  absl::InlinedVector<uint8_t, 8> written_;
  bool after_key_ = false;
};

// Appends s to out as a JSON string literal (with quotes).
void AppendJsonString(std::string& out, std::string_view s);

}  // namespace sw
