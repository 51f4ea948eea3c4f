#!/usr/bin/env bash
# e2e: the CustomResourceDefinitions in crds/ against the real local control plane.
#
# Applies both CRDs, then checks what a user of kubectl would see: valid objects are
# accepted and defaulted, invalid ones are refused with an error that names the field,
# spec.user cannot change, storage cannot shrink, the printer columns, `kubectl explain`,
# the `clawplane` category, the status subresource and `kubectl wait --for=condition=Ready`.
#
# Run by ctest through `hack/local-cluster exec` (KUBECONFIG and kubectl set up), or by hand:
#   CP_SOURCE_DIR=$PWD hack/local-cluster exec test/e2e/test_crds.sh
# Everything it creates lives in a fresh namespace plus uniquely named RuntimeProfiles, all
# deleted on exit; the CRDs themselves stay installed (other tests use them).
set -euo pipefail

src=${CP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
data="$src/test/data/crds"
suffix="$(date +%s)-$$"
ns="cp-e2e-crds-$suffix"
rp="e2e-crds-$suffix"
checks=0

# A private discovery cache, so a stale ~/.kube/cache never hides the new kinds.
tmp=$(mktemp -d)
export KUBECACHEDIR="$tmp/cache"

fail() {
  printf 'FAIL: %s\n' "$*" >&2
  exit 1
}
ok() {
  checks=$((checks + 1))
  printf 'ok %d - %s\n' "$checks" "$*"
}
step() { printf '# %s\n' "$*"; }

cleanup() {
  local rc=$?
  kubectl delete namespace "$ns" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  kubectl delete runtimeprofiles.clawplane.io "$rp" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  rm -rf "$tmp"
  if [ "$rc" -eq 0 ]; then
    printf 'test_crds: %d checks passed\n' "$checks"
  else
    printf 'test_crds: failed after %d passed checks\n' "$checks" >&2
  fi
}
trap cleanup EXIT

# The cluster-scoped profiles in test/data are all named e2e-crds-profile; give ours a
# name of its own so parallel runs do not collide.
profile_file() { # profile_file <file>: prints the path of a renamed copy
  local out="$tmp/$(basename "$1")"
  sed "s/^  name: e2e-crds-profile\$/  name: $rp/" "$1" >"$out"
  grep -q "^  name: $rp\$" "$out" || fail "$1 has no 'name: e2e-crds-profile' to rename"
  printf '%s' "$out"
}

apply() { kubectl -n "$ns" apply --server-side -f "$1" 2>&1; }

# expect_accepted <description> <file>
expect_accepted() {
  local out
  out=$(apply "$2") || fail "$1: refused, expected it to be accepted: $out"
  ok "$1 accepted"
}

# expect_refused <description> <file> <text>...: the apply must fail AND the error must
# contain every <text> (a field path, a message), AND the object must not have changed.
expect_refused() {
  local desc=$1 file=$2 out rc=0 want
  shift 2
  local first=$1
  out=$(apply "$file") || rc=$?
  [ "$rc" -ne 0 ] || fail "$desc: accepted, expected a refusal. kubectl said: $out"
  grep -qF -- "is invalid" <<<"$out" || fail "$desc: refused, but not as invalid: $out"
  for want in "$@"; do
    grep -qF -- "$want" <<<"$out" || fail "$desc: the error does not mention '$want': $out"
  done
  ok "$desc refused: $(grep -m1 -F -- "$first" <<<"$out")"
}

# expect_absent <kind/name>: a refused create left nothing behind
expect_absent() {
  local out
  if out=$(kubectl -n "$ns" get "$1" -o name 2>&1); then
    fail "$1 exists although its create was refused: $out"
  fi
  grep -q NotFound <<<"$out" || fail "get $1: expected NotFound, got: $out"
}

jp() { kubectl -n "$ns" get "$1" -o "jsonpath=$2"; }

# expect_field <kind/name> <jsonpath> <want>
expect_field() {
  local got
  got=$(jp "$1" "$2") || fail "get $1 $2 failed"
  [ "$got" = "$3" ] || fail "$1 $2: got '$got', want '$3'"
  ok "$1 $2 = $3"
}

# ---------------------------------------------------------------------------------------
step "install the CRDs from $src/crds"
out=$(kubectl apply --server-side --force-conflicts -f "$src/crds/" 2>&1) ||
  fail "the API server refused the CRDs: $out"
printf '%s\n' "$out"
kubectl wait --for=condition=Established --timeout=60s \
  crd/userruntimes.clawplane.io crd/runtimeprofiles.clawplane.io >/dev/null ||
  fail "CRDs not Established within 60s"
for crd in userruntimes runtimeprofiles; do
  for cond in Established NamesAccepted; do
    st=$(kubectl get "crd/$crd.clawplane.io" -o "jsonpath={.status.conditions[?(@.type==\"$cond\")].status}")
    [ "$st" = True ] || fail "crd/$crd.clawplane.io: $cond is '$st'"
  done
done
ok "both CRDs Established and NamesAccepted"

kubectl create namespace "$ns" >/dev/null || fail "cannot create namespace $ns"
step "namespace $ns, profile $rp"

# ---------------------------------------------------------------------------------------
step "valid objects are accepted and defaulted"
expect_accepted "good-userruntime.yaml (alice)" "$data/good-userruntime.yaml"
expect_field ur/alice '{.spec.user}' alice
expect_field ur/alice '{.spec.state}' Running
expect_field ur/alice '{.spec.profile}' default
expect_field ur/alice '{.spec.storage.size}' ''   # unset: the profile decides
expect_field ur/alice '{.spec.storage.retainOnDelete}' true
expect_field ur/alice '{.spec.idleTimeout}' ''    # unset: the profile decides
expect_field ur/alice '{.spec.env[1].name}' TZ

expect_accepted "good-userruntime-full.yaml (bob)" "$data/good-userruntime-full.yaml"
expect_field ur/bob '{.spec.state}' Stopped
expect_field ur/bob '{.spec.profile}' gpu.large
expect_field ur/bob '{.spec.storage.size}' 20Gi
expect_field ur/bob '{.spec.storage.retainOnDelete}' false
expect_field ur/bob '{.spec.idleTimeout}' 0s

expect_accepted "good-profile.yaml ($rp)" "$(profile_file "$data/good-profile.yaml")"
expect_field "rp/$rp" '{.spec.idleTimeout}' 1h30m
expect_field "rp/$rp" '{.spec.network.egress[1].cidr}' 2001:db8::/32
expect_field "rp/$rp" '{.spec.allowOverrides.resources}' true
rpns=$(kubectl get "rp/$rp" -o 'jsonpath={.metadata.namespace}')
[ -z "$rpns" ] || fail "RuntimeProfile got namespace '$rpns'; it must be cluster-scoped"
ok "RuntimeProfile is cluster-scoped"

# ---------------------------------------------------------------------------------------
step "invalid objects are refused with the field named"
expect_refused "uppercase spec.user" "$data/bad-user-uppercase.yaml" 'spec.user' 'Alice'
expect_absent ur/bad-user
expect_refused "spec.state Paused" "$data/bad-state.yaml" 'spec.state' 'Unsupported value: "Paused"'
expect_absent ur/bad-state
expect_refused "spec.idleTimeout '5 minutes'" "$data/bad-idletimeout.yaml" 'spec.idleTimeout'
expect_absent ur/bad-idle
expect_refused "reserved env OPENCLAW_GATEWAY_TOKEN" "$data/bad-env-reserved.yaml" \
  'spec.env[0].name' 'OPENCLAW_GATEWAY_TOKEN is reserved'
expect_absent ur/bad-env-reserved
expect_refused "reserved env openai_api_key" "$data/bad-env-apikey.yaml" \
  'spec.env[1].name' 'openai_api_key is reserved'
expect_absent ur/bad-env-apikey
expect_refused "65 env entries" "$data/bad-env-too-many.yaml" 'spec.env' 'Too many' 'at most 64'
expect_absent ur/bad-env-too-many
expect_refused "metadata.name 1alice" "$data/bad-name.yaml" 'DNS-1035'
expect_absent ur/1alice
expect_refused "cpu request above its limit" "$data/bad-resources.yaml" 'spec.resources' \
  'greater than or equal to the request'
expect_absent ur/bad-resources

# A refused profile must not replace the good one, which has the same name.
expect_refused "RuntimeProfile egress 10.0.0.0/33" "$(profile_file "$data/bad-profile-cidr.yaml")" \
  'spec.network.egress[0].cidr' 'must be a CIDR'
expect_refused "RuntimeProfile relative modelProxy.url" "$(profile_file "$data/bad-profile-url.yaml")" \
  'spec.modelProxy.url' 'absolute http or https URL'
expect_refused "RuntimeProfile limit above maxResources" "$(profile_file "$data/bad-profile-over-max.yaml")" \
  'spec.resources.limits may not exceed spec.maxResources'
expect_field "rp/$rp" '{.spec.network.egress[0].cidr}' 203.0.113.0/24

# ---------------------------------------------------------------------------------------
step "updates"
expect_refused "changing spec.user of alice" "$data/update-user-change.yaml" \
  'spec.user' 'spec.user is immutable'
expect_field ur/alice '{.spec.user}' alice
expect_refused "shrinking bob's storage 20Gi -> 10Gi" "$data/update-storage-shrink.yaml" \
  'spec.storage.size' 'may not shrink'
expect_field ur/bob '{.spec.storage.size}' 20Gi
expect_accepted "growing bob's storage 20Gi -> 30Gi" "$data/update-storage-grow.yaml"
expect_field ur/bob '{.spec.storage.size}' 30Gi

# ---------------------------------------------------------------------------------------
step "kubectl get: printer columns and the clawplane category"
out=$(kubectl -n "$ns" get ur 2>&1) || fail "kubectl get ur: $out"
printf '%s\n' "$out"
grep -Eq '^NAME +USER +STATE +PHASE +READY +AGE$' <<<"$(head -n1 <<<"$out")" ||
  fail "kubectl get ur: header is not 'NAME USER STATE PHASE READY AGE': $(head -n1 <<<"$out")"
grep -Eq '^alice +alice +Running +[0-9][0-9smhd]* *$' <<<"$out" ||
  fail "kubectl get ur: no row 'alice alice Running <age>' (empty phase and ready): $out"
ok "kubectl get ur shows USER STATE PHASE READY AGE"

out=$(kubectl -n "$ns" get ur -o wide 2>&1) || fail "kubectl get ur -o wide: $out"
printf '%s\n' "$out"
grep -Eq '^NAME +USER +STATE +PHASE +READY +AGE +PROFILE +POD +IDLE-TIMEOUT +MESSAGE$' \
  <<<"$(head -n1 <<<"$out")" || fail "kubectl get ur -o wide: unexpected header: $(head -n1 <<<"$out")"
grep -Eq '^bob +bob-2 +Stopped +[0-9][0-9smhd]* +default +0s *$' <<<"$out" ||
  fail "kubectl get ur -o wide: no row for bob with profile default and idle timeout 0s: $out"
ok "kubectl get ur -o wide adds PROFILE POD IDLE-TIMEOUT MESSAGE"

out=$(kubectl get rp "$rp" 2>&1) || fail "kubectl get rp: $out"
printf '%s\n' "$out"
grep -Eq '^NAME +IMAGE +IDLETIMEOUT +AGE$' <<<"$(head -n1 <<<"$out")" ||
  fail "kubectl get rp: header is not 'NAME IMAGE IDLETIMEOUT AGE': $(head -n1 <<<"$out")"
grep -Eq "^$rp +ghcr.io/openclaw/openclaw@sha256:[0-9a-f]+ +1h30m +[0-9][0-9smhd]* *\$" <<<"$out" ||
  fail "kubectl get rp: no row with the image and 1h30m: $out"
ok "kubectl get rp shows IMAGE IDLETIMEOUT AGE"
out=$(kubectl get rp "$rp" -o wide 2>&1) || fail "kubectl get rp -o wide: $out"
grep -Eq '^NAME +IMAGE +IDLETIMEOUT +MAXUPLOAD +FILESQUOTA +AGE$' <<<"$(head -n1 <<<"$out")" ||
  fail "kubectl get rp -o wide: header is not 'NAME IMAGE IDLETIMEOUT MAXUPLOAD FILESQUOTA AGE': $(head -n1 <<<"$out")"
ok "kubectl get rp -o wide adds the file limits MAXUPLOAD FILESQUOTA"

out=$(kubectl get clawplane -A 2>&1) || fail "kubectl get clawplane -A: $out"
grep -q "userruntime.clawplane.io/alice" <<<"$out" ||
  fail "kubectl get clawplane -A does not list userruntime.clawplane.io/alice: $out"
grep -q "runtimeprofile.clawplane.io/$rp" <<<"$out" ||
  fail "kubectl get clawplane -A does not list runtimeprofile.clawplane.io/$rp: $out"
ok "kubectl get clawplane lists UserRuntimes and RuntimeProfiles"

# ---------------------------------------------------------------------------------------
step "kubectl explain (the OpenAPI document may lag the CRD by a few seconds)"
explain() { # explain <resource.path> <text>
  local out="" i
  for i in $(seq 1 30); do
    if out=$(kubectl explain "$1" 2>&1) && grep -qF -- "$2" <<<"$out"; then
      ok "kubectl explain $1 mentions '$2'"
      return 0
    fi
    sleep 1
  done
  fail "kubectl explain $1 does not mention '$2': $out"
}
explain ur.spec.idleTimeout 'FIELD: idleTimeout <string>'
explain ur.spec.idleTimeout '"0s" disables'
explain ur.spec.env 'OPENCLAW_GATEWAY_TOKEN'
explain ur.spec.env 'API_KEY'
explain ur.status.phase 'Hibernated'
explain rp.spec.network.egress.cidr 'CIDR notation'
out=$(kubectl explain userruntime.spec --recursive 2>&1) || fail "kubectl explain --recursive: $out"
for f in user state profile image resources storage retainOnDelete idleTimeout env; do
  grep -Eq "^ +$f[[:space:]]" <<<"$out" || fail "kubectl explain userruntime.spec --recursive lacks $f: $out"
done
ok "kubectl explain userruntime.spec --recursive lists every spec field"

# ---------------------------------------------------------------------------------------
step "status subresource and kubectl wait --for=condition=Ready"
out=$(kubectl -n "$ns" wait --for=condition=Ready ur/alice --timeout=2s 2>&1) &&
  fail "kubectl wait succeeded before any Ready condition was written: $out"
ok "kubectl wait times out while alice has no Ready condition"

# Status written through the main resource is ignored (status is a subresource).
kubectl -n "$ns" patch ur/alice --type=merge -p '{"status":{"phase":"Failed"}}' >/dev/null 2>&1 || true
[ -z "$(jp ur/alice '{.status.phase}')" ] || fail "status was writable through the main resource"
ok "status is not writable through the main resource"

expect_status_refused() { # <patch> <text>
  local out rc=0
  out=$(kubectl -n "$ns" patch ur/alice --subresource=status --type=merge -p "$1" 2>&1) || rc=$?
  [ "$rc" -ne 0 ] || fail "status patch $1 accepted, expected a refusal: $out"
  grep -qF -- "$2" <<<"$out" || fail "status patch $1: the error does not mention '$2': $out"
  ok "status patch refused: $2"
}
expect_status_refused '{"status":{"phase":"Sleeping"}}' 'status.phase'
expect_status_refused '{"status":{"conditions":[{"type":"Ready","status":"Yes","reason":"X","message":"","lastTransitionTime":"2025-01-01T00:00:00Z"}]}}' 'status.conditions[0].status'

now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
gen=$(jp ur/alice '{.metadata.generation}')
status=$(printf '{"status":{"phase":"Running","podName":"alice","endpoint":"http://alice.%s.svc:18789","startedAt":"%s","lastActivityTime":"%s","restarts":0,"observedGeneration":%s,"message":"","conditions":[{"type":"Ready","status":"True","reason":"PodReady","message":"runtime answers on its endpoint","lastTransitionTime":"%s","observedGeneration":%s},{"type":"Degraded","status":"False","reason":"AsExpected","message":"","lastTransitionTime":"%s"}]}}' \
  "$ns" "$now" "$now" "$gen" "$now" "$gen" "$now")
out=$(kubectl -n "$ns" patch ur/alice --subresource=status --type=merge -p "$status" 2>&1) ||
  fail "status patch refused: $out"
ok "status with phase Running and Ready=True accepted"
[ "$(jp ur/alice '{.metadata.generation}')" = "$gen" ] || fail "a status write bumped metadata.generation"
ok "a status write leaves metadata.generation alone"

out=$(kubectl -n "$ns" wait --for=condition=Ready ur/alice --timeout=5s 2>&1) ||
  fail "kubectl wait --for=condition=Ready ur/alice: $out"
ok "kubectl wait --for=condition=Ready ur/alice: $out"

out=$(kubectl -n "$ns" get ur alice 2>&1) || fail "kubectl get ur alice: $out"
printf '%s\n' "$out"
grep -Eq '^alice +alice +Running +Running +True +[0-9][0-9smhd]* *$' <<<"$out" ||
  fail "kubectl get ur alice: no row 'alice alice Running Running True <age>': $out"
ok "kubectl get ur shows PHASE Running and READY True"
