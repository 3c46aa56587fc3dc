// SPDX-License-Identifier: BSD-2-Clause
// The addresses of the host the agent protects (every interface of its
// network namespace). The agent never blocks or rate-limits them, and does
// not take the host's own requests from a HEP mirror for new ones: a proxy
// that mirrors what it sends relays requests the kernel already saw
// arriving, and per-source rules would count the proxy as a flooder.
#pragma once

#include <cstdint>
#include <mutex>
#include <vector>

#include "absl/status/status.h"
#include "sipwarden/ip.h"

namespace sw {

class HostAddresses {
 public:
  // Reads the current addresses (getifaddrs); on failure the old set stays.
  absl::Status Refresh();
  // Refreshes at most every 10 s (CLOCK_BOOTTIME ns).
  void MaybeRefresh(uint64_t boot_now_ns);
  bool Contains(const IpAddress& a) const;
  // Whether the prefix covers one of the host's addresses.
  bool Overlaps(const IpPrefix& p) const;
  std::vector<IpAddress> addresses() const;

 private:
  // The agent's loop refreshes; the controller client's thread asks too.
  mutable std::mutex mu_;
  std::vector<IpAddress> addrs_;
  uint64_t next_refresh_ns_ = 0;
};

}  // namespace sw
