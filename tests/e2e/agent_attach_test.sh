#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Attaching safely: the agent refuses an interface where another XDP program
# is attached, naming it, and leaves that program in place; --replace takes
# the interface; a restarted agent swaps an earlier sipwarden program for its
# own without --replace. sipwardenctl and the agent change sw_config one
# field at a time under a shared lock (no change is lost when both write),
# and the agent's --sip-ports replaces the whole port table.
#   agent_attach_test.sh BIN_DIR BASELINE_BPF_OBJECT
source "$(dirname "$0")/lib.sh"
e2e_require_root
BIN="${1:?usage: $0 BIN_DIR BASELINE_BPF_OBJECT}"
OBJ="${2:?usage: $0 BIN_DIR BASELINE_BPF_OBJECT}"
A="sw-e2e-att-$E2E_TAG"
B="sw-e2e-peer-$E2E_TAG"
e2e_netns "$A"
e2e_netns "$B"
e2e_veth "$A" swa0 10.251.0.1/24 "$B" swa1 10.251.0.2/24
e2e_bpffs
PIN="$E2E_BPFFS/sipwarden"
e2e_tmpdir
TMP="$E2E_TMP"
CTL=("$BIN/sipwardenctl" --pin-dir "$PIN")
xdp_prog() { ip -n "$A" -d link show swa0 | grep -o 'name [a-z_]*' | head -1 | cut -d' ' -f2; }
agent() { ip netns exec "$A" "$BIN/sipwarden-agent" --iface swa0 --pin-dir "$PIN" --records-out /dev/null "$@"; }
# start ERR_FILE FLAGS...: the agent in the background as $AGENT (started
# directly, not through a function in the background, so SIGINT reaches it).
start() {
  local err=$1
  shift
  ip netns exec "$A" "$BIN/sipwarden-agent" --iface swa0 --pin-dir "$PIN" --records-out /dev/null \
    "$@" 2>"$err" &
  AGENT=$!
  E2E_PIDS+=("$AGENT")
  e2e_wait_for 20 grep -q "attached to swa0" "$err" || e2e_fail "agent did not attach: $(cat "$err")"
}

e2e_log "a foreign XDP program (sw_bare_pass) on swa0"
ip -n "$A" link set dev swa0 xdpgeneric obj "$OBJ" sec xdp program sw_bare_pass
[ "$(xdp_prog)" = sw_bare_pass ] || e2e_fail "could not attach the foreign program"
if agent 2>"$TMP/refused.err"; then e2e_fail "the agent replaced a foreign program without --replace"; fi
grep -Eq "XDP program 'sw_bare_pass' \(id [0-9]+\) is attached in generic mode.*--replace" "$TMP/refused.err" ||
  e2e_fail "refusal does not name the program: $(cat "$TMP/refused.err")"
[ "$(xdp_prog)" = sw_bare_pass ] || e2e_fail "the foreign program is gone after the refusal"
[ -z "$(ls -A "$PIN" 2>/dev/null)" ] || e2e_fail "the refused agent left pins: $(ls "$PIN")"
e2e_log "refused: $(grep -o "XDP program.*" "$TMP/refused.err")"

e2e_log "--replace takes the interface"
start "$TMP/a1.err" --replace --sip-ports 5060,5070
[ "$(xdp_prog)" = sw_xdp ] || e2e_fail "sw_xdp is not attached after --replace"
"${CTL[@]}" config show | grep -qx "sip-ports 5060,5070" ||
  e2e_fail "port table: $("${CTL[@]}" config show | grep sip-ports)"

e2e_log "sipwardenctl writes sw_config from several processes at once"
# The CLI's path through the lock, end to end: two writers change two fields
# 100 times each while a source limit sets its flag; every last write stands.
# (Process start-up makes collisions rare here, so this alone would rarely
# catch a lost update; MapsConfigTest.ConcurrentWritersOfDifferentFieldsLoseNothing
# in the bpf tier does, and fails without the lock.)
( for i in $(seq 1 100); do "${CTL[@]}" config set invite-rate "$i" >/dev/null; done ) &
W1=$!
( for i in $(seq 101 200); do "${CTL[@]}" config set snap-len "$i" >/dev/null; done ) &
W2=$!
"${CTL[@]}" limit add 10.251.0.2 --rate 1000 >/dev/null
wait "$W1" "$W2"
show=$("${CTL[@]}" config show)
grep -qx "invite-rate 100" <<<"$show" || e2e_fail "invite-rate lost its last write: $(grep invite-rate <<<"$show")"
grep -qx "snap-len 200" <<<"$show" || e2e_fail "snap-len lost its last write: $(grep snap-len <<<"$show")"
"${CTL[@]}" limit list | grep -q 10.251.0.2 || e2e_fail "the source limit is gone"

e2e_log "an agent restarted after --keep-attached swaps the earlier sw_xdp without --replace"
kill -INT "$AGENT"; wait "$AGENT" || true
E2E_PIDS=()
ip -n "$A" link set dev swa0 xdpgeneric off
start "$TMP/a2.err" --keep-attached
old_id=$(ip -n "$A" -d link show swa0 | grep -o 'prog/xdp id [0-9]*' | grep -o '[0-9]*$')
kill -INT "$AGENT"; wait "$AGENT" || true
E2E_PIDS=()
[ "$(xdp_prog)" = sw_xdp ] || e2e_fail "--keep-attached left no program"
start "$TMP/a3.err"
new_id=$(ip -n "$A" -d link show swa0 | grep -o 'prog/xdp id [0-9]*' | grep -o '[0-9]*$')
[ -n "$new_id" ] && [ "$new_id" != "$old_id" ] || e2e_fail "program ids: old $old_id, new $new_id"
kill -INT "$AGENT"
wait "$AGENT" || e2e_fail "agent exited with $?"
E2E_PIDS=()
ip -n "$A" -d link show swa0 | grep -q 'prog/xdp' && e2e_fail "XDP program still attached after exit"
e2e_finish
