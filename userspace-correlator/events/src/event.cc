// SPDX-License-Identifier: BSD-2-Clause
#include "sipwarden/events/event.h"

#include "sipwarden/json.h"
#include "sipwarden/record.h"

namespace sw::ev {

std::string_view TransportName(Transport t) {
  switch (t) {
    case Transport::kUdp: return "udp";
    case Transport::kTcp: return "tcp";
    case Transport::kTls: return "tls";
    case Transport::kWs: return "ws";
    case Transport::kHep: return "hep";
  }
  return "udp";
}

std::string_view DispositionName(Disposition d) {
  switch (d) {
    case Disposition::kAnswered: return "answered";
    case Disposition::kBusy: return "busy";
    case Disposition::kNoAnswer: return "no_answer";
    case Disposition::kCancelled: return "cancelled";
    case Disposition::kFailed: return "failed";
    case Disposition::kRejected: return "rejected";
  }
  return "failed";
}

namespace {

// An address as a field, without making a string of it.
void WriteIp(JsonWriter& w, std::string_view key, const IpAddress& a) {
  char text[IpAddress::kMaxText];
  w.Field(key, std::string_view(text, a.Format(text)));
}

void WriteFlow(JsonWriter& w, const Flow& f, bool with_transport) {
  w.Field("ts", FormatRfc3339View(f.ts_ns));
  WriteIp(w, "src_ip", f.src);
  w.Field("src_port", static_cast<uint32_t>(f.sport));
  WriteIp(w, "dst_ip", f.dst);
  w.Field("dst_port", static_cast<uint32_t>(f.dport));
  if (with_transport) w.Field("transport", TransportName(f.transport));
}

void WriteParty(JsonWriter& w, std::string_view key, const Party& p) {
  w.Key(key).BeginObject();
  w.Field("uri", p.uri).Field("user", p.user);
  if (!p.tag.empty()) w.Field("tag", p.tag);
  if (!p.display.empty()) w.Field("display", p.display);
  w.EndObject();
}

void WriteMedia(JsonWriter& w, const std::vector<SdpMedia>& media) {
  w.BeginArray();
  for (const auto& m : media) {
    w.BeginObject().Field("type", m.type).Field("port", static_cast<uint32_t>(m.port));
    w.Field("proto", m.proto);
    if (!m.conn.empty()) w.Field("conn", m.conn);
    if (!m.payload_types.empty()) {
      w.Key("payload_types").BeginArray();
      for (uint16_t pt : m.payload_types) w.Uint(pt);
      w.EndArray();
    }
    w.EndObject();
  }
  w.EndArray();
}

void WriteSdp(JsonWriter& w, const SdpSummary& s) {
  w.Key("sdp").BeginObject();
  w.Field("owner", s.owner).Field("session", s.session).Field("conn", s.conn);
  w.Key("media");
  WriteMedia(w, s.media);
  w.EndObject();
}

}  // namespace

std::string_view ToJson(const SipEvent& e, JsonWriter& w) {
  w.Clear();
  w.BeginObject().Field("type", "sip");
  WriteFlow(w, e.flow, true);
  if (e.is_request) {
    w.Field("method", e.method);
    w.Field("request_uri", e.request_uri);
  } else {
    w.Field("status", e.status);
    if (!e.reason.empty()) w.Field("reason", e.reason);
  }
  w.Field("call_id", e.call_id);
  w.Key("cseq").BeginObject().Field("seq", e.cseq).Field("method", e.cseq_method).EndObject();
  WriteParty(w, "from", e.from);
  WriteParty(w, "to", e.to);
  w.Key("via").BeginArray();
  for (const auto& h : e.via_hosts) w.String(h);
  w.EndArray();
  w.Field("contact", e.contact);
  w.Field("user_agent", e.user_agent);
  if (e.has_auth) w.Field("auth_user", e.auth_user);
  if (e.has_expires) w.Field("expires", e.expires);
  if (e.sdp) WriteSdp(w, *e.sdp);
  if (e.malformed()) {
    w.Key("malformed").BeginObject();
    w.Field("reason", e.malformed_reason).Field("what", e.malformed_what).Field("at", e.malformed_at);
    w.EndObject();
  }
  w.EndObject();
  return w.str();
}

namespace {
// A line in a writer of its own, returned as a string.
template <typename T>
std::string LineOf(const T& x, size_t reserve = 0) {
  JsonWriter w;
  w.Reserve(reserve);
  ToJson(x, w);
  return w.Take();
}
}  // namespace

// A SIP event with SDP is 600 to 900 bytes.
std::string ToJson(const SipEvent& e) { return LineOf(e, 1024); }

std::string_view ToJson(const MgcpEvent& e, JsonWriter& w) {
  w.Clear();
  w.BeginObject().Field("type", "mgcp");
  WriteFlow(w, e.flow, false);
  if (e.is_command) {
    w.Field("verb", e.verb);
  } else {
    w.Field("status", e.status);
  }
  w.Field("transaction_id", e.transaction_id);
  w.Field("endpoint", e.endpoint);
  w.Field("connection_id", e.connection_id);
  if (!e.call_id.empty()) w.Field("call_id", e.call_id);
  if (e.sdp) WriteSdp(w, *e.sdp);
  if (!e.released_media.empty()) {
    w.Key("released_media");
    WriteMedia(w, e.released_media);
  }
  w.EndObject();
  return w.str();
}

std::string ToJson(const MgcpEvent& e) { return LineOf(e); }

std::string_view ToJson(const RtpEvent& e, JsonWriter& w) {
  w.Clear();
  w.BeginObject().Field("type", e.rtcp ? "rtcp" : "rtp");
  WriteFlow(w, e.flow, false);
  w.Field("ssrc", e.ssrc);
  if (!e.rtcp) {
    w.Field("seq", static_cast<uint32_t>(e.seq));
    w.Field("payload_type", static_cast<uint32_t>(e.payload_type));
  }
  w.Field("reason", e.reason);
  if (!e.owner.empty()) w.Field("owner", e.owner);
  w.EndObject();
  return w.str();
}

std::string ToJson(const RtpEvent& e) { return LineOf(e); }

std::string_view ToJson(const CallRecord& c, JsonWriter& w) {
  w.Clear();
  w.BeginObject().Field("type", "call");
  w.Field("call_id", c.call_id);
  w.Field("caller", c.caller.uri);
  w.Field("callee", c.callee.uri);
  w.Field("caller_user", c.caller.user);
  w.Field("callee_user", c.callee.user);
  WriteIp(w, "caller_ip", c.caller_ip);
  w.Field("contact", c.contact);
  w.Field("start", FormatRfc3339View(c.start_ns));
  w.Field("end", FormatRfc3339View(c.end_ns));
  w.Key("setup_ms");
  if (c.setup_ms >= 0) {
    w.Int(c.setup_ms);
  } else {
    w.Null();
  }
  w.Field("duration_s", c.duration_s);
  w.Field("billable_s", c.billable_s);
  w.Field("disposition", DispositionName(c.disposition));
  w.Field("status", c.status);
  w.Field("ended_by", c.ended_by);
  if (!c.user_agent.empty()) w.Field("user_agent", c.user_agent);
  w.Key("media");
  WriteMedia(w, c.media);
  w.EndObject();
  return w.str();
}

std::string ToJson(const CallRecord& c) { return LineOf(c); }

}  // namespace sw::ev
