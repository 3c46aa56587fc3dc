#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Deflection instead of blocking, end to end: a graylisted caller's call to a
# real user is answered by the honeypot and recorded for that user.
#
#   caller namespace ── proxy namespace: Kamailio (packaging/kamailio/deflect.cfg),
#        │                 sipwarden-agent (XDP, --kamailio-rpc), sipwarden-controller
#        │                    │
#        │              users namespace: alice's phone (sipp UAS), registered
#        └──────────── honeypot namespace: Kamailio (honeypot/kamailio.cfg, the
#                          proxy in its HP_TRUSTED_SET) in front of sipwarden-honeypot
#
#   1. a caller not graylisted reaches alice (the headers it forged are gone);
#   2. the bot calls a deflector once: graylisted, in the proxy's kernel (a
#      per-source limit) and in the proxy Kamailio's htable (the agent's push);
#   3. the bot calls alice at the proxy: the honeypot answers, records the
#      message, and `sipwardenctl honeypot calls --callee alice` lists it with
#      its recording; alice's phone gets nothing; the bot is NOT blocked for it;
#   4. the other caller's next call still reaches alice;
#   5. the proxy's Kamailio restarts: the agent writes the graylist back;
#   6. with no honeypot to take it (no route, then its Kamailio stopped), the
#      graylisted bot's call goes to alice after all;
#   7. the graylist is lifted: the entry goes, and the bot's next call reaches
#      alice.
#   honeypot_deflect_test.sh BIN_DIR SRC_DIR
source "$(dirname "$0")/lib.sh"
e2e_require_root
BIN="${1:?usage: $0 BIN_DIR SRC_DIR}"
SRC="${2:?usage: $0 BIN_DIR SRC_DIR}"
for tool in sipp kamailio jq python3; do
  command -v "$tool" >/dev/null || { echo "skip: $tool missing" >&2; exit 77; }
done
T=$E2E_TAG
PX="sw-dpx-$T" HP="sw-dhp-$T" CNS="sw-dcl-$T" UNS="sw-dus-$T"
PXA=10.253.1.1 HPC=10.253.2.1 HPA=10.253.3.1 ALICE=10.253.4.2  # proxy, controller, honeypot, phone
BOT=10.253.9.9 HUMAN=10.253.9.20

e2e_netns "$PX"
e2e_netns "$HP"
e2e_netns "$CNS"
e2e_netns "$UNS"
e2e_veth "$PX" px0 "$PXA/24" "$CNS" cpx 10.253.1.2/24
e2e_veth "$PX" px1 "$HPC/24" "$HP" hp1 10.253.2.2/24
e2e_veth "$HP" hp0 "$HPA/24" "$CNS" chp 10.253.3.2/24
e2e_veth "$PX" px2 10.253.4.1/24 "$UNS" us0 "$ALICE/24"
for a in $BOT $HUMAN; do
  ip -n "$CNS" addr add "$a/32" dev cpx
  ip -n "$CNS" addr add "$a/32" dev chp
done
ip -n "$PX" route add 10.253.9.0/24 dev px0
ip -n "$HP" route add 10.253.9.0/24 dev hp0
ip -n "$HP" route add "$PXA/32" via "$HPC"      # the proxy and the honeypot reach each other over px1
ip -n "$PX" route add "$HPA/32" via 10.253.2.2
ip -n "$UNS" route add default via 10.253.4.1
e2e_bpffs
e2e_tmpdir
TMP="$E2E_TMP"
PIN="$E2E_BPFFS/px"
PORT=$((43000 + T % 8000))
CADDR=$HPC:$PORT
METRICS=127.0.0.1:$((51000 + T % 8000))
KRUN="$TMP/pxkam"
KSOCK="$KRUN/kamailio_rpc.sock"
# (Background processes are started with ip netns exec itself, which execs
# the program: $! is then its pid, and the teardown's TERM reaches it.)
in_px() { ip netns exec "$PX" "$@"; }
in_cl() { ip netns exec "$CNS" "$@"; }
in_us() { ip netns exec "$UNS" "$@"; }
fleet() { in_px "$BIN/sipwardenctl" --controller "$CADDR" --name e2e "$@"; }
local_ctl() { in_px "$BIN/sipwardenctl" --pin-dir "$PIN" "$@"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# kam_rpc METHOD [PARAM...]: one JSON-RPC request to the proxy's Kamailio over
# its jsonrpcs datagram socket (as the agent sends them); prints the answer.
kam_rpc() {
  in_px python3 - "$KSOCK" "$@" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("")
s.settimeout(2)
s.sendto(json.dumps({"jsonrpc": "2.0", "method": sys.argv[2], "params": sys.argv[3:], "id": 1}).encode(), sys.argv[1])
print(s.recv(65536).decode())
PY
}
# entry_time IP SECONDS: polls the proxy Kamailio's graylist entry for IP
# every 10 ms; prints the time it appeared (Unix ms; exit 1: not in time).
entry_time() {
  in_px python3 - "$KSOCK" "$1" "$2" <<'PY'
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("")
s.settimeout(1)
end = time.time() + float(sys.argv[3])
while time.time() < end:
    s.sendto(json.dumps({"jsonrpc": "2.0", "method": "htable.get", "params": ["graylist", sys.argv[2]], "id": 1}).encode(), sys.argv[1])
    if "result" in json.loads(s.recv(65536)):
        print(int(time.time() * 1000))
        sys.exit(0)
    time.sleep(0.01)
sys.exit(1)
PY
}
# htable_entry IP: the proxy Kamailio's graylist entry for IP (exit 1: none).
htable_entry() { kam_rpc htable.get graylist "$1" | jq -ec '.result.item'; }
metric() { in_px python3 -c "import urllib.request,sys; print(urllib.request.urlopen('http://$METRICS/metrics').read().decode())" |
  awk -v m="$1" '$1 == m {print $2}'; }

# ---- the production side: controller, proxy Kamailio, agent, alice ------------------
ip netns exec "$PX" "$BIN/sipwarden-controller" --listen "$CADDR" --insecure --db "$TMP/controller.db" \
  >"$TMP/controller.log" 2>&1 &
E2E_PIDS+=("$!")
e2e_wait_for 10 fleet stats || { cat "$TMP/controller.log" >&2; e2e_fail "the controller did not start"; }
echo "1 sip:$HPA:5060" >"$TMP/deflect.list"
mkdir -p "$KRUN"
# One UDP worker in each Kamailio: the honeypot answers a deflected call at
# once (180 and 200 back to back), and parallel workers of two proxies may
# relay the 200 first, which sipp's bot takes for an error (a real phone
# ignores the late 180).
start_proxy_kamailio() {
  ip netns exec "$PX" kamailio -f "$SRC/packaging/kamailio/deflect.cfg" -DD -E -Y "$KRUN" -P "$KRUN/kamailio.pid" \
    -A "DF_LISTEN=udp:$PXA:5060" -A "DF_HONEYPOT_LIST=\"$TMP/deflect.list\"" -A DF_CHILDREN=1 \
    >>"$TMP/proxy-kamailio.log" 2>&1 &
  PXKAM=$!
  E2E_PIDS+=("$PXKAM")
  e2e_wait_for 10 test -S "$KSOCK" || { cat "$TMP/proxy-kamailio.log" >&2; e2e_fail "the proxy's Kamailio did not start"; }
}
in_px kamailio -c -f "$SRC/packaging/kamailio/deflect.cfg" -A "DF_LISTEN=udp:$PXA:5060" \
  -A "DF_HONEYPOT_LIST=\"$TMP/deflect.list\"" >"$TMP/kamailio-check.log" 2>&1 ||
  { cat "$TMP/kamailio-check.log" >&2; e2e_fail "kamailio -c refuses packaging/kamailio/deflect.cfg"; }
start_proxy_kamailio
e2e_agent "$PX" px0 /dev/null --controller "$CADDR" --agent-name proxy --records-out /dev/null \
  --kamailio-rpc "$KSOCK" --metrics-listen "$METRICS"
e2e_wait_for 20 grep -q "connected as proxy" "$TMP/agent.err" || { cat "$TMP/agent.err" >&2; e2e_fail "agent did not connect"; }
e2e_wait_for 10 grep -q "htable 'graylist' flushed" "$TMP/agent.err" ||
  { cat "$TMP/agent.err" >&2; e2e_fail "the agent did not take over the proxy Kamailio's graylist"; }
# alice's phone (a UAS that copies Record-Route), registered at the proxy.
(cd "$TMP" && exec ip netns exec "$UNS" sipp -sf "$SRC/tests/data/honeypot/uas_call.xml" -i "$ALICE" -p 5060 -nostdin -trace_msg \
  -message_file "$TMP/alice.msg" >/dev/null 2>&1) &
E2E_PIDS+=("$!")
register_alice() { in_us sipp "$PXA:5060" -sf "$SRC/tests/data/honeypot/register_uas.xml" -s alice \
  -key contact "sip:alice@$ALICE:5060" -i "$ALICE" -p 5062 -m 1 -timeout 3s -nostdin >/dev/null 2>&1; }
e2e_wait_for 10 register_alice || { cat "$TMP/proxy-kamailio.log" >&2; e2e_fail "alice could not register at the proxy"; }
alice_invites() { grep -c "^INVITE sip:" "$TMP/alice.msg" 2>/dev/null || true; }

# ---- the honeypot, trusting the proxy's deflection headers ------------------------
"$BIN/sipwardenctl" honeypot publish --domain honeypot.test --count 50 --seed 11 --out "$TMP/page.html" \
  >/dev/null || e2e_fail "honeypot publish failed"
D1=$(grep -o 'sip:[^"<> ]*@honeypot.test' "$TMP/page.html" | sort -u | sed -n '5p' | sed 's/^sip://; s/@.*//')
printf '1 sip:%s:5070\n2 sip:%s:5060\n' "$HPA" "$PXA" >"$TMP/honeypot.list"
mkdir -p "$TMP/hpkam"
ip netns exec "$HP" kamailio -f "$SRC/honeypot/kamailio.cfg" -DD -E -Y "$TMP/hpkam" -P "$TMP/hpkam/kamailio.pid" \
  -A "HP_LISTEN=udp:$HPA:5060" -A "HP_DISPATCHER_LIST=\"$TMP/honeypot.list\"" -A HP_TRUSTED_SET=2 -A HP_CHILDREN=1 \
  >"$TMP/honeypot-kamailio.log" 2>&1 &
HPKAM=$!
E2E_PIDS+=("$HPKAM")
ip netns exec "$HP" "$BIN/sipwarden-honeypot" --listen "$HPA:5070" --media-ip "$HPA" --trusted-proxy "$HPA" \
  --controller "$CADDR" --name hp1 --users "$TMP/page.html.users" --record-dir "$TMP/rec" \
  --state-dir "$TMP/hp1" --ring-ms 300 --stats-interval-s 0 >"$TMP/honeypot.log" 2>&1 &
E2E_PIDS+=("$!")
e2e_wait_for 10 grep -q "registered with controller" "$TMP/honeypot.log" ||
  { cat "$TMP/honeypot.log" >&2; e2e_fail "the honeypot did not register with the controller"; }
options_ok() { in_cl sipp -i 10.253.3.2 -p 5999 "$HPA:5060" -m 1 -timeout 3s -nostdin \
  -sf "$SRC/tests/data/honeypot/options.xml" -s probe >/dev/null 2>&1; }
e2e_wait_for 10 options_ok || { cat "$TMP/honeypot-kamailio.log" >&2; e2e_fail "the honeypot's Kamailio does not answer"; }
e2e_log "controller $CADDR; proxy Kamailio $PXA with the agent pushing graylists; alice at $ALICE; honeypot $HPA"

mkdir -p "$TMP/cl/pcap"
cp "$SRC/tests/data/corpus/pcaps/sipp/g711a.pcap" "$TMP/cl/pcap/"
# short FROM HOST USER [PORT]: a call of 200 ms without media (its INVITE
# forges X-Sipwarden-Source and X-Sipwarden-Deflected).
short() {
  (cd "$TMP/cl" && in_cl timeout 12 sipp "$2:5060" -sf "$SRC/tests/data/honeypot/caller.xml" -s "$3" -i "$1" \
     -p "${4:-5070}" -m 1 -timeout 10s -nostdin >/dev/null 2>&1)
}
# message FROM HOST USER: a call that plays the recorded message (7.08 s).
message() {
  (cd "$TMP/cl" && in_cl timeout 22 sipp "$2:5060" -sf "$SRC/tests/data/honeypot/spit_bot.xml" -s "$3" -i "$1" \
     -mi "$1" -p 5071 -mp $((20000 + RANDOM % 10000)) -m 1 -timeout 20s -nostdin >/dev/null 2>&1)
}
graylisted() { local_ctl limit list | grep -q "^$1 "; }
blocked() { local_ctl block list | grep -q "^$1/32 "; }

# ---- 1. a caller nobody graylisted reaches alice ----------------------------------
short "$HUMAN" "$PXA" alice || e2e_fail "$HUMAN's call to alice failed"
[ "$(alice_invites)" -eq 1 ] || e2e_fail "alice's phone got $(alice_invites) INVITEs, not 1"
grep -qi "^X-Sipwarden" "$TMP/alice.msg" && e2e_fail "forged X-Sipwarden headers reached alice: $(grep -i '^X-Sipwarden' "$TMP/alice.msg")"
e2e_log "1. $HUMAN (not graylisted) reached alice's phone; its forged X-Sipwarden headers were removed"

# ---- 2. the bot calls a deflector: graylisted in the kernel and in Kamailio -----------
short "$BOT" "$HPA" "$D1" &
first=$!
t_entry=$(entry_time "$BOT" 5) ||
  e2e_fail "no graylist entry for $BOT in the proxy's Kamailio: $(kam_rpc htable.dump graylist); $(tail -5 "$TMP/agent.err")"
wait "$first" || e2e_fail "the honeypot did not take the bot's call to $D1"
e2e_wait_for 3 graylisted "$BOT" || e2e_fail "the bot is not graylisted in the proxy's kernel: $(local_ctl limit list)"
blocked "$BOT" && e2e_fail "the bot was blocked on its first hit"
hit_time=$(fleet honeypot hits --src "$BOT" --json | jq -rs --arg d "$D1" '[.[] | select(.callee == $d and .stage == "arrived")][0].time')
[ -n "$hit_time" ] && [ "$hit_time" != null ] || e2e_fail "the controller holds no hit of $BOT on $D1"
t_hit=$(date -d "$hit_time" +%s%3N)
entry=$(htable_entry "$BOT")
gl_expiry=$(jq -r .value <<<"$entry")
ttl_s=$(( gl_expiry - $(date +%s) ))
[ "$ttl_s" -gt 3500 ] && [ "$ttl_s" -le 3600 ] || e2e_fail "the entry's graylist expiry is $ttl_s s away, not about 1 h: $entry"
e2e_log "2. the bot's deflector call graylisted it: kernel limit ($(local_ctl limit list | grep "^$BOT " | tr -s ' ')) and Kamailio entry $entry, $((t_entry - t_hit)) ms after the hit (poll 10 ms); expires in $ttl_s s"

# ---- 3. the bot calls alice: the honeypot answers and records it for her ----------------
before=$(alice_invites)
message "$BOT" "$PXA" alice || e2e_fail "the bot's call to alice was not answered: $(tail -5 "$TMP/proxy-kamailio.log")"
[ "$(alice_invites)" -eq "$before" ] || e2e_fail "alice's phone got the graylisted bot's call"
grep -q "deflecting the call of graylisted $BOT" "$TMP/proxy-kamailio.log" ||
  e2e_fail "the proxy's Kamailio did not log the deflection"
arrived=$(fleet honeypot hits --src "$BOT" --callee alice --json | jq -c 'select(.stage == "arrived")' | head -1)
[ -n "$arrived" ] || e2e_fail "the honeypot reported no call of $BOT for alice: $(fleet honeypot hits --json | tail -3)"
[ "$(jq -r .deflected <<<"$arrived")" = true ] || e2e_fail "the bot's call for alice is not marked deflected: $arrived"
calls_for() { fleet honeypot calls --callee alice --json | jq -c --arg b "$BOT" 'select(.src_ip == $b)' | head -1; }
has_call() { [ -n "$(calls_for)" ]; }
e2e_wait_for 5 has_call || true
ended=$(calls_for)
[ -n "$ended" ] || e2e_fail "honeypot calls --callee alice lists nothing: $(fleet honeypot calls --callee alice --json)"
rec=$(jq -r .recording <<<"$ended")
ms=$(jq -r '.recorded_ms | tonumber' <<<"$ended")
[ -n "$rec" ] && [ -f "$TMP/rec/$rec" ] || e2e_fail "the recording '$rec' is missing: $(ls "$TMP/rec")"
[ "$ms" -ge 6980 ] && [ "$ms" -le 7180 ] || e2e_fail "recorded $ms ms of a 7080 ms message"
e2e_log "3. the bot's call to alice was answered by the honeypot: recorded for alice, $ms ms in $rec; alice's phone got nothing"
fleet honeypot calls --callee alice >&2
# Not blocked for it: the controller's policy does not count deflected calls.
sleep 1
blocked "$BOT" && e2e_fail "the bot was blocked for a deflected call"
graylisted "$BOT" || e2e_fail "the bot's graylist is gone"
[ "$(fleet stats --json | jq -r .honeypot_blocked)" = 0 ] || e2e_fail "the controller blocked someone: $(fleet stats --json)"
e2e_log "   the bot is still only graylisted (controller: $(fleet stats --json | jq -c '{honeypot_graylisted, honeypot_blocked, hits_stored}'))"

# ---- 4. the other caller still reaches alice -------------------------------------
short "$HUMAN" "$PXA" alice 5072 || e2e_fail "$HUMAN's second call to alice failed"
[ "$(alice_invites)" -eq 2 ] || e2e_fail "alice's phone got $(alice_invites) INVITEs, not 2"
e2e_log "4. $HUMAN's next call reached alice again (alice's phone: $(alice_invites) calls in all)"

# ---- 5. the proxy's Kamailio restarts: the agent writes the graylist back ----------------
kill -TERM "$PXKAM"
wait "$PXKAM" 2>/dev/null || true
rm -f "$KSOCK"
sleep 1.1   # a new start time (core.uptime's up_since is in seconds)
t_restart=$(now_ms)
start_proxy_kamailio
t_back=$(entry_time "$BOT" 15) || e2e_fail "the graylist entry did not come back after the restart: $(tail -5 "$TMP/agent.err")"
e2e_log "5. the proxy's Kamailio restarted: the entry for $BOT was back $((t_back - t_restart)) ms after the start (the agent checks every 5 s)"
e2e_wait_for 10 register_alice || e2e_fail "alice could not register again"

# ---- 6. no honeypot to take it: the call goes to alice after all -------------------------
ip -n "$PX" route del "$HPA/32"
before=$(alice_invites)
t0=$(now_ms)
short "$BOT" "$PXA" alice 5074 || e2e_fail "with no route to the honeypot the bot's call failed"
[ "$(alice_invites)" -eq $((before + 1)) ] || e2e_fail "with no route to the honeypot the call did not reach alice"
e2e_log "6. no route to the honeypot: the graylisted bot's call reached alice ($(( $(now_ms) - t0 )) ms for the call)"
ip -n "$PX" route add "$HPA/32" via 10.253.2.2
kill -TERM "$HPKAM"
wait "$HPKAM" 2>/dev/null || true
t0=$(now_ms)
short "$BOT" "$PXA" alice 5075 || e2e_fail "with the honeypot silent the bot's call failed"
[ "$(alice_invites)" -eq $((before + 2)) ] || e2e_fail "with the honeypot silent the call did not reach alice"
grep -qi "^X-Sipwarden" "$TMP/alice.msg" && e2e_fail "a call that fell back to alice carried X-Sipwarden headers"
e2e_log "   honeypot's Kamailio stopped: the call reached alice after the proxy gave up on it ($(( $(now_ms) - t0 )) ms, fr_timer 3 s)"

# ---- 7. the graylist lifted: the entry goes, the bot reaches alice ------------------------
fleet block del "$BOT" >/dev/null || e2e_fail "block del $BOT failed"
no_entry() { ! htable_entry "$1"; }
e2e_wait_for 5 no_entry "$BOT" ||
  e2e_fail "the entry for $BOT outlived its graylist"
before=$(alice_invites)
short "$BOT" "$PXA" alice 5073 || e2e_fail "the bot's call after the lift failed"
[ "$(alice_invites)" -eq $((before + 1)) ] || e2e_fail "the bot's call after the lift did not reach alice"
e2e_log "7. graylist lifted: the entry is gone and the bot's next call reached alice"

for m in sipwarden_kamailio_reachable sipwarden_kamailio_graylists sipwarden_kamailio_graylist_sets_total \
         sipwarden_kamailio_graylist_removes_total sipwarden_kamailio_resyncs_total \
         sipwarden_kamailio_restarts_total sipwarden_kamailio_unreachable_total sipwarden_kamailio_rpc_errors_total; do
  printf '%s %s\n' "$m" "$(metric "$m")"
done >&2
[ "$(metric sipwarden_kamailio_restarts_total)" -ge 1 ] || e2e_fail "the agent did not count the Kamailio restart"
[ "$(metric sipwarden_kamailio_rpc_errors_total)" -eq 0 ] || e2e_fail "Kamailio refused some of the agent's requests"
e2e_finish
