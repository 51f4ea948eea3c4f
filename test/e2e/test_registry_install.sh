#!/usr/bin/env bash
# e2e: the release path as a platform team meets it. The images (hack/build-images) and the
# chart, with those images pinned by digest, go to a real OCI registry on loopback
# (hack/registry: the CNCF distribution registry, crane, helm push); the chart is then
# installed FROM the registry onto a cluster that has no clawplane CRDs yet, so Helm creates
# them from the package; every Deployment becomes Available (the time is printed); an
# upgrade with the same values rolls nothing out; helm test passes; uninstall removes the
# release and keeps the CRDs.
#
# "No CRDs yet" needs a cluster of its own: the CRDs are cluster-wide, and in the shared
# cluster other suites' UserRuntimes live under them (deleting a CRD deletes every object of
# it). So this test brings up a throwaway control plane (hack/local-cluster with its own
# state directory and ports, about 15 s) and purges it at the end; the shared cluster is
# never touched.
set -euo pipefail
build=${CP_BUILD_DIR:?}
src=${CP_SOURCE_DIR:?}
tmp=$(mktemp -d /tmp/clawplane-e2e-registry.XXXXXX)
ns=clawplane-system
rel=clawplane
fn=clawplane
checks=0
cluster_up=0
step() { printf '== %s\n' "$*"; }
ok() { checks=$((checks + 1)); printf 'ok %d - %s\n' "$checks" "$*"; }
fail() {
  printf 'FAIL: %s\n' "$*" >&2
  exit 1
}
cleanup() {
  CLAWPLANE_REGISTRY_DIR=$tmp/registry "$src/hack/registry" down >/dev/null 2>&1 || true
  [ "$cluster_up" = 1 ] && "$src/hack/local-cluster" purge >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

port_free() { ! ss -Hltn "sport = :$1" | grep -q .; }
# A port base whose derived ports (hack/local-cluster: etcd api-4064/-4063, controller
# manager api-6086, scheduler api-6084, kwok api-6082) and the registry's (api+1) are free,
# below the ephemeral range so no outgoing connection holds one.
pick_ports() {
  local p i
  for i in $(seq 1 50); do
    p=$((20000 + RANDOM % 9000))
    port_free "$p" && port_free $((p - 4064)) && port_free $((p - 4063)) && port_free $((p - 6086)) &&
      port_free $((p - 6084)) && port_free $((p - 6082)) && port_free $((p + 1)) && { echo "$p"; return 0; }
  done
  return 1
}

step "a throwaway control plane and registry"
api_port=$(pick_ports) || fail "no free ports"
export CLAWPLANE_CLUSTER_DIR=$tmp/cluster CLAWPLANE_API_PORT=$api_port
export CLAWPLANE_REGISTRY_PORT=$((api_port + 1)) CLAWPLANE_REGISTRY_DIR=$tmp/registry
unset CLAWPLANE_USE_KUBECONFIG
cluster_up=1
t0=$SECONDS
timeout 300 "$src/hack/local-cluster" up >"$tmp/cluster.out" 2>&1 || fail "hack/local-cluster up failed: $(tail -n 20 "$tmp/cluster.out")"
export KUBECONFIG=$tmp/cluster/admin.kubeconfig
for crd in userruntimes.clawplane.io runtimeprofiles.clawplane.io; do
  kubectl get crd "$crd" >/dev/null 2>&1 && fail "the new cluster already has CRD $crd"
done
ok "own control plane on 127.0.0.1:$api_port in $((SECONDS - t0))s, no clawplane CRDs"
reg=$(timeout 300 "$src/hack/registry" up 2>/dev/null) || fail "hack/registry up failed"
[ "$reg" = "127.0.0.1:$CLAWPLANE_REGISTRY_PORT" ] || fail "hack/registry up printed $reg"
ok "registry answering on http://$reg/v2/"

step "push the images and the chart"
t0=$SECONDS
timeout 300 "$src/hack/build-images" --build-dir "$build" --out "$tmp/images" >"$tmp/build.out" 2>&1 ||
  fail "hack/build-images failed: $(cat "$tmp/build.out")"
build_s=$((SECONDS - t0))
timeout 300 "$src/hack/registry" push --images "$tmp/images" >"$tmp/push.out" 2>"$tmp/push.err" ||
  fail "hack/registry push failed: $(cat "$tmp/push.err")"
# shellcheck disable=SC1091
. "$tmp/images/release.env"
[ "$CHART" = "oci://$reg/charts/clawplane" ] || fail "release.env: CHART=$CHART"
crane=$("$src/hack/build-registry" 2>/dev/null)/crane
mapfile -t names < <(sed 's/#.*//' "$src/images/images.list" | awk 'NF {print $1}')
declare -A want
for name in "${names[@]}"; do
  var=$(tr 'a-z-' 'A-Z_' <<<"$name")
  ref=${!var:?release.env has no $var}
  want[$name]=$ref
  layout=$(jq -r '.manifests[0].digest' "$tmp/images/$name/index.json")
  [ "${ref##*@}" = "$layout" ] || fail "$name: release.env says $ref, the layout is $layout"
  got=$("$crane" digest --insecure "$ref") || fail "the registry does not serve $ref"
  [ "$got" = "$layout" ] || fail "$name: the registry serves $got for $ref"
done
ok "${#names[@]} images in the registry, each manifest the digest hack/build-images made (build ${build_s}s)"
mkdir -p "$tmp/pulled"
helm pull "$CHART" --version "$CHART_VERSION" --plain-http -d "$tmp/pulled" >"$tmp/pull.out" 2>&1 ||
  fail "helm pull $CHART failed: $(cat "$tmp/pull.out")"
grep -qx "Digest: $CHART_DIGEST" "$tmp/pull.out" || fail "helm pull got another chart digest: $(cat "$tmp/pull.out")"
tar -m -xzf "$tmp/pulled/clawplane-$CHART_VERSION.tgz" -C "$tmp/pulled"
for f in "$src"/crds/*.yaml; do
  cmp -s "$f" "$tmp/pulled/clawplane/crds/$(basename "$f")" || fail "the pulled chart's crds/$(basename "$f") differs from crds/"
done
for name in "${names[@]}"; do
  grep -qF "repository: ${want[$name]%@*}" "$tmp/pulled/clawplane/values.yaml" &&
    grep -qF "digest: \"${want[$name]##*@}\"" "$tmp/pulled/clawplane/values.yaml" ||
    fail "the pulled chart's values.yaml does not pin $name to ${want[$name]}"
done
ok "chart $CHART:$CHART_VERSION pulled back: CRDs as files, every image pinned by digest in its values"

step "helm install from $CHART"
kubectl create ns "$ns" >/dev/null
kubectl label ns "$ns" pod-security.kubernetes.io/enforce=restricted >/dev/null
kubectl -n "$ns" create secret generic "$fn-bootstrap-admin" --from-literal=username=admin \
  --from-literal=password="$(openssl rand -base64 24)" >/dev/null
kubectl -n "$ns" create secret generic "$fn-postgresql" --from-literal=password="$(openssl rand -hex 24)" >/dev/null
kubectl -n "$ns" create secret generic "$fn-files-key" --from-literal=key="$(openssl rand -hex 32)" >/dev/null
values=(--set postgresql.bundled.enabled=true --set postgresql.bundled.storage.size=1Gi)
t0=$(date +%s%N)
helm install "$rel" "$CHART" --version "$CHART_VERSION" --plain-http -n "$ns" "${values[@]}" \
  >"$tmp/install.out" 2>&1 || fail "helm install from the registry failed: $(cat "$tmp/install.out")"
kubectl -n "$ns" wait --for=condition=Available deploy --all --timeout=180s >/dev/null ||
  fail "not every Deployment became Available: $(kubectl -n "$ns" get deploy)"
install_ms=$((($(date +%s%N) - t0) / 1000000))
install_s=$((install_ms / 1000)).$(printf %03d $((install_ms % 1000)))
ndeploy=$(kubectl -n "$ns" get deploy -o name | wc -l)
[ "$ndeploy" = 3 ] || fail "$ndeploy Deployments, want controller, apiserver, modelproxy"
ok "helm install from the registry: all $ndeploy Deployments Available in ${install_s}s"
for crd in userruntimes.clawplane.io runtimeprofiles.clawplane.io; do
  mgr=$(kubectl get crd "$crd" -o jsonpath='{.metadata.managedFields[0].manager}' --show-managed-fields) ||
    fail "CRD $crd was not created"
  [ "$mgr" = helm ] || fail "CRD $crd was written by $mgr, not by helm"
  kubectl wait --for=condition=Established "crd/$crd" --timeout=30s >/dev/null || fail "CRD $crd not Established"
done
ok "Helm created both CRDs from the package (field manager helm), Established"
pins=()
for n in "${names[@]}"; do pins+=("$n=${want[$n]}"); done
kubectl -n "$ns" get deploy,statefulset -o json | python3 -c '
import json, sys
want = dict(a.split("=", 1) for a in sys.argv[1:])
for o in json.load(sys.stdin)["items"]:
    comp = o["metadata"]["labels"]["app.kubernetes.io/component"]
    for c in o["spec"]["template"]["spec"]["containers"]:
        if comp != "postgresql":
            assert c["image"] == want["clawplane-" + comp], (o["metadata"]["name"], c["image"])
' "${pins[@]}" || fail "a Deployment does not run the pushed digest"
ok "controller, apiserver and modelproxy run the pushed images by digest"

step "helm upgrade with the same values rolls nothing out"
state() { kubectl -n "$ns" get deploy,replicaset -o jsonpath='{range .items[*]}{.kind}/{.metadata.name} {.metadata.generation}{"\n"}{end}' | sort; }
state >"$tmp/before"
helm upgrade "$rel" "$CHART" --version "$CHART_VERSION" --plain-http -n "$ns" "${values[@]}" --wait --timeout 120s \
  >"$tmp/upgrade.out" 2>&1 || fail "helm upgrade failed: $(cat "$tmp/upgrade.out")"
state >"$tmp/after"
diff "$tmp/before" "$tmp/after" >"$tmp/diff" || fail "the upgrade rolled something out: $(cat "$tmp/diff")"
[ "$(grep -c '^ReplicaSet/' "$tmp/after")" = 3 ] || fail "not one ReplicaSet per Deployment: $(cat "$tmp/after")"
ok "upgrade (revision 2): same Deployment generations, same 3 ReplicaSets"
helm test "$rel" -n "$ns" --timeout 120s >"$tmp/test.out" 2>&1 || fail "helm test failed: $(cat "$tmp/test.out")"
[ "$(grep -c '^Phase: *Succeeded' "$tmp/test.out")" = 3 ] || fail "helm test: $(cat "$tmp/test.out")"
grep -qF "${want[clawplane-curl]}" <(helm get hooks "$rel" -n "$ns") || fail "the test Jobs do not use the pushed curl image"
ok "helm test: 3 Jobs with the pushed curl image succeeded"

step "helm uninstall"
helm uninstall "$rel" -n "$ns" --wait --timeout 120s >"$tmp/uninstall.out" 2>&1 ||
  fail "helm uninstall failed: $(cat "$tmp/uninstall.out")"
[ "$(kubectl -n "$ns" get deploy,statefulset -o name | wc -l)" = 0 ] || fail "workloads left: $(kubectl -n "$ns" get deploy,statefulset)"
kubectl get crd userruntimes.clawplane.io runtimeprofiles.clawplane.io >/dev/null || fail "uninstall deleted the CRDs"
ok "uninstalled: no Deployment or StatefulSet left; CRDs kept (Helm never deletes them)"
echo "# install from the registry until every Deployment is Available: ${install_s}s"
echo "$checks passed, 0 failed"
