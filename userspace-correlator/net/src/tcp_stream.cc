// SPDX-License-Identifier: BSD-2-Clause
#include "sipwarden/net/tcp_stream.h"

#include <iterator>

#include "sipwarden/net/decoder.h"

namespace sw::net {
namespace {

// Sequence-space distance a - b (RFC 793 modular comparison).
int32_t Diff(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b); }

}  // namespace

size_t TcpReassembler::Hash::operator()(const TcpFlowKey& k) const {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](const uint8_t* p, size_t n) {
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  };
  mix(k.src.bytes.data(), 16);
  mix(k.dst.bytes.data(), 16);
  const uint8_t ports[4] = {static_cast<uint8_t>(k.sport >> 8), static_cast<uint8_t>(k.sport),
                            static_cast<uint8_t>(k.dport >> 8), static_cast<uint8_t>(k.dport)};
  mix(ports, 4);
  return static_cast<size_t>(h);
}

TcpReassembler::TcpReassembler(TcpLimits limits) : limits_(limits) {}
TcpReassembler::~TcpReassembler() = default;

void TcpReassembler::Add(const TcpFlowKey& key, int64_t ts, uint32_t seq, uint8_t flags,
                         bool sip_port, std::string_view payload, size_t wire_len,
                         const Emit& emit) {
  ++stats_.segments;
  const uint32_t lost =
      wire_len > payload.size() ? static_cast<uint32_t>(wire_len - payload.size()) : 0;
  auto it = map_.find(key);
  if (it == map_.end()) {
    if (flags & kTcpRst) return;
    if (payload.empty() && !(flags & kTcpSyn)) return;
    // Other ports: followed from the first segment that starts a SIP message.
    if (!sip_port) {
      if (payload.empty()) return;
      if (!LooksLikeSipStart(payload)) {
        ++stats_.not_sip;
        return;
      }
    }
    while (map_.size() >= limits_.max_streams && !lru_.empty()) {
      Erase(map_.find(lru_.front()));
      ++stats_.streams_evicted;
    }
    lru_.push_back(key);
    it = map_.emplace(key, Stream{}).first;
    it->second.lru = std::prev(lru_.end());
    it->second.next_seq = (flags & kTcpSyn) ? seq + 1 : seq;
    // Joined mid-stream: wait for the start of a message.
    it->second.resync = !(flags & kTcpSyn);
  } else {
    lru_.splice(lru_.end(), lru_, it->second.lru);  // most recently used last
  }
  Stream& s = it->second;
  s.last_ts = ts;
  if (flags & kTcpSyn) {
    // A new connection reusing the tuple: start over.
    if (s.next_seq != seq + 1) {
      ClearBuffers(s);
      s.next_seq = seq + 1;
      s.resync = false;
    }
    ++seq;
  }
  if (!payload.empty() || lost > 0) Insert(key, s, ts, seq, payload, lost, emit);
  // A hole older than allowed: give up on it.
  if (limits_.hole_timeout_ns > 0 && !s.ooo.empty() && ts - s.hole_since >= limits_.hole_timeout_ns) {
    SkipHole(key, s, ts, emit);
  }
  Frame(key, s, emit);
  if (flags & (kTcpFin | kTcpRst)) {
    Erase(it);
  } else if (limits_.max_total_bytes > 0) {
    // Over the memory bound: the least recently used streams go first (this
    // one, just used, is last).
    while (buffered_ > limits_.max_total_bytes && !lru_.empty()) {
      Erase(map_.find(lru_.front()));
      ++stats_.streams_evicted;
    }
  }
}

void TcpReassembler::Expire(int64_t now, const Emit& emit) {
  while (!lru_.empty()) {
    auto it = map_.find(lru_.front());
    if (now - it->second.last_ts < limits_.idle_timeout_ns) break;
    Erase(it);
    ++stats_.streams_expired;
  }
  if (limits_.hole_timeout_ns <= 0 || holes_ == 0) return;
  for (auto& [key, s] : map_) {
    if (!s.ooo.empty() && now - s.hole_since >= limits_.hole_timeout_ns) {
      SkipHole(key, s, now, emit);
      Frame(key, s, emit);
    }
  }
}

void TcpReassembler::Insert(const TcpFlowKey& key, Stream& s, int64_t ts, uint32_t seq,
                            std::string_view payload, uint32_t lost, const Emit& emit) {
  const int32_t d = Diff(seq, s.next_seq);
  if (d < 0) {
    ++stats_.retransmissions;
    const uint32_t old = static_cast<uint32_t>(-d);
    if (old >= payload.size() + lost) return;  // nothing new
    if (old >= payload.size()) {
      // Only part of the cut-off tail is new.
      lost -= old - static_cast<uint32_t>(payload.size());
      payload = {};
    } else {
      payload.remove_prefix(old);  // partial overlap: keep the new tail
    }
    seq = s.next_seq;
  }
  if (seq != s.next_seq) {
    ++stats_.out_of_order;
    if (s.ooo.size() >= limits_.max_out_of_order) {
      // Too far ahead of a hole: give up on the missing bytes.
      SkipHole(key, s, ts, emit);
      if (Diff(seq, s.next_seq) < 0) return;  // behind the new position: stale
    }
    if (seq != s.next_seq) {
      if (s.ooo.empty()) {
        s.hole_since = ts;
        ++holes_;
      }
      auto [pos, inserted] = s.ooo.try_emplace(seq);
      // A retransmission of a queued segment: keep the longer copy.
      if (inserted || pos->second.data.size() + pos->second.lost < payload.size() + lost) {
        buffered_ -= pos->second.data.size();
        pos->second.data.assign(payload);
        pos->second.lost = lost;
        buffered_ += payload.size();
      }
      return;
    }
  }
  Append(key, s, payload, lost, emit);
  Drain(key, s, emit);
}

// Skips the bytes missing before the earliest queued segment.
void TcpReassembler::SkipHole(const TcpFlowKey& key, Stream& s, int64_t ts, const Emit& emit) {
  if (s.ooo.empty()) return;
  auto first = s.ooo.begin();
  for (auto it = s.ooo.begin(); it != s.ooo.end(); ++it) {
    if (Diff(it->first, first->first) < 0) first = it;
  }
  ++stats_.gaps;
  // Whatever was unframed is the head of a message whose rest is missing.
  buffered_ -= s.buf.size();
  s.buf.clear();
  s.resync = true;
  s.next_seq = first->first;
  Drain(key, s, emit);
  s.hole_since = ts;  // a further hole, if any, gets its own time
}

// Moves queued segments that now continue the stream into buf.
void TcpReassembler::Drain(const TcpFlowKey& key, Stream& s, const Emit& emit) {
  const bool had_hole = !s.ooo.empty();
  bool moved = true;
  while (moved && !s.ooo.empty()) {
    moved = false;
    for (auto it = s.ooo.begin(); it != s.ooo.end(); ++it) {
      const int32_t d = Diff(it->first, s.next_seq);
      if (d > 0) continue;
      Pending p = std::move(it->second);
      s.ooo.erase(it);
      buffered_ -= p.data.size();
      const uint32_t behind = static_cast<uint32_t>(-d);
      std::string_view data = p.data;
      uint32_t lost = p.lost;
      if (behind < data.size()) {
        data.remove_prefix(behind);
        Append(key, s, data, lost, emit);
      } else if (behind < data.size() + lost) {
        Append(key, s, {}, lost - (behind - static_cast<uint32_t>(data.size())), emit);
      }
      moved = true;
      break;
    }
  }
  if (had_hole && s.ooo.empty()) --holes_;
}

void TcpReassembler::Append(const TcpFlowKey& key, Stream& s, std::string_view p, uint32_t lost,
                            const Emit& emit) {
  s.next_seq += static_cast<uint32_t>(p.size());
  if (s.buf.size() + p.size() > limits_.max_buffer) {
    ++stats_.framing_errors;
    buffered_ -= s.buf.size();
    s.buf.clear();
    s.resync = true;
  }
  s.buf.append(p);
  buffered_ += p.size();
  if (lost > 0) {
    // The segment was cut short: frame what is complete, then the message
    // the missing bytes belong to is lost; resume at the next one.
    Frame(key, s, emit);
    ++stats_.gaps;
    stats_.bytes_lost += lost;
    buffered_ -= s.buf.size();
    s.buf.clear();
    s.resync = true;
    s.next_seq += lost;
  }
}

void TcpReassembler::Frame(const TcpFlowKey& key, Stream& s, const Emit& emit) {
  size_t off = 0;
  while (off < s.buf.size()) {
    std::string_view rest(s.buf.data() + off, s.buf.size() - off);
    // CRLF keep-alives between messages (RFC 5626).
    if (rest[0] == '\r' || rest[0] == '\n') {
      ++off;
      continue;
    }
    if (s.resync) {
      // Skip to the next line that starts a SIP message.
      if (LooksLikeSipStart(rest)) {
        s.resync = false;
      } else {
        const size_t nl = rest.find('\n');
        if (nl == std::string_view::npos) break;
        off += nl + 1;
        ++stats_.resyncs;
        continue;
      }
    }
    const int64_t n = SipFrameLength(rest, limits_.max_sip_message);
    if (n < 0) {
      ++stats_.framing_errors;
      s.resync = true;
      const size_t nl = rest.find('\n');
      off += nl == std::string_view::npos ? rest.size() : nl + 1;
      continue;
    }
    if (n == 0) break;
    ++stats_.messages;
    emit(key, rest.substr(0, static_cast<size_t>(n)));
    off += static_cast<size_t>(n);
  }
  buffered_ -= off;
  s.buf.erase(0, off);
}

void TcpReassembler::ClearBuffers(Stream& s) {
  buffered_ -= s.buf.size();
  s.buf.clear();
  for (const auto& [seq, p] : s.ooo) buffered_ -= p.data.size();
  if (!s.ooo.empty()) --holes_;
  s.ooo.clear();
}

void TcpReassembler::Erase(Map::iterator it) {
  ClearBuffers(it->second);
  lru_.erase(it->second.lru);
  map_.erase(it);
}

}  // namespace sw::net
