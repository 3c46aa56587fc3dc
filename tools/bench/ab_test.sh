#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Test of tools/bench/ab: the figures it reads and the ratio it computes, the
# CPUs it swaps, CPU time as opposed to wall time, and the refusals.
# Usage: ab_test.sh path/to/tools/bench/ab
set -euo pipefail

ab=${1:?usage: ab_test.sh path/to/ab}
# The first two CPUs this process may use, as ab picks them.
cpus=()
for ((c = 0; c < $(nproc --all) && ${#cpus[@]} < 2; c++)); do
  if taskset -c "$c" true 2>/dev/null; then cpus+=("$c"); fi
done
if [[ ${#cpus[@]} -lt 2 ]]; then
  echo "ab_test: needs two CPUs; skipping" >&2
  exit 77
fi
c1=${cpus[0]} c2=${cpus[1]}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() {
  echo "ab_test: FAIL: $*" >&2
  exit 1
}

# Numbers read from the output, the environment set in front of a command.
"$ab" --pairs 3 --number 'events \K[0-9.]+' "echo 'events 10'" "N=25; echo \"events \$N\" >&2" \
  >"$dir/out" 2>"$dir/err" || fail "a good run failed: $(cat "$dir/err")"
for i in 1 2 3; do
  grep -qx '{"bench":"ab","metric":"pair_'$i'","value":25,"unit":"number","baseline":"a","baseline_value":10,"ratio":2.5000}' \
    "$dir/out" || fail "pair $i's line: $(cat "$dir/out")"
done
[[ $(wc -l <"$dir/out") -eq 4 ]] || fail "not one line per pair and the median: $(cat "$dir/out")"
grep -qx '{"bench":"ab","metric":"b_over_a_median","value":2.5000,"unit":"ratio","baseline":"pairs","baseline_value":3,"ratio":null}' "$dir/out" ||
  fail "B/A of 10 and 25 is not 2.5: $(tail -n 1 "$dir/out")"
# The CPUs are swapped from one pair to the next.
grep -qF "pair 1/3: A 10 (CPU $c1), B 25 (CPU $c2)" "$dir/err" || fail "pair 1's CPUs: $(cat "$dir/err")"
grep -qF "pair 2/3: A 10 (CPU $c2), B 25 (CPU $c1)" "$dir/err" || fail "pair 2's CPUs: $(cat "$dir/err")"

# --cpu counts CPU time, not wall time: a sleep costs next to nothing beside
# a loop that computes.
busy='i=0; while ((i < 400000)); do ((i++)); done'
"$ab" --pairs 1 --cpu "$busy" "sleep 0.5" >"$dir/out" 2>"$dir/err" || fail "--cpu failed: $(cat "$dir/err")"
ratio=$(grep -oP '"b_over_a_median","value":\K[0-9.]+' "$dir/out") || fail "no median: $(cat "$dir/out")"
awk -v r="$ratio" 'BEGIN { exit !(r < 0.2) }' || fail "a sleep's CPU time is $ratio of a busy loop's"

# A's figure 0: no ratio, reported as null, and the run still ends well.
"$ab" --pairs 2 --number 'v \K[0-9]+' "echo 'v 0'" "echo 'v 3'" >"$dir/out" 2>"$dir/err" ||
  fail "a run with A at 0 failed: $(cat "$dir/err")"
grep -qx '{"bench":"ab","metric":"b_over_a_median","value":null,"unit":"ratio","baseline":"pairs","baseline_value":2,"ratio":null}' \
  "$dir/out" || fail "A at 0: $(cat "$dir/out")"

# Refusals: a failing command, no number, bad flags.
if "$ab" --pairs 2 --number 'x \K[0-9]+' "echo 'x 1'; exit 3" "echo 'x 1'" >"$dir/out" 2>"$dir/err"; then
  fail "a command that failed was accepted"
fi
grep -q "command a1 exited with 3" "$dir/err" || fail "the failure is not named: $(cat "$dir/err")"
if "$ab" --pairs 2 --number 'x \K[0-9]+' "echo 'x 1'" "echo nothing" >"$dir/out" 2>"$dir/err"; then
  fail "a command without a number was accepted"
fi
grep -q "command b1 printed no number" "$dir/err" || fail "the missing number is not named: $(cat "$dir/err")"
for bad in "--pairs 0 --cpu true true" "--cpu --number x true true" "--cpus 1,1 --cpu true true" "--cpu true"; do
  # shellcheck disable=SC2086 # the flags are words
  if "$ab" $bad >/dev/null 2>"$dir/err"; then fail "accepted: ab $bad"; fi
  [[ -s $dir/err ]] || fail "refused without a word: ab $bad"
done
echo "ab_test: PASS"
