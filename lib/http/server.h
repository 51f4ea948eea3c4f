/* A small HTTP/1.1 server on a libuv loop, parsing with http-parser.
 *
 * Used by every daemon for /healthz, /readyz, /metrics and (later) the apiserver and the
 * model proxy. One connection carries one request at a time: the parser pauses at the end
 * of each message, the handler runs, and parsing of pipelined bytes resumes only once the
 * response is queued, so answers always leave in request order. Everything that grows
 * from the network has a cap (cp_http_server_opts_t); a request past a cap gets a JSON
 * error ({"error":{"code":N,"message":"..."}}) and the connection is closed after it.
 *
 * Threading: every function here runs on the loop thread that owns the server (a worker
 * thread hands its result to the loop, e.g. with uv_async_t, and responds from there).
 * Memory of loop-owned handles is released only in their close callbacks.
 *
 * Request lifetime: the handler gets a cp_http_request_t that stays valid until the
 * response is complete (cp_http_respond*, cp_http_json_error, or cp_http_stream_end
 * return), until cp_http_abort, or until the connection closes; in the last case the
 * on_abort callback (cp_http_request_set_on_abort) runs once, and the request is invalid
 * after it returns. A handler that answers later (async) must set on_abort so it never
 * touches a request whose client went away.
 *
 * Streaming both ways (uploads and downloads of any size in bounded memory): a stream
 * filter (cp_http_server_set_stream_filter) picks requests whose body is not buffered;
 * their handler runs as soon as the headers are in and takes the body piece by piece
 * through a sink, with pause/resume as backpressure (the socket is not read while
 * paused). A response may go out before such a body ended (e.g. 413); the rest is then
 * discarded and the connection closed after it. Responses stream with chunked framing
 * (cp_http_stream_start) or a known length (cp_http_stream_start_length), and an on_drain
 * callback says when the unsent output fell low enough to write the next piece.
 */
#ifndef CP_HTTP_SERVER_H
#define CP_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct cp_http_server_s cp_http_server_t;
typedef struct cp__http_conn_s cp__http_conn_t;

/* Hard caps. A zero field takes the default shown. */
typedef struct cp_http_server_opts_s {
  size_t max_header_bytes;   /* 16 KiB: header names + values of one request; past it 431 */
  size_t max_headers;        /* 64 header fields; past it 431 */
  size_t max_body_bytes;     /* 1 MiB request body (declared or chunked); past it 413 */
  size_t max_url_bytes;      /* 8 KiB request target; past it 414. At most 65535 */
  size_t max_connections;    /* 1024 open connections; the next one gets 503 and a close */
  uint64_t idle_timeout_ms;  /* 30 s for a whole request to arrive, or idle keep-alive */
  size_t max_pending_output; /* 1 MiB unsent bytes per connection (streams, pipelining) */
} cp_http_server_opts_t;

/* One header field as received (name case kept, value trimmed of surrounding blanks). */
typedef struct cp_http_header_s {
  const char *name;
  const char *value;
} cp_http_header_t;

/* A parsed request. All fields are read-only and borrowed from the connection; they stay
 * valid for the lifetime of the request (see above). */
typedef struct cp_http_request_s {
  const char *method;              /* "GET", "POST", ... */
  const char *target;              /* request target as sent: "/a/b?x=1" */
  const char *path;                /* path part, not percent-decoded: "/a/b" ("" for CONNECT) */
  const char *query;               /* raw query without '?': "x=1", "" when absent */
  const char *body;                /* request body, NUL-terminated for convenience ("" if none) */
  size_t body_len;                 /* body bytes; the body may itself contain NUL bytes */
  const char *remote;              /* client address: "127.0.0.1:40312", "[::1]:40312" */
  int http_major;                  /* 1 */
  int http_minor;                  /* 0 or 1 */
  const cp_http_header_t *headers; /* in arrival order */
  size_t nheaders;
  cp__http_conn_t *conn; /* internal */
} cp_http_request_t;

/* Called on the loop thread for each complete request, in order per connection. The
 * handler must eventually finish the request: respond, stream and end, or abort. */
typedef void (*cp_http_handler_fn)(cp_http_request_t *req, void *ud);

/* Called on the loop thread when a request's connection closed before it was finished.
 * The request is invalid once this returns; cp_http_respond and friends called from
 * inside it fail with CP_ECANCELED. */
typedef void (*cp_http_abort_fn)(cp_http_request_t *req, void *ud);

/* Called on the loop thread once the server and all its connections are closed; the
 * server's memory is released right after it returns. ud is the server's ud. */
typedef void (*cp_http_closed_fn)(void *ud);

/* Creates a server on loop. opts may be NULL (all defaults); it is copied. handler and
 * ud are used for every request. Returns 0 and *out, or CP_EINVAL / CP_ENOMEM. The server
 * must be released with cp_http_server_close (even if it never listened). Loop thread. */
int cp_http_server_new(uv_loop_t *loop, const cp_http_server_opts_t *opts,
                       cp_http_handler_fn handler, void *ud, cp_http_server_t **out);

/* Binds host (IPv4 or IPv6 literal, "0.0.0.0", "::") and port (0 picks a free one) and
 * starts accepting. Returns 0, CP_EINVAL (bad address, already listening or closing) or
 * CP_EIO (bind/listen refused, e.g. the port is in use). Loop thread. */
int cp_http_server_listen(cp_http_server_t *srv, const char *host, int port);

/* Returns the bound port, or 0 before a successful listen. Loop thread (or any thread
 * once listen returned and before close). */
int cp_http_server_port(const cp_http_server_t *srv);

/* Returns the number of open connections (including ones being refused or closed). */
size_t cp_http_server_connections(const cp_http_server_t *srv);

/* Stops accepting and closes every connection (their unfinished requests get on_abort).
 * on_closed (may be NULL) runs once everything is closed, then srv is freed; srv must
 * not be used after this call. Accepts NULL. Calling it twice is a no-op. Loop thread;
 * may be called from a handler. */
void cp_http_server_close(cp_http_server_t *srv, cp_http_closed_fn on_closed);

/* Returns the value of the first header named name (ASCII case-insensitive), or NULL.
 * Borrowed from the request. */
const char *cp_http_header(const cp_http_request_t *req, const char *name);

/* Registers cb(req, ud) to run if the connection closes before the request is finished.
 * Replaces an earlier registration; cb NULL removes it. */
void cp_http_request_set_on_abort(cp_http_request_t *req, cp_http_abort_fn cb, void *ud);

/* Sends a complete response: status (200..599), Content-Type (may be NULL: none), body
 * of len bytes (copied; may be NULL when len is 0). Content-Length and Connection are
 * added; HEAD requests, 204 and 304 get no body. Returns 0 (the request is finished and
 * invalid from here), CP_EINVAL (bad status, request already answered or streaming),
 * CP_ECANCELED (the connection is closing: the request stays until on_abort) or
 * CP_ENOMEM (nothing sent; the request is still open). Loop thread. */
int cp_http_respond(cp_http_request_t *req, int status, const char *content_type, const void *body,
                    size_t len);

/* Like cp_http_respond with extra headers: a NULL-terminated list of name, value pairs
 * (copied). Names must be tokens and values free of CR/LF; Content-Length,
 * Transfer-Encoding and Connection are the server's own and refused (CP_EINVAL). */
int cp_http_respond_headers(cp_http_request_t *req, int status, const char *const *headers,
                            const void *body, size_t len);

/* Responds with status and application/json {"error":{"code":status,"message":message}}
 * (message JSON-escaped). Same returns as cp_http_respond. */
int cp_http_json_error(cp_http_request_t *req, int status, const char *message);

/* Starts a streamed response (e.g. text/event-stream): sends the status line and headers
 * (same rules as cp_http_respond_headers; include Content-Type yourself). HTTP/1.1 bodies
 * go out chunked; for HTTP/1.0 the connection closes at the end. The request stays open
 * (and the idle timeout is off) until cp_http_stream_end or an abort. Same returns as
 * cp_http_respond, except that success leaves the request open. */
int cp_http_stream_start(cp_http_request_t *req, int status, const char *const *headers);

/* Queues len bytes (copied) of a started stream; len 0 does nothing. Returns 0,
 * CP_ETOOBIG when the client is too slow (unsent bytes would pass max_pending_output;
 * nothing was queued, the stream stays open: drop the data, retry later, or end/abort),
 * CP_EINVAL (no stream started), CP_ECANCELED (closing) or CP_ENOMEM. */
int cp_http_stream_write(cp_http_request_t *req, const void *data, size_t len);

/* Ends a started stream; the request is finished and invalid afterwards. Returns 0,
 * CP_EINVAL (no stream started), CP_ECANCELED or CP_ENOMEM (stream left open). */
int cp_http_stream_end(cp_http_request_t *req);

/* Decides, when a request's headers are complete and before any body byte is read,
 * whether its body is streamed. Return 1: the handler runs at once (req->body "" and
 * body_len 0) and the body arrives through the sink the handler sets; return 0: the body
 * is buffered as before (max_body_bytes applies). A streamed body has no size cap in the
 * server: the handler enforces its own (Content-Length known up front, or counted). The
 * server answers "Expect: 100-continue" with "100 Continue" when the body is streamed and
 * the handler has not responded yet when it first asks for data (at set_body_sink). A
 * request without a body may be streamed too: its sink gets on_end only. Loop thread. */
typedef int (*cp_http_stream_filter_fn)(const cp_http_request_t *req, void *ud);

/* Installs the stream filter (fn NULL: every body is buffered). Loop thread. */
void cp_http_server_set_stream_filter(cp_http_server_t *srv, cp_http_stream_filter_fn fn, void *ud);

/* Sink for a streamed body: on_data for each piece (borrowed, valid during the call only;
 * chunked framing already removed), then on_end once (may be NULL). If the client goes
 * away first, on_abort (cp_http_request_set_on_abort) runs instead of on_end; if the
 * handler responds first, neither runs again. While a streamed body flows (set, not
 * paused) the client must send something within idle_timeout_ms. Set it from the handler
 * (or later, while paused: until then nothing is read past 64 KiB). Returns 0, CP_EINVAL
 * (not a streamed request, on_data NULL, or set twice). Loop thread. */
typedef void (*cp_http_body_data_fn)(cp_http_request_t *req, const char *data, size_t len,
                                     void *ud);
typedef void (*cp_http_body_end_fn)(cp_http_request_t *req, void *ud);
int cp_http_request_set_body_sink(cp_http_request_t *req, cp_http_body_data_fn on_data,
                                  cp_http_body_end_fn on_end, void *ud);

/* Backpressure on a streamed body: pause stops reading the socket (no on_data nor on_end
 * until resume); resume starts again (already-read bytes are delivered from the loop's
 * next turn, never from inside resume). Idempotent; no-ops on other requests. */
void cp_http_request_pause(cp_http_request_t *req);
void cp_http_request_resume(cp_http_request_t *req);

/* Streamed response with a known length (downloads: clients show progress): like
 * cp_http_stream_start but sends Content-Length: length instead of chunked framing; the
 * stream must then carry exactly length bytes before cp_http_stream_end (fewer: the
 * connection is closed after them; a write past length: CP_EINVAL, nothing queued). */
int cp_http_stream_start_length(cp_http_request_t *req, int status, const char *const *headers,
                                uint64_t length);

/* Output backpressure: cb runs (once per registration cycle) when the bytes a started
 * stream holds (cp_http_stream_pending) fall to low_water or below, after a write
 * (cp_http_stream_write that returned 0 or CP_ETOOBIG) armed it; the cycle restarts with the next
 * write. Use it to pull the next chunk from disk or upstream. It runs from the loop, never from
 * inside a write. cb NULL removes. Loop thread. */
typedef void (*cp_http_drain_fn)(cp_http_request_t *req, void *ud);
void cp_http_stream_set_on_drain(cp_http_request_t *req, size_t low_water, cp_http_drain_fn cb,
                                 void *ud);

/* Bytes the request's connection holds for writing: queued and not yet sent, or sent in
 * this loop turn and not yet released (a fast client takes writes at once, but their
 * memory goes back only when the loop runs their callbacks). Decide on it whether to
 * write more now; on_drain uses the same count. 0 for a closing connection. */
size_t cp_http_stream_pending(const cp_http_request_t *req);

/* Drops the request and closes its connection at once, without (further) response; e.g.
 * for a stream whose client keeps returning CP_ETOOBIG. on_abort is not called. The
 * request is invalid afterwards. Loop thread. */
void cp_http_abort(cp_http_request_t *req);

#endif
