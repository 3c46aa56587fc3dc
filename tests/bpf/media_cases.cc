// SPDX-License-Identifier: BSD-2-Clause
// Expected media: per-endpoint counters and the one-shot watch notice.
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "tables.h"

namespace sw::bpftest {
namespace {

constexpr uint16_t kMediaPort = 40000;
constexpr uint64_t kDialog = 0x1122334455667788ull;

void PutMedia(Harness& h, int family, uint32_t flags, uint16_t port = kMediaPort) {
  sw_media_entry e{};
  e.dialog_id = kDialog;
  e.flags = flags;
  if (flags & SW_MEDIA_WATCH) e.watch_since_ns = BootNs();
  auto st = h.maps().MediaPut(MediaKey(Addr(Dst(family)), port), e);
  ASSERT_TRUE(st.ok()) << st;
}

struct Notice {
  uint64_t packets = 1;
  uint32_t payload_len = 0;
  bool is_rtp = true;
  uint32_t ssrc = 0;
  uint16_t seq = 0;
  uint8_t payload_type = 0;
  uint32_t flags = 0;  // record flags
  uint16_t vlan_id = 0;
};

void ExpectNotice(const RunResult& r, const Record& rec, int family, const Notice& n) {
  EXPECT_EQ(rec.hdr.kind, SW_REC_MEDIA);
  EXPECT_GE(rec.hdr.ts_ns, r.t_before);
  EXPECT_LE(rec.hdr.ts_ns, r.t_after);
  EXPECT_EQ(rec.hdr.ifindex, kLoopbackIfindex);
  EXPECT_EQ(rec.hdr.caplen, sizeof(sw_media_notice));
  EXPECT_EQ(rec.hdr.orig_len, n.payload_len);
  EXPECT_EQ(rec.hdr.family, family);
  EXPECT_EQ(rec.hdr.transport, SW_TRANSPORT_UDP);
  EXPECT_EQ(rec.hdr.msg_class, SW_CLASS_NONE);
  EXPECT_EQ(rec.hdr.verdict, SW_VERDICT_PASS);
  EXPECT_EQ(rec.hdr.status, 0);
  EXPECT_EQ(rec.hdr.sport, 30000);
  EXPECT_EQ(rec.hdr.dport, kMediaPort);
  EXPECT_EQ(rec.hdr.flags, n.flags);
  EXPECT_EQ(rec.hdr.vlan_id, n.vlan_id);
  EXPECT_EQ(rec.src, Addr(Src(family)));
  EXPECT_EQ(rec.dst, Addr(Dst(family)));
  EXPECT_EQ(rec.media.dialog_id, kDialog);
  EXPECT_EQ(rec.media.packets, n.packets);
  EXPECT_EQ(rec.media.is_rtp, n.is_rtp ? 1 : 0);
  EXPECT_EQ(rec.media.ssrc, n.ssrc);
  EXPECT_EQ(rec.media.seq, n.seq);
  EXPECT_EQ(rec.media.payload_type, n.payload_type);
}

void ExpectEntry(Harness& h, int family, const RunResult& r, uint64_t packets, uint64_t bytes,
                 uint32_t flags, bool counted_before_run = false) {
  auto e = MediaEntry(h, Dst(family), kMediaPort);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->dialog_id, kDialog);
  EXPECT_EQ(e->packets, packets);
  EXPECT_EQ(e->bytes, bytes);
  EXPECT_EQ(e->flags, flags);
  if (packets == 0) {
    EXPECT_EQ(e->first_ns, 0u);
    EXPECT_EQ(e->last_ns, 0u);
    return;
  }
  if (counted_before_run) {
    EXPECT_LT(e->first_ns, r.t_before);
  } else {
    EXPECT_GE(e->first_ns, r.t_before);
  }
  EXPECT_GE(e->last_ns, r.t_before);
  EXPECT_LE(e->last_ns, r.t_after);
}

}  // namespace

std::vector<Case> MediaCases() {
  std::vector<Case> t;
  const uint32_t ssrc = 0xdeadbeef;
  const std::string rtp = RtpPacket(ssrc, 4242, 0, 160);
  const uint32_t len = static_cast<uint32_t>(rtp.size());
  const uint32_t notified = SW_MEDIA_WATCH | SW_MEDIA_NOTIFIED;
  for (int fam : {4, 6}) {
    for (const Tags* tg : {&Untagged(), &QinQ()}) {
      const std::string p = absl::StrCat(Fam(fam), "/", tg->name, "/");
      const auto pkt = Frame(fam, *tg).Udp(30000, kMediaPort).Payload(rtp).Build();
      const StatList seen = Seen(fam, tg->any());
      const StatList counted = Cat(seen, {{"media_packets", 1}, {"pass_other", 1}});
      const StatList noticed = Cat(counted, {{"media_notices", 1}, {"rb_records", 1}});
      const Notice rtp_notice{.packets = 1,
                              .payload_len = len,
                              .ssrc = ssrc,
                              .seq = 4242,
                              .payload_type = 0,
                              .flags = VlanFlag(*tg),
                              .vlan_id = tg->vid()};

      t.push_back(
          {.name = p + "counted_not_watched",
           .packet = pkt,
           .setup = [fam](Harness& h) { PutMedia(h, fam, 0); },
           .retval = XDP_PASS,
           .stats = counted,
           .check = [=](Harness& h, const RunResult& r) { ExpectEntry(h, fam, r, 1, len, 0); }});
      t.push_back(
          {.name = p + "counted_repeat",
           .packet = pkt,
           .setup = [fam](Harness& h) { PutMedia(h, fam, 0); },
           .retval = XDP_PASS,
           .stats = Times(counted, 3),
           .check = [=](Harness& h, const RunResult& r) { ExpectEntry(h, fam, r, 3, 3 * len, 0); },
           .repeat = 3});
      t.push_back({.name = p + "watch_first_packet_posts_notice",
                   .packet = pkt,
                   .setup = [fam](Harness& h) { PutMedia(h, fam, SW_MEDIA_WATCH); },
                   .retval = XDP_PASS,
                   .stats = noticed,
                   .check =
                       [=](Harness& h, const RunResult& r) {
                         ASSERT_EQ(r.records.size(), 1u);
                         ExpectNotice(r, r.records[0], fam, rtp_notice);
                         ExpectEntry(h, fam, r, 1, len, notified);
                       }});
      t.push_back({.name = p + "watch_second_packet_silent",
                   .packet = pkt,
                   .setup =
                       [=](Harness& h) {
                         PutMedia(h, fam, SW_MEDIA_WATCH);
                         const RunResult first = h.Run(pkt);
                         ASSERT_EQ(first.records.size(), 1u);
                       },
                   .retval = XDP_PASS,
                   .stats = counted,
                   .check =
                       [=](Harness& h, const RunResult& r) {
                         ExpectEntry(h, fam, r, 2, 2 * len, notified, true);
                       }});
      t.push_back({.name = p + "watch_one_notice_per_watch",
                   .packet = pkt,
                   .setup = [fam](Harness& h) { PutMedia(h, fam, SW_MEDIA_WATCH); },
                   .retval = XDP_PASS,
                   .stats = Cat(Times(counted, 5), {{"media_notices", 1}, {"rb_records", 1}}),
                   .check =
                       [=](Harness& h, const RunResult& r) {
                         ASSERT_EQ(r.records.size(), 1u);
                         ExpectNotice(r, r.records[0], fam, rtp_notice);
                         ExpectEntry(h, fam, r, 5, 5 * len, notified);
                       },
                   .repeat = 5});
      t.push_back({.name = p + "watch_rearmed_by_userspace",
                   .packet = pkt,
                   .setup =
                       [=](Harness& h) {
                         PutMedia(h, fam, SW_MEDIA_WATCH);
                         ASSERT_EQ(h.Run(pkt).records.size(), 1u);
                         auto e = MediaEntry(h, Dst(fam), kMediaPort);
                         ASSERT_TRUE(e.has_value());
                         e->flags = SW_MEDIA_WATCH;  // what the agent does to watch again
                         ASSERT_TRUE(
                             h.maps().MediaPut(MediaKey(Addr(Dst(fam)), kMediaPort), *e).ok());
                       },
                   .retval = XDP_PASS,
                   .stats = noticed,
                   .check =
                       [=](Harness& h, const RunResult& r) {
                         ASSERT_EQ(r.records.size(), 1u);
                         Notice n = rtp_notice;
                         n.packets = 2;
                         ExpectNotice(r, r.records[0], fam, n);
                         ExpectEntry(h, fam, r, 2, 2 * len, notified, true);
                       }});
      t.push_back({.name = p + "watch_grace_not_over_silent",
                   .packet = pkt,
                   .setup =
                       [fam](Harness& h) {
                         // A BYE's grace: the watch reports packets from 1 min on.
                         sw_media_entry e{};
                         e.dialog_id = kDialog;
                         e.flags = SW_MEDIA_WATCH;
                         e.watch_since_ns = BootNs() + 60'000'000'000ull;
                         ASSERT_TRUE(
                             h.maps().MediaPut(MediaKey(Addr(Dst(fam)), kMediaPort), e).ok());
                       },
                   .retval = XDP_PASS,
                   .stats = Times(counted, 3),
                   .check =
                       [=](Harness& h, const RunResult& r) {
                         EXPECT_TRUE(r.records.empty());
                         ExpectEntry(h, fam, r, 3, 3 * len, SW_MEDIA_WATCH);
                       },
                   .repeat = 3});
      t.push_back({.name = p + "notified_without_watch_silent",
                   .packet = pkt,
                   .setup = [fam](Harness& h) { PutMedia(h, fam, SW_MEDIA_NOTIFIED); },
                   .retval = XDP_PASS,
                   .stats = counted,
                   .check =
                       [=](Harness& h, const RunResult& r) {
                         ExpectEntry(h, fam, r, 1, len, SW_MEDIA_NOTIFIED);
                       }});
      t.push_back({.name = p + "watch_already_notified_silent",
                   .packet = pkt,
                   .setup = [fam](Harness& h) { PutMedia(h, fam, notified); },
                   .retval = XDP_PASS,
                   .stats = counted});
      t.push_back({.name = p + "watch_non_rtp_payload",
                   .packet = Frame(fam, *tg)
                                 .Udp(30000, kMediaPort)
                                 .Payload("hello, this is not RTP at all")
                                 .Build(),
                   .setup = [fam](Harness& h) { PutMedia(h, fam, SW_MEDIA_WATCH); },
                   .retval = XDP_PASS,
                   .stats = Cat(noticed, {{"rtp_not_rtp", 1}}),
                   .check =
                       [=](Harness&, const RunResult& r) {
                         ASSERT_EQ(r.records.size(), 1u);
                         ExpectNotice(r, r.records[0], fam,
                                      {.packets = 1,
                                       .payload_len = 29,
                                       .is_rtp = false,
                                       .flags = VlanFlag(*tg),
                                       .vlan_id = tg->vid()});
                       }});
      // Four payload bytes that start like RTP, then Ethernet padding: the
      // padding is not part of the datagram, so this is not an RTP header.
      t.push_back({.name = p + "watch_short_payload_ethernet_padded",
                   .packet = Frame(fam, *tg)
                                 .Udp(30000, kMediaPort)
                                 .Payload(std::string("\x80\x08\x00\x01", 4))
                                 .PadTo(120)
                                 .Build(),
                   .setup = [fam](Harness& h) { PutMedia(h, fam, SW_MEDIA_WATCH); },
                   .retval = XDP_PASS,
                   .stats = Cat(noticed, {{"rtp_not_rtp", 1}}),
                   .check =
                       [=](Harness& h, const RunResult& r) {
                         ASSERT_EQ(r.records.size(), 1u);
                         ExpectNotice(r, r.records[0], fam,
                                      {.packets = 1,
                                       .payload_len = 4,
                                       .is_rtp = false,
                                       .flags = VlanFlag(*tg),
                                       .vlan_id = tg->vid()});
                         ExpectEntry(h, fam, r, 1, 4, notified);
                       }});
      t.push_back(
          {.name = p + "rtp_header_only",
           .packet =
               Frame(fam, *tg).Udp(30000, kMediaPort).Payload(RtpPacket(7, 9, 101, 0)).Build(),
           .setup = [fam](Harness& h) { PutMedia(h, fam, SW_MEDIA_WATCH); },
           .retval = XDP_PASS,
           .stats = noticed,
           .check =
               [=](Harness&, const RunResult& r) {
                 ASSERT_EQ(r.records.size(), 1u);
                 ExpectNotice(r, r.records[0], fam,
                              {.packets = 1,
                               .payload_len = 12,
                               .ssrc = 7,
                               .seq = 9,
                               .payload_type = 101,
                               .flags = VlanFlag(*tg),
                               .vlan_id = tg->vid()});
               }});
    }

    // What does not match an entry keyed by destination address and port.
    const std::string p = Fam(fam) + "/";
    const StatList other = Cat(Seen(fam), {{"pass_other", 1}});
    auto untouched = [fam](Harness& h, const RunResult& r) {
      ExpectEntry(h, fam, r, 0, 0, SW_MEDIA_WATCH);
    };
    auto watched = [fam](Harness& h) { PutMedia(h, fam, SW_MEDIA_WATCH); };
    t.push_back({.name = p + "other_port_not_counted",
                 .packet = Frame(fam).Udp(30000, kMediaPort + 2).Payload(rtp).Build(),
                 .setup = watched,
                 .retval = XDP_PASS,
                 .stats = other,
                 .check = untouched});
    t.push_back({.name = p + "other_address_not_counted",
                 .packet = FrameFrom(fam, Src(fam), fam == 4 ? "198.51.100.21" : "2001:db8:1::21")
                               .Udp(30000, kMediaPort)
                               .Payload(rtp)
                               .Build(),
                 .setup = watched,
                 .retval = XDP_PASS,
                 .stats = other,
                 .check = untouched});
    t.push_back(
        {.name = p + "reverse_direction_not_counted",
         .packet = FrameFrom(fam, Dst(fam), Src(fam)).Udp(kMediaPort, 30000).Payload(rtp).Build(),
         .setup = watched,
         .retval = XDP_PASS,
         .stats = other,
         .check = untouched});
    t.push_back({.name = p + "tcp_not_counted",
                 .packet = Frame(fam).Tcp(30000, kMediaPort).Payload(rtp).Build(),
                 .setup = watched,
                 .retval = XDP_PASS,
                 .stats = other,
                 .check = untouched});
    t.push_back({.name = p + "blocked_source_not_counted",
                 .packet = Frame(fam).Udp(30000, kMediaPort).Payload(rtp).Build(),
                 .setup =
                     [fam](Harness& h) {
                       PutMedia(h, fam, SW_MEDIA_WATCH);
                       Block(h, Src(fam), 0);
                     },
                 .retval = XDP_DROP,
                 .stats = Cat(Seen(fam), {{"drop_blocked", 1}}),
                 .check = untouched});
    t.push_back({.name = p + "malformed_udp_not_counted",
                 .packet = Frame(fam).Udp(30000, kMediaPort).Payload(rtp).SetUdpLen(7).Build(),
                 .setup = watched,
                 .retval = XDP_PASS,
                 .stats = Cat(Seen(fam), {{"malformed", 1}, {"pass_other", 1}}),
                 .check = untouched});
    t.push_back({.name = p + "later_fragment_not_counted",
                 .packet = Frame(fam).Fragment(512, false).Proto(IPPROTO_UDP).Payload(rtp).Build(),
                 .setup = watched,
                 .retval = XDP_PASS,
                 .stats = Cat(Seen(fam), {{"frag_later", 1}, {"pass_other", 1}}),
                 .check = untouched});
    // A media entry on a SIP port does not turn SIP into media.
    t.push_back({.name = p + "sip_port_is_not_media",
                 .packet = Frame(fam).Udp(30000, 5060).Payload(SipRequest("INVITE")).Build(),
                 .setup = [fam](Harness& h) { PutMedia(h, fam, SW_MEDIA_WATCH, 5060); },
                 .retval = XDP_PASS,
                 .stats = Cat(Seen(fam), SipPassed(false, true))});
  }
  return t;
}

}  // namespace sw::bpftest
