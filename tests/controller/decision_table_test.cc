// SPDX-License-Identifier: BSD-2-Clause
#include "decision_table.h"

#include <gtest/gtest.h>

#include "sqlite_store.h"
#include "test_util.h"

namespace sw::controller {
namespace {

namespace v1 = sipwarden::v1;
constexpr int64_t kNow = 1'700'000'000'000'000'000;
constexpr int64_t kSec = 1'000'000'000;

IpPrefix P(const char* text) { return *ParseDecisionPrefix(text); }

class DecisionTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = SqliteStore::Open(dir_.File("c.db"));
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    table_ = std::make_unique<DecisionTable>(store_.get(), 4);
    ASSERT_TRUE(table_->Load(kNow).ok());
  }
  TempDir dir_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<DecisionTable> table_;
};

TEST_F(DecisionTableTest, VersionsOnlyIncreaseAndChangesCatchUp) {
  auto a = table_->Block(P("192.0.2.1"), kNow + 60 * kSec, v1::ORIGIN_OPERATOR, "manual", "op", kNow);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->version(), 1u);
  EXPECT_EQ(a->prefix(), "192.0.2.1/32");
  auto b = table_->Block(P("2001:db8::/48"), 0, v1::ORIGIN_AGENT, "flood", "a1", kNow);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->version(), 2u);
  auto changes = table_->ChangesSince(1);
  ASSERT_TRUE(changes.has_value());
  ASSERT_EQ(changes->size(), 1u);
  EXPECT_EQ(changes->at(0).decision().prefix(), "2001:db8::/48");
  EXPECT_EQ(changes->at(0).kind(), v1::DecisionChange::KIND_SET);
  uint64_t through = 0;
  EXPECT_TRUE(table_->ChangesSince(2, &through)->empty());
  EXPECT_EQ(through, 2u);  // the version the caller is at afterwards, read with them
  EXPECT_EQ(table_->blocks(), 2u);
  EXPECT_EQ(table_->allows(), 0u);
  EXPECT_FALSE(table_->ChangesSince(3).has_value());  // a version this table never gave
}

TEST_F(DecisionTableTest, AWatcherTooFarBehindGetsASnapshot) {
  for (int i = 1; i <= 6; ++i) {
    const std::string p = "192.0.2." + std::to_string(i);
    ASSERT_TRUE(table_->Block(P(p.c_str()), 0, v1::ORIGIN_OPERATOR, "manual", "op", kNow).ok());
  }
  EXPECT_FALSE(table_->ChangesSince(1).has_value());  // history of 4: versions 3..6 kept
  EXPECT_EQ(table_->ChangesSince(2)->size(), 4u);
  auto [all, version] = table_->Snapshot();
  EXPECT_EQ(all.size(), 6u);
  EXPECT_EQ(version, 6u);
}

TEST_F(DecisionTableTest, AnAllowWinsOverEveryBlock) {
  ASSERT_TRUE(table_->Block(P("192.0.2.7"), 0, v1::ORIGIN_AGENT, "flood", "a1", kNow).ok());
  ASSERT_TRUE(table_->Block(P("192.0.2.0/28"), 0, v1::ORIGIN_OPERATOR, "manual", "op", kNow).ok());
  ASSERT_TRUE(table_->Block(P("198.51.100.1"), 0, v1::ORIGIN_OPERATOR, "manual", "op", kNow).ok());
  auto allow = table_->Allow(P("192.0.2.0/24"), "trunk partner", "op", kNow);
  ASSERT_TRUE(allow.ok()) << allow.status();
  EXPECT_EQ(table_->blocks(), 1u);  // only the block outside the allow is left
  auto changes = table_->ChangesSince(3);
  ASSERT_TRUE(changes.has_value());
  ASSERT_EQ(changes->size(), 3u);  // two removals, then the allow
  EXPECT_EQ(changes->at(0).kind(), v1::DecisionChange::KIND_REMOVE);
  EXPECT_EQ(changes->at(2).decision().action(), v1::ACTION_ALLOW);
  // No block inside it afterwards, from anyone.
  auto refused = table_->Block(P("192.0.2.9"), 0, v1::ORIGIN_AGENT, "flood", "a2", kNow);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(table_->Disallow(P("192.0.2.0/24")).ok());
  EXPECT_TRUE(table_->Block(P("192.0.2.9"), 0, v1::ORIGIN_AGENT, "flood", "a2", kNow).ok());
}

TEST_F(DecisionTableTest, ExpiryIsAbsoluteAndARepeatDoesNotShortenIt) {
  ASSERT_TRUE(table_->Block(P("192.0.2.1"), kNow + 100 * kSec, v1::ORIGIN_AGENT, "flood", "a1", kNow).ok());
  // A second agent reports the same attacker with a shorter block: nothing changes.
  auto same = table_->Block(P("192.0.2.1"), kNow + 10 * kSec, v1::ORIGIN_AGENT, "flood", "a2", kNow);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->expires_unix_ns(), kNow + 100 * kSec);
  EXPECT_EQ(table_->version(), 1u);
  // A longer one extends it (a new version).
  auto longer = table_->Block(P("192.0.2.1"), kNow + 200 * kSec, v1::ORIGIN_AGENT, "flood", "a2", kNow);
  EXPECT_EQ(longer->version(), 2u);
  EXPECT_EQ(*table_->Expire(kNow + 199 * kSec), 0u);
  EXPECT_EQ(*table_->Expire(kNow + 200 * kSec), 1u);
  EXPECT_EQ(table_->blocks(), 0u);
  EXPECT_EQ(table_->ChangesSince(2)->at(0).kind(), v1::DecisionChange::KIND_EXPIRE);
}

TEST_F(DecisionTableTest, ExpiryVisitsOnlyWhatIsDueAcrossUnblocksAllowsAndReloads) {
  for (int i = 1; i <= 6; ++i) {
    ASSERT_TRUE(table_->Block(P(("198.51.100." + std::to_string(i)).c_str()), kNow + i * 10 * kSec,
                              v1::ORIGIN_AGENT, "flood", "a1", kNow).ok());
  }
  ASSERT_TRUE(table_->Block(P("198.51.100.100"), 0, v1::ORIGIN_OPERATOR, "manual", "op", kNow).ok());
  ASSERT_TRUE(table_->Unblock(P("198.51.100.2")).ok());  // due at 20 s: gone before
  ASSERT_TRUE(table_->Allow(P("198.51.100.3"), "partner", "op", kNow).ok());  // lifts the one due at 30 s
  EXPECT_EQ(*table_->Expire(kNow + 35 * kSec), 1u);  // 198.51.100.1 only
  // A restart rebuilds the index from the store.
  table_ = std::make_unique<DecisionTable>(store_.get(), 4);
  ASSERT_TRUE(table_->Load(kNow).ok());
  EXPECT_EQ(table_->blocks(), 4u);  // .4 .5 .6 and the one that never expires
  EXPECT_EQ(*table_->Expire(kNow + 50 * kSec), 2u);
  EXPECT_EQ(*table_->Expire(kNow + 1000 * kSec), 1u);
  EXPECT_EQ(table_->blocks(), 1u);
  EXPECT_EQ(table_->allows(), 1u);
}

TEST_F(DecisionTableTest, ErrorsNameTheProblem) {
  EXPECT_EQ(ParseDecisionPrefix("192.0.2.1/24").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseDecisionPrefix("not an address").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(table_->Unblock(P("192.0.2.1")).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(table_->Disallow(P("192.0.2.1")).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(DecisionTableTest, ARestartedControllerHasTheSameDecisionsAndVersion) {
  ASSERT_TRUE(table_->Block(P("192.0.2.1"), 0, v1::ORIGIN_OPERATOR, "manual", "op", kNow).ok());
  ASSERT_TRUE(table_->Allow(P("198.51.100.0/24"), "ours", "op", kNow).ok());
  ASSERT_TRUE(table_->Unblock(P("192.0.2.1")).ok());
  DecisionTable again(store_.get());
  ASSERT_TRUE(again.Load(kNow).ok());
  EXPECT_EQ(again.version(), 3u);
  EXPECT_EQ(again.blocks(), 0u);
  EXPECT_EQ(again.allows(), 1u);
  EXPECT_TRUE(again.Allowed(P("198.51.100.7")));
  // Its history starts at the restart: older watchers get a snapshot.
  EXPECT_FALSE(again.ChangesSince(1).has_value());
  EXPECT_TRUE(again.ChangesSince(3)->empty());
}

TEST_F(DecisionTableTest, AGraylistIsOneHostWithABucketAndSettingItAgainReplacesIt) {
  auto g = table_->Graylist(P("192.0.2.5"), kNow + 60 * kSec, 5, 20, v1::ORIGIN_HONEYPOT,
                            "honeypot", "hp-1", kNow);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->action(), v1::ACTION_GRAYLIST);
  EXPECT_EQ(g->prefix(), "192.0.2.5/32");
  EXPECT_EQ(g->rate_per_s(), 5u);
  EXPECT_EQ(g->burst(), 20u);
  EXPECT_EQ(g->version(), 1u);
  EXPECT_EQ(table_->graylists(), 1u);
  EXPECT_EQ(table_->blocks(), 0u);
  // Bad input: a precise error, nothing changes.
  for (const char* range : {"192.0.2.0/24", "2001:db8::/64"}) {
    auto bad = table_->Graylist(P(range), 0, 5, 20, v1::ORIGIN_HONEYPOT, "honeypot", "hp-1", kNow);
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << range;
    EXPECT_NE(bad.status().message().find("one host"), std::string::npos) << bad.status();
  }
  EXPECT_EQ(table_->Graylist(P("192.0.2.6"), 0, 0, 20, v1::ORIGIN_HONEYPOT, "h", "hp-1", kNow)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(table_->Graylist(P("192.0.2.6"), 0, 5, 0, v1::ORIGIN_HONEYPOT, "h", "hp-1", kNow)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(table_->version(), 1u);
  EXPECT_EQ(table_->graylists(), 1u);
  // Set again: new expiry (shorter too) and bucket, a new version, the
  // creation time kept.
  auto again = table_->Graylist(P("192.0.2.5"), kNow + 10 * kSec, 2, 4, v1::ORIGIN_HONEYPOT,
                                "honeypot", "hp-2", kNow + 5 * kSec);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->version(), 2u);
  EXPECT_EQ(again->expires_unix_ns(), kNow + 10 * kSec);
  EXPECT_EQ(again->rate_per_s(), 2u);
  EXPECT_EQ(again->burst(), 4u);
  EXPECT_EQ(again->created_unix_ns(), kNow);
  EXPECT_EQ(table_->graylists(), 1u);
  // A block of the same host is held beside it.
  ASSERT_TRUE(
      table_
          ->Block(P("192.0.2.5"), kNow + 100 * kSec, v1::ORIGIN_HONEYPOT, "honeypot", "hp-1", kNow)
          .ok());
  EXPECT_EQ(table_->blocks(), 1u);
  EXPECT_EQ(table_->graylists(), 1u);
  auto [all, v] = table_->Snapshot();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1].action(), v1::ACTION_GRAYLIST);
  EXPECT_EQ(all[1].burst(), 4u);
  // ListDecisions' action filter.
  bool more = false;
  uint64_t version = 0;
  auto page = table_->Page(
      {"", 0}, 10,
      [](const IpPrefix&, const v1::Decision& d) { return d.action() == v1::ACTION_GRAYLIST; },
      &more, &version);
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].rate_per_s(), 2u);
  // It expires like a block.
  EXPECT_EQ(*table_->Expire(kNow + 10 * kSec), 1u);
  EXPECT_EQ(table_->graylists(), 0u);
  EXPECT_EQ(table_->blocks(), 1u);
  auto changes = table_->ChangesSince(3);
  ASSERT_TRUE(changes.has_value());
  ASSERT_EQ(changes->size(), 1u);
  EXPECT_EQ(changes->at(0).kind(), v1::DecisionChange::KIND_EXPIRE);
  EXPECT_EQ(changes->at(0).decision().action(), v1::ACTION_GRAYLIST);
}

TEST_F(DecisionTableTest, AnAllowRemovesTheGraylistsItCoversAndRefusesNewOnes) {
  ASSERT_TRUE(
      table_->Graylist(P("2001:db8::7"), 0, 5, 20, v1::ORIGIN_HONEYPOT, "honeypot", "hp-1", kNow)
          .ok());
  ASSERT_TRUE(
      table_->Graylist(P("198.51.100.7"), 0, 5, 20, v1::ORIGIN_HONEYPOT, "honeypot", "hp-1", kNow)
          .ok());
  ASSERT_TRUE(table_->Allow(P("2001:db8::/32"), "ours", "op", kNow).ok());
  EXPECT_EQ(table_->graylists(), 1u);
  auto changes = table_->ChangesSince(2);
  ASSERT_EQ(changes->size(), 2u);
  EXPECT_EQ(changes->at(0).kind(), v1::DecisionChange::KIND_REMOVE);
  EXPECT_EQ(changes->at(0).decision().prefix(), "2001:db8::7/128");
  auto refused =
      table_->Graylist(P("2001:db8::8"), 0, 5, 20, v1::ORIGIN_HONEYPOT, "honeypot", "hp-1", kNow);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(table_->version(), 4u);
}

TEST_F(DecisionTableTest, UnblockLiftsTheBlockAndTheGraylistOfAHost) {
  ASSERT_TRUE(
      table_->Graylist(P("192.0.2.5"), 0, 5, 20, v1::ORIGIN_HONEYPOT, "honeypot", "hp-1", kNow)
          .ok());
  // Only a graylist: Unblock lifts it (it has no call of its own).
  auto g = table_->Unblock(P("192.0.2.5"));
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->action(), v1::ACTION_GRAYLIST);
  EXPECT_EQ(table_->graylists(), 0u);
  ASSERT_TRUE(
      table_->Graylist(P("192.0.2.5"), 0, 5, 20, v1::ORIGIN_HONEYPOT, "honeypot", "hp-1", kNow)
          .ok());
  ASSERT_TRUE(table_->Block(P("192.0.2.5"), 0, v1::ORIGIN_HONEYPOT, "honeypot", "hp-1", kNow).ok());
  auto both = table_->Unblock(P("192.0.2.5"));
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(both->action(), v1::ACTION_BLOCK);
  EXPECT_EQ(table_->blocks() + table_->graylists(), 0u);
  EXPECT_EQ(table_->ChangesSince(4)->size(), 2u);  // one step each
  auto none = table_->Unblock(P("192.0.2.5"));
  EXPECT_EQ(none.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(none.status().message().find("no block or graylist"), std::string::npos);
}

TEST_F(DecisionTableTest, GraylistsSurviveARestartWithTheirBucket) {
  ASSERT_TRUE(table_
                  ->Graylist(P("192.0.2.5"), kNow + 60 * kSec, 7, 30, v1::ORIGIN_HONEYPOT,
                             "honeypot", "hp-1", kNow)
                  .ok());
  DecisionTable again(store_.get());
  ASSERT_TRUE(again.Load(kNow).ok());
  EXPECT_EQ(again.graylists(), 1u);
  EXPECT_EQ(again.blocks(), 0u);
  auto d = again.Find(P("192.0.2.5"), v1::ACTION_GRAYLIST);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->rate_per_s(), 7u);
  EXPECT_EQ(d->burst(), 30u);
  EXPECT_EQ(d->origin(), v1::ORIGIN_HONEYPOT);
  EXPECT_EQ(d->source(), "hp-1");
  EXPECT_FALSE(again.Find(P("192.0.2.5"), v1::ACTION_BLOCK).has_value());
  EXPECT_EQ(*again.Expire(kNow + 60 * kSec), 1u);
}

TEST(Covers, FamiliesAndLengths) {
  EXPECT_TRUE(Covers(P("10.0.0.0/8"), P("10.1.2.3")));
  EXPECT_TRUE(Covers(P("10.0.0.0/8"), P("10.0.0.0/8")));
  EXPECT_FALSE(Covers(P("10.1.0.0/16"), P("10.0.0.0/8")));
  EXPECT_FALSE(Covers(P("::/0"), P("10.0.0.1")));
  EXPECT_TRUE(Covers(P("2001:db8::/32"), P("2001:db8:1::/48")));
}

}  // namespace
}  // namespace sw::controller
