// SPDX-License-Identifier: BSD-2-Clause
// sw-sipsend: a small, bounded SIP traffic source for tests, the demo and the
// lab. Sends COUNT copies of a SIP request (built in, or read from a file)
// to HOST:PORT over UDP or TCP, at a fixed rate, and stops by itself.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "sipwarden/cli.h"
#include "sipwarden/ip.h"

ABSL_FLAG(std::string, to, "", "Destination HOST:PORT or [IPv6]:PORT (required)");
ABSL_FLAG(std::string, transport, "udp", "udp or tcp");
ABSL_FLAG(std::string, method, "OPTIONS", "Request method of the built-in message");
ABSL_FLAG(std::string, user, "100", "Target user of the built-in message");
ABSL_FLAG(std::string, user_agent, "sw-sipsend", "User-Agent of the built-in message");
ABSL_FLAG(std::string, message_file, "",
          "Send these files' bytes instead (LF line ends become CRLF): one file, or several "
          "separated by commas, sent in turn; [n] in a file becomes the message's number");
ABSL_FLAG(uint64_t, count, 1, "Messages to send (at most 10000000)");
ABSL_FLAG(double, rate, 100, "Messages per second (0 = as fast as possible)");
ABSL_FLAG(double, max_seconds, 30, "Stop after this long whatever the count");
ABSL_FLAG(uint32_t, src_port, 0, "Local source port (0 = any)");
ABSL_FLAG(std::string, src_ip, "", "Local source address (one of this host's; empty = any)");
ABSL_FLAG(bool, version, false, "Print the version and exit");

namespace {

struct Target {
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string host;
  uint16_t port = 0;
};

bool ParseTarget(const std::string& text, Target& t) {
  sw::IpAddress ip;
  if (!sw::ParseHostPort(text, &ip, &t.port).ok() || t.port == 0) return false;
  t.host = ip.ToString();
  t.len = sw::ToSockaddr(ip, t.port, &t.addr);
  return true;
}

std::string BuiltIn(const Target& t, const std::string& transport, uint64_t n) {
  const std::string method = absl::GetFlag(FLAGS_method);
  const std::string host = t.addr.ss_family == AF_INET6 ? absl::StrCat("[", t.host, "]") : t.host;
  const std::string uri = absl::StrCat("sip:", absl::GetFlag(FLAGS_user), "@", host);
  std::string m = absl::StrCat(method, " ", uri, " SIP/2.0\r\n");
  absl::StrAppend(&m, "Via: SIP/2.0/", transport == "tcp" ? "TCP" : "UDP",
                  " sw-sipsend.invalid;branch=z9hG4bK-sw-", n, "\r\n");
  absl::StrAppend(&m, "Max-Forwards: 70\r\n");
  absl::StrAppend(&m, "From: <sip:sender@sw-sipsend.invalid>;tag=sw", n, "\r\n");
  absl::StrAppend(&m, "To: <", uri, ">\r\n");
  absl::StrAppend(&m, "Call-ID: sw-sipsend-", getpid(), "-", n, "\r\n");
  absl::StrAppend(&m, "CSeq: 1 ", method, "\r\n");
  absl::StrAppend(&m, "Contact: <sip:sender@sw-sipsend.invalid>\r\n");
  absl::StrAppend(&m, "User-Agent: ", absl::GetFlag(FLAGS_user_agent), "\r\n");
  absl::StrAppend(&m, "Content-Length: 0\r\n\r\n");
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  sw::SetUsage(
      "Sends a bounded number of SIP requests to HOST:PORT at a fixed rate, then stops.\n\n"
      "  sw-sipsend --to 10.0.0.1:5060 [--method INVITE] [--count 100] [--rate 50]\n"
      "             [--transport udp|tcp] [--message-file F[,F...]]\n\n"
      "For tests and labs: send only to loopback or to hosts in your own network namespaces.");
  sw::NormalizedArgs normalized(argc, argv);
  absl::ParseCommandLine(normalized.argc(), normalized.argv());
  if (absl::GetFlag(FLAGS_version)) {
    std::cout << "sw-sipsend " << SW_VERSION << "\n";
    return 0;
  }
  Target t;
  if (!ParseTarget(absl::GetFlag(FLAGS_to), t)) {
    std::cerr << "sw-sipsend: --to must be HOST:PORT or [IPv6]:PORT with a numeric address\n";
    return 2;
  }
  const std::string transport = absl::GetFlag(FLAGS_transport);
  if (transport != "udp" && transport != "tcp") {
    std::cerr << "sw-sipsend: --transport is udp or tcp\n";
    return 2;
  }
  const uint64_t count = absl::GetFlag(FLAGS_count);
  const double rate = absl::GetFlag(FLAGS_rate);
  const double max_seconds = absl::GetFlag(FLAGS_max_seconds);
  if (count == 0 || count > 10000000 || rate < 0 || max_seconds <= 0 || max_seconds > 3600) {
    std::cerr << "sw-sipsend: --count must be 1..10000000, --rate >= 0, --max-seconds 0..3600\n";
    return 2;
  }
  std::vector<std::string> files;  // message templates, sent in turn
  for (absl::string_view f : absl::StrSplit(absl::GetFlag(FLAGS_message_file), ',',
                                            absl::SkipEmpty())) {
    std::ifstream in(std::string(f), std::ios::binary);
    if (!in) {
      std::cerr << "sw-sipsend: cannot read " << f << "\n";
      return 2;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    if (text.find("\r\n") == std::string::npos) text = absl::StrReplaceAll(text, {{"\n", "\r\n"}});
    files.push_back(std::move(text));
  }

  const int fd = socket(t.addr.ss_family, transport == "tcp" ? SOCK_STREAM : SOCK_DGRAM, 0);
  if (fd < 0) {
    std::cerr << "sw-sipsend: socket: " << std::strerror(errno) << "\n";
    return 1;
  }
  const uint32_t sp = absl::GetFlag(FLAGS_src_port);
  const std::string src_ip = absl::GetFlag(FLAGS_src_ip);
  if (sp || !src_ip.empty()) {
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_storage local{};
    local.ss_family = t.addr.ss_family;
    sw::IpAddress bind_ip;
    if (!src_ip.empty()) {
      auto parsed = sw::IpAddress::Parse(src_ip);
      if (!parsed.ok() || parsed->is_v4() != (t.addr.ss_family == AF_INET)) {
        std::cerr << "sw-sipsend: --src-ip must be an address of the destination's family\n";
        return 2;
      }
      bind_ip = *parsed;
    }
    if (local.ss_family == AF_INET) {
      auto* a = reinterpret_cast<sockaddr_in*>(&local);
      a->sin_port = htons(static_cast<uint16_t>(sp));
      if (!src_ip.empty()) std::memcpy(&a->sin_addr, bind_ip.bytes.data() + 12, 4);
    } else {
      auto* a = reinterpret_cast<sockaddr_in6*>(&local);
      a->sin6_port = htons(static_cast<uint16_t>(sp));
      if (!src_ip.empty()) std::memcpy(&a->sin6_addr, bind_ip.bytes.data(), 16);
    }
    if (bind(fd, reinterpret_cast<sockaddr*>(&local), t.len) != 0) {
      std::cerr << "sw-sipsend: bind " << (src_ip.empty() ? "*" : src_ip) << ":" << sp << ": "
                << std::strerror(errno) << "\n";
      return 1;
    }
  }
  // UDP stays unconnected so ICMP port-unreachable replies do not fail later sends.
  if (transport == "tcp" && connect(fd, reinterpret_cast<sockaddr*>(&t.addr), t.len) != 0) {
    std::cerr << "sw-sipsend: connect " << absl::GetFlag(FLAGS_to) << ": " << std::strerror(errno) << "\n";
    return 1;
  }

  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration<double>(max_seconds);
  uint64_t sent = 0, errors = 0;
  for (uint64_t n = 0; n < count; ++n) {
    if (rate > 0) {
      const auto due = start + std::chrono::duration<double>(static_cast<double>(n) / rate);
      if (due > deadline) break;
      std::this_thread::sleep_until(due);
    }
    if (Clock::now() >= deadline) break;
    const std::string msg =
        files.empty() ? BuiltIn(t, transport, n)
                      : absl::StrReplaceAll(files[n % files.size()], {{"[n]", absl::StrCat(n)}});
    const ssize_t n_out = sendto(fd, msg.data(), msg.size(), MSG_NOSIGNAL,
                                 transport == "tcp" ? nullptr : reinterpret_cast<sockaddr*>(&t.addr),
                                 transport == "tcp" ? 0 : t.len);
    if (n_out == static_cast<ssize_t>(msg.size())) {
      ++sent;
    } else {
      ++errors;
      if (transport == "tcp") break;
    }
  }
  close(fd);
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::cerr << "sw-sipsend: sent " << sent << " of " << count << " to " << absl::GetFlag(FLAGS_to)
            << " over " << transport << " in " << secs << " s (" << errors << " send errors)\n";
  return sent > 0 ? 0 : 1;
}
