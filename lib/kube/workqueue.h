/* A rate-limited work queue of string keys ("namespace/name"), as controllers use it.
 *
 * The semantics are client-go's: a key is queued at most once (adding a queued key is a
 * no-op); a key being processed is never handed to a second worker: adding it meanwhile
 * marks it dirty and it is queued again when the worker calls done. Delayed adds wait in
 * a min-heap (an earlier deadline for the same key wins). Rate-limited adds wait for the
 * larger of a per-key exponential backoff (base * 2^failures, capped) and an overall token
 * bucket (qps, burst); forget resets a key's failures.
 *
 * Metrics: a queue given a name and a registry keeps controller-runtime's workqueue_*
 * series, labelled {controller, name} (both the name): depth, adds_total, retries_total,
 * queue_duration_seconds (added to handed out) and work_duration_seconds (handed out to
 * done), in client-go's buckets (10 ns .. 1000 s), and at scrape time
 * unfinished_work_seconds and longest_running_processor_seconds over the keys being
 * processed. A key added again while it waits keeps its first time; a key added while it
 * is processed starts waiting when it is requeued by done.
 *
 * Two classes: keys added with cp_workqueue_add wait in FIFO order behind those added with
 * cp_workqueue_add_first (also FIFO among themselves), which a controller uses for the
 * changes a started piece of work waits on (a child's status) so they do not queue behind
 * every first reconcile and resync. At most 8 first keys are handed out in a row while
 * normal keys wait, so a stream of them cannot starve the rest. Delayed and rate-limited
 * keys join the normal class when due.
 *
 * All functions are thread-safe. Workers block in cp_workqueue_get; due delayed keys are
 * moved to the queue by whichever worker is waiting, so no timer thread is needed.
 */
#ifndef CP_KUBE_WORKQUEUE_H
#define CP_KUBE_WORKQUEUE_H

#include "metrics/metrics.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cp_workqueue_s cp_workqueue_t;

typedef struct cp_workqueue_opts_s {
  double base_delay;     /* seconds; default 0.005 */
  double max_delay;      /* seconds; default 1000 */
  double qps;            /* overall token bucket; default 10 */
  double burst;          /* default 100 */
  size_t max_keys;       /* cap on queued + waiting keys; default 1,000,000 */
  const char *name;      /* with metrics: the queue's label value (copied); NULL: no metrics */
  cp_metrics_t *metrics; /* registry for the workqueue_* series; must outlive the queue */
} cp_workqueue_opts_t;

typedef struct cp_workqueue_stats_s {
  size_t depth;     /* keys ready and waiting for a worker */
  size_t waiting;   /* keys delayed (add_after / rate limited) */
  size_t active;    /* keys being processed */
  uint64_t adds;    /* total adds that queued a key */
  uint64_t retries; /* total rate-limited adds */
} cp_workqueue_stats_t;

/* Creates a queue; opts may be NULL for the defaults. Returns 0, CP_ENOMEM, or what
 * registering the metrics returns (CP_EINVAL: a name taken by another definition). */
int cp_workqueue_new(const cp_workqueue_opts_t *opts, cp_workqueue_t **out);

/* Queues key now. Returns 0, CP_ECANCELED after shutdown, CP_ETOOBIG past max_keys, or
 * CP_ENOMEM. */
int cp_workqueue_add(cp_workqueue_t *q, const char *key);

/* Queues key ahead of the keys cp_workqueue_add queued; a key those queued moves ahead (its
 * queue_duration then counts from the move), one being processed is requeued ahead by done.
 * Same returns as cp_workqueue_add. */
int cp_workqueue_add_first(cp_workqueue_t *q, const char *key);

/* Queues key after delay seconds (<= 0 means now). Same returns as cp_workqueue_add. */
int cp_workqueue_add_after(cp_workqueue_t *q, const char *key, double delay);

/* Queues key after its backoff, counting one more failure. Same returns. */
int cp_workqueue_add_rate_limited(cp_workqueue_t *q, const char *key);

/* Forgets key's failures (call after a successful reconcile). */
void cp_workqueue_forget(cp_workqueue_t *q, const char *key);

/* Returns how many times key was rate-limited since it was last forgotten. */
unsigned cp_workqueue_failures(cp_workqueue_t *q, const char *key);

/* Blocks until a key is ready, then hands it over: *key_out is the caller's to free, and
 * the caller must call cp_workqueue_done(q, key) after processing. Returns 0, or
 * CP_ECANCELED once the queue is shut down (remaining keys are dropped). */
int cp_workqueue_get(cp_workqueue_t *q, char **key_out);

/* Marks key processed; requeues it if it was added while being processed. */
void cp_workqueue_done(cp_workqueue_t *q, const char *key);

/* Wakes every waiting worker; further adds fail and gets return CP_ECANCELED. */
void cp_workqueue_shutdown(cp_workqueue_t *q);

/* Fills a snapshot of the counters. */
void cp_workqueue_stats(cp_workqueue_t *q, cp_workqueue_stats_t *st);

/* Frees the queue; no thread may use it any more. Accepts NULL. */
void cp_workqueue_free(cp_workqueue_t *q);

#endif
