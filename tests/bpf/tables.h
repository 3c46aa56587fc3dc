// SPDX-License-Identifier: BSD-2-Clause
// The rows of the bpf tier, one function per theme, and what they share.
#pragma once

#include <linux/bpf.h>  // XDP_PASS, XDP_DROP
#include <netinet/in.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "harness.h"
#include "packet_builder.h"

namespace sw::bpftest {

using test::PacketBuilder;
using test::RtpPacket;
using test::SipRequest;
using test::SipResponse;

// VLAN tags of a frame, outermost first.
struct Tags {
  std::string name{};
  std::vector<std::pair<uint16_t, uint16_t>> tags{};  // (TPID, TCI)
  bool any() const { return !tags.empty(); }
  uint16_t vid() const { return tags.empty() ? 0 : tags[0].second & 0x0fff; }
  size_t l2_len() const { return 14 + 4 * tags.size(); }
};
// untagged, 802.1Q, 802.1ad, QinQ (88a8 outer, 8100 inner), double 8100
// (with priority bits in the outer TCI).
const std::vector<Tags>& TagVariants();
// SW_RECF_VLAN for a tagged frame.
uint32_t VlanFlag(const Tags& tags);
const Tags& Untagged();
const Tags& QinQ();

std::string Fam(int family);  // "v4" or "v6"
// Ethernet, the tags, and an IP header from Src(family) to Dst(family).
PacketBuilder Frame(int family, const Tags& tags = Untagged());
PacketBuilder FrameFrom(int family, std::string_view src, std::string_view dst,
                        const Tags& tags = Untagged());
// The prefix of length v4_len / v6_len around addr's family default source.
std::string SrcPrefix(int family, int v4_len, int v6_len);

// Counters a SIP message that is classified and passed moves.
StatList SipPassed(bool tcp, bool request, uint64_t n = 1);

std::vector<Case> ParsingCases();
std::vector<Case> MalformedCases();
std::vector<Case> ListCases();
std::vector<Case> SipCases();
std::vector<Case> RateCases();
std::vector<Case> RingCases();
std::vector<Case> MediaCases();
// Rows that need a ring buffer of kSmallRingBytes.
inline constexpr uint32_t kSmallRingBytes = 4096;
std::vector<Case> FullRingCases();

}  // namespace sw::bpftest
