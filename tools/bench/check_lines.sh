# SPDX-License-Identifier: BSD-2-Clause
# Sourced by the benchmarks' smoke tests: checks that a benchmark printed
# exactly one well-formed JSON line per expected figure (docs/formats.md
# "Benchmarks") and nothing else on stdout.
#
#   check_bench_lines FILE BENCH UNIT_RE BASELINE_RE METRIC[:BASELINE_RE]...
#
# UNIT_RE and BASELINE_RE are extended regular expressions for the unit and
# (unless a metric names its own after a colon) the baseline. Prints one line
# on stderr per problem; returns 1 if there was any.
check_bench_lines() {
  local out=$1 bench=$2 unit=$3 base=$4 rc=0 mb m b re lines
  shift 4
  local num='-?[0-9.]+(e[-+]?[0-9]+)?'
  for mb in "$@"; do
    m=${mb%%:*}
    b=$base
    [[ $mb == *:* ]] && b=${mb#*:}
    re="^\\{\"bench\":\"$bench\",\"metric\":\"$m\",\"value\":$num,\"unit\":\"$unit\","
    re+="\"baseline\":\"$b\",\"baseline_value\":$num,\"ratio\":($num|null)\\}$"
    if ! grep -Eq "$re" "$out"; then
      echo "smoke_test: no well-formed line for metric $m (baseline $b)" >&2
      rc=1
    fi
  done
  lines=$(wc -l <"$out")
  if [[ $lines -ne $# ]]; then
    echo "smoke_test: expected $# lines on stdout, got $lines" >&2
    rc=1
  fi
  return $rc
}
