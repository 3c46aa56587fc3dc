#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# docs/programs.md is what the programs' --help says today: regenerates it
# with scripts/program-docs.sh and fails on any difference.
#   programs_doc_test.sh BIN_DIR SOURCE_DIR
set -euo pipefail
BIN="${1:?usage: $0 BIN_DIR SOURCE_DIR}"
SRC=$(cd "${2:?usage: $0 BIN_DIR SOURCE_DIR}" && pwd)
fresh=$(mktemp)
trap 'rm -f "$fresh"' EXIT
"$SRC/scripts/program-docs.sh" "$BIN" >"$fresh"
[ "$(grep -c '^## ' "$fresh")" -ge 10 ] || { echo "FAIL: fewer than 10 programs documented" >&2; exit 1; }
if ! diff -u "$SRC/docs/programs.md" "$fresh" >&2; then
  echo "FAIL: docs/programs.md is out of date: run scripts/program-docs.sh > docs/programs.md" >&2
  exit 1
fi
echo "ok: docs/programs.md matches $(grep -c '^## ' "$fresh") programs' --help"
