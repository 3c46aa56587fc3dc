// SPDX-License-Identifier: BSD-2-Clause
// The Prometheus text builder, byte for byte, and the metrics HTTP server on
// loopback: its own threads answer the test's clients while a "main loop"
// thread calls Poll() the way the agent does.
#include "metrics.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"

namespace sw {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// ---- PromText ------------------------------------------------------------

TEST(PromText, ExactTextWithHelpTypeOncePerFamily) {
  PromText t;
  t.Counter("sw_requests_total", "Requests seen", 3, {{"method", "INVITE"}});
  t.Gauge("sw_open", "Open things", 7);
  t.Counter("sw_requests_total", "ignored: the first help stays", 5, {{"method", "BYE"}});
  t.Gauge("sw_temp", "Two labels", -1.5, {{"a", "x"}, {"b", "y"}});
  EXPECT_TRUE(t.status().ok()) << t.status();
  EXPECT_EQ(t.Take(),
            "# HELP sw_requests_total Requests seen\n"
            "# TYPE sw_requests_total counter\n"
            "sw_requests_total{method=\"INVITE\"} 3\n"
            "sw_requests_total{method=\"BYE\"} 5\n"
            "# HELP sw_open Open things\n"
            "# TYPE sw_open gauge\n"
            "sw_open 7\n"
            "# HELP sw_temp Two labels\n"
            "# TYPE sw_temp gauge\n"
            "sw_temp{a=\"x\",b=\"y\"} -1.5\n");
  EXPECT_EQ(t.Take(), "") << "Take() starts the next scrape afresh";
}

TEST(PromText, EscapesLabelValuesAndHelp) {
  PromText t;
  t.Gauge("g", "back\\slash and\nnewline \"quotes\" stay", 1,
          {{"v", "a\\b\"c\nd"}, {"utf8", "h\xC3\xA9"}});
  EXPECT_EQ(t.Take(),
            "# HELP g back\\\\slash and\\nnewline \"quotes\" stay\n"
            "# TYPE g gauge\n"
            "g{v=\"a\\\\b\\\"c\\nd\",utf8=\"h\xC3\xA9\"} 1\n");
}

TEST(PromText, EmptyHelpWritesOnlyType) {
  PromText t;
  t.Counter("c_total", "", 0);
  EXPECT_EQ(t.Take(), "# TYPE c_total counter\nc_total 0\n");
}

TEST(PromText, Values) {
  PromText t;
  t.Gauge("a", "", 1234567);
  t.Gauge("a", "", 0.25);
  t.Gauge("a", "", 9007199254740992.0);  // 2^53: still exact
  t.Gauge("a", "", std::numeric_limits<double>::infinity());
  t.Gauge("a", "", -std::numeric_limits<double>::infinity());
  t.Gauge("a", "", std::nan(""));
  t.Gauge("a", "", 1e-7);
  t.Gauge("a", "", 100000);  // whole numbers in full, not 1e+05
  t.Gauge("a", "", -0.0);
  t.Gauge("a", "", 1e20);
  EXPECT_EQ(t.Take(),
            "# TYPE a gauge\na 1234567\na 0.25\na 9007199254740992\na +Inf\na -Inf\na NaN\na "
            "1e-07\na 100000\na 0\na 1e+20\n");
}

TEST(PromText, NamesAreChecked) {
  EXPECT_TRUE(PromText::ValidMetricName("sipwarden_xdp_rx_packets_total"));
  EXPECT_TRUE(PromText::ValidMetricName("job:rate:5m"));
  EXPECT_TRUE(PromText::ValidMetricName("_x9"));
  for (const char* bad : {"", "9lives", "a-b", "a b", "a.b", "é", "a\n"}) {
    EXPECT_FALSE(PromText::ValidMetricName(bad)) << bad;
  }
  EXPECT_TRUE(PromText::ValidLabelName("iface"));
  EXPECT_TRUE(PromText::ValidLabelName("_x"));
  for (const char* bad : {"", "__name__", "__x", "a:b", "1a", "a-b"}) {
    EXPECT_FALSE(PromText::ValidLabelName(bad)) << bad;
  }
}

TEST(PromText, BadSamplesAreLeftOutAndReported) {
  PromText t;
  t.Counter("good_total", "ok", 1);
  t.Counter("bad-name", "x", 1);
  EXPECT_FALSE(t.status().ok());
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("bad-name"));
  t.Gauge("g", "x", 1, {{"__reserved", "v"}});
  t.Gauge("g2", "x", 1, {{"a", "1"}, {"a", "2"}});
  t.Gauge("good_total", "type clash", 2);
  t.Counter("neg_total", "x", -1);
  EXPECT_EQ(t.Take(), "# HELP good_total ok\n# TYPE good_total counter\ngood_total 1\n");
  EXPECT_TRUE(t.status().ok()) << "Take() clears the error";

  for (auto add : std::vector<std::function<void(PromText&)>>{
           [](PromText& p) {
             p.Gauge("g", "x", 1, {{"__reserved", "v"}});
           },
           [](PromText& p) {
             p.Gauge("g2", "x", 1, {{"a", "1"}, {"a", "2"}});
           },
           [](PromText& p) { p.Counter("neg_total", "x", -1); },
           [](PromText& p) {
             p.Counter("c_total", "x", 1);
             p.Gauge("c_total", "x", 1);
           }}) {
    PromText p;
    add(p);
    EXPECT_FALSE(p.status().ok());
  }
}

TEST(PromText, KernelStatsEveryFieldWithItsOwnHelp) {
  sw_stats s{};
  s.rx_packets = 12345678901ull;
  s.drop_blocked = 2;
  PromText t;
  AddKernelStats(s, t);
  EXPECT_TRUE(t.status().ok()) << t.status();
  const std::string text = t.Take();
  EXPECT_THAT(text, HasSubstr("# TYPE sipwarden_xdp_rx_packets_total counter\n"
                              "sipwarden_xdp_rx_packets_total 12345678901\n"));
  EXPECT_THAT(text, HasSubstr("\nsipwarden_xdp_drop_blocked_total 2\n"));
#define SW_CHECK_FIELD(name)                                             \
  EXPECT_THAT(text, HasSubstr("# HELP sipwarden_xdp_" #name "_total ")); \
  EXPECT_THAT(text, HasSubstr("\nsipwarden_xdp_" #name "_total "));
  SW_STATS_FIELDS(SW_CHECK_FIELD)
#undef SW_CHECK_FIELD
  // A field added to bpf/sipwarden.h without a help line in metrics.cc shows
  // the generic text: give it its own.
  EXPECT_THAT(text, ::testing::Not(HasSubstr("Kernel counter from bpf/sipwarden.h")));
}

// ---- MetricsServer -------------------------------------------------------

// A loopback client socket with a receive timeout; rcvbuf: a small receive
// buffer (0: the default).
int Connect(uint16_t port, int rcvbuf = 0, int family = AF_INET) {
  const int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_GE(fd, 0);
  if (rcvbuf) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  int rc;
  if (family == AF_INET) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rc = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  } else {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    a.sin6_addr = in6addr_loopback;
    rc = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  }
  EXPECT_EQ(rc, 0) << strerror(errno);
  return fd;
}

void SendAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t r = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return;  // the server may close on a request it refused
    bytes.remove_prefix(static_cast<size_t>(r));
  }
}

struct Served {
  std::string response;
  bool closed = false;  // the server closed the connection (within 5 s)
};

// Reads until the server closes (or 5 s pass without a byte); closes fd.
Served ReadAll(int fd) {
  Served s;
  char buf[65536];
  while (true) {
    const ssize_t r = recv(fd, buf, sizeof(buf), 0);
    if (r > 0) {
      s.response.append(buf, static_cast<size_t>(r));
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    s.closed = r == 0 || errno == ECONNRESET;
    break;
  }
  close(fd);
  return s;
}

Served Exchange(uint16_t port, std::string_view request) {
  const int fd = Connect(port);
  SendAll(fd, request);
  return ReadAll(fd);
}

std::string Body(const std::string& response) {
  const size_t p = response.find("\r\n\r\n");
  return p == std::string::npos ? "" : response.substr(p + 4);
}

// The agent's main loop in miniature: Poll() every millisecond with render.
class Loop {
 public:
  Loop(MetricsServer& s, std::function<std::string()> render)
      : render_(std::move(render)), thread_([this, &s] {
          while (!stop_) {
            s.Poll([this] {
              ++renders_;
              return render_();
            });
            usleep(1000);
          }
        }) {}
  ~Loop() {
    stop_ = true;
    thread_.join();
  }
  int renders() const { return renders_; }

 private:
  std::function<std::string()> render_;
  std::atomic<bool> stop_{false};
  std::atomic<int> renders_{0};
  std::thread thread_;
};

std::unique_ptr<MetricsServer> OpenLocal(const MetricsServerOptions& o = {}) {
  auto s = MetricsServer::Open("127.0.0.1:0", o);
  EXPECT_TRUE(s.ok()) << s.status();
  if (!s.ok()) return nullptr;
  EXPECT_NE((*s)->port(), 0);
  return std::move(*s);
}

std::string Header(const std::string& response, std::string_view name) {
  const std::string head = response.substr(0, response.find("\r\n\r\n"));
  const std::string key = "\r\n" + std::string(name) + ": ";
  const size_t p = head.find(key);
  if (p == std::string::npos) return "(none)";
  const size_t v = p + key.size();
  return head.substr(v, head.find("\r\n", v) - v);
}

TEST(MetricsServer, ServesMetrics) {
  auto s = OpenLocal();
  ASSERT_TRUE(s);
  const std::string text = "# TYPE x_total counter\nx_total 42\n";
  Loop loop(*s, [&] { return text; });
  Served r = Exchange(s->port(), "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\n\r\n");
  EXPECT_TRUE(r.closed);
  EXPECT_THAT(r.response, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_EQ(Header(r.response, "Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(Header(r.response, "Content-Length"), std::to_string(text.size()));
  EXPECT_EQ(Header(r.response, "Connection"), "close");
  EXPECT_EQ(Body(r.response), text);
  EXPECT_EQ(loop.renders(), 1);
  EXPECT_EQ(s->scrapes(), 1u);
  EXPECT_EQ(s->requests(), 1u);
  // HTTP/1.0 and a query string.
  r = Exchange(s->port(), "GET /metrics?x=1 HTTP/1.0\r\n\r\n");
  EXPECT_THAT(r.response, StartsWith("HTTP/1.1 200 OK"));
  EXPECT_EQ(Body(r.response), text);
  EXPECT_EQ(loop.renders(), 2) << "each scrape gets a fresh render";
}

TEST(MetricsServer, HealthRootNotFoundAndMethods) {
  auto s = OpenLocal();
  ASSERT_TRUE(s);
  Loop loop(*s, [] { return std::string(10, 'x'); });
  Served h = Exchange(s->port(), "GET /healthz HTTP/1.1\r\n\r\n");
  EXPECT_THAT(h.response, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_EQ(Body(h.response), "ok\n");
  EXPECT_THAT(Exchange(s->port(), "GET / HTTP/1.1\r\n\r\n").response,
              StartsWith("HTTP/1.1 200 OK\r\n"));
  for (const char* path : {"/nope", "/metricsx", "/metrics/", "/healthz/x"}) {
    Served nf = Exchange(s->port(), absl::StrCat("GET ", path, " HTTP/1.1\r\n\r\n"));
    EXPECT_THAT(nf.response, StartsWith("HTTP/1.1 404 Not Found\r\n")) << path;
    EXPECT_EQ(Body(nf.response), "404 Not Found\n") << path;
  }
  Served post = Exchange(s->port(), "POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
  EXPECT_THAT(post.response, StartsWith("HTTP/1.1 405 Method Not Allowed\r\n"));
  EXPECT_EQ(Header(post.response, "Allow"), "GET, HEAD");
  EXPECT_TRUE(post.closed);
  for (const char* m : {"DELETE /healthz", "PUT /", "OPTIONS /metrics", "PATCH /metrics"}) {
    EXPECT_THAT(Exchange(s->port(), absl::StrCat(m, " HTTP/1.1\r\n\r\n")).response,
                StartsWith("HTTP/1.1 405 "))
        << m;
  }
  // HEAD: the headers of the GET, no body.
  Served head = Exchange(s->port(), "HEAD /metrics HTTP/1.1\r\n\r\n");
  EXPECT_THAT(head.response, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_EQ(Header(head.response, "Content-Length"), "10");
  EXPECT_EQ(Body(head.response), "");
  EXPECT_TRUE(head.closed);
  EXPECT_EQ(s->scrapes(), 1u);
}

TEST(MetricsServer, MalformedRequestsGet400) {
  auto s = OpenLocal();
  ASSERT_TRUE(s);
  Loop loop(*s, [] { return std::string("m 1\n"); });
  for (const std::string& bad :
       {std::string("hello\r\n\r\n"), std::string("GET /metrics\r\n\r\n"),
        std::string("GET /metrics HTTP/1.1 x\r\n\r\n"), std::string("GET /metrics HTTP/1\r\n\r\n"),
        std::string("GE(T /metrics HTTP/1.1\r\n\r\n"), std::string("BREW /metrics HTTP/1.1\r\n\r\n"),
        std::string("\r\n\r\n"),
        std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n", 12),
        std::string("\0\0\0\n\0\n\n", 7)}) {
    Served r = Exchange(s->port(), bad);
    EXPECT_THAT(r.response, StartsWith("HTTP/1.1 400 Bad Request\r\n")) << bad;
    EXPECT_TRUE(r.closed) << bad;
  }
  EXPECT_EQ(loop.renders(), 0);
  EXPECT_EQ(s->scrapes(), 0u);
}

TEST(MetricsServer, OversizeRequestIsRefusedAndClosed) {
  auto s = OpenLocal();
  ASSERT_TRUE(s);
  Loop loop(*s, [] { return std::string("m 1\n"); });
  // A request line that never ends: closed at the I/O timeout, unanswered.
  Served r = Exchange(s->port(), std::string(9000, 'A'));
  EXPECT_EQ(r.response, "");
  EXPECT_TRUE(r.closed);
  // A target beyond 8 KiB.
  r = Exchange(s->port(), "GET /metrics?" + std::string(9000, 'q') + " HTTP/1.1\r\n\r\n");
  EXPECT_THAT(r.response, StartsWith("HTTP/1.1 4"));
  EXPECT_TRUE(r.closed);
  // A body beyond the limit.
  r = Exchange(s->port(), "POST /metrics HTTP/1.1\r\nContent-Length: 100000\r\n\r\n" +
                              std::string(100000, 'b'));
  EXPECT_THAT(r.response, StartsWith("HTTP/1.1 4"));
  EXPECT_TRUE(r.closed);
  EXPECT_EQ(s->scrapes(), 0u);
  // A sizeable but sane request is fine.
  std::string fits = "GET /metrics HTTP/1.1\r\n";
  for (int i = 0; i < 20; ++i) fits += "X-Pad" + std::to_string(i) + ": " + std::string(200, 'b') + "\r\n";
  fits += "\r\n";
  EXPECT_THAT(Exchange(s->port(), fits).response, StartsWith("HTTP/1.1 200 OK\r\n"));
}

TEST(MetricsServer, SlowClientPartialRequest) {
  auto s = OpenLocal();
  ASSERT_TRUE(s);
  Loop loop(*s, [] { return std::string("m 1\n"); });
  const int fd = Connect(s->port());
  timeval tv{0, 20000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  for (std::string_view piece : {"GE", "T /met", "rics HTTP/1.1\r", "\nHost: x\r\n", "\r"}) {
    SendAll(fd, piece);
    char c;
    const ssize_t r = recv(fd, &c, 1, MSG_PEEK);
    EXPECT_EQ(r, -1) << "answered or closed before the request was complete";
    EXPECT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK) << strerror(errno);
  }
  tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  SendAll(fd, "\n");
  Served r = ReadAll(fd);
  EXPECT_THAT(r.response, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_EQ(Body(r.response), "m 1\n");
}

TEST(MetricsServer, IoTimeoutClosesStalledClients) {
  MetricsServerOptions o;
  o.io_timeout = 150ms;
  auto s = OpenLocal(o);
  ASSERT_TRUE(s);
  Loop loop(*s, [] { return std::string("m 1\n"); });
  const auto start = Clock::now();
  const int stalled = Connect(s->port());
  SendAll(stalled, "GET /metrics HTTP/1.1\r\n");  // never finishes
  const int silent = Connect(s->port());          // never sends
  Served a = ReadAll(stalled), b = ReadAll(silent);
  const auto took = Clock::now() - start;
  EXPECT_TRUE(a.closed);
  EXPECT_TRUE(b.closed);
  EXPECT_THAT(a.response, ::testing::Not(HasSubstr("200 OK")));
  EXPECT_EQ(b.response, "");
  EXPECT_GE(took, 140ms);
  EXPECT_LT(took, 1900ms) << "the silent one waits a whole second (cpp-httplib's keep-alive timeout)";
  EXPECT_EQ(s->scrapes(), 0u);
}

TEST(MetricsServer, ManyConnectionsAllAnswered) {
  auto s = OpenLocal();
  ASSERT_TRUE(s);
  Loop loop(*s, [] { return std::string("m 1\n"); });
  std::vector<int> fds;
  for (int i = 0; i < 40; ++i) {
    fds.push_back(Connect(s->port()));
    SendAll(fds.back(), i % 2 ? "GET /metrics HTTP/1.1\r\n\r\n" : "GET /healthz HTTP/1.1\r\n\r\n");
  }
  for (size_t i = 0; i < fds.size(); ++i) {
    Served r = ReadAll(fds[i]);
    EXPECT_TRUE(r.closed) << i;
    EXPECT_THAT(r.response, StartsWith("HTTP/1.1 200 OK\r\n")) << i;
  }
  EXPECT_EQ(s->requests(), 40u);
  EXPECT_EQ(s->scrapes(), 20u);
  EXPECT_LE(loop.renders(), 20);
  EXPECT_GE(loop.renders(), 1);
}

TEST(MetricsServer, ScrapesWaitingTogetherShareOneRender) {
  MetricsServerOptions o;
  o.render_timeout = 3000ms;
  auto s = OpenLocal(o);
  ASSERT_TRUE(s);
  int renders = 0;
  EXPECT_EQ(s->Poll([&] {
    ++renders;
    return std::string();
  }),
            0);
  EXPECT_EQ(renders, 0) << "no scrape waiting: no render";
  const int a = Connect(s->port()), b = Connect(s->port());
  SendAll(a, "GET /metrics HTTP/1.1\r\n\r\n");
  SendAll(b, "GET /metrics HTTP/1.1\r\n\r\n");
  usleep(200000);  // both are waiting for the loop now
  EXPECT_EQ(s->Poll([&] {
    ++renders;
    return std::string("m 7\n");
  }),
            2);
  EXPECT_EQ(renders, 1);
  EXPECT_EQ(Body(ReadAll(a).response), "m 7\n");
  EXPECT_EQ(Body(ReadAll(b).response), "m 7\n");
  EXPECT_EQ(s->scrapes(), 2u);
}

TEST(MetricsServer, A503WhenTheLoopDoesNotRenderInTime) {
  MetricsServerOptions o;
  o.render_timeout = 200ms;
  auto s = OpenLocal(o);
  ASSERT_TRUE(s);
  const auto start = Clock::now();
  Served r = Exchange(s->port(), "GET /metrics HTTP/1.1\r\n\r\n");  // nobody polls
  const auto took = Clock::now() - start;
  EXPECT_THAT(r.response, StartsWith("HTTP/1.1 503 Service Unavailable\r\n"));
  EXPECT_TRUE(r.closed);
  EXPECT_GE(took, 190ms);
  EXPECT_LT(took, 2000ms);
  EXPECT_EQ(s->render_timeouts(), 1u);
  EXPECT_EQ(s->scrapes(), 0u);
  // /healthz does not need the loop.
  EXPECT_THAT(Exchange(s->port(), "GET /healthz HTTP/1.1\r\n\r\n").response,
              StartsWith("HTTP/1.1 200 OK\r\n"));
}

TEST(MetricsServer, ClosingWithAScrapeWaitingIsPrompt) {
  MetricsServerOptions o;
  o.render_timeout = 10000ms;
  auto s = OpenLocal(o);
  ASSERT_TRUE(s);
  const int fd = Connect(s->port());
  SendAll(fd, "GET /metrics HTTP/1.1\r\n\r\n");
  usleep(100000);
  const auto start = Clock::now();
  s.reset();
  EXPECT_LT(Clock::now() - start, 2000ms);
  Served r = ReadAll(fd);
  EXPECT_THAT(r.response, ::testing::Not(HasSubstr("200 OK")));
}

TEST(MetricsServer, PollIsNotHeldUpBySlowReaders) {
  auto s = OpenLocal();
  ASSERT_TRUE(s);
  const std::string big = std::string(1 << 20, '#') + "\n";  // 1 MiB
  std::vector<int> fds;
  fds.push_back(Connect(s->port()));  // silent
  fds.push_back(Connect(s->port()));
  SendAll(fds.back(), "GET /metr");  // stalled half way
  // Scrape a megabyte and read nothing for now, through a small receive buffer.
  for (int i = 0; i < 2; ++i) {
    fds.push_back(Connect(s->port(), 4096));
    SendAll(fds.back(), "GET /metrics HTTP/1.1\r\n\r\n");
  }
  auto worst = Clock::duration::zero();
  int given = 0;
  for (int i = 0; i < 300 && given < 2; ++i) {
    const auto t0 = Clock::now();
    given += s->Poll([&] { return big; });
    worst = std::max(worst, Clock::now() - t0);
    usleep(1000);
  }
  EXPECT_EQ(given, 2);
  for (int i = 0; i < 50; ++i) {
    const auto t0 = Clock::now();
    s->Poll([&] { return big; });
    worst = std::max(worst, Clock::now() - t0);
  }
  EXPECT_LT(worst, 50ms);
  for (int i = 2; i < 4; ++i) {
    Served r = ReadAll(fds[i]);
    EXPECT_TRUE(r.closed);
    EXPECT_EQ(Body(r.response), big);
  }
  close(fds[0]);
  close(fds[1]);
}

TEST(MetricsServer, ClientsThatVanishDoNotHurt) {
  auto s = OpenLocal();
  ASSERT_TRUE(s);
  Loop loop(*s, [] { return std::string(100000, 'x'); });
  // Closes after half a request; resets mid-request; closes before reading.
  int a = Connect(s->port());
  SendAll(a, "GET /met");
  close(a);
  int b = Connect(s->port());
  SendAll(b, "GET /metrics HTTP/1.1\r\n");
  linger l{1, 0};
  setsockopt(b, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  close(b);
  int c = Connect(s->port());
  SendAll(c, "GET /metrics HTTP/1.1\r\n\r\n");
  close(c);
  usleep(100000);
  EXPECT_THAT(Exchange(s->port(), "GET /healthz HTTP/1.1\r\n\r\n").response,
              StartsWith("HTTP/1.1 200 "));
  EXPECT_THAT(Exchange(s->port(), "GET /metrics HTTP/1.1\r\n\r\n").response,
              StartsWith("HTTP/1.1 200 "));
}

TEST(MetricsServer, Ipv6Loopback) {
  auto s = MetricsServer::Open("[::1]:0");
  if (!s.ok()) GTEST_SKIP() << "no IPv6 loopback here: " << s.status();
  Loop loop(**s, [] { return std::string("m 1\n"); });
  const int fd = Connect((*s)->port(), 0, AF_INET6);
  SendAll(fd, "GET /metrics HTTP/1.1\r\n\r\n");
  Served r = ReadAll(fd);
  EXPECT_THAT(r.response, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_EQ(Body(r.response), "m 1\n");
}

TEST(MetricsServer, RefusesBadAddressesAndBusyPorts) {
  for (const char* bad :
       {"", "127.0.0.1", "localhost:9464", "127.0.0.1:99999", "[::1:9464", "::1:9464"}) {
    EXPECT_FALSE(MetricsServer::Open(bad).ok()) << bad;
  }
  auto s = OpenLocal();
  ASSERT_TRUE(s);
  auto again = MetricsServer::Open("127.0.0.1:" + std::to_string(s->port()));
  ASSERT_FALSE(again.ok());
  EXPECT_THAT(std::string(again.status().message()), HasSubstr("in use"));
  // Not an address of this host.
  EXPECT_FALSE(MetricsServer::Open("192.0.2.1:0").ok());
}

}  // namespace
}  // namespace sw
