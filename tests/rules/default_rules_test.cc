// SPDX-License-Identifier: BSD-2-Clause
// The shipped default ruleset (rules/default.yaml, read from the source tree)
// on synthetic traffic with realistic timing: for every rule that raises an
// alarm, the attack it is written for and a benign look-alike that must stay
// quiet (a user mistyping a password, a PBX's keepalives, a re-registration
// storm, a call cancelled by its caller, a long call, a regular international
// caller, ...).
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "rules_test_util.h"
#include "sipwarden/events/pipeline.h"
#include "sipwarden/sip/sip_message.h"

namespace sw::rules::testing {
namespace {

std::string ReadFile(const char* path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const std::string& DefaultYaml() {
  static const std::string* yaml = new std::string(ReadFile(SW_DEFAULT_RULES_FILE));
  return *yaml;
}

// 02:00:00Z on the test day (kT0 is 01:46:40Z): calendar rules fire on hours.
constexpr int64_t kHour = 3600 * kS;
constexpr int64_t kMin = 60 * kS;
constexpr int64_t k0200 = kT0 + 800 * kS;

// A SIP request as a UA sends it. REGISTERs carry no user in the Request-URI.
ev::SipEvent Request(std::string_view method, int64_t t, std::string_view src, std::string_view dst,
                     std::string_view call_id, std::string_view from, std::string_view to,
                     uint32_t cseq = 1) {
  Sip s(method);
  s.At(t).Src(src).Dst(dst).Call(call_id).From(from, "tag-" + std::string(from)).To(to);
  s.e.cseq = cseq;
  s.e.via_hosts = {std::string(src)};
  s.e.user_agent = "Yealink SIP-T46S 66.86.0.15";
  if (method == "REGISTER") {
    s.e.request_uri = "sip:example.com";
    s.e.request_user.clear();
    s.e.expires = 3600;
    s.e.has_expires = true;
  }
  return s.e;
}

ev::SipEvent WithAuth(ev::SipEvent e, std::string_view user) {
  e.auth_user = std::string(user);
  e.has_auth = true;
  return e;
}

// The answer to a request, sent back along its path.
ev::SipEvent Response(const ev::SipEvent& req, int status, int64_t t) {
  ev::SipEvent r = req;
  r.is_request = false;
  r.status = status;
  r.method = req.method;
  r.cseq_method = req.method;
  std::swap(r.flow.src, r.flow.dst);
  std::swap(r.flow.sport, r.flow.dport);
  r.flow.ts_ns = t;
  r.has_auth = false;
  r.auth_user.clear();
  r.sdp.reset();
  r.user_agent = "Kamailio (5.7.4 (x86_64/linux))";
  if (status > 100 && r.to.tag.empty()) r.to.tag = "totag-" + req.call_id;
  return r;
}

ev::CallRecord Cdr(std::string_view caller, std::string_view callee, std::string_view caller_ip,
                   int64_t start, double billable, ev::Disposition d = ev::Disposition::kAnswered) {
  static int n = 0;
  ev::CallRecord c;
  c.call_id = "cdr-" + std::to_string(++n);
  c.caller.user = std::string(caller);
  c.caller.uri = "sip:" + c.caller.user + "@example.com";
  c.callee.user = std::string(callee);
  c.callee.uri = "sip:" + c.callee.user + "@example.com";
  c.caller_ip = Ip(caller_ip);
  c.start_ns = start;
  c.setup_ms = 4000;
  c.disposition = d;
  c.status = d == ev::Disposition::kAnswered ? 200 : 486;
  if (d == ev::Disposition::kAnswered) {
    c.answer_ns = start + 4 * kS;
    c.end_ns = c.answer_ns + static_cast<int64_t>(billable * 1e9);
    c.billable_s = billable;
    c.ended_by = "bye";
  } else {
    c.end_ns = start + 4 * kS;
    c.ended_by = "response";
  }
  c.duration_s = static_cast<double>(c.end_ns - c.start_ns) / 1e9;
  return c;
}

ev::RtpEvent MediaAfterEnd(int64_t t, std::string_view src, uint16_t sport, std::string_view dst,
                           uint16_t dport, std::string_view owner) {
  ev::RtpEvent r = Rtp(t, src, sport, dst, dport, "media_after_end");
  r.owner = std::string(owner);
  r.payload_type = 8;
  return r;
}

class DefaultRules : public ::testing::Test {
 protected:
  DefaultRules() : h(DefaultYaml()) {}

  // Whatever a test fed: an alarm raised together with a block or rate limit
  // of its rule accuses the address that verdict acts on (src_ip), never a
  // bystander or the victim.
  void TearDown() override {
    for (const auto& a : h.NewAlarms()) {
      for (const auto& b : h.blocks) {
        if (b.rule == a.rule && b.ts_ns == a.ts_ns) {
          EXPECT_TRUE(b.prefix.Contains(a.src))
              << a.rule << ": alarm src_ip " << a.src.ToString() << " but blocks "
              << b.prefix.ToString();
        }
      }
      for (const auto& l : h.limits) {
        if (l.rule == a.rule && l.ts_ns == a.ts_ns) {
          EXPECT_TRUE(l.prefix.Contains(a.src))
              << a.rule << ": alarm src_ip " << a.src.ToString() << " but limits "
              << l.prefix.ToString();
        }
      }
    }
  }

  // New alarms (not updates) of one rule.
  std::vector<Alarm> Raised(std::string_view rule) const {
    std::vector<Alarm> v;
    for (const auto& a : h.NewAlarms()) {
      if (a.rule == rule) v.push_back(a);
    }
    return v;
  }
  // The rules that raised an alarm.
  std::set<std::string> RulesRaised() const {
    std::set<std::string> s;
    for (const auto& a : h.NewAlarms()) s.insert(a.rule);
    return s;
  }
  std::string Describe() const {
    std::string s;
    for (const auto& a : h.NewAlarms()) s += "\n  " + a.rule + ": " + a.signature;
    return s.empty() ? " none" : s;
  }
  bool Blocked(std::string_view ip) const {
    return std::any_of(h.blocks.begin(), h.blocks.end(), [&](const BlockVerdict& b) {
      return b.prefix.ToString() == std::string(ip) + "/32";
    });
  }

  // One request and its final answer 20 ms later.
  void Transact(const ev::SipEvent& req, int status) {
    h.Feed(req);
    h.Feed(Response(req, status, req.flow.ts_ns + 20 * kMs));
  }
  // A phone registering: challenged, then its credentials accepted (or not).
  void Login(int64_t t, std::string_view src, std::string_view user, bool ok = true,
             std::string_view call_id = "") {
    const std::string id = call_id.empty() ? "reg-" + std::string(user) + "@" + std::string(src)
                                           : std::string(call_id);
    Transact(Request("REGISTER", t, src, kRegistrar, id, user, user, 1), 401);
    Transact(WithAuth(Request("REGISTER", t + 100 * kMs, src, kRegistrar, id, user, user, 2), user),
             ok ? 200 : 403);
  }
  // A call set up and (if answered) acknowledged.
  void PlaceCall(int64_t t, std::string_view src, std::string_view dst, std::string_view id,
                 std::string_view from, std::string_view to, bool ack = true) {
    h.Feed(Request("INVITE", t, src, dst, id, from, to));
    h.Feed(Response(Request("INVITE", t, src, dst, id, from, to), 180, t + 200 * kMs));
    h.Feed(Response(Request("INVITE", t, src, dst, id, from, to), 200, t + 2 * kS));
    if (ack) h.Feed(Request("ACK", t + 2 * kS + 60 * kMs, src, dst, id, from, to));
  }

  // One password guess: an authenticated REGISTER refused.
  void Guess(int64_t at, std::string_view src, std::string_view user, int n, int status = 403) {
    const std::string id =
        "guess-" + std::string(src) + "-" + std::string(user) + "-" + std::to_string(n);
    Transact(WithAuth(Request("REGISTER", at, src, kRegistrar, id, user, user, 2), user), status);
  }

  static constexpr char kRegistrar[] = "198.51.100.1";
  Harness h;
};

// ---- the file itself ----

TEST(DefaultRuleFile, LoadsAndUsesOnlyInterfaceCategories) {
  std::vector<ConfigError> errors;
  auto rs = LoadRuleFile(SW_DEFAULT_RULES_FILE, &errors);
  for (const auto& e : errors) ADD_FAILURE() << e.ToString();
  ASSERT_TRUE(rs.ok()) << rs.status();
  EXPECT_GE((*rs)->size(), 40u);
  const std::string yaml = DefaultYaml();
  for (std::string_view cat :
       {"flood", "scan", "enumeration", "bruteforce", "teardown", "handshake", "cancel", "spit",
        "toll-fraud", "gateway", "scanner-signature", "audit-missing"}) {
    EXPECT_NE(yaml.find("category: " + std::string(cat)), std::string::npos) << cat;
  }
}

// Every alarm of the shipped rules names the accused as src_ip: where an
// action list blocks or rate-limits, its alarm's src (default ${src_ip}) is
// the verdict's target (default ${src_ip}); a port may follow the address.
TEST(DefaultRuleFile, EveryAlarmAccusesWhomItsRuleActsOn) {
  const YAML::Node root = YAML::LoadFile(SW_DEFAULT_RULES_FILE);
  int alarms = 0, checked = 0;
  auto host = [](std::string t) {
    for (std::string_view port : {":${src_port}", ":${first.src_port}"}) {
      if (t.size() > port.size() && t.compare(t.size() - port.size(), port.size(), port) == 0) {
        t.resize(t.size() - port.size());
      }
    }
    return t;
  };
  for (const auto& rule : root["rules"]) {
    for (const char* list : {"actions", "actions2"}) {
      if (!rule[list] || !rule[list].IsSequence()) continue;
      std::vector<std::string> accused, targets;
      for (const auto& act : rule[list]) {
        if (!act.IsMap()) continue;
        if (act["alarm"]) {
          ++alarms;
          accused.push_back(
              host(act["alarm"]["src"] ? act["alarm"]["src"].as<std::string>() : "${src_ip}"));
        }
        for (const char* verdict : {"block", "rate_limit"}) {
          if (!act[verdict]) continue;
          const YAML::Node v = act[verdict];
          targets.push_back(v.IsMap() && v["target"] ? v["target"].as<std::string>()
                                                     : "${src_ip}");
        }
      }
      for (const auto& who : accused) {
        for (const auto& t : targets) {
          ++checked;
          EXPECT_EQ(who, t) << rule["name"].as<std::string>() << " " << list
                            << ": the alarm accuses " << who << " but the rule acts on " << t;
        }
      }
    }
  }
  EXPECT_GE(alarms, 30);
  EXPECT_GE(checked, 15);
  std::cout << alarms << " alarms in the default rules, " << checked
            << " checked against their rule's block or rate limit\n";
}

TEST(DefaultRuleFile, EveryRuleIsDocumented) {
  const std::string doc = ReadFile(SW_DEFAULT_RULES_DOC);
  ASSERT_FALSE(doc.empty()) << SW_DEFAULT_RULES_DOC;
  auto rs = LoadRuleFile(SW_DEFAULT_RULES_FILE);
  ASSERT_TRUE(rs.ok());
  for (const auto& name : (*rs)->names()) {
    EXPECT_NE(doc.find("### `" + name + "`"), std::string::npos)
        << name << " has no section in docs/default-rules.md";
  }
}

// ---- known scanner signatures ----

TEST_F(DefaultRules, ScannerUserAgentIsBlocked) {
  auto probe = Request("OPTIONS", kT0, "7.17.254.165", "152.28.49.156", "sv-1", "100", "100");
  probe.user_agent = "friendly-scanner";
  h.Feed(probe);
  probe.flow.ts_ns += 5 * kS;  // the next probe: one alarm per source, counted
  h.Feed(probe);
  auto other =
      Request("OPTIONS", kT0 + 9 * kS, "27.164.15.39", "152.28.49.156", "zk", "100", "100");
  other.user_agent = "Zeeko";
  h.Feed(other);
  auto inv = Request("INVITE", kT0 + 20 * kS, "40.129.198.250", "157.147.97.20", "sc", "200",
                     "011972599501806");
  inv.user_agent = "sipcli/v1.8";
  h.Feed(inv);
  // A first offence of an unproven source: a short block (5 min).
  const auto a = Raised("scanner-first");
  ASSERT_EQ(a.size(), 3u) << Describe();
  EXPECT_EQ(a[0].category, "scanner-signature");
  EXPECT_EQ(a[0].severity, 1);
  EXPECT_EQ(a[0].src.ToString(), "7.17.254.165");
  EXPECT_EQ(a[0].action, AlarmOutcome::kBlocked);
  EXPECT_NE(a[0].signature.find("'friendly-scanner'"), std::string::npos) << a[0].signature;
  EXPECT_EQ(a[0].user_agent, "friendly-scanner");
  EXPECT_EQ(a[0].method, "OPTIONS");
  EXPECT_EQ(a[1].src.ToString(), "27.164.15.39");
  EXPECT_EQ(a[2].src.ToString(), "40.129.198.250");
  EXPECT_TRUE(Blocked("7.17.254.165") && Blocked("27.164.15.39") && Blocked("40.129.198.250"));
  ASSERT_EQ(h.blocks.size(), 3u);  // the second probe, 5 s later, is no new offence
  EXPECT_EQ(h.blocks[0].ttl_ns, 5 * kMin);
  EXPECT_EQ(h.blocks[0].reason, "scanner-signature");
}

TEST_F(DefaultRules, ScannerComingBackEscalates) {
  auto probe = Request("OPTIONS", kT0, "7.17.254.165", "152.28.49.156", "sv-1", "100", "100");
  probe.user_agent = "friendly-scanner";
  auto at = [&](int64_t t) {
    probe.flow.ts_ns = t;
    h.Feed(probe);
  };
  at(kT0);                // 5 min
  at(kT0 + 2 * kS);       // slipped through while the block was installed: nothing new
  at(kT0 + 6 * kMin);     // back after the block: 1 h
  at(kT0 + 90 * kMin);    // back again: 1 day
  at(kT0 + 3 * kHour);    // still inside the day's block: nothing new
  ASSERT_EQ(h.blocks.size(), 3u) << Describe();
  EXPECT_EQ(h.blocks[0].ttl_ns, 5 * kMin);
  EXPECT_EQ(h.blocks[1].ttl_ns, kHour);
  EXPECT_EQ(h.blocks[2].ttl_ns, 24 * kHour);
  EXPECT_EQ(Raised("scanner-first").size(), 1u);
  EXPECT_EQ(Raised("scanner-repeat").size(), 1u);
  EXPECT_EQ(Raised("scanner-persistent").size(), 1u);
}

TEST_F(DefaultRules, SpoofedScannerPacketWithARegisteredPeersAddressIsNotBlocked) {
  // 192.0.2.10 registered (it answered the registrar's challenge); then one
  // datagram claiming to come from it carries a scanner's User-Agent.
  Login(kT0, "192.0.2.10", "alice");
  auto forged = Request("OPTIONS", kT0 + kMin, "192.0.2.10", kRegistrar, "forged", "100", "100");
  forged.user_agent = "friendly-scanner";
  h.Feed(forged);
  const auto a = Raised("scanner-spared");
  ASSERT_EQ(a.size(), 1u) << Describe();
  EXPECT_EQ(a[0].action, AlarmOutcome::kAllowed);
  EXPECT_EQ(a[0].src.ToString(), "192.0.2.10");
  EXPECT_TRUE(h.blocks.empty()) << Describe();
}

TEST_F(DefaultRules, ScannerSignatureFromAPartyToADialogIsNotBlocked) {
  PlaceCall(kT0, "192.0.2.30", "192.0.2.20", "dialog-1", "carol", "bob");  // ACKed
  auto forged = Request("OPTIONS", kT0 + kMin, "192.0.2.30", kRegistrar, "forged", "100", "100");
  forged.user_agent = "sipvicious";
  h.Feed(forged);
  EXPECT_EQ(Raised("scanner-spared").size(), 1u) << Describe();
  EXPECT_TRUE(h.blocks.empty()) << Describe();
}

TEST_F(DefaultRules, ScannerAnsweringAChallengeIsBlockedAnHourAtOnce) {
  auto crack = WithAuth(
      Request("REGISTER", kT0, "203.0.113.77", kRegistrar, "crack", "100", "100", 2), "100");
  crack.user_agent = "friendly-scanner";
  h.Feed(crack);
  const auto a = Raised("scanner-proven");
  ASSERT_EQ(a.size(), 1u) << Describe();
  ASSERT_EQ(h.blocks.size(), 1u);
  EXPECT_EQ(h.blocks[0].ttl_ns, kHour);
  EXPECT_TRUE(Raised("scanner-first").empty());
}

TEST_F(DefaultRules, OrdinaryUserAgentsAreNotScanners) {
  const char* uas[] = {"Yealink SIP-T46S 66.86.0.15",
                       "Zoiper rv2.10.3.2",
                       "MicroSIP/3.14.5",
                       "Cisco v11.0.0",
                       "Asterisk PBX 18.12.0",
                       "Linphone/5.2.0 (belle-sip/5.2.0)",
                       "OmniPCX Enterprise R11.2.2",
                       "FreeSWITCH-mod_sofia/1.10.9"};
  int i = 0;
  for (const char* ua : uas) {
    auto r = Request("OPTIONS", kT0 + i * kS, "192.0.2." + std::to_string(10 + i), kRegistrar,
                     "ua-" + std::to_string(i), "alice", "bob");
    r.user_agent = ua;
    Transact(r, 200);
    ++i;
  }
  h.Advance(kT0 + kHour);
  EXPECT_TRUE(h.NewAlarms().empty()) << Describe();
}

TEST_F(DefaultRules, ScannerSdpSessionBehindAChangedUserAgent) {
  auto inv =
      Request("INVITE", kT0, "37.8.44.2", "157.147.97.20", "sdp-1", "200", "011972599501806");
  inv.user_agent = "Grandstream GXP2160";  // lying
  inv.sdp.emplace();
  inv.sdp->owner = "sipcli-Session";
  inv.sdp->session = "sipcli";
  inv.sdp->conn = "37.8.44.2";
  inv.sdp->media.push_back({"audio", 14838, "RTP/AVP", "", {18, 0, 8, 101}});
  h.Feed(inv);
  const auto a = Raised("scanner-first");
  ASSERT_EQ(a.size(), 1u) << Describe();
  EXPECT_EQ(a[0].category, "scanner-signature");
  EXPECT_NE(a[0].signature.find("SDP (s=sipcli"), std::string::npos) << a[0].signature;
  EXPECT_TRUE(Blocked("37.8.44.2"));
  // With its own User-Agent the scanner raises one alarm, not two.
  Harness again(DefaultYaml());
  inv.user_agent = "sipcli/v1.8";
  again.Feed(inv);
  ASSERT_EQ(again.NewAlarms().size(), 1u);
  EXPECT_EQ(again.NewAlarms()[0].rule, "scanner-first");
  EXPECT_NE(again.NewAlarms()[0].signature.find("'sipcli/v1.8'"), std::string::npos);
}

TEST_F(DefaultRules, OrdinarySdpSessionNames) {
  const char* sessions[] = {"-", "Talk", "SIP Call", "Asterisk PBX 18.12.0", "session"};
  int i = 0;
  for (const char* s : sessions) {
    auto inv = Request("INVITE", kT0 + i * 10 * kS, "192.0.2.10", kRegistrar,
                       "s-" + std::to_string(i), "alice", "bob");
    inv.sdp.emplace();
    inv.sdp->session = s;
    inv.sdp->owner = i % 2 ? "-" : "root";
    inv.sdp->conn = "192.0.2.10";
    inv.sdp->media.push_back({"audio", 40000, "RTP/AVP", "", {0}});
    Transact(inv, 486);
    ++i;
  }
  EXPECT_TRUE(h.NewAlarms().empty()) << Describe();
}

// ---- request flooding ----

TEST_F(DefaultRules, InviteFloodFromOneSource) {
  for (int i = 0; i < 60; ++i) {  // 12 per second
    h.Feed(Request("INVITE", kT0 + i * 83 * kMs, "203.0.113.66", kRegistrar,
                   "fl-" + std::to_string(i), "a", "100" + std::to_string(i % 7)));
  }
  const auto a = Raised("invite-flood-source");
  ASSERT_EQ(a.size(), 1u) << Describe();
  EXPECT_EQ(a[0].category, "flood");
  EXPECT_EQ(a[0].src.ToString(), "203.0.113.66");
  EXPECT_TRUE(Blocked("203.0.113.66"));
  EXPECT_EQ(h.blocks[0].ttl_ns, 10 * kMin);
}

// A SIP request with one realistic corruption (kind 0..7), as a fuzzer or
// a flooding tool sends it to `to`.
std::string Corrupted(int kind, std::string_view to, int n) {
  const std::string id = "fz-" + std::to_string(n) + "@203.0.113.66";
  std::string via = "Via: SIP/2.0/UDP 203.0.113.66:5070;branch=z9hG4bK-" + std::to_string(n);
  std::string from = "From: <sip:attacker@203.0.113.66>;tag=fz" + std::to_string(n);
  std::string to_h = "To: <sip:" + std::string(to) + "@198.51.100.1>";
  std::string call = "Call-ID: " + id;
  std::string cseq = "CSeq: 1 INVITE";
  std::string mf = "Max-Forwards: 70";
  std::string cl = "Content-Length: 0";
  std::string extra;
  switch (kind) {
    case 0: cl = "Content-Length: 400"; break;                // beyond the (empty) body
    case 1: cseq = "CSeq: -1 INVITE"; break;                  // negative
    case 2: to_h = "To: <sip:" + std::string(to) + "@198.51.100.1"; break;  // unclosed
    case 3: call = "Call-ID: fz" + std::string(1, '\0') + id; break;        // a NUL
    case 4: mf = "Max-Forwards: 70000000000"; break;          // 11 digits
    case 5: from = "From: <sip:attacker@@203.0.113.66>;tag=x"; break;  // broken URI
    case 6: extra = "CSeq: 2 INVITE\r\n"; break;              // a second CSeq
    case 7: via = "Via: SIP/2.0/UDP " + std::string(300, 'a') + ":5070;;branch=";  // a broken Via
            break;
  }
  return "INVITE sip:" + std::string(to) + "@198.51.100.1 SIP/2.0\r\n" + via + "\r\n" + mf +
         "\r\n" + from + "\r\n" + to_h + "\r\n" + call + "\r\n" + cseq + "\r\n" + extra +
         "User-Agent: fuzz\r\n" + cl + "\r\n\r\n";
}

// The event of a message the parser refuses, as the pipeline makes it.
ev::SipEvent Refused(const std::string& bytes, int64_t t, std::string_view src,
                     std::string_view dst) {
  sip::SipMessage m;
  const sip::ParseError err = sip::ParseSipInto(bytes, {}, &m);
  EXPECT_NE(err.reason, sip::Reason::kOk) << bytes;
  ev::Flow f;
  f.ts_ns = t;
  f.src = *IpAddress::Parse(src);
  f.dst = *IpAddress::Parse(dst);
  f.sport = 5070;
  f.dport = 5060;
  return ev::MakeMalformedSipEvent(bytes, err, {}, f);
}

TEST_F(DefaultRules, MalformedFloodFromOneSource) {
  for (int i = 0; i < 60; ++i) {  // 20 per second, one kind of breakage
    h.Feed(Refused(Corrupted(1, "100", i), kT0 + i * 50 * kMs, "203.0.113.66", kRegistrar));
  }
  const auto a = Raised("malformed-flood-source");
  ASSERT_EQ(a.size(), 1u) << Describe();
  EXPECT_EQ(a[0].category, "malformed");
  EXPECT_EQ(a[0].src.ToString(), "203.0.113.66");
  EXPECT_TRUE(Blocked("203.0.113.66"));
  EXPECT_EQ(h.blocks[0].reason, "malformed");
  // Only the malformed rules saw them: no INVITE flood, no fuzzing (one reason).
  EXPECT_EQ(RulesRaised(), std::set<std::string>{"malformed-flood-source"}) << Describe();
}

TEST_F(DefaultRules, PhoneWithABrokenStackIsNoMalformedFlood) {
  for (int i = 0; i < 20; ++i) {  // its INVITE refused every 30 s for 10 min
    h.Feed(Refused(Corrupted(0, "100", i), kT0 + i * 30 * kS, "192.0.2.77", kRegistrar));
  }
  h.Advance(kT0 + 15 * kMin);
  EXPECT_TRUE(h.NewAlarms().empty()) << Describe();
}

TEST_F(DefaultRules, FuzzingWithManyKindsOfBreakage) {
  for (int i = 0; i < 8; ++i) {  // one of each, 2 s apart
    h.Feed(Refused(Corrupted(i, "100", i), kT0 + i * 2 * kS, "203.0.113.67", kRegistrar));
  }
  const auto a = Raised("malformed-fuzzing");
  ASSERT_EQ(a.size(), 1u) << Describe();
  EXPECT_EQ(a[0].category, "malformed");
  EXPECT_EQ(a[0].src.ToString(), "203.0.113.67");
  EXPECT_TRUE(Blocked("203.0.113.67"));
  EXPECT_TRUE(Raised("malformed-flood-source").empty());
}

TEST_F(DefaultRules, OneRepeatedMalformationIsNoFuzzing) {
  for (int i = 0; i < 40; ++i) {  // 40 copies of one mistake in 40 s
    h.Feed(Refused(Corrupted(5, "100", i), kT0 + i * kS, "192.0.2.78", kRegistrar));
  }
  h.Advance(kT0 + 5 * kMin);
  EXPECT_TRUE(h.NewAlarms().empty()) << Describe();
}

TEST_F(DefaultRules, OversizedHeaderIsAnOverflowAttempt) {
  std::string m = Corrupted(-1, "100", 1);
  m.insert(m.find("User-Agent"), "Subject: " + std::string(9000, 'A') + "\r\n");
  const ev::SipEvent e = Refused(m, kT0, "203.0.113.68", kRegistrar);
  EXPECT_EQ(e.malformed_reason, "header_too_long");
  h.Feed(e);
  h.Feed(Refused(m, kT0 + kS, "203.0.113.68", kRegistrar));  // once per 10 min
  const auto a = Raised("malformed-oversized");
  ASSERT_EQ(a.size(), 1u) << Describe();
  EXPECT_EQ(a[0].category, "malformed");
  EXPECT_EQ(a[0].src.ToString(), "203.0.113.68");
}

TEST_F(DefaultRules, LargeWellFormedInviteIsNoOverflow) {
  std::string sdp = "v=0\r\no=- 1 1 IN IP4 192.0.2.79\r\ns=-\r\nc=IN IP4 192.0.2.79\r\nt=0 0\r\n"
                    "m=audio 4000 RTP/AVP 0 8 101\r\n";
  while (sdp.size() < 3000) sdp += "a=candidate:1 1 UDP 2130706431 192.0.2.79 4000 typ host\r\n";
  std::string m = Corrupted(-1, "100", 2);
  m.replace(m.find("Content-Length: 0"), 17,
            "Content-Type: application/sdp\r\nContent-Length: " + std::to_string(sdp.size()));
  m += sdp;
  sip::SipMessage parsed;
  ASSERT_EQ(sip::ParseSipInto(m, {}, &parsed).reason, sip::Reason::kOk);
  ev::Flow f;
  f.ts_ns = kT0;
  f.src = *IpAddress::Parse("192.0.2.79");
  f.dst = *IpAddress::Parse(kRegistrar);
  h.Feed(ev::MakeSipEvent(parsed, f));
  h.Advance(kT0 + kMin);
  EXPECT_TRUE(h.NewAlarms().empty()) << Describe();
}

TEST_F(DefaultRules, MalformedRequestsToManyUsers) {
  for (int i = 0; i < 12; ++i) {  // one every 20 s, each to another extension
    h.Feed(Refused(Corrupted(1, "20" + std::to_string(i), i), kT0 + i * 20 * kS, "203.0.113.69",
                   kRegistrar));
  }
  const auto a = Raised("malformed-many-users");
  ASSERT_EQ(a.size(), 1u) << Describe();
  EXPECT_EQ(a[0].category, "malformed");
  EXPECT_EQ(a[0].src.ToString(), "203.0.113.69");
}

TEST_F(DefaultRules, OnePhoneRefusedTenTimesIsNoProbe) {
  for (int i = 0; i < 10; ++i) {
    h.Feed(Refused(Corrupted(1, "300", i), kT0 + i * 20 * kS, "192.0.2.80", kRegistrar));
  }
  h.Advance(kT0 + 10 * kMin);
  EXPECT_TRUE(h.NewAlarms().empty()) << Describe();
}

TEST_F(DefaultRules, BusyTrunkPlacingOneCallPerSecondIsNoFlood) {
  for (int i = 0; i < 120; ++i) {
    PlaceCall(kT0 + i * kS, "192.0.2.200", kRegistrar, "trunk-" + std::to_string(i), "pbx",
              "555" + std::to_string(1000 + i));
  }
  h.Advance(kT0 + 10 * kMin);
  EXPECT_TRUE(h.NewAlarms().empty()) << Describe();
}

TEST_F(DefaultRules, RegisteredPeerPlacingTenCallsASecondIsNoFlood) {
  Login(kT0, "192.0.2.210", "ext100");  // a PBX with users registered
  for (int i = 0; i < 600; ++i) {        // a minute at 10 calls/s, each INVITE twice
    const int64_t t = kT0 + kMin + i * 100 * kMs;
    const std::string id = "pbx-" + std::to_string(i);
    h.Feed(Request("INVITE", t, "192.0.2.210", kRegistrar, id, "ext100", "555" + std::to_string(i)));
    h.Feed(Request("INVITE", t + 5 * kMs, "192.0.2.210", kRegistrar, id, "ext100",
                   "555" + std::to_string(i)));
  }
  EXPECT_TRUE(Raised("invite-flood-source").empty()) << Describe();
  EXPECT_TRUE(Raised("invite-flood-peer").empty()) << Describe();
  EXPECT_TRUE(h.blocks.empty());
}

TEST_F(DefaultRules, InviteFloodFromARegisteredPeerIsRateLimited) {
  Login(kT0, "192.0.2.211", "ext101");
  for (int i = 0; i < 800; ++i) {  // 100 per second: an abused account
    h.Feed(Request("INVITE", kT0 + kMin + i * 10 * kMs, "192.0.2.211", kRegistrar,
                   "ab-" + std::to_string(i), "ext101", "900" + std::to_string(i)));
  }
  const auto a = Raised("invite-flood-peer");
  ASSERT_EQ(a.size(), 1u) << Describe();
  EXPECT_EQ(a[0].category, "flood");
  EXPECT_TRUE(Raised("invite-flood-source").empty());
  ASSERT_FALSE(h.limits.empty());
  EXPECT_EQ(h.limits[0].prefix.ToString(), "192.0.2.211/32");
  EXPECT_EQ(h.limits[0].rate, 30.0);
  EXPECT_TRUE(h.blocks.empty());
}

TEST_F(DefaultRules, InviteFloodAgainstOneTarget) {
  for (int i = 0; i < 120; ++i) {  // a botnet: every bot sends one INVITE
    h.Feed(Request("INVITE", kT0 + i * 50 * kMs, "203.0.113." + std::to_string(i + 1), kRegistrar,
                   "bot-" + std::to_string(i), "bot", "ceo"));
  }
  const auto a = Raised("invite-flood-target");
  ASSERT_EQ(a.size(), 1u) << Describe();
  EXPECT_EQ(a[0].category, "flood");
  EXPECT_TRUE(Raised("invite-flood-source").empty());
  EXPECT_TRUE(h.blocks.empty());  // many sources: nothing one block would stop
}

TEST_F(DefaultRules, CallCentreNumberReceivingManyCallsIsNoFlood) {
  for (int i = 0; i < 300; ++i) {  // 5 calls a second to the hotline for a minute
    PlaceCall(kT0 + i * 200 * kMs, "192.0.2." + std::to_string(1 + i % 250), kRegistrar,
              "hot-" + std::to_string(i), "caller" + std::to_string(i), "hotline");
  }
  h.Advance(kT0 + 10 * kMin);
  EXPECT_TRUE(h.NewAlarms().empty()) << Describe();
}

TEST_F(DefaultRules, RegisterFloodFromAnUnknownSource) {
  for (int i = 0; i < 150; ++i) {  // 30 per second, answered 401
    Transact(Request("REGISTER", kT0 + i * 33 * kMs, "203.0.113.77", kRegistrar,
                     "rf-" + std::to_string(i), "u" + std::to_string(i), "u" + std::to_string(i)),
             401);
  }
  const auto a = Raised("register-flood-source");
  ASSERT_EQ(a.size(), 1u) << Describe();
  EXPECT_EQ(a[0].src.ToString(), "203.0.113.77");
  EXPECT_TRUE(Blocked("203.0.113.77"));
}

// Before the outage 300 phones behind an SBC registered; when the registrar
// comes back they all re-register within 30 s, each challenged once.
TEST_F(DefaultRules, ReRegisterStormFromAKnownPeerIsQuiet) {
  for (int i = 0; i < 300; ++i) {
    Login(kT0 + i * 10 * kS, "203.0.113.10", "ext" + std::to_string(100 + i));
  }
  const int64_t back = kT0 + 3000 * kS + 10 * kMin;  // the registrar is back
  for (int i = 0; i < 300; ++i) {
    Login(back + i * 100 * kMs, "203.0.113.10", "ext" + std::to_string(100 + i), true,
          "storm-" + std::to_string(i));
  }
  h.Advance(back + kHour);
  EXPECT_TRUE(h.NewAlarms().empty()) << Describe();
  EXPECT_TRUE(h.blocks.empty() && h.limits.empty());
}

TEST_F(DefaultRules, StaleNonceStormFromANatRecovers) {
  // Every phone's re-REGISTER carries credentials with the old nonce: 401
  // (stale), then the new nonce's credentials succeed.
  for (int i = 0; i < 300; ++i) {
    const std::string user = "ext" + std::to_string(100 + i);
    const std::string id = "stale-" + std::to_string(i);
    const int64_t t = kT0 + i * 100 * kMs;
    Transact(WithAuth(Request("REGISTER", t, "203.0.113.10", kRegistrar, id, user, user, 7), user),
             401);
    Transact(
        WithAuth(Request("REGISTER", t + 50 * kMs, "203.0.113.10", kRegistrar, id, user, user, 8),
                 user),
        200);
  }
  h.Advance(kT0 + kHour);
  EXPECT_TRUE(h.NewAlarms().empty()) << Describe();
}

TEST_F(DefaultRules, RegisterFloodFromARegisteredPeerIsRateLimited) {
  Login(kT0, "203.0.113.10", "ext100");  // a known peer
  for (int i = 0; i < 1200; ++i) {       // 200 per second: a looping SBC or an abuser
    h.Feed(Request("REGISTER", kT0 + kMin + i * 5 * kMs, "203.0.113.10", kRegistrar,
                   "loop-" + std::to_string(i), "ext" + std::to_string(i % 500),
                   "ext" + std::to_string(i % 500)));
  }
  const auto a = Raised("register-flood-peer");
  ASSERT_EQ(a.size(), 1u) << Describe();
  EXPECT_TRUE(Raised("register-flood-source").empty());
  ASSERT_FALSE(h.limits.empty());
  EXPECT_EQ(h.limits[0].prefix.ToString(), "203.0.113.10/32");
  EXPECT_EQ(h.limits[0].rate, 100.0);
  EXPECT_TRUE(h.blocks.empty());
}

TEST_F(DefaultRules, RegisterFloodForOneUser) {
  for (int i = 0; i < 60; ++i) {  // one AOR hammered from a few addresses
    Transact(Request("REGISTER", kT0 + i * 150 * kMs, "203.0.113." + std::to_string(1 + i % 3),
                     kRegistrar, "one-" + std::to_string(i), "1000", "1000"),
             401);
  }
  const auto a = Raised("register-flood-target");
  ASSERT_EQ(a.size(), 1u) << Describe();
  EXPECT_NE(a[0].signature.find("'1000'"), std::string::npos);
}

TEST_F(DefaultRules, UserWithThreeDevicesRegistering) {
  for (int round = 0; round < 4; ++round) {  // each device every 15 minutes
    for (int d = 0; d < 3; ++d) {
      Login(kT0 + round * 15 * kMin + d * 20 * kS, "192.0.2." + std::to_string(20 + d), "1000",
            true, "dev" + std::to_string(d) + "-" + std::to_string(round));
    }
  }
  h.Advance(kT0 + 2 * kHour);
  EXPECT_TRUE(h.NewAlarms().empty()) << Describe();
}

TEST_F(DefaultRules, OptionsFloodFromOneSource) {
  for (int i = 0; i < 250; ++i) {
    h.Feed(Request("OPTIONS", kT0 + i * 20 * kMs, "203.0.113.88", kRegistrar,
                   "of-" + std::to_string(i), "x", "y"));
  }
  const auto a = Raised("options-flood-source");
  ASSERT_EQ(a.size(), 1u) << Describe();
  EXPECT_TRUE(Blocked("203.0.113.88"));
}

TEST_F(DefaultRules, PbxKeepalivesToItsTrunksAreQuiet) {
  // Every 2 s to each of 4 trunks (120 OPTIONS a minute), answered, for an hour.
  const char* trunks[] = {"198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4"};
  int n = 0;
  for (int64_t t = kT0; t < kT0 + kHour; t += 2 * kS) {
    for (const char* trunk : trunks) {
      Transact(
          Request("OPTIONS", t, "192.0.2.200", trunk, "ka-" + std::to_string(n++), "pbx", "trunk"),
          200);
    }
  }
  h.Advance(kT0 + 2 * kHour);
  EXPECT_TRUE(h.NewAlarms().empty()) << Describe();
}

TEST_F(DefaultRules, OptionsFloodAgainstOneServer) {
  for (int i = 0; i < 1100; ++i) {  // 1100 OPTIONS in 5.5 s from 200 addresses
    h.Feed(Request("OPTIONS", kT0 + i * 5 * kMs, "203.0.113." + std::to_string(1 + i % 200),
                   kRegistrar, "oft-" + std::to_string(i), "x", "y"));
  }
  const auto a = Raised("options-flood-target");
  ASSERT_EQ(a.size(), 1u) << Describe();
  EXPECT_EQ(a[0].dst.ToString(), kRegistrar);
}

TEST_F(DefaultRules, ManyPbxKeepalivesToOneServerAreQuiet) {
  // 500 customers' PBXs, each pinging every 30 s (about 17 a second).
  int n = 0;
  for (int64_t t = kT0; t < kT0 + 5 * kMin; t += 30 * kS) {
    for (int p = 0; p < 500; ++p) {
      Transact(Request("OPTIONS", t + p * 60 * kMs,
                       "10.1." + std::to_string(p / 250) + "." + std::to_string(1 + p % 250),
                       kRegistrar, "pbx-" + std::to_string(n++), "pbx", "keepalive"),
               200);
    }
  }
  h.Advance(kT0 + kHour);
  EXPECT_TRUE(h.NewAlarms().empty()) << Describe();
}

// ---- scans and enumeration ----

TEST_F(DefaultRules, HostSweepOfAddressesThatDoNotAnswer) {
  for (int i = 0; i < 30; ++i) {  // svmap over a /24
    h.Feed(Request("OPTIONS", kT0 + i * 100 * kMs, "203.0.113.99",
                   "198.51.100." + std::to_string(10 + i), "sweep-" + std::to_string(i), "100",
                   "100"));
  }
  h.Advance(kT0 + kMin);  // the 32 s answer windows end
  const auto a = Raised("host-sweep");
  ASSERT_EQ(a.size(), 1u) << Describe();
  EXPECT_EQ(a[0].category, "scan");
  EXPECT_EQ(a[0].src.ToString(), "203.0.113.99");
  EXPECT_TRUE(Blocked("203.0.113.99"));
}

TEST_F(DefaultRules, ProxyPingingItsRegisteredContactsIsNoSweep) {
  for (int i = 0; i < 40; ++i) {  // NAT keepalives to 40 phones, all answering
    Transact(
        Request("OPTIONS", kT0 + i * 100 * kMs, kRegistrar, "192.0.2." + std::to_string(10 + i),
                "ping-" + std::to_string(i), "pinger", "ext" + std::to_string(i)),
        200);
  }
  h.Advance(kT0 + kHour);
  EXPECT_TRUE(h.NewAlarms().empty()) << Describe();
}

TEST_F(DefaultRules, ExtensionEnumerationBy404) {
  for (int i = 0; i < 12; ++i) {
    Transact(Request("INVITE", kT0 + i * 2 * kS, "203.0.113.44", kRegistrar,
                     "enum-" + std::to_string(i), "100", std::to_string(200 + i)),
             404);
  }
  const auto a = Raised("enumeration-404");
  ASSERT_EQ(a.size(), 1u) << Describe();
  EXPECT_EQ(a[0].category, "enumeration");
  EXPECT_EQ(a[0].src.ToString(), "203.0.113.44");  // the prober, not the server
  EXPECT_TRUE(Blocked("203.0.113.44"));
}

TEST_F(DefaultRules, MisdialsAreNoEnumeration) {
  for (int i = 0; i < 12; ++i) {  // the same wrong extension again and again
    Transact(Request("INVITE", kT0 + i * 20 * kS, "192.0.2.10", kRegistrar,
                     "mis-" + std::to_string(i), "alice", "2999"),
             404);
  }
  for (int i = 0; i < 5; ++i) {  // and a few other typos
    Transact(Request("INVITE", kT0 + 5 * kMin + i * 30 * kS, "192.0.2.10", kRegistrar,
                     "typo-" + std::to_string(i), "alice", std::to_string(3000 + i)),
             404);
  }
  h.Advance(kT0 + kHour);
  EXPECT_TRUE(h.NewAlarms().empty()) << Describe();
}

TEST_F(DefaultRules, RegisterScanWithoutCredentials) {
  for (int i = 0; i < 12; ++i) {  // svwar: users probed, challenged, never completed
    Transact(
        Request("REGISTER", kT0 + i * 3 * kS, "203.0.113.45", kRegistrar,
                "svwar-" + std::to_string(i), std::to_string(100 + i), std::to_string(100 + i)),
        401);
  }
  h.Advance(kT0 + 5 * kMin);  // the 2-minute recovery windows end
  const auto a = Raised("register-scan");
  ASSERT_EQ(a.size(), 1u) << Describe();
  EXPECT_EQ(a[0].category, "enumeration");
  EXPECT_TRUE(Blocked("203.0.113.45"));
}

TEST_F(DefaultRules, RegistrarDownLeavesPhonesUnansweredButUnsuspected) {
  for (int i = 0; i < 50; ++i) {  // phones behind a NAT retry; nobody answers
    h.Feed(Request("REGISTER", kT0 + i * 2 * kS, "203.0.113.10", kRegistrar,
                   "down-" + std::to_string(i), "ext" + std::to_string(i),
                   "ext" + std::to_string(i)));
  }
  h.Advance(kT0 + kHour);
  EXPECT_TRUE(h.NewAlarms().empty()) << Describe();
}

// ---- password cracking ----

TEST_F(DefaultRules, FastPasswordCrackingOfOneUser) {
  for (int i = 0; i < 12; ++i) Guess(kT0 + i * 2 * kS, "203.0.113.50", "1000", i);
  const auto a = Raised("bruteforce-fast");
  ASSERT_EQ(a.size(), 1u) << Describe();
  EXPECT_EQ(a[0].category, "bruteforce");
  EXPECT_EQ(a[0].src.ToString(), "203.0.113.50");
  EXPECT_TRUE(Blocked("203.0.113.50"));
  EXPECT_EQ(h.blocks[0].ttl_ns, kHour);
}

TEST_F(DefaultRules, UserMistypingThePasswordTwice) {
  const std::string id = "typo@192.0.2.10";
  Transact(Request("REGISTER", kT0, "192.0.2.10", kRegistrar, id, "alice", "alice", 1), 401);
  Transact(
      WithAuth(Request("REGISTER", kT0 + 8 * kS, "192.0.2.10", kRegistrar, id, "alice", "alice", 2),
               "alice"),
      401);
  Transact(WithAuth(Request("REGISTER", kT0 + 17 * kS, "192.0.2.10", kRegistrar, id, "alice",
                            "alice", 3),
                    "alice"),
           403);
  Transact(WithAuth(Request("REGISTER", kT0 + 40 * kS, "192.0.2.10", kRegistrar, id, "alice",
                            "alice", 4),
                    "alice"),
           200);
  h.Advance(kT0 + 26 * kHour);
  EXPECT_TRUE(h.NewAlarms().empty()) << Describe();
  // Nothing unrecovered was counted either.
  const auto names = h.SyntheticNames();
  EXPECT_EQ(std::count(names.begin(), names.end(), "auth-failure"), 0);
}

TEST_F(DefaultRules, PasswordCrackingAcrossUsersFromOneSource) {
  // The corpus attacker's shape: a burst of users, one or two guesses each.
  for (int i = 0; i < 6; ++i) {
    Guess(kT0 + i * 4 * kS, "199.105.226.32", std::to_string(10 + i), 2 * i);
    if (i % 2)
      Guess(kT0 + i * 4 * kS + kS, "199.105.226.32", std::to_string(10 + i), 2 * i + 1, 401);
  }
  EXPECT_TRUE(h.NewAlarms().empty());  // failures may still recover
  h.Advance(kT0 + 3 * kMin);
  const auto a = Raised("bruteforce-source");
  ASSERT_EQ(a.size(), 1u) << Describe();
  EXPECT_EQ(a[0].src.ToString(), "199.105.226.32");
  EXPECT_EQ(a[0].severity, 1);
  EXPECT_TRUE(Blocked("199.105.226.32"));
}

TEST_F(DefaultRules, NatWithAFewMistypedPasswordsIsNoCracking) {
  for (int i = 0; i < 4; ++i) {  // four colleagues behind one NAT, each fumbling once
    const std::string user = "ext" + std::to_string(i);
    Guess(kT0 + i * 5 * kMin, "203.0.113.10", user, i, 401);
    Login(kT0 + i * 5 * kMin + 20 * kS, "203.0.113.10", user, true, "ok-" + user);
  }
  Guess(kT0 + 30 * kMin, "203.0.113.10", "ext9", 9, 403);  // one gives up
  h.Advance(kT0 + 30 * kHour);
  EXPECT_TRUE(h.NewAlarms().empty()) << Describe();
}

TEST_F(DefaultRules, SlowPasswordCrackingOverHours) {
  // One guess every 100 minutes, a new user each time: never 5 in an hour.
  for (int i = 0; i < 12; ++i) {
    Guess(kT0 + i * 100 * kMin, "203.0.113.51", std::to_string(500 + i), i);
  }
  h.Advance(kT0 + 21 * kHour);
  EXPECT_TRUE(Raised("bruteforce-source").empty()) << Describe();
  const auto a = Raised("bruteforce-source-slow");
  ASSERT_EQ(a.size(), 1u) << Describe();
  EXPECT_EQ(a[0].severity, 2);
  EXPECT_TRUE(Blocked("203.0.113.51"));
}

TEST_F(DefaultRules, DevicesWithStalePasswordsOverADayAreNoSlowCracking) {
  // Three devices after a password change fail a few times a day each.
  for (int i = 0; i < 9; ++i) {
    Guess(kT0 + i * 150 * kMin, "203.0.113.10", "ext" + std::to_string(i % 3), i, 403);
  }
  h.Advance(kT0 + 25 * kHour);
  for (const auto& a : h.NewAlarms()) {
    EXPECT_NE(a.rule, "bruteforce-source-slow");
    EXPECT_NE(a.rule, "bruteforce-source");
  }
  EXPECT_TRUE(h.blocks.empty()) << Describe();
}

TEST_F(DefaultRules, PasswordCrackingAgainstOneUserFromSeveralSources) {
  for (int i = 0; i < 24; ++i) {  // 3 sources, 8 guesses each, in 4 minutes
    Guess(kT0 + i * 10 * kS, "203.0.113." + std::to_string(60 + i % 3), "1000", i);
  }
  const auto a = Raised("bruteforce-user");
  ASSERT_EQ(a.size(), 1u) << Describe();
  EXPECT_NE(a[0].signature.find("'1000'"), std::string::npos);
  EXPECT_TRUE(Raised("bruteforce-fast").empty());
}

TEST_F(DefaultRules, DistributedPasswordCrackingOfOneUser) {
  for (int i = 0; i < 6; ++i) {  // six bots, one guess each
    Guess(kT0 + i * 3 * kMin, "203.0.113." + std::to_string(70 + i), "1000", i);
  }
  h.Advance(kT0 + 30 * kMin);
  const auto a = Raised("bruteforce-user-distributed");
  ASSERT_EQ(a.size(), 1u) << Describe();
  EXPECT_EQ(a[0].category, "bruteforce");
}

TEST_F(DefaultRules, RoamingUserWithAnOldPasswordIsNoDistributedCracking) {
  // Office, home and mobile still hold the old password for an hour.
  const char* where[] = {"192.0.2.10", "198.51.100.77", "203.0.113.200"};
  for (int i = 0; i < 6; ++i) Guess(kT0 + i * 10 * kMin, where[i % 3], "1000", i, 401);
  for (int d = 0; d < 3; ++d)
    Login(kT0 + kHour + d * kMin, where[d], "1000", true, "new" + std::to_string(d));
  h.Advance(kT0 + 3 * kHour);
  for (const auto& a : h.NewAlarms()) EXPECT_NE(a.rule, "bruteforce-user-distributed");
  EXPECT_TRUE(h.blocks.empty()) << Describe();
}

TEST_F(DefaultRules, PersistentFailuresOfOneAccountForHours) {
  for (int i = 0; i < 18; ++i) {  // every 10 minutes for 3 hours, never right
    Guess(kT0 + i * 10 * kMin, "203.0.113.52", "1000", i);
  }
  h.Advance(kT0 + 4 * kHour);
  const auto a = Raised("bruteforce-user-persistent");
  ASSERT_EQ(a.size(), 1u) << Describe();
  EXPECT_EQ(a[0].severity, 3);
  EXPECT_EQ(a[0].action, AlarmOutcome::kAllowed);  // could be a device: no block
  EXPECT_TRUE(h.blocks.empty()) << Describe();
}

TEST_F(DefaultRules, DeviceFailingTwiceADayIsNotPersistent) {
  for (int day = 0; day < 3; ++day) {
    for (int k = 0; k < 2; ++k) {
      Guess(kT0 + day * 24 * kHour + k * 8 * kHour, "192.0.2.10", "alice", day * 2 + k, 401);
    }
  }
  h.Advance(kT0 + 4 * 24 * kHour);
  EXPECT_TRUE(h.NewAlarms().empty()) << Describe();
}

// ---- broken handshake flooding ----

TEST_F(DefaultRules, BrokenHandshakeFloodFromOneSource) {
  for (int i = 0; i < 6; ++i) {
    PlaceCall(kT0 + i * 5 * kS, "203.0.113.30", kRegistrar, "bh-" + std::to_string(i), "bot",
              "100" + std::to_string(i), /*ack=*/false);
  }
  h.Advance(kT0 + kMin);
  const auto a = Raised("handshake-flood-source");
  ASSERT_EQ(a.size(), 1u) << Describe();
  EXPECT_EQ(a[0].category, "handshake");
  EXPECT_EQ(a[0].src.ToString(), "203.0.113.30");
  EXPECT_TRUE(Blocked("203.0.113.30"));
}

TEST_F(DefaultRules, AcknowledgedCallsAndOneLostAckAreQuiet) {
  for (int i = 0; i < 60; ++i) {
    PlaceCall(kT0 + i * kS, "192.0.2.200", kRegistrar, "ok-" + std::to_string(i), "pbx",
              "555" + std::to_string(i), /*ack=*/i != 17);
  }
  // The ACK of a 200 retransmitted after a loss still comes within 5 s.
  h.Feed(Request("INVITE", kT0 + 2 * kMin, "192.0.2.11", kRegistrar, "late", "bob", "carol"));
  h.Feed(
      Response(Request("INVITE", kT0 + 2 * kMin, "192.0.2.11", kRegistrar, "late", "bob", "carol"),
               200, kT0 + 2 * kMin + 3 * kS));
  h.Feed(Request("ACK", kT0 + 2 * kMin + 7500 * kMs, "192.0.2.11", kRegistrar, "late", "bob",
                 "carol"));
  h.Advance(kT0 + kHour);
  EXPECT_TRUE(h.NewAlarms().empty()) << Describe();
}

TEST_F(DefaultRules, BrokenHandshakeFloodAgainstOneServer) {
  for (int i = 0; i < 25; ++i) {  // 25 bots, one unacknowledged call each
    PlaceCall(kT0 + i * 2 * kS, "203.0.113." + std::to_string(100 + i), kRegistrar,
              "dbh-" + std::to_string(i), "bot", "ivr", /*ack=*/false);
  }
  h.Advance(kT0 + 2 * kMin);
  const auto a = Raised("handshake-flood-target");
  ASSERT_EQ(a.size(), 1u) << Describe();
  EXPECT_NE(a[0].signature.find(kRegistrar), std::string::npos);
  EXPECT_TRUE(Raised("handshake-flood-source").empty());
}

// ---- CANCEL attack ----

TEST_F(DefaultRules, CancelFromAThirdParty) {
  h.Feed(Request("INVITE", kT0, "192.0.2.10", kRegistrar, "victim-call", "alice", "bob"));
  h.Feed(Response(Request("INVITE", kT0, "192.0.2.10", kRegistrar, "victim-call", "alice", "bob"),
                  180, kT0 + 300 * kMs));
  // The attacker saw the INVITE and forges its CANCEL.
  h.Feed(
      Request("CANCEL", kT0 + 2 * kS, "203.0.113.66", kRegistrar, "victim-call", "alice", "bob"));
  const auto a = Raised("cancel-foreign");
  ASSERT_EQ(a.size(), 1u) << Describe();
  EXPECT_EQ(a[0].category, "cancel");
  EXPECT_EQ(a[0].src.ToString(), "203.0.113.66");
  EXPECT_NE(a[0].signature.find("192.0.2.10"), std::string::npos);
  // From the caller's own address but with another From tag: not the caller either.
  auto forged =
      Request("CANCEL", kT0 + 3 * kS, "192.0.2.10", "198.51.100.9", "call-2", "alice", "carol");
  h.Feed(Request("INVITE", kT0 + 2500 * kMs, "192.0.2.10", "198.51.100.9", "call-2", "alice",
                 "carol"));
  forged.from.tag = "not-the-callers";
  h.Feed(forged);
  EXPECT_EQ(Raised("cancel-foreign").size(), 2u) << Describe();
}

TEST_F(DefaultRules, CallCancelledByItsOwnCallerThroughAProxy) {
  const char* proxy = "198.51.100.1";
  const char* phone = "192.0.2.50";
  auto inv = Request("INVITE", kT0, "192.0.2.10", proxy, "own-cancel", "alice", "bob");
  h.Feed(inv);
  auto fwd = Request("INVITE", kT0 + 5 * kMs, proxy, phone, "own-cancel", "alice", "bob");
  h.Feed(fwd);
  h.Feed(Response(fwd, 180, kT0 + 200 * kMs));
  h.Feed(Response(inv, 180, kT0 + 205 * kMs));
  auto cancel = Request("CANCEL", kT0 + 6 * kS, "192.0.2.10", proxy, "own-cancel", "alice", "bob");
  Transact(cancel, 200);
  auto relayed =
      Request("CANCEL", kT0 + 6 * kS + 5 * kMs, proxy, phone, "own-cancel", "alice", "bob");
  Transact(relayed, 200);
  h.Feed(Response(fwd, 487, kT0 + 6100 * kMs));
  h.Feed(Response(inv, 487, kT0 + 6105 * kMs));
  h.Advance(kT0 + kHour);
  EXPECT_TRUE(h.NewAlarms().empty()) << Describe();
}

TEST_F(DefaultRules, CancelAttackerTearingDownSeveralCalls) {
  for (int i = 0; i < 3; ++i) {
    const std::string id = "v" + std::to_string(i);
    h.Feed(Request("INVITE", kT0 + i * kMin, "192.0.2." + std::to_string(10 + i), kRegistrar, id,
                   "user" + std::to_string(i), "bob"));
    h.Feed(Request("CANCEL", kT0 + i * kMin + 3 * kS, "203.0.113.66", kRegistrar, id,
                   "user" + std::to_string(i), "bob"));
  }
  const auto a = Raised("cancel-repeated");
  ASSERT_EQ(a.size(), 1u) << Describe();
  EXPECT_TRUE(Blocked("203.0.113.66"));
}

TEST_F(DefaultRules, CallerCancellingManyOfItsOwnCalls) {
  for (int i = 0; i < 8; ++i) {  // a receptionist hanging up on ringing calls
    const std::string id = "rc-" + std::to_string(i);
    auto inv = Request("INVITE", kT0 + i * 20 * kS, "192.0.2.10", kRegistrar, id, "reception",
                       "ext" + std::to_string(i));
    h.Feed(inv);
    h.Feed(Response(inv, 180, kT0 + i * 20 * kS + 100 * kMs));
    Transact(Request("CANCEL", kT0 + i * 20 * kS + 4 * kS, "192.0.2.10", kRegistrar, id,
                     "reception", "ext" + std::to_string(i)),
             200);
    h.Feed(Response(inv, 487, kT0 + i * 20 * kS + 4100 * kMs));
  }
  h.Advance(kT0 + kHour);
  EXPECT_TRUE(h.NewAlarms().empty()) << Describe();
}

TEST_F(DefaultRules, CancelsForCallsTheServerDoesNotKnow) {
  for (int i = 0; i < 6; ++i) {  // guessed Call-IDs
    Transact(Request("CANCEL", kT0 + i * 5 * kS, "203.0.113.67", kRegistrar,
                     "guess-" + std::to_string(i), "alice", "bob"),
             481);
  }
  const auto a = Raised("cancel-unknown-transaction");
  ASSERT_EQ(a.size(), 1u) << Describe();
  EXPECT_EQ(a[0].src.ToString(), "203.0.113.67");
}

TEST_F(DefaultRules, CancelRacingTheAnswerIsQuiet) {
  auto inv = Request("INVITE", kT0, "192.0.2.10", kRegistrar, "race", "alice", "bob");
  h.Feed(inv);
  h.Feed(Response(inv, 200, kT0 + 5 * kS));
  Transact(
      Request("CANCEL", kT0 + 5 * kS + 10 * kMs, "192.0.2.10", kRegistrar, "race", "alice", "bob"),
      481);  // too late: the call was answered
  h.Feed(Request("ACK", kT0 + 5 * kS + 50 * kMs, "192.0.2.10", kRegistrar, "race", "alice", "bob"));
  h.Advance(kT0 + kHour);
  EXPECT_TRUE(h.NewAlarms().empty()) << Describe();
}

// ---- BYE attack ----

TEST_F(DefaultRules, MediaStillFlowingAfterAForgedBye) {
  PlaceCall(kT0, "192.0.2.10", "192.0.2.20", "bye-call", "alice", "bob");
  // C tears the call down by a BYE to A that claims to come from B.
  h.Feed(
      Request("BYE", kT0 + 90 * kS, "203.0.113.66", "192.0.2.10", "bye-call", "bob", "alice", 2));
  // B, unaware, keeps sending media to A.
  h.Feed(MediaAfterEnd(kT0 + 90 * kS + 20 * kMs, "192.0.2.20", 50000, "192.0.2.10", 40000,
                       "bye-call"));
  const auto a = Raised("bye-attack");
  ASSERT_EQ(a.size(), 1u) << Describe();
  EXPECT_EQ(a[0].category, "teardown");
  EXPECT_NE(a[0].signature.find("203.0.113.66"), std::string::npos);
  // The alarm accuses the BYE's sender, not the phone still sending media.
  EXPECT_EQ(a[0].src.ToString(), "203.0.113.66");
  EXPECT_EQ(a[0].dst.ToString(), "192.0.2.10");
  ASSERT_EQ(a[0].parties.size(), 1u);
  EXPECT_EQ(a[0].parties[0].first, "media");
  EXPECT_EQ(a[0].parties[0].second, "192.0.2.20:50000 -> 192.0.2.10:40000");
  ASSERT_EQ(h.watches.size(), 1u);
  EXPECT_EQ(h.watches[0].endpoints.size(), 2u);
  // The BYE's sender is blocked, not the party still sending media.
  ASSERT_EQ(h.blocks.size(), 1u);
  EXPECT_EQ(h.blocks[0].prefix.ToString(), "203.0.113.66/32");
  EXPECT_EQ(a[0].action, AlarmOutcome::kBlocked);
}

TEST_F(DefaultRules, LongLegitimateCallEndsQuietly) {
  PlaceCall(kT0, "192.0.2.10", "192.0.2.20", "long-call", "alice", "bob");
  h.Feed(
      Request("BYE", kT0 + 2 * kHour, "192.0.2.10", "192.0.2.20", "long-call", "alice", "bob", 2));
  h.Feed(Cdr("alice", "bob", "192.0.2.10", kT0, 2 * 3600.0 - 2));
  // Media after the end of a call that no BYE ended (a rejected call's early
  // media) is not a BYE attack.
  h.Feed(MediaAfterEnd(kT0 + 3 * kHour, "192.0.2.30", 50000, "192.0.2.10", 40010, "rejected"));
  h.Advance(kT0 + 4 * kHour);
  EXPECT_TRUE(h.NewAlarms().empty()) << Describe();
}

// ---- malicious gateway and toll fraud ----

TEST_F(DefaultRules, MediaAtAGatewayAfterDlcx) {
  h.Feed(Mgcp("CRCX", kT0));
  h.Feed(Mgcp("DLCX", kT0 + 60 * kS));
  h.Feed(MediaAfterEnd(kT0 + 61 * kS, "192.0.2.10", 40000, "192.0.2.60", 16384, "mgcp:A3C47F"));
  const auto a = Raised("gateway-media-after-dlcx");
  ASSERT_EQ(a.size(), 1u) << Describe();
  EXPECT_EQ(a[0].category, "gateway");
  EXPECT_NE(a[0].signature.find("mgcp:A3C47F"), std::string::npos);
  ASSERT_EQ(h.watches.size(), 1u);
  EXPECT_TRUE(Raised("bye-attack").empty());
}

TEST_F(DefaultRules, GatewayMediaWhileTheConnectionIsOpen) {
  h.Feed(Mgcp("CRCX", kT0));
  auto start = Rtp(kT0 + kS, "192.0.2.10", 40000, "192.0.2.60", 16384, "stream_start");
  start.owner = "mgcp:A3C47F";
  h.Feed(start);
  h.Feed(Mgcp("DLCX", kT0 + 10 * kMin));
  h.Advance(kT0 + kHour);
  EXPECT_TRUE(h.NewAlarms().empty()) << Describe();
}

// The first day after the first call record only learns who calls abroad.
void LearningDay(Harness& h) {
  h.Feed(Cdr("2002", "0044201234567", "192.0.2.22", kT0, 300));  // a regular international caller
  h.Feed(Cdr("2003", "0900123456", "192.0.2.23", kT0 + kHour, 60));  // a regular premium caller
  h.Feed(Cdr("2001", "3000", "192.0.2.21", kT0 + 2 * kHour, 120));
  h.Advance(kT0 + 25 * kHour);
}

TEST_F(DefaultRules, FirstInternationalCallOfAUserAfterLearning) {
  LearningDay(h);
  EXPECT_TRUE(h.engine->HasContext("sw-toll-armed"));
  h.Feed(Cdr("2001", "+8821612345678", "192.0.2.21", kT0 + 26 * kHour, 1800));
  const auto a = Raised("toll-fraud-new-international");
  ASSERT_EQ(a.size(), 1u) << Describe();
  EXPECT_EQ(a[0].category, "toll-fraud");
  EXPECT_EQ(a[0].src.ToString(), "192.0.2.21");
  // Learned now: the next one is not new.
  h.Feed(Cdr("2001", "+8821612345679", "192.0.2.21", kT0 + 27 * kHour, 1800));
  EXPECT_EQ(Raised("toll-fraud-new-international").size(), 1u);
}

TEST_F(DefaultRules, RegularInternationalCallerAndTheLearningDay) {
  h.Feed(Cdr("2002", "0044201234567", "192.0.2.22", kT0, 300));
  h.Feed(Cdr("2009", "011441234567", "192.0.2.29", kT0 + kHour, 300));  // during learning
  h.Advance(kT0 + 25 * kHour);
  for (int i = 0; i < 5; ++i) {  // the regular caller goes on calling London
    h.Feed(Cdr("2002", "004420123456" + std::to_string(i), "192.0.2.22",
               kT0 + 26 * kHour + i * kHour, 600));
  }
  h.Feed(Cdr("2001", "061963177", "192.0.2.21", kT0 + 40 * kHour, 120));  // national
  h.Feed(Cdr("2001", "0044201234567", "192.0.2.21", kT0 + 41 * kHour, 0,
             ev::Disposition::kBusy));  // unanswered: nothing billed
  h.Advance(kT0 + 48 * kHour);
  EXPECT_TRUE(h.NewAlarms().empty()) << Describe();
}

TEST_F(DefaultRules, FirstPremiumCallOfAUserAfterLearning) {
  LearningDay(h);
  h.Feed(Cdr("2002", "19005551234", "192.0.2.22", kT0 + 26 * kHour, 900));
  const auto a = Raised("toll-fraud-new-premium");
  ASSERT_EQ(a.size(), 1u) << Describe();
  EXPECT_EQ(a[0].category, "toll-fraud");
}

TEST_F(DefaultRules, RegularPremiumCallerAfterLearning) {
  LearningDay(h);
  h.Feed(Cdr("2003", "0900123457", "192.0.2.23", kT0 + 26 * kHour, 60));
  h.Feed(Cdr("2001", "0301234567", "192.0.2.21", kT0 + 27 * kHour, 60));  // national
  h.Advance(kT0 + 30 * kHour);
  EXPECT_TRUE(h.NewAlarms().empty()) << Describe();
}

TEST_F(DefaultRules, TollFraudProbingDialOutPrefixes) {
  // The corpus's sipcli run, without its User-Agent.
  const char* numbers[] = {"011972599501806", "1010333011972599501806", "1010555011972599501806",
                           "9011972599501806"};
  int i = 0;
  for (const char* n : numbers) {
    Transact(Request("INVITE", kT0 + i * kS, "40.129.198.250", "157.147.97.20",
                     "probe-" + std::to_string(i), "200", n),
             i % 2 ? 503 : 482);
    ++i;
  }
  const auto a = Raised("toll-fraud-probe");
  ASSERT_EQ(a.size(), 1u) << Describe();
  EXPECT_EQ(a[0].src.ToString(), "40.129.198.250");
  EXPECT_TRUE(Blocked("40.129.198.250"));
}

TEST_F(DefaultRules, InternationalCallsThatFailAreNoProbe) {
  // A user retrying one number abroad that is busy.
  for (int i = 0; i < 4; ++i) {
    Transact(Request("INVITE", kT0 + i * kMin, "192.0.2.10", kRegistrar,
                     "retry-" + std::to_string(i), "alice", "0097239287044"),
             486);
  }
  // A regular international caller whose calls to three countries fail.
  h.Feed(Cdr("bob", "0033123456789", "192.0.2.11", kT0, 300));
  const char* numbers[] = {"0044201234567", "0049301234567", "0039061234567"};
  int i = 0;
  for (const char* n : numbers) {
    Transact(Request("INVITE", kT0 + 10 * kMin + i * kMin, "192.0.2.11", kRegistrar,
                     "bob-" + std::to_string(i), "bob", n),
             503);
    ++i;
  }
  h.Advance(kT0 + kHour);
  EXPECT_TRUE(h.NewAlarms().empty()) << Describe();
}

// ---- SPIT ----

TEST_F(DefaultRules, SpitBotShortCallsToManyCallees) {
  for (int i = 0; i < 20; ++i) {  // the same 9-second message to 20 people
    h.Feed(Cdr("promo", std::to_string(5550100 + i), "203.0.113.90", kT0 + i * 2 * kMin,
               9.0 + (i % 3) * 0.02));
  }
  const auto a = Raised("spit-short-calls");
  ASSERT_EQ(a.size(), 1u) << Describe();
  EXPECT_EQ(a[0].category, "spit");
  EXPECT_EQ(a[0].src.ToString(), "203.0.113.90");
}

TEST_F(DefaultRules, BusyUserWithShortAndLongCallsIsNoSpit) {
  std::vector<ev::CallRecord> day;
  for (int i = 0; i < 10; ++i) {  // ten quick questions to colleagues in an hour
    day.push_back(Cdr("alice", "ext" + std::to_string(i), "192.0.2.10", kT0 + i * 5 * kMin, 20));
  }
  for (int i = 0; i < 10; ++i) {  // and long calls
    day.push_back(Cdr("alice", "customer" + std::to_string(i), "192.0.2.10",
                      kT0 + 3 * kMin + i * 6 * kMin, 600));
  }
  // Other users behind the same PBX make their own short calls.
  for (int i = 0; i < 30; ++i) {
    day.push_back(Cdr("user" + std::to_string(i % 5), "ext" + std::to_string(i), "192.0.2.10",
                      kT0 + i * kMin, 15));
  }
  std::sort(day.begin(), day.end(),
            [](const auto& a, const auto& b) { return a.end_ns < b.end_ns; });
  for (const auto& c : day) h.Feed(c);
  h.Advance(kT0 + 2 * kHour);
  EXPECT_TRUE(h.NewAlarms().empty()) << Describe();
}

TEST_F(DefaultRules, SpitDialerCallingManyDistinctCallees) {
  for (int i = 0; i < 35; ++i) {  // mostly unanswered
    h.Feed(Cdr("robo", std::to_string(5550200 + i), "203.0.113.91", kT0 + i * 15 * kS, 0,
               ev::Disposition::kNoAnswer));
  }
  const auto a = Raised("spit-dialer");
  ASSERT_EQ(a.size(), 1u) << Describe();
  EXPECT_EQ(a[0].category, "spit");
}

TEST_F(DefaultRules, ReceptionistCallingColleaguesIsNoDialer) {
  for (int i = 0; i < 20; ++i) {
    h.Feed(Cdr("reception", "ext" + std::to_string(i), "192.0.2.10", kT0 + i * 30 * kS,
               i % 2 ? 40 : 0, i % 2 ? ev::Disposition::kAnswered : ev::Disposition::kNoAnswer));
  }
  h.Advance(kT0 + kHour);
  EXPECT_TRUE(h.NewAlarms().empty()) << Describe();
}

// ---- missing scheduled events ----

void HourlyAudits(Harness& h, int hours) {
  for (int i = 0; i < hours; ++i) {
    for (int ep = 1; ep <= 4; ++ep) {
      h.Feed(
          Mgcp("AUEP", k0200 + i * kHour + ep * 200 * kMs, "aaln/" + std::to_string(ep) + "@gw"));
    }
  }
}

TEST_F(DefaultRules, MissingHourlyAudit) {
  HourlyAudits(h, 3);  // 02:00, 03:00, 04:00 ... then the call agent goes quiet
  h.Advance(k0200 + 3 * kHour + 4 * kMin);
  EXPECT_TRUE(h.NewAlarms().empty()) << Describe();
  h.Advance(k0200 + 3 * kHour + 6 * kMin);  // 05:05 passed without an audit since 04:00
  const auto a = Raised("audit-auep-missing");
  ASSERT_EQ(a.size(), 1u) << Describe();
  EXPECT_EQ(a[0].category, "audit-missing");
  EXPECT_EQ(a[0].ts_ns, k0200 + 3 * kHour + 5 * kMin);
  EXPECT_FALSE(a[0].has_flow);
}

TEST_F(DefaultRules, AuditsOnTimeAndASingleAuditAreQuiet) {
  HourlyAudits(h, 6);
  h.Advance(k0200 + 5 * kHour + 30 * kMin);
  EXPECT_TRUE(h.NewAlarms().empty()) << Describe();
  // One audit and then silence (as in ndpi/mgcp.pcap) sets no schedule.
  Harness once(DefaultYaml());
  once.Feed(Mgcp("AUEP", k0200 + 27 * kMin));
  once.Advance(k0200 + 48 * kHour);
  EXPECT_TRUE(once.NewAlarms().empty());
}

// ---- everything together ----

TEST_F(DefaultRules, HelperRulesPairRequestsWithTheirAnswers) {
  Transact(WithAuth(Request("REGISTER", kT0, "192.0.2.10", kRegistrar, "r", "alice", "alice", 2),
                    "alice"),
           200);
  h.Feed(Request("OPTIONS", kT0 + kS, "192.0.2.10", "198.51.100.99", "o", "alice", "x"));
  h.Advance(kT0 + kMin);
  const auto names = h.SyntheticNames();
  ASSERT_GE(names.size(), 2u);
  EXPECT_EQ(names[0], "outcome");
  const SyntheticEvent& o = h.synthetic[0];
  EXPECT_EQ(*o.Find("status"), "200");
  EXPECT_EQ(*o.Find("auth_user"), "alice");
  EXPECT_EQ(*o.Find("has_auth"), "true");
  EXPECT_EQ(o.flow.src.ToString(), "192.0.2.10");  // the request's flow
  EXPECT_NE(std::find(names.begin(), names.end(), "no-response"), names.end());
}

}  // namespace
}  // namespace sw::rules::testing
