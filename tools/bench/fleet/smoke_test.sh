#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Smoke test for the fleet bench: a small run (10 agents over two controllers
# on a throwaway PostgreSQL, 3,000 decisions) exits 0 and prints every
# figure with a numeric value and a numeric reference; the resync covers the
# 3,000 decisions on both sides and the agents are split. Timing is not
# checked. Exit 77 (skipped) without PostgreSQL 15.
# Usage: smoke_test.sh path/to/sw-bench-controller
set -euo pipefail
bench=${1:?usage: smoke_test.sh path/to/sw-bench-controller}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
rc=0
"$here/fleet_bench.sh" "$bench" --agents 10 --blocks 5 --report-seconds 1 --decisions 3000 \
  --block-seconds 50 >"$out" || rc=$?
cat "$out"
(( rc != 77 )) || { echo "smoke_test: no PostgreSQL; skipped" >&2; exit 77; }
(( rc == 0 )) || { echo "smoke_test: the fleet bench failed ($rc)" >&2; exit 1; }
num='-?[0-9][0-9.e+-]*'
for metric in push_ctl1_agent_p50_ms push_ctl1_agent_p99_ms push_ctl1_every_agent_p50_ms \
              push_ctl1_every_agent_p99_ms push_all_every_agent_p50_ms push_all_every_agent_p99_ms \
              push_same_ctl_agent_p50_ms agents reports_stored_per_s controller_rss_agents_mb \
              operator_blocks_per_s ctl1_follow_after_blocks_s resync_seconds resync_decisions \
              controller_rss_decisions_mb; do
  grep -Eq "^\{\"bench\":\"fleet\",\"metric\":\"$metric\",\"value\":$num,.*\"baseline_value\":$num," "$out" ||
    { echo "smoke_test: no numeric $metric beside its reference" >&2; exit 1; }
done
value() { grep "\"metric\":\"$1\"" "$out" | sed -E 's/.*"value":([^,]*),.*/\1/'; }
baseline() { grep "\"metric\":\"$1\"" "$out" | sed -E 's/.*"baseline_value":([^,]*),.*/\1/'; }
# Sane: the resyncs hold the decisions made (PostgreSQL's also the 5 pushed
# blocks), latencies are positive and under the 10 s the bench waits, some
# reports were stored, half the agents are on the first controller.
awk -v pg="$(value resync_decisions)" -v sq="$(baseline resync_decisions)" \
    -v p99="$(value push_ctl1_every_agent_p99_ms)" -v ref99="$(baseline push_ctl1_every_agent_p99_ms)" \
    -v rep="$(value reports_stored_per_s)" -v refrep="$(baseline reports_stored_per_s)" \
    -v on1="$(baseline agents)" -v blocks="$(value operator_blocks_per_s)" 'BEGIN {
  if (pg < 3000 || sq != 3000) { print "smoke_test: resync decisions " pg " / " sq > "/dev/stderr"; exit 1 }
  if (p99 <= 0 || p99 >= 10000 || ref99 <= 0 || ref99 >= 10000) { print "smoke_test: push p99 " p99 " / " ref99 > "/dev/stderr"; exit 1 }
  if (rep <= 0 || refrep <= 0) { print "smoke_test: no reports stored" > "/dev/stderr"; exit 1 }
  if (on1 != 5) { print "smoke_test: " on1 " agents on controller 1, not 5" > "/dev/stderr"; exit 1 }
  if (blocks <= 0) { print "smoke_test: no blocks made" > "/dev/stderr"; exit 1 }
}'
echo "smoke_test: ok"
