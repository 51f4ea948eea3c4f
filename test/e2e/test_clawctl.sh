#!/usr/bin/env bash
# clawctl end to end, as a user and an admin would use it, against a real apiserver on
# PostgreSQL (a schema of its own) and the local control plane with a controller: login
# into contexts (the 0600 config, env overrides), whoami, runtime start --wait / status /
# open / events / stop, tokens, usage, admin users / runtimes / quota / audit, exit codes
# and messages for the usual mistakes, start --wait failing with the reason, and a terminal
# session in tmux for the password prompt (no echo) and the spinner of start --wait.
E2E_NAME=ctl
. "$(dirname "$0")/lib/controller.sh"
. "$(dirname "$0")/lib/apiserver.sh"

api_bin="$build/bin/clawplane-apiserver"
clawctl="$build/bin/clawctl"
schema=e2e_ctl_$suffix
admin_pw="admin-password-$suffix"
api_pid=
tmux_sock="cp-ctl-$suffix"
export XDG_CONFIG_HOME="$logdir/xdg"
unset CLAWCTL_SERVER CLAWCTL_TOKEN
cfg="$XDG_CONFIG_HOME/clawctl/config"

ctl_cleanup() {
  tmux -L "$tmux_sock" kill-server 2>/dev/null || true
  [ -n "$api_pid" ] && kill "$api_pid" 2>/dev/null || true
  pg_schema_drop "$schema"
}
trap 'ctl_cleanup; cleanup' EXIT

db_url=$(pg_schema "$schema") || fail "PostgreSQL did not come up"
setup_namespace
apply_profile "$profile"
start_controller controller
log="$logdir/apiserver.log"
CLAWPLANE_BOOTSTRAP_ADMIN=root CLAWPLANE_BOOTSTRAP_PASSWORD="$admin_pw" \
  timeout 900 "$api_bin" --listen 127.0.0.1:0 --database-url "$db_url" --runtime-namespace "$ns" \
  --default-profile "$profile" --password-cost 10 --session-cache-seconds 0 \
  --login-attempts-per-client 10000 >"$log" 2>&1 &
api_pid=$!
port=$(api_start_port "$log" "$api_pid") || fail "apiserver did not start: $(tail -5 "$log")"
server="http://127.0.0.1:$port"
api_ready "$server" || fail "apiserver not ready"
say "apiserver on $server, namespace $ns"

# run <want exit> <clawctl args...>: runs clawctl (stdin from $IN), keeps out and err.
IN=/dev/null
run() {
  local want=$1
  shift
  set +e
  timeout 180 "$clawctl" "$@" <"$IN" >"$logdir/out" 2>"$logdir/err"
  got=$?
  set -e
  out=$(cat "$logdir/out")
  err=$(cat "$logdir/err")
  [ "$got" = "$want" ] || fail "clawctl $*: want exit $want, got $got; stdout: $out; stderr: $err"
  IN=/dev/null
}
has() { grep -qE -- "$2" <<<"$1" || fail "expected /$2/ in: $1"; }
hasnt() { ! grep -qE -- "$2" <<<"$1" || fail "did not expect /$2/ in: $1"; }
feed() { printf '%s\n' "$@" >"$logdir/in"; IN="$logdir/in"; }

say "before login"
run 4 status
has "$err" "no server configured. Log in first: clawctl login --server URL"
run 2 statsu
has "$err" 'unknown command "statsu"'
run 2 start --wiat
has "$err" "unknown flag --wiat"
run 0 start --help
has "$out" "Usage: clawctl start \[--user U\] \[--wait\]"
run 0 help exit-codes
has "$out" "5  runtime: start --wait"
ok "usage errors exit 2 and name the problem; --help and help topics work; no server exits 4"

say "login, contexts, config file"
feed "wrong-password"
run 4 login --server "$server" --username root --password-stdin
has "$err" "invalid username or password. Check the username and password"
feed "$admin_pw"
run 0 login --server "$server" --username root --password-stdin
has "$err" "Logged in to $server as root \(admin\); context root@127.0.0.1:$port"
[ "$(stat -c %a "$cfg")" = 600 ] || fail "config mode $(stat -c %a "$cfg")"
[ "$(stat -c %a "$(dirname "$cfg")")" = 700 ] || fail "config dir mode"
run 0 whoami
has "$out" "^user: +root$"
has "$out" "^role: +admin$"
has "$out" "^context: +root@127.0.0.1:$port$"
admin_tok=$(jq -r '.contexts[0].token' "$cfg")
run 0 config view
has "$out" '"token":[[:space:]]+"REDACTED"'
hasnt "$out" "$admin_tok"
chmod 644 "$cfg"
run 1 whoami
has "$err" "is accessible by others \(mode 0644\) and holds tokens; refusing to use it. Fix it with: chmod 600 $cfg"
chmod 600 "$cfg"
ok "login stores the token in a 0600 file, whoami shows the account, a readable file is refused"

say "admin creates users; alice logs in to a second context"
feed "alice-password"
run 0 users create alice --password-stdin
has "$err" "User alice created \(role user\)"
feed "bob-password"
run 0 users create bob --password-stdin
feed "carol-password"
run 0 users create carol --password-stdin
run 0 users list
has "$out" "^USER +ROLE +STATE +RUNTIME +CREATED$"
has "$out" "^alice +user +active +- +20"
has "$out" "^root +admin +active"
run 0 -o json users list
[ "$(jq -r '[.items[].username] | sort | join(",")' <<<"$out")" = "alice,bob,carol,root" ] || fail "users json: $out"
# users delete: asks for the name back on a terminal; without one it wants --yes.
feed "frank-password"
run 0 users create frank --password-stdin
feed "frank-password"
run 0 --context frank login --server "$server" --username frank --password-stdin
run 0 --context frank start
run 0 config use-context "root@127.0.0.1:$port"
run 2 users delete frank
has "$err" "no terminal to confirm on: pass --yes; nothing deleted"
run 0 users delete frank --yes
has "$err" "User frank deleted, with their runtime"
wait_for 60 "frank's UserRuntime deleted" absent ur/frank
run 4 --context frank status
run 3 users delete frank --yes
run 0 audit --action user.delete
has "$out" " root +user.delete +frank "
ok "users delete: refused with no terminal and no --yes; with --yes the account, its session and runtime go; again: exit 3"
# An invitation: the token alone on stdout, once; with it the invitee sets a password.
run 0 users invite dave --ttl-hours 2
has "$out" "^cpi_[A-Za-z0-9_-]+$"
has "$err" "Invitation for dave"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
  --data "{\"token\":\"$out\",\"password\":\"dave-password\"}" "$server/api/v1/invitations/accept")
[ "$code" = 201 ] || fail "accepting the invitation from clawctl: HTTP $code"
run 2 users invite erin --role root
has "$err" "--role is user or admin"
run 0 -o json users list
[ "$(jq -r '[.items[].username] | sort | join(",")' <<<"$out")" = "alice,bob,carol,dave,root" ] ||
  fail "the invited user is not listed: $out"
feed "alice-password"
run 0 --context alice login --server "$server" --username alice --password-stdin
has "$err" "as alice \(user\); context alice"
run 0 config get-contexts
has "$out" "^CURRENT +NAME +SERVER +USER +LOGGED-IN$"
has "$out" "^\* +alice +$server +alice +yes$"
has "$out" "^ +root@127.0.0.1:$port +$server +root +yes$"
run 0 config current-context
[ "$out" = alice ] || fail "current-context: $out"
run 3 config use-context nope
has "$err" 'no context "nope"; see clawctl config get-contexts'
run 4 users list
has "$err" "users list: not allowed \(.*\). This needs an admin account"
run 0 --context "root@127.0.0.1:$port" -o yaml whoami
has "$out" '^username: "root"$'
ok "contexts: two logins, get-contexts marks the current one, --context picks another, users see 403 as exit 4"

say "alice's runtime: status, start --wait, open, events, stop"
run 3 status
has "$err" "No runtime yet; clawctl start creates it."
run 0 start --wait --timeout 120
has "$err" "^Starting runtime alice\.\.\.$"
has "$err" "^(SNAPSHOT|ABSENT|MODIFIED): phase"
has "$err" "^Runtime alice is ready: http://alice.127.0.0.1:$port/$"
hasnt "$err" $'\r' # not a terminal: plain lines, no spinner
run 0 status
has "$out" "^USER +STATE +PHASE +READY +PROFILE +RESTARTS +MESSAGE$"
has "$out" "^alice +Running +Running +True +$profile +0"
run 0 -o json status
[ "$(jq -r .observed.phase <<<"$out")" = Running ] || fail "status json: $out"
run 0 config set-context alice --runtime-url https://alice.runtimes.example
run 0 open
[ "$out" = "https://alice.runtimes.example" ] || fail "open: $out"
run 0 -o json events --timeout 3
[ "$(head -1 <<<"$out" | jq -r '.type + " " + .runtime.observed.phase')" = "SNAPSHOT Running" ] ||
  fail "events: $out"
run 0 stop
has "$err" "Runtime alice stopping; its storage stays"
wait_for 60 "alice stopped" bash -c "[ \"\$('$clawctl' -o json status | jq -r .observed.phase)\" = Stopped ]"
ok "start --wait follows the stream to Ready in plain lines; status table and json; open; events; stop"

say "tokens and usage"
run 0 tokens create ci --ttl-days 7
tok=$out
has "$tok" "^cpt_"
has "$err" "Token ci \(id [0-9]+\) created; it is shown only this once"
run 0 tokens list
has "$out" "^ID +NAME +CREATED +EXPIRES +LAST-USED +REVOKED$"
has "$out" "^[0-9]+ +ci +20"
hasnt "$out" "$tok"
id=$(awk '$2 == "ci" {print $1}' <<<"$out")
CLAWCTL_TOKEN=$tok run 0 whoami
has "$out" "^user: +alice$"
CLAWCTL_SERVER=$server CLAWCTL_TOKEN=$tok XDG_CONFIG_HOME=$logdir/empty run 0 whoami
has "$out" "^context: +\(environment\)$"
run 0 tokens revoke "$id"
has "$err" "Token $id revoked"
CLAWCTL_TOKEN=$tok run 4 whoami
has "$err" "the server refused the credentials .*Log in again: clawctl login"
run 0 usage
has "$out" "^Usage of alice in [0-9]{4}-[0-9]{2}$"
has "$out" "^TOTAL +0 +0 +0 +0.0000$"
run 0 usage --month 2025-01
has "$out" "^Usage of alice in 2025-01$"
run 0 -o json usage --month 2025-02
[ "$(jq -r .month <<<"$out")" = 2025-02 ] || fail "usage --month 2025-02 -o json: $out"
run 2 usage --month 2025-13
has "$err" "--month takes YYYY-MM \(e.g. 2026-11\), not \"2025-13\""
ok "tokens create prints the token once on stdout, CLAWCTL_TOKEN/CLAWCTL_SERVER override, revoke ends it; usage table, --month"

say "admin: runtimes, quota, audit, disable"
run 0 config use-context "root@127.0.0.1:$port"
run 0 runtimes list
has "$out" "^NAME +USER +STATE +PHASE +READY +PROFILE$"
has "$out" "^alice +alice +Stopped +Stopped"
run 0 runtimes list --phase Running
has "$err" "No runtimes in phase Running"
run 0 quota set alice --tokens 100000 --rpm 30 --models gpt-a,gpt-b
has "$out" "monthly token budget +100000$"
has "$out" "requests per minute +30$"
has "$out" "allowed models +gpt-a,gpt-b$"
run 0 quota get alice
has "$out" "concurrent streams +-$"
run 0 quota set alice --rpm default
run 0 -o json quota get alice
[ "$(jq -c '[.monthly_token_budget, .requests_per_minute]' <<<"$out")" = "[100000,null]" ] || fail "quota: $out"
run 0 audit --actor alice --action runtime.start --since 1h
has "$out" "^TIME +ACTOR +ACTION +TARGET +OUTCOME +CLIENT$"
has "$out" " alice +runtime.start +"
run 2 audit --since yesterday
has "$err" "--since takes a duration"
run 0 users disable alice
has "$err" "User alice disabled"
run 4 --context alice whoami
has "$err" "refused the credentials"
run 0 users enable alice
ok "runtimes list and --phase, quota set/get and default, audit filters, disable ends alice's session"

say "start --wait fails with the reason"
feed "carol-password"
run 0 --context carol login --server "$server" --username carol --password-stdin
run 0 start --wait --timeout 120
run 0 stop
wait_for 60 "carol stopped" bash -c "[ \"\$('$clawctl' -o json status | jq -r .observed.phase)\" = Stopped ]"
apply_profile "$profile-gone"
api_call 200 -X PUT -H "Authorization: Bearer $admin_tok" -H 'Content-Type: application/json' \
  --data '{"profile":"'"$profile-gone"'"}' "$server/api/v1/users/carol/runtime" >/dev/null ||
  fail "profile change"
kubectl delete runtimeprofile "$profile-gone" >/dev/null
wait_for 60 "carol degraded" bash -c "[ \"\$(kubectl -n $ns get ur carol -o jsonpath='{.status.conditions[?(@.type==\"Degraded\")].reason}')\" = ProfileNotFound ]"
run 5 start --wait --timeout 60
has "$err" "clawctl start: the runtime is degraded: ProfileNotFound"
ok "start --wait exits 5 naming the reason (ProfileNotFound)"

say "a terminal: the password prompt and the start --wait spinner (tmux)"
cat >"$logdir/tty.sh" <<EOS
export XDG_CONFIG_HOME=$logdir/xdg-bob
$clawctl login --server $server --username bob
echo "LOGIN_EXIT=\$?"
$clawctl start --wait --timeout 120
echo "START_EXIT=\$?"
sleep 120
EOS
tmux -L "$tmux_sock" new-session -d -s tty -x 160 -y 40 "bash --norc --noprofile $logdir/tty.sh"
tmux -L "$tmux_sock" pipe-pane -t tty -o "cat >>$logdir/tty.raw"
screen() { tmux -L "$tmux_sock" capture-pane -p -t tty; }
wait_for 30 "password prompt" bash -c "tmux -L $tmux_sock capture-pane -p -t tty | grep -q '^Password:'"
tmux -L "$tmux_sock" send-keys -t tty "bob-password" Enter
wait_for 30 "login done" bash -c "tmux -L $tmux_sock capture-pane -p -t tty | grep -q LOGIN_EXIT"
s=$(screen)
has "$s" "LOGIN_EXIT=0"
has "$s" "Logged in to $server as bob"
hasnt "$s" "bob-password"
ok "login on a terminal prompts for the password and does not echo it"
wait_for 150 "start done" bash -c "tmux -L $tmux_sock capture-pane -p -t tty | grep -q START_EXIT"
s=$(screen)
has "$s" "START_EXIT=0"
has "$s" "Runtime bob is ready"
raw=$(cat "$logdir/tty.raw")
grep -qE $'\r\e\\[K[|/\\\\-] (SNAPSHOT|ABSENT|MODIFIED): phase [A-Za-z]+, ready .* \\([0-9]+s\\)' <<<"$raw" ||
  fail "no spinner line in the terminal output: $(tr '\r\033' '<^' <<<"$raw" | tail -c 800)"
ok "start --wait on a terminal redraws one line with a spinner and the elapsed time"

say "shell completion, generated from the command table"
# bash: the completion function as bash calls it on <Tab>.
complete_bash() { # complete_bash <words...>: what <Tab> offers after them (last word: the prefix)
  PATH="$(dirname "$clawctl"):$PATH" bash --norc --noprofile -c 'source <("$1" completion bash) || exit 1; shift
    COMP_WORDS=(clawctl "$@"); COMP_CWORD=$#; _clawctl; printf "%s\n" "${COMPREPLY[@]}"' _ \
    "$clawctl" "$@" | sort | tr '\n' ' '
}
[ "$(complete_bash tok)" = "tokens " ] || fail "bash: clawctl tok<Tab> offers: $(complete_bash tok)"
[ "$(complete_bash users d)" = "delete disable " ] || fail "bash: users d<Tab>: $(complete_bash users d)"
[ "$(complete_bash start --w)" = "--wait " ] || fail "bash: start --w<Tab>: $(complete_bash start --w)"
[ "$(complete_bash runtimes list --phase Hib)" = "Hibernated " ] ||
  fail "bash: --phase Hib<Tab>: $(complete_bash runtimes list --phase Hib)"
[ "$(complete_bash help exit)" = "exit-codes " ] || fail "bash: help exit<Tab>: $(complete_bash help exit)"
has "$(complete_bash --context '')" "@127.0.0.1"
ok "bash completion: commands, subcommands, flags, --phase values, help topics, contexts"
# zsh: a real interactive zsh in tmux, completion loaded from fpath as packagers install it.
zdir="$logdir/zsh"
mkdir -p "$zdir/fpath"
"$clawctl" completion zsh >"$zdir/fpath/_clawctl"
tmux -L "$tmux_sock" new-session -d -s zsh -x 160 -y 30 \
  "env -i HOME=$zdir PATH=$(dirname "$clawctl"):/usr/bin:/bin TERM=xterm XDG_CONFIG_HOME=$XDG_CONFIG_HOME zsh -f"
zscreen() { tmux -L "$tmux_sock" capture-pane -p -t zsh; }
tmux -L "$tmux_sock" send-keys -t zsh "fpath=($zdir/fpath \$fpath); autoload -U compinit; compinit -u -d $zdir/dump; PS1='zsh%% '" Enter
wait_for 10 "zsh prompt" bash -c "tmux -L $tmux_sock capture-pane -p -t zsh | grep -q '^zsh%'"
tmux -L "$tmux_sock" send-keys -t zsh "clawctl tok" Tab
wait_for 10 "zsh completes tokens" bash -c "tmux -L $tmux_sock capture-pane -p -t zsh | grep -q '^zsh% clawctl tokens *$'"
tmux -L "$tmux_sock" send-keys -t zsh "rev" Tab " --" Tab
wait_for 10 "zsh offers revoke's flags" bash -c "tmux -L $tmux_sock capture-pane -p -t zsh | grep -q -- '--user'"
s=$(zscreen)
has "$s" "^zsh% clawctl tokens revoke --"
has "$s" "--help"
ok "zsh completion (installed on fpath, driven in a terminal): command, subcommand, flags"
run 2 completion fish
has "$err" "Usage: clawctl completion bash.zsh"
ok "completion for an unknown shell: usage and exit 2"
say "all $checks checks passed"
