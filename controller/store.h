// SPDX-License-Identifier: BSD-2-Clause
// Everything the controller keeps, behind one interface: SQLite today
// (sqlite_store.h), PostgreSQL later, the rest of the controller unchanged.
// Every call is one transaction: it is stored whole or not at all.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "sipwarden/v1/agent.pb.h"
#include "sipwarden/v1/decisions.pb.h"
#include "sipwarden/v1/honeypot.pb.h"
#include "sipwarden/v1/operator.pb.h"

namespace sw::controller {

// A decision change as stored: set (insert or replace) or delete.
struct StoredChange {
  bool remove = false;
  sipwarden::v1::Decision decision;  // prefix and action identify it
};

struct LoadedDecisions {
  std::vector<sipwarden::v1::Decision> decisions;
  uint64_t version = 0;  // the highest version ever given out
};

struct AlarmFilter {
  int64_t since_unix_ns = 0;
  std::string category, src_ip, agent;
  uint32_t limit = 1000;
};

struct HitFilter {
  int64_t since_unix_ns = 0;
  // Empty: any. src_ip as the store keeps it (normalised, see StoreHits).
  std::string src_ip, callee, honeypot;
  bool deflected_only = false;
  // STAGE_UNSPECIFIED: both stages.
  sipwarden::v1::HoneypotHit::Stage stage = sipwarden::v1::HoneypotHit::STAGE_UNSPECIFIED;
  uint32_t limit = 1000;  // the newest this many, newest last
};

// A report to store: the agent's report and who sent it.
struct ReportRow {
  std::string agent;
  sipwarden::v1::AgentReport report;
};

class Store {
 public:
  virtual ~Store() = default;

  // Decisions: applies the changes and records version as the highest
  // given out, atomically.
  virtual absl::Status ApplyDecisions(const std::vector<StoredChange>& changes,
                                      uint64_t version) = 0;
  virtual absl::StatusOr<LoadedDecisions> LoadDecisions() = 0;

  // Agents: inserts or updates (first_seen kept, counters replaced when given).
  virtual absl::Status UpsertAgent(const sipwarden::v1::AgentInfo& agent) = 0;
  virtual absl::StatusOr<std::vector<sipwarden::v1::AgentInfo>> Agents() = 0;

  // Reports of one agent, in id order. Reports with an id at or below the
  // agent's highest stored id are duplicates: skipped and counted. Returns
  // the highest stored id afterwards.
  virtual absl::StatusOr<uint64_t> StoreReports(const std::string& agent,
                                                const std::vector<sipwarden::v1::AgentReport>& reports,
                                                uint64_t* duplicates) = 0;
  // Reports of several agents in one transaction (group commit): rows in
  // arrival order; stored[i] tells whether rows[i] was new, last the highest
  // stored id per agent afterwards.
  virtual absl::Status StoreReportBatch(const std::vector<ReportRow>& rows,
                                        std::vector<bool>* stored,
                                        std::map<std::string, uint64_t>* last) = 0;
  virtual absl::StatusOr<uint64_t> LastReportId(const std::string& agent) = 0;
  // An alarm of the controller's own (central rules), under origin.
  virtual absl::Status StoreAlarm(const std::string& origin, const sipwarden::v1::Alarm& a) = 0;
  virtual absl::StatusOr<std::vector<sipwarden::v1::StoredAlarm>> Alarms(
      const AlarmFilter& filter) = 0;
  // Alarms after the row id; for following. Returns them with their row ids.
  virtual absl::StatusOr<std::vector<std::pair<int64_t, sipwarden::v1::StoredAlarm>>> AlarmsAfter(
      int64_t row_id, uint32_t limit) = 0;
  virtual absl::StatusOr<int64_t> LastAlarmRow() = 0;
  // Keeps at most max_count alarms, none older than min_ts_unix_ns.
  virtual absl::Status PruneAlarms(int64_t min_ts_unix_ns, uint64_t max_count) = 0;
  virtual absl::StatusOr<uint64_t> AlarmCount() = 0;

  // Honeypots: inserts or updates one (first_seen kept). AgentInfo's fields
  // as ListAgents shows them: agent = the honeypot's name, interfaces = the
  // SIP addresses it answers on, deflector_users, last_seen_unix_ns.
  virtual absl::Status UpsertHoneypot(const sipwarden::v1::AgentInfo& honeypot) = 0;
  // Every honeypot (honeypot = true, reports = hits stored from it).
  virtual absl::StatusOr<std::vector<sipwarden::v1::AgentInfo>> Honeypots() = 0;
  // Hits of one honeypot, in id order, in one transaction. A hit whose id is
  // at or below the honeypot's highest stored id is a duplicate: skipped.
  // stored[i] tells whether hits[i] was new; returns the highest stored id
  // afterwards. A hit without a time is stored at now_unix_ns. The caller
  // has checked the hits (ids increasing, addresses valid).
  virtual absl::StatusOr<uint64_t> StoreHits(const std::string& honeypot,
                                             const std::vector<sipwarden::v1::HoneypotHit>& hits,
                                             int64_t now_unix_ns, std::vector<bool>* stored) = 0;
  virtual absl::StatusOr<uint64_t> LastHitId(const std::string& honeypot) = 0;
  virtual absl::StatusOr<std::vector<sipwarden::v1::StoredHit>> Hits(const HitFilter& filter) = 0;
  // Calls (STAGE_ENDED hits with an audio hash) grouped by the hash: those
  // with at least min_sources distinct sources, at most limit, the ones with
  // the latest calls, newest last.
  virtual absl::StatusOr<std::vector<sipwarden::v1::Campaign>> Campaigns(uint32_t min_sources,
                                                                         uint32_t limit) = 0;
  // Keeps at most max_count hits, none older than min_ts_unix_ns (the
  // honeypots' highest ids stay: a resent old hit is still a duplicate).
  virtual absl::Status PruneHits(int64_t min_ts_unix_ns, uint64_t max_count) = 0;
  virtual absl::StatusOr<uint64_t> HitCount() = 0;

  // The audit log of operator actions.
  virtual absl::Status Audit(int64_t ts_unix_ns, const std::string& who,
                             const std::string& what) = 0;
  virtual absl::StatusOr<std::vector<std::string>> AuditLog(uint32_t limit) = 0;

  // Small named values of the controller's own (the time series dump):
  // replaced whole; GetState gives "" for a key never put.
  virtual absl::Status PutState(const std::string& key, const std::string& value) = 0;
  virtual absl::StatusOr<std::string> GetState(const std::string& key) = 0;

  // ---- several controllers on one database (PostgreSQL) ---------------------
  // A shared store is written by other controllers too. Then decision
  // versions come from the database (CommitDecisions numbers the changes
  // from a sequence, in commit order), every controller follows the
  // database's change log (DecisionChangesSince, woken by
  // WaitForDecisionNotice) for the others' changes, the central jobs run on
  // the one controller that holds leadership, and the agents' forwarded
  // events reach that leader through the store. A store that is not shared
  // (SQLite) never sees these calls except shared() and Leader().
  virtual bool shared() const { return false; }
  // Stores the changes and gives each the next version from the database's
  // sequence, under a lock held to the commit, so that versions are
  // committed in increasing order (a reader that has seen version v never
  // later finds a change below v appear). Returns the versions, one per
  // change; each change's decision is stored with its version set.
  // Nothing is stored on error.
  virtual absl::StatusOr<std::vector<uint64_t>> CommitDecisions(
      const std::vector<sipwarden::v1::DecisionChange>& changes) {
    (void)changes;
    return absl::UnimplementedError("CommitDecisions: not a shared store");
  }
  // The logged changes with a version above `after`, oldest first, at most
  // limit (each with its version and its decision's version set).
  // OUT_OF_RANGE when changes after `after` have been pruned from the log:
  // the caller reloads everything (LoadDecisions).
  virtual absl::StatusOr<std::vector<sipwarden::v1::DecisionChange>> DecisionChangesSince(
      uint64_t after, size_t limit) {
    (void)after;
    (void)limit;
    return absl::UnimplementedError("DecisionChangesSince: not a shared store");
  }
  // Keeps the newest `keep` logged changes (the leader's retention).
  virtual absl::Status PruneDecisionLog(size_t keep) {
    (void)keep;
    return absl::OkStatus();
  }
  // Waits until a controller commits decisions (LISTEN/NOTIFY) or the
  // timeout passes; true when notified. Notices can be lost (across
  // reconnects): callers catch up by version whatever this returns.
  virtual bool WaitForDecisionNotice(std::chrono::milliseconds timeout) {
    std::this_thread::sleep_for(timeout);
    return false;
  }
  // Leadership of the central jobs (expiry, retention, central rules): tries
  // to take it or checks it is still held (an advisory lock on a session of
  // its own, lost when that session ends: a controller that dies gives it
  // up). A store that is not shared always leads.
  virtual bool Leader() { return true; }
  // Events the agents forwarded for the central rules, queued for the
  // leader: appended by whichever controller an agent reports to, read in
  // id order by the leader.
  virtual absl::Status AppendEvents(const std::vector<sipwarden::v1::ForwardedEvent>& events) {
    (void)events;
    return absl::UnimplementedError("AppendEvents: not a shared store");
  }
  virtual absl::StatusOr<std::vector<std::pair<int64_t, sipwarden::v1::ForwardedEvent>>>
  EventsAfter(int64_t id, size_t limit) {
    (void)id;
    (void)limit;
    return absl::UnimplementedError("EventsAfter: not a shared store");
  }
  virtual absl::StatusOr<int64_t> LastEventId() {
    return absl::UnimplementedError("LastEventId: not a shared store");
  }
  // Deletes the queued events up to and including id.
  virtual absl::Status PruneEvents(int64_t through_id) {
    (void)through_id;
    return absl::OkStatus();
  }
  // The store's own counters for /metrics (name -> value), e.g.
  // "db_reconnects_total", "db_errors_total", "db_pool_size",
  // "db_pool_in_use"; exposed as sipwarden_controller_<name>.
  virtual std::map<std::string, double> Counters() { return {}; }
  // The schema version of the database and the one this build writes.
  virtual int schema_version() const = 0;
};

}  // namespace sw::controller
