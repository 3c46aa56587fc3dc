// SPDX-License-Identifier: BSD-2-Clause
#include "sipwarden/sip/uri.h"

#include <cstring>

#include "scan.h"
#include "sipwarden/sip/text.h"
#include "uri_internal.h"

namespace sw::sip {
namespace {

using internal::Fault;
using internal::Is;

// A dotted quad at s[i] (parts of one to three digits, leading zeros
// allowed, each at most 255): returns the index after it, or npos. Unrolled:
// every SIP message has four or so hosts, most of them addresses.
size_t ScanIpv4(std::string_view s, size_t i, uint8_t out[4]) {
  const char* p = s.data();
  const size_t n = s.size();
  auto digit = [&](size_t at) -> unsigned {  // 10 when not a digit (or past the end)
    if (at >= n) return 10;
    const unsigned d = static_cast<unsigned>(static_cast<unsigned char>(p[at])) - '0';
    return d <= 9 ? d : 10;
  };
  for (int part = 0; part < 4; ++part) {
    if (part > 0) {
      if (i >= n || p[i] != '.') return std::string_view::npos;
      ++i;
    }
    unsigned v = digit(i);
    if (v > 9) return std::string_view::npos;
    ++i;
    if (const unsigned d1 = digit(i); d1 <= 9) {
      v = v * 10 + d1;
      ++i;
      if (const unsigned d2 = digit(i); d2 <= 9) {
        v = v * 10 + d2;
        ++i;
      }
    }
    if (v > 255) return std::string_view::npos;
    out[part] = static_cast<uint8_t>(v);
  }
  return i;
}

bool ParseIpv4Bytes(std::string_view s, uint8_t out[4]) { return ScanIpv4(s, 0, out) == s.size(); }

bool ParseIpv6Bytes(std::string_view s, uint8_t out[16]) {
  uint16_t head[8];
  uint16_t tail[8];
  int nhead = 0;
  int ntail = 0;
  bool compressed = false;
  size_t i = 0;
  if (s.size() >= 2 && s[0] == ':' && s[1] == ':') {
    compressed = true;
    i = 2;
  }
  uint8_t v4[4];
  bool has_v4 = false;
  while (i < s.size()) {
    size_t j = i;
    while (j < s.size() && Is(s[j], internal::kHex) && j - i < 5) ++j;
    if (j < s.size() && s[j] == '.') {
      // An embedded IPv4 address ends the text and counts for two groups.
      if (!ParseIpv4Bytes(s.substr(i), v4)) return false;
      has_v4 = true;
      break;
    }
    if (j == i || j - i > 4) return false;
    uint16_t g = 0;
    for (size_t k = i; k < j; ++k) g = static_cast<uint16_t>(g * 16 + internal::HexValue(s[k]));
    if (nhead + ntail >= 8) return false;
    if (compressed) {
      tail[ntail++] = g;
    } else {
      head[nhead++] = g;
    }
    if (j == s.size()) break;
    if (s[j] != ':') return false;
    if (j + 1 < s.size() && s[j + 1] == ':') {
      if (compressed) return false;
      compressed = true;
      i = j + 2;
      continue;
    }
    i = j + 1;
    if (i == s.size()) return false;  // a trailing single ':'
  }
  const int groups = nhead + ntail + (has_v4 ? 2 : 0);
  if (compressed ? groups > 7 : groups != 8) return false;
  std::memset(out, 0, 16);
  for (int k = 0; k < nhead; ++k) {
    out[2 * k] = static_cast<uint8_t>(head[k] >> 8);
    out[2 * k + 1] = static_cast<uint8_t>(head[k]);
  }
  const int tail_start = 8 - ntail - (has_v4 ? 2 : 0);
  for (int k = 0; k < ntail; ++k) {
    out[2 * (tail_start + k)] = static_cast<uint8_t>(tail[k] >> 8);
    out[2 * (tail_start + k) + 1] = static_cast<uint8_t>(tail[k]);
  }
  if (has_v4) std::memcpy(out + 12, v4, 4);
  return true;
}

// Validates ";p1=v1;p2" of a SIP URI (no LWS, uri-parameter grammar).
bool ValidUriParams(std::string_view p, size_t max_params) {
  size_t count = 0;
  size_t i = 0;
  while (i < p.size()) {
    if (p[i] != ';') return false;
    size_t end = internal::Find<';'>(p, i + 1);
    if (end == std::string_view::npos) end = p.size();
    std::string_view param = p.substr(i + 1, end - i - 1);
    size_t eq = internal::Find<'='>(param);
    std::string_view name = param.substr(0, eq);
    if (name.empty() || !internal::AllOfEscaped(name, internal::kParamChar)) return false;
    if (eq != std::string_view::npos) {
      std::string_view value = param.substr(eq + 1);
      if (value.empty() || !internal::AllOfEscaped(value, internal::kParamChar)) return false;
    }
    if (++count > max_params) return false;
    i = end;
  }
  return true;
}

bool ValidUriHeaders(std::string_view h) {
  if (h.empty()) return false;
  size_t i = 0;
  while (i <= h.size()) {
    size_t end = internal::Find<'&'>(h, i);
    if (end == std::string_view::npos) end = h.size();
    std::string_view hdr = h.substr(i, end - i);
    size_t eq = internal::Find<'='>(hdr);
    if (eq == 0 || eq == std::string_view::npos) return false;
    if (!internal::AllOfEscaped(hdr.substr(0, eq), internal::kHnvChar) ||
        !internal::AllOfEscaped(hdr.substr(eq + 1), internal::kHnvChar)) {
      return false;
    }
    i = end + 1;
  }
  return true;
}

}  // namespace

namespace internal {

size_t ScanHost(std::string_view s, size_t i, HostPort* hp, Fault* f, Reason bad,
                std::string_view what) {
  if (i < s.size() && s[i] == '[') {
    const size_t close = Find<']'>(s, i);
    if (close == std::string_view::npos) {
      f->Set(bad, what, s.data() + i);
      return std::string_view::npos;
    }
    std::string_view inner = s.substr(i + 1, close - i - 1);
    bool has_colon = false;
    for (char c : inner) {
      if (c == ':') {
        has_colon = true;
      } else if (!(Is(c, kHex) || c == '.')) {
        f->Set(bad, what, s.data() + i);
        return std::string_view::npos;
      }
    }
    if (!has_colon) {
      f->Set(bad, what, s.data() + i);
      return std::string_view::npos;
    }
    hp->host = inner;
    hp->type = HostType::kIpv6;
    uint8_t b[16];
    hp->ip_valid = ParseIpv6Bytes(inner, b);
    if (hp->ip_valid) hp->ip = IpAddress::FromV6(b);
    return close + 1;
  }
  // The host is the run of host characters, an IPv4 address when the whole
  // run is a dotted quad. The quad is read first, in the same pass: it is
  // the whole run when no host character follows it.
  uint8_t b4[4];
  const size_t v4_end = ScanIpv4(s, i, b4);
  if (v4_end != std::string_view::npos && (v4_end == s.size() || !Is(s[v4_end], kHostChar))) {
    hp->host = s.substr(i, v4_end - i);
    hp->type = HostType::kIpv4;
    hp->ip_valid = true;
    // IPv4-mapped, as IpAddress::FromV4 makes it, but written in place:
    // taking the address back from the call stalls on store forwarding, a
    // few percent of a SIP parse with several hosts per message.
    hp->ip.bytes = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, b4[0], b4[1], b4[2], b4[3]};
    return v4_end;
  }
  const size_t end = SkipClass(s, i, kHostChar);
  if (end == i) {
    f->Set(bad, what, s.data() + i);
    return std::string_view::npos;
  }
  hp->host = s.substr(i, end - i);
  hp->type = HostType::kHostname;
  return end;
}

// RFC 3261 puts an IPv6 host in brackets; real devices omit them. The text
// taken is the run of hex digits, ':' and '.' at s[i], which must hold at
// least two ':' (one ':' is an ordinary host:port) and must end at the end
// of s or at a delimiter. Then:
//  - if the whole run is an RFC 4291 address, it is the host and there is no
//    port: "2001:db8::10:5070" is one address, as "[2001:db8::10:5070]" is
//    (RFC 5118 section 4.3), even if the sender meant port 5070;
//  - otherwise, if the run ends in ":" 1*5DIGIT, the text before it is an
//    address, and that address cannot be continued by one more group (it
//    has all eight groups written out, or ends in a dotted IPv4 tail), the
//    digits are the port: "fe80:0:0:0:21a:a0ff:fe07:32e0:5060" can only be
//    read as address + port;
//  - otherwise nothing is taken. In particular an address with "::" plus a
//    trailing group is refused when the whole is not an address
//    ("1::2:3:4:5:6:7:5060"): where the port begins then depends only on
//    how many zero groups the sender compressed, and one group fewer
//    ("1::2:3:4:5:6:5060") would be a whole address with no port.
// The address must be RFC 4291 valid (no RFC 3261 three-colon form here).
size_t ScanUnbracketedIpv6(std::string_view s, size_t i, std::string_view delims, HostPort* hp) {
  constexpr size_t npos = std::string_view::npos;
  // An address starts with "::" or with one to four hex digits and ':'.
  // Without a ':' in its first five octets the text is none: most hosts
  // (names, IPv4 addresses) leave here, before the scan of the whole run.
  size_t first = i;
  while (first < s.size() && first < i + 5 && Is(s[first], kHex)) ++first;
  if (first >= s.size() || s[first] != ':') return npos;
  size_t end = i;
  int colons = 0;
  while (end < s.size() && Is(s[end], kIpv6Text)) {
    colons += s[end] == ':';
    ++end;
  }
  if (colons < 2) return npos;
  if (end < s.size() && delims.find(s[end]) == npos) return npos;
  const std::string_view run = s.substr(i, end - i);
  HostPort out;
  uint8_t b[16];
  if (ParseIpv6Bytes(run, b)) {
    out.host = run;
  } else {
    const size_t c = run.rfind(':');
    const std::string_view addr = run.substr(0, c);
    const std::string_view digits = run.substr(c + 1);
    if (digits.empty() || digits.size() > 5) return npos;
    uint32_t port = 0;
    for (char d : digits) {
      if (!Is(d, kDigit)) return npos;
      port = port * 10 + static_cast<uint32_t>(d - '0');
    }
    if (port > 65535) return npos;
    if (!ParseIpv6Bytes(addr, b)) return npos;
    const bool full = addr.find("::") == npos || addr.find('.') != npos;
    if (!full) return npos;
    out.host = addr;
    out.has_port = true;
    out.port = static_cast<uint16_t>(port);
  }
  out.type = HostType::kIpv6;
  out.ip_valid = true;
  out.ip = IpAddress::FromV6(b);
  out.unbracketed_ipv6 = true;
  *hp = out;
  return end;
}

bool ParsePort(std::string_view digits, HostPort* hp, Fault* f, Reason bad, std::string_view what) {
  uint64_t v = 0;
  bool overflow = false;
  if (!ParseDecimal(digits, 65535, &v, &overflow)) return f->Set(bad, what, digits.data());
  if (overflow) return f->Set(Reason::kValueOutOfRange, what, digits.data());
  hp->has_port = true;
  hp->port = static_cast<uint16_t>(v);
  return true;
}

bool ParseUriInto(std::string_view text, const UriLimits& limits, Uri* u, Fault* f, Reason bad) {
  u->raw = text;
  const size_t colon = Find<':'>(text);
  if (colon == std::string_view::npos || colon == 0 || !Is(text[0], kAlpha)) {
    return f->Set(bad, "URI scheme", text.data());
  }
  for (size_t k = 1; k < colon; ++k) {
    if (!Is(text[k], kSchemeChar)) return f->Set(bad, "URI scheme", text.data() + k);
  }
  u->scheme_text = text.substr(0, colon);
  u->opaque = text.substr(colon + 1);
  std::string_view rest = u->opaque;
  if (EqualsIgnoreCase(u->scheme_text, "sip")) {
    u->scheme = UriScheme::kSip;
  } else if (EqualsIgnoreCase(u->scheme_text, "sips")) {
    u->scheme = UriScheme::kSips;
  } else if (EqualsIgnoreCase(u->scheme_text, "tel")) {
    u->scheme = UriScheme::kTel;
  } else {
    u->scheme = UriScheme::kOther;
    if (rest.empty()) return f->Set(bad, "URI", text.data() + colon);
    for (size_t k = 0; k < rest.size(); ++k) {
      if (!Is(rest[k], kUric)) return f->Set(bad, "URI", rest.data() + k);
    }
    return true;
  }

  if (u->scheme == UriScheme::kTel) {
    const size_t semi = Find<';'>(rest);
    u->user = rest.substr(0, semi);
    if (u->user.empty()) return f->Set(bad, "tel number", rest.data());
    for (size_t k = 0; k < rest.size(); ++k) {
      if (!Is(rest[k], kUric)) return f->Set(bad, "tel URI", rest.data() + k);
    }
    if (semi != std::string_view::npos) {
      u->params = rest.substr(semi);
      if (!ValidUriParams(u->params, limits.max_params)) {
        return f->Set(bad, "tel URI parameters", u->params.data());
      }
    }
    return true;
  }

  // sip / sips: [userinfo "@"] hostport uri-parameters [headers]
  if (rest.empty()) return f->Set(bad, "SIP URI host", rest.data());
  const size_t at = Find<'@'>(rest);
  if (at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    const size_t pc = Find<':'>(userinfo);
    u->user = userinfo.substr(0, pc);
    if (u->user.empty() || !AllOfEscaped(u->user, kUser)) {
      return f->Set(bad, "SIP URI user", userinfo.data());
    }
    if (pc != std::string_view::npos) {
      u->has_password = true;
      u->password = userinfo.substr(pc + 1);
      if (!AllOfEscaped(u->password, kPassword)) {
        return f->Set(bad, "SIP URI password", u->password.data());
      }
    }
    rest = rest.substr(at + 1);
  }
  // Only after a userinfo: "sip:2001:db8::10" is RFC 5118 4.2's example of
  // an invalid Request-URI, and stays one.
  size_t i = std::string_view::npos;
  if (at != std::string_view::npos && !rest.empty() && rest[0] != '[') {
    i = ScanUnbracketedIpv6(rest, 0, ";?", &u->hostport);
  }
  if (i == std::string_view::npos) {
    i = ScanHost(rest, 0, &u->hostport, f, bad, "SIP URI host");
    if (i == std::string_view::npos) return false;
    if (i < rest.size() && rest[i] == ':') {
      size_t end = SkipClass(rest, i + 1, kDigit);
      if (!ParsePort(rest.substr(i + 1, end - i - 1), &u->hostport, f, bad, "SIP URI port")) {
        return false;
      }
      i = end;
    }
  }
  if (i < rest.size() && rest[i] == ';') {
    size_t q = Find<'?'>(rest, i);
    if (q == std::string_view::npos) q = rest.size();
    u->params = rest.substr(i, q - i);
    if (!ValidUriParams(u->params, limits.max_params)) {
      // Too many parameters is reported as such, whatever else is wrong;
      // counted only here, valid parameters being the rule.
      size_t count = 0;
      for (char c : u->params) count += (c == ';');
      if (count > limits.max_params) {
        return f->Set(Reason::kTooManyParams, "SIP URI parameters", u->params.data());
      }
      return f->Set(bad, "SIP URI parameters", u->params.data());
    }
    i = q;
  }
  if (i < rest.size() && rest[i] == '?') {
    u->headers = rest.substr(i + 1);
    if (!ValidUriHeaders(u->headers)) return f->Set(bad, "SIP URI headers", rest.data() + i);
    i = rest.size();
  }
  if (i != rest.size()) return f->Set(bad, "SIP URI", rest.data() + i);
  return true;
}

}  // namespace internal

std::optional<std::string_view> Uri::Param(std::string_view name) const {
  return FindParam(params, name);
}

ParseResult<Uri> ParseUri(std::string_view text, const UriLimits& limits) {
  Uri u;
  Fault f;
  if (!internal::ParseUriInto(text, limits, &u, &f, Reason::kBadUri)) {
    return f.ToError(text.data());
  }
  return u;
}

ParseResult<HostPort> ParseHostPort(std::string_view text) {
  HostPort hp;
  Fault f;
  if (!text.empty() && text[0] != '[' &&
      internal::ScanUnbracketedIpv6(text, 0, "", &hp) == text.size()) {
    return hp;
  }
  size_t i = internal::ScanHost(text, 0, &hp, &f, Reason::kBadUri, "host");
  if (i == std::string_view::npos) return f.ToError(text.data());
  if (i < text.size() && text[i] == ':') {
    if (!internal::ParsePort(text.substr(i + 1), &hp, &f, Reason::kBadUri, "port")) {
      return f.ToError(text.data());
    }
    i = text.size();
  }
  if (i != text.size()) return ParseError{Reason::kBadUri, "host", i};
  return hp;
}

bool ParseIpLiteral(std::string_view text, IpAddress* out) {
  uint8_t b[16];
  if (text.find(':') != std::string_view::npos) {
    if (!ParseIpv6Bytes(text, b)) return false;
    *out = IpAddress::FromV6(b);
    return true;
  }
  if (!ParseIpv4Bytes(text, b)) return false;
  *out = IpAddress::FromV4(b);
  return true;
}

}  // namespace sw::sip
