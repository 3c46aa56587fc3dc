#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The packaging, no root needed:
# - the agent accepts every key of packaging/agent.yaml (--config FILE
#   --version parses the flags, then exits 0), refuses an unknown key naming
#   FILE:LINE:COL, and the example documents every flag the agent has;
# - systemd-analyze verify has nothing to say about the unit (run on a copy
#   whose ExecStart names the built agent, since /usr/local/bin/sipwarden-agent
#   is not installed here), and its hardening stays within an exposure budget.
# Exit 77 (skipped) when systemd-analyze is missing, or when the agent does not
# take --config yet; every check that could run has run by then.
#   systemd_unit_test.sh BIN_DIR
source "$(dirname "$0")/lib.sh"
BIN="${1:?usage: $0 BIN_DIR}"
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
UNIT="$SRC/packaging/systemd/sipwarden-agent.service"
YAML="$SRC/packaging/agent.yaml"
BIN="$(cd "$BIN" && pwd)"
AGENT="$BIN/sipwarden-agent"
[ -x "$AGENT" ] || e2e_fail "no agent at $AGENT"
e2e_tmpdir
TMP="$E2E_TMP"
skip=""

e2e_log "packaging/agent.yaml against the agent's flags"
grep -qx 'keep-attached: true' "$YAML" || e2e_fail "agent.yaml does not set keep-attached: true"
if probe=$("$AGENT" --config "$TMP/absent.yaml" --version 2>&1); then
  e2e_fail "a missing --config file was accepted"
fi
if grep -q "Unknown command line flag 'config'" <<<"$probe"; then
  skip="sipwarden-agent does not take --config yet (ExpandConfig is not wired into main.cc)"
  e2e_log "$skip"
else
  grep -qF "$TMP/absent.yaml" <<<"$probe" || e2e_fail "the missing file is not named: $probe"
  "$AGENT" --config "$YAML" --version >/dev/null 2>"$TMP/err" ||
    e2e_fail "the agent refuses packaging/agent.yaml: $(cat "$TMP/err")"
  printf 'iface: eth0\nno-such-flag: 1\n' >"$TMP/bad.yaml"
  if "$AGENT" --config "$TMP/bad.yaml" --version >/dev/null 2>"$TMP/err"; then
    e2e_fail "an unknown key was accepted"
  fi
  grep -qF "$TMP/bad.yaml:2:1: unknown flag 'no-such-flag'" "$TMP/err" ||
    e2e_fail "unknown key reported as: $(cat "$TMP/err")"
  # Every flag of --help is in the example, but offline and one-shot ones.
  flags=$( ("$AGENT" --help 2>&1 || true) | sed -n 's/^    --\([a-z0-9_]*\) .*/\1/p' |
    grep -vx -e read_pcap -e version -e config | sort -u)
  [ -n "$flags" ] || e2e_fail "no flags found in sipwarden-agent --help"
  keys=$(sed -n 's/^\([a-z0-9_-]*\):.*/\1/p' "$YAML" | tr - _ | sort -u)
  missing=$(comm -23 <(echo "$flags") <(echo "$keys"))
  [ -z "$missing" ] || e2e_fail "packaging/agent.yaml does not document: $(echo $missing)"
fi

e2e_log "packaging/controller.yaml against the controller's flags"
CONTROLLER="$BIN/sipwarden-controller"
CYAML="$SRC/packaging/controller.yaml"
CUNIT="$SRC/packaging/systemd/sipwarden-controller.service"
"$CONTROLLER" --config "$CYAML" --version >/dev/null 2>"$TMP/err" ||
  e2e_fail "the controller refuses packaging/controller.yaml: $(cat "$TMP/err")"
flags=$( ("$CONTROLLER" --help 2>&1 || true) | sed -n 's/^    --\([a-z0-9_]*\) .*/\1/p' |
  grep -vx -e version -e config | sort -u)
[ -n "$flags" ] || e2e_fail "no flags found in sipwarden-controller --help"
keys=$(sed -n 's/^\([a-z0-9_-]*\):.*/\1/p' "$CYAML" | tr - _ | sort -u)
missing=$(comm -23 <(echo "$flags") <(echo "$keys"))
[ -z "$missing" ] || e2e_fail "packaging/controller.yaml does not document: $(echo $missing)"

if ! command -v systemd-analyze >/dev/null; then
  echo "systemd-analyze is not installed: unit not checked" >&2
  exit 77
fi

e2e_log "systemd-analyze verify packaging/systemd/sipwarden-agent.service"
exec_start='ExecStart=/usr/local/bin/sipwarden-agent --config /etc/sipwarden/agent.yaml'
grep -qxF "$exec_start" "$UNIT" || e2e_fail "the unit's ExecStart is not '$exec_start'"
for line in 'Type=simple' 'ExecReload=/bin/kill -HUP $MAINPID' 'Restart=on-failure' \
  'LimitMEMLOCK=infinity' 'ProtectSystem=strict' 'ReadWritePaths=/sys/fs/bpf'; do
  grep -qxF "$line" "$UNIT" || e2e_fail "the unit lacks $line"
done
ln -s "$AGENT" "$TMP/sipwarden-agent"
sed "s|^ExecStart=/usr/local/bin/sipwarden-agent |ExecStart=$TMP/sipwarden-agent |" "$UNIT" \
  >"$TMP/sipwarden-agent.service"
out=$(systemd-analyze verify --man=no "$TMP/sipwarden-agent.service" 2>&1) ||
  e2e_fail "systemd-analyze verify failed: $out"
# Unknown keys and bad values are only warnings (exit 0): any line about our
# unit is a failure. Lines about the host's other units are not ours to judge.
ours=$(grep -F "sipwarden-agent.service" <<<"$out" || true)
[ -z "$ours" ] || e2e_fail "systemd-analyze verify: $ours"

if systemd-analyze security --help 2>&1 | grep -q -- '--offline'; then
  # Exposure 0-100 (shown as 0.0-10.0): the unit scores 31; dropping three
  # of its protections reaches 35.
  systemd-analyze security --offline=yes --threshold=33 "$TMP/sipwarden-agent.service" \
    >"$TMP/security" 2>&1 ||
    e2e_fail "hardening weakened: $(tail -1 "$TMP/security")"
fi

e2e_log "systemd-analyze verify packaging/systemd/sipwarden-controller.service"
exec_start='ExecStart=/usr/local/bin/sipwarden-controller --config /etc/sipwarden/controller.yaml'
grep -qxF "$exec_start" "$CUNIT" || e2e_fail "the controller unit's ExecStart is not '$exec_start'"
ln -s "$CONTROLLER" "$TMP/sipwarden-controller"
sed "s|^ExecStart=/usr/local/bin/sipwarden-controller |ExecStart=$TMP/sipwarden-controller |" \
  "$CUNIT" >"$TMP/sipwarden-controller.service"
out=$(systemd-analyze verify --man=no "$TMP/sipwarden-controller.service" 2>&1) ||
  e2e_fail "systemd-analyze verify (controller) failed: $out"
ours=$(grep -F "sipwarden-controller.service" <<<"$out" || true)
[ -z "$ours" ] || e2e_fail "systemd-analyze verify: $ours"
if systemd-analyze security --help 2>&1 | grep -q -- '--offline'; then
  # The controller needs no privilege: it scores 12 (1.2).
  systemd-analyze security --offline=yes --threshold=20 "$TMP/sipwarden-controller.service" \
    >"$TMP/security" 2>&1 ||
    e2e_fail "controller hardening weakened: $(tail -1 "$TMP/security")"
fi

if [ -n "$skip" ]; then
  echo "$skip" >&2
  exit 77
fi
e2e_finish
