// SPDX-License-Identifier: BSD-2-Clause
// The agent's media mirror against the real kernel maps and program: the
// endpoints a call's SDP announced are counted quietly, armed when the call
// ends (from the end of the grace on), and the kernel's notice of media that
// still arrives is named media after the end of that call; rule watches
// expire; forgotten endpoints leave the kernel map.
#include "media_mirror.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "tables.h"

namespace sw::bpftest {
namespace {

constexpr uint16_t kCallerPort = 40000;  // Src(family)'s media port
constexpr uint16_t kCalleePort = 50000;  // Dst(family)'s media port

class MediaMirrorTest : public SharedHarnessTest {
 protected:
  static ev::MediaEndpointChange Change(ev::MediaEndpointChange::Kind kind, const char* addr,
                                        uint16_t port, const char* owner, int64_t grace = 0,
                                        bool answered = false) {
    ev::MediaEndpointChange c;
    c.kind = kind;
    c.answered = answered;
    c.addr = Addr(addr);
    c.port = port;
    c.owner = owner;
    c.grace_ns = grace;
    return c;
  }
  // RTP from the caller's endpoint to the callee's.
  RunResult Media(uint32_t repeat = 1) {
    return harness_->Run(FrameFrom(4, kSrc4, kDst4)
                             .Udp(kCallerPort, kCalleePort)
                             .Payload(RtpPacket(0x5151, 7, 8, 160))
                             .Build(),
                         repeat);
  }
};

using Kind = ev::MediaEndpointChange::Kind;

TEST_F(MediaMirrorTest, CallEndpointsCountedThenArmedAtTheEndOfTheCall) {
  Harness& h = *harness_;
  MediaMirror mirror(h.maps());
  // The offer waits for the answer; the answer installs both.
  mirror.OnEndpoint(Change(Kind::kExpected, kSrc4, kCallerPort, "call-1"));
  EXPECT_FALSE(MediaEntry(h, kSrc4, kCallerPort).has_value());
  mirror.OnEndpoint(Change(Kind::kExpected, kDst4, kCalleePort, "call-1", 0, true));
  EXPECT_EQ(mirror.tracked(), 2u);
  EXPECT_TRUE(MediaEntry(h, kSrc4, kCallerPort).has_value());
  EXPECT_EQ(mirror.stats().expected, 2u);

  // During the call: counted, no notice.
  RunResult r = Media(3);
  EXPECT_TRUE(r.records.empty());
  auto e = MediaEntry(h, kDst4, kCalleePort);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->packets, 3u);
  EXPECT_EQ(e->flags, 0u);

  // The call ends with a 1 min grace: packets within it stay quiet.
  mirror.OnEndpoint(Change(Kind::kEnded, kSrc4, kCallerPort, "call-1", 60'000'000'000));
  mirror.OnEndpoint(Change(Kind::kEnded, kDst4, kCalleePort, "call-1", 60'000'000'000));
  r = Media(2);
  EXPECT_TRUE(r.records.empty());
  e = MediaEntry(h, kDst4, kCalleePort);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->packets, 5u);  // the counters survived the arming
  EXPECT_EQ(e->flags, static_cast<uint32_t>(SW_MEDIA_WATCH));

  // Ended again with no grace (what a later end looks like): one notice.
  mirror.OnEndpoint(Change(Kind::kEnded, kDst4, kCalleePort, "call-1", 0));
  r = Media(4);
  ASSERT_EQ(r.records.size(), 1u);
  const Record& rec = r.records[0];
  ASSERT_EQ(rec.hdr.kind, SW_REC_MEDIA);
  ev::RtpEvent ev;
  mirror.Describe(rec.src, rec.hdr.sport, rec.dst, rec.hdr.dport, &ev);
  EXPECT_EQ(ev.reason, "media_after_end");
  EXPECT_EQ(ev.owner, "call-1");

  // Forgotten: out of the kernel map.
  mirror.OnEndpoint(Change(Kind::kForgotten, kDst4, kCalleePort, "call-1"));
  EXPECT_FALSE(MediaEntry(h, kDst4, kCalleePort).has_value());
  EXPECT_EQ(mirror.tracked(), 1u);
}

TEST_F(MediaMirrorTest, SharedReceiverNamesTheSendersCall) {
  MediaMirror mirror(harness_->maps());
  // The callee's port carried call-2 last; the caller's endpoint is call-1's.
  mirror.OnEndpoint(Change(Kind::kExpected, kSrc4, kCallerPort, "call-1", 0, true));
  mirror.OnEndpoint(Change(Kind::kExpected, kDst4, kCalleePort, "call-2", 0, true));
  mirror.OnEndpoint(Change(Kind::kEnded, kSrc4, kCallerPort, "call-1"));
  mirror.OnEndpoint(Change(Kind::kEnded, kDst4, kCalleePort, "call-2"));
  ev::RtpEvent ev;
  mirror.Describe(Addr(kSrc4), kCallerPort, Addr(kDst4), kCalleePort, &ev);
  EXPECT_EQ(ev.reason, "media_after_end");
  EXPECT_EQ(ev.owner, "call-1");
}

TEST_F(MediaMirrorTest, UnansweredOffersNeverReachTheKernel) {
  Harness& h = *harness_;
  MediaMirror mirror(h.maps());
  // A flood's INVITEs: one offer each, never answered, then failed.
  for (int i = 0; i < 100; ++i) {
    const std::string id = "flood-" + std::to_string(i);
    mirror.OnEndpoint(Change(Kind::kExpected, kSrc4, kCallerPort, id.c_str()));
    mirror.OnEndpoint(Change(Kind::kEnded, kSrc4, kCallerPort, id.c_str()));
  }
  EXPECT_FALSE(MediaEntry(h, kSrc4, kCallerPort).has_value());
  EXPECT_EQ(mirror.stats().expected, 0u);
  EXPECT_EQ(mirror.stats().ended, 0u);
  RunResult r = Media(3);
  EXPECT_TRUE(r.records.empty());
}

TEST_F(MediaMirrorTest, RuleWatchReportsThenExpires) {
  Harness& h = *harness_;
  MediaMirror mirror(h.maps());
  rules::WatchVerdict v;
  v.call_id = "suspect";
  v.endpoints.push_back({Addr(kDst4), kCalleePort});
  v.ttl_ns = 1;  // expires at once
  mirror.OnWatch(v);
  RunResult r = Media(2);
  ASSERT_EQ(r.records.size(), 1u);
  ev::RtpEvent ev;
  mirror.Describe(r.records[0].src, r.records[0].hdr.sport, r.records[0].dst,
                  r.records[0].hdr.dport, &ev);
  EXPECT_EQ(ev.reason, "watched_media");
  EXPECT_EQ(ev.owner, "suspect");
  mirror.Expire(BootNs() + 1'000'000'000);
  EXPECT_FALSE(MediaEntry(h, kDst4, kCalleePort).has_value());
  EXPECT_EQ(mirror.tracked(), 0u);
  EXPECT_EQ(mirror.stats().watch_expired, 1u);
}

// Expiry walks the endpoints only while a rule watches one: a watch renewed
// counts once, and an endpoint still watched keeps the walk going after
// another one's watch ended.
TEST_F(MediaMirrorTest, WatchesExpireEachAtItsOwnTime) {
  Harness& h = *harness_;
  MediaMirror mirror(h.maps());
  const uint64_t now = BootNs();
  rules::WatchVerdict shortv, longv;
  shortv.call_id = longv.call_id = "suspect";
  shortv.endpoints.push_back({Addr(kDst4), kCalleePort});
  shortv.ttl_ns = 1;
  longv.endpoints.push_back({Addr(kSrc4), kCallerPort});
  longv.ttl_ns = 10'000'000'000;
  mirror.OnWatch(shortv);
  mirror.OnWatch(shortv);  // renewed: still one watch
  mirror.OnWatch(longv);
  EXPECT_EQ(mirror.tracked(), 2u);
  mirror.Expire(now + 1'000'000'000);
  EXPECT_FALSE(MediaEntry(h, kDst4, kCalleePort).has_value());
  EXPECT_TRUE(MediaEntry(h, kSrc4, kCallerPort).has_value());
  EXPECT_EQ(mirror.tracked(), 1u);
  mirror.Expire(now + 20'000'000'000);
  EXPECT_FALSE(MediaEntry(h, kSrc4, kCallerPort).has_value());
  EXPECT_EQ(mirror.tracked(), 0u);
  EXPECT_EQ(mirror.stats().watch_expired, 2u);
  mirror.OnWatch(shortv);  // a new watch after all ended
  mirror.Expire(now + 40'000'000'000);
  EXPECT_EQ(mirror.tracked(), 0u);
  EXPECT_EQ(mirror.stats().watch_expired, 3u);
}

}  // namespace
}  // namespace sw::bpftest
