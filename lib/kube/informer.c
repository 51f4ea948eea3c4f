/* list (page by page) -> diff into the store -> watch_loop until CP_EGONE -> list again.
 * Errors other than cancellation are reported to on_error and retried after
 * cp_kube_backoff_ms. */
#include "kube/informer.h"
#include "core/error.h"
#include "json/intern.h"
#include "json/json.h"
#include "kube/rv.h"
#include "kube/watch.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct cp_informer_s {
  cp_kube_client_t *client;
  cp_gvr_t gvr;
  char *group, *version, *resource;
  char *ns, *labels, *fields;
  void (*project)(cJSON *obj, void *ud);
  void *project_ud;
  int compact;
  long page_size;
  cp_informer_handlers_t h;
  cp_store_t store;
  pthread_t thread;
  int started;
  atomic_bool stop;
  atomic_int synced;
  atomic_ulong lists;
  /* The newest resourceVersion the cache reflects (kube/rv.h), for cp_informer_wait_rv. */
  pthread_mutex_t rv_lock;
  pthread_cond_t rv_cond; /* broadcast when seen_rv grows; on CLOCK_MONOTONIC */
  uint64_t seen_rv;       /* guarded by rv_lock */
};

static char *dup_or_null(const char *s) {
  return s ? strdup(s) : NULL;
}

int cp_informer_new(const cp_kubeconfig_t *cfg, const cp_kube_client_opts_t *copts,
                    const cp_informer_opts_t *opts, const cp_informer_handlers_t *h,
                    cp_informer_t **out) {
  cp_informer_t *inf = calloc(1, sizeof *inf);
  if (!inf)
    return CP_ENOMEM;
  int rc = cp_store_init(&inf->store);
  if (rc != 0) {
    free(inf);
    return rc;
  }
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_mutex_init(&inf->rv_lock, NULL);
  pthread_cond_init(&inf->rv_cond, &ca);
  pthread_condattr_destroy(&ca);
  inf->group = strdup(opts->gvr.group);
  inf->version = strdup(opts->gvr.version);
  inf->resource = strdup(opts->gvr.resource);
  inf->ns = dup_or_null(opts->namespace_);
  inf->labels = dup_or_null(opts->label_selector);
  inf->fields = dup_or_null(opts->field_selector);
  inf->gvr = (cp_gvr_t){inf->group, inf->version, inf->resource, opts->gvr.namespaced};
  inf->project = opts->project;
  inf->project_ud = opts->project_ud;
  inf->compact = opts->compact;
  if (opts->compact)
    cp_store_set_compact(&inf->store);
  inf->page_size = opts->page_size > 0 ? opts->page_size : CP_INFORMER_PAGE_SIZE;
  if (h)
    inf->h = *h;
  if (!inf->group || !inf->version || !inf->resource || (opts->namespace_ && !inf->ns) ||
      (opts->label_selector && !inf->labels) || (opts->field_selector && !inf->fields))
    rc = CP_ENOMEM;
  if (rc == 0)
    rc = cp_kube_client_new(cfg, copts, &inf->client);
  if (rc != 0) {
    cp_informer_free(inf);
    return rc;
  }
  *out = inf;
  return 0;
}

/* --- what enters the cache ------------------------------------------------------------ */

void cp_informer_strip(cJSON *obj) {
  cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
  if (!cJSON_IsObject(md))
    return;
  cJSON_DeleteItemFromObjectCaseSensitive(md, "managedFields");
  cJSON *ann = cJSON_GetObjectItemCaseSensitive(md, "annotations");
  if (cJSON_IsObject(ann))
    cJSON_DeleteItemFromObjectCaseSensitive(ann,
                                            "kubectl.kubernetes.io/last-applied-configuration");
}

/* Wraps a server object (taken) for the cache: stripped, projected by the owner, its member
 * names shared with every other cached object's. */
static int admit(cp_informer_t *inf, cJSON *json, cp_obj_t **out) {
  cp_informer_strip(json);
  if (json && inf->project)
    inf->project(json, inf->project_ud);
  if (!inf->compact)
    cp_json_intern_keys(json); /* a compact cache keeps text: nothing to share */
  return cp_obj_new(json, out);
}

/* The cache changed and now reflects version v (it holds everything up to it; 0: not
 * comparable): wake whoever waits for a version or for an object to go. */
static void advance(cp_informer_t *inf, uint64_t v) {
  pthread_mutex_lock(&inf->rv_lock);
  if (v > inf->seen_rv)
    inf->seen_rv = v;
  pthread_cond_broadcast(&inf->rv_cond);
  pthread_mutex_unlock(&inf->rv_lock);
}

/* Puts o (taken) in the store and tells the handlers what it replaced, if anything. */
static int put_and_notify(cp_informer_t *inf, cp_obj_t *o) {
  cp_obj_t *old = NULL;
  cp_obj_ref(o);
  if (cp_store_put(&inf->store, o, &old) != 0) {
    cp_obj_unref(o);
    cp_obj_unref(o);
    return CP_ENOMEM;
  }
  if (old && inf->h.on_update)
    inf->h.on_update(old, o, inf->h.ud);
  else if (!old && inf->h.on_add)
    inf->h.on_add(o, inf->h.ud);
  cp_obj_unref(old);
  cp_obj_unref(o);
  return 0;
}

/* --- list and diff -------------------------------------------------------------------- */

typedef struct seen_s {
  cp_map_t keys; /* keys present in the new list */
  cp_obj_t **gone;
  size_t ngone;
} seen_t;

static void collect_gone(const char *key, void *value, void *ud) {
  seen_t *s = ud;
  if (!cp_map_has(&s->keys, key))
    s->gone[s->ngone++] = cp_obj_ref(value);
}

typedef struct lister_s {
  cp_informer_t *inf;
  seen_t *seen;
} lister_t;

/* One listed item into the store, as it arrives: an object whose resourceVersion the cache
 * already has is kept as it is, without an event. */
static int take_item(const char *text, size_t len, void *ud) {
  lister_t *l = ud;
  cJSON *item = cJSON_ParseWithLength(text, len);
  if (!cJSON_IsObject(item)) {
    cJSON_Delete(item);
    return CP_EPARSE;
  }
  cp_obj_t *o = NULL;
  if (admit(l->inf, item, &o) != 0)
    return 0; /* no name: not an object we can key */
  int rc = cp_map_put(&l->seen->keys, o->key, NULL, NULL);
  if (rc != 0 || cp_store_has_version(&l->inf->store, o->key, o->resource_version)) {
    cp_obj_unref(o);
    return rc;
  }
  return put_and_notify(l->inf, o);
}

/* Whatever the cache has that the list did not: deleted while we were not watching. */
static void drop_gone(cp_informer_t *inf, seen_t *seen) {
  cp_store_t *s = &inf->store;
  pthread_rwlock_rdlock(&s->lock);
  seen->gone = malloc((s->objs.len ? s->objs.len : 1) * sizeof *seen->gone);
  if (seen->gone)
    cp_map_each(&s->objs, collect_gone, seen);
  pthread_rwlock_unlock(&s->lock);
  for (size_t i = 0; seen->gone && i < seen->ngone; i++) {
    cp_obj_t *last = cp_store_del(s, seen->gone[i]->key); /* readable, also when compact */
    if (last && inf->h.on_delete)
      inf->h.on_delete(last, inf->h.ud);
    cp_obj_unref(last);
    cp_obj_unref(seen->gone[i]);
  }
  free(seen->gone);
}

/* Lists page by page, each item diffed into the store as it arrives, so memory holds one
 * item's text, not a page or the whole list. A continue token that expired (410:
 * the list took longer than etcd keeps history) starts the list over; the pages already
 * taken stay in the cache and are seen again unchanged. */
static int relist(cp_informer_t *inf, char *rv_out, cp_status_t *st) {
  seen_t seen = {0};
  cp_map_init(&seen.keys);
  char *cont = NULL;
  int rc = 0;
  rv_out[0] = '\0';
  for (;;) {
    cp_list_opts_t lo = {.label_selector = inf->labels,
                         .field_selector = inf->fields,
                         .limit = inf->page_size,
                         .continue_token = cont};
    cJSON *page = NULL; /* the List without its items */
    lister_t l = {inf, &seen};
    rc = cp_kube_list_each(inf->client, &inf->gvr, inf->ns, &lo, &inf->stop, take_item, &l, &page,
                           st);
    if (rc == CP_EGONE && cont) {
      free(cont);
      cont = NULL;
      cp_map_free(&seen.keys, NULL);
      cp_map_init(&seen.keys);
      continue;
    }
    if (rc != 0 || atomic_load(&inf->stop)) {
      cJSON_Delete(page);
      break;
    }
    const char *rv = cp_json_strv(page, "metadata", "resourceVersion", NULL);
    const char *next = cp_json_strv(page, "metadata", "continue", NULL);
    size_t n = rv ? strlen(rv) : 0;
    if (n < CP_KUBE_RV_MAX) {
      memcpy(rv_out, rv ? rv : "", n);
      rv_out[n] = '\0';
    }
    free(cont);
    cont = next && *next ? strdup(next) : NULL;
    rc = next && *next && !cont ? CP_ENOMEM : 0;
    cJSON_Delete(page);
    if (rc != 0 || !cont)
      break;
  }
  free(cont);
  if (rc == 0 && atomic_load(&inf->stop))
    rc = CP_ECANCELED;
  if (rc != 0) {
    cp_map_free(&seen.keys, NULL);
    return rc;
  }
  unsigned long lists = atomic_fetch_add(&inf->lists, 1) + 1;
  drop_gone(inf, &seen);
  cp_map_free(&seen.keys, NULL);
  malloc_trim(0); /* the items parsed on the way are gone: give their memory back */
  uint64_t v = 0;
  cp_kube_rv_parse(rv_out, &v);
  advance(inf, v);
  atomic_store(&inf->synced, 1);
  if (inf->h.on_conn)
    inf->h.on_conn(CP_INFORMER_LISTED, inf->resource, lists, 0, NULL, inf->h.ud);
  return 0;
}

/* --- watch ---------------------------------------------------------------------------- */

static int on_event(cp_watch_event_t *ev, void *ud) {
  cp_informer_t *inf = ud;
  if (ev->type == CP_WATCH_ERROR)
    return 0;     /* the decoder turns 410 errors into CP_EGONE */
  uint64_t v = 0; /* read now: the version's text lives in the object, freed below */
  cp_kube_rv_parse(ev->resource_version, &v);
  if (ev->type == CP_WATCH_BOOKMARK) {
    advance(inf, v); /* every event up to it has been delivered */
    return 0;
  }
  cp_obj_t *o = NULL;
  int rc = 0;
  if (admit(inf, cp_watch_event_take(ev), &o) != 0) {
    /* no name: not an object we can key; the cache has still seen the version */
  } else if (ev->type == CP_WATCH_DELETED) {
    cp_obj_unref(cp_store_del(&inf->store, o->key));
    if (inf->h.on_delete)
      inf->h.on_delete(o, inf->h.ud);
    cp_obj_unref(o);
  } else {
    rc = put_and_notify(inf, o);
  }
  if (rc == 0)
    advance(inf, v);
  return rc;
}

static void on_stream(bool up, int rc, const cp_status_t *st, void *ud) {
  cp_informer_t *inf = ud;
  if (inf->h.on_conn)
    inf->h.on_conn(up ? CP_INFORMER_WATCH_UP : CP_INFORMER_WATCH_BROKEN, inf->resource,
                   atomic_load(&inf->lists), rc, st, inf->h.ud);
}

static void pause_ms(cp_informer_t *inf, long ms) {
  while (ms > 0 && !atomic_load(&inf->stop)) {
    long step = ms > 100 ? 100 : ms;
    struct timespec d = {0, step * 1000000L};
    nanosleep(&d, NULL);
    ms -= step;
  }
}

static void *run(void *arg) {
  cp_informer_t *inf = arg;
  char rv[CP_KUBE_RV_MAX];
  unsigned attempt = 0;
  cp_watch_opts_t wo = {.label_selector = inf->labels,
                        .field_selector = inf->fields,
                        .stop = &inf->stop,
                        .on_stream = on_stream,
                        .stream_ud = inf};
  while (!atomic_load(&inf->stop)) {
    cp_status_t st = {0};
    int rc = relist(inf, rv, &st);
    if (rc == 0) {
      attempt = 0;
      rc = cp_kube_watch_loop(inf->client, &inf->gvr, inf->ns, &wo, rv, on_event, inf, &st);
      if (rc == CP_EGONE)
        continue; /* our view is too old: list the newest state */
    }
    if (rc == CP_ECANCELED || atomic_load(&inf->stop))
      break;
    if (inf->h.on_error)
      inf->h.on_error("list/watch", rc, &st, inf->h.ud);
    pause_ms(inf, cp_kube_backoff_ms(attempt++, (double)rand() / RAND_MAX));
  }
  return NULL;
}

int cp_informer_start(cp_informer_t *inf) {
  if (inf->started)
    return 0;
  if (pthread_create(&inf->thread, NULL, run, inf) != 0)
    return CP_ENOMEM;
  inf->started = 1;
  return 0;
}

int cp_informer_synced(cp_informer_t *inf) {
  return atomic_load(&inf->synced);
}

cp_store_t *cp_informer_store(cp_informer_t *inf) {
  return &inf->store;
}

unsigned long cp_informer_lists(cp_informer_t *inf) {
  return atomic_load(&inf->lists);
}

uint64_t cp_informer_seen_rv(cp_informer_t *inf) {
  pthread_mutex_lock(&inf->rv_lock);
  uint64_t v = inf->seen_rv;
  pthread_mutex_unlock(&inf->rv_lock);
  return v;
}

static struct timespec deadline(long timeout_ms) {
  struct timespec until;
  clock_gettime(CLOCK_MONOTONIC, &until);
  until.tv_sec += timeout_ms / 1000;
  until.tv_nsec += (timeout_ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  return until;
}

int cp_informer_wait_rv(cp_informer_t *inf, const char *rv, long timeout_ms) {
  uint64_t want;
  if (cp_kube_rv_parse(rv, &want) != 0)
    return CP_EINVAL;
  struct timespec until = deadline(timeout_ms);
  int rc = 0;
  pthread_mutex_lock(&inf->rv_lock);
  while (inf->seen_rv < want && rc == 0)
    rc = pthread_cond_timedwait(&inf->rv_cond, &inf->rv_lock, &until);
  int caught_up = inf->seen_rv >= want;
  pthread_mutex_unlock(&inf->rv_lock);
  return caught_up ? 0 : CP_ETIMEOUT;
}

int cp_informer_wait_gone(cp_informer_t *inf, const char *key, long timeout_ms) {
  struct timespec until = deadline(timeout_ms);
  int rc = 0, gone;
  pthread_mutex_lock(&inf->rv_lock); /* held while checking: no deletion slips between */
  while (!(gone = !cp_store_has(&inf->store, key)) && rc == 0)
    rc = pthread_cond_timedwait(&inf->rv_cond, &inf->rv_lock, &until);
  pthread_mutex_unlock(&inf->rv_lock);
  return gone ? 0 : CP_ETIMEOUT;
}

void cp_informer_request_stop(cp_informer_t *inf) {
  if (inf)
    atomic_store(&inf->stop, 1);
}

void cp_informer_stop(cp_informer_t *inf) {
  if (!inf || !inf->started)
    return;
  atomic_store(&inf->stop, 1);
  pthread_join(inf->thread, NULL);
  inf->started = 0;
}

void cp_informer_free(cp_informer_t *inf) {
  if (!inf)
    return;
  cp_informer_stop(inf);
  cp_kube_client_free(inf->client);
  cp_store_free(&inf->store);
  free(inf->group);
  free(inf->version);
  free(inf->resource);
  free(inf->ns);
  free(inf->labels);
  free(inf->fields);
  pthread_cond_destroy(&inf->rv_cond);
  pthread_mutex_destroy(&inf->rv_lock);
  free(inf);
}
