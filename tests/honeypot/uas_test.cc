// SPDX-License-Identifier: BSD-2-Clause
// sipwarden-honeypot's user agent server, driven over loopback UDP by a
// scripted caller: call set-up and teardown, retransmissions, CANCEL,
// REGISTER challenges, OPTIONS, recordings, fingerprints, the third-party
// media rule, the trusted proxy header and the limits. Plus the hit log.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "audio.h"
#include "hit_log.h"
#include "uas.h"

namespace sw::honeypot {
namespace {

namespace v1 = sipwarden::v1;
using std::chrono::milliseconds;

// A UDP socket on a loopback address.
class Peer {
 public:
  explicit Peer(const char* ip = "127.0.0.1", uint16_t port = 0) {
    fd_ = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, ip, &a.sin_addr);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0) << ip;
    socklen_t len = sizeof(a);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ip_ = ip;
  }
  ~Peer() { close(fd_); }
  uint16_t port() const { return port_; }
  const std::string& ip() const { return ip_; }
  void SendTo(uint16_t port, const std::string& bytes, const char* ip = "127.0.0.1") {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, ip, &a.sin_addr);
    ASSERT_EQ(sendto(fd_, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof(a)),
              static_cast<ssize_t>(bytes.size()));
  }
  // The next datagram within the timeout, or "".
  std::string Recv(int timeout_ms = 2000) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return "";
    char buf[65536];
    ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }
  // SIP: the next message whose first line contains `what` (skipping others).
  std::string Expect(std::string_view what, int timeout_ms = 3000) {
    const auto until = std::chrono::steady_clock::now() + milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < until) {
      std::string m = Recv(50);
      if (!m.empty() && m.substr(0, m.find("\r\n")).find(what) != std::string::npos) return m;
    }
    return "";
  }
  // How many datagrams arrive within ms.
  int Count(int ms) {
    int n = 0;
    const auto until = std::chrono::steady_clock::now() + milliseconds(ms);
    while (std::chrono::steady_clock::now() < until) {
      if (!Recv(20).empty()) ++n;
    }
    return n;
  }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  std::string ip_;
};

std::string Header(const std::string& msg, const std::string& name) {
  for (absl::string_view line : absl::StrSplit(msg, "\r\n")) {
    if (absl::StartsWithIgnoreCase(line, absl::StrCat(name, ":"))) {
      return std::string(absl::StripLeadingAsciiWhitespace(line.substr(name.size() + 1)));
    }
  }
  return "";
}

int SdpAudioPort(const std::string& msg) {
  size_t at = msg.find("m=audio ");
  if (at == std::string::npos) return 0;
  int port = 0;
  (void)absl::SimpleAtoi(msg.substr(at + 8, msg.find(' ', at + 8) - at - 8), &port);
  return port;
}

std::string Rtp(uint16_t seq, uint32_t ts, const std::vector<uint8_t>& payload, uint8_t pt = 0) {
  std::string p(12, '\0');
  p[0] = static_cast<char>(0x80);
  p[1] = static_cast<char>(pt);
  p[2] = static_cast<char>(seq >> 8);
  p[3] = static_cast<char>(seq);
  for (int k = 0; k < 4; ++k) p[4 + k] = static_cast<char>(ts >> (24 - 8 * k));
  p[8] = 0x12;
  p[9] = 0x34;
  p.append(payload.begin(), payload.end());
  return p;
}

std::vector<uint8_t> Tone(int index) {
  std::vector<int16_t> pcm(kSamplesPerPacket);
  for (int i = 0; i < kSamplesPerPacket; ++i) {
    pcm[i] = static_cast<int16_t>(6000 * std::sin(2 * M_PI * 500 * (index * kSamplesPerPacket + i) / kSampleRate));
  }
  std::vector<uint8_t> out;
  Encode(Codec::kPcmu, pcm, &out);
  return out;
}

// A call from the scripted caller.
struct Dialog {
  explicit Dialog(std::string callee) : user(std::move(callee)) {}
  std::string user, call_id, from_tag, branch, to;  // to: the To of the answer (tag included)
  int cseq = 1;
};

class UasTest : public ::testing::Test {
 protected:
  // Starts the UAS with the test's settings (configure sets what differs
  // from the defaults).
  void Start(const std::function<void(UasOptions&)>& configure = nullptr) {
    UasOptions o;
    if (configure) configure(o);
    record_dir_ = std::filesystem::temp_directory_path() / absl::StrCat("sw_uas_test_", getpid(), "_", ++runs_);
    std::filesystem::remove_all(record_dir_);
    o.listen = "127.0.0.1:0";
    o.record_dir = record_dir_;
    o.rtp_port_min = 40000;
    o.rtp_port_max = 40999;
    auto uas = Uas::Create(std::move(o), [this](v1::HoneypotHit h) {
      std::lock_guard<std::mutex> lock(mu_);
      hits_.push_back(std::move(h));
    });
    ASSERT_TRUE(uas.ok()) << uas.status();
    uas_ = std::move(*uas);
    thread_ = std::thread([this] { uas_->Run(); });
  }
  void TearDown() override {
    if (uas_ != nullptr) {
      uas_->Stop();
      thread_.join();
    }
    std::filesystem::remove_all(record_dir_);
  }
  uint16_t port() const { return uas_->port(); }

  std::string Invite(Peer& p, Dialog& d, const std::string& media_ip, uint16_t rtp_port,
                     const std::string& extra = "") {
    std::mt19937 rng(static_cast<unsigned>(++ids_));
    if (d.call_id.empty()) d.call_id = absl::StrCat("call-", ids_, "-", rng());
    if (d.from_tag.empty()) d.from_tag = absl::StrCat("ft", rng());
    if (d.branch.empty()) d.branch = absl::StrCat("z9hG4bK-", rng());
    const std::string sdp = absl::StrCat("v=0\r\no=spitbot 42 7 IN IP4 ", media_ip, "\r\ns=spam session\r\nc=IN IP4 ",
                                         media_ip, "\r\nt=0 0\r\nm=audio ", rtp_port,
                                         " RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
                                         "a=rtpmap:101 telephone-event/8000\r\n");
    return absl::StrCat("INVITE sip:", d.user, "@127.0.0.1:", port(), " SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:",
                        p.port(), ";branch=", d.branch, ";rport\r\nMax-Forwards: 70\r\nFrom: \"Bot\" <sip:bot@",
                        p.ip(), ">;tag=", d.from_tag, "\r\nTo: <sip:", d.user, "@127.0.0.1>\r\nCall-ID: ", d.call_id,
                        "\r\nCSeq: 1 INVITE\r\nContact: <sip:bot@", p.ip(), ":", p.port(),
                        ">\r\nUser-Agent: spitbot/1.0\r\n", extra,
                        "Content-Type: application/sdp\r\nContent-Length: ", sdp.size(), "\r\n\r\n", sdp);
  }
  std::string InDialog(Peer& p, Dialog& d, const std::string& method, bool same_branch = false) {
    const int seq = method == "ACK" || method == "CANCEL" ? 1 : ++d.cseq;
    const std::string branch = same_branch ? d.branch : absl::StrCat("z9hG4bK-n", ++ids_);
    const std::string to = d.to.empty() ? absl::StrCat("<sip:", d.user, "@127.0.0.1>") : d.to;
    return absl::StrCat(method, " sip:", d.user, "@127.0.0.1:", port(), " SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:",
                        p.port(), ";branch=", branch, "\r\nMax-Forwards: 70\r\nFrom: \"Bot\" <sip:bot@", p.ip(),
                        ">;tag=", d.from_tag, "\r\nTo: ", to, "\r\nCall-ID: ", d.call_id, "\r\nCSeq: ", seq, " ",
                        method, "\r\nContent-Length: 0\r\n\r\n");
  }
  std::vector<v1::HoneypotHit> Hits() {
    std::lock_guard<std::mutex> lock(mu_);
    return hits_;
  }
  // Waits for a hit of this stage (the n-th, from 0).
  v1::HoneypotHit WaitHit(v1::HoneypotHit::Stage stage, int n = 0, int timeout_ms = 4000) {
    const auto until = std::chrono::steady_clock::now() + milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < until) {
      int seen = 0;
      for (const auto& h : Hits()) {
        if (h.stage() == stage && seen++ == n) return h;
      }
      std::this_thread::sleep_for(milliseconds(10));
    }
    ADD_FAILURE() << "no hit of stage " << stage;
    return {};
  }

  std::string record_dir_;
  std::unique_ptr<Uas> uas_;
  std::thread thread_;
  std::mutex mu_;
  std::vector<v1::HoneypotHit> hits_;
  int ids_ = 0;
  static inline int runs_ = 0;
};

TEST_F(UasTest, AnswersRecordsTheCallerAndReportsBothStages) {
  Start();
  Peer sip, rtp;
  Dialog d("alice.kowalski");
  sip.SendTo(port(), Invite(sip, d, "127.0.0.1", rtp.port()));
  ASSERT_NE(sip.Expect("100 Trying"), "");
  ASSERT_NE(sip.Expect("180 Ringing"), "");
  const std::string ok = sip.Expect("200 OK");
  ASSERT_NE(ok, "");
  d.to = Header(ok, "To");
  EXPECT_TRUE(absl::StrContains(d.to, ";tag=")) << d.to;
  const int media = SdpAudioPort(ok);
  ASSERT_GE(media, 40000);
  EXPECT_TRUE(absl::StrContains(ok, "a=rtpmap:0 PCMU/8000"));
  sip.SendTo(port(), InDialog(sip, d, "ACK"));
  // The greeting comes to the caller's media address.
  EXPECT_NE(rtp.Recv(2000), "");
  // One second of a tone (50 packets), with timestamps; then BYE.
  for (int i = 0; i < 50; ++i) rtp.SendTo(static_cast<uint16_t>(media), Rtp(static_cast<uint16_t>(i), 8000u + i * 160, Tone(i)));
  std::this_thread::sleep_for(milliseconds(200));
  sip.SendTo(port(), InDialog(sip, d, "BYE"));
  ASSERT_NE(sip.Expect("200 OK"), "");

  const v1::HoneypotHit arrived = WaitHit(v1::HoneypotHit::STAGE_ARRIVED);
  EXPECT_EQ(arrived.method(), "INVITE");
  EXPECT_EQ(arrived.callee(), "alice.kowalski");
  EXPECT_EQ(arrived.src_ip(), "127.0.0.1");
  EXPECT_EQ(arrived.src_port(), sip.port());
  EXPECT_EQ(arrived.user_agent(), "spitbot/1.0");
  EXPECT_EQ(arrived.ip_ttl(), 64u);  // Linux's default TTL, loopback: no hop
  EXPECT_EQ(arrived.via_shape(), "SIP/2.0/UDP d.d.d.d:d;branch=adada-d;rport");
  EXPECT_EQ(arrived.contact_shape(), "<sip:a@d.d.d.d:d>");
  EXPECT_EQ(arrived.sdp().session(), "spam session");
  EXPECT_EQ(arrived.sdp().owner(), "spitbot 42 7 IN IP4 127.0.0.1");
  ASSERT_EQ(arrived.sdp().codecs_size(), 2);
  EXPECT_EQ(arrived.sdp().codecs(0), "PCMU/8000");
  EXPECT_EQ(arrived.sdp().codecs(1), "telephone-event/8000");

  const v1::HoneypotHit ended = WaitHit(v1::HoneypotHit::STAGE_ENDED);
  EXPECT_EQ(ended.ended_by(), "bye");
  EXPECT_EQ(ended.final_status(), 200);
  EXPECT_EQ(ended.recorded_ms(), 1000);
  EXPECT_EQ(ended.rtp_packets(), 50u);
  EXPECT_EQ(ended.rtp_src(), absl::StrCat("127.0.0.1:", rtp.port()));
  EXPECT_EQ(ended.audio_sha256().size(), 64u);
  EXPECT_GE(ended.talk_ms(), 200);
  ASSERT_FALSE(ended.recording().empty());
  auto wav = ReadSound(record_dir_ + "/" + ended.recording());
  ASSERT_TRUE(wav.ok()) << wav.status();
  EXPECT_EQ(wav->size(), static_cast<size_t>(kSampleRate));  // exactly 1.000 s
  EXPECT_EQ(uas_->stats().recordings.load(), 1u);
}

TEST_F(UasTest, RetransmissionsAreAbsorbedAndTheAnswerIsRepeatedUntilAcked) {
  Start([](UasOptions& o) {
    o.users = {{"deflector7", Role::kDeflector}};
    o.ring_ms = 400;
  });
  Peer sip, rtp;
  Dialog d("deflector7");
  const std::string invite = Invite(sip, d, "127.0.0.1", rtp.port());
  sip.SendTo(port(), invite);
  ASSERT_NE(sip.Expect("180 Ringing"), "");
  sip.SendTo(port(), invite);  // the same transaction again
  ASSERT_NE(sip.Expect("180 Ringing"), "");
  ASSERT_NE(sip.Expect("200 OK"), "");
  // No ACK: the 200 comes again (T1, then 2*T1).
  const std::string again = sip.Expect("200 OK", 1500);
  ASSERT_NE(again, "");
  d.to = Header(again, "To");
  sip.SendTo(port(), invite);  // a late retransmission gets the 200 too
  ASSERT_NE(sip.Expect("200 OK", 1000), "");
  sip.SendTo(port(), InDialog(sip, d, "ACK"));
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(sip.Expect("200 OK", 1500), "");  // acknowledged: no more
  sip.SendTo(port(), InDialog(sip, d, "BYE"));
  ASSERT_NE(sip.Expect("200 OK"), "");
  WaitHit(v1::HoneypotHit::STAGE_ENDED);
  int arrived = 0;
  for (const auto& h : Hits()) arrived += h.stage() == v1::HoneypotHit::STAGE_ARRIVED;
  EXPECT_EQ(arrived, 1);
  EXPECT_GE(uas_->stats().retransmissions.load(), 2u);
}

TEST_F(UasTest, CancelWhileRingingGets487AndEndsTheCall) {
  Start([](UasOptions& o) {
    o.users = {{"deflector8", Role::kDeflector}};
    o.ring_ms = 5000;
  });
  Peer sip, rtp;
  Dialog d("deflector8");
  sip.SendTo(port(), Invite(sip, d, "127.0.0.1", rtp.port()));
  ASSERT_NE(sip.Expect("180 Ringing"), "");
  sip.SendTo(port(), InDialog(sip, d, "CANCEL", /*same_branch=*/true));
  std::string a = sip.Expect("SIP/2.0", 2000), b = sip.Expect("SIP/2.0", 2000);
  const std::string& r487 = absl::StrContains(a, " 487 ") ? a : b;
  const std::string& r200 = absl::StrContains(a, " 487 ") ? b : a;
  ASSERT_TRUE(absl::StrContains(r487, "SIP/2.0 487")) << a << b;
  EXPECT_TRUE(absl::StrContains(r487, "CSeq: 1 INVITE"));
  EXPECT_TRUE(absl::StrContains(r200, "CSeq: 1 CANCEL"));
  d.to = Header(r487, "To");
  sip.SendTo(port(), InDialog(sip, d, "ACK", /*same_branch=*/true));
  const v1::HoneypotHit ended = WaitHit(v1::HoneypotHit::STAGE_ENDED);
  EXPECT_EQ(ended.ended_by(), "cancel");
  EXPECT_EQ(ended.final_status(), 487);
  EXPECT_EQ(sip.Expect("200 OK", 1200), "");  // never answered
  EXPECT_EQ(sip.Expect("487", 1200), "");     // the ACK stopped the 487's retransmission
}

TEST_F(UasTest, RegisterIsChallengedAndTheUsernamesTriedAreLogged) {
  Start();
  Peer sip;
  auto reg = [&](const std::string& auth, int n) {
    return absl::StrCat("REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:", sip.port(),
                        ";branch=z9hG4bK-reg", n, "\r\nFrom: <sip:1001@127.0.0.1>;tag=r", n,
                        "\r\nTo: <sip:1001@127.0.0.1>\r\nCall-ID: reg-", n, "\r\nCSeq: ", n,
                        " REGISTER\r\nContact: <sip:1001@127.0.0.1:", sip.port(), ">\r\nUser-Agent: friendly-scanner\r\n",
                        auth, "Content-Length: 0\r\n\r\n");
  };
  sip.SendTo(port(), reg("", 1));
  const std::string challenge = sip.Expect("401 Unauthorized");
  ASSERT_NE(challenge, "");
  EXPECT_TRUE(absl::StrContains(Header(challenge, "WWW-Authenticate"), "Digest realm=\"asterisk\", nonce=\""));
  sip.SendTo(port(), reg("Authorization: Digest username=\"1001\", realm=\"asterisk\", nonce=\"x\", "
                         "uri=\"sip:127.0.0.1\", response=\"0123456789abcdef0123456789abcdef\"\r\n",
                         2));
  ASSERT_NE(sip.Expect("403 Forbidden"), "");
  const v1::HoneypotHit second = WaitHit(v1::HoneypotHit::STAGE_ARRIVED, 1);
  EXPECT_EQ(second.method(), "REGISTER");
  EXPECT_EQ(second.auth_user(), "1001");
  EXPECT_EQ(second.user_agent(), "friendly-scanner");
  EXPECT_EQ(second.final_status(), 403);
  EXPECT_EQ(uas_->stats().registers.load(), 2u);
}

TEST_F(UasTest, OptionsAnsweredMalformedIgnoredAndOthersRefused) {
  Start();
  Peer sip;
  sip.SendTo(port(), "this is not SIP\r\n\r\n");
  sip.SendTo(port(), absl::StrCat("OPTIONS sip:100@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:", sip.port(),
                                  ";branch=z9hG4bK-o1\r\nFrom: <sip:100@1.1.1.1>;tag=o\r\nTo: <sip:100@1.1.1.1>\r\n"
                                  "Call-ID: opt-1\r\nCSeq: 1 OPTIONS\r\nUser-Agent: sipvicious\r\nContent-Length: 0\r\n\r\n"));
  const std::string ok = sip.Expect("200 OK");
  ASSERT_NE(ok, "");
  EXPECT_TRUE(absl::StrContains(Header(ok, "Allow"), "INVITE"));
  EXPECT_EQ(Header(ok, "Server"), "Asterisk PBX 18.20.0");
  sip.SendTo(port(), absl::StrCat("SUBSCRIBE sip:100@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:", sip.port(),
                                  ";branch=z9hG4bK-s1\r\nFrom: <sip:100@1.1.1.1>;tag=s\r\nTo: <sip:100@1.1.1.1>\r\n"
                                  "Call-ID: sub-1\r\nCSeq: 1 SUBSCRIBE\r\nContent-Length: 0\r\n\r\n"));
  ASSERT_NE(sip.Expect("405 Method Not Allowed"), "");
  EXPECT_EQ(uas_->stats().malformed.load(), 1u);
  EXPECT_EQ(WaitHit(v1::HoneypotHit::STAGE_ARRIVED, 0).method(), "OPTIONS");
  EXPECT_EQ(WaitHit(v1::HoneypotHit::STAGE_ARRIVED, 1).method(), "SUBSCRIBE");
}

TEST_F(UasTest, MediaIsNeverSentToAThirdParty) {
  Start();
  Peer sip, own_rtp, victim("127.0.0.2");
  Dialog d("voicemail");
  // The SDP points at 127.0.0.2: someone else than the caller (127.0.0.1).
  sip.SendTo(port(), Invite(sip, d, "127.0.0.2", victim.port()));
  const std::string ok = sip.Expect("200 OK");
  ASSERT_NE(ok, "");
  d.to = Header(ok, "To");
  sip.SendTo(port(), InDialog(sip, d, "ACK"));
  EXPECT_EQ(victim.Count(800), 0);
  EXPECT_EQ(uas_->stats().media_refused.load(), 1u);
  // Media from the caller's own address is answered there (symmetric RTP).
  own_rtp.SendTo(static_cast<uint16_t>(SdpAudioPort(ok)), Rtp(1, 160, Tone(0)));
  EXPECT_NE(own_rtp.Recv(1500), "");
  EXPECT_EQ(victim.Count(200), 0);
  sip.SendTo(port(), InDialog(sip, d, "BYE"));
  ASSERT_NE(sip.Expect("200 OK"), "");
}

TEST_F(UasTest, TheTrustedProxysHeaderNamesTheCaller) {
  Start([](UasOptions& o) { o.trusted_proxies = {IpAddress::Parse("127.0.0.1").value()}; });
  Peer proxy, rtp, stranger("127.0.0.3");
  Dialog d("bob");
  proxy.SendTo(port(), Invite(proxy, d, "192.0.2.7", 4000,
                              "X-Sipwarden-Source: 192.0.2.7:5099;transport=udp\r\n"
                              "Record-Route: <sip:127.0.0.1:5060;lr>\r\n"));
  const std::string ok = proxy.Expect("200 OK");
  ASSERT_NE(ok, "");
  EXPECT_EQ(Header(ok, "Record-Route"), "<sip:127.0.0.1:5060;lr>");  // the caller's ACK goes through the proxy
  const v1::HoneypotHit a = WaitHit(v1::HoneypotHit::STAGE_ARRIVED);
  EXPECT_EQ(a.src_ip(), "192.0.2.7");
  EXPECT_EQ(a.src_port(), 5099u);
  EXPECT_EQ(a.ip_ttl(), 0u);  // the proxy's packet: the caller's TTL is unknown
  // From anyone else the header is a forgery and is ignored.
  stranger.SendTo(port(), absl::StrCat("OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.3:",
                                       stranger.port(), ";branch=z9hG4bK-f1\r\nFrom: <sip:x@h>;tag=f\r\n"
                                       "To: <sip:x@h>\r\nCall-ID: forged-1\r\nCSeq: 1 OPTIONS\r\n"
                                       "X-Sipwarden-Source: 198.51.100.1:5060\r\nContent-Length: 0\r\n\r\n"));
  ASSERT_NE(stranger.Expect("200 OK"), "");
  EXPECT_EQ(WaitHit(v1::HoneypotHit::STAGE_ARRIVED, 1).src_ip(), "127.0.0.3");
  // A call the production proxy deflected: recorded for the real user its
  // header names, whatever the Request-URI says.
  Dialog d2("rewritten");
  proxy.SendTo(port(), Invite(proxy, d2, "192.0.2.8", 4000,
                              "X-Sipwarden-Source: 192.0.2.8:5060;transport=udp\r\n"
                              "X-Sipwarden-Deflected: <sip:alice@pbx.example.net>\r\n"));
  ASSERT_NE(proxy.Expect("200 OK"), "");
  const v1::HoneypotHit deflected = WaitHit(v1::HoneypotHit::STAGE_ARRIVED, 2);
  EXPECT_TRUE(deflected.deflected());
  EXPECT_EQ(deflected.callee(), "alice");
  EXPECT_EQ(deflected.src_ip(), "192.0.2.8");
}

TEST_F(UasTest, LimitsCutCallsWithByeAndCountThem) {
  Start([](UasOptions& o) {
    o.max_call_ms = 500;
    o.max_call_bytes = 3200;
    o.max_calls = 1;
  });
  Peer sip, rtp, other;
  Dialog d("voicemail");
  sip.SendTo(port(), Invite(sip, d, "127.0.0.1", rtp.port()));
  const std::string ok = sip.Expect("200 OK");
  ASSERT_NE(ok, "");
  d.to = Header(ok, "To");
  sip.SendTo(port(), InDialog(sip, d, "ACK"));
  // A second call while one is up: refused (max_calls 1).
  Dialog d2("voicemail");
  other.SendTo(port(), Invite(other, d2, "127.0.0.1", rtp.port()));
  ASSERT_NE(other.Expect("503 Service Unavailable"), "");
  // 20 packets, but only 3200 bytes (10 packets) may be recorded.
  for (int i = 0; i < 20; ++i) rtp.SendTo(static_cast<uint16_t>(SdpAudioPort(ok)), Rtp(static_cast<uint16_t>(i), i * 160u, Tone(i)));
  const std::string bye = sip.Expect("BYE sip:");
  ASSERT_NE(bye, "");
  EXPECT_EQ(Header(bye, "Call-ID"), d.call_id);
  const v1::HoneypotHit ended = WaitHit(v1::HoneypotHit::STAGE_ENDED, 0);  // the refused call has none
  EXPECT_EQ(ended.ended_by(), "record-limit");
  EXPECT_EQ(ended.recorded_ms(), 200);
  // A call that never hangs up ends at the duration limit.
  Dialog d3("voicemail");
  sip.SendTo(port(), Invite(sip, d3, "127.0.0.1", rtp.port()));
  const std::string ok3 = sip.Expect("200 OK");
  ASSERT_NE(ok3, "");
  d3.to = Header(ok3, "To");
  sip.SendTo(port(), InDialog(sip, d3, "ACK"));
  ASSERT_NE(sip.Expect("BYE sip:", 2000), "");
  EXPECT_EQ(WaitHit(v1::HoneypotHit::STAGE_ENDED, 1).ended_by(), "duration-limit");
  EXPECT_EQ(uas_->stats().calls_cut.load(), 2u);
  EXPECT_EQ(uas_->stats().calls_refused.load(), 1u);
  for (const auto& e : std::filesystem::directory_iterator(record_dir_)) {
    EXPECT_FALSE(absl::EndsWith(e.path().string(), ".partial")) << e.path();
  }
}

TEST_F(UasTest, AnRtpFloodFromAnotherSourceIsNotRecordedAndTheTotalBoundHolds) {
  // 3000 bytes in total: the call may record 1500 samples, then the
  // process stops recording ("disk-limit").
  Start([](UasOptions& o) { o.max_total_bytes = 3000; });
  Peer sip, rtp, flooder;
  Dialog d("voicemail");
  sip.SendTo(port(), Invite(sip, d, "127.0.0.1", rtp.port()));
  const std::string ok = sip.Expect("200 OK");
  ASSERT_NE(ok, "");
  d.to = Header(ok, "To");
  sip.SendTo(port(), InDialog(sip, d, "ACK"));
  const uint16_t media = static_cast<uint16_t>(SdpAudioPort(ok));
  rtp.SendTo(media, Rtp(0, 0, Tone(0)));  // the caller's media comes first
  std::this_thread::sleep_for(milliseconds(100));
  for (int i = 0; i < 200; ++i) {
    flooder.SendTo(media, Rtp(static_cast<uint16_t>(i), i * 160u, Tone(i)));
    if (i % 20 == 19) std::this_thread::sleep_for(milliseconds(5));
  }
  std::this_thread::sleep_for(milliseconds(200));
  // Not this call's media: counted, not recorded (the kernel may drop some
  // of the flood before the honeypot reads it).
  EXPECT_GE(uas_->stats().rtp_dropped.load(), 50u);
  for (int i = 1; i < 12; ++i) rtp.SendTo(media, Rtp(static_cast<uint16_t>(i), i * 160u, Tone(i)));
  ASSERT_NE(sip.Expect("BYE sip:"), "");
  const v1::HoneypotHit ended = WaitHit(v1::HoneypotHit::STAGE_ENDED);
  EXPECT_EQ(ended.ended_by(), "disk-limit");
  EXPECT_EQ(ended.rtp_src(), absl::StrCat("127.0.0.1:", rtp.port()));
  EXPECT_EQ(ended.recorded_ms(), 187);  // 1500 samples, from the caller only
  EXPECT_EQ(uas_->stats().recorded_bytes.load(), 3000u);
}

TEST_F(UasTest, GatewayPlaysTheAnnouncementAsEarlyMediaThenRefuses) {
  Announcements ann = BuiltinAnnouncements();
  ann.unavailable.assign(kSampleRate / 5, 1000);  // 200 ms
  Start([&](UasOptions& o) {
    o.users = {{"gw-pstn", Role::kGateway}};
    o.announcements = ann;
  });
  Peer sip, rtp;
  Dialog d("gw-pstn");
  sip.SendTo(port(), Invite(sip, d, "127.0.0.1", rtp.port()));
  const std::string progress = sip.Expect("183 Session Progress");
  ASSERT_NE(progress, "");
  EXPECT_GT(SdpAudioPort(progress), 0);
  EXPECT_GE(rtp.Count(400), 8);  // 10 packets of announcement
  const std::string refused = sip.Expect("480 Temporarily Unavailable");
  ASSERT_NE(refused, "");
  d.to = Header(refused, "To");
  sip.SendTo(port(), InDialog(sip, d, "ACK", true));
  const v1::HoneypotHit ended = WaitHit(v1::HoneypotHit::STAGE_ENDED);
  EXPECT_EQ(ended.final_status(), 480);
  EXPECT_EQ(ended.ended_by(), "refused");
}

TEST_F(UasTest, UsersAreRegisteredAtTheRegistrarAndRetriedUntilAnswered) {
  Peer registrar;
  Start([&](UasOptions& o) {
    o.users = {{"alice.k", Role::kDeflector}, {"bob.m", Role::kDeflector}, {"voicemail", Role::kVoicemail}};
    o.registrar = absl::StrCat("127.0.0.1:", registrar.port());
    o.domain = "honeypot.test";
  });
  std::map<std::string, std::string> first;  // user -> REGISTER
  for (int i = 0; i < 3; ++i) {
    const std::string reg = registrar.Expect("REGISTER sip:honeypot.test");
    ASSERT_NE(reg, "");
    const std::string to = Header(reg, "To");
    first[to.substr(5, to.find('@') - 5)] = reg;
    EXPECT_EQ(Header(reg, "Contact"), absl::StrCat("<sip:", to.substr(5, to.find('@') - 5), "@127.0.0.1:", port(), ">"));
    EXPECT_EQ(Header(reg, "Expires"), "3600");
  }
  ASSERT_EQ(first.size(), 3u);
  // 200 for two of them; the third goes unanswered and is sent again.
  for (const char* user : {"alice.k", "voicemail"}) {
    const std::string& reg = first[user];
    registrar.SendTo(port(), absl::StrCat("SIP/2.0 200 OK\r\nVia: ", Header(reg, "Via"), "\r\nFrom: ",
                                          Header(reg, "From"), "\r\nTo: ", Header(reg, "To"), ";tag=r\r\nCall-ID: ",
                                          Header(reg, "Call-ID"), "\r\nCSeq: ", Header(reg, "CSeq"),
                                          "\r\nContact: ", Header(reg, "Contact"),
                                          ";expires=3600\r\nContent-Length: 0\r\n\r\n"));
  }
  const std::string again = registrar.Expect("REGISTER sip:honeypot.test", 1500);
  ASSERT_NE(again, "");
  EXPECT_TRUE(absl::StrContains(Header(again, "To"), "bob.m")) << again;
  EXPECT_EQ(Header(again, "Call-ID"), Header(first["bob.m"], "Call-ID"));
  const auto until = std::chrono::steady_clock::now() + milliseconds(2000);
  while (uas_->stats().registered.load() < 2 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_EQ(uas_->stats().registered.load(), 2u);
}

TEST_F(UasTest, ContactNamesTheSipAddressAndSdpTheMediaAddress) {
  // Behind Kamailio the UAS listens on loopback while media uses the public
  // address: in-dialog requests must come back to the SIP address.
  Start([](UasOptions& o) { o.media_ip = "127.0.0.2"; });
  Peer sip;
  Dialog d("voicemail");
  sip.SendTo(port(), Invite(sip, d, "127.0.0.1", 4000));
  const std::string ok = sip.Expect("200 OK");
  ASSERT_NE(ok, "");
  EXPECT_EQ(Header(ok, "Contact"), absl::StrCat("<sip:voicemail@127.0.0.1:", port(), ">"));
  EXPECT_TRUE(absl::StrContains(ok, "c=IN IP4 127.0.0.2")) << ok;
  d.to = Header(ok, "To");
  sip.SendTo(port(), InDialog(sip, d, "ACK"));
  sip.SendTo(port(), InDialog(sip, d, "BYE"));
  ASSERT_NE(sip.Expect("200 OK"), "");
}

TEST(Shape, KeepsStructureDropsValues) {
  EXPECT_EQ(Shape("SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK776asdhds;rport"),
            "SIP/2.0/UDP d.d.d.d:d;branch=adadada;rport");
  // What a proxy adds to the caller's Via (received, the rport value) is not the caller's.
  EXPECT_EQ(Shape("SIP/2.0/UDP 10.0.0.5:5060;received=192.0.2.1;branch=z9hG4bK-1;rport=5060"),
            "SIP/2.0/UDP d.d.d.d:d;branch=adada-d;rport");
  EXPECT_EQ(Shape("<sip:1001@pbx.example.com:5060;transport=udp>;expires=3600"),
            "<sip:d@a.a.a:d;transport=a>;expires=d");
}

HitLogOptions QuietLog(const std::string& path) {
  HitLogOptions o;
  o.db_path = path;
  o.quiet = true;
  return o;
}

TEST(HitLog, IdsIncreaseAcrossRestartsAndHitsAreKept) {
  const std::string dir = std::filesystem::temp_directory_path() / absl::StrCat("sw_hitlog_", getpid());
  std::filesystem::create_directories(dir);
  uint64_t last = 0;
  for (int round = 0; round < 2; ++round) {
    auto log = HitLog::Open(QuietLog(dir + "/hits.db"));
    ASSERT_TRUE(log.ok()) << log.status();
    for (int i = 0; i < 3; ++i) {
      v1::HoneypotHit h;
      h.set_method("OPTIONS");
      h.set_src_ip(absl::StrCat("192.0.2.", round * 3 + i));
      const uint64_t id = (*log)->Add(h);
      EXPECT_GT(id, last);
      last = id;
    }
    log->reset();  // writes what is queued
  }
  auto log = HitLog::Open(QuietLog(dir + "/hits.db"));
  ASSERT_TRUE(log.ok());
  auto all = (*log)->Read(0, 100);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 6u);
  for (size_t i = 1; i < all->size(); ++i) EXPECT_GT((*all)[i].id(), (*all)[i - 1].id());
  EXPECT_EQ((*all)[5].src_ip(), "192.0.2.5");
  EXPECT_FALSE(HitLog::Open(QuietLog(dir + "/missing/hits.db")).ok());
  log->reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sw::honeypot
