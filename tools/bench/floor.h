// SPDX-License-Identifier: BSD-2-Clause
// The floor programs' state (bpf/baseline.bpf.c, docs/datapath.md "The
// floors"), made like sw_xdp's. Shared by the benchmark programs.
#pragma once

#include <bpf/bpf.h>

#include <cerrno>
#include <cstdint>

#include "absl/status/statusor.h"
#include "maps.h"  // sw::ErrnoStatus
#include "sipwarden.h"

namespace sw::bench {

// Every entry of the IPv4 blocklist trie `from`, as it is, into the trie
// `to` (sw_floor_block_v4); the number copied.
inline absl::StatusOr<uint32_t> CopyBlocklistV4(int from, int to) {
  sw_lpm_v4 key{};
  sw_block_entry value{};
  uint32_t n = 0;
  for (int more = bpf_map_get_next_key(from, nullptr, &key); more == 0;
       more = bpf_map_get_next_key(from, &key, &key)) {
    if (bpf_map_lookup_elem(from, &key, &value) != 0) continue;  // deleted meanwhile
    if (bpf_map_update_elem(to, &key, &value, BPF_ANY) != 0) {
      return sw::ErrnoStatus(errno, "copy the blocklist into the floor's trie");
    }
    ++n;
  }
  return n;
}

}  // namespace sw::bench
