// SPDX-License-Identifier: BSD-2-Clause
// The Prometheus text builder, byte for byte, and the metrics HTTP server on
// loopback: driven here the way the agent drives it, by calling Poll() from
// one thread while the test's clients talk to it.
#include "metrics.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

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
  EXPECT_EQ(
      t.Take(),
      "# TYPE a gauge\na 1234567\na 0.25\na 9007199254740992\na +Inf\na -Inf\na NaN\na 1e-07\n");
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

// A loopback client: blocking connect, non-blocking reads.
int Connect(uint16_t port, int rcvbuf = 0) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_GE(fd, 0);
  if (rcvbuf) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0) << strerror(errno);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

void SendAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t r = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (r < 0 && errno == EAGAIN) {
      usleep(1000);
      continue;
    }
    ASSERT_GT(r, 0) << strerror(errno);
    bytes.remove_prefix(static_cast<size_t>(r));
  }
}

// What the client has received so far; sets *eof when the server closed.
std::string ReadSome(int fd, bool* eof) {
  std::string out;
  char buf[65536];
  while (true) {
    const ssize_t r = recv(fd, buf, sizeof(buf), 0);
    if (r > 0) {
      out.append(buf, static_cast<size_t>(r));
    } else {
      if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) *eof = true;
      return out;
    }
  }
}

struct Served {
  std::string response;
  bool closed = false;
};

// Polls the server until every client has been answered and closed (or the
// time is up), collecting what each received. Closes each client as soon as
// the server has (as Prometheus does) and the rest at the end: the fds are
// Drive's.
std::vector<Served> Drive(MetricsServer& s, const std::vector<int>& fds,
                          const std::function<std::string()>& render,
                          std::chrono::milliseconds limit = 3000ms) {
  std::vector<Served> got(fds.size());
  const auto end = Clock::now() + limit;
  while (Clock::now() < end) {
    s.Poll(render);
    EXPECT_LE(s.open_connections(), 16);
    bool all = true;
    for (size_t i = 0; i < fds.size(); ++i) {
      if (got[i].closed) continue;
      got[i].response += ReadSome(fds[i], &got[i].closed);
      if (got[i].closed) close(fds[i]);
      all = all && got[i].closed;
    }
    if (all) break;
    usleep(1000);
  }
  for (size_t i = 0; i < fds.size(); ++i) {
    if (!got[i].closed) close(fds[i]);
  }
  return got;
}

Served Exchange(
    MetricsServer& s, std::string_view request,
    const std::function<std::string()>& render = [] { return std::string("m 1\n"); }) {
  const int fd = Connect(s.port());
  SendAll(fd, request);
  return Drive(s, {fd}, render)[0];
}

std::unique_ptr<MetricsServer> OpenLocal(const MetricsServerOptions& o = {}) {
  auto s = MetricsServer::Open("127.0.0.1:0", o);
  EXPECT_TRUE(s.ok()) << s.status();
  if (!s.ok()) return nullptr;
  EXPECT_NE((*s)->port(), 0);
  return std::move(*s);
}

// Polls until the server has let go of every connection (it lingers on a
// closed one until it sees the client's end).
int Settle(MetricsServer& s) {
  for (int i = 0; i < 1000 && s.open_connections() > 0; ++i) {
    s.Poll([] { return std::string(); });
    usleep(1000);
  }
  return s.open_connections();
}

std::string Body(const std::string& response) {
  const size_t p = response.find("\r\n\r\n");
  return p == std::string::npos ? "" : response.substr(p + 4);
}

TEST(MetricsServer, ServesMetrics) {
  auto s = OpenLocal();
  ASSERT_TRUE(s);
  int renders = 0;
  const std::string text = "# TYPE x_total counter\nx_total 42\n";
  Served r = Exchange(*s, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\n\r\n", [&] {
    ++renders;
    return text;
  });
  EXPECT_TRUE(r.closed);
  EXPECT_EQ(r.response,
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
            "Content-Length: " +
                std::to_string(text.size()) +
                "\r\n"
                "Connection: close\r\n"
                "\r\n" +
                text);
  EXPECT_EQ(renders, 1);
  EXPECT_EQ(s->scrapes(), 1u);
  EXPECT_EQ(s->requests(), 1u);
  EXPECT_EQ(Settle(*s), 0);
  // HTTP/1.0, bare LF line ends, a query string and the absolute form.
  EXPECT_THAT(Exchange(*s, "GET /metrics?x=1 HTTP/1.0\n\n").response,
              StartsWith("HTTP/1.1 200 OK"));
  EXPECT_THAT(Exchange(*s, "GET http://h:9464/metrics HTTP/1.1\r\n\r\n").response,
              StartsWith("HTTP/1.1 200 OK"));
}

TEST(MetricsServer, HealthRootNotFoundAndMethods) {
  auto s = OpenLocal();
  ASSERT_TRUE(s);
  Served h = Exchange(*s, "GET /healthz HTTP/1.1\r\n\r\n");
  EXPECT_THAT(h.response, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_EQ(Body(h.response), "ok\n");
  EXPECT_THAT(Exchange(*s, "GET / HTTP/1.1\r\n\r\n").response, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(Exchange(*s, "GET /nope HTTP/1.1\r\n\r\n").response,
              StartsWith("HTTP/1.1 404 Not Found\r\n"));
  EXPECT_THAT(Exchange(*s, "GET /metricsx HTTP/1.1\r\n\r\n").response,
              StartsWith("HTTP/1.1 404 Not Found\r\n"));
  Served post = Exchange(*s, "POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
  EXPECT_THAT(post.response, StartsWith("HTTP/1.1 405 Method Not Allowed\r\n"));
  EXPECT_THAT(post.response, HasSubstr("\r\nAllow: GET, HEAD\r\n"));
  EXPECT_TRUE(post.closed);
  EXPECT_THAT(Exchange(*s, "DELETE /healthz HTTP/1.1\r\n\r\n").response,
              StartsWith("HTTP/1.1 405 "));
  // HEAD: the headers of the GET, no body.
  Served head = Exchange(*s, "HEAD /metrics HTTP/1.1\r\n\r\n", [] { return std::string(10, 'x'); });
  EXPECT_THAT(head.response, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(head.response, HasSubstr("Content-Length: 10\r\n"));
  EXPECT_EQ(Body(head.response), "");
}

TEST(MetricsServer, MalformedRequestsGet400) {
  auto s = OpenLocal();
  ASSERT_TRUE(s);
  for (const std::string& bad :
       {std::string("hello\r\n\r\n"), std::string("GET /metrics\r\n\r\n"),
        std::string("GET  /metrics HTTP/1.1\r\n\r\n"),
        std::string("GET /metrics HTTP/1.1 x\r\n\r\n"), std::string("GET /metrics HTTP/1\r\n\r\n"),
        std::string("GE(T /metrics HTTP/1.1\r\n\r\n"),
        std::string("GET /met\x01rics HTTP/1.1\r\n\r\n"),
        std::string("GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n"),
        std::string("GET /metrics HTTP/1.1\r\n: empty name\r\n\r\n"),
        std::string("GET /metrics HTTP/1.1\r\n folded: header\r\n\r\n"), std::string("\r\n\r\n"),
        std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n", 12),
        std::string("\0\0\0\n\0\n\n", 7)}) {
    Served r = Exchange(*s, bad);
    EXPECT_THAT(r.response, StartsWith("HTTP/1.1 400 Bad Request\r\n")) << bad;
    EXPECT_TRUE(r.closed) << bad;
  }
  EXPECT_THAT(Exchange(*s, "GET /metrics HTTP/2.0\r\n\r\n").response, StartsWith("HTTP/1.1 505 "));
  // A bad request line is answered without waiting for the rest of the head.
  EXPECT_THAT(Exchange(*s, "BLAH\r\n").response, StartsWith("HTTP/1.1 400 "));
  EXPECT_EQ(Settle(*s), 0);
}

TEST(MetricsServer, OversizeRequestGets400AndIsClosed) {
  auto s = OpenLocal();
  ASSERT_TRUE(s);
  // Headers beyond the 8 KiB limit.
  std::string big = "GET /metrics HTTP/1.1\r\n";
  while (big.size() < 10000) big += "X-Pad: " + std::string(100, 'a') + "\r\n";
  big += "\r\n";
  Served r = Exchange(*s, big);
  EXPECT_THAT(r.response, StartsWith("HTTP/1.1 400 Bad Request\r\n"));
  EXPECT_TRUE(r.closed);
  // A request line that never ends.
  r = Exchange(*s, std::string(9000, 'A'));
  EXPECT_THAT(r.response, StartsWith("HTTP/1.1 400 Bad Request\r\n"));
  EXPECT_TRUE(r.closed);
  // Exactly at the limit is fine.
  std::string fits = "GET /metrics HTTP/1.1\r\nX-Pad: ";
  fits += std::string(8192 - fits.size() - 4, 'b') + "\r\n\r\n";
  ASSERT_EQ(fits.size(), 8192u);
  EXPECT_THAT(Exchange(*s, fits).response, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_EQ(Settle(*s), 0);
}

TEST(MetricsServer, SlowClientPartialRequest) {
  auto s = OpenLocal();
  ASSERT_TRUE(s);
  const int fd = Connect(s->port());
  bool eof = false;
  std::string got;
  for (std::string_view piece : {"GE", "T /met", "rics HTTP/1.1\r", "\nHost: x\r\n", "\r"}) {
    SendAll(fd, piece);
    for (int i = 0; i < 5; ++i) {
      s->Poll([] { return std::string("m 1\n"); });
      usleep(2000);
    }
    got += ReadSome(fd, &eof);
    EXPECT_EQ(got, "") << "answered before the request was complete";
    EXPECT_FALSE(eof);
    EXPECT_EQ(s->open_connections(), 1);
  }
  SendAll(fd, "\n");
  Served r = Drive(*s, {fd}, [] { return std::string("m 1\n"); })[0];
  EXPECT_THAT(r.response, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_EQ(Body(r.response), "m 1\n");
}

TEST(MetricsServer, DeadlineClosesStalledClients) {
  MetricsServerOptions o;
  o.deadline = 150ms;
  auto s = OpenLocal(o);
  ASSERT_TRUE(s);
  const int stalled = Connect(s->port());
  SendAll(stalled, "GET /metrics HTTP/1.1\r\n");  // never finishes
  const int silent = Connect(s->port());          // never sends
  const auto start = Clock::now();
  std::vector<Served> r = Drive(
      *s, {stalled, silent}, [] { return std::string(); }, 2000ms);
  const auto took = Clock::now() - start;
  for (const Served& x : r) {
    EXPECT_TRUE(x.closed);
    EXPECT_EQ(x.response, "");
  }
  EXPECT_GE(took, 140ms);
  EXPECT_LT(took, 1000ms);
  EXPECT_EQ(s->bad_requests(), 2u);
  EXPECT_EQ(Settle(*s), 0);
}

TEST(MetricsServer, ManyConnectionsAllAnsweredWithinTheLimit) {
  auto s = OpenLocal();
  ASSERT_TRUE(s);
  std::vector<int> fds;
  for (int i = 0; i < 40; ++i) {
    fds.push_back(Connect(s->port()));
    SendAll(fds.back(), i % 2 ? "GET /metrics HTTP/1.1\r\n\r\n" : "GET /healthz HTTP/1.1\r\n\r\n");
  }
  int renders = 0;
  std::vector<Served> r = Drive(*s, fds, [&] {
    ++renders;
    return std::string("m 1\n");
  });
  for (size_t i = 0; i < r.size(); ++i) {
    EXPECT_TRUE(r[i].closed) << i;
    EXPECT_THAT(r[i].response, StartsWith("HTTP/1.1 200 OK\r\n")) << i;
  }
  EXPECT_EQ(s->requests(), 40u);
  EXPECT_EQ(s->scrapes(), 20u);
  EXPECT_LE(renders, 20) << "at most one render per Poll";
  EXPECT_GE(renders, 2) << "16 connections at a time: several Polls";
}

TEST(MetricsServer, RendersOncePerPoll) {
  auto s = OpenLocal();
  ASSERT_TRUE(s);
  const int a = Connect(s->port()), b = Connect(s->port());
  SendAll(a, "GET /metrics HTTP/1.1\r\n\r\n");
  SendAll(b, "GET /metrics HTTP/1.1\r\n\r\n");
  usleep(10000);
  int renders = 0;
  EXPECT_EQ(s->Poll([&] {
    ++renders;
    return std::string("m 1\n");
  }),
            2);
  EXPECT_EQ(renders, 1);
  close(a);
  close(b);
}

TEST(MetricsServer, PollReturnsPromptlyWhateverTheClientsDo) {
  auto s = OpenLocal();
  ASSERT_TRUE(s);
  auto render = [] { return std::string(1 << 20, '#') + "\n"; };  // 1 MiB
  std::vector<int> fds;
  fds.push_back(Connect(s->port()));  // silent
  fds.push_back(Connect(s->port()));
  SendAll(fds.back(), "GET /metr");  // stalled half way
  // Scrapes a megabyte and reads nothing, through a small receive buffer.
  for (int i = 0; i < 3; ++i) {
    fds.push_back(Connect(s->port(), 4096));
    SendAll(fds.back(), "GET /metrics HTTP/1.1\r\n\r\n");
  }
  auto worst = Clock::duration::zero();
  for (int i = 0; i < 100; ++i) {
    const auto t0 = Clock::now();
    s->Poll(render);
    worst = std::max(worst, Clock::now() - t0);
  }
  EXPECT_LT(worst, 50ms);
  EXPECT_EQ(s->open_connections(), 5);
  // The readers then get the whole megabyte, sent across many Polls.
  std::vector<Served> r = Drive(*s, {fds[2], fds[3], fds[4]}, render);
  for (const Served& x : r) {
    EXPECT_TRUE(x.closed);
    EXPECT_EQ(Body(x.response), render());
  }
  close(fds[0]);
  close(fds[1]);
}

TEST(MetricsServer, ClientsThatVanishDoNotHurt) {
  auto s = OpenLocal();
  ASSERT_TRUE(s);
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
  for (int i = 0; i < 20; ++i) {
    s->Poll([] { return std::string(100000, 'x'); });
    usleep(1000);
  }
  EXPECT_EQ(Settle(*s), 0);
  EXPECT_THAT(Exchange(*s, "GET /healthz HTTP/1.1\r\n\r\n").response, StartsWith("HTTP/1.1 200 "));
}

TEST(MetricsServer, Ipv6Loopback) {
  auto s = MetricsServer::Open("[::1]:0");
  if (!s.ok()) GTEST_SKIP() << "no IPv6 loopback here: " << s.status();
  const int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons((*s)->port());
  a.sin6_addr = in6addr_loopback;
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  SendAll(fd, "GET /metrics HTTP/1.1\r\n\r\n");
  Served r = Drive(**s, {fd}, [] { return std::string("m 1\n"); })[0];
  EXPECT_THAT(r.response, StartsWith("HTTP/1.1 200 OK\r\n"));
}

TEST(MetricsServer, RefusesBadAddressesAndBusyPorts) {
  for (const char* bad :
       {"", "127.0.0.1", "localhost:9464", "127.0.0.1:99999", "[::1:9464", "::1:9464"}) {
    EXPECT_FALSE(MetricsServer::Open(bad).ok()) << bad;
  }
  auto s = OpenLocal();
  ASSERT_TRUE(s);
  auto again = MetricsServer::Open("127.0.0.1:" + std::to_string(s->port()));
  EXPECT_FALSE(again.ok());
}

}  // namespace
}  // namespace sw
