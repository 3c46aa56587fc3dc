// SPDX-License-Identifier: BSD-2-Clause
// The controller's Prometheus metrics (controller/metrics.h) from a fixed
// Stats answer and agent list: concrete lines, the agents' counters by agent,
// honeypots apart, and nothing from the wire as a label beyond the known sets.
#include "metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sw::controller {
namespace {

namespace v1 = sipwarden::v1;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kNow = 1765029600'000000000;

v1::StatsResponse Stats() {
  v1::StatsResponse s;
  s.set_decision_version(42);
  s.set_blocks(7);
  s.set_allows(2);
  s.set_graylists(3);
  s.set_agents(2);
  s.set_agents_connected(1);
  s.set_honeypots(1);
  s.set_alarms_stored(1234);
  s.set_reports_stored(5000);
  s.set_reports_duplicate(12);
  s.set_hits_stored(9);
  s.set_hits_duplicate(1);
  s.set_honeypot_graylisted(4);
  s.set_honeypot_blocked(2);
  s.set_honeypot_spared_allowed(1);
  s.set_honeypot_stale(0);
  return s;
}

std::vector<v1::AgentInfo> Agents() {
  std::vector<v1::AgentInfo> v(3);
  v[0].set_agent("proxy-a");
  v[0].set_connected(true);
  v[0].set_last_seen_unix_ns(kNow - 2'500'000'000);
  v[0].set_decision_version(42);
  v[0].set_reports(4000);
  auto& c = *v[0].mutable_counters();
  c["rx_packets"] = 100000;
  c["pass_sip"] = 900;
  c["drop_blocked"] = 1520;
  c["drop_rate"] = 7;
  c["rb_lost"] = 3;
  c["alarms"] = 11;
  c["sip_method_INVITE"] = 400;
  c["sip_method_OTHER"] = 5;
  c["sip_method_RESPONSE"] = 495;
  c["sip_method_evil\"label"] = 1;  // not a bucket: never a series
  c["drop_from_the_future"] = 1;    // not a kernel counter: never a series
  c["media_packets"] = -5;          // not exported, and negative anyway
  v[1].set_agent("proxy-b");
  v[1].set_connected(false);
  v[1].set_last_seen_unix_ns(kNow - 600'000'000'000);
  v[1].set_decision_version(40);
  v[2].set_agent("hp-1");
  v[2].set_honeypot(true);
  v[2].set_reports(9);
  v[2].set_deflector_users(50);
  v[2].set_last_seen_unix_ns(kNow - 1'000'000'000);
  return v;
}

std::string Render() {
  PromText t;
  AddControllerMetrics(Stats(), Agents(), kNow, t);
  EXPECT_TRUE(t.status().ok()) << t.status();
  return t.Take();
}

TEST(ControllerMetrics, TheControllersOwnState) {
  const std::string text = Render();
  for (const char* line : {
           "# TYPE sipwarden_controller_decision_version gauge\n"
           "sipwarden_controller_decision_version 42\n",
           "# TYPE sipwarden_controller_decisions gauge\n"
           "sipwarden_controller_decisions{action=\"block\"} 7\n"
           "sipwarden_controller_decisions{action=\"graylist\"} 3\n"
           "sipwarden_controller_decisions{action=\"allow\"} 2\n",
           "\nsipwarden_controller_agents 2\n",
           "\nsipwarden_controller_agents_connected 1\n",
           "\nsipwarden_controller_honeypots 1\n",
           "\nsipwarden_controller_alarms_stored 1234\n",
           "# TYPE sipwarden_controller_reports_stored_total counter\n"
           "sipwarden_controller_reports_stored_total 5000\n",
           "\nsipwarden_controller_reports_duplicate_total 12\n",
           "\nsipwarden_controller_honeypot_hits_stored_total 9\n",
           "\nsipwarden_controller_honeypot_hits_duplicate_total 1\n",
           "\nsipwarden_controller_honeypot_graylisted_total 4\n",
           "\nsipwarden_controller_honeypot_blocked_total 2\n",
           "\nsipwarden_controller_honeypot_spared_allowed_total 1\n",
           "\nsipwarden_controller_honeypot_stale_total 0\n",
       }) {
    EXPECT_THAT(text, HasSubstr(line));
  }
}

TEST(ControllerMetrics, EachAgentsHealth) {
  const std::string text = Render();
  for (const char* line : {
           "# TYPE sipwarden_agent_up gauge\n"
           "sipwarden_agent_up{agent=\"proxy-a\"} 1\n",
           "\nsipwarden_agent_up{agent=\"proxy-b\"} 0\n",
           "\nsipwarden_agent_last_seen_seconds{agent=\"proxy-a\"} 2.5\n",
           "\nsipwarden_agent_last_seen_seconds{agent=\"proxy-b\"} 600\n",
           "\nsipwarden_agent_decision_version{agent=\"proxy-a\"} 42\n",
           "\nsipwarden_agent_decision_version{agent=\"proxy-b\"} 40\n",
           "\nsipwarden_agent_reports_stored_total{agent=\"proxy-a\"} 4000\n",
           "\nsipwarden_honeypot_last_seen_seconds{honeypot=\"hp-1\"} 1\n",
           "\nsipwarden_honeypot_hits_stored_total{honeypot=\"hp-1\"} 9\n",
           "\nsipwarden_honeypot_deflector_users{honeypot=\"hp-1\"} 50\n",
       }) {
    EXPECT_THAT(text, HasSubstr(line));
  }
  // A honeypot is no agent: not up or down, no decision version.
  EXPECT_THAT(text, Not(HasSubstr("{agent=\"hp-1\"}")));
}

TEST(ControllerMetrics, TheAgentsCountersByAgent) {
  const std::string text = Render();
  for (const char* line : {
           "\nsipwarden_fleet_kernel_packets_total{agent=\"proxy-a\",verdict=\"pass_sip\"} 900\n",
           "\nsipwarden_fleet_kernel_packets_total{agent=\"proxy-a\",verdict=\"drop_blocked\"} "
           "1520\n",
           "\nsipwarden_fleet_kernel_packets_total{agent=\"proxy-a\",verdict=\"drop_rate\"} 7\n",
           "\nsipwarden_fleet_kernel_packets_total{agent=\"proxy-a\",verdict=\"drop_src_limit\"} "
           "0\n",
           "\nsipwarden_fleet_rx_packets_total{agent=\"proxy-a\"} 100000\n",
           "\nsipwarden_fleet_rb_lost_total{agent=\"proxy-a\"} 3\n",
           "\nsipwarden_fleet_alarms_total{agent=\"proxy-a\"} 11\n",
           "\nsipwarden_fleet_sip_messages_total{agent=\"proxy-a\",method=\"INVITE\"} 400\n",
           "\nsipwarden_fleet_sip_messages_total{agent=\"proxy-a\",method=\"BYE\"} 0\n",
           "\nsipwarden_fleet_sip_messages_total{agent=\"proxy-a\",method=\"OTHER\"} 5\n",
           "\nsipwarden_fleet_sip_messages_total{agent=\"proxy-a\",method=\"RESPONSE\"} 495\n",
       }) {
    EXPECT_THAT(text, HasSubstr(line));
  }
  // Only pass_*/drop_* kernel counters are verdicts; keys from the wire
  // outside the known sets make no series.
  EXPECT_THAT(text, Not(HasSubstr("verdict=\"rx_packets\"")));
  EXPECT_THAT(text, Not(HasSubstr("verdict=\"rb_lost\"")));
  EXPECT_THAT(text, Not(HasSubstr("evil")));
  EXPECT_THAT(text, Not(HasSubstr("drop_from_the_future")));
  EXPECT_THAT(text, Not(HasSubstr("media_packets")));
  // proxy-b has reported no counters yet: no fleet series for it.
  EXPECT_THAT(text, Not(HasSubstr("sipwarden_fleet_rx_packets_total{agent=\"proxy-b\"}")));
  // Every family once, with its type.
  size_t families = 0;
  for (size_t p = text.find("# TYPE sipwarden_fleet_kernel_packets_total counter\n");
       p != std::string::npos;
       p = text.find("# TYPE sipwarden_fleet_kernel_packets_total", p + 1)) {
    ++families;
  }
  EXPECT_EQ(families, 1u);
}

TEST(ControllerMetrics, NothingKnownGivesTheControllersLinesOnly) {
  PromText t;
  AddControllerMetrics(v1::StatsResponse(), {}, kNow, t);
  EXPECT_TRUE(t.status().ok()) << t.status();
  const std::string text = t.Take();
  EXPECT_THAT(text, HasSubstr("\nsipwarden_controller_decision_version 0\n"));
  EXPECT_THAT(text, HasSubstr("\nsipwarden_controller_agents 0\n"));
  EXPECT_THAT(text, Not(HasSubstr("sipwarden_agent_")));
  EXPECT_THAT(text, Not(HasSubstr("sipwarden_fleet_")));
}

}  // namespace
}  // namespace sw::controller
