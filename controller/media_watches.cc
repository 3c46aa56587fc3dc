// SPDX-License-Identifier: BSD-2-Clause
#include "media_watches.h"

#include <algorithm>

namespace sw::controller {

namespace v1 = sipwarden::v1;

uint64_t MediaWatches::Add(v1::MediaWatch w) {
  std::lock_guard<std::mutex> lock(mu_);
  watches_.emplace_back(++seq_, std::move(w));
  while (watches_.size() > max_) watches_.pop_front();
  return seq_;
}

std::vector<v1::MediaWatch> MediaWatches::Since(uint64_t after, int64_t now, uint64_t* through) {
  std::lock_guard<std::mutex> lock(mu_);
  // Expired ones go (they are in seq order, not expiry order: check all).
  std::erase_if(watches_, [&](const auto& e) { return e.second.expires_unix_ns() <= now; });
  std::vector<v1::MediaWatch> out;
  for (const auto& [seq, w] : watches_) {
    if (seq > after) out.push_back(w);
  }
  *through = seq_;
  return out;
}

size_t MediaWatches::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return watches_.size();
}

uint64_t MediaWatches::added() const {
  std::lock_guard<std::mutex> lock(mu_);
  return seq_;
}

}  // namespace sw::controller
