// SPDX-License-Identifier: BSD-2-Clause
// Malformed input: truncated or inconsistent headers and bytes on a SIP port
// that are not SIP. Each is passed by default and dropped with
// SW_CFG_DROP_MALFORMED, counted in `malformed`, never classified as SIP.
// Near misses (keep-alives, TCP continuations, Ethernet padding) are neither.
#include <gtest/gtest.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "sipwarden/sip/text.h"
#include "tables.h"

namespace sw::bpftest {
namespace {

struct Bad {
  std::string name;
  std::vector<uint8_t> packet;
  StatList seen;  // counters moved before the packet is found malformed
};

// Declares an IP payload of l4_bytes and cuts the frame right after it.
PacketBuilder& Cut(PacketBuilder& b, int family, const Tags& tg, size_t l4_bytes) {
  if (family == 4) {
    b.SetIpTotalLen(static_cast<uint16_t>(20 + l4_bytes));
    b.TruncateTo(tg.l2_len() + 20 + l4_bytes);
  } else {
    b.SetIpv6PayloadLen(static_cast<uint16_t>(l4_bytes));
    b.TruncateTo(tg.l2_len() + 40 + l4_bytes);
  }
  return b;
}

std::string RandomBytes(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  for (auto& c : s) {
    seed = seed * 1103515245u + 12345u;
    c = static_cast<char>(seed >> 16);
  }
  s[0] = '\x9c';  // neither an upper-case letter nor CR
  return s;
}

// A payload on a SIP port whose first line the kernel refuses still goes to
// the agent when it starts like a request (at least 12 bytes, a token
// character first, not a "SIP/2.0 " status line): the agent's parser reports
// the refusal as an event. Binary noise and broken status lines do not.
bool CopiedAsRefused(std::string_view p) {
  if (p.size() < 12 || !sip::IsTokenChar(p[0])) return false;
  const bool sip = (p[0] | 0x20) == 's' && (p[1] | 0x20) == 'i' && (p[2] | 0x20) == 'p';
  return !(sip && p.substr(3, 5) == "/2.0 ");
}

std::vector<Bad> BadPackets() {
  std::vector<Bad> v;
  const std::string invite = SipRequest("INVITE");
  const uint16_t udp_len = static_cast<uint16_t>(8 + invite.size());
  const StatList rx = {{"rx_packets", 1}};

  // Layer 2.
  v.push_back({"truncated_8100_tag",
               PacketBuilder().Eth().EtherType(0x8100).Payload(std::string(1, '\0')).Build(), rx});
  v.push_back({"truncated_88a8_tag",
               PacketBuilder().Eth().EtherType(0x88a8).Payload(std::string("\x00\x64", 2)).Build(),
               rx});
  v.push_back(
      {"truncated_second_tag",
       PacketBuilder().Eth().Vlan(100, 0x88a8).EtherType(0x8100).Payload("\x00\x01").Build(), rx});

  for (int fam : {4, 6}) {
    for (const Tags* tg : {&Untagged(), &QinQ()}) {
      const std::string p = absl::StrCat(Fam(fam), "/", tg->name, "/");
      const StatList seen = Seen(fam, tg->any());
      const StatList not_sip = Cat(seen, {{"sip_port_not_sip", 1}});
      auto f = [&] { return Frame(fam, *tg); };
      const size_t l2 = tg->l2_len();

      // Layer 3.
      if (fam == 4) {
        v.push_back({p + "ipv4_cut_at_19",
                     f().Udp(5060, 5060).Payload(invite).TruncateTo(l2 + 19).Build(), seen});
        v.push_back({p + "ipv4_cut_at_10",
                     f().Udp(5060, 5060).Payload(invite).TruncateTo(l2 + 10).Build(), seen});
        v.push_back({p + "ipv4_nothing_after_l2",
                     f().Udp(5060, 5060).Payload(invite).TruncateTo(l2).Build(), seen});
        for (uint8_t ihl : {0, 1, 4}) {
          v.push_back({absl::StrCat(p, "ihl", static_cast<int>(ihl)),
                       f().SetIhl(ihl).Udp(5060, 5060).Payload(invite).Build(), seen});
        }
        v.push_back({p + "ip_version_5",
                     f().SetIpVersion(5).Udp(5060, 5060).Payload(invite).Build(), seen});
        v.push_back({p + "ip_version_6_in_ipv4_frame",
                     f().SetIpVersion(6).Udp(5060, 5060).Payload(invite).Build(), seen});
        v.push_back({p + "total_len_beyond_frame",
                     f().SetIpTotalLen(static_cast<uint16_t>(20 + udp_len + 1))
                         .Udp(5060, 5060)
                         .Payload(invite)
                         .Build(),
                     seen});
        v.push_back({p + "total_len_below_ihl",
                     f().SetIpTotalLen(19).Udp(5060, 5060).Payload(invite).Build(), seen});
        v.push_back({p + "ihl15_total_len_40",
                     f().SetIhl(15).SetIpTotalLen(40).Udp(5060, 5060).Payload(invite).Build(),
                     seen});
        v.push_back({p + "frame_cut_in_payload",
                     f().Udp(5060, 5060).Payload(invite).TruncateTo(l2 + 20 + 8 + 100).Build(),
                     seen});
      } else {
        v.push_back({p + "ipv6_cut_at_39",
                     f().Udp(5060, 5060).Payload(invite).TruncateTo(l2 + 39).Build(), seen});
        v.push_back({p + "ipv6_cut_at_8",
                     f().Udp(5060, 5060).Payload(invite).TruncateTo(l2 + 8).Build(), seen});
        v.push_back({p + "ip_version_4_in_ipv6_frame",
                     f().SetIpVersion(4).Udp(5060, 5060).Payload(invite).Build(), seen});
        v.push_back({p + "payload_len_beyond_frame",
                     f().SetIpv6PayloadLen(static_cast<uint16_t>(udp_len + 1))
                         .Udp(5060, 5060)
                         .Payload(invite)
                         .Build(),
                     seen});
        v.push_back({p + "ext_header_beyond_payload",
                     f().Ipv6Ext(0, 1).Udp(5060, 5060).Payload(invite).SetIpv6PayloadLen(8).Build(),
                     seen});
        v.push_back(
            {p + "ah_beyond_payload",
             f().Ipv6Ext(51, 4).Udp(5060, 5060).Payload(invite).SetIpv6PayloadLen(16).Build(),
             seen});
        v.push_back(
            {p + "ext_header_cut",
             f().Ipv6Ext(60).Udp(5060, 5060).SetIpv6PayloadLen(1).TruncateTo(l2 + 41).Build(),
             seen});
        v.push_back(
            {p + "fragment_header_cut",
             f().Fragment(0, true).Udp(5060, 5060).SetIpv6PayloadLen(4).TruncateTo(l2 + 44).Build(),
             seen});
        v.push_back({p + "frame_cut_in_payload",
                     f().Udp(5060, 5060).Payload(invite).TruncateTo(l2 + 40 + 8 + 100).Build(),
                     seen});
      }

      // Layer 4.
      {
        PacketBuilder b = f();
        b.Udp(5060, 5060).Payload(invite);
        v.push_back({p + "udp_header_cut_at_4", Cut(b, fam, *tg, 4).Build(), seen});
      }
      {
        PacketBuilder b = f();
        b.Tcp(40000, 5060).Payload(invite);
        v.push_back({p + "tcp_header_cut_at_12", Cut(b, fam, *tg, 12).Build(), seen});
      }
      {
        PacketBuilder b = f();
        b.Tcp(40000, 5060, 15);
        v.push_back({p + "tcp_doff_beyond_segment", Cut(b, fam, *tg, 40).Build(), seen});
      }
      v.push_back({p + "tcp_doff_4", f().Tcp(40000, 5060, 4).Payload(invite).Build(), seen});
      v.push_back({p + "udp_len_beyond_packet",
                   f().Udp(5060, 5060).Payload(invite).SetUdpLen(udp_len + 1).Build(), seen});
      // The padding would cover the claimed UDP length; the IP length does not.
      v.push_back({p + "udp_len_into_ethernet_padding",
                   f().Udp(5060, 5060).Payload("ab").SetUdpLen(8 + 2 + 8).PadTo(96).Build(), seen});
      for (uint16_t len : {0, 7}) {
        v.push_back({absl::StrCat(p, "udp_len_", len),
                     f().Udp(5060, 5060).Payload(invite).SetUdpLen(len).Build(), seen});
      }
      v.push_back({p + "udp_len_7_other_port",
                   f().Udp(40000, 6000).Payload("rtp?").SetUdpLen(7).Build(), seen});

      // Not SIP on a SIP port (UDP).
      auto on5060 = [&](std::string name, std::string_view payload) {
        v.push_back({p + name, f().Udp(40000, 5060).Payload(payload).Build(),
                     CopiedAsRefused(payload) ? Cat(not_sip, {{"rb_records", 1}}) : not_sip});
      };
      on5060("empty_payload", "");
      on5060("http_get", "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
      on5060("random_binary", RandomBytes(64, 7u + fam));
      on5060("tls_client_hello",
             std::string("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", 11) + RandomBytes(40, 99));
      on5060("request_version_cut", "INVITE sip:bob@example.com SIP/2");
      on5060("request_without_crlf", "INVITE sip:bob@example.com SIP/2.0");
      on5060("response_cut", "SIP/2.0 20");
      on5060("response_without_reason", "SIP/2.0 200");
      on5060("response_status_not_digits", "SIP/2.0 2x0 OK\r\n\r\n");
      on5060("response_status_700", "SIP/2.0 700 Seven\r\n\r\n");
      on5060("response_status_099", "SIP/2.0 099 Zero\r\n\r\n");
      on5060("response_no_space_after_status", "SIP/2.0 200OK\r\n\r\n");
      on5060("sip_version_3", "SIP/3.0 200 OK\r\n\r\n");
      on5060("leading_space", " " + invite);
      on5060("method_bad_char", "INV@TE sip:bob@example.com SIP/2.0\r\n\r\n");
      on5060("request_version_2_1", "INVITE sip:bob@example.com SIP/2.1\r\n\r\n");
      on5060("request_without_uri", "INVITE SIP/2.0\r\n\r\n");
      on5060("method_then_crlf", "INVITE\r\nVia: SIP/2.0/UDP x\r\n\r\n");
      // A cut-short first line does not borrow the version of the next line.
      on5060("first_line_cut_next_line_ends_in_version", "ACK x\r\nVia: SIP/2.0\r\n\r\n");
      // The UDP length, not the IP length, bounds the message.
      v.push_back({p + "udp_len_cuts_message",
                   f().Udp(40000, 5060).Payload(invite).SetUdpLen(8 + 10).Build(), not_sip});
      const size_t line = invite.find("\r\n");
      v.push_back({p + "udp_len_cuts_first_line_before_crlf",
                   f().Udp(40000, 5060)
                       .Payload(invite)
                       .SetUdpLen(static_cast<uint16_t>(8 + line))
                       .Build(),
                   Cat(not_sip, {{"rb_records", 1}})});
    }
  }
  // A tag with nothing behind it: the IPv4 header is missing.
  v.push_back({"vlan_then_nothing",
               PacketBuilder().Eth().Vlan(7).EtherType(0x0800).Build(),
               {{"rx_packets", 1}, {"vlan", 1}, {"ipv4", 1}}});
  return v;
}

// Packets that look odd but are fine, whatever the malformed policy.
std::vector<Case> NearMisses() {
  std::vector<Case> t;
  const std::string invite = SipRequest("INVITE");
  for (int fam : {4, 6}) {
    for (const Tags* tg : {&Untagged(), &QinQ()}) {
      const std::string p = absl::StrCat(Fam(fam), "/", tg->name, "/");
      const StatList seen = Seen(fam, tg->any());
      const StatList keepalive = Cat(seen, {{"sip_port_keepalive", 1}, {"pass_other", 1}});
      auto f = [&] { return Frame(fam, *tg); };
      t.push_back({.name = p + "keepalive_crlfcrlf",
                   .packet = f().Udp(40000, 5060).Payload("\r\n\r\n").Build(),
                   .retval = XDP_PASS,
                   .stats = keepalive});
      t.push_back({.name = p + "keepalive_crlf",
                   .packet = f().Udp(5060, 5060).Payload("\r\n").Build(),
                   .retval = XDP_PASS,
                   .stats = keepalive});
      // The agent's parser skips CR and LF before a start line, so a lone
      // CR is a keep-alive too.
      t.push_back({.name = p + "keepalive_lone_cr",
                   .packet = f().Udp(40000, 5060).Payload("\r").Build(),
                   .retval = XDP_PASS,
                   .stats = keepalive});
      t.push_back({.name = p + "keepalive_ethernet_padded",
                   .packet = f().Udp(5060, 5060).Payload("\r\n").PadTo(96).Build(),
                   .retval = XDP_PASS,
                   .stats = keepalive});
      // On TCP keep-alives take sequence space: copied for the agent.
      t.push_back({.name = p + "keepalive_tcp",
                   .packet = f().Tcp(40000, 5060).Payload("\r\n\r\n").Build(),
                   .retval = XDP_PASS,
                   .stats = Cat(keepalive, {{"rb_records", 1}})});
      t.push_back({.name = p + "short_udp_ethernet_padded",
                   .packet = f().Udp(40000, 6000).Payload("ab").PadTo(96).Build(),
                   .retval = XDP_PASS,
                   .stats = Cat(seen, {{"pass_other", 1}})});
      t.push_back({.name = p + "udp_len_shorter_than_ip_payload",
                   .packet = f().Udp(40000, 6000).Payload("abcdefgh").SetUdpLen(8 + 2).Build(),
                   .retval = XDP_PASS,
                   .stats = Cat(seen, {{"pass_other", 1}})});
      t.push_back({.name = p + "tcp_not_sip_on_5060",
                   .packet = f().Tcp(40000, 5060).Payload("GET / HTTP/1.1\r\n\r\n").Build(),
                   .retval = XDP_PASS,
                   .stats = Cat(seen, {{"tcp_continuation", 1}, {"pass_other", 1}, {"rb_records", 1}})});
      t.push_back({.name = p + "tcp_empty_on_5060",
                   .packet = f().Tcp(40000, 5060).Build(),
                   .retval = XDP_PASS,
                   .stats = Cat(seen, {{"pass_other", 1}})});
      t.push_back({.name = p + "sip_invite",
                   .packet = f().Udp(5060, 5060).Payload(invite).Build(),
                   .retval = XDP_PASS,
                   .stats = Cat(seen, SipPassed(false, true)),
                   .check = OneSip({.cls = SW_CLASS_INVITE,
                                    .family = fam,
                                    .payload = invite,
                                    .flags = VlanFlag(*tg),
                                    .vlan_id = tg->vid()})});
      t.push_back({.name = p + "sip_invite_ethernet_padded",
                   .packet = f().Udp(5060, 5060).Payload(invite).PadTo(invite.size() + 200).Build(),
                   .retval = XDP_PASS,
                   .stats = Cat(seen, SipPassed(false, true)),
                   .check = OneSip({.cls = SW_CLASS_INVITE,
                                    .family = fam,
                                    .payload = invite,
                                    .flags = VlanFlag(*tg),
                                    .vlan_id = tg->vid()})});
    }
  }
  t.push_back(
      {.name = "arp",
       .packet = PacketBuilder().Eth().EtherType(0x0806).Payload(std::string(28, 1)).Build(),
       .retval = XDP_PASS,
       .stats = {{"rx_packets", 1}, {"pass_non_ip", 1}}});
  return t;
}

}  // namespace

std::vector<Case> MalformedCases() {
  std::vector<Case> t;
  for (const Bad& b : BadPackets()) {
    t.push_back({.name = "pass/" + b.name,
                 .packet = b.packet,
                 .retval = XDP_PASS,
                 .stats = Cat(b.seen, {{"malformed", 1}, {"pass_other", 1}})});
    t.push_back({.name = "drop/" + b.name,
                 .packet = b.packet,
                 .setup = [](Harness& h) { SetConfigFlags(h, SW_CFG_DROP_MALFORMED); },
                 .retval = XDP_DROP,
                 .stats = Cat(b.seen, {{"malformed", 1}, {"drop_malformed", 1}})});
  }
  // An allowlisted source is never dropped, malformed or not, once its
  // address is known; a broken IP header has no trustworthy source.
  for (int fam : {4, 6}) {
    const std::string p = Fam(fam) + "/";
    const std::string src = Src(fam);
    const StatList seen = Seen(fam);
    const std::vector<Bad> after_l3 = {
        {"udp_len_7", Frame(fam).Udp(5060, 5060).Payload("x").SetUdpLen(7).Build(), seen},
        {"tcp_doff_4", Frame(fam).Tcp(40000, 5060, 4).Payload("INVITE").Build(), seen},
        {"not_sip_on_5060", Frame(fam).Udp(40000, 5060).Payload("GET / HTTP/1.1\r\n\r\n").Build(),
         Cat(seen, {{"sip_port_not_sip", 1}, {"rb_records", 1}})},
    };
    for (const Bad& b : after_l3) {
      t.push_back({.name = "pass/allowlisted/" + p + b.name,
                   .packet = b.packet,
                   .setup = [src](Harness& h) { Allow(h, src); },
                   .retval = XDP_PASS,
                   .stats = Cat(b.seen, {{"malformed", 1}, {"pass_other", 1}})});
      t.push_back({.name = "drop/allowlisted/" + p + b.name,
                   .packet = b.packet,
                   .setup =
                       [src](Harness& h) {
                         Allow(h, src);
                         SetConfigFlags(h, SW_CFG_DROP_MALFORMED);
                       },
                   .retval = XDP_PASS,
                   .stats = Cat(b.seen, {{"malformed", 1}, {"pass_other", 1}, {"pass_allowed", 1}}),
                   .check =
                       [src](Harness& h, const RunResult&) {
                         auto a = AllowEntryOf(h, src);
                         ASSERT_TRUE(a.has_value());
                         EXPECT_EQ(a->hits, 1u);
                       }});
    }
    const auto broken_ip =
        fam == 4 ? Frame(4).SetIhl(4).Udp(5060, 5060).Payload("x").Build()
                 : Frame(6).SetIpv6PayloadLen(200).Udp(5060, 5060).Payload("x").Build();
    t.push_back({.name = "drop/allowlisted/" + p + "broken_ip_header",
                 .packet = broken_ip,
                 .setup =
                     [src](Harness& h) {
                       Allow(h, src);
                       SetConfigFlags(h, SW_CFG_DROP_MALFORMED);
                     },
                 .retval = XDP_DROP,
                 .stats = Cat(seen, {{"malformed", 1}, {"drop_malformed", 1}})});
  }
  for (Case c : NearMisses()) {
    Case d = c;
    c.name = "pass/fine/" + c.name;
    t.push_back(c);
    d.name = "drop/fine/" + d.name;
    d.setup = [](Harness& h) { SetConfigFlags(h, SW_CFG_DROP_MALFORMED); };
    t.push_back(d);
  }
  return t;
}

}  // namespace sw::bpftest
