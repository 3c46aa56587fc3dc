#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# sipwarden-agent --read-pcap on a real capture and on a truncated copy of it:
# the same events up to the damage, then a clear error naming the packet, exit 1.
#   offline_agent_test.sh BIN_DIR CORPUS_DIR
set -euo pipefail
BIN="${1:?usage: $0 BIN_DIR CORPUS_DIR}"
CORPUS="${2:?usage: $0 BIN_DIR CORPUS_DIR}"
PCAP="$CORPUS/pcaps/heplify/rtp_rtcp_sip_ipv4_udp.pcap"
TMP=$(mktemp -d /tmp/sw-offline.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$BIN/sipwarden-agent" --read-pcap "$PCAP" --events-out "$TMP/full.jsonl" 2>"$TMP/full.err" ||
  fail "agent failed on an intact capture: $(cat "$TMP/full.err")"
[ "$(grep -c '"type":"sip"' "$TMP/full.jsonl")" -eq 14 ] || fail "expected 14 SIP events"
[ "$(grep -c '"type":"call"' "$TMP/full.jsonl")" -eq 2 ] || fail "expected 2 call records"

# Cut the file in the middle of a packet record (about half way).
size=$(stat -c %s "$PCAP")
head -c $((size / 2 + 7)) "$PCAP" >"$TMP/cut.pcap"
rc=0
"$BIN/sipwarden-agent" --read-pcap "$TMP/cut.pcap" --events-out - >"$TMP/cut.jsonl" 2>"$TMP/cut.err" || rc=$?
[ "$rc" -eq 1 ] || fail "exit code $rc on a truncated capture, expected 1"
grep -qE "packet [0-9]+" "$TMP/cut.err" || fail "error does not name the packet: $(cat "$TMP/cut.err")"
n=$(grep -c '"type":"sip"' "$TMP/cut.jsonl" || true)
[ "$n" -ge 1 ] || fail "nothing before the damage was written"
# Every SIP event written is one of the intact run's, in the same order.
diff <(grep '"type":"sip"' "$TMP/cut.jsonl") <(grep '"type":"sip"' "$TMP/full.jsonl" | head -n "$n") ||
  fail "events before the damage differ"

# Not a capture at all, and a missing file: refused with exit 2.
echo "not a pcap" >"$TMP/bad.pcap"
rc=0; "$BIN/sipwarden-agent" --read-pcap "$TMP/bad.pcap" 2>"$TMP/bad.err" >/dev/null || rc=$?
[ "$rc" -eq 2 ] || fail "exit code $rc for a non-capture, expected 2"
rc=0; "$BIN/sipwarden-agent" --read-pcap "$TMP/missing.pcap" 2>/dev/null >/dev/null || rc=$?
[ "$rc" -eq 2 ] || fail "exit code $rc for a missing file, expected 2"
# A profile directory that is not one: refused before anything is read.
rc=0; "$BIN/sipwarden-agent" --read-pcap "$PCAP" --profiles "$TMP/no-profiles" --alarms-out - \
  2>"$TMP/prof.err" >/dev/null || rc=$?
[ "$rc" -eq 2 ] || fail "exit code $rc for a missing profile directory, expected 2"
grep -q -- "--profiles: $TMP/no-profiles" "$TMP/prof.err" || fail "no clear error: $(cat "$TMP/prof.err")"
echo "PASS: $(grep -c . "$TMP/full.jsonl") events; truncated capture: $n SIP events then: $(grep -m1 "packet [0-9]" "$TMP/cut.err")"
