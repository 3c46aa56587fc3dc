// SPDX-License-Identifier: BSD-2-Clause
// The pjproject OSS-Fuzz seed corpora run through the matching parsers (and,
// for robustness, through every other parser too): nothing may crash, read
// out of bounds or leak (this test runs under ASan/UBSan in CI). The seeds
// that are well-formed must also parse.
#include <string>

#include "gtest/gtest.h"
#include "sipwarden/sip/mgcp.h"
#include "sipwarden/sip/rtp.h"
#include "sipwarden/sip/sdp.h"
#include "sipwarden/sip/sip_message.h"
#include "sipwarden/sip/text.h"
#include "sipwarden/sip/uri.h"
#include "test_util.h"

namespace sw::sip {
namespace {

using testing::CorpusDir;
using testing::CorpusMissingMessage;
using testing::CorpusPresent;
using testing::FilesUnder;
using testing::ReadFile;

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Touches every field a consumer might read, so sanitizers see the views.
size_t Walk(const SipMessage& m) {
  size_t n = m.method.size() + m.request_uri.raw.size() + m.call_id.size() + m.body.size();
  for (const Header& h : m.headers) n += h.name.size() + h.value.size();
  for (const Via& v : m.vias) n += v.sent_by.host.size() + v.branch.size() + v.params.size();
  for (const NameAddr& c : m.contacts) n += c.uri.raw.size() + c.display_name.size();
  n += Unquote(m.from.display_name).size() + PercentDecode(m.to.uri.user).size();
  for (int id = 1; id < static_cast<int>(HeaderId::kCount); ++id) {
    m.ForEachValue(static_cast<HeaderId>(id), [&](std::string_view v) {
      n += v.size();
      ForEachParam(v, [&](const Param& p) {
        n += p.name.size() + p.value.size();
        return true;
      });
      return true;
    });
  }
  return n;
}

// Every parser over the same bytes; returns what the SIP parser said.
Reason RunAll(const std::string& data) {
  auto dgram = ParseSip(data);
  if (dgram.ok()) {
    Walk(*dgram);
    if (dgram->HasSdpBody()) (void)ParseSdp(dgram->body);
  }
  SipParseOptions stream;
  stream.framing = Framing::kStream;
  auto st = ParseSip(data, stream);
  if (st.ok()) {
    EXPECT_LE(st->size, data.size());
    Walk(*st);
  }
  (void)ParseSdp(data);
  auto mgcp = ParseMgcp(data);
  if (mgcp.ok()) {
    EXPECT_LE(mgcp->size, data.size());
    (void)ParseSdp(mgcp->sdp);
  }
  (void)ParseUri(data);
  (void)ParseNameAddr(data);
  (void)ParseVia(data);
  (void)ParseRtp(Bytes(data));
  (void)ParseRtcp(Bytes(data));
  return dgram.reason();
}

std::filesystem::path Seeds(const char* sub) { return CorpusDir() / "fuzz" / "pjproject" / sub; }

TEST(SeedsTest, SipSeeds) {
  ASSERT_TRUE(CorpusPresent()) << CorpusMissingMessage();
  size_t files = 0;
  size_t parsed = 0;
  for (const char* dir : {"fuzz-sip", "fuzz-sip-dialog"}) {
    for (const auto& p : FilesUnder(Seeds(dir))) {
      const std::string data = ReadFile(p);
      ++files;
      if (RunAll(data) == Reason::kOk) ++parsed;
      // Every prefix too: truncation is the commonest hostile shape.
      for (size_t n = 0; n < data.size(); n += 7) (void)RunAll(data.substr(0, n));
    }
  }
  EXPECT_GE(files, 19u);
  // The plain SIP seeds (not the deliberately odd ones) parse.
  EXPECT_GE(parsed, 10u);
}

TEST(SeedsTest, TelUriSeedParses) {
  ASSERT_TRUE(CorpusPresent()) << CorpusMissingMessage();
  const std::string data =
      ReadFile(Seeds("fuzz-sip") / "fuzz-sip_seed_corpus" / "tel_uri_basic.sip");
  auto r = ParseSip(data);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->request_uri.scheme, UriScheme::kTel);
  EXPECT_EQ(r->request_uri.user, "+1-212-555-0100");
  EXPECT_EQ(r->from.uri.user, "+1-212-555-0101");
  EXPECT_TRUE(r->has_warning(SipWarning::kNonCrlfLineEnd));
}

TEST(SeedsTest, SdpSeeds) {
  ASSERT_TRUE(CorpusPresent()) << CorpusMissingMessage();
  size_t files = 0;
  for (const auto& p : FilesUnder(Seeds("fuzz-sdp"))) {
    const std::string data = ReadFile(p);
    ++files;
    auto s = ParseSdp(data);
    if (p.filename() == "input.6.sdp") {
      // A mutated seed: "m=au\xc3\xbf..." is not a media line.
      EXPECT_EQ(s.reason(), Reason::kBadSdpMedia);
    } else {
      ASSERT_TRUE(s.ok()) << p << ": " << s.error().ToString();
      EXPECT_FALSE(s->media.empty()) << p;
      EXPECT_FALSE(s->origin.username.empty()) << p;
    }
    RunAll(data);
    for (size_t n = 0; n < data.size(); n += 5) (void)ParseSdp(std::string_view(data).substr(0, n));
  }
  EXPECT_EQ(files, 6u);
}

TEST(SeedsTest, UriSeeds) {
  ASSERT_TRUE(CorpusPresent()) << CorpusMissingMessage();
  for (const auto& p : FilesUnder(Seeds("fuzz-uri"))) {
    const std::string data = ReadFile(p);
    RunAll(data);
    const std::string_view line = TrimLws(data);
    (void)ParseUri(line);
    (void)ParseNameAddr(line);
  }
}

TEST(SeedsTest, RtcpSeedsParse) {
  ASSERT_TRUE(CorpusPresent()) << CorpusMissingMessage();
  size_t files = 0;
  for (const auto& p : FilesUnder(Seeds("fuzz-rtcp"))) {
    const std::string data = ReadFile(p);
    ++files;
    auto c = ParseRtcp(Bytes(data));
    EXPECT_TRUE(c.ok()) << p << ": " << c.error().ToString();
    EXPECT_TRUE(LooksLikeRtcp(Bytes(data))) << p;
    RunAll(data);
    for (size_t n = 0; n < data.size(); ++n) (void)ParseRtcp(Bytes(data.substr(0, n)));
  }
  EXPECT_EQ(files, 11u);
}

TEST(SeedsTest, RtpSeeds) {
  ASSERT_TRUE(CorpusPresent()) << CorpusMissingMessage();
  size_t files = 0;
  for (const auto& p : FilesUnder(Seeds("fuzz-rtp"))) {
    const std::string data = ReadFile(p);
    ++files;
    RunAll(data);
    // The seeds are fuzzer input streams; read RTP at every offset.
    for (size_t off = 0; off < data.size(); ++off) {
      (void)ParseRtp(Bytes(data).subspan(off));
      (void)ParseRtcp(Bytes(data).subspan(off));
    }
  }
  EXPECT_EQ(files, 3u);
}

}  // namespace
}  // namespace sw::sip
