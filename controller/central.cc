// SPDX-License-Identifier: BSD-2-Clause
#include "central.h"

#include <algorithm>
#include <chrono>

#include "absl/time/clock.h"
#include "sipwarden/ip.h"
#include "sipwarden/rules/alarm.h"

namespace sw::controller {

namespace v1 = sipwarden::v1;

absl::StatusOr<std::shared_ptr<const rules::RuleSet>> LoadCentralRules(
    const std::string& path, std::vector<rules::ConfigError>* errors) {
  if (path.empty()) return rules::LoadRuleText(DefaultCentralRulesYaml(), kCentralRulesName, errors);
  return rules::LoadRuleFile(path, errors);
}

namespace {
ev::Transport TransportFrom(std::string_view t) {
  if (t == "tcp") return ev::Transport::kTcp;
  if (t == "tls") return ev::Transport::kTls;
  if (t == "ws") return ev::Transport::kWs;
  if (t == "hep") return ev::Transport::kHep;
  return ev::Transport::kUdp;
}
}  // namespace

bool FromForwarded(const v1::ForwardedEvent& in, rules::SyntheticEvent* out) {
  if (in.name().empty()) return false;
  out->ts_ns = in.ts_unix_ns();
  out->name = in.name();
  out->has_flow = in.has_flow();
  if (in.has_flow()) {
    auto src = IpAddress::Parse(in.src_ip());
    auto dst = IpAddress::Parse(in.dst_ip());
    if (!src.ok() || !dst.ok() || in.src_port() > 65535 || in.dst_port() > 65535) return false;
    out->flow.ts_ns = in.ts_unix_ns();
    out->flow.src = *src;
    out->flow.dst = *dst;
    out->flow.sport = static_cast<uint16_t>(in.src_port());
    out->flow.dport = static_cast<uint16_t>(in.dst_port());
    out->flow.transport = TransportFrom(in.transport());
  }
  for (const auto& f : in.fields()) out->Set(f.name(), f.value());
  out->depth = 0;
  return true;
}

CentralCorrelator::CentralCorrelator(std::shared_ptr<const rules::RuleSet> rules, Sinks sinks,
                                     size_t max_queue)
    : sinks_(std::move(sinks)), max_queue_(max_queue) {
  forward_ = rules->SyntheticNamesMatched(&forward_all_);
  rules::EngineSinks es;
  es.alarm = [this](const rules::Alarm& a) {
    if (a.update) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.alarms;
    }
    if (sinks_.alarm) sinks_.alarm(a, rules::ToJson(a));
  };
  es.block = [this](const rules::BlockVerdict& v) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.blocks;
    }
    if (sinks_.block) sinks_.block(v);
  };
  es.watch = [this](const rules::WatchVerdict& v) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.watches;
    }
    if (sinks_.watch) sinks_.watch(v);
  };
  engine_ = std::make_unique<rules::Engine>(std::move(rules), std::move(es));
  thread_ = std::thread([this] { Run(); });
}

CentralCorrelator::~CentralCorrelator() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool CentralCorrelator::Wants(std::string_view name) const {
  return forward_all_ || std::binary_search(forward_.begin(), forward_.end(), name);
}

void CentralCorrelator::Submit(const v1::ForwardedEvent& in) {
  rules::SyntheticEvent e;
  const bool ok = Wants(in.name()) && FromForwarded(in, &e);
  std::lock_guard<std::mutex> lock(mu_);
  if (!ok) {
    ++stats_.rejected;
    return;
  }
  if (queue_.size() >= max_queue_) {
    ++stats_.dropped;
    return;
  }
  queue_.push_back(std::move(e));
  cv_.notify_all();
}

CentralCorrelator::Stats CentralCorrelator::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void CentralCorrelator::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::milliseconds(200), [this] { return stop_ || !queue_.empty(); });
    std::deque<rules::SyntheticEvent> batch;
    batch.swap(queue_);
    lock.unlock();
    // Events come from several agents with their own clocks: each counts at
    // its time, a late one at the engine's clock.
    for (const auto& e : batch) engine_->OnSynthetic(e);
    // Windows and timeouts run on the controller's clock when nothing comes.
    engine_->Advance(std::max(engine_->now(), absl::ToUnixNanos(absl::Now())));
    lock.lock();
    stats_.events += batch.size();
  }
}

}  // namespace sw::controller
