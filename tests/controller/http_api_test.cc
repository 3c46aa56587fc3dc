// SPDX-License-Identifier: BSD-2-Clause
// The controller's HTTP API (docs/api.md) through a real HTTP client on a
// loopback port: tokens and roles, every call, refusals that change nothing,
// the live event stream, the time series and the page.
#include <httplib.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "controller.h"
#include "gtest/gtest.h"
#include "http_api.h"
#include "test_util.h"

namespace sw::controller {
namespace {

namespace v1 = sipwarden::v1;

constexpr char kOperatorToken[] = "op-token-0123456789abcdef";
constexpr char kReaderToken[] = "ro-token-0123456789abcdef";

TEST(HttpTokens, ParsesRolesNamesAndComments) {
  auto t = ParseHttpTokens(
      "# tokens\n\noperator alice op-token-0123456789abcdef  # the admin\n"
      "read-only grafana\tro-token-0123456789abcdef\n");
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->size(), 2u);
  const auto& alice = t->at(TokenDigest("op-token-0123456789abcdef"));
  EXPECT_EQ(alice.name, "alice");
  EXPECT_EQ(alice.role, Role::kOperator);
  EXPECT_EQ(t->at(TokenDigest("ro-token-0123456789abcdef")).role, Role::kReadOnly);
}

TEST(HttpTokens, RefusesBadLinesNamingTheLineNotTheToken) {
  struct Case {
    const char* text;
    const char* error;
  };
  for (const Case& c : {
           Case{"admin alice op-token-0123456789abcdef\n", "line 1: role 'admin'"},
           Case{"\noperator alice short\n", "line 2: a token is 16 to 256"},
           Case{"operator alice op-token-0123456789abcdef extra\n", "line 1: expected ROLE NAME TOKEN"},
           Case{"operator al/ice op-token-0123456789abcdef\n", "line 1: bad name"},
           Case{"operator alice op-token-0123456789abcdef\nread-only alice ro-token-0123456789abcdef\n",
                "line 2: name 'alice' given twice"},
           Case{"operator alice op-token-0123456789abcdef\nread-only bob op-token-0123456789abcdef\n",
                "line 2: the same token given twice"},
           Case{"operator alice op-token-0123456789abc\"def\n", "line 1: a token is made of"},
       }) {
    auto t = ParseHttpTokens(c.text);
    ASSERT_FALSE(t.ok()) << c.text;
    EXPECT_TRUE(absl::StrContains(t.status().message(), c.error)) << t.status();
    EXPECT_FALSE(absl::StrContains(t.status().message(), "0123456789abcdef")) << t.status();
  }
}

TEST(HttpSince, ReadsSecondsRfc3339AndDurations) {
  const int64_t now = 1765029600LL * 1000000000LL;
  EXPECT_EQ(*ParseSince("1765000000", now), 1765000000LL * 1000000000LL);
  EXPECT_EQ(*ParseSince("15m", now), now - 900LL * 1000000000LL);
  EXPECT_EQ(*ParseSince("7d", now), now - 7LL * 86400 * 1000000000LL);
  EXPECT_EQ(*ParseSince("2025-12-06T14:00:00Z", now), 1765029600LL * 1000000000LL);
  for (const char* bad : {"", "-5", "yesterday", "15x", "1.5h", "2025-13-06T14:00:00Z"}) {
    EXPECT_FALSE(ParseSince(bad, now).ok()) << bad;
  }
}

class HttpApiTest : public ::testing::Test {
 protected:
  void Start(bool tokens = true) {
    ControllerOptions o;
    o.listen = "127.0.0.1:0";
    o.db = dir_.File("c.db");
    o.http_listen = "127.0.0.1:0";
    o.quiet = true;
    if (tokens) {
      o.http_tokens = dir_.File("tokens");
      std::ofstream(o.http_tokens) << "operator alice " << kOperatorToken << "\nread-only bob "
                                   << kReaderToken << "\n";
    }
    auto c = Controller::Start(o);
    ASSERT_TRUE(c.ok()) << c.status();
    c_ = std::move(*c);
    ASSERT_GT(c_->http_port(), 0);
  }
  httplib::Client Client() {
    httplib::Client cli("127.0.0.1", c_->http_port());
    cli.set_read_timeout(5, 0);
    return cli;
  }
  static httplib::Headers As(const char* token) {
    return {{"Authorization", std::string("Bearer ") + token}};
  }
  httplib::Result Post(const std::string& path, const std::string& body,
                       const char* token = kOperatorToken) {
    return Client().Post(path.c_str(), As(token), body, "application/json");
  }
  httplib::Result Delete(const std::string& path, const char* token = kOperatorToken) {
    return Client().Delete(path.c_str(), As(token));
  }
  httplib::Result Get(const std::string& path, const char* token = kOperatorToken) {
    return Client().Get(path.c_str(), As(token));
  }

  TempDir dir_;
  std::unique_ptr<Controller> c_;
};

TEST_F(HttpApiTest, TokensDecideWhoMayLookAndWhoMayChange) {
  Start();
  auto anon = Client().Get("/api/v1/alarms");
  ASSERT_TRUE(anon);
  EXPECT_EQ(anon->status, 401);
  EXPECT_TRUE(absl::StrContains(anon->body, "\"code\":\"UNAUTHENTICATED\"")) << anon->body;
  EXPECT_EQ(anon->get_header_value("WWW-Authenticate"), "Bearer realm=\"sipwarden\"");
  auto wrong = Get("/api/v1/alarms", "not-a-token-0123456789");
  EXPECT_EQ(wrong->status, 401);

  auto who = Get("/api/v1/whoami", kReaderToken);
  EXPECT_EQ(who->body, "{\"name\":\"bob\",\"role\":\"read-only\"}");
  EXPECT_EQ(Get("/api/v1/blocks", kReaderToken)->status, 200);

  // A read-only token can neither block nor unblock.
  EXPECT_EQ(Post("/api/v1/blocks", R"({"prefix":"198.51.100.7"})", kReaderToken)->status, 403);
  auto made = Post("/api/v1/blocks", R"({"prefix":"198.51.100.7","ttl_seconds":600})");
  ASSERT_EQ(made->status, 201) << made->body;
  EXPECT_TRUE(absl::StrContains(made->body, "\"source\":\"alice\"")) << made->body;
  const uint64_t v = c_->decisions().version();
  auto refused = Delete("/api/v1/blocks/198.51.100.7", kReaderToken);
  EXPECT_EQ(refused->status, 403);
  EXPECT_TRUE(absl::StrContains(refused->body, "'bob' holds a read-only token")) << refused->body;
  EXPECT_EQ(c_->decisions().version(), v);
  EXPECT_EQ(c_->decisions().blocks(), 1u);
  // The operator unblocks (the slash of a prefix may be written as %2F).
  EXPECT_EQ(Delete("/api/v1/blocks/198.51.100.7%2F32")->status, 200);
  EXPECT_EQ(c_->decisions().blocks(), 0u);
  EXPECT_EQ(Delete("/api/v1/blocks/198.51.100.7")->status, 404);
  // Both changes are in the audit log under the token's name.
  auto audit = c_->store().AuditLog(10);
  ASSERT_TRUE(audit.ok());
  ASSERT_EQ(audit->size(), 2u);
  EXPECT_TRUE(absl::StrContains((*audit)[0], "alice unblock 198.51.100.7/32")) << (*audit)[0];
}

TEST_F(HttpApiTest, BadInputGetsA4xxAndChangesNothing) {
  Start();
  ASSERT_EQ(Post("/api/v1/blocks", R"({"prefix":"203.0.113.0/24"})")->status, 201);
  const uint64_t v = c_->decisions().version();
  struct Case {
    int status;
    httplib::Result r;
    const char* message;
  };
  std::string big(70 * 1024, 'x');
  std::vector<Case> cases;
  cases.push_back({400, Post("/api/v1/blocks", R"({"prefix":"10.0.0.300"})"), "10.0.0.300"});
  cases.push_back({400, Post("/api/v1/blocks", R"({"prefix":"10.0.0.1/8"})"), "host bits"});
  cases.push_back({400, Post("/api/v1/blocks", R"({"prefix":"10.0.0.1","ttl_seconds":-5})"), "ttl"});
  cases.push_back({400, Post("/api/v1/blocks", R"({"prefix":"10.0.0.1","evil":1})"), "evil"});
  cases.push_back({400, Post("/api/v1/blocks", R"({"prefix":)"), "bad JSON"});
  cases.push_back({400, Post("/api/v1/blocks", R"({})"), "prefix is required"});
  cases.push_back({413, Post("/api/v1/blocks", big), "64 KiB"});
  cases.push_back({415, Client().Post("/api/v1/blocks", As(kOperatorToken), "prefix=10.0.0.1",
                                      "application/x-www-form-urlencoded"),
                   "application/json"});
  cases.push_back({400, Get("/api/v1/alarms?categry=flood"), "unknown parameter 'categry'"});
  cases.push_back({400, Get("/api/v1/alarms?since=yesterday"), "time 'yesterday'"});
  cases.push_back({400, Get("/api/v1/alarms?limit=0"), "limit '0'"});
  cases.push_back({400, Get("/api/v1/alarms?src=10.1"), "not an IP address"});
  cases.push_back({400, Get("/api/v1/blocks?origin=martian"), "origin 'martian'"});
  cases.push_back({400, Get("/api/v1/blocks?within=300.1.1.1"), "300.1.1.1"});
  cases.push_back({400, Get("/api/v1/series?name=packets&step=7s"), "step"});
  cases.push_back({400, Get("/api/v1/series?name=packets&since=30d"), "one week"});
  cases.push_back({400, Get("/api/v1/series?name=packets&by=colour"), "by 'colour'"});
  cases.push_back({404, Get("/api/v1/series?name=temperature"), "no series 'temperature'"});
  cases.push_back({400, Delete("/api/v1/blocks/not-an-address"), "not-an-address"});
  cases.push_back({404, Get("/api/v1/nothing"), "no such call"});
  cases.push_back({404, Get("/api/v2/alarms"), "no such call"});
  for (const auto& c : cases) {
    ASSERT_TRUE(c.r) << c.message;
    EXPECT_EQ(c.r->status, c.status) << c.message << ": " << c.r->body;
    EXPECT_EQ(c.r->get_header_value("Content-Type"), "application/json") << c.message;
    EXPECT_TRUE(absl::StrContains(c.r->body, "{\"error\":{\"status\":")) << c.r->body;
    EXPECT_TRUE(absl::StrContains(c.r->body, c.message)) << c.message << ": " << c.r->body;
  }
  EXPECT_EQ(c_->decisions().version(), v);
  EXPECT_EQ(c_->decisions().blocks(), 1u);
  // The controller still serves.
  EXPECT_EQ(Get("/api/v1/blocks")->status, 200);
}

TEST_F(HttpApiTest, ListsDecisionsAlarmsAgentsAndStats) {
  Start();
  ASSERT_EQ(Post("/api/v1/blocks", R"({"prefix":"203.0.113.9","ttl_seconds":3600,"reason":"scan"})")->status, 201);
  ASSERT_EQ(Post("/api/v1/allows", R"({"prefix":"192.0.2.0/24","reason":"partner trunk"})")->status, 201);
  auto blocks = Get("/api/v1/blocks?origin=operator");
  EXPECT_TRUE(absl::StrContains(blocks->body, "\"prefix\":\"203.0.113.9/32\"")) << blocks->body;
  EXPECT_TRUE(absl::StrContains(blocks->body, "\"reason\":\"scan\"")) << blocks->body;
  EXPECT_FALSE(absl::StrContains(blocks->body, "192.0.2.0/24")) << blocks->body;
  auto allows = Get("/api/v1/allows");
  EXPECT_TRUE(absl::StrContains(allows->body, "\"reason\":\"partner trunk\"")) << allows->body;
  EXPECT_EQ(Get("/api/v1/blocks?origin=honeypot")->body.find("203.0.113.9"), std::string::npos);
  // An allow inside a block is refused: 409.
  EXPECT_EQ(Post("/api/v1/blocks", R"({"prefix":"192.0.2.7"})")->status, 409);
  EXPECT_EQ(Delete("/api/v1/allows/192.0.2.0%2F24")->status, 200);

  v1::Alarm a;
  a.set_rule("invite-flood");
  a.set_category("flood");
  a.set_src_ip("10.99.0.66");
  a.set_ts_unix_ns(absl::ToUnixNanos(absl::Now()));
  ASSERT_TRUE(c_->store().StoreAlarm("proxy-a", a).ok());
  a.set_category("scan");
  a.set_src_ip("10.99.0.67");
  ASSERT_TRUE(c_->store().StoreAlarm("proxy-b", a).ok());
  auto flood = Get("/api/v1/alarms?category=flood&since=1h");
  EXPECT_TRUE(absl::StrContains(flood->body, "10.99.0.66")) << flood->body;
  EXPECT_FALSE(absl::StrContains(flood->body, "10.99.0.67")) << flood->body;
  EXPECT_TRUE(absl::StrContains(Get("/api/v1/alarms?agent=proxy-b")->body, "10.99.0.67"));
  EXPECT_TRUE(absl::StrContains(Get("/api/v1/alarms?src=10.99.0.67")->body, "proxy-b"));
  EXPECT_FALSE(absl::StrContains(Get("/api/v1/alarms?src=10.99.0.67")->body, "proxy-a"));

  auto stats = Get("/api/v1/stats");
  EXPECT_TRUE(absl::StrContains(stats->body, "\"blocks\":\"1\"")) << stats->body;
  EXPECT_TRUE(absl::StrContains(stats->body, "\"alarms_stored\":\"2\"")) << stats->body;
  EXPECT_EQ(Get("/api/v1/agents")->body.find("\"agents\":[]"), 1u) << Get("/api/v1/agents")->body;
  EXPECT_EQ(Get("/api/v1/hits?limit=5")->status, 200);
  EXPECT_EQ(Get("/api/v1/campaigns?min_sources=2")->status, 200);
}

TEST_F(HttpApiTest, SeriesComeBackAsRatesPerStep) {
  Start();
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  // 50 SIP INVITEs and 20 drops in the last complete 10 s slot.
  c_->series().Counters("proxy-a", {{"sip_method_INVITE", 100}, {"drop_rate", 10}}, now - 30);
  c_->series().Counters("proxy-a", {{"sip_method_INVITE", 150}, {"drop_rate", 30}}, now - 20);
  c_->series().Count("alarms", "proxy-a", "flood", now - 20, 3);
  auto r = Get("/api/v1/series?name=sip_messages&since=5m");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_TRUE(absl::StrContains(r->body, "\"step_s\":10")) << r->body;
  EXPECT_TRUE(absl::StrContains(r->body, "\"label\":\"INVITE\"")) << r->body;
  const int64_t slot = (now - 20) / 10 * 10;
  EXPECT_TRUE(absl::StrContains(r->body, absl::StrCat("[", slot, ",5]"))) << r->body;
  auto drops = Get("/api/v1/series?name=drops&since=1h&by=agent");
  EXPECT_TRUE(absl::StrContains(drops->body, "\"label\":\"proxy-a\"")) << drops->body;
  EXPECT_TRUE(absl::StrContains(drops->body, absl::StrCat("[", slot, ",2]"))) << drops->body;
  auto day = Get("/api/v1/series?name=alarms&since=1d");
  EXPECT_TRUE(absl::StrContains(day->body, "\"step_s\":300")) << day->body;
  EXPECT_TRUE(absl::StrContains(day->body, "\"label\":\"flood\"")) << day->body;
  auto names = Get("/api/v1/series");
  EXPECT_TRUE(absl::StrContains(names->body, "{\"name\":\"packets\",\"label\":\"verdict\",\"values\":[\"drop_rate\"],\"agents\":[\"proxy-a\"]}")) << names->body;
}

TEST_F(HttpApiTest, SeriesSurviveARestart) {
  Start();
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  c_->series().Count("alarms", "proxy-a", "flood", now - 100, 600);
  c_.reset();  // shutdown saves them
  Start();
  auto r = Get("/api/v1/series?name=alarms&since=1h&by=none");
  ASSERT_EQ(r->status, 200);
  EXPECT_TRUE(absl::StrContains(r->body, absl::StrCat("[", (now - 100) / 10 * 10, ",60]"))) << r->body;
}

TEST_F(HttpApiTest, TheEventStreamPushesDecisionsAndAlarms) {
  Start();
  std::atomic<bool> stop{false};
  std::string got;
  std::mutex mu;
  std::thread reader([&] {
    httplib::Client cli("127.0.0.1", c_->http_port());
    cli.set_read_timeout(10, 0);
    cli.Get("/api/v1/events?category=flood", As(kReaderToken), [&](const char* data, size_t n) {
      std::lock_guard<std::mutex> lock(mu);
      got.append(data, n);
      return !stop.load();
    });
  });
  auto has = [&](const char* s) {
    std::lock_guard<std::mutex> lock(mu);
    return absl::StrContains(got, s);
  };
  ASSERT_TRUE(WaitFor([&] { return has("retry: 2000"); }));
  ASSERT_EQ(Post("/api/v1/blocks", R"({"prefix":"203.0.113.50"})")->status, 201);
  EXPECT_TRUE(WaitFor([&] { return has("event: decision"); }, 2000)) << got;
  EXPECT_TRUE(has("\"removed\":false")) << got;
  EXPECT_TRUE(has("203.0.113.50/32")) << got;
  v1::Alarm a;
  a.set_category("scan");
  a.set_src_ip("10.0.0.1");
  ASSERT_TRUE(c_->store().StoreAlarm("proxy-a", a).ok());
  a.set_category("flood");
  a.set_src_ip("10.0.0.2");
  ASSERT_TRUE(c_->store().StoreAlarm("proxy-a", a).ok());
  EXPECT_TRUE(WaitFor([&] { return has("event: alarm"); }, 2000)) << got;
  EXPECT_TRUE(has("10.0.0.2")) << got;
  EXPECT_FALSE(has("10.0.0.1")) << "the category filter let a scan alarm through: " << got;
  ASSERT_EQ(Delete("/api/v1/blocks/203.0.113.50")->status, 200);
  EXPECT_TRUE(WaitFor([&] { return has("\"removed\":true"); }, 2000)) << got;
  stop = true;
  reader.join();
}

TEST_F(HttpApiTest, WithoutTokensLoopbackCallersAreOperators) {
  Start(/*tokens=*/false);
  auto who = Client().Get("/api/v1/whoami");
  EXPECT_EQ(who->body, "{\"name\":\"http\",\"role\":\"operator\"}");
  // ... but changes must still come as JSON (no cross-site form posts).
  EXPECT_EQ(Client().Post("/api/v1/blocks", "prefix=10.0.0.1", "text/plain")->status, 415);
  auto m = Client().Get("/metrics");
  ASSERT_EQ(m->status, 200);
  EXPECT_TRUE(absl::StartsWith(m->get_header_value("Content-Type"), "text/plain; version=0.0.4"));
  EXPECT_TRUE(absl::StrContains(m->body, "sipwarden_controller_http_event_streams")) << m->body;
}

TEST_F(HttpApiTest, ServesThePageToAnyoneAndNothingElse) {
  Start();
  auto page = Client().Get("/");
  ASSERT_EQ(page->status, 200);
  EXPECT_TRUE(absl::StartsWith(page->get_header_value("Content-Type"), "text/html"));
  EXPECT_FALSE(page->get_header_value("Content-Security-Policy").empty());
  EXPECT_EQ(Client().Get("/assets/app.js")->status, 200);
  EXPECT_EQ(Client().Get("/../../etc/passwd")->status, 404);
  EXPECT_EQ(Client().Get("/assets/nope.js")->status, 404);
}

// sipwardenctl token new prints a line the controller takes, and the token in
// it works.
TEST_F(HttpApiTest, SipwardenctlMakesTokensTheControllerTakes) {
  const std::string cmd = std::string(SW_BIN_DIR) + "/sipwardenctl token new grafana --role read-only";
  FILE* f = popen(cmd.c_str(), "r");
  ASSERT_NE(f, nullptr);
  char buf[512] = {};
  ASSERT_NE(fgets(buf, sizeof(buf), f), nullptr);
  ASSERT_EQ(pclose(f), 0);
  std::string line(buf);
  ASSERT_TRUE(absl::StartsWith(line, "read-only grafana ")) << line;
  const std::string token = std::string(absl::StripAsciiWhitespace(line.substr(18)));
  EXPECT_EQ(token.size(), 43u) << token;
  {
    std::ofstream(dir_.File("tokens")) << line;
  }
  ControllerOptions o;
  o.listen = "127.0.0.1:0";
  o.db = dir_.File("c.db");
  o.http_listen = "127.0.0.1:0";
  o.http_tokens = dir_.File("tokens");
  o.quiet = true;
  auto c = Controller::Start(o);
  ASSERT_TRUE(c.ok()) << c.status();
  c_ = std::move(*c);
  EXPECT_EQ(Get("/api/v1/whoami", token.c_str())->body, "{\"name\":\"grafana\",\"role\":\"read-only\"}");
}

TEST(HttpApiStart, RefusesBadListenAddressesAndTokenFiles) {
  TempDir dir;
  ControllerOptions o;
  o.listen = "127.0.0.1:0";
  o.db = dir.File("c.db");
  o.quiet = true;
  o.http_listen = "0.0.0.0:0";
  auto c = Controller::Start(o);
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(absl::StrContains(c.status().message(), "without TLS")) << c.status();
  o.http_listen = "127.0.0.1:0";
  o.http_tokens = dir.File("missing");
  c = Controller::Start(o);
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(absl::StrContains(c.status().message(), "cannot open")) << c.status();
  std::ofstream(dir.File("bad")) << "operator alice short\n";
  o.http_tokens = dir.File("bad");
  c = Controller::Start(o);
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(absl::StrContains(c.status().message(), "line 1")) << c.status();
}

}  // namespace
}  // namespace sw::controller
