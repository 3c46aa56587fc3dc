// SPDX-License-Identifier: BSD-2-Clause
// Mirrors the media endpoints the event pipeline learned from SDP and MGCP
// into the kernel's media map (sw_media), and the media watches rules ask
// for. An offer's endpoints wait until the call is answered (a response with
// SDP): a flood of INVITEs, never answered, costs no map update. Then the kernel then counts each expected stream and posts one notice when
// media reaches an endpoint after its call ended (BYE, DLCX) or while a rule
// watches it. Notices come back through the ring buffer; Describe() turns
// one into the event the rules expect ("media_after_end" with its owner, or
// "watched_media").
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/container/flat_hash_map.h"

#include "maps.h"
#include "sipwarden/events/event.h"
#include "sipwarden/events/pipeline.h"
#include "sipwarden/rules/alarm.h"

namespace sw {

struct MediaMirrorStats {
  uint64_t expected = 0;    // endpoints installed from SDP/MGCP (answered calls)
  uint64_t offers_pending = 0;  // offers held back until their call is answered
  uint64_t offers_dropped = 0;  // pending offers forgotten for space
  uint64_t ended = 0;       // endpoints armed after their call ended
  uint64_t forgotten = 0;   // endpoints removed with the pipeline's state
  uint64_t watches = 0;     // endpoints watched on a rule's request
  uint64_t watch_expired = 0;
  uint64_t map_errors = 0;  // kernel map updates refused (full map, ...)
  uint64_t over_limit = 0;  // endpoints not mirrored: max_tracked reached
};

class MediaMirror {
 public:
  explicit MediaMirror(Maps& maps, size_t max_tracked = SW_MEDIA_ENTRIES)
      : maps_(maps), max_tracked_(max_tracked) {}

  // A change from the pipeline (PipelineSinks::media_endpoint).
  void OnEndpoint(const ev::MediaEndpointChange& c);
  // A rule's watch_media verdict: report the next packet to each endpoint
  // within the verdict's TTL.
  void OnWatch(const rules::WatchVerdict& v);
  // Fills reason and owner of a kernel notice about media from src:sport to
  // dst:dport. When the sender's endpoint is one of an ended call, that call
  // is named: the receiving endpoint may be shared (a media server's port).
  void Describe(const IpAddress& src, uint16_t sport, const IpAddress& dst, uint16_t dport,
                ev::RtpEvent* e) const;
  // Removes rule watches whose TTL has passed (CLOCK_BOOTTIME ns).
  void Expire(uint64_t boot_now_ns);

  const MediaMirrorStats& stats() const { return stats_; }
  size_t tracked() const { return entries_.size(); }

 private:
  struct Entry {
    std::string owner;          // Call-ID or "mgcp:" + connection id; empty for a rule watch
    bool from_sdp = false;      // the pipeline tracks it
    bool installed = false;     // in the kernel map
    bool ended = false;         // its call ended: the next packet is media after the end
    uint64_t watch_until_ns = 0;  // a rule watch holds it until then (0: none)
  };
  using Key = std::array<char, 18>;  // 16 address bytes + 2 port bytes (held inline)
  static Key KeyOf(const IpAddress& addr, uint16_t port);
  // Writes the kernel entry for key, arming a notice from since_ns when watch.
  void Arm(const IpAddress& addr, uint16_t port, const Entry& e, bool watch, uint64_t since_ns,
           bool keep_counters);

  // Installs the endpoints owner's offer announced, now that it is answered.
  void InstallOffers(const std::string& owner);
  static IpAddress AddrOf(const Key& k);
  static uint16_t PortOf(const Key& k);

  static constexpr size_t kMaxPendingOwners = 65536;
  Maps& maps_;
  size_t max_tracked_;
  // Flat, keys inline: every SDP, BYE and media notice looks one up.
  absl::flat_hash_map<Key, Entry> entries_;
  size_t watched_ = 0;  // entries with watch_until_ns set: Expire walks entries_ only then
  std::unordered_map<std::string, std::vector<Key>> offers_;  // owner -> not installed yet
  MediaMirrorStats stats_;
  uint64_t next_expire_ns_ = 0;
};

}  // namespace sw
