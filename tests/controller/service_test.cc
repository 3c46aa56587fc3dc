// SPDX-License-Identifier: BSD-2-Clause
// The controller's gRPC services on a loopback port, driven by the agent's
// real ControllerClient and by OperatorService stubs.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>

#include "absl/time/clock.h"
#include "controller.h"
#include "controller_client.h"
#include "sipwarden/ip.h"
#include "sipwarden/v1/agent.grpc.pb.h"
#include "sipwarden/v1/honeypot.grpc.pb.h"
#include "sipwarden/v1/operator.grpc.pb.h"
#include "fake_kernel.h"
#include "office_days.h"
#include "sipwarden/profiles/store.h"
#include "test_util.h"

namespace sw::controller {
namespace {

namespace v1 = sipwarden::v1;
using Clock = std::chrono::steady_clock;

class ServiceTest : public ::testing::Test {
 protected:
  void StartController(size_t page = 10000, const std::string& profiles = "") {
    ControllerOptions o;
    o.listen = "127.0.0.1:" + std::to_string(port_);
    o.db = dir_.File("c.db");
    o.quiet = true;
    o.snapshot_page = page;
    o.profiles = profiles;
    auto c = Controller::Start(o);
    ASSERT_TRUE(c.ok()) << c.status();
    ctl_ = std::move(*c);
    port_ = ctl_->port();
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(port_),
                                   grpc::InsecureChannelCredentials());
    op_ = v1::OperatorService::NewStub(channel_);
    hp_ = v1::HoneypotService::NewStub(channel_);
  }
  // A honeypot's calls, named by sw-name as without TLS.
  grpc::Status RegisterHoneypot(const std::string& who, v1::HoneypotRegisterResponse* out,
                                const std::string& as = "") {
    grpc::ClientContext ctx;
    ctx.AddMetadata("sw-name", who);
    v1::HoneypotRegisterRequest req;
    req.set_honeypot(as.empty() ? who : as);
    req.set_hostname(who + ".lab");
    req.set_version("test");
    req.add_listen("192.0.2.200:5060");
    req.set_deflector_users(3);
    return hp_->Register(&ctx, req, out);
  }
  grpc::Status ReportHits(const std::string& who, const std::vector<v1::HoneypotHit>& hits,
                          uint64_t* through = nullptr) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("sw-name", who);
    v1::HitBatch b;
    for (const auto& h : hits) *b.add_hits() = h;
    v1::HitAck ack;
    auto st = hp_->ReportHits(&ctx, b, &ack);
    if (through) *through = ack.stored_through();
    return st;
  }
  static v1::HoneypotHit HpHit(uint64_t id, v1::HoneypotHit::Stage stage, const std::string& src,
                               const std::string& callee, const std::string& call_id,
                               const std::string& audio = "") {
    v1::HoneypotHit h;
    h.set_id(id);
    h.set_stage(stage);
    h.set_ts_unix_ns(absl::ToUnixNanos(absl::Now()));
    h.set_method("INVITE");
    h.set_src_ip(src);
    h.set_src_port(5070);
    h.set_callee(callee);
    h.set_caller("sip:100@" + src);
    h.set_call_id(call_id);
    if (!audio.empty()) {
      h.set_audio_sha256(audio);
      h.set_recorded_ms(4000);
      h.set_talk_ms(5000);
      h.set_recording(call_id + ".wav");
    }
    return h;
  }
  v1::StatsResponse Stats() {
    grpc::ClientContext ctx;
    ctx.AddMetadata("sw-name", "ops");
    v1::StatsResponse s;
    EXPECT_TRUE(op_->Stats(&ctx, v1::StatsRequest(), &s).ok());
    return s;
  }
  grpc::Status ListHits(const v1::ListHitsRequest& req, v1::ListHitsResponse* out) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("sw-name", "ops");
    return op_->ListHoneypotHits(&ctx, req, out);
  }
  std::unique_ptr<ControllerClient> Agent(const std::string& name, FakeKernel* k) {
    ControllerClientOptions o;
    o.addresses = {"127.0.0.1:" + std::to_string(port_)};
    o.name = name;
    o.hostname = name + ".lab";
    o.version = "test";
    o.backoff_min_ms = 20;
    o.backoff_max_ms = 200;
    auto c = std::make_unique<ControllerClient>(o, [k](const v1::DecisionBatch& b) { k->Apply(b); });
    c->Start();
    return c;
  }
  grpc::Status Block(const std::string& prefix, int64_t ttl, v1::Decision* out = nullptr,
                     const char* who = "ops") {
    grpc::ClientContext ctx;
    if (who) ctx.AddMetadata("sw-name", who);
    v1::BlockRequest req;
    req.set_prefix(prefix);
    req.set_ttl_seconds(ttl);
    v1::Decision d;
    auto st = op_->Block(&ctx, req, &d);
    if (out) *out = d;
    return st;
  }
  grpc::Status Allow(const std::string& prefix) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("sw-name", "ops");
    v1::AllowRequest req;
    req.set_prefix(prefix);
    req.set_reason("partner");
    v1::Decision d;
    return op_->Allow(&ctx, req, &d);
  }

  TempDir dir_;
  int port_ = 0;
  std::unique_ptr<Controller> ctl_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::OperatorService::Stub> op_;
  std::unique_ptr<v1::HoneypotService::Stub> hp_;
};

constexpr auto kArrived = v1::HoneypotHit::STAGE_ARRIVED;
constexpr auto kEnded = v1::HoneypotHit::STAGE_ENDED;

TEST_F(ServiceTest, ABlockReachesEveryAgentAndAnAllowLiftsIt) {
  StartController();
  FakeKernel ka, kb;
  auto a = Agent("proxy-a", &ka);
  auto b = Agent("proxy-b", &kb);
  ASSERT_TRUE(WaitFor([&] { return a->stats().connected && b->stats().connected; }));
  const auto t0 = Clock::now();
  ASSERT_TRUE(Block("203.0.113.9", 600).ok());
  ASSERT_TRUE(WaitFor([&] { return ka.Has("203.0.113.9/32 block") && kb.Has("203.0.113.9/32 block"); }));
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  std::printf("block pushed to 2 agents in %.2f ms\n", ms);
  EXPECT_LT(ms, 1000);
  ASSERT_TRUE(Allow("203.0.113.0/24").ok());
  ASSERT_TRUE(WaitFor([&] { return !ka.Has("203.0.113.9/32 block") && kb.Has("203.0.113.0/24 allow"); }));
  EXPECT_TRUE(WaitFor([&] { return a->stats().decision_version == ctl_->decisions().version(); }));
}

TEST_F(ServiceTest, AnAgentsOwnBlockBecomesFleetWideByCategory) {
  StartController();
  FakeKernel ka, kb;
  auto a = Agent("proxy-a", &ka);
  auto b = Agent("proxy-b", &kb);
  ASSERT_TRUE(WaitFor([&] { return a->stats().connected && b->stats().connected; }));
  v1::AgentReport flood;
  flood.mutable_block()->set_prefix("198.51.100.66/32");
  flood.mutable_block()->set_reason("flood");
  flood.mutable_block()->set_expires_unix_ns(absl::ToUnixNanos(absl::Now() + absl::Minutes(10)));
  a->Report(flood);
  v1::AgentReport teardown;  // not a fleet reason by default: stays local
  teardown.mutable_block()->set_prefix("198.51.100.67/32");
  teardown.mutable_block()->set_reason("teardown");
  a->Report(teardown);
  ASSERT_TRUE(WaitFor([&] { return kb.Has("198.51.100.66/32 block"); }));
  ASSERT_TRUE(WaitFor([&] { return a->stats().reports_buffered == 0; }));
  EXPECT_FALSE(kb.Has("198.51.100.67/32 block"));
  auto [all, v] = ctl_->decisions().Snapshot();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].origin(), v1::ORIGIN_AGENT);
  EXPECT_EQ(all[0].source(), "proxy-a");
}

TEST_F(ServiceTest, SnapshotsArePagedAndARestartedControllerIsCaughtUpWith) {
  StartController(/*page=*/2);
  for (int i = 1; i <= 5; ++i) ASSERT_TRUE(Block("192.0.2." + std::to_string(i), 0).ok());
  FakeKernel k;
  auto a = Agent("proxy-a", &k);
  ASSERT_TRUE(WaitFor([&] { return k.Size() == 5; }));
  EXPECT_EQ(k.snapshot_pages, 3);  // a fresh agent: a snapshot of 5 in pages of 2
  // The controller goes away; the agent keeps what it has.
  ctl_->Shutdown();
  ctl_.reset();
  ASSERT_TRUE(WaitFor([&] { return !a->stats().connected; }));
  EXPECT_EQ(k.Size(), 5u);
  // Reports made meanwhile wait in the buffer.
  v1::AgentReport alarm;
  alarm.mutable_alarm()->set_category("flood");
  alarm.mutable_alarm()->set_src_ip("192.0.2.200");
  a->Report(alarm);
  EXPECT_EQ(a->stats().reports_buffered, 1u);
  // Back on the same port and database: same version, the agent resumes
  // without a snapshot, and the buffered report arrives once.
  StartController(2);
  ASSERT_TRUE(WaitFor([&] { return a->stats().connected; }, 5000));
  ASSERT_TRUE(Block("192.0.2.6", 0).ok());
  ASSERT_TRUE(WaitFor([&] { return k.Size() == 6; }));
  EXPECT_EQ(k.snapshot_pages, 3);
  // The client records the version once its sink has applied the batch.
  EXPECT_TRUE(WaitFor([&] { return a->stats().decision_version == ctl_->decisions().version(); }))
      << a->stats().decision_version << " vs " << ctl_->decisions().version();
  ASSERT_TRUE(WaitFor([&] { return a->stats().reports_buffered == 0; }));
  auto stored = ctl_->store().Alarms({});
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_EQ(stored->at(0).agent(), "proxy-a");
}

TEST_F(ServiceTest, BadCallsGetPreciseCodes) {
  StartController();
  EXPECT_EQ(Block("192.0.2.1/24", 60).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Block("192.0.2.1", -1).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Block("192.0.2.1", 60, nullptr, nullptr).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Block("192.0.2.1", 60, nullptr, "bad name!").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  ASSERT_TRUE(Allow("192.0.2.0/24").ok());
  EXPECT_EQ(Block("192.0.2.1", 60).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  grpc::ClientContext ctx;
  ctx.AddMetadata("sw-name", "ops");
  v1::PrefixRequest req;
  req.set_prefix("198.51.100.1");
  v1::Decision d;
  EXPECT_EQ(op_->Unblock(&ctx, req, &d).error_code(), grpc::StatusCode::NOT_FOUND);
  // An agent registering under another name than it connects with.
  auto agent = v1::AgentService::NewStub(channel_);
  grpc::ClientContext rctx;
  rctx.AddMetadata("sw-name", "proxy-a");
  v1::RegisterRequest r;
  r.set_agent("proxy-b");
  v1::RegisterResponse resp;
  EXPECT_EQ(agent->Register(&rctx, r, &resp).error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(ServiceTest, ResentReportsAreStoredOnce) {
  StartController();
  auto agent = v1::AgentService::NewStub(channel_);
  for (int round = 0; round < 2; ++round) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("sw-name", "proxy-a");
    auto rw = agent->Report(&ctx);
    for (uint64_t id = 100; id < 110; ++id) {
      v1::ReportBatch m;
      auto* r = m.add_reports();
      r->set_id(id);
      r->mutable_alarm()->set_category("scan");
      ASSERT_TRUE(rw->Write(m));
    }
    rw->WritesDone();
    // Acknowledgements are cumulative (group commits): the last says 109,
    // in the second round too, where every report was a duplicate.
    v1::ReportAck ack;
    uint64_t through = 0;
    while (rw->Read(&ack)) {
      EXPECT_GE(ack.stored_through(), through);
      through = ack.stored_through();
    }
    EXPECT_EQ(through, 109u) << "round " << round;
    ASSERT_TRUE(rw->Finish().ok());
  }
  EXPECT_EQ(*ctl_->store().AlarmCount(), 10u);
  grpc::ClientContext ctx;
  ctx.AddMetadata("sw-name", "ops");
  v1::StatsResponse s;
  ASSERT_TRUE(op_->Stats(&ctx, v1::StatsRequest(), &s).ok());
  EXPECT_EQ(s.reports_stored(), 10u);
  EXPECT_EQ(s.reports_duplicate(), 10u);
}

TEST_F(ServiceTest, ReportsWaitOnDiskAcrossAnAgentRestartAndArriveInOrder) {
  StartController();  // only to learn a free port
  ctl_->Shutdown();
  ctl_.reset();
  ControllerClientOptions o;
  o.addresses = {"127.0.0.1:" + std::to_string(port_)};
  o.name = "proxy-a";
  o.max_buffered_reports = 4;
  o.spool_path = dir_.File("proxy-a.spool");
  o.backoff_min_ms = 20;
  o.backoff_max_ms = 100;
  auto alarm = [](int i) {
    v1::AgentReport r;
    r.mutable_alarm()->set_category("flood");
    r.mutable_alarm()->set_signature("alarm " + std::to_string(i));
    return r;
  };
  {
    FakeKernel k;
    ControllerClient a(o, [&k](const v1::DecisionBatch& b) { k.Apply(b); });
    ASSERT_TRUE(a.OpenSpool().ok());
    a.Start();  // nobody answers
    for (int i = 0; i < 50; ++i) a.Report(alarm(i));
    EXPECT_EQ(a.stats().reports_buffered, 50u);
    EXPECT_EQ(a.stats().reports_spooled, 46u);  // 4 in memory
    a.Stop();  // the agent stops: the 4 join the 46 on disk
  }
  // Rewritten through a synced temporary file that replaced it.
  EXPECT_FALSE(std::filesystem::exists(o.spool_path + ".tmp"));
  // The next run finds them, and the controller is back.
  FakeKernel k;
  ControllerClient again(o, [&k](const v1::DecisionBatch& b) { k.Apply(b); });
  ASSERT_TRUE(again.OpenSpool().ok());
  EXPECT_EQ(again.stats().reports_buffered, 50u);
  again.Report(alarm(50));  // a new one goes behind them
  StartController();
  again.Start();
  ASSERT_TRUE(WaitFor([&] { return again.stats().reports_buffered == 0; }, 10000))
      << again.stats().reports_buffered;
  // Every one stored: one out of order would have been taken for a duplicate.
  EXPECT_EQ(*ctl_->store().AlarmCount(), 51u);
  EXPECT_EQ(again.stats().reports_dropped, 0u);

}

TEST_F(ServiceTest, AScanSpreadOverProxiesIsCaughtCentrally) {
  StartController();
  FakeKernel ka, kb;
  auto a = Agent("proxy-a", &ka);
  auto b = Agent("proxy-b", &kb);
  ASSERT_TRUE(WaitFor([&] { return a->stats().connected && b->stats().connected; }));
  // The controller told them what to forward: the names its rules match.
  EXPECT_TRUE(a->Forwards("outcome"));
  EXPECT_TRUE(a->Forwards("auth-failure"));
  EXPECT_FALSE(a->Forwards("invite-ok"));
  // 5 users at each proxy: under enumeration-404's 10 at either, 10 together.
  for (int i = 0; i < 5; ++i) {
    a->Report(Outcome("203.0.113.50", "10.0.0.1", 404, "10" + std::to_string(i)));
    b->Report(Outcome("203.0.113.50", "10.0.0.2", 404, "20" + std::to_string(i)));
  }
  ASSERT_TRUE(WaitFor([&] { return ka.Has("203.0.113.50/32 block") && kb.Has("203.0.113.50/32 block"); }));
  auto [all, v] = ctl_->decisions().Snapshot();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].origin(), v1::ORIGIN_CENTRAL_RULE);
  EXPECT_EQ(all[0].source(), "fleet-enumeration");
  EXPECT_EQ(all[0].reason(), "enumeration");
  AlarmFilter f;
  f.agent = "controller";
  auto alarms = ctl_->store().Alarms(f);
  ASSERT_TRUE(alarms.ok());
  ASSERT_EQ(alarms->size(), 1u);
  EXPECT_EQ(alarms->at(0).alarm().src_ip(), "203.0.113.50");
  EXPECT_EQ(alarms->at(0).alarm().category(), "enumeration");
  // Events the central rules did not ask for are refused, not queued.
  v1::AgentReport other;
  other.mutable_event()->set_name("invite-ok");
  a->Report(other);
  ASSERT_TRUE(WaitFor([&] { return ctl_->central().stats().rejected == 1; }));
  EXPECT_EQ(ctl_->central().stats().events, 10u);
}

// With the fleet's profiles the controller asks agents for their call
// records, and what they forward reaches the profiles.
TEST_F(ServiceTest, AgentsForwardCallRecordsToTheFleetsProfiles) {
  profiles::ProfileSet set = profiles::LearnOffices();
  set.meta.bin_minutes = 60;
  set.meta.window_bins = 24;
  ASSERT_TRUE(profiles::SaveProfiles(dir_.File("prof"), set).ok());
  StartController(10000, dir_.File("prof"));
  FakeKernel ka;
  auto a = Agent("proxy-a", &ka);
  ASSERT_TRUE(WaitFor([&] { return a->stats().connected; }));
  EXPECT_TRUE(a->Forwards("call-record"));
  v1::AgentReport r;
  auto* e = r.mutable_event();
  e->set_name("call-record");
  e->set_ts_unix_ns(absl::ToUnixNanos(absl::Now()));
  for (auto [k, v] : {std::pair{"caller_user", "office1"}, {"callee_user", "+88161000111"},
                      {"caller_ip", "198.51.100.9"}, {"disposition", "answered"},
                      {"duration", "125.5"}, {"billable", "120"}}) {
    auto* f = e->add_fields();
    f->set_name(k);
    f->set_value(v);
  }
  a->Report(r);
  ASSERT_TRUE(WaitFor([&] { return ctl_->central().stats().profiles.calls == 1; }));
  EXPECT_EQ(ctl_->central().stats().profiles.profiles, 4u);
  EXPECT_EQ(ctl_->central().stats().rejected, 0u);
}

TEST_F(ServiceTest, ACentralMediaWatchReachesEveryAgentAndOnesThatConnectLater) {
  StartController();
  FakeKernel ka, kb;
  auto a = Agent("call-agent-host", &ka);
  ASSERT_TRUE(WaitFor([&] { return a->stats().connected; }));
  EXPECT_TRUE(a->Forwards("mgcp-dlcx"));
  EXPECT_TRUE(a->Forwards("watched-media"));
  const int64_t before = absl::ToUnixNanos(absl::Now());
  v1::AgentReport r;
  auto* e = r.mutable_event();
  e->set_ts_unix_ns(before);
  e->set_name("mgcp-dlcx");
  for (const auto& [k, v] : std::vector<std::pair<std::string, std::string>>{
           {"connection_id", "FDE234C8"}, {"call_id", "A3C47F21456789F0"},
           {"released_media", "198.51.100.9:3456 [2001:db8::9]:4000"}}) {
    auto* f = e->add_fields();
    f->set_name(k);
    f->set_value(v);
  }
  a->Report(r);
  ASSERT_TRUE(WaitFor([&] { return ka.Watches().size() == 1; }));
  const v1::MediaWatch w = ka.Watches()[0];
  ASSERT_EQ(w.endpoints_size(), 2);
  EXPECT_EQ(w.endpoints(0), "198.51.100.9:3456");
  EXPECT_EQ(w.endpoints(1), "[2001:db8::9]:4000");
  EXPECT_EQ(w.rule(), "fleet-gateway-dlcx");
  EXPECT_EQ(w.owner(), "A3C47F21456789F0");
  // It starts after the grace (2 s) and lasts the rule's 10 minutes.
  EXPECT_GE(w.starts_unix_ns(), before + 2'000'000'000LL);
  EXPECT_EQ(w.expires_unix_ns() - w.starts_unix_ns(), 600'000'000'000LL);
  // No decision came of it.
  EXPECT_EQ(ka.Size(), 0u);
  // An agent that connects while it runs gets it too, once.
  auto b = Agent("gateway-host", &kb);
  ASSERT_TRUE(WaitFor([&] { return kb.Watches().size() == 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  EXPECT_EQ(kb.Watches().size(), 1u);
  EXPECT_EQ(ka.Watches().size(), 1u);
}

TEST_F(ServiceTest, AHoneypotsFirstHitGraylistsTheSourceAndASecondCallBlocksIt) {
  StartController();
  FakeKernel ka, kb;
  auto a = Agent("proxy-a", &ka);
  auto b = Agent("proxy-b", &kb);
  ASSERT_TRUE(WaitFor([&] { return a->stats().connected && b->stats().connected; }));
  v1::HoneypotRegisterResponse reg;
  ASSERT_TRUE(RegisterHoneypot("hp-1", &reg).ok());
  EXPECT_EQ(reg.last_hit_id(), 0u);
  EXPECT_GT(reg.now_unix_ns(), 0);
  auto t0 = Clock::now();
  uint64_t through = 0;
  ASSERT_TRUE(
      ReportHits("hp-1", {HpHit(1, kArrived, "203.0.113.5", "900", "call-a")}, &through).ok());
  EXPECT_EQ(through, 1u);
  ASSERT_TRUE(WaitFor(
      [&] { return ka.Has("203.0.113.5/32 graylist") && kb.Has("203.0.113.5/32 graylist"); }));
  std::printf("graylist pushed to 2 agents in %.2f ms\n",
              std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  const v1::Decision g = *ka.Get("203.0.113.5/32 graylist");
  EXPECT_EQ(g.origin(), v1::ORIGIN_HONEYPOT);
  EXPECT_EQ(g.reason(), "honeypot");
  EXPECT_EQ(g.source(), "hp-1");
  EXPECT_EQ(g.rate_per_s(), 5u);
  EXPECT_EQ(g.burst(), 20u);
  EXPECT_NEAR(static_cast<double>(g.expires_unix_ns() - g.created_unix_ns()), 3600e9, 1e9);
  EXPECT_FALSE(ka.Has("203.0.113.5/32 block"));
  // The call's end is no new arrival; a second call, to another deflector,
  // blocks the source fleet-wide at once.
  ASSERT_TRUE(ReportHits("hp-1", {HpHit(2, kEnded, "203.0.113.5", "900", "call-a", "aa")}).ok());
  t0 = Clock::now();
  ASSERT_TRUE(ReportHits("hp-1", {HpHit(3, kArrived, "203.0.113.5", "901", "call-b")}).ok());
  ASSERT_TRUE(
      WaitFor([&] { return ka.Has("203.0.113.5/32 block") && kb.Has("203.0.113.5/32 block"); }));
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  std::printf("honeypot block pushed to 2 agents in %.2f ms\n", ms);
  EXPECT_LT(ms, 1000);
  const v1::Decision blk = *kb.Get("203.0.113.5/32 block");
  EXPECT_EQ(blk.origin(), v1::ORIGIN_HONEYPOT);
  EXPECT_EQ(blk.reason(), "honeypot");
  EXPECT_NEAR(static_cast<double>(blk.expires_unix_ns() - blk.created_unix_ns()), 86400e9, 1e9);
  const auto s = Stats();
  EXPECT_EQ(s.hits_stored(), 3u);
  EXPECT_EQ(s.honeypot_graylisted(), 1u);
  EXPECT_EQ(s.honeypot_blocked(), 1u);
  EXPECT_EQ(s.graylists(), 1u);
  EXPECT_EQ(s.blocks(), 1u);
  EXPECT_EQ(s.honeypots(), 1u);
  EXPECT_EQ(s.agents(), 2u);
  // The operator lists the graylist by its action, and sees the honeypot
  // among the agents.
  grpc::ClientContext lctx;
  lctx.AddMetadata("sw-name", "ops");
  v1::ListDecisionsRequest lreq;
  lreq.set_action(v1::ACTION_GRAYLIST);
  v1::ListDecisionsResponse lresp;
  ASSERT_TRUE(op_->ListDecisions(&lctx, lreq, &lresp).ok());
  ASSERT_EQ(lresp.decisions_size(), 1);
  EXPECT_EQ(lresp.decisions(0).burst(), 20u);
  grpc::ClientContext actx;
  actx.AddMetadata("sw-name", "ops");
  v1::ListAgentsResponse agents;
  ASSERT_TRUE(op_->ListAgents(&actx, v1::ListAgentsRequest(), &agents).ok());
  ASSERT_EQ(agents.agents_size(), 3);
  const auto& hp = agents.agents(2);
  EXPECT_EQ(hp.agent(), "hp-1");
  EXPECT_TRUE(hp.honeypot());
  EXPECT_EQ(hp.hostname(), "hp-1.lab");
  EXPECT_EQ(hp.deflector_users(), 3u);
  EXPECT_EQ(hp.reports(), 3u);
  EXPECT_FALSE(agents.agents(0).honeypot());
  // An operator's unblock lifts both.
  grpc::ClientContext uctx;
  uctx.AddMetadata("sw-name", "ops");
  v1::PrefixRequest ureq;
  ureq.set_prefix("203.0.113.5");
  v1::Decision ud;
  ASSERT_TRUE(op_->Unblock(&uctx, ureq, &ud).ok());
  ASSERT_TRUE(WaitFor([&] { return ka.Size() == 0 && kb.Size() == 0; }));
}

TEST_F(ServiceTest, AnAllowlistedSourceCallingADeflectorIsLeftAlone) {
  StartController();
  FakeKernel k;
  auto a = Agent("proxy-a", &k);
  ASSERT_TRUE(Allow("198.51.100.0/24").ok());
  ASSERT_TRUE(WaitFor([&] { return k.Has("198.51.100.0/24 allow"); }));
  ASSERT_TRUE(ReportHits("hp-1", {HpHit(1, kArrived, "198.51.100.7", "900", "a"),
                                  HpHit(2, kArrived, "198.51.100.7", "901", "b")})
                  .ok());
  const auto s = Stats();
  EXPECT_EQ(s.hits_stored(), 2u);  // stored all the same
  EXPECT_EQ(s.honeypot_spared_allowed(), 2u);
  EXPECT_EQ(s.honeypot_graylisted() + s.honeypot_blocked(), 0u);
  EXPECT_EQ(s.blocks() + s.graylists(), 0u);
  EXPECT_EQ(ctl_->decisions().version(), 1u);  // the allow only
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(k.Size(), 1u);
}

TEST_F(ServiceTest, ResentHitsAreStoredOnceAndActOnce) {
  StartController();
  std::vector<v1::HoneypotHit> first = {HpHit(7, kArrived, "203.0.113.9", "900", "a"),
                                        HpHit(8, kEnded, "203.0.113.9", "900", "a", "aa")};
  uint64_t through = 0;
  ASSERT_TRUE(ReportHits("hp-1", first, &through).ok());
  EXPECT_EQ(through, 8u);
  const uint64_t v = ctl_->decisions().version();
  EXPECT_EQ(v, 1u);  // the graylist
  // The acknowledgement was lost: the honeypot registers again, learns how
  // far the controller has stored, and resends (here, all of it anyway).
  v1::HoneypotRegisterResponse reg;
  ASSERT_TRUE(RegisterHoneypot("hp-1", &reg).ok());
  EXPECT_EQ(reg.last_hit_id(), 8u);
  first.push_back(HpHit(9, kArrived, "192.0.2.44", "902", "c"));
  ASSERT_TRUE(ReportHits("hp-1", first, &through).ok());
  EXPECT_EQ(through, 9u);
  ASSERT_TRUE(ReportHits("hp-1", first, &through).ok());  // and once more
  EXPECT_EQ(through, 9u);
  EXPECT_EQ(*ctl_->store().HitCount(), 3u);
  const auto s = Stats();
  EXPECT_EQ(s.hits_stored(), 3u);
  EXPECT_EQ(s.hits_duplicate(), 5u);
  EXPECT_EQ(s.honeypot_graylisted(), 2u);  // 203.0.113.9 once, 192.0.2.44
  EXPECT_EQ(ctl_->decisions().version(), 2u);
  // A restarted controller remembers the window's arrivals: 203.0.113.9's
  // second call blocks it.
  ctl_->Shutdown();
  ctl_.reset();
  StartController();
  ASSERT_TRUE(ReportHits("hp-1", {HpHit(10, kArrived, "203.0.113.9", "901", "d")}).ok());
  EXPECT_TRUE(ctl_->decisions().Find(*ParseDecisionPrefix("203.0.113.9"), v1::ACTION_BLOCK));
}

TEST_F(ServiceTest, TwoHoneypotsReportingOneSourceBlockIt) {
  StartController();
  FakeKernel k;
  auto a = Agent("proxy-a", &k);
  ASSERT_TRUE(WaitFor([&] { return a->stats().connected; }));
  ASSERT_TRUE(ReportHits("hp-1", {HpHit(1, kArrived, "2001:db8::66", "900", "a")}).ok());
  ASSERT_TRUE(WaitFor([&] { return k.Has("2001:db8::66/128 graylist"); }));
  // Its ids are its own: 1 again is no duplicate of hp-1's.
  ASSERT_TRUE(ReportHits("hp-2", {HpHit(1, kArrived, "2001:DB8::66", "900", "a")}).ok());
  ASSERT_TRUE(WaitFor([&] { return k.Has("2001:db8::66/128 block"); }));
  EXPECT_EQ(k.Get("2001:db8::66/128 block")->source(), "hp-2");
  EXPECT_EQ(Stats().honeypot_blocked(), 1u);
}

TEST_F(ServiceTest, CampaignsAndHitFilters) {
  StartController();
  ASSERT_TRUE(ReportHits("hp-1", {HpHit(1, kArrived, "203.0.113.1", "900", "a"),
                                  HpHit(2, kEnded, "203.0.113.1", "900", "a", "msg-1"),
                                  HpHit(3, kArrived, "203.0.113.2", "901", "b"),
                                  HpHit(4, kEnded, "203.0.113.2", "901", "b", "msg-1"),
                                  HpHit(5, kArrived, "203.0.113.3", "900", "c"),
                                  HpHit(6, kEnded, "203.0.113.3", "900", "c", "msg-2")})
                  .ok());
  v1::HoneypotHit deflected = HpHit(1, kEnded, "203.0.113.1", "alice", "d", "msg-1");
  deflected.set_deflected(true);
  ASSERT_TRUE(ReportHits("hp-2", {deflected}).ok());
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("sw-name", "ops");
    v1::ListCampaignsRequest req;
    req.set_min_sources(2);
    v1::ListCampaignsResponse resp;
    ASSERT_TRUE(op_->ListCampaigns(&ctx, req, &resp).ok());
    ASSERT_EQ(resp.campaigns_size(), 1);
    const auto& c = resp.campaigns(0);
    EXPECT_EQ(c.audio_sha256(), "msg-1");
    EXPECT_EQ(c.calls(), 3u);
    ASSERT_EQ(c.sources_size(), 2);
    EXPECT_EQ(c.sources(0), "203.0.113.1");
    EXPECT_EQ(c.sources(1), "203.0.113.2");
    EXPECT_EQ(c.callees_size(), 3);
    EXPECT_EQ(c.recorded_ms(), 4000);
    EXPECT_LE(c.first_unix_ns(), c.last_unix_ns());
  }
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("sw-name", "ops");
    v1::ListCampaignsResponse resp;
    ASSERT_TRUE(op_->ListCampaigns(&ctx, v1::ListCampaignsRequest(), &resp).ok());
    EXPECT_EQ(resp.campaigns_size(), 2);
  }
  auto count = [&](const v1::ListHitsRequest& req) {
    v1::ListHitsResponse resp;
    auto st = ListHits(req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp.hits_size();
  };
  v1::ListHitsRequest req;
  EXPECT_EQ(count(req), 7);
  req.set_src_ip("203.0.113.1");
  EXPECT_EQ(count(req), 3);
  req.set_honeypot("hp-1");
  EXPECT_EQ(count(req), 2);
  req = {};
  req.set_callee("900");
  EXPECT_EQ(count(req), 4);
  req = {};
  req.set_callee("alice");
  req.set_deflected_only(true);  // the calls recorded for a real user
  {
    v1::ListHitsResponse resp;
    ASSERT_TRUE(ListHits(req, &resp).ok());
    ASSERT_EQ(resp.hits_size(), 1);
    EXPECT_EQ(resp.hits(0).honeypot(), "hp-2");
    EXPECT_EQ(resp.hits(0).campaign(), "msg-1");
    EXPECT_EQ(resp.hits(0).hit().recording(), "d.wav");
  }
  req = {};
  req.set_stage(kEnded);
  EXPECT_EQ(count(req), 4);
  req.set_src_ip("203.0.113.1");
  EXPECT_EQ(count(req), 2);
  req = {};
  req.set_limit(2);
  {
    v1::ListHitsResponse resp;
    ASSERT_TRUE(ListHits(req, &resp).ok());
    ASSERT_EQ(resp.hits_size(), 2);
    EXPECT_EQ(resp.hits(0).hit().id(), 6u);  // the newest two, newest last
    EXPECT_EQ(resp.hits(1).honeypot(), "hp-2");
  }
  req = {};
  req.set_since_unix_ns(absl::ToUnixNanos(absl::Now() + absl::Hours(1)));
  EXPECT_EQ(count(req), 0);
  req = {};
  req.set_src_ip("not-an-address");
  v1::ListHitsResponse resp;
  EXPECT_EQ(ListHits(req, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ServiceTest, HoneypotCallsAreCheckedAndABadBatchStoresNothing) {
  StartController();
  v1::HoneypotRegisterResponse reg;
  EXPECT_EQ(RegisterHoneypot("hp-1", &reg, "hp-2").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(RegisterHoneypot("bad name!", &reg).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  auto refused = [&](std::vector<v1::HoneypotHit> hits, const std::string& why) {
    auto st = ReportHits("hp-1", hits);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << why;
    EXPECT_NE(st.error_message().find(why), std::string::npos) << st.error_message();
  };
  refused({HpHit(2, kArrived, "203.0.113.1", "900", "a"),
           HpHit(1, kArrived, "203.0.113.1", "900", "b")},
          "follows id 2");
  refused({HpHit(1, kArrived, "203.0.113.1", "900", "a"), HpHit(2, kArrived, "x", "900", "b")},
          "src_ip 'x' is not an IP address");
  refused({HpHit(0, kArrived, "203.0.113.1", "900", "a")}, "ids start at 1");
  refused({HpHit(1, v1::HoneypotHit::STAGE_UNSPECIFIED, "203.0.113.1", "900", "a")},
          "neither STAGE_ARRIVED nor STAGE_ENDED");
  EXPECT_EQ(*ctl_->store().HitCount(), 0u);
  EXPECT_EQ(ctl_->decisions().version(), 0u);
  // An empty batch is fine: nothing stored yet.
  uint64_t through = 99;
  ASSERT_TRUE(ReportHits("hp-1", {}, &through).ok());
  EXPECT_EQ(through, 0u);
}

// sipwardenctl's output for a command (stdout and stderr) and its exit code.
std::string Ctl(int port, const std::string& args, int* rc) {
  const std::string cmd = std::string(SW_BIN_DIR) +
                          "/sipwardenctl --controller 127.0.0.1:" + std::to_string(port) +
                          " --name ops " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while (p && (n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = p ? pclose(p) : -1;
  *rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

TEST_F(ServiceTest, SipwardenctlListsHitsCallsCampaignsAndGraylists) {
  StartController();
  v1::HoneypotRegisterResponse reg;
  ASSERT_TRUE(RegisterHoneypot("hp-1", &reg).ok());
  v1::HoneypotHit arrived = HpHit(1, kArrived, "203.0.113.5", "900", "a");
  arrived.set_user_agent("friendly-scanner");
  arrived.set_final_status(200);
  v1::HoneypotHit ended = HpHit(2, kEnded, "203.0.113.5", "900", "a", "0123456789abcdef0123");
  ended.set_ended_by("bye");
  v1::HoneypotHit other = HpHit(3, kEnded, "203.0.113.6", "901", "b", "0123456789abcdef0123");
  v1::HoneypotHit deflected = HpHit(4, kEnded, "198.51.100.9", "alice", "c", "fedcba");
  deflected.set_deflected(true);
  deflected.set_caller("sip:spitter@example.net");
  deflected.set_talk_ms(12000);
  ASSERT_TRUE(ReportHits("hp-1", {arrived, ended, other, deflected}).ok());
  int rc = 0;
  std::string out = Ctl(port_, "honeypot hits", &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("TIME"), std::string::npos) << out;
  EXPECT_NE(out.find("203.0.113.5:5070"), std::string::npos) << out;
  EXPECT_NE(out.find("\"friendly-scanner\""), std::string::npos) << out;
  EXPECT_NE(out.find("bye, talk 5s, a.wav, campaign 0123456789abcdef"), std::string::npos) << out;
  out = Ctl(port_, "honeypot hits --src 203.0.113.6 --json", &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_NE(out.find("\"callee\":\"901\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"campaign\":\"0123456789abcdef0123\""), std::string::npos) << out;
  out = Ctl(port_, "honeypot calls --callee alice", &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("sip:spitter@example.net"), std::string::npos) << out;
  EXPECT_NE(out.find("198.51.100.9:5070"), std::string::npos) << out;
  EXPECT_NE(out.find("12s"), std::string::npos) << out;
  EXPECT_NE(out.find("c.wav"), std::string::npos) << out;
  EXPECT_EQ(out.find("203.0.113.5"), std::string::npos) << out;  // not deflected
  out = Ctl(port_, "honeypot calls", &rc);
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("needs --callee"), std::string::npos) << out;
  out = Ctl(port_, "honeypot campaigns --min-sources 2", &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("0123456789abcdef "), std::string::npos) << out;
  EXPECT_NE(out.find("sources: 203.0.113.5 203.0.113.6"), std::string::npos) << out;
  EXPECT_EQ(out.find("fedcba"), std::string::npos) << out;  // one source only
  out = Ctl(port_, "honeypot campaigns --json", &rc);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 2) << out;
  // The first arrival graylisted 203.0.113.5.
  out = Ctl(port_, "graylist list", &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("RATE/S"), std::string::npos) << out;
  EXPECT_NE(out.find("203.0.113.5/32"), std::string::npos) << out;
  EXPECT_NE(out.find("honeypot"), std::string::npos) << out;
  EXPECT_NE(out.find("hp-1"), std::string::npos) << out;
  out = Ctl(port_, "graylist list --json", &rc);
  EXPECT_NE(out.find("\"action\":\"graylist\",\"rate_per_s\":5,\"burst\":20"), std::string::npos)
      << out;
  out = Ctl(port_, "agents", &rc);
  EXPECT_NE(out.find("honeypot"), std::string::npos) << out;
  EXPECT_NE(out.find("(4 hits, 3 deflectors)"), std::string::npos) << out;
  out = Ctl(port_, "stats", &rc);
  EXPECT_NE(out.find("hits_stored 4\n"), std::string::npos) << out;
  EXPECT_NE(out.find("honeypot_graylisted 1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("graylists 1\n"), std::string::npos) << out;
  out = Ctl(port_, "block del 203.0.113.5", &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("lifted the graylist of 203.0.113.5/32"), std::string::npos) << out;
  out = Ctl(port_, "honeypot hits --src nonsense", &rc);
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("src_ip 'nonsense' is not an IP address"), std::string::npos) << out;
}

TEST(MediaWatches, RunningOnesAfterASequenceNumberExpiredOnesForgotten) {
  MediaWatches m(2);
  auto watch = [](int64_t expires) {
    v1::MediaWatch w;
    w.add_endpoints("192.0.2.1:4000");
    w.set_expires_unix_ns(expires);
    return w;
  };
  EXPECT_EQ(m.Add(watch(100)), 1u);
  EXPECT_EQ(m.Add(watch(300)), 2u);
  uint64_t through = 0;
  EXPECT_EQ(m.Since(0, 50, &through).size(), 2u);
  EXPECT_EQ(through, 2u);
  EXPECT_EQ(m.Since(1, 50, &through).size(), 1u);
  EXPECT_EQ(m.Since(0, 200, &through).size(), 1u);  // the first expired
  EXPECT_EQ(m.size(), 1u);
  m.Add(watch(400));
  m.Add(watch(500));  // beyond 2: the oldest goes
  EXPECT_EQ(m.size(), 2u);
  EXPECT_EQ(m.Since(0, 0, &through).size(), 2u);
  EXPECT_EQ(through, 4u);
}

TEST(ControllerStart, RefusesToServeAPublicAddressInTheClear) {
  TempDir dir;
  ControllerOptions o;
  o.listen = "0.0.0.0:0";
  o.db = dir.File("c.db");
  auto c = Controller::Start(o);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("--insecure"), std::string::npos) << c.status();
}

}  // namespace
}  // namespace sw::controller
