// SPDX-License-Identifier: BSD-2-Clause
#include "sipwarden/events/pipeline.h"

#include <vector>

#include "sipwarden/sip/rtp.h"

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

  const bool mgcp_port = options_.mgcp_port(m.sport) || options_.mgcp_port(m.dport);
  if (m.transport == 17 && (mgcp_port || LooksLikeMgcp(m.payload))) {
    HandleMgcp(flow, m.payload, mgcp_port);
    return;
  }
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
    // The refusal is an event too: rules that ask for malformed messages
    // count it (flood, fuzzing, overflow attempts); call threading does not
    // see it.
    if (sinks_.sip) sinks_.sip(MakeMalformedSipEvent(bytes, err, options_.sip_limits, flow));
    return;
  }
  ++stats_.sip;
  SipEvent& e = event_;
  if (e.sdp) spare_sdp_ = std::move(*e.sdp);
  FillSipEvent(scratch_, flow, &e);
  if (!scratch_.body.empty() && scratch_.HasSdpBody()) {
    const sip::ParseError err = sip::ParseSdpInto(scratch_.body, {}, &sdp_);
    if (err.reason == sip::Reason::kOk) {
      e.sdp.emplace(std::move(spare_sdp_));
      SummarizeSdpInto(sdp_, &*e.sdp);
      LearnEndpoints(e.sdp->media, e.call_id, !scratch_.is_request);
    } else {
      ++stats_.sdp_rejected;
      Reject(flow, "sdp", err, scratch_.body);
    }
  }
  if (sinks_.sip) sinks_.sip(e);
  calls_->OnSip(e);
}

void Pipeline::LearnEndpoints(const std::vector<SdpMedia>& media, const std::string& owner,
                              bool answered) {
  for (const auto& m : media) {
    if (m.port == 0 || m.conn.empty()) continue;  // a rejected stream
    auto addr = IpAddress::Parse(m.conn);
    if (!addr.ok()) continue;  // a host name: cannot match packets
    MediaKey key{*addr, m.port};
    auto it = media_.find(key);
    if (it == media_.end()) {
      if (media_.size() >= options_.max_media_endpoints) {
        ++stats_.media_evicted;
        continue;
      }
      it = media_.emplace(key, MediaState{}).first;
    }
    // An endpoint announced by another call belongs to that call from now on
    // (its reports name it); while the earlier call is open it is shared.
    MediaState& ms = it->second;
    if (ms.owner == owner) {
      // The offer's endpoint again, now in the answer's exchange: tell the
      // agent the call was answered (once per endpoint).
      if (answered && !ms.answered) {
        ms.answered = true;
        NotifyEndpoint(MediaEndpointChange::Kind::kExpected, key, owner, last_sweep_, true);
      }
      continue;
    }
    const bool shared = !ms.owner.empty() && !ms.ended_ns;
    std::vector<std::string> open_calls;
    if (shared) {
      open_calls = std::move(ms.also_open);
      std::erase(open_calls, owner);
      open_calls.push_back(ms.owner);
      if (open_calls.size() > options_.max_owners_per_endpoint) {
        open_calls.erase(open_calls.begin());
      }
    }
    ms = MediaState{};
    ms.owner = owner;
    ms.answered = answered;
    ms.also_open = std::move(open_calls);
    NotifyEndpoint(MediaEndpointChange::Kind::kExpected, key, owner, last_sweep_, answered);
  }
}

void Pipeline::NotifyEndpoint(MediaEndpointChange::Kind kind, const MediaKey& key,
                              const std::string& owner, int64_t ts, bool answered) {
  if (!sinks_.media_endpoint) return;
  MediaEndpointChange c;
  c.kind = kind;
  c.answered = answered;
  c.addr = key.addr;
  c.port = key.port;
  c.owner = owner;
  c.ts_ns = ts;
  if (kind == MediaEndpointChange::Kind::kEnded) c.grace_ns = options_.media_after_end_grace_ns;
  sinks_.media_endpoint(c);
}

void Pipeline::EndEndpoints(const std::vector<SdpMedia>& media, const std::string& owner,
                            int64_t ts) {
  for (const auto& m : media) {
    auto addr = IpAddress::Parse(m.conn);
    if (!addr.ok()) continue;
    const MediaKey key{*addr, m.port};
    auto it = media_.find(key);
    if (it == media_.end() || it->second.ended_ns) continue;
    MediaState& ms = it->second;
    if (ms.owner != owner) {
      std::erase(ms.also_open, owner);  // one of several calls on it ended
      continue;
    }
    if (!ms.also_open.empty()) {
      // Still in use by an earlier open call: that one owns it now.
      ms.owner = ms.also_open.back();
      ms.also_open.pop_back();
      continue;
    }
    ms.ended_ns = ts;
    ended_media_.emplace_back(key, ts);
    NotifyEndpoint(MediaEndpointChange::Kind::kEnded, key, owner, ts);
  }
}

void Pipeline::HandleMgcp(const Flow& flow, std::string_view bytes, bool must_be_mgcp) {
  auto msg = sip::ParseMgcp(bytes);
  if (!msg.ok()) {
    if (!must_be_mgcp) {
      ++stats_.other;
      return;
    }
    ++stats_.mgcp_rejected;
    Reject(flow, "mgcp", msg.error(), bytes);
    return;
  }
  ++stats_.mgcp;
  MgcpEvent e = MakeMgcpEvent(*msg, flow);
  if (!msg->sdp.empty()) {
    auto sdp = sip::ParseSdp(msg->sdp);
    if (sdp.ok()) {
      e.sdp = SummarizeSdp(*sdp);
    } else {
      ++stats_.sdp_rejected;
      Reject(flow, "sdp", sdp.error(), msg->sdp);
    }
  }
  // Media of a connection: learned from the SDP of CRCX/MDCX commands and
  // their responses (keyed by the connection id the response assigns), ended
  // by DLCX, so media at a gateway after DLCX is reported.
  if (e.sdp && !e.connection_id.empty()) {
    const std::string owner = "mgcp:" + e.connection_id;
    LearnEndpoints(e.sdp->media, owner, !e.is_command);
    auto& known = mgcp_media_[e.connection_id];
    for (const auto& m : e.sdp->media) known.push_back(m);
    if (known.size() > 16) known.erase(known.begin(), known.end() - 16);
  }
  if (e.is_command && e.verb == "DLCX") {
    auto end_connection = [&](const std::string& id) {
      auto it = mgcp_media_.find(id);
      if (it == mgcp_media_.end()) return;
      EndEndpoints(it->second, "mgcp:" + id, flow.ts_ns);
      e.released_media.insert(e.released_media.end(), it->second.begin(), it->second.end());
      mgcp_media_.erase(it);
    };
    if (!e.connection_id.empty()) {
      end_connection(e.connection_id);
    } else {
      // DLCX without I: all connections of the endpoint (or call): end every
      // connection we learned for this endpoint's media.
      std::vector<std::string> ids;
      for (const auto& [id, media] : mgcp_media_) ids.push_back(id);
      for (const auto& id : ids) end_connection(id);
    }
  }
  if (mgcp_media_.size() > options_.max_media_endpoints) {
    ++stats_.media_evicted;
    mgcp_media_.erase(mgcp_media_.begin());
  }
  if (sinks_.mgcp) sinks_.mgcp(e);
}

void Pipeline::OnCallRecord(const CallRecord& c) {
  EndEndpoints(c.media, c.call_id, c.end_ns);
  if (sinks_.call) sinks_.call(c);
}

void Pipeline::HandleMedia(const Flow& flow, std::string_view p) {
  auto it = media_.find(MediaKey{flow.dst, flow.dport});
  if (it == media_.end()) {
    ++stats_.other;
    return;
  }
  const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(p.data()), p.size());
  RtpEvent ev;
  ev.flow = flow;
  if (sip::LooksLikeRtcp(bytes)) {
    auto rtcp = sip::ParseRtcp(bytes);
    if (!rtcp.ok() || rtcp->packets.empty()) {
      ++stats_.other;
      return;
    }
    ++stats_.rtcp;
    ev.rtcp = true;
    ev.ssrc = rtcp->packets.front().ssrc;
  } else {
    auto rtp = sip::ParseRtp(bytes);
    if (!rtp.ok()) {
      ++stats_.other;
      return;
    }
    ++stats_.rtp;
    ev.payload_type = rtp->payload_type;
    ev.seq = rtp->sequence;
    ev.timestamp = rtp->timestamp;
    ev.ssrc = rtp->ssrc;
  }
  MediaState& ms = it->second;
  ms.last_ns = flow.ts_ns;
  if (ms.ended_ns && flow.ts_ns - ms.ended_ns <= options_.media_after_end_grace_ns) return;
  if (ms.ended_ns) {
    ++stats_.rtp_after_end;
    if (!ms.reported_after_end && !ev.rtcp) {
      ms.reported_after_end = true;
      ev.reason = "media_after_end";
      ev.owner = ms.owner;
      // The sender's own endpoint names the call better when the receiving
      // one was shared by several calls (a media server's port).
      auto from = media_.find(MediaKey{flow.src, flow.sport});
      if (from != media_.end() && from->second.ended_ns) ev.owner = from->second.owner;
      if (sinks_.rtp) sinks_.rtp(ev);
    }
    return;
  }
  calls_->OnMedia(ms.owner, flow.ts_ns);
  if (!ev.rtcp && (!ms.seen || ms.last_ssrc != ev.ssrc)) {
    ms.seen = true;
    ms.last_ssrc = ev.ssrc;
    ev.reason = "stream_start";
    ev.owner = ms.owner;
    if (sinks_.rtp) sinks_.rtp(ev);
  }
}

void Pipeline::Advance(int64_t now_ns) {
  last_sweep_ = now_ns;
  calls_->Advance(now_ns);
  // Forget endpoints of calls that ended long enough ago, at most once a
  // second, oldest end first: the sweep stops at the first endpoint whose
  // call ended too recently. One that media kept alive since goes to the
  // back (each is looked at once per sweep).
  if (now_ns - last_linger_sweep_ < 1'000'000'000 && now_ns >= last_linger_sweep_) return;
  last_linger_sweep_ = now_ns;
  for (size_t left = ended_media_.size(); left > 0 && !ended_media_.empty(); --left) {
    const auto [key, ended_ns] = ended_media_.front();
    auto it = media_.find(key);
    if (it == media_.end() || !it->second.ended_ns || it->second.ended_ns != ended_ns) {
      ended_media_.pop_front();  // gone, or announced (and maybe ended) again since
      continue;
    }
    const MediaState& s = it->second;
    if (now_ns - s.ended_ns <= options_.media_linger_ns) break;
    ended_media_.pop_front();
    if (now_ns - s.last_ns <= options_.media_linger_ns) {
      ended_media_.emplace_back(key, ended_ns);  // media after the end keeps it a while
      continue;
    }
    NotifyEndpoint(MediaEndpointChange::Kind::kForgotten, key, s.owner, now_ns);
    media_.erase(it);
  }
}

void Pipeline::Flush() { calls_->Flush(); }

}  // namespace sw::ev
