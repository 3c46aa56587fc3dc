// SPDX-License-Identifier: BSD-2-Clause
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "sqlite_store.h"
#include "store_rows.h"
#include "test_util.h"

namespace sw::controller {
namespace {

namespace v1 = sipwarden::v1;

using namespace test_rows;  // NOLINT: the rows every store test writes


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

TEST(SqliteStore, UpgradesFromTheSecondSchemaAddingGraylistsAndHits) {
  TempDir dir;
  const std::string db = dir.File("c.db");
  {
    auto s = SqliteStore::OpenAtVersion(db, 2);
    ASSERT_TRUE(s.ok()) << s.status();
    ASSERT_TRUE((*s)->ApplyDecisions({{false, Dec("192.0.2.0/24", v1::ACTION_BLOCK, 3)}}, 3).ok());
  }
  auto s = SqliteStore::Open(db);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ((*s)->schema_version(), SqliteStore::SchemaVersion());
  auto g = Dec("192.0.2.9/32", v1::ACTION_GRAYLIST, 4);
  g.set_rate_per_s(5);
  g.set_burst(20);
  ASSERT_TRUE((*s)->ApplyDecisions({{false, g}}, 4).ok());
  auto loaded = (*s)->LoadDecisions();
  ASSERT_TRUE(loaded.ok());
  ASSERT_EQ(loaded->decisions.size(), 2u);
  EXPECT_EQ(loaded->decisions[0].prefix(), "192.0.2.0/24");  // the old one, no bucket
  EXPECT_EQ(loaded->decisions[0].rate_per_s(), 0u);
  EXPECT_EQ(loaded->decisions[1].action(), v1::ACTION_GRAYLIST);
  EXPECT_EQ(loaded->decisions[1].rate_per_s(), 5u);
  EXPECT_EQ(loaded->decisions[1].burst(), 20u);
  std::vector<bool> stored;
  ASSERT_EQ(*(*s)->StoreHits("hp-1", {Hit(1, kArrived, "192.0.2.9", "900", 5)}, 10, &stored), 1u);
  EXPECT_EQ(*(*s)->HitCount(), 1u);
}

TEST(SqliteStore, HitsAreStoredOncePerIdAndListedByFilter) {
  TempDir dir;
  auto s = SqliteStore::Open(dir.File("c.db"));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*(*s)->LastHitId("hp-1"), 0u);
  std::vector<bool> stored;
  auto last = (*s)->StoreHits("hp-1",
                              {Hit(10, kArrived, "192.0.2.1", "900", 100 * kSec),
                               Hit(11, kEnded, "192.0.2.1", "900", 100 * kSec, "aa")},
                              200 * kSec, &stored);
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(*last, 11u);
  EXPECT_EQ(stored, std::vector<bool>({true, true}));
  // Resent after a lost acknowledgement, with one new hit (no time of its
  // own: stored at now).
  v1::HoneypotHit untimed = Hit(12, kArrived, "2001:db8::5", "901", 0);
  untimed.set_deflected(true);
  last = (*s)->StoreHits("hp-1",
                         {Hit(10, kArrived, "192.0.2.1", "900", 100 * kSec),
                          Hit(11, kEnded, "192.0.2.1", "900", 100 * kSec, "aa"), untimed},
                         300 * kSec, &stored);
  EXPECT_EQ(*last, 12u);
  EXPECT_EQ(stored, std::vector<bool>({false, false, true}));
  EXPECT_EQ(*(*s)->HitCount(), 3u);
  EXPECT_EQ(*(*s)->LastHitId("hp-1"), 12u);
  // Another honeypot's ids are its own.
  ASSERT_EQ(*(*s)->StoreHits("hp-2", {Hit(10, kArrived, "192.0.2.1", "902", 150 * kSec)},
                             300 * kSec, &stored),
            10u);
  auto all = (*s)->Hits({});
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 4u);
  EXPECT_EQ(all->at(0).honeypot(), "hp-1");
  EXPECT_EQ(all->at(0).hit().user_agent(), "friendly-scanner");  // the whole hit kept
  EXPECT_EQ(all->at(0).campaign(), "");
  EXPECT_EQ(all->at(1).campaign(), "aa");
  EXPECT_EQ(all->at(1).hit().recording(), "rec-11.wav");
  EXPECT_EQ(all->at(2).hit().ts_unix_ns(), 300 * kSec);
  EXPECT_EQ(all->at(3).honeypot(), "hp-2");
  HitFilter f;
  f.src_ip = "192.0.2.1";
  EXPECT_EQ((*s)->Hits(f)->size(), 3u);
  f = {};
  f.callee = "900";
  EXPECT_EQ((*s)->Hits(f)->size(), 2u);
  f.stage = kEnded;
  EXPECT_EQ((*s)->Hits(f)->size(), 1u);
  f = {};
  f.honeypot = "hp-2";
  EXPECT_EQ((*s)->Hits(f)->size(), 1u);
  f = {};
  f.deflected_only = true;
  ASSERT_EQ((*s)->Hits(f)->size(), 1u);
  EXPECT_EQ((*s)->Hits(f)->at(0).hit().src_ip(), "2001:db8::5");
  f = {};
  f.since_unix_ns = 150 * kSec;
  EXPECT_EQ((*s)->Hits(f)->size(), 2u);
  f = {};
  f.limit = 2;  // the newest two, newest last
  auto two = (*s)->Hits(f);
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ(two->at(0).hit().id(), 12u);
  EXPECT_EQ(two->at(1).honeypot(), "hp-2");
  // The honeypots as ListAgents shows them; hits made the rows before any
  // registration.
  v1::AgentInfo h;
  h.set_agent("hp-1");
  h.set_hostname("hp-1.lab");
  h.set_version("0.1.0");
  h.add_interfaces("192.0.2.200:5060");
  h.set_deflector_users(12);
  h.set_last_seen_unix_ns(400 * kSec);
  ASSERT_TRUE((*s)->UpsertHoneypot(h).ok());
  auto pots = (*s)->Honeypots();
  ASSERT_TRUE(pots.ok());
  ASSERT_EQ(pots->size(), 2u);
  EXPECT_TRUE(pots->at(0).honeypot());
  EXPECT_EQ(pots->at(0).hostname(), "hp-1.lab");
  EXPECT_EQ(pots->at(0).interfaces(0), "192.0.2.200:5060");
  EXPECT_EQ(pots->at(0).deflector_users(), 12u);
  EXPECT_EQ(pots->at(0).reports(), 3u);
  EXPECT_EQ(pots->at(0).first_seen_unix_ns(), 200 * kSec);
  EXPECT_EQ(pots->at(0).last_seen_unix_ns(), 400 * kSec);
  EXPECT_EQ(*(*s)->LastHitId("hp-1"), 12u);  // registering keeps it
}

TEST(SqliteStore, CampaignsGroupCallsByTheirRecordedMessage) {
  TempDir dir;
  auto s = SqliteStore::Open(dir.File("c.db"));
  ASSERT_TRUE(s.ok());
  std::vector<bool> stored;
  // Message "aa": three calls from two sources (the second source first
  // called later); "bb": one call; arrivals and calls without a recording
  // are no campaign's.
  ASSERT_TRUE((*s)->StoreHits("hp-1",
                              {Hit(1, kArrived, "192.0.2.1", "900", 10 * kSec),
                               Hit(2, kEnded, "192.0.2.1", "900", 10 * kSec, "aa"),
                               Hit(3, kEnded, "192.0.2.2", "901", 30 * kSec, "aa"),
                               Hit(4, kEnded, "192.0.2.1", "902", 40 * kSec, "aa"),
                               Hit(5, kEnded, "192.0.2.3", "900", 20 * kSec, "bb"),
                               Hit(6, kEnded, "192.0.2.4", "903", 50 * kSec)},
                              60 * kSec, &stored)
                  .ok());
  auto all = (*s)->Campaigns(1, 0);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 2u);
  const v1::Campaign& bb = all->at(0);  // newest last
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
  EXPECT_EQ(aa.recorded_ms(), 4000);  // the longest recording of it
  ASSERT_EQ(aa.callees_size(), 3);
  EXPECT_EQ(aa.callees(0), "900");
  EXPECT_EQ(aa.callees(2), "902");
  auto two = (*s)->Campaigns(2, 0);
  ASSERT_EQ(two->size(), 1u);
  EXPECT_EQ(two->at(0).audio_sha256(), "aa");
  EXPECT_TRUE((*s)->Campaigns(3, 0)->empty());
  auto newest = (*s)->Campaigns(1, 1);
  ASSERT_EQ(newest->size(), 1u);
  EXPECT_EQ(newest->at(0).audio_sha256(), "aa");
}

TEST(SqliteStore, HitRetentionByAgeAndCountKeepsTheDuplicateCheck) {
  TempDir dir;
  auto s = SqliteStore::Open(dir.File("c.db"));
  ASSERT_TRUE(s.ok());
  std::vector<v1::HoneypotHit> hits;
  for (uint64_t i = 1; i <= 10; ++i) hits.push_back(Hit(i, kArrived, "192.0.2.1", "900", i));
  std::vector<bool> stored;
  ASSERT_TRUE((*s)->StoreHits("hp-1", hits, 100, &stored).ok());
  ASSERT_TRUE((*s)->PruneHits(3, 1000).ok());  // older than ts 3
  EXPECT_EQ(*(*s)->HitCount(), 8u);
  ASSERT_TRUE((*s)->PruneHits(0, 5).ok());
  EXPECT_EQ(*(*s)->HitCount(), 5u);
  EXPECT_EQ((*s)->Hits({})->front().hit().id(), 6u);
  // A pruned hit resent is still a duplicate.
  ASSERT_EQ(*(*s)->StoreHits("hp-1", {Hit(1, kArrived, "192.0.2.1", "900", 1)}, 100, &stored), 10u);
  EXPECT_FALSE(stored[0]);
  EXPECT_EQ(*(*s)->HitCount(), 5u);
}

}  // namespace
}  // namespace sw::controller
