// Offline analysis: a pcap or pcapng file through the same pipeline the live
// agent uses after the kernel stage (decode, reassemble, parse, thread calls).
#pragma once

#include <string>

namespace sw {

struct OfflineOptions {
  std::string pcap;
  std::string events_out;  // "" = none, "-" = stdout
  bool quiet = false;      // no progress on stderr
};

// Returns the process exit code: 0, 1 for a corrupt capture (everything
// before the bad packet is still processed and written), 2 for bad input.
int RunOffline(const OfflineOptions& options);

}  // namespace sw
