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
#include "controller.h"
#include "harness.h"
#include "packet_builder.h"
#include "sipwarden/rules/ruleset.h"
#include "sipwarden/v1/operator.grpc.pb.h"
#include "tables.h"

namespace sw::bpftest {
namespace {

namespace v1 = sipwarden::v1;
using Clock = std::chrono::steady_clock;

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

template <typename F>
bool WaitFor(F f, int ms = 5000) {
  const auto until = Clock::now() + std::chrono::milliseconds(ms);
  while (Clock::now() < until) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return f();
}

class LiveAgentTest : public SharedHarnessTest {
 protected:
  void StartController() {
    controller::ControllerOptions o;
    o.listen = "127.0.0.1:0";
    o.db = dir_.File("c.db");
    o.quiet = true;
    auto c = controller::Controller::Start(o);
    ASSERT_TRUE(c.ok()) << c.status();
    ctl_ = std::move(*c);
    op_ = v1::OperatorService::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(ctl_->port()), grpc::InsecureChannelCredentials()));
  }
  void StartAgent(bool enforce = true) {
    std::vector<rules::ConfigError> errors;
    auto rules = rules::LoadRuleText(kRules, "<test>", &errors);
    ASSERT_TRUE(rules.ok()) << rules.status();
    LiveAgentOptions o;
    o.enforce = enforce;
    o.log = false;
    o.boot_to_unix_ns = BootToUnixOffsetNs();
    if (ctl_) {
      ControllerClientOptions co;
      co.addresses = {"127.0.0.1:" + std::to_string(ctl_->port())};
      co.name = "proxy-a";
      co.hostname = "proxy-a.test";
      co.version = "test";
      co.backoff_min_ms = 20;
      co.backoff_max_ms = 200;
      o.controller = co;
    }
    auto a = LiveAgent::Create(harness_->maps(), *rules, o, {});
    ASSERT_TRUE(a.ok()) << a.status();
    agent_ = std::move(*a);
    agent_->Start();
    if (ctl_) {
      ASSERT_TRUE(WaitFor([&] { return agent_->controller()->stats().connected; }));
    }
  }
  // Runs one SIP request from src through the program; its records go to the agent.
  RunResult Send(const char* src, const std::string& sip) {
    RunResult r = harness_->Run(FrameFrom(4, src, kDst4).Udp(5060, 5060).Payload(sip).Build());
    for (const auto& raw : r.raw) agent_->OnRecord(raw);
    agent_->Tick(BootNs(), true);
    return r;
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

}  // namespace
}  // namespace sw::bpftest
