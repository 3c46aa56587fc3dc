// SPDX-License-Identifier: BSD-2-Clause
// The honeypot policy: what the controller does with a source that called a
// deflector (a user nobody legitimate calls). Only arrivals count (stage
// STAGE_ARRIVED; a call's STAGE_ENDED report and calls a proxy deflected to
// the honeypot are no new evidence). For the source's host:
//   - an allow covers it: nothing, ever (counted);
//   - its first arrival within the window: graylisted (a token bucket in
//     every agent's kernel: a human who misdialled still gets through at a
//     human pace, a bot is slowed to a trickle);
//   - block_hits separate calls within the window (a call = a distinct
//     called user and Call-ID, so retransmissions and the ACK-less redials of
//     one INVITE count once, while every new call counts), or arrivals at two
//     different honeypots within the window: blocked fleet-wide.
// A source already blocked is not blocked again (the block is not extended
// by every further call it makes). The state is in memory, bounded (the
// least recently seen sources are forgotten first), and rebuilt from the
// stored arrivals of the last window when the controller starts.
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "decision_table.h"
#include "sipwarden/v1/honeypot.pb.h"

namespace sw::controller {

struct HoneypotPolicyOptions {
  // false: hits are stored, never acted on.
  bool enabled = true;
  int64_t window_ns = 3600LL * 1000000000LL;
  int64_t graylist_ttl_ns = 3600LL * 1000000000LL;
  uint32_t graylist_rate = 5;  // requests per second
  uint32_t graylist_burst = 20;
  // Separate calls within the window that block (1: the first one blocks).
  uint32_t block_hits = 2;
  int64_t block_ttl_ns = 24LL * 3600 * 1000000000LL;
  // Sources remembered at most.
  size_t max_sources = 100000;
};

class HoneypotPolicy {
 public:
  enum class Outcome {
    kIgnored,     // not an arrival, a deflected call, or the policy is off
    kStale,       // arrived longer than the window ago
    kSpared,      // an allow covers the source
    kNothingNew,  // a retransmission, or a source graylisted or blocked already
    kGraylisted,
    kBlocked,
    kRefused,  // the decision table refused (error says why)
  };
  struct Result {
    Outcome outcome = Outcome::kIgnored;
    sipwarden::v1::Decision decision;  // kGraylisted, kBlocked
    absl::Status error;                // kRefused
  };

  HoneypotPolicy(DecisionTable* table, HoneypotPolicyOptions options);

  // One stored hit of this honeypot; now: the controller's clock. The hit's
  // src_ip is a valid address (the controller checked it).
  Result Observe(const std::string& honeypot, const sipwarden::v1::HoneypotHit& hit,
                 int64_t now_unix_ns);
  // Remembers an arrival stored before a restart, deciding nothing.
  void Replay(const std::string& honeypot, const sipwarden::v1::HoneypotHit& hit,
              int64_t now_unix_ns);

  const HoneypotPolicyOptions& options() const { return o_; }
  size_t sources() const;

 private:
  struct Source {
    // Calls within the window, (arrival time, call key), at most block_hits.
    std::vector<std::pair<int64_t, std::string>> calls;
    // Honeypots hit within the window: name -> latest arrival, at most 2.
    std::map<std::string, int64_t> honeypots;
    std::list<std::string>::iterator lru;
  };
  // Whether the hit counts, and at what time (the hit's own, never later
  // than now).
  bool Counts(const sipwarden::v1::HoneypotHit& hit, int64_t now, int64_t* t) const;
  // Records the arrival (mu_ held); *first: the source had none in the
  // window before, *news: a new call or a new honeypot.
  void Record(const std::string& src, const std::string& honeypot,
              const sipwarden::v1::HoneypotHit& hit, int64_t t, bool* first, bool* news,
              bool* over);

  DecisionTable* table_;
  HoneypotPolicyOptions o_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Source> sources_;  // by normalised address
  std::list<std::string> lru_;                       // most recently seen first
};

}  // namespace sw::controller
