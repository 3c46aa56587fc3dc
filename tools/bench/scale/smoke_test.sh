#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Smoke test for sw-bench-scale: small sizes (2000 and 4000 dialogs; 3000
# calls with room for 2000) exit 0, print every figure as one well-formed
# JSON line, and call threading evicted exactly the 1000 least recently
# active calls. Timing is not checked.
# Usage: smoke_test.sh path/to/sw-bench-scale
set -euo pipefail
bench=${1:?usage: smoke_test.sh path/to/sw-bench-scale}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if ! "$bench" --dialogs 2000,4000 --calls 3000 --max-calls 2000 >"$out"; then
  cat "$out"
  echo "smoke_test: sw-bench-scale failed" >&2
  exit 1
fi
cat "$out"
source "$(dirname "${BASH_SOURCE[0]}")/../check_lines.sh"
rc=0
check_bench_lines "$out" scale '[a-zA-Z/]+' '[a-z0-9_]+' \
  engine_events_per_s_2k_dialogs engine_keys_2k_dialogs engine_rss_mib_2k_dialogs \
  engine_events_per_s_4k_dialogs engine_keys_4k_dialogs engine_rss_mib_4k_dialogs \
  call_threading_bytes_per_open_call_2k call_threading_events_per_s_at_limit_2k \
  call_threading_evicted_2k call_threading_evicted_oldest_first_2k || rc=1
grep -q '"metric":"call_threading_evicted_2k","value":1000,' "$out" ||
  { echo "smoke_test: call threading did not evict exactly 1000 calls" >&2; rc=1; }
grep -q '"metric":"call_threading_evicted_oldest_first_2k","value":1,' "$out" ||
  { echo "smoke_test: call threading did not evict the least recently active first" >&2; rc=1; }
[[ $rc -eq 0 ]] && echo "smoke_test: ok"
exit $rc
