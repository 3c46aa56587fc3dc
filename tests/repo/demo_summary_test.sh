#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The demo's closing table (scripts/demo_summary.py) on a fixed record of two
# attacks: one alarmed 250 ms after its start and blocked (the most hits of
# the blocklist snapshots count), one never detected; updates of an alarm do
# not count as its detection; the legitimate traffic lines follow. With
# --honeypot-hits, a source no agent alarmed on (the SPIT bot) is detected at
# its first honeypot hit.
#   demo_summary_test.sh SOURCE_DIR
set -euo pipefail
SRC=$(cd "${1:?usage: $0 SOURCE_DIR}" && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
start=$(date -u -d 2026-12-05T10:00:00Z +%s)000000000
printf 'svcrack\t192.0.2.66\t%s\nscanner-ua\t192.0.2.70\t%s\n' "$start" "$start" >"$T/attacks.tsv"
cat >"$T/alarms.jsonl" <<'JSON'
{"ts":"2026-12-05T10:00:00.100000Z","src_ip":"192.0.2.66","alert":{"category":"flood"},"update":true}
{"ts":"2026-12-05T10:00:00.250000Z","src_ip":"192.0.2.66","alert":{"category":"bruteforce"}}
{"ts":"2026-12-05T10:00:00.900000Z","src_ip":"192.0.2.66","alert":{"category":"scan"}}
{"ts":"2026-12-05T10:00:00.300000Z","src_ip":"198.51.100.9","alert":{"category":"scan"}}
{"ts":"2026-12-05T10:00:0
JSON
echo '{"prefix":"192.0.2.66/32","reason":"bruteforce","hits":120}' >"$T/b1.json"
echo '{"prefix":"192.0.2.66/32","reason":"bruteforce","hits":340}' >"$T/b2.json"
printf 'registrations: 20 attempted, 20 succeeded, 0 failed (sipp exit 0)\ncalls:         60 attempted, 59 succeeded, 1 failed (sipp exit 1)\n' >"$T/traffic.out"
out=$(python3 "$SRC/scripts/demo_summary.py" "$T/alarms.jsonl" "$T/attacks.tsv" "$T/traffic.out" \
        "$T/b1.json" "$T/b2.json")
echo "$out"
expect() { grep -Eq "$1" <<<"$out" || { echo "FAIL: no line matching /$1/" >&2; exit 1; }; }
expect '^  svcrack +192\.0\.2\.66 +250 ms +bruteforce +yes \(bruteforce\) +340$'
expect '^  scanner-ua +192\.0\.2\.70 +not detected +- +no +-$'
expect '^  legitimate calls: 60 attempted, 59 succeeded, 1 failed'
expect '^  legitimate registrations: 20 attempted, 20 succeeded'
[ "$(grep -c '198.51.100.9' <<<"$out")" -eq 0 ] || { echo "FAIL: a bystander's alarm shows" >&2; exit 1; }

printf 'spit-bot\t192.0.2.71\t%s\n' "$start" >>"$T/attacks.tsv"
cat >"$T/hits.jsonl" <<'JSON'
{"honeypot":"hp","time":"2026-12-05T10:00:09.100000Z","stage":"arrived","src_ip":"192.0.2.71"}
{"honeypot":"hp","time":"2026-12-05T10:00:07.900000Z","stage":"arrived","src_ip":"192.0.2.71"}
{"honeypot":"hp","time":"2026-12-05T10:00:07.000000Z","stage":"ended","src_ip":"192.0.2.71"}
{"honeypot":"hp","time":"2026-12-05T10:00:00.500000Z","stage":"arrived","src_ip":"192.0.2.66"}
JSON
echo '{"prefix":"192.0.2.71/32","reason":"honeypot","hits":4}' >"$T/b3.json"
out=$(python3 "$SRC/scripts/demo_summary.py" --honeypot-hits "$T/hits.jsonl" "$T/alarms.jsonl" \
        "$T/attacks.tsv" "$T/traffic.out" "$T/b1.json" "$T/b2.json" "$T/b3.json")
echo "$out"
expect '^  svcrack +192\.0\.2\.66 +250 ms +bruteforce +yes \(bruteforce\) +340$'
expect '^  spit-bot +192\.0\.2\.71 +7900 ms +honeypot +yes \(honeypot\) +4$'
expect '^  honeypot: no agent alarmed'
echo "ok"
