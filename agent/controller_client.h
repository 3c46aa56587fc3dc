// SPDX-License-Identifier: BSD-2-Clause
// The agent's link to sipwarden-controller (proto/sipwarden/v1/agent.proto):
// registers, streams reports (alarms, the blocks its rules made, counters)
// and follows the fleet's decisions, handing each batch to a sink that writes
// them into the kernel. Runs on its own threads; the agent's loop only
// enqueues reports.
//
// While the controller is away: the kernel keeps enforcing what it has;
// reports wait in a bounded buffer (the oldest dropped and counted when it is
// full); the client reconnects with jittered exponential backoff, trying
// the listed controllers in turn, and resumes the decision stream from the
// last version it applied.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "sipwarden/rules/event.h"
#include "controller_channel.h"
#include "sipwarden/v1/agent.pb.h"

namespace grpc {
class ChannelCredentials;
}

namespace sw {

struct ControllerClientOptions {
  std::vector<std::string> addresses;  // HOST:PORT, tried in turn
  std::shared_ptr<grpc::ChannelCredentials> credentials;  // null: insecure
  std::string name;                    // the agent's name (sw-name)
  std::string hostname;
  std::vector<std::string> interfaces;
  std::string version;
  std::string ruleset_sha256;
  size_t max_buffered_reports = 100000;  // in memory
  // Beyond the memory buffer, reports go to this file (in id order, read
  // back as the controller takes them; what is in it when the agent starts
  // is sent first). Empty: memory only, the oldest dropped when it is full.
  std::string spool_path;
  uint64_t max_spool_bytes = 256ull << 20;  // beyond: new reports dropped
  int64_t backoff_min_ms = 100;
  int64_t backoff_max_ms = 5000;
};


// A synthetic event of the agent's rules as forwarded to the controller.
sipwarden::v1::ForwardedEvent ToForwarded(const rules::SyntheticEvent& e);

class ControllerClient {
 public:
  // apply: called on the client's thread with each decision batch, in order.
  // It must apply the batch before returning (the version moves on after).
  using Apply = std::function<void(const sipwarden::v1::DecisionBatch&)>;
  ControllerClient(ControllerClientOptions options, Apply apply);
  ~ControllerClient();
  ControllerClient(const ControllerClient&) = delete;
  ControllerClient& operator=(const ControllerClient&) = delete;

  void Start();
  void Stop();

  // Opens the spool file (if any) and takes in what an earlier run left
  // there. Call before Start; an error names the file.
  absl::Status OpenSpool();
  // Queues a report (its id and time are set here). Thread-safe.
  void Report(sipwarden::v1::AgentReport report);
  // Whether the controller's central rules want synthetic events of this
  // name (as it said at the last registration).
  bool Forwards(std::string_view name) const;

  struct Stats {
    bool connected = false;
    std::string controller;          // the one connected to
    uint64_t decision_version = 0;   // last applied
    uint64_t batches = 0;
    uint64_t connects = 0;           // successful registrations
    uint64_t connect_failures = 0;
    uint64_t reports_queued = 0;
    uint64_t reports_acked = 0;
    uint64_t reports_dropped = 0;    // buffers full (memory: oldest dropped; spool: newest)
    size_t reports_buffered = 0;     // not yet acknowledged, in memory and spooled
    uint64_t reports_spooled = 0;    // of those, in the spool file
    uint64_t spool_bytes = 0;
  };
  Stats stats() const;

 private:
  void Run();
  bool Session(const std::string& address);  // true once registered
  void SendReports(class ReportStream* stream, std::atomic<bool>* done);

  ControllerClientOptions options_;
  Apply apply_;
  std::thread thread_;
  std::atomic<bool> stop_{false};

  mutable std::mutex mu_;
  std::condition_variable cv_;  // stop, or reports queued
  std::deque<sipwarden::v1::AgentReport> pending_;  // not acknowledged, id order
  uint64_t next_id_ = 0;
  // The spool: length-prefixed serialised reports; [read, write) not yet
  // taken back into memory.
  void Spill(const sipwarden::v1::AgentReport& r);
  // The record at offset at (not past end) into *buf; false if torn or unreadable.
  bool ReadSpoolRecord(uint64_t at, uint64_t end, std::string* buf);
  void Refill();
  void SpoolPending();  // at Stop: everything not acknowledged, in id order
  FILE* spool_ = nullptr;
  uint64_t spool_read_ = 0, spool_write_ = 0, spooled_ = 0;
  std::vector<std::string> forward_;  // sorted
  uint64_t acked_ = 0;
  Stats stats_;
  void* active_ctx_ = nullptr;  // grpc::ClientContext of the watch, to cancel on Stop
};

}  // namespace sw
