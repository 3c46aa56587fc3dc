// SPDX-License-Identifier: BSD-2-Clause
// Ring-buffer records of passed SIP messages: the fixed header, the copy
// limit (snap_len), SW_CFG_NO_COPY, and a full ring.
#include <bpf/bpf.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "tables.h"

namespace sw::bpftest {
namespace {

// Ring space one record of payload_len bytes takes (libbpf/kernel layout:
// an 8-byte header, rounded up to 8).
// Bytes a SIP record of payload_len bytes takes in the ring: its size class
// (SW_COPY_CLASSES) after the header, and the ring's 8-byte record header,
// rounded to 8.
size_t RingFootprint(size_t payload_len) {
#define SW_CLASS_ENTRY(cap) cap,
  constexpr size_t kClasses[] = {SW_COPY_CLASSES(SW_CLASS_ENTRY)};
#undef SW_CLASS_ENTRY
  size_t cap = 0;
  for (size_t c : kClasses) {
    if (payload_len <= c) {
      cap = c;
      break;
    }
  }
  EXPECT_NE(cap, 0u) << payload_len << " bytes fit no class";
  return (8 + sizeof(sw_record_hdr) + cap + 7) / 8 * 8;
}

}  // namespace

std::vector<Case> RingCases() {
  std::vector<Case> t;
  const std::string invite = SipRequest("INVITE");
  const uint32_t n = static_cast<uint32_t>(invite.size());
  const std::string big = SipRequest("MESSAGE", "sip:bob@example.com", std::string(2800, 'b'));
  for (int fam : {4, 6}) {
    for (const Tags* tg : {&Untagged(), &QinQ()}) {
      const std::string p = absl::StrCat(Fam(fam), "/", tg->name, "/");
      const auto pkt = Frame(fam, *tg).Udp(5060, 5060).Payload(invite).Build();
      const StatList passed = Cat(Seen(fam, tg->any()), SipPassed(false, true));
      auto truncated = [&](uint32_t len) {
        return OneSip({.cls = SW_CLASS_INVITE,
                       .family = fam,
                       .payload = invite.substr(0, len),
                       .orig_len = n,
                       .flags = VlanFlag(*tg) | SW_RECF_TRUNCATED,
                       .vlan_id = tg->vid()});
      };
      const auto whole = OneSip({.cls = SW_CLASS_INVITE,
                                 .family = fam,
                                 .payload = invite,
                                 .flags = VlanFlag(*tg),
                                 .vlan_id = tg->vid()});
      for (uint32_t snap : {1u, 12u, 100u, n - 1}) {
        t.push_back(
            {.name = snap == n - 1 ? p + "snap_size_minus_1" : absl::StrCat(p, "snap_", snap),
             .packet = pkt,
             .setup = [snap](Harness& h) { SetSnapLen(h, snap); },
             .retval = XDP_PASS,
             .stats = Cat(passed, {{"rb_truncated", 1}}),
             .check = truncated(snap)});
      }
      t.push_back({.name = p + "snap_exact_size",
                   .packet = pkt,
                   .setup = [n](Harness& h) { SetSnapLen(h, n); },
                   .retval = XDP_PASS,
                   .stats = passed,
                   .check = whole});
      t.push_back({.name = p + "snap_0_means_default",
                   .packet = pkt,
                   .setup = [](Harness& h) { SetSnapLen(h, 0); },
                   .retval = XDP_PASS,
                   .stats = passed,
                   .check = whole});
      // Written behind WriteConfig's back: the kernel falls back to the default.
      t.push_back({.name = p + "snap_above_max_means_default",
                   .packet = pkt,
                   .setup =
                       [](Harness& h) {
                         auto cfg = h.maps().ReadConfig();
                         ASSERT_TRUE(cfg.ok());
                         cfg->snap_len = SW_SNAP_MAX + 1;
                         const uint32_t key = 0;
                         ASSERT_EQ(bpf_map_update_elem(h.maps().fds().config, &key, &*cfg, BPF_ANY),
                                   0);
                       },
                   .retval = XDP_PASS,
                   .stats = passed,
                   .check = whole});
      t.push_back({.name = p + "no_copy",
                   .packet = pkt,
                   .setup = [](Harness& h) { SetConfigFlags(h, SW_CFG_NO_COPY); },
                   .retval = XDP_PASS,
                   .stats = Cat(Seen(fam, tg->any()),
                                {{"sip_udp", 1}, {"sip_requests", 1}, {"pass_sip", 1}}),
                   .check =
                       [fam](Harness& h, const RunResult&) {
                         // Accounting goes on without the copy.
                         EXPECT_TRUE(SourceState(h, Src(fam)).has_value());
                       }});
      t.push_back({.name = p + "no_copy_with_snap",
                   .packet = pkt,
                   .setup =
                       [](Harness& h) {
                         SetSnapLen(h, 10);
                         SetConfigFlags(h, SW_CFG_NO_COPY);
                       },
                   .retval = XDP_PASS,
                   .stats = Cat(Seen(fam, tg->any()),
                                {{"sip_udp", 1}, {"sip_requests", 1}, {"pass_sip", 1}})});
      const auto big_pkt = Frame(fam, *tg).Udp(5060, 5060).Payload(big).Build();
      t.push_back({.name = p + "large_message_snap_max",
                   .packet = big_pkt,
                   .setup = [](Harness& h) { SetSnapLen(h, SW_SNAP_MAX); },
                   .retval = XDP_PASS,
                   .stats = passed,
                   .check = OneSip({.cls = SW_CLASS_MESSAGE,
                                    .family = fam,
                                    .payload = big,
                                    .flags = VlanFlag(*tg),
                                    .vlan_id = tg->vid()})});
      t.push_back({.name = p + "large_message_snap_1000",
                   .packet = big_pkt,
                   .setup = [](Harness& h) { SetSnapLen(h, 1000); },
                   .retval = XDP_PASS,
                   .stats = Cat(passed, {{"rb_truncated", 1}}),
                   .check = OneSip({.cls = SW_CLASS_MESSAGE,
                                    .family = fam,
                                    .payload = big.substr(0, 1000),
                                    .orig_len = static_cast<uint32_t>(big.size()),
                                    .flags = VlanFlag(*tg) | SW_RECF_TRUNCATED,
                                    .vlan_id = tg->vid()})});
      // Every message of a repeated run is copied, in order, whole.
      t.push_back({.name = p + "one_record_per_message",
                   .packet = pkt,
                   .retval = XDP_PASS,
                   .stats = Times(passed, 4),
                   .check =
                       [=](Harness&, const RunResult& r) {
                         ASSERT_EQ(r.records.size(), 4u);
                         uint64_t last = 0;
                         for (const auto& rec : r.records) {
                           ExpectSipRecord(r, rec,
                                           {.cls = SW_CLASS_INVITE,
                                            .family = fam,
                                            .payload = invite,
                                            .flags = VlanFlag(*tg),
                                            .vlan_id = tg->vid()});
                           EXPECT_GE(rec.hdr.ts_ns, last);
                           last = rec.hdr.ts_ns;
                         }
                       },
                   .repeat = 4});
    }
  }
  // MGCP on its ports (2427, 2727 by default): the datagram goes to the
  // agent whole, as an MGCP record, accounted to no SIP class; with the
  // port's role cleared it is left to the media path (nothing copied).
  const std::string crcx =
      "CRCX 1201 aaln/1@gw.example.net MGCP 1.0\r\nC: A3C47F21456789F0\r\nM: recvonly\r\n";
  for (int fam : {4, 6}) {
    const std::string p = absl::StrCat(Fam(fam), "/mgcp/");
    for (auto [sport, dport] : {std::pair<uint16_t, uint16_t>{2727, 2427}, {2427, 2727}}) {
      const auto pkt = Frame(fam, Untagged()).Udp(sport, dport).Payload(crcx).Build();
      t.push_back({.name = absl::StrCat(p, "copied_", sport, "_to_", dport),
                   .packet = pkt,
                   .retval = XDP_PASS,
                   .stats = Cat(Seen(fam), {{"pass_other", 1}, {"rb_records", 1}}),
                   .check =
                       [=](Harness&, const RunResult& r) {
                         ASSERT_EQ(r.records.size(), 1u);
                         ExpectSipRecord(r, r.records[0],
                                         {.kind = SW_REC_MGCP,
                                          .family = fam,
                                          .sport = sport,
                                          .dport = dport,
                                          .payload = crcx});
                       }});
    }
    t.push_back({.name = p + "port_role_cleared",
                 .packet = Frame(fam, Untagged()).Udp(2727, 2427).Payload(crcx).Build(),
                 .setup =
                     [](Harness& h) {
                       SetPort(h, 2427, 0);
                       SetPort(h, 2727, 0);
                     },
                 .retval = XDP_PASS,
                 .stats = Cat(Seen(fam), {{"pass_other", 1}}),
                 .check = [](Harness&, const RunResult& r) { EXPECT_TRUE(r.records.empty()); }});
  }
  return t;
}

std::vector<Case> FullRingCases() {
  std::vector<Case> t;
  const std::string invite = SipRequest("INVITE");
  const size_t fit = kSmallRingBytes / RingFootprint(invite.size());
  const std::string rtp = RtpPacket(0xcafef00d, 7, 8, 160);
  EXPECT_EQ(RingFootprint(17), 104u);
  for (int fam : {4, 6}) {
    const std::string p = Fam(fam) + "/";
    const auto pkt = Frame(fam).Udp(5060, 5060).Payload(invite).Build();
    const auto media_pkt = Frame(fam).Udp(30000, 40000).Payload(rtp).Build();
    // A SIP record with the ring footprint of a media notice (the smallest
    // size class holds a notice's 24 bytes).
    const std::string tiny = "ACK x SIP/2.0\r\n\r\n";
    static_assert(sizeof(sw_record_hdr) + sizeof(sw_media_notice) + 8 == 104);
    const auto tiny_pkt = Frame(fam).Udp(5060, 5060).Payload(tiny).Build();
    const uint32_t runs = 3 * fit + 2;
    t.push_back(
        {.name = p + "ring_full_counts_lost_and_passes",
         .packet = pkt,
         .retval = XDP_PASS,
         .stats = Cat(
             Times(Cat(Seen(fam), {{"sip_udp", 1}, {"sip_requests", 1}, {"pass_sip", 1}}), runs),
             {{"rb_records", fit}, {"rb_lost", runs - fit}}),
         .check =
             [=](Harness&, const RunResult& r) {
               ASSERT_EQ(r.records.size(), fit);
               for (const auto& rec : r.records) {
                 ExpectSipRecord(r, rec,
                                 {.cls = SW_CLASS_INVITE, .family = fam, .payload = invite});
               }
             },
         .repeat = runs});
    // A watch notice that finds the ring full is lost, counted, and posted by
    // the next packet once there is room: the watch is not silently spent.
    t.push_back({.name = p + "ring_full_media_notice_retried",
                 .packet = media_pkt,
                 .setup =
                     [=](Harness& h) {
                       sw_media_entry e{};
                       e.dialog_id = 99;
                       e.flags = SW_MEDIA_WATCH;
                       ASSERT_TRUE(h.maps().MediaPut(MediaKey(Addr(Dst(fam)), 40000), e).ok());
                       // Fill the ring and keep it full through the run: large
                       // records first, then records as large as the notice
                       // until not even one of those fits.
                       for (const auto* fill : {&pkt, &tiny_pkt}) {
                         auto before = h.maps().ReadStats();
                         ASSERT_TRUE(before.ok());
                         const RunResult r = h.RunNoDrain(*fill, runs);
                         ASSERT_EQ(r.err, 0);
                         ASSERT_EQ(r.retval, XDP_PASS);
                         auto after = h.maps().ReadStats();
                         ASSERT_TRUE(after.ok());
                         ASSERT_GT(after->rb_lost, before->rb_lost) << "ring not full";
                       }
                     },
                 .retval = XDP_PASS,
                 .stats = Cat(Seen(fam), {{"media_packets", 1}, {"pass_other", 1}, {"rb_lost", 1}}),
                 .check =
                     [=](Harness& h, const RunResult&) {
                       auto e = MediaEntry(h, Dst(fam), 40000);
                       ASSERT_TRUE(e.has_value());
                       EXPECT_EQ(e->packets, 1u);
                       EXPECT_EQ(e->flags, uint32_t{SW_MEDIA_WATCH}) << "notice lost, watch spent";
                       // With room again, the next packet posts the notice.
                       const RunResult again = h.Run(media_pkt);
                       ASSERT_EQ(again.retval, XDP_PASS);
                       ASSERT_EQ(again.records.size(), 1u);
                       EXPECT_EQ(again.records[0].hdr.kind, SW_REC_MEDIA);
                       EXPECT_EQ(again.records[0].media.dialog_id, 99u);
                       EXPECT_EQ(again.records[0].media.packets, 2u);
                       e = MediaEntry(h, Dst(fam), 40000);
                       ASSERT_TRUE(e.has_value());
                       EXPECT_EQ(e->flags, uint32_t{SW_MEDIA_WATCH | SW_MEDIA_NOTIFIED});
                     },
                 .keep_ring = true});
  }
  return t;
}

}  // namespace sw::bpftest
