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
// With --db postgresql://... it is `tools/bench/run fleet` (bench "fleet"):
// --controllers (2) controllers share that database, the agents are split
// between them (each lists every controller, its own first, and fails over),
// and every figure stands beside the same figure of one controller on SQLite
// measured first in the same run: push latency of a block made through the
// last controller to the agents of the first (each agent's arrival, and until
// every one has it) and to all agents, reports stored per second by both,
// operator blocks per second, and an empty agent resynchronising at the
// first controller against --decisions decisions made through the last one
// with parallel operator Block calls (SQLite's reference decisions are
// written straight into its store, as in the controller bench).
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
#include <functional>
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
ABSL_FLAG(std::string, db, "",
          "A PostgreSQL URL: the fleet bench, --controllers controllers sharing it, beside one "
          "controller on SQLite (default: the controller bench on SQLite)");
ABSL_FLAG(int, controllers, 2, "The fleet bench: controllers sharing the database");
ABSL_FLAG(int, db_pool, 4, "The fleet bench: each controller's --db-pool");
ABSL_FLAG(int, block_threads, 32,
          "The fleet bench: parallel operator Block calls making the decisions");
ABSL_FLAG(double, block_seconds, 1800,
          "The fleet bench: the most time the decisions may take to make");

namespace {

namespace v1 = sipwarden::v1;
using Clock = std::chrono::steady_clock;

std::string g_bench = "controller";  // the figures' "bench"

void Log(const std::string& s) { std::cerr << "bench " << g_bench << ": " << s << std::endl; }

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

void Line(const std::string& metric, double value, const std::string& unit,
          const std::string& baseline, double baseline_value) {
  sw::JsonWriter w;
  w.BeginObject().Field("bench", g_bench).Field("metric", metric).Field("value", value);
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
  // slot: a distinct port for each controller of a run.
  ControllerProcess(const std::string& bin, const std::string& db, int slot = 0,
                    const std::vector<std::string>& extra = {}) {
    port_ = 20000 + static_cast<int>(getpid() % 20000) + slot;
    const std::string listen = absl::StrCat("127.0.0.1:", port_);
    std::vector<std::string> args = {bin, "--listen", listen, "--db", db, "--quiet"};
    args.insert(args.end(), extra.begin(), extra.end());
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
    for (int i = 0; i < 300 && pid_ > 0; ++i) {
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
  uint64_t Version() {
    grpc::ClientContext ctx;
    Name(&ctx);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::StatsResponse s;
    return op_->Stats(&ctx, v1::StatsRequest(), &s).ok() ? s.decision_version() : 0;
  }

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

  void Start(const std::vector<std::string>& addresses, const std::string& name) {
    sw::ControllerClientOptions o;
    o.addresses = addresses;
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

namespace {

Clock::duration Secs(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

// What the agents saw while connected: push latencies and reports stored.
struct LiveResult {
  std::vector<double> agent_first;  // each (block, agent of the first controller): arrival
  std::vector<double> agent_last;   // each (block, agent of the last controller): arrival
  std::vector<double> agent_all;    // each (block, agent): arrival
  std::vector<double> until_first;  // each block: until every agent of the first has it
  std::vector<double> until_all;    // each block: until every agent has it
  size_t agents_first = 0;
  double reports_per_s = 0;
  double rss_idle = 0;    // the largest of the controllers'
  double rss_agents = 0;  // the largest of the controllers', agents streaming
  bool ok = true;
};

// N agents split over the controllers (agent i: controller i % C first, then
// the others, in turn); blocks made through the last controller; then every
// agent streams alarms for report_s. between() runs after the push figure,
// with the agents still connected.
LiveResult RunLive(std::vector<ControllerProcess*> ctls, int n_agents, int n_blocks,
                   double report_s, const std::function<void()>& between) {
  LiveResult r;
  for (auto* c : ctls) r.rss_idle = std::max(r.rss_idle, c->RssMb());
  std::vector<std::unique_ptr<SimAgent>> agents;
  for (int i = 0; i < n_agents; ++i) {
    std::vector<std::string> addresses;
    for (size_t k = 0; k < ctls.size(); ++k) {
      addresses.push_back(ctls[(static_cast<size_t>(i) + k) % ctls.size()]->address());
    }
    agents.push_back(std::make_unique<SimAgent>());
    agents.back()->Start(addresses, absl::StrCat("bench-agent-", i));
  }
  if (!WaitUntil([&] {
        for (auto& a : agents) {
          if (!a->client->stats().connected) return false;
        }
        return true;
      }, 60)) {
    Log("not every agent connected within 60 s");
    r.ok = false;
    return r;
  }
  // Wait for the watches to be open (the first batch, version 0).
  std::this_thread::sleep_for(std::chrono::milliseconds(300 + 2 * n_agents));
  // Which controller each agent is on (as it says).
  std::vector<int> on(agents.size(), -1);
  for (size_t i = 0; i < agents.size(); ++i) {
    const std::string c = agents[i]->client->stats().controller;
    for (size_t k = 0; k < ctls.size(); ++k) {
      if (ctls[k]->address() == c) on[i] = static_cast<int>(k);
    }
    if (on[i] == 0) ++r.agents_first;
  }
  const int last = static_cast<int>(ctls.size()) - 1;

  // ---- push latency ------------------------------------------------------------
  ControllerProcess& maker = *ctls.back();
  Log(absl::StrCat("pushing ", n_blocks, " blocks made at ", maker.address(), " to ", n_agents,
                   " agents (", r.agents_first, " on ", ctls[0]->address(), ")"));
  for (int k = 0; k < n_blocks; ++k) {
    grpc::ClientContext ctx;
    ControllerProcess::Name(&ctx);
    v1::BlockRequest req;
    req.set_prefix(absl::StrCat("198.18.", k / 250, ".", k % 250 + 1));
    req.set_ttl_seconds(600);
    v1::Decision d;
    const auto t0 = Clock::now();
    if (!maker.op().Block(&ctx, req, &d).ok()) {
      Log("a block failed");
      r.ok = false;
      return r;
    }
    const uint64_t v = d.version();
    if (!WaitUntil([&] {
          for (auto& a : agents) {
            if (a->version < v) return false;
          }
          return true;
        }, 10)) {
      Log(absl::StrCat("block ", k, " did not reach every agent within 10 s"));
      r.ok = false;
      break;
    }
    double first_max = 0, all_max = 0;
    for (size_t i = 0; i < agents.size(); ++i) {
      std::lock_guard<std::mutex> lock(agents[i]->mu);
      auto it = agents[i]->arrived.find(v);
      if (it == agents[i]->arrived.end()) continue;
      const double ms = Ms(it->second - t0);
      r.agent_all.push_back(ms);
      all_max = std::max(all_max, ms);
      if (on[i] == 0) {
        r.agent_first.push_back(ms);
        first_max = std::max(first_max, ms);
      }
      if (on[i] == last) r.agent_last.push_back(ms);
    }
    r.until_first.push_back(first_max);
    r.until_all.push_back(all_max);
  }
  if (between) between();

  // ---- reports stored per second ----------------------------------------------
  Log(absl::StrCat(n_agents, " agents stream alarms for ", report_s, " s"));
  uint64_t acked0 = 0;
  for (auto& a : agents) acked0 += a->client->stats().reports_acked;
  std::atomic<bool> go{true};
  std::vector<std::thread> producers;
  const size_t max_per_agent = 2000000 / static_cast<size_t>(n_agents) + 1;
  for (auto& a : agents) {
    producers.emplace_back([&, a = a.get()] {
      v1::AgentReport rep;
      auto* al = rep.mutable_alarm();
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
        a->client->Report(rep);
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
  r.reports_per_s = static_cast<double>(acked1 - acked0) / secs;
  for (auto* c : ctls) r.rss_agents = std::max(r.rss_agents, c->RssMb());
  for (auto& a : agents) a->client->Stop();
  return r;
}

// Operator Block calls from `threads` clients in parallel: hosts 10.0.0.0/8
// from `first` on, until n are made or `seconds` pass. Returns how many were
// made, how long they took and the highest version given.
struct Made {
  uint64_t made = 0;
  double seconds = 0;
  uint64_t version = 0;
  bool failed = false;
};
Made MakeBlocks(ControllerProcess& ctl, int n, int threads, double seconds) {
  Made m;
  std::atomic<int> next{0};
  std::atomic<uint64_t> made{0}, version{0};
  std::atomic<bool> failed{false};
  const auto t0 = Clock::now();
  const auto until = t0 + Secs(seconds);
  std::atomic<int64_t> last_log{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < threads; ++w) {
    workers.emplace_back([&] {
      auto stub = v1::OperatorService::NewStub(
          grpc::CreateChannel(ctl.address(), grpc::InsecureChannelCredentials()));
      for (int i = next++; i < n && !failed && Clock::now() < until; i = next++) {
        const uint32_t a = 0x0A000000u + static_cast<uint32_t>(i);  // 10.0.0.0/8 hosts
        grpc::ClientContext ctx;
        ControllerProcess::Name(&ctx);
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
        v1::BlockRequest req;
        req.set_prefix(absl::StrCat(a >> 24, ".", (a >> 16) & 255, ".", (a >> 8) & 255, ".",
                                    a & 255, "/32"));
        req.set_ttl_seconds(3600);
        req.set_reason("scan");
        v1::Decision d;
        if (auto st = stub->Block(&ctx, req, &d); !st.ok()) {
          Log("a block failed: " + st.error_message());
          failed = true;
          return;
        }
        uint64_t v = version.load();
        while (d.version() > v && !version.compare_exchange_weak(v, d.version())) {
        }
        const uint64_t k = ++made;
        const auto s = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - t0).count();
        int64_t l = last_log.load();
        if (s >= l + 10 && last_log.compare_exchange_strong(l, s)) {
          Log(absl::StrCat("  ", k, " blocks made"));
        }
      }
    });
  }
  for (auto& t : workers) t.join();
  m.made = made;
  m.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  m.version = version;
  m.failed = failed;
  return m;
}

// Writes n block decisions (hosts of 10.0.0.0/8) straight into a SQLite
// store, versions 1..n.
absl::Status FillSqlite(const std::string& db, int n) {
  auto store = sw::controller::SqliteStore::Open(db);
  if (!store.ok()) return store.status();
  std::vector<sw::controller::StoredChange> changes;
  changes.reserve(static_cast<size_t>(n));
  const int64_t now = absl::ToUnixNanos(absl::Now());
  for (int i = 0; i < n; ++i) {
    v1::Decision d;
    const uint32_t a = 0x0A000000u + static_cast<uint32_t>(i);  // 10.0.0.0/8 hosts
    d.set_prefix(
        absl::StrCat(a >> 24, ".", (a >> 16) & 255, ".", (a >> 8) & 255, ".", a & 255, "/32"));
    d.set_action(v1::ACTION_BLOCK);
    d.set_origin(v1::ORIGIN_AGENT);
    d.set_reason("scan");
    d.set_source("bench");
    d.set_created_unix_ns(now);
    d.set_expires_unix_ns(now + 3600LL * 1000000000LL);
    d.set_version(static_cast<uint64_t>(i + 1));
    changes.push_back({false, std::move(d)});
  }
  return (*store)->ApplyDecisions(changes, static_cast<uint64_t>(n));
}

// An empty agent attaching to ctl until it holds version `version` and at
// least n decisions.
struct Resynced {
  double seconds = 0;
  uint64_t decisions = 0;
  double rss = 0;
  bool ok = false;
};
Resynced ResyncFresh(ControllerProcess& ctl, uint64_t version, uint64_t n) {
  Resynced r;
  SimAgent fresh;
  const auto t0 = Clock::now();
  fresh.Start({ctl.address()}, "bench-fresh");
  const bool done = WaitUntil([&] { return fresh.version >= version; }, 120);
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  r.decisions = fresh.decisions;
  r.ok = done && r.decisions >= n;
  r.rss = ctl.RssMb();
  fresh.client->Stop();
  return r;
}

}  // namespace

// The controller bench: one controller on SQLite, its own references.
int ControllerBench(const std::string& bin, const std::string& dir, int n_agents, int n_blocks,
                    double report_s, int n_decisions, double poll_s) {
  int rc = 0;
  {
    ControllerProcess ctl(bin, dir + "/fleet.db");
    if (!ctl.WaitReady()) {
      Log("the controller did not start (" + bin + ")");
      return 1;
    }
    Log(absl::StrCat("controller up at ", ctl.address(), "; starting ", n_agents, " agents"));
    // The reference: the same controller polled with ListDecisions every
    // poll_s by as many clients, each at a random phase; one block; when
    // does each see it?
    std::vector<double> poll_lat(static_cast<size_t>(n_agents), -1);
    auto poll_reference = [&] {
      Log(absl::StrCat("reference: ", n_agents, " clients polling every ", poll_s, " s"));
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
          auto next = start + Secs(ph);
          // Bounded: at most two intervals after the block.
          for (int round = 0; round < 4; ++round) {
            std::this_thread::sleep_until(next);
            next += Secs(poll_s);
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
    };
    LiveResult live = RunLive({&ctl}, n_agents, n_blocks, report_s, poll_reference);
    if (!live.ok && live.agent_all.empty()) return 1;
    if (!live.ok) rc = 1;
    const auto& lat = live.agent_all;
    poll_lat.erase(std::remove(poll_lat.begin(), poll_lat.end(), -1.0), poll_lat.end());
    Line("push_latency_p50_ms", Percentile(lat, 0.5), "ms", "poll_every_interval_p50_ms",
         Percentile(poll_lat, 0.5));
    Line("push_latency_p99_ms", Percentile(lat, 0.99), "ms", "poll_every_interval_p99_ms",
         Percentile(poll_lat, 0.99));
    Line("push_latency_max_ms", lat.empty() ? 0 : *std::max_element(lat.begin(), lat.end()), "ms",
         "poll_every_interval_max_ms",
         poll_lat.empty() ? 0 : *std::max_element(poll_lat.begin(), poll_lat.end()));
    Line("push_agents", n_agents, "agents", "poll_clients", static_cast<double>(poll_lat.size()));

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
        while (Clock::now() - t0 < Secs(std::min(report_s, 2.0)) && n < 1000000) {
          r.set_id(++n);
          if (!(*store)->StoreReports("reference", {r}, &dup).ok()) break;
        }
        per_txn = static_cast<double>(n) / std::chrono::duration<double>(Clock::now() - t0).count();
      }
    }
    Line("reports_stored_per_s", live.reports_per_s, "reports/s",
         "sqlite_one_transaction_per_report", per_txn);
    Line("controller_rss_agents_mb", live.rss_agents, "MB", "controller_rss_idle_mb", live.rss_idle);
  }

  // ---- resynchronising against many decisions --------------------------------------
  Log(absl::StrCat("storing ", n_decisions, " decisions"));
  const std::string db = dir + "/resync.db";
  if (auto st = FillSqlite(db, n_decisions); !st.ok()) {
    Log(std::string(st.message()));
    return 1;
  }
  ControllerProcess ctl(bin, db);
  if (!ctl.WaitReady()) {
    Log("the controller did not start on the large database");
    return 1;
  }
  Log("an empty agent resynchronises");
  const Resynced rs = ResyncFresh(ctl, static_cast<uint64_t>(n_decisions),
                                  static_cast<uint64_t>(n_decisions));
  if (!rs.ok) {
    Log(absl::StrCat("resync incomplete: ", rs.decisions, " decisions"));
    rc = 1;
  }
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
  Line("resync_seconds", rs.seconds, "s", "list_decisions_paging_seconds", pull_s);
  Line("resync_decisions", n_decisions, "decisions", "list_decisions_pulled",
       static_cast<double>(pulled));
  Line("controller_rss_decisions_mb", rs.rss, "MB", "decisions", n_decisions);
  return rc;
}

// The fleet bench: n_ctl controllers on one PostgreSQL database, each figure
// beside one controller on SQLite measured first.
int FleetBench(const std::string& bin, const std::string& dir, const std::string& url, int n_ctl,
               int n_agents, int n_blocks, double report_s, int n_decisions) {
  g_bench = "fleet";
  const int threads = std::clamp(absl::GetFlag(FLAGS_block_threads), 1, 256);
  const double block_s = std::clamp(absl::GetFlag(FLAGS_block_seconds), 1.0, 3600.0);
  int rc = 0;
  // ---- the reference: one controller on SQLite ---------------------------------
  LiveResult ref;
  Made ref_made;
  Resynced ref_rs;
  {
    Log(absl::StrCat("reference: one controller on SQLite, ", n_agents, " agents"));
    ControllerProcess ctl(bin, dir + "/fleet.db", 0);
    if (!ctl.WaitReady()) {
      Log("the controller did not start (" + bin + ")");
      return 1;
    }
    ref = RunLive({&ctl}, n_agents, n_blocks, report_s, nullptr);
    if (!ref.ok) return 1;
    Log(absl::StrCat("reference: operator blocks from ", threads, " clients for at most 3 s"));
    ref_made = MakeBlocks(ctl, n_decisions, threads, 3);
  }
  {
    Log(absl::StrCat("reference: storing ", n_decisions, " decisions in SQLite"));
    const std::string db = dir + "/resync.db";
    if (auto st = FillSqlite(db, n_decisions); !st.ok()) {
      Log(std::string(st.message()));
      return 1;
    }
    ControllerProcess ctl(bin, db, 1);
    if (!ctl.WaitReady()) {
      Log("the controller did not start on the large database");
      return 1;
    }
    Log("reference: an empty agent resynchronises");
    ref_rs = ResyncFresh(ctl, static_cast<uint64_t>(n_decisions), static_cast<uint64_t>(n_decisions));
    if (!ref_rs.ok) {
      Log(absl::StrCat("reference resync incomplete: ", ref_rs.decisions, " decisions"));
      return 1;
    }
  }

  // ---- the fleet: n_ctl controllers on PostgreSQL --------------------------------
  const std::vector<std::string> extra = {"--db-pool",
                                          absl::StrCat(std::clamp(absl::GetFlag(FLAGS_db_pool), 1, 256))};
  std::vector<std::unique_ptr<ControllerProcess>> procs;
  std::vector<ControllerProcess*> ctls;
  for (int k = 0; k < n_ctl; ++k) {
    procs.push_back(std::make_unique<ControllerProcess>(bin, url, 2 + k, extra));
    ctls.push_back(procs.back().get());
  }
  for (auto* c : ctls) {
    if (!c->WaitReady()) {
      Log("a controller did not start on PostgreSQL (" + c->address() + ")");
      return 1;
    }
  }
  Log(absl::StrCat(n_ctl, " controllers on PostgreSQL; ", n_agents, " agents split between them"));
  LiveResult pg = RunLive(ctls, n_agents, n_blocks, report_s, nullptr);
  if (!pg.ok) return 1;

  Log(absl::StrCat("making ", n_decisions, " decisions through ", ctls.back()->address(), " with ",
                   threads, " parallel operator Block calls"));
  const Made made = MakeBlocks(*ctls.back(), n_decisions, threads, block_s);
  if (made.failed || made.made != static_cast<uint64_t>(n_decisions)) {
    Log(absl::StrCat("only ", made.made, " of ", n_decisions, " blocks made in ", made.seconds,
                     " s"));
    return 1;
  }
  // Until the first controller has followed the log up to the last block.
  const auto f0 = Clock::now();
  if (!WaitUntil([&] { return ctls[0]->Version() >= made.version; }, 120)) {
    Log("the first controller did not catch up within 120 s");
    return 1;
  }
  const double follow_s = std::chrono::duration<double>(Clock::now() - f0).count();
  Log(absl::StrCat("an empty agent resynchronises at ", ctls[0]->address()));
  const Resynced rs = ResyncFresh(*ctls[0], made.version, static_cast<uint64_t>(n_decisions));
  if (!rs.ok) {
    Log(absl::StrCat("resync incomplete: ", rs.decisions, " decisions"));
    rc = 1;
  }

  const std::string ref_name = "sqlite_one_controller_";
  auto P = [](const std::vector<double>& v, double p) { return Percentile(v, p); };
  Line("push_ctl1_agent_p50_ms", P(pg.agent_first, 0.5), "ms", ref_name + "push_agent_p50_ms",
       P(ref.agent_all, 0.5));
  Line("push_ctl1_agent_p99_ms", P(pg.agent_first, 0.99), "ms", ref_name + "push_agent_p99_ms",
       P(ref.agent_all, 0.99));
  Line("push_ctl1_every_agent_p50_ms", P(pg.until_first, 0.5), "ms",
       ref_name + "push_every_agent_p50_ms", P(ref.until_all, 0.5));
  Line("push_ctl1_every_agent_p99_ms", P(pg.until_first, 0.99), "ms",
       ref_name + "push_every_agent_p99_ms", P(ref.until_all, 0.99));
  Line("push_all_every_agent_p50_ms", P(pg.until_all, 0.5), "ms",
       ref_name + "push_every_agent_p50_ms", P(ref.until_all, 0.5));
  Line("push_all_every_agent_p99_ms", P(pg.until_all, 0.99), "ms",
       ref_name + "push_every_agent_p99_ms", P(ref.until_all, 0.99));
  Line("push_same_ctl_agent_p50_ms", P(pg.agent_last, 0.5), "ms", ref_name + "push_agent_p50_ms",
       P(ref.agent_all, 0.5));
  Line("agents", n_agents, "agents", "agents_on_ctl1", static_cast<double>(pg.agents_first));
  Line("reports_stored_per_s", pg.reports_per_s, "reports/s", ref_name + "reports_stored_per_s",
       ref.reports_per_s);
  Line("controller_rss_agents_mb", pg.rss_agents, "MB", ref_name + "rss_agents_mb",
       ref.rss_agents);
  Line("operator_blocks_per_s", static_cast<double>(made.made) / made.seconds, "blocks/s",
       ref_name + "operator_blocks_per_s",
       ref_made.seconds > 0 ? static_cast<double>(ref_made.made) / ref_made.seconds : 0);
  Line("ctl1_follow_after_blocks_s", follow_s, "s", "blocks_made_seconds", made.seconds);
  Line("resync_seconds", rs.seconds, "s", ref_name + "resync_seconds", ref_rs.seconds);
  Line("resync_decisions", static_cast<double>(rs.decisions), "decisions",
       ref_name + "resync_decisions", static_cast<double>(ref_rs.decisions));
  Line("controller_rss_decisions_mb", rs.rss, "MB", ref_name + "rss_decisions_mb", ref_rs.rss);
  return rc;
}

int main(int argc, char** argv) {
  sw::SetUsage(
      "sw-bench-controller: the controller under N simulated agents; JSON lines on stdout.\n"
      "  sw-bench-controller [--agents 100] [--blocks 20] [--report-seconds 5]\n"
      "                      [--decisions 300000] [--poll-seconds 10] [--controller BIN]\n"
      "  sw-bench-controller --db postgresql://... [--controllers 2] [--db-pool 4]\n"
      "                      [--block-threads 32] [--block-seconds 1800] [...]   the fleet bench");
  sw::NormalizedArgs normalized(argc, argv);
  absl::ParseCommandLine(normalized.argc(), normalized.argv());
  const int n_agents = std::clamp(absl::GetFlag(FLAGS_agents), 1, 5000);
  const int n_blocks = std::clamp(absl::GetFlag(FLAGS_blocks), 1, 1000);
  const double report_s = std::clamp(absl::GetFlag(FLAGS_report_seconds), 0.2, 120.0);
  const int n_decisions = std::clamp(absl::GetFlag(FLAGS_decisions), 1, 5000000);
  const double poll_s = std::clamp(absl::GetFlag(FLAGS_poll_seconds), 0.1, 60.0);
  const std::string url = absl::GetFlag(FLAGS_db);
  const int n_ctl = std::clamp(absl::GetFlag(FLAGS_controllers), 1, 8);
  if (!url.empty() && !url.starts_with("postgresql://") && !url.starts_with("postgres://")) {
    Log("--db takes a PostgreSQL URL (postgresql://...)");
    return 2;
  }
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
  const int rc = url.empty()
                     ? ControllerBench(bin, dir, n_agents, n_blocks, report_s, n_decisions, poll_s)
                     : FleetBench(bin, dir, url, n_ctl, n_agents, n_blocks, report_s, n_decisions);
  Log(rc == 0 ? "done" : "done with errors");
  return rc;
}
