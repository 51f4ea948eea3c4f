#!/usr/bin/env bash
# The local control plane is the real thing: the pinned server version answers, kwok nodes
# are Ready, a Pod is scheduled and becomes Running, and Pod Security `restricted` is
# enforced by the apiserver's admission. Run through `hack/local-cluster exec`.
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }
src=${CP_SOURCE_DIR:?}
. "$src/hack/versions.env"
ns=e2e-cluster-$$
psa=e2e-psa-$$
extra=lc-extra-$$
trap 'kubectl delete ns $ns $psa --wait=false >/dev/null 2>&1 || true
      kubectl delete nodes -l "clawplane.io/test=$extra" --wait=false >/dev/null 2>&1 || true' EXIT

echo "server version is $KUBE_VERSION"
v=$(kubectl version -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["serverVersion"]["gitVersion"])')
[ "$v" = "$KUBE_VERSION" ] || fail "server reports $v, expected $KUBE_VERSION"

echo "kwok nodes are Ready"
ready=$(kubectl get nodes -l type=kwok -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c True || true)
[ "$ready" -ge 1 ] || fail "no Ready kwok node"

# `up` waits for its kwok nodes by `nodes-ready`; with 40 nodes its old check (kubectl wait,
# about 150 ms per node in turn, under a 5 s timeout) never passed. 40 more fake nodes,
# unschedulable so no other test's pod lands on them, must be judged Ready in one quick call.
echo "nodes-ready judges 40 more kwok nodes at once"
for i in $(seq 1 40); do
  printf -- '---\napiVersion: v1\nkind: Node\nmetadata: {name: %s-%d, annotations: {kwok.x-k8s.io/node: fake}, labels: {type: kwok, clawplane.io/test: %s}}\nspec: {unschedulable: true}\n' \
    "$extra" "$i" "$extra"
done | kubectl apply -f - >/dev/null
deadline=$((SECONDS + 90))
until out=$("$src/hack/local-cluster" nodes-ready 2>&1); do
  [ $SECONDS -lt $deadline ] || fail "kwok nodes not judged Ready after 90 s: $out"
  sleep 1
done
case "$out" in */*) total=${out#*/} ;; *) fail "nodes-ready printed '$out'" ;; esac
[ "$total" -ge 41 ] || fail "nodes-ready counted $total nodes, expected the 40 extra ones too"
t=$SECONDS
"$src/hack/local-cluster" nodes-ready >/dev/null || fail "nodes-ready failed on Ready nodes"
[ $((SECONDS - t)) -le 3 ] || fail "nodes-ready took $((SECONDS - t)) s for $total nodes"
kubectl delete nodes -l "clawplane.io/test=$extra" --wait=false >/dev/null

echo "a Pod becomes Running"
kubectl create ns "$ns" >/dev/null
kubectl -n "$ns" run web --image=registry.invalid/web:1 --restart=Never >/dev/null
kubectl -n "$ns" wait --for=jsonpath='{.status.phase}'=Running pod/web --timeout=90s >/dev/null ||
  fail "pod did not become Running: $(kubectl -n "$ns" get pod web -o wide 2>&1)"
node=$(kubectl -n "$ns" get pod web -o jsonpath='{.spec.nodeName}')
case "$node" in kwok-node-*) ;; *) fail "pod scheduled on '$node', expected a kwok node" ;; esac

echo "Pod Security restricted is enforced"
kubectl create ns "$psa" >/dev/null
kubectl label ns "$psa" pod-security.kubernetes.io/enforce=restricted >/dev/null
if out=$(kubectl -n "$psa" run bad --image=registry.invalid/web:1 --restart=Never 2>&1); then
  fail "a pod violating restricted was admitted"
fi
echo "$out" | grep -q 'violates PodSecurity "restricted' || fail "unexpected refusal: $out"

# `up` holds the cluster directory's lock while it starts things; the components it starts
# must not keep it. One that did kept the lock after a failed `up`, and the next `up` waited
# on it forever, silently.
echo "the components do not hold the cluster's lock"
dir=$(dirname "${KUBECONFIG:?}")
if [ -e "$dir/lock" ] && [ "${CLAWPLANE_USE_KUBECONFIG:-0}" != 1 ]; then
  holders=""
  for pid in $(pgrep -f -- "$dir/" || true); do
    [ "$pid" = $$ ] && continue
    for fd in /proc/"$pid"/fd/*; do
      [ "$(readlink "$fd" 2>/dev/null)" = "$dir/lock" ] && holders="$holders $(ps -o comm= -p "$pid")"
    done
  done
  [ -z "$holders" ] ||
    fail "these keep $dir/lock open, so a failed 'up' would leave it locked:$holders (started by an older hack/local-cluster? run 'hack/local-cluster down', then 'up')"
fi
echo "ok"
