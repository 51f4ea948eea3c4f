/* Kubernetes watch: a pure stream decoder and a blocking watch built on it.
 *
 * The decoder turns a watch response body (one JSON event per '\n'-terminated line) into
 * events. It does no I/O, so the blocking cp_kube_watch below and a future libcurl-multi /
 * libuv informer share it. Each chunk is scanned once: the buffered partial line never
 * holds a '\n', so only new bytes are searched, and a complete line that arrives inside one
 * chunk is parsed in place without copying. The partial line is capped (a line past the
 * cap is CP_ETOOBIG, never growth).
 *
 * The decoder remembers the resourceVersion of the last event the callback accepted
 * (objects and BOOKMARKs), which is where a new watch resumes.
 */
#ifndef CP_KUBE_WATCH_H
#define CP_KUBE_WATCH_H

#include "core/buf.h"
#include "kube/client.h"
#include "kube/resource.h"
#include "kube/status.h"

#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#define CP_KUBE_RV_MAX 256 /* resourceVersion buffer, terminator included */
#define CP_WATCH_DEFAULT_MAX_LINE ((size_t)16 << 20) /* 16 MiB */

typedef enum cp_watch_type_e {
  CP_WATCH_ADDED,
  CP_WATCH_MODIFIED,
  CP_WATCH_DELETED,
  CP_WATCH_BOOKMARK,
  CP_WATCH_ERROR, /* object is a metav1.Status */
} cp_watch_type_t;

typedef struct cp_watch_event_s {
  cp_watch_type_t type;
  cJSON *object;                /* owned by the decoder; see cp_watch_event_take */
  const char *resource_version; /* the object's metadata.resourceVersion, "" if none */
} cp_watch_event_t;

/* Takes ownership of the event's object (the caller frees it with cJSON_Delete); the
 * decoder then no longer frees it. Only valid inside the callback. */
static inline cJSON *cp_watch_event_take(cp_watch_event_t *ev) {
  cJSON *o = ev->object;
  ev->object = NULL;
  return o;
}

/* Called once per event, on the thread that feeds the decoder. The event and, unless
 * taken, its object are valid only during the call. Return 0 to go on; any other value
 * stops decoding and is returned by the feed (use a negative CP_E* code for errors; a
 * positive value is a plain stop, which cp_kube_watch reports as CP_ECANCELED). The
 * resourceVersion is recorded only for events whose callback returned 0 or positive. */
typedef int (*cp_watch_cb)(cp_watch_event_t *ev, void *ud);

typedef struct cp_watch_decoder_s {
  cp_buf_t line;                         /* partial line; never contains '\n' */
  size_t max_line;                       /* cap on one line, '\n' excluded */
  int err;                               /* sticky decode error, 0 if none */
  cp_status_t status;                    /* what the server said in an ERROR event */
  char resource_version[CP_KUBE_RV_MAX]; /* last accepted; "" if none */
  unsigned long events;                  /* events delivered */
} cp_watch_decoder_t;

/* Initializes a decoder; max_line 0 means CP_WATCH_DEFAULT_MAX_LINE. resource_version
 * (may be NULL) seeds the recorded resourceVersion. */
void cp_watch_decoder_init(cp_watch_decoder_t *d, size_t max_line, const char *resource_version);

/* Feeds len bytes (any split of the stream). Calls cb for every line completed by them.
 * Returns 0; CP_ETOOBIG (a line longer than max_line), CP_EPARSE (a line that is not a
 * watch event, or a resourceVersion longer than CP_KUBE_RV_MAX - 1), or for an ERROR event
 * (delivered to cb first) CP_EGONE when its Status code is 410, otherwise the code's
 * CP_E* mapping (CP_EHTTP without a code), with d->status filled; these errors are sticky
 * until cp_watch_decoder_reset. Or the callback's non-zero value; the bytes after the
 * event that stopped decoding are dropped. A trailing partial line waits for more bytes. */
int cp_watch_decoder_feed(cp_watch_decoder_t *d, const char *data, size_t len, cp_watch_cb cb,
                          void *ud);

/* Drops the partial line and the sticky error (for a new stream); keeps the recorded
 * resourceVersion. */
void cp_watch_decoder_reset(cp_watch_decoder_t *d);

/* Releases the line buffer. Accepts NULL. The decoder may be re-initialized afterwards. */
void cp_watch_decoder_free(cp_watch_decoder_t *d);

typedef struct cp_watch_opts_s {
  const char *label_selector; /* NULL = none */
  const char *field_selector; /* NULL = none */
  long timeout_seconds;       /* server closes the stream after this; 0 = random 300..600 */
  size_t max_line;            /* decoder cap; 0 = 16 MiB */
  bool send_initial_events;   /* sendInitialEvents=true (resourceVersionMatch=NotOlderThan):
                                 existing objects as ADDED, then a BOOKMARK annotated
                                 "k8s.io/initial-events-end": "true". The loop stops asking
                                 once a watch has moved the resourceVersion. */
  atomic_bool *stop;          /* optional: set from any thread to end the watch */
  /* Optional, called on the watching thread: up true as soon as a WATCH request got a 2xx
   * answer (the stream is established, events or not); up false, with the error and what
   * the server said, each time cp_kube_watch_loop is about to retry after a transient
   * failure. For logs and metrics; it cannot change what the loop does. */
  void (*on_stream)(bool up, int rc, const cp_status_t *st, void *ud);
  void *stream_ud;
} cp_watch_opts_t;

/* One blocking WATCH request (allowWatchBookmarks=true) on the calling thread, which must
 * own the client. rv is in/out, CP_KUBE_RV_MAX bytes: on entry the resourceVersion to start
 * from ("" = now, with synthetic ADDED events for existing objects first); on return,
 * whatever the outcome, the last resourceVersion accepted (from objects and bookmarks).
 * opts may be NULL. Returns 0 when the server ended the stream normally (watch again from
 * rv); CP_EGONE when rv is too old (410 as HTTP status or ERROR event: list again);
 * CP_ECANCELED when *opts->stop was set or cb returned a positive value; cb's negative
 * value; or the transport / HTTP / decode error (st filled on every failure). */
int cp_kube_watch(cp_kube_client_t *c, const cp_gvr_t *gvr, const char *ns,
                  const cp_watch_opts_t *opts, char *rv, cp_watch_cb cb, void *ud, cp_status_t *st);

/* cp_kube_watch again and again, resuming from rv: immediately after a normal end (unless
 * the stream lasted under a second), and after transient failures (CP_ECONNECT,
 * CP_ETIMEOUT, CP_EIO, CP_EPARSE, CP_ETHROTTLED, CP_EUNAVAILABLE, CP_ETLS) with jittered
 * exponential backoff from 0.8 s to 30 s, reset once a watch delivers an event. Returns only
 * CP_EGONE (list again, then watch from the list's resourceVersion), CP_ECANCELED (stop
 * flag or positive cb value; backoff sleeps watch the flag too), a negative cb value, or a
 * non-transient error such as CP_EUNAUTHORIZED, CP_EFORBIDDEN, CP_ENOTFOUND, CP_ETOOBIG.
 * st holds the last failure. Same threading as cp_kube_watch. */
int cp_kube_watch_loop(cp_kube_client_t *c, const cp_gvr_t *gvr, const char *ns,
                       const cp_watch_opts_t *opts, char *rv, cp_watch_cb cb, void *ud,
                       cp_status_t *st);

/* Backoff before reconnect number attempt (0-based): min(800 ms * 2^attempt, 30 s), with
 * jitter in [0, 1) spreading it down to three quarters of that (never under 800 ms). */
long cp_kube_backoff_ms(unsigned attempt, double jitter);

#endif
