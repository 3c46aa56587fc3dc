#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# End to end: a real Prometheus scrapes an agent (XDP on a veth in a
# namespace) and the controller it follows, every second, and its HTTP API
# answers with the series docs/metrics.md promises: the kernel's and the
# parser's counters after SIP was sent, the controller's view of the agent
# (up, decision version) and the agent's counters as reported to the
# controller (by agent and method). Everything runs in the test's namespace,
# Prometheus included (its own config, TSDB and port in a temporary
# directory). Skipped (77) without root or prometheus; fails, saying so, when
# the controller has no --http-listen.
#   prometheus_test.sh BIN_DIR
source "$(dirname "$0")/lib.sh"
e2e_require_root
BIN="${1:?usage: $0 BIN_DIR}"
command -v prometheus >/dev/null ||
  { echo "prometheus is not installed (scripts/install-deps.sh)" >&2; exit 77; }
command -v curl >/dev/null || { echo "curl is not installed" >&2; exit 77; }
A="sw-e2e-prm-$E2E_TAG"
B="sw-e2e-prs-$E2E_TAG"
A4=10.250.7.1 B4=10.250.7.2
NAME=prom-a

e2e_netns "$A"
e2e_netns "$B"
e2e_veth "$A" swe0 "$A4/24" "$B" swe1 "$B4/24"
e2e_bpffs
PIN="$E2E_BPFFS/sipwarden"
e2e_tmpdir
TMP="$E2E_TMP"

# free_port: a TCP port nobody listens on in the namespace.
free_port() {
  ip netns exec "$A" python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
GRPC=$(free_port) HTTP=$(free_port) METRICS=$(free_port) PROM=$(free_port)
# Background processes are started with 'ip netns exec' itself, never through
# in_ns: $! must be the process, so that the teardown kills it.
in_ns() { ip netns exec "$A" "$@"; }

e2e_log "starting the controller (gRPC $GRPC, HTTP $HTTP)"
ip netns exec "$A" "$BIN/sipwarden-controller" --db "$TMP/c.db" --listen "127.0.0.1:$GRPC" \
  --http-listen "127.0.0.1:$HTTP" >"$TMP/controller.out" 2>"$TMP/controller.err" &
E2E_PIDS+=("$!")
CONTROLLER=$!
if ! e2e_wait_for 10 in_ns curl -sf "http://127.0.0.1:$HTTP/metrics"; then
  if grep -q "http.listen" "$TMP/controller.err"; then
    e2e_fail "sipwarden-controller does not take --http-listen (not built yet?): $(head -3 "$TMP/controller.err")"
  fi
  kill -0 "$CONTROLLER" 2>/dev/null || e2e_fail "the controller exited: $(cat "$TMP/controller.err")"
  e2e_fail "no /metrics at the controller's --http-listen 127.0.0.1:$HTTP: $(cat "$TMP/controller.err")"
fi

e2e_log "starting the agent in $A (metrics on $METRICS)"
e2e_agent "$A" swe0 /dev/null --metrics-listen "127.0.0.1:$METRICS" \
  --controller "127.0.0.1:$GRPC" --agent-name "$NAME"
e2e_wait_for 10 grep -q "connected as $NAME" "$TMP/agent.err" ||
  e2e_fail "the agent did not connect to the controller: $(cat "$TMP/agent.err")"

cat >"$TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: sipwarden-agent
    static_configs:
      - targets: ['127.0.0.1:$METRICS']
  - job_name: sipwarden-controller
    static_configs:
      - targets: ['127.0.0.1:$HTTP']
EOF
e2e_log "starting prometheus on 127.0.0.1:$PROM"
ip netns exec "$A" prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/tsdb" \
  --web.listen-address="127.0.0.1:$PROM" >"$TMP/prometheus.log" 2>&1 &
E2E_PIDS+=("$!")
e2e_wait_for 30 in_ns curl -sf "http://127.0.0.1:$PROM/-/ready" ||
  e2e_fail "prometheus did not get ready: $(tail -5 "$TMP/prometheus.log")"

e2e_log "sending SIP from $B"
ip netns exec "$B" "$BIN/sw-sipsend" --to "$A4:5060" --method OPTIONS --count 20 --rate 200 2>/dev/null
ip netns exec "$B" "$BIN/sw-sipsend" --to "$A4:5060" --method INVITE --count 5 --rate 200 2>/dev/null

# value QUERY: the value of the first sample Prometheus answers for QUERY
# (an instant query), or nothing.
value() {
  in_ns curl -sf --get "http://127.0.0.1:$PROM/api/v1/query" --data-urlencode "query=$1" |
    python3 -c 'import json,sys
r = json.load(sys.stdin)
assert r["status"] == "success", r
res = r["data"]["result"]
print(res[0]["value"][1] if res else "")'
}
# expect SECONDS QUERY OP NUMBER: waits until the query's value compares.
at() { local v; v=$(value "$1"); [ -n "$v" ] && python3 -c "import sys; sys.exit(0 if float('$v') $2 $3 else 1)"; }
expect() {
  local secs=$1 q=$2 op=$3 n=$4
  e2e_wait_for "$secs" at "$q" "$op" "$n" ||
    e2e_fail "Prometheus: $q = '$(value "$q")', expected $op $n"
  e2e_log "  $q = $(value "$q")"
}

e2e_log "Prometheus has both targets up"
expect 20 'up{job="sipwarden-agent"}' == 1
expect 20 'up{job="sipwarden-controller"}' == 1
e2e_log "the agent's series (scraped from the agent)"
expect 20 'sipwarden_xdp_pass_sip_total{job="sipwarden-agent"}' '>=' 25
expect 20 'sipwarden_xdp_rx_packets_total{job="sipwarden-agent"}' '>=' 25
expect 20 'sipwarden_sip_messages_total{job="sipwarden-agent",method="OPTIONS"}' == 20
expect 20 'sipwarden_sip_messages_total{job="sipwarden-agent",method="INVITE"}' == 5
expect 20 'sipwarden_uplink_connected{job="sipwarden-agent"}' == 1
expect 20 'sipwarden_metrics_scrapes_total{job="sipwarden-agent"}' '>=' 2
expect 20 'count(sipwarden_sip_messages_total{job="sipwarden-agent"})' == 16
e2e_log "the controller's series"
expect 20 "sipwarden_agent_up{job=\"sipwarden-controller\",agent=\"$NAME\"}" == 1
expect 20 'sipwarden_controller_agents_connected{job="sipwarden-controller"}' == 1
expect 20 "sipwarden_agent_decision_version{agent=\"$NAME\"} - on() group_left sipwarden_controller_decision_version" == 0
expect 20 "sipwarden_agent_last_seen_seconds{agent=\"$NAME\"}" '<' 30
e2e_log "the agent's counters as the controller has them (reported every 10 s)"
expect 30 "sipwarden_fleet_sip_messages_total{agent=\"$NAME\",method=\"INVITE\"}" == 5
expect 30 "sipwarden_fleet_sip_messages_total{agent=\"$NAME\",method=\"OPTIONS\"}" == 20
expect 30 "sipwarden_fleet_kernel_packets_total{agent=\"$NAME\",verdict=\"pass_sip\"}" '>=' 25
expect 30 "sipwarden_fleet_rb_lost_total{agent=\"$NAME\"}" == 0
e2e_log "more SIP: the scraped counters rise"
ip netns exec "$B" "$BIN/sw-sipsend" --to "$A4:5060" --method REGISTER --count 10 --rate 200 2>/dev/null
expect 20 'sipwarden_sip_messages_total{job="sipwarden-agent",method="REGISTER"}' == 10
expect 20 'increase(sipwarden_sip_messages_total{job="sipwarden-agent",method="REGISTER"}[1m])' '>=' 10
expect 20 'increase(sipwarden_xdp_pass_sip_total{job="sipwarden-agent"}[1m])' '>=' 10

e2e_log "the agent stops: the controller says it is down"
kill -INT "$AGENT"
wait "$AGENT" || e2e_fail "agent exited with $?"
expect 20 "sipwarden_agent_up{agent=\"$NAME\"}" == 0
expect 20 'up{job="sipwarden-agent"}' == 0
e2e_finish
