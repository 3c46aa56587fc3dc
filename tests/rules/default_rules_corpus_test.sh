#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# sipwarden-agent --read-pcap with its built-in default ruleset on the real
# captures of the shared corpus:
#  - initconf-sip-attacks/: every known attacker is named by an alarm, and no
#    alarm names anyone else;
#  - every other capture (normal calls, registrations, MGCP, RTP only,
#    transports, encapsulations, parser edge cases, non-SIP near misses: see
#    pcaps/NOTES.md) raises no alarm at all;
#  - the built-in copy is the source tree's rules/default.yaml, and a broken
#    --rules file is refused with FILE:LINE:COL and exit 2.
#   default_rules_corpus_test.sh BIN_DIR CORPUS_DIR SOURCE_DIR
set -euo pipefail
BIN="${1:?usage: $0 BIN_DIR CORPUS_DIR SOURCE_DIR}"
CORPUS="${2:?usage: $0 BIN_DIR CORPUS_DIR SOURCE_DIR}"
SRC="${3:?usage: $0 BIN_DIR CORPUS_DIR SOURCE_DIR}"
BIN=$(cd "$BIN" && pwd)
CORPUS=$(cd "$CORPUS" && pwd)
SRC=$(cd "$SRC" && pwd)
AGENT="$BIN/sipwarden-agent"
PCAPS="$CORPUS/pcaps"
ATTACKS="$PCAPS/initconf-sip-attacks"
TMP=$(mktemp -d /tmp/sw-defrules.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
# Runs from an empty directory: the rules must come from the binary.
run() {  # run PCAP OUT [more agent flags]
  local pcap=$1 out=$2
  shift 2
  (cd "$TMP" && "$AGENT" --read-pcap "$pcap" --alarms-out "$out" "$@" 2>"$out.err") ||
    fail "agent failed on $pcap: $(cat "$out.err")"
}
sources() { grep -o '"src_ip":"[^"]*"' "$1" | cut -d'"' -f4 | sort -u; }
categories() {  # new alarms (not updates) per category
  grep -v '"update":true' "$1" | grep -o '"category":"[^"]*"' | cut -d'"' -f4 | sort | uniq -c |
    awk '{printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1}'
}
# Every address of the list $2 is the source of an alarm of $1, and nobody else is.
expect_exactly() {
  local alarms=$1 want=$2 what=$3
  local missing extra
  missing=$(comm -23 <(sort -u <<<"$want") <(sources "$alarms"))
  extra=$(comm -13 <(sort -u <<<"$want") <(sources "$alarms"))
  [ -z "$missing" ] || fail "$what: no alarm names $(echo $missing)"
  [ -z "$extra" ] || fail "$what: alarms name addresses that are not attackers: $(echo $extra)"
  echo "ok: $what: $(sources "$alarms" | wc -l) attacker(s) reported (alarms: $(categories "$alarms"))"
}

# 1. sipvicious OPTIONS scans: 11 sources over 15 h. Ground truth: the Zeek
#    notice log shipped beside the capture (SIP::BadUserAgent, all 11).
want=$(grep -v '^#' "$ATTACKS/BadUserAgent-sipvicious.zeek-notice.log" | cut -f3 | sort -u)
[ "$(wc -l <<<"$want")" -eq 11 ] || fail "expected 11 sources in the Zeek notice log"
run "$ATTACKS/BadUserAgent-sipvicious.pcap" "$TMP/sipvicious.jsonl"
expect_exactly "$TMP/sipvicious.jsonl" "$want" "BadUserAgent-sipvicious.pcap"
grep -q 'scanner-signature' "$TMP/sipvicious.jsonl.err" ||
  fail "the summary on stderr does not count the scanner alarms: $(cat "$TMP/sipvicious.jsonl.err")"
grep -q '"action":"blocked"' "$TMP/sipvicious.jsonl" || fail "scanners were not blocked"

# 2. A slow REGISTER brute force: one request every ~20 s on average for
#    8.5 h, 45 usernames, from 199.105.226.32 (NOTES.md: single-IP trace).
run "$ATTACKS/SIP-Bruteforce-Single-IP.pcap" "$TMP/bruteforce.jsonl"
expect_exactly "$TMP/bruteforce.jsonl" "199.105.226.32" "SIP-Bruteforce-Single-IP.pcap"
grep -q '"category":"bruteforce"' "$TMP/bruteforce.jsonl" || fail "no bruteforce alarm"

# 3. Unauthorised INVITEs (401/403) by sipcli dialling international numbers
#    with dial-out prefixes. Ground truth: the Zeek notice log
#    (SIP::Code_401_403).
want=$(grep -v '^#' "$ATTACKS/SIP-3700-unauthorized-401.zeek-notice.log" | cut -f3 | sort -u)
[ "$want" = "40.129.198.250" ] || fail "unexpected Zeek ground truth: $want"
run "$ATTACKS/SIP-3700-unauthorized-401.pcap" "$TMP/unauth.jsonl"
expect_exactly "$TMP/unauth.jsonl" "$want" "SIP-3700-unauthorized-401.pcap"

# 4. Normal traffic: not one alarm. Among them, cases close to a threshold:
#    - ndpi/sip.pcap, zeek/wireshark.pcap, suricata-verify/sip-method/sip.pcap
#      (one 2005 Nero SIPPS capture): a user fumbling with three accounts over
#      25 minutes — 14 x 401, 3 x 403, 3 x 407, REGISTERs with a wrong
#      username, calls to 0097239287044 refused and CANCELled. Every refusal
#      of credentials is for at most two usernames from one address, below
#      the password-cracking thresholds; the international number is one
#      number (toll-fraud-probe needs three).
#    - ndpi/mgcp.pcap: one AUEP, then the capture jumps seven years; one
#      audit does not establish a schedule, so no audit-missing.
#    - heplify/sip_tcp_websocket.pcap: an answered call to +12263382742;
#      the first international call of a caller is only reported after a
#      learning day, which a capture of seconds never reaches.
n=0
while IFS= read -r -d '' pcap; do
  rel=${pcap#"$PCAPS/"}
  out="$TMP/normal-$n.jsonl"
  run "$pcap" "$out" --quiet
  [ ! -s "$out" ] || fail "$rel raised alarms: $(head -c 2000 "$out")"
  n=$((n + 1))
done < <(find "$PCAPS" \( -name '*.pcap' -o -name '*.pcapng' \) -not -path "$ATTACKS/*" -print0 |
         sort -z)
[ "$n" -ge 40 ] || fail "only $n normal captures found under $PCAPS"
echo "ok: $n normal captures, no alarm"

# 5. The built-in ruleset is the source tree's rules/default.yaml.
run "$ATTACKS/SIP-Bruteforce-Single-IP.pcap" "$TMP/file.jsonl" --rules "$SRC/rules/default.yaml"
cmp -s "$TMP/bruteforce.jsonl" "$TMP/file.jsonl" ||
  fail "--rules rules/default.yaml and the built-in rules disagree (rebuild the agent)"
echo "ok: the built-in rules are rules/default.yaml"

# 6. A broken rule file is refused: FILE:LINE:COL for every error, exit 2,
#    nothing written.
cat >"$TMP/bad.yaml" <<'EOF'
rules:
  - name: bad
    type: SingleWithThreshold
    match: {methd: INVITE}
    window: 10s
    threshold: 3
    actions:
      - alarm: {signature: x, category: flooding}
EOF
rc=0
"$AGENT" --read-pcap "$ATTACKS/BadUserAgent-sipvicious.pcap" --rules "$TMP/bad.yaml" \
  --alarms-out "$TMP/bad.jsonl" 2>"$TMP/bad.err" || rc=$?
[ "$rc" -eq 2 ] || fail "exit code $rc for a broken rule file, expected 2"
grep -q "bad.yaml:4:13: unknown field 'methd'" "$TMP/bad.err" ||
  fail "no FILE:LINE:COL for the unknown field: $(cat "$TMP/bad.err")"
grep -q "bad.yaml:8:41: unknown category 'flooding'" "$TMP/bad.err" ||
  fail "no FILE:LINE:COL for the unknown category: $(cat "$TMP/bad.err")"
[ ! -s "$TMP/bad.jsonl" ] || fail "alarms written despite the broken rule file"
rc=0
"$AGENT" --read-pcap "$ATTACKS/BadUserAgent-sipvicious.pcap" --rules "$TMP/missing.yaml" \
  --alarms-out - >/dev/null 2>"$TMP/missing.err" || rc=$?
[ "$rc" -eq 2 ] || fail "exit code $rc for a missing rule file, expected 2"
echo "ok: broken and missing rule files refused: $(head -1 "$TMP/bad.err")"
echo PASS
