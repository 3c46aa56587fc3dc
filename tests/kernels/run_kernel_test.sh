#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The kernel tier: boots a Debian kernel package in QEMU with a busybox
# initramfs holding the test binaries and their libraries, and runs the bpf
# tier and the agent smoke test (tests/e2e/agent_block_test.sh) against that
# kernel's verifier and XDP.
#
#   run_kernel_test.sh BIN_DIR PACKAGE_REGEX
#
# PACKAGE_REGEX picks the kernel: the newest package whose name matches
# (sort -V), so the test follows Debian's updates. Packages are fetched with
# apt-get download into $SW_KERNEL_CACHE (default /var/cache/sipwarden/kernels)
# and kept there. KVM is used only when a guest really boots with it
# (SW_KERNEL_ACCEL=tcg|kvm forces one); otherwise TCG. SW_KERNEL_GTEST_FILTER
# narrows the bpf tier (for a quick loop). Exit 77 (skip) only where QEMU
# cannot run at all.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
BIN="$(cd "${1:?usage: $0 BIN_DIR PACKAGE_REGEX}" && pwd)"
REGEX="${2:?usage: $0 BIN_DIR PACKAGE_REGEX}"
CACHE="${SW_KERNEL_CACHE:-/var/cache/sipwarden/kernels}"
TIMEOUT="${SW_KERNEL_TIMEOUT:-900}"

log() { echo "[kernels $(date +%T)] $*" >&2; }
fail() { log "FAIL: $*"; exit 1; }
skip() { log "SKIP: $*"; exit 77; }

QEMU=$(command -v qemu-system-x86_64 || true)
[ -n "$QEMU" ] || skip "qemu-system-x86_64 is not installed (scripts/install-deps.sh installs qemu-system-x86)"
BUSYBOX=$(command -v busybox || true)
# (not `busybox --list | grep -q`: grep leaving early can kill busybox with
# SIGPIPE, which pipefail turns into a failure)
[ -n "$BUSYBOX" ] && grep -qx poweroff <("$BUSYBOX" --list) || fail "busybox (static) with poweroff is needed"
[ "$(id -u)" -eq 0 ] || skip "needs root (apt-get download into $CACHE)"

# The newest package whose name matches.
PKG=$(apt-cache pkgnames linux-image- | grep -E "^(${REGEX})\$" | sort -V | tail -1 || true)
[ -n "$PKG" ] || fail "no kernel package matches ^(${REGEX})\$ (apt-get update?)"
mkdir -p "$CACHE"
DEB=$(ls "$CACHE/${PKG}"_*.deb 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$DEB" ]; then
  log "downloading $PKG"
  (cd "$CACHE" && apt-get download -q -o APT::Sandbox::User=root "$PKG" >&2) || fail "apt-get download $PKG"
  DEB=$(ls "$CACHE/${PKG}"_*.deb | sort -V | tail -1)
fi
KDIR="$CACHE/x/$(basename "$DEB" .deb)"
if [ ! -e "$KDIR/.done" ]; then
  rm -rf "$KDIR"
  mkdir -p "$KDIR"
  dpkg-deb -x "$DEB" "$KDIR"
  touch "$KDIR/.done"
fi
VMLINUZ=$(ls "$KDIR"/boot/vmlinuz-* | head -1)
KVER=$(dpkg-deb -f "$DEB" Version)
log "kernel $PKG $KVER"

WORK=$(mktemp -d /tmp/sw-kernels.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
ROOT="$WORK/root"
# Debian 12's layout: /lib and /lib64 are links into /usr (merged /usr).
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,usr/lib/modules/sw,usr/lib64,proc,sys,dev,tmp,run,etc}
mkdir -p "$ROOT"/sw/{bin,tests/e2e}
ln -s usr/lib "$ROOT/lib"
ln -s usr/lib64 "$ROOT/lib64"

# copy_with_libs FILE DEST: FILE at DEST, and every shared library it needs
# at its own path.
copy_with_libs() {
  install -D -m 0755 "$1" "$ROOT/$2"
  ldd "$1" 2>/dev/null | grep -o '/[^ ]*' | while read -r lib; do
    local real
    real=$(readlink -f "$lib")
    [ -e "$ROOT$lib" ] && continue
    install -D -m 0755 "$real" "$ROOT$real"
    # A path through a link (/lib -> usr/lib) is there now; others get a link.
    [ -e "$ROOT$lib" ] || { mkdir -p "$(dirname "$ROOT$lib")"; ln -s "$real" "$ROOT$lib"; }
  done
}

cp "$BUSYBOX" "$ROOT/bin/busybox"
for applet in $("$BUSYBOX" --list); do
  [ -e "$ROOT/bin/$applet" ] || ln -s busybox "$ROOT/bin/$applet"
done
# What the agent smoke test's bash script uses, from the host (busybox's
# date lacks %N, its ip lacks netns).
for tool in bash env date mktemp grep cut head tail ls cat sleep mount umount \
            timeout id rm mkdir tr sed wc sort ip; do
  path=$(command -v "$tool") || fail "$tool not found"
  copy_with_libs "$(readlink -f "$path")" "usr/bin/$tool"
done
for prog in sw_bpf_test sipwarden-agent sipwardenctl sw-sipsend; do
  [ -x "$BIN/$prog" ] || fail "$BIN/$prog not built"
  copy_with_libs "$BIN/$prog" "sw/bin/$prog"
done
cp "$REPO/tests/e2e/lib.sh" "$REPO/tests/e2e/agent_block_test.sh" "$ROOT/sw/tests/e2e/"
# The bpf tier's differential test reads the corpus's SIP messages
# (SW_CORPUS_DIR=/sw/corpus in the guest: the build's path may lie under a
# directory the guest mounts over, such as /tmp).
mkdir -p "$ROOT/sw/corpus"
cp -r "$REPO/tests/data/corpus/rfc4475" "$REPO/tests/data/corpus/rfc5118" "$ROOT/sw/corpus/"
install -m 0755 "$HERE/guest-init.sh" "$ROOT/init"
# veth, the agent smoke test's link (a module in Debian's cloud kernels).
for mod in veth; do
  ko=$(find "$KDIR/lib/modules" -name "$mod.ko*" | head -1)
  [ -n "$ko" ] || continue
  case "$ko" in
    *.xz) xz -dc "$ko" >"$ROOT/usr/lib/modules/sw/$mod.ko" ;;
    *.zst) zstd -dc "$ko" >"$ROOT/usr/lib/modules/sw/$mod.ko" ;;
    *) cp "$ko" "$ROOT/usr/lib/modules/sw/$mod.ko" ;;
  esac
done
echo "root:x:0:0:root:/:/bin/sh" >"$ROOT/etc/passwd"
echo "root:x:0:" >"$ROOT/etc/group"
(cd "$ROOT" && find . | "$BUSYBOX" cpio -o -H newc 2>/dev/null | gzip -1) >"$WORK/initrd.gz"
log "initramfs $(du -h "$WORK/initrd.gz" | cut -f1)"

# boot ACCEL MODE LOG: runs the guest; the serial console goes to LOG.
boot() {
  local append="console=ttyS0 panic=-1 oops=panic loglevel=4 rdinit=/init sw.mode=$2"
  [ -n "${SW_KERNEL_GTEST_FILTER:-}" ] && append+=" sw.gtest_filter=$SW_KERNEL_GTEST_FILTER"
  local t=$TIMEOUT
  [ "$2" = probe ] && t=60
  timeout --foreground -k 5 "$t" "$QEMU" -accel "$1" -cpu max -smp 2 -m 2048 \
    -kernel "$VMLINUZ" -initrd "$WORK/initrd.gz" -append "$append" \
    -nographic -no-reboot -monitor none -serial stdio -nic none </dev/null >"$3" 2>&1
}

ACCEL="${SW_KERNEL_ACCEL:-}"
if [ -z "$ACCEL" ]; then
  ACCEL=tcg
  if [ -w /dev/kvm ]; then
    if boot kvm probe "$WORK/probe.log" && grep -q SW-GUEST-DONE "$WORK/probe.log"; then
      ACCEL=kvm
    else
      log "KVM did not boot a guest here ($(grep -m1 -i -e error -e abort "$WORK/probe.log" || echo no output)); using TCG"
    fi
  fi
fi
log "booting under $ACCEL"
START=$(date +%s)
boot "$ACCEL" test "$WORK/console.log" || log "qemu exited with $?"
tr -d '\r' <"$WORK/console.log" | sed 's/^/  | /' >&2
ELAPSED=$(( $(date +%s) - START ))
CON=$(tr -d '\r' <"$WORK/console.log")
grep -q '^SW-GUEST-UP' <<<"$CON" || fail "the guest did not boot ($ELAPSED s)"
GUEST_KERNEL=$(sed -n 's/^SW-GUEST-UP //p' <<<"$CON" | head -1)
grep -q '^SW-GUEST-DONE' <<<"$CON" || fail "the guest did not finish within ${TIMEOUT} s"
rc=0
for s in bpf agent; do
  line=$(grep "^SW-STAGE-END $s " <<<"$CON" || true)
  [ -n "$line" ] || { log "stage $s did not run"; rc=1; continue; }
  log "$s: $line"
  grep -q ' rc=0 ' <<<"$line" || rc=1
done
log "kernel $GUEST_KERNEL ($PKG $KVER), $ACCEL, ${ELAPSED} s: $([ $rc = 0 ] && echo PASS || echo FAIL)"
exit $rc
