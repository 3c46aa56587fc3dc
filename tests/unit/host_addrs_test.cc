// SPDX-License-Identifier: BSD-2-Clause
// The host's own addresses, which the agent never blocks.
#include "host_addrs.h"

#include <gtest/gtest.h>

namespace sw {
namespace {

IpAddress A(const char* text) { return *IpAddress::Parse(text); }
IpPrefix P(const char* text) { return *IpPrefix::Parse(text); }

TEST(HostAddresses, FindsLoopbackAndCoversPrefixes) {
  HostAddresses host;
  ASSERT_TRUE(host.Refresh().ok());
  // Every network namespace has lo with 127.0.0.1 (tests run in the host's).
  EXPECT_TRUE(host.Contains(A("127.0.0.1")));
  EXPECT_FALSE(host.Contains(A("192.0.2.77")));  // TEST-NET-1: nobody's
  EXPECT_TRUE(host.Overlaps(P("127.0.0.0/8")));
  EXPECT_TRUE(host.Overlaps(P("0.0.0.0/0")));
  EXPECT_FALSE(host.Overlaps(P("192.0.2.77/32")));
}

TEST(HostAddresses, EmptyUntilRefreshed) {
  HostAddresses host;
  EXPECT_FALSE(host.Contains(A("127.0.0.1")));
  host.MaybeRefresh(1);
  EXPECT_TRUE(host.Contains(A("127.0.0.1")));
}

}  // namespace
}  // namespace sw
