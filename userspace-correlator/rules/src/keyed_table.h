// A bounded table of per-key state: a hash index over stable slots, LRU order
// for eviction, and a deadline per slot for the engine's timer heap. Keys are
// byte strings; looking one up does not allocate.
#pragma once

#include <cstdint>
#include <deque>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "sipwarden/absl_compat.h"

namespace sw::rules::internal {

inline constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
inline constexpr uint32_t kNoSlot = std::numeric_limits<uint32_t>::max();

template <typename V>
class KeyedTable {
 public:
  struct Entry {
    std::string key;
    uint32_t gen = 0;  // changes whenever the slot is freed: stale timers see it
    uint32_t prev = kNoSlot, next = kNoSlot;  // LRU links, most recent at head
    bool live = false;
    int64_t deadline = kNever;  // when the entry wants its timer
    int64_t timer_at = kNever;  // the earliest timer queued for it
    V value{};
  };

  explicit KeyedTable(size_t max = 1) : max_(max ? max : 1) {}

  uint32_t Find(std::string_view key) const {
    auto it = index_.find(AV(key));
    return it == index_.end() ? kNoSlot : it->second;
  }

  // Adds a key (which must be absent). When full, first evicts the least
  // recently used entry and sets *evicted.
  uint32_t Insert(std::string_view key, bool* evicted) {
    *evicted = false;
    if (index_.size() >= max_ && tail_ != kNoSlot) {
      Erase(tail_);
      *evicted = true;
    }
    uint32_t slot;
    if (!free_.empty()) {
      slot = free_.back();
      free_.pop_back();
    } else {
      slot = static_cast<uint32_t>(entries_.size());
      entries_.emplace_back();
    }
    Entry& e = entries_[slot];
    e.key.assign(key.data(), key.size());
    e.live = true;
    e.deadline = kNever;
    e.timer_at = kNever;
    e.value = V{};
    index_.emplace(AV(e.key), slot);
    LinkHead(slot);
    return slot;
  }

  void Erase(uint32_t slot) {
    Entry& e = entries_[slot];
    if (!e.live) return;
    index_.erase(AV(e.key));
    Unlink(slot);
    e.live = false;
    ++e.gen;
    e.value = V{};
    e.deadline = kNever;
    e.timer_at = kNever;
    free_.push_back(slot);
  }

  void Touch(uint32_t slot) {
    if (head_ == slot) return;
    Unlink(slot);
    LinkHead(slot);
  }

  Entry& at(uint32_t slot) { return entries_[slot]; }
  const Entry& at(uint32_t slot) const { return entries_[slot]; }
  bool Valid(uint32_t slot, uint32_t gen) const {
    return slot < entries_.size() && entries_[slot].live && entries_[slot].gen == gen;
  }
  size_t size() const { return index_.size(); }
  size_t max() const { return max_; }
  uint32_t capacity_slots() const { return static_cast<uint32_t>(entries_.size()); }

  template <typename F>
  void ForEachSlot(F f) {
    for (uint32_t s = 0; s < entries_.size(); ++s) {
      if (entries_[s].live) f(s, entries_[s]);
    }
  }

 private:
  void LinkHead(uint32_t slot) {
    Entry& e = entries_[slot];
    e.prev = kNoSlot;
    e.next = head_;
    if (head_ != kNoSlot) entries_[head_].prev = slot;
    head_ = slot;
    if (tail_ == kNoSlot) tail_ = slot;
  }
  void Unlink(uint32_t slot) {
    Entry& e = entries_[slot];
    if (e.prev != kNoSlot) {
      entries_[e.prev].next = e.next;
    } else {
      head_ = e.next;
    }
    if (e.next != kNoSlot) {
      entries_[e.next].prev = e.prev;
    } else {
      tail_ = e.prev;
    }
    e.prev = e.next = kNoSlot;
  }

  size_t max_;
  std::deque<Entry> entries_;  // a deque: entries (and their SSO key bytes) never move
  std::vector<uint32_t> free_;
  absl::flat_hash_map<absl::string_view, uint32_t> index_;
  uint32_t head_ = kNoSlot, tail_ = kNoSlot;
};

}  // namespace sw::rules::internal
