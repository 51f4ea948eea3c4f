#!/usr/bin/env bash
# Figures for the real runtime path, measured on the product hack/quickstart brings up
# (run `hack/quickstart` first, as root; this script changes only the demo user's runtime
# and puts it back as it found it):
#   1. cold start: POST .../runtime/start on a Stopped runtime until the UserRuntime is
#      Ready (the real OpenClaw answering /readyz), median of RUNS;
#   2. wake: a Hibernated runtime, from the first request through Traefik to the first
#      answered one (what a user waits for after a night away);
#   3. the latency Traefik and ForwardAuth add per request: GET /healthz on the runtime
#      through Traefik with the session cookie, against the same request straight to the
#      pod, same run, keep-alive both ways; p50 and p90 and their ratio;
#   4. the runtime host's own cost: its daemon's RSS and CPU seconds per minute, and a
#      container shim's RSS, next to the OpenClaw process it runs.
# Usage: test/bench/runtime_bench.sh [RUNS=3] [REQUESTS=300]. Bounded: every wait has a
# timeout, and the script gives up after 20 minutes.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
runs=${1:-3}
requests=${2:-300}
state=${CLAWPLANE_CLUSTER_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/clawplane/cluster}
qs=$state/quickstart
api=http://127.0.0.1:${CLAWPLANE_API_PORT_HTTP:-18082}
tport=${CLAWPLANE_TRAEFIK_PORT:-18000}
client_ip=${CLAWPLANE_CLIENT_IP:-10.240.1.2}
host=demo.runtimes.clawplane.localhost
ns=clawplane-runtimes
eval "$("$root/hack/local-cluster" env)"
[ -s "$qs/demo-password" ] || { echo "run hack/quickstart first" >&2; exit 2; }
( sleep 1200; echo "runtime_bench: giving up after 20 minutes" >&2; kill -TERM $$ ) &
watchdog=$!
trap 'kill $watchdog 2>/dev/null || true; kubectl -n $ns patch ur demo --type=merge --field-manager=bench -p "{\"spec\":{\"idleTimeout\":\"1h\"}}" >/dev/null 2>&1 || true' EXIT

tok=$(curl -fsS -H 'Content-Type: application/json' \
  -d "{\"username\":\"demo\",\"password\":\"$(cat "$qs/demo-password")\"}" "$api/api/v1/auth/login" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
call() { curl -fsS -X POST -H "Authorization: Bearer $tok" "$api/api/v1/users/demo/runtime/$1" >/dev/null; }
phase() { kubectl -n $ns get ur demo -o jsonpath='{.status.phase}'; }
ready() { [ "$(kubectl -n $ns get ur demo -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]; }
until_true() { # until_true <seconds> <cmd...>
  local end=$((SECONDS + $1))
  shift
  until "$@"; do
    [ $SECONDS -lt $end ] || return 1
    sleep 0.2
  done
}
now() { date +%s.%N; }

echo "== 1. cold start (stop, then start until Ready), $runs runs"
times=()
for i in $(seq 1 "$runs"); do
  call stop
  until_true 120 bash -c "! kubectl -n $ns get pod demo >/dev/null 2>&1" || { echo "pod did not go"; exit 1; }
  t0=$(now)
  call start
  until_true 300 ready || { echo "not Ready"; exit 1; }
  t=$(python3 -c "print(round($(now) - $t0, 2))")
  times+=("$t")
  echo "  run $i: ${t}s"
done
python3 -c 'import statistics, sys; print("  cold start median: %.2f s" % statistics.median(map(float, sys.argv[1:])))' "${times[@]}"

echo "== 3. added latency of Traefik + ForwardAuth, $requests requests each"
pod_ip=$(kubectl -n $ns get pod demo -o jsonpath='{.status.podIP}')
python3 - "$client_ip" "$tport" "$host" "$tok" "$pod_ip" "$requests" <<'PY'
import http.client, statistics, sys, time
src, port, host, tok, pod, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])
def run(target, tport, headers):
    c = http.client.HTTPConnection(target, tport, timeout=10, source_address=(src, 0))
    lat = []
    for i in range(n + 20):
        t = time.perf_counter()
        c.request("GET", "/healthz", headers=headers)
        r = c.getresponse()
        r.read()
        if r.status != 200:
            raise SystemExit("GET /healthz via %s: %d" % (target, r.status))
        if i >= 20:  # warm-up
            lat.append((time.perf_counter() - t) * 1000)
    c.close()
    lat.sort()
    return statistics.median(lat), lat[int(len(lat) * 0.9)]
d50, d90 = run(pod, 18789, {})
t50, t90 = run(src, port, {"Host": "%s:%d" % (host, port), "Cookie": "clawplane_session=" + tok})
print("  straight to the pod:           p50 %.2f ms  p90 %.2f ms" % (d50, d90))
print("  through Traefik + ForwardAuth: p50 %.2f ms  p90 %.2f ms" % (t50, t90))
print("  added by the ingress path:     p50 +%.2f ms (x%.1f)" % (t50 - d50, t50 / d50))
PY

echo "== 2. wake from hibernation to the first answered request through Traefik"
kubectl -n $ns patch ur demo --type=merge --field-manager=bench -p '{"spec":{"idleTimeout":"3s"}}' >/dev/null
until_true 120 bash -c "[ \"\$(kubectl -n $ns get ur demo -o jsonpath='{.status.phase}')\" = Hibernated ]" ||
  { echo "did not hibernate"; exit 1; }
kubectl -n $ns patch ur demo --type=merge --field-manager=bench -p '{"spec":{"idleTimeout":"1h"}}' >/dev/null
until_true 60 bash -c "! kubectl -n $ns get pod demo >/dev/null 2>&1"
t0=$(now)
first=""
until [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --resolve "$host:$tport:$client_ip" \
  --interface "$client_ip" -H "Cookie: clawplane_session=$tok" "http://$host:$tport/v1/models")" = 200 ]; do
  [ -n "$first" ] || first=$(python3 -c "print(round($(now) - $t0, 3))")
  python3 -c "import sys; sys.exit(0 if $(now) - $t0 < 300 else 1)" || { echo "did not wake"; exit 1; }
  sleep 0.5
done
echo "  first request answered 'starting' in ${first:-0}s; first answered request after $(python3 -c "print(round($(now) - $t0, 2))")s"

echo "== 4. the runtime host's own cost"
daemon=$(pgrep -f "hack/runtime-host daemon" | head -1)
shim=$(pgrep -f "runtime_host/shim.py" | head -1)
gw=$(pgrep -f '^openclaw-gateway' | head -1) # the gateway names its process
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
c0=$(cpu "$daemon")
sleep 60
c1=$(cpu "$daemon")
hz=$(getconf CLK_TCK)
echo "  daemon: RSS $(($(rss "$daemon") / 1024)) MB, CPU $(python3 -c "print(round(($c1 - $c0) / $hz, 2))") s per minute (one runtime, probes every few seconds)"
echo "  container shim: RSS $(($(rss "$shim") / 1024)) MB; the OpenClaw process it runs: RSS $(($(rss "$gw") / 1024)) MB"
