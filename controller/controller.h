// SPDX-License-Identifier: BSD-2-Clause
// sipwarden-controller as a library: the gRPC server (AgentService,
// HoneypotService and OperatorService of proto/sipwarden/v1), the decision
// table, the honeypot policy, the store and the housekeeping thread (expiry,
// alarm and hit retention). The main only parses flags; tests start it on an
// ephemeral loopback port.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "auth.h"
#include "central.h"
#include "decision_table.h"
#include "honeypot_policy.h"
#include "media_watches.h"
#include "series.h"
#include "sipwarden/v1/operator.pb.h"
#include "store.h"

namespace grpc {
class Server;
class ServerContext;
}

namespace sw::controller {

struct ControllerOptions {
  std::string listen = "127.0.0.1:50051";  // HOST:PORT; port 0 = any free one
  std::string db;  // a SQLite file, or postgresql://... (several controllers may share it)
  // PostgreSQL: connections in the pool, and how long to keep trying to
  // reach the server at start.
  size_t db_pool = 4;
  int64_t db_connect_retry_ms = 10000;
  // Serving on a non-loopback address without TLS needs this.
  bool insecure = false;
  // mTLS: the controller's certificate and key, and the CA that signs the
  // clients' certificates (PEM files). All three or none.
  std::string tls_cert, tls_key, tls_ca;
  // The central rules (a rule file; empty: the built-in rules/central.yaml).
  std::string central_rules;
  // The fleet's account profiles (docs/profiles.md): a directory
  // `sipwarden-profiles learn` wrote, fed with the call records agents
  // forward and compared by the central rules' compare_profiles; "" = none.
  std::string profiles;
  std::string profiles_config;  // its YAML settings ("" = those learned with)
  absl::Duration profiles_save_every = absl::Hours(6);
  // Agents' own blocks with these reasons become fleet decisions.
  std::set<std::string> fleet_reasons = {"flood", "scan", "bruteforce", "enumeration"};
  // Retention of alarms, and of honeypot hits (the same limits, each table
  // on its own).
  int64_t alarm_max_age_ns = 30LL * 24 * 3600 * 1000000000LL;
  uint64_t alarm_max_count = 1000000;
  // What honeypot hits do (honeypot_policy.h).
  HoneypotPolicyOptions honeypot;
  size_t snapshot_page = 10000;   // decisions per snapshot page
  size_t history = 200000;        // changes kept for incremental catch-up
  int max_streams_per_connection = 64;
  // The console and the JSON API (docs/api.md): HOST:PORT, empty = off;
  // port 0 = any free one. Same TLS files as gRPC; bearer tokens from
  // http_tokens (lines "ROLE NAME TOKEN"; empty = none).
  std::string http_listen;
  std::string http_tokens;
  // Shared stores: how often the agents connected here are marked seen in
  // the database (an agent counts as connected fleet-wide for 30 s after).
  int64_t heartbeat_ns = 10'000'000'000LL;
  // Time series saved to the store this often (and at shutdown).
  int64_t series_save_ns = 60'000'000'000LL;
  // A central rule's media watch starts this long after it is asked for, so
  // that media still in flight when a call ended is not reported.
  int64_t watch_grace_ns = 2'000'000'000;
  bool quiet = false;
};

// Counters of the controller itself (Stats and metrics).
struct ControllerStats {
  std::atomic<uint64_t> reports{0}, duplicates{0}, fleet_blocks{0}, fleet_blocks_refused{0};
  // Honeypot hits stored and resent; the policy's outcomes.
  std::atomic<uint64_t> hits{0}, hit_duplicates{0}, honeypot_graylisted{0}, honeypot_blocked{0},
      honeypot_spared{0}, honeypot_stale{0}, honeypot_refused{0};
};

class HttpApi;

// Opens the store --db names: PostgreSQL for a postgresql:// or postgres://
// URL (migrated once under an advisory lock, however many controllers start
// together), else SQLite.
absl::StatusOr<std::unique_ptr<Store>> OpenStore(const ControllerOptions& options);

class Controller {
 public:
  static absl::StatusOr<std::unique_ptr<Controller>> Start(ControllerOptions options);
  ~Controller();
  // The port it listens on (the chosen one when asked for 0).
  int port() const { return port_; }
  // The HTTP port (0 when not serving HTTP).
  int http_port() const;
  // Stops serving (open streams end with UNAVAILABLE) and the housekeeping.
  void Shutdown();
  // Blocks until Shutdown.
  void Wait();

  DecisionTable& decisions() { return *table_; }
  CentralCorrelator& central() { return *central_; }
  MediaWatches& media_watches() { return watches_; }
  Store& store() { return *store_; }
  HoneypotPolicy& honeypot_policy() { return *policy_; }
  const ControllerStats& stats() const { return stats_; }
  SeriesStore& series() { return series_; }
  const ControllerOptions& options() const { return options_; }
  Authenticator& authenticator() { return *auth_; }

  // The operator's calls, shared by gRPC's OperatorService and the HTTP API
  // (http_api.h). The caller has checked that `who` may make them; changes
  // are written to the audit log under who.name.
  absl::Status ListAgents(sipwarden::v1::ListAgentsResponse* resp);
  absl::Status ListAlarms(const sipwarden::v1::ListAlarmsRequest& req,
                          sipwarden::v1::ListAlarmsResponse* resp);
  absl::StatusOr<sipwarden::v1::Decision> Block(const Peer& who,
                                                const sipwarden::v1::BlockRequest& req);
  absl::StatusOr<sipwarden::v1::Decision> Unblock(const Peer& who, const std::string& prefix);
  absl::StatusOr<sipwarden::v1::Decision> Allow(const Peer& who,
                                                const sipwarden::v1::AllowRequest& req);
  absl::StatusOr<sipwarden::v1::Decision> Disallow(const Peer& who, const std::string& prefix);
  absl::Status ListDecisions(const sipwarden::v1::ListDecisionsRequest& req,
                             sipwarden::v1::ListDecisionsResponse* resp);
  absl::Status FleetStats(sipwarden::v1::StatsResponse* resp);
  absl::Status ListHits(const sipwarden::v1::ListHitsRequest& req,
                        sipwarden::v1::ListHitsResponse* resp);
  absl::Status ListCampaigns(const sipwarden::v1::ListCampaignsRequest& req,
                             sipwarden::v1::ListCampaignsResponse* resp);

  // Live news for followers (FollowAlarms, the HTTP event stream): a
  // sequence bumped whenever alarms are stored, and a wait for it to move.
  uint64_t AlarmSeq();
  void WaitForAlarms(uint64_t seen, std::chrono::milliseconds timeout);
  // The newest honeypot hits stored (at most kRecentHits), numbered.
  uint64_t HitSeq();
  std::vector<std::pair<uint64_t, sipwarden::v1::StoredHit>> HitsAfter(uint64_t seq);
  bool stopping() const { return stop_; }
  // Whether this controller runs the central jobs (always, unshared).
  bool leader() const { return leader_; }

 private:
  Controller() = default;
  class AgentImpl;
  class HoneypotImpl;
  class OperatorImpl;
  void Housekeeping();
  void Follow();
  void Heartbeat();
  void ShareWatch(const sipwarden::v1::MediaWatch& mw);
  void FollowWatches();
  void ConsumeEvents(int64_t& cursor);
  std::string SeriesKey() const;
  void Audit(const std::string& who, const std::string& what);
  void HitStored(sipwarden::v1::StoredHit hit);
  void SaveSeries();
  // The caller, refused (as a gRPC status) when unknown, or when an
  // operator's call comes from an agent.
  absl::StatusOr<Peer> Who(const grpc::ServerContext* ctx, bool operator_call);

  ControllerOptions options_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<DecisionTable> table_;
  MediaWatches watches_;
  std::unique_ptr<CentralCorrelator> central_;
  std::unique_ptr<HoneypotPolicy> policy_;
  std::unique_ptr<AgentImpl> agent_service_;
  std::unique_ptr<HoneypotImpl> honeypot_service_;
  std::unique_ptr<OperatorImpl> operator_service_;
  std::unique_ptr<grpc::Server> server_;
  ControllerStats stats_;
  SeriesStore series_;
  std::unique_ptr<HttpApi> http_;
  static constexpr size_t kRecentHits = 1000;
  std::mutex recent_hits_mu_;
  std::deque<std::pair<uint64_t, sipwarden::v1::StoredHit>> recent_hits_;
  uint64_t hit_seq_ = 0;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread housekeeping_;
  std::thread follower_;  // shared stores: follows the decision log
  std::atomic<bool> leader_{false};
  // Shared stores: media watches seen (this leader's, or read from the store).
  std::mutex shared_watches_mu_;
  std::map<std::string, int64_t> shared_watches_seen_;  // key -> expiry
};

// A valid agent, honeypot or operator name: 1..64 of [A-Za-z0-9._-].
bool ValidName(std::string_view name);
// Whether a stored alarm passes a request's filters (category, src_ip, agent).
bool AlarmMatches(const sipwarden::v1::ListAlarmsRequest& filter,
                  const sipwarden::v1::StoredAlarm& alarm);

}  // namespace sw::controller
