#!/usr/bin/env bash
# clawplane-apiserver's HTTP contract, driven with curl against the real PostgreSQL
# (hack/local-postgres, a schema of its own) and the local control plane: a user named in
# the path who does not exist answers 404 on every endpoint that names one (never a 500
# from a foreign key, never a UserRuntime made for nobody); a method a path does not serve
# answers 405 with an Allow header listing those it does; TRACE and unknown methods are
# refused everywhere, ForwardAuth included; HEAD answers wherever GET does, with the same
# headers and no body.
E2E_NAME=apihttp
. "$(dirname "$0")/lib/controller.sh"
. "$(dirname "$0")/lib/apiserver.sh"

api_bin="$build/bin/clawplane-apiserver"
schema=e2e_apihttp_$suffix
admin_pw="admin-password-$suffix"
api_pid=
trap 'kill "$api_pid" 2>/dev/null || true; pg_schema_drop "$schema"; cleanup' EXIT

db_url=$(pg_schema "$schema") || fail "PostgreSQL did not come up"
setup_namespace
apply_profile "$profile"

log="$logdir/apiserver.log"
CLAWPLANE_BOOTSTRAP_ADMIN=root CLAWPLANE_BOOTSTRAP_PASSWORD="$admin_pw" \
  "$api_bin" --listen 127.0.0.1:0 --database-url "$db_url" --runtime-namespace "$ns" \
  --default-profile "$profile" --password-cost 10 --login-attempts-per-client 10000 \
  >"$log" 2>&1 &
api_pid=$!
port=$(api_start_port "$log" "$api_pid") || fail "apiserver did not start: $(cat "$log")"
base="http://127.0.0.1:$port"
api_ready "$base" || fail "apiserver not ready: $(tail -20 "$log")"
printf '%s' "$admin_pw" >"$logdir/pw"
root_tok=$(api_login "$base" root "$logdir/pw") || fail "admin login"
ok "apiserver up on :$port"

tmp=$logdir/http
mkdir -p "$tmp"
# req METHOD PATH TOKEN [BODY]: sets code, resp and hdrs (curl -X, so any method name).
req() {
  local args=(-s -m 10 -o "$tmp/body" -D "$tmp/hdrs" -w '%{http_code}' -X "$1" "$base$2")
  [ -n "$3" ] && args+=(-H "Authorization: Bearer $3")
  [ $# -ge 4 ] && args+=(-H "Content-Type: application/json" --data-binary "$4")
  code=$(curl "${args[@]}" || true)
  resp=$(cat "$tmp/body" 2>/dev/null || true)
  hdrs=$(tr -d '\r' <"$tmp/hdrs" 2>/dev/null || true)
}
hdr() { grep -i "^$1:" <<<"$hdrs" | head -1 | cut -d' ' -f2- || true; }

say "a user named in the path who does not exist: 404 everywhere"
req POST /api/v1/users "$root_tok" '{"username":"alice","password":"alice-password"}'
[ "$code" = 201 ] || fail "create alice: $code $resp"
ghost=ghost$suffix
checked=0 wrong=""
while read -r m p b; do
  if [ -n "$b" ]; then req "$m" "$p" "$root_tok" "$b"; else req "$m" "$p" "$root_tok"; fi
  checked=$((checked + 1))
  jq -e --arg u "$ghost" '.error.code == 404 and (.error.message | test("no such user.*" + $u))' \
    <<<"$resp" >/dev/null 2>&1 && [ "$code" = 404 ] && continue
  wrong+=$'\n'"  $m $p: HTTP $code $resp"
done <<EOF
GET /api/v1/users/$ghost
GET /api/v1/users/$ghost/tokens
POST /api/v1/users/$ghost/tokens {"name":"t"}
DELETE /api/v1/users/$ghost/tokens/1
GET /api/v1/users/$ghost/quota
PUT /api/v1/users/$ghost/quota {"monthly_token_budget":1000}
GET /api/v1/users/$ghost/usage
GET /api/v1/users/$ghost/runtime
PUT /api/v1/users/$ghost/runtime {"state":"Running"}
DELETE /api/v1/users/$ghost/runtime
POST /api/v1/users/$ghost/runtime/start
POST /api/v1/users/$ghost/runtime/stop
GET /api/v1/users/$ghost/runtime/events
POST /api/v1/users/$ghost/disable
POST /api/v1/users/$ghost/enable
DELETE /api/v1/users/$ghost/sessions
DELETE /api/v1/users/$ghost
EOF
[ -z "$wrong" ] || fail "for a user who does not exist, want 404 naming the user:$wrong"
! kubectl -n "$ns" get "ur/$ghost" >/dev/null 2>&1 || fail "a UserRuntime was made for a user who does not exist"
! grep -q '"level":"error"' "$log" || fail "server errors logged: $(grep '"level":"error"' "$log" | head -3)"
# the check costs nothing to those who name themselves, and existing users still work
req GET /api/v1/users/alice/quota "$root_tok"
[ "$code" = 200 ] || fail "quota of alice: $code $resp"
req POST /api/v1/users/alice/tokens "$root_tok" '{"name":"t"}'
[ "$code" = 201 ] || fail "token for alice: $code $resp"
ok "$checked endpoints answer 404 naming the missing user; no UserRuntime, no server error; alice still works"

say "405 with Allow; TRACE and unknown methods refused; HEAD where GET is"
# allow_is METHOD PATH WANT: a 405 whose Allow header lists exactly WANT (any order).
allow_is() {
  req "$1" "$2" "$root_tok"
  [ "$code" = 405 ] || fail "$1 $2: want 405, got $code: $resp"
  local got want
  got=$(hdr Allow | tr -d ' ' | tr ',' '\n' | sort | paste -sd,)
  want=$(tr ',' '\n' <<<"$3" | sort | paste -sd,)
  [ "$got" = "$want" ] || fail "$1 $2: Allow want $want, got '$(hdr Allow)'"
}
allow_is POST /healthz GET,HEAD
allow_is DELETE /api/v1/openapi.json GET,HEAD
allow_is PATCH /api/v1/users/me/runtime GET,HEAD,PUT,DELETE
allow_is GET /api/v1/users/me/runtime/start POST
allow_is PUT /api/v1/users GET,HEAD,POST
allow_is GET /api/v1/users/me/password PUT
allow_is POST /internal/auth/forward GET,HEAD
allow_is OPTIONS /api/v1/users/me GET,HEAD,DELETE
ok "405 answers carry Allow with exactly the path's methods (ForwardAuth included)"
for p in /internal/auth/forward /healthz /api/v1/users/me /api/v1/auth/login /login /nowhere; do
  req TRACE "$p" "$root_tok"
  case $code in 405 | 501 | 404) ;; *) fail "TRACE $p: want it refused, got $code: $resp" ;; esac
  [ "$p" = /nowhere ] || [ "$code" != 404 ] || fail "TRACE $p: 404 on a path that exists"
  ! grep -qi "^X-Clawplane-User:" <<<"$hdrs" || fail "TRACE $p passed ForwardAuth: $hdrs"
done
for m in FOO PROPFIND CONNECT; do
  for p in /internal/auth/forward /api/v1/users/me; do
    req "$m" "$p" "$root_tok"
    case $code in 400 | 405 | 501) ;; *) fail "$m $p: want it refused, got $code: $resp" ;; esac
  done
done
ok "TRACE and unknown methods are refused on every path, ForwardAuth included"
# same_as_get PATH: HEAD answers GET's status and headers (but Date), with no body.
same_as_get() {
  local g h
  g=$(curl -s -D - -o /dev/null -H "Authorization: Bearer $root_tok" "$base$1" | tr -d '\r' | grep -vi '^date:')
  h=$(curl -s -I -H "Authorization: Bearer $root_tok" "$base$1" | tr -d '\r' | grep -vi '^date:')
  [ "$g" = "$h" ] || fail "HEAD $1 differs from GET:$(diff <(echo "$g") <(echo "$h"))"
  [ "$(curl -s -X HEAD -m 5 -H "Authorization: Bearer $root_tok" "$base$1" | wc -c)" = 0 ] ||
    fail "HEAD $1 has a body"
}
for p in /healthz /readyz /api/v1/openapi.json /login /login.js /api/v1/users/me \
  /api/v1/users /api/v1/users/alice/tokens /api/v1/users/me/quota /api/v1/runtimes \
  /internal/auth/forward "/api/v1/audit?limit=1"; do
  same_as_get "$p"
done
code=$(curl -s -I -m 5 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $root_tok" \
  "$base/api/v1/users/alice/runtime/events" || true)
[ "$code" = 200 ] || fail "HEAD on the event stream: $code"
ok "HEAD answers like GET (same status and headers, no body), the event stream included"

kill -0 "$api_pid" 2>/dev/null || fail "apiserver died: $(tail -20 "$log")"
kill "$api_pid"
wait "$api_pid" || fail "apiserver exit status $?"
api_pid=
ok "apiserver exits 0"
