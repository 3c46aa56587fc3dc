// SPDX-License-Identifier: BSD-2-Clause
// Text helpers shared by the SIP, SDP and MGCP parsers and useful to their
// callers: case-insensitive comparison, LWS trimming, comma-separated list
// splitting that respects quoted strings and <...>, ";name=value" parameter
// lookup, and the (allocating, off the hot path) unquoting and %-decoding.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/strings/ascii.h"
#include "sipwarden/sip/result.h"

namespace sw::sip {

// ASCII case-insensitive equality. Inline, sizes first: the parsers call it
// for every parameter name, mostly against literals of another length.
inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i] && absl::ascii_tolower(static_cast<unsigned char>(a[i])) !=
                            absl::ascii_tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}
inline bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && EqualsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

// RFC 3261 token character: alphanum and - . ! % * _ + ` ' ~
bool IsTokenChar(char c);
bool IsToken(std::string_view s);  // non-empty and only token characters

// Strips leading and trailing LWS (SP, HT, CR, LF: inside a folded header
// value the line breaks are whitespace).
inline std::string_view TrimLws(std::string_view s) {
  constexpr auto lws = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  size_t b = 0;
  size_t e = s.size();
  while (b < e && lws(s[b])) ++b;
  while (e > b && lws(s[e - 1])) --e;
  return s.substr(b, e - b);
}

// Calls fn for each element of a comma-separated header value, trimmed of
// LWS. Commas inside "quoted strings" (with \-escapes) and <...> do not
// split. fn returns false to stop early. Returns kOk, kUnterminatedQuote,
// kBadHeaderValue (unbalanced < >), or kTooManyValues once more than
// max_elements elements were seen. Empty elements are passed as empty views.
Reason SplitList(std::string_view value, size_t max_elements,
                 absl::FunctionRef<bool(std::string_view)> fn);

// One ";name[=value]" parameter. value keeps its quotes if it was quoted.
struct Param {
  std::string_view name;
  std::string_view value;
  bool has_value = false;
};

// Calls fn for each parameter of a parameter list such as ";tag=1 ; lr" (the
// text that follows a URI or a Via sent-by). LWS around ';' and '=' is
// allowed, as in header parameters. Returns kOk, kBadParam (empty name, bad
// character, missing value after '=') or kUnterminatedQuote.
Reason ForEachParam(std::string_view params, absl::FunctionRef<bool(const Param&)> fn);

// The value of the first parameter called name (ASCII case-insensitive):
// nullopt when absent, an empty view for a parameter without a value.
// Surrounding quotes are removed (escapes are left; see Unquote).
std::optional<std::string_view> FindParam(std::string_view params, std::string_view name);

// The contents of a quoted string with \-escapes resolved; the argument may
// include or omit the surrounding quotes. Allocates.
std::string Unquote(std::string_view quoted);
// The same into *out, replacing what it held (its storage is reused).
void UnquoteInto(std::string_view quoted, std::string* out);

// Resolves %HH escapes (URIs). Malformed escapes are copied as they are.
std::string PercentDecode(std::string_view s);

}  // namespace sw::sip
