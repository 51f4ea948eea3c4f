/* A fast OpenAI-compatible upstream for the model proxy benchmark (built by
 * modelproxy_bench.sh, not by CMake): lib/http on one libuv loop, so the upstream itself
 * costs next to nothing and the proxy's added latency shows.
 *
 *   POST /v1/chat/completions {"stream":false}  a fixed chat.completion with usage, at once
 *   POST /v1/chat/completions {"stream":true}   CHUNKS SSE chunks, one every INTERVAL_MS,
 *                                               then a usage chunk and [DONE]
 *
 * Usage: modelproxy_upstream PORT [CHUNKS [INTERVAL_MS]]; prints "listening on PORT".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "http/server.h"

static long chunks = 10, interval_ms = 500;

static const char BODY[] =
    "{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion\",\"created\":0,\"model\":\"bench\","
    "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"hello from the "
    "upstream\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":12,\"completion_"
    "tokens\":"
    "7,\"total_tokens\":19}}";

static const char CHUNK[] =
    "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":0,"
    "\"model\":\"bench\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"token \"},"
    "\"finish_reason\":null}]}\n\n";

static const char LAST[] =
    "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":0,"
    "\"model\":\"bench\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":10,"
    "\"total_tokens\":22}}\n\ndata: [DONE]\n\n";

typedef struct stream_s {
  uv_timer_t timer;
  cp_http_request_t *req;
  long sent;
} stream_t;

static void stream_closed(uv_handle_t *h) {
  free(h->data);
}

static void stream_stop(stream_t *s) {
  s->req = NULL;
  uv_close((uv_handle_t *)&s->timer, stream_closed);
}

static void on_abort(cp_http_request_t *req, void *ud) {
  (void)req;
  stream_stop(ud);
}

static void on_tick(uv_timer_t *t) {
  stream_t *s = t->data;
  if (s->sent < chunks) {
    cp_http_stream_write(s->req, CHUNK, sizeof CHUNK - 1);
    s->sent++;
    return;
  }
  cp_http_stream_write(s->req, LAST, sizeof LAST - 1);
  cp_http_stream_end(s->req);
  stream_stop(s);
}

static void on_request(cp_http_request_t *req, void *ud) {
  uv_loop_t *loop = ud;
  if (strcmp(req->method, "POST") != 0) {
    cp_http_json_error(req, 404, "POST /v1/chat/completions");
    return;
  }
  if (!strstr(req->body, "\"stream\":true") && !strstr(req->body, "\"stream\": true")) {
    cp_http_respond(req, 200, "application/json", BODY, sizeof BODY - 1);
    return;
  }
  stream_t *s = calloc(1, sizeof *s);
  const char *h[] = {"Content-Type", "text/event-stream", NULL};
  if (!s || cp_http_stream_start(req, 200, h) != 0) {
    free(s);
    cp_http_abort(req);
    return;
  }
  s->req = req;
  uv_timer_init(loop, &s->timer);
  s->timer.data = s;
  cp_http_request_set_on_abort(req, on_abort, s);
  uv_timer_start(&s->timer, on_tick, (uint64_t)interval_ms, (uint64_t)interval_ms);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: modelproxy_upstream PORT [CHUNKS [INTERVAL_MS]]\n");
    return 2;
  }
  int port = (int)strtol(argv[1], NULL, 10);
  if (argc > 2)
    chunks = strtol(argv[2], NULL, 10);
  if (argc > 3)
    interval_ms = strtol(argv[3], NULL, 10);
  uv_loop_t *loop = uv_default_loop();
  cp_http_server_opts_t o = {.max_connections = 16384, .idle_timeout_ms = 600000};
  cp_http_server_t *srv = NULL;
  if (cp_http_server_new(loop, &o, on_request, loop, &srv) != 0 ||
      cp_http_server_listen(srv, "127.0.0.1", port) != 0) {
    fprintf(stderr, "cannot listen on %d\n", port);
    return 1;
  }
  printf("listening on %d\n", cp_http_server_port(srv));
  fflush(stdout);
  return uv_run(loop, UV_RUN_DEFAULT);
}
