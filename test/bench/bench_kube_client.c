/* Kube client latency against the real API server, with its own baseline in the same run:
 * N GETs on one keep-alive client (HTTP/2 when offered) versus N GETs each on a fresh client
 * (new TCP + TLS handshake each time, what a client without connection reuse pays).
 *   hack/local-cluster exec build/default/test/bench_kube_client [N]
 * Prints p50/p99 per request for both and the speed-up ratio. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/parse.h"
#include "core/time.h"
#include "kube/client.h"
#include "kube/config.h"

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void report(const char *what, double *ms, int n, double total) {
  qsort(ms, (size_t)n, sizeof *ms, cmp);
  printf("%-28s n=%d  p50=%.3f ms  p99=%.3f ms  %.0f req/s\n", what, n, ms[n / 2],
         ms[(n * 99) / 100], n / total);
}

int main(int argc, char **argv) {
  long n = 500;
  if (argc > 1 && cp_parse_long(argv[1], 10, 1000000, &n) != 0) {
    fprintf(stderr, "usage: bench_kube_client [N >= 10]\n");
    return 2;
  }
  char err[512];
  cp_kubeconfig_t *cfg;
  if (cp_kubeconfig_load_default(NULL, NULL, &cfg, err, sizeof err) != 0) {
    fprintf(stderr, "kubeconfig: %s\n", err);
    return 1;
  }
  double *reuse = calloc((size_t)n, sizeof *reuse), *fresh = calloc((size_t)n, sizeof *fresh);
  cp_kube_client_t *c;
  if (!reuse || !fresh || cp_kube_client_new(cfg, NULL, &c) != 0)
    return 1;
  cp_status_t st;
  cJSON *o = NULL;
  if (cp_kube_get(c, &CP_GVR_NAMESPACES, NULL, "default", NULL, &o, &st) != 0) { /* warm up */
    fprintf(stderr, "GET failed: %s\n", st.message);
    return 1;
  }
  cJSON_Delete(o);
  double t0 = cp_time_mono();
  for (long i = 0; i < n; i++) {
    double t = cp_time_mono();
    if (cp_kube_get(c, &CP_GVR_NAMESPACES, NULL, "default", NULL, &o, &st) != 0)
      return 1;
    cJSON_Delete(o);
    reuse[i] = (cp_time_mono() - t) * 1000;
  }
  double reuse_total = cp_time_mono() - t0;
  cp_kube_client_free(c);
  t0 = cp_time_mono();
  for (long i = 0; i < n; i++) {
    double t = cp_time_mono();
    if (cp_kube_client_new(cfg, NULL, &c) != 0 ||
        cp_kube_get(c, &CP_GVR_NAMESPACES, NULL, "default", NULL, &o, &st) != 0)
      return 1;
    cJSON_Delete(o);
    cp_kube_client_free(c);
    fresh[i] = (cp_time_mono() - t) * 1000;
  }
  double fresh_total = cp_time_mono() - t0;
  report("keep-alive client", reuse, (int)n, reuse_total);
  report("new client per request", fresh, (int)n, fresh_total);
  printf("speed-up from connection reuse: %.1fx (total time ratio)\n", fresh_total / reuse_total);
  free(reuse);
  free(fresh);
  cp_kubeconfig_free(cfg);
  return 0;
}
