// SPDX-License-Identifier: BSD-2-Clause
// Media watches the central rules ask for (watch_media): kept in memory
// until they expire and sent to every agent's decision stream, the running
// ones again to an agent that connects. Not decisions: no version, not
// stored (a restart forgets them; they last minutes).
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <utility>
#include <vector>

#include "sipwarden/v1/agent.pb.h"

namespace sw::controller {

class MediaWatches {
 public:
  explicit MediaWatches(size_t max_watches = 10000) : max_(max_watches) {}

  // Adds a watch (the oldest is forgotten beyond max_watches); returns its
  // sequence number (from 1).
  uint64_t Add(sipwarden::v1::MediaWatch w);
  // The watches after sequence number `after` not expired at now_unix_ns;
  // *through: the last sequence number there is.
  std::vector<sipwarden::v1::MediaWatch> Since(uint64_t after, int64_t now_unix_ns,
                                               uint64_t* through);
  size_t size() const;
  uint64_t added() const;

 private:
  mutable std::mutex mu_;
  size_t max_;
  uint64_t seq_ = 0;
  std::deque<std::pair<uint64_t, sipwarden::v1::MediaWatch>> watches_;  // in seq order
};

}  // namespace sw::controller
