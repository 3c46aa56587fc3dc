// SPDX-License-Identifier: BSD-2-Clause
#include "sqlite_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace sw::controller {
namespace {

// Migration N takes the schema from version N to N + 1. Never edit one that
// shipped: add the next.
constexpr const char* kMigrations[] = {
    // 0 -> 1: the first schema.
    R"sql(
CREATE TABLE decisions (
  prefix TEXT NOT NULL,
  action INTEGER NOT NULL,
  origin INTEGER NOT NULL,
  reason TEXT NOT NULL,
  source TEXT NOT NULL,
  created_ns INTEGER NOT NULL,
  expires_ns INTEGER NOT NULL,
  version INTEGER NOT NULL,
  PRIMARY KEY (prefix, action)
);
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO meta VALUES ('decision_version', 0);
CREATE TABLE agents (
  agent TEXT PRIMARY KEY,
  hostname TEXT NOT NULL,
  interfaces TEXT NOT NULL,
  version TEXT NOT NULL,
  ruleset TEXT NOT NULL,
  first_seen_ns INTEGER NOT NULL,
  last_seen_ns INTEGER NOT NULL,
  last_report_id INTEGER NOT NULL DEFAULT 0,
  reports INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE alarms (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  agent TEXT NOT NULL,
  report_id INTEGER NOT NULL,
  ts_ns INTEGER NOT NULL,
  category TEXT NOT NULL,
  src_ip TEXT NOT NULL,
  rule TEXT NOT NULL,
  severity INTEGER NOT NULL,
  signature TEXT NOT NULL,
  json TEXT NOT NULL
);
CREATE INDEX alarms_ts ON alarms (ts_ns);
CREATE TABLE audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ts_ns INTEGER NOT NULL,
  who TEXT NOT NULL,
  what TEXT NOT NULL
);
)sql",
    // 1 -> 2: agents' last counters (a text proto map, name=value lines).
    R"sql(
ALTER TABLE agents ADD COLUMN counters TEXT NOT NULL DEFAULT '';
)sql",
    // 2 -> 3: graylists' token bucket; honeypots and their hits (the hit
    // whole as its serialised HoneypotHit, the fields filtered on beside it).
    R"sql(
ALTER TABLE decisions ADD COLUMN rate_per_s INTEGER NOT NULL DEFAULT 0;
ALTER TABLE decisions ADD COLUMN burst INTEGER NOT NULL DEFAULT 0;
CREATE TABLE honeypots (
  honeypot TEXT PRIMARY KEY,
  hostname TEXT NOT NULL,
  version TEXT NOT NULL,
  listen TEXT NOT NULL,
  deflector_users INTEGER NOT NULL,
  first_seen_ns INTEGER NOT NULL,
  last_seen_ns INTEGER NOT NULL,
  last_hit_id INTEGER NOT NULL DEFAULT 0,
  hits INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE hits (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  honeypot TEXT NOT NULL,
  hit_id INTEGER NOT NULL,
  ts_ns INTEGER NOT NULL,
  stage INTEGER NOT NULL,
  src_ip TEXT NOT NULL,
  callee TEXT NOT NULL,
  deflected INTEGER NOT NULL,
  audio_sha256 TEXT NOT NULL,
  recorded_ms INTEGER NOT NULL,
  hit BLOB NOT NULL
);
CREATE INDEX hits_ts ON hits (ts_ns);
CREATE INDEX hits_src ON hits (src_ip);
CREATE INDEX hits_callee ON hits (callee);
CREATE INDEX hits_audio ON hits (audio_sha256) WHERE audio_sha256 != '';
)sql",
    // 3 -> 4: the controller's own state (the time series dump).
    R"sql(
CREATE TABLE state (key TEXT PRIMARY KEY, value BLOB NOT NULL);
)sql",
};
constexpr int kSchema = sizeof(kMigrations) / sizeof(kMigrations[0]);

// A prepared statement, finalised on scope exit.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr); }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return rc_ == SQLITE_OK; }
  Stmt& Bind(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Stmt& Bind(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& BindBlob(int i, const std::string& v) {
    sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  int Step() { return sqlite3_step(s_); }
  void Reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  int64_t Int(int col) const { return sqlite3_column_int64(s_, col); }
  std::string Text(int col) const {
    const auto* p = sqlite3_column_text(s_, col);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<size_t>(sqlite3_column_bytes(s_, col)))
             : std::string();
  }
  std::string Blob(int col) const {
    const void* p = sqlite3_column_blob(s_, col);
    return p ? std::string(static_cast<const char*>(p),
                           static_cast<size_t>(sqlite3_column_bytes(s_, col)))
             : std::string();
  }

 private:
  sqlite3_stmt* s_ = nullptr;
  int rc_;
};

std::string CountersText(const google::protobuf::Map<std::string, double>& m) {
  std::vector<std::string> lines;
  for (const auto& [k, v] : m) lines.push_back(absl::StrCat(k, "=", v));
  std::sort(lines.begin(), lines.end());
  return absl::StrJoin(lines, "\n");
}

void ParseCounters(const std::string& text, google::protobuf::Map<std::string, double>* m) {
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    const size_t eq = line.rfind('=');
    if (eq == absl::string_view::npos) continue;
    (*m)[std::string(line.substr(0, eq))] = std::strtod(std::string(line.substr(eq + 1)).c_str(), nullptr);
  }
}

}  // namespace

int SqliteStore::SchemaVersion() { return kSchema; }

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path) {
  return OpenUpTo(path, kSchema);
}

absl::StatusOr<int> SqliteStore::PeekSchema(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    std::string why = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return absl::UnavailableError(absl::StrCat("open database ", path, ": ", why));
  }
  int version = -1;
  {
    Stmt q(db, "PRAGMA user_version");
    if (q.ok() && q.Step() == SQLITE_ROW) version = static_cast<int>(q.Int(0));
  }
  sqlite3_close(db);
  if (version < 0) return absl::UnavailableError(absl::StrCat("read the schema of ", path));
  return version;
}

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::OpenAtVersion(const std::string& path,
                                                                        int version) {
  if (version < 1 || version > kSchema) {
    return absl::InvalidArgumentError(absl::StrCat("no schema version ", version));
  }
  return OpenUpTo(path, version);
}

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::OpenUpTo(const std::string& path,
                                                                   int target) {
  auto s = std::unique_ptr<SqliteStore>(new SqliteStore());
  s->path_ = path;
  if (sqlite3_open_v2(path.c_str(), &s->db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                                   SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    return absl::UnavailableError(absl::StrCat("open database ", path, ": ",
                                               s->db_ ? sqlite3_errmsg(s->db_) : "out of memory"));
  }
  sqlite3_busy_timeout(s->db_, 5000);
  // WAL: readers never wait for the writer; FULL: a commit is on disk when
  // it returns (what the controller acknowledges is kept).
  if (auto st = s->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                        "PRAGMA foreign_keys=ON;");
      !st.ok()) {
    return st;
  }
  int version = 0;
  {
    Stmt q(s->db_, "PRAGMA user_version");
    if (!q.ok() || q.Step() != SQLITE_ROW) return s->Error("read the schema version");
    version = static_cast<int>(q.Int(0));
  }
  if (version > kSchema) {
    return absl::FailedPreconditionError(absl::StrCat(
        "database ", path, " has schema version ", version, "; this controller knows up to ",
        kSchema, " (upgrade the controller)"));
  }
  while (version < target) {
    const std::string sql = absl::StrCat("BEGIN IMMEDIATE;", kMigrations[version],
                                         "PRAGMA user_version = ", version + 1, "; COMMIT;");
    if (auto st = s->Exec(sql.c_str()); !st.ok()) {
      s->Exec("ROLLBACK").IgnoreError();
      return absl::InternalError(absl::StrCat("migrate ", path, " from schema ", version, " to ",
                                              version + 1, ": ", st.message()));
    }
    ++version;
  }
  s->schema_ = version;
  return s;
}

SqliteStore::~SqliteStore() {
  if (db_) sqlite3_close_v2(db_);
}

absl::Status SqliteStore::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    absl::Status st = absl::InternalError(err ? err : "sqlite error");
    sqlite3_free(err);
    return st;
  }
  return absl::OkStatus();
}

absl::Status SqliteStore::Error(const char* what) {
  return absl::InternalError(absl::StrCat(what, ": ", sqlite3_errmsg(db_)));
}

absl::Status SqliteStore::ApplyDecisions(const std::vector<StoredChange>& changes,
                                         uint64_t version) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto st = Exec("BEGIN IMMEDIATE"); !st.ok()) return st;
  // A database opened at an older schema (tests of the upgrade path) has
  // no token bucket columns.
  Stmt set(db_, schema_ >= 3
                    ? "INSERT OR REPLACE INTO decisions (prefix, action, origin, reason, source, "
                      "created_ns, expires_ns, version, rate_per_s, burst) VALUES (?1, ?2, ?3, ?4, "
                      "?5, ?6, ?7, ?8, ?9, ?10)"
                    : "INSERT OR REPLACE INTO decisions (prefix, action, origin, reason, source, "
                      "created_ns, expires_ns, version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  Stmt del(db_, "DELETE FROM decisions WHERE prefix = ?1 AND action = ?2");
  Stmt ver(db_, "UPDATE meta SET value = ?1 WHERE key = 'decision_version' AND value < ?1");
  bool ok = set.ok() && del.ok() && ver.ok();
  for (const auto& c : changes) {
    if (!ok) break;
    const auto& d = c.decision;
    if (c.remove) {
      del.Bind(1, d.prefix()).Bind(2, static_cast<int64_t>(d.action()));
      ok = del.Step() == SQLITE_DONE;
      del.Reset();
    } else {
      set.Bind(1, d.prefix())
          .Bind(2, static_cast<int64_t>(d.action()))
          .Bind(3, static_cast<int64_t>(d.origin()))
          .Bind(4, d.reason())
          .Bind(5, d.source())
          .Bind(6, d.created_unix_ns())
          .Bind(7, d.expires_unix_ns())
          .Bind(8, static_cast<int64_t>(d.version()));
      if (schema_ >= 3) {
        set.Bind(9, static_cast<int64_t>(d.rate_per_s())).Bind(10, static_cast<int64_t>(d.burst()));
      }
      ok = set.Step() == SQLITE_DONE;
      set.Reset();
    }
  }
  if (ok) {
    ver.Bind(1, static_cast<int64_t>(version));
    ok = ver.Step() == SQLITE_DONE;
  }
  if (!ok) {
    absl::Status st = Error("store decisions");
    Exec("ROLLBACK").IgnoreError();
    return st;
  }
  return Exec("COMMIT");
}

absl::StatusOr<LoadedDecisions> SqliteStore::LoadDecisions() {
  std::lock_guard<std::mutex> lock(mu_);
  LoadedDecisions out;
  Stmt q(db_, schema_ >= 3
                  ? "SELECT prefix, action, origin, reason, source, created_ns, "
                    "expires_ns, version, rate_per_s, burst FROM decisions ORDER BY version"
                  : "SELECT prefix, action, origin, reason, source, created_ns, "
                    "expires_ns, version, 0, 0 FROM decisions ORDER BY version");
  if (!q.ok()) return Error("load decisions");
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) {
    sipwarden::v1::Decision d;
    d.set_prefix(q.Text(0));
    d.set_action(static_cast<sipwarden::v1::Action>(q.Int(1)));
    d.set_origin(static_cast<sipwarden::v1::Origin>(q.Int(2)));
    d.set_reason(q.Text(3));
    d.set_source(q.Text(4));
    d.set_created_unix_ns(q.Int(5));
    d.set_expires_unix_ns(q.Int(6));
    d.set_version(static_cast<uint64_t>(q.Int(7)));
    d.set_rate_per_s(static_cast<uint32_t>(q.Int(8)));
    d.set_burst(static_cast<uint32_t>(q.Int(9)));
    out.decisions.push_back(std::move(d));
  }
  if (rc != SQLITE_DONE) return Error("load decisions");
  Stmt v(db_, "SELECT value FROM meta WHERE key = 'decision_version'");
  if (!v.ok() || v.Step() != SQLITE_ROW) return Error("load the decision version");
  out.version = static_cast<uint64_t>(v.Int(0));
  return out;
}

absl::Status SqliteStore::UpsertAgent(const sipwarden::v1::AgentInfo& a) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt q(db_,
         "INSERT INTO agents (agent, hostname, interfaces, version, ruleset, first_seen_ns, "
         "last_seen_ns, counters) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7) "
         "ON CONFLICT (agent) DO UPDATE SET hostname = ?2, interfaces = ?3, version = ?4, "
         "ruleset = ?5, last_seen_ns = ?6, counters = CASE WHEN ?7 = '' THEN counters ELSE ?7 END");
  if (!q.ok()) return Error("store agent");
  q.Bind(1, a.agent())
      .Bind(2, a.hostname())
      .Bind(3, absl::StrJoin(a.interfaces(), ","))
      .Bind(4, a.version())
      .Bind(5, a.ruleset_sha256())
      .Bind(6, a.last_seen_unix_ns())
      .Bind(7, CountersText(a.counters()));
  if (q.Step() != SQLITE_DONE) return Error("store agent");
  return absl::OkStatus();
}

absl::StatusOr<std::vector<sipwarden::v1::AgentInfo>> SqliteStore::Agents() {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt q(db_,
         "SELECT agent, hostname, interfaces, version, ruleset, first_seen_ns, last_seen_ns, "
         "reports, counters FROM agents ORDER BY agent");
  if (!q.ok()) return Error("list agents");
  std::vector<sipwarden::v1::AgentInfo> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) {
    sipwarden::v1::AgentInfo a;
    a.set_agent(q.Text(0));
    a.set_hostname(q.Text(1));
    for (absl::string_view i : absl::StrSplit(q.Text(2), ',', absl::SkipEmpty())) {
      a.add_interfaces(std::string(i));
    }
    a.set_version(q.Text(3));
    a.set_ruleset_sha256(q.Text(4));
    a.set_first_seen_unix_ns(q.Int(5));
    a.set_last_seen_unix_ns(q.Int(6));
    a.set_reports(static_cast<uint64_t>(q.Int(7)));
    ParseCounters(q.Text(8), a.mutable_counters());
    out.push_back(std::move(a));
  }
  if (rc != SQLITE_DONE) return Error("list agents");
  return out;
}

absl::StatusOr<uint64_t> SqliteStore::StoreReports(
    const std::string& agent, const std::vector<sipwarden::v1::AgentReport>& reports,
    uint64_t* duplicates) {
  std::vector<ReportRow> rows;
  rows.reserve(reports.size());
  for (const auto& r : reports) rows.push_back({agent, r});
  std::vector<bool> stored;
  std::map<std::string, uint64_t> last;
  if (auto st = StoreReportBatch(rows, &stored, &last); !st.ok()) return st;
  if (duplicates) *duplicates += static_cast<uint64_t>(std::count(stored.begin(), stored.end(), false));
  return last[agent];
}

absl::Status SqliteStore::StoreReportBatch(const std::vector<ReportRow>& rows,
                                           std::vector<bool>* stored_out,
                                           std::map<std::string, uint64_t>* last_out) {
  std::lock_guard<std::mutex> lock(mu_);
  stored_out->assign(rows.size(), false);
  if (auto st = Exec("BEGIN IMMEDIATE"); !st.ok()) return st;
  auto fail = [this](const char* what) -> absl::Status {
    absl::Status st = Error(what);
    Exec("ROLLBACK").IgnoreError();
    return st;
  };
  Stmt get(db_, "SELECT last_report_id FROM agents WHERE agent = ?1");
  Stmt add(db_,
           "INSERT INTO agents (agent, hostname, interfaces, version, ruleset, first_seen_ns, "
           "last_seen_ns) VALUES (?1, '', '', '', '', 0, 0)");
  Stmt alarm(db_,
             "INSERT INTO alarms (agent, report_id, ts_ns, category, src_ip, rule, severity, "
             "signature, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  Stmt up(db_, "UPDATE agents SET last_report_id = ?2, reports = reports + ?3 WHERE agent = ?1");
  if (!get.ok() || !add.ok() || !alarm.ok() || !up.ok()) return fail("store reports");
  std::map<std::string, std::pair<uint64_t, uint64_t>> agents;  // last id, stored now
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& [agent, r] = rows[i];
    auto it = agents.find(agent);
    if (it == agents.end()) {
      get.Bind(1, agent);
      const int rc = get.Step();
      uint64_t last = 0;
      if (rc == SQLITE_ROW) {
        last = static_cast<uint64_t>(get.Int(0));
      } else if (rc == SQLITE_DONE) {
        add.Bind(1, agent);
        if (add.Step() != SQLITE_DONE) return fail("add the agent");
        add.Reset();
      } else {
        return fail("read the last report id");
      }
      get.Reset();
      it = agents.emplace(agent, std::make_pair(last, uint64_t{0})).first;
    }
    auto& [last, count] = it->second;
    if (r.id() <= last) continue;  // seen before: at least once in, once stored
    last = r.id();
    ++count;
    (*stored_out)[i] = true;
    if (r.has_alarm()) {
      const auto& a = r.alarm();
      alarm.Bind(1, agent)
          .Bind(2, static_cast<int64_t>(r.id()))
          // An alarm without its own time has the report's (else retention
          // would take it for decades old).
          .Bind(3, a.ts_unix_ns() ? a.ts_unix_ns() : r.ts_unix_ns())
          .Bind(4, a.category())
          .Bind(5, a.src_ip())
          .Bind(6, a.rule())
          .Bind(7, a.severity())
          .Bind(8, a.signature())
          .Bind(9, a.json());
      if (alarm.Step() != SQLITE_DONE) return fail("store an alarm");
      alarm.Reset();
    }
  }
  for (const auto& [agent, lc] : agents) {
    up.Bind(1, agent).Bind(2, static_cast<int64_t>(lc.first)).Bind(3, static_cast<int64_t>(lc.second));
    if (up.Step() != SQLITE_DONE) return fail("store the last report id");
    up.Reset();
    (*last_out)[agent] = lc.first;
  }
  if (auto st = Exec("COMMIT"); !st.ok()) {
    Exec("ROLLBACK").IgnoreError();
    stored_out->assign(rows.size(), false);
    last_out->clear();
    return st;
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> SqliteStore::LastReportId(const std::string& agent) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt q(db_, "SELECT last_report_id FROM agents WHERE agent = ?1");
  if (!q.ok()) return Error("read the last report id");
  q.Bind(1, agent);
  const int rc = q.Step();
  if (rc == SQLITE_ROW) return static_cast<uint64_t>(q.Int(0));
  if (rc == SQLITE_DONE) return uint64_t{0};
  return Error("read the last report id");
}

absl::Status SqliteStore::StoreAlarm(const std::string& origin, const sipwarden::v1::Alarm& a) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt q(db_,
         "INSERT INTO alarms (agent, report_id, ts_ns, category, src_ip, rule, severity, "
         "signature, json) VALUES (?1, 0, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  if (!q.ok()) return Error("store an alarm");
  q.Bind(1, origin).Bind(2, a.ts_unix_ns()).Bind(3, a.category()).Bind(4, a.src_ip());
  q.Bind(5, a.rule()).Bind(6, a.severity()).Bind(7, a.signature()).Bind(8, a.json());
  if (q.Step() != SQLITE_DONE) return Error("store an alarm");
  return absl::OkStatus();
}

namespace {
sipwarden::v1::StoredAlarm AlarmRow(const Stmt& q, int first) {
  sipwarden::v1::StoredAlarm s;
  s.set_agent(q.Text(first));
  s.set_report_id(static_cast<uint64_t>(q.Int(first + 1)));
  auto* a = s.mutable_alarm();
  a->set_ts_unix_ns(q.Int(first + 2));
  a->set_category(q.Text(first + 3));
  a->set_src_ip(q.Text(first + 4));
  a->set_rule(q.Text(first + 5));
  a->set_severity(static_cast<int32_t>(q.Int(first + 6)));
  a->set_signature(q.Text(first + 7));
  a->set_json(q.Text(first + 8));
  return s;
}
constexpr const char* kAlarmCols =
    "agent, report_id, ts_ns, category, src_ip, rule, severity, signature, json";
}  // namespace

absl::StatusOr<std::vector<sipwarden::v1::StoredAlarm>> SqliteStore::Alarms(const AlarmFilter& f) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string sql = absl::StrCat(
      "SELECT * FROM (SELECT id, ", kAlarmCols,
      " FROM alarms WHERE ts_ns >= ?1 AND (?2 = '' OR category = ?2) AND (?3 = '' OR src_ip = ?3) "
      "AND (?4 = '' OR agent = ?4) ORDER BY id DESC LIMIT ?5) ORDER BY id");
  Stmt q(db_, sql.c_str());
  if (!q.ok()) return Error("list alarms");
  q.Bind(1, f.since_unix_ns).Bind(2, f.category).Bind(3, f.src_ip).Bind(4, f.agent);
  q.Bind(5, static_cast<int64_t>(f.limit ? f.limit : 1000));
  std::vector<sipwarden::v1::StoredAlarm> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) out.push_back(AlarmRow(q, 1));
  if (rc != SQLITE_DONE) return Error("list alarms");
  return out;
}

absl::StatusOr<std::vector<std::pair<int64_t, sipwarden::v1::StoredAlarm>>> SqliteStore::AlarmsAfter(
    int64_t row_id, uint32_t limit) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string sql =
      absl::StrCat("SELECT id, ", kAlarmCols, " FROM alarms WHERE id > ?1 ORDER BY id LIMIT ?2");
  Stmt q(db_, sql.c_str());
  if (!q.ok()) return Error("follow alarms");
  q.Bind(1, row_id).Bind(2, static_cast<int64_t>(limit));
  std::vector<std::pair<int64_t, sipwarden::v1::StoredAlarm>> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) out.emplace_back(q.Int(0), AlarmRow(q, 1));
  if (rc != SQLITE_DONE) return Error("follow alarms");
  return out;
}

absl::StatusOr<int64_t> SqliteStore::LastAlarmRow() {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt q(db_, "SELECT COALESCE(MAX(id), 0) FROM alarms");
  if (!q.ok() || q.Step() != SQLITE_ROW) return Error("read the last alarm");
  return q.Int(0);
}

absl::Status SqliteStore::PruneAlarms(int64_t min_ts_unix_ns, uint64_t max_count) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt old(db_, "DELETE FROM alarms WHERE ts_ns < ?1");
  old.Bind(1, min_ts_unix_ns);
  if (!old.ok() || old.Step() != SQLITE_DONE) return Error("prune alarms by age");
  Stmt many(db_,
            "DELETE FROM alarms WHERE id <= (SELECT id FROM alarms ORDER BY id DESC "
            "LIMIT 1 OFFSET ?1)");
  many.Bind(1, static_cast<int64_t>(max_count));
  if (!many.ok() || many.Step() != SQLITE_DONE) return Error("prune alarms by count");
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> SqliteStore::AlarmCount() {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt q(db_, "SELECT COUNT(*) FROM alarms");
  if (!q.ok() || q.Step() != SQLITE_ROW) return Error("count alarms");
  return static_cast<uint64_t>(q.Int(0));
}

absl::Status SqliteStore::UpsertHoneypot(const sipwarden::v1::AgentInfo& h) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt q(db_,
         "INSERT INTO honeypots (honeypot, hostname, version, listen, deflector_users, "
         "first_seen_ns, last_seen_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) "
         "ON CONFLICT (honeypot) DO UPDATE SET hostname = ?2, version = ?3, listen = ?4, "
         "deflector_users = ?5, last_seen_ns = ?6");
  if (!q.ok()) return Error("store honeypot");
  q.Bind(1, h.agent())
      .Bind(2, h.hostname())
      .Bind(3, h.version())
      .Bind(4, absl::StrJoin(h.interfaces(), ","))
      .Bind(5, static_cast<int64_t>(h.deflector_users()))
      .Bind(6, h.last_seen_unix_ns());
  if (q.Step() != SQLITE_DONE) return Error("store honeypot");
  return absl::OkStatus();
}

absl::StatusOr<std::vector<sipwarden::v1::AgentInfo>> SqliteStore::Honeypots() {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt q(db_,
         "SELECT honeypot, hostname, version, listen, deflector_users, first_seen_ns, "
         "last_seen_ns, hits FROM honeypots ORDER BY honeypot");
  if (!q.ok()) return Error("list honeypots");
  std::vector<sipwarden::v1::AgentInfo> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) {
    sipwarden::v1::AgentInfo h;
    h.set_honeypot(true);
    h.set_agent(q.Text(0));
    h.set_hostname(q.Text(1));
    h.set_version(q.Text(2));
    for (absl::string_view l : absl::StrSplit(q.Text(3), ',', absl::SkipEmpty())) {
      h.add_interfaces(std::string(l));
    }
    h.set_deflector_users(static_cast<uint32_t>(q.Int(4)));
    h.set_first_seen_unix_ns(q.Int(5));
    h.set_last_seen_unix_ns(q.Int(6));
    h.set_reports(static_cast<uint64_t>(q.Int(7)));
    out.push_back(std::move(h));
  }
  if (rc != SQLITE_DONE) return Error("list honeypots");
  return out;
}

absl::StatusOr<uint64_t> SqliteStore::StoreHits(const std::string& honeypot,
                                                const std::vector<sipwarden::v1::HoneypotHit>& hits,
                                                int64_t now, std::vector<bool>* stored_out) {
  std::lock_guard<std::mutex> lock(mu_);
  stored_out->assign(hits.size(), false);
  if (auto st = Exec("BEGIN IMMEDIATE"); !st.ok()) return st;
  auto fail = [this, stored_out](const char* what) -> absl::Status {
    absl::Status st = Error(what);
    Exec("ROLLBACK").IgnoreError();
    stored_out->assign(stored_out->size(), false);
    return st;
  };
  Stmt get(db_, "SELECT last_hit_id FROM honeypots WHERE honeypot = ?1");
  Stmt add(db_,
           "INSERT INTO honeypots (honeypot, hostname, version, listen, deflector_users, "
           "first_seen_ns, last_seen_ns) VALUES (?1, '', '', '', 0, ?2, ?2)");
  Stmt put(db_,
           "INSERT INTO hits (honeypot, hit_id, ts_ns, stage, src_ip, callee, deflected, "
           "audio_sha256, recorded_ms, hit) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
  Stmt up(db_,
          "UPDATE honeypots SET last_hit_id = ?2, hits = hits + ?3, last_seen_ns = ?4 "
          "WHERE honeypot = ?1");
  if (!get.ok() || !add.ok() || !put.ok() || !up.ok()) return fail("store hits");
  get.Bind(1, honeypot);
  uint64_t last = 0;
  if (const int rc = get.Step(); rc == SQLITE_ROW) {
    last = static_cast<uint64_t>(get.Int(0));
  } else if (rc == SQLITE_DONE) {
    add.Bind(1, honeypot).Bind(2, now);  // reporting before it registered
    if (add.Step() != SQLITE_DONE) return fail("add the honeypot");
  } else {
    return fail("read the last hit id");
  }
  uint64_t count = 0;
  std::string blob;
  for (size_t i = 0; i < hits.size(); ++i) {
    const auto& h = hits[i];
    if (h.id() <= last) continue;  // seen before: at least once in, once stored
    sipwarden::v1::HoneypotHit copy;
    const sipwarden::v1::HoneypotHit* row = &h;
    if (h.ts_unix_ns() == 0) {  // else retention would take it for decades old
      copy = h;
      copy.set_ts_unix_ns(now);
      row = &copy;
    }
    blob.clear();
    row->SerializeToString(&blob);
    put.Bind(1, honeypot)
        .Bind(2, static_cast<int64_t>(row->id()))
        .Bind(3, row->ts_unix_ns())
        .Bind(4, static_cast<int64_t>(row->stage()))
        .Bind(5, row->src_ip())
        .Bind(6, row->callee())
        .Bind(7, row->deflected() ? 1 : 0)
        .Bind(8, row->audio_sha256())
        .Bind(9, row->recorded_ms())
        .BindBlob(10, blob);
    if (put.Step() != SQLITE_DONE) return fail("store a hit");
    put.Reset();
    last = h.id();
    ++count;
    (*stored_out)[i] = true;
  }
  up.Bind(1, honeypot).Bind(2, static_cast<int64_t>(last)).Bind(3, static_cast<int64_t>(count));
  up.Bind(4, now);
  if (up.Step() != SQLITE_DONE) return fail("store the last hit id");
  if (auto st = Exec("COMMIT"); !st.ok()) {
    Exec("ROLLBACK").IgnoreError();
    stored_out->assign(hits.size(), false);
    return st;
  }
  return last;
}

absl::StatusOr<uint64_t> SqliteStore::LastHitId(const std::string& honeypot) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt q(db_, "SELECT last_hit_id FROM honeypots WHERE honeypot = ?1");
  if (!q.ok()) return Error("read the last hit id");
  q.Bind(1, honeypot);
  const int rc = q.Step();
  if (rc == SQLITE_ROW) return static_cast<uint64_t>(q.Int(0));
  if (rc == SQLITE_DONE) return uint64_t{0};
  return Error("read the last hit id");
}

absl::StatusOr<std::vector<sipwarden::v1::StoredHit>> SqliteStore::Hits(const HitFilter& f) {
  std::lock_guard<std::mutex> lock(mu_);
  // Only the filters given go into the query, so that SQLite can use the
  // index of the one that narrows it (source, callee).
  std::string where = "ts_ns >= ?1";
  if (!f.src_ip.empty()) absl::StrAppend(&where, " AND src_ip = ?2");
  if (!f.callee.empty()) absl::StrAppend(&where, " AND callee = ?3");
  if (!f.honeypot.empty()) absl::StrAppend(&where, " AND honeypot = ?4");
  if (f.deflected_only) absl::StrAppend(&where, " AND deflected = 1");
  if (f.stage != sipwarden::v1::HoneypotHit::STAGE_UNSPECIFIED) {
    absl::StrAppend(&where, " AND stage = ?5");
  }
  const std::string sql = absl::StrCat(
      "SELECT honeypot, hit, audio_sha256 FROM (SELECT id, honeypot, hit, audio_sha256 FROM hits "
      "WHERE ",
      where, " ORDER BY id DESC LIMIT ?6) ORDER BY id");
  Stmt q(db_, sql.c_str());
  if (!q.ok()) return Error("list hits");
  q.Bind(1, f.since_unix_ns);
  if (!f.src_ip.empty()) q.Bind(2, f.src_ip);
  if (!f.callee.empty()) q.Bind(3, f.callee);
  if (!f.honeypot.empty()) q.Bind(4, f.honeypot);
  if (f.stage != sipwarden::v1::HoneypotHit::STAGE_UNSPECIFIED) {
    q.Bind(5, static_cast<int64_t>(f.stage));
  }
  q.Bind(6, static_cast<int64_t>(f.limit ? f.limit : 1000));
  std::vector<sipwarden::v1::StoredHit> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) {
    sipwarden::v1::StoredHit s;
    s.set_honeypot(q.Text(0));
    if (!s.mutable_hit()->ParseFromString(q.Blob(1))) {
      return absl::DataLossError(absl::StrCat("a stored hit of ", s.honeypot(), " does not parse"));
    }
    s.set_campaign(q.Text(2));
    out.push_back(std::move(s));
  }
  if (rc != SQLITE_DONE) return Error("list hits");
  return out;
}

absl::StatusOr<std::vector<sipwarden::v1::Campaign>> SqliteStore::Campaigns(uint32_t min_sources,
                                                                            uint32_t limit) {
  std::lock_guard<std::mutex> lock(mu_);
  // "audio_sha256 != ''" in each query lets SQLite use the partial index.
  Stmt q(db_,
         "SELECT * FROM (SELECT audio_sha256, COUNT(*), MIN(ts_ns), MAX(ts_ns), MAX(recorded_ms) "
         "FROM hits WHERE stage = 2 AND audio_sha256 != '' GROUP BY audio_sha256 "
         "HAVING COUNT(DISTINCT src_ip) >= ?1 ORDER BY MAX(ts_ns) DESC, audio_sha256 LIMIT ?2) "
         "ORDER BY 4, 1");
  Stmt sources(db_,
               "SELECT src_ip FROM hits WHERE audio_sha256 = ?1 AND audio_sha256 != '' AND "
               "stage = 2 GROUP BY src_ip ORDER BY MIN(ts_ns), MIN(id)");
  Stmt callees(db_,
               "SELECT callee FROM hits WHERE audio_sha256 = ?1 AND audio_sha256 != '' AND "
               "stage = 2 AND callee != '' GROUP BY callee ORDER BY MIN(ts_ns), MIN(id) LIMIT 20");
  if (!q.ok() || !sources.ok() || !callees.ok()) return Error("list campaigns");
  q.Bind(1, static_cast<int64_t>(std::max<uint32_t>(1, min_sources)));
  q.Bind(2, static_cast<int64_t>(limit ? limit : 1000));
  std::vector<sipwarden::v1::Campaign> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) {
    sipwarden::v1::Campaign c;
    c.set_audio_sha256(q.Text(0));
    c.set_calls(static_cast<uint64_t>(q.Int(1)));
    c.set_first_unix_ns(q.Int(2));
    c.set_last_unix_ns(q.Int(3));
    c.set_recorded_ms(q.Int(4));
    out.push_back(std::move(c));
  }
  if (rc != SQLITE_DONE) return Error("list campaigns");
  for (auto& c : out) {
    sources.Bind(1, c.audio_sha256());
    while ((rc = sources.Step()) == SQLITE_ROW) c.add_sources(sources.Text(0));
    if (rc != SQLITE_DONE) return Error("list a campaign's sources");
    sources.Reset();
    callees.Bind(1, c.audio_sha256());
    while ((rc = callees.Step()) == SQLITE_ROW) c.add_callees(callees.Text(0));
    if (rc != SQLITE_DONE) return Error("list a campaign's callees");
    callees.Reset();
  }
  return out;
}

absl::Status SqliteStore::PruneHits(int64_t min_ts_unix_ns, uint64_t max_count) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt old(db_, "DELETE FROM hits WHERE ts_ns < ?1");
  old.Bind(1, min_ts_unix_ns);
  if (!old.ok() || old.Step() != SQLITE_DONE) return Error("prune hits by age");
  Stmt many(db_,
            "DELETE FROM hits WHERE id <= (SELECT id FROM hits ORDER BY id DESC "
            "LIMIT 1 OFFSET ?1)");
  many.Bind(1, static_cast<int64_t>(max_count));
  if (!many.ok() || many.Step() != SQLITE_DONE) return Error("prune hits by count");
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> SqliteStore::HitCount() {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt q(db_, "SELECT COUNT(*) FROM hits");
  if (!q.ok() || q.Step() != SQLITE_ROW) return Error("count hits");
  return static_cast<uint64_t>(q.Int(0));
}

absl::Status SqliteStore::Audit(int64_t ts, const std::string& who, const std::string& what) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt q(db_, "INSERT INTO audit (ts_ns, who, what) VALUES (?1, ?2, ?3)");
  q.Bind(1, ts).Bind(2, who).Bind(3, what);
  if (!q.ok() || q.Step() != SQLITE_DONE) return Error("write the audit log");
  return absl::OkStatus();
}

absl::Status SqliteStore::PutState(const std::string& key, const std::string& value) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt q(db_, "INSERT OR REPLACE INTO state (key, value) VALUES (?1, ?2)");
  q.Bind(1, key).Bind(2, value);
  if (!q.ok() || q.Step() != SQLITE_DONE) return Error("store state");
  return absl::OkStatus();
}

absl::StatusOr<std::string> SqliteStore::GetState(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt q(db_, "SELECT value FROM state WHERE key = ?1");
  q.Bind(1, key);
  if (!q.ok()) return Error("read state");
  const int rc = q.Step();
  if (rc == SQLITE_ROW) return std::string(q.Text(0));
  if (rc != SQLITE_DONE) return Error("read state");
  return std::string();
}

absl::StatusOr<std::vector<std::string>> SqliteStore::AuditLog(uint32_t limit) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt q(db_, "SELECT ts_ns, who, what FROM audit ORDER BY id DESC LIMIT ?1");
  q.Bind(1, static_cast<int64_t>(limit));
  std::vector<std::string> out;
  int rc;
  while (q.ok() && (rc = q.Step()) == SQLITE_ROW) {
    out.push_back(absl::StrCat(q.Int(0), " ", q.Text(1), " ", q.Text(2)));
  }
  return out;
}

}  // namespace sw::controller
