/* UserRuntime views and apply bodies (see runtime.h for the apply rules). */
#include "api/runtime.h"

#include "core/error.h"
#include "core/time.h"
#include "json/json.h"

#include <math.h>
#include <string.h>

static const cJSON *apply_entry(const cJSON *ur, const char *manager) {
  const cJSON *mf = cp_json_getv(ur, "metadata", "managedFields", NULL);
  const cJSON *e;
  cJSON_ArrayForEach(e, mf) {
    const char *m = cp_json_strv(e, "manager", NULL);
    const char *op = cp_json_strv(e, "operation", NULL);
    const char *sub = cp_json_strv(e, "subresource", NULL);
    if (m && op && !strcmp(m, manager) && !strcmp(op, "Apply") && (!sub || !*sub))
      return e;
  }
  return NULL;
}

unsigned cp_api_owned_fields(const cJSON *ur, const char *manager) {
  if (!ur || !manager)
    return 0;
  const cJSON *spec = cp_json_getv(apply_entry(ur, manager), "fieldsV1", "f:spec", NULL);
  unsigned f = 0;
  if (cp_json_getv(spec, "f:state", NULL))
    f |= CP_API_F_STATE;
  if (cp_json_getv(spec, "f:profile", NULL))
    f |= CP_API_F_PROFILE;
  if (cp_json_getv(spec, "f:resources", NULL))
    f |= CP_API_F_RESOURCES;
  if (cp_json_getv(spec, "f:storage", "f:retainOnDelete", NULL))
    f |= CP_API_F_RETAIN;
  return f;
}

int cp_api_runtime_apply_body(const cJSON *current, const char *ns, const char *name,
                              const char *user, const char *manager,
                              const cp_api_runtime_change_t *chg, cJSON **out) {
  if (!ns || !name || !user || !chg)
    return CP_EINVAL;
  unsigned owned = cp_api_owned_fields(current, manager);
  const cJSON *cspec = cp_json_getv(current, "spec", NULL);
  cJSON *b = cJSON_CreateObject();
  cJSON *md = b ? cJSON_AddObjectToObject(b, "metadata") : NULL;
  cJSON *labels = md ? cJSON_AddObjectToObject(md, "labels") : NULL;
  cJSON *spec = md ? cJSON_AddObjectToObject(b, "spec") : NULL;
  int ok = spec && cJSON_AddStringToObject(b, "apiVersion", CP_API_UR_API_VERSION) &&
           cJSON_AddStringToObject(b, "kind", CP_API_UR_KIND) &&
           cJSON_AddStringToObject(md, "name", name) &&
           cJSON_AddStringToObject(md, "namespace", ns) &&
           cJSON_AddStringToObject(labels, CP_API_USER_LABEL, user) &&
           cJSON_AddStringToObject(spec, "user", user);
  const char *rv = cp_json_strv(current, "metadata", "resourceVersion", NULL);
  if (ok && rv)
    ok = cJSON_AddStringToObject(md, "resourceVersion", rv) != NULL;

  const char *state = chg->state;
  if (!state && (owned & CP_API_F_STATE))
    state = cp_json_strv(cspec, "state", NULL);
  if (ok && state)
    ok = cJSON_AddStringToObject(spec, "state", state) != NULL;

  const char *profile = chg->profile;
  if (!profile && (owned & CP_API_F_PROFILE))
    profile = cp_json_strv(cspec, "profile", NULL);
  if (ok && profile)
    ok = cJSON_AddStringToObject(spec, "profile", profile) != NULL;

  const cJSON *res = chg->resources;
  if (!res && (owned & CP_API_F_RESOURCES))
    res = cp_json_getv(cspec, "resources", NULL);
  if (ok && res && cJSON_IsObject(res)) {
    cJSON *dup = cJSON_Duplicate(res, 1);
    ok = dup && cJSON_AddItemToObject(spec, "resources", dup);
    if (!ok)
      cJSON_Delete(dup);
  }

  int retain = chg->retain_on_delete;
  if (retain < 0 && (owned & CP_API_F_RETAIN)) {
    const cJSON *r = cp_json_getv(cspec, "storage", "retainOnDelete", NULL);
    retain = cJSON_IsBool(r) ? cJSON_IsTrue(r) : -1;
  }
  if (ok && retain >= 0) {
    cJSON *st = cJSON_AddObjectToObject(spec, "storage");
    ok = st && cJSON_AddBoolToObject(st, "retainOnDelete", retain);
  }
  if (!ok) {
    cJSON_Delete(b);
    return CP_ENOMEM;
  }
  *out = b;
  return 0;
}

/* Copies src[key] into dst under the same key when present. Returns 0 on ENOMEM. */
static int copy(cJSON *dst, const cJSON *src, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(src, key);
  if (!v)
    return 1;
  cJSON *d = cJSON_Duplicate(v, 1);
  if (!d || !cJSON_AddItemToObject(dst, key, d)) {
    cJSON_Delete(d);
    return 0;
  }
  return 1;
}

static const cJSON *condition(const cJSON *ur, const char *type) {
  const cJSON *c;
  cJSON_ArrayForEach(c, cp_json_getv(ur, "status", "conditions", NULL)) {
    const char *t = cp_json_strv(c, "type", NULL);
    if (t && !strcmp(t, type))
      return c;
  }
  return NULL;
}

cJSON *cp_api_runtime_view(const cJSON *ur) {
  const cJSON *md = cp_json_getv(ur, "metadata", NULL);
  const cJSON *spec = cp_json_getv(ur, "spec", NULL);
  const cJSON *st = cp_json_getv(ur, "status", NULL);
  cJSON *v = cJSON_CreateObject();
  cJSON *d = v ? cJSON_CreateObject() : NULL;
  cJSON *o = d ? cJSON_CreateObject() : NULL;
  int ok = o != NULL;
  ok = ok && copy(v, md, "name") && copy(v, md, "namespace") && copy(v, spec, "user") &&
       copy(v, md, "generation") && copy(v, md, "resourceVersion");
  const cJSON *created = cJSON_GetObjectItemCaseSensitive(md, "creationTimestamp");
  if (ok && cJSON_IsString(created))
    ok = cJSON_AddStringToObject(v, "createdAt", created->valuestring) != NULL;
  if (ok) {
    cJSON_AddItemToObject(v, "desired", d);
    cJSON_AddItemToObject(v, "observed", o);
  } else {
    cJSON_Delete(d);
    cJSON_Delete(o);
    d = o = NULL;
  }
  static const char *const dkeys[] = {"state",   "profile",     "image", "resources",
                                      "storage", "idleTimeout", NULL};
  for (const char *const *k = dkeys; ok && *k; k++)
    ok = copy(d, spec, *k);
  static const char *const okeys[] = {"phase",      "message",
                                      "podName",    "endpoint",
                                      "startedAt",  "lastActivityTime",
                                      "restarts",   "observedGeneration",
                                      "conditions", NULL};
  for (const char *const *k = okeys; ok && *k; k++)
    ok = copy(o, st, *k);
  const char *ready = cp_json_strv(condition(ur, "Ready"), "status", NULL);
  if (ok && ready)
    ok = cJSON_AddStringToObject(o, "ready", ready) != NULL;
  if (!ok) {
    cJSON_Delete(v);
    return NULL;
  }
  return v;
}

cJSON *cp_api_activity_body(const char *ns, const char *name, double at) {
  char ts[32];
  cp_time_format(at, ts, sizeof ts);
  cJSON *b = cJSON_CreateObject();
  cJSON *md = b ? cJSON_AddObjectToObject(b, "metadata") : NULL;
  cJSON *st = md ? cJSON_AddObjectToObject(b, "status") : NULL;
  if (!st || !cJSON_AddStringToObject(b, "apiVersion", CP_API_UR_API_VERSION) ||
      !cJSON_AddStringToObject(b, "kind", CP_API_UR_KIND) ||
      !cJSON_AddStringToObject(md, "name", name) || !cJSON_AddStringToObject(md, "namespace", ns) ||
      !cJSON_AddStringToObject(st, "lastActivityTime", ts)) {
    cJSON_Delete(b);
    return NULL;
  }
  return b;
}

int cp_api_wake_needed(const cJSON *ur, double now, double *at) {
  const char *phase = cp_json_strv(ur, "status", "phase", NULL);
  if (!phase || strcmp(phase, "Hibernated") != 0)
    return 0;
  double since =
      cp_time_parse_or(cp_json_strv(condition(ur, "Ready"), "lastTransitionTime", NULL), 0);
  double activity = cp_time_parse_or(cp_json_strv(ur, "status", "lastActivityTime", NULL), 0);
  if (activity > since)
    return 0; /* already woken; the controller has yet to act on it */
  if (at) {
    double t = ceil(now);
    *at = t > since ? t : since + 1;
  }
  return 1;
}
