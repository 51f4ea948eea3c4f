/* One loop: try to acquire or renew every retry_period. The record we last saw and the
 * local monotonic time we first saw it decide expiry; renewTime in the Lease is for
 * humans and other tools. */
#include "kube/leader.h"
#include "core/error.h"
#include "json/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static atomic_int g_leader;

int cp_leader_is_leader(void) {
  return atomic_load(&g_leader);
}

static double mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void micro_time(char *out, size_t n) {
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  size_t k = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + k, n - k, ".%06ldZ", ts.tv_nsec / 1000);
}

static void sleep_s(double s, atomic_bool *stop) {
  double end = mono() + s;
  while (!atomic_load(stop) && mono() < end) {
    struct timespec d = {0, 100 * 1000 * 1000};
    nanosleep(&d, NULL);
  }
}

typedef struct observed_s {
  char *record; /* the spec we last saw, printed */
  double at;    /* when we first saw it */
} observed_t;

/* One attempt (or, with release, a hand-over). Returns 0 if we hold the lease afterwards,
 * 1 if someone else validly holds it, or a CP_E* error. */
static int try_acquire_or_renew(cp_kube_client_t *c, const cp_leader_opts_t *o, observed_t *obs,
                                int release, cp_status_t *st) {
  char now[40];
  micro_time(now, sizeof now);
  cJSON *lease = NULL;
  int rc = cp_kube_get(c, &CP_GVR_LEASES, o->namespace_, o->name, NULL, &lease, st);
  if (rc == CP_ENOTFOUND) {
    if (release)
      return 0;
    cJSON *nl = cJSON_CreateObject();
    cJSON_AddStringToObject(nl, "apiVersion", "coordination.k8s.io/v1");
    cJSON_AddStringToObject(nl, "kind", "Lease");
    cJSON *meta = cJSON_AddObjectToObject(nl, "metadata");
    cJSON_AddStringToObject(meta, "name", o->name);
    cJSON_AddStringToObject(meta, "namespace", o->namespace_);
    cJSON *spec = cJSON_AddObjectToObject(nl, "spec");
    cJSON_AddStringToObject(spec, "holderIdentity", o->identity);
    cJSON_AddNumberToObject(spec, "leaseDurationSeconds", (int)o->lease_duration);
    cJSON_AddStringToObject(spec, "acquireTime", now);
    cJSON_AddStringToObject(spec, "renewTime", now);
    cJSON_AddNumberToObject(spec, "leaseTransitions", 0);
    rc = cp_kube_create(c, &CP_GVR_LEASES, o->namespace_, nl, NULL, st);
    cJSON_Delete(nl);
    return rc;
  }
  if (rc != 0)
    return rc;

  cJSON *spec = cp_json_child_object(lease, "spec");
  const char *holder = cp_json_strv(spec, "holderIdentity", NULL);
  int mine = holder && strcmp(holder, o->identity) == 0;
  char *printed = cJSON_PrintUnformatted(spec);
  if (!printed) {
    cJSON_Delete(lease);
    return CP_ENOMEM;
  }
  if (!obs->record || strcmp(obs->record, printed) != 0) {
    free(obs->record);
    obs->record = printed;
    obs->at = mono();
  } else {
    free(printed);
  }
  if (release && !mine) {
    cJSON_Delete(lease);
    return 0;
  }
  const cJSON *dur = cp_json_getv(spec, "leaseDurationSeconds", NULL);
  double valid_for = cJSON_IsNumber(dur) ? dur->valuedouble : o->lease_duration;
  if (!mine && holder && *holder && mono() < obs->at + valid_for) {
    cJSON_Delete(lease);
    return 1;
  }
  /* Take or renew it, conditional on the resourceVersion we read. */
  if (!mine) {
    const cJSON *tr = cp_json_getv(spec, "leaseTransitions", NULL);
    int transitions = cJSON_IsNumber(tr) ? tr->valueint : 0;
    cJSON_DeleteItemFromObjectCaseSensitive(spec, "leaseTransitions");
    cJSON_AddNumberToObject(spec, "leaseTransitions",
                            holder && *holder ? transitions + 1 : transitions);
    cJSON_DeleteItemFromObjectCaseSensitive(spec, "acquireTime");
    cJSON_AddStringToObject(spec, "acquireTime", now);
  }
  cp_json_set(spec, "holderIdentity", cJSON_CreateString(release ? "" : o->identity));
  cp_json_set(spec, "leaseDurationSeconds",
              cJSON_CreateNumber(release ? 1 : (int)o->lease_duration));
  cp_json_set(spec, "renewTime", cJSON_CreateString(now));
  rc = cp_kube_update(c, &CP_GVR_LEASES, o->namespace_, o->name, NULL, lease, NULL, st);
  cJSON_Delete(lease);
  return rc;
}

int cp_leader_run(cp_kube_client_t *c, const cp_leader_opts_t *opts, atomic_bool *stop,
                  cp_status_t *st) {
  if (!c || !opts || !opts->namespace_ || !opts->name || !opts->identity || !*opts->identity)
    return CP_EINVAL;
  cp_leader_opts_t o = *opts;
  if (o.lease_duration <= 0)
    o.lease_duration = 15;
  if (o.renew_deadline <= 0)
    o.renew_deadline = 10;
  if (o.retry_period <= 0)
    o.retry_period = 2;
  observed_t obs = {0};
  int rc = 0;

  /* Campaign. */
  while (!atomic_load(stop)) {
    int r = try_acquire_or_renew(c, &o, &obs, 0, st);
    if (r == 0)
      break;
    if (r < 0 && o.on_error)
      o.on_error(r, st, o.ud);
    sleep_s(o.retry_period, stop);
  }
  if (atomic_load(stop))
    goto out;
  atomic_store(&g_leader, 1);
  if (o.on_started)
    o.on_started(o.ud);

  /* Hold. */
  double last_renew = mono();
  while (!atomic_load(stop)) {
    sleep_s(o.retry_period, stop);
    if (atomic_load(stop))
      break;
    int r = try_acquire_or_renew(c, &o, &obs, 0, st);
    if (r < 0 && o.on_error)
      o.on_error(r, st, o.ud);
    if (r == 0) {
      last_renew = mono();
    } else if (r == 1 || mono() - last_renew > o.renew_deadline) {
      rc = CP_ETIMEOUT; /* someone else holds it, or we could not renew in time */
      break;
    }
  }
  if (rc == 0 && o.release_on_stop)
    try_acquire_or_renew(c, &o, &obs, 1, st); /* release: a standby takes over at once */
  atomic_store(&g_leader, 0);
  if (o.on_stopped)
    o.on_stopped(o.ud);
out:
  free(obs.record);
  return rc;
}
