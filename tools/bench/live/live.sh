#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Runs sw-bench-live (or sw-bench-agent, which takes the same flags) inside
# two network namespaces made for the run and removes them afterwards,
# whatever happens (EXIT trap):
#
#   swb-gen-<pid>  swb-tx  10.201.0.1/24  --veth--  swb-rx  10.201.0.2/24  swb-dut-<pid>
#
# and a private bpffs at /run/swb-bpffs-<pid> for the sipwarden pins.
# Nothing outside these is touched: both veth ends are created directly in
# their namespaces, sysctls are set inside them only.
#
#   live.sh path/to/sw-bench-live [sw-bench-live flags...]
#
# Needs root. Environment: SWB_LIVE_TIMEOUT (seconds, default 900) bounds the
# whole run.
set -euo pipefail

bench=${1:?usage: live.sh path/to/sw-bench-live [flags...]}
shift
for a in "$@"; do
  case $a in
    -h|--help|--helpfull) exec "$bench" "$@" ;;
  esac
done
[[ $(id -u) -eq 0 ]] || { echo "live.sh: needs root (namespaces, XDP, nftables)" >&2; exit 1; }
for cmd in ip nft timeout mount umount; do
  command -v "$cmd" >/dev/null || { echo "live.sh: '$cmd' not found" >&2; exit 1; }
done

tag=$$
gen=swb-gen-$tag
dut=swb-dut-$tag
bpffs=/run/swb-bpffs-$tag
made_ns=()
mounted=
made_dir=
child=

# shellcheck disable=SC2317  # called from the traps
cleanup() {
  local ns
  if [[ -n $child ]]; then
    kill -TERM "$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true
  fi
  for ns in "${made_ns[@]}"; do
    ip netns del "$ns" 2>/dev/null || echo "live.sh: could not remove namespace $ns" >&2
  done
  if [[ -n $mounted ]]; then umount "$bpffs" 2>/dev/null || true; fi
  if [[ -n $made_dir ]]; then rmdir "$bpffs" 2>/dev/null || true; fi
}
trap 'rc=$?; trap - EXIT; cleanup; exit $rc' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Namespaces and bpffs left by an earlier run that was killed (SIGKILL skips
# traps): ours by name, and their shell is gone.
for ns in $(ip netns list | awk '{print $1}'); do
  if [[ $ns =~ ^swb-(gen|dut)-([0-9]+)$ ]] && ! kill -0 "${BASH_REMATCH[2]}" 2>/dev/null; then
    echo "live.sh: removing stale namespace $ns" >&2
    ip netns del "$ns" || true
  fi
done
for dir in /run/swb-bpffs-*; do
  if [[ $dir =~ ^/run/swb-bpffs-([0-9]+)$ ]] && ! kill -0 "${BASH_REMATCH[1]}" 2>/dev/null; then
    echo "live.sh: removing stale $dir" >&2
    umount "$dir" 2>/dev/null || true
    rmdir "$dir" 2>/dev/null || true
  fi
done

nsexec() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

for ns in "$gen" "$dut"; do
  ip netns add "$ns"
  made_ns+=("$ns")
  ip -n "$ns" link set lo up
  # No IPv6: no router solicitations or MLD reports in the counters.
  nsexec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
# Sources of the test traffic have no route back: reverse-path filtering
# would drop them before the prerouting hook otherwise.
nsexec "$dut" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0

ip link add swb-tx netns "$gen" type veth peer name swb-rx netns "$dut"
ip -n "$gen" addr add 10.201.0.1/24 dev swb-tx
ip -n "$dut" addr add 10.201.0.2/24 dev swb-rx
ip -n "$gen" link set swb-tx up
ip -n "$dut" link set swb-rx up

mkdir "$bpffs"
made_dir=1
mount -t bpf bpf "$bpffs"
mounted=1

# In the background and waited for, so that a signal to this script runs the
# trap at once (which stops the benchmark before removing the namespaces).
timeout --kill-after=10 "${SWB_LIVE_TIMEOUT:-900}" "$bench" \
  --gen-netns "$gen" --gen-iface swb-tx --dut-netns "$dut" --dut-iface swb-rx \
  --dut-ip 10.201.0.2 --pin-dir "$bpffs/sipwarden" "$@" &
child=$!
rc=0
wait "$child" || rc=$?
child=
if [[ $rc -eq 124 || $rc -eq 137 ]]; then
  echo "live.sh: $(basename "$bench") exceeded ${SWB_LIVE_TIMEOUT:-900} s" >&2
fi
exit $rc
