// SPDX-License-Identifier: BSD-2-Clause
#include "metrics.h"

#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "maps.h"
#include "sipwarden/absl_compat.h"
#include "sipwarden/ip.h"

namespace sw {

// ---- kernel counters -------------------------------------------------------

namespace {

constexpr std::string_view kNoHelp = "Kernel counter from bpf/sipwarden.h";

std::string_view KernelStatHelp(std::string_view field) {
  static constexpr std::pair<std::string_view, std::string_view> kHelp[] = {
      {"rx_packets", "Packets seen by the XDP program"},
      {"pass_non_ip", "Non-IP packets passed untouched"},
      {"pass_other", "IP packets that are not SIP or tracked media, passed"},
      {"pass_sip", "SIP messages passed (and offered to the ring buffer)"},
      {"pass_allowed", "Packets of allowlisted sources that hit a block or a rate limit, passed"},
      {"drop_blocked", "Packets dropped because their source is blocklisted"},
      {"drop_rate", "Packets dropped by a per-source token bucket"},
      {"drop_malformed", "Malformed packets dropped (drop-malformed set)"},
      {"malformed", "Packets with truncated or inconsistent headers"},
      {"ipv4", "IPv4 packets"},
      {"ipv6", "IPv6 packets"},
      {"vlan", "Packets carrying at least one VLAN tag"},
      {"frag_first", "First IP fragments (parsed)"},
      {"frag_later", "Later IP fragments (counted and passed)"},
      {"sip_udp", "SIP messages over UDP"},
      {"sip_tcp", "SIP messages over TCP"},
      {"sip_requests", "SIP requests"},
      {"sip_responses", "SIP responses"},
      {"sip_port_not_sip", "Packets on a SIP port whose bytes are not SIP"},
      {"sip_port_keepalive", "CRLF keep-alives on SIP ports (RFC 5626)"},
      {"tcp_continuation",
       "TCP segments on SIP ports that do not start a message (copied for reassembly)"},
      {"block_expired", "Expired blocklist entries removed by the kernel"},
      {"rb_records", "Records written to the ring buffer"},
      {"rb_lost", "Records lost because the ring buffer was full"},
      {"rb_truncated", "SIP messages longer than snap_len (copied truncated)"},
      {"media_packets", "Packets to an expected media endpoint"},
      {"media_notices", "Watched-media notices posted"},
      {"rtp_not_rtp", "Packets to a media endpoint whose payload is not RTP"},
      {"drop_src_limit", "Packets dropped by a rate limit set for their one source"},
      {"src_limit_expired", "Expired per-source rate limits removed by the kernel"},
      {"tcp_over_rate",
       "TCP requests over a rate limit, passed (established connection) and charged to the "
       "source"},
      {"drop_tcp_syn", "TCP connection attempts refused: the source is over a rate limit"},
  };
  for (const auto& [name, help] : kHelp) {
    if (name == field) return help;
  }
  return kNoHelp;
}

}  // namespace

void AddKernelStats(const sw_stats& stats, PromText& out) {
#define SW_ADD_STAT(name)                                             \
  out.Counter("sipwarden_xdp_" #name "_total", KernelStatHelp(#name), \
              static_cast<double>(stats.name));
  SW_STATS_FIELDS(SW_ADD_STAT)
#undef SW_ADD_STAT
}

// ---- HTTP server -----------------------------------------------------------

namespace {

constexpr std::string_view kTextType = "text/plain; charset=utf-8";

void Text(httplib::Response& res, int status, std::string_view body) {
  res.status = status;
  res.set_content(std::string(body), std::string(kTextType));
}

std::string_view Reason(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return status >= 500 ? "Server Error" : "Client Error";
  }
}

// Why HOST:PORT cannot be bound (cpp-httplib does not say): a probe socket's errno.
absl::Status BindError(const IpAddress& addr, uint16_t port, const std::string& host_port) {
  sockaddr_storage ss;
  const socklen_t len = ToSockaddr(addr, port, &ss);
  const int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int err = fd < 0 ? errno : 0;
  if (fd >= 0) {
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) err = errno;
    close(fd);
  }
  if (err == 0) err = EADDRINUSE;
  return ErrnoStatus(err, absl::StrCat("bind metrics listener to ", host_port));
}

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Open(
    const std::string& host_port, const MetricsServerOptions& options) {
  if (options.threads < 1 || options.render_timeout <= std::chrono::milliseconds(0) ||
      options.io_timeout <= std::chrono::milliseconds(0)) {
    return absl::InvalidArgumentError("metrics server: bad options");
  }
  IpAddress addr;
  uint16_t port;
  if (auto st = ParseHostPort(host_port, &addr, &port); !st.ok()) return st;
  auto s = std::unique_ptr<MetricsServer>(new MetricsServer());
  s->opt_ = options;
  s->http_ = std::make_unique<httplib::Server>();
  httplib::Server& h = *s->http_;
  const size_t threads = static_cast<size_t>(options.threads);
  h.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // cpp-httplib sets SO_REUSEPORT by default, which would let a second
  // listener share the port: SO_REUSEADDR only.
  h.set_socket_options([](int fd) {
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  });
  h.set_address_family(addr.is_v4() ? AF_INET : AF_INET6);
  h.set_keep_alive_max_count(1);  // one request per connection
  h.set_read_timeout(options.io_timeout);
  // The wait for a connection's first byte is the keep-alive timeout, in whole seconds.
  h.set_keep_alive_timeout(std::max<time_t>(
      1, std::chrono::ceil<std::chrono::seconds>(options.io_timeout).count()));
  h.set_write_timeout(options.io_timeout);
  h.set_payload_max_length(8192);
  MetricsServer* self = s.get();
  // Every request is answered here, before cpp-httplib's routing.
  h.set_pre_routing_handler([self](const httplib::Request& req, httplib::Response& res) {
    ++self->requests_;
    const std::string& path = req.path;
    if (path != "/metrics" && path != "/" && path != "/healthz") {
      Text(res, 404, "404 Not Found\n");
    } else if (req.method != "GET" && req.method != "HEAD") {
      Text(res, 405, "405 Method Not Allowed\n");
      res.set_header("Allow", "GET, HEAD");
    } else if (path == "/healthz") {
      Text(res, 200, "ok\n");
    } else if (path == "/") {
      Text(res, 200, "sipwarden-agent: metrics at /metrics\n");
    } else {
      std::shared_ptr<const std::string> text;
      if (self->AwaitRender(&text)) {
        res.status = 200;
        res.set_content(*text, std::string(kPromContentType));
        ++self->scrapes_;
      } else {
        ++self->timeouts_;
        Text(res, 503, "503 Service Unavailable: the agent did not render its metrics in time\n");
      }
    }
    return httplib::Server::HandlerResponse::Handled;
  });
  // What cpp-httplib answers itself (400 for what does not parse) gets a body too.
  h.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty()) {
      Text(res, res.status,
           absl::StrCat(res.status, " ", AV(Reason(res.status)), "\n"));
    }
  });
  const std::string host = addr.ToString();
  if (port == 0) {
    const int bound = h.bind_to_any_port(host);
    if (bound <= 0) return BindError(addr, port, host_port);
    s->port_ = static_cast<uint16_t>(bound);
  } else {
    if (!h.bind_to_port(host, port)) return BindError(addr, port, host_port);
    s->port_ = port;
  }
  s->thread_ = std::thread([self] { self->http_->listen_after_bind(); });
  // stop() only takes effect once the server runs: wait for it.
  while (!h.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return s;
}

MetricsServer::~MetricsServer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (http_) http_->stop();
  if (thread_.joinable()) thread_.join();
}

bool MetricsServer::AwaitRender(std::shared_ptr<const std::string>* text) {
  std::unique_lock<std::mutex> lock(mu_);
  if (stopping_) return false;
  const uint64_t ticket = requested_.load() + 1;
  requested_.store(ticket, std::memory_order_release);
  cv_.wait_for(lock, opt_.render_timeout, [&] { return served_ >= ticket || stopping_; });
  if (served_ < ticket) return false;
  *text = text_;
  return true;
}

int MetricsServer::Poll(const std::function<std::string()>& render) {
  // served_ is written only here: read without the lock.
  if (requested_.load(std::memory_order_acquire) == served_) return 0;
  uint64_t target;
  {
    std::lock_guard<std::mutex> lock(mu_);
    target = requested_.load();
  }
  // Rendered outside the lock: scrapes arriving meanwhile wait for the next Poll.
  auto text = std::make_shared<const std::string>(render ? render() : std::string());
  int n;
  {
    std::lock_guard<std::mutex> lock(mu_);
    n = static_cast<int>(target - served_);
    served_ = target;
    text_ = std::move(text);
  }
  cv_.notify_all();
  return n;
}

}  // namespace sw
