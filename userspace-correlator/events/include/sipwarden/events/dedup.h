// SPDX-License-Identifier: BSD-2-Clause
// Drops the second copy of a message seen by both feeds: once by the kernel on
// the wire and once mirrored by the proxy over HEP (transport hep). Identical
// packets from one feed are separate messages and are all kept: a flood of
// identical requests must count as a flood, and a retransmission is a packet
// the proxy handles again. Bounded, event time only.
#pragma once

#include <cstdint>
#include <deque>
#include <string_view>
#include <unordered_map>

#include "sipwarden/events/event.h"

namespace sw::ev {

class Deduper {
 public:
  explicit Deduper(int64_t window_ns = 2'000'000'000, size_t max_entries = 1 << 18)
      : window_ns_(window_ns), max_entries_(max_entries) {}

  // True when the same bytes between the same endpoints came from the other
  // feed within the window around ts (the caller should drop this copy).
  bool Seen(const Flow& flow, std::string_view bytes);

  uint64_t duplicates() const { return duplicates_; }
  uint64_t evicted() const { return evicted_; }
  size_t size() const { return by_hash_.size(); }

 private:
  struct Entry {
    uint64_t hash;
    int64_t ts;
  };
  void Expire(int64_t now);

  int64_t window_ns_;
  size_t max_entries_;
  struct Last {
    int64_t ts;   // when last seen
    bool mirror;  // from the HEP feed
  };
  std::unordered_map<uint64_t, Last> by_hash_;  // hash -> last sighting
  std::deque<Entry> order_;                        // oldest first
  uint64_t duplicates_ = 0;
  uint64_t evicted_ = 0;
};

}  // namespace sw::ev
