// SPDX-License-Identifier: BSD-2-Clause
// Real captures from the shared corpus, decoded with sw_net and fed to the
// parsers: every SIP message of ordinary and attack traffic must parse (SDP
// bodies included), as must the MGCP of a real gateway and the RTP/RTCP of
// real calls. Messages that are broken on the wire are listed as such.
#include <map>
#include <string>

#include "gtest/gtest.h"
#include "pcap_source.h"
#include "sipwarden/net/decoder.h"
#include "sipwarden/sip/mgcp.h"
#include "sipwarden/sip/rtp.h"
#include "sipwarden/sip/sdp.h"
#include "sipwarden/sip/sip_message.h"
#include "sipwarden/sip/text.h"
#include "test_util.h"

namespace sw::sip {
namespace {

using testing::CorpusDir;
using testing::CorpusMissingMessage;
using testing::CorpusPresent;

// Calls fn for every application message (UDP payload or framed SIP over TCP).
void ForEachMessage(const std::string& rel, const std::function<void(const net::AppMessage&)>& fn) {
  auto src = PcapSource::Open((CorpusDir() / rel).string());
  ASSERT_TRUE(src.ok()) << src.status();
  net::Decoder dec(net::DecoderLimits{}, fn);
  CapturedFrame f;
  while (true) {
    auto more = (*src)->Next(&f);
    ASSERT_TRUE(more.ok()) << more.status();
    if (!*more) break;
    dec.Frame((*src)->link_type(), f.ts_ns, f.data);
  }
}

struct SipOutcome {
  size_t parsed = 0;
  size_t with_sdp = 0;
  std::map<std::string, size_t> rejected;  // reason -> count ("sdp:" for bodies)
  std::map<std::string, size_t> warned;    // lenience warnings below -> messages
};

// The warnings for what RFC 3261 forbids but real devices send; counted per
// capture so that a change in what is tolerated shows up here.
constexpr SipWarning kCountedWarnings[] = {SipWarning::kUnbracketedIpv6Host,
                                           SipWarning::kNonTokenTag};

SipOutcome ParseSipIn(const std::string& rel) {
  SipOutcome out;
  // Datagrams keep the 64 KiB default; a message framed out of a TCP stream
  // may be as large as the decoder allows.
  SipParseOptions tcp;
  tcp.limits.max_message_size = net::DecoderLimits{}.max_sip_message;
  ForEachMessage(rel, [&](const net::AppMessage& m) {
    if (!net::LooksLikeSipStart(m.payload)) return;
    auto r = ParseSip(m.payload, m.transport == 6 ? tcp : SipParseOptions{});
    if (!r.ok()) {
      ++out.rejected[std::string(ReasonName(r.reason()))];
      return;
    }
    ++out.parsed;
    for (SipWarning w : kCountedWarnings) {
      if (r->has_warning(w)) ++out.warned[std::string(WarningName(w))];
    }
    EXPECT_FALSE(r->call_id.empty());
    EXPECT_FALSE(r->vias.empty());
    if (r->HasSdpBody() && !r->body.empty()) {
      auto sdp = ParseSdp(r->body);
      if (sdp.ok()) {
        ++out.with_sdp;
      } else {
        ++out.rejected["sdp:" + std::string(ReasonName(sdp.reason()))];
      }
    }
  });
  return out;
}

struct SipCapture {
  const char* file;
  size_t min_parsed;                          // messages that must parse
  size_t min_sdp;                             // of which carry an SDP body that parses
  std::map<std::string, size_t> rejected;     // exactly these rejections
  std::map<std::string, size_t> warned = {};  // exactly these kCountedWarnings
};

void PrintTo(const SipCapture& c, std::ostream* os) { *os << c.file; }

class SipCaptureTest : public ::testing::TestWithParam<SipCapture> {};

TEST_P(SipCaptureTest, EveryMessageParses) {
  ASSERT_TRUE(CorpusPresent()) << CorpusMissingMessage();
  const SipCapture& c = GetParam();
  SipOutcome o = ParseSipIn(c.file);
  EXPECT_GE(o.parsed, c.min_parsed);
  EXPECT_GE(o.with_sdp, c.min_sdp);
  EXPECT_EQ(o.rejected, c.rejected);
  EXPECT_EQ(o.warned, c.warned);
}

INSTANTIATE_TEST_SUITE_P(
    Captures, SipCaptureTest,
    ::testing::Values(
        SipCapture{"pcaps/initconf-sip-attacks/BadUserAgent-sipvicious.pcap", 26, 0, {}},
        SipCapture{"pcaps/initconf-sip-attacks/SIP-3700-unauthorized-401.pcap", 52, 0, {}},
        SipCapture{"pcaps/initconf-sip-attacks/SIP-Bruteforce-Single-IP.pcap", 2639, 0, {}},
        SipCapture{"pcaps/heplify/rtp_rtcp_sip_ipv4_udp.pcap", 14, 2, {}},
        SipCapture{"pcaps/heplify/sip_ipv4_tcp.pcap", 7, 0, {}},
        // A UA writing IPv6 hosts without brackets (RFC 3261 wants them):
        // "sip:4321@fec0:0:0:0:216:d3ff:fe0d:22c:5060", "Via: SIP/2.0/UDP
        // fe80:0:0:0:21a:a0ff:fe07:32e0:5060". Accepted and flagged.
        SipCapture{"pcaps/heplify/sip_ipv6_udp.pcap", 6, 0, {}, {{"unbracketed_ipv6_host", 6}}},
        // Three NOTIFYs and their 200s whose To tag holds non-token octets
        // (such as '&', 0x01, 0x18, UTF-8 U+FFFD): accepted verbatim, flagged.
        SipCapture{"pcaps/heplify/erspan_sip_ipv4_udp.pcapng", 140, 0, {}, {{"non_token_tag", 6}}},
        SipCapture{"pcaps/ndpi/sip.pcap", 81, 0, {}},
        SipCapture{"pcaps/sngrep/ipv6frag.pcap", 32, 0, {}},
        SipCapture{"pcaps/suricata-verify/sip-compact-form/sip_compact_form.pcap", 1, 0, {}},
        // "t:" and "To:" in one message: RFC 4475 3.3.8 says reject.
        SipCapture{"pcaps/suricata-verify/sip-header-multi-value/sip_header_multi_val.pcap",
                   0,
                   0,
                   {{"duplicate_header", 1}}},
        SipCapture{"pcaps/suricata-verify/sip-sdp/sdp.pcap", 2, 1, {}},
        // A 67 KB SDP body over TCP: the message parses with the TCP limit,
        // the body hits the SDP size limit.
        SipCapture{"pcaps/suricata-verify/sip-body-large/sip-body-large.pcap",
                   2,
                   0,
                   {{"sdp:message_too_large", 1}}},
        SipCapture{"pcaps/zeek/sip-long-request-response-paths.pcap", 2, 0, {}},
        // Content-Length "bad" and "xyz".
        SipCapture{"pcaps/zeek/invalid-content-length.pcap", 0, 0, {{"bad_content_length", 2}}}),
    [](const ::testing::TestParamInfo<SipCapture>& i) {
      std::string n = std::filesystem::path(i.param.file).stem().string();
      for (char& ch : n) {
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      }
      return n;
    });

// What the lenient parse of the unbracketed IPv6 capture yields: the
// eight-group addresses with ":5060" are address + port, without it address.
TEST(PcapCorpusTest, UnbracketedIpv6Hosts) {
  ASSERT_TRUE(CorpusPresent()) << CorpusMissingMessage();
  size_t n = 0;
  ForEachMessage("pcaps/heplify/sip_ipv6_udp.pcap", [&](const net::AppMessage& a) {
    if (!net::LooksLikeSipStart(a.payload)) return;
    auto r = ParseSip(a.payload);
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    ++n;
    EXPECT_TRUE(r->has_warning(SipWarning::kUnbracketedIpv6Host));
    const HostPort& via = r->vias.at(0).sent_by;
    EXPECT_EQ(via.host, "fe80:0:0:0:21a:a0ff:fe07:32e0");
    EXPECT_EQ(via.type, HostType::kIpv6);
    EXPECT_TRUE(via.unbracketed_ipv6);
    EXPECT_EQ(via.ip.ToString(), "fe80::21a:a0ff:fe07:32e0");
    EXPECT_TRUE(via.has_port);
    EXPECT_EQ(via.port, 5060);
    EXPECT_EQ(r->from.uri.host(), "fe80:0:0:0:21a:a0ff:fe07:32e0");
    EXPECT_FALSE(r->from.uri.hostport.has_port);
    EXPECT_EQ(r->from.tag, "a3bhg");
    EXPECT_EQ(r->to.uri.host(), "fec0:0:0:0:216:d3ff:fe0d:22c");
    if (r->is_request) {
      EXPECT_EQ(r->request_uri.user, "4321");
      EXPECT_EQ(r->request_uri.host(), "fec0:0:0:0:216:d3ff:fe0d:22c");
      EXPECT_EQ(r->request_uri.hostport.has_port, r->method_id == Method::kInvite);
    }
    ASSERT_EQ(r->contacts.size(), 1u);
    EXPECT_TRUE(r->contacts[0].uri.hostport.unbracketed_ipv6);
    EXPECT_EQ(r->contacts[0].uri.hostport.port, 5060);
  });
  EXPECT_EQ(n, 6u);
}

// The To tags with non-token octets are kept as sent, up to the line end.
TEST(PcapCorpusTest, NonTokenToTags) {
  ASSERT_TRUE(CorpusPresent()) << CorpusMissingMessage();
  size_t n = 0;
  ForEachMessage("pcaps/heplify/erspan_sip_ipv4_udp.pcapng", [&](const net::AppMessage& a) {
    if (!net::LooksLikeSipStart(a.payload)) return;
    auto r = ParseSip(a.payload);
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    if (!r->has_warning(SipWarning::kNonTokenTag)) return;
    ++n;
    EXPECT_EQ(r->cseq.method_id, Method::kNotify);  // three NOTIFYs and their 200s
    EXPECT_EQ(r->to.tag.substr(0, 9), "00E4EF38-");
    EXPECT_EQ(r->to.tag.back(), '\x01');
    EXPECT_FALSE(IsToken(r->to.tag));
    EXPECT_EQ(r->to.params.substr(0, 5), ";tag=");
    EXPECT_EQ(r->to.params.substr(5), r->to.tag);  // the rest of the line, verbatim
    EXPECT_TRUE(IsToken(r->from.tag));
  });
  EXPECT_EQ(n, 6u);
}

TEST(PcapCorpusTest, MgcpGateway) {
  ASSERT_TRUE(CorpusPresent()) << CorpusMissingMessage();
  size_t parsed = 0;
  std::map<MgcpVerb, size_t> verbs;
  std::map<int, size_t> codes;
  ForEachMessage("pcaps/ndpi/mgcp.pcap", [&](const net::AppMessage& m) {
    if (m.sport != 2427 && m.dport != 2427 && m.sport != 2727 && m.dport != 2727) return;
    auto r = ParseMgcp(m.payload);
    ASSERT_TRUE(r.ok()) << "frame " << m.frame_no << ": " << r.error().ToString();
    ++parsed;
    if (r->is_command) {
      ++verbs[r->verb_id];
      EXPECT_FALSE(r->endpoint_domain.empty());
    } else {
      ++codes[r->response_code];
    }
  });
  EXPECT_EQ(parsed, 23u);
  EXPECT_GT(verbs[MgcpVerb::kRsip], 0u);
  EXPECT_GT(verbs[MgcpVerb::kRqnt], 0u);
  EXPECT_GT(verbs[MgcpVerb::kNtfy], 0u);
  EXPECT_GT(verbs[MgcpVerb::kAuep], 0u);
  EXPECT_GT(codes[200], 0u);
  EXPECT_GT(codes[510], 0u);
}

TEST(PcapCorpusTest, RtpOfARealCall) {
  ASSERT_TRUE(CorpusPresent()) << CorpusMissingMessage();
  size_t rtp = 0;
  std::map<uint32_t, size_t> ssrcs;
  ForEachMessage("pcaps/sipp/g711a.pcap", [&](const net::AppMessage& m) {
    const std::span<const uint8_t> b(reinterpret_cast<const uint8_t*>(m.payload.data()),
                                     m.payload.size());
    auto r = ParseRtp(b);
    ASSERT_TRUE(r.ok()) << "frame " << m.frame_no << ": " << r.error().ToString();
    EXPECT_EQ(r->payload_type, 8);       // PCMA
    EXPECT_EQ(r->payload.size(), 240u);  // 30 ms of G.711
    ++ssrcs[r->ssrc];
    ++rtp;
  });
  EXPECT_EQ(rtp, 236u);
  EXPECT_EQ(ssrcs.size(), 1u);
}

TEST(PcapCorpusTest, CompoundRtcp) {
  ASSERT_TRUE(CorpusPresent()) << CorpusMissingMessage();
  size_t compounds = 0;
  size_t packets = 0;
  ForEachMessage("pcaps/ndpi/rtcp_multiple_pkts_in_the_same_datagram.pcap",
                 [&](const net::AppMessage& m) {
                   const std::span<const uint8_t> b(
                       reinterpret_cast<const uint8_t*>(m.payload.data()), m.payload.size());
                   if (!LooksLikeRtcp(b)) return;
                   auto r = ParseRtcp(b);
                   ASSERT_TRUE(r.ok()) << "frame " << m.frame_no << ": " << r.error().ToString();
                   ++compounds;
                   packets += r->packets.size();
                 });
  EXPECT_GT(compounds, 0u);
  EXPECT_GT(packets, compounds);  // several packets per datagram
}

}  // namespace
}  // namespace sw::sip
