/* Informer and leader election against the real API server:
 *  - the informer's cache follows create / update / delete, and handlers see each once;
 *  - objects deleted while nobody watched disappear on relist (a second informer);
 *  - the list comes in pages no bigger than the client's body cap, stripped and projected;
 *  - read your writes: waiting for the resourceVersion a write answered with, or for a
 *    deleted object's absence, leaves the cache showing it, every time, with no sleep;
 *  - of two candidates one leads; when it stops, the other takes over within seconds;
 *    when a leader vanishes without releasing, the other waits out the lease. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "json/json.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/informer.h"
#include "kube/leader.h"
#include "testutil.h"

static cp_kubeconfig_t *cfg;
static cp_kube_client_t *kc;
static char ns[64];

static double mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms) {
  struct timespec d = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&d, NULL);
}

static int setup(void **state) {
  (void)state;
  char err[256];
  if (cp_kubeconfig_load(getenv("KUBECONFIG"), NULL, &cfg, err, sizeof err) != 0) {
    fprintf(stderr, "kubeconfig: %s\n", err);
    return -1;
  }
  if (cp_kube_client_new(cfg, NULL, &kc) != 0)
    return -1;
  cp_test_unique_name("e2e-informer", ns, sizeof ns);
  cJSON *o = cJSON_Parse("{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{}}");
  cJSON_AddStringToObject(cJSON_GetObjectItem(o, "metadata"), "name", ns);
  int rc = cp_kube_create(kc, &CP_GVR_NAMESPACES, NULL, o, NULL, NULL);
  cJSON_Delete(o);
  return rc;
}

static int teardown(void **state) {
  (void)state;
  cp_kube_delete(kc, &CP_GVR_NAMESPACES, NULL, ns, NULL, NULL, NULL);
  cp_kube_client_free(kc);
  cp_kubeconfig_free(cfg);
  return 0;
}

typedef struct seen_s {
  pthread_mutex_t mu;
  char log[4096]; /* "add:a update:a delete:a " */
} seen_t;

static void note(seen_t *s, const char *what, cp_obj_t *o) {
  pthread_mutex_lock(&s->mu);
  size_t n = strlen(s->log);
  snprintf(s->log + n, sizeof s->log - n, "%s:%s ", what, o->name);
  pthread_mutex_unlock(&s->mu);
}
static void on_add(cp_obj_t *o, void *ud) {
  note(ud, "add", o);
}
static void on_update(cp_obj_t *old, cp_obj_t *o, void *ud) {
  (void)old;
  note(ud, "update", o);
}
static void on_delete(cp_obj_t *o, void *ud) {
  note(ud, "delete", o);
}

static int wait_log(seen_t *s, const char *want, double secs) {
  double end = mono() + secs;
  while (mono() < end) {
    pthread_mutex_lock(&s->mu);
    int ok = strstr(s->log, want) != NULL;
    pthread_mutex_unlock(&s->mu);
    if (ok)
      return 1;
    sleep_ms(20);
  }
  fprintf(stderr, "waited for '%s', saw '%s'\n", want, s->log);
  return 0;
}

static void put_configmap(const char *name, const char *value) {
  char body[2048];
  snprintf(body, sizeof body,
           "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"%s\","
           "\"labels\":{\"e2e\":\"informer\"}},\"data\":{\"v\":\"%s\"}}",
           name, value);
  cJSON *o = cJSON_Parse(body);
  cp_status_t st;
  assert_int_equal(cp_kube_apply(kc, &CP_GVR_CONFIGMAPS, ns, name, NULL, o, "e2e", true, NULL, &st),
                   0);
  cJSON_Delete(o);
}

static cp_informer_t *start_informer(seen_t *s) {
  cp_informer_opts_t io = {.gvr = CP_GVR_CONFIGMAPS, .namespace_ = ns, .label_selector = "e2e"};
  cp_informer_handlers_t h = {on_add, on_update, on_delete, NULL, s, NULL};
  cp_informer_t *inf;
  assert_int_equal(cp_informer_new(cfg, NULL, &io, &h, &inf), 0);
  assert_int_equal(cp_informer_start(inf), 0);
  double end = mono() + 10;
  while (!cp_informer_synced(inf) && mono() < end)
    sleep_ms(10);
  assert_true(cp_informer_synced(inf));
  return inf;
}

static void cache_follows_changes_and_relist_finds_deletions(void **state) {
  (void)state;
  seen_t s = {.mu = PTHREAD_MUTEX_INITIALIZER};
  put_configmap("before", "1");
  cp_informer_t *inf = start_informer(&s);
  assert_true(wait_log(&s, "add:before ", 5)); /* from the initial list */
  put_configmap("a", "1");
  assert_true(wait_log(&s, "add:a ", 5));
  put_configmap("a", "2");
  assert_true(wait_log(&s, "update:a ", 5));
  cp_obj_t *o = cp_store_get(cp_informer_store(inf), "");
  assert_null(o);
  char key[128];
  cp_obj_key(ns, "a", key, sizeof key);
  o = cp_store_get(cp_informer_store(inf), key);
  assert_non_null(o);
  assert_string_equal(cp_json_strv(o->json, "data", "v", NULL), "2");
  cp_obj_unref(o);
  assert_int_equal(cp_kube_delete(kc, &CP_GVR_CONFIGMAPS, ns, "a", NULL, NULL, NULL), 0);
  assert_true(wait_log(&s, "delete:a ", 5));
  cp_obj_key(ns, "a", key, sizeof key);
  assert_null(cp_store_get(cp_informer_store(inf), key));
  assert_int_equal(cp_informer_lists(inf), 1);

  /* An object deleted while no informer ran is reported by the next informer's list as
   * absent (it never adds it), and "before" arrives exactly once. */
  cp_informer_free(inf);
  assert_int_equal(cp_kube_delete(kc, &CP_GVR_CONFIGMAPS, ns, "before", NULL, NULL, NULL), 0);
  seen_t s2 = {.mu = PTHREAD_MUTEX_INITIALIZER};
  inf = start_informer(&s2);
  assert_int_equal(cp_store_len(cp_informer_store(inf)), 0);
  assert_null(strstr(s2.log, "before"));
  cp_informer_free(inf);
}

/* Each write's answer, waited for, is in the cache at once: 20 updates then a delete, each
 * read straight after cp_informer_wait_rv. A version the server has not reached times out
 * after the time asked; one that is not a KEP-5504 number is refused at once. */
static void waiting_for_a_writes_version_shows_it(void **state) {
  (void)state;
  seen_t s = {.mu = PTHREAD_MUTEX_INITIALIZER};
  cp_informer_t *inf = start_informer(&s);
  char key[128];
  cp_obj_key(ns, "ryw", key, sizeof key);
  for (int i = 0; i < 20; i++) {
    char v[16], body[256];
    snprintf(v, sizeof v, "%d", i);
    snprintf(body, sizeof body,
             "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"ryw\","
             "\"labels\":{\"e2e\":\"informer\"}},\"data\":{\"v\":\"%d\"}}",
             i);
    cJSON *o = cJSON_Parse(body), *res = NULL;
    assert_int_equal(
        cp_kube_apply(kc, &CP_GVR_CONFIGMAPS, ns, "ryw", NULL, o, "e2e", true, &res, NULL), 0);
    cJSON_Delete(o);
    assert_int_equal(
        cp_informer_wait_rv(inf, cp_json_strv(res, "metadata", "resourceVersion", NULL), 5000), 0);
    cJSON_Delete(res);
    cp_obj_t *c = cp_store_get(cp_informer_store(inf), key);
    assert_non_null(c);
    assert_string_equal(cp_json_strv(c->json, "data", "v", NULL), v);
    cp_obj_unref(c);
  }
  /* A ConfigMap's DELETE answers a Status without a version: its absence is waited for. */
  uint64_t before = cp_informer_seen_rv(inf);
  cJSON *gone = NULL;
  assert_int_equal(cp_kube_delete(kc, &CP_GVR_CONFIGMAPS, ns, "ryw", NULL, &gone, NULL), 0);
  assert_null(cp_json_strv(gone, "metadata", "resourceVersion", NULL));
  assert_int_equal(cp_informer_wait_gone(inf, key, 5000), 0);
  assert_null(cp_store_get(cp_informer_store(inf), key));
  assert_true(cp_informer_seen_rv(inf) > before);
  cJSON_Delete(gone);
  double w0 = mono();
  assert_int_equal(cp_informer_wait_gone(inf, key, 5000), 0); /* already gone: at once */
  assert_true(mono() - w0 < 0.1);
  put_configmap("stays", "1");
  assert_true(wait_log(&s, "add:stays ", 5));
  char stays[128];
  cp_obj_key(ns, "stays", stays, sizeof stays);
  w0 = mono();
  assert_int_equal(cp_informer_wait_gone(inf, stays, 300), CP_ETIMEOUT);
  assert_true(mono() - w0 >= 0.29);

  char later[32];
  snprintf(later, sizeof later, "%llu", (unsigned long long)cp_informer_seen_rv(inf) + 1000000);
  double t0 = mono();
  assert_int_equal(cp_informer_wait_rv(inf, later, 300), CP_ETIMEOUT);
  assert_true(mono() - t0 >= 0.29 && mono() - t0 < 2);
  t0 = mono();
  assert_int_equal(cp_informer_wait_rv(inf, "abc", 5000), CP_EINVAL);
  assert_int_equal(cp_informer_wait_rv(inf, NULL, 5000), CP_EINVAL);
  assert_true(mono() - t0 < 0.1);
  cp_informer_free(inf);
}

static void count_projection(cJSON *obj, void *ud) {
  cJSON_DeleteItemFromObjectCaseSensitive(obj, "data");
  (*(int *)ud)++;
}

/* The list comes in pages: with a client whose body cap is smaller than the whole list, the
 * cache still fills, each object once, stripped of managedFields and projected. */
static void paged_list_fills_the_cache_stripped_and_projected(void **state) {
  (void)state;
  char big[1100], name[32];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  for (int i = 0; i < 7; i++) {
    snprintf(name, sizeof name, "paged-%d", i);
    put_configmap(name, big);
  }
  seen_t s = {.mu = PTHREAD_MUTEX_INITIALIZER};
  int projected = 0;
  cp_informer_opts_t io = {.gvr = CP_GVR_CONFIGMAPS,
                           .namespace_ = ns,
                           .label_selector = "e2e",
                           .project = count_projection,
                           .project_ud = &projected,
                           .page_size = 2};
  cp_kube_client_opts_t co = {.max_body = 4096}; /* the 7 objects are about 9 KB */
  cp_informer_handlers_t h = {on_add, on_update, on_delete, NULL, &s, NULL};
  cp_informer_t *inf;
  assert_int_equal(cp_informer_new(cfg, &co, &io, &h, &inf), 0);
  assert_int_equal(cp_informer_start(inf), 0);
  double end = mono() + 10;
  while (!cp_informer_synced(inf) && mono() < end)
    sleep_ms(10);
  assert_true(cp_informer_synced(inf));
  assert_int_equal(cp_store_len(cp_informer_store(inf)), 7);
  assert_int_equal(projected, 7);
  assert_int_equal(cp_informer_lists(inf), 1);
  char key[128];
  cp_obj_key(ns, "paged-6", key, sizeof key);
  cp_obj_t *o = cp_store_get(cp_informer_store(inf), key);
  assert_non_null(o);
  assert_null(cp_json_getv(o->json, "metadata", "managedFields", NULL));
  assert_null(cp_json_getv(o->json, "data", NULL));
  assert_non_null(strstr(s.log, "add:paged-0 "));
  assert_null(strstr(strstr(s.log, "add:paged-0 ") + 1, "add:paged-0 ")); /* once */
  cp_obj_unref(o);
  cp_informer_free(inf);
  for (int i = 0; i < 7; i++) {
    snprintf(name, sizeof name, "paged-%d", i);
    cp_kube_delete(kc, &CP_GVR_CONFIGMAPS, ns, name, NULL, NULL, NULL);
  }
}

/* --- leader election ------------------------------------------------------------------ */

typedef struct cand_s {
  cp_leader_opts_t o;
  atomic_bool stop;
  atomic_int leading;
  int rc;
  pthread_t t;
} cand_t;

static void started(void *ud) {
  atomic_store(&((cand_t *)ud)->leading, 1);
}
static void stopped(void *ud) {
  atomic_store(&((cand_t *)ud)->leading, 0);
}

static void *campaign(void *arg) {
  cand_t *c = arg;
  cp_kube_client_t *own;
  if (cp_kube_client_new(cfg, NULL, &own) != 0)
    return NULL;
  c->rc = cp_leader_run(own, &c->o, &c->stop, NULL);
  cp_kube_client_free(own);
  return NULL;
}

static void cand_start(cand_t *c, const char *lease, const char *id, int release) {
  memset(c, 0, sizeof *c);
  c->o = (cp_leader_opts_t){.namespace_ = ns,
                            .name = lease,
                            .identity = id,
                            .lease_duration = 3,
                            .renew_deadline = 2,
                            .retry_period = 0.3,
                            .release_on_stop = release,
                            .on_started = started,
                            .on_stopped = stopped};
  c->o.ud = c;
  pthread_create(&c->t, NULL, campaign, c);
}

static int wait_leading(cand_t *c, double secs) {
  double end = mono() + secs;
  while (mono() < end && !atomic_load(&c->leading))
    sleep_ms(20);
  return atomic_load(&c->leading);
}

static void one_leader_and_fast_handover(void **state) {
  (void)state;
  cand_t a, b;
  cand_start(&a, "handover", "a", 1);
  assert_true(wait_leading(&a, 10));
  cand_start(&b, "handover", "b", 1);
  sleep_ms(1500);
  assert_false(atomic_load(&b.leading)); /* one leader at a time */
  double t0 = mono();
  atomic_store(&a.stop, 1);
  pthread_join(a.t, NULL);
  assert_int_equal(a.rc, 0);
  assert_true(wait_leading(&b, 5));
  double took = mono() - t0;
  assert_true(took < 2.0); /* released: no need to wait out the 3 s lease */
  cJSON *lease = NULL;
  assert_int_equal(cp_kube_get(kc, &CP_GVR_LEASES, ns, "handover", NULL, &lease, NULL), 0);
  assert_string_equal(cp_json_strv(lease, "spec", "holderIdentity", NULL), "b");
  cJSON_Delete(lease);
  atomic_store(&b.stop, 1);
  pthread_join(b.t, NULL);
}

static void vanished_leader_is_replaced_after_the_lease(void **state) {
  (void)state;
  cand_t a, b;
  cand_start(&a, "expiry", "a", 0);
  assert_true(wait_leading(&a, 10));
  cand_start(&b, "expiry", "b", 0);
  sleep_ms(600);
  double t0 = mono();
  atomic_store(&a.stop, 1); /* stops renewing without handing over: like a crash */
  pthread_join(a.t, NULL);
  assert_true(wait_leading(&b, 10));
  double took = mono() - t0;
  assert_true(took >= 2.0); /* had to wait for the lease to run out */
  assert_true(took < 6.0);
  atomic_store(&b.stop, 1);
  pthread_join(b.t, NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(cache_follows_changes_and_relist_finds_deletions),
      cmocka_unit_test(paged_list_fills_the_cache_stripped_and_projected),
      cmocka_unit_test(waiting_for_a_writes_version_shows_it),
      cmocka_unit_test(one_leader_and_fast_handover),
      cmocka_unit_test(vanished_leader_is_replaced_after_the_lease),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
