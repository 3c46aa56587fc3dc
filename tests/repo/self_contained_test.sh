#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The repository stands alone: no tracked file refers to a folder beside the
# checkout (the development corpus or design notes that a clone does not
# have) or climbs out of the source tree from its root for data.
#   self_contained_test.sh SOURCE_DIR
set -euo pipefail
SRC=$(cd "${1:?usage: $0 SOURCE_DIR}" && pwd)

# The patterns, assembled from pieces so that this file does not match itself.
up='\.\.'
sh=shar
sh+=ed
PATTERNS=(
  "$up/$sh"                                        # the folder beside the checkout
  "/work/$sh"                                      # the development machines' path to it
  "$sh/(corpus|design|seed|hooks)"                 # its folders, however reached
  '(PROJECT_SOURCE_DIR|CMAKE_SOURCE_DIR|SRC_DIR|REPO|root)\}?/'"$up"'(/|"|$)'  # <root>/..
)
regex=$(IFS='|'; echo "${PATTERNS[*]}")

# tracked FILES: the files of the checkout (git), or every file outside
# build trees when there is no git metadata (a source tarball).
tracked() {
  if git -C "$SRC" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$SRC" ls-files -z
  else
    (cd "$SRC" && find . -path ./build -prune -o -path './build-*' -prune -o -path ./.git -prune \
       -o -type f -print0 | sed -z 's|^\./||')
  fi
}

# First, the check must catch what it is for (a test that cannot fail is no test).
probe=$(mktemp)
trap 'rm -f "$probe"' EXIT
printf 'set(X "${PROJECT_SOURCE_DIR}/%s/%s/corpus")\n' '..' "$sh" >"$probe"
grep -Eq "$regex" "$probe" || { echo "FAIL: the pattern misses a known bad reference" >&2; exit 1; }
printf 'set(X "${PROJECT_SOURCE_DIR}/tests/data/corpus")\n' >"$probe"
grep -Eq "$regex" "$probe" && { echo "FAIL: the pattern flags a good reference" >&2; exit 1; }

bad=0 n=0
while IFS= read -r -d '' f; do
  n=$((n + 1))
  [ -f "$SRC/$f" ] || continue
  # Binary test data (captures) cannot refer to anything.
  grep -Iq . "$SRC/$f" 2>/dev/null || continue
  if hits=$(grep -EnI "$regex" "$SRC/$f"); then
    while IFS= read -r h; do echo "outside the repository: $f:$h" >&2; done <<<"$hits"
    bad=$((bad + 1))
  fi
done < <(tracked)
[ "$n" -gt 50 ] || { echo "FAIL: only $n files found under $SRC" >&2; exit 1; }
[ "$bad" -eq 0 ] || { echo "FAIL: $bad file(s) refer to something outside the repository" >&2; exit 1; }
echo "ok: $n tracked files, none refers outside the repository"
