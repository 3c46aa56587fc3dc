// SPDX-License-Identifier: BSD-2-Clause
#include "metrics.h"

#include <string>
#include <string_view>

#include "sipwarden.h"
#include "sipwarden/sip_methods.h"

namespace sw::controller {

namespace v1 = sipwarden::v1;

namespace {

double D(uint64_t v) { return static_cast<double>(v); }

// A counter from an agent's report: non-negative (a bad report must not
// spoil the scrape), absent as 0.
double CounterValue(const v1::AgentInfo& a, const std::string& key) {
  const auto it = a.counters().find(key);
  if (it == a.counters().end() || !(it->second >= 0)) return 0;
  return it->second;
}

// The kernel's verdict counters (bpf/sipwarden.h), the keys an agent reports.
constexpr std::string_view kVerdicts[] = {
#define SW_VERDICT_NAME(name) #name,
    SW_STATS_FIELDS(SW_VERDICT_NAME)
#undef SW_VERDICT_NAME
};

bool IsVerdict(std::string_view field) {
  return field.starts_with("pass_") || field.starts_with("drop_");
}

}  // namespace

void AddControllerMetrics(const v1::StatsResponse& s, const std::vector<v1::AgentInfo>& agents,
                          int64_t now_unix_ns, sw::PromText& t) {
  // ---- the controller itself
  t.Gauge("sipwarden_controller_decision_version",
          "The fleet's decision version (every change takes the next)", D(s.decision_version()));
  t.Gauge("sipwarden_controller_decisions", "Decisions in force, by action", D(s.blocks()),
          {{"action", "block"}});
  t.Gauge("sipwarden_controller_decisions", "", D(s.graylists()), {{"action", "graylist"}});
  t.Gauge("sipwarden_controller_decisions", "", D(s.allows()), {{"action", "allow"}});
  t.Gauge("sipwarden_controller_agents", "Agents known (registered at least once)",
          D(s.agents()));
  t.Gauge("sipwarden_controller_agents_connected", "Agents with a decision watch open now",
          D(s.agents_connected()));
  t.Gauge("sipwarden_controller_honeypots", "Honeypots known", D(s.honeypots()));
  t.Gauge("sipwarden_controller_alarms_stored", "Alarms in the database (after pruning)",
          D(s.alarms_stored()));
  t.Counter("sipwarden_controller_reports_stored_total",
            "Agent reports stored since the controller started", D(s.reports_stored()));
  t.Counter("sipwarden_controller_reports_duplicate_total",
            "Agent reports received again and skipped since the controller started",
            D(s.reports_duplicate()));
  t.Counter("sipwarden_controller_honeypot_hits_stored_total",
            "Honeypot hits stored since the controller started", D(s.hits_stored()));
  t.Counter("sipwarden_controller_honeypot_hits_duplicate_total",
            "Honeypot hits received again and skipped", D(s.hits_duplicate()));
  t.Counter("sipwarden_controller_honeypot_graylisted_total",
            "Sources the honeypot policy graylisted", D(s.honeypot_graylisted()));
  t.Counter("sipwarden_controller_honeypot_blocked_total",
            "Sources the honeypot policy blocked", D(s.honeypot_blocked()));
  t.Counter("sipwarden_controller_honeypot_spared_allowed_total",
            "Honeypot arrivals from allowlisted sources, left alone",
            D(s.honeypot_spared_allowed()));
  t.Counter("sipwarden_controller_honeypot_stale_total",
            "Honeypot arrivals older than the policy's window, not acted on",
            D(s.honeypot_stale()));

  // ---- each agent and honeypot as the controller sees it
  auto age = [now_unix_ns](int64_t then_ns) {
    if (then_ns <= 0) return 0.0;
    const int64_t d = now_unix_ns - then_ns;
    return d > 0 ? static_cast<double>(d) / 1e9 : 0.0;
  };
  for (const v1::AgentInfo& a : agents) {
    if (a.honeypot()) {
      const PromLabels h = {{"honeypot", a.agent()}};
      t.Gauge("sipwarden_honeypot_last_seen_seconds",
              "Seconds since the honeypot last registered or reported", age(a.last_seen_unix_ns()),
              h);
      t.Counter("sipwarden_honeypot_hits_stored_total", "Hits stored from the honeypot",
                D(a.reports()), h);
      t.Gauge("sipwarden_honeypot_deflector_users", "Deflector users the honeypot plays",
              D(a.deflector_users()), h);
      continue;
    }
    const PromLabels l = {{"agent", a.agent()}};
    t.Gauge("sipwarden_agent_up", "1 while the agent has its decision watch open",
            a.connected() ? 1 : 0, l);
    t.Gauge("sipwarden_agent_last_seen_seconds",
            "Seconds since the agent was last heard from (registration, report or watch)",
            age(a.last_seen_unix_ns()), l);
    t.Gauge("sipwarden_agent_decision_version", "The last decision version sent to the agent",
            D(a.decision_version()), l);
    t.Counter("sipwarden_agent_reports_stored_total", "Reports stored from the agent",
              D(a.reports()), l);
  }

  // ---- the agents' last counters (sent every 10 s; they restart from 0
  // with the agent, which rate() and increase() allow for)
  for (const v1::AgentInfo& a : agents) {
    if (a.honeypot() || a.counters().empty()) continue;
    for (std::string_view field : kVerdicts) {
      if (!IsVerdict(field)) continue;
      const std::string key(field);
      t.Counter("sipwarden_fleet_kernel_packets_total",
                "Packets by kernel verdict at each agent (its sipwarden_xdp_pass_*/drop_*)",
                CounterValue(a, key), {{"agent", a.agent()}, {"verdict", key}});
    }
    t.Counter("sipwarden_fleet_rx_packets_total", "Packets each agent's XDP program saw",
              CounterValue(a, "rx_packets"), {{"agent", a.agent()}});
    t.Counter("sipwarden_fleet_rb_lost_total",
              "Records each agent's kernel lost because its ring buffer was full",
              CounterValue(a, "rb_lost"), {{"agent", a.agent()}});
    t.Counter("sipwarden_fleet_alarms_total", "Alarms each agent raised",
              CounterValue(a, "alarms"), {{"agent", a.agent()}});
    for (std::string_view method : kSipMethodBuckets) {
      const std::string m(method);
      t.Counter("sipwarden_fleet_sip_messages_total",
                "SIP messages each agent parsed, by method bucket", CounterValue(a, "sip_method_" + m),
                {{"agent", a.agent()}, {"method", m}});
    }
  }
}

}  // namespace sw::controller
