#!/usr/bin/env bash
# How the controller meets trouble, as a user sees it in `kubectl get ur` and events:
# a deleted pod and an evicted pod are recreated with backoff and counted; crash loops,
# image pull errors and unschedulable pods surface as Degraded with the reason and an
# Event; a missing profile gives Degraded=ProfileNotFound and creates nothing; a spec the
# profile forbids is refused in status.
E2E_NAME=fail
. "$(dirname "$0")/lib/controller.sh"

setup_namespace
apply_profile "$profile"
start_controller controller
say "namespace $ns, profile $profile, controller on :$ctl_port"

apply_ur bob "profile: $profile"
kubectl -n "$ns" wait --for=condition=Ready ur/bob --timeout=60s >/dev/null || fail "bob not Ready"

say "a deleted pod is recreated"
uid=$(jp pod/bob '{.metadata.uid}') k0=$(kwok_deletes bob)
kubectl -n "$ns" delete pod bob --wait=false >/dev/null
wait_for 30 "a new pod" sh -c "u=\$(kubectl -n $ns get pod bob -o jsonpath='{.metadata.uid}' 2>/dev/null); [ -n \"\$u\" ] && [ \"\$u\" != '$uid' ]"
kubectl -n "$ns" wait --for=condition=Ready ur/bob --timeout=60s >/dev/null || fail "not Ready after recreate"
[ "$(unexplained_restarts bob 1 "$k0" 1)" = 0 ] || fail "restarts: $(jp ur/bob '{.status.restarts}')"
wait_for 10 "event PodLost" event_seen bob PodLost
ok "deleted pod recreated, status.restarts=1, event PodLost"

say "an evicted pod is replaced, after a longer backoff"
uid=$(jp pod/bob '{.metadata.uid}') r1=$(jp ur/bob '{.status.restarts}') k1=$(kwok_deletes bob)
t0=$SECONDS
kubectl -n "$ns" patch pod bob --subresource=status --type=merge \
  -p '{"status":{"phase":"Failed","reason":"Evicted","message":"The node was low on resource: memory."}}' >/dev/null
wait_for 30 "Degraded=Evicted" sh -c "[ \"\$(kubectl -n $ns get ur bob -o jsonpath='{.status.conditions[?(@.type==\"Degraded\")].reason}')\" = Evicted ]"
wait_for 60 "a replacement pod" sh -c "u=\$(kubectl -n $ns get pod bob -o jsonpath='{.metadata.uid}' 2>/dev/null); [ -n \"\$u\" ] && [ \"\$u\" != '$uid' ]"
took=$((SECONDS - t0))
kubectl -n "$ns" wait --for=condition=Ready ur/bob --timeout=60s >/dev/null || fail "not Ready after eviction"
[ "$(unexplained_restarts bob $((r1 + 1)) "$k1" 1)" = 0 ] || fail "restarts: $(jp ur/bob '{.status.restarts}')"
[ $took -ge 2 ] || fail "recreated after ${took}s: the second failure must back off (>= 2s)"
wait_for 10 "event Evicted" event_seen bob Evicted
[ "$(cond bob Degraded status)" = False ] || fail "still Degraded once Ready"
ok "evicted pod replaced after ${took}s of backoff; restarts=2; Degraded cleared when Ready"

say "a crash loop and an image pull error show as Degraded with an Event"
for reason in CrashLoopBackOff ImagePullBackOff; do
  kubectl -n "$ns" patch pod bob --subresource=status --type=merge -p "{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\"}],\"containerStatuses\":[{\"name\":\"openclaw\",\"image\":\"x\",\"imageID\":\"\",\"ready\":false,\"restartCount\":3,\"state\":{\"waiting\":{\"reason\":\"$reason\",\"message\":\"back-off restarting\"}}}]}}" >/dev/null
  wait_for 30 "Degraded=$reason" sh -c "[ \"\$(kubectl -n $ns get ur bob -o jsonpath='{.status.conditions[?(@.type==\"Degraded\")].reason}')\" = $reason ]"
  [ "$(cond bob Degraded status)" = True ] || fail "Degraded not True for $reason"
  [ "$(cond bob Ready status)" = False ] || fail "Ready not False for $reason"
  [ "$(jp ur/bob '{.status.phase}')" = Failed ] || fail "phase: $(jp ur/bob '{.status.phase}')"
  wait_for 10 "event $reason" event_seen bob "$reason"
  grep -q Failed <<<"$(kubectl -n "$ns" get ur bob)" || fail "kubectl get ur does not show Failed"
  ok "$reason: Degraded=True reason $reason, phase Failed, Ready=False, Warning event"
done

say "an unschedulable pod shows as Degraded FailedScheduling"
apply_profile "$profile-nowhere" "placement: {nodeSelector: {clawplane.io/no-such-node: \"true\"}}"
apply_ur carol "profile: $profile-nowhere"
wait_for 60 "Degraded=FailedScheduling" sh -c "[ \"\$(kubectl -n $ns get ur carol -o jsonpath='{.status.conditions[?(@.type==\"Degraded\")].reason}')\" = FailedScheduling ]"
grep -q "node" <<<"$(cond carol Degraded message)" || fail "message lacks the scheduler's words: $(cond carol Degraded message)"
wait_for 10 "event FailedScheduling" event_seen carol FailedScheduling
ok "unschedulable: Degraded=FailedScheduling with the scheduler's message and an event"

say "a missing profile touches nothing"
apply_ur dave "profile: does-not-exist-$suffix"
wait_for 30 "Degraded=ProfileNotFound" sh -c "[ \"\$(kubectl -n $ns get ur dave -o jsonpath='{.status.conditions[?(@.type==\"Degraded\")].reason}')\" = ProfileNotFound ]"
grep -q "does-not-exist-$suffix" <<<"$(cond dave Degraded message)" || fail "message does not name the profile"
for kind in pod/dave svc/dave networkpolicy/dave pvc/dave-state secret/dave-credentials; do
  absent "$kind" || fail "$kind was created although the profile is missing"
done
wait_for 10 "event ProfileNotFound" event_seen dave ProfileNotFound
ok "ProfileNotFound: Degraded with the profile's name, no children, an event"
apply_profile "does-not-exist-$suffix"
kubectl -n "$ns" wait --for=condition=Ready ur/dave --timeout=60s >/dev/null || fail "dave not Ready once the profile exists"
[ "$(cond dave Degraded status)" = False ] || fail "Degraded stayed True"
ok "creating the profile heals it"

say "a spec the profile forbids is refused in status"
apply_ur erin "profile: $profile" "image: registry.invalid/mine:1"
wait_for 30 "Degraded=InvalidSpec" sh -c "[ \"\$(kubectl -n $ns get ur erin -o jsonpath='{.status.conditions[?(@.type==\"Degraded\")].reason}')\" = InvalidSpec ]"
grep -qi "image" <<<"$(cond erin Degraded message)" || fail "message does not explain: $(cond erin Degraded message)"
absent pod/erin || fail "a pod was created with a forbidden image"
ok "image override refused by the profile: Degraded=InvalidSpec, no pod"
still_alive "$ctl_pid"
echo "test_controller_failures: $checks checks passed"
