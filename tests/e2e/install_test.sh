#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# packaging/install.sh into a temporary DESTDIR, no root needed: the tree it
# stages (programs, units with their programs under the prefix, the
# configuration, rules, Prometheus and Grafana files), that a second run
# keeps an edited configuration and puts the new default beside it, refusals
# of bad arguments, and systemd-analyze verify of the staged units (the
# agent's as an instance, sipwarden-agent@lo.service) when it is installed.
#   install_test.sh BIN_DIR
source "$(dirname "$0")/lib.sh"
BIN="$(cd "${1:?usage: $0 BIN_DIR}" && pwd)"
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
INSTALL="$SRC/packaging/install.sh"
e2e_tmpdir
D="$E2E_TMP/stage"
# install.sh takes a build directory with bin/ in it, or bin itself.
"$INSTALL" --build-dir "$BIN" --prefix /opt/sw --destdir "$D" 2>"$E2E_TMP/err" ||
  e2e_fail "install.sh failed: $(cat "$E2E_TMP/err")"

e2e_log "the staged tree"
want=(
  /opt/sw/bin/sipwarden-agent /opt/sw/bin/sipwardenctl /opt/sw/bin/sipwarden-controller
  /etc/systemd/system/sipwarden-agent@.service /etc/systemd/system/sipwarden-controller.service
  /etc/sipwarden/agent.yaml /etc/sipwarden/controller.yaml /etc/sipwarden/rules.yaml
  /opt/sw/share/sipwarden/prometheus/alerts.yml /opt/sw/share/sipwarden/prometheus/prometheus.yml
  /opt/sw/share/sipwarden/grafana/sipwarden.json
)
for f in "${want[@]}"; do [ -f "$D$f" ] || e2e_fail "install.sh did not stage $f"; done
for p in sipwarden-agent sipwardenctl sipwarden-controller; do
  [ -x "$D/opt/sw/bin/$p" ] || e2e_fail "$p is not executable"
  cmp -s "$BIN/$p" "$D/opt/sw/bin/$p" || e2e_fail "$p is not the built one"
done
[ "$(stat -c %a "$D/etc/sipwarden/agent.yaml")" = 644 ] || e2e_fail "agent.yaml mode"
cmp -s "$SRC/rules/default.yaml" "$D/etc/sipwarden/rules.yaml" || e2e_fail "rules.yaml is not rules/default.yaml"
# Nothing outside the three roots.
extra=$(cd "$D" && find . -type f | grep -v -e '^\./opt/sw/' -e '^\./etc/sipwarden/' -e '^\./etc/systemd/system/' || true)
[ -z "$extra" ] || e2e_fail "staged outside its roots: $extra"
A="$D/etc/systemd/system/sipwarden-agent@.service"
C="$D/etc/systemd/system/sipwarden-controller.service"
grep -qxF 'ExecStart=/opt/sw/bin/sipwarden-agent --config /etc/sipwarden/agent.yaml --iface %i --pin-dir /sys/fs/bpf/sipwarden-%i $SW_AGENT_ARGS' "$A" ||
  e2e_fail "the agent's unit runs: $(grep ExecStart "$A")"
grep -qxF 'ExecStart=/opt/sw/bin/sipwarden-controller --config /etc/sipwarden/controller.yaml' "$C" ||
  e2e_fail "the controller's unit runs: $(grep ExecStart "$C")"
grep -q /usr/local/bin "$A" "$C" && e2e_fail "a unit still names /usr/local/bin"
# The template keeps the single unit's hardening and environment, line for line.
while IFS= read -r line; do
  grep -qxF -- "$line" "$A" || e2e_fail "sipwarden-agent@.service lacks $line"
done < <(grep -E '^(Protect|Private|Restrict|Capability|NoNew|Memory|Lock|SystemCall|LimitMEMLOCK|ReadWrite|Environment=)' \
           "$SRC/packaging/systemd/sipwarden-agent.service")
"$D/opt/sw/bin/sipwarden-agent" --config "$D/etc/sipwarden/agent.yaml" --version >/dev/null 2>&1 ||
  e2e_fail "the staged agent refuses the staged agent.yaml"
"$D/opt/sw/bin/sipwarden-controller" --config "$D/etc/sipwarden/controller.yaml" --version >/dev/null 2>&1 ||
  e2e_fail "the staged controller refuses the staged controller.yaml"

e2e_log "a second run keeps an edited configuration"
echo "# edited by the operator" >>"$D/etc/sipwarden/agent.yaml"
"$INSTALL" --build-dir "$BIN" --prefix /opt/sw --destdir "$D" 2>"$E2E_TMP/err" || e2e_fail "second run failed"
grep -q "edited by the operator" "$D/etc/sipwarden/agent.yaml" || e2e_fail "install.sh overwrote an edited agent.yaml"
cmp -s "$SRC/packaging/agent.yaml" "$D/etc/sipwarden/agent.yaml.dist" || e2e_fail "no agent.yaml.dist beside it"
grep -q "kept /etc/sipwarden/agent.yaml" "$E2E_TMP/err" || e2e_fail "the kept file is not reported: $(cat "$E2E_TMP/err")"
[ ! -e "$D/etc/sipwarden/controller.yaml.dist" ] || e2e_fail "an unchanged controller.yaml got a .dist"

e2e_log "refusals"
"$INSTALL" --build-dir "$E2E_TMP/nothing" --destdir "$E2E_TMP/x" 2>/dev/null && e2e_fail "installed from an empty build"
"$INSTALL" --prefix relative --destdir "$E2E_TMP/x" 2>/dev/null && e2e_fail "took a relative prefix"
"$INSTALL" --bogus 2>/dev/null && e2e_fail "took an unknown argument"

if ! command -v systemd-analyze >/dev/null; then
  echo "systemd-analyze is not installed: staged units not verified" >&2
  exit 77
fi
e2e_log "systemd-analyze verify of the staged units"
# verify looks the programs up on the host: point them at the staged ones,
# and name the instance's unit file (lo exists everywhere).
U="$E2E_TMP/units"
mkdir -p "$U"
sed "s|/opt/sw/bin/|$D/opt/sw/bin/|" "$A" >"$U/sipwarden-agent@.service"
ln -s "sipwarden-agent@.service" "$U/sipwarden-agent@lo.service"
sed "s|/opt/sw/bin/|$D/opt/sw/bin/|" "$C" >"$U/sipwarden-controller.service"
for u in sipwarden-agent@lo.service sipwarden-controller.service; do
  out=$(cd "$U" && systemd-analyze verify --man=no "$U/$u" 2>&1) ||
    e2e_fail "systemd-analyze verify $u: $out"
  ours=$(grep -F -e "sipwarden-agent@" -e "sipwarden-controller" <<<"$out" | grep -v "sys-subsystem-net-devices" || true)
  [ -z "$ours" ] || e2e_fail "systemd-analyze verify $u: $ours"
done
e2e_finish
