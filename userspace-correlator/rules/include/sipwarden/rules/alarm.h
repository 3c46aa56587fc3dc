// SPDX-License-Identifier: BSD-2-Clause
// What the correlation engine hands out: alarms (JSON lines in the EVE-like
// shape of docs/formats.md) and verdicts for the data plane (block, rate-limit,
// watch media). The agent wires them to BPF maps and outputs.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sipwarden/events/event.h"
#include "sipwarden/ip.h"

namespace sw::rules {

// The alarm categories of docs/formats.md.
std::span<const std::string_view> AlarmCategories();
bool IsAlarmCategory(std::string_view name);

// What the rule's action list did about the alarm's source.
enum class AlarmOutcome : uint8_t { kAllowed, kBlocked, kWatched };
std::string_view AlarmOutcomeName(AlarmOutcome o);  // "allowed", "blocked", "watched"

struct Alarm {
  uint64_t id = 0;       // per engine, increasing; updates repeat the id
  int64_t ts_ns = 0;     // event time of this emission
  int64_t first_ns = 0;  // when this alarm was first raised
  bool update = false;   // a later report of an alarm already raised (count grew)
  std::string signature;
  std::string category;
  int severity = 2;  // 1 (high) .. 3 (low)
  std::string rule;
  bool has_flow = false;  // false for alarms of Calendar rules
  IpAddress src, dst;
  uint16_t sport = 0, dport = 0;
  ev::Transport transport = ev::Transport::kUdp;
  uint64_t count = 1;  // events that made it (a flood is one alarm with a count)
  // SIP context of the triggering event (empty when unknown).
  std::string call_id, from, to, user_agent, method;
  int status = 0;
  // Other parties than the accused (src) and the target (dst), by role:
  // "victim", "media", ... (rules' alarm 'parties').
  std::vector<std::pair<std::string, std::string>> parties;
  AlarmOutcome action = AlarmOutcome::kAllowed;
};

// One JSON line (no newline): {"ts","event_type":"alert","src_ip",...,
// "alert":{signature,category,severity,rule},"count","sip":{...},"action",
// "alarm_id"[,"update":true,"first_ts"]}.
std::string ToJson(const Alarm& a);

struct BlockVerdict {
  IpPrefix prefix;
  int64_t ts_ns = 0;
  int64_t ttl_ns = 0;  // 0: no expiry
  std::string rule;
  std::string reason;  // a category name (flood, scan, ...), as sipwarden.h's reasons
};

struct RateLimitVerdict {
  IpPrefix prefix;
  int64_t ts_ns = 0;
  int64_t ttl_ns = 0;
  double rate = 0;     // messages per second
  uint32_t burst = 0;  // bucket depth
  std::string rule;
};

struct MediaEndpoint {
  IpAddress addr;
  uint16_t port = 0;
  friend bool operator==(const MediaEndpoint&, const MediaEndpoint&) = default;
};

struct WatchVerdict {
  std::string call_id;
  std::vector<MediaEndpoint> endpoints;
  int64_t ts_ns = 0;
  int64_t ttl_ns = 0;
  std::string rule;
};

}  // namespace sw::rules
