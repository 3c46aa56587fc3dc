#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The fleet bench: a throwaway PostgreSQL server (tests/support/pg_tmp.sh, a
# Unix socket in a temporary directory, removed afterwards), then
# sw-bench-controller --db URL: two controllers sharing it with the agents
# split between them, every figure beside one controller on SQLite measured
# in the same run. JSON lines on stdout, progress on stderr.
# Usage: fleet_bench.sh path/to/sw-bench-controller [sw-bench-controller flags]
# Exits 77 when PostgreSQL 15 is not installed.
set -euo pipefail
bench=${1:?usage: fleet_bench.sh path/to/sw-bench-controller [flags]}
shift
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
pg_tmp=$root/tests/support/pg_tmp.sh

dir=$(mktemp -d /tmp/swfleet.XXXXXX)
cleanup() { "$pg_tmp" stop "$dir" >/dev/null 2>&1 || rm -rf "$dir"; }
trap cleanup EXIT
rc=0
url=$("$pg_tmp" start "$dir") || rc=$?
if (( rc )); then
  echo "bench fleet: PostgreSQL did not start (pg_tmp.sh exit $rc)" >&2
  exit "$rc"
fi
echo "bench fleet: PostgreSQL at $url" >&2
"$bench" --db "$url" "$@" 2> >(grep --line-buffered -v "connected as" >&2)
