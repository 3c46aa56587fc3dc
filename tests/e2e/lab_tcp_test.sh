#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# SIP over TCP, live, in a fresh lab (Kamailio listens on TCP 5060):
#   1. a SIP message written in three TCP segments (TCP_NODELAY, pauses
#      between the writes) is one event, from the kernel's copies reassembled
#      by the agent (transport "tcp", not the HEP mirror); the kernel copied
#      the two continuation segments (records flagged midstream);
#   2. two messages written in one segment are two events;
#   3. an svwar-style extension enumeration over TCP (REGISTER for 1300..1339,
#      users Kamailio does not have: 404 each; sipvicious 0.3.3 itself refuses
#      tcp:// targets, so the test sends svwar's requests over one connection)
#      raises the enumeration alarm naming the attacker within 2 s of the 10th
#      404, and blocks the attacker in the kernel: its next connection attempt
#      is dropped, while a neighbour address still connects;
#   4. rate limits act on connections: with other requests limited to 5/s, a
#      source sending 30 OPTIONS on its open connection gets all 30 answered
#      (the connection is not stalled), then its new connection is refused in
#      the kernel (drop_tcp_syn) while another source still connects.
#   lab_tcp_test.sh BIN_DIR
source "$(dirname "$0")/lib.sh"
e2e_require_root
BIN="${1:?usage: $0 BIN_DIR}"
PROXY=10.61.0.1 CLIENT=10.61.1.10 ATT=10.61.3.66 NEIGH=10.61.3.67
e2e_lab_begin lab_tcp_test kamailio sipp jq python3
e2e_tmpdir
TMP="$E2E_TMP"

LAB_MADE=1
"$LAB" up --agent-args "--max-block-ttl 60s" >"$TMP/up.out" 2>&1 ||
  { cat "$TMP/up.out" >&2; e2e_fail "lab up failed"; }
"$LAB" status --json >"$TMP/status.json"
ALARMS=$(jq -r .agent.alarms "$TMP/status.json")
EVENTS=$(jq -r .agent.events "$TMP/status.json")
RECORDS=$(dirname "$EVENTS")/records.jsonl
PIN=$(jq -r .agent.pin_dir "$TMP/status.json")
ctl() { "$BIN/sipwardenctl" --pin-dir "$PIN" "$@"; }

# The TCP client: tcp.py NODE ... runs in NODE's namespace.
cat >"$TMP/tcp.py" <<'PY'
import socket, sys, time

def msg(method, user, call_id, src, sport, ua="sipwarden-lab tcp test"):
    return (f"{method} sip:{user}@{PROXY} SIP/2.0\r\n"
            f"Via: SIP/2.0/TCP {src}:{sport};branch=z9hG4bK-{call_id};rport\r\n"
            "Max-Forwards: 70\r\n"
            f'To: "{user}"<sip:{user}@{PROXY}>\r\n'
            f'From: "{user}"<sip:{user}@{PROXY}>;tag={call_id}\r\n'
            f"User-Agent: {ua}\r\n"
            f"Call-ID: {call_id}\r\n"
            f"Contact: <sip:{user}@{src}:{sport};transport=tcp>\r\n"
            f"CSeq: 1 {method}\r\n"
            "Accept: application/sdp\r\n"
            "Content-Length: 0\r\n\r\n").encode()

def connect(src, timeout=3.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.bind((src, 0))
    s.settimeout(timeout)
    s.connect((PROXY, 5060))
    return s

def responses(s, n, deadline_s=5.0):
    """Reads until n SIP responses arrived; returns their status codes."""
    buf, codes, end = b"", [], time.time() + deadline_s
    while len(codes) < n and time.time() < end:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        buf += chunk
        while b"\r\n\r\n" in buf:
            head, buf = buf.split(b"\r\n\r\n", 1)
            first = head.split(b"\r\n", 1)[0].split()
            if len(first) > 1 and first[0] == b"SIP/2.0":
                codes.append(int(first[1]))
    return codes

PROXY = sys.argv[2]
mode, src = sys.argv[1], sys.argv[3]
if mode == "split":       # split SRC CALL_ID: one OPTIONS in three segments
    s = connect(src)
    m = msg("OPTIONS", "1000", sys.argv[4], src, s.getsockname()[1])
    cuts = [0, 60, len(m) // 2, len(m)]  # the request line, then the headers in two
    for a, b in zip(cuts, cuts[1:]):
        s.send(m[a:b])
        time.sleep(0.3)   # each write its own segment (no Nagle, time to ACK)
    print(s.getsockname()[1], *responses(s, 1))
    s.close()
elif mode == "two":       # two SRC CALL_ID_A CALL_ID_B: two OPTIONS in one segment
    s = connect(src)
    p = s.getsockname()[1]
    s.send(msg("OPTIONS", "1000", sys.argv[4], src, p) + msg("OPTIONS", "1000", sys.argv[5], src, p))
    print(*responses(s, 2))
    s.close()
elif mode == "enum":      # enum SRC FIRST LAST: svwar's REGISTER per extension, one connection
    s = connect(src)
    p = s.getsockname()[1]
    out = []
    for ext in range(int(sys.argv[4]), int(sys.argv[5]) + 1):
        s.send(msg("REGISTER", str(ext), f"svwar-tcp-{ext}", src, p, ua="pbx-audit/1.0"))
        got = responses(s, 1, 2.0)
        if not got:
            break
        out.append(got[0])
    print(*out)
    s.close()
elif mode == "burst":     # burst SRC N: N OPTIONS on one connection, 5 ms apart
    s = connect(src)
    p = s.getsockname()[1]
    n = int(sys.argv[4])
    for i in range(n):
        s.send(msg("OPTIONS", "1000", f"burst-{p}-{i}", src, p))
        time.sleep(0.005)
    print(*responses(s, n))
    s.close()
elif mode == "connect":   # connect SRC: 0 if a connection to the proxy opens within 2 s
    try:
        connect(src, 2.0).close()
    except OSError as e:
        print(e, file=sys.stderr)
        sys.exit(1)
PY
tcp() { local node=$1; shift; "$LAB" exec "$node" python3 "$TMP/tcp.py" "$1" "$PROXY" "${@:2}"; }
sip_events() {  # sip_events CALL_ID: the sip events of that Call-ID, one JSON per line
  jq -cR --arg id "$1" 'fromjson? | select(.type == "sip" and .call_id == $id)' "$EVENTS" 2>/dev/null
}
n_events() { sip_events "$1" | jq -s 'map(select(.method)) | length'; }  # requests
has_event() { [ "$(n_events "$1")" -ge 1 ]; }

# ---- 1. one message in three segments ------------------------------------------
CALL=split-$RANDOM$RANDOM
e2e_log "OPTIONS in three TCP segments from $CLIENT (Call-ID $CALL)"
read -r PORT codes < <(tcp sw-client split "$CLIENT" "$CALL") || e2e_fail "the TCP client failed"
[ "$codes" = 200 ] || e2e_fail "Kamailio did not answer the split OPTIONS with 200: '$codes'"
e2e_wait_for 3 has_event "$CALL" || e2e_fail "no event for the split message"
sleep 0.5
[ "$(n_events "$CALL")" -eq 1 ] ||
  e2e_fail "the split message gave $(n_events "$CALL") request events, not 1: $(sip_events "$CALL")"
transport=$(sip_events "$CALL" | jq -rs 'map(select(.method)) | .[0].transport')
[ "$transport" = tcp ] || e2e_fail "the event came from '$transport', not the kernel's TCP copies"
# The kernel's copies of that connection: the first segment (classified
# OPTIONS by its request line), then two continuations.
conn_records() {
  jq -cR --arg c "$CLIENT" --argjson p "$PORT" 'fromjson? | select(.type == "sip_record"
     and .transport == "tcp" and .src_ip == $c and .src_port == $p)' "$RECORDS"
}
kinds=$(conn_records | jq -r 'if .midstream then "continuation" else .class end' | paste -sd' ')
e2e_log "the kernel's records of the connection's segments: $kinds"
[ "$kinds" = "OPTIONS continuation continuation" ] ||
  e2e_fail "the kernel's records of the three segments: '$kinds'"

# ---- 2. two messages in one segment --------------------------------------------
A=two-a-$RANDOM B=two-b-$RANDOM
e2e_log "two OPTIONS in one TCP segment"
codes=$(tcp sw-client two "$CLIENT" "$A" "$B") || e2e_fail "the TCP client failed"
[ "$codes" = "200 200" ] || e2e_fail "Kamailio's answers to the two OPTIONS: '$codes'"
e2e_wait_for 3 has_event "$B" || e2e_fail "no event for the second message of the segment"
[ "$(n_events "$A")" -eq 1 ] && [ "$(n_events "$B")" -eq 1 ] ||
  e2e_fail "two messages in one segment gave $(n_events "$A") and $(n_events "$B") events"

# ---- 3. extension enumeration over TCP -----------------------------------------
e2e_log "svwar-style REGISTER enumeration over TCP from $ATT (1300..1339)"
before=$(ctl stats --json | jq -r .drop_blocked)
T0=$(date +%s%N)
codes=$(tcp sw-attacker enum "$ATT" 1300 1339) || true
n404=$(tr ' ' '\n' <<<"$codes" | grep -c '^404$' || true)
e2e_log "the enumeration got $n404 answers 404 (of $(wc -w <<<"$codes") answers)"
[ "$n404" -ge 10 ] || e2e_fail "fewer than 10 404s over TCP: '$codes'"
alarm() { jq -cR --arg a "$ATT" 'fromjson? | select(.alert.category == "enumeration" and .src_ip == $a)' "$ALARMS" | grep -q .; }
e2e_wait_for 3 alarm || e2e_fail "no enumeration alarm naming $ATT: $(tail -3 "$ALARMS")"
a=$(jq -cR --arg a "$ATT" 'fromjson? | select(.alert.category == "enumeration" and .src_ip == $a)' "$ALARMS" | head -1)
e2e_log "alarm: $(jq -r .alert.signature <<<"$a")"
# Its evidence came through the kernel: the attacker's REGISTERs are TCP events.
regs=$(jq -cR --arg a "$ATT" 'fromjson? | select(.type == "sip" and .src_ip == $a and .method == "REGISTER"
         and .transport == "tcp")' "$EVENTS" | grep -c . || true)
e2e_log "the attacker's REGISTERs seen from the kernel's TCP copies: $regs"
[ "$regs" -ge 10 ] || e2e_fail "only $regs of the attacker's REGISTERs came from the kernel's TCP copies"
# Within 2 s of the 10th 404: the alarm's time against the 10th REGISTER event's.
t10=$(jq -rR --arg a "$ATT" 'fromjson? | select(.type == "sip" and .dst_ip == $a and .status == 404) | .ts' \
        "$EVENTS" | sed -n 10p)
ta=$(jq -r .ts <<<"$a")
late=$(python3 -c 'import sys
from datetime import datetime
p = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))
print("%.3f" % (p(sys.argv[2]) - p(sys.argv[1])).total_seconds())' "$t10" "$ta")
e2e_log "alarm $late s after the 10th 404 (attack began $(( ($(date +%s%N) - T0) / 1000000 )) ms ago)"
awk -v l="$late" 'BEGIN { exit !(l <= 2.0) }' || e2e_fail "the alarm came $late s after the 10th 404"

# Blocked in the kernel: its next connection attempt is dropped; a neighbour's is not.
ctl block list | grep -q "$ATT" || e2e_fail "$ATT is not in the blocklist: $(ctl block list)"
tcp sw-attacker connect "$ATT" 2>/dev/null && e2e_fail "the blocked attacker still connects over TCP"
after=$(ctl stats --json | jq -r .drop_blocked)
[ "$after" -gt "$before" ] || e2e_fail "drop_blocked did not rise ($before -> $after)"
tcp sw-attacker connect "$NEIGH" || e2e_fail "the neighbour $NEIGH could not connect"
e2e_log "attacker's SYNs dropped ($before -> $after blocked drops); the neighbour connects"

# ---- 4. rate limits on connections, not segments --------------------------------
TRUNK=10.61.3.68 OTHER=10.61.3.69
ctl config set other-rate 5 >/dev/null && ctl config set other-burst 5 >/dev/null ||
  e2e_fail "could not set the OPTIONS rate limit"
syn_before=$(ctl stats --json | jq -r .drop_tcp_syn)
over_before=$(ctl stats --json | jq -r .tcp_over_rate)
codes=$(tcp sw-attacker burst "$TRUNK" 30) || e2e_fail "the burst client failed"
n200=$(tr ' ' '\n' <<<"$codes" | grep -c '^200$' || true)
over=$(( $(ctl stats --json | jq -r .tcp_over_rate) - over_before ))
e2e_log "30 OPTIONS on one open connection at 5/s allowed: $n200 answered, $over over the limit (passed)"
[ "$n200" -eq 30 ] || e2e_fail "the open connection was stalled: $n200 of 30 answered"
[ "$over" -ge 20 ] || e2e_fail "only $over of the burst counted over the limit"
tcp sw-attacker connect "$TRUNK" 2>/dev/null && e2e_fail "a new connection from $TRUNK (in debt) was accepted"
syn=$(( $(ctl stats --json | jq -r .drop_tcp_syn) - syn_before ))
[ "$syn" -ge 1 ] || e2e_fail "drop_tcp_syn did not rise"
ctl block list | grep -q "$TRUNK" && e2e_fail "$TRUNK was blocked: the refusal must be the rate limit's"
tcp sw-attacker connect "$OTHER" || e2e_fail "$OTHER could not connect while $TRUNK was in debt"
e2e_log "the source in debt: $syn connection attempts refused in the kernel; $OTHER connects"
ctl config set other-rate 0 >/dev/null
e2e_finish
