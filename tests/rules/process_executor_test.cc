// SPDX-License-Identifier: BSD-2-Clause
// The process executor with real shell scripts: stdin, stdout, exit codes,
// timeouts that kill the whole process group, the concurrency cap, start
// failures; and a SingleWithScript rule driven end to end through it.
#include "sipwarden/rules/process_executor.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <map>

#include "rules_test_util.h"

namespace sw::rules::testing {
namespace {

using Clock = std::chrono::steady_clock;

ScriptRequest Req(uint64_t id, std::string command, std::string input = "",
                  int64_t timeout_ns = 5 * kS) {
  ScriptRequest r;
  r.id = id;
  r.command = std::move(command);
  r.input = std::move(input);
  r.timeout_ns = timeout_ns;
  return r;
}

std::map<uint64_t, ScriptResult> RunAll(ProcessExecutor& ex, int wait_ms = 10000) {
  std::map<uint64_t, ScriptResult> out;
  ex.Drain([&](const ScriptResult& r) { out[r.id] = r; }, wait_ms);
  return out;
}

TEST(ProcessExecutor, InputOutputAndExitCodes) {
  ProcessExecutor ex;
  ASSERT_TRUE(ex.Submit(Req(1, "cat", "{\"type\":\"sip\"}\n")));
  ASSERT_TRUE(ex.Submit(Req(2, "read line; echo \"got $line\"; exit 3", "hello\n")));
  ASSERT_TRUE(ex.Submit(Req(3, "kill -TERM $$")));
  auto r = RunAll(ex);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_TRUE(r[1].ok());
  EXPECT_EQ(r[1].output, "{\"type\":\"sip\"}\n");
  EXPECT_EQ(r[2].exit_code, 3);
  EXPECT_FALSE(r[2].ok());
  EXPECT_EQ(r[2].output, "got hello\n");
  EXPECT_EQ(r[3].exit_code, -1);
  EXPECT_EQ(r[3].signal, SIGTERM);
  EXPECT_EQ(ex.running(), 0u);
}

TEST(ProcessExecutor, LargeInputAndScriptsThatDoNotRead) {
  ProcessExecutor ex;
  const std::string big(1 << 20, 'x');
  ASSERT_TRUE(ex.Submit(Req(1, "wc -c", big)));
  ASSERT_TRUE(ex.Submit(Req(2, "exit 0", big)));  // never reads: no SIGPIPE for us
  auto r = RunAll(ex);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[1].output.substr(r[1].output.find_first_not_of(' ')), "1048576\n");
  EXPECT_TRUE(r[2].ok());
}

TEST(ProcessExecutor, TimeoutKillsTheWholeGroup) {
  ProcessExecutor ex;
  const std::string marker = ::testing::TempDir() + "/sw_exec_orphan";
  std::remove(marker.c_str());
  const auto start = Clock::now();
  // A background child that would outlive the shell and write the marker.
  ASSERT_TRUE(ex.Submit(Req(1, "(sleep 2; touch " + marker + ") & sleep 30", "", 200 * kMs)));
  auto r = RunAll(ex);
  const auto took = Clock::now() - start;
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(r[1].timed_out);
  EXPECT_FALSE(r[1].ok());
  EXPECT_LT(took, std::chrono::seconds(2));
  usleep(2500 * 1000);
  EXPECT_NE(access(marker.c_str(), F_OK), 0) << "the group's other processes survived";
}

TEST(ProcessExecutor, ConcurrencyCapAndStartFailures) {
  ProcessExecutorOptions o;
  o.max_concurrent = 2;
  ProcessExecutor ex(o);
  EXPECT_TRUE(ex.Submit(Req(1, "sleep 0.2")));
  EXPECT_TRUE(ex.Submit(Req(2, "sleep 0.2")));
  EXPECT_FALSE(ex.Submit(Req(3, "true")));
  EXPECT_EQ(ex.running(), 2u);
  auto r = RunAll(ex);
  EXPECT_EQ(r.size(), 2u);
  EXPECT_TRUE(ex.Submit(Req(3, "true")));
  RunAll(ex);

  ProcessExecutorOptions bad;
  bad.shell = "/nonexistent/sh";
  ProcessExecutor none(bad);
  ASSERT_TRUE(none.Submit(Req(9, "true")));
  auto f = RunAll(none);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_TRUE(f[9].start_failed);
  EXPECT_FALSE(f[9].ok());
}

TEST(ProcessExecutor, DrivesSingleWithScriptEndToEnd) {
  ProcessExecutor ex;
  Harness h(R"(
rules:
  - name: known-user
    type: SingleWithScript
    match: {method: REGISTER}
    key: [src_ip]
    script: {command: "grep -q '\"user\":\"${from_user}\"'", timeout: 5s}
    actions:
      - emit: {name: known, copy: [from_user, src_ip]}
    actions2:
      - alarm: {signature: "REGISTER for unknown user ${from_user}", category: scan}
)",
            &ex);
  h.Feed(Sip("REGISTER").From("alice").Src("192.0.2.1"));
  h.Feed(Sip("REGISTER").From("alice").Src("192.0.2.2").At(kT0 + kS));
  ex.Drain([&](const ScriptResult& r) { h.engine->OnScriptDone(r); }, 10000);
  // The event's JSON on stdin has "from":{"uri":...,"user":"alice"}: grep finds it.
  ASSERT_EQ(h.synthetic.size(), 2u);
  EXPECT_EQ(*h.synthetic[0].Find("from_user"), "alice");
  EXPECT_TRUE(h.alarms.empty());
  // A script that fails runs actions2 with the event's fields.
  Harness bad(R"(
rules:
  - name: fails
    type: SingleWithScript
    match: {method: REGISTER}
    script: "exit 1"
    actions2:
      - alarm: {signature: "check failed for ${from_user}", category: anomaly}
)",
              &ex);
  bad.Feed(Sip("REGISTER").From("mallory"));
  ex.Drain([&](const ScriptResult& r) { bad.engine->OnScriptDone(r); }, 10000);
  ASSERT_EQ(bad.alarms.size(), 1u);
  EXPECT_EQ(bad.alarms[0].signature, "check failed for mallory");
  EXPECT_EQ(bad.alarms[0].src.ToString(), "192.0.2.10");
}

}  // namespace
}  // namespace sw::rules::testing
