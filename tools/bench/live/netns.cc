// SPDX-License-Identifier: BSD-2-Clause
#include "netns.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "maps.h"  // ErrnoStatus
#include "sipwarden/absl_compat.h"
#include "sipwarden/status_macros.h"

namespace sw::bench {

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    reset();
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

void Fd::reset() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

absl::StatusOr<Fd> OpenNetns(const std::string& name) {
  const std::string path = absl::StrCat("/run/netns/", name);
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return sw::ErrnoStatus(errno, absl::StrCat("open network namespace ", path));
  return Fd(fd);
}

absl::Status EnterNetns(const Fd& ns, std::string_view name) {
  if (setns(ns.get(), CLONE_NEWNET) != 0) {
    return sw::ErrnoStatus(errno, absl::StrCat("enter network namespace ", sw::AV(name)));
  }
  return absl::OkStatus();
}

absl::Status IfIoctl(const Iface& i, unsigned long req, ifreq& ifr, std::string_view what) {
  std::snprintf(ifr.ifr_name, IFNAMSIZ, "%s", i.name.c_str());
  if (ioctl(i.sock.get(), req, &ifr) != 0) {
    return sw::ErrnoStatus(errno, absl::StrCat(sw::AV(what), " of ", i.name));
  }
  return absl::OkStatus();
}

absl::StatusOr<Iface> OpenIface(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ) {
    return absl::InvalidArgumentError(absl::StrCat("bad interface name '", name, "'"));
  }
  Iface i;
  i.name = name;
  i.sock = Fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (i.sock.get() < 0) return sw::ErrnoStatus(errno, "socket");
  ifreq ifr{};
  SW_RETURN_IF_ERROR(IfIoctl(i, SIOCGIFINDEX, ifr, "interface index"));
  i.ifindex = ifr.ifr_ifindex;
  ifr = ifreq{};
  SW_RETURN_IF_ERROR(IfIoctl(i, SIOCGIFHWADDR, ifr, "hardware address"));
  std::memcpy(i.mac.data(), ifr.ifr_hwaddr.sa_data, 6);
  return i;
}

}  // namespace sw::bench
