// SPDX-License-Identifier: BSD-2-Clause
#include "sipwarden/events/dedup.h"

#include "absl/hash/hash.h"

namespace sw::ev {

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
  // Abseil's hash reads the message a word at a time (a byte-wise FNV over
  // every message was an eighth of the agent's CPU under load); its seed
  // changes per process, which a window of seconds does not mind.
  const uint64_t h = absl::HashOf(
      std::string_view(reinterpret_cast<const char*>(flow.src.bytes.data()), 16),
      std::string_view(reinterpret_cast<const char*>(flow.dst.bytes.data()), 16), flow.sport,
      flow.dport, bytes);
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
