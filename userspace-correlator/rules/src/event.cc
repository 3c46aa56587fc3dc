// SPDX-License-Identifier: BSD-2-Clause
#include "sipwarden/rules/event.h"

#include "sipwarden/json.h"
#include "sipwarden/record.h"

namespace sw::rules {

std::string_view EventTypeName(EventType t) {
  switch (t) {
    case EventType::kSip:
      return "sip";
    case EventType::kMgcp:
      return "mgcp";
    case EventType::kRtp:
      return "rtp";
    case EventType::kCall:
      return "call";
    case EventType::kSynthetic:
      return "synthetic";
  }
  return "sip";
}

const std::string* SyntheticEvent::Find(std::string_view field) const {
  for (const auto& [k, v] : fields) {
    if (k == field) return &v;
  }
  return nullptr;
}

void SyntheticEvent::Set(std::string_view field, std::string_view value) {
  for (auto& [k, v] : fields) {
    if (k == field) {
      v.assign(value);
      return;
    }
  }
  fields.emplace_back(std::string(field), std::string(value));
}

std::string ToJson(const SyntheticEvent& e) {
  JsonWriter w;
  w.BeginObject().Field("type", "synthetic").Field("ts", FormatRfc3339(e.ts_ns));
  w.Field("name", e.name);
  if (e.has_flow) {
    w.Field("src_ip", e.flow.src.ToString()).Field("src_port", static_cast<uint32_t>(e.flow.sport));
    w.Field("dst_ip", e.flow.dst.ToString()).Field("dst_port", static_cast<uint32_t>(e.flow.dport));
    w.Field("transport", ev::TransportName(e.flow.transport));
  }
  w.Key("fields").BeginObject();
  for (const auto& [k, v] : e.fields) w.Field(k, v);
  w.EndObject().EndObject();
  return w.Take();
}

}  // namespace sw::rules
