// SPDX-License-Identifier: BSD-2-Clause
#include "sipwarden/sip/text.h"

#include "scan.h"

namespace sw::sip {
namespace internal {

bool AllOfEscaped(std::string_view s, uint16_t cls) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size() || HexValue(s[i + 1]) < 0 || HexValue(s[i + 2]) < 0) return false;
      i += 2;
    } else if (!Is(s[i], cls)) {
      return false;
    }
  }
  return true;
}

bool ParseDecimal(std::string_view s, uint64_t max, uint64_t* out, bool* overflow) {
  *overflow = false;
  if (s.empty()) return false;
  uint64_t v = 0;
  if (s.size() <= 19) {  // below 10^19, which uint64_t holds: compare with max once
    for (char c : s) {
      const unsigned d = static_cast<unsigned char>(c) - unsigned{'0'};
      if (d > 9) return false;
      v = v * 10 + d;
    }
    if (v > max) {
      *overflow = true;
      v = max;
    }
    *out = v;
    return true;
  }
  for (char c : s) {  // longer: digit by digit, until past max
    if (c < '0' || c > '9') return false;
    if (!*overflow) {
      uint64_t t;
      if (__builtin_mul_overflow(v, uint64_t{10}, &t) ||
          __builtin_add_overflow(t, static_cast<uint64_t>(c - '0'), &t) || t > max) {
        *overflow = true;
        v = max;
      } else {
        v = t;
      }
    }
  }
  *out = v;
  return true;
}

size_t ScanQuoted(std::string_view s, size_t i) {
  // s[i] == '"'
  for (size_t j = FindFirstOf<'"', '\\'>(s, i + 1); j < s.size(); j = FindFirstOf<'"', '\\'>(s, j)) {
    if (s[j] == '"') return j + 1;
    // quoted-pair: \ followed by any octet but CR and LF
    if (j + 1 >= s.size() || s[j + 1] == '\r' || s[j + 1] == '\n') return std::string_view::npos;
    j += 2;
  }
  return std::string_view::npos;
}

}  // namespace internal

using internal::Is;
using internal::IsLwsChar;
using internal::SkipLws;

bool IsTokenChar(char c) { return Is(c, internal::kToken); }

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!Is(c, internal::kToken)) return false;
  }
  return true;
}

Reason SplitList(std::string_view value, size_t max_elements,
                 absl::FunctionRef<bool(std::string_view)> fn) {
  size_t start = 0;
  size_t count = 0;
  int angle = 0;
  size_t i = 0;
  while (true) {
    i = internal::FindFirstOf<',', '"', '<', '>'>(value, i);
    if (i >= value.size() || (value[i] == ',' && angle == 0)) {
      if (++count > max_elements) return Reason::kTooManyValues;
      if (!fn(TrimLws(value.substr(start, i - start)))) return Reason::kOk;
      if (i >= value.size()) break;
      start = ++i;
      continue;
    }
    const char c = value[i];
    if (c == '"') {
      size_t end = internal::ScanQuoted(value, i);
      if (end == std::string_view::npos) return Reason::kUnterminatedQuote;
      i = end;
      continue;
    }
    if (c == '<') {
      ++angle;
    } else if (c == '>') {
      if (--angle < 0) return Reason::kBadHeaderValue;
    }
    ++i;  // past '<', '>', or a ',' inside <...>
  }
  return angle == 0 ? Reason::kOk : Reason::kBadHeaderValue;
}

Reason ForEachParam(std::string_view s, absl::FunctionRef<bool(const Param&)> fn) {
  return internal::ForEachParam(s, {}, fn);
}

Reason internal::ForEachParam(std::string_view s, std::string_view bare_value_name,
                              absl::FunctionRef<bool(const Param&)> fn) {
  size_t i = SkipLws(s, 0);
  while (i < s.size()) {
    if (s[i] != ';') return Reason::kBadParam;
    i = SkipLws(s, i + 1);
    const size_t name_begin = i;
    i = internal::SkipClass(s, i, internal::kToken);
    if (i == name_begin) return Reason::kBadParam;
    Param p;
    p.name = s.substr(name_begin, i - name_begin);
    i = SkipLws(s, i);
    if (i < s.size() && s[i] == '=') {
      i = SkipLws(s, i + 1);
      const size_t value_begin = i;
      if (i < s.size() && s[i] == '"') {
        const size_t end = internal::ScanQuoted(s, i);
        if (end == std::string_view::npos) return Reason::kUnterminatedQuote;
        i = end;
      } else {
        i = internal::SkipClass(s, i, internal::kGenValue);
        if (!bare_value_name.empty() && EqualsIgnoreCase(p.name, bare_value_name)) {
          while (i < s.size() && s[i] != ';' && !IsLwsChar(s[i])) ++i;
        }
      }
      if (i == value_begin) return Reason::kBadParam;
      p.value = s.substr(value_begin, i - value_begin);
      p.has_value = true;
      i = SkipLws(s, i);
    }
    if (!fn(p)) return Reason::kOk;
  }
  return Reason::kOk;
}

std::optional<std::string_view> FindParam(std::string_view params, std::string_view name) {
  std::optional<std::string_view> found;
  ForEachParam(params, [&](const Param& p) {
    if (!EqualsIgnoreCase(p.name, name)) return true;
    std::string_view v = p.value;
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    found = v;
    return false;
  });
  return found;
}

void UnquoteInto(std::string_view q, std::string* out) {
  if (q.size() >= 2 && q.front() == '"' && q.back() == '"') q = q.substr(1, q.size() - 2);
  out->clear();
  size_t i = q.find('\\');
  out->append(q.data(), std::min(i, q.size()));  // the text before the first escape
  for (; i < q.size(); ++i) {
    if (q[i] == '\\' && i + 1 < q.size()) ++i;
    out->push_back(q[i]);
  }
}

std::string Unquote(std::string_view q) {
  std::string out;
  UnquoteInto(q, &out);
  return out;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && internal::HexValue(s[i + 1]) >= 0 &&
        internal::HexValue(s[i + 2]) >= 0) {
      out.push_back(
          static_cast<char>(internal::HexValue(s[i + 1]) * 16 + internal::HexValue(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace sw::sip
