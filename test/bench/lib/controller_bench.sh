# Shared by the controller benches (sourced after test/e2e/lib/controller.sh): process
# figures, the controller's endpoints, the watchdog, a timed restart and the list floor.

clk=$(getconf CLK_TCK)
rss_kb() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }
cpu_s() { # user + system CPU seconds of pid (fields 14 and 15 of /proc/<pid>/stat)
  sed 's/.*) //' "/proc/$1/stat" | awk -v t="$clk" '{printf "%.2f", ($12 + $13) / t}'
}
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; }
readyz() { curl -fsS -o /dev/null "http://127.0.0.1:$ctl_port/readyz" 2>/dev/null; }
writes() { # the controller's own count of its reconcilers' writes (not the Lease's)
  curl -fsS "http://127.0.0.1:$ctl_port/metrics" |
    awk '$0 !~ /^#/ && $1 ~ /^clawplane_controller_reconcile_requests_total/ && $1 !~ /method="GET"/ {s += $2} END {printf "%d\n", s}'
}
kill_controllers() {
  local p
  for p in "${ctl_pids[@]}"; do kill "$p" 2>/dev/null || true; done
}

# start_watchdog <name> <seconds>: TERMs this script after that long; sets watchdog (kill it
# on exit). Its sleep is its own child, killed with it: left behind it would hold the
# caller's pipe open until it ended.
start_watchdog() {
  ( trap 'kill $sp 2>/dev/null; exit 0' TERM; sleep "$2" & sp=$!; wait $sp
    echo "$1: giving up after ${2}s" >&2; kill -TERM $$ ) &
  watchdog=$!
}

# timed_start <log name> <runtimes> <controller flags...>: starts a controller and waits for
# its caches (/readyz) and its first pass (every runtime reconciled, queue empty); sets
# synced and first_pass (seconds from exec) and synced_cpu (its CPU seconds until synced).
timed_start() {
  local name=$1 runtimes=$2 t
  shift 2
  t=$(now)
  start_controller "$name" "$@"
  until readyz; do sleep 0.05; done
  synced=$(since "$t")
  synced_cpu=$(cpu_s "$ctl_pid")
  until [ "$(metric '^controller_runtime_reconcile_total')" -ge "$runtimes" ] &&
    [ "$(metric '^workqueue_depth')" = 0 ]; do sleep 0.05; done
  first_pass=$(since "$t")
}

# list_floor <namespace> <page>: seconds for kubectl to list the kinds the controller caches
# in pages of that size, every kind at once, as the controller does.
list_floor() {
  local t kind p listers=() sel
  t=$(now)
  for kind in userruntimes pods services networkpolicies persistentvolumeclaims secrets configmaps; do
    sel=(-l app.kubernetes.io/managed-by=clawplane)
    [ "$kind" = userruntimes ] && sel=()
    kubectl -n "$1" get "$kind" "${sel[@]}" --chunk-size="$2" -o name >/dev/null &
    listers+=($!)
  done
  for p in "${listers[@]}"; do wait "$p" || fail "kubectl could not list"; done
  since "$t"
}
