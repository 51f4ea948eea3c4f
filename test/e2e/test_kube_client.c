/* The kube client and watch against a real kube-apiserver ($KUBECONFIG), in a namespace of
 * its own that is deleted at the end: CRUD, paging, server-side apply conflicts, delete
 * preconditions, subresources, watch order and bookmarks, 410 on a stale resourceVersion,
 * and the credential failures a user would hit (wrong CA, wrong server name, bad token,
 * rotated token file); batches of writes at once on one connection.
 *
 * Two facts about kube-apiserver shape the watch tests (checked against v1.34):
 *  - Bookmarks come about once a minute, plus one 2 s before the watch's deadline, but
 *    only when the watch cache has moved past what the watcher already saw. So the
 *    ordered-events test uses timeoutSeconds=10 and writes one configmap the watch filters
 *    out; its BOOKMARK arrives after ~8 s. sendInitialEvents gives a bookmark at once.
 *  - "410 too old resource version" is only certain where the watch cache started late:
 *    on a young cluster the configmap cache starts near revision 1 and a watch from "1"
 *    replays history instead. A custom resource's cache starts when its CRD is
 *    established, so the stale-watch test creates a CRD and watches it from "1".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "json/json.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/watch.h"
#include "metrics/metrics.h"
#include "testutil.h"

static cp_kubeconfig_t *cfg;
static cp_kube_client_t *kc;
static char ns[64];

#define PROBE_GROUP "e2e.clawplane.io"
#define PROBE_CRD "watchprobes." PROBE_GROUP
static const cp_gvr_t probes = {PROBE_GROUP, "v1", "watchprobes", true};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static cJSON *parse(const char *json) {
  cJSON *j = cJSON_Parse(json);
  assert_non_null(j);
  return j;
}

/* A ConfigMap named name with data {k: v} and an optional label batch=<batch>. */
static cJSON *configmap(const char *name, const char *v, const char *batch) {
  cJSON *o = parse("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{}}");
  cJSON *md = cJSON_GetObjectItemCaseSensitive(o, "metadata");
  cJSON_AddStringToObject(md, "name", name);
  if (batch)
    cJSON_AddStringToObject(cJSON_AddObjectToObject(md, "labels"), "batch", batch);
  cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "data"), "k", v);
  return o;
}

static void create_cm(cp_kube_client_t *c, const char *name, const char *v, const char *batch) {
  cJSON *o = configmap(name, v, batch);
  cp_status_t st;
  int rc = cp_kube_create(c, &CP_GVR_CONFIGMAPS, ns, o, NULL, &st);
  if (rc)
    fail_msg("create %s: %s (%ld %s)", name, cp_errname(rc), st.http_code, st.message);
  cJSON_Delete(o);
}

static int setup(void **state) {
  (void)state;
  char err[256] = "";
  const char *kcfg = getenv("KUBECONFIG");
  if (!kcfg || cp_kubeconfig_load(kcfg, NULL, &cfg, err, sizeof err) != 0) {
    fprintf(stderr, "cannot load KUBECONFIG: %s\n", err);
    return -1;
  }
  if (cp_kube_client_new(cfg, NULL, &kc) != 0)
    return -1;
  cp_test_unique_name("cp-e2e-client", ns, sizeof ns);
  cJSON *o = parse("{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{}}");
  cJSON_AddStringToObject(cJSON_GetObjectItemCaseSensitive(o, "metadata"), "name", ns);
  cp_status_t st;
  int rc = cp_kube_create(kc, &CP_GVR_NAMESPACES, NULL, o, NULL, &st);
  cJSON_Delete(o);
  if (rc)
    fprintf(stderr, "create namespace: %s %s\n", cp_errname(rc), st.message);
  return rc ? -1 : 0;
}

static int teardown(void **state) {
  (void)state;
  cp_delete_opts_t d = {.propagation_policy = "Background"};
  cp_kube_delete(kc, &CP_GVR_NAMESPACES, NULL, ns, &d, NULL, NULL);
  cp_kube_delete(kc, &CP_GVR_CRDS, NULL, PROBE_CRD, &d, NULL, NULL);
  cp_kube_client_free(kc);
  cp_kubeconfig_free(cfg);
  return 0;
}

/* ---- CRUD ---- */

static void configmap_crud(void **state) {
  (void)state;
  cp_status_t st;
  cJSON *o = configmap("crud", "v1", NULL), *got = NULL;
  assert_int_equal(cp_kube_create(kc, &CP_GVR_CONFIGMAPS, ns, o, &got, &st), 0);
  assert_int_equal(st.http_code, 0); /* zeroed on success */
  assert_non_null(cp_json_strv(got, "metadata", "uid", NULL));
  cJSON_Delete(got);

  /* Creating it again: 409 AlreadyExists, told apart from other conflicts by the reason. */
  assert_int_equal(cp_kube_create(kc, &CP_GVR_CONFIGMAPS, ns, o, NULL, &st), CP_ECONFLICT);
  assert_int_equal(st.http_code, 409);
  assert_string_equal(st.reason, "AlreadyExists");
  assert_non_null(strstr(st.message, "already exists"));
  cJSON_Delete(o);

  cJSON *cur = NULL;
  assert_int_equal(cp_kube_get(kc, &CP_GVR_CONFIGMAPS, ns, "crud", NULL, &cur, &st), 0);
  assert_string_equal(cp_json_strv(cur, "data", "k", NULL), "v1");

  /* Update (PUT) with the current resourceVersion, then again with the stale one. */
  cJSON *stale = cJSON_Duplicate(cur, 1);
  cJSON_ReplaceItemInObject(cJSON_GetObjectItemCaseSensitive(cur, "data"), "k",
                            cJSON_CreateString("v2"));
  cJSON *upd = NULL;
  assert_int_equal(cp_kube_update(kc, &CP_GVR_CONFIGMAPS, ns, "crud", NULL, cur, &upd, &st), 0);
  assert_string_equal(cp_json_strv(upd, "data", "k", NULL), "v2");
  assert_int_equal(cp_kube_update(kc, &CP_GVR_CONFIGMAPS, ns, "crud", NULL, stale, NULL, &st),
                   CP_ECONFLICT);
  assert_string_equal(st.reason, "Conflict");
  cJSON_Delete(cur);
  cJSON_Delete(stale);
  cJSON_Delete(upd);

  /* The three patch flavours. */
  assert_int_equal(cp_kube_patch(kc, &CP_GVR_CONFIGMAPS, ns, "crud", NULL, CP_PATCH_MERGE,
                                 "{\"data\":{\"m\":\"merge\"}}", NULL, &st),
                   0);
  assert_int_equal(cp_kube_patch(kc, &CP_GVR_CONFIGMAPS, ns, "crud", NULL, CP_PATCH_JSON,
                                 "[{\"op\":\"add\",\"path\":\"/data/j\",\"value\":\"json\"}]", NULL,
                                 &st),
                   0);
  assert_int_equal(cp_kube_patch(kc, &CP_GVR_CONFIGMAPS, ns, "crud", NULL, CP_PATCH_STRATEGIC,
                                 "{\"data\":{\"s\":\"smp\"}}", NULL, &st),
                   0);
  /* A JSON patch whose test fails is refused with the server's reason. */
  int rc = cp_kube_patch(kc, &CP_GVR_CONFIGMAPS, ns, "crud", NULL, CP_PATCH_JSON,
                         "[{\"op\":\"test\",\"path\":\"/data/k\",\"value\":\"nope\"}]", NULL, &st);
  assert_true(rc == CP_EINVALID || rc == CP_EBADREQUEST || rc == CP_ECONFLICT);
  assert_true(strlen(st.message) > 0);
  assert_int_equal(cp_kube_get(kc, &CP_GVR_CONFIGMAPS, ns, "crud", NULL, &cur, &st), 0);
  assert_string_equal(cp_json_strv(cur, "data", "k", NULL), "v2");
  assert_string_equal(cp_json_strv(cur, "data", "m", NULL), "merge");
  assert_string_equal(cp_json_strv(cur, "data", "j", NULL), "json");
  assert_string_equal(cp_json_strv(cur, "data", "s", NULL), "smp");
  cJSON_Delete(cur);

  /* Delete, then it is gone, and deleting again is a clean NOTFOUND. */
  assert_int_equal(cp_kube_delete(kc, &CP_GVR_CONFIGMAPS, ns, "crud", NULL, NULL, &st), 0);
  cur = (cJSON *)&st;
  assert_int_equal(cp_kube_get(kc, &CP_GVR_CONFIGMAPS, ns, "crud", NULL, &cur, &st), CP_ENOTFOUND);
  assert_ptr_equal(cur, (cJSON *)&st); /* untouched on failure */
  assert_int_equal(st.http_code, 404);
  assert_string_equal(st.reason, "NotFound");
  assert_int_equal(cp_kube_delete(kc, &CP_GVR_CONFIGMAPS, ns, "crud", NULL, NULL, &st),
                   CP_ENOTFOUND);
  assert_int_equal(st.http_code, 404);
}

/* ---- paging ---- */

/* Counts a ConfigMap "page-NN" of the paging batch in seen[NN]. */
static void see_page_item(const cJSON *it, int seen[25]) {
  int i = -1;
  assert_int_equal(sscanf(cp_json_strv(it, "metadata", "name", NULL), "page-%d", &i), 1);
  assert_true(i >= 0 && i < 25);
  seen[i]++;
}

/* The continue token of list (deleted) in place of cont (freed); NULL after the last page. */
static char *next_page(cJSON *list, char *cont) {
  free(cont);
  const char *c = cp_json_strv(list, "metadata", "continue", NULL);
  char *next = c && *c ? strdup(c) : NULL;
  cJSON_Delete(list);
  return next;
}

static void pagination_sees_every_object_once(void **state) {
  (void)state;
  char name[32];
  for (int i = 0; i < 25; i++) {
    snprintf(name, sizeof name, "page-%02d", i);
    create_cm(kc, name, "x", "paging");
  }
  int seen[25] = {0}, pages = 0, total = 0;
  char *cont = NULL;
  cp_status_t st;
  do {
    cp_list_opts_t lo = {.label_selector = "batch=paging", .limit = 10, .continue_token = cont};
    cJSON *list = NULL;
    assert_int_equal(cp_kube_list(kc, &CP_GVR_CONFIGMAPS, ns, &lo, &list, &st), 0);
    pages++;
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(list, "items")) {
      see_page_item(it, seen);
      total++;
    }
    cont = next_page(list, cont);
  } while (cont && pages < 10);
  assert_int_equal(pages, 3);
  assert_int_equal(total, 25);
  for (int i = 0; i < 25; i++)
    assert_int_equal(seen[i], 1);

  /* list_all follows continue itself and returns the list's resourceVersion. */
  cJSON *items = NULL;
  char *rv = NULL;
  cp_list_opts_t lo = {.label_selector = "batch=paging", .limit = 10};
  assert_int_equal(cp_kube_list_all(kc, &CP_GVR_CONFIGMAPS, ns, &lo, &items, &rv, &st), 0);
  assert_int_equal(cJSON_GetArraySize(items), 25);
  assert_non_null(rv);
  assert_true(strlen(rv) > 0);
  cJSON_Delete(items);
  free(rv);

  /* Field selectors are escaped and honoured. */
  lo = (cp_list_opts_t){.field_selector = "metadata.name=page-07"};
  assert_int_equal(cp_kube_list_all(kc, &CP_GVR_CONFIGMAPS, ns, &lo, &items, NULL, &st), 0);
  assert_int_equal(cJSON_GetArraySize(items), 1);
  cJSON_Delete(items);
}

typedef struct each_seen_s {
  int seen[25];
  int total;
  int stop_at; /* return CP_EINTERNAL for item number stop_at (1-based), 0 = never */
} each_seen_t;

static int each_item(const char *text, size_t len, void *ud) {
  each_seen_t *e = ud;
  cJSON *it = cJSON_ParseWithLength(text, len);
  assert_non_null(it);
  see_page_item(it, e->seen);
  cJSON_Delete(it);
  return ++e->total == e->stop_at ? CP_EINTERNAL : 0;
}

/* list_each hands over each item as it arrives; the List comes back without them. A
 * client whose max_body is far below a page still lists it: the cap is per item. */
static void list_each_streams_items(void **state) {
  (void)state;
  cp_kube_client_t *small = NULL;
  cp_kube_client_opts_t o = {.max_body = 2048};
  assert_int_equal(cp_kube_client_new(cfg, &o, &small), 0);
  each_seen_t e = {0};
  char *cont = NULL;
  int pages = 0;
  cp_status_t st;
  do {
    cp_list_opts_t lo = {.label_selector = "batch=paging", .limit = 10, .continue_token = cont};
    cJSON *list = NULL;
    assert_int_equal(
        cp_kube_list_each(small, &CP_GVR_CONFIGMAPS, ns, &lo, NULL, each_item, &e, &list, &st), 0);
    pages++;
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(list, "items")), 0);
    const char *rv = cp_json_strv(list, "metadata", "resourceVersion", NULL);
    assert_true(rv && *rv);
    cont = next_page(list, cont);
  } while (cont && pages < 10);
  assert_int_equal(pages, 3);
  assert_int_equal(e.total, 25);
  for (int i = 0; i < 25; i++)
    assert_int_equal(e.seen[i], 1);

  /* The callback's error ends the list and is returned. */
  each_seen_t stop = {.stop_at = 3};
  cJSON *list = (cJSON *)&o;
  cp_list_opts_t lo = {.label_selector = "batch=paging"};
  assert_int_equal(
      cp_kube_list_each(kc, &CP_GVR_CONFIGMAPS, ns, &lo, NULL, each_item, &stop, &list, &st),
      CP_EINTERNAL);
  assert_int_equal(stop.total, 3);
  assert_null(list);

  /* An item bigger than max_body is refused, not truncated. */
  cp_kube_client_t *tiny = NULL;
  o.max_body = 64;
  assert_int_equal(cp_kube_client_new(cfg, &o, &tiny), 0);
  each_seen_t none = {0};
  assert_int_equal(
      cp_kube_list_each(tiny, &CP_GVR_CONFIGMAPS, ns, &lo, NULL, each_item, &none, &list, &st),
      CP_ETOOBIG);
  assert_int_equal(none.total, 0);
  cp_kube_client_free(tiny);
  cp_kube_client_free(small);
}

static void body_cap_is_enforced(void **state) {
  (void)state;
  cp_kube_client_t *small = NULL;
  cp_kube_client_opts_t o = {.max_body = 2048};
  assert_int_equal(cp_kube_client_new(cfg, &o, &small), 0);
  cJSON *items = (cJSON *)&o;
  cp_status_t st;
  cp_list_opts_t lo = {.label_selector = "batch=paging"};
  assert_int_equal(cp_kube_list_all(small, &CP_GVR_CONFIGMAPS, ns, &lo, &items, NULL, &st),
                   CP_ETOOBIG);
  assert_ptr_equal(items, (cJSON *)&o);
  assert_non_null(strstr(st.message, "2048"));
  /* Paging keeps each response small, but the whole list is capped the same way. */
  lo.limit = 2;
  assert_int_equal(cp_kube_list_all(small, &CP_GVR_CONFIGMAPS, ns, &lo, &items, NULL, &st),
                   CP_ETOOBIG);
  cp_kube_client_free(small);
}

/* ---- server-side apply ---- */

static bool manager_owns(const cJSON *obj, const char *manager, const char *field) {
  const cJSON *mf;
  cJSON_ArrayForEach(mf, cp_json_getv(obj, "metadata", "managedFields", NULL)) {
    const char *m = cp_json_strv(mf, "manager", NULL);
    if (m && !strcmp(m, manager) && cp_json_getv(mf, "fieldsV1", "f:data", field, NULL))
      return true;
  }
  return false;
}

static void server_side_apply_conflict_and_force(void **state) {
  (void)state;
  cp_status_t st;
  cJSON *a = configmap("ssa", "from-a", NULL), *out = NULL;
  assert_int_equal(
      cp_kube_apply(kc, &CP_GVR_CONFIGMAPS, ns, "ssa", NULL, a, "mgr-a", false, &out, &st), 0);
  assert_true(manager_owns(out, "mgr-a", "f:k"));
  cJSON_Delete(out);
  /* Applying again unchanged is fine (idempotent). */
  assert_int_equal(
      cp_kube_apply(kc, &CP_GVR_CONFIGMAPS, ns, "ssa", NULL, a, "mgr-a", false, NULL, &st), 0);

  cJSON *b = configmap("ssa", "from-b", NULL);
  assert_int_equal(
      cp_kube_apply(kc, &CP_GVR_CONFIGMAPS, ns, "ssa", NULL, b, "mgr-b", false, NULL, &st),
      CP_ECONFLICT);
  assert_int_equal(st.http_code, 409);
  assert_string_equal(st.reason, "Conflict");
  assert_non_null(strstr(st.message, "mgr-a")); /* names who owns the field */
  assert_non_null(strstr(st.message, ".data.k"));

  out = NULL;
  assert_int_equal(
      cp_kube_apply(kc, &CP_GVR_CONFIGMAPS, ns, "ssa", NULL, b, "mgr-b", true, &out, &st), 0);
  assert_string_equal(cp_json_strv(out, "data", "k", NULL), "from-b");
  assert_true(manager_owns(out, "mgr-b", "f:k"));
  assert_false(manager_owns(out, "mgr-a", "f:k"));
  cJSON_Delete(out);
  cJSON_Delete(a);
  cJSON_Delete(b);

  assert_int_equal(
      cp_kube_apply(kc, &CP_GVR_CONFIGMAPS, ns, "ssa", NULL, NULL, "mgr-a", false, NULL, &st),
      CP_EINVAL);
}

/* ---- subresources ---- */

static void status_subresource(void **state) {
  (void)state;
  cp_status_t st;
  cJSON *o = NULL;
  assert_int_equal(cp_kube_get(kc, &CP_GVR_NAMESPACES, NULL, ns, "status", &o, &st), 0);
  assert_string_equal(cp_json_strv(o, "status", "phase", NULL), "Active");
  cJSON_Delete(o);

  /* A condition applied through namespaces/<ns>/status with its own field manager. */
  cJSON *patch = parse("{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{},"
                       "\"status\":{\"conditions\":[{\"type\":\"ClawplaneE2E\",\"status\":"
                       "\"True\",\"reason\":\"Testing\",\"message\":\"status via SSA\"}]}}");
  cJSON_AddStringToObject(cJSON_GetObjectItemCaseSensitive(patch, "metadata"), "name", ns);
  assert_int_equal(cp_kube_apply(kc, &CP_GVR_NAMESPACES, NULL, ns, "status", patch,
                                 "clawplane-e2e-status", true, &o, &st),
                   0);
  const cJSON *c;
  bool found = false;
  cJSON_ArrayForEach(c, cp_json_getv(o, "status", "conditions", NULL)) {
    const char *t = cp_json_strv(c, "type", NULL);
    found |= t && !strcmp(t, "ClawplaneE2E");
  }
  assert_true(found);
  cJSON_Delete(o);
  cJSON_Delete(patch);

  /* ConfigMaps have no status subresource: the path is really used. */
  assert_int_equal(cp_kube_get(kc, &CP_GVR_CONFIGMAPS, ns, "ssa", "status", NULL, &st),
                   CP_ENOTFOUND);
}

/* ---- delete preconditions ---- */

static void delete_with_preconditions(void **state) {
  (void)state;
  create_cm(kc, "precond", "x", NULL);
  cp_status_t st;
  cJSON *o = NULL;
  assert_int_equal(cp_kube_get(kc, &CP_GVR_CONFIGMAPS, ns, "precond", NULL, &o, &st), 0);
  char uid[64], rv[64];
  snprintf(uid, sizeof uid, "%s", cp_json_strv(o, "metadata", "uid", NULL));
  snprintf(rv, sizeof rv, "%s", cp_json_strv(o, "metadata", "resourceVersion", NULL));
  cJSON_Delete(o);

  cp_delete_opts_t d = {.uid = "00000000-0000-0000-0000-000000000000"};
  assert_int_equal(cp_kube_delete(kc, &CP_GVR_CONFIGMAPS, ns, "precond", &d, NULL, &st),
                   CP_ECONFLICT);
  assert_int_equal(st.http_code, 409);
  assert_non_null(strstr(st.message, "UID"));
  /* Right preconditions, Foreground: the server keeps the object (with the
   * foregroundDeletion finalizer) until the garbage collector is done, then it is gone. */
  d = (cp_delete_opts_t){.uid = uid,
                         .resource_version = rv,
                         .propagation_policy = "Foreground",
                         .grace_period_seconds = CP_DELETE_NOW};
  assert_int_equal(cp_kube_delete(kc, &CP_GVR_CONFIGMAPS, ns, "precond", &d, &o, &st), 0);
  assert_string_equal(
      cJSON_GetArrayItem(cp_json_getv(o, "metadata", "finalizers", NULL), 0)->valuestring,
      "foregroundDeletion");
  assert_non_null(cp_json_strv(o, "metadata", "deletionTimestamp", NULL));
  cJSON_Delete(o);
  int rc = 0;
  for (int i = 0; i < 100 && rc == 0; i++, sleep_ms(100))
    rc = cp_kube_get(kc, &CP_GVR_CONFIGMAPS, ns, "precond", NULL, NULL, &st);
  assert_int_equal(rc, CP_ENOTFOUND);
}

/* ---- watch ---- */

typedef struct seen_s {
  int n;
  cp_watch_type_t type[32];
  char name[32][64];
  char rv[32][32];
  bool initial_end[32];
  double at[32];
  double t0;
  cp_watch_type_t stop_on; /* return 1 on this type; CP_WATCH_ERROR = never */
  const char *stop_name;   /* ... and (if set) this name */
} seen_t;

static int record(cp_watch_event_t *ev, void *ud) {
  seen_t *s = ud;
  if (s->n >= 32)
    return CP_ETOOBIG;
  int i = s->n++;
  const char *name = cp_json_strv(ev->object, "metadata", "name", NULL);
  s->type[i] = ev->type;
  snprintf(s->name[i], sizeof s->name[i], "%s", name ? name : "");
  snprintf(s->rv[i], sizeof s->rv[i], "%s", ev->resource_version);
  const char *end =
      cp_json_strv(ev->object, "metadata", "annotations", "k8s.io/initial-events-end", NULL);
  s->initial_end[i] = end && !strcmp(end, "true");
  s->at[i] = now_s() - s->t0;
  if (ev->type == s->stop_on && (!s->stop_name || !strcmp(s->stop_name, s->name[i])))
    return 1;
  return 0;
}

typedef struct writer_s {
  long delay_ms;
  const char *unrelated; /* name of the configmap written last */
  int rc;
} writer_t;

/* Creates, changes and deletes "w1", then writes "unrelated" (which the watch filters out)
 * so the watch cache moves past the watcher's last event. Its own client: one per thread. */
static void *writer(void *arg) {
  writer_t *w = arg;
  cp_kube_client_t *c = NULL;
  cp_status_t st;
  sleep_ms(w->delay_ms);
  cJSON *o = configmap("w1", "1", NULL);
  w->rc = cp_kube_client_new(cfg, NULL, &c);
  if (!w->rc)
    w->rc = cp_kube_create(c, &CP_GVR_CONFIGMAPS, ns, o, NULL, &st);
  if (!w->rc)
    w->rc = cp_kube_patch(c, &CP_GVR_CONFIGMAPS, ns, "w1", NULL, CP_PATCH_MERGE,
                          "{\"data\":{\"k\":\"2\"}}", NULL, &st);
  if (!w->rc)
    w->rc = cp_kube_delete(c, &CP_GVR_CONFIGMAPS, ns, "w1", NULL, NULL, &st);
  cJSON_Delete(o);
  if (!w->rc) {
    o = configmap(w->unrelated, "1", NULL);
    w->rc = cp_kube_create(c, &CP_GVR_CONFIGMAPS, ns, o, NULL, &st);
    cJSON_Delete(o);
  }
  cp_kube_client_free(c);
  return NULL;
}

static void list_rv(const cp_gvr_t *gvr, char *rv) {
  cp_status_t st;
  cJSON *items = NULL;
  char *v = NULL;
  assert_int_equal(cp_kube_list_all(kc, gvr, ns, NULL, &items, &v, &st), 0);
  snprintf(rv, CP_KUBE_RV_MAX, "%s", v);
  free(v);
  cJSON_Delete(items);
}

static void watch_sees_events_in_order_then_bookmark(void **state) {
  (void)state;
  char rv[CP_KUBE_RV_MAX];
  list_rv(&CP_GVR_CONFIGMAPS, rv);
  seen_t s = {.t0 = now_s(), .stop_on = CP_WATCH_ERROR};
  writer_t w = {.delay_ms = 500, .unrelated = "unrelated-1"};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, writer, &w), 0);
  cp_watch_opts_t o = {.field_selector = "metadata.name=w1", .timeout_seconds = 10};
  cp_status_t st;
  int rc = cp_kube_watch(kc, &CP_GVR_CONFIGMAPS, ns, &o, rv, record, &s, &st);
  pthread_join(th, NULL);
  double took = now_s() - s.t0;
  assert_int_equal(w.rc, 0);
  if (rc)
    fail_msg("watch: %s (%ld %s)", cp_errname(rc), st.http_code, st.message);
  for (int i = 0; i < s.n; i++)
    print_message("  %5.2fs %d %s rv=%s\n", s.at[i], s.type[i], s.name[i], s.rv[i]);
  assert_true(s.n >= 4);
  assert_int_equal(s.type[0], CP_WATCH_ADDED);
  assert_int_equal(s.type[1], CP_WATCH_MODIFIED);
  assert_int_equal(s.type[2], CP_WATCH_DELETED);
  for (int i = 0; i < 3; i++)
    assert_string_equal(s.name[i], "w1");
  int last = s.n - 1;
  assert_int_equal(s.type[last], CP_WATCH_BOOKMARK);
  assert_string_not_equal(s.rv[last], s.rv[2]); /* moved past the DELETE */
  assert_string_equal(rv, s.rv[last]);          /* and that is where to resume */
  assert_true(took >= 9 && took < 15);          /* the server ended it at timeoutSeconds */
}

static void watch_initial_events_end_with_bookmark(void **state) {
  (void)state;
  char rv[CP_KUBE_RV_MAX] = "";
  seen_t s = {.t0 = now_s(), .stop_on = CP_WATCH_BOOKMARK};
  cp_watch_opts_t o = {
      .label_selector = "batch=paging", .timeout_seconds = 30, .send_initial_events = true};
  cp_status_t st;
  assert_int_equal(cp_kube_watch(kc, &CP_GVR_CONFIGMAPS, ns, &o, rv, record, &s, &st),
                   CP_ECANCELED);
  assert_int_equal(s.n, 26); /* the 25 paging objects, then the bookmark */
  for (int i = 0; i < 25; i++)
    assert_int_equal(s.type[i], CP_WATCH_ADDED);
  assert_int_equal(s.type[25], CP_WATCH_BOOKMARK);
  assert_true(s.initial_end[25]);
  assert_string_equal(rv, s.rv[25]);
  assert_true(s.at[25] < 5);
}

static void watch_loop_reconnects_and_stops(void **state) {
  (void)state;
  /* Streams of 1 s end normally; the loop resumes from rv and still sees w1 appear. */
  char rv[CP_KUBE_RV_MAX];
  list_rv(&CP_GVR_CONFIGMAPS, rv);
  seen_t s = {.t0 = now_s(), .stop_on = CP_WATCH_DELETED, .stop_name = "w1"};
  writer_t w = {.delay_ms = 2500, .unrelated = "unrelated-2"};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, writer, &w), 0);
  cp_watch_opts_t o = {.field_selector = "metadata.name=w1", .timeout_seconds = 1};
  cp_status_t st;
  int rc = cp_kube_watch_loop(kc, &CP_GVR_CONFIGMAPS, ns, &o, rv, record, &s, &st);
  pthread_join(th, NULL);
  assert_int_equal(w.rc, 0);
  assert_int_equal(rc, CP_ECANCELED);
  assert_true(s.n >= 3);
  assert_int_equal(s.type[s.n - 3], CP_WATCH_ADDED);
  assert_int_equal(s.type[s.n - 2], CP_WATCH_MODIFIED);
  assert_int_equal(s.type[s.n - 1], CP_WATCH_DELETED);
  assert_true(s.at[0] > 2); /* after at least one reconnect */

  /* The stop flag ends a loop that would otherwise run forever. */
  atomic_bool stop = false;
  seen_t none = {.t0 = now_s(), .stop_on = CP_WATCH_ERROR};
  o = (cp_watch_opts_t){
      .field_selector = "metadata.name=never", .timeout_seconds = 30, .stop = &stop};
  atomic_store(&stop, true);
  assert_int_equal(cp_kube_watch_loop(kc, &CP_GVR_CONFIGMAPS, ns, &o, rv, record, &none, &st),
                   CP_ECANCELED);
}

static void *stopper(void *arg) {
  sleep_ms(1500);
  atomic_store((atomic_bool *)arg, true);
  return NULL;
}

static void watch_stop_flag_ends_stream(void **state) {
  (void)state;
  char rv[CP_KUBE_RV_MAX];
  list_rv(&CP_GVR_CONFIGMAPS, rv);
  atomic_bool stop = false;
  seen_t s = {.t0 = now_s(), .stop_on = CP_WATCH_ERROR};
  cp_watch_opts_t o = {
      .field_selector = "metadata.name=never", .timeout_seconds = 60, .stop = &stop};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, stopper, &stop), 0);
  cp_status_t st;
  double t0 = now_s();
  assert_int_equal(cp_kube_watch(kc, &CP_GVR_CONFIGMAPS, ns, &o, rv, record, &s, &st),
                   CP_ECANCELED);
  pthread_join(th, NULL);
  double took = now_s() - t0;
  print_message("  stop flag honoured after %.2fs\n", took);
  assert_true(took >= 1.4 && took < 4);
}

/* ---- 410 Gone ---- */

static void ensure_probe_crd(void) {
  cJSON *crd = parse(
      "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
      "\"metadata\":{\"name\":\"" PROBE_CRD "\"},\"spec\":{\"group\":\"" PROBE_GROUP "\","
      "\"names\":{\"plural\":\"watchprobes\",\"singular\":\"watchprobe\",\"kind\":\"WatchProbe\","
      "\"listKind\":\"WatchProbeList\"},\"scope\":\"Namespaced\",\"versions\":[{\"name\":\"v1\","
      "\"served\":true,\"storage\":true,\"schema\":{\"openAPIV3Schema\":{\"type\":\"object\","
      "\"x-kubernetes-preserve-unknown-fields\":true}}}]}}");
  cp_status_t st;
  int rc =
      cp_kube_apply(kc, &CP_GVR_CRDS, NULL, PROBE_CRD, NULL, crd, "clawplane-e2e", true, NULL, &st);
  cJSON_Delete(crd);
  if (rc)
    fail_msg("apply CRD: %s %s", cp_errname(rc), st.message);
  /* Served once a list works. */
  for (int i = 0; i < 100; i++) {
    cJSON *l = NULL;
    if (cp_kube_list(kc, &probes, ns, NULL, &l, &st) == 0) {
      cJSON_Delete(l);
      return;
    }
    sleep_ms(100);
  }
  fail_msg("CRD %s not served after 10s", PROBE_CRD);
}

static void stale_watch_is_gone_and_relist_recovers(void **state) {
  (void)state;
  ensure_probe_crd();
  cp_status_t st;
  cJSON *obj = parse("{\"apiVersion\":\"" PROBE_GROUP "/v1\",\"kind\":\"WatchProbe\","
                     "\"metadata\":{\"name\":\"p1\"},\"spec\":{\"x\":1}}");
  assert_int_equal(cp_kube_create(kc, &probes, ns, obj, NULL, &st), 0);
  cJSON_Delete(obj);

  char rv[CP_KUBE_RV_MAX] = "1";
  seen_t s = {.t0 = now_s(), .stop_on = CP_WATCH_BOOKMARK};
  cp_watch_opts_t o = {.timeout_seconds = 5};
  assert_int_equal(cp_kube_watch(kc, &probes, ns, &o, rv, record, &s, &st), CP_EGONE);
  assert_int_equal(st.http_code, 410);
  assert_string_equal(st.reason, "Expired");
  print_message("  410: %s\n", st.message);
  assert_string_equal(rv, "1"); /* nothing accepted */

  /* The loop gives up at once with the same answer: the caller must relist. */
  double t0 = now_s();
  assert_int_equal(cp_kube_watch_loop(kc, &probes, ns, &o, rv, record, &s, &st), CP_EGONE);
  assert_true(now_s() - t0 < 3);

  /* Relist, then watch from the list's resourceVersion: a normal stream. */
  cJSON *items = NULL;
  char *lrv = NULL;
  assert_int_equal(cp_kube_list_all(kc, &probes, ns, NULL, &items, &lrv, &st), 0);
  assert_int_equal(cJSON_GetArraySize(items), 1);
  snprintf(rv, sizeof rv, "%s", lrv);
  free(lrv);
  cJSON_Delete(items);
  o.timeout_seconds = 2;
  seen_t s2 = {.t0 = now_s(), .stop_on = CP_WATCH_ERROR};
  assert_int_equal(cp_kube_watch(kc, &probes, ns, &o, rv, record, &s2, &st), 0);
}

/* ---- credentials and TLS ---- */

static void wrong_ca_is_tls_error(void **state) {
  (void)state;
  const char *data = getenv("CP_TEST_DATA");
  char path[4096];
  snprintf(path, sizeof path, "%s/kube/wrong-ca.pem", data ? data : "test/data");
  size_t len = 0;
  char *pem = cp_test_read_file(path, &len);
  assert_non_null(pem);
  cp_kubeconfig_t bad = *cfg; /* shallow copy: only the CA differs */
  bad.ca = (cp_blob_t){pem, len};
  bad.insecure_skip_tls_verify = false;
  cp_kube_client_t *c = NULL;
  assert_int_equal(cp_kube_client_new(&bad, NULL, &c), 0);
  cp_status_t st;
  double t0 = now_s();
  assert_int_equal(cp_kube_get(c, &CP_GVR_NAMESPACES, NULL, ns, NULL, NULL, &st), CP_ETLS);
  double took = now_s() - t0;
  print_message("  wrong CA: %.3fs: %s\n", took, st.message);
  assert_true(took < 3);
  assert_int_equal(st.http_code, 0);
  assert_true(strlen(st.message) > 0);
  cp_kube_client_free(c);
  free(pem);
}

static void tls_server_name_is_used_for_verification(void **state) {
  (void)state;
  if (cfg->insecure_skip_tls_verify)
    skip();
  cp_kubeconfig_t alt = *cfg;
  cp_kube_client_t *c = NULL;
  cp_status_t st;
  /* A name the apiserver certificate does not carry fails verification... */
  alt.tls_server_name = "wrong-name.invalid";
  assert_int_equal(cp_kube_client_new(&alt, NULL, &c), 0);
  assert_int_equal(cp_kube_get(c, &CP_GVR_NAMESPACES, NULL, ns, NULL, NULL, &st), CP_ETLS);
  cp_kube_client_free(c);
  /* ...while the in-cluster name every apiserver certificate carries works, although the
   * connection still goes to the kubeconfig's server address. */
  alt.tls_server_name = "kubernetes.default.svc";
  assert_int_equal(cp_kube_client_new(&alt, NULL, &c), 0);
  int rc = cp_kube_get(c, &CP_GVR_NAMESPACES, NULL, ns, NULL, NULL, &st);
  if (rc)
    fail_msg("with tls_server_name: %s %s", cp_errname(rc), st.message);
  cp_kube_client_free(c);
}

static void bad_token_is_unauthorized(void **state) {
  (void)state;
  cp_kubeconfig_t bad = *cfg;
  bad.client_cert = (cp_blob_t){0};
  bad.client_key = (cp_blob_t){0};
  bad.token = "bogus";
  bad.token_file = NULL;
  cp_kube_client_t *c = NULL;
  assert_int_equal(cp_kube_client_new(&bad, NULL, &c), 0);
  cp_status_t st;
  assert_int_equal(cp_kube_get(c, &CP_GVR_NAMESPACES, NULL, ns, NULL, NULL, &st), CP_EUNAUTHORIZED);
  assert_int_equal(st.http_code, 401);
  assert_null(strstr(st.message, "bogus"));
  cp_kube_client_free(c);
}

static void write_file(const char *path, const char *s) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  assert_int_equal(fputs(s, f) >= 0, 1);
  assert_int_equal(fclose(f), 0);
}

static void token_file_is_reread_when_rotated(void **state) {
  (void)state;
  cp_status_t st;
  cJSON *sa = parse("{\"apiVersion\":\"v1\",\"kind\":\"ServiceAccount\","
                    "\"metadata\":{\"name\":\"rotator\"}}");
  const cp_gvr_t sas = {"", "v1", "serviceaccounts", true};
  assert_int_equal(cp_kube_create(kc, &sas, ns, sa, NULL, &st), 0);
  cJSON_Delete(sa);
  /* TokenRequest: POST serviceaccounts/rotator/token, through the generic call. */
  cp_buf_t path;
  cp_buf_init(&path, 1024);
  assert_int_equal(cp_kube_path(&path, &sas, ns, "rotator", "token"), 0);
  cJSON *tr = NULL;
  int rc = cp_kube_request(kc, "POST", path.data, NULL, "application/json",
                           "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":"
                           "\"TokenRequest\",\"spec\":{\"expirationSeconds\":600}}",
                           &tr, &st);
  cp_buf_free(&path);
  if (rc)
    fail_msg("TokenRequest: %s %s", cp_errname(rc), st.message);
  const char *token = cp_json_strv(tr, "status", "token", NULL);
  assert_non_null(token);

  char dir[] = "/tmp/cp-e2e-token-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char file[64];
  snprintf(file, sizeof file, "%s/token", dir);
  write_file(file, "bogus\n");

  cp_kubeconfig_t alt = *cfg;
  alt.client_cert = (cp_blob_t){0};
  alt.client_key = (cp_blob_t){0};
  alt.token = NULL;
  alt.token_file = file;
  cp_kube_client_t *c = NULL;
  assert_int_equal(cp_kube_client_new(&alt, NULL, &c), 0);
  /* Who am I: any authenticated identity may ask. */
  static const char review[] = "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":"
                               "\"SelfSubjectReview\"}";
  const char *ssr = "/apis/authentication.k8s.io/v1/selfsubjectreviews";
  rc = cp_kube_request(c, "POST", ssr, NULL, "application/json", review, NULL, &st);
  if (rc != CP_EUNAUTHORIZED)
    fail_msg("bogus token file: %s %ld %s", cp_errname(rc), st.http_code, st.message);

  /* Rotate: the same client picks the new file content up on its next call. */
  char *line = malloc(strlen(token) + 2);
  assert_non_null(line);
  memcpy(line, token, strlen(token));
  memcpy(line + strlen(token), "\n", 2);
  write_file(file, line);
  explicit_bzero(line, strlen(line));
  free(line);
  cJSON *who = NULL;
  rc = cp_kube_request(c, "POST", ssr, NULL, "application/json", review, &who, &st);
  if (rc)
    fail_msg("after rotation: %s %ld %s", cp_errname(rc), st.http_code, st.message);
  char want[128];
  snprintf(want, sizeof want, "system:serviceaccount:%s:rotator", ns);
  assert_string_equal(cp_json_strv(who, "status", "userInfo", "username", NULL), want);
  /* Authenticated but not authorized: 403, not 401. */
  assert_int_equal(cp_kube_get(c, &CP_GVR_CONFIGMAPS, ns, "ssa", NULL, NULL, &st), CP_EFORBIDDEN);
  assert_int_equal(st.http_code, 403);

  cJSON_Delete(who);
  cJSON_Delete(tr);
  cp_kube_client_free(c);
  unlink(file);
  rmdir(dir);
}

/* ---- metrics ---- */

/* The value of the series whose line starts with prefix, or -1 when there is none. */
static double series(cp_metrics_t *reg, const char *prefix) {
  cp_buf_t b;
  cp_buf_init(&b, 1 << 20);
  assert_int_equal(cp_metrics_render(reg, &b), 0);
  double v = -1;
  for (const char *p = b.data; p && *p;) {
    if (strncmp(p, prefix, strlen(prefix)) == 0) {
      v = strtod(p + strlen(prefix), NULL);
      break;
    }
    const char *nl = strchr(p, '\n');
    p = nl ? nl + 1 : "";
  }
  cp_buf_free(&b);
  return v;
}

/* A client of its own whose requests are counted in a new registry (*reg). */
static cp_kube_client_t *counted_client(cp_metrics_t **reg) {
  assert_int_equal(cp_metrics_new(reg), 0);
  cp_kube_client_t *c;
  cp_kube_client_opts_t o = {.metrics = *reg};
  assert_int_equal(cp_kube_client_new(cfg, &o, &c), 0);
  return c;
}

/* How many requests with verb reg's rest_client_request_duration_seconds observed. */
static double durations(cp_metrics_t *reg, const char *verb) {
  char want[512];
  snprintf(want, sizeof want,
           "rest_client_request_duration_seconds_count{host=\"%s\",verb=\"%s\"} ",
           strstr(cfg->server, "://") + 3, verb);
  return series(reg, want);
}

static void requests_counted_with_the_codes_the_server_sent(void **state) {
  (void)state;
  cp_metrics_t *reg;
  cp_kube_client_t *c = counted_client(&reg);
  const char *host = strstr(cfg->server, "://") + 3;
  char want[512];
#define REQS(code, method)                                                                         \
  (snprintf(want, sizeof want,                                                                     \
            "rest_client_requests_total{code=\"%s\",host=\"%s\",method=\"%s\"} ", code, host,      \
            method),                                                                               \
   series(reg, want))
  cp_status_t st;
  cJSON *cm = configmap("counted", "v", NULL);
  assert_int_equal(cp_kube_create(c, &CP_GVR_CONFIGMAPS, ns, cm, NULL, &st), 0);
  assert_int_equal(cp_kube_create(c, &CP_GVR_CONFIGMAPS, ns, cm, NULL, &st), CP_ECONFLICT);
  cJSON_Delete(cm);
  assert_int_equal(cp_kube_get(c, &CP_GVR_CONFIGMAPS, ns, "counted", NULL, NULL, &st), 0);
  assert_int_equal(cp_kube_get(c, &CP_GVR_CONFIGMAPS, ns, "absent", NULL, NULL, &st), CP_ENOTFOUND);
  assert_true(REQS("201", "POST") == 1);
  assert_true(REQS("409", "POST") == 1);
  assert_true(REQS("200", "GET") == 1);
  assert_true(REQS("404", "GET") == 1);
  assert_true(durations(reg, "GET") == 2);
  /* A watch counts once, as its answer starts, and has no duration. */
  char rv[CP_KUBE_RV_MAX];
  list_rv(&CP_GVR_CONFIGMAPS, rv);
  seen_t s = {.t0 = now_s(), .stop_on = CP_WATCH_ERROR};
  cp_watch_opts_t wo = {.field_selector = "metadata.name=nothing", .timeout_seconds = 1};
  assert_int_equal(cp_kube_watch(c, &CP_GVR_CONFIGMAPS, ns, &wo, rv, record, &s, &st), 0);
  assert_true(REQS("200", "GET") == 2);
  assert_true(durations(reg, "GET") == 2);
#undef REQS
  cp_kube_client_free(c);
  cp_metrics_free(reg);
}

/* ---- batches ---- */

/* Established TCP connections this process has to the API server's port. */
static int api_connections(void) {
  const char *p = strrchr(cfg->server, ':');
  unsigned port = p ? (unsigned)strtoul(p + 1, NULL, 10) : 443;
  unsigned long inodes[256];
  size_t n = 0;
  const char *tables[] = {"/proc/self/net/tcp", "/proc/self/net/tcp6"};
  for (size_t t = 0; t < 2; t++) {
    FILE *f = fopen(tables[t], "r");
    char line[512], rem[64];
    unsigned st;
    unsigned long inode;
    while (f && fgets(line, sizeof line, f)) {
      if (sscanf(line, " %*s %*s %63s %x %*s %*s %*s %*s %*s %lu", rem, &st, &inode) == 3 &&
          st == 1 && strrchr(rem, ':') && strtoul(strrchr(rem, ':') + 1, NULL, 16) == port &&
          n < 256)
        inodes[n++] = inode;
    }
    if (f)
      fclose(f);
  }
  int mine = 0;
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL) {
    char path[300], link[64];
    snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
    ssize_t len = readlink(path, link, sizeof link - 1);
    unsigned long inode;
    if (len <= 0)
      continue;
    link[len] = '\0';
    if (sscanf(link, "socket:[%lu]", &inode) != 1)
      continue;
    for (size_t i = 0; i < n; i++)
      mine += inodes[i] == inode;
  }
  if (d)
    closedir(d);
  return mine;
}

/* Eleven writes in one batch: nine applies, a create of a name that exists and one op
 * without its field manager. Each gets the single call's outcome, the others are not
 * stopped by the two failures, the first failure (in order) is returned, and all of it
 * travels on the client's one connection, which its single calls used before (seven
 * connections without multiplexing). */
static void batch_writes_at_once_on_one_connection(void **state) {
  (void)state;
  cp_metrics_t *reg;
  cp_kube_client_t *c = counted_client(&reg);
  create_cm(c, "b-taken", "old", NULL);
  int before = api_connections(); /* this client's and kc's */
  assert_true(before >= 1);
  enum { N = 11 };
  const cp_gvr_t cms = CP_GVR_CONFIGMAPS; /* outlives the loop, as ops point to it */
  cp_kube_op_t ops[N];
  cJSON *objs[N];
  char names[N][16];
  memset(ops, 0, sizeof ops);
  for (int i = 0; i < N; i++) {
    snprintf(names[i], sizeof names[i], i == 9 ? "b-taken" : "b-%d", i);
    objs[i] = configmap(names[i], "new", NULL);
    ops[i] = (cp_kube_op_t){.kind = i == 9 ? CP_KUBE_OP_CREATE : CP_KUBE_OP_APPLY,
                            .gvr = &cms,
                            .ns = ns,
                            .name = names[i],
                            .obj = objs[i],
                            .field_manager = i == 10 ? NULL : "mgr-batch",
                            .want_out = i == 0};
  }
  int rc = cp_kube_batch(c, ops, N);
  for (int i = 0; i < 9; i++) /* the ones that must succeed: say why not */
    if (ops[i].rc)
      fprintf(stderr, "  op %d (%s): %s, %ld %s\n", i, names[i], cp_errname(ops[i].rc),
              ops[i].st.http_code, ops[i].st.message);
  assert_int_equal(rc, CP_ECONFLICT);
  for (int i = 0; i < 9; i++)
    assert_int_equal(ops[i].rc, 0);
  assert_string_equal(cp_json_strv(ops[0].out, "data", "k", NULL), "new");
  assert_null(ops[1].out);
  assert_int_equal(ops[9].rc, CP_ECONFLICT);
  assert_string_equal(ops[9].st.reason, "AlreadyExists");
  assert_int_equal(ops[10].rc, CP_EINVAL);
  for (int i = 0; i < 10; i++) {
    cJSON *got = NULL;
    assert_int_equal(cp_kube_get(kc, &CP_GVR_CONFIGMAPS, ns, names[i], NULL, &got, NULL), 0);
    assert_string_equal(cp_json_strv(got, "data", "k", NULL), i == 9 ? "old" : "new");
    cJSON_Delete(got);
  }
  int after = api_connections();
  assert_int_equal(after, before);
  assert_true(durations(reg, "PATCH") == 9);

  /* Again, changed: the same connection carries it. */
  cJSON_Delete(ops[0].out);
  for (int i = 0; i < 9; i++)
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(objs[i], "data"), "k",
                              cJSON_CreateString("newer"));
  assert_int_equal(cp_kube_batch(c, ops, 9), 0);
  assert_int_equal(api_connections(), after);
  cJSON *got = NULL;
  assert_int_equal(cp_kube_get(kc, &CP_GVR_CONFIGMAPS, ns, "b-8", NULL, &got, NULL), 0);
  assert_string_equal(cp_json_strv(got, "data", "k", NULL), "newer");
  cJSON_Delete(got);
  cJSON_Delete(ops[0].out);
  assert_int_equal(cp_kube_batch(c, NULL, 0), 0);
  assert_int_equal(cp_kube_batch(NULL, ops, 1), CP_EINVAL);
  for (int i = 0; i < N; i++)
    cJSON_Delete(objs[i]);
  cp_kube_client_free(c);
  cp_metrics_free(reg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(configmap_crud),
      cmocka_unit_test(pagination_sees_every_object_once),
      cmocka_unit_test(list_each_streams_items),
      cmocka_unit_test(body_cap_is_enforced),
      cmocka_unit_test(server_side_apply_conflict_and_force),
      cmocka_unit_test(status_subresource),
      cmocka_unit_test(delete_with_preconditions),
      cmocka_unit_test(watch_sees_events_in_order_then_bookmark),
      cmocka_unit_test(watch_initial_events_end_with_bookmark),
      cmocka_unit_test(watch_loop_reconnects_and_stops),
      cmocka_unit_test(watch_stop_flag_ends_stream),
      cmocka_unit_test(stale_watch_is_gone_and_relist_recovers),
      cmocka_unit_test(wrong_ca_is_tls_error),
      cmocka_unit_test(tls_server_name_is_used_for_verification),
      cmocka_unit_test(bad_token_is_unauthorized),
      cmocka_unit_test(token_file_is_reread_when_rotated),
      cmocka_unit_test(requests_counted_with_the_codes_the_server_sent),
      cmocka_unit_test(batch_writes_at_once_on_one_connection),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
