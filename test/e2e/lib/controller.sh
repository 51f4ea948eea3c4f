# Shared helpers for the controller's e2e scripts (sourced, not run). Each script gets
# its own namespace (Pod Security "restricted" enforced), its own RuntimeProfile names and
# its own controller process watching only that namespace, so scripts run in parallel.
set -euo pipefail
build=${CP_BUILD_DIR:?}
src=${CP_SOURCE_DIR:?}
ctl_bin="$build/bin/clawplane-controller"
suffix=$$
ns=e2e-${E2E_NAME:-ctl}-$suffix
profile=p-$suffix
logdir=$(mktemp -d "/tmp/clawplane-e2e-${E2E_NAME:-ctl}.XXXXXX")
checks=0
ctl_pids=()

say() { printf '== %s\n' "$*"; }
ok() { checks=$((checks + 1)); printf 'ok %d - %s\n' "$checks" "$*"; }
fail() {
  printf 'FAIL: %s\n' "$*" >&2
  {
    echo "--- state of namespace $ns"
    kubectl -n "$ns" get ur,pod -o wide 2>&1
    kubectl -n "$ns" get ur -o jsonpath='{range .items[*]}{.metadata.name}: {.status}{"\n"}{end}' 2>&1
    kubectl -n "$ns" get pod -o jsonpath='{range .items[*]}{.metadata.name} {.metadata.uid}: {.status}{"\n"}{end}' 2>&1
    echo "--- the namespace's last events (a PodLost says which path counted a restart)"
    kubectl -n "$ns" get events --sort-by=.lastTimestamp 2>&1 | tail -n 15
  } | cut -c1-2000 >&2
  for f in "$logdir"/*.log; do
    [ -f "$f" ] && { echo "--- $f (last 30 lines)" >&2; tail -n 30 "$f" >&2; }
  done
  exit 1
}

cleanup() {
  local p
  for p in "${ctl_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  kubectl delete ns "$ns" --wait=false >/dev/null 2>&1 || true
  kubectl delete runtimeprofile -l e2e-run="$suffix" --wait=false >/dev/null 2>&1 || true
  [ -n "${CP_KEEP_LOGS:-}" ] || rm -rf "$logdir" # CP_KEEP_LOGS=1 keeps them for a look
}
trap cleanup EXIT

setup_namespace() {
  kubectl apply --server-side --force-conflicts -f "$src/crds/" >/dev/null
  kubectl wait --for=condition=Established crd/userruntimes.clawplane.io \
    crd/runtimeprofiles.clawplane.io --timeout=60s >/dev/null
  kubectl create ns "$ns" >/dev/null
  kubectl label ns "$ns" pod-security.kubernetes.io/enforce=restricted >/dev/null
}

# pypi_venv <venv dir> <requirements file>: a Python venv with the pinned PyPI packages,
# made again only when the requirements file changed (its hash is kept in the venv).
pypi_venv() {
  local venv=$1 req=$2 want
  want=$(sha256sum "$req" | cut -c1-16)
  [ "$(cat "$venv/.requirements" 2>/dev/null)" = "$want" ] && return 0
  mkdir -p "$(dirname "$venv")"
  rm -rf "$venv"
  { python3 -m venv "$venv" && "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"; } \
    >"$logdir/pip.log" 2>&1 || fail "pip install -r $req failed: $(tail -5 "$logdir/pip.log")"
  echo "$want" >"$venv/.requirements"
}

# start_controller <log name> [flags...]: runs a controller on this namespace in the
# background; sets ctl_pid and ctl_port.
start_controller() {
  local name=$1
  shift
  local log="$logdir/$name.log"
  # CP_VALGRIND=1: run under valgrind; any memory error or definite leak makes the
  # controller exit 99, which the SIGTERM check reports.
  local wrap=()
  [ "${CP_VALGRIND:-0}" = 1 ] && wrap=(valgrind --quiet --error-exitcode=99 --leak-check=full
    --errors-for-leak-kinds=definite --show-leak-kinds=definite)
  # CP_CTL_WRAP="heaptrack -o /tmp/ht": run under another tool (profilers, by hand).
  [ -n "${CP_CTL_WRAP:-}" ] && read -ra wrap <<<"$CP_CTL_WRAP"
  "${wrap[@]}" "$ctl_bin" --namespace "$ns" --http-address 127.0.0.1:0 --resync-period 30 \
    --leader-election-namespace "$ns" --leader-election-id "ctl-$suffix" "$@" >"$log" 2>&1 &
  ctl_pid=$!
  ctl_pids+=("$ctl_pid")
  local i
  for i in $(seq 1 600); do
    ctl_port=$(grep -o '"port":"[0-9]*"' "$log" | head -1 | grep -o '[0-9]\+' || true)
    [ -n "$ctl_port" ] && return 0
    kill -0 "$ctl_pid" 2>/dev/null || fail "controller exited at start: $(cat "$log")"
    sleep 0.1
  done
  fail "controller did not start serving HTTP"
}

# apply_profile <name> <extra spec yaml lines...>
apply_profile() {
  local name=$1
  shift
  {
    cat <<EOP
apiVersion: clawplane.io/v1alpha1
kind: RuntimeProfile
metadata: {name: $name, labels: {e2e-run: "$suffix"}}
spec:
  image: registry.invalid/openclaw@sha256:1111111111111111111111111111111111111111111111111111111111111111
  resources: {requests: {cpu: 100m, memory: 256Mi}, limits: {cpu: "1", memory: 1Gi}}
  maxResources: {cpu: "2", memory: 4Gi}
  allowOverrides: {image: false, resources: true}
EOP
    local l
    for l in "$@"; do printf '  %s\n' "$l"; done
  } | kubectl apply --server-side --force-conflicts -f - >/dev/null
}

# apply_ur <name> <extra spec yaml lines...>
apply_ur() {
  local name=$1
  shift
  {
    cat <<EOU
apiVersion: clawplane.io/v1alpha1
kind: UserRuntime
metadata: {name: $name, namespace: $ns}
spec:
  user: $name
EOU
    local l
    for l in "$@"; do printf '  %s\n' "$l"; done
  } | kubectl apply --server-side --force-conflicts --field-manager=e2e -f - >/dev/null
}

jp() { kubectl -n "$ns" get "$1" -o jsonpath="$2" 2>/dev/null; }

# wait_for <seconds> <description> <command...>: polls until the command succeeds.
wait_for() {
  local secs=$1 what=$2
  shift 2
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $end ] || fail "timed out after ${secs}s: $what"
    sleep 0.2
  done
}

field_is() { [ "$(jp "$1" "$2")" = "$3" ]; }
absent() { ! kubectl -n "$ns" get "$1" >/dev/null 2>&1; }
cond() { jp "ur/$1" "{.status.conditions[?(@.type==\"$2\")].$3}"; }
podlost_events() { # podlost_events <ur>: PodLost events recorded for it so far (their counts summed)
  kubectl -n "$ns" get events --field-selector "involvedObject.name=$1,reason=PodLost" \
    -o jsonpath='{range .items[*]}{.count}{"\n"}{end}' 2>/dev/null | awk '{s += ($1 == "" ? 1 : $1)} END {print s + 0}'
}
# kwok stands in for the kubelet and deletes a terminating pod by name, without the UID
# precondition a kubelet sends (kwok v0.7.0, pod_controller.go), so a late second delete of
# a pod that was just replaced can remove its same-named successor: a loss no kubelet would
# cause, which the controller rightly counts (PodLost, restarts + 1). Checks that restarts
# stay unchanged allow exactly those, proven from kwok's log.
# kwok_deletes POD: how many pods of that name in $ns kwok has deleted so far.
kwok_deletes() {
  local log
  log=$(dirname "${KUBECONFIG:-/nonexistent}")/log/kwok.log
  [ -r "$log" ] || { echo 0; return 0; }
  grep -a -c "\"msg\":\"Delete pod\".*\"pod\":\"$ns/$1\"" "$log" || true
}
# unexplained_restarts UR FROM KWOK_BEFORE RETIRED: the restarts counted since FROM that
# kwok's deletes beyond the RETIRED pods the scenario itself removed do not explain (0: none);
# says so when kwok's by-name deletes explain some.
unexplained_restarts() {
  local now extra
  now=$(jp "ur/$1" '{.status.restarts}')
  extra=$(($(kwok_deletes "$1") - $3 - $4))
  [ "$extra" -gt 0 ] || extra=0
  if [ "$((now - $2))" -gt 0 ] && [ "$extra" -gt 0 ]; then
    echo "# kwok deleted $extra more pod(s) named $1 than the $4 this step retired (by name, no UID precondition); restarts $2 -> $now" >&2
  fi
  local left=$((now - $2 - extra))
  echo $((left > 0 ? left : now - $2 < 0 ? now - $2 : 0))
}
event_seen() { # event_seen <ur> <reason>
  grep -q . <<<"$(kubectl -n "$ns" get events --field-selector "involvedObject.name=$1,reason=$2" \
    -o name 2>/dev/null)"
}
metric() { # metric <regex>: sum of the matching series from the last started controller
  curl -fsS "http://127.0.0.1:$ctl_port/metrics" |
    awk -v re="$1" '$0 !~ /^#/ && $1 ~ re {s += $2} END {printf "%d\n", s}'
}

# still_alive: every controller this script started (and did not stop) is still running;
# a crash (a sanitizer abort, say) must fail the test, not hide behind a timeout.
still_alive() {
  local p
  for p in "$@"; do
    kill -0 "$p" 2>/dev/null || fail "controller pid $p died during the test"
  done
  ok "controllers still running: $*"
}
