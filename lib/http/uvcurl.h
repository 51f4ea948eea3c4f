/* libcurl's multi interface driven by a libuv loop: many concurrent HTTP transfers
 * (HTTP/1.1 keep-alive or HTTP/2 multiplexed, TLS) on the loop's thread, no extra threads.
 *
 * libcurl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION: one uv_poll_t per
 * socket) and when to wake it (CURLMOPT_TIMERFUNCTION: one uv_timer_t); both call
 * curl_multi_socket_action, after which finished transfers are handed to the done
 * callback. Connections (and their TLS sessions) are cached by the multi handle, so easy
 * handles need not be reused for keep-alive. A transfer pauses itself from its callbacks
 * (CURL_WRITEFUNC_PAUSE, CURL_READFUNC_PAUSE: backpressure in either direction) and is
 * resumed with cp_uvcurl_unpause from loop callbacks, never from inside a libcurl callback.
 *
 * Threading: everything runs on the loop thread. Memory of the poll and timer handles is
 * released in their close callbacks; the multi handle's once all of them closed.
 */
#ifndef CP_HTTP_UVCURL_H
#define CP_HTTP_UVCURL_H

#include <curl/curl.h>
#include <uv.h>

typedef struct cp_uvcurl_s cp_uvcurl_t;

/* Called on the loop thread when a transfer ends (completed, failed or timed out), after
 * the easy handle was removed from the multi: the callee may clean it up or reuse it.
 * ud is the easy handle's CURLOPT_PRIVATE. */
typedef void (*cp_uvcurl_done_fn)(CURL *easy, CURLcode result, void *ud);

/* Creates a driver on loop calling done for every finished transfer. max_host_connections
 * caps connections per host (0: no cap; transfers past it wait for a free connection).
 * Returns 0 and *out, or CP_ENOMEM / CP_EINTERNAL. Loop thread. */
int cp_uvcurl_new(uv_loop_t *loop, cp_uvcurl_done_fn done, long max_host_connections,
                  cp_uvcurl_t **out);

/* Starts a prepared transfer; its CURLOPT_PRIVATE is the ud given to done. Returns 0,
 * CP_EINVAL (already added, or the driver is closing) or CP_ENOMEM. Loop thread, not from
 * inside a libcurl callback. */
int cp_uvcurl_add(cp_uvcurl_t *m, CURL *easy);

/* Cancels a running transfer: it is removed at once (its connection is closed if the
 * transfer was mid-way) and done is not called. Only for a transfer added here whose done
 * has not run. Returns 0 or CP_EINVAL. Loop thread, not from inside a libcurl callback. */
int cp_uvcurl_remove(cp_uvcurl_t *m, CURL *easy);

/* Resumes a transfer that paused itself (its read callback returned CURL_READFUNC_PAUSE
 * or its write callback CURL_WRITEFUNC_PAUSE), both directions, and has the driver run it
 * on the next loop turn even when its socket shows no new event (libcurl may hold data it
 * already read). Data libcurl kept back may be delivered to the write callback from
 * inside this call; the callback may pause again. Returns 0, CP_EINVAL (not a running
 * transfer of m) or CP_EIO (libcurl refused: the transfer failed, its done will say).
 * Loop thread, not from inside a libcurl callback. */
int cp_uvcurl_unpause(cp_uvcurl_t *m, CURL *easy);

/* Number of transfers running. */
int cp_uvcurl_running(const cp_uvcurl_t *m);

/* Closes the driver. Transfers still running are removed without a done call (remove
 * them first to clean them up). on_closed(ud) (may be NULL) runs once every handle has
 * closed; m is invalid after this call. Accepts NULL. Loop thread. */
void cp_uvcurl_close(cp_uvcurl_t *m, void (*on_closed)(void *ud), void *ud);

#endif
