#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Smoke test for tools/bench/honeypot: a short run (3 s per rate, one rate,
# 5 concurrent calls, a 1 s OPTIONS flood) exits 0, prints every figure as a
# well-formed JSON line, finds the honeypot answering at that small load, and
# leaves no namespace or process behind. Timing is not checked.
# Usage: smoke_test.sh path/to/honeypot_bench.sh BIN_DIR
set -euo pipefail
bench=${1:?usage: smoke_test.sh path/to/honeypot_bench.sh BIN_DIR}
bin=${2:?usage: smoke_test.sh path/to/honeypot_bench.sh BIN_DIR}
if [[ $(id -u) -ne 0 ]]; then
  echo "smoke_test: needs root (a network namespace); skipping" >&2
  exit 77
fi
for t in sipp kamailio sqlite3 protoc xxd jq; do
  command -v "$t" >/dev/null || { echo "smoke_test: $t missing; skipping" >&2; exit 77; }
done

work=$(mktemp -d)
out=$work/out.jsonl
trap 'rm -rf "$work"' EXIT
TMPDIR=$work "$bench" "$bin" --step-seconds 3 --rates 100 --bisect 0 --concurrent 5 --options-seconds 1 \
  --options-count 20000 >"$out" &
pid=$!
rc=0
wait "$pid" || rc=$?
cat "$out"
if [[ $rc -ne 0 ]]; then
  echo "smoke_test: honeypot_bench.sh failed ($rc)" >&2
  exit 1
fi

rc=0
if ip netns list | grep -Eq "^swb-hp-$pid( |$)"; then
  echo "smoke_test: namespace swb-hp-$pid left behind" >&2
  rc=1
fi
if pgrep -f -- "$work/swb-honeypot\." >/dev/null; then
  echo "smoke_test: a honeypot or Kamailio of the benchmark is still running" >&2
  rc=1
fi
value() { jq -r --arg m "$1" 'select(.metric == $m) | .value' "$out"; }
for m in calls_per_s_direct calls_per_s_via_kamailio_cfg; do
  v=$(value "$m")
  if ! awk -v v="$v" 'BEGIN { exit !(v > 0) }'; then
    echo "smoke_test: $m is '$v': 100 short calls/s for 3 s did not pass" >&2
    rc=1
  fi
done
if [[ $(value concurrent_calls_recorded) != 5 ]]; then
  echo "smoke_test: 5 concurrent calls were not all answered and recorded in full" >&2
  rc=1
fi

metrics=(
  calls_per_s_direct:kamailio_stateless_calls_per_s
  honeypot_cpu_cores_at_max_rate
  honeypot_rss_mib_at_max_rate
  calls_per_s_via_kamailio_cfg:kamailio_stateless_calls_per_s
  concurrent_calls_recorded:largest_n_tried
  honeypot_cpu_cores_at_max_concurrent
  honeypot_rss_mib_at_max_concurrent:honeypot_rss_mib_idle
  options_hits_logged_per_s:options_sent_per_s
  honeypot_rss_mib_after_options_flood
)
source "$(dirname "${BASH_SOURCE[0]}")/../check_lines.sh"
check_bench_lines "$out" honeypot '[A-Za-z/]+' none "${metrics[@]}" || rc=1
exit $rc
