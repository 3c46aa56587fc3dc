// SPDX-License-Identifier: BSD-2-Clause
// A bounded table of per-key state: a hash index over stable slots, LRU order
// for eviction, and a deadline per slot for the engine's timers. Keys are
// byte strings; looking one up does not allocate. V has Reset(): freed slots
// are reset (keeping what capacity V wants to keep) and reused.
//
// An entry holds its key's bytes (up to kInlineKey: a Call-ID with a CSeq or
// an address), so that a lookup compares bytes of the entry it then uses; a
// std::string key was a heap block of its own from 16 bytes on, a cache miss
// more per lookup in a large table.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "sipwarden/absl_compat.h"

namespace sw::rules::internal {

inline constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
inline constexpr uint32_t kNoSlot = std::numeric_limits<uint32_t>::max();

template <typename V>
class KeyedTable {
 public:
  static constexpr uint32_t kInlineKey = 40;
  struct Entry {
    std::string_view key() const {
      return std::string_view(key_size <= kInlineKey ? inline_key.data() : long_key.get(),
                              key_size);
    }
    size_t hash = 0;   // of key, kept for Erase
    uint32_t gen = 0;  // changes whenever the slot is freed: stale timers see it
    uint32_t prev = kNoSlot, next = kNoSlot;  // LRU links, most recent at head
    bool live = false;
    int64_t deadline = kNever;  // when the entry wants its timer
    int64_t timer_at = kNever;  // the earliest timer queued for it
    uint32_t key_size = 0;
    uint32_t long_capacity = 0;
    std::array<char, kInlineKey> inline_key;
    std::unique_ptr<char[]> long_key;  // keys longer than kInlineKey (kept for reuse)
    V value{};
  };

  explicit KeyedTable(size_t max = 1) : max_(max ? max : 1) {}

  // The index's hash of a key: callers that look one key up in several
  // tables hash it once.
  static size_t Hash(std::string_view key) { return absl::Hash<absl::string_view>{}(AV(key)); }

  uint32_t Find(std::string_view key) const { return Find(key, Hash(key)); }
  uint32_t Find(std::string_view key, size_t hash) const {
    auto it = index_.find(KeyRef{AV(key), hash});
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
    const uint32_t slot = Allocate(key, Hash(key));
    index_.emplace(KeyRef{AV(entries_[slot].key()), entries_[slot].hash}, slot);
    LinkHead(slot);
    return slot;
  }

  // Find, or Insert when absent (*inserted). hash is Hash(key).
  uint32_t FindOrInsert(std::string_view key, size_t hash, bool* inserted, bool* evicted) {
    *evicted = false;
    if (index_.size() >= max_) {  // may evict: the two-step way
      const uint32_t found = Find(key, hash);
      *inserted = found == kNoSlot;
      return found != kNoSlot ? found : Insert(key, evicted);
    }
    uint32_t slot = kNoSlot;
    auto it = index_.lazy_emplace(KeyRef{AV(key), hash}, [&](const auto& ctor) {
      slot = Allocate(key, hash);
      ctor(KeyRef{AV(entries_[slot].key()), hash}, slot);
    });
    *inserted = slot != kNoSlot;
    if (!*inserted) return it->second;
    LinkHead(slot);
    return slot;
  }

  void Erase(uint32_t slot) {
    Entry& e = entries_[slot];
    if (!e.live) return;
    index_.erase(index_.find(KeyRef{AV(e.key()), e.hash}));
    Unlink(slot);
    e.live = false;
    ++e.gen;
    e.value.Reset();
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
  uint32_t capacity_slots() const { return entries_.size(); }

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

  // A fresh slot holding key, not yet indexed or linked.
  uint32_t Allocate(std::string_view key, size_t hash) {
    uint32_t slot;
    if (!free_.empty()) {
      slot = free_.back();
      free_.pop_back();
    } else {
      slot = entries_.size();
      entries_.emplace_back();
    }
    Entry& e = entries_[slot];
    e.key_size = static_cast<uint32_t>(key.size());
    char* bytes = e.inline_key.data();
    if (e.key_size > kInlineKey) {
      if (e.key_size > e.long_capacity) {
        e.long_key = std::make_unique_for_overwrite<char[]>(e.key_size);
        e.long_capacity = e.key_size;
      }
      bytes = e.long_key.get();
    }
    std::memcpy(bytes, key.data(), key.size());
    e.hash = hash;
    e.live = true;
    e.deadline = kNever;
    e.timer_at = kNever;
    e.value.Reset();
    return slot;
  }

  // The index holds each key's hash beside it: callers hash a key once (see
  // Hash) and the index neither hashes it again nor, when it grows, rehashes
  // the keys' bytes.
  struct KeyRef {
    absl::string_view bytes;
    size_t hash;
  };
  struct KeyRefHash {
    size_t operator()(const KeyRef& k) const { return k.hash; }
  };
  struct KeyRefEq {
    bool operator()(const KeyRef& a, const KeyRef& b) const {
      return a.hash == b.hash && a.bytes == b.bytes;
    }
  };

  size_t max_;
  // Entries in chunks that never move (the index points at their key bytes).
  // A std::deque did that with 512-byte blocks: two entries a block, so a
  // malloc for every other new slot and a division on every access.
  class Slots {
   public:
    Entry& operator[](uint32_t s) { return chunks_[s >> kChunkBits][s & (kChunk - 1)]; }
    const Entry& operator[](uint32_t s) const { return chunks_[s >> kChunkBits][s & (kChunk - 1)]; }
    uint32_t size() const { return size_; }
    // A fresh entry at the end (value-initialized, as chunks are).
    void emplace_back() {
      if ((size_ & (kChunk - 1)) == 0) chunks_.push_back(std::make_unique<Entry[]>(kChunk));
      ++size_;
    }

   private:
    static constexpr uint32_t kChunkBits = 4;
    static constexpr uint32_t kChunk = 1u << kChunkBits;
    std::vector<std::unique_ptr<Entry[]>> chunks_;
    uint32_t size_ = 0;
  };
  Slots entries_;
  std::vector<uint32_t> free_;
  absl::flat_hash_map<KeyRef, uint32_t, KeyRefHash, KeyRefEq> index_;
  uint32_t head_ = kNoSlot, tail_ = kNoSlot;
};

}  // namespace sw::rules::internal
