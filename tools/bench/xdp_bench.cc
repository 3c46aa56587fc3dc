// SPDX-License-Identifier: BSD-2-Clause
// sw-bench-xdp: nanoseconds per packet of the sipwarden XDP program on its
// main paths, each measured with bpf_prog_test_run_opts beside a bare XDP
// program (sw_bare_pass or sw_bare_drop) on the same packet, in the same run.
// One JSON object per figure on stdout; progress on stderr.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <memory>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "sipwarden/cli.h"
#include "datapath.h"
#include "figure.h"
#include "floor.h"
#include "packet_builder.h"
#include "sipwarden/absl_compat.h"
#include "sipwarden/json.h"
#include "sipwarden/status_macros.h"
#include "sw_baseline.skel.h"

ABSL_FLAG(uint32_t, repeat, 1000000, "Packets per measurement (bpf_prog_test_run repeat count)");
ABSL_FLAG(uint32_t, rounds, 5,
          "Measurements per figure, alternating program and baseline; the median is reported");
ABSL_FLAG(uint32_t, blocklist_size, 10000,
          "Other entries put in the IPv4 blocklist besides the benchmark's source, so lookups "
          "walk a populated trie");
ABSL_FLAG(uint32_t, scale_entries, 1000000,
          "Scale figures: the drop and pass paths with this many blocklist prefixes and "
          "tracked sources in the kernel maps, beside the same maps empty (0 skips them)");
ABSL_FLAG(std::string, cases, "",
          "Comma-separated figures to measure (udp_pass, invite_ringbuf, invite_ringbuf_batched, "
          "invite_ringbuf_full, drop_blocklist, drop_ratelimit); empty: all of them. Lets a "
          "profiler (perf, bpftool prog profile) see one path alone");
ABSL_FLAG(bool, verbose, false, "Show libbpf's informational messages");
ABSL_FLAG(bool, version, false, "Print the version and exit");

namespace {

// The issue's aim for the drop paths, ns per packet. Printed beside the
// figures, never asserted: timing depends on the machine.
constexpr double kAimDropNs = 60;

constexpr char kAim[] = "aim_max_ns";
constexpr char kBarePass[] = "bare_xdp_pass";
constexpr char kBareDrop[] = "bare_xdp_drop";

// A call as a softphone sends it: the usual headers and an SDP offer.
// clang-format off
std::string RealisticInvite(std::string_view src_ip) {
  const std::string ip(src_ip);
  const std::string sdp = absl::StrCat(
      "v=0\r\n"
      "o=alice 2890844526 2890844526 IN IP4 ", ip, "\r\n"
      "s=-\r\n"
      "c=IN IP4 ", ip, "\r\n"
      "t=0 0\r\n"
      "m=audio 49170 RTP/AVP 0 8 18 101\r\n"
      "a=rtpmap:0 PCMU/8000\r\n"
      "a=rtpmap:8 PCMA/8000\r\n"
      "a=rtpmap:18 G729/8000\r\n"
      "a=rtpmap:101 telephone-event/8000\r\n"
      "a=fmtp:101 0-16\r\n"
      "a=ptime:20\r\n"
      "a=sendrecv\r\n");
  return absl::StrCat(
      "INVITE sip:+14155550123@pbx.example.com;user=phone SIP/2.0\r\n"
      "Via: SIP/2.0/UDP ", ip, ":5060;branch=z9hG4bK-524287-1---77ba3ad3c2b7d9a1;rport\r\n"
      "Max-Forwards: 70\r\n"
      "Contact: <sip:alice@", ip, ":5060;transport=udp>\r\n"
      "To: <sip:+14155550123@pbx.example.com;user=phone>\r\n"
      "From: \"Alice\" <sip:alice@example.org>;tag=8a1c3f07\r\n"
      "Call-ID: 3c26700f-5d2e-4b8c-9f62-1ab0e2c7d4f1@", ip, "\r\n"
      "CSeq: 1 INVITE\r\n"
      "Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE, "
      "UPDATE, PRACK\r\n"
      "Supported: replaces, timer, 100rel\r\n"
      "User-Agent: Zoiper rv2.10.19.4\r\n"
      "Content-Type: application/sdp\r\n"
      "Content-Length: ", sdp.size(), "\r\n"
      "\r\n", sdp);
}
// clang-format on

std::vector<uint8_t> InvitePacket(std::string_view src_ip) {
  return sw::test::PacketBuilder()
      .Eth()
      .IPv4(src_ip, "192.0.2.1")
      .Udp(5060, 5060)
      .Payload(RealisticInvite(src_ip))
      .Build();
}

sw_stats Delta(const sw_stats& before, const sw_stats& after) {
  sw_stats d{};
#define SW_DELTA(name) d.name = after.name - before.name;
  SW_STATS_FIELDS(SW_DELTA)
#undef SW_DELTA
  return d;
}

void Accumulate(sw_stats& sum, const sw_stats& d) {
#define SW_ADD(name) sum.name += d.name;
  SW_STATS_FIELDS(SW_ADD)
#undef SW_ADD
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string_view VerdictName(uint32_t v) {
  switch (v) {
    case XDP_ABORTED:
      return "XDP_ABORTED";
    case XDP_DROP:
      return "XDP_DROP";
    case XDP_PASS:
      return "XDP_PASS";
    case XDP_TX:
      return "XDP_TX";
    case XDP_REDIRECT:
      return "XDP_REDIRECT";
  }
  return "unknown verdict";
}

struct RunResult {
  double kernel_ns;  // opts.duration: the kernel's average per run
  double wall_ns;    // syscall wall time / repeat, a cross-check
};

// One bpf_prog_test_run of repeat packets; any verdict but want is an error.
absl::StatusOr<RunResult> TestRun(int prog_fd, std::span<const uint8_t> pkt, uint32_t repeat,
                                  uint32_t want, std::string_view what) {
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt.data(),
              .data_size_in = static_cast<uint32_t>(pkt.size()),
              .repeat = static_cast<int>(repeat));
  const auto t0 = std::chrono::steady_clock::now();
  const int err = bpf_prog_test_run_opts(prog_fd, &opts);
  const auto t1 = std::chrono::steady_clock::now();
  if (err != 0) return sw::ErrnoStatus(-err, absl::StrCat("test run of ", sw::AV(what)));
  if (opts.retval != want) {
    return absl::InternalError(absl::StrCat(sw::AV(what), " returned ",
                                            sw::AV(VerdictName(opts.retval)), " (", opts.retval,
                                            "), expected ", sw::AV(VerdictName(want))));
  }
  const double wall = std::chrono::duration<double, std::nano>(t1 - t0).count();
  return RunResult{static_cast<double>(opts.duration), wall / repeat};
}

// How the ring buffer is consumed while a measurement runs.
enum class Consumer {
  kNone,   // nobody reads (drop paths; the ring-full path)
  kPoll,   // as the agent does: epoll wait for the kernel's wakeup, then drain
  kBatch,  // drain every kBatchInterval without waiting for wakeups
};
constexpr auto kBatchInterval = std::chrono::milliseconds(1);

// Consumes the ring buffer on its own thread while a measurement runs, so the
// program's copies find room.
class Drainer {
 public:
  static absl::StatusOr<std::unique_ptr<Drainer>> Start(int events_fd, Consumer mode) {
    auto d = std::unique_ptr<Drainer>(new Drainer());
    Drainer* self = d.get();
    self->mode_ = mode;
    SW_ASSIGN_OR_RETURN(d->reader_,
                        sw::RingReader::Create(events_fd, [self](std::span<const uint8_t> rec) {
                          self->records_.fetch_add(1, std::memory_order_relaxed);
                          self->bytes_.fetch_add(rec.size(), std::memory_order_relaxed);
                        }));
    if (mode != Consumer::kNone) d->thread_ = std::thread([self] { self->Loop(); });
    return d;
  }
  ~Drainer() { (void)Stop(); }

  // Stops the thread and consumes whatever is left; returns the first error.
  absl::Status Stop() {
    if (thread_.joinable()) {
      stop_.store(true);
      thread_.join();
    }
    if (status_.ok()) status_ = reader_->Drain().status();
    return status_;
  }
  uint64_t records() const { return records_.load(); }
  uint64_t bytes() const { return bytes_.load(); }

 private:
  Drainer() = default;
  void Loop() {
    while (!stop_.load(std::memory_order_relaxed)) {
      absl::StatusOr<int> n = 0;
      if (mode_ == Consumer::kPoll) {
        n = reader_->Poll(20);
      } else {
        n = reader_->Drain();
        std::this_thread::sleep_for(kBatchInterval);
      }
      if (!n.ok()) {
        status_ = n.status();  // read by Stop() after join
        return;
      }
    }
  }
  Consumer mode_ = Consumer::kNone;
  std::unique_ptr<sw::RingReader> reader_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> records_{0}, bytes_{0};
  absl::Status status_;
};

// IRQ-work interrupts so far, all CPUs (the ring buffer's wakeups raise them);
// -1 if /proc/interrupts cannot say.
int64_t IrqWorkInterrupts() {
  std::ifstream in("/proc/interrupts");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string name;
    fields >> name;
    if (name != "IWI:") continue;
    int64_t total = 0, v;
    while (fields >> v) total += v;
    return total;
  }
  return -1;
}

// Whether --cases asks for this figure (all of them when it is empty).
bool Wanted(std::string_view name) {
  const std::string cases = absl::GetFlag(FLAGS_cases);
  if (cases.empty()) return true;
  for (absl::string_view c : absl::StrSplit(cases, ',')) {
    if (std::string_view(c.data(), c.size()) == name) return true;
  }
  return false;
}

// The least work a path can do with the kernel's helpers (bpf/baseline.bpf.c),
// measured beside the path: how far below its figure the path could go here.
enum class Floor {
  kNone,
  kBlock,  // sw_floor_block: one trie lookup (the blocklist copied into its trie)
  kRate,   // sw_floor_rate: the source's state, the clock, one bucket
  kCopy,   // sw_floor_copy: reserve, load the payload, submit
};

// One figure: our program and a bare one on the same packet.
struct Case {
  std::string name;   // metric suffix: ns_per_packet_<name>
  std::string about;  // for the progress lines
  std::vector<uint8_t> packet;
  uint32_t want;  // XDP_PASS or XDP_DROP, for both programs
  Consumer consumer;
  // Checks that a run of n packets took the intended path (the counters moved
  // as they should), not just that it ended with the right verdict.
  std::function<absl::Status(const sw_stats& d, uint64_t n)> check;
  Floor floor = Floor::kNone;
};

struct Figure {
  double ours_ns = 0, base_ns = 0;
  sw_stats delta{};  // counters over the measured runs of our program
  uint64_t packets = 0;
};

// One figure as a JSON line: {"bench":"xdp","metric":...,"ratio":value/baseline}.
template <typename T>
void PrintLine(std::string_view metric, T value, std::string_view unit, std::string_view baseline,
               T baseline_value) {
  sw::bench::PrintFigure("xdp", metric, value, unit, baseline, baseline_value);
}

absl::Status Expect(std::string_view counter, uint64_t got, uint64_t want) {
  if (got == want) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(sw::AV(counter), " moved by ", got, ", expected ", want));
}

// The paths measured twice, by Run and by RunScale.

// Non-SIP UDP (RTP-like, no media expected there): blocklist miss, pass.
Case UdpPassCase() {
  return {
      .name = "udp_pass",
      .about = "non-SIP UDP 40000->40001, 160-byte payload, passed",
      .packet = sw::test::PacketBuilder()
                    .Eth()
                    .IPv4("198.51.100.30", "192.0.2.1")
                    .Udp(40000, 40001)
                    .Payload(sw::test::RtpPacket(0x1234abcd, 1, 0, 148))
                    .Build(),
      .want = XDP_PASS,
      .consumer = Consumer::kNone,
      .check = [](const sw_stats& d, uint64_t n) { return Expect("pass_other", d.pass_other, n); },
  };
}

// The INVITE of a blocklisted source (203.0.113.66): LPM hit, drop.
Case BlocklistDropCase() {
  return {
      .name = "drop_blocklist",
      .about = "the INVITE from a blocklisted source, dropped",
      .packet = InvitePacket("203.0.113.66"),
      .want = XDP_DROP,
      .consumer = Consumer::kNone,
      .check = [](const sw_stats& d,
                  uint64_t n) { return Expect("drop_blocked", d.drop_blocked, n); },
      .floor = Floor::kBlock,
  };
}

// The INVITE of a source over its INVITE bucket (198.51.100.20; the caller
// sets the limit): parse, classify, token bucket, drop.
Case RateLimitDropCase() {
  return {
      .name = "drop_ratelimit",
      .about = "the INVITE from a source over its INVITE limit (1/s, burst 1), dropped",
      .packet = InvitePacket("198.51.100.20"),
      .want = XDP_DROP,
      .consumer = Consumer::kNone,
      // The bucket refills once a second: a long run lets the odd one through.
      .check =
          [](const sw_stats& d, uint64_t n) {
            if (d.pass_sip > 10) return Expect("pass_sip", d.pass_sip, 0);
            return Expect("drop_rate + pass_sip", d.drop_rate + d.pass_sip, n);
          },
      .floor = Floor::kRate,
  };
}

class Bench {
 public:
  // capacity: blocklist prefixes per family and tracked sources the maps
  // hold (0: the program's defaults).
  static absl::StatusOr<std::unique_ptr<Bench>> Create(uint32_t repeat, uint32_t rounds,
                                                       uint32_t capacity = 0);
  ~Bench() {
    if (base_) sw_baseline__destroy(base_);
  }
  absl::Status Run();
  // The scale figures: n prefixes and n sources (the Bench was created with
  // room for them) beside the same maps empty.
  absl::Status RunScale(uint32_t n);

 private:
  Bench() = default;
  sw::Maps& maps() { return dp_->maps(); }
  // Warms up, then runs rounds x (ours, bare) and prints the figure.
  absl::StatusOr<Figure> Measure(const Case& c);
  // Rounds of (prog, bare) on c's packet; when prog is sw_xdp, each run's
  // counters are checked against c.check.
  absl::StatusOr<Figure> MeasureRuns(const Case& c, int prog_fd, std::string_view prog_name,
                                     int base_fd);
  // c's floor program beside the bare one, then c's figure beside the floor.
  absl::Status MeasureFloor(const Case& c, const Figure& path, int base_fd);
  // sw_block_v4's entries, as they are, into sw_floor_block_v4.
  absl::Status CopyBlocklistToFloor();
  absl::Status FillBlocklist();
  absl::Status SetInviteLimit(uint32_t rate, uint32_t burst);
  // Median ns per packet of our program alone on c, over the rounds.
  absl::StatusOr<double> OursNs(const Case& c);
  // n distinct prefixes (1 in 16 a /24, the rest /32s) within 10.0.0.0/8,
  // and n distinct sources within 11.0.0.0/8, written straight to the maps.
  absl::Status FillScale(uint32_t n);

  // Runs before a measurement, to warm caches and branch predictors.
  uint32_t WarmRuns() const { return std::min<uint32_t>(repeat_, 10000); }

  std::unique_ptr<sw::Datapath> dp_;
  sw_baseline* base_ = nullptr;
  uint32_t repeat_ = 0, rounds_ = 0;
};

absl::StatusOr<std::unique_ptr<Bench>> Bench::Create(uint32_t repeat, uint32_t rounds,
                                                     uint32_t capacity) {
  auto b = std::unique_ptr<Bench>(new Bench());
  b->repeat_ = repeat;
  b->rounds_ = rounds;
  sw::DatapathOptions opts{.pin_dir = ""};
  if (capacity) {
    opts.block_entries = capacity;
    opts.src_entries = capacity;
  }
  SW_ASSIGN_OR_RETURN(b->dp_, sw::Datapath::Load(opts));
  b->base_ = sw_baseline__open_and_load();
  if (!b->base_) return sw::ErrnoStatus(errno, "load the baseline programs");
  return b;
}

absl::StatusOr<Figure> Bench::MeasureRuns(const Case& c, int prog_fd, std::string_view prog_name,
                                          int base_fd) {
  const int ours = prog_fd;
  // Only sw_xdp moves sw_stats: a floor's runs are not checked against them.
  const bool is_sw_xdp = prog_fd == dp_->prog_fd();
  const std::string_view baseline = c.want == XDP_DROP ? kBareDrop : kBarePass;
  const std::string ours_what = absl::StrCat(sw::AV(prog_name), " on ", c.name);
  const std::string base_what = absl::StrCat(sw::AV(baseline), " on ", c.name);
  // Warm caches and branch predictors; not counted.
  const uint32_t warm = WarmRuns();
  SW_RETURN_IF_ERROR(TestRun(ours, c.packet, warm, c.want, ours_what).status());
  SW_RETURN_IF_ERROR(TestRun(base_fd, c.packet, warm, c.want, base_what).status());

  std::vector<double> ours_ns, base_ns, ours_wall, base_wall;
  Figure f;
  for (uint32_t r = 0; r < rounds_; ++r) {
    // Alternate which goes first so neither always runs on a warmer cache.
    for (int leg = 0; leg < 2; ++leg) {
      if ((leg == 0) == (r % 2 == 0)) {
        sw_stats before{};
        if (is_sw_xdp) {
          SW_ASSIGN_OR_RETURN(before, maps().ReadStats());
        }
        SW_ASSIGN_OR_RETURN(RunResult res, TestRun(ours, c.packet, repeat_, c.want, ours_what));
        if (is_sw_xdp) {
          SW_ASSIGN_OR_RETURN(const sw_stats after, maps().ReadStats());
          const sw_stats d = Delta(before, after);
          if (absl::Status s = c.check(d, repeat_); !s.ok()) {
            return absl::InternalError(
                absl::StrCat(ours_what, " did not take the path under test: ", s.message()));
          }
          Accumulate(f.delta, d);
        }
        f.packets += repeat_;
        ours_ns.push_back(res.kernel_ns);
        ours_wall.push_back(res.wall_ns);
      } else {
        SW_ASSIGN_OR_RETURN(RunResult res, TestRun(base_fd, c.packet, repeat_, c.want, base_what));
        base_ns.push_back(res.kernel_ns);
        base_wall.push_back(res.wall_ns);
      }
    }
  }
  f.ours_ns = Median(ours_ns);
  f.base_ns = Median(base_ns);
  // Wall time includes each call's set-up (the XDP dispatcher is swapped in
  // and out per call): close to the kernel's figure only for large repeats.
  std::cerr << "  " << prog_name << " " << f.ours_ns
            << " ns/pkt (rounds: " << absl::StrJoin(ours_ns, " ") << "; wall " << Median(ours_wall)
            << "), " << baseline << " " << f.base_ns
            << " ns/pkt (rounds: " << absl::StrJoin(base_ns, " ") << "; wall " << Median(base_wall)
            << ")\n";
  return f;
}

absl::StatusOr<Figure> Bench::Measure(const Case& c) {
  std::cerr << "[" << c.name << "] " << c.about << "\n";
  const bool drop = c.want == XDP_DROP;
  const int base_fd = bpf_program__fd(drop ? base_->progs.sw_bare_drop : base_->progs.sw_bare_pass);
  SW_ASSIGN_OR_RETURN(auto drainer, Drainer::Start(maps().fds().events, c.consumer));
  const int64_t iwi0 = IrqWorkInterrupts();
  auto f = MeasureRuns(c, dp_->prog_fd(), "sw_xdp", base_fd);
  const int64_t iwi1 = IrqWorkInterrupts();
  SW_RETURN_IF_ERROR(drainer->Stop());
  if (!f.ok()) return f.status();
  if (c.consumer != Consumer::kNone) {
    std::cerr << "  consumer read " << drainer->records() << " records (" << drainer->bytes()
              << " bytes); " << f->delta.rb_lost << " of " << f->packets << " lost to a full ring";
    if (iwi0 >= 0 && iwi1 >= iwi0) {
      std::cerr << "; " << static_cast<double>(iwi1 - iwi0) / static_cast<double>(f->packets)
                << " IRQ-work interrupts (ring-buffer wakeups) per packet";
    }
    std::cerr << "\n";
  }
  PrintLine<double>(absl::StrCat("ns_per_packet_", c.name), f->ours_ns, "ns",
                    drop ? kBareDrop : kBarePass, f->base_ns);
  if (c.consumer != Consumer::kNone) {
    PrintLine<uint64_t>(absl::StrCat(c.name, "_records_lost"), f->delta.rb_lost, "records",
                        "packets", f->packets);
  }
  if (drop) {
    PrintLine<double>(absl::StrCat("ns_per_packet_", c.name, "_vs_aim"), f->ours_ns, "ns", kAim,
                      kAimDropNs);
  }
  if (c.floor != Floor::kNone) SW_RETURN_IF_ERROR(MeasureFloor(c, *f, base_fd));
  return f;
}

absl::Status Bench::CopyBlocklistToFloor() {
  SW_ASSIGN_OR_RETURN(const uint32_t n,
                      sw::bench::CopyBlocklistV4(maps().fds().block_v4,
                                                 bpf_map__fd(base_->maps.sw_floor_block_v4)));
  std::cerr << "  floor: " << n << " blocklist prefixes copied into sw_floor_block_v4\n";
  return absl::OkStatus();
}

absl::Status Bench::MeasureFloor(const Case& c, const Figure& path, int base_fd) {
  const bool copy = c.floor == Floor::kCopy;
  const bpf_program* prog = copy                      ? base_->progs.sw_floor_copy
                            : c.floor == Floor::kRate ? base_->progs.sw_floor_rate
                                                      : base_->progs.sw_floor_block;
  const std::string_view name = bpf_program__name(prog);
  if (c.floor == Floor::kBlock) SW_RETURN_IF_ERROR(CopyBlocklistToFloor());
  std::cerr << "  floor: " << name << " on the same packet, beside the same bare program\n";
  // The copy floor has its own ring, drained as c's is.
  std::unique_ptr<Drainer> drainer;
  if (copy) {
    SW_ASSIGN_OR_RETURN(drainer,
                        Drainer::Start(bpf_map__fd(base_->maps.sw_floor_ring), c.consumer));
  }
  auto f = MeasureRuns(c, bpf_program__fd(prog), name, base_fd);
  if (drainer) SW_RETURN_IF_ERROR(drainer->Stop());
  if (!f.ok()) return f.status();
  // Every run's record read: a copy that found the ring full did less work.
  const uint64_t runs = f->packets + WarmRuns();
  if (drainer && drainer->records() != runs) {
    return absl::InternalError(absl::StrCat(sw::AV(name), " wrote ", drainer->records(),
                                            " records for ", runs, " runs: the ring was full"));
  }
  PrintLine<double>(absl::StrCat("floor_ns_per_packet_", c.name), f->ours_ns, "ns",
                    c.want == XDP_DROP ? kBareDrop : kBarePass, f->base_ns);
  PrintLine<double>(absl::StrCat("ns_per_packet_", c.name, "_vs_floor"), path.ours_ns, "ns",
                    absl::StrCat("floor_", sw::AV(name)), f->ours_ns);
  return absl::OkStatus();
}

// Pseudo-random /32s and /24s (fixed seed) outside the benchmark's sources.
absl::Status Bench::FillBlocklist() {
  const uint32_t n = absl::GetFlag(FLAGS_blocklist_size);
  std::mt19937 rng(20240611);
  for (uint32_t i = 0; i < n; ++i) {
    const uint32_t v = rng();
    const int len = i % 16 == 0 ? 24 : 32;
    // Within 10.0.0.0-100.255.255.255: clear of the sources used below.
    uint32_t a = ((10 + v % 91) << 24) | (v & 0x00ffffffu);
    if (len == 24) a &= 0xffffff00u;
    const std::string text =
        absl::StrCat(a >> 24, ".", (a >> 16) & 0xff, ".", (a >> 8) & 0xff, ".", a & 0xff, "/", len);
    SW_ASSIGN_OR_RETURN(sw::IpPrefix p, sw::IpPrefix::Parse(text));
    SW_RETURN_IF_ERROR(maps().BlockAdd(p, absl::ZeroDuration(), SW_REASON_MANUAL));
  }
  return absl::OkStatus();
}

absl::Status Bench::SetInviteLimit(uint32_t rate, uint32_t burst) {
  SW_ASSIGN_OR_RETURN(sw_config cfg, maps().ReadConfig());
  cfg.limits[SW_BUCKET_INVITE].rate = rate;
  cfg.limits[SW_BUCKET_INVITE].burst = burst;
  return maps().WriteConfig(cfg);
}

absl::Status Bench::Run() {
  std::cerr << "sw-bench-xdp: repeat " << repeat_ << ", rounds " << rounds_ << ", blocklist "
            << absl::GetFlag(FLAGS_blocklist_size) + 1 << " IPv4 entries\n";
  SW_RETURN_IF_ERROR(FillBlocklist());

  // 1. Non-SIP UDP (RTP-like, no media expected there): blocklist miss, pass.
  const Case udp = UdpPassCase();
  if (Wanted(udp.name)) SW_RETURN_IF_ERROR(Measure(udp).status());

  // 2. SIP INVITE passed and copied to the ring buffer while a consumer
  // drains it the way the agent does (woken by the kernel).
  const size_t sip_bytes = RealisticInvite("198.51.100.10").size();
  const Case copy{
      .name = "invite_ringbuf",
      .about = absl::StrCat("SIP INVITE with SDP (", sip_bytes,
                            " bytes of SIP) passed and copied to the ring buffer; the consumer "
                            "waits for wakeups (epoll), as the agent does"),
      .packet = InvitePacket("198.51.100.10"),
      .want = XDP_PASS,
      .consumer = Consumer::kPoll,
      .check =
          [](const sw_stats& d, uint64_t n) {
            SW_RETURN_IF_ERROR(Expect("pass_sip", d.pass_sip, n));
            return Expect("rb_records + rb_lost", d.rb_records + d.rb_lost, n);
          },
  };
  if (Wanted(copy.name)) SW_RETURN_IF_ERROR(Measure(copy).status());

  // 2b. The same, the consumer draining on a timer: few wakeups, so this is
  // the copy itself.
  Case batch = copy;
  batch.name = "invite_ringbuf_batched";
  batch.about = absl::StrCat("the same, the consumer draining every ",
                             absl::FormatDuration(absl::FromChrono(kBatchInterval)),
                             " without waiting for wakeups");
  batch.consumer = Consumer::kBatch;
  batch.floor = Floor::kCopy;
  if (Wanted(batch.name)) SW_RETURN_IF_ERROR(Measure(batch).status());

  // 2c. The same with nobody reading: the ring is full, every copy is lost.
  Case full = copy;
  full.name = "invite_ringbuf_full";
  full.about = "the same with the ring buffer full (no consumer): every copy lost";
  full.consumer = Consumer::kNone;
  full.check = [](const sw_stats& d, uint64_t n) {
    SW_RETURN_IF_ERROR(Expect("pass_sip", d.pass_sip, n));
    return Expect("rb_lost", d.rb_lost, n);
  };
  if (Wanted(full.name)) {
    // Twice the ring's size in records fills it.
    SW_ASSIGN_OR_RETURN(sw_stats before, maps().ReadStats());
    const uint32_t fill = 2 * (SW_RINGBUF_BYTES / static_cast<uint32_t>(sip_bytes)) + 1000;
    SW_RETURN_IF_ERROR(TestRun(dp_->prog_fd(), full.packet, fill, XDP_PASS, "ring fill").status());
    SW_ASSIGN_OR_RETURN(sw_stats after, maps().ReadStats());
    if (Delta(before, after).rb_lost == 0) {
      return absl::InternalError("the ring buffer did not fill up");
    }
    auto f = Measure(full);
    // Empty the ring for whatever comes next.
    SW_ASSIGN_OR_RETURN(auto drainer, Drainer::Start(maps().fds().events, Consumer::kNone));
    SW_RETURN_IF_ERROR(drainer->Stop());
    SW_RETURN_IF_ERROR(f.status());
  }

  // 3. Blocklisted source: LPM hit, drop.
  const Case block = BlocklistDropCase();
  SW_ASSIGN_OR_RETURN(sw::IpPrefix blocked, sw::IpPrefix::Parse("203.0.113.66/32"));
  SW_RETURN_IF_ERROR(maps().BlockAdd(blocked, absl::ZeroDuration(), SW_REASON_MANUAL));
  if (Wanted(block.name)) SW_RETURN_IF_ERROR(Measure(block).status());

  // 4. Over its INVITE bucket: parse, classify, token bucket, drop.
  const Case rate = RateLimitDropCase();
  if (!Wanted(rate.name)) return absl::OkStatus();
  SW_RETURN_IF_ERROR(SetInviteLimit(1, 1));
  // The first INVITE conforms and empties the bucket; the next is over it.
  const std::string what = "sw_xdp emptying the INVITE bucket";
  SW_RETURN_IF_ERROR(TestRun(dp_->prog_fd(), rate.packet, 1, XDP_PASS, what).status());
  SW_RETURN_IF_ERROR(TestRun(dp_->prog_fd(), rate.packet, 1, XDP_DROP, what).status());
  auto f = Measure(rate);
  SW_RETURN_IF_ERROR(SetInviteLimit(0, 0));
  SW_RETURN_IF_ERROR(f.status());
  if (f->delta.pass_sip) {
    std::cerr << "  " << f->delta.pass_sip << " INVITEs conformed as the bucket refilled\n";
  }
  return absl::OkStatus();
}

absl::StatusOr<double> Bench::OursNs(const Case& c) {
  const std::string what = absl::StrCat("sw_xdp on ", c.name);
  SW_RETURN_IF_ERROR(TestRun(dp_->prog_fd(), c.packet, WarmRuns(), c.want, what).status());
  std::vector<double> ns;
  for (uint32_t r = 0; r < rounds_; ++r) {
    SW_ASSIGN_OR_RETURN(sw_stats before, maps().ReadStats());
    SW_ASSIGN_OR_RETURN(RunResult res, TestRun(dp_->prog_fd(), c.packet, repeat_, c.want, what));
    SW_ASSIGN_OR_RETURN(sw_stats after, maps().ReadStats());
    if (absl::Status s = c.check(Delta(before, after), repeat_); !s.ok()) {
      return absl::InternalError(
          absl::StrCat(what, " did not take the path under test: ", s.message()));
    }
    ns.push_back(res.kernel_ns);
  }
  std::cerr << "  " << c.name << ": " << Median(ns) << " ns/pkt (rounds: " << absl::StrJoin(ns, " ")
            << ")\n";
  return Median(ns);
}

absl::Status Bench::FillScale(uint32_t n) {
  const auto& fds = maps().fds();
  const uint64_t now = sw::BootNs();
  const auto t0 = std::chrono::steady_clock::now();
  for (uint32_t i = 0; i < n; ++i) {
    // i -> i * odd is a bijection modulo 2^24: n distinct addresses.
    const uint32_t low = (i * 2654435761u) & 0x00ffffffu;
    sw_lpm_v4 k{};
    k.prefixlen = i % 16 == 0 ? 24 : 32;
    const uint32_t a = (10u << 24) | (k.prefixlen == 24 ? low & 0xffff00u : low);
    const uint32_t be = htonl(a);
    std::memcpy(k.addr, &be, 4);
    sw_block_entry e{};
    e.added_ns = now;
    e.reason = SW_REASON_MANUAL;
    e.prefixlen = k.prefixlen;
    if (bpf_map_update_elem(fds.block_v4, &k, &e, BPF_ANY) != 0) {
      return sw::ErrnoStatus(errno, absl::StrCat("add blocklist prefix ", i));
    }
    sw_src_key sk{};
    sk.addr[10] = sk.addr[11] = 0xff;  // IPv4-mapped, as the kernel keys sources
    const uint32_t src = htonl((11u << 24) | low);
    std::memcpy(sk.addr + 12, &src, 4);
    sw_src_state st{};
    st.first_ns = st.last_ns = now;
    if (bpf_map_update_elem(fds.src, &sk, &st, BPF_ANY) != 0) {
      return sw::ErrnoStatus(errno, absl::StrCat("add source ", i));
    }
    if ((i + 1) % 250000 == 0 || i + 1 == n) {
      std::cerr << "  filled " << i + 1 << " of " << n << " prefixes and sources ("
                << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()
                << " s)\n";
    }
  }
  return absl::OkStatus();
}

// The kernel's own account of a map's memory (fdinfo "memlock").
uint64_t MapMemory(int fd) {
  std::ifstream in(absl::StrCat("/proc/self/fdinfo/", fd));
  std::string key;
  uint64_t value = 0;
  while (in >> key) {
    if (key == "memlock:" && in >> value) return value;
  }
  return 0;
}

absl::Status Bench::RunScale(uint32_t n) {
  std::cerr << "[scale] the drop and pass paths with " << n
            << " blocklist prefixes and tracked sources, beside the same maps empty\n";
  SW_ASSIGN_OR_RETURN(sw::IpPrefix blocked, sw::IpPrefix::Parse("203.0.113.66/32"));
  SW_RETURN_IF_ERROR(maps().BlockAdd(blocked, absl::ZeroDuration(), SW_REASON_MANUAL));
  SW_RETURN_IF_ERROR(SetInviteLimit(1, 1));
  const std::vector<Case> cases = {BlocklistDropCase(), UdpPassCase(), RateLimitDropCase()};
  const std::string what = "sw_xdp emptying the INVITE bucket";
  SW_RETURN_IF_ERROR(TestRun(dp_->prog_fd(), cases[2].packet, 1, XDP_PASS, what).status());
  std::vector<double> empty;
  for (const Case& c : cases) {
    SW_ASSIGN_OR_RETURN(double ns, OursNs(c));
    empty.push_back(ns);
  }
  SW_RETURN_IF_ERROR(FillScale(n));
  const std::string label = n % 1000000 == 0   ? absl::StrCat(n / 1000000, "m")
                            : n % 1000 == 0    ? absl::StrCat(n / 1000, "k")
                                               : absl::StrCat(n);
  for (size_t i = 0; i < cases.size(); ++i) {
    SW_ASSIGN_OR_RETURN(double ns, OursNs(cases[i]));
    PrintLine<double>(absl::StrCat("ns_per_packet_", cases[i].name, "_", label, "_entries"), ns,
                      "ns", "empty_maps", empty[i]);
  }
  PrintLine<double>(absl::StrCat("kernel_bytes_per_blocklist_prefix_", label),
                    static_cast<double>(MapMemory(maps().fds().block_v4)) / n, "bytes", "none",
                    0.0);
  // The source table is preallocated: its memory over its capacity.
  bpf_map_info info{};
  uint32_t info_len = sizeof(info);
  if (bpf_obj_get_info_by_fd(maps().fds().src, &info, &info_len) != 0 || info.max_entries == 0) {
    return sw::ErrnoStatus(errno, "read sw_src's capacity");
  }
  PrintLine<double>(absl::StrCat("kernel_bytes_per_tracked_source_", label),
                    static_cast<double>(MapMemory(maps().fds().src)) / info.max_entries, "bytes",
                    "none", 0.0);
  return SetInviteLimit(0, 0);
}

}  // namespace

int main(int argc, char** argv) {
  sw::SetUsage(
      "Measures the sipwarden XDP program, in ns per packet, on its main paths (non-SIP UDP\n"
      "pass, SIP INVITE copied to the ring buffer, blocklist drop, rate-limit drop), each\n"
      "beside a bare XDP_PASS or XDP_DROP program on the same packet, with\n"
      "bpf_prog_test_run; the drops and the batched copy also beside their floor, the\n"
      "least work the kernel's helpers allow for them (bpf/baseline.bpf.c); then the drop\n"
      "and pass paths with 1,000,000 blocklist prefixes and tracked sources beside the\n"
      "same maps empty, and the kernel memory per entry.\n"
      "Needs root (CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN). Attaches nothing.\n\n"
      "  sw-bench-xdp [--repeat N] [--rounds N] [--blocklist-size N] [--scale-entries N]\n"
      "               [--cases drop_blocklist,drop_ratelimit,...]\n\n"
      "Prints one JSON object per figure on stdout, progress on stderr.\n"
      "Flags may be written with dashes or underscores (--blocklist-size or --blocklist_size).");
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::StrContains(file, "xdp_bench");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  absl::SetFlagsUsageConfig(usage);
  sw::NormalizedArgs normalized(argc, argv);
  absl::ParseCommandLine(normalized.argc(), normalized.argv());
  if (absl::GetFlag(FLAGS_version)) {
    std::cout << "sw-bench-xdp " << SW_VERSION << "\n";
    return 0;
  }
  const uint32_t repeat = absl::GetFlag(FLAGS_repeat);
  const uint32_t rounds = absl::GetFlag(FLAGS_rounds);
  if (repeat == 0 || repeat > std::numeric_limits<int>::max() || rounds == 0) {
    std::cerr << "sw-bench-xdp: --repeat must be within 1..2^31-1 and --rounds at least 1\n";
    return 2;
  }
  if (absl::GetFlag(FLAGS_scale_entries) > (1u << 24)) {
    std::cerr << "sw-bench-xdp: --scale-entries must be at most 16777216\n";
    return 2;
  }
  sw::LogLibbpfToStderr(absl::GetFlag(FLAGS_verbose));
  auto bench = Bench::Create(repeat, rounds);
  if (!bench.ok()) {
    std::cerr << "sw-bench-xdp: " << bench.status().message() << "\n";
    if (bench.status().code() == absl::StatusCode::kPermissionDenied) {
      std::cerr << "sw-bench-xdp: run it as root\n";
    }
    return 1;
  }
  if (absl::Status s = (*bench)->Run(); !s.ok()) {
    std::cerr << "sw-bench-xdp: FAILED: " << s.message() << "\n";
    return 1;
  }
  bench->reset();  // its maps go before the scaled ones are made
  if (const uint32_t n = absl::GetFlag(FLAGS_scale_entries); n > 0) {
    // Room for the benchmark's own entries beside the n.
    auto scaled = Bench::Create(repeat, rounds, n + 1024);
    absl::Status s = scaled.ok() ? (*scaled)->RunScale(n) : scaled.status();
    if (!s.ok()) {
      std::cerr << "sw-bench-xdp: FAILED (scale): " << s.message() << "\n";
      return 1;
    }
  }
  return 0;
}
