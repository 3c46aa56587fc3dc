// SPDX-License-Identifier: BSD-2-Clause
// SDP: session and media fields, connection addresses, rtpmap and
// direction attributes, warnings and rejections.
#include "sipwarden/sip/sdp.h"

#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace sw::sip {
namespace {

constexpr char kOffer[] =
    "v=0\r\n"
    "o=alice 2890844526 2890844527 IN IP4 host.atlanta.example.com\r\n"
    "s=Call\r\n"
    "i=A session\r\n"
    "c=IN IP4 192.0.2.101\r\n"
    "b=AS:64\r\n"
    "t=0 0\r\n"
    "a=sendonly\r\n"
    "m=audio 49170 RTP/AVP 0 8 97 101\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:97 iLBC/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-15\r\n"
    "m=video 51372/2 RTP/SAVP 31 32\r\n"
    "c=IN IP6 2001:db8::2\r\n"
    "a=rtpmap:31 H261/90000\r\n"
    "a=recvonly\r\n"
    "m=application 5000 udp wb\r\n"
    "a=orient:portrait\r\n";

TEST(SdpTest, Offer) {
  auto s = ParseSdp(kOffer);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(s->version, 0u);
  EXPECT_EQ(s->origin.username, "alice");
  EXPECT_EQ(s->origin.session_id, "2890844526");
  EXPECT_EQ(s->origin.session_version, "2890844527");
  EXPECT_EQ(s->origin.address, "host.atlanta.example.com");
  EXPECT_EQ(s->session_name, "Call");
  ASSERT_TRUE(s->connection.has_value());
  EXPECT_EQ(s->connection->ip.ToString(), "192.0.2.101");
  EXPECT_EQ(s->direction, SdpDirection::kSendOnly);
  ASSERT_EQ(s->media.size(), 3u);

  const SdpMedia& audio = s->media[0];
  EXPECT_EQ(audio.type, "audio");
  EXPECT_EQ(audio.port, 49170);
  EXPECT_EQ(audio.port_count, 1u);
  EXPECT_EQ(audio.proto, "RTP/AVP");
  EXPECT_EQ(audio.payload_types, (absl::InlinedVector<uint8_t, 8>{0, 8, 97, 101}));
  ASSERT_EQ(audio.rtpmaps.size(), 4u);
  EXPECT_EQ(audio.rtpmaps[3].payload_type, 101);
  EXPECT_EQ(audio.rtpmaps[3].encoding, "telephone-event");
  EXPECT_EQ(audio.rtpmaps[3].clock_rate, 8000u);
  EXPECT_EQ(audio.attributes.size(), 5u);
  EXPECT_EQ(s->ConnectionFor(0), &*s->connection);
  EXPECT_EQ(s->DirectionFor(0), SdpDirection::kSendOnly);

  const SdpMedia& video = s->media[1];
  EXPECT_EQ(video.port, 51372);
  EXPECT_EQ(video.port_count, 2u);
  EXPECT_EQ(video.proto, "RTP/SAVP");
  ASSERT_NE(s->ConnectionFor(1), nullptr);
  EXPECT_EQ(s->ConnectionFor(1)->ip.ToString(), "2001:db8::2");
  EXPECT_EQ(s->DirectionFor(1), SdpDirection::kRecvOnly);

  const SdpMedia& app = s->media[2];
  EXPECT_EQ(app.proto, "udp");
  EXPECT_TRUE(app.payload_types.empty());
  ASSERT_EQ(app.formats.size(), 1u);
  EXPECT_EQ(app.formats[0], "wb");
  EXPECT_EQ(s->warnings, 0u);
  EXPECT_EQ(s->other.size(), 3u);  // i=, b=, t=
}

TEST(SdpTest, ConnectionForms) {
  auto mc = ParseSdpConnection("IN IP4 224.2.36.42/127/3");
  ASSERT_TRUE(mc.ok());
  EXPECT_EQ(mc->address, "224.2.36.42");
  EXPECT_EQ(mc->ttl, 127u);
  EXPECT_EQ(mc->count, 3u);
  auto v6 = ParseSdpConnection("IN IP6 ff15::101/3");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->count, 3u);
  EXPECT_FALSE(v6->ttl.has_value());
  EXPECT_TRUE(v6->ip_valid);
  auto name = ParseSdpConnection("IN IP4 host.example.com");
  ASSERT_TRUE(name.ok());
  EXPECT_FALSE(name->ip_valid);
  auto mismatch = ParseSdpConnection("IN IP4 2001:db8::1");
  ASSERT_TRUE(mismatch.ok());
  EXPECT_FALSE(mismatch->ip_valid);
  EXPECT_FALSE(ParseSdpConnection("IN IP4").ok());
  EXPECT_FALSE(ParseSdpConnection("IN IP4 1.2.3.4/x").ok());
  EXPECT_FALSE(ParseSdpConnection("IN IP6 ::1/2/3").ok());
}

TEST(SdpTest, RtpMap) {
  auto m = ParseRtpMap("98 L16/16000/2");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->payload_type, 98);
  EXPECT_EQ(m->encoding, "L16");
  EXPECT_EQ(m->clock_rate, 16000u);
  EXPECT_EQ(m->params, "2");
  EXPECT_FALSE(ParseRtpMap("128 X/8000").ok());
  EXPECT_FALSE(ParseRtpMap("0 PCMU").ok());
  EXPECT_FALSE(ParseRtpMap("0 PCMU/fast").ok());
}

TEST(SdpTest, Warnings) {
  auto s = ParseSdp(
      "v=0\no=- 1 1 IN IP4 192.0.2.1\nm=audio 4000 RTP/AVP 0\na=rtpmap:0 junk\n\nx=unknown\n");
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_TRUE(s->has_warning(SdpWarning::kNonCrlfLineEnd));
  EXPECT_TRUE(s->has_warning(SdpWarning::kMissingSessionName));
  EXPECT_TRUE(s->has_warning(SdpWarning::kMissingTiming));
  EXPECT_TRUE(s->has_warning(SdpWarning::kNoConnection));
  EXPECT_TRUE(s->has_warning(SdpWarning::kBadRtpMap));
  EXPECT_TRUE(s->has_warning(SdpWarning::kEmptyLine));
  EXPECT_TRUE(s->has_warning(SdpWarning::kUnknownLineType));
  EXPECT_EQ(s->ConnectionFor(0), nullptr);
}

TEST(SdpTest, Rejections) {
  struct Case {
    std::string text;
    Reason reason;
  } cases[] = {
      {"", Reason::kEmpty},
      {"o=- 1 1 IN IP4 1.2.3.4\r\n", Reason::kBadSdpLine},
      {"v=1\r\n", Reason::kBadVersion},
      {"v=0\r\nm =video 3227 RTP/AVP 31\r\n", Reason::kBadSdpLine},
      {"v=0\r\nX=bad\r\n", Reason::kBadSdpLine},
      {"v=0\r\ns=x\r\n", Reason::kMissingSdpField},
      {"v=0\r\no=only three fields\r\n", Reason::kBadSdpOrigin},
      {"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN\r\n", Reason::kBadSdpConnection},
      {"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio\r\n", Reason::kBadSdpMedia},
      {"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio x RTP/AVP 0\r\n", Reason::kBadSdpMedia},
      {"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio 70000 RTP/AVP 0\r\n", Reason::kValueOutOfRange},
      {"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\na=\r\n", Reason::kBadSdpAttribute},
      {"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nv=0\r\n", Reason::kBadSdpLine},
  };
  for (const Case& c : cases) {
    auto s = ParseSdp(c.text);
    ASSERT_FALSE(s.ok()) << c.text;
    EXPECT_EQ(s.reason(), c.reason) << c.text << " -> " << s.error().ToString();
  }
}

TEST(SdpTest, Limits) {
  std::string many = "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\n";
  for (int i = 0; i < 40; ++i) many += "m=audio 4000 RTP/AVP 0\r\n";
  EXPECT_EQ(ParseSdp(many).reason(), Reason::kTooManyMedia);
  std::string fmts = "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP";
  for (int i = 0; i < 100; ++i) fmts += " 0";
  EXPECT_EQ(ParseSdp(fmts).reason(), Reason::kTooManyValues);
  std::string lines = "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\n";
  for (int i = 0; i < 2000; ++i) lines += "a=x\r\n";
  EXPECT_EQ(ParseSdp(lines).reason(), Reason::kTooManyLines);
  SdpLimits small;
  small.max_size = 8;
  EXPECT_EQ(ParseSdp(kOffer, small).reason(), Reason::kMessageTooLarge);
}

// Every field of a session, as text, to compare two parses.
std::string Describe(const SdpSession& s) {
  std::string out;
  auto conn = [&](const std::optional<SdpConnection>& c) {
    if (!c) {
      out += "c=none;";
      return;
    }
    out += "c=" + std::string(c->net_type) + "," + std::string(c->addr_type) + "," +
           std::string(c->address) + "," + std::to_string(c->ip_valid) + "," + c->ip.ToString() +
           "," + (c->ttl ? std::to_string(*c->ttl) : "-") + "," +
           (c->count ? std::to_string(*c->count) : "-") + ";";
  };
  auto lines = [&](const std::vector<SdpLine>& v) {
    for (const auto& l : v) out += std::string(1, l.type) + "=" + std::string(l.value) + ";";
  };
  auto attrs = [&](const std::vector<SdpAttribute>& v) {
    for (const auto& a : v) out += "a=" + std::string(a.name) + ":" + std::string(a.value) + ";";
  };
  out += "v=" + std::to_string(s.version) + ";o=" + std::string(s.origin.username) + "," +
         std::string(s.origin.session_id) + "," + std::string(s.origin.session_version) + "," +
         std::string(s.origin.net_type) + "," + std::string(s.origin.addr_type) + "," +
         std::string(s.origin.address) + ";s=" + std::string(s.session_name) + ";";
  conn(s.connection);
  attrs(s.attributes);
  out += "dir=" + std::string(SdpDirectionName(s.direction)) + ";";
  lines(s.other);
  out += "warnings=" + std::to_string(s.warnings) + ";media=" + std::to_string(s.media.size());
  for (const auto& m : s.media) {
    out += "|m=" + std::string(m.type) + "," + std::to_string(m.port) + "/" +
           std::to_string(m.port_count) + "," + std::string(m.proto) + ";fmts=";
    for (auto f : m.formats) out += std::string(f) + ",";
    out += ";pts=";
    for (auto pt : m.payload_types) out += std::to_string(pt) + ",";
    out += ";";
    conn(m.connection);
    attrs(m.attributes);
    for (const auto& r : m.rtpmaps) {
      out += "rtpmap=" + std::to_string(r.payload_type) + "," + std::string(r.encoding) + "," +
             std::to_string(r.clock_rate) + "," + std::string(r.params) + ";";
    }
    out += "dir=" + (m.direction ? std::string(SdpDirectionName(*m.direction)) : "-") + ";";
    lines(m.other);
  }
  return out;
}

// One session parsed into again and again (as the event pipeline does) holds
// what a fresh parse of each body holds: nothing of an earlier body is left,
// whether the next has more, fewer or no media sections, other attributes,
// connections or directions, or is refused.
TEST(SdpTest, ParsingIntoAReusedSessionEqualsAFreshParse) {
  const std::string bodies[] = {
      kOffer,
      "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
      "v=0\no=- 1 1 IN IP4 192.0.2.1\nm=audio 4000 RTP/AVP 0\na=rtpmap:0 junk\n\nx=unknown\n",
      "v=0\r\no=bob 2 2 IN IP6 2001:db8::9\r\ns=x\r\nc=IN IP4 224.2.1.1/127/3\r\n"
      "a=inactive\r\nt=0 0\r\nm=video 5000/2 RTP/SAVP 96 97\r\na=rtpmap:96 VP8/90000\r\n"
      "a=sendrecv\r\nb=AS:1\r\nm=image 6000 udptl t38\r\nc=IN IP4 192.0.2.7\r\n",
      "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
      "m=audio 4002 RTP/AVP 8\r\n",
      "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio x RTP/AVP 0\r\n",  // refused
      "v=0\r\no=- 3 3 IN IP4 192.0.2.3\r\ns=only session\r\nt=0 0\r\na=recvonly\r\n",
      kOffer,
  };
  SdpSession reused;
  for (int round = 0; round < 3; ++round) {
    for (const std::string& body : bodies) {
      const ParseError err = ParseSdpInto(body, {}, &reused);
      const auto fresh = ParseSdp(body);
      ASSERT_EQ(err.reason, fresh.ok() ? Reason::kOk : fresh.reason()) << body;
      if (fresh.ok()) {
        EXPECT_EQ(Describe(reused), Describe(*fresh)) << body;
      }
    }
  }
}

}  // namespace
}  // namespace sw::sip
