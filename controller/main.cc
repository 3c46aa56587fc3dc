// SPDX-License-Identifier: BSD-2-Clause
// sipwarden-controller: keeps the fleet's blocklist and pushes it into every
// agent's kernel, stores what agents report. A thin main over sw_controller.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "controller.h"
#include "sipwarden/cli.h"
#include "sipwarden/config_file.h"
#include "sipwarden/record.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051",
          "gRPC address HOST:PORT (agents and operators connect here)");
ABSL_FLAG(std::string, db, "", "SQLite database file (created if missing; WAL journal)");
ABSL_FLAG(std::string, tls_cert, "", "mTLS: this controller's certificate (PEM)");
ABSL_FLAG(std::string, tls_key, "", "mTLS: this controller's private key (PEM)");
ABSL_FLAG(std::string, tls_ca, "",
          "mTLS: the CA that signs clients' certificates (PEM); a client's common name is its "
          "name, its organisational unit its role (agent or operator)");
ABSL_FLAG(bool, insecure, false,
          "Serve a non-loopback address without TLS (anyone who reaches it can block and allow)");
ABSL_FLAG(std::string, http_listen, "",
          "Serve the console, the JSON API (docs/api.md) and /metrics on HOST:PORT (empty = "
          "off); HTTPS with the --tls-* files");
ABSL_FLAG(std::string, http_tokens, "",
          "Bearer tokens of the HTTP API: a file of lines 'ROLE NAME TOKEN' (ROLE operator or "
          "read-only); without it and without TLS the HTTP port is open to whoever reaches it "
          "(loopback only)");
ABSL_FLAG(std::string, rules, "",
          "Central rule file, run over the events agents forward (default: the built-in "
          "rules/central.yaml)");
ABSL_FLAG(std::string, fleet_reasons, "flood,scan,bruteforce,enumeration",
          "Agents' own blocks with these reasons become fleet-wide decisions (comma separated; "
          "empty = none)");
ABSL_FLAG(absl::Duration, alarm_max_age, absl::Hours(24 * 30),
          "Alarms older than this are deleted; honeypot hits too");
ABSL_FLAG(uint64_t, alarm_max_count, 1000000,
          "At most this many alarms are kept (oldest deleted); as many honeypot hits besides");
ABSL_FLAG(bool, honeypot_policy, true,
          "Turn honeypot hits into fleet decisions (false: store them only); see "
          "docs/controller.md, The honeypot policy");
ABSL_FLAG(absl::Duration, honeypot_window, absl::Hours(1),
          "A source's honeypot hits within this window count together: its first is graylisted, "
          "more block it");
ABSL_FLAG(absl::Duration, honeypot_graylist_ttl, absl::Hours(1),
          "How long a source graylisted on its first honeypot hit stays graylisted");
ABSL_FLAG(uint32_t, honeypot_graylist_rate, 5,
          "A graylisted source's requests per second (every agent's kernel)");
ABSL_FLAG(uint32_t, honeypot_graylist_burst, 20, "A graylisted source's bucket depth (requests)");
ABSL_FLAG(uint32_t, honeypot_block_hits, 2,
          "Separate calls to deflectors (distinct called user and Call-ID) within the window "
          "that block the source; hits at two honeypots block it too");
ABSL_FLAG(absl::Duration, honeypot_block_ttl, absl::Hours(24),
          "How long a source the honeypot policy blocks stays blocked");
ABSL_FLAG(absl::Duration, watch_grace, absl::Seconds(2),
          "A central rule's media watch starts this long after it is asked for (media still in "
          "flight when a call ended is not reported)");
ABSL_FLAG(std::string, config, "",
          "YAML file of flag values (flag names as keys, dashes or underscores); flags on the "
          "command line override it");
ABSL_FLAG(bool, quiet, false, "No progress messages on stderr");
ABSL_FLAG(bool, version, false, "Print the version and exit");

namespace {
std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }
}  // namespace

int main(int argc, char** argv) {
  sw::SetUsage(
      "keeps the fleet's blocklist, pushes it to every agent,\n"
      "stores their reports and the honeypots' hits (graylisting and blocking the sources\n"
      "that call deflectors).\n"
      "usage: sipwarden-controller --db PATH [--listen HOST:PORT] [--config FILE]\n"
      "                            [--http-listen HOST:PORT] [--http-tokens FILE]\n"
      "                            [--tls-cert F --tls-key F --tls-ca F] [--insecure]\n"
      "                            [--rules FILE] [--fleet-reasons LIST] [--alarm-max-age DUR]\n"
      "                            [--alarm-max-count N] [--honeypot-policy=false]\n"
      "                            [--honeypot-window DUR] [--honeypot-graylist-ttl DUR]\n"
      "                            [--honeypot-graylist-rate N] [--honeypot-graylist-burst N]\n"
      "                            [--honeypot-block-hits N] [--honeypot-block-ttl DUR] [--quiet]\n"
      "Without TLS only loopback addresses are served unless --insecure is given.");
  if (!sw::ParseCommandLineWithConfig(argc, argv, "sipwarden-controller")) return 2;
  if (absl::GetFlag(FLAGS_version)) {
    std::printf("sipwarden-controller %s\n", SW_VERSION);
    return 0;
  }
  sw::controller::ControllerOptions o;
  if (absl::GetFlag(FLAGS_db).empty()) {
    std::cerr << "sipwarden-controller: --db is required (see --help)\n";
    return 2;
  }
  o.listen = absl::GetFlag(FLAGS_listen);
  o.db = absl::GetFlag(FLAGS_db);
  o.insecure = absl::GetFlag(FLAGS_insecure);
  o.http_listen = absl::GetFlag(FLAGS_http_listen);
  o.http_tokens = absl::GetFlag(FLAGS_http_tokens);
  o.central_rules = absl::GetFlag(FLAGS_rules);
  o.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  o.tls_key = absl::GetFlag(FLAGS_tls_key);
  o.tls_ca = absl::GetFlag(FLAGS_tls_ca);
  o.quiet = absl::GetFlag(FLAGS_quiet);
  o.fleet_reasons.clear();
  for (absl::string_view r : absl::StrSplit(absl::GetFlag(FLAGS_fleet_reasons), ',', absl::SkipEmpty())) {
    if (auto reason = sw::ReasonFromName(std::string(r)); !reason.ok()) {
      std::cerr << "sipwarden-controller: --fleet-reasons: " << reason.status().message() << "\n";
      return 2;
    }
    o.fleet_reasons.insert(std::string(r));
  }
  if (absl::GetFlag(FLAGS_watch_grace) < absl::ZeroDuration()) {
    std::cerr << "sipwarden-controller: --watch-grace must not be negative\n";
    return 2;
  }
  o.watch_grace_ns = absl::ToInt64Nanoseconds(absl::GetFlag(FLAGS_watch_grace));
  o.alarm_max_age_ns = absl::ToInt64Nanoseconds(absl::GetFlag(FLAGS_alarm_max_age));
  o.alarm_max_count = absl::GetFlag(FLAGS_alarm_max_count);
  // Automatic decisions always end: a zero, negative or endless duration is refused.
  for (const auto& [name, d] : std::vector<std::pair<const char*, absl::Duration>>{
           {"--honeypot-window", absl::GetFlag(FLAGS_honeypot_window)},
           {"--honeypot-graylist-ttl", absl::GetFlag(FLAGS_honeypot_graylist_ttl)},
           {"--honeypot-block-ttl", absl::GetFlag(FLAGS_honeypot_block_ttl)}}) {
    if (d <= absl::ZeroDuration() || d > absl::Hours(24 * 365 * 10)) {
      std::cerr << "sipwarden-controller: " << name
                << " must be positive and at most 10 years, not " << absl::FormatDuration(d)
                << "\n";
      return 2;
    }
  }
  for (const auto& [name, v] : std::vector<std::pair<const char*, uint32_t>>{
           {"--honeypot-graylist-rate", absl::GetFlag(FLAGS_honeypot_graylist_rate)},
           {"--honeypot-graylist-burst", absl::GetFlag(FLAGS_honeypot_graylist_burst)},
           {"--honeypot-block-hits", absl::GetFlag(FLAGS_honeypot_block_hits)}}) {
    if (v < 1 || v > 1000000000u) {
      std::cerr << "sipwarden-controller: " << name << " must be within 1..1000000000, not " << v
                << "\n";
      return 2;
    }
  }
  o.honeypot.enabled = absl::GetFlag(FLAGS_honeypot_policy);
  o.honeypot.window_ns = absl::ToInt64Nanoseconds(absl::GetFlag(FLAGS_honeypot_window));
  o.honeypot.graylist_ttl_ns = absl::ToInt64Nanoseconds(absl::GetFlag(FLAGS_honeypot_graylist_ttl));
  o.honeypot.graylist_rate = absl::GetFlag(FLAGS_honeypot_graylist_rate);
  o.honeypot.graylist_burst = absl::GetFlag(FLAGS_honeypot_graylist_burst);
  o.honeypot.block_hits = absl::GetFlag(FLAGS_honeypot_block_hits);
  o.honeypot.block_ttl_ns = absl::ToInt64Nanoseconds(absl::GetFlag(FLAGS_honeypot_block_ttl));
  auto c = sw::controller::Controller::Start(o);
  if (!c.ok()) {
    std::cerr << "sipwarden-controller: " << c.status().message() << "\n";
    return 1;
  }
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  if (!o.quiet) {
    std::cerr << "sipwarden-controller: serving on port " << (*c)->port() << " (" << o.listen
              << (o.tls_ca.empty() ? ", no TLS" : ", mTLS") << ")"
              << ((*c)->http_port() != 0
                      ? absl::StrCat(", console and API on ", o.tls_ca.empty() ? "http" : "https",
                                     " port ", (*c)->http_port(),
                                     o.http_tokens.empty() ? "" : " (tokens)")
                      : std::string())
              << ", database " << o.db
              << ", decision version " << (*c)->decisions().version()
              << ", fleet reasons: " << absl::StrJoin(o.fleet_reasons, ",") << ", honeypot policy: "
              << (o.honeypot.enabled
                      ? absl::StrCat(
                            "graylist ", o.honeypot.graylist_rate, "/s burst ",
                            o.honeypot.graylist_burst, " for ",
                            absl::FormatDuration(absl::GetFlag(FLAGS_honeypot_graylist_ttl)),
                            ", block at ", o.honeypot.block_hits, " calls or 2 honeypots within ",
                            absl::FormatDuration(absl::GetFlag(FLAGS_honeypot_window)), " for ",
                            absl::FormatDuration(absl::GetFlag(FLAGS_honeypot_block_ttl)))
                      : std::string("off (hits stored only)"))
              << "; agents forward: " << absl::StrJoin((*c)->central().forward(), ",") << "\n";
  }
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  (*c)->Shutdown();
  if (!o.quiet) std::cerr << "sipwarden-controller: stopped\n";
  return 0;
}
