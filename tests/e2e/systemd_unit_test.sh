#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The packaging of the agent and of the controller, no root needed:
# - each program accepts every key of its example (packaging/agent.yaml,
#   packaging/controller.yaml: --config FILE --version parses the flags, then
#   exits 0), refuses a missing file and an unknown key naming FILE:LINE:COL,
#   and the example documents every flag the program has;
# - systemd-analyze verify has nothing to say about each unit (run on a copy
#   whose ExecStart names the built program, since /usr/local/bin is not
#   installed here), and its hardening stays within an exposure budget.
# Exit 77 (skipped) when systemd-analyze is missing; the example checks have
# run by then.
#   systemd_unit_test.sh BIN_DIR
source "$(dirname "$0")/lib.sh"
BIN="${1:?usage: $0 BIN_DIR}"
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
BIN="$(cd "$BIN" && pwd)"
e2e_tmpdir
TMP="$E2E_TMP"

# check_example PROGRAM YAML [FLAG...]: the example against the program's
# flags; the FLAGs (offline and one-shot ones) need not be in it.
check_example() {
  local prog="$BIN/$1" yaml="$2" probe flags keys missing
  shift 2
  [ -x "$prog" ] || e2e_fail "no program at $prog"
  e2e_log "${yaml#"$SRC"/} against $(basename "$prog")'s flags"
  if probe=$("$prog" --config "$TMP/absent.yaml" --version 2>&1); then
    e2e_fail "$prog accepted a missing --config file"
  fi
  grep -qF "$TMP/absent.yaml" <<<"$probe" || e2e_fail "the missing file is not named: $probe"
  "$prog" --config "$yaml" --version >/dev/null 2>"$TMP/err" ||
    e2e_fail "$prog refuses $yaml: $(cat "$TMP/err")"
  printf 'no-such-flag: 1\n' >"$TMP/bad.yaml"
  if "$prog" --config "$TMP/bad.yaml" --version >/dev/null 2>"$TMP/err"; then
    e2e_fail "$prog accepted an unknown key"
  fi
  grep -qF "$TMP/bad.yaml:1:1: unknown flag 'no-such-flag'" "$TMP/err" ||
    e2e_fail "unknown key reported as: $(cat "$TMP/err")"
  local skip=(-e version -e config)
  for f in "$@"; do skip+=(-e "$f"); done
  flags=$( ("$prog" --help 2>&1 || true) | sed -n 's/^    --\([a-z0-9_]*\) .*/\1/p' |
    grep -vx "${skip[@]}" | sort -u)
  [ -n "$flags" ] || e2e_fail "no flags found in $prog --help"
  keys=$(sed -n 's/^\([a-z0-9_-]*\):.*/\1/p' "$yaml" | tr - _ | sort -u)
  missing=$(comm -23 <(echo "$flags") <(echo "$keys"))
  [ -z "$missing" ] || e2e_fail "$yaml does not document: $(echo $missing)"
}

# check_unit PROGRAM MAX_EXPOSURE [LINE...]: the unit of PROGRAM runs it with
# its example config, has each LINE, passes systemd-analyze verify, and
# scores at most MAX_EXPOSURE (0-100) in systemd-analyze security.
check_unit() {
  local name="$1" max="$2" unit="$SRC/packaging/systemd/$1.service" out ours
  shift 2
  e2e_log "systemd-analyze verify packaging/systemd/$name.service"
  local exec_start="ExecStart=/usr/local/bin/$name --config /etc/sipwarden/${name#sipwarden-}.yaml"
  grep -qxF "$exec_start" "$unit" || e2e_fail "$name.service's ExecStart is not '$exec_start'"
  for line in "$@"; do
    grep -qxF "$line" "$unit" || e2e_fail "$name.service lacks $line"
  done
  ln -sf "$BIN/$name" "$TMP/$name"
  sed "s|^ExecStart=/usr/local/bin/$name |ExecStart=$TMP/$name |" "$unit" >"$TMP/$name.service"
  out=$(systemd-analyze verify --man=no "$TMP/$name.service" 2>&1) ||
    e2e_fail "systemd-analyze verify $name.service failed: $out"
  # Unknown keys and bad values are only warnings (exit 0): any line about our
  # unit is a failure. Lines about the host's other units are not ours to judge.
  ours=$(grep -F "$name.service" <<<"$out" || true)
  [ -z "$ours" ] || e2e_fail "systemd-analyze verify: $ours"
  if systemd-analyze security --help 2>&1 | grep -q -- '--offline'; then
    systemd-analyze security --offline=yes --threshold="$max" "$TMP/$name.service" \
      >"$TMP/security" 2>&1 || e2e_fail "$name hardening weakened: $(tail -1 "$TMP/security")"
  fi
}

grep -qx 'keep-attached: true' "$SRC/packaging/agent.yaml" ||
  e2e_fail "agent.yaml does not set keep-attached: true"
check_example sipwarden-agent "$SRC/packaging/agent.yaml" read_pcap
check_example sipwarden-controller "$SRC/packaging/controller.yaml"

if ! command -v systemd-analyze >/dev/null; then
  echo "systemd-analyze is not installed: units not checked" >&2
  exit 77
fi
# Exposure 0-100 (shown as 0.0-10.0). The agent scores 31 (dropping three of
# its protections reaches 35); the controller, which needs no privilege, 12.
check_unit sipwarden-agent 33 'Type=simple' 'ExecReload=/bin/kill -HUP $MAINPID' \
  'Restart=on-failure' 'LimitMEMLOCK=infinity' 'ProtectSystem=strict' 'ReadWritePaths=/sys/fs/bpf'
check_unit sipwarden-controller 20 'Type=simple' 'Restart=on-failure' 'DynamicUser=yes' \
  'CapabilityBoundingSet=' 'ProtectSystem=strict'
e2e_finish
