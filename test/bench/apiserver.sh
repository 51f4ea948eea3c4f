#!/usr/bin/env bash
# Benchmark of clawplane-apiserver's two hot paths, with wrk as the load generator in a
# second process: GET /api/v1/users/me/runtime (answered from the UserRuntime watch cache)
# and /internal/auth/forward (Traefik's per-request check), at 1 and 64 connections,
# with the session cache on (the default, 5 s) and off (every request asks PostgreSQL).
# Prints requests/s, p50 and p99 per case. Not a ctest test; run it by hand:
#
#   hack/local-cluster exec test/bench/apiserver.sh            # build dir: build/bench
#   BENCH_BUILD_DIR=build/dev BENCH_SECONDS=20 hack/local-cluster exec test/bench/apiserver.sh
#
# Needs: a built tree (Release or RelWithDebInfo, not sanitized), the local cluster (or any
# cluster $KUBECONFIG points at, with the CRDs), PostgreSQL from hack/local-postgres (started
# here, in a schema of its own), wrk and jq. BENCH_THREADS sets the apiserver's workers.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${BENCH_BUILD_DIR:-$src/build/bench}
secs=${BENCH_SECONDS:-10}
workers=${BENCH_THREADS:-8}
bin=$build/bin/clawplane-apiserver
pgctl=$src/hack/local-postgres
suffix=$$
ns=bench-api-$suffix
schema=bench_api_$suffix
log=$(mktemp /tmp/clawplane-bench-api.XXXXXX)
api_pid=

if [ ! -x "$bin" ]; then
  echo "building into $build" >&2
  cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  ninja -C "$build" clawplane-apiserver >/dev/null
fi
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }

cleanup() {
  [ -n "$api_pid" ] && kill "$api_pid" 2>/dev/null && wait "$api_pid" 2>/dev/null || true
  kubectl delete ns "$ns" --wait=false >/dev/null 2>&1 || true
  "$pgctl" exec psql -X -q -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
  rm -f "$log" "$log.lua"
}
trap cleanup EXIT

"$pgctl" up >/dev/null
"$pgctl" exec psql -X -q -v ON_ERROR_STOP=1 -c "CREATE SCHEMA $schema" >/dev/null
db_url="$("$pgctl" env | sed -n 's/^export DATABASE_URL=//p')&options=-csearch_path%3D$schema"
kubectl apply --server-side --force-conflicts -f "$src/crds/" >/dev/null
kubectl create ns "$ns" >/dev/null

start() { # start <session cache seconds>
  [ -n "$api_pid" ] && { kill "$api_pid"; wait "$api_pid" 2>/dev/null || true; }
  : >"$log"
  CLAWPLANE_BOOTSTRAP_ADMIN=root CLAWPLANE_BOOTSTRAP_PASSWORD=bench-password \
    "$bin" --listen 127.0.0.1:0 --database-url "$db_url" --runtime-namespace "$ns" \
    --workers "$workers" --session-cache-seconds "$1" --log-level info --password-cost 12 \
    --login-attempts-per-client 100000 --login-attempts-per-user 100000 >"$log" 2>&1 &
  api_pid=$!
  port=
  local i
  for i in $(seq 1 100); do
    port=$(grep -o '"msg":"serving the API".*"port":"[0-9]*"' "$log" | grep -o '"port":"[0-9]*"' | grep -o '[0-9]\+' || true)
    [ -n "$port" ] && curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0
    kill -0 "$api_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "apiserver did not become ready: $(cat "$log")" >&2
  exit 1
}

start 5
tok=$(curl -fsS -X POST -H 'Content-Type: application/json' \
  -d '{"username":"root","password":"bench-password"}' "http://127.0.0.1:$port/api/v1/auth/login" | jq -r .token)
curl -fsS -X PUT -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
  -d '{"state":"Stopped"}' "http://127.0.0.1:$port/api/v1/users/me/runtime" >/dev/null
for i in $(seq 1 50); do
  curl -fsS -H "Authorization: Bearer $tok" "http://127.0.0.1:$port/api/v1/users/me/runtime" >/dev/null 2>&1 && break
  sleep 0.1
done

# wrk prints latencies as 1.23ms / 456.78us / 1.02s; normalize to ms.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
    printf "%.3f", n }'
}

run() { # run <label> <path> <connections> [header...]
  local label=$1 path=$2 conns=$3
  shift 3
  local threads=$((conns < 2 ? 1 : 2))
  local args=(-t "$threads" -c "$conns" -d "${secs}s" --latency -H "Authorization: Bearer $tok")
  local h
  for h in "$@"; do args+=(-H "$h"); done
  local out
  out=$(wrk "${args[@]}" "http://127.0.0.1:$port$path")
  local rps p50 p99 non2xx
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
  p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  printf '%-34s %5s %12s %10s %10s %s\n' "$label" "$conns" "$rps" "$p50" "$p99" \
    "${non2xx:+(non-2xx: $non2xx)}"
}

printf '%-34s %5s %12s %10s %10s\n' "case" "conns" "req/s" "p50 ms" "p99 ms"
for cache in 5 0; do
  start "$cache"
  tag=$([ "$cache" = 0 ] && echo "no session cache" || echo "session cache")
  for c in 1 64; do
    run "GET runtime, $tag" /api/v1/users/me/runtime "$c"
  done
  for c in 1 64; do
    run "forward-auth, $tag" /internal/auth/forward "$c" "X-Forwarded-Host: claw.example.com" \
      "X-Forwarded-Uri: /chat" "X-Forwarded-Proto: https"
  done
done
echo "($(nproc) cores; apiserver workers: $workers; ${secs}s per case; wrk and apiserver on one host)"
