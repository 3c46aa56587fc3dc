# SPDX-License-Identifier: BSD-2-Clause
# Sourced by the provisioning scripts of vagrant/Vagrantfile: the settings
# the Vagrantfile passes as environment, and small helpers. Not executable.
# shellcheck shell=bash
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

: "${SW_SRC:=/vagrant-src}" "${SW_ROLE:?SW_ROLE is set by the Vagrantfile}"
# shellcheck disable=SC2034  # used by the scripts that source this file
{
  SW_BIN_DIR=/usr/local/bin        # sipwarden's programs, installed by build.sh
  SW_HELPER_DIR=/usr/local/sbin    # the helpers of vagrant/provision/bin/
  SW_CONF_DIR=/etc/sipwarden-vm    # settings of the helpers and units
  SW_SCENARIOS=$SW_SRC/tools/lab/scenarios   # the lab's sipp scenarios
}

log() { echo "provision[$SW_ROLE]: $*" >&2; }
die() { echo "provision[$SW_ROLE]: ERROR: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (Vagrant's shell provisioner does)"
[ -d "$SW_SRC/vagrant/provision" ] || die "$SW_SRC is not the synced source tree (vagrant rsync?)"

# apt_install PACKAGE...: Debian packages, after one 'apt-get update' per boot.
apt_install() {
  if [ ! -e /run/sw-vm-apt-updated ]; then
    log "apt-get update"
    apt-get update -qq
    touch /run/sw-vm-apt-updated
  fi
  log "installing $*"
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# install_helper NAME: vagrant/provision/bin/NAME -> /usr/local/sbin/NAME
install_helper() {
  install -m 0755 "$SW_SRC/vagrant/provision/bin/$1" "$SW_HELPER_DIR/$1"
}

# write_file PATH < CONTENT: writes PATH (mode 0644), creating its folder.
write_file() {
  mkdir -p "$(dirname "$1")"
  cat >"$1.tmp"
  chmod 0644 "$1.tmp"
  mv -f "$1.tmp" "$1"
}

# write_unit NAME < CONTENT: a systemd unit under /etc/systemd/system.
write_unit() {
  write_file "/etc/systemd/system/$1"
  SW_UNITS_CHANGED=1
}
SW_UNITS_CHANGED=0
reload_units() {
  [ "$SW_UNITS_CHANGED" = 0 ] || systemctl daemon-reload
  SW_UNITS_CHANGED=0
}

# wait_for SECONDS CMD...: polls CMD every half second.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.5
  done
}

# udp_listening ADDR PORT
udp_listening() { ss -Hlun "sport = :$2" | grep -qF "$1:$2"; }

# install_pending_service NAME DESCRIPTION ARGS: a unit for a program this
# tree does not build yet (sipwarden-controller, sipwarden-honeypot). The unit
# is enabled, but systemd skips it (ConditionFileIsExecutable) until the build
# provisioner installs /usr/local/bin/NAME; nothing stands in for it.
install_pending_service() {
  local name=$1 desc=$2 args=$3 var
  var=SW_$(echo "${name#sipwarden-}" | tr '[:lower:]' '[:upper:]')_ARGS
  write_file "$SW_CONF_DIR/${name#sipwarden-}.env" <<CONF
# $name.service arguments (vagrant/provision/$SW_ROLE.sh writes this file;
# re-provisioning overwrites it). Flags as in sipwarden-agent --help (README.md).
$var="$args"
CONF
  write_unit "$name.service" <<UNIT
[Unit]
Description=$desc (starts only once $SW_BIN_DIR/$name exists)
Requires=sw-vm-net.service
After=sw-vm-net.service
ConditionFileIsExecutable=$SW_BIN_DIR/$name

[Service]
Type=simple
EnvironmentFile=$SW_CONF_DIR/${name#sipwarden-}.env
StateDirectory=$name
ExecStart=$SW_BIN_DIR/$name \$$var
Restart=on-failure
RestartSec=3

[Install]
WantedBy=multi-user.target
UNIT
  reload_units
  systemctl enable -q "$name.service"
  systemctl restart "$name.service"
  if [ -x "$SW_BIN_DIR/$name" ]; then
    log "$name.service: $(systemctl is-active "$name.service")"
  else
    log "NOTE: this tree does not build $name yet. $name.service is installed and"
    log "NOTE: enabled but skipped by systemd (condition failed) until $SW_BIN_DIR/$name"
    log "NOTE: exists; once it does: vagrant rsync && vagrant provision $SW_ROLE --provision-with build"
  fi
}
