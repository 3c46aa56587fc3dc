// SPDX-License-Identifier: BSD-2-Clause
// libFuzzer target for the SIP, SDP and MGCP parsers (and RTP/RTCP, which
// cost nothing more), and for what is salvaged of a SIP message they refuse. Besides not crashing, every view a parser returns must
// lie inside the input: a view outside it traps. Built and run by
// run_fuzz.sh (clang, -fsanitize=fuzzer,address,undefined).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "sipwarden/sip/mgcp.h"
#include "sipwarden/sip/rtp.h"
#include "sipwarden/sip/salvage.h"
#include "sipwarden/sip/sdp.h"
#include "sipwarden/sip/sip_message.h"
#include "sipwarden/sip/text.h"
#include "sipwarden/sip/uri.h"

namespace {

using namespace sw::sip;  // NOLINT: a fuzz driver

struct Bounds {
  const char* begin;
  const char* end;
  void operator()(std::string_view v) const {
    if (!v.empty() && (v.data() < begin || v.data() + v.size() > end)) __builtin_trap();
  }
};

// A bare IPv6 host is only ever taken when it is a valid address.
void CheckHostPort(const HostPort& hp) {
  if (!hp.unbracketed_ipv6) return;
  sw::IpAddress ip;
  if (hp.type != HostType::kIpv6 || !hp.ip_valid || !ParseIpLiteral(hp.host, &ip) || ip != hp.ip) {
    __builtin_trap();
  }
}

void CheckUri(const Bounds& in, const Uri& u) {
  in(u.raw);
  in(u.scheme_text);
  in(u.user);
  in(u.password);
  in(u.hostport.host);
  in(u.params);
  in(u.headers);
  in(u.opaque);
  CheckHostPort(u.hostport);
  (void)u.Param("transport");
  (void)PercentDecode(u.user);
}

void CheckNameAddr(const Bounds& in, const NameAddr& n) {
  in(n.raw);
  in(n.display_name);
  in(n.params);
  in(n.tag);
  CheckUri(in, n.uri);
  (void)Unquote(n.display_name);
  (void)FindParam(n.params, "expires");
}

void CheckSdp(const Bounds& in, std::string_view text) {
  auto s = ParseSdp(text);
  if (!s.ok()) return;
  in(s->origin.username);
  in(s->origin.address);
  in(s->session_name);
  for (size_t i = 0; i < s->media.size(); ++i) {
    const SdpMedia& m = s->media[i];
    in(m.type);
    in(m.proto);
    for (std::string_view f : m.formats) in(f);
    for (const SdpAttribute& a : m.attributes) {
      in(a.name);
      in(a.value);
    }
    for (const SdpRtpMap& r : m.rtpmaps) in(r.encoding);
    if (const SdpConnection* c = s->ConnectionFor(i)) in(c->address);
    (void)s->DirectionFor(i);
  }
}

// What the event of a refused message is made of: bounded, and every view
// inside the input.
void CheckSalvage(const Bounds& in, std::string_view data) {
  const SalvagedSip s = SalvageSip(data);
  in(s.method);
  in(s.request_uri);
  if (s.uri) CheckUri(in, *s.uri);
  in(s.reason_phrase);
  in(s.call_id);
  if (s.cseq) in(s.cseq->method);
  if (s.from) CheckNameAddr(in, *s.from);
  if (s.to) CheckNameAddr(in, *s.to);
  if (s.top_via) {
    in(s.top_via->sent_by.host);
    in(s.top_via->branch);
  }
  in(s.user_agent);
  in(s.server);
  if (s.header_lines > SipLimits{}.max_headers) __builtin_trap();
  if (s.has_start_line && !s.is_request && (s.status < 100 || s.status > 699)) __builtin_trap();
}

void CheckSip(const Bounds& in, std::string_view data, Framing framing) {
  SipParseOptions o;
  o.framing = framing;
  auto r = ParseSip(data, o);
  if (!r.ok()) {
    if (r.error().offset > data.size()) __builtin_trap();
    CheckSalvage(in, data);
    return;
  }
  const SipMessage& m = *r;
  if (m.size > data.size()) __builtin_trap();
  in(m.method);
  in(m.reason_phrase);
  in(m.version);
  in(m.call_id);
  in(m.cseq.method);
  in(m.body);
  in(m.content_type);
  in(m.user_agent);
  CheckUri(in, m.request_uri);
  CheckNameAddr(in, m.from);
  CheckNameAddr(in, m.to);
  for (const Header& h : m.headers) {
    in(h.name);
    in(h.value);
  }
  for (const Via& v : m.vias) {
    in(v.raw);
    in(v.transport);
    in(v.sent_by.host);
    CheckHostPort(v.sent_by);
    in(v.branch);
    in(v.received);
    in(v.params);
  }
  for (const NameAddr& c : m.contacts) CheckNameAddr(in, c);
  for (const NameAddr& c : m.routes) CheckNameAddr(in, c);
  for (const NameAddr& c : m.record_routes) CheckNameAddr(in, c);
  if (m.authorization) {
    in(m.authorization->scheme);
    in(m.authorization->username);
  }
  for (int id = 1; id < static_cast<int>(HeaderId::kCount); ++id) {
    m.ForEachValue(static_cast<HeaderId>(id), [&](std::string_view v) {
      in(v);
      return true;
    });
  }
  if (m.HasSdpBody()) CheckSdp(in, m.body);
}

void CheckMgcp(const Bounds& in, std::string_view data) {
  auto m = ParseMgcp(data);
  if (!m.ok()) return;
  if (m->size > data.size()) __builtin_trap();
  in(m->verb);
  in(m->endpoint);
  in(m->response_comment);
  for (const MgcpParam& p : m->params) {
    in(p.name);
    in(p.value);
  }
  in(m->sdp);
  CheckSdp(in, m->sdp);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const Bounds b{in.data(), in.data() + in.size()};
  CheckSip(b, in, Framing::kDatagram);
  CheckSip(b, in, Framing::kStream);
  CheckSdp(b, in);
  CheckMgcp(b, in);
  if (auto u = ParseUri(in); u.ok()) CheckUri(b, *u);
  if (auto n = ParseNameAddr(in); n.ok()) CheckNameAddr(b, *n);
  (void)ParseVia(in);
  const std::span<const uint8_t> bytes(data, size);
  (void)ParseRtp(bytes);
  (void)ParseRtcp(bytes);
  return 0;
}
