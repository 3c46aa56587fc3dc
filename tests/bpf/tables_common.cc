// SPDX-License-Identifier: BSD-2-Clause
#include "absl/strings/str_cat.h"
#include "tables.h"

namespace sw::bpftest {

const std::vector<Tags>& TagVariants() {
  static const std::vector<Tags> v = {
      Untagged(),
      {"vlan8100", {{0x8100, 100}}},
      {"vlan88a8", {{0x88a8, 100}}},
      QinQ(),
      {"vlan8100x2_pcp", {{0x8100, 0xe000 | 100}, {0x8100, 200}}},
  };
  return v;
}

const Tags& Untagged() {
  static const Tags t{"untagged", {}};
  return t;
}

const Tags& QinQ() {
  static const Tags t{"qinq88a8_8100", {{0x88a8, 100}, {0x8100, 200}}};
  return t;
}

uint32_t VlanFlag(const Tags& tags) {
  uint32_t f = 0;
  if (tags.any()) f = SW_RECF_VLAN;
  return f;
}

std::string Fam(int family) { return family == 4 ? "v4" : "v6"; }

PacketBuilder FrameFrom(int family, std::string_view src, std::string_view dst, const Tags& tags) {
  PacketBuilder b;
  b.Eth();
  for (const auto& [tpid, tci] : tags.tags) b.Vlan(tci, tpid);
  if (family == 4) {
    b.IPv4(src, dst);
  } else {
    b.IPv6(src, dst);
  }
  return b;
}

PacketBuilder Frame(int family, const Tags& tags) {
  return FrameFrom(family, Src(family), Dst(family), tags);
}

std::string SrcPrefix(int family, int v4_len, int v6_len) {
  auto a = IpAddress::Parse(Src(family));
  if (!a.ok()) return "";
  IpAddress masked = *a;
  const int len = family == 4 ? v4_len : v6_len;
  const int total = family == 4 ? 32 : 128;
  const int skip = family == 4 ? 12 : 0;  // IPv4 lives in the last 4 bytes
  for (int bit = len; bit < total; ++bit) {
    masked.bytes[skip + bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  }
  return absl::StrCat(masked.ToString(), "/", len);
}

StatList SipPassed(bool tcp, bool request, uint64_t n) {
  return {{tcp ? "sip_tcp" : "sip_udp", n},
          {request ? "sip_requests" : "sip_responses", n},
          {"pass_sip", n},
          {"rb_records", n}};
}

}  // namespace sw::bpftest
