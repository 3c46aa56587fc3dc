// SPDX-License-Identifier: BSD-2-Clause
// Prometheus metrics for the live agent: the kernel's counters as text
// exposition (sipwarden/prom_text.h) and the HTTP server that serves them
// (cpp-httplib on threads of its own), whose text the agent's single-threaded
// main loop renders when a scrape asks for it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sipwarden.h"
#include "sipwarden/prom_text.h"

namespace httplib {
class Server;
}

namespace sw {

// Adds every kernel counter of sw_stats (SW_STATS_FIELDS, summed over CPUs) as
// the counter sipwarden_xdp_<field>_total.
void AddKernelStats(const sw_stats& stats, PromText& out);

struct MetricsServerOptions {
  // How long a scrape waits for the owner's loop to render the text (Poll);
  // a 503 after that.
  std::chrono::milliseconds render_timeout{1000};
  // For a request to arrive whole, and for the response to be taken; the
  // first byte must come within it too, rounded up to whole seconds.
  std::chrono::milliseconds io_timeout{2000};
  int threads = 4;  // requests served at once; more wait in the listen backlog
};

// An HTTP/1.x server for Prometheus scrapes on one TCP socket (cpp-httplib,
// its own threads):
//   GET /metrics        200, text/plain; version=0.0.4 (the render callback's text)
//   GET / and /healthz  200, a short text
//   other paths         404;  other methods on those three 405;  anything unparsable 400
// HEAD is answered like GET without the body. Every response closes the
// connection. A request must arrive within io_timeout. Unlike the
// hand-written server before it, cpp-httplib skips a header line without a
// colon, and closes a connection whose request line never ends at the
// timeout without an answer.
//
// The text comes from the thread that calls Poll() (the agent's main loop,
// which owns the state the metrics describe): a scrape asks for a render and
// waits up to render_timeout for the next Poll() to produce it, otherwise it
// gets a 503. Scrapes that wait together share one render.
class MetricsServer {
 public:
  // host_port: "HOST:PORT" or "[IPv6]:PORT", numeric; port 0 picks a free one.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Open(
      const std::string& host_port, const MetricsServerOptions& options = {});
  // Stops serving: waiting scrapes get a 503, the threads are joined.
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // When scrapes are waiting, calls render once and hands its text to all of
  // them; otherwise returns at once (an atomic load). Returns the number of
  // scrapes the text went to.
  int Poll(const std::function<std::string()>& render);

  uint16_t port() const { return port_; }
  uint64_t requests() const { return requests_.load(); }  // answered, any status
  uint64_t scrapes() const { return scrapes_.load(); }    // GET or HEAD /metrics answered 200
  uint64_t render_timeouts() const { return timeouts_.load(); }  // scrapes answered 503

 private:
  MetricsServer() = default;
  // The text of a render made after this call, or false (timeout, stopping).
  bool AwaitRender(std::shared_ptr<const std::string>* text);

  MetricsServerOptions opt_;
  uint16_t port_ = 0;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<uint64_t> requested_{0};  // renders asked for (tickets); written under mu_
  uint64_t served_ = 0;                 // tickets rendered; written by Poll under mu_
  bool stopping_ = false;               // guarded by mu_
  std::shared_ptr<const std::string> text_;  // the last render; guarded by mu_
  std::atomic<uint64_t> requests_{0}, scrapes_{0}, timeouts_{0};
};

}  // namespace sw
