// SPDX-License-Identifier: BSD-2-Clause
#include "sipwarden/net/hep.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace sw::net {
namespace {

uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t Be32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}

void Put16(std::string& s, uint16_t v) {
  s.push_back(static_cast<char>(v >> 8));
  s.push_back(static_cast<char>(v));
}
void Put32(std::string& s, uint32_t v) {
  Put16(s, static_cast<uint16_t>(v >> 16));
  Put16(s, static_cast<uint16_t>(v));
}
void Chunk(std::string& s, uint16_t type, std::string_view body) {
  Put16(s, 0);  // generic vendor
  Put16(s, type);
  Put16(s, static_cast<uint16_t>(6 + body.size()));
  s.append(body);
}
std::string U8(uint8_t v) { return std::string(1, static_cast<char>(v)); }
std::string U16(uint16_t v) {
  std::string s;
  Put16(s, v);
  return s;
}
std::string U32(uint32_t v) {
  std::string s;
  Put32(s, v);
  return s;
}

}  // namespace

absl::StatusOr<HepPacket> DecodeHep(std::span<const uint8_t> d) {
  if (d.size() < 6 || std::memcmp(d.data(), "HEP3", 4) != 0) {
    return absl::InvalidArgumentError("not a HEPv3 packet (no HEP3 magic)");
  }
  const size_t total = Be16(d.data() + 4);
  if (total < 6 || total > d.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("HEP length ", total, " does not fit the ", d.size(), "-byte datagram"));
  }
  HepPacket p;
  bool have_src = false, have_dst = false, have_payload = false;
  uint32_t secs = 0, usecs = 0;
  size_t off = 6;
  while (off < total) {
    if (total - off < 6) return absl::InvalidArgumentError("truncated HEP chunk header");
    const uint16_t vendor = Be16(d.data() + off);
    const uint16_t type = Be16(d.data() + off + 2);
    const size_t len = Be16(d.data() + off + 4);
    if (len < 6 || len > total - off) {
      return absl::InvalidArgumentError(
          absl::StrCat("HEP chunk ", type, " has a bad length ", len, " at byte ", off));
    }
    const uint8_t* b = d.data() + off + 6;
    const size_t n = len - 6;
    off += len;
    if (vendor != 0) continue;  // vendor chunks: not ours
    auto need = [&](size_t want) -> absl::Status {
      if (n != want) {
        return absl::InvalidArgumentError(
            absl::StrCat("HEP chunk ", type, " is ", n, " bytes, expected ", want));
      }
      return absl::OkStatus();
    };
    absl::Status st;
    switch (type) {
      case 0x01: if ((st = need(1)).ok()) p.family = b[0]; break;
      case 0x02: if ((st = need(1)).ok()) p.ip_proto = b[0]; break;
      case 0x03: if ((st = need(4)).ok()) { p.src = IpAddress::FromV4(b); have_src = true; } break;
      case 0x04: if ((st = need(4)).ok()) { p.dst = IpAddress::FromV4(b); have_dst = true; } break;
      case 0x05: if ((st = need(16)).ok()) { p.src = IpAddress::FromV6(b); have_src = true; } break;
      case 0x06: if ((st = need(16)).ok()) { p.dst = IpAddress::FromV6(b); have_dst = true; } break;
      case 0x07: if ((st = need(2)).ok()) p.sport = Be16(b); break;
      case 0x08: if ((st = need(2)).ok()) p.dport = Be16(b); break;
      case 0x09: if ((st = need(4)).ok()) secs = Be32(b); break;
      case 0x0a: if ((st = need(4)).ok()) usecs = Be32(b); break;
      case 0x0b: if ((st = need(1)).ok()) p.proto_type = b[0]; break;
      case 0x0c: if ((st = need(4)).ok()) p.capture_id = Be32(b); break;
      case 0x0f:
        p.payload = std::string_view(reinterpret_cast<const char*>(b), n);
        have_payload = true;
        break;
      case 0x10:
        return absl::UnimplementedError("compressed HEP payloads are not supported");
      case 0x11: p.correlation_id = std::string_view(reinterpret_cast<const char*>(b), n); break;
      case 0x12: if ((st = need(2)).ok()) p.vlan = Be16(b); break;
      default: break;  // keep-alive timer, auth key, ...: not needed
    }
    if (!st.ok()) return st;
  }
  if (!have_src || !have_dst) return absl::InvalidArgumentError("HEP packet without addresses");
  if (!have_payload) return absl::InvalidArgumentError("HEP packet without a payload");
  if (usecs >= 1000000) return absl::InvalidArgumentError("HEP microseconds out of range");
  p.ts_ns = static_cast<int64_t>(secs) * 1000000000 + static_cast<int64_t>(usecs) * 1000;
  return p;
}

std::string EncodeHep(const HepPacket& p) {
  std::string body;
  const bool v4 = p.src.is_v4();
  Chunk(body, 0x01, U8(v4 ? 2 : 10));
  Chunk(body, 0x02, U8(p.ip_proto));
  if (v4) {
    const auto s = p.src.v4(), t = p.dst.v4();
    Chunk(body, 0x03, std::string_view(reinterpret_cast<const char*>(s.data()), 4));
    Chunk(body, 0x04, std::string_view(reinterpret_cast<const char*>(t.data()), 4));
  } else {
    Chunk(body, 0x05, std::string_view(reinterpret_cast<const char*>(p.src.bytes.data()), 16));
    Chunk(body, 0x06, std::string_view(reinterpret_cast<const char*>(p.dst.bytes.data()), 16));
  }
  Chunk(body, 0x07, U16(p.sport));
  Chunk(body, 0x08, U16(p.dport));
  Chunk(body, 0x09, U32(static_cast<uint32_t>(p.ts_ns / 1000000000)));
  Chunk(body, 0x0a, U32(static_cast<uint32_t>((p.ts_ns % 1000000000) / 1000)));
  Chunk(body, 0x0b, U8(p.proto_type));
  Chunk(body, 0x0c, U32(p.capture_id));
  if (!p.correlation_id.empty()) Chunk(body, 0x11, p.correlation_id);
  Chunk(body, 0x0f, p.payload);
  std::string out = "HEP3";
  Put16(out, static_cast<uint16_t>(6 + body.size()));
  out += body;
  return out;
}

}  // namespace sw::net
