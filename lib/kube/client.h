/* A small dynamic Kubernetes REST client over JSON.
 *
 * Objects are cJSON trees kept whole; requests are described by a cp_gvr_t plus namespace,
 * name and optional subresource. Every typed helper is a thin wrapper over one generic
 * call, cp_kube_request, so transport, authentication, caps, retries and error mapping
 * live in one place.
 *
 * Threading: a client owns one connection, reused for keep-alive, and HTTP/2 where the
 * server offers it, whose streams then carry a batch's writes at once (cp_kube_batch). A
 * client may be used by one thread at a time; threads that work in parallel each make their own
 * client from the shared, immutable cp_kubeconfig_t. The client copies what it needs from the
 * config, so the config may be freed after cp_kube_client_new.
 *
 * Errors: every call returns 0 or a negative CP_E* code. On failure the optional
 * cp_status_t gets the HTTP code, the metav1.Status reason and message (or libcurl's error
 * text when no response arrived) and Retry-After; on success it is zeroed. HTTP codes map
 * as: 400 BADREQUEST, 401 UNAUTHORIZED, 403 FORBIDDEN, 404 NOTFOUND, 409 CONFLICT (the
 * reason tells AlreadyExists from Conflict), 410 GONE, 422 INVALID, 429 THROTTLED, 5xx
 * UNAVAILABLE, any other non-2xx HTTP. Transport: timeouts TIMEOUT, refused or unresolvable
 * hosts CONNECT, handshake and certificate problems TLS, a body past the cap TOOBIG, other
 * broken transfers IO. An error status that arrived wins over a transport error that cut
 * its body (HTTP/2 early rejections). 429, and 503 carrying Retry-After, are retried a few
 * times (any method: neither was processed) honouring Retry-After, each wait capped at
 * 10 s; the last answer reaches the caller.
 *
 * Metrics: with opts.metrics, every attempt (retries included, as client-go counts them)
 * adds one to rest_client_requests_total{code,host,method}: code is the HTTP status, or
 * "<error>" when no answer arrived; a watch counts once, when its answer starts. A call
 * that is not a watch also observes rest_client_request_duration_seconds{host,verb}.
 * host is the server's host:port; the buckets are client-go's.
 *
 * Credentials never touch the disk (libcurl *_BLOB options) and are never put into
 * cp_status_t. A token_file is re-read whenever its mtime, size or inode changes.
 */
#ifndef CP_KUBE_CLIENT_H
#define CP_KUBE_CLIENT_H

#include "core/buf.h"
#include "kube/config.h"
#include "kube/listsplit.h"
#include "kube/resource.h"
#include "kube/status.h"
#include "metrics/metrics.h"

#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

typedef struct cp_kube_client_s cp_kube_client_t;

typedef struct cp_kube_client_opts_s {
  long timeout_ms;           /* whole request (not watches); 0 = 30000 */
  long connect_timeout_ms;   /* TCP + TLS setup; 0 = 10000 */
  size_t max_body;           /* cap on one response body; 0 = 64 MiB */
  const char *user_agent;    /* NULL = "clawplane/0.1"; copied */
  const char *field_manager; /* fieldManager for create/update/patch, or NULL; copied */
  double qps;                /* client-side token bucket rate; 0 = no limit */
  int burst;                 /* bucket size; 0 with qps > 0 means 1 */
  int max_retries;           /* retries on 429 / 5xx+Retry-After; 0 = 3, negative = none */
  cp_metrics_t *metrics;     /* where to count requests (see above), or NULL; must outlive
                                the client */
} cp_kube_client_opts_t;

/* Creates a client for cfg (copied from; may be freed afterwards). opts may be NULL for
 * the defaults above. Returns 0 with *out set (free with cp_kube_client_free), CP_EINVAL,
 * CP_ECONFIG (unusable server URL or TLS material) or CP_ENOMEM. Any thread. */
int cp_kube_client_new(const cp_kubeconfig_t *cfg, const cp_kube_client_opts_t *opts,
                       cp_kube_client_t **out);

/* Closes the connection and wipes the cached token. Accepts NULL. */
void cp_kube_client_free(cp_kube_client_t *c);

/* The generic call every helper uses. method: "GET", "POST", "PUT", "PATCH", "DELETE".
 * path: absolute API path ("/api/v1/namespaces"), already escaped (see cp_kube_path).
 * query: escaped query string without '?', or NULL. content_type and body: the request
 * body (NUL-terminated) and its type, both NULL for none. On success, if out is non-NULL,
 * *out owns the parsed response (NULL when the body was empty); a response that is not
 * JSON is CP_EPARSE. Returns 0 or CP_E* as described at the top. */
int cp_kube_request(cp_kube_client_t *c, const char *method, const char *path, const char *query,
                    const char *content_type, const char *body, cJSON **out, cp_status_t *st);

/* --- typed helpers. ns is NULL for cluster-scoped kinds (and, for list/watch of a
 * namespaced kind, means all namespaces). subresource is NULL or e.g. "status".
 * On success *out (when out is non-NULL) owns the object the server returned. --- */

/* GET one object. */
int cp_kube_get(cp_kube_client_t *c, const cp_gvr_t *gvr, const char *ns, const char *name,
                const char *subresource, cJSON **out, cp_status_t *st);

typedef struct cp_list_opts_s {
  const char *label_selector;         /* NULL = none */
  const char *field_selector;         /* NULL = none */
  long limit;                         /* page size; 0 = server default (all) */
  const char *continue_token;         /* from a previous page's metadata.continue */
  const char *resource_version;       /* NULL = most recent (quorum read) */
  const char *resource_version_match; /* "Exact" / "NotOlderThan", or NULL */
} cp_list_opts_t;

/* One LIST request; *out owns the whole List object (items, metadata.continue,
 * metadata.resourceVersion). opts may be NULL. */
int cp_kube_list(cp_kube_client_t *c, const cp_gvr_t *gvr, const char *ns,
                 const cp_list_opts_t *opts, cJSON **out, cp_status_t *st);

/* One LIST request whose items go to fn one at a time as they arrive (kube/listsplit.h):
 * the text of one object, valid during the call. Memory holds one item, not the page, so
 * pages can be large. *list gets the List without its items (metadata.continue and
 * metadata.resourceVersion; the caller deletes it). stop (may be NULL) ends the transfer
 * with CP_ECANCELED. An item larger than the client's max_body is CP_ETOOBIG, a body that
 * is not a List CP_EPARSE, fn's error stops the list and is returned. Items fn got before
 * a failure stay got: a caller lists again from the start. opts may be NULL. */
int cp_kube_list_each(cp_kube_client_t *c, const cp_gvr_t *gvr, const char *ns,
                      const cp_list_opts_t *opts, atomic_bool *stop, cp_list_item_fn fn, void *ud,
                      cJSON **list, cp_status_t *st);

/* LIST following metadata.continue until the last page. On success *items owns a cJSON
 * array of every object and *resource_version (if non-NULL) owns a heap copy of the
 * list's resourceVersion (free it). opts->continue_token is ignored. The sum of page
 * bodies is capped at the client's max_body (CP_ETOOBIG). An expired continue token gives
 * CP_EGONE: list again from the start. */
int cp_kube_list_all(cp_kube_client_t *c, const cp_gvr_t *gvr, const char *ns,
                     const cp_list_opts_t *opts, cJSON **items, char **resource_version,
                     cp_status_t *st);

/* POST a new object into the collection. AlreadyExists is CP_ECONFLICT with reason
 * "AlreadyExists". */
int cp_kube_create(cp_kube_client_t *c, const cp_gvr_t *gvr, const char *ns, const cJSON *obj,
                   cJSON **out, cp_status_t *st);

/* PUT (replace) an object; obj carries metadata.resourceVersion for optimistic concurrency
 * (a stale one is CP_ECONFLICT). */
int cp_kube_update(cp_kube_client_t *c, const cp_gvr_t *gvr, const char *ns, const char *name,
                   const char *subresource, const cJSON *obj, cJSON **out, cp_status_t *st);

/* Server-side apply: PATCH with application/apply-patch+yaml (the body is JSON, which is
 * YAML). field_manager is required (CP_EINVAL without it). A field owned by another
 * manager is CP_ECONFLICT (reason "Conflict", message naming the manager) unless force. */
int cp_kube_apply(cp_kube_client_t *c, const cp_gvr_t *gvr, const char *ns, const char *name,
                  const char *subresource, const cJSON *obj, const char *field_manager, bool force,
                  cJSON **out, cp_status_t *st);

typedef enum cp_patch_type_e {
  CP_PATCH_MERGE,     /* application/merge-patch+json (RFC 7386) */
  CP_PATCH_JSON,      /* application/json-patch+json (RFC 6902) */
  CP_PATCH_STRATEGIC, /* application/strategic-merge-patch+json (built-in kinds only) */
} cp_patch_type_t;

/* PATCH with the given JSON patch text (a JSON object, or an array for CP_PATCH_JSON). */
int cp_kube_patch(cp_kube_client_t *c, const cp_gvr_t *gvr, const char *ns, const char *name,
                  const char *subresource, cp_patch_type_t type, const char *patch, cJSON **out,
                  cp_status_t *st);

typedef struct cp_delete_opts_s {
  const char *propagation_policy; /* "Background", "Foreground", "Orphan" or NULL */
  const char *uid;                /* precondition, or NULL */
  const char *resource_version;   /* precondition, or NULL */
  long grace_period_seconds;      /* > 0: that many seconds; 0: server default;
                                     CP_DELETE_NOW: gracePeriodSeconds=0 */
} cp_delete_opts_t;

#define CP_DELETE_NOW (-1L)

/* DELETE an object. opts may be NULL (server defaults). A missing object is CP_ENOTFOUND;
 * a failed precondition is CP_ECONFLICT. *out, if wanted, is what the server returned:
 * the object (still terminating) or a Status. */
int cp_kube_delete(cp_kube_client_t *c, const cp_gvr_t *gvr, const char *ns, const char *name,
                   const cp_delete_opts_t *opts, cJSON **out, cp_status_t *st);

/* --- batches: independent writes at once, multiplexed on one HTTP/2 connection --- */

#define CP_KUBE_BATCH_MAX 8 /* writes in flight at once; a larger batch goes in turns */

typedef enum cp_kube_op_kind_e {
  CP_KUBE_OP_APPLY,  /* server-side apply, as cp_kube_apply */
  CP_KUBE_OP_CREATE, /* POST, as cp_kube_create (name unused) */
  CP_KUBE_OP_UPDATE, /* PUT, as cp_kube_update */
} cp_kube_op_kind_t;

/* One write of a batch. The caller fills the first part; cp_kube_batch the second. */
typedef struct cp_kube_op_s {
  cp_kube_op_kind_t kind;
  const cp_gvr_t *gvr;
  const char *ns, *name, *subresource;
  const cJSON *obj;
  const char *field_manager; /* APPLY: required; CREATE and UPDATE use the client's */
  bool force;                /* APPLY only */
  bool want_out;             /* keep the server's answer in out */
  int rc;                    /* out: 0 or the CP_E* code, as the single call would return */
  cp_status_t st;            /* out: what the server said on failure, zeroed on success */
  cJSON *out;                /* out: with want_out, the answer on success (caller deletes) */
} cp_kube_op_t;

/* Sends n independent writes at once and waits for all of them: they go out together as
 * streams of the client's HTTP/2 connection rather than one after another, so n writes
 * cost about one round trip. Each op gets the outcome the single call would have given,
 * 429 and Retry-After retries, the token bucket and the metrics included; an op that fails
 * does not stop the others. Returns 0 when every op succeeded, else the first failed op's
 * rc (in the order given), or CP_EINVAL for bad arguments. */
int cp_kube_batch(cp_kube_client_t *c, cp_kube_op_t *ops, size_t n);

/* --- pure helpers, exported for tests and for the informer --- */

/* Appends the REST path for gvr/ns/name/subresource to out, escaping ns and name.
 * name and subresource may be NULL; subresource needs a name. Returns 0, CP_EINVAL (ns
 * given for a cluster-scoped kind, empty or "."/".." name) or the cp_buf_append error. */
int cp_kube_path(cp_buf_t *out, const cp_gvr_t *gvr, const char *ns, const char *name,
                 const char *subresource);

/* Appends "key=<escaped value>" to a query string, with '&' when q is not empty.
 * A NULL value appends nothing. Returns 0 or the cp_buf_append error / CP_ENOMEM. */
int cp_kube_query_add(cp_buf_t *q, const char *key, const char *value);

/* Maps an HTTP status code to 0 (2xx) or a CP_E* code, as described at the top. */
int cp_kube_http_error(long http_code);

/* Fills st from an error response: zeroes it, sets http_code, then reason, message and
 * details.retryAfterSeconds from a metav1.Status body, or the printable start of any other
 * body as the message. Fields are truncated to fit (never mid UTF-8 sequence). */
void cp_kube_status_from_body(cp_status_t *st, long http_code, const char *body, size_t len);

/* Same from a parsed Status object (e.g. a watch ERROR event); http_code 0 takes the
 * Status's own "code". */
void cp_kube_status_from_json(cp_status_t *st, long http_code, const cJSON *status);

/* Parses a Retry-After value: delta-seconds or an HTTP-date (relative to now). Returns
 * seconds to wait, 0 for a past date or an unparseable value, at most 86400. */
long cp_kube_parse_retry_after(const char *value, time_t now);

/* --- internal, for lib/kube/watch.c --- */

/* Streaming sink: gets the body of a 2xx response as it arrives. Returns 0 to go on, or
 * any other value to abort the transfer; that value is then what cp__kube_stream returns.
 * Once per transfer, as soon as a 2xx status has arrived (before any body byte, which for
 * a quiet watch may be minutes later), it is called with data NULL and len 0; that call's
 * return value is ignored. */
typedef int (*cp__kube_sink_fn)(void *ud, const char *data, size_t len);

/* A GET whose 2xx body goes to sink instead of memory, with timeout_ms for the whole
 * transfer (0 = none) and an optional stop flag polled about once a second (set: the
 * transfer ends with CP_ECANCELED). Error bodies are handled as in cp_kube_request. */
int cp__kube_stream(cp_kube_client_t *c, const char *path, const char *query, long timeout_ms,
                    atomic_bool *stop, cp__kube_sink_fn sink, void *ud, cp_status_t *st);

/* Sleeps ms milliseconds in 100 ms slices; returns CP_ECANCELED early once *stop (may be
 * NULL) is set, else 0. */
int cp__kube_sleep_ms(long ms, atomic_bool *stop);

#endif
