/* One mutex and one condition variable guard everything. Ready keys live in two ring
 * buffers, one per class (normal, first), each entry with the moment it was queued and a
 * sequence number; `dirty` holds keys that are queued or must be requeued, its value the
 * class and the sequence number of the key's one live ring entry (0 while the key is being
 * processed). Moving a queued key ahead pushes a new entry to the first ring and leaves the
 * old one behind: an entry whose number is not its key's in `dirty` is stale and is dropped
 * when it reaches the head, so no ring is ever searched. `ready` counts live entries.
 * `active` maps the keys being processed to the moment they were handed out (monotonic
 * nanoseconds in the pointer), `waiting` maps a delayed key to its heap slot, `failures`
 * counts backoffs. Metric children are looked up once, at creation; updating them takes no
 * lock. */
#include "kube/workqueue.h"
#include "core/error.h"
#include "core/map.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

_Static_assert(UINTPTR_MAX >= UINT64_MAX, "active keys keep a 64-bit time in a pointer");

typedef struct ring_item_s {
  char *key;
  double at;    /* monotonic seconds when queued */
  uint64_t seq; /* this entry's number; live while dirty holds the same for key */
} ring_item_t;

typedef struct ring_s {
  ring_item_t *items;
  size_t cap, head, count; /* count includes stale entries */
} ring_t;

enum { CLASS_NORMAL, CLASS_FIRST, CLASSES };

/* How many first-class keys are handed out in a row while normal ones wait. */
#define FIRST_RUN 8

typedef struct wait_item_s {
  char *key;
  double at; /* monotonic seconds */
} wait_item_t;

struct cp_workqueue_s {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  cp_workqueue_opts_t o;
  ring_t ring[CLASSES];
  size_t ready; /* live ring entries: the queue's depth */
  unsigned run; /* first-class keys handed out in a row while normal ones waited */
  uint64_t seq; /* last entry number given */
  cp_map_t dirty, active, waiting, failures;
  wait_item_t *heap;
  size_t heap_len, heap_cap;
  double tokens, last_refill;
  uint64_t adds, retries;
  int shutdown;
  char *name; /* label value, NULL without metrics */
  cp_metric_t *m_depth, *m_unfinished, *m_longest;
  cp_metric_child_t *m_adds, *m_retries, *m_queue_time, *m_work_time;
};

static double now_mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- metrics ------------------------------------------------------------------------ */

static double active_since(void *v) {
  return (double)(uintptr_t)v / 1e9;
}

typedef struct busy_s {
  double now, sum, longest;
} busy_t;

static void add_busy(const char *key, void *value, void *ud) {
  (void)key;
  busy_t *b = ud;
  double d = b->now - active_since(value);
  b->sum += d;
  if (d > b->longest)
    b->longest = d;
}

static busy_t busy(cp_workqueue_t *q) {
  busy_t b = {now_mono(), 0, 0};
  pthread_mutex_lock(&q->mu);
  cp_map_each(&q->active, add_busy, &b);
  pthread_mutex_unlock(&q->mu);
  return b;
}

static double unfinished_seconds(void *ud) {
  return busy(ud).sum;
}

static double longest_seconds(void *ud) {
  return busy(ud).longest;
}

static double depth(void *ud) {
  cp_workqueue_t *q = ud;
  pthread_mutex_lock(&q->mu);
  size_t n = q->ready;
  pthread_mutex_unlock(&q->mu);
  return (double)n;
}

/* Registers the workqueue_* families and this queue's children. */
static int register_metrics(cp_workqueue_t *q, cp_metrics_t *reg, const char *name) {
  /* client-go's: prometheus.ExponentialBuckets(10e-9, 10, 12) */
  static const double buckets[] = {1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3,
                                   1e-2, 1e-1, 1,    10,   100,  1000};
  static const size_t nb = sizeof buckets / sizeof *buckets;
  const char *const *labels = CP_LABELS("controller", "name", NULL);
  const char *const *values = CP_LABELS(name, name);
  if (!(q->name = strdup(name)))
    return CP_ENOMEM;
  cp_metric_t *adds, *retries, *qt, *wt;
  int rc =
      cp_metrics_gauge(reg, "workqueue_depth", "Current depth of workqueue", labels, &q->m_depth);
  if (rc == 0)
    rc = cp_metrics_counter(reg, "workqueue_adds_total",
                            "Total number of adds handled by workqueue", labels, &adds);
  if (rc == 0)
    rc = cp_metrics_counter(reg, "workqueue_retries_total",
                            "Total number of retries handled by workqueue", labels, &retries);
  if (rc == 0)
    rc = cp_metrics_histogram(reg, "workqueue_queue_duration_seconds",
                              "How long in seconds an item stays in workqueue before being "
                              "requested",
                              labels, buckets, nb, &qt);
  if (rc == 0)
    rc = cp_metrics_histogram(reg, "workqueue_work_duration_seconds",
                              "How long in seconds processing an item from workqueue takes.",
                              labels, buckets, nb, &wt);
  if (rc == 0)
    rc = cp_metrics_gauge(reg, "workqueue_unfinished_work_seconds",
                          "How many seconds of work has been done that is in progress and hasn't "
                          "been observed by work_duration. Large values indicate stuck threads. "
                          "One can deduce the number of stuck threads by observing the rate at "
                          "which this increases.",
                          labels, &q->m_unfinished);
  if (rc == 0)
    rc = cp_metrics_gauge(reg, "workqueue_longest_running_processor_seconds",
                          "How many seconds has the longest running processor for workqueue been "
                          "running.",
                          labels, &q->m_longest);
  if (rc == 0)
    rc = cp_metric_child(adds, values, &q->m_adds);
  if (rc == 0)
    rc = cp_metric_child(retries, values, &q->m_retries);
  if (rc == 0)
    rc = cp_metric_child(qt, values, &q->m_queue_time);
  if (rc == 0)
    rc = cp_metric_child(wt, values, &q->m_work_time);
  if (rc == 0)
    rc = cp_gauge_set_func(q->m_depth, values, depth, q);
  if (rc == 0)
    rc = cp_gauge_set_func(q->m_unfinished, values, unfinished_seconds, q);
  if (rc == 0)
    rc = cp_gauge_set_func(q->m_longest, values, longest_seconds, q);
  return rc;
}

/* Stops the scrape-time functions reading q (they hold the metric's lock while they run). */
static void unregister_metrics(cp_workqueue_t *q) {
  if (!q->name)
    return;
  const char *const *values = CP_LABELS(q->name, q->name);
  cp_metric_t *fams[] = {q->m_depth, q->m_unfinished, q->m_longest};
  for (size_t i = 0; i < sizeof fams / sizeof *fams; i++)
    if (fams[i])
      cp_gauge_set_func(fams[i], values, NULL, NULL);
}

int cp_workqueue_new(const cp_workqueue_opts_t *opts, cp_workqueue_t **out) {
  cp_workqueue_t *q = calloc(1, sizeof *q);
  if (!q)
    return CP_ENOMEM;
  q->o = opts ? *opts : (cp_workqueue_opts_t){0};
  if (q->o.base_delay <= 0)
    q->o.base_delay = 0.005;
  if (q->o.max_delay <= 0)
    q->o.max_delay = 1000;
  if (q->o.qps <= 0)
    q->o.qps = 10;
  if (q->o.burst <= 0)
    q->o.burst = 100;
  if (!q->o.max_keys)
    q->o.max_keys = 1000000;
  q->tokens = q->o.burst;
  q->last_refill = now_mono();
  cp_map_init(&q->dirty);
  cp_map_init(&q->active);
  cp_map_init(&q->waiting);
  cp_map_init(&q->failures);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&q->cv, &ca);
  pthread_condattr_destroy(&ca);
  pthread_mutex_init(&q->mu, NULL);
  int rc = q->o.metrics && q->o.name ? register_metrics(q, q->o.metrics, q->o.name) : 0;
  q->o.metrics = NULL;
  q->o.name = NULL;
  if (rc) {
    cp_workqueue_free(q);
    return rc;
  }
  *out = q;
  return 0;
}

/* --- ready rings ------------------------------------------------------------------ */

/* dirty's value for a key: its class, and the number of its live entry (0: none yet). */
static void *mark(uint64_t seq, int cls) {
  return (void *)(uintptr_t)(seq << 1 | (uint64_t)cls);
}
static int mark_class(void *v) {
  return (int)((uintptr_t)v & 1);
}
static uint64_t mark_seq(void *v) {
  return (uint64_t)(uintptr_t)v >> 1;
}

/* Appends a live entry for key to its class's ring and records it in dirty (lock held;
 * key is in dirty already, so recording it allocates nothing). */
static int ring_push(cp_workqueue_t *q, const char *key, int cls) {
  ring_t *r = &q->ring[cls];
  if (r->count == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 64;
    ring_item_t *items = malloc(cap * sizeof *items);
    if (!items)
      return CP_ENOMEM;
    for (size_t i = 0; i < r->count; i++)
      items[i] = r->items[(r->head + i) % r->cap];
    free(r->items);
    r->items = items;
    r->cap = cap;
    r->head = 0;
  }
  char *k = strdup(key);
  if (!k)
    return CP_ENOMEM;
  uint64_t seq = ++q->seq;
  r->items[(r->head + r->count) % r->cap] = (ring_item_t){k, now_mono(), seq};
  r->count++;
  q->ready++;
  cp_map_put(&q->dirty, key, mark(seq, cls), NULL);
  pthread_cond_signal(&q->cv);
  return 0;
}

/* Drops stale entries from the head of ring r; returns whether a live one is at its head.
 * An entry's number is never 0, so a key gone from dirty (read as 0) is stale too. */
static int ring_live(cp_workqueue_t *q, ring_t *r) {
  while (r->count) {
    ring_item_t *it = &r->items[r->head];
    if (mark_seq(cp_map_get(&q->dirty, it->key)) == it->seq)
      return 1;
    free(it->key);
    r->head = (r->head + 1) % r->cap;
    r->count--;
  }
  return 0;
}

/* Takes the live entry a worker gets next (lock held, q->ready > 0): the first class's,
 * unless FIRST_RUN of those went out in a row while normal keys waited. */
static ring_item_t ring_take(cp_workqueue_t *q) {
  int first = ring_live(q, &q->ring[CLASS_FIRST]);
  int normal = ring_live(q, &q->ring[CLASS_NORMAL]);
  int cls = first && !(normal && q->run >= FIRST_RUN) ? CLASS_FIRST : CLASS_NORMAL;
  q->run = cls == CLASS_FIRST && normal ? q->run + 1 : 0;
  ring_t *r = &q->ring[cls];
  ring_item_t it = r->items[r->head];
  r->head = (r->head + 1) % r->cap;
  r->count--;
  q->ready--;
  return it;
}

/* Puts a taken entry back at the head of its ring (lock held). */
static void ring_untake(cp_workqueue_t *q, ring_item_t it, int cls) {
  ring_t *r = &q->ring[cls];
  r->head = (r->head + r->cap - 1) % r->cap;
  r->items[r->head] = it;
  r->count++;
  q->ready++;
}

/* Queues key now in class cls (lock held). A key already queued in the normal class is
 * moved ahead by a first-class add; a key being processed is requeued by done in the
 * better of the classes it was added with. */
static int add_locked(cp_workqueue_t *q, const char *key, int cls) {
  if (q->shutdown)
    return CP_ECANCELED;
  if (cp_map_has(&q->dirty, key)) {
    void *v = cp_map_get(&q->dirty, key);
    if (cls <= mark_class(v))
      return 0;
    if (cp_map_has(&q->active, key)) {
      cp_map_put(&q->dirty, key, mark(0, cls), NULL);
      return 0;
    }
    q->ready--; /* its normal entry turns stale as the new one is recorded */
    int rc = ring_push(q, key, cls);
    if (rc != 0)
      q->ready++; /* stays where it was */
    return rc;
  }
  if (q->ready + q->heap_len >= q->o.max_keys)
    return CP_ETOOBIG;
  if (cp_map_put(&q->dirty, key, mark(0, cls), NULL) != 0)
    return CP_ENOMEM;
  q->adds++;
  cp_metric_child_add(q->m_adds, 1);
  if (cp_map_has(&q->active, key))
    return 0; /* requeued by done */
  int rc = ring_push(q, key, cls);
  if (rc != 0)
    cp_map_del(&q->dirty, key);
  return rc;
}

/* --- delayed heap ------------------------------------------------------------------- */

static void heap_set(cp_workqueue_t *q, size_t i, wait_item_t it) {
  q->heap[i] = it;
  cp_map_put(&q->waiting, it.key, (void *)(uintptr_t)(i + 1), NULL); /* key exists: no alloc */
}

static void heap_up(cp_workqueue_t *q, size_t i) {
  wait_item_t it = q->heap[i];
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (q->heap[p].at <= it.at)
      break;
    heap_set(q, i, q->heap[p]);
    i = p;
  }
  heap_set(q, i, it);
}

static void heap_down(cp_workqueue_t *q, size_t i) {
  wait_item_t it = q->heap[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= q->heap_len)
      break;
    if (c + 1 < q->heap_len && q->heap[c + 1].at < q->heap[c].at)
      c++;
    if (q->heap[c].at >= it.at)
      break;
    heap_set(q, i, q->heap[c]);
    i = c;
  }
  heap_set(q, i, it);
}

static int add_after_locked(cp_workqueue_t *q, const char *key, double delay) {
  if (q->shutdown)
    return CP_ECANCELED;
  if (delay <= 0)
    return add_locked(q, key, CLASS_NORMAL);
  double at = now_mono() + delay;
  uintptr_t slot = (uintptr_t)cp_map_get(&q->waiting, key);
  if (slot) {
    if (at < q->heap[slot - 1].at) {
      q->heap[slot - 1].at = at;
      heap_up(q, slot - 1);
    }
    return 0;
  }
  if (q->ready + q->heap_len >= q->o.max_keys)
    return CP_ETOOBIG;
  if (q->heap_len == q->heap_cap) {
    size_t cap = q->heap_cap ? q->heap_cap * 2 : 64;
    wait_item_t *h = realloc(q->heap, cap * sizeof *h);
    if (!h)
      return CP_ENOMEM;
    q->heap = h;
    q->heap_cap = cap;
  }
  char *k = strdup(key);
  if (!k || cp_map_put(&q->waiting, k, (void *)(uintptr_t)(q->heap_len + 1), NULL) != 0) {
    free(k);
    return CP_ENOMEM;
  }
  q->heap[q->heap_len++] = (wait_item_t){k, at};
  heap_up(q, q->heap_len - 1);
  pthread_cond_broadcast(&q->cv); /* a sleeping worker may need an earlier wake-up */
  return 0;
}

/* Moves due delayed keys to the ready ring; returns the next deadline or INFINITY. */
static double promote_due(cp_workqueue_t *q) {
  double now = now_mono();
  while (q->heap_len && q->heap[0].at <= now) {
    wait_item_t it = q->heap[0];
    cp_map_del(&q->waiting, it.key);
    if (--q->heap_len) {
      q->heap[0] = q->heap[q->heap_len];
      heap_down(q, 0);
    }
    /* on ENOMEM the key is lost; the next resync brings it back */
    add_locked(q, it.key, CLASS_NORMAL);
    free(it.key);
  }
  return q->heap_len ? q->heap[0].at : INFINITY;
}

/* --- public ------------------------------------------------------------------------- */

int cp_workqueue_add(cp_workqueue_t *q, const char *key) {
  pthread_mutex_lock(&q->mu);
  int rc = add_locked(q, key, CLASS_NORMAL);
  pthread_mutex_unlock(&q->mu);
  return rc;
}

int cp_workqueue_add_first(cp_workqueue_t *q, const char *key) {
  pthread_mutex_lock(&q->mu);
  int rc = add_locked(q, key, CLASS_FIRST);
  pthread_mutex_unlock(&q->mu);
  return rc;
}

int cp_workqueue_add_after(cp_workqueue_t *q, const char *key, double delay) {
  pthread_mutex_lock(&q->mu);
  int rc = add_after_locked(q, key, delay);
  pthread_mutex_unlock(&q->mu);
  return rc;
}

int cp_workqueue_add_rate_limited(cp_workqueue_t *q, const char *key) {
  pthread_mutex_lock(&q->mu);
  uintptr_t fails = (uintptr_t)cp_map_get(&q->failures, key);
  double backoff = q->o.base_delay * pow(2.0, (double)(fails < 64 ? fails : 64));
  if (backoff > q->o.max_delay)
    backoff = q->o.max_delay;
  int rc = cp_map_put(&q->failures, key, (void *)(fails + 1), NULL);
  /* Token bucket with reservation: tokens may go negative; the debt is the wait. */
  double now = now_mono();
  q->tokens += (now - q->last_refill) * q->o.qps;
  if (q->tokens > q->o.burst)
    q->tokens = q->o.burst;
  q->last_refill = now;
  q->tokens -= 1;
  double bucket = q->tokens >= 0 ? 0 : -q->tokens / q->o.qps;
  q->retries++;
  cp_metric_child_add(q->m_retries, 1);
  if (rc == 0)
    rc = add_after_locked(q, key, backoff > bucket ? backoff : bucket);
  pthread_mutex_unlock(&q->mu);
  return rc;
}

void cp_workqueue_forget(cp_workqueue_t *q, const char *key) {
  pthread_mutex_lock(&q->mu);
  cp_map_del(&q->failures, key);
  pthread_mutex_unlock(&q->mu);
}

unsigned cp_workqueue_failures(cp_workqueue_t *q, const char *key) {
  pthread_mutex_lock(&q->mu);
  unsigned n = (unsigned)(uintptr_t)cp_map_get(&q->failures, key);
  pthread_mutex_unlock(&q->mu);
  return n;
}

int cp_workqueue_get(cp_workqueue_t *q, char **key_out) {
  pthread_mutex_lock(&q->mu);
  for (;;) {
    if (q->shutdown) {
      pthread_mutex_unlock(&q->mu);
      return CP_ECANCELED;
    }
    double next = promote_due(q);
    if (q->ready)
      break;
    if (isinf(next)) {
      pthread_cond_wait(&q->cv, &q->mu);
    } else {
      struct timespec ts;
      ts.tv_sec = (time_t)next;
      ts.tv_nsec = (long)((next - (double)ts.tv_sec) * 1e9);
      int rc = pthread_cond_timedwait(&q->cv, &q->mu, &ts);
      (void)rc; /* ETIMEDOUT or a wake-up: loop and look again */
    }
  }
  ring_item_t it = ring_take(q);
  char *key = it.key;
  void *v = cp_map_del(&q->dirty, key);
  double now = now_mono();
  if (cp_map_put(&q->active, key, (void *)(uintptr_t)(now * 1e9), NULL) != 0) {
    /* Cannot track it: put it back and report, rather than hand out an untracked key. */
    cp_map_put(&q->dirty, key, v, NULL);
    ring_untake(q, it, mark_class(v));
    pthread_mutex_unlock(&q->mu);
    return CP_ENOMEM;
  }
  pthread_mutex_unlock(&q->mu);
  cp_metric_child_observe(q->m_queue_time, now - it.at);
  *key_out = key;
  return 0;
}

void cp_workqueue_done(cp_workqueue_t *q, const char *key) {
  pthread_mutex_lock(&q->mu);
  int was_active = cp_map_has(&q->active, key);
  void *since = cp_map_del(&q->active, key);
  if (was_active)
    cp_metric_child_observe(q->m_work_time, now_mono() - active_since(since));
  if (cp_map_has(&q->dirty, key) && !q->shutdown &&
      ring_push(q, key, mark_class(cp_map_get(&q->dirty, key))) != 0)
    cp_map_del(&q->dirty, key); /* out of memory: lost, as in promote_due; later adds work */
  pthread_mutex_unlock(&q->mu);
}

void cp_workqueue_shutdown(cp_workqueue_t *q) {
  pthread_mutex_lock(&q->mu);
  q->shutdown = 1;
  pthread_cond_broadcast(&q->cv);
  pthread_mutex_unlock(&q->mu);
}

void cp_workqueue_stats(cp_workqueue_t *q, cp_workqueue_stats_t *st) {
  pthread_mutex_lock(&q->mu);
  st->depth = q->ready;
  st->waiting = q->heap_len;
  st->active = q->active.len;
  st->adds = q->adds;
  st->retries = q->retries;
  pthread_mutex_unlock(&q->mu);
}

void cp_workqueue_free(cp_workqueue_t *q) {
  if (!q)
    return;
  unregister_metrics(q);
  free(q->name);
  for (int c = 0; c < CLASSES; c++) {
    ring_t *r = &q->ring[c];
    for (size_t i = 0; i < r->count; i++)
      free(r->items[(r->head + i) % r->cap].key);
    free(r->items);
  }
  for (size_t i = 0; i < q->heap_len; i++)
    free(q->heap[i].key);
  free(q->heap);
  cp_map_free(&q->dirty, NULL);
  cp_map_free(&q->active, NULL);
  cp_map_free(&q->waiting, NULL);
  cp_map_free(&q->failures, NULL);
  pthread_cond_destroy(&q->cv);
  pthread_mutex_destroy(&q->mu);
  free(q);
}
