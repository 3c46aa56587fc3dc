// SPDX-License-Identifier: BSD-2-Clause
// The controller's store in PostgreSQL, shared by several controllers
// (--db postgresql://...). Through libpq: a fixed pool of connections for
// the calls (a broken one is replaced, with backoff, so that an outage ends
// without restarting the controller: calls during it fail UNAVAILABLE with
// libpq's message), one more session that LISTENs for decision notices and
// one that holds leadership (an advisory lock).
//
// Same semantics as SqliteStore call for call (each call one transaction,
// duplicate report and hit ids skipped and counted, also across
// controllers: the agent's or honeypot's row is locked FOR UPDATE), plus the
// shared store's calls of store.h: decisions numbered from the sequence
// decision_version under an advisory transaction lock (so versions commit in
// order), logged in decision_log and announced by NOTIFY
// sipwarden_decisions; the forwarded-events queue.
//
// The schema is versioned in the table sw_schema (one row per migration
// applied) and migrated under pg_advisory_lock, so that controllers starting
// together migrate it once. Its versions 1-4 are SQLite's four migrations
// written for PostgreSQL; version 5 adds the shared store's tables, which
// SQLite has not, so PostgresStore::SchemaVersion() (5) and
// SqliteStore::SchemaVersion() (4) differ and are kept apart.
//
// Needs: a database whose user may create tables in its public schema (the
// owner, on PostgreSQL 15); sessions that last (LISTEN and session advisory
// locks: no transaction-pooling proxy such as PgBouncer in transaction
// mode in between). Advisory lock keys 0x5357524400000001-5 (one database
// per fleet).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "store.h"

typedef struct pg_conn PGconn;

namespace sw::controller {

// postgresql://... or postgres://... (libpq's URI forms).
bool IsPostgresUrl(std::string_view s);

struct PostgresOptions {
  // Connections for the calls (the LISTEN and leadership sessions come on
  // top of these).
  size_t pool_size = 4;
  // At start: how long to keep retrying to reach the server before giving
  // up ("cannot reach PostgreSQL at HOST:PORT/DB: ...").
  std::chrono::milliseconds connect_retry{10000};
  // libpq's connect_timeout for each attempt, unless the URL sets one.
  std::chrono::seconds connect_timeout{5};
  // Bring an older schema up to date (false: leave it, and report its
  // version through schema_version(): `sipwarden-controller db check`).
  bool migrate = true;
};

class PostgresStore final : public Store {
 public:
  // Connects (retrying for o.connect_retry), migrates the schema to the
  // newest (once, under an advisory lock, whatever other controllers do at
  // the same time) and fills the pool. A database with a newer schema is
  // refused (FAILED_PRECONDITION naming both versions). Messages never
  // carry the URL's password.
  static absl::StatusOr<std::unique_ptr<PostgresStore>> Open(const std::string& url,
                                                             const PostgresOptions& o);
  // The schema version this program writes (5; SQLite's is 4).
  static int SchemaVersion();
  ~PostgresStore() override;

  int schema_version() const override { return schema_; }
  // "HOST:PORT/DB" of the server, for messages (no user, no password).
  const std::string& where() const { return where_; }

  // Not for a shared store: the versions come from the database
  // (CommitDecisions). FAILED_PRECONDITION.
  absl::Status ApplyDecisions(const std::vector<StoredChange>& changes, uint64_t version) override;
  absl::StatusOr<LoadedDecisions> LoadDecisions() override;
  absl::Status UpsertAgent(const sipwarden::v1::AgentInfo& agent) override;
  absl::StatusOr<std::vector<sipwarden::v1::AgentInfo>> Agents() override;
  absl::StatusOr<uint64_t> StoreReports(const std::string& agent,
                                        const std::vector<sipwarden::v1::AgentReport>& reports,
                                        uint64_t* duplicates) override;
  absl::Status StoreReportBatch(const std::vector<ReportRow>& rows, std::vector<bool>* stored,
                                std::map<std::string, uint64_t>* last) override;
  absl::StatusOr<uint64_t> LastReportId(const std::string& agent) override;
  absl::Status StoreAlarm(const std::string& origin, const sipwarden::v1::Alarm& a) override;
  absl::StatusOr<std::vector<sipwarden::v1::StoredAlarm>> Alarms(const AlarmFilter& f) override;
  absl::StatusOr<std::vector<std::pair<int64_t, sipwarden::v1::StoredAlarm>>> AlarmsAfter(
      int64_t row_id, uint32_t limit) override;
  absl::StatusOr<int64_t> LastAlarmRow() override;
  absl::Status PruneAlarms(int64_t min_ts_unix_ns, uint64_t max_count) override;
  absl::StatusOr<uint64_t> AlarmCount() override;
  absl::Status UpsertHoneypot(const sipwarden::v1::AgentInfo& honeypot) override;
  absl::StatusOr<std::vector<sipwarden::v1::AgentInfo>> Honeypots() override;
  absl::StatusOr<uint64_t> StoreHits(const std::string& honeypot,
                                     const std::vector<sipwarden::v1::HoneypotHit>& hits,
                                     int64_t now_unix_ns, std::vector<bool>* stored) override;
  absl::StatusOr<uint64_t> LastHitId(const std::string& honeypot) override;
  absl::StatusOr<std::vector<sipwarden::v1::StoredHit>> Hits(const HitFilter& filter) override;
  absl::StatusOr<std::vector<sipwarden::v1::Campaign>> Campaigns(uint32_t min_sources,
                                                                 uint32_t limit) override;
  absl::Status PruneHits(int64_t min_ts_unix_ns, uint64_t max_count) override;
  absl::StatusOr<uint64_t> HitCount() override;
  absl::Status Audit(int64_t ts_unix_ns, const std::string& who, const std::string& what) override;
  absl::StatusOr<std::vector<std::string>> AuditLog(uint32_t limit) override;
  absl::Status PutState(const std::string& key, const std::string& value) override;
  absl::StatusOr<std::string> GetState(const std::string& key) override;

  bool shared() const override { return true; }
  absl::StatusOr<std::vector<uint64_t>> CommitDecisions(
      const std::vector<sipwarden::v1::DecisionChange>& changes) override;
  absl::StatusOr<std::vector<sipwarden::v1::DecisionChange>> DecisionChangesSince(
      uint64_t after, size_t limit) override;
  absl::Status PruneDecisionLog(size_t keep) override;
  bool WaitForDecisionNotice(std::chrono::milliseconds timeout) override;
  bool Leader() override;
  absl::Status AppendEvents(const std::vector<sipwarden::v1::ForwardedEvent>& events) override;
  absl::StatusOr<std::vector<std::pair<int64_t, sipwarden::v1::ForwardedEvent>>> EventsAfter(
      int64_t id, size_t limit) override;
  absl::StatusOr<int64_t> LastEventId() override;
  absl::Status PruneEvents(int64_t through_id) override;
  std::map<std::string, double> Counters() override;

  class Tx;  // one transaction on a pooled connection (postgres_store.cc)

 private:
  struct Lease;
  PostgresStore() = default;

  PGconn* Connect(std::string* error);
  absl::Status Migrate(PGconn* c);
  // Runs body in one transaction on a pooled connection; retried on a
  // deadlock or serialisation failure, and once on a connection found
  // broken before anything was sent (the server restarted while it idled).
  absl::Status WithTx(const char* what, bool read_only_snapshot,
                      const std::function<absl::Status(Tx&)>& body);
  PGconn* AcquireConn();
  void ReleaseConn(PGconn* c);
  // Replaces a broken (or never made) connection, with backoff between
  // attempts shared by the pool.
  absl::Status Reconnect(PGconn** c);

  std::vector<const char*> keys_, values_;  // connection parameters
  std::vector<std::string> params_;         // their storage
  std::string where_;
  int schema_ = 0;
  size_t pool_size_ = 0;
  bool migrate_ = true;

  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::vector<PGconn*> free_;
  size_t in_use_ = 0;
  std::chrono::steady_clock::time_point next_attempt_{};
  std::chrono::milliseconds backoff_{0};
  std::string last_connect_error_;

  // The LISTEN session.
  std::mutex listen_mu_;
  PGconn* listen_ = nullptr;
  bool listened_once_ = false;
  std::chrono::steady_clock::time_point listen_next_attempt_{};

  // The leadership session.
  std::mutex leader_mu_;
  PGconn* leader_ = nullptr;
  std::atomic<bool> leading_{false};
  bool leader_connected_once_ = false;
  std::chrono::steady_clock::time_point leader_checked_{};
  std::chrono::steady_clock::time_point leader_next_attempt_{};

  std::atomic<uint64_t> reconnects_{0};
  std::atomic<uint64_t> errors_{0};
};

}  // namespace sw::controller
