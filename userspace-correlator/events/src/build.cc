// SPDX-License-Identifier: BSD-2-Clause
// SipMessage (views into a packet) to SipEvent (owned strings).
#include <algorithm>
#include <cstdint>
#include <string>

#include "sipwarden/copy_short.h"
#include "sipwarden/events/pipeline.h"
#include "sipwarden/sip/salvage.h"
#include "sipwarden/sip/text.h"

namespace sw::ev {
namespace {

// s = v into a string kept from message to message. Most fields are no
// longer than the last message's: then the bytes are copied inline and the
// string cut to length, without the library's general replace (its checks
// for overlapping text and its copy call). v never points into s.
[[gnu::always_inline]] inline void Set(std::string& s, std::string_view v) {
  if (v.size() <= s.size()) {
    CopyShort(s.data(), v.data(), v.size());
    s.erase(v.size());
  } else {
    s.assign(v);
  }
}

// Into p's strings (assign keeps their storage: a reused event allocates
// only when a text outgrows what it held before).
void FillParty(const sip::NameAddr& na, Party* p) {
  Set(p->uri, na.uri.raw);
  Set(p->user, na.uri.user);
  Set(p->host, na.uri.host());
  Set(p->tag, na.tag);
  if (na.display_quoted) {
    sip::UnquoteInto(na.display_name, &p->display);
  } else {
    Set(p->display, na.display_name);
  }
}

Party MakeParty(const sip::NameAddr& na) {
  Party p;
  FillParty(na, &p);
  return p;
}

}  // namespace

Transport TransportOf(const net::AppMessage& m) {
  return m.transport == 6 ? Transport::kTcp : Transport::kUdp;
}

void SummarizeSdpInto(const sip::SdpSession& s, SdpSummary* out) {
  Set(out->owner, s.origin.username);
  Set(out->session, s.session_name);
  if (s.connection) {
    Set(out->conn, s.connection->address);
  } else {
    out->conn.clear();
  }
  out->media.resize(s.media.size());
  for (size_t i = 0; i < s.media.size(); ++i) {
    const auto& m = s.media[i];
    SdpMedia& sm = out->media[i];
    Set(sm.type, m.type);
    sm.port = m.port;
    Set(sm.proto, m.proto);
    if (const auto* c = s.ConnectionFor(i)) {
      Set(sm.conn, c->address);
    } else {
      sm.conn.clear();
    }
    sm.payload_types.assign(m.payload_types.begin(), m.payload_types.end());
  }
}

SdpSummary SummarizeSdp(const sip::SdpSession& s) {
  SdpSummary out;
  SummarizeSdpInto(s, &out);
  return out;
}

void FillSipEvent(const sip::SipMessage& m, const Flow& flow, SipEvent* out) {
  SipEvent& e = *out;
  e.flow = flow;
  e.is_request = m.is_request;
  if (m.is_request) {
    Set(e.method, m.method);
    e.status = 0;
    e.reason.clear();
    Set(e.request_uri, m.request_uri.raw);
    Set(e.request_user, m.request_uri.user);
  } else {
    e.status = m.status_code;
    Set(e.reason, m.reason_phrase);
    Set(e.method, m.cseq.method);
    e.request_uri.clear();
    e.request_user.clear();
  }
  Set(e.call_id, m.call_id);
  e.cseq = m.cseq.seq;
  Set(e.cseq_method, m.cseq.method);
  FillParty(m.from, &e.from);
  FillParty(m.to, &e.to);
  e.via_hosts.resize(m.vias.size());
  for (size_t i = 0; i < m.vias.size(); ++i) Set(e.via_hosts[i], m.vias[i].sent_by.host);
  if (!m.vias.empty()) {
    Set(e.via_branch, m.vias.front().branch);
  } else {
    e.via_branch.clear();
  }
  if (!m.contacts.empty()) {
    Set(e.contact, m.contacts.front().uri.raw);
  } else {
    e.contact.clear();
  }
  Set(e.user_agent, m.is_request || m.server.empty() ? m.user_agent : m.server);
  e.has_auth = m.authorization.has_value();
  if (m.authorization) {
    Set(e.auth_user, m.authorization->username);
  } else {
    e.auth_user.clear();
  }
  e.has_expires = m.expires.has_value();
  e.expires = m.expires ? *m.expires : 0;
  e.sdp.reset();
  e.warnings = m.warnings;
  e.malformed_reason.clear();
  e.malformed_what.clear();
  e.malformed_at = 0;
}

SipEvent MakeSipEvent(const sip::SipMessage& m, const Flow& flow) {
  SipEvent e;
  FillSipEvent(m, flow, &e);
  return e;
}

SipEvent MakeMalformedSipEvent(std::string_view bytes, const sip::ParseError& err,
                               const sip::SipLimits& limits, const Flow& flow) {
  const sip::SalvagedSip m = sip::SalvageSip(bytes, limits);
  SipEvent e;
  e.flow = flow;
  e.malformed_reason = std::string(sip::ReasonName(err.reason));
  e.malformed_what = std::string(err.what);
  e.malformed_at = static_cast<uint32_t>(std::min<size_t>(err.offset, UINT32_MAX));
  // A message that is not even recognisable as a request or a response is
  // reported as a request: it was sent, not answered.
  e.is_request = !m.has_start_line || m.is_request;
  if (m.has_start_line && m.is_request) {
    e.method = std::string(m.method);
    e.request_uri = std::string(m.request_uri.substr(0, 256));
    if (m.uri) e.request_user = std::string(m.uri->user);
  } else if (m.has_start_line) {
    e.status = m.status;
    e.reason = std::string(m.reason_phrase.substr(0, 256));
    if (m.cseq) e.method = std::string(m.cseq->method);
  }
  e.call_id = std::string(m.call_id.substr(0, 256));
  if (m.cseq) {
    e.cseq = m.cseq->seq;
    e.cseq_method = std::string(m.cseq->method);
  }
  if (m.from) e.from = MakeParty(*m.from);
  if (m.to) e.to = MakeParty(*m.to);
  if (m.top_via) {
    e.via_hosts.emplace_back(m.top_via->sent_by.host);
    e.via_branch = std::string(m.top_via->branch);
  }
  const std::string_view ua = m.has_start_line && !m.is_request && !m.server.empty() ? m.server
                                                                                     : m.user_agent;
  e.user_agent = std::string(ua.substr(0, 256));
  return e;
}

MgcpEvent MakeMgcpEvent(const sip::MgcpMessage& m, const Flow& flow) {
  MgcpEvent e;
  e.flow = flow;
  e.is_command = m.is_command;
  if (m.is_command) {
    e.verb = std::string(m.verb);
  } else {
    e.status = m.response_code;
  }
  e.transaction_id = std::to_string(m.transaction_id);
  e.endpoint = std::string(m.endpoint);
  e.call_id = std::string(m.call_id);
  e.connection_id = std::string(m.connection_id);
  return e;
}

bool LooksLikeMgcp(std::string_view b) {
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  if (b.size() < 8) return false;
  if (is_digit(b[0]) && is_digit(b[1]) && is_digit(b[2]) && b[3] == ' ') {
    return is_digit(b[4]);  // response: code SP transaction-id
  }
  for (int i = 0; i < 4; ++i) {
    if (b[i] < 'A' || b[i] > 'Z') return false;
  }
  if (b[4] != ' ' || !is_digit(b[5])) return false;
  const size_t eol = b.find('\n');
  const std::string_view line = b.substr(0, eol == std::string_view::npos ? b.size() : eol);
  return line.find(" MGCP ") != std::string_view::npos;
}

}  // namespace sw::ev
