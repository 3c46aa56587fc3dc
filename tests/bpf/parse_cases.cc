// SPDX-License-Identifier: BSD-2-Clause
// Parsing: Ethernet and VLAN tags, IPv4 (IHL, fragments), IPv6 (extension
// headers, fragments), UDP and TCP, and what is not ours (non-IP, other L4).
#include "absl/strings/str_cat.h"
#include "tables.h"

namespace sw::bpftest {

std::vector<Case> ParsingCases() {
  std::vector<Case> t;
  const std::string invite = SipRequest("INVITE");
  const std::string part = invite.substr(0, 200);  // 8 + 200 fragment bytes: a multiple of 8
  const std::string cont =
      "Via: SIP/2.0/TCP 192.0.2.10:5060;branch=z9hG4bK-2\r\nContent-Length: 0\r\n\r\n";

  for (int fam : {4, 6}) {
    for (const Tags& tg : TagVariants()) {
      const bool vlan = tg.any();
      const uint32_t vf = VlanFlag(tg);
      const std::string p = absl::StrCat(Fam(fam), "/", tg.name, "/");
      t.push_back({.name = p + "udp_invite",
                   .packet = Frame(fam, tg).Udp(5060, 5060).Payload(invite).Build(),
                   .retval = XDP_PASS,
                   .stats = Cat(Seen(fam, vlan), SipPassed(false, true)),
                   .check = OneSip({.cls = SW_CLASS_INVITE,
                                    .family = fam,
                                    .payload = invite,
                                    .flags = vf,
                                    .vlan_id = tg.vid()})});
      t.push_back({.name = p + "tcp_invite",
                   .packet = Frame(fam, tg).Tcp(40000, 5060).Payload(invite).Build(),
                   .retval = XDP_PASS,
                   .stats = Cat(Seen(fam, vlan), SipPassed(true, true)),
                   .check = OneSip({.cls = SW_CLASS_INVITE,
                                    .family = fam,
                                    .transport = SW_TRANSPORT_TCP,
                                    .sport = 40000,
                                    .payload = invite,
                                    .flags = vf,
                                    .vlan_id = tg.vid()})});
      // Copied with its sequence number for the agent's stream reassembly;
      // not accounted to the source (it starts no message).
      t.push_back({.name = p + "tcp_continuation",
                   .packet = Frame(fam, tg).Tcp(40000, 5060).TcpSeq(0xfffffff0u).Payload(cont).Build(),
                   .retval = XDP_PASS,
                   .stats = Cat(Seen(fam, vlan),
                                {{"tcp_continuation", 1}, {"pass_other", 1}, {"rb_records", 1}}),
                   .check =
                       [fam, cont, vf, tg](Harness& h, const RunResult& r) {
                         ASSERT_EQ(r.records.size(), 1u);
                         ExpectSipRecord(r, r.records[0],
                                         {.family = fam,
                                          .transport = SW_TRANSPORT_TCP,
                                          .sport = 40000,
                                          .payload = cont,
                                          .flags = vf | SW_RECF_TCP_MIDSTREAM,
                                          .tcp_seq = 0xfffffff0u,
                                          .vlan_id = tg.vid()});
                         EXPECT_FALSE(SourceState(h, Src(fam)).has_value());
                       }});
      t.push_back({.name = p + "udp_first_fragment",
                   .packet = Frame(fam, tg)
                                 .Fragment(0, true)
                                 .Udp(5060, 5060)
                                 .SetUdpLen(static_cast<uint16_t>(8 + invite.size()))
                                 .Payload(part)
                                 .Build(),
                   .retval = XDP_PASS,
                   .stats = Cat(Cat(Seen(fam, vlan), {{"frag_first", 1}}), SipPassed(false, true)),
                   .check = OneSip({.cls = SW_CLASS_INVITE,
                                    .family = fam,
                                    .payload = part,
                                    .orig_len = static_cast<uint32_t>(invite.size()),
                                    .flags = vf | SW_RECF_FRAGMENT | SW_RECF_TRUNCATED,
                                    .vlan_id = tg.vid()})});
      t.push_back({.name = p + "later_fragment",
                   .packet = Frame(fam, tg)
                                 .Fragment(208, false)
                                 .Proto(IPPROTO_UDP)
                                 .Payload(invite.substr(200))
                                 .Build(),
                   .retval = XDP_PASS,
                   .stats = Cat(Seen(fam, vlan), {{"frag_later", 1}, {"pass_other", 1}})});
    }

    const std::string p = Fam(fam) + "/";
    t.push_back({.name = p + "middle_fragment",
                 .packet = Frame(fam).Fragment(1480, true).Udp(5060, 5060).Payload(part).Build(),
                 .retval = XDP_PASS,
                 .stats = Cat(Seen(fam), {{"frag_later", 1}, {"pass_other", 1}})});
    t.push_back({.name = p + "tcp_first_fragment_sip",
                 .packet = Frame(fam).Fragment(0, true).Tcp(40000, 5060).Payload(invite).Build(),
                 .retval = XDP_PASS,
                 .stats = Cat(Cat(Seen(fam), {{"frag_first", 1}}), SipPassed(true, true)),
                 .check = OneSip({.cls = SW_CLASS_INVITE,
                                  .family = fam,
                                  .transport = SW_TRANSPORT_TCP,
                                  .sport = 40000,
                                  .payload = invite,
                                  .flags = SW_RECF_FRAGMENT})});
    t.push_back({.name = p + "tcp_options_doff8",
                 .packet = Frame(fam).Tcp(40000, 5080, 8).Payload(invite).Build(),
                 .retval = XDP_PASS,
                 .stats = Cat(Seen(fam), SipPassed(true, true)),
                 .check = OneSip({.cls = SW_CLASS_INVITE,
                                  .family = fam,
                                  .transport = SW_TRANSPORT_TCP,
                                  .sport = 40000,
                                  .dport = 5080,
                                  .payload = invite})});
    t.push_back({.name = p + "tcp_options_doff15",
                 .packet = Frame(fam).Tcp(5060, 40000, 15).Payload(invite).Build(),
                 .retval = XDP_PASS,
                 .stats = Cat(Seen(fam), SipPassed(true, true)),
                 .check = OneSip({.cls = SW_CLASS_INVITE,
                                  .family = fam,
                                  .transport = SW_TRANSPORT_TCP,
                                  .dport = 40000,
                                  .payload = invite})});
    t.push_back({.name = p + "tcp_pure_ack",
                 .packet = Frame(fam).Tcp(40000, 5060).Build(),
                 .retval = XDP_PASS,
                 .stats = Cat(Seen(fam), {{"pass_other", 1}})});
    t.push_back({.name = p + "tcp_sip_on_other_port",
                 .packet = Frame(fam).Tcp(40000, 8080).Payload(invite).Build(),
                 .retval = XDP_PASS,
                 .stats = Cat(Seen(fam), {{"pass_other", 1}})});
    t.push_back({.name = p + "udp_sip_on_other_port",
                 .packet = Frame(fam).Udp(40000, 6000).Payload(invite).Build(),
                 .retval = XDP_PASS,
                 .stats = Cat(Seen(fam), {{"pass_other", 1}})});
    t.push_back({.name = p + "gre",
                 .packet = Frame(fam).Proto(47).Payload(invite).Build(),
                 .retval = XDP_PASS,
                 .stats = Cat(Seen(fam), {{"pass_other", 1}})});
    t.push_back({.name = p + "sctp_to_5060",
                 .packet = Frame(fam).Proto(132).Payload(std::string(4, '\x13') + invite).Build(),
                 .retval = XDP_PASS,
                 .stats = Cat(Seen(fam), {{"pass_other", 1}})});
  }

  // IPv4 header options: the L4 header is found through IHL.
  for (uint8_t ihl = 6; ihl <= 15; ++ihl) {
    t.push_back({.name = absl::StrCat("v4/ihl", static_cast<int>(ihl), "_udp_invite"),
                 .packet = Frame(4).SetIhl(ihl).Udp(5060, 5060).Payload(invite).Build(),
                 .retval = XDP_PASS,
                 .stats = Cat(Seen(4), SipPassed(false, true)),
                 .check = OneSip({.cls = SW_CLASS_INVITE, .payload = invite})});
  }
  t.push_back({.name = "v4/ihl15_qinq_tcp_doff15_invite",
               .packet = Frame(4, QinQ()).SetIhl(15).Tcp(40000, 5060, 15).Payload(invite).Build(),
               .retval = XDP_PASS,
               .stats = Cat(Seen(4, true), SipPassed(true, true)),
               .check = OneSip({.cls = SW_CLASS_INVITE,
                                .transport = SW_TRANSPORT_TCP,
                                .sport = 40000,
                                .payload = invite,
                                .flags = SW_RECF_VLAN,
                                .vlan_id = 100})});
  t.push_back({.name = "v4/ihl8_first_fragment",
               .packet = Frame(4)
                             .SetIhl(8)
                             .Fragment(0, true)
                             .Udp(5060, 5060)
                             .SetUdpLen(static_cast<uint16_t>(8 + invite.size()))
                             .Payload(part)
                             .Build(),
               .retval = XDP_PASS,
               .stats = Cat(Cat(Seen(4), {{"frag_first", 1}}), SipPassed(false, true)),
               .check = OneSip({.cls = SW_CLASS_INVITE,
                                .payload = part,
                                .orig_len = static_cast<uint32_t>(invite.size()),
                                .flags = SW_RECF_FRAGMENT | SW_RECF_TRUNCATED})});

  // IPv6 extension headers are skipped (up to six of them).
  struct Chain {
    std::string name;
    std::vector<std::pair<uint8_t, uint8_t>> exts;  // (type, len8)
  };
  const std::vector<Chain> chains = {
      {"hopopts", {{0, 0}}},
      {"hopopts_len2", {{0, 2}}},
      {"routing", {{43, 2}}},
      {"dstopts", {{60, 1}}},
      {"ah", {{51, 4}}},
      {"hop_routing_dst", {{0, 0}, {43, 0}, {60, 0}}},
      {"six_headers", {{0, 0}, {43, 1}, {60, 0}, {60, 3}, {51, 2}, {60, 0}}},
  };
  for (const auto& c : chains) {
    for (const Tags* tg : {&Untagged(), &QinQ()}) {
      PacketBuilder b = Frame(6, *tg);
      for (const auto& [type, len8] : c.exts) b.Ipv6Ext(type, len8);
      const std::string p = absl::StrCat("v6/", tg->name, "/ext_", c.name);
      t.push_back({.name = p + "_udp_invite",
                   .packet = PacketBuilder(b).Udp(5060, 5060).Payload(invite).Build(),
                   .retval = XDP_PASS,
                   .stats = Cat(Seen(6, tg->any()), SipPassed(false, true)),
                   .check = OneSip({.cls = SW_CLASS_INVITE,
                                    .family = 6,
                                    .payload = invite,
                                    .flags = VlanFlag(*tg),
                                    .vlan_id = tg->vid()})});
      t.push_back({.name = p + "_tcp_invite",
                   .packet = PacketBuilder(b).Tcp(40000, 5060).Payload(invite).Build(),
                   .retval = XDP_PASS,
                   .stats = Cat(Seen(6, tg->any()), SipPassed(true, true)),
                   .check = OneSip({.cls = SW_CLASS_INVITE,
                                    .family = 6,
                                    .transport = SW_TRANSPORT_TCP,
                                    .sport = 40000,
                                    .payload = invite,
                                    .flags = VlanFlag(*tg),
                                    .vlan_id = tg->vid()})});
    }
  }
  // Extension headers before a fragment header.
  t.push_back({.name = "v6/ext_hop_dst_first_fragment",
               .packet = Frame(6)
                             .Ipv6Ext(0)
                             .Ipv6Ext(60, 1)
                             .Fragment(0, true)
                             .Udp(5060, 5060)
                             .SetUdpLen(static_cast<uint16_t>(8 + invite.size()))
                             .Payload(part)
                             .Build(),
               .retval = XDP_PASS,
               .stats = Cat(Cat(Seen(6), {{"frag_first", 1}}), SipPassed(false, true)),
               .check = OneSip({.cls = SW_CLASS_INVITE,
                                .family = 6,
                                .payload = part,
                                .orig_len = static_cast<uint32_t>(invite.size()),
                                .flags = SW_RECF_FRAGMENT | SW_RECF_TRUNCATED})});
  t.push_back({.name = "v6/ext_routing_later_fragment",
               .packet = Frame(6)
                             .Ipv6Ext(43, 2)
                             .Fragment(208, false)
                             .Proto(IPPROTO_UDP)
                             .Payload(invite.substr(200))
                             .Build(),
               .retval = XDP_PASS,
               .stats = Cat(Seen(6), {{"frag_later", 1}, {"pass_other", 1}})});
  // An atomic fragment (offset 0, no more fragments) is a whole datagram.
  t.push_back({.name = "v6/atomic_fragment",
               .packet = Frame(6).Fragment(0, false).Udp(5060, 5060).Payload(invite).Build(),
               .retval = XDP_PASS,
               .stats = Cat(Seen(6), SipPassed(false, true)),
               .check = OneSip({.cls = SW_CLASS_INVITE, .family = 6, .payload = invite})});
  // The parser follows at most SW_MAX_IPV6_EXT headers, then passes the packet
  // as something it does not track.
  t.push_back({.name = "v6/seven_ext_headers_passed_untracked",
               .packet = Frame(6)
                             .Ipv6Ext(0)
                             .Ipv6Ext(60)
                             .Ipv6Ext(60)
                             .Ipv6Ext(60)
                             .Ipv6Ext(60)
                             .Ipv6Ext(60)
                             .Ipv6Ext(60)
                             .Udp(5060, 5060)
                             .Payload(invite)
                             .Build(),
               .retval = XDP_PASS,
               .stats = Cat(Seen(6), {{"pass_other", 1}})});

  // Not IP at all.
  for (const Tags& tg : TagVariants()) {
    t.push_back({.name = "arp/" + tg.name,
                 .packet =
                     [&] {
                       PacketBuilder b;
                       b.Eth();
                       for (const auto& [tpid, tci] : tg.tags) b.Vlan(tci, tpid);
                       return b.EtherType(0x0806).Payload(std::string(28, '\x01')).Build();
                     }(),
                 .retval = XDP_PASS,
                 .stats = tg.any() ? StatList{{"rx_packets", 1}, {"vlan", 1}, {"pass_non_ip", 1}}
                                   : StatList{{"rx_packets", 1}, {"pass_non_ip", 1}}});
  }
  // A third tag is not followed: what follows two tags is not IP to us.
  t.push_back({.name = "three_vlan_tags",
               .packet = PacketBuilder()
                             .Eth()
                             .Vlan(100, 0x88a8)
                             .Vlan(200)
                             .Vlan(300)
                             .IPv4(kSrc4, kDst4)
                             .Udp(5060, 5060)
                             .Payload(invite)
                             .Build(),
               .retval = XDP_PASS,
               .stats = {{"rx_packets", 1}, {"vlan", 1}, {"pass_non_ip", 1}}});
  return t;
}

}  // namespace sw::bpftest
