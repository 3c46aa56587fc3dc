// SPDX-License-Identifier: BSD-2-Clause
// The fleet's decisions: the blocks, graylists and allows every agent
// enforces. Each change gets the next version (versions only increase) and is
// stored before it is acknowledged or sent. Watchers catch up from a version:
// the changes since then while the table still keeps them, a full snapshot
// otherwise. An allow wins: adding one removes the blocks and graylists it
// covers, and a block or graylist inside an allow is refused. A graylist
// (one host's token bucket) and a block of the same host may both be held:
// the block wins in the kernel.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "sipwarden/ip.h"
#include "sipwarden/v1/decisions.pb.h"
#include "store.h"

namespace sw::controller {

// Whether outer covers inner (same family, shorter or equal length).
bool Covers(const IpPrefix& outer, const IpPrefix& inner);
// Parses a decision's prefix: a prefix or a bare address; host bits set
// below the length are refused (INVALID_ARGUMENT with the text).
absl::StatusOr<IpPrefix> ParseDecisionPrefix(std::string_view text);

class DecisionTable {
 public:
  // history: changes kept for incremental catch-up; older watchers get a snapshot.
  DecisionTable(Store* store, size_t history = 200000);

  // Loads the stored decisions (those already expired are dropped, stored
  // as expired).
  absl::Status Load(int64_t now_unix_ns);

  // Sets a block. FAILED_PRECONDITION when an allow covers it. expires 0 = never.
  absl::StatusOr<sipwarden::v1::Decision> Block(const IpPrefix& prefix, int64_t expires_unix_ns,
                                                sipwarden::v1::Origin origin,
                                                const std::string& reason,
                                                const std::string& source, int64_t now_unix_ns);
  // Sets a graylist: one host (a /32 or /128, else INVALID_ARGUMENT) limited
  // to rate_per_s requests per second with a bucket of burst (each >= 1 and
  // at most 1e9, else INVALID_ARGUMENT). FAILED_PRECONDITION when an allow
  // covers it. Setting one again replaces it (new expiry, rate, burst; a new
  // version), keeping its creation time. expires 0 = never.
  absl::StatusOr<sipwarden::v1::Decision> Graylist(const IpPrefix& host, int64_t expires_unix_ns,
                                                   uint32_t rate_per_s, uint32_t burst,
                                                   sipwarden::v1::Origin origin,
                                                   const std::string& reason,
                                                   const std::string& source, int64_t now_unix_ns);
  // Removes the block of exactly this prefix and the graylist of this host,
  // in one version step each; NOT_FOUND when there is neither. Returns the
  // block when there was one, else the graylist.
  absl::StatusOr<sipwarden::v1::Decision> Unblock(const IpPrefix& prefix);
  // Sets an allow and removes every block and graylist it covers, in one
  // version step each.
  absl::StatusOr<sipwarden::v1::Decision> Allow(const IpPrefix& prefix, const std::string& reason,
                                                const std::string& source, int64_t now_unix_ns);
  absl::StatusOr<sipwarden::v1::Decision> Disallow(const IpPrefix& prefix);
  // Expires what is due at now; returns how many.
  absl::StatusOr<size_t> Expire(int64_t now_unix_ns);
  // Whether an allow covers this prefix.
  bool Allowed(const IpPrefix& prefix) const;
  // The decision of exactly this prefix and action, if the table holds one.
  std::optional<sipwarden::v1::Decision> Find(const IpPrefix& prefix,
                                              sipwarden::v1::Action action) const;

  uint64_t version() const;
  size_t blocks() const;
  size_t graylists() const;
  size_t allows() const;
  // Every decision now, in prefix order, with the version they are at.
  std::pair<std::vector<sipwarden::v1::Decision>, uint64_t> Snapshot() const;
  // Up to limit decisions after the (prefix, action) key `after` ("" = from
  // the first) that pass keep, in key order; *more tells whether any are
  // left, *version the version they are at.
  std::vector<sipwarden::v1::Decision> Page(
      const std::pair<std::string, int>& after, size_t limit,
      const std::function<bool(const IpPrefix&, const sipwarden::v1::Decision&)>& keep,
      bool* more, uint64_t* version) const;
  // The changes after `since`, up to the current version; nullopt when they
  // are no longer kept (a snapshot is needed).
  // *through (optional) is the version they bring the caller to, read under
  // the same lock (a separate version() call could skip changes).
  std::optional<std::vector<sipwarden::v1::DecisionChange>> ChangesSince(
      uint64_t since, uint64_t* through = nullptr) const;
  // Waits until the version exceeds `seen`, Nudge is called or the deadline
  // passes; returns the version.
  uint64_t WaitNewer(uint64_t seen, std::chrono::steady_clock::time_point deadline) const;
  // Wakes every WaitNewer (news besides decisions: media watches).
  void Nudge();
  // A shared store (several controllers on one database): applies what the
  // database's change log holds beyond this table's version, the other
  // controllers' changes among them (the follower calls it when notified,
  // and at least twice a second). A table too far behind the log reloads
  // everything (its watchers then get a snapshot). Unshared: nothing.
  absl::Status Sync();
  // Reloads after falling behind the log (shared stores).
  uint64_t reloads() const {
    std::lock_guard<std::mutex> lock(mu_);
    return reloads_;
  }

 private:
  using Key = std::pair<std::string, int>;  // prefix text, action
  struct Entry {
    IpPrefix prefix;
    sipwarden::v1::Decision d;
  };
  // Stores and publishes changes (mu_ held); returns them with their
  // versions (a shared store gives them out).
  absl::StatusOr<std::vector<sipwarden::v1::DecisionChange>> Commit(
      std::vector<sipwarden::v1::DecisionChange> changes);
  absl::Status SyncLocked();
  void CatchUpLocked();
  void ApplyLocked(sipwarden::v1::DecisionChange c);
  void TrimLocked();
  void ReplaceLocked(LoadedDecisions loaded);
  sipwarden::v1::DecisionChange Change(sipwarden::v1::DecisionChange::Kind kind,
                                       const sipwarden::v1::Decision& d);
  bool AllowedLocked(const IpPrefix& prefix) const;
  // table_ with its indexes (allows_, graylists_, expiry_); mu_ held.
  void Put(const Key& key, Entry e);
  void Drop(const Key& key);

  Store* store_;
  size_t history_;
  bool shared_ = false;
  uint64_t reloads_ = 0;
  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  std::map<Key, Entry> table_;
  // The allows alone (few), so that a block need not scan every decision.
  std::map<std::string, IpPrefix> allows_;
  size_t graylists_ = 0;
  // Decisions that expire, by expiry: Expire visits only the due ones.
  std::set<std::pair<int64_t, Key>> expiry_;
  std::deque<sipwarden::v1::DecisionChange> log_;  // the last history_ changes
  uint64_t version_ = 0;
  uint64_t nudges_ = 0;
  uint64_t oldest_kept_ = 0;  // changes after this version are all in log_
};

}  // namespace sw::controller
