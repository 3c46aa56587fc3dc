// SPDX-License-Identifier: BSD-2-Clause
// Pair and PairWithWindow rules, and the paper's synthetic event chains:
// INVITE-200 OK -> INVITE-200 OK-BYE -> media after BYE (the BYE attack), and
// INVITE-200 OK without ACK -> broken handshake -> threshold (Table 1).
#include <gtest/gtest.h>

#include "rules_test_util.h"

namespace sw::rules::testing {
namespace {

constexpr char kPair[] = R"(
rules:
  - name: register-auth
    type: Pair
    match: {method: REGISTER, has_auth: false}
    key: [call_id]
    match2: {method: REGISTER, has_auth: true}
    window: 30s
    actions:
      - emit: {name: challenge-expected, copy: [call_id]}
    actions2:
      - emit:
          name: authenticated
          fields: {user: "${auth_user}", first_ua: "${first.user_agent}", n: "${count}",
                   first_src: "${first.src_ip}"}
)";

TEST(Pair, FirstActsAtOnceSecondActsWithTheFirstEventsFields) {
  Harness h(kPair);
  h.Feed(Sip("REGISTER").Call("r1").UA("phone/1").Src("192.0.2.1").At(kT0));
  h.Feed(Sip("REGISTER").Call("r1").At(kT0 + 1 * kS));  // a repeat: taken without action
  h.Feed(Sip("REGISTER").Call("r2").At(kT0 + 2 * kS));  // another operation
  h.Feed(Sip("REGISTER").Call("r1").Auth("alice").Src("192.0.2.9").At(kT0 + 3 * kS));
  ASSERT_EQ(h.SyntheticNames(), (std::vector<std::string>{"challenge-expected",
                                                          "challenge-expected", "authenticated"}));
  const SyntheticEvent& done = h.synthetic[2];
  EXPECT_EQ(*done.Find("user"), "alice");
  EXPECT_EQ(*done.Find("first_ua"), "phone/1");
  EXPECT_EQ(*done.Find("first_src"), "192.0.2.1");
  EXPECT_EQ(*done.Find("n"), "2");
  EXPECT_EQ(done.flow.src.ToString(), "192.0.2.9");  // the flow of the completing event
  EXPECT_EQ(h.Stats("register-auth").absorbed, 1u);
  EXPECT_EQ(h.Stats("register-auth").open, 1u);  // r2 still waits
  // A second event without a first one does nothing; nor does r1 again.
  h.Feed(Sip("REGISTER").Call("r1").Auth("alice").At(kT0 + 4 * kS));
  h.Feed(Sip("REGISTER").Call("r9").Auth("bob").At(kT0 + 4 * kS));
  EXPECT_EQ(h.synthetic.size(), 3u);
}

TEST(Pair, WindowEndsTheOperationSilently) {
  Harness h(kPair);
  h.Feed(Sip("REGISTER").Call("r1").At(kT0));
  h.Feed(Sip("REGISTER").Call("r1").Auth("alice").At(kT0 + 30 * kS + 1));
  // The window (30 s) had passed: the operation was gone, nothing pairs.
  EXPECT_EQ(h.SyntheticNames(), std::vector<std::string>{"challenge-expected"});
  EXPECT_EQ(h.Stats("register-auth").open, 0u);
}

constexpr char kPww[] = R"(
rules:
  - name: await-ack
    type: PairWithWindow
    match: {status: 200, cseq_method: INVITE}
    key: [call_id]
    match2: {method: ACK}
    window: 4s
    actions:
      - emit: {name: no-ack, copy: [call_id, to_user, dst_ip], fields: {n: "${count}"}}
    actions2:
      - emit: {name: acked, copy: [call_id]}
)";

TEST(PairWithWindow, SecondEventInTimeRunsActions2ExactlyAtTheEndIncluded) {
  Harness h(kPww);
  h.Feed(Sip("200").Call("a").At(kT0));
  h.Feed(Sip("ACK").Call("a").At(kT0 + 4 * kS));  // the window's last instant
  h.Advance(kT0 + 60 * kS);
  EXPECT_EQ(h.SyntheticNames(), std::vector<std::string>{"acked"});
}

TEST(PairWithWindow, TimeoutRunsActionsAtTheDeadlineWithTheFirstEvent) {
  Harness h(kPww);
  h.Feed(Sip("200").Call("a").To("bob").Dst("192.0.2.44").At(kT0));
  h.Feed(Sip("200").Call("a").At(kT0 + 1 * kS));  // retransmitted 200: absorbed
  h.Feed(Sip("ACK").Call("other").At(kT0 + 2 * kS));
  h.Advance(kT0 + 4 * kS);
  EXPECT_TRUE(h.synthetic.empty());
  h.Feed(Sip("ACK").Call("a").At(kT0 + 4 * kS + 1));  // too late
  ASSERT_EQ(h.SyntheticNames(), std::vector<std::string>{"no-ack"});
  const SyntheticEvent& s = h.synthetic[0];
  EXPECT_EQ(s.ts_ns, kT0 + 4 * kS);
  EXPECT_EQ(*s.Find("call_id"), "a");
  EXPECT_EQ(*s.Find("to_user"), "bob");
  EXPECT_EQ(*s.Find("dst_ip"), "192.0.2.44");
  EXPECT_EQ(*s.Find("n"), "2");
  EXPECT_TRUE(s.has_flow);
  EXPECT_EQ(s.flow.dst.ToString(), "192.0.2.44");
}

TEST(PairWithWindow, ManyOpenDialogsPairByKey) {
  Harness h(kPww);
  constexpr int kCalls = 20000;
  for (int i = 0; i < kCalls; ++i) h.Feed(Sip("200").Call("c" + std::to_string(i)).At(kT0 + i));
  EXPECT_EQ(h.Stats("await-ack").open, static_cast<size_t>(kCalls));
  for (int i = kCalls - 1; i >= 0; i -= 2)
    h.Feed(Sip("ACK").Call("c" + std::to_string(i)).At(kT0 + kCalls));
  h.Advance(kT0 + 10 * kS);
  size_t acked = 0, missing = 0;
  for (const auto& s : h.synthetic) (s.name == "acked" ? acked : missing)++;
  EXPECT_EQ(acked, static_cast<size_t>(kCalls / 2));
  EXPECT_EQ(missing, static_cast<size_t>(kCalls / 2));
}

TEST(Bounds, AFloodOfShortLivedKeysKeepsMemoryBounded) {
  Harness h(R"(
rules:
  - name: p
    type: Pair
    match: {method: INVITE}
    key: [call_id]
    match2: {method: CANCEL}
    window: 60s
    max_keys: 100
    actions2: [{emit: {name: cancelled, copy: [call_id]}}]
)");
  // 300k distinct Call-IDs in 3 s: all but the last 100 are evicted, and the
  // timers they left behind are dropped in bulk.
  for (int i = 0; i < 300000; ++i) {
    h.Feed(Sip("INVITE").Call("flood-" + std::to_string(i)).At(kT0 + int64_t{i} * 10000));
  }
  EXPECT_EQ(h.Stats("p").evicted, 299900u);
  EXPECT_GT(h.engine->stats().timer_compactions, 0u);
  h.Feed(Sip("CANCEL").Call("flood-299999").At(kT0 + 4 * kS));
  h.Feed(Sip("CANCEL").Call("flood-0").At(kT0 + 4 * kS));
  EXPECT_EQ(h.SyntheticNames(), std::vector<std::string>{"cancelled"});
  h.Advance(kT0 + 100 * kS);
  EXPECT_EQ(h.Stats("p").open, 0u);
}

TEST(Pair, CancelFromAPartyOtherThanTheCaller) {
  Harness h(R"(
rules:
  - name: foreign-cancel
    type: Pair
    match: {method: INVITE}
    key: [call_id]
    match2: {method: CANCEL, src_ip: {ne_first: src_ip}}
    window: 60s
    actions2:
      - alarm: {signature: "CANCEL from ${src_ip}, caller ${first.src_ip}", category: cancel,
                severity: 1}
)");
  h.Feed(Sip("INVITE").Call("x").Src("192.0.2.10").At(kT0));
  h.Feed(Sip("CANCEL").Call("x").Src("192.0.2.10").At(kT0 + kS));
  EXPECT_TRUE(h.alarms.empty());
  h.Feed(Sip("CANCEL").Call("x").Src("203.0.113.99").At(kT0 + 2 * kS));
  ASSERT_EQ(h.alarms.size(), 1u);
  EXPECT_EQ(h.alarms[0].signature, "CANCEL from 203.0.113.99, caller 192.0.2.10");
  EXPECT_EQ(h.alarms[0].src.ToString(), "203.0.113.99");
}

// The BYE attack (Table 1, figure 4): three correlated rules.
constexpr char kByeAttack[] = R"(
rules:
  - name: invite-ok
    type: PairWithWindow
    match: {method: INVITE, has_sdp: true}
    key: [call_id]
    match2: {status: 200, cseq_method: INVITE, has_sdp: true}
    window: 32s
    actions2:
      - emit:
          name: invite-ok
          copy: [call_id, from_tag, to_tag]
          fields:
            caller_media_ip: "${first.media_ip}"
            caller_media_port: "${first.media_port}"
            callee_media_ip: "${media_ip}"
            callee_media_port: "${media_port}"
  - name: invite-ok-bye
    type: Pair
    match: {name: invite-ok}
    key: [call_id]
    match2: {method: BYE}
    window: 4h
    actions2:
      - watch_media:
          # A folded line: the break becomes the space between the endpoints.
          media: "${first.field.caller_media_ip}:${first.field.caller_media_port}
                  ${first.field.callee_media_ip}:${first.field.callee_media_port}"
          ttl: 30s
      - emit:
          name: invite-ok-bye
          copy: [call_id]
          fields: {media_ip: "${first.field.caller_media_ip}",
                   media_port: "${first.field.caller_media_port}", bye_from: "${src_ip}"}
      - emit:
          name: invite-ok-bye
          copy: [call_id]
          fields: {media_ip: "${first.field.callee_media_ip}",
                   media_port: "${first.field.callee_media_port}", bye_from: "${src_ip}"}
  - name: media-after-bye
    type: PairWithWindow
    match: {name: invite-ok-bye}
    key: [media_ip, media_port]
    match2: {type: rtp, reason: media_after_end}
    key2: [dst_ip, dst_port]
    window: 10s
    actions2:
      - alarm:
          signature: "BYE attack: media to ${dst_ip}:${dst_port} after a BYE from
            ${first.field.bye_from}"
          category: teardown
          severity: 1
)";

void ByeCall(Harness& h) {
  h.Feed(Sip("INVITE").Call("bye-1").Src("192.0.2.10").Media("192.0.2.10", 40000).At(kT0));
  h.Feed(Sip("180").Call("bye-1").At(kT0 + 1 * kS));
  h.Feed(Sip("200")
             .Call("bye-1")
             .Src("192.0.2.20")
             .Dst("192.0.2.10")
             .Media("192.0.2.20", 50000)
             .At(kT0 + 3 * kS));
  h.Feed(Sip("ACK").Call("bye-1").At(kT0 + 3 * kS + 10 * kMs));
  h.Feed(Sip("BYE").Call("bye-1").Src("203.0.113.66").At(kT0 + 60 * kS));  // forged
}

TEST(Chains, ByeAttackMediaAfterBye) {
  Harness h(kByeAttack);
  ByeCall(h);
  EXPECT_EQ(h.SyntheticNames(),
            (std::vector<std::string>{"invite-ok", "invite-ok-bye", "invite-ok-bye"}));
  ASSERT_EQ(h.watches.size(), 1u);
  ASSERT_EQ(h.watches[0].endpoints.size(), 2u);
  EXPECT_EQ(h.watches[0].endpoints[0].addr.ToString(), "192.0.2.10");
  EXPECT_EQ(h.watches[0].endpoints[0].port, 40000);
  EXPECT_EQ(h.watches[0].endpoints[1].port, 50000);
  EXPECT_EQ(h.watches[0].call_id, "bye-1");
  // B, unaware of the BYE, keeps sending to A.
  h.Feed(Rtp(kT0 + 61 * kS, "192.0.2.20", 50000, "192.0.2.10", 40000));
  ASSERT_EQ(h.alarms.size(), 1u);
  EXPECT_EQ(h.alarms[0].signature,
            "BYE attack: media to 192.0.2.10:40000 after a BYE from 203.0.113.66");
  EXPECT_EQ(h.alarms[0].category, "teardown");
  EXPECT_EQ(h.alarms[0].src.ToString(), "192.0.2.20");
}

TEST(Chains, ByeAttackNotRaisedWithoutMedia) {
  Harness h(kByeAttack);
  ByeCall(h);
  h.Feed(Rtp(kT0 + 61 * kS, "192.0.2.20", 50000, "192.0.2.10", 40002));  // another endpoint
  h.Feed(Rtp(kT0 + 71 * kS, "192.0.2.20", 50000, "192.0.2.10", 40000));  // too late
  EXPECT_TRUE(h.alarms.empty());
  EXPECT_EQ(h.Stats("media-after-bye").open, 0u);
}

constexpr char kBrokenHandshake[] = R"yaml(
rules:
  - name: invite-ok
    type: PairWithWindow
    match: {method: INVITE}
    key: [call_id]
    match2: {status: 200, cseq_method: INVITE}
    window: 32s
    actions2:
      - emit: {name: invite-ok, copy: [call_id], fields: {caller: "${first.src_ip}"}}
  - name: await-ack
    type: PairWithWindow
    match: {name: invite-ok}
    key: [call_id]
    match2: {method: ACK}
    window: 2s
    actions:
      - emit: {name: broken-handshake, copy: [call_id], fields: {caller: "${field.caller}"}}
  - name: broken-handshake-flood
    type: SingleWithThreshold
    match: {name: broken-handshake}
    key: [field.caller]
    window: 60s
    threshold: 3
    actions:
      - alarm: {signature: "broken handshake flood from ${field.caller} (${count})",
                category: handshake, severity: 1}
      - block: {target: "${field.caller}", ttl: 5m}
)yaml";

void Handshake(Harness& h, int i, bool ack) {
  const std::string id = "hs-" + std::to_string(i);
  const int64_t t = kT0 + i * kS;
  h.Feed(Sip("INVITE").Call(id).Src("198.51.100.7").At(t));
  h.Feed(Sip("200").Call(id).At(t + 100 * kMs));
  if (ack) h.Feed(Sip("ACK").Call(id).Src("198.51.100.7").At(t + 200 * kMs));
}

TEST(Chains, BrokenHandshakeFlood) {
  Harness h(kBrokenHandshake);
  for (int i = 0; i < 3; ++i) Handshake(h, i, true);
  h.Advance(kT0 + 30 * kS);
  EXPECT_TRUE(h.alarms.empty());
  for (int i = 30; i < 33; ++i) Handshake(h, i, false);
  h.Advance(kT0 + 40 * kS);
  ASSERT_EQ(h.alarms.size(), 1u);
  EXPECT_EQ(h.alarms[0].signature, "broken handshake flood from 198.51.100.7 (3)");
  EXPECT_EQ(h.alarms[0].ts_ns, kT0 + 32 * kS + 2100 * kMs);  // the third ACK deadline
  EXPECT_EQ(h.alarms[0].action, AlarmOutcome::kBlocked);
  ASSERT_EQ(h.blocks.size(), 1u);
  EXPECT_EQ(h.blocks[0].prefix.ToString(), "198.51.100.7/32");
  EXPECT_EQ(h.blocks[0].reason, "handshake");
}

TEST(Chains, SyntheticLoopsAreCut) {
  Harness h(R"(
rules:
  - name: echo
    type: Single
    match: {name: ping}
    actions: [{emit: {name: ping}}]
  - name: start
    type: Single
    match: {method: OPTIONS}
    actions: [{emit: {name: ping}}]
)");
  h.Feed(Sip("OPTIONS"));
  EXPECT_EQ(h.synthetic.size(), 16u);  // max_synthetic_depth
  EXPECT_EQ(h.engine->stats().synthetic_dropped, 1u);
  // Rules that do not ask for synthetic events never see them.
  EXPECT_EQ(h.Stats("start").matched, 1u);
}

TEST(Chains, InjectedSyntheticEventsAndTypedCarriedFields) {
  Harness h(R"(
rules:
  - name: big
    type: Single
    match: {type: synthetic, name: [report, other], field.size: {regex: "^[0-9]+$"},
            status: {ge: 500}, src_ip: 10.0.0.0/8}
    actions: [{emit: {name: seen, copy: [field.size, status]}}]
)");
  SyntheticEvent s;
  s.name = "report";
  s.ts_ns = kT0;
  s.Set("size", "42");
  s.Set("status", "503");
  s.Set("src_ip", "10.2.3.4");  // no flow: the carried text is parsed
  h.Feed(s);
  s.Set("status", "abc");  // not a number: the condition fails
  h.Feed(s);
  s.name = "unknown";  // a name no rule mentions
  h.Feed(s);
  ASSERT_EQ(h.SyntheticNames(), std::vector<std::string>{"seen"});
  EXPECT_EQ(*h.synthetic[0].Find("size"), "42");
  EXPECT_EQ(*h.synthetic[0].Find("status"), "503");
}

// Synthetic events whose rules ask for a method or a status are dispatched by
// them too: every edge of that (statuses below 100 and above 699, a status
// that is no number, an absent or empty method, an unknown method, a method
// in another case, conditions under any: and not:) reaches exactly the rules
// whose conditions hold.
TEST(SyntheticDispatch, ByMethodAndStatusReachesExactlyTheMatchingRules) {
  Harness h(R"(
defaults: {}
rules:
  - {name: low, type: Single, continue: true, actions: &hit [{emit: {name: hit}}],
     match: {name: outcome, status: {lt: 100}}}
  - {name: high, type: Single, continue: true, actions: *hit,
     match: {name: outcome, status: {ge: 700}}}
  - {name: register, type: Single, continue: true, actions: *hit,
     match: {name: outcome, method: REGISTER}}
  - {name: foo, type: Single, continue: true, actions: *hit, match: {name: outcome, method: FOO}}
  - {name: either, type: Single, continue: true, actions: *hit,
     match: {name: outcome, any: [{status: 404}, {method: BYE}]}}
  - {name: not-2xx, type: Single, continue: true, actions: *hit,
     match: {name: outcome, not: [{status: 2xx}]}}
  - {name: invite-2xx, type: Single, continue: true, actions: *hit,
     match: {name: outcome, method: INVITE, status: 2xx}}
  - {name: any-outcome, type: Single, actions: *hit, match: {name: outcome}}
)");
  auto feed = [&](std::string_view method, std::string_view status) {
    SyntheticEvent s;
    s.name = "outcome";
    s.ts_ns = kT0;
    if (method != "-") s.Set("method", method);
    if (status != "-") s.Set("status", status);
    h.Feed(s);
  };
  feed("REGISTER", "50");
  feed("register", "750");
  feed("FOO", "abc");
  feed("", "404");
  feed("BYE", "-");
  feed("INVITE", "200");
  feed("-", "-5");
  EXPECT_EQ(h.Stats("low").matched, 2u);  // 50 and -5
  EXPECT_EQ(h.Stats("high").matched, 1u);
  EXPECT_EQ(h.Stats("register").matched, 1u);  // not "register"
  EXPECT_EQ(h.Stats("foo").matched, 1u);
  EXPECT_EQ(h.Stats("either").matched, 2u);
  EXPECT_EQ(h.Stats("not-2xx").matched, 6u);
  EXPECT_EQ(h.Stats("invite-2xx").matched, 1u);
  EXPECT_EQ(h.Stats("any-outcome").matched, 7u);
}

// An event no rule reads is made only for a sink that wants its name; it is
// counted either way. One a rule reads is always made.
TEST(SyntheticDispatch, UnreadEventsAreMadeOnlyWhenTheSinkWantsThem) {
  const auto rules = Harness::Load(R"(
rules:
  - {name: note-call, type: Single, continue: true, match: {type: call},
     actions: [{emit: {name: call-note, copy: [caller_user]}}]}
  - {name: note-invite, type: Single, match: {method: INVITE},
     actions: [{emit: {name: invite-note, copy: [call_id]}}]}
  - {name: read-invite-note, type: Single, match: {name: invite-note},
     actions: [{emit: {name: seen}}]}
)");
  for (bool wanted : {false, true}) {
    SCOPED_TRACE(wanted);
    std::vector<std::string> made;
    std::vector<std::string> asked;
    EngineSinks sinks;
    sinks.synthetic = [&](const SyntheticEvent& s) { made.push_back(s.name); };
    sinks.synthetic_wanted = [&](std::string_view name) {
      asked.emplace_back(name);
      return wanted;
    };
    Engine engine(rules, sinks);
    ev::CallRecord call;
    call.caller.user = "alice";
    call.start_ns = call.end_ns = kT0;
    engine.OnCall(call);
    engine.OnSip(Sip("INVITE").Call("c1").At(kT0 + kS).e);
    // call-note: no rule reads it, so the sink was asked; invite-note is read
    // by a rule (made and passed to the sink without asking); seen: unread.
    EXPECT_EQ(asked, (std::vector<std::string>{"call-note", "seen"}));
    if (wanted) {
      EXPECT_EQ(made, (std::vector<std::string>{"call-note", "invite-note", "seen"}));
    } else {
      EXPECT_EQ(made, (std::vector<std::string>{"invite-note"}));
    }
    EXPECT_EQ(engine.stats().synthetic, 3u);
  }
}

}  // namespace
}  // namespace sw::rules::testing
