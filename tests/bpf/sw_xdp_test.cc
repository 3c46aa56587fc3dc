// SPDX-License-Identifier: BSD-2-Clause
// The bpf tier: sw_xdp run on crafted packets with bpf_prog_test_run_opts.
// One TEST per table; each row resets the maps, applies its setup, runs its
// packet and checks the verdict, every counter, the maps and the ring.
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>

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
