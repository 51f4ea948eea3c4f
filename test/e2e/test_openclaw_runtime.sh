#!/usr/bin/env bash
# One real turn of a conversation, every part a real program: the local control plane,
# PostgreSQL, clawplane-apiserver, clawplane-controller, clawplane-modelproxy in front of
# a local OpenAI-compatible upstream, Traefik (built from Go modules, its Kubernetes CRD
# provider reading the routes the controller made) and the runtime host (hack/, the
# stand-in for the kubelet) running the pinned OpenClaw under the pinned Node 24.
#
# As a user would see it: log in, start the runtime, it becomes Ready only when OpenClaw
# answers; through Traefik with the session cookie the Control UI loads and its WebSocket
# upgrades; a chat completion through Traefik is answered by the OpenClaw agent, which
# called the model through the model proxy with the runtime's own key, and the usage is
# recorded for that user; another user's session is refused at Traefik; a request straight
# to the pod from an untrusted address is refused by OpenClaw itself; after hibernation the
# process is gone, a browser gets a "starting" page, and the runtime wakes and answers;
# what the agent wrote survives. A wrong model URL shows as a condition, not a silent Ready.
#
# Private instances throughout (runtime host node, addresses, Traefik, schema), so this
# runs beside the other suites. Needs root (the runtime host makes network namespaces).
E2E_NAME=oc
. "$(dirname "$0")/lib/controller.sh"
. "$src/test/e2e/lib/apiserver.sh"

[ "$(id -u)" = 0 ] || { echo "SKIP: the runtime host needs root"; exit 0; }
n=$((suffix % 200 + 20))
node_ip=10.240.$n.1
client_ip=10.240.$n.2 # where a "browser" on this machine comes from: not loopback, not the proxy
export CLAWPLANE_RUNTIME_NODE=cp-oc-$suffix CLAWPLANE_RUNTIME_NODE_IP=$node_ip
export CLAWPLANE_RUNTIME_POD_CIDR=10.246.$n.0/24 CLAWPLANE_RUNTIME_PREFIX=oc$((suffix % 1000))
export CLAWPLANE_RUNTIME_STATE_DIR=$logdir/runtime-host
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export CLAWPLANE_RUNTIME_KUBELET_PORT=$(free_port)
export CLAWPLANE_TRAEFIK_DIR=$logdir/traefik CLAWPLANE_TRAEFIK_ADDRESS=0.0.0.0
export CLAWPLANE_TRAEFIK_PORT=$(free_port) CLAWPLANE_TRAEFIK_ADMIN_PORT=$(free_port)
tport=$CLAWPLANE_TRAEFIK_PORT
domain=runtimes.localhost
schema=e2e_oc_$suffix
pids=()
admin_pw="admin-password-$suffix"

oc_cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  "$src/hack/local-traefik" down >/dev/null 2>&1 || true
  kubectl delete ns "$ns" --wait=false >/dev/null 2>&1 || true
  "$src/hack/runtime-host" down >/dev/null 2>&1 || true
  ip addr del "$client_ip/32" dev lo 2>/dev/null || true
  pg_schema_drop "$schema"
  cleanup
}
trap oc_cleanup EXIT
oc_fail() {
  {
    echo "--- runtime host"
    "$src/hack/runtime-host" status 2>&1 | tail -20
    "$src/hack/runtime-host" logs "$ns/alice" openclaw 2>&1 | tail -40
    "$src/hack/runtime-host" logs "$ns/alice" config 2>&1 | tail -20
    for f in apiserver modelproxy upstream; do echo "--- $f"; tail -n 20 "$logdir/$f.log"; done
    echo "--- traefik access"; tail -n 10 "$CLAWPLANE_TRAEFIK_DIR/access.log"
  } >&2 2>/dev/null || true
  fail "$@"
}

say "runtime host $CLAWPLANE_RUNTIME_NODE on $node_ip, Traefik on :$tport"
"$src/hack/runtime-host" up >/dev/null || oc_fail "the runtime host did not start"
ip addr add "$client_ip/32" dev lo
setup_namespace

say "model upstream and model proxy (on the node address, where pods reach it)"
upkey="sk-upstream-$(openssl rand -hex 16)"
python3 "$src/hack/local-model" --key "$upkey" >"$logdir/upstream.log" 2>&1 &
pids+=($!)
up_port=""
for _ in $(seq 1 50); do
  up_port=$(grep -o 'listening on [0-9]*' "$logdir/upstream.log" | grep -o '[0-9]*$' || true)
  [ -n "$up_port" ] && break
  sleep 0.1
done
[ -n "$up_port" ] || oc_fail "upstream did not start"
db_url=$(pg_schema "$schema") || oc_fail "no PostgreSQL"
cat >"$logdir/mp.yaml" <<YAML
upstreams:
  - {name: local, baseURL: "http://127.0.0.1:$up_port/v1", apiKeyEnv: OC_E2E_UPSTREAM_KEY}
models:
  - {name: gpt-e2e, upstream: local, upstreamModel: echo, price: {prompt: "1.00", completion: "2.00"}}
defaults:
  allowedModels: ["*"]
  requestsPerMinute: 1000
  maxConcurrentStreams: 8
YAML
OC_E2E_UPSTREAM_KEY="$upkey" "$build/bin/clawplane-modelproxy" --config "$logdir/mp.yaml" \
  --http-address "$node_ip:0" --namespace "$ns" --database-url "$db_url" \
  --activity-interval 1 --quota-refresh 1 >"$logdir/modelproxy.log" 2>&1 &
pids+=($!)
mp_port=""
for _ in $(seq 1 100); do
  mp_port=$(grep -o '"port":"[0-9]*"' "$logdir/modelproxy.log" | head -1 | grep -o '[0-9]\+' || true)
  [ -n "$mp_port" ] && curl -fsS "http://$node_ip:$mp_port/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "http://$node_ip:$mp_port/readyz" >/dev/null || oc_fail "model proxy not ready"

say "apiserver, controller, Traefik"
CLAWPLANE_BOOTSTRAP_ADMIN=root CLAWPLANE_BOOTSTRAP_PASSWORD="$admin_pw" \
  "$build/bin/clawplane-apiserver" --listen 127.0.0.1:0 --database-url "$db_url" \
  --runtime-namespace "$ns" --default-profile "$profile" --password-cost 10 \
  --runtime-host-suffix ".$domain" --activity-interval-seconds 1 \
  --cookie-domain "$domain" --cookie-secure false \
  >"$logdir/apiserver.log" 2>&1 &
api_pid=$!
pids+=($api_pid)
api_port=$(api_start_port "$logdir/apiserver.log" "$api_pid") || oc_fail "apiserver did not start"
api="http://127.0.0.1:$api_port"
api_ready "$api" || oc_fail "apiserver not ready"

runtime_image=ghcr.io/openclaw/openclaw:$(. "$src/hack/versions.env" && echo "$OPENCLAW_VERSION")
profile_lines=(
  "placement:"
  "  nodeSelector: {kubernetes.io/hostname: $CLAWPLANE_RUNTIME_NODE}"
  "  tolerations: [{key: clawplane.io/runtime-host, operator: Exists, effect: NoSchedule}]"
  "modelProxy: {url: \"http://$node_ip:$mp_port/v1\", model: gpt-e2e}"
  "ingress: {trustedProxies: [\"$node_ip\"]}"
  "idleTimeout: 0s"
)
apply_profile "$profile" "${profile_lines[@]}"
kubectl patch runtimeprofile "$profile" --type=merge \
  -p "{\"spec\":{\"image\":\"$runtime_image\",\"resources\":{\"requests\":{\"cpu\":\"100m\",\"memory\":\"512Mi\"},\"limits\":{\"cpu\":\"2\",\"memory\":\"2Gi\"}}}}" >/dev/null
start_controller controller --runtime-origin "http://$domain:$tport" \
  --forward-auth-url "$api/internal/auth/forward" --route-entrypoints web
"$src/hack/local-traefik" up >/dev/null || oc_fail "Traefik did not start"

say "users: alice and bob log in"
jar_root=$logdir/root.jar jar_a=$logdir/alice.jar jar_b=$logdir/bob.jar
login() { # login <user> <password> <cookie file>: keeps the session cookie, prints the token
  api_call 200 -D "$3.hdrs" -X POST -H 'Content-Type: application/json' \
    --data "{\"username\":\"$1\",\"password\":\"$2\"}" "$api/api/v1/auth/login" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])'
}
root_tok=$(login root "$admin_pw" "$jar_root") || oc_fail "admin login"
for u in alice bob; do
  api_call 201 -H "Authorization: Bearer $root_tok" -X POST -H 'Content-Type: application/json' \
    --data "{\"username\":\"$u\",\"password\":\"pw-$u-$suffix\"}" "$api/api/v1/users" >/dev/null ||
    oc_fail "create $u"
done
alice_tok=$(login alice "pw-alice-$suffix" "$jar_a") || oc_fail "alice login"
login bob "pw-bob-$suffix" "$jar_b" >/dev/null || oc_fail "bob login"
# The browser's view: the cookie the login set, which covers the runtime hosts.
for j in "$jar_a" "$jar_b"; do
  sc=$(grep -i '^set-cookie: clawplane_session=' "$j.hdrs" | tr -d '\r')
  grep -q "; Domain=$domain;" <<<"$sc" || oc_fail "the session cookie does not cover $domain: $sc"
  grep -q "; Secure" <<<"$sc" && oc_fail "--cookie-secure false still sets Secure: $sc"
  sed -e 's/^[^:]*: //' -e 's/;.*//' <<<"$sc" >"$j"
done
ok "admin created alice and bob; both have sessions"

say "alice starts her runtime: Ready only when the real OpenClaw answers"
t0=$SECONDS
api_call 200 -H "Authorization: Bearer $alice_tok" -X POST "$api/api/v1/users/alice/runtime/start" >/dev/null ||
  oc_fail "start"
kubectl -n "$ns" wait --for=condition=Ready ur/alice --timeout=360s >/dev/null ||
  oc_fail "alice's runtime did not become Ready"
cold=$((SECONDS - t0))
pod_ip=$(jp pod/alice '{.status.podIP}')
# From an address that is not the trusted proxy (from the proxy's own, OpenClaw wants a
# forwarded client and answers 403).
[ "$(curl -s --interface "$client_ip" -o /dev/null -w '%{http_code}' "http://$pod_ip:18789/readyz")" = 200 ] ||
  oc_fail "UserRuntime Ready but OpenClaw at $pod_ip does not answer /readyz"
[ "$(jp pod/alice '{.spec.nodeName}')" = "$CLAWPLANE_RUNTIME_NODE" ] || oc_fail "pod not on the runtime host"
ok "Ready in ${cold}s; OpenClaw answers /readyz at $pod_ip"
cfg=$(kubectl -n "$ns" get cm alice-openclaw -o jsonpath='{.data.platform\.json}')
grep -q '"${OPENAI_API_KEY}"' <<<"$cfg" || oc_fail "the model key is not a reference in the ConfigMap"
mptoken=$(kubectl -n "$ns" get secret alice-credentials -o jsonpath='{.data.modelproxy-token}' | base64 -d)
grep -q "$mptoken" <<<"$cfg" && oc_fail "the model key is in the ConfigMap"
ok "the rendered configuration holds a reference to the model key, never the key"

via() { # via <cookie jar|-> <path> [curl args...]: a request through Traefik as a browser host
  local jar=$1 path=$2
  shift 2
  local args=(-s --max-time 60 --resolve "alice.$domain:$tport:$client_ip" --interface "$client_ip")
  [ "$jar" != - ] && args+=(-H "Cookie: $(cat "$jar")")
  curl "${args[@]}" "$@" "http://alice.$domain:$tport$path"
}

say "through Traefik: the Control UI, its WebSocket, and no one else"
code=$(via "$jar_a" / -o "$logdir/ui.html" -w '%{http_code}' -H 'Accept: text/html')
[ "$code" = 200 ] || oc_fail "Control UI through Traefik answered $code"
grep -qi "openclaw" "$logdir/ui.html" || oc_fail "the page is not OpenClaw's Control UI"
ok "the Control UI loads through Traefik with alice's session"
ws=$(python3 - "$client_ip" "$tport" "alice.$domain" "$(cat "$jar_a")" <<'PY'
import base64, os, socket, sys
src, port, host, cookie = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = socket.create_connection((src, port), timeout=20, source_address=(src, 0))
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(("GET / HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nOrigin: http://%s:%d\r\n"
           "Cookie: %s\r\n\r\n" % (host, port, key, host, port, cookie)).encode())
print(s.recv(4096).decode("latin-1").split("\r\n")[0])
PY
)
case "$ws" in *" 101 "*) ;; *) oc_fail "WebSocket upgrade through Traefik: $ws" ;; esac
ok "the WebSocket upgrades through Traefik ($ws)"
code=$(via "$jar_b" /v1/models -o /dev/null -w '%{http_code}')
[ "$code" = 403 ] || oc_fail "bob reached alice's runtime: $code"
code=$(via - /v1/models -o /dev/null -w '%{http_code}' -H 'X-Clawplane-User: alice')
[ "$code" = 401 ] || oc_fail "no session but a forged identity header: $code"
ok "bob's session is refused at Traefik (403); a forged identity header without a session gets 401"
out=$(curl -s --max-time 10 --interface "$client_ip" -H 'X-Clawplane-User: alice' \
  -H "X-Forwarded-For: $client_ip" -w ' %{http_code}' "http://$pod_ip:18789/v1/models")
case "$out" in *" 401" | *" 403") ;; *) oc_fail "OpenClaw served an untrusted direct request: $out" ;; esac
ok "straight to the pod from an untrusted address, OpenClaw itself refuses (${out##* })"

say "one turn of a conversation through Traefik, answered by the OpenClaw agent via the model proxy"
word="pineapple-$suffix"
t1=$SECONDS
via "$jar_a" /v1/chat/completions -o "$logdir/chat.json" -w '%{http_code}' \
  -H 'Content-Type: application/json' \
  --data "{\"model\":\"openclaw\",\"user\":\"e2e\",\"messages\":[{\"role\":\"user\",\"content\":\"Repeat: $word\"}]}" \
  >"$logdir/chat.code" || true
[ "$(cat "$logdir/chat.code")" = 200 ] || oc_fail "chat through Traefik: $(cat "$logdir/chat.code") $(head -c 600 "$logdir/chat.json")"
python3 - "$logdir/chat.json" "$word" <<'PY' || oc_fail "the answer is not the agent's: $(head -c 600 "$logdir/chat.json")"
import json, sys
d = json.load(open(sys.argv[1]))
text = d["choices"][0]["message"]["content"]
assert sys.argv[2] in text, text
PY
ok "the agent answered in $((SECONDS - t1))s with the model's reply"
curl -s "http://127.0.0.1:$up_port/_events" >"$logdir/upstream-events.json"
grep -q "$word" "$logdir/upstream-events.json" 2>/dev/null ||
  python3 -c 'import json,sys; e=json.load(open(sys.argv[1])); assert any(x.get("kind")=="request" for x in (e if isinstance(e,list) else e.get("events",[])))' "$logdir/upstream-events.json" ||
  oc_fail "the upstream saw no request"
grep -q "$mptoken" "$logdir/upstream-events.json" && oc_fail "the runtime's key reached the upstream"
end=$((SECONDS + 30))
until usage=$(curl -s -H "Authorization: Bearer $alice_tok" "$api/api/v1/users/alice/usage") &&
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); t=json.dumps(d); assert "gpt-e2e" in t, t' "$usage" 2>/dev/null; do
  [ $SECONDS -lt $end ] || oc_fail "no usage recorded for alice: $usage"
  sleep 1
done
ok "usage for gpt-e2e is recorded for alice; the upstream saw the proxy's key, never the runtime's"

pv=$(kubectl -n "$ns" get pvc alice-state -o jsonpath='{.spec.volumeName}')
state=$(kubectl get pv "$pv" -o jsonpath='{.spec.hostPath.path}')
[ -d "$state" ] || oc_fail "no hostPath directory for alice's volume ($pv)"
written=$(grep -rl "$word" "$state" 2>/dev/null | head -1 || true)
[ -n "$written" ] || oc_fail "the agent wrote nothing about the turn into alice's state ($state)"
ok "the agent's session transcript is on alice's volume: ${written#"$state"/}"

say "hibernation: the process goes, a browser sees a starting page, the runtime wakes"
kubectl -n "$ns" patch ur alice --type=merge --field-manager=e2e -p '{"spec":{"idleTimeout":"10s"}}' >/dev/null
wait_for 120 "alice hibernates" field_is ur/alice '{.status.phase}' Hibernated
kubectl -n "$ns" patch ur alice --type=merge --field-manager=e2e -p '{"spec":{"idleTimeout":"1h"}}' >/dev/null
wait_for 60 "the pod is gone" absent pod/alice
grep -q "^$CLAWPLANE_RUNTIME_PREFIX" <<<"$(ip netns list)" && oc_fail "a network namespace of the hibernated pod is left"
grep -q "$state" <<<"$(pgrep -f "openclaw.mjs gateway" -a)" && oc_fail "an OpenClaw process is left"
ok "Hibernated: no pod, no network namespace, no process"
code=$(via "$jar_a" / -o "$logdir/starting.html" -w '%{http_code}' -H 'Accept: text/html')
[ "$code" = 503 ] && grep -q "starting" "$logdir/starting.html" ||
  oc_fail "a browser during the wake got $code: $(head -c 300 "$logdir/starting.html")"
ok "a browser gets the starting page (503, reloads itself) while the runtime wakes"
t2=$SECONDS
end=$((SECONDS + 360))
until [ "$(via "$jar_a" /v1/models -o /dev/null -w '%{http_code}')" = 200 ]; do
  [ $SECONDS -lt $end ] || oc_fail "the runtime did not wake"
  sleep 2
done
ok "woke and answered through Traefik $((SECONDS - t2))s after the first request"
grep -rq "$word" "$state" || oc_fail "the transcript did not survive the restart"
ok "what the agent wrote survived the stop and start"

say "a wrong model URL is a condition, not a silent Ready"
kubectl patch runtimeprofile "$profile" --type=merge \
  -p '{"spec":{"modelProxy":{"url":"http://model-proxy.invalid:8080/v1"}}}' >/dev/null
wait_for 240 "Degraded for the bad model URL" \
  bash -c "[ \"\$(kubectl -n $ns get ur/alice -o jsonpath='{.status.conditions[?(@.type==\"Degraded\")].status}')\" = True ]"
msg=$(cond alice Degraded message)
grep -qi "model" <<<"$msg" || oc_fail "Degraded does not name the model proxy: $msg"
[ "$(cond alice Ready status)" != True ] || oc_fail "Ready with a wrong model URL"
ok "Degraded ($(cond alice Degraded reason)): $msg"

still_alive "$ctl_pid"
echo "figures: cold start to Ready ${cold}s"
echo "PASS: $checks checks"
