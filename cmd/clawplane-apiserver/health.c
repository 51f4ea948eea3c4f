/* GET /api/v1/health: the platform as an administrator sees it, one entry per part.
 *
 * Each part is asked in one job on a worker, every probe bounded by a few seconds:
 * PostgreSQL (a ping), the controller (its leader-election Lease: who holds it and whether
 * it was renewed within its duration; --controller-lease), the model proxy (its /readyz
 * when --modelproxy-url is set, and the time of the last usage record it wrote), the
 * RuntimeProfiles (listed), and this apiserver's runtime cache (synced, runtimes by
 * phase). A part that cannot be asked is "unknown" with the reason, never an error of the
 * whole call: the page exists to show what is broken.
 */
#include "api.h"

#include "core/error.h"
#include "core/time.h"
#include "json/json.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEASE_GVR ((const cp_gvr_t){"coordination.k8s.io", "v1", "leases", true})

/* Adds {name, status, message} to arr and returns it (NULL on no memory). */
static cJSON *part(cJSON *arr, const char *name, const char *status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static cJSON *part(cJSON *arr, const char *name, const char *status, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  cJSON *p = cJSON_CreateObject();
  if (!p || !cJSON_AddStringToObject(p, "name", name) ||
      !cJSON_AddStringToObject(p, "status", status) ||
      !cJSON_AddStringToObject(p, "message", msg) || !cJSON_AddItemToArray(arr, p)) {
    cJSON_Delete(p);
    return NULL;
  }
  return p;
}

static void probe_db(api_worker_t *w, cJSON *arr) {
  cp_pg_error_t e = {0};
  int rc = cp_pg_ping(w->db, &e);
  if (rc != 0)
    part(arr, "postgresql", "down", "unreachable: %s", e.message[0] ? e.message : cp_strerror(rc));
  else
    part(arr, "postgresql", "ok", "reachable, schema migrated");
}

static void probe_controller(api_ctx_t *c, api_worker_t *w, cJSON *arr) {
  const char *ns = c->app->s.controller_lease_ns, *name = c->app->s.controller_lease_name;
  cp_status_t st = {0};
  cJSON *lease = NULL;
  int rc = cp_kube_get(w->kc, &LEASE_GVR, ns, name, NULL, &lease, &st);
  if (rc == CP_ENOTFOUND) {
    part(arr, "controller", "down", "no Lease %s/%s: no controller has been elected", ns, name);
    return;
  }
  if (rc != 0) {
    part(arr, "controller", "unknown", "cannot read the Lease %s/%s: %s", ns, name,
         st.message[0] ? st.message : cp_strerror(rc));
    return;
  }
  const char *holder = cp_json_strv(lease, "spec", "holderIdentity", NULL);
  double renewed = cp_time_parse_or(cp_json_strv(lease, "spec", "renewTime", NULL), 0);
  const cJSON *dur = cp_json_getv(lease, "spec", "leaseDurationSeconds", NULL);
  double d = cJSON_IsNumber(dur) ? dur->valuedouble : 15;
  double age = cp_time_now() - renewed;
  cJSON *p;
  if (!holder || !*holder || renewed <= 0)
    p = part(arr, "controller", "down", "the Lease %s/%s has no holder", ns, name);
  else if (age > d)
    p = part(arr, "controller", "down", "leader %s has not renewed its Lease for %.0f s", holder,
             age);
  else
    p = part(arr, "controller", "ok", "leader %s, Lease renewed %.0f s ago", holder,
             age < 0 ? 0 : age);
  if (p && holder)
    cJSON_AddStringToObject(p, "leader", holder);
  cJSON_Delete(lease);
}

static size_t discard(char *ptr, size_t size, size_t n, void *ud) {
  (void)ptr;
  (void)ud;
  return size * n;
}

static void probe_modelproxy(api_ctx_t *c, api_worker_t *w, cJSON *arr) {
  char last[64] = "no usage recorded yet";
  PGresult *r = NULL;
  cp_pg_error_t e = {0};
  if (cp_pg_exec(w->db,
                 "SELECT to_char(max(created_at) AT TIME ZONE 'UTC',"
                 " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM usage_records",
                 0, NULL, &r, &e) == 0 &&
      PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
    snprintf(last, sizeof last, "last usage record %s", PQgetvalue(r, 0, 0));
  PQclear(r);
  const char *url = c->app->s.modelproxy_url;
  if (!url) {
    part(arr, "modelproxy", "unknown", "not probed (--modelproxy-url is not set); %s", last);
    return;
  }
  char probe[512];
  snprintf(probe, sizeof probe, "%s/readyz", url);
  CURL *h = curl_easy_init();
  long code = 0;
  CURLcode cc = CURLE_FAILED_INIT;
  if (h) {
    curl_easy_setopt(h, CURLOPT_URL, probe);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 3000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    cc = curl_easy_perform(h);
    if (cc == CURLE_OK)
      curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(h);
  }
  if (cc != CURLE_OK)
    part(arr, "modelproxy", "down", "%s: %s; %s", probe, curl_easy_strerror(cc), last);
  else if (code != 200)
    part(arr, "modelproxy", "down", "%s answered %ld; %s", probe, code, last);
  else
    part(arr, "modelproxy", "ok", "ready; %s", last);
}

static void probe_profiles(api_worker_t *w, cJSON *arr) {
  cp_status_t st = {0};
  cJSON *items = NULL;
  int rc = cp_kube_list_all(w->kc, &API_PROFILE_GVR, NULL, NULL, &items, NULL, &st);
  if (rc != 0) {
    part(arr, "profiles", "unknown", "cannot list RuntimeProfiles: %s",
         st.message[0] ? st.message : cp_strerror(rc));
    return;
  }
  cJSON *names = cJSON_CreateArray();
  const cJSON *it;
  cJSON_ArrayForEach(it, items) {
    const char *n = cp_json_strv(it, "metadata", "name", NULL);
    if (n && names)
      cJSON_AddItemToArray(names, cJSON_CreateString(n));
  }
  int n = cJSON_GetArraySize(items);
  cJSON *p = n > 0 ? part(arr, "profiles", "ok", "%d RuntimeProfile(s)", n)
                   : part(arr, "profiles", "down", "no RuntimeProfile: runtimes cannot start");
  if (p && names)
    cJSON_AddItemToObject(p, "items", names);
  else
    cJSON_Delete(names);
  cJSON_Delete(items);
}

static void probe_runtimes(api_ctx_t *c, cJSON *arr) {
  if (!cp_informer_synced(c->app->informer)) {
    part(arr, "runtimes", "down", "the UserRuntime cache is not synced yet");
    return;
  }
  cp_obj_t **objs = NULL;
  size_t n = 0, running = 0, degraded = 0;
  if (cp_store_list(cp_informer_store(c->app->informer), NULL, NULL, &objs, &n) != 0) {
    part(arr, "runtimes", "unknown", "out of memory");
    return;
  }
  for (size_t i = 0; i < n; i++) {
    const char *ph = cp_json_strv(objs[i]->json, "status", "phase", NULL);
    running += ph && !strcmp(ph, "Running");
    degraded += ph && (!strcmp(ph, "Degraded") || !strcmp(ph, "Failed"));
    cp_obj_unref(objs[i]);
  }
  free(objs);
  part(arr, "runtimes", degraded ? "degraded" : "ok", "%zu runtime(s): %zu running, %zu degraded",
       n, running, degraded);
}

static void health_work(api_ctx_t *c, api_worker_t *w) {
  cJSON *arr = cJSON_CreateArray();
  c->out = cJSON_CreateObject();
  if (!arr || !c->out) {
    cJSON_Delete(arr);
    cp__api_fail(c, 500, "out of memory");
    return;
  }
  probe_db(w, arr);
  probe_controller(c, w, arr);
  probe_modelproxy(c, w, arr);
  probe_profiles(w, arr);
  probe_runtimes(c, arr);
  const char *overall = "ok";
  const cJSON *p;
  cJSON_ArrayForEach(p, arr) {
    const char *s = cp_json_strv(p, "status", NULL);
    if (s && strcmp(s, "ok") != 0 && strcmp(s, "unknown") != 0)
      overall = "degraded";
  }
  char now[32];
  cp_time_format(cp_time_now(), now, sizeof now);
  cJSON_AddStringToObject(c->out, "status", overall);
  cJSON_AddStringToObject(c->out, "checked_at", now);
  cJSON_AddItemToObject(c->out, "components", arr);
}

void cp__api_health(api_ctx_t *c) {
  cp__api_run(c, health_work);
}
