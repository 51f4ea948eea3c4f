/* An informer keeps a local cache of one kind in step with the API server and tells a
 * controller what changed.
 *
 * It LISTs in pages (limit + continue, a consistent read, which the API server serves from
 * its watch cache; an expired continue token starts the list over) whose items stream into
 * the cache one at a time as they arrive (cp_kube_list_each): memory holds one item's text,
 * never a page's tree. Then it WATCHes from the list's resourceVersion with bookmarks,
 * resuming after dropped streams and relisting when the server answers 410 Gone. A relist
 * is diffed against the cache item by item so handlers see only real changes, deletions
 * that happened while the watch was down included.
 *
 * Every object loses metadata.managedFields and the kubectl last-applied annotation on its
 * way in (cp_informer_strip), then the owner's projection, if any, trims it to what the
 * owner reads, and its member names are shared with every other cached object's
 * (json/intern.h): the cache holds a fraction of what the server sends.
 *
 * Each informer runs on its own thread with its own keep-alive client (a watch holds its
 * connection); handlers run on that thread and should be quick (typically: enqueue a key).
 * Objects passed to handlers are snapshots the handler may cp_obj_ref to keep.
 *
 * This blocking-thread design was chosen over one libuv loop with libcurl multi for
 * simplicity: a controller watches a handful of kinds, so a handful of threads is cheap.
 */
#ifndef CP_KUBE_INFORMER_H
#define CP_KUBE_INFORMER_H

#include "kube/client.h"
#include "kube/config.h"
#include "kube/store.h"

#include <stdint.h>

typedef struct cp_informer_s cp_informer_t;

/* What happened to an informer's connection (cp_informer_handlers_t.on_conn). */
typedef enum cp_informer_conn_e {
  CP_INFORMER_LISTED,       /* a LIST filled the cache (the first, or a relist) */
  CP_INFORMER_WATCH_UP,     /* a WATCH stream was established */
  CP_INFORMER_WATCH_BROKEN, /* a WATCH stream failed; it is retried with backoff */
} cp_informer_conn_t;

typedef struct cp_informer_handlers_s {
  void (*on_add)(cp_obj_t *obj, void *ud);
  void (*on_update)(cp_obj_t *old, cp_obj_t *obj, void *ud);
  void (*on_delete)(cp_obj_t *obj, void *ud); /* the last state seen */
  /* A list or watch failure the informer will retry (after a backoff) by itself: for the
   * caller to log. rc is the CP_E* code, st what the server said. */
  void (*on_error)(const char *what, int rc, const cp_status_t *st, void *ud);
  void *ud;
  /* Optional: the connection's life, for logs and metrics. resource is the informer's
   * resource ("pods"); rc and st describe a broken watch (0 and NULL otherwise); lists is
   * the number of LISTs so far (2 or more: a relist). */
  void (*on_conn)(cp_informer_conn_t what, const char *resource, unsigned long lists, int rc,
                  const cp_status_t *st, void *ud);
} cp_informer_handlers_t;

typedef struct cp_informer_opts_s {
  cp_gvr_t gvr;
  const char *namespace_;     /* NULL: all namespaces (or cluster-scoped) */
  const char *label_selector; /* NULL: everything */
  const char *field_selector; /* NULL: everything */
  /* Optional: trims each object in place before it enters the cache, after
   * cp_informer_strip (e.g. cp_json_keep with the paths the owner compares and reads).
   * Handlers and the store see only the trimmed object. Runs on the informer's thread. */
  void (*project)(cJSON *obj, void *ud);
  void *project_ud;
  long page_size; /* LIST page size (items stream in: it bounds round trips, not memory); 0:
                     CP_INFORMER_PAGE_SIZE */
  /* Nonzero: the cache keeps each object as JSON text (cp_store_set_compact), about a fifth
   * of the memory of its tree, and parses it for each cp_store_get: for large caches read
   * by key a few times per change. Handlers still get trees. */
  int compact;
} cp_informer_opts_t;

#define CP_INFORMER_PAGE_SIZE 500

/* Removes what no cache needs from a server object, in place: metadata.managedFields and
 * the kubectl.kubernetes.io/last-applied-configuration annotation (each a second copy of
 * much of the object). Accepts NULL. */
void cp_informer_strip(cJSON *obj);

/* Creates a stopped informer with its own client from cfg (copied) and client opts (may
 * be NULL). Strings in opts are copied; handlers are copied. Returns 0, CP_ENOMEM or the
 * cp_kube_client_new error. */
int cp_informer_new(const cp_kubeconfig_t *cfg, const cp_kube_client_opts_t *copts,
                    const cp_informer_opts_t *opts, const cp_informer_handlers_t *h,
                    cp_informer_t **out);

/* Starts the informer's thread. Returns 0 or CP_ENOMEM. */
int cp_informer_start(cp_informer_t *inf);

/* 1 once the first list has filled the cache, else 0. Any thread. */
int cp_informer_synced(cp_informer_t *inf);

/* The cache; valid until cp_informer_free. Any thread. */
cp_store_t *cp_informer_store(cp_informer_t *inf);

/* Number of LISTs done so far (1 after the initial sync; more after 410s). */
unsigned long cp_informer_lists(cp_informer_t *inf);

/* The newest resourceVersion the cache is known to reflect, as a number (kube/rv.h): the
 * list's once it is in, then each watch event's and bookmark's once handled. 0 before the
 * first list, or while the server's versions are not comparable. Any thread. */
uint64_t cp_informer_seen_rv(cp_informer_t *inf);

/* Read your writes: waits until the cache reflects rv (typically the resourceVersion a
 * write answered with), so the store then shows that write or something later, deletions
 * included. Returns 0; CP_ETIMEOUT after timeout_ms (the watch lags or is down); CP_EINVAL
 * at once when rv is not comparable (KEP-5504). Any thread but the informer's (a handler
 * must not wait: it would wait for itself). */
int cp_informer_wait_rv(cp_informer_t *inf, const char *rv, long timeout_ms);

/* The same for a deletion whose answer carried no version (a Status, as most kinds answer
 * a DELETE that takes effect at once): waits until the cache no longer holds key. Returns
 * 0, or CP_ETIMEOUT after timeout_ms. Any thread but the informer's. */
int cp_informer_wait_gone(cp_informer_t *inf, const char *key, long timeout_ms);

/* Stops the thread (ends its watch) and waits for it. Safe to call twice. */
void cp_informer_stop(cp_informer_t *inf);

/* Asks the thread to stop without waiting: its watch ends within about a second (the
 * stop flag is polled). Call it on every informer, then cp_informer_stop on each, so a
 * shutdown waits about one second in all instead of one per informer. Any thread;
 * accepts NULL. */
void cp_informer_request_stop(cp_informer_t *inf);

/* Stops, then frees everything. Accepts NULL. */
void cp_informer_free(cp_informer_t *inf);

#endif
