#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Malformed SIP is a signal, end to end: the agent (default rules) on one end
# of a veth pair; from the other end, 300 INVITEs in about 0.3 s, each with
# one realistic corruption the parser refuses (Content-Length beyond the
# body, a negative CSeq, a NUL in the Call-ID, an unclosed To, an 11-digit
# Max-Forwards, a broken From URI, a second CSeq, a broken Via). Asserts:
#   - an alarm of category malformed naming the sender, within 2 s (printed):
#     malformed-fuzzing (many kinds of breakage); and, for 300 identical
#     INVITEs with one kind from another address, malformed-flood-source;
#   - the refusals are events (malformed, with a reason) on --events-out;
#   - the sender is blocked in the kernel;
#   - a burst whose first line the kernel cannot take for SIP ("OPTIONS ...
#     SIP/3.0") is still charged to its source's bucket for the class it
#     claims: with --other-rate 10, 40 in 40 ms lose most to the limit (too
#     few for the agent's malformed flood rule, which would block the source
#     and hide the limit's work).
#   agent_malformed_test.sh BIN_DIR
source "$(dirname "$0")/lib.sh"
e2e_require_root
BIN="${1:?usage: $0 BIN_DIR}"
A="sw-e2e-mfp-$E2E_TAG"
B="sw-e2e-mfa-$E2E_TAG"
A4=10.248.0.1 B4=10.248.0.2 C4=10.248.0.3 D4=10.248.0.4

e2e_netns "$A"
e2e_netns "$B"
e2e_veth "$A" swm0 "$A4/24" "$B" swm1 "$B4/24"
ip -n "$B" addr add "$C4/24" dev swm1
ip -n "$B" addr add "$D4/24" dev swm1
e2e_bpffs
PIN="$E2E_BPFFS/sipwarden"
e2e_tmpdir
TMP="$E2E_TMP"
CTL=("$BIN/sipwardenctl" --pin-dir "$PIN")

e2e_log "starting the agent in $A (default rules, a limit of 10/s per source for OPTIONS and the like)"
e2e_agent "$A" swm0 /dev/null --other-rate 10 --events-out "$TMP/events" --alarms-out "$TMP/alarms"

# Eight corrupted INVITEs; [n] becomes the message's number (sw-sipsend), so
# no two are the same bytes.
msg() {  # msg KIND
  local via="Via: SIP/2.0/UDP $B4:5070;branch=z9hG4bK-mf[n]"
  local from="From: <sip:attacker@$B4>;tag=mf[n]" to="To: <sip:1[n]@$A4>"
  local call="Call-ID: mf-[n]@$B4" cseq="CSeq: 1 INVITE" mf="Max-Forwards: 70"
  local cl="Content-Length: 0" extra=""
  case "$1" in
    0) cl="Content-Length: 400" ;;
    1) cseq="CSeq: -1 INVITE" ;;
    2) to="To: <sip:1[n]@$A4" ;;
    3) call=$'Call-ID: mf\x01-[n]@'"$B4" ;;
    4) mf="Max-Forwards: 70000000000" ;;
    5) from="From: <sip:attacker@@$B4>;tag=mf[n]" ;;
    6) extra=$'CSeq: 2 INVITE\r\n' ;;
    7) via="Via: SIP/2.0/UDP $B4:5070;;branch=" ;;
  esac
  printf 'INVITE sip:1[n]@%s SIP/2.0\r\n%s\r\n%s\r\n%s\r\n%s\r\n%s\r\n%s\r\n%sUser-Agent: mf-flood\r\n%s\r\n\r\n' \
    "$A4" "$via" "$mf" "$from" "$to" "$call" "$cseq" "$extra" "$cl"
}
files=""
for k in 0 1 2 3 4 5 6 7; do
  msg "$k" >"$TMP/bad$k.sip"
  files="$files${files:+,}$TMP/bad$k.sip"
done

e2e_log "300 malformed INVITEs from $B4 in about 0.3 s"
# The sender runs in the background: the time is taken as the alarm appears.
start=$(date +%s%N)
ip netns exec "$B" "$BIN/sw-sipsend" --to "$A4:5060" --src-ip "$B4" --message-file "$files" \
  --count 300 --rate 1000 2>>"$TMP/send.err" &
SENDER=$!
alarmed() { grep -q "\"src_ip\":\"$1\".*\"category\":\"malformed\"" "$TMP/alarms"; }
e2e_wait_for 2 alarmed "$B4" || {
  cat "$TMP/agent.err" >&2
  e2e_fail "no malformed alarm for $B4 within 2 s: $(cat "$TMP/alarms")"
}
ms=$((($(date +%s%N) - start) / 1000000))
wait "$SENDER" || e2e_fail "sw-sipsend failed: $(cat "$TMP/send.err")"
e2e_log "malformed alarm for $B4 $ms ms after the flood began: $(grep -o '"signature":"[^"]*"' "$TMP/alarms" | head -1)"
# Four kinds of breakage in a row are fuzzing: blocked at once, so the rest
# of the flood never reaches the agent.
grep -q '"rule":"malformed-fuzzing"' "$TMP/alarms" || e2e_fail "malformed-fuzzing did not fire"
grep -q '"rule":"invite-flood-source"' "$TMP/alarms" &&
  e2e_fail "a refused INVITE fed invite-flood-source (only malformed rules may see them)"

# The same bytes 300 times: identical packets on the wire each count (only a
# copy seen both on the wire and over HEP is one message).
sed 's/\[n\]/0/g' "$TMP/bad1.sip" >"$TMP/same.sip"
e2e_log "300 identical INVITEs with one kind of breakage (a negative CSeq) from $D4: a malformed flood"
start=$(date +%s%N)
ip netns exec "$B" "$BIN/sw-sipsend" --to "$A4:5060" --src-ip "$D4" --message-file "$TMP/same.sip" \
  --count 300 --rate 1000 2>>"$TMP/send.err" &
SENDER=$!
e2e_wait_for 2 alarmed "$D4" || e2e_fail "no malformed alarm for $D4 within 2 s: $(cat "$TMP/alarms")"
ms=$((($(date +%s%N) - start) / 1000000))
wait "$SENDER" || e2e_fail "sw-sipsend failed: $(cat "$TMP/send.err")"
grep "\"src_ip\":\"$D4\"" "$TMP/alarms" | grep -q '"rule":"malformed-flood-source"' ||
  e2e_fail "malformed-flood-source did not fire for $D4: $(cat "$TMP/alarms")"
e2e_log "malformed-flood-source for $D4 $ms ms after its flood began"
grep "\"src_ip\":\"$D4\"" "$TMP/alarms" | grep -q '"rule":"malformed-fuzzing"' &&
  e2e_fail "one kind of breakage was taken for fuzzing"
e2e_wait_for 3 grep -q '"malformed":{"reason":' "$TMP/events" || e2e_fail "no malformed event written"
reasons=$(grep -o '"malformed":{"reason":"[a-z_]*"' "$TMP/events" | sort -u | wc -l)
[ "$reasons" -ge 4 ] || e2e_fail "only $reasons distinct refusal reasons among the events"
# (The agent flushes its outputs as it goes: wait for the last of them.)
d4_invite() { grep '"malformed":' "$TMP/events" | grep -q "\"src_ip\":\"$D4\".*\"method\":\"INVITE\""; }
e2e_wait_for 3 d4_invite || e2e_fail "the malformed events lost the method"
e2e_log "$(grep -c '"malformed":' "$TMP/events") malformed events, $reasons distinct reasons"
for who in "$B4" "$D4"; do
  e2e_wait_for 3 bash -c "${CTL[*]} block list | grep -q '$who/32'" || e2e_fail "$who not blocked"
done

e2e_log "a flood the kernel cannot parse (SIP/3.0) from $C4 is charged to the bucket of the OPTIONS it claims"
printf 'OPTIONS sip:1[n]@%s SIP/3.0\r\nCall-ID: v3-[n]\r\n\r\n' "$A4" >"$TMP/v3.sip"
stat() { e2e_json_field "$("${CTL[@]}" stats --json)" "$1"; }
before=$(stat drop_rate)
not_sip_before=$(stat sip_port_not_sip)
ip netns exec "$B" "$BIN/sw-sipsend" --to "$A4:5060" --src-ip "$C4" --message-file "$TMP/v3.sip" \
  --count 40 --rate 1000 2>>"$TMP/send.err" || e2e_fail "sw-sipsend failed"
sleep 0.3
dropped=$(($(stat drop_rate) - before))
not_sip=$(($(stat sip_port_not_sip) - not_sip_before))
e2e_log "$not_sip not-SIP first lines seen, $dropped dropped by the limit; $(tail -1 "$TMP/send.err")"
[ "$not_sip" -eq 40 ] || e2e_fail "the kernel saw $not_sip not-SIP first lines, expected 40"
[ "$dropped" -ge 20 ] || e2e_fail "only $dropped of 40 dropped by rate: not charged to the source"
"${CTL[@]}" block list | grep -q "$C4" && e2e_fail "$C4 was blocked: the limit's work is hidden"

kill -INT "$AGENT"
wait "$AGENT" || e2e_fail "agent exited with $?"
E2E_PIDS=()
e2e_finish
