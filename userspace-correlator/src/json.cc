// SPDX-License-Identifier: BSD-2-Clause
#include "sipwarden/json.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace sw {
namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0.
size_t Utf8Len(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  size_t n;
  uint32_t cp;
  if (c < 0x80) return 1;
  if ((c & 0xe0) == 0xc0) {
    n = 2;
    cp = c & 0x1f;
  } else if ((c & 0xf0) == 0xe0) {
    n = 3;
    cp = c & 0x0f;
  } else if ((c & 0xf8) == 0xf0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    const auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3f);
  }
  // Reject overlong forms, surrogates and values past U+10FFFF.
  if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
      (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
    return 0;
  }
  return n;
}

}  // namespace

namespace {

// The end of the run of plain bytes starting at i.
size_t PlainRunEnd(std::string_view s, size_t i) {
#ifdef __SSE2__
  // 16 bytes at a time.
  while (i + 16 <= s.size()) {
    const unsigned ok = json_internal::PlainMask16(s.data() + i);
    if (ok != 0xffff) return i + static_cast<size_t>(__builtin_ctz(~ok));
    i += 16;
  }
#endif
  while (i < s.size() && kPlainJsonByte[static_cast<unsigned char>(s[i])]) ++i;
  return i;
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  for (size_t i = 0; i < s.size();) {
    // Runs of plain bytes (most of any SIP text) are appended at once.
    const size_t run = PlainRunEnd(s, i);
    if (run > i) {
      out.append(s.data() + i, run - i);
      i = run;
      if (i == s.size()) break;
    }
    const auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"': out += "\\\""; ++i; continue;
      case '\\': out += "\\\\"; ++i; continue;
      case '\n': out += "\\n"; ++i; continue;
      case '\r': out += "\\r"; ++i; continue;
      case '\t': out += "\\t"; ++i; continue;
      default: break;
    }
    if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
      ++i;
      continue;
    }
    const size_t n = Utf8Len(s, i);
    if (n == 0) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    out.append(s.substr(i, n));
    i += n;
  }
  out.push_back('"');
}

void JsonWriter::Grow(size_t n) { out_.resize(std::max(out_.size() * 2, n_ + n + 256)); }

std::string JsonWriter::Take() {
  out_.resize(n_);
  // A line that once needed much room (a long escaped string) gives it back.
  if (out_.capacity() > 2 * n_ + 4096) out_.shrink_to_fit();
  std::string text = std::move(out_);
  out_.clear();
  Clear();
  return text;
}

namespace {
// Escaped text on its way into a writer (kept per thread: its storage is
// reused from line to line).
std::string& EscapeScratch(std::string_view s) {
  thread_local std::string scratch;
  scratch.clear();
  AppendJsonString(scratch, s);
  return scratch;
}
}  // namespace

JsonWriter& JsonWriter::KeyEscaped(std::string_view k) {
  Literal(EscapeScratch(k));  // the escaped text comes with its quotes
  *Room(1) = ':';
  ++n_;
  sep_ = 0;
  return *this;
}

JsonWriter& JsonWriter::StringEscaped(std::string_view v) { return Literal(EscapeScratch(v)); }

JsonWriter& JsonWriter::Double(double v) {
  if (!std::isfinite(v)) return Null();
  // printf's "%.6g" (to_chars with a precision is specified as printf in
  // the C locale), without printf: a call record has two durations.
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::general, 6);
  return Literal(std::string_view(buf, static_cast<size_t>(r.ptr - buf)));
}

}  // namespace sw
