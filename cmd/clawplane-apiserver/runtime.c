/* The runtime endpoints: read from the informer cache, write with server-side apply.
 *
 * Reads (GET runtime, the admin list) are answered on the loop from the UserRuntime cache,
 * without a database or API round trip. Writes run on a worker in this order: the audit
 * record first (its own committed statement: if PostgreSQL is down nothing is written
 * anywhere and the client gets 503), then the policy check against the RuntimeProfile when
 * profile or resources change (the controller's own effective-settings code, so the
 * apiserver refuses exactly what the controller would refuse), then the apply: read the
 * live object, build the body from the fields this manager owns plus the change, apply
 * with its resourceVersion, and on a 409 read again and retry. Every write is idempotent,
 * so a client retrying after a 503 converges; ten concurrent starts make one object.
 *
 * Read your writes: a write answers only once the cache reflects it (the informer has seen
 * the resourceVersion the write returned, usually within milliseconds), so a GET sent right
 * after a start, a PUT or a DELETE shows it. If the watch lags past CACHE_WAIT_MS the write
 * still answers (it did happen) and a warning says the cache is behind.
 */
#include "api.h"

#include "api/body.h"
#include "api/runtime.h"
#include "core/error.h"
#include "core/time.h"
#include "json/json.h"
#include "log/log.h"
#include "userruntime/desired.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define UR_GVR API_UR_GVR
#define PROFILE_GVR API_PROFILE_GVR
#define CACHE_WAIT_MS 3000

static const char *or_empty(const char *s) {
  return s ? s : "";
}

cp_obj_t *cp__api_cached_runtime(api_app_t *a, const char *user) {
  char key[320];
  cp_obj_key(a->s.runtime_ns, user, key, sizeof key);
  return cp_store_get(cp_informer_store(a->informer), key);
}

/* Answers 503 and returns 1 while the cache has not been filled yet (a 404 would lie). */
static int not_synced(api_ctx_t *c) {
  if (cp_informer_synced(c->app->informer))
    return 0;
  cp__api_fail(c, 503, "starting: the runtime cache is not filled yet; retry shortly");
  snprintf(c->retry_after, sizeof c->retry_after, "1");
  cp__api_finish(c);
  return 1;
}

void cp__api_runtime_get(api_ctx_t *c) {
  if (not_synced(c))
    return;
  cp_obj_t *o = cp__api_cached_runtime(c->app, c->target);
  if (!o) {
    cp__api_fail(c, 404, "user %s has no runtime; POST /api/v1/users/%s/runtime/start creates one",
                 c->target, c->target);
  } else {
    c->out = cp_api_runtime_view(o->json);
    if (!c->out)
      cp__api_fail(c, 500, "out of memory");
    cp_obj_unref(o);
  }
  cp__api_finish(c);
}

/* Fetches the live object: 0 with *out (NULL when it does not exist) or the error. */
static int get_live(api_ctx_t *c, api_worker_t *w, const char *user, cJSON **out, cp_status_t *st) {
  cJSON *cur = NULL;
  int rc = cp_kube_get(w->kc, &UR_GVR, c->app->s.runtime_ns, user, NULL, &cur, st);
  if (rc == CP_ENOTFOUND) {
    *out = NULL;
    return 0;
  }
  if (rc == 0)
    *out = cur;
  return rc;
}

/* Waits until the runtime cache shows what a write answered (written: the object, or what
 * a DELETE answered), so a GET after the answer sees it. A DELETE that took effect at once
 * (its answer a Status, or the object without a deletionTimestamp) is shown by the
 * runtime's absence; one that finalizers hold is an update like the others. */
static void await_cache(api_ctx_t *c, const char *user, const cJSON *written, int deleted) {
  const char *rv = cp_json_strv(written, "metadata", "resourceVersion", NULL);
  if (deleted && !cp_json_getv(written, "metadata", "deletionTimestamp", NULL))
    rv = NULL;
  double t0 = cp_time_mono();
  int rc;
  if (rv) {
    rc = cp_informer_wait_rv(c->app->informer, rv, CACHE_WAIT_MS);
  } else {
    char key[320];
    cp_obj_key(c->app->s.runtime_ns, user, key, sizeof key);
    rc = cp_informer_wait_gone(c->app->informer, key, CACHE_WAIT_MS);
  }
  if (rc == CP_ETIMEOUT) {
    char ms[32];
    snprintf(ms, sizeof ms, "%.0f", (cp_time_mono() - t0) * 1000);
    cp_log_warn("the runtime cache is behind a write; a read right after it may not show it",
                "user", user, "resourceVersion", rv, "waited_ms", ms, NULL);
  }
}

/* Applies chg to user's runtime, retrying on conflicts. On success *out (may be NULL) gets
 * the object the server returned. */
static int apply_change(api_ctx_t *c, api_worker_t *w, const char *user,
                        const cp_api_runtime_change_t *chg, cJSON **out, cp_status_t *st) {
  int rc = CP_ECONFLICT;
  for (int attempt = 0; attempt < 6 && rc == CP_ECONFLICT; attempt++) {
    cJSON *cur = NULL, *body = NULL, *res = NULL;
    rc = get_live(c, w, user, &cur, st);
    cp_api_runtime_change_t eff = *chg;
    if (!cur && !eff.profile)
      eff.profile = c->app->s.default_profile; /* a new runtime: the platform's default */
    if (rc == 0)
      rc = cp_api_runtime_apply_body(cur, c->app->s.runtime_ns, user, user, API_FIELD_MANAGER, &eff,
                                     &body);
    if (rc == 0)
      rc = cp_kube_apply(w->kc, &UR_GVR, c->app->s.runtime_ns, user, NULL, body, API_FIELD_MANAGER,
                         true, &res, st);
    cJSON_Delete(cur);
    cJSON_Delete(body);
    if (rc == 0)
      await_cache(c, user, res, 0);
    if (rc == 0 && out)
      *out = res;
    else
      cJSON_Delete(res);
  }
  return rc;
}

int cp__api_runtime_set_state(api_ctx_t *c, api_worker_t *w, const char *user, const char *state,
                              cp_status_t *st) {
  cJSON *cur = NULL;
  int rc = get_live(c, w, user, &cur, st);
  if (rc != 0 || !cur)
    return rc;
  cJSON_Delete(cur);
  cp_api_runtime_change_t chg = {.state = state, .retain_on_delete = -1};
  return apply_change(c, w, user, &chg, NULL, st);
}

/* The policy check: would the controller accept the changed spec under its profile? */
static int check_policy(api_ctx_t *c, api_worker_t *w, const cp_api_runtime_change_t *chg) {
  cp_status_t st = {0};
  cJSON *cur = NULL, *profile = NULL, *cand = NULL;
  int rc = get_live(c, w, c->target, &cur, &st);
  if (rc != 0) {
    cp__api_fail_kube(c, rc, &st, "read the runtime");
    return rc;
  }
  const cJSON *cspec = cp_json_getv(cur, "spec", NULL);
  cJSON *spec = cspec ? cJSON_Duplicate(cspec, 1) : cJSON_CreateObject();
  cand = cJSON_CreateObject();
  if (!spec || !cand || !cJSON_AddItemToObject(cand, "spec", spec)) {
    cJSON_Delete(spec);
    rc = CP_ENOMEM;
    cp__api_fail(c, 500, "out of memory");
    goto out;
  }
  if (chg->profile)
    cp_json_set(spec, "profile", cJSON_CreateString(chg->profile));
  if (chg->resources && cJSON_IsNull(chg->resources))
    cJSON_DeleteItemFromObjectCaseSensitive(spec, "resources");
  else if (chg->resources)
    cp_json_set(spec, "resources", cJSON_Duplicate(chg->resources, 1));
  const char *pname = cp_json_strv(spec, "profile", NULL);
  if (!pname)
    pname = c->app->s.default_profile ? c->app->s.default_profile : "default";
  rc = cp_kube_get(w->kc, &PROFILE_GVR, NULL, pname, NULL, &profile, &st);
  if (rc == CP_ENOTFOUND) {
    cp__api_fail(c, 422, "RuntimeProfile \"%s\" does not exist", pname);
    goto out;
  }
  if (rc != 0) {
    cp__api_fail_kube(c, rc, &st, "read the RuntimeProfile");
    goto out;
  }
  cp_desired_opts_t opts = {.default_image = "policy-check.invalid/none"};
  cp_desired_effective_t eff = {0};
  char err[256];
  rc = cp_desired_effective(cand, profile, &opts, &eff, err, sizeof err);
  cp_desired_effective_free(&eff);
  if (rc != 0)
    cp__api_fail(c, 422, "not allowed by the runtime policy: %s", err);
out:
  cJSON_Delete(cur);
  cJSON_Delete(profile);
  cJSON_Delete(cand);
  return rc;
}

static cJSON *change_detail(const cp_api_runtime_change_t *chg) {
  cJSON *d = cJSON_CreateObject();
  if (!d)
    return NULL;
  if (chg->state)
    cJSON_AddStringToObject(d, "state", chg->state);
  if (chg->profile)
    cJSON_AddStringToObject(d, "profile", chg->profile);
  if (chg->resources)
    cJSON_AddItemToObject(d, "resources", cJSON_Duplicate(chg->resources, 1));
  return d;
}

static void write_runtime(api_ctx_t *c, api_worker_t *w, const char *action,
                          const cp_api_runtime_change_t *chg) {
  cp_pg_error_t e = {0};
  cJSON *detail = change_detail(chg);
  int rc = cp__api_audit(w, c, action, c->target, "requested", detail, &e);
  cJSON_Delete(detail);
  if (rc != 0) {
    cp__api_fail_db(c, rc, &e, "record the change");
    return;
  }
  if ((chg->profile || chg->resources) && check_policy(c, w, chg) != 0)
    return;
  cp_status_t st = {0};
  cJSON *res = NULL;
  rc = apply_change(c, w, c->target, chg, &res, &st);
  if (rc != 0) {
    cp__api_fail_kube(c, rc, &st, "write the UserRuntime");
    return;
  }
  c->out = cp_api_runtime_view(res);
  cJSON_Delete(res);
  if (!c->out)
    cp__api_fail(c, 500, "out of memory");
}

static void start_work(api_ctx_t *c, api_worker_t *w) {
  cp_api_runtime_change_t chg = {.state = "Running", .retain_on_delete = -1};
  write_runtime(c, w, "runtime.start", &chg);
}

static void stop_work(api_ctx_t *c, api_worker_t *w) {
  cp_api_runtime_change_t chg = {.state = "Stopped", .retain_on_delete = -1};
  write_runtime(c, w, "runtime.stop", &chg);
}

static void put_work(api_ctx_t *c, api_worker_t *w) {
  cp_api_runtime_put_t in;
  char err[256];
  int rc = cp_api_parse_runtime_put(c->body, &in, err, sizeof err);
  if (rc != 0) {
    cp__api_fail(c, rc == CP_EINVALID ? 422 : 400, "%s", err);
    return;
  }
  cp_api_runtime_change_t chg = {
      .state = in.state, .profile = in.profile, .resources = in.resources, .retain_on_delete = -1};
  write_runtime(c, w, "runtime.update", &chg);
}

void cp__api_runtime_start(api_ctx_t *c) {
  cp__api_run(c, start_work);
}

void cp__api_runtime_stop(api_ctx_t *c) {
  cp__api_run(c, stop_work);
}

void cp__api_runtime_put(api_ctx_t *c) {
  cp__api_run(c, put_work);
}

/* Waits (up to 15 s) until the controller reports status.observedGeneration at least the
 * generation of applied. Returns 0, or an error with the answer set. */
static int wait_observed(api_ctx_t *c, api_worker_t *w, const cJSON *applied, cp_status_t *st) {
  const cJSON *g = cp_json_getv(applied, "metadata", "generation", NULL);
  double want = cJSON_IsNumber(g) ? g->valuedouble : 0;
  for (int i = 0; i < 75; i++) {
    cJSON *cur = NULL;
    int rc = get_live(c, w, c->target, &cur, st);
    if (rc != 0) {
      cp__api_fail_kube(c, rc, st, "read the runtime");
      return rc;
    }
    const cJSON *og = cp_json_getv(cur, "status", "observedGeneration", NULL);
    int done = !cur || (cJSON_IsNumber(og) && og->valuedouble >= want);
    cJSON_Delete(cur);
    if (done)
      return 0;
    struct timespec ts = {0, 200 * 1000000L};
    nanosleep(&ts, NULL);
  }
  cp__api_fail(c, 503,
               "the controller has not yet prepared the workspace of %s for removal; the runtime "
               "was not deleted, retry shortly",
               c->target);
  snprintf(c->retry_after, sizeof c->retry_after, "5");
  return CP_ETIMEOUT;
}

static void delete_work(api_ctx_t *c, api_worker_t *w) {
  int wipe = c->flag;
  cp_pg_error_t e = {0};
  cJSON *detail = cJSON_CreateObject();
  if (detail)
    cJSON_AddBoolToObject(detail, "wipe", wipe);
  int rc = cp__api_audit(w, c, "runtime.delete", c->target, "requested", detail, &e);
  cJSON_Delete(detail);
  if (rc != 0) {
    cp__api_fail_db(c, rc, &e, "record the deletion");
    return;
  }
  cp_status_t st = {0};
  cJSON *cur = NULL;
  rc = get_live(c, w, c->target, &cur, &st);
  if (rc != 0) {
    cp__api_fail_kube(c, rc, &st, "read the runtime");
    return;
  }
  if (!cur) {
    cp__api_fail(c, 404, "user %s has no runtime", c->target);
    return;
  }
  char uid[128];
  snprintf(uid, sizeof uid, "%s", or_empty(cp_json_strv(cur, "metadata", "uid", NULL)));
  cJSON_Delete(cur);
  if (wipe) {
    /* The PVC goes with the object only once the controller has given it an owner
     * reference for retainOnDelete=false: wait until it has acted on that spec. */
    cp_api_runtime_change_t chg = {.retain_on_delete = 0};
    cJSON *res = NULL;
    rc = apply_change(c, w, c->target, &chg, &res, &st);
    if (rc != 0) {
      cp__api_fail_kube(c, rc, &st, "mark the workspace for removal");
      return;
    }
    rc = wait_observed(c, w, res, &st);
    cJSON_Delete(res);
    if (rc != 0)
      return;
  }
  cp_delete_opts_t del = {.propagation_policy = "Background", .uid = uid[0] ? uid : NULL};
  cJSON *gone = NULL;
  rc = cp_kube_delete(w->kc, &UR_GVR, c->app->s.runtime_ns, c->target, &del, &gone, &st);
  if (rc == 0)
    await_cache(c, c->target, gone, 1);
  cJSON_Delete(gone);
  if (rc == CP_ENOTFOUND)
    rc = 0; /* deleted concurrently: the same outcome */
  if (rc != 0) {
    cp__api_fail_kube(c, rc, &st, "delete the UserRuntime");
    return;
  }
  c->out = cJSON_CreateObject();
  if (c->out) {
    cJSON_AddStringToObject(c->out, "name", c->target);
    cJSON_AddBoolToObject(c->out, "deleted", 1);
    cJSON_AddStringToObject(c->out, "workspace", wipe ? "removed" : "kept");
  }
  c->status = 200;
}

void cp__api_runtime_delete(api_ctx_t *c) {
  char v[16];
  c->flag = 0;
  int rc = cp_api_query_get(c->query, "wipe", v, sizeof v);
  if (rc == 0 && (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "")))
    c->flag = 1;
  else if (rc == 0 && strcmp(v, "false") != 0 && strcmp(v, "0") != 0) {
    cp__api_fail(c, 400, "query parameter wipe must be true or false");
    cp__api_finish(c);
    return;
  }
  cp__api_run(c, delete_work);
}

static int by_key(const void *x, const void *y) {
  const cp_obj_t *const *a = x, *const *b = y;
  return strcmp((*a)->key, (*b)->key);
}

void cp__api_runtimes_list(api_ctx_t *c) {
  if (not_synced(c))
    return;
  cp_obj_t **objs = NULL;
  size_t n = 0;
  if (cp_store_list(cp_informer_store(c->app->informer), NULL, NULL, &objs, &n) != 0) {
    cp__api_fail(c, 500, "out of memory");
    cp__api_finish(c);
    return;
  }
  qsort(objs, n, sizeof *objs, by_key);
  cJSON *items = cJSON_CreateArray();
  for (size_t i = 0; i < n; i++) {
    cJSON *v = cp_api_runtime_view(objs[i]->json);
    if (v && items) {
      cJSON *s = cJSON_CreateObject();
      if (s) {
        cJSON_AddStringToObject(s, "name", or_empty(cp_json_strv(v, "name", NULL)));
        cJSON_AddStringToObject(s, "user", or_empty(cp_json_strv(v, "user", NULL)));
        cJSON_AddStringToObject(s, "state", or_empty(cp_json_strv(v, "desired", "state", NULL)));
        cJSON_AddStringToObject(s, "phase", or_empty(cp_json_strv(v, "observed", "phase", NULL)));
        cJSON_AddStringToObject(s, "ready", or_empty(cp_json_strv(v, "observed", "ready", NULL)));
        cJSON_AddStringToObject(s, "profile",
                                or_empty(cp_json_strv(v, "desired", "profile", NULL)));
        const cJSON *restarts = cp_json_getv(v, "observed", "restarts", NULL);
        cJSON_AddNumberToObject(s, "restarts",
                                cJSON_IsNumber(restarts) ? restarts->valuedouble : 0);
        cJSON_AddStringToObject(s, "createdAt", or_empty(cp_json_strv(v, "createdAt", NULL)));
        cJSON_AddStringToObject(s, "lastActivityTime",
                                or_empty(cp_json_strv(v, "observed", "lastActivityTime", NULL)));
        cJSON_AddItemToArray(items, s);
      }
    }
    cJSON_Delete(v);
    cp_obj_unref(objs[i]);
  }
  free(objs);
  c->out = cJSON_CreateObject();
  if (c->out && items) {
    cJSON_AddItemToObject(c->out, "items", items);
    cJSON_AddNumberToObject(c->out, "count", (double)cJSON_GetArraySize(items));
  } else {
    cJSON_Delete(items);
    cp__api_fail(c, 500, "out of memory");
  }
  cp__api_finish(c);
}
