// SPDX-License-Identifier: BSD-2-Clause
// Per-source accounting and token buckets. The test run reads the real boot
// clock, so rates are 1/s: refill during a test is negligible.
#include <gtest/gtest.h>

#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "tables.h"

namespace sw::bpftest {
namespace {

const char* Src2(int family) { return family == 4 ? "192.0.2.11" : "2001:db8::11"; }

// The source's per-class message counts and per-bucket rate drops.
void ExpectSource(Harness& h, std::string_view src,
                  const std::vector<std::pair<uint8_t, uint64_t>>& msgs,
                  const std::vector<std::pair<int, uint64_t>>& rate_dropped) {
  auto s = SourceState(h, src);
  ASSERT_TRUE(s.has_value()) << "no sw_src entry for " << src;
  for (int c = 0; c < SW_CLASS_MAX; ++c) {
    uint64_t want = 0;
    for (const auto& [cls, n] : msgs) want += cls == c ? n : 0;
    EXPECT_EQ(s->msgs[c], want) << "msgs[" << ClassName(c) << "]";
  }
  for (int b = 0; b < SW_BUCKET_MAX; ++b) {
    uint64_t want = 0;
    for (const auto& [bucket, n] : rate_dropped) want += bucket == b ? n : 0;
    EXPECT_EQ(s->rate_dropped[b], want) << "rate_dropped[" << b << "]";
  }
}

// A rule's rate limit on one source, as the agent sets it.
void SetSourceLimit(Harness& h, std::string_view src, uint32_t rate, uint32_t burst,
                    absl::Duration ttl = absl::ZeroDuration()) {
  auto addr = IpAddress::Parse(src);
  ASSERT_TRUE(addr.ok()) << addr.status();
  auto st = h.maps().SrcLimitSet(*addr, rate, burst, ttl, SW_REASON_FLOOD);
  ASSERT_TRUE(st.ok()) << st;
}

std::optional<sw_src_limit> SourceLimit(Harness& h, std::string_view src) {
  auto all = h.maps().SrcLimits();
  EXPECT_TRUE(all.ok()) << all.status();
  if (!all.ok()) return std::nullopt;
  for (const auto& e : *all) {
    if (e.addr.ToString() == src) return e.value;
  }
  return std::nullopt;
}

}  // namespace

std::vector<Case> RateCases() {
  std::vector<Case> t;
  for (int fam : {4, 6}) {
    const std::string p = Fam(fam) + "/";
    const std::string src = Src(fam);
    auto udp = [fam](std::string msg, const char* from = nullptr) {
      return FrameFrom(fam, from ? from : Src(fam), Dst(fam)).Udp(5060, 5060).Payload(msg).Build();
    };
    const auto invite = udp(SipRequest("INVITE"));
    const auto reg = udp(SipRequest("REGISTER"));
    const auto options = udp(SipRequest("OPTIONS"));
    const auto bye = udp(SipRequest("BYE"));
    const auto ok = udp(SipResponse(200));
    const auto invite2 = udp(SipRequest("INVITE"), Src2(fam));
    const auto tcp_invite = Frame(fam).Tcp(40000, 5060).Payload(SipRequest("INVITE")).Build();
    const StatList udp_req = Cat(Seen(fam), {{"sip_udp", 1}, {"sip_requests", 1}});
    const StatList rate_drop = Cat(udp_req, {{"drop_rate", 1}});
    const StatList passed = Cat(Seen(fam), SipPassed(false, true));

    t.push_back({.name = p + "invite_burst_passes",
                 .packet = invite,
                 .setup = [](Harness& h) { SetLimit(h, SW_BUCKET_INVITE, 1, 3); },
                 .retval = XDP_PASS,
                 .stats = Times(passed, 3),
                 .check =
                     [src](Harness& h, const RunResult& r) {
                       EXPECT_EQ(r.records.size(), 3u);
                       ExpectSource(h, src, {{SW_CLASS_INVITE, 3}}, {});
                       auto s = SourceState(h, src);
                       ASSERT_TRUE(s.has_value());
                       // GCRA: three conforming messages push the theoretical
                       // arrival time three intervals past the first arrival.
                       EXPECT_GE(s->tat_ns[SW_BUCKET_INVITE], s->first_ns + 3000000000ull);
                       EXPECT_LE(s->tat_ns[SW_BUCKET_INVITE], r.t_after + 3000000000ull);
                       EXPECT_EQ(s->tat_ns[SW_BUCKET_REGISTER], 0u);
                     },
                 .repeat = 3});
    t.push_back({.name = p + "invite_over_burst_dropped",
                 .packet = invite,
                 .setup =
                     [invite](Harness& h) {
                       SetLimit(h, SW_BUCKET_INVITE, 1, 3);
                       Send(h, invite, 3, XDP_PASS);
                     },
                 .retval = XDP_DROP,
                 .stats = rate_drop,
                 .check =
                     [src](Harness& h, const RunResult&) {
                       ExpectSource(h, src, {{SW_CLASS_INVITE, 4}}, {{SW_BUCKET_INVITE, 1}});
                     }});
    t.push_back({.name = p + "invite_burst_then_drop_in_one_run",
                 .packet = invite,
                 .setup = [](Harness& h) { SetLimit(h, SW_BUCKET_INVITE, 1, 3); },
                 .retval = XDP_DROP,
                 .stats = Cat(Times(passed, 3), Times(rate_drop, 2)),
                 .check =
                     [src](Harness& h, const RunResult& r) {
                       EXPECT_EQ(r.records.size(), 3u);
                       ExpectSource(h, src, {{SW_CLASS_INVITE, 5}}, {{SW_BUCKET_INVITE, 2}});
                     },
                 .repeat = 5});
    // A first line the kernel refuses still counts against its source: by
    // the class it claims (copied to the agent), or as another request.
    const StatList not_sip = Cat(Seen(fam), {{"sip_port_not_sip", 1}, {"malformed", 1}});
    t.push_back({.name = p + "not_sip_charged_to_the_class_it_claims",
                 .packet = udp("INVITE sip:bob@example.com SIP/3.0\r\n\r\n"),
                 .setup = [](Harness& h) { SetLimit(h, SW_BUCKET_INVITE, 1, 1); },
                 .retval = XDP_DROP,
                 .stats = Cat(Times(not_sip, 2),
                              {{"pass_other", 1}, {"rb_records", 1}, {"drop_rate", 1}}),
                 .check =
                     [src](Harness& h, const RunResult& r) {
                       ASSERT_EQ(r.records.size(), 1u);  // the first, for the agent to refuse
                       EXPECT_EQ(r.records[0].hdr.msg_class, SW_CLASS_NONE);
                       ExpectSource(h, src, {{SW_CLASS_INVITE, 2}}, {{SW_BUCKET_INVITE, 1}});
                     },
                 .repeat = 2});
    t.push_back({.name = p + "noise_charged_as_another_request",
                 .packet = udp(std::string("\x01\x02\x03\x04 binary noise on 5060", 25)),
                 .setup = [](Harness& h) { SetLimit(h, SW_BUCKET_OTHER, 1, 1); },
                 .retval = XDP_DROP,
                 .stats = Cat(Times(not_sip, 2), {{"pass_other", 1}, {"drop_rate", 1}}),
                 .check =
                     [src](Harness& h, const RunResult& r) {
                       EXPECT_TRUE(r.records.empty());  // not copied
                       ExpectSource(h, src, {{SW_CLASS_OTHER_REQUEST, 2}}, {{SW_BUCKET_OTHER, 1}});
                     },
                 .repeat = 2});
    t.push_back({.name = p + "burst_1_second_dropped",
                 .packet = invite,
                 .setup = [](Harness& h) { SetLimit(h, SW_BUCKET_INVITE, 1, 1); },
                 .retval = XDP_DROP,
                 .stats = Cat(passed, rate_drop),
                 .repeat = 2});
    t.push_back({.name = p + "register_over_burst_dropped",
                 .packet = reg,
                 .setup =
                     [reg](Harness& h) {
                       SetLimit(h, SW_BUCKET_REGISTER, 1, 2);
                       Send(h, reg, 2, XDP_PASS);
                     },
                 .retval = XDP_DROP,
                 .stats = rate_drop,
                 .check =
                     [src](Harness& h, const RunResult&) {
                       ExpectSource(h, src, {{SW_CLASS_REGISTER, 3}}, {{SW_BUCKET_REGISTER, 1}});
                     }});
    t.push_back({.name = p + "other_bucket_shared_by_other_methods",
                 .packet = bye,
                 .setup =
                     [options](Harness& h) {
                       SetLimit(h, SW_BUCKET_OTHER, 1, 2);
                       Send(h, options, 2, XDP_PASS);
                     },
                 .retval = XDP_DROP,
                 .stats = rate_drop,
                 .check =
                     [src](Harness& h, const RunResult&) {
                       ExpectSource(h, src, {{SW_CLASS_OPTIONS, 2}, {SW_CLASS_BYE, 1}},
                                    {{SW_BUCKET_OTHER, 1}});
                     }});
    t.push_back({.name = p + "register_not_limited_by_invite_bucket",
                 .packet = reg,
                 .setup =
                     [invite](Harness& h) {
                       SetLimit(h, SW_BUCKET_INVITE, 1, 1);
                       SetLimit(h, SW_BUCKET_REGISTER, 1, 1);
                       Send(h, invite, 1, XDP_PASS);
                       Send(h, invite, 1, XDP_DROP);
                     },
                 .retval = XDP_PASS,
                 .stats = passed,
                 .check =
                     [src](Harness& h, const RunResult&) {
                       ExpectSource(h, src, {{SW_CLASS_INVITE, 2}, {SW_CLASS_REGISTER, 1}},
                                    {{SW_BUCKET_INVITE, 1}});
                     }});
    t.push_back({.name = p + "other_unlimited_while_invite_limited",
                 .packet = options,
                 .setup =
                     [invite](Harness& h) {
                       SetLimit(h, SW_BUCKET_INVITE, 1, 1);
                       Send(h, invite, 1, XDP_PASS);
                       Send(h, invite, 1, XDP_DROP);
                     },
                 .retval = XDP_PASS,
                 .stats = Times(passed, 10),
                 .repeat = 10});
    t.push_back({.name = p + "responses_never_limited",
                 .packet = ok,
                 .setup =
                     [invite, options](Harness& h) {
                       for (int b = 0; b < SW_BUCKET_MAX; ++b) SetLimit(h, b, 1, 1);
                       Send(h, invite, 1, XDP_PASS);
                       Send(h, options, 1, XDP_PASS);
                     },
                 .retval = XDP_PASS,
                 .stats = Times(Cat(Seen(fam), SipPassed(false, false)), 10),
                 .check =
                     [src](Harness& h, const RunResult& r) {
                       EXPECT_EQ(r.records.size(), 10u);
                       ExpectSource(
                           h, src,
                           {{SW_CLASS_INVITE, 1}, {SW_CLASS_OPTIONS, 1}, {SW_CLASS_RESP_2XX, 10}},
                           {});
                     },
                 .repeat = 10});
    t.push_back({.name = p + "other_source_has_own_bucket",
                 .packet = invite2,
                 .setup =
                     [invite](Harness& h) {
                       SetLimit(h, SW_BUCKET_INVITE, 1, 1);
                       Send(h, invite, 1, XDP_PASS);
                       Send(h, invite, 1, XDP_DROP);
                     },
                 .retval = XDP_PASS,
                 .stats = passed,
                 .check =
                     [src, fam](Harness& h, const RunResult&) {
                       ExpectSource(h, src, {{SW_CLASS_INVITE, 2}}, {{SW_BUCKET_INVITE, 1}});
                       ExpectSource(h, Src2(fam), {{SW_CLASS_INVITE, 1}}, {});
                     }});
    // TCP: the same buckets, but a request over them is passed (dropping a
    // segment of an established connection would stall its other dialogs)
    // and charged to the source, whose new connections are then refused.
    const auto syn = Frame(fam).Tcp(40001, 5060).TcpSeq(7000).TcpFlags(0x02).Build();
    const auto syn_ack = Frame(fam).Tcp(5060, 40001).TcpSeq(9000).TcpFlags(0x12).Build();
    const StatList tcp_over =
        Cat(Seen(fam), {{"sip_tcp", 1}, {"sip_requests", 1}, {"pass_sip", 1}, {"rb_records", 1},
                        {"tcp_over_rate", 1}});
    const StatList syn_passed = Cat(Seen(fam), {{"pass_other", 1}});
    const StatList syn_refused = Cat(Seen(fam), {{"drop_tcp_syn", 1}});
    auto over_on_tcp = [tcp_invite](Harness& h) {
      SetLimit(h, SW_BUCKET_INVITE, 1, 1);
      Send(h, tcp_invite, 1, XDP_PASS);
      Send(h, tcp_invite, 3, XDP_PASS);  // over: passed, three seconds of debt
    };
    t.push_back({.name = p + "tcp_over_the_bucket_is_passed_and_flagged",
                 .packet = tcp_invite,
                 .setup =
                     [tcp_invite](Harness& h) {
                       SetLimit(h, SW_BUCKET_INVITE, 1, 1);
                       Send(h, tcp_invite, 1, XDP_PASS);
                     },
                 .retval = XDP_PASS,
                 .stats = tcp_over,
                 .check =
                     [fam, src](Harness& h, const RunResult& r) {
                       ASSERT_EQ(r.records.size(), 1u);
                       ExpectSipRecord(r, r.records[0],
                                       {.cls = SW_CLASS_INVITE,
                                        .family = fam,
                                        .transport = SW_TRANSPORT_TCP,
                                        .sport = 40000,
                                        .payload = SipRequest("INVITE"),
                                        .flags = SW_RECF_OVER_RATE});
                       // Not a drop: the source's rate_dropped stays 0.
                       ExpectSource(h, src, {{SW_CLASS_INVITE, 2}}, {});
                     }});
    t.push_back({.name = p + "tcp_syn_from_a_source_in_debt_is_refused",
                 .packet = syn,
                 .setup = over_on_tcp,
                 .retval = XDP_DROP,
                 .stats = syn_refused});
    t.push_back({.name = p + "tcp_syn_within_the_limit_passes",
                 .packet = syn,
                 .setup =
                     [tcp_invite](Harness& h) {
                       SetLimit(h, SW_BUCKET_INVITE, 1, 5);
                       Send(h, tcp_invite, 2, XDP_PASS);
                     },
                 .retval = XDP_PASS,
                 .stats = syn_passed});
    t.push_back({.name = p + "tcp_syn_ack_is_never_refused",
                 .packet = syn_ack,
                 .setup = over_on_tcp,
                 .retval = XDP_PASS,
                 .stats = syn_passed});
    t.push_back({.name = p + "tcp_syn_from_an_allowlisted_source_passes",
                 .packet = syn,
                 .setup =
                     [over_on_tcp, src](Harness& h) {
                       over_on_tcp(h);
                       Allow(h, src);
                     },
                 .retval = XDP_PASS,
                 .stats = Cat(syn_passed, {{"pass_allowed", 1}})});
    t.push_back({.name = p + "tcp_syn_refused_by_the_source_own_limit",
                 .packet = syn,
                 .setup =
                     [tcp_invite, src](Harness& h) {
                       SetSourceLimit(h, src, 1, 1);
                       Send(h, tcp_invite, 3, XDP_PASS);
                     },
                 .retval = XDP_DROP,
                 .stats = syn_refused,
                 .check =
                     [src](Harness& h, const RunResult&) {
                       auto l = SourceLimit(h, src);
                       ASSERT_TRUE(l.has_value());
                       EXPECT_EQ(l->dropped, 0u);  // nothing was dropped: charged
                     }});
    t.push_back({.name = p + "udp_is_not_refused_by_tcp_debt",
                 .packet = options,
                 .setup = over_on_tcp,
                 .retval = XDP_PASS,
                 .stats = passed});
    t.push_back({.name = p + "rate_zero_is_unlimited",
                 .packet = invite,
                 .retval = XDP_PASS,
                 .stats = Times(passed, 50),
                 .check =
                     [src](Harness& h, const RunResult&) {
                       ExpectSource(h, src, {{SW_CLASS_INVITE, 50}}, {});
                     },
                 .repeat = 50});
    t.push_back({.name = p + "allowlisted_never_rate_limited",
                 .packet = invite,
                 .setup =
                     [invite, src](Harness& h) {
                       Allow(h, src);
                       SetLimit(h, SW_BUCKET_INVITE, 1, 1);
                       Send(h, invite, 1, XDP_PASS);
                     },
                 .retval = XDP_PASS,
                 .stats = Times(Cat(passed, {{"pass_allowed", 1}}), 3),
                 .check =
                     [src, fam](Harness& h, const RunResult& r) {
                       ASSERT_EQ(r.records.size(), 3u);
                       const std::string msg = SipRequest("INVITE");
                       for (const auto& x : r.records) {
                         ExpectSipRecord(r, x,
                                         {.cls = SW_CLASS_INVITE,
                                          .family = fam,
                                          .payload = msg,
                                          .verdict = SW_VERDICT_PASS_ALLOWED});
                       }
                       // Nothing was dropped, so nothing is counted as dropped.
                       ExpectSource(h, src, {{SW_CLASS_INVITE, 4}}, {});
                       auto a = AllowEntryOf(h, src);
                       ASSERT_TRUE(a.has_value());
                       EXPECT_EQ(a->hits, 3u);
                     },
                 .repeat = 3});
    t.push_back({.name = p + "allowlisted_blocked_and_over_limit_counted_once",
                 .packet = invite,
                 .setup =
                     [invite, src](Harness& h) {
                       Allow(h, src);
                       Block(h, src, 0);
                       SetLimit(h, SW_BUCKET_INVITE, 1, 1);
                       Send(h, invite, 1, XDP_PASS);
                     },
                 .retval = XDP_PASS,
                 .stats = Cat(passed, {{"pass_allowed", 1}}),
                 .check =
                     [src, fam](Harness& h, const RunResult& r) {
                       ASSERT_EQ(r.records.size(), 1u);
                       ExpectSipRecord(r, r.records[0],
                                       {.cls = SW_CLASS_INVITE,
                                        .family = fam,
                                        .payload = SipRequest("INVITE"),
                                        .verdict = SW_VERDICT_PASS_ALLOWED});
                       ExpectSource(h, src, {{SW_CLASS_INVITE, 2}}, {});
                       auto a = AllowEntryOf(h, src);
                       ASSERT_TRUE(a.has_value());
                       EXPECT_EQ(a->hits, 2u);  // one per packet: the setup's and the row's
                       auto b = BlockEntryOf(h, src);
                       ASSERT_TRUE(b.has_value());
                       EXPECT_EQ(b->hits, 0u);
                     }});
    // Limits that rules set on single sources: one bucket over every request.
    const StatList limit_drop = Cat(udp_req, {{"drop_src_limit", 1}});
    t.push_back({.name = p + "source_limit_burst_then_drop",
                 .packet = invite,
                 .setup = [src](Harness& h) { SetSourceLimit(h, src, 1, 2); },
                 .retval = XDP_DROP,
                 .stats = Cat(Times(passed, 2), limit_drop),
                 .check =
                     [src](Harness& h, const RunResult& r) {
                       EXPECT_EQ(r.records.size(), 2u);
                       // Counted as a source-limit drop, not a global bucket's.
                       ExpectSource(h, src, {{SW_CLASS_INVITE, 3}}, {});
                       auto l = SourceLimit(h, src);
                       ASSERT_TRUE(l.has_value());
                       EXPECT_EQ(l->dropped, 1u);
                       EXPECT_EQ(l->rate, 1u);
                       EXPECT_EQ(l->burst, 2u);
                     },
                 .repeat = 3});
    t.push_back({.name = p + "source_limit_covers_every_request_method",
                 .packet = options,
                 .setup =
                     [src, reg](Harness& h) {
                       SetSourceLimit(h, src, 1, 1);
                       Send(h, reg, 1, XDP_PASS);
                     },
                 .retval = XDP_DROP,
                 .stats = limit_drop});
    t.push_back({.name = p + "source_limit_leaves_responses_alone",
                 .packet = ok,
                 .setup =
                     [src, invite](Harness& h) {
                       SetSourceLimit(h, src, 1, 1);
                       Send(h, invite, 1, XDP_PASS);
                     },
                 .retval = XDP_PASS,
                 .stats = Times(Cat(Seen(fam), SipPassed(false, false)), 5),
                 .repeat = 5});
    t.push_back({.name = p + "source_limit_leaves_other_sources_alone",
                 .packet = invite2,
                 .setup =
                     [src, invite](Harness& h) {
                       SetSourceLimit(h, src, 1, 1);
                       Send(h, invite, 1, XDP_PASS);
                       Send(h, invite, 1, XDP_DROP);
                     },
                 .retval = XDP_PASS,
                 .stats = Times(passed, 5),
                 .repeat = 5});
    t.push_back({.name = p + "source_limit_after_global_bucket",
                 .packet = invite,
                 .setup =
                     [src, invite](Harness& h) {
                       SetLimit(h, SW_BUCKET_INVITE, 1, 1);
                       SetSourceLimit(h, src, 1, 5);
                       Send(h, invite, 1, XDP_PASS);
                     },
                 .retval = XDP_DROP,
                 .stats = rate_drop,
                 .check =
                     [src](Harness& h, const RunResult&) {
                       ExpectSource(h, src, {{SW_CLASS_INVITE, 2}}, {{SW_BUCKET_INVITE, 1}});
                       auto l = SourceLimit(h, src);
                       ASSERT_TRUE(l.has_value());
                       EXPECT_EQ(l->dropped, 0u);
                     }});
    t.push_back({.name = p + "source_limit_expired_is_removed",
                 .packet = invite,
                 .setup =
                     [src](Harness& h) {
                       SetSourceLimit(h, src, 1, 1, absl::Nanoseconds(1));
                     },
                 .retval = XDP_PASS,
                 .stats = Cat(Times(passed, 3), {{"src_limit_expired", 1}}),
                 .check =
                     [src](Harness& h, const RunResult&) {
                       EXPECT_FALSE(SourceLimit(h, src).has_value());
                     },
                 .repeat = 3});
    t.push_back({.name = p + "source_limit_spares_allowlisted",
                 .packet = invite,
                 .setup =
                     [src, invite](Harness& h) {
                       Allow(h, src);
                       SetSourceLimit(h, src, 1, 1);
                       Send(h, invite, 1, XDP_PASS);
                     },
                 .retval = XDP_PASS,
                 .stats = Cat(passed, {{"pass_allowed", 1}}),
                 .check =
                     [src](Harness& h, const RunResult&) {
                       auto l = SourceLimit(h, src);
                       ASSERT_TRUE(l.has_value());
                       EXPECT_EQ(l->dropped, 0u);  // nothing was dropped
                     }});
    for (const char* m : {"ACK", "BYE", "CANCEL"}) {
      t.push_back({.name = p + "source_limit_spares_" + m,
                   .packet = udp(SipRequest(m)),
                   .setup =
                       [src, invite](Harness& h) {
                         SetSourceLimit(h, src, 1, 1);
                         Send(h, invite, 1, XDP_PASS);
                         Send(h, invite, 1, XDP_DROP);
                       },
                   .retval = XDP_PASS,
                   .stats = Times(passed, 3),
                   .repeat = 3});
    }
    t.push_back({.name = p + "source_limit_ignored_while_flag_is_off",
                 .packet = invite,
                 .setup =
                     [src, invite](Harness& h) {
                       SetSourceLimit(h, src, 1, 1);
                       Send(h, invite, 1, XDP_PASS);
                       auto cfg = h.maps().ReadConfig();
                       ASSERT_TRUE(cfg.ok());
                       cfg->flags &= ~SW_CFG_SRC_LIMITS;
                       ASSERT_TRUE(h.maps().WriteConfig(*cfg).ok());
                     },
                 .retval = XDP_PASS,
                 .stats = Times(passed, 3),
                 .repeat = 3});
    t.push_back({.name = p + "per_class_counters",
                 .packet = udp(SipResponse(486, "Busy Here")),
                 .setup =
                     [=](Harness& h) {
                       for (const char* m : {"INVITE", "ACK", "BYE", "CANCEL", "REGISTER",
                                             "NEWMETHOD", "NEWMETHOD"}) {
                         Send(h, udp(SipRequest(m)), 1, XDP_PASS);
                       }
                       Send(h, ok, 1, XDP_PASS);
                       Send(h, udp(SipResponse(180, "Ringing")), 1, XDP_PASS);
                     },
                 .retval = XDP_PASS,
                 .stats = Cat(Seen(fam), SipPassed(false, false)),
                 .check =
                     [src](Harness& h, const RunResult& r) {
                       ExpectSource(h, src,
                                    {{SW_CLASS_INVITE, 1},
                                     {SW_CLASS_ACK, 1},
                                     {SW_CLASS_BYE, 1},
                                     {SW_CLASS_CANCEL, 1},
                                     {SW_CLASS_REGISTER, 1},
                                     {SW_CLASS_OTHER_REQUEST, 2},
                                     {SW_CLASS_RESP_2XX, 1},
                                     {SW_CLASS_RESP_1XX, 1},
                                     {SW_CLASS_RESP_4XX, 1}},
                                    {});
                       auto s = SourceState(h, src);
                       ASSERT_TRUE(s.has_value());
                       EXPECT_LT(s->first_ns, r.t_before);
                       EXPECT_GE(s->last_ns, r.t_before);
                       EXPECT_LE(s->last_ns, r.t_after);
                     }});
  }
  return t;
}

}  // namespace sw::bpftest
