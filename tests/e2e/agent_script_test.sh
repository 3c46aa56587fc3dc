#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Script rules run in the live agent: an OPTIONS from the peer runs the rule's
# program (no shell: the From user, full of shell syntax, arrives as one
# argument) with the event's JSON on stdin, and its exit status picks the
# action list (an alarm). A script that outlives its timeout is killed and
# runs the failure list. With --scripts=false the same rule file is refused
# at load, naming its line.
#   agent_script_test.sh BIN_DIR
source "$(dirname "$0")/lib.sh"
e2e_require_root
BIN="${1:?usage: $0 BIN_DIR}"
A="sw-e2e-scr-$E2E_TAG"
B="sw-e2e-sp-$E2E_TAG"
e2e_netns "$A"
e2e_netns "$B"
e2e_veth "$A" sws0 10.252.0.1/24 "$B" sws1 10.252.0.2/24
e2e_bpffs
PIN="$E2E_BPFFS/sipwarden"
e2e_tmpdir
TMP="$E2E_TMP"
OUT="$TMP/script-out"
MARK="$TMP/injected"
cat >"$TMP/rules.yaml" <<YAML
rules:
  - name: options-seen
    type: SingleWithScript
    match: {method: OPTIONS, from_user: {prefix: "probe"}}
    key: [src_ip]
    # \$1 is the From user, one argument whatever it holds; the event's JSON is on stdin.
    script: {command: [/bin/sh, -c, 'printf "%s\\n" "\$#" "\$1" > $OUT.args && cat > $OUT.json', sh, "\${from_user}"], timeout: 5s}
    actions:
      - alarm: {signature: "script ran for \${from_user}", category: scan}
  - name: slow-check
    type: SingleWithScript
    match: {method: OPTIONS, from_user: {prefix: "slow"}}
    script: {command: [/bin/sleep, "30"], timeout: 1s}
    actions: []
    actions2:
      - alarm: {signature: "check timed out for \${src_ip}", category: anomaly}
YAML

e2e_log "--scripts=false refuses the rule file at load"
if ip netns exec "$A" "$BIN/sipwarden-agent" --iface sws0 --pin-dir "$PIN" --rules "$TMP/rules.yaml" \
     --scripts=false 2>"$TMP/refused.err"; then
  e2e_fail "the agent started with scripts disabled"
fi
grep -q "rules.yaml:7:.*scripts are disabled" "$TMP/refused.err" &&
  grep -q "rules.yaml:13:.*scripts are disabled" "$TMP/refused.err" ||
  e2e_fail "refusal does not name the line: $(cat "$TMP/refused.err")"

e2e_log "starting the agent with the script rules"
e2e_agent "$A" sws0 /dev/null --rules "$TMP/rules.yaml" --alarms-out "$TMP/alarms" \
  --records-out /dev/null

# options USER N: one OPTIONS from USER (Call-ID N).
options() {
  printf '%s\n' "OPTIONS sip:100@10.252.0.1 SIP/2.0" \
    "Via: SIP/2.0/UDP 10.252.0.2:5060;branch=z9hG4bK-sw$2" "From: <sip:$1@10.252.0.2>;tag=t$2" \
    "To: <sip:100@10.252.0.1>" "Call-ID: script-$2@10.252.0.2" "CSeq: 1 OPTIONS" \
    "Max-Forwards: 70" "Content-Length: 0" "" >"$TMP/options-$2.sip"
  ip netns exec "$B" "$BIN/sw-sipsend" --to 10.252.0.1:5060 --message-file "$TMP/options-$2.sip" \
    --count 1 2>/dev/null
}
evil="probe;touch\$IFS$MARK"
e2e_log "an OPTIONS from $evil"
options "$evil" 1
e2e_wait_for 10 grep -q '"script ran for' "$TMP/alarms" || e2e_fail "no alarm from the script rule: $(cat "$TMP/agent.err")"
[ "$(sed -n 1p "$OUT.args")" = 1 ] || e2e_fail "the value became $(sed -n 1p "$OUT.args") arguments"
[ "$(sed -n 2p "$OUT.args")" = "$evil" ] || e2e_fail "argument: $(sed -n 2p "$OUT.args")"
[ ! -e "$MARK" ] || e2e_fail "the From user ran as a command"
grep -q '"method":"OPTIONS"' "$OUT.json" || e2e_fail "the script's stdin lacks the event: $(cat "$OUT.json")"

e2e_log "a script that outlives its 1 s timeout"
options slowpoke 2
e2e_wait_for 10 grep -q '"check timed out for 10.252.0.2' "$TMP/alarms" || e2e_fail "no timeout alarm"
pgrep -f "/bin/sleep 30" >/dev/null && e2e_fail "the timed-out script still runs"

kill -INT "$AGENT"
wait "$AGENT" || e2e_fail "agent exited with $?"
E2E_PIDS=()
e2e_finish
