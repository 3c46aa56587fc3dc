// SPDX-License-Identifier: BSD-2-Clause
// URIs as SIP carries them (RFC 3261 section 19.1, RFC 3966 tel, RFC 5118
// IPv6 references). Every field is a view into the parsed text; escapes are
// left as written (see PercentDecode in text.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "sipwarden/ip.h"
#include "sipwarden/sip/result.h"

namespace sw::sip {

enum class UriScheme : uint8_t { kSip, kSips, kTel, kOther };

enum class HostType : uint8_t {
  kNone,
  kHostname,
  kIpv4,
  kIpv6,  // an IPv6 reference "[...]"; see HostPort::ip_valid
};

struct HostPort {
  std::string_view host;  // as written; an IPv6 reference without its brackets
  HostType type = HostType::kNone;
  // For kIpv4, and for kIpv6 when the text is an RFC 4291 address. RFC 5118
  // section 4.10 asks parsers to tolerate "[2001:db8:::192.0.2.1]", which the
  // RFC 3261 grammar allows: it parses with type kIpv6 and ip_valid false.
  bool ip_valid = false;
  IpAddress ip;
  bool has_port = false;
  uint16_t port = 0;
  // An IPv6 address written without the brackets RFC 3261 requires
  // ("sip:alice@2001:db8::10", "Via: SIP/2.0/UDP fe80:0:0:0:1:2:3:4:5060").
  // Accepted only where it cannot be misread; see ScanUnbracketedIpv6 in
  // uri.cc. type is kIpv6 and ip_valid is true whenever this is set.
  bool unbracketed_ipv6 = false;
};

struct Uri {
  std::string_view raw;  // the whole URI as written
  UriScheme scheme = UriScheme::kOther;
  std::string_view scheme_text;  // "sip", "SIPS", "tel", "http", ...
  // sip/sips: the user part (empty when there is none). tel: the number
  // (telephone-subscriber without its parameters).
  std::string_view user;
  bool has_password = false;
  std::string_view password;
  HostPort hostport;         // sip/sips only
  std::string_view params;   // ";transport=tcp;lr", with the leading ';' (empty if none)
  std::string_view headers;  // after '?', without it (empty if none)
  std::string_view opaque;   // everything after "scheme:"

  bool is_sip() const { return scheme == UriScheme::kSip || scheme == UriScheme::kSips; }
  std::string_view host() const { return hostport.host; }
  // A URI parameter (case-insensitive name); see FindParam in text.h.
  std::optional<std::string_view> Param(std::string_view name) const;
};

// Limits for URI parsing.
struct UriLimits {
  size_t max_params = 32;
};

// Parses an absolute URI: sip, sips and tel are parsed into their parts; any
// other scheme is kept as scheme + opaque text (it must still be free of
// whitespace, controls, '<', '>' and '"'). Errors: kBadUri, kTooManyParams.
// A sip/sips host written as a bare IPv6 address is accepted only after a
// userinfo part ("sip:alice@2001:db8::10"); "sip:2001:db8::10" stays an
// error, as RFC 5118 section 4.2 says.
ParseResult<Uri> ParseUri(std::string_view text, const UriLimits& limits = {});
template <TemporaryString S>
ParseResult<Uri> ParseUri(S&& text, const UriLimits& limits = {}) = delete;

// "host", "host:port", "192.0.2.1:5060", "[2001:db8::1]:5060". Errors:
// kBadUri (bad host or port characters), kValueOutOfRange (port > 65535).
// An unbracketed IPv6 address is taken as ParseUri takes it after '@'
// (HostPort::unbracketed_ipv6).
ParseResult<HostPort> ParseHostPort(std::string_view text);

// An IPv4 dotted quad or an IPv6 address in RFC 4291 text form (with an
// optional embedded IPv4 tail), without brackets. No allocation.
bool ParseIpLiteral(std::string_view text, IpAddress* out);

}  // namespace sw::sip
