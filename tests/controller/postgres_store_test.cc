// SPDX-License-Identifier: BSD-2-Clause
// PostgresStore against a real PostgreSQL 15 server that the test starts
// itself (tests/support/pg_tmp.sh: a throwaway cluster on a Unix socket in
// a temporary directory, run as the postgres user when the test is root),
// one fresh database per test: SqliteStore's behaviours (store_test.cc),
// then what only a shared store does (versions in commit order across
// controllers, NOTIFY, leadership, the pruned log, forwarded events), and an
// outage of the server under a store that stays open.
#include "postgres_store.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <stdlib.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <set>
#include <thread>

#include "pg_server.h"
#include "store_rows.h"
#include "test_util.h"

namespace sw::controller {
namespace {

namespace v1 = sipwarden::v1;
using std::chrono::milliseconds;

using namespace test_rows;  // NOLINT: the rows every store test writes

PostgresOptions Options() {
  PostgresOptions o;
  o.pool_size = 4;
  o.connect_retry = milliseconds(5000);
  return o;
}

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!Server::Get().ok()) GTEST_SKIP() << Server::Get().why();
    url_ = Server::Get().NewDatabase();
  }
  std::unique_ptr<PostgresStore> Open() {
    auto s = PostgresStore::Open(url_, Options());
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }
  std::string Sql(const std::string& sql) {
    std::string err;
    std::string out = Server::Sql(url_, sql, &err);
    EXPECT_EQ(err, "") << sql;
    return out;
  }
  std::string url_;
};

v1::DecisionChange Set(const v1::Decision& d) {
  v1::DecisionChange c;
  c.set_kind(v1::DecisionChange::KIND_SET);
  *c.mutable_decision() = d;
  return c;
}

v1::DecisionChange Remove(const std::string& prefix, v1::Action action,
                          v1::DecisionChange::Kind kind = v1::DecisionChange::KIND_REMOVE) {
  v1::DecisionChange c;
  c.set_kind(kind);
  c.mutable_decision()->set_prefix(prefix);
  c.mutable_decision()->set_action(action);
  return c;
}


// ---- opening, schema ----------------------------------------------------------

TEST(PostgresUrl, Recognised) {
  EXPECT_TRUE(IsPostgresUrl("postgresql://db.example/sipwarden"));
  EXPECT_TRUE(IsPostgresUrl("postgres://u:p@db:5433/sw"));
  EXPECT_TRUE(IsPostgresUrl("postgresql:///sw?host=/run/postgresql"));
  EXPECT_FALSE(IsPostgresUrl("/var/lib/sipwarden/controller.db"));
  EXPECT_FALSE(IsPostgresUrl("controller.db"));
  EXPECT_FALSE(IsPostgresUrl("mysql://x"));
}

TEST(PostgresOpen, AnUnreachableServerIsNamedWithoutThePassword) {
  TempDir dir;  // no server in it
  PostgresOptions o;
  o.connect_retry = milliseconds(600);
  const auto t0 = std::chrono::steady_clock::now();
  auto s =
      PostgresStore::Open("postgresql://sw:s3cr3t-pw@/sipwarden?host=" + dir.File("nothing"), o);
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable);
  const std::string msg(s.status().message());
  EXPECT_NE(msg.find("cannot reach PostgreSQL at " + dir.File("nothing") + ":5432/sipwarden: "),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("No such file or directory"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("s3cr3t"), std::string::npos) << msg;
  EXPECT_GE(took, milliseconds(500));  // it retried
  EXPECT_LT(took, milliseconds(5000));
  auto bad = PostgresStore::Open("sqlite.db", o);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(PostgresStoreTest, ControllersStartingTogetherMigrateOnce) {
  std::unique_ptr<PostgresStore> a, b;
  absl::Status sa, sb;
  std::thread ta([&] {
    auto s = PostgresStore::Open(url_, Options());
    sa = s.status();
    if (s.ok()) a = std::move(*s);
  });
  std::thread tb([&] {
    auto s = PostgresStore::Open(url_, Options());
    sb = s.status();
    if (s.ok()) b = std::move(*s);
  });
  ta.join();
  tb.join();
  ASSERT_TRUE(sa.ok()) << sa;
  ASSERT_TRUE(sb.ok()) << sb;
  EXPECT_EQ(PostgresStore::SchemaVersion(), 5);
  EXPECT_EQ(a->schema_version(), 5);
  EXPECT_EQ(b->schema_version(), 5);
  EXPECT_TRUE(a->shared());
  // One row per migration, each applied once.
  EXPECT_EQ(Sql("SELECT COUNT(*) || ' ' || COUNT(DISTINCT version) || ' ' || MAX(version) "
                "FROM sw_schema"),
            "5 5 5");
  // A third start finds it current.
  auto c = Open();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(Sql("SELECT COUNT(*) FROM sw_schema"), "5");
  auto counters = c->Counters();
  EXPECT_EQ(counters["db_pool_size"], 4);
  EXPECT_EQ(counters["db_pool_in_use"], 0);
  EXPECT_EQ(counters["db_reconnects_total"], 0);
  EXPECT_EQ(counters["db_errors_total"], 0);
}

TEST_F(PostgresStoreTest, RefusesADatabaseFromANewerController) {
  ASSERT_NE(Open(), nullptr);
  Sql("INSERT INTO sw_schema (version) VALUES (99)");
  auto s = PostgresStore::Open(url_, Options());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  const std::string msg(s.status().message());
  EXPECT_NE(msg.find("schema version 99"), std::string::npos) << msg;
  EXPECT_NE(msg.find("knows up to 5"), std::string::npos) << msg;
}

// ---- SqliteStore's behaviours (store_test.cc) ---------------------------------

TEST_F(PostgresStoreTest, ReportsAreStoredOncePerId) {
  auto s = Open();
  ASSERT_NE(s, nullptr);
  uint64_t dups = 0;
  EXPECT_EQ(*s->LastReportId("a"), 0u);
  ASSERT_EQ(*s->StoreReports("a", {AlarmReport(5, "flood"), AlarmReport(6, "flood")}, &dups), 6u);
  ASSERT_EQ(
      *s->StoreReports(
          "a", {AlarmReport(5, "flood"), AlarmReport(6, "flood"), AlarmReport(7, "scan")}, &dups),
      7u);
  EXPECT_EQ(dups, 2u);
  EXPECT_EQ(*s->AlarmCount(), 3u);
  EXPECT_EQ(*s->LastReportId("a"), 7u);
  ASSERT_EQ(*s->StoreReports("b", {AlarmReport(5, "scan")}, &dups), 5u);
  AlarmFilter f;
  f.category = "scan";
  auto scans = s->Alarms(f);
  ASSERT_TRUE(scans.ok()) << scans.status();
  ASSERT_EQ(scans->size(), 2u);
  EXPECT_EQ(scans->at(0).agent(), "a");
  EXPECT_EQ(scans->at(1).agent(), "b");
  f = {};
  f.agent = "b";
  EXPECT_EQ(s->Alarms(f)->size(), 1u);
  f = {};
  f.src_ip = "198.51.100.1";
  EXPECT_TRUE(s->Alarms(f)->empty());
  // A batch of several agents: stored flags in row order, last ids.
  std::vector<bool> stored;
  std::map<std::string, uint64_t> last;
  ASSERT_TRUE(s->StoreReportBatch({{"b", AlarmReport(5, "scan")},
                                   {"c", AlarmReport(1, "flood")},
                                   {"a", AlarmReport(8, "flood")},
                                   {"c", AlarmReport(1, "flood")}},
                                  &stored, &last)
                  .ok());
  EXPECT_EQ(stored, std::vector<bool>({false, true, true, false}));
  EXPECT_EQ(last, (std::map<std::string, uint64_t>{{"a", 8}, {"b", 5}, {"c", 1}}));
  auto agents = s->Agents();
  ASSERT_TRUE(agents.ok());
  ASSERT_EQ(agents->size(), 3u);
  EXPECT_EQ(agents->at(0).agent(), "a");
  EXPECT_EQ(agents->at(0).reports(), 4u);
}

TEST_F(PostgresStoreTest, AgentsKeepFirstSeenAndCounters) {
  auto s = Open();
  ASSERT_NE(s, nullptr);
  v1::AgentInfo a;
  a.set_agent("Zed");
  a.set_hostname("h1");
  a.add_interfaces("eth0");
  a.add_interfaces("eth1");
  a.set_version("1.0");
  a.set_ruleset_sha256("abc");
  a.set_last_seen_unix_ns(5);
  (*a.mutable_counters())["rx_packets"] = 42;
  ASSERT_TRUE(s->UpsertAgent(a).ok());
  a.set_last_seen_unix_ns(9);
  a.clear_counters();  // none given: the last kept
  a.set_hostname("h2");
  ASSERT_TRUE(s->UpsertAgent(a).ok());
  v1::AgentInfo b;
  b.set_agent("alpha");
  ASSERT_TRUE(s->UpsertAgent(b).ok());
  auto agents = s->Agents();
  ASSERT_TRUE(agents.ok()) << agents.status();
  ASSERT_EQ(agents->size(), 2u);
  const auto& z = agents->at(0);  // byte order, as SQLite: "Zed" < "alpha"
  EXPECT_EQ(z.agent(), "Zed");
  EXPECT_EQ(z.hostname(), "h2");
  ASSERT_EQ(z.interfaces_size(), 2);
  EXPECT_EQ(z.interfaces(1), "eth1");
  EXPECT_EQ(z.first_seen_unix_ns(), 5);
  EXPECT_EQ(z.last_seen_unix_ns(), 9);
  EXPECT_EQ(z.counters().at("rx_packets"), 42);
  EXPECT_EQ(z.ruleset_sha256(), "abc");
}

TEST_F(PostgresStoreTest, AlarmRetentionByAgeAndCountAndFollowing) {
  auto s = Open();
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(*s->LastAlarmRow(), 0);
  std::vector<v1::AgentReport> rs;
  for (uint64_t i = 1; i <= 10; ++i) rs.push_back(AlarmReport(i, "flood"));  // ts = id
  uint64_t dups = 0;
  ASSERT_TRUE(s->StoreReports("a", rs, &dups).ok());
  const int64_t last = *s->LastAlarmRow();
  auto after = s->AlarmsAfter(last - 3, 2);
  ASSERT_TRUE(after.ok()) << after.status();
  ASSERT_EQ(after->size(), 2u);
  EXPECT_EQ(after->at(0).first, last - 2);
  EXPECT_EQ(after->at(0).second.report_id(), 8u);
  v1::Alarm central;
  central.set_ts_unix_ns(20);
  central.set_category("distributed");
  central.set_src_ip("203.0.113.9");
  central.set_rule("central-rule");
  central.set_severity(3);
  central.set_signature("sig");
  central.set_json("{\"x\":1}");
  ASSERT_TRUE(s->StoreAlarm("controller", central).ok());
  auto c = s->AlarmsAfter(last, 10);
  ASSERT_EQ(c->size(), 1u);
  EXPECT_EQ(c->at(0).second.agent(), "controller");
  EXPECT_EQ(c->at(0).second.report_id(), 0u);
  EXPECT_EQ(c->at(0).second.alarm().severity(), 3);
  EXPECT_EQ(c->at(0).second.alarm().json(), "{\"x\":1}");
  ASSERT_TRUE(s->PruneAlarms(3, 1000).ok());  // older than ts 3
  EXPECT_EQ(*s->AlarmCount(), 9u);
  ASSERT_TRUE(s->PruneAlarms(0, 5).ok());
  EXPECT_EQ(*s->AlarmCount(), 5u);
  auto all = s->Alarms({});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->front().report_id(), 7u);  // the newest kept
  AlarmFilter f;
  f.since_unix_ns = 9;
  EXPECT_EQ(s->Alarms(f)->size(), 3u);
  f.limit = 1;
  ASSERT_EQ(s->Alarms(f)->size(), 1u);
  EXPECT_EQ(s->Alarms(f)->at(0).agent(), "controller");
}

TEST_F(PostgresStoreTest, DecisionChangesSetRemoveAndKeepTheVersion) {
  auto s = Open();
  ASSERT_NE(s, nullptr);
  auto empty = s->LoadDecisions();
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->version, 0u);
  EXPECT_TRUE(empty->decisions.empty());
  EXPECT_EQ(s->ApplyDecisions({{false, Dec("192.0.2.1/32", v1::ACTION_BLOCK)}}, 1).code(),
            absl::StatusCode::kFailedPrecondition);
  auto v = s->CommitDecisions(
      {Set(Dec("192.0.2.1/32", v1::ACTION_BLOCK)), Set(Dec("192.0.2.2/32", v1::ACTION_BLOCK))});
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*v, std::vector<uint64_t>({1, 2}));
  auto g = Dec("192.0.2.9/32", v1::ACTION_GRAYLIST);
  g.set_rate_per_s(5);
  g.set_burst(20);
  v = s->CommitDecisions(
      {Remove("192.0.2.1/32", v1::ACTION_BLOCK), Set(Dec("192.0.2.0/24", v1::ACTION_ALLOW)), Set(g),
       Remove("192.0.2.2/32", v1::ACTION_BLOCK, v1::DecisionChange::KIND_EXPIRE)});
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*v, std::vector<uint64_t>({3, 4, 5, 6}));
  auto reason = Dec("192.0.2.0/24", v1::ACTION_ALLOW);
  reason.set_reason("replaced");
  ASSERT_TRUE(s->CommitDecisions({Set(reason)}).ok());
  auto l = s->LoadDecisions();
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->version, 7u);
  ASSERT_EQ(l->decisions.size(), 2u);
  EXPECT_EQ(l->decisions[0].action(), v1::ACTION_GRAYLIST);  // by version
  EXPECT_EQ(l->decisions[0].version(), 5u);
  EXPECT_EQ(l->decisions[0].rate_per_s(), 5u);
  EXPECT_EQ(l->decisions[0].burst(), 20u);
  EXPECT_EQ(l->decisions[1].reason(), "replaced");
  EXPECT_EQ(l->decisions[1].version(), 7u);
  auto ch = s->DecisionChangesSince(2, 0);
  ASSERT_TRUE(ch.ok()) << ch.status();
  ASSERT_EQ(ch->size(), 5u);
  EXPECT_EQ(ch->at(0).version(), 3u);
  EXPECT_EQ(ch->at(0).kind(), v1::DecisionChange::KIND_REMOVE);
  EXPECT_EQ(ch->at(0).decision().prefix(), "192.0.2.1/32");
  EXPECT_EQ(ch->at(0).decision().version(), 3u);
  EXPECT_EQ(ch->at(3).kind(), v1::DecisionChange::KIND_EXPIRE);
  EXPECT_EQ(ch->at(2).decision().burst(), 20u);
  EXPECT_EQ(s->DecisionChangesSince(2, 2)->size(), 2u);
  EXPECT_TRUE(s->DecisionChangesSince(7, 10)->empty());
  // Nothing is stored from a batch with a bad change.
  v1::DecisionChange bad;
  EXPECT_EQ(
      s->CommitDecisions({Set(Dec("198.51.100.0/24", v1::ACTION_BLOCK)), bad}).status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s->LoadDecisions()->decisions.size(), 2u);
  EXPECT_TRUE(s->CommitDecisions({})->empty());
}

TEST_F(PostgresStoreTest, ABatchNamingAKeyTwiceEndsAsItsLastChange) {
  auto s = Open();
  ASSERT_NE(s, nullptr);
  auto first = Dec("192.0.2.5/32", v1::ACTION_BLOCK);
  auto second = first;
  second.set_reason("second");
  auto v = s->CommitDecisions({Set(first), Remove("192.0.2.5/32", v1::ACTION_BLOCK),
                               Remove("192.0.2.6/32", v1::ACTION_BLOCK),
                               Set(Dec("192.0.2.6/32", v1::ACTION_BLOCK)), Set(first), Set(second),
                               Set(Dec("192.0.2.5/32", v1::ACTION_ALLOW))});
  ASSERT_TRUE(v.ok()) << v.status();
  auto l = s->LoadDecisions();
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l->decisions.size(), 3u);
  EXPECT_EQ(l->decisions[0].prefix(), "192.0.2.6/32");
  EXPECT_EQ(l->decisions[0].version(), 4u);
  EXPECT_EQ(l->decisions[1].reason(), "second");
  EXPECT_EQ(l->decisions[1].version(), 6u);
  EXPECT_EQ(s->DecisionChangesSince(0, 0)->size(), 7u);
  // More changes than one statement takes (1000 rows).
  std::vector<v1::DecisionChange> many;
  for (int i = 0; i < 2500; ++i) {
    many.push_back(
        Set(Dec("10." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ".0/24",
                v1::ACTION_BLOCK)));
  }
  for (int i = 0; i < 1200; ++i) {
    many.push_back(Remove("10." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ".0/24",
                          v1::ACTION_BLOCK, v1::DecisionChange::KIND_EXPIRE));
  }
  v = s->CommitDecisions(many);
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_EQ(v->size(), many.size());
  EXPECT_EQ(v->front(), 8u);
  EXPECT_EQ(v->back(), 7u + many.size());
  l = s->LoadDecisions();
  EXPECT_EQ(l->decisions.size(), 3u + 2500u - 1200u);
  EXPECT_EQ(l->version, 7u + many.size());
  EXPECT_EQ(s->DecisionChangesSince(7, 0)->size(), many.size());
}

TEST_F(PostgresStoreTest, HitsAreStoredOncePerIdAndListedByFilter) {
  auto s = Open();
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(*s->LastHitId("hp-1"), 0u);
  std::vector<bool> stored;
  auto last = s->StoreHits("hp-1",
                           {Hit(10, kArrived, "192.0.2.1", "900", 100 * kSec),
                            Hit(11, kEnded, "192.0.2.1", "900", 100 * kSec, "aa")},
                           200 * kSec, &stored);
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(*last, 11u);
  EXPECT_EQ(stored, std::vector<bool>({true, true}));
  v1::HoneypotHit untimed = Hit(12, kArrived, "2001:db8::5", "901", 0);
  untimed.set_deflected(true);
  last = s->StoreHits("hp-1",
                      {Hit(10, kArrived, "192.0.2.1", "900", 100 * kSec),
                       Hit(11, kEnded, "192.0.2.1", "900", 100 * kSec, "aa"), untimed},
                      300 * kSec, &stored);
  EXPECT_EQ(*last, 12u);
  EXPECT_EQ(stored, std::vector<bool>({false, false, true}));
  EXPECT_EQ(*s->HitCount(), 3u);
  EXPECT_EQ(*s->LastHitId("hp-1"), 12u);
  ASSERT_EQ(*s->StoreHits("hp-2", {Hit(10, kArrived, "192.0.2.1", "902", 150 * kSec)}, 300 * kSec,
                          &stored),
            10u);
  auto all = s->Hits({});
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 4u);
  EXPECT_EQ(all->at(0).honeypot(), "hp-1");
  EXPECT_EQ(all->at(0).hit().user_agent(), "friendly-scanner");
  EXPECT_EQ(all->at(0).campaign(), "");
  EXPECT_EQ(all->at(1).campaign(), "aa");
  EXPECT_EQ(all->at(1).hit().recording(), "rec-11.wav");
  EXPECT_EQ(all->at(2).hit().ts_unix_ns(), 300 * kSec);
  EXPECT_EQ(all->at(3).honeypot(), "hp-2");
  HitFilter f;
  f.src_ip = "192.0.2.1";
  EXPECT_EQ(s->Hits(f)->size(), 3u);
  f = {};
  f.callee = "900";
  EXPECT_EQ(s->Hits(f)->size(), 2u);
  f.stage = kEnded;
  EXPECT_EQ(s->Hits(f)->size(), 1u);
  f = {};
  f.honeypot = "hp-2";
  EXPECT_EQ(s->Hits(f)->size(), 1u);
  f = {};
  f.deflected_only = true;
  ASSERT_EQ(s->Hits(f)->size(), 1u);
  EXPECT_EQ(s->Hits(f)->at(0).hit().src_ip(), "2001:db8::5");
  f = {};
  f.since_unix_ns = 150 * kSec;
  EXPECT_EQ(s->Hits(f)->size(), 2u);
  f = {};
  f.limit = 2;
  auto two = s->Hits(f);
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ(two->at(0).hit().id(), 12u);
  EXPECT_EQ(two->at(1).honeypot(), "hp-2");
  v1::AgentInfo h;
  h.set_agent("hp-1");
  h.set_hostname("hp-1.lab");
  h.set_version("0.1.0");
  h.add_interfaces("192.0.2.200:5060");
  h.set_deflector_users(12);
  h.set_last_seen_unix_ns(400 * kSec);
  ASSERT_TRUE(s->UpsertHoneypot(h).ok());
  auto pots = s->Honeypots();
  ASSERT_TRUE(pots.ok());
  ASSERT_EQ(pots->size(), 2u);
  EXPECT_TRUE(pots->at(0).honeypot());
  EXPECT_EQ(pots->at(0).hostname(), "hp-1.lab");
  EXPECT_EQ(pots->at(0).interfaces(0), "192.0.2.200:5060");
  EXPECT_EQ(pots->at(0).deflector_users(), 12u);
  EXPECT_EQ(pots->at(0).reports(), 3u);
  EXPECT_EQ(pots->at(0).first_seen_unix_ns(), 200 * kSec);
  EXPECT_EQ(pots->at(0).last_seen_unix_ns(), 400 * kSec);
  EXPECT_EQ(*s->LastHitId("hp-1"), 12u);
}

TEST_F(PostgresStoreTest, CampaignsGroupCallsByTheirRecordedMessage) {
  auto s = Open();
  ASSERT_NE(s, nullptr);
  std::vector<bool> stored;
  ASSERT_TRUE(s->StoreHits("hp-1",
                           {Hit(1, kArrived, "192.0.2.1", "900", 10 * kSec),
                            Hit(2, kEnded, "192.0.2.1", "900", 10 * kSec, "aa"),
                            Hit(3, kEnded, "192.0.2.2", "901", 30 * kSec, "aa"),
                            Hit(4, kEnded, "192.0.2.1", "902", 40 * kSec, "aa"),
                            Hit(5, kEnded, "192.0.2.3", "900", 20 * kSec, "bb"),
                            Hit(6, kEnded, "192.0.2.4", "903", 50 * kSec)},
                           60 * kSec, &stored)
                  .ok());
  auto all = s->Campaigns(1, 0);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 2u);
  const v1::Campaign& bb = all->at(0);
  EXPECT_EQ(bb.audio_sha256(), "bb");
  EXPECT_EQ(bb.calls(), 1u);
  const v1::Campaign& aa = all->at(1);
  EXPECT_EQ(aa.audio_sha256(), "aa");
  EXPECT_EQ(aa.calls(), 3u);
  ASSERT_EQ(aa.sources_size(), 2);
  EXPECT_EQ(aa.sources(0), "192.0.2.1");
  EXPECT_EQ(aa.sources(1), "192.0.2.2");
  EXPECT_EQ(aa.first_unix_ns(), 10 * kSec);
  EXPECT_EQ(aa.last_unix_ns(), 40 * kSec);
  EXPECT_EQ(aa.recorded_ms(), 4000);
  ASSERT_EQ(aa.callees_size(), 3);
  EXPECT_EQ(aa.callees(0), "900");
  EXPECT_EQ(aa.callees(2), "902");
  auto two = s->Campaigns(2, 0);
  ASSERT_EQ(two->size(), 1u);
  EXPECT_EQ(two->at(0).audio_sha256(), "aa");
  EXPECT_TRUE(s->Campaigns(3, 0)->empty());
  auto newest = s->Campaigns(1, 1);
  ASSERT_EQ(newest->size(), 1u);
  EXPECT_EQ(newest->at(0).audio_sha256(), "aa");
}

TEST_F(PostgresStoreTest, HitRetentionByAgeAndCountKeepsTheDuplicateCheck) {
  auto s = Open();
  ASSERT_NE(s, nullptr);
  std::vector<v1::HoneypotHit> hits;
  for (uint64_t i = 1; i <= 10; ++i) hits.push_back(Hit(i, kArrived, "192.0.2.1", "900", i));
  std::vector<bool> stored;
  ASSERT_TRUE(s->StoreHits("hp-1", hits, 100, &stored).ok());
  ASSERT_TRUE(s->PruneHits(3, 1000).ok());
  EXPECT_EQ(*s->HitCount(), 8u);
  ASSERT_TRUE(s->PruneHits(0, 5).ok());
  EXPECT_EQ(*s->HitCount(), 5u);
  EXPECT_EQ(s->Hits({})->front().hit().id(), 6u);
  ASSERT_EQ(*s->StoreHits("hp-1", {Hit(1, kArrived, "192.0.2.1", "900", 1)}, 100, &stored), 10u);
  EXPECT_FALSE(stored[0]);
  EXPECT_EQ(*s->HitCount(), 5u);
}

TEST_F(PostgresStoreTest, AuditLogAndState) {
  auto s = Open();
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(s->Audit(1, "alice", "block 192.0.2.1/32").ok());
  ASSERT_TRUE(s->Audit(2, "bob", "unblock 192.0.2.1/32").ok());
  auto log = s->AuditLog(10);
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ(*log,
            std::vector<std::string>({"2 bob unblock 192.0.2.1/32", "1 alice block 192.0.2.1/32"}));
  EXPECT_EQ(s->AuditLog(1)->size(), 1u);
  EXPECT_EQ(*s->GetState("series"), "");
  const std::string binary("a\0b\xff\n", 5);
  ASSERT_TRUE(s->PutState("series", binary).ok());
  EXPECT_EQ(*s->GetState("series"), binary);
  ASSERT_TRUE(s->PutState("series", "v2").ok());
  EXPECT_EQ(*s->GetState("series"), "v2");
}

// ---- the shared store ---------------------------------------------------------

TEST_F(PostgresStoreTest, TwoControllersStoreAnAgentsReportOnce) {
  auto a = Open();
  auto b = Open();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  // The same agent's reports 1..N reach both controllers (an agent that
  // failed over and resent), in overlapping batches, at the same time.
  constexpr uint64_t kN = 400;
  std::atomic<uint64_t> dups{0}, failures{0};
  auto send = [&](PostgresStore* s, uint64_t step) {
    for (uint64_t from = 1; from <= kN; from += step) {
      std::vector<v1::AgentReport> batch;
      for (uint64_t id = from; id < from + 2 * step && id <= kN; ++id) {
        batch.push_back(AlarmReport(id, "flood"));
      }
      uint64_t d = 0;
      if (!s->StoreReports("edge-1", batch, &d).ok()) ++failures;
      dups += d;
    }
  };
  std::thread ta(send, a.get(), 7);
  std::thread tb(send, b.get(), 5);
  ta.join();
  tb.join();
  EXPECT_EQ(failures.load(), 0u);
  EXPECT_EQ(*a->AlarmCount(), kN);
  EXPECT_EQ(*b->LastReportId("edge-1"), kN);
  EXPECT_EQ(Sql("SELECT COUNT(DISTINCT report_id) FROM alarms"), std::to_string(kN));
  EXPECT_EQ(Sql("SELECT reports FROM agents WHERE agent = 'edge-1'"), std::to_string(kN));
  // Every report sent was either stored once or counted as a duplicate.
  uint64_t sent = 0;
  for (uint64_t step : {uint64_t{7}, uint64_t{5}}) {
    for (uint64_t from = 1; from <= kN; from += step) {
      sent += std::min(from + 2 * step, kN + 1) - from;
    }
  }
  EXPECT_EQ(dups.load(), sent - kN);
}

TEST_F(PostgresStoreTest, ConcurrentCommitsAreNumberedInCommitOrder) {
  auto a = Open();
  auto b = Open();
  auto reader = Open();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_NE(reader, nullptr);
  constexpr int kCommits = 150;
  std::atomic<bool> done{false};
  std::atomic<int> failures{0}, order_violations{0};
  std::vector<uint64_t> got_a, got_b;
  auto commit = [&](PostgresStore* s, const std::string& net, std::vector<uint64_t>* got) {
    for (int i = 0; i < kCommits; ++i) {
      std::vector<v1::DecisionChange> changes;
      for (int k = 0; k <= i % 3; ++k) {
        changes.push_back(Set(Dec(net + std::to_string(i % 250) + "." + std::to_string(k) + "/32",
                                  v1::ACTION_BLOCK)));
      }
      auto v = s->CommitDecisions(changes);
      if (!v.ok()) {
        ++failures;
        continue;
      }
      if (v->size() != changes.size()) ++failures;
      for (size_t k = 1; k < v->size(); ++k) {
        if ((*v)[k] <= (*v)[k - 1]) ++failures;
      }
      got->insert(got->end(), v->begin(), v->end());
    }
  };
  // A follower reading as the commits land: once it has seen version v,
  // no change below v may appear later.
  std::thread follow([&] {
    uint64_t seen = 0;
    std::set<uint64_t> all;
    while (!done) {
      auto ch = reader->DecisionChangesSince(0, 0);
      if (!ch.ok()) continue;
      for (const auto& c : *ch) {
        if (c.version() <= seen && !all.count(c.version())) ++order_violations;
        all.insert(c.version());
      }
      if (!ch->empty()) seen = std::max(seen, ch->back().version());
    }
  });
  std::thread ta(commit, a.get(), "10.1.", &got_a);
  std::thread tb(commit, b.get(), "10.2.", &got_b);
  ta.join();
  tb.join();
  done = true;
  follow.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(order_violations.load(), 0);
  auto ch = reader->DecisionChangesSince(0, 0);
  ASSERT_TRUE(ch.ok()) << ch.status();
  std::set<uint64_t> committed(got_a.begin(), got_a.end());
  committed.insert(got_b.begin(), got_b.end());
  EXPECT_EQ(committed.size(), got_a.size() + got_b.size());  // none given twice
  ASSERT_EQ(ch->size(), committed.size());
  for (size_t i = 0; i < ch->size(); ++i) {
    if (i > 0) {
      EXPECT_GT(ch->at(i).version(), ch->at(i - 1).version());
    }
    EXPECT_TRUE(committed.count(ch->at(i).version()));
  }
  auto loaded = reader->LoadDecisions();
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->version, *committed.rbegin());
  // Each prefix was set once per commit that named it; the table holds the
  // last of each, with that commit's version.
  for (const auto& d : loaded->decisions) EXPECT_TRUE(committed.count(d.version()));
}

TEST_F(PostgresStoreTest, ACommitWakesTheOtherControllerWithinASecond) {
  auto a = Open();
  auto b = Open();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_FALSE(b->WaitForDecisionNotice(milliseconds(50)));  // nothing yet
  std::atomic<bool> woke{false};
  std::chrono::steady_clock::time_point woke_at;
  std::thread waiter([&] {
    woke = b->WaitForDecisionNotice(milliseconds(5000));
    woke_at = std::chrono::steady_clock::now();
  });
  std::this_thread::sleep_for(milliseconds(200));
  const auto committed_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(a->CommitDecisions({Set(Dec("192.0.2.7/32", v1::ACTION_BLOCK))}).ok());
  waiter.join();
  EXPECT_TRUE(woke.load());
  EXPECT_LT(woke_at - committed_at, milliseconds(1000));
  // The committing controller hears its own commit too.
  EXPECT_TRUE(a->WaitForDecisionNotice(milliseconds(1000)));
  EXPECT_FALSE(b->WaitForDecisionNotice(milliseconds(50)));  // consumed
}

TEST_F(PostgresStoreTest, OneLeaderAndAnotherTakesOverWhenItGoes) {
  auto a = Open();
  auto b = Open();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_TRUE(a->Leader());
  EXPECT_FALSE(b->Leader());
  EXPECT_TRUE(a->Leader());  // still held
  EXPECT_EQ(a->Counters()["db_leader"], 1);
  EXPECT_EQ(b->Counters()["db_leader"], 0);
  std::this_thread::sleep_for(milliseconds(1100));
  EXPECT_TRUE(a->Leader());  // checked on its session
  EXPECT_FALSE(b->Leader());
  a.reset();
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(WaitFor([&] { return b->Leader(); }, 2000));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, milliseconds(2000));
  EXPECT_EQ(b->Counters()["db_leader"], 1);
}

TEST_F(PostgresStoreTest, PrunedLogSendsFollowersToReload) {
  auto s = Open();
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(s->CommitDecisions({Set(Dec("192.0.2.1/32", v1::ACTION_BLOCK))}).ok());  // 1
  // A version taken by a transaction that rolled back: a gap, not a loss.
  Sql("BEGIN; SELECT nextval('decision_version'); ROLLBACK");
  Sql("SELECT nextval('decision_version')");  // 2 and 3 burnt
  ASSERT_EQ(*s->CommitDecisions({Set(Dec("192.0.2.2/32", v1::ACTION_BLOCK))}),
            std::vector<uint64_t>({4}));
  auto ch = s->DecisionChangesSince(1, 0);
  ASSERT_TRUE(ch.ok()) << ch.status();
  ASSERT_EQ(ch->size(), 1u);
  EXPECT_EQ(ch->at(0).version(), 4u);
  for (int i = 0; i < 8; ++i) {  // 5..12
    ASSERT_TRUE(
        s->CommitDecisions({Set(Dec("198.51.100." + std::to_string(i) + "/32", v1::ACTION_BLOCK))})
            .ok());
  }
  ASSERT_TRUE(s->PruneDecisionLog(3).ok());  // keeps 10, 11, 12
  EXPECT_EQ(s->DecisionChangesSince(0, 0).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(s->DecisionChangesSince(8, 0).status().code(), absl::StatusCode::kOutOfRange);
  auto rest = s->DecisionChangesSince(9, 0);
  ASSERT_TRUE(rest.ok()) << rest.status();
  ASSERT_EQ(rest->size(), 3u);
  EXPECT_EQ(rest->at(0).version(), 10u);
  EXPECT_TRUE(s->DecisionChangesSince(12, 0)->empty());
  // The decisions themselves stay; the version too.
  auto loaded = s->LoadDecisions();
  EXPECT_EQ(loaded->decisions.size(), 10u);
  EXPECT_EQ(loaded->version, 12u);
  ASSERT_TRUE(s->PruneDecisionLog(100).ok());  // nothing more to prune
  EXPECT_TRUE(s->DecisionChangesSince(9, 0).ok());
  ASSERT_TRUE(s->PruneDecisionLog(0).ok());
  EXPECT_EQ(s->DecisionChangesSince(11, 0).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_TRUE(s->DecisionChangesSince(12, 0)->empty());
}

TEST_F(PostgresStoreTest, ForwardedEventsQueueForTheLeader) {
  auto a = Open();
  auto b = Open();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(*a->LastEventId(), 0);
  std::vector<v1::ForwardedEvent> evs(3);
  for (int i = 0; i < 3; ++i) {
    evs[i].set_ts_unix_ns(i + 1);
    evs[i].set_name("sip.request");
    evs[i].set_has_flow(true);
    evs[i].set_src_ip("192.0.2." + std::to_string(i));
  }
  ASSERT_TRUE(a->AppendEvents(evs).ok());
  ASSERT_TRUE(b->AppendEvents({evs[0]}).ok());
  ASSERT_TRUE(a->AppendEvents({}).ok());
  auto got = b->EventsAfter(0, 0);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 4u);
  EXPECT_EQ(got->at(1).second.src_ip(), "192.0.2.1");
  EXPECT_TRUE(got->at(2).second.has_flow());
  EXPECT_LT(got->at(0).first, got->at(3).first);
  EXPECT_EQ(*a->LastEventId(), got->back().first);
  auto two = b->EventsAfter(got->at(0).first, 2);
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ(two->at(0).first, got->at(1).first);
  ASSERT_TRUE(b->PruneEvents(got->at(2).first).ok());
  auto left = a->EventsAfter(0, 100);
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ(left->at(0).first, got->at(3).first);
}

// Last: it takes the shared server down.
TEST_F(PostgresStoreTest, ZzSurvivesAServerOutageWithoutReopening) {
  auto s = Open();
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(s->CommitDecisions({Set(Dec("192.0.2.1/32", v1::ACTION_BLOCK))}).ok());
  EXPECT_TRUE(s->WaitForDecisionNotice(milliseconds(1000)));  // its own, heard
  ASSERT_TRUE(s->Leader());
  // A restart while connected: the pooled sessions are gone, and the next
  // calls go through on new ones.
  ASSERT_EQ(Shell(Server::Get().Script("restart")), 0);
  auto l = s->LoadDecisions();
  EXPECT_TRUE(l.ok()) << l.status();
  for (int i = 0; i < 8; ++i) {  // every pooled connection
    EXPECT_TRUE(s->AlarmCount().ok());
  }
  EXPECT_GE(s->Counters()["db_reconnects_total"], 1);
  // An outage: calls fail UNAVAILABLE with libpq's message, quickly.
  ASSERT_EQ(Shell(Server::Get().Script("down")), 0);
  for (int i = 0; i < 3; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    auto c = s->AlarmCount();
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.status().code(), absl::StatusCode::kUnavailable) << c.status();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, milliseconds(2000));
    if (i == 0) {
      EXPECT_NE(c.status().message().find("cannot reach PostgreSQL at " + Server::Get().dir()),
                std::string::npos)
          << c.status();
    }
  }
  auto commit = s->CommitDecisions({Set(Dec("192.0.2.2/32", v1::ACTION_BLOCK))});
  EXPECT_EQ(commit.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(s->WaitForDecisionNotice(milliseconds(100)));
  EXPECT_TRUE(WaitFor([&] { return !s->Leader(); }, 2500));  // lost with its session
  EXPECT_GE(s->Counters()["db_errors_total"], 4);
  EXPECT_EQ(s->Counters()["db_pool_in_use"], 0);
  // Back: the same store works again.
  ASSERT_EQ(Shell(Server::Get().Script("up")), 0);
  EXPECT_TRUE(WaitFor([&] { return s->AlarmCount().ok(); }, 5000));
  auto v = s->CommitDecisions({Set(Dec("192.0.2.3/32", v1::ACTION_BLOCK))});
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->size(), 1u);
  auto loaded = s->LoadDecisions();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->decisions.size(), 2u);  // the commit during the outage stored nothing
  EXPECT_TRUE(WaitFor([&] { return s->Leader(); }, 3000));
  // The LISTEN session came back by itself: a commit from another store
  // wakes it.
  auto other = Open();
  ASSERT_NE(other, nullptr);
  std::atomic<bool> woke{false};
  std::thread waiter([&] {
    const auto until = std::chrono::steady_clock::now() + milliseconds(5000);
    while (!woke && std::chrono::steady_clock::now() < until) {
      woke = s->WaitForDecisionNotice(milliseconds(200));
    }
  });
  // Its reconnection happens inside the wait: commit until it is heard.
  for (int i = 0; i < 20 && !woke; ++i) {
    ASSERT_TRUE(other
                    ->CommitDecisions(
                        {Set(Dec("203.0.113." + std::to_string(i) + "/32", v1::ACTION_BLOCK))})
                    .ok());
    std::this_thread::sleep_for(milliseconds(200));
  }
  waiter.join();
  EXPECT_TRUE(woke.load());
}

}  // namespace
}  // namespace sw::controller
