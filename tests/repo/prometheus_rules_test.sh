#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The Prometheus files of packaging/prometheus/ with promtool (no build, no
# root): alerts.yml passes `promtool check rules`, its unit tests
# (alerts_test.yml: each alert fires on the series it is for, and not before)
# pass `promtool test rules`, and the example prometheus.yml passes `promtool
# check config` with alerts.yml as its rule file. Skipped (77) without
# promtool (Debian's prometheus package, scripts/install-deps.sh).
#   prometheus_rules_test.sh SOURCE_DIR
set -euo pipefail
SRC=$(cd "${1:?usage: $0 SOURCE_DIR}" && pwd)
DIR="$SRC/packaging/prometheus"
command -v promtool >/dev/null || { echo "promtool is not installed: rules not checked" >&2; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }

promtool check rules "$DIR/alerts.yml" || fail "promtool check rules alerts.yml"
# A broken rule must be refused: the check is a check.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed 's/expr: sipwarden_agent_up == 0/expr: sipwarden_agent_up === 0/' "$DIR/alerts.yml" >"$tmp/bad.yml"
cmp -s "$DIR/alerts.yml" "$tmp/bad.yml" && fail "could not break alerts.yml for the probe"
if promtool check rules "$tmp/bad.yml" >/dev/null 2>&1; then
  fail "promtool accepted a broken rule"
fi
(cd "$DIR" && promtool test rules alerts_test.yml) || fail "promtool test rules alerts_test.yml"
for a in $(sed -n 's/^ *- alert: *//p' "$DIR/alerts.yml"); do
  grep -q "alertname: $a\$" "$DIR/alerts_test.yml" || echo "note: alert $a has no unit test" >&2
done
cp "$DIR/alerts.yml" "$tmp/sipwarden-alerts.yml"
sed "s|/etc/prometheus/sipwarden-alerts.yml|$tmp/sipwarden-alerts.yml|" "$DIR/prometheus.yml" >"$tmp/prometheus.yml"
promtool check config "$tmp/prometheus.yml" || fail "promtool check config prometheus.yml"
echo "ok: alerts.yml, alerts_test.yml and prometheus.yml pass promtool"
