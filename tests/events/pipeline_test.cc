// SPDX-License-Identifier: BSD-2-Clause
// The pipeline on crafted messages: SIP with SDP teaches media endpoints,
// media after BYE and after an MGCP DLCX is reported once, MGCP commands and
// responses become events, and noise on SIP ports is counted, not crashed on.
#include "sipwarden/events/pipeline.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "packet_builder.h"

namespace sw::ev {
namespace {

constexpr int64_t kSec = 1'000'000'000;

class PipelineTest : public ::testing::Test {
 protected:
  PipelineTest() {
    PipelineSinks s;
    s.sip = [this](const SipEvent& e) { sip.push_back(e); };
    s.mgcp = [this](const MgcpEvent& e) { mgcp.push_back(e); };
    s.rtp = [this](const RtpEvent& e) { rtp.push_back(e); };
    s.call = [this](const CallRecord& c) { calls.push_back(c); };
    s.rejected = [this](const Rejection& r) { rejected.push_back(r); };
    s.media_endpoint = [this](const MediaEndpointChange& c) { endpoints.push_back(c); };
    p = std::make_unique<Pipeline>(std::move(s));
  }
  void Udp(int64_t ts, const char* src, uint16_t sport, const char* dst, uint16_t dport,
           const std::string& payload) {
    net::AppMessage m;
    m.ts_ns = ts;
    m.src = *IpAddress::Parse(src);
    m.dst = *IpAddress::Parse(dst);
    m.sport = sport;
    m.dport = dport;
    m.transport = 17;
    m.payload = payload;
    p->OnMessage(m);
  }
  static std::string Sdp(const char* ip, int port) {
    return std::string("v=0\r\no=- 1 1 IN IP4 ") + ip + "\r\ns=call\r\nc=IN IP4 " + ip +
           "\r\nt=0 0\r\nm=audio " + std::to_string(port) + " RTP/AVP 0 8\r\n";
  }

  std::vector<SipEvent> sip;
  std::vector<MgcpEvent> mgcp;
  std::vector<RtpEvent> rtp;
  std::vector<CallRecord> calls;
  std::vector<Rejection> rejected;
  std::vector<MediaEndpointChange> endpoints;
  std::unique_ptr<Pipeline> p;
};

std::string WithToTag(std::string m) {
  const size_t at = m.find("To: Bob <sip:bob@example.com>");
  m.insert(m.find("\r\n", at), ";tag=b1");
  return m;
}

TEST_F(PipelineTest, MediaAfterByeIsReportedOnce) {
  const int64_t t0 = 1000 * kSec;
  Udp(t0, "192.0.2.10", 5060, "192.0.2.1", 5060,
      test::SipRequest("INVITE", "sip:bob@example.com", Sdp("192.0.2.10", 40000)));
  std::string ok = test::SipResponse(200);
  ok.replace(ok.find("Content-Length: 0"), 17,
             "Content-Type: application/sdp\r\nContent-Length: " +
                 std::to_string(Sdp("192.0.2.20", 50000).size()));
  ok += Sdp("192.0.2.20", 50000);
  Udp(t0 + kSec, "192.0.2.1", 5060, "192.0.2.10", 5060, ok);
  ASSERT_EQ(sip.size(), 2u);
  ASSERT_TRUE(sip[1].sdp.has_value());
  const std::string media = test::RtpPacket(0x1234, 1, 0);
  Udp(t0 + 2 * kSec, "192.0.2.20", 50000, "192.0.2.10", 40000, media);
  Udp(t0 + 3 * kSec, "192.0.2.10", 40000, "192.0.2.20", 50000, test::RtpPacket(0x99, 7, 0));
  ASSERT_EQ(rtp.size(), 2u);
  EXPECT_EQ(rtp[0].reason, "stream_start");
  EXPECT_EQ(rtp[0].owner, "a84b4c76e66710@pc33.example.com");
  Udp(t0 + 60 * kSec, "192.0.2.10", 5060, "192.0.2.1", 5060,
      WithToTag(test::SipRequest("BYE")));
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].disposition, Disposition::kAnswered);
  EXPECT_EQ(calls[0].ended_by, "bye");
  // Packets in flight when the BYE passed are no attack.
  Udp(t0 + 60 * kSec + kSec / 5, "192.0.2.20", 50000, "192.0.2.10", 40000,
      test::RtpPacket(0x1234, 2, 0));
  EXPECT_EQ(rtp.size(), 2u);
  // The peer keeps sending media after the BYE: one report, whatever the count.
  for (int i = 0; i < 5; ++i) {
    Udp(t0 + 62 * kSec + i, "192.0.2.20", 50000, "192.0.2.10", 40000,
        test::RtpPacket(0x1234, 3 + i, 0));
  }
  ASSERT_EQ(rtp.size(), 3u);
  EXPECT_EQ(rtp[2].reason, "media_after_end");
  EXPECT_EQ(rtp[2].ssrc, 0x1234u);
  EXPECT_EQ(p->stats().rtp_after_end, 5u);

  // What the agent mirrors into the kernel: both ends expected, both ended
  // once by the BYE with the grace, and forgotten after the linger time.
  using Kind = MediaEndpointChange::Kind;
  auto count = [&](Kind k) {
    return std::count_if(endpoints.begin(), endpoints.end(),
                         [&](const MediaEndpointChange& c) { return c.kind == k; });
  };
  EXPECT_EQ(count(Kind::kExpected), 2);
  EXPECT_EQ(count(Kind::kEnded), 2);
  EXPECT_EQ(count(Kind::kForgotten), 0);
  for (const auto& c : endpoints) {
    EXPECT_EQ(c.owner, "a84b4c76e66710@pc33.example.com");
    if (c.kind == Kind::kEnded) {
      EXPECT_EQ(c.ts_ns, t0 + 60 * kSec);
      EXPECT_EQ(c.grace_ns, kSec);
    }
  }
  EXPECT_EQ(endpoints[0].addr.ToString(), "192.0.2.10");
  EXPECT_EQ(endpoints[0].port, 40000);
  EXPECT_EQ(endpoints[1].addr.ToString(), "192.0.2.20");
  EXPECT_EQ(endpoints[1].port, 50000);
  p->Advance(t0 + 200 * kSec);
  EXPECT_EQ(count(Kind::kForgotten), 2);
}

// Two open calls announce the same endpoint (a media server, or a callee on
// one port): the first call's end is no end of the endpoint, the second's is.
TEST_F(PipelineTest, SharedEndpointEndsWithItsLastCall) {
  const int64_t t0 = 3000 * kSec;
  auto call = [&](int64_t ts, const std::string& id, int caller_port) {
    auto with_id = [&](std::string m) {
      const size_t at = m.find("Call-ID: ") + 9;
      m.replace(at, m.find("\r\n", at) - at, id);
      return m;
    };
    Udp(ts, "192.0.2.10", 5060, "192.0.2.1", 5060,
        with_id(test::SipRequest("INVITE", "sip:bob@example.com",
                                 Sdp("192.0.2.10", caller_port))));
    std::string ok = test::SipResponse(200);
    ok.replace(ok.find("Content-Length: 0"), 17,
               "Content-Type: application/sdp\r\nContent-Length: " +
                   std::to_string(Sdp("192.0.2.20", 50000).size()));
    ok += Sdp("192.0.2.20", 50000);
    Udp(ts + kSec / 10, "192.0.2.1", 5060, "192.0.2.10", 5060, with_id(ok));
  };
  auto bye = [&](int64_t ts, const std::string& id) {
    std::string m = WithToTag(test::SipRequest("BYE"));
    const size_t at = m.find("Call-ID: ") + 9;
    m.replace(at, m.find("\r\n", at) - at, id);
    Udp(ts, "192.0.2.10", 5060, "192.0.2.1", 5060, m);
  };
  call(t0, "call-a", 40000);
  call(t0 + kSec, "call-b", 40002);
  bye(t0 + 10 * kSec, "call-a");
  using Kind = MediaEndpointChange::Kind;
  auto ended = [&](const std::string& addr, int port) {
    return std::count_if(endpoints.begin(), endpoints.end(), [&](const MediaEndpointChange& c) {
      return c.kind == Kind::kEnded && c.addr.ToString() == addr && c.port == port;
    });
  };
  EXPECT_EQ(ended("192.0.2.10", 40000), 1);  // call A's own endpoint
  EXPECT_EQ(ended("192.0.2.20", 50000), 0);  // still carries call B
  // Call B's media to the shared endpoint is no media after an end.
  Udp(t0 + 13 * kSec, "192.0.2.10", 40002, "192.0.2.20", 50000, test::RtpPacket(5, 1, 0));
  for (const auto& e : rtp) EXPECT_NE(e.reason, "media_after_end");
  bye(t0 + 20 * kSec, "call-b");
  EXPECT_EQ(ended("192.0.2.20", 50000), 1);
  Udp(t0 + 23 * kSec, "192.0.2.10", 40002, "192.0.2.20", 50000, test::RtpPacket(5, 9, 0));
  ASSERT_FALSE(rtp.empty());
  EXPECT_EQ(rtp.back().reason, "media_after_end");
  EXPECT_EQ(rtp.back().owner, "call-b");
}

// An endpoint that a later call announces again after its first call ended
// is that call's: forgotten only media_linger after the later call ends, once.
TEST_F(PipelineTest, EndpointReannouncedAfterItsEndIsForgottenAfterTheLastEnd) {
  const int64_t t0 = 4000 * kSec;
  auto with_id = [&](std::string m, const std::string& id) {
    const size_t at = m.find("Call-ID: ") + 9;
    m.replace(at, m.find("\r\n", at) - at, id);
    return m;
  };
  auto call = [&](int64_t ts, const std::string& id) {
    Udp(ts, "192.0.2.10", 5060, "192.0.2.1", 5060,
        with_id(test::SipRequest("INVITE", "sip:bob@example.com", Sdp("192.0.2.10", 40000)), id));
    Udp(ts + kSec / 10, "192.0.2.1", 5060, "192.0.2.10", 5060,
        with_id(test::SipResponse(200), id));
  };
  auto bye = [&](int64_t ts, const std::string& id) {
    Udp(ts, "192.0.2.10", 5060, "192.0.2.1", 5060,
        with_id(WithToTag(test::SipRequest("BYE")), id));
  };
  using Kind = MediaEndpointChange::Kind;
  auto forgotten = [&] {
    return std::count_if(endpoints.begin(), endpoints.end(),
                         [&](const MediaEndpointChange& c) { return c.kind == Kind::kForgotten; });
  };
  call(t0, "call-a");
  bye(t0 + 10 * kSec, "call-a");
  call(t0 + 20 * kSec, "call-b");  // the same endpoint, announced again
  p->Advance(t0 + 80 * kSec);      // call A's end is 70 s old, but B holds it open
  EXPECT_EQ(forgotten(), 0);
  bye(t0 + 90 * kSec, "call-b");
  p->Advance(t0 + 140 * kSec);  // 50 s after B's end: still kept
  EXPECT_EQ(forgotten(), 0);
  p->Advance(t0 + 160 * kSec);
  EXPECT_EQ(forgotten(), 1);
  p->Advance(t0 + 400 * kSec);
  EXPECT_EQ(forgotten(), 1);
}

TEST_F(PipelineTest, MgcpEventsAndMediaAfterDlcx) {
  const int64_t t0 = 2000 * kSec;
  Udp(t0, "198.51.100.1", 2727, "198.51.100.9", 2427,
      "CRCX 1201 aaln/1@gw.example.net MGCP 1.0\r\nC: A3C47F21456789F0\r\nL: p:10, a:PCMU\r\n"
      "M: recvonly\r\n");
  Udp(t0 + kSec / 10, "198.51.100.9", 2427, "198.51.100.1", 2727,
      "200 1201 OK\r\nI: FDE234C8\r\n\r\n" + Sdp("198.51.100.9", 3456));
  ASSERT_EQ(mgcp.size(), 2u);
  EXPECT_TRUE(mgcp[0].is_command);
  EXPECT_EQ(mgcp[0].verb, "CRCX");
  EXPECT_EQ(mgcp[0].transaction_id, "1201");
  EXPECT_EQ(mgcp[0].endpoint, "aaln/1@gw.example.net");
  EXPECT_EQ(mgcp[0].call_id, "A3C47F21456789F0");
  EXPECT_EQ(mgcp[1].status, 200);
  EXPECT_EQ(mgcp[1].connection_id, "FDE234C8");
  ASSERT_TRUE(mgcp[1].sdp.has_value());
  Udp(t0 + kSec, "203.0.113.5", 9000, "198.51.100.9", 3456, test::RtpPacket(7, 1, 0));
  ASSERT_EQ(rtp.size(), 1u);
  EXPECT_EQ(rtp[0].owner, "mgcp:FDE234C8");
  Udp(t0 + 30 * kSec, "198.51.100.1", 2727, "198.51.100.9", 2427,
      "DLCX 1210 aaln/1@gw.example.net MGCP 1.0\r\nC: A3C47F21456789F0\r\nI: FDE234C8\r\n");
  // The DLCX names the media it released (the central gateway rule's input).
  ASSERT_EQ(mgcp.back().verb, "DLCX");
  ASSERT_EQ(mgcp.back().released_media.size(), 1u);
  EXPECT_EQ(mgcp.back().released_media[0].conn, "198.51.100.9");
  EXPECT_EQ(mgcp.back().released_media[0].port, 3456);
  Udp(t0 + 32 * kSec, "203.0.113.5", 9000, "198.51.100.9", 3456, test::RtpPacket(7, 2, 0));
  ASSERT_EQ(rtp.size(), 2u);
  EXPECT_EQ(rtp[1].reason, "media_after_end");
  EXPECT_EQ(rtp[1].owner, "mgcp:FDE234C8");
  ASSERT_EQ(endpoints.size(), 2u);
  EXPECT_EQ(endpoints[0].kind, MediaEndpointChange::Kind::kExpected);
  EXPECT_EQ(endpoints[1].kind, MediaEndpointChange::Kind::kEnded);
  EXPECT_EQ(endpoints[1].owner, "mgcp:FDE234C8");
  EXPECT_EQ(endpoints[1].port, 3456);
}

TEST_F(PipelineTest, NoiseOnSipPortsIsCountedAndRejectedWithReasons) {
  Udp(kSec, "192.0.2.1", 5060, "192.0.2.2", 5060, "\r\n\r\n");           // keep-alive
  Udp(kSec, "192.0.2.1", 5060, "192.0.2.2", 5060, "hello");               // junk
  Udp(kSec, "192.0.2.1", 5060, "192.0.2.2", 5060, "INVITE sip:x SIP/2.0\r\nVia: \r\n\r\n");
  Udp(kSec, "192.0.2.1", 40000, "192.0.2.2", 40002, "random media-less bytes");
  EXPECT_EQ(rejected.size(), 2u);
  EXPECT_EQ(p->stats().sip_rejected, 2u);
  EXPECT_EQ(p->stats().other, 1u);
  for (const auto& r : rejected) EXPECT_NE(r.error.reason, sip::Reason::kOk);
  // Each refusal is an event too, marked malformed with the parser's reason
  // and what could be read (the INVITE's method and URI; nothing of "hello").
  ASSERT_EQ(sip.size(), 2u);
  EXPECT_TRUE(sip[0].malformed());
  EXPECT_EQ(sip[0].malformed_reason, "bad_start_line");
  EXPECT_TRUE(sip[0].method.empty());
  EXPECT_TRUE(sip[1].malformed());
  EXPECT_EQ(sip[1].method, "INVITE");
  EXPECT_EQ(sip[1].request_uri, "sip:x");
  EXPECT_NE(sip[1].malformed_reason, "");
  EXPECT_EQ(sip[1].flow.src.ToString(), "192.0.2.1");
  // No call is threaded from them.
  EXPECT_EQ(p->stats().sip, 0u);
}

TEST_F(PipelineTest, ARefusedMessageKeepsWhatCanStillBeRead) {
  // A negative CSeq: refused; the rest of the message is readable.
  Udp(kSec, "203.0.113.66", 5070, "198.51.100.1", 5060,
      "INVITE sip:100@198.51.100.1 SIP/2.0\r\n"
      "Via: SIP/2.0/UDP 203.0.113.66:5070;branch=z9hG4bK-1\r\n"
      "From: \"Mallory\" <sip:mallory@203.0.113.66>;tag=abc\r\n"
      "To: <sip:100@198.51.100.1>\r\n"
      "Call-ID: evil-1@203.0.113.66\r\n"
      "CSeq: -1 INVITE\r\n"
      "User-Agent: fuzzer 0.1\r\n"
      "Content-Length: 0\r\n\r\n");
  ASSERT_EQ(sip.size(), 1u);
  const SipEvent& e = sip[0];
  EXPECT_TRUE(e.malformed());
  EXPECT_EQ(e.malformed_reason, "bad_cseq");
  EXPECT_EQ(e.malformed_what, "CSeq");
  EXPECT_GT(e.malformed_at, 0u);
  EXPECT_TRUE(e.is_request);
  EXPECT_EQ(e.method, "INVITE");
  EXPECT_EQ(e.request_user, "100");
  EXPECT_EQ(e.call_id, "evil-1@203.0.113.66");
  EXPECT_EQ(e.cseq, 0u);  // the broken part stays empty
  EXPECT_EQ(e.from.user, "mallory");
  EXPECT_EQ(e.from.display, "Mallory");
  EXPECT_EQ(e.to.user, "100");
  EXPECT_EQ(e.user_agent, "fuzzer 0.1");
  ASSERT_EQ(e.via_hosts.size(), 1u);
  EXPECT_EQ(e.via_hosts[0], "203.0.113.66");
  const std::string json = ToJson(e);
  EXPECT_NE(json.find("\"malformed\":{\"reason\":\"bad_cseq\",\"what\":\"CSeq\",\"at\":"),
            std::string::npos)
      << json;
  // Junk before a request (NULs, as Zeek's sip-junk-before-request trace has):
  // the request behind it is still read.
  Udp(2 * kSec, "203.0.113.66", 5070, "198.51.100.1", 5060,
      std::string("\0\0\0\0", 4) + "REGISTER sip:198.51.100.1 SIP/2.0\r\nCall-ID: j-1\r\n"
      "CSeq: 7 REGISTER\r\n\r\n");
  ASSERT_EQ(sip.size(), 2u);
  EXPECT_TRUE(sip[1].malformed());
  EXPECT_EQ(sip[1].method, "REGISTER");
  EXPECT_EQ(sip[1].cseq, 7u);
  EXPECT_EQ(sip[1].call_id, "j-1");
}

}  // namespace
}  // namespace sw::ev
