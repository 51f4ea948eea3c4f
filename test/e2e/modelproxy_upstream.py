#!/usr/bin/env python3
"""A small OpenAI-compatible (and Anthropic-style) model server for testing the model proxy.

Real HTTP/1.1 with keep-alive and chunked SSE streams, usage reporting like the real APIs
(stream_options.include_usage for OpenAI streams; message_start/message_delta usage for
Anthropic streams). The upstream model name chooses a behaviour:

  anything else    answer normally ("echo" of the last user message, 7 completion tokens)
  slow             sleep SLOW_SECONDS before answering
  fail             500 with an OpenAI error body
  fail-auth        401 whose message quotes the expected API key (as real providers do, in part)
  long-stream      stream LONG_CHUNKS chunks, one every 50 ms (for cancel and shutdown tests)
  stall-stream     stream two chunks, then send nothing for a long time
  big-stream       stream BIG_CHUNKS chunks of 1 KiB as fast as the reader takes them
  big-embed        an embedding of 300,000 numbers (a body of about 2 MiB; usage at its end)
  bench            answer at once with a fixed body (benchmarks)

Every request must carry the expected key (Authorization: Bearer or x-api-key), else 401.
GET /_events returns what happened (requests seen with their auth header, streams cut by the
client); POST /_reset clears it. Usage: modelproxy_upstream.py [--port N] [--key KEY]
Prints "listening on PORT" once ready.
"""
import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

EVENTS = []
LOCK = threading.Lock()
ARGS = None


def event(kind, **kw):
    with LOCK:
        EVENTS.append(dict(kind=kind, at=time.time(), **kw))


def words(obj):
    """Roughly counts prompt tokens: whitespace-separated words in all strings."""
    if isinstance(obj, str):
        return len(obj.split())
    if isinstance(obj, list):
        return sum(words(x) for x in obj)
    if isinstance(obj, dict):
        return sum(words(v) for v in obj.values())
    return 0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send_json(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def chunk(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def start_stream(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()

    def end_stream(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def do_GET(self):
        if self.path == "/_events":
            with LOCK:
                self.send_json(200, EVENTS)
            return
        if self.path == "/v1/models":
            self.send_json(200, {"object": "list", "data": [{"id": "upstream-only", "object": "model"}]})
            return
        self.send_json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if self.path == "/_reset":
            with LOCK:
                EVENTS.clear()
            self.send_json(200, {})
            return
        try:
            req = json.loads(raw or b"{}")
        except ValueError:
            self.send_json(400, {"error": {"message": "bad json", "type": "invalid_request_error"}})
            return
        auth = self.headers.get("Authorization") or ""
        xkey = self.headers.get("x-api-key") or ""
        model = req.get("model", "")
        event("request", path=self.path, model=model, stream=bool(req.get("stream")),
              authorization=auth, x_api_key=xkey, request_id=self.headers.get("X-Request-Id"),
              stream_options=req.get("stream_options"), body_bytes=len(raw))
        if auth != "Bearer " + ARGS.key and xkey != ARGS.key:
            self.send_json(401, {"error": {"message": "Incorrect API key provided: %s" % (auth or xkey),
                                           "type": "invalid_request_error", "code": "invalid_api_key"}})
            return
        if model == "fail-auth":
            self.send_json(401, {"error": {"message": "Incorrect API key provided: %s" % ARGS.key,
                                           "type": "invalid_request_error", "code": "invalid_api_key"}})
            return
        if model == "fail":
            self.send_json(500, {"error": {"message": "the model crashed (key %s)" % ARGS.key,
                                           "type": "server_error"}})
            return
        if model == "slow":
            time.sleep(ARGS.slow_seconds)
        prompt = max(1, words(req.get("messages") or req.get("prompt") or req.get("input") or ""))
        try:
            if self.path == "/v1/embeddings":
                vec = [0.123456] * 300000 if model == "big-embed" else [0.1, 0.2, 0.3]
                self.send_json(200, {"object": "list", "model": model,
                                     "data": [{"object": "embedding", "index": 0, "embedding": vec}],
                                     "usage": {"prompt_tokens": prompt, "total_tokens": prompt}})
            elif self.path == "/v1/messages":
                self.messages(req, model, prompt)
            elif self.path in ("/v1/chat/completions", "/v1/completions"):
                self.completions(req, model, prompt, self.path == "/v1/chat/completions")
            else:
                self.send_json(404, {"error": {"message": "unknown path", "type": "invalid_request_error"}})
        except (BrokenPipeError, ConnectionResetError):
            event("client_gone", model=model)

    def completions(self, req, model, prompt, chat):
        text = "hello from the upstream"
        completion = 7
        usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
        if model == "bench":
            self.send_json(200, {"id": "b", "object": "chat.completion", "created": 0, "model": model,
                                 "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                              "finish_reason": "stop"}], "usage": usage})
            return
        if not req.get("stream"):
            if chat:
                choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                obj = "chat.completion"
            else:
                choice = {"index": 0, "text": text, "finish_reason": "stop", "logprobs": None}
                obj = "text_completion"
            self.send_json(200, {"id": "cmpl-1", "object": obj, "created": int(time.time()), "model": model,
                                 "choices": [choice], "usage": usage})
            return
        want_usage = bool((req.get("stream_options") or {}).get("include_usage"))
        self.start_stream()
        nchunks = ARGS.long_chunks if model == "long-stream" else (2 if model == "stall-stream" else 5)
        pieces = ["hello", " from", " the", " upstream", "!"]
        if model == "big-stream":
            nchunks = ARGS.big_chunks
            pieces = ["x" * 1024]
        for i in range(nchunks):
            delta = pieces[i % len(pieces)]
            if chat:
                c = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0, "model": model,
                     "choices": [{"index": 0, "delta": {"content": delta}, "finish_reason": None}]}
            else:
                c = {"id": "cmpl-1", "object": "text_completion", "created": 0, "model": model,
                     "choices": [{"index": 0, "text": delta, "finish_reason": None}]}
            if want_usage:
                c["usage"] = None
            self.chunk("data: %s\n\n" % json.dumps(c))
            if model == "long-stream":
                time.sleep(0.05)
        if model == "stall-stream":
            time.sleep(ARGS.slow_seconds)
        if want_usage:
            u = {"prompt_tokens": prompt, "completion_tokens": nchunks, "total_tokens": prompt + nchunks}
            c = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0, "model": model,
                 "choices": [], "usage": u}
            self.chunk("data: %s\n\n" % json.dumps(c))
        self.chunk("data: [DONE]\n\n")
        self.end_stream()
        event("stream_done", model=model, chunks=nchunks)

    def messages(self, req, model, prompt):
        text = "hello from the upstream"
        if not req.get("stream"):
            self.send_json(200, {"id": "msg_1", "type": "message", "role": "assistant", "model": model,
                                 "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
                                 "usage": {"input_tokens": prompt, "output_tokens": 5}})
            return
        self.start_stream()
        evs = [("message_start", {"type": "message_start", "message": {
            "id": "msg_1", "type": "message", "role": "assistant", "model": model, "content": [],
            "usage": {"input_tokens": prompt, "output_tokens": 1}}}),
            ("content_block_start", {"type": "content_block_start", "index": 0,
                                     "content_block": {"type": "text", "text": ""}}),
            ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                     "delta": {"type": "text_delta", "text": text}}),
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                               "usage": {"output_tokens": 5}}),
            ("message_stop", {"type": "message_stop"})]
        for name, data in evs:
            self.chunk("event: %s\ndata: %s\n\n" % (name, json.dumps(data)))
        self.end_stream()


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--key", default="sk-upstream-test-key")
    p.add_argument("--slow-seconds", type=float, default=5.0)
    p.add_argument("--long-chunks", type=int, default=200)
    p.add_argument("--big-chunks", type=int, default=20000)
    ARGS = p.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    srv.daemon_threads = True
    print("listening on %d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
