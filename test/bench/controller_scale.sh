#!/usr/bin/env bash
# Controller at scale, on the local control plane (not a ctest test; run it by hand, on a
# fresh cluster with enough kwok nodes, e.g. CLAWPLANE_NODES=20 for 1,000 runtimes; for
# 10,000, CLAWPLANE_NODES=200 CLAWPLANE_KCM_QPS=400 CLAWPLANE_VOLUME_BINDING=0 and
# CP_BENCH_TIMEOUT=6600 (about 95 minutes with the floor, or CP_BENCH_FLOOR=0);
# CLAWPLANE_VOLUME_BINDING=0 takes kube-controller-manager's PV binder, one claim at a time
# and 2-3 a second once thousands exist, out of both the convergence and the floor: claims
# stay Pending and pods run without waiting for them):
#   hack/local-cluster up
#   CP_BUILD_DIR=build/default CP_SOURCE_DIR=$PWD hack/local-cluster exec test/bench/controller_scale.sh [N] [STEADY_SECONDS]
# Creates N UserRuntimes at once (default 100) and prints, each line starting "result:" and
# each phase as soon as it is measured (a run stopped part way keeps what it had):
#   - convergence: seconds until all N are Ready (kubectl-visible condition), the mean
#     reconcile time and each runtime's time from creation to Ready (median, p90, max);
#   - the controller's RSS with no runtime and with N (so bytes per runtime, with its
#     children in the caches), its peak RSS (VmHWM) and its CPU seconds (/proc/<pid>/stat);
#   - what each informer's cache holds (objects, bytes held deflated and the JSON text they
#     stand for, per runtime);
#   - requests by verb counted at the kube-apiserver (apiserver_request_total, so LIST and
#     WATCH count too) for the resources the controller reads or writes, during convergence;
#   - API writes during STEADY_SECONDS (default 120) of steady state with the resync below
#     (30 s: every runtime is reconciled several times): must be 0;
#   - restart: seconds from exec to synced caches (/readyz) and to the first pass done
#     (every runtime reconciled, queue empty), the controller's CPU seconds until synced,
#     and the writes of that first pass: must be 0; beside it the list floor: seconds for
#     kubectl to list the same kinds in the same pages (CP_BENCH_PAGE, 500, the
#     controller's default), all kinds at once, as the controller does;
#   - the floor: the same children (Secret, PVC, NetworkPolicy, ConfigMap, Service, Pod per
#     runtime) created directly by CP_BENCH_FLOOR_CONCURRENCY (32) parallel clients in a
#     second namespace on the same cluster right after, timed until every pod is Ready,
#     and the ratio convergence / floor (CP_BENCH_FLOOR=0 leaves it out: at 10,000 runtimes
#     the floor alone takes about as long as the convergence, 50 minutes on 2 cores).
# The controller runs with CP_BENCH_WORKERS (16) workers and CP_BENCH_QPS (500) requests per
# second per client so the API server, not the controller, is the limit, and a resync every
# CP_BENCH_RESYNC seconds (30). The runtimes are applied by CP_BENCH_CREATE_CONCURRENCY (8)
# kubectl processes at once (one kubectl applies about 5 a second). At 10,000 runtimes a 30 s resync asks for 333 reconciles a
# second, more than 2 cores give beside the API server: the queue stays full and new runtimes
# wait behind resyncs, so use about 600 there (the controller's default). The bench gives up
# after CP_BENCH_TIMEOUT seconds (1800). CP_BENCH_FLOOR_ONLY=NAMESPACE runs only the floor,
# from the runtimes a kept run left there. CP_BENCH_KEEP=1 keeps the runtimes' namespace (and
# their RuntimeProfile) for test/bench/controller_restart.sh; delete it when done.
set -euo pipefail
n=${1:-100}
steady=${2:-120}
workers=${CP_BENCH_WORKERS:-16}
resync=${CP_BENCH_RESYNC:-30}
qps=${CP_BENCH_QPS:-500}
floor_par=${CP_BENCH_FLOOR_CONCURRENCY:-32}
with_floor=${CP_BENCH_FLOOR:-1}
create_par=${CP_BENCH_CREATE_CONCURRENCY:-8}
page=${CP_BENCH_PAGE:-500} # the controller's --list-page-size, for the list floor
E2E_NAME=bench
. "$(dirname "$0")/../e2e/lib/controller.sh"
. "$(dirname "$0")/lib/controller_bench.sh"
floor_ns=$ns-floor
start_watchdog controller_scale "${CP_BENCH_TIMEOUT:-1800}" # a 10,000-runtime run wants more
if [ "${CP_BENCH_KEEP:-0}" = 1 ]; then
  cleanup() {
    kill_controllers
    echo "controller_scale: kept namespace $ns (delete it with: kubectl delete ns $ns; kubectl delete runtimeprofile $profile)"
  }
fi
trap 'kill $watchdog 2>/dev/null || true; kubectl delete ns "$floor_ns" --wait=false >/dev/null 2>&1 || true; cleanup' EXIT

# apiserver_request_total for the resources the controller touches, as "VERB resource[/sub]
# count" lines (the bench's own kubectl polls on userruntimes are counted separately).
res_re='^(userruntimes|runtimeprofiles|pods|services|networkpolicies|persistentvolumeclaims|secrets|configmaps|events|leases)$'
api_counts() {
  kubectl get --raw /metrics | awk -v re="$res_re" '
    /^apiserver_request_total\{/ {
      verb = res = sub_ = ""
      if (match($0, /verb="[^"]*"/)) verb = substr($0, RSTART + 6, RLENGTH - 7)
      if (match($0, /,resource="[^"]*"/)) res = substr($0, RSTART + 11, RLENGTH - 12)
      if (match($0, /subresource="[^"]*"/)) sub_ = substr($0, RSTART + 13, RLENGTH - 14)
      if (res !~ re) next
      k = verb " " res (sub_ != "" ? "/" sub_ : "")
      c[k] += $NF
    }
    END { for (k in c) printf "%s %d\n", k, c[k] }' | sort
}
# api_delta <before> <after>: the difference per "VERB resource" and per verb
api_delta() {
  awk 'NR == FNR {b[$1 " " $2] = $3; next} {d = $3 - b[$1 " " $2]; if (d > 0) print $1, $2, d}' \
    <(printf '%s\n' "$1") <(printf '%s\n' "$2")
}
api_writes() { # the write verbs in an api_delta, on what the controller owns
  awk '$1 ~ /^(POST|PUT|PATCH|DELETE|APPLY)$/ && $2 !~ /^(events|leases|pods\/status|pods\/binding|persistentvolumeclaims\/status)$/ {s += $3} END {print s + 0}'
}
by_verb() { awk '{v[$1] += $3} END {for (k in v) printf "%s=%d ", k, v[k]; print ""}'; }

ready_count() {
  kubectl -n "$1" get "$2" -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' |
    grep -c '^True$' || true
}
polls=0
poll_every=$((n >= 5000 ? 5 : 1)) # a LIST of 10,000 runtimes is itself tens of MB
# wait_ready <namespace> <resource> <count>: a LIST every poll_every seconds, and a line of
# progress each minute (a run stopped part way still says how far it got, and when).
wait_ready() {
  local t c next=60
  t=$(now)
  until c=$(ready_count "$1" "$2") && [ "$c" -ge "$3" ]; do
    if [ "$(echo "$(since "$t") >= $next" | bc)" = 1 ]; then
      say "$1: $c of $3 $2 Ready after ${next}s"
      next=$((next + 60))
    fi
    polls=$((polls + 1))
    sleep "$poll_every"
  done
}

# run_floor <namespace with the runtimes' children>: the floor, in $floor_ns; prints its
# figures and sets floor.
run_floor() {
  local src_ns=$1
  say "floor: the same children created directly by $floor_par clients in $floor_ns"
  kubectl create ns "$floor_ns" >/dev/null
  kubectl label ns "$floor_ns" pod-security.kubernetes.io/enforce=restricted >/dev/null
  fdir=$(mktemp -d "$logdir/floor.XXXX")
  # One runtime's children in the controller's order (the Pod last); a template of the
  # objects as the controller made them, without what the cluster added.
  kubectl -n "$src_ns" get secret,pvc,networkpolicy,configmap,service,pod -l app.kubernetes.io/managed-by=clawplane -o json |
    jq -c --arg ns "$floor_ns" '
      def order: {"Secret":0,"PersistentVolumeClaim":1,"NetworkPolicy":2,"ConfigMap":3,"Service":4,"Pod":5}[.kind];
      .items | sort_by(.metadata.labels["app.kubernetes.io/instance"], order) | .[]
      | .metadata = {name: .metadata.name, namespace: $ns, labels: .metadata.labels,
          annotations: ((.metadata.annotations // {}) | with_entries(select(.key | test("kubernetes.io/") | not)))}
      | del(.status, .spec.nodeName, .spec.clusterIP, .spec.clusterIPs, .spec.volumeName)' \
    >"$fdir/all.jsonl"
  nobj=$(wc -l <"$fdir/all.jsonl")
  nobj_pods=$(grep -c '"kind":"Pod"' "$fdir/all.jsonl" || true)
  # Split by lines into floor_par files whole runtimes at a time (6 objects each, in order).
  split -n "l/$floor_par" -d -a 3 "$fdir/all.jsonl" "$fdir/part."
  af0=$(api_counts)
  t3=$(now)
  # (fewer runtimes than clients leave some parts empty: kubectl refuses those)
  find "$fdir" -name 'part.*' -size +0 | xargs -P "$floor_par" -I{} kubectl create -f {} -o name >/dev/null
  created=$(since "$t3")
  polls=0
  wait_ready "$floor_ns" pod "$nobj_pods"
  floor=$(since "$t3")
  printf 'result: floor_seconds=%s floor_objects=%d floor_created_seconds=%s floor_clients=%d\n' \
    "$floor" "$nobj" "$created" "$floor_par"
  printf 'result: apiserver requests by verb for the floor: %s\n' \
    "$(api_delta "$af0" "$(api_counts)" | by_verb)"
}

# CP_BENCH_FLOOR_ONLY=NAMESPACE: only the floor, from the children of runtimes a kept run
# left in NAMESPACE (their count is N), for a floor measured apart from a long convergence.
if [ -n "${CP_BENCH_FLOOR_ONLY:-}" ]; then
  run_floor "$CP_BENCH_FLOOR_ONLY"
  exit 0
fi

setup_namespace
apply_profile "$profile"
ctl_flags=(--workers "$workers" --kube-api-qps "$qps" --kube-api-burst "$((qps * 2))" --resync-period "$resync")
start_controller controller "${ctl_flags[@]}"
wait_for 60 "controller synced" readyz
sleep 2
rss0=$(rss_kb "$ctl_pid" VmRSS)
say "namespace $ns, controller pid $ctl_pid on :$ctl_port, $n runtimes, $workers workers, qps $qps; RSS with none: $rss0 kB"

manifest() { # manifest <first> <step>: runtimes first, first+step, ... up to n
  local i
  for i in $(seq "$1" "$2" "$n"); do
    printf -- '---\napiVersion: clawplane.io/v1alpha1\nkind: UserRuntime\nmetadata: {name: u%d, namespace: %s}\nspec: {user: u%d, profile: %s}\n' \
      "$i" "$ns" "$i" "$profile"
  done
}

a0=$(api_counts)
cpu0=$(cpu_s "$ctl_pid")
t0=$(now)
appliers=()
for k in $(seq 1 "$create_par"); do
  manifest "$k" "$create_par" | kubectl apply --server-side -f - >/dev/null &
  appliers+=($!)
done
for p in "${appliers[@]}"; do wait "$p" || fail "kubectl apply of the runtimes failed"; done
wait_ready "$ns" ur "$n"
conv=$(since "$t0")
cpu1=$(cpu_s "$ctl_pid")
a1=$(api_counts)
conv_polls=$polls
say "all $n Ready after ${conv}s"
# How long a reconcile took on average (what writing a runtime's children at once
# shortens), and how long each runtime waited from its creation to Ready (what its user
# sees): median, 90th percentile and the last, in whole seconds as the API stamps them.
reconcile_avg=$(curl -fsS "http://127.0.0.1:$ctl_port/metrics" | awk '
  $1 ~ /^controller_runtime_reconcile_time_seconds_sum/ {s += $2}
  $1 ~ /^controller_runtime_reconcile_time_seconds_count/ {c += $2}
  END {printf "%.3f", c ? s / c : 0}')
to_ready=$(kubectl -n "$ns" get ur -o json | jq -r '[.items[] |
  ((.status.conditions[] | select(.type == "Ready") | .lastTransitionTime | fromdateiso8601) -
   (.metadata.creationTimestamp | fromdateiso8601))] | sort |
  "median=\(.[length / 2 | floor]) p90=\(.[length * 9 / 10 | floor]) max=\(.[-1])"')
conv_delta=$(api_delta "$a0" "$a1")
# Each phase prints its figures as soon as it has them: a run stopped later keeps them.
printf 'result: runtimes=%d workers=%d qps=%s resync_seconds=%s convergence_seconds=%s cpu_seconds_convergence=%s\n' \
  "$n" "$workers" "$qps" "$resync" "$conv" "$(echo "$cpu1 - $cpu0" | bc)"
printf 'result: reconcile_seconds_avg=%s time_to_ready_seconds %s\n' "$reconcile_avg" "$to_ready"
# (kubectl pages its LISTs by 500: each poll of N runtimes is ceil(N / 500) LIST requests)
printf 'result: apiserver requests during convergence (verb resource count; %d of the LISTs on userruntimes are the bench polling, %d polls):\n' \
  "$((conv_polls * ((n + 499) / 500)))" "$conv_polls"
sed 's/^/result:   /' <<<"$conv_delta"
printf 'result: apiserver requests by verb during convergence: %s\n' "$(by_verb <<<"$conv_delta")"

sleep 5 # let the last status writes land in the caches
rv_before=$(kubectl -n "$ns" get ur -o jsonpath='{range .items[*]}{.metadata.resourceVersion}{" "}{end}')
w0=$(writes)
r0=$(metric '^controller_runtime_reconcile_total')
a2=$(api_counts)
say "steady state for ${steady}s (resync every ${resync}s)"
sleep "$steady"
w1=$(writes)
r1=$(metric '^controller_runtime_reconcile_total')
a3=$(api_counts)
rv_after=$(kubectl -n "$ns" get ur -o jsonpath='{range .items[*]}{.metadata.resourceVersion}{" "}{end}')
rssn=$(rss_kb "$ctl_pid" VmRSS)
peak=$(rss_kb "$ctl_pid" VmHWM)
cpu2=$(cpu_s "$ctl_pid")
# What each cache holds (the controller's gauges): objects, bytes held (deflated) and the
# JSON text they stand for, per runtime.
cache_sizes=$(curl -fsS "http://127.0.0.1:$ctl_port/metrics" | awk -v n="$n" '
  $1 ~ /^clawplane_controller_cache_(objects|bytes|text_bytes)\{/ {
    match($1, /name="[^"]*"/); k = substr($1, RSTART + 6, RLENGTH - 7)
    if ($1 ~ /_objects/) o[k] = $2; else if ($1 ~ /_text_bytes/) x[k] = $2; else b[k] = $2
  }
  END { for (k in o) { t += b[k]; tx += x[k]
          printf "%s objects=%d bytes=%d bytes_per_runtime=%d text_bytes_per_runtime=%d\n", k, o[k], b[k], b[k] / n, x[k] / n }
        printf "total bytes_per_runtime=%d text_bytes_per_runtime=%d\n", t / n, tx / n }' | sort)
steady_api_writes=$(api_delta "$a2" "$a3" | api_writes)
printf 'result: rss_none_kb=%d rss_n_kb=%d bytes_per_runtime=%d peak_rss_kb=%d cpu_seconds_total=%s\n' \
  "$rss0" "$rssn" "$(((rssn - rss0) * 1024 / n))" "$peak" "$cpu2"
sed 's/^/result: cache /' <<<"$cache_sizes"
printf 'result: steady_seconds=%d reconciles=%d controller_writes=%d apiserver_writes=%d userruntimes_unchanged=%s\n' \
  "$steady" "$((r1 - r0))" "$((w1 - w0))" "$steady_api_writes" "$([ "$rv_before" = "$rv_after" ] && echo yes || echo no)"

say "restart"
kill "$ctl_pid"
wait "$ctl_pid" 2>/dev/null || true
a4=$(api_counts)
timed_start controller2 "$n" "${ctl_flags[@]}"
sleep 20
restart_writes=$(writes)
restart_api_writes=$(api_delta "$a4" "$(api_counts)" | api_writes)
restart_peak=$(rss_kb "$ctl_pid" VmHWM)
restart_rss=$(rss_kb "$ctl_pid" VmRSS)
kill "$ctl_pid"
wait "$ctl_pid" 2>/dev/null || true
list_floor=$(list_floor "$ns" "$page")

printf 'result: restart_to_synced_seconds=%s restart_cpu_seconds_to_synced=%s list_floor_seconds=%s restart_to_first_pass_seconds=%s restart_writes=%d restart_apiserver_writes=%d restart_peak_rss_kb=%d restart_rss_kb=%d\n' \
  "$synced" "$synced_cpu" "$list_floor" "$first_pass" "$restart_writes" "$restart_api_writes" "$restart_peak" "$restart_rss"

if [ "$with_floor" != 0 ]; then
  run_floor "$ns"
  printf 'result: convergence_seconds=%s floor_seconds=%s ratio=%s\n' \
    "$conv" "$floor" "$(echo "scale=2; $conv / $floor" | bc)"
fi
[ $((w1 - w0)) = 0 ] || fail "the controller wrote $((w1 - w0)) times at steady state"
[ "$restart_writes" = 0 ] || fail "the controller wrote $restart_writes times after a restart"
