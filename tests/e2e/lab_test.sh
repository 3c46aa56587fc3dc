#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# End to end: the lab (tools/lab/lab) comes up with real peers, legitimate
# registrations and calls through Kamailio succeed with media crossing the
# protected host, Kamailio mirrors SIP over HEPv3 to 127.0.0.1:9060 in
# sw-proxy, the agent sees the traffic, and 'lab down' leaves nothing behind.
#   lab_test.sh BIN_DIR
source "$(dirname "$0")/lib.sh"
e2e_require_root
BIN="${1:?usage: $0 BIN_DIR}"
NODES=(sw-proxy sw-client sw-uas sw-attacker)

e2e_lab_begin lab_test kamailio sipp tcpdump jq

START=$(date +%s)
e2e_tmpdir
TMP="$E2E_TMP"

e2e_log "lab up"
LAB_MADE=1
"$LAB" up >"$TMP/up.out" 2>&1 || { cat "$TMP/up.out" >&2; e2e_fail "lab up failed"; }

e2e_log "lab status --json"
"$LAB" status --json >"$TMP/status.json" || { cat "$TMP/status.json" >&2; e2e_fail "lab status --json failed"; }
jq -e . "$TMP/status.json" >/dev/null || e2e_fail "lab status --json is not JSON"
q() { jq -r "$1" "$TMP/status.json"; }
[ "$(q .up)" = true ] || e2e_fail "status says the lab is not up"
for ns in "${NODES[@]}"; do
  [ "$(q ".nodes[\"$ns\"].ipv4 | length")" -ge 1 ] || e2e_fail "$ns has no IPv4 address in status"
  [ "$(q ".nodes[\"$ns\"].ipv6 | length")" -ge 1 ] || e2e_fail "$ns has no IPv6 address in status"
done
[ "$(q '.nodes["sw-client"].addr')" = 10.61.1.10 ] || e2e_fail "client address: $(q '.nodes["sw-client"].addr')"
[ "$(q .proxy.sip)" = 10.61.0.1 ] || e2e_fail "proxy SIP address: $(q .proxy.sip)"
for s in kamailio uas agent; do
  [ "$(q ".services.$s.running")" = true ] || e2e_fail "$s is not running"
done
RECORDS=$(q .agent.records) EVENTS=$(q .agent.events)
[ -n "$(q .agent.alarms)" ] || e2e_fail "status gives no alarm file path"
PIDS_BEFORE=$(q '[.services[].pid] | map(select(. != null)) | join(" ")')
"$LAB" status >"$TMP/status.txt" || { cat "$TMP/status.txt" >&2; e2e_fail "lab status reports a problem"; }

e2e_log "capturing HEP on lo:9060 in sw-proxy while legitimate traffic runs"
"$LAB" exec sw-proxy timeout 60 tcpdump -i lo -n -U -w "$TMP/hep.pcap" udp port 9060 \
  >/dev/null 2>"$TMP/tcpdump.err" &
TCPDUMP=$!
E2E_PIDS+=("$TCPDUMP")
e2e_wait_for 10 grep -q "listening on" "$TMP/tcpdump.err" || e2e_fail "tcpdump did not start"

e2e_log "lab traffic: 10 registrations, 5 calls"
"$LAB" traffic --users 10 --calls 5 --rate 5 --hold 1 --json >"$TMP/traffic.json" 2>"$TMP/traffic.err" ||
  { cat "$TMP/traffic.json" "$TMP/traffic.err" >&2; e2e_fail "lab traffic failed"; }
cat "$TMP/traffic.json" >&2
t() { jq -r "$1" "$TMP/traffic.json"; }
[ "$(t .registrations.succeeded)" = 10 ] || e2e_fail "registrations succeeded: $(t .registrations.succeeded) of 10"
[ "$(t .calls.succeeded)" = 5 ] || e2e_fail "calls succeeded: $(t .calls.succeeded) of 5"
[ "$(t .calls.failed)" = 0 ] || e2e_fail "calls failed: $(t .calls.failed)"
[ "$(t .proxy_p_uas_packets.to_uas)" -ge 100 ] || e2e_fail "media did not cross sw-proxy to sw-uas"
[ "$(t .proxy_p_uas_packets.from_uas)" -ge 100 ] || e2e_fail "no echoed media from sw-uas"

sleep 0.5
kill -INT "$TCPDUMP" 2>/dev/null || true
wait "$TCPDUMP" 2>/dev/null || true
tcpdump -r "$TMP/hep.pcap" -n -A >"$TMP/hep.txt" 2>/dev/null || e2e_fail "cannot read the HEP capture"
hep=$(grep -ac "HEP3" "$TMP/hep.txt" || true)
e2e_log "HEPv3 packets to 127.0.0.1:9060: $hep"
[ "$hep" -ge 50 ] || e2e_fail "Kamailio mirrored only $hep HEPv3 packets"
grep -aq "INVITE sip:120" "$TMP/hep.txt" || e2e_fail "no INVITE in the HEP mirror"
grep -aq "SIP/2.0 200 OK" "$TMP/hep.txt" || e2e_fail "no 200 OK in the HEP mirror"

e2e_log "the agent saw the traffic"
[ -s "$RECORDS" ] || e2e_fail "the agent's records file $RECORDS is empty"
grep -q '"src_ip":"10.61.1.10".*"class":"INVITE"' "$RECORDS" || e2e_fail "no INVITE record from the client"
grep -q '"src_ip":"10.61.2.10"' "$RECORDS" || e2e_fail "no record from the callee"
e2e_wait_for 10 grep -q '"type":"call"' "$EVENTS" || e2e_fail "no call record in $EVENTS"

e2e_log "lab down"
"$LAB" down >"$TMP/down.out" 2>&1 || { cat "$TMP/down.out" >&2; e2e_fail "lab down failed"; }
LAB_MADE=0
for ns in "${NODES[@]}"; do
  [ -e "/run/netns/$ns" ] && e2e_fail "namespace $ns left behind"
done
ip netns list | grep -E '^sw-(proxy|client|uas|attacker)\b' && e2e_fail "lab namespaces left behind"
[ -e /run/sw-lab ] && e2e_fail "/run/sw-lab left behind"
grep -q " /run/sw-lab" /proc/mounts && e2e_fail "mounts under /run/sw-lab left behind"
for pid in $PIDS_BEFORE; do
  [ -d "/proc/$pid" ] && e2e_fail "process $pid ($(cat "/proc/$pid/comm" 2>/dev/null)) left running"
done
"$LAB" down >"$TMP/down2.out" 2>&1 || e2e_fail "a second lab down failed"
"$LAB" status >/dev/null 2>&1 && e2e_fail "lab status says up after lab down"

e2e_log "took $(($(date +%s) - START)) s"
e2e_finish
