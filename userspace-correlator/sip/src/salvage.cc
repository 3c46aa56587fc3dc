// SPDX-License-Identifier: BSD-2-Clause
#include "sipwarden/sip/salvage.h"

#include <algorithm>

#include "sipwarden/sip/text.h"

namespace sw::sip {
namespace {

constexpr size_t npos = std::string_view::npos;
constexpr size_t kMaxMethod = 32;

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A decimal below limit, or nullopt.
std::optional<uint32_t> Decimal(std::string_view s, uint64_t limit) {
  if (!AllDigits(s) || s.size() > 10) return std::nullopt;
  uint64_t n = 0;
  for (char c : s) n = n * 10 + static_cast<uint64_t>(c - '0');
  if (n >= limit) return std::nullopt;
  return static_cast<uint32_t>(n);
}

// The prefix of s before its first control character (tab aside).
std::string_view Printable(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if ((c < 0x20 && c != '\t') || c == 0x7f) return TrimLws(s.substr(0, i));
  }
  return s;
}

void ReadStartLine(std::string_view line, const SipLimits& lim, SalvagedSip* s) {
  line = Printable(line);
  if (StartsWithIgnoreCase(line, "SIP/")) {
    // SIP/x.y NNN reason
    const size_t sp = line.find(' ');
    if (sp == npos) return;
    const std::string_view rest = line.substr(sp + 1);
    const size_t ce = std::min(rest.find(' '), rest.size());
    auto code = Decimal(rest.substr(0, ce), 700);
    if (ce != 3 || !code || *code < 100) return;
    s->has_start_line = true;
    s->is_request = false;
    s->status = static_cast<int>(*code);
    s->reason_phrase = ce < rest.size() ? rest.substr(ce + 1) : std::string_view();
    return;
  }
  // METHOD SP Request-URI [SP SIP/x.y]
  const size_t sp1 = line.find(' ');
  if (sp1 == npos || sp1 > kMaxMethod || !IsToken(line.substr(0, sp1))) return;
  s->has_start_line = true;
  s->is_request = true;
  s->method = line.substr(0, sp1);
  std::string_view uri = TrimLws(line.substr(sp1 + 1));
  const size_t sp2 = uri.rfind(' ');
  if (sp2 != npos && StartsWithIgnoreCase(uri.substr(sp2 + 1), "SIP/")) {
    uri = TrimLws(uri.substr(0, sp2));
  }
  s->request_uri = uri;
  UriLimits ul;
  ul.max_params = lim.max_params;
  if (auto u = ParseUri(uri, ul); u.ok()) s->uri = *u;
}

void ReadHeader(std::string_view name, std::string_view value, const SipLimits& lim,
                SalvagedSip* s) {
  switch (HeaderIdFromName(name)) {
    case HeaderId::kCallId:
      if (s->call_id.empty()) s->call_id = Printable(value);
      break;
    case HeaderId::kCSeq:
      if (!s->cseq) {
        const size_t sp = value.find_first_of(" \t");
        if (sp == npos) break;
        auto n = Decimal(value.substr(0, sp), 0x80000000ull);
        const std::string_view m = TrimLws(value.substr(sp + 1));
        if (!n || !IsToken(m)) break;
        CSeq c;
        c.seq = *n;
        c.method = m;
        c.method_id = MethodFromString(m);
        s->cseq = c;
      }
      break;
    case HeaderId::kFrom:
      if (!s->from) {
        if (auto na = ParseNameAddr(value, lim); na.ok()) s->from = *na;
      }
      break;
    case HeaderId::kTo:
      if (!s->to) {
        if (auto na = ParseNameAddr(value, lim); na.ok()) s->to = *na;
      }
      break;
    case HeaderId::kVia:
      if (!s->top_via) {
        // The first value of a list (a comma inside a quoted or bracketed
        // part is not expected in a Via's first value's sent-by).
        std::string_view first = value.substr(0, std::min(value.find(','), value.size()));
        if (auto v = ParseVia(TrimLws(first), lim); v.ok()) s->top_via = *v;
      }
      break;
    case HeaderId::kUserAgent:
      if (s->user_agent.empty()) s->user_agent = Printable(value);
      break;
    case HeaderId::kServer:
      if (s->server.empty()) s->server = Printable(value);
      break;
    case HeaderId::kContentLength:
      if (!s->content_length) s->content_length = Decimal(value, 0x100000000ull);
      break;
    default:
      break;
  }
}

}  // namespace

SalvagedSip SalvageSip(std::string_view data, const SipLimits& lim) {
  SalvagedSip s;
  if (data.size() > lim.max_message_size) data = data.substr(0, lim.max_message_size);
  // Leading CRLFs, and junk before the start line (NULs and other
  // control bytes: a broken stack's padding), up to a bound.
  constexpr size_t kMaxLeadingJunk = 256;
  size_t pos = 0;
  while (pos < data.size() && pos < kMaxLeadingJunk &&
         static_cast<unsigned char>(data[pos]) < 0x20) {
    ++pos;
  }
  auto next_line = [&](std::string_view* line) {
    if (pos >= data.size()) return false;
    const size_t e = data.find('\n', pos);
    const size_t end = e == npos ? data.size() : e;
    *line = data.substr(pos, end - pos);
    if (!line->empty() && line->back() == '\r') line->remove_suffix(1);
    pos = e == npos ? data.size() : e + 1;
    return true;
  };
  std::string_view line;
  if (!next_line(&line)) return s;
  ReadStartLine(line, lim, &s);
  while (s.header_lines < lim.max_headers && next_line(&line)) {
    if (line.empty()) break;                         // end of the header section
    if (line[0] == ' ' || line[0] == '\t') continue;  // a folded continuation
    ++s.header_lines;
    const size_t colon = line.find(':');
    if (colon == npos) continue;
    const std::string_view value = TrimLws(line.substr(colon + 1));
    if (value.size() > lim.max_header_size) continue;
    ReadHeader(TrimLws(line.substr(0, colon)), value, lim, &s);
  }
  return s;
}

}  // namespace sw::sip
