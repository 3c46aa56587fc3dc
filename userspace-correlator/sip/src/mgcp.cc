// SPDX-License-Identifier: BSD-2-Clause
#include "sipwarden/sip/mgcp.h"

#include "scan.h"
#include "sipwarden/sip/text.h"

namespace sw::sip {
namespace {

using internal::Fault;
using internal::Is;
constexpr size_t npos = std::string_view::npos;

void AddWarning(uint32_t* w, MgcpWarning x) { *w |= static_cast<uint32_t>(x); }

// Splits at runs of SP/HT into at most max fields; the last keeps the rest.
size_t SplitWsp(std::string_view v, std::string_view* out, size_t max) {
  size_t n = 0;
  size_t i = 0;
  while (i < v.size() && n < max) {
    while (i < v.size() && internal::IsWsp(v[i])) ++i;
    if (i >= v.size()) break;
    size_t e = i;
    if (n + 1 == max) {
      e = v.size();
      while (e > i && internal::IsWsp(v[e - 1])) --e;
    } else {
      while (e < v.size() && !internal::IsWsp(v[e])) ++e;
    }
    out[n++] = v.substr(i, e - i);
    i = e;
  }
  return n;
}

bool ParseTransactionId(std::string_view s, uint32_t* out, Fault* f) {
  uint64_t v = 0;
  bool overflow = false;
  if (s.size() > 9 && internal::ParseDecimal(s, 999999999, &v, &overflow)) {
    return f->Set(Reason::kValueOutOfRange, "transaction id", s.data());
  }
  if (!internal::ParseDecimal(s, 999999999, &v, &overflow)) {
    return f->Set(Reason::kBadMgcpTransactionId, "transaction id", s.data());
  }
  if (overflow) return f->Set(Reason::kValueOutOfRange, "transaction id", s.data());
  *out = static_cast<uint32_t>(v);
  return true;
}

bool ParseEndpoint(std::string_view e, MgcpMessage* m, Fault* f) {
  const size_t at = e.rfind('@');
  if (at == npos || at == 0 || at + 1 == e.size()) {
    return f->Set(Reason::kBadMgcpEndpoint, "endpoint", e.data());
  }
  for (char c : e) {
    if (static_cast<unsigned char>(c) <= ' ' || static_cast<unsigned char>(c) >= 0x7f) {
      return f->Set(Reason::kBadMgcpEndpoint, "endpoint", e.data());
    }
  }
  m->endpoint = e;
  m->endpoint_local = e.substr(0, at);
  m->endpoint_domain = e.substr(at + 1);
  if (m->endpoint_domain.front() == '[' && m->endpoint_domain.back() != ']') {
    return f->Set(Reason::kBadMgcpEndpoint, "endpoint", m->endpoint_domain.data());
  }
  return true;
}

bool ParseVersion(std::string_view mgcp, std::string_view rest, MgcpMessage* m, Fault* f) {
  if (!EqualsIgnoreCase(mgcp, "MGCP")) return f->Set(Reason::kBadMgcpLine, "MGCP", mgcp.data());
  std::string_view parts[2];
  if (SplitWsp(rest, parts, 2) < 1) return f->Set(Reason::kBadMgcpLine, "version", rest.data());
  std::string_view v = parts[0];
  const size_t dot = v.find('.');
  if (dot == npos || dot == 0 || dot + 1 == v.size()) {
    return f->Set(Reason::kBadMgcpLine, "version", v.data());
  }
  for (size_t k = 0; k < v.size(); ++k) {
    if (k != dot && !Is(v[k], internal::kDigit)) {
      return f->Set(Reason::kBadMgcpLine, "version", v.data());
    }
  }
  if (v.substr(0, dot) != "1" && v.substr(0, dot) != "0") {
    return f->Set(Reason::kBadVersion, "version", v.data());
  }
  if (v != "1.0") AddWarning(&m->warnings, MgcpWarning::kUnusualVersion);
  m->version = v;
  m->profile = parts[1];
  return true;
}

bool ValidParamName(std::string_view n) {
  if (n.empty()) return false;
  for (char c : n) {
    if (!(Is(c, internal::kAlpha) || Is(c, internal::kDigit) || c == '-' || c == '/' || c == '_' ||
          c == '.' || c == '*' || c == '@' || c == '$')) {
      return false;
    }
  }
  return true;
}

void SetCommon(MgcpMessage* m, const MgcpParam& p) {
  std::string_view* slot = nullptr;
  const std::string_view n = p.name;
  if (n.size() == 1) {
    switch (internal::ToLower(n[0])) {
      case 'c':
        slot = &m->call_id;
        break;
      case 'i':
        slot = &m->connection_id;
        break;
      case 'x':
        slot = &m->request_id;
        break;
      case 'n':
        slot = &m->notified_entity;
        break;
      case 'l':
        slot = &m->local_options;
        break;
      case 'm':
        slot = &m->mode;
        break;
      case 'r':
        slot = &m->requested_events;
        break;
      case 's':
        slot = &m->signal_requests;
        break;
      case 'o':
        slot = &m->observed_events;
        break;
      case 'e':
        slot = &m->reason_code;
        break;
      case 'z':
        slot = &m->specific_endpoint;
        break;
      default:
        break;
    }
  } else if (EqualsIgnoreCase(n, "RM")) {
    slot = &m->restart_method;
  }
  if (slot != nullptr && slot->empty()) *slot = p.value;
}

bool Parse(std::string_view d, const MgcpLimits& lim, MgcpMessage* m, Fault* f) {
  if (d.size() > lim.max_size) return f->Set(Reason::kMessageTooLarge, "MGCP", d.data());
  size_t pos = 0;
  bool first = true;
  bool in_body = false;
  size_t body_start = 0;
  while (pos < d.size()) {
    size_t e = pos;
    while (e < d.size() && d[e] != '\r' && d[e] != '\n') ++e;
    if (e - pos > lim.max_line) return f->Set(Reason::kHeaderTooLong, "MGCP line", d.data() + pos);
    const std::string_view line = d.substr(pos, e - pos);
    size_t next = e;
    if (e < d.size()) {
      if (d[e] == '\r' && e + 1 < d.size() && d[e + 1] == '\n') {
        next = e + 2;
      } else {
        next = e + 1;
        AddWarning(&m->warnings, MgcpWarning::kNonCrlfLineEnd);
      }
    }
    const size_t line_start = pos;
    pos = next;
    if (line == ".") {  // piggyback separator
      if (in_body) m->sdp = d.substr(body_start, line_start - body_start);
      m->size = pos;
      if (pos < d.size()) AddWarning(&m->warnings, MgcpWarning::kPiggybacked);
      return true;
    }
    if (in_body) continue;
    if (first) {
      first = false;
      std::string_view fl[5];
      const size_t n = SplitWsp(line, fl, 5);
      if (n == 0) return f->Set(Reason::kEmpty, "MGCP", line.data());
      if (fl[0].size() == 3 && Is(fl[0][0], internal::kDigit) && Is(fl[0][1], internal::kDigit) &&
          Is(fl[0][2], internal::kDigit)) {
        m->is_command = false;
        m->response_code = (fl[0][0] - '0') * 100 + (fl[0][1] - '0') * 10 + (fl[0][2] - '0');
        std::string_view rl[3];
        const size_t rn = SplitWsp(line, rl, 3);
        if (rn < 2) return f->Set(Reason::kBadMgcpLine, "response line", line.data());
        if (!ParseTransactionId(rl[1], &m->transaction_id, f)) return false;
        if (rn == 3) m->response_comment = rl[2];
        continue;
      }
      m->is_command = true;
      if (fl[0].size() != 4 || !Is(fl[0][0], internal::kAlpha) ||
          !Is(fl[0][1], internal::kAlpha | internal::kDigit) ||
          !Is(fl[0][2], internal::kAlpha | internal::kDigit) ||
          !Is(fl[0][3], internal::kAlpha | internal::kDigit)) {
        return f->Set(Reason::kBadMgcpVerb, "verb", line.data());
      }
      m->verb = fl[0];
      m->verb_id = MgcpVerbFromString(fl[0]);
      if (m->verb_id == MgcpVerb::kUnknown && internal::ToLower(fl[0][0]) != 'x') {
        return f->Set(Reason::kBadMgcpVerb, "verb", line.data());
      }
      if (n < 5) return f->Set(Reason::kBadMgcpLine, "command line", line.data());
      if (!ParseTransactionId(fl[1], &m->transaction_id, f)) return false;
      if (!ParseEndpoint(fl[2], m, f)) return false;
      if (!ParseVersion(fl[3], fl[4], m, f)) return false;
      continue;
    }
    if (line.empty()) {
      in_body = true;
      body_start = pos;
      continue;
    }
    const size_t colon = line.find(':');
    if (colon == npos) return f->Set(Reason::kBadMgcpParam, "parameter line", line.data());
    MgcpParam p{TrimLws(line.substr(0, colon)), TrimLws(line.substr(colon + 1))};
    if (!ValidParamName(p.name))
      return f->Set(Reason::kBadMgcpParam, "parameter name", line.data());
    if (m->params.size() >= lim.max_params) {
      return f->Set(Reason::kTooManyParams, "parameters", line.data());
    }
    for (const MgcpParam& q : m->params) {
      if (EqualsIgnoreCase(q.name, p.name)) {
        AddWarning(&m->warnings, MgcpWarning::kDuplicateParam);
        break;
      }
    }
    m->params.push_back(p);
    SetCommon(m, p);
  }
  if (first) return f->Set(Reason::kEmpty, "MGCP", d.data());
  if (in_body) m->sdp = d.substr(body_start);
  m->size = d.size();
  return true;
}

}  // namespace

MgcpVerb MgcpVerbFromString(std::string_view s) {
  static constexpr struct {
    std::string_view name;
    MgcpVerb verb;
  } kVerbs[] = {
      {"EPCF", MgcpVerb::kEpcf}, {"CRCX", MgcpVerb::kCrcx}, {"MDCX", MgcpVerb::kMdcx},
      {"DLCX", MgcpVerb::kDlcx}, {"RQNT", MgcpVerb::kRqnt}, {"NTFY", MgcpVerb::kNtfy},
      {"AUEP", MgcpVerb::kAuep}, {"AUCX", MgcpVerb::kAucx}, {"RSIP", MgcpVerb::kRsip},
      {"MESG", MgcpVerb::kMesg},
  };
  for (const auto& v : kVerbs) {
    if (EqualsIgnoreCase(s, v.name)) return v.verb;
  }
  return MgcpVerb::kUnknown;
}

std::string_view MgcpVerbName(MgcpVerb v) {
  switch (v) {
    case MgcpVerb::kUnknown:
      return "";
    case MgcpVerb::kEpcf:
      return "EPCF";
    case MgcpVerb::kCrcx:
      return "CRCX";
    case MgcpVerb::kMdcx:
      return "MDCX";
    case MgcpVerb::kDlcx:
      return "DLCX";
    case MgcpVerb::kRqnt:
      return "RQNT";
    case MgcpVerb::kNtfy:
      return "NTFY";
    case MgcpVerb::kAuep:
      return "AUEP";
    case MgcpVerb::kAucx:
      return "AUCX";
    case MgcpVerb::kRsip:
      return "RSIP";
    case MgcpVerb::kMesg:
      return "MESG";
  }
  return "";
}

std::string_view WarningName(MgcpWarning w) {
  switch (w) {
    case MgcpWarning::kNonCrlfLineEnd:
      return "non_crlf_line_end";
    case MgcpWarning::kPiggybacked:
      return "piggybacked";
    case MgcpWarning::kDuplicateParam:
      return "duplicate_param";
    case MgcpWarning::kUnusualVersion:
      return "unusual_version";
  }
  return "unknown";
}

std::optional<std::string_view> MgcpMessage::Param(std::string_view name) const {
  for (const MgcpParam& p : params) {
    if (EqualsIgnoreCase(p.name, name)) return p.value;
  }
  return std::nullopt;
}

ParseResult<MgcpMessage> ParseMgcp(std::string_view data, const MgcpLimits& limits) {
  MgcpMessage m;
  Fault f;
  if (!Parse(data, limits, &m, &f)) return f.ToError(data.data());
  return m;
}

}  // namespace sw::sip
