#!/usr/bin/env bash
# Figures for the file API (issue: files), same run, same disk:
#   1. upload SIZE MiB through the apiserver (curl PUT, streamed through the apiserver to the
#      runtime's clawplane-files sidecar, which writes a temporary file, fsyncs and renames)
#      against a direct copy onto the same volume (cp, then sync of the copy);
#   2. download it through the apiserver (curl GET to /dev/null) against a direct read (cat
#      to /dev/null) of the same file;
#   3. peak RSS of the apiserver and of the sidecar over the whole run.
# Runs on its own private test bed (test/e2e/lib/files.sh: runtime host, apiserver,
# controller, a real OpenClaw runtime), so it needs root, a built tree and the local
# cluster, like the e2e suite: run it from the build directory's environment, e.g.
#   CP_BUILD_DIR=build/default CP_SOURCE_DIR=. hack/local-cluster exec test/bench/files_bench.sh [SIZE_MIB=1024] [RUNS=3]
# Bounded: the test bed's waits time out, and the script gives up after 20 minutes.
E2E_NAME=fabench
export CP_BUILD_DIR=${CP_BUILD_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/build/default}
export CP_SOURCE_DIR=${CP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$CP_SOURCE_DIR/test/e2e/lib/controller.sh"
. "$src/test/e2e/lib/apiserver.sh"
. "$src/test/e2e/lib/files.sh"
size_mib=${1:-1024}
runs=${2:-3}
( sleep 1200; echo "files_bench: giving up after 20 minutes" >&2; kill -TERM $$ ) &
watchdog=$!
trap 'kill $watchdog 2>/dev/null || true; fa_cleanup' EXIT

say "a runtime for alice"
files_start_alice
uid=$(jp ur/alice '{.metadata.uid}')
tok=$(printf '%s/alice/%s' "$ns" "$uid" | openssl dgst -sha256 -hmac "$(cat "$keyfile")" | awk '{print $NF}')
end=$((SECONDS + 120))
until files_pid=$(files_sidecar_pid "$tok"); do
  [ $SECONDS -lt $end ] || fa_fail "no sidecar process"
  sleep 1
done
pv=$(kubectl -n "$ns" get pvc alice-state -o jsonpath='{.spec.volumeName}')
vol=$(kubectl get pv "$pv" -o jsonpath='{.spec.hostPath.path}')
[ -d "$vol/workspace" ] || fa_fail "no workspace on the volume ($vol)"
src_file=$logdir/bench.bin
head -c $((size_mib * 1024 * 1024)) /dev/urandom >"$src_file"
df -h "$vol" "$logdir" | sed 's/^/  /'

mbps() { awk -v b=$((size_mib * 1024 * 1024)) -v s="$1" 'BEGIN{printf "%.0f", b / s / 1048576}'; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.3f", b - a}'; }
up_api=() up_cp=() down_api=() down_cat=()
for r in $(seq 1 "$runs"); do
  say "run $r of $runs: $size_mib MiB"
  sync
  t=$(now)
  code=$(curl -s -o /dev/null -w '%{http_code}' "${A[@]}" -T "$src_file" "$F/bench-$r.bin?overwrite=true")
  up_api+=("$(since "$t")")
  case $code in 200 | 201) ;; *) fa_fail "upload through the apiserver: HTTP $code" ;; esac
  t=$(now)
  cp "$src_file" "$vol/workspace/direct-$r.bin" && sync "$vol/workspace/direct-$r.bin"
  up_cp+=("$(since "$t")")
  t=$(now)
  code=$(curl -s -o /dev/null -w '%{http_code}' "${A[@]}" "$F/bench-$r.bin")
  down_api+=("$(since "$t")")
  [ "$code" = 200 ] || fa_fail "download through the apiserver: HTTP $code"
  t=$(now)
  cat "$vol/workspace/direct-$r.bin" >/dev/null
  down_cat+=("$(since "$t")")
  rm -f "$vol/workspace/direct-$r.bin"
  code "${A[@]}" -X DELETE "$F/bench-$r.bin" >/dev/null
done
hwm() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
echo
echo "figures ($size_mib MiB, median of $runs runs, same volume, page cache warm for reads):"
printf '  upload    through the apiserver %5s MB/s   direct cp+sync %5s MB/s\n' \
  "$(mbps "$(median "${up_api[@]}")")" "$(mbps "$(median "${up_cp[@]}")")"
printf '  download  through the apiserver %5s MB/s   direct cat     %5s MB/s\n' \
  "$(mbps "$(median "${down_api[@]}")")" "$(mbps "$(median "${down_cat[@]}")")"
printf '  peak RSS  apiserver %s KiB, sidecar %s KiB\n' "$(hwm "$api_pid")" "$(hwm "$files_pid")"
