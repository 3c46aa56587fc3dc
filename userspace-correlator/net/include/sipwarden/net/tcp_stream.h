// SPDX-License-Identifier: BSD-2-Clause
// SIP over TCP: per-direction stream reassembly with SIP message framing by
// Content-Length (RFC 3261 section 18.3), shared by the offline decoder
// (segments out of a capture) and the live agent (segments the kernel
// copied). Keyed by connection direction, bounded in streams, bytes and
// segments held ahead of a hole; every eviction, gap and resynchronisation
// is counted. Time is the segments' own (event time), never the wall clock.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>

#include "sipwarden/ip.h"

namespace sw::net {

// TCP header flags the reassembler reads (the low bits of byte 13).
enum TcpFlag : uint8_t { kTcpFin = 0x01, kTcpSyn = 0x02, kTcpRst = 0x04 };

// One direction of a connection.
struct TcpFlowKey {
  IpAddress src, dst;
  uint16_t sport = 0, dport = 0;
  bool operator==(const TcpFlowKey&) const = default;
};

struct TcpLimits {
  size_t max_streams = 65536;            // directions followed at once (least recent evicted)
  size_t max_buffer = 512u << 10;        // unframed bytes kept per direction
  size_t max_out_of_order = 64;          // segments held ahead of a hole
  size_t max_sip_message = 256u << 10;   // header block + body
  int64_t idle_timeout_ns = 600'000'000'000;
  // A hole not filled within this time is skipped (its partial message is
  // lost, counted as a gap) and framing resumes at the next message. 0: a
  // hole is skipped only once max_out_of_order segments wait behind it
  // (captures, where a segment that is missing stays missing).
  int64_t hole_timeout_ns = 0;
  // Bytes held over all streams; beyond it the least recently used streams
  // are evicted. 0: bounded only by max_streams * max_buffer.
  size_t max_total_bytes = 0;
};

struct TcpStats {
  uint64_t segments = 0;          // segments added (with or without payload)
  uint64_t retransmissions = 0;   // segments whose bytes were already delivered (wholly or partly)
  uint64_t out_of_order = 0;      // segments that arrived ahead of a hole
  uint64_t gaps = 0;              // holes skipped: bytes never seen (lost, cut short, timed out)
  uint64_t bytes_lost = 0;        // bytes known to be missing (segments cut short by a snap length)
  uint64_t streams_evicted = 0;   // dropped for space
  uint64_t streams_expired = 0;   // idle longer than idle_timeout_ns
  uint64_t messages = 0;          // SIP messages framed
  uint64_t framing_errors = 0;    // bad Content-Length, oversized header blocks or buffers
  uint64_t resyncs = 0;           // lines skipped to find the next message start
  uint64_t not_sip = 0;           // segments of flows on other ports that are not SIP
};

class TcpReassembler {
 public:
  // Called with each complete SIP message and the direction it came on; the
  // view is valid during the call.
  using Emit = std::function<void(const TcpFlowKey& key, std::string_view message)>;

  explicit TcpReassembler(TcpLimits limits = {});
  ~TcpReassembler();
  TcpReassembler(const TcpReassembler&) = delete;
  TcpReassembler& operator=(const TcpReassembler&) = delete;

  // Feeds one segment of key's direction. seq and flags as on the wire.
  // payload is what was captured of the segment's payload; wire_len its
  // length on the wire (0 or payload.size() when nothing was cut off): the
  // bytes beyond payload are a hole, skipped at once. sip_port: the flow is
  // on a SIP port; other flows are followed only from a segment that starts
  // a SIP message. SYN starts a stream afresh; FIN and RST end it (after
  // framing what they carry). A stream joined mid-way (no SYN seen) skips to
  // the first line that starts a SIP message.
  void Add(const TcpFlowKey& key, int64_t ts_ns, uint32_t seq, uint8_t flags, bool sip_port,
           std::string_view payload, size_t wire_len, const Emit& emit);
  // Forgets streams idle longer than idle_timeout_ns and skips holes older
  // than hole_timeout_ns (framing what follows them), relative to now_ns.
  void Expire(int64_t now_ns, const Emit& emit);

  const TcpStats& stats() const { return stats_; }
  size_t streams() const { return map_.size(); }
  // Bytes held: unframed stream bytes and segments waiting behind holes.
  size_t buffered_bytes() const { return buffered_; }

 private:
  struct Pending {
    std::string data;
    uint32_t lost = 0;  // bytes cut off the segment's end
  };
  struct Stream {
    uint32_t next_seq = 0;
    std::string buf;                    // contiguous, not yet framed
    std::map<uint32_t, Pending> ooo;    // segments ahead of next_seq (by seq - next_seq at insertion)
    int64_t last_ts = 0;
    int64_t hole_since = 0;             // when the first segment queued behind the current hole
    bool resync = false;                // skipping to the next message start
    std::list<TcpFlowKey>::iterator lru;
  };
  struct Hash {
    size_t operator()(const TcpFlowKey& k) const;
  };
  using Map = std::unordered_map<TcpFlowKey, Stream, Hash>;

  void Insert(const TcpFlowKey& key, Stream& s, int64_t ts, uint32_t seq,
              std::string_view payload, uint32_t lost, const Emit& emit);
  void SkipHole(const TcpFlowKey& key, Stream& s, int64_t ts, const Emit& emit);
  void Drain(const TcpFlowKey& key, Stream& s, const Emit& emit);
  void Append(const TcpFlowKey& key, Stream& s, std::string_view p, uint32_t lost,
              const Emit& emit);
  void Frame(const TcpFlowKey& key, Stream& s, const Emit& emit);
  void ClearBuffers(Stream& s);
  void Erase(Map::iterator it);

  TcpLimits limits_;
  TcpStats stats_;
  Map map_;
  std::list<TcpFlowKey> lru_;  // least recently used first
  size_t buffered_ = 0;
  size_t holes_ = 0;           // streams with segments waiting behind a hole
};

}  // namespace sw::net
