/* Marks runtimes active: status.lastActivityTime on their UserRuntime, written by
 * server-side apply on the status subresource with field manager clawplane-modelproxy
 * (force, so the field is ours whoever set it before). The controller reads it to decide
 * hibernation. The loop notes every call, but a runtime is applied at most once per
 * --activity-interval; the writes happen on this file's own thread, with its own kube
 * client, from a bounded queue (a full queue drops the mark: the next call marks again).
 */
#include "api/runtime.h"
#include "mp.h"

#include "core/error.h"
#include "core/time.h"
#include "kube/client.h"
#include "log/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_CAP 4096

static const cp_gvr_t USERRUNTIMES = {"clawplane.io", "v1alpha1", "userruntimes", true};

typedef struct item_s {
  char ns[64];
  char name[254];
  double at;
} item_t;

struct mp_activity_s {
  mp_app_t *a;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool stop;
  item_t q[QUEUE_CAP];
  size_t head, len;
  cp_kube_client_t *kc;
};

static void apply_one(mp_activity_t *t, const item_t *it) {
  cJSON *o = cp_api_activity_body(it->ns, it->name, it->at);
  int rc = CP_ENOMEM;
  cp_status_t s = {0};
  if (o)
    rc = cp_kube_apply(t->kc, &USERRUNTIMES, it->ns, it->name, "status", o, "clawplane-modelproxy",
                       true, NULL, &s);
  cJSON_Delete(o);
  cp_counter_add(t->a->m.activity, CP_LABELS(rc == 0 ? "ok" : "error"), 1);
  if (rc != 0) {
    char code[16];
    snprintf(code, sizeof code, "%ld", s.http_code);
    cp_log(rc == CP_ENOTFOUND ? CP_LOG_DEBUG : CP_LOG_WARN, "cannot mark runtime activity",
           "namespace", it->ns, "name", it->name, "error", cp_strerror(rc), "code", code, "reason",
           s.reason, "message", s.message, NULL);
  }
}

static void *run(void *arg) {
  mp_activity_t *t = arg;
  pthread_mutex_lock(&t->mu);
  for (;;) {
    while (t->len == 0 && !t->stop)
      pthread_cond_wait(&t->cv, &t->mu);
    if (t->len == 0 && t->stop)
      break;
    item_t it = t->q[t->head];
    t->head = (t->head + 1) % QUEUE_CAP;
    t->len--;
    pthread_mutex_unlock(&t->mu);
    apply_one(t, &it);
    pthread_mutex_lock(&t->mu);
  }
  pthread_mutex_unlock(&t->mu);
  return NULL;
}

int cp__mp_activity_start(mp_app_t *a) {
  if (!a->use_kube || a->activity_interval <= 0)
    return 0;
  mp_activity_t *t = calloc(1, sizeof *t);
  if (!t)
    return CP_ENOMEM;
  t->a = a;
  cp_kube_client_opts_t co = {
      .user_agent = "clawplane-modelproxy/0.1", .timeout_ms = 10000, .metrics = a->reg};
  int rc = cp_kube_client_new(a->kcfg, &co, &t->kc);
  if (rc != 0) {
    free(t);
    return rc;
  }
  pthread_mutex_init(&t->mu, NULL);
  pthread_cond_init(&t->cv, NULL);
  if (pthread_create(&t->thread, NULL, run, t) != 0) {
    cp_kube_client_free(t->kc);
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
    free(t);
    return CP_ENOMEM;
  }
  a->act = t;
  return 0;
}

void cp__mp_activity_mark(mp_app_t *a, const char *ns, const char *runtime) {
  mp_activity_t *t = a->act;
  if (!t || !ns || !*ns || !runtime || !*runtime)
    return;
  char key[320];
  snprintf(key, sizeof key, "%s/%s", ns, runtime);
  double now = cp_time_mono();
  double *last = cp_map_get(&a->activity, key);
  if (last && now - *last < a->activity_interval)
    return;
  if (!last) {
    last = malloc(sizeof *last);
    if (!last || cp_map_put(&a->activity, key, last, NULL) != 0) {
      free(last);
      return;
    }
  }
  *last = now;
  pthread_mutex_lock(&t->mu);
  if (t->len < QUEUE_CAP) {
    item_t *it = &t->q[(t->head + t->len) % QUEUE_CAP];
    snprintf(it->ns, sizeof it->ns, "%s", ns);
    snprintf(it->name, sizeof it->name, "%s", runtime);
    it->at = cp_time_now();
    t->len++;
    pthread_cond_signal(&t->cv);
  }
  pthread_mutex_unlock(&t->mu);
}

void cp__mp_activity_stop(mp_app_t *a) {
  mp_activity_t *t = a->act;
  if (t) {
    pthread_mutex_lock(&t->mu);
    t->stop = true;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    cp_kube_client_free(t->kc);
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
    free(t);
    a->act = NULL;
  }
  cp_map_free(&a->activity, free);
}
