// SPDX-License-Identifier: BSD-2-Clause
// IP addresses and prefixes as the data plane stores them: 16 bytes, IPv4 as
// IPv4-mapped IPv6 (::ffff:a.b.c.d).
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace sw {

struct IpAddress {
  std::array<uint8_t, 16> bytes{};  // IPv4-mapped for IPv4
  bool is_v4() const;
  // The four IPv4 bytes (only meaningful when is_v4()).
  std::array<uint8_t, 4> v4() const;

  static IpAddress FromV4(const uint8_t b[4]);
  static IpAddress FromV6(const uint8_t b[16]);
  // From the 16-byte form used in sipwarden.h (mapped or native IPv6).
  static IpAddress FromMapped(const uint8_t b[16]);
  // "192.0.2.1", "2001:db8::1", "[2001:db8::1]"; anything else is an error.
  static absl::StatusOr<IpAddress> Parse(std::string_view text);

  std::string ToString() const;  // dotted quad for IPv4, RFC 5952 for IPv6
  // ToString's text written into out, which holds at least kMaxText bytes
  // (no terminating NUL); returns its length. For lines written per message.
  static constexpr size_t kMaxText = 46;  // INET6_ADDRSTRLEN
  size_t Format(char* out) const;
  // Two 8-byte compares (the defaulted one calls memcmp): addresses key the
  // tables every message looks up.
  friend bool operator==(const IpAddress& a, const IpAddress& b) {
    uint64_t x[2], y[2];
    std::memcpy(x, a.bytes.data(), sizeof(x));
    std::memcpy(y, b.bytes.data(), sizeof(y));
    return ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0;
  }
  friend auto operator<=>(const IpAddress&, const IpAddress&) = default;
};

struct IpPrefix {
  IpAddress addr;  // host bits cleared
  int length = 0;  // 0..32 for IPv4, 0..128 for IPv6

  // "192.0.2.0/24", "2001:db8::/32", or a bare address (a /32 or /128).
  // Host bits set below the prefix length are an error, not silently cleared.
  static absl::StatusOr<IpPrefix> Parse(std::string_view text);
  bool Contains(const IpAddress& a) const;
  std::string ToString() const;
  friend bool operator==(const IpPrefix&, const IpPrefix&) = default;
};

// "HOST:PORT" or "[IPv6]:PORT" with a numeric host; port 0..65535.
absl::Status ParseHostPort(std::string_view text, IpAddress* addr, uint16_t* port);

// Fills a sockaddr_in or sockaddr_in6 for addr:port; returns its length.
socklen_t ToSockaddr(const IpAddress& addr, uint16_t port, sockaddr_storage* out);

// An endpoint "ADDR:PORT" or "[IPv6]:PORT" (port 1..65535); false when
// it is not one.
bool ParseEndpoint(std::string_view text, IpAddress* addr, uint16_t* port);

}  // namespace sw
