// SPDX-License-Identifier: BSD-2-Clause
// The live agent (agent/live_agent.h) without an interface: crafted packets
// run through the real XDP program (bpf_prog_test_run_opts), the records it
// hands up go to LiveAgent::OnRecord, and what the rules decide is checked
// in the kernel maps and by running the next packet. With a controller on a
// loopback port: alarms and local blocks reach it, the events its central
// rules ask for are forwarded, and its decisions come back into the kernel.
#include "live_agent.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>

#include <chrono>
#include <thread>

#include "../controller/test_util.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "controller.h"
#include "fleet_decisions.h"
#include "harness.h"
#include "packet_builder.h"
#include "sipwarden/rules/ruleset.h"
#include "sipwarden/v1/honeypot.grpc.pb.h"
#include "sipwarden/v1/operator.grpc.pb.h"
#include "tables.h"

namespace sw::bpftest {
namespace {

namespace v1 = sipwarden::v1;
using controller::WaitFor;

// A scanner blocked on sight; every REGISTER reported as a refused guess for
// its To user (what the central password rules count).
constexpr char kRules[] = R"(version: 1
rules:
  - name: test-scanner
    type: Single
    match: {request: true, user_agent: {regex: "evilscan"}}
    key: [src_ip]
    actions:
      - alarm: {signature: "test scanner ${src_ip}", category: scanner-signature, severity: 1}
      - block: {ttl: 1h, reason: scan}
  - name: test-guess
    type: Single
    match: {method: REGISTER}
    actions:
      - emit: {name: auth-failure, copy: [to_user], fields: {auth_user: "${to_user}"}}
)";

class LiveAgentTest : public SharedHarnessTest {
 protected:
  void StartController(int64_t watch_grace_ns = 2'000'000'000) {
    controller::ControllerOptions o;
    o.watch_grace_ns = watch_grace_ns;
    o.listen = "127.0.0.1:0";
    o.db = dir_.File("c.db");
    o.quiet = true;
    auto c = controller::Controller::Start(o);
    ASSERT_TRUE(c.ok()) << c.status();
    ctl_ = std::move(*c);
    op_ = v1::OperatorService::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(ctl_->port()), grpc::InsecureChannelCredentials()));
  }
  // An agent over the harness's maps; rules: the test's (kRules) or, when
  // empty, the built-in rules/default.yaml.
  std::unique_ptr<LiveAgent> MakeAgent(const std::string& name, bool enforce = true,
                                       std::string_view rule_text = kRules) {
    std::vector<rules::ConfigError> errors;
    auto rules = rule_text.empty() ? LoadAgentRules("", &errors)
                                   : rules::LoadRuleText(rule_text, "<test>", &errors);
    EXPECT_TRUE(rules.ok()) << rules.status();
    if (!rules.ok()) return nullptr;
    LiveAgentOptions o;
    o.enforce = enforce;
    o.log = false;
    o.boot_to_unix_ns = BootToUnixOffsetNs();
    o.mgcp_ports = {2427, 2727};
    if (ctl_) {
      ControllerClientOptions co;
      co.addresses = {"127.0.0.1:" + std::to_string(ctl_->port())};
      co.name = name;
      co.hostname = name + ".test";
      co.version = "test";
      co.backoff_min_ms = 20;
      co.backoff_max_ms = 200;
      o.controller = co;
    }
    auto a = LiveAgent::Create(harness_->maps(), *rules, o, {});
    EXPECT_TRUE(a.ok()) << a.status();
    if (!a.ok()) return nullptr;
    (*a)->Start();
    if (ctl_) {
      EXPECT_TRUE(WaitFor([&] { return (*a)->controller()->stats().connected; })) << name;
    }
    return std::move(*a);
  }
  void StartAgent(bool enforce = true) {
    agent_ = MakeAgent("proxy-a", enforce);
    ASSERT_NE(agent_, nullptr);
  }
  // Runs one UDP datagram through the program; its records go to `to`.
  static RunResult SendUdp(LiveAgent& to, const char* src, uint16_t sport, const char* dst,
                           uint16_t dport, const std::string& payload) {
    RunResult r = harness_->Run(FrameFrom(4, src, dst).Udp(sport, dport).Payload(payload).Build());
    for (const auto& raw : r.raw) to.OnRecord(raw);
    to.Tick(BootNs(), true);
    return r;
  }
  // Runs one SIP request from src through the program; its records go to the agent.
  RunResult Send(const char* src, const std::string& sip) {
    return SendUdp(*agent_, src, 5060, kDst4, 5060, sip);
  }
  static std::string Scanner() {
    std::string m = test::SipRequest("OPTIONS", "sip:100@example.com");
    return m.insert(m.find("Content-Length"), "User-Agent: evilscan 1.0\r\n");
  }
  bool KernelBlocks(const std::string& prefix) {
    auto list = harness_->maps().BlockList();
    if (!list.ok()) return false;
    for (const auto& b : *list) {
      if (b.prefix.ToString() == prefix) return true;
    }
    return false;
  }
  std::vector<v1::StoredAlarm> Alarms() {
    grpc::ClientContext ctx;
    ctx.AddMetadata("sw-name", "ops");
    v1::ListAlarmsRequest req;
    v1::ListAlarmsResponse resp;
    EXPECT_TRUE(op_->ListAlarms(&ctx, req, &resp).ok());
    return {resp.alarms().begin(), resp.alarms().end()};
  }
  bool ControllerHolds(const std::string& prefix) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("sw-name", "ops");
    v1::ListDecisionsRequest req;
    v1::ListDecisionsResponse resp;
    if (!op_->ListDecisions(&ctx, req, &resp).ok()) return false;
    for (const auto& d : resp.decisions()) {
      if (d.prefix() == prefix && d.action() == v1::ACTION_BLOCK) return true;
    }
    return false;
  }
  std::optional<sw_src_limit> KernelLimit(const char* addr) {
    auto l = harness_->maps().SrcLimit(*IpAddress::Parse(addr));
    EXPECT_TRUE(l.ok()) << l.status();
    return l.ok() ? *l : std::nullopt;
  }
  // A honeypot's report of a call from src to a deflector.
  void HoneypotHit(uint64_t id, const char* src, const std::string& callee) {
    auto hp = v1::HoneypotService::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(ctl_->port()), grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    ctx.AddMetadata("sw-name", "hp-1");
    v1::HitBatch b;
    auto* h = b.add_hits();
    h->set_id(id);
    h->set_stage(v1::HoneypotHit::STAGE_ARRIVED);
    h->set_ts_unix_ns(absl::ToUnixNanos(absl::Now()));
    h->set_method("INVITE");
    h->set_src_ip(src);
    h->set_callee(callee);
    h->set_call_id("call-" + std::to_string(id));
    v1::HitAck ack;
    auto st = hp->ReportHits(&ctx, b, &ack);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  void TearDown() override {
    if (agent_) agent_->Shutdown(absl::ZeroDuration());
    agent_.reset();
    ctl_.reset();
  }

  controller::TempDir dir_;
  std::unique_ptr<controller::Controller> ctl_;
  std::unique_ptr<v1::OperatorService::Stub> op_;
  std::unique_ptr<LiveAgent> agent_;
};

TEST_F(LiveAgentTest, ARuleBlockReachesTheKernelAndTheNextPacketIsDropped) {
  StartAgent();
  RunResult first = Send(kSrc4, Scanner());
  EXPECT_EQ(first.retval, XDP_PASS);
  ASSERT_EQ(first.raw.size(), 1u);
  EXPECT_TRUE(KernelBlocks("192.0.2.10/32"));
  EXPECT_EQ(agent_->correlator().alarms(), 1u);
  RunResult second = Send(kSrc4, Scanner());
  EXPECT_EQ(second.retval, XDP_DROP);
  EXPECT_TRUE(second.raw.empty());
}

TEST_F(LiveAgentTest, DetectOnlyRaisesTheAlarmButBlocksNothing) {
  StartAgent(/*enforce=*/false);
  Send(kSrc4, Scanner());
  EXPECT_EQ(agent_->correlator().alarms(), 1u);
  EXPECT_FALSE(KernelBlocks("192.0.2.10/32"));
  EXPECT_EQ(Send(kSrc4, Scanner()).retval, XDP_PASS);
}

TEST_F(LiveAgentTest, AnAllowlistedSourceIsNeverBlocked) {
  ASSERT_TRUE(harness_->maps().AllowAdd(*IpPrefix::Parse("192.0.2.0/24")).ok());
  StartAgent();
  Send(kSrc4, Scanner());
  EXPECT_EQ(agent_->correlator().alarms(), 1u);
  EXPECT_FALSE(KernelBlocks("192.0.2.10/32"));
}

TEST_F(LiveAgentTest, AlarmAndLocalBlockReachTheController) {
  StartController();
  StartAgent();
  Send(kSrc4, Scanner());
  ASSERT_TRUE(WaitFor([&] { return Alarms().size() == 1; }));
  const auto alarms = Alarms();
  EXPECT_EQ(alarms[0].agent(), "proxy-a");
  EXPECT_EQ(alarms[0].alarm().rule(), "test-scanner");
  EXPECT_EQ(alarms[0].alarm().src_ip(), "192.0.2.10");
  // The block's reason (scan) is fleet-wide by the default policy.
  EXPECT_TRUE(WaitFor([&] { return ControllerHolds("192.0.2.10/32"); }));
}

TEST_F(LiveAgentTest, ACentralRuleBlockComesBackIntoThisKernel) {
  StartController();
  StartAgent();
  // Five users guessed from one source: under no local rule here, over the
  // central fleet-bruteforce-source threshold (rules/central.yaml).
  const char* src = "192.0.2.77";
  for (int i = 1; i <= 5; ++i) {
    RunResult r = Send(src, test::SipRequest("REGISTER", "sip:user" + std::to_string(i) + "@example.com"));
    EXPECT_EQ(r.retval, XDP_PASS);
  }
  ASSERT_TRUE(WaitFor([&] { return ControllerHolds("192.0.2.77/32"); }));
  ASSERT_TRUE(WaitFor([&] { return KernelBlocks("192.0.2.77/32"); }));
  EXPECT_EQ(agent_->fleet()->stats().blocks, 1u);
  EXPECT_EQ(Send(src, test::SipRequest("REGISTER", "sip:user6@example.com")).retval, XDP_DROP);
}

TEST_F(LiveAgentTest, AnOperatorBlockIsEnforcedAndItsRemovalLiftsIt) {
  StartController();
  StartAgent();
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("sw-name", "ops");
    v1::BlockRequest req;
    req.set_prefix("192.0.2.8/29");
    req.set_ttl_seconds(600);
    v1::Decision d;
    ASSERT_TRUE(op_->Block(&ctx, req, &d).ok());
  }
  ASSERT_TRUE(WaitFor([&] { return KernelBlocks("192.0.2.8/29"); }));
  EXPECT_EQ(Send(kSrc4, test::SipRequest("OPTIONS")).retval, XDP_DROP);
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("sw-name", "ops");
    v1::PrefixRequest req;
    req.set_prefix("192.0.2.8/29");
    v1::Decision d;
    ASSERT_TRUE(op_->Unblock(&ctx, req, &d).ok());
  }
  ASSERT_TRUE(WaitFor([&] { return !KernelBlocks("192.0.2.8/29"); }));
  EXPECT_EQ(Send(kSrc4, test::SipRequest("OPTIONS")).retval, XDP_PASS);
}

TEST_F(LiveAgentTest, AFleetBlockCoveringThisHostIsNotInstalled) {
  StartController();
  StartAgent();
  // 127.0.0.1 is an address of every host: a block over it would cut this
  // one off. The next block still arrives (the stream goes on).
  for (const char* prefix : {"127.0.0.0/8", "192.0.2.10/32"}) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("sw-name", "ops");
    v1::BlockRequest req;
    req.set_prefix(prefix);
    req.set_ttl_seconds(600);
    v1::Decision d;
    ASSERT_TRUE(op_->Block(&ctx, req, &d).ok()) << prefix;
  }
  ASSERT_TRUE(WaitFor([&] { return KernelBlocks("192.0.2.10/32"); }));
  EXPECT_FALSE(KernelBlocks("127.0.0.0/8"));
  EXPECT_EQ(agent_->fleet()->stats().spared, 1u);
}

TEST_F(LiveAgentTest, AHoneypotGraylistSlowsTheSourceHereAndItsBlockDropsIt) {
  StartController();
  StartAgent();
  // A call to a deflector: the controller graylists the source, and this
  // kernel limits it to 5 requests/s with a bucket of 20.
  HoneypotHit(1, kSrc4, "900");
  ASSERT_TRUE(WaitFor([&] { return KernelLimit(kSrc4).has_value(); }));
  const sw_src_limit l = *KernelLimit(kSrc4);
  EXPECT_EQ(l.rate, 5u);
  EXPECT_EQ(l.burst, 20u);
  EXPECT_EQ(l.reason, static_cast<uint32_t>(SW_REASON_HONEYPOT));
  const double left_s = static_cast<double>(l.expires_ns - BootNs()) / 1e9;
  EXPECT_GT(left_s, 3590);
  EXPECT_LE(left_s, 3600);
  EXPECT_EQ(agent_->fleet()->stats().graylists, 1u);
  // A person's next call goes through; a bot's burst is cut at the bucket.
  int passed = 0, dropped = 0;
  for (int i = 0; i < 30; ++i) {
    const int rv = Send(kSrc4, test::SipRequest("INVITE")).retval;
    (rv == XDP_PASS ? passed : dropped) += 1;
  }
  std::printf("graylisted source: %d of 30 INVITEs passed, %d dropped\n", passed, dropped);
  EXPECT_GE(passed, 20);
  EXPECT_LE(passed, 22);  // the bucket refills at 5/s while the 30 run
  EXPECT_EQ(passed + dropped, 30);
  // A second call, to another deflector: blocked outright.
  HoneypotHit(2, kSrc4, "901");
  ASSERT_TRUE(WaitFor([&] { return KernelBlocks("192.0.2.10/32"); }));
  EXPECT_EQ(Send(kSrc4, test::SipRequest("OPTIONS")).retval, XDP_DROP);
  // The operator lifts both with one unblock.
  grpc::ClientContext ctx;
  ctx.AddMetadata("sw-name", "ops");
  v1::PrefixRequest req;
  req.set_prefix(kSrc4);
  v1::Decision d;
  ASSERT_TRUE(op_->Unblock(&ctx, req, &d).ok());
  ASSERT_TRUE(WaitFor([&] { return !KernelBlocks("192.0.2.10/32") && !KernelLimit(kSrc4); }));
  EXPECT_EQ(agent_->fleet()->stats().graylists_removed, 1u);
  EXPECT_EQ(agent_->fleet()->stats().graylists, 0u);
}

TEST_F(LiveAgentTest, FleetGraylistsGetTheTimeLeftAndSnapshotsReconcileThem) {
  int64_t now = absl::ToUnixNanos(absl::Now());
  FleetDecisions fleet(harness_->maps(), [&] { return now; });
  fleet.SetSpare([](const IpPrefix& p) { return p.addr.ToString() == kDst4; });
  constexpr int64_t kSec = 1'000'000'000;
  auto graylist = [&](const std::string& prefix, int64_t expires, uint32_t rate = 5,
                      uint32_t burst = 20) {
    v1::Decision d;
    d.set_prefix(prefix);
    d.set_action(v1::ACTION_GRAYLIST);
    d.set_origin(v1::ORIGIN_HONEYPOT);
    d.set_reason("honeypot");
    d.set_expires_unix_ns(expires);
    d.set_rate_per_s(rate);
    d.set_burst(burst);
    return d;
  };
  auto batch = [](std::vector<v1::Decision> ds, v1::DecisionChange::Kind kind,
                  bool snapshot = false) {
    v1::DecisionBatch b;
    b.set_snapshot(snapshot);
    b.set_snapshot_done(snapshot);
    for (auto& d : ds) {
      auto* c = b.add_changes();
      c->set_kind(kind);
      *c->mutable_decision() = d;
    }
    return b;
  };
  const auto kSet = v1::DecisionChange::KIND_SET;
  fleet.Apply(
      batch({graylist("192.0.2.10/32", now + 600 * kSec), graylist("2001:db8::10/128", 0, 2, 4),
             graylist("192.0.2.11/32", now - kSec),                   // expired on the way
             graylist(std::string(kDst4) + "/32", now + 600 * kSec),  // this host
             graylist("192.0.2.0/24", now + 600 * kSec)},             // not a host
            kSet));
  auto v4 = KernelLimit(kSrc4);
  ASSERT_TRUE(v4.has_value());
  EXPECT_EQ(v4->rate, 5u);
  EXPECT_EQ(v4->burst, 20u);
  EXPECT_EQ(v4->reason, static_cast<uint32_t>(SW_REASON_HONEYPOT));
  const double left_s = static_cast<double>(v4->expires_ns - BootNs()) / 1e9;
  EXPECT_GT(left_s, 595);
  EXPECT_LE(left_s, 600);
  auto v6 = KernelLimit(kSrc6);
  ASSERT_TRUE(v6.has_value());
  EXPECT_EQ(v6->expires_ns, 0u);  // never expires
  EXPECT_EQ(v6->rate, 2u);
  EXPECT_FALSE(KernelLimit("192.0.2.11").has_value());
  EXPECT_FALSE(KernelLimit(kDst4).has_value());
  auto s = fleet.stats();
  EXPECT_EQ(s.graylists, 2u);
  EXPECT_EQ(s.graylists_set, 2u);
  EXPECT_EQ(s.expired_on_arrival, 1u);
  EXPECT_EQ(s.graylists_spared, 1u);
  EXPECT_EQ(s.errors, 1u);
  // The same graylist fetched again 100 s later (a reconnection): the time
  // left to its absolute expiry, never extended.
  const int64_t expires = now + 600 * kSec;
  now += 100 * kSec;
  fleet.Apply(batch({graylist("192.0.2.10/32", expires)}, kSet));
  const double again_s = static_cast<double>(KernelLimit(kSrc4)->expires_ns - BootNs()) / 1e9;
  EXPECT_GT(again_s, 495);
  EXPECT_LE(again_s, 500);
  // The agent's own rules limit 2001:db8::10 since: the fleet's removal
  // leaves that limit alone.
  ASSERT_TRUE(
      harness_->maps()
          .SrcLimitSet(*IpAddress::Parse(kSrc6), 1, 1, absl::ZeroDuration(), SW_REASON_FLOOD)
          .ok());
  fleet.Apply(batch({graylist("2001:db8::10/128", 0)}, v1::DecisionChange::KIND_EXPIRE));
  ASSERT_TRUE(KernelLimit(kSrc6).has_value());
  EXPECT_EQ(KernelLimit(kSrc6)->reason, static_cast<uint32_t>(SW_REASON_FLOOD));
  EXPECT_EQ(fleet.stats().graylists, 1u);
  // A snapshot that no longer holds 192.0.2.10 but a new one: the first
  // goes, the second comes.
  fleet.Apply(batch({graylist("192.0.2.12/32", now + 60 * kSec)}, kSet, /*snapshot=*/true));
  EXPECT_FALSE(KernelLimit(kSrc4).has_value());
  EXPECT_TRUE(KernelLimit("192.0.2.12").has_value());
  s = fleet.stats();
  EXPECT_EQ(s.graylists, 1u);
  EXPECT_EQ(s.graylists_removed, 1u);
  // A fleet allow over it lifts it here at once.
  v1::Decision allow;
  allow.set_prefix("192.0.2.0/24");
  allow.set_action(v1::ACTION_ALLOW);
  fleet.Apply(batch({allow}, kSet));
  EXPECT_FALSE(KernelLimit("192.0.2.12").has_value());
  EXPECT_EQ(fleet.stats().graylists, 0u);
  auto allowed = [&] {
    auto list = harness_->maps().AllowList();
    return list.ok() && !list->empty();
  };
  EXPECT_TRUE(allowed());
  // Its removal reaches the kernel too.
  fleet.Apply(batch({allow}, v1::DecisionChange::KIND_REMOVE));
  EXPECT_FALSE(allowed());
  EXPECT_EQ(fleet.stats().allows_removed, 1u);
}

// What FleetDecisions tells an observer (the agent's push to Kamailio):
// the graylists it installs and lifts, and a snapshot once, whole.
TEST_F(LiveAgentTest, FleetGraylistsAreToldToTheObserver) {
  struct Recorder : GraylistObserver {
    std::vector<std::string> seen;
    void GraylistSet(const IpAddress& h, int64_t e) override {
      seen.push_back(absl::StrCat("set ", h.ToString(), " ", e));
    }
    void GraylistRemoved(const IpAddress& h) override {
      seen.push_back(absl::StrCat("removed ", h.ToString()));
    }
    void GraylistsReplaced(std::vector<std::pair<IpAddress, int64_t>> all) override {
      std::string line = "replaced";
      for (const auto& [h, e] : all) absl::StrAppend(&line, " ", h.ToString(), "@", e);
      seen.push_back(line);
    }
  } rec;
  const int64_t now = absl::ToUnixNanos(absl::Now());
  const int64_t later = now + 600'000'000'000;
  FleetDecisions fleet(harness_->maps(), [&] { return now; });
  fleet.SetSpare([](const IpPrefix& p) { return p.addr.ToString() == kDst4; });
  fleet.SetGraylistObserver(&rec);
  auto change = [](std::string prefix, v1::Action a, int64_t expires,
                   v1::DecisionChange::Kind kind = v1::DecisionChange::KIND_SET,
                   bool snapshot = false) {
    v1::DecisionBatch b;
    b.set_snapshot(snapshot);
    b.set_snapshot_done(snapshot);
    auto* c = b.add_changes();
    c->set_kind(kind);
    c->mutable_decision()->set_prefix(prefix);
    c->mutable_decision()->set_action(a);
    c->mutable_decision()->set_expires_unix_ns(expires);
    c->mutable_decision()->set_rate_per_s(5);
    c->mutable_decision()->set_burst(20);
    return b;
  };
  fleet.Apply(change("192.0.2.10/32", v1::ACTION_GRAYLIST, later, v1::DecisionChange::KIND_SET,
                     /*snapshot=*/true));
  fleet.Apply(change("2001:db8::10/128", v1::ACTION_GRAYLIST, 0));
  fleet.Apply(change(std::string(kDst4) + "/32", v1::ACTION_GRAYLIST, later));  // spared
  fleet.Apply(change("198.51.100.1/32", v1::ACTION_GRAYLIST, now - 1));         // expired
  fleet.Apply(change("2001:db8::10/128", v1::ACTION_GRAYLIST, 0, v1::DecisionChange::KIND_REMOVE));
  fleet.Apply(change("192.0.2.0/24", v1::ACTION_ALLOW, 0));  // lifts 192.0.2.10
  fleet.Apply(change("198.51.100.2/32", v1::ACTION_GRAYLIST, later, v1::DecisionChange::KIND_SET,
                     /*snapshot=*/true));
  EXPECT_EQ(
      absl::StrJoin(rec.seen, "\n"),
      absl::StrCat("replaced 192.0.2.10@", later, "\nset 2001:db8::10 0\n",
                   "removed 2001:db8::10\nremoved 192.0.2.10\nreplaced 198.51.100.2@", later));
}

TEST_F(LiveAgentTest, ARefusedMessageIsAnEventAndCountedByReason) {
  StartAgent();
  std::string m = test::SipRequest("INVITE");
  m.replace(m.find("CSeq: 314159"), 12, "CSeq: -1");
  RunResult r = Send(kSrc4, m);
  EXPECT_EQ(r.retval, XDP_PASS);
  ASSERT_EQ(r.raw.size(), 1u);
  PromText t;
  agent_->AddMetrics(t);
  const std::string text = t.Take();
  EXPECT_NE(text.find(R"(sipwarden_refused_total{protocol="sip",reason="bad_cseq"} 1)"),
            std::string::npos)
      << text.substr(0, 2000);
  // The test rules ask for no malformed events: none of them fired.
  EXPECT_EQ(agent_->correlator().alarms(), 0u);
}

// Parsed SIP messages counted by method, in a bounded set: on /metrics and in
// the counters the controller gets every 10 s. A method outside the set, in
// any case, is OTHER; the parser's refusals are not counted.
TEST_F(LiveAgentTest, SipMessagesAreCountedByMethodOnMetricsAndAtTheController) {
  StartController();
  StartAgent();
  Send("192.0.2.31", test::SipRequest("INVITE"));
  Send("192.0.2.31", test::SipRequest("OPTIONS"));
  Send("192.0.2.31", test::SipRequest("OPTIONS"));
  Send("192.0.2.31", test::SipRequest("SUBSCRIBE"));
  Send("192.0.2.31", test::SipRequest("XFLOOD"));
  Send("192.0.2.31", test::SipRequest("invite"));
  Send("192.0.2.31", test::SipResponse(200));
  std::string bad = test::SipRequest("INVITE");
  bad.replace(bad.find("CSeq: 314159"), 12, "CSeq: -1");
  Send("192.0.2.31", bad);
  PromText t;
  agent_->AddMetrics(t);
  const std::string text = t.Take();
  for (const char* line : {
           R"(sipwarden_sip_messages_total{method="INVITE"} 1)",
           R"(sipwarden_sip_messages_total{method="OPTIONS"} 2)",
           R"(sipwarden_sip_messages_total{method="SUBSCRIBE"} 1)",
           R"(sipwarden_sip_messages_total{method="OTHER"} 2)",
           R"(sipwarden_sip_messages_total{method="RESPONSE"} 1)",
           R"(sipwarden_sip_messages_total{method="BYE"} 0)",
       }) {
    EXPECT_NE(text.find(std::string(line) + "\n"), std::string::npos) << line << "\n" << text;
  }
  EXPECT_EQ(text.find("XFLOOD"), std::string::npos) << "a method from the wire became a label";
  EXPECT_EQ(text.find("method=\"invite\""), std::string::npos);
  EXPECT_EQ(agent_->sip_methods().total(), 7u);
  // The controller's copy of the agent's counters (the first report goes out
  // a second after the start, then every 10 s).
  std::map<std::string, double> counters;
  ASSERT_TRUE(WaitFor(
      [&] {
        agent_->Tick(BootNs(), false);
        grpc::ClientContext ctx;
        ctx.AddMetadata("sw-name", "ops");
        v1::ListAgentsResponse resp;
        if (!op_->ListAgents(&ctx, v1::ListAgentsRequest(), &resp).ok()) return false;
        for (const auto& a : resp.agents()) {
          if (a.agent() != "proxy-a" || !a.counters().contains("sip_method_INVITE")) continue;
          counters = {a.counters().begin(), a.counters().end()};
          return true;
        }
        return false;
      },
      5000));
  EXPECT_EQ(counters["sip_method_INVITE"], 1);
  EXPECT_EQ(counters["sip_method_OPTIONS"], 2);
  EXPECT_EQ(counters["sip_method_SUBSCRIBE"], 1);
  EXPECT_EQ(counters["sip_method_OTHER"], 2);
  EXPECT_EQ(counters["sip_method_RESPONSE"], 1);
  EXPECT_EQ(counters["sip_method_BYE"], 0);
  EXPECT_TRUE(counters.contains("pass_sip"));
  for (const auto& [key, v] : counters) {
    if (key.starts_with("sip_method_")) {
      EXPECT_TRUE(std::find(kSipMethodBuckets.begin(), kSipMethodBuckets.end(),
                            std::string_view(key).substr(11)) != kSipMethodBuckets.end())
          << key;
    }
  }
}

// The paper's malicious gateway (section 4.2), across two hosts: the call
// agent's host sees CRCX, its answer and DLCX; the gateway's host sees the
// media that still arrives. Neither agent's own rules can tell; the central
// rules do. (Both agents share this test's one program and maps.)
TEST_F(LiveAgentTest, MediaAfterDlcxSeenOnAnotherHostIsCaughtCentrally) {
  StartController(/*watch_grace_ns=*/50'000'000);
  ASSERT_TRUE(harness_->maps().SetPortRoles({5060, 5080}, {2427, 2727}).ok());
  auto call_agent_host = MakeAgent("ca-host", true, "");
  auto gateway_host = MakeAgent("gw-host", true, "");
  ASSERT_TRUE(call_agent_host && gateway_host);
  const char* ca = "198.51.100.1";
  const char* gw = "198.51.100.9";
  SendUdp(*call_agent_host, ca, 2727, gw, 2427,
          "CRCX 1201 aaln/1@gw.example.net MGCP 1.0\r\nC: A3C47F21456789F0\r\n"
          "L: p:10, a:PCMU\r\nM: recvonly\r\n");
  SendUdp(*call_agent_host, gw, 2427, ca, 2727,
          "200 1201 OK\r\nI: FDE234C8\r\n\r\nv=0\r\no=- 25678 753849 IN IP4 198.51.100.9\r\n"
          "s=-\r\nc=IN IP4 198.51.100.9\r\nt=0 0\r\nm=audio 3456 RTP/AVP 0\r\n");
  SendUdp(*call_agent_host, ca, 2727, gw, 2427,
          "DLCX 1210 aaln/1@gw.example.net MGCP 1.0\r\nC: A3C47F21456789F0\r\nI: FDE234C8\r\n");
  // The controller asks every agent to watch 198.51.100.9:3456.
  ASSERT_TRUE(WaitFor([&] {
    gateway_host->Tick(BootNs(), false);
    call_agent_host->Tick(BootNs(), false);
    return gateway_host->fleet_watches_armed() == 1 && call_agent_host->fleet_watches_armed() == 1;
  }));
  EXPECT_EQ(ctl_->media_watches().size(), 1u);
  // Media still reaches the gateway: its host's kernel posts a notice.
  RunResult r = SendUdp(*gateway_host, "203.0.113.5", 9000, gw, 3456, test::RtpPacket(7, 2, 0));
  ASSERT_EQ(r.raw.size(), 1u);
  EXPECT_EQ(gateway_host->fleet_watch_reports(), 1u);
  ASSERT_TRUE(WaitFor([&] {
    for (const auto& a : Alarms()) {
      if (a.alarm().rule() == "fleet-gateway-media-after-dlcx") return true;
    }
    return false;
  }));
  for (const auto& a : Alarms()) {
    if (a.alarm().rule() != "fleet-gateway-media-after-dlcx") continue;
    EXPECT_EQ(a.agent(), "controller");
    EXPECT_EQ(a.alarm().category(), "gateway");
    EXPECT_NE(a.alarm().signature().find("203.0.113.5:9000 -> 198.51.100.9:3456"), std::string::npos)
        << a.alarm().signature();
  }
  // Neither host raised an alarm of its own about it.
  EXPECT_EQ(call_agent_host->correlator().alarms(), 0u);
  EXPECT_EQ(gateway_host->correlator().alarms(), 0u);
  gateway_host->Shutdown(absl::ZeroDuration());
  call_agent_host->Shutdown(absl::ZeroDuration());
}

}  // namespace
}  // namespace sw::bpftest
