// SPDX-License-Identifier: BSD-2-Clause
#include "sipwarden/events/dedup.h"

namespace sw::ev {
namespace {

uint64_t Fnv(uint64_t h, const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
  return h;
}

}  // namespace

void Deduper::Expire(int64_t now) {
  while (!order_.empty() && (now - order_.front().ts > window_ns_ || order_.size() > max_entries_)) {
    const Entry e = order_.front();
    order_.pop_front();
    auto it = by_hash_.find(e.hash);
    // Only the newest record of a hash owns the map entry.
    if (it != by_hash_.end() && it->second.ts == e.ts) {
      if (now - e.ts <= window_ns_) ++evicted_;
      by_hash_.erase(it);
    }
  }
}

bool Deduper::Seen(const Flow& flow, std::string_view bytes) {
  // Transport is left out: the kernel says udp/tcp, a mirror says hep.
  uint64_t h = 1469598103934665603ull;
  h = Fnv(h, flow.src.bytes.data(), 16);
  h = Fnv(h, flow.dst.bytes.data(), 16);
  h = Fnv(h, &flow.sport, sizeof(flow.sport));
  h = Fnv(h, &flow.dport, sizeof(flow.dport));
  h = Fnv(h, bytes.data(), bytes.size());
  Expire(flow.ts_ns);
  const bool mirror = flow.transport == Transport::kHep;
  auto it = by_hash_.find(h);
  if (it != by_hash_.end() && it->second.mirror != mirror &&
      flow.ts_ns - it->second.ts <= window_ns_ && it->second.ts - flow.ts_ns <= window_ns_) {
    ++duplicates_;
    return true;
  }
  by_hash_[h] = Last{flow.ts_ns, mirror};
  order_.push_back({h, flow.ts_ns});
  return false;
}

}  // namespace sw::ev
