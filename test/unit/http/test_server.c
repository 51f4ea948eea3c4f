/* HTTP server: what a client on a real socket sees (status, headers, body, order, when
 * the connection closes), plus parser edge cases through a detached connection.
 *
 * The server's loop runs in its own thread; the test thread is a blocking client on
 * 127.0.0.1 (5 s receive timeout so a bug fails instead of hanging). Stopping a fixture
 * closes the server from the loop thread and then requires uv_loop_close to succeed, so
 * a handle left open fails the test and leaked memory fails under ASan or valgrind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "core/buf.h"
#include "core/error.h"
#include "http/server.h"
#include "http/server_internal.h"

/* ---- server fixture ------------------------------------------------------------------ */

/* cmocka's asserts must not fire on the loop thread: handlers count failures here and
 * the test thread asserts the count is 0. */
static atomic_int handler_errors;
#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);                     \
      atomic_fetch_add(&handler_errors, 1);                                                        \
    }                                                                                              \
  } while (0)

typedef struct fixture_s {
  uv_loop_t loop;
  uv_async_t stop;
  pthread_t thread;
  cp_http_server_t *srv;
  int port;
  atomic_int requests;
  atomic_int aborts;
  atomic_int closed;
  atomic_int flood_rc;     /* 1 until the flood handler finished */
  atomic_long flood_bytes; /* bytes the flood queued before CP_ETOOBIG */
  atomic_long up_bytes;    /* streamed body bytes the sink took so far */
  atomic_int up_paused;    /* 1 while /up/pause holds its body */
  atomic_int up_release;   /* set by the test: /up/pause resumes */
  atomic_int up_ends;      /* on_end calls */
  atomic_int drain_calls;
  atomic_long max_pending; /* largest cp_http_stream_pending seen by /drain */
} fixture_t;

typedef struct pending_s {
  uv_timer_t timer;
  cp_http_request_t *req;
  fixture_t *fx;
  int step;
} pending_t;

static void pending_free(uv_handle_t *h) {
  free(h->data);
}

static void pending_done(pending_t *p) {
  uv_timer_stop(&p->timer);
  uv_close((uv_handle_t *)&p->timer, pending_free);
}

static void pending_abort(cp_http_request_t *req, void *ud) {
  (void)req;
  pending_t *p = ud;
  atomic_fetch_add(&p->fx->aborts, 1);
  p->req = NULL;
  pending_done(p);
}

static void hold_abort(cp_http_request_t *req, void *ud) {
  (void)req;
  atomic_fetch_add(&((fixture_t *)ud)->aborts, 1);
}

static void async_tick(uv_timer_t *t) {
  pending_t *p = t->data;
  char body[256];
  snprintf(body, sizeof body, "async:%s", p->req->query);
  CHECK((cp_http_respond(p->req, 200, "text/plain", body, strlen(body))) == (0));
  pending_done(p);
}

static void sse_tick(uv_timer_t *t) {
  pending_t *p = t->data;
  char ev[64];
  p->step++;
  snprintf(ev, sizeof ev, "data: %d\n\n", p->step);
  CHECK((cp_http_stream_write(p->req, ev, strlen(ev))) == (0));
  if (p->step == 3) {
    CHECK((cp_http_stream_end(p->req)) == (0));
    pending_done(p);
  }
}

static void flood_tick(uv_timer_t *t) {
  pending_t *p = t->data;
  static char chunk[16 * 1024];
  memset(chunk, 'x', sizeof chunk);
  for (int i = 0; i < 256; i++) {
    int rc = cp_http_stream_write(p->req, chunk, sizeof chunk);
    if (rc == 0) {
      atomic_fetch_add(&p->fx->flood_bytes, (long)sizeof chunk);
      continue;
    }
    atomic_store(&p->fx->flood_rc, rc);
    cp_http_abort(p->req); /* a too-slow client is dropped; no on_abort for us */
    pending_done(p);
    return;
  }
}

static pending_t *pending_start(fixture_t *fx, cp_http_request_t *req, uv_timer_cb cb,
                                uint64_t after, uint64_t repeat) {
  pending_t *p = calloc(1, sizeof *p);
  CHECK(p != NULL);
  if (!p)
    return NULL;
  p->req = req;
  p->fx = fx;
  uv_timer_init(&fx->loop, &p->timer);
  p->timer.data = p;
  uv_timer_start(&p->timer, cb, after, repeat);
  cp_http_request_set_on_abort(req, pending_abort, p);
  return p;
}

/* ---- streamed bodies and responses ------------------------------------------------- */

/* One streamed upload: counts bytes and pieces and hashes them (FNV-1a). */
typedef struct upload_s {
  uv_timer_t timer; /* /up/pause: polls for the test's release */
  fixture_t *fx;
  cp_http_request_t *req;
  uint64_t bytes;
  int pieces;
  uint32_t hash;
  bool pause_once;
} upload_t;

static void upload_free(uv_handle_t *h) {
  free(h->data);
}

static void upload_done(upload_t *u) {
  uv_timer_stop(&u->timer);
  uv_close((uv_handle_t *)&u->timer, upload_free);
}

static void upload_abort(cp_http_request_t *req, void *ud) {
  (void)req;
  upload_t *u = ud;
  atomic_fetch_add(&u->fx->aborts, 1);
  upload_done(u);
}

static void release_tick(uv_timer_t *t) {
  upload_t *u = t->data;
  if (!atomic_load(&u->fx->up_release))
    return;
  uv_timer_stop(t);
  atomic_store(&u->fx->up_paused, 0);
  cp_http_request_resume(u->req);
}

static void upload_data(cp_http_request_t *req, const char *data, size_t len, void *ud) {
  upload_t *u = ud;
  CHECK(atomic_load(&u->fx->up_paused) == 0); /* nothing arrives while paused */
  CHECK(len > 0);
  for (size_t i = 0; i < len; i++)
    u->hash = (u->hash ^ (unsigned char)data[i]) * 16777619u;
  u->bytes += len;
  u->pieces++;
  atomic_store(&u->fx->up_bytes, (long)u->bytes);
  if (u->pause_once) {
    u->pause_once = false;
    atomic_store(&u->fx->up_paused, 1);
    cp_http_request_pause(req);
    cp_http_request_pause(req); /* idempotent */
    uv_timer_start(&u->timer, release_tick, 10, 10);
  }
}

static void upload_end(cp_http_request_t *req, void *ud) {
  upload_t *u = ud;
  atomic_fetch_add(&u->fx->up_ends, 1);
  char body[128];
  snprintf(body, sizeof body, "bytes=%llu hash=%08x pieces>1=%d", (unsigned long long)u->bytes,
           u->hash, u->pieces > 1);
  CHECK(cp_http_respond(req, 200, "text/plain", body, strlen(body)) == 0);
  upload_done(u);
}

static int stream_filter(const cp_http_request_t *req, void *ud) {
  (void)ud;
  return strncmp(req->path, "/up/", 4) == 0;
}

static void stream_handler(fixture_t *fx, cp_http_request_t *req) {
  CHECK(req->body_len == 0);
  if (strcmp(req->path, "/up/early413") == 0) {
    CHECK(cp_http_json_error(req, 413, "upload too large") == 0);
    return;
  }
  upload_t *u = calloc(1, sizeof *u);
  CHECK(u != NULL);
  u->fx = fx;
  u->req = req;
  u->hash = 2166136261u;
  u->pause_once = strcmp(req->path, "/up/pause") == 0;
  uv_timer_init(&fx->loop, &u->timer);
  u->timer.data = u;
  cp_http_request_set_on_abort(req, upload_abort, u);
  CHECK(cp_http_request_set_body_sink(req, upload_data, upload_end, u) == 0);
  CHECK(cp_http_request_set_body_sink(req, upload_data, upload_end, u) == CP_EINVAL);
}

#define DRAIN_TOTAL (32u << 20)
#define DRAIN_CHUNK (128u * 1024)
#define DRAIN_LOW (64u * 1024)

/* Pulls the next chunks of a /drain download while little is unsent. */
static void drain_more(cp_http_request_t *req, void *ud) {
  fixture_t *fx = ud;
  static char chunk[DRAIN_CHUNK];
  atomic_fetch_add(&fx->drain_calls, 1);
  long sent = atomic_load(&fx->flood_bytes);
  while (cp_http_stream_pending(req) <= DRAIN_LOW && sent < (long)DRAIN_TOTAL) {
    for (size_t i = 0; i < sizeof chunk; i++)
      chunk[i] = (char)((size_t)sent + i);
    CHECK(cp_http_stream_write(req, chunk, sizeof chunk) == 0);
    sent += (long)sizeof chunk;
    long pending = (long)cp_http_stream_pending(req);
    if (pending > atomic_load(&fx->max_pending))
      atomic_store(&fx->max_pending, pending);
  }
  atomic_store(&fx->flood_bytes, sent);
  if (sent == (long)DRAIN_TOTAL)
    CHECK(cp_http_stream_end(req) == 0);
}

static void handler(cp_http_request_t *req, void *ud) {
  fixture_t *fx = ud;
  if (strncmp(req->path, "/up/", 4) == 0) {
    stream_handler(fx, req);
    return;
  }
  atomic_fetch_add(&fx->requests, 1);
  char body[512];
  if (strcmp(req->path, "/hello") == 0) {
    snprintf(body, sizeof body, "hello %s", req->method);
    CHECK((cp_http_respond(req, 200, "text/plain", body, strlen(body))) == (0));
  } else if (strcmp(req->path, "/echo") == 0) {
    const char *x = cp_http_header(req, "x-test");
    const char *h[] = {"X-Echo", x ? x : "", "X-Query", req->query, NULL};
    CHECK((cp_http_respond_headers(req, 201, h, req->body, req->body_len)) == (0));
  } else if (strcmp(req->path, "/remote") == 0) {
    CHECK((cp_http_respond(req, 200, "text/plain", req->remote, strlen(req->remote))) == (0));
  } else if (strcmp(req->path, "/async") == 0) {
    pending_start(fx, req, async_tick, 30, 0);
  } else if (strcmp(req->path, "/sse") == 0) {
    const char *h[] = {"Content-Type", "text/event-stream", "Cache-Control", "no-cache", NULL};
    CHECK((cp_http_stream_start(req, 200, h)) == (0));
    pending_start(fx, req, sse_tick, 5, 5);
  } else if (strcmp(req->path, "/flood") == 0) {
    const char *h[] = {"Content-Type", "text/event-stream", NULL};
    CHECK((cp_http_stream_start(req, 200, h)) == (0));
    pending_start(fx, req, flood_tick, 1, 1);
  } else if (strcmp(req->path, "/stream-open") == 0) {
    const char *h[] = {"Content-Type", "text/event-stream", NULL};
    CHECK(cp_http_stream_start(req, 200, h) == 0);
    CHECK(cp_http_stream_write(req, "data: hi\n\n", 10) == 0);
    cp_http_request_set_on_abort(req, hold_abort, fx); /* never ended */
  } else if (strcmp(req->path, "/len/short") == 0) {
    /* promises 10 bytes, sends 5: the client must see the cut */
    CHECK(cp_http_request_set_body_sink(req, upload_data, NULL, NULL) == CP_EINVAL);
    CHECK(cp_http_stream_start_length(req, 200, NULL, 10) == 0);
    CHECK(cp_http_stream_write(req, "12345", 5) == 0);
    CHECK(cp_http_stream_end(req) == 0);
  } else if (strcmp(req->path, "/len/exact") == 0) {
    const char *h[] = {"Content-Type", "text/plain", NULL};
    CHECK(cp_http_stream_start_length(req, 200, h, 10) == 0);
    CHECK(cp_http_stream_write(req, "12345", 5) == 0);
    CHECK(cp_http_stream_write(req, "678901", 6) == CP_EINVAL); /* past the length */
    CHECK(cp_http_stream_write(req, "67890", 5) == 0);
    CHECK(cp_http_stream_end(req) == 0);
  } else if (strcmp(req->path, "/drain") == 0) {
    atomic_store(&fx->flood_bytes, 0);
    CHECK(cp_http_stream_start_length(req, 200, NULL, DRAIN_TOTAL) == 0);
    cp_http_stream_set_on_drain(req, DRAIN_LOW, drain_more, fx);
    drain_more(req, fx);
    atomic_store(&fx->drain_calls, 0); /* count only the server's calls */
  } else if (strcmp(req->path, "/hold") == 0) {
    cp_http_request_set_on_abort(req, hold_abort, fx); /* never answered */
  } else if (strcmp(req->path, "/nocontent") == 0) {
    CHECK((cp_http_respond(req, 204, NULL, NULL, 0)) == (0));
  } else if (strcmp(req->path, "/badheader") == 0) {
    const char *bad[] = {"X-Evil", "a\r\nSet-Cookie: x=1", NULL};
    const char *own[] = {"Content-Length", "5", NULL};
    CHECK((cp_http_respond_headers(req, 200, bad, "no", 2)) == (CP_EINVAL));
    CHECK((cp_http_respond_headers(req, 200, own, "no", 2)) == (CP_EINVAL));
    CHECK((cp_http_respond(req, 99, NULL, NULL, 0)) == (CP_EINVAL));
    CHECK((cp_http_stream_write(req, "x", 1)) == (CP_EINVAL)); /* not streaming */
    /* the request is still open after refused calls */
    CHECK((cp_http_json_error(req, 422, "bad \"input\"\n")) == (0));
  } else {
    CHECK((cp_http_json_error(req, 404, "no such path")) == (0));
  }
}

static void *loop_main(void *arg) {
  fixture_t *fx = arg;
  uv_run(&fx->loop, UV_RUN_DEFAULT);
  return NULL;
}

static void on_server_closed(void *ud) {
  atomic_store(&((fixture_t *)ud)->closed, 1);
}

static void stop_cb(uv_async_t *a) {
  fixture_t *fx = a->data;
  cp_http_server_close(fx->srv, on_server_closed);
  uv_close((uv_handle_t *)a, NULL);
}

static fixture_t *fx_start(const cp_http_server_opts_t *opts) {
  fixture_t *fx = calloc(1, sizeof *fx);
  assert_non_null(fx);
  atomic_init(&fx->flood_rc, 1);
  assert_int_equal(uv_loop_init(&fx->loop), 0);
  assert_int_equal(cp_http_server_new(&fx->loop, opts, handler, fx, &fx->srv), 0);
  cp_http_server_set_stream_filter(fx->srv, stream_filter, NULL);
  assert_int_equal(cp_http_server_port(fx->srv), 0);
  assert_int_equal(cp_http_server_listen(fx->srv, "127.0.0.1", 0), 0);
  fx->port = cp_http_server_port(fx->srv);
  assert_true(fx->port > 0);
  assert_int_equal(uv_async_init(&fx->loop, &fx->stop, stop_cb), 0);
  fx->stop.data = fx;
  assert_int_equal(pthread_create(&fx->thread, NULL, loop_main, fx), 0);
  return fx;
}

/* Closes the server from its loop, joins the loop thread and frees fx. Returns how many
 * requests were aborted over the fixture's life. */
static int fx_stop(fixture_t *fx) {
  uv_async_send(&fx->stop);
  pthread_join(fx->thread, NULL);
  assert_int_equal(atomic_load(&fx->closed), 1);
  assert_int_equal(uv_loop_close(&fx->loop), 0); /* every handle was closed */
  assert_int_equal(atomic_load(&handler_errors), 0);
  int aborts = atomic_load(&fx->aborts);
  free(fx);
  return aborts;
}

/* Polls cond (an expression on fx) for up to 5 s. */
#define WAIT_FOR(cond)                                                                             \
  do {                                                                                             \
    for (int w_ = 0; w_ < 500 && !(cond); w_++)                                                    \
      usleep(10 * 1000);                                                                           \
    assert_true(cond);                                                                             \
  } while (0)

/* ---- blocking client ------------------------------------------------------------------ */

typedef struct resp_s {
  int status;
  char names[16][64];
  char values[16][512];
  int nh;
  bool in_value;
  cp_buf_t body;
  bool done;
  bool head; /* the request was HEAD: no body follows */
} resp_t;

typedef struct client_s {
  int fd;
  http_parser p;
  char buf[1 << 16];
  size_t len, off;
  resp_t *r;
} client_t;

static void append_bounded(char *dst, size_t cap, const char *at, size_t len) {
  size_t have = strlen(dst);
  if (len > cap - 1 - have)
    len = cap - 1 - have;
  memcpy(dst + have, at, len);
  dst[have + len] = '\0';
}

static int c_on_field(http_parser *p, const char *at, size_t len) {
  resp_t *r = ((client_t *)p->data)->r;
  if (r->in_value || r->nh == 0) {
    if (r->nh == 16)
      return 0;
    r->nh++;
    r->names[r->nh - 1][0] = r->values[r->nh - 1][0] = '\0';
    r->in_value = false;
  }
  append_bounded(r->names[r->nh - 1], sizeof r->names[0], at, len);
  return 0;
}

static int c_on_value(http_parser *p, const char *at, size_t len) {
  resp_t *r = ((client_t *)p->data)->r;
  r->in_value = true;
  append_bounded(r->values[r->nh - 1], sizeof r->values[0], at, len);
  return 0;
}

static int c_on_headers(http_parser *p) {
  resp_t *r = ((client_t *)p->data)->r;
  r->status = (int)p->status_code;
  return r->head ? 1 : 0;
}

static int c_on_body(http_parser *p, const char *at, size_t len) {
  resp_t *r = ((client_t *)p->data)->r;
  return cp_buf_append(&r->body, at, len) == 0 ? 0 : -1;
}

static int c_on_complete(http_parser *p) {
  ((client_t *)p->data)->r->done = true;
  http_parser_pause(p, 1);
  return 0;
}

static const http_parser_settings client_settings = {
    .on_header_field = c_on_field,
    .on_header_value = c_on_value,
    .on_headers_complete = c_on_headers,
    .on_body = c_on_body,
    .on_message_complete = c_on_complete,
};

static int connect_port(int port, int rcvbuf) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (rcvbuf)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  return fd;
}

static client_t *client_new(int port) {
  client_t *cl = calloc(1, sizeof *cl);
  assert_non_null(cl);
  cl->fd = connect_port(port, 0);
  http_parser_init(&cl->p, HTTP_RESPONSE);
  cl->p.data = cl;
  return cl;
}

static void client_free(client_t *cl) {
  close(cl->fd);
  free(cl);
}

static void client_send(client_t *cl, const char *data, size_t len) {
  while (len > 0) {
    ssize_t n = send(cl->fd, data, len, MSG_NOSIGNAL);
    assert_true(n > 0);
    data += n;
    len -= (size_t)n;
  }
}

static void client_sends(client_t *cl, const char *s) {
  client_send(cl, s, strlen(s));
}

static void resp_init(resp_t *r, bool head) {
  memset(r, 0, sizeof *r);
  cp_buf_init(&r->body, 1 << 20);
  r->head = head;
}

/* Reads one response into r (initialized with resp_init). Returns 0 when it is complete,
 * -1 if the connection ended first. */
static int client_read(client_t *cl, resp_t *r) {
  cl->r = r;
  for (;;) {
    if (cl->off < cl->len) {
      http_parser_pause(&cl->p, 0);
      size_t used =
          http_parser_execute(&cl->p, &client_settings, cl->buf + cl->off, cl->len - cl->off);
      cl->off += used;
      if (r->done)
        return 0;
      if (HTTP_PARSER_ERRNO(&cl->p) != HPE_OK)
        return -1;
    }
    cl->off = cl->len = 0;
    ssize_t n = recv(cl->fd, cl->buf, sizeof cl->buf, 0);
    if (n <= 0) {
      http_parser_pause(&cl->p, 0);
      http_parser_execute(&cl->p, &client_settings, NULL, 0); /* body ends with EOF */
      return r->done ? 0 : -1;
    }
    cl->len = (size_t)n;
  }
}

static const char *resp_header(const resp_t *r, const char *name) {
  for (int i = 0; i < r->nh; i++)
    if (strcasecmp(r->names[i], name) == 0)
      return r->values[i];
  return NULL;
}

/* True when the server closed the connection (EOF) with nothing more to read. */
static bool client_sees_eof(client_t *cl) {
  if (cl->off < cl->len)
    return false;
  char b[256];
  return recv(cl->fd, b, sizeof b, 0) == 0;
}

/* One request, one response, on a fresh connection; the caller frees r->body. */
static void roundtrip(int port, const char *request, resp_t *r, bool head) {
  client_t *cl = client_new(port);
  client_sends(cl, request);
  resp_init(r, head);
  assert_int_equal(client_read(cl, r), 0);
  client_free(cl);
}

/* ---- socket tests --------------------------------------------------------------------- */

static void get_and_head(void **state) {
  (void)state;
  fixture_t *fx = fx_start(NULL);
  resp_t r;
  roundtrip(fx->port, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", &r, false);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body.data, "hello GET");
  assert_string_equal(resp_header(&r, "Content-Type"), "text/plain");
  assert_string_equal(resp_header(&r, "Content-Length"), "9");
  cp_buf_free(&r.body);

  roundtrip(fx->port, "HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n", &r, true);
  assert_int_equal(r.status, 200);
  assert_string_equal(resp_header(&r, "Content-Length"), "10"); /* "hello HEAD" */
  assert_int_equal(r.body.len, 0);
  cp_buf_free(&r.body);

  roundtrip(fx->port, "GET /remote HTTP/1.1\r\n\r\n", &r, false);
  assert_true(strncmp(r.body.data, "127.0.0.1:", 10) == 0);
  cp_buf_free(&r.body);

  roundtrip(fx->port, "GET /nocontent HTTP/1.1\r\n\r\n", &r, false);
  assert_int_equal(r.status, 204);
  assert_null(resp_header(&r, "Content-Length"));
  cp_buf_free(&r.body);

  roundtrip(fx->port, "GET /missing HTTP/1.1\r\n\r\n", &r, false);
  assert_int_equal(r.status, 404);
  assert_string_equal(resp_header(&r, "Content-Type"), "application/json");
  assert_string_equal(r.body.data, "{\"error\":{\"code\":404,\"message\":\"no such path\"}}");
  cp_buf_free(&r.body);

  /* refused header injection leaves the request open for a proper answer */
  roundtrip(fx->port, "GET /badheader HTTP/1.1\r\n\r\n", &r, false);
  assert_int_equal(r.status, 422);
  assert_null(resp_header(&r, "Set-Cookie"));
  assert_string_equal(r.body.data,
                      "{\"error\":{\"code\":422,\"message\":\"bad \\\"input\\\"\\n\"}}");
  cp_buf_free(&r.body);
  fx_stop(fx);
}

static void keep_alive_serves_two_requests(void **state) {
  (void)state;
  fixture_t *fx = fx_start(NULL);
  client_t *cl = client_new(fx->port);
  resp_t r;
  client_sends(cl, "POST /echo?a=1 HTTP/1.1\r\nX-Test: one\r\nContent-Length: 5\r\n\r\nfirst");
  resp_init(&r, false);
  assert_int_equal(client_read(cl, &r), 0);
  assert_int_equal(r.status, 201);
  assert_string_equal(r.body.data, "first");
  assert_string_equal(resp_header(&r, "X-Echo"), "one");
  assert_string_equal(resp_header(&r, "X-Query"), "a=1");
  assert_null(resp_header(&r, "Connection"));
  cp_buf_free(&r.body);
  /* same socket, second request; then Connection: close is honoured */
  client_sends(cl, "POST /echo HTTP/1.1\r\nx-TEST: two\r\nConnection: close\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n3\r\nsec\r\n3\r\nond\r\n0\r\n\r\n");
  resp_init(&r, false);
  assert_int_equal(client_read(cl, &r), 0);
  assert_int_equal(r.status, 201);
  assert_string_equal(r.body.data, "second");
  assert_string_equal(resp_header(&r, "X-Echo"), "two");
  assert_string_equal(resp_header(&r, "Connection"), "close");
  assert_true(client_sees_eof(cl));
  cp_buf_free(&r.body);
  client_free(cl);
  assert_int_equal(atomic_load(&fx->requests), 2);
  fx_stop(fx);
}

static void http10_closes_unless_keep_alive(void **state) {
  (void)state;
  fixture_t *fx = fx_start(NULL);
  client_t *cl = client_new(fx->port);
  resp_t r;
  client_sends(cl, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  resp_init(&r, false);
  assert_int_equal(client_read(cl, &r), 0);
  assert_string_equal(resp_header(&r, "Connection"), "keep-alive");
  cp_buf_free(&r.body);
  client_sends(cl, "GET /hello HTTP/1.0\r\n\r\n");
  resp_init(&r, false);
  assert_int_equal(client_read(cl, &r), 0);
  assert_string_equal(r.body.data, "hello GET");
  assert_string_equal(resp_header(&r, "Connection"), "close");
  assert_true(client_sees_eof(cl));
  cp_buf_free(&r.body);
  client_free(cl);
  fx_stop(fx);
}

static void pipelined_answered_in_order(void **state) {
  (void)state;
  fixture_t *fx = fx_start(NULL);
  client_t *cl = client_new(fx->port);
  /* the first answer is async (30 ms later); the others are immediate but must wait */
  client_sends(cl, "GET /async?id=1 HTTP/1.1\r\n\r\n"
                   "GET /hello HTTP/1.1\r\n\r\n"
                   "POST /echo?id=3 HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"
                   "GET /async?id=4 HTTP/1.1\r\n\r\n");
  const char *want[] = {"async:id=1", "hello GET", "hi", "async:id=4"};
  for (int i = 0; i < 4; i++) {
    resp_t r;
    resp_init(&r, false);
    assert_int_equal(client_read(cl, &r), 0);
    assert_string_equal(r.body.data, want[i]);
    cp_buf_free(&r.body);
  }
  client_free(cl);
  fx_stop(fx);
}

static void expect_error_and_close(int port, const char *req, size_t len, int status,
                                   const char *body) {
  client_t *cl = client_new(port);
  client_send(cl, req, len);
  resp_t r;
  resp_init(&r, false);
  assert_int_equal(client_read(cl, &r), 0);
  assert_int_equal(r.status, status);
  assert_string_equal(resp_header(&r, "Content-Type"), "application/json");
  assert_string_equal(resp_header(&r, "Connection"), "close");
  assert_string_equal(r.body.data, body);
  assert_true(client_sees_eof(cl));
  cp_buf_free(&r.body);
  client_free(cl);
}

static void caps_and_garbage_answered_with_json(void **state) {
  (void)state;
  fixture_t *fx = fx_start(NULL);
  /* one 20 KiB header value: over the 16 KiB default */
  size_t vlen = 20 * 1024;
  char *big = malloc(vlen + 128);
  assert_non_null(big);
  int n = snprintf(big, 128, "GET /hello HTTP/1.1\r\nX-Big: ");
  memset(big + n, 'a', vlen);
  memcpy(big + n + vlen, "\r\n\r\n", 4);
  expect_error_and_close(
      fx->port, big, (size_t)n + vlen + 4, 431,
      "{\"error\":{\"code\":431,\"message\":\"request header fields too large\"}}");
  free(big);

  /* 65 header fields: over the count cap */
  cp_buf_t many;
  cp_buf_init(&many, 1 << 16);
  assert_int_equal(cp_buf_puts(&many, "GET /hello HTTP/1.1\r\n"), 0);
  for (int i = 0; i < 65; i++) {
    char line[32];
    snprintf(line, sizeof line, "X-H%d: v\r\n", i);
    assert_int_equal(cp_buf_puts(&many, line), 0);
  }
  assert_int_equal(cp_buf_puts(&many, "\r\n"), 0);
  expect_error_and_close(fx->port, many.data, many.len, 431,
                         "{\"error\":{\"code\":431,\"message\":\"too many header fields\"}}");
  cp_buf_free(&many);

  /* a declared body over 1 MiB is refused before it is sent */
  const char *post = "POST /echo HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n";
  expect_error_and_close(fx->port, post, strlen(post), 413,
                         "{\"error\":{\"code\":413,\"message\":\"request body too large\"}}");

  /* a method the parser does not know: 405, not a malformed request */
  const char *query = "QUERY /hello HTTP/1.1\r\nHost: x\r\n\r\n";
  expect_error_and_close(fx->port, query, strlen(query), 405,
                         "{\"error\":{\"code\":405,\"message\":\"method not allowed: this "
                         "server serves GET, HEAD, POST, PUT and DELETE\"}}");
  /* garbage request line */
  const char *junk = "hello world\r\n\r\n";
  expect_error_and_close(
      fx->port, junk, strlen(junk), 400,
      "{\"error\":{\"code\":400,\"message\":\"malformed request: invalid HTTP method\"}}");
  const char *junk2 = "GET /a b c HTTP/1.1\r\n\r\n";
  expect_error_and_close(
      fx->port, junk2, strlen(junk2), 400,
      "{\"error\":{\"code\":400,\"message\":\"malformed request: invalid constant string\"}}");
  assert_int_equal(atomic_load(&fx->requests), 0);
  fx_stop(fx);
}

static void too_many_connections_get_503(void **state) {
  (void)state;
  cp_http_server_opts_t o = {.max_connections = 2};
  fixture_t *fx = fx_start(&o);
  client_t *a = client_new(fx->port), *b = client_new(fx->port);
  resp_t r;
  /* a round trip on each proves both were accepted and counted */
  client_t *both[] = {a, b};
  for (int i = 0; i < 2; i++) {
    client_sends(both[i], "GET /hello HTTP/1.1\r\n\r\n");
    resp_init(&r, false);
    assert_int_equal(client_read(both[i], &r), 0);
    assert_int_equal(r.status, 200);
    cp_buf_free(&r.body);
  }
  client_t *c = client_new(fx->port);
  resp_init(&r, false);
  assert_int_equal(client_read(c, &r), 0);
  assert_int_equal(r.status, 503);
  assert_string_equal(r.body.data,
                      "{\"error\":{\"code\":503,\"message\":\"too many connections\"}}");
  assert_true(client_sees_eof(c));
  cp_buf_free(&r.body);
  client_free(c);
  /* once one closes, a new connection is served again */
  client_free(a);
  bool served = false;
  for (int i = 0; i < 100 && !served; i++) {
    client_t *d = client_new(fx->port);
    client_sends(d, "GET /hello HTTP/1.1\r\n\r\n");
    resp_init(&r, false);
    served = client_read(d, &r) == 0 && r.status == 200;
    cp_buf_free(&r.body);
    client_free(d);
    if (!served)
      usleep(20 * 1000);
  }
  assert_true(served);
  client_free(b);
  fx_stop(fx);
}

static void async_respond_and_abort(void **state) {
  (void)state;
  fixture_t *fx = fx_start(NULL);
  resp_t r;
  roundtrip(fx->port, "GET /async?x=y HTTP/1.1\r\n\r\n", &r, false);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body.data, "async:x=y");
  cp_buf_free(&r.body);
  /* the client of a pending request goes away: the handler learns it */
  client_t *cl = client_new(fx->port);
  client_sends(cl, "GET /hold HTTP/1.1\r\n\r\n");
  WAIT_FOR(atomic_load(&fx->requests) == 2);
  client_free(cl);
  WAIT_FOR(atomic_load(&fx->aborts) == 1);
  fx_stop(fx);
}

static void sse_events_in_order(void **state) {
  (void)state;
  fixture_t *fx = fx_start(NULL);
  client_t *cl = client_new(fx->port);
  resp_t r;
  client_sends(cl, "GET /sse HTTP/1.1\r\nAccept: text/event-stream\r\n\r\n");
  resp_init(&r, false);
  assert_int_equal(client_read(cl, &r), 0);
  assert_int_equal(r.status, 200);
  assert_string_equal(resp_header(&r, "Content-Type"), "text/event-stream");
  assert_string_equal(resp_header(&r, "Transfer-Encoding"), "chunked");
  assert_string_equal(r.body.data, "data: 1\n\ndata: 2\n\ndata: 3\n\n");
  cp_buf_free(&r.body);
  /* the connection is still usable after the stream ended */
  client_sends(cl, "GET /hello HTTP/1.1\r\n\r\n");
  resp_init(&r, false);
  assert_int_equal(client_read(cl, &r), 0);
  assert_string_equal(r.body.data, "hello GET");
  cp_buf_free(&r.body);
  client_free(cl);

  /* HTTP/1.0: no chunking, the body ends with the connection */
  cl = client_new(fx->port);
  client_sends(cl, "GET /sse HTTP/1.0\r\n\r\n");
  resp_init(&r, false);
  assert_int_equal(client_read(cl, &r), 0);
  assert_null(resp_header(&r, "Transfer-Encoding"));
  assert_string_equal(resp_header(&r, "Connection"), "close");
  assert_string_equal(r.body.data, "data: 1\n\ndata: 2\n\ndata: 3\n\n");
  cp_buf_free(&r.body);
  client_free(cl);
  fx_stop(fx);
}

static void slow_stream_reader_gets_etoobig(void **state) {
  (void)state;
  cp_http_server_opts_t o = {.max_pending_output = 64 * 1024};
  fixture_t *fx = fx_start(&o);
  int fd = connect_port(fx->port, 4096); /* small window; this client never reads */
  const char *req = "GET /flood HTTP/1.1\r\n\r\n";
  assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
  WAIT_FOR(atomic_load(&fx->flood_rc) != 1);
  assert_int_equal(atomic_load(&fx->flood_rc), CP_ETOOBIG);
  /* some data went out before the cap hit; the server then dropped the client */
  assert_true(atomic_load(&fx->flood_bytes) > 0);
  close(fd);
  fx_stop(fx);
}

static void idle_and_slow_requests_time_out(void **state) {
  (void)state;
  cp_http_server_opts_t o = {.idle_timeout_ms = 200};
  fixture_t *fx = fx_start(&o);
  client_t *idle = client_new(fx->port);
  client_t *slow = client_new(fx->port);
  client_sends(slow, "GET /hello HTTP/1.1\r\nX-Slow: "); /* never finished */
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  assert_true(client_sees_eof(idle));
  assert_true(client_sees_eof(slow));
  clock_gettime(CLOCK_MONOTONIC, &t1);
  assert_true(t1.tv_sec - t0.tv_sec < 3);
  client_free(idle);
  client_free(slow);
  assert_int_equal(atomic_load(&fx->requests), 0);
  fx_stop(fx);
}

static void close_with_open_connections(void **state) {
  (void)state;
  fixture_t *fx = fx_start(NULL);
  client_t *held = client_new(fx->port), *streaming = client_new(fx->port);
  client_t *idle = client_new(fx->port), *partial = client_new(fx->port);
  client_sends(held, "GET /hold HTTP/1.1\r\n\r\n");
  client_sends(streaming, "GET /stream-open HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n");
  client_sends(partial, "POST /echo HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc");
  WAIT_FOR(atomic_load(&fx->requests) == 2);
  /* the loop must close with no handle left (ASan and valgrind check the memory), and
   * both unfinished requests hear of it */
  assert_int_equal(fx_stop(fx), 2);
  assert_true(client_sees_eof(held));
  assert_true(client_sees_eof(idle));
  assert_true(client_sees_eof(partial));
  client_free(held);
  client_free(streaming);
  client_free(idle);
  client_free(partial);
}

/* ---- streamed bodies and responses --------------------------------------------------- */

static uint32_t fnv(const char *d, size_t n, uint32_t h) {
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char)d[i]) * 16777619u;
  return h;
}

static char *pattern(size_t n) {
  char *p = malloc(n);
  assert_non_null(p);
  for (size_t i = 0; i < n; i++)
    p[i] = (char)(i * 7 + (i >> 10));
  return p;
}

/* The body is 64 times max_body_bytes; the sink gets all of it, in pieces, both with
 * Content-Length and chunked, and the connection stays usable afterwards. */
static void streamed_body_larger_than_cap(void **state) {
  (void)state;
  cp_http_server_opts_t o = {.max_body_bytes = 16 * 1024};
  fixture_t *fx = fx_start(&o);
  size_t n = 1 << 20;
  char *body = pattern(n);
  char want[128];
  snprintf(want, sizeof want, "bytes=%zu hash=%08x pieces>1=1", n, fnv(body, n, 2166136261u));

  client_t *cl = client_new(fx->port);
  char head[128];
  snprintf(head, sizeof head, "PUT /up/sink HTTP/1.1\r\nContent-Length: %zu\r\n\r\n", n);
  client_sends(cl, head);
  client_send(cl, body, n);
  resp_t r;
  resp_init(&r, false);
  assert_int_equal(client_read(cl, &r), 0);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body.data, want);
  cp_buf_free(&r.body);

  /* same connection: chunked, in uneven chunks */
  client_sends(cl, "PUT /up/sink HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
  for (size_t off = 0; off < n;) {
    size_t len = off + 70001 < n ? 70001 : n - off;
    char frame[32];
    snprintf(frame, sizeof frame, "%zx\r\n", len);
    client_sends(cl, frame);
    client_send(cl, body + off, len);
    client_sends(cl, "\r\n");
    off += len;
  }
  client_sends(cl, "0\r\n\r\n");
  resp_init(&r, false);
  assert_int_equal(client_read(cl, &r), 0);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body.data, want);
  assert_null(resp_header(&r, "Connection"));
  cp_buf_free(&r.body);

  /* the same body on a buffered route is still refused by the cap */
  snprintf(head, sizeof head, "PUT /echo HTTP/1.1\r\nContent-Length: %zu\r\n\r\n", n);
  client_sends(cl, head);
  resp_init(&r, false);
  assert_int_equal(client_read(cl, &r), 0);
  assert_int_equal(r.status, 413);
  cp_buf_free(&r.body);
  client_free(cl);

  /* an empty streamed body: on_end only */
  roundtrip(fx->port, "PUT /up/sink HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &r, false);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body.data, "bytes=0 hash=811c9dc5 pieces>1=0");
  cp_buf_free(&r.body);
  assert_int_equal(atomic_load(&fx->up_ends), 3);
  free(body);
  assert_int_equal(fx_stop(fx), 0);
}

/* A paused body is not delivered and not read: the client's sends block; after resume
 * everything arrives intact. */
static void paused_body_stops_reading(void **state) {
  (void)state;
  fixture_t *fx = fx_start(NULL);
  size_t n = 64u << 20;
  char *body = pattern(n);
  client_t *cl = client_new(fx->port);
  char head[128];
  snprintf(head, sizeof head, "PUT /up/pause HTTP/1.1\r\nContent-Length: %zu\r\n\r\n", n);
  client_sends(cl, head);
  client_send(cl, body, 1000); /* the first piece makes the sink pause */
  WAIT_FOR(atomic_load(&fx->up_paused) == 1);
  size_t off = 1000;
  for (int idle = 0; idle < 20 && off < n;) {
    ssize_t k = send(cl->fd, body + off, n - off, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (k > 0) {
      off += (size_t)k;
      idle = 0;
    } else {
      usleep(10 * 1000);
      idle++;
    }
  }
  long during = atomic_load(&fx->up_bytes);
  assert_true(off < n);             /* the server stopped reading */
  assert_true(during < 256 * 1024); /* and delivered nothing past the pause */
  usleep(100 * 1000);
  assert_int_equal(atomic_load(&fx->up_bytes), during);
  atomic_store(&fx->up_release, 1);
  client_send(cl, body + off, n - off);
  resp_t r;
  resp_init(&r, false);
  assert_int_equal(client_read(cl, &r), 0);
  assert_int_equal(r.status, 200);
  char want[128];
  snprintf(want, sizeof want, "bytes=%zu hash=%08x pieces>1=1", n, fnv(body, n, 2166136261u));
  assert_string_equal(r.body.data, want);
  cp_buf_free(&r.body);
  client_free(cl);
  free(body);
  assert_int_equal(fx_stop(fx), 0);
}

/* 100-continue goes out when the handler asks for the body; an early 413 goes out
 * instead of it, ends the connection, and the body is never delivered. */
static void continue_and_early_response(void **state) {
  (void)state;
  fixture_t *fx = fx_start(NULL);
  client_t *cl = client_new(fx->port);
  client_sends(cl, "PUT /up/sink HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
  char got[64] = "";
  ssize_t k = recv(cl->fd, got, 25, MSG_WAITALL);
  assert_int_equal(k, 25);
  assert_string_equal(got, "HTTP/1.1 100 Continue\r\n\r\n");
  client_sends(cl, "abc");
  resp_t r;
  resp_init(&r, false);
  assert_int_equal(client_read(cl, &r), 0);
  assert_int_equal(r.status, 200);
  assert_non_null(strstr(r.body.data, "bytes=3 "));
  cp_buf_free(&r.body);
  client_free(cl);

  cl = client_new(fx->port);
  client_sends(cl, "PUT /up/early413 HTTP/1.1\r\nExpect: 100-continue\r\n"
                   "Content-Length: 100000000\r\n\r\n");
  resp_init(&r, false);
  assert_int_equal(client_read(cl, &r), 0);
  assert_int_equal(r.status, 413);
  assert_string_equal(resp_header(&r, "Connection"), "close");
  assert_string_equal(r.body.data, "{\"error\":{\"code\":413,\"message\":\"upload too large\"}}");
  cp_buf_free(&r.body);
  client_free(cl);

  /* early answer while the body is being sent: the client reads it, then EOF */
  cl = client_new(fx->port);
  client_sends(cl, "PUT /up/early413 HTTP/1.1\r\nContent-Length: 100000\r\n\r\nxxxxxxxx");
  resp_init(&r, false);
  assert_int_equal(client_read(cl, &r), 0);
  assert_int_equal(r.status, 413);
  char junk[4096];
  memset(junk, 'x', sizeof junk);
  send(cl->fd, junk, sizeof junk, MSG_NOSIGNAL); /* discarded */
  assert_true(client_sees_eof(cl));
  cp_buf_free(&r.body);
  client_free(cl);

  /* a client that goes away mid-body: on_abort, never on_end */
  cl = client_new(fx->port);
  client_sends(cl, "PUT /up/sink HTTP/1.1\r\nContent-Length: 100000\r\n\r\nhalf");
  WAIT_FOR(atomic_load(&fx->up_bytes) == 4);
  client_free(cl);
  WAIT_FOR(atomic_load(&fx->aborts) == 1);
  assert_int_equal(atomic_load(&fx->up_ends), 1);
  assert_int_equal(fx_stop(fx), 1);
}

/* Content-Length streams: exact length keeps the connection; short closes it. */
static void fixed_length_stream(void **state) {
  (void)state;
  fixture_t *fx = fx_start(NULL);
  client_t *cl = client_new(fx->port);
  client_sends(cl, "GET /len/exact HTTP/1.1\r\n\r\n");
  resp_t r;
  resp_init(&r, false);
  assert_int_equal(client_read(cl, &r), 0);
  assert_string_equal(resp_header(&r, "Content-Length"), "10");
  assert_null(resp_header(&r, "Transfer-Encoding"));
  assert_string_equal(r.body.data, "1234567890");
  cp_buf_free(&r.body);
  client_sends(cl, "GET /len/short HTTP/1.1\r\n\r\n");
  resp_init(&r, false);
  assert_int_equal(client_read(cl, &r), -1); /* EOF inside the promised body */
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body.data, "12345");
  cp_buf_free(&r.body);
  client_free(cl);
  assert_int_equal(fx_stop(fx), 0);
}

/* A 32 MiB download paced by on_drain: all bytes arrive in order while what the
 * connection holds stays bounded, to a slow reader (small receive buffer) and to a fast
 * one (whose writes complete at once: memory is only released when the loop runs, so
 * pacing must count those bytes too, which takes many drain rounds). */
static void drain_download(int rcvbuf) {
  fixture_t *fx = fx_start(NULL);
  client_t *cl = calloc(1, sizeof *cl);
  assert_non_null(cl);
  cl->fd = connect_port(fx->port, rcvbuf);
  client_sends(cl, "GET /drain HTTP/1.1\r\n\r\n");
  /* read the head by hand, then count and check the body bytes */
  char buf[8192];
  size_t have = 0;
  char *end = NULL;
  while (!end) {
    ssize_t k = recv(cl->fd, buf + have, sizeof buf - 1 - have, 0);
    assert_true(k > 0);
    have += (size_t)k;
    buf[have] = '\0';
    end = strstr(buf, "\r\n\r\n");
  }
  char want_len[64];
  snprintf(want_len, sizeof want_len, "Content-Length: %u\r\n", DRAIN_TOTAL);
  assert_non_null(strstr(buf, want_len));
  size_t got = 0;
  bool ok = true;
  const char *p = end + 4;
  size_t len = have - (size_t)(p - buf);
  for (;;) {
    for (size_t i = 0; i < len; i++, got++)
      ok = ok && p[i] == (char)got; /* byte n of the stream is (char)n */
    if (got >= DRAIN_TOTAL)
      break;
    ssize_t k = recv(cl->fd, buf, sizeof buf, 0);
    assert_true(k > 0);
    p = buf;
    len = (size_t)k;
  }
  assert_true(ok);
  assert_int_equal(got, DRAIN_TOTAL);
  client_free(cl);
  assert_true(atomic_load(&fx->drain_calls) > (long)(DRAIN_TOTAL / DRAIN_CHUNK / 2));
  assert_true(atomic_load(&fx->max_pending) <= (long)(DRAIN_LOW + DRAIN_CHUNK));
  assert_int_equal(fx_stop(fx), 0);
}

static void drain_paces_slow_download(void **state) {
  (void)state;
  drain_download(16 * 1024);
}

static void drain_paces_fast_download(void **state) {
  (void)state;
  drain_download(0);
}

/* ---- detached connection: parser edge cases without sockets -------------------------- */

typedef struct sink_s {
  cp_buf_t out;
  int closed;
} sink_t;

static void sink_fn(void *ud, const char *data, size_t len) {
  sink_t *s = ud;
  if (!data) {
    s->closed++;
    return;
  }
  assert_int_equal(cp_buf_append(&s->out, data, len), 0);
}

typedef struct detached_s {
  uv_loop_t loop;
  fixture_t fx;
  cp_http_server_t *srv;
  cp__http_conn_t *conn;
  sink_t sink;
} detached_t;

static void detached_start(detached_t *d, const cp_http_server_opts_t *opts) {
  memset(d, 0, sizeof *d);
  assert_int_equal(uv_loop_init(&d->loop), 0);
  assert_int_equal(cp_http_server_new(&d->loop, opts, handler, &d->fx, &d->srv), 0);
  cp_buf_init(&d->sink.out, 1 << 22);
  assert_int_equal(cp__http_conn_new_detached(d->srv, sink_fn, &d->sink, &d->conn), 0);
}

static void detached_stop(detached_t *d) {
  cp__http_conn_free_detached(d->conn);
  cp_http_server_close(d->srv, NULL);
  assert_int_equal(uv_run(&d->loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uv_loop_close(&d->loop), 0);
  assert_int_equal(atomic_load(&handler_errors), 0);
  cp_buf_free(&d->sink.out);
}

static int feed(detached_t *d, const char *s) {
  return cp__http_conn_feed(d->conn, s, strlen(s));
}

static void detached_parsing_edge_cases(void **state) {
  (void)state;
  detached_t d;
  detached_start(&d, NULL);
  /* absolute-form target, bytes split anywhere, trailers ignored, header lookup by any
   * case */
  const char *req = "POST http://example.com/echo?q=%20x HTTP/1.1\r\nX-TEST:  spaced  \r\n"
                    "Transfer-Encoding: chunked\r\n\r\n4\r\nbody\r\n0\r\nTrailer: t\r\n\r\n";
  for (const char *p = req; *p; p++)
    assert_int_equal(cp__http_conn_feed(d.conn, p, 1), 0);
  const char *want = "HTTP/1.1 201 Created\r\nX-Echo: spaced\r\nX-Query: q=%20x\r\n"
                     "Content-Length: 4\r\n\r\nbody";
  assert_string_equal(d.sink.out.data, want);
  assert_int_equal(d.sink.closed, 0);
  detached_stop(&d);

  cp_http_server_opts_t o = {.max_url_bytes = 32, .max_body_bytes = 8};
  detached_start(&d, &o);
  assert_int_equal(feed(&d, "GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n\r\n"),
                   CP_ECANCELED);
  assert_non_null(strstr(d.sink.out.data, "HTTP/1.1 414 URI Too Long\r\n"));
  assert_non_null(strstr(d.sink.out.data, "\"message\":\"request URL too long\""));
  assert_int_equal(d.sink.closed, 1);
  assert_int_equal(feed(&d, "GET / HTTP/1.1\r\n\r\n"), CP_ECANCELED); /* ignored */
  detached_stop(&d);

  detached_start(&d, &o);
  assert_int_equal(feed(&d, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "5\r\n12345\r\n5\r\n67890\r\n0\r\n\r\n"),
                   CP_ECANCELED);
  assert_non_null(strstr(d.sink.out.data, "HTTP/1.1 413 Payload Too Large\r\n"));
  detached_stop(&d);

  /* a NUL in the request line, an invalid header token, and a bare LF-only request */
  detached_start(&d, NULL);
  assert_int_equal(cp__http_conn_feed(d.conn, "GET /\0 HTTP/1.1\r\n\r\n", 20), CP_ECANCELED);
  assert_non_null(strstr(d.sink.out.data, "HTTP/1.1 400 Bad Request\r\n"));
  detached_stop(&d);
  detached_start(&d, NULL);
  assert_int_equal(feed(&d, "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n"), CP_ECANCELED);
  assert_non_null(strstr(d.sink.out.data, "invalid character in header"));
  detached_stop(&d);
  detached_start(&d, NULL);
  assert_int_equal(feed(&d, "GET /hello HTTP/1.1\n\n"), 0);
  assert_non_null(strstr(d.sink.out.data, "hello GET"));
  detached_stop(&d);
}

static void detached_pending_request_aborted_on_free(void **state) {
  (void)state;
  detached_t d;
  detached_start(&d, NULL);
  /* a held request and input behind it; freeing the connection aborts the request */
  assert_int_equal(feed(&d, "GET /hold HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n"), 0);
  assert_int_equal(d.sink.out.len, 0);
  cp__http_conn_free_detached(d.conn);
  d.conn = NULL;
  assert_int_equal(atomic_load(&d.fx.aborts), 1);
  detached_stop(&d);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(get_and_head),
      cmocka_unit_test(keep_alive_serves_two_requests),
      cmocka_unit_test(http10_closes_unless_keep_alive),
      cmocka_unit_test(pipelined_answered_in_order),
      cmocka_unit_test(caps_and_garbage_answered_with_json),
      cmocka_unit_test(too_many_connections_get_503),
      cmocka_unit_test(async_respond_and_abort),
      cmocka_unit_test(sse_events_in_order),
      cmocka_unit_test(slow_stream_reader_gets_etoobig),
      cmocka_unit_test(idle_and_slow_requests_time_out),
      cmocka_unit_test(close_with_open_connections),
      cmocka_unit_test(streamed_body_larger_than_cap),
      cmocka_unit_test(paused_body_stops_reading),
      cmocka_unit_test(continue_and_early_response),
      cmocka_unit_test(fixed_length_stream),
      cmocka_unit_test(drain_paces_slow_download),
      cmocka_unit_test(drain_paces_fast_download),
      cmocka_unit_test(detached_parsing_edge_cases),
      cmocka_unit_test(detached_pending_request_aborted_on_free),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
