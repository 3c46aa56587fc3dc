// SPDX-License-Identifier: BSD-2-Clause
// Rows the store tests write, the same for SQLite (store_test.cc) and
// PostgreSQL (postgres_store_test.cc): decisions, alarm reports, honeypot hits.
#pragma once

#include <cstdint>
#include <string>

#include "sipwarden/v1/agent.pb.h"
#include "sipwarden/v1/decisions.pb.h"
#include "sipwarden/v1/honeypot.pb.h"

namespace sw::controller::test_rows {

namespace v1 = sipwarden::v1;

constexpr int64_t kSec = 1'000'000'000;

// An operator's decision; version 0 = left to the store (PostgreSQL).
inline v1::Decision Dec(const std::string& prefix, v1::Action action, uint64_t version = 0) {
  v1::Decision d;
  d.set_prefix(prefix);
  d.set_action(action);
  d.set_origin(v1::ORIGIN_OPERATOR);
  d.set_reason("manual");
  d.set_source("op");
  d.set_created_unix_ns(1);
  d.set_expires_unix_ns(0);
  if (version) d.set_version(version);
  return d;
}

inline v1::AgentReport AlarmReport(uint64_t id, const std::string& category) {
  v1::AgentReport r;
  r.set_id(id);
  auto* a = r.mutable_alarm();
  a->set_category(category);
  a->set_src_ip("192.0.2.1");
  a->set_rule("rule");
  a->set_ts_unix_ns(static_cast<int64_t>(id));
  a->set_json("{}");
  return r;
}

inline v1::HoneypotHit Hit(uint64_t id, v1::HoneypotHit::Stage stage, const std::string& src,
                    const std::string& callee, int64_t ts, const std::string& audio = "") {
  v1::HoneypotHit h;
  h.set_id(id);
  h.set_stage(stage);
  h.set_ts_unix_ns(ts);
  h.set_method("INVITE");
  h.set_src_ip(src);
  h.set_callee(callee);
  h.set_call_id("call-" + std::to_string(id));
  h.set_user_agent("friendly-scanner");
  if (!audio.empty()) {
    h.set_audio_sha256(audio);
    h.set_recorded_ms(static_cast<int64_t>(1000 * id));
    h.set_recording("rec-" + std::to_string(id) + ".wav");
  }
  return h;
}
constexpr auto kArrived = v1::HoneypotHit::STAGE_ARRIVED;
constexpr auto kEnded = v1::HoneypotHit::STAGE_ENDED;

}  // namespace sw::controller::test_rows
