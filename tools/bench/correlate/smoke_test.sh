#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Smoke test for sw-bench-correlate: a tiny stream and a short SEC budget exit
# 0 and print each expected figure as a JSON line with a numeric value. Timing
# is not checked. Without sec installed, the SEC figures must say
# "sec_skipped" (our side is still checked).
# Usage: smoke_test.sh path/to/sw-bench-correlate
set -euo pipefail

bench=${1:?usage: smoke_test.sh path/to/sw-bench-correlate}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if ! "$bench" --events 20000 --sec-seconds 3 --rounds 1 --dialogs 2000 >"$out"; then
  cat "$out"
  echo "smoke_test: sw-bench-correlate failed" >&2
  exit 1
fi
cat "$out"

if command -v sec >/dev/null 2>&1; then
  sec_baseline=sec
else
  echo "smoke_test: sec is not installed; expecting the SEC figures to be skipped" >&2
  sec_baseline=sec_skipped
fi
# metric:baseline
metrics=(
  events_per_s_default_ruleset:aim_min_events_per_s
  events_per_s_sec_rules:$sec_baseline
  events_per_s_pair_rules:$sec_baseline
  events_per_s_threshold_rules:$sec_baseline
  bytes_per_open_dialog:none
  alarms_default_ruleset:none
  alarms_sec_rules:$sec_baseline
)
rc=${rc:-0}
source "$(dirname "${BASH_SOURCE[0]}")/../check_lines.sh"
check_bench_lines "$out" correlate '[a-z/]+' '-' "${metrics[@]}" || rc=1
exit $rc
