// SPDX-License-Identifier: BSD-2-Clause
// Prometheus metrics for the live agent: a builder for the text exposition
// format (version 0.0.4) and a small non-blocking HTTP server that serves it,
// driven from the agent's single-threaded main loop (no threads, no blocking
// calls: Poll() does what the sockets allow and returns).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sipwarden.h"

namespace sw {

// Label pairs of one sample, in the order they are written: {{"iface", "eth0"}}.
using PromLabels = std::vector<std::pair<std::string, std::string>>;

// Builds one scrape's worth of text exposition. Samples of a family (one
// metric name) may be added in any order and interleaved with other
// families: Take() writes each family once, in the order families were first
// seen, with its "# HELP" and "# TYPE" lines before its samples.
//
// Metric names must match [a-zA-Z_:][a-zA-Z0-9_:]*, label names
// [a-zA-Z_][a-zA-Z0-9_]* and not start with "__"; a sample with a bad name, a
// repeated label name, or a family already added with another type is left
// out and its error kept in status() (the rest of the scrape still goes out).
// Label values may be any bytes: \, " and newline are escaped.
// Counter names should end in "_total" (a convention, not checked).
class PromText {
 public:
  void Counter(std::string_view name, std::string_view help, double value,
               const PromLabels& labels = {});
  void Gauge(std::string_view name, std::string_view help, double value,
             const PromLabels& labels = {});

  // The exposition text; resets the builder (and status()) for the next scrape.
  std::string Take();
  // OK, or the first error since the last Take().
  const absl::Status& status() const { return status_; }

  static bool ValidMetricName(std::string_view name);
  static bool ValidLabelName(std::string_view name);

 private:
  struct Family {
    std::string name;
    std::string help;
    const char* type;
    std::string samples;  // complete sample lines
  };
  void Add(const char* type, std::string_view name, std::string_view help, double value,
           const PromLabels& labels);
  void Fail(absl::Status st);

  std::vector<Family> families_;
  absl::Status status_;
};

// Adds every kernel counter of sw_stats (SW_STATS_FIELDS, summed over CPUs) as
// the counter sipwarden_xdp_<field>_total.
void AddKernelStats(const sw_stats& stats, PromText& out);

struct MetricsServerOptions {
  size_t max_request_bytes = 8192;           // request line and headers; more is a 400
  std::chrono::milliseconds deadline{2000};  // from accept to the response being sent
  int max_connections = 16;                  // more wait in the listen backlog
};

// An HTTP/1.x server for Prometheus scrapes on one TCP socket:
//   GET /metrics        200, text/plain; version=0.0.4 (the render callback's text)
//   GET / and /healthz  200, a short text
//   other paths         404;  other methods 405;  anything unparsable 400
// HEAD is answered like GET without the body. Every response closes the
// connection. A request must arrive within the deadline and fit in
// max_request_bytes; unsent response bytes wait for the next Poll(). Once
// its response is sent a connection is half-closed and kept (at most 1 s,
// still counted against max_connections) until the client closes, so that
// unread request bytes cannot turn the close into a reset that loses the
// response.
class MetricsServer {
 public:
  // host_port: "HOST:PORT" or "[IPv6]:PORT", numeric; port 0 picks a free one.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Open(
      const std::string& host_port, const MetricsServerOptions& options = {});
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Accepts pending connections, reads what requests have arrived, answers
  // the complete ones, sends what the sockets take and closes finished or
  // expired connections. Never blocks. render is called at most once per
  // call, and only when a GET or HEAD /metrics is answered. Returns the
  // number of requests answered by this call.
  int Poll(const std::function<std::string()>& render);

  uint16_t port() const { return port_; }
  int fd() const { return fd_; }
  int open_connections() const { return static_cast<int>(conns_.size()); }
  uint64_t requests() const { return requests_; }  // answered, any status
  uint64_t scrapes() const { return scrapes_; }    // GET or HEAD /metrics answered
  uint64_t bad_requests() const { return bad_; }   // 400s and connections timed out

 private:
  using Clock = std::chrono::steady_clock;
  struct Conn {
    int fd = -1;
    enum class State { kReading, kWriting, kLingering } state = State::kReading;
    Clock::time_point deadline;
    std::string in;
    std::string out;
    size_t sent = 0;
  };
  MetricsServer() = default;
  // Each returns false when the connection is done with and must be closed.
  bool Read(Conn& c, const std::function<std::string()>& render, std::string& rendered,
            bool& have_rendered, int& answered);
  bool Write(Conn& c);
  bool Linger(Conn& c);

  MetricsServerOptions opt_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::vector<Conn> conns_;
  uint64_t requests_ = 0, scrapes_ = 0, bad_ = 0;
};

}  // namespace sw
