#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# proxy, honeypot, controller (and the attacker with SW_VAGRANT_ATTACKER_BUILD=1):
# the Debian 12 packages of scripts/install-deps.sh, then scripts/build.sh into
# /var/lib/sipwarden/build, then the programs it built into /usr/local/bin.
# Re-run after 'vagrant rsync':  vagrant provision NODE --provision-with build
# shellcheck source=common.sh
. "${SW_SRC:-/vagrant-src}/vagrant/provision/common.sh"

BUILD_DIR=/var/lib/sipwarden/build
PROGRAMS=(sipwarden-agent sipwardenctl sw-sipsend sipwarden-controller sipwarden-honeypot)

log "installing the build and lab dependencies (scripts/install-deps.sh)"
"$SW_SRC/scripts/install-deps.sh"

# install-deps pulls in Debian's kamailio, whose own service starts with the
# stock configuration on every address: the lab's Kamailio (proxy.sh) has its
# own unit, and nothing else here may answer SIP.
if [ -e /lib/systemd/system/kamailio.service ] && [ "$(systemctl is-enabled kamailio.service 2>/dev/null)" != masked ]; then
  log "stopping and masking Debian's kamailio.service"
  systemctl disable --now -q kamailio.service || true
  systemctl mask -q kamailio.service
fi

log "building with scripts/build.sh into $BUILD_DIR ($(nproc) jobs; the first build takes a while)"
mkdir -p "$(dirname "$BUILD_DIR")"
SW_BUILD_DIR=$BUILD_DIR "$SW_SRC/scripts/build.sh"

for p in "${PROGRAMS[@]}"; do
  if [ -x "$BUILD_DIR/bin/$p" ]; then
    install -m 0755 "$BUILD_DIR/bin/$p" "$SW_BIN_DIR/$p"
    log "installed $SW_BIN_DIR/$p"
  else
    log "$p: not built by this tree"
  fi
done

# A rebuild replaces the programs under running services: restart those
# enabled (the role's provisioner starts them the first time).
for unit in sipwarden-agent.service sipwarden-honeypot.service sipwarden-controller.service; do
  if systemctl is-enabled -q "$unit" 2>/dev/null; then
    log "restarting $unit"
    systemctl restart "$unit"
  fi
done
