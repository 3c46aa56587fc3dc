// SPDX-License-Identifier: BSD-2-Clause
// The agent's push of fleet graylists into Kamailio's htable: against a
// stand-in for jsonrpcs' datagram socket (every request seen, answers and
// silence chosen by the test), and against a real Kamailio when one is
// installed (its htable read back, a restart rewrites it).
#include "kamailio_graylist.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/json_util.h"

namespace sw {
namespace {

namespace pb = google::protobuf;
constexpr int64_t kSec = 1'000'000'000;

std::string TempDir() {
  std::string t = (std::filesystem::temp_directory_path() / "sw-kamrpc-XXXXXX").string();
  EXPECT_NE(mkdtemp(t.data()), nullptr);
  return t;
}

// Kamailio's jsonrpcs datagram transport as far as the agent uses it.
class FakeKamailio {
 public:
  explicit FakeKamailio(std::string path) : path_(std::move(path)) { Listen(); }
  ~FakeKamailio() { Close(); }

  void Listen() {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a = {};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof(a.sun_path), "%s", path_.c_str());
    unlink(path_.c_str());
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0) << path_;
    timeval tv = {0, 20000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    stop_ = false;
    thread_ = std::thread([this] { Serve(); });
  }
  void Close() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    unlink(path_.c_str());
  }

  struct Entry {
    int64_t value = 0, ttl = 0;
  };
  std::map<std::string, Entry> table() {
    std::lock_guard<std::mutex> l(mu_);
    return table_;
  }
  std::vector<std::string> methods() {
    std::lock_guard<std::mutex> l(mu_);
    return methods_;
  }
  void ClearMethods() {
    std::lock_guard<std::mutex> l(mu_);
    methods_.clear();
  }
  void set_up_since(std::string s) {
    std::lock_guard<std::mutex> l(mu_);
    up_since_ = std::move(s);
  }
  std::atomic<bool> silent{false};    // answers nothing
  std::atomic<bool> no_table{false};  // htable.listTables lacks "graylist"
  std::atomic<int> delay_ms{0};       // before each answer

 private:
  void Serve() {
    char buf[65536];
    while (!stop_) {
      sockaddr_un from = {};
      socklen_t fromlen = sizeof(from);
      const ssize_t n =
          recvfrom(fd_, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &fromlen);
      if (n <= 0) continue;
      pb::Struct req;
      ASSERT_TRUE(pb::util::JsonStringToMessage(std::string(buf, n), &req).ok());
      const auto& f = req.fields();
      const std::string method = f.at("method").string_value();
      std::vector<pb::Value> p;
      if (f.contains("params")) {
        for (const auto& v : f.at("params").list_value().values()) p.push_back(v);
      }
      std::string result;
      {
        std::lock_guard<std::mutex> l(mu_);
        methods_.push_back(method);
        if (method == "core.uptime") {
          result =
              absl::StrCat(R"("result":{"now":"x","up_since":")", up_since_, R"(","uptime":1})");
        } else if (method == "htable.listTables") {
          result = no_table ? R"("result":[{"name":"other"}])"
                            : R"("result":[{"name":"other"},{"name":"graylist","dbtable":""}])";
        } else if (method == "htable.flush") {
          table_.clear();
          result = R"("result":"Ok. Htable flushed.")";
        } else if (method == "htable.setxi") {
          table_[p[1].string_value()] = {static_cast<int64_t>(p[2].number_value()),
                                         static_cast<int64_t>(p[3].number_value())};
          result = R"("result":"Ok. Key set to new value.")";
        } else if (method == "htable.delete") {
          result = table_.erase(p[1].string_value())
                       ? R"("result":"Ok. Key deleted.")"
                       : R"("error":{"code":404,"message":"Key not found in htable."})";
        } else {
          result = R"("error":{"code":500,"message":"Method Not Found"})";
        }
      }
      if (silent) continue;
      if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms.load()));
      const std::string reply = absl::StrCat(R"({"jsonrpc":"2.0",)", result, R"(,"id":)",
                                             static_cast<int64_t>(f.at("id").number_value()), "}");
      sendto(fd_, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from), fromlen);
    }
  }

  std::string path_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::map<std::string, Entry> table_;
  std::vector<std::string> methods_;
  std::string up_since_ = "Mon Jan  1 00:00:00 2024";
};

bool WaitFor(const std::function<bool()>& ok, absl::Duration d = absl::Seconds(5)) {
  const absl::Time until = absl::Now() + d;
  while (!ok()) {
    if (absl::Now() > until) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

class KamailioGraylistTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir();
    path_ = dir_ + "/kamailio_rpc.sock";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<KamailioGraylist> Make(absl::Duration check = absl::Seconds(5)) {
    KamailioGraylistOptions o;
    o.socket_path = path_;
    o.timeout = absl::Milliseconds(200);
    o.check_interval = check;
    o.retry_min = absl::Milliseconds(20);
    o.retry_max = absl::Milliseconds(100);
    o.now_unix_ns = [this] { return now_; };
    o.log = false;
    auto k = KamailioGraylist::Create(o);
    EXPECT_TRUE(k.ok()) << k.status();
    return std::move(*k);
  }
  static IpAddress Ip(const char* s) { return *IpAddress::Parse(s); }
  std::string dir_, path_;
  int64_t now_ = 1'800'000'000 * kSec;
};

TEST_F(KamailioGraylistTest, ASnapshotFlushesTheTableAndWritesEveryGraylistWithItsTimeLeft) {
  FakeKamailio kam(path_);
  auto k = Make();
  k->Start();
  k->GraylistsReplaced({{Ip("192.0.2.10"), now_ + 600 * kSec},
                        {Ip("2001:db8:0:0:1:0:0:1"), 0},                  // no expiry
                        {Ip("192.0.2.11"), now_ + 1500 * kSec / 1000}});  // 1.5 s: 2 s
  ASSERT_TRUE(k->WaitIdle(absl::Seconds(5)));
  auto t = kam.table();
  ASSERT_EQ(t.size(), 3u);
  // Keys as Kamailio writes $si: RFC 5952 for IPv6, no brackets.
  EXPECT_EQ(t["192.0.2.10"].ttl, 600);
  EXPECT_EQ(t["192.0.2.10"].value, 1'800'000'600);
  EXPECT_EQ(t["192.0.2.11"].ttl, 2);
  EXPECT_EQ(t["2001:db8::1:0:0:1"].ttl, 365 * 24 * 3600);
  EXPECT_EQ(t["2001:db8::1:0:0:1"].value, 0);
  const auto m = kam.methods();
  ASSERT_GE(m.size(), 3u);
  EXPECT_EQ(m[0], "core.uptime");
  EXPECT_EQ(m[1], "htable.listTables");
  EXPECT_EQ(m[2], "htable.flush");
  auto s = k->stats();
  EXPECT_TRUE(s.reachable);
  EXPECT_EQ(s.entries, 3u);
  EXPECT_EQ(s.pending, 0u);
  EXPECT_EQ(s.sets, 3u);
  EXPECT_EQ(s.resyncs, 1u);
  EXPECT_EQ(s.up_since, "Mon Jan  1 00:00:00 2024");

  // Changes one by one: a new graylist, a lifted one, one expired already.
  kam.ClearMethods();
  k->GraylistSet(Ip("198.51.100.7"), now_ + 30 * kSec);
  k->GraylistRemoved(Ip("192.0.2.10"));
  k->GraylistSet(Ip("198.51.100.8"), now_ - kSec);
  ASSERT_TRUE(k->WaitIdle(absl::Seconds(5)));
  t = kam.table();
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(t["198.51.100.7"].ttl, 30);
  EXPECT_FALSE(t.contains("192.0.2.10"));
  EXPECT_FALSE(t.contains("198.51.100.8"));
  auto methods = kam.methods();
  std::sort(methods.begin(), methods.end());
  EXPECT_EQ(absl::StrJoin(methods, ","), "htable.delete,htable.delete,htable.setxi")
      << "one request each; no flush";
  s = k->stats();
  EXPECT_EQ(s.sets, 4u);
  EXPECT_EQ(s.removes, 2u);  // one deleted, one found gone (404)
  EXPECT_EQ(s.rpc_errors, 0u);
  EXPECT_EQ(s.entries, 4u);  // the expired one is the fleet's until it says otherwise
  k->Stop();
}

TEST_F(KamailioGraylistTest, NothingIsWrittenBeforeTheFirstSnapshot) {
  FakeKamailio kam(path_);
  auto k = Make();
  k->Start();
  ASSERT_TRUE(WaitFor([&] { return k->stats().reachable; }));
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(absl::StrJoin(kam.methods(), ","), "core.uptime");
  k->Stop();
}

TEST_F(KamailioGraylistTest, AMissingSocketIsNamedAndTheGraylistsWaitForKamailio) {
  auto k = Make(absl::Milliseconds(50));
  k->Start();
  k->GraylistsReplaced({{Ip("192.0.2.10"), now_ + 600 * kSec}});
  ASSERT_TRUE(WaitFor([&] { return k->stats().unreachable >= 2; }));
  auto s = k->stats();
  EXPECT_FALSE(s.reachable);
  EXPECT_EQ(s.pending, 1u);
  EXPECT_NE(s.last_error.find(path_), std::string::npos) << s.last_error;
  EXPECT_NE(s.last_error.find("no such socket"), std::string::npos) << s.last_error;
  EXPECT_NE(s.last_error.find("dgram_socket"), std::string::npos) << s.last_error;
  // Changes meanwhile are folded: one address, one entry waiting.
  for (int i = 0; i < 100; ++i) k->GraylistSet(Ip("192.0.2.20"), now_ + (100 + i) * kSec);
  EXPECT_EQ(k->stats().pending, 2u);
  // A file that is no socket.
  { std::ofstream(path_) << "x"; }
  ASSERT_TRUE(WaitFor([&] {
    return k->stats().last_error.find("not a socket") != std::string::npos;
  })) << k->stats().last_error;
  std::filesystem::remove(path_);
  // Kamailio comes: everything is written.
  FakeKamailio kam(path_);
  ASSERT_TRUE(k->WaitIdle(absl::Seconds(5)));
  auto t = kam.table();
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t["192.0.2.20"].ttl, 199);  // the last change
  s = k->stats();
  EXPECT_TRUE(s.reachable);
  EXPECT_TRUE(s.last_error.empty()) << s.last_error;
  // Kamailio stops (its socket file stays): nobody listens.
  kam.Close();
  {
    // A leftover socket file nobody reads.
    const int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    sockaddr_un a = {};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof(a.sun_path), "%s", path_.c_str());
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    close(fd);
  }
  k->GraylistSet(Ip("192.0.2.30"), now_ + 60 * kSec);
  ASSERT_TRUE(WaitFor([&] { return !k->stats().reachable; }));
  EXPECT_NE(k->stats().last_error.find("nobody listens"), std::string::npos)
      << k->stats().last_error;
  k->Stop();
}

TEST_F(KamailioGraylistTest, ARestartedKamailioGetsTheWholeTableAgain) {
  FakeKamailio kam(path_);
  auto k = Make(absl::Milliseconds(50));
  k->Start();
  k->GraylistsReplaced({{Ip("192.0.2.10"), now_ + 600 * kSec}, {Ip("192.0.2.11"), 0}});
  ASSERT_TRUE(k->WaitIdle(absl::Seconds(5)));
  ASSERT_EQ(kam.table().size(), 2u);
  // Kamailio restarts: an empty table, a new start time.
  kam.Close();
  FakeKamailio again(path_);
  again.set_up_since("Mon Jan  1 00:05:00 2024");
  ASSERT_TRUE(WaitFor([&] { return again.table().size() == 2; }));
  auto s = k->stats();
  EXPECT_EQ(s.restarts, 1u);
  EXPECT_EQ(s.resyncs, 2u);
  EXPECT_EQ(s.up_since, "Mon Jan  1 00:05:00 2024");
  k->Stop();
}

TEST_F(KamailioGraylistTest, AMissingTableIsNamedWithTheLineItNeeds) {
  FakeKamailio kam(path_);
  kam.no_table = true;
  auto k = Make(absl::Milliseconds(50));
  k->Start();
  k->GraylistsReplaced({{Ip("192.0.2.10"), now_ + 600 * kSec}});
  ASSERT_TRUE(WaitFor([&] { return k->stats().rpc_errors >= 1; }));
  const auto s = k->stats();
  EXPECT_NE(s.last_error.find("no htable 'graylist'"), std::string::npos) << s.last_error;
  EXPECT_NE(s.last_error.find(R"(modparam("htable", "htable", "graylist=>)"), std::string::npos)
      << s.last_error;
  EXPECT_TRUE(kam.table().empty());
  // The operator fixes the configuration: the next try writes it.
  kam.no_table = false;
  ASSERT_TRUE(k->WaitIdle(absl::Seconds(5)));
  EXPECT_EQ(kam.table().size(), 1u);
  k->Stop();
}

TEST_F(KamailioGraylistTest, ASilentKamailioNeverHoldsUpTheCaller) {
  FakeKamailio kam(path_);
  kam.silent = true;
  auto k = Make();
  k->Start();
  k->GraylistsReplaced({});
  // Each change only marks an address: 20000 of them take no time, while
  // the thread waits for answers that do not come.
  const absl::Time t0 = absl::Now();
  for (int i = 0; i < 20000; ++i) {
    IpAddress a = Ip("10.0.0.0");
    a.bytes[14] = static_cast<uint8_t>(i >> 8);
    a.bytes[15] = static_cast<uint8_t>(i);
    k->GraylistSet(a, now_ + 3600 * kSec);
  }
  const absl::Duration took = absl::Now() - t0;
  std::printf("20000 graylist changes handed over in %s with Kamailio silent\n",
              absl::FormatDuration(took).c_str());
  EXPECT_LT(took, absl::Seconds(1));
  ASSERT_TRUE(WaitFor([&] { return k->stats().unreachable >= 1; }));
  EXPECT_NE(k->stats().last_error.find("no answer"), std::string::npos) << k->stats().last_error;
  EXPECT_LE(k->stats().pending, 20000u);
  // It answers again: all are written.
  kam.silent = false;
  ASSERT_TRUE(k->WaitIdle(absl::Seconds(30)));
  EXPECT_EQ(kam.table().size(), 20000u);
  k->Stop();
}

TEST_F(KamailioGraylistTest, BadOptionsAreRefused) {
  KamailioGraylistOptions o;
  o.socket_path = std::string(200, 'x');
  EXPECT_FALSE(KamailioGraylist::Create(o).ok());
  o.socket_path = path_;
  o.table = "gray list";
  auto k = KamailioGraylist::Create(o);
  ASSERT_FALSE(k.ok());
  EXPECT_NE(k.status().message().find("gray list"), std::string::npos);
  o.table = "";
  EXPECT_FALSE(KamailioGraylist::Create(o).ok());
}

// ---- a real Kamailio ------------------------------------------------------

class RealKamailio {
 public:
  RealKamailio(const std::string& dir) : dir_(dir) {
    std::ofstream(dir_ + "/k.cfg") << R"(#!KAMAILIO
debug=1
log_stderror=yes
children=1
disable_tcp=yes
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "htable.so"
loadmodule "jsonrpcs.so"
modparam("htable", "htable", "graylist=>size=8;autoexpire=3600;")
modparam("jsonrpcs", "transport", 4)
modparam("jsonrpcs", "dgram_socket", "kamailio_rpc.sock")
request_route {
  sl_send_reply("404", "Not Here");
}
)";
  }
  ~RealKamailio() { Kill(); }
  void Start() {
    // A free loopback port for its SIP socket (it needs one).
    const int probe = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a = {};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    bind(probe, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    getsockname(probe, reinterpret_cast<sockaddr*>(&a), &len);
    close(probe);
    const std::string listen = absl::StrCat("udp:127.0.0.1:", ntohs(a.sin_port));
    pid_ = fork();
    if (pid_ == 0) {
      const std::string log = dir_ + "/k.log";
      freopen(log.c_str(), "a", stderr);
      freopen("/dev/null", "w", stdout);
      execlp("kamailio", "kamailio", "-f", (dir_ + "/k.cfg").c_str(), "-DD", "-E", "-Y",
             dir_.c_str(), "-P", (dir_ + "/k.pid").c_str(), "-m", "16", "-M", "4", "-l",
             listen.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int st;
    waitpid(pid_, &st, 0);
    pid_ = -1;
  }

 private:
  std::string dir_;
  pid_t pid_ = -1;
};

TEST_F(KamailioGraylistTest, ARealKamailioHoldsTheGraylistsAndGetsThemBackAfterARestart) {
  if (std::system("command -v kamailio >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "kamailio is not installed";
  }
  RealKamailio kam(dir_);
  kam.Start();
  const int64_t real_now = absl::ToUnixNanos(absl::Now());
  KamailioGraylistOptions o;
  o.socket_path = path_;
  o.check_interval = absl::Milliseconds(200);
  o.retry_min = absl::Milliseconds(50);
  o.retry_max = absl::Milliseconds(200);
  o.log = false;
  auto k = KamailioGraylist::Create(o);
  ASSERT_TRUE(k.ok());
  (*k)->Start();
  (*k)->GraylistsReplaced({{Ip("192.0.2.10"), real_now + 600 * kSec}, {Ip("2001:db8::7"), 0}});
  ASSERT_TRUE((*k)->WaitIdle(absl::Seconds(10))) << (*k)->stats().last_error;
  KamailioRpc rpc(path_, absl::Seconds(1));
  auto get = [&](const std::string& key) -> std::string {
    auto r = rpc.Call("htable.get", {std::string("graylist"), key});
    if (!r.ok()) return std::string(r.status().message());
    if (!r->ok) return absl::StrCat("error ", r->code);
    std::string json;
    (void)pb::util::MessageToJsonString(r->result, &json);
    return json;
  };
  EXPECT_NE(get("192.0.2.10").find(absl::StrCat(real_now / kSec + 600)), std::string::npos)
      << get("192.0.2.10");
  EXPECT_NE(get("2001:db8::7").find("\"value\":0"), std::string::npos) << get("2001:db8::7");
  (*k)->GraylistRemoved(Ip("192.0.2.10"));
  ASSERT_TRUE((*k)->WaitIdle(absl::Seconds(5)));
  EXPECT_EQ(get("192.0.2.10"), "error 500");  // htable.get: "Key name doesn't exist"
  // Kamailio restarts (a second later, so its start time differs): the
  // agent sees it and writes the table again.
  kam.Kill();
  absl::SleepFor(absl::Milliseconds(1100));
  kam.Start();
  ASSERT_TRUE(WaitFor([&] { return (*k)->stats().restarts >= 1; }, absl::Seconds(10)))
      << (*k)->stats().last_error;
  ASSERT_TRUE(WaitFor([&] { return get("2001:db8::7").find("\"value\":0") != std::string::npos; },
                      absl::Seconds(5)));
  const auto s = (*k)->stats();
  EXPECT_EQ(s.resyncs, 2u);
  EXPECT_GE(s.unreachable, 1u);
  (*k)->Stop();
}

}  // namespace
}  // namespace sw
