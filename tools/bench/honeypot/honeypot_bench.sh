#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# sipwarden-honeypot under load (tools/bench/honeypot/README.md), driven by
# sipp on the loopback of a network namespace of its own (swb-hp-PID):
#
#   calls_per_s_direct     complete short calls (INVITE, 200 with SDP, ACK,
#                          BYE, 200; call.xml) per second answered by
#                          sipwarden-honeypot: sipp at increasing rates, each
#                          for --step-seconds (40: past the 32 s the
#                          honeypot keeps each transaction), the highest with
#                          >= 99 % of the calls successful (and their two
#                          INVITE hits each in the honeypot's hit log); beside
#                          Kamailio answering the same calls statelessly
#                          (stateless.cfg, sl_send_reply), measured the same
#                          way. The honeypot runs with --max-calls 4000 here
#                          (--rate-max-calls): its default, 256 calls open at
#                          once, caps it near 1,250 calls/s, as a voicemail
#                          picks up 200 ms after ringing.
#   calls_per_s_via_kamailio_cfg  the same through honeypot/kamailio.cfg in
#                          front of the honeypot (Kamailio's default 64 MB of
#                          shared memory unless --kamailio-shm).
#   honeypot_cpu_cores_at_max_rate, honeypot_rss_mib_at_max_rate
#   concurrent_calls_recorded  the largest N of --concurrent at which N
#                          simultaneous calls each playing 7.08 s of A-law
#                          (record.xml, g711a.pcap) are all answered, ended by
#                          BYE, and recorded in full (WAV and hit log, within
#                          100 ms); the honeypot's CPU and peak RSS at that N.
#   options_hits_logged_per_s  hits written to the SQLite hit log per second
#                          under an OPTIONS flood (sw-sipsend as fast as it
#                          sends for --options-seconds, at most
#                          --options-count), beside the OPTIONS sent per
#                          second; the honeypot's peak RSS after it.
#
# One JSON line per figure on stdout (docs/formats.md, "Benchmarks");
# progress on stderr. Needs root (a network namespace), sipp, kamailio,
# sqlite3, protoc, xxd and jq. Every load is bounded in count and time and
# goes only to 127.0.0.x inside the benchmark's namespace, which is removed
# at the end. Run it when nothing else loads the machine.
#   honeypot_bench.sh BIN_DIR [--step-seconds S] [--rates LIST] [--bisect N]
#       [--concurrent LIST] [--options-seconds S] [--options-count N] [--kamailio-shm MB]
#       [--kamailio-children N] [--rate-max-calls N] [--parts LIST] [--keep]
# --parts: any of direct,stateless,proxy,concurrent,options (default: all).
set -euo pipefail
usage() { sed -n '3,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; }
case ${1:-} in -h|--help|"") usage; [ -n "${1:-}" ]; exit ;; esac
BIN=$1
shift
STEP_S=40            # past the honeypot's 32 s transaction lifetime: its steady state
RATES=250,500,1000,2000,4000,8000,16000
BISECT=2
CONCURRENT=25,50,100,200,400,800
OPTIONS_SECONDS=10
OPTIONS_COUNT=3000000
KAM_SHM=64
RATE_MAX_CALLS=4000  # the honeypot's --max-calls in the rate runs (its default, 256, caps them)
KAM_CHILDREN=4
PARTS=direct,stateless,proxy,concurrent,options
KEEP=0
while [ $# -gt 0 ]; do
  case $1 in
    --step-seconds) STEP_S=${2:?}; shift 2 ;;
    --rates) RATES=${2:?}; shift 2 ;;
    --bisect) BISECT=${2:?}; shift 2 ;;
    --concurrent) CONCURRENT=${2:?}; shift 2 ;;
    --options-count) OPTIONS_COUNT=${2:?}; shift 2 ;;
    --options-seconds) OPTIONS_SECONDS=${2:?}; shift 2 ;;
    --kamailio-shm) KAM_SHM=${2:?}; shift 2 ;;
    --kamailio-children) KAM_CHILDREN=${2:?}; shift 2 ;;
    --rate-max-calls) RATE_MAX_CALLS=${2:?}; shift 2 ;;
    --parts) PARTS=${2:?}; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "honeypot_bench: unknown option $1" >&2; exit 2 ;;
  esac
done
SRC_DIR=$(cd "$(dirname "$0")/../../.." && pwd)
HERE="$SRC_DIR/tools/bench/honeypot"
log() { echo "bench honeypot: $*" >&2; }
die() { log "$*"; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (a network namespace of its own)"
for t in sipp kamailio sqlite3 protoc xxd jq ip; do
  command -v "$t" >/dev/null || die "$t is not installed"
done
for t in sipwarden-honeypot sw-sipsend; do [ -x "$BIN/$t" ] || die "$BIN/$t missing"; done
part() { [[ ",$PARTS," == *",$1,"* ]]; }
HZ=$(getconf CLK_TCK)

NS=swb-hp-$$
TMP=$(mktemp -d "${TMPDIR:-/tmp}/swb-honeypot.XXXXXX")
PIDS=()
KAM_PID=
cleanup() {
  local p
  for p in "${PIDS[@]}"; do
    kill -TERM "$p" 2>/dev/null || true
  done
  for p in "${PIDS[@]}"; do
    wait "$p" 2>/dev/null || true
  done
  # Anything still inside the benchmark's own namespace was started by it.
  for p in $(ip netns pids "$NS" 2>/dev/null); do
    kill -KILL "$p" 2>/dev/null || true
  done
  ip netns del "$NS" 2>/dev/null || true
  if [ "$KEEP" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap "exit 143" TERM INT HUP
ip netns add "$NS"
ip -n "$NS" link set lo up
in_ns() { ip netns exec "$NS" "$@"; }

# Addresses on the namespace's loopback (all of 127/8 is local there).
CALLER=127.0.0.1    # sipp
HP=127.0.0.20       # sipwarden-honeypot, port 5070
PROXY=127.0.0.10    # honeypot/kamailio.cfg, port 5060
SL=127.0.0.30       # stateless.cfg, port 5060

emit() {  # emit METRIC VALUE UNIT BASELINE BASELINE_VALUE
  jq -nc --arg m "$1" --argjson v "$2" --arg u "$3" --arg b "$4" --argjson bv "$5" '
    {bench: "honeypot", metric: $m, value: $v, unit: $u, baseline: $b, baseline_value: $bv,
     ratio: (if $bv == 0 then null else ($v / $bv * 1000 | round / 1000) end)}'
}
now_ns() { date +%s%N; }
# CPU ticks and memory of a process; 0 once it is gone.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
# alive PID: still running (not a zombie).
alive() { [ -e "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }

# stop PID: SIGTERM and wait (the honeypot writes its queued hits first);
# the PID is then forgotten, so that cleanup never signals a reused one.
stop() {
  local pid=$1 i p rest=()
  for p in "${PIDS[@]}"; do [ "$p" = "$pid" ] || rest+=("$p"); done
  PIDS=("${rest[@]}")
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# sip_up HOST:PORT: an OPTIONS answered within 10 s.
sip_up() {
  local i
  for i in $(seq 1 20); do
    if (cd "$TMP" && in_ns timeout 5 sipp "$1" -sf "$SRC_DIR/tests/data/honeypot/options.xml" -i "$CALLER" \
          -p 5099 -m 1 -timeout 2s -nostdin >/dev/null 2>&1); then
      return 0
    fi
    sleep 0.5
  done
  return 1
}

# start_honeypot DIR [FLAGS...]: sets HP_PID. (ip netns exec execs the
# program, so $! is the program itself; a shell function run with & would
# be a subshell instead.)
start_honeypot() {
  local dir=$1
  shift
  mkdir -p "$dir"
  ip netns exec "$NS" "$BIN/sipwarden-honeypot" --listen "$HP:5070" --record-dir "$dir/rec" --state-dir "$dir/state" \
    --name bench --stats-interval-s 0 "$@" >"$dir/honeypot.log" 2>&1 &
  HP_PID=$!
  PIDS+=("$HP_PID")
  sip_up "$HP:5070" || { cat "$dir/honeypot.log" >&2; die "the honeypot does not answer"; }
}

# start_kamailio DIR CFG [ARGS...]: sets KAM_PID.
start_kamailio() {
  local dir=$1 cfg=$2
  shift 2
  mkdir -p "$dir/run"
  ip netns exec "$NS" kamailio -f "$cfg" -DD -E -m "$KAM_SHM" -Y "$dir/run" -P "$dir/run/kamailio.pid" "$@" \
    >"$dir/kamailio.log" 2>&1 &
  KAM_PID=$!
  PIDS+=("$KAM_PID")
}

# The INVITE hits of a hit log, one line each: STAGE ENDED_BY FINAL_STATUS
# RECORDED_MS (fields left out of the protobuf print as "-"). The bodies are
# framed as a sipwarden.v1.HitBatch (field 1, length-delimited) and decoded
# by one protoc.
invite_hits() {
  sqlite3 -noheader "$1" "SELECT '0A' || CASE WHEN length(body) < 128 THEN printf('%02X', length(body))
      ELSE printf('%02X%02X', length(body) % 128 + 128, length(body) / 128) END || hex(body)
      FROM hits WHERE method = 'INVITE' AND length(body) < 16384 ORDER BY id" |
    tr -d '\n' | xxd -r -p |
    protoc -I "$SRC_DIR/proto" --decode=sipwarden.v1.HitBatch sipwarden/v1/honeypot.proto |
    awk '/^hits \{/ { s = "-"; e = "-"; f = "-"; r = "-"; next }
         /^  stage: / { s = $2 } /^  ended_by: / { e = $2; gsub(/"/, "", e) }
         /^  final_status: / { f = $2 } /^  recorded_ms: / { r = $2 }
         /^\}/ { print s, e, f, r }'
}

# sipp's cumulative statistics (the last line of -trace_stat): prints
# "CREATED SUCCESSFUL FAILED CALL_RATE RETRANSMISSIONS".
sipp_stats() {
  [ -s "$1" ] || { echo "0 0 0 0 0"; return; }
  awk -F';' 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    { last = $0 }
    END { n = split(last, v, ";");
          print v[col["TotalCallCreated"]] + 0, v[col["SuccessfulCall(C)"]] + 0, v[col["FailedCall(C)"]] + 0,
                v[col["CallRate(C)"]] + 0, v[col["Retransmissions(C)"]] + 0 }' "$1"
}

# ---- complete short calls per second ------------------------------------------------
# rate_step TARGET RATE: one run of --step-seconds at RATE calls/s against a
# fresh server; sets STEP_VERDICT (PASS or FAIL), STEP_ACHIEVED (successful
# calls per second), STEP_CPU and STEP_RSS (the honeypot's cores and peak
# MiB; 0 for the stateless Kamailio). Not in a subshell: the processes it
# starts stay known to cleanup.
rate_step() {
  local target=$1 rate=$2 dir="$TMP/rate-$1-$2" addr pid=0 calls=$(( $2 * STEP_S ))
  mkdir -p "$dir"
  case $target in
    direct)
      start_honeypot "$dir/hp" --max-calls "$RATE_MAX_CALLS"
      addr=$HP:5070 pid=$HP_PID ;;
    stateless)
      start_kamailio "$dir/kam" "$HERE/stateless.cfg" -A "SL_LISTEN=udp:$SL:5060" -A "SL_CHILDREN=$KAM_CHILDREN"
      addr=$SL:5060
      sip_up "$addr" || { cat "$dir/kam/kamailio.log" >&2; die "stateless Kamailio does not answer"; } ;;
    proxy)
      start_honeypot "$dir/hp" --trusted-proxy "$PROXY" --max-calls "$RATE_MAX_CALLS"
      pid=$HP_PID
      echo "1 sip:$HP:5070" >"$dir/dispatcher.list"
      start_kamailio "$dir/kam" "$SRC_DIR/honeypot/kamailio.cfg" -A "HP_LISTEN=udp:$PROXY:5060" \
        -A "HP_DISPATCHER_LIST=\"$dir/dispatcher.list\"" -A "HP_CHILDREN=$KAM_CHILDREN"
      addr=$PROXY:5060
      sip_up "$addr" || { cat "$dir/kam/kamailio.log" >&2; die "Kamailio in front of the honeypot does not answer"; } ;;
  esac
  local t0 c0=0 t1 c1=0 hwm=0
  t0=$(now_ns)
  [ "$pid" = 0 ] || c0=$(cpu_ticks "$pid")
  (cd "$dir" && in_ns timeout $(( STEP_S + 60 )) sipp "$addr" -sf "$HERE/call.xml" -s bench -i "$CALLER" -p 5061 \
     -r "$rate" -m "$calls" -timeout "$(( STEP_S + 30 ))s" -recv_timeout 5000 -nostdin \
     -trace_stat -stf "$dir/stat.csv" -fd 1 -trace_err -error_file "$dir/sipp.err" >"$dir/sipp.out" 2>&1) || true
  t1=$(now_ns)
  local crashed=0
  if [ "$pid" != 0 ]; then
    alive "$pid" || crashed=1
    c1=$(cpu_ticks "$pid")
    hwm=$(hwm_kib "$pid")
  fi
  [ -z "${KAM_PID:-}" ] || { stop "$KAM_PID"; KAM_PID=; }
  [ "$pid" = 0 ] || stop "$pid"
  local created ok failed crate retrans
  read -r created ok failed crate retrans < <(sipp_stats "$dir/stat.csv")
  local verdict=PASS why="" logged=-
  if [ "$created" -lt "$calls" ]; then verdict=FAIL why+=" only $created of $calls calls started"; fi
  if [ $(( ok * 100 )) -lt $(( created * 99 )) ]; then verdict=FAIL why+=" $failed failed"; fi
  # sipp kept the pace: its CallRate(C) (calls started over the whole run,
  # the last calls' second included) at least 95 % of the rate.
  if awk -v r="$crate" -v t="$rate" -v s="$STEP_S" 'BEGIN { exit !(r < 0.95 * t * s / (s + 1)) }'; then
    verdict=FAIL why+=" sipp reached only $crate calls/s"
  fi
  if [ "$crashed" = 1 ]; then
    verdict=FAIL why+=" the honeypot exited during the run: $(tail -3 "$dir/hp/honeypot.log" | tr '\n' ' ')"
  fi
  if [ "$pid" != 0 ]; then
    # The honeypot's hit log: two INVITE hits per call (arrived, ended).
    logged=$(sqlite3 "$dir/hp/state/hits.db" "SELECT count(*) FROM hits WHERE method = 'INVITE'")
    if [ $(( logged * 100 )) -lt $(( calls * 2 * 99 )) ]; then
      verdict=FAIL why+=" the hit log holds $logged INVITE hits for $calls calls"
    fi
  fi
  local achieved cores
  achieved=$(awk -v ok="$ok" -v c="$created" -v r="$crate" 'BEGIN { printf "%.0f", c ? ok * r / c : 0 }')
  cores=$(awk -v d="$(( c1 - c0 ))" -v hz="$HZ" -v ns="$(( t1 - t0 ))" 'BEGIN { printf "%.2f", d / hz / (ns / 1e9) }')
  log "$target ${rate}/s x ${STEP_S}s: $verdict: $ok of $created calls ok, $failed failed, sipp rate $crate/s, $retrans retransmissions$([ "$pid" = 0 ] || echo ", honeypot: $logged INVITE hits logged, $cores cores, peak RSS $(( hwm / 1024 )) MiB")${why:+ (${why# })}"
  if [ "$verdict" = FAIL ] && [ -s "$dir/sipp.err" ]; then
    log "  first sipp errors: $(grep -o "while [a-z]* [^,]*, received '[^']\{0,40\}" "$dir/sipp.err" | sort | uniq -c | sort -rn | head -3 | tr -s ' \n' ' ')"
  fi
  if [ "$verdict" = FAIL ] && [ -f "$dir/kam/kamailio.log" ] && grep -q "ERROR" "$dir/kam/kamailio.log"; then
    log "  Kamailio: $(grep -c ERROR "$dir/kam/kamailio.log") error lines, e.g. $(grep -m1 ERROR "$dir/kam/kamailio.log" | cut -c1-200)"
  fi
  STEP_VERDICT=$verdict STEP_ACHIEVED=$achieved STEP_CPU=$cores STEP_RSS=$(( hwm / 1024 ))
}

# max_rate TARGET: the ladder, then --bisect halvings between the last rate
# that passed and the first that failed. Sets MAX_ACHIEVED, MAX_CPU, MAX_RSS
# (of the highest rate that passed; 0 when none did) and MAX_RATE.
max_rate() {
  local target=$1 r lo=0 hi=0
  MAX_ACHIEVED=0 MAX_CPU=0 MAX_RSS=0
  for r in ${RATES//,/ }; do
    rate_step "$target" "$r"
    if [ "$STEP_VERDICT" = PASS ]; then
      lo=$r MAX_ACHIEVED=$STEP_ACHIEVED MAX_CPU=$STEP_CPU MAX_RSS=$STEP_RSS
    else
      hi=$r
      break
    fi
  done
  if [ "$hi" = 0 ]; then
    log "$target: passed every rate up to $lo/s (raise --rates)"
  else
    local i mid
    for (( i = 0; i < BISECT; i++ )); do
      mid=$(( (lo + hi) / 2 / 50 * 50 ))
      (( mid > lo && mid < hi )) || break
      rate_step "$target" "$mid"
      if [ "$STEP_VERDICT" = PASS ]; then
        lo=$mid MAX_ACHIEVED=$STEP_ACHIEVED MAX_CPU=$STEP_CPU MAX_RSS=$STEP_RSS
      else
        hi=$mid
      fi
    done
  fi
  MAX_RATE=$lo
  log "$target: highest rate passed $lo/s ($MAX_ACHIEVED successful calls/s); lowest failed ${hi}/s"
}

direct=0 stateless=0 proxy=0
if part stateless; then
  log "Kamailio answering statelessly (stateless.cfg, $KAM_CHILDREN children): short calls/s, ${STEP_S}s per rate"
  max_rate stateless
  stateless=$MAX_ACHIEVED
fi
if part direct; then
  log "sipwarden-honeypot alone: short calls/s, ${STEP_S}s per rate"
  max_rate direct
  direct=$MAX_ACHIEVED
  emit calls_per_s_direct "$direct" calls/s kamailio_stateless_calls_per_s "$stateless"
  emit honeypot_cpu_cores_at_max_rate "$MAX_CPU" cores none 0
  emit honeypot_rss_mib_at_max_rate "$MAX_RSS" MiB none 0
fi
if part proxy; then
  log "honeypot/kamailio.cfg ($KAM_CHILDREN children, -m $KAM_SHM) in front of the honeypot: short calls/s"
  max_rate proxy
  proxy=$MAX_ACHIEVED
  emit calls_per_s_via_kamailio_cfg "$proxy" calls/s kamailio_stateless_calls_per_s "$stateless"
fi

# ---- concurrent recorded calls ------------------------------------------------------
# conc_step N: N calls started within one second, each playing g711a.pcap;
# sets STEP_VERDICT, STEP_CPU, STEP_RSS (peak MiB) and STEP_IDLE (MiB before
# the calls).
conc_step() {
  local n=$1 dir="$TMP/conc-$1"
  mkdir -p "$dir/bot/pcap"
  cp "$SRC_DIR/tests/data/corpus/pcaps/sipp/g711a.pcap" "$dir/bot/pcap/"
  local maxc=$n
  (( maxc >= 256 )) || maxc=256   # the honeypot's default
  start_honeypot "$dir/hp" --max-calls "$maxc"
  local pid=$HP_PID idle t0 c0 t1 c1 hwm
  idle=$(rss_kib "$pid")
  t0=$(now_ns)
  c0=$(cpu_ticks "$pid")
  (cd "$dir/bot" && in_ns timeout 90 sipp "$HP:5070" -sf "$HERE/record.xml" -s bench -i "$CALLER" -mi "$CALLER" \
     -p 5061 -mp 30000 -r "$n" -rp 1000 -m "$n" -l "$n" -timeout 60s -recv_timeout 15000 -nostdin \
     -trace_stat -stf "$dir/stat.csv" -fd 1 -trace_err -error_file "$dir/sipp.err" >"$dir/sipp.out" 2>&1) || true
  t1=$(now_ns)
  local crashed=0
  alive "$pid" || crashed=1
  c1=$(cpu_ticks "$pid")
  hwm=$(hwm_kib "$pid")
  sleep 1
  stop "$pid"
  local created ok failed crate retrans
  read -r created ok failed crate retrans < <(sipp_stats "$dir/stat.csv")
  local wavs full hits_full verdict=PASS why=""
  wavs=$(find "$dir/hp/rec" -name '*.wav' 2>/dev/null | wc -l)
  # 16-bit mono 8 kHz after a 44-byte header: 16 bytes per ms.
  full=$(find "$dir/hp/rec" -name '*.wav' -printf '%s\n' 2>/dev/null |
    awk '{ ms = ($1 - 44) / 16 } ms >= 6980 && ms <= 7180' | wc -l)
  hits_full=$(invite_hits "$dir/hp/state/hits.db" |
    awk '$1 == "STAGE_ENDED" && $2 == "bye" && $3 == 200 && $4 >= 6980 && $4 <= 7180' | wc -l)
  [ "$crashed" = 0 ] || { verdict=FAIL; why+=" the honeypot exited during the run: $(tail -3 "$dir/hp/honeypot.log" | tr '\n' ' ')"; }
  [ "$ok" -eq "$n" ] || { verdict=FAIL; why+=" sipp: $ok of $n calls ok"; }
  [ "$wavs" -eq "$n" ] || { verdict=FAIL; why+=" $wavs recordings"; }
  [ "$full" -eq "$n" ] || { verdict=FAIL; why+=" $full recordings of 7080+-100 ms"; }
  [ "$hits_full" -eq "$n" ] || { verdict=FAIL; why+=" $hits_full hits ended by BYE with 7080+-100 ms"; }
  local cores
  cores=$(awk -v d="$(( c1 - c0 ))" -v hz="$HZ" -v ns="$(( t1 - t0 ))" 'BEGIN { printf "%.2f", d / hz / (ns / 1e9) }')
  log "$n concurrent calls: $verdict: sipp $ok ok, $failed failed; $wavs recordings, $full of full length; $hits_full hit-log entries ended by BYE with the full length; honeypot $cores cores over $(( (t1 - t0) / 1000000 )) ms, peak RSS $(( hwm / 1024 )) MiB (idle $(( idle / 1024 )) MiB)${why:+ (${why# })}"
  if [ "$verdict" = FAIL ]; then
    find "$dir/hp/rec" -name '*.wav' -printf '%s\n' 2>/dev/null | awk '{ print int(($1 - 44) / 16) }' |
      sort -n | uniq -c | head -5 | while read -r c ms; do log "  $c recordings of $ms ms"; done
    invite_hits "$dir/hp/state/hits.db" | awk '$1 == "STAGE_ENDED" { print $2, $3 }' | sort | uniq -c |
      while read -r c how st; do log "  $c calls ended by $how (status $st)"; done
  fi
  STEP_VERDICT=$verdict STEP_CPU=$cores STEP_RSS=$(( hwm / 1024 )) STEP_IDLE=$(( idle / 1024 ))
}

if part concurrent; then
  log "concurrent calls answered and recorded (7.08 s of A-law each)"
  best_n=0 c_cpu=0 c_rss=0 c_idle=0 tried=0
  for n in ${CONCURRENT//,/ }; do
    tried=$n
    conc_step "$n"
    [ "$STEP_VERDICT" = PASS ] || break
    best_n=$n c_cpu=$STEP_CPU c_rss=$STEP_RSS c_idle=$STEP_IDLE
  done
  emit concurrent_calls_recorded "$best_n" calls largest_n_tried "$tried"
  emit honeypot_cpu_cores_at_max_concurrent "$c_cpu" cores none 0
  emit honeypot_rss_mib_at_max_concurrent "$c_rss" MiB honeypot_rss_mib_idle "$c_idle"
fi

# ---- the hit log under an OPTIONS flood ---------------------------------------------
if part options; then
  log "hit log under an OPTIONS flood: sw-sipsend as fast as it sends for ${OPTIONS_SECONDS}s (at most $OPTIONS_COUNT)"
  dir="$TMP/options"
  start_honeypot "$dir/hp"
  pid=$HP_PID
  db="$dir/hp/state/hits.db"
  last_id() { sqlite3 "$db" "SELECT coalesce(max(id), 0) FROM hits" 2>/dev/null || echo "${1:-0}"; }
  main_ticks() { awk '{ print $14 + $15 }' "/proc/$pid/task/$pid/stat" 2>/dev/null || echo 0; }
  before=$(last_id)
  c0=$(cpu_ticks "$pid") m0=$(main_ticks)
  t0=$(now_ns)
  in_ns timeout $(( OPTIONS_SECONDS + 30 )) "$BIN/sw-sipsend" --to "$HP:5070" --method OPTIONS \
    --count "$OPTIONS_COUNT" --rate 0 --max-seconds "$OPTIONS_SECONDS" >"$dir/sipsend.log" 2>&1 || true
  t_sent=$(now_ns)
  sent=$(grep -o 'sent [0-9]*' "$dir/sipsend.log" | head -1 | awk '{ print $2 }')
  [ -n "$sent" ] || sent=0
  # Until the log has not grown for 2 s (at most 60 s).
  rows=$before last_change=$t0 stable=0
  for _ in $(seq 1 600); do
    sleep 0.1
    r=$(last_id "$rows")
    if [ "$r" != "$rows" ]; then rows=$r last_change=$(now_ns) stable=0; else stable=$(( stable + 1 )); fi
    [ "$stable" -lt 20 ] || break
  done
  crashed=0
  alive "$pid" || crashed=1
  c1=$(cpu_ticks "$pid") m1=$(main_ticks)
  hwm=$(hwm_kib "$pid")
  stop "$pid"
  [ "$crashed" = 0 ] || die "the honeypot exited during the OPTIONS flood: $(tail -3 "$dir/hp/honeypot.log")"
  logged=$(( rows - before ))
  span_ns=$(( last_change - t0 ))
  per_s=$(awk -v n="$logged" -v ns="$span_ns" 'BEGIN { printf "%.0f", (ns > 0 ? n / (ns / 1e9) : 0) }')
  sent_per_s=$(awk -v n="$sent" -v ns="$(( t_sent - t0 ))" 'BEGIN { printf "%.0f", (ns > 0 ? n / (ns / 1e9) : 0) }')
  secs() { awk -v d="$1" -v hz="$HZ" 'BEGIN { printf "%.1f", d / hz }'; }
  log "OPTIONS: $sent sent in $(( (t_sent - t0) / 1000000 )) ms ($sent_per_s/s); $logged hits logged ($(awk -v l="$logged" -v s="$sent" 'BEGIN { printf "%.1f", (s ? 100 * l / s : 0) }') %), the last $(( span_ns / 1000000 )) ms after the start ($per_s/s); honeypot CPU $(secs $(( m1 - m0 ))) s in its SIP thread, $(secs $(( c1 - c0 - m1 + m0 ))) s in the others (the hit log's); peak RSS $(( hwm / 1024 )) MiB"
  emit options_hits_logged_per_s "$per_s" hits/s options_sent_per_s "$sent_per_s"
  emit honeypot_rss_mib_after_options_flood "$(( hwm / 1024 ))" MiB none 0
fi
log "done"
