// SPDX-License-Identifier: BSD-2-Clause
// Offline analysis: a pcap or pcapng file through the same pipeline the live
// agent uses after the kernel stage (decode, reassemble, parse, thread calls)
// and, when asked for alarms, through the rule engine.
#pragma once

#include <cstdint>
#include <string>

namespace sw {

struct OfflineOptions {
  std::string pcap;
  std::string events_out;  // "" = none, "-" = stdout
  std::string alarms_out;  // "" = none, "-" = stdout
  // The rule file; "" = the default ruleset built into the agent. The rule
  // engine runs when alarms_out or rules is given.
  std::string rules;
  bool quiet = false;  // no progress on stderr
  bool scripts = true;  // run the rules' scripts; false: a rule file with one is refused
  // Per-account profiles to detect with (docs/profiles.md; read, never
  // written back offline); "" = none. They need the rule engine.
  std::string profiles;
  std::string profiles_config;  // "" = the profiles' own settings
};

// At the end of the file the engine's clock runs on this long, so that
// windows still open (ACKs awaited, refused logins that may yet succeed)
// conclude as they would have had the capture gone on quietly.
inline constexpr int64_t kOfflineDrainNs = 5 * 60 * 1'000'000'000LL;

// Returns the process exit code: 0, 1 for a corrupt capture (everything
// before the bad packet is still processed and written), 2 for bad input
// (an unreadable capture, an output that cannot be opened, a rule file with
// errors: each reported as FILE:LINE:COL: message).
int RunOffline(const OfflineOptions& options);

}  // namespace sw
