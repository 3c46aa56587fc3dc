// SPDX-License-Identifier: BSD-2-Clause
#include "central.h"

#include <algorithm>
#include <chrono>
#include <iostream>

#include "absl/time/clock.h"
#include "absl/strings/numbers.h"
#include "sipwarden/absl_compat.h"
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

bool ToProfileRecord(const rules::SyntheticEvent& e, profiles::CallRecord* r) {
  auto field = [&](std::string_view name) -> std::string_view {
    const std::string* v = e.Find(name);
    return v ? std::string_view(*v) : std::string_view();
  };
  r->account = field("caller_user");
  if (r->account.empty()) r->account = profiles::UriUser(field("caller_uri"));
  r->callee = field("callee_user");
  if (r->callee.empty()) r->callee = profiles::UriUser(field("callee_uri"));
  double duration = 0, billable = 0;
  if (r->account.empty() || r->callee.empty() || e.ts_ns <= 0 ||
      !absl::SimpleAtod(AV(field("duration")), &duration) || duration < 0 || duration > 1e7)
    return false;
  // The event is the call's end: it started duration before.
  r->start_us = e.ts_ns / 1000 - static_cast<int64_t>(duration * 1e6);
  r->answered = field("disposition") == "answered";
  r->billable_s = r->answered && absl::SimpleAtod(AV(field("billable")), &billable) && billable >= 0 &&
                          billable <= 1e7
                      ? billable
                      : 0;
  r->caller_ip = field("caller_ip");
  return true;
}

CentralCorrelator::CentralCorrelator(std::shared_ptr<const rules::RuleSet> rules, Sinks sinks,
                                     size_t max_queue,
                                     std::unique_ptr<profiles::ProfileWatch> profiles,
                                     absl::Duration profiles_save_every)
    : sinks_(std::move(sinks)),
      profiles_(std::move(profiles)),
      profiles_save_every_(profiles_save_every),
      max_queue_(max_queue) {
  forward_ = rules->SyntheticNamesMatched(&forward_all_);
  if (profiles_ && !std::binary_search(forward_.begin(), forward_.end(), kCallRecordEvent)) {
    forward_.emplace_back(kCallRecordEvent);
    std::sort(forward_.begin(), forward_.end());
  }
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
  es.compare_profiles = [this](const rules::ProfileCompare& pc) {
    if (profiles_) profiles_->Compare(pc.ts_ns, pc.account);
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

void CentralCorrelator::Submit(const std::vector<v1::ForwardedEvent>& in) {
  std::vector<rules::SyntheticEvent> ok;
  ok.reserve(in.size());
  uint64_t rejected = 0;
  for (const auto& f : in) {
    rules::SyntheticEvent e;
    if (Wants(f.name()) && FromForwarded(f, &e)) ok.push_back(std::move(e));
    else ++rejected;
  }
  std::lock_guard<std::mutex> lock(mu_);
  stats_.rejected += rejected;
  for (auto& e : ok) {
    if (queue_.size() >= max_queue_) {
      ++stats_.dropped;
      continue;
    }
    queue_.push_back(std::move(e));
  }
  cv_.notify_all();
}

CentralCorrelator::Stats CentralCorrelator::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void CentralCorrelator::FeedProfiles(const rules::SyntheticEvent& e) {
  if (!profiles_ || e.name != kCallRecordEvent) return;
  profiles::CallRecord r;
  if (ToProfileRecord(e, &r)) profiles_->Add(r);
  else profiles_->Skip();
}

void CentralCorrelator::DrainProfileAlarms() {
  if (!profiles_ || !profiles_->has_alarms()) return;
  for (const profiles::Alarm& a : profiles_->TakeAlarms()) {
    rules::Alarm ra;
    ra.ts_ns = ra.first_ns = a.ts_us * 1000;
    ra.signature = a.signature;
    ra.category = "anomaly";
    ra.rule = a.rule;
    if (auto ip = IpAddress::Parse(a.src_ip); ip.ok()) ra.has_flow = true, ra.src = *ip;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.alarms;
    }
    if (sinks_.alarm) sinks_.alarm(ra, a.json);
  }
}

void CentralCorrelator::SaveProfiles() {
  if (!profiles_) return;
  if (auto st = profiles_->Save(); !st.ok())
    std::cerr << "sipwarden-controller: saving the profiles: " << st.message() << "\n";
}

void CentralCorrelator::Run() {
  absl::Time next_save = absl::Now() + profiles_save_every_;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::milliseconds(200), [this] { return stop_ || !queue_.empty(); });
    std::deque<rules::SyntheticEvent> batch;
    batch.swap(queue_);
    lock.unlock();
    // Events come from several agents with their own clocks: each counts at
    // its time, a late one at the engine's clock.
    for (const auto& e : batch) {
      FeedProfiles(e);
      engine_->OnSynthetic(e);
      DrainProfileAlarms();
    }
    // Windows and timeouts run on the controller's clock when nothing comes.
    engine_->Advance(std::max(engine_->now(), absl::ToUnixNanos(absl::Now())));
    DrainProfileAlarms();
    if (profiles_ && profiles_save_every_ > absl::ZeroDuration() && absl::Now() >= next_save) {
      next_save = absl::Now() + profiles_save_every_;
      SaveProfiles();
    }
    lock.lock();
    stats_.events += batch.size();
    if (profiles_) stats_.profiles = profiles_->stats();
  }
  lock.unlock();
  SaveProfiles();
}

}  // namespace sw::controller
