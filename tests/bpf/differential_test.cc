// SPDX-License-Identifier: BSD-2-Clause
// The kernel classifies what the agent's parser accepts. Every SIP message of
// the test corpus (RFC 4475, RFC 5118) and 100,000 generated and mutated ones
// (first lines of 1 byte to 8 KB, odd, lowercase and long methods, versions,
// lone-LF line ends, CRLFs before the start line, responses without a reason,
// IPv4 and IPv6, with and without VLAN tags) run through sw_xdp with
// bpf_prog_test_run and through sw::sip::ParseSip. Whenever the parser
// accepts a message, the kernel must have accounted it and copied it to the
// ring with the same class (a first line it could not see end is flagged
// SW_RECF_LONG_LINE, classified by its method). Messages the parser refuses
// may be passed as not SIP or copied (the agent counts its refusals). The
// counts are printed.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "sipwarden/sip/sip_message.h"
#include "tables.h"

namespace sw::bpftest {
namespace {

uint8_t ClassOfMethod(std::string_view m) {
  static const std::map<std::string_view, uint8_t> kClasses = {
      {"INVITE", SW_CLASS_INVITE},   {"ACK", SW_CLASS_ACK},         {"BYE", SW_CLASS_BYE},
      {"CANCEL", SW_CLASS_CANCEL},   {"REGISTER", SW_CLASS_REGISTER}, {"OPTIONS", SW_CLASS_OPTIONS},
      {"PRACK", SW_CLASS_PRACK},     {"SUBSCRIBE", SW_CLASS_SUBSCRIBE}, {"NOTIFY", SW_CLASS_NOTIFY},
      {"PUBLISH", SW_CLASS_PUBLISH}, {"INFO", SW_CLASS_INFO},       {"REFER", SW_CLASS_REFER},
      {"MESSAGE", SW_CLASS_MESSAGE}, {"UPDATE", SW_CLASS_UPDATE}};
  auto it = kClasses.find(m);
  return it == kClasses.end() ? static_cast<uint8_t>(SW_CLASS_OTHER_REQUEST) : it->second;
}

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The corpus's SIP messages (datagram-sized: a UDP payload carries them).
std::vector<std::string> CorpusMessages() {
  std::vector<std::string> out;
  const char* env = getenv("SW_CORPUS_DIR");  // the kernel tier's guests set it
  const std::filesystem::path corpus = env != nullptr && *env != '\0' ? env : SW_CORPUS_DIR;
  for (const char* dir : {"rfc4475", "rfc5118/wire_normalized_derived"}) {
    for (const auto& e : std::filesystem::directory_iterator(corpus / dir)) {
      if (e.path().extension() != ".dat" && e.path().extension() != ".sip") continue;
      std::string m = ReadFile(e.path());
      if (!m.empty() && m.size() < 8000) out.push_back(std::move(m));
    }
  }
  return out;
}

// Messages with a mutated first line and ordinary headers, so that what the
// parser decides is decided by the first line.
class Generator {
 public:
  explicit Generator(uint32_t seed) : rng_(seed) {}

  std::string Next() {
    const int kind = Pick(10);
    if (kind == 0) return Response();
    std::string method = Method();
    std::string uri = Uri();
    std::string version = Version();
    std::string line = method + " " + uri + " " + version;
    if (Pick(40) == 0) line = Mangle(line);
    const std::string id = std::to_string(++n_);
    std::string msg = line + "\r\n" + "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-" + id +
                      "\r\nFrom: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\n"
                      "Call-ID: diff-" + id + "@192.0.2.1\r\nCSeq: 1 " + method +
                      "\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
    if (Pick(8) == 0) msg = absl::StrReplaceAll(msg, {{"\r\n", "\n"}});  // lone-LF lines
    if (Pick(10) == 0) msg = std::string(1 + Pick(3), '\n').replace(0, 1, "\r") + msg;
    return msg;
  }

 private:
  int Pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }

  std::string Token(int len) {
    static const char kTok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.!%*_+`'~";
    std::string s;
    for (int i = 0; i < len; ++i) s += kTok[Pick(sizeof(kTok) - 1)];
    return s;
  }

  std::string Method() {
    static const char* kKnown[] = {"INVITE",  "ACK",    "BYE",   "CANCEL",  "REGISTER",
                                   "OPTIONS", "PRACK",  "SUBSCRIBE", "NOTIFY", "PUBLISH",
                                   "INFO",    "REFER",  "MESSAGE", "UPDATE"};
    switch (Pick(6)) {
      case 0: return Token(1 + Pick(40));                          // extension, up to 40 chars
      case 1: {                                                    // lowercase known
        std::string m = kKnown[Pick(14)];
        for (char& c : m) c = static_cast<char>(std::tolower(c));
        return m;
      }
      case 2: return std::string(kKnown[Pick(14)]) + (Pick(2) ? "@" : "/");  // not a token
      default: return kKnown[Pick(14)];
    }
  }

  std::string Uri() {
    // First lines of 1 byte to 8 KB: the user part's length varies widely.
    const int sizes[] = {1, 8, 40, 200, 250, 260, 400, 1000, 1500, 3000, 6000, 7800};
    const int len = std::max(1, sizes[Pick(12)] + Pick(20) - 10);
    static const char kUser[] = "abcdefghijklmnopqrstuvwxyz0123456789-_.!~*'()&=+$,;?/";
    std::string user;
    for (int i = 0; i < len; ++i) user += kUser[Pick(sizeof(kUser) - 1)];
    switch (Pick(10)) {
      case 0: return "sips:" + user + "@example.com";
      case 1: return "sip:[2001:db8::" + std::to_string(1 + Pick(99)) + "]:5060";
      case 2: return "sip:example.com;x=" + user;
      default: return "sip:" + user + "@example.com";
    }
  }

  std::string Version() {
    static const char* kVersions[] = {"SIP/2.0", "SIP/2.0", "SIP/2.0", "SIP/2.0", "sip/2.0",
                                      "Sip/2.0", "SIP/2.1", "SIP/20",  "SIP/2.0 ", "SIP/3.0"};
    return kVersions[Pick(10)];
  }

  std::string Response() {
    const int code = Pick(12) == 0 ? Pick(1000) : 100 + Pick(600);
    std::string line = (Pick(8) == 0 ? "sip/2.0 " : "SIP/2.0 ") + std::to_string(code);
    if (Pick(6) != 0) line += " " + Token(Pick(30));
    if (Pick(30) == 0) line = Mangle(line);
    const std::string id = std::to_string(++n_);
    return line +
           "\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-r\r\nFrom: <sip:a@example.com>;"
           "tag=1\r\nTo: <sip:b@example.com>;tag=2\r\nCall-ID: r-" +
           id + "\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
  }

  // A byte of the line changed: a space doubled or dropped, a tab, a NUL.
  std::string Mangle(std::string s) {
    const size_t at = Pick(static_cast<int>(s.size()));
    switch (Pick(4)) {
      case 0: s.insert(at, " "); break;
      case 1: s.erase(at, 1); break;
      case 2: s[at] = '\t'; break;
      default: s[at] = '\0'; break;
    }
    return s;
  }

  std::mt19937 rng_;
  uint64_t n_ = 0;
};

struct Counts {
  uint64_t accepted = 0, accepted_flagged = 0, refused_not_sip = 0, refused_copied = 0;
  uint64_t missed = 0, wrong_class = 0;
};

TEST(Differential, KernelClassifiesWhatTheParserAccepts) {
  if (geteuid() != 0) GTEST_SKIP() << "loads the BPF program: run as root";
  auto hr = Harness::Create(SW_RINGBUF_BYTES);
  ASSERT_TRUE(hr.ok()) << hr.status();
  Harness& h = **hr;
  ASSERT_TRUE(h.Reset().ok());
  SetSnapLen(h, SW_SNAP_MAX);

  std::vector<std::string> messages = CorpusMessages();
  const size_t corpus = messages.size();
  ASSERT_GE(corpus, 50u) << "corpus not found under " << SW_CORPUS_DIR;
  const size_t generated = getenv("SW_DIFF_COUNT") ? std::stoul(getenv("SW_DIFF_COUNT")) : 100000;
  Generator gen(20261205);
  for (size_t i = 0; i < generated; ++i) messages.push_back(gen.Next());

  Counts c;
  std::map<std::string, int> shown;
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string& msg = messages[i];
    const int fam = i % 2 ? 6 : 4;
    const Tags& tags = i % 5 == 0 ? QinQ() : Untagged();
    const auto pkt = Frame(fam, tags).Udp(40000, 5060).Payload(msg).Build();
    const RunResult r = h.Run(pkt);
    ASSERT_EQ(r.err, 0) << "test run failed for message " << i;
    const bool copied = r.records.size() == 1 && r.records[0].hdr.kind == SW_REC_SIP;
    const auto parsed = sip::ParseSip(msg);
    if (!parsed.ok()) {
      (copied ? c.refused_copied : c.refused_not_sip)++;
      continue;
    }
    ++c.accepted;
    const sip::SipMessage& m = parsed.value();
    const uint8_t want = m.is_request ? ClassOfMethod(m.method)
                                      : static_cast<uint8_t>(SW_CLASS_RESP_1XX + m.status_code / 100 - 1);
    if (!copied) {
      ++c.missed;
      if (shown["missed"]++ < 5) ADD_FAILURE() << "parser accepts, kernel passed unseen:\n" << msg.substr(0, 300);
      continue;
    }
    if (r.records[0].hdr.flags & SW_RECF_LONG_LINE) ++c.accepted_flagged;
    if (r.records[0].hdr.msg_class != want) {
      ++c.wrong_class;
      if (shown["class"]++ < 5) {
        ADD_FAILURE() << "class " << ClassName(r.records[0].hdr.msg_class) << ", parser "
                      << ClassName(want) << ":\n" << msg.substr(0, 300);
      }
    }
    // A fresh source state now and then, so no LRU or counter fills.
    if (i % 5000 == 4999) {
      ASSERT_TRUE(h.Reset().ok());
      SetSnapLen(h, SW_SNAP_MAX);
    }
  }
  std::cout << "differential: " << messages.size() << " messages (" << corpus << " corpus, "
            << generated << " generated): parser accepts " << c.accepted << " (kernel copied all "
            << c.accepted - c.missed << ", " << c.accepted_flagged << " flagged long-line; missed "
            << c.missed << ", wrong class " << c.wrong_class << "); parser refuses "
            << c.refused_not_sip + c.refused_copied << " (kernel: " << c.refused_not_sip
            << " not SIP, " << c.refused_copied << " copied for the agent to refuse)\n";
  EXPECT_EQ(c.missed, 0u);
  EXPECT_EQ(c.wrong_class, 0u);
  EXPECT_GE(c.accepted, generated / 3);
}

}  // namespace
}  // namespace sw::bpftest
