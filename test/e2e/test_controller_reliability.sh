#!/usr/bin/env bash
# The controller restores what it owns and stays quiet about what it does not change:
#   - a restarted controller, and a standby taking over after kill -9 of the leader, make
#     no API write in their first minute over CP_REL_N (default 100) unchanged runtimes;
#   - after failover a change is reconciled within 2 s of the standby taking the Lease;
#   - a hibernated runtime stays asleep (no pod, one Hibernated event, restarts 0);
#   - hand edits are undone: a pod's image (pod replaced), ownerReferences and labels
#     (repaired in place); an extra podSelector key or a removed except in the
#     NetworkPolicy; an extra Service selector key;
#   - a deleted Secret is recreated and the pod rolled so it runs with the new tokens;
#   - status.restarts counts failures only: not a label removed from the pod, not a
#     replacement interrupted by a controller restart;
#   - a broken watch is logged and counted, and so is its reconnection.
# CP_REL_SECTIONS="restart failover ..." runs only the named sections (in this order).
E2E_NAME=rel
. "$(dirname "$0")/lib/controller.sh"

N=${CP_REL_N:-100}
sections=${CP_REL_SECTIONS:-"restart failover hibernate poddrift netpol secret restarts interrupted outage"}
has() { [[ " $sections " == *" $1 "* ]]; }
now() { date +%s.%N; }
writes() { # writes <port>: write requests this controller's reconcilers made (the Lease's renewals are only in rest_client_requests_total)
  curl -fsS "http://127.0.0.1:$1/metrics" |
    awk '$0 !~ /^#/ && $1 ~ /^clawplane_controller_reconcile_requests_total/ && $1 ~ /method="(POST|PUT|PATCH|DELETE)"/ {s += $2} END {printf "%d\n", s}'
}
reconciles() { curl -fsS "http://127.0.0.1:$1/metrics" | awk '$1 ~ /^controller_runtime_reconcile_total/ {s += $2} END {printf "%d\n", s}'; }
leads() { grep -q '^leader_election_master_status{name="clawplane-controller"} 1' <<<"$(curl -fsS "http://127.0.0.1:$1/metrics")"; }
apiserver_writes() { # the kube-apiserver's own count of writes to what the controller writes
  kubectl get --raw /metrics | awk '$1 ~ /^apiserver_request_total\{/ && $1 ~ /verb="(POST|PUT|PATCH|DELETE|APPLY)"/ &&
    $1 ~ /resource="(pods|services|networkpolicies|persistentvolumeclaims|secrets|userruntimes|events)"/ {s += $2} END {printf "%d\n", s}'
}
uid_of() { jp "$1" '{.metadata.uid}'; }
new_uid() { local u; u=$(uid_of "$1"); [ -n "$u" ] && [ "$u" != "$2" ]; }
image=registry.invalid/openclaw@sha256:1111111111111111111111111111111111111111111111111111111111111111

setup_namespace
apply_profile "$profile" "network: {egress: [{cidr: 0.0.0.0/0, ports: [443]}]}"
start_controller first
lead_pid=$ctl_pid lead_port=$ctl_port
say "namespace $ns, profile $profile, controller on :$ctl_port, $N runtimes"

if has restart || has failover; then
  for i in $(seq 1 "$N"); do
    printf -- '---\napiVersion: clawplane.io/v1alpha1\nkind: UserRuntime\nmetadata: {name: r%d, namespace: %s}\nspec: {user: r%d, profile: %s}\n' "$i" "$ns" "$i" "$profile"
  done | kubectl apply --server-side --field-manager=e2e -f - >/dev/null
  kubectl -n "$ns" wait --for=condition=Ready ur --all --timeout=300s >/dev/null || fail "runtimes not Ready"
  sleep 3 # let the last status writes come back through the watches
  ok "$N runtimes Ready"
fi

if has restart; then
  say "a restarted controller writes nothing over unchanged runtimes"
  w_first=$(writes "$lead_port") # the count the checks below read does count writes
  [ "$w_first" -ge "$N" ] || fail "creating $N runtimes counted $w_first writes"
  kill -TERM "$lead_pid"
  wait "$lead_pid" || true
  a0=$(apiserver_writes)
  start_controller second
  lead_pid=$ctl_pid lead_port=$ctl_port
  wait_for 30 "second leads" leads "$lead_port"
  wait_for 60 "first pass over $N runtimes" sh -c "[ \$(curl -fsS http://127.0.0.1:$lead_port/metrics | awk '\$1 ~ /^controller_runtime_reconcile_total/ {s += \$2} END {printf \"%d\", s}') -ge $N ]"
  w_pass=$(writes "$lead_port")
  [ "$w_pass" = 0 ] || fail "first pass after a restart over $N unchanged runtimes wrote $w_pass times"
  sleep 60 # two 30 s resyncs
  w=$(writes "$lead_port") a=$(($(apiserver_writes) - a0))
  say "after restart: $w_pass writes in the first pass, $w in 60 s ($(reconciles "$lead_port") reconciles); kube-apiserver counted $a writes to pods, services, networkpolicies, PVCs, secrets, userruntimes and events"
  [ "$w" = 0 ] || fail "a restarted controller wrote $w times in its first minute"
  # The kube-apiserver's count has no namespace label: other suites and namespace clean-up
  # add to it, so it is checked only when asked to (on a cluster with nothing else going on).
  [ "${CP_REL_QUIET_CLUSTER:-0}" = 0 ] || [ "$a" = 0 ] ||
    fail "the kube-apiserver counted $a writes to runtime resources in that minute"
  ok "restart: 0 writes in the first pass and the first 60 s over $N runtimes"
fi

if has failover; then
  say "kill -9 of the leader: the standby takes over without writing and reconciles a change at once"
  start_controller standby
  sb_pid=$ctl_pid sb_port=$ctl_port
  wait_for 30 "standby ready" curl -fsS "http://127.0.0.1:$sb_port/readyz"
  kill -KILL "$lead_pid"
  t_kill=$(now)
  changed=()
  for i in $(seq 1 $(((N + 4) / 5)) "$N"); do changed+=("r$i"); done # spread over the queue
  for r in "${changed[@]}"; do
    kubectl -n "$ns" patch "ur/$r" --type=merge -p '{"spec":{"state":"Stopped"}}' >/dev/null
  done
  wait_for 40 "standby leads" leads "$sb_port"
  t_lead=$(now)
  for r in "${changed[@]}"; do wait_for 30 "$r's pod deleted" absent "pod/$r"; done
  t_done=$(now)
  lag=$(echo "$t_done - $t_lead" | bc)
  say "takeover $(echo "$t_lead - $t_kill" | bc) s after the kill, change reconciled $lag s after taking the Lease"
  [ "$(echo "$lag <= 2.5" | bc)" = 1 ] || fail "changes reconciled $lag s after the takeover (want <= 2 s + polling)"
  sleep 10
  w=$(writes "$sb_port")
  [ "$w" -le $((4 * ${#changed[@]})) ] || fail "the new leader wrote $w times (only ${#changed[@]} runtimes changed)"
  ok "failover: ${#changed[@]} changes reconciled ${lag}s after takeover; $w writes, all for the changed runtimes"
  lead_pid=$sb_pid lead_port=$sb_port ctl_port=$sb_port
  kubectl -n "$ns" delete ur --all --wait=false >/dev/null
fi

if has hibernate; then
  say "hibernated runtimes stay asleep"
  H=${CP_REL_HIBERNATE_N:-20} # several at once: the status cache lags as it would under load
  for i in $(seq 1 "$H"); do
    printf -- '---\napiVersion: clawplane.io/v1alpha1\nkind: UserRuntime\nmetadata: {name: sleepy%d, namespace: %s}\nspec: {user: sleepy%d, profile: %s, idleTimeout: 2s}\n' "$i" "$ns" "$i" "$profile"
  done | kubectl apply --server-side --field-manager=e2e -f - >/dev/null
  for i in $(seq 1 "$H"); do
    wait_for 60 "sleepy$i Hibernated" field_is "ur/sleepy$i" '{.status.phase}' Hibernated
  done
  end=$((SECONDS + 15))
  while [ $SECONDS -lt $end ]; do
    p=$(kubectl -n "$ns" get pod -o name | grep -c '^pod/sleepy' || true)
    [ "$p" = 0 ] || fail "hibernated runtimes woke themselves: $p pods without activity"
    sleep 0.5
  done
  for i in $(seq 1 "$H"); do
    n=$(kubectl -n "$ns" get events --field-selector "involvedObject.name=sleepy$i,reason=Hibernated" -o name | wc -l)
    [ "$n" = 1 ] || fail "sleepy$i: $n Hibernated events, want 1"
    [ "$(jp "ur/sleepy$i" '{.status.restarts}')" = 0 ] || fail "sleepy$i: restarts $(jp "ur/sleepy$i" '{.status.restarts}')"
    [ "$(jp "ur/sleepy$i" '{.status.phase}')" = Hibernated ] || fail "sleepy$i: phase $(jp "ur/sleepy$i" '{.status.phase}')"
  done
  ok "$H hibernated runtimes: no pod for 15 s, one Hibernated event each, restarts 0"
fi

if has poddrift || has netpol || has secret || has restarts || has interrupted; then
  apply_ur edit "profile: $profile"
  kubectl -n "$ns" wait --for=condition=Ready ur/edit --timeout=60s >/dev/null || fail "edit not Ready"
fi

if has poddrift; then
  say "hand edits to the pod are undone"
  uid=$(uid_of pod/edit)
  k0=$(kwok_deletes edit)
  kubectl -n "$ns" set image pod/edit openclaw=registry.invalid/evil:1 >/dev/null
  wait_for 30 "pod with the profile's image again" sh -c "[ \"\$(kubectl -n $ns get pod edit -o jsonpath='{.spec.containers[0].image}')\" = '$image' ] && [ \"\$(kubectl -n $ns get pod edit -o jsonpath='{.metadata.uid}')\" != '$uid' ]"
  kubectl -n "$ns" wait --for=condition=Ready ur/edit --timeout=60s >/dev/null || fail "not Ready after the image edit"
  ok "kubectl set image: the pod was replaced with the profile's image"
  uid=$(uid_of pod/edit)
  kubectl -n "$ns" patch pod edit --type=json -p '[{"op":"remove","path":"/metadata/ownerReferences"}]' >/dev/null
  wait_for 30 "ownerReference back" field_is pod/edit '{.metadata.ownerReferences[0].kind}' UserRuntime
  kubectl -n "$ns" label pod edit clawplane.io/user- app.kubernetes.io/name- >/dev/null
  wait_for 30 "labels back" field_is pod/edit '{.metadata.labels.clawplane\.io/user}/{.metadata.labels.app\.kubernetes\.io/name}' edit/openclaw
  [ "$(uid_of pod/edit)" = "$uid" ] || fail "metadata repair replaced the pod"
  ok "removed ownerReferences and labels restored on the same pod"
  [ "$(unexplained_restarts edit 0 "$k0" 1)" = 0 ] || fail "restarts $(jp ur/edit '{.status.restarts}') after repairs"
  ok "repairs are not restarts"
fi

if has netpol; then
  say "an extra key in the NetworkPolicy or Service is removed"
  kubectl -n "$ns" patch networkpolicy edit --type=merge -p '{"spec":{"podSelector":{"matchLabels":{"x":"nomatch"}}}}' >/dev/null
  wait_for 30 "podSelector restored" sh -c "[ -z \"\$(kubectl -n $ns get networkpolicy edit -o jsonpath='{.spec.podSelector.matchLabels.x}')\" ]"
  [ "$(jp networkpolicy/edit '{.spec.podSelector.matchLabels.app\.kubernetes\.io/instance}')" = edit ] || fail "selector lost its instance label"
  ok "podSelector extra key removed"
  ex=$(jp networkpolicy/edit '{.spec.egress[2].to[0].ipBlock.except}')
  grep -q 169.254.169.254 <<<"$ex" || fail "fixture: egress[2] is not the 0.0.0.0/0 rule: $ex"
  kubectl -n "$ns" patch networkpolicy edit --type=json -p '[{"op":"remove","path":"/spec/egress/2/to/0/ipBlock/except/0"}]' >/dev/null
  wait_for 30 "metadata except restored" sh -c "kubectl -n $ns get networkpolicy edit -o jsonpath='{.spec.egress[2].to[0].ipBlock.except}' | grep -q 169.254.169.254"
  kubectl -n "$ns" patch networkpolicy edit --type=json -p '[{"op":"add","path":"/spec/ingress/0/from/-","value":{"ipBlock":{"cidr":"0.0.0.0/0"}}}]' >/dev/null
  wait_for 30 "extra ingress peer removed" sh -c "! kubectl -n $ns get networkpolicy edit -o jsonpath='{.spec.ingress[0].from[*].ipBlock.cidr}' | grep -q 0.0.0.0"
  ok "removed except entry restored, extra ingress peer removed"
  kubectl -n "$ns" patch svc edit --type=merge -p '{"spec":{"selector":{"x":"nomatch"}}}' >/dev/null
  wait_for 30 "Service selector restored" sh -c "[ -z \"\$(kubectl -n $ns get svc edit -o jsonpath='{.spec.selector.x}')\" ]"
  ok "Service selector extra key removed"
fi

if has secret; then
  say "a deleted Secret is recreated and the pod rolled onto the new tokens"
  suid=$(uid_of secret/edit-credentials) puid=$(uid_of pod/edit)
  restarts=$(jp ur/edit '{.status.restarts}') k0=$(kwok_deletes edit)
  kubectl -n "$ns" delete secret edit-credentials >/dev/null
  wait_for 30 "new Secret" new_uid secret/edit-credentials "$suid"
  wait_for 30 "pod rolled" new_uid pod/edit "$puid"
  sc=$(date -d "$(jp secret/edit-credentials '{.metadata.creationTimestamp}')" +%s)
  pc=$(date -d "$(jp pod/edit '{.metadata.creationTimestamp}')" +%s)
  [ "$pc" -ge "$sc" ] || fail "the pod predates the new Secret"
  kubectl -n "$ns" wait --for=condition=Ready ur/edit --timeout=60s >/dev/null || fail "not Ready after the roll"
  [ "$(unexplained_restarts edit "$restarts" "$k0" 1)" = 0 ] || fail "the roll counted as a restart"
  ok "Secret recreated; the pod was replaced after it, restarts unchanged"
fi

if has restarts; then
  say "restarts count failures only"
  uid=$(uid_of pod/edit)
  r0=$(jp ur/edit '{.status.restarts}') k0=$(kwok_deletes edit) l0=$(podlost_events edit)
  kubectl -n "$ns" label pod edit app.kubernetes.io/managed-by- >/dev/null
  wait_for 30 "managed-by label back" field_is pod/edit '{.metadata.labels.app\.kubernetes\.io/managed-by}' clawplane
  sleep 3
  [ "$(uid_of pod/edit)" = "$uid" ] || fail "the pod was replaced for a missing label"
  [ "$(unexplained_restarts edit "$r0" "$k0" 0)" = 0 ] || fail "restarts $r0 -> $(jp ur/edit '{.status.restarts}') for a removed label"
  [ "$(kwok_deletes edit)" = "$k0" ] && [ "$(podlost_events edit)" != "$l0" ] && fail "a PodLost event for a removed label"
  ok "a removed managed-by label is restored on the same pod; no restart, no PodLost"
fi

if has interrupted; then
  say "a replacement interrupted by a controller restart is not a restart"
  r0=$(jp ur/edit '{.status.restarts}') k0=$(kwok_deletes edit) l0=$(podlost_events edit)

  # A replacement cut short: the old controller deleted the pod for a spec change and died
  # before it wrote the status (startedAt still set).
  kill -KILL "$lead_pid"
  wait "$lead_pid" 2>/dev/null || true
  kubectl -n "$ns" delete pod edit --wait=true >/dev/null
  apply_ur edit "profile: $profile" "env: [{name: TZ, value: UTC}]"
  [ -n "$(jp ur/edit '{.status.startedAt}')" ] || fail "fixture: startedAt already cleared"
  start_controller after-kill
  lead_pid=$ctl_pid lead_port=$ctl_port
  wait_for 40 "new controller leads" leads "$lead_port"
  kubectl -n "$ns" wait --for=condition=Ready ur/edit --timeout=60s >/dev/null || fail "not Ready after the restart"
  [ "$(jp pod/edit '{.spec.containers[0].env[?(@.name=="TZ")].value}')" = UTC ] || fail "new env missing"
  [ "$(unexplained_restarts edit "$r0" "$k0" 1)" = 0 ] || fail "restarts $r0 -> $(jp ur/edit '{.status.restarts}') after a replacement cut by a restart"
  [ "$(kwok_deletes edit)" -le "$((k0 + 1))" ] && [ "$(podlost_events edit)" != "$l0" ] && fail "a PodLost event for an interrupted replacement"
  ok "a replacement interrupted by a controller restart is not a restart"
fi

if has outage; then
  say "a broken watch is logged and counted, and so is its reconnection"
  kill -TERM "$lead_pid" 2>/dev/null || true
  wait "$lead_pid" 2>/dev/null || true
  server=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')
  up=${server##*:}
  up=${up%%/*}
  cat >"$logdir/proxy.py" <<'EOP'
import asyncio, sys
listen, upstream = int(sys.argv[1]), int(sys.argv[2])
async def pipe(r, w):
    try:
        while (b := await r.read(65536)):
            w.write(b)
            await w.drain()
    except Exception:
        pass
    finally:
        w.close()
async def handle(cr, cw):
    try:
        ur, uw = await asyncio.open_connection("127.0.0.1", upstream)
    except Exception:
        cw.close()
        return
    await asyncio.gather(pipe(cr, uw), pipe(ur, cw))
async def main():
    s = await asyncio.start_server(handle, "127.0.0.1", listen)
    print("listening", flush=True)
    async with s:
        await s.serve_forever()
asyncio.run(main())
EOP
  pport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  start_proxy() {
    timeout 300 python3 "$logdir/proxy.py" "$pport" "$up" >"$logdir/proxy.log" 2>&1 &
    proxy_pid=$!
    wait_for 10 "proxy listening" grep -q listening "$logdir/proxy.log"
  }
  : >"$logdir/proxy.log"
  start_proxy
  kubectl config view --raw --minify | sed "s#server: https://127.0.0.1:$up#server: https://127.0.0.1:$pport#" >"$logdir/kubeconfig"
  KUBECONFIG="$logdir/kubeconfig" start_controller outage --leader-elect=false
  out_log="$logdir/outage.log"
  wait_for 30 "controller ready" curl -fsS "http://127.0.0.1:$ctl_port/readyz"
  kill "$proxy_pid"
  wait "$proxy_pid" 2>/dev/null || true
  wait_for 30 "'watch broke' logged" grep -q '"msg":"watch broke"' "$out_log"
  sleep 5
  : >"$logdir/proxy.log"
  start_proxy
  wait_for 60 "'watch reconnected' logged" grep -q '"msg":"watch reconnected"' "$out_log"
  wait_for 60 "every watch connected" sh -c "curl -fsS http://127.0.0.1:$ctl_port/metrics | awk '\$1 ~ /^clawplane_controller_watch_connected/ {n++; s += \$2} END {exit !(n == 8 && s == 8)}'"
  m=$(curl -fsS "http://127.0.0.1:$ctl_port/metrics")
  awk '$1 ~ /^clawplane_controller_watch_failures_total/ {s += $2} END {exit !(s >= 8)}' <<<"$m" || fail "watch failures not counted"
  awk '$1 ~ /^reflector_watches_total/ {s += $2} END {exit !(s >= 16)}' <<<"$m" || fail "watches not counted: $(grep reflector_watches <<<"$m")"
  grep -q '^reflector_lists_total{name="pods"} 1' <<<"$m" || fail "reflector_lists_total missing"
  n=$(grep -c '"msg":"watch reconnected"' "$out_log")
  [ "$n" = 8 ] || fail "'watch reconnected' logged $n times for 8 watches"
  n=$(grep -c '"msg":"watch broke"' "$out_log")
  [ "$n" -le 8 ] || fail "'watch broke' logged $n times for 8 watches in one outage"
  kill "$proxy_pid" 2>/dev/null || true
  ok "outage: 'watch broke' and 'watch reconnected' logged once per watch; failures, watches and connection state exported"
fi
echo "test_controller_reliability: $checks checks passed"
