// SPDX-License-Identifier: BSD-2-Clause
// The agent's SIP method buckets (sipwarden/sip_methods.h): a bounded set, never
// a name from the wire.
#include "sipwarden/sip_methods.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace sw {
namespace {

TEST(SipMethods, KnownMethodsHaveTheirOwnBucket) {
  std::set<size_t> seen;
  for (const char* m : {"INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "OPTIONS", "PRACK",
                        "SUBSCRIBE", "NOTIFY", "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE"}) {
    const size_t b = SipMethodBucket(true, m);
    EXPECT_EQ(kSipMethodBuckets[b], m);
    seen.insert(b);
  }
  EXPECT_EQ(seen.size(), 14u);
  EXPECT_EQ(kSipMethodBuckets.size(), 16u);
}

TEST(SipMethods, EverythingElseIsOtherAndResponsesAreOneBucket) {
  for (const char* m : {"invite", "Invite", "XFLOOD", "", "INVITE ", "OTHER", "RESPONSE",
                        "INVITE\n", "SIP/2.0"}) {
    EXPECT_EQ(SipMethodBucket(true, m), kSipMethodOther) << m;
  }
  EXPECT_EQ(kSipMethodBuckets[kSipMethodOther], "OTHER");
  EXPECT_EQ(SipMethodBucket(false, "INVITE"), kSipMethodResponse);
  EXPECT_EQ(SipMethodBucket(false, ""), kSipMethodResponse);
  EXPECT_EQ(kSipMethodBuckets[kSipMethodResponse], "RESPONSE");
  SipMethodCounts c;
  c.Count(true, "INVITE");
  c.Count(true, "INVITE");
  c.Count(true, "FOO");
  c.Count(false, "BYE");
  EXPECT_EQ(c[SipMethodBucket(true, "INVITE")], 2u);
  EXPECT_EQ(c[kSipMethodOther], 1u);
  EXPECT_EQ(c[kSipMethodResponse], 1u);
  EXPECT_EQ(c[SipMethodBucket(true, "BYE")], 0u);
  EXPECT_EQ(c.total(), 4u);
}

}  // namespace
}  // namespace sw
