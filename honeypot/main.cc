// SPDX-License-Identifier: BSD-2-Clause
// sipwarden-honeypot: the user agent server behind the honeypot's Kamailio.
// It plays the deflector users and emulated services, records callers,
// fingerprints them and reports every hit to sipwarden-controller. A thin
// main over sw_honeypot.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "controller_channel.h"
#include "hit_log.h"
#include "sipwarden/absl_compat.h"
#include "sipwarden/cli.h"
#include "sipwarden/config_file.h"
#include "uas.h"
#include "users.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:5060", "SIP over UDP: HOST:PORT to answer on");
ABSL_FLAG(std::string, controller, "",
          "sipwarden-controller HOST:PORT[,HOST:PORT...] to report hits to (empty: log only)");
ABSL_FLAG(std::string, record_dir, "", "Write each call's recording here as WAV (empty: not written)");
ABSL_FLAG(std::string, users, "",
          "The users file: USER ROLE per line, ROLE deflector|voicemail|gateway (see `sipwardenctl "
          "honeypot publish`); empty: every callee is a voicemail");
ABSL_FLAG(std::string, unknown_callee, "voicemail",
          "What plays a called user not in --users: deflector, voicemail or gateway");
ABSL_FLAG(std::string, media_ip, "",
          "Address for RTP, put in SDP (default: the --listen host, which must then not be 0.0.0.0)");
ABSL_FLAG(std::string, rtp_ports, "20000-29999", "RTP port range MIN-MAX");
ABSL_FLAG(std::string, trusted_proxy, "127.0.0.1",
          "Proxies (comma separated addresses) whose X-Sipwarden-Source header names the real caller: "
          "the honeypot's Kamailio");
ABSL_FLAG(std::string, state_dir, "/var/lib/sipwarden-honeypot",
          "Where the hit log (hits.db, SQLite) lives; hits wait there while the controller is away");
ABSL_FLAG(std::string, name, "", "This honeypot's name at the controller (default: the host name)");
ABSL_FLAG(std::string, announcements, "",
          "Directory with greeting.wav and/or unavailable.wav (8 kHz mono) replacing the built-in tones");
ABSL_FLAG(int64_t, ring_ms, 3000, "How long a deflector rings before it answers (ms)");
ABSL_FLAG(int64_t, max_call_s, 120, "Calls longer than this are ended with BYE (seconds)");
ABSL_FLAG(uint64_t, max_call_mb, 4, "At most this many MiB recorded per call (then BYE)");
ABSL_FLAG(uint64_t, max_record_mb, 1024, "At most this many MiB recorded by this process in total");
ABSL_FLAG(uint32_t, max_calls, 256, "Concurrent calls; beyond, new calls get 503");
ABSL_FLAG(std::string, register_with, "",
          "The honeypot's Kamailio (HOST:PORT): register every --users user there with this process as "
          "contact, and keep them registered (empty: none; the dispatcher reaches this process anyway)");
ABSL_FLAG(std::string, domain, "", "The users' SIP domain for --register-with (default: the registrar's host)");
ABSL_FLAG(int64_t, register_expires_s, 3600, "Registration lifetime asked for (seconds, at least 60)");
ABSL_FLAG(std::string, realm, "asterisk", "Digest realm of the REGISTER challenge");
ABSL_FLAG(std::string, server, "Asterisk PBX 18.20.0", "Server header it presents");
ABSL_FLAG(std::string, tls_cert, "", "mTLS to the controller: this honeypot's certificate (PEM)");
ABSL_FLAG(std::string, tls_key, "", "mTLS to the controller: its private key (PEM)");
ABSL_FLAG(std::string, tls_ca, "", "mTLS to the controller: the CA of the controller's certificate");
ABSL_FLAG(int64_t, stats_interval_s, 60, "Print counters to stderr this often (0: never)");
ABSL_FLAG(bool, quiet, false, "No progress messages on stderr");
ABSL_FLAG(bool, version, false, "Print the version and exit");

namespace {

std::atomic<sw::honeypot::Uas*> g_uas{nullptr};
void OnSignal(int) {
  if (auto* u = g_uas.load()) u->Stop();
}

int Fail(const std::string& msg) {
  std::cerr << "sipwarden-honeypot: " << msg << "\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  sw::SetUsage(
      "answers calls to deflector users and emulated services, records and\n"
      "fingerprints the callers, and reports every hit to sipwarden-controller, which graylists\n"
      "and blocks them in every agent's kernel.\n"
      "usage: sipwarden-honeypot --listen HOST:PORT [--controller HOST:PORT] [--record-dir DIR]\n"
      "                          [--users FILE] [--media-ip IP] [--rtp-ports MIN-MAX]\n"
      "                          [--trusted-proxy IP,...] [--state-dir DIR] [--name NAME]\n"
      "                          [--register-with HOST:PORT [--domain DOMAIN]]\n"
      "Runs behind the honeypot's Kamailio (honeypot/kamailio.cfg); see docs/honeypot.md.");
  if (!sw::ParseCommandLineWithConfig(argc, argv, "sipwarden-honeypot")) return 2;
  if (absl::GetFlag(FLAGS_version)) {
    std::printf("sipwarden-honeypot %s\n", SW_VERSION);
    return 0;
  }
  namespace hp = sw::honeypot;
  hp::UasOptions o;
  o.listen = absl::GetFlag(FLAGS_listen);
  o.media_ip = absl::GetFlag(FLAGS_media_ip);
  o.record_dir = absl::GetFlag(FLAGS_record_dir);
  o.ring_ms = absl::GetFlag(FLAGS_ring_ms);
  o.max_call_ms = absl::GetFlag(FLAGS_max_call_s) * 1000;
  o.max_call_bytes = absl::GetFlag(FLAGS_max_call_mb) << 20;
  o.max_total_bytes = absl::GetFlag(FLAGS_max_record_mb) << 20;
  o.max_calls = absl::GetFlag(FLAGS_max_calls);
  o.realm = absl::GetFlag(FLAGS_realm);
  o.server = absl::GetFlag(FLAGS_server);
  o.registrar = absl::GetFlag(FLAGS_register_with);
  o.domain = absl::GetFlag(FLAGS_domain);
  o.register_expires_s = absl::GetFlag(FLAGS_register_expires_s);
  if (o.ring_ms < 0 || o.ring_ms > 60000) return Fail("--ring-ms: 0..60000");
  if (o.max_call_ms <= 0) return Fail("--max-call-s must be positive");
  if (o.max_calls == 0) return Fail("--max-calls must be positive");
  {
    std::vector<std::string> r = absl::StrSplit(absl::GetFlag(FLAGS_rtp_ports), '-');
    uint32_t lo = 0, hi = 0;
    if (r.size() != 2 || !absl::SimpleAtoi(r[0], &lo) || !absl::SimpleAtoi(r[1], &hi) || hi > 65535) {
      return Fail(absl::StrCat("--rtp-ports ", absl::GetFlag(FLAGS_rtp_ports), ": expected MIN-MAX"));
    }
    o.rtp_port_min = static_cast<uint16_t>(lo);
    o.rtp_port_max = static_cast<uint16_t>(hi);
  }
  for (absl::string_view a : absl::StrSplit(absl::GetFlag(FLAGS_trusted_proxy), ',', absl::SkipEmpty())) {
    auto ip = sw::IpAddress::Parse(sw::SV(a));
    if (!ip.ok()) return Fail(absl::StrCat("--trusted-proxy: ", ip.status().message()));
    o.trusted_proxies.push_back(*ip);
  }
  auto unknown = hp::ParseRole(absl::GetFlag(FLAGS_unknown_callee));
  if (!unknown) return Fail(absl::StrCat("--unknown-callee ", absl::GetFlag(FLAGS_unknown_callee),
                                         ": deflector, voicemail or gateway"));
  o.unknown_callee = *unknown;
  uint32_t deflectors = 0;
  if (!absl::GetFlag(FLAGS_users).empty()) {
    auto users = hp::LoadUsers(absl::GetFlag(FLAGS_users));
    if (!users.ok()) return Fail(std::string(users.status().message()));
    for (const hp::User& u : *users) {
      o.users[u.user] = u.role;
      if (u.role == hp::Role::kDeflector) ++deflectors;
    }
  }
  auto ann = hp::LoadAnnouncements(absl::GetFlag(FLAGS_announcements));
  if (!ann.ok()) return Fail(absl::StrCat("--announcements: ", ann.status().message()));
  o.announcements = std::move(*ann);

  hp::HitLogOptions lo;
  const std::string state_dir = absl::GetFlag(FLAGS_state_dir);
  std::error_code ec;
  std::filesystem::create_directories(state_dir, ec);
  if (ec) return Fail(absl::StrCat("--state-dir ", state_dir, ": ", ec.message()));
  lo.db_path = state_dir + "/hits.db";
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  lo.hostname = host;
  lo.name = absl::GetFlag(FLAGS_name).empty() ? lo.hostname : absl::GetFlag(FLAGS_name);
  lo.version = SW_VERSION;
  lo.listen = {o.listen};
  lo.deflector_users = deflectors;
  lo.quiet = absl::GetFlag(FLAGS_quiet);
  if (!absl::GetFlag(FLAGS_controller).empty()) {
    auto list = sw::ParseControllerList(absl::GetFlag(FLAGS_controller));
    if (!list.ok()) return Fail(std::string(list.status().message()));
    lo.controllers = *list;
    auto creds = sw::ControllerCredentials(
        {absl::GetFlag(FLAGS_tls_cert), absl::GetFlag(FLAGS_tls_key), absl::GetFlag(FLAGS_tls_ca)});
    if (!creds.ok()) return Fail(std::string(creds.status().message()));
    lo.credentials = *creds;
  }
  auto log = hp::HitLog::Open(lo);
  if (!log.ok()) return Fail(std::string(log.status().message()));
  auto uas = hp::Uas::Create(std::move(o), [l = log->get()](sipwarden::v1::HoneypotHit h) { l->Add(std::move(h)); });
  if (!uas.ok()) return Fail(std::string(uas.status().message()));
  g_uas = uas->get();
  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
  if (!lo.quiet) {
    std::fprintf(stderr, "sipwarden-honeypot: answering on %s (UDP port %u), %zu users, log %s%s%s\n",
                 absl::GetFlag(FLAGS_listen).c_str(), (*uas)->port(), static_cast<size_t>(deflectors),
                 lo.db_path.c_str(), lo.controllers.empty() ? "" : ", controller ",
                 absl::GetFlag(FLAGS_controller).c_str());
  }
  std::atomic<bool> done{false};
  std::thread progress([&] {
    const int64_t every = absl::GetFlag(FLAGS_stats_interval_s);
    auto next = std::chrono::steady_clock::now() + std::chrono::seconds(every);
    while (!done) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (every <= 0 || lo.quiet || std::chrono::steady_clock::now() < next) continue;
      next += std::chrono::seconds(every);
      const auto& s = (*uas)->stats();
      const auto& l = (*log)->stats();
      std::fprintf(stderr,
                   "sipwarden-honeypot: %lu requests, %lu calls (%lu active, %lu cut, %lu refused), %lu "
                   "recordings, %lu users registered, %lu hits logged, acknowledged through id %lu%s\n",
                   s.requests.load(), s.calls.load(), s.calls_active.load(), s.calls_cut.load(),
                   s.calls_refused.load(), s.recordings.load(), s.registered.load(), l.logged.load(),
                   l.acked_through.load(),
                   lo.controllers.empty() ? "" : (l.connected ? " (controller connected)" : " (controller away)"));
    }
  });
  (*uas)->Run();
  done = true;
  progress.join();
  g_uas = nullptr;
  uas->reset();
  log->reset();  // writes what is queued
  return 0;
}
