// SPDX-License-Identifier: BSD-2-Clause
#include "sipwarden/net/decoder.h"

#include <algorithm>
#include <cstring>
#include <list>
#include <vector>

namespace sw::net {
namespace {

constexpr uint8_t kProtoHopByHop = 0, kProtoIpIp = 4, kProtoTcp = 6, kProtoUdp = 17,
                  kProtoIpv6 = 41, kProtoRouting = 43, kProtoFragment = 44, kProtoGre = 47,
                  kProtoAh = 51, kProtoNoNext = 59, kProtoDstOpts = 60;

uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t Be32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Key of a TCP direction or an IP datagram being reassembled.
struct FlowKey {
  IpAddress src, dst;
  uint32_t a = 0, b = 0;  // ports, or (id, proto) for fragments
  bool operator==(const FlowKey&) const = default;
};

struct FlowHash {
  size_t operator()(const FlowKey& k) const {
    uint64_t h = 1469598103934665603ull;
    auto mix = [&h](const uint8_t* p, size_t n) {
      for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
    };
    mix(k.src.bytes.data(), 16);
    mix(k.dst.bytes.data(), 16);
    mix(reinterpret_cast<const uint8_t*>(&k.a), 4);
    mix(reinterpret_cast<const uint8_t*>(&k.b), 4);
    return static_cast<size_t>(h);
  }
};

}  // namespace

bool LinkTypeFromDlt(int dlt, LinkType* out) {
  switch (dlt) {
    case 1: *out = LinkType::kEthernet; return true;
    case 12: case 14: case 101: case 228: case 229: *out = LinkType::kRawIp; return true;
    case 113: *out = LinkType::kLinuxSll; return true;
    case 276: *out = LinkType::kLinuxSll2; return true;
    case 0: case 108: *out = LinkType::kNull; return true;
  }
  return false;
}

bool LooksLikeSipStart(std::string_view s) {
  if (s.substr(0, 8) == "SIP/2.0 ") return true;
  // token SP ... SP SIP/2.0 CRLF on the first line
  size_t i = 0;
  while (i < s.size() && i < 32 && s[i] >= 'A' && s[i] <= 'Z') ++i;
  if (i == 0 || i >= s.size() || s[i] != ' ') return false;
  const size_t eol = s.find("\r\n");
  const std::string_view line = s.substr(0, std::min(eol, s.size()));
  return line.size() > 8 && line.substr(line.size() - 8) == " SIP/2.0";
}

int64_t SipFrameLength(std::string_view buf, size_t max_message) {
  size_t hdr_end = buf.find("\r\n\r\n");
  size_t sep = 4;
  if (hdr_end == std::string_view::npos) {
    if (buf.size() > max_message) return -1;
    return 0;
  }
  if (hdr_end + sep > max_message) return -1;
  const std::string_view headers = buf.substr(0, hdr_end + 2);
  // Content-Length (or compact "l"); the first line is skipped. Folded
  // continuation lines (starting with SP/HTAB) belong to the header before.
  int64_t content_length = -1;
  size_t pos = headers.find("\r\n");
  while (pos != std::string_view::npos && pos + 2 < headers.size()) {
    const size_t start = pos + 2;
    size_t end = headers.find("\r\n", start);
    if (end == std::string_view::npos) end = headers.size();
    // extend over folded lines
    while (end + 2 < headers.size() && (headers[end + 2] == ' ' || headers[end + 2] == '\t')) {
      const size_t next = headers.find("\r\n", end + 2);
      end = next == std::string_view::npos ? headers.size() : next;
    }
    const std::string_view line = headers.substr(start, end - start);
    const size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      const std::string_view name = Trim(line.substr(0, colon));
      if (IEquals(name, "content-length") || IEquals(name, "l")) {
        std::string_view v = Trim(line.substr(colon + 1));
        // folding inside the value: keep digits only if all else is whitespace
        int64_t n = 0;
        bool digits = false;
        for (char c : v) {
          if (c >= '0' && c <= '9') {
            n = n * 10 + (c - '0');
            digits = true;
            if (n > static_cast<int64_t>(max_message)) return -1;
          } else if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            continue;
          } else {
            return -1;
          }
        }
        if (!digits) return -1;
        if (content_length >= 0 && content_length != n) return -1;  // conflicting values
        content_length = n;
      }
    }
    pos = end;
  }
  if (content_length < 0) content_length = 0;
  const uint64_t total = hdr_end + sep + static_cast<uint64_t>(content_length);
  if (total > max_message) return -1;
  if (total > buf.size()) return 0;
  return static_cast<int64_t>(total);
}

// ---- per-frame context ---------------------------------------------------------------

struct Decoder::Ctx {
  int64_t ts_ns = 0;
  uint16_t vlan = 0;
  uint16_t encap = 0;
  IpAddress src, dst;
};

// ---- IP fragment reassembly ----------------------------------------------------------

class Decoder::Fragments {
 public:
  Fragments(const DecoderLimits& limits, DecoderStats& stats) : limits_(limits), stats_(stats) {}

  // Adds a fragment. Returns true and fills out when the datagram is complete.
  bool Add(const FlowKey& key, int64_t ts, uint32_t offset, bool more,
           std::span<const uint8_t> data, std::string& out) {
    auto it = map_.find(key);
    if (it == map_.end()) {
      while (map_.size() >= limits_.max_frag_datagrams ||
             (bytes_ + data.size() > limits_.max_frag_bytes && !lru_.empty())) {
        EvictOldest();
        ++stats_.frag_evicted;
      }
      if (data.size() > limits_.max_frag_bytes) {
        ++stats_.frag_evicted;
        return false;
      }
      lru_.push_back(key);
      it = map_.emplace(key, Datagram{}).first;
      it->second.lru = std::prev(lru_.end());
      it->second.first_ts = ts;
    }
    Datagram& d = it->second;
    if (!more) {
      if (d.total >= 0 && d.total != static_cast<int64_t>(offset + data.size())) {
        ++stats_.frag_overlaps;  // two different "last" fragments: give up on it
        Erase(it);
        return false;
      }
      d.total = offset + data.size();
    }
    if (offset + data.size() > 65535 + 8) {  // beyond any IP datagram
      Erase(it);
      ++stats_.frag_overlaps;
      return false;
    }
    // First data wins where fragments overlap (counted).
    auto [pos, inserted] = d.pieces.emplace(offset, std::string(data.begin(), data.end()));
    if (!inserted) {
      ++stats_.frag_overlaps;
    } else {
      d.bytes += data.size();
      bytes_ += data.size();
    }
    if (d.total < 0) return false;
    // Complete when the pieces cover [0, total) without holes.
    out.clear();
    uint32_t next = 0;
    for (const auto& [off, piece] : d.pieces) {
      if (off > next) return false;
      if (off + piece.size() > next) {
        const size_t skip = next - off;
        if (off < next) ++stats_.frag_overlaps;
        out.append(piece, skip, std::string::npos);
        next = off + static_cast<uint32_t>(piece.size());
      }
    }
    if (next < d.total) return false;
    out.resize(d.total);
    Erase(it);
    ++stats_.reassembled;
    return true;
  }

  void Expire(int64_t now) {
    while (!lru_.empty()) {
      auto it = map_.find(lru_.front());
      if (now - it->second.first_ts < limits_.frag_timeout_ns) break;
      Erase(it);
      ++stats_.frag_timeouts;
    }
  }

  size_t size() const { return map_.size(); }

 private:
  struct Datagram {
    std::map<uint32_t, std::string> pieces;
    int64_t total = -1;
    int64_t first_ts = 0;
    size_t bytes = 0;
    std::list<FlowKey>::iterator lru;
  };
  using Map = std::unordered_map<FlowKey, Datagram, FlowHash>;

  void Erase(Map::iterator it) {
    bytes_ -= it->second.bytes;
    lru_.erase(it->second.lru);
    map_.erase(it);
  }
  void EvictOldest() { Erase(map_.find(lru_.front())); }

  const DecoderLimits& limits_;
  DecoderStats& stats_;
  Map map_;
  std::list<FlowKey> lru_;  // oldest first (by creation: timeouts count from the first fragment)
  size_t bytes_ = 0;
};

// ---- the decoder ---------------------------------------------------------------------

Decoder::Decoder(DecoderLimits limits, Sink sink, std::function<bool(uint16_t)> sip_tcp_port)
    : limits_(limits),
      sink_(std::move(sink)),
      sip_tcp_port_(std::move(sip_tcp_port)),
      frags_(std::make_unique<Fragments>(limits_, stats_)),
      tcp_(std::make_unique<TcpReassembler>(TcpLimits{
          .max_streams = limits_.max_tcp_streams,
          .max_buffer = limits_.max_tcp_buffer,
          .max_out_of_order = limits_.max_tcp_out_of_order,
          .max_sip_message = limits_.max_sip_message,
          .idle_timeout_ns = limits_.tcp_idle_timeout_ns,
      })) {
  if (!sip_tcp_port_) {
    sip_tcp_port_ = [](uint16_t p) { return p == 5060 || p == 5080; };
  }
}

Decoder::~Decoder() = default;

size_t Decoder::tcp_streams() const { return tcp_->streams(); }
const TcpStats& Decoder::tcp_stats() const { return tcp_->stats(); }
size_t Decoder::frag_datagrams() const { return frags_->size(); }

void Decoder::Advance(int64_t ts_ns) {
  frags_->Expire(ts_ns);
  tcp_->Expire(ts_ns, [](const TcpFlowKey&, std::string_view) {});
}

void Decoder::Frame(LinkType link, int64_t ts_ns, std::span<const uint8_t> d) {
  ++stats_.frames;
  ++frame_no_;
  Ctx c;
  c.ts_ns = ts_ns;
  switch (link) {
    case LinkType::kEthernet:
      Ether(c, d, 0);
      break;
    case LinkType::kRawIp:
      if (d.empty()) {
        ++stats_.truncated;
        return;
      }
      L3(c, (d[0] >> 4) == 6 ? 0x86dd : 0x0800, d, 0);
      break;
    case LinkType::kLinuxSll:
      if (d.size() < 16) {
        ++stats_.truncated;
        return;
      }
      L3(c, Be16(d.data() + 14), d.subspan(16), 0);
      break;
    case LinkType::kLinuxSll2:
      if (d.size() < 20) {
        ++stats_.truncated;
        return;
      }
      L3(c, Be16(d.data()), d.subspan(20), 0);
      break;
    case LinkType::kNull: {
      if (d.size() < 4) {
        ++stats_.truncated;
        return;
      }
      // The family is in the capturing host's byte order: accept both.
      uint32_t fam;
      std::memcpy(&fam, d.data(), 4);
      const uint32_t swapped = __builtin_bswap32(fam);
      auto is6 = [](uint32_t f) { return f == 10 || f == 24 || f == 28 || f == 30; };
      if (fam == 2 || swapped == 2) {
        L3(c, 0x0800, d.subspan(4), 0);
      } else if (is6(fam) || is6(swapped)) {
        L3(c, 0x86dd, d.subspan(4), 0);
      } else {
        ++stats_.non_ip;
      }
      break;
    }
  }
  // Housekeeping on event time, cheaply: every 1024 frames.
  if ((frame_no_ & 1023) == 0) Advance(ts_ns);
}

void Decoder::Ether(Ctx& c, std::span<const uint8_t> d, int depth) {
  if (d.size() < 14) {
    ++stats_.truncated;
    return;
  }
  uint16_t type = Be16(d.data() + 12);
  size_t off = 14;
  for (int tags = 0; tags < 4 && (type == 0x8100 || type == 0x88a8 || type == 0x9100); ++tags) {
    if (d.size() < off + 4) {
      ++stats_.truncated;
      return;
    }
    if (!(c.encap & kEncapVlan)) c.vlan = Be16(d.data() + off) & 0x0fff;
    c.encap |= kEncapVlan;
    type = Be16(d.data() + off + 2);
    off += 4;
  }
  L3(c, type, d.subspan(off), depth);
}

void Decoder::L3(Ctx& c, uint16_t ethertype, std::span<const uint8_t> d, int depth) {
  if (ethertype == 0x0800) {
    Ipv4(c, d, depth);
  } else if (ethertype == 0x86dd) {
    Ipv6(c, d, depth);
  } else {
    ++stats_.non_ip;
  }
}

void Decoder::Ipv4(Ctx& c, std::span<const uint8_t> d, int depth) {
  if (d.size() < 20) {
    ++stats_.truncated;
    return;
  }
  const size_t ihl = (d[0] & 0x0f) * 4u;
  const size_t total = Be16(d.data() + 2);
  if ((d[0] >> 4) != 4 || ihl < 20 || total < ihl) {
    ++stats_.bad_ip;
    return;
  }
  if (total > d.size()) {
    ++stats_.truncated;
    return;
  }
  c.src = IpAddress::FromV4(d.data() + 12);
  c.dst = IpAddress::FromV4(d.data() + 16);
  const uint8_t proto = d[9];
  const uint16_t frag = Be16(d.data() + 6);
  auto payload = d.subspan(ihl, total - ihl);  // Ethernet padding excluded
  if (frag & 0x3fff) {
    ++stats_.fragments;
    FlowKey key{c.src, c.dst, Be16(d.data() + 4), proto};
    std::string whole;
    if (!frags_->Add(key, c.ts_ns, (frag & 0x1fff) * 8u, (frag & 0x2000) != 0, payload, whole)) {
      return;
    }
    c.encap |= kEncapFragmented;
    L4(c, proto, std::span(reinterpret_cast<const uint8_t*>(whole.data()), whole.size()), depth);
    return;
  }
  L4(c, proto, payload, depth);
}

void Decoder::Ipv6(Ctx& c, std::span<const uint8_t> d, int depth) {
  if (d.size() < 40) {
    ++stats_.truncated;
    return;
  }
  if ((d[0] >> 4) != 6) {
    ++stats_.bad_ip;
    return;
  }
  const size_t plen = Be16(d.data() + 4);
  if (40 + plen > d.size()) {
    ++stats_.truncated;
    return;
  }
  c.src = IpAddress::FromV6(d.data() + 8);
  c.dst = IpAddress::FromV6(d.data() + 24);
  uint8_t nh = d[6];
  auto p = d.subspan(40, plen);
  for (int i = 0; i < 8; ++i) {
    if (nh == kProtoHopByHop || nh == kProtoRouting || nh == kProtoDstOpts || nh == kProtoAh) {
      if (p.size() < 2) {
        ++stats_.truncated;
        return;
      }
      const size_t len = nh == kProtoAh ? (p[1] + 2u) * 4 : (p[1] + 1u) * 8;
      if (len > p.size()) {
        ++stats_.truncated;
        return;
      }
      nh = p[0];
      p = p.subspan(len);
    } else if (nh == kProtoFragment) {
      if (p.size() < 8) {
        ++stats_.truncated;
        return;
      }
      ++stats_.fragments;
      const uint8_t next = p[0];
      const uint16_t fo = Be16(p.data() + 2);
      FlowKey key{c.src, c.dst, Be32(p.data() + 4), next};
      std::string whole;
      if (!frags_->Add(key, c.ts_ns, fo & 0xfff8, (fo & 1) != 0, p.subspan(8), whole)) return;
      c.encap |= kEncapFragmented;
      L4(c, next, std::span(reinterpret_cast<const uint8_t*>(whole.data()), whole.size()), depth);
      return;
    } else {
      break;
    }
  }
  if (nh == kProtoNoNext) return;
  L4(c, nh, p, depth);
}

void Decoder::Gre(Ctx& c, std::span<const uint8_t> d, int depth) {
  if (d.size() < 4) {
    ++stats_.truncated;
    return;
  }
  const uint16_t flags = Be16(d.data());
  const uint16_t proto = Be16(d.data() + 2);
  size_t off = 4;
  if (flags & 0x8000) off += 4;  // checksum + reserved
  if (flags & 0x2000) off += 4;  // key
  if (flags & 0x1000) off += 4;  // sequence number
  if ((flags & 0x0007) != 0) {   // GRE version 1 (PPTP) is not ours
    ++stats_.unsupported_l4;
    return;
  }
  if (d.size() < off) {
    ++stats_.truncated;
    return;
  }
  auto inner = d.subspan(off);
  c.encap |= kEncapGre;
  switch (proto) {
    case 0x0800:
    case 0x86dd:
      L3(c, proto, inner, depth + 1);
      return;
    case 0x6558:  // transparent Ethernet bridging
      Ether(c, inner, depth + 1);
      return;
    case 0x88be:  // ERSPAN type II: 8-byte header (type I has none, no sequence bit)
      c.encap |= kEncapErspan;
      if (!(flags & 0x1000)) {
        Ether(c, inner, depth + 1);
        return;
      }
      if (inner.size() < 8) {
        ++stats_.truncated;
        return;
      }
      Ether(c, inner.subspan(8), depth + 1);
      return;
    case 0x22eb: {  // ERSPAN type III: 12 bytes, plus 8 with the O flag
      c.encap |= kEncapErspan;
      if (inner.size() < 12) {
        ++stats_.truncated;
        return;
      }
      const size_t h = (inner[11] & 0x01) ? 20 : 12;
      if (inner.size() < h) {
        ++stats_.truncated;
        return;
      }
      Ether(c, inner.subspan(h), depth + 1);
      return;
    }
  }
  ++stats_.unsupported_l4;
}

void Decoder::L4(Ctx& c, uint8_t proto, std::span<const uint8_t> d, int depth) {
  if (proto == kProtoIpIp || proto == kProtoIpv6 || proto == kProtoGre) {
    if (depth >= limits_.max_encap_depth) {
      ++stats_.unsupported_l4;
      return;
    }
    if (depth == 0) ++stats_.encapsulated;
    if (proto == kProtoGre) {
      Gre(c, d, depth);
      return;
    }
    c.encap |= kEncapIpInIp;
    if (proto == kProtoIpIp) {
      Ipv4(c, d, depth + 1);
    } else {
      Ipv6(c, d, depth + 1);
    }
    return;
  }
  if (proto == kProtoUdp) {
    if (d.size() < 8) {
      ++stats_.truncated;
      return;
    }
    const size_t ulen = Be16(d.data() + 4);
    // A zero length is legal for IPv6 jumbograms only; use what is there.
    if (ulen != 0 && (ulen < 8 || ulen > d.size())) {
      ++stats_.truncated;
      return;
    }
    ++stats_.udp_datagrams;
    AppMessage m;
    m.ts_ns = c.ts_ns;
    m.src = c.src;
    m.dst = c.dst;
    m.sport = Be16(d.data());
    m.dport = Be16(d.data() + 2);
    m.transport = kProtoUdp;
    m.vlan = c.vlan;
    m.encap = c.encap;
    m.frame_no = frame_no_;
    const size_t n = ulen ? ulen : d.size();
    m.payload = std::string_view(reinterpret_cast<const char*>(d.data() + 8), n - 8);
    sink_(m);
    return;
  }
  if (proto == kProtoTcp) {
    if (d.size() < 20) {
      ++stats_.truncated;
      return;
    }
    const size_t doff = (d[12] >> 4) * 4u;
    if (doff < 20 || doff > d.size()) {
      ++stats_.truncated;
      return;
    }
    ++stats_.tcp_segments;
    const uint16_t sport = Be16(d.data()), dport = Be16(d.data() + 2);
    const bool sip_port = sip_tcp_port_(sport) || sip_tcp_port_(dport);
    const TcpFlowKey key{c.src, c.dst, sport, dport};
    const std::string_view payload(reinterpret_cast<const char*>(d.data() + doff), d.size() - doff);
    tcp_->Add(key, c.ts_ns, Be32(d.data() + 4), d[13], sip_port, payload, payload.size(),
              [&](const TcpFlowKey&, std::string_view msg) {
                AppMessage m;
                m.ts_ns = c.ts_ns;
                m.src = c.src;
                m.dst = c.dst;
                m.sport = sport;
                m.dport = dport;
                m.transport = kProtoTcp;
                m.vlan = c.vlan;
                m.encap = c.encap | kEncapTcpStream;
                m.frame_no = frame_no_;
                m.payload = msg;
                sink_(m);
              });
    return;
  }
  ++stats_.unsupported_l4;
}

}  // namespace sw::net
