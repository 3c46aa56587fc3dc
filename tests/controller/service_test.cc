// SPDX-License-Identifier: BSD-2-Clause
// The controller's gRPC services on a loopback port, driven by the agent's
// real ControllerClient and by OperatorService stubs.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <mutex>
#include <thread>

#include "absl/time/clock.h"
#include "controller.h"
#include "controller_client.h"
#include "sipwarden/ip.h"
#include "sipwarden/v1/agent.grpc.pb.h"
#include "sipwarden/v1/operator.grpc.pb.h"
#include "test_util.h"

namespace sw::controller {
namespace {

namespace v1 = sipwarden::v1;
using Clock = std::chrono::steady_clock;

// What an agent's sink saw: the decisions it holds now.
struct FakeKernel {
  std::mutex mu;
  std::map<std::string, v1::Decision> held;  // "prefix action"
  std::vector<v1::Decision> snapshot;
  int snapshot_pages = 0;
  uint64_t batches = 0;
  std::vector<v1::MediaWatch> watches;
  void Apply(const v1::DecisionBatch& b) {
    std::lock_guard<std::mutex> lock(mu);
    ++batches;
    for (const auto& w : b.media_watches()) watches.push_back(w);
    if (b.snapshot()) {
      ++snapshot_pages;
      for (const auto& c : b.changes()) snapshot.push_back(c.decision());
      if (!b.snapshot_done()) return;
      held.clear();
      for (const auto& d : snapshot) held[Key(d)] = d;
      snapshot.clear();
      return;
    }
    for (const auto& c : b.changes()) {
      if (c.kind() == v1::DecisionChange::KIND_SET) {
        held[Key(c.decision())] = c.decision();
      } else {
        held.erase(Key(c.decision()));
      }
    }
  }
  static std::string Key(const v1::Decision& d) {
    return d.prefix() + (d.action() == v1::ACTION_ALLOW ? " allow" : " block");
  }
  bool Has(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu);
    return held.contains(key);
  }
  size_t Size() {
    std::lock_guard<std::mutex> lock(mu);
    return held.size();
  }
  std::vector<v1::MediaWatch> Watches() {
    std::lock_guard<std::mutex> lock(mu);
    return watches;
  }
};

class ServiceTest : public ::testing::Test {
 protected:
  void StartController(size_t page = 10000) {
    ControllerOptions o;
    o.listen = "127.0.0.1:" + std::to_string(port_);
    o.db = dir_.File("c.db");
    o.quiet = true;
    o.snapshot_page = page;
    auto c = Controller::Start(o);
    ASSERT_TRUE(c.ok()) << c.status();
    ctl_ = std::move(*c);
    port_ = ctl_->port();
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(port_),
                                   grpc::InsecureChannelCredentials());
    op_ = v1::OperatorService::NewStub(channel_);
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
};

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

// An outcome event as rules/default.yaml's transaction rule emits it.
v1::AgentReport Outcome(const std::string& src, const std::string& proxy, int status,
                        const std::string& to_user) {
  rules::SyntheticEvent e;
  e.ts_ns = absl::ToUnixNanos(absl::Now());
  e.name = "outcome";
  e.has_flow = true;
  e.flow.src = *IpAddress::Parse(src);
  e.flow.dst = *IpAddress::Parse(proxy);
  e.flow.sport = 5070;
  e.flow.dport = 5060;
  e.Set("status", std::to_string(status));
  e.Set("method", "REGISTER");
  e.Set("to_user", to_user);
  v1::AgentReport r;
  *r.mutable_event() = ToForwarded(e);
  return r;
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
