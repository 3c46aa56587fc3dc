#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The main job on its embedded default: installs the Debian packages, builds
# sipwarden, brings up the lab (tools/lab/lab: Kamailio as registrar and
# proxy, a sipp callee, a legitimate caller, an attacker, sipwarden-agent
# with XDP on every interface of the proxy host and the built-in ruleset;
# and the fleet: sw-controller and a second proxy host, sw-proxy2, whose
# agent follows the same controller), runs legitimate registrations and
# calls, then a sequence of attacks, and shows the alarms, the kernel's
# blocks and its counters as they happen; then a SPIT bot calling a
# harvested list, caught by the honeypot (sw-honeypot), graylisted and then
# blocked in the proxy's kernel, its next INVITE dropped by XDP, its message
# recorded and grouped into a campaign; and the blocks made at sw-proxy
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
FLEET_CTL=("$SW_BIN_DIR/sipwardenctl" --controller 127.0.0.1:50051
           --tls-cert /run/sw-lab/pki/operator.pem --tls-key /run/sw-lab/pki/operator.key
           --tls-ca /run/sw-lab/pki/ca.pem)
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

# ---- the honeypot: a SPIT bot caught, then dropped at the proxy ----------------------
BOT=10.61.3.71 BOT_ACCOUNT=1098  # the bot's own address, and the account it stole
HP_SIP=$(jq -r .fleet.honeypot.sip <<<"$STATUS") HP_PAGE=$(jq -r .fleet.honeypot.page <<<"$STATUS")
HP_RECORDS=$(jq -r .fleet.honeypot.records <<<"$STATUS")
SPIT=/run/sw-lab/spit
mkdir -p "$SPIT"
cp tools/lab/scenarios/spit_bot.xml "$SPIT/"
ln -s "$PWD/tests/data/corpus/pcaps/sipp/g711a.pcap" "$SPIT/g711a.pcap"  # its recorded message, 7.08 s
printf 'SEQUENTIAL\n%s;[authentication username=%s password=pw%s]\n' "$BOT_ACCOUNT" "$BOT_ACCOUNT" \
  "$BOT_ACCOUNT" >"$SPIT/account.csv"
# What a harvester scrapes from the honeypot's published page (docs/honeypot.md).
grep -oE "sip:[^\"'<> ]+@[A-Za-z0-9.-]+" "$HP_PAGE" | sort -u >"$SPIT/scraped"
# The bot's harvested list: real users of the proxy's domain, deflectors from the page.
HARVESTED=("sip:1201@10.61.0.1" "$(sed -n 7p "$SPIT/scraped")" "sip:1202@10.61.0.1"
           "$(sed -n 61p "$SPIT/scraped")" "sip:1203@10.61.0.1")
now_ms() { echo $(($(date +%s%N) / 1000000)); }
ms_of() { echo $(($(date -d "$1" +%s%N) / 1000000)); }  # ms_of RFC3339
user_of() { local u=${1#sip:}; echo "${u%@*}"; }
bot_call() {  # bot_call URI SECONDS: one call of the bot (sipp and spit_bot.xml), bounded
  local host=${1#*@}
  (cd "$SPIT" && timeout -k 1 "$2" "$LAB" exec sw-attacker sipp "$host:5060" -sf spit_bot.xml \
     -inf account.csv -s "$(user_of "$1")" -i "$BOT" -mi "$BOT" -p 0 -mp $((30000 + RANDOM % 5000 * 2)) \
     -m 1 -timeout "$2s" -nostdin >/dev/null 2>&1 </dev/null)
}
row() {  # row KEY: the header and the row of the bot in a sipwardenctl listing (stdin)
  awk -v k="$1" 'NR == 1 { h = $0 } $1 == k { print "      " h; print "      " $0; f = 1 } END { exit !f }'
}
graylisted() { "${CTL[@]}" limit list | row "$BOT"; }
blocked() { "${CTL[@]}" block list | row "$BOT/32"; }
poll() {  # poll SECONDS CMD...: every 20 ms until CMD succeeds; prints its output
  local end=$(($(now_ms) + $1 * 1000))
  shift
  until "$@"; do [ "$(now_ms)" -lt "$end" ] || return 1; sleep 0.02; done
}
hit_of() {  # hit_of STAGE CALLEE: the bot's hit at the controller, as JSON
  "$LAB" exec sw-controller "${FLEET_CTL[@]}" honeypot hits --src "$BOT" --callee "$2" --json |
    jq -sc --arg s "$1" 'map(select(.stage == $s))[0] // empty'
}
show_hit() {  # show_hit CALLEE: the honeypot's hit as the controller lists it
  "$LAB" exec sw-controller "${FLEET_CTL[@]}" honeypot hits --src "$BOT" --callee "$1" |
    awk 'NR == 1 || / arrived /' | sed 's/^/    /'
}

banner "a SPIT bot ($BOT, stolen account $BOT_ACCOUNT) calls a harvested list; the honeypot ($HP_SIP) published $(wc -l <"$SPIT/scraped") deflectors"
printf '%s\t%s\t%s\n' spit-bot "$BOT" "$(date +%s%N)" >>"$ATTACKS"
printf '  the bot'"'"'s list: %s\n' "${HARVESTED[*]}"
echo "  call 1: ${HARVESTED[0]} (a real user)"
if bot_call "${HARVESTED[0]}" 20; then echo "    answered; the bot played its 7 s message to a real user"
else echo "    the call failed"; fi

echo "  call 2: ${HARVESTED[1]} (a deflector: the honeypot answers)"
bot_call "${HARVESTED[1]}" 20 &
CALL=$!
if line=$(poll 5 graylisted); then
  t_seen=$(now_ms)
  hit=$(hit_of arrived "$(user_of "${HARVESTED[1]}")")
  show_hit "$(user_of "${HARVESTED[1]}")"
  echo "    graylisted in sw-proxy's kernel, seen $((t_seen - $(ms_of "$(jq -r .time <<<"$hit")"))) ms after the hit (polled every 20 ms):"
  echo "$line"
else
  echo "    not graylisted in sw-proxy's kernel within 5 s"
fi
wait "$CALL" || true

echo "  call 3: ${HARVESTED[2]} (a real user; a graylisted source still gets 5 requests/s)"
if bot_call "${HARVESTED[2]}" 20; then echo "    answered"; else echo "    the call failed"; fi

echo "  call 4: ${HARVESTED[3]} (a deflector: the bot's second separate call to one)"
bot_call "${HARVESTED[3]}" 20 &
CALL=$!
if line=$(poll 5 blocked); then
  t_seen=$(now_ms)
  hit=$(hit_of arrived "$(user_of "${HARVESTED[3]}")")
  t_hit=$(ms_of "$(jq -r .time <<<"$hit")")
  added=$("${CTL[@]}" block list --json | jq -r --arg p "$BOT/32" 'select(.prefix == $p) | .added')
  added2=$("$SW_BIN_DIR/sipwardenctl" --pin-dir /run/sw-lab/bpffs/sipwarden2 block list --json |
    jq -r --arg p "$BOT/32" 'select(.prefix == $p) | .added')
  show_hit "$(user_of "${HARVESTED[3]}")"
  echo "    blocked in sw-proxy's kernel $(($(ms_of "$added") - t_hit)) ms after the hit (the entry's own time;" \
    "seen $((t_seen - t_hit)) ms after it, polling); in sw-proxy2's" \
    "$([ -n "$added2" ] && echo "$(($(ms_of "$added2") - t_hit)) ms after it" || echo "not yet"):"
  echo "$line"
else
  echo "    not blocked in sw-proxy's kernel within 5 s"
fi

echo "  call 5: ${HARVESTED[4]} (a real user, the bot's next INVITE at the proxy)"
before=$("${CTL[@]}" stats --json | jq .drop_blocked)
hits_before=$("${CTL[@]}" block list --json | jq --arg p "$BOT/32" 'select(.prefix == $p) | .hits')
if bot_call "${HARVESTED[4]}" 4; then echo "    answered (it should not have been)"; else echo "    no answer in 4 s"; fi
after=$("${CTL[@]}" stats --json | jq .drop_blocked)
hits_after=$("${CTL[@]}" block list --json | jq --arg p "$BOT/32" 'select(.prefix == $p) | .hits')
echo "    XDP drop_blocked $before -> $after (+$((after - before))); the bot's block: hits ${hits_before:-?} -> ${hits_after:-?}" \
  "(the INVITE and its retransmissions)"
wait "$CALL" || true

echo "  the recording of call 2:"
ended=$(hit_of ended "$(user_of "${HARVESTED[1]}")")
rec=$(jq -r '.recording // empty' <<<"$ended")
if [ -n "$rec" ] && [ -f "$HP_RECORDS/$rec" ]; then
  echo "    $HP_RECORDS/$rec: $(python3 -c 'import sys, wave
w = wave.open(sys.argv[1]); print("%.2f s of %d Hz audio," % (w.getnframes() / w.getframerate(), w.getframerate()))' \
    "$HP_RECORDS/$rec") $(jq -r '"recorded_ms \(.recorded_ms), \(.rtp_packets) RTP packets from \(.rtp_src), sha256 \(.audio_sha256[0:16])..."' <<<"$ended")"
else
  echo "    no recording: $ended"
fi
echo "  the campaign (calls grouped by the audio they played):"
"$LAB" exec sw-controller "${FLEET_CTL[@]}" honeypot campaigns | sed 's/^/    /' || true
"$LAB" exec sw-controller "${FLEET_CTL[@]}" honeypot hits --json >/run/sw-lab/demo-honeypot-hits.json || true
"${CTL[@]}" block list --json >/run/sw-lab/demo-blocks-spit-bot.json 2>/dev/null || true

banner "the kernel's blocklist"
"${CTL[@]}" block list
banner "the same, as an operator sees it with bpftool"
bpftool map dump pinned /run/sw-lab/bpffs/sipwarden/sw_block_v4 >/run/sw-lab/demo-bpftool.out || true
head -n 30 /run/sw-lab/demo-bpftool.out

banner "the fleet: blocks made at sw-proxy, in sw-proxy2's kernel (pushed by sw-controller)"
echo "  the controller's decisions:"
"$LAB" exec sw-controller "${FLEET_CTL[@]}" block list | sed 's/^/    /' || true
echo "  sw-proxy2's kernel blocklist:"
"$SW_BIN_DIR/sipwardenctl" --pin-dir /run/sw-lab/bpffs/sipwarden2 block list | sed 's/^/    /' || true
"$LAB" exec sw-controller "${FLEET_CTL[@]}" agents | sed 's/^/  /' || true

banner "the operator's console and its JSON API (https://127.0.0.1:8443/ in sw-controller)"
api() {  # api PATH: the controller's HTTP API with the lab's operator token
  "$LAB" exec sw-controller curl -s --cacert /run/sw-lab/pki/ca.pem \
    -H "Authorization: Bearer $(awk '{print $3}' /run/sw-lab/controller/tokens)" "https://127.0.0.1:8443$1"
}
api /api/v1/stats | jq -r '"  decision version \(.decision_version), \(.blocks) blocks, \(.agents_connected)/\(.agents) agents connected, \(.alarms_stored) alarms stored"' || true
api '/api/v1/series?name=packets&since=15m&by=verdict' |
  jq -r '.series[] | "  packets/s \(.label): peak \([.points[][1]] | max)"' 2>/dev/null | head -6 || true
echo "  (docs/console.md: the page shows these live; docs/api.md: every call)"

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
python3 "$PWD/scripts/demo_summary.py" --honeypot-hits /run/sw-lab/demo-honeypot-hits.json \
  "$ALARMS" "$ATTACKS" /run/sw-lab/demo-traffic.out /run/sw-lab/demo-blocks-*.json
