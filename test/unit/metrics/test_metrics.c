/* Prometheus registry: the exact text a scraper sees, escaping, sorting, definitions
 * refused or shared, and exact totals under concurrent updates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "metrics/metrics.h"

/* Renders reg and compares with want; the buffer is freed. */
static void assert_render(cp_metrics_t *reg, const char *want) {
  cp_buf_t b;
  cp_buf_init(&b, 1 << 20);
  assert_int_equal(cp_metrics_render(reg, &b), 0);
  assert_string_equal(b.data ? b.data : "", want);
  cp_buf_free(&b);
}

static void counter_with_labels_sorted(void **state) {
  (void)state;
  cp_metrics_t *reg;
  assert_int_equal(cp_metrics_new(&reg), 0);
  cp_metric_t *c;
  assert_int_equal(cp_metrics_counter(reg, "controller_runtime_reconcile_total",
                                      "Total number of reconciliations per controller",
                                      (const char *const[]){"controller", "result", NULL}, &c),
                   0);
  assert_int_equal(cp_counter_add(c, CP_LABELS("userruntime", "success"), 1), 0);
  assert_int_equal(cp_counter_add(c, CP_LABELS("userruntime", "success"), 2), 0);
  assert_int_equal(cp_counter_add(c, CP_LABELS("userruntime", "error"), 1), 0);
  assert_int_equal(cp_counter_add(c, CP_LABELS("runtimeprofile", "success"), 0.5), 0);
  /* counters never go down; a gauge operation on a counter is refused */
  assert_int_equal(cp_counter_add(c, CP_LABELS("userruntime", "success"), -1), CP_EINVAL);
  assert_int_equal(cp_gauge_set(c, CP_LABELS("userruntime", "success"), 7), CP_EINVAL);
  /* a label-less counter shows at 0 before any update; a labelled one with no child not */
  cp_metric_t *plain, *unused;
  assert_int_equal(cp_metrics_counter(reg, "a_total", "Plain.", NULL, &plain), 0);
  assert_int_equal(
      cp_metrics_counter(reg, "b_total", "Unused.", (const char *const[]){"x", NULL}, &unused), 0);
  assert_render(reg, "# HELP a_total Plain.\n"
                     "# TYPE a_total counter\n"
                     "a_total 0\n"
                     "# HELP controller_runtime_reconcile_total Total number of "
                     "reconciliations per controller\n"
                     "# TYPE controller_runtime_reconcile_total counter\n"
                     "controller_runtime_reconcile_total{controller=\"runtimeprofile\","
                     "result=\"success\"} 0.5\n"
                     "controller_runtime_reconcile_total{controller=\"userruntime\","
                     "result=\"error\"} 1\n"
                     "controller_runtime_reconcile_total{controller=\"userruntime\","
                     "result=\"success\"} 3\n");
  cp_metrics_free(reg);
}

static double depth_value = 0;
static double depth(void *ud) {
  return *(double *)ud;
}

static void gauges_and_gauge_functions(void **state) {
  (void)state;
  cp_metrics_t *reg;
  assert_int_equal(cp_metrics_new(&reg), 0);
  cp_metric_t *depth_g, *leader;
  assert_int_equal(cp_metrics_gauge(reg, "workqueue_depth", "Current depth of workqueue",
                                    (const char *const[]){"name", NULL}, &depth_g),
                   0);
  assert_int_equal(cp_metrics_gauge(reg, "leader_election_master_status",
                                    "Gauge of if the reporting system is master of the "
                                    "relevant lease, 0 indicates backup, 1 indicates master.",
                                    (const char *const[]){"name", NULL}, &leader),
                   0);
  depth_value = 3;
  assert_int_equal(cp_gauge_set_func(depth_g, CP_LABELS("userruntime"), depth, &depth_value), 0);
  assert_int_equal(cp_gauge_set(depth_g, CP_LABELS("other"), 2), 0);
  assert_int_equal(cp_gauge_add(depth_g, CP_LABELS("other"), -0.25), 0);
  assert_int_equal(cp_gauge_set(leader, CP_LABELS("clawplane-controller"), 1), 0);
  const char *leader_text =
      "# HELP leader_election_master_status Gauge of if the reporting system is master of the "
      "relevant lease, 0 indicates backup, 1 indicates master.\n"
      "# TYPE leader_election_master_status gauge\n"
      "leader_election_master_status{name=\"clawplane-controller\"} 1\n";
  char want[2048];
  snprintf(want, sizeof want,
           "%s# HELP workqueue_depth Current depth of workqueue\n"
           "# TYPE workqueue_depth gauge\n"
           "workqueue_depth{name=\"other\"} 1.75\n"
           "workqueue_depth{name=\"userruntime\"} 3\n",
           leader_text);
  assert_render(reg, want);
  /* evaluated at scrape time */
  depth_value = 42;
  snprintf(want, sizeof want,
           "%s# HELP workqueue_depth Current depth of workqueue\n"
           "# TYPE workqueue_depth gauge\n"
           "workqueue_depth{name=\"other\"} 1.75\n"
           "workqueue_depth{name=\"userruntime\"} 42\n",
           leader_text);
  assert_render(reg, want);
  /* cleared: the stored value (0) shows again */
  assert_int_equal(cp_gauge_set_func(depth_g, CP_LABELS("userruntime"), NULL, NULL), 0);
  snprintf(want, sizeof want,
           "%s# HELP workqueue_depth Current depth of workqueue\n"
           "# TYPE workqueue_depth gauge\n"
           "workqueue_depth{name=\"other\"} 1.75\n"
           "workqueue_depth{name=\"userruntime\"} 0\n",
           leader_text);
  assert_render(reg, want);
  cp_metrics_free(reg);
}

static void histogram_buckets_sum_count(void **state) {
  (void)state;
  cp_metrics_t *reg;
  assert_int_equal(cp_metrics_new(&reg), 0);
  cp_metric_t *h;
  const double buckets[] = {0.1, 0.5, 1, INFINITY};
  assert_int_equal(cp_metrics_histogram(reg, "controller_runtime_reconcile_time_seconds",
                                        "Length of time per reconciliation per controller",
                                        (const char *const[]){"controller", NULL}, buckets, 4, &h),
                   0);
  const double obs[] = {0.05, 0.1, 0.3, 0.75, 2, 0.5};
  for (size_t i = 0; i < sizeof obs / sizeof *obs; i++)
    assert_int_equal(cp_histogram_observe(h, CP_LABELS("userruntime"), obs[i]), 0);
  assert_render(reg, "# HELP controller_runtime_reconcile_time_seconds Length of time per "
                     "reconciliation per controller\n"
                     "# TYPE controller_runtime_reconcile_time_seconds histogram\n"
                     "controller_runtime_reconcile_time_seconds_bucket{controller=\"userruntime\","
                     "le=\"0.1\"} 2\n"
                     "controller_runtime_reconcile_time_seconds_bucket{controller=\"userruntime\","
                     "le=\"0.5\"} 4\n"
                     "controller_runtime_reconcile_time_seconds_bucket{controller=\"userruntime\","
                     "le=\"1\"} 5\n"
                     "controller_runtime_reconcile_time_seconds_bucket{controller=\"userruntime\","
                     "le=\"+Inf\"} 6\n"
                     "controller_runtime_reconcile_time_seconds_sum{controller=\"userruntime\"} "
                     "3.7\n"
                     "controller_runtime_reconcile_time_seconds_count{controller=\"userruntime\"}"
                     " 6\n");
  /* unsorted buckets, and "le" as a label name, are refused */
  cp_metric_t *bad = NULL;
  const double unsorted[] = {1, 0.5};
  assert_int_equal(cp_metrics_histogram(reg, "bad_seconds", "", NULL, unsorted, 2, &bad),
                   CP_EINVAL);
  assert_int_equal(cp_metrics_histogram(reg, "bad_seconds", "", (const char *const[]){"le", NULL},
                                        NULL, 0, &bad),
                   CP_EINVAL);
  assert_null(bad);
  cp_metrics_free(reg);
}

static void label_values_and_help_escaped(void **state) {
  (void)state;
  cp_metrics_t *reg;
  assert_int_equal(cp_metrics_new(&reg), 0);
  cp_metric_t *c;
  assert_int_equal(cp_metrics_counter(reg, "rest_client_requests_total",
                                      "Requests by \\ \"code\"\nand method",
                                      (const char *const[]){"code", "host", "method", NULL}, &c),
                   0);
  assert_int_equal(cp_counter_add(c, CP_LABELS("200", "a\\b\"c\nd", "GET"), 1), 0);
  assert_render(reg, "# HELP rest_client_requests_total Requests by \\\\ \"code\"\\nand method\n"
                     "# TYPE rest_client_requests_total counter\n"
                     "rest_client_requests_total{code=\"200\",host=\"a\\\\b\\\"c\\nd\","
                     "method=\"GET\"} 1\n");
  cp_metrics_free(reg);
}

static void definitions_checked_and_shared(void **state) {
  (void)state;
  cp_metrics_t *reg;
  assert_int_equal(cp_metrics_new(&reg), 0);
  cp_metric_t *a = NULL, *b = NULL;
  assert_int_equal(cp_metrics_counter(reg, "workqueue_adds_total", "Adds",
                                      (const char *const[]){"name", NULL}, &a),
                   0);
  /* same definition: the same metric; a different one: refused */
  assert_int_equal(cp_metrics_counter(reg, "workqueue_adds_total", "Adds",
                                      (const char *const[]){"name", NULL}, &b),
                   0);
  assert_ptr_equal(a, b);
  b = NULL;
  assert_int_equal(cp_metrics_gauge(reg, "workqueue_adds_total", "Adds",
                                    (const char *const[]){"name", NULL}, &b),
                   CP_EINVAL);
  assert_int_equal(cp_metrics_counter(reg, "workqueue_adds_total", "Adds", NULL, &b), CP_EINVAL);
  assert_null(b);
  assert_int_equal(cp_metrics_counter(reg, "9bad", "", NULL, &b), CP_EINVAL);
  assert_int_equal(cp_metrics_counter(reg, "ok_total", "", (const char *const[]){"__x", NULL}, &b),
                   CP_EINVAL);
  assert_int_equal(
      cp_metrics_counter(reg, "ok_total", "", (const char *const[]){"a", "a", NULL}, &b),
      CP_EINVAL);
  /* a NULL label value is refused; a cached child is the same object as the lookup */
  cp_metric_child_t *ch = NULL, *ch2 = NULL;
  assert_int_equal(cp_metric_child(a, (const char *const[]){NULL}, &ch), CP_EINVAL);
  assert_null(ch);
  assert_int_equal(cp_metric_child(a, CP_LABELS("q"), &ch), 0);
  assert_int_equal(cp_metric_child(a, CP_LABELS("q"), &ch2), 0);
  assert_ptr_equal(ch, ch2);
  cp_metric_child_add(ch, 2);
  cp_metric_child_add(ch, -5); /* ignored on a counter */
  assert_render(reg, "# HELP workqueue_adds_total Adds\n"
                     "# TYPE workqueue_adds_total counter\n"
                     "workqueue_adds_total{name=\"q\"} 2\n");
  /* a render that does not fit leaves the buffer as it was */
  cp_buf_t small;
  cp_buf_init(&small, 16);
  assert_int_equal(cp_buf_puts(&small, "keep"), 0);
  assert_int_equal(cp_metrics_render(reg, &small), CP_ETOOBIG);
  assert_string_equal(small.data, "keep");
  cp_buf_free(&small);
  cp_metrics_free(reg);
}

static void values_formatted_round_trip(void **state) {
  (void)state;
  cp_metrics_t *reg;
  assert_int_equal(cp_metrics_new(&reg), 0);
  cp_metric_t *g;
  assert_int_equal(cp_metrics_gauge(reg, "v", "Values.", (const char *const[]){"k", NULL}, &g), 0);
  assert_int_equal(cp_gauge_set(g, CP_LABELS("a"), 0.1 + 0.2), 0);
  assert_int_equal(cp_gauge_set(g, CP_LABELS("b"), 1e21), 0);
  assert_int_equal(cp_gauge_set(g, CP_LABELS("c"), -INFINITY), 0);
  assert_int_equal(cp_gauge_set(g, CP_LABELS("d"), NAN), 0);
  assert_int_equal(cp_gauge_set(g, CP_LABELS("e"), 1.5e-7), 0);
  assert_int_equal(cp_gauge_set(g, CP_LABELS("f"), 123456789), 0);
  assert_render(reg, "# HELP v Values.\n"
                     "# TYPE v gauge\n"
                     "v{k=\"a\"} 0.30000000000000004\n"
                     "v{k=\"b\"} 1e+21\n"
                     "v{k=\"c\"} -Inf\n"
                     "v{k=\"d\"} NaN\n"
                     "v{k=\"e\"} 1.5e-07\n"
                     "v{k=\"f\"} 123456789\n");
  cp_metrics_free(reg);
}

#define THREADS 8
#define ITERS 20000

typedef struct worker_s {
  cp_metric_t *counter, *hist;
  cp_metric_child_t *cached;
  int id;
} worker_t;

/* Finds "name value" in text and returns the value, or NaN when the sample is missing. */
static double sample(const char *text, const char *name) {
  char pat[128];
  snprintf(pat, sizeof pat, "\n%s ", name);
  const char *p = strstr(text, pat);
  return p ? strtod(p + strlen(pat), NULL) : NAN;
}

static double busy_total;
static double read_busy(void *ud) {
  (void)ud;
  return busy_total;
}

static void process_collectors_read_proc(void **state) {
  (void)state;
  cp_metrics_t *reg;
  assert_int_equal(cp_metrics_new(&reg), 0);
  assert_int_equal(cp_metrics_process(reg), 0);
  /* a counter function shows what it returns; a gauge function is refused on it */
  cp_metric_t *busy;
  assert_int_equal(cp_metrics_counter(reg, "x_busy_seconds_total", "Busy.", NULL, &busy), 0);
  assert_int_equal(cp_counter_set_func(busy, NULL, read_busy, NULL), 0);
  assert_int_equal(cp_gauge_set_func(busy, NULL, read_busy, NULL), CP_EINVAL);
  busy_total = 2.5;
  cp_buf_t b;
  cp_buf_init(&b, 1 << 20);
  assert_int_equal(cp_metrics_render(reg, &b), 0);
  const char *t = b.data;
  assert_non_null(strstr(t, "# TYPE process_cpu_seconds_total counter\n"));
  assert_non_null(strstr(t, "# TYPE process_resident_memory_bytes gauge\n"));
  assert_true(sample(t, "x_busy_seconds_total") == 2.5);
  assert_true(sample(t, "process_cpu_seconds_total") >= 0);
  double rss = sample(t, "process_resident_memory_bytes");
  assert_true(rss > 1 << 20 && rss < 1e10);
  assert_true(sample(t, "process_virtual_memory_bytes") >= rss);
  double fds = sample(t, "process_open_fds");
  assert_true(fds >= 3);
  assert_true(sample(t, "process_max_fds") >= fds);
  double start = sample(t, "process_start_time_seconds");
  assert_true(start > 1.5e9 && start <= (double)time(NULL) + 1);
  /* three more descriptors open are three more counted */
  int p1[2], extra = open("/dev/null", O_RDONLY);
  assert_int_equal(pipe(p1), 0);
  cp_buf_reset(&b);
  assert_int_equal(cp_metrics_render(reg, &b), 0);
  assert_true(sample(b.data, "process_open_fds") == fds + 3);
  close(p1[0]);
  close(p1[1]);
  close(extra);
  cp_buf_free(&b);
  cp_metrics_free(reg);
}

static void *work(void *arg) {
  worker_t *w = arg;
  const char *names[] = {"a", "b", "c"};
  for (int i = 0; i < ITERS; i++) {
    cp_counter_add(w->counter, CP_LABELS(names[i % 3]), 1);
    cp_metric_child_add(w->cached, 1);
    cp_histogram_observe(w->hist, NULL, (i % 2) ? 0.25 : 2);
  }
  return NULL;
}

static void concurrent_updates_exact(void **state) {
  (void)state;
  cp_metrics_t *reg;
  assert_int_equal(cp_metrics_new(&reg), 0);
  cp_metric_t *c, *h;
  assert_int_equal(
      cp_metrics_counter(reg, "ops_total", "Ops", (const char *const[]){"k", NULL}, &c), 0);
  const double b[] = {1};
  assert_int_equal(cp_metrics_histogram(reg, "lat_seconds", "Lat", NULL, b, 1, &h), 0);
  cp_metric_child_t *cached;
  assert_int_equal(cp_metric_child(c, CP_LABELS("cached"), &cached), 0);
  pthread_t t[THREADS];
  worker_t w[THREADS];
  for (int i = 0; i < THREADS; i++) {
    w[i] = (worker_t){c, h, cached, i};
    assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
  }
  /* scrapes while writers run must not crash or tear */
  for (int i = 0; i < 20; i++) {
    cp_buf_t s;
    cp_buf_init(&s, 1 << 20);
    assert_int_equal(cp_metrics_render(reg, &s), 0);
    cp_buf_free(&s);
  }
  for (int i = 0; i < THREADS; i++)
    pthread_join(t[i], NULL);
  char want[2048];
  const long total = (long)THREADS * ITERS;
  /* 160000 / 3 per key: a gets the extra two of every thread's remainder */
  long per_a = (long)THREADS * ((ITERS + 2) / 3), per_b = (long)THREADS * ((ITERS + 1) / 3),
       per_c = (long)THREADS * (ITERS / 3);
  snprintf(want, sizeof want,
           "# HELP lat_seconds Lat\n"
           "# TYPE lat_seconds histogram\n"
           "lat_seconds_bucket{le=\"1\"} %ld\n"
           "lat_seconds_bucket{le=\"+Inf\"} %ld\n"
           "lat_seconds_sum %ld\n"
           "lat_seconds_count %ld\n"
           "# HELP ops_total Ops\n"
           "# TYPE ops_total counter\n"
           "ops_total{k=\"a\"} %ld\n"
           "ops_total{k=\"b\"} %ld\n"
           "ops_total{k=\"c\"} %ld\n"
           "ops_total{k=\"cached\"} %ld\n",
           total / 2, total, (total / 2) * 2 + (total / 2) / 4, total, per_a, per_b, per_c, total);
  assert_render(reg, want);
  cp_metrics_free(reg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(counter_with_labels_sorted),
      cmocka_unit_test(gauges_and_gauge_functions),
      cmocka_unit_test(histogram_buckets_sum_count),
      cmocka_unit_test(label_values_and_help_escaped),
      cmocka_unit_test(definitions_checked_and_shared),
      cmocka_unit_test(values_formatted_round_trip),
      cmocka_unit_test(concurrent_updates_exact),
      cmocka_unit_test(process_collectors_read_proc),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
