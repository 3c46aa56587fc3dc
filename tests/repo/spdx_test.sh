#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Every source file (C, C++, BPF C, shell, Python, and any script with a
# #! line) carries an SPDX-License-Identifier line near its top, and the
# licence files it names are in the repository. Third-party test data
# (tests/data/) keeps its own licences (tests/data/SOURCES.md).
#   spdx_test.sh SOURCE_DIR
set -euo pipefail
SRC=$(cd "${1:?usage: $0 SOURCE_DIR}" && pwd)
cd "$SRC"
[ -f LICENSE ] || { echo "FAIL: no LICENSE file at the root" >&2; exit 1; }
[ -f LICENSES/GPL-2.0-only.txt ] || { echo "FAIL: LICENSES/GPL-2.0-only.txt missing" >&2; exit 1; }

files() {
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files
  else
    find . -path ./build -prune -o -path './build-*' -prune -o -path ./.git -prune -o -type f -print |
      sed 's|^\./||'
  fi
}
n=0 bad=0
while IFS= read -r f; do
  case "$f" in tests/data/*) continue ;; esac
  [ -f "$f" ] || continue
  case "$f" in
    *.c|*.h|*.cc|*.cpp|*.hpp|*.sh|*.py) ;;
    *) head -c 2 "$f" | grep -q '#!' || continue ;;
  esac
  n=$((n + 1))
  line=$(head -n 3 "$f" | grep -m1 -o 'SPDX-License-Identifier: .*' || true)
  case "$line" in
    "SPDX-License-Identifier: BSD-2-Clause"|"SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)"*) ;;
    "") echo "no SPDX-License-Identifier in the first 3 lines: $f" >&2; bad=$((bad + 1)) ;;
    *) echo "unexpected licence in $f: $line" >&2; bad=$((bad + 1)) ;;
  esac
done < <(files)
[ "$n" -gt 50 ] || { echo "FAIL: only $n source files found" >&2; exit 1; }
[ "$bad" -eq 0 ] || { echo "FAIL: $bad of $n source files lack a correct SPDX line" >&2; exit 1; }
echo "ok: $n source files carry an SPDX-License-Identifier"
