/* clawctl's client of the clawplane apiserver (api/openapi.json): JSON requests with a
 * bearer token over one reused libcurl handle, and the runtime's Server-Sent Events stream.
 *
 * A failed call keeps what the server said: the HTTP status and the `error.message` of its
 * `{"error":{"code","message"}}` body go to the caller in cp_cli_status_t, and the return
 * code names the class (CP_EUNAUTHORIZED, CP_ENOTFOUND...). Response bodies are capped at
 * CP_CLI_BODY_MAX, one SSE event at CP_CLI_EVENT_MAX. The token is sent only in the
 * Authorization header and never appears in an error text. Not thread-safe: one client per
 * thread.
 */
#ifndef CP_CLI_CLIENT_H
#define CP_CLI_CLIENT_H

#include <cjson/cJSON.h>
#include <stddef.h>

#define CP_CLI_BODY_MAX (8 * 1024 * 1024)
#define CP_CLI_EVENT_MAX (1024 * 1024)

typedef struct cp_cli_client_s cp_cli_client_t;

typedef struct cp_cli_status_s {
  long http;         /* HTTP status; 0 when no answer came */
  char message[512]; /* the server's error message, or the transport's */
} cp_cli_status_t;

/* A client of server ("https://host:port", copied) with token ("" or NULL: none, copied).
 * Returns 0 or CP_ENOMEM/CP_EINVAL. */
int cp_cli_client_new(const char *server, const char *token, cp_cli_client_t **out);

/* Accepts NULL. Clears the token. */
void cp_cli_client_free(cp_cli_client_t *c);

/* Requests method path (starting "/api/..."; the caller escapes path segments) with body
 * (NULL: none) as JSON. On 2xx returns 0 and, when out is not NULL, the parsed body in *out
 * (caller frees; NULL for an empty body). Otherwise a negative code, with st filled:
 * CP_ECONNECT/CP_ETIMEOUT/CP_ETLS (no answer), CP_EBADREQUEST, CP_EUNAUTHORIZED,
 * CP_EFORBIDDEN, CP_ENOTFOUND, CP_ECONFLICT, CP_ETHROTTLED, CP_EUNAVAILABLE, CP_EHTTP,
 * CP_ETOOBIG or CP_EPARSE (a body that is not JSON). */
int cp_cli_call(cp_cli_client_t *c, const char *method, const char *path, const cJSON *body,
                cJSON **out, cp_cli_status_t *st);

/* Called for each SSE event: its name ("" when none) and data. Returns 0 to go on, 1 to
 * end the stream (cp_cli_stream then returns 0), or a negative code to return. */
typedef int (*cp_cli_event_fn)(const char *event, const char *data, void *ud);

/* Called about ten times a second while a stream is open (a spinner's tick). May be NULL. */
typedef void (*cp_cli_tick_fn)(void *ud);

/* GETs path as text/event-stream and calls on_event per event until it returns non-zero,
 * the server ends the stream (CP_ECANCELED: "the server ended the stream") or timeout_ms
 * passes (CP_ETIMEOUT; 0 = no limit). HTTP errors as cp_cli_call. */
int cp_cli_stream(cp_cli_client_t *c, const char *path, long timeout_ms, cp_cli_event_fn on_event,
                  cp_cli_tick_fn on_tick, void *ud, cp_cli_status_t *st);

/* Progress of a transfer: bytes done and the total (0 while unknown). Called about ten
 * times a second and once at the end. May be NULL. */
typedef void (*cp_cli_progress_fn)(unsigned long long done, unsigned long long total, void *ud);

/* GETs path and streams a 2xx body into fd as it arrives (nothing is held whole). An
 * error answer is read (capped) into st like cp_cli_call's, and nothing is written to
 * fd. Returns 0, CP_EIO (writing fd failed; st says why) or as cp_cli_call. No overall
 * timeout: a stalled transfer (no byte for 60 s) fails with CP_ETIMEOUT. */
int cp_cli_download(cp_cli_client_t *c, const char *path, int fd, cp_cli_progress_fn progress,
                    void *ud, cp_cli_status_t *st);

/* PUTs the bytes of fd to path as application/octet-stream, read as they are sent: with
 * Content-Length when size >= 0, chunked otherwise (a pipe). On 2xx returns 0 and the
 * parsed answer in *out (may be NULL). Returns as cp_cli_download (CP_EIO: reading fd). */
int cp_cli_upload(cp_cli_client_t *c, const char *path, int fd, long long size,
                  cp_cli_progress_fn progress, void *ud, cJSON **out, cp_cli_status_t *st);

/* Escapes s for one path segment or query value into dst (n bytes). Returns 0 or
 * CP_ETOOBIG. */
int cp_cli_escape(const char *s, char *dst, size_t n);

#endif
