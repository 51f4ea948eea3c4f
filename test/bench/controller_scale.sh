#!/usr/bin/env bash
# Controller at scale, on the local control plane (not a ctest test; run it by hand):
#   hack/local-cluster up
#   CP_BUILD_DIR=build/default CP_SOURCE_DIR=$PWD hack/local-cluster exec test/bench/controller_scale.sh [N] [STEADY_SECONDS]
# Creates N UserRuntimes at once (default 100) and prints:
#   - seconds until all N are Ready (kubectl-visible condition),
#   - the controller's peak RSS (VmHWM) and its RSS at steady state,
#   - API writes the controller made during STEADY_SECONDS (default 120) of steady state
#     with a 30 s resync (so every runtime is reconciled several times): must be 0,
#   - reconciles done meanwhile, and the UserRuntimes' resourceVersions unchanged.
set -euo pipefail
n=${1:-100}
steady=${2:-120}
E2E_NAME=bench
. "$(dirname "$0")/../e2e/lib/controller.sh"

setup_namespace
apply_profile "$profile"
start_controller controller --workers 4
say "namespace $ns, controller pid $ctl_pid on :$ctl_port, $n runtimes"

rss_kb() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }
manifest() {
  local i
  for i in $(seq 1 "$n"); do
    printf -- '---\napiVersion: clawplane.io/v1alpha1\nkind: UserRuntime\nmetadata: {name: u%d, namespace: %s}\nspec: {user: u%d, profile: %s}\n' \
      "$i" "$ns" "$i" "$profile"
  done
}
ready_count() {
  kubectl -n "$ns" get ur -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' |
    grep -c '^True$' || true
}

t0=$(date +%s.%N)
manifest | kubectl apply --server-side -f - >/dev/null
until [ "$(ready_count)" -ge "$n" ]; do sleep 0.2; done
t1=$(date +%s.%N)
all_ready=$(echo "$t1 - $t0" | bc)
peak_create=$(rss_kb "$ctl_pid" VmHWM)
say "all $n Ready after ${all_ready}s; peak RSS so far ${peak_create} kB"

sleep 5 # let the last status writes land in the caches
rv_before=$(kubectl -n "$ns" get ur -o jsonpath='{range .items[*]}{.metadata.resourceVersion}{" "}{end}')
w0=$(metric '^clawplane_controller_reconcile_requests_total')
r0=$(metric '^controller_runtime_reconcile_total')
say "steady state for ${steady}s (resync every 30s)"
sleep "$steady"
w1=$(metric '^clawplane_controller_reconcile_requests_total')
r1=$(metric '^controller_runtime_reconcile_total')
rv_after=$(kubectl -n "$ns" get ur -o jsonpath='{range .items[*]}{.metadata.resourceVersion}{" "}{end}')
printf '\nresult: runtimes=%d all_ready_seconds=%s peak_rss_kb=%s steady_rss_kb=%s\n' \
  "$n" "$all_ready" "$(rss_kb "$ctl_pid" VmHWM)" "$(rss_kb "$ctl_pid" VmRSS)"
printf 'result: steady_seconds=%d reconciles=%d writes=%d userruntimes_unchanged=%s\n' \
  "$steady" "$((r1 - r0))" "$((w1 - w0))" "$([ "$rv_before" = "$rv_after" ] && echo yes || echo no)"
[ $((w1 - w0)) = 0 ] || fail "the controller wrote $((w1 - w0)) times at steady state"
