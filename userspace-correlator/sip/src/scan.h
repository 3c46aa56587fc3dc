// SPDX-License-Identifier: BSD-2-Clause
// Internal scanning helpers: character classes of RFC 3261 section 25.1 and
// a fault record that remembers the first error and where it happened.
#pragma once

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <bit>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "sipwarden/sip/result.h"
#include "sipwarden/sip/text.h"

namespace sw::sip::internal {

enum CharClass : uint16_t {
  kToken = 1 << 0,       // token
  kUnreserved = 1 << 1,  // alphanum / mark
  kUser = 1 << 2,        // unreserved / user-unreserved (escapes checked apart)
  kPassword = 1 << 3,    // unreserved / & = + $ ,
  kParamChar = 1 << 4,   // unreserved / [ ] / : & + $
  kHnvChar = 1 << 5,     // unreserved / [ ] / ? : + $
  kHostChar = 1 << 6,    // alphanum - . _
  kWord = 1 << 7,        // Call-ID word
  kGenValue = 1 << 8,    // token / host (incl. [v6] and ':')
  kHex = 1 << 9,
  kDigit = 1 << 10,
  kAlpha = 1 << 11,
  kSchemeChar = 1 << 12,  // ALPHA DIGIT + - .
  kUric = 1 << 13,        // printable, not SP < > " (lenient absoluteURI)
  kIpv6Text = 1 << 14,    // HEXDIG : . (an IPv6 address as text)
};

constexpr bool InSet(char c, std::string_view set) { return set.find(c) != std::string_view::npos; }

constexpr uint16_t ClassesOf(unsigned char u) {
  const char c = static_cast<char>(u);
  const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  const bool digit = c >= '0' && c <= '9';
  const bool alnum = alpha || digit;
  const bool unreserved = alnum || InSet(c, "-_.!~*'()");
  uint16_t m = 0;
  if (alnum || InSet(c, "-.!%*_+`'~")) m |= kToken;
  if (unreserved) m |= kUnreserved;
  if (unreserved || InSet(c, "&=+$,;?/")) m |= kUser;
  if (unreserved || InSet(c, "&=+$,")) m |= kPassword;
  if (unreserved || InSet(c, "[]/:&+$")) m |= kParamChar;
  if (unreserved || InSet(c, "[]/?:+$")) m |= kHnvChar;
  if (alnum || InSet(c, "-._")) m |= kHostChar;
  if (alnum || InSet(c, "-.!%*_+`'~()<>:\\\"/[]?{}")) m |= kWord;
  if (alnum || InSet(c, "-.!%*_+`'~:[]")) m |= kGenValue;
  if (digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) m |= kHex;
  if (digit) m |= kDigit;
  if (alpha) m |= kAlpha;
  if (alnum || InSet(c, "+-.")) m |= kSchemeChar;
  if (u > 0x20 && u < 0x7f && !InSet(c, "<>\"")) m |= kUric;
  if ((m & kHex) != 0 || c == ':' || c == '.') m |= kIpv6Text;
  return m;
}

struct CharTable {
  uint16_t v[256];
};
constexpr CharTable MakeCharTable() {
  CharTable t{};
  for (int i = 0; i < 256; ++i) t.v[i] = ClassesOf(static_cast<unsigned char>(i));
  return t;
}
inline constexpr CharTable kCharTable = MakeCharTable();

constexpr bool Is(char c, uint16_t cls) {
  return (kCharTable.v[static_cast<unsigned char>(c)] & cls) != 0;
}
constexpr bool IsWsp(char c) { return c == ' ' || c == '\t'; }
constexpr bool IsLwsChar(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
constexpr int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
constexpr char ToLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

inline size_t SkipLws(std::string_view s, size_t i) {
  while (i < s.size() && IsLwsChar(s[i])) ++i;
  return i;
}
inline size_t SkipClass(std::string_view s, size_t i, uint16_t cls) {
  while (i < s.size() && Is(s[i], cls)) ++i;
  return i;
}

#if defined(__SSE2__)
// 0xff in each lane of v that holds one of Cs.
template <char... Cs>
inline __m128i MatchAny(__m128i v) {
  __m128i m = _mm_setzero_si128();
  ((m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8(Cs)))), ...);
  return m;
}
#endif

// The index of the first octet at or after s[i] that is one of Cs, or
// s.size() if there is none. Most of a message is long runs of ordinary
// octets between a few delimiters (line ends, list commas, quotes); with
// SSE2 they are skipped sixteen at a time instead of one test per octet.
template <char... Cs>
inline size_t FindFirstOf(std::string_view s, size_t i) {
  const char* const b = s.data();
  const size_t n = s.size();
#if defined(__SSE2__)
  if (n >= 16) {
    for (; i + 16 <= n; i += 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i));
      const unsigned hits = static_cast<unsigned>(_mm_movemask_epi8(MatchAny<Cs...>(v)));
      if (hits != 0) return i + static_cast<size_t>(std::countr_zero(hits));
    }
    if (i >= n) return i;
    // The last 1..15 octets: the sixteen that end s, without the lanes
    // before i, instead of a test per octet.
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + n - 16));
    const unsigned hits =
        static_cast<unsigned>(_mm_movemask_epi8(MatchAny<Cs...>(v))) >> (16 - (n - i));
    return hits != 0 ? i + static_cast<size_t>(std::countr_zero(hits)) : n;
  }
#endif
  while (i < n && ((b[i] != Cs) && ...)) ++i;
  return i;
}

// The index of the first control octet (below 0x20) other than HTAB in s,
// or s.size(): sixteen octets a test with SSE2 (a start line is 50 to 100).
inline size_t FindControl(std::string_view s) {
  const char* const b = s.data();
  const size_t n = s.size();
  size_t i = 0;
#if defined(__SSE2__)
  auto controls = [](const char* p) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i low = _mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(0x1f)), _mm_set1_epi8(0x1f));
    return static_cast<unsigned>(
        _mm_movemask_epi8(_mm_andnot_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\t')), low)));
  };
  if (n >= 16) {
    for (; i + 16 <= n; i += 16) {
      if (const unsigned hits = controls(b + i))
        return i + static_cast<size_t>(std::countr_zero(hits));
    }
    if (i >= n) return n;
    const unsigned hits = controls(b + n - 16) >> (16 - (n - i));  // the last 1..15
    return hits != 0 ? i + static_cast<size_t>(std::countr_zero(hits)) : n;
  }
#endif
  while (i < n && !(static_cast<unsigned char>(b[i]) < 0x20 && b[i] != '\t')) ++i;
  return i;
}

// s.find(C, i), inline: most strings searched are shorter than a call to
// memchr is worth.
template <char C>
inline size_t Find(std::string_view s, size_t i = 0) {
  const size_t k = FindFirstOf<C>(s, i);
  return k < s.size() ? k : std::string_view::npos;
}

// Characters of cls, or %HH escapes. Returns false on a malformed escape.
bool AllOfEscaped(std::string_view s, uint16_t cls);

// Parses an unsigned decimal (leading zeros allowed, any length). Returns
// false if s is empty or has a non-digit; sets *overflow, and leaves *out at
// max, when the value exceeds max.
bool ParseDecimal(std::string_view s, uint64_t max, uint64_t* out, bool* overflow);

// The first fault seen while parsing, with a pointer into the input.
struct Fault {
  Reason reason = Reason::kOk;
  std::string_view what;
  const char* at = nullptr;

  // Records the fault unless one is already recorded; always returns false
  // so that `return f->Set(...)` reads as a failed parse.
  bool Set(Reason r, std::string_view w, const char* p) {
    if (reason == Reason::kOk) {
      reason = r;
      what = w;
      at = p;
    }
    return false;
  }
  bool ok() const { return reason == Reason::kOk; }
  ParseError ToError(const char* base) const {
    size_t off = (at != nullptr && at >= base) ? static_cast<size_t>(at - base) : 0;
    return ParseError{reason, what, off};
  }
};

// ForEachParam (text.h), except that an unquoted value of a parameter named
// `bare_value_name` (case-insensitive; none if empty) runs to the next LWS or
// ';' whatever its octets are: To/From tags as some devices write them.
Reason ForEachParam(std::string_view params, std::string_view bare_value_name,
                    absl::FunctionRef<bool(const Param&)> fn);

// Scans a quoted string starting at s[i] == '"'. On success returns the
// index after the closing quote; on failure returns std::string_view::npos.
size_t ScanQuoted(std::string_view s, size_t i);

}  // namespace sw::sip::internal
