// SPDX-License-Identifier: BSD-2-Clause
// sw-bench-controller: the fleet's controller under N simulated agents, each
// a real ControllerClient (the agent's own) holding a decision watch and
// streaming reports to a real sipwarden-controller process on loopback.
// Every figure beside a reference measured in the same run:
//   - push latency of one block to all N agents (p50, p99, max) beside the
//     same controller polled every --poll-seconds (CrowdSec's bouncers poll
//     every 10 s);
//   - reports stored per second beside SQLite storing each report in its
//     own transaction (what the controller would do without group commit);
//   - resynchronising an agent that holds nothing against --decisions
//     decisions (a paged snapshot on the watch stream) beside paging through
//     them with ListDecisions (a pull client);
//   - the controller's RSS with N agents connected beside its RSS idle.
// Progress on stderr, one JSON line per figure on stdout. Every loop is
// bounded in count and time; all traffic stays on 127.0.0.1.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "controller_client.h"
#include "sipwarden/cli.h"
#include "sipwarden/json.h"
#include "sipwarden/v1/operator.grpc.pb.h"
#include "sqlite_store.h"

ABSL_FLAG(int, agents, 100, "Simulated agents (each a watch stream and a report stream)");
ABSL_FLAG(int, blocks, 20, "Blocks pushed for the latency figure");
ABSL_FLAG(double, report_seconds, 5, "How long the agents stream reports");
ABSL_FLAG(int, decisions, 300000, "Decisions an empty agent resynchronises against");
ABSL_FLAG(double, poll_seconds, 10, "The polling reference's interval (CrowdSec: 10 s)");
ABSL_FLAG(std::string, controller, "",
          "sipwarden-controller binary (default: next to this one)");

namespace {

namespace v1 = sipwarden::v1;
using Clock = std::chrono::steady_clock;

void Log(const std::string& s) { std::cerr << "bench controller: " << s << std::endl; }

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

void Line(const std::string& metric, double value, const std::string& unit,
          const std::string& baseline, double baseline_value) {
  sw::JsonWriter w;
  w.BeginObject().Field("bench", "controller").Field("metric", metric).Field("value", value);
  w.Field("unit", unit).Field("baseline", baseline).Field("baseline_value", baseline_value);
  w.Field("ratio", baseline_value != 0 ? value / baseline_value
                                       : std::numeric_limits<double>::quiet_NaN());
  w.EndObject();
  std::cout << w.str() << std::endl;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(std::ceil(p * v.size())) - (p > 0));
  return v[i];
}

// A controller process on a free loopback port.
class ControllerProcess {
 public:
  ControllerProcess(const std::string& bin, const std::string& db) {
    port_ = 20000 + static_cast<int>(getpid() % 20000);
    const std::string listen = absl::StrCat("127.0.0.1:", port_);
    std::vector<std::string> args = {bin, "--listen", listen, "--db", db, "--quiet"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, bin.c_str(), nullptr, nullptr, argv.data(), environ) != 0) pid_ = -1;
    address_ = listen;
    op_ = v1::OperatorService::NewStub(
        grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
  }
  ~ControllerProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int st;
      waitpid(pid_, &st, 0);
    }
  }
  bool WaitReady() {
    for (int i = 0; i < 100 && pid_ > 0; ++i) {
      grpc::ClientContext ctx;
      Name(&ctx);
      v1::StatsResponse s;
      if (op_->Stats(&ctx, v1::StatsRequest(), &s).ok()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }
  static void Name(grpc::ClientContext* ctx) { ctx->AddMetadata("sw-name", "bench"); }
  double RssMb() const {
    std::ifstream in(absl::StrCat("/proc/", pid_, "/status"));
    std::string line;
    while (std::getline(in, line)) {
      if (line.starts_with("VmRSS:")) return std::strtod(line.c_str() + 6, nullptr) / 1024.0;
    }
    return 0;
  }
  const std::string& address() const { return address_; }
  v1::OperatorService::Stub& op() { return *op_; }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string address_;
  std::unique_ptr<v1::OperatorService::Stub> op_;
};

// One simulated agent: the real client, with a sink that notes when each
// decision version arrived.
struct SimAgent {
  std::mutex mu;
  std::map<uint64_t, Clock::time_point> arrived;  // version -> when
  std::atomic<uint64_t> version{0};
  std::atomic<uint64_t> decisions{0};
  std::unique_ptr<sw::ControllerClient> client;

  void Start(const std::string& address, const std::string& name) {
    sw::ControllerClientOptions o;
    o.addresses = {address};
    o.name = name;
    o.hostname = name;
    o.version = "bench";
    o.max_buffered_reports = 1 << 20;
    client = std::make_unique<sw::ControllerClient>(o, [this](const v1::DecisionBatch& b) {
      const auto now = Clock::now();
      decisions += static_cast<uint64_t>(b.changes_size());
      if (b.snapshot() && !b.snapshot_done()) return;
      std::lock_guard<std::mutex> lock(mu);
      for (const auto& c : b.changes()) arrived.emplace(c.version(), now);
      version = b.version();
    });
    client->Start();
  }
};

template <typename F>
bool WaitUntil(F f, double seconds) {
  const auto until = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < until) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return f();
}

}  // namespace

int main(int argc, char** argv) {
  sw::SetUsage(
      "sw-bench-controller: the controller under N simulated agents; JSON lines on stdout.\n"
      "  sw-bench-controller [--agents 100] [--blocks 20] [--report-seconds 5]\n"
      "                      [--decisions 300000] [--poll-seconds 10] [--controller BIN]");
  sw::NormalizedArgs normalized(argc, argv);
  absl::ParseCommandLine(normalized.argc(), normalized.argv());
  const int n_agents = std::clamp(absl::GetFlag(FLAGS_agents), 1, 5000);
  const int n_blocks = std::clamp(absl::GetFlag(FLAGS_blocks), 1, 1000);
  const double report_s = std::clamp(absl::GetFlag(FLAGS_report_seconds), 0.2, 120.0);
  const int n_decisions = std::clamp(absl::GetFlag(FLAGS_decisions), 1, 5000000);
  const double poll_s = std::clamp(absl::GetFlag(FLAGS_poll_seconds), 0.1, 60.0);
  std::string bin = absl::GetFlag(FLAGS_controller);
  if (bin.empty()) {
    bin = (std::filesystem::read_symlink("/proc/self/exe").parent_path() / "sipwarden-controller")
              .string();
  }
  char tmpl[] = "/tmp/sw-bench-controller.XXXXXX";
  const std::string dir = mkdtemp(tmpl) ? tmpl : "";
  if (dir.empty()) {
    Log("cannot make a temporary directory");
    return 1;
  }
  struct Cleanup {
    std::string d;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(d, ec);
    }
  } cleanup{dir};

  int rc = 0;
  {
    ControllerProcess ctl(bin, dir + "/fleet.db");
    if (!ctl.WaitReady()) {
      Log("the controller did not start (" + bin + ")");
      return 1;
    }
    const double idle_rss = ctl.RssMb();
    Log(absl::StrCat("controller up at ", ctl.address(), "; starting ", n_agents, " agents"));
    std::vector<std::unique_ptr<SimAgent>> agents;
    for (int i = 0; i < n_agents; ++i) {
      agents.push_back(std::make_unique<SimAgent>());
      agents.back()->Start(ctl.address(), absl::StrCat("bench-agent-", i));
    }
    if (!WaitUntil([&] {
          for (auto& a : agents) {
            if (!a->client->stats().connected) return false;
          }
          return true;
        }, 30)) {
      Log("not every agent connected within 30 s");
      return 1;
    }
    // Wait for the watches to be open (the first batch, version 0).
    std::this_thread::sleep_for(std::chrono::milliseconds(300));

    // ---- push latency ------------------------------------------------------------
    Log(absl::StrCat("pushing ", n_blocks, " blocks to ", n_agents, " agents"));
    std::vector<double> lat;
    for (int k = 0; k < n_blocks; ++k) {
      grpc::ClientContext ctx;
      ControllerProcess::Name(&ctx);
      v1::BlockRequest req;
      req.set_prefix(absl::StrCat("198.18.", k / 250, ".", k % 250 + 1));
      req.set_ttl_seconds(600);
      v1::Decision d;
      const auto t0 = Clock::now();
      if (!ctl.op().Block(&ctx, req, &d).ok()) {
        Log("a block failed");
        return 1;
      }
      const uint64_t v = d.version();
      if (!WaitUntil([&] {
            for (auto& a : agents) {
              if (a->version < v) return false;
            }
            return true;
          }, 10)) {
        Log(absl::StrCat("block ", k, " did not reach every agent within 10 s"));
        rc = 1;
        break;
      }
      for (auto& a : agents) {
        std::lock_guard<std::mutex> lock(a->mu);
        auto it = a->arrived.find(v);
        if (it != a->arrived.end()) lat.push_back(Ms(it->second - t0));
      }
    }
    // The reference: the same controller polled with ListDecisions every
    // poll_s by as many clients, each at a random phase; one block; when
    // does each see it?
    Log(absl::StrCat("reference: ", n_agents, " clients polling every ", poll_s, " s"));
    std::vector<double> poll_lat(static_cast<size_t>(n_agents), -1);
    {
      const std::string target = "198.19.0.1/32";
      std::atomic<bool> blocked{false};
      Clock::time_point t_block;
      std::vector<std::thread> pollers;
      std::mt19937_64 rng(42);
      std::uniform_real_distribution<double> phase(0, poll_s);
      const auto start = Clock::now();
      for (int i = 0; i < n_agents; ++i) {
        const double ph = phase(rng);
        pollers.emplace_back([&, i, ph] {
          auto stub = v1::OperatorService::NewStub(
              grpc::CreateChannel(ctl.address(), grpc::InsecureChannelCredentials()));
          auto next = start + std::chrono::duration_cast<Clock::duration>(
                                  std::chrono::duration<double>(ph));
          // Bounded: at most two intervals after the block.
          for (int round = 0; round < 4; ++round) {
            std::this_thread::sleep_until(next);
            next += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(poll_s));
            grpc::ClientContext ctx;
            ControllerProcess::Name(&ctx);
            v1::ListDecisionsRequest req;
            req.set_within(target);
            v1::ListDecisionsResponse resp;
            if (!stub->ListDecisions(&ctx, req, &resp).ok()) continue;
            if (blocked && resp.decisions_size() > 0) {
              poll_lat[static_cast<size_t>(i)] = Ms(Clock::now() - t_block);
              return;
            }
          }
        });
      }
      // The block lands at a random point of every poller's cycle.
      std::this_thread::sleep_for(std::chrono::duration<double>(poll_s * 1.2));
      grpc::ClientContext ctx;
      ControllerProcess::Name(&ctx);
      v1::BlockRequest req;
      req.set_prefix(target);
      req.set_ttl_seconds(600);
      v1::Decision d;
      t_block = Clock::now();
      blocked = true;
      (void)ctl.op().Block(&ctx, req, &d);
      for (auto& t : pollers) t.join();
    }
    poll_lat.erase(std::remove(poll_lat.begin(), poll_lat.end(), -1.0), poll_lat.end());
    Line("push_latency_p50_ms", Percentile(lat, 0.5), "ms", "poll_every_interval_p50_ms",
         Percentile(poll_lat, 0.5));
    Line("push_latency_p99_ms", Percentile(lat, 0.99), "ms", "poll_every_interval_p99_ms",
         Percentile(poll_lat, 0.99));
    Line("push_latency_max_ms", lat.empty() ? 0 : *std::max_element(lat.begin(), lat.end()), "ms",
         "poll_every_interval_max_ms",
         poll_lat.empty() ? 0 : *std::max_element(poll_lat.begin(), poll_lat.end()));
    Line("push_agents", n_agents, "agents", "poll_clients", static_cast<double>(poll_lat.size()));

    // ---- reports stored per second ----------------------------------------------
    Log(absl::StrCat(n_agents, " agents stream alarms for ", report_s, " s"));
    uint64_t acked0 = 0;
    for (auto& a : agents) acked0 += a->client->stats().reports_acked;
    std::atomic<bool> go{true};
    std::vector<std::thread> producers;
    const size_t max_per_agent = 2000000 / static_cast<size_t>(n_agents) + 1;
    for (auto& a : agents) {
      producers.emplace_back([&, a = a.get()] {
        v1::AgentReport r;
        auto* al = r.mutable_alarm();
        al->set_category("flood");
        al->set_rule("invite-flood-source");
        al->set_severity(1);
        al->set_src_ip("198.51.100.7");
        al->set_signature("INVITE flood from 198.51.100.7: 51 INVITEs in 10 s");
        al->set_json(R"({"event_type":"alert","src_ip":"198.51.100.7","alert":{"category":"flood"}})");
        for (size_t i = 0; i < max_per_agent && go; ++i) {
          // Stay a bounded distance ahead of what is acknowledged.
          while (go && a->client->stats().reports_buffered > 20000) {
            std::this_thread::sleep_for(std::chrono::microseconds(200));
          }
          a->client->Report(r);
        }
      });
    }
    const auto r0 = Clock::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(report_s));
    uint64_t acked1 = 0;
    for (auto& a : agents) acked1 += a->client->stats().reports_acked;
    const double secs = std::chrono::duration<double>(Clock::now() - r0).count();
    go = false;
    for (auto& t : producers) t.join();
    const double reports_per_s = static_cast<double>(acked1 - acked0) / secs;
    const double rss_agents = ctl.RssMb();

    // Reference: SQLite storing each report in its own transaction, same schema.
    double per_txn = 0;
    {
      auto store = sw::controller::SqliteStore::Open(dir + "/reference.db");
      if (store.ok()) {
        v1::AgentReport r;
        r.mutable_alarm()->set_category("flood");
        r.mutable_alarm()->set_src_ip("198.51.100.7");
        uint64_t n = 0, dup = 0;
        const auto t0 = Clock::now();
        while (Clock::now() - t0 < std::chrono::duration<double>(std::min(report_s, 2.0)) &&
               n < 1000000) {
          r.set_id(++n);
          if (!(*store)->StoreReports("reference", {r}, &dup).ok()) break;
        }
        per_txn = static_cast<double>(n) / std::chrono::duration<double>(Clock::now() - t0).count();
      }
    }
    Line("reports_stored_per_s", reports_per_s, "reports/s", "sqlite_one_transaction_per_report",
         per_txn);
    Line("controller_rss_agents_mb", rss_agents, "MB", "controller_rss_idle_mb", idle_rss);
    for (auto& a : agents) a->client->Stop();
  }

  // ---- resynchronising against many decisions --------------------------------------
  {
    Log(absl::StrCat("storing ", n_decisions, " decisions"));
    const std::string db = dir + "/resync.db";
    {
      auto store = sw::controller::SqliteStore::Open(db);
      if (!store.ok()) {
        Log(std::string(store.status().message()));
        return 1;
      }
      std::vector<sw::controller::StoredChange> changes;
      changes.reserve(static_cast<size_t>(n_decisions));
      const int64_t now = absl::ToUnixNanos(absl::Now());
      for (int i = 0; i < n_decisions; ++i) {
        v1::Decision d;
        const uint32_t a = 0x0A000000u + static_cast<uint32_t>(i);  // 10.0.0.0/8 hosts
        d.set_prefix(absl::StrCat(a >> 24, ".", (a >> 16) & 255, ".", (a >> 8) & 255, ".", a & 255,
                                  "/32"));
        d.set_action(v1::ACTION_BLOCK);
        d.set_origin(v1::ORIGIN_AGENT);
        d.set_reason("scan");
        d.set_source("bench");
        d.set_created_unix_ns(now);
        d.set_expires_unix_ns(now + 3600LL * 1000000000LL);
        d.set_version(static_cast<uint64_t>(i + 1));
        changes.push_back({false, std::move(d)});
      }
      if (auto st = (*store)->ApplyDecisions(changes, static_cast<uint64_t>(n_decisions)); !st.ok()) {
        Log(std::string(st.message()));
        return 1;
      }
    }
    ControllerProcess ctl(bin, db);
    if (!ctl.WaitReady()) {
      Log("the controller did not start on the large database");
      return 1;
    }
    Log("an empty agent resynchronises");
    SimAgent fresh;
    const auto t0 = Clock::now();
    fresh.Start(ctl.address(), "bench-fresh");
    const bool done = WaitUntil([&] { return fresh.version >= static_cast<uint64_t>(n_decisions); }, 120);
    const double resync_s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (!done || fresh.decisions < static_cast<uint64_t>(n_decisions)) {
      Log(absl::StrCat("resync incomplete: ", fresh.decisions.load(), " decisions"));
      rc = 1;
    }
    const double rss_big = ctl.RssMb();
    fresh.client->Stop();
    // Reference: a pull client, from its first connection, paging through
    // them with ListDecisions.
    const auto p0 = Clock::now();
    auto pull = v1::OperatorService::NewStub(
        grpc::CreateChannel(ctl.address(), grpc::InsecureChannelCredentials()));
    std::string token;
    uint64_t pulled = 0;
    for (int page = 0; page < 10000; ++page) {
      grpc::ClientContext ctx;
      ControllerProcess::Name(&ctx);
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
      v1::ListDecisionsRequest req;
      req.set_page_token(token);
      v1::ListDecisionsResponse resp;
      if (!pull->ListDecisions(&ctx, req, &resp).ok()) break;
      pulled += static_cast<uint64_t>(resp.decisions_size());
      token = resp.next_page_token();
      if (token.empty()) break;
    }
    const double pull_s = std::chrono::duration<double>(Clock::now() - p0).count();
    if (pulled != static_cast<uint64_t>(n_decisions)) {
      Log(absl::StrCat("the paging reference got ", pulled, " decisions"));
    }
    Line("resync_seconds", resync_s, "s", "list_decisions_paging_seconds", pull_s);
    Line("resync_decisions", n_decisions, "decisions", "list_decisions_pulled",
         static_cast<double>(pulled));
    Line("controller_rss_decisions_mb", rss_big, "MB", "decisions", n_decisions);
  }
  Log(rc == 0 ? "done" : "done with errors");
  return rc;
}
