#!/usr/bin/env bash
# Every binary's /metrics, read the way Prometheus and its tools read it: the controller
# on the local control plane, the apiserver on the local PostgreSQL, the model proxy in
# front of hack/local-model with the credentials the controller made. Each scrape must
# parse with prometheus_client's parser (every family typed and documented, no series
# twice, consistent histograms) and pass promlint (hack/build-promcheck); each binary
# exports the process_* collectors. The counters move for what happened:
#   - the informers' LISTs and WATCHes, the Lease and the reconcilers' writes are all in
#     rest_client_requests_total with the status code the server sent (201 for a
#     server-side apply that created), and the reconcilers' own count stays writes only;
#   - a reconcile moves controller_runtime_* and every workqueue_* series;
#   - a login, an API call, a model call and a refused one move the apiserver's and the
#     model proxy's clawplane_<binary>_* series.
# Then the chart: the PrometheusRule parses and validates as a Prometheus rule file
# (promtool's parser), the dashboard's queries parse as PromQL, and every metric name the
# rules and the dashboard use is one the binaries exposed in these scrapes.
E2E_NAME=metrics
. "$(dirname "$0")/lib/controller.sh"
. "$(dirname "$0")/lib/apiserver.sh"

cache=${CLAWPLANE_CACHE:-$HOME/.cache/clawplane}
venv="$cache/metrics-venv"
schema=e2e_metrics_$suffix
pids=()
stop_all() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  pg_schema_drop "$schema"
  cleanup
}
trap stop_all EXIT

say "tools: prometheus_client (PyPI, venv in $venv), promlint and promtool's rule parser"
pypi_venv "$venv" "$src/test/e2e/metrics_requirements.txt"
promcheck=$(timeout 900 "$src/hack/build-promcheck" 2>"$logdir/promcheck.log") ||
  fail "hack/build-promcheck failed: $(tail -5 "$logdir/promcheck.log")"
check() { "$venv/bin/python" "$src/test/e2e/metrics_check.py" "$@"; }
ok "prometheus_client $("$venv/bin/pip" show prometheus-client | awk '/^Version/ {print $2}'), $promcheck"

# scrape <name> <base url>: saves /metrics in $logdir/<name>.prom, checks its type, that
# it parses, that promlint finds nothing and that the process collectors are there.
scrape() {
  local f="$logdir/$1.prom" ct p
  ct=$(curl -fsS -m 10 -o "$f" -w '%{content_type}' "$2/metrics") || fail "$1: GET /metrics failed"
  [ "$ct" = "text/plain; version=0.0.4; charset=utf-8" ] || fail "$1: Content-Type $ct"
  check parse "$f" >"$logdir/$1.names" || fail "$1: the exposition does not pass the parser's checks"
  "$promcheck" metrics <"$f" 2>"$logdir/$1.lint" || fail "$1: promlint: $(cat "$logdir/$1.lint")"
  for p in process_cpu_seconds_total process_resident_memory_bytes process_virtual_memory_bytes \
    process_open_fds process_max_fds process_start_time_seconds; do
    grep -qx "$p" "$logdir/$1.names" || fail "$1: no $p"
  done
  local started
  started=$(check sum "$f" process_start_time_seconds)
  [ "$(echo "$(date +%s) - $started < 3600 && $(check sum "$f" process_open_fds) > 3" | bc)" = 1 ] ||
    fail "$1: process_start_time_seconds $started or process_open_fds implausible"
}
m() { check sum "$logdir/$1.prom" "${@:2}"; } # m <scrape> <name> [label=value...]: sum
gt() { [ "$(echo "$1 > $2" | bc)" = 1 ]; }

say "controller"
setup_namespace
apply_profile "$profile"
start_controller controller --workers 3
ctl="http://127.0.0.1:$ctl_port"
wait_for 30 "controller leads" sh -c "curl -fsS $ctl/metrics | grep -q '^leader_election_master_status{name=\"clawplane-controller\"} 1'"
wait_for 30 "controller ready" curl -fsS "$ctl/readyz"
scrape ctl0 "$ctl"
lists=$(m ctl0 reflector_lists_total) watches=$(m ctl0 reflector_watches_total)
gets=$(m ctl0 rest_client_requests_total code=200 method=GET)
[ "${lists%.*}" -ge 8 ] && [ "${watches%.*}" -ge 8 ] || fail "informers: $lists lists, $watches watches"
gt "$gets" "$((${lists%.*} + ${watches%.*} - 1))" || fail "rest_client_requests_total{code=200,method=GET} $gets < $lists LISTs + $watches WATCHes"
gt "$(m ctl0 rest_client_request_duration_seconds_count verb=GET)" "$((${lists%.*} - 1))" ||
  fail "rest_client_request_duration_seconds lacks the LISTs"
lease=$(($(m ctl0 rest_client_requests_total method=POST | cut -d. -f1) + $(m ctl0 rest_client_requests_total method=PUT | cut -d. -f1)))
[ "$lease" -ge 1 ] || fail "the Lease's requests are not in rest_client_requests_total"
grep -qx clawplane_controller_reconcile_requests_total "$logdir/ctl0.names" &&
  fail "reconcilers' requests counted before any runtime existed"
ok "informers' LIST/WATCH ($lists/$watches) and the Lease ($lease) in rest_client_requests_total, real codes, none in the reconcilers' count"
[ "$(m ctl0 controller_runtime_max_concurrent_reconciles controller=userruntime)" = 3 ] || fail "max concurrent reconciles"
[ "$(m ctl0 controller_runtime_active_workers controller=userruntime)" = 0 ] || fail "active workers while idle"
for le in 0.005 0.15 1.25 15 60; do
  grep -q "^controller_runtime_reconcile_time_seconds_bucket{controller=\"userruntime\",le=\"$le\"}" "$logdir/ctl0.prom" ||
    fail "reconcile time lacks controller-runtime's bucket $le"
done
[ "$(grep -c '^controller_runtime_reconcile_time_seconds_bucket' "$logdir/ctl0.prom")" = 41 ] || fail "reconcile time: not 40 buckets + Inf"
for n in workqueue_depth workqueue_adds_total workqueue_retries_total workqueue_queue_duration_seconds_bucket \
  workqueue_work_duration_seconds_bucket workqueue_unfinished_work_seconds workqueue_longest_running_processor_seconds; do
  grep -q "^$n{controller=\"userruntime\",name=\"userruntime\"" "$logdir/ctl0.prom" || fail "no $n{controller,name}"
done
ok "controller_runtime_* and workqueue_* as controller-runtime names and labels them, reconcile time in its buckets"

r0=$(m ctl0 controller_runtime_reconcile_total) t0=$(m ctl0 controller_runtime_reconcile_time_seconds_count)
a0=$(m ctl0 workqueue_adds_total) q0=$(m ctl0 workqueue_queue_duration_seconds_count) w0=$(m ctl0 workqueue_work_duration_seconds_count)
apply_ur alice "profile: $profile" "state: Stopped"
wait_for 60 "alice Stopped" field_is ur/alice '{.status.phase}' Stopped
sleep 1
scrape ctl1 "$ctl"
gt "$(m ctl1 controller_runtime_reconcile_total)" "$r0" || fail "controller_runtime_reconcile_total did not move"
gt "$(m ctl1 controller_runtime_reconcile_time_seconds_count)" "$t0" || fail "reconcile time did not move"
gt "$(m ctl1 workqueue_adds_total)" "$a0" || fail "workqueue_adds_total did not move"
gt "$(m ctl1 workqueue_queue_duration_seconds_count)" "$q0" || fail "workqueue_queue_duration_seconds did not move"
gt "$(m ctl1 workqueue_work_duration_seconds_count)" "$w0" || fail "workqueue_work_duration_seconds did not move"
ours=$(m ctl1 clawplane_controller_reconcile_requests_total method=PATCH)
gt "$ours" 0 || fail "the reconcilers' applies are not counted"
gt "$(m ctl1 rest_client_requests_total method=PATCH)" "$((${ours%.*} - 1))" || fail "rest_client_requests_total lacks the applies"
gt "$(m ctl1 rest_client_requests_total method=PATCH code=201)" 0 || fail "no apply that created counted with its 201"
ok "a reconcile moved controller_runtime_*, workqueue_* and the requests ($ours applies)"
# The cache gauges: one runtime and its Secret cached, as text of a plausible size, held
# deflated in less.
wait_for 10 "cache gauges count alice" sh -c "curl -fsS $ctl/metrics | grep -qx 'clawplane_controller_cache_objects{name=\"userruntimes\"} 1'"
scrape ctl2 "$ctl"
ur_text=$(m ctl2 clawplane_controller_cache_text_bytes name=userruntimes)
ur_bytes=$(m ctl2 clawplane_controller_cache_bytes name=userruntimes)
gt "$ur_text" 200 && gt 20000 "$ur_text" || fail "userruntimes cache stands for $ur_text bytes of text for one runtime"
gt "$ur_bytes" 0 && gt "$ur_text" "$ur_bytes" || fail "userruntimes cache holds $ur_bytes bytes for $ur_text of text"
gt "$(m ctl2 clawplane_controller_cache_objects name=secrets)" 0 || fail "no Secret in the cache gauges"
ok "clawplane_controller_cache_objects, _cache_bytes and _cache_text_bytes per informer ($ur_bytes bytes for one runtime's $ur_text of text)"

say "apiserver"
db_url=$(pg_schema "$schema") || fail "PostgreSQL did not come up"
printf '%s' "admin-password-$suffix" >"$logdir/pw"
CLAWPLANE_BOOTSTRAP_ADMIN=root CLAWPLANE_BOOTSTRAP_PASSWORD="admin-password-$suffix" \
  "$build/bin/clawplane-apiserver" --listen 127.0.0.1:0 --database-url "$db_url" \
  --runtime-namespace "$ns" --default-profile "$profile" --password-cost 10 >"$logdir/apiserver.log" 2>&1 &
pids+=($!)
port=$(api_start_port "$logdir/apiserver.log" "${pids[-1]}") || fail "apiserver did not start: $(tail -5 "$logdir/apiserver.log")"
api="http://127.0.0.1:$port"
api_ready "$api" || fail "apiserver not ready"
tok=$(api_login "$api" root "$logdir/pw") || fail "admin login"
curl -fsS -H "Authorization: Bearer $tok" "$api/api/v1/users" >/dev/null || fail "GET /api/v1/users"
scrape api "$api"
gt "$(m api clawplane_apiserver_requests_total route=/api/v1/users method=GET code=200)" 0 || fail "the API call is not counted"
gt "$(m api clawplane_apiserver_logins_total result=success)" 0 || fail "the login is not counted"
gt "$(m api rest_client_requests_total code=200 method=GET)" 1 || fail "the apiserver's informer LIST/WATCH are not counted"
ok "apiserver: clawplane_apiserver_* moved, its informer's requests in rest_client_requests_total"

say "model proxy"
mptok=$(kubectl -n "$ns" get secret alice-credentials -o jsonpath='{.data.modelproxy-token}' | base64 -d)
[ -n "$mptok" ] || fail "the controller made no modelproxy token for alice"
upkey="sk-upstream-$(openssl rand -hex 16)"
python3 "$src/hack/local-model" --key "$upkey" >"$logdir/upstream.log" 2>&1 &
pids+=($!)
wait_for 10 "upstream listening" grep -q 'listening on [0-9]' "$logdir/upstream.log"
up_port=$(grep -o 'listening on [0-9]*' "$logdir/upstream.log" | grep -o '[0-9]*$')
cat >"$logdir/mp.yaml" <<YAML
upstreams:
  - {name: local, baseURL: "http://127.0.0.1:$up_port/v1", apiKeyEnv: MP_METRICS_UPSTREAM_KEY}
models:
  - {name: gpt-test, upstream: local, price: {prompt: "2.50", completion: "10.00"}}
  - {name: premium-large, upstream: local}
defaults:
  allowedModels: ["gpt-*"]
YAML
MP_METRICS_UPSTREAM_KEY="$upkey" env -u DATABASE_URL "$build/bin/clawplane-modelproxy" --config "$logdir/mp.yaml" \
  --http-address 127.0.0.1:0 --namespace "$ns" --activity-interval 1 >"$logdir/modelproxy.log" 2>&1 &
pids+=($!)
wait_for 20 "model proxy port" grep -q '"port":"[0-9]' "$logdir/modelproxy.log"
mp="http://127.0.0.1:$(grep -o '"port":"[0-9]*"' "$logdir/modelproxy.log" | head -1 | grep -o '[0-9]\+')"
wait_for 30 "model proxy ready" curl -fsS "$mp/readyz"
call() { # call <model>: prints the HTTP status of a chat completion as alice
  curl -s -m 20 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $mptok" -H 'Content-Type: application/json' \
    --data "{\"model\":\"$1\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" "$mp/v1/chat/completions" || true
}
answers_200() { [ "$(call gpt-test)" = 200 ]; }
wait_for 30 "a model call answered 200" answers_200
code=$(call premium-large)
[ "$code" = 403 ] || fail "a model outside allowedModels answered $code"
scrape mp "$mp"
gt "$(m mp clawplane_modelproxy_requests_total model=gpt-test code=200)" 0 || fail "the model call is not counted"
gt "$(m mp clawplane_modelproxy_tokens_total model=gpt-test)" 0 || fail "tokens not counted"
gt "$(m mp clawplane_modelproxy_policy_refusals_total reason=model)" 0 || fail "the refusal is not counted"
[ "$(m mp clawplane_modelproxy_policy_refusals_total reason=tokens)" = 0 ] || fail "budget refusals without a budget"
gt "$(m mp rest_client_requests_total code=200 method=GET)" 1 || fail "the model proxy's Secret informer LIST/WATCH are not counted"
ok "model proxy: clawplane_modelproxy_* moved (a call, its tokens, a refusal), its Kubernetes requests counted"

say "the chart's alerts and dashboard use only metrics the binaries expose"
sort -u "$logdir"/*.names >"$logdir/exposed"
helm template x "$src/charts/clawplane" --kube-version 1.34.0 --namespace "$ns" \
  --set postgresql.bundled.enabled=true --set metrics.prometheusRule.enabled=true \
  --set metrics.grafanaDashboard.enabled=true --api-versions monitoring.coreos.com/v1/PrometheusRule \
  >"$logdir/chart.yaml" 2> >(grep -v 'found symbolic link' >&2) || fail "helm template failed"
check rules "$logdir/chart.yaml" "$logdir/rules.yaml" || fail "no PrometheusRule rendered"
"$promcheck" rules "$logdir/rules.yaml" >"$logdir/rule.names" 2>"$logdir/rules.err" ||
  fail "the rule file does not pass promtool's checks: $(cat "$logdir/rules.err")"
check exprs "$logdir/chart.yaml" >"$logdir/exprs" || fail "no dashboard rendered"
"$promcheck" exprs <"$logdir/exprs" >"$logdir/dash.names" 2>"$logdir/exprs.err" ||
  fail "dashboard queries do not parse: $(cat "$logdir/exprs.err")"
missing=$(sort -u "$logdir/rule.names" "$logdir/dash.names" | comm -23 - "$logdir/exposed")
[ -z "$missing" ] || fail "used by the chart but exposed by no binary: $missing"
ok "$(grep -c 'alert:' "$logdir/rules.yaml") alerts and $(wc -l <"$logdir/exprs") dashboard queries parse; their $(sort -u "$logdir/rule.names" "$logdir/dash.names" | wc -l) metric names are all exposed"
rendered=$(helm template x "$src/charts/clawplane" --kube-version 1.34.0 --set postgresql.bundled.enabled=true \
  --set metrics.prometheusRule.enabled=true 2>/dev/null) || fail "helm template with prometheusRule.enabled failed"
grep -q 'kind: PrometheusRule' <<<"$rendered" &&
  fail "PrometheusRule rendered without the monitoring.coreos.com/v1 API"
ok "no PrometheusRule without the monitoring.coreos.com/v1 API"
echo "test_metrics: $checks checks passed"
