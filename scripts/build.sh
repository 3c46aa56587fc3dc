#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Configures and builds into ${SW_BUILD_DIR:-build}. Extra args go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${SW_BUILD_DIR:-build}"
werror=OFF
[ "${CI:-}" = true ] && werror=ON
cmake -S . -B "$dir" -G Ninja -DSW_WERROR="$werror" "$@" >/dev/null
ninja -C "$dir" -j "$(nproc)"
