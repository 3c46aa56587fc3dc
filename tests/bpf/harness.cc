// SPDX-License-Identifier: BSD-2-Clause
#include "harness.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <map>
#include <span>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace sw::bpftest {

absl::StatusOr<std::unique_ptr<Harness>> Harness::Create(uint32_t ringbuf_bytes) {
  auto h = std::unique_ptr<Harness>(new Harness());
  DatapathOptions opts{.pin_dir = "", .ringbuf_bytes = ringbuf_bytes};
  auto dp = Datapath::Load(opts);
  if (!dp.ok()) return dp.status();
  h->dp_ = std::move(*dp);
  Harness* self = h.get();
  auto ring = RingReader::Create(h->dp_->maps().fds().events, [self](std::span<const uint8_t> d) {
    self->collected_.emplace_back(d.begin(), d.end());
  });
  if (!ring.ok()) return ring.status();
  h->ring_ = std::move(*ring);
  return h;
}

absl::Status Harness::Reset() {
  Drain();
  if (auto st = maps().ResetAll(); !st.ok()) return st;
  for (uint16_t port : kCustomPorts) {
    if (auto st = maps().SetPortFlags(port, 0); !st.ok()) return st;
  }
  return WriteDefaultConfig(maps());
}

std::vector<std::vector<uint8_t>> Harness::Drain() {
  collected_.clear();
  auto n = ring_->Drain();
  EXPECT_TRUE(n.ok()) << n.status();
  return std::move(collected_);
}

RunResult Harness::RunNoDrain(const std::vector<uint8_t>& packet, uint32_t repeat) {
  RunResult r;
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = packet.data(),
              .data_size_in = static_cast<uint32_t>(packet.size()),
              .repeat = static_cast<int>(repeat));
  r.t_before = BootNs();
  r.err = bpf_prog_test_run_opts(dp_->prog_fd(), &opts);
  if (r.err != 0) r.err = -errno;
  r.t_after = BootNs();
  r.retval = opts.retval;
  return r;
}

RunResult Harness::Run(const std::vector<uint8_t>& packet, uint32_t repeat) {
  Drain();
  RunResult r = RunNoDrain(packet, repeat);
  r.raw = Drain();
  for (const auto& raw : r.raw) {
    auto rec = DecodeRecord(raw);
    EXPECT_TRUE(rec.ok()) << rec.status();
    if (rec.ok()) r.records.push_back(*rec);
  }
  return r;
}

const std::vector<std::string>& StatNames() {
#define SW_STAT_NAME(n) #n,
  static const std::vector<std::string> names = {SW_STATS_FIELDS(SW_STAT_NAME)};
#undef SW_STAT_NAME
  return names;
}

const uint64_t* StatField(const sw_stats& s, std::string_view name) {
#define SW_STAT_OFFSET(n) {#n, offsetof(sw_stats, n)},
  static const std::map<std::string, size_t, std::less<>> offsets = {
      SW_STATS_FIELDS(SW_STAT_OFFSET)};
#undef SW_STAT_OFFSET
  auto it = offsets.find(name);
  if (it == offsets.end()) return nullptr;
  return reinterpret_cast<const uint64_t*>(reinterpret_cast<const char*>(&s) + it->second);
}

void RunCase(Harness& h, const Case& c, std::set<std::string>* moved) {
  ASSERT_TRUE(h.Reset().ok());
  if (c.setup) {
    c.setup(h);
    if (::testing::Test::HasFatalFailure()) return;
  }
  std::map<std::string, uint64_t> want;
  for (const auto& [name, value] : c.stats) {
    ASSERT_NE(StatField(sw_stats{}, name), nullptr) << "unknown counter " << name;
    want[name] += value;
  }
  auto before = h.maps().ReadStats();
  ASSERT_TRUE(before.ok()) << before.status();
  const RunResult r = c.keep_ring ? h.RunNoDrain(c.packet, c.repeat) : h.Run(c.packet, c.repeat);
  ASSERT_EQ(r.err, 0) << "bpf_prog_test_run_opts: " << std::strerror(-r.err);
  auto after = h.maps().ReadStats();
  ASSERT_TRUE(after.ok()) << after.status();

  EXPECT_EQ(r.retval, c.retval) << "XDP action of " << c.name;
  std::string diff;
  for (const auto& name : StatNames()) {
    const uint64_t delta = *StatField(*after, name) - *StatField(*before, name);
    const auto it = want.find(name);
    const uint64_t expected = it == want.end() ? 0 : it->second;
    if (delta != expected) absl::StrAppend(&diff, " ", name, "=", delta, " (want ", expected, ")");
    if (delta && moved) moved->insert(name);
  }
  EXPECT_TRUE(diff.empty()) << c.name << " counters:" << diff;
  EXPECT_EQ(r.raw.size(), after->rb_records - before->rb_records) << "ring records drained";
  if (c.check) c.check(h, r);
}

void RunTable(Harness& h, const std::vector<Case>& table, std::set<std::string>* moved) {
  std::set<std::string> names;
  for (const auto& c : table) {
    SCOPED_TRACE(c.name);
    EXPECT_TRUE(names.insert(c.name).second) << "duplicate row name";
    RunCase(h, c, moved);
  }
}

StatList Seen(int family, bool vlan, uint64_t n) {
  StatList s = {{"rx_packets", n}, {family == 4 ? "ipv4" : "ipv6", n}};
  if (vlan) s.push_back({"vlan", n});
  return s;
}

StatList Cat(StatList a, const StatList& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

StatList Times(StatList a, uint64_t n) {
  for (auto& [name, v] : a) v *= n;
  return a;
}

IpAddress Addr(std::string_view text) {
  auto a = IpAddress::Parse(text);
  EXPECT_TRUE(a.ok()) << a.status();
  return a.ok() ? *a : IpAddress{};
}

void ExpectSipRecord(const RunResult& r, const Record& rec, const SipRec& e) {
  const std::string src = e.src.empty() ? Src(e.family) : e.src;
  const std::string dst = e.dst.empty() ? Dst(e.family) : e.dst;
  EXPECT_EQ(rec.hdr.kind, e.kind);
  EXPECT_GE(rec.hdr.ts_ns, r.t_before);
  EXPECT_LE(rec.hdr.ts_ns, r.t_after);
  EXPECT_EQ(rec.hdr.ifindex, kLoopbackIfindex);
  EXPECT_EQ(+rec.hdr.family, +e.family);
  EXPECT_EQ(+rec.hdr.transport, +e.transport);
  EXPECT_EQ(+rec.hdr.msg_class, +e.cls) << ClassName(rec.hdr.msg_class);
  EXPECT_EQ(rec.hdr.status, e.status);
  EXPECT_EQ(+rec.hdr.verdict, +e.verdict) << VerdictName(rec.hdr.verdict);
  EXPECT_EQ(rec.hdr.sport, e.sport);
  EXPECT_EQ(rec.hdr.dport, e.dport);
  EXPECT_EQ(rec.hdr.vlan_id, e.vlan_id);
  EXPECT_EQ(rec.hdr.flags, e.flags);
  EXPECT_EQ(rec.hdr.tcp_seq, e.transport == SW_TRANSPORT_TCP ? e.tcp_seq : 0u);
  EXPECT_EQ(rec.src, Addr(src)) << rec.src.ToString();
  EXPECT_EQ(rec.dst, Addr(dst)) << rec.dst.ToString();
  EXPECT_EQ(rec.hdr.caplen, e.payload.size());
  EXPECT_EQ(rec.hdr.orig_len, e.orig_len ? e.orig_len : e.payload.size());
  EXPECT_EQ(rec.payload, e.payload);
}

std::unique_ptr<Harness> SharedHarnessTest::harness_;

void SharedHarnessTest::SetUpTestSuite() {
  if (geteuid() != 0) return;
  auto h = Harness::Create(SW_RINGBUF_BYTES);
  ASSERT_TRUE(h.ok()) << h.status();
  harness_ = std::move(*h);
}

void SharedHarnessTest::SetUp() {
  if (geteuid() != 0) GTEST_SKIP() << "loads the BPF program: run as root";
  ASSERT_NE(harness_, nullptr);
  ASSERT_TRUE(harness_->Reset().ok());
}

CheckFn OneSip(SipRec e) {
  return [e](Harness& h, const RunResult& r) {
    ASSERT_EQ(r.records.size(), 1u);
    ExpectSipRecord(r, r.records[0], e);
    const std::string src = e.src.empty() ? Src(e.family) : e.src;
    auto s = SourceState(h, src);
    ASSERT_TRUE(s.has_value()) << "no sw_src entry for " << src;
    for (int c = 0; c < SW_CLASS_MAX; ++c) {
      EXPECT_EQ(s->msgs[c], c == e.cls ? 1u : 0u) << "msgs[" << ClassName(c) << "]";
    }
    EXPECT_EQ(s->bytes, e.orig_len ? e.orig_len : e.payload.size());
    EXPECT_GE(s->first_ns, r.t_before);
    EXPECT_LE(s->last_ns, r.t_after);
    EXPECT_LE(s->first_ns, s->last_ns);
    for (int b = 0; b < SW_BUCKET_MAX; ++b) EXPECT_EQ(s->rate_dropped[b], 0u);
  };
}

void SetLimit(Harness& h, int bucket, uint32_t rate, uint32_t burst) {
  auto cfg = h.maps().ReadConfig();
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  cfg->limits[bucket] = sw_rate{rate, burst};
  auto st = h.maps().WriteConfig(*cfg);
  ASSERT_TRUE(st.ok()) << st;
}

void SetConfigFlags(Harness& h, uint32_t flags) {
  auto cfg = h.maps().ReadConfig();
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  cfg->flags = flags;
  auto st = h.maps().WriteConfig(*cfg);
  ASSERT_TRUE(st.ok()) << st;
}

void SetSnapLen(Harness& h, uint32_t snap_len) {
  auto cfg = h.maps().ReadConfig();
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  cfg->snap_len = snap_len;
  auto st = h.maps().WriteConfig(*cfg);
  ASSERT_TRUE(st.ok()) << st;
}

void SetPort(Harness& h, uint16_t port, uint32_t flags) {
  auto st = h.maps().SetPortFlags(port, flags);
  ASSERT_TRUE(st.ok()) << st;
}

void Block(Harness& h, std::string_view prefix, int64_t ttl_ns, uint32_t reason) {
  auto p = IpPrefix::Parse(prefix);
  ASSERT_TRUE(p.ok()) << p.status();
  if (ttl_ns >= 0) {
    auto st = h.maps().BlockAdd(*p, absl::Nanoseconds(ttl_ns), reason);
    ASSERT_TRUE(st.ok()) << st;
    return;
  }
  // Already expired -ttl_ns ago: written directly, BlockAdd refuses that.
  sw_block_entry v{};
  v.expires_ns = BootNs() - static_cast<uint64_t>(-ttl_ns);
  v.added_ns = v.expires_ns - 1000000000ull;
  v.reason = reason;
  v.prefixlen = p->length;
  const int err = WriteLpmRaw(h.maps().fds().block_v4, h.maps().fds().block_v6, *p, &v);
  ASSERT_EQ(err, 0) << "write expired block entry: " << std::strerror(err);
}

int WriteLpmRaw(int fd4, int fd6, const IpPrefix& prefix, const void* value) {
  int rc;
  if (prefix.addr.is_v4()) {
    sw_lpm_v4 k{};
    k.prefixlen = prefix.length;
    const auto b = prefix.addr.v4();
    std::memcpy(k.addr, b.data(), 4);
    rc = bpf_map_update_elem(fd4, &k, value, BPF_ANY);
  } else {
    sw_lpm_v6 k{};
    k.prefixlen = prefix.length;
    std::memcpy(k.addr, prefix.addr.bytes.data(), 16);
    rc = bpf_map_update_elem(fd6, &k, value, BPF_ANY);
  }
  return rc == 0 ? 0 : errno;
}

void Allow(Harness& h, std::string_view prefix) {
  auto p = IpPrefix::Parse(prefix);
  ASSERT_TRUE(p.ok()) << p.status();
  auto st = h.maps().AllowAdd(*p);
  ASSERT_TRUE(st.ok()) << st;
}

void Send(Harness& h, const std::vector<uint8_t>& packet, uint32_t n, uint32_t verdict) {
  for (uint32_t i = 0; i < n; ++i) {
    const RunResult r = h.Run(packet);
    ASSERT_EQ(r.err, 0);
    ASSERT_EQ(r.retval, verdict) << "setup packet " << i;
  }
}

std::optional<sw_src_state> SourceState(Harness& h, std::string_view addr) {
  auto s = h.maps().Source(Addr(addr));
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : std::nullopt;
}

std::optional<sw_block_entry> BlockEntryOf(Harness& h, std::string_view prefix) {
  auto p = IpPrefix::Parse(prefix);
  EXPECT_TRUE(p.ok()) << p.status();
  auto list = h.maps().BlockList();
  EXPECT_TRUE(list.ok()) << list.status();
  if (!p.ok() || !list.ok()) return std::nullopt;
  for (const auto& e : *list) {
    if (e.prefix == *p) return e.value;
  }
  return std::nullopt;
}

std::optional<sw_allow_entry> AllowEntryOf(Harness& h, std::string_view prefix) {
  auto p = IpPrefix::Parse(prefix);
  EXPECT_TRUE(p.ok()) << p.status();
  auto list = h.maps().AllowList();
  EXPECT_TRUE(list.ok()) << list.status();
  if (!p.ok() || !list.ok()) return std::nullopt;
  for (const auto& e : *list) {
    if (e.prefix == *p) return e.value;
  }
  return std::nullopt;
}

std::optional<sw_media_entry> MediaEntry(Harness& h, std::string_view addr, uint16_t port) {
  auto m = h.maps().Media(MediaKey(Addr(addr), port));
  EXPECT_TRUE(m.ok()) << m.status();
  return m.ok() ? *m : std::nullopt;
}

}  // namespace sw::bpftest
