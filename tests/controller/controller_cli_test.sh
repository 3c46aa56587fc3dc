#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# sipwarden-controller's command line: --config FILE (a YAML file of flag
# values, overridden by the command line) and refusals with precise messages
# (unknown key, unknown fleet reason, no --db, honeypot policy values out of
# range, a public address in the clear). The controller it starts listens on loopback only.
#   controller_cli_test.sh BIN_DIR
set -euo pipefail
BIN="${1:?usage: $0 BIN_DIR}"
TMP=$(mktemp -d /tmp/sw-ctl-cli.XXXXXX)
PID=""
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
fail() { echo "controller_cli_test: $*" >&2; exit 1; }
refused() {  # refused EXPECTED-MESSAGE ARGS...: exit 2 and the message on stderr
  local want="$1"; shift
  local rc=0
  "$BIN/sipwarden-controller" "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
  [ "$rc" = 2 ] || [ "$rc" = 1 ] || fail "expected a refusal for '$*', got rc=$rc"
  grep -qF -- "$want" "$TMP/err" || fail "for '$*': expected '$want', got: $(cat "$TMP/err")"
  echo "refused as expected: $want"
}

printf 'db: %s/c.db\nbogus-key: 1\n' "$TMP" >"$TMP/bad.yaml"
refused "bad.yaml:2:1: unknown flag 'bogus-key'" --config "$TMP/bad.yaml"
refused "--fleet-reasons: unknown reason 'nope'" --db "$TMP/c.db" --fleet-reasons flood,nope
refused "--db is required" --listen 127.0.0.1:0
refused "--honeypot-graylist-rate must be within 1..1000000000, not 0" --db "$TMP/c.db" \
  --honeypot-graylist-rate 0
refused "--honeypot-window must be positive" --db "$TMP/c.db" --honeypot-window 0s
refused "--honeypot-block-hits must be within" --db "$TMP/c.db" --honeypot-block-hits 0
printf 'db: %s/c.db\nlisten: "0.0.0.0:0"\n' "$TMP" >"$TMP/public.yaml"
refused "without TLS" --config "$TMP/public.yaml"

# A good file: the command line overrides its listen address.
PORT=$((40000 + RANDOM % 20000))
cat >"$TMP/controller.yaml" <<YAML
db: $TMP/c.db
listen: 127.0.0.1:1
fleet-reasons: [flood, scan]
watch-grace: 500ms
honeypot-block-hits: 3
YAML
"$BIN/sipwarden-controller" --config "$TMP/controller.yaml" --listen "127.0.0.1:$PORT" \
  2>"$TMP/log" &
PID=$!
for _ in $(seq 100); do
  grep -q "serving on port" "$TMP/log" && break
  kill -0 "$PID" 2>/dev/null || fail "controller exited: $(cat "$TMP/log")"
  sleep 0.05
done
grep -q "serving on port $PORT" "$TMP/log" || fail "not serving on $PORT: $(cat "$TMP/log")"
grep -q "fleet reasons: flood,scan" "$TMP/log" || fail "fleet reasons not from the file: $(cat "$TMP/log")"
grep -q "block at 3 calls or 2 honeypots within 1h" "$TMP/log" ||
  fail "honeypot policy not from the file: $(cat "$TMP/log")"
"$BIN/sipwardenctl" --controller "127.0.0.1:$PORT" --name ops stats >"$TMP/stats" \
  || fail "sipwardenctl stats failed"
echo "serving on $PORT with the file's settings; sipwardenctl stats answered"
echo "controller_cli_test: ok"
