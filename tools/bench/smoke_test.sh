#!/bin/bash
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
if ! "$bench" --repeat 10000 --rounds 1 --blocklist-size 100 >"$out"; then
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
  ns_per_packet_invite_ringbuf_full
  ns_per_packet_drop_blocklist
  ns_per_packet_drop_blocklist_vs_aim
  ns_per_packet_drop_ratelimit
  ns_per_packet_drop_ratelimit_vs_aim
)
num='-?[0-9.]+(e[-+]?[0-9]+)?'
rc=0
for m in "${metrics[@]}"; do
  re="^\\{\"bench\":\"xdp\",\"metric\":\"$m\",\"value\":$num,\"unit\":\"[a-z]+\","
  re+="\"baseline\":\"[a-z_]+\",\"baseline_value\":$num,\"ratio\":($num|null)\\}$"
  if ! grep -Eq "$re" "$out"; then
    echo "smoke_test: no well-formed line for metric $m" >&2
    rc=1
  fi
done
lines=$(wc -l <"$out")
if [[ $lines -ne ${#metrics[@]} ]]; then
  echo "smoke_test: expected ${#metrics[@]} lines on stdout, got $lines" >&2
  rc=1
fi
exit $rc
