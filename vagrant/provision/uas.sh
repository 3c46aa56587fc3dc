#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The callee: sipp with tools/lab/scenarios/uas_echo.xml on 10.61.2.10:5060,
# answering every call and echoing its RTP (port 6000), and a timer that keeps
# users 1200..1209 registered at the proxy with that contact, as 'lab up' does
# once (the proxy keeps locations in memory only; the timer re-registers them
# after the proxy restarts).
# shellcheck source=common.sh
. "${SW_SRC:-/vagrant-src}/vagrant/provision/common.sh"

apt_install sip-tester tcpdump
if [ ! -f "$SW_SCENARIOS/uas_echo.xml" ] || [ ! -f "$SW_SCENARIOS/register.xml" ]; then
  die "the lab's sipp scenarios are not in $SW_SCENARIOS"
fi
addr=${SW_UAS_ADDR:?}
port=${SW_SIP_PORT:?}
media=${SW_UAS_MEDIA_PORT:?}

write_file "$SW_CONF_DIR/uas.env" <<CONF
# sw-uas-register settings (vagrant/provision/uas.sh writes this file;
# re-provisioning overwrites it). Users FIRST..FIRST+COUNT-1, password pw<user>.
SW_SRC=$SW_SRC
SW_SIP4=${SW_SIP4:?}
SW_SIP_PORT=$port
SW_UAS_ADDR=$addr
SW_UAS_REG_PORT=${SW_UAS_REG_PORT:?}
SW_CALLEE_FIRST=${SW_CALLEE_FIRST:?}
SW_CALLEE_COUNT=${SW_CALLEE_COUNT:?}
SW_UAS_EXPIRES=600
CONF
install_helper sw-uas-register

write_unit sw-uas.service <<UNIT
[Unit]
Description=sipwarden lab callee: sipp answering on $addr:$port, RTP echo on $media
Requires=sw-vm-net.service
After=sw-vm-net.service

[Service]
Type=simple
StateDirectory=sw-uas
WorkingDirectory=/var/lib/sw-uas
ExecStart=/usr/bin/sipp -sf $SW_SCENARIOS/uas_echo.xml -i $addr -p $port -mp $media -rtp_echo -aa -nostdin -recv_timeout 600s -trace_stat -stf /var/lib/sw-uas/stats.csv -fd 60
# sipp redraws its screen on stdout.
StandardOutput=null
Restart=always
RestartSec=2

[Install]
WantedBy=multi-user.target
UNIT
write_unit sw-uas-register.service <<UNIT
[Unit]
Description=sipwarden lab callee: register users $SW_CALLEE_FIRST.. at $SW_SIP4 with contact $addr:$port
Requires=sw-vm-net.service
After=sw-vm-net.service sw-uas.service

[Service]
Type=oneshot
EnvironmentFile=$SW_CONF_DIR/uas.env
StateDirectory=sw-uas
ExecStart=$SW_HELPER_DIR/sw-uas-register
UNIT
write_unit sw-uas-register.timer <<UNIT
[Unit]
Description=sipwarden lab callee: keep users $SW_CALLEE_FIRST.. registered at the proxy

[Timer]
OnBootSec=30s
OnUnitActiveSec=2min

[Install]
WantedBy=timers.target
UNIT
reload_units
systemctl enable -q sw-uas.service sw-uas-register.timer
systemctl restart sw-uas.service
wait_for 10 udp_listening "$addr" "$port" || die "sipp does not listen on $addr:$port: $(systemctl status --no-pager sw-uas.service)"
systemctl restart sw-uas-register.timer
if systemctl start sw-uas-register.service; then
  log "callee up on $addr:$port; users registered at $SW_SIP4"
else
  log "callee up on $addr:$port; registering at $SW_SIP4 failed (proxy not up yet?): the timer retries every 2 minutes"
fi
