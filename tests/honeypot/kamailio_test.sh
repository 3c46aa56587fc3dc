#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# honeypot/kamailio.cfg: `kamailio -c` accepts it with its -A parameters;
# then, in a network namespace of its own, Kamailio in front of two sipp
# user agent servers standing in for sipwarden-honeypot (the UAS set of a
# dispatcher list), and a caller:
#   - a REGISTER from a UAS's address is saved, and a call to that user
#     reaches the contact it registered (and only that UAS);
#   - calls to an unknown user are spread at random over both UAS;
#   - the UAS sees X-Sipwarden-Source naming the caller's real address; the
#     caller's forged X-Sipwarden-Source and X-Sipwarden-Deflected are gone;
#     ACK and BYE come through the proxy (record-routed);
#   - a REGISTER from a caller is relayed to a UAS, whose 401 comes back;
#   - OPTIONS to the proxy itself is relayed to a UAS;
#   - Max-Forwards 0 gets 483, a malformed request is dropped without a
#     reply, an in-dialog request from outside towards a non-UAS gets 403.
# Everything it starts is stopped, and its namespace and files removed, on
# exit (tests/e2e/lib.sh).
#   kamailio_test.sh BIN_DIR
set -euo pipefail
# BIN_DIR, as every e2e test gets: this one runs only kamailio and sipp.
# shellcheck disable=SC2034
BIN="${1:?usage: $0 BIN_DIR}"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../e2e/lib.sh
. "$SRC/tests/e2e/lib.sh"
CFG="$SRC/honeypot/kamailio.cfg"
SCEN="$SRC/tests/data/honeypot"

for tool in kamailio sipp python3 ss; do
  command -v "$tool" >/dev/null || { echo "kamailio_test: $tool not installed (scripts/install-deps.sh)" >&2; exit 77; }
done
e2e_require_root
e2e_tmpdir
NS="sw-e2e-hpk-$E2E_TAG"
PROXY=10.62.0.1 UAS_A=10.62.0.11 UAS_B=10.62.0.12 CALLER=10.62.0.20 ELSEWHERE=10.62.0.99
PROXY6=fd00:62::1 CALLER6=fd00:62::20
KAM_ARGS=(-f "$CFG" -A "HP_LISTEN=udp:$PROXY:5060" -A "HP_LISTEN6=udp:[$PROXY6]:5060"
          -A "HP_DISPATCHER_LIST=\"$E2E_TMP/dispatcher.list\""
          -A HP_DEBUG=2 -A HP_CHILDREN=2)
cat >"$E2E_TMP/dispatcher.list" <<LIST
# the UAS set (set 1): two sipp user agent servers
1 sip:$UAS_A:5060
1 sip:$UAS_B:5060
LIST

# 1. The configuration check.
kamailio -c "${KAM_ARGS[@]}" >"$E2E_TMP/check.log" 2>&1 ||
  { cat "$E2E_TMP/check.log" >&2; e2e_fail "kamailio -c refused honeypot/kamailio.cfg"; }
grep -q "config file ok" "$E2E_TMP/check.log" || e2e_fail "kamailio -c: $(cat "$E2E_TMP/check.log")"
e2e_log "kamailio -c: config file ok"

e2e_netns "$NS"
for a in $PROXY $UAS_A $UAS_B $CALLER $ELSEWHERE; do ip -n "$NS" addr add "$a/32" dev lo; done
for a in $PROXY6 $CALLER6; do ip -n "$NS" addr add "$a/128" dev lo nodad; done

listening() { ip netns exec "$NS" ss -Hlun "src $1:$2" | grep -q .; }

mkdir -p "$E2E_TMP/kam"
ip netns exec "$NS" kamailio "${KAM_ARGS[@]}" -DD -E -Y "$E2E_TMP/kam" -P "$E2E_TMP/kam/kamailio.pid" \
  -m 32 -M 4 >"$E2E_TMP/kamailio.log" 2>&1 </dev/null &
KAM=$!
E2E_PIDS+=("$KAM")
e2e_wait_for 15 listening $PROXY 5060 && e2e_wait_for 5 listening "[$PROXY6]" 5060 ||
  { tail -n 30 "$E2E_TMP/kamailio.log" >&2; e2e_fail "kamailio did not start"; }
e2e_log "kamailio listening on $PROXY:5060 (pid $KAM)"

# uas_start NAME IP SIPP-ARGS...: a sipp UAS on IP:5060 logging every message
# to $E2E_TMP/NAME.msg; its pid in UAS_PIDS[NAME].
declare -A UAS_PIDS
uas_start() {
  local name=$1 ip=$2
  shift 2
  (cd "$E2E_TMP" && exec ip netns exec "$NS" timeout 110 sipp -i "$ip" -p 5060 -nostdin \
     -trace_msg -message_file "$E2E_TMP/$name.msg" "$@" >"$E2E_TMP/$name.out" 2>&1 </dev/null) &
  UAS_PIDS[$name]=$!
  E2E_PIDS+=("$!")
  e2e_wait_for 10 listening "$ip" 5060 || { cat "$E2E_TMP/$name.out" >&2; e2e_fail "sipp UAS $name did not start"; }
}
uas_stop() {
  local name
  for name in "$@"; do
    kill -TERM "${UAS_PIDS[$name]}" 2>/dev/null || true
    wait "${UAS_PIDS[$name]}" 2>/dev/null || true
  done
  e2e_wait_for 5 bash -c "! ip netns exec $NS ss -Hlun 'sport = 5060' | grep -qE '$UAS_A|$UAS_B'" ||
    e2e_fail "a sipp UAS did not stop"
}
# uac NAME IP PORT SCENARIO SIPP-ARGS...: a bounded sipp client run towards
# the proxy (its IPv6 address for an IPv6 IP); fails the test unless every
# call succeeded.
uac() {
  local name=$1 ip=$2 port=$3 scen=$4 rc=0 dst=$PROXY
  shift 4
  case $ip in *:*) dst="[$PROXY6]" ;; esac
  (cd "$E2E_TMP" && timeout 40 ip netns exec "$NS" sipp "$dst:5060" -sf "$SCEN/$scen" -i "$ip" -p "$port" \
     -nostdin -timeout 30s -timeout_error -recv_timeout 5s -trace_msg -message_file "$E2E_TMP/$name.msg" \
     "$@" >"$E2E_TMP/$name.out" 2>&1 </dev/null) || rc=$?
  if [ "$rc" != 0 ]; then
    cat "$E2E_TMP/$name.msg" >&2 || true
    tail -n 20 "$E2E_TMP/kamailio.log" >&2
    e2e_fail "sipp $name ($scen $*) failed with $rc"
  fi
}
# call_ids FILE METHOD USER: the distinct Call-IDs of the METHOD requests for
# USER a sipp message log received.
call_ids() {
  awk -v m="^$2 sip:$3@" '$0 ~ m {f=1} f && /^Call-ID:/ {print $2; f=0}' "$1" | sort -u
}
count() { grep -c . || true; }

# 2. Calls. UAS A copies the Record-Route into its answers as RFC 3261
# wants (the caller's ACK and BYE are loose-routed); UAS B is sipp's
# built-in uas, which does not (they reach it through the proxy all the same).
uas_start uasA $UAS_A -sf "$SCEN/uas_call.xml"
uas_start uasB $UAS_B -sn uas

uac reg_uas $UAS_A 5062 register_uas.xml -s alice.kowalski -key contact "sip:alice.kowalski@$UAS_A:5060" -m 1
e2e_log "REGISTER from the UAS address $UAS_A: 200 (saved)"

uac call_alice $CALLER 5080 caller.xml -s alice.kowalski -m 1
[ "$(grep -c "^INVITE sip:alice.kowalski@$UAS_A:5060 SIP/2.0" "$E2E_TMP/uasA.msg")" -ge 1 ] ||
  e2e_fail "the call to alice.kowalski did not reach her registered contact at $UAS_A"
grep -q "^INVITE" "$E2E_TMP/uasB.msg" 2>/dev/null && e2e_fail "the call to alice.kowalski reached $UAS_B too"
grep -q "^ACK sip:" "$E2E_TMP/uasA.msg" || e2e_fail "no ACK reached the UAS"
grep -q "^BYE sip:" "$E2E_TMP/uasA.msg" || e2e_fail "no BYE reached the UAS"
# The caller's real address, never the forged one, on the INVITE, ACK and BYE.
src_lines=$(grep -c "^X-Sipwarden-Source: $CALLER:5080;transport=udp" "$E2E_TMP/uasA.msg" || true)
[ "$src_lines" -ge 3 ] || e2e_fail "X-Sipwarden-Source: $CALLER:5080 on $src_lines requests (want INVITE, ACK, BYE)"
[ "$(grep -ci "^X-Sipwarden-Source:" "$E2E_TMP/uasA.msg")" = "$src_lines" ] ||
  e2e_fail "another X-Sipwarden-Source reached the UAS: $(grep -i '^X-Sipwarden-Source' "$E2E_TMP/uasA.msg" | sort -u)"
grep -q "6\.6\.6\.6" "$E2E_TMP/uasA.msg" && e2e_fail "the forged X-Sipwarden-Source reached the UAS"
grep -qi "^X-Sipwarden-Deflected" "$E2E_TMP/uasA.msg" && e2e_fail "the forged X-Sipwarden-Deflected reached the UAS"
grep -q "^Record-Route: <sip:$PROXY;lr" "$E2E_TMP/uasA.msg" || e2e_fail "the INVITE was not record-routed"
grep -q "^Route:" "$E2E_TMP/uasA.msg" && e2e_fail "the proxy left its Route header on a loose-routed request"
e2e_log "call to alice.kowalski reached $UAS_A with X-Sipwarden-Source: $CALLER:5080;transport=udp (forged one replaced)"

uac call_unknown $CALLER 5080 caller.xml -s nobody -m 40 -r 20 -l 20
a=$(call_ids "$E2E_TMP/uasA.msg" INVITE nobody | count)
b=$(call_ids "$E2E_TMP/uasB.msg" INVITE nobody | count)
e2e_log "40 calls to an unknown user: $a reached $UAS_A, $b reached $UAS_B"
[ $((a + b)) = 40 ] || e2e_fail "$((a + b)) of 40 calls to the unknown user reached a UAS"
[ "$a" -ge 1 ] && [ "$b" -ge 1 ] || e2e_fail "the dispatcher sent every call to one UAS ($a, $b)"
for u in uasA uasB; do
  for m in ACK BYE; do
    n=$(awk -v m="^$m " '$0 ~ m {f=1} f && /^Call-ID:/ {print $2; f=0}' "$E2E_TMP/$u.msg" | sort -u | count)
    want=$(call_ids "$E2E_TMP/$u.msg" INVITE '[^ ]*' | count)
    [ "$n" = "$want" ] || e2e_fail "$u: $m of $n calls, INVITEs of $want"
  done
done
uas_stop uasA uasB

# 3. REGISTER from elsewhere: relayed to a UAS, which challenges it.
uas_start uasA_reg $UAS_A -sf "$SCEN/uas_register.xml"
uas_start uasB_reg $UAS_B -sf "$SCEN/uas_register.xml"
uac reg_outside $CALLER 5080 register_outside.xml -s 1001 -m 1
cat "$E2E_TMP/uasA_reg.msg" "$E2E_TMP/uasB_reg.msg" 2>/dev/null >"$E2E_TMP/reg_seen"
grep -q "^REGISTER sip:$PROXY:5060 SIP/2.0" "$E2E_TMP/reg_seen" || e2e_fail "the REGISTER did not reach a UAS"
grep -q "^X-Sipwarden-Source: $CALLER:5080;transport=udp" "$E2E_TMP/reg_seen" ||
  e2e_fail "the relayed REGISTER lacks X-Sipwarden-Source"
e2e_log "REGISTER from $CALLER relayed to a UAS, its 401 back to the caller"
uas_stop uasA_reg uasB_reg

# 4. OPTIONS to the proxy itself: relayed to a UAS.
uas_start uasA_opt $UAS_A -sf "$SCEN/uas_options.xml"
uas_start uasB_opt $UAS_B -sf "$SCEN/uas_options.xml"
uac options $CALLER 5080 options.xml -m 1
cat "$E2E_TMP/uasA_opt.msg" "$E2E_TMP/uasB_opt.msg" 2>/dev/null | grep -q "^OPTIONS sip:$PROXY:5060 SIP/2.0" ||
  e2e_fail "OPTIONS to the proxy did not reach a UAS"
e2e_log "OPTIONS to the proxy answered by a UAS"
# From an IPv6 caller to the IPv4 UAS: the caller's address in brackets.
uac options6 $CALLER6 5080 options.xml -m 1
cat "$E2E_TMP/uasA_opt.msg" "$E2E_TMP/uasB_opt.msg" 2>/dev/null |
  grep -q "^X-Sipwarden-Source: \[$CALLER6\]:5080;transport=udp" ||
  e2e_fail "no X-Sipwarden-Source: [$CALLER6]:5080 at the UAS"
e2e_log "OPTIONS from [$CALLER6]: X-Sipwarden-Source: [$CALLER6]:5080;transport=udp"

# 5. Refusals, with a raw UDP client: the first line of the answer, or
# "timeout" after a second.
probe() {
  ip netns exec "$NS" python3 - "$CALLER" "$PROXY" "$1" <<'PY'
import socket, sys
src, dst, text = sys.argv[1], sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((src, 5090))
s.settimeout(1.0)
# ($(...) took the blank line that ends the headers.)
s.sendto((text.rstrip("\n") + "\n\n").replace("\n", "\r\n").encode(), (dst, 5060))
try:
    print(s.recvfrom(65535)[0].decode(errors="replace").split("\r\n")[0])
except socket.timeout:
    print("timeout")
PY
}
msg() {  # msg METHOD URI CALL-ID EXTRA-HEADER...: a request text
  local m=$1 uri=$2 cid=$3
  shift 3
  printf '%s %s SIP/2.0\nVia: SIP/2.0/UDP %s:5090;branch=z9hG4bK-%s\nFrom: <sip:probe@%s>;tag=p1\n' \
    "$m" "$uri" "$CALLER" "$cid" "$CALLER"
  printf '%s\n' "$@"
  printf 'Call-ID: %s\nContent-Length: 0\n\n' "$cid"
}
got=$(probe "$(msg OPTIONS "sip:x@$PROXY" mf0 "To: <sip:x@$PROXY>" "CSeq: 1 OPTIONS" "Max-Forwards: 0")")
[ "$got" = "SIP/2.0 483 Too Many Hops" ] || e2e_fail "Max-Forwards 0: got '$got'"
got=$(probe "$(msg OPTIONS "sip:x@$PROXY" bad-cseq "To: <sip:x@$PROXY>" "CSeq: 1 INVITE" "Max-Forwards: 70")")
[ "$got" = timeout ] || e2e_fail "a malformed request (CSeq method differs) got '$got'"
got=$(probe "$(msg BYE "sip:victim@$ELSEWHERE:5060" relay "To: <sip:victim@$ELSEWHERE>;tag=t1" \
  "Route: <sip:$PROXY;lr>" "CSeq: 2 BYE" "Max-Forwards: 70")")
[ "$got" = "SIP/2.0 403 Forbidden" ] || e2e_fail "an in-dialog request towards $ELSEWHERE: got '$got'"
grep -q "bad-cseq\|Call-ID: relay" "$E2E_TMP/uasA_opt.msg" "$E2E_TMP/uasB_opt.msg" 2>/dev/null &&
  e2e_fail "a refused request reached a UAS"
e2e_log "Max-Forwards 0: 483; malformed: dropped; in-dialog towards a non-UAS: 403"
uas_stop uasA_opt uasB_opt

kill -0 "$KAM" 2>/dev/null || e2e_fail "kamailio died: $(tail -n 20 "$E2E_TMP/kamailio.log")"
e2e_finish
