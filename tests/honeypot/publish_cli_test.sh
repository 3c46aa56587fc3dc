#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# sipwardenctl's honeypot verbs that need no maps and no controller:
# `honeypot publish` writes the page and the users file (and the honeypot's
# users parser reads the latter back), refuses bad input with exit 2 and a
# precise message; `honeypot deflection` prints its table and JSON lines.
#   publish_cli_test.sh BIN_DIR
set -euo pipefail
BIN="${1:?usage: $0 BIN_DIR}"
CTL="$BIN/sipwardenctl"
TMP=$(mktemp -d /tmp/sw-publish-cli.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "publish_cli_test: FAIL: $*" >&2; exit 1; }
refused() {  # refused EXPECTED-MESSAGE ARGS...: exit 2 and the message on stderr
  local want="$1" rc=0
  shift
  "$CTL" "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
  [ "$rc" = 2 ] || fail "expected exit 2 for '$*', got $rc: $(cat "$TMP/err")"
  grep -qF -- "$want" "$TMP/err" || fail "for '$*': expected '$want', got: $(cat "$TMP/err")"
  echo "refused as expected: $want"
}

"$CTL" honeypot publish --domain honeypot.example.net --count 250 --seed 3 --out "$TMP/contacts.html" \
  >"$TMP/out"
grep -q "250 deflector URIs" "$TMP/out" || fail "publish said: $(cat "$TMP/out")"
[ -s "$TMP/contacts.html" ] && [ -s "$TMP/contacts.html.users" ] || fail "files not written"
[ "$(stat -c %a "$TMP/contacts.html")" = 644 ] || fail "the page is not mode 644"
# What a regex harvester gets: the 250 deflectors, nothing else.
grep -oE "sip:[^\"'<> ]+@[A-Za-z0-9.-]+" "$TMP/contacts.html" | sort -u >"$TMP/harvested"
[ "$(wc -l <"$TMP/harvested")" = 250 ] || fail "harvested $(wc -l <"$TMP/harvested") URIs"
awk '!/^#/ && $2 == "deflector" { print "sip:" $1 "@honeypot.example.net" }' \
  "$TMP/contacts.html.users" | sort >"$TMP/registered"
diff "$TMP/harvested" "$TMP/registered" >&2 || fail "the page and the users file disagree"
grep -qE '^voicemail +voicemail$' "$TMP/contacts.html.users" || fail "no voicemail user"
grep -qE '^gw-pstn +gateway$' "$TMP/contacts.html.users" || fail "no gw-pstn user"
grep -q "Do not call these addresses" "$TMP/contacts.html" || fail "no notice"
# Same seed, same files; the write replaced the old ones and left no temporary.
cp "$TMP/contacts.html" "$TMP/first.html"
"$CTL" honeypot publish --domain honeypot.example.net --count 250 --seed 3 --out "$TMP/contacts.html" \
  >/dev/null
cmp -s "$TMP/first.html" "$TMP/contacts.html" || fail "not deterministic"
[ -z "$(find "$TMP" -name '*.tmp.*')" ] || fail "temporary files left behind"

# A users file: its deflectors are published, the users file written where asked.
printf '# ours\nalice.kowalski deflector\ngw-pstn gateway\n' >"$TMP/users.txt"
"$CTL" honeypot publish --domain 192.0.2.10 --users "$TMP/users.txt" --out "$TMP/p.html" \
  --registrations-out "$TMP/reg.users" >/dev/null
grep -q 'href="sip:alice.kowalski@192.0.2.10"' "$TMP/p.html" || fail "alice not on the page"
grep -q 'sip:gw-pstn@' "$TMP/p.html" && fail "the gateway is on the page"
grep -qE '^voicemail +voicemail$' "$TMP/reg.users" || fail "voicemail not added"

refused "needs --domain" honeypot publish --out "$TMP/x.html"
refused "needs --out" honeypot publish --domain honeypot.example.net
refused "bad --domain 'honeypot.example.net:5060': no port here" \
  honeypot publish --domain honeypot.example.net:5060 --out "$TMP/x.html"
refused "give one or the other" honeypot publish --domain h.example --users "$TMP/users.txt" \
  --count 10 --out "$TMP/x.html"
refused "--count must be within 1..100000" honeypot publish --domain h.example --count 0 --out "$TMP/x.html"
printf 'alice deflector\nbob@example.net deflector\n' >"$TMP/bad.txt"
refused "bad.txt:2: bad user 'bob@example.net'" honeypot publish --domain h.example \
  --users "$TMP/bad.txt" --out "$TMP/x.html"
[ ! -e "$TMP/x.html" ] || fail "a refused publish wrote its page"

# The deflection table: default rows, the formula and measured columns.
"$CTL" honeypot deflection --calls 20000 --bots 200 >"$TMP/table"
grep -qE '^ +1000 +1000 +50\.00% ' "$TMP/table" || fail "no 1000/1000 row: $(cat "$TMP/table")"
[ "$(grep -cE '^ +1000 +[0-9]+ ' "$TMP/table")" = 9 ] || fail "not 9 default rows"
"$CTL" honeypot deflection --real 100 --deflectors 0,100 --calls 1000 --bots 10 --json >"$TMP/json"
[ "$(wc -l <"$TMP/json")" = 2 ] || fail "expected 2 JSON lines"
grep -q '"deflectors":0,.*"real_before_block_expected":null' "$TMP/json" || fail "$(cat "$TMP/json")"
refused "--real: 'x' is not a count" honeypot deflection --real x
refused "more than 10^9 draws" honeypot deflection --calls 100000000 --bots 1000
echo "ok: honeypot publish and deflection"
