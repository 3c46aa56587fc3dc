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
#include "postgres_store.h"
#include "sqlite_store.h"
#include "sipwarden/cli.h"
#include "sipwarden/config_file.h"
#include "sipwarden/record.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051",
          "gRPC address HOST:PORT (agents and operators connect here)");
ABSL_FLAG(std::string, db, "",
          "The database: a SQLite file (created if missing; WAL journal), or a PostgreSQL URL "
          "postgresql://USER@HOST:PORT/DB that several controllers share (docs/scaling.md)");
ABSL_FLAG(uint32_t, db_pool, 4, "PostgreSQL: connections in the pool (1..256)");
ABSL_FLAG(absl::Duration, db_connect_retry, absl::Seconds(10),
          "PostgreSQL: how long to keep trying to reach the server at start before giving up");
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
ABSL_FLAG(std::string, profiles, "",
          "The fleet's per-account anomaly profiles: a directory sipwarden-profiles learn wrote "
          "(docs/profiles.md). Agents forward their call records, the central rules' "
          "compare_profiles actions compare (rules/central.yaml's profile-compare, hourly); "
          "anomalies are stored as alarms; written back every --profiles-save-every and at "
          "exit. Empty = none");
ABSL_FLAG(std::string, profiles_config, "",
          "YAML settings of the profiles (docs/profiles.md); empty = those they were learned "
          "with");
ABSL_FLAG(absl::Duration, profiles_save_every, absl::Hours(6),
          "How often --profiles is written back (0 = only at exit)");
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

// The database URL for messages: a password in it (user:password@ or
// password=...) is not printed.
std::string RedactPassword(std::string url) {
  if (const size_t at = url.find('@'), scheme = url.find("://");
      at != std::string::npos && scheme != std::string::npos && at > scheme) {
    const size_t colon = url.find(':', scheme + 3);
    if (colon != std::string::npos && colon < at) url.replace(colon + 1, at - colon - 1, "***");
  }
  for (size_t p = url.find("password="); p != std::string::npos; p = url.find("password=", p + 1)) {
    const size_t end = url.find('&', p);
    url.replace(p + 9, (end == std::string::npos ? url.size() : end) - p - 9, "***");
  }
  return url;
}

// sipwarden-controller db migrate|check.
int Db(const std::string& verb, const sw::controller::ControllerOptions& o) {
  using namespace sw::controller;
  const bool pg = IsPostgresUrl(o.db);
  const int want = pg ? PostgresStore::SchemaVersion() : SqliteStore::SchemaVersion();
  if (verb == "migrate") {
    int before = -1;
    if (pg) {
      PostgresOptions po;
      po.pool_size = 1;
      po.migrate = false;
      po.connect_retry = std::chrono::milliseconds(o.db_connect_retry_ms);
      if (auto s = PostgresStore::Open(o.db, po); s.ok()) before = (*s)->schema_version();
    } else if (auto v = SqliteStore::PeekSchema(o.db); v.ok()) {
      before = *v;
    }
    auto store = OpenStore(o);  // migrates, under an advisory lock on PostgreSQL
    if (!store.ok()) {
      std::cerr << "sipwarden-controller: " << store.status().message() << "\n";
      return 1;
    }
    std::cout << "schema " << (*store)->schema_version()
              << (before >= 0 && before < (*store)->schema_version()
                      ? absl::StrCat(" (migrated from ", before, ")")
                      : std::string(" (up to date)"))
              << "\n";
    return 0;
  }
  // check: looks only.
  int have = -1;
  std::unique_ptr<Store> store;
  if (pg) {
    PostgresOptions po;
    po.pool_size = 1;
    po.migrate = false;
    po.connect_retry = std::chrono::milliseconds(o.db_connect_retry_ms);
    auto s = PostgresStore::Open(o.db, po);
    if (!s.ok()) {
      std::cerr << "sipwarden-controller: " << s.status().message() << "\n";
      return 1;
    }
    have = (*s)->schema_version();
    store = std::move(*s);
  } else {
    auto v = SqliteStore::PeekSchema(o.db);
    if (!v.ok()) {
      std::cerr << "sipwarden-controller: " << v.status().message() << "\n";
      return 1;
    }
    have = *v;
  }
  std::cout << "schema " << have << ", this controller writes " << want;
  if (have != want) {
    std::cout << (have < want ? ": run sipwarden-controller db migrate"
                              : ": the database is newer than this controller")
              << "\n";
    return 1;
  }
  if (!store) {
    auto s = SqliteStore::Open(o.db);
    if (!s.ok()) {
      std::cout << "\n";
      std::cerr << "sipwarden-controller: " << s.status().message() << "\n";
      return 1;
    }
    store = std::move(*s);
  }
  auto d = store->LoadDecisions();
  auto agents = store->Agents();
  auto alarms = store->AlarmCount();
  if (!d.ok() || !agents.ok() || !alarms.ok()) {
    std::cout << "\n";
    std::cerr << "sipwarden-controller: reading the database failed\n";
    return 1;
  }
  std::cout << " (up to date); " << d->decisions.size() << " decisions at version " << d->version
            << ", " << agents->size() << " agents, " << *alarms << " alarms"
            << (store->shared() ? ", shared (PostgreSQL)" : "") << "\n";
  return 0;
}

int main(int argc, char** argv) {
  sw::SetUsage(
      "keeps the fleet's blocklist, pushes it to every agent,\n"
      "stores their reports and the honeypots' hits (graylisting and blocking the sources\n"
      "that call deflectors).\n"
      "usage: sipwarden-controller --db PATH|postgresql://... [--listen HOST:PORT] [--config FILE]\n"
      "                            [--db-pool N] [--db-connect-retry DUR]\n"
      "                            [--http-listen HOST:PORT] [--http-tokens FILE]\n"
      "                            [--tls-cert F --tls-key F --tls-ca F] [--insecure]\n"
      "                            [--rules FILE] [--fleet-reasons LIST] [--alarm-max-age DUR]\n"
      "                            [--alarm-max-count N] [--honeypot-policy=false]\n"
      "                            [--honeypot-window DUR] [--honeypot-graylist-ttl DUR]\n"
      "                            [--honeypot-graylist-rate N] [--honeypot-graylist-burst N]\n"
      "                            [--honeypot-block-hits N] [--honeypot-block-ttl DUR] [--quiet]\n"
      "Without TLS only loopback addresses are served unless --insecure is given.\n"
      "       sipwarden-controller db migrate --db PATH|URL   brings the schema up to date\n"
      "       sipwarden-controller db check --db PATH|URL     prints the schema and what the\n"
      "                            database holds; exits 1 when it is not at this build's schema");
  // "db migrate|check" before the flags.
  std::string db_verb;
  std::vector<char*> args(argv, argv + argc);
  if (argc >= 2 && std::string(argv[1]) == "db") {
    db_verb = argc >= 3 ? argv[2] : "";
    if (db_verb != "migrate" && db_verb != "check") {
      std::cerr << "sipwarden-controller: db needs migrate or check (see --help)\n";
      return 2;
    }
    args.erase(args.begin() + 1, args.begin() + 3);
  }
  if (!sw::ParseCommandLineWithConfig(static_cast<int>(args.size()), args.data(),
                                      "sipwarden-controller")) {
    return 2;
  }
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
  if (absl::GetFlag(FLAGS_db_pool) < 1 || absl::GetFlag(FLAGS_db_pool) > 256) {
    std::cerr << "sipwarden-controller: --db-pool must be within 1..256\n";
    return 2;
  }
  o.db_pool = absl::GetFlag(FLAGS_db_pool);
  o.db_connect_retry_ms = absl::ToInt64Milliseconds(absl::GetFlag(FLAGS_db_connect_retry));
  if (!db_verb.empty()) return Db(db_verb, o);
  o.insecure = absl::GetFlag(FLAGS_insecure);
  o.http_listen = absl::GetFlag(FLAGS_http_listen);
  o.http_tokens = absl::GetFlag(FLAGS_http_tokens);
  o.central_rules = absl::GetFlag(FLAGS_rules);
  o.profiles = absl::GetFlag(FLAGS_profiles);
  o.profiles_config = absl::GetFlag(FLAGS_profiles_config);
  o.profiles_save_every = absl::GetFlag(FLAGS_profiles_save_every);
  if (o.profiles.empty() && !o.profiles_config.empty()) {
    std::cerr << "sipwarden-controller: --profiles-config needs --profiles\n";
    return 2;
  }
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
              << ", database " << RedactPassword(o.db)
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
