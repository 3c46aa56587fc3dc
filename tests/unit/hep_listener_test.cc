// SPDX-License-Identifier: BSD-2-Clause
// The live agent's HEP socket on loopback: datagrams sent to it come out
// decoded; junk is counted, not fatal.
#include "hep_listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sw {
namespace {

void SendTo(uint16_t port, const std::string& bytes) {
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof(a)),
            static_cast<ssize_t>(bytes.size()));
  close(fd);
}

TEST(HepListener, ReceivesAndDecodesOnLoopback) {
  auto l = HepListener::Open("127.0.0.1:0");
  ASSERT_TRUE(l.ok()) << l.status();
  ASSERT_NE((*l)->port(), 0);
  net::HepPacket p;
  p.ip_proto = 17;
  p.src = *IpAddress::Parse("10.0.0.1");
  p.dst = *IpAddress::Parse("10.0.0.2");
  p.sport = 5060;
  p.dport = 5060;
  p.ts_ns = 1700000000'000000000;
  p.proto_type = 1;
  p.payload = "REGISTER sip:x SIP/2.0\r\n\r\n";
  SendTo((*l)->port(), net::EncodeHep(p));
  SendTo((*l)->port(), "not hep at all");
  std::vector<std::string> got;
  for (int i = 0; i < 100 && got.size() < 1; ++i) {
    (*l)->Drain([&](const net::HepPacket& h) { got.emplace_back(h.payload); });
    if (got.empty()) usleep(10000);
  }
  for (int i = 0; i < 10 && (*l)->received() < 2; ++i) {
    (*l)->Drain([&](const net::HepPacket&) {});
    usleep(10000);
  }
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], "REGISTER sip:x SIP/2.0\r\n\r\n");
  EXPECT_EQ((*l)->received(), 2u);
  EXPECT_EQ((*l)->bad(), 1u);
}

TEST(HepListener, RefusesBadAddresses) {
  for (const char* bad : {"", "127.0.0.1", "localhost:9060", "127.0.0.1:99999", "[::1:9060"}) {
    EXPECT_FALSE(HepListener::Open(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace sw
