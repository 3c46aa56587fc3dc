#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The fleet, end to end: sipwarden-controller on loopback, two agents (proxy
# A and proxy B, each with XDP on its own veth, its own pinned maps), and an
# attacker namespace behind each proxy.
#   1. an operator's block reaches both kernels (time printed);
#   2. an INVITE flood at A makes A block the attacker; the controller makes
#      it fleet-wide and B's kernel drops the attacker within 1 s of A's
#      block (time printed);
#   3. an allow removes the fleet block from both kernels;
#   4. the controller is killed (SIGKILL) mid-attack: both agents keep
#      enforcing, B blocks a new attacker on its own and buffers its alarm;
#      after a restart on the same database no alarm is lost (the agents'
#      alarm files and the controller's store are counted), and both agents'
#      decision versions equal the controller's;
#   5. kill -9 while four operators add blocks: every block acknowledged
#      before the kill is there after the restart.
#   controller_fleet_test.sh BIN_DIR
source "$(dirname "$0")/lib.sh"
e2e_require_root
BIN="${1:?usage: $0 BIN_DIR}"
T=$E2E_TAG
NA="sw-fa-$T" NB="sw-fb-$T"           # the attackers' namespaces
IA="swfa$((T % 10000))" IB="swfb$((T % 10000))"  # the proxies' interfaces (root namespace)
PA=10.251.1.1 PB=10.251.2.1           # the proxies
ATT=10.251.9.9 ATT2=10.251.8.8        # attackers (present behind both proxies)

e2e_netns "$NA"
e2e_netns "$NB"
ip link add "$IA" type veth peer name swatt netns "$NA"
ip link add "$IB" type veth peer name swatt netns "$NB"
ip addr add "$PA/24" dev "$IA" && ip link set "$IA" up
ip addr add "$PB/24" dev "$IB" && ip link set "$IB" up
for ns in "$NA" "$NB"; do
  net=$([ "$ns" = "$NA" ] && echo 1 || echo 2)
  ip -n "$ns" addr add "10.251.$net.2/24" dev swatt
  ip -n "$ns" addr add "$ATT/32" dev swatt
  ip -n "$ns" addr add "$ATT2/32" dev swatt
  ip -n "$ns" link set swatt up
done
e2e_bpffs
e2e_tmpdir
TMP="$E2E_TMP"
PORT=$((42000 + T % 8000))
CADDR=127.0.0.1:$PORT
FLEET=("$BIN/sipwardenctl" --controller "$CADDR" --name e2e-operator)
ctl_a() { "$BIN/sipwardenctl" --pin-dir "$E2E_BPFFS/a" "$@"; }
ctl_b() { "$BIN/sipwardenctl" --pin-dir "$E2E_BPFFS/b" "$@"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

CONTROLLER=""
start_controller() {
  "$BIN/sipwarden-controller" --listen "$CADDR" --db "$TMP/controller.db" >>"$TMP/controller.log" 2>&1 &
  CONTROLLER=$!
  E2E_PIDS+=("$CONTROLLER")
  e2e_wait_for 10 "${FLEET[@]}" stats >/dev/null 2>&1 || { cat "$TMP/controller.log" >&2; e2e_fail "the controller did not start"; }
}
start_agent() {  # start_agent NAME IFACE PIN
  "$BIN/sipwarden-agent" --iface "$2" --pin-dir "$3" --controller "$CADDR" --agent-name "$1" \
    --alarms-out "$TMP/$1.alarms" --records-out /dev/null --max-block-ttl 120s \
    >/dev/null 2>"$TMP/$1.log" &
  E2E_PIDS+=("$!")
}
connected() { [ "$(grep -c "connected as $1" "$TMP/$1.log" 2>/dev/null)" -ge "${2:-1}" ]; }
blocked_in() { "ctl_$1" block list | grep -q "^$2/32 "; }  # blocked_in a|b ADDR
allowed_in() { "ctl_$1" allow list | grep -q "^$2 "; }

e2e_log "controller on $CADDR, agents proxy-a ($IA) and proxy-b ($IB)"
start_controller
# Garbage on the port: that connection is dropped, the controller serves on.
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
head -c 65536 /dev/urandom >&3 2>/dev/null || true
exec 3>&-
"${FLEET[@]}" stats >/dev/null || e2e_fail "the controller stopped serving after garbage on its port"
start_agent proxy-a "$IA" "$E2E_BPFFS/a"
start_agent proxy-b "$IB" "$E2E_BPFFS/b"
e2e_wait_for 20 connected proxy-a || { cat "$TMP/proxy-a.log" >&2; e2e_fail "proxy-a did not connect"; }
e2e_wait_for 20 connected proxy-b || { cat "$TMP/proxy-b.log" >&2; e2e_fail "proxy-b did not connect"; }
"${FLEET[@]}" agents | grep -q "proxy-a .*connected" || e2e_fail "the controller does not list proxy-a: $("${FLEET[@]}" agents)"

# ---- 1. an operator's block ---------------------------------------------------------
t0=$(now_ms)
"${FLEET[@]}" block add 192.0.2.99 --ttl 5m --reason manual >/dev/null || e2e_fail "fleet block add failed"
both() { blocked_in a 192.0.2.99 && blocked_in b 192.0.2.99; }
e2e_wait_for 2 both || e2e_fail "the operator's block did not reach both kernels"
e2e_log "operator block in both kernels after $(( $(now_ms) - t0 )) ms (polling every 100 ms)"

# ---- 2. an attack at A blocks the attacker at B -----------------------------------
e2e_log "INVITE flood from $ATT at proxy A"
ip netns exec "$NA" "$BIN/sw-sipsend" --src_ip "$ATT" --to "$PA:5060" --method INVITE \
  --count 80 --rate 400 --max_seconds 5 2>/dev/null
local_block() { blocked_in a "$ATT"; }
e2e_wait_for 5 local_block || e2e_fail "proxy A did not block $ATT: $(tail -3 "$TMP/proxy-a.log")"
ta=$(now_ms)
fleet_block() { blocked_in b "$ATT"; }
e2e_wait_for 2 fleet_block || e2e_fail "proxy B's kernel never got the block of $ATT"
tb=$(now_ms)
e2e_log "A blocked $ATT; B's kernel had it $((tb - ta)) ms later (poll granularity 100 ms)"
[ $((tb - ta)) -le 1000 ] || e2e_fail "B got the block $((tb - ta)) ms after A, more than 1 s"
"${FLEET[@]}" block list | grep -q "^$ATT/32 *flood .*agent *proxy-a" ||
  e2e_fail "the fleet block does not name proxy A: $("${FLEET[@]}" block list)"
before=$(ctl_b stats --json | jq -r .drop_blocked)
ip netns exec "$NB" "$BIN/sw-sipsend" --src_ip "$ATT" --to "$PB:5060" --method OPTIONS --count 10 --rate 200 2>/dev/null
after=$(ctl_b stats --json | jq -r .drop_blocked)
[ $((after - before)) -ge 10 ] || e2e_fail "proxy B dropped $((after - before)) of the attacker's 10 packets"
e2e_log "proxy B dropped the attacker's packets ($before -> $after)"

# ---- 3. an allow lifts the fleet block ------------------------------------------------
"${FLEET[@]}" allow add 10.251.9.0/24 >/dev/null || e2e_fail "fleet allow add failed"
lifted() { ! blocked_in a "$ATT" && ! blocked_in b "$ATT" && allowed_in a 10.251.9.0/24 && allowed_in b 10.251.9.0/24; }
e2e_wait_for 2 lifted || e2e_fail "the allow did not lift the block in both kernels: A $(ctl_a block list | grep 10.251) B $(ctl_b block list | grep 10.251)"
e2e_log "the allow removed the block from both kernels"

# ---- 4. the controller dies mid-attack ----------------------------------------------
e2e_log "SIGKILL to the controller; a flood from $ATT2 at proxy B"
kill -KILL "$CONTROLLER"
wait "$CONTROLLER" 2>/dev/null || true
lost() { grep -q "connection lost" "$TMP/proxy-b.log"; }
e2e_wait_for 5 lost || e2e_fail "proxy B did not notice the controller's death"
blocked_in a 192.0.2.99 && blocked_in b 192.0.2.99 || e2e_fail "a fleet block vanished with the controller"
ip netns exec "$NB" "$BIN/sw-sipsend" --src_ip "$ATT2" --to "$PB:5060" --method INVITE \
  --count 80 --rate 400 --max_seconds 5 2>/dev/null
b_blocks() { blocked_in b "$ATT2"; }
e2e_wait_for 5 b_blocks || e2e_fail "proxy B did not block $ATT2 on its own"
e2e_log "proxy B blocked $ATT2 on its own while the controller was away"
start_controller
e2e_wait_for 10 connected proxy-a 2 || e2e_fail "proxy A did not reconnect"
e2e_wait_for 10 connected proxy-b 2 || e2e_fail "proxy B did not reconnect"
# The flood block reported while away becomes fleet-wide once delivered.
a_gets_it() { blocked_in a "$ATT2"; }
e2e_wait_for 5 a_gets_it || e2e_fail "proxy A never got B's block of $ATT2"
raised=$(cat "$TMP/proxy-a.alarms" "$TMP/proxy-b.alarms" | jq -s 'map(select(.update != true)) | length')
stored() { [ "$("${FLEET[@]}" alarms --json --limit 1000 | grep -c .)" -eq "$raised" ]; }
e2e_wait_for 5 stored || e2e_fail "alarms lost: the agents raised $raised, the controller holds $("${FLEET[@]}" alarms --json --limit 1000 | grep -c .)"
version=$("${FLEET[@]}" stats --json | jq -r .decision_version)
same() { [ "$("${FLEET[@]}" agents --json | jq -s --argjson v "$version" 'map(select(.decision_version == $v and .connected)) | length')" -eq 2 ]; }
e2e_wait_for 5 same || e2e_fail "agents' versions differ from $version: $("${FLEET[@]}" agents --json)"
e2e_log "after the restart: $raised alarms raised, $raised stored; both agents at decision version $version"

# ---- 5. kill -9 during heavy writes loses no acknowledged decision -----------------
e2e_log "four operators block 400 prefixes while the controller is killed with SIGKILL"
writers=()
for w in 0 1 2 3; do
  (for i in $(seq 1 100); do
     "${FLEET[@]}" block add "198.18.$w.$i" --ttl 10m 2>/dev/null | grep -o '198\.18\.[0-9.]*/32' || true
   done >"$TMP/acked.$w") &
  writers+=("$!")
done
sleep 1
kill -KILL "$CONTROLLER"
wait "${writers[@]}" 2>/dev/null || true
cat "$TMP"/acked.* | sort -u >"$TMP/acked"
acked=$(wc -l <"$TMP/acked")
start_controller
"${FLEET[@]}" block list | awk '{print $1}' | sort -u >"$TMP/stored"
missing=$(comm -23 "$TMP/acked" "$TMP/stored" | wc -l)
e2e_log "$acked blocks acknowledged before the kill; after the restart $missing of them missing"
[ "$acked" -gt 0 ] || e2e_fail "no block was acknowledged before the kill"
[ "$missing" -eq 0 ] || e2e_fail "acknowledged blocks lost: $(comm -23 "$TMP/acked" "$TMP/stored" | head -5)"
e2e_finish
