#!/usr/bin/env bash
# A started runtime is finished by its pod's readiness, not by its turn in the queue: with
# one worker held to a few requests a second (--kube-api-qps) and a queue of new runtimes
# that takes most of a minute to get through, a runtime whose pod turns Ready is Ready
# within seconds, while most of the new ones still wait for their first reconcile. With
# one FIFO queue it would be Ready only after every one of them.
E2E_NAME=queue
. "$(dirname "$0")/lib/controller.sh"

others=${CP_QUEUE_OTHERS:-60}
setup_namespace
apply_profile "$profile"
# Everything exists before the controller starts, so its first list queues "a0" (lists come
# in name order) ahead of the others. They are Stopped: every one still costs its Secret,
# PVC, NetworkPolicy, ConfigMap, Service and status writes, and no kwok node's pod room.
{
  printf 'apiVersion: clawplane.io/v1alpha1\nkind: UserRuntime\nmetadata: {name: a0, namespace: %s}\nspec: {user: a0, profile: %s}\n' \
    "$ns" "$profile"
  for i in $(seq -w 1 "$others"); do
    printf -- '---\napiVersion: clawplane.io/v1alpha1\nkind: UserRuntime\nmetadata: {name: r%s, namespace: %s}\nspec: {user: r%s, profile: %s, state: Stopped}\n' \
      "$i" "$ns" "$i" "$profile"
  done
} | kubectl apply --server-side --field-manager=e2e -f - >/dev/null
say "namespace $ns: a0 and $others stopped runtimes; one worker at 10 requests/s"
start_controller controller --workers 1 --kube-api-qps 10 --kube-api-burst 5

# without_status: how many of the others have not been reconciled yet
without_status() {
  kubectl -n "$ns" get ur -o jsonpath='{range .items[*]}{.metadata.name}={.status.phase}{"\n"}{end}' |
    grep -c '^r[0-9]*=$' || true
}
t0=$SECONDS
kubectl -n "$ns" wait --for=condition=Ready ur/a0 --timeout=120s >/dev/null ||
  fail "a0 not Ready: $(jp ur/a0 '{.status}')"
left=$(without_status)
say "a0 Ready after $((SECONDS - t0)) s with $left of $others runtimes not yet reconciled"
[ "$left" -ge $((others / 2)) ] ||
  fail "a0 became Ready only after $((others - left)) of $others new runtimes had their turn"
ok "a pod's readiness finishes its runtime ahead of $left queued new runtimes"

# The others are not starved by the events of the ones being set up: all get their turn.
all_reconciled() { [ "$(without_status)" = 0 ]; }
wait_for 180 "every runtime reconciled" all_reconciled
ok "the queue of new runtimes drains behind the events of the started ones"
