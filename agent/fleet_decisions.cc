// SPDX-License-Identifier: BSD-2-Clause
#include "fleet_decisions.h"

#include <iostream>
#include <set>

#include "absl/time/clock.h"
#include "sipwarden/record.h"

namespace sw {

namespace v1 = sipwarden::v1;

FleetDecisions::FleetDecisions(Maps& maps, std::function<int64_t()> now)
    : maps_(maps), now_(std::move(now)) {
  if (!now_) now_ = [] { return absl::ToUnixNanos(absl::Now()); };
}

FleetDecisions::Stats FleetDecisions::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  Stats s = stats_;
  s.blocks = blocks_.size();
  s.allows = allows_.size();
  return s;
}

void FleetDecisions::Apply(const v1::DecisionBatch& batch) {
  std::lock_guard<std::mutex> lock(mu_);
  if (batch.snapshot()) {
    for (const auto& c : batch.changes()) snapshot_.push_back(c.decision());
    if (!batch.snapshot_done()) return;
    // The fleet holds exactly the snapshot: what we installed and it no
    // longer has goes.
    std::set<std::string> keep_blocks, keep_allows;
    for (const auto& d : snapshot_) {
      (d.action() == v1::ACTION_ALLOW ? keep_allows : keep_blocks).insert(d.prefix());
    }
    std::vector<v1::Decision> gone;
    for (const auto& [p, a] : blocks_) {
      if (!keep_blocks.contains(p)) {
        v1::Decision d;
        d.set_prefix(p);
        d.set_action(v1::ACTION_BLOCK);
        gone.push_back(d);
      }
    }
    for (const auto& [p, a] : allows_) {
      if (!keep_allows.contains(p)) {
        v1::Decision d;
        d.set_prefix(p);
        d.set_action(v1::ACTION_ALLOW);
        gone.push_back(d);
      }
    }
    for (const auto& d : gone) Remove(d);
    // Allows first, so that no block lands inside one.
    for (const auto& d : snapshot_) {
      if (d.action() == v1::ACTION_ALLOW) Set(d);
    }
    for (const auto& d : snapshot_) {
      if (d.action() == v1::ACTION_BLOCK) Set(d);
    }
    snapshot_.clear();
    return;
  }
  for (const auto& c : batch.changes()) {
    if (c.kind() == v1::DecisionChange::KIND_SET) {
      Set(c.decision());
    } else {
      Remove(c.decision());
    }
  }
}

void FleetDecisions::Set(const v1::Decision& d) {
  auto prefix = IpPrefix::Parse(d.prefix());
  if (!prefix.ok()) {
    ++stats_.errors;
    return;
  }
  if (d.action() == v1::ACTION_ALLOW) {
    if (auto st = maps_.AllowAdd(*prefix); !st.ok()) {
      ++stats_.errors;
      std::cerr << "sipwarden-agent: fleet allow " << d.prefix() << ": " << st.message() << "\n";
      return;
    }
    allows_[d.prefix()] = d.action();
    ++stats_.allows_set;
    // No block inside an allow: this host's own ones included.
    if (auto list = maps_.BlockList(); list.ok()) {
      for (const auto& b : *list) {
        const bool inside = b.prefix.addr.is_v4() == prefix->addr.is_v4() &&
                            prefix->length <= b.prefix.length && prefix->Contains(b.prefix.addr);
        if (!inside) continue;
        if (maps_.BlockDel(b.prefix).ok()) {
          if (blocks_.erase(b.prefix.ToString()) == 0) ++stats_.local_blocks_lifted;
        }
      }
    }
    return;
  }
  if (spare_ && spare_(*prefix)) {
    ++stats_.spared;
    std::cerr << "sipwarden-agent: fleet block " << d.prefix()
              << " not installed: it covers an address of this host\n";
    return;
  }
  int64_t ttl_ns = 0;
  if (d.expires_unix_ns() != 0) {
    ttl_ns = d.expires_unix_ns() - now_();
    if (ttl_ns <= 0) {
      ++stats_.expired_on_arrival;
      return;
    }
  }
  auto reason = ReasonFromName(d.reason());
  if (auto st = maps_.BlockAdd(*prefix, absl::Nanoseconds(ttl_ns),
                               reason.ok() ? *reason : static_cast<uint32_t>(SW_REASON_CONTROLLER));
      !st.ok()) {
    ++stats_.errors;
    std::cerr << "sipwarden-agent: fleet block " << d.prefix() << ": " << st.message() << "\n";
    return;
  }
  blocks_[d.prefix()] = d.action();
  ++stats_.blocks_set;
}

void FleetDecisions::Remove(const v1::Decision& d) {
  auto prefix = IpPrefix::Parse(d.prefix());
  if (!prefix.ok()) return;
  if (d.action() == v1::ACTION_ALLOW) {
    if (allows_.erase(d.prefix()) == 0) return;  // not ours: an operator's local allow stays
    if (auto st = maps_.AllowDel(*prefix); st.ok()) ++stats_.allows_removed;
    return;
  }
  blocks_.erase(d.prefix());
  // A fleet unblock lifts the prefix here too, whoever blocked it.
  if (auto st = maps_.BlockDel(*prefix); st.ok()) ++stats_.blocks_removed;
}

}  // namespace sw
