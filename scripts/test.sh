#!/usr/bin/env bash
# Builds everything and runs every test tier: unit, bpf (root), e2e (root,
# network namespaces); plus the unit tier under ASan/UBSan and a bounded
# fuzzing run. Needs root (for BPF and namespaces) on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "test.sh: run as root (BPF and network namespaces)" >&2; exit 1; }
scripts/install-deps.sh
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

echo "== build (sanitizers: address, undefined) ==" >&2
SW_BUILD_DIR=build-asan scripts/build.sh -DSW_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
echo "== unit tests under ASan/UBSan ==" >&2
ctest --test-dir build-asan -L unit --output-on-failure -j "$(nproc)"

if [ -x tests/parser/run_fuzz.sh ]; then
  echo "== fuzzing the parsers (${SW_FUZZ_SECONDS:-60} s) ==" >&2
  tests/parser/run_fuzz.sh "${SW_FUZZ_SECONDS:-60}"
fi

echo "== build ==" >&2
scripts/build.sh
echo "== all tests: unit, bpf, e2e ==" >&2
ctest --test-dir build --output-on-failure
