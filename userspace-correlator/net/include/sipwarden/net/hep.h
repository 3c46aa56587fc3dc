// SPDX-License-Identifier: BSD-2-Clause
// HEPv3 (Homer Encapsulation Protocol) as proxies mirror what they route
// (Kamailio siptrace in HEP mode, OpenSIPS proto_hep, heplify): the original
// message's addresses, ports, transport and time, and its payload. This is how
// SIP over TLS and TCP that the kernel cannot read reaches the pipeline.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "sipwarden/ip.h"

namespace sw::net {

// HEP protocol types (chunk 0x000b).
enum class HepProto : uint8_t {
  kReserved = 0,
  kSip = 1,
  kXmpp = 2,
  kSdp = 3,
  kRtp = 4,
  kRtcp = 5,
  kMgcp = 6,
};

struct HepPacket {
  uint8_t family = 0;     // 2 (AF_INET) or 10 (AF_INET6)
  uint8_t ip_proto = 0;   // 17 UDP, 6 TCP, 132 SCTP; TLS and WS arrive as TCP
  IpAddress src, dst;
  uint16_t sport = 0, dport = 0;
  int64_t ts_ns = 0;      // capture time at the mirroring host
  uint8_t proto_type = 0; // HepProto
  uint32_t capture_id = 0;
  std::string_view correlation_id;
  uint16_t vlan = 0;
  std::string_view payload;  // views into the datagram
};

// Decodes one HEPv3 datagram. Errors name the fault (bad magic, a length that
// does not add up, a missing address or payload chunk); nothing is read
// beyond data. Compressed payloads (chunk 0x0010) are refused as unsupported.
absl::StatusOr<HepPacket> DecodeHep(std::span<const uint8_t> data);

// Builds a HEPv3 datagram (for tests, tools and the lab's mirrors).
std::string EncodeHep(const HepPacket& p);

}  // namespace sw::net
