// SPDX-License-Identifier: BSD-2-Clause
// The frame decoder: encapsulations, IP reassembly, TCP streams and SIP
// framing, on crafted frames and on the corpus captures (checked against
// what tshark decodes from the same files).
#include "sipwarden/net/decoder.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "packet_builder.h"
#include "pcap_source.h"

namespace sw::net {
namespace {

using sw::test::PacketBuilder;
using sw::test::SipRequest;
using sw::test::SipResponse;

struct Got {
  std::string src, dst;
  uint16_t sport, dport;
  uint8_t transport;
  uint16_t vlan, encap;
  std::string payload;
};

class Collector {
 public:
  explicit Collector(DecoderLimits limits = {})
      : dec_(limits, [this](const AppMessage& m) {
          got.push_back({m.src.ToString(), m.dst.ToString(), m.sport, m.dport, m.transport,
                         m.vlan, m.encap, std::string(m.payload)});
        }) {}
  void Feed(const std::string& frame, int64_t ts = 1'000'000'000) {
    dec_.Frame(LinkType::kEthernet, ts,
               std::span(reinterpret_cast<const uint8_t*>(frame.data()), frame.size()));
  }
  Decoder& dec() { return dec_; }
  std::vector<Got> got;

 private:
  Decoder dec_;
};

TEST(Decoder, UdpOverVlanIpv4AndIpv6) {
  Collector c;
  const std::string inv = SipRequest("INVITE");
  c.Feed(PacketBuilder().Eth().Vlan(42).Vlan(7, 0x8100).IPv4("192.0.2.1", "192.0.2.2")
             .Udp(5062, 5060).Payload(inv).PadTo(2000).BuildString());
  c.Feed(PacketBuilder().Eth().IPv6("2001:db8::1", "2001:db8::2").Ipv6Ext(0).Ipv6Ext(60, 1)
             .Udp(5060, 5060).Payload(inv).BuildString());
  ASSERT_EQ(c.got.size(), 2u);
  EXPECT_EQ(c.got[0].src, "192.0.2.1");
  EXPECT_EQ(c.got[0].vlan, 42);
  EXPECT_TRUE(c.got[0].encap & kEncapVlan);
  EXPECT_EQ(c.got[0].payload, inv);  // Ethernet padding not included
  EXPECT_EQ(c.got[1].dst, "2001:db8::2");
  EXPECT_EQ(c.got[1].payload, inv);
}

TEST(Decoder, CountsMalformedFramesAndPassesNothing) {
  Collector c;
  const std::string inv = SipRequest("INVITE");
  c.Feed(PacketBuilder().Eth().IPv4("192.0.2.1", "192.0.2.2").Udp(1, 5060).Payload(inv)
             .TruncateTo(30).BuildString());
  c.Feed(PacketBuilder().Eth().IPv4("192.0.2.1", "192.0.2.2").SetIhl(4).Udp(1, 5060)
             .Payload(inv).BuildString());
  c.Feed(PacketBuilder().Eth().IPv4("192.0.2.1", "192.0.2.2").Udp(1, 5060).SetUdpLen(4000)
             .Payload(inv).BuildString());
  c.Feed(PacketBuilder().Eth().EtherType(0x0806).Payload(std::string(28, 'a')).BuildString());
  c.Feed(std::string(5, '\0'));
  EXPECT_TRUE(c.got.empty());
  EXPECT_EQ(c.dec().stats().truncated, 3u);
  EXPECT_EQ(c.dec().stats().bad_ip, 1u);
  EXPECT_EQ(c.dec().stats().non_ip, 1u);
}

// Splits a UDP datagram (header + payload) into IP fragments of `chunk` bytes.
std::vector<std::string> Fragments(int family, const std::string& payload, size_t chunk) {
  // The UDP header is part of the first fragment's data: build it whole once.
  const std::string whole = PacketBuilder().Udp(5060, 5060).Payload(payload).BuildString();
  std::vector<std::string> out;
  for (size_t off = 0; off < whole.size(); off += chunk) {
    const bool more = off + chunk < whole.size();
    PacketBuilder b;
    b.Eth();
    if (family == 4) {
      b.IPv4("198.51.100.1", "198.51.100.2");
    } else {
      b.IPv6("2001:db8::1", "2001:db8::2");
    }
    b.Proto(17).Fragment(static_cast<uint16_t>(off), more, 99).Payload(whole.substr(off, chunk));
    out.push_back(b.BuildString());
  }
  return out;
}

TEST(Decoder, ReassemblesIpv4AndIpv6FragmentsInAnyOrder) {
  const std::string big = SipRequest("INVITE", "sip:bob@example.com", std::string(3000, 'v'));
  for (int family : {4, 6}) {
    SCOPED_TRACE(family);
    Collector c;
    auto frags = Fragments(family, big, 1232);
    ASSERT_GE(frags.size(), 3u);
    std::swap(frags[0], frags[2]);
    c.Feed(frags[1]);  // a duplicate: counted as overlap, ignored
    for (const auto& f : frags) c.Feed(f);
    ASSERT_EQ(c.got.size(), 1u);
    EXPECT_EQ(c.got[0].payload, big);
    EXPECT_TRUE(c.got[0].encap & kEncapFragmented);
    EXPECT_EQ(c.dec().stats().reassembled, 1u);
    EXPECT_EQ(c.dec().frag_datagrams(), 0u);
    EXPECT_GE(c.dec().stats().frag_overlaps, 1u);
  }
}

TEST(Decoder, FragmentStateIsBoundedAndTimesOutOnEventTime) {
  DecoderLimits limits;
  limits.max_frag_datagrams = 4;
  Collector c(limits);
  for (uint16_t id = 0; id < 10; ++id) {
    c.Feed(PacketBuilder().Eth().IPv4("198.51.100.1", "198.51.100.2").Proto(17)
               .Fragment(0, true, id).Payload(std::string(64, 'x')).BuildString());
  }
  EXPECT_EQ(c.dec().frag_datagrams(), 4u);
  EXPECT_EQ(c.dec().stats().frag_evicted, 6u);
  c.dec().Advance(1'000'000'000 + limits.frag_timeout_ns);
  EXPECT_EQ(c.dec().frag_datagrams(), 0u);
  EXPECT_EQ(c.dec().stats().frag_timeouts, 4u);
}

std::string TcpSeg(uint32_t seq, std::string_view payload, uint8_t flags = 0x18,
                   uint16_t sport = 40000, uint16_t dport = 5060) {
  return PacketBuilder().Eth().IPv4("203.0.113.5", "203.0.113.6").Tcp(sport, dport)
      .TcpSeq(seq).TcpFlags(flags).Payload(payload).BuildString();
}

TEST(Decoder, TcpFramesSeveralMessagesInOneSegmentAndOneAcrossSegments) {
  Collector c;
  const std::string a = SipRequest("INVITE", "sip:bob@example.com", "v=0\r\no=- 1 1 IN IP4 x\r\n");
  const std::string b = SipResponse(200);
  const std::string d = SipRequest("BYE");
  c.Feed(TcpSeg(1000, "", 0x02));  // SYN
  uint32_t seq = 1001;
  const std::string both = a + "\r\n\r\n" + b;  // with a CRLF keep-alive in between
  c.Feed(TcpSeg(seq, both));
  seq += both.size();
  for (size_t off = 0; off < d.size(); off += 50) {
    const std::string part = d.substr(off, 50);
    c.Feed(TcpSeg(seq, part));
    seq += part.size();
  }
  ASSERT_EQ(c.got.size(), 3u);
  EXPECT_EQ(c.got[0].payload, a);
  EXPECT_EQ(c.got[1].payload, b);
  EXPECT_EQ(c.got[2].payload, d);
  EXPECT_TRUE(c.got[2].encap & kEncapTcpStream);
  c.Feed(TcpSeg(seq, "", 0x11));  // FIN
  EXPECT_EQ(c.dec().tcp_streams(), 0u);
}

TEST(Decoder, TcpRetransmissionsAndReordering) {
  Collector c;
  const std::string m1 = SipRequest("REGISTER"), m2 = SipRequest("OPTIONS");
  const std::string all = m1 + m2;
  c.Feed(TcpSeg(1, "", 0x02));
  // Segments: [0,100) [100,200) [200,end); deliver 2, 1, 1 (retransmitted), 3, 3.
  std::vector<std::pair<uint32_t, std::string>> segs;
  for (size_t off = 0; off < all.size(); off += 100) segs.push_back({2 + off, all.substr(off, 100)});
  c.Feed(TcpSeg(segs[1].first, segs[1].second));
  c.Feed(TcpSeg(segs[0].first, segs[0].second));
  c.Feed(TcpSeg(segs[0].first, segs[0].second));
  for (size_t i = 2; i < segs.size(); ++i) {
    c.Feed(TcpSeg(segs[i].first, segs[i].second));
    c.Feed(TcpSeg(segs[i].first, segs[i].second));
  }
  ASSERT_EQ(c.got.size(), 2u);
  EXPECT_EQ(c.got[0].payload, m1);
  EXPECT_EQ(c.got[1].payload, m2);
  EXPECT_GE(c.dec().tcp_stats().out_of_order, 1u);
  EXPECT_GE(c.dec().tcp_stats().retransmissions, 2u);
}

TEST(Decoder, TcpJoinedMidStreamAndBadContentLengthResynchronise) {
  Collector c;
  const std::string m = SipRequest("INVITE");
  std::string bad = SipRequest("OPTIONS");
  bad.replace(bad.find("Content-Length: 0"), 17, "Content-Length: x");
  // No SYN seen: the stream starts inside a message body.
  const std::string stream = "tail of an earlier body\r\n" + bad + m;
  c.Feed(TcpSeg(500, stream));
  ASSERT_EQ(c.got.size(), 1u);
  EXPECT_EQ(c.got[0].payload, m);
  EXPECT_GE(c.dec().tcp_stats().framing_errors, 1u);
  EXPECT_GE(c.dec().tcp_stats().resyncs, 1u);
}

TEST(Decoder, TcpOnOtherPortsOnlyWhenItLooksLikeSip) {
  Collector c;
  c.Feed(TcpSeg(1, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 0x18, 40001, 8080));
  c.Feed(TcpSeg(1, SipRequest("INVITE"), 0x18, 40002, 6060));
  ASSERT_EQ(c.got.size(), 1u);
  EXPECT_EQ(c.got[0].dport, 6060);
  EXPECT_EQ(c.dec().tcp_stats().not_sip, 1u);
}

TEST(Decoder, TcpStreamsAreBounded) {
  DecoderLimits limits;
  limits.max_tcp_streams = 8;
  Collector c(limits);
  for (uint16_t p = 0; p < 20; ++p) c.Feed(TcpSeg(1, "INVITE sip:x SIP/2.0\r\n", 0x18, 41000 + p));
  EXPECT_EQ(c.dec().tcp_streams(), 8u);
  EXPECT_EQ(c.dec().tcp_stats().streams_evicted, 12u);
}

TEST(SipFrameLength, ContentLengthForms) {
  EXPECT_EQ(SipFrameLength("INVITE x SIP/2.0\r\nl: 3\r\n\r\nabcNEXT", 1000), 29);
  EXPECT_EQ(SipFrameLength("INVITE x SIP/2.0\r\nContent-Length:\r\n  3\r\n\r\nabc", 1000), 45);
  EXPECT_EQ(SipFrameLength("INVITE x SIP/2.0\r\nCONTENT-LENGTH: 3\r\n\r\nab", 1000), 0);
  EXPECT_EQ(SipFrameLength("INVITE x SIP/2.0\r\nVia: y\r\n\r\n", 1000), 28);  // missing: 0
  EXPECT_EQ(SipFrameLength("INVITE x SIP/2.0\r\nContent-Length: -1\r\n\r\n", 1000), -1);
  EXPECT_EQ(SipFrameLength("INVITE x SIP/2.0\r\nl: 1\r\nl: 2\r\n\r\n", 1000), -1);
  EXPECT_EQ(SipFrameLength("INVITE x SIP/2.0\r\nl: 99999\r\n\r\n", 1000), -1);
  EXPECT_EQ(SipFrameLength(std::string(2000, 'a'), 1000), -1);
  EXPECT_EQ(SipFrameLength("INVITE x SIP/2.0\r\nVia", 1000), 0);
}

// ---- the corpus, against tshark -------------------------------------------------------

std::string Corpus(const std::string& rel) { return std::string(SW_CORPUS_DIR) + "/" + rel; }

// First lines of the SIP messages the decoder yields from a capture, in order.
std::vector<std::string> OurFirstLines(const std::string& path, DecoderStats* stats = nullptr) {
  std::vector<std::string> lines;
  Decoder dec({}, [&](const AppMessage& m) {
    if (!LooksLikeSipStart(m.payload)) return;
    lines.emplace_back(m.payload.substr(0, m.payload.find("\r\n")));
  }, [](uint16_t p) { return p == 5060 || p == 5080; });
  auto src = PcapSource::Open(path);
  EXPECT_TRUE(src.ok()) << src.status();
  if (!src.ok()) return lines;
  CapturedFrame f;
  while (true) {
    auto more = (*src)->Next(&f);
    EXPECT_TRUE(more.ok()) << more.status();
    if (!more.ok() || !*more) break;
    dec.Frame((*src)->link_type(), f.ts_ns, f.data);
  }
  if (stats) *stats = dec.stats();
  return lines;
}

// First lines of the SIP messages tshark decodes, in order.
std::vector<std::string> TsharkFirstLines(const std::string& path, const std::string& extra) {
  const std::string cmd = "tshark -n -r '" + path + "' " + extra +
                          " -Y sip -T fields -E occurrence=a -E separator=/t -E aggregator=^ "
                          "-e sip.Request-Line -e sip.Status-Line 2>/dev/null";
  std::vector<std::string> out;
  std::unique_ptr<FILE, int (*)(FILE*)> p(popen(cmd.c_str(), "r"), pclose);
  if (!p) return out;
  std::array<char, 65536> buf;
  while (fgets(buf.data(), buf.size(), p.get())) {
    std::string line(buf.data());
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    // Several messages in one frame come as '^'-joined values per field;
    // request and status lines are tab-separated. Split on both.
    std::string cur;
    for (char ch : line + "\t") {
      if (ch == '\t' || ch == '^') {
        if (!cur.empty()) out.push_back(cur);
        cur.clear();
      } else {
        cur.push_back(ch);
      }
    }
  }
  return out;
}

struct CorpusCase {
  const char* file;
  const char* tshark_args;
};

class CorpusTransport : public ::testing::TestWithParam<CorpusCase> {};

TEST_P(CorpusTransport, YieldsTheMessagesTsharkDecodes) {
  const std::string path = Corpus(GetParam().file);
  ASSERT_TRUE(std::filesystem::exists(path)) << path << " missing (tests/data/corpus)";
  if (system("command -v tshark >/dev/null 2>&1") != 0) GTEST_SKIP() << "tshark not installed";
  auto ours = OurFirstLines(path);
  auto theirs = TsharkFirstLines(path, GetParam().tshark_args);
  ASSERT_FALSE(theirs.empty()) << "tshark decoded no SIP from " << path;
  // Compare as multisets (tshark orders messages within a frame by field).
  std::map<std::string, int> a, b;
  for (auto& l : ours) ++a[l];
  for (auto& l : theirs) ++b[l];
  EXPECT_EQ(a, b) << "ours " << ours.size() << " messages, tshark " << theirs.size();
}

INSTANTIATE_TEST_SUITE_P(
    Captures, CorpusTransport,
    ::testing::Values(CorpusCase{"pcaps/heplify/sip_ipv4_tcp.pcap", ""},
                      CorpusCase{"pcaps/heplify/sip_ipv4_tcp_retrans.pcap", ""},
                      CorpusCase{"pcaps/heplify/sip_ipv4_tcp_fragmented.pcap", "-d tcp.port==6060,sip"},
                      CorpusCase{"pcaps/heplify/sip_ipv6_udp.pcap", ""},
                      CorpusCase{"pcaps/heplify/rtp_rtcp_sip_ipv4_udp.pcap", ""},
                      CorpusCase{"pcaps/heplify/erspan_sip_ipv4_udp.pcapng", ""},
                      CorpusCase{"pcaps/sngrep/ipip.pcap", ""},
                      CorpusCase{"pcaps/sngrep/ipv6frag.pcap", ""},
                      CorpusCase{"pcaps/suricata-verify/sip-body-large/sip-body-large.pcap", ""}),
    [](const auto& info) {
      std::string n = std::filesystem::path(info.param.file).stem().string();
      for (char& ch : n) if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
      return n + "_" + std::to_string(info.index);
    });

}  // namespace
}  // namespace sw::net
