#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Smoke test for sw-bench-controller: a small run (5 agents, 2000 decisions,
# a 1 s poll reference) exits 0 and prints every figure as a JSON line with
# a numeric value. Timing is not checked.
# Usage: smoke_test.sh path/to/sw-bench-controller
set -euo pipefail
bench=${1:?usage: smoke_test.sh path/to/sw-bench-controller}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if ! "$bench" --agents 5 --blocks 3 --report-seconds 1 --decisions 2000 --poll-seconds 1 >"$out"; then
  cat "$out"
  echo "smoke_test: sw-bench-controller failed" >&2
  exit 1
fi
cat "$out"
for metric in push_latency_p50_ms push_latency_p99_ms push_latency_max_ms push_agents \
              reports_stored_per_s controller_rss_agents_mb resync_seconds resync_decisions \
              controller_rss_decisions_mb; do
  grep -q "\"metric\":\"$metric\",\"value\":[0-9.e+-]*," "$out" ||
    { echo "smoke_test: no numeric $metric" >&2; exit 1; }
done
grep -q '"metric":"resync_decisions","value":2000,' "$out" || grep -q '"metric":"resync_decisions","value":2000.0*,' "$out" ||
  { echo "smoke_test: the resync did not cover 2000 decisions" >&2; exit 1; }
echo "smoke_test: ok"
