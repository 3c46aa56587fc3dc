// SPDX-License-Identifier: BSD-2-Clause
#include "postgres_store.h"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <set>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace sw::controller {
namespace {

namespace v1 = sipwarden::v1;
using Clock = std::chrono::steady_clock;

// Advisory lock keys (64-bit, one space per database): "SWRD" and a number.
// Migrations (session lock, held while one controller migrates).
constexpr int64_t kMigrateLock = 0x53575244'00000001;
// Decision versions: held by CommitDecisions to its commit, so that
// versions are committed in the order they are taken.
constexpr int64_t kDecisionsLock = 0x53575244'00000002;
// Leadership of the central jobs (session lock on the leader's session).
constexpr int64_t kLeaderLock = 0x53575244'00000003;
// Alarm and event rows: held by the writers to their commit, so that their
// BIGSERIAL ids are committed in increasing order and a follower
// (AlarmsAfter, EventsAfter) that has read id n never finds a smaller id
// appear later.
constexpr int64_t kAlarmsLock = 0x53575244'00000004;
constexpr int64_t kEventsLock = 0x53575244'00000005;

constexpr const char* kChannel = "sipwarden_decisions";

// Migration N takes the schema from version N to N + 1. Never edit one that
// shipped: add the next. 1-4 are SQLite's (sqlite_store.cc) for PostgreSQL;
// 5 is the shared store's, which SQLite has not: the two schema versions
// are numbered alike up to 4 and kept apart (SqliteStore::SchemaVersion()
// is 4, PostgresStore::SchemaVersion() is 5).
constexpr const char* kMigrations[] = {
    // 0 -> 1: the first schema.
    R"sql(
CREATE TABLE decisions (
  prefix TEXT NOT NULL,
  action INTEGER NOT NULL,
  origin INTEGER NOT NULL,
  reason TEXT NOT NULL,
  source TEXT NOT NULL,
  created_ns BIGINT NOT NULL,
  expires_ns BIGINT NOT NULL,
  version BIGINT NOT NULL,
  PRIMARY KEY (prefix, action)
);
CREATE TABLE meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL);
INSERT INTO meta VALUES ('decision_version', 0);
CREATE TABLE agents (
  agent TEXT PRIMARY KEY,
  hostname TEXT NOT NULL,
  interfaces TEXT NOT NULL,
  version TEXT NOT NULL,
  ruleset TEXT NOT NULL,
  first_seen_ns BIGINT NOT NULL,
  last_seen_ns BIGINT NOT NULL,
  last_report_id BIGINT NOT NULL DEFAULT 0,
  reports BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE alarms (
  id BIGSERIAL PRIMARY KEY,
  agent TEXT NOT NULL,
  report_id BIGINT NOT NULL,
  ts_ns BIGINT NOT NULL,
  category TEXT NOT NULL,
  src_ip TEXT NOT NULL,
  rule TEXT NOT NULL,
  severity INTEGER NOT NULL,
  signature TEXT NOT NULL,
  json TEXT NOT NULL
);
CREATE INDEX alarms_ts ON alarms (ts_ns);
CREATE TABLE audit (
  id BIGSERIAL PRIMARY KEY,
  ts_ns BIGINT NOT NULL,
  who TEXT NOT NULL,
  what TEXT NOT NULL
);
)sql",
    // 1 -> 2: agents' last counters (name=value lines).
    R"sql(
ALTER TABLE agents ADD COLUMN counters TEXT NOT NULL DEFAULT '';
)sql",
    // 2 -> 3: graylists' token bucket; honeypots and their hits (the hit
    // whole as its serialised HoneypotHit, the fields filtered on beside it).
    R"sql(
ALTER TABLE decisions ADD COLUMN rate_per_s BIGINT NOT NULL DEFAULT 0;
ALTER TABLE decisions ADD COLUMN burst BIGINT NOT NULL DEFAULT 0;
CREATE TABLE honeypots (
  honeypot TEXT PRIMARY KEY,
  hostname TEXT NOT NULL,
  version TEXT NOT NULL,
  listen TEXT NOT NULL,
  deflector_users BIGINT NOT NULL,
  first_seen_ns BIGINT NOT NULL,
  last_seen_ns BIGINT NOT NULL,
  last_hit_id BIGINT NOT NULL DEFAULT 0,
  hits BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE hits (
  id BIGSERIAL PRIMARY KEY,
  honeypot TEXT NOT NULL,
  hit_id BIGINT NOT NULL,
  ts_ns BIGINT NOT NULL,
  stage INTEGER NOT NULL,
  src_ip TEXT NOT NULL,
  callee TEXT NOT NULL,
  deflected INTEGER NOT NULL,
  audio_sha256 TEXT NOT NULL,
  recorded_ms BIGINT NOT NULL,
  hit BYTEA NOT NULL
);
CREATE INDEX hits_ts ON hits (ts_ns);
CREATE INDEX hits_src ON hits (src_ip);
CREATE INDEX hits_callee ON hits (callee);
CREATE INDEX hits_audio ON hits (audio_sha256) WHERE audio_sha256 <> '';
)sql",
    // 3 -> 4: the controller's own state (the time series dump).
    R"sql(
CREATE TABLE state (key TEXT PRIMARY KEY, value BYTEA NOT NULL);
)sql",
    // 4 -> 5: the shared store. Decision versions from a sequence (starting
    // after any version already given out), the change log the controllers
    // follow (decision: the serialised Decision, its version set), how far
    // it has been pruned; the agents' forwarded events queued for the leader.
    R"sql(
CREATE SEQUENCE decision_version;
SELECT setval('decision_version', value) FROM meta WHERE key = 'decision_version' AND value > 0;
CREATE TABLE decision_log (
  version BIGINT PRIMARY KEY,
  kind INTEGER NOT NULL,
  decision BYTEA NOT NULL
);
INSERT INTO meta VALUES ('decision_log_pruned_through', 0);
CREATE TABLE events (id BIGSERIAL PRIMARY KEY, event BYTEA NOT NULL);
)sql",
};
constexpr int kSchema = sizeof(kMigrations) / sizeof(kMigrations[0]);

// libpq's messages end in a newline and may span lines.
std::string OneLine(const char* msg) {
  std::string s = msg ? msg : "";
  for (char& ch : s) {
    if (ch == '\n' || ch == '\t' || ch == '\r') ch = ' ';
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  std::string out;
  for (char ch : s) {
    if (ch == ' ' && !out.empty() && out.back() == ' ') continue;
    out.push_back(ch);
  }
  return out.empty() ? "unknown error" : out;
}

struct ResultFree {
  void operator()(PGresult* r) const { PQclear(r); }
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
    (*m)[std::string(line.substr(0, eq))] =
        std::strtod(std::string(line.substr(eq + 1)).c_str(), nullptr);
  }
}

// A query parameter: text, or binary (bytea).
struct Param {
  std::string value;
  bool binary;
};
Param I(int64_t v) { return Param{absl::StrCat(v), false}; }
Param U(uint64_t v) { return Param{absl::StrCat(v), false}; }
Param T(std::string v) { return Param{std::move(v), false}; }
Param B(std::string v) { return Param{std::move(v), true}; }

// A query's rows (text format; bytea unescaped by Bytes).
class Rows {
 public:
  explicit Rows(PGresult* r) : r_(r) {}
  int size() const { return PQntuples(r_.get()); }
  bool Null(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
  int64_t Int(int row, int col) const {
    return std::strtoll(PQgetvalue(r_.get(), row, col), nullptr, 10);
  }
  std::string Text(int row, int col) const {
    return std::string(PQgetvalue(r_.get(), row, col),
                       static_cast<size_t>(PQgetlength(r_.get(), row, col)));
  }
  bool Bool(int row, int col) const { return PQgetvalue(r_.get(), row, col)[0] == 't'; }
  std::string Bytes(int row, int col) const {
    size_t n = 0;
    unsigned char* p =
        PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(r_.get(), row, col)), &n);
    if (!p) return std::string();
    std::string s(reinterpret_cast<const char*>(p), n);
    PQfreemem(p);
    return s;
  }

 private:
  std::unique_ptr<PGresult, ResultFree> r_;
};

bool Retryable(const std::string& sqlstate) {
  return sqlstate == "40001" || sqlstate == "40P01";  // serialisation failure, deadlock
}

// The status of a failed query: UNAVAILABLE when the server cannot be
// reached or is going away (the caller may retry later), ABORTED for a
// deadlock or serialisation failure, INTERNAL otherwise.
absl::Status QueryError(PGconn* c, PGresult* r, const std::string& what, std::string* sqlstate) {
  const char* msg = r ? PQresultErrorMessage(r) : nullptr;
  if (!msg || !*msg) msg = PQerrorMessage(c);
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  *sqlstate = state ? state : "";
  const std::string text = absl::StrCat(what, ": ", OneLine(msg));
  if (PQstatus(c) != CONNECTION_OK || sqlstate->rfind("08", 0) == 0 ||
      sqlstate->rfind("57P", 0) == 0 || sqlstate->rfind("53", 0) == 0 || *sqlstate == "57014") {
    return absl::UnavailableError(text);
  }
  if (Retryable(*sqlstate)) return absl::AbortedError(text);
  return absl::InternalError(text);
}

// Runs one statement on c outside the pool's transactions (migrations, the
// LISTEN and leadership sessions). Several statements are allowed when
// there are no parameters.
absl::StatusOr<Rows> Run(PGconn* c, const std::string& what, const char* sql) {
  PGresult* r = PQexec(c, sql);
  const ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return Rows(r);
  std::string state;
  absl::Status err = QueryError(c, r, what, &state);
  PQclear(r);
  return err;
}

void DiscardNotice(void*, const char*) {}

}  // namespace

// One transaction on a pooled connection.
class PostgresStore::Tx {
 public:
  explicit Tx(PGconn* c) : c_(c) {}
  absl::StatusOr<Rows> Exec(const std::string& what, const std::string& sql,
                            const std::vector<Param>& params = {}) {
    std::vector<const char*> values;
    std::vector<int> lengths, formats;
    values.reserve(params.size());
    for (const auto& p : params) {
      values.push_back(p.value.data());
      lengths.push_back(static_cast<int>(p.value.size()));
      formats.push_back(p.binary ? 1 : 0);
    }
    PGresult* r = PQexecParams(c_, sql.c_str(), static_cast<int>(params.size()), nullptr,
                               values.data(), lengths.data(), formats.data(), 0);
    const ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return Rows(r);
    absl::Status err = QueryError(c_, r, what, &sqlstate_);
    PQclear(r);
    return err;
  }
  const std::string& sqlstate() const { return sqlstate_; }
  PGconn* conn() const { return c_; }

 private:
  PGconn* c_;
  std::string sqlstate_;
};

// A pooled connection, given back on scope exit.
struct PostgresStore::Lease {
  PostgresStore* store;
  PGconn* conn;
  explicit Lease(PostgresStore* s) : store(s), conn(s->AcquireConn()) {}
  ~Lease() { store->ReleaseConn(conn); }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
};

bool IsPostgresUrl(std::string_view s) {
  return s.rfind("postgresql://", 0) == 0 || s.rfind("postgres://", 0) == 0;
}

int PostgresStore::SchemaVersion() { return kSchema; }

absl::StatusOr<std::unique_ptr<PostgresStore>> PostgresStore::Open(const std::string& url,
                                                                   const PostgresOptions& o) {
  if (!IsPostgresUrl(url)) {
    return absl::InvalidArgumentError("not a PostgreSQL URL (postgresql://... or postgres://...)");
  }
  char* perr = nullptr;
  PQconninfoOption* opts = PQconninfoParse(url.c_str(), &perr);
  if (!opts) {
    // libpq's complaint names the part it could not parse, not the password.
    std::string why = perr ? OneLine(perr) : "out of memory";
    PQfreemem(perr);
    return absl::InvalidArgumentError(absl::StrCat("bad PostgreSQL URL: ", why));
  }
  std::map<std::string, std::string> given;
  for (PQconninfoOption* p = opts; p->keyword; ++p) {
    if (p->val && *p->val) given[p->keyword] = p->val;
  }
  PQconninfoFree(opts);
  auto s = std::unique_ptr<PostgresStore>(new PostgresStore());
  {
    std::string host = given.count("host")       ? given["host"]
                       : given.count("hostaddr") ? given["hostaddr"]
                                                 : "localhost";
    std::string port = given.count("port") ? given["port"] : "5432";
    std::string db = given.count("dbname") ? given["dbname"]
                     : given.count("user") ? given["user"]
                                           : "(default)";
    s->where_ = absl::StrCat(host, ":", port, "/", db);
  }
  // The URL first (expanded), then what it does not set itself.
  std::vector<std::pair<std::string, std::string>> kv = {{"dbname", url}};
  auto add = [&](const char* k, std::string v) {
    if (!given.count(k)) kv.emplace_back(k, std::move(v));
  };
  add("connect_timeout", absl::StrCat(std::max<int64_t>(1, o.connect_timeout.count())));
  add("application_name", "sipwarden-controller");
  add("keepalives", "1");
  add("keepalives_idle", "10");
  add("keepalives_interval", "5");
  add("keepalives_count", "3");
  for (auto& [k, v] : kv) {
    s->params_.push_back(k);
    s->params_.push_back(v);
  }
  for (size_t i = 0; i < s->params_.size(); i += 2) {
    s->keys_.push_back(s->params_[i].c_str());
    s->values_.push_back(s->params_[i + 1].c_str());
  }
  s->keys_.push_back(nullptr);
  s->values_.push_back(nullptr);
  s->pool_size_ = std::max<size_t>(1, o.pool_size);
  s->migrate_ = o.migrate;

  // The first connection, retried while the server starts.
  const auto give_up = Clock::now() + o.connect_retry;
  PGconn* first = nullptr;
  std::string err;
  while (!(first = s->Connect(&err))) {
    if (Clock::now() >= give_up) {
      return absl::UnavailableError(
          absl::StrCat("cannot reach PostgreSQL at ", s->where_, ": ", err));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  if (auto st = s->Migrate(first); !st.ok()) {
    PQfinish(first);
    return st;
  }
  s->free_.push_back(first);
  while (s->free_.size() < s->pool_size_) {
    PGconn* c = s->Connect(&err);
    if (!c) {
      return absl::UnavailableError(absl::StrCat("cannot open PostgreSQL connection ",
                                                 s->free_.size() + 1, " of ", s->pool_size_, " at ",
                                                 s->where_, ": ", err));
    }
    s->free_.push_back(c);
  }
  // Listening from the start: changes committed from now on wake us. A
  // failure here is retried by WaitForDecisionNotice.
  {
    std::lock_guard<std::mutex> l(s->listen_mu_);
    if (PGconn* c = s->Connect(&err)) {
      if (Run(c, "listen", absl::StrCat("LISTEN ", kChannel).c_str()).ok()) {
        s->listen_ = c;
        s->listened_once_ = true;
      } else {
        PQfinish(c);
      }
    }
  }
  return s;
}

PostgresStore::~PostgresStore() {
  std::lock_guard<std::mutex> l(pool_mu_);
  for (PGconn* c : free_) {
    if (c) PQfinish(c);
  }
  free_.clear();
  if (listen_) PQfinish(listen_);
  if (leader_) PQfinish(leader_);  // gives leadership up at once
}

PGconn* PostgresStore::Connect(std::string* error) {
  PGconn* c = PQconnectdbParams(keys_.data(), values_.data(), 1);
  if (!c) {
    *error = "out of memory";
    return nullptr;
  }
  if (PQstatus(c) != CONNECTION_OK) {
    *error = OneLine(PQerrorMessage(c));
    PQfinish(c);
    return nullptr;
  }
  PQsetNoticeProcessor(c, DiscardNotice, nullptr);
  return c;
}

absl::Status PostgresStore::Migrate(PGconn* c) {
  const std::string lock = absl::StrCat("SELECT pg_advisory_lock(", kMigrateLock, ")");
  if (auto r = Run(c, "lock the schema", lock.c_str()); !r.ok()) return r.status();
  auto unlock = [&] {
    const std::string sql = absl::StrCat("SELECT pg_advisory_unlock(", kMigrateLock, ")");
    Run(c, "unlock the schema", sql.c_str()).IgnoreError();
  };
  int version = 0;
  {
    auto r = Run(c, "read the schema version",
                 "SELECT CASE WHEN to_regclass('sw_schema') IS NULL THEN -1 ELSE 0 END");
    if (!r.ok()) {
      unlock();
      return r.status();
    }
    if (r->Int(0, 0) == 0) {
      auto v = Run(c, "read the schema version", "SELECT COALESCE(MAX(version), 0) FROM sw_schema");
      if (!v.ok()) {
        unlock();
        return v.status();
      }
      version = static_cast<int>(v->Int(0, 0));
    }
  }
  if (version > kSchema) {
    unlock();
    return absl::FailedPreconditionError(absl::StrCat("database ", where_, " has schema version ",
                                                      version, "; this controller knows up to ",
                                                      kSchema, " (upgrade the controller)"));
  }
  if (!migrate_) {  // db check: only look
    unlock();
    schema_ = version;
    return absl::OkStatus();
  }
  while (version < kSchema) {
    const std::string sql =
        absl::StrCat("BEGIN;",
                     version == 0 ? "CREATE TABLE sw_schema (version INTEGER PRIMARY KEY, "
                                    "applied_at TIMESTAMPTZ NOT NULL DEFAULT now());"
                                  : "",
                     kMigrations[version], "; INSERT INTO sw_schema (version) VALUES (",
                     version + 1, "); COMMIT;");
    if (auto r = Run(c, "migrate", sql.c_str()); !r.ok()) {
      Run(c, "rollback", "ROLLBACK").IgnoreError();
      unlock();
      return absl::Status(r.status().code() == absl::StatusCode::kUnavailable
                              ? absl::StatusCode::kUnavailable
                              : absl::StatusCode::kInternal,
                          absl::StrCat("migrate ", where_, " from schema ", version, " to ",
                                       version + 1, ": ", r.status().message()));
    }
    ++version;
  }
  unlock();
  schema_ = version;
  return absl::OkStatus();
}

PGconn* PostgresStore::AcquireConn() {
  std::unique_lock<std::mutex> l(pool_mu_);
  pool_cv_.wait(l, [this] { return !free_.empty(); });
  PGconn* c = free_.back();  // the most recently used: LIFO
  free_.pop_back();
  ++in_use_;
  return c;
}

void PostgresStore::ReleaseConn(PGconn* c) {
  if (c) {
    const PGTransactionStatusType ts = PQtransactionStatus(c);
    if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
      PQclear(PQexec(c, "ROLLBACK"));
    }
    if (PQstatus(c) != CONNECTION_OK || PQtransactionStatus(c) != PQTRANS_IDLE) {
      PQfinish(c);
      c = nullptr;  // made anew by the next call that takes this slot
    }
  }
  {
    std::lock_guard<std::mutex> l(pool_mu_);
    free_.push_back(c);
    --in_use_;
  }
  pool_cv_.notify_one();
}

absl::Status PostgresStore::Reconnect(PGconn** c) {
  if (*c) {
    PQfinish(*c);
    *c = nullptr;
  }
  {
    std::lock_guard<std::mutex> l(pool_mu_);
    if (Clock::now() < next_attempt_) {
      return absl::UnavailableError(
          absl::StrCat("cannot reach PostgreSQL at ", where_, ": ", last_connect_error_));
    }
  }
  std::string err;
  PGconn* fresh = Connect(&err);
  std::lock_guard<std::mutex> l(pool_mu_);
  if (!fresh) {
    backoff_ =
        std::clamp(backoff_ * 2, std::chrono::milliseconds(100), std::chrono::milliseconds(1000));
    next_attempt_ = Clock::now() + backoff_;
    last_connect_error_ = err;
    return absl::UnavailableError(absl::StrCat("cannot reach PostgreSQL at ", where_, ": ", err));
  }
  backoff_ = std::chrono::milliseconds(0);
  next_attempt_ = {};
  ++reconnects_;
  *c = fresh;
  return absl::OkStatus();
}

absl::Status PostgresStore::WithTx(const char* what, bool read_only_snapshot,
                                   const std::function<absl::Status(Tx&)>& body) {
  int stale = 0;
  for (int attempt = 0;; ++attempt) {
    Lease lease(this);
    if (!lease.conn || PQstatus(lease.conn) != CONNECTION_OK) {
      if (auto st = Reconnect(&lease.conn); !st.ok()) {
        ++errors_;
        return absl::UnavailableError(absl::StrCat(what, ": ", st.message()));
      }
    }
    Tx tx(lease.conn);
    auto begun = tx.Exec(
        what, read_only_snapshot ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN");
    if (!begun.ok()) {
      // Broken while it idled (the server restarted): nothing was done,
      // so take another connection (or make this one anew) and go again.
      if (PQstatus(lease.conn) != CONNECTION_OK && stale++ < 2) continue;
      ++errors_;
      return begun.status();
    }
    absl::Status st = body(tx);
    if (st.ok()) {
      auto done = tx.Exec(what, "COMMIT");
      if (done.ok()) return absl::OkStatus();
      st = done.status();
    } else if (PQstatus(lease.conn) == CONNECTION_OK) {
      PQclear(PQexec(lease.conn, "ROLLBACK"));
    }
    if (Retryable(tx.sqlstate()) && attempt < 5) continue;
    ++errors_;
    return st;
  }
}

namespace {

// Runs head + "($1, ..., $per), (...), ..." + tail over params, per
// parameters a row, in statements of at most 1000 rows. first_cast and
// second_cast are appended to the first row's first two parameters (a
// VALUES list in a condition has no column types to infer them from).
absl::Status InsertRows(PostgresStore::Tx& tx, const char* what, const char* head, int per,
                        const std::vector<Param>& params, const char* tail,
                        const char* first_cast = "", const char* second_cast = "") {
  constexpr size_t kRowsPerStatement = 1000;
  const size_t rows = params.size() / static_cast<size_t>(per);
  for (size_t from = 0; from < rows; from += kRowsPerStatement) {
    const size_t n = std::min(kRowsPerStatement, rows - from);
    std::string sql = head;
    for (size_t i = 0; i < n; ++i) {
      absl::StrAppend(&sql, i ? ", (" : "(");
      for (int k = 0; k < per; ++k) {
        absl::StrAppend(&sql, k ? ", $" : "$",
                        i * static_cast<size_t>(per) + static_cast<size_t>(k) + 1);
        if (i == 0 && k == 0) absl::StrAppend(&sql, first_cast);
        if (i == 0 && k == 1) absl::StrAppend(&sql, second_cast);
      }
      absl::StrAppend(&sql, ")");
    }
    absl::StrAppend(&sql, tail);
    std::vector<Param> chunk(
        params.begin() + static_cast<ptrdiff_t>(from * static_cast<size_t>(per)),
        params.begin() + static_cast<ptrdiff_t>((from + n) * static_cast<size_t>(per)));
    if (auto r = tx.Exec(what, sql, chunk); !r.ok()) return r.status();
  }
  return absl::OkStatus();
}

}  // namespace

// ---- decisions ---------------------------------------------------------------

absl::Status PostgresStore::ApplyDecisions(const std::vector<StoredChange>&, uint64_t) {
  return absl::FailedPreconditionError(
      "ApplyDecisions: the PostgreSQL store is shared; its versions come from the database "
      "(CommitDecisions)");
}

namespace {

v1::Decision DecisionRow(const Rows& q, int row) {
  v1::Decision d;
  d.set_prefix(q.Text(row, 0));
  d.set_action(static_cast<v1::Action>(q.Int(row, 1)));
  d.set_origin(static_cast<v1::Origin>(q.Int(row, 2)));
  d.set_reason(q.Text(row, 3));
  d.set_source(q.Text(row, 4));
  d.set_created_unix_ns(q.Int(row, 5));
  d.set_expires_unix_ns(q.Int(row, 6));
  d.set_version(static_cast<uint64_t>(q.Int(row, 7)));
  d.set_rate_per_s(static_cast<uint32_t>(q.Int(row, 8)));
  d.set_burst(static_cast<uint32_t>(q.Int(row, 9)));
  return d;
}

}  // namespace

absl::StatusOr<LoadedDecisions> PostgresStore::LoadDecisions() {
  LoadedDecisions out;
  absl::Status st = WithTx("load decisions", true, [&](Tx& tx) -> absl::Status {
    out = LoadedDecisions();
    auto q = tx.Exec("load decisions",
                     "SELECT prefix, action, origin, reason, source, created_ns, expires_ns, "
                     "version, rate_per_s, burst FROM decisions ORDER BY version");
    if (!q.ok()) return q.status();
    for (int i = 0; i < q->size(); ++i) out.decisions.push_back(DecisionRow(*q, i));
    auto v = tx.Exec("load the decision version",
                     "SELECT value FROM meta WHERE key = 'decision_version'");
    if (!v.ok()) return v.status();
    out.version = v->size() ? static_cast<uint64_t>(v->Int(0, 0)) : 0;
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<uint64_t>> PostgresStore::CommitDecisions(
    const std::vector<v1::DecisionChange>& changes) {
  for (const auto& c : changes) {
    if (c.kind() != v1::DecisionChange::KIND_SET && c.kind() != v1::DecisionChange::KIND_REMOVE &&
        c.kind() != v1::DecisionChange::KIND_EXPIRE) {
      return absl::InvalidArgumentError(
          absl::StrCat("a decision change of ", c.decision().prefix(), " has no kind"));
    }
  }
  std::vector<uint64_t> versions;
  if (changes.empty()) return versions;
  absl::Status st = WithTx("commit decisions", false, [&](Tx& tx) -> absl::Status {
    versions.clear();
    if (auto r = tx.Exec("lock the decision versions",
                         absl::StrCat("SELECT pg_advisory_xact_lock(", kDecisionsLock, ")"));
        !r.ok()) {
      return r.status();
    }
    auto seq = tx.Exec("take decision versions",
                       "SELECT nextval('decision_version') FROM generate_series(1, $1) ORDER BY 1",
                       {I(static_cast<int64_t>(changes.size()))});
    if (!seq.ok()) return seq.status();
    for (int i = 0; i < seq->size(); ++i) versions.push_back(static_cast<uint64_t>(seq->Int(i, 0)));
    // The log gets every change; the table only the last change of each
    // (prefix, action) in the batch, so that a few statements do it all
    // whatever the batch's size (the lock is held meanwhile).
    std::vector<Param> log;
    std::map<std::pair<std::string, int>, size_t> last_of;  // key -> index of its last change
    for (size_t i = 0; i < changes.size(); ++i) {
      v1::Decision d = changes[i].decision();
      d.set_version(versions[i]);
      std::string blob;
      d.SerializeToString(&blob);
      log.push_back(U(versions[i]));
      log.push_back(I(changes[i].kind()));
      log.push_back(B(std::move(blob)));
      last_of[{d.prefix(), static_cast<int>(d.action())}] = i;
    }
    if (auto r =
            InsertRows(tx, "log decision changes",
                       "INSERT INTO decision_log (version, kind, decision) VALUES ", 3, log, "");
        !r.ok()) {
      return r;
    }
    std::vector<Param> sets, removes;
    for (const auto& [key, i] : last_of) {
      const v1::Decision& d = changes[i].decision();
      if (changes[i].kind() == v1::DecisionChange::KIND_SET) {
        for (Param& p :
             std::vector<Param>{T(d.prefix()), I(d.action()), I(d.origin()), T(d.reason()),
                                T(d.source()), I(d.created_unix_ns()), I(d.expires_unix_ns()),
                                U(versions[i]), U(d.rate_per_s()), U(d.burst())}) {
          sets.push_back(std::move(p));
        }
      } else {
        removes.push_back(T(d.prefix()));
        removes.push_back(I(d.action()));
      }
    }
    if (auto r = InsertRows(
            tx, "store decisions",
            "INSERT INTO decisions (prefix, action, origin, reason, source, created_ns, "
            "expires_ns, version, rate_per_s, burst) VALUES ",
            10, sets,
            " ON CONFLICT (prefix, action) DO UPDATE SET origin = EXCLUDED.origin, "
            "reason = EXCLUDED.reason, source = EXCLUDED.source, created_ns = "
            "EXCLUDED.created_ns, expires_ns = EXCLUDED.expires_ns, version = EXCLUDED.version, "
            "rate_per_s = EXCLUDED.rate_per_s, burst = EXCLUDED.burst");
        !r.ok()) {
      return r;
    }
    if (auto r = InsertRows(tx, "delete decisions",
                            "DELETE FROM decisions WHERE (prefix, action) IN (VALUES ", 2, removes,
                            ")", "::text", "::integer");
        !r.ok()) {
      return r;
    }
    const std::string last = absl::StrCat(versions.back());
    if (auto r = tx.Exec("store the decision version",
                         "UPDATE meta SET value = $1 WHERE key = 'decision_version' AND value < $1",
                         {T(last)});
        !r.ok()) {
      return r.status();
    }
    // Delivered at commit, to every controller listening.
    if (auto r = tx.Exec("notify", "SELECT pg_notify($1, $2)", {T(kChannel), T(last)}); !r.ok()) {
      return r.status();
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return versions;
}

absl::StatusOr<std::vector<v1::DecisionChange>> PostgresStore::DecisionChangesSince(uint64_t after,
                                                                                    size_t limit) {
  std::vector<v1::DecisionChange> out;
  absl::Status st = WithTx("read decision changes", true, [&](Tx& tx) -> absl::Status {
    out.clear();
    auto p = tx.Exec("read decision changes",
                     "SELECT value FROM meta WHERE key = 'decision_log_pruned_through'");
    if (!p.ok()) return p.status();
    const uint64_t pruned = p->size() ? static_cast<uint64_t>(p->Int(0, 0)) : 0;
    if (after < pruned) {
      return absl::OutOfRangeError(absl::StrCat("decision changes after version ", after,
                                                " were pruned from the log (through version ",
                                                pruned, "): reload the decisions"));
    }
    auto q =
        tx.Exec("read decision changes",
                absl::StrCat("SELECT version, kind, decision FROM decision_log WHERE version > "
                             "$1 ORDER BY version",
                             limit ? absl::StrCat(" LIMIT ", limit) : ""),
                {U(after)});
    if (!q.ok()) return q.status();
    for (int i = 0; i < q->size(); ++i) {
      v1::DecisionChange c;
      c.set_version(static_cast<uint64_t>(q->Int(i, 0)));
      c.set_kind(static_cast<v1::DecisionChange::Kind>(q->Int(i, 1)));
      if (!c.mutable_decision()->ParseFromString(q->Bytes(i, 2))) {
        return absl::DataLossError(
            absl::StrCat("logged decision change ", c.version(), " does not parse"));
      }
      c.mutable_decision()->set_version(c.version());
      out.push_back(std::move(c));
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::Status PostgresStore::PruneDecisionLog(size_t keep) {
  return WithTx("prune the decision log", false, [&](Tx& tx) -> absl::Status {
    // Remembers the highest version pruned: a follower behind it has lost
    // changes (gaps of rolled-back commits are no such loss).
    auto r = tx.Exec(
        "prune the decision log",
        "WITH gone AS (DELETE FROM decision_log WHERE version <= (SELECT version FROM "
        "decision_log ORDER BY version DESC OFFSET $1 LIMIT 1) RETURNING version) "
        "UPDATE meta SET value = GREATEST(value, (SELECT COALESCE(MAX(version), 0) FROM gone)) "
        "WHERE key = 'decision_log_pruned_through'",
        {U(keep)});
    return r.status();
  });
}

bool PostgresStore::WaitForDecisionNotice(std::chrono::milliseconds timeout) {
  const auto until = Clock::now() + timeout;
  std::lock_guard<std::mutex> l(listen_mu_);
  for (;;) {
    auto now = Clock::now();
    if (!listen_ || PQstatus(listen_) != CONNECTION_OK) {
      if (listen_) {
        PQfinish(listen_);
        listen_ = nullptr;
      }
      if (now >= listen_next_attempt_) {
        std::string err;
        PGconn* c = Connect(&err);
        if (c && Run(c, "listen", absl::StrCat("LISTEN ", kChannel).c_str()).ok()) {
          listen_ = c;
          if (listened_once_) ++reconnects_;
          listened_once_ = true;
        } else {
          if (c) PQfinish(c);
          listen_next_attempt_ = now + std::chrono::milliseconds(500);
        }
      }
      if (!listen_) {
        if (now >= until) return false;
        std::this_thread::sleep_until(std::min(until, listen_next_attempt_));
        continue;
      }
    }
    if (!PQconsumeInput(listen_)) {  // lost: made anew above
      PQfinish(listen_);
      listen_ = nullptr;
      continue;
    }
    bool got = false;
    while (PGnotify* n = PQnotifies(listen_)) {
      got = true;
      PQfreemem(n);
    }
    if (got) return true;
    now = Clock::now();
    if (now >= until) return false;
    pollfd p{};
    p.fd = PQsocket(listen_);
    p.events = POLLIN;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count();
    if (poll(&p, 1, static_cast<int>(std::max<int64_t>(1, left))) < 0 && errno != EINTR) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
}

bool PostgresStore::Leader() {
  std::lock_guard<std::mutex> l(leader_mu_);
  const auto now = Clock::now();
  if (leading_) {
    if (leader_ && PQstatus(leader_) == CONNECTION_OK) {
      if (now - leader_checked_ < std::chrono::seconds(1)) return true;
      if (Run(leader_, "check leadership", "SELECT 1").ok()) {
        leader_checked_ = now;
        return true;
      }
    }
    // The session ended, and the lock with it: another may lead now.
    leading_ = false;
    if (leader_) PQfinish(leader_);
    leader_ = nullptr;
  }
  if (!leader_ || PQstatus(leader_) != CONNECTION_OK) {
    if (leader_) {
      PQfinish(leader_);
      leader_ = nullptr;
    }
    if (now < leader_next_attempt_) return false;
    std::string err;
    leader_ = Connect(&err);
    if (!leader_) {
      leader_next_attempt_ = now + std::chrono::milliseconds(500);
      return false;
    }
    if (leader_connected_once_) ++reconnects_;
    leader_connected_once_ = true;
  }
  const std::string sql = absl::StrCat("SELECT pg_try_advisory_lock(", kLeaderLock, ")");
  auto r = Run(leader_, "take leadership", sql.c_str());
  if (!r.ok()) {
    PQfinish(leader_);
    leader_ = nullptr;
    return false;
  }
  leading_ = r->size() == 1 && r->Bool(0, 0);
  leader_checked_ = now;
  return leading_;
}

// ---- agents and reports --------------------------------------------------------

absl::Status PostgresStore::UpsertAgent(const v1::AgentInfo& a) {
  return WithTx("store agent", false, [&](Tx& tx) -> absl::Status {
    return tx
        .Exec("store agent",
              "INSERT INTO agents (agent, hostname, interfaces, version, ruleset, first_seen_ns, "
              "last_seen_ns, counters) VALUES ($1, $2, $3, $4, $5, $6, $6, $7) "
              "ON CONFLICT (agent) DO UPDATE SET hostname = EXCLUDED.hostname, interfaces = "
              "EXCLUDED.interfaces, version = EXCLUDED.version, ruleset = EXCLUDED.ruleset, "
              "last_seen_ns = EXCLUDED.last_seen_ns, counters = CASE WHEN EXCLUDED.counters = '' "
              "THEN agents.counters ELSE EXCLUDED.counters END",
              {T(a.agent()), T(a.hostname()), T(absl::StrJoin(a.interfaces(), ",")), T(a.version()),
               T(a.ruleset_sha256()), I(a.last_seen_unix_ns()), T(CountersText(a.counters()))})
        .status();
  });
}

absl::StatusOr<std::vector<v1::AgentInfo>> PostgresStore::Agents() {
  std::vector<v1::AgentInfo> out;
  absl::Status st = WithTx("list agents", true, [&](Tx& tx) -> absl::Status {
    out.clear();
    auto q = tx.Exec("list agents",
                     "SELECT agent, hostname, interfaces, version, ruleset, first_seen_ns, "
                     "last_seen_ns, reports, counters FROM agents ORDER BY agent COLLATE \"C\"");
    if (!q.ok()) return q.status();
    for (int i = 0; i < q->size(); ++i) {
      v1::AgentInfo a;
      a.set_agent(q->Text(i, 0));
      a.set_hostname(q->Text(i, 1));
      for (absl::string_view x : absl::StrSplit(q->Text(i, 2), ',', absl::SkipEmpty())) {
        a.add_interfaces(std::string(x));
      }
      a.set_version(q->Text(i, 3));
      a.set_ruleset_sha256(q->Text(i, 4));
      a.set_first_seen_unix_ns(q->Int(i, 5));
      a.set_last_seen_unix_ns(q->Int(i, 6));
      a.set_reports(static_cast<uint64_t>(q->Int(i, 7)));
      ParseCounters(q->Text(i, 8), a.mutable_counters());
      out.push_back(std::move(a));
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<uint64_t> PostgresStore::StoreReports(const std::string& agent,
                                                     const std::vector<v1::AgentReport>& reports,
                                                     uint64_t* duplicates) {
  std::vector<ReportRow> rows;
  rows.reserve(reports.size());
  for (const auto& r : reports) rows.push_back({agent, r});
  std::vector<bool> stored;
  std::map<std::string, uint64_t> last;
  if (auto st = StoreReportBatch(rows, &stored, &last); !st.ok()) return st;
  if (duplicates) {
    *duplicates += static_cast<uint64_t>(std::count(stored.begin(), stored.end(), false));
  }
  return last[agent];
}

namespace {

constexpr const char* kAlarmInsert =
    "INSERT INTO alarms (agent, report_id, ts_ns, category, src_ip, rule, severity, signature, "
    "json) VALUES ";
constexpr int kAlarmParams = 9;

absl::Status InsertAlarms(PostgresStore::Tx& tx, std::vector<Param>& params) {
  return InsertRows(tx, "store alarms", kAlarmInsert, kAlarmParams, params, "");
}

}  // namespace

absl::Status PostgresStore::StoreReportBatch(const std::vector<ReportRow>& rows,
                                             std::vector<bool>* stored_out,
                                             std::map<std::string, uint64_t>* last_out) {
  stored_out->assign(rows.size(), false);
  std::set<std::string> names;  // locked in name order: no deadlock between batches
  bool alarms = false;
  for (const auto& row : rows) {
    names.insert(row.agent);
    alarms = alarms || row.report.has_alarm();
  }
  std::map<std::string, std::pair<uint64_t, uint64_t>> agents;  // last id, stored now
  absl::Status st = WithTx("store reports", false, [&](Tx& tx) -> absl::Status {
    stored_out->assign(rows.size(), false);
    agents.clear();
    if (alarms) {
      if (auto r = tx.Exec("store reports",
                           absl::StrCat("SELECT pg_advisory_xact_lock(", kAlarmsLock, ")"));
          !r.ok()) {
        return r.status();
      }
    }
    for (const auto& name : names) {
      // Adds the agent if it reports before it registered, and locks its
      // row to the commit: another controller storing the same agent's
      // reports waits here, then sees the ids stored.
      auto r = tx.Exec("read the last report id",
                       "INSERT INTO agents (agent, hostname, interfaces, version, ruleset, "
                       "first_seen_ns, last_seen_ns) VALUES ($1, '', '', '', '', 0, 0) "
                       "ON CONFLICT (agent) DO UPDATE SET agent = EXCLUDED.agent "
                       "RETURNING last_report_id",
                       {T(name)});
      if (!r.ok()) return r.status();
      agents[name] = {static_cast<uint64_t>(r->Int(0, 0)), 0};
    }
    std::vector<Param> params;
    for (size_t i = 0; i < rows.size(); ++i) {
      const auto& [agent, r] = rows[i];
      auto& [last, count] = agents[agent];
      if (r.id() <= last) continue;  // seen before: at least once in, once stored
      last = r.id();
      ++count;
      (*stored_out)[i] = true;
      if (r.has_alarm()) {
        const auto& a = r.alarm();
        params.push_back(T(agent));
        params.push_back(U(r.id()));
        // An alarm without its own time has the report's (else retention
        // would take it for decades old).
        params.push_back(I(a.ts_unix_ns() ? a.ts_unix_ns() : r.ts_unix_ns()));
        params.push_back(T(a.category()));
        params.push_back(T(a.src_ip()));
        params.push_back(T(a.rule()));
        params.push_back(I(a.severity()));
        params.push_back(T(a.signature()));
        params.push_back(T(a.json()));
      }
    }
    if (auto s = InsertAlarms(tx, params); !s.ok()) return s;
    for (const auto& [agent, lc] : agents) {
      auto r = tx.Exec("store the last report id",
                       "UPDATE agents SET last_report_id = $2, reports = reports + $3 "
                       "WHERE agent = $1",
                       {T(agent), U(lc.first), U(lc.second)});
      if (!r.ok()) return r.status();
    }
    return absl::OkStatus();
  });
  if (!st.ok()) {
    stored_out->assign(rows.size(), false);
    return st;
  }
  for (const auto& [agent, lc] : agents) (*last_out)[agent] = lc.first;
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> PostgresStore::LastReportId(const std::string& agent) {
  uint64_t out = 0;
  absl::Status st = WithTx("read the last report id", false, [&](Tx& tx) -> absl::Status {
    auto q = tx.Exec("read the last report id",
                     "SELECT last_report_id FROM agents WHERE agent = $1", {T(agent)});
    if (!q.ok()) return q.status();
    out = q->size() ? static_cast<uint64_t>(q->Int(0, 0)) : 0;
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

// ---- alarms ------------------------------------------------------------------

absl::Status PostgresStore::StoreAlarm(const std::string& origin, const v1::Alarm& a) {
  return WithTx("store an alarm", false, [&](Tx& tx) -> absl::Status {
    if (auto r = tx.Exec("store an alarm",
                         absl::StrCat("SELECT pg_advisory_xact_lock(", kAlarmsLock, ")"));
        !r.ok()) {
      return r.status();
    }
    std::vector<Param> p = {T(origin),     I(0),        I(a.ts_unix_ns()), T(a.category()),
                            T(a.src_ip()), T(a.rule()), I(a.severity()),   T(a.signature()),
                            T(a.json())};
    return InsertAlarms(tx, p);
  });
}

namespace {

v1::StoredAlarm AlarmRow(const Rows& q, int row, int first) {
  v1::StoredAlarm s;
  s.set_agent(q.Text(row, first));
  s.set_report_id(static_cast<uint64_t>(q.Int(row, first + 1)));
  auto* a = s.mutable_alarm();
  a->set_ts_unix_ns(q.Int(row, first + 2));
  a->set_category(q.Text(row, first + 3));
  a->set_src_ip(q.Text(row, first + 4));
  a->set_rule(q.Text(row, first + 5));
  a->set_severity(static_cast<int32_t>(q.Int(row, first + 6)));
  a->set_signature(q.Text(row, first + 7));
  a->set_json(q.Text(row, first + 8));
  return s;
}
constexpr const char* kAlarmCols =
    "agent, report_id, ts_ns, category, src_ip, rule, severity, signature, json";

}  // namespace

absl::StatusOr<std::vector<v1::StoredAlarm>> PostgresStore::Alarms(const AlarmFilter& f) {
  std::vector<v1::StoredAlarm> out;
  absl::Status st = WithTx("list alarms", true, [&](Tx& tx) -> absl::Status {
    out.clear();
    auto q = tx.Exec(
        "list alarms",
        absl::StrCat("SELECT * FROM (SELECT id, ", kAlarmCols,
                     " FROM alarms WHERE ts_ns >= $1 AND ($2::text = '' OR category = $2) AND "
                     "($3::text = '' OR src_ip = $3) AND ($4::text = '' OR agent = $4) "
                     "ORDER BY id DESC LIMIT $5) a ORDER BY id"),
        {I(f.since_unix_ns), T(f.category), T(f.src_ip), T(f.agent), I(f.limit ? f.limit : 1000)});
    if (!q.ok()) return q.status();
    for (int i = 0; i < q->size(); ++i) out.push_back(AlarmRow(*q, i, 1));
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<std::pair<int64_t, v1::StoredAlarm>>> PostgresStore::AlarmsAfter(
    int64_t row_id, uint32_t limit) {
  std::vector<std::pair<int64_t, v1::StoredAlarm>> out;
  absl::Status st = WithTx("follow alarms", true, [&](Tx& tx) -> absl::Status {
    out.clear();
    auto q = tx.Exec(
        "follow alarms",
        absl::StrCat("SELECT id, ", kAlarmCols, " FROM alarms WHERE id > $1 ORDER BY id LIMIT $2"),
        {I(row_id), I(limit)});
    if (!q.ok()) return q.status();
    for (int i = 0; i < q->size(); ++i) out.emplace_back(q->Int(i, 0), AlarmRow(*q, i, 1));
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

namespace {

// One number from a one-row query.
absl::StatusOr<int64_t> Scalar(PostgresStore::Tx& tx, const char* what, const char* sql) {
  auto q = tx.Exec(what, sql);
  if (!q.ok()) return q.status();
  return q->size() && !q->Null(0, 0) ? q->Int(0, 0) : 0;
}

}  // namespace

absl::StatusOr<int64_t> PostgresStore::LastAlarmRow() {
  int64_t out = 0;
  absl::Status st = WithTx("read the last alarm", false, [&](Tx& tx) -> absl::Status {
    auto v = Scalar(tx, "read the last alarm", "SELECT COALESCE(MAX(id), 0) FROM alarms");
    if (!v.ok()) return v.status();
    out = *v;
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::Status PostgresStore::PruneAlarms(int64_t min_ts_unix_ns, uint64_t max_count) {
  return WithTx("prune alarms", false, [&](Tx& tx) -> absl::Status {
    if (auto r = tx.Exec("prune alarms by age", "DELETE FROM alarms WHERE ts_ns < $1",
                         {I(min_ts_unix_ns)});
        !r.ok()) {
      return r.status();
    }
    return tx
        .Exec("prune alarms by count",
              "DELETE FROM alarms WHERE id <= (SELECT id FROM alarms ORDER BY id DESC "
              "LIMIT 1 OFFSET $1)",
              {U(max_count)})
        .status();
  });
}

absl::StatusOr<uint64_t> PostgresStore::AlarmCount() {
  int64_t out = 0;
  absl::Status st = WithTx("count alarms", false, [&](Tx& tx) -> absl::Status {
    auto v = Scalar(tx, "count alarms", "SELECT COUNT(*) FROM alarms");
    if (!v.ok()) return v.status();
    out = *v;
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return static_cast<uint64_t>(out);
}

// ---- honeypots and hits --------------------------------------------------------

absl::Status PostgresStore::UpsertHoneypot(const v1::AgentInfo& h) {
  return WithTx("store honeypot", false, [&](Tx& tx) -> absl::Status {
    return tx
        .Exec("store honeypot",
              "INSERT INTO honeypots (honeypot, hostname, version, listen, deflector_users, "
              "first_seen_ns, last_seen_ns) VALUES ($1, $2, $3, $4, $5, $6, $6) "
              "ON CONFLICT (honeypot) DO UPDATE SET hostname = EXCLUDED.hostname, version = "
              "EXCLUDED.version, listen = EXCLUDED.listen, deflector_users = "
              "EXCLUDED.deflector_users, last_seen_ns = EXCLUDED.last_seen_ns",
              {T(h.agent()), T(h.hostname()), T(h.version()), T(absl::StrJoin(h.interfaces(), ",")),
               U(h.deflector_users()), I(h.last_seen_unix_ns())})
        .status();
  });
}

absl::StatusOr<std::vector<v1::AgentInfo>> PostgresStore::Honeypots() {
  std::vector<v1::AgentInfo> out;
  absl::Status st = WithTx("list honeypots", true, [&](Tx& tx) -> absl::Status {
    out.clear();
    auto q = tx.Exec("list honeypots",
                     "SELECT honeypot, hostname, version, listen, deflector_users, first_seen_ns, "
                     "last_seen_ns, hits FROM honeypots ORDER BY honeypot COLLATE \"C\"");
    if (!q.ok()) return q.status();
    for (int i = 0; i < q->size(); ++i) {
      v1::AgentInfo h;
      h.set_honeypot(true);
      h.set_agent(q->Text(i, 0));
      h.set_hostname(q->Text(i, 1));
      h.set_version(q->Text(i, 2));
      for (absl::string_view x : absl::StrSplit(q->Text(i, 3), ',', absl::SkipEmpty())) {
        h.add_interfaces(std::string(x));
      }
      h.set_deflector_users(static_cast<uint32_t>(q->Int(i, 4)));
      h.set_first_seen_unix_ns(q->Int(i, 5));
      h.set_last_seen_unix_ns(q->Int(i, 6));
      h.set_reports(static_cast<uint64_t>(q->Int(i, 7)));
      out.push_back(std::move(h));
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<uint64_t> PostgresStore::StoreHits(const std::string& honeypot,
                                                  const std::vector<v1::HoneypotHit>& hits,
                                                  int64_t now, std::vector<bool>* stored_out) {
  uint64_t last = 0;
  absl::Status st = WithTx("store hits", false, [&](Tx& tx) -> absl::Status {
    stored_out->assign(hits.size(), false);
    // Adds the honeypot if it reports before it registered; locks its row
    // to the commit (another controller storing its hits waits here).
    auto r = tx.Exec("read the last hit id",
                     "INSERT INTO honeypots (honeypot, hostname, version, listen, deflector_users, "
                     "first_seen_ns, last_seen_ns) VALUES ($1, '', '', '', 0, $2, $2) "
                     "ON CONFLICT (honeypot) DO UPDATE SET honeypot = EXCLUDED.honeypot "
                     "RETURNING last_hit_id",
                     {T(honeypot), I(now)});
    if (!r.ok()) return r.status();
    last = static_cast<uint64_t>(r->Int(0, 0));
    uint64_t count = 0;
    std::string blob;
    for (size_t i = 0; i < hits.size(); ++i) {
      const auto& h = hits[i];
      if (h.id() <= last) continue;  // seen before: at least once in, once stored
      v1::HoneypotHit copy;
      const v1::HoneypotHit* row = &h;
      if (h.ts_unix_ns() == 0) {  // else retention would take it for decades old
        copy = h;
        copy.set_ts_unix_ns(now);
        row = &copy;
      }
      blob.clear();
      row->SerializeToString(&blob);
      auto put = tx.Exec("store a hit",
                         "INSERT INTO hits (honeypot, hit_id, ts_ns, stage, src_ip, callee, "
                         "deflected, audio_sha256, recorded_ms, hit) VALUES ($1, $2, $3, $4, $5, "
                         "$6, $7, $8, $9, $10)",
                         {T(honeypot), U(row->id()), I(row->ts_unix_ns()), I(row->stage()),
                          T(row->src_ip()), T(row->callee()), I(row->deflected() ? 1 : 0),
                          T(row->audio_sha256()), I(row->recorded_ms()), B(blob)});
      if (!put.ok()) return put.status();
      last = h.id();
      ++count;
      (*stored_out)[i] = true;
    }
    return tx
        .Exec("store the last hit id",
              "UPDATE honeypots SET last_hit_id = $2, hits = hits + $3, last_seen_ns = $4 "
              "WHERE honeypot = $1",
              {T(honeypot), U(last), U(count), I(now)})
        .status();
  });
  if (!st.ok()) {
    stored_out->assign(hits.size(), false);
    return st;
  }
  return last;
}

absl::StatusOr<uint64_t> PostgresStore::LastHitId(const std::string& honeypot) {
  uint64_t out = 0;
  absl::Status st = WithTx("read the last hit id", false, [&](Tx& tx) -> absl::Status {
    auto q = tx.Exec("read the last hit id",
                     "SELECT last_hit_id FROM honeypots WHERE honeypot = $1", {T(honeypot)});
    if (!q.ok()) return q.status();
    out = q->size() ? static_cast<uint64_t>(q->Int(0, 0)) : 0;
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<v1::StoredHit>> PostgresStore::Hits(const HitFilter& f) {
  // Only the filters given go into the query (each its own index).
  std::vector<Param> params = {I(f.since_unix_ns)};
  std::string where = "ts_ns >= $1";
  auto add = [&](const char* cond, Param p) {
    params.push_back(std::move(p));
    absl::StrAppend(&where, " AND ", cond, " $", params.size());
  };
  if (!f.src_ip.empty()) add("src_ip =", T(f.src_ip));
  if (!f.callee.empty()) add("callee =", T(f.callee));
  if (!f.honeypot.empty()) add("honeypot =", T(f.honeypot));
  if (f.deflected_only) absl::StrAppend(&where, " AND deflected = 1");
  if (f.stage != v1::HoneypotHit::STAGE_UNSPECIFIED) add("stage =", I(f.stage));
  params.push_back(I(f.limit ? f.limit : 1000));
  const std::string sql = absl::StrCat(
      "SELECT honeypot, hit, audio_sha256 FROM (SELECT id, honeypot, hit, audio_sha256 FROM hits "
      "WHERE ",
      where, " ORDER BY id DESC LIMIT $", params.size(), ") h ORDER BY id");
  std::vector<v1::StoredHit> out;
  absl::Status st = WithTx("list hits", true, [&](Tx& tx) -> absl::Status {
    out.clear();
    auto q = tx.Exec("list hits", sql, params);
    if (!q.ok()) return q.status();
    for (int i = 0; i < q->size(); ++i) {
      v1::StoredHit s;
      s.set_honeypot(q->Text(i, 0));
      if (!s.mutable_hit()->ParseFromString(q->Bytes(i, 1))) {
        return absl::DataLossError(
            absl::StrCat("a stored hit of ", s.honeypot(), " does not parse"));
      }
      s.set_campaign(q->Text(i, 2));
      out.push_back(std::move(s));
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<v1::Campaign>> PostgresStore::Campaigns(uint32_t min_sources,
                                                                   uint32_t limit) {
  std::vector<v1::Campaign> out;
  absl::Status st = WithTx("list campaigns", true, [&](Tx& tx) -> absl::Status {
    out.clear();
    auto q = tx.Exec(
        "list campaigns",
        "SELECT audio_sha256, calls, first_ns, last_ns, recorded_ms FROM (SELECT audio_sha256, "
        "COUNT(*) AS calls, MIN(ts_ns) AS first_ns, MAX(ts_ns) AS last_ns, MAX(recorded_ms) AS "
        "recorded_ms FROM hits WHERE stage = 2 AND audio_sha256 <> '' GROUP BY audio_sha256 "
        "HAVING COUNT(DISTINCT src_ip) >= $1 ORDER BY MAX(ts_ns) DESC, audio_sha256 COLLATE \"C\" "
        "LIMIT $2) c ORDER BY last_ns, audio_sha256 COLLATE \"C\"",
        {I(std::max<uint32_t>(1, min_sources)), I(limit ? limit : 1000)});
    if (!q.ok()) return q.status();
    for (int i = 0; i < q->size(); ++i) {
      v1::Campaign c;
      c.set_audio_sha256(q->Text(i, 0));
      c.set_calls(static_cast<uint64_t>(q->Int(i, 1)));
      c.set_first_unix_ns(q->Int(i, 2));
      c.set_last_unix_ns(q->Int(i, 3));
      c.set_recorded_ms(q->Int(i, 4));
      out.push_back(std::move(c));
    }
    for (auto& c : out) {
      auto s = tx.Exec("list a campaign's sources",
                       "SELECT src_ip FROM hits WHERE audio_sha256 = $1 AND audio_sha256 <> '' "
                       "AND stage = 2 GROUP BY src_ip ORDER BY MIN(ts_ns), MIN(id)",
                       {T(c.audio_sha256())});
      if (!s.ok()) return s.status();
      for (int i = 0; i < s->size(); ++i) c.add_sources(s->Text(i, 0));
      auto e = tx.Exec("list a campaign's callees",
                       "SELECT callee FROM hits WHERE audio_sha256 = $1 AND audio_sha256 <> '' "
                       "AND stage = 2 AND callee <> '' GROUP BY callee ORDER BY MIN(ts_ns), "
                       "MIN(id) LIMIT 20",
                       {T(c.audio_sha256())});
      if (!e.ok()) return e.status();
      for (int i = 0; i < e->size(); ++i) c.add_callees(e->Text(i, 0));
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::Status PostgresStore::PruneHits(int64_t min_ts_unix_ns, uint64_t max_count) {
  return WithTx("prune hits", false, [&](Tx& tx) -> absl::Status {
    if (auto r =
            tx.Exec("prune hits by age", "DELETE FROM hits WHERE ts_ns < $1", {I(min_ts_unix_ns)});
        !r.ok()) {
      return r.status();
    }
    return tx
        .Exec("prune hits by count",
              "DELETE FROM hits WHERE id <= (SELECT id FROM hits ORDER BY id DESC "
              "LIMIT 1 OFFSET $1)",
              {U(max_count)})
        .status();
  });
}

absl::StatusOr<uint64_t> PostgresStore::HitCount() {
  int64_t out = 0;
  absl::Status st = WithTx("count hits", false, [&](Tx& tx) -> absl::Status {
    auto v = Scalar(tx, "count hits", "SELECT COUNT(*) FROM hits");
    if (!v.ok()) return v.status();
    out = *v;
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return static_cast<uint64_t>(out);
}

// ---- audit and state -------------------------------------------------------------

absl::Status PostgresStore::Audit(int64_t ts, const std::string& who, const std::string& what) {
  return WithTx("write the audit log", false, [&](Tx& tx) -> absl::Status {
    return tx
        .Exec("write the audit log", "INSERT INTO audit (ts_ns, who, what) VALUES ($1, $2, $3)",
              {I(ts), T(who), T(what)})
        .status();
  });
}

absl::StatusOr<std::vector<std::string>> PostgresStore::AuditLog(uint32_t limit) {
  std::vector<std::string> out;
  absl::Status st = WithTx("read the audit log", true, [&](Tx& tx) -> absl::Status {
    out.clear();
    auto q = tx.Exec("read the audit log",
                     "SELECT ts_ns, who, what FROM audit ORDER BY id DESC LIMIT $1", {U(limit)});
    if (!q.ok()) return q.status();
    for (int i = 0; i < q->size(); ++i) {
      out.push_back(absl::StrCat(q->Int(i, 0), " ", q->Text(i, 1), " ", q->Text(i, 2)));
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::Status PostgresStore::PutState(const std::string& key, const std::string& value) {
  return WithTx("store state", false, [&](Tx& tx) -> absl::Status {
    return tx
        .Exec("store state",
              "INSERT INTO state (key, value) VALUES ($1, $2) "
              "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
              {T(key), B(value)})
        .status();
  });
}

absl::StatusOr<std::string> PostgresStore::GetState(const std::string& key) {
  std::string out;
  absl::Status st = WithTx("read state", false, [&](Tx& tx) -> absl::Status {
    auto q = tx.Exec("read state", "SELECT value FROM state WHERE key = $1", {T(key)});
    if (!q.ok()) return q.status();
    out = q->size() ? q->Bytes(0, 0) : std::string();
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

// ---- forwarded events ----------------------------------------------------------

absl::Status PostgresStore::AppendEvents(const std::vector<v1::ForwardedEvent>& events) {
  if (events.empty()) return absl::OkStatus();
  return WithTx("queue events", false, [&](Tx& tx) -> absl::Status {
    if (auto r = tx.Exec("queue events",
                         absl::StrCat("SELECT pg_advisory_xact_lock(", kEventsLock, ")"));
        !r.ok()) {
      return r.status();
    }
    std::vector<Param> params;
    for (const auto& e : events) {
      std::string blob;
      e.SerializeToString(&blob);
      params.push_back(B(std::move(blob)));
    }
    return InsertRows(tx, "queue events", "INSERT INTO events (event) VALUES ", 1, params, "");
  });
}

absl::StatusOr<std::vector<std::pair<int64_t, v1::ForwardedEvent>>> PostgresStore::EventsAfter(
    int64_t id, size_t limit) {
  std::vector<std::pair<int64_t, v1::ForwardedEvent>> out;
  absl::Status st = WithTx("read queued events", true, [&](Tx& tx) -> absl::Status {
    out.clear();
    auto q = tx.Exec("read queued events",
                     absl::StrCat("SELECT id, event FROM events WHERE id > $1 ORDER BY id",
                                  limit ? absl::StrCat(" LIMIT ", limit) : ""),
                     {I(id)});
    if (!q.ok()) return q.status();
    for (int i = 0; i < q->size(); ++i) {
      v1::ForwardedEvent e;
      if (!e.ParseFromString(q->Bytes(i, 1))) {
        return absl::DataLossError(absl::StrCat("queued event ", q->Int(i, 0), " does not parse"));
      }
      out.emplace_back(q->Int(i, 0), std::move(e));
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<int64_t> PostgresStore::LastEventId() {
  int64_t out = 0;
  absl::Status st = WithTx("read the last event", false, [&](Tx& tx) -> absl::Status {
    auto v = Scalar(tx, "read the last event", "SELECT COALESCE(MAX(id), 0) FROM events");
    if (!v.ok()) return v.status();
    out = *v;
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::Status PostgresStore::PruneEvents(int64_t through_id) {
  return WithTx("prune queued events", false, [&](Tx& tx) -> absl::Status {
    return tx.Exec("prune queued events", "DELETE FROM events WHERE id <= $1", {I(through_id)})
        .status();
  });
}

std::map<std::string, double> PostgresStore::Counters() {
  std::map<std::string, double> m;
  m["db_reconnects_total"] = static_cast<double>(reconnects_.load());
  m["db_errors_total"] = static_cast<double>(errors_.load());
  m["db_pool_size"] = static_cast<double>(pool_size_);
  {
    std::lock_guard<std::mutex> l(pool_mu_);
    m["db_pool_in_use"] = static_cast<double>(in_use_);
  }
  m["db_leader"] = leading_.load() ? 1 : 0;
  return m;
}

}  // namespace sw::controller
