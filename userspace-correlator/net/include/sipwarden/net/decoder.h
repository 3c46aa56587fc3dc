// SPDX-License-Identifier: BSD-2-Clause
// From captured frames to application messages: link layers (Ethernet,
// Linux cooked v1/v2, raw IP, BSD loopback), up to several VLAN tags,
// IPv4/IPv6 with extension headers, IP-in-IP, GRE and ERSPAN encapsulation,
// IPv4 and IPv6 fragment reassembly, UDP, and TCP stream reassembly with SIP
// message framing by Content-Length. All state is bounded, its evictions are
// counted, and timeouts run on the frames' own timestamps (event time), never
// the wall clock.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "sipwarden/ip.h"
#include "sipwarden/net/tcp_stream.h"

namespace sw::net {

enum class LinkType : uint8_t {
  kEthernet,   // DLT_EN10MB
  kRawIp,      // DLT_RAW / LINKTYPE_IPV4 / LINKTYPE_IPV6
  kLinuxSll,   // DLT_LINUX_SLL
  kLinuxSll2,  // DLT_LINUX_SLL2
  kNull,       // DLT_NULL / DLT_LOOP (4-byte address family)
};

// Maps a pcap link-layer type number to ours; false if unsupported.
bool LinkTypeFromDlt(int dlt, LinkType* out);

enum EncapFlags : uint16_t {
  kEncapVlan = 1 << 0,
  kEncapIpInIp = 1 << 1,
  kEncapGre = 1 << 2,
  kEncapErspan = 1 << 3,
  kEncapFragmented = 1 << 4,   // the datagram was reassembled from IP fragments
  kEncapTcpStream = 1 << 5,    // framed out of a reassembled TCP stream
};

// One application-layer message: a UDP datagram's payload, or one SIP
// message framed out of a TCP stream. payload is valid during the callback.
struct AppMessage {
  int64_t ts_ns = 0;  // time of the frame that completed it
  IpAddress src, dst;
  uint16_t sport = 0, dport = 0;
  uint8_t transport = 0;  // IPPROTO_UDP or IPPROTO_TCP
  uint16_t vlan = 0;      // outermost VLAN id, 0 if none
  uint16_t encap = 0;     // EncapFlags
  uint64_t frame_no = 0;  // 1-based number of the frame that completed it
  std::string_view payload;
};

struct DecoderLimits {
  size_t max_frag_datagrams = 4096;         // datagrams being reassembled at once
  size_t max_frag_bytes = 16u << 20;        // bytes held for reassembly, all datagrams
  int64_t frag_timeout_ns = 30'000'000'000;  // RFC 791 suggests 15 s; Linux uses 30 s
  size_t max_tcp_streams = 65536;
  size_t max_tcp_buffer = 512u << 10;       // unframed bytes kept per direction
  size_t max_tcp_out_of_order = 64;         // segments held ahead of a gap
  size_t max_sip_message = 256u << 10;      // header block + body
  int64_t tcp_idle_timeout_ns = 600'000'000'000;
  int max_encap_depth = 4;
};

struct DecoderStats {
  uint64_t frames = 0;
  uint64_t truncated = 0;       // a header cut short or lengths beyond the frame
  uint64_t non_ip = 0;          // ARP, LLDP, ...
  uint64_t bad_ip = 0;          // bad version, IHL, lengths
  uint64_t unsupported_l4 = 0;  // neither UDP nor TCP (SCTP, ICMP, ...)
  uint64_t encapsulated = 0;    // frames with IP-in-IP, GRE or ERSPAN
  uint64_t fragments = 0;
  uint64_t reassembled = 0;
  uint64_t frag_evicted = 0;    // dropped for space
  uint64_t frag_timeouts = 0;
  uint64_t frag_overlaps = 0;
  uint64_t udp_datagrams = 0;
  uint64_t tcp_segments = 0;  // reassembly's own counters: Decoder::tcp_stats()
};

class Decoder {
 public:
  using Sink = std::function<void(const AppMessage&)>;
  // sip_tcp_port(port): whether TCP on this port is SIP. Streams on other
  // ports are followed only if their first bytes look like a SIP message.
  Decoder(DecoderLimits limits, Sink sink, std::function<bool(uint16_t)> sip_tcp_port = nullptr);
  ~Decoder();
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  // Decodes one captured frame.
  void Frame(LinkType link, int64_t ts_ns, std::span<const uint8_t> data);
  // Expires reassembly state older than the timeouts relative to ts_ns.
  void Advance(int64_t ts_ns);

  const DecoderStats& stats() const { return stats_; }
  size_t tcp_streams() const;
  const TcpStats& tcp_stats() const;
  size_t frag_datagrams() const;

 private:
  struct Ctx;
  class Fragments;

  void Ether(Ctx& c, std::span<const uint8_t> d, int depth);
  void L3(Ctx& c, uint16_t ethertype, std::span<const uint8_t> d, int depth);
  void Ipv4(Ctx& c, std::span<const uint8_t> d, int depth);
  void Ipv6(Ctx& c, std::span<const uint8_t> d, int depth);
  void Gre(Ctx& c, std::span<const uint8_t> d, int depth);
  void L4(Ctx& c, uint8_t proto, std::span<const uint8_t> d, int depth);

  DecoderLimits limits_;
  Sink sink_;
  std::function<bool(uint16_t)> sip_tcp_port_;
  DecoderStats stats_;
  std::unique_ptr<Fragments> frags_;
  std::unique_ptr<TcpReassembler> tcp_;
  uint64_t frame_no_ = 0;
};

// Whether bytes look like the start of a SIP message (request or status line).
bool LooksLikeSipStart(std::string_view bytes);

// Framing of SIP over a stream (RFC 3261 section 18.3): the length of the
// first complete message in buf, 0 if more bytes are needed, or -1 if buf
// cannot start a valid message (a malformed Content-Length, or a message
// larger than max_message). A missing Content-Length means an empty body, as
// most stacks read it. Leading CRLFs must have been removed.
int64_t SipFrameLength(std::string_view buf, size_t max_message);

}  // namespace sw::net
