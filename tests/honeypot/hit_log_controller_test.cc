// SPDX-License-Identifier: BSD-2-Clause
// The honeypot's hit log against a real sipwarden-controller (the library, on
// a loopback port): hits logged while the controller is away reach it once
// it is back, each stored once, and a restarted honeypot resends nothing
// that was acknowledged.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "controller.h"
#include "hit_log.h"

namespace sw::honeypot {
namespace {

namespace v1 = sipwarden::v1;
using std::chrono::milliseconds;

bool WaitFor(const std::function<bool()>& ok, int ms = 15000) {
  const auto until = std::chrono::steady_clock::now() + milliseconds(ms);
  while (std::chrono::steady_clock::now() < until) {
    if (ok()) return true;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return ok();
}

v1::HoneypotHit Options(int n) {
  v1::HoneypotHit h;
  h.set_stage(v1::HoneypotHit::STAGE_ARRIVED);
  h.set_method("OPTIONS");
  h.set_src_ip(absl::StrCat("198.51.100.", n));
  h.set_callee("100");
  // Now: the controller's retention deletes hits older than 30 days.
  h.set_ts_unix_ns(absl::ToUnixNanos(absl::Now()) + n);
  return h;
}

std::unique_ptr<controller::Controller> StartController(const std::string& db, int port) {
  controller::ControllerOptions o;
  o.listen = absl::StrCat("127.0.0.1:", port);
  o.db = db;
  o.quiet = true;
  auto c = controller::Controller::Start(o);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? std::move(*c) : nullptr;
}

size_t StoredHits(controller::Controller& c) {
  controller::HitFilter filter;
  filter.honeypot = "hp-test";
  auto hits = c.store().Hits(filter);
  return hits.ok() ? hits->size() : 0;
}

// A hit log that reports to the controller on this loopback port, retrying fast.
HitLogOptions LogTo(const std::string& path, int port) {
  HitLogOptions o;
  o.db_path = path;
  o.controllers = {absl::StrCat("127.0.0.1:", port)};
  o.name = "hp-test";
  o.hostname = "test";
  o.version = "test";
  o.backoff_min_ms = 50;
  o.backoff_max_ms = 200;
  o.quiet = true;
  return o;
}

TEST(HitLogWithController, HitsLoggedWhileTheControllerIsAwayArriveOnceWhenItReturns) {
  const std::string dir = std::filesystem::temp_directory_path() / absl::StrCat("sw_hitlog_ctl_", getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto c = StartController(dir + "/controller.db", 0);
  ASSERT_NE(c, nullptr);
  const int port = c->port();
  HitLogOptions o = LogTo(dir + "/hits.db", port);
  auto log = HitLog::Open(o);
  ASSERT_TRUE(log.ok()) << log.status();
  uint64_t last = 0;
  for (int i = 0; i < 3; ++i) last = (*log)->Add(Options(i));
  ASSERT_TRUE(WaitFor([&] { return (*log)->stats().acked_through.load() == last; }));
  EXPECT_EQ(StoredHits(*c), 3u);

  // The controller goes away; hits keep coming and wait in the log.
  c->Shutdown();
  c.reset();
  for (int i = 3; i < 8; ++i) last = (*log)->Add(Options(i));
  ASSERT_TRUE(WaitFor([&] { return (*log)->stats().logged.load() == 8; }));
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_LT((*log)->stats().acked_through.load(), last);

  // Back on the same port and database: the rest goes up, each hit once.
  c = StartController(dir + "/controller.db", port);
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(WaitFor([&] { return (*log)->stats().acked_through.load() == last; }))
      << "acknowledged through " << (*log)->stats().acked_through.load() << " of " << last;
  EXPECT_EQ(StoredHits(*c), 8u);

  // A restarted honeypot resends nothing already acknowledged.
  log->reset();
  auto again = HitLog::Open(o);
  ASSERT_TRUE(again.ok());
  const uint64_t next = (*again)->Add(Options(8));
  EXPECT_GT(next, last);
  ASSERT_TRUE(WaitFor([&] { return (*again)->stats().acked_through.load() == next; }));
  EXPECT_EQ((*again)->stats().sent.load(), 1u);
  EXPECT_EQ(StoredHits(*c), 9u);
  EXPECT_EQ(c->stats().hit_duplicates.load(), 0u);
  again->reset();
  c->Shutdown();
  std::filesystem::remove_all(dir);
}

TEST(HitLogWithController, AHitTheControllerRefusesIsSkippedNotResentForever) {
  const std::string dir = std::filesystem::temp_directory_path() / absl::StrCat("sw_hitlog_bad_", getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto c = StartController(dir + "/controller.db", 0);
  ASSERT_NE(c, nullptr);
  auto log = HitLog::Open(LogTo(dir + "/hits.db", c->port()));
  ASSERT_TRUE(log.ok());
  v1::HoneypotHit bad = Options(1);
  bad.set_src_ip("not an address");  // refused: the whole batch would be
  (*log)->Add(Options(0));
  (*log)->Add(bad);
  const uint64_t last = (*log)->Add(Options(2));
  ASSERT_TRUE(WaitFor([&] { return (*log)->stats().acked_through.load() == last; }));
  EXPECT_EQ((*log)->stats().refused.load(), 1u);
  EXPECT_EQ(StoredHits(*c), 2u);
  auto kept = (*log)->Read(0, 10);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->size(), 3u);  // the log keeps all three
  log->reset();
  c->Shutdown();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sw::honeypot
