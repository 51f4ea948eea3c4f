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

/* Gets a key, marks it done and checks it is want. */
static void expect_next(cp_workqueue_t *q, const char *want) {
  char *k;
  assert_int_equal(cp_workqueue_get(q, &k), 0);
  assert_string_equal(k, want);
  cp_workqueue_done(q, k);
  free(k);
}

static size_t depth_of(cp_workqueue_t *q) {
  cp_workqueue_stats_t st;
  cp_workqueue_stats(q, &st);
  return st.depth;
}

static void dedups_and_keeps_fifo_order(void **state) {
  (void)state;
  cp_workqueue_t *q;
  assert_int_equal(cp_workqueue_new(NULL, &q), 0);
  assert_int_equal(cp_workqueue_add(q, "ns/a"), 0);
  assert_int_equal(cp_workqueue_add(q, "ns/b"), 0);
  assert_int_equal(cp_workqueue_add(q, "ns/a"), 0);
  assert_int_equal(depth_of(q), 2);
  expect_next(q, "ns/a");
  expect_next(q, "ns/b");
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
  assert_int_equal(depth_of(q), 1);
  expect_next(q, "ns/a");
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

static void first_keys_go_ahead_of_normal_ones(void **state) {
  (void)state;
  cp_workqueue_t *q;
  assert_int_equal(cp_workqueue_new(NULL, &q), 0);
  assert_int_equal(cp_workqueue_add(q, "ns/a"), 0);
  assert_int_equal(cp_workqueue_add(q, "ns/b"), 0);
  assert_int_equal(cp_workqueue_add_first(q, "ns/x"), 0);
  assert_int_equal(cp_workqueue_add_first(q, "ns/y"), 0);
  assert_int_equal(cp_workqueue_add(q, "ns/x"), 0);       /* a normal add does not demote */
  assert_int_equal(cp_workqueue_add_first(q, "ns/y"), 0); /* nor queue twice */
  assert_int_equal(depth_of(q), 4);
  expect_next(q, "ns/x");
  expect_next(q, "ns/y");
  expect_next(q, "ns/a");
  expect_next(q, "ns/b");
  assert_int_equal(depth_of(q), 0);
  cp_workqueue_free(q);
}

static void a_queued_key_moves_ahead_and_is_handed_out_once(void **state) {
  (void)state;
  cp_workqueue_t *q;
  assert_int_equal(cp_workqueue_new(NULL, &q), 0);
  cp_workqueue_add(q, "ns/a");
  cp_workqueue_add(q, "ns/b");
  cp_workqueue_add(q, "ns/c");
  assert_int_equal(cp_workqueue_add_first(q, "ns/c"), 0);
  assert_int_equal(depth_of(q), 3);
  expect_next(q, "ns/c");
  /* added again (normal) before its old place comes up: it waits behind b, once */
  cp_workqueue_add(q, "ns/c");
  expect_next(q, "ns/a");
  expect_next(q, "ns/b");
  expect_next(q, "ns/c");
  assert_int_equal(depth_of(q), 0);
  cp_workqueue_add(q, "ns/d");
  expect_next(q, "ns/d");
  cp_workqueue_free(q);
}

static void a_key_added_first_while_processed_is_requeued_ahead(void **state) {
  (void)state;
  cp_workqueue_t *q;
  assert_int_equal(cp_workqueue_new(NULL, &q), 0);
  cp_workqueue_add(q, "ns/a");
  char *k;
  assert_int_equal(cp_workqueue_get(q, &k), 0);
  cp_workqueue_add(q, "ns/b");
  cp_workqueue_add(q, "ns/a");       /* normal while processed ... */
  cp_workqueue_add_first(q, "ns/a"); /* ... then first: the better class wins */
  cp_workqueue_add(q, "ns/c");
  assert_int_equal(depth_of(q), 2);
  cp_workqueue_done(q, k);
  free(k);
  expect_next(q, "ns/a");
  expect_next(q, "ns/b");
  expect_next(q, "ns/c");
  cp_workqueue_free(q);
}

static void first_keys_cannot_starve_normal_ones(void **state) {
  (void)state;
  cp_workqueue_t *q;
  assert_int_equal(cp_workqueue_new(NULL, &q), 0);
  cp_workqueue_add(q, "ns/n1");
  cp_workqueue_add(q, "ns/n2");
  char name[32];
  for (int i = 0; i < 4; i++) {
    snprintf(name, sizeof name, "ns/f%d", i);
    cp_workqueue_add_first(q, name);
  }
  /* Every first key is added again as soon as it is done: a stream that never ends. Out of
   * every nine keys handed out, one is normal. */
  char *got[20];
  for (int i = 0; i < 20; i++) {
    assert_int_equal(cp_workqueue_get(q, &got[i]), 0);
    if (got[i][3] == 'f')
      cp_workqueue_add_first(q, got[i]);
    cp_workqueue_done(q, got[i]);
  }
  for (int i = 0; i < 20; i++) {
    if (i == 8)
      assert_string_equal(got[i], "ns/n1");
    else if (i == 17)
      assert_string_equal(got[i], "ns/n2");
    else
      assert_true(got[i][3] == 'f');
    free(got[i]);
  }
  /* no normal key waits: first keys run on without a break */
  for (int i = 0; i < 12; i++) {
    char *k;
    assert_int_equal(cp_workqueue_get(q, &k), 0);
    assert_true(k[3] == 'f');
    cp_workqueue_add_first(q, k);
    cp_workqueue_done(q, k);
    free(k);
  }
  cp_workqueue_free(q);
}

static void a_moved_key_counts_once_against_the_cap(void **state) {
  (void)state;
  cp_workqueue_opts_t o = {.max_keys = 3};
  cp_workqueue_t *q;
  assert_int_equal(cp_workqueue_new(&o, &q), 0);
  assert_int_equal(cp_workqueue_add(q, "a"), 0);
  assert_int_equal(cp_workqueue_add(q, "b"), 0);
  assert_int_equal(cp_workqueue_add_first(q, "a"), 0);
  assert_int_equal(cp_workqueue_add_first(q, "c"), 0);
  assert_int_equal(cp_workqueue_add_first(q, "d"), CP_ETOOBIG);
  expect_next(q, "a");
  assert_int_equal(cp_workqueue_add(q, "d"), 0);
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
      cmocka_unit_test(first_keys_go_ahead_of_normal_ones),
      cmocka_unit_test(a_queued_key_moves_ahead_and_is_handed_out_once),
      cmocka_unit_test(a_key_added_first_while_processed_is_requeued_ahead),
      cmocka_unit_test(first_keys_cannot_starve_normal_ones),
      cmocka_unit_test(a_moved_key_counts_once_against_the_cap),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
