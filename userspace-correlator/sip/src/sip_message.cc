// SPDX-License-Identifier: BSD-2-Clause
#include "sipwarden/sip/sip_message.h"

#include <cstring>

#include "scan.h"
#include "sipwarden/sip/text.h"
#include "uri_internal.h"

namespace sw::sip {
namespace {

using internal::Fault;
using internal::Is;
using internal::IsLwsChar;
using internal::SkipLws;
constexpr size_t npos = std::string_view::npos;

void AddWarning(uint32_t* w, SipWarning x) { *w |= static_cast<uint32_t>(x); }

// ---------------------------------------------------------------------------
// Header values

// name-addr / addr-spec with header parameters into *na, which must be as
// default-constructed (the callers' are fresh: resetting a NameAddr is a
// 240-byte store, several of them per message). `what` names the header.
// lenient_tag (From, To): a tag value that is not a token is taken verbatim,
// a quoted one without its quotes, and flagged kNonTokenTag.
bool ParseNameAddrInto(std::string_view v, const SipLimits& limits, NameAddr* na,
                       uint32_t* warnings, Fault* f, std::string_view what,
                       bool lenient_tag = false) {
  na->raw = v;
  if (v.empty()) return f->Set(Reason::kBadNameAddr, what, v.data());
  size_t i = 0;
  bool name_addr = false;
  if (v[0] == '"') {
    const size_t end = internal::ScanQuoted(v, 0);
    if (end == npos) return f->Set(Reason::kUnterminatedQuote, what, v.data());
    na->display_name = v.substr(1, end - 2);
    na->display_quoted = true;
    i = SkipLws(v, end);
    if (i >= v.size() || v[i] != '<') return f->Set(Reason::kBadNameAddr, what, v.data() + i);
    name_addr = true;
  } else if (v[0] == '<') {
    name_addr = true;
  } else {
    // display-name = *(token LWS): decide between "tokens <uri>" and addr-spec.
    size_t j = 0;
    size_t last = 0;
    while (j < v.size()) {
      if (Is(v[j], internal::kToken)) {
        j = internal::SkipClass(v, j, internal::kToken);
        last = j;
      } else if (IsLwsChar(v[j])) {
        ++j;
      } else {
        break;
      }
    }
    if (j < v.size() && v[j] == '<') {
      na->display_name = v.substr(0, last);
      name_addr = true;
      i = j;
    }
  }
  UriLimits ul;
  ul.max_params = limits.max_params;
  std::string_view rest;
  if (!name_addr) {
    size_t end = 0;
    while (end < v.size() && v[end] != ';' && !IsLwsChar(v[end])) ++end;
    const std::string_view uri = v.substr(0, end);
    Fault spec;
    // RFC 3261 section 20: a URI with ',', '?' or ';' must be inside <>.
    if (const size_t bad = internal::FindFirstOf<',', '?'>(uri, 0); bad < uri.size()) {
      spec.Set(Reason::kBadNameAddr, what, v.data() + bad);
    } else if (internal::ParseUriInto(uri, ul, &na->uri, &spec, Reason::kBadUri)) {
      rest = v.substr(end);
    }
    if (!spec.ok()) {
      // Not an addr-spec. RFC 4475 section 3.1.2.15 lets a parser be liberal
      // with an unquoted display name of non-token characters ("Bell,
      // Alexander <sip:...>"): take everything before '<' as the name.
      const size_t lt = internal::Find<'<'>(v);
      if (lt == npos || lt == 0) return f->Set(spec.reason, spec.what, spec.at);
      na->uri = Uri{};  // what the failed addr-spec left
      na->display_name = TrimLws(v.substr(0, lt));
      AddWarning(warnings, SipWarning::kNonTokenDisplayName);
      name_addr = true;
      i = lt;
    }
  }
  if (name_addr) {
    const size_t close = internal::Find<'>'>(v, i);
    if (close == npos) return f->Set(Reason::kBadNameAddr, what, v.data() + i);
    na->bracketed = true;
    if (!internal::ParseUriInto(v.substr(i + 1, close - i - 1), ul, &na->uri, f, Reason::kBadUri)) {
      return false;
    }
    rest = v.substr(close + 1);
  }
  rest = TrimLws(rest);
  size_t count = 0;
  Reason r = internal::ForEachParam(rest, lenient_tag ? "tag" : "", [&](const Param& p) {
    if (++count > limits.max_params) return false;
    if (!p.has_value || !EqualsIgnoreCase(p.name, "tag")) return true;
    std::string_view tag = p.value;
    if (lenient_tag && !IsToken(tag)) {
      AddWarning(warnings, SipWarning::kNonTokenTag);
      if (tag.size() >= 2 && tag.front() == '"' && tag.back() == '"') {
        tag = tag.substr(1, tag.size() - 2);
      }
    }
    if (na->tag.empty()) na->tag = tag;
    return true;
  });
  if (r != Reason::kOk) return f->Set(r, what, rest.data());
  if (count > limits.max_params) return f->Set(Reason::kTooManyParams, what, rest.data());
  na->params = rest;
  return true;
}

// One Via value into *via, which must be as default-constructed.
bool ParseViaInto(std::string_view v, const SipLimits& limits, Via* via, uint32_t* warnings,
                  Fault* f) {
  via->raw = v;
  constexpr std::string_view kWhat = "Via";
  std::string_view* parts[3] = {&via->protocol, &via->version, &via->transport};
  size_t i = 0;
  for (int k = 0; k < 3; ++k) {
    if (k > 0) {
      i = SkipLws(v, i);
      if (i >= v.size() || v[i] != '/') return f->Set(Reason::kBadVia, kWhat, v.data() + i);
      i = SkipLws(v, i + 1);
    }
    const size_t b = i;
    i = internal::SkipClass(v, i, internal::kToken);
    if (i == b) return f->Set(Reason::kBadVia, kWhat, v.data() + i);
    *parts[k] = v.substr(b, i - b);
  }
  const size_t before = i;
  i = SkipLws(v, i);
  if (i == before) return f->Set(Reason::kBadVia, kWhat, v.data() + i);
  // A sent-by written as a bare IPv6 address, with or without a port.
  size_t j = i < v.size() && v[i] != '['
                 ? internal::ScanUnbracketedIpv6(v, i, "; \t\r\n", &via->sent_by)
                 : npos;
  if (j == npos) {
    i = internal::ScanHost(v, i, &via->sent_by, f, Reason::kBadVia, kWhat);
    if (i == npos) return false;
    j = SkipLws(v, i);
    if (j < v.size() && v[j] == ':') {
      j = SkipLws(v, j + 1);
      const size_t e = internal::SkipClass(v, j, internal::kDigit);
      if (!internal::ParsePort(v.substr(j, e - j), &via->sent_by, f, Reason::kBadVia, kWhat)) {
        return false;
      }
      j = e;
    }
  }
  std::string_view rest = TrimLws(v.substr(j));
  size_t count = 0;
  Reason r = ForEachParam(rest, [&](const Param& p) {
    if (++count > limits.max_params) return false;
    if (EqualsIgnoreCase(p.name, "branch")) {
      via->branch = p.value;
      via->has_branch = true;
    } else if (EqualsIgnoreCase(p.name, "received")) {
      std::string_view rv = p.value;
      if (rv.size() >= 2 && rv.front() == '[' && rv.back() == ']') {
        rv = rv.substr(1, rv.size() - 2);
        AddWarning(warnings, SipWarning::kBracketedReceived);
      }
      via->received = rv;
    } else if (EqualsIgnoreCase(p.name, "rport")) {
      via->has_rport = true;
      uint64_t port = 0;
      bool overflow = false;
      if (p.has_value && internal::ParseDecimal(p.value, 65535, &port, &overflow) && !overflow) {
        via->rport = static_cast<uint16_t>(port);
      }
    } else if (EqualsIgnoreCase(p.name, "maddr")) {
      via->maddr = p.value;
    }
    return true;
  });
  if (r != Reason::kOk) return f->Set(r, kWhat, rest.data());
  if (count > limits.max_params) return f->Set(Reason::kTooManyParams, kWhat, rest.data());
  via->params = rest;
  return true;
}

bool ParseCSeqInto(std::string_view v, CSeq* c, Fault* f) {
  constexpr std::string_view kWhat = "CSeq";
  const size_t e = internal::SkipClass(v, 0, internal::kDigit);
  uint64_t n = 0;
  bool overflow = false;
  if (!internal::ParseDecimal(v.substr(0, e), 0x7fffffff, &n, &overflow)) {
    return f->Set(Reason::kBadCSeq, kWhat, v.data());
  }
  // RFC 3261 section 8.1.1.5: the sequence number must be less than 2^31.
  if (overflow) return f->Set(Reason::kValueOutOfRange, kWhat, v.data());
  const size_t m = SkipLws(v, e);
  if (m == e) return f->Set(Reason::kBadCSeq, kWhat, v.data() + e);
  const size_t me = internal::SkipClass(v, m, internal::kToken);
  if (me == m || me != v.size()) return f->Set(Reason::kBadCSeq, kWhat, v.data() + m);
  c->seq = static_cast<uint32_t>(n);
  c->method = v.substr(m);
  c->method_id = MethodFromString(c->method);
  return true;
}

bool ValidCallId(std::string_view v) {
  // callid = word ["@" word]
  const size_t at = internal::Find<'@'>(v);
  std::string_view a = v.substr(0, at);
  if (a.empty()) return false;
  for (char c : a) {
    if (!Is(c, internal::kWord)) return false;
  }
  if (at == npos) return true;
  std::string_view b = v.substr(at + 1);
  if (b.empty()) return false;
  for (char c : b) {
    if (!Is(c, internal::kWord)) return false;
  }
  return true;
}

// Authorization: auth-scheme LWS auth-param *(COMMA auth-param).
bool ParseCredentials(std::string_view v, Credentials* c) {
  *c = Credentials{};
  const size_t e = internal::SkipClass(v, 0, internal::kToken);
  if (e == 0) return false;
  c->scheme = v.substr(0, e);
  c->params = TrimLws(v.substr(e));
  if (c->params.empty()) return true;
  if (!IsLwsChar(v[e])) return false;
  bool ok = true;
  Reason r = SplitList(c->params, 64, [&](std::string_view p) {
    const size_t eq = internal::Find<'='>(p);
    std::string_view name = TrimLws(p.substr(0, eq));
    if (eq == npos || !IsToken(name)) {
      ok = false;
      return false;
    }
    std::string_view value = TrimLws(p.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    if (EqualsIgnoreCase(name, "username")) {
      c->username = value;
    } else if (EqualsIgnoreCase(name, "realm")) {
      c->realm = value;
    } else if (EqualsIgnoreCase(name, "uri")) {
      c->uri = value;
    }
    return true;
  });
  return ok && r == Reason::kOk;
}

// RFC 1123 date as SIP uses it: "Sat, 13 Nov 2010 23:29:00 GMT".
bool PlausibleSipDate(std::string_view v) {
  return v.size() == 29 && v[3] == ',' && v.substr(25) == " GMT";
}

bool IsBroadcastOrMulticast(const HostPort& hp) {
  if (hp.type != HostType::kIpv4 || !hp.ip_valid) return false;
  const auto b = hp.ip.v4();
  if (b[0] == 255 && b[1] == 255 && b[2] == 255 && b[3] == 255) return true;
  return b[0] >= 224 && b[0] <= 239;
}

// ---------------------------------------------------------------------------
// The message

class SipParser {
 public:
  SipParser(std::string_view data, const SipParseOptions& opt, SipMessage* m, Fault* f)
      : d_(data), opt_(opt), lim_(opt.limits), m_(m), f_(f) {}

  bool Run();

 private:
  // Index of the CR or LF ending the line that starts at i (npos if none
  // before `limit`); *next is set to the start of the following line.
  size_t LineEnd(size_t i, size_t limit, size_t* next);
  bool ParseStartLine(std::string_view line);
  bool ParseVersion(std::string_view v, Reason bad, std::string_view what);
  bool SplitHeaders(size_t pos, size_t limit, size_t* body_start, bool* terminated);
  bool ParseHeaderValue(const Header& h);
  bool CheckFraming(size_t body_start, bool terminated);
  bool CheckSemantics();
  void AddWarnings();
  bool Fail(Reason r, std::string_view what, size_t at) {
    return f_->Set(r, what, d_.data() + (at < d_.size() ? at : d_.size()));
  }
  bool Once(bool* seen, std::string_view what, const Header& h) {
    if (*seen) return f_->Set(Reason::kDuplicateHeader, what, h.name.data());
    *seen = true;
    return true;
  }

  std::string_view d_;
  const SipParseOptions& opt_;
  const SipLimits& lim_;
  SipMessage* m_;
  Fault* f_;
  bool seen_call_id_ = false, seen_cseq_ = false, seen_from_ = false, seen_to_ = false;
  bool seen_max_forwards_ = false, seen_content_length_ = false;
};

size_t SipParser::LineEnd(size_t i, size_t limit, size_t* next) {
  const size_t e = internal::FindFirstOf<'\r', '\n'>(d_.substr(0, limit), i);
  if (e >= limit) return npos;
  const bool cr = d_[e] == '\r';
  if (cr && e + 1 < d_.size() && d_[e + 1] == '\n') {
    *next = e + 2;
  } else {
    // A lone CR at the very end of a stream buffer might be half of a CRLF.
    if (cr && e + 1 >= d_.size() && opt_.framing == Framing::kStream) return npos;
    AddWarning(&m_->warnings, SipWarning::kNonCrlfLineEnd);
    *next = e + 1;
  }
  return e;
}

bool SipParser::ParseVersion(std::string_view v, Reason bad, std::string_view what) {
  // SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT ("SIP" is case-insensitive)
  if (v.size() < 7 || !StartsWithIgnoreCase(v, "SIP/")) {
    return f_->Set(bad, what, v.data());
  }
  std::string_view num = v.substr(4);
  const size_t dot = internal::Find<'.'>(num);
  if (dot == npos || dot == 0 || dot + 1 == num.size()) return f_->Set(bad, what, v.data());
  for (size_t k = 0; k < num.size(); ++k) {
    if (k != dot && !Is(num[k], internal::kDigit)) return f_->Set(bad, what, v.data());
  }
  if (num != "2.0") return f_->Set(Reason::kBadVersion, what, v.data());
  m_->version = v;
  return true;
}

bool SipParser::ParseStartLine(std::string_view line) {
  if (const size_t k = internal::FindControl(line); k < line.size()) {
    return f_->Set(Reason::kBadStartLine, "start line", line.data() + k);
  }
  if (StartsWithIgnoreCase(line, "SIP/")) {
    // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
    m_->is_request = false;
    const size_t sp1 = internal::Find<' '>(line);
    if (sp1 == npos) return f_->Set(Reason::kBadStatusLine, "status line", line.data());
    if (!ParseVersion(line.substr(0, sp1), Reason::kBadStatusLine, "SIP-Version")) return false;
    const size_t cb = sp1 + 1;
    const size_t ce = internal::SkipClass(line, cb, internal::kDigit);
    std::string_view code = line.substr(cb, ce - cb);
    if (ce < line.size() && line[ce] != ' ') {
      return f_->Set(Reason::kBadStatusLine, "Status-Code", line.data() + ce);
    }
    if (code.size() > 3) return f_->Set(Reason::kValueOutOfRange, "Status-Code", code.data());
    if (code.size() != 3) return f_->Set(Reason::kBadStatusLine, "Status-Code", line.data() + cb);
    m_->status_code = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
    if (m_->status_code < 100 || m_->status_code > 699) {
      return f_->Set(Reason::kValueOutOfRange, "Status-Code", code.data());
    }
    m_->reason_phrase = ce < line.size() ? line.substr(ce + 1) : line.substr(ce);
    return true;
  }
  // Request-Line = Method SP Request-URI SP SIP-Version
  m_->is_request = true;
  const size_t sp1 = internal::Find<' '>(line);
  const size_t sp2 = line.rfind(' ');
  if (sp1 == npos || sp2 == sp1) return f_->Set(Reason::kBadStartLine, "request line", line.data());
  m_->method = line.substr(0, sp1);
  if (!IsToken(m_->method)) return f_->Set(Reason::kBadMethod, "Method", line.data());
  m_->method_id = MethodFromString(m_->method);
  std::string_view uri = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (uri.empty() || uri.front() == ' ' || uri.back() == ' ') {
    return f_->Set(Reason::kBadStartLine, "request line", line.data() + sp1);
  }
  if (const size_t ws = internal::FindFirstOf<' ', '\t'>(uri, 0); ws < uri.size()) {
    return f_->Set(Reason::kBadRequestUri, "Request-URI", uri.data() + ws);
  }
  if (uri.front() == '<') return f_->Set(Reason::kBadRequestUri, "Request-URI", uri.data());
  UriLimits ul;
  ul.max_params = lim_.max_params;
  if (!internal::ParseUriInto(uri, ul, &m_->request_uri, f_, Reason::kBadRequestUri)) {
    return false;
  }
  // RFC 3261 section 19.1.1: headers are not allowed in a Request-URI.
  if (m_->request_uri.is_sip() && !m_->request_uri.headers.empty()) {
    return f_->Set(Reason::kBadRequestUri, "Request-URI headers", m_->request_uri.headers.data());
  }
  return ParseVersion(line.substr(sp2 + 1), Reason::kBadStartLine, "SIP-Version");
}

bool SipParser::SplitHeaders(size_t pos, size_t limit, size_t* body_start, bool* terminated) {
  *terminated = false;
  while (true) {
    if (pos >= limit) {
      if (opt_.framing == Framing::kStream) {
        return limit < d_.size() ? Fail(Reason::kMessageTooLarge, "message", limit)
                                 : Fail(Reason::kIncomplete, "header section", pos);
      }
      *body_start = limit;
      return true;
    }
    size_t next = 0;
    size_t e = LineEnd(pos, limit, &next);
    if (e == npos) {
      if (opt_.framing == Framing::kStream) {
        return limit < d_.size() ? Fail(Reason::kMessageTooLarge, "message", limit)
                                 : Fail(Reason::kIncomplete, "header section", pos);
      }
      e = limit;
      next = limit;
    }
    if (e == pos) {  // the empty line
      *terminated = true;
      *body_start = next;
      return true;
    }
    if (internal::IsWsp(d_[pos])) return Fail(Reason::kBadHeaderLine, "continuation", pos);
    // Gather continuation lines (LWS folding).
    size_t hend = e;
    while (next < limit && internal::IsWsp(d_[next])) {
      size_t n2 = 0;
      size_t e2 = LineEnd(next, limit, &n2);
      if (e2 == npos) {
        if (opt_.framing == Framing::kStream) {
          return Fail(limit < d_.size() ? Reason::kMessageTooLarge : Reason::kIncomplete,
                      "header section", next);
        }
        e2 = limit;
        n2 = limit;
      }
      hend = e2;
      next = n2;
      if (hend - pos > lim_.max_header_size) break;
    }
    if (hend - pos > lim_.max_header_size) return Fail(Reason::kHeaderTooLong, "header", pos);
    if (m_->headers.size() >= lim_.max_headers) return Fail(Reason::kTooManyHeaders, "", pos);
    std::string_view line = d_.substr(pos, hend - pos);
    const size_t ne = internal::SkipClass(line, 0, internal::kToken);
    if (ne == 0) return Fail(Reason::kBadHeaderName, "header name", pos);
    size_t colon = ne;
    while (colon < line.size() && internal::IsWsp(line[colon])) ++colon;
    if (colon >= line.size() || line[colon] != ':') {
      return Fail(Reason::kBadHeaderName, "header name", pos + colon);
    }
    // Filled in place: copying a Header just built on the stack stalls on
    // store forwarding.
    Header& h = m_->headers.emplace_back();
    h.name = line.substr(0, ne);
    h.value = TrimLws(line.substr(colon + 1));
    h.id = HeaderIdFromName(h.name);
    pos = next;
  }
}

bool SipParser::ParseHeaderValue(const Header& h) {
  const std::string_view v = h.value;
  switch (h.id) {
    case HeaderId::kVia: {
      Reason r = SplitList(v, lim_.max_vias, [&](std::string_view e) {
        if (m_->vias.size() >= lim_.max_vias) {
          f_->Set(Reason::kTooManyVias, "Via", e.data());
          return false;
        }
        if (e.empty()) return f_->Set(Reason::kBadVia, "Via", e.data());
        m_->vias.emplace_back();
        return ParseViaInto(e, lim_, &m_->vias.back(), &m_->warnings, f_);
      });
      if (r == Reason::kTooManyValues) r = Reason::kTooManyVias;
      if (r != Reason::kOk) f_->Set(r, "Via", v.data());
      return f_->ok();
    }
    case HeaderId::kContact:
    case HeaderId::kRoute:
    case HeaderId::kRecordRoute: {
      const std::string_view what = HeaderName(h.id);
      size_t count = h.id == HeaderId::kContact ? m_->contacts.size()
                     : h.id == HeaderId::kRoute ? m_->routes.size()
                                                : m_->record_routes.size();
      Reason r = SplitList(v, lim_.max_list_values, [&](std::string_view e) {
        if (++count > lim_.max_list_values) {
          f_->Set(Reason::kTooManyValues, what, e.data());
          return false;
        }
        if (h.id == HeaderId::kContact && e == "*") {
          m_->contact_star = true;
          return true;
        }
        // Parsed in place: a NameAddr is too big to build and then copy.
        NameAddr& na = h.id == HeaderId::kContact ? m_->contacts.emplace_back()
                       : h.id == HeaderId::kRoute ? m_->routes.emplace_back()
                                                  : m_->record_routes.emplace_back();
        return ParseNameAddrInto(e, lim_, &na, &m_->warnings, f_, what);
      });
      if (r != Reason::kOk) f_->Set(r, what, v.data());
      return f_->ok();
    }
    case HeaderId::kFrom:
      return Once(&seen_from_, "From", h) &&
             ParseNameAddrInto(v, lim_, &m_->from, &m_->warnings, f_, "From", true);
    case HeaderId::kTo:
      return Once(&seen_to_, "To", h) &&
             ParseNameAddrInto(v, lim_, &m_->to, &m_->warnings, f_, "To", true);
    case HeaderId::kCallId:
      if (!Once(&seen_call_id_, "Call-ID", h)) return false;
      if (!ValidCallId(v)) return f_->Set(Reason::kBadCallId, "Call-ID", v.data());
      m_->call_id = v;
      return true;
    case HeaderId::kCSeq:
      return Once(&seen_cseq_, "CSeq", h) && ParseCSeqInto(v, &m_->cseq, f_);
    case HeaderId::kMaxForwards: {
      if (!Once(&seen_max_forwards_, "Max-Forwards", h)) return false;
      uint64_t n = 0;
      bool overflow = false;
      if (!internal::ParseDecimal(v, 255, &n, &overflow)) {
        return f_->Set(Reason::kBadMaxForwards, "Max-Forwards", v.data());
      }
      if (overflow) return f_->Set(Reason::kValueOutOfRange, "Max-Forwards", v.data());
      m_->max_forwards = static_cast<uint32_t>(n);
      return true;
    }
    case HeaderId::kContentLength: {
      if (seen_content_length_) {
        return f_->Set(Reason::kMultipleContentLength, "Content-Length", h.name.data());
      }
      seen_content_length_ = true;
      uint64_t n = 0;
      bool overflow = false;
      if (!internal::ParseDecimal(v, 0xffffffffu, &n, &overflow) || overflow) {
        return f_->Set(Reason::kBadContentLength, "Content-Length", v.data());
      }
      m_->content_length = static_cast<uint32_t>(n);
      return true;
    }
    case HeaderId::kExpires: {
      uint64_t n = 0;
      bool overflow = false;
      if (!m_->expires && internal::ParseDecimal(v, 0xffffffffu, &n, &overflow)) {
        if (overflow) AddWarning(&m_->warnings, SipWarning::kValueOutOfRange);
        m_->expires = static_cast<uint32_t>(n);
      }
      return true;
    }
    case HeaderId::kContentType:
      if (m_->content_type.empty()) m_->content_type = v;
      return true;
    case HeaderId::kUserAgent:
      if (m_->user_agent.empty()) m_->user_agent = v;
      return true;
    case HeaderId::kServer:
      if (m_->server.empty()) m_->server = v;
      return true;
    case HeaderId::kDate:
      if (!PlausibleSipDate(v)) AddWarning(&m_->warnings, SipWarning::kBadDate);
      return true;
    case HeaderId::kAuthorization:
    case HeaderId::kProxyAuthorization: {
      if (m_->authorization) return true;
      Credentials c;
      if (ParseCredentials(v, &c)) {
        m_->authorization = c;
      } else {
        AddWarning(&m_->warnings, SipWarning::kBadAuthorization);
      }
      return true;
    }
    default:
      return true;
  }
}

bool SipParser::CheckFraming(size_t body_start, bool terminated) {
  const size_t available = body_start <= d_.size() ? d_.size() - body_start : 0;
  if (!terminated) AddWarning(&m_->warnings, SipWarning::kNoHeaderTerminator);
  if (m_->content_length) {
    const size_t cl = *m_->content_length;
    if (opt_.framing == Framing::kDatagram) {
      if (cl > available) return Fail(Reason::kContentLengthMismatch, "Content-Length", body_start);
    } else if (body_start + static_cast<uint64_t>(cl) > lim_.max_message_size) {
      return Fail(Reason::kMessageTooLarge, "Content-Length", body_start);
    } else if (cl > available) {
      return Fail(Reason::kIncomplete, "Content-Length", body_start);
    }
    m_->body = d_.substr(body_start, cl);
    m_->size = body_start + cl;
    if (opt_.framing == Framing::kDatagram && available > cl) {
      AddWarning(&m_->warnings, SipWarning::kTrailingBytes);
    }
    return true;
  }
  if (opt_.framing == Framing::kStream) {
    return Fail(Reason::kMissingContentLength, "Content-Length", body_start);
  }
  AddWarning(&m_->warnings, SipWarning::kNoContentLength);
  m_->body = d_.substr(body_start < d_.size() ? body_start : d_.size());
  m_->size = d_.size();
  return true;
}

bool SipParser::CheckSemantics() {
  struct Required {
    bool present;
    std::string_view name;
  };
  const Required required[] = {
      {seen_call_id_, "Call-ID"}, {seen_cseq_, "CSeq"},       {seen_from_, "From"},
      {seen_to_, "To"},           {!m_->vias.empty(), "Via"},
  };
  for (const Required& r : required) {
    if (!r.present) return Fail(Reason::kMissingHeader, r.name, 0);
  }
  if (m_->is_request && m_->cseq.method != m_->method) {
    return f_->Set(Reason::kCSeqMethodMismatch, "CSeq", m_->cseq.method.data());
  }
  return true;
}

void SipParser::AddWarnings() {
  uint32_t* w = &m_->warnings;
  const Via& top = m_->vias.front();
  if (!top.has_branch) {
    AddWarning(w, SipWarning::kViaBranchMissing);
  } else if (top.branch.size() <= 7 || top.branch.substr(0, 7) != "z9hG4bK") {
    AddWarning(w, SipWarning::kViaBranchNotRfc3261);
  }
  for (const Via& v : m_->vias) {
    if (IsBroadcastOrMulticast(v.sent_by)) AddWarning(w, SipWarning::kBroadcastVia);
    if (v.sent_by.type == HostType::kIpv6 && !v.sent_by.ip_valid) {
      AddWarning(w, SipWarning::kInvalidIpv6Reference);
    }
    if (v.sent_by.unbracketed_ipv6) AddWarning(w, SipWarning::kUnbracketedIpv6Host);
  }
  if (m_->max_forwards && *m_->max_forwards == 0) AddWarning(w, SipWarning::kMaxForwardsZero);
  auto check_uri = [w](const Uri& u) {
    if (u.scheme == UriScheme::kOther) AddWarning(w, SipWarning::kUnknownUriScheme);
    if (u.hostport.type == HostType::kIpv6 && !u.hostport.ip_valid) {
      AddWarning(w, SipWarning::kInvalidIpv6Reference);
    }
    if (u.hostport.unbracketed_ipv6) AddWarning(w, SipWarning::kUnbracketedIpv6Host);
  };
  if (m_->is_request) check_uri(m_->request_uri);
  check_uri(m_->from.uri);
  check_uri(m_->to.uri);
  for (const NameAddr& c : m_->contacts) {
    check_uri(c.uri);
    if (!c.uri.headers.empty()) AddWarning(w, SipWarning::kUriHeadersInContact);
  }
  for (const auto* list : {&m_->routes, &m_->record_routes}) {
    for (const NameAddr& r : *list) {
      if (r.uri.hostport.unbracketed_ipv6) AddWarning(w, SipWarning::kUnbracketedIpv6Host);
    }
  }
}

bool SipParser::Run() {
  if (opt_.framing == Framing::kDatagram && d_.size() > lim_.max_message_size) {
    return Fail(Reason::kMessageTooLarge, "message", lim_.max_message_size);
  }
  const size_t limit = d_.size() < lim_.max_message_size ? d_.size() : lim_.max_message_size;
  // RFC 3261 section 7.5: ignore CRLFs before the start line.
  size_t pos = 0;
  while (pos < limit && (d_[pos] == '\r' || d_[pos] == '\n')) ++pos;
  if (pos > 0) AddWarning(&m_->warnings, SipWarning::kLeadingCrlf);
  if (pos >= limit) {
    if (limit < d_.size()) return Fail(Reason::kMessageTooLarge, "message", pos);
    return Fail(opt_.framing == Framing::kStream && pos > 0 ? Reason::kIncomplete : Reason::kEmpty,
                "message", pos);
  }
  size_t next = 0;
  const size_t line_limit =
      limit - pos > lim_.max_header_size ? pos + lim_.max_header_size + 2 : limit;
  size_t e = LineEnd(pos, line_limit, &next);
  if (e == npos) {
    if (line_limit < limit) return Fail(Reason::kHeaderTooLong, "start line", pos);
    if (limit < d_.size()) return Fail(Reason::kMessageTooLarge, "message", pos);
    if (opt_.framing == Framing::kStream) return Fail(Reason::kIncomplete, "start line", pos);
    e = limit;
    next = limit;
  }
  if (!ParseStartLine(d_.substr(pos, e - pos))) return false;
  size_t body_start = 0;
  bool terminated = false;
  if (!SplitHeaders(next, limit, &body_start, &terminated)) return false;
  if (std::memchr(d_.data(), '\0', body_start) != nullptr) {
    AddWarning(&m_->warnings, SipWarning::kNulByte);
  }
  for (const Header& h : m_->headers) {
    if (!ParseHeaderValue(h)) return false;
  }
  if (!CheckFraming(body_start, terminated)) return false;
  if (!CheckSemantics()) return false;
  AddWarnings();
  return true;
}

}  // namespace

void SipMessage::Clear() {
  is_request = false;
  method = {};
  method_id = Method::kUnknown;
  request_uri = Uri{};
  status_code = 0;
  reason_phrase = {};
  version = {};
  headers.clear();
  call_id = {};
  cseq = CSeq{};
  from = NameAddr{};
  to = NameAddr{};
  vias.clear();
  contacts.clear();
  contact_star = false;
  routes.clear();
  record_routes.clear();
  max_forwards.reset();
  content_length.reset();
  expires.reset();
  content_type = {};
  user_agent = {};
  server = {};
  authorization.reset();
  body = {};
  size = 0;
  warnings = 0;
}

const Header* SipMessage::Find(HeaderId id) const {
  for (const Header& h : headers) {
    if (h.id == id) return &h;
  }
  return nullptr;
}

const Header* SipMessage::Find(std::string_view name) const {
  const HeaderId id = HeaderIdFromName(name);
  if (id != HeaderId::kOther) return Find(id);
  for (const Header& h : headers) {
    if (h.id == HeaderId::kOther && EqualsIgnoreCase(h.name, name)) return &h;
  }
  return nullptr;
}

void SipMessage::ForEachValue(HeaderId id, absl::FunctionRef<bool(std::string_view)> fn) const {
  const bool list = IsListHeader(id);
  bool go_on = true;
  for (const Header& h : headers) {
    if (h.id != id) continue;
    if (!list) {
      go_on = fn(h.value);
    } else {
      SplitList(h.value, static_cast<size_t>(-1), [&](std::string_view e) {
        go_on = fn(e);
        return go_on;
      });
    }
    if (!go_on) return;
  }
}

std::vector<std::string_view> SipMessage::Values(HeaderId id) const {
  std::vector<std::string_view> out;
  ForEachValue(id, [&](std::string_view v) {
    out.push_back(v);
    return true;
  });
  return out;
}

bool SipMessage::HasSdpBody() const {
  std::string_view ct = content_type.substr(0, content_type.find(';'));
  return EqualsIgnoreCase(TrimLws(ct), "application/sdp");
}

ParseError ParseSipInto(std::string_view data, const SipParseOptions& options, SipMessage* out) {
  out->Clear();
  Fault f;
  SipParser p(data, options, out, &f);
  if (!p.Run()) return f.ToError(data.data());
  return ParseError{};
}

ParseResult<SipMessage> ParseSip(std::string_view data, const SipParseOptions& options) {
  SipMessage m;
  ParseError e = ParseSipInto(data, options, &m);
  if (e.reason != Reason::kOk) return e;
  return m;
}

ParseResult<NameAddr> ParseNameAddr(std::string_view value, const SipLimits& limits) {
  NameAddr na;
  Fault f;
  value = TrimLws(value);
  uint32_t warnings = 0;
  if (!ParseNameAddrInto(value, limits, &na, &warnings, &f, "name-addr")) {
    return f.ToError(value.data());
  }
  return na;
}

ParseResult<Via> ParseVia(std::string_view value, const SipLimits& limits) {
  Via via;
  Fault f;
  uint32_t warnings = 0;
  value = TrimLws(value);
  if (!ParseViaInto(value, limits, &via, &warnings, &f)) return f.ToError(value.data());
  return via;
}

}  // namespace sw::sip
