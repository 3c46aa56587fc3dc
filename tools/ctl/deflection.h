// SPDX-License-Identifier: BSD-2-Clause
// `sipwardenctl honeypot deflection`: the deflection effect of Nassar et al.
// (IPTCOMM 2007) as a simulation. A harvested list holds x real and y
// deflector URIs; a SPIT bot calls entries drawn uniformly at random (with
// replacement), so a share y/(x+y) of its calls lands on the honeypot.
// Against the controller's honeypot policy (controller/honeypot_policy.h:
// the first call to a deflector graylists the source, the block_hits-th
// separate call, 2 by default, blocks it fleet-wide) a bot reaches real
// users until it is blocked: x/y calls on average before the graylist
// (real calls before the first deflector call, a geometric count), and
// block_after * x/y before the block (a negative binomial count).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sw::ctl {

struct DeflectionCase {
  uint64_t real = 0;        // x
  uint64_t deflectors = 0;  // y
};

struct DeflectionOptions {
  // Calls of the one bot whose absorbed share is measured (no policy).
  uint64_t calls = 100000;
  // Bots run against the policy, each until blocked or `calls` calls.
  uint64_t bots = 2000;
  // Separate deflector calls that block (the controller's block_hits).
  uint32_t block_after = 2;
  uint64_t seed = 1;
};

struct DeflectionRow {
  DeflectionCase c;
  uint64_t calls = 0;
  uint64_t absorbed = 0;  // calls of the one bot that reached a deflector
  double formula = 0;     // y/(x+y)
  double measured = 0;    // absorbed / calls
  // Against the policy. Expected values are infinite when the bot is never
  // graylisted (y = 0) or never blocked (y = 0).
  uint64_t bots = 0;
  uint64_t bots_graylisted = 0;         // within `calls` calls
  uint64_t bots_blocked = 0;            // within `calls` calls
  double expected_before_graylist = 0;  // x/y
  double measured_before_graylist = 0;  // mean over the graylisted bots
  double expected_before_block = 0;     // block_after * x/y
  double measured_before_block = 0;     // mean over all bots (a lower bound
                                        // when some were never blocked)
  double stddev_before_block = 0;       // sample standard deviation per bot
  uint32_t block_after = 0;
  uint64_t seed = 0;
};

// The default table: 1000 real users and 10 to 10000 deflectors; the
// deflector counts as a comma-separated list.
std::vector<DeflectionCase> DefaultDeflectionCases();
std::string DefaultDeflectorsList();

// One row; the same for the same case and options. Work is bounded by
// calls * (1 + bots) random draws.
DeflectionRow SimulateDeflection(const DeflectionCase& c, const DeflectionOptions& options);

// The rows as an aligned text table (with a header), and one as a JSON line.
std::string FormatDeflectionTable(const std::vector<DeflectionRow>& rows);
std::string DeflectionJson(const DeflectionRow& row);

}  // namespace sw::ctl
