// SPDX-License-Identifier: BSD-2-Clause
#include "hep_listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "maps.h"

namespace sw {

absl::StatusOr<std::unique_ptr<HepListener>> HepListener::Open(const std::string& listen) {
  IpAddress addr;
  uint16_t port;
  if (auto st = ParseHostPort(listen, &addr, &port); !st.ok()) return st;
  auto l = std::unique_ptr<HepListener>(new HepListener());
  sockaddr_storage ss;
  const socklen_t len = ToSockaddr(addr, port, &ss);
  l->fd_ = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (l->fd_ < 0) return ErrnoStatus(errno, "HEP socket");
  const int rcvbuf = 8 << 20;
  setsockopt(l->fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  if (bind(l->fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    return ErrnoStatus(errno, absl::StrCat("bind HEP listener to ", listen));
  }
  sockaddr_storage bound{};
  socklen_t blen = sizeof(bound);
  getsockname(l->fd_, reinterpret_cast<sockaddr*>(&bound), &blen);
  l->port_ = ntohs(bound.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                               : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  return l;
}

HepListener::~HepListener() {
  if (fd_ >= 0) close(fd_);
}

int HepListener::Drain(const std::function<void(const net::HepPacket&)>& fn) {
  std::vector<uint8_t> buf(65536);
  int n = 0;
  for (int i = 0; i < 4096; ++i) {  // bounded per call; the rest waits for the next
    const ssize_t r = recv(fd_, buf.data(), buf.size(), 0);
    if (r < 0) break;  // EAGAIN: nothing more queued
    ++received_;
    auto p = net::DecodeHep(std::span<const uint8_t>(buf.data(), static_cast<size_t>(r)));
    if (!p.ok()) {
      ++bad_;
      continue;
    }
    fn(*p);
    ++n;
  }
  return n;
}

}  // namespace sw
