// SPDX-License-Identifier: BSD-2-Clause
// The honeypot's own record of every hit, and its link to the controller.
// Each hit gets the next id (ids increase across restarts) and is written to
// a SQLite log before it is sent; the controller acknowledges by id, and a
// honeypot that was cut off (or restarted) sends what was not acknowledged
// when the controller answers again. Without a controller it only logs.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "sipwarden/v1/honeypot.pb.h"

struct sqlite3;
namespace grpc {
class ChannelCredentials;
}

namespace sw::honeypot {

struct HitLogOptions {
  std::string db_path;                   // the SQLite log
  std::vector<std::string> controllers;  // HOST:PORT, tried in turn; empty: log only
  std::shared_ptr<grpc::ChannelCredentials> credentials;  // null: insecure
  // Who it is (Register).
  std::string name, hostname, version;
  std::vector<std::string> listen;
  uint32_t deflector_users = 0;
  size_t batch = 500;  // hits per ReportHits call
  int64_t backoff_min_ms = 100, backoff_max_ms = 5000;
  // Acknowledged hits beyond this many are pruned from the log, oldest first.
  uint64_t max_rows = 1000000;
  bool quiet = false;
};

struct HitLogStats {
  std::atomic<uint64_t> logged{0}, acked_through{0}, sent{0}, send_errors{0}, log_errors{0};
  std::atomic<uint64_t> refused{0};  // hits the controller refused as malformed (kept in the log)
  std::atomic<bool> connected{false};
};

class HitLog {
 public:
  static absl::StatusOr<std::unique_ptr<HitLog>> Open(HitLogOptions options);
  // Writes what is queued, then stops.
  ~HitLog();
  HitLog(const HitLog&) = delete;
  HitLog& operator=(const HitLog&) = delete;

  // Gives the hit the next id and queues it (thread-safe, does not block on
  // the disk or the network). Returns the id.
  uint64_t Add(sipwarden::v1::HoneypotHit hit);
  const HitLogStats& stats() const { return stats_; }
  // The hits in the log, in id order (tests, and `--dump`).
  absl::StatusOr<std::vector<sipwarden::v1::HoneypotHit>> Read(uint64_t after_id, size_t limit);

 private:
  explicit HitLog(HitLogOptions options);
  void Run();
  absl::Status Write(std::vector<sipwarden::v1::HoneypotHit>& hits);
  absl::Status SetAcked(uint64_t id);
  // One pass of the controller link: connect when needed, send the unsent.
  void Sync();

  HitLogOptions opt_;
  sqlite3* db_ = nullptr;
  std::mutex db_mu_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<sipwarden::v1::HoneypotHit> queue_;
  uint64_t next_id_ = 1;
  uint64_t written_through_ = 0;  // highest id in the log
  bool stop_ = false;
  HitLogStats stats_;
  struct Link;
  std::unique_ptr<Link> link_;
  std::thread thread_;
};

}  // namespace sw::honeypot
