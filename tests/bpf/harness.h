// SPDX-License-Identifier: BSD-2-Clause
// Test-run harness for the XDP program: loads sw_xdp once (no pins, no
// attach), resets its maps between cases, runs crafted packets through
// bpf_prog_test_run_opts and collects the ring-buffer records they produce.
// A case is one table row: packet, setup, expected verdict, expected counter
// deltas (every counter not named must stay unchanged) and an optional check.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "absl/status/statusor.h"
#include "datapath.h"
#include "sipwarden.h"
#include "sipwarden/ip.h"
#include "sipwarden/record.h"

namespace sw::bpftest {

// Addresses the tables use. v4 sources and destinations are TEST-NET ranges,
// v6 ones are in 2001:db8::/32.
inline constexpr char kSrc4[] = "192.0.2.10";
inline constexpr char kDst4[] = "198.51.100.20";
inline constexpr char kSrc6[] = "2001:db8::10";
inline constexpr char kDst6[] = "2001:db8:1::20";
inline const char* Src(int family) { return family == 4 ? kSrc4 : kSrc6; }
inline const char* Dst(int family) { return family == 4 ? kDst4 : kDst6; }

// Ports that some rows turn into SIP ports; Reset() clears them again.
inline constexpr uint16_t kCustomPorts[] = {5070, 15060};

// The test run gives the program the loopback device's receive queue.
inline constexpr uint32_t kLoopbackIfindex = 1;

// What one test run produced.
struct RunResult {
  int err = 0;                              // bpf_prog_test_run_opts return value
  uint32_t retval = 0;                      // XDP action of the (last) run
  uint64_t t_before = 0, t_after = 0;       // CLOCK_BOOTTIME around the run
  std::vector<std::vector<uint8_t>> raw{};  // ring-buffer records, in order
  std::vector<Record> records{};            // decoded raw (payloads point into raw)
};

class Harness {
 public:
  static absl::StatusOr<std::unique_ptr<Harness>> Create(uint32_t ringbuf_bytes);
  Maps& maps() { return dp_->maps(); }

  // Empties every map, zeroes the counters, writes the default configuration
  // (SIP on UDP and TCP 5060 and 5080) and clears kCustomPorts.
  absl::Status Reset();
  // Runs packet `repeat` times; drains the ring before and after.
  RunResult Run(const std::vector<uint8_t>& packet, uint32_t repeat = 1);
  // Runs without draining the ring afterwards (to fill it up).
  RunResult RunNoDrain(const std::vector<uint8_t>& packet, uint32_t repeat = 1);
  // Consumes what is in the ring.
  std::vector<std::vector<uint8_t>> Drain();

 private:
  Harness() = default;
  std::unique_ptr<Datapath> dp_;
  std::unique_ptr<RingReader> ring_;
  std::vector<std::vector<uint8_t>> collected_;
};

using StatList = std::vector<std::pair<std::string, uint64_t>>;
using SetupFn = std::function<void(Harness&)>;
using CheckFn = std::function<void(Harness&, const RunResult&)>;

struct Case {
  std::string name{};
  std::vector<uint8_t> packet{};
  SetupFn setup{};      // may be empty
  uint32_t retval = 0;  // expected XDP action
  StatList stats{};     // expected deltas (summed per name); unnamed: 0
  CheckFn check{};      // may be empty
  uint32_t repeat = 1;
  // The setup filled the ring on purpose: run without draining it before or
  // after (the check drains).
  bool keep_ring = false;
};

// Names of the sw_stats fields, in declaration order.
const std::vector<std::string>& StatNames();
// The field called name, or nullptr.
const uint64_t* StatField(const sw_stats& s, std::string_view name);

// Runs one row: reset, setup, stats snapshot, run, stats deltas, retval,
// ring-record count (== rb_records delta) and the row's check. Adds the names
// of the counters that moved to *moved when given.
void RunCase(Harness& h, const Case& c, std::set<std::string>* moved = nullptr);
// Runs every row under SCOPED_TRACE(name).
void RunTable(Harness& h, const std::vector<Case>& table, std::set<std::string>* moved = nullptr);

// ---- helpers for the tables ---------------------------------------------

// Counters every parsed packet of this family moves (rx_packets, ipv4/ipv6,
// vlan when tagged).
StatList Seen(int family, bool vlan = false, uint64_t n = 1);
// Concatenation (RunCase sums repeated names).
StatList Cat(StatList a, const StatList& b);
// Every counter multiplied by n.
StatList Times(StatList a, uint64_t n);

// A test suite sharing one loaded program (default ring buffer), whose maps
// are reset before each test; skipped without root.
class SharedHarnessTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite() { harness_.reset(); }
  void SetUp() override;
  static std::unique_ptr<Harness> harness_;
};

// Expected contents of one SIP record.
struct SipRec {
  uint16_t kind = SW_REC_SIP;  // or SW_REC_MGCP (an MGCP datagram, same layout)
  uint8_t cls = SW_CLASS_NONE;
  uint16_t status = 0;
  int family = 4;
  uint8_t transport = SW_TRANSPORT_UDP;
  uint16_t sport = 5060, dport = 5060;
  std::string payload{};  // the captured bytes
  uint32_t orig_len = 0;  // 0: payload.size()
  uint32_t flags = 0;     // SW_RECF_*
  uint32_t tcp_seq = 1;   // TCP only (PacketBuilder's default)
  uint16_t vlan_id = 0;
  uint8_t verdict = SW_VERDICT_PASS;
  std::string src{}, dst{};  // empty: Src(family), Dst(family)
};
// Checks that record matches e, and that its timestamp lies within the run.
void ExpectSipRecord(const RunResult& r, const Record& rec, const SipRec& e);
// The run produced exactly one record, matching e; the source's per-class
// counters show exactly this message.
CheckFn OneSip(SipRec e);

// Setup steps.
void SetLimit(Harness& h, int bucket, uint32_t rate, uint32_t burst);
void SetConfigFlags(Harness& h, uint32_t flags);
void SetSnapLen(Harness& h, uint32_t snap_len);
void SetPort(Harness& h, uint16_t port, uint32_t flags);
void Block(Harness& h, std::string_view prefix, int64_t ttl_ns, uint32_t reason = SW_REASON_MANUAL);
void Allow(Harness& h, std::string_view prefix);
// Writes value under prefix straight into the family's LPM trie (fd4 for
// IPv4, fd6 for IPv6), past Maps, as `bpftool map update` would; 0 or the
// errno of the write.
int WriteLpmRaw(int fd4, int fd6, const IpPrefix& prefix, const void* value);
// Sends packet n times as part of a setup; expects verdict each time.
void Send(Harness& h, const std::vector<uint8_t>& packet, uint32_t n, uint32_t verdict);

// Map views for checks.
std::optional<sw_src_state> SourceState(Harness& h, std::string_view addr);
std::optional<sw_block_entry> BlockEntryOf(Harness& h, std::string_view prefix);
std::optional<sw_allow_entry> AllowEntryOf(Harness& h, std::string_view prefix);
std::optional<sw_media_entry> MediaEntry(Harness& h, std::string_view addr, uint16_t port);

IpAddress Addr(std::string_view text);

}  // namespace sw::bpftest
