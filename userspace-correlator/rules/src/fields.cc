// SPDX-License-Identifier: BSD-2-Clause
#include "fields.h"

#include <array>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "sipwarden/absl_compat.h"
#include "sipwarden/record.h"

namespace sw::rules::internal {
namespace {


Value Str(std::string_view s) {
  Value v;
  v.present = !s.empty();
  v.kind = ValueKind::kString;
  v.s = s;
  return v;
}

Value Int(int64_t i, bool present = true) {
  Value v;
  v.present = present;
  v.kind = ValueKind::kInt;
  v.i = i;
  return v;
}

Value Dbl(double d) {
  Value v;
  v.present = true;
  v.kind = ValueKind::kDouble;
  v.d = d;
  return v;
}

Value Bool(bool b) {
  Value v;
  v.present = true;
  v.kind = ValueKind::kBool;
  v.i = b ? 1 : 0;
  return v;
}

Value Ip(const IpAddress& a) {
  Value v;
  v.present = true;
  v.kind = ValueKind::kIp;
  v.ip = a;
  return v;
}

const Value kAbsent{};

// The medium rules call "the" media endpoint: the first audio medium, else the first.
const ev::SdpMedia* MainMedium(const std::vector<ev::SdpMedia>& media) {
  for (const auto& m : media) {
    if (m.type == "audio" && m.port != 0) return &m;
  }
  for (const auto& m : media) {
    if (m.port != 0) return &m;
  }
  return nullptr;
}

std::string_view ConnOf(const ev::SdpMedia& m, std::string_view session_conn) {
  return m.conn.empty() ? session_conn : std::string_view(m.conn);
}

void AppendEndpoint(std::string_view conn, uint16_t port, std::string& out) {
  if (conn.find(':') != std::string_view::npos) {
    out.push_back('[');
    out.append(conn);
    out.push_back(']');
  } else {
    out.append(conn);
  }
  out.push_back(':');
  absl::StrAppend(&out, port);
}

Value MediaList(const std::vector<ev::SdpMedia>& media, std::string_view session_conn,
                std::string* scratch) {
  scratch->clear();
  for (const auto& m : media) {
    const std::string_view conn = ConnOf(m, session_conn);
    if (m.port == 0 || conn.empty()) continue;
    if (!scratch->empty()) scratch->push_back(' ');
    AppendEndpoint(conn, m.port, *scratch);
  }
  return Str(*scratch);
}

Value MediaIp(const std::vector<ev::SdpMedia>& media, std::string_view session_conn) {
  const ev::SdpMedia* m = MainMedium(media);
  if (m == nullptr) return kAbsent;
  auto ip = IpAddress::Parse(ConnOf(*m, session_conn));
  if (!ip.ok()) return kAbsent;
  return Ip(*ip);
}

Value MediaPort(const std::vector<ev::SdpMedia>& media) {
  const ev::SdpMedia* m = MainMedium(media);
  if (m == nullptr) return kAbsent;
  return Int(m->port);
}

Value FlowValue(const ev::Flow& f, FieldId id) {
  switch (id) {
    case FieldId::kSrcIp:
      return Ip(f.src);
    case FieldId::kDstIp:
      return Ip(f.dst);
    case FieldId::kSrcPort:
      return Int(f.sport);
    case FieldId::kDstPort:
      return Int(f.dport);
    case FieldId::kTransport:
      return Str(ev::TransportName(f.transport));
    default:
      return kAbsent;
  }
}

const std::vector<ev::SdpMedia> kNoMedia;

Value SipValue(const ev::SipEvent& e, FieldId id, std::string* scratch) {
  // The SDP's media only for the fields that need them: this runs for every
  // field rules read.
  auto media = [&]() -> const std::vector<ev::SdpMedia>& {
    return e.sdp ? e.sdp->media : kNoMedia;
  };
  auto sconn = [&] { return e.sdp ? std::string_view(e.sdp->conn) : std::string_view(); };
  switch (id) {
    case FieldId::kMethod:
      return e.is_request ? Str(e.method) : kAbsent;
    case FieldId::kRequest:
      return Bool(e.is_request);
    case FieldId::kStatus:
      return Int(e.status, !e.is_request);
    case FieldId::kStatusClass:
      return Int(e.status / 100, !e.is_request);
    case FieldId::kReasonPhrase:
      return Str(e.reason);
    case FieldId::kRequestUri:
      return Str(e.request_uri);
    case FieldId::kRequestUser:
      return Str(e.request_user);
    case FieldId::kCallId:
      return Str(e.call_id);
    case FieldId::kCseq:
      return Int(e.cseq);
    case FieldId::kCseqMethod:
      return Str(e.cseq_method);
    case FieldId::kFromUri:
      return Str(e.from.uri);
    case FieldId::kFromUser:
      return Str(e.from.user);
    case FieldId::kFromHost:
      return Str(e.from.host);
    case FieldId::kFromTag:
      return Str(e.from.tag);
    case FieldId::kFromDisplay:
      return Str(e.from.display);
    case FieldId::kToUri:
      return Str(e.to.uri);
    case FieldId::kToUser:
      return Str(e.to.user);
    case FieldId::kToHost:
      return Str(e.to.host);
    case FieldId::kToTag:
      return Str(e.to.tag);
    case FieldId::kToDisplay:
      return Str(e.to.display);
    case FieldId::kViaHost:
      return e.via_hosts.empty() ? kAbsent : Str(e.via_hosts.front());
    case FieldId::kViaHosts: {
      Value v;
      v.present = !e.via_hosts.empty();
      v.kind = ValueKind::kList;
      v.list = &e.via_hosts;
      return v;
    }
    case FieldId::kViaBranch:
      return Str(e.via_branch);
    case FieldId::kContact:
      return Str(e.contact);
    case FieldId::kUserAgent:
      return Str(e.user_agent);
    case FieldId::kAuthUser:
      return Str(e.auth_user);
    case FieldId::kHasAuth:
      return Bool(e.has_auth);
    case FieldId::kExpires:
      return Int(e.expires, e.has_expires);
    case FieldId::kWarnings:
      return Int(e.warnings);
    case FieldId::kMalformed:
      return Bool(e.malformed());
    case FieldId::kMalformedReason:
      return e.malformed() ? Str(e.malformed_reason) : kAbsent;
    case FieldId::kMalformedWhat:
      return e.malformed() ? Str(e.malformed_what) : kAbsent;
    case FieldId::kHasSdp:
      return Bool(e.sdp.has_value());
    case FieldId::kSdpOwner:
      return e.sdp ? Str(e.sdp->owner) : kAbsent;
    case FieldId::kSdpSession:
      return e.sdp ? Str(e.sdp->session) : kAbsent;
    case FieldId::kSdpConn:
      return e.sdp ? Str(e.sdp->conn) : kAbsent;
    case FieldId::kMediaIp:
      return MediaIp(media(), sconn());
    case FieldId::kMediaPort:
      return MediaPort(media());
    case FieldId::kMedia:
      return MediaList(media(), sconn(), scratch);
    default:
      return FlowValue(e.flow, id);
  }
}

Value MgcpValue(const ev::MgcpEvent& e, FieldId id, std::string* scratch) {
  auto media = [&]() -> const std::vector<ev::SdpMedia>& {
    return e.sdp ? e.sdp->media : kNoMedia;
  };
  auto sconn = [&] { return e.sdp ? std::string_view(e.sdp->conn) : std::string_view(); };
  switch (id) {
    case FieldId::kVerb:
      return Str(e.verb);
    case FieldId::kRequest:
      return Bool(e.is_command);
    case FieldId::kStatus:
      return Int(e.status, !e.is_command);
    case FieldId::kStatusClass:
      return Int(e.status / 100, !e.is_command);
    case FieldId::kTransactionId:
      return Str(e.transaction_id);
    case FieldId::kEndpoint:
      return Str(e.endpoint);
    case FieldId::kCallId:
      return Str(e.call_id);
    case FieldId::kConnectionId:
      return Str(e.connection_id);
    case FieldId::kReleasedMedia: {
      // Endpoints as "IP:PORT" ([IPv6]:PORT), space separated, like media.
      return MediaList(e.released_media, std::string_view(), scratch);
    }
    case FieldId::kHasSdp:
      return Bool(e.sdp.has_value());
    case FieldId::kSdpOwner:
      return e.sdp ? Str(e.sdp->owner) : kAbsent;
    case FieldId::kSdpSession:
      return e.sdp ? Str(e.sdp->session) : kAbsent;
    case FieldId::kSdpConn:
      return e.sdp ? Str(e.sdp->conn) : kAbsent;
    case FieldId::kMediaIp:
      return MediaIp(media(), sconn());
    case FieldId::kMediaPort:
      return MediaPort(media());
    case FieldId::kMedia:
      return MediaList(media(), sconn(), scratch);
    default:
      return FlowValue(e.flow, id);
  }
}

Value RtpValue(const ev::RtpEvent& e, FieldId id) {
  switch (id) {
    case FieldId::kSsrc:
      return Int(e.ssrc);
    case FieldId::kRtpSeq:
      return Int(e.seq);
    case FieldId::kPayloadType:
      return Int(e.payload_type);
    case FieldId::kRtcp:
      return Bool(e.rtcp);
    case FieldId::kReason:
      return Str(e.reason);
    case FieldId::kOwner:
      return Str(e.owner);  // a Call-ID or "mgcp:" + connection id
    default:
      return FlowValue(e.flow, id);
  }
}

Value CallValue(const ev::CallRecord& c, FieldId id, std::string* scratch) {
  switch (id) {
    case FieldId::kSrcIp:
    case FieldId::kCallerIp:
      return Ip(c.caller_ip);
    case FieldId::kCallId:
      return Str(c.call_id);
    case FieldId::kStatus:
      return Int(c.status, c.status != 0);
    case FieldId::kStatusClass:
      return Int(c.status / 100, c.status != 0);
    case FieldId::kContact:
      return Str(c.contact);
    case FieldId::kUserAgent:
      return Str(c.user_agent);
    case FieldId::kCallerUri:
      return Str(c.caller.uri);
    case FieldId::kCallerUser:
      return Str(c.caller.user);
    case FieldId::kCallerHost:
      return Str(c.caller.host);
    case FieldId::kCalleeUri:
      return Str(c.callee.uri);
    case FieldId::kCalleeUser:
      return Str(c.callee.user);
    case FieldId::kCalleeHost:
      return Str(c.callee.host);
    case FieldId::kDisposition:
      return Str(ev::DispositionName(c.disposition));
    case FieldId::kEndedBy:
      return Str(c.ended_by);
    case FieldId::kDuration:
      return Dbl(c.duration_s);
    case FieldId::kBillable:
      return Dbl(c.billable_s);
    case FieldId::kSetupMs:
      return Int(c.setup_ms, c.setup_ms >= 0);
    case FieldId::kMediaIp:
      return MediaIp(c.media, "");
    case FieldId::kMediaPort:
      return MediaPort(c.media);
    case FieldId::kMedia:
      return MediaList(c.media, "", scratch);
    default:
      return kAbsent;
  }
}

bool IsFlowField(FieldId id) {
  return id == FieldId::kSrcIp || id == FieldId::kDstIp || id == FieldId::kSrcPort ||
         id == FieldId::kDstPort || id == FieldId::kTransport;
}

}  // namespace

std::string_view KindName(ValueKind k) {
  switch (k) {
    case ValueKind::kString:
      return "text";
    case ValueKind::kInt:
      return "integer";
    case ValueKind::kDouble:
      return "number";
    case ValueKind::kIp:
      return "address";
    case ValueKind::kBool:
      return "boolean";
    case ValueKind::kList:
      return "list";
  }
  return "text";
}

std::optional<FieldId> FieldByName(std::string_view name) {
  for (size_t i = 0; i < static_cast<size_t>(FieldId::kCustom); ++i) {
    if (kFieldInfos[i].name == name) return static_cast<FieldId>(i);
  }
  return std::nullopt;
}

std::string FieldNameList() {
  std::string out;
  for (size_t i = 0; i < static_cast<size_t>(FieldId::kCustom); ++i) {
    absl::StrAppend(&out, i ? ", " : "", AV(kFieldInfos[i].name));
  }
  absl::StrAppend(&out, ", field.NAME");
  return out;
}

Value ParseText(std::string_view text, ValueKind kind) {
  switch (kind) {
    case ValueKind::kString:
      return Str(text);
    case ValueKind::kList: {
      Value v = Str(text);
      v.kind = ValueKind::kString;  // carried lists are text: matched as one string
      return v;
    }
    case ValueKind::kInt: {
      int64_t i;
      if (!absl::SimpleAtoi(AV(text), &i)) return kAbsent;
      return Int(i);
    }
    case ValueKind::kDouble: {
      double d;
      if (!absl::SimpleAtod(AV(text), &d)) return kAbsent;
      return Dbl(d);
    }
    case ValueKind::kBool:
      if (text == "true" || text == "1") return Bool(true);
      if (text == "false" || text == "0") return Bool(false);
      return kAbsent;
    case ValueKind::kIp: {
      auto ip = IpAddress::Parse(text);
      if (!ip.ok()) return kAbsent;
      return Ip(*ip);
    }
  }
  return kAbsent;
}

Value GetValue(const EventView& e, const FieldRef& f, std::string* scratch) {
  switch (f.id) {
    case FieldId::kType:
      return Str(EventTypeName(e.type));
    case FieldId::kTs:
      return Int(e.ts);
    default:
      break;
  }
  switch (e.type) {
    case EventType::kSip:
      return SipValue(*e.sip, f.id, scratch);
    case EventType::kMgcp:
      return MgcpValue(*e.mgcp, f.id, scratch);
    case EventType::kRtp:
      return RtpValue(*e.rtp, f.id);
    case EventType::kCall:
      return CallValue(*e.call, f.id, scratch);
    case EventType::kSynthetic: {
      const SyntheticEvent& s = *e.syn;
      if (f.id == FieldId::kName) return Str(s.name);
      if (IsFlowField(f.id) && s.has_flow) return FlowValue(s.flow, f.id);
      const std::string* text = s.Find(f.name());
      if (text == nullptr) return kAbsent;
      return ParseText(*text, f.kind());
    }
  }
  return kAbsent;
}

namespace {

// The two kinds of output the engine renders into: template text
// (std::string) and keys and snapshots (ByteBuf).
void Put(std::string& out, std::string_view s) { out.append(s); }
void Put(ByteBuf& out, std::string_view s) { out.Append(s); }

template <typename Out>
void AppendTextTo(const Value& v, Out& out) {
  if (!v.present) return;
  switch (v.kind) {
    case ValueKind::kString:
      Put(out, v.s);
      return;
    case ValueKind::kInt: {
      const absl::AlphaNum n(v.i);  // what StrAppend writes
      Put(out, std::string_view(n.data(), n.size()));
      return;
    }
    case ValueKind::kDouble: {
      const absl::AlphaNum n(v.d);
      Put(out, std::string_view(n.data(), n.size()));
      return;
    }
    case ValueKind::kBool:
      Put(out, v.i ? std::string_view("true") : std::string_view("false"));
      return;
    case ValueKind::kIp: {
      char text[IpAddress::kMaxText];
      Put(out, std::string_view(text, v.ip.Format(text)));
      return;
    }
    case ValueKind::kList:
      for (size_t i = 0; i < v.list->size(); ++i) {
        if (i) Put(out, " ");
        Put(out, (*v.list)[i]);
      }
      return;
  }
}

}  // namespace

void AppendText(const Value& v, ValueKind, std::string& out) { AppendTextTo(v, out); }
void AppendText(const Value& v, ValueKind, ByteBuf& out) { AppendTextTo(v, out); }

namespace {

// LEB128 (7 bits a byte, low first, the high bit set on all but the last)
// into p; returns the end. p has room for 10 bytes.
char* PutVarint(uint64_t n, char* p) {
  while (n >= 0x80) {
    *p++ = static_cast<char>((n & 0x7f) | 0x80);
    n >>= 7;
  }
  *p++ = static_cast<char>(n);
  return p;
}

// A tag byte, the text's length, the text.
void AppendKeyText(std::string_view text, ByteBuf& out) {
  if (text.size() < 0x80) {  // the length is one byte
    const char head[2] = {'\1', static_cast<char>(text.size())};
    out.Append(head, 2);
  } else {
    char head[11];
    head[0] = '\1';
    char* end = PutVarint(text.size(), head + 1);
    out.Append(head, static_cast<size_t>(end - head));
  }
  out.Append(text);
}

}  // namespace

void AppendKeyBytes(const Value& v, ValueKind kind, ByteBuf& out) {
  // A tag byte (absent, present, or an IPv4 address), then the value.
  if (!v.present) {
    out.Push('\0');
    return;
  }
  char b[17];
  switch (v.kind) {
    case ValueKind::kIp:
      if (v.ip.is_v4()) {
        b[0] = '\2';
        std::memcpy(b + 1, v.ip.bytes.data() + 12, 4);
        out.Append(b, 5);
      } else {
        b[0] = '\1';
        std::memcpy(b + 1, v.ip.bytes.data(), 16);
        out.Append(b, 17);
      }
      return;
    case ValueKind::kInt:
    case ValueKind::kBool: {
      // Zigzag: small magnitudes of either sign take few bytes.
      b[0] = '\1';
      const uint64_t z = (static_cast<uint64_t>(v.i) << 1) ^ static_cast<uint64_t>(v.i >> 63);
      out.Append(b, static_cast<size_t>(PutVarint(z, b + 1) - b));
      return;
    }
    case ValueKind::kDouble:
      b[0] = '\1';
      std::memcpy(b + 1, &v.d, 8);
      out.Append(b, 9);
      return;
    case ValueKind::kString:
      AppendKeyText(v.s, out);
      return;
    case ValueKind::kList: {
      std::string text;
      AppendText(v, kind, text);
      AppendKeyText(text, out);
      return;
    }
  }
}

int MethodIndex(std::string_view m) {
  // By first letter, then one comparison: this runs for every request.
  if (m.empty()) return kClassReqOther;
  int i = -1;
  switch (m[0]) {
    case 'I':
      i = m.size() == 6 ? 0 : 10;
      break;  // INVITE, INFO
    case 'A':
      i = 1;
      break;
    case 'B':
      i = 2;
      break;
    case 'C':
      i = 3;
      break;
    case 'R':
      i = m.size() == 8 ? 4 : 11;
      break;  // REGISTER, REFER
    case 'O':
      i = 5;
      break;
    case 'P':
      i = m.size() == 5 ? 6 : 9;
      break;  // PRACK, PUBLISH
    case 'S':
      i = 7;
      break;
    case 'N':
      i = 8;
      break;
    case 'M':
      i = 12;
      break;
    case 'U':
      i = 13;
      break;
    default:
      return kClassReqOther;
  }
  return kMethods[i] == m ? i : kClassReqOther;
}

}  // namespace sw::rules::internal
