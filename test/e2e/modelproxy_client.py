#!/usr/bin/env python3
"""Checks clawplane-modelproxy the way a runtime uses it: with the openai client (and httpx,
which it ships, for the Anthropic-style endpoint and raw streams). Run by test_modelproxy.sh,
which sets MP_PROXY, MP_UPSTREAM, MP_NS, MP_TOKENS ("user=token ..."), MP_PROXY_PID,
MP_PROXY_LOG, MP_PG_URL and MP_UPSTREAM_KEY. Prints one "ok N - ..." line per check and a
closing "N passed, M failed" line; exits non-zero on the first failure.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

import httpx
import openai

P = os.environ["MP_PROXY"]
U = os.environ["MP_UPSTREAM"]
NS = os.environ["MP_NS"]
TOKENS = dict(x.split("=", 1) for x in os.environ["MP_TOKENS"].split())
PID = int(os.environ["MP_PROXY_PID"])
LOG = os.environ["MP_PROXY_LOG"]
PG = os.environ["MP_PG_URL"]
UPKEY = os.environ["MP_UPSTREAM_KEY"]
passed = 0
seen_bodies = []  # every raw body the proxy answered with, for the key-leak check


def ok(msg):
    global passed
    passed += 1
    print("ok %d - %s" % (passed, msg), flush=True)


def fail(msg):
    print("FAIL: %s" % msg, flush=True)
    print("%d passed, 1 failed" % passed, flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def client(user):
    return openai.OpenAI(base_url=P + "/v1", api_key=TOKENS[user], max_retries=0, timeout=30)


def raw(method, path, user=None, **kw):
    headers = kw.pop("headers", {})
    if user:
        headers["Authorization"] = "Bearer " + TOKENS[user]
    r = httpx.request(method, P + path, headers=headers, timeout=30, **kw)
    seen_bodies.append(r.text)
    return r


def upstream_events():
    return httpx.get(U + "/_events", timeout=10).json()


def psql(sql):
    out = subprocess.run(["psql", PG, "-At", "-F", "|", "-c", sql], check=True, capture_output=True, text=True)
    return [line.split("|") for line in out.stdout.splitlines() if line]


def kubectl(*args):
    return subprocess.run(["kubectl", "-n", NS] + list(args), capture_output=True, text=True)


def error_code(e):
    body = e.body if isinstance(e.body, dict) else {}
    return body.get("code") if "code" in body else (body.get("error") or {}).get("code")


def expect_status(fn, status, code, what):
    try:
        fn()
    except openai.APIStatusError as e:
        seen_bodies.append(e.response.text)
        check(e.status_code == status, "%s: status %d, want %d (%s)" % (what, e.status_code, status, e.response.text))
        check(error_code(e) == code, "%s: code %r, want %r (%s)" % (what, error_code(e), code, e.response.text))
        return e
    fail("%s: no error, want %d %s" % (what, status, code))


def chat(user, model="gpt-test", content="hello there", **kw):
    return client(user).chat.completions.create(model=model, messages=[{"role": "user", "content": content}], **kw)


# --- the API -----------------------------------------------------------------------------
ids = sorted(m.id for m in client("alice").models.list())
check("gpt-test" in ids and "claude-test" in ids, "models: %s" % ids)
check("premium-large" not in ids and "*" not in ids, "models list shows a model alice may not use: %s" % ids)
dave_ids = sorted(m.id for m in client("dave").models.list())
check("claude-test" not in dave_ids and "gpt-test" in dave_ids, "dave's models: %s" % dave_ids)
ok("/v1/models lists only the models the user may call (alice %d, dave %d)" % (len(ids), len(dave_ids)))

httpx.post(U + "/_reset")
r = chat("alice")
check(r.choices[0].message.content == "hello from the upstream", "content: %r" % r)
check(r.usage.completion_tokens == 7 and r.usage.prompt_tokens > 0, "usage: %r" % r.usage)
ev = [e for e in upstream_events() if e["kind"] == "request"][-1]
check(ev["authorization"] == "Bearer " + UPKEY, "upstream did not get the platform key")
check(TOKENS["alice"] not in json.dumps(upstream_events()), "the runtime's token reached the upstream")
ok("non-streamed chat: answer and usage relayed; the upstream saw the platform key, never the runtime token")

r = chat("alice", model="gpt-mini")
ev = [e for e in upstream_events() if e["kind"] == "request"][-1]
check(ev["model"] == "mini", "upstream model name not applied: %s" % ev)
ok("upstreamModel renames the model on the way out")

chunks = list(chat("alice", stream=True))
text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
check(text == "hello from the upstream!", "stream text %r" % text)
check(all(not c.choices == [] for c in chunks), "a usage-only chunk reached a client that did not ask for it")
ev = [e for e in upstream_events() if e["kind"] == "request"][-1]
check((ev["stream_options"] or {}).get("include_usage") is True, "include_usage not added upstream: %s" % ev)
ok("streamed chat: %d chunks in order; include_usage added upstream, its chunk hidden from this client" % len(chunks))

chunks = list(chat("alice", stream=True, stream_options={"include_usage": True}))
check(chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 5, "last chunk usage: %r" % chunks[-1])
ok("streamed chat with include_usage: the usage chunk is passed through")

c = client("alice").completions.create(model="gpt-test", prompt="say hi")
check(c.choices[0].text == "hello from the upstream", "completion %r" % c)
s = "".join(x.choices[0].text for x in client("alice").completions.create(model="gpt-test", prompt="hi", stream=True) if x.choices)
check(s == "hello from the upstream!", "stream completion %r" % s)
e = client("alice").embeddings.create(model="gpt-test", input="a b c")
check(len(e.data[0].embedding) == 3 and e.usage.prompt_tokens == 3, "embeddings %r" % e)
r = raw("POST", "/v1/embeddings", "frank", json={"model": "gpt-bigembed", "input": "one two three four five"})
check(r.status_code == 200 and len(r.content) > 2 << 20 and r.json()["usage"]["prompt_tokens"] == 5,
      "big embeddings: %d %d bytes" % (r.status_code, len(r.content)))
big_rid = r.headers["x-request-id"]
ok("/v1/completions (plain and streamed) and /v1/embeddings (also a %.1f MiB answer)" % (len(r.content) / 1048576))

r = httpx.post(P + "/v1/messages", headers={"x-api-key": TOKENS["alice"], "anthropic-version": "2023-06-01"},
               json={"model": "claude-test", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}, timeout=30)
check(r.status_code == 200 and r.json()["content"][0]["text"] == "hello from the upstream", "messages: %s" % r.text)
ev = [e for e in upstream_events() if e["kind"] == "request"][-1]
check(ev["x_api_key"] == UPKEY and ev["authorization"] == "", "anthropic-style upstream auth: %s" % ev)
with httpx.stream("POST", P + "/v1/messages", headers={"x-api-key": TOKENS["alice"]}, timeout=30,
                  json={"model": "claude-test", "max_tokens": 16, "stream": True,
                        "messages": [{"role": "user", "content": "hi"}]}) as s:
    names = [line[7:] for line in s.iter_lines() if line.startswith("event: ")]
check(names[0] == "message_start" and names[-1] == "message_stop", "messages stream events %s" % names)
ok("/v1/messages (Anthropic style, x-api-key both ways), plain and streamed")

# --- refusals ----------------------------------------------------------------------------
expect_status(lambda: openai.OpenAI(base_url=P + "/v1", api_key="not-a-token", max_retries=0).models.list(),
              401, "invalid_api_key", "bad credential")
expect_status(lambda: chat("alice", model="premium-large"), 403, "model_not_allowed", "disallowed model")
expect_status(lambda: chat("dave", model="claude-test"), 403, "model_not_allowed", "dave and claude")
expect_status(lambda: chat("alice", model="no-such-model"), 404, "model_not_found", "unknown model")
ok("refusals: 401 invalid_api_key, 403 model_not_allowed (default list and a user_quotas list), 404 model_not_found")

for i in range(3):
    chat("carol")
e = expect_status(lambda: chat("carol"), 429, "rate_limit_exceeded", "4th call at 3 rpm")
check(int(e.response.headers.get("retry-after", "0")) >= 1, "no Retry-After on 429")
ok("requests per minute from user_quotas (3): the 4th call is 429 rate_limit_exceeded with Retry-After")

chat("bob", content=" ".join(["word"] * 30))
e = expect_status(lambda: chat("bob"), 429, "insufficient_quota", "token budget")
check(e.type == "insufficient_quota" or "budget" in str(e), "insufficient_quota type")
chat("erin")
expect_status(lambda: chat("erin"), 429, "insufficient_quota", "cost budget")
ok("monthly token budget (bob) and cost budget (erin) from user_quotas: 429 insufficient_quota once used up")

holder = {}


def long_stream():
    with httpx.stream("POST", P + "/v1/chat/completions", headers={"Authorization": "Bearer " + TOKENS["dave"]},
                      json={"model": "gpt-long", "stream": True, "messages": []}, timeout=30) as s:
        holder["status"] = s.status_code
        for i, _ in enumerate(s.iter_lines()):
            if i > 4:
                holder["reading"] = True
            if holder.get("stop"):
                break


t = threading.Thread(target=long_stream)
t.start()
for _ in range(100):
    if holder.get("reading"):
        break
    time.sleep(0.05)
check(holder.get("status") == 200, "first stream did not start: %s" % holder)
expect_status(lambda: list(chat("dave", stream=True)), 429, "rate_limit_exceeded", "2nd concurrent stream")
chat("dave")  # a plain call is not a stream
holder["stop"] = True
t.join()
ok("concurrent streams from user_quotas (1): a second stream is 429 while the first runs; plain calls pass")

# --- upstream trouble --------------------------------------------------------------------
e = expect_status(lambda: chat("alice", model="gpt-fail"), 502, "upstream_error", "upstream 500")
check(UPKEY not in e.response.text, "upstream key leaked in a 502 body")
e = expect_status(lambda: chat("alice", model="gpt-badkey"), 502, "upstream_auth_failed", "upstream 401")
check(UPKEY not in e.response.text, "upstream key leaked in the auth-failure body")
ok("upstream failures become 502 upstream_error / upstream_auth_failed, without the upstream's key")

t0 = time.time()
expect_status(lambda: chat("alice", model="gpt-slow"), 504, "upstream_timeout", "slow upstream")
took = time.time() - t0
check(took < 3.5, "timeout took %.1fs (--upstream-timeout 2)" % took)
try:
    list(chat("alice", model="gpt-stall", stream=True))
    fail("stalled stream ended without an error")
except openai.APIError as e:
    check("sent nothing" in str(e), "stall error: %s" % e)
ok("upstream timeout: 504 upstream_timeout after %.1fs; a stream that stalls ends with an error event" % took)

httpx.post(U + "/_reset")
with httpx.stream("POST", P + "/v1/chat/completions", headers={"Authorization": "Bearer " + TOKENS["alice"]},
                  json={"model": "gpt-long", "stream": True, "messages": []}, timeout=30) as s:
    it = s.iter_lines()
    for _ in range(6):
        next(it)
cut_at = time.time()
gone = None
for _ in range(60):
    evs = [e for e in upstream_events() if e["kind"] in ("client_gone", "stream_done")]
    if evs:
        gone = evs[0]
        break
    time.sleep(0.1)
check(gone and gone["kind"] == "client_gone", "upstream did not see the cancel: %s" % gone)
ok("client disconnect cancels the upstream request (the upstream saw it %.2fs later)" % (gone["at"] - cut_at))

# Backpressure: a client that stops reading does not make the proxy buffer the stream: the
# upstream is paused, and once the client reads again all 20 MiB arrive intact.
sock = socket.create_connection((urllib.parse.urlsplit(P).hostname, urllib.parse.urlsplit(P).port))
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
body = json.dumps({"model": "gpt-big", "stream": True, "messages": []})
req = ("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"
       "Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (TOKENS["alice"], len(body), body))
sock.sendall(req.encode())
time.sleep(2.5)
rss_paused = int([line for line in open("/proc/%d/status" % PID) if line.startswith("VmRSS")][0].split()[1])
parts = []
while True:
    d = sock.recv(1 << 20)
    if not d:
        break
    parts.append(d)
sock.close()
whole = b"".join(parts)
got = len(whole)
check(whole.rstrip().endswith(b"0") and b"data: [DONE]" in whole[-300:], "big stream did not complete: %r" % whole[-200:])
check(whole.count(b"x" * 1024) == 20000, "big stream lost data: %d chunks" % whole.count(b"x" * 1024))
ok("backpressure: a client that stops reading pauses the upstream (proxy RSS %d MiB while paused); all %.1f MiB arrive"
   % (rss_paused // 1024, got / 1048576))

# --- credentials, accounting, activity -----------------------------------------------------
def sa_token(audience):
    for _ in range(50):
        out = kubectl("create", "token", "default", "--audience", audience, "--duration", "10m",
                      "--bound-object-kind", "Pod", "--bound-object-name", "frank")
        if out.returncode == 0:
            return out.stdout.strip()
        time.sleep(0.2)  # the namespace's default ServiceAccount may not exist yet
    fail("kubectl create token: %s" % out.stderr)


def metric_value(prefix):
    return sum(float(line.split()[-1]) for line in httpx.get(P + "/metrics").text.splitlines()
               if line.startswith(prefix))


sat = sa_token(os.environ["MP_AUDIENCE"])
sa_client = openai.OpenAI(base_url=P + "/v1", api_key=sat, max_retries=0, timeout=30)
r = sa_client.chat.completions.with_raw_response.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}])
check(r.http_response.status_code == 200, "service-account token refused")
sa_rid = r.headers.get("x-request-id")
reviews = metric_value('clawplane_modelproxy_token_reviews_total{result="authenticated"}')
sa_client.chat.completions.create(model="gpt-test", messages=[])
check(metric_value('clawplane_modelproxy_token_reviews_total{result="authenticated"}') == reviews == 1,
      "the second call should use the cached review")
expect_status(lambda: openai.OpenAI(base_url=P + "/v1", api_key=sa_token("some-other-audience"),
                                    max_retries=0).models.list(), 401, "invalid_api_key", "wrong audience")
rows = []
for _ in range(50):
    rows = psql("SELECT username, runtime FROM usage_records WHERE request_id = '%s'" % sa_rid)
    if rows:
        break
    time.sleep(0.1)
check(rows == [["frank", "frank"]], "service-account call accounted as %s" % rows)
ok("pod-bound service-account token (audience %s) accepted via TokenReview as runtime frank, cached; "
   "another audience is 401" % os.environ["MP_AUDIENCE"])

kubectl("delete", "secret", "alice-credentials")
t0 = time.time()
revoked = None
while time.time() - t0 < 10:
    r = raw("GET", "/v1/models", "alice")
    if r.status_code == 401:
        revoked = time.time() - t0
        break
    time.sleep(0.1)
check(revoked is not None, "alice's credential still works 10 s after her Secret was deleted")
check(raw("GET", "/v1/models", "frank").status_code == 200, "frank's credential stopped working too")
ok("revoked credential: 401 %.2fs after the Secret was deleted; other runtimes unaffected" % revoked)

r = raw("POST", "/v1/chat/completions", "frank", json={"model": "gpt-test", "messages": []})
rid = r.headers.get("x-request-id")
rows = []
for _ in range(50):
    rows = psql("SELECT username, runtime, model, prompt_tokens, completion_tokens, cost_microusd "
                "FROM usage_records WHERE request_id = '%s'" % rid.replace("'", ""))
    if rows:
        break
    time.sleep(0.1)
check(rows, "usage record %s not written" % rid)
u, rt, model, p, c, cost = rows[0]
want = int(int(p) * 2.5 + int(c) * 10.0 + 0.5)  # micro-USD, rounded half up
check((u, rt, model) == ("frank", "frank", "gpt-test") and int(c) == 7 and int(cost) == want,
      "usage row %s (want cost %d)" % (rows[0], want))
big = psql("SELECT prompt_tokens FROM usage_records WHERE request_id = '%s'" % big_rid)
check(big == [["5"]], "usage of the 2 MiB embeddings answer (read from its tail): %s" % big)
n = int(psql("SELECT count(*) FROM usage_records")[0][0])
ok("usage_records: %d rows; request %s priced %s micro-USD from the table" % (n, rid, cost))

# PostgreSQL goes away: calls go on, records wait in the queue, and all of them are
# written once it is back.
def metric(name):
    for line in httpx.get(P + "/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


CUT = int(os.environ["MP_PGCUT_PID"])
os.kill(CUT, signal.SIGUSR1)
time.sleep(0.3)
rids = []
for i in range(5):
    r = raw("POST", "/v1/chat/completions", "frank", json={"model": "gpt-test", "messages": []})
    check(r.status_code == 200, "call while PostgreSQL is away: %d" % r.status_code)
    rids.append(r.headers["x-request-id"])
time.sleep(2.5)
pending = metric("clawplane_modelproxy_usage_records_pending")
check(pending >= 5 and metric("clawplane_modelproxy_usage_write_errors_total") >= 1,
      "records should wait while PostgreSQL is away (pending %s)" % pending)
os.kill(CUT, signal.SIGUSR2)
t0 = time.time()
while time.time() - t0 < 15 and metric("clawplane_modelproxy_usage_records_pending") > 0:
    time.sleep(0.2)
found = psql("SELECT count(*) FROM usage_records WHERE request_id IN (%s)" % ",".join("'%s'" % r for r in rids))
check(found == [["5"]], "records made while PostgreSQL was away: %s of 5 written" % found)
ok("PostgreSQL away: calls still served, %d records queued, all written %.1fs after it came back"
   % (pending, time.time() - t0))

act = ""
for _ in range(50):
    act = kubectl("get", "ur/bob", "-o", "jsonpath={.status.lastActivityTime}").stdout
    if act:
        break
    time.sleep(0.1)
check(act, "lastActivityTime not set on ur/bob")
mf = kubectl("get", "ur/bob", "--show-managed-fields", "-o", "json").stdout
check('"manager": "clawplane-modelproxy"' in mf and '"subresource": "status"' in mf, "status not applied by our manager")
ok("status.lastActivityTime %s on ur/bob, applied by field manager clawplane-modelproxy" % act)

metrics = httpx.get(P + "/metrics").text
for code in ("200", "401", "403", "404", "429", "499", "502", "504"):
    check('code="%s"' % code in metrics, "no clawplane_modelproxy_requests_total with code %s" % code)
check("clawplane_modelproxy_upstream_latency_seconds_count" in metrics and "clawplane_modelproxy_active_streams 0" in metrics,
      "latency histogram or active streams missing")
ok("/metrics: requests by endpoint/model/code, upstream latency histogram, active streams back to 0")

# --- graceful shutdown ---------------------------------------------------------------------
before = int(psql("SELECT count(*) FROM usage_records")[0][0])
res = {}


def final_stream():
    with httpx.stream("POST", P + "/v1/chat/completions", headers={"Authorization": "Bearer " + TOKENS["frank"]},
                      json={"model": "gpt-long", "stream": True, "messages": []}, timeout=60) as s:
        res["lines"] = [line for line in s.iter_lines() if line.startswith("data: ")]


t = threading.Thread(target=final_stream)
t.start()
time.sleep(0.5)
os.kill(PID, signal.SIGTERM)
time.sleep(0.3)
r = httpx.get(P + "/readyz")
check(r.status_code == 503, "readyz during shutdown: %d" % r.status_code)
r = raw("POST", "/v1/chat/completions", "frank", json={"model": "gpt-test", "messages": []})
check(r.status_code == 503, "new call during shutdown: %d" % r.status_code)
t.join()
check(res.get("lines") and res["lines"][-1] == "data: [DONE]" and len(res["lines"]) == 201,
      "the stream in flight did not finish: %d lines" % len(res.get("lines") or []))
t0 = time.time()
while time.time() - t0 < 15:
    try:
        os.kill(PID, 0)
    except ProcessLookupError:
        break
    time.sleep(0.1)
else:
    fail("proxy did not exit after SIGTERM")
after = int(psql("SELECT count(*) FROM usage_records")[0][0])
check(after == before + 1, "usage of the last stream not flushed on shutdown (%d -> %d)" % (before, after))
ok("SIGTERM: readyz 503, new calls 503, the stream in flight finished, usage flushed, exit")

log = open(LOG).read()
check(UPKEY not in log, "the upstream key appears in the proxy log")
check(all(t not in log for t in list(TOKENS.values()) + [sat]), "a runtime token appears in the proxy log")
check(all(UPKEY not in b for b in seen_bodies), "the upstream key appeared in a response")
ok("the upstream key is in no response and no log line; runtime tokens are in no log line (%d log lines)"
   % log.count("\n"))
print("%d passed, 0 failed" % passed)
