#!/usr/bin/env bash
# Operating the controller: two replicas share one Lease and only the leader reconciles;
# when the leader is stopped the standby takes over within the lease time; the health,
# readiness and metrics endpoints speak the names dashboards expect; bad flags are refused
# with a message naming the flag.
E2E_NAME=ops
. "$(dirname "$0")/lib/controller.sh"

say "bad flags are refused clearly"
if out=$("$ctl_bin" --workers 0 2>&1); then fail "--workers 0 accepted"; fi
grep -q "worker" <<<"$out" || fail "message does not name the flag: $out"
if out=$("$ctl_bin" --kube-api-qps fast 2>&1); then fail "--kube-api-qps fast accepted"; fi
grep -q "kube-api-qps" <<<"$out" || fail "message does not name the flag: $out"
if out=$(KUBECONFIG=/nonexistent/kubeconfig "$ctl_bin" --leader-elect=false 2>&1); then
  fail "started without a usable kubeconfig"
fi
grep -q "kubeconfig\|Kubernetes configuration" <<<"$out" || fail "unclear kubeconfig error: $out"
ok "invalid flags and a missing kubeconfig give an error naming the problem"

setup_namespace
apply_profile "$profile"
start_controller first
first_pid=$ctl_pid first_port=$ctl_port
wait_for 20 "first replica leads" sh -c "curl -fsS http://127.0.0.1:$first_port/metrics | grep -q '^leader_election_master_status{name=\"clawplane-controller\"} 1'"
start_controller second
second_pid=$ctl_pid second_port=$ctl_port
say "replicas on :$first_port (leader) and :$second_port"
wait_for 20 "standby ready (caches warm)" curl -fsS "http://127.0.0.1:$second_port/readyz"
grep -q '^leader_election_master_status{name="clawplane-controller"} 0' <<<"$(curl -fsS "http://127.0.0.1:$second_port/metrics")" ||
  fail "standby claims to lead"
[ "$(kubectl -n "$ns" get lease "ctl-$suffix" -o jsonpath='{.spec.holderIdentity}')" = "$(hostname)_$first_pid" ] ||
  fail "lease holder is not the first replica"
ok "one Lease, one leader; the standby is ready and reports 0"

apply_ur frank "profile: $profile"
kubectl -n "$ns" wait --for=condition=Ready ur/frank --timeout=60s >/dev/null || fail "frank not Ready"
reconciles() { curl -fsS "http://127.0.0.1:$1/metrics" | awk '$1 ~ /^controller_runtime_reconcile_total/ {s += $2} END {print s + 0}'; }
[ "$(reconciles "$second_port")" = 0 ] || fail "the standby reconciled"
[ "$(reconciles "$first_port")" -gt 0 ] || fail "the leader did not reconcile"
ok "only the leader reconciles"

say "metrics and probes"
m=$(curl -fsS "http://127.0.0.1:$first_port/metrics")
for name in controller_runtime_reconcile_total controller_runtime_reconcile_errors_total \
  controller_runtime_reconcile_time_seconds_bucket workqueue_depth workqueue_adds_total \
  workqueue_retries_total rest_client_requests_total leader_election_master_status; do
  grep -q "^$name" <<<"$m" || fail "metric $name missing"
done
grep -q 'rest_client_requests_total{code="201",host="127.0.0.1:[0-9]*",method="POST"}' <<<"$m" ||
  fail "rest_client_requests_total lacks code/host/method labels"
[ "$(curl -fsS "http://127.0.0.1:$first_port/healthz")" = ok ] || fail "/healthz"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$first_port/nope")" = 404 ] || fail "unknown path not 404"
ok "controller-runtime metric names present; /healthz ok; unknown paths 404"

say "failover: stop the leader, the standby takes over"
t0=$SECONDS
kill -TERM "$first_pid"
wait "$first_pid" || fail "leader exited non-zero on SIGTERM"
wait_for 20 "standby leads" sh -c "curl -fsS http://127.0.0.1:$second_port/metrics | grep -q '^leader_election_master_status{name=\"clawplane-controller\"} 1'"
took=$((SECONDS - t0))
[ "$took" -le 15 ] || fail "takeover took ${took}s, more than the 15s lease"
apply_ur grace "profile: $profile"
kubectl -n "$ns" wait --for=condition=Ready ur/grace --timeout=60s >/dev/null || fail "new leader does not reconcile"
ok "standby led within ${took}s (released lease) and reconciles new runtimes"

say "a leader that dies without releasing is replaced after the lease expires"
start_controller third
third_port=$ctl_port
kill -KILL "$second_pid"
t0=$SECONDS
wait_for 40 "third replica leads" sh -c "curl -fsS http://127.0.0.1:$third_port/metrics | grep -q '^leader_election_master_status{name=\"clawplane-controller\"} 1'"
took=$((SECONDS - t0))
[ "$took" -le 25 ] || fail "takeover after a crash took ${took}s"
ok "after kill -9 of the leader, a standby led within ${took}s (lease 15s)"
still_alive "$ctl_pid"
echo "test_controller_ops: $checks checks passed"
