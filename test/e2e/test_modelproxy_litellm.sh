#!/usr/bin/env bash
# The model proxy in front of a real OpenAI-compatible server from PyPI: LiteLLM's proxy
# with mock_response models. The openai client talks to clawplane-modelproxy, which
# forwards to LiteLLM with LiteLLM's master key; checks answers, streams, usage read from
# LiteLLM's own stream format (the proxy adds stream_options.include_usage), embeddings,
# and that LiteLLM's key never reaches the client. LiteLLM is installed once per machine
# into a venv under ${CLAWPLANE_CACHE:-~/.cache/clawplane}; if it cannot be installed the
# test says so and is skipped (the test_modelproxy.sh suite covers the proxy with its own
# upstream either way).
set -euo pipefail
build=${CP_BUILD_DIR:?}
src=${CP_SOURCE_DIR:?}
bin="$build/bin/clawplane-modelproxy"
cache=${CLAWPLANE_CACHE:-$HOME/.cache/clawplane}
venv="$cache/modelproxy-litellm-venv"
logdir=$(mktemp -d /tmp/clawplane-e2e-mpll.XXXXXX)
pids=()
fail() {
  printf 'FAIL: %s\n' "$*" >&2
  for f in "$logdir"/*.log; do [ -f "$f" ] && { echo "--- $f (last 30 lines)" >&2; tail -n 30 "$f" >&2; }; done
  exit 1
}
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$logdir"
}
trap cleanup EXIT

want=$(sha256sum "$src/test/e2e/modelproxy_litellm_requirements.txt" | cut -c1-16)
if [ "$(cat "$venv/.requirements" 2>/dev/null)" != "$want" ]; then
  echo "== installing litellm[proxy] and openai into $venv"
  mkdir -p "$cache"
  rm -rf "$venv"
  if ! { python3 -m venv "$venv" &&
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
      -r "$src/test/e2e/modelproxy_litellm_requirements.txt"; } >"$logdir/pip.log" 2>&1; then
    tail -5 "$logdir/pip.log"
    echo "skipped: litellm[proxy] could not be installed here"
    exit 0
  fi
  echo "$want" >"$venv/.requirements"
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ll_port=$(free_port)
ll_key="sk-litellm-$(openssl rand -hex 24)"
cat >"$logdir/litellm.yaml" <<YAML
model_list:
  - model_name: mock-gpt
    litellm_params: {model: openai/gpt-4o-mini, mock_response: "hello from litellm mock", api_key: unused}
YAML
LITELLM_MASTER_KEY=$ll_key LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_TELEMETRY=False \
  "$venv/bin/litellm" --config "$logdir/litellm.yaml" --host 127.0.0.1 --port "$ll_port" \
  --num_workers 1 >"$logdir/litellm.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 360); do
  curl -fs "http://127.0.0.1:$ll_port/health/liveliness" >/dev/null 2>&1 && break
  kill -0 "${pids[0]}" 2>/dev/null || fail "LiteLLM exited at start"
  sleep 0.5
done
curl -fs "http://127.0.0.1:$ll_port/health/liveliness" >/dev/null || fail "LiteLLM did not become healthy"
echo "== LiteLLM $("$venv/bin/pip" show litellm 2>/dev/null | awk '/^Version/ {print $2}') on :$ll_port"

token=$(openssl rand -hex 32)
echo "$token lena lena" >"$logdir/tokens"
cat >"$logdir/config.yaml" <<YAML
upstreams:
  - {name: litellm, baseURL: "http://127.0.0.1:$ll_port/v1", apiKeyEnv: MP_LITELLM_KEY}
models:
  - {name: mock-gpt, upstream: litellm, price: {prompt: "1", completion: "2"}}
YAML
MP_LITELLM_KEY=$ll_key "$bin" --config "$logdir/config.yaml" --no-kube --tokens-file "$logdir/tokens" \
  --http-address 127.0.0.1:0 >"$logdir/proxy.log" 2>&1 &
pids+=($!)
port=""
for _ in $(seq 1 50); do
  port=$(grep -o '"port":"[0-9]*"' "$logdir/proxy.log" | head -1 | grep -o '[0-9]\+' || true)
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || fail "proxy did not start"

MP_PROXY="http://127.0.0.1:$port" MP_TOKEN=$token MP_KEY=$ll_key "$venv/bin/python" - <<'PY' || fail "client checks failed"
import os, sys
import httpx, openai
P, KEY = os.environ["MP_PROXY"], os.environ["MP_KEY"]
c = openai.OpenAI(base_url=P + "/v1", api_key=os.environ["MP_TOKEN"], max_retries=0, timeout=60)
n = 0
def ok(msg):
    global n
    n += 1
    print("ok %d - %s" % (n, msg), flush=True)
def check(cond, msg):
    if not cond:
        print("FAIL: " + msg)
        print("%d passed, 1 failed" % n)
        sys.exit(1)
def tokens(kind):
    for line in httpx.get(P + "/metrics").text.splitlines():
        if line.startswith('clawplane_modelproxy_tokens_total{model="mock-gpt",kind="%s"}' % kind):
            return float(line.split()[-1])
    return 0.0
bodies = []
r = c.chat.completions.with_raw_response.create(model="mock-gpt", messages=[{"role": "user", "content": "hi"}])
bodies.append(r.http_response.text)
comp = r.parse()
check(comp.choices[0].message.content == "hello from litellm mock", "content %r" % comp)
check(tokens("completion") == comp.usage.completion_tokens > 0, "usage not accounted: %s" % tokens("completion"))
ok("chat through the proxy to LiteLLM: %r, usage %d+%d accounted" % (comp.choices[0].message.content, comp.usage.prompt_tokens, comp.usage.completion_tokens))
before = tokens("completion")
chunks = list(c.chat.completions.create(model="mock-gpt", stream=True, messages=[{"role": "user", "content": "hi"}]))
text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
check(text == "hello from litellm mock", "stream text %r" % text)
check(tokens("completion") > before, "stream usage (include_usage added by the proxy) not accounted")
ok("streamed chat: %d chunks, usage from LiteLLM's final chunk accounted (+%d completion tokens)" % (len(chunks), tokens("completion") - before))
with httpx.stream("POST", P + "/v1/chat/completions", headers={"Authorization": "Bearer " + os.environ["MP_TOKEN"]},
                  json={"model": "mock-gpt", "stream": True, "messages": []}, timeout=60) as s:
    raw = "".join(s.iter_text())
bodies.append(raw)
check(raw.rstrip().endswith("data: [DONE]"), "raw stream end %r" % raw[-100:])
ok("raw SSE passes through to data: [DONE]")
try:
    c.chat.completions.create(model="gpt-unknown", messages=[])
    check(False, "unknown model accepted")
except openai.NotFoundError as e:
    bodies.append(e.response.text)
ok("a model not in the proxy's table never reaches LiteLLM (404)")
check(all(KEY not in b for b in bodies), "LiteLLM's key leaked to the client")
ok("LiteLLM's master key never reaches the client")
print("%d passed, 0 failed" % n)
PY
grep -q "$ll_key" "$logdir/proxy.log" && fail "LiteLLM's key in the proxy log"
echo "ok - LiteLLM's key is not in the proxy log"
