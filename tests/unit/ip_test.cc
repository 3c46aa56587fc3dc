// SPDX-License-Identifier: BSD-2-Clause
#include "sipwarden/ip.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <cstring>
#include <string>

namespace sw {
namespace {

TEST(IpAddress, ParsesAndFormatsBothFamilies) {
  auto v4 = IpAddress::Parse("192.0.2.33");
  ASSERT_TRUE(v4.ok());
  EXPECT_TRUE(v4->is_v4());
  EXPECT_EQ(v4->ToString(), "192.0.2.33");
  EXPECT_EQ(v4->bytes[10], 0xff);
  auto v6 = IpAddress::Parse("[2001:DB8:0:0:0:0:0:1]");
  ASSERT_TRUE(v6.ok());
  EXPECT_FALSE(v6->is_v4());
  EXPECT_EQ(v6->ToString(), "2001:db8::1");
}

// IPv4 text is written without inet_ntop: the same text for every octet
// value in every place.
TEST(IpAddress, Ipv4TextAsInetNtop) {
  for (int v = 0; v < 256; ++v) {
    for (int place = 0; place < 4; ++place) {
      uint8_t b[4] = {10, 0, 200, 99};
      b[place] = static_cast<uint8_t>(v);
      char want[INET_ADDRSTRLEN];
      ASSERT_NE(inet_ntop(AF_INET, b, want, sizeof(want)), nullptr);
      auto a = IpAddress::Parse(want);
      ASSERT_TRUE(a.ok()) << want;
      EXPECT_EQ(a->ToString(), want);
      // Format writes within kMaxText and returns the text's length.
      char out[IpAddress::kMaxText + 8];
      std::memset(out, '#', sizeof(out));
      const size_t n = a->Format(out);
      EXPECT_EQ(std::string(out, n), want);
      EXPECT_EQ(std::string(out + IpAddress::kMaxText, 8), "########");
    }
  }
}

TEST(IpAddress, RejectsGarbage) {
  for (const char* bad : {"", "1.2.3", "1.2.3.256", "example.com", "2001:db8::g", "[1.2.3.4",
                          "1.2.3.4 ", "::ffff:1.2.3.4.5"}) {
    EXPECT_FALSE(IpAddress::Parse(bad).ok()) << bad;
  }
}

TEST(IpPrefix, ParsesLengthsAndBareAddresses) {
  auto p = IpPrefix::Parse("198.51.100.0/24");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->length, 24);
  EXPECT_EQ(p->ToString(), "198.51.100.0/24");
  auto host = IpPrefix::Parse("198.51.100.7");
  ASSERT_TRUE(host.ok());
  EXPECT_EQ(host->length, 32);
  auto v6 = IpPrefix::Parse("2001:db8::/32");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->length, 32);
  EXPECT_EQ(IpPrefix::Parse("::1")->length, 128);
  EXPECT_EQ(IpPrefix::Parse("0.0.0.0/0")->length, 0);
}

TEST(IpPrefix, RejectsBadLengthsAndHostBits) {
  for (const char* bad : {"10.0.0.0/33", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8x", "10.0.0.1/8",
                          "2001:db8::1/32", "2001:db8::/129", "/24", "10.0.0.0/ 8"}) {
    auto p = IpPrefix::Parse(bad);
    EXPECT_FALSE(p.ok()) << bad;
  }
  EXPECT_NE(IpPrefix::Parse("10.0.0.1/8").status().message().find("host bits"), std::string::npos);
}

TEST(IpPrefix, Contains) {
  auto p = *IpPrefix::Parse("10.1.0.0/16");
  EXPECT_TRUE(p.Contains(*IpAddress::Parse("10.1.200.3")));
  EXPECT_FALSE(p.Contains(*IpAddress::Parse("10.2.0.1")));
  EXPECT_FALSE(p.Contains(*IpAddress::Parse("2001:db8::1")));
  auto v6 = *IpPrefix::Parse("2001:db8::/32");
  EXPECT_TRUE(v6.Contains(*IpAddress::Parse("2001:db8:ffff::1")));
  EXPECT_FALSE(v6.Contains(*IpAddress::Parse("2001:db9::1")));
  EXPECT_FALSE(v6.Contains(*IpAddress::Parse("10.1.0.1")));
}

}  // namespace
}  // namespace sw

namespace sw {
namespace {

TEST(ParseHostPort, NumericHostsOnly) {
  IpAddress a;
  uint16_t p = 0;
  ASSERT_TRUE(ParseHostPort("192.0.2.1:5060", &a, &p).ok());
  EXPECT_EQ(a.ToString(), "192.0.2.1");
  EXPECT_EQ(p, 5060);
  ASSERT_TRUE(ParseHostPort("[2001:db8::1]:0", &a, &p).ok());
  EXPECT_EQ(a.ToString(), "2001:db8::1");
  EXPECT_EQ(p, 0);
  for (const char* bad : {"", "192.0.2.1", "localhost:5060", "192.0.2.1:65536", "[::1:5060",
                          "::1:5060", "192.0.2.1:x"}) {
    EXPECT_FALSE(ParseHostPort(bad, &a, &p).ok()) << bad;
  }
  sockaddr_storage ss;
  EXPECT_EQ(ToSockaddr(*IpAddress::Parse("::1"), 9, &ss), sizeof(sockaddr_in6));
  EXPECT_EQ(ss.ss_family, AF_INET6);
}

}  // namespace
}  // namespace sw
