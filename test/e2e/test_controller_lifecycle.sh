#!/usr/bin/env bash
# The UserRuntime lifecycle as a user drives it with kubectl: start, the children and
# their security, stop and start again, a spec change and a profile change replace the
# pod, hibernation after idleTimeout and waking on activity, deletion keeping or removing
# the PVC, and a steady state in which the controller writes nothing.
E2E_NAME=life
. "$(dirname "$0")/lib/controller.sh"

setup_namespace
apply_profile "$profile" "network: {egress: [{cidr: 0.0.0.0/0, ports: [443]}]}"
start_controller controller
say "namespace $ns, profile $profile, controller on :$ctl_port"

say "start"
apply_ur alice "profile: $profile"
kubectl -n "$ns" wait --for=condition=Ready ur/alice --timeout=60s >/dev/null ||
  fail "ur/alice not Ready: $(jp ur/alice '{.status}')"
ok "kubectl wait --for=condition=Ready ur/alice"
[ "$(jp ur/alice '{.status.phase}')" = Running ] || fail "phase is not Running"
[ "$(jp ur/alice '{.status.endpoint}')" = "http://alice.$ns.svc:18789" ] || fail "endpoint: $(jp ur/alice '{.status.endpoint}')"
[ "$(jp ur/alice '{.status.observedGeneration}')" = "$(jp ur/alice '{.metadata.generation}')" ] || fail "observedGeneration"
ok "status: phase Running, endpoint, observedGeneration"
for kind in pod/alice svc/alice networkpolicy/alice pvc/alice-state secret/alice-credentials; do
  [ "$(jp "$kind" '{.metadata.labels.app\.kubernetes\.io/managed-by}')" = clawplane ] || fail "$kind lacks managed-by"
  [ "$(jp "$kind" '{.metadata.labels.clawplane\.io/user}')" = alice ] || fail "$kind lacks the user label"
done
for kind in pod/alice svc/alice networkpolicy/alice secret/alice-credentials; do
  [ "$(jp "$kind" '{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].controller}')" = UserRuntime/true ] ||
    fail "$kind has no controller ownerReference"
done
[ -z "$(jp pvc/alice-state '{.metadata.ownerReferences}')" ] || fail "a retained PVC must not be owned"
ok "children labelled; owned by the runtime (the retained PVC is not)"
wait_for 10 "event Ready" event_seen alice Ready
ok "event Ready recorded"

say "pod security and isolation"
[ "$(jp pod/alice '{.spec.securityContext.runAsNonRoot}/{.spec.securityContext.seccompProfile.type}/{.spec.automountServiceAccountToken}')" = "true/RuntimeDefault/false" ] ||
  fail "pod security context: $(jp pod/alice '{.spec.securityContext}')"
[ "$(jp pod/alice '{.spec.containers[0].securityContext.readOnlyRootFilesystem}/{.spec.containers[0].securityContext.capabilities.drop[0]}')" = "true/ALL" ] ||
  fail "container security context"
ok "pod admitted under enforced Pod Security restricted, read-only root, no capabilities"
env_names=$(jp pod/alice '{.spec.containers[0].env[*].name}')
grep -q OPENCLAW_GATEWAY_PASSWORD <<<"$env_names" || fail "no gateway secret env"
[ "$(jp pod/alice '{.spec.containers[0].env[?(@.name=="OPENCLAW_GATEWAY_PASSWORD")].valueFrom.secretKeyRef.name}')" = alice-credentials ] ||
  fail "gateway secret not from the Secret"
ok "the gateway secret comes from the Secret, not the pod spec"
[ "$(jp networkpolicy/alice '{.spec.policyTypes}')" = '["Ingress","Egress"]' ] || fail "policyTypes: $(jp networkpolicy/alice '{.spec.policyTypes}')"
excepts=$(jp networkpolicy/alice '{.spec.egress[*].to[*].ipBlock.except}')
grep -q '169.254.169.254/32' <<<"$excepts" || fail "cloud metadata not blocked: $excepts"
grep -q '10.0.0.0/8' <<<"$excepts" || fail "private ranges not blocked: $excepts"
ok "NetworkPolicy: default deny both ways, metadata and private ranges excepted from 0.0.0.0/0"

say "steady state writes nothing"
sleep 2
w0=$(metric '^clawplane_controller_reconcile_requests_total')
r0=$(metric '^controller_runtime_reconcile_total')
kubectl -n "$ns" annotate ur/alice e2e/poke=1 >/dev/null # a no-op change still reconciles
sleep 6
w1=$(metric '^clawplane_controller_reconcile_requests_total')
r1=$(metric '^controller_runtime_reconcile_total')
[ "$r1" -gt "$r0" ] || fail "the annotation did not cause a reconcile ($r0 -> $r1)"
[ "$w1" = "$w0" ] || fail "steady-state reconcile wrote: requests $w0 -> $w1"
ok "a reconcile at steady state made no API writes ($r0 -> $r1 reconciles, $w0 writes)"

say "stop keeps storage, start brings it back with the same credentials"
token=$(jp secret/alice-credentials '{.data.gateway-token}')
uid_pvc=$(jp pvc/alice-state '{.metadata.uid}')
kubectl -n "$ns" patch ur/alice --type=merge -p '{"spec":{"state":"Stopped"}}' >/dev/null
wait_for 30 "pod deleted on stop" absent pod/alice
wait_for 30 "phase Stopped" field_is ur/alice '{.status.phase}' Stopped
[ "$(jp pvc/alice-state '{.metadata.uid}')" = "$uid_pvc" ] || fail "PVC replaced on stop"
kubectl -n "$ns" get svc/alice secret/alice-credentials networkpolicy/alice >/dev/null || fail "children removed on stop"
[ "$(cond alice Ready status)" = False ] || fail "Ready not False when stopped"
ok "Stopped: pod gone, PVC/Secret/Service/NetworkPolicy kept, Ready=False"
kubectl -n "$ns" patch ur/alice --type=merge -p '{"spec":{"state":"Running"}}' >/dev/null
kubectl -n "$ns" wait --for=condition=Ready ur/alice --timeout=60s >/dev/null || fail "not Ready after start"
[ "$(jp secret/alice-credentials '{.data.gateway-token}')" = "$token" ] || fail "gateway token changed"
ok "Running again with the same Secret and PVC"

say "a spec change replaces the pod"
uid=$(jp pod/alice '{.metadata.uid}')
hash=$(jp pod/alice '{.metadata.annotations.clawplane\.io/spec-hash}')
apply_ur alice "profile: $profile" "env: [{name: TZ, value: Europe/Paris}]"
wait_for 30 "pod replaced after an env change" sh -c "[ \"\$(kubectl -n $ns get pod alice -o jsonpath='{.metadata.uid}' 2>/dev/null)\" != '' ] && [ \"\$(kubectl -n $ns get pod alice -o jsonpath='{.metadata.uid}')\" != '$uid' ]"
kubectl -n "$ns" wait --for=condition=Ready ur/alice --timeout=60s >/dev/null || fail "not Ready after spec change"
[ "$(jp pod/alice '{.spec.containers[0].env[?(@.name=="TZ")].value}')" = Europe/Paris ] || fail "new env missing"
[ "$(jp pod/alice '{.metadata.annotations.clawplane\.io/spec-hash}')" != "$hash" ] || fail "hash did not change"
ok "env change: new pod with the new env and a new spec hash"

say "a profile change replaces the pod"
uid=$(jp pod/alice '{.metadata.uid}')
kubectl patch runtimeprofile "$profile" --type=merge -p '{"spec":{"image":"registry.invalid/openclaw@sha256:2222222222222222222222222222222222222222222222222222222222222222"}}' >/dev/null
wait_for 30 "pod image follows the profile" field_is pod/alice '{.spec.containers[0].image}' "registry.invalid/openclaw@sha256:2222222222222222222222222222222222222222222222222222222222222222"
[ "$(jp pod/alice '{.metadata.uid}')" != "$uid" ] || fail "pod not replaced"
ok "profile image change: the runtime's pod was replaced"

say "hibernate when idle, wake on activity"
apply_ur idle "profile: $profile" "idleTimeout: 3s"
kubectl -n "$ns" wait --for=condition=Ready ur/idle --timeout=60s >/dev/null || fail "idle not Ready"
wait_for 20 "phase Hibernated" field_is ur/idle '{.status.phase}' Hibernated
wait_for 20 "pod deleted on hibernation" absent pod/idle
[ "$(cond idle Ready reason)" = Hibernated ] || fail "Ready reason: $(cond idle Ready reason)"
kubectl -n "$ns" get pvc/idle-state >/dev/null || fail "PVC removed on hibernation"
wait_for 10 "event Hibernated" event_seen idle Hibernated
ok "idle for 3s: Hibernated, pod gone, PVC kept, event recorded"
sleep 1
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
kubectl -n "$ns" patch ur/idle --subresource=status --type=merge --field-manager=clawplane-apiserver \
  -p "{\"status\":{\"lastActivityTime\":\"$now\"}}" >/dev/null
kubectl -n "$ns" wait --for=condition=Ready ur/idle --timeout=60s >/dev/null || fail "not woken by activity: $(jp ur/idle '{.status}')"
ok "activity recorded in status.lastActivityTime woke it up"

say "delete: retainOnDelete keeps or removes the PVC"
apply_ur gone "profile: $profile" "storage: {retainOnDelete: false}"
kubectl -n "$ns" wait --for=condition=Ready ur/gone --timeout=60s >/dev/null || fail "gone not Ready"
[ "$(jp pvc/gone-state '{.metadata.ownerReferences[0].kind}')" = UserRuntime ] || fail "non-retained PVC should be owned"
kubectl -n "$ns" delete ur/alice ur/gone --wait=true --timeout=60s >/dev/null
wait_for 60 "owned children garbage-collected" absent pod/alice
wait_for 60 "non-retained PVC removed" absent pvc/gone-state
kubectl -n "$ns" get pvc/alice-state >/dev/null || fail "retained PVC was removed"
for kind in svc/alice networkpolicy/alice secret/alice-credentials; do
  wait_for 60 "$kind removed" absent "$kind"
done
ok "delete: children removed, PVC kept when retainOnDelete, removed otherwise"

say "SIGTERM stops it cleanly"
kill -TERM "$ctl_pid"
for _ in $(seq 1 50); do kill -0 "$ctl_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$ctl_pid" 2>/dev/null && fail "controller still running 5s after SIGTERM"
wait "$ctl_pid" && rc=0 || rc=$?
[ "$rc" = 0 ] || fail "exit code $rc after SIGTERM"
ok "exited 0 within 5s of SIGTERM"
echo "test_controller_lifecycle: $checks checks passed"
