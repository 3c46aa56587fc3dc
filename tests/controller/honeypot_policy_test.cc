// SPDX-License-Identifier: BSD-2-Clause
// The honeypot policy over a real decision table and store: what a source's
// hits on deflectors turn into, hit by hit.
#include "honeypot_policy.h"

#include <gtest/gtest.h>

#include "sqlite_store.h"
#include "test_util.h"

namespace sw::controller {
namespace {

namespace v1 = sipwarden::v1;
using O = HoneypotPolicy::Outcome;
constexpr int64_t kNow = 1'700'000'000'000'000'000;
constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kHour = 3600 * kSec;

IpPrefix P(const char* text) { return *ParseDecisionPrefix(text); }

v1::HoneypotHit Arrival(const std::string& src, const std::string& callee,
                        const std::string& call_id, int64_t ts) {
  static uint64_t id = 0;
  v1::HoneypotHit h;
  h.set_id(++id);
  h.set_stage(v1::HoneypotHit::STAGE_ARRIVED);
  h.set_method("INVITE");
  h.set_src_ip(src);
  h.set_callee(callee);
  h.set_call_id(call_id);
  h.set_ts_unix_ns(ts);
  return h;
}

class HoneypotPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override { Make({}); }
  void Make(HoneypotPolicyOptions o) {
    policy_.reset();
    table_.reset();
    store_.reset();
    auto s = SqliteStore::Open(dir_.File(std::to_string(++db_) + ".db"));
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    table_ = std::make_unique<DecisionTable>(store_.get());
    ASSERT_TRUE(table_->Load(kNow).ok());
    policy_ = std::make_unique<HoneypotPolicy>(table_.get(), o);
  }
  O See(const v1::HoneypotHit& h, const std::string& honeypot = "hp-1", int64_t now = kNow) {
    last_ = policy_->Observe(honeypot, h, now);
    return last_.outcome;
  }
  TempDir dir_;
  int db_ = 0;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<DecisionTable> table_;
  std::unique_ptr<HoneypotPolicy> policy_;
  HoneypotPolicy::Result last_;
};

TEST_F(HoneypotPolicyTest, AFirstHitGraylistsRetransmissionsCountOnceASecondCallBlocks) {
  EXPECT_EQ(See(Arrival("203.0.113.5", "900", "a", kNow - 10 * kSec)), O::kGraylisted);
  const v1::Decision g = last_.decision;
  EXPECT_EQ(g.prefix(), "203.0.113.5/32");
  EXPECT_EQ(g.action(), v1::ACTION_GRAYLIST);
  EXPECT_EQ(g.origin(), v1::ORIGIN_HONEYPOT);
  EXPECT_EQ(g.reason(), "honeypot");
  EXPECT_EQ(g.source(), "hp-1");
  EXPECT_EQ(g.rate_per_s(), 5u);
  EXPECT_EQ(g.burst(), 20u);
  EXPECT_EQ(g.expires_unix_ns(), kNow + kHour);  // from when it is decided
  // The same call again (a retransmission, a redial of the one INVITE):
  // nothing new, nothing decided, the graylist not extended.
  EXPECT_EQ(See(Arrival("203.0.113.5", "900", "a", kNow - 5 * kSec)), O::kNothingNew);
  EXPECT_EQ(table_->version(), 1u);
  // A separate call to the same deflector counts.
  EXPECT_EQ(See(Arrival("203.0.113.5", "900", "b", kNow)), O::kBlocked);
  EXPECT_EQ(last_.decision.action(), v1::ACTION_BLOCK);
  EXPECT_EQ(last_.decision.origin(), v1::ORIGIN_HONEYPOT);
  EXPECT_EQ(last_.decision.reason(), "honeypot");
  EXPECT_EQ(last_.decision.expires_unix_ns(), kNow + 24 * kHour);
  // Blocked: further calls change nothing (the block is not extended).
  const uint64_t v = table_->version();
  EXPECT_EQ(See(Arrival("203.0.113.5", "901", "c", kNow + kSec), "hp-1", kNow + kSec),
            O::kNothingNew);
  EXPECT_EQ(See(Arrival("203.0.113.5", "901", "c", kNow + kSec), "hp-2", kNow + kSec),
            O::kNothingNew);
  EXPECT_EQ(table_->version(), v);
}

TEST_F(HoneypotPolicyTest, ArrivalsAtTwoHoneypotsBlock) {
  EXPECT_EQ(See(Arrival("2001:db8::66", "900", "a", kNow), "hp-1"), O::kGraylisted);
  EXPECT_EQ(last_.decision.prefix(), "2001:db8::66/128");
  // The same call (Call-ID and callee) reaching a second honeypot.
  EXPECT_EQ(See(Arrival("2001:db8::66", "900", "a", kNow), "hp-2"), O::kBlocked);
  EXPECT_EQ(last_.decision.prefix(), "2001:db8::66/128");
  EXPECT_EQ(last_.decision.source(), "hp-2");
}

TEST_F(HoneypotPolicyTest, AnAllowlistedSourceIsNeverActedOn) {
  ASSERT_TRUE(table_->Allow(P("198.51.100.0/24"), "partner", "op", kNow).ok());
  for (const char* call : {"a", "b", "c"}) {
    EXPECT_EQ(See(Arrival("198.51.100.7", "900", call, kNow)), O::kSpared) << call;
  }
  EXPECT_EQ(table_->blocks() + table_->graylists(), 0u);
  EXPECT_EQ(policy_->sources(), 0u);
}

TEST_F(HoneypotPolicyTest, OnlyArrivalsWithinTheWindowCount) {
  auto ended = Arrival("203.0.113.5", "900", "a", kNow);
  ended.set_stage(v1::HoneypotHit::STAGE_ENDED);
  EXPECT_EQ(See(ended), O::kIgnored);
  // A call a proxy deflected to the honeypot: its caller called a real user.
  auto deflected = Arrival("203.0.113.5", "alice", "d", kNow);
  deflected.set_deflected(true);
  EXPECT_EQ(See(deflected), O::kIgnored);
  // Older than the window (a backlog resent after a long outage).
  EXPECT_EQ(See(Arrival("203.0.113.5", "900", "old", kNow - kHour - kSec)), O::kStale);
  EXPECT_EQ(table_->version(), 0u);
  // Two calls further apart than the window: each is a first.
  EXPECT_EQ(See(Arrival("203.0.113.5", "900", "a", kNow)), O::kGraylisted);
  const int64_t later = kNow + kHour + kSec;
  EXPECT_EQ(See(Arrival("203.0.113.5", "901", "b", later), "hp-1", later), O::kGraylisted);
  EXPECT_EQ(table_->blocks(), 0u);
  // A hit stamped in the future counts as now.
  EXPECT_EQ(See(Arrival("192.0.2.9", "900", "f", later + 10 * kHour), "hp-1", later),
            O::kGraylisted);
}

TEST_F(HoneypotPolicyTest, TheThresholdAndTheDecisionsFollowTheOptions) {
  HoneypotPolicyOptions o;
  o.block_hits = 3;
  o.graylist_rate = 2;
  o.graylist_burst = 3;
  o.graylist_ttl_ns = 10 * kSec;
  o.block_ttl_ns = kHour;
  Make(o);
  EXPECT_EQ(See(Arrival("203.0.113.5", "900", "a", kNow)), O::kGraylisted);
  EXPECT_EQ(last_.decision.rate_per_s(), 2u);
  EXPECT_EQ(last_.decision.burst(), 3u);
  EXPECT_EQ(last_.decision.expires_unix_ns(), kNow + 10 * kSec);
  EXPECT_EQ(See(Arrival("203.0.113.5", "901", "b", kNow)), O::kNothingNew);
  EXPECT_EQ(See(Arrival("203.0.113.5", "902", "c", kNow)), O::kBlocked);
  EXPECT_EQ(last_.decision.expires_unix_ns(), kNow + kHour);
  // 1: the first call blocks, without a graylist.
  o.block_hits = 1;
  Make(o);
  EXPECT_EQ(See(Arrival("203.0.113.6", "900", "a", kNow)), O::kBlocked);
  EXPECT_EQ(table_->graylists(), 0u);
  // Off: nothing is decided.
  o.enabled = false;
  Make(o);
  EXPECT_EQ(See(Arrival("203.0.113.7", "900", "a", kNow)), O::kIgnored);
  EXPECT_EQ(table_->version(), 0u);
}

TEST_F(HoneypotPolicyTest, AnOperatorsUnblockStandsUntilTheSourceCallsAgain) {
  EXPECT_EQ(See(Arrival("203.0.113.5", "900", "a", kNow)), O::kGraylisted);
  EXPECT_EQ(See(Arrival("203.0.113.5", "901", "b", kNow)), O::kBlocked);
  ASSERT_TRUE(table_->Unblock(P("203.0.113.5")).ok());
  // A retransmission of a call already counted is no new evidence.
  EXPECT_EQ(See(Arrival("203.0.113.5", "901", "b", kNow)), O::kNothingNew);
  EXPECT_EQ(table_->blocks(), 0u);
  EXPECT_EQ(See(Arrival("203.0.113.5", "902", "c", kNow)), O::kBlocked);
}

TEST_F(HoneypotPolicyTest, StateIsBoundedAndRebuiltFromStoredArrivals) {
  HoneypotPolicyOptions o;
  o.max_sources = 2;
  Make(o);
  EXPECT_EQ(See(Arrival("192.0.2.1", "900", "a", kNow)), O::kGraylisted);
  EXPECT_EQ(See(Arrival("192.0.2.2", "900", "a", kNow)), O::kGraylisted);
  EXPECT_EQ(See(Arrival("192.0.2.3", "900", "a", kNow)), O::kGraylisted);
  EXPECT_EQ(policy_->sources(), 2u);
  // 192.0.2.1, the least recently seen, was forgotten: a first again.
  EXPECT_EQ(See(Arrival("192.0.2.1", "901", "b", kNow)), O::kGraylisted);
  EXPECT_EQ(See(Arrival("192.0.2.3", "901", "b", kNow)), O::kBlocked);
  // A restarted controller replays the window's arrivals: a source's
  // second call after the restart blocks it.
  HoneypotPolicy again(table_.get(), {});
  again.Replay("hp-1", Arrival("192.0.2.50", "900", "a", kNow - 30 * kSec), kNow);
  again.Replay("hp-1", Arrival("192.0.2.51", "900", "a", kNow - 2 * kHour), kNow);  // too old
  EXPECT_FALSE(
      table_->Find(P("192.0.2.50"), v1::ACTION_GRAYLIST).has_value());  // replay decides nothing
  EXPECT_EQ(again.Observe("hp-1", Arrival("192.0.2.50", "901", "b", kNow), kNow).outcome,
            O::kBlocked);
  EXPECT_EQ(again.Observe("hp-1", Arrival("192.0.2.51", "901", "b", kNow), kNow).outcome,
            O::kGraylisted);
}

}  // namespace
}  // namespace sw::controller
