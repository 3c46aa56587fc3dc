// SPDX-License-Identifier: BSD-2-Clause
// The honeypot's user agent server: it plays the deflector users and the
// emulated services behind the honeypot's Kamailio (or alone, facing the
// network), over UDP.
//
// - INVITE: 100, 180 (or 183 with early media for a gateway), then 200 with
//   an SDP answer (PCMU or PCMA); the greeting is played and what the caller
//   sends is recorded until BYE, CANCEL or a limit.
// - ACK, BYE, CANCEL, OPTIONS, REGISTER (challenged with digest; the
//   usernames tried are logged), MESSAGE; anything else 405.
// - Server transactions per RFC 3261 section 17.2 for UDP: a retransmitted
//   request gets the last response again, a final non-2xx INVITE response is
//   retransmitted (timer G) until its ACK or timer H, a 200 is retransmitted
//   by the dialog until its ACK (section 13.3.1.4). The transactions live in
//   a hash table, not a list: a scanner's flood of OPTIONS keeps tens of
//   thousands of them alive for 32 s each.
// - Media is sent only to the caller's own address: an SDP that points
//   elsewhere (a third party) gets no packet; media from the caller's
//   address is answered symmetrically.
// - Bounded: concurrent calls, call duration, recorded bytes per call and
//   in total. A call cut by a limit is ended with BYE and counted; its
//   recording is complete up to the cut (written under a temporary name,
//   renamed when whole).
//
// Every request that reaches it is a hit, handed to a sink (the reporter).
// One thread runs it (Run); Stop may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "audio.h"
#include "sipwarden/ip.h"
#include "sipwarden/v1/honeypot.pb.h"
#include "users.h"

namespace sw::honeypot {

struct UasOptions {
  // HOST:PORT for SIP over UDP (IPv4 or [IPv6]); port 0 = any free one.
  std::string listen = "127.0.0.1:5060";
  // The address put in SDP and bound for RTP; empty: the listen host (which
  // then must not be a wildcard).
  std::string media_ip;
  uint16_t rtp_port_min = 20000, rtp_port_max = 29999;
  // The called users it plays, by user part (the users file), and what
  // plays the others: a deflector rings and answers, the voicemail answers
  // at once, a gateway plays "temporarily unavailable" and refuses (480).
  absl::flat_hash_map<std::string, Role> users;
  Role unknown_callee = Role::kVoicemail;
  // Where recordings go; empty: none written (hashes still computed).
  std::string record_dir;
  int64_t ring_ms = 3000;            // a deflector rings this long
  int64_t max_call_ms = 120000;      // then BYE ("duration-limit")
  uint64_t max_call_bytes = 4u << 20;    // recorded per call, 16-bit PCM
  uint64_t max_total_bytes = 1ull << 30;  // recorded by this process in total
  size_t max_calls = 256;            // concurrent; beyond: 503
  // Proxies whose X-Sipwarden-Source header (the caller's real address)
  // and X-Sipwarden-Deflected header are believed.
  std::vector<IpAddress> trusted_proxies;
  // The honeypot's registrar (its Kamailio, HOST:PORT): every user of
  // `users` is registered there with this process as its contact, and kept
  // registered. Empty: none (Kamailio's dispatcher still reaches it).
  std::string registrar;
  std::string domain;  // of the users' addresses of record; empty: the registrar's host
  int64_t register_expires_s = 3600;
  int register_per_s = 200;  // registrations sent per second at most
  std::string realm = "asterisk";
  std::string server = "Asterisk PBX 18.20.0";
  Announcements announcements = BuiltinAnnouncements();
};

struct UasStats {
  std::atomic<uint64_t> requests{0}, responses_sent{0}, retransmissions{0}, malformed{0};
  std::atomic<uint64_t> calls{0}, calls_active{0}, calls_refused{0}, calls_cut{0};
  std::atomic<uint64_t> rtp_packets{0}, rtp_dropped{0}, media_refused{0};
  std::atomic<uint64_t> recordings{0}, recording_errors{0}, recorded_bytes{0};
  std::atomic<uint64_t> registers{0}, options{0}, hits{0};
  // Our own registrations of the users at the registrar.
  std::atomic<uint64_t> registered{0}, register_failures{0};
};

class Uas {
 public:
  using HitSink = std::function<void(sipwarden::v1::HoneypotHit)>;
  // Binds the SIP socket; a precise error when it cannot.
  static absl::StatusOr<std::unique_ptr<Uas>> Create(UasOptions options, HitSink sink);
  ~Uas();

  // The SIP port bound (the chosen one when asked for 0).
  uint16_t port() const;
  // Serves until Stop; then ends the calls in progress (BYE, recordings
  // written, "shutdown") and returns.
  void Run();
  void Stop();
  const UasStats& stats() const;

 private:
  struct Impl;
  explicit Uas(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The shape of a Via or Contact value for fingerprints: parameter names,
// the URI scheme and the Via's protocol kept; elsewhere every run of digits
// written "d" and every run of letters "a" ("10.0.0.5:5060" is "d.d.d.d:d").
std::string Shape(std::string_view value);

}  // namespace sw::honeypot
