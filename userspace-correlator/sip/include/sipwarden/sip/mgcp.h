// SPDX-License-Identifier: BSD-2-Clause
// MGCP (RFC 3435) commands and responses: the header line, the parameter
// lines (C: call id, I: connection id, X: request id, L:, M:, R:, S:, O:,
// RM:, ...) and an SDP body after an empty line. Several messages may be
// piggybacked in one datagram, separated by a line holding a single '.';
// ParseMgcp parses the first and says how many bytes it took. Every
// string_view points into the parsed text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "absl/container/inlined_vector.h"
#include "sipwarden/sip/result.h"

namespace sw::sip {

enum class MgcpVerb : uint8_t {
  kUnknown,  // an extension verb ("X...")
  kEpcf,
  kCrcx,
  kMdcx,
  kDlcx,
  kRqnt,
  kNtfy,
  kAuep,
  kAucx,
  kRsip,
  kMesg,
};
// Case-insensitive ("crcx" is kCrcx).
MgcpVerb MgcpVerbFromString(std::string_view s);
std::string_view MgcpVerbName(MgcpVerb v);  // upper case; "" for kUnknown

struct MgcpParam {
  std::string_view name;   // as written: "C", "i", "RM", "X-Foo"
  std::string_view value;  // trimmed; may be empty
};

enum class MgcpWarning : uint32_t {
  kNonCrlfLineEnd = 1u << 0,
  kPiggybacked = 1u << 1,     // more messages follow a "." line
  kDuplicateParam = 1u << 2,  // a parameter given twice (normal in capability replies)
  kUnusualVersion = 1u << 3,  // not "MGCP 1.0"
};
std::string_view WarningName(MgcpWarning w);

struct MgcpLimits {
  size_t max_size = 65535;
  size_t max_line = 4096;
  size_t max_params = 64;
};

struct MgcpMessage {
  bool is_command = false;
  // Command line.
  std::string_view verb;  // as written
  MgcpVerb verb_id = MgcpVerb::kUnknown;
  std::string_view endpoint;         // "aaln/1@gw.example.net"
  std::string_view endpoint_local;   // "aaln/1"
  std::string_view endpoint_domain;  // "gw.example.net" or "[192.0.2.1]"
  std::string_view version;          // "1.0"
  std::string_view profile;          // "NCS 1.0", empty if none
  // Response line.
  int response_code = 0;
  std::string_view response_comment;
  uint32_t transaction_id = 0;

  absl::InlinedVector<MgcpParam, 8> params;  // in order
  // The first occurrence of the common parameters (empty if absent).
  std::string_view call_id;            // C
  std::string_view connection_id;      // I
  std::string_view request_id;         // X
  std::string_view notified_entity;    // N
  std::string_view local_options;      // L
  std::string_view mode;               // M
  std::string_view requested_events;   // R
  std::string_view signal_requests;    // S
  std::string_view observed_events;    // O
  std::string_view reason_code;        // E
  std::string_view restart_method;     // RM
  std::string_view specific_endpoint;  // Z

  std::string_view sdp;  // the session description after the empty line
  size_t size = 0;       // bytes of this message, including the "." separator line
  uint32_t warnings = 0;

  bool has_warning(MgcpWarning w) const { return (warnings & static_cast<uint32_t>(w)) != 0; }
  // The first parameter called name (case-insensitive), nullopt if absent.
  std::optional<std::string_view> Param(std::string_view name) const;
};

// Errors: kEmpty, kMessageTooLarge, kHeaderTooLong, kTooManyParams,
// kBadMgcpLine, kBadMgcpVerb, kBadMgcpTransactionId, kBadMgcpEndpoint,
// kBadVersion, kBadMgcpParam, kValueOutOfRange (transaction id).
ParseResult<MgcpMessage> ParseMgcp(std::string_view data, const MgcpLimits& limits = {});
template <TemporaryString S>
ParseResult<MgcpMessage> ParseMgcp(S&& data, const MgcpLimits& limits = {}) = delete;

}  // namespace sw::sip
