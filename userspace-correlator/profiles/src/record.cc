// SPDX-License-Identifier: BSD-2-Clause
#include "sipwarden/profiles/record.h"

#include <cstring>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "absl/strings/str_format.h"

namespace sw::profiles {
namespace {

// days since 1970-01-01 of a civil date (Howard Hinnant's algorithm)
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool Digits(std::string_view s, size_t pos, size_t n, int* v) {
  if (pos + n > s.size()) return false;
  int x = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    x = x * 10 + (s[i] - '0');
  }
  *v = x;
  return true;
}

// The first '"' or '\\' in [p, end), or end: 16 bytes at a time.
const char* FindQuoteOrEscape(const char* p, const char* end) {
#ifdef __SSE2__
  const __m128i quote = _mm_set1_epi8('"'), escape = _mm_set1_epi8('\\');
  for (; end - p >= 16; p += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const int hits =
        _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, escape)));
    if (hits) return p + __builtin_ctz(hits);
  }
#endif
  while (p < end && *p != '"' && *p != '\\') ++p;
  return p;
}

// A cursor over one JSON text; just enough to walk a flat object, skip
// nested values and decode strings.
struct Cursor {
  const char* p;
  const char* end;
  void Ws() {
    while (p < end && static_cast<unsigned char>(*p) <= ' ' &&
           (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
      ++p;
  }
  // Decodes a string at p (which is at '"'); raw points into the input when
  // there is no escape, else into *buf.
  bool String(std::string_view* out, std::string* buf) {
    if (p >= end || *p != '"') return false;
    const char* s = ++p;
    // The values are short: one pass looking for the end or an escape
    // beats two library scans.
    const char* q = FindQuoteOrEscape(s, end);
    if (q < end && *q == '"') {
      *out = std::string_view(s, q - s);
      p = q + 1;
      return true;
    }
    buf->clear();
    while (p < end && *p != '"') {
      if (static_cast<unsigned char>(*p) < 0x20) return false;
      if (*p != '\\') {
        buf->push_back(*p++);
        continue;
      }
      if (++p >= end) return false;
      switch (*p) {
        case '"': buf->push_back('"'); break;
        case '\\': buf->push_back('\\'); break;
        case '/': buf->push_back('/'); break;
        case 'b': buf->push_back('\b'); break;
        case 'f': buf->push_back('\f'); break;
        case 'n': buf->push_back('\n'); break;
        case 'r': buf->push_back('\r'); break;
        case 't': buf->push_back('\t'); break;
        case 'u': {
          if (end - p < 5) return false;
          unsigned cp = 0;
          for (int i = 1; i <= 4; ++i) {
            const char c = p[i];
            cp <<= 4;
            if (c >= '0' && c <= '9') cp |= c - '0';
            else if (c >= 'a' && c <= 'f') cp |= c - 'a' + 10;
            else if (c >= 'A' && c <= 'F') cp |= c - 'A' + 10;
            else return false;
          }
          p += 4;
          // UTF-8 (surrogates kept as they come: an account name is an opaque key)
          if (cp < 0x80) {
            buf->push_back(static_cast<char>(cp));
          } else if (cp < 0x800) {
            buf->push_back(static_cast<char>(0xC0 | (cp >> 6)));
            buf->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
          } else {
            buf->push_back(static_cast<char>(0xE0 | (cp >> 12)));
            buf->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            buf->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
          }
          break;
        }
        default: return false;
      }
      ++p;
    }
    if (p >= end) return false;
    ++p;
    *out = *buf;
    return true;
  }
  // A JSON number at p; its value into *v unless v is null (skipping).
  bool Number(double* v) {
    const char* s = p;
    if (p < end && *p == '-') ++p;
    const char* int_start = p;
    double x = 0;
    if (v) {
      while (p < end && *p >= '0' && *p <= '9') x = x * 10 + (*p++ - '0');
    } else {
      while (p < end && *p >= '0' && *p <= '9') ++p;
    }
    if (p == int_start) return false;
    if (p < end && *p == '.') {
      ++p;
      const char* frac = p;
      double scale = 0.1;
      while (p < end && *p >= '0' && *p <= '9') {
        if (v) x += (*p - '0') * scale, scale *= 0.1;
        ++p;
      }
      if (p == frac) return false;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
      ++p;
      int sign = 1;
      if (p < end && (*p == '+' || *p == '-')) sign = *p++ == '-' ? -1 : 1;
      int e = 0;
      bool ed = false;
      while (p < end && *p >= '0' && *p <= '9') {
        e = e * 10 + (*p++ - '0');
        ed = true;
        if (e > 400) return false;
      }
      if (!ed) return false;
      double m = 1;
      for (int i = 0; i < e; ++i) m *= 10;
      x = sign > 0 ? x * m : x / m;
    }
    if (v) *v = *s == '-' ? -x : x;
    return true;
  }
  bool Literal(const char* w) {
    const size_t n = strlen(w);
    if (static_cast<size_t>(end - p) < n || memcmp(p, w, n) != 0) return false;
    p += n;
    return true;
  }
  // Skips any value (nested objects and arrays included).
  bool Skip(int depth = 0) {
    if (depth > 64) return false;
    Ws();
    if (p >= end) return false;
    std::string scratch;
    std::string_view sv;
    switch (*p) {
      case '"': return String(&sv, &scratch);
      case 't': return Literal("true");
      case 'f': return Literal("false");
      case 'n': return Literal("null");
      case '{':
      case '[': {
        const char close = *p == '{' ? '}' : ']';
        const bool obj = *p == '{';
        ++p;
        Ws();
        if (p < end && *p == close) {
          ++p;
          return true;
        }
        for (;;) {
          if (obj) {
            Ws();
            if (!String(&sv, &scratch)) return false;
            Ws();
            if (p >= end || *p != ':') return false;
            ++p;
          }
          if (!Skip(depth + 1)) return false;
          Ws();
          if (p >= end) return false;
          if (*p == ',') {
            ++p;
            continue;
          }
          if (*p == close) {
            ++p;
            return true;
          }
          return false;
        }
      }
      default: return Number(nullptr);  // checked as a number, the value unused
    }
  }
};

// The keys a call record is read from; the rest are skipped.
enum class Key {
  kOther, kType, kCallerUser, kCalleeUser, kCaller, kCallee, kCallerIp, kStart, kDisposition,
  kBillable, kStatus
};
Key KeyOf(std::string_view k) {
  switch (k.size()) {  // one comparison, two at most, instead of a chain
    case 4: return k == "type" ? Key::kType : Key::kOther;
    case 5: return k == "start" ? Key::kStart : Key::kOther;
    case 6:
      return k == "caller" ? Key::kCaller : k == "callee" ? Key::kCallee
             : k == "status" ? Key::kStatus : Key::kOther;
    case 9: return k == "caller_ip" ? Key::kCallerIp : Key::kOther;
    case 10: return k == "billable_s" ? Key::kBillable : Key::kOther;
    case 11:
      return k == "caller_user" ? Key::kCallerUser : k == "callee_user" ? Key::kCalleeUser
             : k == "disposition" ? Key::kDisposition : Key::kOther;
  }
  return Key::kOther;
}

}  // namespace

namespace {

// "YYYY-MM-DD" at the start of s: days since the epoch.
bool ParseDate(std::string_view s, int64_t* days) {
  int y, mo, d;
  if (s.size() < 10 || !Digits(s, 0, 4, &y) || s[4] != '-' || !Digits(s, 5, 2, &mo) ||
      s[7] != '-' || !Digits(s, 8, 2, &d) || mo < 1 || mo > 12 || d < 1 || d > 31)
    return false;
  *days = DaysFromCivil(y, mo, d);
  return true;
}

// The rest of a time after its date: "THH:MM:SS[.frac](Z|+HH:MM)".
bool ParseClock(std::string_view s, int64_t days, int64_t* us) {
  int h, mi, se;
  if (s.size() < 20 || (s[10] != 'T' && s[10] != ' ') || !Digits(s, 11, 2, &h) || s[13] != ':' ||
      !Digits(s, 14, 2, &mi) || s[16] != ':' || !Digits(s, 17, 2, &se))
    return false;
  if (h > 23 || mi > 59 || se > 60) return false;
  size_t i = 19;
  int64_t frac = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    int n = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (n < 6) {
        frac = frac * 10 + (s[i] - '0');
        ++n;
      }
      ++i;
    }
    if (n == 0) return false;
    for (; n < 6; ++n) frac *= 10;
  }
  int64_t offset_s = 0;
  if (i < s.size() && s[i] == 'Z') {
    ++i;
  } else if (i + 6 == s.size() && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
    int oh, om;
    if (!Digits(s, i + 1, 2, &oh) || !Digits(s, i + 4, 2, &om)) return false;
    offset_s = (oh * 3600 + om * 60) * (s[i] == '+' ? 1 : -1);
    i += 6;
  } else {
    return false;
  }
  if (i != s.size()) return false;
  *us = ((days * 86400 + h * 3600 + mi * 60 + se) - offset_s) * 1000000 + frac;
  return true;
}

}  // namespace

bool ParseTime(std::string_view s, int64_t* us) {
  int64_t days;
  return ParseDate(s, &days) && ParseClock(s, days, us);
}

bool RecordParser::Time(std::string_view s, int64_t* us) {
  // Records come in time order: most share the last one's date.
  if (!have_date_ || s.size() < 10 || memcmp(s.data(), date_, 10) != 0) {
    if (!ParseDate(s, &days_)) return false;
    memcpy(date_, s.data(), 10);
    have_date_ = true;
  }
  return ParseClock(s, days_, us);
}

std::string FormatTime(int64_t us) {
  int64_t s = us >= 0 ? us / 1000000 : (us - 999999) / 1000000;
  const int64_t frac = us - s * 1000000;
  int64_t z = (s >= 0 ? s : s - 86399) / 86400;
  const int64_t sod = s - z * 86400;
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2);
  return absl::StrFormat("%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", y, m, d, sod / 3600,
                         sod / 60 % 60, sod % 60, frac);
}

std::string_view UriUser(std::string_view uri) {
  size_t start;
  if (uri.substr(0, 4) == "sip:" || uri.substr(0, 4) == "tel:") start = 4;
  else if (uri.substr(0, 5) == "sips:") start = 5;
  else return {};
  std::string_view rest = uri.substr(start);
  if (uri[0] == 't') return rest.substr(0, rest.find(';'));
  const size_t at = rest.find('@');
  if (at == std::string_view::npos) return {};
  rest = rest.substr(0, at);
  return rest.substr(0, rest.find(';'));  // user parameters
}

ParseResult RecordParser::Parse(std::string_view line, CallRecord* out) {
  error_.clear();
  Cursor c{line.data(), line.data() + line.size()};
  c.Ws();
  if (c.p >= c.end || *c.p != '{') {
    error_ = "not a JSON object";
    return ParseResult::kMalformed;
  }
  ++c.p;
  std::string_view type, caller_user, callee_user, caller, callee, start, disposition, ip;
  bool has_caller_user = false, has_callee_user = false, has_billable = false;
  double billable = 0, status = -1;
  std::string key_buf, scratch, type_buf, start_buf, disp_buf;
  c.Ws();
  if (c.p < c.end && *c.p == '}') {
    ++c.p;
  } else {
    for (;;) {
      c.Ws();
      std::string_view key;
      if (!c.String(&key, &key_buf)) {
        error_ = "expected a key";
        return ParseResult::kMalformed;
      }
      c.Ws();
      if (c.p >= c.end || *c.p != ':') {
        error_ = absl::StrFormat("expected ':' after \"%s\"", key);
        return ParseResult::kMalformed;
      }
      ++c.p;
      c.Ws();
      auto str = [&](std::string_view* v, std::string* buf) {
        if (c.p < c.end && *c.p == 'n' && c.Literal("null")) {
          *v = {};
          return true;
        }
        if (!c.String(v, buf)) {
          error_ = absl::StrFormat("\"%s\" is not a string", key);
          return false;
        }
        return true;
      };
      auto num = [&](double* v) {
        if (c.p < c.end && *c.p == 'n' && c.Literal("null")) return true;
        if (!c.Number(v)) {
          error_ = absl::StrFormat("\"%s\" is not a number", key);
          return false;
        }
        return true;
      };
      bool ok = true;
      switch (KeyOf(key)) {
        case Key::kType: ok = str(&type, &type_buf); break;
        case Key::kCallerUser: ok = str(&caller_user, &account_), has_caller_user = true; break;
        case Key::kCalleeUser: ok = str(&callee_user, &callee_), has_callee_user = true; break;
        case Key::kCaller: ok = str(&caller, &caller_); break;
        case Key::kCallee: ok = str(&callee, &callee_uri_); break;
        case Key::kCallerIp: ok = str(&ip, &caller_ip_); break;
        case Key::kStart: ok = str(&start, &start_buf); break;
        case Key::kDisposition: ok = str(&disposition, &disp_buf); break;
        case Key::kBillable: ok = num(&billable), has_billable = true; break;
        case Key::kStatus: ok = num(&status); break;
        case Key::kOther:
          if (!c.Skip()) ok = false, error_ = absl::StrFormat("bad value of \"%s\"", key);
          break;
      }
      if (!ok) return ParseResult::kMalformed;
      c.Ws();
      if (c.p < c.end && *c.p == ',') {
        ++c.p;
        continue;
      }
      if (c.p < c.end && *c.p == '}') {
        ++c.p;
        break;
      }
      error_ = "expected ',' or '}'";
      return ParseResult::kMalformed;
    }
  }
  c.Ws();
  if (c.p != c.end) {
    error_ = "text after the object";
    return ParseResult::kMalformed;
  }
  if (type.data() == nullptr) {
    error_ = "no \"type\"";
    return ParseResult::kMalformed;
  }
  if (type != "call") return ParseResult::kOtherType;
  if (start.empty()) {
    error_ = "call without \"start\"";
    return ParseResult::kMalformed;
  }
  if (!Time(start, &out->start_us)) {
    error_ = absl::StrFormat("bad \"start\" time '%s'", start);
    return ParseResult::kMalformed;
  }
  out->account = has_caller_user && !caller_user.empty() ? caller_user : UriUser(caller);
  if (out->account.empty()) {
    error_ = "call without a caller user (\"caller_user\" or a user in \"caller\")";
    return ParseResult::kMalformed;
  }
  out->callee = has_callee_user && !callee_user.empty() ? callee_user : UriUser(callee);
  if (out->callee.empty()) {
    error_ = "call without a callee user (\"callee_user\" or a user in \"callee\")";
    return ParseResult::kMalformed;
  }
  if (disposition.empty()) {
    if (status < 0) {
      error_ = "call without \"disposition\"";
      return ParseResult::kMalformed;
    }
    out->answered = status >= 200 && status < 300;
  } else {
    out->answered = disposition == "answered";
  }
  if (has_billable && (billable < 0 || billable > 1e7)) {
    error_ = "\"billable_s\" out of range";
    return ParseResult::kMalformed;
  }
  out->billable_s = out->answered ? billable : 0;
  out->caller_ip = ip;
  return ParseResult::kCall;
}

}  // namespace sw::profiles
