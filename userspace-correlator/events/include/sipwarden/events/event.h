// SPDX-License-Identifier: BSD-2-Clause
// The typed events of the paper's event table (section 5.1): SIP messages
// with the fields the correlator matches on, MGCP commands, RTP notices and
// finished call records. Events own their strings: they outlive the packet
// buffers they came from.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sipwarden/ip.h"

namespace sw {
class JsonWriter;
}  // namespace sw

namespace sw::ev {

enum class Transport : uint8_t { kUdp, kTcp, kTls, kWs, kHep };
std::string_view TransportName(Transport t);

// Where a message was seen.
struct Flow {
  int64_t ts_ns = 0;  // event time (Unix ns)
  IpAddress src, dst;
  uint16_t sport = 0, dport = 0;
  Transport transport = Transport::kUdp;
};

struct Party {
  std::string uri;   // as written
  std::string user;  // user part (sip/sips) or number (tel)
  std::string host;
  std::string tag;
  std::string display;
};

struct SdpMedia {
  std::string type;  // audio, video, image, application
  uint16_t port = 0;
  std::string proto;  // RTP/AVP, RTP/SAVP, udptl, ...
  std::string conn;   // connection address for this medium (media or session level)
  std::vector<uint16_t> payload_types;
};

struct SdpSummary {
  std::string owner;    // o= username
  std::string session;  // s=
  std::string conn;     // session-level c= address
  std::vector<SdpMedia> media;
};

struct SipEvent {
  Flow flow;
  bool is_request = false;
  std::string method;  // requests; for responses the CSeq method
  int status = 0;      // responses
  std::string reason;
  std::string request_uri;
  std::string request_user;
  std::string call_id;
  uint32_t cseq = 0;
  std::string cseq_method;
  Party from, to;
  std::vector<std::string> via_hosts;  // sent-by hosts, top first
  std::string via_branch;              // top Via branch
  std::string contact;                 // first Contact URI
  std::string user_agent;              // User-Agent, or Server for responses
  std::string auth_user;               // Authorization username, if any
  bool has_auth = false;
  uint32_t expires = 0;  // Expires header (REGISTER), 0 when absent
  bool has_expires = false;
  std::optional<SdpSummary> sdp;
  uint32_t warnings = 0;  // sip::SipWarning bits
  // Set when the parser refused the message (its verdict stands): the
  // reason (sip::ReasonName, e.g. "bad_cseq"), the part it concerns ("CSeq")
  // and the byte offset where it stopped. The fields above then hold what
  // could still be read (sip::SalvageSip); the rest stay empty.
  std::string malformed_reason;
  std::string malformed_what;
  uint32_t malformed_at = 0;
  bool malformed() const { return !malformed_reason.empty(); }
};

struct MgcpEvent {
  Flow flow;
  bool is_command = false;
  std::string verb;  // CRCX, MDCX, DLCX, AUEP, ...
  int status = 0;    // responses
  std::string transaction_id;
  std::string endpoint;
  std::string call_id;        // C:
  std::string connection_id;  // I:
  std::optional<SdpSummary> sdp;
  // DLCX: the media of the connections it released (learned from the SDP of
  // their CRCX/MDCX and responses); empty when none was known.
  std::vector<SdpMedia> released_media;
};

struct RtpEvent {
  Flow flow;
  uint32_t ssrc = 0;
  uint16_t seq = 0;
  uint32_t timestamp = 0;
  uint8_t payload_type = 0;
  bool rtcp = false;
  std::string reason;  // "stream_start", "media_after_end", "watched_media"
  std::string owner;   // the Call-ID, or "mgcp:" + connection id, the media belongs to
};

enum class Disposition : uint8_t { kAnswered, kBusy, kNoAnswer, kCancelled, kFailed, kRejected };
std::string_view DispositionName(Disposition d);

// A finished call (the paper's CDR).
struct CallRecord {
  std::string call_id;
  Party caller, callee;
  std::string contact;
  IpAddress caller_ip;
  int64_t start_ns = 0;     // the first INVITE
  int64_t answer_ns = 0;    // 2xx to the INVITE, 0 if never answered
  int64_t end_ns = 0;       // BYE, final failure, or last activity
  int64_t setup_ms = -1;    // INVITE to the final response (2xx or failure); -1 if none
  double duration_s = 0;    // start to end
  double billable_s = 0;    // answer to end; 0 if unanswered
  Disposition disposition = Disposition::kFailed;
  int status = 0;           // the final response's status (0 if none)
  std::string ended_by;     // "bye", "cancel", "response", "timeout", "end_of_input"
  std::string user_agent;
  std::vector<SdpMedia> media;  // endpoints offered and answered
};

// JSON lines in the shapes documented in docs/formats.md.
std::string ToJson(const SipEvent& e);
std::string ToJson(const MgcpEvent& e);
std::string ToJson(const RtpEvent& e);
std::string ToJson(const CallRecord& c);

// The same lines written into w (emptied first) and seen through the
// returned view, valid until w changes: for a writer kept from line to line,
// which then costs no allocation per line.
std::string_view ToJson(const SipEvent& e, JsonWriter& w);
std::string_view ToJson(const MgcpEvent& e, JsonWriter& w);
std::string_view ToJson(const RtpEvent& e, JsonWriter& w);
std::string_view ToJson(const CallRecord& c, JsonWriter& w);

}  // namespace sw::ev
