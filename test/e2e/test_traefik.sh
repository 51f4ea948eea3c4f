#!/usr/bin/env bash
# A real Traefik (hack/local-traefik, its own instance on free ports) routes from what is
# in the cluster: an IngressRoute on Host(`t1.runtimes.localhost`) with a ForwardAuth
# Middleware, to a selector-less Service whose hand-written EndpointSlice points at a
# backend on this machine (kwok pods never run, so the backend is a local process). The
# apiserver refuses loopback addresses in an EndpointSlice ("may not be in the loopback
# range"), so the backend listens on this machine's own non-loopback IPv4 address only.
# Checks: no session -> 401 before the backend; with the session -> the backend answers
# and sees only the identity the auth server returned, never one the client sent; a
# WebSocket upgrade passes both ways; Traefik's ServiceAccount has only its own rights.
# Run through `hack/local-cluster exec`; cleans up what it started, even when killed.
set -euo pipefail
src=${CP_SOURCE_DIR:?}
ns=e2e-traefik-$$
host=t1-$$.runtimes.localhost # unique: a route left by a killed run must not shadow this one
work=$(mktemp -d /tmp/clawplane-e2e-traefik.XXXXXX)
helper="$src/test/e2e/traefik_servers.py"
pids=()
checks=0

say() { printf '== %s\n' "$*"; }
ok() { checks=$((checks + 1)); printf 'ok %d - %s\n' "$checks" "$*"; }
fail() {
  printf 'FAIL: %s\n' "$*" >&2
  for f in "$work/traefik/traefik.log" "$work/traefik/access.log"; do
    [ -f "$f" ] && { echo "--- $f (last 20 lines)" >&2; tail -n 20 "$f" | cut -c1-600 >&2; }
  done
  exit 1
}

cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  timeout 30 "$src/hack/local-traefik" down >/dev/null 2>&1 || true
  timeout 30 kubectl delete ns "$ns" --wait=false >/dev/null 2>&1 || true
  [ -n "${CP_KEEP_LOGS:-}" ] || rm -rf "$work" # CP_KEEP_LOGS=1 keeps them for a look
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

start_server() { # start_server <role> [<address>] <port file> [args...]: background, bounded
  timeout 600 python3 "$helper" "$@" >>"$work/servers.log" 2>&1 &
  pids+=($!)
  local i pf=$2
  [ "$1" = backend ] && pf=$3
  for i in $(seq 1 100); do
    [ -s "$pf" ] && return 0
    sleep 0.1
  done
  fail "the $1 server did not start: $(cat "$work/servers.log")"
}

# A private Traefik: its own state directory and ports, so parallel runs and a Traefik
# started by hand do not meet.
export CLAWPLANE_TRAEFIK_DIR="$work/traefik"
CLAWPLANE_TRAEFIK_PORT=$(free_port)
CLAWPLANE_TRAEFIK_ADMIN_PORT=$(free_port)
export CLAWPLANE_TRAEFIK_PORT CLAWPLANE_TRAEFIK_ADMIN_PORT
web="http://127.0.0.1:$CLAWPLANE_TRAEFIK_PORT"

# Not an address on lo: the runtime and files tests add theirs there (10.240.N.2/32, scope
# global too) and delete it when they end, which took a backend bound to it away mid-test.
host_ip=$(ip -4 -o addr show scope global 2>/dev/null |
  awk '$2 != "lo" {split($4, a, "/"); print a[1]; exit}')
[ -n "$host_ip" ] || fail "this machine has no non-loopback IPv4 address for the EndpointSlice"
say "local servers: backend on $host_ip, ForwardAuth on 127.0.0.1"
start_server backend "$host_ip" "$work/backend.port" "$work/backend.requests"
start_server auth "$work/auth.port"
backend_port=$(cat "$work/backend.port")
auth_port=$(cat "$work/auth.port")

say "hack/local-traefik up (web :$CLAWPLANE_TRAEFIK_PORT, admin :$CLAWPLANE_TRAEFIK_ADMIN_PORT)"
timeout 300 "$src/hack/local-traefik" up >"$work/up.out" 2>"$work/up.err" ||
  fail "local-traefik up: $(cat "$work/up.err")"
grep -q "^export CLAWPLANE_TRAEFIK_URL=$web\$" "$work/up.out" || fail "up printed: $(cat "$work/up.out")"
timeout 30 "$src/hack/local-traefik" status >/dev/null || fail "status after up"
timeout 60 "$src/hack/local-traefik" up >/dev/null 2>"$work/up2.err" || fail "second up: $(cat "$work/up2.err")"
grep -q "already runs" "$work/up2.err" || fail "a second up did not find Traefik running: $(cat "$work/up2.err")"
ok "Traefik runs, answers /ping, and a second up leaves it alone"

sa=system:serviceaccount:traefik-system:traefik
[ "$(kubectl auth can-i list ingressroutes.traefik.io --as="$sa")" = yes ] || fail "$sa cannot list IngressRoutes"
[ "$(kubectl auth can-i list endpointslices.discovery.k8s.io --as="$sa")" = yes ] || fail "$sa cannot list EndpointSlices"
for verb in "create pods" "delete services" "create ingressroutes.traefik.io" "update secrets"; do
  # shellcheck disable=SC2086 # two words on purpose
  [ "$(kubectl auth can-i $verb --as="$sa" 2>/dev/null || true)" = no ] || fail "$sa may $verb"
done
ok "Traefik's ServiceAccount reads routes and endpoints and writes nothing of them"

say "a route in namespace $ns to the local backend"
kubectl create ns "$ns" >/dev/null
kubectl apply --server-side -f - >/dev/null <<EOF || fail "could not create the route objects"
apiVersion: v1
kind: Service
metadata: {name: web, namespace: $ns}
spec:
  ports: [{name: http, port: 80, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-local
  namespace: $ns
  labels: {kubernetes.io/service-name: web, endpointslice.kubernetes.io/managed-by: clawplane-e2e}
addressType: IPv4
ports: [{name: http, port: $backend_port, protocol: TCP}]
endpoints:
- addresses: ["$host_ip"]
  conditions: {ready: true, serving: true, terminating: false}
---
apiVersion: traefik.io/v1alpha1
kind: Middleware
metadata: {name: session, namespace: $ns}
spec:
  forwardAuth:
    address: http://127.0.0.1:$auth_port/check
    authResponseHeaders: [X-Clawplane-User]
---
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: t1, namespace: $ns}
spec:
  entryPoints: [web]
  routes:
  - match: Host(\`$host\`)
    kind: Rule
    middlewares: [{name: session}]
    services: [{name: web, port: http}]
EOF

code() { curl -s -o "$work/body" -w '%{http_code}' --max-time 10 -H "Host: $host" "$@" "$web/hello"; }

deadline=$((SECONDS + 60))
until [ "$(code || true)" = 401 ]; do
  [ $SECONDS -lt $deadline ] || fail "the route did not appear in Traefik within 60s (last status $(code || true))"
  sleep 0.5
done
ok "Traefik picked up the IngressRoute from the cluster"

[ "$(code)" = 401 ] || fail "no session: expected 401"
[ "$(code -H 'X-Clawplane-User: mallory')" = 401 ] || fail "no session, forged identity: expected 401"
[ ! -s "$work/backend.requests" ] || fail "a refused request reached the backend: $(cat "$work/backend.requests")"
ok "without a session: 401, and the backend never saw the request"

[ "$(code -b clawplane_session=good)" = 200 ] || fail "with the session: expected 200, got $(code -b clawplane_session=good)"
python3 -c 'import json, sys; b = json.load(open(sys.argv[1])); assert b["backend"] == "ok" and b["users"] == ["alice"], b' \
  "$work/body" || fail "backend answer: $(cat "$work/body")"
ok "with the session: the backend answers and sees X-Clawplane-User: alice"

[ "$(code -b clawplane_session=good -H 'X-Clawplane-User: mallory')" = 200 ] || fail "forged header with session"
python3 -c 'import json, sys; b = json.load(open(sys.argv[1])); assert b["users"] == ["alice"], b' \
  "$work/body" || fail "a client-sent identity reached the backend: $(cat "$work/body")"
ok "a client-sent X-Clawplane-User: mallory is replaced by the auth server's alice"

[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H 'Host: other.runtimes.localhost' -b clawplane_session=good "$web/")" = 404 ] ||
  fail "an unknown host was not 404"
ok "an unknown host gets 404"

say "WebSocket upgrade through Traefik"
out=$(timeout 30 python3 "$helper" wsclient "$CLAWPLANE_TRAEFIK_PORT" "$host") || fail "wsclient without session: $out"
[ "$out" = 401 ] || fail "an upgrade without session got: $out"
out=$(timeout 30 python3 "$helper" wsclient "$CLAWPLANE_TRAEFIK_PORT" "$host" clawplane_session=good) ||
  fail "wsclient with session: $out"
[ "$out" = "$(printf '101\necho ok')" ] || fail "an upgrade with session got: $out"
ok "a WebSocket upgrade gets 101 with the session (backend saw alice) and data flows both ways"

grep -q "\"RequestHost\":\"$host\"" "$work/traefik/access.log" || fail "no access log entry for $host"
grep -q '"level":"' "$work/traefik/traefik.log" || fail "Traefik's log is not JSON"
ok "access log and JSON log in the state directory"

echo "all $checks checks passed"
