/* Pod classification follows what kubectl shows: a waiting container's reason first
 * (image pulls and crash loops; init containers before the others, since they run first),
 * then scheduling, then readiness. For a crash loop the message is what the container
 * said when it last ended (its termination message, or its log tail with
 * FallbackToLogsOnError), which tells the user why; the kubelet's own "back-off ..." only
 * when there is nothing better. */
#include "core/str.h"
#include "userruntime/status.h"
#include "core/time.h"
#include "json/json.h"

#include <stdio.h>
#include <string.h>

static const char *const STUCK_REASONS[] = {
    "CrashLoopBackOff",           "ImagePullBackOff",     "ErrImagePull",      "InvalidImageName",
    "CreateContainerConfigError", "CreateContainerError", "RunContainerError", NULL};

static int is_stuck_reason(const char *r) {
  for (int i = 0; r && STUCK_REASONS[i]; i++)
    if (strcmp(r, STUCK_REASONS[i]) == 0)
      return 1;
  return 0;
}

static const cJSON *find_by_type(const cJSON *list, const char *type) {
  const cJSON *c;
  cJSON_ArrayForEach(c, list) {
    const char *t = cp_json_strv(c, "type", NULL);
    if (t && strcmp(t, type) == 0)
      return c;
  }
  return NULL;
}

void cp_ur_observe_pod(const cJSON *pod, cp_pod_obs_t *out) {
  memset(out, 0, sizeof *out);
  if (!pod) {
    out->state = CP_POD_NONE;
    return;
  }
  cp_str_copy(out->hash, sizeof out->hash,
              cp_json_strv(pod, "metadata", "annotations", "clawplane.io/spec-hash", NULL));
  if (cp_json_getv(pod, "metadata", "deletionTimestamp", NULL)) {
    out->state = CP_POD_TERMINATING;
    cp_str_copy(out->reason, sizeof out->reason, "Terminating");
    return;
  }
  const cJSON *status = cp_json_getv(pod, "status", NULL);
  const char *phase = cp_json_strv(status, "phase", NULL);
  if (phase && (strcmp(phase, "Failed") == 0 || strcmp(phase, "Succeeded") == 0)) {
    out->state = CP_POD_FAILED;
    const char *r = cp_json_strv(status, "reason", NULL);
    cp_str_copy(out->reason, sizeof out->reason,
                r ? r : (phase[0] == 'F' ? "PodFailed" : "PodExited"));
    cp_str_copy(out->message, sizeof out->message, cp_json_strv(status, "message", NULL));
    return;
  }
  static const char *const lists[] = {"initContainerStatuses", "containerStatuses"};
  for (size_t l = 0; l < sizeof lists / sizeof *lists; l++) {
    const cJSON *cs;
    cJSON_ArrayForEach(cs, cp_json_getv(status, lists[l], NULL)) {
      const char *why = cp_json_strv(cs, "state", "waiting", "reason", NULL);
      if (!is_stuck_reason(why))
        continue;
      out->state = CP_POD_STUCK;
      cp_str_copy(out->reason, sizeof out->reason, why);
      const char *said = cp_json_strv(cs, "lastState", "terminated", "message", NULL);
      const char *name = cp_json_strv(cs, "name", NULL);
      size_t n = said ? strlen(said) : 0;
      while (n > 0 && (said[n - 1] == '\n' || said[n - 1] == ' '))
        n--; /* a log tail ends in a newline; the last words say the most */
      if (n > 180) {
        said += n - 180;
        n = 180;
      }
      if (n > 0)
        snprintf(out->message, sizeof out->message, "%s %s: %.*s",
                 l == 0 ? "init container" : "container", name ? name : "?", (int)n, said);
      else
        cp_str_copy(out->message, sizeof out->message,
                    cp_json_strv(cs, "state", "waiting", "message", NULL));
      return;
    }
  }
  const cJSON *conds = cp_json_getv(status, "conditions", NULL);
  const cJSON *sched = find_by_type(conds, "PodScheduled");
  const char *sched_status = cp_json_strv(sched, "status", NULL);
  const char *sched_reason = cp_json_strv(sched, "reason", NULL);
  if (sched_status && strcmp(sched_status, "False") == 0 && sched_reason &&
      strcmp(sched_reason, "Unschedulable") == 0) {
    const char *msg = cp_json_strv(sched, "message", NULL);
    /* A claim that is still being provisioned is not a failure: it binds in seconds. */
    int storage = msg && strstr(msg, "unbound immediate PersistentVolumeClaims");
    out->state = storage ? CP_POD_STARTING : CP_POD_STUCK;
    cp_str_copy(out->reason, sizeof out->reason,
                storage ? "WaitingForStorage" : "FailedScheduling");
    cp_str_copy(out->message, sizeof out->message, msg);
    return;
  }
  const cJSON *ready = find_by_type(conds, "Ready");
  const char *rs = cp_json_strv(ready, "status", NULL);
  if (rs && strcmp(rs, "True") == 0) {
    out->state = CP_POD_READY;
    cp_str_copy(out->ready_since, sizeof out->ready_since,
                cp_json_strv(ready, "lastTransitionTime", NULL));
    return;
  }
  out->state = CP_POD_STARTING;
  cp_str_copy(out->reason, sizeof out->reason,
              phase && strcmp(phase, "Running") == 0 ? "PodNotReady" : "PodPending");
}

const cJSON *cp_ur_condition(const cJSON *ur, const char *type) {
  return find_by_type(cp_json_getv(ur, "status", "conditions", NULL), type);
}

static int str_is(const cJSON *obj, const char *key, const char *want) {
  const char *v = cp_json_strv(obj, key, NULL);
  return strcmp(v ? v : "", want ? want : "") == 0;
}

static int num_is(const cJSON *obj, const char *key, long want) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  return cJSON_IsNumber(v) ? (long)v->valuedouble == want : want == 0;
}

static int cond_matches(const cJSON *ur, const char *type, const cp_ur_cond_t *c, long gen) {
  if (!c->status)
    return 1;
  const cJSON *have = cp_ur_condition(ur, type);
  return have && str_is(have, "status", c->status) && str_is(have, "reason", c->reason) &&
         str_is(have, "message", c->message) && num_is(have, "observedGeneration", gen);
}

int cp_ur_status_matches(const cJSON *ur, const cp_ur_status_t *st) {
  const cJSON *s = cp_json_getv(ur, "status", NULL);
  if (!s)
    return 0;
  if (st->phase && !str_is(s, "phase", st->phase))
    return 0;
  return str_is(s, "message", st->message) && str_is(s, "podName", st->pod_name) &&
         str_is(s, "endpoint", st->endpoint) && str_is(s, "startedAt", st->started_at) &&
         num_is(s, "restarts", st->restarts) &&
         num_is(s, "observedGeneration", st->observed_generation) &&
         cond_matches(ur, "Ready", &st->ready, st->observed_generation) &&
         cond_matches(ur, "Progressing", &st->progressing, st->observed_generation) &&
         cond_matches(ur, "Degraded", &st->degraded, st->observed_generation);
}

/* FNV-1a over s and its terminating NUL (so "ab","c" and "a","bc" differ); NULL as "\1". */
static uint64_t mix(uint64_t h, const char *s) {
  const unsigned char *p = (const unsigned char *)(s ? s : "\1");
  do {
    h = (h ^ *p) * 0x100000001b3ULL;
  } while (*p++);
  return h;
}

static uint64_t mix_num(uint64_t h, long v) {
  char n[24];
  snprintf(n, sizeof n, "%ld", v);
  return mix(h, n);
}

uint64_t cp_ur_status_digest(const cp_ur_status_t *st) {
  uint64_t h = 0xcbf29ce484222325ULL;
  h = mix(h, st->phase);
  h = mix(h, st->message);
  h = mix(h, st->pod_name);
  h = mix(h, st->endpoint);
  h = mix(h, st->started_at);
  h = mix_num(h, st->restarts);
  h = mix_num(h, st->observed_generation);
  const cp_ur_cond_t *conds[] = {&st->ready, &st->progressing, &st->degraded};
  for (size_t i = 0; i < sizeof conds / sizeof *conds; i++) {
    h = mix(h, conds[i]->status);
    h = mix(h, conds[i]->reason);
    h = mix(h, conds[i]->message);
  }
  return h;
}

static void add_cond(cJSON *arr, const cJSON *ur, const char *type, const cp_ur_cond_t *c, long gen,
                     const char *now) {
  const cJSON *have = cp_ur_condition(ur, type);
  const char *since = now;
  if (!c->status) {
    /* Not ours to decide this time: re-assert what is there so the apply keeps it. */
    if (have)
      cJSON_AddItemToArray(arr, cJSON_Duplicate(have, 1));
    return;
  }
  if (have && str_is(have, "status", c->status) && cp_json_strv(have, "lastTransitionTime", NULL))
    since = cp_json_strv(have, "lastTransitionTime", NULL);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "type", type);
  cJSON_AddStringToObject(o, "status", c->status);
  cJSON_AddStringToObject(o, "reason", *c->reason ? c->reason : "Unknown");
  cJSON_AddStringToObject(o, "message", c->message);
  cJSON_AddNumberToObject(o, "observedGeneration", (double)gen);
  cJSON_AddStringToObject(o, "lastTransitionTime", since);
  cJSON_AddItemToArray(arr, o);
}

cJSON *cp_ur_status_body(const cJSON *ur, const cp_ur_status_t *st, double now) {
  char nowbuf[40];
  cp_time_format(now, nowbuf, sizeof nowbuf);
  cJSON *b = cJSON_CreateObject();
  if (!b)
    return NULL;
  cJSON_AddStringToObject(b, "apiVersion", "clawplane.io/v1alpha1");
  cJSON_AddStringToObject(b, "kind", "UserRuntime");
  cJSON *meta = cJSON_AddObjectToObject(b, "metadata");
  cJSON_AddStringToObject(meta, "name", cp_json_strv(ur, "metadata", "name", NULL));
  cJSON_AddStringToObject(meta, "namespace", cp_json_strv(ur, "metadata", "namespace", NULL));
  cJSON *s = cJSON_AddObjectToObject(b, "status");
  const char *phase = st->phase ? st->phase : cp_json_strv(ur, "status", "phase", NULL);
  cJSON_AddStringToObject(s, "phase", phase ? phase : "Pending");
  cJSON_AddNumberToObject(s, "observedGeneration", (double)st->observed_generation);
  if (*st->message)
    cJSON_AddStringToObject(s, "message", st->message);
  if (*st->pod_name)
    cJSON_AddStringToObject(s, "podName", st->pod_name);
  if (*st->endpoint)
    cJSON_AddStringToObject(s, "endpoint", st->endpoint);
  if (*st->started_at)
    cJSON_AddStringToObject(s, "startedAt", st->started_at);
  cJSON_AddNumberToObject(s, "restarts", (double)st->restarts);
  cJSON *conds = cJSON_AddArrayToObject(s, "conditions");
  add_cond(conds, ur, "Ready", &st->ready, st->observed_generation, nowbuf);
  add_cond(conds, ur, "Progressing", &st->progressing, st->observed_generation, nowbuf);
  add_cond(conds, ur, "Degraded", &st->degraded, st->observed_generation, nowbuf);
  return b;
}
