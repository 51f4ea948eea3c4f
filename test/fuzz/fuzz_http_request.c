/* Fuzzes the HTTP server's request path (parser callbacks, caps, dispatch, responses,
 * streams, aborts) through a detached connection: no sockets, the same code as a real
 * connection. The first input byte picks the feed chunk size and the caps; the rest is
 * the client's byte stream. Checks: nothing crashes or leaks, output always starts with
 * a status line, and nothing is written after the connection closed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "core/buf.h"
#include "core/error.h"
#include "http/server.h"
#include "http/server_internal.h"

typedef struct sink_s {
  size_t bytes;
  char first[9];
  size_t nfirst;
  int closed;
} sink_t;

static void sink_fn(void *ud, const char *data, size_t len) {
  sink_t *s = ud;
  if (!data) {
    if (s->closed++)
      abort(); /* closed twice */
    return;
  }
  if (s->closed)
    abort(); /* written after close */
  while (len > 0 && s->nfirst < sizeof s->first) {
    s->first[s->nfirst++] = *data++;
    len--;
    s->bytes++;
  }
  s->bytes += len;
}

static void on_abort(cp_http_request_t *req, void *ud) {
  (void)req;
  (void)ud;
}

static void handler(cp_http_request_t *req, void *ud) {
  (void)ud;
  const char *host = cp_http_header(req, "Host");
  if (strncmp(req->path, "/stream", 7) == 0) {
    const char *h[] = {"Content-Type", "text/event-stream", NULL};
    if (cp_http_stream_start(req, 200, h) != 0)
      abort();
    cp_http_stream_write(req, req->body, req->body_len);
    cp_http_stream_write(req, req->query, strlen(req->query));
    if (req->path[7] != '/') /* "/stream/" stays open until the connection goes */
      cp_http_stream_end(req);
    else
      cp_http_request_set_on_abort(req, on_abort, NULL);
  } else if (strcmp(req->path, "/hold") == 0) {
    cp_http_request_set_on_abort(req, on_abort, NULL);
  } else if (strcmp(req->path, "/abort") == 0) {
    cp_http_abort(req);
  } else if (strcmp(req->path, "/json") == 0) {
    if (cp_http_json_error(req, 400, req->query) != 0)
      abort();
  } else if (strcmp(req->path, "/headers") == 0) {
    /* client-controlled header values: refused if they could inject, never sent raw */
    const char *h[] = {"X-Host", host ? host : "", "X-Query", req->query, NULL};
    if (cp_http_respond_headers(req, 200, h, req->target, strlen(req->target)) != 0 &&
        cp_http_respond(req, 500, NULL, NULL, 0) != 0)
      abort();
  } else {
    int status = req->nheaders % 2 ? 204 : 200;
    if (cp_http_respond(req, status, "text/plain", req->body, req->body_len) != 0)
      abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  uint8_t mode = data[0];
  data++;
  size--;
  uv_loop_t loop;
  if (uv_loop_init(&loop) != 0)
    abort();
  cp_http_server_opts_t small = {
      .max_header_bytes = 256, .max_headers = 4, .max_body_bytes = 64, .max_url_bytes = 64};
  cp_http_server_t *srv;
  if (cp_http_server_new(&loop, (mode & 0x80) ? &small : NULL, handler, NULL, &srv) != 0)
    abort();
  sink_t sink = {0};
  cp__http_conn_t *conn;
  if (cp__http_conn_new_detached(srv, sink_fn, &sink, &conn) != 0)
    abort();
  size_t chunk = (mode & 0x7f) ? (size_t)(mode & 0x7f) : 65536;
  for (size_t off = 0; off < size; off += chunk) {
    size_t n = size - off < chunk ? size - off : chunk;
    if (cp__http_conn_feed(conn, (const char *)data + off, n) != 0)
      break;
  }
  cp__http_conn_free_detached(conn);
  if (sink.nfirst > 0 && (sink.nfirst < 9 || memcmp(sink.first, "HTTP/1.1 ", 9) != 0))
    abort();
  cp_http_server_close(srv, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop) != 0)
    abort();
  return 0;
}
