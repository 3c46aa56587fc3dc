#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# End to end, live: a scanner's OPTIONS reach the agent through the kernel,
# the default rules raise a scanner-signature alarm and block the source in
# the kernel within 2 s, its next packets are dropped there, a legitimate
# neighbour still passes, and an allowlisted scanner is alarmed on but never
# blocked.
#   agent_prevention_test.sh BIN_DIR
source "$(dirname "$0")/lib.sh"
e2e_require_root
BIN="${1:?usage: $0 BIN_DIR}"
P="sw-e2e-pp-$E2E_TAG" A="sw-e2e-pa-$E2E_TAG"
PX=10.251.0.1 AT=10.251.0.66 LEGIT=10.251.0.10 FRIEND=10.251.0.20

e2e_netns "$P"
e2e_netns "$A"
e2e_veth "$P" swp0 "$PX/24" "$A" swa0 "$AT/24"
ip -n "$A" addr add "$LEGIT/24" dev swa0
ip -n "$A" addr add "$FRIEND/24" dev swa0
e2e_bpffs
PIN="$E2E_BPFFS/sipwarden"
e2e_tmpdir
TMP="$E2E_TMP"
CTL=("$BIN/sipwardenctl" --pin-dir "$PIN")

e2e_agent "$P" swp0 /dev/null --alarms-out "$TMP/alarms" --events-out "$TMP/events"
"${CTL[@]}" allow add "$FRIEND" >/dev/null

send() {  # send SRC UA COUNT
  ip netns exec "$A" "$BIN/sw-sipsend" --to "$PX:5060" --src-ip "$1" --method OPTIONS \
    --user-agent "$2" --count "$3" --rate 50 2>/dev/null
}
stat() { e2e_json_field "$("${CTL[@]}" stats --json)" "$1"; }

e2e_log "a scanner sends one OPTIONS"
t0=$(date +%s%N)
send "$AT" friendly-scanner 1
e2e_wait_for 2 grep -q "\"src_ip\":\"$AT\".*scanner-signature" "$TMP/alarms" ||
  e2e_fail "no scanner-signature alarm for $AT within 2 s: $(cat "$TMP/alarms")"
e2e_wait_for 2 bash -c "${CTL[*]} block list | grep -q '^$AT/32 *scanner-signature'" ||
  e2e_fail "$AT not blocked in the kernel: $(${CTL[*]} block list)"
e2e_log "alarm and block after $(( ($(date +%s%N) - t0) / 1000000 )) ms"

before=$(stat drop_blocked)
send "$AT" friendly-scanner 10
send "$LEGIT" "Linphone/5.0" 3
sleep 0.3
[ $(( $(stat drop_blocked) - before )) -ge 10 ] || e2e_fail "the scanner's packets were not dropped"
e2e_wait_for 3 grep -q "\"src_ip\":\"$LEGIT\".*\"method\":\"OPTIONS\"" "$TMP/events" ||
  e2e_fail "the legitimate neighbour's OPTIONS did not pass"

e2e_log "an allowlisted source with a scanner's User-Agent: alarm, no block"
send "$FRIEND" friendly-scanner 1
e2e_wait_for 3 grep -q "\"src_ip\":\"$FRIEND\".*scanner-signature" "$TMP/alarms" ||
  e2e_fail "no alarm for the allowlisted source"
sleep 0.5
"${CTL[@]}" block list | grep -q "^$FRIEND/" && e2e_fail "an allowlisted source was blocked"
grep -q "allowlisted" "$TMP/agent.err" || e2e_fail "the agent did not say it spared the allowlisted source"

kill -INT "$AGENT"
wait "$AGENT" || e2e_fail "agent exited with $?"
E2E_PIDS=()
e2e_finish
