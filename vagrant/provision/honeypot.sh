#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The honeypot VM: a systemd unit for sipwarden-honeypot (SIP on
# 10.61.4.10:5060, reporting to the controller at 10.61.5.10:50051, recordings
# under /var/lib/sipwarden-honeypot). This tree does not build
# sipwarden-honeypot yet: the unit stays skipped until the build provisioner
# installs the program. Nothing pretends to be it.
# shellcheck source=common.sh
. "${SW_SRC:-/vagrant-src}/vagrant/provision/common.sh"

install_pending_service sipwarden-honeypot "sipwarden honeypot" \
  "--listen ${SW_HONEYPOT_ADDR:?}:${SW_SIP_PORT:?} --controller ${SW_CONTROLLER_ADDR:?}:${SW_CONTROLLER_PORT:?} --record-dir /var/lib/sipwarden-honeypot/records"
