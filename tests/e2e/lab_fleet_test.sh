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
#      sw-proxy2's kernel has the block within 1 s (time printed);
#   and first, the honeypot node (sw-honeypot) is up: lab status lists it
#   and its services running, sipwarden-honeypot is registered with the
#   controller with the deflectors the lab published, and an OPTIONS from
#   sw-attacker to the honeypot's Kamailio is answered by the honeypot's
#   user agent server (its Server header) and reported to the controller as
#   a hit from that address.
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

# ---- 0. the honeypot node ---------------------------------------------------------
jq -e '.nodes["sw-honeypot"] and .services.honeypot.running and .services.honeypot_kamailio.running' \
  "$TMP/status.json" >/dev/null || e2e_fail "lab status: the honeypot is not up: $(jq -c '.services' "$TMP/status.json")"
HP=$(jq -r .fleet.honeypot.sip "$TMP/status.json")
HP_FROM=$(jq -r .fleet.honeypot.reached_from.addr "$TMP/status.json")
HP_PAGE=$(jq -r .fleet.honeypot.page "$TMP/status.json")
deflectors=$(grep -oE "sip:[^\"'<> ]+@$HP" "$HP_PAGE" | sort -u | wc -l)
[ "$deflectors" -ge 100 ] && [ "$deflectors" = "$(jq -r .fleet.honeypot.deflectors "$TMP/status.json")" ] ||
  e2e_fail "the published page gives $deflectors deflector URIs at $HP"
fleet agents --json | jq -e --argjson n "$deflectors" \
  'select(.agent == "sw-honeypot" and .honeypot and .deflector_users == $n)' >/dev/null ||
  e2e_fail "sw-honeypot is not registered with the controller: $(fleet agents)"
cat >"$TMP/hp_options.xml" <<'XML'
<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="OPTIONS answered by the honeypot's UAS">
  <send retrans="500"><![CDATA[

      OPTIONS sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:probe@[local_ip]>;tag=[pid]hp[call_number]
      To: <sip:[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 OPTIONS
      Max-Forwards: 70
      User-Agent: sipwarden-lab honeypot probe
      Content-Length: 0

    ]]></send>
  <recv response="200">
    <action><ereg regexp="Asterisk" search_in="hdr" header="Server:" check_it="true" assign_to="srv"/></action>
  </recv>
  <Reference variables="srv"/>
</scenario>
XML
(cd "$TMP" && timeout -k 2 8 "$LAB" exec sw-attacker sipp "$HP:5060" -sf "$TMP/hp_options.xml" -m 1 -i "$HP_FROM" \
   -p 0 -timeout 4s -recv_timeout 3s -nostdin >/dev/null 2>&1 </dev/null) ||
  e2e_fail "no 200 with the honeypot's Server header from $HP:5060 for an OPTIONS from $HP_FROM"
hp_hit() { fleet honeypot hits --src "$HP_FROM" --json | jq -e 'select(.honeypot == "sw-honeypot" and .method == "OPTIONS")' >/dev/null; }
e2e_wait_for 5 hp_hit || e2e_fail "the controller has no OPTIONS hit from $HP_FROM: $(fleet honeypot hits)"
e2e_log "honeypot: Kamailio at $HP relays an OPTIONS from sw-attacker ($HP_FROM) to sipwarden-honeypot, which" \
  "answers and reports the hit; $deflectors deflectors published"

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
