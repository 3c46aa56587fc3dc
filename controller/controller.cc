// SPDX-License-Identifier: BSD-2-Clause
#include "controller.h"

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "http_api.h"
#include "sipwarden/ip.h"
#include "sipwarden/pem_file.h"
#include "sipwarden/v1/agent.grpc.pb.h"
#include "sipwarden/v1/honeypot.grpc.pb.h"
#include "sipwarden/v1/operator.grpc.pb.h"
#include "postgres_store.h"
#include "sqlite_store.h"

namespace sw::controller {

namespace v1 = sipwarden::v1;
using grpc::ServerContext;
using grpc::Status;
using grpc::StatusCode;

bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

namespace {

int64_t NowNs() { return absl::ToUnixNanos(absl::Now()); }

Status ToGrpc(const absl::Status& st) {
  if (st.ok()) return Status::OK;
  StatusCode code = StatusCode::INTERNAL;
  switch (st.code()) {
    case absl::StatusCode::kInvalidArgument: code = StatusCode::INVALID_ARGUMENT; break;
    case absl::StatusCode::kNotFound: code = StatusCode::NOT_FOUND; break;
    case absl::StatusCode::kFailedPrecondition: code = StatusCode::FAILED_PRECONDITION; break;
    case absl::StatusCode::kUnavailable: code = StatusCode::UNAVAILABLE; break;
    case absl::StatusCode::kPermissionDenied: code = StatusCode::PERMISSION_DENIED; break;
    case absl::StatusCode::kResourceExhausted: code = StatusCode::RESOURCE_EXHAUSTED; break;
    default: break;
  }
  return Status(code, std::string(st.message()));
}

Status Refused(const absl::Status& st) {
  return Status(st.code() == absl::StatusCode::kPermissionDenied ? StatusCode::PERMISSION_DENIED
                                                                 : StatusCode::UNAUTHENTICATED,
                std::string(st.message()));
}

// Where a report goes in the time series: when the agent made it (buffered
// reports land where they belong), unless that is in the future or more
// than a week back (a wrong clock): then now.
int64_t SeriesTime(int64_t ts_unix_ns) {
  const int64_t now = NowNs();
  if (ts_unix_ns <= 0 || ts_unix_ns > now + 60'000'000'000LL ||
      ts_unix_ns < now - 7LL * 24 * 3600 * 1000000000LL) {
    return now / 1000000000;
  }
  return ts_unix_ns / 1000000000;
}

bool IsLoopback(const std::string& listen) {
  return listen.starts_with("127.") || listen.starts_with("[::1]") ||
         listen.starts_with("localhost:");
}

}  // namespace

// ---- AgentService ------------------------------------------------------------

class Controller::AgentImpl final : public v1::AgentService::Service {
 public:
  AgentImpl(Controller* c) : c_(c) {}

  Status Register(ServerContext* ctx, const v1::RegisterRequest* req,
                  v1::RegisterResponse* resp) override {
    auto peer = c_->Who(ctx, false);
    if (!peer.ok()) return Refused(peer.status());
    const std::string* who = &peer->name;
    if (req->agent() != *who) {
      return Status(StatusCode::PERMISSION_DENIED,
                    absl::StrCat("registering as '", req->agent(), "' but connected as '", *who, "'"));
    }
    v1::AgentInfo a;
    a.set_agent(*who);
    a.set_hostname(req->hostname());
    *a.mutable_interfaces() = req->interfaces();
    a.set_version(req->version());
    a.set_ruleset_sha256(req->ruleset_sha256());
    a.set_last_seen_unix_ns(NowNs());
    if (auto st = c_->store_->UpsertAgent(a); !st.ok()) return ToGrpc(st);
    auto last = c_->store_->LastReportId(*who);
    if (!last.ok()) return ToGrpc(last.status());
    resp->set_decision_version(c_->table_->version());
    resp->set_last_report_id(*last);
    resp->set_now_unix_ns(NowNs());
    for (const auto& name : c_->central_->forward()) resp->add_forward_synthetic(name);
    if (!c_->options_.quiet) {
      std::cerr << "sipwarden-controller: agent " << *who << " registered (" << req->hostname()
                << ", " << req->version() << ")\n";
    }
    return Status::OK;
  }

  // Reports are stored by one writer thread in group commits (one
  // transaction for whatever all agents sent meanwhile); each stream's
  // acknowledgements go out from a second thread as commits land, so an
  // agent streams without waiting for each report's disk write.
  Status Report(ServerContext* ctx,
                grpc::ServerReaderWriter<v1::ReportAck, v1::ReportBatch>* stream) override {
    auto peer = c_->Who(ctx, false);
    if (!peer.ok()) return Refused(peer.status());
    const std::string who = peer->name;
    std::atomic<bool> reading{true};
    uint64_t last_queued = 0;  // queued_ after this stream's latest row (under wmu_)
    std::thread acker([&] {
      uint64_t sent = 0;
      std::unique_lock<std::mutex> lock(wmu_);
      while (true) {
        done_cv_.wait_for(lock, std::chrono::milliseconds(100), [&] {
          return committed_[who] > sent || (!reading && processed_ >= last_queued) ||
                 !write_error_.ok() || c_->stop_;
        });
        const uint64_t through = committed_[who];
        // The stream ends once the writer has been through everything it
        // read, duplicates too (they are acknowledged as stored already, and
        // counted when the writer gets to them).
        const bool finished =
            !reading && (processed_ >= last_queued || !write_error_.ok() || c_->stop_);
        if (through > sent) {
          sent = through;
          lock.unlock();
          v1::ReportAck ack;
          ack.set_stored_through(through);
          const bool ok = stream->Write(ack);
          lock.lock();
          if (!ok) break;
        }
        if (finished || c_->stop_) break;
      }
    });
    v1::ReportBatch m;
    while (stream->Read(&m)) {
      std::unique_lock<std::mutex> lock(wmu_);
      // Backpressure: while the writer is behind, this stream stops reading
      // (gRPC's flow control then holds the agent back): memory stays bounded.
      space_cv_.wait(lock, [&] { return wq_.size() < kMaxQueued || wstop_ || c_->stop_; });
      if (!write_error_.ok() || wstop_) break;
      for (auto& r : *m.mutable_reports()) {
        wq_.push_back({who, std::move(r)});
        last_queued = ++queued_;
      }
      wcv_.notify_one();
    }
    reading = false;
    done_cv_.notify_all();
    acker.join();
    std::lock_guard<std::mutex> lock(wmu_);
    return write_error_.ok() ? Status::OK : ToGrpc(write_error_);
  }

  void StartWriter() { writer_ = std::thread([this] { WriteLoop(); }); }
  void StopWriter() {
    {
      std::lock_guard<std::mutex> lock(wmu_);
      wstop_ = true;
    }
    wcv_.notify_all();
    space_cv_.notify_all();
    done_cv_.notify_all();
    if (writer_.joinable()) writer_.join();
  }

  Status WatchDecisions(ServerContext* ctx, const v1::WatchRequest* req,
                        grpc::ServerWriter<v1::DecisionBatch>* w) override {
    auto peer = c_->Who(ctx, false);
    if (!peer.ok()) return Refused(peer.status());
    const std::string* who = &peer->name;
    Connected(*who, +1);
    uint64_t at = req->since_version();
    uint64_t watch_seq = 0;  // media watches sent: the running ones first
    bool ok = CatchUp(at, w) && SendWatches(at, watch_seq, w);
    while (ok && !ctx->IsCancelled() && !c_->stop_) {
      const uint64_t v = c_->table_->WaitNewer(
          at, std::chrono::steady_clock::now() + std::chrono::milliseconds(500));
      if (v > at) ok = CatchUp(at, w);
      if (ok) ok = SendWatches(at, watch_seq, w);
      SetSent(*who, at);
    }
    Connected(*who, -1);
    if (c_->stop_) return Status(StatusCode::UNAVAILABLE, "the controller is shutting down");
    return Status::OK;
  }

  void WriteLoop() {
    std::unique_lock<std::mutex> lock(wmu_);
    while (true) {
      wcv_.wait(lock, [&] { return wstop_ || !wq_.empty(); });
      if (wq_.empty() && wstop_) return;
      std::vector<ReportRow> batch;
      batch.swap(wq_);
      space_cv_.notify_all();
      lock.unlock();
      std::vector<bool> stored;
      std::map<std::string, uint64_t> last;
      absl::Status st = c_->store_->StoreReportBatch(batch, &stored, &last);
      if (st.ok()) {
        uint64_t n = 0;
        std::vector<v1::ForwardedEvent> for_leader;  // shared stores: one append per batch
        for (size_t i = 0; i < batch.size(); ++i) {
          if (!stored[i]) continue;
          ++n;
          Apply(batch[i].agent, batch[i].report, &for_leader);
        }
        if (!for_leader.empty()) {
          // The leader runs the central rules, on every controller's events.
          if (auto fst = c_->store_->AppendEvents(for_leader); !fst.ok()) {
            std::cerr << "sipwarden-controller: forwarding " << for_leader.size()
                      << " events to the leader: " << fst.message() << "\n";
          }
        }
        c_->stats_.reports += n;
        c_->stats_.duplicates += batch.size() - n;
      } else {
        std::cerr << "sipwarden-controller: storing reports: " << st.message() << "\n";
      }
      lock.lock();
      if (st.ok()) {
        for (const auto& [agent, id] : last) committed_[agent] = std::max(committed_[agent], id);
      } else {
        write_error_ = absl::UnavailableError(absl::StrCat("reports not stored: ", st.message()));
      }
      processed_ += batch.size();
      done_cv_.notify_all();
    }
  }

  // Fills live state into stored agent rows.
  // Fills live state into stored agent rows. On a shared store an agent
  // may be connected to another controller: then the row's heartbeat
  // (Controller::Heartbeat) tells, and its counters and decision version
  // come from the row.
  void Decorate(v1::AgentInfo* a) {
    const bool shared = c_->store_->shared();
    if (shared) {
      auto& m = *a->mutable_counters();
      if (auto v = m.find(kVersionKey); v != m.end()) {
        a->set_decision_version(static_cast<uint64_t>(v->second));
        m.erase(v);
      }
      a->set_connected(NowNs() - a->last_seen_unix_ns() < kHeartbeatFreshNs);
    }
    std::lock_guard<std::mutex> lock(mu_);
    auto it = conn_.find(a->agent());
    if (it == conn_.end()) return;
    const bool here = it->second.watches > 0;
    if (!here && shared) return;  // maybe at another controller: the row tells
    a->set_connected(here);
    if (here) a->set_last_seen_unix_ns(NowNs());  // seen now: it is watching
    a->set_decision_version(it->second.sent);
    if (!it->second.counters.empty()) {
      a->mutable_counters()->clear();
      for (const auto& [k, v] : it->second.counters) (*a->mutable_counters())[k] = v;
    }
  }
  // The agents watching here: name -> (decision version sent, counters).
  std::map<std::string, std::pair<uint64_t, std::map<std::string, double>>> Here() {
    std::lock_guard<std::mutex> lock(mu_);
    std::map<std::string, std::pair<uint64_t, std::map<std::string, double>>> out;
    for (const auto& [name, c] : conn_) {
      if (c.watches > 0) out[name] = {c.sent, c.counters};
    }
    return out;
  }
  // Shared stores: the agent row's counters carry the decision version
  // sent to it under this key, for the other controllers.
  static constexpr const char* kVersionKey = "sipwarden_decision_version";
  static constexpr int64_t kHeartbeatFreshNs = 30'000'000'000LL;
  size_t connected() {
    std::lock_guard<std::mutex> lock(mu_);
    size_t n = 0;
    for (const auto& [k, v] : conn_) n += v.watches > 0;
    return n;
  }
  std::map<std::string, double> FleetCounters() {
    std::lock_guard<std::mutex> lock(mu_);
    std::map<std::string, double> sum;
    for (const auto& [agent, s] : conn_) {
      for (const auto& [k, v] : s.counters) sum[k] += v;
    }
    return sum;
  }

  // Alarms stored: followers wake up.
  void AlarmStored() {
    {
      std::lock_guard<std::mutex> lock(alarm_mu);
      ++alarm_seq;
    }
    alarm_cv.notify_all();
  }
  std::mutex alarm_mu;
  std::condition_variable alarm_cv;
  uint64_t alarm_seq = 0;

 private:
  // Media watches added since seq, in one batch that changes no decision.
  bool SendWatches(uint64_t at, uint64_t& seq, grpc::ServerWriter<v1::DecisionBatch>* w) {
    if (c_->watches_.added() == seq) return true;
    auto watches = c_->watches_.Since(seq, NowNs(), &seq);
    if (watches.empty()) return true;
    v1::DecisionBatch b;
    b.set_version(at);
    for (auto& mw : watches) *b.add_media_watches() = std::move(mw);
    return w->Write(b);
  }

  // Sends what changed since `at` (or a snapshot in pages); advances `at`.
  bool CatchUp(uint64_t& at, grpc::ServerWriter<v1::DecisionBatch>* w) {
    // A fresh agent (version 0) gets a snapshot: the decisions now, not
    // every change ever made.
    uint64_t v = at;
    auto changes = at == 0 ? std::nullopt : c_->table_->ChangesSince(at, &v);
    if (changes) {
      v1::DecisionBatch b;
      for (auto& ch : *changes) *b.add_changes() = std::move(ch);
      b.set_version(v);
      at = v;
      return w->Write(b);
    }
    auto [all, version] = c_->table_->Snapshot();
    const size_t page = std::max<size_t>(1, c_->options_.snapshot_page);
    size_t i = 0;
    do {
      v1::DecisionBatch b;
      b.set_snapshot(true);
      b.set_version(version);
      const size_t end = std::min(all.size(), i + page);
      for (; i < end; ++i) {
        auto* ch = b.add_changes();
        ch->set_kind(v1::DecisionChange::KIND_SET);
        ch->set_version(all[i].version());
        *ch->mutable_decision() = std::move(all[i]);
      }
      b.set_snapshot_done(i >= all.size());
      if (!w->Write(b)) return false;
    } while (i < all.size());
    at = version;
    return true;
  }

  void Apply(const std::string& agent, const v1::AgentReport& r,
             std::vector<v1::ForwardedEvent>* for_leader) {
    const int64_t ts_s = SeriesTime(r.ts_unix_ns());
    if (r.has_alarm()) {
      c_->series_.Count("alarms", agent, r.alarm().category(), ts_s, 1);
      AlarmStored();
    } else if (r.has_event()) {
      if (c_->store_->shared()) {
        for_leader->push_back(r.event());
      } else {
        c_->central_->Submit(r.event());
      }
    } else if (r.has_counters()) {
      std::map<std::string, double> values(r.counters().values().begin(),
                                           r.counters().values().end());
      c_->series_.Counters(agent, values, ts_s);
      std::lock_guard<std::mutex> lock(mu_);
      conn_[agent].counters = std::move(values);
    } else if (r.has_block()) {
      const auto& b = r.block();
      if (!c_->options_.fleet_reasons.contains(b.reason())) return;
      auto prefix = ParseDecisionPrefix(b.prefix());
      if (!prefix.ok()) return;
      const int64_t now = NowNs();
      if (b.expires_unix_ns() != 0 && b.expires_unix_ns() <= now) return;
      auto d = c_->table_->Block(*prefix, b.expires_unix_ns(), v1::ORIGIN_AGENT, b.reason(),
                                 agent, now);
      if (d.ok()) {
        ++c_->stats_.fleet_blocks;
        if (!c_->options_.quiet) {
          std::cerr << "sipwarden-controller: fleet block " << d->prefix() << " (" << b.reason()
                    << " at " << agent << ", version " << d->version() << ")\n";
        }
      } else {
        ++c_->stats_.fleet_blocks_refused;
      }
    }
  }

  void Connected(const std::string& agent, int delta) {
    std::lock_guard<std::mutex> lock(mu_);
    conn_[agent].watches += delta;
  }
  void SetSent(const std::string& agent, uint64_t v) {
    std::lock_guard<std::mutex> lock(mu_);
    conn_[agent].sent = v;
  }

  // The report writer (group commit).
  static constexpr size_t kMaxQueued = 50000;  // reports waiting for the writer
  std::mutex wmu_;
  std::condition_variable wcv_, done_cv_, space_cv_;
  std::vector<ReportRow> wq_;
  std::map<std::string, uint64_t> committed_;  // stored through, per agent
  // Rows ever queued, and rows the writer has been through (in queue order:
  // a stream whose last row was the n-th queued is through once
  // processed_ >= n).
  uint64_t queued_ = 0, processed_ = 0;
  absl::Status write_error_;
  bool wstop_ = false;
  std::thread writer_;

  struct Conn {
    int watches = 0;
    uint64_t sent = 0;
    std::map<std::string, double> counters;
  };
  Controller* c_;
  std::mutex mu_;
  std::map<std::string, Conn> conn_;
};

// ---- HoneypotService -----------------------------------------------------------

// A honeypot authenticates as an agent does (role agent: it may register and
// report, nothing of OperatorService). Its hits are stored in one transaction
// per batch, deduplicated by id, and only then handed to the policy, so that
// a resent hit never acts twice.
class Controller::HoneypotImpl final : public v1::HoneypotService::Service {
 public:
  HoneypotImpl(Controller* c) : c_(c) {}

  Status Register(ServerContext* ctx, const v1::HoneypotRegisterRequest* req,
                  v1::HoneypotRegisterResponse* resp) override {
    auto peer = c_->Who(ctx, false);
    if (!peer.ok()) return Refused(peer.status());
    if (req->honeypot() != peer->name) {
      return Status(StatusCode::PERMISSION_DENIED,
                    absl::StrCat("registering as honeypot '", req->honeypot(),
                                 "' but connected as '", peer->name, "'"));
    }
    v1::AgentInfo h;
    h.set_agent(peer->name);
    h.set_honeypot(true);
    h.set_hostname(req->hostname());
    h.set_version(req->version());
    *h.mutable_interfaces() = req->listen();
    h.set_deflector_users(req->deflector_users());
    h.set_last_seen_unix_ns(NowNs());
    if (auto st = c_->store_->UpsertHoneypot(h); !st.ok()) return ToGrpc(st);
    auto last = c_->store_->LastHitId(peer->name);
    if (!last.ok()) return ToGrpc(last.status());
    resp->set_last_hit_id(*last);
    resp->set_now_unix_ns(NowNs());
    if (!c_->options_.quiet) {
      std::cerr << "sipwarden-controller: honeypot " << peer->name << " registered ("
                << req->hostname() << ", " << req->version() << ", " << req->deflector_users()
                << " deflector users)\n";
    }
    return Status::OK;
  }

  Status ReportHits(ServerContext* ctx, const v1::HitBatch* req, v1::HitAck* resp) override {
    auto peer = c_->Who(ctx, false);
    if (!peer.ok()) return Refused(peer.status());
    const std::string& who = peer->name;
    // The whole batch is checked first: a bad hit refuses it all, nothing
    // stored (a hit skipped silently would be lost for good: the ids after
    // it would make its resend a duplicate).
    std::vector<v1::HoneypotHit> hits(req->hits().begin(), req->hits().end());
    uint64_t prev = 0;
    for (size_t i = 0; i < hits.size(); ++i) {
      auto& h = hits[i];
      const std::string where = absl::StrCat("hit ", i, " of the batch (id ", h.id(), ")");
      if (h.id() == 0) {
        return Status(StatusCode::INVALID_ARGUMENT, absl::StrCat(where, ": ids start at 1"));
      }
      if (h.id() <= prev) {
        return Status(
            StatusCode::INVALID_ARGUMENT,
            absl::StrCat(where, " follows id ", prev, ": hits go in increasing id order"));
      }
      prev = h.id();
      if (h.stage() != v1::HoneypotHit::STAGE_ARRIVED &&
          h.stage() != v1::HoneypotHit::STAGE_ENDED) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      absl::StrCat(where, ": stage ", static_cast<int>(h.stage()),
                                   " is neither STAGE_ARRIVED nor STAGE_ENDED"));
      }
      auto addr = IpAddress::Parse(h.src_ip());
      if (!addr.ok()) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      absl::StrCat(where, ": src_ip '", h.src_ip(), "' is not an IP address"));
      }
      h.set_src_ip(addr->ToString());  // one spelling, for filters and the policy
    }
    if (hits.empty()) {  // a honeypot asking how far it got: no row made
      auto last = c_->store_->LastHitId(who);
      if (!last.ok()) return ToGrpc(last.status());
      resp->set_stored_through(*last);
      return Status::OK;
    }
    std::vector<bool> stored;
    const int64_t now = NowNs();
    auto last = c_->store_->StoreHits(who, hits, now, &stored);
    if (!last.ok()) {
      std::cerr << "sipwarden-controller: storing hits of " << who << ": "
                << last.status().message() << "\n";
      return Status(StatusCode::UNAVAILABLE,
                    absl::StrCat("hits not stored: ", last.status().message()));
    }
    uint64_t n = 0;
    // The honeypot policy runs on one controller, the leader, so that its
    // windows see every honeypot's hits: the others queue them for it.
    std::vector<v1::ForwardedEvent> for_leader;
    const bool queue = c_->store_->shared() && !c_->leader();
    for (size_t i = 0; i < hits.size(); ++i) {
      if (!stored[i]) continue;
      ++n;
      if (queue) {
        for_leader.push_back(HitEvent(who, hits[i]));
      } else {
        Act(who, hits[i], now);
      }
      v1::StoredHit sh;
      sh.set_honeypot(who);
      sh.set_campaign(hits[i].audio_sha256());
      *sh.mutable_hit() = hits[i];
      c_->series_.Count("hits", who, hits[i].deflected() ? "deflected" : "direct",
                        now / 1000000000, 1);
      c_->HitStored(std::move(sh));
    }
    if (!for_leader.empty()) {
      if (auto st = c_->store_->AppendEvents(for_leader); !st.ok()) {
        std::cerr << "sipwarden-controller: queueing honeypot hits for the leader: "
                  << st.message() << "\n";
      }
    }
    c_->stats_.hits += n;
    c_->stats_.hit_duplicates += hits.size() - n;
    resp->set_stored_through(*last);
    return Status::OK;
  }

  // A hit queued for the leader, as a forwarded event of its own name.
  static constexpr const char* kHitEvent = "sipwarden-honeypot-hit";
  static v1::ForwardedEvent HitEvent(const std::string& honeypot, const v1::HoneypotHit& hit) {
    v1::ForwardedEvent e;
    e.set_name(kHitEvent);
    e.set_ts_unix_ns(hit.ts_unix_ns());
    auto* f = e.add_fields();
    f->set_name("honeypot");
    f->set_value(honeypot);
    f = e.add_fields();
    f->set_name("hit");
    f->set_value(absl::Base64Escape(hit.SerializeAsString()));
    return e;
  }
  // The leader: a hit another controller queued.
  void ActQueued(const v1::ForwardedEvent& e) {
    std::string honeypot, raw;
    for (const auto& f : e.fields()) {
      if (f.name() == "honeypot") honeypot = f.value();
      if (f.name() == "hit") absl::Base64Unescape(f.value(), &raw);
    }
    v1::HoneypotHit hit;
    if (honeypot.empty() || !hit.ParseFromString(raw)) {
      std::cerr << "sipwarden-controller: a queued honeypot hit is damaged: skipped\n";
      return;
    }
    Act(honeypot, hit, NowNs());
  }
  // On taking the leadership: the window's arrivals, as at start.
  absl::Status Replay() {
    if (!c_->options_.honeypot.enabled) return absl::OkStatus();
    const int64_t now = NowNs();
    HitFilter f;
    f.since_unix_ns = now - c_->options_.honeypot.window_ns;
    f.stage = v1::HoneypotHit::STAGE_ARRIVED;
    f.limit = 50000;
    auto recent = c_->store_->Hits(f);
    if (!recent.ok()) return recent.status();
    for (const auto& h : *recent) c_->policy_->Replay(h.honeypot(), h.hit(), now);
    return absl::OkStatus();
  }

 private:
  void Act(const std::string& honeypot, const v1::HoneypotHit& hit, int64_t now) {
    using O = HoneypotPolicy::Outcome;
    const auto r = c_->policy_->Observe(honeypot, hit, now);
    auto& s = c_->stats_;
    switch (r.outcome) {
      case O::kSpared:
        ++s.honeypot_spared;
        break;
      case O::kStale:
        ++s.honeypot_stale;
        break;
      case O::kGraylisted:
        ++s.honeypot_graylisted;
        break;
      case O::kBlocked:
        ++s.honeypot_blocked;
        break;
      case O::kRefused:
        ++s.honeypot_refused;
        std::cerr << "sipwarden-controller: honeypot policy for " << hit.src_ip() << ": "
                  << r.error.message() << "\n";
        return;
      default:
        return;
    }
    if (c_->options_.quiet) return;
    if (r.outcome == O::kSpared) {
      std::cerr << "sipwarden-controller: honeypot " << honeypot << ": " << hit.src_ip()
                << " called '" << hit.callee() << "' but an allow covers it: left alone\n";
    } else if (r.outcome == O::kGraylisted || r.outcome == O::kBlocked) {
      const auto& d = r.decision;
      std::cerr << "sipwarden-controller: fleet "
                << (r.outcome == O::kBlocked ? "block " : "graylist ") << d.prefix()
                << (r.outcome == O::kBlocked
                        ? ""
                        : absl::StrCat(" (", d.rate_per_s(), "/s, burst ", d.burst(), ")"))
                << " (honeypot " << honeypot << ", called '" << hit.callee() << "', version "
                << d.version() << ")\n";
    }
  }

  Controller* c_;
};

// ---- OperatorService -----------------------------------------------------------

class Controller::OperatorImpl final : public v1::OperatorService::Service {
 public:
  OperatorImpl(Controller* c) : c_(c) {}

  Status ListAgents(ServerContext* ctx, const v1::ListAgentsRequest*,
                    v1::ListAgentsResponse* resp) override {
    if (auto who = c_->Who(ctx, true); !who.ok()) return Refused(who.status());
    return ToGrpc(c_->ListAgents(resp));
  }

  Status ListAlarms(ServerContext* ctx, const v1::ListAlarmsRequest* req,
                    v1::ListAlarmsResponse* resp) override {
    if (auto who = c_->Who(ctx, true); !who.ok()) return Refused(who.status());
    return ToGrpc(c_->ListAlarms(*req, resp));
  }

  Status FollowAlarms(ServerContext* ctx, const v1::ListAlarmsRequest* req,
                      grpc::ServerWriter<v1::StoredAlarm>* w) override {
    if (auto who = c_->Who(ctx, true); !who.ok()) return Refused(who.status());
    auto row = c_->store_->LastAlarmRow();
    if (!row.ok()) return ToGrpc(row.status());
    int64_t at = *row;
    while (!ctx->IsCancelled() && !c_->stop_) {
      c_->WaitForAlarms(c_->AlarmSeq(), std::chrono::milliseconds(500));
      auto more = c_->store_->AlarmsAfter(at, 1000);
      if (!more.ok()) return ToGrpc(more.status());
      for (auto& [id, a] : *more) {
        at = id;
        if (!AlarmMatches(*req, a)) continue;
        if (!w->Write(a)) return Status::OK;
      }
    }
    return Status::OK;
  }

  Status Block(ServerContext* ctx, const v1::BlockRequest* req, v1::Decision* resp) override {
    return Change(ctx, resp, [&](const Peer& who) { return c_->Block(who, *req); });
  }
  Status Unblock(ServerContext* ctx, const v1::PrefixRequest* req, v1::Decision* resp) override {
    return Change(ctx, resp, [&](const Peer& who) { return c_->Unblock(who, req->prefix()); });
  }
  Status Allow(ServerContext* ctx, const v1::AllowRequest* req, v1::Decision* resp) override {
    return Change(ctx, resp, [&](const Peer& who) { return c_->Allow(who, *req); });
  }
  Status Disallow(ServerContext* ctx, const v1::PrefixRequest* req, v1::Decision* resp) override {
    return Change(ctx, resp, [&](const Peer& who) { return c_->Disallow(who, req->prefix()); });
  }

  Status ListDecisions(ServerContext* ctx, const v1::ListDecisionsRequest* req,
                       v1::ListDecisionsResponse* resp) override {
    if (auto who = c_->Who(ctx, true); !who.ok()) return Refused(who.status());
    return ToGrpc(c_->ListDecisions(*req, resp));
  }

  Status Stats(ServerContext* ctx, const v1::StatsRequest*, v1::StatsResponse* resp) override {
    if (auto who = c_->Who(ctx, true); !who.ok()) return Refused(who.status());
    return ToGrpc(c_->FleetStats(resp));
  }

  Status ListHoneypotHits(ServerContext* ctx, const v1::ListHitsRequest* req,
                          v1::ListHitsResponse* resp) override {
    if (auto who = c_->Who(ctx, true); !who.ok()) return Refused(who.status());
    return ToGrpc(c_->ListHits(*req, resp));
  }

  Status ListCampaigns(ServerContext* ctx, const v1::ListCampaignsRequest* req,
                       v1::ListCampaignsResponse* resp) override {
    if (auto who = c_->Who(ctx, true); !who.ok()) return Refused(who.status());
    return ToGrpc(c_->ListCampaigns(*req, resp));
  }

 private:
  template <typename F>
  Status Change(ServerContext* ctx, v1::Decision* resp, F&& f) {
    auto peer = c_->Who(ctx, true);
    if (!peer.ok()) return Refused(peer.status());
    auto d = f(*peer);
    if (!d.ok()) return ToGrpc(d.status());
    *resp = std::move(*d);
    return Status::OK;
  }
  Controller* c_;
};

// ---- the operator's calls (gRPC and HTTP) ---------------------------------------

bool AlarmMatches(const v1::ListAlarmsRequest& f, const v1::StoredAlarm& a) {
  const auto& al = a.alarm();
  return (f.category().empty() || al.category() == f.category()) &&
         (f.src_ip().empty() || al.src_ip() == f.src_ip()) &&
         (f.agent().empty() || a.agent() == f.agent());
}

absl::Status Controller::ListAgents(v1::ListAgentsResponse* resp) {
  auto agents = store_->Agents();
  if (!agents.ok()) return agents.status();
  const int64_t now_s = NowNs() / 1000000000;
  for (auto& a : *agents) {
    agent_service_->Decorate(&a);
    a.set_drops_per_s(series_.RecentRate("drops", a.agent(), now_s, 60));
    *resp->add_agents() = std::move(a);
  }
  // Honeypots after the agents, marked (honeypot = true).
  auto honeypots = store_->Honeypots();
  if (!honeypots.ok()) return honeypots.status();
  for (auto& h : *honeypots) *resp->add_agents() = std::move(h);
  return absl::OkStatus();
}

absl::Status Controller::ListAlarms(const v1::ListAlarmsRequest& req, v1::ListAlarmsResponse* resp) {
  AlarmFilter f{req.since_unix_ns(), req.category(), req.src_ip(), req.agent(),
                req.limit() ? std::min(req.limit(), 100000u) : 1000};
  auto alarms = store_->Alarms(f);
  if (!alarms.ok()) return alarms.status();
  for (auto& a : *alarms) *resp->add_alarms() = std::move(a);
  return absl::OkStatus();
}

absl::StatusOr<v1::Decision> Controller::Block(const Peer& who, const v1::BlockRequest& req) {
  auto prefix = ParseDecisionPrefix(req.prefix());
  if (!prefix.ok()) return prefix.status();
  constexpr int64_t kMaxTtl = 10LL * 365 * 24 * 3600;
  if (req.ttl_seconds() < 0 || req.ttl_seconds() > kMaxTtl) {
    return absl::InvalidArgumentError(absl::StrCat("ttl ", req.ttl_seconds(),
                                                   " s out of range (0..", kMaxTtl,
                                                   "; 0 = never expires)"));
  }
  const std::string reason = req.reason().empty() ? "manual" : req.reason();
  const int64_t now = NowNs();
  const int64_t expires = req.ttl_seconds() ? now + req.ttl_seconds() * 1000000000LL : 0;
  auto d = table_->Block(*prefix, expires, v1::ORIGIN_OPERATOR, reason, who.name, now);
  if (!d.ok()) return d.status();
  Audit(who.name, absl::StrCat("block ", d->prefix(), " ttl ", req.ttl_seconds(), "s reason ", reason));
  return d;
}

absl::StatusOr<v1::Decision> Controller::Unblock(const Peer& who, const std::string& text) {
  auto prefix = ParseDecisionPrefix(text);
  if (!prefix.ok()) return prefix.status();
  auto d = table_->Unblock(*prefix);
  if (!d.ok()) return d.status();
  Audit(who.name, absl::StrCat("unblock ", d->prefix()));
  return d;
}

absl::StatusOr<v1::Decision> Controller::Allow(const Peer& who, const v1::AllowRequest& req) {
  auto prefix = ParseDecisionPrefix(req.prefix());
  if (!prefix.ok()) return prefix.status();
  auto d = table_->Allow(*prefix, req.reason(), who.name, NowNs());
  if (!d.ok()) return d.status();
  Audit(who.name, absl::StrCat("allow ", d->prefix(),
                               req.reason().empty() ? "" : absl::StrCat(" (", req.reason(), ")")));
  return d;
}

absl::StatusOr<v1::Decision> Controller::Disallow(const Peer& who, const std::string& text) {
  auto prefix = ParseDecisionPrefix(text);
  if (!prefix.ok()) return prefix.status();
  auto d = table_->Disallow(*prefix);
  if (!d.ok()) return d.status();
  Audit(who.name, absl::StrCat("disallow ", d->prefix()));
  return d;
}

absl::Status Controller::ListDecisions(const v1::ListDecisionsRequest& req,
                                       v1::ListDecisionsResponse* resp) {
  std::optional<IpPrefix> within;
  if (!req.within().empty()) {
    auto p = ParseDecisionPrefix(req.within());
    if (!p.ok()) return p.status();
    within = *p;
  }
  // The page token is the last "prefix action" of the previous page.
  std::pair<std::string, int> after{"", 0};
  if (!req.page_token().empty()) {
    const size_t sp = req.page_token().rfind(' ');
    int action = 0;
    if (sp == std::string::npos || !absl::SimpleAtoi(req.page_token().substr(sp + 1), &action)) {
      return absl::InvalidArgumentError("bad page_token");
    }
    after = {req.page_token().substr(0, sp), action};
  }
  const uint32_t page = req.page_size() ? std::min(req.page_size(), 100000u) : 10000;
  bool more = false;
  uint64_t version = 0;
  auto list = table_->Page(
      after, page,
      [&](const IpPrefix& p, const v1::Decision& d) {
        if (req.action() != v1::ACTION_UNSPECIFIED && d.action() != req.action()) return false;
        if (req.origin() != v1::ORIGIN_UNSPECIFIED && d.origin() != req.origin()) return false;
        return !within || Covers(*within, p) || Covers(p, *within);
      },
      &more, &version);
  resp->set_version(version);
  for (auto& d : list) *resp->add_decisions() = std::move(d);
  if (more && !list.empty()) {
    const auto& last = *resp->decisions().rbegin();
    resp->set_next_page_token(absl::StrCat(last.prefix(), " ", static_cast<int>(last.action())));
  }
  return absl::OkStatus();
}

absl::Status Controller::FleetStats(v1::StatsResponse* resp) {
  resp->set_decision_version(table_->version());
  resp->set_blocks(table_->blocks());
  resp->set_allows(table_->allows());
  auto agents = store_->Agents();
  if (!agents.ok()) return agents.status();
  resp->set_agents(agents->size());
  size_t connected = 0;
  if (store_->shared()) {
    // The fleet's: agents connected to any controller (their heartbeats).
    for (auto& a : *agents) {
      agent_service_->Decorate(&a);
      connected += a.connected();
    }
  } else {
    connected = agent_service_->connected();
  }
  resp->set_agents_connected(connected);
  auto alarms = store_->AlarmCount();
  if (!alarms.ok()) return alarms.status();
  resp->set_alarms_stored(*alarms);
  resp->set_reports_stored(stats_.reports);
  resp->set_reports_duplicate(stats_.duplicates);
  resp->set_graylists(table_->graylists());
  auto honeypots = store_->Honeypots();
  if (!honeypots.ok()) return honeypots.status();
  resp->set_honeypots(honeypots->size());
  const auto& s = stats_;
  resp->set_hits_stored(s.hits);
  resp->set_hits_duplicate(s.hit_duplicates);
  resp->set_honeypot_graylisted(s.honeypot_graylisted);
  resp->set_honeypot_blocked(s.honeypot_blocked);
  resp->set_honeypot_spared_allowed(s.honeypot_spared);
  resp->set_honeypot_stale(s.honeypot_stale);
  if (store_->shared()) {
    for (const auto& a : *agents) {
      if (!a.connected()) continue;
      for (const auto& [k, v] : a.counters()) (*resp->mutable_fleet_counters())[k] += v;
    }
  } else {
    for (const auto& [k, v] : agent_service_->FleetCounters()) {
      (*resp->mutable_fleet_counters())[k] = v;
    }
  }
  return absl::OkStatus();
}

absl::Status Controller::ListHits(const v1::ListHitsRequest& req, v1::ListHitsResponse* resp) {
  HitFilter f;
  f.since_unix_ns = req.since_unix_ns();
  if (!req.src_ip().empty()) {
    // Stored in one spelling: the filter is read the same way.
    auto a = IpAddress::Parse(req.src_ip());
    if (!a.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("src_ip '", req.src_ip(), "' is not an IP address"));
    }
    f.src_ip = a->ToString();
  }
  f.callee = req.callee();
  f.honeypot = req.honeypot();
  f.deflected_only = req.deflected_only();
  if (!v1::HoneypotHit::Stage_IsValid(req.stage())) {
    return absl::InvalidArgumentError(
        absl::StrCat("no hit stage ", static_cast<int>(req.stage())));
  }
  f.stage = req.stage();
  f.limit = req.limit() ? std::min(req.limit(), 100000u) : 1000;
  auto hits = store_->Hits(f);
  if (!hits.ok()) return hits.status();
  for (auto& h : *hits) *resp->add_hits() = std::move(h);
  return absl::OkStatus();
}

absl::Status Controller::ListCampaigns(const v1::ListCampaignsRequest& req,
                                       v1::ListCampaignsResponse* resp) {
  auto list = store_->Campaigns(std::max(1u, req.min_sources()),
                                req.limit() ? std::min(req.limit(), 100000u) : 1000);
  if (!list.ok()) return list.status();
  for (auto& c : *list) *resp->add_campaigns() = std::move(c);
  return absl::OkStatus();
}

void Controller::Audit(const std::string& who, const std::string& what) {
  if (auto st = store_->Audit(NowNs(), who, what); !st.ok()) {
    std::cerr << "sipwarden-controller: audit log: " << st.message() << "\n";
  }
  if (!options_.quiet) std::cerr << "sipwarden-controller: " << who << ": " << what << "\n";
}

uint64_t Controller::AlarmSeq() {
  std::lock_guard<std::mutex> lock(agent_service_->alarm_mu);
  return agent_service_->alarm_seq;
}

void Controller::WaitForAlarms(uint64_t seen, std::chrono::milliseconds timeout) {
  auto& svc = *agent_service_;
  std::unique_lock<std::mutex> lock(svc.alarm_mu);
  svc.alarm_cv.wait_for(lock, timeout, [&] { return svc.alarm_seq != seen || stop_; });
}

void Controller::HitStored(v1::StoredHit hit) {
  std::lock_guard<std::mutex> lock(recent_hits_mu_);
  recent_hits_.emplace_back(++hit_seq_, std::move(hit));
  if (recent_hits_.size() > kRecentHits) recent_hits_.pop_front();
}

std::vector<std::pair<uint64_t, v1::StoredHit>> Controller::HitsAfter(uint64_t seq) {
  std::lock_guard<std::mutex> lock(recent_hits_mu_);
  std::vector<std::pair<uint64_t, v1::StoredHit>> out;
  for (const auto& h : recent_hits_) {
    if (h.first > seq) out.push_back(h);
  }
  return out;
}

uint64_t Controller::HitSeq() {
  std::lock_guard<std::mutex> lock(recent_hits_mu_);
  return hit_seq_;
}

// ---- the controller ----------------------------------------------------------------

absl::StatusOr<std::unique_ptr<Store>> OpenStore(const ControllerOptions& options) {
  if (IsPostgresUrl(options.db)) {
    PostgresOptions po;
    po.pool_size = options.db_pool;
    po.connect_retry = std::chrono::milliseconds(options.db_connect_retry_ms);
    auto pg = PostgresStore::Open(options.db, po);
    if (!pg.ok()) return pg.status();
    return std::unique_ptr<Store>(std::move(*pg));
  }
  auto lite = SqliteStore::Open(options.db);
  if (!lite.ok()) return lite.status();
  return std::unique_ptr<Store>(std::move(*lite));
}

absl::StatusOr<std::unique_ptr<Controller>> Controller::Start(ControllerOptions options) {
  if (options.db.empty()) {
    return absl::InvalidArgumentError("--db is required (a SQLite file or postgresql://...)");
  }
  IpAddress addr;
  uint16_t port = 0;
  if (auto st = ParseHostPort(options.listen, &addr, &port); !st.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--listen ", options.listen, ": ", st.message()));
  }
  const bool tls = !options.tls_cert.empty() || !options.tls_key.empty() || !options.tls_ca.empty();
  if (tls && (options.tls_cert.empty() || options.tls_key.empty() || options.tls_ca.empty())) {
    return absl::InvalidArgumentError("TLS needs all three of --tls-cert, --tls-key and --tls-ca");
  }
  if (!tls && !IsLoopback(options.listen) && !options.insecure) {
    return absl::FailedPreconditionError(absl::StrCat(
        "refusing to serve ", options.listen,
        " without TLS: only loopback addresses are served in the clear (give --insecure to "
        "serve this address anyway)"));
  }
  auto c = std::unique_ptr<Controller>(new Controller());
  c->options_ = std::move(options);
  auto store = OpenStore(c->options_);
  if (!store.ok()) return store.status();
  c->store_ = std::move(*store);
  c->table_ = std::make_unique<DecisionTable>(c->store_.get(), c->options_.history);
  if (auto st = c->table_->Load(NowNs()); !st.ok()) return st;
  // The graphs' history; a damaged dump is reported and the graphs start empty.
  if (auto dump = c->store_->GetState(c->SeriesKey()); !dump.ok()) {
    return dump.status();
  } else if (auto st = c->series_.Load(*dump); !st.ok()) {
    std::cerr << "sipwarden-controller: time series not restored: " << st.message() << "\n";
  }
  std::vector<rules::ConfigError> errors;
  auto central_rules = LoadCentralRules(c->options_.central_rules, &errors);
  if (!central_rules.ok()) {
    std::string all;
    for (const auto& e : errors) absl::StrAppend(&all, "\n", e.ToString());
    return absl::InvalidArgumentError(
        absl::StrCat("central rules: ", central_rules.status().message(), all));
  }
  Controller* self = c.get();
  CentralCorrelator::Sinks cs;
  cs.alarm = [self](const rules::Alarm& a, const std::string& json) {
    v1::Alarm out;
    out.set_json(json);
    out.set_rule(a.rule);
    out.set_category(a.category);
    out.set_severity(a.severity);
    out.set_signature(a.signature);
    if (a.has_flow) out.set_src_ip(a.src.ToString());
    out.set_ts_unix_ns(a.ts_ns);
    if (auto st = self->store_->StoreAlarm("controller", out); !st.ok()) {
      std::cerr << "sipwarden-controller: central alarm: " << st.message() << "\n";
      return;
    }
    self->series_.Count("alarms", "controller", a.category, NowNs() / 1000000000, 1);
    if (!self->options_.quiet) {
      std::cerr << "sipwarden-controller: central alarm (" << a.rule << "): " << a.signature << "\n";
    }
    self->agent_service_->AlarmStored();
  };
  cs.block = [self](const rules::BlockVerdict& v) {
    const int64_t now = NowNs();
    const int64_t expires = v.ttl_ns > 0 ? now + v.ttl_ns : 0;
    auto d = self->table_->Block(v.prefix, expires, v1::ORIGIN_CENTRAL_RULE,
                                 v.reason.empty() ? "anomaly" : v.reason, v.rule, now);
    if (d.ok() && !self->options_.quiet) {
      std::cerr << "sipwarden-controller: fleet block " << d->prefix() << " (central rule "
                << v.rule << ", version " << d->version() << ")\n";
    }
  };
  cs.watch = [self](const rules::WatchVerdict& v) {
    v1::MediaWatch mw;
    for (const auto& ep : v.endpoints) {
      *mw.add_endpoints() = ep.addr.is_v4() ? absl::StrCat(ep.addr.ToString(), ":", ep.port)
                                            : absl::StrCat("[", ep.addr.ToString(), "]:", ep.port);
    }
    mw.set_rule(v.rule);
    mw.set_owner(v.call_id);
    const int64_t starts = NowNs() + self->options_.watch_grace_ns;
    mw.set_starts_unix_ns(starts);
    mw.set_expires_unix_ns(starts + (v.ttl_ns > 0 ? v.ttl_ns : 60'000'000'000LL));
    if (!self->options_.quiet) {
      std::cerr << "sipwarden-controller: fleet media watch " << absl::StrJoin(mw.endpoints(), " ")
                << " (central rule " << v.rule << ")\n";
    }
    self->ShareWatch(mw);
    self->watches_.Add(std::move(mw));
    self->table_->Nudge();
  };
  c->policy_ = std::make_unique<HoneypotPolicy>(c->table_.get(), c->options_.honeypot);
  c->agent_service_ = std::make_unique<AgentImpl>(c.get());
  c->agent_service_->StartWriter();
  c->honeypot_service_ = std::make_unique<HoneypotImpl>(c.get());
  // The last window's arrivals (the newest 50,000): a source that hit a
  // deflector before the restart is not taken for a newcomer after it.
  if (auto st = c->honeypot_service_->Replay(); !st.ok()) return st;
  std::unique_ptr<profiles::ProfileWatch> watch;
  if (!c->options_.profiles.empty()) {
    auto w = profiles::ProfileWatch::Open(c->options_.profiles, c->options_.profiles_config,
                                          profiles::UnixNowUs());
    if (!w.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--profiles: ", w.status().message()));
    }
    watch = std::move(*w);
    if (!c->options_.quiet) {
      std::cerr << "sipwarden-controller: " << watch->stats().profiles << " account profiles from "
                << c->options_.profiles << " (agents forward their call records)\n";
    }
  }
  c->central_ = std::make_unique<CentralCorrelator>(*central_rules, std::move(cs), 100000,
                                                    std::move(watch),
                                                    c->options_.profiles_save_every);
  c->operator_service_ = std::make_unique<OperatorImpl>(c.get());

  std::shared_ptr<grpc::ServerCredentials> creds = grpc::InsecureServerCredentials();
  if (tls) {
    auto cert = sw::ReadPemFile(c->options_.tls_cert, "certificate (--tls-cert)");
    auto key = sw::ReadPemFile(c->options_.tls_key, "key (--tls-key)");
    auto ca = sw::ReadPemFile(c->options_.tls_ca, "CA bundle (--tls-ca)");
    for (const auto* st : {&cert.status(), &key.status(), &ca.status()}) {
      if (!st->ok()) return *st;
    }
    auto auth = Authenticator::WithCa(*ca);
    if (!auth.ok()) return auth.status();
    c->auth_ = std::move(*auth);
    // Client certificates are asked for but checked by the Authenticator,
    // so that a missing or foreign one gets UNAUTHENTICATED, not a failed
    // handshake.
    grpc::SslServerCredentialsOptions so(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_BUT_DONT_VERIFY);
    so.pem_root_certs = *ca;
    so.pem_key_cert_pairs.push_back({*key, *cert});
    creds = grpc::SslServerCredentials(so);
  } else {
    c->auth_ = Authenticator::Plain();
  }
  grpc::ServerBuilder b;
  b.AddListeningPort(c->options_.listen, creds, &c->port_);
  b.RegisterService(c->agent_service_.get());
  b.RegisterService(c->honeypot_service_.get());
  b.RegisterService(c->operator_service_.get());
  b.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, c->options_.max_streams_per_connection);
  b.SetMaxReceiveMessageSize(4 << 20);
  // Memory: gRPC's buffers are bounded as a whole, and windows do not grow
  // past the defaults for bulk report streams (bandwidth-delay probing).
  grpc::ResourceQuota quota("sipwarden-controller");
  quota.Resize(256u << 20);
  b.SetResourceQuota(quota);
  b.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  // Half-open connections: keepalive pings find dead peers.
  b.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 20000);
  b.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  b.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 5000);
  b.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  c->server_ = b.BuildAndStart();
  if (!c->server_ || c->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", c->options_.listen));
  }
  if (!c->options_.http_listen.empty()) {
    auto http = HttpApi::Start(c.get());
    if (!http.ok()) {
      c->Shutdown();
      return http.status();
    }
    c->http_ = std::move(*http);
  }
  c->housekeeping_ = std::thread([p = c.get()] { p->Housekeeping(); });
  if (c->store_->shared()) c->follower_ = std::thread([p = c.get()] { p->Follow(); });
  return c;
}

int Controller::http_port() const { return http_ ? http_->port() : 0; }

std::string Controller::SeriesKey() const {
  // Each controller of a shared store keeps its own agents' series.
  if (!store_->shared()) return "series";
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  return absl::StrCat("series@", host, "/", options_.listen);
}

void Controller::SaveSeries() {
  if (auto st = store_->PutState(SeriesKey(), series_.Serialize()); !st.ok()) {
    std::cerr << "sipwarden-controller: saving the time series: " << st.message() << "\n";
  }
}

Controller::~Controller() { Shutdown(); }

absl::StatusOr<Peer> Controller::Who(const grpc::ServerContext* ctx, bool operator_call) {
  auto p = auth_->Identify(ctx);
  if (!p.ok()) return p.status();
  if (operator_call && p->role != Role::kOperator) {
    return absl::PermissionDeniedError(
        absl::StrCat("'", p->name,
                     "' holds an agent's certificate: agents and honeypots report and watch, "
                     "only operators block, unblock, allow or read the fleet's state"));
  }
  return p;
}

void Controller::Shutdown() {
  if (stop_.exchange(true)) return;
  if (http_) http_->Stop();
  // The report writer first: it stores what it holds, and report streams
  // waiting for room in its queue give up.
  if (agent_service_) agent_service_->StopWriter();
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  if (housekeeping_.joinable()) housekeeping_.join();
  if (follower_.joinable()) follower_.join();
  central_.reset();  // its thread ends; it may still have stored (it uses the store)
  if (store_ && table_) SaveSeries();
}

void Controller::Wait() {
  if (server_) server_->Wait();
}

void Controller::Housekeeping() {
  auto next_prune = std::chrono::steady_clock::now();
  auto next_save = next_prune + std::chrono::nanoseconds(options_.series_save_ns);
  bool led = false;
  int64_t event_cursor = 0;  // forwarded events consumed (shared stores)
  auto next_heartbeat = next_prune;
  while (!stop_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (std::chrono::steady_clock::now() >= next_save) {
      next_save += std::chrono::nanoseconds(options_.series_save_ns);
      SaveSeries();
    }
    if (store_->shared() && std::chrono::steady_clock::now() >= next_heartbeat) {
      next_heartbeat =
          std::chrono::steady_clock::now() + std::chrono::nanoseconds(options_.heartbeat_ns);
      Heartbeat();
    }
    // The central jobs run on one controller: the leader (always this one
    // on an unshared store).
    const bool leader = store_->Leader();
    if (leader != led) {
      led = leader;
      leader_ = leader;
      if (store_->shared() && !options_.quiet) {
        std::cerr << "sipwarden-controller: " << (leader ? "took" : "lost")
                  << " the leadership of expiry, retention and the central rules\n";
      }
      // A new leader takes the forwarded events nobody consumed yet, and
      // the honeypot policy's window from the stored arrivals.
      event_cursor = 0;
      if (leader && store_->shared()) {
        if (auto st = honeypot_service_->Replay(); !st.ok()) {
          std::cerr << "sipwarden-controller: honeypot policy: " << st.message() << "\n";
        }
      }
    }
    if (!leader) continue;
    auto n = table_->Expire(NowNs());
    if (!n.ok()) std::cerr << "sipwarden-controller: expiry: " << n.status().message() << "\n";
    if (store_->shared()) ConsumeEvents(event_cursor);
    if (std::chrono::steady_clock::now() >= next_prune) {
      next_prune += std::chrono::minutes(1);
      if (auto st = store_->PruneAlarms(NowNs() - options_.alarm_max_age_ns,
                                        options_.alarm_max_count);
          !st.ok()) {
        std::cerr << "sipwarden-controller: alarm retention: " << st.message() << "\n";
      }
      if (auto st =
              store_->PruneHits(NowNs() - options_.alarm_max_age_ns, options_.alarm_max_count);
          !st.ok()) {
        std::cerr << "sipwarden-controller: hit retention: " << st.message() << "\n";
      }
      if (store_->shared()) {
        if (auto st = store_->PruneDecisionLog(options_.history); !st.ok()) {
          std::cerr << "sipwarden-controller: decision log retention: " << st.message() << "\n";
        }
      }
    }
  }
}

void Controller::Heartbeat() {
  // Shared stores: the agents watching here are marked seen in their rows,
  // with their last counters and decision version, so that every
  // controller's agent list and fleet counters show the whole fleet.
  const auto here = agent_service_->Here();
  if (here.empty()) return;
  auto agents = store_->Agents();
  if (!agents.ok()) {
    std::cerr << "sipwarden-controller: agents' heartbeat: " << agents.status().message() << "\n";
    return;
  }
  const int64_t now = NowNs();
  for (auto& a : *agents) {
    auto it = here.find(a.agent());
    if (it == here.end()) continue;
    a.set_last_seen_unix_ns(now);
    auto& m = *a.mutable_counters();
    if (!it->second.second.empty()) {
      m.clear();
      for (const auto& [k, v] : it->second.second) m[k] = v;
    }
    m[AgentImpl::kVersionKey] = static_cast<double>(it->second.first);
    if (auto st = store_->UpsertAgent(a); !st.ok()) {
      std::cerr << "sipwarden-controller: agents' heartbeat: " << st.message() << "\n";
      return;
    }
  }
}

void Controller::ConsumeEvents(int64_t& cursor) {
  // The agents' forwarded events, from whichever controller took them, into
  // this leader's central rules; consumed ones are deleted.
  while (!stop_) {
    auto events = store_->EventsAfter(cursor, 5000);
    if (!events.ok()) {
      std::cerr << "sipwarden-controller: forwarded events: " << events.status().message()
                << "\n";
      return;
    }
    if (events->empty()) return;
    for (const auto& [id, e] : *events) {
      if (e.name() == HoneypotImpl::kHitEvent) {
        honeypot_service_->ActQueued(e);
      } else {
        central_->Submit(e);
      }
      cursor = id;
    }
    if (auto st = store_->PruneEvents(cursor); !st.ok()) {
      std::cerr << "sipwarden-controller: forwarded events: " << st.message() << "\n";
    }
    if (events->size() < 5000) return;
  }
}

void Controller::Follow() {
  // Shared stores: the other controllers' decisions, as soon as the
  // database says there are some, and at least twice a second; the
  // leader's media watches, for this controller's agents.
  while (!stop_) {
    store_->WaitForDecisionNotice(std::chrono::milliseconds(500));
    if (stop_) break;
    if (auto st = table_->Sync(); !st.ok()) {
      std::cerr << "sipwarden-controller: following the decision log: " << st.message() << "\n";
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    FollowWatches();
  }
}

namespace {
std::string WatchKey(const v1::MediaWatch& w) {
  return absl::StrCat(w.rule(), "|", w.owner(), "|", w.starts_unix_ns(), "|",
                      absl::StrJoin(w.endpoints(), ","));
}
}  // namespace

void Controller::ShareWatch(const v1::MediaWatch& mw) {
  // The central rules run on the leader only: the watches they ask for are
  // published in the store for every controller's agents (FollowWatches).
  if (!store_->shared()) return;
  const int64_t now = NowNs();
  v1::DecisionBatch list;  // a container of watches, not decisions
  std::lock_guard<std::mutex> lock(shared_watches_mu_);
  shared_watches_seen_[WatchKey(mw)] = mw.expires_unix_ns();
  uint64_t through = 0;
  for (auto& w : watches_.Since(0, now, &through)) *list.add_media_watches() = std::move(w);
  *list.add_media_watches() = mw;
  if (auto st = store_->PutState("media_watches", list.SerializeAsString()); !st.ok()) {
    std::cerr << "sipwarden-controller: sharing a media watch: " << st.message() << "\n";
  }
}

void Controller::FollowWatches() {
  auto blob = store_->GetState("media_watches");
  if (!blob.ok() || blob->empty()) return;
  v1::DecisionBatch list;
  if (!list.ParseFromString(*blob)) return;
  const int64_t now = NowNs();
  bool added = false;
  std::lock_guard<std::mutex> lock(shared_watches_mu_);
  for (const auto& w : list.media_watches()) {
    if (w.expires_unix_ns() <= now) continue;
    if (!shared_watches_seen_.emplace(WatchKey(w), w.expires_unix_ns()).second) continue;
    watches_.Add(w);
    added = true;
  }
  std::erase_if(shared_watches_seen_, [&](const auto& kv) { return kv.second <= now; });
  if (added) table_->Nudge();
}

}  // namespace sw::controller
