// SPDX-License-Identifier: BSD-2-Clause
// The TCP reassembler on its own, as the live agent drives it: segments
// with sequence numbers, some cut short by the kernel's snap length, some
// lost (a full ring buffer), holes given up on after a time.
#include "sipwarden/net/tcp_stream.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sw::net {
namespace {

constexpr int64_t kMs = 1'000'000;

std::string Msg(const std::string& method, const std::string& call_id, const std::string& body = "") {
  return method + " sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.1;branch=z9hG4bK" +
         call_id + "\r\nCall-ID: " + call_id + "\r\nCSeq: 1 " + method +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

class TcpReassemblerTest : public ::testing::Test {
 protected:
  explicit TcpReassemblerTest(TcpLimits limits = {}) : r_(limits) {
    key_.src = *IpAddress::Parse("192.0.2.1");
    key_.dst = *IpAddress::Parse("192.0.2.2");
    key_.sport = 40000;
    key_.dport = 5060;
  }
  void Seg(uint32_t seq, const std::string& p, uint8_t flags = 0, size_t wire = 0, int64_t ts = 0) {
    r_.Add(key_, ts, seq, flags, true, p, wire, [&](const TcpFlowKey&, std::string_view m) { got_.emplace_back(m); });
  }
  TcpReassembler r_;
  TcpFlowKey key_;
  std::vector<std::string> got_;
};

TEST_F(TcpReassemblerTest, MessageSplitOverThreeSegmentsIsOneMessage) {
  const std::string m = Msg("INVITE", "split3", "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n");
  Seg(999, "", kTcpSyn);
  const size_t a = 20, b = m.size() / 2;
  Seg(1000, m.substr(0, a));
  Seg(1000 + a, m.substr(a, b - a));
  EXPECT_TRUE(got_.empty());
  Seg(1000 + b, m.substr(b));
  ASSERT_EQ(got_.size(), 1u);
  EXPECT_EQ(got_[0], m);
  EXPECT_EQ(r_.stats().messages, 1u);
  EXPECT_EQ(r_.buffered_bytes(), 0u);
}

TEST_F(TcpReassemblerTest, SeveralMessagesInOneSegmentAreSeveral) {
  const std::string m1 = Msg("REGISTER", "a"), m2 = Msg("OPTIONS", "b"), m3 = Msg("BYE", "c");
  Seg(1, m1 + "\r\n\r\n" + m2 + m3.substr(0, 10));  // a CRLF keep-alive between
  ASSERT_EQ(got_.size(), 2u);
  Seg(1 + m1.size() + 4 + m2.size() + 10, m3.substr(10), kTcpFin);
  ASSERT_EQ(got_.size(), 3u);
  EXPECT_EQ(got_[2], m3);
  EXPECT_EQ(r_.streams(), 0u);  // FIN ended it
}

TEST_F(TcpReassemblerTest, SegmentCutShortLosesOnlyItsMessage) {
  // The kernel copied 30 bytes of a 2-message segment; the next segment
  // starts a new message, which is framed.
  const std::string m1 = Msg("INVITE", "cut"), m2 = Msg("OPTIONS", "next");
  Seg(0, "", kTcpSyn);
  Seg(1, m1.substr(0, 30), 0, m1.size() + 5);
  EXPECT_TRUE(got_.empty());
  EXPECT_EQ(r_.stats().gaps, 1u);
  EXPECT_EQ(r_.stats().bytes_lost, m1.size() + 5 - 30);
  // The cut-off bytes ended in the middle of something: the rest of that
  // is skipped line by line until a message starts.
  Seg(1 + m1.size() + 5, "tail of it\r\n" + m2);
  ASSERT_EQ(got_.size(), 1u);
  EXPECT_EQ(got_[0], m2);
}

TEST_F(TcpReassemblerTest, LostSegmentHoleIsGivenUpAfterItsTimeout) {
  TcpLimits limits;
  limits.hole_timeout_ns = 500 * kMs;
  TcpReassembler r(limits);
  std::vector<std::string> got;
  auto emit = [&](const TcpFlowKey& k, std::string_view m) {
    EXPECT_EQ(k, key_);
    got.emplace_back(m);
  };
  const std::string m1 = Msg("INVITE", "lost"), m2 = Msg("OPTIONS", "after");
  r.Add(key_, 0, 0, kTcpSyn, true, "", 0, emit);
  r.Add(key_, 1 * kMs, 1, 0, true, m1.substr(0, 40), 0, emit);
  // m1's second part never arrives (the ring buffer was full); m2 follows.
  r.Add(key_, 2 * kMs, 1 + m1.size(), 0, true, m2, 0, emit);
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(r.stats().out_of_order, 1u);
  r.Expire(100 * kMs, emit);
  EXPECT_TRUE(got.empty());
  r.Expire(600 * kMs, emit);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], m2);
  EXPECT_EQ(r.stats().gaps, 1u);
  EXPECT_EQ(r.buffered_bytes(), 0u);
}

TEST_F(TcpReassemblerTest, RetransmissionsAreNotDeliveredTwice) {
  const std::string m = Msg("INVITE", "again");
  Seg(0, "", kTcpSyn);
  Seg(1, m.substr(0, 50));
  Seg(1, m.substr(0, 50));
  Seg(51, m.substr(50));
  Seg(1, m);
  ASSERT_EQ(got_.size(), 1u);
  EXPECT_EQ(r_.stats().retransmissions, 2u);
}

TEST_F(TcpReassemblerTest, JoinedMidStreamStartsAtTheNextMessage) {
  const std::string m = Msg("REGISTER", "mid");
  Seg(5000, "a=rtpmap:0 PCMU/8000\r\n" + m);  // no SYN seen: the agent started late
  ASSERT_EQ(got_.size(), 1u);
  EXPECT_EQ(got_[0], m);
  EXPECT_EQ(r_.stats().resyncs, 1u);
}

TEST_F(TcpReassemblerTest, IdleStreamsExpireAndTheTableIsBounded) {
  TcpLimits limits;
  limits.max_streams = 4;
  limits.idle_timeout_ns = 1000 * kMs;
  TcpReassembler r(limits);
  auto none = [](const TcpFlowKey&, std::string_view) {};
  for (uint16_t p = 0; p < 10; ++p) {
    TcpFlowKey k = key_;
    k.sport = static_cast<uint16_t>(41000 + p);
    r.Add(k, p * kMs, 1, 0, true, "INVITE sip:x SIP/2.0\r\n", 0, none);
  }
  EXPECT_EQ(r.streams(), 4u);
  EXPECT_EQ(r.stats().streams_evicted, 6u);
  EXPECT_GT(r.buffered_bytes(), 0u);
  r.Expire(2000 * kMs, none);
  EXPECT_EQ(r.streams(), 0u);
  EXPECT_EQ(r.stats().streams_expired, 4u);
  EXPECT_EQ(r.buffered_bytes(), 0u);
}

TEST_F(TcpReassemblerTest, TotalBytesAreBounded) {
  TcpLimits limits;
  limits.max_total_bytes = 1000;
  TcpReassembler r(limits);
  auto none = [](const TcpFlowKey&, std::string_view) {};
  const std::string head = "INVITE sip:x SIP/2.0\r\n" + std::string(280, 'X');  // never complete
  for (uint16_t p = 0; p < 10; ++p) {
    TcpFlowKey k = key_;
    k.sport = static_cast<uint16_t>(42000 + p);
    r.Add(k, p * kMs, 1, 0, true, head, 0, none);
    EXPECT_LE(r.buffered_bytes(), 1000u);
  }
  EXPECT_EQ(r.streams(), 3u);
  EXPECT_EQ(r.stats().streams_evicted, 7u);
}

}  // namespace
}  // namespace sw::net
