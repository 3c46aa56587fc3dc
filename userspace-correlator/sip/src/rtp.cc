// SPDX-License-Identifier: BSD-2-Clause
#include "sipwarden/sip/rtp.h"

namespace sw::sip {
namespace {

uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
uint32_t Be32(const uint8_t* p) {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
         (static_cast<uint32_t>(p[2]) << 8) | p[3];
}

ParseError Error(Reason r, std::string_view what, size_t off) { return ParseError{r, what, off}; }

void ReadReports(const uint8_t* p, size_t n, RtcpPacket* pkt) {
  for (size_t k = 0; k < n; ++k, p += 24) {
    RtcpReportBlock b;
    b.ssrc = Be32(p);
    b.fraction_lost = p[4];
    uint32_t lost = (static_cast<uint32_t>(p[5]) << 16) | (static_cast<uint32_t>(p[6]) << 8) | p[7];
    b.cumulative_lost =
        (lost & 0x800000u) ? static_cast<int32_t>(lost) - 0x1000000 : static_cast<int32_t>(lost);
    b.highest_sequence = Be32(p + 8);
    b.jitter = Be32(p + 12);
    b.last_sr = Be32(p + 16);
    b.delay_since_last_sr = Be32(p + 20);
    pkt->reports.push_back(b);
  }
}

// Parses the body of one packet; `base` is its offset in the datagram.
std::optional<ParseError> ParseBody(RtcpPacket* pkt, size_t base) {
  const std::span<const uint8_t> b = pkt->body;
  const size_t n = b.size();
  const uint8_t* p = b.data();
  switch (pkt->packet_type) {
    case 200: {  // SR
      if (n < 24 + 24u * pkt->count) return Error(Reason::kBadRtcpHeader, "SR", base);
      pkt->ssrc = Be32(p);
      pkt->ntp_timestamp = (static_cast<uint64_t>(Be32(p + 4)) << 32) | Be32(p + 8);
      pkt->rtp_timestamp = Be32(p + 12);
      pkt->packet_count = Be32(p + 16);
      pkt->octet_count = Be32(p + 20);
      ReadReports(p + 24, pkt->count, pkt);
      return std::nullopt;
    }
    case 201: {  // RR
      if (n < 4 + 24u * pkt->count) return Error(Reason::kBadRtcpHeader, "RR", base);
      pkt->ssrc = Be32(p);
      ReadReports(p + 4, pkt->count, pkt);
      return std::nullopt;
    }
    case 202: {  // SDES: chunks of SSRC + items, each chunk ends with a null octet
      size_t i = 0;
      for (uint8_t c = 0; c < pkt->count; ++c) {
        if (i + 4 > n) return Error(Reason::kBadRtcpHeader, "SDES chunk", base + 4 + i);
        RtcpSdesChunk chunk;
        chunk.ssrc = Be32(p + i);
        i += 4;
        while (true) {
          if (i >= n) return Error(Reason::kBadRtcpHeader, "SDES item", base + 4 + i);
          const uint8_t type = p[i];
          if (type == 0) {
            i = (i + 4) & ~static_cast<size_t>(3);  // skip the null and pad to 32 bits
            break;
          }
          if (i + 2 > n || i + 2 + p[i + 1] > n) {
            return Error(Reason::kBadRtcpHeader, "SDES item", base + 4 + i);
          }
          if (chunk.items.size() < 16) {
            chunk.items.push_back(
                {type, std::string_view(reinterpret_cast<const char*>(p + i + 2), p[i + 1])});
          }
          i += 2 + p[i + 1];
        }
        pkt->sdes.push_back(std::move(chunk));
      }
      return std::nullopt;
    }
    case 203: {  // BYE
      if (n < 4u * pkt->count) return Error(Reason::kBadRtcpHeader, "BYE", base);
      for (uint8_t c = 0; c < pkt->count; ++c) pkt->bye_ssrcs.push_back(Be32(p + 4 * c));
      if (pkt->count > 0) pkt->ssrc = pkt->bye_ssrcs.front();
      const size_t r = 4u * pkt->count;
      if (r < n) {
        const size_t len = p[r];
        if (r + 1 + len > n) return Error(Reason::kBadRtcpHeader, "BYE reason", base + 4 + r);
        pkt->bye_reason = std::string_view(reinterpret_cast<const char*>(p + r + 1), len);
      }
      return std::nullopt;
    }
    case 204:  // APP
      if (n < 8) return Error(Reason::kBadRtcpHeader, "APP", base);
      pkt->ssrc = Be32(p);
      pkt->app_name = std::string_view(reinterpret_cast<const char*>(p + 4), 4);
      return std::nullopt;
    case 205:  // RTPFB
    case 206:  // PSFB
      if (n < 8) return Error(Reason::kBadRtcpHeader, "feedback", base);
      pkt->ssrc = Be32(p);
      pkt->media_ssrc = Be32(p + 4);
      return std::nullopt;
    case 207:  // XR
      if (n < 4) return Error(Reason::kBadRtcpHeader, "XR", base);
      pkt->ssrc = Be32(p);
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

}  // namespace

ParseResult<RtpHeader> ParseRtp(std::span<const uint8_t> pkt) {
  if (pkt.empty()) return Error(Reason::kEmpty, "RTP", 0);
  if (pkt.size() < 12) return Error(Reason::kTruncated, "RTP header", pkt.size());
  const uint8_t* p = pkt.data();
  RtpHeader h;
  h.version = p[0] >> 6;
  if (h.version != 2) return Error(Reason::kBadRtpHeader, "RTP version", 0);
  h.padding = (p[0] & 0x20) != 0;
  h.extension = (p[0] & 0x10) != 0;
  h.csrc_count = p[0] & 0x0f;
  h.marker = (p[1] & 0x80) != 0;
  h.payload_type = p[1] & 0x7f;
  h.sequence = Be16(p + 2);
  h.timestamp = Be32(p + 4);
  h.ssrc = Be32(p + 8);
  size_t off = 12;
  if (pkt.size() < off + 4u * h.csrc_count) return Error(Reason::kTruncated, "CSRC list", off);
  for (uint8_t k = 0; k < h.csrc_count; ++k, off += 4) h.csrcs.push_back(Be32(p + off));
  if (h.extension) {
    if (pkt.size() < off + 4) return Error(Reason::kTruncated, "RTP extension", off);
    h.extension_profile = Be16(p + off);
    const size_t words = Be16(p + off + 2);
    if (pkt.size() < off + 4 + 4 * words) return Error(Reason::kTruncated, "RTP extension", off);
    h.extension_data = pkt.subspan(off + 4, 4 * words);
    off += 4 + 4 * words;
  }
  h.header_length = off;
  size_t end = pkt.size();
  if (h.padding) {
    const uint8_t pad = p[pkt.size() - 1];
    if (pad == 0 || pad > pkt.size() - off)
      return Error(Reason::kBadLength, "RTP padding", end - 1);
    h.padding_length = pad;
    end -= pad;
  }
  h.payload = pkt.subspan(off, end - off);
  return h;
}

std::string_view RtcpTypeName(uint8_t t) {
  switch (t) {
    case 200:
      return "SR";
    case 201:
      return "RR";
    case 202:
      return "SDES";
    case 203:
      return "BYE";
    case 204:
      return "APP";
    case 205:
      return "RTPFB";
    case 206:
      return "PSFB";
    case 207:
      return "XR";
    default:
      return "unknown";
  }
}

ParseResult<RtcpCompound> ParseRtcp(std::span<const uint8_t> d, const RtcpLimits& limits) {
  if (d.empty()) return Error(Reason::kEmpty, "RTCP", 0);
  RtcpCompound c;
  size_t off = 0;
  while (off < d.size()) {
    if (d.size() - off < 4) return Error(Reason::kTruncated, "RTCP header", off);
    if (c.packets.size() >= limits.max_packets) {
      return Error(Reason::kTooManyPackets, "RTCP", off);
    }
    const uint8_t* p = d.data() + off;
    RtcpPacket pkt;
    pkt.version = p[0] >> 6;
    if (pkt.version != 2) return Error(Reason::kBadRtcpHeader, "RTCP version", off);
    pkt.padding = (p[0] & 0x20) != 0;
    pkt.count = p[0] & 0x1f;
    pkt.packet_type = p[1];
    pkt.length_words = Be16(p + 2);
    const size_t total = 4 * (static_cast<size_t>(pkt.length_words) + 1);
    if (total > d.size() - off) return Error(Reason::kTruncated, "RTCP length", off + 2);
    size_t body_len = total - 4;
    if (pkt.padding) {
      const uint8_t pad = p[total - 1];
      if (pad == 0 || pad > body_len) return Error(Reason::kBadLength, "RTCP padding", off);
      body_len -= pad;
      if (off + total < d.size()) c.warnings |= static_cast<uint32_t>(RtcpWarning::kPaddingNotLast);
    }
    pkt.body = d.subspan(off + 4, body_len);
    if (pkt.packet_type < 200 || pkt.packet_type > 207) {
      c.warnings |= static_cast<uint32_t>(RtcpWarning::kUnknownType);
    }
    if (c.packets.empty() && pkt.packet_type != 200 && pkt.packet_type != 201) {
      c.warnings |= static_cast<uint32_t>(RtcpWarning::kFirstNotReport);
    }
    if (auto err = ParseBody(&pkt, off)) return *err;
    c.packets.push_back(std::move(pkt));
    off += total;
  }
  return c;
}

bool LooksLikeRtcp(std::span<const uint8_t> d) {
  return d.size() >= 2 && (d[0] >> 6) == 2 && d[1] >= 192 && d[1] <= 223;
}

}  // namespace sw::sip
