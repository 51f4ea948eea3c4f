/* Internal seams of lib/http/server.c, for the fuzzer and unit tests only.
 *
 * A detached connection runs the exact parsing, dispatch and response code of a socket
 * connection, but takes its input from cp__http_conn_feed and hands its output to a sink
 * callback instead of a socket. It has no libuv handles and is not counted by the server.
 */
#ifndef CP_HTTP_SERVER_INTERNAL_H
#define CP_HTTP_SERVER_INTERNAL_H

#include "http/server.h"

/* Receives every byte the connection would write, in order. Called with data NULL and
 * len 0 once, when the connection closes. */
typedef void (*cp__http_sink_fn)(void *ud, const char *data, size_t len);

/* Creates a detached connection on srv (which must outlive it). Returns 0 and *out, or
 * CP_ENOMEM. Loop thread. */
int cp__http_conn_new_detached(cp_http_server_t *srv, cp__http_sink_fn sink, void *sink_ud,
                               cp__http_conn_t **out);

/* Feeds received bytes: parses, runs the handler for each complete request, writes the
 * responses. The socket read path uses it too. Returns 0, or CP_ECANCELED once the
 * connection is closed or closing (later input is ignored). Loop thread. */
int cp__http_conn_feed(cp__http_conn_t *conn, const char *data, size_t len);

/* Frees a detached connection; an unfinished request gets its on_abort first. Accepts
 * NULL. */
void cp__http_conn_free_detached(cp__http_conn_t *conn);

#endif
