#!/usr/bin/env bash
# e2e: the Helm chart (charts/clawplane) on the local control plane, as a platform team
# uses it: lint and schema, template + server-side dry run, a real install whose
# Deployments become available on kwok nodes, RBAC as seen by `kubectl auth can-i`, the
# real controller reconciling a UserRuntime with nothing but the chart's RBAC, an upgrade
# with unchanged values that changes no object, `helm test`, uninstall keeping the CRDs, the
# runtime namespace, the users' PVCs and the password Secrets, and a reinstall that adopts
# the kept namespace and whose apiserver logs the admin in on the kept database. Two renders
# with the same values are byte-identical (the chart generates no Secret).
#
# Every run has its own release, namespaces and RuntimeProfile names, so runs and the other
# e2e scripts can share the cluster. The CRDs are shared: Helm installs the chart's crds/
# only where they are missing and never changes existing ones.
set -euo pipefail
build=${CP_BUILD_DIR:?}
src=${CP_SOURCE_DIR:?}
chart="$src/charts/clawplane"
data="$src/test/data/helm"
ctl_bin="$build/bin/clawplane-controller"
suffix=$$
rel=cph-$suffix             # release; object prefix cph-<pid>-clawplane
ns=e2e-helm-$suffix         # release namespace
rtns=e2e-helm-rt-$suffix    # runtime namespace (created by the chart)
dryns=e2e-helm-dry-$suffix  # for the template dry run
dryrt=e2e-helm-dryrt-$suffix
profile=helm-$suffix
fn=$rel-clawplane
tmp=$(mktemp -d /tmp/clawplane-e2e-helm.XXXXXX)
checks=0
ctl_pid=""
installed=0

step() { printf '== %s\n' "$*"; }
ok() { checks=$((checks + 1)); printf 'ok %d - %s\n' "$checks" "$*"; }
fail() {
  printf 'FAIL: %s\n' "$*" >&2
  [ -f "$tmp/controller.log" ] && { echo "--- controller log (last 30 lines)" >&2; tail -n 30 "$tmp/controller.log" >&2; }
  exit 1
}
cleanup() {
  [ -n "$ctl_pid" ] && kill "$ctl_pid" 2>/dev/null || true
  [ "$installed" = 1 ] && helm uninstall "$rel" -n "$ns" --wait --timeout 60s >/dev/null 2>&1 || true
  local n
  for n in "$ns" "$rtns" "$dryns" "$dryrt"; do
    kubectl delete ns "$n" --wait=false >/dev/null 2>&1 || true
  done
  kubectl delete runtimeprofile "$profile" "$profile-dry" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  [ -n "${pgschema:-}" ] && pg_schema_drop "$pgschema"
  rm -rf "$tmp"
}
trap cleanup EXIT

# helm prints a notice on stderr for every symbolic link it follows (crds/); drop those.
# `helm template` renders for Kubernetes v1.20 unless told otherwise, which the chart's
# kubeVersion (>= 1.31) refuses: render for the cluster at hand, as Argo CD does.
kube_version=$(kubectl version -o json | jq -r .serverVersion.gitVersion)
h() {
  if [ "$1" = template ]; then
    helm template --kube-version "$kube_version" "${@:2}" 2> >(grep -v 'found symbolic link in path' >&2)
  else
    helm "$@" 2> >(grep -v 'found symbolic link in path' >&2)
  fi
}
set_args=(--set "runtimes.namespace=$rtns" --set "defaultProfile.name=$profile")

# ---------------------------------------------------------------------------------------
step "helm lint and values.schema.json"
out=$(h lint "$chart" --strict -f "$data/install-values.yaml" "${set_args[@]}" 2>&1) ||
  fail "helm lint --strict failed: $out"
grep -q '1 chart(s) linted, 0 chart(s) failed' <<<"$out" || fail "helm lint: $out"
ok "helm lint --strict passes with the install values"
out=$(h lint "$chart" 2>&1) || fail "helm lint with the chart's own defaults failed: $out"
ok "helm lint passes with the chart's defaults"
out=$(h lint "$chart" --strict -f "$src/examples/helm/values-production.yaml" 2>&1) ||
  fail "helm lint --strict of examples/helm/values-production.yaml (the README's install) failed: $out"
ok "helm lint --strict passes with the README's production values"

rc=0
out=$(h lint "$chart" -f "$data/bad-values.yaml" 2>&1) || rc=$?
[ "$rc" -ne 0 ] || fail "helm lint accepted test/data/helm/bad-values.yaml: $out"
for want in "at '/controller/replicaCount': got string, want integer" \
  "at '/runtimes/namespace': 'User_Runtimes' does not match pattern" \
  "additional properties 'controler' not allowed"; do
  grep -qF -- "$want" <<<"$out" || fail "helm lint of bad values does not say \"$want\": $out"
done
ok "helm lint refuses bad values and names each bad path"
rc=0
out=$(h template x "$chart" -f "$data/bad-values.yaml" 2>&1) || rc=$?
[ "$rc" -ne 0 ] && grep -qF "/controller/replicaCount" <<<"$out" ||
  fail "helm template accepted bad values: $out"
ok "helm template refuses them too"

expect_template_error() { # <what> <message> <helm args...>
  local what=$1 want=$2 rc=0 out
  shift 2
  out=$(h template x "$chart" "$@" 2>&1) || rc=$?
  [ "$rc" -ne 0 ] || fail "helm template accepted $what"
  grep -qF -- "$want" <<<"$out" || fail "helm template, $what: no \"$want\" in: $out"
  ok "helm template refuses $what: $want"
}
expect_template_error "no database choice" \
  "set postgresql.external.existingSecret (a Secret holding a libpq URL) or postgresql.bundled.enabled=true"
expect_template_error "an image not pinned by digest" "is not pinned by digest" \
  --set postgresql.bundled.enabled=true --set defaultProfile.image=ghcr.io/openclaw/openclaw:latest
expect_template_error "two controllers without leader election" "at '/controller/replicaCount': value must be 1" \
  --set postgresql.bundled.enabled=true --set controller.leaderElection.enabled=false
expect_template_error "both databases" "choose one of postgresql.bundled.enabled and postgresql.external.existingSecret" \
  --set postgresql.bundled.enabled=true --set postgresql.external.existingSecret=db

# GitOps tools render the chart on every sync: the same values must give the same bytes
# (no generated passwords: the chart creates no Secret at all).
render_all=(--set postgresql.bundled.enabled=true --set ingress.enabled=true --set modelproxy.tokenReview=true
  --set traefik.enabled=true --api-versions traefik.io/v1alpha1)
h template x "$chart" "${render_all[@]}" >"$tmp/render1.yaml" || fail "helm template failed"
h template x "$chart" "${render_all[@]}" >"$tmp/render2.yaml" || fail "helm template failed"
cmp -s "$tmp/render1.yaml" "$tmp/render2.yaml" || fail "two renders differ: $(diff "$tmp/render1.yaml" "$tmp/render2.yaml" | head)"
grep -q '^kind: Secret$' "$tmp/render1.yaml" && fail "the chart renders a Secret"
ok "two helm template renders with the same values are byte-identical; the chart renders no Secret"

# ---------------------------------------------------------------------------------------
step "CRDs: the chart's crds/ are the repository's crds/"
for f in "$src"/crds/*.yaml; do
  b=$(basename "$f")
  [ -L "$chart/crds/$b" ] || fail "charts/clawplane/crds/$b is not a symbolic link to crds/$b"
  [ "$(readlink -f "$chart/crds/$b")" = "$(readlink -f "$f")" ] ||
    fail "charts/clawplane/crds/$b points at $(readlink "$chart/crds/$b"), not crds/$b"
done
n_chart=$(find "$chart/crds" -name '*.yaml' | wc -l)
n_src=$(find "$src/crds" -maxdepth 1 -name '*.yaml' | wc -l)
[ "$n_chart" = "$n_src" ] || fail "charts/clawplane/crds has $n_chart files, crds/ has $n_src"
ok "charts/clawplane/crds/*.yaml are symbolic links to each of crds/*.yaml"
h package "$chart" -d "$tmp/pkg" >/dev/null || fail "helm package failed"
mkdir -p "$tmp/unpacked"
tar -m -xzf "$tmp"/pkg/clawplane-*.tgz -C "$tmp/unpacked"
for f in "$src"/crds/*.yaml; do
  b=$(basename "$f")
  [ -f "$tmp/unpacked/clawplane/crds/$b" ] && [ ! -L "$tmp/unpacked/clawplane/crds/$b" ] ||
    fail "the packaged chart has no regular file crds/$b"
  cmp -s "$f" "$tmp/unpacked/clawplane/crds/$b" || fail "packaged crds/$b differs from crds/$b"
done
ok "helm package stores the CRDs' contents, byte for byte"
out=$(h template x "$chart" --include-crds --set postgresql.bundled.enabled=true) || fail "helm template --include-crds failed"
for crd in userruntimes.clawplane.io runtimeprofiles.clawplane.io; do
  grep -q "^  name: $crd\$" <<<"$out" || fail "helm template --include-crds lacks $crd"
done
ok "helm template --include-crds renders both CRDs"
h lint "$tmp"/pkg/clawplane-*.tgz -f "$data/install-values.yaml" >/dev/null 2>&1 || fail "helm lint of the packaged chart failed"
ok "helm lint passes on the packaged chart"

# ---------------------------------------------------------------------------------------
step "helm template | kubectl apply --dry-run=server (namespaces $dryns, $dryrt)"
kubectl apply --server-side --force-conflicts -f "$src/crds/" >/dev/null
kubectl wait --for=condition=Established crd/userruntimes.clawplane.io \
  crd/runtimeprofiles.clawplane.io --timeout=60s >/dev/null
for n in "$dryns" "$dryrt"; do
  kubectl create ns "$n" --save-config >/dev/null # so that apply finds its annotation
  kubectl label ns "$n" pod-security.kubernetes.io/enforce=restricted \
    pod-security.kubernetes.io/warn=restricted >/dev/null
done
dry() { # dry <label> <helm template args...>
  local what=$1 out
  shift
  h template "$rel-dry" "$chart" -n "$dryns" --set "runtimes.namespace=$dryrt" \
    --set "defaultProfile.name=$profile-dry" "$@" >"$tmp/dry.yaml" || fail "helm template ($what) failed"
  out=$(kubectl apply --dry-run=server -f "$tmp/dry.yaml" 2>&1) ||
    fail "the API server refused the rendered chart ($what): $out"
  grep -qi 'warning' <<<"$out" && fail "the API server warned about the rendered chart ($what): $out"
  grep -q "deployment.apps/$rel-dry-clawplane-controller created (server dry run)" <<<"$out" ||
    fail "dry run ($what) did not create the controller Deployment: $out"
  ok "dry run accepted without warnings ($what): $(grep -c 'server dry run' <<<"$out") objects"
}
dry "external PostgreSQL" --set postgresql.external.existingSecret=clawplane-db
dry "bundled PostgreSQL, watchAllNamespaces, ingress, TokenReview" \
  --set postgresql.bundled.enabled=true --set runtimes.watchAllNamespaces=true \
  --set ingress.enabled=true --set modelproxy.tokenReview=true \
  --set-json 'networkPolicy.metricsFrom=[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"monitoring"}}}]'

# Traefik and the Prometheus Operator are not installed here: their objects render only
# when their APIs exist. Check both directions.
h template x "$chart" -n "$dryns" --set postgresql.bundled.enabled=true --set traefik.enabled=true \
  --set metrics.serviceMonitor.enabled=true >"$tmp/no-crds.yaml"
grep -Eq '^kind: (IngressRoute|Middleware|ServiceMonitor)$' "$tmp/no-crds.yaml" &&
  fail "IngressRoute/Middleware/ServiceMonitor rendered although their APIs are absent"
ok "no IngressRoute, Middleware or ServiceMonitor without their APIs"
h template x "$chart" -n "$dryns" --set postgresql.bundled.enabled=true --set traefik.enabled=true \
  --set traefik.host=claw.example.com --set metrics.serviceMonitor.enabled=true \
  --api-versions traefik.io/v1alpha1 --api-versions monitoring.coreos.com/v1/ServiceMonitor >"$tmp/crds.yaml"
# The rendered lines that matter, leading blanks dropped (no YAML parser needed).
sed 's/^ *//' "$tmp/crds.yaml" >"$tmp/crds.lines"
for line in 'kind: Middleware' 'kind: IngressRoute' 'kind: ServiceMonitor' \
  "address: \"http://x-clawplane-apiserver.$dryns.svc:8080/internal/auth/forward\"" \
  'trustForwardHeader: false' '- X-Clawplane-User' 'match: "Host(`claw.example.com`)"' \
  '- name: x-clawplane-apiserver' 'path: /metrics'; do
  grep -qxF -- "$line" "$tmp/crds.lines" || fail "with the Traefik and Prometheus APIs, no line '$line' in: $(cat "$tmp/crds.yaml")"
done
ok "with the APIs present: ForwardAuth to the apiserver's /internal/auth/forward, IngressRoute, ServiceMonitor"

# ---------------------------------------------------------------------------------------
step "helm install $rel into $ns (runtimes in $rtns)"
kubectl create ns "$ns" >/dev/null
# The control plane's own pods must pass Pod Security "restricted" too.
kubectl label ns "$ns" pod-security.kubernetes.io/enforce=restricted \
  pod-security.kubernetes.io/warn=restricted >/dev/null
# The Secrets the chart expects and never creates (values.yaml tells how).
kubectl -n "$ns" create secret generic "$fn-bootstrap-admin" --from-literal=username=admin \
  --from-literal=password="$(openssl rand -base64 24)" >/dev/null
kubectl -n "$ns" create secret generic "$fn-postgresql" --from-literal=password="$(openssl rand -hex 24)" >/dev/null
kubectl -n "$ns" create secret generic "$fn-files-key" --from-literal=key="$(openssl rand -hex 32)" >/dev/null
secret_state() { kubectl -n "$ns" get secret "$fn-bootstrap-admin" "$fn-postgresql" "$fn-files-key" -o jsonpath='{range .items[*]}{.metadata.uid} {.data}{"\n"}{end}'; }
secrets_before=$(secret_state)
installed=1
# Whether Traefik's API is served decides the controller's route rules (helm's
# .Capabilities); another suite may install its CRDs while this one runs, so look before
# and after the install, with a GET of the group itself rather than a discovery listing
# (in CI a listing once showed no Traefik while the chart had been rendered with it).
traefik_api() { kubectl get --raw /apis/traefik.io/v1alpha1 >/dev/null 2>&1 && echo yes || echo no; }
traefik_before=$(traefik_api)
h install "$rel" "$chart" -n "$ns" -f "$data/install-values.yaml" "${set_args[@]}" \
  --wait --timeout 180s >"$tmp/install.out" 2>"$tmp/install.err" ||
  fail "helm install failed: $(cat "$tmp/install.err" "$tmp/install.out")"
grep -qi 'PodSecurity' "$tmp/install.err" && fail "Pod Security warnings during install: $(cat "$tmp/install.err")"
ok "helm install --wait succeeded with Pod Security restricted enforced on $ns"
grep -q "kubectl -n $rtns wait --for=condition=Ready userruntime/alice" "$tmp/install.out" &&
  grep -q "port-forward svc/$fn-apiserver" "$tmp/install.out" &&
  grep -qF "then open http://127.0.0.1:8080/login" "$tmp/install.out" &&
  grep -qF "kubectl apply --server-side -f - <<EOF" "$tmp/install.out" &&
  grep -qF "create secret generic $fn-bootstrap-admin" "$tmp/install.out" ||
  fail "NOTES do not say how to create a runtime and reach the dashboard: $(cat "$tmp/install.out")"
ok "NOTES tell how to create a runtime with kubectl and reach the dashboard"

for d in controller apiserver modelproxy; do
  kubectl -n "$ns" wait --for=condition=Available "deploy/$fn-$d" --timeout=120s >/dev/null ||
    fail "deploy/$fn-$d not Available"
  want=$(kubectl -n "$ns" get "deploy/$fn-$d" -o jsonpath='{.spec.replicas}')
  got=$(kubectl -n "$ns" get "deploy/$fn-$d" -o jsonpath='{.status.availableReplicas}')
  [ "$got" = "$want" ] && [ "$want" -ge 1 ] || fail "deploy/$fn-$d: $got of $want replicas available"
  nodes=$(kubectl -n "$ns" get pods -l "app.kubernetes.io/instance=$rel,app.kubernetes.io/name=clawplane-$d" \
    -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}')
  [ "$(grep -c '^kwok-node-' <<<"$nodes")" = "$want" ] || fail "$d pods not on kwok nodes: $nodes"
  ok "deploy/$fn-$d Available, $got/$want replicas on kwok nodes"
done
[ "$(kubectl -n "$ns" get "deploy/$fn-controller" -o jsonpath='{.spec.replicas}')" = 2 ] ||
  fail "the controller does not run 2 replicas"
args=$(kubectl -n "$ns" get "deploy/$fn-controller" -o jsonpath='{.spec.template.spec.containers[0].args}')
for a in "--leader-elect=true" "--leader-election-namespace=$ns" "--namespace=$rtns" "--system-namespace=$ns" \
  "--modelproxy-url=http://$fn-modelproxy.$ns.svc:8080/v1"; do
  grep -qF -- "\"$a\"" <<<"$args" || fail "controller args lack $a: $args"
done
ok "controller: 2 replicas, leader-elected in $ns, watching $rtns"
kubectl -n "$ns" wait --for=jsonpath='{.status.readyReplicas}'=1 "statefulset/$fn-postgresql" --timeout=120s >/dev/null ||
  fail "the bundled PostgreSQL is not ready"
ok "bundled PostgreSQL StatefulSet ready"
for kind in pdb/$fn-controller pdb/$fn-apiserver pdb/$fn-modelproxy svc/$fn-apiserver svc/$fn-modelproxy \
  svc/$fn-controller-metrics networkpolicy/$fn-controller networkpolicy/$fn-apiserver \
  networkpolicy/$fn-modelproxy networkpolicy/$fn-postgresql; do
  kubectl -n "$ns" get "$kind" >/dev/null 2>&1 || fail "$kind missing"
done
ok "PodDisruptionBudgets, Services and NetworkPolicies present"

# Every pod of the release: restricted security, token mounted only where the API is used.
python3 - "$ns" "$rel" <<'EOF' || fail "a pod's security settings are wrong"
import json, subprocess, sys
ns, rel = sys.argv[1:]
pods = json.loads(subprocess.check_output(
    ["kubectl", "-n", ns, "get", "pods", "-l", f"app.kubernetes.io/instance={rel}", "-o", "json"]))["items"]
assert len(pods) == 7, f"{len(pods)} pods, want 2+2+2+1"
for p in pods:
    name, s = p["metadata"]["name"], p["spec"]
    comp = p["metadata"]["labels"]["app.kubernetes.io/component"]
    assert s["securityContext"]["runAsNonRoot"] is True, name
    assert s["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
    assert s["automountServiceAccountToken"] is (comp != "postgresql"), (name, s.get("automountServiceAccountToken"))
    for c in s["containers"]:
        sc = c["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True, name
        assert sc["capabilities"]["drop"] == ["ALL"] and "add" not in sc["capabilities"], name
        assert c.get("livenessProbe") and c.get("readinessProbe"), name
        assert c["resources"].get("limits") and c["resources"].get("requests"), name
    if comp != "postgresql":  # two replicas each: spread over nodes
        assert s["topologySpreadConstraints"][0]["topologyKey"] == "kubernetes.io/hostname", name
    mounts = [v for v in s.get("volumes", []) if v.get("projected")]
    assert bool(mounts) == (comp != "postgresql"), (name, "service account token volume")
print(f"{len(pods)} pods checked")
EOF
ok "all 7 pods: non-root, seccomp RuntimeDefault, drop ALL, read-only root, probes, resources, spread; no token in PostgreSQL"

for lvl in enforce audit warn; do
  got=$(kubectl get ns "$rtns" -o jsonpath="{.metadata.labels.pod-security\.kubernetes\.io/$lvl}")
  [ "$got" = restricted ] || fail "namespace $rtns: pod-security $lvl is '$got'"
done
[ "$(kubectl get ns "$rtns" -o jsonpath='{.metadata.annotations.helm\.sh/resource-policy}')" = keep ] ||
  fail "namespace $rtns lacks helm.sh/resource-policy: keep"
ok "runtime namespace $rtns: Pod Security restricted (enforce, audit, warn), resource-policy keep"
img=$(kubectl get runtimeprofile "$profile" -o jsonpath='{.spec.image}')
[[ "$img" =~ @sha256:[0-9a-f]{64}$ ]] || fail "RuntimeProfile $profile image not pinned: $img"
mp=$(kubectl get runtimeprofile "$profile" -o jsonpath='{.spec.modelProxy.url}')
[ "$mp" = "http://$fn-modelproxy.$ns.svc:8080/v1" ] || fail "RuntimeProfile $profile modelProxy.url: $mp"
ok "RuntimeProfile $profile: image by digest, model proxy of this release"

# ---------------------------------------------------------------------------------------
step "RBAC: kubectl auth can-i for each ServiceAccount"
sa() { printf 'system:serviceaccount:%s:%s-%s' "$ns" "$fn" "$1"; }
# rules <sa> <namespace>: the resource rules, one "resource names verbs" line each, sorted,
# without the self-review rules every authenticated user has.
rules() {
  kubectl auth can-i --list --as="$(sa "$1")" -n "$2" 2>/dev/null | python3 -c '
import re, sys
rows = []
for line in sys.stdin.read().splitlines()[1:]:
    if line.lstrip().startswith("["):  # no resource: a non-resource URL (discovery)
        continue
    m = re.match(r"^(\S+)\s+\[(.*?)\]\s+\[(.*?)\]\s+\[(.*?)\]\s*$", line)
    if not m:
        raise SystemExit("cannot parse: " + line)
    res, urls, names, verbs = m.groups()
    if urls:                       # non-resource URLs (discovery), not resources
        continue
    if res.startswith("self") and res.endswith(".authorization.k8s.io") or res == "selfsubjectreviews.authentication.k8s.io":
        continue
    rows.append(f"{res} [{names}] [{verbs}]")
print("\n".join(sorted(rows)))'
}
expect_rules() { # <sa> <namespace> <expected lines...>
  local who=$1 where=$2 got want
  shift 2
  got=$(rules "$who" "$where") || fail "kubectl auth can-i --list for $who failed"
  want=$(printf '%s\n' "$@" | sort)
  grep -Eq '(^\*|\[[^]]*\*[^]]*\]$)' <<<"$got" && fail "$who in $where has a wildcard: $got"
  [ "$got" = "$want" ] || fail "$who in $where:
--- got
$got
--- want
$want"
  ok "$who in $where may exactly: $(tr '\n' ';' <<<"${got:-nothing}")"
}
profiles_rw="runtimeprofiles.clawplane.io [] [get list watch]"
profiles_r="runtimeprofiles.clawplane.io [] [get list]"
# Routes (IngressRoute + Middleware per runtime) exist only where Traefik's CRDs do;
# other suites may have installed them in this cluster, even during the install above.
routes=()
route_rules=("ingressroutes.traefik.io [] [get list watch create patch]"
  "middlewares.traefik.io [] [get list watch create patch]")
traefik_after=$(traefik_api)
if [ "$traefik_before" != "$traefik_after" ]; then
  # Installed mid-render: either answer is right; take the one the release holds.
  grep -q 'traefik.io' <<<"$(h get manifest "$rel" -n "$ns")" && routes=("${route_rules[@]}")
elif [ "$traefik_after" = yes ]; then
  routes=("${route_rules[@]}")
fi
expect_rules controller "$rtns" \
  "${routes[@]}" \
  "configmaps [] [get list watch create patch]" \
  "pods [] [get list watch create patch delete]" \
  "services [] [get list watch create patch]" \
  "persistentvolumeclaims [] [get list watch create patch]" \
  "networkpolicies.networking.k8s.io [] [get list watch create patch]" \
  "secrets [] [get list watch create patch]" \
  "events [] [create]" \
  "userruntimes.clawplane.io [] [get list watch]" \
  "userruntimes.clawplane.io/status [] [patch]" \
  "userruntimes.clawplane.io/finalizers [] [update]" \
  "$profiles_rw"
expect_rules controller "$ns" \
  "leases.coordination.k8s.io [] [create]" \
  "leases.coordination.k8s.io [clawplane-controller] [get update]" \
  "$profiles_rw"
expect_rules apiserver "$rtns" \
  "userruntimes.clawplane.io [] [get list watch create patch delete]" \
  "userruntimes.clawplane.io/status [] [patch]" \
  "pods [] [get]" \
  "$profiles_r"
expect_rules apiserver "$ns" \
  "leases.coordination.k8s.io [clawplane-controller] [get]" \
  "$profiles_r"
expect_rules modelproxy "$rtns" \
  "secrets [] [get list watch]" \
  "userruntimes.clawplane.io [] [get list]" \
  "userruntimes.clawplane.io/status [] [patch]" \
  "$profiles_r"
expect_rules modelproxy "$ns" "$profiles_r"
expect_rules postgresql "$ns"
expect_rules postgresql "$rtns"

cannot() { # cannot <sa> <verb> <resource> <namespace>
  local out
  out=$(kubectl auth can-i "$2" "$3" --as="$(sa "$1")" -n "$4" 2>/dev/null) || true
  [ "$out" = no ] || fail "$1 can $2 $3 in $4 ($out)"
}
can() { # can <sa> <verb> <resource> <namespace> [kubectl args...]
  local out
  out=$(kubectl auth can-i "$2" "$3" --as="$(sa "$1")" -n "$4" "${@:5}" 2>/dev/null) || true
  [ "$out" = yes ] || fail "$1 cannot $2 $3 ${*:5} in $4 ($out)"
}
cannot apiserver create pods "$rtns"
cannot apiserver get secrets "$rtns"
cannot apiserver list secrets "$ns"
cannot apiserver update userruntimes.clawplane.io "$rtns"
cannot apiserver create userruntimes.clawplane.io default
cannot apiserver patch runtimeprofiles.clawplane.io "$ns"
can apiserver patch userruntimes.clawplane.io "$rtns"
can apiserver get pods "$rtns"
cannot apiserver list pods "$rtns"
cannot apiserver get pods "$ns"
ok "apiserver: cannot create or list pods (gets one by name for the file API), read secrets, PUT UserRuntimes, write outside $rtns or touch profiles"
cannot controller patch userruntimes.clawplane.io "$rtns"
cannot controller update userruntimes.clawplane.io "$rtns"
cannot controller create pods "$ns"
cannot controller list secrets default
cannot controller delete persistentvolumeclaims "$rtns"
cannot controller delete secrets "$rtns"
cannot controller create deployments.apps "$rtns"
cannot controller patch runtimeprofiles.clawplane.io "$ns"
cannot controller get leases.coordination.k8s.io/somebody-elses "$ns"
can controller patch userruntimes.clawplane.io "$rtns" --subresource=status
ok "controller: never writes UserRuntime spec or profiles, deletes only pods, only in $rtns, only its own Lease"
cannot modelproxy list secrets "$ns"
cannot modelproxy list secrets default
cannot modelproxy create pods "$rtns"
cannot modelproxy patch userruntimes.clawplane.io "$rtns"
cannot modelproxy create tokenreviews.authentication.k8s.io "$ns"
ok "modelproxy: secrets only in $rtns, read-only, no spec writes, no TokenReview unless enabled"

# People, not ServiceAccounts: the built-in view and edit roles in a namespace cover
# UserRuntimes through the chart's aggregated ClusterRoles.
kubectl -n "$rtns" create rolebinding "e2e-viewer-$suffix" --clusterrole=view --user=viewer-$suffix >/dev/null
kubectl -n "$rtns" create rolebinding "e2e-editor-$suffix" --clusterrole=edit --user=editor-$suffix >/dev/null
person() { # person <user> <can|cannot> <verb> <resource> [kubectl args...]
  local out end=$((SECONDS + 20))
  while :; do # aggregation is done by kube-controller-manager, a moment after the install
    out=$(kubectl auth can-i "$3" "$4" --as="$1" -n "$rtns" "${@:5}" 2>/dev/null) || true
    [ "$2" = can ] && [ "$out" = yes ] && return 0
    [ "$2" = cannot ] && [ "$out" = no ] && return 0
    [ $SECONDS -lt $end ] || fail "$1 $2 $3 $4 in $rtns: kubectl says $out"
    sleep 1
  done
}
person "viewer-$suffix" can list userruntimes.clawplane.io
person "viewer-$suffix" cannot patch userruntimes.clawplane.io
person "editor-$suffix" can patch userruntimes.clawplane.io
person "editor-$suffix" can create userruntimes.clawplane.io
person "editor-$suffix" cannot patch userruntimes.clawplane.io --subresource=status
ok "the view and edit roles read and manage UserRuntimes (status stays the controller's)"
for c in controller apiserver modelproxy; do
  [ "$(kubectl -n "$ns" get pdb "$fn-$c" -o jsonpath='{.spec.unhealthyPodEvictionPolicy}')" = AlwaysAllow ] ||
    fail "PodDisruptionBudget $fn-$c lets an unready pod block a drain"
done
out=$(helm template t "$src/charts/clawplane" --kube-version 1.30.0 --set postgresql.bundled.enabled=true 2>&1) &&
  fail "the chart rendered for Kubernetes 1.30"
grep -q "requires kubeVersion" <<<"$out" || fail "no kubeVersion message: $out"
ok "PodDisruptionBudgets never wait on unready pods; Kubernetes older than 1.31 is refused by name"

# ---------------------------------------------------------------------------------------
step "the real controller, with only the chart's RBAC, reconciles a UserRuntime in $rtns"
[ -x "$ctl_bin" ] || fail "no controller binary at $ctl_bin"
# sa_kubeconfig <component>: a kubeconfig that is the component's ServiceAccount (a token
# from the TokenRequest API), so a binary run here has exactly the chart's RBAC.
sa_kubeconfig() {
  local token server ca f="$tmp/$1.kubeconfig"
  token=$(kubectl -n "$ns" create token "$fn-$1" --duration=20m) || fail "cannot create a token for $fn-$1"
  server=$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.server}')
  ca=$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
  (
    umask 077
    printf '%s\n' "apiVersion: v1" "kind: Config" \
      "clusters: [{name: local, cluster: {server: \"$server\", certificate-authority-data: \"$ca\"}}]" \
      "users: [{name: sa, user: {token: \"$token\"}}]" \
      "contexts: [{name: sa, context: {cluster: local, user: sa}}]" "current-context: sa" >"$f"
  )
  printf '%s' "$f"
}
kc=$(sa_kubeconfig controller) || fail "no kubeconfig for the controller ServiceAccount"
# The file service key the chart generated, where the pods mount it.
(umask 077 && kubectl -n "$ns" get secret "$fn-files-key" -o jsonpath='{.data.key}' | base64 -d >"$tmp/files.key")
[ "$(wc -c <"$tmp/files.key")" -ge 32 ] || fail "the chart's files key Secret holds fewer than 32 bytes"
# args_of <component>: the container args of the release's Deployment, one per line, with
# --http-address moved to a free loopback port and the files key file to its copy here:
# the binaries run here exactly as configured.
args_of() {
  kubectl -n "$ns" get "deploy/$fn-$1" \
    -o jsonpath='{range .spec.template.spec.containers[0].args[*]}{@}{"\n"}{end}' |
    sed -e 's/^--http-address=.*/--http-address=127.0.0.1:0/' \
      -e "s|^--files-key-file=.*|--files-key-file=$tmp/files.key|"
}
# env_of <component> <name>: a plain value from the Deployment's environment.
env_of() {
  kubectl -n "$ns" get "deploy/$fn-$1" \
    -o jsonpath="{.spec.template.spec.containers[0].env[?(@.name==\"$2\")].value}"
}
mapfile -t ctl_args < <(args_of controller)
[ "${#ctl_args[@]}" -ge 5 ] || fail "the controller Deployment has no args"
"$ctl_bin" --kubeconfig "$kc" "${ctl_args[@]}" >"$tmp/controller.log" 2>&1 &
ctl_pid=$!
cat <<EOF | kubectl apply --server-side --field-manager=e2e -f - >/dev/null
apiVersion: clawplane.io/v1alpha1
kind: UserRuntime
metadata: {name: alice, namespace: $rtns}
spec: {user: alice, profile: $profile, storage: {size: 1Gi}}
EOF
kubectl -n "$rtns" wait --for=condition=Ready ur/alice --timeout=90s >/dev/null ||
  fail "ur/alice not Ready: $(kubectl -n "$rtns" get ur alice -o jsonpath='{.status}')
the controller's last words: $(tail -n 30 "$tmp/controller.log")"
ok "ur/alice Ready, reconciled by the controller under ServiceAccount $fn-controller"
for o in pod/alice svc/alice networkpolicy/alice pvc/alice-state secret/alice-credentials secret/alice-files; do
  kubectl -n "$rtns" get "$o" >/dev/null 2>&1 || fail "$o missing in $rtns"
done
[ -n "$(kubectl -n "$rtns" get pod/alice -o jsonpath='{.spec.containers[?(@.name=="files")].image}')" ] ||
  fail "the runtime pod has no file service sidecar (images.files)"
[ "$(kubectl -n "$ns" get lease clawplane-controller -o jsonpath='{.spec.holderIdentity}')" != "" ] ||
  fail "the controller holds no Lease in $ns"
grep -qi 'forbidden' "$tmp/controller.log" && fail "the controller was refused something: $(grep -i forbidden "$tmp/controller.log" | head -3)"
ok "Pod (with the files sidecar), Service, NetworkPolicy, PVC, Secrets (credentials, files) created; Lease held; nothing forbidden"
kubectl -n "$rtns" wait --for=jsonpath='{.status.phase}'=Bound pvc/alice-state --timeout=60s >/dev/null ||
  fail "pvc/alice-state not Bound"
kill "$ctl_pid"
wait "$ctl_pid" 2>/dev/null || true
ctl_pid=""

# The model proxy, where this build has it: the release's ConfigMap is a configuration it
# accepts, and with the chart's RBAC it loads the runtimes' credentials (/readyz 200).
mp_bin="$build/bin/clawplane-modelproxy"
if [ -x "$mp_bin" ]; then
  kubectl -n "$ns" get configmap "$fn-modelproxy" -o jsonpath='{.data.config\.yaml}' >"$tmp/mp.yaml"
  kc=$(sa_kubeconfig modelproxy) || fail "no kubeconfig for the modelproxy ServiceAccount"
  [ "$(env_of modelproxy CLAWPLANE_WATCH_NAMESPACE)" = "$rtns" ] || fail "the modelproxy does not watch $rtns"
  CLAWPLANE_WATCH_NAMESPACE=$(env_of modelproxy CLAWPLANE_WATCH_NAMESPACE) \
    "$mp_bin" --config "$tmp/mp.yaml" --kubeconfig "$kc" --http-address 127.0.0.1:0 \
    >"$tmp/modelproxy.log" 2>&1 &
  ctl_pid=$! # stopped by the cleanup too
  port=""
  for _ in $(seq 1 100); do
    port=$(grep -o '"port":"[0-9]*"' "$tmp/modelproxy.log" 2>/dev/null | head -1 | grep -o '[0-9]\+' || true)
    [ -n "$port" ] && break
    kill -0 "$ctl_pid" 2>/dev/null || fail "the model proxy exited at start: $(cat "$tmp/modelproxy.log")"
    sleep 0.1
  done
  [ -n "$port" ] || fail "the model proxy did not start serving: $(cat "$tmp/modelproxy.log")"
  ready=""
  for _ in $(seq 1 100); do
    ready=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz" || true)
    [ "$ready" = 200 ] && break
    sleep 0.2
  done
  [ "$ready" = 200 ] || fail "the model proxy is not ready ($ready): $(cat "$tmp/modelproxy.log")"
  grep -qi 'forbidden' "$tmp/modelproxy.log" && fail "the model proxy was refused something: $(cat "$tmp/modelproxy.log")"
  ok "clawplane-modelproxy accepts the release's ConfigMap and, as $fn-modelproxy, loads the credentials in $rtns"
  kill "$ctl_pid"
  wait "$ctl_pid" 2>/dev/null || true
  ctl_pid=""
else
  echo "# no $mp_bin in this build: the model proxy's own run is left out"
fi

# The apiserver, where this build has it: as the release's ServiceAccount, with the
# release's bootstrap-admin Secret and the profile name the chart passes, it becomes ready
# (its UserRuntime informer synced), lets the admin log in and writes the admin's
# UserRuntime into the runtime namespace. PostgreSQL: hack/local-postgres, a schema of its own.
ap_bin="$build/bin/clawplane-apiserver"
# apiserver_login: run the apiserver as the release's ServiceAccount, with the release's
# bootstrap-admin Secret, args and environment, on the schema $pgschema, until it is ready
# and the admin has logged in ($token, $api; the process is $ctl_pid).
apiserver_login() {
  admin=$(kubectl -n "$ns" get secret "$fn-bootstrap-admin" -o jsonpath='{.data.username}' | base64 -d)
  (umask 077 && kubectl -n "$ns" get secret "$fn-bootstrap-admin" -o jsonpath='{.data.password}' |
    base64 -d >"$tmp/bootstrap-password")
  [ -n "$admin" ] && [ -s "$tmp/bootstrap-password" ] || fail "the bootstrap-admin Secret is incomplete"
  kc=$(sa_kubeconfig apiserver) || fail "no kubeconfig for the apiserver ServiceAccount"
  mapfile -t ap_args < <(args_of apiserver)
  # A second run must not read the first run's port from the old log (the new process
  # truncates it only once it has started).
  rm -f "$tmp/apiserver.log"
  # The environment and args the chart's Deployment sets, taken from the Deployment itself.
  CLAWPLANE_RUNTIME_NAMESPACE=$(env_of apiserver CLAWPLANE_RUNTIME_NAMESPACE) \
    CLAWPLANE_DEFAULT_PROFILE=$(env_of apiserver CLAWPLANE_DEFAULT_PROFILE) \
    CLAWPLANE_BOOTSTRAP_ADMIN=$admin CLAWPLANE_BOOTSTRAP_PASSWORD_FILE="$tmp/bootstrap-password" \
    DATABASE_URL=$dburl "$ap_bin" "${ap_args[@]}" --kubeconfig "$kc" --listen 127.0.0.1:0 --password-cost 10 \
    >"$tmp/apiserver.log" 2>&1 &
  ctl_pid=$!
  port=$(api_start_port "$tmp/apiserver.log" "$ctl_pid") ||
    fail "the apiserver did not start serving: $(cat "$tmp/apiserver.log")"
  api="http://127.0.0.1:$port"
  api_ready "$api" || fail "the apiserver is not ready ($(curl -s --max-time 5 "$api/readyz"); process $(kill -0 "$ctl_pid" 2>/dev/null && echo alive || echo gone)): $(tail -n 20 "$tmp/apiserver.log")"
  token=$(api_login "$api" "$admin" "$tmp/bootstrap-password" 2>&1) ||
    fail "the bootstrap admin cannot log in: $token"
}
if [ -x "$ap_bin" ]; then
  . "$src/test/e2e/lib/apiserver.sh"
  pgschema=e2e_helm_$suffix
  dburl=$(pg_schema "$pgschema") || fail "cannot create schema $pgschema in hack/local-postgres"
  apiserver_login
  out=$(api_call 200 -X PUT -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d '{"state":"Running"}' "$api/api/v1/users/$admin/runtime" 2>&1) ||
    fail "PUT /api/v1/users/$admin/runtime: $out"
  wait_ur() { kubectl -n "$rtns" get "ur/$admin" >/dev/null 2>&1; }
  for _ in $(seq 1 50); do wait_ur && break; sleep 0.2; done
  wait_ur || fail "the apiserver wrote no UserRuntime $admin in $rtns: $out"
  [ "$(kubectl -n "$rtns" get "ur/$admin" -o jsonpath='{.spec.profile}')" = "$profile" ] ||
    fail "ur/$admin does not use profile $profile: $(kubectl -n "$rtns" get "ur/$admin" -o jsonpath='{.spec}')"
  kubectl -n "$rtns" get "ur/$admin" -o json --show-managed-fields | python3 -c '
import json, sys
assert "clawplane-apiserver" in [m["manager"] for m in json.load(sys.stdin)["metadata"]["managedFields"]]' ||
    fail "ur/$admin was not written by clawplane-apiserver"
  grep -qi 'forbidden' "$tmp/apiserver.log" && fail "the apiserver was refused something: $(grep -i forbidden "$tmp/apiserver.log" | head -3)"
  ok "clawplane-apiserver, as $fn-apiserver with the release's bootstrap Secret: ready, admin logged in, ur/$admin written with profile $profile"
  kill "$ctl_pid"
  wait "$ctl_pid" 2>/dev/null || true
  ctl_pid=""
  kubectl -n "$rtns" delete "ur/$admin" --wait=false >/dev/null
else
  echo "# no $ap_bin in this build: the apiserver's own run is left out"
fi

# ---------------------------------------------------------------------------------------
step "helm upgrade with unchanged values changes no object"
# snapshot: kind/namespace/name, resourceVersion, generation and Helm's managedFields, for
# every object of the release. Deployments, StatefulSets and PDBs have their status written
# by kube-controller-manager, so for them the spec generation, labels, annotations and
# Helm's field ownership must be equal instead of the resourceVersion.
snapshot() {
  h get manifest "$rel" -n "$ns" >"$tmp/manifest.yaml" || return 1
  kubectl get -f "$tmp/manifest.yaml" -o json --show-managed-fields | python3 -c '
import json, sys
status_written = {"Deployment", "StatefulSet", "PodDisruptionBudget"}
for o in json.load(sys.stdin)["items"]:
    md = o["metadata"]
    helm = [m for m in md.get("managedFields", []) if m["manager"] == "helm"]
    assert helm, md["name"] + ": no managedFields entry of helm"
    key = o["kind"] + "/" + md.get("namespace", "") + "/" + md["name"]
    if o["kind"] in status_written:
        val = [md.get("generation"), md.get("labels"), md.get("annotations"), helm]
    else:
        val = md["resourceVersion"]
    print(key, json.dumps(val, sort_keys=True))
'
}
snapshot >"$tmp/before" || fail "snapshot before upgrade failed"
[ "$(wc -l <"$tmp/before")" -ge 30 ] || fail "the release has only $(wc -l <"$tmp/before") objects"
h upgrade "$rel" "$chart" -n "$ns" -f "$data/install-values.yaml" "${set_args[@]}" \
  --wait --timeout 120s >"$tmp/upgrade.out" 2>&1 || fail "helm upgrade failed: $(cat "$tmp/upgrade.out")"
snapshot >"$tmp/after" || fail "snapshot after upgrade failed"
diff "$tmp/before" "$tmp/after" >"$tmp/diff" || fail "helm upgrade changed objects:
$(cat "$tmp/diff")"
ok "helm upgrade (revision 2) left all $(wc -l <"$tmp/after") objects unchanged"
cmp -s <(h get manifest "$rel" -n "$ns" --revision 1) <(h get manifest "$rel" -n "$ns" --revision 2) ||
  fail "revision 2 renders differently from revision 1"
ok "revision 2 renders byte for byte like revision 1"

# ---------------------------------------------------------------------------------------
step "helm test: a Job per component asks its health endpoint through its Service"
# kwok completes Job pods without running them, so this checks the hooks' plumbing; what
# they ask must exist: each URL names a Service of the release on its HTTP port, and the
# component's NetworkPolicy admits the test pods.
h test "$rel" -n "$ns" --timeout 120s >"$tmp/test.out" 2>&1 || fail "helm test failed: $(cat "$tmp/test.out")"
for c in controller apiserver modelproxy; do
  grep -q "TEST SUITE: *$fn-test-$c\$" "$tmp/test.out" || fail "helm test ran no $fn-test-$c: $(cat "$tmp/test.out")"
done
[ "$(grep -c '^Phase: *Succeeded' "$tmp/test.out")" = 3 ] || fail "not every helm test succeeded: $(cat "$tmp/test.out")"
h get hooks "$rel" -n "$ns" >"$tmp/hooks.yaml"
python3 - "$tmp/hooks.yaml" "$ns" "$fn" <<'PY' || fail "a helm test Job asks something that does not exist"
import json, re, subprocess, sys
hooks, ns, fn = sys.argv[1:]
urls = re.findall(r'^\s*- "(http://[^"]+)"$', open(hooks).read(), re.M)
assert len(urls) == 3, urls
for url in urls:
    m = re.match(r"http://([^.]+)\.([^.]+)\.svc:(\d+)(/\S+)$", url)
    assert m and m.group(2) == ns and m.group(4) in ("/healthz", "/readyz"), url
    svc = json.loads(subprocess.check_output(["kubectl", "-n", ns, "get", "svc", m.group(1), "-o", "json"]))
    assert int(m.group(3)) in [p["port"] for p in svc["spec"]["ports"]], (url, svc["spec"]["ports"])
    comp = svc["spec"]["selector"]["app.kubernetes.io/name"]
    pol = json.loads(subprocess.check_output(["kubectl", "-n", ns, "get", "networkpolicy",
                                              fn + "-" + comp.removeprefix("clawplane-"), "-o", "json"]))
    peers = [p for r in pol["spec"].get("ingress", []) for p in r.get("from", [])]
    assert any(p.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name") == "clawplane-test"
               for p in peers), (comp, peers)
PY
ok "helm test passed: $fn-test-{controller,apiserver,modelproxy} ask /healthz or /readyz of Services that exist, admitted by the NetworkPolicies"

# ---------------------------------------------------------------------------------------
step "helm uninstall keeps the CRDs, the runtime namespace and the users' PVCs"
pvc_uid=$(kubectl -n "$rtns" get pvc alice-state -o jsonpath='{.metadata.uid}')
h uninstall "$rel" -n "$ns" --wait --timeout 120s >"$tmp/uninstall.out" 2>&1 ||
  fail "helm uninstall failed: $(cat "$tmp/uninstall.out")"
installed=0
grep -q "kept due to the resource policy" "$tmp/uninstall.out" && grep -qF "[Namespace] $rtns" "$tmp/uninstall.out" ||
  fail "helm uninstall did not report keeping namespace $rtns: $(cat "$tmp/uninstall.out")"
ok "helm uninstall: $(grep -i kept "$tmp/uninstall.out")"
for crd in userruntimes.clawplane.io runtimeprofiles.clawplane.io; do
  kubectl get crd "$crd" >/dev/null 2>&1 || fail "CRD $crd deleted by uninstall"
done
ok "CRDs kept"
sleep 2 # let a (wrong) namespace deletion start, if there were one
phase=$(kubectl get ns "$rtns" -o jsonpath='{.status.phase}' 2>/dev/null) || fail "namespace $rtns deleted"
[ "$phase" = Active ] || fail "namespace $rtns is $phase"
[ "$(kubectl -n "$rtns" get pvc alice-state -o jsonpath='{.metadata.uid}')" = "$pvc_uid" ] ||
  fail "pvc/alice-state was deleted or replaced"
kubectl -n "$rtns" get ur alice >/dev/null || fail "ur/alice deleted"
ok "namespace $rtns Active, pvc/alice-state (uid $pvc_uid) and ur/alice kept"
kubectl -n "$ns" get pvc "data-$fn-postgresql-0" >/dev/null 2>&1 || fail "the PostgreSQL PVC was deleted"
[ "$(secret_state)" = "$secrets_before" ] || fail "the bootstrap-admin or PostgreSQL Secret changed or went with the release"
ok "the bundled PostgreSQL's PVC and both password Secrets kept, unchanged"
for o in deploy/$fn-controller deploy/$fn-apiserver deploy/$fn-modelproxy statefulset/$fn-postgresql; do
  kubectl -n "$ns" get "$o" >/dev/null 2>&1 && fail "$o still exists after uninstall"
done
kubectl get clusterrole "$fn-controller" >/dev/null 2>&1 && fail "ClusterRole $fn-controller still exists"
kubectl -n "$rtns" get role "$fn-controller" >/dev/null 2>&1 && fail "Role $fn-controller in $rtns still exists"
kubectl get runtimeprofile "$profile" >/dev/null 2>&1 && fail "RuntimeProfile $profile still exists"
ok "Deployments, StatefulSet, roles and the release's RuntimeProfile removed"

step "reinstalling the release adopts the kept namespace"
installed=1
h install "$rel" "$chart" -n "$ns" -f "$data/install-values.yaml" "${set_args[@]}" \
  --wait --timeout 180s >"$tmp/reinstall.out" 2>&1 || fail "helm install again failed: $(cat "$tmp/reinstall.out")"
[ "$(kubectl -n "$rtns" get pvc alice-state -o jsonpath='{.metadata.uid}')" = "$pvc_uid" ] ||
  fail "pvc/alice-state changed on reinstall"
ok "second install succeeded over the kept namespace; pvc/alice-state untouched"
[ "$(secret_state)" = "$secrets_before" ] || fail "the reinstall changed the password Secrets"
[ "$(kubectl -n "$ns" get pvc "data-$fn-postgresql-0" -o jsonpath='{.spec.volumeName}')" != "" ] ||
  fail "the PostgreSQL PVC is not bound after the reinstall"
ok "the reinstalled release uses the same password Secrets, so the kept PostgreSQL volume's password still matches"
if [ -n "${pgschema:-}" ]; then
  # The kept database already has the administrator: the apiserver must not create another,
  # and the password from the kept Secret must still be the one that logs in.
  apiserver_login
  kill "$ctl_pid"
  wait "$ctl_pid" 2>/dev/null || true
  ctl_pid=""
  ok "after the reinstall the apiserver, on the kept database, logs the admin in with the kept Secret's password"
fi

echo "$checks passed, 0 failed"
