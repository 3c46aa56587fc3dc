// SPDX-License-Identifier: BSD-2-Clause
// The correlator benchmark's event stream: a deterministic simulation of the
// SIP traffic a sensor in front of a few PBXes sees (calls with their whole
// transactions, registrations with digest challenges, OPTIONS keepalives,
// finished-call records) plus four attackers: an INVITE flooder, a REGISTER
// password cracker, a scanner (OPTIONS sweep and extension enumeration) and a
// broken-handshake source (200 OK never ACKed).
//
// Events are kept compact (24 bytes each) and turned into sw::ev events by a
// Filler that reuses two SipEvent objects and one CallRecord, as the agent's
// parser fills its events: what the engine sees is what it sees in the agent.
// The same events are written as text lines for SEC (AppendSecLine).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "sipwarden/events/event.h"
#include "sipwarden/ip.h"

namespace sw::bench {

constexpr int64_t kS = 1'000'000'000;
constexpr int64_t kMs = 1'000'000;

enum Method : uint8_t { kInvite, kAck, kBye, kCancel, kRegister, kOptions, kNumMethods };

// Event flags.
enum : uint8_t {
  kRequest = 1,      // a request (else a response, or a call record)
  kFromServer = 2,   // sent by the session's server side (else by its client)
  kAuth = 4,         // carries Authorization / Proxy-Authorization
  kSdp = 8,          // carries an SDP body
  kCallRecord = 16,  // a finished-call record, not a SIP message
};

struct Event {
  int64_t ts_ns = 0;
  uint32_t session = 0;
  uint16_t status = 0;  // responses
  uint16_t cseq = 0;
  uint8_t method = 0;  // Method: the request's, or the CSeq method of a response
  uint8_t flags = 0;
};

enum class Role : uint8_t { kLegit, kServer, kSwept, kFlooder, kCracker, kScanner, kHandshake };
std::string_view RoleName(Role r);

// An endpoint: an address, a SIP user and its software.
struct Party {
  uint32_t ip = 0;  // IPv4, host byte order
  uint16_t port = 5060;
  uint32_t user = 0;  // index into Stream::users
  uint8_t agent = 0;  // index into Stream::agents
  Role role = Role::kLegit;
};

enum class SessionType : uint8_t { kCall, kRegistration, kKeepalive, kSweep };

// One transaction family under one Call-ID: a call, a registration (with its
// challenge), a keepalive, or an attacker's probe.
struct Session {
  uint32_t client = 0;  // Party: the side that sends the first request
  uint32_t server = 0;  // Party: the PBX (or the swept host)
  uint32_t target = 0;  // user: the callee, or the user registered / probed
  SessionType type = SessionType::kCall;
  ev::Disposition disposition = ev::Disposition::kFailed;
  uint16_t final_status = 0;
  uint8_t ended_by = 0;  // 0 response, 1 bye, 2 cancel
  int64_t start_ns = 0, answer_ns = 0, end_ns = 0;
  std::string call_id;
};

struct StreamOptions {
  size_t events = 1'000'000;
  uint64_t seed = 1;
};

struct Stream {
  std::vector<Event> events;  // in time order
  std::vector<Session> sessions;
  std::vector<Party> parties;
  std::vector<std::string> users, user_uris;  // "1000123", "sip:1000123@example.net"
  std::vector<std::string> agents;            // User-Agent / Server strings
  std::vector<std::string> ip_texts;          // per party
  std::vector<IpAddress> ips;                 // per party
  int64_t start_ns = 0, end_ns = 0;           // first and last event time
  std::vector<uint32_t> attackers;            // parties, one per attacking role

  double seconds() const { return static_cast<double>(end_ns - start_ns) / kS; }
  // Calls set up (INVITE seen) and not finished at time t: dialogs a
  // correlator tracks at that moment.
  size_t OpenDialogsAt(int64_t t) const;
};

// The benchmark stream: at least tens of thousands of concurrent dialogs for a
// million events, a few thousand events per simulated second.
Stream Generate(const StreamOptions& options);

// n legitimate calls set up (INVITE, 100, 180, 200, ACK) from n distinct
// callers at 1000 calls per simulated second, never torn down: the state the
// engine keeps for n open dialogs.
Stream GenerateOpenDialogs(size_t n, uint64_t seed);

// Fills sw::ev events from compact ones, reusing the strings' storage as a
// parser filling its event objects does.
class Filler {
 public:
  explicit Filler(const Stream& s) : s_(s) {}
  void FillSip(const Event& e, ev::SipEvent* m) const;
  void FillCall(const Event& e, ev::CallRecord* c) const;
  // Into objects of the Filler, valid until the next call.
  const ev::SipEvent& Sip(const Event& e);
  const ev::CallRecord& Call(const Event& e);

 private:
  const Stream& s_;
  ev::SipEvent plain_, with_sdp_;
  ev::CallRecord call_;
};

// The event as one text line for SEC, e.g.
//   1700000000.123456 sip 10.0.1.2:5060 > 192.0.2.10:5060 INVITE sip:1000123@example.net
//   cseq=1 INVITE call-id=...@10.0.1.2 from=1000045 to=1000123 auth=- ua="Linphone/5.0"
// (one line), responses as "SIP/2.0 200 OK cseq=1 INVITE ...", call records
// as "cdr call-id=... caller=... callee=... disposition=answered ...".
void AppendSecLine(const ev::SipEvent& e, std::string* out);
void AppendSecLine(const ev::CallRecord& c, std::string* out);

}  // namespace sw::bench
