/* Informers feed keys into one workqueue; workers reconcile one key at a time each.
 *
 * Reconcile reads only from the caches and writes only what differs:
 *   1. the runtime is gone or terminating: nothing (owner references let the garbage
 *      collector remove children; a retained PVC carries no owner reference);
 *   2. the profile is missing: Degraded=ProfileNotFound, nothing else is touched;
 *   3. the spec is refused by the profile's policy: Degraded=InvalidSpec, phase Failed;
 *   4. Secret (made once, tokens never rewritten), PVC, NetworkPolicy, the OpenClaw
 *      ConfigMap, Service, the file service's Secret (derived, so applied like the
 *      rest; only with a files image), and (when routes are on) the Traefik Middleware and
 *      IngressRoute: applied when the cached object does not already contain the desired
 *      one, replaced (PUT) when it holds more than it should where that changes the
 *      meaning (drift.h). The first six do not depend on each other: what they need is
 *      planned from the caches, then sent at once as one batch (cp_kube_batch: streams of
 *      one HTTP/2 connection), so a new runtime's five writes cost one round trip; the
 *      Middleware and the IngressRoute that names it go one after the other;
 *   5. the Pod: absent when Stopped or Hibernated; replaced when its spec hash differs,
 *      when it was started with a Secret that has since been replaced, or when a hand
 *      edit changed what it runs (image...); its labels, ownerReferences and annotations
 *      are restored in place; a failed or evicted pod is deleted and recreated after an
 *      exponential backoff;
 *   6. the status: applied only when it would change.
 * A runtime idle for longer than its idleTimeout (status.lastActivityTime, or since it
 * became Ready) is hibernated; the key is requeued for the moment it will be idle.
 */
#include "userruntime/controller.h"
#include "core/str.h"
#include "core/error.h"
#include "core/map.h"
#include "core/time.h"
#include "json/json.h"
#include "kube/client.h"
#include "kube/informer.h"
#include "kube/rv.h"
#include "log/log.h"
#include "userruntime/cache.h"
#include "userruntime/drift.h"
#include "userruntime/status.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UR_GVR ((const cp_gvr_t){"clawplane.io", "v1alpha1", "userruntimes", true})
#define RP_GVR ((const cp_gvr_t){"clawplane.io", "v1alpha1", "runtimeprofiles", false})

#define MW_GVR ((const cp_gvr_t){"traefik.io", "v1alpha1", "middlewares", true})
#define ROUTE_GVR ((const cp_gvr_t){"traefik.io", "v1alpha1", "ingressroutes", true})

/* INF_MW and INF_ROUTE exist only when routes are on (a forward-auth URL and a runtime
 * origin are set); their slots stay NULL otherwise, and every loop below skips them. */
enum {
  INF_UR,
  INF_RP,
  INF_POD,
  INF_SVC,
  INF_NETPOL,
  INF_PVC,
  INF_SECRET,
  INF_CM,
  INF_MW,
  INF_ROUTE,
  INF_COUNT
};
enum { RES_SUCCESS, RES_ERROR, RES_REQUEUE, RES_REQUEUE_AFTER };

/* What each cache keeps beyond the informer's own stripping (cache.h); NULL: all of it. A
 * desired object is compared after the same projection. */
static void (*const PROJECT[INF_COUNT])(cJSON *, void *) = {
    [INF_POD] = cp_ur_project_pod, [INF_SECRET] = cp_ur_project_secret};

/* A pod ready this long is healthy again: the recreate backoff starts over. */
#define CP_UR_STABLE_SECONDS 60.0

/* How long a pod we created may stay invisible in the cache before it counts as lost. */
#define CP_UR_CACHE_GRACE 30.0

/* The pod annotation naming the uid of the Secret its tokens came from. */
#define CP_UR_SECRET_UID_ANNOTATION "clawplane.io/credentials-uid"

static const char *const RESULTS[] = {"success", "error", "requeue", "requeue_after"};

typedef struct worker_s {
  struct cp_ur_controller_s *c;
  cp_kube_client_t *kc;
  pthread_t thread;
} worker_t;

/* Per-runtime memory that need not survive a restart. A reconcile works on this whole
 * struct; between reconciles each runtime keeps a memo_kept_t. */
typedef struct memo_s {
  int known;            /* the fields below have been initialized */
  int pod_expected;     /* a pod should exist: its absence would be a loss */
  int awaiting_pod;     /* we created a pod that the cache has not shown yet */
  double created_at;    /* monotonic time of that creation */
  char deleted_uid[64]; /* the pod we deleted on purpose: seen again, it is not news */
  unsigned failures;    /* pod failures since it was last Ready */
  double next_create;   /* monotonic time before which no new pod is made */
  char fail_reason[64]; /* why the last pod failed: Degraded says so until Ready again */
  char fail_message[256];
  long restarts;        /* the count we last wrote: the cache may not have caught up with it */
  double hibernated_at; /* wall time we hibernated it; 0: not hibernated by us */
  int hidden_pod;       /* the pod exists but had left the cache (a label removed) */
  uint64_t status_rv;   /* resourceVersion our last status write returned (0: none known) */
  uint64_t status_said; /* cp_ur_status_digest of that status */
} memo_t;

/* What a runtime keeps of its memo between reconciles: the numbers, and the three texts
 * (deleted_uid, fail_reason, fail_message) in one allocation only while one is set, which a
 * healthy runtime never needs. About 70 bytes instead of the 450 of a memo_t, for each of
 * 10,000 runtimes. */
typedef struct memo_kept_s {
  double created_at, next_create, hibernated_at;
  uint64_t status_rv, status_said;
  long restarts;
  unsigned failures;
  unsigned char known, pod_expected, awaiting_pod, hidden_pod;
  char *texts; /* "deleted_uid\0fail_reason\0fail_message\0", or NULL when all are empty */
} memo_kept_t;

/* One informer's connection, for the outage logs (guarded by the controller's mu). */
typedef struct conn_s {
  int down;               /* its watch broke and has not been re-established */
  double down_since;      /* monotonic */
  double last_log;        /* monotonic time of the last "still broken" or relist line */
  unsigned long failures; /* failed attempts in this outage */
  unsigned long quiet;    /* relists not logged since the last line */
} conn_t;

/* At most one line per informer this often while a watch stays broken or relists. */
#define CP_UR_CONN_LOG_EVERY 30.0

struct cp_ur_controller_s {
  cp_ur_controller_opts_t o;
  const cp_kubeconfig_t *cfg;
  cp_informer_t *inf[INF_COUNT];
  cp_workqueue_t *q;
  worker_t *workers;
  int nworkers, started;
  pthread_t resync_thread;
  int resync_started;
  atomic_bool stop;
  pthread_mutex_t mu; /* guards memo, stats and the collected queue counters */
  cp_map_t memo;
  cp_ur_controller_stats_t stats;
  cp_metric_t *m_reconciles, *m_errors, *m_time, *m_requests, *m_active;
  cp_metric_t *m_lists, *m_watches, *m_watch_failures, *m_watch_connected;
  cp_metric_t *m_cache_objects, *m_cache_bytes, *m_cache_text_bytes;
  conn_t conn[INF_COUNT];
  const char *resources[INF_COUNT];
};

/* --- informer handlers: map every change to the owning runtime's key ------------------ *
 * Two classes (workqueue.h): what a started runtime waits on (its children's events, an
 * edit of the runtime) goes ahead of new runtimes, resyncs, profile fan-outs and the echo
 * of our own status writes, so a pod's readiness finishes its runtime at once instead of
 * at the runtime's next turn through a queue of thousands. */

static void enqueue_obj(cp_ur_controller_t *c, cp_obj_t *o) {
  cp_workqueue_add(c->q, o->key);
}

/* Whether a runtime carries a change the controller has not acted on: a spec edit (its
 * generation is ahead of status.observedGeneration) or a deletion. The echo of a status
 * write does not. (The old object is not compared: a compact cache keeps it as text.) */
static int awaits_controller(const cJSON *ur) {
  if (cp_json_getv(ur, "metadata", "deletionTimestamp", NULL))
    return 1;
  const cJSON *gen = cp_json_getv(ur, "metadata", "generation", NULL);
  const cJSON *seen = cp_json_getv(ur, "status", "observedGeneration", NULL);
  return cJSON_IsNumber(gen) && (!cJSON_IsNumber(seen) || seen->valuedouble != gen->valuedouble);
}

static void enqueue_owner(cp_ur_controller_t *c, cp_obj_t *o) {
  cp_log_debug("child event", "kind", cp_json_strv(o->json, "kind", NULL), "key", o->key,
               "resourceVersion", o->resource_version, NULL);
  const char *inst =
      cp_json_strv(o->json, "metadata", "labels", "app.kubernetes.io/instance", NULL);
  if (!inst)
    return;
  char key[512];
  cp_obj_key(o->namespace_, inst, key, sizeof key);
  cp_workqueue_add_first(c->q, key);
}

typedef struct by_profile_s {
  const char *profile;
} by_profile_t;

static int uses_profile(const cp_obj_t *o, void *ud) {
  const char *p = cp_json_strv(o->json, "spec", "profile", NULL);
  return strcmp(p ? p : "default", ((by_profile_t *)ud)->profile) == 0;
}

static void enqueue_profile_users(cp_ur_controller_t *c, cp_obj_t *profile) {
  by_profile_t bp = {profile->name};
  cp_obj_t **arr;
  size_t n;
  if (cp_store_list(cp_informer_store(c->inf[INF_UR]), uses_profile, &bp, &arr, &n) != 0)
    return;
  for (size_t i = 0; i < n; i++) {
    cp_workqueue_add(c->q, arr[i]->key);
    cp_obj_unref(arr[i]);
  }
  free(arr);
}

static void ur_add(cp_obj_t *o, void *ud) {
  enqueue_obj(ud, o);
}
static void ur_update(cp_obj_t *old, cp_obj_t *o, void *ud) {
  (void)old;
  cp_ur_controller_t *c = ud;
  if (awaits_controller(o->json))
    cp_workqueue_add_first(c->q, o->key);
  else
    enqueue_obj(c, o);
}
static void rp_add(cp_obj_t *o, void *ud) {
  enqueue_profile_users(ud, o);
}
static void rp_update(cp_obj_t *old, cp_obj_t *o, void *ud) {
  (void)old;
  enqueue_profile_users(ud, o);
}
static void child_add(cp_obj_t *o, void *ud) {
  enqueue_owner(ud, o);
}
static void child_update(cp_obj_t *old, cp_obj_t *o, void *ud) {
  (void)old;
  enqueue_owner(ud, o);
}

static void inf_error(const char *what, int rc, const cp_status_t *st, void *ud) {
  (void)ud;
  char code[16];
  snprintf(code, sizeof code, "%ld", st ? st->http_code : 0L);
  cp_log_warn("informer failed, retrying", "what", what, "error", cp_strerror(rc), "code", code,
              "reason", st ? st->reason : NULL, "message", st ? st->message : NULL, NULL);
}

/* A watch broke, came back, or a LIST (re)filled a cache: counted always, logged once per
 * outage (then every CP_UR_CONN_LOG_EVERY seconds while it lasts), and once more when the
 * stream is back, with how long it was down. Runs on the informer's thread. */
static void inf_conn(cp_informer_conn_t what, const char *resource, unsigned long lists, int rc,
                     const cp_status_t *st, void *ud) {
  cp_ur_controller_t *c = ud;
  int i = 0;
  while (i < INF_COUNT && strcmp(c->resources[i], resource) != 0)
    i++;
  if (i == INF_COUNT)
    return;
  double now = cp_time_mono();
  char a[32] = "", b[32] = "", code[16] = "";
  pthread_mutex_lock(&c->mu);
  conn_t *k = &c->conn[i];
  int log_broke = 0, log_still = 0, log_back = 0, log_relist = 0;
  switch (what) {
  case CP_INFORMER_WATCH_BROKEN:
    k->failures++;
    if (!k->down) {
      k->down = 1;
      k->down_since = k->last_log = now;
      log_broke = 1;
    } else if (now - k->last_log >= CP_UR_CONN_LOG_EVERY) {
      k->last_log = now;
      log_still = 1;
    }
    snprintf(a, sizeof a, "%.0f", now - k->down_since);
    snprintf(b, sizeof b, "%lu", k->failures);
    break;
  case CP_INFORMER_WATCH_UP:
    if (k->down) {
      log_back = 1;
      snprintf(a, sizeof a, "%.1f", now - k->down_since);
      snprintf(b, sizeof b, "%lu", k->failures);
    }
    k->down = 0;
    k->failures = 0;
    break;
  case CP_INFORMER_LISTED:
    if (lists > 1 && now - k->last_log >= CP_UR_CONN_LOG_EVERY) {
      log_relist = 1;
      k->last_log = now;
      snprintf(a, sizeof a, "%lu", lists);
      snprintf(b, sizeof b, "%lu", k->quiet);
      k->quiet = 0;
    } else if (lists > 1) {
      k->quiet++;
    }
    break;
  }
  pthread_mutex_unlock(&c->mu);
  snprintf(code, sizeof code, "%ld", st ? st->http_code : 0L);
  if (log_broke)
    cp_log_warn("watch broke", "resource", resource, "error", cp_strerror(rc), "code", code,
                "reason", st ? st->reason : NULL, "message", st ? st->message : NULL, NULL);
  if (log_still)
    cp_log_warn("watch still broken", "resource", resource, "seconds", a, "failures", b, "error",
                cp_strerror(rc), "message", st ? st->message : NULL, NULL);
  if (log_back)
    cp_log_info("watch reconnected", "resource", resource, "downSeconds", a, "failures", b, NULL);
  if (log_relist)
    cp_log_info("relisted", "resource", resource, "lists", a, "unloggedRelists", b, NULL);
  if (!c->m_lists)
    return;
  if (what == CP_INFORMER_LISTED)
    cp_counter_add(c->m_lists, CP_LABELS(resource), 1);
  if (what == CP_INFORMER_WATCH_UP)
    cp_counter_add(c->m_watches, CP_LABELS(resource), 1);
  if (what == CP_INFORMER_WATCH_BROKEN)
    cp_counter_add(c->m_watch_failures, CP_LABELS(resource), 1);
  if (what != CP_INFORMER_LISTED)
    cp_gauge_set(c->m_watch_connected, CP_LABELS(resource), what == CP_INFORMER_WATCH_UP);
}

/* --- API calls, counted ----------------------------------------------------------------- */

/* Counts one API request a reconcile made (writes, but for the rare GET of an object
 * missing from a cache) and passes rc through. Every request, the informers' and the
 * Lease's included, is also in rest_client_requests_total (lib/kube/client.c). */
static int count(cp_ur_controller_t *c, const char *method, int rc, const cp_status_t *st) {
  (void)st;
  pthread_mutex_lock(&c->mu);
  c->stats.requests++;
  c->stats.writes += strcmp(method, "GET") != 0;
  pthread_mutex_unlock(&c->mu);
  if (c->m_requests)
    cp_counter_add(c->m_requests, CP_LABELS("userruntime", method), 1);
  return rc;
}

/* Server-side apply under the controller's field manager, counted; out (may be NULL) gets
 * the object the server returned (the caller's to free). */
static int apply(worker_t *w, const cp_gvr_t *gvr, const char *ns, const char *name,
                 const char *sub, const cJSON *obj, cJSON **out, cp_status_t *st) {
  int rc = cp_kube_apply(w->kc, gvr, ns, name, sub, obj, CP_UR_FIELD_MANAGER, true, out, st);
  return count(w->c, "PATCH", rc, st);
}

static int delete_obj(worker_t *w, const cp_gvr_t *gvr, const char *ns, const char *name,
                      const char *uid, cp_status_t *st) {
  cp_delete_opts_t d = {.propagation_policy = "Background", .uid = uid};
  int rc = count(w->c, "DELETE", cp_kube_delete(w->kc, gvr, ns, name, &d, NULL, st), st);
  return rc == CP_ENOTFOUND ? 0 : rc;
}

/* Creates a core/v1 Event on the runtime. Failures are logged, never fatal. */
static void record_event(worker_t *w, const cJSON *ur, const char *type, const char *reason,
                         const char *message) {
  const char *ns = cp_json_strv(ur, "metadata", "namespace", NULL);
  const char *name = cp_json_strv(ur, "metadata", "name", NULL);
  char now[40], evname[320];
  double t = cp_time_now();
  cp_time_format(t, now, sizeof now);
  snprintf(evname, sizeof evname, "%s.%llx", name, (unsigned long long)(t * 1e6));
  cJSON *e = cJSON_CreateObject();
  cJSON_AddStringToObject(e, "apiVersion", "v1");
  cJSON_AddStringToObject(e, "kind", "Event");
  cJSON *m = cJSON_AddObjectToObject(e, "metadata");
  cJSON_AddStringToObject(m, "name", evname);
  cJSON_AddStringToObject(m, "namespace", ns);
  cJSON *io = cJSON_AddObjectToObject(e, "involvedObject");
  cJSON_AddStringToObject(io, "apiVersion", "clawplane.io/v1alpha1");
  cJSON_AddStringToObject(io, "kind", "UserRuntime");
  cJSON_AddStringToObject(io, "name", name);
  cJSON_AddStringToObject(io, "namespace", ns);
  const char *uid = cp_json_strv(ur, "metadata", "uid", NULL);
  if (uid)
    cJSON_AddStringToObject(io, "uid", uid);
  cJSON_AddStringToObject(e, "type", type);
  cJSON_AddStringToObject(e, "reason", reason);
  cJSON_AddStringToObject(e, "message", message);
  cJSON_AddStringToObject(e, "firstTimestamp", now);
  cJSON_AddStringToObject(e, "lastTimestamp", now);
  cJSON_AddNumberToObject(e, "count", 1);
  cJSON_AddStringToObject(cJSON_AddObjectToObject(e, "source"), "component", CP_UR_FIELD_MANAGER);
  cp_status_t st;
  int rc = count(w->c, "POST", cp_kube_create(w->kc, &CP_GVR_EVENTS, ns, e, NULL, &st), &st);
  cJSON_Delete(e);
  if (rc != 0)
    cp_log_warn("could not record event", "namespace", ns, "name", name, "reason", reason, "error",
                cp_strerror(rc), "message", st.message, NULL);
}

/* --- memo ------------------------------------------------------------------------------ */

/* Whether our last status write already says st while the cache has not caught up with it
 * (the runtime's cached resourceVersion is older than the one that write returned): a
 * child's event can bring the runtime back before the watch brings the write, and
 * comparing with the cache alone would write the same status again. */
static int said_already(const memo_t *m, const cp_obj_t *ur, const cp_ur_status_t *st) {
  uint64_t cached;
  return m->status_rv && cp_kube_rv_parse(ur->resource_version, &cached) == 0 &&
         cached < m->status_rv && m->status_said == cp_ur_status_digest(st);
}

static memo_kept_t *memo_get(cp_ur_controller_t *c, const char *key) {
  memo_kept_t *m = cp_map_get(&c->memo, key);
  if (!m && (m = calloc(1, sizeof *m)) != NULL && cp_map_put(&c->memo, key, m, NULL) != 0) {
    free(m);
    m = NULL;
  }
  return m;
}

static void memo_kept_free(void *p) {
  memo_kept_t *m = p;
  if (m)
    free(m->texts);
  free(m);
}

/* The working memo from what a runtime kept. */
static void memo_load(const memo_kept_t *k, memo_t *m) {
  *m = (memo_t){.known = k->known,
                .pod_expected = k->pod_expected,
                .awaiting_pod = k->awaiting_pod,
                .created_at = k->created_at,
                .failures = k->failures,
                .next_create = k->next_create,
                .restarts = k->restarts,
                .hibernated_at = k->hibernated_at,
                .hidden_pod = k->hidden_pod,
                .status_rv = k->status_rv,
                .status_said = k->status_said};
  if (k->texts) {
    const char *t = k->texts;
    cp_str_copy(m->deleted_uid, sizeof m->deleted_uid, t);
    t += strlen(t) + 1;
    cp_str_copy(m->fail_reason, sizeof m->fail_reason, t);
    t += strlen(t) + 1;
    cp_str_copy(m->fail_message, sizeof m->fail_message, t);
  }
}

/* Keeps the working memo m in k. Without memory for its texts it keeps the old ones: a
 * Degraded message may then be stale, nothing else changes. */
static void memo_keep(memo_kept_t *k, const memo_t *m) {
  k->known = (unsigned char)(m->known != 0);
  k->pod_expected = (unsigned char)(m->pod_expected != 0);
  k->awaiting_pod = (unsigned char)(m->awaiting_pod != 0);
  k->hidden_pod = (unsigned char)(m->hidden_pod != 0);
  k->created_at = m->created_at;
  k->failures = m->failures;
  k->next_create = m->next_create;
  k->restarts = m->restarts;
  k->hibernated_at = m->hibernated_at;
  k->status_rv = m->status_rv;
  k->status_said = m->status_said;
  size_t a = strlen(m->deleted_uid), b = strlen(m->fail_reason), n = strlen(m->fail_message);
  if (a + b + n == 0) {
    free(k->texts);
    k->texts = NULL;
    return;
  }
  char *t = malloc(a + b + n + 3);
  if (!t)
    return;
  memcpy(t, m->deleted_uid, a + 1);
  memcpy(t + a + 1, m->fail_reason, b + 1);
  memcpy(t + a + b + 2, m->fail_message, n + 1);
  free(k->texts);
  k->texts = t;
}

/* --- reconcile ------------------------------------------------------------------------- */

static cp_obj_t *cached(cp_ur_controller_t *c, int which, const char *ns, const char *name) {
  char key[512];
  cp_obj_key(ns, name, key, sizeof key);
  return cp_store_get(cp_informer_store(c->inf[which]), key);
}

/* Writes that do not depend on each other, planned first and then sent at once. */
#define WRITES_MAX 8

typedef struct writes_s {
  cp_kube_op_t ops[WRITES_MAX];
  cp_gvr_t gvrs[WRITES_MAX]; /* what ops point to */
  cJSON *bodies[WRITES_MAX]; /* ops[i].obj, owned */
  size_t n;
} writes_t;

/* Adds one write of obj (taken: freed with the batch). */
static int plan_write(writes_t *b, cp_kube_op_kind_t kind, const cp_gvr_t *gvr, const char *ns,
                      cJSON *obj) {
  if (b->n == WRITES_MAX) {
    cJSON_Delete(obj);
    return CP_EINTERNAL;
  }
  b->bodies[b->n] = obj;
  b->gvrs[b->n] = *gvr;
  b->ops[b->n] = (cp_kube_op_t){.kind = kind,
                                .gvr = &b->gvrs[b->n],
                                .ns = ns,
                                .name = cp_json_strv(obj, "metadata", "name", NULL),
                                .obj = obj,
                                .field_manager = CP_UR_FIELD_MANAGER,
                                .force = true,
                                .want_out = kind == CP_KUBE_OP_CREATE};
  b->n++;
  return 0;
}

/* Plans what makes the cached object hold what desired owns under rules (drift.h): nothing
 * when it does; an apply when something is missing or different; a PUT of live with
 * desired laid over it when only an exact rule found extra members (drift an apply cannot
 * undo because another manager owns them; a conflict, live having changed meanwhile, is an
 * error and the key is retried with the newer cache). Takes desired. */
static int plan(writes_t *b, cp_ur_controller_t *c, int which, const cp_gvr_t *gvr, const char *ns,
                cJSON *desired, const cp_json_rule_t *rules) {
  const char *name = cp_json_strv(desired, "metadata", "name", NULL);
  cp_obj_t *have = cached(c, which, ns, name);
  cJSON *cmp = PROJECT[which] ? cJSON_Duplicate(desired, 1) : NULL;
  if (cmp)
    PROJECT[which](cmp, NULL);
  const char *drift = cp_json_drift(have ? have->json : NULL, cmp ? cmp : desired, rules);
  cJSON_Delete(cmp);
  int rc = 0;
  if (drift && have && *drift) {
    cp_log_info("repairing a hand edit", "kind", cp_json_strv(desired, "kind", NULL), "namespace",
                ns, "name", name, "field", drift, "resourceVersion",
                cp_json_strv(have->json, "metadata", "resourceVersion", NULL), NULL);
    cJSON *fixed = cp_json_repaired(have->json, desired, rules);
    rc = fixed ? plan_write(b, CP_KUBE_OP_UPDATE, gvr, ns, fixed) : CP_ENOMEM;
    cJSON_Delete(desired);
  } else if (drift) {
    rc = plan_write(b, CP_KUBE_OP_APPLY, gvr, ns, desired);
  } else {
    cJSON_Delete(desired);
  }
  cp_obj_unref(have);
  return rc;
}

/* Sends the planned writes at once and counts each. Returns 0 or the first failure, with
 * st what the server said about it; a CREATE refused because the object exists is no
 * failure. The answers stay in b->ops until writes_free. */
static int send_writes(worker_t *w, writes_t *b, cp_status_t *st) {
  static const char *const verbs[] = {
      [CP_KUBE_OP_APPLY] = "PATCH", [CP_KUBE_OP_CREATE] = "POST", [CP_KUBE_OP_UPDATE] = "PUT"};
  cp_kube_batch(w->kc, b->ops, b->n);
  int rc = 0;
  for (size_t i = 0; i < b->n; i++) {
    const cp_kube_op_t *op = &b->ops[i];
    count(w->c, verbs[op->kind], op->rc, &op->st);
    if (op->rc == 0 || (op->kind == CP_KUBE_OP_CREATE && op->rc == CP_ECONFLICT) || rc)
      continue;
    rc = op->rc;
    if (st)
      *st = op->st;
  }
  return rc;
}

static void writes_free(writes_t *b) {
  for (size_t i = 0; i < b->n; i++) {
    cJSON_Delete(b->ops[i].out);
    cJSON_Delete(b->bodies[i]);
  }
  memset(b, 0, sizeof *b);
}

/* plan and send on their own: for a write that must land before the next one. */
static int ensure(worker_t *w, int which, const cp_gvr_t *gvr, const char *ns, cJSON *desired,
                  const cp_json_rule_t *rules, cp_status_t *st) {
  writes_t b = {0};
  int rc = plan(&b, w->c, which, gvr, ns, desired, rules);
  if (rc == 0 && b.n)
    rc = send_writes(w, &b, st);
  writes_free(&b);
  return rc;
}

static void set_cond(cp_ur_cond_t *c, const char *status, const char *reason, const char *msg) {
  c->status = status;
  cp_str_copy(c->reason, sizeof c->reason, reason);
  cp_str_copy(c->message, sizeof c->message, msg);
}

typedef struct rec_s {
  worker_t *w;
  cp_ur_controller_t *c;
  const cJSON *ur;
  const char *ns, *name, *key;
  cp_ur_status_t st;
  double requeue_after; /* 0: none */
  memo_t memo;          /* copy; written back at the end */
  char secret_uid[64];  /* the runtime's Secret; "" when not known yet */
} rec_t;

static void requeue_in(rec_t *r, double secs) {
  if (secs < 0.05)
    secs = 0.05;
  if (r->requeue_after == 0 || secs < r->requeue_after)
    r->requeue_after = secs;
}

/* We delete the pod on purpose: its absence is expected, and if the cache still shows it
 * for a moment, it is not a new pod to act on. */
static void forget_pod(rec_t *r, const char *uid) {
  r->memo.pod_expected = 0;
  r->memo.awaiting_pod = 0;
  cp_str_copy(r->memo.deleted_uid, sizeof r->memo.deleted_uid, uid);
}

/* One more pod failure: count it and push the next creation out exponentially. */
static void backoff_failure(rec_t *r, const char *reason, const char *msg) {
  cp_ur_controller_t *c = r->c;
  cp_str_copy(r->memo.fail_reason, sizeof r->memo.fail_reason, reason);
  cp_str_copy(r->memo.fail_message, sizeof r->memo.fail_message, msg);
  r->memo.failures++;
  r->memo.restarts = ++r->st.restarts;
  double delay = c->o.recreate_base * pow(2.0, (double)(r->memo.failures - 1));
  r->memo.next_create = cp_time_mono() + (delay > c->o.recreate_max ? c->o.recreate_max : delay);
}

static void pod_lost(rec_t *r, const char *msg) {
  backoff_failure(r, "PodLost", msg);
  record_event(r->w, r->ur, "Warning", "PodLost", msg);
}

/* Our pod is missing from the cache: it may still exist with a label the cache selects on
 * removed by hand. Returns 1 when it does (its labels are applied back, nothing is lost) or
 * when the check failed (*rc set; no loss is counted on a guess), 0 when it is gone. */
static int restore_hidden_pod(rec_t *r, const cJSON *desired, cp_status_t *api, int *rc) {
  cJSON *live = NULL;
  int grc = count(r->c, "GET",
                  cp_kube_get(r->w->kc, &CP_GVR_PODS, r->ns, r->name, NULL, &live, api), api);
  if (grc == CP_ENOTFOUND)
    return 0;
  if (grc != 0) {
    *rc = grc;
    return 1;
  }
  int alive = !cp_json_getv(live, "metadata", "deletionTimestamp", NULL);
  cJSON_Delete(live);
  if (!alive)
    return 0;
  cp_log_info("repairing a hand edit", "kind", "Pod", "namespace", r->ns, "name", r->name, "field",
              "metadata/labels", NULL);
  *rc = apply(r->w, &CP_GVR_PODS, r->ns, r->name, NULL, desired, NULL, api);
  r->memo.hidden_pod = 1;
  r->memo.awaiting_pod = 1;
  r->memo.created_at = cp_time_mono();
  return 1;
}

/* A running pod that no longer runs what we want, though its spec hash says it does: it
 * was started with a Secret since replaced (its tokens are stale), or a hand edit changed
 * what it runs (kubectl set image). Deletes it for a new one, which is not a failure.
 * Returns 1 when it did (status set, *rc the delete's result), else 0. */
static int replace_changed_pod(rec_t *r, const cJSON *live, const cJSON *desired,
                               const char *pod_uid, cp_status_t *api, int *rc) {
  const char *had =
      cp_json_strv(live, "metadata", "annotations", CP_UR_SECRET_UID_ANNOTATION, NULL);
  const char *drift = cp_json_drift(live, desired, cp_ur_rules_pod_spec);
  const char *reason, *msg;
  char text[300];
  if (had && *r->secret_uid && strcmp(had, r->secret_uid) != 0) {
    reason = "CredentialsChanged";
    msg = "the runtime's Secret was recreated with new tokens; replacing the pod so it uses them";
  } else if (drift) {
    reason = "PodDrifted";
    snprintf(text, sizeof text, "the pod was changed by hand (%s); replacing it", drift);
    msg = text;
  } else {
    return 0;
  }
  cp_log_info("replacing the pod", "namespace", r->ns, "name", r->name, "reason", reason, "field",
              drift, NULL);
  record_event(r->w, r->ur, strcmp(reason, "PodDrifted") == 0 ? "Warning" : "Normal", reason, msg);
  forget_pod(r, pod_uid);
  *rc = delete_obj(r->w, &CP_GVR_PODS, r->ns, r->name, pod_uid, api);
  r->st.phase = "Starting";
  set_cond(&r->st.progressing, "True", reason, msg);
  set_cond(&r->st.ready, "False", "PodNotReady", "the pod is being replaced");
  return 1;
}

/* The pod half of reconcile: decides whether a pod should exist and makes it so. */
static int reconcile_pod(rec_t *r, const cJSON *profile, const cp_desired_effective_t *eff,
                         cp_status_t *api) {
  cp_ur_controller_t *c = r->c;
  const cJSON *ur = r->ur;
  const char *state = cp_json_strv(ur, "spec", "state", NULL);
  int want_running = !state || strcmp(state, "Stopped") != 0;
  cp_obj_t *pod = cached(c, INF_POD, r->ns, r->name);
  cp_pod_obs_t obs;
  cp_ur_observe_pod(pod ? pod->json : NULL, &obs);
  const char *pod_uid = pod ? cp_json_strv(pod->json, "metadata", "uid", NULL) : NULL;
  if (!r->memo.known) {
    /* First look since this process started. Only a pod that is there and not on its way
     * out is expected: a missing or terminating one may be a replacement the previous
     * controller started and had no time to record, so it is not counted as a failure. */
    r->memo.known = 1;
    r->memo.pod_expected = pod != NULL && obs.state != CP_POD_TERMINATING;
  }
  if (pod) {
    r->memo.awaiting_pod = 0;
    r->memo.hidden_pod = 0;
  }
  if (pod_uid && *r->memo.deleted_uid && strcmp(pod_uid, r->memo.deleted_uid) == 0 &&
      obs.state != CP_POD_NONE)
    obs.state = CP_POD_TERMINATING; /* ours, on its way out, whatever the cache still says */
  else if (pod && obs.state != CP_POD_TERMINATING)
    r->memo.pod_expected = 1;
  double now = cp_time_now();
  int rc = 0;
  const char *phase_before = cp_json_strv(ur, "status", "phase", NULL);
  const cJSON *ready_cond = cp_ur_condition(ur, "Ready");

  /* Hibernation: idle since the last recorded activity, or since it became Ready. */
  int hibernate = 0;
  if (want_running && eff->idle_timeout_ms > 0) {
    double idle = (double)eff->idle_timeout_ms / 1000.0;
    double activity = cp_time_parse_or(cp_json_strv(ur, "status", "lastActivityTime", NULL), 0);
    /* Hibernated by us just now counts too: the cached status may not show it yet. */
    int was_hibernated =
        (phase_before && strcmp(phase_before, "Hibernated") == 0) || r->memo.hibernated_at > 0;
    if (was_hibernated) {
      double since = cp_time_parse_or(cp_json_strv(ready_cond, "lastTransitionTime", NULL), 0);
      if (r->memo.hibernated_at > since)
        since = r->memo.hibernated_at;
      hibernate = !(activity > since); /* woken by activity newer than the hibernation */
      if (!hibernate)
        r->memo.hibernated_at = 0;
    } else if (obs.state == CP_POD_READY) {
      double ready_since = cp_time_parse_or(obs.ready_since, now);
      double last = activity > ready_since ? activity : ready_since;
      if (now >= last + idle)
        hibernate = 1;
      else
        requeue_in(r, last + idle - now + 0.5);
    }
  }

  if (!want_running)
    r->memo.hibernated_at = 0;
  if (!want_running || hibernate) {
    const char *why = hibernate ? "Hibernated" : "Stopped";
    if (pod && obs.state != CP_POD_TERMINATING) {
      forget_pod(r, pod_uid);
      rc = delete_obj(r->w, &CP_GVR_PODS, r->ns, r->name, pod_uid, api);
      if (rc == 0 && hibernate) {
        r->memo.hibernated_at = now;
        record_event(r->w, ur, "Normal", "Hibernated",
                     "idle for longer than idleTimeout; the pod was stopped, storage is kept");
      }
    }
    int gone = !pod;
    r->st.phase = gone ? why : (hibernate ? "Hibernated" : "Stopping");
    set_cond(&r->st.ready, "False", why,
             hibernate ? "hibernated after being idle; the next access wakes it"
                       : "the runtime is stopped");
    set_cond(&r->st.progressing, gone ? "False" : "True", gone ? why : "Stopping",
             gone ? "" : "waiting for the pod to terminate");
    set_cond(&r->st.degraded, "False", "AsExpected", "");
    r->st.started_at[0] = '\0';
    goto out;
  }

  cJSON *desired = NULL;
  char err[256];
  rc = cp_desired_pod(ur, profile, &c->o.desired, &desired, err, sizeof err);
  if (rc != 0) {
    r->st.phase = "Failed";
    set_cond(&r->st.degraded, "True", "InvalidSpec", err);
    set_cond(&r->st.ready, "False", "InvalidSpec", err);
    set_cond(&r->st.progressing, "False", "InvalidSpec", err);
    rc = 0;
    goto out;
  }
  if (*r->secret_uid) {
    cJSON *ann = cp_json_child_object(cp_json_child_object(desired, "metadata"), "annotations");
    if (!ann || !cJSON_AddStringToObject(ann, CP_UR_SECRET_UID_ANNOTATION, r->secret_uid)) {
      cJSON_Delete(desired);
      rc = CP_ENOMEM;
      goto out;
    }
  }
  const char *want_hash =
      cp_json_strv(desired, "metadata", "annotations", CP_DESIRED_HASH_ANNOTATION, NULL);
  snprintf(r->st.pod_name, sizeof r->st.pod_name, "%s", r->name);
  set_cond(&r->st.degraded, "False", "AsExpected", "");

  switch (obs.state) {
  case CP_POD_NONE: {
    double mono = cp_time_mono();
    if (r->memo.awaiting_pod && mono - r->memo.created_at < CP_UR_CACHE_GRACE) {
      /* We just created it (or put its labels back); the pod cache has not caught up yet. */
      requeue_in(r, 1);
      if (r->memo.hidden_pod) {
        r->st.phase = phase_before; /* nothing changed for the user */
        break;
      }
      r->st.phase = "Starting";
      set_cond(&r->st.progressing, "True", "PodCreated", "waiting for the pod to become ready");
      set_cond(&r->st.ready, "False", "PodNotReady", "the pod is starting");
      break;
    }
    if (r->memo.pod_expected && restore_hidden_pod(r, desired, api, &rc)) {
      r->st.phase = phase_before;
      break;
    }
    if (r->memo.pod_expected)
      pod_lost(r, "the runtime's pod disappeared; recreating it");
    r->memo.pod_expected = 0;
    r->memo.awaiting_pod = 0;
    if (mono < r->memo.next_create) {
      requeue_in(r, r->memo.next_create - mono);
      r->st.phase = "Starting";
      set_cond(&r->st.progressing, "True", "BackOff", "waiting before recreating the pod");
      set_cond(&r->st.ready, "False", "PodNotReady", "the pod is being recreated");
      set_cond(&r->st.degraded, "True", r->memo.fail_reason, r->memo.fail_message);
      break;
    }
    rc = apply(r->w, &CP_GVR_PODS, r->ns, r->name, NULL, desired, NULL, api);
    if (rc == 0) {
      r->memo.pod_expected = 1;
      r->memo.awaiting_pod = 1;
      r->memo.created_at = mono;
    }
    r->st.phase = "Starting";
    set_cond(&r->st.progressing, "True", "PodCreated", "waiting for the pod to become ready");
    set_cond(&r->st.ready, "False", "PodNotReady", "the pod is starting");
    if (r->memo.failures)
      set_cond(&r->st.degraded, "True", r->memo.fail_reason, r->memo.fail_message);
    break;
  }
  case CP_POD_TERMINATING:
    if (r->memo.pod_expected) {
      /* Someone else is deleting it (kubectl, an eviction, node drain): a loss. */
      pod_lost(r, "the runtime's pod is being deleted by someone else; it will be recreated");
      r->memo.pod_expected = 0; /* counted now, not again once it is gone */
    }
    if (r->memo.failures)
      set_cond(&r->st.degraded, "True", r->memo.fail_reason, r->memo.fail_message);
    r->st.phase = "Starting";
    set_cond(&r->st.progressing, "True", "PodTerminating", "replacing the pod");
    set_cond(&r->st.ready, "False", "PodNotReady", "the pod is being replaced");
    break;
  case CP_POD_FAILED: {
    char msg[400];
    snprintf(msg, sizeof msg, "the pod failed (%s%s%s); replacing it", obs.reason,
             *obs.message ? ": " : "", obs.message);
    record_event(r->w, ur, "Warning", obs.reason, msg);
    forget_pod(r, pod_uid); /* counted here, not again when it is gone */
    rc = delete_obj(r->w, &CP_GVR_PODS, r->ns, r->name, pod_uid, api);
    backoff_failure(r, obs.reason, msg);
    r->st.phase = "Starting";
    set_cond(&r->st.degraded, "True", obs.reason, msg);
    set_cond(&r->st.ready, "False", obs.reason, msg);
    set_cond(&r->st.progressing, "True", "Recovering", "replacing the failed pod");
    break;
  }
  default:
    if (want_hash && strcmp(obs.hash, want_hash) != 0) {
      /* The spec or the profile changed: replace the pod. */
      forget_pod(r, pod_uid);
      rc = delete_obj(r->w, &CP_GVR_PODS, r->ns, r->name, pod_uid, api);
      r->st.phase = "Starting";
      set_cond(&r->st.progressing, "True", "SpecChanged", "replacing the pod with the new spec");
      set_cond(&r->st.ready, "False", "PodNotReady", "the pod is being replaced");
      break;
    }
    if (replace_changed_pod(r, pod->json, desired, pod_uid, api, &rc))
      break;
    const char *meta = cp_json_drift(pod->json, desired, cp_ur_rules_pod_meta);
    if (meta) {
      cp_log_info("repairing a hand edit", "kind", "Pod", "namespace", r->ns, "name", r->name,
                  "field", meta, "resourceVersion", pod->resource_version, NULL);
      if ((rc = apply(r->w, &CP_GVR_PODS, r->ns, r->name, NULL, desired, NULL, api)) != 0)
        break;
    }
    if (obs.state == CP_POD_READY) {
      /* Forget past failures once the pod has stayed ready for a while. */
      if (now - cp_time_parse_or(obs.ready_since, now) >= CP_UR_STABLE_SECONDS)
        r->memo.failures = 0;
      else if (r->memo.failures)
        requeue_in(r, CP_UR_STABLE_SECONDS);
      r->st.phase = "Running";
      snprintf(r->st.started_at, sizeof r->st.started_at, "%s", obs.ready_since);
      set_cond(&r->st.ready, "True", "PodReady", "");
      set_cond(&r->st.progressing, "False", "Available", "");
    } else if (obs.state == CP_POD_STUCK) {
      char msg[400];
      snprintf(msg, sizeof msg, "%s%s%s", obs.reason, *obs.message ? ": " : "", obs.message);
      r->st.phase = "Failed";
      set_cond(&r->st.degraded, "True", obs.reason, msg);
      set_cond(&r->st.ready, "False", obs.reason, msg);
      set_cond(&r->st.progressing, "False", obs.reason, msg);
    } else {
      r->st.phase = "Starting";
      if (r->memo.failures)
        set_cond(&r->st.degraded, "True", r->memo.fail_reason, r->memo.fail_message);
      set_cond(&r->st.ready, "False", obs.reason, "the pod is starting");
      set_cond(&r->st.progressing, "True", obs.reason, "waiting for the pod to become ready");
    }
  }
  cJSON_Delete(desired);
out:
  if (r->st.phase && strcmp(r->st.phase, "Running") != 0 && strcmp(r->st.phase, "Failed") != 0)
    r->st.started_at[0] = '\0';
  cp_obj_unref(pod);
  return rc;
}

/* The Middleware, then the IngressRoute that names it: Traefik would answer 404 for a
 * route whose middleware it cannot find yet, never let a request through without it. */
static int reconcile_route(worker_t *w, const cJSON *ur, const char *ns, cp_status_t *api,
                           char *err, size_t errlen) {
  cJSON *mw = NULL, *route = NULL;
  int rc = cp_desired_route(ur, &w->c->o.desired, &mw, &route, err, errlen);
  if (rc == CP_ENOTFOUND)
    return 0;
  if (rc == 0)
    rc = ensure(w, INF_MW, &MW_GVR, ns, mw, cp_ur_rules_route, api);
  else
    cJSON_Delete(mw);
  if (rc == 0)
    rc = ensure(w, INF_ROUTE, &ROUTE_GVR, ns, route, cp_ur_rules_route, api);
  else
    cJSON_Delete(route);
  return rc;
}

static int reconcile(worker_t *w, const char *key, double *requeue_after) {
  cp_ur_controller_t *c = w->c;
  cp_obj_t *uro = cp_store_get(cp_informer_store(c->inf[INF_UR]), key);
  if (!uro) {
    pthread_mutex_lock(&c->mu);
    memo_kept_free(cp_map_del(&c->memo, key));
    pthread_mutex_unlock(&c->mu);
    return 0; /* deleted: the garbage collector removes the children */
  }
  const cJSON *ur = uro->json;
  int rc = 0;
  cp_status_t api = {0};
  cp_obj_t *prof = NULL;
  cp_desired_effective_t eff = {0};
  int have_eff = 0;
  if (cp_json_getv(ur, "metadata", "deletionTimestamp", NULL))
    goto done;

  rec_t r = {.w = w, .c = c, .ur = ur, .ns = uro->namespace_, .name = uro->name, .key = key};
  pthread_mutex_lock(&c->mu);
  memo_kept_t *m = memo_get(c, key);
  if (m)
    memo_load(m, &r.memo);
  pthread_mutex_unlock(&c->mu);

  const cJSON *gen = cp_json_getv(ur, "metadata", "generation", NULL);
  r.st.observed_generation = cJSON_IsNumber(gen) ? (long)gen->valuedouble : 0;
  const cJSON *restarts = cp_json_getv(ur, "status", "restarts", NULL);
  r.st.restarts = cJSON_IsNumber(restarts) ? (long)restarts->valuedouble : 0;
  if (r.memo.restarts > r.st.restarts)
    r.st.restarts = r.memo.restarts; /* never let a stale cache count backwards */
  snprintf(r.st.started_at, sizeof r.st.started_at, "%s",
           cp_json_strv(ur, "status", "startedAt", NULL)
               ? cp_json_strv(ur, "status", "startedAt", NULL)
               : "");
  cp_desired_endpoint(ur, r.st.endpoint, sizeof r.st.endpoint);

  const char *pname = cp_json_strv(ur, "spec", "profile", NULL);
  if (!pname)
    pname = "default";
  prof = cached(c, INF_RP, NULL, pname);
  char err[256];
  if (!prof) {
    char msg[300];
    snprintf(msg, sizeof msg, "RuntimeProfile \"%s\" not found", pname);
    const cJSON *deg = cp_ur_condition(ur, "Degraded");
    const char *was = cp_json_strv(deg, "reason", NULL);
    if (!was || strcmp(was, "ProfileNotFound") != 0)
      record_event(w, ur, "Warning", "ProfileNotFound", msg);
    /* Nothing else changes: keep every other status field as it is. */
    r.st.phase = cp_json_strv(ur, "status", "phase", NULL) ? NULL : "Pending";
    snprintf(r.st.pod_name, sizeof r.st.pod_name, "%s",
             cp_json_strv(ur, "status", "podName", NULL)
                 ? cp_json_strv(ur, "status", "podName", NULL)
                 : "");
    set_cond(&r.st.degraded, "True", "ProfileNotFound", msg);
    if (!cp_ur_condition(ur, "Ready"))
      set_cond(&r.st.ready, "False", "ProfileNotFound", msg);
    cp_str_copy(r.st.message, sizeof r.st.message, msg);
    goto status;
  }
  rc = cp_desired_effective(ur, prof->json, &c->o.desired, &eff, err, sizeof err);
  if (rc != 0) {
    r.st.phase = "Failed";
    set_cond(&r.st.degraded, "True", "InvalidSpec", err);
    set_cond(&r.st.ready, "False", "InvalidSpec", err);
    set_cond(&r.st.progressing, "False", "InvalidSpec", err);
    snprintf(r.st.message, sizeof r.st.message, "%s", err);
    rc = 0;
    goto status;
  }
  have_eff = 1;

  /* Children that exist whatever the state, independent of each other: planned, then sent
   * at once. */
  writes_t b = {0};
  char sname[320];
  snprintf(sname, sizeof sname, "%s%s", r.name, CP_DESIRED_SECRET_SUFFIX);
  cp_obj_t *secret = cached(c, INF_SECRET, r.ns, sname);
  long secret_op = -1;
  if (!secret) {
    char gw[65], mp[65];
    cJSON *desired = NULL;
    rc = cp_desired_new_token(gw);
    if (rc == 0)
      rc = cp_desired_new_token(mp);
    if (rc == 0)
      rc = cp_desired_secret(ur, gw, mp, &desired, err, sizeof err);
    memset(gw, 0, sizeof gw);
    memset(mp, 0, sizeof mp);
    /* Create, never apply: a Secret already there (cache lagging) keeps its tokens. */
    if (rc == 0 && (rc = plan_write(&b, CP_KUBE_OP_CREATE, &CP_GVR_SECRETS, r.ns, desired)) == 0)
      secret_op = (long)b.n - 1;
  } else {
    cp_str_copy(r.secret_uid, sizeof r.secret_uid,
                cp_json_strv(secret->json, "metadata", "uid", NULL));
  }
  cp_obj_unref(secret);
  struct {
    int which;
    cp_gvr_t gvr;
    int (*build)(const cJSON *, const cJSON *, const cp_desired_opts_t *, cJSON **, char *, size_t);
    const cp_json_rule_t *rules;
  } kids[] = {{INF_PVC, CP_GVR_PVCS, cp_desired_pvc, cp_ur_rules_pvc},
              {INF_NETPOL, CP_GVR_NETWORKPOLICIES, cp_desired_netpol, cp_ur_rules_netpol},
              {INF_CM, CP_GVR_CONFIGMAPS, cp_desired_config, cp_ur_rules_config}};
  for (size_t i = 0; rc == 0 && i < sizeof kids / sizeof *kids; i++) {
    cJSON *d = NULL;
    rc = kids[i].build(ur, prof->json, &c->o.desired, &d, err, sizeof err);
    if (rc == 0)
      rc = plan(&b, c, kids[i].which, &kids[i].gvr, r.ns, d, kids[i].rules);
  }
  if (rc == 0) {
    cJSON *d = NULL;
    rc = cp_desired_service(ur, &c->o.desired, &d, err, sizeof err);
    if (rc == 0)
      rc = plan(&b, c, INF_SVC, &CP_GVR_SERVICES, r.ns, d, cp_ur_rules_service);
  }
  if (rc == 0 && c->o.desired.files_image) {
    cJSON *d = NULL;
    rc = cp_desired_files_secret(ur, &c->o.desired, &d, err, sizeof err);
    if (rc == 0)
      rc = plan(&b, c, INF_SECRET, &CP_GVR_SECRETS, r.ns, d, cp_ur_rules_files_secret);
  }
  if (rc == 0 && b.n) {
    rc = send_writes(w, &b, &api);
    if (secret_op >= 0) /* made now, or meanwhile (its uid then unknown until cached) */
      cp_str_copy(r.secret_uid, sizeof r.secret_uid,
                  cp_json_strv(b.ops[secret_op].out, "metadata", "uid", NULL));
  }
  writes_free(&b);
  if (rc == 0 && c->inf[INF_ROUTE])
    rc = reconcile_route(w, ur, r.ns, &api, err, sizeof err);
  if (rc == 0)
    rc = reconcile_pod(&r, prof->json, &eff, &api);
  if (rc != 0)
    goto done_memo;

status:
  if (!cp_ur_status_matches(ur, &r.st) && !said_already(&r.memo, uro, &r.st)) {
    const char *before = cp_json_strv(cp_ur_condition(ur, "Degraded"), "reason", NULL);
    if (r.st.degraded.status && strcmp(r.st.degraded.status, "True") == 0 &&
        (!before || strcmp(before, r.st.degraded.reason) != 0) && r.st.phase &&
        strcmp(r.st.phase, "Failed") == 0)
      record_event(w, ur, "Warning", r.st.degraded.reason, r.st.degraded.message);
    const char *was_ready = cp_json_strv(cp_ur_condition(ur, "Ready"), "status", NULL);
    if (r.st.ready.status && strcmp(r.st.ready.status, "True") == 0 &&
        (!was_ready || strcmp(was_ready, "True") != 0))
      record_event(w, ur, "Normal", "Ready", "the runtime is ready");
    cp_log_debug("writing status", "key", key, "phase", r.st.phase, "ready", r.st.ready.reason,
                 "degraded", r.st.degraded.reason, "resourceVersion", uro->resource_version, NULL);
    cJSON *body = cp_ur_status_body(ur, &r.st, cp_time_now()), *out = NULL;
    rc = body ? apply(w, &UR_GVR, r.ns, r.name, "status", body, &out, &api) : CP_ENOMEM;
    r.memo.status_rv = 0;
    if (rc == 0 && cp_kube_rv_parse(cp_json_strv(out, "metadata", "resourceVersion", NULL),
                                    &r.memo.status_rv) == 0)
      r.memo.status_said = cp_ur_status_digest(&r.st);
    cJSON_Delete(out);
    cJSON_Delete(body);
  }
done_memo:
  pthread_mutex_lock(&c->mu);
  if ((m = cp_map_get(&c->memo, key)) != NULL)
    memo_keep(m, &r.memo);
  pthread_mutex_unlock(&c->mu);
  *requeue_after = r.requeue_after;
done:
  if (rc != 0) {
    char code[16];
    snprintf(code, sizeof code, "%ld", api.http_code);
    cp_log_error("reconcile failed", "controller", "userruntime", "namespace", uro->namespace_,
                 "name", uro->name, "resourceVersion", uro->resource_version, "error",
                 cp_strerror(rc), "code", code, "reason", api.reason, "message", api.message, NULL);
  }
  if (have_eff)
    cp_desired_effective_free(&eff);
  cp_obj_unref(prof);
  cp_obj_unref(uro);
  return rc;
}

/* --- workers and resync ----------------------------------------------------------------- */

static void observe(cp_ur_controller_t *c, int result, double secs) {
  pthread_mutex_lock(&c->mu);
  c->stats.reconciles++;
  c->stats.errors += result == RES_ERROR;
  pthread_mutex_unlock(&c->mu);
  if (c->m_reconciles) {
    cp_counter_add(c->m_reconciles, CP_LABELS("userruntime", RESULTS[result]), 1);
    if (result == RES_ERROR)
      cp_counter_add(c->m_errors, CP_LABELS("userruntime"), 1);
    cp_histogram_observe(c->m_time, CP_LABELS("userruntime"), secs);
  }
}

/* Routes are on when both a forward-auth URL and a runtime origin are set. */
static bool routes_on(const cp_desired_opts_t *d) {
  return d->forward_auth_url && *d->forward_auth_url && d->runtime_origin && *d->runtime_origin;
}

/* controller-runtime's reconcile-time buckets (metrics.ReconcileTime), 5 ms .. 60 s. */
static const double RECONCILE_BUCKETS[] = {
    0.005, 0.01, 0.025, 0.05, 0.1,  0.15, 0.2,  0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6,
    0.7,   0.8,  0.9,   1.0,  1.25, 1.5,  1.75, 2.0,  2.5, 3.0,  3.5, 4.0,  4.5, 5,
    6,     7,    8,     9,    10,   15,   20,   25,   30,  40,   50,  60};

static int register_metrics(cp_ur_controller_t *c, cp_metrics_t *m) {
  const char *const *ctl = CP_LABELS("userruntime");
  cp_metric_t *max, *panics, *terminal;
  int rc = cp_metrics_counter(m, "controller_runtime_reconcile_total",
                              "Total number of reconciliations per controller",
                              CP_LABELS("controller", "result", NULL), &c->m_reconciles);
  if (rc == 0)
    rc = cp_metrics_counter(m, "controller_runtime_reconcile_errors_total",
                            "Total number of reconciliation errors per controller",
                            CP_LABELS("controller", NULL), &c->m_errors);
  if (rc == 0)
    rc = cp_metrics_histogram(m, "controller_runtime_reconcile_time_seconds",
                              "Length of time per reconciliation per controller",
                              CP_LABELS("controller", NULL), RECONCILE_BUCKETS,
                              sizeof RECONCILE_BUCKETS / sizeof *RECONCILE_BUCKETS, &c->m_time);
  if (rc == 0)
    rc = cp_metrics_gauge(m, "controller_runtime_active_workers",
                          "Number of currently used workers per controller",
                          CP_LABELS("controller", NULL), &c->m_active);
  if (rc == 0)
    rc = cp_metrics_gauge(m, "controller_runtime_max_concurrent_reconciles",
                          "Maximum number of concurrent reconciles per controller",
                          CP_LABELS("controller", NULL), &max);
  /* C has no panic to recover from (a crash restarts the process) and no error is final
   * here (every failed reconcile is retried with backoff): both stay 0, present so that
   * dashboards and alerts written for controller-runtime find them. */
  if (rc == 0)
    rc = cp_metrics_counter(m, "controller_runtime_reconcile_panics_total",
                            "Total number of reconciliation panics per controller",
                            CP_LABELS("controller", NULL), &panics);
  if (rc == 0)
    rc = cp_metrics_counter(m, "controller_runtime_terminal_reconcile_errors_total",
                            "Total number of terminal reconciliation errors per controller",
                            CP_LABELS("controller", NULL), &terminal);
  if (rc == 0)
    rc = cp_metrics_counter(m, "clawplane_controller_reconcile_requests_total",
                            "API requests the reconcilers made (writes, and GETs of objects "
                            "missing from a cache), by method; the informers' and the Lease's "
                            "requests are only in rest_client_requests_total",
                            CP_LABELS("controller", "method", NULL), &c->m_requests);
  /* client-go's reflector names where it had one; ours for the rest */
  if (rc == 0)
    rc = cp_metrics_counter(m, "reflector_lists_total",
                            "Total number of API lists done by the reflectors",
                            CP_LABELS("name", NULL), &c->m_lists);
  if (rc == 0)
    rc = cp_metrics_counter(m, "reflector_watches_total",
                            "Total number of API watches established by the reflectors",
                            CP_LABELS("name", NULL), &c->m_watches);
  if (rc == 0)
    rc = cp_metrics_counter(m, "clawplane_controller_watch_failures_total",
                            "Watch streams that failed and were retried, per resource",
                            CP_LABELS("name", NULL), &c->m_watch_failures);
  if (rc == 0)
    rc =
        cp_metrics_gauge(m, "clawplane_controller_watch_connected",
                         "1 while the resource's watch stream is established, 0 while it is broken",
                         CP_LABELS("name", NULL), &c->m_watch_connected);
  if (rc == 0)
    rc = cp_metrics_gauge(m, "clawplane_controller_cache_objects",
                          "Objects in the resource's informer cache", CP_LABELS("name", NULL),
                          &c->m_cache_objects);
  if (rc == 0)
    rc = cp_metrics_gauge(m, "clawplane_controller_cache_bytes",
                          "Bytes the resource's informer cache holds for its objects: their "
                          "JSON text deflated, without the per-object overhead",
                          CP_LABELS("name", NULL), &c->m_cache_bytes);
  if (rc == 0)
    rc = cp_metrics_gauge(m, "clawplane_controller_cache_text_bytes",
                          "Bytes of JSON text the resource's informer cache stands for (its "
                          "projections, before deflate)",
                          CP_LABELS("name", NULL), &c->m_cache_text_bytes);
  if (rc == 0) {
    for (int i = 0; i < INF_COUNT; i++) {
      if ((i == INF_MW || i == INF_ROUTE) && !routes_on(&c->o.desired))
        continue; /* no such informer: no series that would read "never connected" */
      cp_counter_add(c->m_lists, CP_LABELS(c->resources[i]), 0);
      cp_counter_add(c->m_watches, CP_LABELS(c->resources[i]), 0);
      cp_counter_add(c->m_watch_failures, CP_LABELS(c->resources[i]), 0);
      cp_gauge_set(c->m_watch_connected, CP_LABELS(c->resources[i]), 0);
      cp_gauge_set(c->m_cache_objects, CP_LABELS(c->resources[i]), 0);
      cp_gauge_set(c->m_cache_bytes, CP_LABELS(c->resources[i]), 0);
      cp_gauge_set(c->m_cache_text_bytes, CP_LABELS(c->resources[i]), 0);
    }
  }
  if (rc == 0) {
    for (int i = 0; i < 4; i++)
      cp_counter_add(c->m_reconciles, CP_LABELS("userruntime", RESULTS[i]), 0);
    cp_counter_add(c->m_errors, ctl, 0);
    cp_counter_add(panics, ctl, 0);
    cp_counter_add(terminal, ctl, 0);
    cp_gauge_set(c->m_active, ctl, 0);
    cp_gauge_set(max, ctl, c->o.workers);
    cp_metric_child_t *t; /* the histogram's series, at 0 until the first reconcile */
    rc = cp_metric_child(c->m_time, ctl, &t);
  }
  return rc;
}

static void *work(void *arg) {
  worker_t *w = arg;
  cp_ur_controller_t *c = w->c;
  while (!cp_ur_controller_synced(c) && !atomic_load(&c->stop)) {
    struct timespec d = {0, 50 * 1000 * 1000};
    nanosleep(&d, NULL);
  }
  char *key;
  while (cp_workqueue_get(c->q, &key) == 0) {
    double t0 = cp_time_mono(), after = 0;
    if (c->m_active)
      cp_gauge_add(c->m_active, CP_LABELS("userruntime"), 1);
    int rc = reconcile(w, key, &after);
    if (c->m_active)
      cp_gauge_add(c->m_active, CP_LABELS("userruntime"), -1);
    int result = RES_SUCCESS;
    if (rc != 0) {
      cp_workqueue_add_rate_limited(c->q, key);
      result = RES_ERROR;
    } else {
      cp_workqueue_forget(c->q, key);
      if (after > 0) {
        cp_workqueue_add_after(c->q, key, after);
        result = RES_REQUEUE_AFTER;
      }
    }
    double took = cp_time_mono() - t0;
    observe(c, result, took);
    char ms[32], after_s[32];
    snprintf(ms, sizeof ms, "%.1f", took * 1000);
    snprintf(after_s, sizeof after_s, "%.1f", after);
    cp_log_debug("reconciled", "controller", "userruntime", "key", key, "result", RESULTS[result],
                 "ms", ms, "requeueAfter", after > 0 ? after_s : NULL, NULL);
    cp_workqueue_done(c->q, key);
    free(key);
  }
  return NULL;
}

static void enqueue_key(const char *key, void *ud) {
  cp_workqueue_add(ud, key);
}

/* The cache size gauges, from each informer's store. */
static void measure_caches(cp_ur_controller_t *c) {
  if (!c->m_cache_objects)
    return;
  for (int i = 0; i < INF_COUNT; i++) {
    if (!c->inf[i])
      continue;
    size_t objects, text, packed;
    cp_store_size(cp_informer_store(c->inf[i]), &objects, &text, &packed);
    cp_gauge_set(c->m_cache_objects, CP_LABELS(c->resources[i]), (double)objects);
    cp_gauge_set(c->m_cache_bytes, CP_LABELS(c->resources[i]), (double)packed);
    cp_gauge_set(c->m_cache_text_bytes, CP_LABELS(c->resources[i]), (double)text);
  }
}

static void *resync(void *arg) {
  cp_ur_controller_t *c = arg;
  double next = cp_time_mono() + c->o.resync, measured = 0;
  while (!atomic_load(&c->stop)) {
    struct timespec d = {0, 200 * 1000 * 1000};
    nanosleep(&d, NULL);
    double mono = cp_time_mono();
    if (mono - measured >= 1.0) {
      measure_caches(c);
      measured = mono;
    }
    if (c->o.resync <= 0 || mono < next)
      continue;
    next = mono + c->o.resync;
    /* Keys only: a compact cache would parse every runtime just to name it. */
    cp_store_each_key(cp_informer_store(c->inf[INF_UR]), enqueue_key, c->q);
  }
  return NULL;
}

/* --- lifecycle -------------------------------------------------------------------------- */

int cp_ur_controller_new(const cp_kubeconfig_t *cfg, const cp_ur_controller_opts_t *opts,
                         cp_ur_controller_t **out) {
  cp_ur_controller_t *c = calloc(1, sizeof *c);
  if (!c)
    return CP_ENOMEM;
  c->o = *opts;
  if (c->o.workers <= 0)
    c->o.workers = 4;
  if (c->o.resync == 0)
    c->o.resync = 600;
  if (c->o.page_size <= 0)
    c->o.page_size = CP_INFORMER_PAGE_SIZE;
  if (c->o.qps <= 0)
    c->o.qps = 50;
  if (c->o.burst <= 0)
    c->o.burst = 100;
  if (c->o.recreate_base <= 0)
    c->o.recreate_base = 1;
  if (c->o.recreate_max <= 0)
    c->o.recreate_max = 300;
  c->cfg = cfg;
  pthread_mutex_init(&c->mu, NULL);
  cp_map_init(&c->memo);
  static const char *const resources[INF_COUNT] = {[INF_UR] = "userruntimes",
                                                   [INF_RP] = "runtimeprofiles",
                                                   [INF_POD] = "pods",
                                                   [INF_SVC] = "services",
                                                   [INF_NETPOL] = "networkpolicies",
                                                   [INF_PVC] = "persistentvolumeclaims",
                                                   [INF_SECRET] = "secrets",
                                                   [INF_CM] = "configmaps",
                                                   [INF_MW] = "middlewares",
                                                   [INF_ROUTE] = "ingressroutes"};
  memcpy(c->resources, resources, sizeof resources);
  cp_workqueue_opts_t qo = {.name = "userruntime", .metrics = c->o.metrics};
  int rc = cp_workqueue_new(&qo, &c->q);
  if (rc == 0 && c->o.metrics)
    rc = register_metrics(c, c->o.metrics);
  cp_kube_client_opts_t copts = {.qps = c->o.qps,
                                 .burst = c->o.burst,
                                 .user_agent = "clawplane-controller/0.1",
                                 .metrics = c->o.metrics};
  struct {
    cp_gvr_t gvr;
    const char *sel;
    cp_informer_handlers_t h;
  } defs[INF_COUNT] = {
      [INF_UR] = {UR_GVR, NULL, {ur_add, ur_update, ur_add, inf_error, c, inf_conn}},
      [INF_RP] = {RP_GVR, NULL, {rp_add, rp_update, rp_add, inf_error, c, inf_conn}},
      [INF_POD] = {CP_GVR_PODS,
                   CP_UR_MANAGED_SELECTOR,
                   {child_add, child_update, child_add, inf_error, c, inf_conn}},
      [INF_SVC] = {CP_GVR_SERVICES,
                   CP_UR_MANAGED_SELECTOR,
                   {child_add, child_update, child_add, inf_error, c, inf_conn}},
      [INF_NETPOL] = {CP_GVR_NETWORKPOLICIES,
                      CP_UR_MANAGED_SELECTOR,
                      {child_add, child_update, child_add, inf_error, c, inf_conn}},
      [INF_PVC] = {CP_GVR_PVCS,
                   CP_UR_MANAGED_SELECTOR,
                   {child_add, child_update, child_add, inf_error, c, inf_conn}},
      [INF_SECRET] = {CP_GVR_SECRETS,
                      CP_UR_MANAGED_SELECTOR,
                      {child_add, child_update, child_add, inf_error, c, inf_conn}},
      [INF_CM] = {CP_GVR_CONFIGMAPS,
                  CP_UR_MANAGED_SELECTOR,
                  {child_add, child_update, child_add, inf_error, c, inf_conn}},
      [INF_MW] = {MW_GVR,
                  CP_UR_MANAGED_SELECTOR,
                  {child_add, child_update, child_add, inf_error, c, inf_conn}},
      [INF_ROUTE] = {ROUTE_GVR,
                     CP_UR_MANAGED_SELECTOR,
                     {child_add, child_update, child_add, inf_error, c, inf_conn}},
  };
  for (int i = 0; rc == 0 && i < INF_COUNT; i++) {
    if ((i == INF_MW || i == INF_ROUTE) && !routes_on(&c->o.desired))
      continue;
    cp_informer_opts_t io = {.gvr = defs[i].gvr,
                             .namespace_ = defs[i].gvr.namespaced ? c->o.namespace_ : NULL,
                             .label_selector = defs[i].sel,
                             .project = PROJECT[i],
                             .compact = 1,
                             .page_size = c->o.page_size}; /* items stream in */
    rc = cp_informer_new(cfg, &copts, &io, &defs[i].h, &c->inf[i]);
  }
  c->workers = calloc((size_t)c->o.workers, sizeof *c->workers);
  if (rc == 0 && !c->workers)
    rc = CP_ENOMEM;
  for (int i = 0; rc == 0 && i < c->o.workers; i++) {
    c->workers[i].c = c;
    rc = cp_kube_client_new(cfg, &copts, &c->workers[i].kc);
  }
  if (rc != 0) {
    cp_ur_controller_free(c);
    return rc;
  }
  *out = c;
  return 0;
}

int cp_ur_controller_start_informers(cp_ur_controller_t *c) {
  for (int i = 0; i < INF_COUNT; i++) {
    if (!c->inf[i])
      continue;
    int rc = cp_informer_start(c->inf[i]);
    if (rc != 0)
      return rc;
  }
  return 0;
}

int cp_ur_controller_synced(cp_ur_controller_t *c) {
  for (int i = 0; i < INF_COUNT; i++)
    if (c->inf[i] && !cp_informer_synced(c->inf[i]))
      return 0;
  return 1;
}

int cp_ur_controller_start_workers(cp_ur_controller_t *c) {
  if (c->started)
    return 0;
  for (int i = 0; i < c->o.workers; i++) {
    if (pthread_create(&c->workers[i].thread, NULL, work, &c->workers[i]) != 0)
      return CP_ENOMEM;
    c->nworkers++;
  }
  c->started = 1;
  /* Everything in the cache gets a first reconcile, even what arrived before we led. */
  cp_store_each_key(cp_informer_store(c->inf[INF_UR]), enqueue_key, c->q);
  if (pthread_create(&c->resync_thread, NULL, resync, c) == 0) /* also measures the caches */
    c->resync_started = 1;
  return 0;
}

void cp_ur_controller_stats(cp_ur_controller_t *c, cp_ur_controller_stats_t *st) {
  pthread_mutex_lock(&c->mu);
  *st = c->stats;
  pthread_mutex_unlock(&c->mu);
  cp_workqueue_stats(c->q, &st->queue);
}

void cp_ur_controller_stop(cp_ur_controller_t *c) {
  if (!c)
    return;
  atomic_store(&c->stop, 1);
  if (c->q)
    cp_workqueue_shutdown(c->q);
  for (int i = 0; i < c->nworkers; i++)
    pthread_join(c->workers[i].thread, NULL);
  c->nworkers = 0;
  if (c->resync_started)
    pthread_join(c->resync_thread, NULL);
  c->resync_started = 0;
  for (int i = 0; i < INF_COUNT; i++)
    cp_informer_request_stop(c->inf[i]); /* all at once: each takes up to a second */
  for (int i = 0; i < INF_COUNT; i++)
    if (c->inf[i])
      cp_informer_stop(c->inf[i]);
}

void cp_ur_controller_free(cp_ur_controller_t *c) {
  if (!c)
    return;
  cp_ur_controller_stop(c);
  for (int i = 0; i < INF_COUNT; i++)
    cp_informer_free(c->inf[i]);
  for (int i = 0; c->workers && i < c->o.workers; i++)
    cp_kube_client_free(c->workers[i].kc);
  free(c->workers);
  cp_workqueue_free(c->q);
  cp_map_free(&c->memo, memo_kept_free);
  pthread_mutex_destroy(&c->mu);
  free(c);
}
