// SPDX-License-Identifier: BSD-2-Clause
// Allowlist and blocklist: LPM matching on the source, expiry, hit counters.
#include <gtest/gtest.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "tables.h"

namespace sw::bpftest {
namespace {

constexpr int64_t kHour = 3600ll * 1000000000ll;
constexpr int64_t kSecondAgo = -1000000000ll;

void ExpectHits(Harness& h, const std::string& prefix, uint64_t hits) {
  auto e = BlockEntryOf(h, prefix);
  ASSERT_TRUE(e.has_value()) << prefix << " left the blocklist";
  EXPECT_EQ(e->hits, hits) << prefix;
}

void ExpectGone(Harness& h, const std::string& prefix) {
  EXPECT_FALSE(BlockEntryOf(h, prefix).has_value()) << prefix << " still in the blocklist";
}

void ExpectAllowHits(Harness& h, const std::string& prefix, uint64_t hits) {
  auto e = AllowEntryOf(h, prefix);
  ASSERT_TRUE(e.has_value()) << prefix << " not in the allowlist";
  EXPECT_EQ(e->hits, hits) << prefix;
}

// An allowlist entry written straight into the trie, past Maps, as
// `bpftool map update` would: the kernel must see it all the same.
void AllowRaw(Harness& h, std::string_view prefix) {
  auto p = IpPrefix::Parse(prefix);
  ASSERT_TRUE(p.ok()) << p.status();
  const sw_allow_entry v{};
  const int err = WriteLpmRaw(h.maps().fds().allow_v4, h.maps().fds().allow_v6, *p, &v);
  ASSERT_EQ(err, 0) << "write allowlist entry: " << std::strerror(err);
}

}  // namespace

std::vector<Case> ListCases() {
  std::vector<Case> t;
  const std::string invite = SipRequest("INVITE");
  for (int fam : {4, 6}) {
    const std::string p = Fam(fam) + "/";
    const std::string host = SrcPrefix(fam, 32, 128);
    const std::string net = SrcPrefix(fam, 24, 48);
    const std::string wide = SrcPrefix(fam, 8, 16);
    const std::string all = fam == 4 ? "0.0.0.0/0" : "::/0";
    const std::string other_family_all = fam == 4 ? "::/0" : "0.0.0.0/0";
    const std::string other = fam == 4 ? "203.0.113.0/24" : "2001:db8:ffff::/48";
    const std::string dst = fam == 4 ? std::string(kDst4) + "/32" : std::string(kDst6) + "/128";
    const auto udp = Frame(fam).Udp(5060, 5060).Payload(invite).Build();
    const StatList dropped = Cat(Seen(fam), {{"drop_blocked", 1}});
    const StatList passed = Cat(Seen(fam), SipPassed(false, true));
    const SipRec rec{.cls = SW_CLASS_INVITE, .family = fam, .payload = invite};
    SipRec rec_allowed = rec;
    rec_allowed.verdict = SW_VERDICT_PASS_ALLOWED;
    const auto no_source = [](Harness& h) {
      EXPECT_TRUE(h.maps().Sources().ok());
      EXPECT_TRUE(h.maps().Sources()->empty()) << "a dropped source was accounted";
    };

    t.push_back({.name = p + "block_host_no_expiry",
                 .packet = udp,
                 .setup = [=](Harness& h) { Block(h, host, 0, SW_REASON_FLOOD); },
                 .retval = XDP_DROP,
                 .stats = dropped,
                 .check =
                     [=](Harness& h, const RunResult&) {
                       ExpectHits(h, host, 1);
                       EXPECT_EQ(BlockEntryOf(h, host)->reason, SW_REASON_FLOOD);
                       EXPECT_EQ(BlockEntryOf(h, host)->expires_ns, 0u);
                       no_source(h);
                     }});
    t.push_back({.name = p + "block_host_hits_count_each_drop",
                 .packet = udp,
                 .setup = [=](Harness& h) { Block(h, host, 0); },
                 .retval = XDP_DROP,
                 .stats = Times(dropped, 5),
                 .check = [=](Harness& h, const RunResult&) { ExpectHits(h, host, 5); },
                 .repeat = 5});
    // Past SW_HITS_EXACT a flood updates the shared entry once per
    // SW_HITS_SAMPLE drops of a CPU, SW_HITS_SAMPLE at a time: on one CPU the
    // count is off by less than one step.
    t.push_back({.name = p + "block_host_hits_sampled_past_exact",
                 .packet = udp,
                 .setup = [=](Harness& h) { Block(h, host, 0); },
                 .retval = XDP_DROP,
                 .stats = Times(dropped, 1000),
                 .check =
                     [=](Harness& h, const RunResult&) {
                       auto e = BlockEntryOf(h, host);
                       ASSERT_TRUE(e.has_value());
                       EXPECT_NEAR(static_cast<double>(e->hits), 1000.0, SW_HITS_SAMPLE - 1);
                       EXPECT_EQ((e->hits - SW_HITS_EXACT) % SW_HITS_SAMPLE, 0u);
                     },
                 .repeat = 1000});
    t.push_back({.name = p + "block_covering_prefix_with_future_expiry",
                 .packet = udp,
                 .setup = [=](Harness& h) { Block(h, net, kHour, SW_REASON_SCAN); },
                 .retval = XDP_DROP,
                 .stats = dropped,
                 .check =
                     [=](Harness& h, const RunResult& r) {
                       ExpectHits(h, net, 1);
                       EXPECT_GT(BlockEntryOf(h, net)->expires_ns, r.t_after);
                       EXPECT_EQ(BlockEntryOf(h, net)->reason, SW_REASON_SCAN);
                     }});
    t.push_back({.name = p + "block_longest_prefix_counts_the_hit",
                 .packet = udp,
                 .setup =
                     [=](Harness& h) {
                       Block(h, wide, kHour);
                       Block(h, host, kHour);
                     },
                 .retval = XDP_DROP,
                 .stats = dropped,
                 .check =
                     [=](Harness& h, const RunResult&) {
                       ExpectHits(h, host, 1);
                       ExpectHits(h, wide, 0);
                     }});
    t.push_back({.name = p + "block_all_of_family",
                 .packet = udp,
                 .setup = [=](Harness& h) { Block(h, all, 0); },
                 .retval = XDP_DROP,
                 .stats = dropped});
    t.push_back({.name = p + "block_drops_non_sip",
                 .packet = Frame(fam).Proto(47).Payload("gre").Build(),
                 .setup = [=](Harness& h) { Block(h, host, 0); },
                 .retval = XDP_DROP,
                 .stats = dropped});
    t.push_back({.name = p + "block_drops_tcp_sip",
                 .packet = Frame(fam).Tcp(40000, 5060).Payload(invite).Build(),
                 .setup = [=](Harness& h) { Block(h, host, 0); },
                 .retval = XDP_DROP,
                 .stats = dropped});
    t.push_back({.name = p + "block_drops_later_fragment",
                 .packet = Frame(fam).Fragment(208, false).Proto(IPPROTO_UDP).Payload("x").Build(),
                 .setup = [=](Harness& h) { Block(h, host, 0); },
                 .retval = XDP_DROP,
                 .stats = dropped});
    t.push_back({.name = p + "block_drops_vlan_tagged",
                 .packet = Frame(fam, QinQ()).Udp(5060, 5060).Payload(invite).Build(),
                 .setup = [=](Harness& h) { Block(h, host, 0); },
                 .retval = XDP_DROP,
                 .stats = Cat(Seen(fam, true), {{"drop_blocked", 1}})});
    t.push_back({.name = p + "block_destination_does_not_apply",
                 .packet = udp,
                 .setup = [=](Harness& h) { Block(h, dst, 0); },
                 .retval = XDP_PASS,
                 .stats = passed,
                 .check = OneSip(rec)});
    t.push_back({.name = p + "block_other_prefix_does_not_apply",
                 .packet = udp,
                 .setup = [=](Harness& h) { Block(h, other, 0); },
                 .retval = XDP_PASS,
                 .stats = passed,
                 .check = OneSip(rec)});
    t.push_back({.name = p + "block_other_family_does_not_apply",
                 .packet = udp,
                 .setup = [=](Harness& h) { Block(h, other_family_all, 0); },
                 .retval = XDP_PASS,
                 .stats = passed,
                 .check = OneSip(rec)});
    t.push_back({.name = p + "expired_block_removed_and_not_applied",
                 .packet = udp,
                 .setup = [=](Harness& h) { Block(h, host, kSecondAgo); },
                 .retval = XDP_PASS,
                 .stats = Cat(passed, {{"block_expired", 1}}),
                 .check =
                     [=](Harness& h, const RunResult& r) {
                       OneSip(rec)(h, r);
                       ExpectGone(h, host);
                     }});
    t.push_back({.name = p + "expired_host_covering_net_still_blocks",
                 .packet = udp,
                 .setup =
                     [=](Harness& h) {
                       Block(h, host, kSecondAgo);
                       Block(h, net, kHour, SW_REASON_BRUTEFORCE);
                     },
                 .retval = XDP_DROP,
                 .stats = Cat(dropped, {{"block_expired", 1}}),
                 .check =
                     [=](Harness& h, const RunResult&) {
                       ExpectGone(h, host);
                       ExpectHits(h, net, 1);
                     }});
    t.push_back({.name = p + "expired_host_and_expired_net",
                 .packet = udp,
                 .setup =
                     [=](Harness& h) {
                       Block(h, host, kSecondAgo);
                       Block(h, net, kSecondAgo);
                     },
                 .retval = XDP_PASS,
                 .stats = Cat(passed, {{"block_expired", 2}}),
                 .check =
                     [=](Harness& h, const RunResult& r) {
                       OneSip(rec)(h, r);
                       ExpectGone(h, host);
                       ExpectGone(h, net);
                     }});
    t.push_back({.name = p + "expired_net_leaves_other_entries",
                 .packet = udp,
                 .setup =
                     [=](Harness& h) {
                       Block(h, net, kSecondAgo);
                       Block(h, other, kSecondAgo);
                     },
                 .retval = XDP_PASS,
                 .stats = Cat(passed, {{"block_expired", 1}}),
                 .check =
                     [=](Harness& h, const RunResult&) {
                       ExpectGone(h, net);
                       EXPECT_TRUE(BlockEntryOf(h, other).has_value());
                     }});

    // Allowlisted sources are never dropped.
    t.push_back({.name = p + "allow_host_overrides_block",
                 .packet = udp,
                 .setup =
                     [=](Harness& h) {
                       Allow(h, host);
                       Block(h, host, 0);
                     },
                 .retval = XDP_PASS,
                 .stats = Cat(passed, {{"pass_allowed", 1}}),
                 .check =
                     [=](Harness& h, const RunResult& r) {
                       OneSip(rec_allowed)(h, r);
                       ExpectAllowHits(h, host, 1);
                       ExpectHits(h, host, 0);  // hits count drops, and nothing was dropped
                     }});
    t.push_back({.name = p + "allow_net_overrides_host_block",
                 .packet = udp,
                 .setup =
                     [=](Harness& h) {
                       Allow(h, net);
                       Block(h, host, kHour);
                     },
                 .retval = XDP_PASS,
                 .stats = Cat(passed, {{"pass_allowed", 1}}),
                 .check =
                     [=](Harness& h, const RunResult& r) {
                       OneSip(rec_allowed)(h, r);
                       ExpectAllowHits(h, net, 1);
                       ExpectHits(h, host, 0);
                     }});
    t.push_back({.name = p + "allow_overrides_block_for_non_sip",
                 .packet = Frame(fam).Proto(47).Payload("gre").Build(),
                 .setup =
                     [=](Harness& h) {
                       Allow(h, host);
                       Block(h, all, 0);
                     },
                 .retval = XDP_PASS,
                 .stats = Cat(Seen(fam), {{"pass_allowed", 1}, {"pass_other", 1}}),
                 .check = [=](Harness& h, const RunResult&) { ExpectAllowHits(h, host, 1); }});
    t.push_back({.name = p + "allow_overrides_block_repeat",
                 .packet = udp,
                 .setup =
                     [=](Harness& h) {
                       Allow(h, host);
                       Block(h, net, 0);
                     },
                 .retval = XDP_PASS,
                 .stats = Times(Cat(passed, {{"pass_allowed", 1}}), 3),
                 .check =
                     [=](Harness& h, const RunResult& r) {
                       ASSERT_EQ(r.records.size(), 3u);
                       for (const auto& x : r.records) ExpectSipRecord(r, x, rec_allowed);
                       ExpectAllowHits(h, host, 3);
                     },
                 .repeat = 3});
    // The kernel skips an empty allowlist (it reads the trie's entry count):
    // an entry written past Maps, after the block and after packets were
    // dropped, still counts; and once the last entry goes, drops resume.
    t.push_back({.name = p + "allow_written_past_maps_after_drops_overrides_block",
                 .packet = udp,
                 .setup =
                     [=](Harness& h) {
                       Block(h, host, 0);
                       Send(h, udp, 3, XDP_DROP);
                       AllowRaw(h, net);
                     },
                 .retval = XDP_PASS,
                 .stats = Cat(passed, {{"pass_allowed", 1}}),
                 .check =
                     [=](Harness& h, const RunResult& r) {
                       OneSip(rec_allowed)(h, r);
                       ExpectAllowHits(h, net, 1);
                       ExpectHits(h, host, 3);
                     }});
    t.push_back({.name = p + "allow_added_while_blocked_then_removed",
                 .packet = udp,
                 .setup =
                     [=](Harness& h) {
                       Block(h, net, 0);
                       Send(h, udp, 2, XDP_DROP);
                       Allow(h, host);
                       Send(h, udp, 2, XDP_PASS);
                       auto pr = IpPrefix::Parse(host);
                       ASSERT_TRUE(pr.ok());
                       ASSERT_TRUE(h.maps().AllowDel(*pr).ok());
                     },
                 .retval = XDP_DROP,
                 .stats = dropped,
                 .check = [=](Harness& h, const RunResult&) { ExpectHits(h, net, 3); }});
    t.push_back({.name = p + "block_written_past_maps_into_empty_trie",
                 .packet = udp,
                 .setup =
                     [=](Harness& h) {
                       Send(h, udp, 1, XDP_PASS);
                       Block(h, net, kSecondAgo);  // written straight into the trie
                       Block(h, host, 0);
                     },
                 .retval = XDP_DROP,
                 .stats = dropped,
                 .check =
                     [=](Harness& h, const RunResult&) {
                       ExpectHits(h, host, 1);
                       EXPECT_TRUE(BlockEntryOf(h, net).has_value());
                     }});
    t.push_back({.name = p + "allow_alone_changes_nothing",
                 .packet = udp,
                 .setup = [=](Harness& h) { Allow(h, host); },
                 .retval = XDP_PASS,
                 .stats = passed,
                 .check =
                     [=](Harness& h, const RunResult& r) {
                       OneSip(rec)(h, r);
                       ExpectAllowHits(h, host, 0);
                     }});
    t.push_back({.name = p + "allow_other_prefix_does_not_protect",
                 .packet = udp,
                 .setup =
                     [=](Harness& h) {
                       Allow(h, other);
                       Block(h, host, 0);
                     },
                 .retval = XDP_DROP,
                 .stats = dropped,
                 .check = [=](Harness& h, const RunResult&) { ExpectAllowHits(h, other, 0); }});
    t.push_back({.name = p + "allow_other_family_does_not_protect",
                 .packet = udp,
                 .setup =
                     [=](Harness& h) {
                       Allow(h, other_family_all);
                       Block(h, host, 0);
                     },
                 .retval = XDP_DROP,
                 .stats = dropped});
    t.push_back({.name = p + "allow_and_expired_block",
                 .packet = udp,
                 .setup =
                     [=](Harness& h) {
                       Allow(h, host);
                       Block(h, host, kSecondAgo);
                     },
                 .retval = XDP_PASS,
                 .stats = Cat(passed, {{"block_expired", 1}}),
                 .check =
                     [=](Harness& h, const RunResult& r) {
                       OneSip(rec)(h, r);
                       ExpectGone(h, host);
                       ExpectAllowHits(h, host, 0);
                     }});
  }
  return t;
}

}  // namespace sw::bpftest
