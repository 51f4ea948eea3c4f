#!/usr/bin/env bash
# A client generated from api/openapi.json by a well-known generator (openapi-python-client
# from PyPI, pinned, in a venv under ${CLAWPLANE_CACHE:-~/.cache/clawplane} keyed by its
# requirements' hash) against the real clawplane-apiserver on the local PostgreSQL (a
# schema of its own) and the local control plane: the generator must report no warning (a
# schema it cannot process is dropped from the client), and the client must drive login,
# the admin's user list, a runtime's start and stop, and an API token's create, list and
# revoke, every answer parsing into its typed model (apiserver_client.py).
E2E_NAME=apiclient
. "$(dirname "$0")/lib/controller.sh"
. "$(dirname "$0")/lib/apiserver.sh"

api_bin="$build/bin/clawplane-apiserver"
cache=${CLAWPLANE_CACHE:-$HOME/.cache/clawplane}
venv="$cache/apiclient-venv"
schema=e2e_apiclient_$suffix
admin_pw="admin-password-$suffix"
api_pid=
trap 'kill "$api_pid" 2>/dev/null || true; pg_schema_drop "$schema"; cleanup' EXIT

say "openapi-python-client in $venv"
pypi_venv "$venv" "$src/test/e2e/apiserver_client_requirements.txt"
"$venv/bin/openapi-python-client" --version

say "generate the client from api/openapi.json"
gen="$logdir/gen"
mkdir -p "$gen"
# ruff (a dependency of the generator) formats the output; it lives in the venv
if ! PATH="$venv/bin:$PATH" "$venv/bin/openapi-python-client" generate --path "$src/api/openapi.json" \
  --meta none --output-path "$gen/clawplane_apiserver_client" --fail-on-warning >"$logdir/gen.log" 2>&1; then
  cat "$logdir/gen.log" >&2
  fail "openapi-python-client reported warnings or errors on api/openapi.json (above)"
fi
ok "openapi-python-client generates a client with no warning"

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
ok "apiserver up on :$port"

say "drive the apiserver with the generated client"
"$venv/bin/python" "$src/test/e2e/apiserver_client.py" "$gen" "$base" "$admin_pw" ||
  fail "the generated client failed (above); apiserver log: $(tail -20 "$log")"
[ "$(jp ur/alice '{.spec.state}')" = Stopped ] || fail "UserRuntime alice: $(jp ur/alice '{.spec}')"
ok "the generated client drove login, users, runtime start/stop and tokens; ur/alice is Stopped"

kill "$api_pid"
wait "$api_pid" || fail "apiserver exit status $?"
api_pid=
ok "apiserver exits 0"
