#!/usr/bin/env bash
# The main job on its embedded default: builds sipwarden, builds a small
# network of namespaces (a SIP proxy host, a legitimate client, an attacker,
# joined by a bridge), runs the agent with XDP on the proxy's interface, sends
# legitimate traffic and then attacks, and shows what the kernel did: JSON
# records, per-source state, rate-limit and blocklist drops, counters. Then
# removes everything it made. Traffic stays inside these namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "demo.sh: run as root (XDP and network namespaces)" >&2; exit 1; }
scripts/install-deps.sh
echo "== building ==" >&2
scripts/build.sh
BIN="$PWD/build/bin"

E2E_TAG=demo
source tests/e2e/lib.sh
LAN=sw-demo-lan PROXY=sw-demo-proxy CLIENT=sw-demo-client ATTACKER=sw-demo-attacker
for ns in "$LAN" "$PROXY" "$CLIENT" "$ATTACKER"; do ip netns del "$ns" 2>/dev/null || true; done
e2e_netns "$LAN"
ip -n "$LAN" link add br0 type bridge
ip -n "$LAN" link set br0 up
join() {  # join NS ADDR4 ADDR6
  local ns=$1 port="p-${1#sw-demo-}"
  e2e_netns "$ns"
  ip link add eth0 netns "$ns" type veth peer name "$port" netns "$LAN"
  ip -n "$LAN" link set "$port" master br0 up
  ip -n "$ns" addr add "$2/24" dev eth0
  ip -n "$ns" addr add "$3/64" dev eth0 nodad
  ip -n "$ns" link set eth0 up
}
join "$PROXY" 10.77.0.1 fd00:77::1
join "$CLIENT" 10.77.0.10 fd00:77::10
join "$ATTACKER" 10.77.0.66 fd00:77::66
e2e_bpffs
PIN="$E2E_BPFFS/sipwarden"
e2e_tmpdir
CTL=("$BIN/sipwardenctl" --pin-dir "$PIN")
send() {  # send NS ARGS...
  local ns=$1; shift
  ip netns exec "$ns" "$BIN/sw-sipsend" "$@"
}
banner() { printf '\n\033[1m== %s ==\033[0m\n' "$*"; }

banner "starting sipwarden-agent on $PROXY/eth0 (per-source INVITE limit 20/s, burst 40)"
ip netns exec "$PROXY" "$BIN/sipwarden-agent" --iface eth0 --pin-dir "$PIN" \
  --invite-rate 20 --invite-burst 40 --records-out "$E2E_TMP/records.jsonl" 2>"$E2E_TMP/agent.log" &
E2E_PIDS+=($!)
e2e_wait_for 20 grep -q "attached to eth0" "$E2E_TMP/agent.log" || { cat "$E2E_TMP/agent.log"; exit 1; }
cat "$E2E_TMP/agent.log"

banner "legitimate client 10.77.0.10: REGISTER, OPTIONS keep-alives and a few INVITEs (IPv4 and IPv6)"
send "$CLIENT" --to 10.77.0.1:5060 --method REGISTER --user 1001 --count 3 --rate 10
send "$CLIENT" --to 10.77.0.1:5060 --method OPTIONS --count 10 --rate 20
send "$CLIENT" --to "[fd00:77::1]:5060" --method INVITE --user 1002 --count 5 --rate 10
send "$CLIENT" --to 10.77.0.1:5060 --method INVITE --transport udp --user 1003 --count 5 --rate 10
sleep 0.3
echo "first records the agent received from the kernel ring buffer:"
head -n 3 "$E2E_TMP/records.jsonl" | cut -c1-400

banner "attacker 10.77.0.66: INVITE flood, 3000 at 1000/s"
send "$ATTACKER" --to 10.77.0.1:5060 --method INVITE --user 1001 --count 3000 --rate 1000 \
  --user-agent friendly-scanner
sleep 0.3
echo "per-source state in the kernel (sw_src):"
"${CTL[@]}" sources
echo
"${CTL[@]}" stats | grep -E "^(rx_packets|pass_sip|drop_rate|drop_blocked|sip_requests|rb_records|rb_lost) "

banner "the operator blocks the attacker for 5 s; it tries a REGISTER scan (500 at 500/s)"
"${CTL[@]}" block add 10.77.0.66 --ttl 5s --reason flood
send "$ATTACKER" --to 10.77.0.1:5060 --method REGISTER --count 500 --rate 500
send "$CLIENT" --to 10.77.0.1:5060 --method OPTIONS --count 5 --rate 20
"${CTL[@]}" block list
echo
echo "the same entry as an operator sees it with bpftool:"
bpftool map dump pinned "$PIN/sw_block_v4"
echo
"${CTL[@]}" stats | grep -E "^(drop_blocked|pass_sip) "

banner "after expiry the attacker's packets pass again"
sleep 5.2
send "$ATTACKER" --to 10.77.0.1:5060 --method OPTIONS --count 3 --rate 10
sleep 0.3
"${CTL[@]}" block list
echo "records from 10.77.0.66 after expiry: $(grep '"src_ip":"10.77.0.66".*"class":"OPTIONS"' "$E2E_TMP/records.jsonl" | wc -l)"

banner "summary"
total=$(wc -l <"$E2E_TMP/records.jsonl")
echo "records delivered to userspace: $total"
"${CTL[@]}" stats --json

banner "stopping the agent and removing the namespaces"
kill -INT "${E2E_PIDS[0]}"
wait "${E2E_PIDS[0]}" || true
tail -n 1 "$E2E_TMP/agent.log"
E2E_PIDS=()
e2e_finish
