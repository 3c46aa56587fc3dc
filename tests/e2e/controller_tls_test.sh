#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The controller over mTLS: a test CA (openssl) signs the controller's
# certificate, an agent's (OU=agent) and an operator's (OU=operator); a
# second CA signs a rogue operator's. Asserts:
#   - the agent connects with its certificate and enforces an operator's block;
#   - the operator's actions are logged under the certificate's name;
#   - no client certificate, and a certificate of another CA: UNAUTHENTICATED;
#   - the agent's certificate cannot unblock (PERMISSION_DENIED);
#   - without TLS files the controller does not serve a public address;
#   - the HTTP API over HTTPS with the same certificate: alice's certificate
#     is an operator, proxy-a's (an agent's) is refused (403), mallory's
#     (another CA) and none at all get 401, a read-only token may look but
#     not unblock, and alice's unblock over HTTPS leaves the agent's kernel.
#   controller_tls_test.sh BIN_DIR
source "$(dirname "$0")/lib.sh"
e2e_require_root
BIN="${1:?usage: $0 BIN_DIR}"
command -v openssl >/dev/null || { echo "controller_tls_test: openssl not installed" >&2; exit 77; }
T=$E2E_TAG
NS="sw-ft-$T" IF="swft$((T % 10000))"
e2e_netns "$NS"
ip link add "$IF" type veth peer name swatt netns "$NS"
ip addr add 10.252.1.1/24 dev "$IF" && ip link set "$IF" up
ip -n "$NS" addr add 10.252.1.2/24 dev swatt && ip -n "$NS" link set swatt up
e2e_bpffs
e2e_tmpdir
TMP="$E2E_TMP"
PORT=$((50000 + T % 8000))
CADDR=127.0.0.1:$PORT

# ---- a test CA and certificates ---------------------------------------------
cd "$TMP"
ca() {  # ca NAME: a self-signed CA
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.pem" -days 2 \
    -subj "/O=sipwarden test/CN=$1" 2>/dev/null
}
cert() {  # cert CA NAME SUBJECT [SAN]
  openssl req -newkey rsa:2048 -nodes -keyout "$2.key" -out "$2.csr" -subj "$3" 2>/dev/null
  if [ -n "${4:-}" ]; then printf 'subjectAltName=%s\n' "$4" >"$2.ext"; else : >"$2.ext"; fi
  openssl x509 -req -in "$2.csr" -CA "$1.pem" -CAkey "$1.key" -CAcreateserial -out "$2.pem" \
    -days 2 -extfile "$2.ext" 2>/dev/null
}
ca test-ca
ca rogue-ca
cert test-ca controller "/O=sipwarden test/CN=controller" "IP:127.0.0.1,DNS:localhost"
cert test-ca proxy-a "/O=sipwarden test/OU=agent/CN=proxy-a"
cert test-ca alice "/O=sipwarden test/OU=operator/CN=alice"
cert rogue-ca mallory "/O=sipwarden test/OU=operator/CN=mallory"
cd - >/dev/null
for f in controller proxy-a alice mallory; do [ -s "$TMP/$f.pem" ] || e2e_fail "openssl made no $f certificate"; done

HPORT=$((PORT + 2))
printf 'read-only grafana ro-token-0123456789abcdef\n' >"$TMP/tokens"
"$BIN/sipwarden-controller" --listen "$CADDR" --db "$TMP/c.db" --tls-cert "$TMP/controller.pem" \
  --tls-key "$TMP/controller.key" --tls-ca "$TMP/test-ca.pem" \
  --http-listen "127.0.0.1:$HPORT" --http-tokens "$TMP/tokens" >"$TMP/controller.log" 2>&1 &
E2E_PIDS+=("$!")
as() {  # as NAME ARGS...: sipwardenctl --controller with NAME's certificate ("" = none)
  local who=$1
  shift
  local tls=(--tls-ca "$TMP/test-ca.pem")
  [ -n "$who" ] && tls+=(--tls-cert "$TMP/$who.pem" --tls-key "$TMP/$who.key")
  "$BIN/sipwardenctl" --controller "$CADDR" "${tls[@]}" "$@"
}
e2e_wait_for 10 as alice stats >/dev/null 2>&1 || { cat "$TMP/controller.log" >&2; e2e_fail "the TLS controller did not serve alice"; }
grep -q "mTLS" "$TMP/controller.log" || e2e_fail "the controller does not say it serves mTLS"

e2e_log "an agent with its certificate"
"$BIN/sipwarden-agent" --iface "$IF" --pin-dir "$E2E_BPFFS/a" --controller "$CADDR" \
  --agent-name proxy-a --tls-cert "$TMP/proxy-a.pem" --tls-key "$TMP/proxy-a.key" \
  --tls-ca "$TMP/test-ca.pem" --records-out /dev/null >/dev/null 2>"$TMP/agent.log" &
E2E_PIDS+=("$!")
connected() { grep -q "connected as proxy-a" "$TMP/agent.log"; }
e2e_wait_for 20 connected || { cat "$TMP/agent.log" >&2; e2e_fail "the agent did not connect over mTLS"; }
as alice block add 192.0.2.55 --ttl 10m >/dev/null || e2e_fail "alice could not block"
in_kernel() { "$BIN/sipwardenctl" --pin-dir "$E2E_BPFFS/a" block list | grep -q "^192.0.2.55/32 "; }
e2e_wait_for 3 in_kernel || e2e_fail "alice's block did not reach the agent's kernel"
grep -q "alice: block 192.0.2.55/32" "$TMP/controller.log" || e2e_fail "the action is not logged under alice"

e2e_log "refusals"
refused() {  # refused CODE WHO ARGS...: the call fails naming CODE
  local code=$1 out
  shift
  if out=$(as "$@" 2>&1); then e2e_fail "'$*' succeeded; expected $code"; fi
  grep -q "($code)" <<<"$out" || e2e_fail "'$*' failed without $code: $out"
  e2e_log "  $code: $(sed 's/^sipwardenctl: //' <<<"$out")"
}
refused UNAUTHENTICATED "" block list
refused UNAUTHENTICATED mallory block add 192.0.2.66
refused PERMISSION_DENIED proxy-a block del 192.0.2.55
in_kernel || e2e_fail "the block vanished after the refused unblock"

e2e_log "HTTPS: the same certificates and roles"
https() {  # https WHO [CURL ARGS...] URLPATH: prints the status code, then the body
  local who=$1 tls=(--cacert "$TMP/test-ca.pem")
  shift
  [ -n "$who" ] && tls+=(--cert "$TMP/$who.pem" --key "$TMP/$who.key")
  local path=${*: -1}
  curl -s -o "$TMP/body" -w '%{http_code}' "${tls[@]}" "${@:1:$#-1}" "https://127.0.0.1:$HPORT$path"
  printf ' '
  cat "$TMP/body"
}
out=$(https alice /api/v1/whoami)
[ "$out" = '200 {"name":"alice","role":"operator"}' ] || e2e_fail "alice over HTTPS: $out"
out=$(https proxy-a /api/v1/blocks)
[[ "$out" == "403 "*"agent's certificate"* ]] || e2e_fail "an agent's certificate over HTTPS: $out"
out=$(https mallory /api/v1/blocks)
[[ "$out" == "401 "*"not signed by this controller's CA"* ]] || e2e_fail "mallory over HTTPS: $out"
out=$(https "" /api/v1/blocks)
[[ "$out" == "401 "* ]] || e2e_fail "no certificate and no token over HTTPS: $out"
out=$(https "" -H "Authorization: Bearer ro-token-0123456789abcdef" /api/v1/blocks)
[[ "$out" == "200 "*"192.0.2.55/32"* ]] || e2e_fail "the read-only token over HTTPS: $out"
out=$(https "" -H "Authorization: Bearer ro-token-0123456789abcdef" -X DELETE /api/v1/blocks/192.0.2.55)
[[ "$out" == "403 "* ]] || e2e_fail "the read-only token unblocked: $out"
in_kernel || e2e_fail "the block vanished after the read-only token's refused unblock"
if curl -s -o /dev/null "http://127.0.0.1:$HPORT/api/v1/blocks"; then
  e2e_fail "the HTTPS port answered plain HTTP"
fi
out=$(https alice -X DELETE /api/v1/blocks/192.0.2.55)
[[ "$out" == "200 "* ]] || e2e_fail "alice's unblock over HTTPS: $out"
gone() { ! in_kernel; }
e2e_wait_for 3 gone || e2e_fail "alice's unblock over HTTPS did not leave the agent's kernel"
grep -q "alice: unblock 192.0.2.55/32" "$TMP/controller.log" || e2e_fail "the HTTPS unblock is not audited under alice"
e2e_log "  HTTPS: alice operator, proxy-a 403, mallory and nobody 401, read-only token 403 on DELETE, unblock out of the kernel"

e2e_log "no TLS: a public address is refused"
if "$BIN/sipwarden-controller" --listen 0.0.0.0:$((PORT + 1)) --db "$TMP/d.db" 2>"$TMP/plain.err"; then
  e2e_fail "the controller served 0.0.0.0 in the clear"
fi
grep -q -- "--insecure" "$TMP/plain.err" || e2e_fail "the refusal does not say how: $(cat "$TMP/plain.err")"
e2e_finish
