// SPDX-License-Identifier: BSD-2-Clause
// For the tests that run real ControllerClients against controllers: what
// an agent's decision sink saw (the decisions it holds now), and the events
// an agent forwards.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "controller_client.h"
#include "sipwarden/ip.h"
#include "sipwarden/v1/agent.pb.h"
#include "sipwarden/v1/decisions.pb.h"

namespace sw::controller {

// What an agent's sink saw: the decisions it holds now.
struct FakeKernel {
  std::mutex mu;
  std::map<std::string, sipwarden::v1::Decision> held;  // "prefix action"
  std::vector<sipwarden::v1::Decision> snapshot;
  int snapshot_pages = 0;
  uint64_t batches = 0;
  std::vector<sipwarden::v1::MediaWatch> watches;
  void Apply(const sipwarden::v1::DecisionBatch& b) {
    std::lock_guard<std::mutex> lock(mu);
    ++batches;
    for (const auto& w : b.media_watches()) watches.push_back(w);
    if (b.snapshot()) {
      ++snapshot_pages;
      for (const auto& c : b.changes()) snapshot.push_back(c.decision());
      if (!b.snapshot_done()) return;
      held.clear();
      for (const auto& d : snapshot) held[Key(d)] = d;
      snapshot.clear();
      return;
    }
    for (const auto& c : b.changes()) {
      if (c.kind() == sipwarden::v1::DecisionChange::KIND_SET) {
        held[Key(c.decision())] = c.decision();
      } else {
        held.erase(Key(c.decision()));
      }
    }
  }
  static std::string Key(const sipwarden::v1::Decision& d) {
    return d.prefix() + (d.action() == sipwarden::v1::ACTION_ALLOW      ? " allow"
                         : d.action() == sipwarden::v1::ACTION_GRAYLIST ? " graylist"
                                                             : " block");
  }
  std::optional<sipwarden::v1::Decision> Get(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = held.find(key);
    if (it == held.end()) return std::nullopt;
    return it->second;
  }
  bool Has(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu);
    return held.contains(key);
  }
  size_t Size() {
    std::lock_guard<std::mutex> lock(mu);
    return held.size();
  }
  std::vector<sipwarden::v1::MediaWatch> Watches() {
    std::lock_guard<std::mutex> lock(mu);
    return watches;
  }
};

// An outcome event as rules/default.yaml's transaction rule emits it.
inline sipwarden::v1::AgentReport Outcome(const std::string& src, const std::string& proxy,
                                          int status, const std::string& to_user) {
  rules::SyntheticEvent e;
  e.ts_ns = absl::ToUnixNanos(absl::Now());
  e.name = "outcome";
  e.has_flow = true;
  e.flow.src = *IpAddress::Parse(src);
  e.flow.dst = *IpAddress::Parse(proxy);
  e.flow.sport = 5070;
  e.flow.dport = 5060;
  e.Set("status", std::to_string(status));
  e.Set("method", "REGISTER");
  e.Set("to_user", to_user);
  sipwarden::v1::AgentReport r;
  *r.mutable_event() = ToForwarded(e);
  return r;
}

}  // namespace sw::controller
