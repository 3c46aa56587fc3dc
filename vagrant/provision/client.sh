#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The legitimate caller: sw-client-calls registers users 1000.. at the proxy
# and calls the callee's users 1200..1209 with G.711 media, with the lab's
# sipp scenarios; a timer runs it every 5 minutes (10 users, 5 calls), so
# the proxy always sees some legitimate traffic beside the attacks.
# shellcheck source=common.sh
. "${SW_SRC:-/vagrant-src}/vagrant/provision/common.sh"

apt_install sip-tester python3 tcpdump
if [ ! -f "$SW_SCENARIOS/uac_call.xml" ] || [ ! -f "$SW_SCENARIOS/register.xml" ]; then
  die "the lab's sipp scenarios are not in $SW_SCENARIOS"
fi

write_file "$SW_CONF_DIR/client.env" <<CONF
# sw-client-calls settings (vagrant/provision/client.sh writes this file;
# re-provisioning overwrites it). Users 1000.. have password pw<user>.
SW_SRC=$SW_SRC
SW_SIP4=${SW_SIP4:?}
SW_SIP_PORT=${SW_SIP_PORT:?}
SW_CLIENT_ADDR=${SW_CLIENT_ADDR:?}
SW_USER_FIRST=1000
SW_CALLEE_FIRST=${SW_CALLEE_FIRST:?}
SW_CALLEE_COUNT=${SW_CALLEE_COUNT:?}
CONF
install_helper sw-client-calls

write_unit sw-client-calls.service <<UNIT
[Unit]
Description=sipwarden lab client: registrations and calls through $SW_SIP4 to the callee
Requires=sw-vm-net.service
After=sw-vm-net.service

[Service]
Type=oneshot
StateDirectory=sw-client
ExecStart=$SW_HELPER_DIR/sw-client-calls --users 10 --calls 5 --rate 1 --hold 5
UNIT
write_unit sw-client-calls.timer <<UNIT
[Unit]
Description=sipwarden lab client: legitimate calls every 5 minutes

[Timer]
OnBootSec=3min
OnUnitActiveSec=5min

[Install]
WantedBy=timers.target
UNIT
reload_units
systemctl enable -q sw-client-calls.timer
systemctl restart sw-client-calls.timer
log "sw-client-calls.timer enabled; by hand: sudo sw-client-calls --users 10 --calls 5"
