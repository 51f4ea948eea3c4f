#!/usr/bin/env bash
# The web dashboard in a real browser: Debian's Chromium, driven by playwright-core
# (test/browser, pinned by its package-lock.json and installed by hack/setup), against a
# real apiserver on PostgreSQL (a schema of its own) and the local control plane with a
# controller. The checks are in test/browser/dashboard.test.mjs; screenshots of every
# page at 360 and 1280 px go to $CP_BUILD_DIR/test/browser-screenshots.
E2E_NAME=dash
. "$(dirname "$0")/lib/controller.sh"
. "$(dirname "$0")/lib/apiserver.sh"

api_bin="$build/bin/clawplane-apiserver"
schema=e2e_dash_$suffix
admin_pw="admin-password-$suffix"
api_pid=
chromium=${CHROMIUM:-/usr/bin/chromium}
browser_dir="$src/test/browser"

dash_cleanup() {
  [ -n "$api_pid" ] && kill "$api_pid" 2>/dev/null || true
  pg_schema_drop "$schema"
}
trap 'dash_cleanup; cleanup' EXIT

[ -x "$chromium" ] || fail "no Chromium at $chromium: run hack/setup (Debian package chromium)"
[ -d "$browser_dir/node_modules/playwright-core" ] ||
  fail "test/browser/node_modules is missing: run hack/setup (npm ci in test/browser)"

db_url=$(pg_schema "$schema") || fail "PostgreSQL did not come up"
setup_namespace
apply_profile "$profile"
start_controller controller
log="$logdir/apiserver.log"
CLAWPLANE_BOOTSTRAP_ADMIN=root CLAWPLANE_BOOTSTRAP_PASSWORD="$admin_pw" \
  timeout 900 "$api_bin" --listen 127.0.0.1:0 --database-url "$db_url" --runtime-namespace "$ns" \
  --default-profile "$profile" --password-cost 10 --session-cache-seconds 0 \
  --controller-lease "$ns/ctl-$suffix" --login-attempts-per-client 10000 >"$log" 2>&1 &
api_pid=$!
port=$(api_start_port "$log" "$api_pid") || fail "apiserver did not start: $(tail -5 "$log")"
api_ready "http://127.0.0.1:$port" || fail "apiserver not ready"
# localhost, not 127.0.0.1: the session cookie is Secure, which browsers accept over plain
# HTTP only from localhost.
url="http://localhost:$port"
say "apiserver on $url, namespace $ns"

# usage_records belongs to the model proxy's migrations; this schema gets the same table.
"$src/hack/local-postgres" exec psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL || fail "cannot create usage_records"
CREATE TABLE $schema.usage_records (id bigserial PRIMARY KEY, username text NOT NULL,
  runtime text NOT NULL DEFAULT '', model text NOT NULL, prompt_tokens bigint NOT NULL DEFAULT 0,
  completion_tokens bigint NOT NULL DEFAULT 0, cost_microusd bigint NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(), request_id text UNIQUE);
SQL

say "the dashboard served: gzip when asked, ETag revalidation"
hdrs=$(curl -s -D - -o /dev/null -H 'Accept-Encoding: gzip' "$url/")
grep -qi '^content-encoding: gzip' <<<"$hdrs" || fail "/ not gzipped: $hdrs"
grep -qi '^vary: Accept-Encoding' <<<"$hdrs" || fail "/ has no Vary: $hdrs"
etag=$(sed -n 's/^[Ee][Tt]ag: //p' <<<"$hdrs" | tr -d '\r')
code=$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$url/")
[ "$code" = 304 ] || fail "If-None-Match $etag: want 304, got $code"
plain=$(curl -s -D - -o /dev/null "$url/")
! grep -qi '^content-encoding' <<<"$plain" || fail "gzip sent to a client that did not ask: $plain"
code=$(curl -s -o /dev/null -w '%{http_code}' "$url/assets/app.0000000000.js")
[ "$code" = 404 ] || fail "an unknown asset: want 404, got $code"
ok "/ gzipped only when asked, with Vary and an ETag (304 on revalidation); unknown assets 404"

say "cross-site requests with the session cookie are refused"
cookie=$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' \
  --data "{\"username\":\"root\",\"password\":\"$admin_pw\"}" "$url/api/v1/auth/login" |
  sed -n 's/^[Ss]et-[Cc]ookie: \(clawplane_session=[^;]*\).*/\1/p')
[ -n "$cookie" ] || fail "login set no cookie"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Cookie: $cookie" \
  -H 'Sec-Fetch-Site: cross-site' "$url/api/v1/users/root/runtime/stop")
[ "$code" = 403 ] || fail "cross-site POST with the cookie: want 403, got $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Cookie: $cookie" \
  -H 'Origin: https://evil.example' "$url/api/v1/auth/logout")
[ "$code" = 403 ] || fail "POST from another Origin with the cookie: want 403, got $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Cookie: $cookie" \
  -H 'Sec-Fetch-Site: same-origin' "$url/api/v1/auth/logout")
[ "$code" = 200 ] || fail "same-origin POST with the cookie: want 200, got $code"
ok "state-changing calls riding on the cookie from another site are 403; same-origin ones pass"

say "Chromium: the user and admin journeys (test/browser/dashboard.test.mjs)"
shots="$build/test/browser-screenshots"
rm -rf "$shots"
DASH_URL="$url" DASH_ADMIN=root DASH_ADMIN_PASSWORD="$admin_pw" DASH_DATABASE_URL="$db_url" \
  DASH_SCREENSHOTS="$shots" CHROMIUM="$chromium" \
  timeout 600 node "$browser_dir/dashboard.test.mjs" || fail "browser tests failed (apiserver log: $(tail -20 "$log"))"
n=$(find "$shots" -name '*.png' | wc -l)
[ "$n" -ge 20 ] || fail "expected screenshots of every page at two widths, found $n"
ok "$n screenshots in $shots"
still_alive "$api_pid"
