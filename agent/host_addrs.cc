// SPDX-License-Identifier: BSD-2-Clause
#include "host_addrs.h"

#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace sw {

absl::Status HostAddresses::Refresh() {
  struct ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) {
    return absl::InternalError(absl::StrCat("getifaddrs: ", std::strerror(errno)));
  }
  std::vector<IpAddress> found;
  for (const struct ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr) continue;
    if (i->ifa_addr->sa_family == AF_INET) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
      found.push_back(IpAddress::FromV4(reinterpret_cast<const uint8_t*>(&sin->sin_addr)));
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
      found.push_back(IpAddress::FromV6(sin6->sin6_addr.s6_addr));
    }
  }
  freeifaddrs(list);
  std::lock_guard<std::mutex> lock(mu_);
  addrs_ = std::move(found);
  return absl::OkStatus();
}

void HostAddresses::MaybeRefresh(uint64_t boot_now_ns) {
  if (boot_now_ns < next_refresh_ns_) return;
  next_refresh_ns_ = boot_now_ns + 10'000'000'000ull;
  (void)Refresh();
}

std::vector<IpAddress> HostAddresses::addresses() const {
  std::lock_guard<std::mutex> lock(mu_);
  return addrs_;
}

bool HostAddresses::Contains(const IpAddress& a) const {
  std::lock_guard<std::mutex> lock(mu_);
  return std::find(addrs_.begin(), addrs_.end(), a) != addrs_.end();
}

bool HostAddresses::Overlaps(const IpPrefix& p) const {
  std::lock_guard<std::mutex> lock(mu_);
  return std::any_of(addrs_.begin(), addrs_.end(),
                     [&](const IpAddress& a) { return p.Contains(a); });
}

}  // namespace sw
