#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Configures and builds into ${SW_BUILD_DIR:-build}. Extra args go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${SW_BUILD_DIR:-build}"
werror=OFF
ci=()
if [ "${CI:-}" = true ]; then
  werror=ON
  # CI keeps line tables (stack traces, sanitizer reports) but not full debug
  # info: a quarter less compile time for the optimised build on two cores.
  ci=(-DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG")
fi
cmake -S . -B "$dir" -G Ninja -DSW_WERROR="$werror" "${ci[@]}" "$@" >/dev/null
ninja -C "$dir" -j "$(nproc)"
