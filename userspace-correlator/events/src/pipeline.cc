#include "sipwarden/events/pipeline.h"

#include <vector>

namespace sw::ev {
namespace {

std::string_view FirstLine(std::string_view bytes) {
  const size_t eol = bytes.find_first_of("\r\n");
  return bytes.substr(0, std::min<size_t>(eol == std::string_view::npos ? bytes.size() : eol, 200));
}

}  // namespace

size_t Pipeline::MediaKeyHash::operator()(const MediaKey& k) const {
  uint64_t h = 1469598103934665603ull;
  for (uint8_t b : k.addr.bytes) h = (h ^ b) * 1099511628211ull;
  return static_cast<size_t>((h ^ k.port) * 1099511628211ull);
}

Pipeline::Pipeline(PipelineSinks sinks, PipelineOptions options)
    : sinks_(std::move(sinks)), options_(std::move(options)) {
  calls_ = std::make_unique<CallTracker>([this](const CallRecord& c) { OnCallRecord(c); },
                                         options_.calls);
}

Pipeline::~Pipeline() = default;

void Pipeline::Reject(const Flow& flow, std::string_view protocol, const sip::ParseError& err,
                      std::string_view bytes) {
  ++stats_.rejected_by_reason[std::string(protocol) + ":" + std::string(sip::ReasonName(err.reason))];
  if (!sinks_.rejected) return;
  Rejection r;
  r.flow = flow;
  r.protocol = std::string(protocol);
  r.error = err;
  r.first_line = std::string(FirstLine(bytes));
  sinks_.rejected(r);
}

void Pipeline::OnMessage(const net::AppMessage& m) {
  ++stats_.messages;
  Flow flow;
  flow.ts_ns = m.ts_ns;
  flow.src = m.src;
  flow.dst = m.dst;
  flow.sport = m.sport;
  flow.dport = m.dport;
  flow.transport = TransportOf(m);
  if (m.ts_ns - last_sweep_ >= 1'000'000'000) Advance(m.ts_ns);

  const bool sip_port = options_.sip_port(m.sport) || options_.sip_port(m.dport);
  if (m.transport == 6 || sip_port || net::LooksLikeSipStart(m.payload)) {
    // TCP messages come framed as SIP by the decoder; UDP on a SIP port is
    // SIP or noise (keep-alives aside).
    std::string_view p = m.payload;
    while (!p.empty() && (p.front() == '\r' || p.front() == '\n')) p.remove_prefix(1);
    if (p.empty()) return;  // CRLF keep-alive
    if (sip_port || m.transport == 6 || net::LooksLikeSipStart(p)) {
      HandleSip(flow, m.payload, sip_port);
      return;
    }
  }
  HandleMedia(flow, m.payload);
}

void Pipeline::OnSipBytes(const Flow& flow, std::string_view bytes) {
  ++stats_.messages;
  if (flow.ts_ns - last_sweep_ >= 1'000'000'000) Advance(flow.ts_ns);
  HandleSip(flow, bytes, true);
}

void Pipeline::HandleSip(const Flow& flow, std::string_view bytes, bool must_be_sip) {
  sip::SipParseOptions opts;
  opts.limits = options_.sip_limits;
  const sip::ParseError err = sip::ParseSipInto(bytes, opts, &scratch_);
  if (err.reason != sip::Reason::kOk) {
    if (!must_be_sip && !net::LooksLikeSipStart(bytes)) {
      ++stats_.other;
      return;
    }
    ++stats_.sip_rejected;
    Reject(flow, "sip", err, bytes);
    return;
  }
  ++stats_.sip;
  SipEvent e = MakeSipEvent(scratch_, flow);
  if (!scratch_.body.empty() && scratch_.HasSdpBody()) {
    auto sdp = sip::ParseSdp(scratch_.body);
    if (sdp.ok()) {
      e.sdp = SummarizeSdp(*sdp);
      LearnMedia(e);
    } else {
      ++stats_.sdp_rejected;
      Reject(flow, "sdp", sdp.error(), scratch_.body);
    }
  }
  if (sinks_.sip) sinks_.sip(e);
  calls_->OnSip(e);
}

void Pipeline::LearnMedia(const SipEvent& e) {
  for (const auto& m : e.sdp->media) {
    if (m.port == 0 || m.conn.empty()) continue;  // a rejected stream
    IpAddress addr;
    auto parsed = IpAddress::Parse(m.conn);
    if (!parsed.ok()) continue;  // a host name: cannot match packets
    addr = *parsed;
    MediaKey key{addr, m.port};
    auto it = media_.find(key);
    if (it == media_.end()) {
      if (media_.size() >= options_.max_media_endpoints) {
        ++stats_.media_evicted;
        continue;
      }
      it = media_.emplace(key, MediaState{}).first;
    }
    // An endpoint reused by a new call belongs to that call from now on.
    if (it->second.call_id != e.call_id) {
      it->second = MediaState{};
      it->second.call_id = e.call_id;
    }
  }
}

void Pipeline::OnCallRecord(const CallRecord& c) {
  for (const auto& m : c.media) {
    auto addr = IpAddress::Parse(m.conn);
    if (!addr.ok()) continue;
    auto it = media_.find(MediaKey{*addr, m.port});
    if (it != media_.end() && it->second.call_id == c.call_id) it->second.ended_ns = c.end_ns;
  }
  if (sinks_.call) sinks_.call(c);
}

void Pipeline::HandleMedia(const Flow& flow, std::string_view p) {
  auto it = media_.find(MediaKey{flow.dst, flow.dport});
  if (it == media_.end() || p.size() < 8 || (static_cast<uint8_t>(p[0]) >> 6) != 2) {
    ++stats_.other;
    return;
  }
  MediaState& ms = it->second;
  const auto* u = reinterpret_cast<const uint8_t*>(p.data());
  const uint8_t pt = u[1];
  RtpEvent ev;
  ev.flow = flow;
  // RTCP packet types 200..204 (SR, RR, SDES, BYE, APP) sit where RTP keeps
  // marker and payload type (RFC 5761 section 4).
  if (pt >= 200 && pt <= 204) {
    ++stats_.rtcp;
    ev.rtcp = true;
    ev.ssrc = static_cast<uint32_t>(u[4]) << 24 | u[5] << 16 | u[6] << 8 | u[7];
  } else {
    if (p.size() < 12) {
      ++stats_.other;
      return;
    }
    ++stats_.rtp;
    ev.payload_type = pt & 0x7f;
    ev.seq = static_cast<uint16_t>(u[2] << 8 | u[3]);
    ev.timestamp = static_cast<uint32_t>(u[4]) << 24 | u[5] << 16 | u[6] << 8 | u[7];
    ev.ssrc = static_cast<uint32_t>(u[8]) << 24 | u[9] << 16 | u[10] << 8 | u[11];
  }
  ms.last_ns = flow.ts_ns;
  if (ms.ended_ns) {
    ++stats_.rtp_after_end;
    if (!ms.reported_after_end && !ev.rtcp) {
      ms.reported_after_end = true;
      ev.reason = "media_after_end";
      if (sinks_.rtp) sinks_.rtp(ev);
    }
    return;
  }
  calls_->OnMedia(ms.call_id, flow.ts_ns);
  if (!ev.rtcp && (!ms.seen || ms.last_ssrc != ev.ssrc)) {
    ms.seen = true;
    ms.last_ssrc = ev.ssrc;
    ev.reason = "stream_start";
    if (sinks_.rtp) sinks_.rtp(ev);
  }
}

void Pipeline::Advance(int64_t now_ns) {
  last_sweep_ = now_ns;
  calls_->Advance(now_ns);
  // Forget endpoints of calls that ended long enough ago.
  for (auto it = media_.begin(); it != media_.end();) {
    const auto& s = it->second;
    if (s.ended_ns && now_ns - std::max(s.ended_ns, s.last_ns) > options_.media_linger_ns) {
      it = media_.erase(it);
    } else {
      ++it;
    }
  }
}

void Pipeline::Flush() { calls_->Flush(); }

}  // namespace sw::ev
