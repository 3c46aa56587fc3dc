#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The main job on its embedded default: installs the Debian packages, builds
# sipwarden, brings up the lab (tools/lab/lab: Kamailio as registrar and
# proxy, a sipp callee, a legitimate caller, an attacker, sipwarden-agent
# with XDP on every interface of the proxy host and the built-in ruleset;
# and the fleet: sw-controller and a second proxy host, sw-proxy2, whose
# agent follows the same controller), runs legitimate registrations and
# calls, then a sequence of attacks, and shows the alarms, the kernel's
# blocks and its counters as they happen, and the blocks made at sw-proxy
# arriving in sw-proxy2's kernel.
# Removes everything it made at the end (also on failure or Ctrl-C).
# Traffic stays inside the lab's namespaces.
#
#   scripts/demo.sh            (as root; through sudo where it exists; SW_DEMO_SKIP_INSTALL=1 skips apt)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then exec sudo --preserve-env=SW_DEMO_SKIP_INSTALL "$0" "$@"; fi
  echo "demo.sh: run it as root (it installs Debian packages and needs XDP and network namespaces)" >&2
  exit 1
fi
[ "${SW_DEMO_SKIP_INSTALL:-0}" = 1 ] || scripts/install-deps.sh
echo "== building ==" >&2
scripts/build.sh
export SW_BIN_DIR="$PWD/build/bin"
LAB="$PWD/tools/lab/lab"
CTL=("$SW_BIN_DIR/sipwardenctl" --pin-dir /run/sw-lab/bpffs/sipwarden)
banner() { printf '\n\033[1m== %s ==\033[0m\n' "$*"; }

if [ -e /run/sw-lab ]; then
  echo "demo.sh: a lab is up already (tools/lab/lab down removes it)" >&2
  exit 1
fi
PIDS=()
cleanup() {
  local p
  # The live views are pipelines in subshells: stop their members too.
  for p in "${PIDS[@]}"; do pkill -P "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
  banner "removing the lab"
  "$LAB" down || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

banner "bringing up the lab (blocks last 2 minutes here, so that the demo ends clean)"
"$LAB" up --fleet --agent-args "--max-block-ttl 2m" 2>&1 | grep -E "^lab: " | sed 's/^lab: /  /'
STATUS=$("$LAB" status --json)
ALARMS=$(jq -r .agent.alarms <<<"$STATUS")
AGENT_LOG=$(jq -r .agent.log <<<"$STATUS")

# Live view: every alarm, and every verdict the agent put into the kernel.
(tail -n +1 -F "$ALARMS" 2>/dev/null |
  jq --unbuffered -r '"  ALARM   [" + .alert.category + "] " + .alert.signature + "  -> " + .action') &
PIDS+=($!)
disown "$!"
(tail -n 0 -F "$AGENT_LOG" 2>/dev/null | grep --line-buffered -E "(blocked|rate-limited|allowlisted|covers an address) " |
  sed -u 's/^sipwarden-agent: /  KERNEL  /') &
PIDS+=($!)
disown "$!"

counters() {
  "${CTL[@]}" stats --json | jq -r '"  counters: " + ([
    "rx_packets", "pass_sip", "drop_blocked", "drop_rate", "drop_src_limit", "rb_records", "rb_lost",
    "media_packets", "media_notices"] as $k | [$k[] as $n | "\($n)=\(.[$n])"] | join(" "))'
}

banner "legitimate traffic from sw-client: 20 users register, 60 calls (3/s, 2 s of G.711 each)"
"$LAB" traffic --users 20 --calls 60 --rate 3 --hold 2 >/run/sw-lab/demo-traffic.out 2>&1 &
LEGIT=$!
PIDS+=("$LEGIT")
sleep 4
counters

ATTACKS=/run/sw-lab/demo-attacks.tsv  # NAME FROM START_NS, for the summary
: >"$ATTACKS"
attack() {  # attack NAME FROM WHAT
  banner "attack: $3 (from $2)"
  printf '%s\t%s\t%s\n' "$1" "$2" "$(date +%s%N)" >>"$ATTACKS"
  "$LAB" attack "$1" --from "$2" 2>&1 | grep -E "^lab: " | sed 's/^lab: /  /' || true
  sleep 1
  counters
  # The blocklist as it stands after the attack (blocks may expire before the end).
  "${CTL[@]}" block list --json >"/run/sw-lab/demo-blocks-$1.json" 2>/dev/null || true
}
attack svcrack 10.61.3.66 "password cracking with svcrack (its User-Agent gives it away)"
attack invite-flood 10.61.3.67 "INVITE flood, sipp attempting 5000 calls/s"
attack register-flood 10.61.3.68 "REGISTER flood, 2000/s"
attack broken-handshake 10.61.3.69 "broken handshake: a stolen account's calls never ACKed"
sleep 6  # the handshake is provable once the ACKs are 5 s overdue
attack scanner-ua 10.61.3.70 "a SIP scanner (svmap) announcing itself"

banner "the kernel's blocklist"
"${CTL[@]}" block list
banner "the same, as an operator sees it with bpftool"
bpftool map dump pinned /run/sw-lab/bpffs/sipwarden/sw_block_v4 >/run/sw-lab/demo-bpftool.out || true
head -n 30 /run/sw-lab/demo-bpftool.out

banner "the fleet: blocks made at sw-proxy, in sw-proxy2's kernel (pushed by sw-controller)"
FLEET_CTL=("$SW_BIN_DIR/sipwardenctl" --controller 127.0.0.1:50051
           --tls-cert /run/sw-lab/pki/operator.pem --tls-key /run/sw-lab/pki/operator.key
           --tls-ca /run/sw-lab/pki/ca.pem)
echo "  the controller's decisions:"
"$LAB" exec sw-controller "${FLEET_CTL[@]}" block list | sed 's/^/    /' || true
echo "  sw-proxy2's kernel blocklist:"
"$SW_BIN_DIR/sipwardenctl" --pin-dir /run/sw-lab/bpffs/sipwarden2 block list | sed 's/^/    /' || true
"$LAB" exec sw-controller "${FLEET_CTL[@]}" agents | sed 's/^/  /' || true

banner "waiting for the legitimate calls to finish"
wait "$LEGIT" || true
cat /run/sw-lab/demo-traffic.out | grep -E "^(registrations|calls|sw-proxy)" | sed 's/^/  /'

banner "a few of the agent's Prometheus metrics"
"$LAB" exec sw-proxy python3 -c '
import urllib.request
text = urllib.request.urlopen("http://127.0.0.1:9464/metrics", timeout=5).read().decode()
for line in text.splitlines():
    if line.startswith(("sipwarden_alarms_total", "sipwarden_xdp_drop_blocked_total",
                        "sipwarden_xdp_pass_sip_total", "sipwarden_engine_events_total",
                        "sipwarden_correlation_seconds_total", "sipwarden_hep_received_total")):
        print("  " + line)
' || echo "  (metrics endpoint not reachable)"

banner "alarms by category"
jq -r .alert.category "$ALARMS" | sort | uniq -c | sed 's/^/  /'

banner "summary"
"${CTL[@]}" block list --json >/run/sw-lab/demo-blocks-final.json 2>/dev/null || true
python3 "$PWD/scripts/demo_summary.py" "$ALARMS" "$ATTACKS" /run/sw-lab/demo-traffic.out \
  /run/sw-lab/demo-blocks-*.json
