#include "hep_listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "maps.h"

namespace sw {

absl::Status ParseHostPort(const std::string& text, IpAddress* addr, uint16_t* port) {
  std::string host, port_text;
  if (!text.empty() && text[0] == '[') {
    const auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return absl::InvalidArgumentError(absl::StrCat("bad address '", text, "' ([IPv6]:PORT)"));
    }
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("bad address '", text, "' (HOST:PORT)"));
    }
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  uint32_t p;
  if (!absl::SimpleAtoi(port_text, &p) || p > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("bad port in '", text, "'"));
  }
  auto ip = IpAddress::Parse(host);
  if (!ip.ok()) return absl::InvalidArgumentError(absl::StrCat("bad address in '", text, "'"));
  *addr = *ip;
  *port = static_cast<uint16_t>(p);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<HepListener>> HepListener::Open(const std::string& listen) {
  IpAddress addr;
  uint16_t port;
  if (auto st = ParseHostPort(listen, &addr, &port); !st.ok()) return st;
  auto l = std::unique_ptr<HepListener>(new HepListener());
  sockaddr_storage ss{};
  socklen_t len;
  if (addr.is_v4()) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    std::memcpy(&a->sin_addr, addr.bytes.data() + 12, 4);
    len = sizeof(*a);
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    std::memcpy(&a->sin6_addr, addr.bytes.data(), 16);
    len = sizeof(*a);
  }
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
