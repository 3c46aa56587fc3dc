// SPDX-License-Identifier: BSD-2-Clause
#include "sipwarden/rules/process_executor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>


namespace sw::rules {
namespace {

int64_t MonoNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

void SetNonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

}  // namespace

ProcessExecutor::ProcessExecutor(ProcessExecutorOptions options) : options_(std::move(options)) {
  if (options_.max_concurrent == 0) options_.max_concurrent = 1;
}

ProcessExecutor::~ProcessExecutor() {
  for (auto& p : procs_) {
    if (p.pid > 0 && !p.exited) {
      kill(-p.pid, SIGKILL);
      int status;
      while (waitpid(p.pid, &status, 0) < 0 && errno == EINTR) {
      }
    }
    CloseFd(p.in_fd);
    CloseFd(p.out_fd);
  }
}

void ProcessExecutor::CloseFd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

bool ProcessExecutor::Submit(ScriptRequest request) {
  if (procs_.size() >= options_.max_concurrent) return false;
  Proc p;
  p.req = std::move(request);
  const int64_t timeout = p.req.timeout_ns > 0 ? p.req.timeout_ns : options_.default_timeout_ns;
  p.deadline = MonoNs() + timeout;
  // stdin is a socket so that writing to a script that stopped reading gives
  // EPIPE (MSG_NOSIGNAL) instead of SIGPIPE in the agent.
  int in[2] = {-1, -1};
  int out[2] = {-1, -1};
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0 || pipe2(out, O_CLOEXEC) != 0) {
    for (int fd : {in[0], in[1], out[0], out[1]}) {
      if (fd >= 0) close(fd);
    }
    p.start_failed = p.exited = true;
    procs_.push_back(std::move(p));
    return true;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[1], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGHUP);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);  // its own group: a timeout kills all it started
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  // The program itself, its arguments as they are: no shell in between.
  std::vector<char*> argv;
  for (std::string& a : p.req.argv) argv.push_back(a.data());
  argv.push_back(nullptr);
  // A small, fixed environment: nothing of the agent's leaks to scripts.
  std::string path_env = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  std::string lang_env = "LANG=C.UTF-8";
  std::string rule_env = "SIPWARDEN_RULE=" + p.req.rule;
  char* envp[] = {path_env.data(), lang_env.data(), rule_env.data(), nullptr};
  pid_t pid;
  const int rc = p.req.argv.empty() || p.req.argv[0].empty() || p.req.argv[0][0] != '/'
                     ? ENOENT
                     : posix_spawn(&pid, argv[0], &fa, &attr, argv.data(), envp);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(in[1]);
  close(out[1]);
  if (rc != 0) {
    close(in[0]);
    close(out[0]);
    p.start_failed = p.exited = true;
    procs_.push_back(std::move(p));
    return true;
  }
  p.pid = pid;
  p.in_fd = in[0];
  p.out_fd = out[0];
  SetNonBlocking(p.in_fd);
  SetNonBlocking(p.out_fd);
  FeedInput(p);
  procs_.push_back(std::move(p));
  return true;
}

void ProcessExecutor::FeedInput(Proc& p) {
  while (p.in_fd >= 0 && p.written < p.req.input.size()) {
    const ssize_t n = send(p.in_fd, p.req.input.data() + p.written, p.req.input.size() - p.written,
                           MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      p.written += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    CloseFd(p.in_fd);  // the script does not read its input
    return;
  }
  if (p.in_fd >= 0 && p.written >= p.req.input.size()) CloseFd(p.in_fd);  // EOF for the script
}

void ProcessExecutor::ReadOutput(Proc& p) {
  char buf[4096];
  while (p.out_fd >= 0) {
    const ssize_t n = read(p.out_fd, buf, sizeof(buf));
    if (n > 0) {
      const size_t room = options_.max_output - std::min(options_.max_output, p.output.size());
      p.output.append(buf, std::min(room, static_cast<size_t>(n)));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    CloseFd(p.out_fd);  // end of output
  }
}

void ProcessExecutor::Poll(const Done& done, int wait_ms) {
  if (procs_.empty()) return;
  if (wait_ms > 0) {
    std::vector<pollfd> fds;
    bool ready = false;
    int64_t nearest = INT64_MAX;
    for (const auto& p : procs_) {
      if (p.exited) ready = true;
      nearest = std::min(nearest, p.deadline);
      if (p.in_fd >= 0) fds.push_back({p.in_fd, POLLOUT, 0});
      if (p.out_fd >= 0) fds.push_back({p.out_fd, POLLIN, 0});
    }
    if (!ready) {
      const int64_t left_ms = std::max<int64_t>(0, (nearest - MonoNs()) / 1'000'000 + 1);
      // Exits are not pollable here: wake at least every 10 ms to reap.
      const int ms = static_cast<int>(std::min<int64_t>({wait_ms, left_ms, 10}));
      poll(fds.data(), fds.size(), ms);
    }
  }
  const int64_t now = MonoNs();
  for (auto& p : procs_) {
    if (p.exited) continue;
    FeedInput(p);
    ReadOutput(p);
    int status;
    pid_t r;
    while ((r = waitpid(p.pid, &status, WNOHANG)) < 0 && errno == EINTR) {
    }
    if (r == p.pid) {
      p.exited = true;
      p.status = status;
    } else if (now >= p.deadline) {
      kill(-p.pid, SIGKILL);
      while (waitpid(p.pid, &status, 0) < 0 && errno == EINTR) {
      }
      p.exited = true;
      p.timed_out = true;
      p.status = status;
    }
  }
  // Report (and forget) the ones that ended.
  std::vector<Proc> ended;
  for (auto it = procs_.begin(); it != procs_.end();) {
    if (it->exited) {
      ended.push_back(std::move(*it));
      it = procs_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& p : ended) {
    ReadOutput(p);
    CloseFd(p.in_fd);
    CloseFd(p.out_fd);
    ScriptResult r;
    r.id = p.req.id;
    r.timed_out = p.timed_out;
    r.start_failed = p.start_failed;
    if (!p.start_failed) {
      if (WIFEXITED(p.status)) r.exit_code = WEXITSTATUS(p.status);
      if (WIFSIGNALED(p.status)) r.signal = WTERMSIG(p.status);
    }
    r.output = std::move(p.output);
    if (done) done(r);
  }
}

void ProcessExecutor::Drain(const Done& done, int wait_ms) {
  const int64_t end = MonoNs() + static_cast<int64_t>(wait_ms) * 1'000'000;
  while (!procs_.empty()) {
    const int64_t left = (end - MonoNs()) / 1'000'000;
    if (left <= 0) {
      Poll(done, 0);
      return;
    }
    Poll(done, static_cast<int>(std::max<int64_t>(1, left)));
  }
}

}  // namespace sw::rules
