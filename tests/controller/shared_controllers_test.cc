// SPDX-License-Identifier: BSD-2-Clause
// Two controllers on one real PostgreSQL server (pg_server.h), with the
// agent's real ControllerClient: the central rules run once, on the leader,
// over the events of every controller's agents; when the leader goes, the
// other controller takes the leadership and the central rules still fire;
// decisions made at either controller reach the agents of both.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>

#include "absl/time/clock.h"
#include "controller.h"
#include "controller_client.h"
#include "fake_kernel.h"
#include "pg_server.h"
#include "sipwarden/ip.h"
#include "sipwarden/v1/honeypot.grpc.pb.h"
#include "test_util.h"

namespace sw::controller {
namespace {

namespace v1 = sipwarden::v1;

class SharedControllersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!Server::Get().ok()) GTEST_SKIP() << Server::Get().why();
    url_ = Server::Get().NewDatabase();
  }
  std::unique_ptr<Controller> Start() {
    ControllerOptions o;
    o.listen = "127.0.0.1:0";
    o.db = url_;
    o.db_pool = 2;
    o.heartbeat_ns = 300'000'000;
    o.quiet = true;
    auto c = Controller::Start(o);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(*c) : nullptr;
  }
  static std::unique_ptr<ControllerClient> Agent(const std::string& name,
                                                 std::vector<int> ports, FakeKernel* k) {
    ControllerClientOptions o;
    for (int p : ports) o.addresses.push_back("127.0.0.1:" + std::to_string(p));
    o.name = name;
    o.hostname = name + ".lab";
    o.version = "test";
    o.backoff_min_ms = 20;
    o.backoff_max_ms = 200;
    auto c = std::make_unique<ControllerClient>(o, [k](const v1::DecisionBatch& b) { k->Apply(b); });
    c->Start();
    return c;
  }
  static size_t CentralAlarms(Controller& c, const std::string& src) {
    AlarmFilter f;
    f.agent = "controller";
    f.src_ip = src;
    auto a = c.store().Alarms(f);
    return a.ok() ? a->size() : 0;
  }
  std::string url_;
};

TEST_F(SharedControllersTest, TheLeaderCorrelatesEveryControllersAgentsAndHandsOverWhenItDies) {
  auto c1 = Start();
  auto c2 = Start();
  ASSERT_TRUE(c1 && c2);
  ASSERT_TRUE(WaitFor([&] { return c1->leader() != c2->leader(); }, 5000))
      << "leaders: " << c1->leader() << " " << c2->leader();
  std::unique_ptr<Controller>& leader = c1->leader() ? c1 : c2;
  std::unique_ptr<Controller>& other = c1->leader() ? c2 : c1;
  const int leader_port = leader->port(), other_port = other->port();
  FakeKernel ka, kb;
  // proxy-a reports to the controller that does not lead; proxy-b to the
  // leader, failing over to the other.
  auto a = Agent("proxy-a", {other_port}, &ka);
  auto b = Agent("proxy-b", {leader_port, other_port}, &kb);
  ASSERT_TRUE(WaitFor([&] { return a->stats().connected && b->stats().connected; }));
  // 5 users at each proxy: under the per-proxy 10, 10 together: the
  // leader's fleet-enumeration rule sees both controllers' events.
  for (int i = 0; i < 5; ++i) {
    a->Report(Outcome("203.0.113.60", "10.0.0.1", 404, "10" + std::to_string(i)));
    b->Report(Outcome("203.0.113.60", "10.0.0.1", 404, "20" + std::to_string(i)));
  }
  ASSERT_TRUE(WaitFor([&] { return ka.Has("203.0.113.60/32 block") && kb.Has("203.0.113.60/32 block"); },
                      10000));
  auto d = other->decisions().Find(*IpPrefix::Parse("203.0.113.60/32"), v1::ACTION_BLOCK);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->origin(), v1::ORIGIN_CENTRAL_RULE);
  EXPECT_EQ(d->source(), "fleet-enumeration");
  EXPECT_EQ(CentralAlarms(*other, "203.0.113.60"), 1u);  // once, though two controllers run
  EXPECT_EQ(other->central().stats().events, 0u);          // the non-leader only queued them

  // The leader dies: its session ends, the other takes over, and the
  // central rules fire there on events from both agents.
  leader.reset();
  ASSERT_TRUE(WaitFor([&] { return other->leader(); }, 5000)) << "no new leader";
  ASSERT_TRUE(WaitFor([&] { return b->stats().connected; }, 5000));
  for (int i = 0; i < 5; ++i) {
    a->Report(Outcome("203.0.113.61", "10.0.0.1", 404, "30" + std::to_string(i)));
    b->Report(Outcome("203.0.113.61", "10.0.0.1", 404, "40" + std::to_string(i)));
  }
  ASSERT_TRUE(WaitFor([&] { return ka.Has("203.0.113.61/32 block") && kb.Has("203.0.113.61/32 block"); },
                      10000))
      << "the central rule did not fire after the leader died";
  EXPECT_EQ(CentralAlarms(*other, "203.0.113.61"), 1u);
  EXPECT_GE(other->central().stats().events, 10u);
}

TEST_F(SharedControllersTest, DecisionsAtEitherReachTheOthersAgentsWithOneVersionOrder) {
  auto c1 = Start();
  auto c2 = Start();
  ASSERT_TRUE(c1 && c2);
  FakeKernel k1, k2;
  auto a1 = Agent("proxy-1", {c1->port()}, &k1);
  auto a2 = Agent("proxy-2", {c2->port()}, &k2);
  ASSERT_TRUE(WaitFor([&] { return a1->stats().connected && a2->stats().connected; }));
  const int64_t now = absl::ToUnixNanos(absl::Now());
  Peer ops;
  ops.name = "ops";
  for (int i = 0; i < 50; ++i) {
    v1::BlockRequest r;
    r.set_prefix("198.51.100." + std::to_string(i));
    r.set_ttl_seconds(600);
    ASSERT_TRUE(((i % 2) ? c1 : c2)->Block(ops, r).ok());
  }
  v1::AllowRequest allow;
  allow.set_prefix("198.51.100.0/28");  // lifts 16 of them, at whichever controller
  ASSERT_TRUE(c1->Allow(ops, allow).ok());
  (void)now;
  auto settled = [&] {
    return k1.Size() == 35u && k2.Size() == 35u &&
           c1->decisions().version() == c2->decisions().version();
  };
  ASSERT_TRUE(WaitFor(settled, 5000)) << k1.Size() << " " << k2.Size() << " versions "
                                      << c1->decisions().version() << " "
                                      << c2->decisions().version();
  // Both tables agree decision by decision, versions included.
  auto [s1, v1_] = c1->decisions().Snapshot();
  auto [s2, v2_] = c2->decisions().Snapshot();
  ASSERT_EQ(s1.size(), s2.size());
  for (size_t i = 0; i < s1.size(); ++i) {
    EXPECT_EQ(s1[i].SerializeAsString(), s2[i].SerializeAsString()) << s1[i].prefix();
  }
  EXPECT_TRUE(k1.Has("198.51.100.0/28 allow"));
  // Each controller lists both agents as connected, with the version sent
  // to each (the other's through the database's heartbeat).
  auto both_listed = [&](Controller& c) {
    v1::ListAgentsResponse r;
    if (!c.ListAgents(&r).ok() || r.agents_size() != 2) return false;
    for (const auto& a : r.agents()) {
      if (!a.connected() || a.decision_version() != c.decisions().version()) return false;
    }
    v1::StatsResponse st;
    return c.FleetStats(&st).ok() && st.agents_connected() == 2;
  };
  EXPECT_TRUE(WaitFor([&] { return both_listed(*c1) && both_listed(*c2); }, 5000));
  EXPECT_FALSE(k2.Has("198.51.100.3/32 block"));
  EXPECT_TRUE(k2.Has("198.51.100.49/32 block"));
  // An allow made at c1 refuses a block inside it at c2 (c2 caught up first).
  v1::BlockRequest inside;
  inside.set_prefix("198.51.100.5");
  EXPECT_EQ(c2->Block(ops, inside).status().code(), absl::StatusCode::kFailedPrecondition);
}

// A central rule's media watch, asked for on the leader by an event from an
// agent of the other controller, reaches the agents of both, once.
TEST_F(SharedControllersTest, TheLeadersMediaWatchesReachEveryControllersAgents) {
  auto c1 = Start();
  auto c2 = Start();
  ASSERT_TRUE(c1 && c2);
  ASSERT_TRUE(WaitFor([&] { return c1->leader() != c2->leader(); }, 5000));
  Controller& leader = c1->leader() ? *c1 : *c2;
  Controller& other = c1->leader() ? *c2 : *c1;
  FakeKernel ka, kb;
  auto a = Agent("call-agent-host", {other.port()}, &ka);
  auto b = Agent("gateway-host", {leader.port()}, &kb);
  ASSERT_TRUE(WaitFor([&] { return a->stats().connected && b->stats().connected; }));
  v1::AgentReport r;
  auto* e = r.mutable_event();
  e->set_ts_unix_ns(absl::ToUnixNanos(absl::Now()));
  e->set_name("mgcp-dlcx");
  for (const auto& [k, v] : std::vector<std::pair<std::string, std::string>>{
           {"connection_id", "FDE234C8"}, {"call_id", "A3C47F21456789F0"},
           {"released_media", "198.51.100.9:3456"}}) {
    auto* f = e->add_fields();
    f->set_name(k);
    f->set_value(v);
  }
  a->Report(r);  // to the controller that does not lead
  ASSERT_TRUE(WaitFor([&] { return ka.Watches().size() == 1 && kb.Watches().size() == 1; }, 5000))
      << ka.Watches().size() << " " << kb.Watches().size();
  EXPECT_EQ(ka.Watches()[0].rule(), "fleet-gateway-dlcx");
  EXPECT_EQ(ka.Watches()[0].SerializeAsString(), kb.Watches()[0].SerializeAsString());
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // followers pass again
  EXPECT_EQ(ka.Watches().size(), 1u);
  EXPECT_EQ(kb.Watches().size(), 1u);
}

// The honeypot policy runs on the leader over every controller's honeypots:
// one source calling deflectors at two honeypots that report to different
// controllers is blocked ("two honeypots"), not just graylisted twice.
TEST_F(SharedControllersTest, HitsAtHoneypotsOfDifferentControllersCountTogether) {
  auto c1 = Start();
  auto c2 = Start();
  ASSERT_TRUE(c1 && c2);
  ASSERT_TRUE(WaitFor([&] { return c1->leader() != c2->leader(); }, 5000));
  auto report = [](int port, const std::string& honeypot, uint64_t id, const std::string& callee) {
    auto ch = grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                  grpc::InsecureChannelCredentials());
    auto stub = v1::HoneypotService::NewStub(ch);
    {
      grpc::ClientContext ctx;
      ctx.AddMetadata("sw-name", honeypot);
      v1::HoneypotRegisterRequest req;
      req.set_honeypot(honeypot);
      req.set_hostname(honeypot + ".lab");
      req.set_version("test");
      req.add_listen("192.0.2.200:5060");
      req.set_deflector_users(3);
      v1::HoneypotRegisterResponse resp;
      EXPECT_TRUE(stub->Register(&ctx, req, &resp).ok());
    }
    grpc::ClientContext ctx;
    ctx.AddMetadata("sw-name", honeypot);
    v1::HitBatch b;
    auto* h = b.add_hits();
    h->set_id(id);
    h->set_stage(v1::HoneypotHit::STAGE_ARRIVED);
    h->set_ts_unix_ns(absl::ToUnixNanos(absl::Now()));
    h->set_method("INVITE");
    h->set_src_ip("203.0.113.90");
    h->set_callee(callee);
    h->set_call_id("call-" + honeypot);
    v1::HitAck ack;
    return stub->ReportHits(&ctx, b, &ack);
  };
  ASSERT_TRUE(report(c1->port(), "hp-a", 1, "alice").ok());
  const auto src = *IpPrefix::Parse("203.0.113.90/32");
  ASSERT_TRUE(WaitFor([&] {
    return c1->decisions().Find(src, v1::ACTION_GRAYLIST).has_value() &&
           c2->decisions().Find(src, v1::ACTION_GRAYLIST).has_value();
  }));
  EXPECT_FALSE(c1->decisions().Find(src, v1::ACTION_BLOCK).has_value());
  ASSERT_TRUE(report(c2->port(), "hp-b", 1, "bob").ok());
  ASSERT_TRUE(WaitFor([&] {
    return c1->decisions().Find(src, v1::ACTION_BLOCK).has_value() &&
           c2->decisions().Find(src, v1::ACTION_BLOCK).has_value();
  })) << "hits at two honeypots of different controllers did not block the source";
  EXPECT_EQ(c1->decisions().Find(src, v1::ACTION_BLOCK)->origin(), v1::ORIGIN_HONEYPOT);
}

}  // namespace
}  // namespace sw::controller
