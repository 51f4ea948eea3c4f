#!/usr/bin/env bash
# Model proxy benchmark (not a ctest test; run it by hand after a build):
#   CP_BUILD_DIR=build/default CP_SOURCE_DIR=$PWD test/bench/modelproxy_bench.sh
# Environment: DURATION seconds per latency run [10], CONNS connections [32], STREAMS
# concurrent streams [1000], LITELLM=0 to skip LiteLLM (otherwise installed with pip into
# the venv the LiteLLM e2e test uses, under ${CLAWPLANE_CACHE:-~/.cache/clawplane}).
#
# One run measures, against the same fast C upstream (modelproxy_upstream.c, built here
# against libclawplane), with wrk and a POST script:
#   1. non-streamed chat completions straight to the upstream: p50, p99, req/s;
#   2. the same through clawplane-modelproxy (auth, policy, usage accounting in memory):
#      p50, p99, req/s, and the added latency (through minus straight);
#   3. the same through LiteLLM's proxy (litellm[proxy] from PyPI, one worker);
#   4. STREAMS concurrent streams (10 chunks, 500 ms apart) through the proxy for 20 s: peak
#      streams in flight (clawplane_modelproxy_active_streams), streams completed, the proxy's RSS
#      before and its peak RSS (VmHWM);
#   5. the same streams through LiteLLM, with its peak RSS, for comparison.
set -euo pipefail
build=$(cd "${CP_BUILD_DIR:?}" && pwd)
src=$(cd "${CP_SOURCE_DIR:?}" && pwd)
duration=${DURATION:-10}
conns=${CONNS:-32}
streams=${STREAMS:-1000}
work=$(mktemp -d /tmp/clawplane-mp-bench.XXXXXX)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
say() { printf '== %s\n' "$*" >&2; }
command -v wrk >/dev/null || { echo "wrk is required (hack/setup installs it)" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)" || true

say "building the benchmark upstream"
cc -O2 -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -I"$src/lib" \
  $(pkg-config --cflags libcjson) "$src/test/bench/modelproxy_upstream.c" "$build/lib/libclawplane.a" \
  -lhttp_parser $(pkg-config --libs libuv libcurl libcjson yaml-0.1 openssl libpq) -lpthread -lm \
  -o "$work/upstream"

wait_line() { # wait_line <file> <regex>: prints the first match
  local i
  for i in $(seq 1 600); do
    grep -o -m1 -E "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "timed out waiting for $2 in $1" >&2
  tail -5 "$1" >&2
  return 1
}

"$work/upstream" 0 10 500 >"$work/upstream.log" 2>&1 &
pids+=($!)
up_port=$(wait_line "$work/upstream.log" 'listening on [0-9]+' | grep -o '[0-9]*$')

token=$(openssl rand -hex 32)
echo "$token bench bench" >"$work/tokens"
cat >"$work/proxy.yaml" <<YAML
upstreams:
  - {name: bench, baseURL: "http://127.0.0.1:$up_port/v1", apiKeyEnv: MP_BENCH_KEY}
models:
  - {name: bench, upstream: bench, price: {prompt: "0.15", completion: "0.60"}}
YAML
MP_BENCH_KEY=sk-bench-upstream "$build/bin/clawplane-modelproxy" --config "$work/proxy.yaml" \
  --no-kube --tokens-file "$work/tokens" --http-address 127.0.0.1:0 >"$work/proxy.log" 2>&1 &
proxy_pid=$!
pids+=($proxy_pid)
proxy_port=$(wait_line "$work/proxy.log" '"port":"[0-9]+"' | grep -o '[0-9]\+')

# to_ms <wrk latency like 1.23ms / 850.00us / 1.01s>
to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'; }
# run_wrk <label> <url> <token> [connections]: prints "label p50_ms p99_ms req_s errors"
run_wrk() {
  local out c=${4:-$conns} t=2
  [ "$c" -lt 2 ] && t=1
  out=$(MP_TOKEN=$3 MP_STREAM=0 wrk -t$t -c"$c" -d"${duration}s" --latency \
    -s "$src/test/bench/modelproxy_post.lua" "$2/v1/chat/completions" 2>&1)
  local p50 p99 rps errs
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  errs=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  printf '%s %s %s %s %s\n' "$1" "$(to_ms "$p50")" "$(to_ms "$p99")" "$rps" "${errs:-0}"
}

say "warm-up"
MP_TOKEN=$token MP_STREAM=0 wrk -t1 -c4 -d2s -s "$src/test/bench/modelproxy_post.lua" \
  "http://127.0.0.1:$proxy_port/v1/chat/completions" >/dev/null
say "latency: 1 and $conns connections, ${duration}s each"
direct1=$(run_wrk direct "http://127.0.0.1:$up_port" "" 1)
proxied1=$(run_wrk modelproxy "http://127.0.0.1:$proxy_port" "$token" 1)
direct=$(run_wrk direct "http://127.0.0.1:$up_port" "")
proxied=$(run_wrk modelproxy "http://127.0.0.1:$proxy_port" "$token")

litellm_line=""
litellm1=""
ll_port=""
if [ "${LITELLM:-1}" != 0 ]; then
  venv="${CLAWPLANE_CACHE:-$HOME/.cache/clawplane}/modelproxy-litellm-venv" # shared with the e2e
  if ! "$venv/bin/litellm" --version >/dev/null 2>&1; then
    say "installing litellm[proxy] into $venv (once)"
    { mkdir -p "$(dirname "$venv")" && python3 -m venv "$venv" &&
      "$venv/bin/pip" install --quiet --disable-pip-version-check \
        -r "$src/test/e2e/modelproxy_litellm_requirements.txt"; } || say "litellm did not install; skipping it"
  fi
  if "$venv/bin/litellm" --version >/dev/null 2>&1; then
    ll_key="sk-$(openssl rand -hex 24)"
    ll_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    cat >"$work/litellm.yaml" <<YAML
model_list:
  - model_name: bench
    litellm_params: {model: openai/bench, api_base: "http://127.0.0.1:$up_port/v1", api_key: sk-bench-upstream}
YAML
    say "starting LiteLLM's proxy (one worker)"
    LITELLM_MASTER_KEY=$ll_key LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_TELEMETRY=False \
      "$venv/bin/litellm" --config "$work/litellm.yaml" --host 127.0.0.1 --port "$ll_port" \
      --num_workers 1 >"$work/litellm.log" 2>&1 &
    ll_pid=$!
    pids+=($ll_pid)
    for _ in $(seq 1 300); do
      curl -fs "http://127.0.0.1:$ll_port/health/liveliness" >/dev/null 2>&1 && break
      sleep 0.5
    done
    if curl -fs "http://127.0.0.1:$ll_port/health/liveliness" >/dev/null 2>&1; then
      MP_TOKEN=$ll_key MP_STREAM=0 wrk -t1 -c4 -d2s -s "$src/test/bench/modelproxy_post.lua" \
        "http://127.0.0.1:$ll_port/v1/chat/completions" >/dev/null
      litellm1=$(run_wrk litellm "http://127.0.0.1:$ll_port" "$ll_key" 1)
      litellm_line=$(run_wrk litellm "http://127.0.0.1:$ll_port" "$ll_key")
    else
      say "LiteLLM did not become healthy; skipping it"
      ll_port=""
    fi
  fi
fi

rss() { awk -v k="$2:" '$1 == k {print int($2 / 1024)}' "/proc/$1/status"; }
metric() { curl -fsS "http://127.0.0.1:$proxy_port/metrics" | awk -v m="$1" '$1 == m {print int($2)}'; }
# streams <label> <url> <token> <pid> <metrics?>: prints "label peak_streams done rss_before peak_rss"
run_streams() {
  local before peak=0 cur out
  before=$(rss "$4" VmRSS)
  MP_TOKEN=$3 MP_STREAM=1 wrk -t2 -c"$streams" -d20s --timeout 30s \
    -s "$src/test/bench/modelproxy_post.lua" "$2/v1/chat/completions" >"$work/streams.out" 2>&1 &
  local w=$!
  while kill -0 "$w" 2>/dev/null; do
    if [ "$5" = 1 ]; then
      cur=$(metric clawplane_modelproxy_active_streams || echo 0)
      [ "${cur:-0}" -gt "$peak" ] && peak=$cur
    fi
    sleep 0.5
  done
  wait "$w" || true
  local done_n non2xx
  done_n=$(awk '/requests in/ {print $1}' "$work/streams.out")
  non2xx=$(awk '/Non-2xx/ {print $5}' "$work/streams.out")
  [ "$5" = 1 ] || peak=n/a
  printf '%s %s %s %s %s %s\n' "$1" "$peak" "$done_n" "$before" "$(rss "$4" VmHWM)" "${non2xx:-0}"
}
say "streams: $streams concurrent, 10 chunks 500 ms apart, 20 s"
streams_proxy=$(run_streams modelproxy "http://127.0.0.1:$proxy_port" "$token" "$proxy_pid" 1)
streams_ll=""
if [ -n "$ll_port" ]; then
  say "streams through LiteLLM"
  streams_ll=$(run_streams litellm "http://127.0.0.1:$ll_port" "$ll_key" "$ll_pid" 0)
fi

table() { # table <connections> <direct> <proxied> <litellm or "">
  echo
  echo "non-streamed chat completions, $1 connection(s), ${duration}s per run, $(nproc) CPUs"
  printf '%-12s %10s %10s %12s %8s\n' path p50_ms p99_ms req_per_s non2xx
  local line
  for line in "$2" "$3" "$4"; do
    # shellcheck disable=SC2086
    [ -n "$line" ] && printf '%-12s %10s %10s %12s %8s\n' $line
  done
  local d50 d99 p50 p99 l50 l99
  read -r _ d50 d99 _ _ <<<"$2"
  read -r _ p50 p99 _ _ <<<"$3"
  printf 'added by clawplane-modelproxy: p50 %+.3f ms, p99 %+.3f ms\n' \
    "$(echo "$p50 - $d50" | bc -l)" "$(echo "$p99 - $d99" | bc -l)"
  if [ -n "$4" ]; then
    read -r _ l50 l99 _ _ <<<"$4"
    printf 'added by LiteLLM proxy:        p50 %+.3f ms, p99 %+.3f ms\n' \
      "$(echo "$l50 - $d50" | bc -l)" "$(echo "$l99 - $d99" | bc -l)"
  fi
  return 0
}
table 1 "$direct1" "$proxied1" "${litellm1:-}"
table "$conns" "$direct" "$proxied" "$litellm_line"
echo
echo "concurrent streams ($streams clients, 10 chunks x 500 ms each, 20 s)"
printf '%-12s %14s %14s %14s %14s %8s\n' path peak_in_flight streams_done rss_before_MiB peak_rss_MiB non2xx
# shellcheck disable=SC2086
printf '%-12s %14s %14s %14s %14s %8s\n' $streams_proxy
# shellcheck disable=SC2086
[ -n "$streams_ll" ] && printf '%-12s %14s %14s %14s %14s %8s\n' $streams_ll
true
