// SPDX-License-Identifier: BSD-2-Clause
#include "stream.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <string_view>

namespace sw::bench {
namespace {

constexpr std::string_view kMethodNames[kNumMethods] = {"INVITE", "ACK",      "BYE",
                                                        "CANCEL", "REGISTER", "OPTIONS"};
constexpr std::string_view kDomain = "example.net";
constexpr int64_t kT0 = 1'700'000'000 * kS;  // 2023-11-14T22:13:20Z

// Legitimate traffic per simulated second at full scale, and the attackers'
// rates (never scaled: they are what the rules must catch).
constexpr double kCallsPerS = 700;
constexpr double kRegistrationsPerS = 250;
constexpr double kKeepalivesPerS = 150;
constexpr double kFloodPerS = 100;    // INVITEs
constexpr double kCrackPerS = 20;     // REGISTER attempts
constexpr double kScanPerS = 20;      // probes (half sweep, half enumeration)
constexpr double kHandshakePerS = 4;  // INVITEs whose 200 OK is never ACKed
constexpr int64_t kAttackStart = 200 * kMs;
constexpr uint32_t kLegitUas = 200'000;
constexpr int kServers = 4;

std::string_view Reason(int status) {
  switch (status) {
    case 100:
      return "Trying";
    case 180:
      return "Ringing";
    case 200:
      return "OK";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 407:
      return "Proxy Authentication Required";
    case 480:
      return "Temporarily Unavailable";
    case 486:
      return "Busy Here";
    case 487:
      return "Request Terminated";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

uint64_t SplitMix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// A SplitMix64 counter, with no standard-library distribution involved: the
// same seed gives the same stream with every standard library.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(SplitMix(seed ^ 0x5157617264656e00ull)) {}
  uint64_t Next() { return SplitMix(s_++); }
  double U() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  double U(double a, double b) { return a + (b - a) * U(); }
  uint32_t Below(uint32_t n) { return static_cast<uint32_t>(Next() % n); }
  double Exp(double mean) { return -mean * std::log(1 - U()); }

 private:
  uint64_t s_;
};

int64_t Ms(double ms) { return static_cast<int64_t>(ms * kMs); }
int64_t Sec(double s) { return static_cast<int64_t>(s * kS); }

void AppendHex(uint64_t v, std::string* out) {
  char buf[16];
  auto r = std::to_chars(buf, buf + sizeof buf, v, 16);
  out->append(buf, r.ptr);
}
void AppendUint(uint64_t v, std::string* out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, r.ptr);
}

std::string IpText(uint32_t ip) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255,
                ip & 255);
  return buf;
}

uint32_t Ip(int a, int b, int c, int d) {
  return static_cast<uint32_t>(a) << 24 | static_cast<uint32_t>(b) << 16 |
         static_cast<uint32_t>(c) << 8 | static_cast<uint32_t>(d);
}

// Builds a stream: parties, users and sessions, events in any order until
// Finish() sorts and cuts them.
class Builder {
 public:
  Builder(uint64_t seed, uint32_t legit_uas) : rng_(seed), seed_(seed) {
    s_.start_ns = kT0;
    s_.agents = {
        "Yealink SIP-T46S 66.85.0.5",
        "Linphone/5.0.5 (belle-sip/5.0.5)",
        "PolycomVVX-VVX_411-UA/6.3.1.8427",
        "Grandstream GXP2170 1.0.11.3",
        "Cisco-SIPIPCommunicator/9.1.1",
        "MicroSIP/3.21.3",
        "Zoiper rv2.10.19.9",
        "Asterisk PBX 18.12.0",  // 7: the servers
        "friendly-scanner",      // 8: the scanner
    };
    // Users: the legitimate ones first (user index == legit UA index).
    for (uint32_t i = 0; i < legit_uas; ++i) AddUser(std::to_string(1000000 + i));
    pbx_user_ = AddUser("pbx");
    anon_user_ = AddUser("anonymous");
    for (int i = 0; i < 1000; ++i) {  // international numbers some calls go to
      static constexpr const char* kCc[] = {"44", "33", "49", "34", "39", "1"};
      international_.push_back(AddUser("00" + std::string(kCc[i % 6]) +
                                       std::to_string(200000000 + SplitMix(i) % 700000000)));
    }
    for (int ext = 100; ext <= 999; ++ext) extensions_.push_back(AddUser(std::to_string(ext)));

    for (int i = 0; i < kServers; ++i) {
      servers_.push_back(AddParty({Ip(192, 0, 2, 10 + i), 5060, pbx_user_, 7, Role::kServer}));
    }
    first_ua_ = static_cast<uint32_t>(s_.parties.size());
    for (uint32_t i = 0; i < legit_uas; ++i) {
      const uint32_t n = i + 1;  // 10.0.0.1 upwards
      const uint16_t port = i % 3 == 0 ? 5060 : static_cast<uint16_t>(20000 + SplitMix(i) % 40000);
      AddParty({Ip(10, (n >> 16) & 255, (n >> 8) & 255, n & 255), port, i,
                static_cast<uint8_t>(SplitMix(n) % 7), Role::kLegit});
    }
    legit_uas_ = legit_uas;
    flooder_ = AddParty({Ip(203, 0, 113, 10), 5070, anon_user_, 7, Role::kFlooder});
    cracker_ = AddParty({Ip(203, 0, 113, 20), 5061, anon_user_, 6, Role::kCracker});
    scanner_ = AddParty({Ip(203, 0, 113, 30), 5062, extensions_[0], 8, Role::kScanner});
    handshake_ = AddParty({Ip(203, 0, 113, 40), 5063, anon_user_, 2, Role::kHandshake});
    s_.attackers = {flooder_, cracker_, scanner_, handshake_};
    // Three users whose passwords the cracker tries.
    victims_ = {1, 2, 100 % legit_uas};
  }

  uint32_t AddUser(std::string user) {
    s_.user_uris.push_back("sip:" + user + "@" + std::string(kDomain));
    s_.users.push_back(std::move(user));
    return static_cast<uint32_t>(s_.users.size() - 1);
  }

  uint32_t AddParty(Party p) {
    s_.parties.push_back(p);
    s_.ip_texts.push_back(IpText(p.ip));
    const uint8_t b[4] = {static_cast<uint8_t>(p.ip >> 24), static_cast<uint8_t>(p.ip >> 16),
                          static_cast<uint8_t>(p.ip >> 8), static_cast<uint8_t>(p.ip)};
    s_.ips.push_back(IpAddress::FromV4(b));
    return static_cast<uint32_t>(s_.parties.size() - 1);
  }

  uint32_t NewSession(SessionType type, uint32_t client, uint32_t server, uint32_t target,
                      int64_t start) {
    Session ss;
    ss.type = type;
    ss.client = client;
    ss.server = server;
    ss.target = target;
    ss.start_ns = start;
    const uint32_t id = static_cast<uint32_t>(s_.sessions.size());
    ss.call_id.reserve(40);
    AppendHex(SplitMix(seed_ * 0x100000001b3ull ^ id), &ss.call_id);
    ss.call_id += '@';
    ss.call_id += s_.ip_texts[client];
    s_.sessions.push_back(std::move(ss));
    return id;
  }

  void Add(int64_t ts, uint32_t session, uint8_t method, uint16_t status, uint16_t cseq,
           uint8_t flags) {
    s_.events.push_back({ts, session, status, cseq, method, flags});
  }

  uint32_t RandomUa() { return first_ua_ + rng_.Below(legit_uas_); }
  uint32_t ServerOf(uint32_t party) { return servers_[party % kServers]; }

  // A legitimate call from a random UA, with its outcome.
  void Call(int64_t t) {
    const uint32_t ua = RandomUa();
    const uint32_t target =
        rng_.U() < 0.03 ? international_[rng_.Below(1000)] : rng_.Below(legit_uas_);
    const uint32_t id = NewSession(SessionType::kCall, ua, ServerOf(ua), target, t);
    const int64_t rtt = Ms(rng_.U(20, 250));
    uint16_t cseq = 1;
    uint8_t auth = 0;
    if (rng_.U() < 0.3) {  // the proxy challenges the first INVITE
      Add(t, id, kInvite, 0, 1, kRequest | kSdp);
      Add(t + Ms(4), id, kInvite, 407, 1, kFromServer);
      Add(t + Ms(4) + rtt, id, kAck, 0, 1, kRequest);
      t += Ms(7) + rtt;
      cseq = 2;
      auth = kAuth;
    }
    Add(t, id, kInvite, 0, cseq, kRequest | kSdp | auth);
    Add(t + Ms(rng_.U(3, 15)), id, kInvite, 100, cseq, kFromServer);
    Session& ss = s_.sessions[id];
    const double r = rng_.U();
    const int64_t ring = t + Ms(rng_.U(100, 500));
    int64_t end;
    if (r < 0.03) {  // wrong number
      end = t + Ms(30);
      Add(end, id, kInvite, 404, cseq, kFromServer);
      Add(end + rtt, id, kAck, 0, cseq, kRequest);
      ss.disposition = ev::Disposition::kFailed;
      ss.final_status = 404;
    } else if (r < 0.13) {  // busy
      Add(ring, id, kInvite, 180, cseq, kFromServer);
      end = ring + Sec(rng_.U(1, 8));
      Add(end, id, kInvite, 486, cseq, kFromServer);
      Add(end + rtt, id, kAck, 0, cseq, kRequest);
      ss.disposition = ev::Disposition::kBusy;
      ss.final_status = 486;
    } else if (r < 0.20) {  // the caller gives up
      Add(ring, id, kInvite, 180, cseq, kFromServer);
      const int64_t cancel = ring + Sec(rng_.U(3, 20));
      Add(cancel, id, kCancel, 0, cseq, kRequest);
      Add(cancel + Ms(3), id, kCancel, 200, cseq, kFromServer);
      end = cancel + Ms(5);
      Add(end, id, kInvite, 487, cseq, kFromServer);
      Add(end + rtt, id, kAck, 0, cseq, kRequest);
      ss.disposition = ev::Disposition::kCancelled;
      ss.final_status = 487;
      ss.ended_by = 2;
    } else if (r < 0.22) {  // nobody answers
      Add(ring, id, kInvite, 180, cseq, kFromServer);
      end = ring + Sec(30);
      Add(end, id, kInvite, 480, cseq, kFromServer);
      Add(end + rtt, id, kAck, 0, cseq, kRequest);
      ss.disposition = ev::Disposition::kNoAnswer;
      ss.final_status = 480;
    } else {  // answered, talked, hung up by either side
      Add(ring, id, kInvite, 180, cseq, kFromServer);
      const int64_t answer = ring + Sec(rng_.U(1.5, 12));
      Add(answer, id, kInvite, 200, cseq, kFromServer | kSdp);
      Add(answer + rtt, id, kAck, 0, cseq, kRequest);
      const int64_t bye = answer + rtt + Sec(std::min(7200.0, std::max(3.0, rng_.Exp(100))));
      if (rng_.U() < 0.6) {
        Add(bye, id, kBye, 0, static_cast<uint16_t>(cseq + 1), kRequest);
        end = bye + Ms(3);
        Add(end, id, kBye, 200, static_cast<uint16_t>(cseq + 1), kFromServer);
      } else {
        Add(bye, id, kBye, 0, 101, kRequest | kFromServer);
        end = bye + rtt;
        Add(end, id, kBye, 200, 101, 0);
      }
      ss.disposition = ev::Disposition::kAnswered;
      ss.final_status = 200;
      ss.answer_ns = answer;
      ss.ended_by = 1;
    }
    ss.end_ns = end;
    Add(end, id, kInvite, 0, 0, kCallRecord);
  }

  // REGISTER, 401 challenge, REGISTER with credentials, 200.
  void Registration(int64_t t) {
    const uint32_t ua = RandomUa();
    const uint32_t id =
        NewSession(SessionType::kRegistration, ua, ServerOf(ua), s_.parties[ua].user, t);
    const int64_t rtt = Ms(rng_.U(20, 250));
    Add(t, id, kRegister, 0, 1, kRequest);
    Add(t + Ms(3), id, kRegister, 401, 1, kFromServer);
    Add(t + Ms(3) + rtt, id, kRegister, 0, 2, kRequest | kAuth);
    Add(t + Ms(6) + rtt, id, kRegister, 200, 2, kFromServer);
  }

  void Keepalive(int64_t t) {
    const uint32_t ua = RandomUa();
    const uint32_t id = NewSession(SessionType::kKeepalive, ua, ServerOf(ua), pbx_user_, t);
    Add(t, id, kOptions, 0, 1, kRequest);
    Add(t + Ms(2), id, kOptions, 200, 1, kFromServer);
  }

  // INVITEs with fresh Call-IDs to random users; the PBX sheds them with 503.
  void Flood(int64_t t) {
    const uint32_t id =
        NewSession(SessionType::kCall, flooder_, servers_[0], rng_.Below(legit_uas_), t);
    Add(t, id, kInvite, 0, 1, kRequest | kSdp);
    Add(t + Ms(2), id, kInvite, 100, 1, kFromServer);
    Add(t + Ms(4), id, kInvite, 503, 1, kFromServer);
    Session& ss = s_.sessions[id];
    ss.final_status = 503;
    ss.end_ns = t + Ms(4);
    Add(t + Ms(4), id, kInvite, 0, 0, kCallRecord);
  }

  // Guessed passwords for three users: 403, sometimes 401 (a fresh nonce).
  void Crack(int64_t t) {
    const uint32_t victim = victims_[rng_.Below(3)];
    const uint32_t id = NewSession(SessionType::kRegistration, cracker_, servers_[1], victim, t);
    Add(t, id, kRegister, 0, 1, kRequest | kAuth);
    Add(t + Ms(3), id, kRegister, rng_.U() < 0.85 ? 403 : 401, 1, kFromServer);
  }

  // svmap-like OPTIONS to hosts that do not answer, and svwar-like
  // REGISTERs for extensions 100..999 (404, or 401 for the few that exist).
  void Scan(int64_t t) {
    if (scan_count_++ % 2 == 0) {
      const uint32_t host =
          AddParty({Ip(172, 16 + static_cast<int>(rng_.Below(16)),
                       static_cast<int>(rng_.Below(256)), 1 + static_cast<int>(rng_.Below(254))),
                    5060, pbx_user_, 7, Role::kSwept});
      const uint32_t id = NewSession(SessionType::kSweep, scanner_, host, extensions_[0], t);
      Add(t, id, kOptions, 0, 1, kRequest);
    } else {
      const uint32_t ext = extensions_[next_ext_++ % extensions_.size()];
      const uint32_t id = NewSession(SessionType::kRegistration, scanner_, servers_[2], ext, t);
      Add(t, id, kRegister, 0, 1, kRequest);
      Add(t + Ms(2), id, kRegister, rng_.U() < 0.04 ? 401 : 404, 1, kFromServer);
    }
  }

  // INVITE answered by the PBX and never ACKed: the 200 OK is retransmitted
  // (Timer G) until Timer H gives up after 32 s and the PBX sends BYE.
  void Handshake(int64_t t) {
    const uint32_t id =
        NewSession(SessionType::kCall, handshake_, servers_[3], rng_.Below(legit_uas_), t);
    Add(t, id, kInvite, 0, 1, kRequest | kSdp);
    Add(t + Ms(3), id, kInvite, 100, 1, kFromServer);
    Add(t + Ms(50), id, kInvite, 180, 1, kFromServer);
    const int64_t answer = t + Ms(rng_.U(500, 2000));
    Add(answer, id, kInvite, 200, 1, kFromServer | kSdp);
    for (double rt : {0.5, 1.5, 3.5, 7.5, 15.5, 31.5}) {
      Add(answer + Sec(rt), id, kInvite, 200, 1, kFromServer | kSdp);
    }
    const int64_t bye = answer + Sec(32);
    Add(bye, id, kBye, 0, 101, kRequest | kFromServer);
    Session& ss = s_.sessions[id];
    ss.disposition = ev::Disposition::kAnswered;
    ss.final_status = 200;
    ss.answer_ns = answer;
    ss.end_ns = bye;
    ss.ended_by = 1;
    Add(bye, id, kInvite, 0, 0, kCallRecord);
  }

  // Sorts by time (ties keep their generation order) and keeps the first n.
  Stream Finish(size_t n) {
    std::stable_sort(s_.events.begin(), s_.events.end(),
                     [](const Event& a, const Event& b) { return a.ts_ns < b.ts_ns; });
    if (s_.events.size() > n) s_.events.resize(n);
    s_.events.shrink_to_fit();
    if (!s_.events.empty()) {
      s_.start_ns = s_.events.front().ts_ns;
      s_.end_ns = s_.events.back().ts_ns;
    }
    return std::move(s_);
  }

  Rng& rng() { return rng_; }
  size_t pending() const { return s_.events.size(); }
  const std::vector<Event>& events() const { return s_.events; }

 private:
  Stream s_;
  Rng rng_;
  uint64_t seed_;
  uint32_t pbx_user_ = 0, anon_user_ = 0, first_ua_ = 0, legit_uas_ = 0;
  uint32_t flooder_ = 0, cracker_ = 0, scanner_ = 0, handshake_ = 0;
  std::vector<uint32_t> servers_, international_, extensions_, victims_;
  uint64_t scan_count_ = 0, next_ext_ = 0;
};

// Starts `rate` sessions per second (fractions carried over) at uniformly
// random times within [t, t + 1 s).
template <typename F>
void Spread(Builder& b, double rate, double* carry, int64_t t, int64_t not_before, F start) {
  *carry += rate;
  while (*carry >= 1) {
    *carry -= 1;
    const int64_t at = t + static_cast<int64_t>(b.rng().U() * kS);
    if (at >= not_before) start(at);
  }
}

}  // namespace

std::string_view RoleName(Role r) {
  switch (r) {
    case Role::kLegit:
      return "legitimate";
    case Role::kServer:
      return "server";
    case Role::kSwept:
      return "swept host";
    case Role::kFlooder:
      return "INVITE flooder";
    case Role::kCracker:
      return "REGISTER password cracker";
    case Role::kScanner:
      return "scanner";
    case Role::kHandshake:
      return "broken-handshake source";
  }
  return "?";
}

size_t Stream::OpenDialogsAt(int64_t t) const {
  size_t n = 0;
  for (const Session& ss : sessions) {
    if (ss.type == SessionType::kCall && parties[ss.client].role == Role::kLegit &&
        ss.start_ns <= t && (ss.end_ns == 0 || ss.end_ns > t)) {
      ++n;
    }
  }
  return n;
}

Stream Generate(const StreamOptions& options) {
  // Legitimate traffic scales with the stream so that short (smoke) streams
  // still last long enough for every rule's window; attackers never scale.
  const double scale = std::clamp(static_cast<double>(options.events) / 1e6, 0.05, 1.0);
  Builder b(options.seed, kLegitUas);
  std::vector<size_t> per_second;  // events by the simulated second they fall in
  double c_call = 0, c_reg = 0, c_ka = 0, c_flood = 0, c_crack = 0, c_scan = 0, c_hs = 0;
  size_t counted = 0;
  for (int64_t sec = 0;; ++sec) {
    const size_t before = b.pending();
    const int64_t t = kT0 + sec * kS;
    const int64_t atk = kT0 + kAttackStart;
    Spread(b, kCallsPerS * scale, &c_call, t, 0, [&](int64_t at) { b.Call(at); });
    Spread(b, kRegistrationsPerS * scale, &c_reg, t, 0, [&](int64_t at) { b.Registration(at); });
    Spread(b, kKeepalivesPerS * scale, &c_ka, t, 0, [&](int64_t at) { b.Keepalive(at); });
    Spread(b, kFloodPerS, &c_flood, t, atk, [&](int64_t at) { b.Flood(at); });
    Spread(b, kCrackPerS, &c_crack, t, atk, [&](int64_t at) { b.Crack(at); });
    Spread(b, kScanPerS, &c_scan, t, atk, [&](int64_t at) { b.Scan(at); });
    Spread(b, kHandshakePerS, &c_hs, t, atk, [&](int64_t at) { b.Handshake(at); });
    // Sessions only produce events at or after their start, so every event
    // before sec + 1 is known now.
    for (size_t i = before; i < b.pending(); ++i) {
      const size_t at = static_cast<size_t>((b.events()[i].ts_ns - kT0) / kS);
      if (at >= per_second.size()) per_second.resize(at + 1);
      ++per_second[at];
    }
    counted += static_cast<size_t>(sec) < per_second.size() ? per_second[sec] : 0;
    if (counted >= options.events) break;
  }
  return b.Finish(options.events);
}

Stream GenerateOpenDialogs(size_t n, uint64_t seed) {
  Builder b(seed, static_cast<uint32_t>(std::max<size_t>(n, 1000)));
  const uint32_t first_ua = kServers;
  for (size_t i = 0; i < n; ++i) {
    const int64_t t = kT0 + static_cast<int64_t>(i) * kMs;
    const uint32_t ua = first_ua + static_cast<uint32_t>(i);
    const uint32_t target = b.rng().Below(static_cast<uint32_t>(n));
    const uint32_t id = b.NewSession(SessionType::kCall, ua, b.ServerOf(ua), target, t);
    b.Add(t, id, kInvite, 0, 1, kRequest | kSdp);
    b.Add(t + Ms(5), id, kInvite, 100, 1, kFromServer);
    b.Add(t + Ms(200), id, kInvite, 180, 1, kFromServer);
    b.Add(t + Ms(900), id, kInvite, 200, 1, kFromServer | kSdp);
    b.Add(t + Ms(1000), id, kAck, 0, 1, kRequest);
  }
  return b.Finish(n * 5);
}

// ---- Filler ----------------------------------------------------------------

namespace {

void Tag(uint32_t session, char side, std::string* out) {
  out->clear();
  out->push_back(side);
  AppendHex(SplitMix(session) & 0xffffffffffull, out);
}

}  // namespace

const ev::SipEvent& Filler::Sip(const Event& e) {
  ev::SipEvent* m = (e.flags & kSdp) ? &with_sdp_ : &plain_;
  FillSip(e, m);
  return *m;
}

const ev::CallRecord& Filler::Call(const Event& e) {
  FillCall(e, &call_);
  return call_;
}

void Filler::FillSip(const Event& e, ev::SipEvent* out) const {
  const Session& ss = s_.sessions[e.session];
  ev::SipEvent& m = *out;
  const bool req = e.flags & kRequest;
  const bool from_server = e.flags & kFromServer;
  const uint32_t src = from_server ? ss.server : ss.client;
  const uint32_t dst = from_server ? ss.client : ss.server;
  m.flow.ts_ns = e.ts_ns;
  m.flow.src = s_.ips[src];
  m.flow.dst = s_.ips[dst];
  m.flow.sport = s_.parties[src].port;
  m.flow.dport = s_.parties[dst].port;
  m.flow.transport = ev::Transport::kUdp;
  m.is_request = req;
  const std::string_view method = kMethodNames[e.method];
  m.method.assign(method);
  m.cseq_method.assign(method);
  m.cseq = e.cseq;
  m.status = req ? 0 : e.status;
  m.reason.assign(req ? std::string_view() : Reason(e.status));
  m.call_id.assign(ss.call_id);

  // A: the client side's user (for REGISTER the user registered), B: the
  // target. Requests the server side sends (a PBX's BYE) go from B to A.
  const uint32_t a = e.method == kRegister ? ss.target : s_.parties[ss.client].user;
  const uint32_t bu = ss.target;
  const bool client_txn = req != from_server;
  const uint32_t from = client_txn ? a : bu, to = client_txn ? bu : a;
  m.from.user.assign(s_.users[from]);
  m.from.uri.assign(s_.user_uris[from]);
  m.from.host.assign(kDomain);
  m.to.user.assign(s_.users[to]);
  m.to.uri.assign(s_.user_uris[to]);
  m.to.host.assign(kDomain);
  Tag(e.session, client_txn ? 'a' : 'b', &m.from.tag);
  const bool in_dialog = e.method == kAck || e.method == kBye;
  if ((req && in_dialog) || (!req && e.status > 100)) {
    Tag(e.session, client_txn ? 'b' : 'a', &m.to.tag);
  } else {
    m.to.tag.clear();
  }
  if (!req) {
    m.request_uri.clear();
    m.request_user.clear();
  } else if (e.method == kRegister) {
    m.request_uri.assign("sip:");
    m.request_uri.append(kDomain);
    m.request_user.clear();
  } else {
    m.request_uri.assign(s_.user_uris[to]);
    m.request_user.assign(s_.users[to]);
  }
  const uint32_t via = client_txn ? ss.client : ss.server;
  m.via_hosts.resize(1);
  m.via_hosts[0].assign(s_.ip_texts[via]);
  m.via_branch.assign("z9hG4bK");
  AppendHex(SplitMix(static_cast<uint64_t>(e.session) << 16 | e.cseq), &m.via_branch);
  m.contact.clear();
  if ((e.method == kInvite || e.method == kRegister) && (req || e.status / 100 == 2)) {
    const uint32_t who = e.method == kRegister ? ss.client : src;
    m.contact.append("sip:");
    m.contact.append(s_.users[e.method == kRegister ? a : s_.parties[who].user]);
    m.contact.push_back('@');
    m.contact.append(s_.ip_texts[who]);
    m.contact.push_back(':');
    AppendUint(s_.parties[who].port, &m.contact);
  }
  m.user_agent.assign(s_.agents[s_.parties[src].agent]);
  m.has_auth = e.flags & kAuth;
  if (m.has_auth) {
    m.auth_user.assign(s_.users[a]);
  } else {
    m.auth_user.clear();
  }
  m.has_expires = req && e.method == kRegister;
  m.expires = m.has_expires ? 3600 : 0;
  if (e.flags & kSdp) {
    if (!m.sdp) {
      ev::SdpSummary& sdp = m.sdp.emplace();
      sdp.owner = "-";
      sdp.session = "SIP Call";
      sdp.media.push_back({"audio", 0, "RTP/AVP", "", {0, 8, 101}});
    }
    ev::SdpSummary& sdp = *m.sdp;
    sdp.conn.assign(s_.ip_texts[src]);
    sdp.media[0].conn.assign(s_.ip_texts[src]);
    sdp.media[0].port = static_cast<uint16_t>(10000 + 2 * (SplitMix(e.session) % 25000));
  } else {
    m.sdp.reset();
  }
}

void Filler::FillCall(const Event& e, ev::CallRecord* out) const {
  const Session& ss = s_.sessions[e.session];
  const Party& cl = s_.parties[ss.client];
  ev::CallRecord& c = *out;
  c.call_id.assign(ss.call_id);
  c.caller.user.assign(s_.users[cl.user]);
  c.caller.uri.assign(s_.user_uris[cl.user]);
  Tag(e.session, 'a', &c.caller.tag);
  c.callee.user.assign(s_.users[ss.target]);
  c.callee.uri.assign(s_.user_uris[ss.target]);
  Tag(e.session, 'b', &c.callee.tag);
  c.contact.assign(s_.user_uris[cl.user]);
  c.caller_ip = s_.ips[ss.client];
  c.start_ns = ss.start_ns;
  c.answer_ns = ss.answer_ns;
  c.end_ns = ss.end_ns;
  c.setup_ms = ((ss.answer_ns ? ss.answer_ns : ss.end_ns) - ss.start_ns) / kMs;
  c.duration_s = static_cast<double>(ss.end_ns - ss.start_ns) / kS;
  c.billable_s = ss.answer_ns ? static_cast<double>(ss.end_ns - ss.answer_ns) / kS : 0;
  c.disposition = ss.disposition;
  c.status = ss.final_status;
  c.ended_by.assign(ss.ended_by == 1 ? "bye" : ss.ended_by == 2 ? "cancel" : "response");
  c.user_agent.assign(s_.agents[cl.agent]);
  c.caller.host.assign(kDomain);
  c.callee.host.assign(kDomain);
}

// ---- SEC lines ---------------------------------------------------------------

namespace {

void AppendTs(int64_t ts, std::string* out) {
  AppendUint(static_cast<uint64_t>(ts / kS), out);
  out->push_back('.');
  char buf[8];
  std::snprintf(buf, sizeof buf, "%06lld", static_cast<long long>(ts % kS / 1000));
  out->append(buf);
}

}  // namespace

void AppendSecLine(const ev::SipEvent& e, std::string* out) {
  AppendTs(e.flow.ts_ns, out);
  out->append(" sip ");
  out->append(e.flow.src.ToString());
  out->push_back(':');
  AppendUint(e.flow.sport, out);
  out->append(" > ");
  out->append(e.flow.dst.ToString());
  out->push_back(':');
  AppendUint(e.flow.dport, out);
  out->push_back(' ');
  if (e.is_request) {
    out->append(e.method);
    out->push_back(' ');
    out->append(e.request_uri);
  } else {
    out->append("SIP/2.0 ");
    AppendUint(static_cast<uint64_t>(e.status), out);
    out->push_back(' ');
    out->append(e.reason);
  }
  out->append(" cseq=");
  AppendUint(e.cseq, out);
  out->push_back(' ');
  out->append(e.cseq_method);
  out->append(" call-id=");
  out->append(e.call_id);
  out->append(" from=");
  out->append(e.from.user);
  out->append(" to=");
  out->append(e.to.user);
  out->append(" auth=");
  out->append(e.has_auth ? e.auth_user : "-");
  out->append(" ua=\"");
  out->append(e.user_agent);
  out->append("\"\n");
}

void AppendSecLine(const ev::CallRecord& c, std::string* out) {
  AppendTs(c.end_ns, out);
  out->append(" cdr call-id=");
  out->append(c.call_id);
  out->append(" caller=");
  out->append(c.caller.user);
  out->append(" callee=");
  out->append(c.callee.user);
  out->append(" caller-ip=");
  out->append(c.caller_ip.ToString());
  out->append(" disposition=");
  out->append(ev::DispositionName(c.disposition));
  out->append(" status=");
  AppendUint(static_cast<uint64_t>(c.status), out);
  char buf[64];
  std::snprintf(buf, sizeof buf, " duration=%.3f billable=%.3f", c.duration_s, c.billable_s);
  out->append(buf);
  out->append(" ua=\"");
  out->append(c.user_agent);
  out->append("\"\n");
}

}  // namespace sw::bench
