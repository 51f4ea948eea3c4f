#!/usr/bin/env bash
# The model proxy end to end: a real OpenAI client (the openai package from PyPI, in a venv
# under the build dir) against clawplane-modelproxy, which watches runtime Secrets on the
# local control plane, writes usage to the local PostgreSQL (its own schema), marks
# UserRuntimes active, and forwards to a real OpenAI-compatible server
# (hack/local-model). The checks themselves are in modelproxy_client.py.
set -euo pipefail
build=${CP_BUILD_DIR:?}
src=${CP_SOURCE_DIR:?}
bin="$build/bin/clawplane-modelproxy"
suffix=$$
ns=e2e-mp-$suffix
schema=mpe2e_$suffix
logdir=$(mktemp -d /tmp/clawplane-e2e-mp.XXXXXX)
venv="$build/modelproxy-venv"
pids=()

say() { printf '== %s\n' "$*"; }
fail() {
  printf 'FAIL: %s\n' "$*" >&2
  for f in "$logdir"/*.log; do [ -f "$f" ] && { echo "--- $f (last 40 lines)" >&2; tail -n 40 "$f" >&2; }; done
  exit 1
}
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  kubectl delete ns "$ns" --wait=false >/dev/null 2>&1 || true
  [ -n "${DATABASE_URL:-}" ] && psql "$DATABASE_URL" -qc "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
  rm -rf "$logdir"
}
trap cleanup EXIT

say "python venv with the openai client"
if ! "$venv/bin/python" -c 'import openai' 2>/dev/null; then
  python3 -m venv "$venv" || fail "python3 -m venv failed"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$src/test/e2e/modelproxy_requirements.txt" ||
    fail "pip install failed"
fi
"$venv/bin/python" -c 'import openai; print("openai", openai.__version__)'

say "PostgreSQL (schema $schema) with user_quotas overrides"
"$src/hack/local-postgres" up >/dev/null 2>&1 || fail "local PostgreSQL did not start"
eval "$("$src/hack/local-postgres" env)"
export DATABASE_URL
pg_url="$DATABASE_URL&options=-csearch_path%3D$schema"
# user_quotas belongs to the apiserver; the test makes its own copy (the shared contract's
# columns) in a private schema.
psql "$DATABASE_URL" -qv ON_ERROR_STOP=1 >/dev/null <<SQL || fail "cannot prepare the schema"
CREATE SCHEMA $schema;
CREATE TABLE $schema.user_quotas (username text PRIMARY KEY, allowed_models text[],
  monthly_token_budget bigint, monthly_cost_budget_microusd bigint, requests_per_minute int,
  max_concurrent_streams int);
INSERT INTO $schema.user_quotas VALUES
  ('bob', NULL, 30, NULL, NULL, NULL),
  ('carol', NULL, NULL, NULL, 3, NULL),
  ('dave', ARRAY['gpt-*'], NULL, NULL, NULL, 1),
  ('erin', NULL, NULL, 40, NULL, NULL);
SQL

say "namespace $ns with UserRuntimes and their credential Secrets"
kubectl apply --server-side --force-conflicts -f "$src/crds/" >/dev/null
kubectl wait --for=condition=Established crd/userruntimes.clawplane.io --timeout=60s >/dev/null
kubectl create ns "$ns" >/dev/null
tokens=""
for u in alice bob carol dave erin frank; do
  tok=$(openssl rand -hex 32)
  tokens="$tokens $u=$tok"
  kubectl apply --server-side -f - >/dev/null <<YAML
apiVersion: clawplane.io/v1alpha1
kind: UserRuntime
metadata: {name: $u, namespace: $ns}
spec: {user: $u, state: Stopped}
---
apiVersion: v1
kind: Secret
metadata:
  name: $u-credentials
  namespace: $ns
  labels: {app.kubernetes.io/managed-by: clawplane, clawplane.io/user: $u, app.kubernetes.io/instance: $u, app.kubernetes.io/name: openclaw}
type: Opaque
data: {gateway-token: $(printf x | base64), modelproxy-token: $(printf %s "$tok" | base64 -w0)}
YAML
done

# A pod for runtime frank, so a service-account token can be bound to it (TokenReview path).
kubectl apply --server-side -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: frank, namespace: $ns}
spec: {containers: [{name: openclaw, image: "registry.invalid/openclaw:e2e"}]}
YAML
audience="clawplane-modelproxy-e2e-$suffix"

say "a cuttable path to PostgreSQL"
pg_host=$(python3 -c 'import sys, urllib.parse as u; print(u.urlsplit(sys.argv[1]).hostname)' "$DATABASE_URL")
pg_port=$(python3 -c 'import sys, urllib.parse as u; print(u.urlsplit(sys.argv[1]).port or 5432)' "$DATABASE_URL")
python3 "$src/test/e2e/modelproxy_pgcut.py" "$pg_host" "$pg_port" >"$logdir/pgcut.log" 2>&1 &
pgcut_pid=$!
pids+=($pgcut_pid)
for _ in $(seq 1 50); do
  cut_port=$(grep -o 'listening on [0-9]*' "$logdir/pgcut.log" | grep -o '[0-9]*$' || true)
  [ -n "$cut_port" ] && break
  sleep 0.1
done
[ -n "$cut_port" ] || fail "PostgreSQL forwarder did not start"
proxy_pg_url=$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(p._replace(netloc=p.netloc.rsplit(":", 1)[0] + ":" + sys.argv[2]).geturl())' "$pg_url" "$cut_port")

say "upstream and proxy"
upkey="sk-upstream-$(openssl rand -hex 16)"
"$venv/bin/python" "$src/hack/local-model" --key "$upkey" --slow-seconds 4 \
  >"$logdir/upstream.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do
  up_port=$(grep -o 'listening on [0-9]*' "$logdir/upstream.log" | grep -o '[0-9]*$' || true)
  [ -n "$up_port" ] && break
  sleep 0.1
done
[ -n "$up_port" ] || fail "upstream did not start"
cat >"$logdir/config.yaml" <<YAML
upstreams:
  - {name: local, baseURL: "http://127.0.0.1:$up_port/v1", apiKeyEnv: MP_E2E_UPSTREAM_KEY}
  - {name: anthropic-style, baseURL: "http://127.0.0.1:$up_port/v1", apiKeyEnv: MP_E2E_UPSTREAM_KEY, auth: x-api-key}
models:
  - {name: gpt-test, upstream: local, price: {prompt: "2.50", completion: "10.00"}}
  - {name: gpt-mini, upstream: local, upstreamModel: mini, price: {prompt: 0.15, completion: 0.6}}
  - {name: gpt-slow, upstream: local, upstreamModel: slow}
  - {name: gpt-fail, upstream: local, upstreamModel: fail}
  - {name: gpt-badkey, upstream: local, upstreamModel: fail-auth}
  - {name: gpt-long, upstream: local, upstreamModel: long-stream}
  - {name: gpt-stall, upstream: local, upstreamModel: stall-stream}
  - {name: gpt-big, upstream: local, upstreamModel: big-stream}
  - {name: gpt-bigembed, upstream: local, upstreamModel: big-embed}
  - {name: premium-large, upstream: local}
  - {name: claude-test, upstream: anthropic-style, price: {prompt: 3, completion: 15}}
defaults:
  allowedModels: ["gpt-*", "claude-*"]
  requestsPerMinute: 1000
  maxConcurrentStreams: 8
YAML
MP_E2E_UPSTREAM_KEY="$upkey" "$bin" --config "$logdir/config.yaml" --http-address 127.0.0.1:0 \
  --namespace "$ns" --database-url "$proxy_pg_url" --activity-interval 1 --quota-refresh 1 \
  --upstream-timeout 2 --shutdown-grace 20 --token-review-audience "$audience" --log-level debug \
  >"$logdir/proxy.log" 2>&1 &
proxy_pid=$!
pids+=($proxy_pid)
for _ in $(seq 1 100); do
  port=$(grep -o '"port":"[0-9]*"' "$logdir/proxy.log" | head -1 | grep -o '[0-9]\+' || true)
  [ -n "$port" ] && curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  kill -0 "$proxy_pid" 2>/dev/null || fail "proxy exited at start"
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null || fail "proxy not ready"
echo "proxy on :$port (pid $proxy_pid), upstream on :$up_port"

MP_PROXY="http://127.0.0.1:$port" MP_UPSTREAM="http://127.0.0.1:$up_port" MP_NS="$ns" \
  MP_TOKENS="$tokens" MP_PROXY_PID="$proxy_pid" MP_PROXY_LOG="$logdir/proxy.log" \
  MP_PG_URL="$pg_url" MP_UPSTREAM_KEY="$upkey" MP_PGCUT_PID="$pgcut_pid" MP_AUDIENCE="$audience" \
  "$venv/bin/python" "$src/test/e2e/modelproxy_client.py" || fail "client checks failed"
proxy_rc=0
wait "$proxy_pid" || proxy_rc=$?
[ "$proxy_rc" = 0 ] || fail "the proxy exited with $proxy_rc after SIGTERM"
if grep -E 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:' "$logdir/proxy.log"; then
  fail "sanitizer report in the proxy log"
fi
echo "proxy exited 0 after SIGTERM, no sanitizer report"

say "shutdown grace over: a stream still running is ended with an error event"
echo "tok-grace-$suffix grace grace" >"$logdir/tokens"
MP_E2E_UPSTREAM_KEY="$upkey" "$bin" --config "$logdir/config.yaml" --http-address 127.0.0.1:0 \
  --no-kube --tokens-file "$logdir/tokens" --shutdown-grace 1 >"$logdir/proxy2.log" 2>&1 &
p2=$!
pids+=($p2)
port2=""
for _ in $(seq 1 50); do
  port2=$(grep -o '"port":"[0-9]*"' "$logdir/proxy2.log" | head -1 | grep -o '[0-9]\+' || true)
  [ -n "$port2" ] && break
  sleep 0.1
done
[ -n "$port2" ] || fail "second proxy did not start"
curl -sN "http://127.0.0.1:$port2/v1/chat/completions" -H "Authorization: Bearer tok-grace-$suffix" \
  -d '{"model":"gpt-long","stream":true,"messages":[]}' >"$logdir/grace.out" 2>&1 &
c2=$!
sleep 0.5
t0=$SECONDS
kill -TERM "$p2"
wait "$c2" || true
p2_rc=0
wait "$p2" || p2_rc=$?
[ "$p2_rc" = 0 ] || fail "second proxy exited with $p2_rc"
[ $((SECONDS - t0)) -le 4 ] || fail "shutdown took $((SECONDS - t0))s with --shutdown-grace 1"
tail -n 2 "$logdir/grace.out" | grep -q '"code":"shutting_down"' ||
  fail "the cut stream did not end with a shutting_down event: $(tail -c 300 "$logdir/grace.out")"
n=$(grep -c '^data: {"id"' "$logdir/grace.out" || true)
echo "ok - after --shutdown-grace 1 the stream in flight ($n chunks so far) ended with a shutting_down error event; exit 0 in $((SECONDS - t0))s"
