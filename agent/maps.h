// SPDX-License-Identifier: BSD-2-Clause
// Typed access to sipwarden's BPF maps, either those of a loaded skeleton or
// those pinned under a pin directory by a running (or departed) agent. Every
// method validates its input before touching a map: a bad request changes
// nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sipwarden.h"
#include "sipwarden/ip.h"

namespace sw {

// Default pin directory for the maps.
inline constexpr char kDefaultPinDir[] = "/sys/fs/bpf/sipwarden";

// The map names, as pinned (and as in bpf/sipwarden.bpf.c).
inline constexpr const char* kMapNames[] = {
    "sw_config", "sw_ports", "sw_stats", "sw_allow_v4", "sw_allow_v6", "sw_block_v4",
    "sw_block_v6", "sw_src", "sw_media", "sw_events", "sw_src_limit"};

// CLOCK_BOOTTIME now, the clock the kernel stamps and expires with.
uint64_t BootNs();
// Offset that turns a CLOCK_BOOTTIME stamp into Unix time (ns).
int64_t BootToUnixOffsetNs();

struct BlockEntry {
  IpPrefix prefix;
  sw_block_entry value{};
};

struct AllowEntry {
  IpPrefix prefix;
  sw_allow_entry value{};
};

struct SourceEntry {
  IpAddress addr;
  sw_src_state value{};
};

struct SrcLimitEntry {
  IpAddress addr;
  sw_src_limit value{};
};

// File descriptors of the maps. Owned or borrowed, see Maps.
struct MapFds {
  int config = -1, ports = -1, stats = -1, allow_v4 = -1, allow_v6 = -1, block_v4 = -1,
      block_v6 = -1, src = -1, media = -1, events = -1, src_limit = -1;
};

class Maps {
 public:
  // Opens the maps pinned in pin_dir; the fds are owned and closed with this.
  static absl::StatusOr<Maps> OpenPinned(const std::string& pin_dir);
  // Uses fds owned by someone else (a loaded skeleton).
  static Maps Borrow(const MapFds& fds);

  Maps(Maps&& other) noexcept;
  Maps& operator=(Maps&& other) noexcept;
  Maps(const Maps&) = delete;
  Maps& operator=(const Maps&) = delete;
  ~Maps();

  const MapFds& fds() const { return fds_; }

  // Blocklist. ttl of zero (or infinite) means no expiry.
  absl::Status BlockAdd(const IpPrefix& prefix, absl::Duration ttl, uint32_t reason);
  absl::Status BlockDel(const IpPrefix& prefix);
  absl::StatusOr<std::vector<BlockEntry>> BlockList() const;
  // Deletes entries whose expiry has passed; returns how many.
  absl::StatusOr<int> BlockExpire();

  // Allowlist.
  absl::Status AllowAdd(const IpPrefix& prefix);
  absl::Status AllowDel(const IpPrefix& prefix);
  absl::StatusOr<std::vector<AllowEntry>> AllowList() const;
  // Whether an allowlist prefix covers addr (longest-prefix match).
  absl::StatusOr<bool> IsAllowed(const IpAddress& addr) const;

  // Counters summed over CPUs.
  absl::StatusOr<sw_stats> ReadStats() const;

  absl::StatusOr<sw_config> ReadConfig() const;
  absl::Status WriteConfig(const sw_config& cfg);
  // Read-modify-write of sw_config under an exclusive lock on the pin
  // directory (flock), which the agent and sipwardenctl share, so that two
  // changes of different fields never undo each other. change may refuse
  // (its error is returned and nothing is written).
  absl::Status UpdateConfig(const std::function<absl::Status(sw_config&)>& change);
  // The directory UpdateConfig locks: the pin directory (empty: no lock,
  // for maps nobody else can reach).
  void set_lock_dir(std::string dir) { lock_dir_ = std::move(dir); }
  // Sets the role flags (SW_PORT_*) of one port.
  absl::Status SetPortFlags(uint16_t port, uint32_t flags);
  absl::StatusOr<uint32_t> PortFlags(uint16_t port) const;
  // Replaces the whole port table in one batch: SIP over UDP and TCP on
  // sip_ports, MGCP on mgcp_ports, nothing on the others.
  absl::Status SetPortRoles(const std::vector<uint16_t>& sip_ports,
                            const std::vector<uint16_t>& mgcp_ports = {});
  // The ports with any of these roles (SW_PORT_*), read in one batch.
  absl::StatusOr<std::vector<uint16_t>> PortsWith(uint32_t roles) const;

  // Per-source state.
  absl::StatusOr<std::optional<sw_src_state>> Source(const IpAddress& addr) const;
  absl::StatusOr<std::vector<SourceEntry>> Sources() const;

  // Rate limits for single sources (one bucket over all their requests, on
  // top of the global per-class buckets). rate >= 1 message/s; burst 0 means
  // one second's worth; ttl of zero (or infinite) means no expiry. Setting
  // one also tells the kernel to look limits up (SW_CFG_SRC_LIMITS).
  absl::Status SrcLimitSet(const IpAddress& addr, uint32_t rate, uint32_t burst,
                           absl::Duration ttl, uint32_t reason);
  absl::Status SrcLimitDel(const IpAddress& addr);
  // One source's limit, if it has one.
  absl::StatusOr<std::optional<sw_src_limit>> SrcLimit(const IpAddress& addr) const;
  absl::StatusOr<std::vector<SrcLimitEntry>> SrcLimits() const;
  // Deletes expired limits; returns how many.
  absl::StatusOr<int> SrcLimitExpire();

  // Expected media.
  absl::Status MediaPut(const sw_media_key& key, const sw_media_entry& value);
  absl::Status MediaDel(const sw_media_key& key);
  absl::StatusOr<std::optional<sw_media_entry>> Media(const sw_media_key& key) const;
  // Empties the media map (a new agent knows none of the old one's calls).
  absl::Status MediaClear();

  // Empties every map and zeroes counters and config (tests use this).
  absl::Status ResetAll();

 private:
  explicit Maps(const MapFds& fds, bool owned) : fds_(fds), owned_(owned) {}
  void Close();
  MapFds fds_;
  bool owned_ = false;
  std::string lock_dir_;
};

// A media key for addr:port (UDP).
sw_media_key MediaKey(const IpAddress& addr, uint16_t port);

// Number of possible CPUs (the per-CPU value count).
int PossibleCpus();

// Turns errno into a status with context.
absl::Status ErrnoStatus(int err, std::string_view what);

}  // namespace sw
