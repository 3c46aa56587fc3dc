// SPDX-License-Identifier: BSD-2-Clause
// SIP messages (RFC 3261): requests and responses parsed in place over a
// std::string_view. The parser splits the header section (CRLF, and leniently
// LF or CR line ends; folded continuation lines), recognises long and compact
// header names, and parses the headers the rest of sipwarden relies on: Via,
// From, To, Call-ID, CSeq, Contact, Max-Forwards, Content-Length, Route,
// Record-Route, Expires, Date, Authorization. Every other header is kept as a
// (name, value) pair and can be split into list elements on demand.
//
// Nothing is copied: every string_view in a SipMessage points into the input,
// which must outlive it. Quoted strings and URIs keep their escapes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/functional/function_ref.h"
#include "sipwarden/sip/result.h"
#include "sipwarden/sip/uri.h"

namespace sw::sip {

enum class Method : uint8_t {
  kUnknown,  // an extension method; see SipMessage::method
  kInvite,
  kAck,
  kBye,
  kCancel,
  kRegister,
  kOptions,
  kInfo,
  kPrack,
  kSubscribe,
  kNotify,
  kUpdate,
  kMessage,
  kRefer,
  kPublish,
};
// Methods are case-sensitive (RFC 3261 section 7.1): "invite" is kUnknown.
Method MethodFromString(std::string_view s);
std::string_view MethodName(Method m);  // "" for kUnknown

// Headers the parser knows by name. Lookup is case-insensitive and accepts
// the compact forms of RFC 3261 and the IANA registry (i, m, f, t, v, l, c,
// k, s, e, o, u, r, b, x, y, a, j, d, n).
enum class HeaderId : uint8_t {
  kOther,
  kAccept,
  kAcceptContact,
  kAcceptEncoding,
  kAcceptLanguage,
  kAlertInfo,
  kAllow,
  kAllowEvents,
  kAuthorization,
  kCallId,
  kCallInfo,
  kContact,
  kContentDisposition,
  kContentEncoding,
  kContentLanguage,
  kContentLength,
  kContentType,
  kCSeq,
  kDate,
  kErrorInfo,
  kEvent,
  kExpires,
  kFrom,
  kIdentity,
  kIdentityInfo,
  kInReplyTo,
  kMaxForwards,
  kMimeVersion,
  kMinExpires,
  kOrganization,
  kPAssertedIdentity,
  kPPreferredIdentity,
  kPath,
  kPriority,
  kPrivacy,
  kProxyAuthenticate,
  kProxyAuthorization,
  kProxyRequire,
  kRAck,
  kReason,
  kRecordRoute,
  kReferTo,
  kReferredBy,
  kRejectContact,
  kReplaces,
  kReplyTo,
  kRequestDisposition,
  kRequire,
  kRetryAfter,
  kRoute,
  kRSeq,
  kServer,
  kSessionExpires,
  kSubject,
  kSubscriptionState,
  kSupported,
  kTimestamp,
  kTo,
  kUnsupported,
  kUserAgent,
  kVia,
  kWarning,
  kWwwAuthenticate,
  kCount,  // not a header
};
HeaderId HeaderIdFromName(std::string_view name);
std::string_view HeaderName(HeaderId id);  // canonical long form; "" for kOther
// True for headers whose grammar is a comma-separated list (Via, Contact,
// Route, Allow, Supported, ...): these may be split into elements and may
// be repeated. Authorization, Date, User-Agent and the like are not lists.
bool IsListHeader(HeaderId id);

struct Header {
  std::string_view name;   // as written, e.g. "v" or "MaX-fOrWaRdS"
  std::string_view value;  // LWS-trimmed; folded lines keep their CRLF + WSP
  HeaderId id = HeaderId::kOther;
};

// name-addr ("Display" <sip:u@h>;tag=x) or addr-spec (sip:u@h;tag=x) with
// its header parameters.
struct NameAddr {
  std::string_view raw;
  std::string_view display_name;  // without quotes; escapes kept (see Unquote)
  bool display_quoted = false;
  bool bracketed = false;  // name-addr form, <...>
  Uri uri;
  std::string_view params;  // ";tag=1;q=0.5" as written, with the leading ';'
  std::string_view tag;     // the tag parameter, empty if none (From/To: see kNonTokenTag)
};

struct Via {
  std::string_view raw;
  std::string_view protocol;   // "SIP"
  std::string_view version;    // "2.0"
  std::string_view transport;  // "UDP", "TCP", "TLS", "SCTP", "WS", ...
  HostPort sent_by;
  std::string_view params;  // with the leading ';'
  std::string_view branch;
  bool has_branch = false;
  std::string_view received;  // brackets of an IPv6 value removed
  bool has_rport = false;
  std::optional<uint16_t> rport;  // rport=N
  std::string_view maddr;
};

struct CSeq {
  uint32_t seq = 0;
  std::string_view method;
  Method method_id = Method::kUnknown;
};

// Authorization / Proxy-Authorization credentials (RFC 3261 section 25.1).
struct Credentials {
  std::string_view scheme;    // "Digest", or any auth-scheme token
  std::string_view params;    // the comma-separated auth-params as written
  std::string_view username;  // Digest username, without quotes
  std::string_view realm;
  std::string_view uri;
};

// Accepted, but worth a look: the parser records these instead of rejecting.
enum class SipWarning : uint32_t {
  kNonCrlfLineEnd = 1u << 0,       // LF or CR alone ended a line
  kNoHeaderTerminator = 1u << 1,   // datagram ended without the empty line
  kTrailingBytes = 1u << 2,        // datagram octets after Content-Length's body
  kNoContentLength = 1u << 3,      // body length taken from the datagram
  kLeadingCrlf = 1u << 4,          // CRLF keep-alives before the start line
  kViaBranchMissing = 1u << 5,     // top Via has no branch (RFC 2543 peer)
  kViaBranchNotRfc3261 = 1u << 6,  // top Via branch lacks z9hG4bK or is only the cookie
  kBroadcastVia = 1u << 7,         // a Via sent-by is 255.255.255.255 or multicast
  kMaxForwardsZero = 1u << 8,
  kUnknownUriScheme = 1u << 9,       // Request-URI, From, To or Contact not sip/sips/tel
  kUriHeadersInContact = 1u << 10,   // escaped headers in a Contact URI
  kBadDate = 1u << 11,               // Date is not an RFC 1123 GMT date
  kInvalidIpv6Reference = 1u << 12,  // "[...]" allowed by RFC 3261 but not RFC 4291
  kBracketedReceived = 1u << 13,     // Via received=[IPv6] (RFC 5118 4.5)
  kValueOutOfRange = 1u << 14,       // Expires or a similar value saturated
  kBadAuthorization = 1u << 15,      // Authorization header not in auth-param syntax
  kNulByte = 1u << 16,               // a NUL octet in the header section
  kNonTokenDisplayName = 1u << 17,   // unquoted display name with non-token characters
  // An IPv6 host without brackets in the Request-URI, From, To, Contact,
  // Route, Record-Route or a Via sent-by (see HostPort::unbracketed_ipv6).
  kUnbracketedIpv6Host = 1u << 18,
  // A From or To tag that is not an RFC 3261 token: quoted (NameAddr::tag is
  // then the text inside the quotes) or holding other octets (kept verbatim).
  kNonTokenTag = 1u << 19,
};
std::string_view WarningName(SipWarning w);

enum class Framing : uint8_t {
  kDatagram,  // UDP/SCTP chunk: the message is the buffer; missing CL = rest
  kStream,    // TCP/TLS/WS: Content-Length is required; kIncomplete if more is needed
};

struct SipLimits {
  size_t max_message_size = 65535;
  size_t max_header_size = 8192;  // one header, continuation lines included
  size_t max_headers = 128;
  size_t max_vias = 64;
  size_t max_list_values = 64;  // per list header kind: Contact, Route, Record-Route
  size_t max_params = 32;       // per URI or per header value
};

struct SipParseOptions {
  Framing framing = Framing::kDatagram;
  SipLimits limits;
};

struct SipMessage {
  bool is_request = false;
  // Request line.
  std::string_view method;  // as written
  Method method_id = Method::kUnknown;
  Uri request_uri;
  // Status line.
  int status_code = 0;
  std::string_view reason_phrase;
  std::string_view version;  // "SIP/2.0"

  absl::InlinedVector<Header, 24> headers;  // in order of appearance

  // Parsed headers.
  std::string_view call_id;
  CSeq cseq;
  NameAddr from;
  NameAddr to;
  absl::InlinedVector<Via, 4> vias;  // all Via values, top first
  absl::InlinedVector<NameAddr, 2> contacts;
  bool contact_star = false;  // "Contact: *"
  std::vector<NameAddr> routes;
  std::vector<NameAddr> record_routes;
  std::optional<uint32_t> max_forwards;
  std::optional<uint32_t> content_length;
  std::optional<uint32_t> expires;  // saturates at 2^32-1 (warning kValueOutOfRange)
  std::string_view content_type;    // as written, parameters included
  std::string_view user_agent;
  std::string_view server;
  std::optional<Credentials> authorization;  // Authorization or Proxy-Authorization

  std::string_view body;
  size_t size = 0;  // bytes of this message (start line to end of body)
  uint32_t warnings = 0;

  bool has_warning(SipWarning w) const { return (warnings & static_cast<uint32_t>(w)) != 0; }
  // The first header with this id, or nullptr.
  const Header* Find(HeaderId id) const;
  // The first header with this name (case-insensitive, compact forms too).
  const Header* Find(std::string_view name) const;
  // Every value of a header across repeated headers; list headers are split
  // at top-level commas. fn returns false to stop.
  void ForEachValue(HeaderId id, absl::FunctionRef<bool(std::string_view)> fn) const;
  std::vector<std::string_view> Values(HeaderId id) const;
  // True when Content-Type is application/sdp.
  bool HasSdpBody() const;
  // Empties the message but keeps its allocations, for reuse.
  void Clear();
};

// Parses one SIP message from the start of data. In datagram framing bytes
// after the message (Content-Length shorter than the rest) are reported by
// kTrailingBytes and `size`; in stream framing `size` says where the next
// message starts and kIncomplete asks for more bytes.
ParseResult<SipMessage> ParseSip(std::string_view data, const SipParseOptions& options = {});
// The same into a caller-owned message (cleared first, allocations reused).
// Returns a ParseError whose reason is kOk on success; after a failure the
// message holds whatever was parsed before the fault and should not be used.
ParseError ParseSipInto(std::string_view data, const SipParseOptions& options, SipMessage* out);
template <TemporaryString S>
ParseResult<SipMessage> ParseSip(S&& data, const SipParseOptions& options = {}) = delete;
template <TemporaryString S>
ParseError ParseSipInto(S&& data, const SipParseOptions& options, SipMessage* out) = delete;

// The parts used by ParseSip, for callers holding a single header value.
ParseResult<NameAddr> ParseNameAddr(std::string_view value, const SipLimits& limits = {});
ParseResult<Via> ParseVia(std::string_view value, const SipLimits& limits = {});
template <TemporaryString S>
ParseResult<NameAddr> ParseNameAddr(S&& value, const SipLimits& limits = {}) = delete;
template <TemporaryString S>
ParseResult<Via> ParseVia(S&& value, const SipLimits& limits = {}) = delete;

}  // namespace sw::sip
