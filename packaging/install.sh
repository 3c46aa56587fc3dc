#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Installs sipwarden from a build directory: the programs, the systemd units
# (sipwarden-agent@.service, one instance per interface, and
# sipwarden-controller.service), the default configuration and rules under
# /etc/sipwarden (files already there are kept; the new default goes beside
# them as FILE.dist), and the Prometheus and Grafana files under
# PREFIX/share/sipwarden. --destdir stages the whole tree under a directory
# (packages, tests) and runs nothing else; without it, systemd is reloaded.
#
#   packaging/install.sh [--build-dir build] [--prefix /usr/local] [--destdir DIR]
#                        [--no-reload]
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD="$SRC/build"
PREFIX=/usr/local
DESTDIR=""
RELOAD=1
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit "${1:-2}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) BUILD=${2:?--build-dir needs a directory}; shift 2 ;;
    --build-dir=*) BUILD=${1#*=}; shift ;;
    --prefix) PREFIX=${2:?--prefix needs a directory}; shift 2 ;;
    --prefix=*) PREFIX=${1#*=}; shift ;;
    --destdir) DESTDIR=${2:?--destdir needs a directory}; shift 2 ;;
    --destdir=*) DESTDIR=${1#*=}; shift ;;
    --no-reload) RELOAD=0; shift ;;
    -h|--help) usage 0 ;;
    *) echo "install.sh: unknown argument '$1'" >&2; usage ;;
  esac
done
case "$PREFIX" in /*) ;; *) echo "install.sh: --prefix must be absolute" >&2; exit 2 ;; esac
[ -z "$DESTDIR" ] || DESTDIR=$(mkdir -p "$DESTDIR" && cd "$DESTDIR" && pwd)
BIN_DIR="$BUILD/bin"
[ -d "$BIN_DIR" ] || BIN_DIR="$BUILD"
if [ -z "$DESTDIR" ] && [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: run as root (or stage with --destdir DIR)" >&2
  exit 1
fi

REQUIRED=(sipwarden-agent sipwardenctl sipwarden-controller)
OPTIONAL=(sipwarden-honeypot sipwarden-profiles)
for p in "${REQUIRED[@]}"; do
  [ -x "$BIN_DIR/$p" ] || { echo "install.sh: $BIN_DIR/$p is missing: build first (scripts/build.sh)" >&2; exit 1; }
done

say() { echo "install.sh: $*" >&2; }
# conf FILE TARGET: a configuration file, never overwriting the operator's.
conf() {
  local target="$DESTDIR$2"
  if [ -e "$target" ] && ! cmp -s "$1" "$target"; then
    install -m 0644 "$1" "$target.dist"
    say "kept $2; the new default is $2.dist"
  else
    install -m 0644 "$1" "$target"
  fi
}
# unit FILE: a systemd unit, its programs under PREFIX.
unit() {
  local name
  name=$(basename "$1")
  sed "s|/usr/local/bin/|$PREFIX/bin/|g" "$1" >"$DESTDIR/etc/systemd/system/$name"
  chmod 0644 "$DESTDIR/etc/systemd/system/$name"
}

install -d -m 0755 "$DESTDIR$PREFIX/bin" "$DESTDIR/etc/systemd/system" \
  "$DESTDIR$PREFIX/share/sipwarden/prometheus" "$DESTDIR$PREFIX/share/sipwarden/grafana"
install -d -m 0755 "$DESTDIR/etc/sipwarden"
for p in "${REQUIRED[@]}" "${OPTIONAL[@]}"; do
  [ -x "$BIN_DIR/$p" ] || continue
  install -m 0755 "$BIN_DIR/$p" "$DESTDIR$PREFIX/bin/$p"
done
unit "$SRC/packaging/systemd/sipwarden-agent@.service"
unit "$SRC/packaging/systemd/sipwarden-controller.service"
conf "$SRC/packaging/agent.yaml" /etc/sipwarden/agent.yaml
conf "$SRC/packaging/controller.yaml" /etc/sipwarden/controller.yaml
conf "$SRC/rules/default.yaml" /etc/sipwarden/rules.yaml
install -m 0644 "$SRC/packaging/prometheus/alerts.yml" "$SRC/packaging/prometheus/prometheus.yml" \
  "$DESTDIR$PREFIX/share/sipwarden/prometheus/"
install -m 0644 "$SRC/tools/grafana/sipwarden.json" "$DESTDIR$PREFIX/share/sipwarden/grafana/"
say "installed into ${DESTDIR:-/} (prefix $PREFIX)"

if [ -z "$DESTDIR" ] && [ "$RELOAD" = 1 ] && command -v systemctl >/dev/null &&
   [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  say "systemd reloaded: systemctl enable --now sipwarden-agent@eth0 (one per interface)"
fi
