#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The proxy: sipwarden-agent with XDP on the lab interfaces, receiving
# Kamailio's HEPv3 mirror on 127.0.0.1:9060, and Kamailio 5.6 (Debian's) as
# registrar and proxy with the lab's own tools/lab/kamailio/kamailio.cfg, read
# from the synced tree. Both run as systemd units written here.
# shellcheck source=common.sh
. "${SW_SRC:-/vagrant-src}/vagrant/provision/common.sh"

KAM_CFG=$SW_SRC/tools/lab/kamailio/kamailio.cfg
AGENT=$SW_BIN_DIR/sipwarden-agent
LOG_DIR=/var/log/sipwarden
HEP=127.0.0.1:9060

[ -x "$AGENT" ] || die "$AGENT missing: the build provisioner did not install it"
[ -x "$SW_BIN_DIR/sipwardenctl" ] || die "$SW_BIN_DIR/sipwardenctl missing"
command -v kamailio >/dev/null || die "kamailio not installed (scripts/install-deps.sh installs it)"
command -v bpftool >/dev/null || die "bpftool not installed (scripts/install-deps.sh installs it)"
[ -f "$KAM_CFG" ] || die "$KAM_CFG not found in the synced tree"

kam_modules=""
for d in /usr/lib/*/kamailio/modules /usr/lib/kamailio/modules; do
  [ -f "$d/siptrace.so" ] && { kam_modules=$d; break; }
done
[ -n "$kam_modules" ] || die "Kamailio's modules (siptrace.so) not found"
kam_user=root
getent passwd kamailio >/dev/null && kam_user=kamailio
log "$(kamailio -v 2>&1 | sed -n 1p); modules in $kam_modules; runs as $kam_user"
kamailio -c -f "$KAM_CFG" -L "$kam_modules" >/tmp/sw-kamailio-check.log 2>&1 ||
  { tail -n 20 /tmp/sw-kamailio-check.log >&2; die "kamailio -c refused $KAM_CFG"; }

# ---- the agent ---------------------------------------------------------------
write_file "$SW_CONF_DIR/agent.env" <<CONF
# sipwarden-agent.service settings (vagrant/provision/proxy.sh writes this file;
# re-provisioning overwrites it). sw-agent-start attaches the agent to the
# interfaces holding 10.61.N.1 for each N in SW_AGENT_NETS.
SW_AGENT_NETS="${SW_AGENT_NETS:?}"
SW_AGENT_ARGS="--xdp-mode auto --hep-listen $HEP --alarms-out $LOG_DIR/alarms.jsonl --events-out $LOG_DIR/events.jsonl --stats-interval 60"
# Passed as --controller only once the agent has that flag.
SW_CONTROLLER=${SW_CONTROLLER_ADDR:?}:${SW_CONTROLLER_PORT:?}
CONF
install_helper sw-agent-start
write_unit sipwarden-agent.service <<UNIT
[Unit]
Description=sipwarden agent: XDP on the lab interfaces, HEPv3 from Kamailio on $HEP
Documentation=file://$SW_SRC/README.md
Requires=sw-vm-net.service
After=sw-vm-net.service
Before=sw-kamailio.service

[Service]
Type=simple
EnvironmentFile=$SW_CONF_DIR/agent.env
LogsDirectory=sipwarden
ExecStartPre=/bin/sh -c 'mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf'
ExecStart=$SW_HELPER_DIR/sw-agent-start
# SIGINT or SIGTERM: the agent detaches its program and unpins its maps.
KillSignal=SIGINT
TimeoutStopSec=20
Restart=on-failure
RestartSec=3

[Install]
WantedBy=multi-user.target
UNIT

# ---- Kamailio ----------------------------------------------------------------
write_unit sw-kamailio.service <<UNIT
[Unit]
Description=Kamailio registrar and proxy of the sipwarden lab ($KAM_CFG)
Documentation=file://$SW_SRC/tools/lab/README.md
Requires=sw-vm-net.service
After=sw-vm-net.service sipwarden-agent.service

[Service]
Type=simple
User=$kam_user
Group=$kam_user
RuntimeDirectory=sw-kamailio
ExecStart=/usr/sbin/kamailio -f $KAM_CFG -L $kam_modules -Y /run/sw-kamailio -P /run/sw-kamailio/kamailio.pid -DD -E -m 64 -M 8
Restart=on-failure
RestartSec=2

[Install]
WantedBy=multi-user.target
UNIT

reload_units
systemctl enable -q sipwarden-agent.service sw-kamailio.service
log "starting sipwarden-agent"
systemctl restart sipwarden-agent.service
log "starting Kamailio"
systemctl restart sw-kamailio.service

# ---- checks --------------------------------------------------------------------
xdp_ifaces() {  # the interfaces with an XDP program attached
  ip -o link show | awk '/ xdp/ { sub(":", "", $2); sub("@.*", "", $2); print $2 }' | sort | tr '\n' ' '
}
nets_attached() {
  local n i
  for n in $SW_AGENT_NETS; do
    i=$(ip -o -4 addr show to "10.61.$n.1/32" | awk '{ print $2; exit }')
    ip -o link show dev "$i" | grep -q ' xdp' || return 1
  done
}
if ! wait_for 30 nets_attached; then
  journalctl -u sipwarden-agent.service -n 30 --no-pager >&2 || true
  die "the agent did not attach to the interfaces of networks $SW_AGENT_NETS"
fi
wait_for 10 udp_listening 127.0.0.1 9060 ||
  log "WARNING: nothing listens on $HEP: Kamailio's HEP mirror goes nowhere"
if ! wait_for 20 udp_listening "$SW_SIP4" "$SW_SIP_PORT"; then
  journalctl -u sw-kamailio.service -n 30 --no-pager >&2 || true
  die "Kamailio does not listen on $SW_SIP4:$SW_SIP_PORT"
fi
log "XDP attached to: $(xdp_ifaces)"
log "Kamailio on $SW_SIP4:$SW_SIP_PORT and [$SW_SIP6]:$SW_SIP_PORT (udp, tcp); alarms in $LOG_DIR/alarms.jsonl"
log "try: sudo sipwardenctl block list; sudo bpftool map dump pinned /sys/fs/bpf/sipwarden/sw_block_v4"
