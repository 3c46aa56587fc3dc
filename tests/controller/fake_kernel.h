// SPDX-License-Identifier: BSD-2-Clause
// What an agent's decision sink saw, for the tests that run real
// ControllerClients against controllers: the decisions it holds now.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

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

}  // namespace sw::controller
