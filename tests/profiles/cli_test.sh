#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# sipwarden-profiles on real files: learn and detect on a small generated
# fleet (tools/profiles/gen), malformed lines counted with FILE:LINE, the
# errors for a missing, empty, other-version or future-dated profile
# directory, detect on records that precede the learning period, --help.
#   cli_test.sh path/to/sipwarden-profiles path/to/tools/profiles/gen
set -euo pipefail
bin=${1:?usage: cli_test.sh SIPWARDEN_PROFILES GEN}
gen=${2:?usage: cli_test.sh SIPWARDEN_PROFILES GEN}
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
# expect_error WHAT TEXT CMD...: CMD exits 1 and says TEXT on stderr
expect_error() {
  local what=$1 text=$2
  shift 2
  if "$@" >"$t/out" 2>"$t/err"; then fail "$what: exit 0"; fi
  grep -qF -- "$text" "$t/err" || { cat "$t/err" >&2; fail "$what: no '$text'"; }
}

python3 "$gen" --seed 5 --out "$t/g" --accounts 120 --anomalies 3 --learn-days 28 --detect-days 5 2>/dev/null
# the generator is deterministic
python3 "$gen" --seed 5 --out "$t/g2" --accounts 120 --anomalies 3 --learn-days 28 --detect-days 5 2>/dev/null
cmp -s "$t/g/detect.jsonl" "$t/g2/detect.jsonl" || fail "gen: same seed, different output"
cmp -s "$t/g/truth.jsonl" "$t/g2/truth.jsonl" || fail "gen: same seed, different truth"

# malformed lines in the middle are skipped with their line number
{ head -n 100 "$t/g/learn.jsonl"; echo '{"type":"call","start":"never"}'; echo 'garbage';
  echo '{"type":"sip_record","ts":"2026-03-02T00:00:00Z"}'; tail -n +101 "$t/g/learn.jsonl"; } >"$t/learn.jsonl"
"$bin" learn --records "$t/learn.jsonl" --out "$t/prof" --config "$t/g/config.yaml" \
  --stats-out "$t/learn.stats" 2>"$t/err" || { cat "$t/err" >&2; fail "learn"; }
grep -qF "learn.jsonl:101: skipped: bad \"start\" time 'never'" "$t/err" || { cat "$t/err"; fail "line 101 not reported"; }
grep -qF "learn.jsonl:102: skipped: not a JSON object" "$t/err" || fail "line 102 not reported"
grep -q '"malformed":2,' "$t/learn.stats" || fail "malformed count"
grep -q "1 of other types" "$t/err" || fail "other types count"
[[ -f $t/prof/profiles.meta && -f $t/prof/profiles.bin ]] || fail "no profile files"

"$bin" detect --profiles "$t/prof" --records "$t/g/detect.jsonl" --alarms-out "$t/alarms.jsonl" \
  --config "$t/g/config.yaml" --distance all 2>"$t/err" || { cat "$t/err" >&2; fail "detect"; }
python3 - "$t/alarms.jsonl" <<'PY' || fail "alarm lines"
import json, sys
for line in open(sys.argv[1]):
    a = json.loads(line)
    assert a["event_type"] == "alert" and a["alert"]["category"] == "anomaly", a
    an = a["anomaly"]
    assert an["distance"]["name"] in ("euclidean", "quadratic", "mahalanobis", "hellinger")
    assert an["distance"]["value"] > an["threshold"] > 0
    assert an["profile_days"] > 0 and an["bins"] and an["account"]
PY
# to stdout with -
"$bin" detect --profiles "$t/prof" --records "$t/g/detect.jsonl" --alarms-out - --distance all \
  --config "$t/g/config.yaml" 2>/dev/null | cmp -s - "$t/alarms.jsonl" || fail "--alarms-out - differs"

expect_error "records before the profiles" "before the end of the profiles' learning" \
  "$bin" detect --profiles "$t/prof" --records "$t/g/learn.jsonl" --alarms-out "$t/a"
mkdir "$t/empty"
expect_error "empty directory" "empty directory, not a profile directory" \
  "$bin" detect --profiles "$t/empty" --records "$t/g/detect.jsonl" --alarms-out "$t/a"
expect_error "missing directory" "No such file or directory" \
  "$bin" detect --profiles "$t/none" --records "$t/g/detect.jsonl" --alarms-out "$t/a"
cp -r "$t/prof" "$t/old"
sed -i '1s/.*/sipwarden-profiles format 1/' "$t/old/profiles.meta"  # the format before the shared thresholds
expect_error "older format" "profile format 1 is older than this program reads (2 to 3)" \
  "$bin" detect --profiles "$t/old" --records "$t/g/detect.jsonl" --alarms-out "$t/a"
cp -r "$t/prof" "$t/future"
sed -i 's/^learned_until .*/learned_until 4102444800000000/' "$t/future/profiles.meta"  # 2100
expect_error "future-dated" "future-dated" \
  "$bin" detect --profiles "$t/future" --records "$t/g/detect.jsonl" --alarms-out "$t/a"
printf 'bin_minutes: 30\n' >"$t/c30.yaml"
expect_error "other bins" "learned with bin_minutes 60" \
  "$bin" detect --profiles "$t/prof" --records "$t/g/detect.jsonl" --alarms-out "$t/a" --config "$t/c30.yaml"
expect_error "no records" "no call records" "$bin" learn --records /dev/null --out "$t/x"
expect_error "unreadable" "$t/nope.jsonl: No such file" "$bin" learn --records "$t/nope.jsonl" --out "$t/x"
expect_error "bad distance" "unknown distance 'manhattan'" \
  "$bin" detect --profiles "$t/prof" --records "$t/g/detect.jsonl" --alarms-out "$t/a" --distance manhattan
expect_error "no verb" "name a verb" "$bin"
expect_error "detect without --alarms-out" "detect needs --alarms-out" \
  "$bin" detect --profiles "$t/prof" --records "$t/g/detect.jsonl"
head -n 50 "$t/g/learn.jsonl" >"$t/short.jsonl"
expect_error "too short to learn" "nothing to profile" "$bin" learn --records "$t/short.jsonl" --out "$t/x"
{ "$bin" --help 2>&1 || true; } | grep -q "sipwarden-profiles learn --records FILE... --out DIR" || fail "--help"
echo "cli_test: ok"
