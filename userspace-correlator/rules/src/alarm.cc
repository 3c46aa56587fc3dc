// SPDX-License-Identifier: BSD-2-Clause
#include "sipwarden/rules/alarm.h"

#include <algorithm>
#include <array>

#include "sipwarden/json.h"
#include "sipwarden/record.h"

namespace sw::rules {
namespace {

constexpr std::array<std::string_view, 15> kCategories = {
    "flood",    "scan",          "enumeration", "bruteforce", "teardown",          "handshake",
    "cancel",   "spit",          "toll-fraud",  "gateway",    "scanner-signature", "anomaly",
    "honeypot", "audit-missing", "malformed"};

std::string_view ProtoName(ev::Transport t) {
  switch (t) {
    case ev::Transport::kTcp:
    case ev::Transport::kTls:
    case ev::Transport::kWs:
      return "TCP";
    case ev::Transport::kUdp:
    case ev::Transport::kHep:
      return "UDP";
  }
  return "UDP";
}

bool Unspecified(const IpAddress& a) {
  return std::all_of(a.bytes.begin(), a.bytes.end(), [](uint8_t b) { return b == 0; });
}

}  // namespace

std::span<const std::string_view> AlarmCategories() { return kCategories; }

bool IsAlarmCategory(std::string_view name) {
  return std::find(kCategories.begin(), kCategories.end(), name) != kCategories.end();
}

std::string_view AlarmOutcomeName(AlarmOutcome o) {
  switch (o) {
    case AlarmOutcome::kAllowed:
      return "allowed";
    case AlarmOutcome::kBlocked:
      return "blocked";
    case AlarmOutcome::kWatched:
      return "watched";
  }
  return "allowed";
}

std::string ToJson(const Alarm& a) {
  JsonWriter w;
  w.BeginObject().Field("ts", FormatRfc3339(a.ts_ns)).Field("event_type", "alert");
  if (a.has_flow) {
    w.Field("src_ip", a.src.ToString());
    if (a.sport != 0) w.Field("src_port", static_cast<uint32_t>(a.sport));
    if (!Unspecified(a.dst) || a.dport != 0) {
      w.Field("dest_ip", a.dst.ToString()).Field("dest_port", static_cast<uint32_t>(a.dport));
    }
    w.Field("proto", ProtoName(a.transport));
  }
  w.Key("alert").BeginObject();
  w.Field("signature", a.signature).Field("category", a.category).Field("severity", a.severity);
  w.Field("rule", a.rule).EndObject();
  w.Field("count", static_cast<uint64_t>(a.count));
  if (!a.call_id.empty() || !a.from.empty() || !a.to.empty() || !a.user_agent.empty() ||
      !a.method.empty() || a.status != 0) {
    w.Key("sip").BeginObject();
    if (!a.call_id.empty()) w.Field("call_id", a.call_id);
    if (!a.from.empty()) w.Field("from", a.from);
    if (!a.to.empty()) w.Field("to", a.to);
    if (!a.user_agent.empty()) w.Field("user_agent", a.user_agent);
    if (!a.method.empty()) {
      w.Field("method", a.method);
    } else if (a.status != 0) {
      w.Field("status", a.status);
    }
    w.EndObject();
  }
  if (!a.parties.empty()) {
    w.Key("parties").BeginObject();
    for (const auto& [role, who] : a.parties) w.Field(role, who);
    w.EndObject();
  }
  w.Field("action", AlarmOutcomeName(a.action));
  w.Field("alarm_id", static_cast<uint64_t>(a.id));
  if (a.update) w.Field("update", true).Field("first_ts", FormatRfc3339(a.first_ns));
  w.EndObject();
  return w.Take();
}

}  // namespace sw::rules
