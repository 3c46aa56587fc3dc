#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Every VM: the lab addressing of vagrant/Vagrantfile. Vagrant has put the
# IPv4 address on each lab interface; sw-vm-net.service adds the IPv6
# addresses, the attacker's extra addresses and the routes through the proxy
# (or, on the proxy, the SIP addresses on lo and forwarding), at every boot.
# shellcheck source=common.sh
. "${SW_SRC:-/vagrant-src}/vagrant/provision/common.sh"

write_file "$SW_CONF_DIR/net.env" <<CONF
# Lab addressing of this VM, from vagrant/Vagrantfile (re-provisioning overwrites it).
SW_ROLE=$SW_ROLE
SW_NET=${SW_NET:-}
SW_HOST=${SW_HOST:-}
SW_EXTRA_HOSTS="${SW_EXTRA_HOSTS:-}"
SW_PROXY_NETS="${SW_PROXY_NETS:-}"
SW_SIP4=${SW_SIP4:?}
SW_SIP6=${SW_SIP6:?}
CONF

install_helper sw-vm-net
write_unit sw-vm-net.service <<UNIT
[Unit]
Description=sipwarden lab addressing ($SW_ROLE): IPv6, routes through the proxy, forwarding
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
RemainAfterExit=yes
EnvironmentFile=$SW_CONF_DIR/net.env
ExecStart=$SW_HELPER_DIR/sw-vm-net

[Install]
WantedBy=multi-user.target
UNIT
reload_units
systemctl enable -q sw-vm-net.service
systemctl restart sw-vm-net.service
log "addresses: $(ip -o addr show scope global | awk '$4 ~ /^(10\.61\.|fd00:61:)/ { printf "%s %s  ", $2, $4 }')"
