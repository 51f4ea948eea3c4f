# The file API's test bed, shared by test/e2e/test_files_api.sh and test/bench/files_bench.sh
# (sourced after lib/controller.sh and lib/apiserver.sh; needs root): a private runtime
# host, the model upstream and proxy, an apiserver and a controller sharing a files key,
# a RuntimeProfile placing runtimes on that host, the users alice and bob with tokens, and
# helpers. Everything it starts is stopped by fa_cleanup (the EXIT trap it installs).
[ "$(id -u)" = 0 ] || { echo "SKIP: the runtime host needs root"; exit 0; }
n=$((suffix % 200 + 20))
node_ip=10.240.$n.1
client_ip=10.240.$n.2
export CLAWPLANE_RUNTIME_NODE=cp-fa-$suffix CLAWPLANE_RUNTIME_NODE_IP=$node_ip
export CLAWPLANE_RUNTIME_POD_CIDR=10.247.$n.0/24 CLAWPLANE_RUNTIME_PREFIX=fa$((suffix % 1000))
export CLAWPLANE_RUNTIME_STATE_DIR=$logdir/runtime-host
export CLAWPLANE_FILES_BIN=$build/bin/clawplane-files
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export CLAWPLANE_RUNTIME_KUBELET_PORT=$(free_port)
schema=e2e_fa_$suffix
pids=()
admin_pw="admin-password-$suffix"
files_image=ghcr.io/clawplane/clawplane-files:e2e

fa_cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  kubectl delete ns "$ns" --wait=false >/dev/null 2>&1 || true
  "$src/hack/runtime-host" down >/dev/null 2>&1 || true
  ip addr del "$client_ip/32" dev lo 2>/dev/null || true
  pg_schema_drop "$schema"
  cleanup
}
trap fa_cleanup EXIT
fa_fail() {
  {
    echo "--- runtime host"
    "$src/hack/runtime-host" status 2>&1 | tail -20
    "$src/hack/runtime-host" logs "$ns/alice" files 2>&1 | tail -30
    "$src/hack/runtime-host" logs "$ns/alice" openclaw 2>&1 | tail -20
    for f in apiserver modelproxy; do echo "--- $f"; tail -n 30 "$logdir/$f.log"; done
  } >&2 2>/dev/null || true
  fail "$@"
}

say "runtime host $CLAWPLANE_RUNTIME_NODE on $node_ip"
[ -x "$CLAWPLANE_FILES_BIN" ] || fa_fail "clawplane-files is not built ($CLAWPLANE_FILES_BIN)"
"$src/hack/runtime-host" up >/dev/null || fa_fail "the runtime host did not start"
ip addr add "$client_ip/32" dev lo
setup_namespace

say "model upstream and model proxy (OpenClaw's init container checks the proxy)"
upkey="sk-upstream-$(openssl rand -hex 16)"
python3 "$src/hack/local-model" --key "$upkey" >"$logdir/upstream.log" 2>&1 &
pids+=($!)
up_port=""
for _ in $(seq 1 50); do
  up_port=$(grep -o 'listening on [0-9]*' "$logdir/upstream.log" | grep -o '[0-9]*$' || true)
  [ -n "$up_port" ] && break
  sleep 0.1
done
[ -n "$up_port" ] || fa_fail "upstream did not start"
db_url=$(pg_schema "$schema") || fa_fail "no PostgreSQL"
cat >"$logdir/mp.yaml" <<YAML
upstreams:
  - {name: local, baseURL: "http://127.0.0.1:$up_port/v1", apiKeyEnv: FA_E2E_UPSTREAM_KEY}
models:
  - {name: gpt-e2e, upstream: local, upstreamModel: echo, price: {prompt: "1.00", completion: "2.00"}}
defaults: {allowedModels: ["*"], requestsPerMinute: 1000, maxConcurrentStreams: 8}
YAML
FA_E2E_UPSTREAM_KEY="$upkey" "$build/bin/clawplane-modelproxy" --config "$logdir/mp.yaml" \
  --http-address "$node_ip:0" --namespace "$ns" --database-url "$db_url" >"$logdir/modelproxy.log" 2>&1 &
pids+=($!)
mp_port=""
for _ in $(seq 1 100); do
  mp_port=$(grep -o '"port":"[0-9]*"' "$logdir/modelproxy.log" | head -1 | grep -o '[0-9]\+' || true)
  [ -n "$mp_port" ] && curl -fsS "http://$node_ip:$mp_port/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "http://$node_ip:$mp_port/readyz" >/dev/null || fa_fail "model proxy not ready"

say "apiserver and controller sharing a files key"
keyfile=$logdir/files.key
(umask 077 && openssl rand -hex 32 >"$keyfile")
CLAWPLANE_BOOTSTRAP_ADMIN=root CLAWPLANE_BOOTSTRAP_PASSWORD="$admin_pw" \
  "$build/bin/clawplane-apiserver" --listen 127.0.0.1:0 --database-url "$db_url" \
  --runtime-namespace "$ns" --default-profile "$profile" --password-cost 10 \
  --files-key-file "$keyfile" >"$logdir/apiserver.log" 2>&1 &
api_pid=$!
pids+=($api_pid)
api_port=$(api_start_port "$logdir/apiserver.log" "$api_pid") || fa_fail "apiserver did not start"
api="http://127.0.0.1:$api_port"
api_ready "$api" || fa_fail "apiserver not ready"

runtime_image=ghcr.io/openclaw/openclaw:$(. "$src/hack/versions.env" && echo "$OPENCLAW_VERSION")
apply_profile "$profile" \
  "placement:" \
  "  nodeSelector: {kubernetes.io/hostname: $CLAWPLANE_RUNTIME_NODE}" \
  "  tolerations: [{key: clawplane.io/runtime-host, operator: Exists, effect: NoSchedule}]" \
  "modelProxy: {url: \"http://$node_ip:$mp_port/v1\", model: gpt-e2e}" \
  "ingress: {trustedProxies: [\"$node_ip\"]}" \
  "files: {maxUploadSize: 2Gi}" \
  "idleTimeout: 0s"
kubectl patch runtimeprofile "$profile" --type=merge \
  -p "{\"spec\":{\"image\":\"$runtime_image\",\"resources\":{\"requests\":{\"cpu\":\"100m\",\"memory\":\"512Mi\"},\"limits\":{\"cpu\":\"2\",\"memory\":\"2Gi\"}}}}" >/dev/null
start_controller controller --files-image "$files_image" --files-key-file "$keyfile"

say "users: alice and bob"
root_tok=$(api_call 200 -X POST -H 'Content-Type: application/json' \
  --data "{\"username\":\"root\",\"password\":\"$admin_pw\"}" "$api/api/v1/auth/login" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])') || fa_fail "admin login"
for u in alice bob; do
  api_call 201 -H "Authorization: Bearer $root_tok" -X POST -H 'Content-Type: application/json' \
    --data "{\"username\":\"$u\",\"password\":\"pw-$u-$suffix\"}" "$api/api/v1/users" >/dev/null ||
    fa_fail "create $u"
  printf 'pw-%s-%s' "$u" "$suffix" >"$logdir/$u.pw"
done
alice_tok=$(api_login "$api" alice "$logdir/alice.pw") || fa_fail "alice login"
bob_tok=$(api_login "$api" bob "$logdir/bob.pw") || fa_fail "bob login"
A=(-H "Authorization: Bearer $alice_tok")
B=(-H "Authorization: Bearer $bob_tok")
R=(-H "Authorization: Bearer $root_tok")
F=$api/api/v1/users/alice/files

code() { curl -s -o "$logdir/body" -w '%{http_code}' "$@"; }
body() { cat "$logdir/body"; }
expect() { # expect <status> <what> <curl args...>
  local want=$1 what=$2 got
  shift 2
  got=$(code "$@")
  [ "$got" = "$want" ] || fa_fail "$what: HTTP $got, want $want: $(head -c 400 "$logdir/body")"
}


# files_start_alice: starts alice's runtime and waits until it is Ready; sets pod_ip.
files_start_alice() {
  api_call 200 "${A[@]}" -X POST "$api/api/v1/users/alice/runtime/start" >/dev/null || fa_fail "start"
  kubectl -n "$ns" wait --for=condition=Ready ur/alice --timeout=360s >/dev/null ||
    fa_fail "alice's runtime did not become Ready"
  pod_ip=$(jp pod/alice '{.status.podIP}')
}

# files_sidecar_pid <token>: the pid of the clawplane-files process holding that token.
files_sidecar_pid() {
  local p found=""
  for p in $(pgrep -f "clawplane-files --root /data/workspace"); do
    tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -q "^CLAWPLANE_FILES_TOKEN=$1$" && found=$p
  done
  [ -n "$found" ] && printf '%s' "$found"
}
