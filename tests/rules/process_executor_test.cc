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

ScriptRequest Req(uint64_t id, std::vector<std::string> argv, std::string input = "",
                  int64_t timeout_ns = 5 * kS) {
  ScriptRequest r;
  r.id = id;
  r.argv = std::move(argv);
  r.input = std::move(input);
  r.timeout_ns = timeout_ns;
  return r;
}

// A shell one-liner, for the executor's own tests (rules name programs).
std::vector<std::string> Sh(std::string script) { return {"/bin/sh", "-c", std::move(script)}; }

std::map<uint64_t, ScriptResult> RunAll(ProcessExecutor& ex, int wait_ms = 10000) {
  std::map<uint64_t, ScriptResult> out;
  ex.Drain([&](const ScriptResult& r) { out[r.id] = r; }, wait_ms);
  return out;
}

TEST(ProcessExecutor, InputOutputAndExitCodes) {
  ProcessExecutor ex;
  ASSERT_TRUE(ex.Submit(Req(1, {"/bin/cat"}, "{\"type\":\"sip\"}\n")));
  ASSERT_TRUE(ex.Submit(Req(2, Sh("read line; echo \"got $line\"; exit 3"), "hello\n")));
  ASSERT_TRUE(ex.Submit(Req(3, Sh("kill -TERM $$"))));
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
  ASSERT_TRUE(ex.Submit(Req(1, {"/usr/bin/wc", "-c"}, big)));
  ASSERT_TRUE(ex.Submit(Req(2, Sh("exit 0"), big)));  // never reads: no SIGPIPE for us
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
  ASSERT_TRUE(ex.Submit(Req(1, Sh("(sleep 2; touch " + marker + ") & sleep 30"), "", 200 * kMs)));
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
  EXPECT_TRUE(ex.Submit(Req(1, {"/bin/sleep", "0.2"})));
  EXPECT_TRUE(ex.Submit(Req(2, {"/bin/sleep", "0.2"})));
  EXPECT_FALSE(ex.Submit(Req(3, {"/bin/true"})));
  EXPECT_EQ(ex.running(), 2u);
  auto r = RunAll(ex);
  EXPECT_EQ(r.size(), 2u);
  EXPECT_TRUE(ex.Submit(Req(3, {"/bin/true"})));
  RunAll(ex);

  ProcessExecutor none;
  ASSERT_TRUE(none.Submit(Req(9, {"/nonexistent/program"})));
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
    script: {command: [/bin/grep, -q, '"user":"${from_user}"'], timeout: 5s}
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
    script: /bin/false
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

TEST(ProcessExecutor, AValueIsOneArgumentAndNeverShellSyntax) {
  // A From user with blanks, quotes and shell syntax reaches the program as
  // one argument, untouched: here /bin/sh is the program and the value is
  // $1 of its fixed script, which checks it and that nothing ran.
  const std::string marker = ::testing::TempDir() + "/sw-script-injected";
  std::remove(marker.c_str());
  ProcessExecutor ex;
  Harness h(R"(
rules:
  - name: one-argument
    type: SingleWithScript
    match: {method: REGISTER}
    script: [/bin/sh, -c, 'test "$#" -eq 1', sh, "${from_user}"]
    actions:
      - emit: {name: one, copy: [from_user]}
    actions2:
      - emit: {name: split, copy: [from_user]}
)",
            &ex);
  const std::string evil = "a b; touch " + marker + " '\"$(touch " + marker + ")";
  h.Feed(Sip("REGISTER").From(evil));
  ex.Drain([&](const ScriptResult& r) { h.engine->OnScriptDone(r); }, 10000);
  ASSERT_EQ(h.SyntheticNames(), std::vector<std::string>{"one"});
  EXPECT_EQ(*h.synthetic[0].Find("from_user"), evil);
  EXPECT_NE(access(marker.c_str(), F_OK), 0) << "the value ran as a command";
}

TEST(ProcessExecutor, ScriptsGetAFixedEnvironment) {
  setenv("SW_SECRET_OF_THE_AGENT", "leak", 1);
  ProcessExecutor ex;
  ScriptRequest r = Req(1, {"/usr/bin/env"});
  r.rule = "env-check";
  ASSERT_TRUE(ex.Submit(std::move(r)));
  auto out = RunAll(ex);
  unsetenv("SW_SECRET_OF_THE_AGENT");
  ASSERT_TRUE(out[1].ok());
  EXPECT_EQ(out[1].output.find("SW_SECRET_OF_THE_AGENT"), std::string::npos);
  EXPECT_NE(out[1].output.find("SIPWARDEN_RULE=env-check"), std::string::npos);
  EXPECT_NE(out[1].output.find("PATH=/usr/local/sbin"), std::string::npos);
}

}  // namespace
}  // namespace sw::rules::testing
