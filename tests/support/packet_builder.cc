// SPDX-License-Identifier: BSD-2-Clause
#include "packet_builder.h"

#include <arpa/inet.h>

#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace sw::test {
namespace {

void Put16(std::string& b, size_t at, uint16_t v) {
  b[at] = static_cast<char>(v >> 8);
  b[at + 1] = static_cast<char>(v & 0xff);
}

uint16_t Checksum(const std::string& b, size_t off, size_t len, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < len; i += 2) {
    sum += (static_cast<uint8_t>(b[off + i]) << 8) | static_cast<uint8_t>(b[off + i + 1]);
  }
  if (len & 1) sum += static_cast<uint8_t>(b[off + len - 1]) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

void ParseAddr(int family, std::string_view text, uint8_t out[16]) {
  std::string s(text);
  if (inet_pton(family == 4 ? AF_INET : AF_INET6, s.c_str(), out) != 1) {
    throw std::invalid_argument("bad address in test packet: " + s);
  }
}

}  // namespace

PacketBuilder& PacketBuilder::Eth() { eth_ = true; return *this; }
PacketBuilder& PacketBuilder::Vlan(uint16_t vid, uint16_t tpid) { vlans_.push_back({tpid, vid}); return *this; }
PacketBuilder& PacketBuilder::IPv4(std::string_view s, std::string_view d) {
  ip_ = 4;
  ParseAddr(4, s, src_);
  ParseAddr(4, d, dst_);
  return *this;
}
PacketBuilder& PacketBuilder::IPv6(std::string_view s, std::string_view d) {
  ip_ = 6;
  ParseAddr(6, s, src_);
  ParseAddr(6, d, dst_);
  return *this;
}
PacketBuilder& PacketBuilder::Ipv6Ext(uint8_t type, uint8_t len8) { exts_.push_back({type, len8}); return *this; }
PacketBuilder& PacketBuilder::Fragment(uint16_t offset, bool more, uint32_t id) {
  frag_ = true;
  frag_off_ = offset;
  frag_more_ = more;
  frag_id_ = id;
  return *this;
}
PacketBuilder& PacketBuilder::Udp(uint16_t s, uint16_t d) { l4_ = 17; sport_ = s; dport_ = d; return *this; }
PacketBuilder& PacketBuilder::Tcp(uint16_t s, uint16_t d, uint8_t doff) {
  l4_ = 6; sport_ = s; dport_ = d; tcp_doff_ = doff; return *this;
}
PacketBuilder& PacketBuilder::TcpSeq(uint32_t seq) { tcp_seq_ = seq; return *this; }
PacketBuilder& PacketBuilder::TcpFlags(uint8_t flags) { tcp_flags_ = flags; return *this; }
PacketBuilder& PacketBuilder::Proto(uint8_t p) { l4_ = p; raw_l4_ = true; return *this; }
PacketBuilder& PacketBuilder::EtherType(uint16_t t) { ethertype_ = t; return *this; }
PacketBuilder& PacketBuilder::Payload(std::string_view b) { payload_.append(b); return *this; }
PacketBuilder& PacketBuilder::SetIhl(uint8_t v) { ihl_ = v; return *this; }
PacketBuilder& PacketBuilder::SetIpTotalLen(uint16_t v) { ip_total_len_ = v; return *this; }
PacketBuilder& PacketBuilder::SetIpv6PayloadLen(uint16_t v) { ip6_plen_ = v; return *this; }
PacketBuilder& PacketBuilder::SetUdpLen(uint16_t v) { udp_len_ = v; return *this; }
PacketBuilder& PacketBuilder::SetIpVersion(uint8_t v) { ip_version_ = v; return *this; }
PacketBuilder& PacketBuilder::TruncateTo(size_t n) { truncate_ = n; return *this; }
PacketBuilder& PacketBuilder::PadTo(size_t n) { pad_ = n; return *this; }

std::string PacketBuilder::BuildString() const {
  std::string b;
  // L4 first, so that lengths are known.
  std::string l4;
  if (raw_l4_) {
    l4 = payload_;
  } else if (l4_ == 17) {
    l4.assign(8, '\0');
    Put16(l4, 0, sport_);
    Put16(l4, 2, dport_);
    Put16(l4, 4, udp_len_.value_or(static_cast<uint16_t>(8 + payload_.size())));
    l4 += payload_;
  } else if (l4_ == 6) {
    l4.assign(tcp_doff_ * 4u, '\0');
    Put16(l4, 0, sport_);
    Put16(l4, 2, dport_);
    if (l4.size() >= 8) {
      l4[4] = static_cast<char>(tcp_seq_ >> 24);
      l4[5] = static_cast<char>(tcp_seq_ >> 16);
      l4[6] = static_cast<char>(tcp_seq_ >> 8);
      l4[7] = static_cast<char>(tcp_seq_);
    }
    if (l4.size() > 12) {
      l4[12] = static_cast<char>(tcp_doff_ << 4);
      l4[13] = static_cast<char>(tcp_flags_);
      Put16(l4, 14, 65535);
    }
    l4 += payload_;
  } else {
    l4 = payload_;
  }

  std::string l3;
  const uint8_t proto = l4_ >= 0 ? static_cast<uint8_t>(l4_) : 59;
  if (ip_ == 4) {
    const uint8_t ihl = ihl_.value_or(5);
    const size_t hlen = std::max<size_t>(ihl, 5) * 4;
    l3.assign(hlen, '\0');
    l3[0] = static_cast<char>((ip_version_.value_or(4) << 4) | (ihl & 0x0f));
    Put16(l3, 2, ip_total_len_.value_or(static_cast<uint16_t>(hlen + l4.size())));
    Put16(l3, 4, static_cast<uint16_t>(frag_id_));
    if (frag_) Put16(l3, 6, static_cast<uint16_t>((frag_more_ ? 0x2000 : 0) | (frag_off_ / 8)));
    l3[8] = 64;
    l3[9] = static_cast<char>(proto);
    std::memcpy(&l3[12], src_, 4);
    std::memcpy(&l3[16], dst_, 4);
    Put16(l3, 10, Checksum(l3, 0, hlen));
    if (l4_ == 17 && !raw_l4_ && !frag_) {
      // UDP checksum over the pseudo-header (a zero checksum is also legal).
      uint32_t sum = 0;
      for (int i = 0; i < 8; i += 2) sum += (l3[12 + i] & 0xff) << 8 | (l3[13 + i] & 0xff);
      sum += 17 + static_cast<uint32_t>(l4.size());
      Put16(l4, 6, Checksum(l4, 0, l4.size(), sum));
    }
    l3 += l4;
  } else if (ip_ == 6) {
    l3.assign(40, '\0');
    l3[0] = static_cast<char>(ip_version_.value_or(6) << 4);
    std::string ext;
    std::vector<uint8_t> chain;
    for (const auto& e : exts_) chain.push_back(e.type);
    if (frag_) chain.push_back(44);
    chain.push_back(proto);
    size_t ci = 0;
    for (const auto& e : exts_) {
      std::string h(e.type == 51 ? (e.len8 + 2) * 4 : (e.len8 + 1) * 8, '\0');
      h[0] = static_cast<char>(chain[++ci]);
      h[1] = static_cast<char>(e.len8);
      if (e.type == 60 || e.type == 0) { h[2] = 1; h[3] = static_cast<char>(h.size() - 4); }  // PadN
      ext += h;
    }
    if (frag_) {
      std::string h(8, '\0');
      h[0] = static_cast<char>(chain[++ci]);
      Put16(h, 2, static_cast<uint16_t>((frag_off_ & 0xfff8) | (frag_more_ ? 1 : 0)));
      h[4] = static_cast<char>(frag_id_ >> 24); h[5] = static_cast<char>(frag_id_ >> 16);
      h[6] = static_cast<char>(frag_id_ >> 8); h[7] = static_cast<char>(frag_id_);
      ext += h;
    }
    l3[6] = static_cast<char>(chain[0]);
    l3[7] = 64;
    std::memcpy(&l3[8], src_, 16);
    std::memcpy(&l3[24], dst_, 16);
    if (l4_ == 17 && !raw_l4_ && !frag_) {
      uint32_t sum = 0;
      for (int i = 0; i < 32; i += 2) sum += (l3[8 + i] & 0xff) << 8 | (l3[9 + i] & 0xff);
      sum += 17 + static_cast<uint32_t>(l4.size());
      Put16(l4, 6, Checksum(l4, 0, l4.size(), sum));
    }
    Put16(l3, 4, ip6_plen_.value_or(static_cast<uint16_t>(ext.size() + l4.size())));
    l3 += ext;
    l3 += l4;
  } else {
    l3 = l4;
  }

  if (eth_) {
    b.assign(12, '\0');
    const uint8_t dmac[6] = {0x02, 0, 0, 0, 0, 0x02}, smac[6] = {0x02, 0, 0, 0, 0, 0x01};
    std::memcpy(&b[0], dmac, 6);
    std::memcpy(&b[6], smac, 6);
    for (const auto& v : vlans_) {
      std::string t(4, '\0');
      Put16(t, 0, v.tpid);
      Put16(t, 2, v.vid);
      b += t;
    }
    std::string et(2, '\0');
    Put16(et, 0, ethertype_.value_or(ip_ == 6 ? 0x86dd : 0x0800));
    b += et;
  }
  b += l3;
  if (pad_ && b.size() < *pad_) b.resize(*pad_, '\0');
  if (truncate_ && b.size() > *truncate_) b.resize(*truncate_);
  return b;
}

std::vector<uint8_t> PacketBuilder::Build() const {
  const std::string s = BuildString();
  return std::vector<uint8_t>(s.begin(), s.end());
}

std::string SipRequest(std::string_view method, std::string_view uri, std::string_view body) {
  std::string m;
  m += std::string(method) + " " + std::string(uri) + " SIP/2.0\r\n";
  m += "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds\r\n";
  m += "Max-Forwards: 70\r\n";
  m += "From: Alice <sip:alice@example.com>;tag=1928301774\r\n";
  m += "To: Bob <" + std::string(uri) + ">\r\n";
  m += "Call-ID: a84b4c76e66710@pc33.example.com\r\n";
  m += "CSeq: 314159 " + std::string(method) + "\r\n";
  m += "Contact: <sip:alice@192.0.2.10>\r\n";
  if (!body.empty()) m += "Content-Type: application/sdp\r\n";
  m += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  m += body;
  return m;
}

std::string SipResponse(int code, std::string_view reason, std::string_view cseq_method) {
  std::string m;
  m += "SIP/2.0 " + std::to_string(code) + " " + std::string(reason) + "\r\n";
  m += "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds\r\n";
  m += "From: Alice <sip:alice@example.com>;tag=1928301774\r\n";
  m += "To: Bob <sip:bob@example.com>;tag=a6c85cf\r\n";
  m += "Call-ID: a84b4c76e66710@pc33.example.com\r\n";
  m += "CSeq: 314159 " + std::string(cseq_method) + "\r\n";
  m += "Content-Length: 0\r\n\r\n";
  return m;
}

std::string RtpPacket(uint32_t ssrc, uint16_t seq, uint8_t pt, size_t payload_bytes) {
  std::string r(12, '\0');
  r[0] = static_cast<char>(0x80);
  r[1] = static_cast<char>(pt & 0x7f);
  Put16(r, 2, seq);
  r[8] = static_cast<char>(ssrc >> 24); r[9] = static_cast<char>(ssrc >> 16);
  r[10] = static_cast<char>(ssrc >> 8); r[11] = static_cast<char>(ssrc);
  r.append(payload_bytes, static_cast<char>(0xd5));
  return r;
}

}  // namespace sw::test
