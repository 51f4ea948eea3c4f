/* Server-Sent Events of runtime status, fed by the UserRuntime informer.
 *
 * The informer thread queues every change (a reference to the new snapshot, or the last
 * one for a deletion) and wakes the loop; the loop hands each change, in order, to the
 * streams watching that runtime. A stream first gets the current state, then one event
 * per change of what it shows (changes that leave the view as it was, such as a new
 * resourceVersion alone, are skipped), and a comment line every 15 s so idle proxies keep
 * the connection and dead clients are noticed. Each event is small; a client that cannot
 * keep up (the server's pending-output cap) is disconnected rather than buffered for, as
 * the next event carries the whole state anyway. Streams are capped overall and per user.
 * On shutdown every stream gets a final "shutdown" event and a clean end.
 *
 *     event: status
 *     id: <resourceVersion>
 *     data: {"type":"MODIFIED","runtime":{...the GET runtime view...}}
 */
#include "api.h"

#include "api/runtime.h"
#include "core/error.h"
#include "json/json.h"
#include "log/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct api_event_s {
  struct api_event_s *next;
  int deleted;
  cp_obj_t *obj;
} api_event_t;

typedef struct api_sub_s {
  struct api_sub_s *next;
  api_ctx_t *c;
  char *last; /* the last view sent, without resourceVersion */
} api_sub_t;

static void push(api_app_t *a, cp_obj_t *obj, int deleted) {
  api_event_t *ev = calloc(1, sizeof *ev);
  if (!ev)
    return; /* the next change carries the whole state again */
  ev->obj = cp_obj_ref(obj);
  ev->deleted = deleted;
  pthread_mutex_lock(&a->events_mu);
  if (a->events_tail)
    a->events_tail->next = ev;
  else
    a->events_head = ev;
  a->events_tail = ev;
  pthread_mutex_unlock(&a->events_mu);
  uv_async_send(&a->events_async);
}

void cp__api_events_on_add(cp_obj_t *obj, void *ud) {
  push(ud, obj, 0);
}

void cp__api_events_on_update(cp_obj_t *old, cp_obj_t *obj, void *ud) {
  (void)old;
  push(ud, obj, 0);
}

void cp__api_events_on_delete(cp_obj_t *obj, void *ud) {
  push(ud, obj, 1);
}

/* Removes s from its list and frees it (not its ctx). */
static void unlink_sub(api_app_t *a, api_sub_t *s) {
  const char *name = s->c->target;
  api_sub_t *head = cp_map_get(&a->subs, name), **pp = &head;
  while (*pp && *pp != s)
    pp = &(*pp)->next;
  if (*pp)
    *pp = s->next;
  if (head)
    cp_map_put(&a->subs, name, head, NULL);
  else
    cp_map_del(&a->subs, name);
  a->nsubs--;
  free(s->last);
  free(s);
}

static api_sub_t *find_sub(api_app_t *a, api_ctx_t *c) {
  for (api_sub_t *s = cp_map_get(&a->subs, c->target); s; s = s->next)
    if (s->c == c)
      return s;
  return NULL;
}

static void stream_abort(cp_http_request_t *req, void *ud) {
  (void)req;
  api_ctx_t *c = ud;
  api_sub_t *s = find_sub(c->app, c);
  if (s)
    unlink_sub(c->app, s);
  c->req = NULL;
  cp__api_ctx_free(c);
}

/* Drops a subscriber whose client is too slow or gone. */
static void drop(api_app_t *a, api_sub_t *s) {
  api_ctx_t *c = s->c;
  unlink_sub(a, s);
  if (c->req)
    cp_http_abort(c->req);
  c->req = NULL;
  cp__api_ctx_free(c);
}

/* Sends an event; returns 0, or an error after which s must be dropped. */
static int send_event(api_sub_t *s, const char *type, const cJSON *obj, int deleted) {
  cJSON *view = obj && !deleted ? cp_api_runtime_view(obj) : NULL;
  char *key = NULL, *data = NULL;
  cJSON *rv = NULL;
  int rc = CP_ENOMEM;
  cJSON *d = cJSON_CreateObject();
  if (!d || (obj && !deleted && !view))
    goto out;
  /* what the stream has shown, minus the resourceVersion */
  rv = view ? cJSON_DetachItemFromObject(view, "resourceVersion") : NULL;
  key = view ? cJSON_PrintUnformatted(view) : strdup(deleted ? "deleted" : "absent");
  if (!key)
    goto out;
  if (s->last && !strcmp(s->last, key)) {
    rc = 0;
    goto out;
  }
  cJSON_AddStringToObject(d, "type", type);
  if (view) {
    if (rv)
      cJSON_AddItemToObject(view, "resourceVersion", cJSON_Duplicate(rv, 0));
    cJSON_AddItemToObject(d, "runtime", view);
    view = NULL;
  } else {
    cJSON_AddNullToObject(d, "runtime");
  }
  data = cJSON_PrintUnformatted(d);
  if (!data)
    goto out;
  const char *rvs = obj ? cp_json_strv(obj, "metadata", "resourceVersion", NULL) : NULL;
  size_t n = strlen(data) + 64 + (rvs ? strlen(rvs) : 0);
  char *msg = malloc(n);
  if (!msg)
    goto out;
  int len = rvs ? snprintf(msg, n, "event: status\nid: %s\ndata: %s\n\n", rvs, data)
                : snprintf(msg, n, "event: status\ndata: %s\n\n", data);
  rc = cp_http_stream_write(s->c->req, msg, (size_t)len);
  free(msg);
  if (rc == 0) {
    free(s->last);
    s->last = key;
    key = NULL;
  }
out:
  cJSON_Delete(rv);
  cJSON_Delete(view);
  cJSON_Delete(d);
  free(key);
  cJSON_free(data);
  return rc;
}

static void on_events(uv_async_t *h) {
  api_app_t *a = h->data;
  pthread_mutex_lock(&a->events_mu);
  api_event_t *ev = a->events_head;
  a->events_head = a->events_tail = NULL;
  pthread_mutex_unlock(&a->events_mu);
  while (ev) {
    api_event_t *next = ev->next;
    api_sub_t *s = cp_map_get(&a->subs, ev->obj->name);
    const char *ns = ev->obj->namespace_;
    while (s && ns && !strcmp(ns, a->s.runtime_ns)) {
      api_sub_t *sn = s->next;
      if (send_event(s, ev->deleted ? "DELETED" : "MODIFIED", ev->obj->json, ev->deleted) != 0)
        drop(a, s);
      s = sn;
    }
    cp_obj_unref(ev->obj);
    free(ev);
    ev = next;
  }
}

typedef struct all_s {
  api_sub_t **list;
  size_t n, cap;
} all_t;

static void collect_all(const char *key, void *value, void *ud) {
  (void)key;
  all_t *all = ud;
  for (api_sub_t *s = value; s && all->n < all->cap; s = s->next)
    all->list[all->n++] = s;
}

/* Every subscriber, collected first: writing may drop one, which changes the map. */
static int snapshot(api_app_t *a, all_t *all) {
  all->n = 0;
  all->cap = (size_t)a->nsubs;
  all->list = calloc(all->cap ? all->cap : 1, sizeof *all->list);
  if (!all->list)
    return CP_ENOMEM;
  cp_map_each(&a->subs, collect_all, all);
  return 0;
}

static void heartbeat(uv_timer_t *t) {
  api_app_t *a = t->data;
  all_t all;
  if (snapshot(a, &all) != 0)
    return;
  for (size_t i = 0; i < all.n; i++)
    if (cp_http_stream_write(all.list[i]->c->req, ": keep-alive\n\n", 14) != 0)
      drop(a, all.list[i]);
  free(all.list);
}

int cp__api_events_init(api_app_t *a) {
  cp_map_init(&a->subs);
  pthread_mutex_init(&a->events_mu, NULL);
  if (uv_async_init(a->loop, &a->events_async, on_events) != 0)
    return CP_ENOMEM;
  a->events_async.data = a;
  uv_timer_init(a->loop, &a->heartbeat);
  a->heartbeat.data = a;
  uv_timer_start(&a->heartbeat, heartbeat, 15000, 15000);
  return 0;
}

static size_t count(api_app_t *a, const char *name) {
  size_t n = 0;
  for (api_sub_t *s = cp_map_get(&a->subs, name); s; s = s->next)
    n++;
  return n;
}

void cp__api_runtime_events(api_ctx_t *c) {
  api_app_t *a = c->app;
  if (a->shutting_down) {
    cp__api_fail(c, 503, "the server is shutting down");
    cp__api_finish(c);
    return;
  }
  if (a->nsubs >= a->s.max_sse) {
    cp__api_fail(c, 503, "too many event streams open on this server; retry later");
    snprintf(c->retry_after, sizeof c->retry_after, "5");
    cp__api_finish(c);
    return;
  }
  if ((long)count(a, c->target) >= a->s.max_sse_per_user) {
    cp__api_fail(c, 429, "too many event streams open for runtime %s (at most %ld)", c->target,
                 a->s.max_sse_per_user);
    cp__api_finish(c);
    return;
  }
  api_sub_t *s = calloc(1, sizeof *s);
  if (!s) {
    cp__api_fail(c, 500, "out of memory");
    cp__api_finish(c);
    return;
  }
  static const char *const h[] = {"Content-Type",
                                  "text/event-stream",
                                  "Cache-Control",
                                  "no-store",
                                  "X-Accel-Buffering",
                                  "no",
                                  NULL};
  if (cp_http_stream_start(c->req, 200, h) != 0) {
    free(s);
    cp_http_abort(c->req);
    c->req = NULL;
    cp__api_ctx_free(c);
    return;
  }
  s->c = c;
  s->next = cp_map_get(&a->subs, c->target);
  if (cp_map_put(&a->subs, c->target, s, NULL) != 0) {
    free(s);
    cp_http_abort(c->req);
    c->req = NULL;
    cp__api_ctx_free(c);
    return;
  }
  a->nsubs++;
  c->streaming = 1;
  cp_http_request_set_on_abort(c->req, stream_abort, c);
  cp_log_debug("event stream opened", "runtime", c->target, "user", c->user, NULL);
  /* the current state first */
  cp_obj_t *o = cp__api_cached_runtime(a, c->target);
  int rc = send_event(s, o ? "SNAPSHOT" : "ABSENT", o ? o->json : NULL, 0);
  cp_obj_unref(o);
  if (rc != 0)
    drop(a, s);
}

static void closed(uv_handle_t *h) {
  (void)h;
}

void cp__api_events_close(api_app_t *a) {
  all_t all;
  if (snapshot(a, &all) == 0) {
    for (size_t i = 0; i < all.n; i++) {
      api_sub_t *s = all.list[i];
      api_ctx_t *c = s->c;
      unlink_sub(a, s);
      if (c->req) {
        cp_http_request_set_on_abort(c->req, NULL, NULL);
        static const char bye[] = "event: shutdown\ndata: {}\n\n";
        if (cp_http_stream_write(c->req, bye, sizeof bye - 1) != 0 ||
            cp_http_stream_end(c->req) != 0)
          cp_http_abort(c->req);
      }
      c->req = NULL;
      cp__api_ctx_free(c);
    }
    free(all.list);
  }
}

void cp__api_events_free(api_app_t *a) {
  uv_timer_stop(&a->heartbeat);
  uv_close((uv_handle_t *)&a->heartbeat, closed);
  uv_close((uv_handle_t *)&a->events_async, closed);
  /* changes still queued are dropped with their references */
  pthread_mutex_lock(&a->events_mu);
  api_event_t *ev = a->events_head;
  a->events_head = a->events_tail = NULL;
  pthread_mutex_unlock(&a->events_mu);
  while (ev) {
    api_event_t *next = ev->next;
    cp_obj_unref(ev->obj);
    free(ev);
    ev = next;
  }
  cp_map_free(&a->subs, NULL);
}
