// SPDX-License-Identifier: BSD-2-Clause
// A program's --config FILE (sipwarden-agent, sipwarden-controller): a YAML mapping of flag names to values, turned
// into command-line flags placed before the ones actually given, so that a
// flag on the command line overrides the file (Abseil keeps the last value a
// flag is given).
//
//   iface: [eth0, eth1]           # a list is joined with commas: --iface=eth0,eth1
//   pin-dir: /sys/fs/bpf/sipwarden  # dashes or underscores
//   invite-rate: 200
//   keep-attached: true
//   events-out: "-"               # quote a lone dash (YAML reads - as a list)
//
// Every key must name a flag the program defines (Abseil's own flags, such
// as flagfile, and config itself are refused), appear once, and hold a
// scalar or a list of scalars whose value the flag accepts.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace sw {

// Looks for --config FILE, --config=FILE, -config FILE or -config=FILE in
// argv (before a "--"; given at most once), loads FILE and returns
//   argv[0], --name=value for each key of FILE (in file order, names with
//   underscores), then the rest of argv without the --config argument(s).
// Without --config, returns argv unchanged. Errors name FILE:LINE:COL and the
// key, e.g. "agent.yaml:3:1: unknown flag 'invite-rat'"; flag values are
// checked against the flags' types without changing any flag.
absl::StatusOr<std::vector<std::string>> ExpandConfig(const std::vector<std::string>& argv);

// A program's command line with --config FILE expanded (ExpandConfig) and
// flag names normalised (sipwarden/cli.h), parsed into the flags. On a bad
// config file prints "PROGRAM: FILE:LINE:COL: ..." to stderr and returns
// false (the caller exits 2).
bool ParseCommandLineWithConfig(int argc, char** argv, std::string_view program);

// The --name=value arguments the YAML text of a config file stands for;
// file_name is only used in error messages. An empty document gives none.
absl::StatusOr<std::vector<std::string>> ConfigFileFlags(std::string_view file_name,
                                                         std::string_view yaml);

}  // namespace sw
