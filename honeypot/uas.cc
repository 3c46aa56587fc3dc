// SPDX-License-Identifier: BSD-2-Clause
#include "uas.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <random>

#include "absl/container/node_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "sipwarden/absl_compat.h"
#include "sipwarden/sip/sdp.h"
#include "sipwarden/sip/sip_message.h"
#include "sipwarden/sip/rtp.h"
#include "sipwarden/sip/text.h"

namespace sw::honeypot {

namespace v1 = sipwarden::v1;

namespace {

constexpr int64_t kT1 = 500, kT2 = 4000, kTimerH = 64 * kT1;  // ms (RFC 3261 17)
constexpr int64_t kVoicemailPickupMs = 200;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
int64_t WallNs() { return absl::ToUnixNanos(absl::Now()); }

// A socket address with its text forms.
struct Addr {
  sockaddr_storage ss{};
  socklen_t len = 0;
  IpAddress ip;
  uint16_t port = 0;
};

Addr FromSockaddr(const sockaddr_storage& ss, socklen_t len) {
  Addr a;
  a.ss = ss;
  a.len = len;
  if (ss.ss_family == AF_INET) {
    const auto* s4 = reinterpret_cast<const sockaddr_in*>(&ss);
    a.ip = IpAddress::FromV4(reinterpret_cast<const uint8_t*>(&s4->sin_addr));
    a.port = ntohs(s4->sin_port);
  } else {
    const auto* s6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    a.ip = IpAddress::FromV6(reinterpret_cast<const uint8_t*>(&s6->sin6_addr));
    a.port = ntohs(s6->sin6_port);
  }
  return a;
}

absl::StatusOr<Addr> MakeAddr(const IpAddress& ip, uint16_t port) {
  Addr a;
  a.ip = ip;
  a.port = port;
  const std::string text = ip.ToString();
  if (ip.is_v4()) {
    auto* s4 = reinterpret_cast<sockaddr_in*>(&a.ss);
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
    if (inet_pton(AF_INET, text.c_str(), &s4->sin_addr) != 1) return absl::InvalidArgumentError(text);
    a.len = sizeof(sockaddr_in);
  } else {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&a.ss);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    if (inet_pton(AF_INET6, text.c_str(), &s6->sin6_addr) != 1) return absl::InvalidArgumentError(text);
    a.len = sizeof(sockaddr_in6);
  }
  return a;
}

// "HOST:PORT", "[V6]:PORT".
absl::StatusOr<std::pair<IpAddress, uint16_t>> ParseHostPortText(std::string_view text) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("\"", AV(text), "\": expected HOST:PORT"));
  }
  std::string_view host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  uint32_t port = 0;
  if (!absl::SimpleAtoi(AV(text.substr(colon + 1)), &port) || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("\"", AV(text), "\": bad port"));
  }
  auto ip = IpAddress::Parse(host);
  if (!ip.ok()) return absl::InvalidArgumentError(absl::StrCat("\"", AV(text), "\": ", ip.status().message()));
  return std::make_pair(*ip, static_cast<uint16_t>(port));
}

std::string HostText(const IpAddress& ip) {
  return ip.is_v4() ? ip.ToString() : absl::StrCat("[", ip.ToString(), "]");
}

std::string RandomHex(std::mt19937_64& rng, int n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < n; ++i) s.push_back(kHex[rng() & 15]);
  return s;
}

std::string_view Reason(int code) {
  switch (code) {
    case 100: return "Trying";
    case 180: return "Ringing";
    case 183: return "Session Progress";
    case 200: return "OK";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 405: return "Method Not Allowed";
    case 480: return "Temporarily Unavailable";
    case 481: return "Call/Transaction Does Not Exist";
    case 486: return "Busy Here";
    case 487: return "Request Terminated";
    case 488: return "Not Acceptable Here";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

constexpr char kAllow[] = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, MESSAGE";

}  // namespace

std::string Shape(std::string_view v) {
  std::string out;
  size_t i = 0;
  // The Via's protocol ("SIP/2.0/UDP") and a URI scheme stay as written.
  if (absl::StartsWithIgnoreCase(AV(v), "SIP/")) {
    size_t sp = v.find_first_of(" \t");
    if (sp != std::string_view::npos) {
      out.append(v.substr(0, sp));
      i = sp;
    }
  }
  while (i < v.size()) {
    const char c = v[i];
    if (absl::ascii_isalnum(static_cast<unsigned char>(c))) {
      size_t j = i;
      while (j < v.size() && (absl::ascii_isalnum(static_cast<unsigned char>(v[j])) || v[j] == '-')) ++j;
      std::string_view run = v.substr(i, j - i);
      // A parameter's name: after ';' or before '='.
      const bool name = (j < v.size() && v[j] == '=') || (i > 0 && v[i - 1] == ';');
      const bool scheme = (absl::EqualsIgnoreCase(AV(run), "sip") || absl::EqualsIgnoreCase(AV(run), "sips") ||
                           absl::EqualsIgnoreCase(AV(run), "tel")) &&
                          j < v.size() && v[j] == ':';
      if (name && absl::EqualsIgnoreCase(AV(run), "received") && !out.empty() && out.back() == ';') {
        // Added by a proxy on the way, not the caller's: left out.
        out.pop_back();
        j = std::min(v.find(';', j), v.size());
      } else if (name && absl::EqualsIgnoreCase(AV(run), "rport") && j < v.size() && v[j] == '=') {
        // The caller asks with a bare rport; a proxy fills in the value.
        out.append(run);
        j = std::min(v.find(';', j), v.size());
      } else if (name || scheme) {
        out.append(run);
      } else {
        // Runs of digits and of letters inside the token.
        char last = 0;
        for (char ch : run) {
          const char k = absl::ascii_isdigit(static_cast<unsigned char>(ch)) ? 'd'
                         : ch == '-'                                         ? '-'
                                                                             : 'a';
          if (k != last || k == '-') out.push_back(k);
          last = k;
        }
      }
      i = j;
    } else {
      if (c != ' ' || (!out.empty() && out.back() != ' ')) out.push_back(c);
      ++i;
    }
    if (out.size() > 256) break;
  }
  return out;
}

namespace {

struct Call;

// A server transaction (RFC 3261 17.2), keyed by the top Via's branch and
// the method (ACK and CANCEL find their INVITE by the same branch).
struct ServerTx {
  bool invite = false;
  std::string last_response;  // empty until the first response
  int final_status = 0;
  Addr peer;
  int64_t expires_ms = 0;      // removal (timer H, I, J)
  int64_t retransmit_ms = 0;   // timer G, 0 = none
  int64_t interval_ms = kT1;
  std::string call_key;        // INVITE: its call
};

// A BYE the honeypot sends (a client transaction, UDP: timer E up to F).
struct ClientTx {
  std::string request;
  Addr peer;
  int64_t next_ms = 0, interval_ms = kT1, deadline_ms = 0;
};

// One user's registration at the registrar (a client transaction at a
// time, UDP: timer E up to F).
struct Registration {
  std::string user, call_id, tag;
  uint32_t cseq = 0;
  bool registered = false;
  int64_t due_ms = 0;       // next REGISTER
  std::string request;      // in flight, empty when none
  std::string branch;
  int64_t retransmit_ms = 0, interval_ms = kT1, deadline_ms = 0;
};

enum class CallState { kRinging, kEarly, kAnswered, kConfirmed };

struct Call {
  std::string key;  // Call-ID
  Role service = Role::kVoicemail;
  CallState state = CallState::kRinging;
  std::string invite_tx;  // its INVITE's transaction key
  Addr sig_peer;          // where the INVITE came from (the proxy, or the caller)
  IpAddress caller_ip;    // the caller's own address
  std::string local_tag;
  std::string their_from, our_to;  // header values, tags included
  std::vector<std::string> route_set;  // Record-Route values, in order
  std::string remote_target;
  uint32_t our_cseq = 1;
  // Timers (steady ms; 0 = not set).
  int64_t invite_ms = 0, answer_at_ms = 0, ok_next_ms = 0, ok_interval_ms = kT1, ok_deadline_ms = 0;
  int64_t end_at_ms = 0, ring_sent_ms = 0, answered_ms = 0;
  std::string ok_response;  // the 200, for retransmission
  // Media.
  int rtp_fd = -1;
  uint16_t rtp_port = 0;
  Codec codec = Codec::kPcmu;
  bool have_offer = false;
  Addr media_peer;
  bool media_peer_ok = false;  // the peer is the caller's own address
  bool media_third_party = false;
  Addr rtp_src;                // where received media came from
  bool rtp_latched = false;
  const std::vector<int16_t>* clip = nullptr;
  size_t play_pos = 0;
  int64_t next_send_ms = 0;
  uint16_t seq = 0;
  uint32_t ts = 0, ssrc = 0;
  bool marker = true;
  std::unique_ptr<Recording> rec;
  v1::HoneypotHit hit;
  bool gateway_refuse_pending = false;
};

}  // namespace

struct Uas::Impl {
  UasOptions opt;
  HitSink sink;
  int sip_fd = -1;
  Addr local;
  IpAddress media_ip;
  std::string listen_host_text;
  uint16_t port = 0;
  UasStats stats;
  std::atomic<bool> stop{false};
  std::mt19937_64 rng{std::random_device{}()};
  absl::node_hash_map<std::string, ServerTx> txs;
  std::deque<std::string> tx_expiry;  // transaction keys in creation order
  absl::node_hash_map<std::string, Call> calls;
  std::vector<ClientTx> byes;
  uint16_t next_rtp = 0;
  uint64_t total_recorded = 0;
  // Registrations of the users at the registrar, by Call-ID.
  Addr registrar;
  std::string domain;
  absl::node_hash_map<std::string, Registration> regs;
  std::deque<std::string> reg_order;  // Call-IDs, round robin
  double reg_credit = 0;
  int64_t reg_last_ms = 0;

  ~Impl() {
    for (auto& [k, c] : calls) {
      if (c.rtp_fd >= 0) close(c.rtp_fd);
    }
    if (sip_fd >= 0) close(sip_fd);
  }

  // ---- sending ----------------------------------------------------------
  void SendTo(const Addr& to, const std::string& bytes) {
    (void)sendto(sip_fd, bytes.data(), bytes.size(), MSG_DONTWAIT,
                 reinterpret_cast<const sockaddr*>(&to.ss), to.len);
  }

  std::string Response(const sip::SipMessage& req, int code, const std::string& to_tag,
                       const std::string& extra, const std::string& body = "") {
    std::string r = absl::StrCat("SIP/2.0 ", code, " ", AV(Reason(code)), "\r\n");
    for (std::string_view via : req.Values(sip::HeaderId::kVia)) absl::StrAppend(&r, "Via: ", AV(via), "\r\n");
    if (const sip::Header* h = req.Find(sip::HeaderId::kFrom)) absl::StrAppend(&r, "From: ", AV(h->value), "\r\n");
    if (const sip::Header* h = req.Find(sip::HeaderId::kTo)) {
      absl::StrAppend(&r, "To: ", AV(h->value));
      if (req.to.tag.empty() && !to_tag.empty() && code != 100) absl::StrAppend(&r, ";tag=", to_tag);
      r += "\r\n";
    }
    // A dialog-creating response carries the request's Record-Route set
    // (RFC 3261 12.1.1): the caller's ACK and BYE then go through the proxy.
    if (req.method_id == sip::Method::kInvite && code > 100 && code < 300) {
      for (std::string_view rr : req.Values(sip::HeaderId::kRecordRoute)) {
        absl::StrAppend(&r, "Record-Route: ", AV(rr), "\r\n");
      }
    }
    absl::StrAppend(&r, "Call-ID: ", AV(req.call_id), "\r\n");
    if (const sip::Header* h = req.Find(sip::HeaderId::kCSeq)) absl::StrAppend(&r, "CSeq: ", AV(h->value), "\r\n");
    absl::StrAppend(&r, "Server: ", opt.server, "\r\n", extra);
    if (!body.empty()) absl::StrAppend(&r, "Content-Type: application/sdp\r\n");
    absl::StrAppend(&r, "Content-Length: ", body.size(), "\r\n\r\n", body);
    return r;
  }

  void Respond(ServerTx& tx, const std::string& response, int code) {
    tx.last_response = response;
    ++stats.responses_sent;
    SendTo(tx.peer, response);
    if (code >= 200) {
      tx.final_status = code;
      const int64_t now = NowMs();
      if (tx.invite && code >= 300) {
        tx.retransmit_ms = now + kT1;  // timer G until the ACK
        tx.interval_ms = kT1;
      }
      // Timer H (INVITE) or J (non-INVITE): 64*T1 over UDP. An INVITE's
      // transaction is kept after a 200 too, so that a retransmitted INVITE
      // finds it (RFC 6026's Accepted state).
      tx.expires_ms = now + kTimerH;
    }
  }

  std::string ContactHeader(std::string_view user) const {
    return absl::StrCat("Contact: <sip:", user.empty() ? "honeypot" : AV(user), "@", listen_host_text, ":", port,
                        ">\r\n");
  }

  std::string Sdp(const Call& c, bool offer_both) const {
    const std::string ip = media_ip.ToString();
    const char* fam = media_ip.is_v4() ? "IP4" : "IP6";
    std::string fmts = offer_both ? "0 8 101" : absl::StrCat(static_cast<int>(c.codec), " 101");
    std::string s = absl::StrCat("v=0\r\no=- ", c.ssrc, " ", c.ssrc, " IN ", fam, " ", ip, "\r\ns=-\r\nc=IN ", fam,
                                 " ", ip, "\r\nt=0 0\r\nm=audio ", c.rtp_port, " RTP/AVP ", fmts, "\r\n");
    if (offer_both || c.codec == Codec::kPcmu) s += "a=rtpmap:0 PCMU/8000\r\n";
    if (offer_both || c.codec == Codec::kPcma) s += "a=rtpmap:8 PCMA/8000\r\n";
    s += "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n";
    return s;
  }

  // ---- hits -------------------------------------------------------------
  v1::HoneypotHit MakeHit(const sip::SipMessage& m, const IpAddress& caller_ip,
                          uint16_t caller_port, uint32_t ttl, bool proxied) {
    v1::HoneypotHit h;
    h.set_ts_unix_ns(WallNs());
    h.set_stage(v1::HoneypotHit::STAGE_ARRIVED);
    h.set_method(std::string(m.method));
    h.set_src_ip(caller_ip.ToString());
    h.set_src_port(caller_port);
    h.set_dst_ip(local.ip.ToString());
    h.set_dst_port(port);
    h.set_transport("udp");
    h.set_ip_ttl(proxied ? 0 : ttl);
    h.set_call_id(std::string(m.call_id.substr(0, 256)));
    h.set_request_uri(std::string(m.request_uri.raw.substr(0, 512)));
    h.set_callee(std::string(m.request_uri.user.substr(0, 128)));
    h.set_caller(std::string(m.from.uri.raw.substr(0, 512)));
    h.set_user_agent(std::string(m.user_agent.substr(0, 256)));
    // The caller's own Via: below the proxy's when it came through one.
    const size_t vi = proxied && m.vias.size() > 1 ? 1 : 0;
    if (vi < m.vias.size()) h.set_via_shape(Shape(m.vias[vi].raw));
    if (!m.contacts.empty()) h.set_contact_shape(Shape(m.contacts[0].raw));
    if (m.authorization) h.set_auth_user(std::string(m.authorization->username.substr(0, 128)));
    return h;
  }

  void Emit(v1::HoneypotHit h) {
    ++stats.hits;
    if (sink) sink(std::move(h));
  }

  // ---- media ------------------------------------------------------------
  absl::Status OpenRtp(Call& c) {
    const int span = opt.rtp_port_max - opt.rtp_port_min + 1;
    for (int tries = 0; tries < span; tries += 2) {
      uint16_t p = static_cast<uint16_t>(opt.rtp_port_min + ((next_rtp + tries) % span));
      p &= ~1u;  // even, RTP
      if (p < opt.rtp_port_min) continue;
      auto a = MakeAddr(media_ip, p);
      if (!a.ok()) return a.status();
      int fd = socket(a->ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) return absl::UnavailableError(absl::StrCat("socket: ", strerror(errno)));
      if (bind(fd, reinterpret_cast<const sockaddr*>(&a->ss), a->len) == 0) {
        c.rtp_fd = fd;
        c.rtp_port = p;
        next_rtp = static_cast<uint16_t>((next_rtp + tries + 2) % span);
        return absl::OkStatus();
      }
      close(fd);
    }
    return absl::ResourceExhaustedError("no free RTP port");
  }

  // Reads the SDP offer (or answer) of the caller: codec, and where media
  // may go. Returns false when it offers no G.711.
  bool ReadOffer(Call& c, std::string_view body, bool fingerprint) {
    auto sdp = sip::ParseSdp(body);
    if (!sdp.ok()) return false;
    const sip::SdpSession& s = *sdp;
    if (fingerprint) {
      v1::SdpShape* shape = c.hit.mutable_sdp();
      const sip::SdpOrigin& o = s.origin;
      shape->set_owner(absl::StrCat(AV(o.username), " ", AV(o.session_id), " ", AV(o.session_version), " ",
                                    AV(o.net_type), " ", AV(o.addr_type), " ", AV(o.address))
                           .substr(0, 256));
      shape->set_session(std::string(s.session_name.substr(0, 128)));
    }
    for (size_t i = 0; i < s.media.size(); ++i) {
      const sip::SdpMedia& m = s.media[i];
      if (m.type != "audio") continue;
      if (fingerprint) {
        v1::SdpShape* shape = c.hit.mutable_sdp();
        shape->set_media_port(m.port);
        for (uint8_t pt : m.payload_types) {
          std::string name = std::to_string(pt);
          for (const sip::SdpRtpMap& r : m.rtpmaps) {
            if (r.payload_type == pt) name = absl::StrCat(AV(r.encoding), "/", r.clock_rate);
          }
          if (shape->codecs_size() < 16) shape->add_codecs(name);
        }
        if (const sip::SdpConnection* conn = s.ConnectionFor(i)) shape->set_conn(std::string(conn->address));
      }
      bool found = false;
      for (uint8_t pt : m.payload_types) {
        if (pt == 0 || pt == 8) {
          c.codec = pt == 0 ? Codec::kPcmu : Codec::kPcma;
          found = true;
          break;
        }
      }
      if (!found) return false;
      c.have_offer = true;
      const sip::SdpConnection* conn = s.ConnectionFor(i);
      c.media_peer_ok = false;
      if (conn != nullptr && conn->ip_valid && m.port != 0) {
        if (conn->ip == c.caller_ip) {
          auto a = MakeAddr(conn->ip, m.port);
          if (a.ok()) {
            c.media_peer = *a;
            c.media_peer_ok = true;
          }
        } else {
          // Media pointed at someone else: never sent there. Symmetric
          // media from the caller's own address is still answered.
          c.media_third_party = true;
          ++stats.media_refused;
        }
      }
      return true;
    }
    return false;
  }

  void StartClip(Call& c, const std::vector<int16_t>* clip, int64_t now) {
    c.clip = clip;
    c.play_pos = 0;
    c.next_send_ms = now;
  }

  void PumpMedia(Call& c, int64_t now) {
    if (c.clip == nullptr || c.rtp_fd < 0) return;
    int sent = 0;
    while (c.next_send_ms <= now && c.clip != nullptr && sent < 10) {
      ++sent;
      c.next_send_ms += 20;
      const size_t n = std::min<size_t>(kSamplesPerPacket, c.clip->size() - c.play_pos);
      const bool to_peer = c.media_peer_ok || (c.rtp_latched && c.rtp_src.ip == c.caller_ip);
      if (to_peer) {
        std::vector<uint8_t> g711;
        Encode(c.codec, std::span<const int16_t>(c.clip->data() + c.play_pos, n), &g711);
        uint8_t pkt[12 + kSamplesPerPacket];
        pkt[0] = 0x80;
        pkt[1] = static_cast<uint8_t>((c.marker ? 0x80 : 0) | static_cast<int>(c.codec));
        pkt[2] = static_cast<uint8_t>(c.seq >> 8);
        pkt[3] = static_cast<uint8_t>(c.seq);
        for (int k = 0; k < 4; ++k) pkt[4 + k] = static_cast<uint8_t>(c.ts >> (24 - 8 * k));
        for (int k = 0; k < 4; ++k) pkt[8 + k] = static_cast<uint8_t>(c.ssrc >> (24 - 8 * k));
        std::memcpy(pkt + 12, g711.data(), n);
        const Addr& to = c.media_peer_ok ? c.media_peer : c.rtp_src;
        (void)sendto(c.rtp_fd, pkt, 12 + n, MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&to.ss), to.len);
        c.marker = false;
      }
      ++c.seq;
      c.ts += kSamplesPerPacket;
      c.play_pos += n;
      if (c.play_pos >= c.clip->size()) c.clip = nullptr;
    }
    if (c.next_send_ms < now - 200) c.next_send_ms = now;  // a stalled loop does not burst
  }

  void ReadRtp(Call& c, int64_t now) {
    uint8_t buf[2048];
    for (int i = 0; i < 64; ++i) {
      sockaddr_storage ss{};
      socklen_t len = sizeof(ss);
      ssize_t n = recvfrom(c.rtp_fd, buf, sizeof(buf), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&ss), &len);
      if (n <= 0) return;
      ++stats.rtp_packets;
      Addr from = FromSockaddr(ss, len);
      if (!c.rtp_latched) {
        c.rtp_src = from;
        c.rtp_latched = true;
        c.hit.set_rtp_src(absl::StrCat(HostText(from.ip), ":", from.port));
      } else if (!(from.ip == c.rtp_src.ip && from.port == c.rtp_src.port)) {
        ++stats.rtp_dropped;  // a second sender (a flood): not this call's media
        continue;
      }
      if (c.state != CallState::kConfirmed && c.state != CallState::kAnswered) continue;
      auto rtp = sip::ParseRtp(std::span<const uint8_t>(buf, static_cast<size_t>(n)));
      if (!rtp.ok() || (rtp->payload_type != 0 && rtp->payload_type != 8)) continue;
      if (c.rec == nullptr) continue;
      const size_t before = c.rec->samples().size();
      // The call's bound, or what is left of the process's, if less.
      const size_t call_max = static_cast<size_t>(opt.max_call_bytes / 2);
      const size_t total_left =
          static_cast<size_t>((opt.max_total_bytes - std::min(total_recorded, opt.max_total_bytes)) / 2);
      const bool total_binds = before + total_left < call_max;
      c.rec->set_max_samples(total_binds ? before + total_left : call_max);
      bool ok = c.rec->Add(rtp->payload_type == 0 ? Codec::kPcmu : Codec::kPcma, rtp->timestamp, rtp->payload);
      const size_t added = c.rec->samples().size() - before;
      total_recorded += added * 2;
      stats.recorded_bytes += added * 2;
      if (!ok) {
        EndCall(c, total_binds ? "disk-limit" : "record-limit", true, now);
        ++stats.calls_cut;
        return;
      }
    }
  }

  // ---- calls ------------------------------------------------------------
  void SendBye(Call& c, int64_t now) {
    std::string r = absl::StrCat("BYE ", c.remote_target.empty() ? "sip:invalid" : c.remote_target,
                                 " SIP/2.0\r\nVia: SIP/2.0/UDP ", listen_host_text, ":", port, ";branch=z9hG4bK",
                                 RandomHex(rng, 16), ";rport\r\nMax-Forwards: 70\r\n");
    for (const std::string& route : c.route_set) absl::StrAppend(&r, "Route: ", route, "\r\n");
    absl::StrAppend(&r, "From: ", c.our_to, "\r\nTo: ", c.their_from, "\r\nCall-ID: ", c.key, "\r\nCSeq: ",
                    ++c.our_cseq, " BYE\r\nUser-Agent: ", opt.server, "\r\nContent-Length: 0\r\n\r\n");
    // Only ever to where the call came from: the proxy, or the caller.
    ClientTx tx{r, c.sig_peer, now + kT1, kT1, now + kTimerH};
    SendTo(tx.peer, tx.request);
    byes.push_back(std::move(tx));
  }

  void EndCall(Call& c, std::string_view ended_by, bool bye, int64_t now) {
    if (c.state == CallState::kRinging || c.state == CallState::kEarly) bye = false;
    if (bye) SendBye(c, now);
    v1::HoneypotHit& h = c.hit;
    h.set_stage(v1::HoneypotHit::STAGE_ENDED);
    h.set_ended_by(std::string(ended_by));
    if (c.ring_sent_ms) h.set_ring_ms(c.ring_sent_ms - c.invite_ms);
    if (c.answered_ms) {
      h.set_answer_ms(c.answered_ms - c.invite_ms);
      h.set_talk_ms(now - c.answered_ms);
    }
    if (c.rec != nullptr) {
      h.set_rtp_packets(c.rec->packets());
      h.set_recorded_ms(c.rec->duration_ms());
      h.set_audio_sha256(c.rec->ContentHash());
      if (!opt.record_dir.empty() && !c.rec->samples().empty()) {
        const std::string name = absl::StrCat(
            absl::FormatTime("%Y%m%dT%H%M%S", absl::FromUnixNanos(h.ts_unix_ns()), absl::UTCTimeZone()), "-",
            SafeName(h.callee()), "-", RandomHex(rng, 8), ".wav");
        absl::Status st = c.rec->WriteWav(absl::StrCat(opt.record_dir, "/", name));
        if (st.ok()) {
          h.set_recording(name);
          ++stats.recordings;
        } else {
          ++stats.recording_errors;
          if (!opt.record_dir.empty()) fprintf(stderr, "sipwarden-honeypot: %s\n", std::string(st.message()).c_str());
        }
      }
    }
    Emit(h);
    if (c.rtp_fd >= 0) close(c.rtp_fd);
    c.rtp_fd = -1;
    c.clip = nullptr;
    ended.push_back(c.key);
  }
  std::vector<std::string> ended;  // calls to erase after the loop pass

  static std::string SafeName(std::string_view user) {
    std::string s;
    for (char ch : user.substr(0, 48)) {
      s.push_back(absl::ascii_isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '-' || ch == '_' ? ch
                                                                                                            : '_');
    }
    return s.empty() ? "unknown" : s;
  }

  void Answer(Call& c, int64_t now) {
    auto it = txs.find(c.invite_tx);
    if (it == txs.end()) return;
    c.state = CallState::kAnswered;
    c.answered_ms = now;
    c.ok_next_ms = now + kT1;
    c.ok_interval_ms = kT1;
    c.ok_deadline_ms = now + kTimerH;
    c.end_at_ms = now + opt.max_call_ms;
    c.rec = std::make_unique<Recording>(static_cast<size_t>(opt.max_call_bytes / 2));
    // The 200 is kept in the call and retransmitted until the ACK.
    Respond(it->second, c.ok_response, 200);
    StartClip(c, &opt.announcements.greeting, now);
  }

  void OnInvite(const sip::SipMessage& m, const std::string& txkey, ServerTx& tx, const Addr& src,
                const IpAddress& caller_ip, uint16_t caller_port, uint32_t ttl, bool proxied, bool deflected,
                int64_t now) {
    const std::string to_tag = RandomHex(rng, 12);
    const std::string key(m.call_id);
    if (!m.to.tag.empty()) {
      // A re-INVITE inside a call: the same answer again; else 481.
      auto it = calls.find(key);
      if (it == calls.end() || it->second.state == CallState::kRinging) {
        Respond(tx, Response(m, 481, to_tag, ""), 481);
        return;
      }
      Call& c = it->second;
      Respond(tx, Response(m, 200, "", ContactHeader(m.request_uri.user), Sdp(c, false)), 200);
      return;
    }
    v1::HoneypotHit hit = MakeHit(m, caller_ip, caller_port, ttl, proxied);
    hit.set_deflected(deflected);
    if (deflected) {
      // The real user the production proxy deflected the call from: its
      // header names the dialled URI (a proxy may have rewritten the
      // Request-URI on the way).
      if (const sip::Header* h = m.Find("X-Sipwarden-Deflected")) {
        auto na = sip::ParseNameAddr(h->value);
        if (na.ok() && !na->uri.user.empty()) hit.set_callee(std::string(na->uri.user.substr(0, 128)));
      }
    }
    ++stats.calls;
    if (calls.size() >= opt.max_calls || calls.contains(key)) {
      ++stats.calls_refused;
      Respond(tx, Response(m, 503, to_tag, "Retry-After: 60\r\n"), 503);
      hit.set_final_status(503);
      Emit(hit);
      return;
    }
    Call& c = calls[key];
    c.key = key;
    c.invite_tx = txkey;
    c.sig_peer = src;
    c.caller_ip = caller_ip;
    c.local_tag = to_tag;
    c.invite_ms = now;
    c.ssrc = static_cast<uint32_t>(rng());
    c.seq = static_cast<uint16_t>(rng());
    c.ts = static_cast<uint32_t>(rng());
    c.hit = hit;
    tx.call_key = key;
    if (const sip::Header* h = m.Find(sip::HeaderId::kFrom)) c.their_from = std::string(h->value);
    if (const sip::Header* h = m.Find(sip::HeaderId::kTo)) c.our_to = absl::StrCat(AV(h->value), ";tag=", to_tag);
    for (std::string_view rr : m.Values(sip::HeaderId::kRecordRoute)) c.route_set.emplace_back(rr);
    if (!m.contacts.empty()) c.remote_target = std::string(m.contacts[0].uri.raw);
    const std::string callee(m.request_uri.user);
    auto u = opt.users.find(callee);
    c.service = deflected ? Role::kVoicemail : u != opt.users.end() ? u->second : opt.unknown_callee;

    absl::Status st = OpenRtp(c);
    bool offer_ok = true;
    if (m.HasSdpBody() && !m.body.empty()) offer_ok = ReadOffer(c, m.body, true);
    if (!st.ok() || !offer_ok) {
      const int code = st.ok() ? 488 : 503;
      Respond(tx, Response(m, code, to_tag, ""), code);
      c.hit.set_final_status(code);
      Emit(c.hit);  // arrived
      EndCall(c, st.ok() ? "not-acceptable" : "no-media-port", false, now);
      return;
    }
    Emit(c.hit);  // arrived: the policy acts on this at once
    Respond(tx, Response(m, 100, "", ""), 100);
    const std::string contact = ContactHeader(callee);
    c.ok_response = Response(m, 200, to_tag, contact, Sdp(c, !c.have_offer));
    c.hit.set_final_status(200);
    c.ring_sent_ms = now;
    switch (c.service) {
      case Role::kGateway:
        c.state = CallState::kEarly;
        c.hit.set_final_status(480);
        Respond(tx, Response(m, 183, to_tag, contact, Sdp(c, false)), 183);
        StartClip(c, &opt.announcements.unavailable, now);
        c.gateway_refuse_pending = true;
        c.end_at_ms = now + opt.max_call_ms;
        break;
      case Role::kDeflector:
        Respond(tx, Response(m, 180, to_tag, contact), 180);
        c.answer_at_ms = now + opt.ring_ms;
        break;
      case Role::kVoicemail:
        // A voicemail picks up after a moment: answering in the same instant
        // lets the 200 overtake the 180 through a multi-process proxy.
        Respond(tx, Response(m, 180, to_tag, contact), 180);
        c.answer_at_ms = now + kVoicemailPickupMs;
        break;
    }
  }

  void OnAckForCall(const sip::SipMessage& m, int64_t now) {
    auto it = calls.find(std::string(m.call_id));
    if (it == calls.end()) return;
    Call& c = it->second;
    if (c.state != CallState::kAnswered) return;
    c.state = CallState::kConfirmed;
    c.ok_next_ms = 0;
    if (!c.have_offer && m.HasSdpBody() && !m.body.empty()) (void)ReadOffer(c, m.body, true);
    (void)now;
  }

  // ---- requests ---------------------------------------------------------
  void OnDatagram(std::string_view data, const Addr& src, uint32_t ttl, int64_t now) {
    sip::SipMessage m;
    if (sip::ParseSipInto(data, {}, &m).reason != sip::Reason::kOk || m.vias.empty() || m.call_id.empty()) {
      ++stats.malformed;  // no answer: the source may be forged
      return;
    }
    if (!m.is_request) {
      if (m.cseq.method_id == sip::Method::kRegister) {
        OnRegisterResponse(m, now);
        return;
      }
      // Responses to our BYEs end their retransmission.
      for (auto& b : byes) {
        if (m.cseq.method_id == sip::Method::kBye && absl::StrContains(b.request, AV(m.vias[0].branch))) b.deadline_ms = 0;
      }
      return;
    }
    ++stats.requests;
    // The caller: the proxy's header when it came through a trusted proxy.
    bool proxied = false, deflected = false;
    IpAddress caller_ip = src.ip;
    uint16_t caller_port = src.port;
    for (const IpAddress& p : opt.trusted_proxies) {
      if (p == src.ip) proxied = true;
    }
    if (proxied) {
      if (const sip::Header* h = m.Find("X-Sipwarden-Source")) {
        std::string_view v = h->value.substr(0, h->value.find(';'));
        auto hp = ParseHostPortText(SV(absl::StripAsciiWhitespace(AV(v))));
        if (hp.ok()) {
          caller_ip = hp->first;
          caller_port = hp->second;
        }
      }
      deflected = m.Find("X-Sipwarden-Deflected") != nullptr;
    }
    const std::string branch(m.vias[0].branch);
    const std::string base = branch.size() > 7 && absl::StartsWith(branch, "z9hG4bK")
                                 ? branch
                                 : absl::StrCat(AV(m.call_id), "|", m.cseq.seq, "|", AV(m.from.tag), "|", AV(m.vias[0].raw));
    const sip::Method method = m.method_id;
    if (method == sip::Method::kAck) {
      auto it = txs.find(absl::StrCat(base, "|INVITE"));
      if (it != txs.end() && it->second.final_status >= 300) {
        it->second.retransmit_ms = 0;  // timer G stops; the ACK is absorbed (timer I)
        it->second.expires_ms = now + 5000;
        return;
      }
      OnAckForCall(m, now);
      return;
    }
    const std::string method_key =
        method == sip::Method::kUnknown ? std::string(m.method) : std::string(sip::MethodName(method));
    const std::string key = absl::StrCat(base, "|", method_key);
    if (auto it = txs.find(key); it != txs.end()) {
      ++stats.retransmissions;
      if (!it->second.last_response.empty()) SendTo(src, it->second.last_response);
      return;
    }
    ServerTx& tx = txs[key];
    tx.invite = method == sip::Method::kInvite;
    tx.peer = src;
    tx.expires_ms = now + kTimerH;  // until answered
    tx_expiry.push_back(key);
    const std::string tag = RandomHex(rng, 12);
    switch (method) {
      case sip::Method::kInvite:
        OnInvite(m, key, tx, src, caller_ip, caller_port, ttl, proxied, deflected, now);
        return;
      case sip::Method::kCancel: {
        auto inv = txs.find(absl::StrCat(base, "|INVITE"));
        if (inv == txs.end()) {
          Respond(tx, Response(m, 481, tag, ""), 481);
          return;
        }
        Respond(tx, Response(m, 200, tag, ""), 200);
        auto c = calls.find(inv->second.call_key);
        if (inv->second.final_status == 0 || (c != calls.end() && c->second.state == CallState::kEarly)) {
          // 487 for the INVITE: rebuilt from the CANCEL, which carries the
          // same Via, From, To, Call-ID and CSeq number.
          std::string r = Response(m, 487, c != calls.end() ? c->second.local_tag : tag, "");
          const std::string cancel_cseq = absl::StrCat(m.cseq.seq, " CANCEL");
          if (size_t at = r.find(cancel_cseq); at != std::string::npos) {
            r.replace(at, cancel_cseq.size(), absl::StrCat(m.cseq.seq, " INVITE"));
          }
          Respond(inv->second, r, 487);
          if (c != calls.end()) {
            c->second.hit.set_final_status(487);
            EndCall(c->second, "cancel", false, now);
          }
        }
        return;
      }
      case sip::Method::kBye: {
        auto c = calls.find(std::string(m.call_id));
        if (c == calls.end()) {
          Respond(tx, Response(m, 481, tag, ""), 481);
          return;
        }
        Respond(tx, Response(m, 200, "", ""), 200);
        EndCall(c->second, "bye", false, now);
        return;
      }
      case sip::Method::kRegister: {
        ++stats.registers;
        v1::HoneypotHit hit = MakeHit(m, caller_ip, caller_port, ttl, proxied);
        if (!m.authorization) {
          const std::string challenge = absl::StrCat("WWW-Authenticate: Digest realm=\"", opt.realm,
                                                     "\", nonce=\"", RandomHex(rng, 32),
                                                     "\", algorithm=MD5, qop=\"auth\"\r\n");
          Respond(tx, Response(m, 401, tag, challenge), 401);
          hit.set_final_status(401);
        } else {
          Respond(tx, Response(m, 403, tag, ""), 403);
          hit.set_final_status(403);
        }
        Emit(std::move(hit));
        return;
      }
      case sip::Method::kOptions: {
        ++stats.options;
        v1::HoneypotHit hit = MakeHit(m, caller_ip, caller_port, ttl, proxied);
        Respond(tx,
                Response(m, 200, tag,
                         absl::StrCat("Allow: ", kAllow, "\r\nAccept: application/sdp\r\nSupported: replaces, timer\r\n",
                                      ContactHeader(m.request_uri.user))),
                200);
        hit.set_final_status(200);
        Emit(std::move(hit));
        return;
      }
      case sip::Method::kMessage: {
        v1::HoneypotHit hit = MakeHit(m, caller_ip, caller_port, ttl, proxied);
        Respond(tx, Response(m, 200, tag, ""), 200);
        hit.set_final_status(200);
        Emit(std::move(hit));
        return;
      }
      default: {
        // In-dialog requests of a call (INFO, UPDATE) are accepted quietly;
        // anything else is a hit and refused.
        if (!m.to.tag.empty() && calls.contains(std::string(m.call_id))) {
          Respond(tx, Response(m, 200, "", ""), 200);
          return;
        }
        v1::HoneypotHit hit = MakeHit(m, caller_ip, caller_port, ttl, proxied);
        Respond(tx, Response(m, 405, tag, absl::StrCat("Allow: ", kAllow, "\r\n")), 405);
        hit.set_final_status(405);
        Emit(std::move(hit));
        return;
      }
    }
  }

  // ---- our registrations at the registrar ------------------------------
  void SendRegister(Registration& r, int64_t now) {
    r.branch = absl::StrCat("z9hG4bK", RandomHex(rng, 16));
    r.request = absl::StrCat("REGISTER sip:", domain, " SIP/2.0\r\nVia: SIP/2.0/UDP ", listen_host_text, ":",
                             port, ";branch=", r.branch, ";rport\r\nMax-Forwards: 70\r\nFrom: <sip:", r.user, "@",
                             domain, ">;tag=", r.tag, "\r\nTo: <sip:", r.user, "@", domain, ">\r\nCall-ID: ",
                             r.call_id, "\r\nCSeq: ", ++r.cseq, " REGISTER\r\nContact: <sip:", r.user, "@",
                             listen_host_text, ":", port, ">\r\nExpires: ", opt.register_expires_s,
                             "\r\nUser-Agent: ", opt.server, "\r\nContent-Length: 0\r\n\r\n");
    r.interval_ms = kT1;
    r.retransmit_ms = now + kT1;
    r.deadline_ms = now + kTimerH;
    SendTo(registrar, r.request);
  }

  void OnRegisterResponse(const sip::SipMessage& m, int64_t now) {
    auto it = regs.find(std::string(m.call_id));
    if (it == regs.end() || it->second.request.empty() || m.vias.empty() ||
        m.vias[0].branch != it->second.branch) {
      return;
    }
    Registration& r = it->second;
    if (m.status_code < 200) {
      r.retransmit_ms = 0;  // a provisional response: timer E stops, F runs
      return;
    }
    r.request.clear();
    r.retransmit_ms = 0;
    if (m.status_code < 300) {
      if (!r.registered) ++stats.registered;
      r.registered = true;
      // Refreshed at four fifths of the expiry (the registrar may shorten it).
      const int64_t expires = m.expires ? std::min<int64_t>(*m.expires, opt.register_expires_s)
                                        : opt.register_expires_s;
      r.due_ms = now + std::max<int64_t>(expires, 10) * 800;
    } else {
      ++stats.register_failures;
      if (r.registered) --stats.registered;
      r.registered = false;
      r.due_ms = now + 60000;
    }
  }

  void RegisterTimers(int64_t now, const std::function<void(int64_t)>& soon) {
    if (regs.empty()) return;
    reg_credit = std::min<double>(reg_credit + (now - reg_last_ms) * opt.register_per_s / 1000.0,
                                  opt.register_per_s);
    reg_last_ms = now;
    for (size_t n = 0; n < reg_order.size() && reg_credit >= 1; ++n) {
      Registration& r = regs[reg_order.front()];
      reg_order.push_back(reg_order.front());
      reg_order.pop_front();
      if (r.request.empty() && now >= r.due_ms) {
        SendRegister(r, now);
        reg_credit -= 1;
      }
    }
    for (auto& [id, r] : regs) {
      if (r.request.empty()) continue;
      if (now >= r.deadline_ms) {  // no final response: timer F
        r.request.clear();
        ++stats.register_failures;
        if (r.registered) --stats.registered;
        r.registered = false;
        r.due_ms = now + 60000;
        continue;
      }
      if (r.retransmit_ms && now >= r.retransmit_ms) {
        SendTo(registrar, r.request);
        r.interval_ms = std::min(r.interval_ms * 2, kT2);
        r.retransmit_ms = now + r.interval_ms;
      }
      soon(r.retransmit_ms ? r.retransmit_ms : r.deadline_ms);
    }
    soon(now + 50);  // pacing
  }

  // ---- timers -----------------------------------------------------------
  int64_t Timers(int64_t now) {
    int64_t next = now + 1000;
    auto soon = [&](int64_t t) {
      if (t > 0 && t < next) next = t;
    };
    for (auto& [key, c] : calls) {
      if (c.rtp_fd < 0) continue;  // ended
      if (c.answer_at_ms && now >= c.answer_at_ms) {
        c.answer_at_ms = 0;
        Answer(c, now);
      }
      soon(c.answer_at_ms);
      if (c.state == CallState::kAnswered && c.ok_next_ms) {
        if (now >= c.ok_deadline_ms) {
          EndCall(c, "caller-gone", true, now);  // no ACK: 13.3.1.4
          continue;
        }
        if (now >= c.ok_next_ms) {
          SendTo(c.sig_peer, c.ok_response);
          ++stats.responses_sent;
          c.ok_interval_ms = std::min(c.ok_interval_ms * 2, kT2);
          c.ok_next_ms = now + c.ok_interval_ms;
        }
        soon(c.ok_next_ms);
      }
      PumpMedia(c, now);
      if (c.clip != nullptr) soon(c.next_send_ms);
      if (c.gateway_refuse_pending && c.clip == nullptr) {
        c.gateway_refuse_pending = false;
        auto it = txs.find(c.invite_tx);
        if (it != txs.end() && it->second.final_status == 0) {
          // The 480 is built from the 183 the call sent (same headers).
          std::string r = it->second.last_response;
          const size_t eol = r.find("\r\n");
          r.replace(0, eol, "SIP/2.0 480 Temporarily Unavailable");
          const size_t ct = r.find("Content-Type:");
          if (ct != std::string::npos) r.erase(ct);
          else r.erase(r.find("Content-Length:"));
          r += "Content-Length: 0\r\n\r\n";
          Respond(it->second, r, 480);
        }
        EndCall(c, "refused", false, now);
        continue;
      }
      if (c.end_at_ms && now >= c.end_at_ms) {
        ++stats.calls_cut;
        EndCall(c, "duration-limit", true, now);
        continue;
      }
      soon(c.end_at_ms);
    }
    for (auto& [key, tx] : txs) {
      if (tx.retransmit_ms && now >= tx.retransmit_ms) {
        SendTo(tx.peer, tx.last_response);
        tx.interval_ms = std::min(tx.interval_ms * 2, kT2);
        tx.retransmit_ms = now + tx.interval_ms;
      }
      soon(tx.retransmit_ms);
    }
    // Expired transactions, in creation order. A transaction's expiry is
    // set when it gets its final response, within seconds of its creation,
    // so one not yet due at the front holds the rest back only briefly.
    while (!tx_expiry.empty()) {
      auto it = txs.find(tx_expiry.front());
      if (it != txs.end()) {
        if (it->second.expires_ms > now) {
          soon(it->second.expires_ms);
          break;
        }
        txs.erase(it);
      }
      tx_expiry.pop_front();
    }
    for (auto& b : byes) {
      if (b.deadline_ms && now >= b.next_ms && now < b.deadline_ms) {
        SendTo(b.peer, b.request);
        b.interval_ms = std::min(b.interval_ms * 2, kT2);
        b.next_ms = now + b.interval_ms;
      }
      if (b.deadline_ms) soon(b.next_ms);
    }
    std::erase_if(byes, [&](const ClientTx& b) { return b.deadline_ms == 0 || now >= b.deadline_ms; });
    RegisterTimers(now, soon);
    for (const std::string& k : ended) calls.erase(k);
    ended.clear();
    stats.calls_active = calls.size();
    return next;
  }

  void Loop() {
    std::vector<pollfd> fds;
    std::vector<Call*> owners;
    char buf[65536];
    char cbuf[256];
    while (!stop.load(std::memory_order_relaxed)) {
      int64_t now = NowMs();
      const int64_t next = Timers(now);
      fds.clear();
      owners.clear();
      fds.push_back({sip_fd, POLLIN, 0});
      owners.push_back(nullptr);
      for (auto& [key, c] : calls) {
        if (c.rtp_fd < 0) continue;
        fds.push_back({c.rtp_fd, POLLIN, 0});
        owners.push_back(&c);
      }
      const int wait = static_cast<int>(std::clamp<int64_t>(next - now, 0, 200));
      int n = poll(fds.data(), fds.size(), wait);
      if (n <= 0) continue;
      now = NowMs();
      if (fds[0].revents & POLLIN) {
        for (int i = 0; i < 256; ++i) {
          sockaddr_storage ss{};
          iovec iov{buf, sizeof(buf)};
          msghdr mh{};
          mh.msg_name = &ss;
          mh.msg_namelen = sizeof(ss);
          mh.msg_iov = &iov;
          mh.msg_iovlen = 1;
          mh.msg_control = cbuf;
          mh.msg_controllen = sizeof(cbuf);
          ssize_t got = recvmsg(sip_fd, &mh, MSG_DONTWAIT);
          if (got <= 0) break;
          uint32_t ttl = 0;
          for (cmsghdr* cm = CMSG_FIRSTHDR(&mh); cm != nullptr; cm = CMSG_NXTHDR(&mh, cm)) {
            if ((cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_TTL) ||
                (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_HOPLIMIT)) {
              int v = 0;
              std::memcpy(&v, CMSG_DATA(cm), sizeof(v));
              ttl = static_cast<uint32_t>(v);
            }
          }
          OnDatagram(std::string_view(buf, static_cast<size_t>(got)), FromSockaddr(ss, mh.msg_namelen), ttl, now);
        }
      }
      for (size_t i = 1; i < fds.size(); ++i) {
        if ((fds[i].revents & POLLIN) && owners[i]->rtp_fd >= 0) ReadRtp(*owners[i], now);
      }
    }
    const int64_t now = NowMs();
    for (auto& [key, c] : calls) {
      if (c.rtp_fd >= 0) EndCall(c, "shutdown", true, now);
    }
    calls.clear();
  }
};

Uas::Uas(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Uas::~Uas() = default;
uint16_t Uas::port() const { return impl_->port; }
void Uas::Run() { impl_->Loop(); }
void Uas::Stop() { impl_->stop = true; }
const UasStats& Uas::stats() const { return impl_->stats; }

absl::StatusOr<std::unique_ptr<Uas>> Uas::Create(UasOptions options, HitSink sink) {
  auto impl = std::make_unique<Impl>();
  auto hp = ParseHostPortText(options.listen);
  if (!hp.ok()) return absl::InvalidArgumentError(absl::StrCat("--listen ", hp.status().message()));
  if (options.rtp_port_min < 1024 || options.rtp_port_min >= options.rtp_port_max) {
    return absl::InvalidArgumentError(absl::StrCat("RTP port range ", options.rtp_port_min, "-",
                                                   options.rtp_port_max, ": need 1024 <= MIN < MAX"));
  }
  if (options.media_ip.empty()) {
    const bool wildcard = hp->first == IpAddress::Parse("0.0.0.0").value() || hp->first == IpAddress::Parse("::").value();
    if (wildcard) {
      return absl::InvalidArgumentError(
          absl::StrCat("--listen ", options.listen, " is a wildcard: give --media-ip, the address callers reach"));
    }
    impl->media_ip = hp->first;
  } else {
    auto ip = IpAddress::Parse(options.media_ip);
    if (!ip.ok()) return absl::InvalidArgumentError(absl::StrCat("--media-ip: ", ip.status().message()));
    impl->media_ip = *ip;
  }
  if (!options.record_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(options.record_dir, ec);
    if (ec) return absl::InvalidArgumentError(absl::StrCat("--record-dir ", options.record_dir, ": ", ec.message()));
    // Leftovers of a process that died mid-write: never a record.
    for (const auto& e : std::filesystem::directory_iterator(options.record_dir, ec)) {
      if (absl::EndsWith(e.path().string(), ".partial")) std::filesystem::remove(e.path(), ec);
    }
  }
  auto addr = MakeAddr(hp->first, hp->second);
  if (!addr.ok()) return addr.status();
  int fd = socket(addr->ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("socket: ", strerror(errno)));
  int one = 1;
  if (addr->ss.ss_family == AF_INET) {
    (void)setsockopt(fd, IPPROTO_IP, IP_RECVTTL, &one, sizeof(one));
  } else {
    (void)setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof(one));
  }
  int rcvbuf = 4 << 20;
  (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  if (bind(fd, reinterpret_cast<const sockaddr*>(&addr->ss), addr->len) != 0) {
    const int err = errno;
    close(fd);
    return absl::UnavailableError(absl::StrCat("bind ", options.listen, ": ", strerror(err)));
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  impl->local = FromSockaddr(ss, len);
  impl->port = impl->local.port;
  impl->sip_fd = fd;
  // Contact and Via name the SIP address (behind Kamailio: where the
  // proxy relays in-dialog requests); a wildcard listen address has none,
  // and the media address stands for it.
  const bool wildcard_listen = hp->first == IpAddress::Parse("0.0.0.0").value() ||
                               hp->first == IpAddress::Parse("::").value();
  impl->listen_host_text = HostText(wildcard_listen ? impl->media_ip : hp->first);
  if (!options.registrar.empty()) {
    auto reg = ParseHostPortText(options.registrar);
    if (!reg.ok()) return absl::InvalidArgumentError(absl::StrCat("--register-with ", reg.status().message()));
    auto ra = MakeAddr(reg->first, reg->second);
    if (!ra.ok()) return ra.status();
    impl->registrar = *ra;
    impl->domain = options.domain.empty() ? HostText(reg->first) : options.domain;
    if (options.register_expires_s < 60 || options.register_per_s < 1) {
      return absl::InvalidArgumentError("registrations: expiry at least 60 s, at least one per second");
    }
    std::vector<std::string> users;
    for (const auto& [user, role] : options.users) users.push_back(user);
    std::sort(users.begin(), users.end());
    for (const std::string& user : users) {
      Registration r;
      r.user = user;
      r.call_id = absl::StrCat("reg-", RandomHex(impl->rng, 16), "@", impl->listen_host_text);
      r.tag = RandomHex(impl->rng, 10);
      impl->reg_order.push_back(r.call_id);
      impl->regs.emplace(r.call_id, std::move(r));
    }
  }
  impl->reg_last_ms = NowMs();
  impl->opt = std::move(options);
  impl->sink = std::move(sink);
  return std::unique_ptr<Uas>(new Uas(std::move(impl)));
}

}  // namespace sw::honeypot
