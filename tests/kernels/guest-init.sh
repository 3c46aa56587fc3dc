#!/usr/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# /init of the kernel tier's guest (a busybox initramfs, see run_kernel_test.sh):
# mounts what the tests need, runs the bpf tier and the agent smoke test
# against the guest's kernel, prints one marker line per stage for the host
# to read from the serial console, and powers off.
export PATH=/usr/local/bin:/usr/bin:/usr/sbin:/bin:/sbin
export SW_CORPUS_DIR=/sw/corpus
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /dev/shm
mount -t bpf bpf /sys/fs/bpf
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
ulimit -l unlimited 2>/dev/null
echo; echo "SW-GUEST-UP $(uname -r)"

arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^$1=//p" | tail -1; }
finish() { echo "SW-GUEST-DONE"; sync; poweroff -f; }
[ "$(arg sw.mode)" = probe ] && finish

for m in /lib/modules/sw/*.ko; do
  [ -e "$m" ] && { insmod "$m" || echo "SW-NOTE insmod $m failed"; }
done
ip link set lo up
hostname sw-kernel-guest

# stage NAME CMD...: runs CMD with its output on the console, then the marker.
stage() {
  name=$1
  shift
  echo "SW-STAGE-BEGIN $name"
  start=$(date +%s%N)
  "$@" </dev/null 2>&1
  rc=$?
  end=$(date +%s%N)
  echo "SW-STAGE-END $name rc=$rc ms=$(( (end - start) / 1000000 ))"
}
filter=$(arg sw.gtest_filter)
# The differential test's first 25,000 generated messages (of the host's
# 100,000, same seed): under TCG each 10,000 cost the guest about 5 s.
stage bpf env SW_DIFF_COUNT=25000 /sw/bin/sw_bpf_test --gtest_brief=1 --gtest_color=no ${filter:+--gtest_filter=$filter}
# A guest under TCG runs each command several times slower than the host: the
# block entries must outlive the checks made while they hold.
stage agent env E2E_BLOCK_TTL=12 /sw/tests/e2e/agent_block_test.sh /sw/bin
finish
