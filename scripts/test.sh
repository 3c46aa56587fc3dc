#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Builds everything and runs every test tier, then prints one table row per
# tier (passed, failed, skipped, time) and the closing line. Every tier runs
# even when an earlier one failed; the exit status is non-zero if any failed.
#
#   scripts/test.sh               every tier
#   scripts/test.sh --quick       the unit tier only
#   scripts/test.sh TIER...       the named tiers
#
# Tiers: sanitizers (the unit tier built with ASan/UBSan), fuzz (a bounded
# libFuzzer run over the parsers, SW_FUZZ_SECONDS, default 60), unit, bpf
# (program test runs, root), e2e (network namespaces and the lab, root),
# kernels (Debian 12's kernels booted in QEMU, root). A test that cannot run
# on this machine exits 77 and is counted as skipped, with its reason.
# Needs root for the Debian packages, BPF and namespaces: re-executes itself
# through sudo where sudo exists.
set -uo pipefail
cd "$(dirname "$0")/.."

ALL_TIERS=(sanitizers fuzz unit bpf e2e kernels)
TIERS=()
for arg in "$@"; do
  case "$arg" in
    --quick) TIERS+=(unit) ;;
    -h|--help) sed -n '3,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    sanitizers|fuzz|unit|bpf|e2e|kernels) TIERS+=("$arg") ;;
    *) echo "test.sh: unknown argument '$arg' (--quick, or tiers: ${ALL_TIERS[*]})" >&2; exit 2 ;;
  esac
done
[ ${#TIERS[@]} -gt 0 ] || TIERS=("${ALL_TIERS[@]}")

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then exec sudo --preserve-env=CI,SW_FUZZ_SECONDS "$0" "$@"; fi
  echo "test.sh: run it as root (it installs Debian packages and needs BPF and network namespaces)" >&2
  exit 1
fi
scripts/install-deps.sh || { echo "test.sh: installing the Debian packages failed" >&2; exit 1; }
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

WALL_START=$(date +%s)
REPORT=$(mktemp -d /tmp/sw-test-report.XXXXXX)
ASAN_PID=
# The background build (below) is its own process group: stopped with us.
trap '[ -n "$ASAN_PID" ] && kill -- "-$ASAN_PID" 2>/dev/null; rm -rf "$REPORT"' EXIT
ROWS=()     # "tier passed failed skipped seconds note"
NOTES=()    # skip reasons and failures, one line each
banner() { echo "== $* ==" >&2; }
wants() { local t; for t in "${TIERS[@]}"; do [ "$t" = "$1" ] && return 0; done; return 1; }

# ctest_tier TIER BUILD_DIR LABEL: runs the label's tests and records the row.
ctest_tier() {
  local tier=$1 dir=$2 label=$3 start end xml="$REPORT/$1.xml" par=1
  # Unit tests are independent; the others share BPF, namespaces or QEMU.
  [ "$label" = unit ] && par=$(nproc)
  banner "$tier: ctest -L $label"
  start=$(date +%s)
  ctest --test-dir "$dir" -L "^${label}\$" --output-on-failure -j "$par" --output-junit "$xml" >&2
  end=$(date +%s)
  if [ ! -s "$xml" ]; then
    ROWS+=("$tier 0 1 0 $((end - start))")
    NOTES+=("$tier: ctest wrote no report")
    return
  fi
  local line
  line=$(python3 - "$xml" "$tier" <<'EOF'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
tier = sys.argv[2]
passed = failed = skipped = 0
notes = []
for case in root.iter("testcase"):
    name, status = case.get("name"), case.get("status")
    out = (case.findtext("system-out") or "").strip().splitlines()
    # A test's own reason is its last line that says so (or its last line).
    why = next((l for l in reversed(out) if any(w in l.lower() for w in ("skip", "not installed", "needs", "cannot"))), out[-1] if out else "")
    if status == "run":
        passed += 1
    elif status == "notrun" or case.find("skipped") is not None:
        skipped += 1
        notes.append(f"{tier}: skipped {name}: {why.strip()[:200]}")
    else:
        failed += 1
        notes.append(f"{tier}: FAILED {name}")
print(passed, failed, skipped)
for n in notes:
    print(n)
EOF
)
  ROWS+=("$tier $(head -1 <<<"$line") $((end - start))")
  while IFS= read -r n; do [ -n "$n" ] && NOTES+=("$n"); done < <(tail -n +2 <<<"$line")
}

# failed_tier TIER REASON: a tier that could not run its tests at all.
failed_tier() { ROWS+=("$1 0 1 0 0"); NOTES+=("$1: $2"); }

# The ASan/UBSan build runs in the background at idle priority (SCHED_IDLE:
# it only takes CPU nobody else wants) while the optimised build and the
# unit, bpf and e2e tiers run: the e2e tier mostly waits on its services,
# and that idle time builds most of the second tree. Its tests run after,
# in the foreground, so that nothing timed shares the CPU with them.
if wants sanitizers; then
  banner "build with ASan/UBSan (build-asan), in the background at idle priority; log at the end"
  # Its own process group (job control on for this one job), in our session:
  # not setsid, which would give it an autogroup of its own and with it an
  # equal share of the CPU whatever its policy.
  set -m
  SW_BUILD_DIR=build-asan bash -c 'chrt --idle -p 0 $$ >/dev/null 2>&1 ||
    renice -n 19 -p $$ >/dev/null 2>&1
    exec scripts/build.sh -DSW_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug' >"$REPORT/asan-build.log" 2>&1 &
  ASAN_PID=$!
  set +m
fi
sanitizers_tier() {
  local rc=0
  wait "$ASAN_PID" || rc=$?
  ASAN_PID=
  banner "build with ASan/UBSan (build-asan): its log"
  cat "$REPORT/asan-build.log" >&2
  if [ "$rc" -eq 0 ]; then
    ctest_tier sanitizers build-asan unit
  else
    failed_tier sanitizers "the ASan/UBSan build failed"
  fi
}

if wants unit || wants bpf || wants e2e || wants kernels; then
  banner "build (build)"
  if scripts/build.sh >&2; then
    for t in unit bpf e2e; do wants "$t" && ctest_tier "$t" build "$t"; done
    BUILD_OK=1
  else
    for t in unit bpf e2e kernels; do wants "$t" && failed_tier "$t" "the build failed"; done
    BUILD_OK=0
  fi
fi
wants sanitizers && sanitizers_tier
if wants fuzz; then
  banner "fuzzing the parsers (${SW_FUZZ_SECONDS:-60} s)"
  start=$(date +%s)
  if tests/parser/run_fuzz.sh "${SW_FUZZ_SECONDS:-60}" >&2; then
    ROWS+=("fuzz 1 0 0 $(( $(date +%s) - start ))")
  else
    ROWS+=("fuzz 0 1 0 $(( $(date +%s) - start ))")
    NOTES+=("fuzz: the fuzzer failed or found a crash (build-fuzz/fuzz.log)")
  fi
fi
# The kernel tier last: its QEMU guests take both cores.
if wants kernels && [ "${BUILD_OK:-0}" = 1 ]; then ctest_tier kernels build kernels; fi

# The report: one row per tier, the reasons, the closing line.
tp=0 tf=0 ts=0 tt=0
{
  echo
  printf '%-11s %7s %7s %8s %8s\n' tier passed failed skipped time
  # In the tiers' usual order, whatever order they ran in.
  for want in "${ALL_TIERS[@]}"; do
  for row in "${ROWS[@]}"; do
    read -r tier p f s secs <<<"$row"
    [ "$tier" = "$want" ] || continue
    printf '%-11s %7d %7d %8d %7ss\n' "$tier" "$p" "$f" "$s" "$secs"
    tp=$((tp + p)) tf=$((tf + f)) ts=$((ts + s)) tt=$((tt + secs))
  done
  done
  printf '%-11s %7d %7d %8d %7ss\n' total "$tp" "$tf" "$ts" "$tt"
  for n in "${NOTES[@]}"; do echo "  $n"; done
  echo "  (time: each tier's tests; the whole run took $(( $(date +%s) - WALL_START )) s with the builds)"
  echo
  echo "total: $tp passed, $tf failed, $ts skipped"
}
[ "$tf" -eq 0 ]
