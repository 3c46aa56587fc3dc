// SPDX-License-Identifier: BSD-2-Clause
// sipwardenctl: the operator's view of a host's kernel state — blocklist,
// allowlist, counters, per-source state and settings — through the maps a
// sipwarden-agent pinned.
#include <openssl/rand.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "sipwarden/cli.h"
#include "fleet.h"
#include "honeypot_tools.h"
#include "maps.h"
#include "sipwarden/absl_compat.h"
#include "sipwarden/json.h"
#include "sipwarden/record.h"
#include "sipwarden/rules/ruleset.h"
#include "sipwarden/status_macros.h"

ABSL_FLAG(std::string, pin_dir, sw::kDefaultPinDir, "bpffs directory holding the agent's maps");
ABSL_FLAG(std::string, ttl, "1h", "Block lifetime (e.g. 30s, 10m, 2h, 7d; 0 or forever = no expiry)");
ABSL_FLAG(std::string, reason, "manual", "Why a prefix is blocked (manual, flood, scan, ...)");
ABSL_FLAG(uint32_t, rate, 0, "limit add: requests per second allowed from the source");
ABSL_FLAG(uint32_t, burst, 0, "limit add: bucket depth (default: one second's worth)");
ABSL_FLAG(bool, json, false, "Print lists and counters as JSON lines");
ABSL_FLAG(int, top, 20, "sources: how many sources to show");
ABSL_FLAG(bool, version, false, "Print the version and exit");
ABSL_FLAG(std::string, controller, "",
          "Act fleet-wide through sipwarden-controller at HOST:PORT instead of on local maps");
ABSL_FLAG(std::string, name, "",
          "--controller: the operator's name in the controller's audit log (default: $USER)");
ABSL_FLAG(std::string, tls_cert, "", "--controller over mTLS: the operator's certificate (PEM)");
ABSL_FLAG(std::string, tls_key, "", "--controller over mTLS: the operator's private key (PEM)");
ABSL_FLAG(std::string, tls_ca, "", "--controller over mTLS: the CA of the controller's certificate");
ABSL_FLAG(bool, follow, false, "alarms: keep printing alarms as they arrive");
ABSL_FLAG(std::string, category, "", "alarms: only this category");
ABSL_FLAG(std::string, src, "",
          "alarms: only alarms accusing this address; honeypot hits: only hits from it");
ABSL_FLAG(std::string, since, "",
          "alarms, honeypot hits and calls: only the last DUR (e.g. 10m, 2h, 7d)");
ABSL_FLAG(int, limit, 100,
          "alarms, honeypot hits, calls and campaigns: at most this many (the newest)");
ABSL_FLAG(std::string, callee, "",
          "honeypot hits: only hits on this called user; honeypot calls: the real user whose "
          "deflected calls to list (required)");
ABSL_FLAG(std::string, honeypot, "", "honeypot hits and calls: only this honeypot's");
ABSL_FLAG(std::string, role, "operator",
          "token new: the token's role, operator (may change state) or read-only");
ABSL_FLAG(int, min_sources, 1,
          "honeypot campaigns: only campaigns (calls carrying one recorded message) from at least "
          "this many source addresses");

namespace {

constexpr char kUsage[] =
    "Inspects and changes the kernel state of a sipwarden-protected host.\n\n"
    "  sipwardenctl block add PREFIX [--ttl DUR] [--reason TEXT]\n"
    "  sipwardenctl block del PREFIX\n"
    "  sipwardenctl block list [--json]\n"
    "  sipwardenctl allow add|del PREFIX\n"
    "  sipwardenctl allow list [--json]\n"
    "  sipwardenctl limit add ADDRESS --rate N [--burst N] [--ttl DUR]\n"
    "  sipwardenctl limit del ADDRESS\n"
    "  sipwardenctl limit list [--json]   (per-source request rate limits)\n"
    "  sipwardenctl stats [--json]\n"
    "  sipwardenctl sources [--top N] [--json]\n"
    "  sipwardenctl config show\n"
    "  sipwardenctl config set KEY VALUE   (invite-rate, invite-burst, register-rate,\n"
    "        register-burst, other-rate, other-burst, snap-len, drop-malformed 0|1)\n"
    "  sipwardenctl rules check FILE   (prints FILE:LINE:COL: message per error)\n"
    "  sipwardenctl token new NAME [--role operator|read-only]   (a line for the controller's\n"
    "        --http-tokens file: ROLE NAME TOKEN, 256 random bits)\n"
    "  sipwardenctl honeypot publish --domain DOMAIN --out FILE [--users FILE | --count N\n"
    "        [--seed S]] [--registrations-out FILE]   (a web page that hands deflector URIs\n"
    "        to address harvesters, and the users file for sipwarden-honeypot --users)\n"
    "  sipwardenctl honeypot deflection [--real X,...] [--deflectors Y,...] [--calls N]\n"
    "        [--bots N] [--block-after N] [--seed S] [--json]   (simulated share of a SPIT\n"
    "        bot's calls the deflectors absorb, real calls before graylist and block)\n\n"
    "Fleet-wide, through the controller (--controller HOST:PORT [--name OPERATOR]\n"
    "[--tls-cert F --tls-key F --tls-ca F]):\n"
    "  sipwardenctl --controller C block add PREFIX [--ttl DUR] [--reason TEXT]\n"
    "  sipwardenctl --controller C block del|list ...   allow add|del|list ...\n"
    "  sipwardenctl --controller C graylist list [--json]   (the honeypot policy's graylists:\n"
    "        rate, burst, expiry; block del HOST lifts one)\n"
    "  sipwardenctl --controller C agents [--json]\n"
    "  sipwardenctl --controller C alarms [--follow] [--category C] [--src IP] [--since DUR]\n"
    "  sipwardenctl --controller C stats [--json]\n"
    "  sipwardenctl --controller C honeypot hits [--src IP] [--callee USER] [--honeypot NAME]\n"
    "        [--since DUR] [--limit N] [--json]   (what the honeypots saw, newest last)\n"
    "  sipwardenctl --controller C honeypot calls --callee USER [--since DUR] [--json]\n"
    "        (calls to a real user that a proxy deflected to a honeypot, with recordings)\n"
    "  sipwardenctl --controller C honeypot campaigns [--min-sources N] [--json]\n"
    "        (calls grouped by the recorded message they carried)\n\n"
    "PREFIX is an IPv4 or IPv6 address or prefix (192.0.2.7, 198.51.100.0/24, 2001:db8::/32).\n"
    "Common flags: --pin-dir DIR (default /sys/fs/bpf/sipwarden). Flags may use dashes or\n"
    "underscores and may come before or after the verb.";

absl::StatusOr<absl::Duration> ParseTtl(std::string_view text) {
  if (text == "0" || text == "forever" || text == "never") return absl::ZeroDuration();
  absl::Duration d;
  if (!text.empty() && text.back() == 'd') {
    double days;
    if (absl::SimpleAtod(sw::AV(text.substr(0, text.size() - 1)), &days) && days > 0) {
      return absl::Hours(24) * days;
    }
  } else if (absl::ParseDuration(sw::AV(text), &d) && d > absl::ZeroDuration() &&
             d != absl::InfiniteDuration()) {
    return d;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "bad --ttl '", sw::AV(text), "' (examples: 30s, 10m, 2h, 7d, forever)"));
}

std::string FormatLeft(uint64_t expires_ns, uint64_t now) {
  if (!expires_ns) return "forever";
  if (expires_ns <= now) return "expired";
  return absl::FormatDuration(absl::Seconds((expires_ns - now) / 1000000000ull));
}

// Opens the pinned maps; called only once the command line has been checked.
absl::StatusOr<sw::Maps> OpenMaps() { return sw::Maps::OpenPinned(absl::GetFlag(FLAGS_pin_dir)); }

absl::Status Block(const std::vector<std::string>& args) {
  const std::string verb = args.size() > 1 ? args[1] : "";
  if (verb == "add" || verb == "del") {
    if (args.size() != 3) return absl::InvalidArgumentError(absl::StrCat("usage: block ", verb, " PREFIX"));
    SW_ASSIGN_OR_RETURN(auto prefix, sw::IpPrefix::Parse(args[2]));
    SW_ASSIGN_OR_RETURN(auto ttl, ParseTtl(absl::GetFlag(FLAGS_ttl)));
    SW_ASSIGN_OR_RETURN(uint32_t reason, sw::ReasonFromName(absl::GetFlag(FLAGS_reason)));
    SW_ASSIGN_OR_RETURN(auto maps, OpenMaps());
    if (verb == "del") {
      SW_RETURN_IF_ERROR(maps.BlockDel(prefix));
      std::cout << "unblocked " << prefix.ToString() << "\n";
      return absl::OkStatus();
    }
    SW_RETURN_IF_ERROR(maps.BlockAdd(prefix, ttl, reason));
    std::cout << "blocked " << prefix.ToString() << " for "
              << (ttl == absl::ZeroDuration() ? "ever" : absl::FormatDuration(ttl)) << " ("
              << sw::ReasonName(reason) << ")\n";
    return absl::OkStatus();
  }
  if (verb == "list") {
    SW_ASSIGN_OR_RETURN(auto maps, OpenMaps());
    SW_ASSIGN_OR_RETURN(auto entries, maps.BlockList());
    const uint64_t now = sw::BootNs();
    if (absl::GetFlag(FLAGS_json)) {
      const int64_t off = sw::BootToUnixOffsetNs();
      for (const auto& e : entries) {
        sw::JsonWriter w;
        w.BeginObject().Field("prefix", e.prefix.ToString()).Field("reason", sw::ReasonName(e.value.reason));
        w.Field("added", sw::FormatRfc3339(static_cast<int64_t>(e.value.added_ns) + off));
        if (e.value.expires_ns) {
          w.Field("expires", sw::FormatRfc3339(static_cast<int64_t>(e.value.expires_ns) + off));
        } else {
          w.Key("expires").Null();
        }
        w.Field("expired", e.value.expires_ns != 0 && e.value.expires_ns <= now);
        w.Field("hits", static_cast<uint64_t>(e.value.hits)).EndObject();
        std::cout << w.str() << "\n";
      }
      return absl::OkStatus();
    }
    std::cout << absl::StrFormat("%-43s %-18s %-12s %s\n", "PREFIX", "REASON", "EXPIRES IN", "HITS");
    for (const auto& e : entries) {
      std::cout << absl::StrFormat("%-43s %-18s %-12s %d\n", e.prefix.ToString(),
                                   sw::AV(sw::ReasonName(e.value.reason)),
                                   FormatLeft(e.value.expires_ns, now), e.value.hits);
    }
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError("usage: block add|del|list ...");
}

absl::Status Allow(const std::vector<std::string>& args) {
  const std::string verb = args.size() > 1 ? args[1] : "";
  if (verb == "add" || verb == "del") {
    if (args.size() != 3) return absl::InvalidArgumentError(absl::StrCat("usage: allow ", verb, " PREFIX"));
    SW_ASSIGN_OR_RETURN(auto prefix, sw::IpPrefix::Parse(args[2]));
    SW_ASSIGN_OR_RETURN(auto maps, OpenMaps());
    if (verb == "add") {
      SW_RETURN_IF_ERROR(maps.AllowAdd(prefix));
      std::cout << "allowed " << prefix.ToString() << " (never dropped, never rate limited)\n";
    } else {
      SW_RETURN_IF_ERROR(maps.AllowDel(prefix));
      std::cout << "removed " << prefix.ToString() << " from the allowlist\n";
    }
    return absl::OkStatus();
  }
  if (verb == "list") {
    SW_ASSIGN_OR_RETURN(auto maps, OpenMaps());
    SW_ASSIGN_OR_RETURN(auto entries, maps.AllowList());
    for (const auto& e : entries) {
      if (absl::GetFlag(FLAGS_json)) {
        sw::JsonWriter w;
        w.BeginObject().Field("prefix", e.prefix.ToString()).Field("hits", static_cast<uint64_t>(e.value.hits)).EndObject();
        std::cout << w.str() << "\n";
      } else {
        std::cout << absl::StrFormat("%-43s hits=%d\n", e.prefix.ToString(), e.value.hits);
      }
    }
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError("usage: allow add|del|list ...");
}

// Rate limits on single sources (what rules' rate_limit actions set).
absl::Status Limit(const std::vector<std::string>& args) {
  const std::string verb = args.size() > 1 ? args[1] : "";
  if (verb == "add" || verb == "del") {
    if (args.size() != 3) {
      return absl::InvalidArgumentError(absl::StrCat("usage: limit ", verb, " ADDRESS"));
    }
    SW_ASSIGN_OR_RETURN(auto addr, sw::IpAddress::Parse(args[2]));
    if (verb == "del") {
      SW_ASSIGN_OR_RETURN(auto maps, OpenMaps());
      SW_RETURN_IF_ERROR(maps.SrcLimitDel(addr));
      std::cout << "removed the rate limit of " << addr.ToString() << "\n";
      return absl::OkStatus();
    }
    const uint32_t rate = absl::GetFlag(FLAGS_rate);
    if (rate == 0) return absl::InvalidArgumentError("limit add needs --rate N (N >= 1)");
    SW_ASSIGN_OR_RETURN(auto ttl, ParseTtl(absl::GetFlag(FLAGS_ttl)));
    SW_ASSIGN_OR_RETURN(uint32_t reason, sw::ReasonFromName(absl::GetFlag(FLAGS_reason)));
    SW_ASSIGN_OR_RETURN(auto maps, OpenMaps());
    SW_RETURN_IF_ERROR(maps.SrcLimitSet(addr, rate, absl::GetFlag(FLAGS_burst), ttl, reason));
    std::cout << "limited " << addr.ToString() << " to " << rate << " requests/s for "
              << (ttl == absl::ZeroDuration() ? "ever" : absl::FormatDuration(ttl)) << "\n";
    return absl::OkStatus();
  }
  if (verb != "list") return absl::InvalidArgumentError("usage: limit add|del|list ...");
  SW_ASSIGN_OR_RETURN(auto maps, OpenMaps());
  SW_ASSIGN_OR_RETURN(auto entries, maps.SrcLimits());
  const uint64_t now = sw::BootNs();
  if (!absl::GetFlag(FLAGS_json)) {
    std::cout << absl::StrFormat("%-40s %10s %8s %-18s %-12s %s\n", "SOURCE", "RATE/S", "BURST",
                                 "REASON", "EXPIRES IN", "DROPPED");
  }
  for (const auto& e : entries) {
    if (absl::GetFlag(FLAGS_json)) {
      sw::JsonWriter w;
      w.BeginObject().Field("src_ip", e.addr.ToString());
      w.Field("rate", static_cast<uint64_t>(e.value.rate));
      w.Field("burst", static_cast<uint64_t>(e.value.burst));
      w.Field("reason", sw::ReasonName(e.value.reason));
      w.Field("expires_in_s", e.value.expires_ns ? static_cast<double>(static_cast<int64_t>(
                                                       e.value.expires_ns - now)) / 1e9
                                                 : -1.0);
      w.Field("dropped", static_cast<uint64_t>(e.value.dropped)).EndObject();
      std::cout << w.str() << "\n";
      continue;
    }
    std::cout << absl::StrFormat("%-40s %10d %8d %-18s %-12s %d\n", e.addr.ToString(),
                                 e.value.rate, e.value.burst,
                                 sw::AV(sw::ReasonName(e.value.reason)),
                                 FormatLeft(e.value.expires_ns, now), e.value.dropped);
  }
  return absl::OkStatus();
}

absl::Status Stats() {
  SW_ASSIGN_OR_RETURN(auto maps, OpenMaps());
  SW_ASSIGN_OR_RETURN(sw_stats st, maps.ReadStats());
  if (absl::GetFlag(FLAGS_json)) {
    sw::JsonWriter w;
    w.BeginObject();
#define SW_FIELD(name) w.Field(#name, static_cast<uint64_t>(st.name));
    SW_STATS_FIELDS(SW_FIELD)
#undef SW_FIELD
    w.EndObject();
    std::cout << w.str() << "\n";
    return absl::OkStatus();
  }
#define SW_LINE(name) std::cout << absl::StrFormat("%-20s %d\n", #name, st.name);
  SW_STATS_FIELDS(SW_LINE)
#undef SW_LINE
  return absl::OkStatus();
}

absl::Status Sources() {
  SW_ASSIGN_OR_RETURN(auto maps, OpenMaps());
  SW_ASSIGN_OR_RETURN(auto sources, maps.Sources());
  auto total = [](const sw_src_state& s) {
    uint64_t n = 0;
    for (uint64_t m : s.msgs) n += m;
    return n;
  };
  std::sort(sources.begin(), sources.end(),
            [&](const auto& a, const auto& b) { return total(a.value) > total(b.value); });
  const size_t top = static_cast<size_t>(std::max(0, absl::GetFlag(FLAGS_top)));
  if (sources.size() > top) sources.resize(top);
  const uint64_t now = sw::BootNs();
  for (const auto& s : sources) {
    if (absl::GetFlag(FLAGS_json)) {
      sw::JsonWriter w;
      w.BeginObject().Field("src_ip", s.addr.ToString()).Field("messages", total(s.value));
      w.Key("by_class").BeginObject();
      for (int c = 0; c < SW_CLASS_MAX; ++c) {
        if (s.value.msgs[c]) w.Field(sw::ClassName(c), static_cast<uint64_t>(s.value.msgs[c]));
      }
      w.EndObject();
      w.Field("rate_dropped_invite", static_cast<uint64_t>(s.value.rate_dropped[SW_BUCKET_INVITE]));
      w.Field("rate_dropped_register", static_cast<uint64_t>(s.value.rate_dropped[SW_BUCKET_REGISTER]));
      w.Field("rate_dropped_other", static_cast<uint64_t>(s.value.rate_dropped[SW_BUCKET_OTHER]));
      w.Field("last_seen_s_ago", static_cast<double>(now - s.value.last_ns) / 1e9).EndObject();
      std::cout << w.str() << "\n";
      continue;
    }
    std::string classes;
    for (int c = 0; c < SW_CLASS_MAX; ++c) {
      if (s.value.msgs[c]) absl::StrAppend(&classes, " ", sw::AV(sw::ClassName(c)), "=", s.value.msgs[c]);
    }
    const uint64_t dropped = s.value.rate_dropped[0] + s.value.rate_dropped[1] + s.value.rate_dropped[2];
    std::cout << absl::StrFormat("%-40s msgs=%d rate_dropped=%d%s\n", s.addr.ToString(),
                                 total(s.value), dropped, classes);
  }
  return absl::OkStatus();
}

absl::Status Config(const std::vector<std::string>& args) {
  const std::string verb = args.size() > 1 ? args[1] : "show";
  if (verb == "show") {
    SW_ASSIGN_OR_RETURN(auto maps, OpenMaps());
    SW_ASSIGN_OR_RETURN(sw_config cfg, maps.ReadConfig());
    static const char* kBuckets[] = {"invite", "register", "other"};
    std::cout << "snap-len " << cfg.snap_len << "\n"
              << "drop-malformed " << ((cfg.flags & SW_CFG_DROP_MALFORMED) ? 1 : 0) << "\n"
              << "ringbuf-wakeup-bytes " << cfg.rb_wakeup_bytes << "\n";
    for (int b = 0; b < SW_BUCKET_MAX; ++b) {
      std::cout << kBuckets[b] << "-rate " << cfg.limits[b].rate << "\n"
                << kBuckets[b] << "-burst " << cfg.limits[b].burst << "\n";
    }
    SW_ASSIGN_OR_RETURN(std::vector<uint16_t> ports,
                        maps.PortsWith(SW_PORT_SIP_UDP | SW_PORT_SIP_TCP));
    std::cout << "sip-ports " << absl::StrJoin(ports, ",") << "\n";
    SW_ASSIGN_OR_RETURN(std::vector<uint16_t> mgcp, maps.PortsWith(SW_PORT_MGCP));
    std::cout << "mgcp-ports " << absl::StrJoin(mgcp, ",") << "\n";
    return absl::OkStatus();
  }
  if (verb != "set" || args.size() != 4) {
    return absl::InvalidArgumentError("usage: config show | config set KEY VALUE");
  }
  const std::string& key = args[2];
  uint32_t v;
  if (!absl::SimpleAtoi(args[3], &v)) {
    return absl::InvalidArgumentError(absl::StrCat("value '", args[3], "' is not a number"));
  }
  SW_ASSIGN_OR_RETURN(auto maps, OpenMaps());
  // One field changes, under the pin directory's lock (the agent takes it
  // too): a concurrent change of another field is never undone.
  SW_RETURN_IF_ERROR(maps.UpdateConfig([&](sw_config& cfg) -> absl::Status {
    if (key == "invite-rate") cfg.limits[SW_BUCKET_INVITE].rate = v;
    else if (key == "invite-burst") cfg.limits[SW_BUCKET_INVITE].burst = v;
    else if (key == "register-rate") cfg.limits[SW_BUCKET_REGISTER].rate = v;
    else if (key == "register-burst") cfg.limits[SW_BUCKET_REGISTER].burst = v;
    else if (key == "other-rate") cfg.limits[SW_BUCKET_OTHER].rate = v;
    else if (key == "other-burst") cfg.limits[SW_BUCKET_OTHER].burst = v;
    else if (key == "snap-len") {
      if (v == 0 || v > SW_SNAP_MAX) {
        return absl::InvalidArgumentError(absl::StrCat("snap-len must be within 1..", SW_SNAP_MAX));
      }
      cfg.snap_len = v;
    } else if (key == "ringbuf-wakeup-bytes") {
      cfg.rb_wakeup_bytes = v;
    } else if (key == "drop-malformed") {
      if (v > 1) return absl::InvalidArgumentError("drop-malformed is 0 or 1");
      cfg.flags = v ? (cfg.flags | SW_CFG_DROP_MALFORMED) : (cfg.flags & ~SW_CFG_DROP_MALFORMED);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown setting '", key, "'"));
    }
    return absl::OkStatus();
  }));
  std::cout << key << " " << v << "\n";
  return absl::OkStatus();
}

// Checks a rule file without touching any map: every error as FILE:LINE:COL.
absl::Status Rules(const std::vector<std::string>& args) {
  if (args.size() != 3 || args[1] != "check") {
    return absl::InvalidArgumentError("usage: rules check FILE");
  }
  std::vector<sw::rules::ConfigError> errors;
  auto rules = sw::rules::LoadRuleFile(args[2], &errors);
  if (!rules.ok()) {
    for (const auto& e : errors) std::cerr << e.ToString() << "\n";
    return absl::FailedPreconditionError(absl::StrCat(
        args[2], ": ", errors.size(), errors.size() == 1 ? " error" : " errors"));
  }
  std::cout << args[2] << ": OK, " << (*rules)->Summary() << "\n";
  return absl::OkStatus();
}

// A line for the controller's --http-tokens file: ROLE NAME TOKEN, the token
// 32 random bytes in base64url (43 characters).
absl::Status Token(const std::vector<std::string>& args) {
  if (args.size() != 3 || args[1] != "new") {
    return absl::InvalidArgumentError("usage: token new NAME [--role operator|read-only]");
  }
  const std::string role = absl::GetFlag(FLAGS_role);
  if (role != "operator" && role != "read-only") {
    return absl::InvalidArgumentError(
        absl::StrCat("--role '", role, "' is neither operator nor read-only"));
  }
  const std::string& name = args[2];
  const bool name_ok = !name.empty() && name.size() <= 64 &&
                       name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                              "0123456789._-") == std::string::npos;
  if (!name_ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("name '", name, "': 1..64 of letters, digits, '.', '_', '-'"));
  }
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof(raw)) != 1) {
    return absl::InternalError("no random bytes from OpenSSL");
  }
  static constexpr char kB64[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string token;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char b : raw) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      token += kB64[(acc >> bits) & 63];
    }
  }
  if (bits > 0) token += kB64[(acc << (6 - bits)) & 63];
  std::cout << role << " " << name << " " << token << "\n";
  return absl::OkStatus();
}

absl::Status Dispatch(const std::vector<std::string>& args) {
  if (args.empty()) return absl::InvalidArgumentError("no command given (see --help)");
  const std::string& cmd = args[0];
  if (cmd == "token") return Token(args);
  if (cmd == "graylist" || cmd == "honeypot") {  // the controller holds these
    return absl::InvalidArgumentError(
        absl::StrCat("'", cmd, " ", args.size() > 1 ? args[1] : "",
                     "' reads the controller: give --controller HOST:PORT (see --help)"));
  }
  if (cmd != "block" && cmd != "allow" && cmd != "limit" && cmd != "stats" && cmd != "sources" &&
      cmd != "config" && cmd != "rules") {
    return absl::InvalidArgumentError(absl::StrCat("unknown command '", cmd, "' (see --help)"));
  }
  if (cmd == "block") return Block(args);
  if (cmd == "allow") return Allow(args);
  if (cmd == "limit") return Limit(args);
  if (cmd == "stats") return Stats();
  if (cmd == "sources") return Sources();
  if (cmd == "rules") return Rules(args);
  return Config(args);
}

}  // namespace

int main(int argc, char** argv) {
  sw::SetUsage(kUsage);
  sw::NormalizedArgs normalized(argc, argv);
  std::vector<char*> rest = absl::ParseCommandLine(normalized.argc(), normalized.argv());
  if (absl::GetFlag(FLAGS_version)) {
    std::cout << "sipwardenctl " << SW_VERSION << "\n";
    return 0;
  }
  std::vector<std::string> args(rest.begin() + 1, rest.end());
  absl::Status st;
  if (sw::ctl::IsHoneypotToolVerb(args)) {
    st = sw::ctl::HoneypotTool(args);
  } else if (const std::string c = absl::GetFlag(FLAGS_controller); !c.empty()) {
    sw::ctl::FleetOptions o;
    o.controller = c;
    o.name = absl::GetFlag(FLAGS_name);
    if (o.name.empty()) o.name = getenv("USER") ? getenv("USER") : "operator";
    o.json = absl::GetFlag(FLAGS_json);
    o.tls_cert = absl::GetFlag(FLAGS_tls_cert);
    o.tls_key = absl::GetFlag(FLAGS_tls_key);
    o.tls_ca = absl::GetFlag(FLAGS_tls_ca);
    o.reason = absl::GetFlag(FLAGS_reason);
    o.follow = absl::GetFlag(FLAGS_follow);
    o.category = absl::GetFlag(FLAGS_category);
    o.src = absl::GetFlag(FLAGS_src);
    o.limit = absl::GetFlag(FLAGS_limit);
    o.callee = absl::GetFlag(FLAGS_callee);
    o.honeypot = absl::GetFlag(FLAGS_honeypot);
    o.min_sources = absl::GetFlag(FLAGS_min_sources);
    auto ttl = ParseTtl(absl::GetFlag(FLAGS_ttl));
    if (!ttl.ok()) {
      std::cerr << "sipwardenctl: " << ttl.status().message() << "\n";
      return 2;
    }
    o.ttl = *ttl;
    if (const std::string since = absl::GetFlag(FLAGS_since); !since.empty()) {
      auto d = ParseTtl(since);
      if (!d.ok() || *d == absl::ZeroDuration()) {
        std::cerr << "sipwardenctl: bad --since '" << since << "' (examples: 10m, 2h, 7d)\n";
        return 2;
      }
      o.since = *d;
    }
    st = sw::ctl::FleetDispatch(args, o);
  } else {
    st = Dispatch(args);
  }
  if (!st.ok()) {
    std::cerr << "sipwardenctl: " << st.message() << "\n";
    return absl::IsInvalidArgument(st) ? 2 : 1;
  }
  return 0;
}
