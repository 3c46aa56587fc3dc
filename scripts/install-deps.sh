#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Installs everything sipwarden needs to build, test and run on Debian 12.
# Safe to re-run: apt skips what is already there.
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "install-deps.sh: run as root" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config git clang-14 llvm-14 libclang-rt-14-dev
  # kernel side
  libbpf-dev bpftool libelf-dev zlib1g-dev linux-libc-dev iproute2
  # libraries
  libabsl-dev libgtest-dev libgmock-dev libbenchmark-dev libpcap-dev libyaml-cpp-dev libre2-dev
  libsqlite3-dev libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc libssl-dev
  # the controller's mTLS test (a throwaway CA)
  openssl
  # HTTP: the agent's and the controller's /metrics and the controller's API
  # (cpp-httplib, nlohmann's JSON); prometheus and its promtool for the
  # alerting rules' check and the scrape test (tests/e2e/prometheus_test.sh)
  libcpp-httplib-dev nlohmann-json3-dev prometheus
  # benchmark baselines and test oracles
  libosip2-dev tshark sec nftables
  # the honeypot: G.711 (spandsp) and WAV recordings (libsndfile)
  libspandsp-dev libsndfile1-dev
  # the lab (tools/lab/lab): real SIP peers, attack tools, its helpers
  kamailio sip-tester sipvicious jq procps tcpdump python3
  # the kernel tier (tests/kernels): Debian kernels booted in QEMU with a busybox initramfs
  qemu-system-x86 busybox-static xz-utils
  # the Vagrant lab's check (tests/e2e/vagrant_validate_test.sh: vagrant validate, no VM)
  vagrant
  # the console's browser test (tests/e2e/console_browser_test.sh: headless Chromium driven by selenium)
  chromium chromium-driver python3-selenium curl
  # the controller's PostgreSQL store (--db postgresql://...: libpq) and its
  # tests, which run a throwaway server (tests/support/pg_tmp.sh)
  libpq-dev postgresql
)
if [ "${SW_SKIP_APT_UPDATE:-0}" != 1 ]; then
  echo "install-deps: apt-get update" >&2
  apt-get update -qq
fi
echo "install-deps: installing ${#PACKAGES[@]} packages (already installed ones are skipped)" >&2
apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
