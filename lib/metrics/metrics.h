/* A Prometheus metrics registry: counters, gauges, histograms, text exposition 0.0.4.
 *
 * A metric (cp_metric_t) is a family with a fixed, ordered list of label names. Each
 * tuple of label values gets a child (cp_metric_child_t), created on first use and kept
 * until the registry is freed, so a child pointer can be looked up once and cached:
 * updating it is a few atomic instructions, no lock. The convenience forms that take label
 * values look the child up under the family's mutex. Everything here is thread-safe.
 *
 * Label values are passed as an array with exactly as many strings as the metric has
 * label names (NULL when it has none); CP_LABELS builds one inline:
 *
 *     cp_counter_add(reconcile_total, CP_LABELS("userruntime", "success"), 1);
 *
 * Standard names, so existing dashboards and alerts for controller-runtime operators work
 * unchanged (each is registered where it is measured):
 *   process_*                      every binary (cp_metrics_process, below)
 *   rest_client_requests_total{code,host,method}, rest_client_request_duration_seconds
 *                                  {host,verb}: every Kubernetes request (lib/kube/client.h)
 *   workqueue_*{controller,name}   a named queue (lib/kube/workqueue.h)
 *   controller_runtime_*{controller}  the reconcilers (controllers/userruntime/controller.c),
 *                                  reconcile time in controller-runtime's buckets, 5 ms .. 60 s
 *   leader_election_master_status{name}  the controller, 1 when leading
 * Everything else is clawplane_<binary>_* (clawplane_controller_*, clawplane_apiserver_*,
 * clawplane_modelproxy_*).
 */
#ifndef CP_METRICS_METRICS_H
#define CP_METRICS_METRICS_H

#include <stddef.h>

#include "core/buf.h"

/* The Content-Type of cp_metrics_render's output. */
#define CP_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Builds an inline label-value array: CP_LABELS("a", "b"). */
#define CP_LABELS(...) ((const char *const[]){__VA_ARGS__})

/* Children per metric; past it new label tuples are refused (CP_ETOOBIG). */
#define CP_METRICS_MAX_CHILDREN 10000

typedef struct cp_metrics_s cp_metrics_t;
typedef struct cp_metric_s cp_metric_t;
typedef struct cp_metric_child_s cp_metric_child_t;

/* Evaluated at scrape time, on the thread calling cp_metrics_render, with the metric's
 * mutex held: it must be quick and must not call into this metric. */
typedef double (*cp_metric_gauge_fn)(void *ud);
typedef cp_metric_gauge_fn cp_metric_value_fn;

/* Creates an empty registry. Returns 0 and *out, or CP_ENOMEM / CP_EINVAL. */
int cp_metrics_new(cp_metrics_t **out);

/* Frees the registry and every metric and child in it; their pointers become invalid.
 * No other thread may use them any more. Accepts NULL. */
void cp_metrics_free(cp_metrics_t *reg);

/* Registers a counter / gauge. name must match [a-zA-Z_:][a-zA-Z0-9_:]*, help is free
 * text, labels a NULL-terminated list of label names ([a-zA-Z_][a-zA-Z0-9_]*, not
 * starting with "__"), or NULL for none. Registering a name again with the same type and
 * labels returns the existing metric (so independent components can share one). Returns 0
 * and *out (owned by the registry), CP_EINVAL (bad name or label, or the name is taken by
 * a different definition) or CP_ENOMEM. Any thread. */
int cp_metrics_counter(cp_metrics_t *reg, const char *name, const char *help,
                       const char *const *labels, cp_metric_t **out);
int cp_metrics_gauge(cp_metrics_t *reg, const char *name, const char *help,
                     const char *const *labels, cp_metric_t **out);

/* Registers a histogram with nbuckets strictly increasing finite upper bounds (a
 * trailing +Inf is accepted and ignored: it is always implicit). buckets NULL means
 * Prometheus' defaults (0.005 .. 10). "le" is not allowed as a label name. Same returns as
 * cp_metrics_counter; re-registration must also repeat the buckets. */
int cp_metrics_histogram(cp_metrics_t *reg, const char *name, const char *help,
                         const char *const *labels, const double *buckets, size_t nbuckets,
                         cp_metric_t **out);

/* Returns the child for the label values (as many as the metric has labels; NULL if it
 * has none), creating it at 0. Returns 0 and *out (valid until the registry is freed),
 * CP_EINVAL (a NULL value), CP_ETOOBIG (CP_METRICS_MAX_CHILDREN reached) or CP_ENOMEM. */
int cp_metric_child(cp_metric_t *m, const char *const *values, cp_metric_child_t **out);

/* Lock-free updates of a cached child. Counters ignore negative and NaN additions;
 * set applies to gauges only; observe to histograms only; misuse is ignored. */
void cp_metric_child_add(cp_metric_child_t *c, double v);
void cp_metric_child_set(cp_metric_child_t *c, double v);
void cp_metric_child_observe(cp_metric_child_t *c, double v);

/* Look up the child, then update it. Return 0 or what cp_metric_child returns, or
 * CP_EINVAL when the metric has the wrong type or a counter gets v < 0. */
int cp_counter_add(cp_metric_t *m, const char *const *values, double v);
int cp_gauge_set(cp_metric_t *m, const char *const *values, double v);
int cp_gauge_add(cp_metric_t *m, const char *const *values, double v);
int cp_histogram_observe(cp_metric_t *m, const char *const *values, double v);

/* Makes a gauge child report fn(ud) at scrape time instead of its stored value, e.g. a
 * workqueue's depth. fn NULL removes the function (the stored value shows again). When
 * this returns, fn is no longer running nor will it run with the old ud, so the caller
 * may free ud after clearing it. Returns 0, CP_EINVAL (not a gauge) or what
 * cp_metric_child returns. Any thread. */
int cp_gauge_set_func(cp_metric_t *m, const char *const *values, cp_metric_gauge_fn fn, void *ud);

/* The same for a counter whose total is kept elsewhere (e.g. CPU time read from /proc):
 * fn must never go down. Returns 0, CP_EINVAL (not a counter) or what cp_metric_child
 * returns. Any thread. */
int cp_counter_set_func(cp_metric_t *m, const char *const *values, cp_metric_value_fn fn, void *ud);

/* Registers the standard process collectors, read from /proc/self at scrape time (what
 * client_golang's process collector exports): process_cpu_seconds_total,
 * process_resident_memory_bytes, process_virtual_memory_bytes, process_open_fds,
 * process_max_fds, process_start_time_seconds. Returns 0, CP_EINVAL or CP_ENOMEM. Call
 * once per registry, from any thread. */
int cp_metrics_process(cp_metrics_t *reg);

/* Appends every metric in text exposition format 0.0.4: families sorted by name, each
 * with # HELP and # TYPE, children sorted by label values, label values and help text
 * escaped. Metrics with labels but no child yet are omitted. Returns 0, or CP_ETOOBIG /
 * CP_ENOMEM with out restored to its previous contents. Any thread; concurrent updates
 * are fine (a histogram's _count always equals its +Inf bucket). */
int cp_metrics_render(cp_metrics_t *reg, cp_buf_t *out);

#endif
