// SPDX-License-Identifier: BSD-2-Clause
// Writes the controller's decisions into this host's kernel maps: blocks
// with the time remaining to their absolute expiry (re-fetching never
// extends one), graylists as per-source limits (sw_src_limit, the same
// way), allows (removing the blocks they cover, local ones too). Remembers
// what it installed, so that a snapshot after a reconnection removes what
// the fleet no longer holds.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "maps.h"
#include "sipwarden/v1/agent.pb.h"

namespace sw {

// Told of every graylist FleetDecisions installs in the kernel or lifts
// (KamailioGraylist pushes them into the local Kamailio). Called with
// FleetDecisions' lock held: must neither block nor call back.
class GraylistObserver {
 public:
  virtual ~GraylistObserver() = default;
  virtual void GraylistSet(const IpAddress& host, int64_t expires_unix_ns) = 0;  // 0: none
  virtual void GraylistRemoved(const IpAddress& host) = 0;
  // After a snapshot: exactly these are installed.
  virtual void GraylistsReplaced(std::vector<std::pair<IpAddress, int64_t>> all) = 0;
};

class FleetDecisions {
 public:
  // now_unix_ns: the wall clock (tests pass their own).
  explicit FleetDecisions(Maps& maps, std::function<int64_t()> now_unix_ns = nullptr);

  // A block or graylist this predicate is true for is not installed (the
  // agent spares this host's own addresses). Set before the first batch.
  void SetSpare(std::function<bool(const IpPrefix&)> spare) { spare_ = std::move(spare); }
  // Set before the first batch; not owned.
  void SetGraylistObserver(GraylistObserver* o) { observer_ = o; }

  // Applies one batch from WatchDecisions (snapshot pages are gathered until
  // the last one, then applied at once).
  void Apply(const sipwarden::v1::DecisionBatch& batch);

  struct Stats {
    uint64_t blocks_set = 0, blocks_removed = 0, allows_set = 0, allows_removed = 0;
    uint64_t graylists_set = 0, graylists_removed = 0;
    uint64_t expired_on_arrival = 0;   // blocks and graylists already past their expiry
    uint64_t spared = 0;               // blocks covering this host's own addresses
    uint64_t graylists_spared = 0;     // graylists of this host's own addresses
    uint64_t local_blocks_lifted = 0;  // this host's own blocks inside a fleet allow
    uint64_t errors = 0;               // kernel map updates refused, malformed decisions
    size_t blocks = 0, allows = 0, graylists = 0;  // installed from the controller now
  };
  Stats stats() const;

 private:
  void Set(const sipwarden::v1::Decision& d);
  void SetGraylist(const sipwarden::v1::Decision& d, const IpPrefix& host);
  void Remove(const sipwarden::v1::Decision& d);
  void RemoveGraylist(const IpPrefix& host);

  Maps& maps_;
  std::function<int64_t()> now_;
  std::function<bool(const IpPrefix&)> spare_;
  GraylistObserver* observer_ = nullptr;
  bool in_snapshot_ = false;  // the observer hears of a snapshot once, whole
  mutable std::mutex mu_;
  // Installed from the controller: prefix text -> action.
  std::map<std::string, int> blocks_, allows_;
  // Graylists installed, by host prefix text: the limit as written, so that
  // a removal lifts only that (the agent's own rules may have replaced it).
  struct Graylisted {
    uint32_t rate = 0, burst = 0, reason = 0;
    int64_t expires_unix_ns = 0;
  };
  std::map<std::string, Graylisted> graylists_;
  std::vector<sipwarden::v1::Decision> snapshot_;  // pages so far
  Stats stats_;
};

}  // namespace sw
