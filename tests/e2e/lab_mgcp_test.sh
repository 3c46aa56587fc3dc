#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# MGCP live: the kernel copies MGCP datagrams (ports 2427/2727) to the agent,
# which threads them like the offline path. In a fresh lab, sw-client plays
# the call agent and sw-uas the gateway, through the protected proxy host:
# CRCX, the gateway's 200 with SDP (its media endpoint), media, DLCX; media
# still arriving at that endpoint after the DLCX's grace is reported by the
# kernel and raises the malicious-gateway alarm (gateway-media-after-dlcx),
# live, within 2 s.
#   lab_mgcp_test.sh BIN_DIR
source "$(dirname "$0")/lib.sh"
e2e_require_root
BIN="${1:?usage: $0 BIN_DIR}"
CA=10.61.1.10 GW=10.61.2.10 MEDIA_PORT=3456 CONN=FDE234C8 CALL=A3C47F21456789F0
e2e_lab_begin lab_mgcp_test kamailio sipp jq python3
e2e_tmpdir
TMP="$E2E_TMP"

LAB_MADE=1
"$LAB" up >"$TMP/up.out" 2>&1 || { cat "$TMP/up.out" >&2; e2e_fail "lab up failed"; }
"$LAB" status --json >"$TMP/status.json"
ALARMS=$(jq -r .agent.alarms "$TMP/status.json")
EVENTS=$(jq -r .agent.events "$TMP/status.json")
[ -n "$EVENTS" ] && [ "$EVENTS" != null ] || e2e_fail "the lab's agent writes no events"

# udp NODE SPORT DST DPORT TEXT|--rtp SEQ: one datagram from NODE.
udp() {
  "$LAB" exec "$1" python3 - "$2" "$3" "$4" "$5" "${6:-}" <<'PY'
import socket, struct, sys
sport, dst, dport, what, seq = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
if what == "--rtp":  # RTP, PCMU, 160 bytes of silence
    data = struct.pack("!BBHII", 0x80, 0, int(seq), 160 * int(seq), 0x5157A11) + b"\xff" * 160
else:
    data = what.replace("\\n", "\r\n").encode()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("", sport))
s.sendto(data, (dst, dport))
PY
}
events_of() { jq -cR 'fromjson? | select(.type == "mgcp")' "$EVENTS" 2>/dev/null | grep -c "$1" || true; }
has_events() { [ "$(events_of "$1")" -ge "$2" ]; }

e2e_log "CRCX from the call agent ($CA) to the gateway ($GW)"
udp sw-client 2727 "$GW" 2427 "CRCX 1201 aaln/1@gw.lab MGCP 1.0\nC: $CALL\nL: p:20, a:PCMU\nM: sendrecv\n"
udp sw-uas 2427 "$CA" 2727 "200 1201 OK\nI: $CONN\n\nv=0\no=- 1 1 IN IP4 $GW\ns=-\nc=IN IP4 $GW\nt=0 0\nm=audio $MEDIA_PORT RTP/AVP 0\n"
e2e_wait_for 5 has_events '"verb":"CRCX"' 1 || e2e_fail "the live agent saw no CRCX: $(tail -3 "$EVENTS")"
e2e_wait_for 5 has_events '"status":200' 1 || e2e_fail "the live agent saw no 200 to the CRCX"
for seq in 1 2 3; do udp sw-client 40000 "$GW" "$MEDIA_PORT" --rtp "$seq"; done

e2e_log "DLCX, then media still arriving at $GW:$MEDIA_PORT after the grace"
udp sw-client 2727 "$GW" 2427 "DLCX 1210 aaln/1@gw.lab MGCP 1.0\nC: $CALL\nI: $CONN\n"
e2e_wait_for 5 has_events '"verb":"DLCX"' 1 || e2e_fail "the live agent saw no DLCX"
sleep 1.5
T0=$(date +%s%N)
udp sw-client 40000 "$GW" "$MEDIA_PORT" --rtp 4
gateway_alarm() { grep -q '"category":"gateway"' "$ALARMS"; }
e2e_wait_for 2 gateway_alarm || e2e_fail "no gateway alarm within 2 s: $(tail -5 "$EVENTS")"
T1=$(date +%s%N)
a=$(grep -m1 '"category":"gateway"' "$ALARMS")
e2e_log "alarm after $(( (T1 - T0) / 1000000 )) ms: $(jq -r .alert.signature <<<"$a")"
grep -q "mgcp:$CONN" <<<"$a" || e2e_fail "the alarm does not name the connection: $a"
grep -q '"reason":"media_after_end".*"owner":"mgcp:'"$CONN"'"' "$EVENTS" ||
  e2e_fail "no media_after_end event for the connection"
e2e_finish
