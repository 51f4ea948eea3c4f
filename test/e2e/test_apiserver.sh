#!/usr/bin/env bash
# clawplane-apiserver end to end, driven with curl as a user would, against the real
# PostgreSQL (hack/local-postgres, a schema of its own per run) and the local control
# plane with a controller: login and sessions, every endpoint, tenant isolation, bad
# input, idempotent concurrent starts (one UserRuntime, one pod), the SSE stream seeing
# Starting then Running, forward-auth (200 with headers, 401, 302, 403) and waking a
# Hibernated runtime, disabling users, invitations, quotas, usage, the append-only audit
# log, PostgreSQL going away mid-run (503, then recovery without a restart), and a
# graceful shutdown that ends event streams. Nothing secret may reach the logs.
# PostgreSQL is a private instance (its own directory and port) because this test stops
# it: other suites sharing the default instance must not see the outage.
E2E_NAME=api
# A PostgreSQL of this run's own (the test stops and restarts it), so two runs on one
# machine, or CI beside a developer, never pull the database from under each other.
export CLAWPLANE_PG_DIR=${CLAWPLANE_E2E_API_PG_DIR:-/var/tmp/clawplane-postgres-e2e-api-$(id -u)-$$}
export CLAWPLANE_PG_PORT=${CLAWPLANE_E2E_API_PG_PORT:-$((15500 + $$ % 500))}
. "$(dirname "$0")/lib/controller.sh"

api_bin="$build/bin/clawplane-apiserver"
ctl_bin=${CP_E2E_CONTROLLER_BIN:-$ctl_bin} # e.g. a non-sanitized controller
pgctl="$src/hack/local-postgres"
schema=e2e_api_$suffix
admin_pw="admin-password-$suffix"
api_pid=
sse_pids=()

api_cleanup() {
  local p
  for p in "${sse_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "$api_pid" ] && kill "$api_pid" 2>/dev/null || true
  "$pgctl" up >/dev/null 2>&1 || true
  psql_q "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
  if [ -z "${CLAWPLANE_E2E_API_PG_DIR:-}" ]; then
    "$pgctl" purge >/dev/null 2>&1 || true # this run's own instance: remove it
  else
    "$pgctl" down >/dev/null 2>&1 || true
  fi
}
trap 'api_cleanup; cleanup' EXIT

psql_q() { "$pgctl" exec psql -X -q -t -A -v ON_ERROR_STOP=1 -c "$1"; }
psql_s() { "$pgctl" exec psql -X -q -t -A -v ON_ERROR_STOP=1 -c "SET search_path TO $schema; $1"; }

"$pgctl" up >/dev/null
psql_q "CREATE SCHEMA $schema" >/dev/null
base_url=$("$pgctl" env | sed -n 's/^export DATABASE_URL=//p')
db_url="$base_url&options=-csearch_path%3D$schema"

setup_namespace
apply_profile "$profile"
say "namespace $ns, profile $profile, schema $schema"

# start_api [flags...]: runs the apiserver in the background; sets api_pid and port.
start_api() {
  local log="$logdir/apiserver.log"
  CLAWPLANE_BOOTSTRAP_ADMIN=root CLAWPLANE_BOOTSTRAP_PASSWORD="$admin_pw" \
    "$api_bin" --listen 127.0.0.1:0 --database-url "$db_url" --runtime-namespace "$ns" \
    --default-profile "$profile" --password-cost 10 --session-cache-seconds 1 \
    --login-attempts-per-client 10000 --login-attempts-per-user 8 --log-level debug "$@" \
    >>"$log" 2>&1 &
  api_pid=$!
  local i
  for i in $(seq 1 100); do
    port=$(grep -o '"msg":"serving the API".*"port":"[0-9]*"' "$log" | tail -1 | grep -o '"port":"[0-9]*"' | grep -o '[0-9]\+' || true)
    [ -n "$port" ] && return 0
    kill -0 "$api_pid" 2>/dev/null || fail "apiserver exited at start: $(cat "$log")"
    sleep 0.1
  done
  fail "apiserver did not start serving"
}

tmp=$logdir/http
mkdir -p "$tmp"
# api METHOD PATH TOKEN [BODY [CONTENT-TYPE]]: sets code, resp and hdrs.
api() {
  local m=$1 p=$2 t=$3 b=${4-} ct=${5:-application/json}
  local args=(-s -o "$tmp/body" -D "$tmp/hdrs" -w '%{http_code}' -X "$m" "http://127.0.0.1:$port$p")
  [ -n "$t" ] && args+=(-H "Authorization: Bearer $t")
  [ $# -ge 4 ] && args+=(-H "Content-Type: $ct" --data-binary "$b")
  code=$(curl "${args[@]}" || true)
  resp=$(cat "$tmp/body" 2>/dev/null || true)
  hdrs=$(cat "$tmp/hdrs" 2>/dev/null || true)
}
expect() { [ "$code" = "$1" ] || fail "$2: want HTTP $1, got $code: $resp"; }
js() { jq -r "$1" <<<"$resp"; }
errmsg() { jq -r '.error.message' <<<"$resp"; }
login() { # login USER PASSWORD -> prints the token
  api POST /api/v1/auth/login "" "{\"username\":\"$1\",\"password\":\"$2\"}"
  expect 200 "login $1"
  js .token
}
hdr() { grep -i "^$1:" <<<"$hdrs" | head -1 | cut -d' ' -f2- | tr -d '\r'; }

start_api
wait_for 30 "readyz" curl -fsS "http://127.0.0.1:$port/readyz"
ok "apiserver up on :$port, migrations applied, /readyz ok"

say "OpenAPI document"
curl -fsS "http://127.0.0.1:$port/api/v1/openapi.json" | cmp - "$src/api/openapi.json" ||
  fail "/api/v1/openapi.json differs from api/openapi.json (it is embedded at build time: rebuild)"
"$api_bin" --print-openapi | jq -e '.openapi == "3.0.3" and (.paths | has("/api/v1/users/{user}/runtime"))' >/dev/null ||
  fail "the OpenAPI document lacks the runtime path"
ok "/api/v1/openapi.json serves api/openapi.json, an OpenAPI 3 document"

say "login, sessions, me"
api POST /api/v1/auth/login "" "{\"username\":\"root\",\"password\":\"wrong-password\"}"
expect 401 "wrong password"
[ "$(errmsg)" = "invalid username or password" ] || fail "message: $resp"
api POST /api/v1/auth/login "" "{\"username\":\"nobody\",\"password\":\"wrong-password\"}"
expect 401 "unknown user"
[ "$(errmsg)" = "invalid username or password" ] || fail "unknown user must look like a wrong password: $resp"
api POST /api/v1/auth/login "" "{\"username\":\"root\",\"password\":\"$admin_pw\"}"
expect 200 "admin login"
root_tok=$(js .token)
cookie=$(hdr Set-Cookie)
grep -q "^clawplane_session=$root_tok; Path=/; Max-Age=86400; HttpOnly; Secure; SameSite=Strict$" <<<"$cookie" ||
  fail "session cookie: $cookie"
[ "$(js .user.role)" = admin ] || fail "login user: $resp"
ok "bootstrap admin logs in: bearer token and an HttpOnly Secure SameSite=Strict cookie"
api GET /api/v1/users/me "$root_tok"
expect 200 "me with bearer"
[ "$(js .username)/$(js .role)/$(js .state)" = root/admin/active ] || fail "me: $resp"
code=$(curl -s -o "$tmp/body" -w '%{http_code}' -H "Cookie: a=b; clawplane_session=$root_tok" "http://127.0.0.1:$port/api/v1/users/me")
[ "$code" = 200 ] || fail "me with cookie: $code"
api GET /api/v1/users/me ""
expect 401 "me without credentials"
[ "$(hdr WWW-Authenticate)" = 'Bearer realm="clawplane"' ] || fail "WWW-Authenticate: $hdrs"
api GET /api/v1/users/me "cps_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
expect 401 "unknown token"
api GET /api/v1/users/me "garbage"
expect 401 "malformed token"
ok "me: bearer and cookie work; no, unknown and malformed credentials get 401"

say "admin creates users"
api POST /api/v1/users "$root_tok" '{"username":"alice","password":"alice-password"}'
expect 201 "create alice"
[ "$(js .role)" = user ] || fail "default role: $resp"
for u in bob carol; do
  api POST /api/v1/users "$root_tok" "{\"username\":\"$u\",\"password\":\"$u-password\"}"
  expect 201 "create $u"
done
api POST /api/v1/users "$root_tok" '{"username":"alice","password":"alice-password"}'
expect 409 "duplicate user"
api POST /api/v1/users "$root_tok" '{"username":"Alice_1"}'
expect 400 "bad username"
grep -q "username must be" <<<"$(errmsg)" || fail "message: $resp"
api POST /api/v1/users "$root_tok" '{"username":"eve","password":"short"}'
expect 400 "weak password"
grep -q "at least 8" <<<"$(errmsg)" || fail "message: $resp"
alice=$(login alice alice-password)
bob=$(login bob bob-password)
carol=$(login carol carol-password)
api POST /api/v1/users "$alice" '{"username":"mallory"}'
expect 403 "non-admin creates a user"
api GET /api/v1/users "$root_tok"
expect 200 "list users"
[ "$(js '[.items[].username] | join(",")')" = "alice,bob,carol,root" ] || fail "users: $resp"
api GET "/api/v1/users?limit=2" "$root_tok"
[ "$(js '.items | length')/$(js .next_after)" = 2/bob ] || fail "paging: $resp"
api GET "/api/v1/users?limit=2&after=bob" "$root_tok"
[ "$(js '[.items[].username] | join(",")')" = "carol,root" ] || fail "page 2: $resp"
ok "admin creates users (409 on duplicates, 400 naming bad fields), lists them in pages; users may not"

say "runtime: create, read, isolation"
# Read your writes: GETs are served from the informer's cache, yet a GET sent the moment a
# write answers (on the same connection, no pause) shows the write.
write_then_read() { # write_then_read TOKEN METHOD PATH [BODY]: sets code and resp (the write's),
  local w=(-s -o "$tmp/body" -w '%{http_code}\n' -X "$2" -H "Authorization: Bearer $1") out
  [ $# -ge 4 ] && w+=(-H "Content-Type: application/json" --data-binary "$4")
  out=$(curl "${w[@]}" "http://127.0.0.1:$port$3" --next -s -w '\n%{http_code}' \
    -H "Authorization: Bearer $1" "http://127.0.0.1:$port/api/v1/users/me/runtime" || true)
  code=${out%%$'\n'*}
  resp=$(cat "$tmp/body")
  got=${out#*$'\n'} # and got: the GET's body and, on its last line, its code
}
got_state() { sed '$d' <<<"$got" | jq -r .desired.state; }
cache_kept_up() { # cache_kept_up WHAT: no write so far had to wait out the runtime cache
  ! grep -q "runtime cache is behind a write" "$logdir/apiserver.log" ||
    fail "$1 waited out the cache instead of seeing it: $(grep "cache is behind" "$logdir/apiserver.log" | head -3)"
}
got_code() { tail -1 <<<"$got"; }
api GET /api/v1/users/me/runtime "$alice"
expect 404 "no runtime yet"
write_then_read "$alice" PUT /api/v1/users/me/runtime "{\"profile\":\"$profile\",\"state\":\"Stopped\"}"
expect 200 "PUT creates the runtime"
[ "$(got_code)/$(got_state)" = 200/Stopped ] || fail "GET right after the PUT that created the runtime: $got"
[ "$(js .desired.profile)/$(js .desired.state)/$(js .user)" = "$profile/Stopped/alice" ] || fail "PUT: $resp"
[ "$(jp ur/alice '{.spec.user}/{.spec.profile}/{.spec.state}')" = "alice/$profile/Stopped" ] || fail "CR spec"
[ "$(jp ur/alice '{.metadata.labels.clawplane\.io/user}')" = alice ] || fail "CR label"
managers=$(jp ur/alice '{range .metadata.managedFields[*]}{.manager}/{.operation} {end}')
grep -q "clawplane-apiserver/Apply" <<<"$managers" || fail "managedFields: $managers"
ok "PUT creates UserRuntime alice with server-side apply (field manager clawplane-apiserver)"
for i in $(seq 1 15); do
  for a in start stop; do
    write_then_read "$alice" POST "/api/v1/users/me/runtime/$a"
    expect 200 "$a"
    [ "$(got_state)" = "$(js .desired.state)" ] || fail "GET right after $a (round $i): $got"
  done
done
for want in Running Stopped; do
  write_then_read "$alice" PUT /api/v1/users/me/runtime "{\"state\":\"$want\"}"
  [ "$(got_state)" = $want ] || fail "GET right after PUT $want: $got"
done
cache_kept_up "a write"
ok "read your writes: a GET on the same connection right after each of 33 writes shows it"
api GET /api/v1/users/alice/runtime "$alice"
expect 200 "alice reads her runtime by name"
for m in GET DELETE; do
  api "$m" /api/v1/users/alice/runtime "$bob"
  expect 403 "bob $m alice's runtime"
done
api PUT /api/v1/users/alice/runtime "$bob" '{"state":"Running"}'
expect 403 "bob PUT alice's runtime"
for a in start stop; do
  api POST "/api/v1/users/alice/runtime/$a" "$bob"
  expect 403 "bob $a alice's runtime"
done
api GET /api/v1/users/alice/runtime/events "$bob"
expect 403 "bob streams alice's events"
api GET /api/v1/users/alice/usage "$bob"
expect 403 "bob reads alice's usage"
api GET /api/v1/users/me/runtime "$bob"
expect 404 "bob has no runtime"
[ "$(jp ur/alice '{.spec.state}')" = Stopped ] || fail "bob changed alice's runtime"
api GET /api/v1/users/alice/runtime "$root_tok"
expect 200 "admin reads alice's runtime"
ok "tenant isolation: bob gets 403 on every read and write of alice's runtime; admin may read"

say "bad input"
api PUT /api/v1/users/me/runtime "$alice" '{"stat":"Running"}'
expect 400 "unknown field"
[ "$(errmsg)" = 'unknown field "stat"' ] || fail "message: $resp"
api PUT /api/v1/users/me/runtime "$alice" '{"state":'
expect 400 "truncated JSON"
[ "$(errmsg)" = "request body is not valid JSON" ] || fail "message: $resp"
api PUT /api/v1/users/me/runtime "$alice" '{"state":"Running"} trailing'
expect 400 "trailing garbage"
api PUT /api/v1/users/me/runtime "$alice" '[1,2]'
expect 400 "not an object"
api PUT /api/v1/users/me/runtime "$alice" '{"state":"Paused"}'
expect 400 "bad enum"
api PUT /api/v1/users/me/runtime "$alice" 'state=Running' application/x-www-form-urlencoded
expect 415 "form body"
head -c 70000 /dev/zero | tr '\0' ' ' >"$tmp/big"
code=$(curl -s -o "$tmp/body" -w '%{http_code}' -X PUT -H "Authorization: Bearer $alice" \
  -H 'Content-Type: application/json' --data-binary @"$tmp/big" "http://127.0.0.1:$port/api/v1/users/me/runtime")
[ "$code" = 413 ] || fail "oversize body: $code $(cat "$tmp/body")"
jq -e '.error.code == 413' "$tmp/body" >/dev/null || fail "oversize answer is not a JSON error"
code=$(curl -s -o "$tmp/body" -w '%{http_code}' -H "X-Big: $(head -c 20000 /dev/zero | tr '\0' a)" "http://127.0.0.1:$port/healthz")
[ "$code" = 431 ] || fail "oversize header: $code"
api PUT /api/v1/users/me/runtime "$alice" '{"resources":{"limits":{"memory":"64Gi"}}}'
expect 422 "resources over the profile's maxResources"
grep -q "exceeds the maximum 4Gi" <<<"$(errmsg)" || fail "policy message: $resp"
api PUT /api/v1/users/me/runtime "$alice" '{"resources":{"limits":{"gpu":"1"}}}'
expect 400 "unknown resource"
api PUT /api/v1/users/me/runtime "$alice" '{"profile":"no-such-profile"}'
expect 422 "missing profile"
grep -q 'RuntimeProfile "no-such-profile" does not exist' <<<"$(errmsg)" || fail "message: $resp"
api PUT /api/v1/users/me/runtime "$alice" '{"resources":{"limits":{"memory":"2Gi"},"requests":{"memory":"1Gi"}}}'
expect 200 "resources within policy"
[ "$(jp ur/alice '{.spec.resources.limits.memory}')" = 2Gi ] || fail "resources not written"
api GET /api/v1/nope "$alice"
expect 404 "unknown path"
api DELETE /api/v1/users/me/password "$alice"
expect 405 "wrong method"
api DELETE "/api/v1/users/me/runtime?wipe=maybe" "$alice"
expect 400 "bad query"
api GET "/api/v1/users/Not_A_User/runtime" "$root_tok"
expect 400 "bad user segment"
ok "bad input: 400 naming the field, 413 oversize body, 431 oversize header, 415, 422 policy, 404, 405"

say "SSE: Starting then Running, fed by the watch"
curl -sN -H "Authorization: Bearer $alice" "http://127.0.0.1:$port/api/v1/users/me/runtime/events" >"$tmp/sse" 2>/dev/null &
sse_pids+=($!)
wait_for 10 "SSE snapshot" grep -q '"type":"SNAPSHOT"' "$tmp/sse"
start_controller controller
api POST /api/v1/users/me/runtime/start "$alice"
expect 200 "start"
[ "$(js .desired.state)" = Running ] || fail "start: $resp"
wait_for 60 "SSE shows Running" grep -q '"phase":"Running"' "$tmp/sse"
phases=$(grep '^data:' "$tmp/sse" | grep -o '"phase":"[A-Za-z]*"' | cut -d'"' -f4 | uniq | tr '\n' ' ')
grep -q 'Starting .*Running' <<<"$phases" || fail "SSE phases: $phases"
grep -q '^event: status' "$tmp/sse" && grep -q '^id: [0-9]' "$tmp/sse" || fail "SSE framing: $(head -5 "$tmp/sse")"
ok "SSE stream: snapshot, then phases $phases"
api GET /api/v1/users/me/runtime "$alice"
[ "$(js .observed.phase)/$(js .observed.ready)" = Running/True ] || fail "GET after start: $resp"
[ "$(js .observed.podName)" = alice ] || fail "podName: $resp"
ok "GET runtime: desired Running, observed phase Running, Ready True, pod alice"

say "ten concurrent starts: one UserRuntime, one pod"
starts=()
for i in $(seq 1 10); do
  curl -s -o "$tmp/start.$i" -w '%{http_code}\n' -X POST -H "Authorization: Bearer $carol" \
    "http://127.0.0.1:$port/api/v1/users/me/runtime/start" >"$tmp/code.$i" &
  starts+=($!)
done
for p in "${starts[@]}"; do wait "$p" || true; done
[ "$(cat "$tmp"/code.* | sort | uniq -c | tr -s ' ')" = " 10 200" ] || fail "concurrent starts: $(cat "$tmp"/code.* | tr '\n' ' ') $(cat "$tmp"/start.1)"
[ "$(kubectl -n "$ns" get ur -l clawplane.io/user=carol -o name | wc -l)" = 1 ] || fail "more than one UserRuntime"
kubectl -n "$ns" wait --for=condition=Ready ur/carol --timeout=60s >/dev/null || fail "carol not Ready: $(jp ur/carol '{.status}')"
[ "$(kubectl -n "$ns" get pods -l app.kubernetes.io/instance=carol -o name | wc -l)" = 1 ] || fail "pods: $(kubectl -n "$ns" get pods)"
[ "$(jp ur/carol '{.spec.profile}')" = "$profile" ] || fail "--default-profile not used"
ok "10 concurrent POST start: all 200, one UserRuntime, one pod, Ready"

say "stop"
api POST /api/v1/users/me/runtime/stop "$carol"
expect 200 "stop"
wait_for 30 "carol's pod gone" absent pod/carol
wait_for 30 "phase Stopped" field_is ur/carol '{.status.phase}' Stopped
ok "POST stop: pod deleted, phase Stopped"

say "forward-auth"
fwd() { # fwd TOKEN-or-empty ACCEPT [URI] [HOST]
  local args=(-s -o "$tmp/body" -D "$tmp/hdrs" -w '%{http_code}' -H "X-Forwarded-Proto: https"
    -H "X-Forwarded-Host: ${4:-claw.example.com}" -H "X-Forwarded-Uri: ${3:-/chat?x=1}")
  [ -n "$1" ] && args+=(-H "Cookie: clawplane_session=$1")
  [ -n "$2" ] && args+=(-H "Accept: $2")
  code=$(curl "${args[@]}" "http://127.0.0.1:$port/internal/auth/forward")
  resp=$(cat "$tmp/body")
  hdrs=$(cat "$tmp/hdrs")
}
fwd "$alice" "application/json"
expect 200 "forward-auth with a session"
[ "$(hdr X-Clawplane-User)/$(hdr X-Clawplane-Role)" = alice/user ] || fail "headers: $hdrs"
fwd "" "application/json"
expect 401 "forward-auth without a session"
[ "$(hdr WWW-Authenticate)" = 'Bearer realm="clawplane"' ] || fail "401 headers: $hdrs"
fwd "" "text/html,application/xhtml+xml"
expect 302 "forward-auth, browser without a session"
[ "$(hdr Location)" = "/login?next=https%3A%2F%2Fclaw.example.com%2Fchat%3Fx%3D1" ] || fail "Location: $(hdr Location)"
fwd "cps_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" "text/html"
expect 302 "forward-auth, browser with a stale session"
fwd "$bob" "" /u/alice/
expect 403 "bob to alice's runtime"
fwd "$root_tok" "" /u/alice/
expect 200 "admin to alice's runtime"
fwd "$alice" "" /u/alice/
expect 200 "alice to her runtime by path"
ok "forward-auth: 200 with X-Clawplane-User/Role, 401, 302 to login with next=, 403 for others' runtimes"
code=$(curl -s -o "$tmp/body" -D "$tmp/hdrs" -w '%{http_code}' "http://127.0.0.1:$port/login?next=%2Fchat")
hdrs=$(cat "$tmp/hdrs")
[ "$code" = 200 ] && grep -q '<form id="login">' "$tmp/body" || fail "login page: $code"
grep -q "script-src 'self'" <<<"$(hdr Content-Security-Policy)" || fail "login page CSP: $hdrs"
[ "$(hdr X-Frame-Options)" = DENY ] || fail "login page framing: $hdrs"
grep -q "/api/v1/auth/login" <<<"$(curl -fsS "http://127.0.0.1:$port/login.js")" || fail "login script"
ok "the login page the redirect points at is served, with a strict Content-Security-Policy"

say "forward-auth wakes a Hibernated runtime"
kubectl -n "$ns" patch ur/alice --type=merge --field-manager=e2e -p '{"spec":{"idleTimeout":"2s"}}' >/dev/null
wait_for 40 "alice Hibernated" field_is ur/alice '{.status.phase}' Hibernated
wait_for 20 "pod deleted on hibernation" absent pod/alice
grep -q '"phase":"Hibernated"' "$tmp/sse" || wait_for 10 "SSE shows Hibernated" grep -q '"phase":"Hibernated"' "$tmp/sse"
kubectl -n "$ns" patch ur/alice --type=merge --field-manager=e2e -p '{"spec":{"idleTimeout":"1h"}}' >/dev/null
sleep 1
[ "$(jp ur/alice '{.status.phase}')" = Hibernated ] || fail "changing idleTimeout woke it"
before=$(jp ur/alice '{.status.lastActivityTime}')
# The first access wakes it, and on kwok nodes it is Ready again within moments: the API
# client's request goes out at the same time as the browser's, so both meet it asleep.
(
  tmp=$tmp.api
  mkdir -p "$tmp"
  fwd "$alice" ""
  printf '%s\n%s\n' "$code" "$(hdr Retry-After)" >"$tmp/result"
  printf '%s' "$resp" >"$tmp/resp"
) &
api_client=$!
fwd "$alice" "text/html"
expect 503 "forward-auth to a hibernated runtime (a browser)"
[ "$(hdr Retry-After)" = 5 ] && [ "$(hdr Refresh)" = 5 ] && grep -q "is starting" <<<"$resp" ||
  fail "no self-reloading starting page for a browser: $(hdr Retry-After) $(hdr Refresh) $resp"
wait "$api_client"
code=$(sed -n 1p "$tmp.api/result") resp=$(cat "$tmp.api/resp")
expect 503 "forward-auth to a hibernated runtime (an API client)"
[ "$(sed -n 2p "$tmp.api/result")" = 5 ] && grep -q "not ready yet" <<<"$(errmsg)" ||
  fail "no retryable JSON error: $resp"
ok "while it is not Ready, ForwardAuth answers 503: a starting page for browsers, a retryable error for clients"
wait_for 60 "alice woken" field_is ur/alice '{.status.phase}' Running
wait_for 60 "alice Ready" bash -c "[ \"\$(kubectl -n $ns get ur/alice -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}')\" = True ]"
fwd "$alice" "text/html"
expect 200 "forward-auth to the woken runtime"
after=$(jp ur/alice '{.status.lastActivityTime}')
[ "$after" != "$before" ] || fail "lastActivityTime not written"
managers=$(jp ur/alice '{range .metadata.managedFields[*]}{.manager}/{.subresource} {end}')
grep -q "clawplane-apiserver-activity/status" <<<"$managers" || fail "status field manager: $managers"
ok "access to a Hibernated runtime wrote status.lastActivityTime ($after, manager clawplane-apiserver-activity) and it is Running again"
rv=$(jp ur/alice '{.metadata.resourceVersion}')
for i in 1 2 3; do fwd "$alice" ""; done
sleep 1
[ "$(jp ur/alice '{.status.lastActivityTime}')" = "$after" ] || fail "activity written more than once per interval"
ok "further accesses within the interval write nothing"

say "disable and enable a user"
api PUT /api/v1/users/me/runtime "$bob" '{"state":"Running"}'
expect 200 "bob creates a runtime"
api POST /api/v1/users/bob/disable "$alice"
expect 403 "a user disables another"
api POST /api/v1/users/root/disable "$root_tok"
expect 409 "admin disables self"
api POST /api/v1/users/bob/disable "$root_tok"
expect 200 "disable bob"
[ "$(jp ur/bob '{.spec.state}')" = Stopped ] || fail "bob's runtime not stopped"
api GET /api/v1/users/me "$bob"
expect 401 "disabled user's session"
api POST /api/v1/auth/login "" '{"username":"bob","password":"bob-password"}'
expect 403 "disabled user logs in"
api POST /api/v1/users/bob/disable "$root_tok"
expect 200 "disable is idempotent"
api POST /api/v1/users/bob/enable "$root_tok"
expect 200 "enable bob"
bob=$(login bob bob-password)
api POST /api/v1/users/nosuch/disable "$root_tok"
expect 404 "disable an unknown user"
ok "disable: sessions end at once, login refused, runtime stopped; enable restores login"

say "runtimes list (admin)"
api GET /api/v1/runtimes "$root_tok"
expect 200 "runtimes list"
[ "$(js '[.items[] | select(.name=="alice") | .phase] | .[0]')" = Running ] || fail "list: $resp"
[ "$(js '[.items[].name] | join(",")')" = "alice,bob,carol" ] || fail "names: $resp"
api GET /api/v1/runtimes "$alice"
expect 403 "runtimes list as a user"
ok "admin lists runtimes with their phase; users may not"

say "password change"
api PUT /api/v1/users/me/password "$alice" '{"current_password":"nope-nope","new_password":"alice-password-2"}'
expect 403 "wrong current password"
api PUT /api/v1/users/me/password "$alice" '{"current_password":"alice-password","new_password":"short"}'
expect 400 "weak new password"
alice2=$(login alice alice-password)
api PUT /api/v1/users/me/password "$alice" '{"current_password":"alice-password","new_password":"alice-password-2"}'
expect 200 "password change"
api GET /api/v1/users/me "$alice2"
expect 401 "other sessions end with a password change"
api GET /api/v1/users/me "$alice"
expect 200 "the changing session stays"
api POST /api/v1/auth/login "" '{"username":"alice","password":"alice-password"}'
expect 401 "old password"
alice=$(login alice alice-password-2)
ok "password change: current password checked, other sessions revoked, the new password works"

say "login rate limit"
# The buckets refill continuously (8 per minute per username and address here: one token
# every 7.5 s), so what a check may expect depends on the time it took. Every check below
# measures its own elapsed time (client-side, which can only overstate the server's) and
# judges by it: a slow machine changes how many attempts pass, never the verdict.
per_token=7.5 # seconds per refilled token at --login-attempts-per-user 8
elapsed_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }'; }
refilled_in() { awk -v e="$1" -v p="$per_token" 'BEGIN { printf "%d", e / p }'; }
t0=$EPOCHREALTIME
passed=0
for i in $(seq 1 30); do
  api POST /api/v1/auth/login "" '{"username":"erin","password":"guess-guess"}'
  [ "$code" = 401 ] || break
  passed=$((passed + 1))
done
expect 429 "erin's attempts never limited after $passed"
[ -n "$(hdr Retry-After)" ] || fail "no Retry-After"
allowed=$((8 + $(refilled_in "$(elapsed_since "$t0")")))
[ "$passed" -ge 8 ] || fail "limited after $passed attempts, but 8 a minute are allowed"
[ "$passed" -le "$allowed" ] || fail "$passed attempts passed; at most $allowed may in that time"
ok "login attempts per user limited: 429 with Retry-After after $passed attempts (8 a minute, $((allowed - 8)) refilled)"
# A guesser must not lock the owner out: attempts count per (username, client address),
# under a much higher per-username ceiling. Client A is 127.0.0.1, the owner's client B
# 127.0.0.2 (another loopback source address, a real second client).
login_from() { # login_from SOURCE-ADDRESS PASSWORD: sets code and hdrs
  code=$(curl -s -o "$tmp/body" -D "$tmp/hdrs" -w '%{http_code}' --interface "$1" \
    -H "Content-Type: application/json" --data-binary "{\"username\":\"carol\",\"password\":\"$2\"}" \
    "http://127.0.0.1:$port/api/v1/auth/login" || true)
  hdrs=$(cat "$tmp/hdrs" 2>/dev/null || true)
}
# A 429 saying "Retry-After: R" (R rounded up) means no token before R - 1 s have passed
# since the request was sent; client A's right password is judged only inside that window.
judged=""
for round in 1 2 3; do
  for i in $(seq 1 30); do
    t_limited=$EPOCHREALTIME
    login_from 127.0.0.1 guess-guess
    [ "$code" = 401 ] || break
  done
  [ "$code" = 429 ] || fail "client A after $i wrong passwords: $code $(cat "$tmp/body")"
  retry=$(hdr Retry-After)
  if [ "${retry:-0}" -lt 3 ]; then # a token is due soon: let it come and be used up again
    sleep "${retry:-1}"
    continue
  fi
  login_from 127.0.0.2 carol-password
  [ "$code" = 200 ] || fail "the owner from client B is locked out by client A's guesses: $code $(cat "$tmp/body")"
  login_from 127.0.0.1 carol-password
  if awk -v e="$(elapsed_since "$t_limited")" -v r="$retry" 'BEGIN { exit !(e < r - 1) }'; then
    [ "$code" = 429 ] || fail "client A is no longer limited $(elapsed_since "$t_limited") s after 'Retry-After: $retry': $code $(cat "$tmp/body")"
    judged=1
    break
  fi
done
[ -n "$judged" ] || fail "three rounds each took longer than the Retry-After window; nothing could be judged"
ok "a guesser at client A is limited (429 even with the right password) while the owner at client B logs in"

say "invitations"
api POST /api/v1/invitations "$root_tok" '{"username":"dave","ttl_hours":1}'
expect 201 "invite dave"
inv=$(js .token)
[[ $inv == cpi_* ]] || fail "invitation token: $resp"
api POST /api/v1/invitations "$root_tok" '{"username":"alice"}'
expect 409 "invite an existing user"
api POST /api/v1/invitations "$alice" '{"username":"frank"}'
expect 403 "a user invites"
api POST /api/v1/invitations/accept "" "{\"token\":\"$inv\",\"password\":\"dave-password\"}"
expect 201 "accept"
api POST /api/v1/invitations/accept "" "{\"token\":\"$inv\",\"password\":\"dave-password\"}"
expect 404 "accept twice"
api POST /api/v1/invitations/accept "" '{"token":"cpi_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","password":"dave-password"}'
expect 404 "unknown invitation"
dave=$(login dave dave-password)
[ "$(psql_s "SELECT count(*) FROM invitations WHERE token_hash = encode(sha256('$inv'::bytea), 'hex') AND accepted_at IS NOT NULL")" = 1 ] ||
  fail "invitation not stored as its SHA-256"
ok "invitations: admin invites, the invitee sets a password once, tokens stored only hashed"

say "API tokens"
api POST /api/v1/users/me/tokens "$alice" '{"name":"laptop cli","ttl_days":30}'
expect 201 "create an API token"
apitok=$(js .token)
tok_id=$(js .id)
[[ $apitok == cpt_* ]] || fail "API token: $resp"
api GET /api/v1/users/me "$apitok"
expect 200 "the API token as a bearer"
[ "$(js .username)" = alice ] || fail "token user: $resp"
api GET /api/v1/users/me/tokens "$alice"
expect 200 "list tokens"
[ "$(js '.items[0].name')/$(js '.items[0].revoked')" = "laptop cli/false" ] || fail "tokens: $resp"
grep -q "$apitok" <<<"$resp" && fail "a token listing shows the token"
api GET /api/v1/users/alice/tokens "$bob"
expect 403 "bob lists alice's tokens"
api POST /api/v1/users/me/tokens "$alice" '{"name":""}'
expect 400 "empty token name"
api DELETE "/api/v1/users/me/tokens/$tok_id" "$alice"
expect 200 "revoke"
api GET /api/v1/users/me "$apitok"
expect 401 "a revoked token"
api DELETE /api/v1/users/me/tokens/99999 "$alice"
expect 404 "revoke an unknown token"
[ "$(psql_s "SELECT count(*) FROM api_tokens WHERE token_hash = encode(sha256('$apitok'::bytea), 'hex')")" = 1 ] ||
  fail "API token not stored as its SHA-256"
ok "API tokens: created once, work as bearer tokens, listed without values, revoked at once"

say "quotas and usage"
api PUT /api/v1/users/alice/quota "$root_tok" '{"allowed_models":["gpt-4o-mini","llama3"],"monthly_token_budget":100000,"requests_per_minute":30}'
expect 200 "set quota"
[ "$(js '.allowed_models | join(",")')/$(js .monthly_token_budget)/$(js .max_concurrent_streams)" = "gpt-4o-mini,llama3/100000/null" ] || fail "quota: $resp"
api PUT /api/v1/users/alice/quota "$root_tok" '{"requests_per_minute":null}'
expect 200 "reset one quota field"
[ "$(js .requests_per_minute)/$(js .monthly_token_budget)" = "null/100000" ] || fail "partial update: $resp"
[ "$(psql_s "SELECT array_to_string(allowed_models, ','), monthly_token_budget FROM user_quotas WHERE username = 'alice'")" = "gpt-4o-mini,llama3|100000" ] ||
  fail "user_quotas row"
api PUT /api/v1/users/alice/quota "$alice" '{"monthly_token_budget":1}'
expect 403 "a user sets her own quota"
api PUT /api/v1/users/alice/quota "$root_tok" '{"monthly_token_budget":-5}'
expect 400 "negative budget"
api GET /api/v1/users/me/quota "$alice"
expect 200 "read own quota"
api GET /api/v1/users/me/usage "$alice"
expect 200 "usage without usage_records"
[ "$(js '.by_model | length')/$(js .total.requests)" = 0/0 ] || fail "empty usage: $resp"
psql_s "CREATE TABLE usage_records (id bigserial PRIMARY KEY, username text, runtime text, model text,
  prompt_tokens bigint, completion_tokens bigint, cost_microusd bigint, created_at timestamptz DEFAULT now(),
  request_id text UNIQUE);
  INSERT INTO usage_records (username, runtime, model, prompt_tokens, completion_tokens, cost_microusd, request_id)
  VALUES ('alice', 'alice', 'llama3', 10, 20, 5, 'r1'), ('alice', 'alice', 'llama3', 1, 2, 1, 'r2'),
         ('bob', 'bob', 'llama3', 100, 100, 100, 'r3')" >/dev/null
api GET /api/v1/users/me/usage "$alice"
[ "$(js '.total.requests')/$(js '.total.prompt_tokens')/$(js '.by_model[0].completion_tokens')/$(js .quota.monthly_token_budget)" = "2/11/22/100000" ] ||
  fail "usage: $resp"
ok "quotas: admin sets and resets fields (user_quotas), users read theirs; usage sums usage_records per model"

say "bodies and headers that are not UTF-8"
# PostgreSQL refuses such bytes: each must be the client's 400, never a 500 from the
# database (login needs no authentication, so a 500 there is anyone's for the asking).
bad_utf8() { # bad_utf8 METHOD PATH TOKEN BODY WHAT
  api "$1" "$2" "$3" "$4"
  expect 400 "$5"
  grep -q "not valid UTF-8" <<<"$(errmsg)" || fail "$5: message: $resp"
}
bad_utf8 POST /api/v1/auth/login "" "$(printf '{"username":"caf\xe9","password":"guess-guess"}')" \
  "login, Latin-1 username"
bad_utf8 POST /api/v1/auth/login "" "$(printf '{"username":"root","password":"\xc0\xafpassword"}')" \
  "login, overlong password"
bad_utf8 POST /api/v1/users/me/tokens "$alice" "$(printf '{"name":"cli \xed\xa0\x80"}')" \
  "token name with a surrogate"
bad_utf8 PUT /api/v1/users/alice/quota "$root_tok" "$(printf '{"allowed_models":["m\xf4\x90\x80\x80"]}')" \
  "quota model past U+10FFFF"
bad_utf8 PUT /api/v1/users/alice/quota "$root_tok" "$(printf '{"allowed_models":["m\xe2\x82"]}')" \
  "quota model truncated"
api POST /api/v1/users/me/tokens "$alice" "$(printf '{"name":"caf\xc3\xa9 \xf0\x9f\x90\xbe"}')"
expect 201 "a token name in valid non-ASCII UTF-8"
[ "$(js .name)" = "$(printf 'caf\xc3\xa9 \xf0\x9f\x90\xbe')" ] || fail "token name: $resp"
api DELETE "/api/v1/users/me/tokens/$(js .id)" "$alice"
expect 200 "revoke the UTF-8 token"
# The User-Agent is stored with the session: a Latin-1 one, or a long one whose 256-byte
# cut would split a character, must not turn a correct login into a 500.
for ua in "$(printf 'agent \xe9')" "$(head -c 255 /dev/zero | tr '\0' a)$(printf '\xc3\xa9')"; do
  code=$(curl -s -o "$tmp/body" -w '%{http_code}' -A "$ua" -H "Content-Type: application/json" \
    --data-binary '{"username":"alice","password":"alice-password-2"}' \
    "http://127.0.0.1:$port/api/v1/auth/login" || true)
  [ "$code" = 200 ] || fail "login with a non-UTF-8 User-Agent: $code $(cat "$tmp/body")"
done
ok "bodies that are not UTF-8: 400 naming it (login, tokens, quotas); valid UTF-8 kept; odd User-Agents harmless"

say "audit log"
api GET "/api/v1/audit?action=user.disable" "$root_tok"
expect 200 "audit query"
[ "$(js '.items[0].actor')/$(js '.items[0].target')" = root/bob ] || fail "audit: $resp"
api GET "/api/v1/audit?limit=3" "$root_tok"
[ "$(js '.items | length')" = 3 ] || fail "audit limit: $resp"
next=$(js .next_before)
first_ids=$(js '[.items[].id] | join(",")')
api GET "/api/v1/audit?limit=3&before=$next" "$root_tok"
[ "$(js '.items[0].id')" -lt "$next" ] || fail "audit paging: $resp after $first_ids"
api GET "/api/v1/audit?actor=carol&action=runtime.start" "$root_tok"
[ "$(js '.items | length')" = 10 ] || fail "ten start records: $resp"
api GET "/api/v1/audit?limit=9999" "$root_tok"
expect 400 "audit limit out of range"
api GET /api/v1/audit "$alice"
expect 403 "audit as a user"
psql_s "UPDATE audit_log SET actor = 'x'" >/dev/null 2>&1 && fail "audit_log accepted an UPDATE"
psql_s "DELETE FROM audit_log" >/dev/null 2>&1 && fail "audit_log accepted a DELETE"
psql_s "TRUNCATE audit_log" >/dev/null 2>&1 && fail "audit_log accepted a TRUNCATE"
ok "audit log: filtered, paged newest first, admin only, append-only in the database"

say "PostgreSQL goes away mid-run"
api_rv=$(jp ur/alice '{.metadata.resourceVersion}')
"$pgctl" down >/dev/null 2>&1
api GET /api/v1/users/me "$alice"
expect 503 "me while PostgreSQL is down"
grep -q "database unavailable" <<<"$(errmsg)" || fail "503 message: $resp"
[ -n "$(hdr Retry-After)" ] || fail "503 without Retry-After"
api POST /api/v1/users/me/runtime/stop "$alice"
expect 503 "stop while PostgreSQL is down"
[ "$(jp ur/alice '{.spec.state}')" = Running ] || fail "the CR changed although the request failed"
api POST /api/v1/auth/login "" '{"username":"alice","password":"alice-password-2"}'
expect 503 "login while PostgreSQL is down"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")
[ "$code" = 503 ] || fail "readyz while PostgreSQL is down: $code"
"$pgctl" up >/dev/null
wait_for 20 "service resumes" bash -c "curl -fsS -H 'Authorization: Bearer $alice' http://127.0.0.1:$port/api/v1/users/me >/dev/null"
kill -0 "$api_pid" || fail "apiserver died"
login alice alice-password-2 >/dev/null
wait_for 10 "readyz again" curl -fsS "http://127.0.0.1:$port/readyz"
ok "PostgreSQL down: 503 with a clear message and Retry-After, nothing written; back up: service resumes by itself"
"$pgctl" restart >/dev/null 2>&1
api GET /api/v1/users/me "$alice"
expect 200 "the first request after a restart"
ok "a restart while idle costs no failed request"

say "the Kubernetes API goes away"
sed "s#server: .*#server: https://127.0.0.1:9#" "$KUBECONFIG" >"$logdir/dead.kubeconfig"
dead_log="$logdir/apiserver-deadkube.log"
"$api_bin" --listen 127.0.0.1:0 --database-url "$db_url" --runtime-namespace "$ns" \
  --kubeconfig "$logdir/dead.kubeconfig" --password-cost 10 >"$dead_log" 2>&1 &
dead_pid=$!
sse_pids+=($dead_pid)
dead_port=
for i in $(seq 1 100); do
  dead_port=$(grep -o '"port":"[0-9]*"' "$dead_log" | head -1 | grep -o '[0-9]\+' || true)
  [ -n "$dead_port" ] && break
  sleep 0.1
done
[ -n "$dead_port" ] || fail "second apiserver did not start: $(cat "$dead_log")"
main_port=$port
port=$dead_port
wait_for 20 "second apiserver migrated" bash -c "curl -s http://127.0.0.1:$port/readyz | grep -q informer"
api POST /api/v1/users/me/runtime/stop "$alice"
expect 503 "stop while the Kubernetes API is unreachable"
grep -q "Kubernetes API unavailable" <<<"$(errmsg)" || fail "message: $resp"
[ "$(jp ur/alice '{.spec.state}')" = Running ] || fail "the runtime changed"
api GET /api/v1/users/me "$alice"
expect 200 "database endpoints keep working without the Kubernetes API"
port=$main_port
kill "$dead_pid"
wait "$dead_pid" 2>/dev/null || true
ok "Kubernetes API unreachable: writes get 503 naming it, readyz says why, the rest keeps working"

say "delete, keeping or wiping the workspace"
api DELETE /api/v1/users/me/runtime "$bob"
expect 200 "delete bob's runtime"
[ "$(js .workspace)" = kept ] || fail "delete: $resp"
wait_for 30 "ur/bob gone" absent ur/bob
api PUT /api/v1/users/me/runtime "$bob" "{\"profile\":\"$profile\",\"state\":\"Stopped\"}"
expect 200 "bob's runtime again"
write_then_read "$bob" DELETE /api/v1/users/me/runtime
expect 200 "delete bob's runtime again"
[ "$(got_code)" = 404 ] || fail "GET right after DELETE: $got"
cache_kept_up "the DELETE"
api DELETE "/api/v1/users/me/runtime?wipe=true" "$carol"
expect 200 "delete carol's runtime with wipe"
[ "$(js .workspace)" = removed ] || fail "wipe: $resp"
wait_for 30 "ur/carol gone" absent ur/carol
wait_for 30 "carol's PVC removed" absent pvc/carol-state
api DELETE /api/v1/users/me/runtime "$carol"
expect 404 "delete twice"
ok "DELETE keeps the workspace by default; ?wipe=true removes the PVC"

say "logout"
api POST /api/v1/auth/logout "$dave"
expect 200 "logout"
grep -q 'clawplane_session=; Path=/; Max-Age=0' <<<"$(hdr Set-Cookie)" || fail "cookie not cleared: $hdrs"
api GET /api/v1/users/me "$dave"
expect 401 "session after logout"
ok "logout revokes the session and clears the cookie"

say "metrics"
m=$(curl -fsS "http://127.0.0.1:$port/metrics")
grep -q '^clawplane_apiserver_requests_total{route="/api/v1/users/{user}/runtime",method="GET",code="200"}' <<<"$m" ||
  fail "request metric missing"
grep -q '^clawplane_apiserver_logins_total{result="throttled"}' <<<"$m" || fail "login metric missing"
grep -q '^clawplane_apiserver_activity_writes_total{kind="wake",result="ok"}' <<<"$m" || fail "wake metric missing"
ok "/metrics: requests, logins, activity writes"

say "graceful shutdown ends event streams"
curl -sN -H "Authorization: Bearer $alice" "http://127.0.0.1:$port/api/v1/users/me/runtime/events" >"$tmp/sse2" 2>/dev/null &
sse2=$!
sse_pids+=($sse2)
wait_for 10 "second stream open" grep -q SNAPSHOT "$tmp/sse2"
kill -TERM "$api_pid"
for i in $(seq 1 100); do kill -0 "$api_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$api_pid" 2>/dev/null && fail "apiserver still running 10 s after SIGTERM"
wait "$api_pid" || fail "apiserver exit status $?"
api_pid=
grep -q '^event: shutdown' "$tmp/sse2" || fail "no shutdown event: $(cat "$tmp/sse2")"
for i in $(seq 1 50); do kill -0 "$sse2" 2>/dev/null || break; sleep 0.1; done
kill -0 "$sse2" 2>/dev/null && fail "the SSE client was not disconnected"
ok "SIGTERM: streams get a shutdown event and end, exit status 0"

say "no secrets in the logs"
db_pw=$(sed 's|^[a-z]*://[^:]*:\([^@]*\)@.*|\1|' <<<"$base_url")
for secret in "$admin_pw" alice-password-2 dave-password "$root_tok" "$alice" "$inv" "$apitok" "$db_pw"; do
  [ -n "$secret" ] || continue
  grep -qF -- "$secret" "$logdir/apiserver.log" "$dead_log" && fail "a secret reached the log"
done
ok "passwords, tokens and the database password never reach the log"
echo "PASS: $checks checks"
