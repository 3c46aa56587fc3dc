// SPDX-License-Identifier: BSD-2-Clause
// RTP and RTCP headers: fields, CSRCs, extensions, padding, compound RTCP,
// and bounds checks at every truncation.
#include "sipwarden/sip/rtp.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace sw::sip {
namespace {

using Bytes = std::vector<uint8_t>;

void Put16(Bytes* b, uint16_t v) {
  b->push_back(static_cast<uint8_t>(v >> 8));
  b->push_back(static_cast<uint8_t>(v));
}
void Put32(Bytes* b, uint32_t v) {
  Put16(b, static_cast<uint16_t>(v >> 16));
  Put16(b, static_cast<uint16_t>(v));
}

Bytes RtpPacket(bool marker, uint8_t pt, uint16_t seq, uint32_t ts, uint32_t ssrc,
                const std::vector<uint32_t>& csrcs, bool ext, uint8_t pad) {
  Bytes b;
  b.push_back(static_cast<uint8_t>(0x80 | (pad ? 0x20 : 0) | (ext ? 0x10 : 0) | csrcs.size()));
  b.push_back(static_cast<uint8_t>((marker ? 0x80 : 0) | pt));
  Put16(&b, seq);
  Put32(&b, ts);
  Put32(&b, ssrc);
  for (uint32_t c : csrcs) Put32(&b, c);
  if (ext) {
    Put16(&b, 0xBEDE);
    Put16(&b, 1);
    Put32(&b, 0x10AA0000);
  }
  for (int i = 0; i < 160; ++i) b.push_back(0xD5);
  if (pad) {
    for (int i = 0; i + 1 < pad; ++i) b.push_back(0);
    b.push_back(pad);
  }
  return b;
}

TEST(RtpTest, Fields) {
  const Bytes p = RtpPacket(true, 8, 0xBEEF, 160000, 0x12345678, {0xA, 0xB}, true, 4);
  auto h = ParseRtp(p);
  ASSERT_TRUE(h.ok()) << h.error().ToString();
  EXPECT_EQ(h->version, 2);
  EXPECT_TRUE(h->marker);
  EXPECT_EQ(h->payload_type, 8);
  EXPECT_EQ(h->sequence, 0xBEEF);
  EXPECT_EQ(h->timestamp, 160000u);
  EXPECT_EQ(h->ssrc, 0x12345678u);
  EXPECT_EQ(h->csrc_count, 2);
  EXPECT_EQ(h->csrcs, (absl::InlinedVector<uint32_t, 4>{0xA, 0xB}));
  EXPECT_TRUE(h->extension);
  EXPECT_EQ(h->extension_profile, 0xBEDE);
  EXPECT_EQ(h->extension_data.size(), 4u);
  EXPECT_TRUE(h->padding);
  EXPECT_EQ(h->padding_length, 4);
  EXPECT_EQ(h->header_length, 12u + 8u + 8u);
  EXPECT_EQ(h->payload.size(), 160u);
  EXPECT_EQ(h->payload[0], 0xD5);
}

TEST(RtpTest, EveryTruncationIsRejected) {
  const Bytes p = RtpPacket(false, 0, 1, 2, 3, {1, 2, 3}, true, 0);
  const size_t header = 12 + 12 + 8;
  for (size_t n = 0; n < header; ++n) {
    auto h = ParseRtp(std::span<const uint8_t>(p.data(), n));
    ASSERT_FALSE(h.ok()) << n;
    EXPECT_EQ(h.error().category(), ReasonCategory::kIncomplete) << n;
  }
  EXPECT_TRUE(ParseRtp(std::span<const uint8_t>(p.data(), header)).ok());
}

TEST(RtpTest, Rejections) {
  Bytes v1 = RtpPacket(false, 0, 1, 2, 3, {}, false, 0);
  v1[0] = 0x40;
  EXPECT_EQ(ParseRtp(v1).reason(), Reason::kBadRtpHeader);
  Bytes pad = RtpPacket(false, 0, 1, 2, 3, {}, false, 2);
  pad.back() = 0;
  EXPECT_EQ(ParseRtp(pad).reason(), Reason::kBadLength);
  pad.back() = 250;
  EXPECT_EQ(ParseRtp(pad).reason(), Reason::kBadLength);
  Bytes ext = RtpPacket(false, 0, 1, 2, 3, {}, true, 0);
  ext[14] = 0xFF;  // extension length in words
  EXPECT_EQ(ParseRtp(ext).reason(), Reason::kTruncated);
}

Bytes Compound() {
  Bytes b;
  // SR, one report block.
  b.push_back(0x81);
  b.push_back(200);
  Put16(&b, 12);
  Put32(&b, 0x11111111);
  Put32(&b, 0xE7969810);
  Put32(&b, 0x7BC3F811);
  Put32(&b, 160);
  Put32(&b, 10);
  Put32(&b, 1600);
  Put32(&b, 0x22222222);
  b.push_back(5);
  b.push_back(0xFF);  // cumulative lost -1
  b.push_back(0xFF);
  b.push_back(0xFF);
  Put32(&b, 70000);
  Put32(&b, 12);
  Put32(&b, 0xAABBCCDD);
  Put32(&b, 0x100);
  // SDES, one chunk with CNAME "ab@host" (7 octets): 4 + 2 + 7 + 1 null = 14 -> 16.
  b.push_back(0x81);
  b.push_back(202);
  Put16(&b, 4);
  Put32(&b, 0x11111111);
  b.push_back(1);
  b.push_back(7);
  for (char c : std::string("ab@host")) b.push_back(static_cast<uint8_t>(c));
  b.push_back(0);
  b.push_back(0);
  b.push_back(0);
  // BYE with reason "bye" and padding 4 (last packet).
  b.push_back(0xA1);
  b.push_back(203);
  Put16(&b, 3);
  Put32(&b, 0x11111111);
  b.push_back(3);
  b.push_back('b');
  b.push_back('y');
  b.push_back('e');
  Put32(&b, 0x00000004);
  return b;
}

TEST(RtcpTest, CompoundPacket) {
  const Bytes b = Compound();
  auto c = ParseRtcp(b);
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  ASSERT_EQ(c->packets.size(), 3u);
  EXPECT_EQ(c->warnings, 0u);
  const RtcpPacket& sr = c->packets[0];
  EXPECT_EQ(RtcpTypeName(sr.packet_type), "SR");
  EXPECT_EQ(sr.ssrc, 0x11111111u);
  EXPECT_EQ(sr.ntp_timestamp, 0xE79698107BC3F811ull);
  EXPECT_EQ(sr.rtp_timestamp, 160u);
  EXPECT_EQ(sr.packet_count, 10u);
  EXPECT_EQ(sr.octet_count, 1600u);
  ASSERT_EQ(sr.reports.size(), 1u);
  EXPECT_EQ(sr.reports[0].ssrc, 0x22222222u);
  EXPECT_EQ(sr.reports[0].fraction_lost, 5);
  EXPECT_EQ(sr.reports[0].cumulative_lost, -1);
  EXPECT_EQ(sr.reports[0].highest_sequence, 70000u);
  EXPECT_EQ(sr.reports[0].jitter, 12u);
  const RtcpPacket& sdes = c->packets[1];
  ASSERT_EQ(sdes.sdes.size(), 1u);
  ASSERT_EQ(sdes.sdes[0].items.size(), 1u);
  EXPECT_EQ(sdes.sdes[0].items[0].type, 1);
  EXPECT_EQ(sdes.sdes[0].items[0].text, "ab@host");
  const RtcpPacket& bye = c->packets[2];
  EXPECT_TRUE(bye.padding);
  EXPECT_EQ(bye.bye_ssrcs.size(), 1u);
  EXPECT_EQ(bye.bye_reason, "bye");
  EXPECT_TRUE(LooksLikeRtcp(b));
  EXPECT_FALSE(LooksLikeRtcp(RtpPacket(false, 0, 1, 2, 3, {}, false, 0)));
}

TEST(RtcpTest, EveryTruncationIsRejectedOrShorter) {
  const Bytes b = Compound();
  for (size_t n = 0; n < b.size(); ++n) {
    auto c = ParseRtcp(std::span<const uint8_t>(b.data(), n));
    // Cuts on a packet boundary are a valid shorter compound; others fail.
    if (n == 52 || n == 52 + 20) {
      EXPECT_TRUE(c.ok()) << n;
    } else {
      EXPECT_FALSE(c.ok()) << n;
    }
  }
}

TEST(RtcpTest, Rejections) {
  Bytes b = Compound();
  b[0] = 0x41;  // version 1
  EXPECT_EQ(ParseRtcp(b).reason(), Reason::kBadRtcpHeader);
  b = Compound();
  b[0] = 0x9F;  // SR claiming 31 report blocks
  EXPECT_EQ(ParseRtcp(b).reason(), Reason::kBadRtcpHeader);
  b = Compound();
  b[3] = 0xFF;  // length beyond the datagram
  EXPECT_EQ(ParseRtcp(b).reason(), Reason::kTruncated);
  b = Compound();
  b.back() = 0;  // zero padding count
  EXPECT_EQ(ParseRtcp(b).reason(), Reason::kBadLength);
  EXPECT_EQ(ParseRtcp(Bytes{}).reason(), Reason::kEmpty);
  RtcpLimits one;
  one.max_packets = 1;
  EXPECT_EQ(ParseRtcp(Compound(), one).reason(), Reason::kTooManyPackets);
}

TEST(RtcpTest, WarningsAndOtherTypes) {
  Bytes app;
  app.push_back(0x80);
  app.push_back(204);
  Put16(&app, 2);
  Put32(&app, 7);
  for (char c : std::string("TEST")) app.push_back(static_cast<uint8_t>(c));
  Bytes unknown = {0x80, 210, 0, 0};
  Bytes both = app;
  both.insert(both.end(), unknown.begin(), unknown.end());
  auto c = ParseRtcp(both);
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  EXPECT_TRUE(c->has_warning(RtcpWarning::kFirstNotReport));
  EXPECT_TRUE(c->has_warning(RtcpWarning::kUnknownType));
  EXPECT_EQ(c->packets[0].app_name, "TEST");
  EXPECT_EQ(c->packets[0].ssrc, 7u);
}

}  // namespace
}  // namespace sw::sip
