#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The controller VM: a systemd unit for sipwarden-controller (gRPC for agents
# and honeypots on 10.61.5.10:50051, web UI on :8080, SQLite DB). This tree
# does not build sipwarden-controller yet: the unit stays skipped until the
# build provisioner installs the program. Nothing pretends to be it.
# shellcheck source=common.sh
. "${SW_SRC:-/vagrant-src}/vagrant/provision/common.sh"

addr=${SW_CONTROLLER_ADDR:?}
install_pending_service sipwarden-controller "sipwarden controller" \
  "--listen $addr:${SW_CONTROLLER_PORT:?} --db /var/lib/sipwarden-controller/controller.db --http-listen $addr:${SW_CONTROLLER_HTTP_PORT:?}"
