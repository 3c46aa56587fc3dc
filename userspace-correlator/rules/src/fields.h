// SPDX-License-Identifier: BSD-2-Clause
// Typed event fields as rules see them: names, kinds, which event types carry
// them, and how to read, render and key them without copying.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "byte_buf.h"
#include "sipwarden/events/event.h"
#include "sipwarden/ip.h"
#include "sipwarden/rules/event.h"

namespace sw::rules::internal {

// Event types as bits.
enum : uint8_t {
  kBitSip = 1,
  kBitMgcp = 2,
  kBitRtp = 4,
  kBitCall = 8,
  kBitSyn = 16,
  kBitAll = 31,
};
inline uint8_t BitOf(EventType t) { return static_cast<uint8_t>(1u << static_cast<int>(t)); }

enum class ValueKind : uint8_t { kString, kInt, kDouble, kIp, kBool, kList };
std::string_view KindName(ValueKind k);

// X(id, name, kind, event type bits)
#define SW_RULE_FIELDS(X)                                                        \
  X(kType, "type", kString, kBitAll)                                             \
  X(kName, "name", kString, kBitSyn)                                             \
  X(kTs, "ts", kInt, kBitAll)                                                    \
  X(kSrcIp, "src_ip", kIp, kBitSip | kBitMgcp | kBitRtp | kBitCall | kBitSyn)    \
  X(kDstIp, "dst_ip", kIp, kBitSip | kBitMgcp | kBitRtp | kBitSyn)               \
  X(kSrcPort, "src_port", kInt, kBitSip | kBitMgcp | kBitRtp | kBitSyn)          \
  X(kDstPort, "dst_port", kInt, kBitSip | kBitMgcp | kBitRtp | kBitSyn)          \
  X(kTransport, "transport", kString, kBitSip | kBitMgcp | kBitRtp | kBitSyn)    \
  X(kMethod, "method", kString, kBitSip | kBitSyn)                               \
  X(kRequest, "request", kBool, kBitSip | kBitMgcp | kBitSyn)                    \
  X(kStatus, "status", kInt, kBitSip | kBitMgcp | kBitCall | kBitSyn)            \
  X(kStatusClass, "status_class", kInt, kBitSip | kBitMgcp | kBitCall | kBitSyn) \
  X(kReasonPhrase, "reason_phrase", kString, kBitSip | kBitSyn)                  \
  X(kRequestUri, "request_uri", kString, kBitSip | kBitSyn)                      \
  X(kRequestUser, "request_user", kString, kBitSip | kBitSyn)                    \
  X(kCallId, "call_id", kString, kBitSip | kBitMgcp | kBitCall | kBitSyn)        \
  X(kCseq, "cseq", kInt, kBitSip | kBitSyn)                                      \
  X(kCseqMethod, "cseq_method", kString, kBitSip | kBitSyn)                      \
  X(kFromUri, "from_uri", kString, kBitSip | kBitSyn)                            \
  X(kFromUser, "from_user", kString, kBitSip | kBitSyn)                          \
  X(kFromHost, "from_host", kString, kBitSip | kBitSyn)                          \
  X(kFromTag, "from_tag", kString, kBitSip | kBitSyn)                            \
  X(kFromDisplay, "from_display", kString, kBitSip | kBitSyn)                    \
  X(kToUri, "to_uri", kString, kBitSip | kBitSyn)                                \
  X(kToUser, "to_user", kString, kBitSip | kBitSyn)                              \
  X(kToHost, "to_host", kString, kBitSip | kBitSyn)                              \
  X(kToTag, "to_tag", kString, kBitSip | kBitSyn)                                \
  X(kToDisplay, "to_display", kString, kBitSip | kBitSyn)                        \
  X(kViaHost, "via_host", kString, kBitSip | kBitSyn)                            \
  X(kViaHosts, "via_hosts", kList, kBitSip | kBitSyn)                            \
  X(kViaBranch, "via_branch", kString, kBitSip | kBitSyn)                        \
  X(kContact, "contact", kString, kBitSip | kBitCall | kBitSyn)                  \
  X(kUserAgent, "user_agent", kString, kBitSip | kBitCall | kBitSyn)             \
  X(kAuthUser, "auth_user", kString, kBitSip | kBitSyn)                          \
  X(kHasAuth, "has_auth", kBool, kBitSip | kBitSyn)                              \
  X(kExpires, "expires", kInt, kBitSip | kBitSyn)                                \
  X(kWarnings, "warnings", kInt, kBitSip | kBitSyn)                              \
  X(kMalformed, "malformed", kBool, kBitSip | kBitSyn)                           \
  X(kMalformedReason, "malformed_reason", kString, kBitSip | kBitSyn)            \
  X(kMalformedWhat, "malformed_what", kString, kBitSip | kBitSyn)                \
  X(kHasSdp, "has_sdp", kBool, kBitSip | kBitMgcp | kBitSyn)                     \
  X(kSdpOwner, "sdp_owner", kString, kBitSip | kBitMgcp | kBitSyn)               \
  X(kSdpSession, "sdp_session", kString, kBitSip | kBitMgcp | kBitSyn)           \
  X(kSdpConn, "sdp_conn", kString, kBitSip | kBitMgcp | kBitSyn)                 \
  X(kMediaIp, "media_ip", kIp, kBitSip | kBitMgcp | kBitCall | kBitSyn)          \
  X(kMediaPort, "media_port", kInt, kBitSip | kBitMgcp | kBitCall | kBitSyn)     \
  X(kMedia, "media", kString, kBitSip | kBitMgcp | kBitCall | kBitSyn)           \
  X(kVerb, "verb", kString, kBitMgcp | kBitSyn)                                  \
  X(kTransactionId, "transaction_id", kString, kBitMgcp | kBitSyn)               \
  X(kEndpoint, "endpoint", kString, kBitMgcp | kBitSyn)                          \
  X(kConnectionId, "connection_id", kString, kBitMgcp | kBitSyn)                 \
  X(kReleasedMedia, "released_media", kString, kBitMgcp | kBitSyn)               \
  X(kSsrc, "ssrc", kInt, kBitRtp | kBitSyn)                                      \
  X(kRtpSeq, "rtp_seq", kInt, kBitRtp | kBitSyn)                                 \
  X(kPayloadType, "payload_type", kInt, kBitRtp | kBitSyn)                       \
  X(kRtcp, "rtcp", kBool, kBitRtp | kBitSyn)                                     \
  X(kReason, "reason", kString, kBitRtp | kBitSyn)                               \
  X(kOwner, "owner", kString, kBitRtp | kBitSyn)                                 \
  X(kCallerUri, "caller_uri", kString, kBitCall | kBitSyn)                       \
  X(kCallerUser, "caller_user", kString, kBitCall | kBitSyn)                     \
  X(kCallerHost, "caller_host", kString, kBitCall | kBitSyn)                     \
  X(kCalleeUri, "callee_uri", kString, kBitCall | kBitSyn)                       \
  X(kCalleeUser, "callee_user", kString, kBitCall | kBitSyn)                     \
  X(kCalleeHost, "callee_host", kString, kBitCall | kBitSyn)                     \
  X(kCallerIp, "caller_ip", kIp, kBitCall | kBitSyn)                             \
  X(kDisposition, "disposition", kString, kBitCall | kBitSyn)                    \
  X(kEndedBy, "ended_by", kString, kBitCall | kBitSyn)                           \
  X(kDuration, "duration", kDouble, kBitCall | kBitSyn)                          \
  X(kBillable, "billable", kDouble, kBitCall | kBitSyn)                          \
  X(kSetupMs, "setup_ms", kInt, kBitCall | kBitSyn)

enum class FieldId : uint8_t {
#define SW_FIELD_ENUM(id, name, kind, types) id,
  SW_RULE_FIELDS(SW_FIELD_ENUM)
#undef SW_FIELD_ENUM
      kCustom,  // a field a synthetic event carries under a free name (field.NAME)
};

struct FieldInfo {
  std::string_view name;
  ValueKind kind;
  uint8_t types;
};
inline constexpr FieldInfo kFieldInfos[] = {
#define SW_FIELD_INFO(id, name, kind, types) {name, ValueKind::kind, static_cast<uint8_t>(types)},
    SW_RULE_FIELDS(SW_FIELD_INFO)
#undef SW_FIELD_INFO
        {"field.*", ValueKind::kString, kBitSyn},
};
// Inline: rules ask a field's kind for every value they read.
inline const FieldInfo& Info(FieldId id) { return kFieldInfos[static_cast<int>(id)]; }
std::optional<FieldId> FieldByName(std::string_view name);
// All field names, for error messages.
std::string FieldNameList();

// A field as a rule references it. first: the first event of a Pair
// operation (first.FIELD). slot: where a snapshot keeps its rendered value.
struct FieldRef {
  FieldId id = FieldId::kType;
  std::string custom;  // for kCustom
  bool first = false;
  int slot = -1;
  ValueKind kind() const { return id == FieldId::kCustom ? ValueKind::kString : Info(id).kind; }
  std::string_view name() const { return id == FieldId::kCustom ? custom : Info(id).name; }
  bool SameField(const FieldRef& o) const { return id == o.id && custom == o.custom; }
};

// A typed event as the engine sees it: exactly one of the pointers is set.
struct EventView {
  EventType type = EventType::kSip;
  int64_t ts = 0;
  const ev::Flow* flow = nullptr;  // sip, mgcp, rtp, synthetic with a flow
  const ev::SipEvent* sip = nullptr;
  const ev::MgcpEvent* mgcp = nullptr;
  const ev::RtpEvent* rtp = nullptr;
  const ev::CallRecord* call = nullptr;
  const SyntheticEvent* syn = nullptr;
};

// One value of one kind: only the member kind names is set (s: kString, i:
// kInt and kBool, d: kDouble, ip: kIp, list: kList), and only it is read.
// 24 bytes instead of 64 with a member each: every condition, key and
// template reads a field, and the value is built and copied each time.
struct Value {
  Value() : s() {}
  bool present = false;
  ValueKind kind = ValueKind::kString;
  union {
    std::string_view s;
    int64_t i;
    double d;
    IpAddress ip;
    const std::vector<std::string>* list;
  };
  double Number() const { return kind == ValueKind::kDouble ? d : static_cast<double>(i); }
};

// Reads a field. Computed text (media lists) is built in *scratch, which must
// outlive the returned value.
Value GetValue(const EventView& e, const FieldRef& f, std::string* scratch);
// Appends the value as text (empty when absent).
void AppendText(const Value& v, ValueKind kind, std::string& out);
void AppendText(const Value& v, ValueKind kind, ByteBuf& out);
// Appends a canonical binary form for correlation keys and distinct counts:
// self-delimiting, so that a key of several fields is their forms one after
// the other, and short, since every event's keys are built, hashed and
// compared (an IPv4 address is 5 bytes, a short text its length + 2).
void AppendKeyBytes(const Value& v, ValueKind kind, ByteBuf& out);
// The value of a field rendered from a snapshot (text) re-typed.
Value ParseText(std::string_view text, ValueKind kind);

// Dispatch classes: SIP requests by method, SIP responses by status class,
// then MGCP, RTP, call records, and synthetic events by interned name.
inline constexpr std::string_view kMethods[] = {
    "INVITE",    "ACK",    "BYE",     "CANCEL", "REGISTER", "OPTIONS", "PRACK",
    "SUBSCRIBE", "NOTIFY", "PUBLISH", "INFO",   "REFER",    "MESSAGE", "UPDATE"};
inline constexpr int kMethodCount = sizeof(kMethods) / sizeof(kMethods[0]);
inline constexpr int kClassReqOther = kMethodCount;  // other request methods
inline constexpr int kClassResp = kMethodCount + 1;  // + status class 1..6 - 1
inline constexpr int kClassMgcp = kClassResp + 6;
inline constexpr int kClassRtp = kClassMgcp + 1;
inline constexpr int kClassCall = kClassRtp + 1;
inline constexpr int kClassMalformed = kClassCall + 1;  // SIP messages the parser refused
inline constexpr int kClassSynOther = kClassMalformed + 1;  // synthetic, name not interned
inline constexpr int kClassSynBase = kClassSynOther + 1;  // + interned name id
int MethodIndex(std::string_view method);                 // kClassReqOther if unknown

}  // namespace sw::rules::internal
