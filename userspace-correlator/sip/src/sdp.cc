// SPDX-License-Identifier: BSD-2-Clause
#include "sipwarden/sip/sdp.h"

#include "scan.h"
#include "sipwarden/sip/text.h"
#include "sipwarden/sip/uri.h"

namespace sw::sip {
namespace {

using internal::Fault;
constexpr size_t npos = std::string_view::npos;

void AddWarning(uint32_t* w, SdpWarning x) { *w |= static_cast<uint32_t>(x); }

// Splits a line value at runs of spaces into at most max fields; the last
// field keeps the rest of the line. Returns the number of fields.
size_t SplitFields(std::string_view v, std::string_view* out, size_t max) {
  size_t n = 0;
  size_t i = 0;
  while (i < v.size() && n < max) {
    while (i < v.size() && v[i] == ' ') ++i;
    if (i >= v.size()) break;
    size_t e = (n + 1 == max) ? v.size() : internal::Find<' '>(v, i);
    if (e == npos) e = v.size();
    out[n++] = v.substr(i, e - i);
    i = e;
  }
  return n;
}

bool ParseU32(std::string_view s, uint32_t max, uint32_t* out, bool* overflow) {
  uint64_t v = 0;
  if (!internal::ParseDecimal(s, max, &v, overflow)) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

bool NoSpace(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) <= ' ') return false;
  }
  return !s.empty();
}

bool ParseConnectionInto(std::string_view v, SdpConnection* c, Fault* f) {
  constexpr std::string_view kWhat = "c=";
  std::string_view fields[3];
  if (SplitFields(v, fields, 3) != 3) return f->Set(Reason::kBadSdpConnection, kWhat, v.data());
  *c = SdpConnection{};
  c->net_type = fields[0];
  c->addr_type = fields[1];
  std::string_view addr = TrimLws(fields[2]);
  if (!NoSpace(addr)) return f->Set(Reason::kBadSdpConnection, kWhat, fields[2].data());
  const size_t slash = internal::Find<'/'>(addr);
  c->address = addr.substr(0, slash);
  if (c->address.empty()) return f->Set(Reason::kBadSdpConnection, kWhat, addr.data());
  const bool v6 = EqualsIgnoreCase(c->addr_type, "IP6");
  if (slash != npos) {
    std::string_view rest = addr.substr(slash + 1);
    const size_t slash2 = internal::Find<'/'>(rest);
    bool overflow = false;
    uint32_t a = 0;
    if (!ParseU32(rest.substr(0, slash2), 0xffffffffu, &a, &overflow) || overflow) {
      return f->Set(Reason::kBadSdpConnection, kWhat, rest.data());
    }
    uint32_t b = 0;
    if (slash2 != npos) {
      if (v6 || !ParseU32(rest.substr(slash2 + 1), 0xffffffffu, &b, &overflow) || overflow) {
        return f->Set(Reason::kBadSdpConnection, kWhat, rest.data());
      }
      c->ttl = a;
      c->count = b;
    } else if (v6) {
      c->count = a;
    } else {
      c->ttl = a;
    }
  }
  const bool has_colon = internal::Find<':'>(c->address) != npos;
  if (has_colon == v6) c->ip_valid = ParseIpLiteral(c->address, &c->ip);
  return true;
}

bool ParseRtpMapInto(std::string_view v, SdpRtpMap* m) {
  *m = SdpRtpMap{};
  const size_t sp = internal::Find<' '>(v);
  if (sp == npos) return false;
  uint32_t pt = 0;
  bool overflow = false;
  if (!ParseU32(v.substr(0, sp), 127, &pt, &overflow) || overflow) return false;
  std::string_view rest = TrimLws(v.substr(sp + 1));
  const size_t s1 = internal::Find<'/'>(rest);
  if (s1 == npos || s1 == 0) return false;
  m->payload_type = static_cast<uint8_t>(pt);
  m->encoding = rest.substr(0, s1);
  std::string_view rate = rest.substr(s1 + 1);
  const size_t s2 = internal::Find<'/'>(rate);
  if (s2 != npos) {
    m->params = rate.substr(s2 + 1);
    rate = rate.substr(0, s2);
  }
  return ParseU32(rate, 0xffffffffu, &m->clock_rate, &overflow) && !overflow;
}

bool ParseMediaInto(std::string_view v, const SdpLimits& limits, SdpMedia* m, Fault* f) {
  constexpr std::string_view kWhat = "m=";
  std::string_view fields[4];
  const size_t n = SplitFields(v, fields, 4);
  if (n < 3) return f->Set(Reason::kBadSdpMedia, kWhat, v.data());
  m->type = fields[0];
  if (!IsToken(m->type)) return f->Set(Reason::kBadSdpMedia, kWhat, v.data());
  std::string_view port = fields[1];
  const size_t slash = internal::Find<'/'>(port);
  bool overflow = false;
  uint32_t p = 0;
  if (!ParseU32(port.substr(0, slash), 65535, &p, &overflow)) {
    return f->Set(Reason::kBadSdpMedia, kWhat, port.data());
  }
  if (overflow) return f->Set(Reason::kValueOutOfRange, "m= port", port.data());
  m->port = static_cast<uint16_t>(p);
  if (slash != npos) {
    if (!ParseU32(port.substr(slash + 1), 65535, &m->port_count, &overflow) || overflow) {
      return f->Set(Reason::kBadSdpMedia, kWhat, port.data());
    }
  }
  m->proto = fields[2];
  if (!NoSpace(m->proto)) return f->Set(Reason::kBadSdpMedia, kWhat, fields[2].data());
  const bool rtp = StartsWithIgnoreCase(m->proto, "RTP/");
  if (n == 4) {
    std::string_view fmts = fields[3];
    size_t i = 0;
    while (i < fmts.size()) {
      while (i < fmts.size() && fmts[i] == ' ') ++i;
      if (i >= fmts.size()) break;
      size_t e = internal::Find<' '>(fmts, i);
      if (e == npos) e = fmts.size();
      if (m->formats.size() >= limits.max_formats) {
        return f->Set(Reason::kTooManyValues, "m= formats", fmts.data() + i);
      }
      std::string_view fmt = fmts.substr(i, e - i);
      if (!NoSpace(fmt)) return f->Set(Reason::kBadSdpMedia, kWhat, fmt.data());
      m->formats.push_back(fmt);
      uint32_t pt = 0;
      if (rtp && ParseU32(fmt, 127, &pt, &overflow) && !overflow) {
        m->payload_types.push_back(static_cast<uint8_t>(pt));
      }
      i = e;
    }
  }
  return true;
}

std::optional<SdpDirection> DirectionOf(std::string_view name) {
  if (name == "sendrecv") return SdpDirection::kSendRecv;
  if (name == "sendonly") return SdpDirection::kSendOnly;
  if (name == "recvonly") return SdpDirection::kRecvOnly;
  if (name == "inactive") return SdpDirection::kInactive;
  return std::nullopt;
}

bool IsKnownLineType(char t) {
  return t == 'v' || t == 'o' || t == 's' || t == 'i' || t == 'u' || t == 'e' || t == 'p' ||
         t == 'c' || t == 'b' || t == 't' || t == 'r' || t == 'z' || t == 'k' || t == 'a' ||
         t == 'm';
}

// A media section ready for a new m= line: the first `used` of s->media are
// this body's, the ones after them a previous body's, whose vectors keep
// their capacity (ParseSdpInto).
SdpMedia* NextMedia(SdpSession* s, size_t* used) {
  if (*used == s->media.size()) {
    s->media.emplace_back();
  } else {
    SdpMedia& m = s->media[*used];
    m.type = m.proto = {};
    m.port = 0;
    m.port_count = 1;
    m.formats.clear();
    m.payload_types.clear();
    m.connection.reset();
    m.attributes.clear();
    m.rtpmaps.clear();
    m.direction.reset();
    m.other.clear();
  }
  return &s->media[(*used)++];
}

bool ParseBody(std::string_view text, const SdpLimits& limits, SdpSession* s, size_t* used,
               Fault* f) {
  if (text.size() > limits.max_size) {
    return f->Set(Reason::kMessageTooLarge, "SDP", text.data() + limits.max_size);
  }
  size_t pos = 0;
  size_t lines = 0;
  bool seen_origin = false;
  bool seen_name = false;
  bool seen_timing = false;
  while (pos < text.size()) {
    const size_t e = internal::FindFirstOf<'\r', '\n'>(text, pos);
    std::string_view line = text.substr(pos, e - pos);
    size_t next = e;
    if (e < text.size()) {
      if (text[e] == '\r' && e + 1 < text.size() && text[e + 1] == '\n') {
        next = e + 2;
      } else {
        next = e + 1;
        AddWarning(&s->warnings, SdpWarning::kNonCrlfLineEnd);
      }
    }
    pos = next;
    if (line.empty()) {
      if (lines > 0) AddWarning(&s->warnings, SdpWarning::kEmptyLine);
      continue;
    }
    if (++lines > limits.max_lines) return f->Set(Reason::kTooManyLines, "SDP", line.data());
    if (line.size() < 2 || line[1] != '=' || line[0] < 'a' || line[0] > 'z') {
      return f->Set(Reason::kBadSdpLine, "SDP line", line.data());
    }
    const char type = line[0];
    const std::string_view v = line.substr(2);
    if (lines == 1) {
      if (type != 'v') return f->Set(Reason::kBadSdpLine, "v= first", line.data());
      if (v != "0") return f->Set(Reason::kBadVersion, "v=", v.data());
      continue;
    }
    SdpMedia* m = *used == 0 ? nullptr : &s->media[*used - 1];
    switch (type) {
      case 'v':
        return f->Set(Reason::kBadSdpLine, "v= repeated", line.data());
      case 'o': {
        if (seen_origin || m != nullptr) return f->Set(Reason::kBadSdpLine, "o=", line.data());
        seen_origin = true;
        std::string_view fl[6];
        if (SplitFields(v, fl, 6) != 6 || !NoSpace(TrimLws(fl[5]))) {
          return f->Set(Reason::kBadSdpOrigin, "o=", v.data());
        }
        s->origin = SdpOrigin{fl[0], fl[1], fl[2], fl[3], fl[4], TrimLws(fl[5])};
        break;
      }
      case 's':
        if (m == nullptr && !seen_name) {
          seen_name = true;
          s->session_name = v;
        } else {
          (m != nullptr ? m->other : s->other).push_back({type, v});
        }
        break;
      case 'c': {
        SdpConnection c;
        if (!ParseConnectionInto(v, &c, f)) return false;
        if (m != nullptr) {
          if (!m->connection) m->connection = c;
        } else if (!s->connection) {
          s->connection = c;
        }
        break;
      }
      case 'm': {
        if (*used >= limits.max_media) {
          return f->Set(Reason::kTooManyMedia, "m=", line.data());
        }
        if (!ParseMediaInto(v, limits, NextMedia(s, used), f)) return false;
        break;
      }
      case 'a': {
        const size_t colon = internal::Find<':'>(v);
        SdpAttribute a{v.substr(0, colon),
                       colon == npos ? std::string_view() : v.substr(colon + 1)};
        if (a.name.empty() || !NoSpace(a.name)) {
          return f->Set(Reason::kBadSdpAttribute, "a=", v.data());
        }
        if (auto d = DirectionOf(a.name); d && colon == npos) {
          if (m != nullptr) {
            m->direction = *d;
          } else {
            s->direction = *d;
          }
        }
        if (m != nullptr && a.name == "rtpmap") {
          SdpRtpMap map;
          if (ParseRtpMapInto(a.value, &map)) {
            m->rtpmaps.push_back(map);
          } else {
            AddWarning(&s->warnings, SdpWarning::kBadRtpMap);
          }
        }
        (m != nullptr ? m->attributes : s->attributes).push_back(a);
        break;
      }
      default:
        if (type == 't') seen_timing = true;
        if (!IsKnownLineType(type)) AddWarning(&s->warnings, SdpWarning::kUnknownLineType);
        (m != nullptr ? m->other : s->other).push_back({type, v});
        break;
    }
  }
  if (lines == 0) return f->Set(Reason::kEmpty, "SDP", text.data());
  if (!seen_origin) return f->Set(Reason::kMissingSdpField, "o=", text.data());
  if (!seen_name) AddWarning(&s->warnings, SdpWarning::kMissingSessionName);
  if (!seen_timing) AddWarning(&s->warnings, SdpWarning::kMissingTiming);
  for (size_t i = 0; i < *used; ++i) {
    if (s->ConnectionFor(i) == nullptr) AddWarning(&s->warnings, SdpWarning::kNoConnection);
  }
  return true;
}

bool Parse(std::string_view text, const SdpLimits& limits, SdpSession* s, Fault* f) {
  size_t used = 0;
  const bool ok = ParseBody(text, limits, s, &used, f);
  s->media.resize(used);
  return ok;
}

}  // namespace

std::string_view SdpDirectionName(SdpDirection d) {
  switch (d) {
    case SdpDirection::kSendRecv:
      return "sendrecv";
    case SdpDirection::kSendOnly:
      return "sendonly";
    case SdpDirection::kRecvOnly:
      return "recvonly";
    case SdpDirection::kInactive:
      return "inactive";
  }
  return "sendrecv";
}

std::string_view WarningName(SdpWarning w) {
  switch (w) {
    case SdpWarning::kNonCrlfLineEnd:
      return "non_crlf_line_end";
    case SdpWarning::kMissingSessionName:
      return "missing_session_name";
    case SdpWarning::kMissingTiming:
      return "missing_timing";
    case SdpWarning::kNoConnection:
      return "no_connection";
    case SdpWarning::kBadRtpMap:
      return "bad_rtpmap";
    case SdpWarning::kUnknownLineType:
      return "unknown_line_type";
    case SdpWarning::kEmptyLine:
      return "empty_line";
  }
  return "unknown";
}

const SdpConnection* SdpSession::ConnectionFor(size_t i) const {
  if (i < media.size() && media[i].connection) return &*media[i].connection;
  return connection ? &*connection : nullptr;
}

SdpDirection SdpSession::DirectionFor(size_t i) const {
  if (i < media.size() && media[i].direction) return *media[i].direction;
  return direction;
}

ParseResult<SdpSession> ParseSdp(std::string_view text, const SdpLimits& limits) {
  SdpSession s;
  Fault f;
  if (!Parse(text, limits, &s, &f)) return f.ToError(text.data());
  return s;
}

ParseError ParseSdpInto(std::string_view text, const SdpLimits& limits, SdpSession* out) {
  // Everything but the vectors' storage starts afresh.
  out->version = 0;
  out->origin = {};
  out->session_name = {};
  out->connection.reset();
  out->attributes.clear();
  out->direction = SdpDirection::kSendRecv;
  out->other.clear();
  out->warnings = 0;
  Fault f;
  if (!Parse(text, limits, out, &f)) return f.ToError(text.data());
  return ParseError{};
}

ParseResult<SdpConnection> ParseSdpConnection(std::string_view value) {
  SdpConnection c;
  Fault f;
  if (!ParseConnectionInto(value, &c, &f)) return f.ToError(value.data());
  return c;
}

ParseResult<SdpRtpMap> ParseRtpMap(std::string_view value) {
  SdpRtpMap m;
  if (!ParseRtpMapInto(value, &m)) return ParseError{Reason::kBadSdpAttribute, "rtpmap", 0};
  return m;
}

}  // namespace sw::sip
