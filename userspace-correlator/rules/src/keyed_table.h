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
    size_t hash = 0;   // of key: compared before the key, and erasing needs it
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
    return index_.Find(SlotIndex::Tag(hash), [&](uint32_t s) {
      const Entry& e = entries_[s];
      return e.hash == hash && e.key() == key;
    });
  }

  // Adds a key (which must be absent). When full, first evicts the least
  // recently used entry and sets *evicted.
  uint32_t Insert(std::string_view key, bool* evicted) { return Insert(key, Hash(key), evicted); }
  uint32_t Insert(std::string_view key, size_t hash, bool* evicted) {
    *evicted = false;
    if (index_.size() >= max_ && tail_ != kNoSlot) {
      Erase(tail_);
      *evicted = true;
    }
    const uint32_t slot = Allocate(key, hash);
    index_.Insert(SlotIndex::Tag(hash), slot);
    LinkHead(slot);
    return slot;
  }

  // Find, or Insert when absent (*inserted). hash is Hash(key).
  uint32_t FindOrInsert(std::string_view key, size_t hash, bool* inserted, bool* evicted) {
    const uint32_t found = Find(key, hash);
    *inserted = found == kNoSlot;
    if (found != kNoSlot) {
      *evicted = false;
      return found;
    }
    return Insert(key, hash, evicted);
  }

  void Erase(uint32_t slot) {
    Entry& e = entries_[slot];
    if (!e.live) return;
    index_.Erase(SlotIndex::Tag(e.hash), slot);
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

  // The index: open addressing with linear probing over 8-byte buckets, a
  // slot number and 32 bits of the key's hash (its tag, which also gives the
  // bucket the probe starts at), at most 3/4 full. A lookup reads one bucket
  // line, then the entry it names (whose key it compares); erasing a slot
  // needs no key at all, and growing reads no entry. An absl::flat_hash_map
  // of (key view, hash) -> slot spent a control-byte line and a slot line
  // per lookup, both cold in a large table, and 32 bytes a slot.
  class SlotIndex {
   public:
    static uint32_t Tag(size_t hash) {
      return static_cast<uint32_t>(hash ^ (static_cast<uint64_t>(hash) >> 32));
    }
    size_t size() const { return n_; }
    // The first slot with this tag for which eq(slot) holds, or kNoSlot.
    template <typename Eq>
    uint32_t Find(uint32_t tag, Eq eq) const {
      if (n_ == 0) return kNoSlot;
      for (size_t i = tag & mask_;; i = (i + 1) & mask_) {
        const Bucket& b = b_[i];
        if (b.slot == kNoSlot) return kNoSlot;
        if (b.tag == tag && eq(b.slot)) return b.slot;
      }
    }
    void Insert(uint32_t tag, uint32_t slot) {
      if ((n_ + 1) * 4 > b_.size() * 3) Grow();
      Place(tag, slot);
      ++n_;
    }
    // Removes slot's bucket (it is present, under this tag). The buckets
    // after it in its probe run move back over the gap when their own probe
    // start allows it, so no tombstone is left.
    void Erase(uint32_t tag, uint32_t slot) {
      size_t i = tag & mask_;
      while (b_[i].slot != slot) i = (i + 1) & mask_;
      for (size_t j = (i + 1) & mask_; b_[j].slot != kNoSlot; j = (j + 1) & mask_) {
        const size_t home = b_[j].tag & mask_;
        // b_[j] stays unless its probe starts outside (i, j], cyclically.
        if (((j - home) & mask_) >= ((j - i) & mask_)) {
          b_[i] = b_[j];
          i = j;
        }
      }
      b_[i].slot = kNoSlot;
      --n_;
    }

   private:
    struct Bucket {
      uint32_t slot = kNoSlot;
      uint32_t tag = 0;
    };
    void Place(uint32_t tag, uint32_t slot) {
      size_t i = tag & mask_;
      while (b_[i].slot != kNoSlot) i = (i + 1) & mask_;
      b_[i] = Bucket{slot, tag};
    }
    void Grow() {
      std::vector<Bucket> old = std::move(b_);
      b_.assign(old.empty() ? 16 : old.size() * 2, Bucket{});
      mask_ = b_.size() - 1;
      for (const Bucket& b : old) {
        if (b.slot != kNoSlot) Place(b.tag, b.slot);
      }
    }
    std::vector<Bucket> b_;
    size_t mask_ = 0;
    size_t n_ = 0;
  };

  size_t max_;
  // Entries in chunks that never move (growing copies no key or value).
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
  SlotIndex index_;
  uint32_t head_ = kNoSlot, tail_ = kNoSlot;
};

}  // namespace sw::rules::internal
