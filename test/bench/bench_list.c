/* A full LIST of one kind against the real API server, two ways in the same run:
 * whole pages parsed into one tree each (cp_kube_list, the baseline) versus items streamed
 * one at a time (cp_kube_list_each, what the informers do), each item parsed as an informer
 * would, at two page sizes. Run it on a namespace with many objects, e.g. one kept by
 * CP_BENCH_KEEP=1 test/bench/controller_scale.sh:
 *   hack/local-cluster exec build/default/test/bench_list NAMESPACE [RESOURCE] [ROUNDS]
 * RESOURCE is a core/v1 plural (pods by default). Prints, per way and page size, the best
 * and median seconds over ROUNDS (3) and the largest single allocation a way needed for a
 * page (the tree's JSON text or one item's), and the ratio of the medians. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/parse.h"
#include "core/time.h"
#include "kube/client.h"
#include "kube/config.h"

typedef struct run_s {
  size_t items, biggest;
} run_t;

static int one_item(const char *text, size_t len, void *ud) {
  run_t *r = ud;
  cJSON *j = cJSON_ParseWithLength(text, len);
  int ok = j != NULL;
  cJSON_Delete(j);
  r->items++;
  if (len > r->biggest)
    r->biggest = len;
  return ok ? 0 : 1;
}

/* Lists everything; returns seconds, or -1 on failure. */
static double list_all(cp_kube_client_t *c, const cp_gvr_t *gvr, const char *ns, long page,
                       int stream, run_t *r) {
  char *cont = NULL;
  double t0 = cp_time_mono();
  for (;;) {
    cp_list_opts_t lo = {.limit = page, .continue_token = cont};
    cp_status_t st;
    cJSON *list = NULL;
    int rc = stream ? cp_kube_list_each(c, gvr, ns, &lo, NULL, one_item, r, &list, &st)
                    : cp_kube_list(c, gvr, ns, &lo, &list, &st);
    if (rc != 0) {
      fprintf(stderr, "list: %s\n", st.message);
      free(cont);
      return -1;
    }
    if (!stream) {
      r->items += (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(list, "items"));
      char *text = cJSON_PrintUnformatted(list); /* what the tree stood for */
      size_t n = text ? strlen(text) : 0;
      if (n > r->biggest)
        r->biggest = n;
      free(text);
    }
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(list, "metadata");
    const cJSON *next = cJSON_GetObjectItemCaseSensitive(md, "continue");
    free(cont);
    cont = cJSON_IsString(next) && *next->valuestring ? strdup(next->valuestring) : NULL;
    cJSON_Delete(list);
    if (!cont)
      break;
  }
  return cp_time_mono() - t0;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  long rounds = 3;
  if (argc < 2 || (argc > 3 && cp_parse_long(argv[3], 1, 100, &rounds) != 0)) {
    fprintf(stderr, "usage: bench_list NAMESPACE [RESOURCE] [ROUNDS]\n");
    return 2;
  }
  cp_gvr_t gvr = {"", "v1", argc > 2 ? argv[2] : "pods", 1};
  char err[512];
  cp_kubeconfig_t *cfg;
  if (cp_kubeconfig_load_default(NULL, NULL, &cfg, err, sizeof err) != 0) {
    fprintf(stderr, "kubeconfig: %s\n", err);
    return 1;
  }
  cp_kube_client_t *c;
  if (cp_kube_client_new(cfg, NULL, &c) != 0)
    return 1;
  static const long pages[] = {100, 500};
  double med[2][2] = {{0}};
  for (int p = 0; p < 2; p++) {
    for (int stream = 0; stream < 2; stream++) {
      double t[100];
      run_t r = {0};
      for (long i = 0; i < rounds; i++) {
        r = (run_t){0};
        if ((t[i] = list_all(c, &gvr, argv[1], pages[p], stream, &r)) < 0)
          return 1;
      }
      qsort(t, (size_t)rounds, sizeof t[0], cmp);
      med[p][stream] = t[rounds / 2];
      printf("%-22s page=%-4ld items=%zu best=%.3f s median=%.3f s biggest=%zu bytes\n",
             stream ? "streamed items" : "whole pages (baseline)", pages[p], r.items, t[0],
             t[rounds / 2], r.biggest);
    }
    printf("page=%ld: streamed / whole = %.2f\n", pages[p], med[p][1] / med[p][0]);
  }
  cp_kube_client_free(c);
  cp_kubeconfig_free(cfg);
  return 0;
}
