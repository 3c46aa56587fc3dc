// SPDX-License-Identifier: BSD-2-Clause
// SDP session descriptions (RFC 4566, RFC 8866): the fields sipwarden
// correlates on (origin, connection addresses at session and media level,
// media type / port / protocol / payload types, rtpmap and direction
// attributes). Lines of other types are kept as (type, value) pairs. Every
// string_view points into the parsed text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "sipwarden/ip.h"
#include "sipwarden/sip/result.h"

namespace sw::sip {

// o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>
struct SdpOrigin {
  std::string_view username;
  std::string_view session_id;
  std::string_view session_version;
  std::string_view net_type;   // "IN"
  std::string_view addr_type;  // "IP4", "IP6"
  std::string_view address;    // an address or a host name
};

// c=<nettype> <addrtype> <connection-address>[/ttl][/count]
struct SdpConnection {
  std::string_view net_type;
  std::string_view addr_type;
  std::string_view address;  // without the /ttl and /count suffixes
  bool ip_valid = false;     // address is an IP literal of addr_type
  IpAddress ip;
  std::optional<uint32_t> ttl;    // IP4 multicast only
  std::optional<uint32_t> count;  // number of addresses
};

enum class SdpDirection : uint8_t { kSendRecv, kSendOnly, kRecvOnly, kInactive };
std::string_view SdpDirectionName(SdpDirection d);

struct SdpAttribute {
  std::string_view name;   // "rtpmap", "sendrecv", ...
  std::string_view value;  // after the first ':', empty for a property attribute
};

// a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>]
struct SdpRtpMap {
  uint8_t payload_type = 0;
  std::string_view encoding;  // "PCMU"
  uint32_t clock_rate = 0;
  std::string_view params;  // channels, for audio
};

struct SdpLine {
  char type = 0;
  std::string_view value;
};

struct SdpMedia {
  std::string_view type;  // "audio", "video", "application", "image", ...
  uint16_t port = 0;
  uint32_t port_count = 1;
  std::string_view proto;                            // "RTP/AVP", "RTP/SAVP", "udptl", ...
  absl::InlinedVector<std::string_view, 8> formats;  // as written
  // Formats that are RTP payload type numbers (0..127), when proto is RTP/*.
  absl::InlinedVector<uint8_t, 8> payload_types;
  std::optional<SdpConnection> connection;  // media-level c=
  std::vector<SdpAttribute> attributes;
  absl::InlinedVector<SdpRtpMap, 4> rtpmaps;
  std::optional<SdpDirection> direction;  // media-level direction attribute
  std::vector<SdpLine> other;             // i=, b=, k= lines
};

// Accepted, but worth a look.
enum class SdpWarning : uint32_t {
  kNonCrlfLineEnd = 1u << 0,
  kMissingSessionName = 1u << 1,  // no s= line
  kMissingTiming = 1u << 2,       // no t= line
  kNoConnection = 1u << 3,        // a media section has no c= at either level
  kBadRtpMap = 1u << 4,           // an rtpmap attribute that does not parse (kept as attribute)
  kUnknownLineType = 1u << 5,     // a line type RFC 4566 does not define (kept in other)
  kEmptyLine = 1u << 6,           // blank lines between the lines
};
std::string_view WarningName(SdpWarning w);

struct SdpLimits {
  size_t max_size = 65535;
  size_t max_lines = 1024;
  size_t max_media = 32;
  size_t max_formats = 64;  // per m= line
};

struct SdpSession {
  uint32_t version = 0;
  SdpOrigin origin;
  std::string_view session_name;
  std::optional<SdpConnection> connection;           // session-level c=
  std::vector<SdpAttribute> attributes;              // session-level a=
  SdpDirection direction = SdpDirection::kSendRecv;  // session-level default
  std::vector<SdpMedia> media;
  std::vector<SdpLine> other;  // every other session-level line (i, u, e, p, b, t, r, z, k)
  uint32_t warnings = 0;

  bool has_warning(SdpWarning w) const { return (warnings & static_cast<uint32_t>(w)) != 0; }
  // The c= that applies to media i: its own, else the session's.
  const SdpConnection* ConnectionFor(size_t i) const;
  // The direction that applies to media i.
  SdpDirection DirectionFor(size_t i) const;
};

// Parses an SDP body. Requires v=0 as the first line and an o= line; every
// line must be <letter>=<value>. Errors: kEmpty, kBadSdpLine, kBadVersion,
// kBadSdpOrigin, kBadSdpConnection, kBadSdpMedia, kMissingSdpField, and the
// limits (kMessageTooLarge, kTooManyLines, kTooManyMedia, kTooManyValues).
ParseResult<SdpSession> ParseSdp(std::string_view text, const SdpLimits& limits = {});
template <TemporaryString S>
ParseResult<SdpSession> ParseSdp(S&& text, const SdpLimits& limits = {}) = delete;
// The same into *out, whose vectors (media sections and theirs) keep their
// storage from one body to the next: for a caller parsing one body after
// another. reason is kOk on success; on an error *out holds what was read.
// Every field of SdpSession and SdpMedia is reset in sdp.cc (ParseSdpInto,
// NextMedia): a field added to either must be reset there too
// (SdpTest.ParsingIntoAReusedSessionEqualsAFreshParse compares them all,
// through its Describe, which must list it as well).
ParseError ParseSdpInto(std::string_view text, const SdpLimits& limits, SdpSession* out);
template <TemporaryString S>
ParseError ParseSdpInto(S&& text, const SdpLimits& limits, SdpSession* out) = delete;

// "<nettype> <addrtype> <address>[/ttl[/count]]" (the value of a c= line).
ParseResult<SdpConnection> ParseSdpConnection(std::string_view value);

// "<pt> <encoding>/<rate>[/<params>]" (the value of an rtpmap attribute).
ParseResult<SdpRtpMap> ParseRtpMap(std::string_view value);

}  // namespace sw::sip
