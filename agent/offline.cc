// SPDX-License-Identifier: BSD-2-Clause
#include "offline.h"

#include <chrono>
#include <iostream>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "correlate.h"
#include "outputs.h"
#include "pcap_source.h"
#include "sipwarden/events/pipeline.h"
#include "sipwarden/json.h"

namespace sw {

int RunOffline(const OfflineOptions& options) {
  // The rules first: a bad rule file is refused before anything is written.
  std::shared_ptr<const rules::RuleSet> ruleset;
  if (!options.alarms_out.empty() || !options.rules.empty() || !options.profiles.empty()) {
    std::vector<rules::ConfigError> errors;
    auto loaded = LoadAgentRules(options.rules, &errors, options.scripts);
    if (!loaded.ok()) {
      for (const auto& e : errors) std::cerr << "sipwarden-agent: " << e.ToString() << "\n";
      if (errors.empty()) std::cerr << "sipwarden-agent: " << loaded.status().message() << "\n";
      return 2;
    }
    ruleset = *std::move(loaded);
  }
  std::unique_ptr<ProfileWatch> profiles;
  if (!options.profiles.empty()) {
    auto p = ProfileWatch::Open(options.profiles, options.profiles_config, UnixNowUs());
    if (!p.ok()) {
      std::cerr << "sipwarden-agent: --profiles: " << p.status().message() << "\n";
      return 2;
    }
    profiles = std::move(*p);
  } else if (!options.profiles_config.empty()) {
    std::cerr << "sipwarden-agent: --profiles-config needs --profiles\n";
    return 2;
  }
  auto src = PcapSource::Open(options.pcap);
  if (!src.ok()) {
    std::cerr << "sipwarden-agent: " << src.status().message() << "\n";
    return 2;
  }
  auto events = JsonLinesOut::Open(options.events_out);
  if (!events.ok()) {
    std::cerr << "sipwarden-agent: " << events.status().message() << "\n";
    return 2;
  }
  JsonLinesOut& out = **events;
  auto alarms = JsonLinesOut::Open(options.alarms_out);
  if (!alarms.ok()) {
    std::cerr << "sipwarden-agent: " << alarms.status().message() << "\n";
    return 2;
  }
  std::unique_ptr<Correlator> correlator;
  if (ruleset) {
    correlator = std::make_unique<Correlator>(ruleset, **alarms, VerdictSinks{}, options.scripts);
    if (profiles) correlator->AttachProfiles(std::move(profiles));
  }

  ev::PipelineSinks sinks;
  uint64_t sip = 0, calls = 0, rejected = 0, rtp = 0;
  sinks.sip = [&](const ev::SipEvent& e) {
    if (!e.malformed()) ++sip;  // refusals are counted as rejected
    out.WriteJson(e);
  };
  sinks.mgcp = [&](const ev::MgcpEvent& e) { out.WriteJson(e); };
  sinks.rtp = [&](const ev::RtpEvent& e) {
    ++rtp;
    out.WriteJson(e);
  };
  sinks.call = [&](const ev::CallRecord& c) {
    ++calls;
    out.WriteJson(c);
  };
  sinks.rejected = [&](const ev::Rejection& r) {
    ++rejected;
    if (!options.quiet && rejected <= 20) {
      std::cerr << "sipwarden-agent: " << r.protocol << " message from " << r.flow.src.ToString()
                << ":" << r.flow.sport << " rejected: " << r.error.ToString() << " ["
                << r.first_line << "]\n";
    }
  };
  ev::Pipeline pipeline(correlator ? correlator->Tee(std::move(sinks)) : std::move(sinks));
  net::Decoder decoder({}, [&](const net::AppMessage& m) { pipeline.OnMessage(m); });

  if (!options.quiet) {
    std::cerr << "sipwarden-agent: reading " << options.pcap << " (link type " << (*src)->dlt()
              << ")";
    if (ruleset) {
      std::cerr << " with " << (options.rules.empty() ? "the default rules" : options.rules) << ": "
                << ruleset->Summary();
    }
    std::cerr << "\n";
  }
  const auto started = std::chrono::steady_clock::now();
  auto last_progress = started;
  CapturedFrame frame;
  int rc = 0;
  uint64_t frames = 0;
  while (true) {
    auto more = (*src)->Next(&frame);
    if (!more.ok()) {
      std::cerr << "sipwarden-agent: " << more.status().message()
                << " (the packets before it were processed)\n";
      rc = 1;
      break;
    }
    if (!*more) break;
    ++frames;
    if (correlator) correlator->Advance(frame.ts_ns);  // time passes with every packet
    decoder.Frame((*src)->link_type(), frame.ts_ns, frame.data);
    if (!options.quiet && (frames & 0xffff) == 0) {
      const auto now = std::chrono::steady_clock::now();
      if (now - last_progress > std::chrono::seconds(2)) {
        last_progress = now;
        std::cerr << "sipwarden-agent: " << frames << " packets, " << sip << " SIP messages, "
                  << calls << " calls so far\n";
      }
    }
  }
  pipeline.Flush();
  out.Flush();
  if (correlator) correlator->Finish(kOfflineDrainNs);
  if (!options.quiet) {
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const auto& ds = decoder.stats();
    const auto& ps = pipeline.stats();
    std::cerr << "sipwarden-agent: " << frames << " packets in " << secs << " s: " << sip
              << " SIP messages (" << ps.sip_rejected << " rejected), " << calls << " calls, "
              << ps.rtp << " RTP and " << ps.rtcp << " RTCP packets to known endpoints, "
              << decoder.tcp_stats().messages << " messages from TCP streams, " << ds.reassembled
              << " datagrams reassembled\n";
    if (correlator) std::cerr << "sipwarden-agent: " << correlator->Summary() << "\n";
    if (correlator && correlator->profiles()) {
      const ProfileWatchStats ps = correlator->profiles()->stats();
      std::cerr << "sipwarden-agent: profiles: " << ps.calls << " calls, " << ps.compares
                << " compares, " << ps.alarms << " anomalies; " << ps.profiles << " profiles, "
                << ps.learning << " accounts learning\n";
    }
  }
  return rc;
}

}  // namespace sw
