// SPDX-License-Identifier: BSD-2-Clause
// A small streaming JSON writer for the JSON-lines outputs (events, alarms,
// records, benchmark figures). Escapes strings as RFC 8259 requires; bytes
// that are not valid UTF-8 are written as U+FFFD so every line stays valid.
//
// The agent writes a line for every SIP message, so the common steps (a key
// or a string that needs no escaping, an integer) are inline and write
// straight into the buffer: one room check, no call into the string library
// per piece. Text that needs escaping takes the slower way.
#pragma once

#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "sipwarden/copy_short.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace sw {

// Bytes a JSON string holds as they are: printable ASCII but the quote and
// the backslash.
inline constexpr std::array<bool, 256> kPlainJsonByte = [] {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x7f; ++c) t[c] = c != '"' && c != '\\';
  return t;
}();

namespace json_internal {
inline uint64_t Load8(const char* p) {
  uint64_t x;
  std::memcpy(&x, p, 8);
  return x;
}
inline uint32_t Load4(const char* p) {
  uint32_t x;
  std::memcpy(&x, p, 4);
  return x;
}
// Whether all 8 bytes of x are plain (kPlainJsonByte), without a branch per
// byte: none has its top bit set, none is below 0x20, none equals 0x7f, '"'
// or '\\'. Each test sets a byte's top bit exactly when some byte fails it
// (borrows run only above a failing byte).
inline bool Plain8(uint64_t x) {
  constexpr uint64_t kOnes = 0x0101010101010101, kTops = 0x8080808080808080;
  auto zero_byte = [&](uint64_t v) { return (v - kOnes) & ~v; };
  const uint64_t below_space = (x - 0x20 * kOnes) & ~x;
  const uint64_t bad = x | below_space | zero_byte(x ^ (0x7f * kOnes)) |
                       zero_byte(x ^ ('"' * kOnes)) | zero_byte(x ^ ('\\' * kOnes));
  return (bad & kTops) == 0;
}
}  // namespace json_internal

#ifdef __SSE2__
namespace json_internal {
// Bit i set when byte i of the 16 in v (or at p) is plain: above 0x1f (a signed
// compare: bytes from 0x80 are negative), not 0x7f, and neither '"' nor '\\'.
inline unsigned PlainMask16(__m128i v) {
  const __m128i bad = _mm_or_si128(
      _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f)),
      _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
  return static_cast<unsigned>(
      _mm_movemask_epi8(_mm_andnot_si128(bad, _mm_cmpgt_epi8(v, _mm_set1_epi8(0x1f)))));
}
inline unsigned PlainMask16(const char* p) {
  return PlainMask16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
}  // namespace json_internal
#endif

class JsonWriter {
 public:
  // Room for a line of n bytes, so that a large object is not copied as it grows.
  void Reserve(size_t n) {
    if (out_.size() < n) out_.resize(n);
  }
  JsonWriter& BeginObject() { return Open('{'); }
  JsonWriter& EndObject() { return Close('}'); }
  JsonWriter& BeginArray() { return Open('['); }
  JsonWriter& EndArray() { return Close(']'); }
  JsonWriter& Key(std::string_view k) {
    if (!Plain(k)) return KeyEscaped(k);
    char* p = Quoted(Separate(Room(k.size() + 4)), k);
    *p++ = ':';
    Wrote(p);
    sep_ = 0;  // the value follows the colon
    return *this;
  }
  JsonWriter& String(std::string_view v) {
    if (!Plain(v)) return StringEscaped(v);
    Wrote(Quoted(Separate(Room(v.size() + 3)), v));
    return *this;
  }
  JsonWriter& Int(int64_t v) { return Number(v); }
  JsonWriter& Uint(uint64_t v) { return Number(v); }
  JsonWriter& Double(double v);
  JsonWriter& Bool(bool v) { return Literal(v ? std::string_view("true") : "false"); }
  JsonWriter& Null() { return Literal("null"); }

  // Key + value shorthands.
  JsonWriter& Field(std::string_view k, std::string_view v) { return Key(k).String(v); }
  JsonWriter& Field(std::string_view k, const char* v) { return Key(k).String(v); }
  JsonWriter& Field(std::string_view k, int64_t v) { return Key(k).Int(v); }
  JsonWriter& Field(std::string_view k, int v) { return Key(k).Int(v); }
  JsonWriter& Field(std::string_view k, uint64_t v) { return Key(k).Uint(v); }
  JsonWriter& Field(std::string_view k, uint32_t v) { return Key(k).Uint(v); }
  JsonWriter& Field(std::string_view k, double v) { return Key(k).Double(v); }
  JsonWriter& Field(std::string_view k, bool v) { return Key(k).Bool(v); }

  // What was written so far.
  std::string_view str() const { return std::string_view(out_.data(), n_); }
  // The text, leaving the writer empty.
  std::string Take();
  // Empties the writer for the next line, keeping its buffer (a writer used
  // for line after line allocates only when a line outgrows all before it).
  void Clear() {
    n_ = 0;
    depth_ = 0;
    sep_ = 0;
  }

 private:
  // Whether no byte of s needs escaping: 16 bytes at a time from 16 on, and
  // below that one check of two overlapping loads (8 bytes each from 8 on, 4
  // each from 4 on), so that a short string costs no branch per byte.
  // Always inlined: for a key written as a literal ("call_id") the compiler
  // then works the check out at compile time.
  [[gnu::always_inline]] static bool Plain(std::string_view s) {
    const char* p = s.data();
    const size_t n = s.size();
#ifdef __SSE2__
    if (n >= 16) {
      for (size_t i = 0; i + 16 < n; i += 16) {
        if (json_internal::PlainMask16(p + i) != 0xffff) return false;
      }
      // The last 16 bytes (overlapping what was read).
      return json_internal::PlainMask16(p + n - 16) == 0xffff;
    }
    if (n >= 8) {
      return json_internal::PlainMask16(
                 _mm_set_epi64x(static_cast<int64_t>(json_internal::Load8(p + n - 8)),
                                static_cast<int64_t>(json_internal::Load8(p)))) == 0xffff;
    }
    if (n >= 4) {  // the two halves, each twice
      const uint64_t x = json_internal::Load4(p) | uint64_t{json_internal::Load4(p + n - 4)} << 32;
      return json_internal::PlainMask16(_mm_set1_epi64x(static_cast<int64_t>(x))) == 0xffff;
    }
#endif
    if (n >= 8) {
      for (size_t i = 0; i + 8 < n; i += 8) {
        if (!json_internal::Plain8(json_internal::Load8(p + i))) return false;
      }
      return json_internal::Plain8(json_internal::Load8(p + n - 8));
    }
    if (n >= 4) {
      return json_internal::Plain8(json_internal::Load4(p) |
                                   uint64_t{json_internal::Load4(p + n - 4)} << 32);
    }
    for (size_t i = 0; i < n; ++i) {
      if (!kPlainJsonByte[static_cast<unsigned char>(p[i])]) return false;
    }
    return true;
  }
  // Where the next n bytes go (out_ is kept at least n_ + n long; only
  // out_[0, n_) is text).
  char* Room(size_t n) {
    if (out_.size() - n_ < n) Grow(n);
    return out_.data() + n_;
  }
  void Grow(size_t n);
  // Writes s, which needs no escaping, between quotes at p (which has room
  // for them); returns where it ends.
  static char* Quoted(char* p, std::string_view s) {
    *p++ = '"';
    CopyShort(p, s.data(), s.size());
    p += s.size();
    *p++ = '"';
    return p;
  }
  void Wrote(const char* end) { n_ = static_cast<size_t>(end - out_.data()); }
  // Writes the comma before an element (unless it is the first of its
  // container, a key's value or at the top level) at p, which has room for
  // it; returns where the element goes.
  char* Separate(char* p) {
    if (sep_) *p++ = sep_;
    sep_ = depth_ ? ',' : 0;  // what the next element in this container needs
    return p;
  }
  JsonWriter& Open(char c) {
    char* p = Separate(Room(2));
    *p++ = c;
    Wrote(p);
    ++depth_;
    sep_ = 0;
    return *this;
  }
  JsonWriter& Close(char c) {
    *Room(1) = c;
    ++n_;
    if (depth_ > 0) --depth_;
    sep_ = depth_ ? ',' : 0;  // the container was an element of the one around it
    return *this;
  }
  JsonWriter& Literal(std::string_view s) {
    char* p = Separate(Room(s.size() + 1));
    std::memcpy(p, s.data(), s.size());
    Wrote(p + s.size());
    return *this;
  }
  template <typename T>
  JsonWriter& Number(T v) {
    char* p = Separate(Room(24));  // a comma and 20 digits and a sign at most
    Wrote(std::to_chars(p, p + 22, v).ptr);
    return *this;
  }
  JsonWriter& KeyEscaped(std::string_view k);
  JsonWriter& StringEscaped(std::string_view v);

  std::string out_;  // the text is out_[0, n_); the rest is room
  size_t n_ = 0;
  // Containers open. An element's separator depends only on what came just
  // before it: nothing after an opening bracket, a key's colon or at the top
  // level, a comma after an element inside a container.
  size_t depth_ = 0;
  char sep_ = 0;  // what the next element is written after: ',' or nothing
};

// Appends s to out as a JSON string literal (with quotes).
void AppendJsonString(std::string& out, std::string_view s);

}  // namespace sw
