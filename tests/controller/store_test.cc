// SPDX-License-Identifier: BSD-2-Clause
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "sqlite_store.h"
#include "test_util.h"

namespace sw::controller {
namespace {

namespace v1 = sipwarden::v1;

v1::Decision Dec(const std::string& prefix, v1::Action action, uint64_t version) {
  v1::Decision d;
  d.set_prefix(prefix);
  d.set_action(action);
  d.set_origin(v1::ORIGIN_OPERATOR);
  d.set_reason("manual");
  d.set_source("op");
  d.set_created_unix_ns(1);
  d.set_expires_unix_ns(0);
  d.set_version(version);
  return d;
}

v1::AgentReport AlarmReport(uint64_t id, const std::string& category) {
  v1::AgentReport r;
  r.set_id(id);
  auto* a = r.mutable_alarm();
  a->set_category(category);
  a->set_src_ip("192.0.2.1");
  a->set_rule("rule");
  a->set_ts_unix_ns(static_cast<int64_t>(id));
  a->set_json("{}");
  return r;
}

TEST(SqliteStore, UpgradesFromTheFirstSchemaKeepingEverything) {
  TempDir dir;
  const std::string db = dir.File("c.db");
  {
    auto s = SqliteStore::OpenAtVersion(db, 1);
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ((*s)->schema_version(), 1);
    ASSERT_TRUE((*s)->ApplyDecisions({{false, Dec("192.0.2.0/24", v1::ACTION_BLOCK, 7)}}, 7).ok());
    uint64_t dups = 0;
    auto last = (*s)->StoreReports("a1", {AlarmReport(10, "flood"), AlarmReport(11, "scan")}, &dups);
    ASSERT_TRUE(last.ok()) << last.status();
    EXPECT_EQ(*last, 11u);
  }
  auto s = SqliteStore::Open(db);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ((*s)->schema_version(), SqliteStore::SchemaVersion());
  auto loaded = (*s)->LoadDecisions();
  ASSERT_TRUE(loaded.ok());
  ASSERT_EQ(loaded->decisions.size(), 1u);
  EXPECT_EQ(loaded->decisions[0].prefix(), "192.0.2.0/24");
  EXPECT_EQ(loaded->version, 7u);
  EXPECT_EQ(*(*s)->LastReportId("a1"), 11u);
  EXPECT_EQ(*(*s)->AlarmCount(), 2u);
  // The column the second schema added works.
  v1::AgentInfo a;
  a.set_agent("a1");
  a.set_last_seen_unix_ns(5);
  (*a.mutable_counters())["rx_packets"] = 42;
  ASSERT_TRUE((*s)->UpsertAgent(a).ok());
  auto agents = (*s)->Agents();
  ASSERT_TRUE(agents.ok());
  ASSERT_EQ(agents->size(), 1u);
  EXPECT_EQ(agents->at(0).counters().at("rx_packets"), 42);
  EXPECT_EQ(agents->at(0).reports(), 2u);
}

TEST(SqliteStore, RefusesADatabaseFromANewerController) {
  TempDir dir;
  const std::string db = dir.File("c.db");
  ASSERT_TRUE(SqliteStore::Open(db).ok());
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(raw);
  auto s = SqliteStore::Open(db);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.status().message().find("schema version 99"), std::string::npos) << s.status();
}

TEST(SqliteStore, ReportsAreStoredOncePerId) {
  TempDir dir;
  auto s = SqliteStore::Open(dir.File("c.db"));
  ASSERT_TRUE(s.ok());
  uint64_t dups = 0;
  ASSERT_EQ(*(*s)->StoreReports("a", {AlarmReport(5, "flood"), AlarmReport(6, "flood")}, &dups), 6u);
  // Resent after a lost acknowledgement: 5 and 6 again, then 7.
  ASSERT_EQ(*(*s)->StoreReports("a", {AlarmReport(5, "flood"), AlarmReport(6, "flood"),
                                      AlarmReport(7, "scan")}, &dups), 7u);
  EXPECT_EQ(dups, 2u);
  EXPECT_EQ(*(*s)->AlarmCount(), 3u);
  // Another agent's ids are its own.
  ASSERT_EQ(*(*s)->StoreReports("b", {AlarmReport(5, "scan")}, &dups), 5u);
  AlarmFilter f;
  f.category = "scan";
  auto scans = (*s)->Alarms(f);
  ASSERT_TRUE(scans.ok());
  ASSERT_EQ(scans->size(), 2u);
  EXPECT_EQ(scans->at(0).agent(), "a");
  EXPECT_EQ(scans->at(1).agent(), "b");
}

TEST(SqliteStore, AlarmRetentionByAgeAndCount) {
  TempDir dir;
  auto s = SqliteStore::Open(dir.File("c.db"));
  ASSERT_TRUE(s.ok());
  std::vector<v1::AgentReport> rs;
  for (uint64_t i = 1; i <= 10; ++i) rs.push_back(AlarmReport(i, "flood"));  // ts = id
  uint64_t dups = 0;
  ASSERT_TRUE((*s)->StoreReports("a", rs, &dups).ok());
  ASSERT_TRUE((*s)->PruneAlarms(3, 1000).ok());  // older than ts 3
  EXPECT_EQ(*(*s)->AlarmCount(), 8u);
  ASSERT_TRUE((*s)->PruneAlarms(0, 5).ok());
  EXPECT_EQ(*(*s)->AlarmCount(), 5u);
  auto all = (*s)->Alarms({});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->front().report_id(), 6u);  // the newest kept
}

TEST(SqliteStore, DecisionChangesSetRemoveAndKeepTheVersion) {
  TempDir dir;
  auto s = SqliteStore::Open(dir.File("c.db"));
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE((*s)->ApplyDecisions({{false, Dec("192.0.2.1/32", v1::ACTION_BLOCK, 1)},
                                    {false, Dec("192.0.2.2/32", v1::ACTION_BLOCK, 2)}}, 2).ok());
  ASSERT_TRUE((*s)->ApplyDecisions({{true, Dec("192.0.2.1/32", v1::ACTION_BLOCK, 3)},
                                    {false, Dec("192.0.2.0/24", v1::ACTION_ALLOW, 4)}}, 4).ok());
  auto l = (*s)->LoadDecisions();
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->version, 4u);
  ASSERT_EQ(l->decisions.size(), 2u);
}

}  // namespace
}  // namespace sw::controller
