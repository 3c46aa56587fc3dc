// SPDX-License-Identifier: BSD-2-Clause
// A ScriptExecutor that runs real processes: the request's program with its
// arguments as a vector (no shell: nothing in an argument is interpreted),
// a fixed small environment (PATH, LANG, SIPWARDEN_RULE), the request's
// input on stdin, stdout captured (bounded), a timeout that kills the
// script's whole process group, and a cap on concurrent scripts. It does
// I/O and reads the monotonic clock, so it lives outside the pure engine
// (library sw_rules_exec). Single-threaded: call Poll() from the loop that
// feeds the engine and hand each result to Engine::OnScriptDone().
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "sipwarden/rules/engine.h"

namespace sw::rules {

struct ProcessExecutorOptions {
  size_t max_concurrent = 4;
  size_t max_output = 4096;                     // stdout bytes kept per script
  int64_t default_timeout_ns = 10'000'000'000;  // when the request has none
};

class ProcessExecutor : public ScriptExecutor {
 public:
  using Done = std::function<void(const ScriptResult&)>;
  explicit ProcessExecutor(ProcessExecutorOptions options = {});
  // Kills and reaps whatever still runs.
  ~ProcessExecutor() override;
  ProcessExecutor(const ProcessExecutor&) = delete;
  ProcessExecutor& operator=(const ProcessExecutor&) = delete;

  // Starts the script now, or returns false when max_concurrent run already.
  // A script that cannot be started is reported by the next Poll() with
  // start_failed set.
  bool Submit(ScriptRequest request) override;
  // Feeds stdin, collects stdout, enforces timeouts and reports every script
  // that ended. Waits up to wait_ms for something to happen (0: no wait).
  void Poll(const Done& done, int wait_ms = 0);
  // Polls until nothing runs or wait_ms have passed.
  void Drain(const Done& done, int wait_ms);

  size_t running() const { return procs_.size(); }

 private:
  struct Proc {
    ScriptRequest req;
    pid_t pid = -1;
    int in_fd = -1;   // our end of the script's stdin
    int out_fd = -1;  // our end of the script's stdout
    size_t written = 0;
    int64_t deadline = 0;  // monotonic ns
    bool exited = false;
    int status = 0;
    bool timed_out = false;
    bool start_failed = false;
    std::string output;
  };
  void FeedInput(Proc& p);
  void ReadOutput(Proc& p);
  static void CloseFd(int& fd);

  ProcessExecutorOptions options_;
  std::vector<Proc> procs_;
};

}  // namespace sw::rules
