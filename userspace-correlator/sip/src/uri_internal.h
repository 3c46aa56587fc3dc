// SPDX-License-Identifier: BSD-2-Clause
// Internal entry points of the URI parser, reporting into a Fault so that
// callers inside a message can give byte offsets relative to the message.
#pragma once

#include <string_view>

#include "scan.h"
#include "sipwarden/sip/uri.h"

namespace sw::sip::internal {

// Scans a host (hostname, IPv4, or "[IPv6]") at s[i]. Returns the index
// after it, or npos after recording `bad` in f.
size_t ScanHost(std::string_view s, size_t i, HostPort* hp, Fault* f, Reason bad,
                std::string_view what);

// An IPv6 address written without brackets at s[i], optionally followed by
// ":port" (see the rules in uri.cc). The text taken must end at s.size() or
// at one of `delims`. Returns the index after it with hp filled (type kIpv6,
// unbracketed_ipv6 set), or npos, recording nothing, when the text there is
// not such an address or could be read more than one way.
size_t ScanUnbracketedIpv6(std::string_view s, size_t i, std::string_view delims, HostPort* hp);

// Parses the digits of a port. Records `bad` (empty, non-digit) or
// kValueOutOfRange in f.
bool ParsePort(std::string_view digits, HostPort* hp, Fault* f, Reason bad, std::string_view what);

// Parses text into *u, which must be as default-constructed (a reset is a
// 168-byte store; the callers' URIs are fresh).
bool ParseUriInto(std::string_view text, const UriLimits& limits, Uri* u, Fault* f, Reason bad);

}  // namespace sw::sip::internal
