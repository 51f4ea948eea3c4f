#!/usr/bin/env bash
# The runtime host (hack/runtime-host, the local stand-in for the kubelet and container
# runtime) runs a real OpenClaw pod under Pod Security "restricted": its own Node, a real
# process in its own network namespace as uid 1000, Ready only once OpenClaw answers
# /readyz, state on the PVC's hostPath, graceful deletion that leaves nothing behind; a
# crashing command shows CrashLoopBackOff with its log tail, an unknown image
# ImagePullBackOff, a missing Secret key CreateContainerConfigError; a killed daemon's
# leftovers are cleaned up by the next one; `down` removes everything.
#
# It runs its own runtime host instance (own state dir, node, IP range, name prefix and
# pool), so it neither disturbs nor is disturbed by a developer's. Needs root.
# CP_KEEP_LOGS=1 keeps the runtime host's log ($CLAWPLANE_RUNTIME_STATE_DIR/runtime-host.log).
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "FAIL: the runtime host needs root (network namespaces, mounts)" >&2; exit 1; }
src=${CP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
suffix=$$
ns=e2e-rh-$suffix
work=$(mktemp -d /tmp/clawplane-e2e-rh.XXXXXX)
# A fixed state dir: a run killed before its trap ran leaves nothing the next run's
# first `down` does not remove.
export CLAWPLANE_RUNTIME_STATE_DIR="${CLAWPLANE_CLUSTER_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/clawplane/cluster}/runtime-host-e2e"
export CLAWPLANE_RUNTIME_NODE=clawplane-rh-e2e
export CLAWPLANE_RUNTIME_NODE_IP=10.240.7.1
export CLAWPLANE_RUNTIME_POD_CIDR=10.247.0.0/24
export CLAWPLANE_RUNTIME_PREFIX=cpe2e
export CLAWPLANE_RUNTIME_POOL=e2e
node=$CLAWPLANE_RUNTIME_NODE
rh="$src/hack/runtime-host"
checks=0

say() { printf '== %s\n' "$*"; }
ok() { checks=$((checks + 1)); printf 'ok %d - %s\n' "$checks" "$*"; }
fail() {
  printf 'FAIL: %s\n' "$*" >&2
  {
    echo "--- pods in $ns"
    kubectl -n "$ns" get pod -o wide 2>&1
    kubectl -n "$ns" get pod -o jsonpath='{range .items[*]}{.metadata.name}: {.status}{"\n"}{end}' 2>&1
    kubectl -n "$ns" get events --sort-by=.lastTimestamp 2>&1 | tail -n 20
    echo "--- runtime host log (last 40 lines)"
    tail -n 40 "$CLAWPLANE_RUNTIME_STATE_DIR/runtime-host.log" 2>&1
    echo "--- openclaw log (last 20 lines)"
    timeout 10 "$rh" logs "$ns/claw" 2>&1 | tail -n 20
  } | cut -c1-2000 >&2
  exit 1
}

host_srv=""
cleanup() {
  [ -z "$host_srv" ] || kill "$host_srv" 2>/dev/null || true
  kubectl delete ns "$ns" --wait=false >/dev/null 2>&1 || true
  timeout 120 "$rh" down >/dev/null 2>&1 || true
kubectl delete ns -l clawplane-e2e=runtime-host --wait=false >/dev/null 2>&1 || true # a killed run's
  [ -n "${CP_KEEP_LOGS:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for <seconds> <description> <command...>: polls until the command succeeds.
wait_for() {
  local secs=$1 what=$2
  shift 2
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $end ] || fail "timed out after ${secs}s: $what"
    sleep 0.5
  done
}
jp() { kubectl -n "$ns" get "$1" -o jsonpath="$2" 2>/dev/null; }
field_is() { [ "$(jp "$1" "$2")" = "$3" ]; }
absent() { ! kubectl -n "$ns" get "$1" >/dev/null 2>&1; }
# pid_of <pod> <container>: the container's process (its PID 1) as the runtime host reports it.
pid_of() { timeout 20 "$rh" status 2>/dev/null | awk -v p="pod $ns/$1 " -v c="$2=" \
  'index($0, p) == 1 { for (i = 1; i <= NF; i++) if (index($i, c) == 1) print substr($i, length(c) + 1) }'; }

# The pinned Node and OpenClaw (cached after the first run) unless given.
if [ -z "${CLAWPLANE_NODE:-}" ] || [ -z "${CLAWPLANE_OPENCLAW_DIR:-}" ]; then
  timeout 900 "$src/hack/build-runtime" openclaw >/dev/null || fail "hack/build-runtime openclaw failed"
fi

say "runtime host up"
timeout 120 "$rh" down >/dev/null 2>&1 || true
kubectl delete ns -l clawplane-e2e=runtime-host --wait=false >/dev/null 2>&1 || true # a killed run's
timeout 120 "$rh" up || fail "hack/runtime-host up failed"
timeout 60 "$rh" up 2>/dev/null || fail "a second up failed (it must be idempotent)"
[ "$(kubectl get node "$node" -o jsonpath='{.metadata.labels.clawplane\.io/runtime-host}')" = e2e ] || fail "node label"
[ "$(kubectl get node "$node" -o jsonpath='{.spec.taints[?(@.key=="clawplane.io/runtime-host")].effect}')" = NoSchedule ] ||
  fail "node taint: $(kubectl get node "$node" -o jsonpath='{.spec.taints}')"
[ "$(kubectl get node "$node" -o jsonpath='{.spec.podCIDR}/{.status.addresses[?(@.type=="InternalIP")].address}')" = "10.247.0.0/24/10.240.7.1" ] ||
  fail "podCIDR or InternalIP"
kubectl -n kube-node-lease get lease "$node" >/dev/null || fail "no node Lease"
ok "node $node Ready with its label, taint, podCIDR, InternalIP and Lease; up is idempotent"

say "a restricted OpenClaw pod"
kubectl create ns "$ns" >/dev/null
kubectl label ns "$ns" pod-security.kubernetes.io/enforce=restricted clawplane-e2e=runtime-host >/dev/null
token=e2e-token-$suffix-$RANDOM$RANDOM
kubectl -n "$ns" create secret generic claw-credentials --from-literal=gateway-token="$token" >/dev/null
kubectl -n "$ns" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: ConfigMap
metadata: {name: claw-config}
data:
  openclaw.json: |
    {"gateway": {"mode": "local", "bind": "lan", "port": 18789, "auth": {"mode": "token"}}}
  net.js: |
    // Answers with the peer's address (or the mounted config on /cfg); tells what the host served.
    const http = require("http"), fs = require("fs");
    http.get("http://10.240.7.1:18080/hello.txt", (r) => {
      let b = ""; r.on("data", (d) => (b += d)); r.on("end", () => console.log("from host: " + b.trim()));
    }).on("error", (e) => console.log("host unreachable: " + e.message));
    require("https").get("https://10.240.7.1:10250/healthz", { rejectUnauthorized: false },
      (r) => console.log("kubelet API from the pod: " + r.statusCode)).on("error", (e) => console.log("kubelet API: " + e.message));
    http.createServer((q, s) => s.end(q.url === "/cfg" ? fs.readFileSync("/etc/openclaw/openclaw.json")
      : q.socket.remoteAddress)).listen(8080);
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: claw-state}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
EOF
wait_for 60 "PVC bound" field_is pvc/claw-state '{.status.phase}' Bound
pv=$(jp pvc/claw-state '{.spec.volumeName}')
pvdir=$(kubectl get pv "$pv" -o jsonpath='{.spec.hostPath.path}')
[ -n "$pvdir" ] || fail "PV $pv has no hostPath"

# pod_yaml <name> <image> <command json> [probes yaml]: a pod that passes "restricted".
pod_yaml() {
  cat <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $1, labels: {app: $1}}
spec:
  nodeSelector: {kubernetes.io/hostname: $node}
  tolerations: [{key: clawplane.io/runtime-host, operator: Equal, value: e2e, effect: NoSchedule}]
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 20
  securityContext:
    runAsNonRoot: true
    runAsUser: 1000
    runAsGroup: 1000
    fsGroup: 1000
    seccompProfile: {type: RuntimeDefault}
  containers:
  - name: openclaw
    image: $2
    command: $3
    terminationMessagePolicy: FallbackToLogsOnError
    ports: [{name: gateway, containerPort: 18789}]
    env:
    - {name: OPENCLAW_CONFIG_PATH, value: /etc/openclaw/openclaw.json}
    - {name: OPENCLAW_STATE_DIR, value: /home/node/.openclaw}
    - {name: MY_POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: MY_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
    - {name: GREETING, value: "hello \$(MY_POD)"}
    - name: OPENCLAW_GATEWAY_TOKEN
      valueFrom: {secretKeyRef: {name: claw-credentials, key: ${4:-gateway-token}}}
    securityContext:
      allowPrivilegeEscalation: false
      readOnlyRootFilesystem: true
      capabilities: {drop: [ALL]}
    volumeMounts:
    - {name: tmp, mountPath: /tmp}
    - {name: config-home, mountPath: /home/node/.config}
    - {name: cache, mountPath: /home/node/.cache}
    - {name: state, mountPath: /home/node/.openclaw}
    - {name: config, mountPath: /etc/openclaw, readOnly: true}
${5:-}
  volumes:
  - {name: tmp, emptyDir: {}}
  - {name: config-home, emptyDir: {}}
  - {name: cache, emptyDir: {}}
  - {name: state, persistentVolumeClaim: {claimName: claw-state}}
  - {name: config, configMap: {name: claw-config}}
EOF
}
probes='    startupProbe: {httpGet: {path: /healthz, port: gateway}, periodSeconds: 2, failureThreshold: 90}
    readinessProbe: {httpGet: {path: /readyz, port: 18789}, periodSeconds: 2}
    livenessProbe: {httpGet: {path: /healthz, port: 18789}, periodSeconds: 10, failureThreshold: 6}'
pod_yaml claw ghcr.io/openclaw/openclaw:2026.9.6 \
  '[node, openclaw.mjs, gateway, --bind, lan, --port, "18789", --allow-unconfigured]' gateway-token "$probes" |
  kubectl -n "$ns" apply -f - >/dev/null || fail "the restricted pod was refused"
t0=$SECONDS
ok "restricted pod admitted (namespace enforces Pod Security restricted)"

# Until Ready, sample the pod's Ready condition and OpenClaw's /readyz together: the pod
# must never be Ready while OpenClaw does not answer, and must be seen running unready.
seen_unready=0
end=$((SECONDS + 240))
while :; do
  ready=$(jp pod/claw '{.status.conditions[?(@.type=="Ready")].status}')
  ip=$(jp pod/claw '{.status.podIP}')
  answers=0
  [ -n "$ip" ] && curl -sf -m 2 "http://$ip:18789/readyz" >/dev/null 2>&1 && answers=1
  if [ "$ready" = True ]; then
    [ -n "$ip" ] && curl -sf -m 2 "http://$ip:18789/readyz" >/dev/null || fail "pod Ready but OpenClaw does not answer /readyz"
    break
  fi
  [ "$(jp pod/claw '{.status.containerStatuses[0].state.running.startedAt}')" != "" ] && [ $answers = 0 ] && seen_unready=1
  [ $SECONDS -lt $end ] || fail "pod not Ready after 240s"
  sleep 0.5
done
cold=$((SECONDS - t0))
kubectl -n "$ns" wait --for=condition=Ready pod/claw --timeout=10s >/dev/null || fail "kubectl wait"
[ $seen_unready = 1 ] || fail "never saw the container running but not Ready"
ok "Ready only once the real OpenClaw answers /readyz (cold start to Ready: ${cold}s)"

ip=$(jp pod/claw '{.status.podIP}')
case "$ip" in 10.247.0.*) ;; *) fail "podIP $ip not from the node's podCIDR" ;; esac
[ "$(jp pod/claw '{.status.hostIP}/{.status.phase}/{.status.containerStatuses[0].started}')" = "10.240.7.1/Running/true" ] ||
  fail "status: $(jp pod/claw '{.status}')"
grep -q '"ok":true' <<<"$(curl -sf -m 5 "http://$ip:18789/healthz")" || fail "curl http://$ip:18789/healthz from the host"
ok "curl http://$ip:18789/healthz from the host answers (podIP from the podCIDR, hostIP the node IP)"

pid=$(pid_of claw openclaw)
[ -n "$pid" ] && [ -d "/proc/$pid" ] || fail "no process for the pod (status: $(timeout 20 "$rh" status 2>&1))"
[ "$(awk '/^Uid:/ {print $2 "/" $3}' "/proc/$pid/status")/$(awk '/^Gid:/ {print $2}' "/proc/$pid/status")" = "1000/1000/1000" ] ||
  fail "process $pid does not run as uid/gid 1000: $(grep -E '^(Uid|Gid)' "/proc/$pid/status")"
grep -q '^CapEff:[[:space:]]*0000000000000000' "/proc/$pid/status" || fail "process has capabilities"
grep -q '^NoNewPrivs:[[:space:]]*1' "/proc/$pid/status" || fail "no_new_privs not set"
netns=$(ip netns list | awk '{print $1}' | grep "^cpe2e-$(jp pod/claw '{.metadata.uid}' | tr -d - | cut -c1-8)$" || true)
[ -n "$netns" ] || fail "no network namespace for the pod: $(ip netns list)"
[ "$(readlink "/proc/$pid/ns/net")" != "$(readlink /proc/self/ns/net)" ] || fail "the process shares the host's netns"
[ "$(stat -L -c %i "/proc/$pid/ns/net")" = "$(stat -L -c %i "/run/netns/$netns")" ] || fail "the process is not in netns $netns"
tr '\0' '\n' <"/proc/$pid/environ" | grep -qx "OPENCLAW_GATEWAY_TOKEN=$token" || fail "token not from the Secret"
tr '\0' '\n' <"/proc/$pid/environ" | grep -qx "GREETING=hello claw" || fail "\$(VAR) expansion"
tr '\0' '\n' <"/proc/$pid/environ" | grep -qx "MY_IP=$ip" || fail "fieldRef status.podIP"
tr '\0' '\n' <"/proc/$pid/environ" | grep -qx "NODE_ENV=production" || fail "the image's default env"
ok "process $pid runs as uid/gid 1000 without capabilities, no_new_privs, in netns $netns; env from Secret, fieldRef, \$(VAR)"

wait_for 30 "OpenClaw state in the PVC's directory" test -e "$pvdir/state/openclaw.sqlite"
[ "$(stat -c %u "$pvdir/state/openclaw.sqlite")" = 1000 ] || fail "state file not written by uid 1000"
ok "OpenClaw's state (state/openclaw.sqlite) lands in the PVC's hostPath $pvdir"
grep -q . <<<"$(kubectl -n "$ns" get events --field-selector involvedObject.name=claw,reason=Started -o name)" ||
  fail "no Started event"
ok "event Started recorded"

say "deletion"
kubectl -n "$ns" delete pod claw --timeout=60s >/dev/null || fail "kubectl delete pod did not finish in 60s"
absent pod/claw || fail "pod still there"
[ ! -d "/proc/$pid" ] || fail "process $pid still running after the pod was deleted"
! grep -q "^$netns\b" <<<"$(ip netns list)" || fail "netns $netns left behind"
! grep -q "cpe2e-$(echo "$netns" | cut -d- -f2)" <<<"$(ip link show)" || fail "veth left behind"
! grep -q "$CLAWPLANE_RUNTIME_STATE_DIR\|/run/netns/$netns " /proc/self/mountinfo || fail "mounts left on the host"
grep -q "$ns/claw: deleting: SIGTERM" "$CLAWPLANE_RUNTIME_STATE_DIR/runtime-host.log" || fail "no graceful SIGTERM logged"
ok "kubectl delete pod: SIGTERM, process, netns, veth gone, pod deleted"

say "networking, probes, a changed ConfigMap"
mkdir -p "$work/www"
echo "hello-from-host" >"$work/www/hello.txt"
timeout 600 python3 -m http.server --bind 10.240.7.1 18080 --directory "$work/www" >/dev/null 2>&1 &
host_srv=$!
wait_for 10 "host server on the node IP" curl -sf -m 1 http://10.240.7.1:18080/hello.txt
pod_yaml net ghcr.io/openclaw/openclaw:2026.9.6 '[node, /etc/openclaw/net.js]' gateway-token \
  '    readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
    livenessProbe: {exec: {command: [sh, -c, "test -r /etc/openclaw/net.js"]}, periodSeconds: 2}' |
  kubectl -n "$ns" apply -f - >/dev/null
kubectl -n "$ns" wait --for=condition=Ready pod/net --timeout=60s >/dev/null || fail "net pod not Ready (tcpSocket probe)"
nip=$(jp pod/net '{.status.podIP}')
peer=$(curl -s -m 5 "http://$nip:8080/")
[ "${peer#::ffff:}" = 10.240.7.1 ] || fail "the pod sees the host's connection from '$peer', not the node IP"
wait_for 20 "the pod reached the host's server on the node IP" sh -c "timeout 10 '$rh' logs '$ns/net' | grep -q 'from host: hello-from-host'"
ok "host -> pod arrives from the node IP; pod -> host service on the node IP answers; tcpSocket readiness"
pod_yaml peer ghcr.io/openclaw/openclaw:2026.9.6 '[sh, -c, "exec sleep 3600"]' | kubectl -n "$ns" apply -f - >/dev/null
kubectl -n "$ns" wait --for=condition=Ready pod/peer --timeout=60s >/dev/null || fail "peer pod not Ready"
peer_ip=$(jp pod/peer '{.status.podIP}')
peer_ns=cpe2e-$(jp pod/peer '{.metadata.uid}' | tr -d - | cut -c1-8)
peer=$(timeout 10 nsenter --net="/run/netns/$peer_ns" curl -s -m 5 "http://$nip:8080/" || true)
[ "${peer#::ffff:}" = "$peer_ip" ] || fail "pod to pod: the net pod saw '$peer', not the peer's IP $peer_ip"
ok "pod to pod: the peer ($peer_ip) reaches the net pod, which sees the peer's own IP"
grep -q 'from host: hello-from-host' <<<"$(kubectl -n "$ns" logs net --tail=5)" || fail "kubectl logs: $(kubectl -n "$ns" logs net 2>&1)"
wait_for 10 "the kubelet API refuses pods" sh -c "kubectl -n $ns logs net | grep -q 'kubelet API from the pod: 403'"
ok "kubectl logs reads the container's output through the runtime host's kubelet API, which refuses pods"
sleep 5
[ "$(jp pod/net '{.status.containerStatuses[0].restartCount}')" = 0 ] || fail "exec liveness probe restarted a healthy container"
kubectl -n "$ns" patch configmap claw-config --type=merge \
  -p '{"data":{"openclaw.json":"{\"gateway\": {\"mode\": \"local\", \"port\": 18790}}\n"}}' >/dev/null
wait_for 60 "the changed ConfigMap in the volume" sh -c "curl -s -m 2 http://$nip:8080/cfg | grep -q 18790"
ok "exec liveness probe passes; a changed ConfigMap shows in the mounted volume"

pod_yaml liveness ghcr.io/openclaw/openclaw:2026.9.6 '[sh, -c, "sleep 3; touch /tmp/unhealthy; exec sleep 3600"]' gateway-token \
  '    livenessProbe: {exec: {command: [sh, -c, "test ! -e /tmp/unhealthy"]}, periodSeconds: 1, failureThreshold: 2, terminationGracePeriodSeconds: 2}' |
  kubectl -n "$ns" apply -f - >/dev/null
wait_for 60 "restart after failed liveness probe" sh -c "[ \"\$(kubectl -n $ns get pod liveness -o jsonpath='{.status.containerStatuses[0].restartCount}')\" -ge 1 ]"
kubectl -n "$ns" get events --field-selector involvedObject.name=liveness,reason=Killing -o jsonpath='{.items[*].message}' |
  grep -q 'failed liveness probe, will be restarted' || fail "no Killing event for the liveness failure"
[ "$(jp pod/liveness '{.status.containerStatuses[0].lastState.terminated.exitCode}')" = 137 ] ||
  fail "liveness kill: $(jp pod/liveness '{.status.containerStatuses[0].lastState}')"
ok "a failing liveness probe kills the container (SIGKILL after the probe's grace period) and restarts it"
kubectl -n "$ns" delete pod net liveness peer --timeout=60s >/dev/null || fail "deleting net and liveness"

say "failures"
pod_yaml crash ghcr.io/openclaw/openclaw:2026.9.6 '[sh, -c, "echo starting up; echo boom: no such thing >&2; exit 1"]' |
  kubectl -n "$ns" apply -f - >/dev/null
pod_yaml nopull registry.invalid/nothing-here:1 '[sh, -c, "sleep 1"]' | kubectl -n "$ns" apply -f - >/dev/null
pod_yaml nokey ghcr.io/openclaw/openclaw:2026.9.6 '[sh, -c, "sleep 1"]' no-such-key | kubectl -n "$ns" apply -f - >/dev/null
crashloop() {
  [ "$(jp pod/crash '{.status.containerStatuses[0].state.waiting.reason}')" = CrashLoopBackOff ] &&
    [ "$(jp pod/crash '{.status.containerStatuses[0].restartCount}')" -gt 0 ] &&
    [ "$(jp pod/crash '{.status.containerStatuses[0].lastState.terminated.exitCode}')" = 1 ]
}
wait_for 90 "crash: CrashLoopBackOff with restartCount > 0 and last exit code 1" crashloop
jp pod/crash '{.status.containerStatuses[0].lastState.terminated.message}' | grep -q 'boom: no such thing' ||
  fail "termination message is not the log tail: $(jp pod/crash '{.status.containerStatuses[0].lastState.terminated}')"
[ "$(jp pod/crash '{.status.containerStatuses[0].lastState.terminated.reason}')" = Error ] || fail "reason not Error"
jp pod/crash '{.status.containerStatuses[0].state.waiting.message}' | grep -q '^back-off [0-9]*s restarting failed container=openclaw' ||
  fail "back-off message: $(jp pod/crash '{.status.containerStatuses[0].state.waiting.message}')"
ok "crashing command: restartCount $(jp pod/crash '{.status.containerStatuses[0].restartCount}'), lastState exit 1 with its log tail, CrashLoopBackOff"
wait_for 30 "nopull: ImagePullBackOff" field_is pod/nopull '{.status.containerStatuses[0].state.waiting.reason}' ImagePullBackOff
jp pod/nopull '{.status.containerStatuses[0].state.waiting.message}' | grep -q CLAWPLANE_RUNTIME_IMAGES ||
  fail "ImagePullBackOff message does not say how to add an image"
ok "unknown image: ImagePullBackOff, saying how to add one"
wait_for 30 "nokey: CreateContainerConfigError" field_is pod/nokey '{.status.containerStatuses[0].state.waiting.reason}' CreateContainerConfigError
ok "missing Secret key: CreateContainerConfigError ($(jp pod/nokey '{.status.containerStatuses[0].state.waiting.message}'))"
kubectl -n "$ns" delete pod nopull nokey --timeout=60s >/dev/null || fail "deleting waiting pods"

say "a killed daemon's leftovers"
pod_yaml sleeper ghcr.io/openclaw/openclaw:2026.9.6 '[sh, -c, "exec sleep 3600"]' | kubectl -n "$ns" apply -f - >/dev/null
wait_for 60 "sleeper Ready" field_is pod/sleeper '{.status.conditions[?(@.type=="Ready")].status}' True
old=$(pid_of sleeper openclaw)
[ -n "$old" ] && [ -d "/proc/$old" ] || fail "no sleeper process"
kill -9 "$(cat "$CLAWPLANE_RUNTIME_STATE_DIR/runtime-host.pid")"
sleep 1
[ -d "/proc/$old" ] || fail "the container died with the daemon (it should outlive it, as with a real runtime)"
timeout 120 "$rh" up >/dev/null 2>&1 || fail "up after a killed daemon"
wait_for 20 "old sleeper process killed" test ! -d "/proc/$old"
wait_for 60 "sleeper restarted" field_is pod/sleeper '{.status.conditions[?(@.type=="Ready")].status}' True
new=$(pid_of sleeper openclaw)
[ -n "$new" ] && [ "$new" != "$old" ] || fail "sleeper not restarted ($old -> $new)"
[ "$(jp pod/sleeper '{.status.containerStatuses[0].restartCount}')" -ge 1 ] || fail "restart not counted"
ok "a new daemon killed the old containers ($old) and restarted the pod ($new)"

say "down"
timeout 120 "$rh" down || fail "down failed"
wait_for 10 "sleeper process $new gone after down" test ! -d "/proc/$new"
! grep -q '^cpe2e-' <<<"$(ip netns list)" || fail "netns left after down: $(ip netns list)"
! grep -q ': cpe2e-' <<<"$(ip -o link show)" || fail "links left after down"
! grep -q "$CLAWPLANE_RUNTIME_STATE_DIR/pods" /proc/self/mountinfo || fail "mounts left after down"
! pgrep -f "$CLAWPLANE_RUNTIME_STATE_DIR/pods/" >/dev/null || fail "shims left after down"
! kubectl get node "$node" >/dev/null 2>&1 || fail "node still registered after down"
ok "down: no process, netns, link or mount left; node deleted"
echo "PASS: $checks checks"
