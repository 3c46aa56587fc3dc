#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# End to end, restart safety: in the lab, an INVITE flood gets its source
# blocked; the agent is then killed with SIGKILL in the middle of the
# attack. The XDP program stays attached and the pinned blocklist in force:
# the kernel keeps dropping the attacker with no agent running. A new agent
# adopts the pinned maps, keeps the block (same expiry), detects and blocks
# a new attacker, and the first block expires on time: the attacker passes
# again.
#   lab_takeover_test.sh BIN_DIR
source "$(dirname "$0")/lib.sh"
e2e_require_root
BIN="${1:?usage: $0 BIN_DIR}"
TTL=30
ATT=10.61.3.66 ATT2=10.61.3.68 NEIGH=10.61.3.67 PROXY=10.61.0.1

e2e_lab_begin lab_takeover_test kamailio sipp jq
e2e_tmpdir
TMP="$E2E_TMP"

e2e_log "lab up (blocks last ${TTL}s)"
LAB_MADE=1
"$LAB" up --agent-args "--max-block-ttl ${TTL}s" >"$TMP/up.out" 2>&1 || { cat "$TMP/up.out" >&2; e2e_fail "lab up failed"; }
"$LAB" status --json >"$TMP/status.json"
PIN=$(jq -r .agent.pin_dir "$TMP/status.json")
ALARMS=$(jq -r .agent.alarms "$TMP/status.json")
AGENT_LOG=$(jq -r .agent.log "$TMP/status.json")
ctl() { "$BIN/sipwardenctl" --pin-dir "$PIN" "$@"; }
drops() { ctl stats --json | jq -r .drop_blocked; }
entry() { ctl block list --json | jq -c --arg p "$1/32" 'select(.prefix == $p and .expired == false)'; }
blocked() { [ -n "$(entry "$1")" ]; }
not_blocked() { [ -z "$(entry "$1")" ]; }
probe() { "$LAB" probe "$1"; }
xdp_attached() { ip -n sw-proxy -d link show p-attacker | grep -q "prog/xdp"; }

e2e_log "INVITE flood from $ATT: 200/s until stopped (at most 60 s)"
"$LAB" exec sw-attacker timeout 70 "$BIN/sw-sipsend" --to "$PROXY:5060" --src-ip "$ATT" --method INVITE \
  --count 12000 --rate 200 --max-seconds 60 >"$TMP/flood.out" 2>&1 &
FLOOD=$!
E2E_PIDS+=("$FLOOD")
e2e_wait_for 5 blocked "$ATT" || { cat "$ALARMS" >&2; e2e_fail "the flood's source was not blocked"; }
e2e_log "SIGKILL the agent mid-attack"
"$LAB" agent kill >"$TMP/kill.out" 2>&1 || { cat "$TMP/kill.out" >&2; e2e_fail "lab agent kill failed"; }
expires=$(entry "$ATT" | jq -r .expires)
e2e_log "$ATT blocked until $expires"
[ "$(jq -r .agent.running <("$LAB" status --json))" = false ] || e2e_fail "the agent still runs"
xdp_attached || e2e_fail "the XDP program left p-attacker with the agent"
d0=$(drops)
sleep 2
d1=$(drops)
e2e_log "no agent: drop_blocked $d0 -> $d1 in 2 s"
[ "$d1" -gt "$d0" ] || e2e_fail "the kernel stopped dropping the attacker without the agent"
blocked "$ATT" || e2e_fail "the block entry went away with the agent"
probe "$ATT" && e2e_fail "Kamailio answers the blocked attacker while no agent runs"
probe "$NEIGH" || e2e_fail "Kamailio does not answer the bystander while no agent runs"

e2e_log "a new agent takes over"
"$LAB" agent start >"$TMP/start.out" 2>&1 || { cat "$TMP/start.out" >&2; e2e_fail "lab agent start failed"; }
grep -q "adopted from" "$AGENT_LOG" || { cat "$AGENT_LOG" >&2; e2e_fail "the new agent did not adopt the pinned maps"; }
xdp_attached || e2e_fail "no XDP program on p-attacker after the takeover"
[ "$(entry "$ATT" | jq -r .expires)" = "$expires" ] || e2e_fail "the block's expiry changed with the takeover"
d2=$(drops)
sleep 1
[ "$(drops)" -gt "$d2" ] || e2e_fail "drops stopped after the takeover"

e2e_log "the new agent detects and blocks a new attacker ($ATT2, scanner User-Agent)"
"$LAB" exec sw-attacker "$BIN/sw-sipsend" --to "$PROXY:5060" --src-ip "$ATT2" --method OPTIONS \
  --user-agent friendly-scanner --count 5 --rate 50 >/dev/null 2>&1 || e2e_fail "sw-sipsend failed"
e2e_wait_for 5 blocked "$ATT2" || { tail -n 20 "$AGENT_LOG" >&2; e2e_fail "the new agent did not block $ATT2"; }

e2e_log "the attack stops"
pkill -f -- "sw-sipsend --to $PROXY:5060 --src-ip $ATT " || true
wait "$FLOOD" || true
e2e_log "the first block expires on time ($expires) and $ATT passes again"
e2e_wait_for $((TTL + 10)) not_blocked "$ATT" || e2e_fail "the block of $ATT did not expire"
now_s=$(date +%s.%N) exp_s=$(date -d "$expires" +%s.%N)
late=$(awk -v n="$now_s" -v e="$exp_s" 'BEGIN { printf "%.1f", n - e }')
e2e_log "expired ${late}s after its expiry time"
awk -v l="$late" 'BEGIN { exit !(l > -0.5 && l < 3) }' || e2e_fail "the block ended ${late}s off its expiry"
e2e_wait_for 10 probe "$ATT" || e2e_fail "$ATT is not answered after its block expired"

"$LAB" down >"$TMP/down.out" 2>&1 || { cat "$TMP/down.out" >&2; e2e_fail "lab down failed"; }
LAB_MADE=0
e2e_log "PASS: dropped through SIGKILL, taken over, expired on time"
