#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Builds tests/parser/fuzz_parsers.cc with the sw_sip sources using clang and
# libFuzzer (+ASan +UBSan) and runs it for a bounded time over a temporary
# copy of the seed corpus. Exits non-zero when the fuzzer finds a crash.
#
#   tests/parser/run_fuzz.sh [SECONDS]      (default 60)
#
# Environment: CXX_FUZZ (default clang++-14), SW_CORPUS_DIR (default
# tests/data/corpus), SW_FUZZ_OUT (binary and crash
# artifacts; default build-fuzz/ in the project root).
set -euo pipefail

seconds="${1:-60}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
corpus_src="${SW_CORPUS_DIR:-$root/tests/data/corpus}"
cxx="${CXX_FUZZ:-clang++-14}"
out="${SW_FUZZ_OUT:-$root/build-fuzz}"

if ! command -v "$cxx" >/dev/null; then
  echo "run_fuzz.sh: $cxx not found (install clang-14 and libclang-rt-14-dev)" >&2
  exit 2
fi
if [[ ! -d "$corpus_src/rfc4475" ]]; then
  echo "run_fuzz.sh: seed corpus not found at $corpus_src" >&2
  exit 2
fi
mkdir -p "$out"

absl_flags=$(pkg-config --cflags --libs absl_strings absl_status absl_statusor absl_str_format)
echo "run_fuzz.sh: building $out/fuzz_parsers with $cxx" >&2
# shellcheck disable=SC2086
"$cxx" -std=c++20 -O1 -g -fno-omit-frame-pointer \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$root/userspace-correlator/sip/include" -I"$root/userspace-correlator/sip/src" \
  -I"$root/userspace-correlator/include" \
  "$here/fuzz_parsers.cc" "$root"/userspace-correlator/sip/src/*.cc \
  "$root/userspace-correlator/src/ip.cc" \
  $absl_flags -o "$out/fuzz_parsers"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus"
n=0
while IFS= read -r -d '' f; do
  cp "$f" "$work/corpus/seed-$n"
  n=$((n + 1))
done < <(find "$corpus_src/rfc4475" "$corpus_src/rfc5118" \
           "$corpus_src/fuzz/pjproject/fuzz-sip" "$corpus_src/fuzz/pjproject/fuzz-sip-dialog" \
           "$corpus_src/fuzz/pjproject/fuzz-sdp" "$corpus_src/fuzz/pjproject/fuzz-uri" \
           "$here/data/mgcp" -type f ! -name '*.tsv' ! -name 'SHA256SUMS' -print0)
echo "run_fuzz.sh: $n seeds, running for ${seconds}s" >&2

set +e
"$out/fuzz_parsers" "$work/corpus" -max_total_time="$seconds" -max_len=16384 \
  -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 -artifact_prefix="$out/" 2>&1 |
  tee "$out/fuzz.log" | grep -E '^(#[0-9]+.*(DONE|pulse|INITED)|==|SUMMARY|stat::|artifact_prefix|Test unit written)' >&2
rc=${PIPESTATUS[0]}
set -e
if [[ $rc -ne 0 ]]; then
  echo "run_fuzz.sh: fuzzer failed (exit $rc); see $out/fuzz.log and $out/crash-*" >&2
  exit "$rc"
fi
echo "run_fuzz.sh: no crash in ${seconds}s" >&2
