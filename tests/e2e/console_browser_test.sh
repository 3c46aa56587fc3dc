#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The operator's console in a real browser: sipwarden-controller on loopback
# with --http-listen and a tokens file (an operator and a read-only user), a
# second, empty controller, and an agent with XDP on a veth to an attacker's
# namespace, connected to the first. tests/console/console_browser_test.py
# drives headless Chromium (selenium, the system's chromium and
# chromedriver) through the page: no script error (empty controller
# included), the token dialog, an INVITE flood's alarm on the page within
# 2 s (printed), Unblock with the page's confirmation out of the agent's
# kernel, a block from the page's form into it, the graphs drawn from the
# agent's counters, the read-only user without buttons and refused (403),
# an API error in the error bar. Screenshots: BUILD/test-artifacts/console/.
#   console_browser_test.sh BIN_DIR
source "$(dirname "$0")/lib.sh"
e2e_require_root
BIN="${1:?usage: $0 BIN_DIR}"
BIN=$(cd "$BIN" && pwd)
SRC_DIR="$(cd "$(dirname "$0")/../.." && pwd)"
ARTIFACTS="$(dirname "$BIN")/test-artifacts/console"
PY=/usr/bin/python3  # the system's python3, which has python3-selenium

for f in /usr/bin/chromium /usr/bin/chromedriver; do
  [ -x "$f" ] || { echo "console_browser_test: $f missing (scripts/install-deps.sh)" >&2; exit 77; }
done
"$PY" -c 'import selenium' 2>/dev/null ||
  { echo "console_browser_test: python3-selenium missing (scripts/install-deps.sh)" >&2; exit 77; }
command -v curl >/dev/null || { echo "console_browser_test: curl missing" >&2; exit 77; }
help=$("$BIN/sipwarden-controller" --help 2>&1 || true)
grep -q -- --http-listen <<<"$help" ||
  { echo "console_browser_test: this sipwarden-controller has no --http-listen" >&2; exit 77; }

T=$E2E_TAG
NA="sw-con-$T"                         # the attacker's namespace
IA="swcon$((T % 10000))"               # the proxy's interface (root namespace)
PA=10.253.1.1 ATT=10.253.9.9           # the proxy, the attacker

e2e_netns "$NA"
ip link add "$IA" type veth peer name swatt netns "$NA"
ip addr add "$PA/24" dev "$IA" && ip link set "$IA" up
ip -n "$NA" addr add 10.253.1.2/24 dev swatt
ip -n "$NA" addr add "$ATT/32" dev swatt
ip -n "$NA" link set swatt up
e2e_bpffs
PIN="$E2E_BPFFS/console"
e2e_tmpdir
TMP="$E2E_TMP"
GPORT=$((44000 + T % 3000)) HPORT=$((47000 + T % 3000))
EGPORT=$((GPORT + 3001)) EHPORT=$((HPORT + 3001))  # the empty controller
OP_TOKEN="op-$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
RO_TOKEN="ro-$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
printf '# console_browser_test\noperator alice %s\nread-only bob %s\n' "$OP_TOKEN" "$RO_TOKEN" >"$TMP/tokens"

start_controller() {  # start_controller NAME GRPC_PORT HTTP_PORT
  "$BIN/sipwarden-controller" --listen "127.0.0.1:$2" --db "$TMP/$1.db" \
    --http-listen "127.0.0.1:$3" --http-tokens "$TMP/tokens" >>"$TMP/$1.log" 2>&1 &
  E2E_PIDS+=("$!")
  up() { curl -sf -H "Authorization: Bearer $OP_TOKEN" "http://127.0.0.1:$1/api/v1/whoami"; }
  e2e_wait_for 10 up "$3" || { cat "$TMP/$1.log" >&2; e2e_fail "controller $1 does not serve HTTP on $3"; }
}
e2e_log "controllers: main on 127.0.0.1:$GPORT (HTTP $HPORT), empty on HTTP $EHPORT"
start_controller main "$GPORT" "$HPORT"
start_controller empty "$EGPORT" "$EHPORT"

"$BIN/sipwarden-agent" --iface "$IA" --pin-dir "$PIN" --controller "127.0.0.1:$GPORT" --agent-name proxy-a \
  --alarms-out "$TMP/proxy-a.alarms" --records-out /dev/null --max-block-ttl 300s \
  >/dev/null 2>"$TMP/agent.log" &
E2E_PIDS+=("$!")
connected() { grep -q "connected as proxy-a" "$TMP/agent.log"; }
e2e_wait_for 20 connected || { cat "$TMP/agent.log" >&2; e2e_fail "the agent did not connect"; }
e2e_log "agent proxy-a on $IA connected"

rm -rf "$ARTIFACTS"
mkdir -p "$ARTIFACTS"
rc=0
"$PY" "$SRC_DIR/tests/console/console_browser_test.py" \
  --url "http://127.0.0.1:$HPORT" --empty-url "http://127.0.0.1:$EHPORT" \
  --operator-token "$OP_TOKEN" --readonly-token "$RO_TOKEN" \
  --bin "$BIN" --pin "$PIN" --attacker "$ATT" \
  --attack "ip netns exec $NA $BIN/sw-sipsend --src_ip $ATT --to $PA:5060 --method INVITE --count 80 --rate 400 --max_seconds 5 2>/dev/null" \
  --traffic "ip netns exec $NA $BIN/sw-sipsend --to $PA:5060 --method OPTIONS --count 120 --rate 2 --max_seconds 60 >/dev/null 2>&1" \
  --artifacts "$ARTIFACTS" || rc=$?
if [ "$rc" -ne 0 ]; then
  e2e_log "controller log:"; tail -20 "$TMP/main.log" >&2
  e2e_log "agent log:"; tail -20 "$TMP/agent.log" >&2
  e2e_fail "the browser test failed (screenshots and the browser's log in $ARTIFACTS)"
fi
# The agent's own record of the alarm the page showed.
grep -q "\"src_ip\":\"$ATT\"" "$TMP/proxy-a.alarms" || e2e_fail "the agent wrote no alarm about $ATT"
e2e_log "screenshots in $ARTIFACTS: $(find "$ARTIFACTS" -name "*.png" | wc -l) files"
e2e_finish
