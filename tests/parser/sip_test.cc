// SPDX-License-Identifier: BSD-2-Clause
// Table and unit tests of the SIP message parser, URIs and text helpers.
#include <cctype>
#include <cstdint>
#include <iterator>
#include <limits>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "scan.h"  // internal::ParseDecimal
#include "sipwarden/sip/sip_message.h"
#include "sipwarden/sip/text.h"
#include "sipwarden/sip/uri.h"

namespace sw::sip {
namespace {

// A well-formed INVITE with `extra` header lines (each ending in CRLF)
// inserted before Content-Length, and `body`.
std::string Invite(const std::string& extra = "", const std::string& body = "") {
  return "INVITE sip:bob@example.com SIP/2.0\r\n"
         "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds\r\n"
         "Max-Forwards: 70\r\n"
         "To: Bob <sip:bob@example.com>\r\n"
         "From: Alice <sip:alice@example.org>;tag=1928301774\r\n"
         "Call-ID: a84b4c76e66710@pc33.example.org\r\n"
         "CSeq: 314159 INVITE\r\n" +
         extra + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// --- URIs --------------------------------------------------------------------

TEST(UriTest, SipUriParts) {
  auto u = ParseUri("sips:alice:secret@atlanta.example.com:5061;transport=tcp;lr?subject=x&h=y");
  ASSERT_TRUE(u.ok()) << u.error().ToString();
  EXPECT_EQ(u->scheme, UriScheme::kSips);
  EXPECT_EQ(u->user, "alice");
  EXPECT_TRUE(u->has_password);
  EXPECT_EQ(u->password, "secret");
  EXPECT_EQ(u->host(), "atlanta.example.com");
  EXPECT_EQ(u->hostport.type, HostType::kHostname);
  EXPECT_EQ(u->hostport.port, 5061);
  EXPECT_EQ(u->params, ";transport=tcp;lr");
  EXPECT_EQ(u->Param("TRANSPORT"), "tcp");
  EXPECT_EQ(u->Param("lr"), "");
  EXPECT_FALSE(u->Param("maddr").has_value());
  EXPECT_EQ(u->headers, "subject=x&h=y");
}

TEST(UriTest, HostForms) {
  auto v4 = ParseUri("sip:192.0.2.4:5070");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->hostport.type, HostType::kIpv4);
  EXPECT_TRUE(v4->hostport.ip_valid);
  EXPECT_EQ(v4->hostport.ip.ToString(), "192.0.2.4");
  EXPECT_TRUE(v4->user.empty());

  auto v6 = ParseUri("sip:user@[2001:db8::1]:5060;maddr=[2001:db8::2]");
  ASSERT_TRUE(v6.ok()) << v6.error().ToString();
  EXPECT_EQ(v6->hostport.type, HostType::kIpv6);
  EXPECT_EQ(v6->host(), "2001:db8::1");
  EXPECT_EQ(v6->hostport.port, 5060);
  EXPECT_EQ(v6->Param("maddr"), "[2001:db8::2]");

  auto name = ParseUri("sip:host-1.example.com");
  ASSERT_TRUE(name.ok());
  EXPECT_EQ(name->hostport.type, HostType::kHostname);
  EXPECT_FALSE(name->hostport.has_port);

  // An IPv4 address is a host that is all dotted quad; a quad that host
  // characters continue is a name.
  struct Case {
    const char* uri;
    const char* host;
    HostType type;
  } cases[] = {
      {"sip:a@192.0.2.4;lr", "192.0.2.4", HostType::kIpv4},
      {"sip:a@001.002.003.004:5060", "001.002.003.004", HostType::kIpv4},
      {"sip:a@192.0.2.4.5", "192.0.2.4.5", HostType::kHostname},
      {"sip:a@192.0.2.4567", "192.0.2.4567", HostType::kHostname},
      {"sip:a@192.0.2.45x", "192.0.2.45x", HostType::kHostname},
      {"sip:a@192.0.2.4-a", "192.0.2.4-a", HostType::kHostname},
      {"sip:a@192.0.2.4_", "192.0.2.4_", HostType::kHostname},
      {"sip:a@192.0.2.256", "192.0.2.256", HostType::kHostname},
      {"sip:a@192.0.2", "192.0.2", HostType::kHostname},
  };
  for (const Case& c : cases) {
    auto u = ParseUri(c.uri);
    ASSERT_TRUE(u.ok()) << c.uri << ": " << u.error().ToString();
    EXPECT_EQ(u->host(), c.host) << c.uri;
    EXPECT_EQ(u->hostport.type, c.type) << c.uri;
    EXPECT_EQ(u->hostport.ip_valid, c.type == HostType::kIpv4) << c.uri;
  }
  EXPECT_EQ(ParseUri("sip:a@001.002.003.004")->hostport.ip.ToString(), "1.2.3.4");
}

TEST(UriTest, TelAndOtherSchemes) {
  auto tel = ParseUri("tel:+1-212-555-0100;phone-context=example.com");
  ASSERT_TRUE(tel.ok());
  EXPECT_EQ(tel->scheme, UriScheme::kTel);
  EXPECT_EQ(tel->user, "+1-212-555-0100");
  EXPECT_EQ(tel->Param("phone-context"), "example.com");

  auto other = ParseUri("urn:service:sos");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->scheme, UriScheme::kOther);
  EXPECT_EQ(other->scheme_text, "urn");
  EXPECT_EQ(other->opaque, "service:sos");
}

TEST(UriTest, Rejections) {
  struct Case {
    const char* uri;
    Reason reason;
  } cases[] = {
      {"", Reason::kBadUri},
      {"sip:", Reason::kBadUri},
      {"nocolon", Reason::kBadUri},
      {"1sip:host", Reason::kBadUri},
      {"sip:host:", Reason::kBadUri},
      {"sip:host:99999", Reason::kValueOutOfRange},
      {"sip:host:5x", Reason::kBadUri},
      {"sip:@host", Reason::kBadUri},
      {"sip:us er@host", Reason::kBadUri},
      {"sip:user@host;;lr", Reason::kBadUri},
      {"sip:user@host;=x", Reason::kBadUri},
      {"sip:user@host?", Reason::kBadUri},
      {"sip:user@[2001:db8::1", Reason::kBadUri},
      {"sip:user@[example.com]", Reason::kBadUri},
      {"sip:user%4@host", Reason::kBadUri},
      {"tel:", Reason::kBadUri},
      {"http:", Reason::kBadUri},
      {"http://a b", Reason::kBadUri},
  };
  for (const Case& c : cases) {
    auto u = ParseUri(c.uri);
    ASSERT_FALSE(u.ok()) << c.uri;
    EXPECT_EQ(u.reason(), c.reason) << c.uri << ": " << u.error().ToString();
  }
}

TEST(UriTest, TooManyParams) {
  std::string uri = "sip:h";
  for (int i = 0; i < 40; ++i) uri += ";p" + std::to_string(i);
  auto u = ParseUri(uri);
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.reason(), Reason::kTooManyParams);
  EXPECT_EQ(u.error().category(), ReasonCategory::kLimit);
}

TEST(UriTest, IpLiterals) {
  struct Case {
    const char* text;
    const char* canonical;  // nullptr: invalid
  } cases[] = {
      {"192.0.2.1", "192.0.2.1"},
      {"255.255.255.255", "255.255.255.255"},
      {"256.0.0.1", nullptr},
      {"1.2.3", nullptr},
      {"1.2.3.4.5", nullptr},
      {"::", "::"},
      {"::1", "::1"},
      {"2001:db8::", "2001:db8::"},
      {"2001:db8:0:0:0:0:0:1", "2001:db8::1"},
      {"::ffff:192.0.2.1", "192.0.2.1"},
      {"2001:db8::192.0.2.1", "2001:db8::c000:201"},
      {"2001:db8:::192.0.2.1", nullptr},
      {"1:2:3:4:5:6:7:8:9", nullptr},
      {"1::2::3", nullptr},
      {"12345::", nullptr},
      {"1:", nullptr},
      {":1", nullptr},
      {"g::1", nullptr},
  };
  for (const Case& c : cases) {
    IpAddress ip;
    const bool ok = ParseIpLiteral(c.text, &ip);
    if (c.canonical == nullptr) {
      EXPECT_FALSE(ok) << c.text;
    } else {
      ASSERT_TRUE(ok) << c.text;
      EXPECT_EQ(ip.ToString(), c.canonical) << c.text;
    }
  }
}

TEST(UriTest, HostPort) {
  auto hp = ParseHostPort("[2001:db8::1]:5061");
  ASSERT_TRUE(hp.ok());
  EXPECT_EQ(hp->host, "2001:db8::1");
  EXPECT_EQ(hp->port, 5061);
  EXPECT_FALSE(ParseHostPort("host:").ok());
  EXPECT_FALSE(ParseHostPort("host x").ok());
}

// Dotted quads as hosts: random texts of digits and dots (and a letter or a
// port now and then) are IPv4 addresses exactly when a plain reading says
// so (parts of one to three digits, at most 255), with those bytes.
TEST(UriTest, DottedQuadsAgainstAPlainReading) {
  auto reference = [](std::string_view s, uint8_t out[4]) -> size_t {  // index after it, or npos
    size_t i = 0;
    for (int part = 0; part < 4; ++part) {
      if (part > 0) {
        if (i >= s.size() || s[i] != '.') return std::string_view::npos;
        ++i;
      }
      int v = 0;
      size_t digits = 0;
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) && digits < 3) {
        v = v * 10 + (s[i++] - '0');
        ++digits;
      }
      if (digits == 0 || v > 255) return std::string_view::npos;
      out[part] = static_cast<uint8_t>(v);
    }
    return i;
  };
  std::mt19937 rng(17);
  const std::string alphabet = "0123456789012345678901234567890123456789....a";
  int quads = 0;
  for (int k = 0; k < 200000; ++k) {
    std::string host;
    const size_t len = 1 + rng() % 17;
    for (size_t j = 0; j < len; ++j) host += alphabet[rng() % alphabet.size()];
    if (k % 3 == 0) {  // shaped like an address: four parts of 1..4 digits
      host.clear();
      for (int part = 0; part < 4; ++part) {
        if (part) host += '.';
        const int digits = 1 + static_cast<int>(rng() % 4);
        for (int d = 0; d < digits; ++d) host += static_cast<char>('0' + rng() % 10);
      }
    }
    uint8_t want[4];
    const bool quad = reference(host, want) == host.size();
    const std::string text = k % 5 == 0 ? host + ":5060" : host;
    auto hp = ParseHostPort(text);
    if (!quad) {
      EXPECT_FALSE(hp.ok() && hp->type == HostType::kIpv4) << text;
      continue;
    }
    ++quads;
    ASSERT_TRUE(hp.ok()) << text;
    ASSERT_EQ(hp->type, HostType::kIpv4) << text;
    ASSERT_TRUE(hp->ip_valid) << text;
    EXPECT_EQ(hp->ip, IpAddress::FromV4(want)) << text;
  }
  EXPECT_GT(quads, 5000);  // a third are shaped; of those, about a third are quads
}

// --- Text helpers -------------------------------------------------------------

TEST(TextTest, SplitListRespectsQuotesAndBrackets) {
  std::vector<std::string> got;
  Reason r =
      SplitList(R"("a, b" <sip:x@y;p=1,2>;q=1 , <sip:z> ,plain)", 10, [&](std::string_view e) {
        got.emplace_back(e);
        return true;
      });
  EXPECT_EQ(r, Reason::kOk);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], R"("a, b" <sip:x@y;p=1,2>;q=1)");
  EXPECT_EQ(got[1], "<sip:z>");
  EXPECT_EQ(got[2], "plain");

  EXPECT_EQ(SplitList("\"open, x", 10, [](std::string_view) { return true; }),
            Reason::kUnterminatedQuote);
  EXPECT_EQ(SplitList("a>b", 10, [](std::string_view) { return true; }), Reason::kBadHeaderValue);
  EXPECT_EQ(SplitList("a,b,c", 2, [](std::string_view) { return true; }), Reason::kTooManyValues);
}

// SplitList as a plain loop over the octets: the reference for the
// parser's, which skips ordinary octets sixteen at a time.
Reason ReferenceSplitList(std::string_view v, size_t max, std::vector<std::string>* out) {
  size_t start = 0;
  size_t count = 0;
  int angle = 0;
  for (size_t i = 0;;) {
    if (i >= v.size() || (v[i] == ',' && angle == 0)) {
      if (++count > max) return Reason::kTooManyValues;
      out->emplace_back(TrimLws(v.substr(start, i - start)));
      if (i >= v.size()) break;
      start = ++i;
      continue;
    }
    if (v[i] == '"') {
      size_t j = i + 1;
      while (j < v.size() && v[j] != '"') {
        if (v[j] == '\\') {
          if (j + 1 >= v.size() || v[j + 1] == '\r' || v[j + 1] == '\n') {
            return Reason::kUnterminatedQuote;
          }
          ++j;
        }
        ++j;
      }
      if (j >= v.size()) return Reason::kUnterminatedQuote;
      i = j + 1;
      continue;
    }
    if (v[i] == '<') ++angle;
    if (v[i] == '>' && --angle < 0) return Reason::kBadHeaderValue;
    ++i;
  }
  return angle == 0 ? Reason::kOk : Reason::kBadHeaderValue;
}

TEST(TextTest, SplitListAgreesWithAPlainLoopAtEveryOffset) {
  // Delimiters at every offset around the 16-octet steps, from a small
  // alphabet so that quotes, escapes and brackets meet in every order.
  const std::string_view alphabet = "a,\"<>\\ \r";
  uint32_t seed = 1;
  auto next = [&seed] {
    seed = seed * 1103515245u + 12345u;
    return seed >> 16;
  };
  for (int n = 0; n < 20000; ++n) {
    std::string v(next() % 70, 'x');
    for (char& c : v) {
      if (next() % 4 == 0) c = alphabet[next() % alphabet.size()];
    }
    std::vector<std::string> want;
    const Reason want_r = ReferenceSplitList(v, 8, &want);
    std::vector<std::string> got;
    const Reason got_r = SplitList(v, 8, [&](std::string_view e) {
      got.emplace_back(e);
      return true;
    });
    ASSERT_EQ(got_r, want_r) << v;
    if (want_r == Reason::kOk) {
      EXPECT_EQ(got, want) << v;
    }
  }
}

TEST(TextTest, Params) {
  std::string_view p = ";tag = abc ;\r\n lr; q=0.5;name=\"quoted \\\" ;value\"";
  EXPECT_EQ(FindParam(p, "TAG"), "abc");
  EXPECT_EQ(FindParam(p, "lr"), "");
  EXPECT_EQ(FindParam(p, "q"), "0.5");
  EXPECT_EQ(FindParam(p, "name"), "quoted \\\" ;value");
  EXPECT_FALSE(FindParam(p, "missing").has_value());
  EXPECT_EQ(ForEachParam(";;", [](const Param&) { return true; }), Reason::kBadParam);
  EXPECT_EQ(ForEachParam(";a=", [](const Param&) { return true; }), Reason::kBadParam);
  EXPECT_EQ(ForEachParam("junk", [](const Param&) { return true; }), Reason::kBadParam);
  EXPECT_EQ(ForEachParam(";a=\"x", [](const Param&) { return true; }), Reason::kUnterminatedQuote);
}

// ParseDecimal reads up to 19 digits without a check per digit: against a
// reading that checks each digit in 128 bits, for every length 1..24, limits
// from 0 to UINT64_MAX, leading zeros and a non-digit anywhere.
TEST(TextTest, DecimalsAgainstAPlainReading) {
  auto reference = [](std::string_view s, uint64_t max, uint64_t* out, bool* overflow) {
    *overflow = false;
    if (s.empty()) return false;
    unsigned __int128 v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return false;
      if (!*overflow) {
        v = v * 10 + static_cast<unsigned>(c - '0');
        if (v > max) *overflow = true;
      }
    }
    *out = *overflow ? max : static_cast<uint64_t>(v);
    return true;
  };
  std::mt19937_64 rng(20261207);
  const uint64_t limits[] = {0,
                             9,
                             10,
                             255,
                             65535,
                             4294967295u,
                             9999999999999999999u,
                             std::numeric_limits<uint64_t>::max()};
  size_t n = 0;
  for (int round = 0; round < 200000; ++round) {
    const size_t len = 1 + rng() % 24;
    std::string s(len, '0');
    const size_t zeros = rng() % 3 == 0 ? rng() % len : 0;  // leading zeros
    for (size_t i = zeros; i < len; ++i) s[i] = static_cast<char>('0' + rng() % 10);
    if (rng() % 8 == 0) s[rng() % len] = "/:a \x80"[rng() % 5];
    const uint64_t max = rng() % 2 ? limits[rng() % std::size(limits)] : rng() >> (rng() % 64);
    uint64_t got = 12345, want = 12345;
    bool got_over = true, want_over = true;
    const bool ok = internal::ParseDecimal(s, max, &got, &got_over);
    ASSERT_EQ(ok, reference(s, max, &want, &want_over)) << s << " max " << max;
    if (!ok) continue;
    ASSERT_EQ(got, want) << s << " max " << max;
    ASSERT_EQ(got_over, want_over) << s << " max " << max;
    ++n;
  }
  EXPECT_GT(n, 150000u);
  uint64_t v;
  bool over;
  EXPECT_FALSE(internal::ParseDecimal("", 10, &v, &over));
  EXPECT_TRUE(internal::ParseDecimal("18446744073709551615", UINT64_MAX, &v, &over));
  EXPECT_EQ(v, UINT64_MAX);
  EXPECT_FALSE(over);
  EXPECT_TRUE(internal::ParseDecimal("18446744073709551616", UINT64_MAX, &v, &over));
  EXPECT_TRUE(over);
}

TEST(TextTest, UnquoteAndDecode) {
  EXPECT_EQ(Unquote("\"a\\\"b\\\\c\""), "a\"b\\c");
  // Into a string that held something longer or shorter: only the new text.
  std::string into = "an earlier, longer display name";
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"\"a\\\"b\\\\c\"", "a\"b\\c"},
      {"plain", "plain"},
      {"\"\"", ""},
      {"\"x\\\"", "x\\"},  // a lone backslash at the end stays
      {"\\", "\\"},
      {"\"\\y\"", "y"},
      {"", ""},
      {"\"only text, no escapes\"", "only text, no escapes"},
      {"\"J Rosenberg \\\\\\\"\"", "J Rosenberg \\\""},
  };
  for (const auto& [quoted, text] : cases) {
    SCOPED_TRACE(quoted);
    sip::UnquoteInto(quoted, &into);
    EXPECT_EQ(into, text);
    EXPECT_EQ(Unquote(quoted), text);
  }
  EXPECT_EQ(PercentDecode("a%20b%2"), "a b%2");
  EXPECT_EQ(PercentDecode("%zz%41"), "%zzA");
  EXPECT_TRUE(EqualsIgnoreCase("Call-ID", "call-id"));
  EXPECT_FALSE(EqualsIgnoreCase("Call-ID", "call-i"));
  EXPECT_EQ(TrimLws(" \r\n x y\t"), "x y");
}

// --- Header names -------------------------------------------------------------

TEST(HeaderTest, CompactForms) {
  struct Case {
    char c;
    HeaderId id;
  } cases[] = {
      {'a', HeaderId::kAcceptContact},   {'b', HeaderId::kReferredBy},
      {'c', HeaderId::kContentType},     {'d', HeaderId::kRequestDisposition},
      {'e', HeaderId::kContentEncoding}, {'f', HeaderId::kFrom},
      {'i', HeaderId::kCallId},          {'j', HeaderId::kRejectContact},
      {'k', HeaderId::kSupported},       {'l', HeaderId::kContentLength},
      {'m', HeaderId::kContact},         {'n', HeaderId::kIdentityInfo},
      {'o', HeaderId::kEvent},           {'r', HeaderId::kReferTo},
      {'s', HeaderId::kSubject},         {'t', HeaderId::kTo},
      {'u', HeaderId::kAllowEvents},     {'v', HeaderId::kVia},
      {'x', HeaderId::kSessionExpires},  {'y', HeaderId::kIdentity},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(HeaderIdFromName(std::string(1, c.c)), c.id) << c.c;
    EXPECT_EQ(HeaderIdFromName(std::string(1, static_cast<char>(c.c - 32))), c.id) << c.c;
    EXPECT_EQ(HeaderIdFromName(HeaderName(c.id)), c.id) << HeaderName(c.id);
  }
  EXPECT_EQ(HeaderIdFromName("g"), HeaderId::kOther);
  EXPECT_EQ(HeaderIdFromName("cAlL-iD"), HeaderId::kCallId);
  EXPECT_EQ(HeaderIdFromName("WWW-Authenticate"), HeaderId::kWwwAuthenticate);
  EXPECT_EQ(HeaderIdFromName("X-Custom"), HeaderId::kOther);
  EXPECT_EQ(HeaderIdFromName(""), HeaderId::kOther);
  EXPECT_TRUE(IsListHeader(HeaderId::kVia));
  EXPECT_FALSE(IsListHeader(HeaderId::kAuthorization));
  EXPECT_FALSE(IsListHeader(HeaderId::kDate));
  for (int i = 1; i < static_cast<int>(HeaderId::kCount); ++i) {
    const HeaderId id = static_cast<HeaderId>(i);
    EXPECT_EQ(HeaderIdFromName(HeaderName(id)), id) << i;
  }
}

TEST(HeaderTest, LookupAgreesWithALinearSearch) {
  // Every known name in mixed case, and near misses of each: one octet
  // changed, one more or one fewer, a letter case-folded outside ASCII.
  std::vector<std::string> names;
  for (int i = 1; i < static_cast<int>(HeaderId::kCount); ++i) {
    std::string n(HeaderName(static_cast<HeaderId>(i)));
    for (size_t k = 0; k < n.size(); k += 2) n[k] = static_cast<char>(std::toupper(n[k]));
    names.push_back(n);
    for (size_t k = 0; k < n.size(); ++k) {
      std::string m = n;
      m[k] = static_cast<char>(m[k] ^ 0x20);
      names.push_back(m);
      m[k] = '\xc1';
      names.push_back(m);
    }
    names.push_back(n + "s");
    if (n.size() > 2) names.push_back(n.substr(0, n.size() - 1));  // not a compact form
  }
  for (const std::string& n : names) {
    HeaderId want = HeaderId::kOther;
    for (int i = 1; i < static_cast<int>(HeaderId::kCount); ++i) {
      if (EqualsIgnoreCase(HeaderName(static_cast<HeaderId>(i)), n)) {
        want = static_cast<HeaderId>(i);
      }
    }
    EXPECT_EQ(HeaderIdFromName(n), want) << n;
  }
}

TEST(HeaderTest, MethodNames) {
  for (int i = 1; i <= static_cast<int>(Method::kPublish); ++i) {
    const Method m = static_cast<Method>(i);
    EXPECT_EQ(MethodFromString(MethodName(m)), m);
  }
  EXPECT_EQ(MethodFromString("invite"), Method::kUnknown);
}

// --- Messages -----------------------------------------------------------------

TEST(SipTest, BasicInvite) {
  const std::string body = "v=0\r\n";
  const std::string data = Invite("Content-Type: application/sdp\r\nUser-Agent: X/1\r\n", body);
  auto r = ParseSip(data);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_TRUE(r->is_request);
  EXPECT_EQ(r->method_id, Method::kInvite);
  EXPECT_EQ(r->request_uri.user, "bob");
  EXPECT_EQ(r->version, "SIP/2.0");
  EXPECT_EQ(r->from.display_name, "Alice");
  EXPECT_EQ(r->from.tag, "1928301774");
  EXPECT_TRUE(r->to.tag.empty());
  EXPECT_EQ(r->cseq.method_id, Method::kInvite);
  EXPECT_EQ(r->vias.at(0).sent_by.port, 5060);
  EXPECT_EQ(r->user_agent, "X/1");
  EXPECT_EQ(r->body, body);
  EXPECT_EQ(r->size, data.size());
  EXPECT_TRUE(r->HasSdpBody());
  EXPECT_EQ(r->warnings, 0u);
}

TEST(SipTest, Response) {
  auto r = ParseSip(
      "SIP/2.0 486 Busy Here\r\nVia: SIP/2.0/TCP "
      "h;branch=z9hG4bKx;received=192.0.2.9;rport=5062\r\n"
      "To: <sip:b@h>;tag=t\r\nFrom: <sip:a@h>;tag=f\r\nCall-ID: c\r\nCSeq: 2 BYE\r\n"
      "Server: S/2\r\nl: 0\r\n\r\n");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_FALSE(r->is_request);
  EXPECT_EQ(r->status_code, 486);
  EXPECT_EQ(r->reason_phrase, "Busy Here");
  EXPECT_EQ(r->cseq.method_id, Method::kBye);  // no method check for responses
  EXPECT_EQ(r->vias[0].received, "192.0.2.9");
  EXPECT_EQ(r->vias[0].rport, 5062);
  EXPECT_EQ(r->server, "S/2");
}

TEST(SipTest, FoldingAndMultipleValues) {
  const std::string data = Invite(
      "Contact: <sip:a@h1>;q=0.1,\r\n \"x, y\" <sip:b@h2>\r\n"
      "m: sip:c@h3;expires=5\r\n"
      "Supported: timer,\r\n\t100rel\r\n"
      "k: path\r\n"
      "Route: <sip:p1;lr>, <sip:p2;lr>\r\n"
      "Subject: first line\r\n   second line\r\n");
  auto r = ParseSip(data);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  ASSERT_EQ(r->contacts.size(), 3u);
  EXPECT_EQ(r->contacts[1].display_name, "x, y");
  EXPECT_EQ(r->contacts[1].uri.host(), "h2");
  EXPECT_EQ(FindParam(r->contacts[2].params, "expires"), "5");
  auto sup = r->Values(HeaderId::kSupported);
  ASSERT_EQ(sup.size(), 3u);
  EXPECT_EQ(sup[1], "100rel");
  EXPECT_EQ(r->routes.size(), 2u);
  const Header* subject = r->Find(HeaderId::kSubject);
  ASSERT_NE(subject, nullptr);
  EXPECT_EQ(subject->value.substr(0, 10), "first line");
  EXPECT_EQ(subject->value.substr(subject->value.size() - 11), "second line");
}

TEST(SipTest, LenientLineEnds) {
  std::string lf = Invite();
  std::string cr = Invite();
  for (size_t p = lf.find("\r\n"); p != std::string::npos; p = lf.find("\r\n")) lf.erase(p, 1);
  for (size_t p = cr.find("\r\n"); p != std::string::npos; p = cr.find("\r\n")) cr.erase(p + 1, 1);
  for (const std::string& d : {lf, cr}) {
    auto r = ParseSip(d);
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    EXPECT_TRUE(r->has_warning(SipWarning::kNonCrlfLineEnd));
    EXPECT_EQ(r->call_id, "a84b4c76e66710@pc33.example.org");
  }
}

TEST(SipTest, LineEndsAtEveryOffset) {
  // A lone CR or LF ends a header line wherever it falls in a long line;
  // a CR before LF is one line end.
  for (size_t k = 0; k < 48; ++k) {
    for (const char* end : {"\r", "\n", "\r\n"}) {
      const std::string data = Invite("Subject: " + std::string(k, 's') + end +
                                      "X-After: " + std::string(47 - k, 'x') + "\r\n");
      auto r = ParseSip(data);
      ASSERT_TRUE(r.ok()) << k << " " << r.error().ToString();
      const Header* subject = r->Find(HeaderId::kSubject);
      ASSERT_NE(subject, nullptr);
      EXPECT_EQ(subject->value, std::string(k, 's'));
      const Header* after = r->Find("X-After");
      ASSERT_NE(after, nullptr) << k;
      EXPECT_EQ(after->value, std::string(47 - k, 'x'));
      EXPECT_EQ(r->has_warning(SipWarning::kNonCrlfLineEnd), std::string_view(end) != "\r\n");
    }
  }
}

TEST(SipTest, Authorization) {
  const std::string data = Invite(
      "Authorization: Digest username=\"alice\", realm=\"atlanta.com\",\r\n"
      " nonce=\"84a4cc6f3082121f32b42a2187831a9e\", uri=\"sip:bob@example.com\",\r\n"
      " response=\"7587245234b3434cc3412213e5f113a5432\"\r\n");
  auto r = ParseSip(data);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  ASSERT_TRUE(r->authorization.has_value());
  EXPECT_EQ(r->authorization->scheme, "Digest");
  EXPECT_EQ(r->authorization->username, "alice");
  EXPECT_EQ(r->authorization->realm, "atlanta.com");
  EXPECT_EQ(r->authorization->uri, "sip:bob@example.com");

  const std::string d1 = Invite("Authorization: Digest ,,,\r\n");
  auto bad = ParseSip(d1);
  ASSERT_TRUE(bad.ok());
  EXPECT_TRUE(bad->has_warning(SipWarning::kBadAuthorization));
}

TEST(SipTest, ContactStarAndExpires) {
  auto r = ParseSip(
      "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKa\r\n"
      "To: <sip:a@example.com>\r\nFrom: <sip:a@example.com>;tag=1\r\nCall-ID: x\r\n"
      "CSeq: 3 REGISTER\r\nContact: *\r\nExpires: 99999999999\r\nContent-Length: 0\r\n\r\n");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_TRUE(r->contact_star);
  EXPECT_TRUE(r->contacts.empty());
  EXPECT_EQ(r->expires, 0xffffffffu);
  EXPECT_TRUE(r->has_warning(SipWarning::kValueOutOfRange));
}

struct RejectCase {
  const char* name;
  std::string data;
  Reason reason;
};

void PrintTo(const RejectCase& c, std::ostream* os) { *os << c.name; }

class SipRejectTest : public ::testing::TestWithParam<RejectCase> {};

TEST_P(SipRejectTest, Rejects) {
  auto r = ParseSip(GetParam().data);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.reason(), GetParam().reason) << r.error().ToString();
  EXPECT_LE(r.error().offset, GetParam().data.size());
  EXPECT_FALSE(r.status().ok());
}

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  const size_t p = s.find(from);
  if (p != std::string::npos) s.replace(p, from.size(), to);
  return s;
}

INSTANTIATE_TEST_SUITE_P(
    Table, SipRejectTest,
    ::testing::Values(
        RejectCase{"empty", "", Reason::kEmpty},
        RejectCase{"only_crlf", "\r\n\r\n", Reason::kEmpty},
        RejectCase{"garbage", "hello", Reason::kBadStartLine},
        RejectCase{"bad_method", "INV@TE sip:a@b SIP/2.0\r\n\r\n", Reason::kBadMethod},
        RejectCase{"status_two_digits", "SIP/2.0 20 OK\r\n\r\n", Reason::kBadStatusLine},
        RejectCase{"status_099", "SIP/2.0 099 Odd\r\n\r\n", Reason::kValueOutOfRange},
        RejectCase{"status_700", "SIP/2.0 700 Odd\r\n\r\n", Reason::kValueOutOfRange},
        RejectCase{"bad_version_text", "SIP/2.x 200 OK\r\n\r\n", Reason::kBadStatusLine},
        RejectCase{"version_3", Replace(Invite(), "SIP/2.0\r\n", "SIP/3.0\r\n"),
                   Reason::kBadVersion},
        RejectCase{"no_colon", Invite("NoColonHere\r\n"), Reason::kBadHeaderName},
        RejectCase{"space_in_name", Invite("Bad Name: x\r\n"), Reason::kBadHeaderName},
        RejectCase{"leading_fold", Replace(Invite(), "SIP/2.0\r\nVia", "SIP/2.0\r\n Via"),
                   Reason::kBadHeaderLine},
        RejectCase{"bad_via", Invite("Via: SIP/2.0 192.0.2.1\r\n"), Reason::kBadVia},
        RejectCase{"via_no_host", Invite("Via: SIP/2.0/UDP ;branch=x\r\n"), Reason::kBadVia},
        RejectCase{"via_port", Invite("Via: SIP/2.0/UDP h:70000\r\n"), Reason::kValueOutOfRange},
        RejectCase{"cseq_text", Replace(Invite(), "CSeq: 314159", "CSeq: x"), Reason::kBadCSeq},
        RejectCase{"cseq_no_method", Replace(Invite(), "CSeq: 314159 INVITE", "CSeq: 1"),
                   Reason::kBadCSeq},
        RejectCase{"cseq_2_31", Replace(Invite(), "CSeq: 314159", "CSeq: 2147483648"),
                   Reason::kValueOutOfRange},
        RejectCase{"callid_space", Replace(Invite(), "Call-ID: a84b", "Call-ID: a b"),
                   Reason::kBadCallId},
        RejectCase{"max_forwards_text", Replace(Invite(), "Max-Forwards: 70", "Max-Forwards: x"),
                   Reason::kBadMaxForwards},
        RejectCase{"max_forwards_256", Replace(Invite(), "Max-Forwards: 70", "Max-Forwards: 256"),
                   Reason::kValueOutOfRange},
        RejectCase{"duplicate_from", Invite("f: <sip:x@y>;tag=2\r\n"), Reason::kDuplicateHeader},
        RejectCase{"two_content_lengths", Invite("l: 0\r\n"), Reason::kMultipleContentLength},
        RejectCase{"content_length_text",
                   Replace(Invite(), "Content-Length: 0", "Content-Length: ten"),
                   Reason::kBadContentLength},
        RejectCase{"content_length_long",
                   Replace(Invite(), "Content-Length: 0", "Content-Length: 10"),
                   Reason::kContentLengthMismatch},
        RejectCase{
            "missing_via",
            Replace(Invite(), "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds\r\n", ""),
            Reason::kMissingHeader},
        RejectCase{"cseq_mismatch", Replace(Invite(), "314159 INVITE", "314159 BYE"),
                   Reason::kCSeqMethodMismatch},
        RejectCase{"bad_to", Replace(Invite(), "To: Bob <sip:bob@example.com>", "To: Bob <x>"),
                   Reason::kBadUri},
        RejectCase{"to_unclosed", Replace(Invite(), "To: Bob <sip:bob@example.com>", "To: <sip:b"),
                   Reason::kBadNameAddr},
        RejectCase{"to_junk_params",
                   Replace(Invite(), "To: Bob <sip:bob@example.com>", "To: <sip:b@h> junk"),
                   Reason::kBadParam},
        RejectCase{"contact_empty_element", Invite("Contact: <sip:a@b>,,<sip:c@d>\r\n"),
                   Reason::kBadNameAddr},
        RejectCase{"request_uri_headers",
                   Replace(Invite(), "sip:bob@example.com SIP", "sip:bob@example.com?x=y SIP"),
                   Reason::kBadRequestUri},
        RejectCase{"nul_in_start_line", std::string("INVITE sip:a@b\0 SIP/2.0\r\n\r\n", 27),
                   Reason::kBadStartLine}),
    [](const ::testing::TestParamInfo<RejectCase>& i) { return std::string(i.param.name); });

// --- Limits -------------------------------------------------------------------

TEST(SipLimitTest, MessageTooLarge) {
  SipParseOptions o;
  o.limits.max_message_size = 100;
  const std::string d2 = Invite();
  auto r = ParseSip(d2, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.reason(), Reason::kMessageTooLarge);
  EXPECT_EQ(r.error().category(), ReasonCategory::kLimit);
}

TEST(SipLimitTest, TooManyHeaders) {
  std::string extra;
  for (int i = 0; i < 200; ++i) extra += "X-H" + std::to_string(i) + ": v\r\n";
  const std::string d3 = Invite(extra);
  auto r = ParseSip(d3);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.reason(), Reason::kTooManyHeaders);
}

TEST(SipLimitTest, HeaderTooLong) {
  const std::string d4 = Invite("X-Long: " + std::string(9000, 'a') + "\r\n");
  auto r = ParseSip(d4);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.reason(), Reason::kHeaderTooLong);
  // Folded continuation lines count toward the same header.
  std::string folded = "X-Folded: a";
  for (int i = 0; i < 2000; ++i) folded += "\r\n bbbb";
  const std::string d5 = Invite(folded + "\r\n");
  auto f = ParseSip(d5);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.reason(), Reason::kHeaderTooLong);
}

TEST(SipLimitTest, TooManyVias) {
  std::string extra;
  for (int i = 0; i < 10; ++i)
    extra += "v: SIP/2.0/UDP h" + std::to_string(i) + ", SIP/2.0/UDP g\r\n";
  SipParseOptions o;
  o.limits.max_vias = 15;
  const std::string d6 = Invite(extra);
  auto r = ParseSip(d6, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.reason(), Reason::kTooManyVias);
  o.limits.max_vias = 21;
  EXPECT_TRUE(ParseSip(d6, o).ok());
}

TEST(SipLimitTest, TooManyContactsAndParams) {
  std::string contacts = "Contact: <sip:a@b>";
  for (int i = 0; i < 70; ++i) contacts += ", <sip:a@b>";
  const std::string d8 = Invite(contacts + "\r\n");
  auto r = ParseSip(d8);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.reason(), Reason::kTooManyValues);

  std::string params = "Contact: <sip:a@b>";
  for (int i = 0; i < 40; ++i) params += ";p" + std::to_string(i) + "=1";
  const std::string d9 = Invite(params + "\r\n");
  auto p = ParseSip(d9);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.reason(), Reason::kTooManyParams);
}

// --- Framing ------------------------------------------------------------------

TEST(SipFramingTest, StreamNeedsMore) {
  SipParseOptions o;
  o.framing = Framing::kStream;
  const std::string full = Invite("", "hello");
  for (size_t cut : {size_t{1}, size_t{20}, full.size() - 10, full.size() - 1}) {
    auto r = ParseSip(std::string_view(full).substr(0, cut), o);
    ASSERT_FALSE(r.ok()) << cut;
    EXPECT_EQ(r.reason(), Reason::kIncomplete) << cut << " " << r.error().ToString();
    EXPECT_EQ(r.error().category(), ReasonCategory::kIncomplete);
  }
  auto whole = ParseSip(full, o);
  ASSERT_TRUE(whole.ok()) << whole.error().ToString();
  EXPECT_EQ(whole->body, "hello");
}

TEST(SipFramingTest, StreamBackToBack) {
  SipParseOptions o;
  o.framing = Framing::kStream;
  const std::string a = Invite("", "abc");
  const std::string b = Invite("", "");
  const std::string both = "\r\n" + a + b;
  auto r1 = ParseSip(both, o);
  ASSERT_TRUE(r1.ok()) << r1.error().ToString();
  EXPECT_TRUE(r1->has_warning(SipWarning::kLeadingCrlf));
  EXPECT_EQ(r1->size, a.size() + 2);
  EXPECT_FALSE(r1->has_warning(SipWarning::kTrailingBytes));
  auto r2 = ParseSip(std::string_view(both).substr(r1->size), o);
  ASSERT_TRUE(r2.ok()) << r2.error().ToString();
  EXPECT_EQ(r2->size, b.size());
}

TEST(SipFramingTest, StreamRequiresContentLength) {
  SipParseOptions o;
  o.framing = Framing::kStream;
  const std::string d10 = Replace(Invite(), "Content-Length: 0\r\n", "");
  auto r = ParseSip(d10, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.reason(), Reason::kMissingContentLength);
  EXPECT_EQ(r.error().category(), ReasonCategory::kFraming);
}

TEST(SipFramingTest, StreamTooLarge) {
  SipParseOptions o;
  o.framing = Framing::kStream;
  o.limits.max_message_size = 300;
  const std::string d11 = Invite("", std::string(1000, 'x'));
  auto r = ParseSip(d11, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.reason(), Reason::kMessageTooLarge);
  const std::string d12 = Invite(std::string(400, 'X') + ": y\r\n");
  auto endless = ParseSip(d12, o);
  ASSERT_FALSE(endless.ok());
  EXPECT_EQ(endless.error().category(), ReasonCategory::kLimit);
}

TEST(SipFramingTest, DatagramWithoutContentLength) {
  const std::string d13 = Replace(Invite(), "Content-Length: 0\r\n", "") + "body";
  auto r = ParseSip(d13);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->body, "body");
  EXPECT_TRUE(r->has_warning(SipWarning::kNoContentLength));
}

TEST(SipFramingTest, ParseIntoReusesMessage) {
  SipMessage m;
  const std::string first = Invite("Contact: <sip:a@b>\r\n");
  ASSERT_EQ(ParseSipInto(first, {}, &m).reason, Reason::kOk);
  EXPECT_EQ(m.contacts.size(), 1u);
  const std::string second = Invite();
  ASSERT_EQ(ParseSipInto(second, {}, &m).reason, Reason::kOk);
  EXPECT_TRUE(m.contacts.empty());
  EXPECT_EQ(m.headers.size(), 7u);
  EXPECT_EQ(ParseSipInto("junk", {}, &m).reason, Reason::kBadStartLine);
}

// A control octet (below 0x20, but HTAB) anywhere in the start line refuses
// the message at that octet; HTAB, DEL and octets from 0x80 are not refused
// for that. Start lines of every length around the 16-octet blocks the scan
// reads, each position tried.
TEST(SipMessageTest, ControlOctetsInTheStartLineAtEveryPosition) {
  const char tries[] = {'\x01', '\x1f', '\0', '\t', '\x7f', '\x80', '\xff'};
  for (size_t user = 1; user <= 40; ++user) {
    const std::string line = "INVITE sip:" + std::string(user, 'u') + "@h SIP/2.0";
    for (size_t k = 0; k < line.size(); ++k) {
      for (char c : tries) {
        std::string bad = line;
        bad[k] = c;
        const std::string msg =
            bad +
            "\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\n"
            "To: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
            "Content-Length: 0\r\n\r\n";
        SipMessage m;
        const ParseError err = ParseSipInto(msg, {}, &m);
        const bool control = static_cast<unsigned char>(c) < 0x20 && c != '\t';
        if (control) {
          EXPECT_EQ(err.reason, Reason::kBadStartLine) << user << " " << k << " " << int(c);
          EXPECT_EQ(err.what, "start line") << user << " " << k << " " << int(c);
          EXPECT_EQ(err.offset, k) << user << " " << k << " " << int(c);
        } else {  // refused, if at all, for what the octet breaks (a token, the version)
          EXPECT_NE(err.what, "start line") << user << " " << k << " " << int(c);
        }
      }
    }
  }
}

TEST(SipPartsTest, ViaAndNameAddr) {
  auto via =
      ParseVia("SIP / 2.0 / TLS [2001:db8::1] : 5061 ; branch=z9hG4bK1 ; rport ; maddr=224.2.0.1");
  ASSERT_TRUE(via.ok()) << via.error().ToString();
  EXPECT_EQ(via->transport, "TLS");
  EXPECT_EQ(via->sent_by.host, "2001:db8::1");
  EXPECT_EQ(via->sent_by.port, 5061);
  EXPECT_TRUE(via->has_rport);
  EXPECT_FALSE(via->rport.has_value());
  EXPECT_EQ(via->maddr, "224.2.0.1");

  auto na = ParseNameAddr("  \"A \\\"B\\\"\" <sips:a@b.example;transport=tls>;tag=xyz;foo  ");
  ASSERT_TRUE(na.ok()) << na.error().ToString();
  EXPECT_TRUE(na->bracketed);
  EXPECT_EQ(Unquote(na->display_name), "A \"B\"");
  EXPECT_EQ(na->uri.scheme, UriScheme::kSips);
  EXPECT_EQ(na->tag, "xyz");
  EXPECT_EQ(na->params, ";tag=xyz;foo");

  auto spec = ParseNameAddr("sip:a@b;tag=1");
  ASSERT_TRUE(spec.ok());
  EXPECT_FALSE(spec->bracketed);
  EXPECT_TRUE(spec->uri.params.empty());
  EXPECT_EQ(spec->tag, "1");
  EXPECT_FALSE(ParseNameAddr("sip:a@b?x=y").ok());
  EXPECT_FALSE(ParseNameAddr("Bell, Alexander").ok());
  auto odd = ParseNameAddr("\\\"arik\\\" <sip:816666@voip.example.net>;tag=6433ef9");
  ASSERT_TRUE(odd.ok()) << odd.error().ToString();
  EXPECT_EQ(odd->display_name, "\\\"arik\\\"");
  EXPECT_EQ(odd->tag, "6433ef9");
  // An unbracketed Contact whose parameter quotes a '<' stays an addr-spec.
  auto instance = ParseNameAddr("sip:a@192.0.2.1;+sip.instance=\"<urn:uuid:1>\";expires=60");
  ASSERT_TRUE(instance.ok()) << instance.error().ToString();
  EXPECT_FALSE(instance->bracketed);
  EXPECT_EQ(FindParam(instance->params, "+sip.instance"), "<urn:uuid:1>");
  EXPECT_FALSE(ParseNameAddr("\"unterminated <sip:a@b>").ok());
}

// --- Lenience for what real devices send -------------------------------------

// RFC 3261 wants "[...]" around an IPv6 host; bare addresses are taken only
// where they can be read one way (see ScanUnbracketedIpv6 in uri.cc).
TEST(UnbracketedIpv6Test, UriHosts) {
  struct Case {
    const char* uri;
    const char* host;
    int port;  // -1: none
  } cases[] = {
      {"sip:alice@2001:db8::10", "2001:db8::10", -1},
      {"sip:alice@2001:db8::10;transport=udp", "2001:db8::10", -1},
      {"sips:alice:pw@2001:db8::10?subject=x", "2001:db8::10", -1},
      // The whole is an address: no port, as for "[2001:db8::10:5070]".
      {"sip:alice@2001:db8::10:5070", "2001:db8::10:5070", -1},
      {"sip:alice@1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8", -1},
      // Eight groups written out, or a dotted IPv4 tail: nothing can follow
      // the address but a port.
      {"sip:4321@fec0:0:0:0:216:d3ff:fe0d:22c:5060", "fec0:0:0:0:216:d3ff:fe0d:22c", 5060},
      {"sip:alice@1:2:3:4:5:6:7:8:0;lr", "1:2:3:4:5:6:7:8", 0},
      {"sip:alice@::ffff:192.0.2.1:5060", "::ffff:192.0.2.1", 5060},
      // A first group of four digits, or none ("::"), then the first ':'.
      {"sip:alice@abcd:ef01::1", "abcd:ef01::1", -1},
      {"sip:alice@ABCD:EF01:0:0:0:0:0:1:5060", "ABCD:EF01:0:0:0:0:0:1", 5060},
      {"sip:alice@::1", "::1", -1},
      {"sip:alice@::", "::", -1},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.uri);
    auto u = ParseUri(c.uri);
    ASSERT_TRUE(u.ok()) << u.error().ToString();
    EXPECT_EQ(u->host(), c.host);
    EXPECT_EQ(u->hostport.type, HostType::kIpv6);
    EXPECT_TRUE(u->hostport.ip_valid);
    EXPECT_TRUE(u->hostport.unbracketed_ipv6);
    IpAddress ip;
    ASSERT_TRUE(ParseIpLiteral(c.host, &ip));
    EXPECT_EQ(u->hostport.ip, ip);
    EXPECT_EQ(u->hostport.has_port, c.port >= 0);
    if (c.port >= 0) {
      EXPECT_EQ(u->hostport.port, c.port);
    }
  }
  auto semi = ParseUri("sip:alice@2001:db8::10;transport=udp");
  ASSERT_TRUE(semi.ok());
  EXPECT_EQ(semi->params, ";transport=udp");

  // Bracketed and ordinary hosts are not flagged.
  for (const char* uri : {"sip:alice@[2001:db8::10]:5060", "sip:alice@192.0.2.1:5060",
                          "sip:alice@abc:5060", "sip:[::1]"}) {
    auto u = ParseUri(uri);
    ASSERT_TRUE(u.ok()) << uri;
    EXPECT_FALSE(u->hostport.unbracketed_ipv6) << uri;
  }
}

TEST(UnbracketedIpv6Test, AmbiguousOrInvalidStayRejected) {
  for (const char* uri : {
           // No userinfo: RFC 5118 4.2's invalid Request-URI.
           "sip:2001:db8::10",
           "sip:1:2:3:4:5:6:7:8:5060",
           // "::" then a trailing group that does not fit: where the port
           // starts depends on how many zero groups were compressed.
           "sip:alice@1::2:3:4:5:6:7:5060",
           "sip:alice@2001:db8::1:2:3:4:5:6:5060",
           // Not an address, with or without the last group as a port.
           "sip:alice@1:2:3:4:5:6:7:8:9:5060",
           "sip:alice@2001:db8:::1",  // the three-colon form needs its brackets
           "sip:alice@2001:db8::zz",
           "sip:alice@fe80::1%25eth0",
           "sip:alice@2001:db8::1:",
           "sip:alice@1:2:3:4:5:6:7:8:99999",
           "sip:alice@1:2:3:4:5:6:7:8:5060x",
           "sip:alice@1:2:3:4:5:6:7:8:123456",
           // A first group of five digits, or a '.' before the first ':'.
           "sip:alice@abcde::1",
           "sip:alice@0abcd:1:2:3:4:5:6:7",
           "sip:alice@1.2.3.4:5:6",
       }) {
    auto u = ParseUri(uri);
    EXPECT_FALSE(u.ok()) << uri << " -> " << (u.ok() ? std::string(u->host()) : "");
  }
}

TEST(UnbracketedIpv6Test, HostPortAndVia) {
  auto hp = ParseHostPort("2001:db8::1");
  ASSERT_TRUE(hp.ok());
  EXPECT_TRUE(hp->unbracketed_ipv6);
  EXPECT_FALSE(hp->has_port);
  auto hp2 = ParseHostPort("1:2:3:4:5:6:7:8:5060");
  ASSERT_TRUE(hp2.ok());
  EXPECT_EQ(hp2->host, "1:2:3:4:5:6:7:8");
  EXPECT_EQ(hp2->port, 5060);
  EXPECT_FALSE(ParseHostPort("1::2:3:4:5:6:7:5060").ok());
  EXPECT_FALSE(ParseHostPort("2001:db8::1 ").ok());
  EXPECT_FALSE(ParseHostPort("[2001:db8::1]")->unbracketed_ipv6);

  // The whole is an address, so no port (the example sender may have meant
  // 5060; "[2001:db8::9]:5060" says so).
  auto a = ParseVia("SIP/2.0/UDP 2001:db8::9:5060;branch=z9hG4bK1");
  ASSERT_TRUE(a.ok()) << a.error().ToString();
  EXPECT_EQ(a->sent_by.host, "2001:db8::9:5060");
  EXPECT_FALSE(a->sent_by.has_port);
  EXPECT_TRUE(a->sent_by.unbracketed_ipv6);
  EXPECT_EQ(a->branch, "z9hG4bK1");

  auto b = ParseVia("SIP/2.0/UDP fe80:0:0:0:21a:a0ff:fe07:32e0:5060;branch=z9hG4bK2;rport");
  ASSERT_TRUE(b.ok()) << b.error().ToString();
  EXPECT_EQ(b->sent_by.host, "fe80:0:0:0:21a:a0ff:fe07:32e0");
  EXPECT_EQ(b->sent_by.port, 5060);
  EXPECT_EQ(b->sent_by.ip.ToString(), "fe80::21a:a0ff:fe07:32e0");
  EXPECT_TRUE(b->has_rport);

  auto c = ParseVia("SIP/2.0/TCP 2001:db8::9 ;branch=z9hG4bK3");
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  EXPECT_EQ(c->sent_by.host, "2001:db8::9");

  EXPECT_FALSE(ParseVia("SIP/2.0/UDP 1::2:3:4:5:6:7:5060;branch=z9hG4bK1").ok());
  EXPECT_FALSE(ParseVia("SIP/2.0/UDP 2001:db8::9,x;branch=z9hG4bK1").ok());
  EXPECT_FALSE(ParseVia("SIP/2.0/UDP 2001:db8::9 : 5060;branch=z9hG4bK1").ok());
}

TEST(UnbracketedIpv6Test, MessageIsFlagged) {
  const std::string clean = Invite("Contact: <sip:alice@[2001:db8::1]:5060>\r\n");
  auto ok = ParseSip(clean);
  ASSERT_TRUE(ok.ok()) << ok.error().ToString();
  EXPECT_FALSE(ok->has_warning(SipWarning::kUnbracketedIpv6Host));

  const std::string variants[] = {
      Replace(Invite(), "sip:bob@example.com SIP", "sip:bob@2001:db8::10 SIP"),
      Replace(Invite(), "192.0.2.1:5060;branch", "2001:db8::9;branch"),
      Replace(Invite(), "<sip:alice@example.org>", "<sip:alice@2001:db8::1>"),
      Replace(Invite(), "To: Bob <sip:bob@example.com>", "To: sip:bob@2001:db8::10"),
      Invite("Contact: <sip:alice@1:2:3:4:5:6:7:8:5060>\r\n"),
      Invite("Route: <sip:p@2001:db8::5;lr>\r\n"),
      Invite("Record-Route: <sip:p@2001:db8::5;lr>\r\n"),
  };
  for (const std::string& msg : variants) {
    auto r = ParseSip(msg);
    ASSERT_TRUE(r.ok()) << msg << r.error().ToString();
    EXPECT_TRUE(r->has_warning(SipWarning::kUnbracketedIpv6Host)) << msg;
  }
  auto ruri = ParseSip(variants[0]);
  EXPECT_EQ(ruri->request_uri.host(), "2001:db8::10");

  // RFC 5118 4.2: without a user part the Request-URI is still rejected.
  const std::string no_user = Replace(Invite(), "sip:bob@example.com SIP", "sip:2001:db8::10 SIP");
  auto bad = ParseSip(no_user);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.reason(), Reason::kBadRequestUri);
}

TEST(NonTokenTagTest, ToAndFromTagsAreKeptAndFlagged) {
  struct Case {
    const char* to;
    std::string_view tag;
  } cases[] = {
      {"To: <sip:bob@example.com>;tag=a@b{c}/d", "a@b{c}/d"},
      {"To: <sip:bob@example.com>;tag=\"quoted tag\"", "quoted tag"},
      {"To: <sip:bob@example.com>;tag=\"x\"", "x"},
      {"To: <sip:bob@example.com>;tag=a:b[c]", "a:b[c]"},
      {"To: <sip:bob@example.com> ; tag = a@b ; x=1", "a@b"},
      {"To: sip:bob@example.com;tag=12&Sy\x18\x01", "12&Sy\x18\x01"},
      {"To: <sip:bob@example.com>;tag=\xef\xbf\xbd", "\xef\xbf\xbd"},
  };
  for (const Case& c : cases) {
    const std::string msg = Replace(Invite(), "To: Bob <sip:bob@example.com>", c.to);
    auto r = ParseSip(msg);
    ASSERT_TRUE(r.ok()) << c.to << ": " << r.error().ToString();
    EXPECT_EQ(r->to.tag, c.tag) << c.to;
    EXPECT_TRUE(r->has_warning(SipWarning::kNonTokenTag)) << c.to;
  }
  const std::string braces = Replace(Invite(), "tag=1928301774", "tag={1928301774}");
  auto from = ParseSip(braces);
  ASSERT_TRUE(from.ok()) << from.error().ToString();
  EXPECT_EQ(from->from.tag, "{1928301774}");
  EXPECT_TRUE(from->has_warning(SipWarning::kNonTokenTag));

  const std::string more =
      Replace(Invite(), "To: Bob <sip:bob@example.com>", "To: <sip:bob@example.com>;tag=a@b;x=1");
  auto x = ParseSip(more);
  ASSERT_TRUE(x.ok());
  EXPECT_EQ(x->to.params, ";tag=a@b;x=1");

  // A token tag, and the well-formed INVITE, are not flagged.
  const std::string invite = Invite();
  auto clean = ParseSip(invite);
  ASSERT_TRUE(clean.ok());
  EXPECT_EQ(clean->from.tag, "1928301774");
  EXPECT_FALSE(clean->has_warning(SipWarning::kNonTokenTag));
}

TEST(NonTokenTagTest, OtherParametersAndHeadersStayStrict) {
  const std::string bad[] = {
      // Only the tag of From/To is lenient.
      Replace(Invite(), "To: Bob <sip:bob@example.com>", "To: <sip:bob@example.com>;foo=a{b"),
      Replace(Invite(), "To: Bob <sip:bob@example.com>",
              "To: <sip:bob@example.com>;tag=ok;foo=a@b"),
      Invite("Contact: <sip:a@192.0.2.1>;tag=a{b\r\n"),
      Invite("Route: <sip:a@192.0.2.1>;tag=a{b\r\n"),
      // A space inside, or no value at all: no single reading.
      Replace(Invite(), "To: Bob <sip:bob@example.com>", "To: <sip:bob@example.com>;tag=ab cd"),
      Replace(Invite(), "To: Bob <sip:bob@example.com>", "To: <sip:bob@example.com>;tag="),
      Replace(Invite(), "To: Bob <sip:bob@example.com>", "To: <sip:bob@example.com>;tag=\"ab"),
  };
  for (const std::string& msg : bad) {
    auto r = ParseSip(msg);
    EXPECT_FALSE(r.ok()) << msg;
  }
  // ParseNameAddr alone does not know the header: it stays strict.
  EXPECT_FALSE(ParseNameAddr("<sip:a@b>;tag=a{b").ok());
  auto quoted = ParseNameAddr("<sip:a@b>;tag=\"q\"");
  ASSERT_TRUE(quoted.ok());
  EXPECT_EQ(quoted->tag, "\"q\"");
}

TEST(WarningTest, NamesAreUnique) {
  std::set<std::string_view> names;
  for (int bit = 0; bit <= 19; ++bit) {
    const auto w = static_cast<SipWarning>(1u << bit);
    EXPECT_NE(WarningName(w), "unknown") << bit;
    EXPECT_TRUE(names.insert(WarningName(w)).second) << WarningName(w);
  }
  EXPECT_EQ(WarningName(SipWarning::kUnbracketedIpv6Host), "unbracketed_ipv6_host");
  EXPECT_EQ(WarningName(SipWarning::kNonTokenTag), "non_token_tag");
}

TEST(ReasonTest, NamesAreUniqueAndCategorised) {
  std::set<std::string_view> names;
  for (int i = 0; i <= static_cast<int>(Reason::kMissingSdpField); ++i) {
    const Reason r = static_cast<Reason>(i);
    EXPECT_TRUE(names.insert(ReasonName(r)).second) << ReasonName(r);
    EXPECT_NE(ReasonName(r), "unknown");
    EXPECT_EQ(CategoryOf(r) == ReasonCategory::kNone, r == Reason::kOk);
  }
  ParseError e{Reason::kValueOutOfRange, "CSeq", 12};
  EXPECT_EQ(e.ToString(), "value_out_of_range (CSeq) at byte 12");
  EXPECT_EQ(e.ToStatus().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((ParseError{Reason::kTooManyVias, "", 0}).ToStatus().code(),
            absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace sw::sip
