// SPDX-License-Identifier: BSD-2-Clause
#include "honeypot_tools.h"

#include <iostream>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "deflection.h"
#include "publish.h"
#include "sipwarden/absl_compat.h"

ABSL_DECLARE_FLAG(bool, json);

ABSL_FLAG(std::string, domain, "",
          "honeypot publish: the honeypot's SIP domain (required), e.g. honeypot.example.net");
ABSL_FLAG(std::string, users, "",
          "honeypot publish: publish the deflectors of this users file (USER ROLE lines) "
          "instead of made-up ones");
ABSL_FLAG(uint64_t, count, 2000, "honeypot publish: how many deflector users to make up");
ABSL_FLAG(uint64_t, seed, 1,
          "honeypot publish and deflection: the seed (the same seed, the same names or table)");
ABSL_FLAG(std::string, out, "", "honeypot publish: the HTML page to write");
ABSL_FLAG(std::string, registrations_out, "",
          "honeypot publish: the users file to write for sipwarden-honeypot --users "
          "(default: the --out file with .users appended)");
ABSL_FLAG(std::string, real, "1000",
          "honeypot deflection: real URIs in the harvested list, comma-separated");
ABSL_FLAG(std::string, deflectors, sw::ctl::DefaultDeflectorsList(),
          "honeypot deflection: deflector URIs in the list, comma-separated (one row per "
          "real and deflector count)");
ABSL_FLAG(uint64_t, calls, 100000,
          "honeypot deflection: calls the bot makes per row (and at most per bot against the "
          "policy)");
ABSL_FLAG(uint64_t, bots, 2000, "honeypot deflection: bots run against the policy per row");
ABSL_FLAG(uint32_t, block_after, 2,
          "honeypot deflection: calls to deflectors that block a source (the controller's "
          "honeypot block_hits)");

namespace sw::ctl {
namespace {

// Whether a flag was given a value other than its default (Debian's Abseil
// keeps "specified on the command line" private).
bool Changed(std::string_view flag) {
  const absl::CommandLineFlag* f = absl::FindCommandLineFlag(sw::AV(flag));
  return f && f->CurrentValue() != f->DefaultValue();
}

absl::StatusOr<std::vector<uint64_t>> Counts(std::string_view flag, const std::string& text,
                                             uint64_t max) {
  std::vector<uint64_t> out;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    uint64_t v;
    if (!absl::SimpleAtoi(part, &v) || v > max) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", sw::AV(flag), ": '", part, "' is not a count within 0..", max));
    }
    out.push_back(v);
  }
  return out;
}

absl::Status Publish(const std::vector<std::string>& args) {
  if (args.size() != 2) {
    return absl::InvalidArgumentError(
        "usage: honeypot publish --domain DOMAIN --out FILE [--users FILE | --count N "
        "--seed S] [--registrations-out FILE]");
  }
  PublishOptions o;
  o.domain = absl::GetFlag(FLAGS_domain);
  o.users_file = absl::GetFlag(FLAGS_users);
  o.count = absl::GetFlag(FLAGS_count);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.out = absl::GetFlag(FLAGS_out);
  o.registrations_out = absl::GetFlag(FLAGS_registrations_out);
  if (!o.users_file.empty() && (Changed("count") || Changed("seed"))) {
    return absl::InvalidArgumentError(
        "--users publishes the users of a file; --count and --seed make users up: give one "
        "or the other");
  }
  if (o.users_file.empty() && (o.count < 1 || o.count > 100000)) {
    return absl::InvalidArgumentError("--count must be within 1..100000");
  }
  auto r = sw::ctl::Publish(o);
  if (!r.ok()) return r.status();
  std::cout << "wrote " << r->out << ": " << r->published << " deflector URIs sip:USER@" << o.domain
            << "\n"
            << "wrote " << r->registrations_out << ": " << r->registered
            << " users for sipwarden-honeypot --users (with voicemail and gw-pstn)\n";
  return absl::OkStatus();
}

absl::Status Deflection(const std::vector<std::string>& args) {
  if (args.size() != 2) {
    return absl::InvalidArgumentError(
        "usage: honeypot deflection [--real X,...] [--deflectors Y,...] [--calls N] [--bots N] "
        "[--block-after N] [--seed S] [--json]");
  }
  constexpr uint64_t kMaxUris = 1000000000;
  auto reals = Counts("real", absl::GetFlag(FLAGS_real), kMaxUris);
  if (!reals.ok()) return reals.status();
  auto ys = Counts("deflectors", absl::GetFlag(FLAGS_deflectors), kMaxUris);
  if (!ys.ok()) return ys.status();
  DeflectionOptions o;
  o.calls = absl::GetFlag(FLAGS_calls);
  o.bots = absl::GetFlag(FLAGS_bots);
  o.block_after = absl::GetFlag(FLAGS_block_after);
  o.seed = absl::GetFlag(FLAGS_seed);
  if (o.calls < 1 || o.calls > 100000000) {
    return absl::InvalidArgumentError("--calls must be within 1..100000000");
  }
  if (o.bots > 1000000) return absl::InvalidArgumentError("--bots must be within 0..1000000");
  // Each bot stops at its block, but one that is never blocked makes every
  // call: bound that worst case.
  if (o.bots * o.calls > 1000000000ull) {
    return absl::InvalidArgumentError(absl::StrCat("--bots times --calls is ", o.bots * o.calls,
                                                   ", more than 10^9 draws per row"));
  }
  if (o.block_after < 1) return absl::InvalidArgumentError("--block-after must be at least 1");
  std::vector<DeflectionRow> rows;
  for (uint64_t x : *reals) {
    for (uint64_t y : *ys) {
      if (x + y == 0) {
        return absl::InvalidArgumentError("a list of 0 real and 0 deflector URIs");
      }
      rows.push_back(SimulateDeflection({x, y}, o));
      if (absl::GetFlag(FLAGS_json)) std::cout << DeflectionJson(rows.back()) << "\n" << std::flush;
    }
  }
  if (!absl::GetFlag(FLAGS_json)) std::cout << FormatDeflectionTable(rows);
  return absl::OkStatus();
}

}  // namespace

bool IsHoneypotToolVerb(const std::vector<std::string>& args) {
  return args.size() >= 2 && args[0] == "honeypot" &&
         (args[1] == "publish" || args[1] == "deflection");
}

absl::Status HoneypotTool(const std::vector<std::string>& args) {
  if (args.size() >= 2 && args[1] == "publish") return Publish(args);
  return Deflection(args);
}

}  // namespace sw::ctl
