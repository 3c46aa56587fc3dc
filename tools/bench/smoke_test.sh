#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Smoke test for sw-bench-xdp: a short run exits 0 and prints each expected
# figure as a JSON line with a numeric value. Timing is not checked.
# Usage: smoke_test.sh path/to/sw-bench-xdp
set -euo pipefail

bench=${1:?usage: smoke_test.sh path/to/sw-bench-xdp}
if [[ $(id -u) -ne 0 ]]; then
  echo "smoke_test: needs root (BPF test runs); skipping" >&2
  exit 77
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
if ! "$bench" --repeat 10000 --rounds 1 --blocklist-size 100 --scale-entries 2000 >"$out"; then
  echo "smoke_test: sw-bench-xdp failed" >&2
  exit 1
fi
cat "$out"

metrics=(
  ns_per_packet_udp_pass
  ns_per_packet_invite_ringbuf
  invite_ringbuf_records_lost
  ns_per_packet_invite_ringbuf_batched
  invite_ringbuf_batched_records_lost
  floor_ns_per_packet_invite_ringbuf_batched
  ns_per_packet_invite_ringbuf_batched_vs_floor
  ns_per_packet_invite_ringbuf_full
  ns_per_packet_drop_blocklist
  ns_per_packet_drop_blocklist_vs_aim
  floor_ns_per_packet_drop_blocklist
  ns_per_packet_drop_blocklist_vs_floor
  ns_per_packet_drop_ratelimit
  ns_per_packet_drop_ratelimit_vs_aim
  floor_ns_per_packet_drop_ratelimit
  ns_per_packet_drop_ratelimit_vs_floor
  ns_per_packet_drop_blocklist_2k_entries
  ns_per_packet_udp_pass_2k_entries
  ns_per_packet_drop_ratelimit_2k_entries
  kernel_bytes_per_blocklist_prefix_2k
  kernel_bytes_per_tracked_source_2k
)
rc=0
source "$(dirname "${BASH_SOURCE[0]}")/check_lines.sh"
check_bench_lines "$out" xdp '[a-z]+' '[a-z_]+' "${metrics[@]}" || rc=1
exit $rc
