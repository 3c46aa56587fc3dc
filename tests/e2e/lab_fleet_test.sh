#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The fleet in the lab (lab up --fleet): two proxy hosts, each with its own
# Kamailio and agent, and sw-controller between them, all over mTLS with the
# lab's test CA.
#   1. a REGISTER scan spread over both proxies, 5 unknown users at each
#      (under enumeration-404's 10 at either: neither agent alarms), is
#      caught by the controller's central rules from the outcome events both
#      agents forward, and the scanner is blocked in both kernels;
#   2. an INVITE flood at sw-proxy is blocked there by its agent, and
#      sw-proxy2's kernel has the block within 1 s (time printed).
#   lab_fleet_test.sh BIN_DIR
source "$(dirname "$0")/lib.sh"
e2e_require_root
BIN="${1:?usage: $0 BIN_DIR}"
SCANNER=10.61.3.66 FLOODER=10.61.3.67
e2e_lab_begin lab_fleet_test kamailio sipp jq openssl
e2e_tmpdir
TMP="$E2E_TMP"

LAB_MADE=1
"$LAB" up --fleet --agent-args "--max-block-ttl 60s" >"$TMP/up.out" 2>&1 ||
  { cat "$TMP/up.out" >&2; e2e_fail "lab up --fleet failed"; }
"$LAB" status --json >"$TMP/status.json"
jq -e .fleet "$TMP/status.json" >/dev/null || e2e_fail "lab status shows no fleet"
PROXY1=$(jq -r .proxy.sip "$TMP/status.json")
PROXY2=$(jq -r .fleet.proxy2.sip "$TMP/status.json")
PIN1=$(jq -r .agent.pin_dir "$TMP/status.json")
PIN2=$(jq -r .fleet.proxy2.pin_dir "$TMP/status.json")
ALARMS1=$(jq -r .agent.alarms "$TMP/status.json")
ALARMS2=$(jq -r .fleet.proxy2.agent.alarms "$TMP/status.json")
OP_CERT=$(jq -r .fleet.controller.operator.cert "$TMP/status.json")
OP_KEY=$(jq -r .fleet.controller.operator.key "$TMP/status.json")
CA=$(jq -r .fleet.controller.operator.ca "$TMP/status.json")
fleet() {
  "$LAB" exec sw-controller "$BIN/sipwardenctl" --controller 127.0.0.1:50051 \
    --tls-cert "$OP_CERT" --tls-key "$OP_KEY" --tls-ca "$CA" "$@"
}
blocked_at() { "$BIN/sipwardenctl" --pin-dir "$1" block list | grep -q "^$2/32 "; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

both_connected() { [ "$(fleet agents --json | jq -s 'map(select(.connected)) | length')" -eq 2 ]; }
e2e_wait_for 20 both_connected || e2e_fail "the agents did not both connect: $(fleet agents)"
e2e_log "controller: $(fleet agents | tail -n +2 | awk '{print $1 " " $4}' | paste -sd, -)"

# ---- 1. a scan spread over both proxies ---------------------------------------------
register() {  # register PROXY USER: one REGISTER from the scanner for USER
  "$LAB" exec sw-attacker "$BIN/sw-sipsend" --src_ip "$SCANNER" --to "$1:5060" \
    --method REGISTER --user "$2" --count 1 2>/dev/null
}
e2e_log "REGISTER scan from $SCANNER: users 1300..1304 at $PROXY1, 1305..1309 at $PROXY2"
for u in 1300 1301 1302 1303 1304; do register "$PROXY1" "$u"; register "$PROXY2" $((u + 5)); done
t0=$(now_ms)
central() { fleet alarms --category enumeration | grep -q "controller .*$SCANNER"; }
e2e_wait_for 10 central || e2e_fail "no central enumeration alarm: $(fleet alarms)"
both_blocked() { blocked_at "$PIN1" "$SCANNER" && blocked_at "$PIN2" "$SCANNER"; }
e2e_wait_for 5 both_blocked || e2e_fail "the scanner is not blocked in both kernels"
e2e_log "central alarm and block in both kernels $(( $(now_ms) - t0 )) ms after the last REGISTER"
e2e_log "  $(fleet alarms --category enumeration | grep controller | head -1)"
for f in "$ALARMS1" "$ALARMS2"; do
  if grep -q '"category":"enumeration"' "$f" 2>/dev/null; then
    e2e_fail "a proxy alarmed on its own ($f): the scan was meant to stay under each one's threshold"
  fi
done
fleet block list | grep -q "^$SCANNER/32 .*central-rule *fleet-enumeration" ||
  e2e_fail "the fleet block does not name the central rule: $(fleet block list)"

# ---- 2. a flood at sw-proxy, blocked at sw-proxy2 -----------------------------------
e2e_log "INVITE flood from $FLOODER at $PROXY1"
"$LAB" exec sw-attacker "$BIN/sw-sipsend" --src_ip "$FLOODER" --to "$PROXY1:5060" \
  --method INVITE --count 80 --rate 400 --max_seconds 5 2>/dev/null
local_block() { blocked_at "$PIN1" "$FLOODER"; }
e2e_wait_for 5 local_block || e2e_fail "sw-proxy's agent did not block $FLOODER"
ta=$(now_ms)
remote_block() { blocked_at "$PIN2" "$FLOODER"; }
e2e_wait_for 2 remote_block || e2e_fail "sw-proxy2's kernel never got the block of $FLOODER"
tb=$(now_ms)
e2e_log "sw-proxy blocked $FLOODER; sw-proxy2's kernel had it $((tb - ta)) ms later (poll step 100 ms)"
[ $((tb - ta)) -le 1000 ] || e2e_fail "the block reached sw-proxy2 after $((tb - ta)) ms"
e2e_finish
