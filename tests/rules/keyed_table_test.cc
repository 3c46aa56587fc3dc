// SPDX-License-Identifier: BSD-2-Clause
// The engine's table of per-key state (rules/src/keyed_table.h) against a
// plain model: a map from key to value and a list in LRU order. Random runs
// of finds, inserts, erases, touches and evictions, with hashes the test
// chooses so that keys share probe starts and tags (long clusters, erasing
// from their middle, growing while clustered).
#include "keyed_table.h"

#include <cstdint>
#include <list>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace sw::rules::internal {
namespace {

struct Val {
  uint64_t n = 0;
  void Reset() { n = 0; }
};

using Table = KeyedTable<Val>;

// Key i's text: short keys and keys past the inline size.
std::string KeyText(uint32_t i) {
  std::string k = "k" + std::to_string(i);
  if (i % 3 == 0) k += std::string(50, 'x');
  return k;
}

class Model {
 public:
  explicit Model(size_t max) : max_(max) {}
  bool Has(uint32_t k) const { return where_.count(k) != 0; }
  // Returns the key evicted, or -1.
  int64_t Insert(uint32_t k) {
    int64_t evicted = -1;
    if (where_.size() >= max_) {
      evicted = lru_.back();
      where_.erase(lru_.back());
      lru_.pop_back();
    }
    lru_.push_front(k);
    where_[k] = lru_.begin();
    return evicted;
  }
  void Erase(uint32_t k) {
    lru_.erase(where_[k]);
    where_.erase(k);
  }
  void Touch(uint32_t k) { lru_.splice(lru_.begin(), lru_, where_[k]); }
  size_t size() const { return where_.size(); }

 private:
  size_t max_;
  std::list<uint32_t> lru_;  // most recent first
  std::map<uint32_t, std::list<uint32_t>::iterator> where_;
};

// Runs `steps` random operations on keys [0, keys) with hash(k) and checks
// every answer against the model.
void RunAgainstModel(size_t max, uint32_t keys, uint64_t (*hash)(uint32_t), int steps,
                     uint32_t seed) {
  Table t(max);
  Model m(max);
  std::map<uint32_t, uint32_t> slot_of;  // key -> slot, for keys present
  std::map<uint32_t, uint64_t> value_of;
  std::mt19937 rng(seed);
  for (int step = 0; step < steps; ++step) {
    const uint32_t k = rng() % keys;
    const std::string text = KeyText(k);
    const uint64_t h = hash(k);
    const uint32_t op = rng() % 10;
    SCOPED_TRACE("step " + std::to_string(step) + " key " + std::to_string(k));
    const uint32_t found = t.Find(text, h);
    ASSERT_EQ(found != kNoSlot, m.Has(k));
    if (found != kNoSlot) {
      ASSERT_EQ(found, slot_of[k]);
      ASSERT_EQ(t.at(found).key(), text);
      ASSERT_EQ(t.at(found).value.n, value_of[k]);
    }
    if (op < 5) {  // find or insert
      bool inserted, evicted;
      const uint32_t s = t.FindOrInsert(text, h, &inserted, &evicted);
      ASSERT_EQ(inserted, found == kNoSlot);
      if (inserted) {
        const int64_t gone = m.Insert(k);
        ASSERT_EQ(evicted, gone >= 0);
        if (gone >= 0) {
          ASSERT_EQ(t.Find(KeyText(static_cast<uint32_t>(gone)), hash(static_cast<uint32_t>(gone))),
                    kNoSlot);
          slot_of.erase(static_cast<uint32_t>(gone));
          value_of.erase(static_cast<uint32_t>(gone));
        }
        slot_of[k] = s;
        value_of[k] = step;
        ASSERT_EQ(t.at(s).value.n, 0u);  // a reused slot comes reset
        t.at(s).value.n = step;
      } else {
        ASSERT_FALSE(evicted);
        ASSERT_EQ(s, found);
      }
    } else if (op < 8) {  // erase
      if (found == kNoSlot) continue;
      const uint32_t gen = t.at(found).gen;
      t.Erase(found);
      ASSERT_FALSE(t.Valid(found, gen));
      m.Erase(k);
      slot_of.erase(k);
      value_of.erase(k);
    } else {  // touch
      if (found == kNoSlot) continue;
      t.Touch(found);
      m.Touch(k);
    }
    ASSERT_EQ(t.size(), m.size());
  }
  // Every key still present is found, every other is not.
  for (uint32_t k = 0; k < keys; ++k) {
    const uint32_t s = t.Find(KeyText(k), hash(k));
    ASSERT_EQ(s != kNoSlot, m.Has(k)) << "key " << k;
  }
}

// A slot's generation (what timers and alarm handles hold): a handle to an
// erased slot stays invalid when the slot is taken again, however
// often it is reused; evictions count as erasing; ForEachSlot sees live
// slots only.
TEST(KeyedTable, GenerationsOutliveReusedSlots) {
  Table t(2);
  bool evicted = false;
  const uint32_t a = t.Insert("a", &evicted);
  const uint32_t gen_a = t.at(a).gen;
  EXPECT_TRUE(t.at(a).live);
  EXPECT_TRUE(t.Valid(a, gen_a));
  std::vector<std::pair<uint32_t, uint32_t>> stale;  // (slot, gen) of erased keys
  for (int i = 0; i < 1000; ++i) {
    const uint32_t s = t.Find("a");
    ASSERT_NE(s, kNoSlot);
    stale.emplace_back(s, t.at(s).gen);
    t.Erase(s);
    EXPECT_FALSE(t.at(s).live);
    t.Erase(s);  // erasing a free slot changes nothing
    const uint32_t again = t.Insert("a", &evicted);
    EXPECT_EQ(again, s);  // the freed slot is reused ...
    EXPECT_TRUE(t.Valid(again, t.at(again).gen));
  }
  for (const auto& [slot, gen] : stale) EXPECT_FALSE(t.Valid(slot, gen));  // ... never its handles
  EXPECT_FALSE(t.Valid(99, 0));                                            // past the slots
  const uint32_t b = t.Insert("b", &evicted);
  const uint32_t gen_b = t.at(b).gen;
  t.Insert("c", &evicted);  // full: "a", the least recently used, goes
  EXPECT_TRUE(evicted);
  EXPECT_EQ(t.Find("a"), kNoSlot);
  EXPECT_TRUE(t.Valid(b, gen_b));
  size_t live = 0;
  t.ForEachSlot([&](uint32_t s, auto&) {
    EXPECT_TRUE(t.at(s).live);
    ++live;
  });
  EXPECT_EQ(live, 2u);
}

uint64_t RealHash(uint32_t k) { return Table::Hash(KeyText(k)); }
// Seven probe starts for every key: long runs that wrap around the index.
uint64_t SevenHomes(uint32_t k) { return k % 7; }
// Distinct tags (no false match), few probe starts in a small index.
uint64_t SameLowBits(uint32_t k) { return static_cast<uint64_t>(k) << 40; }
// One hash for all: every lookup walks the whole run and compares keys.
uint64_t OneHash(uint32_t) { return 42; }

TEST(KeyedTable, MatchesModelWithRealHashes) { RunAgainstModel(1000, 3000, RealHash, 60000, 1); }

TEST(KeyedTable, MatchesModelWhenProbeRunsCluster) {
  RunAgainstModel(200, 600, SevenHomes, 30000, 2);
  RunAgainstModel(5000, 6000, SameLowBits, 60000, 3);
  RunAgainstModel(64, 150, OneHash, 10000, 4);
}

TEST(KeyedTable, EvictsLeastRecentlyUsedWhenFull) {
  Table t(3);
  bool inserted, evicted;
  for (const char* k : {"a", "b", "c"}) {
    t.FindOrInsert(k, Table::Hash(k), &inserted, &evicted);
    EXPECT_TRUE(inserted);
    EXPECT_FALSE(evicted);
  }
  t.Touch(t.Find("a"));  // b is now the least recently used
  t.FindOrInsert("d", Table::Hash("d"), &inserted, &evicted);
  EXPECT_TRUE(evicted);
  EXPECT_EQ(t.Find("b"), kNoSlot);
  EXPECT_NE(t.Find("a"), kNoSlot);
  EXPECT_NE(t.Find("c"), kNoSlot);
  EXPECT_EQ(t.size(), 3u);
}

TEST(KeyedTable, GrowsPastManyKeysAndEmptiesAgain) {
  Table t(200000);
  bool inserted, evicted;
  for (uint32_t i = 0; i < 200000; ++i) {
    const std::string k = KeyText(i);
    t.FindOrInsert(k, Table::Hash(k), &inserted, &evicted);
    ASSERT_TRUE(inserted);
  }
  EXPECT_EQ(t.size(), 200000u);
  for (uint32_t i = 0; i < 200000; i += 2) t.Erase(t.Find(KeyText(i)));
  EXPECT_EQ(t.size(), 100000u);
  for (uint32_t i = 0; i < 200000; ++i) {
    ASSERT_EQ(t.Find(KeyText(i)) != kNoSlot, i % 2 == 1) << i;
  }
  for (uint32_t i = 1; i < 200000; i += 2) t.Erase(t.Find(KeyText(i)));
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.Find(KeyText(7)), kNoSlot);
}

}  // namespace
}  // namespace sw::rules::internal
