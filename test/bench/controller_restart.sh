#!/usr/bin/env bash
# Controller restarts on runtimes that already exist (not a ctest test; run it by hand on a
# namespace kept by `CP_BENCH_KEEP=1 test/bench/controller_scale.sh N`):
#   CP_BUILD_DIR=build/default CP_SOURCE_DIR=$PWD hack/local-cluster exec test/bench/controller_restart.sh NAMESPACE [RESTARTS]
# Starts the controller RESTARTS times (default 3) on NAMESPACE, one after another, and
# prints for each, on lines starting "result:", the seconds from exec to synced caches
# (/readyz) and to the first pass done (every runtime reconciled, queue empty), the CPU
# seconds until synced, RSS and peak RSS (VmHWM) after the first pass, and the writes of
# the first pass and the 10 s after it (must be 0: nothing changed). Then the list floor:
# kubectl listing the same kinds in the controller's pages, all at once. Same flags as
# controller_scale.sh: CP_BENCH_WORKERS (16), CP_BENCH_QPS (500), CP_BENCH_RESYNC (600);
# CP_BENCH_CTL_FLAGS adds flags (e.g. "--list-page-size 100").
set -euo pipefail
target=${1:?usage: controller_restart.sh NAMESPACE [RESTARTS]}
restarts=${2:-3}
E2E_NAME=restart
. "$(dirname "$0")/../e2e/lib/controller.sh"
. "$(dirname "$0")/lib/controller_bench.sh"
ns=$target
cleanup() { # the namespace is the caller's: only what this script started goes
  kill_controllers
  [ -n "${CP_KEEP_LOGS:-}" ] || rm -rf "$logdir"
}
start_watchdog controller_restart "${CP_BENCH_TIMEOUT:-900}"
trap 'kill $watchdog 2>/dev/null || true; cleanup' EXIT

workers=${CP_BENCH_WORKERS:-16}
qps=${CP_BENCH_QPS:-500}
resync=${CP_BENCH_RESYNC:-600}
page=${CP_BENCH_PAGE:-500}

n=$(kubectl -n "$ns" get ur --no-headers 2>/dev/null | wc -l)
[ "$n" -gt 0 ] || fail "no UserRuntime in namespace $ns"
say "namespace $ns: $n runtimes; $restarts restarts"
for r in $(seq 1 "$restarts"); do
  timed_start "controller$r" "$n" --workers "$workers" --kube-api-qps "$qps" \
    --kube-api-burst "$((qps * 2))" --resync-period "$resync" --leader-election-id "restart-$suffix-$r" ${CP_BENCH_CTL_FLAGS:-}
  sleep 10
  printf 'result: restart=%d runtimes=%d synced_seconds=%s cpu_seconds_to_synced=%s first_pass_seconds=%s rss_kb=%d peak_rss_kb=%d writes=%d\n' \
    "$r" "$n" "$synced" "$synced_cpu" "$first_pass" "$(rss_kb "$ctl_pid" VmRSS)" "$(rss_kb "$ctl_pid" VmHWM)" "$(writes)"
  kill "$ctl_pid"
  wait "$ctl_pid" 2>/dev/null || true
done

floor_s=$(list_floor "$ns" "$page")
printf 'result: list_floor_seconds=%s (kubectl, pages of %d, every kind at once)\n' "$floor_s" "$page"
