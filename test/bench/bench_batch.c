/* A new runtime's independent writes against the real API server, two ways in the same run:
 * five server-side applies one after another (cp_kube_apply, the baseline, what a reconcile
 * did before) versus the same five sent at once as one batch (cp_kube_batch: streams of one
 * HTTP/2 connection, what a reconcile does now). Each group is five new ConfigMaps of about
 * the size of a runtime's children; the two ways take turns group by group so the cluster's
 * state drifts alike for both. Run it on a cluster (it makes and deletes its own namespace):
 *   hack/local-cluster exec build/default/test/bench_batch [GROUPS] [WRITERS]
 * WRITERS (1) threads each do GROUPS (40) groups each way, as that many reconcile workers
 * would. Prints the median and 90th percentile milliseconds per group each way and the ratio
 * of the medians. Gives up after 10 minutes. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/parse.h"
#include "core/time.h"
#include "kube/client.h"
#include "kube/config.h"

#define KIDS 5
#define MAX_GROUPS 1000
#define MAX_WRITERS 32

static cp_kubeconfig_t *cfg;
static char ns[64];
static long groups = 40;

typedef struct writer_s {
  int id;
  pthread_t thread;
  double ms[2][MAX_GROUPS]; /* [0]: one after another, [1]: a batch */
  int failed;
} writer_t;

/* A ConfigMap of about 1.5 KB, like a runtime's OpenClaw config. */
static cJSON *child(const char *name) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "apiVersion", "v1");
  cJSON_AddStringToObject(o, "kind", "ConfigMap");
  cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "metadata"), "name", name);
  char v[1500];
  memset(v, 'x', sizeof v - 1);
  v[sizeof v - 1] = '\0';
  cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "data"), "config", v);
  return o;
}

static void *run(void *arg) {
  writer_t *w = arg;
  const cp_gvr_t cms = CP_GVR_CONFIGMAPS;
  cp_kube_client_t *c;
  if (cp_kube_client_new(cfg, NULL, &c) != 0) {
    w->failed = 1;
    return NULL;
  }
  for (long g = 0; g < groups && !w->failed; g++) {
    for (int way = 0; way < 2 && !w->failed; way++) {
      char names[KIDS][64];
      cJSON *objs[KIDS];
      cp_kube_op_t ops[KIDS];
      for (int k = 0; k < KIDS; k++) {
        snprintf(names[k], sizeof names[k], "%c%d-%ld-%d", way ? 'b' : 's', w->id, g, k);
        objs[k] = child(names[k]);
        ops[k] = (cp_kube_op_t){.kind = CP_KUBE_OP_APPLY,
                                .gvr = &cms,
                                .ns = ns,
                                .name = names[k],
                                .obj = objs[k],
                                .field_manager = "bench",
                                .force = true};
      }
      double t0 = cp_time_mono();
      cp_status_t st = {0};
      int rc = 0;
      if (way)
        rc = cp_kube_batch(c, ops, KIDS);
      for (int k = 0; !way && k < KIDS && rc == 0; k++)
        rc = cp_kube_apply(c, &cms, ns, names[k], NULL, objs[k], "bench", true, NULL, &st);
      w->ms[way][g] = (cp_time_mono() - t0) * 1000;
      if (rc != 0) {
        fprintf(stderr, "writer %d: %s: %s\n", w->id, cp_errname(rc),
                way ? ops[0].st.message : st.message);
        w->failed = 1;
      }
      for (int k = 0; k < KIDS; k++)
        cJSON_Delete(objs[k]);
    }
  }
  cp_kube_client_free(c);
  return NULL;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void namespace_op(cp_kube_client_t *c, int create) {
  if (!create) {
    cp_kube_delete(c, &CP_GVR_NAMESPACES, NULL, ns, NULL, NULL, NULL);
    return;
  }
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "apiVersion", "v1");
  cJSON_AddStringToObject(o, "kind", "Namespace");
  cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "metadata"), "name", ns);
  cp_kube_create(c, &CP_GVR_NAMESPACES, NULL, o, NULL, NULL);
  cJSON_Delete(o);
}

int main(int argc, char **argv) {
  long writers = 1;
  if ((argc > 1 && cp_parse_long(argv[1], 1, MAX_GROUPS, &groups) != 0) ||
      (argc > 2 && cp_parse_long(argv[2], 1, MAX_WRITERS, &writers) != 0)) {
    fprintf(stderr, "usage: bench_batch [GROUPS (1-%d)] [WRITERS (1-%d)]\n", MAX_GROUPS,
            MAX_WRITERS);
    return 2;
  }
  alarm(600);
  char err[512];
  if (cp_kubeconfig_load_default(NULL, NULL, &cfg, err, sizeof err) != 0) {
    fprintf(stderr, "kubeconfig: %s\n", err);
    return 1;
  }
  cp_kube_client_t *admin;
  if (cp_kube_client_new(cfg, NULL, &admin) != 0)
    return 1;
  snprintf(ns, sizeof ns, "bench-batch-%d", (int)getpid());
  namespace_op(admin, 1);
  static writer_t w[MAX_WRITERS];
  for (long i = 0; i < writers; i++) {
    w[i].id = (int)i;
    pthread_create(&w[i].thread, NULL, run, &w[i]);
  }
  int failed = 0;
  for (long i = 0; i < writers; i++) {
    pthread_join(w[i].thread, NULL);
    failed |= w[i].failed;
  }
  namespace_op(admin, 0);
  cp_kube_client_free(admin);
  cp_kubeconfig_free(cfg);
  if (failed)
    return 1;
  double med[2];
  static double all[MAX_GROUPS * MAX_WRITERS];
  size_t n = (size_t)(groups * writers);
  for (int way = 0; way < 2; way++) {
    for (long i = 0; i < writers; i++)
      memcpy(all + i * groups, w[i].ms[way], (size_t)groups * sizeof all[0]);
    qsort(all, n, sizeof all[0], cmp);
    med[way] = all[n / 2];
    printf("%-32s writers=%ld groups=%zu median=%.1f ms p90=%.1f ms\n",
           way ? "5 applies as one batch" : "5 applies one by one (baseline)", writers, n, med[way],
           all[n * 9 / 10]);
  }
  printf("batch / one by one = %.2f\n", med[1] / med[0]);
  return 0;
}
