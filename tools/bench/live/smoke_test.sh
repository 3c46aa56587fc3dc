#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Smoke test for sw-bench-live through live.sh: a short run exits 0, prints
# each expected figure as a JSON line with a numeric value, and leaves no
# namespace or bpffs of its own behind. Timing is not checked.
# Usage: smoke_test.sh path/to/live.sh path/to/sw-bench-live
set -euo pipefail

live=${1:?usage: smoke_test.sh path/to/live.sh path/to/sw-bench-live}
bench=${2:?usage: smoke_test.sh path/to/live.sh path/to/sw-bench-live}
if [[ $(id -u) -ne 0 ]]; then
  echo "smoke_test: needs root (namespaces, XDP, nftables); skipping" >&2
  exit 77
fi
command -v nft >/dev/null || { echo "smoke_test: FAIL: nft not installed (scripts/install-deps.sh installs nftables)" >&2; exit 1; }

out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$live" "$bench" --packets 20000 --rounds 1 --blocklist-size 100 >"$out" &
pid=$!
rc=0
wait "$pid" || rc=$?
cat "$out"
if [[ $rc -eq 3 ]]; then
  # sw-bench-live said why on stderr: the kernel refuses live-frames test
  # runs, so no frame can be sent at line rate on this machine.
  echo "smoke_test: the kernel refuses live frames; skipping" >&2
  exit 77
fi
if [[ $rc -ne 0 ]]; then
  echo "smoke_test: live.sh failed ($rc)" >&2
  exit 1
fi

rc=0
if ip netns list | grep -Eq "^swb-(gen|dut)-$pid( |$)"; then
  echo "smoke_test: namespaces of run $pid left behind" >&2
  rc=1
fi
if [[ -e /run/swb-bpffs-$pid ]]; then
  echo "smoke_test: /run/swb-bpffs-$pid left behind" >&2
  rc=1
fi

metrics=(
  mpps_drop_blocklist ns_per_packet_drop_blocklist
  mpps_nft_ingress_drop ns_per_packet_nft_ingress_drop
  mpps_nft_prerouting_drop ns_per_packet_nft_prerouting_drop
  mpps_drop_blocklist_vs_nft_ingress_drop mpps_drop_blocklist_vs_nft_prerouting_drop
  mpps_drop_ratelimit ns_per_packet_drop_ratelimit
  mpps_floor_drop_blocklist ns_per_packet_floor_drop_blocklist mpps_drop_blocklist_vs_floor
  mpps_floor_drop_ratelimit ns_per_packet_floor_drop_ratelimit mpps_drop_ratelimit_vs_floor
  mpps_udp_pass ns_per_packet_udp_pass
)
source "$(dirname "${BASH_SOURCE[0]}")/../check_lines.sh"
check_bench_lines "$out" live '[A-Za-z]+' '[a-z_]+' "${metrics[@]}" || rc=1
exit $rc
