# SPDX-License-Identifier: BSD-2-Clause
# Shared helpers for the e2e tests: namespaces, a private bpffs, waiting and
# cleanup. Every test creates its own namespaces (named sw-e2e-*) and removes
# them, whatever happens, from an EXIT trap.
set -euo pipefail

E2E_TAG="${E2E_TAG:-$$}"
E2E_NETNS=()
E2E_PIDS=()
E2E_MOUNTS=()
E2E_DIRS=()

e2e_log() { echo "[e2e $(date +%T.%N | cut -c1-12)] $*" >&2; }
e2e_fail() { E2E_FAILED=1; e2e_log "FAIL: $*"; exit 1; }
# e2e_exit_reason RC: when set -e, not e2e_fail, ended the test, says which
# command did (a log must never end without a reason). For EXIT traps.
e2e_exit_reason() {
  [ "$1" -ne 0 ] && [ "$1" -ne 77 ] && [ -z "${E2E_FAILED:-}" ] &&
    e2e_log "FAIL: exit status $1 from \"$2\" (a command nothing checked)"
  return 0
}

e2e_require_root() {
  [ "$(id -u)" -eq 0 ] || { echo "this test needs root" >&2; exit 77; }
}

# Stops what the test started and removes what it made.
e2e_teardown() {
  for pid in "${E2E_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${E2E_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  for ns in "${E2E_NETNS[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  for m in "${E2E_MOUNTS[@]}"; do umount "$m" 2>/dev/null || true; done
  for d in "${E2E_DIRS[@]}"; do rm -rf "$d" 2>/dev/null || true; done
  E2E_PIDS=() E2E_NETNS=() E2E_MOUNTS=() E2E_DIRS=()
}

# Ends a passing test: tears down, then checks nothing of ours is left.
e2e_finish() {
  local made=("${E2E_NETNS[@]}")
  e2e_teardown
  for ns in "${made[@]}"; do
    ip netns list | grep -qw "$ns" && e2e_fail "namespace $ns left behind"
  done
  e2e_log "PASS"
}
trap 'rc=$?; e2e_exit_reason $rc "$BASH_COMMAND"; e2e_teardown; exit $rc' EXIT

# e2e_netns NAME: creates a namespace with loopback up.
e2e_netns() {
  ip netns add "$1"
  E2E_NETNS+=("$1")
  ip -n "$1" link set lo up
}

# e2e_veth NS_A IF_A ADDR_A NS_B IF_B ADDR_B [ADDR6_A ADDR6_B]: joins two namespaces.
e2e_veth() {
  ip link add "$2" netns "$1" type veth peer name "$5" netns "$4"
  ip -n "$1" addr add "$3" dev "$2"
  ip -n "$4" addr add "$6" dev "$5"
  if [ $# -ge 8 ]; then
    ip -n "$1" addr add "$7" dev "$2" nodad
    ip -n "$4" addr add "$8" dev "$5" nodad
  fi
  ip -n "$1" link set "$2" up
  ip -n "$4" link set "$5" up
}

# e2e_bpffs: mounts a private bpffs outside /sys (ip netns exec remounts /sys)
# at $E2E_BPFFS. Not for $(...): cleanup lists must live in this shell.
e2e_bpffs() {
  E2E_BPFFS="/run/sw-e2e-bpffs-$E2E_TAG"
  mkdir -p "$E2E_BPFFS"
  mount -t bpf bpf "$E2E_BPFFS"
  E2E_MOUNTS+=("$E2E_BPFFS")
  E2E_DIRS+=("$E2E_BPFFS")
}

# e2e_tmpdir: a scratch directory at $E2E_TMP.
e2e_tmpdir() {
  E2E_TMP=$(mktemp -d /tmp/sw-e2e.XXXXXX)
  E2E_DIRS+=("$E2E_TMP")
}

# e2e_wait_for SECONDS CMD...: polls CMD every 0.1 s until it succeeds.
e2e_wait_for() {
  local deadline=$(( $(date +%s%N) + $1 * 1000000000 ))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s%N)" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# e2e_agent NS IFACE STDOUT [ARG...]: starts $BIN/sipwarden-agent in NS on
# IFACE with its maps pinned under $PIN and the ARGs, its stdout to STDOUT
# and its stderr to $E2E_TMP/agent.err; stopped at teardown. Waits until it
# has attached (fails the test otherwise) and sets AGENT to its pid. Not for
# $(...): the pid list must live in this shell.
e2e_agent() {
  local ns=$1 iface=$2 out=$3
  shift 3
  ip netns exec "$ns" "$BIN/sipwarden-agent" --iface "$iface" --pin-dir "$PIN" "$@" \
    >"$out" 2>"$E2E_TMP/agent.err" &
  AGENT=$!
  E2E_PIDS+=("$AGENT")
  e2e_wait_for 20 grep -q "attached to $iface" "$E2E_TMP/agent.err" ||
    { cat "$E2E_TMP/agent.err" >&2; e2e_fail "agent did not attach to $iface"; }
}

# e2e_json_field JSON_LINE FIELD: the numeric value of a top-level field.
e2e_json_field() {
  grep -o "\"$2\":[0-9]*" <<<"$1" | head -1 | cut -d: -f2
}

# e2e_lab_begin NAME TOOL...: for tests that bring up the lab: sets SRC_DIR
# (the source tree) and LAB (tools/lab/lab), hands the lab the binaries of
# $BIN (SW_BIN_DIR); skips (77) when a tool is missing or a lab is up already;
# on exit takes down the lab the test made (it sets LAB_MADE=1 before 'lab
# up'), then the rest of the test's state.
e2e_lab_begin() {
  local name=$1 tool
  SRC_DIR="$(cd "$(dirname "$0")/../.." && pwd)"
  LAB="$SRC_DIR/tools/lab/lab"
  export SW_BIN_DIR="${BIN:?e2e_lab_begin: BIN is not set}"
  shift
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "$name: $tool not installed (scripts/install-deps.sh)" >&2; exit 77; }
  done
  if [ -e /run/sw-lab ] || [ -e /run/netns/sw-proxy ]; then
    echo "$name: a lab is already up on this machine; not touching it" >&2
    exit 77
  fi
  LAB_MADE=0
  trap 'rc=$?; e2e_exit_reason $rc "$BASH_COMMAND"; [ "$LAB_MADE" = 1 ] && "$LAB" down >/dev/null 2>&1; e2e_teardown; exit $rc' EXIT
}
