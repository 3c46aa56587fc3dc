// SPDX-License-Identifier: BSD-2-Clause
// The event generator (paper section 5.1): application messages in (from the
// frame decoder, the kernel's ring buffer or a HEP mirror), typed events out.
// SIP is parsed with its SDP; calls are threaded into call records; media to
// endpoints that SDP announced is recognised as RTP/RTCP and reported when a
// stream starts and when it flows after its call has ended. Event time only.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "sipwarden/events/call_tracker.h"
#include "sipwarden/events/event.h"
#include "sipwarden/net/decoder.h"
#include "sipwarden/sip/mgcp.h"
#include "sipwarden/sip/result.h"
#include "sipwarden/sip/sdp.h"
#include "sipwarden/sip/sip_message.h"

namespace sw::ev {

// A message that looked like SIP (or MGCP) but was refused by the parser.
struct Rejection {
  Flow flow;
  std::string protocol;  // "sip", "sdp", "mgcp"
  sip::ParseError error;
  std::string first_line;
};

// What the pipeline knows about a media endpoint SDP (or MGCP) announced:
// the agent mirrors it into the kernel's media map.
struct MediaEndpointChange {
  enum class Kind : uint8_t {
    kExpected,   // announced by an offer or answer of an open call
    kEnded,      // its call ended (BYE, CANCEL, DLCX): media from now on is suspect
    kForgotten,  // the pipeline no longer tracks it (lingered long enough, evicted)
  };
  Kind kind = Kind::kExpected;
  IpAddress addr;
  uint16_t port = 0;
  std::string owner;     // a Call-ID, or "mgcp:" + connection id
  // kExpected: announced by a response (an answer, early media, an MGCP
  // gateway's connection): the far end agreed. An offer alone may be a
  // flood's: the agent installs it in the kernel once the call is answered.
  bool answered = false;
  int64_t ts_ns = 0;     // event time of the change
  int64_t grace_ns = 0;  // kEnded: media within this much after ts_ns is still in flight
};

struct PipelineSinks {
  std::function<void(const SipEvent&)> sip;
  std::function<void(const MgcpEvent&)> mgcp;
  std::function<void(const RtpEvent&)> rtp;
  std::function<void(const CallRecord&)> call;
  std::function<void(const Rejection&)> rejected;
  std::function<void(const MediaEndpointChange&)> media_endpoint;
};

struct PipelineOptions {
  // Ports on which every UDP datagram is taken for SIP (and parse failures
  // reported); elsewhere only datagrams that start like SIP are.
  std::function<bool(uint16_t)> sip_port = [](uint16_t p) {
    return p == 5060 || p == 5061 || p == 5080;
  };
  std::function<bool(uint16_t)> mgcp_port = [](uint16_t p) { return p == 2427 || p == 2727; };
  CallTrackerLimits calls;
  size_t max_media_endpoints = 262144;
  // Open calls remembered per shared endpoint (beyond: the oldest is dropped).
  size_t max_owners_per_endpoint = 64;
  int64_t media_linger_ns = 60'000'000'000;  // keep ended calls' endpoints this long
  // Media within this time after the end (BYE, DLCX) is still in flight, not
  // an attack: only later packets count as media after the end.
  int64_t media_after_end_grace_ns = 1'000'000'000;
  sip::SipLimits sip_limits;
};

struct PipelineStats {
  uint64_t messages = 0;
  uint64_t sip = 0;
  uint64_t sip_rejected = 0;
  uint64_t sdp_rejected = 0;
  uint64_t mgcp = 0;
  uint64_t mgcp_rejected = 0;
  uint64_t rtp = 0;
  uint64_t rtcp = 0;
  uint64_t rtp_after_end = 0;  // media packets to endpoints of ended calls
  uint64_t other = 0;          // neither SIP, MGCP nor expected media
  uint64_t media_evicted = 0;
  std::map<std::string, uint64_t> rejected_by_reason;
};

class Pipeline {
 public:
  Pipeline(PipelineSinks sinks, PipelineOptions options = {});
  ~Pipeline();

  // One application message (UDP payload or framed TCP message).
  void OnMessage(const net::AppMessage& m);
  // One SIP message with its flow (kernel ring buffer, HEP).
  void OnSipBytes(const Flow& flow, std::string_view bytes);
  // Runs timers up to now (event time).
  void Advance(int64_t now_ns);
  // End of input: reports open calls.
  void Flush();

  const PipelineStats& stats() const { return stats_; }
  const CallTracker& calls() const { return *calls_; }

 private:
  struct MediaKey {
    IpAddress addr;
    uint16_t port;
    bool operator==(const MediaKey&) const = default;
  };
  struct MediaKeyHash {
    size_t operator()(const MediaKey& k) const;
  };
  struct MediaState {
    std::string owner;  // a Call-ID, or "mgcp:" + connection id: the latest announcer
    // Other open calls that announced the same endpoint (a media server or
    // a test callee on one port): the endpoint ends when its last call does.
    std::vector<std::string> also_open;
    int64_t ended_ns = 0;  // 0 while the call is open
    uint32_t last_ssrc = 0;
    bool seen = false;
    bool reported_after_end = false;
    bool answered = false;  // announced by, or since confirmed by, a response
    int64_t last_ns = 0;
  };

  void HandleSip(const Flow& flow, std::string_view bytes, bool must_be_sip);
  void HandleMgcp(const Flow& flow, std::string_view bytes, bool must_be_mgcp);
  // Media endpoints announced in SDP, owned by a call or an MGCP connection.
  void LearnEndpoints(const std::vector<SdpMedia>& media, const std::string& owner,
                      bool answered);
  // The owner's endpoints see no more legitimate media from ts on.
  void EndEndpoints(const std::vector<SdpMedia>& media, const std::string& owner, int64_t ts);
  void HandleMedia(const Flow& flow, std::string_view payload);
  void OnCallRecord(const CallRecord& c);
  void Reject(const Flow& flow, std::string_view protocol, const sip::ParseError& err,
              std::string_view bytes);

  PipelineSinks sinks_;
  PipelineOptions options_;
  PipelineStats stats_;
  std::unique_ptr<CallTracker> calls_;
  // Open addressing: about a million endpoints linger at 100k messages/s,
  // and a lookup is one probe instead of a walk to a node.
  absl::flat_hash_map<MediaKey, MediaState, MediaKeyHash> media_;
  // Endpoints in the order their calls ended, with that end's time, for the
  // linger sweep (an entry whose endpoint is gone, was announced again or
  // ended again since is stale and skipped).
  std::deque<std::pair<MediaKey, int64_t>> ended_media_;
  sip::SipMessage scratch_;  // reused between messages
  SipEvent event_;           // reused between messages (FillSipEvent)
  // Reused between SIP messages with bodies: the parsed body, and the last
  // event's summary of it (FillSipEvent empties event_.sdp; its strings and
  // vectors are kept here for the next one).
  sip::SdpSession sdp_;
  SdpSummary spare_sdp_;
  // MGCP connections' media, by connection id, until DLCX.
  std::unordered_map<std::string, std::vector<SdpMedia>> mgcp_media_;
  int64_t last_sweep_ = 0;
  int64_t last_linger_sweep_ = 0;
  void NotifyEndpoint(MediaEndpointChange::Kind kind, const MediaKey& key,
                      const std::string& owner, int64_t ts, bool answered = false);
};

// Event from a parsed SIP message (and its SDP body, if any).
SipEvent MakeSipEvent(const sip::SipMessage& m, const Flow& flow);
// The same into an event that may hold an earlier message's (every field is
// set): a reused event keeps its strings' storage.
void FillSipEvent(const sip::SipMessage& m, const Flow& flow, SipEvent* e);
// The event of a message the parser refused: what sip::SalvageSip could read
// of bytes, and the refusal.
SipEvent MakeMalformedSipEvent(std::string_view bytes, const sip::ParseError& err,
                               const sip::SipLimits& limits, const Flow& flow);
MgcpEvent MakeMgcpEvent(const sip::MgcpMessage& m, const Flow& flow);
// Whether bytes start like an MGCP command ("CRCX 1234 ep MGCP 1.0") or
// response ("200 1234 OK").
bool LooksLikeMgcp(std::string_view bytes);
SdpSummary SummarizeSdp(const sip::SdpSession& s);
// The same into *out, whose strings and vectors keep their storage.
void SummarizeSdpInto(const sip::SdpSession& s, SdpSummary* out);
// Transport of a decoded message.
Transport TransportOf(const net::AppMessage& m);

}  // namespace sw::ev
