#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The honeypot end to end: a SPIT bot caught by the honeypot, then dropped in
# the production proxy's kernel.
#
#   bot namespace ──── proxy namespace: sipwarden-agent (XDP), a PBX (sipp),
#        │                 sipwarden-controller
#        └──────────── honeypot namespace: Kamailio (honeypot/kamailio.cfg)
#                          in front of sipwarden-honeypot
#
# The bot (sipp playing a recorded message) calls a harvested list that
# mixes real users (at the PBX) and deflectors (at the honeypot).
#   1. its first deflector call graylists it in the proxy's kernel; its
#      second gets it blocked there: the time from that hit to the block is
#      printed and must be under 2 s; its next INVITE to a real user is
#      dropped by XDP;
#   2. the recording exists and lasts what the message lasts (within 100 ms);
#   3. a second bot at another address playing the same message falls into
#      the same campaign;
#   4. a legitimate user who misdials a deflector once is graylisted, not
#      blocked, and their next real call completes;
#   5. sipvicious (svmap, svwar) against the honeypot is logged with its
#      fingerprints.
#   honeypot_spit_test.sh BIN_DIR SRC_DIR
source "$(dirname "$0")/lib.sh"
e2e_require_root
BIN="${1:?usage: $0 BIN_DIR SRC_DIR}"
SRC="${2:?usage: $0 BIN_DIR SRC_DIR}"
for tool in sipp kamailio svmap svwar jq; do
  command -v "$tool" >/dev/null || { echo "skip: $tool missing" >&2; exit 77; }
done
T=$E2E_TAG
PX="sw-hpx-$T" HP="sw-hhp-$T" BOTNS="sw-hbot-$T"
PXA=10.252.1.1 HPC=10.252.2.1 HPA=10.252.3.1      # proxy, controller, honeypot
BOT=10.252.9.9 BOT2=10.252.9.10 USER=10.252.9.20 SCANNER=10.252.9.30

e2e_netns "$PX"
e2e_netns "$HP"
e2e_netns "$BOTNS"
e2e_veth "$PX" px0 "$PXA/24" "$BOTNS" bpx 10.252.1.2/24
e2e_veth "$PX" px1 "$HPC/24" "$HP" hp1 10.252.2.2/24
e2e_veth "$HP" hp0 "$HPA/24" "$BOTNS" bhp 10.252.3.2/24
for a in $BOT $BOT2 $USER $SCANNER; do
  ip -n "$BOTNS" addr add "$a/32" dev bpx
  ip -n "$BOTNS" addr add "$a/32" dev bhp
done
ip -n "$PX" route add 10.252.9.0/24 dev px0
ip -n "$HP" route add 10.252.9.0/24 dev hp0
e2e_bpffs
e2e_tmpdir
TMP="$E2E_TMP"
PIN="$E2E_BPFFS/px"
PORT=$((43000 + T % 8000))
CADDR=$HPC:$PORT
# (Background processes are started with ip netns exec itself, not these
# functions: $! must be the process, for the teardown to stop it.)
in_px() { ip netns exec "$PX" "$@"; }
in_hp() { ip netns exec "$HP" "$@"; }
in_bot() { ip netns exec "$BOTNS" "$@"; }
fleet() { in_px "$BIN/sipwardenctl" --controller "$CADDR" --name e2e "$@"; }
local_ctl() { in_px "$BIN/sipwardenctl" --pin-dir "$PIN" "$@"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# ---- the production side: controller, agent with XDP, a PBX ---------------------
ip netns exec "$PX" "$BIN/sipwarden-controller" --listen "$CADDR" --insecure --db "$TMP/controller.db" \
  >"$TMP/controller.log" 2>&1 &
E2E_PIDS+=("$!")
e2e_wait_for 10 fleet stats || { cat "$TMP/controller.log" >&2; e2e_fail "the controller did not start"; }
e2e_agent "$PX" px0 /dev/null --controller "$CADDR" --agent-name proxy --alarms-out "$TMP/proxy.alarms" \
  --records-out /dev/null
e2e_wait_for 20 grep -q "connected as proxy" "$TMP/agent.err" || { cat "$TMP/agent.err" >&2; e2e_fail "agent did not connect"; }
(cd "$TMP" && exec ip netns exec "$PX" sipp -sn uas -i "$PXA" -p 5060 -nostdin >/dev/null 2>&1) &
E2E_PIDS+=("$!")

# ---- the honeypot: deflectors published, Kamailio in front of the UAS -------------
"$BIN/sipwardenctl" honeypot publish --domain honeypot.test --count 200 --seed 7 --out "$TMP/page.html" \
  >/dev/null || e2e_fail "honeypot publish failed"
# What a harvester finds on the page.
grep -o 'sip:[^"<> ]*@honeypot.test' "$TMP/page.html" | sort -u >"$TMP/harvested"
[ "$(wc -l <"$TMP/harvested")" -ge 200 ] || e2e_fail "the page gives harvesters $(wc -l <"$TMP/harvested") URIs"
D1=$(sed -n '3p' "$TMP/harvested" | sed 's/^sip://; s/@.*//')
D2=$(sed -n '17p' "$TMP/harvested" | sed 's/^sip://; s/@.*//')
D3=$(sed -n '42p' "$TMP/harvested" | sed 's/^sip://; s/@.*//')
echo "1 sip:$HPA:5070" >"$TMP/dispatcher.list"
mkdir -p "$TMP/kamailio"
ip netns exec "$HP" kamailio -f "$SRC/honeypot/kamailio.cfg" -DD -E -Y "$TMP/kamailio" -P "$TMP/kamailio/kamailio.pid" \
  -A "HP_LISTEN=udp:$HPA:5060" -A "HP_DISPATCHER_LIST=\"$TMP/dispatcher.list\"" >"$TMP/kamailio.log" 2>&1 &
E2E_PIDS+=("$!")
ip netns exec "$HP" "$BIN/sipwarden-honeypot" --listen "$HPA:5070" --media-ip "$HPA" --trusted-proxy "$HPA" \
  --controller "$CADDR" --name hp1 --users "$TMP/page.html.users" --record-dir "$TMP/rec" \
  --state-dir "$TMP/hp1" --ring-ms 300 --register-with "$HPA:5060" --domain honeypot.test \
  --stats-interval-s 1 >"$TMP/honeypot.log" 2>&1 &
E2E_PIDS+=("$!")
e2e_wait_for 10 grep -q "registered with controller" "$TMP/honeypot.log" ||
  { cat "$TMP/honeypot.log" >&2; e2e_fail "the honeypot did not register with the controller"; }
options_ok() { in_bot sipp -i 10.252.3.2 -p 5999 "$HPA:5060" -m 1 -timeout 3s -nostdin \
  -sf "$SRC/tests/data/honeypot/options.xml" -s probe >/dev/null 2>&1; }
e2e_wait_for 10 options_ok || { cat "$TMP/kamailio.log" >&2; e2e_fail "Kamailio does not relay to the honeypot"; }
users=$(grep -cvE '^[[:space:]]*(#|$)' "$TMP/page.html.users")
registered() { grep -q " $users users registered" "$TMP/honeypot.log"; }
e2e_wait_for 10 registered || e2e_fail "the honeypot did not register its $users users at Kamailio: $(tail -2 "$TMP/honeypot.log")"
e2e_log "controller $CADDR, agent on px0, PBX at $PXA, honeypot Kamailio at $HPA in front of the UAS ($users users registered there)"

mkdir -p "$TMP/bot/pcap"
cp "$SRC/tests/data/corpus/pcaps/sipp/g711a.pcap" "$TMP/bot/pcap/"
# call FROM_IP HOST USER [PORT]: one bot call with the recorded message (exit status of sipp).
call() {
  (cd "$TMP/bot" && in_bot timeout $(( ${TIMEOUT:-20} + 2 )) sipp "$2:5060" -sf "$SRC/tests/data/honeypot/spit_bot.xml" -s "$3" -i "$1" \
     -mi "$1" -p "${4:-5070}" -mp $((20000 + RANDOM % 10000)) -m 1 -timeout "${TIMEOUT:-20}s" -nostdin \
     -trace_err -error_file "$TMP/bot/sipp.err" >/dev/null 2>&1)
}
drops() { local_ctl stats --json | jq -r .drop_blocked; }
graylisted() { local_ctl limit list | grep -q "^$1 "; }
blocked() { local_ctl block list | grep -q "^$1/32 "; }

# ---- 1. the bot works through its harvested list ------------------------------
e2e_log "bot $BOT calls real user alice at the PBX"
call "$BOT" "$PXA" alice || e2e_fail "the bot's first real call failed before any hit"
e2e_log "bot $BOT calls deflector $D1 at the honeypot"
call "$BOT" "$HPA" "$D1" || e2e_fail "the honeypot did not take the bot's call to $D1"
e2e_wait_for 3 graylisted "$BOT" || e2e_fail "the bot is not graylisted after its first hit: $(local_ctl limit list)"
blocked "$BOT" && e2e_fail "the bot was blocked on its first hit (the policy graylists first)"
e2e_log "after one deflector call the bot is graylisted in the proxy's kernel, not blocked"
call "$BOT" "$PXA" bob || e2e_fail "a graylisted caller's single call should still complete"
call "$BOT" "$HPA" "$D2" &
second=$!
e2e_wait_for 15 blocked "$BOT" || e2e_fail "the bot was not blocked after its second deflector call"
t_block=$(now_ms)
wait "$second" || true
hit_time=$(fleet honeypot hits --src "$BOT" --json | jq -rs --arg d "$D2" \
  '[.[] | select(.callee == $d and .stage == "arrived")][0].time')
[ -n "$hit_time" ] && [ "$hit_time" != null ] || e2e_fail "the controller holds no hit of $BOT on $D2: $(fleet honeypot hits --json)"
t_hit=$(date -d "$hit_time" +%s%3N)
e2e_log "bot blocked in the proxy's kernel $((t_block - t_hit)) ms after its second deflector hit (poll 100 ms)"
[ $((t_block - t_hit)) -le 2000 ] || e2e_fail "block $((t_block - t_hit)) ms after the hit: more than 2 s"
before=$(drops)
TIMEOUT=4 call "$BOT" "$PXA" carol && e2e_fail "the bot's call to a real user went through after the block"
after=$(drops)
[ $((after - before)) -ge 1 ] || e2e_fail "the proxy's kernel dropped nothing of the bot's INVITE ($before -> $after)"
e2e_log "the bot's next INVITE to carol was dropped in the proxy's kernel ($((after - before)) packets)"

# ---- 2. the recording ---------------------------------------------------------------
ended=$(fleet honeypot hits --src "$BOT" --json | jq -c --arg d "$D1" 'select(.callee == $d and .stage == "ended")')
[ -n "$ended" ] || e2e_fail "no ended call of the bot on $D1"
rec=$(jq -r .recording <<<"$ended")
ms=$(jq -r '.recorded_ms | tonumber' <<<"$ended")
[ -f "$TMP/rec/$rec" ] || e2e_fail "recording $rec missing: $(ls "$TMP/rec")"
# g711a.pcap: RTP timestamps 240..56640 in 240-sample packets: 7080 ms.
[ "$ms" -ge 6980 ] && [ "$ms" -le 7180 ] || e2e_fail "recorded $ms ms of a 7080 ms message"
bytes=$(stat -c %s "$TMP/rec/$rec")
wav_ms=$(( (bytes - 44) / 16 ))
[ "$wav_ms" -ge 6980 ] && [ "$wav_ms" -le 7180 ] || e2e_fail "the WAV file holds $wav_ms ms"
e2e_log "recording $rec: $ms ms (the message is 7080 ms), $(jq -r .audio_sha256 <<<"$ended" | cut -c1-16)..."

# ---- 3. the same message from another address: one campaign ---------------------
call "$BOT2" "$HPA" "$D3" || e2e_fail "the second bot's call failed"
campaign() { [ "$(fleet honeypot campaigns --json | jq -s --arg a "$BOT" --arg b "$BOT2" \
  '[.[] | select((.sources | index($a)) and (.sources | index($b)))] | length')" -ge 1 ]; }
e2e_wait_for 5 campaign || e2e_fail "the two bots are not one campaign: $(fleet honeypot campaigns --json)"
e2e_log "bots $BOT and $BOT2 grouped in one campaign: $(fleet honeypot campaigns --json | jq -c '{calls, sources}' | head -1)"

# ---- 4. a human who misdials a deflector once ---------------------------------------
call "$USER" "$HPA" "$D1" 5072 || e2e_fail "the misdial did not reach the honeypot"
e2e_wait_for 3 graylisted "$USER" || e2e_fail "the misdialling user is not graylisted"
sleep 1
blocked "$USER" && e2e_fail "the misdialling user was blocked"
call "$USER" "$PXA" dave 5072 || e2e_fail "the graylisted user's next real call did not complete"
e2e_log "user $USER misdialled once: graylisted, not blocked; the next real call completed"

# ---- 5. sipvicious against the honeypot ---------------------------------------------
in_bot timeout 20 svmap -s 10.252.3.0/30 -p 5060 -t 0.05 >"$TMP/svmap.out" 2>&1 || true
in_bot timeout 15 svwar -e100-105 -m INVITE "$HPA" -t 0.05 >"$TMP/svwar.out" 2>&1 || true
scanned() { [ "$(fleet honeypot hits --json | jq -s '[.[] | select(.user_agent | test("friendly-scanner|sipvicious"; "i"))] | length')" -ge 5 ]; }
e2e_wait_for 5 scanned || e2e_fail "sipvicious left no fingerprints: $(fleet honeypot hits --json | tail -3); svmap: $(tail -3 "$TMP/svmap.out")"
fp=$(fleet honeypot hits --json | jq -c 'select(.user_agent | test("friendly-scanner|sipvicious"; "i")) | {method, src_ip, user_agent, via_shape}' | sort -u | head -3)
e2e_log "sipvicious fingerprints: $fp"
e2e_finish
