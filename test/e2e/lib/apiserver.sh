# Helpers for e2e scripts that run a real clawplane-apiserver on hack/local-postgres
# (sourced, not run; needs $src). That PostgreSQL is shared by every e2e script, and some
# restart it or stop it when they end, so each step here tolerates an outage of a few
# seconds: the apiserver itself resumes once PostgreSQL is back.

# pg_schema <schema>: starts PostgreSQL if needed, creates the schema, prints a
# DATABASE_URL whose search_path is that schema. Returns 1 after 60 s of failures.
pg_schema() {
  local base end=$((SECONDS + 60))
  while :; do
    base=$("$src/hack/local-postgres" up 2>/dev/null | sed -n 's/^export DATABASE_URL=//p')
    if [ -n "$base" ] && "$src/hack/local-postgres" exec psql -X -q -v ON_ERROR_STOP=1 \
      -c "CREATE SCHEMA IF NOT EXISTS $1" >/dev/null 2>&1; then
      break
    fi
    [ $SECONDS -lt $end ] || return 1
    sleep 1
  done
  case "$base" in
  *\?*) printf '%s&options=-csearch_path%%3D%s' "$base" "$1" ;;
  *) printf '%s?options=-csearch_path%%3D%s' "$base" "$1" ;;
  esac
}

# pg_schema_drop <schema>: best effort, for cleanup traps.
pg_schema_drop() {
  "$src/hack/local-postgres" up >/dev/null 2>&1 &&
    "$src/hack/local-postgres" exec psql -X -q -c "DROP SCHEMA IF EXISTS $1 CASCADE" >/dev/null 2>&1 || true
}

# api_start_port <log> <pid>: waits until the apiserver logs its port; prints it.
api_start_port() {
  local port="" i
  for i in $(seq 1 100); do
    port=$(grep -o '"port":"[0-9]*"' "$1" 2>/dev/null | head -1 | grep -o '[0-9]\+' || true)
    [ -n "$port" ] && { printf '%s' "$port"; return 0; }
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# api_ready <base url>: waits up to 60 s for /readyz to answer "ok".
api_ready() {
  local end=$((SECONDS + 60))
  until [ "$(curl -s "$1/readyz" 2>/dev/null)" = ok ]; do
    [ $SECONDS -lt $end ] || return 1
    sleep 0.2
  done
}

# api_login <base url> <user> <password file>: prints a bearer token. At most four
# attempts, 5 s apart: logins are rate-limited to five per user per minute.
api_login() {
  local body token i
  for i in 1 2 3 4; do
    body=$(python3 -c 'import json, sys; print(json.dumps({"username": sys.argv[1], "password": open(sys.argv[2]).read()}))' \
      "$2" "$3" | curl -s -X POST -H 'Content-Type: application/json' --data-binary @- "$1/api/v1/auth/login" || true)
    token=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1]).get("token", ""))' "$body" 2>/dev/null || true)
    [ -n "$token" ] && { printf '%s' "$token"; return 0; }
    [ "$i" = 4 ] || sleep 5
  done
  printf '%s\n' "$body" >&2
  return 1
}

# api_call <expected status> <curl args...>: retries for up to 20 s until the answer has
# the expected HTTP status; prints the body. Returns 1 (body on stderr) if it never does.
api_call() {
  local want=$1 out code end=$((SECONDS + 20))
  shift
  while :; do
    out=$(curl -s -w '\n%{http_code}' "$@" || true)
    code=${out##*$'\n'}
    out=${out%$'\n'*}
    [ "$code" = "$want" ] && { printf '%s' "$out"; return 0; }
    [ $SECONDS -lt $end ] || { printf 'HTTP %s: %s\n' "$code" "$out" >&2; return 1; }
    sleep 1
  done
}
