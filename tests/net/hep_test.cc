// SPDX-License-Identifier: BSD-2-Clause
#include "sipwarden/net/hep.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sw::net {
namespace {

std::span<const uint8_t> Bytes(const std::string& s) {
  return std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

// A datagram written out by hand from the HEPv3 specification.
std::string HandMade() {
  const std::string payload = "OPTIONS sip:a@b SIP/2.0\r\n\r\n";
  std::string c;
  auto chunk = [&](uint16_t type, std::string body) {
    const uint16_t len = static_cast<uint16_t>(6 + body.size());
    c += std::string{0, 0, static_cast<char>(type >> 8), static_cast<char>(type),
                     static_cast<char>(len >> 8), static_cast<char>(len)};
    c += body;
  };
  chunk(1, std::string(1, 2));
  chunk(2, std::string(1, 17));
  chunk(3, std::string("\xc0\x00\x02\x01", 4));
  chunk(4, std::string("\xc0\x00\x02\x02", 4));
  chunk(7, std::string("\x13\xc4", 2));
  chunk(8, std::string("\x13\xc5", 2));
  chunk(9, std::string("\x5f\x5e\x10\x00", 4));  // 1600000000
  chunk(10, std::string("\x00\x07\xa1\x1f", 4));  // 499999
  chunk(11, std::string(1, 1));
  chunk(12, std::string("\x00\x00\x07\xd0", 4));  // 2000
  chunk(0x8000 | 1, "ignored");                  // another chunk type of vendor 0
  c += std::string{0x00, 0x22, 0, 0x01, 0, 7, 'x'};  // a vendor chunk: skipped
  chunk(15, payload);
  const uint16_t total = static_cast<uint16_t>(6 + c.size());
  return std::string("HEP3") + static_cast<char>(total >> 8) + static_cast<char>(total) + c;
}

TEST(Hep, DecodesAHandMadeDatagram) {
  const std::string d = HandMade();
  auto p = DecodeHep(Bytes(d));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->family, 2);
  EXPECT_EQ(p->ip_proto, 17);
  EXPECT_EQ(p->src.ToString(), "192.0.2.1");
  EXPECT_EQ(p->dst.ToString(), "192.0.2.2");
  EXPECT_EQ(p->sport, 5060);
  EXPECT_EQ(p->dport, 5061);
  EXPECT_EQ(p->ts_ns, 1600000000'499999000);
  EXPECT_EQ(p->proto_type, static_cast<uint8_t>(HepProto::kSip));
  EXPECT_EQ(p->capture_id, 2000u);
  EXPECT_EQ(p->payload, "OPTIONS sip:a@b SIP/2.0\r\n\r\n");
}

TEST(Hep, RoundTripsIpv6AndTcp) {
  HepPacket in;
  in.family = 10;
  in.ip_proto = 6;
  in.src = *IpAddress::Parse("2001:db8::1");
  in.dst = *IpAddress::Parse("2001:db8::2");
  in.sport = 5061;
  in.dport = 40000;
  in.ts_ns = 1700000000'123456000;
  in.proto_type = 1;
  in.capture_id = 7;
  in.correlation_id = "abc@host";
  in.payload = "SIP/2.0 200 OK\r\n\r\n";
  const std::string wire = EncodeHep(in);
  auto out = DecodeHep(Bytes(wire));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->src, in.src);
  EXPECT_EQ(out->dst, in.dst);
  EXPECT_EQ(out->ip_proto, 6);
  EXPECT_EQ(out->ts_ns, in.ts_ns);
  EXPECT_EQ(out->correlation_id, "abc@host");
  EXPECT_EQ(out->payload, in.payload);
}

TEST(Hep, RefusesDamagedDatagrams) {
  const std::string good = HandMade();
  std::vector<std::string> bad;
  bad.push_back("HEP2" + good.substr(4));                 // magic
  bad.push_back(good.substr(0, 5));                       // shorter than the header
  bad.push_back(good.substr(0, good.size() - 3));         // total length beyond the datagram
  std::string zero_len = good;
  zero_len[6 + 4] = 0;                                    // first chunk: length 0
  zero_len[6 + 5] = 0;
  bad.push_back(zero_len);
  std::string long_chunk = good;
  long_chunk[6 + 5] = 100;                                // first chunk overruns the others
  bad.push_back(long_chunk);
  std::string wrong_size = good;
  wrong_size[6 + 5] = 8;                                  // family chunk of 2 bytes
  bad.push_back(wrong_size);
  HepPacket no_payload;
  no_payload.src = *IpAddress::Parse("192.0.2.1");
  no_payload.dst = *IpAddress::Parse("192.0.2.2");
  std::string np = EncodeHep(no_payload);
  // Remove the (empty) payload chunk at the end and fix the total length.
  np.resize(np.size() - 6);
  np[4] = static_cast<char>(np.size() >> 8);
  np[5] = static_cast<char>(np.size());
  bad.push_back(np);
  for (size_t i = 0; i < bad.size(); ++i) {
    EXPECT_FALSE(DecodeHep(Bytes(bad[i])).ok()) << "case " << i;
  }
  std::string compressed = good;
  const size_t at = compressed.find(std::string("\x00\x0f", 2), 6);
  ASSERT_NE(at, std::string::npos);
  compressed[at + 1] = 0x10;
  EXPECT_EQ(DecodeHep(Bytes(compressed)).status().code(), absl::StatusCode::kUnimplemented);
}

}  // namespace
}  // namespace sw::net
