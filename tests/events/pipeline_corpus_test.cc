// SPDX-License-Identifier: BSD-2-Clause
// The event pipeline on real captures: call records checked against what
// tshark decodes from the same files (calls, answer times, dispositions,
// durations), and every capture in the corpus processed without a crash.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "pcap_source.h"
#include "sipwarden/events/pipeline.h"
#include "sipwarden/json.h"
#include "sipwarden/sip/sip_message.h"

namespace sw::ev {
namespace {

std::string Corpus(const std::string& rel) { return std::string(SW_CORPUS_DIR) + "/" + rel; }

struct Analysis {
  std::vector<CallRecord> calls;
  std::vector<SipEvent> sip;
  std::vector<RtpEvent> rtp;
  std::vector<MgcpEvent> mgcp;
  PipelineStats stats;
};

Analysis Analyse(const std::string& path) {
  Analysis r;
  PipelineSinks sinks;
  sinks.sip = [&](const SipEvent& e) { r.sip.push_back(e); };
  sinks.call = [&](const CallRecord& c) { r.calls.push_back(c); };
  sinks.rtp = [&](const RtpEvent& e) { r.rtp.push_back(e); };
  sinks.mgcp = [&](const MgcpEvent& e) { r.mgcp.push_back(e); };
  Pipeline p(std::move(sinks));
  net::Decoder d({}, [&](const net::AppMessage& m) { p.OnMessage(m); });
  auto src = PcapSource::Open(path);
  EXPECT_TRUE(src.ok()) << src.status();
  if (!src.ok()) return r;
  CapturedFrame f;
  while (true) {
    auto more = (*src)->Next(&f);
    EXPECT_TRUE(more.ok()) << more.status();
    if (!more.ok() || !*more) break;
    d.Frame((*src)->link_type(), f.ts_ns, f.data);
  }
  p.Flush();
  r.stats = p.stats();
  return r;
}

void ExpectSameParty(const Party& a, const Party& b) {
  EXPECT_EQ(a.uri, b.uri);
  EXPECT_EQ(a.user, b.user);
  EXPECT_EQ(a.host, b.host);
  EXPECT_EQ(a.tag, b.tag);
  EXPECT_EQ(a.display, b.display);
}

// The pipeline fills one reused event per message: every RFC 4475 and 5118
// message the parser takes, filled into an event that held the previous
// ones, equals a fresh event of the same message, field by field (nothing
// of an earlier message is left behind).
TEST(FillSipEvent, ReusedEventEqualsAFreshOne) {
  std::vector<std::filesystem::path> files;
  for (const char* dir : {"rfc4475", "rfc5118"}) {
    for (const auto& f : std::filesystem::directory_iterator(Corpus(dir))) {
      if (f.path().extension() == ".dat") files.push_back(f.path());
    }
  }
  std::sort(files.begin(), files.end());
  ASSERT_GT(files.size(), 40u);
  SipEvent reused;
  Flow flow;
  size_t parsed = 0;
  // Twice, forwards then backwards: each message follows a different one.
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t k = 0; k < files.size(); ++k) {
      const auto& path = files[pass == 0 ? k : files.size() - 1 - k];
      std::ifstream in(path, std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      sip::SipMessage m;
      if (sip::ParseSipInto(bytes, {}, &m).reason != sip::Reason::kOk) continue;
      ++parsed;
      SCOPED_TRACE(path.filename().string());
      flow.ts_ns = static_cast<int64_t>(parsed);
      const SipEvent fresh = MakeSipEvent(m, flow);
      reused.sdp = SdpSummary{};  // as the pipeline leaves it after an SDP
      reused.malformed_reason = "earlier";
      FillSipEvent(m, flow, &reused);
      EXPECT_EQ(ToJson(reused), ToJson(fresh));
      EXPECT_EQ(reused.request_user, fresh.request_user);
      EXPECT_EQ(reused.reason, fresh.reason);
      EXPECT_EQ(reused.status, fresh.status);
      EXPECT_EQ(reused.via_hosts, fresh.via_hosts);
      EXPECT_EQ(reused.via_branch, fresh.via_branch);
      EXPECT_EQ(reused.has_auth, fresh.has_auth);
      EXPECT_EQ(reused.auth_user, fresh.auth_user);
      EXPECT_EQ(reused.has_expires, fresh.has_expires);
      EXPECT_EQ(reused.expires, fresh.expires);
      EXPECT_EQ(reused.warnings, fresh.warnings);
      EXPECT_EQ(reused.sdp.has_value(), fresh.sdp.has_value());
      EXPECT_EQ(reused.malformed(), fresh.malformed());
      EXPECT_EQ(reused.malformed_at, fresh.malformed_at);
      ExpectSameParty(reused.from, fresh.from);
      ExpectSameParty(reused.to, fresh.to);
    }
  }
  EXPECT_GT(parsed, 40u);
}

// One SIP message as tshark decodes it.
struct TsMsg {
  double t;
  std::string method;  // request method, empty for responses
  int status = 0;
  std::string call_id;
  std::string cseq_method;
  std::string to_tag;
};

std::vector<TsMsg> Tshark(const std::string& path, const std::string& args) {
  const std::string cmd = "tshark -n -r '" + path + "' " + args +
                          " -Y sip -T fields -E occurrence=f -E separator=/t "
                          "-e frame.time_epoch -e sip.Method -e sip.Status-Code -e sip.Call-ID "
                          "-e sip.CSeq.method -e sip.to.tag 2>/dev/null";
  std::vector<TsMsg> out;
  std::unique_ptr<FILE, int (*)(FILE*)> p(popen(cmd.c_str(), "r"), pclose);
  std::array<char, 8192> buf;
  while (p && fgets(buf.data(), buf.size(), p.get())) {
    std::vector<std::string> f;
    std::stringstream ss(buf.data());
    std::string cell;
    while (std::getline(ss, cell, '\t')) f.push_back(cell);
    while (f.size() < 6) f.emplace_back();
    if (!f[5].empty() && f[5].back() == '\n') f[5].pop_back();
    TsMsg m;
    m.t = std::stod(f[0]);
    m.method = f[1];
    m.status = f[2].empty() ? 0 : std::stoi(f[2]);
    m.call_id = f[3];
    m.cseq_method = f[4];
    m.to_tag = f[5];
    out.push_back(m);
  }
  return out;
}

// The facts of each INVITE dialog that tshark's decoding shows directly.
struct Expected {
  double start = -1, answer = -1, bye = -1;
  int final_status = 0;
  bool cancelled = false;  // CANCEL before the final response
};

std::map<std::string, Expected> ExpectedCalls(const std::vector<TsMsg>& msgs) {
  std::map<std::string, Expected> calls;
  for (const auto& m : msgs) {
    if (m.method == "INVITE" && m.to_tag.empty() && !calls.count(m.call_id)) {
      calls[m.call_id].start = m.t;
    }
    auto it = calls.find(m.call_id);
    if (it == calls.end()) continue;
    Expected& e = it->second;
    if (m.status >= 200 && m.cseq_method == "INVITE") {
      if (m.status < 300 && e.answer < 0) e.answer = m.t;
      if (e.answer < 0 && m.status != 401 && m.status != 407) e.final_status = m.status;
    }
    if (m.method == "BYE" && e.bye < 0) e.bye = m.t;
    if (m.method == "CANCEL" && e.answer < 0 && !e.final_status) e.cancelled = true;
  }
  return calls;
}

struct CallCase {
  const char* file;
  const char* tshark_args;
};

class CallsVsTshark : public ::testing::TestWithParam<CallCase> {};

TEST_P(CallsVsTshark, AgreeOnCallsAnswerTimesDispositionsAndDurations) {
  const std::string path = Corpus(GetParam().file);
  ASSERT_TRUE(std::filesystem::exists(path)) << path;
  if (system("command -v tshark >/dev/null 2>&1") != 0) GTEST_SKIP() << "tshark not installed";
  const auto expected = ExpectedCalls(Tshark(path, GetParam().tshark_args));
  ASSERT_FALSE(expected.empty());
  const Analysis run = Analyse(path);
  std::map<std::string, const CallRecord*> ours;
  for (const auto& c : run.calls) ours[c.call_id] = &c;
  EXPECT_EQ(ours.size(), expected.size());
  for (const auto& [id, e] : expected) {
    SCOPED_TRACE(id);
    auto it = ours.find(id);
    ASSERT_NE(it, ours.end()) << "no call record";
    const CallRecord& c = *it->second;
    EXPECT_NEAR(c.start_ns / 1e9, e.start, 1e-6);
    if (e.answer >= 0) {
      EXPECT_EQ(c.disposition, Disposition::kAnswered);
      EXPECT_NEAR(c.setup_ms, (e.answer - e.start) * 1000, 1.0);
      if (e.bye >= 0) {
        EXPECT_EQ(c.ended_by, "bye");
        EXPECT_NEAR(c.duration_s, e.bye - e.start, 1e-3);
        EXPECT_NEAR(c.billable_s, e.bye - e.answer, 1e-3);
      }
    } else if (e.final_status) {
      EXPECT_EQ(c.status, e.final_status);
      EXPECT_EQ(c.disposition, DispositionForStatus(e.final_status, e.cancelled)) << c.status;
      EXPECT_DOUBLE_EQ(c.billable_s, 0.0);
    } else {
      EXPECT_NE(c.disposition, Disposition::kAnswered);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Captures, CallsVsTshark,
                         ::testing::Values(
                             CallCase{"pcaps/heplify/rtp_rtcp_sip_ipv4_udp.pcap", ""},
                             CallCase{"pcaps/heplify/sip_ipv4_tcp.pcap", ""},
                             CallCase{"pcaps/heplify/sip_ipv4_tcp_fragmented.pcap",
                                      "-d tcp.port==6060,sip"},
                             CallCase{"pcaps/ndpi/FAX-Call-t38-CA-TDM-SIP-FB-1.pcap", ""},
                             CallCase{"pcaps/ndpi/sip.pcap", ""},
                             CallCase{"pcaps/initconf-sip-attacks/SIP-3700-unauthorized-401.pcap",
                                      ""}));

TEST(Pipeline, TheRtpCallMatchesTsharkStreams) {
  // tshark -z rtp,streams on this file: 891 packets 200.57.7.196:40376 ->
  // 200.57.7.204:8000 and 548 back, both on the answered call's endpoints.
  const Analysis run = Analyse(Corpus("pcaps/heplify/rtp_rtcp_sip_ipv4_udp.pcap"));
  EXPECT_EQ(run.stats.rtp, 891u + 548u);
  int starts = 0;
  for (const auto& e : run.rtp) starts += e.reason == "stream_start";
  EXPECT_EQ(starts, 2);
  // The answered call has no BYE in the capture: it lasts until its last media.
  ASSERT_FALSE(run.calls.empty());
  const CallRecord& c = run.calls[0];
  EXPECT_EQ(c.disposition, Disposition::kAnswered);
  EXPECT_EQ(c.ended_by, "end_of_input");
  EXPECT_NEAR(c.duration_s, 34.908735, 1e-3);  // to the last RTP packet (tshark: 34.908735)
  EXPECT_GE(c.media.size(), 2u);
}

// The agent formats every line in one writer kept from line to line
// (ToJson(x, w)): over the whole corpus, each line equals the line a fresh
// writer makes, whatever came before it (long lines, escapes, SDP, other
// kinds of line).
TEST(ToJson, AKeptWriterWritesWhatAFreshOneDoes) {
  JsonWriter w;
  size_t lines = 0;
  std::set<std::string> kinds;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(Corpus("pcaps"))) {
    const auto ext = entry.path().extension();
    if (ext != ".pcap" && ext != ".pcapng") continue;
    SCOPED_TRACE(entry.path().string());
    const Analysis run = Analyse(entry.path().string());
    auto same = [&](const auto& x, const char* kind) {
      const std::string fresh = ToJson(x);
      ASSERT_EQ(ToJson(x, w), fresh);
      ++lines;
      kinds.insert(kind);
    };
    // Kinds interleaved, as they arrive in the agent.
    const size_t n = std::max({run.sip.size(), run.rtp.size(), run.calls.size(), run.mgcp.size()});
    for (size_t i = 0; i < n; ++i) {
      if (i < run.sip.size()) same(run.sip[i], "sip");
      if (i < run.rtp.size()) same(run.rtp[i], "rtp");
      if (i < run.mgcp.size()) same(run.mgcp[i], "mgcp");
      if (i < run.calls.size()) same(run.calls[i], "call");
    }
  }
  EXPECT_GT(lines, 1000u);
  EXPECT_EQ(kinds, (std::set<std::string>{"call", "mgcp", "rtp", "sip"}));
}

TEST(Pipeline, EveryCorpusCaptureIsProcessed) {
  int files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(Corpus("pcaps"))) {
    const auto ext = entry.path().extension();
    if (ext != ".pcap" && ext != ".pcapng") continue;
    ++files;
    SCOPED_TRACE(entry.path().string());
    const Analysis run = Analyse(entry.path().string());
    for (const auto& c : run.calls) {
      EXPECT_GE(c.end_ns, c.start_ns);
      EXPECT_GE(c.duration_s, c.billable_s);
    }
  }
  EXPECT_GT(files, 30);
}

}  // namespace
}  // namespace sw::ev
