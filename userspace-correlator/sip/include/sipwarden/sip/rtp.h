// SPDX-License-Identifier: BSD-2-Clause
// RTP and RTCP headers (RFC 3550, with the RTCP feedback types of RFC 4585
// and XR of RFC 3611 kept generic). Every length is checked against the
// buffer before it is used; payloads are spans into the input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "absl/container/inlined_vector.h"
#include "sipwarden/sip/result.h"

namespace sw::sip {

struct RtpHeader {
  uint8_t version = 0;
  bool padding = false;
  bool extension = false;
  uint8_t csrc_count = 0;
  bool marker = false;
  uint8_t payload_type = 0;
  uint16_t sequence = 0;
  uint32_t timestamp = 0;
  uint32_t ssrc = 0;
  absl::InlinedVector<uint32_t, 4> csrcs;
  uint16_t extension_profile = 0;           // when extension
  std::span<const uint8_t> extension_data;  // 4 * length octets
  std::span<const uint8_t> payload;         // without padding
  uint8_t padding_length = 0;               // octets of padding, count included
  size_t header_length = 0;                 // fixed + CSRCs + extension
};

// Errors: kTruncated (shorter than the header, CSRCs or extension say),
// kBadRtpHeader (version not 2), kBadLength (padding longer than the payload
// or zero).
ParseResult<RtpHeader> ParseRtp(std::span<const uint8_t> packet);

// RTCP packet types.
enum class RtcpType : uint8_t {
  kSr = 200,
  kRr = 201,
  kSdes = 202,
  kBye = 203,
  kApp = 204,
  kRtpfb = 205,
  kPsfb = 206,
  kXr = 207,
};
std::string_view RtcpTypeName(uint8_t packet_type);  // "SR", ..., "unknown"

struct RtcpReportBlock {
  uint32_t ssrc = 0;
  uint8_t fraction_lost = 0;
  int32_t cumulative_lost = 0;  // 24-bit signed
  uint32_t highest_sequence = 0;
  uint32_t jitter = 0;
  uint32_t last_sr = 0;
  uint32_t delay_since_last_sr = 0;
};

struct RtcpSdesItem {
  uint8_t type = 0;  // 1 CNAME, 2 NAME, ... 8 PRIV
  std::string_view text;
};

struct RtcpSdesChunk {
  uint32_t ssrc = 0;
  absl::InlinedVector<RtcpSdesItem, 2> items;
};

// One packet of a compound RTCP datagram.
struct RtcpPacket {
  uint8_t version = 0;
  bool padding = false;
  uint8_t count = 0;  // RC / SC / FMT, the low five bits of the first octet
  uint8_t packet_type = 0;
  uint16_t length_words = 0;      // the length field: 32-bit words minus one
  std::span<const uint8_t> body;  // after the 4-octet header, padding removed
  uint32_t ssrc = 0;              // sender SSRC (SR, RR, APP, RTPFB, PSFB, XR; first BYE SSRC)
  // SR sender info.
  uint64_t ntp_timestamp = 0;
  uint32_t rtp_timestamp = 0;
  uint32_t packet_count = 0;
  uint32_t octet_count = 0;
  absl::InlinedVector<RtcpReportBlock, 1> reports;  // SR / RR
  absl::InlinedVector<RtcpSdesChunk, 1> sdes;       // SDES
  absl::InlinedVector<uint32_t, 1> bye_ssrcs;       // BYE
  std::string_view bye_reason;                      // BYE, optional
  std::string_view app_name;                        // APP, 4 ASCII octets
  uint32_t media_ssrc = 0;                          // RTPFB / PSFB
};

enum class RtcpWarning : uint32_t {
  kFirstNotReport = 1u << 0,  // RFC 3550 6.1: a compound packet starts with SR or RR
  kPaddingNotLast = 1u << 1,  // padding set on a packet that is not the last
  kUnknownType = 1u << 2,     // a packet type outside 200..207 (kept, body unparsed)
};

struct RtcpLimits {
  size_t max_packets = 32;
};

struct RtcpCompound {
  absl::InlinedVector<RtcpPacket, 2> packets;
  uint32_t warnings = 0;
  bool has_warning(RtcpWarning w) const { return (warnings & static_cast<uint32_t>(w)) != 0; }
};

// Parses a compound RTCP datagram. Errors: kEmpty, kTruncated (a length
// beyond the buffer), kBadRtcpHeader (version not 2, body too short for
// its type or count), kBadLength (bad padding), kTooManyPackets.
ParseResult<RtcpCompound> ParseRtcp(std::span<const uint8_t> datagram,
                                    const RtcpLimits& limits = {});

// RFC 5761 demultiplexing: true when the second octet is an RTCP packet type
// (192..223), i.e. the datagram is RTCP rather than RTP.
bool LooksLikeRtcp(std::span<const uint8_t> datagram);

}  // namespace sw::sip
