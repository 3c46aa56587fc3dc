#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Long first lines do not slip past the kernel: a flood of INVITEs whose
# Request-URIs are 1 to 4 KB long (Kamailio accepts such) is accounted per
# source and method like any INVITE: the kernel's token bucket drops what
# exceeds the source's rate, the ring carries the rest (flagged long_line when
# the kernel could not see the line's end), and the agent raises the INVITE
# flood alarm and blocks the source.
#   agent_long_uri_test.sh BIN_DIR
source "$(dirname "$0")/lib.sh"
e2e_require_root
BIN="${1:?usage: $0 BIN_DIR}"
A="sw-e2e-luri-$E2E_TAG"
B="sw-e2e-lsrc-$E2E_TAG"
e2e_netns "$A"
e2e_netns "$B"
e2e_veth "$A" swl0 10.254.0.1/24 "$B" swl1 10.254.0.2/24
# 4 KB URIs need a jumbo MTU on the pair (one datagram, no fragments).
ip -n "$A" link set swl0 mtu 9000
ip -n "$B" link set swl1 mtu 9000
e2e_bpffs
PIN="$E2E_BPFFS/sipwarden"
e2e_tmpdir
TMP="$E2E_TMP"
CTL=("$BIN/sipwardenctl" --pin-dir "$PIN")

e2e_agent "$A" swl0 /dev/null --snap-len 8192 --invite-rate 100 --invite-burst 100 \
  --alarms-out "$TMP/alarms" --records-out "$TMP/records"

e2e_log "400 INVITEs with 1 to 4 KB Request-URIs at about 1000/s from 10.254.0.2"
# Each a new call (Call-ID, branch), as a flooding tool sends them; bounded
# in count and time.
ip netns exec "$B" timeout 20 python3 - <<'PY' || e2e_fail "the sender failed"
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(400):
    user = "a" * (1000 + (i * 7919) % 3001)   # 1000..4000 bytes
    msg = ("INVITE sip:%s@10.254.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.254.0.2:5060;branch=z9hG4bK-l%d\r\n"
           "From: <sip:x@10.254.0.2>;tag=%d\r\nTo: <sip:%s@10.254.0.1>\r\nCall-ID: long-%d@10.254.0.2\r\n"
           "CSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n" % (user, i, i, user, i))
    s.sendto(msg.encode(), ("10.254.0.1", 5060))
    time.sleep(0.001)
PY
stats=$("${CTL[@]}" stats --json)
invites=$("${CTL[@]}" sources --json | jq -r 'select(.addr == "10.254.0.2") | .msgs.INVITE' 2>/dev/null | head -1)
rate=$(e2e_json_field "$stats" drop_rate)
blocked=$(e2e_json_field "$stats" drop_blocked)
e2e_log "kernel: INVITEs counted for the source ${invites:-?}, rate-limit drops $rate, blocklist drops $blocked"
[ "$(( rate + blocked ))" -gt 0 ] || e2e_fail "the kernel dropped none of the long-URI flood"
grep -q '"long_line":true' "$TMP/records" || e2e_fail "no record flagged long_line"
grep -q '"class":"INVITE"' "$TMP/records" || e2e_fail "long-URI INVITEs not classified INVITE"
flood_alarm() { grep -q '"category":"flood".*"src_ip":"10.254.0.2"\|"src_ip":"10.254.0.2".*"category":"flood"' "$TMP/alarms"; }
e2e_wait_for 5 flood_alarm || e2e_fail "no flood alarm: $(cat "$TMP/alarms")"
e2e_log "alarm: $(grep -m1 '"category":"flood"' "$TMP/alarms" | jq -r .alert.signature)"
"${CTL[@]}" block list | grep -q "10.254.0.2" || e2e_fail "the flooder is not blocked"
kill -INT "$AGENT"
wait "$AGENT" || e2e_fail "agent exited with $?"
E2E_PIDS=()
e2e_finish
