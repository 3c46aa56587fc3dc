// SPDX-License-Identifier: BSD-2-Clause
#include "hit_log.h"

#include <grpcpp/grpcpp.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "sipwarden/v1/honeypot.grpc.pb.h"

namespace sw::honeypot {

namespace v1 = sipwarden::v1;

namespace {

absl::Status Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    absl::Status st = absl::UnavailableError(absl::StrCat("hit log: ", err ? err : "error", " (", sql, ")"));
    sqlite3_free(err);
    return st;
  }
  return absl::OkStatus();
}

struct Stmt {
  sqlite3_stmt* s = nullptr;
  Stmt(sqlite3* db, const char* sql) { sqlite3_prepare_v2(db, sql, -1, &s, nullptr); }
  ~Stmt() { sqlite3_finalize(s); }
};

uint64_t Scalar(sqlite3* db, const char* sql) {
  Stmt st(db, sql);
  if (st.s != nullptr && sqlite3_step(st.s) == SQLITE_ROW) return static_cast<uint64_t>(sqlite3_column_int64(st.s, 0));
  return 0;
}

}  // namespace

struct HitLog::Link {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::HoneypotService::Stub> stub;
  size_t which = 0;
  bool registered = false;
  int64_t backoff_ms = 0;
  std::chrono::steady_clock::time_point retry_at{};
  std::mt19937_64 rng{std::random_device{}()};
};

HitLog::HitLog(HitLogOptions options) : opt_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<HitLog>> HitLog::Open(HitLogOptions options) {
  std::unique_ptr<HitLog> log(new HitLog(std::move(options)));
  if (sqlite3_open_v2(log->opt_.db_path.c_str(), &log->db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                      nullptr) != SQLITE_OK) {
    return absl::InvalidArgumentError(
        absl::StrCat("hit log ", log->opt_.db_path, ": ", log->db_ ? sqlite3_errmsg(log->db_) : "cannot open"));
  }
  sqlite3_busy_timeout(log->db_, 5000);
  for (const char* sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL",
                          "CREATE TABLE IF NOT EXISTS hits (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, "
                          "method TEXT NOT NULL, src TEXT NOT NULL, callee TEXT NOT NULL, body BLOB NOT NULL)",
                          "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)"}) {
    if (absl::Status st = Exec(log->db_, sql); !st.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(log->opt_.db_path, ": ", st.message()));
    }
  }
  log->written_through_ = Scalar(log->db_, "SELECT COALESCE(MAX(id), 0) FROM hits");
  log->stats_.acked_through = Scalar(log->db_, "SELECT COALESCE(MAX(value), 0) FROM meta WHERE key = 'acked'");
  // Ids go on from the log, or from the time in microseconds when that is
  // larger (a honeypot whose log was removed still never reuses an id).
  const uint64_t now_us = static_cast<uint64_t>(absl::ToUnixMicros(absl::Now()));
  log->next_id_ = std::max(log->written_through_ + 1, now_us);
  if (!log->opt_.controllers.empty()) log->link_ = std::make_unique<Link>();
  log->thread_ = std::thread([l = log.get()] { l->Run(); });
  return log;
}

HitLog::~HitLog() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (db_ != nullptr) sqlite3_close(db_);
}

uint64_t HitLog::Add(v1::HoneypotHit hit) {
  uint64_t id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    id = next_id_++;
    hit.set_id(id);
    queue_.push_back(std::move(hit));
  }
  cv_.notify_one();
  return id;
}

absl::Status HitLog::Write(std::vector<v1::HoneypotHit>& hits) {
  std::lock_guard<std::mutex> lock(db_mu_);
  if (absl::Status st = Exec(db_, "BEGIN"); !st.ok()) return st;
  Stmt ins(db_, "INSERT OR IGNORE INTO hits (id, ts, method, src, callee, body) VALUES (?, ?, ?, ?, ?, ?)");
  std::string body;
  for (const v1::HoneypotHit& h : hits) {
    h.SerializeToString(&body);
    sqlite3_bind_int64(ins.s, 1, static_cast<int64_t>(h.id()));
    sqlite3_bind_int64(ins.s, 2, h.ts_unix_ns());
    sqlite3_bind_text(ins.s, 3, h.method().data(), static_cast<int>(h.method().size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(ins.s, 4, h.src_ip().data(), static_cast<int>(h.src_ip().size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(ins.s, 5, h.callee().data(), static_cast<int>(h.callee().size()), SQLITE_TRANSIENT);
    sqlite3_bind_blob(ins.s, 6, body.data(), static_cast<int>(body.size()), SQLITE_TRANSIENT);
    if (sqlite3_step(ins.s) != SQLITE_DONE) {
      absl::Status st = absl::UnavailableError(absl::StrCat("hit log insert: ", sqlite3_errmsg(db_)));
      (void)Exec(db_, "ROLLBACK");
      return st;
    }
    sqlite3_reset(ins.s);
  }
  if (absl::Status st = Exec(db_, "COMMIT"); !st.ok()) {
    (void)Exec(db_, "ROLLBACK");
    return st;
  }
  written_through_ = std::max(written_through_, hits.back().id());
  stats_.logged += hits.size();
  return absl::OkStatus();
}

absl::Status HitLog::SetAcked(uint64_t id) {
  if (id <= stats_.acked_through) return absl::OkStatus();
  std::lock_guard<std::mutex> lock(db_mu_);
  Stmt up(db_, "INSERT INTO meta (key, value) VALUES ('acked', ?) "
               "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
  sqlite3_bind_int64(up.s, 1, static_cast<int64_t>(id));
  if (sqlite3_step(up.s) != SQLITE_DONE) {
    return absl::UnavailableError(absl::StrCat("hit log: ", sqlite3_errmsg(db_)));
  }
  stats_.acked_through = id;
  // The log stays the honeypot's own record; only its oldest acknowledged
  // rows beyond max_rows go.
  const uint64_t rows = Scalar(db_, "SELECT COUNT(*) FROM hits");
  if (rows > opt_.max_rows) {
    Stmt del(db_, "DELETE FROM hits WHERE id IN (SELECT id FROM hits WHERE id <= ? ORDER BY id LIMIT ?)");
    sqlite3_bind_int64(del.s, 1, static_cast<int64_t>(id));
    sqlite3_bind_int64(del.s, 2, static_cast<int64_t>(rows - opt_.max_rows));
    (void)sqlite3_step(del.s);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::HoneypotHit>> HitLog::Read(uint64_t after_id, size_t limit) {
  std::lock_guard<std::mutex> lock(db_mu_);
  Stmt sel(db_, "SELECT body FROM hits WHERE id > ? ORDER BY id LIMIT ?");
  sqlite3_bind_int64(sel.s, 1, static_cast<int64_t>(after_id));
  sqlite3_bind_int64(sel.s, 2, static_cast<int64_t>(limit));
  std::vector<v1::HoneypotHit> out;
  while (sqlite3_step(sel.s) == SQLITE_ROW) {
    v1::HoneypotHit h;
    if (!h.ParseFromArray(sqlite3_column_blob(sel.s, 0), sqlite3_column_bytes(sel.s, 0))) {
      return absl::DataLossError("hit log: a row does not parse");
    }
    out.push_back(std::move(h));
  }
  return out;
}

void HitLog::Sync() {
  Link& l = *link_;
  if (stats_.acked_through >= written_through_ && l.registered) return;
  if (std::chrono::steady_clock::now() < l.retry_at) return;
  auto fail = [&](const grpc::Status& st, const char* what) {
    ++stats_.send_errors;
    if (!opt_.quiet && (l.registered || l.backoff_ms == 0)) {
      fprintf(stderr, "sipwarden-honeypot: controller %s: %s: %s (hits are kept in %s and sent later)\n",
              opt_.controllers[l.which].c_str(), what, st.error_message().c_str(), opt_.db_path.c_str());
    }
    l.registered = false;
    l.stub.reset();
    stats_.connected = false;
    l.which = (l.which + 1) % opt_.controllers.size();
    l.backoff_ms = l.backoff_ms == 0 ? opt_.backoff_min_ms : std::min(l.backoff_ms * 2, opt_.backoff_max_ms);
    const int64_t jitter = static_cast<int64_t>(l.rng() % static_cast<uint64_t>(l.backoff_ms / 2 + 1));
    l.retry_at = std::chrono::steady_clock::now() + std::chrono::milliseconds(l.backoff_ms / 2 + jitter);
  };
  auto context = [&](grpc::ClientContext* ctx) {
    ctx->AddMetadata("sw-name", opt_.name);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  };
  if (!l.registered) {
    l.channel = grpc::CreateChannel(opt_.controllers[l.which],
                                    opt_.credentials ? opt_.credentials : grpc::InsecureChannelCredentials());
    l.stub = v1::HoneypotService::NewStub(l.channel);
    v1::HoneypotRegisterRequest req;
    req.set_honeypot(opt_.name);
    req.set_hostname(opt_.hostname);
    req.set_version(opt_.version);
    for (const std::string& a : opt_.listen) req.add_listen(a);
    req.set_deflector_users(opt_.deflector_users);
    v1::HoneypotRegisterResponse resp;
    grpc::ClientContext ctx;
    context(&ctx);
    grpc::Status st = l.stub->Register(&ctx, req, &resp);
    if (!st.ok()) return fail(st, "register");
    l.registered = true;
    l.backoff_ms = 0;
    stats_.connected = true;
    if (!opt_.quiet) {
      fprintf(stderr, "sipwarden-honeypot: registered with controller %s as %s\n",
              opt_.controllers[l.which].c_str(), opt_.name.c_str());
    }
    (void)SetAcked(std::min<uint64_t>(resp.last_hit_id(), written_through_));
  }
  size_t batch_size = opt_.batch;
  while (stats_.acked_through < written_through_) {
    auto hits = Read(stats_.acked_through, batch_size);
    if (!hits.ok() || hits->empty()) return;
    v1::HitBatch batch;
    for (auto& h : *hits) *batch.add_hits() = std::move(h);
    v1::HitAck ack;
    grpc::ClientContext ctx;
    context(&ctx);
    grpc::Status st = l.stub->ReportHits(&ctx, batch, &ack);
    if (st.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
      // The controller refuses a batch whole for one bad hit and would
      // refuse it again: find the hit by sending one at a time, keep it in
      // the log (this host's record) and go on past it.
      if (batch_size > 1) {
        batch_size = 1;
        continue;
      }
      ++stats_.refused;
      fprintf(stderr, "sipwarden-honeypot: controller %s refused hit %lu: %s (kept in %s only)\n",
              opt_.controllers[l.which].c_str(), static_cast<unsigned long>(batch.hits(0).id()),
              st.error_message().c_str(), opt_.db_path.c_str());
      (void)SetAcked(batch.hits(0).id());
      continue;
    }
    if (!st.ok()) return fail(st, "report");
    stats_.sent += static_cast<uint64_t>(batch.hits_size());
    (void)SetAcked(ack.stored_through());
    if (ack.stored_through() < batch.hits(batch.hits_size() - 1).id()) return;  // it took less: later
  }
}

void HitLog::Run() {
  std::vector<v1::HoneypotHit> batch;
  for (;;) {
    bool stopping;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(200), [&] { return stop_ || !queue_.empty(); });
      stopping = stop_;
      batch.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
      queue_.clear();
    }
    if (!batch.empty()) {
      absl::Status st = Write(batch);
      if (!st.ok()) {
        ++stats_.log_errors;
        fprintf(stderr, "sipwarden-honeypot: %s\n", std::string(st.message()).c_str());
        // Kept in memory and tried again: nothing accepted is dropped.
        std::lock_guard<std::mutex> lock(mu_);
        for (auto it = batch.rbegin(); it != batch.rend(); ++it) queue_.push_front(std::move(*it));
        if (stopping) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        continue;
      }
    }
    if (link_ != nullptr && !stopping) Sync();
    if (stopping) return;
  }
}

}  // namespace sw::honeypot
