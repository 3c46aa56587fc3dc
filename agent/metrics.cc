// SPDX-License-Identifier: BSD-2-Clause
#include "metrics.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "maps.h"
#include "sipwarden/absl_compat.h"
#include "sipwarden/ip.h"

namespace sw {

// ---- text exposition -------------------------------------------------------

namespace {

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

void AppendValue(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else {
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof(buf), v);  // shortest round trip
    out.append(buf, r.ptr);
  }
}

// HELP text escapes \ and newline; label values also ".
void AppendEscaped(std::string& out, std::string_view s, bool quote) {
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

}  // namespace

bool PromText::ValidMetricName(std::string_view name) {
  if (name.empty() || IsDigit(name[0])) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return IsAlpha(c) || IsDigit(c) || c == '_' || c == ':'; });
}

bool PromText::ValidLabelName(std::string_view name) {
  if (name.empty() || IsDigit(name[0]) || name.substr(0, 2) == "__") return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return IsAlpha(c) || IsDigit(c) || c == '_'; });
}

void PromText::Counter(std::string_view name, std::string_view help, double value,
                       const PromLabels& labels) {
  if (value < 0) {
    Fail(absl::InvalidArgumentError(absl::StrCat("counter ", AV(name), " is negative")));
    return;
  }
  Add("counter", name, help, value, labels);
}

void PromText::Gauge(std::string_view name, std::string_view help, double value,
                     const PromLabels& labels) {
  Add("gauge", name, help, value, labels);
}

void PromText::Fail(absl::Status st) {
  if (status_.ok()) status_ = std::move(st);
}

void PromText::Add(const char* type, std::string_view name, std::string_view help, double value,
                   const PromLabels& labels) {
  if (!ValidMetricName(name)) {
    Fail(absl::InvalidArgumentError(absl::StrCat("invalid metric name '", AV(name), "'")));
    return;
  }
  for (size_t i = 0; i < labels.size(); ++i) {
    const std::string& ln = labels[i].first;
    if (!ValidLabelName(ln)) {
      Fail(absl::InvalidArgumentError(absl::StrCat("invalid label name '", ln, "' on ", AV(name))));
      return;
    }
    for (size_t k = 0; k < i; ++k) {
      if (labels[k].first == ln) {
        Fail(
            absl::InvalidArgumentError(absl::StrCat("label '", ln, "' given twice on ", AV(name))));
        return;
      }
    }
  }
  auto it = std::find_if(families_.begin(), families_.end(),
                         [&](const Family& f) { return f.name == name; });
  if (it == families_.end()) {
    families_.push_back(Family{std::string(name), std::string(help), type, {}});
    it = families_.end() - 1;
  } else if (std::strcmp(it->type, type) != 0) {
    Fail(absl::InvalidArgumentError(absl::StrCat(AV(name), " is a ", it->type, ", not a ", type)));
    return;
  }
  std::string& s = it->samples;
  s.append(name);
  if (!labels.empty()) {
    s += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i) s += ',';
      s += labels[i].first;
      s += "=\"";
      AppendEscaped(s, labels[i].second, /*quote=*/true);
      s += '"';
    }
    s += '}';
  }
  s += ' ';
  AppendValue(s, value);
  s += '\n';
}

std::string PromText::Take() {
  std::string out;
  for (const Family& f : families_) {
    if (!f.help.empty()) {
      absl::StrAppend(&out, "# HELP ", f.name, " ");
      AppendEscaped(out, f.help, /*quote=*/false);
      out += '\n';
    }
    absl::StrAppend(&out, "# TYPE ", f.name, " ", f.type, "\n", f.samples);
  }
  families_.clear();
  status_ = absl::OkStatus();
  return out;
}

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

using namespace std::chrono_literals;

constexpr std::string_view kMetricsType = "text/plain; version=0.0.4; charset=utf-8";
constexpr std::string_view kTextType = "text/plain; charset=utf-8";

bool IsTchar(char c) {
  return IsAlpha(c) || IsDigit(c) || (c != '\0' && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr);
}

std::string Response(int code, std::string_view reason, std::string_view type,
                     std::string_view body, bool head_only, std::string_view extra = {}) {
  std::string r = absl::StrCat("HTTP/1.1 ", code, " ", AV(reason), "\r\nContent-Type: ", AV(type),
                               "\r\nContent-Length: ", body.size(), "\r\n", AV(extra),
                               "Connection: close\r\n\r\n");
  if (!head_only) r.append(body);
  return r;
}

std::string ErrorResponse(int code, std::string_view reason, std::string_view extra = {}) {
  return Response(code, reason, kTextType, absl::StrCat(code, " ", AV(reason), "\n"), false, extra);
}

// The outcome of looking at what has arrived of a request.
struct Parsed {
  enum class Kind { kIncomplete, kBad, kVersion, kRequest } kind = Kind::kIncomplete;
  std::string_view method, path;
  size_t head_len = 0;  // bytes through the empty line (complete requests)
};

// Checks the request line as soon as it is complete, then waits for the
// empty line ending the header section, checking each header line.
Parsed ParseHead(std::string_view in) {
  Parsed p;
  const size_t eol = in.find('\n');
  if (eol == std::string_view::npos) return p;
  std::string_view line = in.substr(0, eol);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  p.kind = Parsed::Kind::kBad;
  const size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return p;
  const size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return p;
  const std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!std::all_of(method.begin(), method.end(), IsTchar)) return p;
  for (char c : target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return p;
  }
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || !IsDigit(version[5]) ||
      version[6] != '.' || !IsDigit(version[7])) {
    return p;
  }
  // Absolute form (http://host/path) names the same resource as its path.
  for (std::string_view scheme : {"http://", "https://"}) {
    if (target.substr(0, scheme.size()) == scheme) {
      target.remove_prefix(scheme.size());
      const size_t slash = target.find('/');
      target = slash == std::string_view::npos ? "/" : target.substr(slash);
    }
  }
  target = target.substr(0, target.find_first_of("?#"));
  // Header lines up to the empty line: NAME ":" value.
  size_t pos = eol + 1;
  while (true) {
    const size_t next = in.find('\n', pos);
    if (next == std::string_view::npos) {
      p.kind = Parsed::Kind::kIncomplete;
      return p;
    }
    std::string_view h = in.substr(pos, next - pos);
    if (!h.empty() && h.back() == '\r') h.remove_suffix(1);
    pos = next + 1;
    if (h.empty()) break;
    const size_t colon = h.find(':');
    if (colon == 0 || colon == std::string_view::npos) return p;
    if (!std::all_of(h.begin(), h.begin() + static_cast<std::ptrdiff_t>(colon), IsTchar)) return p;
  }
  p.kind = version[5] == '1' ? Parsed::Kind::kRequest : Parsed::Kind::kVersion;
  p.method = method;
  p.path = target;
  p.head_len = pos;
  return p;
}

void CloseFd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Open(
    const std::string& host_port, const MetricsServerOptions& options) {
  if (options.max_request_bytes < 64 || options.max_connections < 1 ||
      options.deadline <= std::chrono::milliseconds(0)) {
    return absl::InvalidArgumentError("metrics server: bad options");
  }
  IpAddress addr;
  uint16_t port;
  if (auto st = ParseHostPort(host_port, &addr, &port); !st.ok()) return st;
  auto s = std::unique_ptr<MetricsServer>(new MetricsServer());
  s->opt_ = options;
  sockaddr_storage ss;
  const socklen_t len = ToSockaddr(addr, port, &ss);
  s->fd_ = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s->fd_ < 0) return ErrnoStatus(errno, "metrics socket");
  const int one = 1;
  setsockopt(s->fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(s->fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    return ErrnoStatus(errno, absl::StrCat("bind metrics listener to ", host_port));
  }
  if (listen(s->fd_, 64) != 0) {
    return ErrnoStatus(errno, absl::StrCat("listen on ", host_port));
  }
  sockaddr_storage bound{};
  socklen_t blen = sizeof(bound);
  if (getsockname(s->fd_, reinterpret_cast<sockaddr*>(&bound), &blen) != 0) {
    return ErrnoStatus(errno, "metrics getsockname");
  }
  s->port_ = ntohs(bound.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                              : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  return s;
}

MetricsServer::~MetricsServer() {
  for (Conn& c : conns_) CloseFd(c.fd);
  CloseFd(fd_);
}

int MetricsServer::Poll(const std::function<std::string()>& render) {
  const Clock::time_point now = Clock::now();
  // Accept what is pending, up to the connection limit; beyond it clients
  // wait in the backlog until a slot frees.
  for (int tries = 0; static_cast<int>(conns_.size()) < opt_.max_connections && tries < 64;
       ++tries) {
    const int cfd = accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (cfd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
      break;  // EAGAIN: none pending; EMFILE and the like: try again next Poll
    }
    Conn c;
    c.fd = cfd;
    c.deadline = now + opt_.deadline;
    conns_.push_back(std::move(c));
  }
  std::string rendered;
  bool have_rendered = false;
  int answered = 0;
  for (Conn& c : conns_) {
    bool keep = true;
    if (now >= c.deadline) {
      if (c.state == Conn::State::kReading) ++bad_;
      keep = false;
    } else if (c.state == Conn::State::kReading) {
      keep = Read(c, render, rendered, have_rendered, answered);
    }
    if (keep && c.state == Conn::State::kWriting) keep = Write(c);
    if (keep && c.state == Conn::State::kLingering) keep = Linger(c);
    if (!keep) CloseFd(c.fd);
  }
  conns_.erase(std::remove_if(conns_.begin(), conns_.end(), [](const Conn& c) { return c.fd < 0; }),
               conns_.end());
  return answered;
}

bool MetricsServer::Read(Conn& c, const std::function<std::string()>& render, std::string& rendered,
                         bool& have_rendered, int& answered) {
  bool eof = false;
  char buf[4096];
  // Read at most one byte past the limit: enough to know the request is too big.
  while (c.in.size() <= opt_.max_request_bytes) {
    const size_t room = opt_.max_request_bytes + 1 - c.in.size();
    const ssize_t r = recv(c.fd, buf, std::min(room, sizeof(buf)), 0);
    if (r > 0) {
      c.in.append(buf, static_cast<size_t>(r));
    } else if (r == 0) {
      eof = true;
      break;
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      break;
    } else {
      return false;  // reset by the peer
    }
  }
  const Parsed p = ParseHead(c.in);
  if (p.kind == Parsed::Kind::kIncomplete && c.in.size() <= opt_.max_request_bytes) {
    if (!eof) return true;
    ++bad_;
    return false;  // the peer gave up before the request was whole
  }
  if (p.kind == Parsed::Kind::kBad || p.kind == Parsed::Kind::kIncomplete ||
      p.head_len > opt_.max_request_bytes) {
    c.out = ErrorResponse(400, "Bad Request");
    ++bad_;
  } else if (p.kind == Parsed::Kind::kVersion) {
    c.out = ErrorResponse(505, "HTTP Version Not Supported");
  } else {
    const bool head_only = p.method == "HEAD";
    const bool known = p.path == "/metrics" || p.path == "/" || p.path == "/healthz";
    if (!known) {
      c.out = ErrorResponse(404, "Not Found");
    } else if (p.method != "GET" && !head_only) {
      c.out = ErrorResponse(405, "Method Not Allowed", "Allow: GET, HEAD\r\n");
    } else if (p.path == "/metrics") {
      if (!have_rendered) {
        rendered = render ? render() : std::string();
        have_rendered = true;
      }
      c.out = Response(200, "OK", kMetricsType, rendered, head_only);
      ++scrapes_;
    } else if (p.path == "/healthz") {
      c.out = Response(200, "OK", kTextType, "ok\n", head_only);
    } else {
      c.out = Response(200, "OK", kTextType, "sipwarden-agent: metrics at /metrics\n", head_only);
    }
  }
  ++requests_;
  ++answered;
  c.in.clear();
  c.in.shrink_to_fit();
  c.state = Conn::State::kWriting;
  return true;
}

bool MetricsServer::Write(Conn& c) {
  while (c.sent < c.out.size()) {
    const ssize_t r =
        send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (r > 0) {
      c.sent += static_cast<size_t>(r);
    } else if (r < 0 && errno == EINTR) {
      continue;
    } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return true;  // the rest on the next Poll
    } else {
      return false;
    }
  }
  c.out.clear();
  c.out.shrink_to_fit();
  // Closing with unread request bytes queued would reset the connection and
  // could destroy the response in flight: half-close, then read until the
  // peer closes (or a short while passes).
  shutdown(c.fd, SHUT_WR);
  c.state = Conn::State::kLingering;
  c.deadline = Clock::now() + std::min<Clock::duration>(opt_.deadline, 1000ms);
  return true;
}

bool MetricsServer::Linger(Conn& c) {
  char buf[4096];
  for (int i = 0; i < 16; ++i) {
    const ssize_t r = recv(c.fd, buf, sizeof(buf), 0);
    if (r > 0) continue;
    if (r < 0 && errno == EINTR) continue;
    return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
  return true;
}

}  // namespace sw
