// SPDX-License-Identifier: BSD-2-Clause
// Drops the second copy of a message seen twice: once by the kernel on the
// wire and once mirrored by the proxy over HEP (or retransmitted identically
// within a moment by the same source: callers that want retransmissions
// counted should key them before deduplication). Bounded, event time only.
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

  // True when the same bytes between the same endpoints were seen within the
  // window before ts (the caller should drop this copy); false the first time.
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
  std::unordered_map<uint64_t, int64_t> by_hash_;  // hash -> last time seen
  std::deque<Entry> order_;                        // oldest first
  uint64_t duplicates_ = 0;
  uint64_t evicted_ = 0;
};

}  // namespace sw::ev
