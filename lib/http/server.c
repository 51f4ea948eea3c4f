/* HTTP/1.1 server: libuv for sockets and timers, http-parser for the wire format.
 *
 * Each connection owns one http_parser, a buffer of received-but-unparsed bytes (`in`),
 * and the storage of the request being parsed (`head`: target, header names and values,
 * path and query as NUL-terminated strings; `body`). on_message_complete pauses the
 * parser, so http_parser_execute returns after exactly one request; the handler then
 * runs, and parsing resumes only when the response is complete. Pipelined requests are
 * thus answered in order, and at most one request per connection is ever alive.
 *
 * Bounds: header, URL and body caps are checked in the parser callbacks; unparsed input
 * stops the socket reading past IN_HIGH; parsing also pauses while the connection's
 * unsent output exceeds max_pending_output, so a client that never reads cannot make
 * memory grow. Requests must arrive within idle_timeout_ms (one uv_timer per connection,
 * not extended by reads, so trickling bytes does not keep a connection open).
 *
 * Closing: a response that ends the connection (errors, Connection: close, HTTP/1.0)
 * shuts down the write side after the queued data and then discards input until the
 * client's EOF or LINGER_MS, so the client is not reset before it reads the answer.
 * Connection memory is released when both of its handles (tcp, timer) have closed; the
 * server's memory when the listener and every connection have closed.
 *
 * Streamed request bodies: when the stream filter picks a request, on_headers_complete
 * pauses the parser and the handler runs before any body byte is parsed. Afterwards the
 * parser runs only while the sink is open (set, not paused, no response yet); on_body
 * pauses it after each piece, and process() hands the piece to the sink once
 * http_parser_execute returned, so a sink that responds or pauses never runs inside the
 * parser. Unparsed input is capped as before, which stops the socket while paused.
 *
 * The same code serves "detached" connections (server_internal.h) that read from
 * cp__http_conn_feed and write to a sink, for the fuzzer.
 */
#include "http/server.h"
#include "http/server_internal.h"

#include "core/buf.h"
#include "core/error.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <http_parser.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define READ_CHUNK (64 * 1024)
#define IN_HIGH (64 * 1024)   /* stop reading with this many unparsed bytes */
#define IN_LIMIT (256 * 1024) /* hard cap on unparsed bytes */
#define LINGER_MS 2000
#define BIG_BODY (64 * 1024)      /* body buffers larger than this are freed per request */
#define RESP_HEAD_LIMIT (1 << 20) /* status line + headers of one response */

enum conn_state {
  ST_READING,   /* waiting for or parsing a request */
  ST_READY,     /* a request is complete, about to be dispatched */
  ST_HANDLING,  /* the handler owns the request */
  ST_STREAMING, /* a streamed response is in progress */
  ST_DRAINING,  /* last response queued; waiting for the client to go */
};

enum last_cb { CB_NONE, CB_FIELD, CB_VALUE };

struct cp_http_server_s {
  uv_loop_t *loop;
  cp_http_server_opts_t opts;
  cp_http_handler_fn handler;
  void *ud;
  cp_http_stream_filter_fn stream_filter;
  void *stream_filter_ud;
  uv_tcp_t listener;
  uv_tcp_t reject; /* accepts and drops a connection we had no memory for */
  bool listening, closing, listener_closed, reject_busy, accept_pending;
  int port;
  cp_http_closed_fn on_closed;
  cp__http_conn_t *conns; /* socket connections, until their memory is released */
  size_t nconns;          /* entries in conns */
  size_t nactive;         /* connections counted against max_connections */
  char readbuf[READ_CHUNK];
};

struct cp__http_conn_s {
  cp_http_server_t *srv;
  cp__http_conn_t *prev, *next;
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_idle_t kick; /* runs process() on the next loop turn (cp_http_request_resume) */
  uv_shutdown_t shutdown;
  int handles_open;
  size_t unfreed; /* bytes of queued writes whose write_cb has not run (memory held) */
  bool detached, closing, counted, reading, processing;
  bool keep_alive, is_head, chunked, url_done, headers_done;
  enum conn_state state;
  cp__http_sink_fn sink;
  void *sink_ud;
  http_parser parser;
  cp_buf_t in;
  size_t in_off;
  cp_buf_t head; /* target, then header names and values, NUL-separated */
  cp_buf_t pq;   /* path and query, NUL-separated */
  cp_buf_t body;
  size_t url_len, hdr_bytes, nhdr;
  enum last_cb last;
  size_t (*hoff)[2];
  cp_http_header_t *hdrs;
  int err_status;
  const char *err_msg;
  cp_http_request_t req;
  cp_http_abort_fn on_abort;
  void *abort_ud;
  /* streamed request body (cp_http_server_set_stream_filter) */
  bool sbody;         /* this request's body goes to a sink */
  bool sbody_end;     /* the parser saw the end of the body */
  bool sbody_paused;  /* cp_http_request_pause */
  bool sbody_done;    /* on_end ran, or a response started first (rest discarded) */
  bool sent_continue; /* "100 Continue" went out */
  const char *piece;  /* body bytes the parser handed over, delivered after it returns */
  size_t piece_len;
  cp_http_body_data_fn on_data;
  cp_http_body_end_fn on_end;
  void *body_ud;
  /* streamed response */
  bool fixed_len;     /* cp_http_stream_start_length: Content-Length instead of chunks */
  uint64_t remaining; /* bytes a fixed-length stream still owes */
  size_t low_water;
  bool drain_armed;
  cp_http_drain_fn on_drain;
  void *drain_ud;
  char remote[64];
};

typedef struct wreq_s {
  uv_write_t req; /* first: the callback frees the uv_write_t pointer */
  size_t len;
  char data[];
} wreq_t;

typedef struct piece_s {
  const char *p;
  size_t n;
} piece_t;

static void conn_close(cp__http_conn_t *c);
static void process(cp__http_conn_t *c);

/* ---- small helpers ------------------------------------------------------------------ */

static size_t or_default(size_t v, size_t def) {
  return v ? v : def;
}

static bool out_blocked(const cp__http_conn_t *c) {
  if (c->detached)
    return false;
  return uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp) >
         c->srv->opts.max_pending_output;
}

static void timer_cb(uv_timer_t *t) {
  conn_close(t->data);
}

static void arm_idle(cp__http_conn_t *c, uint64_t ms) {
  if (!c->detached && !c->closing)
    uv_timer_start(&c->timer, timer_cb, ms, 0);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  cp__http_conn_t *c = h->data;
  /* One shared buffer: read_cb consumes it before the loop reads again. */
  *buf = uv_buf_init(c->srv->readbuf, READ_CHUNK);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  cp__http_conn_t *c = s->data;
  if (nread > 0)
    cp__http_conn_feed(c, buf->base, (size_t)nread);
  else if (nread < 0)
    conn_close(c); /* EOF or error: the client is gone */
}

static void update_reading(cp__http_conn_t *c) {
  if (c->detached || c->closing)
    return;
  bool want = c->state == ST_DRAINING || c->in.len - c->in_off < IN_HIGH;
  if (want && !c->reading) {
    if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) == 0)
      c->reading = true;
    else
      conn_close(c);
  } else if (!want && c->reading) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
  }
}

/* ---- output ------------------------------------------------------------------------- */

static void write_cb(uv_write_t *r, int status) {
  cp__http_conn_t *c = r->handle->data;
  c->unfreed -= ((wreq_t *)r)->len;
  free(r);
  if (c->closing)
    return;
  if (status < 0) {
    conn_close(c);
    return;
  }
  if (c->state == ST_STREAMING && c->drain_armed && c->on_drain && c->unfreed <= c->low_water) {
    c->drain_armed = false;
    c->on_drain(&c->req, c->drain_ud);
    return; /* the request may be finished and the connection reused or closed */
  }
  if (c->state == ST_READING && c->in_off < c->in.len && !out_blocked(c))
    process(c);
}

/* Queues the pieces as one write (copied). Returns 0, CP_ENOMEM (nothing queued) or
 * CP_ECANCELED (the connection failed and is closing). */
static int conn_write(cp__http_conn_t *c, const piece_t *pieces, size_t n) {
  if (c->detached) {
    for (size_t i = 0; i < n; i++)
      if (pieces[i].n)
        c->sink(c->sink_ud, pieces[i].p, pieces[i].n);
    return 0;
  }
  size_t total = 0;
  for (size_t i = 0; i < n; i++) {
    if (pieces[i].n > UINT32_MAX - total)
      return CP_ENOMEM; /* uv_buf_t lengths are 32-bit */
    total += pieces[i].n;
  }
  wreq_t *w = malloc(sizeof *w + total);
  if (!w)
    return CP_ENOMEM;
  size_t off = 0;
  for (size_t i = 0; i < n; i++) {
    if (pieces[i].n)
      memcpy(w->data + off, pieces[i].p, pieces[i].n);
    off += pieces[i].n;
  }
  uv_buf_t buf = uv_buf_init(w->data, (unsigned int)total);
  w->len = total;
  if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, write_cb) != 0) {
    free(w);
    conn_close(c);
    return CP_ECANCELED;
  }
  c->unfreed += total;
  return 0;
}

static bool is_tchar(unsigned char ch) {
  return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
         (ch && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static bool valid_header(const char *name, const char *value) {
  if (!name || !value || !*name)
    return false;
  for (const char *p = name; *p; p++)
    if (!is_tchar((unsigned char)*p))
      return false;
  if (strpbrk(value, "\r\n"))
    return false;
  return strcasecmp(name, "Content-Length") != 0 && strcasecmp(name, "Transfer-Encoding") != 0 &&
         strcasecmp(name, "Connection") != 0;
}

static const char *reason(int status) {
  const char *r = http_status_str((enum http_status)status);
  return (r && r[0] != '<') ? r : "Status";
}

enum head_mode { MODE_FULL, MODE_STREAM, MODE_LENGTH };

/* Writes a response head (and, in MODE_FULL, the body). ctype may be NULL. Returns 0,
 * CP_EINVAL (bad header), CP_ENOMEM or CP_ECANCELED. */
static int write_response(cp__http_conn_t *c, int status, const char *ctype,
                          const char *const *headers, const void *body, size_t len,
                          enum head_mode mode) {
  if (ctype && !valid_header("Content-Type", ctype))
    return CP_EINVAL;
  for (const char *const *h = headers; h && h[0]; h += 2)
    if (!valid_header(h[0], h[1]))
      return CP_EINVAL;
  bool no_body = status == 204 || status == 304;
  cp_buf_t b;
  cp_buf_init(&b, RESP_HEAD_LIMIT);
  char line[96];
  int rc = 0;
  snprintf(line, sizeof line, "HTTP/1.1 %d %s\r\n", status, reason(status));
  rc = cp_buf_puts(&b, line);
  if (ctype && !rc) {
    rc = cp_buf_puts(&b, "Content-Type: ");
    rc = rc ? rc : cp_buf_puts(&b, ctype);
    rc = rc ? rc : cp_buf_puts(&b, "\r\n");
  }
  for (const char *const *h = headers; h && h[0] && !rc; h += 2) {
    rc = cp_buf_puts(&b, h[0]);
    rc = rc ? rc : cp_buf_puts(&b, ": ");
    rc = rc ? rc : cp_buf_puts(&b, h[1]);
    rc = rc ? rc : cp_buf_puts(&b, "\r\n");
  }
  if (mode == MODE_FULL && !no_body && !rc) {
    snprintf(line, sizeof line, "Content-Length: %zu\r\n", len);
    rc = cp_buf_puts(&b, line);
  }
  if (mode == MODE_STREAM && c->chunked && !rc)
    rc = cp_buf_puts(&b, "Transfer-Encoding: chunked\r\n");
  if (mode == MODE_LENGTH && !rc) {
    snprintf(line, sizeof line, "Content-Length: %llu\r\n", (unsigned long long)c->remaining);
    rc = cp_buf_puts(&b, line);
  }
  if (!rc) {
    if (!c->keep_alive)
      rc = cp_buf_puts(&b, "Connection: close\r\n");
    else if (c->req.http_major == 1 && c->req.http_minor == 0)
      rc = cp_buf_puts(&b, "Connection: keep-alive\r\n");
  }
  rc = rc ? rc : cp_buf_puts(&b, "\r\n");
  if (rc) {
    cp_buf_free(&b);
    return rc == CP_ETOOBIG ? CP_EINVAL : rc;
  }
  bool send_body = mode == MODE_FULL && !no_body && !c->is_head;
  piece_t pieces[] = {{b.data, b.len}, {body, send_body ? len : 0}};
  rc = conn_write(c, pieces, 2);
  cp_buf_free(&b);
  return rc;
}

/* Returns {"error":{"code":status,"message":msg}} (free with cJSON_free), NULL on ENOMEM. */
static char *json_error_body(int status, const char *msg) {
  cJSON *root = cJSON_CreateObject();
  cJSON *err = root ? cJSON_AddObjectToObject(root, "error") : NULL;
  char *s = NULL;
  if (err && cJSON_AddNumberToObject(err, "code", status) &&
      cJSON_AddStringToObject(err, "message", msg ? msg : ""))
    s = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  return s;
}

/* ---- connection life ---------------------------------------------------------------- */

static void reset_request(cp__http_conn_t *c) {
  cp_buf_reset(&c->head);
  cp_buf_reset(&c->pq);
  if (c->body.alloc > BIG_BODY) {
    cp_buf_free(&c->body);
    cp_buf_init(&c->body, c->srv->opts.max_body_bytes);
  }
  cp_buf_reset(&c->body);
  c->url_len = c->hdr_bytes = c->nhdr = 0;
  c->last = CB_NONE;
  c->url_done = c->headers_done = c->is_head = false;
  c->err_status = 0;
  c->err_msg = NULL;
  c->on_abort = NULL;
  c->abort_ud = NULL;
  c->sbody = c->sbody_end = c->sbody_paused = c->sbody_done = c->sent_continue = false;
  c->piece = NULL;
  c->piece_len = 0;
  c->on_data = NULL;
  c->on_end = NULL;
  c->body_ud = NULL;
  c->fixed_len = c->drain_armed = false;
  c->remaining = 0;
  c->low_water = 0;
  c->on_drain = NULL;
  c->drain_ud = NULL;
  c->req.method = c->req.target = c->req.path = c->req.query = c->req.body = "";
  c->req.body_len = 0;
  c->req.headers = c->hdrs;
  c->req.nheaders = 0;
}

static void shutdown_cb(uv_shutdown_t *r, int status) {
  cp__http_conn_t *c = r->handle->data;
  if (!c->closing && status < 0)
    conn_close(c);
  /* else keep discarding input until EOF or the linger timer */
}

/* The last response is queued: flush it, then close. */
static void begin_drain(cp__http_conn_t *c) {
  c->state = ST_DRAINING;
  c->on_abort = NULL;
  cp_buf_reset(&c->in);
  c->in_off = 0;
  if (c->detached) {
    conn_close(c);
    return;
  }
  uint64_t idle = c->srv->opts.idle_timeout_ms;
  arm_idle(c, idle < LINGER_MS ? idle : LINGER_MS);
  if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, shutdown_cb) != 0) {
    conn_close(c);
    return;
  }
  update_reading(c);
}

/* Sends a server-generated JSON error and ends the connection. */
static void send_error_headers(cp__http_conn_t *c, int status, const char *msg,
                               const char *const *headers) {
  c->keep_alive = false;
  char *body = json_error_body(status, msg);
  int rc =
      body ? write_response(c, status, "application/json", headers, body, strlen(body), MODE_FULL)
           : CP_ENOMEM;
  cJSON_free(body);
  if (c->closing)
    return;
  if (rc != 0)
    conn_close(c);
  else
    begin_drain(c);
}

static void send_error(cp__http_conn_t *c, int status, const char *msg) {
  send_error_headers(c, status, msg, NULL);
}

/* The current request got its complete response. */
static void finish(cp__http_conn_t *c) {
  c->state = ST_READING;
  reset_request(c);
  if (!c->keep_alive || c->srv->closing) {
    begin_drain(c);
    return;
  }
  arm_idle(c, c->srv->opts.idle_timeout_ms);
  process(c); /* pipelined input; a no-op when called from inside process() */
}

/* Frees the server once the listener, the reject handle and every connection closed. */
static void maybe_free_server(cp_http_server_t *srv) {
  if (!srv->closing || !srv->listener_closed || srv->reject_busy || srv->nconns > 0)
    return;
  cp_http_closed_fn cb = srv->on_closed;
  void *ud = srv->ud;
  free(srv);
  if (cb)
    cb(ud);
}

static void conn_destroy(cp__http_conn_t *c) {
  if ((c->state == ST_HANDLING || c->state == ST_STREAMING) && c->on_abort) {
    cp_http_abort_fn cb = c->on_abort;
    c->on_abort = NULL;
    cb(&c->req, c->abort_ud);
  }
  cp_http_server_t *srv = c->srv;
  if (!c->detached) {
    if (c->prev)
      c->prev->next = c->next;
    else
      srv->conns = c->next;
    if (c->next)
      c->next->prev = c->prev;
    srv->nconns--;
    if (c->counted)
      srv->nactive--;
  }
  bool detached = c->detached;
  cp_buf_free(&c->in);
  cp_buf_free(&c->head);
  cp_buf_free(&c->pq);
  cp_buf_free(&c->body);
  free(c->hoff);
  free(c->hdrs);
  free(c);
  if (!detached)
    maybe_free_server(srv);
}

static void handle_closed(uv_handle_t *h) {
  cp__http_conn_t *c = h->data;
  if (--c->handles_open == 0)
    conn_destroy(c);
}

/* Starts closing; memory goes in the close callbacks (or cp__http_conn_free_detached). */
static void conn_close(cp__http_conn_t *c) {
  if (c->closing)
    return;
  c->closing = true;
  if (c->detached) {
    c->sink(c->sink_ud, NULL, 0);
    return;
  }
  uv_close((uv_handle_t *)&c->tcp, handle_closed);
  uv_close((uv_handle_t *)&c->timer, handle_closed);
  uv_close((uv_handle_t *)&c->kick, handle_closed);
}

/* ---- parsing ------------------------------------------------------------------------ */

static int fail(cp__http_conn_t *c, int status, const char *msg) {
  c->err_status = status;
  c->err_msg = msg;
  return -1;
}

static int head_put(cp__http_conn_t *c, const char *d, size_t n) {
  return cp_buf_append(&c->head, d, n) == 0 ? 0 : fail(c, 500, "out of memory");
}

static int end_url(cp__http_conn_t *c) {
  if (c->url_done)
    return 0;
  c->url_done = true;
  return head_put(c, "", 1);
}

/* Terminates the header being collected; a field without value gets "". */
static int end_header(cp__http_conn_t *c) {
  int rc = 0;
  if (c->last == CB_FIELD) {
    rc = head_put(c, "", 1);
    c->hoff[c->nhdr - 1][1] = c->head.len;
    rc = rc ? rc : head_put(c, "", 1);
  } else if (c->last == CB_VALUE) {
    rc = head_put(c, "", 1);
  }
  c->last = CB_NONE;
  return rc;
}

static int count_header_bytes(cp__http_conn_t *c, size_t len) {
  if (len > c->srv->opts.max_header_bytes - c->hdr_bytes)
    return fail(c, 431, "request header fields too large");
  c->hdr_bytes += len;
  return 0;
}

static int on_message_begin(http_parser *p) {
  reset_request(p->data);
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
  cp__http_conn_t *c = p->data;
  if (len > c->srv->opts.max_url_bytes - c->url_len)
    return fail(c, 414, "request URL too long");
  c->url_len += len;
  return head_put(c, at, len);
}

static int on_header_field(http_parser *p, const char *at, size_t len) {
  cp__http_conn_t *c = p->data;
  if (count_header_bytes(c, len))
    return -1;
  if (c->headers_done) /* chunked trailers: counted, not kept */
    return 0;
  if (c->last != CB_FIELD) {
    if (end_url(c) || end_header(c))
      return -1;
    if (c->nhdr == c->srv->opts.max_headers)
      return fail(c, 431, "too many header fields");
    c->hoff[c->nhdr][0] = c->head.len;
    c->hoff[c->nhdr][1] = 0;
    c->nhdr++;
    c->last = CB_FIELD;
  }
  return head_put(c, at, len);
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
  cp__http_conn_t *c = p->data;
  if (count_header_bytes(c, len))
    return -1;
  if (c->headers_done)
    return 0;
  if (c->last == CB_NONE)
    return fail(c, 400, "header value without a name");
  if (c->last == CB_FIELD) {
    if (head_put(c, "", 1))
      return -1;
    c->hoff[c->nhdr - 1][1] = c->head.len;
    c->last = CB_VALUE;
  }
  return head_put(c, at, len);
}

/* True if the n bytes at s (which must end in NUL) form a non-empty token. */
static bool valid_name_token(const char *s, size_t n) {
  if (n == 0 || strlen(s) != n)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!is_tchar((unsigned char)s[i]))
      return false;
  return true;
}

/* True if s has no control bytes other than horizontal tab. */
static bool valid_value_bytes(const char *s) {
  for (; *s; s++)
    if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
      return false;
  return true;
}

static char *trim(char *s) {
  while (*s == ' ' || *s == '\t')
    s++;
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
    s[--n] = '\0';
  return s;
}

static int on_headers_complete(http_parser *p) {
  cp__http_conn_t *c = p->data;
  if (end_url(c) || end_header(c))
    return -1;
  struct http_parser_url u;
  http_parser_url_init(&u);
  if (c->url_len == 0 ||
      http_parser_parse_url(c->head.data, c->url_len, p->method == HTTP_CONNECT, &u) != 0)
    return fail(c, 400, "invalid request URL");
  const char *path = p->method == HTTP_CONNECT ? "" : "/", *query = "";
  size_t path_len = strlen(path), query_len = 0;
  if (u.field_set & (1 << UF_PATH)) {
    path = c->head.data + u.field_data[UF_PATH].off;
    path_len = u.field_data[UF_PATH].len;
  }
  if (u.field_set & (1 << UF_QUERY)) {
    query = c->head.data + u.field_data[UF_QUERY].off;
    query_len = u.field_data[UF_QUERY].len;
  }
  if (cp_buf_append(&c->pq, path, path_len) || cp_buf_append(&c->pq, "", 1) ||
      cp_buf_append(&c->pq, query, query_len) || cp_buf_append(&c->pq, "", 1))
    return fail(c, 500, "out of memory");
  /* head no longer grows for this request: resolve offsets into pointers */
  for (size_t i = 0; i < c->nhdr; i++) {
    c->hdrs[i].name = c->head.data + c->hoff[i][0];
    c->hdrs[i].value = trim(c->head.data + c->hoff[i][1]);
    /* Debian builds http-parser non-strict, which lets "Bad Name:" and control bytes
     * through; both are request-smuggling material, so refuse them here. */
    if (!valid_name_token(c->hdrs[i].name, c->hoff[i][1] - c->hoff[i][0] - 1) ||
        !valid_value_bytes(c->hdrs[i].value))
      return fail(c, 400, "malformed request: invalid character in header");
  }
  c->headers_done = true;
  c->is_head = p->method == HTTP_HEAD;
  c->req.method = http_method_str((enum http_method)p->method);
  c->req.target = c->head.data;
  c->req.path = c->pq.data;
  c->req.query = c->pq.data + path_len + 1;
  c->req.http_major = p->http_major;
  c->req.http_minor = p->http_minor;
  c->req.headers = c->hdrs;
  c->req.nheaders = c->nhdr;
  bool has_body =
      (p->flags & F_CHUNKED) || (p->content_length != ULLONG_MAX && p->content_length > 0);
  if (c->srv->stream_filter && c->srv->stream_filter(&c->req, c->srv->stream_filter_ud) == 1) {
    c->sbody = true;
    if (has_body) {
      /* The handler runs now; the body follows through its sink. Pausing here leaves
       * the parser before the header block's last LF, which it takes on resumption. */
      c->keep_alive = http_should_keep_alive(p) && !p->upgrade;
      c->state = ST_READY;
      http_parser_pause(p, 1);
    }
    return 0;
  }
  if (p->content_length != ULLONG_MAX && !(p->flags & F_CHUNKED) &&
      p->content_length > c->srv->opts.max_body_bytes)
    return fail(c, 413, "request body too large");
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
  cp__http_conn_t *c = p->data;
  if (c->sbody) {
    /* handed to the sink by process() once the parser returned */
    c->piece = at;
    c->piece_len = len;
    http_parser_pause(p, 1);
    return 0;
  }
  int rc = cp_buf_append(&c->body, at, len);
  if (rc == CP_ETOOBIG)
    return fail(c, 413, "request body too large");
  return rc ? fail(c, 500, "out of memory") : 0;
}

static int on_message_complete(http_parser *p) {
  cp__http_conn_t *c = p->data;
  c->keep_alive = http_should_keep_alive(p) && !p->upgrade;
  if (c->sbody)
    c->sbody_end = true;
  if (c->state == ST_READING)
    c->state = ST_READY;   /* else a streamed body's handler runs already */
  http_parser_pause(p, 1); /* one request at a time */
  return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static bool handler_owns(const cp__http_conn_t *c) {
  return c->state == ST_HANDLING || c->state == ST_STREAMING;
}

/* True when d starts with a method-like token (upper-case letters, '-' or '_') and a
 * space: a request for a method the parser does not know, not garbage. */
static bool method_token(const char *d, size_t n) {
  size_t i = 0;
  while (i < n && ((d[i] >= 'A' && d[i] <= 'Z') || d[i] == '-' || d[i] == '_'))
    i++;
  return i > 0 && i < n && d[i] == ' ';
}

static void parse_error(cp__http_conn_t *c, enum http_errno e) {
  if (handler_owns(c)) {
    /* A streamed body went bad (chunk framing): for the handler, the client is gone. */
    bool answered = c->state == ST_STREAMING;
    if (c->on_abort) {
      cp_http_abort_fn cb = c->on_abort;
      c->on_abort = NULL;
      cb(&c->req, c->abort_ud);
    }
    c->state = ST_DRAINING;
    if (answered) {
      conn_close(c);
      return;
    }
  }
  if (c->err_status) {
    send_error(c, c->err_status, c->err_msg);
    return;
  }
  if (e == HPE_HEADER_OVERFLOW) {
    send_error(c, 431, "request header fields too large");
    return;
  }
  if (e == HPE_INVALID_METHOD && method_token(c->in.data + c->in_off, c->in.len - c->in_off)) {
    /* a method the parser does not know (QUERY, PROPFIND...): none of the handlers serves
     * it, and the answer says which methods this server knows at all (RFC 9110 wants an
     * Allow header on every 405; which of these a path takes is the handler's to say) */
    static const char *const allow[] = {"Allow", "GET, HEAD, POST, PUT, DELETE", NULL};
    send_error_headers(
        c, 405, "method not allowed: this server serves GET, HEAD, POST, PUT and DELETE", allow);
    return;
  }
  char msg[160];
  snprintf(msg, sizeof msg, "malformed request: %s", http_errno_description(e));
  send_error(c, 400, msg);
}

static void dispatch(cp__http_conn_t *c) {
  c->state = ST_HANDLING;
  if (!c->detached)
    uv_timer_stop(&c->timer);
  c->req.body = c->body.data ? c->body.data : "";
  c->req.body_len = c->body.len;
  c->srv->handler(&c->req, c->srv->ud);
}

/* True while a streamed body may be handed to its sink: the handler still owns the
 * request, set a sink, did not pause and did not answer yet. */
static bool sink_open(const cp__http_conn_t *c) {
  return c->sbody && handler_owns(c) && c->on_data && !c->sbody_paused && !c->sbody_done;
}

/* Hands the body piece the parser just left, or the body's end, to the sink. Returns
 * false when there was nothing to hand over. */
static bool deliver_body(cp__http_conn_t *c) {
  if (c->piece_len && sink_open(c)) {
    const char *d = c->piece;
    size_t n = c->piece_len;
    c->piece = NULL;
    c->piece_len = 0;
    if (c->state == ST_HANDLING)
      arm_idle(c, c->srv->opts.idle_timeout_ms); /* the client must keep sending */
    c->on_data(&c->req, d, n, c->body_ud);
    return true;
  }
  if (c->sbody_end && sink_open(c)) {
    c->sbody_done = true;
    if (!c->detached && c->state == ST_HANDLING)
      uv_timer_stop(&c->timer);
    if (c->on_end)
      c->on_end(&c->req, c->body_ud);
    return true;
  }
  return false;
}

/* True when the parser should run on buffered input now. */
static bool can_parse(const cp__http_conn_t *c) {
  if (c->closing || c->in_off >= c->in.len)
    return false;
  if (c->state == ST_READING)
    return !out_blocked(c);
  return sink_open(c) && !c->sbody_end && !c->piece_len;
}

/* Parses buffered input while a request or its streamed body can be taken. Re-entrant
 * calls (a handler that responds synchronously, a sink that resumes) return at once;
 * the outer loop continues. */
static void process(cp__http_conn_t *c) {
  if (c->processing)
    return;
  c->processing = true;
  while (!c->closing) {
    if (deliver_body(c))
      continue;
    if (!can_parse(c))
      break;
    bool body_phase = c->state != ST_READING;
    size_t n = c->in.len - c->in_off;
    size_t used = http_parser_execute(&c->parser, &parser_settings, c->in.data + c->in_off, n);
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (e == HPE_PAUSED) {
      http_parser_pause(&c->parser, 0);
    } else if (e != HPE_OK || used != n || (!body_phase && c->state != ST_READING)) {
      parse_error(c, e == HPE_OK ? HPE_UNKNOWN : e);
      break;
    }
    c->in_off += used;
    if (c->state == ST_READY)
      dispatch(c);
  }
  if (!c->closing && c->in_off) {
    cp_buf_consume(&c->in, c->in_off);
    c->in_off = 0;
  }
  c->processing = false;
  update_reading(c);
}

int cp__http_conn_feed(cp__http_conn_t *c, const char *data, size_t len) {
  if (c->closing)
    return CP_ECANCELED;
  if (c->state == ST_DRAINING || len == 0)
    return 0; /* lingering: the client's remaining bytes are discarded */
  if (cp_buf_append(&c->in, data, len) != 0) {
    conn_close(c);
    return CP_ECANCELED;
  }
  process(c);
  return c->closing ? CP_ECANCELED : 0;
}

static cp__http_conn_t *conn_alloc(cp_http_server_t *srv) {
  cp__http_conn_t *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->hoff = calloc(srv->opts.max_headers, sizeof *c->hoff);
  c->hdrs = calloc(srv->opts.max_headers, sizeof *c->hdrs);
  if (!c->hoff || !c->hdrs) {
    free(c->hoff);
    free(c->hdrs);
    free(c);
    return NULL;
  }
  c->srv = srv;
  c->state = ST_READING;
  c->keep_alive = true;
  cp_buf_init(&c->in, IN_LIMIT);
  /* the target, header names and values, a terminator after each */
  cp_buf_init(&c->head, srv->opts.max_url_bytes + srv->opts.max_header_bytes +
                            2 * srv->opts.max_headers + 16);
  cp_buf_init(&c->pq, srv->opts.max_url_bytes + 2);
  cp_buf_init(&c->body, srv->opts.max_body_bytes);
  http_parser_init(&c->parser, HTTP_REQUEST);
  c->parser.data = c;
  c->req.conn = c;
  c->req.remote = c->remote;
  c->req.http_major = 1;
  c->req.http_minor = 1;
  reset_request(c);
  return c;
}

int cp__http_conn_new_detached(cp_http_server_t *srv, cp__http_sink_fn sink, void *sink_ud,
                               cp__http_conn_t **out) {
  if (!srv || !sink || !out)
    return CP_EINVAL;
  cp__http_conn_t *c = conn_alloc(srv);
  if (!c)
    return CP_ENOMEM;
  c->detached = true;
  c->sink = sink;
  c->sink_ud = sink_ud;
  snprintf(c->remote, sizeof c->remote, "detached");
  *out = c;
  return 0;
}

void cp__http_conn_free_detached(cp__http_conn_t *c) {
  if (c)
    conn_destroy(c);
}

static void format_peer(cp__http_conn_t *c) {
  struct sockaddr_storage ss;
  int len = sizeof ss;
  char ip[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  snprintf(c->remote, sizeof c->remote, "unknown");
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0)
    return;
  if (ss.ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
    uv_ip4_name(a, ip, sizeof ip);
    port = ntohs(a->sin_port);
    snprintf(c->remote, sizeof c->remote, "%s:%d", ip, port);
  } else if (ss.ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
    uv_ip6_name(a, ip, sizeof ip);
    port = ntohs(a->sin6_port);
    snprintf(c->remote, sizeof c->remote, "[%s]:%d", ip, port);
  }
}

static void on_connection(uv_stream_t *server, int status);

static void reject_closed(uv_handle_t *h) {
  cp_http_server_t *srv = h->data;
  srv->reject_busy = false;
  if (srv->closing) {
    maybe_free_server(srv);
  } else if (srv->accept_pending) {
    srv->accept_pending = false;
    on_connection((uv_stream_t *)&srv->listener, 0);
  }
}

/* Out of memory for a connection: accept it into the spare handle and close it, since
 * libuv stops accepting until the pending socket is taken. */
static void reject_unallocated(cp_http_server_t *srv) {
  if (srv->reject_busy || uv_tcp_init(srv->loop, &srv->reject) != 0) {
    srv->accept_pending = true; /* retried when the spare handle is free */
    return;
  }
  srv->reject.data = srv;
  srv->reject_busy = true;
  uv_accept((uv_stream_t *)&srv->listener, (uv_stream_t *)&srv->reject);
  uv_close((uv_handle_t *)&srv->reject, reject_closed);
}

static void on_connection(uv_stream_t *server, int status) {
  cp_http_server_t *srv = server->data;
  if (status < 0 || srv->closing)
    return;
  cp__http_conn_t *c = conn_alloc(srv);
  if (!c) {
    reject_unallocated(srv);
    return;
  }
  uv_tcp_init(srv->loop, &c->tcp);
  uv_timer_init(srv->loop, &c->timer);
  uv_idle_init(srv->loop, &c->kick);
  c->tcp.data = c->timer.data = c->kick.data = c;
  c->handles_open = 3;
  c->next = srv->conns;
  if (srv->conns)
    srv->conns->prev = c;
  srv->conns = c;
  srv->nconns++;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
    conn_close(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  format_peer(c);
  if (srv->nactive >= srv->opts.max_connections) {
    /* Refused connections still cost a little memory; past as many again, just close. */
    if (srv->nconns - srv->nactive > srv->opts.max_connections)
      conn_close(c);
    else
      send_error(c, 503, "too many connections");
    return;
  }
  c->counted = true;
  srv->nactive++;
  arm_idle(c, srv->opts.idle_timeout_ms);
  update_reading(c);
}

/* ---- public API ------------------------------------------------------------------- */

int cp_http_server_new(uv_loop_t *loop, const cp_http_server_opts_t *opts,
                       cp_http_handler_fn handler, void *ud, cp_http_server_t **out) {
  if (!loop || !handler || !out)
    return CP_EINVAL;
  cp_http_server_opts_t o = {0};
  if (opts)
    o = *opts;
  o.max_header_bytes = or_default(o.max_header_bytes, 16 * 1024);
  o.max_headers = or_default(o.max_headers, 64);
  o.max_body_bytes = or_default(o.max_body_bytes, 1024 * 1024);
  o.max_url_bytes = or_default(o.max_url_bytes, 8 * 1024);
  o.max_connections = or_default(o.max_connections, 1024);
  o.idle_timeout_ms = o.idle_timeout_ms ? o.idle_timeout_ms : 30 * 1000;
  o.max_pending_output = or_default(o.max_pending_output, 1024 * 1024);
  /* http_parser_parse_url keeps 16-bit offsets; the other caps keep sums far from
   * overflow. */
  if (o.max_url_bytes > 65535 || o.max_header_bytes > (1u << 30) || o.max_headers > 65536 ||
      o.max_body_bytes > ((size_t)1 << 40))
    return CP_EINVAL;
  cp_http_server_t *srv = calloc(1, sizeof *srv);
  if (!srv)
    return CP_ENOMEM;
  if (uv_tcp_init(loop, &srv->listener) != 0) {
    free(srv);
    return CP_EINVAL;
  }
  srv->loop = loop;
  srv->opts = o;
  srv->handler = handler;
  srv->ud = ud;
  srv->listener.data = srv;
  *out = srv;
  return 0;
}

int cp_http_server_listen(cp_http_server_t *srv, const char *host, int port) {
  if (!srv || !host || srv->closing || srv->listening || port < 0 || port > 65535)
    return CP_EINVAL;
  struct sockaddr_storage ss;
  int rc = strchr(host, ':') ? uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss)
                             : uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
  if (rc != 0)
    return CP_EINVAL;
  if (uv_tcp_bind(&srv->listener, (const struct sockaddr *)&ss, 0) != 0 ||
      uv_listen((uv_stream_t *)&srv->listener, 511, on_connection) != 0)
    return CP_EIO;
  struct sockaddr_storage bound;
  int len = sizeof bound;
  if (uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&bound, &len) != 0)
    return CP_EIO;
  srv->port = bound.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&bound)->sin6_port)
                                          : ntohs(((struct sockaddr_in *)&bound)->sin_port);
  srv->listening = true;
  return 0;
}

int cp_http_server_port(const cp_http_server_t *srv) {
  return srv && srv->listening ? srv->port : 0;
}

size_t cp_http_server_connections(const cp_http_server_t *srv) {
  return srv ? srv->nconns : 0;
}

static void listener_closed(uv_handle_t *h) {
  cp_http_server_t *srv = h->data;
  srv->listener_closed = true;
  maybe_free_server(srv);
}

void cp_http_server_close(cp_http_server_t *srv, cp_http_closed_fn on_closed) {
  if (!srv || srv->closing)
    return;
  srv->closing = true;
  srv->on_closed = on_closed;
  uv_close((uv_handle_t *)&srv->listener, listener_closed);
  for (cp__http_conn_t *c = srv->conns; c; c = c->next)
    conn_close(c);
}

const char *cp_http_header(const cp_http_request_t *req, const char *name) {
  if (!req || !name)
    return NULL;
  for (size_t i = 0; i < req->nheaders; i++)
    if (strcasecmp(req->headers[i].name, name) == 0)
      return req->headers[i].value;
  return NULL;
}

void cp_http_request_set_on_abort(cp_http_request_t *req, cp_http_abort_fn cb, void *ud) {
  if (!req || !req->conn)
    return;
  req->conn->on_abort = cb;
  req->conn->abort_ud = cb ? ud : NULL;
}

/* Returns 0 if the request is in state want, else CP_ECANCELED / CP_EINVAL. */
static int check_state(const cp_http_request_t *req, enum conn_state want) {
  if (!req || !req->conn)
    return CP_EINVAL;
  if (req->conn->closing)
    return CP_ECANCELED;
  return req->conn->state == want ? 0 : CP_EINVAL;
}

/* Returns 0 if the request may start a response with status. */
static int check_start(const cp_http_request_t *req, int status) {
  int rc = check_state(req, ST_HANDLING);
  return rc ? rc : (status < 200 || status > 599) ? CP_EINVAL : 0;
}

/* A response starts: the rest of a streamed body that has not fully arrived is
 * discarded and the connection ends after the response. */
static void response_starts(cp__http_conn_t *c) {
  if (c->srv->closing || (c->sbody && !c->sbody_end))
    c->keep_alive = false;
}

int cp_http_respond_headers(cp_http_request_t *req, int status, const char *const *headers,
                            const void *body, size_t len) {
  int rc = check_start(req, status);
  if (rc)
    return rc;
  if (!body && len)
    return CP_EINVAL;
  cp__http_conn_t *c = req->conn;
  bool keep = c->keep_alive;
  response_starts(c);
  rc = write_response(c, status, NULL, headers, body, len, MODE_FULL);
  if (rc) {
    c->keep_alive = keep;
    return rc;
  }
  finish(c);
  return 0;
}

int cp_http_respond(cp_http_request_t *req, int status, const char *content_type, const void *body,
                    size_t len) {
  const char *h[] = {"Content-Type", content_type, NULL};
  return cp_http_respond_headers(req, status, content_type ? h : NULL, body, len);
}

int cp_http_json_error(cp_http_request_t *req, int status, const char *message) {
  int rc = check_start(req, status);
  if (rc)
    return rc;
  char *body = json_error_body(status, message);
  if (!body)
    return CP_ENOMEM;
  rc = cp_http_respond(req, status, "application/json", body, strlen(body));
  cJSON_free(body);
  return rc;
}

static int stream_start(cp_http_request_t *req, int status, const char *const *headers, bool fixed,
                        uint64_t length) {
  int rc = check_start(req, status);
  if (rc)
    return rc;
  cp__http_conn_t *c = req->conn;
  bool keep = c->keep_alive;
  c->chunked = !fixed && req->http_major == 1 && req->http_minor >= 1;
  if (!fixed && !c->chunked)
    c->keep_alive = false; /* HTTP/1.0: the body ends with the connection */
  response_starts(c);
  c->fixed_len = fixed;
  c->remaining = length;
  rc = write_response(c, status, NULL, headers, NULL, 0, fixed ? MODE_LENGTH : MODE_STREAM);
  if (rc) {
    c->keep_alive = keep;
    c->fixed_len = false;
    c->remaining = 0;
    return rc;
  }
  c->state = ST_STREAMING;
  if (c->sbody && !c->sbody_done) {
    c->sbody_done = true; /* no more body for the sink */
    if (!c->detached)
      uv_timer_stop(&c->timer);
  }
  return 0;
}

int cp_http_stream_start(cp_http_request_t *req, int status, const char *const *headers) {
  return stream_start(req, status, headers, false, 0);
}

int cp_http_stream_start_length(cp_http_request_t *req, int status, const char *const *headers,
                                uint64_t length) {
  return stream_start(req, status, headers, true, length);
}

int cp_http_stream_write(cp_http_request_t *req, const void *data, size_t len) {
  int rc = check_state(req, ST_STREAMING);
  if (rc)
    return rc;
  cp__http_conn_t *c = req->conn;
  if (len == 0 || c->is_head)
    return 0;
  if (!data || (c->fixed_len && len > c->remaining))
    return CP_EINVAL;
  char frame[24] = "";
  size_t flen = 0;
  if (c->chunked)
    flen = (size_t)snprintf(frame, sizeof frame, "%zx\r\n", len);
  size_t total = flen + len + (c->chunked ? 2 : 0);
  if (!c->detached) {
    size_t queued = uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp);
    if (total < len || total > c->srv->opts.max_pending_output ||
        queued > c->srv->opts.max_pending_output - total) {
      c->drain_armed = c->on_drain != NULL;
      return CP_ETOOBIG;
    }
  }
  piece_t pieces[] = {{frame, flen}, {data, len}, {"\r\n", c->chunked ? 2 : 0}};
  rc = conn_write(c, pieces, 3);
  if (rc == 0) {
    if (c->fixed_len)
      c->remaining -= len;
    /* Every write completes with a write_cb, which reports the drain. */
    c->drain_armed = c->on_drain != NULL && !c->detached;
  }
  return rc;
}

int cp_http_stream_end(cp_http_request_t *req) {
  int rc = check_state(req, ST_STREAMING);
  if (rc)
    return rc;
  cp__http_conn_t *c = req->conn;
  if (c->chunked && !c->is_head) {
    piece_t last = {"0\r\n\r\n", 5};
    rc = conn_write(c, &last, 1);
    if (rc)
      return rc;
  }
  if (c->fixed_len && c->remaining > 0 && !c->is_head)
    c->keep_alive = false; /* short of its Content-Length: the client sees the cut */
  finish(c);
  return 0;
}

void cp_http_server_set_stream_filter(cp_http_server_t *srv, cp_http_stream_filter_fn fn,
                                      void *ud) {
  if (!srv)
    return;
  srv->stream_filter = fn;
  srv->stream_filter_ud = fn ? ud : NULL;
}

/* Runs process() on the next loop turn (detached connections: now). */
static void kick_cb(uv_idle_t *h) {
  uv_idle_stop(h);
  process(h->data);
}

static void kick(cp__http_conn_t *c) {
  if (c->closing || c->processing)
    return; /* a running process() loop sees the change */
  if (c->detached)
    process(c);
  else
    uv_idle_start(&c->kick, kick_cb);
}

/* Returns the connection of a request whose body is streamed and still owned by the
 * handler, or NULL. */
static cp__http_conn_t *streamed(const cp_http_request_t *req) {
  cp__http_conn_t *c = req ? req->conn : NULL;
  return c && c->sbody && !c->closing && handler_owns(c) ? c : NULL;
}

int cp_http_request_set_body_sink(cp_http_request_t *req, cp_http_body_data_fn on_data,
                                  cp_http_body_end_fn on_end, void *ud) {
  cp__http_conn_t *c = streamed(req);
  if (!c || !on_data || c->on_data)
    return CP_EINVAL;
  c->on_data = on_data;
  c->on_end = on_end;
  c->body_ud = ud;
  const char *expect = cp_http_header(req, "Expect");
  if (expect && strcasecmp(expect, "100-continue") == 0 && c->state == ST_HANDLING &&
      !c->sbody_end && !c->sent_continue && req->http_major == 1 && req->http_minor >= 1) {
    piece_t cont = {"HTTP/1.1 100 Continue\r\n\r\n", 25};
    c->sent_continue = true;
    if (conn_write(c, &cont, 1) != 0)
      return 0; /* the connection is closing; on_abort follows */
  }
  if (c->state == ST_HANDLING && !c->sbody_end && !c->sbody_paused)
    arm_idle(c, c->srv->opts.idle_timeout_ms);
  kick(c);
  return 0;
}

void cp_http_request_pause(cp_http_request_t *req) {
  cp__http_conn_t *c = streamed(req);
  if (!c || c->sbody_paused)
    return;
  c->sbody_paused = true;
  if (!c->detached && c->state == ST_HANDLING)
    uv_timer_stop(&c->timer); /* the handler holds the body up, not the client */
}

void cp_http_request_resume(cp_http_request_t *req) {
  cp__http_conn_t *c = streamed(req);
  if (!c || !c->sbody_paused)
    return;
  c->sbody_paused = false;
  if (c->state == ST_HANDLING && !c->sbody_end && c->on_data)
    arm_idle(c, c->srv->opts.idle_timeout_ms);
  kick(c);
}

void cp_http_stream_set_on_drain(cp_http_request_t *req, size_t low_water, cp_http_drain_fn cb,
                                 void *ud) {
  if (!req || !req->conn)
    return;
  cp__http_conn_t *c = req->conn;
  c->low_water = low_water;
  c->on_drain = cb;
  c->drain_ud = cb ? ud : NULL;
  if (!cb)
    c->drain_armed = false;
}

size_t cp_http_stream_pending(const cp_http_request_t *req) {
  if (!req || !req->conn || req->conn->detached || req->conn->closing)
    return 0;
  return req->conn->unfreed;
}

void cp_http_abort(cp_http_request_t *req) {
  if (!req || !req->conn)
    return;
  cp__http_conn_t *c = req->conn;
  if (c->state != ST_HANDLING && c->state != ST_STREAMING)
    return;
  c->on_abort = NULL;
  c->state = ST_DRAINING;
  conn_close(c);
}
