// SPDX-License-Identifier: BSD-2-Clause
#include "decision_table.h"

#include <algorithm>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "sipwarden/absl_compat.h"

namespace sw::controller {

using sipwarden::v1::Decision;
using sipwarden::v1::DecisionChange;

bool Covers(const IpPrefix& outer, const IpPrefix& inner) {
  if (outer.addr.is_v4() != inner.addr.is_v4()) return false;
  return outer.length <= inner.length && outer.Contains(inner.addr);
}

absl::StatusOr<IpPrefix> ParseDecisionPrefix(std::string_view text) {
  auto p = IpPrefix::Parse(text);
  if (!p.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad prefix '", AV(text), "': ", p.status().message()));
  }
  return *p;
}

DecisionTable::DecisionTable(Store* store, size_t history)
    : store_(store), history_(history), shared_(store->shared()) {}

absl::Status DecisionTable::Load(int64_t now) {
  auto loaded = store_->LoadDecisions();
  if (!loaded.ok()) return loaded.status();
  std::lock_guard<std::mutex> lock(mu_);
  ReplaceLocked(std::move(*loaded));
  (void)now;
  return absl::OkStatus();
}

void DecisionTable::Put(const Key& key, Entry e) {
  Drop(key);
  if (key.second == sipwarden::v1::ACTION_ALLOW) allows_[key.first] = e.prefix;
  if (key.second == sipwarden::v1::ACTION_GRAYLIST) ++graylists_;
  if (const int64_t exp = e.d.expires_unix_ns(); exp != 0) expiry_.insert({exp, key});
  table_.emplace(key, std::move(e));
}

void DecisionTable::Drop(const Key& key) {
  auto it = table_.find(key);
  if (it == table_.end()) return;
  if (const int64_t exp = it->second.d.expires_unix_ns(); exp != 0) expiry_.erase({exp, key});
  if (key.second == sipwarden::v1::ACTION_ALLOW) allows_.erase(key.first);
  if (key.second == sipwarden::v1::ACTION_GRAYLIST) --graylists_;
  table_.erase(it);
}

DecisionChange DecisionTable::Change(DecisionChange::Kind kind, const Decision& d) {
  DecisionChange c;
  c.set_kind(kind);
  *c.mutable_decision() = d;
  // A shared store numbers the changes itself (Commit): 0 until then.
  c.set_version(shared_ ? 0 : ++version_);
  c.mutable_decision()->set_version(c.version());
  return c;
}

void DecisionTable::ApplyLocked(DecisionChange c) {
  const Key key{c.decision().prefix(), c.decision().action()};
  if (c.kind() == DecisionChange::KIND_SET) {
    auto p = IpPrefix::Parse(c.decision().prefix());
    if (p.ok()) Put(key, Entry{*p, c.decision()});
  } else {
    Drop(key);
  }
  version_ = std::max(version_, c.version());
  log_.push_back(std::move(c));
}

void DecisionTable::TrimLocked() {
  while (log_.size() > history_) {
    oldest_kept_ = log_.front().version();
    log_.pop_front();
  }
}

absl::StatusOr<std::vector<DecisionChange>> DecisionTable::Commit(
    std::vector<DecisionChange> changes) {
  if (changes.empty()) return changes;
  if (shared_) {
    // The database numbers the changes; they (and whatever other
    // controllers committed before them) are applied from its log, in
    // version order.
    auto versions = store_->CommitDecisions(changes);
    if (!versions.ok()) {
      return absl::UnavailableError(
          absl::StrCat("the store refused the change: ", versions.status().message()));
    }
    for (size_t i = 0; i < changes.size() && i < versions->size(); ++i) {
      changes[i].set_version((*versions)[i]);
      changes[i].mutable_decision()->set_version((*versions)[i]);
    }
    if (auto st = SyncLocked(); !st.ok()) {
      // Stored, so done: the follower applies it on its next pass.
      std::cerr << "sipwarden-controller: decision log: " << st.message() << "\n";
    }
    return changes;
  }
  std::vector<StoredChange> stored;
  stored.reserve(changes.size());
  for (const auto& c : changes) {
    stored.push_back({c.kind() != DecisionChange::KIND_SET, c.decision()});
  }
  if (auto st = store_->ApplyDecisions(stored, changes.back().version()); !st.ok()) {
    // Not stored: not applied. The versions stay used (they only ever
    // increase), so the kept history has a hole: watchers behind it get a
    // snapshot.
    log_.clear();
    oldest_kept_ = version_;
    return absl::UnavailableError(absl::StrCat("the store refused the change: ", st.message()));
  }
  for (const auto& c : changes) ApplyLocked(c);
  TrimLocked();
  changed_.notify_all();
  return changes;
}

void DecisionTable::CatchUpLocked() {
  // A shared store: the others' changes first, so that checks (an allow
  // covering a block, a longer block already there) see them.
  if (!shared_) return;
  if (auto st = SyncLocked(); !st.ok()) {
    std::cerr << "sipwarden-controller: decision log: " << st.message() << "\n";
  }
}

absl::Status DecisionTable::Sync() {
  if (!shared_) return absl::OkStatus();
  std::lock_guard<std::mutex> lock(mu_);
  return SyncLocked();
}

absl::Status DecisionTable::SyncLocked() {
  constexpr size_t kBatch = 10000;
  const uint64_t before = version_;
  while (true) {
    auto changes = store_->DecisionChangesSince(version_, kBatch);
    if (!changes.ok()) {
      if (changes.status().code() != absl::StatusCode::kOutOfRange) return changes.status();
      // This controller fell behind the database's log: everything anew,
      // and its watchers get a snapshot.
      auto loaded = store_->LoadDecisions();
      if (!loaded.ok()) return loaded.status();
      ReplaceLocked(std::move(*loaded));
      ++reloads_;
      break;
    }
    for (auto& c : *changes) ApplyLocked(std::move(c));
    if (changes->size() < kBatch) break;
  }
  TrimLocked();
  if (version_ != before) changed_.notify_all();
  return absl::OkStatus();
}

void DecisionTable::ReplaceLocked(LoadedDecisions loaded) {
  table_.clear();
  allows_.clear();
  graylists_ = 0;
  expiry_.clear();
  log_.clear();
  version_ = loaded.version;
  oldest_kept_ = version_;
  for (auto& d : loaded.decisions) {
    auto p = IpPrefix::Parse(d.prefix());
    if (!p.ok()) continue;  // cannot happen: only parsed prefixes are stored
    Put({d.prefix(), d.action()}, Entry{*p, d});
  }
}

bool DecisionTable::AllowedLocked(const IpPrefix& prefix) const {
  for (const auto& [text, allow] : allows_) {
    if (Covers(allow, prefix)) return true;
  }
  return false;
}

bool DecisionTable::Allowed(const IpPrefix& prefix) const {
  std::lock_guard<std::mutex> lock(mu_);
  return AllowedLocked(prefix);
}

std::optional<Decision> DecisionTable::Find(const IpPrefix& prefix,
                                            sipwarden::v1::Action action) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = table_.find({prefix.ToString(), action});
  if (it == table_.end()) return std::nullopt;
  return it->second.d;
}

absl::StatusOr<Decision> DecisionTable::Block(const IpPrefix& prefix, int64_t expires,
                                              sipwarden::v1::Origin origin,
                                              const std::string& reason, const std::string& source,
                                              int64_t now) {
  std::lock_guard<std::mutex> lock(mu_);
  CatchUpLocked();
  if (AllowedLocked(prefix)) {
    return absl::FailedPreconditionError(
        absl::StrCat(prefix.ToString(), " lies within an allow; remove the allow first"));
  }
  Decision d;
  d.set_prefix(prefix.ToString());
  d.set_action(sipwarden::v1::ACTION_BLOCK);
  d.set_origin(origin);
  d.set_reason(reason);
  d.set_source(source);
  d.set_created_unix_ns(now);
  d.set_expires_unix_ns(expires);
  auto it = table_.find({d.prefix(), sipwarden::v1::ACTION_BLOCK});
  if (it != table_.end()) {
    const Decision& old = it->second.d;
    // A block already there that lasts at least as long: nothing changes
    // (a fleet of agents reporting the same attacker makes one decision).
    const bool old_longer = old.expires_unix_ns() == 0 ||
                            (expires != 0 && old.expires_unix_ns() >= expires);
    if (old_longer) return old;
    d.set_created_unix_ns(old.created_unix_ns());
  }
  auto done = Commit({Change(DecisionChange::KIND_SET, d)});
  if (!done.ok()) return done.status();
  return done->back().decision();
}

absl::StatusOr<Decision> DecisionTable::Graylist(const IpPrefix& host, int64_t expires,
                                                 uint32_t rate_per_s, uint32_t burst,
                                                 sipwarden::v1::Origin origin,
                                                 const std::string& reason,
                                                 const std::string& source, int64_t now) {
  // The kernel keeps per-source buckets by address: a range has none.
  if (host.length != (host.addr.is_v4() ? 32 : 128)) {
    return absl::InvalidArgumentError(
        absl::StrCat("a graylist is for one host (a /32 or /128), not ", host.ToString()));
  }
  // The kernel's own bounds on a source's bucket (agent/maps.h SrcLimitSet).
  constexpr uint32_t kMax = 1000000000;
  if (rate_per_s < 1 || rate_per_s > kMax || burst < 1 || burst > kMax) {
    return absl::InvalidArgumentError(absl::StrCat("graylist rate ", rate_per_s, "/s burst ", burst,
                                                   ": each must be within 1..", kMax));
  }
  std::lock_guard<std::mutex> lock(mu_);
  CatchUpLocked();
  if (AllowedLocked(host)) {
    return absl::FailedPreconditionError(
        absl::StrCat(host.ToString(), " lies within an allow; remove the allow first"));
  }
  Decision d;
  d.set_prefix(host.ToString());
  d.set_action(sipwarden::v1::ACTION_GRAYLIST);
  d.set_origin(origin);
  d.set_reason(reason);
  d.set_source(source);
  d.set_created_unix_ns(now);
  d.set_expires_unix_ns(expires);
  d.set_rate_per_s(rate_per_s);
  d.set_burst(burst);
  if (auto it = table_.find({d.prefix(), sipwarden::v1::ACTION_GRAYLIST}); it != table_.end()) {
    d.set_created_unix_ns(it->second.d.created_unix_ns());
  }
  auto done = Commit({Change(DecisionChange::KIND_SET, d)});
  if (!done.ok()) return done.status();
  return done->back().decision();
}

absl::StatusOr<Decision> DecisionTable::Unblock(const IpPrefix& prefix) {
  std::lock_guard<std::mutex> lock(mu_);
  CatchUpLocked();
  std::vector<DecisionChange> changes;
  std::optional<Decision> out;
  for (auto action : {sipwarden::v1::ACTION_BLOCK, sipwarden::v1::ACTION_GRAYLIST}) {
    auto it = table_.find({prefix.ToString(), action});
    if (it == table_.end()) continue;
    if (!out) out = it->second.d;
    changes.push_back(Change(DecisionChange::KIND_REMOVE, it->second.d));
  }
  if (!out) {
    return absl::NotFoundError(absl::StrCat("no block or graylist for ", prefix.ToString()));
  }
  if (auto done = Commit(std::move(changes)); !done.ok()) return done.status();
  return *out;
}

absl::StatusOr<Decision> DecisionTable::Allow(const IpPrefix& prefix, const std::string& reason,
                                              const std::string& source, int64_t now) {
  std::lock_guard<std::mutex> lock(mu_);
  CatchUpLocked();
  std::vector<DecisionChange> changes;
  // The blocks and graylists it covers go first, fleet-wide.
  for (const auto& [key, e] : table_) {
    if (key.second != sipwarden::v1::ACTION_ALLOW && Covers(prefix, e.prefix)) {
      changes.push_back(Change(DecisionChange::KIND_REMOVE, e.d));
    }
  }
  Decision d;
  d.set_prefix(prefix.ToString());
  d.set_action(sipwarden::v1::ACTION_ALLOW);
  d.set_origin(sipwarden::v1::ORIGIN_OPERATOR);
  d.set_reason(reason);
  d.set_source(source);
  d.set_created_unix_ns(now);
  changes.push_back(Change(DecisionChange::KIND_SET, d));
  auto done = Commit(std::move(changes));
  if (!done.ok()) return done.status();
  return done->back().decision();
}

absl::StatusOr<Decision> DecisionTable::Disallow(const IpPrefix& prefix) {
  std::lock_guard<std::mutex> lock(mu_);
  CatchUpLocked();
  auto it = table_.find({prefix.ToString(), sipwarden::v1::ACTION_ALLOW});
  if (it == table_.end()) {
    return absl::NotFoundError(absl::StrCat("no allow for ", prefix.ToString()));
  }
  Decision d = it->second.d;
  if (auto done = Commit({Change(DecisionChange::KIND_REMOVE, d)}); !done.ok()) {
    return done.status();
  }
  return d;
}

absl::StatusOr<size_t> DecisionTable::Expire(int64_t now) {
  std::lock_guard<std::mutex> lock(mu_);
  CatchUpLocked();
  std::vector<DecisionChange> changes;
  for (auto it = expiry_.begin(); it != expiry_.end() && it->first <= now; ++it) {
    changes.push_back(Change(DecisionChange::KIND_EXPIRE, table_.at(it->second).d));
  }
  const size_t n = changes.size();
  if (auto done = Commit(std::move(changes)); !done.ok()) return done.status();
  return n;
}

uint64_t DecisionTable::version() const {
  std::lock_guard<std::mutex> lock(mu_);
  return version_;
}

size_t DecisionTable::blocks() const {
  std::lock_guard<std::mutex> lock(mu_);
  return table_.size() - allows_.size() - graylists_;
}

size_t DecisionTable::graylists() const {
  std::lock_guard<std::mutex> lock(mu_);
  return graylists_;
}

size_t DecisionTable::allows() const {
  std::lock_guard<std::mutex> lock(mu_);
  return allows_.size();
}

std::pair<std::vector<Decision>, uint64_t> DecisionTable::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Decision> out;
  out.reserve(table_.size());
  for (const auto& [key, e] : table_) out.push_back(e.d);
  return {std::move(out), version_};
}

std::vector<Decision> DecisionTable::Page(
    const std::pair<std::string, int>& after, size_t limit,
    const std::function<bool(const IpPrefix&, const Decision&)>& keep, bool* more,
    uint64_t* version) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Decision> out;
  *more = false;
  *version = version_;
  auto it = after.first.empty() ? table_.begin() : table_.upper_bound(after);
  for (; it != table_.end(); ++it) {
    if (!keep(it->second.prefix, it->second.d)) continue;
    if (out.size() >= limit) {
      *more = true;
      break;
    }
    out.push_back(it->second.d);
  }
  return out;
}

std::optional<std::vector<DecisionChange>> DecisionTable::ChangesSince(uint64_t since,
                                                                      uint64_t* through) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (through) *through = version_;
  if (since > version_) return std::nullopt;  // from another controller's history
  if (since < oldest_kept_) return std::nullopt;
  std::vector<DecisionChange> out;
  // log_ holds every change after oldest_kept_ in version order (a shared
  // store's versions may have gaps: numbers its rolled-back transactions took).
  auto it = std::upper_bound(log_.begin(), log_.end(), since,
                             [](uint64_t v, const DecisionChange& c) { return v < c.version(); });
  for (; it != log_.end(); ++it) out.push_back(*it);
  return out;
}

uint64_t DecisionTable::WaitNewer(uint64_t seen,
                                  std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t nudges = nudges_;
  changed_.wait_until(lock, deadline, [&] { return version_ > seen || nudges_ != nudges; });
  return version_;
}

void DecisionTable::Nudge() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++nudges_;
  }
  changed_.notify_all();
}

}  // namespace sw::controller
