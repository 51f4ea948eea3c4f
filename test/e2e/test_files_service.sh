#!/usr/bin/env bash
# clawplane-files as a user of its API sees it, with curl against the real binary on a
# temporary workspace (no cluster needed): the credential is required; list, stat, mkdir,
# move and delete answer with the contract's statuses and messages; a 1 GiB upload and
# download keep the server's peak RSS flat (figures printed: peak RSS, MB/s against cp of
# the same data on the same disk); Range answers 206/416; a cut upload leaves nothing; a
# folder downloaded as tar extracts to the same tree; a symlink to /etc is listed but never
# followed; an upload racing a delete of the same path ends whole or absent; SIGTERM stops
# it cleanly.
set -uo pipefail
src=${CP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${CP_BUILD_DIR:-$src/build/default}
bin=$build/bin/clawplane-files
[ -x "$bin" ] || { echo "FAIL: $bin not built"; exit 1; }
RSS_LIMIT_KB=${CP_FILES_RSS_LIMIT_KB:-32768}
# Sanitizer builds carry shadow memory: the RSS figure is printed, the bound is loose.
grep -q '^CLAWPLANE_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null &&
  RSS_LIMIT_KB=${CP_FILES_RSS_LIMIT_KB:-1048576}
BIG_MB=${CP_FILES_BIG_MB:-1024}

work=$(mktemp -d /tmp/cp-e2e-files-XXXXXX)
ws=$work/ws
mkdir -p "$ws"
pid=
bg=()
cleanup() {
  for p in "${bg[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
  echo "FAIL: $*"
  [ -f "$work/log" ] && tail -20 "$work/log"
  exit 1
}
ok() { echo "ok: $*"; }

token=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$token" >"$work/token"

# --- start-up refusals ------------------------------------------------------------------
out=$(CLAWPLANE_FILES_TOKEN=short timeout 5 "$bin" --root "$ws" --listen 127.0.0.1:0 2>&1)
[ $? -ne 0 ] && grep -q "shorter than 32 bytes" <<<"$out" || fail "short token accepted: $out"
out=$(timeout 5 "$bin" --root "$ws/missing" --token-file "$work/token" --listen 127.0.0.1:0 2>&1)
[ $? -ne 0 ] && grep -q "existing directory" <<<"$out" || fail "missing root accepted: $out"
timeout 5 "$bin" --version | grep -q '^clawplane-files ' || fail "--version"
ok "refuses to start without a proper credential or root"

timeout 900 "$bin" --root "$ws" --listen 127.0.0.1:0 --token-file "$work/token" \
  --max-upload-bytes 0 >"$work/log" 2>&1 &
pid=$!
port=
for _ in $(seq 100); do
  port=$(grep -o '"port":"[0-9]*"' "$work/log" 2>/dev/null | grep -o '[0-9]\+' || true)
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "$port" ] || fail "server did not start"
srv=$(pgrep -P "$pid" -x clawplane-files) || fail "no server process under $pid"
base=http://127.0.0.1:$port
U=$base/v1/files
A="Authorization: Bearer $token"
curl -sf -m 5 "$base/healthz" >/dev/null && curl -sf -m 5 "$base/readyz" >/dev/null ||
  fail "health endpoints"
ok "serving on :$port"

# req METHOD URL [curl args...]: sets code, body, hdrs.
req() {
  local m=$1 u=$2
  shift 2
  code=$(curl -s -m 60 --path-as-is -o "$work/body" -D "$work/hdrs" -w '%{http_code}' -X "$m" \
    -H "$A" "$@" "$u" || true)
  body=$(tr -d '\0' <"$work/body" 2>/dev/null || true)
  hdrs=$(tr -d '\r' <"$work/hdrs" 2>/dev/null || true)
}
hdr() { grep -i "^$1:" <<<"$hdrs" | head -1 | cut -d' ' -f2- || true; }
# expect CODE MESSAGE-REGEX: the last answer had this status and a JSON error matching.
expect() {
  [ "$code" = "$1" ] || fail "want $1, got $code: $body"
  jq -e --argjson c "$1" --arg m "$2" '.error.code == $c and (.error.message | test($m))' \
    <<<"$body" >/dev/null || fail "want error $1 /$2/, got: $body"
}
vmhwm() { awk '/^VmHWM/ {print $2}' "/proc/$srv/status"; }

# --- authentication ---------------------------------------------------------------------
code=$(curl -s -m 5 -o "$work/body" -w '%{http_code}' "$U/")
body=$(cat "$work/body")
expect 401 "credentials"
code=$(curl -s -m 5 -o "$work/body" -w '%{http_code}' -H "Authorization: Bearer ${token%?}x" "$U/")
body=$(cat "$work/body")
expect 401 "credentials"
code=$(curl -s -m 5 -o "$work/body" -w '%{http_code}' -T /etc/hostname "$U/sneaky.txt")
body=$(cat "$work/body")
expect 401 "credentials"
[ ! -e "$ws/sneaky.txt" ] || fail "an unauthenticated upload landed"
ok "no or a wrong credential: 401 and nothing written"

# --- list, stat, mkdir, move, delete ------------------------------------------------------
req POST "$U/docs" -d '{"action":"mkdir"}'
[ "$code" = 201 ] && jq -e '.path == "docs" and .type == "dir"' <<<"$body" >/dev/null ||
  fail "mkdir: $code $body"
req POST "$U/docs" -d '{"action":"mkdir"}'
expect 409 "'docs' already exists"
req POST "$U/no/such/dir" -d '{"action":"mkdir"}'
expect 409 "parent directory of 'no/such/dir' does not exist"
printf 'hello world\n' >"$work/hello"
req PUT "$U/docs/hello.txt" -T "$work/hello"
[ "$code" = 201 ] && jq -e '.size == 12 and .type == "file"' <<<"$body" >/dev/null ||
  fail "upload: $code $body"
req PUT "$U/docs/hello.txt" -T "$work/hello"
expect 409 "'docs/hello.txt' already exists; add \\?overwrite=true"
req PUT "$U/docs/hello.txt?overwrite=true" -T "$work/hello"
[ "$code" = 200 ] || fail "overwrite: $code $body"
req PUT "$U/nodir/x.txt" -T "$work/hello"
expect 409 "parent directory 'nodir' does not exist"
req PUT "$U/docs" -T "$work/hello"
expect 409 "'docs' is a directory"
for i in 1 2 3 4 5; do req PUT "$U/docs/f$i.txt" -T "$work/hello"; done
req GET "$U/docs?limit=2"
[ "$code" = 200 ] || fail "list: $code $body"
[ "$(jq -r '[.entries[].name] | join(",")' <<<"$body")" = "f1.txt,f2.txt" ] || fail "page 1: $body"
cont=$(jq -r '.continue' <<<"$body")
req GET "$U/docs?limit=10&continue=$cont"
[ "$(jq -r '[.entries[].name] | join(",")' <<<"$body")" = "f3.txt,f4.txt,f5.txt,hello.txt" ] &&
  jq -e 'has("continue") | not' <<<"$body" >/dev/null || fail "page 2: $body"
req GET "$U/docs?limit=0"
expect 400 "limit"
req GET "$U/docs/hello.txt?stat=true"
jq -e '.path == "docs/hello.txt" and .size == 12 and .mode == "0644" and
  (.modified | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$"))' <<<"$body" >/dev/null ||
  fail "stat: $body"
req GET "$U/docs/missing.txt"
expect 404 "no such file or directory: 'docs/missing.txt'"
req POST "$U/docs/f1.txt" -d '{"action":"move","to":"docs/f2.txt"}'
expect 409 "'docs/f2.txt' already exists"
req POST "$U/docs/f1.txt" -d '{"action":"move","to":"moved/f1.txt"}'
expect 409 "parent directory of 'moved/f1.txt' does not exist"
req POST "$U/docs/f1.txt" -d '{"action":"move","to":"../f1.txt"}'
expect 400 "invalid \"to\""
req POST "$U/docs/f1.txt" -d '{"action":"move","to":"f1-moved.txt"}'
[ "$code" = 200 ] && [ -f "$ws/f1-moved.txt" ] && [ ! -e "$ws/docs/f1.txt" ] || fail "move: $code $body"
req POST "$U/docs/f2.txt" -d '{"action":"move","to":"f1-moved.txt","overwrite":true}'
[ "$code" = 200 ] || fail "move with overwrite: $code $body"
req POST "$U/docs" -d '{"action":"chmod"}'
expect 400 "unknown action"
req POST "$U/docs" -d 'not json'
expect 400 "body must be JSON"
req DELETE "$U/docs"
expect 409 "not empty; add \\?recursive=true"
req DELETE "$U/"
expect 400 "root cannot be deleted"
req DELETE "$U/docs?recursive=true"
[ "$code" = 204 ] && [ ! -e "$ws/docs" ] || fail "recursive delete: $code $body"
req DELETE "$U/docs"
expect 404 "'docs'"
req PATCH "$U/x"
[ "$code" = 405 ] && [ "$(hdr Allow)" = "GET, HEAD, PUT, POST, DELETE" ] || fail "405: $code $hdrs"
ok "list (paged), stat, mkdir, move, delete with their 400/404/405/409 answers"

# --- refused paths ------------------------------------------------------------------------
for p in "/../etc/passwd" "/a/%2e%2e/b" "/a%ff" "/a%01b" "/a//b" "/a%2Fb" "/%zz"; do
  req GET "$U$p"
  expect 400 "invalid path"
done
ok "'..', bad UTF-8, control characters, '//' and bad escapes: 400"

# --- limits -----------------------------------------------------------------------------
head -c 5000 /dev/urandom >"$work/5k"
req PUT "$U/capped.bin" -H "X-Clawplane-Max-Bytes: 1000" -T "$work/5k"
expect 413 "5000 bytes is larger than the limit of 1000 bytes"
req PUT "$U/capped.bin" -H "X-Clawplane-Max-Bytes: 1000" -H "Transfer-Encoding: chunked" \
  -T "$work/5k"
expect 413 "larger than the limit of 1000 bytes"
[ ! -e "$ws/capped.bin" ] || fail "an upload over the cap landed"
free_kb=$(df -Pk "$ws" | awk 'NR==2 {print $4}')
req PUT "$U/huge.bin" -H "Content-Length: $(((free_kb + 1048576) * 1024))" -H "Expect:" \
  --data-binary @/dev/null
expect 507 "not enough space"
ok "over the cap: 413 (known length and chunked); over the free space: 507"

# --- a symlink planted in the workspace ---------------------------------------------------
ln -s /etc "$ws/etc-link"
ln -s /etc/passwd "$ws/passwd-link"
req GET "$U/"
jq -e '.entries[] | select(.name == "etc-link") | .type == "symlink" and .target == "/etc"' \
  <<<"$body" >/dev/null || fail "symlink not listed: $body"
for p in etc-link/passwd passwd-link etc-link; do
  req GET "$U/$p"
  [ "$code" = 400 ] || [ "$code" = 404 ] || fail "GET $p through a link out: $code"
  ! grep -q "root:" "$work/body" || fail "/etc content served through $p"
done
req GET "$U/etc-link?archive=tar"
! grep -aq "root:" "$work/body" || fail "/etc content archived"
req PUT "$U/etc-link/evil" -T "$work/hello"
[ "$code" = 400 ] || [ "$code" = 404 ] || [ "$code" = 409 ] || fail "PUT through link: $code"
[ ! -e /etc/evil ] || fail "wrote into /etc"
rm "$ws/etc-link" "$ws/passwd-link"
ok "a symlink to /etc is listed, never followed (GET $code)"

# --- Range ------------------------------------------------------------------------------
head -c 1048576 /dev/urandom >"$work/1m"
req PUT "$U/r.bin" -T "$work/1m"
req GET "$U/r.bin" -H "Range: bytes=1000-1999"
[ "$code" = 206 ] && [ "$(hdr Content-Range)" = "bytes 1000-1999/1048576" ] ||
  fail "range: $code $hdrs"
cmp -s "$work/body" <(tail -c +1001 "$work/1m" | head -c 1000) || fail "range bytes differ"
req GET "$U/r.bin" -H "Range: bytes=-10"
[ "$code" = 206 ] && cmp -s "$work/body" <(tail -c 10 "$work/1m") || fail "suffix range"
req GET "$U/r.bin" -H "Range: bytes=2000000-"
[ "$code" = 416 ] && [ "$(hdr Content-Range)" = "bytes */1048576" ] || fail "416: $code $hdrs"
etag=$(curl -s -m 5 -I -H "$A" "$U/r.bin" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag" {print $2}')
req GET "$U/r.bin" -H "If-None-Match: $etag"
[ "$code" = 304 ] || fail "If-None-Match: $code"
req HEAD "$U/r.bin" -I
[ "$(hdr Content-Length)" = 1048576 ] && [ "$(hdr Accept-Ranges)" = bytes ] || fail "HEAD: $hdrs"
ok "Range: 206 with Content-Range and the right bytes, 416, 304, HEAD"

# --- 1 GiB up and down --------------------------------------------------------------------
rss0=$(vmhwm)
t0=$(date +%s.%N)
code=$(head -c $((BIG_MB << 20)) /dev/urandom | tee >(sha256sum | cut -d' ' -f1 >"$work/sum.up") |
  timeout 300 curl -s -m 300 -o "$work/body" -w '%{http_code}' -H "$A" -T - "$U/big.bin")
t1=$(date +%s.%N)
sleep 0.5 # tee's sha256sum finishes writing
[ "$code" = 201 ] || fail "1 GiB upload: $code $(cat "$work/body")"
[ "$(sha256sum "$ws/big.bin" | cut -d' ' -f1)" = "$(cat "$work/sum.up")" ] ||
  fail "uploaded bytes differ"
rss_up=$(vmhwm)
t2=$(date +%s.%N)
down=$(timeout 300 curl -s -m 300 -H "$A" "$U/big.bin" | sha256sum | cut -d' ' -f1)
t3=$(date +%s.%N)
[ "$down" = "$(cat "$work/sum.up")" ] || fail "downloaded bytes differ"
rss_down=$(vmhwm)
t7=$(date +%s.%N)
timeout 300 curl -s -m 300 -o /dev/null -H "$A" "$U/big.bin" || fail "download to /dev/null"
t8=$(date +%s.%N)
# Upload from disk (not from the generator) to compare with cp reading and writing the
# same disk; both end with the data on disk (fsync for the upload, sync for cp).
t4=$(date +%s.%N)
code=$(timeout 300 curl -s -m 300 -o /dev/null -w '%{http_code}' -H "$A" -T "$ws/big.bin" \
  "$U/big2.bin")
t5=$(date +%s.%N)
[ "$code" = 201 ] || fail "upload from disk: $code"
cp "$ws/big.bin" "$work/cp.bin" && sync "$work/cp.bin"
t6=$(date +%s.%N)
rss_all=$(vmhwm)
mbps() { awk -v mb="$BIG_MB" -v a="$1" -v b="$2" 'BEGIN {printf "%.0f", mb * 1.048576 / (b - a)}'; }
echo "figure: peak RSS (VmHWM) before ${rss0} KiB, after ${BIG_MB} MiB upload ${rss_up} KiB," \
  "after download ${rss_down} KiB, after all ${rss_all} KiB"
echo "figure: upload from urandom $(mbps "$t0" "$t1") MB/s; download to sha256sum" \
  "$(mbps "$t2" "$t3") MB/s, to /dev/null $(mbps "$t7" "$t8") MB/s; upload from disk $(mbps "$t4" "$t5") MB/s; cp+sync $(mbps "$t5" "$t6") MB/s"
[ "$rss_all" -lt "$RSS_LIMIT_KB" ] || fail "peak RSS ${rss_all} KiB over ${RSS_LIMIT_KB} KiB"
rm -f "$ws/big2.bin" "$work/cp.bin"
ok "${BIG_MB} MiB up and down with matching sha256, peak RSS ${rss_all} KiB"

# --- a cut upload leaves nothing ------------------------------------------------------------
(
  head -c $((64 << 20)) /dev/urandom
  sleep 20
) | timeout 30 curl -s -m 30 -o /dev/null -H "$A" -T - "$U/cut.bin" &
cpid=$!
bg+=("$cpid")
for _ in $(seq 100); do
  n=$(curl -s -m 5 "$base/metrics" | awk '/^clawplane_files_bytes_total\{direction="upload"\}/ {print $2}')
  [ "${n%.*}" -gt $(((BIG_MB << 21) + 8 * 1048576)) ] 2>/dev/null && break
  sleep 0.1
done
kill "$cpid" 2>/dev/null
wait "$cpid" 2>/dev/null
for _ in $(seq 50); do
  active=$(curl -s -m 5 "$base/metrics" | awk '/^clawplane_files_transfers_active/ {print $2}')
  [ "$active" = 0 ] && break
  sleep 0.1
done
[ "$active" = 0 ] || fail "the cut upload is still counted: $active"
[ ! -e "$ws/cut.bin" ] || fail "a cut upload left cut.bin"
! grep -q '^\.clawplane-upload-' <<<"$(ls -A "$ws")" || fail "a cut upload left a temporary file"
ok "a cut upload leaves neither the file nor a temporary one"

# --- tar ------------------------------------------------------------------------------------
mkdir -p "$ws/proj/src/deep/er" "$ws/proj/empty"
printf 'main\n' >"$ws/proj/src/main.c"
head -c 300000 /dev/urandom >"$ws/proj/src/deep/er/blob.bin"
long=$(printf 'n%.0s' $(seq 140))
printf 'long\n' >"$ws/proj/src/deep/$long.txt"
ln -s ../main.c "$ws/proj/src/deep/link"
req GET "$U/proj?archive=tar"
[ "$code" = 200 ] && [ "$(hdr Content-Type)" = application/x-tar ] &&
  grep -q "filename\*=UTF-8''proj.tar" <<<"$(hdr Content-Disposition)" || fail "archive: $code $hdrs"
mkdir "$work/x"
tar -C "$work/x" -xf "$work/body" || fail "tar -x refused the archive"
diff -r --no-dereference "$ws/proj" "$work/x/proj" || fail "the extracted tree differs"
ok "?archive=tar extracts with tar -x to the same tree (long names, symlinks, empty dirs)"

# --- an upload racing a delete of the same path -------------------------------------------
head -c $((200 << 20)) /dev/urandom >"$work/200m"
sum200=$(sha256sum "$work/200m" | cut -d' ' -f1)
for round in 1 2 3; do
  timeout 60 curl -s -m 60 -o "$work/race.out" -w '%{http_code}' -H "$A" -T "$work/200m" \
    "$U/race.bin?overwrite=true" >"$work/race.code" &
  upid=$!
  bg+=("$upid")
  while kill -0 "$upid" 2>/dev/null; do
    curl -s -m 5 -o /dev/null -X DELETE -H "$A" "$U/race.bin"
    sleep 0.02
  done
  wait "$upid"
  [ "$(cat "$work/race.code")" = 201 ] || [ "$(cat "$work/race.code")" = 200 ] ||
    fail "racing upload: $(cat "$work/race.code") $(cat "$work/race.out")"
  if [ -e "$ws/race.bin" ]; then
    [ "$(sha256sum "$ws/race.bin" | cut -d' ' -f1)" = "$sum200" ] || fail "a partial race.bin"
    state=whole
  else
    state=absent
  fi
  ! grep -q '^\.clawplane-upload-' <<<"$(ls -A "$ws")" || fail "temporary file left by the race"
  echo "  round $round: race.bin $state"
done
ok "upload racing deletes: the file ends whole or absent, never partial"

# --- metrics and SIGTERM ------------------------------------------------------------------
grep -q '^clawplane_files_requests_total{operation="upload"}' <<<"$(curl -s -m 5 "$base/metrics")" ||
  fail "metrics"
kill -TERM "$srv"
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "still running 10 s after SIGTERM"
wait "$pid"
rc=$?
pid=
[ "$rc" = 0 ] || fail "exit code $rc after SIGTERM"
ok "SIGTERM: exits 0"
echo "PASS"
