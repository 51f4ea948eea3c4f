/* Workqueue semantics a controller relies on: dedup, no concurrent processing of one key,
 * dirty requeue, delays, backoff growth and reset, shutdown. */
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
#include "core/buf.h"
#include "kube/workqueue.h"
#include "metrics/metrics.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void dedups_and_keeps_fifo_order(void **state) {
  (void)state;
  cp_workqueue_t *q;
  assert_int_equal(cp_workqueue_new(NULL, &q), 0);
  assert_int_equal(cp_workqueue_add(q, "ns/a"), 0);
  assert_int_equal(cp_workqueue_add(q, "ns/b"), 0);
  assert_int_equal(cp_workqueue_add(q, "ns/a"), 0);
  cp_workqueue_stats_t st;
  cp_workqueue_stats(q, &st);
  assert_int_equal(st.depth, 2);
  char *k;
  assert_int_equal(cp_workqueue_get(q, &k), 0);
  assert_string_equal(k, "ns/a");
  cp_workqueue_done(q, k);
  free(k);
  assert_int_equal(cp_workqueue_get(q, &k), 0);
  assert_string_equal(k, "ns/b");
  cp_workqueue_done(q, k);
  free(k);
  cp_workqueue_free(q);
}

static void key_added_while_processing_is_requeued_after_done(void **state) {
  (void)state;
  cp_workqueue_t *q;
  assert_int_equal(cp_workqueue_new(NULL, &q), 0);
  cp_workqueue_add(q, "ns/a");
  char *k;
  assert_int_equal(cp_workqueue_get(q, &k), 0);
  cp_workqueue_add(q, "ns/a"); /* an event arrives mid-reconcile */
  cp_workqueue_stats_t st;
  cp_workqueue_stats(q, &st);
  assert_int_equal(st.depth, 0); /* not handed to a second worker */
  assert_int_equal(st.active, 1);
  cp_workqueue_done(q, k);
  free(k);
  cp_workqueue_stats(q, &st);
  assert_int_equal(st.depth, 1);
  assert_int_equal(cp_workqueue_get(q, &k), 0);
  assert_string_equal(k, "ns/a");
  cp_workqueue_done(q, k);
  free(k);
  cp_workqueue_free(q);
}

static void add_after_waits_and_earliest_deadline_wins(void **state) {
  (void)state;
  cp_workqueue_t *q;
  assert_int_equal(cp_workqueue_new(NULL, &q), 0);
  double t0 = now();
  cp_workqueue_add_after(q, "ns/late", 5.0);
  cp_workqueue_add_after(q, "ns/late", 0.05); /* earlier deadline replaces the later */
  char *k;
  assert_int_equal(cp_workqueue_get(q, &k), 0);
  double waited = now() - t0;
  assert_string_equal(k, "ns/late");
  assert_true(waited >= 0.04);
  assert_true(waited < 2.0);
  cp_workqueue_done(q, k);
  free(k);
  cp_workqueue_stats_t st;
  cp_workqueue_stats(q, &st);
  assert_int_equal(st.waiting, 0);
  cp_workqueue_free(q);
}

static void backoff_grows_per_key_and_forget_resets(void **state) {
  (void)state;
  cp_workqueue_opts_t o = {.base_delay = 0.01, .max_delay = 0.04, .qps = 1000, .burst = 1000};
  cp_workqueue_t *q;
  assert_int_equal(cp_workqueue_new(&o, &q), 0);
  char *k;
  double prev = 0;
  for (int i = 0; i < 4; i++) {
    double t0 = now();
    cp_workqueue_add_rate_limited(q, "ns/a");
    assert_int_equal(cp_workqueue_get(q, &k), 0);
    double waited = now() - t0;
    cp_workqueue_done(q, k);
    free(k);
    assert_true(waited >= 0.01 * (1 << (i < 2 ? i : 2)) * 0.9); /* 10, 20, 40, 40 ms */
    assert_true(waited < 1.0);
    if (i < 2)
      assert_true(waited >= prev);
    prev = waited;
  }
  assert_int_equal(cp_workqueue_failures(q, "ns/a"), 4);
  cp_workqueue_forget(q, "ns/a");
  assert_int_equal(cp_workqueue_failures(q, "ns/a"), 0);
  cp_workqueue_free(q);
}

static void token_bucket_spaces_out_bursts(void **state) {
  (void)state;
  cp_workqueue_opts_t o = {.base_delay = 0.0001, .max_delay = 0.0001, .qps = 100, .burst = 5};
  cp_workqueue_t *q;
  assert_int_equal(cp_workqueue_new(&o, &q), 0);
  char key[16];
  double t0 = now();
  for (int i = 0; i < 25; i++) {
    snprintf(key, sizeof key, "ns/k%d", i);
    cp_workqueue_add_rate_limited(q, key);
  }
  for (int i = 0; i < 25; i++) {
    char *k;
    assert_int_equal(cp_workqueue_get(q, &k), 0);
    cp_workqueue_done(q, k);
    free(k);
  }
  /* 5 from the burst, then 20 at 100/s: about 0.2 s. */
  double took = now() - t0;
  assert_true(took >= 0.18);
  assert_true(took < 2.0);
  cp_workqueue_free(q);
}

static void *get_until_canceled(void *arg) {
  char *k;
  return (void *)(intptr_t)cp_workqueue_get(arg, &k);
}

static void shutdown_wakes_blocked_workers(void **state) {
  (void)state;
  cp_workqueue_t *q;
  assert_int_equal(cp_workqueue_new(NULL, &q), 0);
  pthread_t t;
  pthread_create(&t, NULL, get_until_canceled, q);
  struct timespec d = {0, 50000000};
  nanosleep(&d, NULL);
  cp_workqueue_shutdown(q);
  void *rc;
  pthread_join(t, &rc);
  assert_int_equal((intptr_t)rc, CP_ECANCELED);
  assert_int_equal(cp_workqueue_add(q, "ns/a"), CP_ECANCELED);
  cp_workqueue_free(q);
}

static void max_keys_cap_refuses_more(void **state) {
  (void)state;
  cp_workqueue_opts_t o = {.max_keys = 2};
  cp_workqueue_t *q;
  assert_int_equal(cp_workqueue_new(&o, &q), 0);
  assert_int_equal(cp_workqueue_add(q, "a"), 0);
  assert_int_equal(cp_workqueue_add_after(q, "b", 10), 0);
  assert_int_equal(cp_workqueue_add(q, "c"), CP_ETOOBIG);
  assert_int_equal(cp_workqueue_add(q, "a"), 0); /* already queued: still fine */
  cp_workqueue_free(q);
}

/* The value of the sample whose line starts with prefix (name and labels), or -1. */
static double sample(cp_metrics_t *reg, const char *prefix) {
  cp_buf_t b;
  cp_buf_init(&b, 1 << 20);
  assert_int_equal(cp_metrics_render(reg, &b), 0);
  double v = -1;
  for (const char *p = b.data; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : "") {
    if (strncmp(p, prefix, strlen(prefix)) == 0) {
      v = strtod(p + strlen(prefix), NULL);
      break;
    }
  }
  cp_buf_free(&b);
  return v;
}

static void sleep_ms(long ms) {
  struct timespec d = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&d, NULL);
}

#define L "{controller=\"userruntime\",name=\"userruntime\"}"

static void metrics_follow_keys_through_the_queue(void **state) {
  (void)state;
  cp_metrics_t *reg;
  assert_int_equal(cp_metrics_new(&reg), 0);
  cp_workqueue_t *q;
  cp_workqueue_opts_t o = {.name = "userruntime", .metrics = reg};
  assert_int_equal(cp_workqueue_new(&o, &q), 0);
  assert_true(sample(reg, "workqueue_depth" L " ") == 0);
  assert_int_equal(cp_workqueue_add(q, "ns/a"), 0);
  assert_int_equal(cp_workqueue_add(q, "ns/a"), 0); /* a duplicate is no add */
  assert_int_equal(cp_workqueue_add(q, "ns/b"), 0);
  assert_true(sample(reg, "workqueue_depth" L " ") == 2);
  assert_true(sample(reg, "workqueue_adds_total" L " ") == 2);
  sleep_ms(30);
  char *k;
  assert_int_equal(cp_workqueue_get(q, &k), 0);
  /* waited >= 30 ms: counted in the 0.1 s bucket, not in the 0.01 s one */
  assert_true(sample(reg, "workqueue_queue_duration_seconds_bucket{controller=\"userruntime\","
                          "name=\"userruntime\",le=\"0.01\"} ") == 0);
  assert_true(sample(reg, "workqueue_queue_duration_seconds_bucket{controller=\"userruntime\","
                          "name=\"userruntime\",le=\"0.1\"} ") == 1);
  sleep_ms(50);
  double unfinished = sample(reg, "workqueue_unfinished_work_seconds" L " ");
  assert_true(unfinished >= 0.05 && unfinished < 5);
  double longest = sample(reg, "workqueue_longest_running_processor_seconds" L " ");
  assert_true(longest >= 0.05 && longest < unfinished + 1);
  cp_workqueue_done(q, k);
  free(k);
  assert_true(sample(reg, "workqueue_work_duration_seconds_count" L " ") == 1);
  assert_true(sample(reg, "workqueue_work_duration_seconds_sum" L " ") >= 0.05);
  assert_true(sample(reg, "workqueue_unfinished_work_seconds" L " ") == 0);
  assert_true(sample(reg, "workqueue_longest_running_processor_seconds" L " ") == 0);
  assert_true(sample(reg, "workqueue_depth" L " ") == 1);
  assert_int_equal(cp_workqueue_add_rate_limited(q, "ns/c"), 0);
  assert_true(sample(reg, "workqueue_retries_total" L " ") == 1);
  /* freed: the depth function no longer reads the queue, the series stays */
  cp_workqueue_free(q);
  assert_true(sample(reg, "workqueue_depth" L " ") == 0);
  cp_metrics_free(reg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(dedups_and_keeps_fifo_order),
      cmocka_unit_test(key_added_while_processing_is_requeued_after_done),
      cmocka_unit_test(add_after_waits_and_earliest_deadline_wins),
      cmocka_unit_test(backoff_grows_per_key_and_forget_resets),
      cmocka_unit_test(token_bucket_spaces_out_bursts),
      cmocka_unit_test(shutdown_wakes_blocked_workers),
      cmocka_unit_test(max_keys_cap_refuses_more),
      cmocka_unit_test(metrics_follow_keys_through_the_queue),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
