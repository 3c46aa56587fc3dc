// SPDX-License-Identifier: BSD-2-Clause
// Helpers for the rule engine tests: event builders and an engine harness
// that records everything the engine hands out.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sipwarden/events/event.h"
#include "sipwarden/rules/engine.h"
#include "sipwarden/rules/ruleset.h"

namespace sw::rules::testing {

constexpr int64_t kS = 1'000'000'000;
constexpr int64_t kMs = 1'000'000;
// 2001-09-09T01:46:40Z: far from any wall clock a test runs at.
constexpr int64_t kT0 = 1'000'000'000 * kS;

inline IpAddress Ip(std::string_view s) { return *IpAddress::Parse(s); }

// A SIP message, built fluently: Sip("INVITE").At(t).Src("192.0.2.1").To("bob").
struct Sip {
  ev::SipEvent e;
  explicit Sip(std::string_view method_or_status = "INVITE") {
    e.flow.src = Ip("192.0.2.10");
    e.flow.dst = Ip("198.51.100.1");
    e.flow.sport = 5060;
    e.flow.dport = 5060;
    e.flow.ts_ns = kT0;
    const bool response =
        !method_or_status.empty() && method_or_status[0] >= '0' && method_or_status[0] <= '9';
    e.is_request = !response;
    if (response) {
      e.status = std::stoi(std::string(method_or_status));
      e.method = "INVITE";
      e.cseq_method = "INVITE";
    } else {
      e.method = std::string(method_or_status);
      e.cseq_method = e.method;
    }
    e.cseq = 1;
    e.call_id = "call-1";
    From("alice");
    To("bob");
  }
  Sip& At(int64_t ts) {
    e.flow.ts_ns = ts;
    return *this;
  }
  Sip& Src(std::string_view ip, uint16_t port = 5060) {
    e.flow.src = Ip(ip);
    e.flow.sport = port;
    return *this;
  }
  Sip& Dst(std::string_view ip, uint16_t port = 5060) {
    e.flow.dst = Ip(ip);
    e.flow.dport = port;
    return *this;
  }
  Sip& Call(std::string_view id) {
    e.call_id = std::string(id);
    return *this;
  }
  Sip& CseqMethod(std::string_view m) {
    e.cseq_method = std::string(m);
    if (!e.is_request) e.method = e.cseq_method;
    return *this;
  }
  Sip& From(std::string_view user, std::string_view tag = "ftag") {
    e.from.user = std::string(user);
    e.from.host = "example.com";
    e.from.uri = "sip:" + std::string(user) + "@example.com";
    e.from.tag = std::string(tag);
    return *this;
  }
  Sip& To(std::string_view user, std::string_view tag = "") {
    e.to.user = std::string(user);
    e.to.host = "example.com";
    e.to.uri = "sip:" + std::string(user) + "@example.com";
    e.to.tag = std::string(tag);
    e.request_user = std::string(user);
    e.request_uri = e.to.uri;
    return *this;
  }
  Sip& UA(std::string_view ua) {
    e.user_agent = std::string(ua);
    return *this;
  }
  Sip& Auth(std::string_view user) {
    e.auth_user = std::string(user);
    e.has_auth = true;
    return *this;
  }
  Sip& Media(std::string_view conn, uint16_t port) {
    if (!e.sdp) e.sdp.emplace();
    e.sdp->conn = std::string(conn);
    ev::SdpMedia m;
    m.type = "audio";
    m.port = port;
    m.proto = "RTP/AVP";
    e.sdp->media.push_back(m);
    return *this;
  }
  operator const ev::SipEvent&() const { return e; }
};

inline ev::RtpEvent Rtp(int64_t ts, std::string_view src, uint16_t sport, std::string_view dst,
                        uint16_t dport, std::string_view reason = "media_after_end") {
  ev::RtpEvent r;
  r.flow.ts_ns = ts;
  r.flow.src = Ip(src);
  r.flow.sport = sport;
  r.flow.dst = Ip(dst);
  r.flow.dport = dport;
  r.ssrc = 1234;
  r.reason = std::string(reason);
  return r;
}

inline ev::MgcpEvent Mgcp(std::string_view verb, int64_t ts,
                          std::string_view endpoint = "aaln/1@gw") {
  ev::MgcpEvent m;
  m.flow.ts_ns = ts;
  m.flow.src = Ip("192.0.2.50");
  m.flow.dst = Ip("192.0.2.60");
  m.flow.sport = 2727;
  m.flow.dport = 2427;
  m.is_command = true;
  m.verb = std::string(verb);
  m.endpoint = std::string(endpoint);
  m.transaction_id = "1001";
  return m;
}

// Loads rules (failing the test on errors) and records the engine's output.
class Harness {
 public:
  explicit Harness(std::string_view yaml, ScriptExecutor* executor = nullptr,
                   EngineOptions options = {}) {
    EngineSinks sinks;
    sinks.alarm = [this](const Alarm& a) { alarms.push_back(a); };
    sinks.block = [this](const BlockVerdict& v) { blocks.push_back(v); };
    sinks.rate_limit = [this](const RateLimitVerdict& v) { limits.push_back(v); };
    sinks.watch = [this](const WatchVerdict& v) { watches.push_back(v); };
    sinks.synthetic = [this](const SyntheticEvent& s) { synthetic.push_back(s); };
    sinks.compare_profiles = [this](const ProfileCompare& c) { compares.push_back(c); };
    engine = std::make_unique<Engine>(Load(yaml), sinks, options, executor);
  }

  static std::shared_ptr<const RuleSet> Load(std::string_view yaml) {
    std::vector<ConfigError> errors;
    auto rs = LoadRuleText(yaml, "test.yaml", &errors);
    for (const auto& e : errors) ADD_FAILURE() << e.ToString();
    if (!rs.ok()) {
      ADD_FAILURE() << rs.status();
      return *LoadRuleText("rules: []", "empty.yaml");
    }
    return *rs;
  }

  void Feed(const ev::SipEvent& e) { engine->OnSip(e); }
  void Feed(const Sip& s) { engine->OnSip(s.e); }
  void Feed(const ev::RtpEvent& e) { engine->OnRtp(e); }
  void Feed(const ev::MgcpEvent& e) { engine->OnMgcp(e); }
  void Feed(const ev::CallRecord& e) { engine->OnCall(e); }
  void Feed(const SyntheticEvent& e) { engine->OnSynthetic(e); }
  void Advance(int64_t t) { engine->Advance(t); }

  // Alarms that are not updates.
  std::vector<Alarm> NewAlarms() const {
    std::vector<Alarm> v;
    for (const auto& a : alarms) {
      if (!a.update) v.push_back(a);
    }
    return v;
  }
  std::vector<std::string> SyntheticNames() const {
    std::vector<std::string> v;
    for (const auto& s : synthetic) v.push_back(s.name);
    return v;
  }
  const RuleStats Stats(std::string_view rule) const {
    for (const auto& s : engine->rule_stats()) {
      if (s.name == rule) return s;
    }
    ADD_FAILURE() << "no rule " << rule;
    return {};
  }

  std::vector<Alarm> alarms;
  std::vector<BlockVerdict> blocks;
  std::vector<RateLimitVerdict> limits;
  std::vector<WatchVerdict> watches;
  std::vector<SyntheticEvent> synthetic;
  std::vector<ProfileCompare> compares;
  std::unique_ptr<Engine> engine;
};

}  // namespace sw::rules::testing
