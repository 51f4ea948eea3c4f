#!/usr/bin/env bash
# The file API end to end, every part a real program: the local control plane, PostgreSQL,
# clawplane-apiserver and clawplane-controller with the file service on, the model proxy
# in front of a local upstream, and the runtime host running the runtime pod for real:
# OpenClaw under Node 24 and the clawplane-files sidecar beside it on the same volume.
#
# As a user would see it, through the apiserver with curl (and clawctl): the workspace is
# reachable only through the apiserver (the sidecar refuses a request without its token);
# upload, list, stat, download with Range, mkdir, move, delete; a file OpenClaw wrote in
# its workspace is listed; 1 GiB goes up and comes back with the apiserver's and the
# sidecar's memory flat (peak RSS reported); bob gets 403 on alice's files, an admin 404
# for a user who does not exist; the profile's quota refuses an upload that does not fit;
# an upload racing a delete of the same path leaves either nothing or the whole file;
# every write is in the audit log; the dashboard's files page does the same in Chromium
# (test/browser/files.test.mjs); a stopped runtime answers 409 saying how to start it,
# and an apiserver without the files key 501.
#
# Private instances throughout (runtime host node, addresses, schema), so this runs beside
# the other suites; it takes turns with the other OpenClaw suites (RESOURCE_LOCK).
E2E_NAME=fa
. "$(dirname "$0")/lib/controller.sh"
. "$src/test/e2e/lib/apiserver.sh"
. "$src/test/e2e/lib/files.sh"

expect 404 "files of a user without a runtime" "${A[@]}" "$F/"
grep -q "clawctl start" "$logdir/body" || fa_fail "the 404 does not say how to start: $(body)"
ok "no runtime yet: 404 naming clawctl start"

say "alice starts her runtime: OpenClaw and the file sidecar run on the runtime host"
files_start_alice
[ "$(jp pod/alice '{.spec.containers[?(@.name=="files")].image}')" = "$files_image" ] ||
  fa_fail "the pod has no files sidecar"
[ "$(jp svc/alice '{.spec.ports[?(@.name=="files")].port}')" = 8090 ] || fa_fail "no files port on the Service"
[ "$(jp networkpolicy/alice '{.spec.ingress[1].ports[0].port}')" = 8090 ] || fa_fail "no NetworkPolicy rule for 8090"
uid=$(jp ur/alice '{.metadata.uid}')
want=$(printf '%s/alice/%s' "$ns" "$uid" | openssl dgst -sha256 -hmac "$(cat "$keyfile")" | awk '{print $NF}')
got=$(jp secret/alice-files '{.data.token}' | base64 -d)
[ "$got" = "$want" ] || fa_fail "Secret alice-files does not hold HMAC(key, ns/name/uid)"
end=$((SECONDS + 120))
until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$pod_ip:8090/readyz")" = 200 ]; do
  [ $SECONDS -lt $end ] || fa_fail "the sidecar at $pod_ip:8090 is not ready"
  sleep 1
done
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$pod_ip:8090/v1/files/")" = 401 ] ||
  fa_fail "the sidecar answered without a token"
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $alice_tok" "http://$pod_ip:8090/v1/files/")" = 401 ] ||
  fa_fail "the sidecar took a session token"
ok "Ready: sidecar files on 8090 (Service port, NetworkPolicy rule), token = HMAC of ns/name/uid; the sidecar refuses anyone else (401)"

say "upload, list, stat, download with Range, mkdir, move, delete"
printf 'hello from alice\n' >"$logdir/hello.txt"
expect 201 "upload" "${A[@]}" -T "$logdir/hello.txt" "$F/hello.txt"
expect 409 "upload over an existing file" "${A[@]}" -T "$logdir/hello.txt" "$F/hello.txt"
expect 200 "overwrite" "${A[@]}" -T "$logdir/hello.txt" "$F/hello.txt?overwrite=true"
expect 200 "list" "${A[@]}" "$F/"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); e={x["name"]:x for x in d["entries"]}; assert e["hello.txt"]["size"]==17, d' "$logdir/body" ||
  fa_fail "hello.txt not listed with its size: $(body)"
expect 200 "download" "${A[@]}" "$F/hello.txt"
cmp -s "$logdir/body" "$logdir/hello.txt" || fa_fail "downloaded bytes differ"
expect 206 "range" "${A[@]}" -H 'Range: bytes=6-9' "$F/hello.txt"
[ "$(body)" = from ] || fa_fail "Range 6-9 gave '$(body)'"
expect 200 "stat" "${A[@]}" "$F/hello.txt?stat=true"
grep -q '"type":"file"' "$logdir/body" || fa_fail "stat: $(body)"
expect 201 "mkdir" "${A[@]}" -X POST -H 'Content-Type: application/json' --data '{"action":"mkdir"}' "$F/docs"
expect 200 "move" "${A[@]}" -X POST -H 'Content-Type: application/json' \
  --data '{"action":"move","to":"docs/hello.txt"}' "$F/hello.txt"
expect 404 "moved away" "${A[@]}" "$F/hello.txt"
expect 200 "moved here" "${A[@]}" "$F/docs/hello.txt"
expect 400 "a dot-dot path" "${A[@]}" --path-as-is "$F/docs/../../etc/passwd"
expect 409 "delete a full directory" "${A[@]}" -X DELETE "$F/docs"
expect 204 "delete recursively" "${A[@]}" -X DELETE "$F/docs?recursive=true"
ok "upload 201 (409 again, 200 with overwrite), list, download, Range 206, stat, mkdir, move, dot-dot 400, delete 409 then 204"

say "tenancy: bob cannot reach alice's files"
expect 403 "bob lists alice's files" "${B[@]}" "$F/"
expect 403 "bob uploads into alice's files" "${B[@]}" -T "$logdir/hello.txt" "$F/evil.txt"
expect 401 "no credentials" "$F/"
expect 404 "admin names a user who does not exist" "${R[@]}" "$api/api/v1/users/nosuch-$suffix/files/"
expect 404 "bob has no runtime" "${B[@]}" "$api/api/v1/users/me/files/"
expect 200 "admin lists alice's files" "${R[@]}" "$F/"
ok "bob 403 on alice's files (read and write), no credentials 401, unknown user 404, admin allowed"

say "a file OpenClaw wrote in its workspace is listed"
# One agent turn (the local model echoes) makes OpenClaw lay out its workspace.
curl -s --max-time 120 --interface "$node_ip" -H 'X-Clawplane-User: alice' \
  -H "X-Forwarded-For: $client_ip" -H 'Content-Type: application/json' -o "$logdir/chat.json" \
  --data '{"model":"openclaw","user":"e2e","messages":[{"role":"user","content":"hello"}]}' \
  "http://$pod_ip:18789/v1/chat/completions" || true
end=$((SECONDS + 60))
until code "${A[@]}" "$F/" >/dev/null && grep -q '"AGENTS.md"' "$logdir/body"; do
  [ $SECONDS -lt $end ] || fa_fail "no AGENTS.md from OpenClaw in the workspace: $(body); chat: $(head -c 300 "$logdir/chat.json")"
  sleep 2
done
expect 200 "OpenClaw's AGENTS.md" "${A[@]}" "$F/AGENTS.md"
[ -s "$logdir/body" ] || fa_fail "AGENTS.md is empty"
pv=$(kubectl -n "$ns" get pvc alice-state -o jsonpath='{.spec.volumeName}')
state=$(kubectl get pv "$pv" -o jsonpath='{.spec.hostPath.path}')
[ "$(stat -c %u "$state/workspace/AGENTS.md")" = 1000 ] || fa_fail "AGENTS.md is not the agent's (uid 1000)"
ok "AGENTS.md, written by OpenClaw (uid 1000) in /data/workspace, is listed and downloads"

say "1 GiB up and down through the apiserver, memory flat"
big=$logdir/big.bin
truncate -s 1G "$big"
printf 'head-marker' | dd of="$big" conv=notrunc status=none
printf 'tail-marker' | dd of="$big" bs=1 seek=$((1024 * 1024 * 1024 - 11)) conv=notrunc status=none
files_pid=$(files_sidecar_pid "$want") || fa_fail "cannot find the sidecar's process"
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
api_before=$(rss "$api_pid") files_before=$(rss "$files_pid")
t0=$(date +%s.%N)
up=$(curl -s -o "$logdir/up.json" -w '%{http_code} %{speed_upload}' "${A[@]}" -T "$big" "$F/big.bin")
t1=$(date +%s.%N)
[ "${up%% *}" = 201 ] || fa_fail "1 GiB upload: $up $(head -c 300 "$logdir/up.json")"
dn=$(curl -s -o "$logdir/down.bin" -w '%{http_code} %{speed_download}' "${A[@]}" "$F/big.bin")
[ "${dn%% *}" = 200 ] || fa_fail "1 GiB download: $dn"
cmp -s "$big" "$logdir/down.bin" || fa_fail "the 1 GiB came back different"
rm -f "$logdir/down.bin"
expect 206 "range at the end of 1 GiB" "${A[@]}" -H 'Range: bytes=-11' "$F/big.bin"
[ "$(body)" = tail-marker ] || fa_fail "suffix range: $(body)"
api_peak=$(hwm "$api_pid") files_peak=$(hwm "$files_pid")
echo "figures: 1 GiB upload $(awk -v s="${up#* }" 'BEGIN{printf "%.0f", s/1048576}') MB/s, download $(awk -v s="${dn#* }" 'BEGIN{printf "%.0f", s/1048576}') MB/s through the apiserver"
echo "figures: peak RSS apiserver ${api_peak} KiB (was ${api_before} KiB before), sidecar ${files_peak} KiB (was ${files_before} KiB)"
# Flat: under 32 MiB of growth. A sanitizer build holds freed memory in quarantine (256 MiB
# by default), so there the bound only catches whole-file buffering.
limit=32768
# (ldd's whole output first: with pipefail, grep -q quitting early can fail the pipeline)
case "$(ldd "$build/bin/clawplane-apiserver" 2>/dev/null)" in *libasan*) limit=$((640 * 1024)) ;; esac
[ "$api_peak" -lt $((api_before + limit)) ] || fa_fail "the apiserver grew by $((api_peak - api_before)) KiB for 1 GiB"
[ "$files_peak" -lt $((files_before + limit)) ] || fa_fail "the sidecar grew by $((files_peak - files_before)) KiB for 1 GiB"
ok "1 GiB up (201) and down (byte-identical), suffix Range; peak RSS apiserver ${api_peak} KiB, sidecar ${files_peak} KiB"
expect 204 "delete the big file" "${A[@]}" -X DELETE "$F/big.bin"
rm -f "$big"

say "an upload racing a delete of the same path: nothing half-written"
head -c $((64 * 1024 * 1024)) /dev/urandom >"$logdir/race.bin"
curl -s -o "$logdir/race.json" -w '%{http_code}' --limit-rate 16M "${A[@]}" -T "$logdir/race.bin" \
  "$F/race.bin" >"$logdir/race.code" &
race_pid=$!
dels=()
while kill -0 "$race_pid" 2>/dev/null; do
  dels+=("$(curl -s -o /dev/null -w '%{http_code}' "${A[@]}" -X DELETE "$F/race.bin")")
  sleep 0.3
done
wait "$race_pid" || true
[ "$(cat "$logdir/race.code")" = 201 ] || fa_fail "the racing upload: $(cat "$logdir/race.code") $(head -c 300 "$logdir/race.json")"
for d in "${dels[@]}"; do [ "$d" = 404 ] || [ "$d" = 204 ] || fa_fail "a racing delete answered $d"; done
case " ${dels[*]} " in *" 204 "*) ok_state=deleted ;; *) ok_state=present ;; esac
if [ "$(code "${A[@]}" "$F/race.bin")" = 200 ]; then
  cmp -s "$logdir/body" "$logdir/race.bin" || fa_fail "race.bin is present but not whole"
  ok_state=whole
fi
ok "${#dels[@]} deletes during a 64 MiB upload answered 404/204 only; afterwards the file is $ok_state, never partial"
code "${A[@]}" -X DELETE "$F/race.bin" >/dev/null

say "quota from the profile"
kubectl patch runtimeprofile "$profile" --type=merge -p '{"spec":{"files":{"quota":"10Mi"}}}' >/dev/null
head -c $((6 * 1024 * 1024)) /dev/urandom >"$logdir/six.bin"
expect 201 "6 MiB under a 10 MiB quota" "${A[@]}" -T "$logdir/six.bin" "$F/six-a.bin"
expect 507 "another 6 MiB" "${A[@]}" -T "$logdir/six.bin" "$F/six-b.bin"
grep -q "quota" "$logdir/body" || fa_fail "the 507 does not name the quota: $(body)"
expect 413 "another 6 MiB, chunked (no length known up front)" "${A[@]}" -H 'Transfer-Encoding: chunked' \
  -T - "$F/six-c.bin" <"$logdir/six.bin"
expect 404 "the refused uploads left nothing" "${A[@]}" "$F/six-b.bin"
expect 404 "the refused chunked upload left nothing" "${A[@]}" "$F/six-c.bin"
kubectl patch runtimeprofile "$profile" --type=json -p '[{"op":"remove","path":"/spec/files/quota"}]' >/dev/null
ok "10 MiB quota: 6 MiB 201, the next 6 MiB 507 (Content-Length) or 413 (chunked), nothing left behind"

say "clawctl files"
ctl() { CLAWCTL_SERVER=$api CLAWCTL_TOKEN=$alice_tok HOME=$logdir "$build/bin/clawctl" "$@"; }
if ctl files ls --help >/dev/null 2>&1; then
  ctl files mkdir notes >/dev/null || fa_fail "clawctl files mkdir"
  ctl files put "$logdir/six.bin" notes/six.bin >/dev/null || fa_fail "clawctl files put"
  ctl files ls notes >"$logdir/ls.out" || fa_fail "clawctl files ls"
  grep -q "six.bin" "$logdir/ls.out" || fa_fail "clawctl files ls: $(cat "$logdir/ls.out")"
  ctl files get notes/six.bin "$logdir/six.back" >/dev/null || fa_fail "clawctl files get"
  cmp -s "$logdir/six.bin" "$logdir/six.back" || fa_fail "clawctl files get: bytes differ"
  ctl files mv notes/six.bin notes/seven.bin >/dev/null || fa_fail "clawctl files mv"
  # on a terminal a large transfer draws a progress line (script(1) gives it a pty)
  CLAWCTL_SERVER=$api CLAWCTL_TOKEN=$alice_tok HOME=$logdir script -qec \
    "$build/bin/clawctl files get notes/seven.bin $logdir/seven.tty" "$logdir/typescript" >/dev/null ||
    fa_fail "clawctl files get on a terminal"
  grep -q "100% \[#" "$logdir/typescript" || fa_fail "no progress line on a terminal: $(tr '\r' '\n' <"$logdir/typescript" | tail -3)"
  cmp -s "$logdir/six.bin" "$logdir/seven.tty" || fa_fail "clawctl files get on a terminal: bytes differ"
  ctl files rm notes 2>"$logdir/err" && fa_fail "clawctl files rm of a full directory succeeded"
  grep -q -- "--recursive" "$logdir/err" || fa_fail "clawctl files rm does not mention --recursive: $(cat "$logdir/err")"
  ctl files rm --recursive notes >/dev/null || fa_fail "clawctl files rm --recursive"
  ctl files get notes/seven.bin "$logdir/x" 2>"$logdir/err" && fa_fail "clawctl files get of a deleted file succeeded"
  grep -q "seven.bin" "$logdir/err" || fa_fail "clawctl files get: $(cat "$logdir/err")"
  [ -e "$logdir/x" ] && fa_fail "a failed clawctl files get left $logdir/x"
  grep -q 'clawctl-' <<<"$(ls "$logdir")" && fa_fail "a failed clawctl files get left a temporary file"
  ok "clawctl files mkdir, put, ls, get (identical bytes; a progress line on a terminal), mv, rm (--recursive needed), a missing file is an error naming it and leaves nothing"
else
  fa_fail "clawctl has no files command"
fi

say "every write is audited"
expect 200 "audit" "${R[@]}" "$api/api/v1/audit?actor=alice&limit=200"
for a in files.upload files.mkdir files.move files.delete; do
  grep -q "\"$a\"" "$logdir/body" || fa_fail "no $a in the audit log"
done
expect 200 "audit" "${R[@]}" "$api/api/v1/audit?action=files.upload&limit=200"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); items=d.get("items", d.get("entries", [])); assert any(i.get("detail",{}).get("path")=="/big.bin" for i in items), d' "$logdir/body" ||
  fa_fail "the upload of big.bin is not in the audit log with its path"
ok "uploads, mkdir, move and deletes are in the audit log with actor and path"

say "the dashboard's files page in Chromium (test/browser/files.test.mjs)"
chromium=${CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || fa_fail "no Chromium at $chromium: run hack/setup (Debian package chromium)"
[ -d "$src/test/browser/node_modules/playwright-core" ] ||
  fa_fail "test/browser/node_modules is missing: run hack/setup (npm ci in test/browser)"
shots="$build/test/browser-screenshots-files"
rm -rf "$shots"
# localhost: the session cookie is Secure, which browsers accept over plain HTTP only there.
FILES_URL="http://localhost:$api_port" FILES_USER=alice FILES_PASSWORD="$(cat "$logdir/alice.pw")" \
  FILES_ADMIN=root FILES_ADMIN_PASSWORD="$admin_pw" FILES_SCREENSHOTS="$shots" CHROMIUM="$chromium" \
  timeout 600 node "$src/test/browser/files.test.mjs" || fa_fail "the files page in the browser failed"
n=$(find "$shots" -name '*.png' | wc -l)
[ "$n" -ge 6 ] || fa_fail "expected screenshots of the files page at two widths, found $n"
ok "the files page: upload with progress, list, mkdir, rename, download, delete, admin view, stopped (the browser stopped the runtime); $n screenshots in $shots"

say "a stopped runtime: 409 saying how to start it"
api_call 200 "${A[@]}" -X POST "$api/api/v1/users/alice/runtime/stop" >/dev/null || fa_fail "stop"
wait_for 120 "alice stopped" field_is ur/alice '{.status.phase}' Stopped
expect 409 "files of a stopped runtime" "${A[@]}" "$F/"
grep -q "clawctl start" "$logdir/body" && grep -q "runtime/start" "$logdir/body" ||
  fa_fail "the 409 does not say how to start: $(body)"
ok "Stopped: 409 naming clawctl start and POST .../runtime/start"

say "an apiserver without the files key: 501"
"$build/bin/clawplane-apiserver" --listen 127.0.0.1:0 --database-url "$db_url" \
  --runtime-namespace "$ns" --password-cost 10 >"$logdir/apiserver2.log" 2>&1 &
api2_pid=$!
pids+=($api2_pid)
api2_port=$(api_start_port "$logdir/apiserver2.log" "$api2_pid") || fa_fail "second apiserver did not start"
api_ready "http://127.0.0.1:$api2_port" || fa_fail "second apiserver not ready"
expect 501 "no files key" "${A[@]}" "http://127.0.0.1:$api2_port/api/v1/users/alice/files/"
grep -q "files-key-file" "$logdir/body" || fa_fail "the 501 does not name the flag: $(body)"
ok "without --files-key-file the file API answers 501 naming the flag"

still_alive "$ctl_pid"
kill -0 "$api_pid" || fa_fail "the apiserver died"
echo "PASS: $checks checks"
