// SPDX-License-Identifier: BSD-2-Clause
#include "sipwarden/events/dedup.h"

#include <gtest/gtest.h>

namespace sw::ev {
namespace {

constexpr int64_t kMs = 1'000'000;

Flow At(int64_t ts, const char* src = "192.0.2.1", uint16_t sport = 5060) {
  Flow f;
  f.ts_ns = ts;
  f.src = *IpAddress::Parse(src);
  f.dst = *IpAddress::Parse("192.0.2.2");
  f.sport = sport;
  f.dport = 5060;
  return f;
}

TEST(Deduper, SecondCopyWithinTheWindowIsADuplicate) {
  Deduper d(2000 * kMs);
  const std::string m = "INVITE sip:a@b SIP/2.0\r\n\r\n";
  EXPECT_FALSE(d.Seen(At(1000 * kMs), m));
  Flow hep = At(1003 * kMs);
  hep.transport = Transport::kHep;  // the mirror's copy
  EXPECT_TRUE(d.Seen(hep, m));
  // Different bytes, source or port: not a duplicate.
  EXPECT_FALSE(d.Seen(At(1004 * kMs), m + "x"));
  EXPECT_FALSE(d.Seen(At(1004 * kMs, "192.0.2.9"), m));
  EXPECT_FALSE(d.Seen(At(1004 * kMs, "192.0.2.1", 5062), m));
  // After the window: a new message (a retransmission much later).
  EXPECT_FALSE(d.Seen(At(4000 * kMs), m));
  EXPECT_EQ(d.duplicates(), 1u);
}

Flow Hep(int64_t ts) {
  Flow f = At(ts);
  f.transport = Transport::kHep;
  return f;
}

TEST(Deduper, IdenticalPacketsFromOneFeedAreAllKept) {
  Deduper d(2000 * kMs);
  const std::string m = "INVITE sip:a@b SIP/2.0\r\nCall-ID: same\r\n\r\n";
  // A flood of one packet, or a retransmission: every copy is a message.
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(d.Seen(At((1000 + i) * kMs), m));
  // The mirror's copies of them are the duplicates.
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(d.Seen(Hep((1001 + i) * kMs), m));
  EXPECT_EQ(d.duplicates(), 5u);
}

TEST(Deduper, CopyArrivingSlightlyOutOfOrderIsCaught) {
  Deduper d(2000 * kMs);
  EXPECT_FALSE(d.Seen(At(5000 * kMs), "BYE"));
  EXPECT_TRUE(d.Seen(Hep(4999 * kMs), "BYE"));  // the mirror's clock is a little behind
}

TEST(Deduper, Bounded) {
  Deduper d(1000000 * kMs, 100);
  for (int i = 0; i < 1000; ++i) d.Seen(At(i * kMs), "m" + std::to_string(i));
  EXPECT_LE(d.size(), 101u);
  EXPECT_GT(d.evicted(), 0u);
}

}  // namespace
}  // namespace sw::ev
