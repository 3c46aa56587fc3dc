// SPDX-License-Identifier: BSD-2-Clause
// The bpf tier: sw_xdp run on crafted packets with bpf_prog_test_run_opts.
// One TEST per table; each row resets the maps, applies its setup, runs its
// packet and checks the verdict, every counter, the maps and the ring.
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <latch>
#include <thread>
#include <vector>

#include "tables.h"

namespace sw::bpftest {
namespace {

// Loads the program once per suite (and process).
class Fixture : public ::testing::Test {
 protected:
  static void Load(std::unique_ptr<Harness>& slot, uint32_t ringbuf_bytes) {
    if (slot || geteuid() != 0) return;
    auto h = Harness::Create(ringbuf_bytes);
    ASSERT_TRUE(h.ok()) << h.status();
    slot = std::move(*h);
  }
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "the bpf tier loads BPF programs: run as root";
  }
};

class SwXdp : public Fixture {
 protected:
  static void SetUpTestSuite() { Load(harness_, SW_RINGBUF_BYTES); }
  static void TearDownTestSuite() { harness_.reset(); }
  void SetUp() override {
    Fixture::SetUp();
    if (IsSkipped()) return;
    ASSERT_NE(harness_, nullptr) << "program did not load";
  }
  Harness& h() { return *harness_; }
  static std::unique_ptr<Harness> harness_;
};
std::unique_ptr<Harness> SwXdp::harness_;

// A 4 KiB ring buffer, to fill up.
class SwXdpSmallRing : public Fixture {
 protected:
  static void SetUpTestSuite() { Load(harness_, kSmallRingBytes); }
  static void TearDownTestSuite() { harness_.reset(); }
  void SetUp() override {
    Fixture::SetUp();
    if (IsSkipped()) return;
    ASSERT_NE(harness_, nullptr) << "program did not load";
  }
  Harness& h() { return *harness_; }
  static std::unique_ptr<Harness> harness_;
};
std::unique_ptr<Harness> SwXdpSmallRing::harness_;

TEST_F(SwXdp, Parsing) { RunTable(h(), ParsingCases()); }
TEST_F(SwXdp, Malformed) { RunTable(h(), MalformedCases()); }
TEST_F(SwXdp, AllowAndBlockLists) { RunTable(h(), ListCases()); }
TEST_F(SwXdp, SipRecognition) { RunTable(h(), SipCases()); }
TEST_F(SwXdp, RateLimits) { RunTable(h(), RateCases()); }
TEST_F(SwXdp, RingRecords) { RunTable(h(), RingCases()); }
TEST_F(SwXdp, Media) { RunTable(h(), MediaCases()); }
TEST_F(SwXdpSmallRing, FullRing) { RunTable(h(), FullRingCases()); }

// The kernel refuses test runs on frames shorter than an Ethernet header, so
// the program's own check for them cannot be reached from here; this pins
// that down so that a kernel which starts accepting them gets a row.
TEST_F(SwXdp, FramesShorterThanEthernetRefusedByTestRun) {
  for (size_t len : {0, 1, 6, 13}) {
    SCOPED_TRACE(len);
    std::vector<uint8_t> frame(len, 0xff);
    const RunResult r = h().Run(frame);
    EXPECT_EQ(r.err, -EINVAL);
  }
}

// A bucket's tokens are taken with a compare-and-swap: two CPUs flooding one
// source at once get burst requests through between them, not one burst
// each nor a token taken twice. (Each thread's test run stays on the CPU it
// is pinned to.)
TEST_F(SwXdp, BucketTokensTakenOnceAcrossCpus) {
  if (std::thread::hardware_concurrency() < 2) GTEST_SKIP() << "needs two CPUs";
  ASSERT_TRUE(h().Reset().ok());
  constexpr uint32_t kBurst = 20000, kPerThread = 50000;
  SetLimit(h(), SW_BUCKET_INVITE, 1, kBurst);
  SetConfigFlags(h(), SW_CFG_NO_COPY);
  const auto pkt = Frame(4).Udp(5060, 5060).Payload(SipRequest("INVITE")).Build();
  auto before = h().maps().ReadStats();
  ASSERT_TRUE(before.ok()) << before.status();
  const uint64_t t0 = BootNs();
  std::vector<int> errs(2, 0);
  std::latch start(2);  // both pinned before either runs
  std::vector<std::thread> threads;
  for (int cpu = 0; cpu < 2; ++cpu) {
    threads.emplace_back([&, cpu] {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(cpu, &set);
      if (sched_setaffinity(0, sizeof(set), &set) != 0) errs[cpu] = errno;
      start.arrive_and_wait();
      if (errs[cpu] == 0) errs[cpu] = -h().RunNoDrain(pkt, kPerThread).err;
    });
  }
  for (auto& t : threads) t.join();
  const uint64_t seconds = (BootNs() - t0) / 1000000000 + 1;
  ASSERT_EQ(errs, std::vector<int>({0, 0}));
  auto after = h().maps().ReadStats();
  ASSERT_TRUE(after.ok()) << after.status();
  const uint64_t passed = after->pass_sip - before->pass_sip;
  const uint64_t dropped = after->drop_rate - before->drop_rate;
  EXPECT_EQ(passed + dropped, 2 * kPerThread);
  // The burst, and at most one more token per second of the run (rate 1/s).
  EXPECT_GE(passed, kBurst);
  EXPECT_LE(passed, kBurst + seconds);
}

// Every counter in sw_stats is moved by at least one row of the tables.
TEST(SwXdpCoverage, EveryCounterIsExercised) {
  if (geteuid() != 0) GTEST_SKIP() << "the bpf tier loads BPF programs: run as root";
  std::set<std::string> moved;
  {
    auto h = Harness::Create(SW_RINGBUF_BYTES);
    ASSERT_TRUE(h.ok()) << h.status();
    for (const auto& table : {ParsingCases(), MalformedCases(), ListCases(), SipCases(),
                              RateCases(), RingCases(), MediaCases()}) {
      RunTable(**h, table, &moved);
    }
  }
  {
    auto h = Harness::Create(kSmallRingBytes);
    ASSERT_TRUE(h.ok()) << h.status();
    RunTable(**h, FullRingCases(), &moved);
  }
  for (const auto& name : StatNames()) {
    EXPECT_TRUE(moved.count(name)) << "no row moves sw_stats." << name;
  }
}

}  // namespace
}  // namespace sw::bpftest
