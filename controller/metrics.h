// SPDX-License-Identifier: BSD-2-Clause
// The controller's Prometheus metrics (docs/metrics.md): its own state
// (sipwarden_controller_*), each agent's health as the controller sees it
// (sipwarden_agent_*{agent}), each honeypot's (sipwarden_honeypot_*{honeypot})
// and the agents' last reported counters (sipwarden_fleet_*{agent}). A pure
// function of what Stats and ListAgents answer, so that /metrics and the API
// agree.
#pragma once

#include <cstdint>
#include <vector>

#include "sipwarden/prom_text.h"
#include "sipwarden/v1/operator.pb.h"

namespace sw::controller {

// now_unix_ns: the time the ages (sipwarden_agent_last_seen_seconds) are
// measured from. Only counter keys the agents are known to send become
// series (kernel verdicts, rb_lost, rx_packets, alarms, sip_method_<bucket>):
// a key or method name from the wire never becomes a label.
void AddControllerMetrics(const sipwarden::v1::StatsResponse& stats,
                          const std::vector<sipwarden::v1::AgentInfo>& agents,
                          int64_t now_unix_ns, sw::PromText& t);

}  // namespace sw::controller
