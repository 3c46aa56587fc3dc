#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The prevention loop measured in the lab (tools/lab/lab), with real peers:
#
#   detect_to_block_ms    per attack (INVITE flood, REGISTER flood, scanner
#                         User-Agent): from the kernel's timestamp of the
#                         attacker's first SIP message to the kernel
#                         timestamp of its blocklist entry (both CLOCK_BOOTTIME,
#                         read from the agent's records and the pinned map).
#   legit_call_success_pct legitimate calls (sipp, through Kamailio) that
#                         succeed while one source floods Kamailio with
#                         INVITEs as fast as it can, with the agent enforcing,
#                         beside the same run with the agent detecting only
#                         (--enforce=false: nothing dropped).
#
# One JSON line per figure on stdout (docs/formats.md, "Benchmarks"); progress on
# stderr. Needs root and the lab's packages; refuses to run while a lab is up.
# Every run is bounded (counts and timeouts) and stays inside the lab.
#   lab_bench.sh BIN_DIR [--calls N]
set -euo pipefail
BIN=${1:?usage: lab_bench.sh BIN_DIR [--calls N]}
shift
CALLS=60
while [ $# -gt 0 ]; do
  case $1 in
    --calls) CALLS=${2:?}; shift 2 ;;
    -h|--help) sed -n '3,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "lab_bench: unknown option $1" >&2; exit 2 ;;
  esac
done
SRC_DIR=$(cd "$(dirname "$0")/../../.." && pwd)
LAB="$SRC_DIR/tools/lab/lab"
export SW_BIN_DIR="$BIN"
PIN=/run/sw-lab/bpffs/sipwarden
log() { echo "bench lab: $*" >&2; }
[ "$(id -u)" -eq 0 ] || { log "needs root"; exit 1; }
for t in kamailio sipp svmap jq; do command -v "$t" >/dev/null || { log "$t is not installed"; exit 1; }; done
[ ! -e /run/sw-lab ] || { log "a lab is up already (tools/lab/lab down)"; exit 1; }
TMP=$(mktemp -d /tmp/sw-labbench.XXXXXX)
trap '"$LAB" down >/dev/null 2>&1 || true; rm -rf "$TMP"' EXIT

emit() {  # emit METRIC VALUE UNIT [BASELINE BASELINE_VALUE]
  jq -nc --arg m "$1" --argjson v "$2" --arg u "$3" --arg b "${4:-}" --arg bv "${5:-}" '
    {bench: "lab", metric: $m, value: $v, unit: $u,
     baseline: (if $b == "" then null else $b end),
     baseline_value: (if $bv == "" then null else ($bv | tonumber) end),
     ratio: (if $bv == "" or ($bv | tonumber) == 0 then null else ($v / ($bv | tonumber)) end)}'
}
to_s() { date -d "$1" +%s.%N; }

lab_up() {  # lab_up AGENT-ARGS
  "$LAB" up --agent-args "$1" >"$TMP/up.log" 2>&1 || { cat "$TMP/up.log" >&2; log "lab up failed"; exit 1; }
}
lab_down() { "$LAB" down >/dev/null 2>&1; }

# ---- detection to block -------------------------------------------------------
log "detection-to-block latency (one lab, three attackers)"
lab_up "--max-block-ttl 5m"
RECORDS=/run/sw-lab/agent/records.jsonl
declare -A FROM=([scanner-ua]=10.61.3.70 [invite-flood]=10.61.3.67 [register-flood]=10.61.3.68)
for attack in scanner-ua invite-flood register-flood; do
  src=${FROM[$attack]}
  "$LAB" attack "$attack" --from "$src" >"$TMP/$attack.log" 2>&1 || true
  added=$("$BIN/sipwardenctl" --pin-dir "$PIN" block list --json |
    jq -r --arg p "$src/32" 'select(.prefix == $p) | .added')
  first=$(jq -rR --arg s "$src" 'fromjson? | select(.src_ip == $s) | .ts' "$RECORDS" | sed -n 1p || true)
  if [ -z "$added" ] || [ -z "$first" ]; then
    log "$attack from $src: no block or no record (added='$added' first='$first')"
    exit 1
  fi
  ms=$(awk -v a="$(to_s "$added")" -v f="$(to_s "$first")" 'BEGIN { printf "%.3f", (a - f) * 1000 }')
  n=$(jq -rR --arg s "$src" 'fromjson? | select(.src_ip == $s) | .ts' "$RECORDS" | wc -l)
  log "$attack from $src: first message seen at $first, blocked at $added ($ms ms; $n messages passed to the agent before the block)"
  emit "detect_to_block_ms_$attack" "$ms" ms
  emit "messages_passed_before_block_$attack" "$n" messages
done
lab_down

# ---- legitimate calls under an INVITE flood ----------------------------------
run_flooded() {  # run_flooded ENFORCE: prints the legitimate calls' success in %
  lab_up "--enforce=$1 --max-block-ttl 5m"
  "$LAB" traffic --users 20 --calls "$CALLS" --rate 10 --hold 1 --json >"$TMP/legit-$1.json" 2>/dev/null &
  local legit=$!
  sleep 3
  # As fast as sw-sipsend goes, for at most 12 s.
  "$LAB" exec sw-attacker timeout 20 "$BIN/sw-sipsend" --to 10.61.0.1:5060 --src-ip 10.61.3.66 \
    --method INVITE --count 3000000 --rate 0 --max-seconds 12 >"$TMP/flood-$1.log" 2>&1 || true
  wait "$legit" || true
  local ok attempted
  ok=$(jq -r '.calls.succeeded // 0' "$TMP/legit-$1.json" 2>/dev/null || echo 0)
  attempted=$(jq -r '.calls.attempted // 0' "$TMP/legit-$1.json" 2>/dev/null || echo 0)
  log "enforce=$1: $ok of $attempted legitimate calls succeeded; flood: $(tail -n 1 "$TMP/flood-$1.log")"
  lab_down
  awk -v o="$ok" -v a="$attempted" 'BEGIN { printf "%.1f", a ? 100 * o / a : 0 }'
}
log "legitimate calls under an INVITE flood: detect only, then enforcing"
without=$(run_flooded false)
with=$(run_flooded true)
emit legit_call_success_pct_under_flood "$with" "%" "same lab, agent detecting only (--enforce=false)" "$without"
