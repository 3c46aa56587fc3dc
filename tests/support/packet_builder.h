// SPDX-License-Identifier: BSD-2-Clause
// Builds Ethernet frames layer by layer for BPF test runs and benchmarks:
//   PacketBuilder().Eth().Vlan(10).IPv4("192.0.2.1", "192.0.2.2").Udp(5060, 5060)
//       .Payload(SipRequest("INVITE")).Build();
// Lengths and checksums are computed at Build(); the Set*/Truncate calls
// override them to make malformed packets on purpose.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sw::test {

class PacketBuilder {
 public:
  PacketBuilder& Eth();
  PacketBuilder& Vlan(uint16_t vid, uint16_t tpid = 0x8100);
  PacketBuilder& IPv4(std::string_view src, std::string_view dst);
  PacketBuilder& IPv6(std::string_view src, std::string_view dst);
  // An IPv6 extension header (0 hop-by-hop, 43 routing, 60 destination
  // options, 51 AH) of the given length in 8-octet units beyond the first.
  PacketBuilder& Ipv6Ext(uint8_t type, uint8_t len8 = 0);
  // Marks the packet as a fragment: IPv4 flags/offset, or an IPv6 fragment
  // header. offset is in bytes (a multiple of 8).
  PacketBuilder& Fragment(uint16_t offset, bool more_fragments, uint32_t id = 0x1234);
  PacketBuilder& Udp(uint16_t sport, uint16_t dport);
  PacketBuilder& Tcp(uint16_t sport, uint16_t dport, uint8_t doff_words = 5);
  // TCP sequence number (default 1) and flags (default PSH|ACK).
  PacketBuilder& TcpSeq(uint32_t seq);
  PacketBuilder& TcpFlags(uint8_t flags);
  // An IP protocol number whose header, if any, is in Payload() (e.g. 47 GRE,
  // or 17 for the later pieces of a fragmented datagram).
  PacketBuilder& Proto(uint8_t proto);
  PacketBuilder& EtherType(uint16_t type);  // non-IP frame
  PacketBuilder& Payload(std::string_view bytes);

  // Deliberate damage.
  PacketBuilder& SetIhl(uint8_t ihl_words);
  PacketBuilder& SetIpTotalLen(uint16_t len);
  PacketBuilder& SetIpv6PayloadLen(uint16_t len);
  PacketBuilder& SetUdpLen(uint16_t len);
  PacketBuilder& SetIpVersion(uint8_t v);
  PacketBuilder& TruncateTo(size_t bytes);
  PacketBuilder& PadTo(size_t bytes);  // Ethernet padding after the IP datagram

  std::vector<uint8_t> Build() const;
  std::string BuildString() const;

 private:
  struct Vtag { uint16_t tpid, vid; };
  struct Ext { uint8_t type, len8; };
  std::vector<Vtag> vlans_;
  bool eth_ = false;
  std::optional<uint16_t> ethertype_;
  int ip_ = 0;  // 0 none, 4, 6
  uint8_t src_[16]{}, dst_[16]{};
  std::vector<Ext> exts_;
  bool frag_ = false;
  uint16_t frag_off_ = 0;
  bool frag_more_ = false;
  uint32_t frag_id_ = 0;
  int l4_ = -1;  // IPPROTO number
  bool raw_l4_ = false;  // Proto(): no L4 header of ours
  uint16_t sport_ = 0, dport_ = 0;
  uint8_t tcp_doff_ = 5;
  uint32_t tcp_seq_ = 1;
  uint8_t tcp_flags_ = 0x18;
  std::string payload_;
  std::optional<uint8_t> ihl_, ip_version_;
  std::optional<uint16_t> ip_total_len_, ip6_plen_, udp_len_;
  std::optional<size_t> truncate_, pad_;
};

// A complete SIP request with the usual headers (Via, From, To, Call-ID,
// CSeq, Max-Forwards, Content-Length) and an optional body.
std::string SipRequest(std::string_view method, std::string_view uri = "sip:bob@example.com",
                       std::string_view body = "");
// A complete SIP response.
std::string SipResponse(int code, std::string_view reason = "OK",
                        std::string_view cseq_method = "INVITE");
// An RTP v2 header plus payload bytes.
std::string RtpPacket(uint32_t ssrc, uint16_t seq, uint8_t payload_type, size_t payload_bytes = 160);

}  // namespace sw::test
