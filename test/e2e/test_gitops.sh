#!/usr/bin/env bash
# e2e: examples/gitops/ under a GitOps workflow. Applying it twice with server-side apply
# changes nothing the second time; with the real controller reconciling it, the
# managedFields show that clawplane's own managers (clawplane-controller, and
# clawplane-apiserver where present) own no spec field of the UserRuntimes or the
# RuntimeProfile; a re-apply after reconciling changes nothing and raises no conflict; a
# change made in Git reaches the runtime.
#
# The example is applied through a throw-away overlay that only moves it into this run's
# namespace and suffixes the RuntimeProfile's name (it is cluster-scoped), as a team's own
# overlay would. The UserRuntimes keep their names: the apiserver finds a user's runtime by
# the user's name.
E2E_NAME=gitops
. "$(dirname "$0")/lib/controller.sh"

example="$src/examples/gitops"
overlay="$logdir/overlay"
fm=gitops # the field manager a GitOps tool applies with
rp=engineering-$suffix

make_overlay() { # make_overlay [extra kustomization lines...]
  mkdir -p "$overlay"
  local base
  base=$(python3 -c 'import os, sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' "$example" "$overlay")
  {
    cat <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [$base]
namespace: $ns
transformers: [profile-suffix.yaml]
labels:
  - pairs: {e2e-run: "$suffix"}
EOF
    cat >"$overlay/profile-suffix.yaml" <<EOF
apiVersion: builtin
kind: PrefixSuffixTransformer
metadata: {name: profile-suffix}
suffix: "-$suffix"
fieldSpecs:
  - {kind: RuntimeProfile, path: metadata/name}
EOF
    local l
    for l in "$@"; do printf '%s\n' "$l"; done
  } >"$overlay/kustomization.yaml"
}

gitops_apply() { # server-side apply as the GitOps tool, without --force-conflicts
  kubectl apply --server-side --field-manager="$fm" -k "$overlay" 2>&1
}

# rvs: "<kind>/<name> <resourceVersion> <generation>" for every object of the overlay.
rvs() {
  kubectl get -k "$overlay" -o jsonpath='{range .items[*]}{.kind}/{.metadata.name} {.metadata.resourceVersion} {.metadata.generation}{"\n"}{end}' | sort
}

# ---------------------------------------------------------------------------------------
say "apply examples/gitops twice (namespace $ns, profile $rp)"
setup_namespace
make_overlay
out=$(kubectl kustomize "$overlay") || fail "kustomize build failed: $out"
grep -q "profile: $rp\$" <<<"$out" || fail "the name reference UserRuntime.spec.profile -> RuntimeProfile was not renamed: $out"
ok "kustomize renames spec.profile with the RuntimeProfile (examples/gitops/kustomizeconfig.yaml)"

out=$(gitops_apply) || fail "first apply failed: $out"
printf '%s\n' "$out"
[ "$(grep -c 'serverside-applied' <<<"$out")" = 4 ] || fail "first apply did not apply 4 objects: $out"
rvs >"$logdir/rv1"
[ "$(wc -l <"$logdir/rv1")" = 4 ] || fail "expected 4 objects, got: $(cat "$logdir/rv1")"
out=$(gitops_apply) || fail "second apply failed: $out"
rvs >"$logdir/rv2"
diff "$logdir/rv1" "$logdir/rv2" >&2 || fail "the second apply changed objects"
ok "second server-side apply changed nothing: $(tr '\n' ' ' <"$logdir/rv2")"
kubectl diff --server-side --field-manager="$fm" -k "$overlay" >"$logdir/diff" 2>&1 ||
  fail "kubectl diff --server-side reports differences: $(cat "$logdir/diff")"
ok "kubectl diff --server-side is empty"

# ---------------------------------------------------------------------------------------
say "the controller reconciles the Git-managed runtimes"
start_controller controller
wait_for 90 "alice Ready" kubectl -n "$ns" wait --for=condition=Ready "ur/alice" --timeout=1s
wait_for 90 "carol Ready" kubectl -n "$ns" wait --for=condition=Ready "ur/carol" --timeout=1s
wait_for 60 "bob Stopped" field_is "ur/bob" '{.status.phase}' Stopped
ok "alice and carol Ready, bob Stopped"
wait_for 30 "carol's pod" field_is pod/"carol" '{.spec.containers[0].resources.limits.memory}' 4Gi
absent "pod/bob" || fail "bob is Stopped but has a pod"
ok "carol's pod has her 4Gi limit from Git; bob has no pod"

# Let the controller settle: two successive views of the objects must be equal.
settled() {
  rvs >"$logdir/s1"
  sleep 2
  rvs >"$logdir/s2"
  cmp -s "$logdir/s1" "$logdir/s2"
}
wait_for 60 "the controller to stop writing" settled

# What the apiserver writes into a Git-managed runtime: alice signs in and reaches her
# runtime through the Traefik ForwardAuth endpoint, which records status.lastActivityTime
# with status server-side apply under its own field manager.
ap_bin="$build/bin/clawplane-apiserver"
pgschema=""
if [ -x "$ap_bin" ]; then
  . "$src/test/e2e/lib/apiserver.sh"
  pgschema=e2e_gitops_$suffix
  trap 'pg_schema_drop "$pgschema"; cleanup' EXIT
  dburl=$(pg_schema "$pgschema") || fail "cannot create schema $pgschema in hack/local-postgres"
  (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '\n' >"$logdir/alice-password")
  CLAWPLANE_BOOTSTRAP_ADMIN=alice CLAWPLANE_BOOTSTRAP_PASSWORD_FILE="$logdir/alice-password" \
    DATABASE_URL=$dburl "$ap_bin" --runtime-namespace "$ns" --listen 127.0.0.1:0 --password-cost 10 \
    >"$logdir/apiserver.log" 2>&1 &
  ap_pid=$!
  ctl_pids+=("$ap_pid")
  ap_port=$(api_start_port "$logdir/apiserver.log" "$ap_pid") ||
    fail "the apiserver did not start serving: $(cat "$logdir/apiserver.log")"
  api="http://127.0.0.1:$ap_port"
  api_ready "$api" || fail "the apiserver is not ready: $(tail -n 20 "$logdir/apiserver.log")"
  token=$(api_login "$api" alice "$logdir/alice-password" 2>&1) || fail "alice cannot log in: $token"
  out=$(api_call 200 -H "Authorization: Bearer $token" -H 'X-Forwarded-Host: claw.example.com' \
    -H 'X-Forwarded-Uri: /' -H 'X-Forwarded-Proto: https' "$api/internal/auth/forward" 2>&1) ||
    fail "forward-auth for alice: $out"
  out=$(api_call 200 -H "Authorization: Bearer $token" "$api/api/v1/users/alice/runtime" 2>&1) ||
    fail "GET /api/v1/users/alice/runtime: $out"
  grep -q '"Running"' <<<"$out" || fail "GET /api/v1/users/alice/runtime: $out"
  wait_for 30 "alice's lastActivityTime from the apiserver" \
    sh -c "kubectl -n '$ns' get ur/alice -o jsonpath='{.status.lastActivityTime}' | grep -q T"
  ok "the real apiserver: alice logged in, read her runtime, passed forward-auth; lastActivityTime recorded"
else
  # No apiserver in this build: write what it writes, as it writes it.
  echo "# no $ap_bin in this build: lastActivityTime written as the apiserver would"
  now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  activity="{apiVersion: clawplane.io/v1alpha1, kind: UserRuntime,
  metadata: {name: alice, namespace: $ns}, status: {lastActivityTime: \"$now\"}}"
  kubectl apply --server-side --field-manager=clawplane-apiserver-activity --subresource=status \
    -f - <<<"$activity" >/dev/null || fail "the apiserver-style status apply of lastActivityTime failed"
fi
wait_for 60 "the controller to stop writing" settled

# ---------------------------------------------------------------------------------------
say "managedFields: clawplane's managers own no spec field"
kubectl -n "$ns" get ur -l e2e-run="$suffix" -o json --show-managed-fields >"$logdir/urs.json"
kubectl get rp "$rp" -o json --show-managed-fields >"$logdir/rp.json"
python3 - "$logdir/urs.json" "$logdir/rp.json" "$fm" <<'EOF' || fail "field ownership is wrong"
import json, sys
urs = json.load(open(sys.argv[1]))["items"]
rp = json.load(open(sys.argv[2]))
fm = sys.argv[3]
assert len(urs) == 3, len(urs)
seen = set()
for o in urs + [rp]:
    name = o["kind"] + "/" + o["metadata"]["name"]
    mf = o["metadata"]["managedFields"]
    for m in mf:
        fields = m.get("fieldsV1", {})
        if m["manager"].startswith("clawplane-"):
            seen.add(m["manager"])
            assert "f:spec" not in fields, f"{name}: {m['manager']} owns spec fields: {fields['f:spec']}"
            assert m.get("subresource") == "status", f"{name}: {m['manager']} writes outside the status subresource: {m}"
            assert set(fields) <= {"f:status"}, f"{name}: {m['manager']} owns {sorted(fields)}"
    git = [m for m in mf if m["manager"] == fm]
    assert len(git) == 1 and git[0]["operation"] == "Apply", f"{name}: GitOps manager entries: {git}"
    assert "f:spec" in git[0]["fieldsV1"], f"{name}: Git does not own its spec"
    if o["kind"] == "UserRuntime":
        owners = [m["manager"] for m in mf if "f:status" in m.get("fieldsV1", {})]
        assert "clawplane-controller" in owners, f"{name}: no status written by the controller ({owners})"
        # Everything Git sets is Git's and nobody else's.
        spec_owners = [m["manager"] for m in mf if "f:spec" in m.get("fieldsV1", {})]
        assert spec_owners == [fm], f"{name}: spec owned by {spec_owners}"
    else:
        assert [m["manager"] for m in mf] == [fm], f"{name}: managers {[m['manager'] for m in mf]}"
alice = next(o for o in urs if o["metadata"]["name"] == "alice")
la = [m for m in alice["metadata"]["managedFields"] if m["manager"].startswith("clawplane-apiserver")]
assert la and "f:lastActivityTime" in la[0]["fieldsV1"]["f:status"], la
assert sorted(la[0]["fieldsV1"]["f:status"]) == ["f:lastActivityTime"], la
print("clawplane managers seen:", ", ".join(sorted(seen)))
EOF
ok "spec of every UserRuntime and of the RuntimeProfile is owned by '$fm' alone; clawplane-controller and clawplane-apiserver own only status"

# ---------------------------------------------------------------------------------------
say "a GitOps re-apply after reconciling changes nothing and raises no conflict"
rvs >"$logdir/rv3"
kubectl diff --server-side --field-manager="$fm" -k "$overlay" >"$logdir/diff" 2>&1 ||
  fail "kubectl diff --server-side reports differences after reconciling: $(cat "$logdir/diff")"
out=$(gitops_apply) || fail "re-apply failed (a conflict?): $out"
grep -qi conflict <<<"$out" && fail "re-apply reported a conflict: $out"
rvs >"$logdir/rv4"
diff "$logdir/rv3" "$logdir/rv4" >&2 || fail "the re-apply after reconciling changed objects"
ok "re-apply without --force-conflicts: no conflict, resourceVersions unchanged"

say "a change in Git reaches the runtime"
make_overlay 'patches:' '  - target: {kind: UserRuntime, name: bob}' \
  '    patch: |-' '      - {op: replace, path: /spec/state, value: Running}'
out=$(gitops_apply) || fail "applying bob's state change failed: $out"
wait_for 90 "bob Ready after Git set Running" \
  kubectl -n "$ns" wait --for=condition=Ready "ur/bob" --timeout=1s
ok "Git set bob to Running; the controller started him"
wait_for 60 "the controller to stop writing" settled
rvs >"$logdir/rv5"
out=$(gitops_apply) || fail "re-apply failed: $out"
rvs >"$logdir/rv6"
diff "$logdir/rv5" "$logdir/rv6" >&2 || fail "re-applying the changed state changed objects"
spec_owners=$(kubectl -n "$ns" get "ur/bob" -o json --show-managed-fields | python3 -c '
import json, sys
print(" ".join(m["manager"] for m in json.load(sys.stdin)["metadata"]["managedFields"] if "f:spec" in m.get("fieldsV1", {})))')
[ "$spec_owners" = "$fm" ] || fail "bob's spec owners after the change: $spec_owners"
ok "after the change: re-apply is a no-op and '$fm' still owns bob's spec alone"

echo "$checks passed, 0 failed"
