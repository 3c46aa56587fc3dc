// SPDX-License-Identifier: BSD-2-Clause
// The controller's store in one SQLite file: WAL journal, synchronous=FULL
// (an acknowledged decision survives kill -9 and power loss), the schema
// versioned by PRAGMA user_version and upgraded by numbered migrations.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "store.h"

struct sqlite3;

namespace sw::controller {

class SqliteStore final : public Store {
 public:
  // Opens (creating) the database at path and migrates it to the newest
  // schema. A database newer than this program is refused.
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(const std::string& path);
  // The schema version of an existing database file, read only (nothing
  // created or migrated): `sipwarden-controller db check`.
  static absl::StatusOr<int> PeekSchema(const std::string& path);
  // The schema version this program writes.
  static int SchemaVersion();
  // Opens at exactly schema version `version` (tests of the upgrade path).
  static absl::StatusOr<std::unique_ptr<SqliteStore>> OpenAtVersion(const std::string& path,
                                                                    int version);
  ~SqliteStore() override;
  int schema_version() const { return schema_; }

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

 private:
  SqliteStore() = default;
  static absl::StatusOr<std::unique_ptr<SqliteStore>> OpenUpTo(const std::string& path,
                                                               int version);
  absl::Status Exec(const char* sql);
  absl::Status Error(const char* what);

  std::mutex mu_;
  sqlite3* db_ = nullptr;
  std::string path_;
  int schema_ = 0;
};

}  // namespace sw::controller
