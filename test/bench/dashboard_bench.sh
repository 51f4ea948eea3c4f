#!/usr/bin/env bash
# The dashboard's main page in Chromium: first-load transfer size (gzip on the wire and
# decoded) and the time until the page is on screen and usable, cold and warm cache.
# Not a ctest test; run it by hand:
#
#   hack/local-cluster exec test/bench/dashboard_bench.sh        # build dir: build/default
#   BENCH_BUILD_DIR=build/bench BENCH_RUNS=9 hack/local-cluster exec test/bench/dashboard_bench.sh
#
# Needs: a built tree, the local cluster (the apiserver's informer), PostgreSQL from
# hack/local-postgres (a schema of its own), and what hack/setup installs for the browser
# tests (Debian's chromium, test/browser/node_modules). Also prints the raw sizes of the
# embedded assets (identity and gzip) from the server itself.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${BENCH_BUILD_DIR:-$src/build/default}
bin=$build/bin/clawplane-apiserver
. "$src/test/e2e/lib/apiserver.sh"
suffix=$$
ns=bench-dash-$suffix
schema=bench_dash_$suffix
log=$(mktemp /tmp/clawplane-bench-dash.XXXXXX)
api_pid=
cleanup() {
  [ -n "$api_pid" ] && kill "$api_pid" 2>/dev/null || true
  kubectl delete ns "$ns" --wait=false >/dev/null 2>&1 || true
  pg_schema_drop "$schema"
  rm -f "$log"
}
trap cleanup EXIT
[ -x "$bin" ] || { echo "build first: $bin is missing" >&2; exit 1; }

db_url=$(pg_schema "$schema") || { echo "PostgreSQL did not come up" >&2; exit 1; }
kubectl apply --server-side --force-conflicts -f "$src/crds/" >/dev/null
kubectl create ns "$ns" >/dev/null
CLAWPLANE_BOOTSTRAP_ADMIN=root CLAWPLANE_BOOTSTRAP_PASSWORD=bench-password \
  timeout 600 "$bin" --listen 127.0.0.1:0 --database-url "$db_url" --runtime-namespace "$ns" \
  --password-cost 10 --login-attempts-per-client 100000 --login-attempts-per-user 100000 >"$log" 2>&1 &
api_pid=$!
port=$(api_start_port "$log" "$api_pid") || { echo "apiserver did not start" >&2; exit 1; }
api_ready "http://127.0.0.1:$port" || { echo "apiserver not ready" >&2; exit 1; }
url="http://localhost:$port"

echo "embedded assets of the main page (identity / gzip), as served:"
html=$(curl -s "$url/")
total=0 gz=0
for p in / $(grep -o '/assets/[^"]*' <<<"$html" | sort -u); do
  a=$(curl -s "$url$p" | wc -c)
  z=$(curl -s -H 'Accept-Encoding: gzip' "$url$p" | wc -c)
  total=$((total + a)) gz=$((gz + z))
  printf '  %-40s %7d B  %7d B\n' "$p" "$a" "$z"
done
printf '  %-40s %7d B  %7d B\n' "total" "$total" "$gz"

BENCH_URL="$url" BENCH_USER=root BENCH_PASSWORD=bench-password \
  timeout 300 node "$src/test/browser/bench.mjs"
