#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The per-account profiles on labelled synthetic traffic (tools/profiles/gen):
# for each distance, the detection rate per anomaly class, the detection
# delay and the false alarms per 1000 account-days; learn and detect
# throughput (learning: the fastest of three runs) and memory per account;
# then the default detector (quadratic and
# hellinger sharing one episode per account); then the classes (run C: SPIT
# bots from their first call, a few known). Two runs: A (seed 1, 3000 accounts,
# mostly residential: the defaults were chosen on it) and B (seed 2, 2000
# accounts, many more offices and PBX trunks, other dates: not tuned on).
#   profiles_bench.sh BIN_DIR [--keep]
# Figures on stdout (bench "profiles", metrics prefixed a_ and b_), the
# tables on stderr. --keep leaves the work directory.
set -euo pipefail
bin=${1:?usage: profiles_bench.sh BIN_DIR [--keep]}
shift
keep=0
for a in "$@"; do
  case $a in
    --keep) keep=1 ;;
    *) echo "profiles_bench: unknown option '$a'" >&2; exit 2 ;;
  esac
done
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
gen=$here/../../profiles/gen
work=$(mktemp -d /tmp/swb-profiles.XXXXXX)
if [[ $keep -eq 0 ]]; then trap 'rm -rf "$work"' EXIT; else echo "profiles_bench: keeping $work" >&2; fi

# learn3 DIR: learns DIR/learn.jsonl three times (the same profiles each
# time) and keeps the stats of the fastest as DIR/learn.stats: this VM's
# neighbours make single timings vary by a third.
learn3() {
  local d=$1 i
  for i in 1 2 3; do
    "$bin/sipwarden-profiles" learn --records "$d/learn.jsonl" --out "$d/prof" \
      --config "$d/config.yaml" --stats-out "$d/learn.stats.$i" --progress=false >&2
  done
  python3 - "$d" <<'PY'
import json, shutil, sys
d = sys.argv[1]
runs = [(json.load(open("%s/learn.stats.%d" % (d, i))), i) for i in (1, 2, 3)]
speeds = [r["records_per_s"] for r, _ in runs]
print("profiles_bench: learn %s M records/s, the fastest kept" %
      " / ".join("%.2f" % (v / 1e6) for v in speeds), file=sys.stderr)
shutil.copy("%s/learn.stats.%d" % (d, max(runs, key=lambda x: x[0]["records_per_s"])[1]),
            d + "/learn.stats")
PY
}

run() {  # run LABEL GEN-ARGS...
  local label=$1
  shift
  local d=$work/$label
  echo "profiles_bench: $label: generating ($*)" >&2
  python3 "$gen" --out "$d" "$@" 2>/dev/null
  learn3 "$d"
  # every distance on its own (as if it were the only one), to compare them
  "$bin/sipwarden-profiles" detect --profiles "$d/prof" --records "$d/detect.jsonl" \
    --alarms-out "$d/alarms.jsonl" --config "$d/config.yaml" --distance all --alarm-mode each \
    --stats-out "$d/detect.stats" --progress=false >&2
  python3 "$here/eval.py" --truth "$d/truth.jsonl" --alarms "$d/alarms.jsonl" \
    --learn-stats "$d/learn.stats" --detect-stats "$d/detect.stats" --label "$label"
  # the defaults: quadratic and hellinger sharing one episode and the target
  "$bin/sipwarden-profiles" detect --profiles "$d/prof" --records "$d/detect.jsonl" \
    --alarms-out "$d/alarms-default.jsonl" --config "$d/config.yaml" \
    --stats-out "$d/detect-default.stats" --progress=false >&2
  python3 "$here/eval.py" --truth "$d/truth.jsonl" --alarms "$d/alarms-default.jsonl" \
    --learn-stats "$d/learn.stats" --detect-stats "$d/detect-default.stats" --label "$label" \
    --as default
}

run a --seed 1 --accounts 3000 --mix 70:25:5 --start 2026-03-02 --anomalies 30
run b --seed 2 --accounts 2000 --mix 50:35:15 --heavy 0.04 --start 2026-05-04 --anomalies 30

# Classes: 40 SPIT bots from their first call among 1500 accounts, 3 of them
# known (config.yaml's known_bots); the class alarms scored against the bots.
d=$work/c
echo "profiles_bench: c: generating (classes: 1500 accounts, 40 bots, 3 known)" >&2
python3 "$gen" --out "$d" --seed 3 --accounts 1500 --mix 60:30:10 --start 2026-09-07 \
  --anomalies 0 --bots 40 --known-bots 3 2>/dev/null
learn3 "$d"
"$bin/sipwarden-profiles" detect --profiles "$d/prof" --records "$d/detect.jsonl" \
  --alarms-out "$d/alarms.jsonl" --config "$d/config.yaml" \
  --stats-out "$d/detect.stats" --progress=false >&2
python3 "$here/eval.py" --truth "$d/truth.jsonl" --alarms "$d/alarms.jsonl" \
  --learn-stats "$d/learn.stats" --detect-stats "$d/detect.stats" --label c --classes
