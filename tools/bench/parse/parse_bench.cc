// SPDX-License-Identifier: BSD-2-Clause
// sw-bench-parse: SIP and SDP parsing speed of sw_sip beside libosip2 on the
// same messages, in the same run. Prints one JSON line per figure (see
// "Benchmarks" in docs/formats.md); progress and notes go to stderr.
//
// The messages are the corpus's: the RFC 4475 and RFC 5118 torture tests,
// the pjproject SIP seeds, and every SIP message of a few real captures
// (decoded with sw_net). Only messages both parsers accept are timed, so each
// side does a full parse of the same bytes. sw_sip parses into a reused
// SipMessage (its hot-path use); osip2 allocates a message per parse, as
// its API requires.
#include <osipparser2/osip_message.h>
#include <osipparser2/osip_parser.h>
#include <osipparser2/sdp_message.h>

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "sipwarden/cli.h"
#include "pcap_source.h"
#include "sipwarden/events/pipeline.h"
#include "sipwarden/json.h"
#include "sipwarden/net/decoder.h"
#include "sipwarden/sip/sdp.h"
#include "sipwarden/sip/sip_message.h"

ABSL_FLAG(std::string, corpus, SW_CORPUS_DIR, "The test corpus directory (tests/data/corpus)");
ABSL_FLAG(std::vector<std::string>, pcaps,
          std::vector<std::string>({"pcaps/initconf-sip-attacks/SIP-Bruteforce-Single-IP.pcap",
                                    "pcaps/initconf-sip-attacks/SIP-3700-unauthorized-401.pcap",
                                    "pcaps/initconf-sip-attacks/BadUserAgent-sipvicious.pcap",
                                    "pcaps/ndpi/sip.pcap", "pcaps/sngrep/ipv6frag.pcap",
                                    "pcaps/heplify/rtp_rtcp_sip_ipv4_udp.pcap"}),
          "Captures (relative to --corpus) whose SIP messages join the set");
ABSL_FLAG(double, seconds, 0.5, "Minimum duration of one measurement");
ABSL_FLAG(int, rounds, 5, "Measurements per parser; the best is reported");
ABSL_FLAG(bool, version, false, "Print the version and exit");

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void AddFiles(const fs::path& dir, std::vector<std::string>* out) {
  std::error_code ec;
  std::vector<fs::path> files;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const std::string ext = it->path().extension().string();
    if (it->is_regular_file() && (ext == ".dat" || ext == ".sip")) files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) out->push_back(ReadFile(f));
}

bool AddPcap(const fs::path& path, std::vector<std::string>* out) {
  auto src = sw::PcapSource::Open(path.string());
  if (!src.ok()) {
    std::cerr << "bench: skipping " << path << ": " << src.status() << "\n";
    return false;
  }
  sw::net::Decoder dec(sw::net::DecoderLimits{}, [&](const sw::net::AppMessage& m) {
    if (sw::net::LooksLikeSipStart(m.payload)) out->emplace_back(m.payload);
  });
  sw::CapturedFrame f;
  while (true) {
    auto more = (*src)->Next(&f);
    if (!more.ok() || !*more) break;
    dec.Frame((*src)->link_type(), f.ts_ns, f.data);
  }
  return true;
}

bool OsipAccepts(const std::string& m) {
  osip_message_t* sip = nullptr;
  if (osip_message_init(&sip) != 0) return false;
  const bool ok = osip_message_parse(sip, m.data(), m.size()) == 0;
  osip_message_free(sip);
  return ok;
}

bool OsipSdpAccepts(const std::string& body) {
  sdp_message_t* sdp = nullptr;
  if (sdp_message_init(&sdp) != 0) return false;
  const bool ok = sdp_message_parse(sdp, body.c_str()) == 0;
  sdp_message_free(sdp);
  return ok;
}

// Runs pass() over the whole set until --seconds have gone by; returns the
// rate in passes per second.
template <typename F>
double PassesPerSecond(F& pass) {
  const double min_s = absl::GetFlag(FLAGS_seconds);
  size_t passes = 0;
  const auto start = Clock::now();
  double elapsed = 0;
  do {
    pass();
    ++passes;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  } while (elapsed < min_s);
  return static_cast<double>(passes) / elapsed;
}

// Measures ours and theirs in alternation, --rounds times each, so that a
// change in machine load hits both; returns the best rate of each.
template <typename F, typename G>
std::pair<double, double> BestOfInterleaved(F ours, G theirs) {
  double best_ours = 0;
  double best_theirs = 0;
  for (int r = 0; r < absl::GetFlag(FLAGS_rounds); ++r) {
    best_ours = std::max(best_ours, PassesPerSecond(ours));
    best_theirs = std::max(best_theirs, PassesPerSecond(theirs));
  }
  return {best_ours, best_theirs};
}

void Emit(std::string_view metric, double value, std::string_view unit, double baseline_value,
          std::string_view baseline = "osip2") {
  sw::JsonWriter w;
  w.BeginObject()
      .Field("bench", "parse")
      .Field("metric", metric)
      .Field("value", value)
      .Field("unit", unit)
      .Field("baseline", baseline)
      .Field("baseline_value", baseline_value)
      .Field("ratio", baseline_value > 0 ? value / baseline_value : 0.0)
      .EndObject();
  std::cout << w.str() << std::endl;
}

size_t TotalBytes(const std::vector<std::string>& v) {
  size_t n = 0;
  for (const auto& s : v) n += s.size();
  return n;
}

// Keeps the optimizer from dropping work whose result is otherwise unused.
volatile size_t g_sink = 0;

// osip2 logs parse errors to stdout by default, which would break the JSON
// lines: route its trace into nothing and turn every level off.
void NoTrace(const char*, int, osip_trace_level_t, const char*, va_list) {}
void SilenceOsip() {
  osip_trace_initialize_func(TRACE_LEVEL0, &NoTrace);
  for (int l = TRACE_LEVEL0; l < END_TRACE_LEVEL; ++l) {
    osip_trace_disable_level(static_cast<osip_trace_level_t>(l));
  }
}

}  // namespace

int main(int argc, char** argv) {
  sw::SetUsage(
      "SIP/SDP parse benchmark: sw_sip beside libosip2 on the corpus messages.\n"
      "Prints one JSON line per figure; progress on stderr.");
  sw::NormalizedArgs normalized(argc, argv);
  absl::ParseCommandLine(normalized.argc(), normalized.argv());
  if (absl::GetFlag(FLAGS_version)) {
    std::cout << "sw-bench-parse " << SW_VERSION << "\n";
    return 0;
  }
  const fs::path corpus = absl::GetFlag(FLAGS_corpus);
  if (!fs::is_directory(corpus / "rfc4475")) {
    std::cerr << "sw-bench-parse: corpus not found at " << corpus << " (use --corpus)\n";
    return 2;
  }
  if (absl::GetFlag(FLAGS_rounds) < 1 || absl::GetFlag(FLAGS_seconds) <= 0) {
    std::cerr << "sw-bench-parse: --rounds and --seconds must be positive\n";
    return 2;
  }

  std::vector<std::string> all;
  AddFiles(corpus / "rfc4475", &all);
  AddFiles(corpus / "rfc5118" / "wire_normalized_derived", &all);
  AddFiles(corpus / "fuzz" / "pjproject" / "fuzz-sip", &all);
  AddFiles(corpus / "fuzz" / "pjproject" / "fuzz-sip-dialog", &all);
  for (const std::string& p : absl::GetFlag(FLAGS_pcaps)) AddPcap(corpus / p, &all);

  SilenceOsip();
  parser_init();
  std::vector<std::string> sip;  // accepted by both
  std::vector<std::string> sdp;  // SDP bodies of those, accepted by both
  size_t ours_only = 0;
  size_t osip_only = 0;
  size_t agree = 0;
  for (const std::string& m : all) {
    auto r = sw::sip::ParseSip(m);
    const bool theirs = OsipAccepts(m);
    if (r.ok() && theirs) {
      sip.push_back(m);
      // Spot-check that both read the same Call-ID.
      osip_message_t* o = nullptr;
      osip_message_init(&o);
      osip_message_parse(o, m.data(), m.size());
      char* cid = nullptr;
      if (o->call_id != nullptr && osip_call_id_to_str(o->call_id, &cid) == 0) {
        if (r->call_id == cid) ++agree;
        osip_free(cid);
      }
      osip_message_free(o);
      if (r->HasSdpBody() && !r->body.empty()) {
        std::string body(r->body);
        if (sw::sip::ParseSdp(body).ok() && OsipSdpAccepts(body)) sdp.push_back(std::move(body));
      }
    } else if (r.ok()) {
      ++ours_only;
    } else if (theirs) {
      ++osip_only;
    }
  }
  std::cerr << "bench: " << all.size() << " SIP messages, " << sip.size()
            << " accepted by both parsers (" << ours_only << " by sw_sip only, " << osip_only
            << " by osip2 only); Call-ID agrees on " << agree << "; " << sdp.size()
            << " SDP bodies\n";
  if (sip.empty()) {
    std::cerr << "sw-bench-parse: no messages to time\n";
    return 1;
  }

  const double sip_bytes = static_cast<double>(TotalBytes(sip));
  sw::sip::SipMessage msg;
  const auto [ours, theirs] = BestOfInterleaved(
      [&] {
        for (const std::string& m : sip) {
          sw::sip::ParseSipInto(m, {}, &msg);
          g_sink = g_sink + msg.headers.size();
        }
      },
      [&] {
        for (const std::string& m : sip) {
          osip_message_t* o = nullptr;
          osip_message_init(&o);
          osip_message_parse(o, m.data(), m.size());
          g_sink = g_sink + (o->call_id != nullptr);
          osip_message_free(o);
        }
      });
  Emit("sip_messages_per_second", ours * sip.size(), "msg/s", theirs * sip.size());
  Emit("sip_throughput", ours * sip_bytes / 1e6, "MB/s", theirs * sip_bytes / 1e6);

  if (!sdp.empty()) {
    const double sdp_bytes = static_cast<double>(TotalBytes(sdp));
    const auto [ours_sdp, theirs_sdp] = BestOfInterleaved(
        [&] {
          for (const std::string& b : sdp) {
            auto s = sw::sip::ParseSdp(b);
            g_sink = g_sink + s.ok();
          }
        },
        [&] {
          for (const std::string& b : sdp) {
            sdp_message_t* s = nullptr;
            sdp_message_init(&s);
            g_sink = g_sink + (sdp_message_parse(s, b.c_str()) == 0);
            sdp_message_free(s);
          }
        });
    Emit("sdp_bodies_per_second", ours_sdp * sdp.size(), "msg/s", theirs_sdp * sdp.size());
    Emit("sdp_throughput", ours_sdp * sdp_bytes / 1e6, "MB/s", theirs_sdp * sdp_bytes / 1e6);
  }
  // Events of every corpus message, the refused ones included (what is
  // salvaged of them: sip::SalvageSip), beside the same without recovery,
  // where a refused message was only counted.
  std::vector<std::string> refused;
  for (const std::string& m : all) {
    if (!sw::sip::ParseSip(m).ok()) refused.push_back(m);
  }
  std::cerr << "bench: " << refused.size() << " of " << all.size()
            << " messages refused (events made of what can be salvaged)\n";
  const sw::ev::Flow flow;
  const auto [with_recovery, without] = BestOfInterleaved(
      [&] {
        for (const std::string& m : all) {
          const sw::sip::ParseError err = sw::sip::ParseSipInto(m, {}, &msg);
          const sw::ev::SipEvent e = err.reason == sw::sip::Reason::kOk
                                         ? sw::ev::MakeSipEvent(msg, flow)
                                         : sw::ev::MakeMalformedSipEvent(m, err, {}, flow);
          g_sink = g_sink + e.call_id.size();
        }
      },
      [&] {
        for (const std::string& m : all) {
          const sw::sip::ParseError err = sw::sip::ParseSipInto(m, {}, &msg);
          if (err.reason != sw::sip::Reason::kOk) {
            g_sink = g_sink + 1;
            continue;
          }
          const sw::ev::SipEvent e = sw::ev::MakeSipEvent(msg, flow);
          g_sink = g_sink + e.call_id.size();
        }
      });
  Emit("sip_events_per_second", with_recovery * all.size(), "msg/s", without * all.size(),
       "without recovery");
  if (!refused.empty()) {
    const auto [salvaged, counted] = BestOfInterleaved(
        [&] {
          for (const std::string& m : refused) {
            const sw::sip::ParseError err = sw::sip::ParseSipInto(m, {}, &msg);
            const sw::ev::SipEvent e = sw::ev::MakeMalformedSipEvent(m, err, {}, flow);
            g_sink = g_sink + e.method.size();
          }
        },
        [&] {
          for (const std::string& m : refused) {
            g_sink = g_sink + static_cast<size_t>(sw::sip::ParseSipInto(m, {}, &msg).reason);
          }
        });
    Emit("refused_events_per_second", salvaged * refused.size(), "msg/s",
         counted * refused.size(), "refusal counted only");
  }
  return 0;
}
