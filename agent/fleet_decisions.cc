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
  s.graylists = graylists_.size();
  return s;
}

void FleetDecisions::Apply(const v1::DecisionBatch& batch) {
  std::lock_guard<std::mutex> lock(mu_);
  if (batch.snapshot()) {
    for (const auto& c : batch.changes()) snapshot_.push_back(c.decision());
    if (!batch.snapshot_done()) return;
    // The fleet holds exactly the snapshot: what we installed and it no
    // longer has goes.
    std::set<std::string> keep_blocks, keep_allows, keep_graylists;
    for (const auto& d : snapshot_) {
      (d.action() == v1::ACTION_ALLOW      ? keep_allows
       : d.action() == v1::ACTION_GRAYLIST ? keep_graylists
                                           : keep_blocks)
          .insert(d.prefix());
    }
    std::vector<v1::Decision> gone;
    for (const auto& [p, g] : graylists_) {
      if (!keep_graylists.contains(p)) {
        v1::Decision d;
        d.set_prefix(p);
        d.set_action(v1::ACTION_GRAYLIST);
        gone.push_back(d);
      }
    }
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
    in_snapshot_ = true;
    for (const auto& d : gone) Remove(d);
    // Allows first, so that no block or graylist lands inside one.
    for (const auto& d : snapshot_) {
      if (d.action() == v1::ACTION_ALLOW) Set(d);
    }
    for (const auto& d : snapshot_) {
      if (d.action() != v1::ACTION_ALLOW) Set(d);
    }
    snapshot_.clear();
    in_snapshot_ = false;
    if (observer_) {
      std::vector<std::pair<IpAddress, int64_t>> all;
      for (const auto& [p, g] : graylists_) {
        auto host = IpPrefix::Parse(p);
        if (host.ok()) all.emplace_back(host->addr, g.expires_unix_ns);
      }
      observer_->GraylistsReplaced(std::move(all));
    }
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
    // The fleet's graylists inside it too (the kernel passes an allowed
    // source by its limit anyway; the controller removes them as well).
    std::vector<IpPrefix> inside;
    for (const auto& [p, g] : graylists_) {
      auto host = IpPrefix::Parse(p);
      if (host.ok() && host->addr.is_v4() == prefix->addr.is_v4() && prefix->Contains(host->addr)) {
        inside.push_back(*host);
      }
    }
    for (const auto& host : inside) RemoveGraylist(host);
    return;
  }
  if (d.action() == v1::ACTION_GRAYLIST) {
    SetGraylist(d, *prefix);
    return;
  }
  if (d.action() != v1::ACTION_BLOCK) {  // from a newer controller: not ours to guess
    ++stats_.errors;
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

void FleetDecisions::SetGraylist(const v1::Decision& d, const IpPrefix& host) {
  // The kernel keeps limits per address: the controller sends hosts only.
  if (host.length != (host.addr.is_v4() ? 32 : 128) || d.rate_per_s() == 0) {
    ++stats_.errors;
    std::cerr << "sipwarden-agent: fleet graylist " << d.prefix() << " (" << d.rate_per_s()
              << "/s) not installed: a graylist is one host with a rate of at least 1/s\n";
    return;
  }
  if (spare_ && spare_(host)) {
    ++stats_.graylists_spared;
    std::cerr << "sipwarden-agent: fleet graylist " << d.prefix()
              << " not installed: it is an address of this host\n";
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
  auto reason_code = ReasonFromName(d.reason());
  const uint32_t reason =
      reason_code.ok() ? *reason_code : static_cast<uint32_t>(SW_REASON_HONEYPOT);
  // burst 0 would mean one second's worth to the map; the controller sends >= 1.
  const uint32_t burst = d.burst() ? d.burst() : d.rate_per_s();
  if (auto st =
          maps_.SrcLimitSet(host.addr, d.rate_per_s(), burst, absl::Nanoseconds(ttl_ns), reason);
      !st.ok()) {
    ++stats_.errors;
    std::cerr << "sipwarden-agent: fleet graylist " << d.prefix() << ": " << st.message() << "\n";
    return;
  }
  graylists_[d.prefix()] = Graylisted{d.rate_per_s(), burst, reason, d.expires_unix_ns()};
  ++stats_.graylists_set;
  if (observer_ && !in_snapshot_) observer_->GraylistSet(host.addr, d.expires_unix_ns());
}

void FleetDecisions::RemoveGraylist(const IpPrefix& host) {
  // Lifted by the fleet: no longer one for Kamailio either, whatever the
  // kernel holds.
  if (observer_ && !in_snapshot_) observer_->GraylistRemoved(host.addr);
  auto current = maps_.SrcLimit(host.addr);
  if (!current.ok() || !current->has_value()) {
    graylists_.erase(host.ToString());
    return;  // gone already (expired in the kernel, or deleted by hand)
  }
  const sw_src_limit& l = **current;
  // Lifted only while the kernel holds the limit the fleet installed: one
  // the agent's own rules set since (another reason or bucket) stays.
  bool ours;
  if (auto it = graylists_.find(host.ToString()); it != graylists_.end()) {
    ours =
        l.reason == it->second.reason && l.rate == it->second.rate && l.burst == it->second.burst;
    graylists_.erase(it);
  } else {
    // Installed by this agent's previous run (the maps outlive it).
    ours = l.reason == SW_REASON_HONEYPOT;
  }
  if (ours && maps_.SrcLimitDel(host.addr).ok()) ++stats_.graylists_removed;
}

void FleetDecisions::Remove(const v1::Decision& d) {
  auto prefix = IpPrefix::Parse(d.prefix());
  if (!prefix.ok()) return;
  if (d.action() == v1::ACTION_GRAYLIST) {
    RemoveGraylist(*prefix);
    return;
  }
  if (d.action() == v1::ACTION_ALLOW) {
    if (allows_.erase(d.prefix()) == 0) return;  // not ours: an operator's local allow stays
    if (auto st = maps_.AllowDel(*prefix); st.ok()) ++stats_.allows_removed;
    return;
  }
  if (d.action() != v1::ACTION_BLOCK) return;  // an action this agent does not know
  blocks_.erase(d.prefix());
  // A fleet unblock lifts the prefix here too, whoever blocked it.
  if (auto st = maps_.BlockDel(*prefix); st.ok()) ++stats_.blocks_removed;
}

}  // namespace sw
