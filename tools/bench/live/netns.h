// SPDX-License-Identifier: BSD-2-Clause
// What the benchmarks that send real frames between network namespaces
// (live, agent) share: owned file descriptors, entering a namespace made by
// live.sh, and an interface's index and MAC address.
#pragma once

#include <net/if.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sw::bench {

// A file descriptor, closed when dropped.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset();

 private:
  int fd_ = -1;
};

// The namespace `ip netns add NAME` made (/run/netns/NAME).
absl::StatusOr<Fd> OpenNetns(const std::string& name);
// Moves the calling thread into it (setns).
absl::Status EnterNetns(const Fd& ns, std::string_view name);

struct Iface {
  std::string name;
  int ifindex = 0;
  std::array<uint8_t, 6> mac{};
  Fd sock;  // an AF_INET socket in the interface's namespace, for ioctls
};

// Whether a BPF_F_TEST_XDP_LIVE_FRAMES test run's error (negative errno)
// means the kernel refuses such runs altogether, whatever the program: some
// hardened or virtualised kernels answer EPERM. Any other error is a fault
// of the run (Linux 6.1+, which sipwarden needs, has the mode).
inline bool LiveFramesRefused(int err) { return err == -EPERM || err == -EOPNOTSUPP; }

// An interface ioctl on i (ifr's name is filled in); what names it in errors.
absl::Status IfIoctl(const Iface& i, unsigned long req, ifreq& ifr, std::string_view what);
// Opens the interface in the calling thread's current namespace.
absl::StatusOr<Iface> OpenIface(const std::string& name);

}  // namespace sw::bench
