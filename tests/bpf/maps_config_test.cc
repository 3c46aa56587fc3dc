// SPDX-License-Identifier: BSD-2-Clause
// sw_config and the port table through Maps on the real maps: concurrent
// read-modify-write of different fields under the shared lock loses no
// change (two writers, each with its own Maps and lock file description, as
// the agent and sipwardenctl have), a refused change writes nothing, and the
// port table is replaced and read in one batch.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "harness.h"
#include "maps.h"

namespace sw::bpftest {
namespace {

class MapsConfigTest : public SharedHarnessTest {
 protected:
  void SetUp() override {
    SharedHarnessTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    char tmpl[] = "/tmp/sw-maps-lock.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    lock_dir_ = tmpl;
  }
  void TearDown() override {
    if (!lock_dir_.empty()) rmdir(lock_dir_.c_str());
  }
  Maps Writer() {
    Maps m = Maps::Borrow(harness_->maps().fds());
    m.set_lock_dir(lock_dir_);
    return m;
  }
  std::string lock_dir_;
};

TEST_F(MapsConfigTest, ConcurrentWritersOfDifferentFieldsLoseNothing) {
  constexpr int kRounds = 20000;
  auto bump = [&](int bucket) {
    Maps m = Writer();
    for (int i = 0; i < kRounds; ++i) {
      ASSERT_TRUE(m.UpdateConfig([&](sw_config& cfg) {
                     cfg.limits[bucket].rate += 1;
                     cfg.limits[bucket].burst = 1;
                     return absl::OkStatus();
                   }).ok());
    }
  };
  std::thread a(bump, SW_BUCKET_INVITE), b(bump, SW_BUCKET_REGISTER);
  a.join();
  b.join();
  auto cfg = harness_->maps().ReadConfig();
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(cfg->limits[SW_BUCKET_INVITE].rate, static_cast<uint32_t>(kRounds));
  EXPECT_EQ(cfg->limits[SW_BUCKET_REGISTER].rate, static_cast<uint32_t>(kRounds));
}

TEST_F(MapsConfigTest, ARefusedChangeWritesNothing) {
  Maps m = Writer();
  ASSERT_TRUE(m.UpdateConfig([](sw_config& cfg) {
                 cfg.snap_len = 1000;
                 return absl::OkStatus();
               }).ok());
  const absl::Status st = m.UpdateConfig([](sw_config& cfg) {
    cfg.snap_len = 5;
    return absl::InvalidArgumentError("no");
  });
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(harness_->maps().ReadConfig()->snap_len, 1000u);
  // And a value WriteConfig refuses is not written either.
  EXPECT_FALSE(m.UpdateConfig([](sw_config& cfg) {
                  cfg.snap_len = SW_SNAP_MAX + 1;
                  return absl::OkStatus();
                }).ok());
  EXPECT_EQ(harness_->maps().ReadConfig()->snap_len, 1000u);
}

TEST_F(MapsConfigTest, PortTableIsReplacedWhole) {
  Maps& m = harness_->maps();
  ASSERT_TRUE(m.SetPortFlags(7000, SW_PORT_SIP_UDP).ok());
  ASSERT_TRUE(m.SetPortRoles({5060, 65535, 6060}, {2427}).ok());
  auto ports = m.PortsWith(SW_PORT_SIP_UDP | SW_PORT_SIP_TCP);
  ASSERT_TRUE(ports.ok()) << ports.status();
  EXPECT_EQ(*ports, (std::vector<uint16_t>{5060, 6060, 65535}));
  EXPECT_EQ(*m.PortFlags(6060), static_cast<uint32_t>(SW_PORT_SIP_UDP | SW_PORT_SIP_TCP));
  EXPECT_EQ(*m.PortFlags(7000), 0u);
  EXPECT_EQ(*m.PortsWith(SW_PORT_MGCP), (std::vector<uint16_t>{2427}));
  EXPECT_FALSE(m.SetPortRoles({0}).ok());
  EXPECT_FALSE(m.SetPortRoles({5060}, {5060}).ok());  // one role a port
  EXPECT_EQ(*m.PortsWith(SW_PORT_SIP_UDP), (std::vector<uint16_t>{5060, 6060, 65535}));  // unchanged
}

}  // namespace
}  // namespace sw::bpftest
