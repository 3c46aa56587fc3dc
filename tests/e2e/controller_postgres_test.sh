#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Two controllers sharing one real PostgreSQL server (tests/support/pg_tmp.sh:
# its own cluster in a temporary directory, a Unix socket only, removed at
# the end), and an agent with XDP on a veth that follows
# --controller C1,C2 (it connects to C1 first). Asserts:
#   1. a block made through controller 2 reaches the agent's kernel (the
#      agent is connected to controller 1) within 1 s;
#   2. controller 1 is killed (SIGKILL): the agent fails over to controller 2,
#      resumes from its version, and the next block still reaches its kernel;
#   3. the leader is killed: the other controller takes the leadership, and
#      expiry still happens (a 4 s block made before the kill is expired in
#      the shared decisions and in the other controller's table);
#   4. PostgreSQL is restarted while two writers add blocks through both
#      controllers: every block a controller acknowledged is in the database
#      afterwards, and both controllers serve again by themselves;
#   5. sipwarden-controller db check reports the shared schema.
#   controller_postgres_test.sh BIN_DIR
source "$(dirname "$0")/lib.sh"
e2e_require_root
BIN="${1:?usage: $0 BIN_DIR}"
PG_TMP="$(cd "$(dirname "$0")/../support" && pwd)/pg_tmp.sh"
[ -x /usr/lib/postgresql/15/bin/initdb ] || { echo "controller_postgres_test: no PostgreSQL 15 (apt-get install postgresql)" >&2; exit 77; }
T=$E2E_TAG
NS="sw-pg-$T" IF="swpg$((T % 10000))"
e2e_netns "$NS"
ip link add "$IF" type veth peer name swatt netns "$NS"
ip addr add 10.253.1.1/24 dev "$IF" && ip link set "$IF" up
ip -n "$NS" addr add 10.253.1.2/24 dev swatt && ip -n "$NS" link set swatt up
e2e_bpffs
e2e_tmpdir
TMP="$E2E_TMP"
PGDIR=$(mktemp -d /tmp/sw-pg-e2e.XXXXXX)
pg_cleanup() { "$PG_TMP" stop "$PGDIR" >/dev/null 2>&1 || rm -rf "$PGDIR"; }
# The controllers go first (e2e_teardown), then the server and its directory.
trap 'rc=$?; e2e_exit_reason $rc "$BASH_COMMAND"; e2e_teardown; pg_cleanup; exit $rc' EXIT
URL=$("$PG_TMP" start "$PGDIR") || e2e_fail "PostgreSQL did not start: $(tail -5 "$PGDIR/server.log" 2>/dev/null)"
BASE=$((43000 + T % 7000))
C1=127.0.0.1:$BASE H1=127.0.0.1:$((BASE + 1))
C2=127.0.0.1:$((BASE + 2)) H2=127.0.0.1:$((BASE + 3))
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

declare -A PID
start_controller() {  # start_controller 1|2
  local n=$1 listen http
  listen=$([ "$n" = 1 ] && echo "$C1" || echo "$C2")
  http=$([ "$n" = 1 ] && echo "$H1" || echo "$H2")
  "$BIN/sipwarden-controller" --listen "$listen" --http-listen "$http" --db "$URL" \
    >>"$TMP/c$n.log" 2>&1 &
  PID[$n]=$!
  E2E_PIDS+=("${PID[$n]}")
  serving() { curl -sf "http://$1/api/v1/stats" >/dev/null; }
  e2e_wait_for 15 serving "$http" || { cat "$TMP/c$n.log" >&2; e2e_fail "controller $n did not start"; }
}
api() {  # api 1|2 METHOD PATH [BODY]: prints the status code and the body
  local http
  http=$([ "$1" = 1 ] && echo "$H1" || echo "$H2")
  curl -s -o "$TMP/body" -w '%{http_code}' -X "$2" ${4:+-H 'Content-Type: application/json' -d "$4"} \
    "http://$http$3"
  printf ' '
  cat "$TMP/body"
}
block_via() {  # block_via 1|2 PREFIX TTL_SECONDS
  local out
  out=$(api "$1" POST /api/v1/blocks "{\"prefix\":\"$2\",\"ttl_seconds\":$3}")
  [[ "$out" == 201* ]] || e2e_fail "block $2 through controller $1: $out"
}
in_kernel() { "$BIN/sipwardenctl" --pin-dir "$E2E_BPFFS/a" block list | grep -q "^$1/32 "; }
leader_of() { curl -s "http://$1/metrics" | awk '$1 == "sipwarden_controller_leader" {print $2}'; }
connected_to() { grep -c "connected as proxy-a" "$TMP/agent.log" 2>/dev/null || true; }

e2e_log "PostgreSQL in $PGDIR; controllers 1 ($C1) and 2 ($C2) on it"
start_controller 1
start_controller 2
"$BIN/sipwarden-agent" --iface "$IF" --pin-dir "$E2E_BPFFS/a" --controller "$C1,$C2" \
  --agent-name proxy-a --records-out /dev/null --max-block-ttl 120s >/dev/null 2>"$TMP/agent.log" &
AGENT=$!
E2E_PIDS+=("$AGENT")
one() { [ "$(connected_to)" -ge 1 ]; }
e2e_wait_for 20 one || { cat "$TMP/agent.log" >&2; e2e_fail "the agent did not connect"; }
grep -q "connected as proxy-a .*$C1\|$C1.*connected as proxy-a" "$TMP/agent.log" ||
  e2e_log "  (agent log: $(grep "connected as" "$TMP/agent.log" | tail -1))"

# ---- 1. a block through controller 2 reaches controller 1's agent ---------------
t0=$(now_ms)
block_via 2 192.0.2.71 600
e2e_wait_for 3 in_kernel 192.0.2.71 || e2e_fail "controller 2's block never reached the agent of controller 1"
dt=$(( $(now_ms) - t0 ))
e2e_log "1. block through controller 2 in the kernel of controller 1's agent after $dt ms (polling every 100 ms)"
[ "$dt" -le 1000 ] || e2e_fail "the cross-controller block took $dt ms, more than 1 s"

# ---- 2. controller 1 dies: the agent fails over ------------------------------------
kill -KILL "${PID[1]}"
wait "${PID[1]}" 2>/dev/null || true
two() { [ "$(connected_to)" -ge 2 ]; }
e2e_wait_for 20 two || { tail -5 "$TMP/agent.log" >&2; e2e_fail "the agent did not fail over to controller 2"; }
t0=$(now_ms)
block_via 2 192.0.2.72 600
e2e_wait_for 3 in_kernel 192.0.2.72 || e2e_fail "after the fail-over the next block never reached the kernel"
e2e_log "2. controller 1 killed; the agent failed over; the next block in its kernel after $(( $(now_ms) - t0 )) ms"
in_kernel 192.0.2.71 || e2e_fail "the first block vanished in the fail-over"
grep -q "snapshot" "$TMP/agent.log" && e2e_log "  (the agent took a snapshot at controller 2)" ||
  e2e_log "  (the agent resumed from its version at controller 2: no snapshot)"

# ---- 3. the leader dies: expiry still happens --------------------------------------
start_controller 1
# Whoever leads now, kill it after making a block that expires in 4 s.
one_leader() { local l="$(leader_of "$H1")$(leader_of "$H2")"; [ "$l" = 01 ] || [ "$l" = 10 ]; }
e2e_wait_for 5 one_leader ||
  e2e_fail "not exactly one leader: controller 1 $(leader_of "$H1"), controller 2 $(leader_of "$H2")"
if [ "$(leader_of "$H2")" = 1 ]; then leader=2 other=1; else leader=1 other=2; fi
OH=$([ "$other" = 1 ] && echo "$H1" || echo "$H2")
block_via "$other" 192.0.2.73 4
kill -KILL "${PID[$leader]}"
wait "${PID[$leader]}" 2>/dev/null || true
t0=$(now_ms)
took() { [ "$(leader_of "$OH")" = 1 ]; }
e2e_wait_for 10 took || e2e_fail "controller $other did not take the leadership after controller $leader died"
e2e_log "3. leader (controller $leader) killed; controller $other leads after $(( $(now_ms) - t0 )) ms"
expired() { ! api "$other" GET /api/v1/blocks | grep -q 192.0.2.73; }
e2e_wait_for 10 expired || e2e_fail "the 4 s block never expired after the leader died: $(api "$other" GET /api/v1/blocks)"
grep -q "took the leadership" "$TMP/c$other.log" || e2e_fail "controller $other does not say it took the leadership"
e2e_log "   the 4 s block made before the kill expired at controller $other"
start_controller "$leader"

# ---- 4. PostgreSQL restarts under load ------------------------------------------
e2e_log "4. two writers block 300 prefixes through both controllers while PostgreSQL restarts"
writers=()
for w in 1 2; do
  (for i in $(seq 1 150); do
     out=$(api "$w" POST /api/v1/blocks "{\"prefix\":\"198.18.$w.$i\",\"ttl_seconds\":600}" 2>/dev/null)
     [[ "$out" == 201* ]] && echo "198.18.$w.$i/32"
     sleep 0.02
   done >"$TMP/acked.$w") &
  writers+=("$!")
done
sleep 1
"$PG_TMP" restart "$PGDIR" >/dev/null 2>&1 || e2e_fail "pg_ctl restart failed"
wait "${writers[@]}" 2>/dev/null || true
cat "$TMP"/acked.* | sort -u >"$TMP/acked"
acked=$(wc -l <"$TMP/acked")
[ "$acked" -gt 0 ] || e2e_fail "no block was acknowledged"
# Both serve again by themselves: a new block through each.
recovered() { [[ "$(api 1 POST /api/v1/blocks '{"prefix":"198.18.9.1","ttl_seconds":600}')" == 201* ]] &&
              [[ "$(api 2 POST /api/v1/blocks '{"prefix":"198.18.9.2","ttl_seconds":600}')" == 201* ]]; }
e2e_wait_for 20 recovered || e2e_fail "the controllers did not recover after PostgreSQL restarted: $(tail -3 "$TMP/c1.log")"
for n in 1 2; do
  synced() { [ "$(api "$1" GET '/api/v1/blocks?limit=100000' | grep -o '"prefix":"198\.18\.[12]\.[0-9]*/32"' | wc -l)" -ge "$acked" ]; }
  e2e_wait_for 10 synced "$n" || true
  api "$n" GET '/api/v1/blocks?limit=100000' | grep -o '198\.18\.[12]\.[0-9]*/32' | sort -u >"$TMP/stored.$n"
  missing=$(comm -23 "$TMP/acked" "$TMP/stored.$n" | wc -l)
  [ "$missing" -eq 0 ] || e2e_fail "controller $n lacks $missing acknowledged blocks: $(comm -23 "$TMP/acked" "$TMP/stored.$n" | head -3)"
done
refused=$(( 300 - acked ))
e2e_log "   $acked blocks acknowledged ($refused refused during the outage with an error), none lost at either controller; both serve again"
grep -q "198.18.9.1" <(api 2 GET '/api/v1/blocks?limit=100000') || e2e_fail "controller 2 did not learn controller 1's block after the restart"

# ---- 5. db check --------------------------------------------------------------
out=$("$BIN/sipwarden-controller" db check --db "$URL") || e2e_fail "db check failed: $out"
[[ "$out" == *"(up to date)"*"shared (PostgreSQL)"* ]] || e2e_fail "db check said: $out"
e2e_log "5. db check: $out"
e2e_finish
