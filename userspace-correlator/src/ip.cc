// SPDX-License-Identifier: BSD-2-Clause
#include "sipwarden/ip.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <array>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "sipwarden/absl_compat.h"

namespace sw {
namespace {
constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
}  // namespace

bool IpAddress::is_v4() const { return std::memcmp(bytes.data(), kMappedPrefix, 12) == 0; }

std::array<uint8_t, 4> IpAddress::v4() const {
  return {bytes[12], bytes[13], bytes[14], bytes[15]};
}

IpAddress IpAddress::FromV4(const uint8_t b[4]) {
  IpAddress a;
  std::memcpy(a.bytes.data(), kMappedPrefix, 12);
  std::memcpy(a.bytes.data() + 12, b, 4);
  return a;
}

IpAddress IpAddress::FromV6(const uint8_t b[16]) {
  IpAddress a;
  std::memcpy(a.bytes.data(), b, 16);
  return a;
}

IpAddress IpAddress::FromMapped(const uint8_t b[16]) { return FromV6(b); }

absl::StatusOr<IpAddress> IpAddress::Parse(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  if (text.empty() || text.size() > INET6_ADDRSTRLEN) {
    return absl::InvalidArgumentError(absl::StrCat("not an IP address: '", AV(text), "'"));
  }
  std::string s(text);
  uint8_t buf[16];
  if (s.find(':') == std::string::npos) {
    if (inet_pton(AF_INET, s.c_str(), buf) == 1) return FromV4(buf);
  } else if (inet_pton(AF_INET6, s.c_str(), buf) == 1) {
    return FromV6(buf);
  }
  return absl::InvalidArgumentError(absl::StrCat("not an IP address: '", AV(text), "'"));
}

static_assert(IpAddress::kMaxText >= INET6_ADDRSTRLEN);

size_t IpAddress::Format(char* out) const {
  if (is_v4()) {
    // What inet_ntop writes, without its sprintf: events print two
    // addresses each. Each octet is one 4-byte store of its digits and a dot
    // from a table; the pointer moves past the digits (and the dot but for
    // the last octet), so a store's spare bytes are overwritten by the next
    // or lie past the text (at most 3 bytes: well inside kMaxText).
    struct Octet {
      char text[4];
      uint8_t digits;
    };
    static constexpr auto kOctets = [] {
      std::array<Octet, 256> t{};
      for (unsigned v = 0; v < 256; ++v) {
        Octet& o = t[v];
        if (v >= 100) o.text[o.digits++] = static_cast<char>('0' + v / 100);
        if (v >= 10) o.text[o.digits++] = static_cast<char>('0' + (v / 10) % 10);
        o.text[o.digits++] = static_cast<char>('0' + v % 10);
        o.text[o.digits] = '.';
      }
      return t;
    }();
    char* p = out;
    for (int i = 12; i < 16; ++i) {
      const Octet& o = kOctets[bytes[i]];
      std::memcpy(p, o.text, 4);
      p += o.digits + (i < 15);
    }
    return static_cast<size_t>(p - out);
  }
  // out holds kMaxText bytes, room for inet_ntop's text and its NUL.
  if (!inet_ntop(AF_INET6, bytes.data(), out, kMaxText)) return 0;
  return std::strlen(out);
}

std::string IpAddress::ToString() const {
  char out[kMaxText];
  return std::string(out, Format(out));
}

absl::StatusOr<IpPrefix> IpPrefix::Parse(std::string_view text) {
  std::string_view addr_text = text;
  std::string_view len_text;
  if (auto slash = text.find('/'); slash != std::string_view::npos) {
    addr_text = text.substr(0, slash);
    len_text = text.substr(slash + 1);
    if (len_text.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("missing prefix length in '", AV(text), "'"));
    }
  }
  auto addr = IpAddress::Parse(addr_text);
  if (!addr.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("not an IP prefix: '", AV(text), "'"));
  }
  const int max_len = addr->is_v4() ? 32 : 128;
  int len = max_len;
  if (!len_text.empty()) {
    for (char c : len_text) {
      if (c < '0' || c > '9') {
        return absl::InvalidArgumentError(absl::StrCat("bad prefix length in '", AV(text), "'"));
      }
    }
    if (!absl::SimpleAtoi(AV(len_text), &len) || len < 0 || len > max_len) {
      return absl::InvalidArgumentError(
          absl::StrCat("prefix length out of range 0..", max_len, " in '", AV(text), "'"));
    }
  }
  IpPrefix p;
  p.addr = *addr;
  p.length = len;
  // Host bits below the prefix must be zero.
  const int offset = addr->is_v4() ? 96 : 0;
  for (int bit = offset + len; bit < 128; ++bit) {
    if (p.addr.bytes[bit / 8] & (0x80 >> (bit % 8))) {
      return absl::InvalidArgumentError(
          absl::StrCat("host bits set in '", AV(text), "' (did you mean a network address?)"));
    }
  }
  return p;
}

bool IpPrefix::Contains(const IpAddress& a) const {
  if (a.is_v4() != addr.is_v4()) return false;
  const int bits = (addr.is_v4() ? 96 : 0) + length;
  for (int bit = 0; bit < bits; ++bit) {
    const uint8_t mask = 0x80 >> (bit % 8);
    if ((a.bytes[bit / 8] & mask) != (addr.bytes[bit / 8] & mask)) return false;
  }
  return true;
}

absl::Status ParseHostPort(std::string_view text, IpAddress* addr, uint16_t* port) {
  std::string_view host, port_text;
  if (!text.empty() && text[0] == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return absl::InvalidArgumentError(absl::StrCat("bad address '", AV(text), "' ([IPv6]:PORT)"));
    }
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("bad address '", AV(text), "' (HOST:PORT)"));
    }
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {  // IPv6 needs brackets to be unambiguous
      return absl::InvalidArgumentError(absl::StrCat("bad address '", AV(text), "' ([IPv6]:PORT)"));
    }
  }
  uint32_t p;
  if (!absl::SimpleAtoi(AV(port_text), &p) || p > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("bad port in '", AV(text), "'"));
  }
  auto ip = IpAddress::Parse(host);
  if (!ip.ok()) return absl::InvalidArgumentError(absl::StrCat("bad address in '", AV(text), "'"));
  *addr = *ip;
  *port = static_cast<uint16_t>(p);
  return absl::OkStatus();
}

socklen_t ToSockaddr(const IpAddress& addr, uint16_t port, sockaddr_storage* out) {
  *out = sockaddr_storage{};
  if (addr.is_v4()) {
    auto* a = reinterpret_cast<sockaddr_in*>(out);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    std::memcpy(&a->sin_addr, addr.bytes.data() + 12, 4);
    return sizeof(*a);
  }
  auto* a = reinterpret_cast<sockaddr_in6*>(out);
  a->sin6_family = AF_INET6;
  a->sin6_port = htons(port);
  std::memcpy(&a->sin6_addr, addr.bytes.data(), 16);
  return sizeof(*a);
}

std::string IpPrefix::ToString() const { return absl::StrCat(addr.ToString(), "/", length); }

bool ParseEndpoint(std::string_view text, IpAddress* addr, uint16_t* port) {
  std::string_view host;
  std::string_view p;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return false;
    }
    host = text.substr(1, close - 1);
    p = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return false;
    host = text.substr(0, colon);
    p = text.substr(colon + 1);
  }
  uint32_t n;
  if (!absl::SimpleAtoi(AV(p), &n) || n == 0 || n > 65535) return false;
  auto ip = IpAddress::Parse(host);
  if (!ip.ok()) return false;
  *addr = *ip;
  *port = static_cast<uint16_t>(n);
  return true;
}

}  // namespace sw
