// SPDX-License-Identifier: BSD-2-Clause
// What the correlation engine consumes besides the typed events of
// sipwarden/events/event.h: synthetic events, which rules emit (the paper's
// "INVITE-200 OK" and "INVITE-200 OK-BYE" chains) and other rules consume.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sipwarden/events/event.h"

namespace sw::rules {

enum class EventType : uint8_t { kSip, kMgcp, kRtp, kCall, kSynthetic };
// "sip", "mgcp", "rtp", "call", "synthetic".
std::string_view EventTypeName(EventType t);

// An event a rule emitted (or a caller injected). Its fields are text; a rule
// matching a typed field (src_port, status, media_ip, ...) on a synthetic
// event parses the carried text.
struct SyntheticEvent {
  int64_t ts_ns = 0;
  std::string name;
  bool has_flow = false;  // flow copied from the triggering event
  ev::Flow flow;
  std::vector<std::pair<std::string, std::string>> fields;
  int depth = 0;  // how many synthetic events led to this one (loop guard)

  // The carried value of a field, or nullptr.
  const std::string* Find(std::string_view field) const;
  void Set(std::string_view field, std::string_view value);
};

// {"type":"synthetic","ts":...,"name":...,[flow,]"fields":{...}}
std::string ToJson(const SyntheticEvent& e);

}  // namespace sw::rules
