#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# End to end, one attack per run, in a fresh lab (tools/lab/lab): Kamailio as
# registrar and proxy, sipp callee and callers, the agent with XDP on every
# interface of the proxy host. While legitimate registrations and calls run
# from sw-client, sw-attacker attacks; the test asserts
#   - the alarm with the attack's category and the attacker's address, within
#     2 s of the attack becoming provable (most attacks: of its start; the
#     broken handshake: of the ACK deadline; the BYE attack: of the grace
#     after the BYE);
#   - the attacker blocked in the kernel: listed with the matching reason,
#     drop counters rising, its OPTIONS probe no longer answered by Kamailio
#     while a neighbour address still is;
#   - at least 99 % of the legitimate registrations and calls succeeded
#     (sipp's statistics);
#   - once the block expired (the agent caps TTLs at $TTL s here), the
#     attacker's probe is answered again.
#
#   lab_attack_test.sh BIN_DIR ATTACK
# ATTACK: invite-flood register-flood svwar svcrack broken-handshake cancel
#         bye scanner-ua
source "$(dirname "$0")/lib.sh"
e2e_require_root
BIN="${1:?usage: $0 BIN_DIR ATTACK}"
ATTACK="${2:?usage: $0 BIN_DIR ATTACK}"
TTL=${SW_ATTACK_TTL:-12}           # seconds a block lasts in this test
ATT=10.61.3.66 NEIGH=10.61.3.67    # the attacker, and a bystander on its network
PROXY=10.61.0.1 UAS=10.61.2.10

need=(kamailio sipp jq tcpdump)
case $ATTACK in
  invite-flood|register-flood|broken-handshake|cancel|bye) ;;
  svwar|svcrack) need+=("$ATTACK") ;;
  scanner-ua) need+=(svmap) ;;
  *) echo "lab_attack_test: unknown attack '$ATTACK'" >&2; exit 2 ;;
esac
e2e_lab_begin lab_attack_test "${need[@]}"

e2e_tmpdir
TMP="$E2E_TMP"
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# ---- the lab, with the attack's ruleset --------------------------------------
up_args=(--agent-args "--max-block-ttl ${TTL}s")
case $ATTACK in
  svwar|svcrack)
    # sipvicious announces itself ("friendly-scanner"), which the scanner
    # rules block at the first request. An attacker who changes the
    # User-Agent is caught by behaviour: these runs switch the two scanner
    # rules off so the enumeration and cracking rules are what is tested.
    python3 - "$SRC_DIR/rules/default.yaml" "$TMP/rules.yaml" <<'EOF'
import sys
out = []
for line in open(sys.argv[1]):
    out.append(line)
    if line.strip() in ("- name: scanner-user-agent", "- name: scanner-sdp-session"):
        out.append(line[:len(line) - len(line.lstrip())] + "  enabled: false\n")
open(sys.argv[2], "w").write("".join(out))
EOF
    [ "$(grep -c 'enabled: false' "$TMP/rules.yaml")" -ge 2 ] || e2e_fail "could not switch the scanner rules off"
    up_args+=(--rules "$TMP/rules.yaml") ;;
esac
e2e_log "lab up (${up_args[*]})"
LAB_MADE=1
"$LAB" up "${up_args[@]}" >"$TMP/up.out" 2>&1 || { cat "$TMP/up.out" >&2; e2e_fail "lab up failed"; }
"$LAB" status --json >"$TMP/status.json" || e2e_fail "lab status failed"
ALARMS=$(jq -r .agent.alarms "$TMP/status.json")
PIN=$(jq -r .agent.pin_dir "$TMP/status.json")
EVENTS=$(jq -r .agent.events "$TMP/status.json")
AGENT_LOG=$(jq -r .agent.log "$TMP/status.json")
[ "$(jq -r .agent.alarms_enabled "$TMP/status.json")" = true ] || e2e_fail "the agent writes no alarms"
ctl() { "$BIN/sipwardenctl" --pin-dir "$PIN" "$@"; }
stat() { ctl stats --json | jq -r ".$1"; }
attacker() { "$LAB" exec sw-attacker "$@"; }

# probe SRC: one OPTIONS from SRC to Kamailio; 0 when Kamailio answered.
probe() { "$LAB" probe "$1"; }

# kamailio_saw SRC: sends a REGISTER from SRC (User-Agent naming SRC) while
# capturing Kamailio's HEPv3 mirror of what it receives (lo:9060 in
# sw-proxy; Kamailio mirrors REGISTERs, not the OPTIONS it answers first
# thing); prints how many mirrored messages carry that User-Agent: what
# Kamailio saw of SRC.
kamailio_saw() {
  local cap="$TMP/hep-$1.pcap" err="$TMP/hep-$1.err" pid n
  "$LAB" exec sw-proxy timeout 30 tcpdump -Z root --immediate-mode -i lo -n -U -w "$cap" udp port 9060 >/dev/null 2>"$err" &
  pid=$!
  e2e_wait_for 10 grep -q "listening on" "$err" || e2e_fail "tcpdump did not start"
  attacker "$BIN/sw-sipsend" --to "$PROXY:5060" --src-ip "$1" --method REGISTER --user 1350 \
    --user-agent "sw-probe-$1" --count 3 --rate 10 >/dev/null 2>&1 || true
  sleep 0.5
  kill -INT "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  n=$(tcpdump -r "$cap" -n -A 2>/dev/null | grep -ac "User-Agent: sw-probe-$1" || true)
  echo "${n:-0}"
}

e2e_log "before the attack both attacker addresses reach Kamailio"
probe "$ATT" || e2e_fail "$ATT's OPTIONS probe got no answer before any attack"
probe "$NEIGH" || e2e_fail "$NEIGH's OPTIONS probe got no answer before any attack"

# ---- legitimate traffic during the attack -------------------------------------
LEGIT_CALLS=${SW_ATTACK_LEGIT_CALLS:-100}  # 99 % of 100: one may fail
legit_start() {
  "$LAB" traffic --users 20 --calls "$LEGIT_CALLS" --rate 10 --hold 1 --json \
    >"$TMP/legit.json" 2>"$TMP/legit.err" &
  LEGIT=$!
  E2E_PIDS+=("$LEGIT")
}
legit_check() {
  wait "$LEGIT" || true
  jq -e . "$TMP/legit.json" >/dev/null 2>&1 || { cat "$TMP/legit.err" >&2; e2e_fail "lab traffic gave no JSON"; }
  local ra rs ca cs
  ra=$(jq .registrations.attempted "$TMP/legit.json") rs=$(jq .registrations.succeeded "$TMP/legit.json")
  ca=$(jq .calls.attempted "$TMP/legit.json") cs=$(jq .calls.succeeded "$TMP/legit.json")
  e2e_log "legitimate traffic: registrations $rs/$ra, calls $cs/$ca succeeded"
  awk -v s="$rs" -v a="$ra" 'BEGIN { exit !(a > 0 && s >= 0.99 * a) }' ||
    e2e_fail "only $rs of $ra legitimate registrations succeeded during the $ATTACK attack"
  awk -v s="$cs" -v a="$ca" 'BEGIN { exit !(a > 0 && s >= 0.99 * a) }' ||
    { cat "$TMP/legit.json" >&2; e2e_fail "only $cs of $ca legitimate calls succeeded during the $ATTACK attack"; }
}

# wait_alarm CATEGORY DEADLINE_S: the first alarm of CATEGORY that blocked
# and accuses $ATT as its src_ip (the BYE attack's too, though the media of
# the victim's phone triggered it), noticed within
# DEADLINE_S of $T0 (polled every 50 ms).
wait_alarm() {
  local cat=$1 limit=$2 end t line
  end=$(awk -v t="$T0" -v l="$limit" 'BEGIN { printf "%.3f", t + l + 3 }')
  while :; do
    # jq -R/fromjson?: a line being written is skipped, not an error.
    line=$(jq -cR --arg c "$cat" --arg s "$ATT" 'fromjson? |
      select(.event_type == "alert" and .alert.category == $c and .action == "blocked" and
             .src_ip == $s)' \
      "$ALARMS" 2>/dev/null | sed -n 1p || true)
    t=$(now)
    [ -n "$line" ] && break
    awk -v t="$t" -v e="$end" 'BEGIN { exit !(t > e) }' && {
      echo "--- alarms:" >&2; cat "$ALARMS" >&2; echo "--- agent log:" >&2; tail -n 30 "$AGENT_LOG" >&2
      e2e_fail "no $cat alarm from $ATT within ${limit}s of the attack"
    }
    sleep 0.05
  done
  ALARM=$line
  ALARM_SEEN=$t
  ALARM_AFTER=$(elapsed "$T0" "$t")
  e2e_log "alarm after ${ALARM_AFTER}s: $(jq -r '.alert.signature + " [" + .action + "]"' <<<"$line")"
  awk -v a="$ALARM_AFTER" -v l="$limit" 'BEGIN { exit !(a <= l) }' ||
    e2e_fail "the $cat alarm came ${ALARM_AFTER}s after the attack started (limit ${limit}s)"
}

blocked_entry() { ctl block list --json | jq -c --arg p "$ATT/32" 'select(.prefix == $p and .expired == false)'; }
is_blocked() { [ -n "$(blocked_entry)" ]; }
not_blocked() { [ -z "$(blocked_entry)" ]; }
legit_invites() {  # legit_invites N: the agent saw INVITEs of at least N legitimate calls
  [ "$(jq -rR 'fromjson? | select(.type == "sip" and .method == "INVITE" and .src_ip == "10.61.1.10") | .call_id' \
        "$EVENTS" | sort -u | wc -l)" -ge "$1" ]
}

# ---- the attacks ----------------------------------------------------------------
# prepare_attack sets CATEGORY, REASON (the blocklist reason) and LIMIT
# (seconds from the start by which the alarm must be noticed: 2 + what the
# attack inherently needs) and writes what the attack sends; run_attack
# then runs it, bounded in count and time, only at lab addresses.
prepare_attack() {
  case $ATTACK in
    invite-flood|register-flood) CATEGORY=flood REASON=flood LIMIT=2 ;;
    svwar) CATEGORY=enumeration REASON=enumeration LIMIT=2 ;;
    svcrack) CATEGORY=bruteforce REASON=bruteforce LIMIT=2 ;;
    scanner-ua) CATEGORY=scanner-signature REASON=scanner-signature LIMIT=2 ;;
    broken-handshake)
      # An account the attacker stole (1099) places calls and never ACKs the
      # 200 OK (lab attack broken-handshake). Provable only once the 5th
      # call's ACK is 5 s overdue (handshake-await-ack): about 6 s after the
      # start.
      CATEGORY=handshake REASON=handshake LIMIT=8 ;;
    cancel)
      # The attacker cancels calls other people placed (Call-IDs it sniffed;
      # here read from the agent's own events).
      CATEGORY=cancel REASON=cancel LIMIT=2
      local ids n=0 id
      e2e_wait_for 10 legit_invites 3 || e2e_fail "no 3 legitimate calls to cancel"
      ids=$(jq -rR 'fromjson? | select(.type == "sip" and .method == "INVITE" and .src_ip == "10.61.1.10") | .call_id' "$EVENTS" |
            awk '!seen[$0]++ && n++ < 3')
      while read -r id; do
        n=$((n + 1))
        printf '%s\n' "CANCEL sip:$((1199 + n))@sipwarden.lab SIP/2.0" \
          "Via: SIP/2.0/UDP $ATT:5060;branch=z9hG4bK-swcancel-$n" \
          "From: <sip:1000@sipwarden.lab>;tag=forged$n" "To: <sip:$((1199 + n))@sipwarden.lab>" \
          "Call-ID: $id" "CSeq: 2 CANCEL" "Max-Forwards: 70" "User-Agent: sipwarden-lab attacker" \
          "Content-Length: 0" "" >"$TMP/cancel$n.sip"
      done <<<"$ids" ;;
    bye)
      # A victim call with its own media port (7000) and a long hold; the
      # attacker sends the callee a BYE with the call's Call-ID and tags. The
      # caller, unaware, keeps sending media (echoed back by the callee)
      # past the 1 s grace: provable about 1 s after the BYE.
      CATEGORY=teardown REASON=teardown LIMIT=3.5
      e2e_log "victim call: held 25 s, media port 7000"
      "$LAB" traffic --users 1 --calls 1 --rate 1 --hold 25 --media-port 7000 --json \
        >"$TMP/victim.json" 2>"$TMP/victim.err" &
      E2E_PIDS+=($!)
      local invite="" ok="" callid
      for _ in $(seq 150); do
        invite=$(jq -cR 'fromjson? | select(.type == "sip" and .method == "INVITE" and .src_ip == "10.61.1.10" and
                               ((.sdp.media // [])[0].port == 7000))' "$EVENTS" 2>/dev/null | tail -n 1 || true)
        if [ -n "$invite" ]; then
          ok=$(jq -cR --arg id "$(jq -r .call_id <<<"$invite")" \
            'fromjson? | select(.type == "sip" and .status == 200 and .call_id == $id and .cseq.method == "INVITE")' \
            "$EVENTS" | tail -n 1 || true)
          [ -n "$ok" ] && break
        fi
        sleep 0.1
      done
      [ -n "$ok" ] || e2e_fail "the victim call (media port 7000) was not answered"
      callid=$(jq -r .call_id <<<"$ok")
      printf '%s\n' "BYE sip:$(jq -r .to.user <<<"$ok")@$UAS:5060 SIP/2.0" \
        "Via: SIP/2.0/UDP $ATT:5060;branch=z9hG4bK-swbye-1" \
        "From: <sip:1000@sipwarden.lab>;tag=$(jq -r .from.tag <<<"$ok")" \
        "To: <sip:$(jq -r .to.user <<<"$ok")@sipwarden.lab>;tag=$(jq -r .to.tag <<<"$ok")" \
        "Call-ID: $callid" "CSeq: 3 BYE" "Max-Forwards: 70" "User-Agent: sipwarden-lab attacker" \
        "Content-Length: 0" "" >"$TMP/bye.sip"
      sleep 2  # media flowing for a while
      e2e_log "forged BYE for call $callid, to the callee" ;;
  esac
}

run_attack() {
  case $ATTACK in
    invite-flood|register-flood|svwar|svcrack|scanner-ua|broken-handshake)
      "$LAB" attack "$ATTACK" --from "$ATT" 2>&1 | tee "$TMP/lab-attack.out" || return 1
      if [ "$ATTACK" = invite-flood ]; then
        local made peak
        made=$(sed -n 's/.*sipp attempted \([0-9]*\) calls.*/\1/p' "$TMP/lab-attack.out")
        peak=$(sed -n 's/.*at most \([0-9]*\) in one second.*/\1/p' "$TMP/lab-attack.out")
        [ "${made:-0}" -ge 5000 ] || { echo "sipp attempted only ${made:-0} calls" >&2; return 1; }
        # -r 5000: a 1 s statistics period may straddle the rate's ticks.
        [ "${peak:-0}" -ge 4500 ] || { echo "sipp reached only ${peak:-0} calls/s" >&2; return 1; }
      fi ;;
    cancel)
      local f
      for f in "$TMP"/cancel*.sip; do
        attacker "$BIN/sw-sipsend" --to "$PROXY:5060" --src-ip "$ATT" --message-file "$f" --count 1 || return 1
        sleep 0.2
      done ;;
    bye)
      attacker "$BIN/sw-sipsend" --to "$UAS:5060" --src-ip "$ATT" --message-file "$TMP/bye.sip" --count 1 ;;
  esac
}

legit_start
sleep 3  # registrations done, calls under way
prepare_attack
DROPS0=$(stat drop_blocked)
T0=$(now)
e2e_log "attack: $ATTACK from $ATT"
run_attack >"$TMP/attack.out" 2>&1 &
ATTACK_PID=$!
E2E_PIDS+=("$ATTACK_PID")
wait_alarm "$CATEGORY" "$LIMIT"

# When the attack became provable: its start, except for the broken
# handshake (the 5th answered INVITE's ACK 5 s overdue) and the BYE attack
# (media still flowing after the 1 s grace that follows the BYE).
case $ATTACK in
  broken-handshake)
    t5=$(jq -rR --arg a "$ATT" 'fromjson? | select(.type == "sip" and .status == 200 and
           .cseq.method == "INVITE" and .dst_ip == $a) | .call_id + " " + .ts' "$EVENTS" |
         awk '!seen[$1]++ { print $2 }' | sed -n 5p || true)
    [ -n "$t5" ] || e2e_fail "the events show no 5 answered INVITEs to $ATT"
    PROVABLE=$(awk -v t="$(date -d "$t5" +%s.%N)" 'BEGIN { printf "%.6f", t + 5 }') ;;
  bye) PROVABLE=$(awk -v t="$T0" 'BEGIN { printf "%.6f", t + 1 }') ;;
  *) PROVABLE=$T0 ;;
esac
AFTER_PROVABLE=$(elapsed "$PROVABLE" "$ALARM_SEEN")
e2e_log "the alarm came ${AFTER_PROVABLE}s after the attack was provable"
awk -v a="$AFTER_PROVABLE" 'BEGIN { exit !(a <= 2) }' ||
  e2e_fail "the $CATEGORY alarm came ${AFTER_PROVABLE}s after the attack was provable (limit 2 s)"

e2e_log "the attacker is blocked in the kernel"
e2e_wait_for 5 is_blocked || { ctl block list >&2; e2e_fail "$ATT is not in the blocklist"; }
entry=$(blocked_entry)
[ "$(jq -r .reason <<<"$entry")" = "$REASON" ] || e2e_fail "block reason $(jq -r .reason <<<"$entry"), want $REASON"
seen_att=$(kamailio_saw "$ATT")
seen_neigh=$(kamailio_saw "$NEIGH")
e2e_log "Kamailio's HEP mirror during a probe: $seen_att messages of $ATT, $seen_neigh of the bystander $NEIGH"
[ "$seen_att" = 0 ] || e2e_fail "Kamailio still sees the blocked $ATT"
[ "$seen_neigh" -ge 1 ] || e2e_fail "Kamailio saw nothing of the bystander $NEIGH (capture broken?)"
probe "$ATT" && e2e_fail "Kamailio still answers the blocked $ATT"
probe "$NEIGH" || e2e_fail "Kamailio does not answer the bystander $NEIGH"
DROPS1=$(stat drop_blocked)
hits=$(blocked_entry | jq -r .hits)
e2e_log "kernel drops of blocked sources: $DROPS0 -> $DROPS1; the entry's hits: $hits"
[ "$DROPS1" -gt "$DROPS0" ] || e2e_fail "drop_blocked did not rise"
[ "$hits" -ge 1 ] || e2e_fail "the block entry counted no hit"

# Attack tools that wait for answers that no longer come run on for a while.
wait "$ATTACK_PID" || { cat "$TMP/attack.out" >&2; e2e_fail "the $ATTACK attack could not be run"; }
sed 's/^/    /' "$TMP/attack.out" | tail -n 5 >&2
legit_check

e2e_log "after the block expires (${TTL}s) the attacker passes again"
e2e_wait_for $((2 * TTL + 5)) not_blocked || e2e_fail "the block of $ATT did not expire"
e2e_wait_for 10 probe "$ATT" || e2e_fail "$ATT's probe is not answered after its block expired"

e2e_log "no legitimate party was blocked or rate-limited"
if grep -E "(blocked|rate-limited) 10\.61\.(0|1|2)\." "$AGENT_LOG" >&2; then
  e2e_fail "the agent acted against a legitimate party"
fi
"$LAB" down >"$TMP/down.out" 2>&1 || { cat "$TMP/down.out" >&2; e2e_fail "lab down failed"; }
LAB_MADE=0
e2e_log "PASS $ATTACK: alarm ($CATEGORY) ${AFTER_PROVABLE}s after provable (${ALARM_AFTER}s after the start), blocked, legitimate traffic >= 99 %, unblocked after expiry"
