#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Spoofing cannot turn the scanner rules against a peer (docs/default-rules.md,
# the block ladder). In a fresh lab, sw-client registers and calls; then the
# attacker forges one UDP datagram with the client's address and a scanner's
# User-Agent (a raw socket: the lab's namespaces are ours). The agent raises
# the scanner alarm but blocks nothing, and the client's next calls all
# succeed. The same forgery with an address nobody registered earns the
# ladder's first, short block.
#   lab_spoof_test.sh BIN_DIR
source "$(dirname "$0")/lib.sh"
e2e_require_root
BIN="${1:?usage: $0 BIN_DIR}"
PROXY=10.61.0.1 CLIENT=10.61.1.10 STRANGER=10.61.3.88
e2e_lab_begin lab_spoof_test kamailio sipp jq python3
e2e_tmpdir
TMP="$E2E_TMP"

LAB_MADE=1
"$LAB" up --agent-args "--max-block-ttl 10m" >"$TMP/up.out" 2>&1 || { cat "$TMP/up.out" >&2; e2e_fail "lab up failed"; }
"$LAB" status --json >"$TMP/status.json"
ALARMS=$(jq -r .agent.alarms "$TMP/status.json")
PIN=$(jq -r .agent.pin_dir "$TMP/status.json")
ctl() { "$BIN/sipwardenctl" --pin-dir "$PIN" "$@"; }

# traffic CALLS: registrations and calls from sw-client; all must succeed.
traffic() {
  "$LAB" traffic --users 5 --calls "$1" --rate 5 --hold 1 --json >"$TMP/traffic.json" 2>"$TMP/traffic.err" ||
    { cat "$TMP/traffic.err" "$TMP/traffic.json" >&2; e2e_fail "legitimate traffic failed"; }
  local cs ca
  cs=$(jq .calls.succeeded "$TMP/traffic.json") ca=$(jq .calls.attempted "$TMP/traffic.json")
  [ "$cs" = "$ca" ] || e2e_fail "only $cs of $ca calls succeeded"
  e2e_log "sw-client: registrations $(jq .registrations.succeeded "$TMP/traffic.json")/$(jq .registrations.attempted "$TMP/traffic.json"), calls $cs/$ca"
}

# forge SRC CALL_ID: one OPTIONS with a scanner's User-Agent, from SRC (not
# an address of the attacker's host), sent through a raw socket.
forge() {
  "$LAB" exec sw-attacker python3 - "$1" "$PROXY" "$2" <<'PY'
import socket, struct, sys
src, dst, call_id = sys.argv[1], sys.argv[2], sys.argv[3]
sip = ("OPTIONS sip:100@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s:5060;branch=z9hG4bK-%s\r\n"
       "From: \"sipvicious\" <sip:100@1.1.1.1>;tag=%s\r\nTo: <sip:100@1.1.1.1>\r\n"
       "Call-ID: %s\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nUser-Agent: friendly-scanner\r\n"
       "Content-Length: 0\r\n\r\n" % (dst, src, call_id, call_id, call_id)).encode()
udp = struct.pack("!HHHH", 5060, 5060, 8 + len(sip), 0) + sip
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0x5057, 0, 64, socket.IPPROTO_UDP, 0,
                 socket.inet_aton(src), socket.inet_aton(dst))
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
s.sendto(ip + udp, (dst, 0))
PY
}
alarm_for() {  # alarm_for SRC: the first scanner-signature alarm accusing SRC
  jq -cR --arg s "$1" 'fromjson? | select(.alert.category == "scanner-signature" and .src_ip == $s)' \
    "$ALARMS" 2>/dev/null | sed -n 1p
}
have_alarm() { [ -n "$(alarm_for "$1")" ]; }

e2e_log "sw-client registers and places calls"
traffic 10

e2e_log "the attacker forges a scanner packet from $CLIENT"
forge "$CLIENT" spoof-1
e2e_wait_for 5 have_alarm "$CLIENT" || e2e_fail "no scanner alarm for the forged packet"
a=$(alarm_for "$CLIENT")
e2e_log "alarm: $(jq -r '.alert.rule + " (" + .action + "): " + .alert.signature' <<<"$a")"
[ "$(jq -r .alert.rule <<<"$a")" = scanner-spared ] || e2e_fail "not spared: $a"
[ "$(jq -r .action <<<"$a")" = allowed ] || e2e_fail "the alarm's action: $a"
sleep 0.5
ctl block list | grep -q "$CLIENT" && e2e_fail "$CLIENT was blocked by a forged packet"

e2e_log "the client's calls go on"
traffic 20

e2e_log "the same forgery from $STRANGER, an address nobody registered"
forge "$STRANGER" spoof-2
e2e_wait_for 5 have_alarm "$STRANGER" || e2e_fail "no scanner alarm for $STRANGER"
[ "$(jq -r .alert.rule <<<"$(alarm_for "$STRANGER")")" = scanner-first ] || e2e_fail "$(alarm_for "$STRANGER")"
e2e_wait_for 3 bash -c "'$BIN/sipwardenctl' --pin-dir '$PIN' block list --json | grep -q '$STRANGER/32'" ||
  e2e_fail "$STRANGER not blocked"
ttl=$(ctl block list --json | jq -r --arg p "$STRANGER/32" 'select(.prefix == $p) | .expires' |
      xargs -I{} date -d {} +%s)
left=$(( ttl - $(date +%s) ))
[ "$left" -gt 0 ] && [ "$left" -le 300 ] || e2e_fail "first-offence block lasts $left s, expected <= 300"
e2e_log "first offence: blocked for $left s more"
e2e_finish
