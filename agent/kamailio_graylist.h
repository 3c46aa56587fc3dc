// SPDX-License-Identifier: BSD-2-Clause
// Pushes the fleet's graylists into the local Kamailio, so that its
// configuration (packaging/kamailio/deflect.cfg) can deflect the calls of
// graylisted callers to the honeypot instead of the real user: one entry per
// source address in an htable (default "graylist"), set and deleted through
// Kamailio's jsonrpcs module over its Unix datagram socket
// (modparam("jsonrpcs", "dgram_socket", PATH)).
//
//   key     the address as Kamailio writes $si: dotted quad, or RFC 5952
//           IPv6 without brackets
//   value   the graylist's expiry in Unix seconds (0: none)
//   expiry  the entry's own: the time left to the graylist's expiry
//           (a graylist without one: a year, refreshed by every resync)
//
// FleetDecisions tells it of every graylist it installs or lifts
// (GraylistObserver); that only marks the address under a lock, so the
// caller (the controller client's thread) never waits for Kamailio. A thread
// of its own talks to Kamailio, one request at a time with a timeout. A
// second change to an address still waiting is folded into the first, so
// what waits is bounded by the number of graylists. A snapshot (the agent's
// first decisions, a reconnection's) and a restarted Kamailio (core.uptime's
// up_since moved, checked every check_interval) flush the table and write
// every graylist again. While Kamailio is away (no socket, nobody listening,
// no answer) the changes wait and the thread retries with backoff; the first
// failure and the recovery are logged, with the reason.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "fleet_decisions.h"
#include "google/protobuf/struct.pb.h"
#include "sipwarden/ip.h"

namespace sw {

// A JSON-RPC 2.0 client of Kamailio's jsonrpcs module over its Unix
// datagram socket. The client's own socket is autobound to an abstract
// address (Linux), so Kamailio must run in the same network namespace.
class KamailioRpc {
 public:
  KamailioRpc(std::string socket_path, absl::Duration timeout);
  ~KamailioRpc();
  KamailioRpc(const KamailioRpc&) = delete;
  KamailioRpc& operator=(const KamailioRpc&) = delete;

  using Param = std::variant<std::string, int64_t>;
  struct Reply {
    bool ok = false;      // a "result" (else Kamailio's "error")
    int code = 0;         // the error's code (404: no such key, 500: ...)
    std::string message;  // the error's message
    google::protobuf::Value result;
  };
  // Sends one request and waits up to the timeout for its answer. A status
  // error (UNAVAILABLE) when Kamailio could not be asked or did not answer,
  // naming the socket and why; Kamailio's own refusals are a Reply.
  absl::StatusOr<Reply> Call(std::string_view method, const std::vector<Param>& params = {});

  const std::string& path() const { return path_; }

 private:
  absl::Status Open();
  absl::Status SendError(int err) const;
  std::string path_;
  absl::Duration timeout_;
  int fd_ = -1;
  int64_t next_id_ = 1;
};

struct KamailioGraylistOptions {
  std::string socket_path;  // jsonrpcs' dgram_socket
  std::string table = "graylist";
  absl::Duration timeout = absl::Milliseconds(500);    // per request
  absl::Duration check_interval = absl::Seconds(5);    // core.uptime
  absl::Duration retry_min = absl::Milliseconds(200);  // backoff while away
  absl::Duration retry_max = absl::Seconds(5);
  size_t max_entries = 1000000;          // graylists beyond are not pushed (counted)
  std::function<int64_t()> now_unix_ns;  // the wall clock (tests pass their own)
  bool log = true;                       // state changes on stderr
};

class KamailioGraylist : public GraylistObserver {
 public:
  // Checks the options (the table's name, the socket path's length); does
  // not need Kamailio to be there yet.
  static absl::StatusOr<std::unique_ptr<KamailioGraylist>> Create(KamailioGraylistOptions o);
  ~KamailioGraylist() override;

  void Start();
  void Stop();

  // GraylistObserver (any thread; only takes a lock).
  void GraylistSet(const IpAddress& host, int64_t expires_unix_ns) override;
  void GraylistRemoved(const IpAddress& host) override;
  void GraylistsReplaced(std::vector<std::pair<IpAddress, int64_t>> all) override;

  struct Stats {
    bool reachable = false;    // Kamailio answered the last request
    size_t entries = 0;        // graylists that should be in the table
    size_t pending = 0;        // addresses waiting to be written or deleted
    uint64_t sets = 0;         // entries written
    uint64_t removes = 0;      // entries deleted (or found gone already)
    uint64_t resyncs = 0;      // table flushed and written whole
    uint64_t restarts = 0;     // Kamailio restarts seen
    uint64_t unreachable = 0;  // requests Kamailio could not be asked or did not answer
    uint64_t rpc_errors = 0;   // requests Kamailio refused
    uint64_t dropped = 0;      // graylists beyond max_entries
    std::string up_since;      // Kamailio's, as core.uptime says it
    std::string last_error;    // empty while all is well
  };
  Stats stats() const;

  // Tests: until nothing waits to be written (true) or the timeout (false).
  bool WaitIdle(absl::Duration timeout) const;

 private:
  explicit KamailioGraylist(KamailioGraylistOptions o);
  using Clock = std::chrono::steady_clock;
  void Run();
  // One round: the health check when due, a resync when due, a chunk of
  // pending addresses.
  void Step(bool check_due);
  bool Check();   // core.uptime; false: Kamailio is away
  bool Resync();  // the table exists, flushed; false: not now
  // Writes one address's state; false: Kamailio is away (it stays pending).
  bool Push(const std::string& key);
  void Away(const absl::Status& why);
  void Refused(std::string_view what, const KamailioRpc::Reply& r);
  int64_t Now() const;

  KamailioGraylistOptions o_;
  KamailioRpc rpc_;  // the thread's only
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
  bool stop_ = false;
  bool started_ = false;
  bool have_snapshot_ = false;  // nothing is written before the first one
  bool resync_ = false;
  bool busy_ = false;                       // the thread holds addresses taken from dirty_
  std::map<std::string, int64_t> desired_;  // address -> expiry (0: none)
  std::set<std::string> dirty_;
  Clock::time_point next_check_{}, retry_at_{};
  absl::Duration retry_delay_;
  Stats stats_;
  Clock::time_point last_refusal_log_{};
  uint64_t refusals_unlogged_ = 0;
};

}  // namespace sw
