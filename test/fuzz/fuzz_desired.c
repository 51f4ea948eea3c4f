/* Fuzzes the desired-state builders with an arbitrary UserRuntime (the part users
 * write) under a permissive profile. Whatever a builder accepts must print, build to
 * the same bytes twice, and never give the pod a literal value for a credential-looking
 * variable or a secretKeyRef outside the runtime's own Secret. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json/json.h"
#include "userruntime/desired.h"

static const char PROFILE[] =
    "{\"metadata\":{\"name\":\"fuzz\"},\"spec\":{\"image\":\"img@sha256:00\","
    "\"resources\":{\"requests\":{\"cpu\":\"250m\",\"memory\":\"512Mi\"},"
    "\"limits\":{\"cpu\":\"1\",\"memory\":\"2Gi\"}},\"maxResources\":{\"cpu\":\"4\","
    "\"memory\":\"8Gi\",\"storage\":\"1Ti\"},\"allowOverrides\":{\"image\":true,"
    "\"resources\":true},\"network\":{\"egress\":[{\"cidr\":\"0.0.0.0/0\",\"ports\":[443]}]},"
    "\"env\":[{\"name\":\"TZ\",\"value\":\"UTC\"}]}}";

static void check_pod(const cJSON *pod) {
  const char *name = cp_json_strv(pod, "metadata", "name", NULL);
  char secret[128];
  size_t n = strlen(name);
  if (n + sizeof("-credentials") > sizeof(secret))
    abort();
  memcpy(secret, name, n);
  memcpy(secret + n, "-credentials", sizeof("-credentials"));
  const cJSON *c = cJSON_GetArrayItem(cp_json_getv(pod, "spec", "containers", NULL), 0);
  const cJSON *e;
  cJSON_ArrayForEach(e, cp_json_getv(c, "env", NULL)) {
    const char *en = cp_json_strv(e, "name", NULL);
    const cJSON *ref = cp_json_getv(e, "valueFrom", "secretKeyRef", NULL);
    if (ref && strcmp(cp_json_strv(ref, "name", NULL), secret) != 0)
      abort();
    bool credential = false;
    for (const char *p = en; *p && !credential; p++)
      credential = strncasecmp(p, "API_KEY", 7) == 0 || strncasecmp(p, "_TOKEN", 6) == 0;
    if (credential && !ref)
      abort();
  }
}

typedef int (*build_fn)(const cJSON *, const cJSON *, cJSON **);

static int pod(const cJSON *ur, const cJSON *pr, cJSON **out) {
  return cp_desired_pod(ur, pr, NULL, out, NULL, 0);
}
static int svc(const cJSON *ur, const cJSON *pr, cJSON **out) {
  (void)pr;
  return cp_desired_service(ur, NULL, out, NULL, 0);
}
static int netpol(const cJSON *ur, const cJSON *pr, cJSON **out) {
  return cp_desired_netpol(ur, pr, NULL, out, NULL, 0);
}
static int pvc(const cJSON *ur, const cJSON *pr, cJSON **out) {
  return cp_desired_pvc(ur, pr, NULL, out, NULL, 0);
}
static int secret(const cJSON *ur, const cJSON *pr, cJSON **out) {
  (void)pr;
  return cp_desired_secret(ur, "gw", "mp", out, NULL, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cJSON *ur = NULL, *profile = NULL;
  if (cp_json_parse((const char *)data, size, 1 << 16, &ur) != 0)
    return 0;
  if (cp_json_parse(PROFILE, sizeof(PROFILE) - 1, sizeof(PROFILE), &profile) != 0)
    abort();
  static const build_fn builders[] = {pod, svc, netpol, pvc, secret};
  for (size_t i = 0; i < sizeof(builders) / sizeof(builders[0]); i++) {
    cJSON *a = NULL, *b = NULL;
    if (builders[i](ur, profile, &a) != 0)
      continue;
    if (builders[i](ur, profile, &b) != 0)
      abort();
    char *ta = cJSON_PrintUnformatted(a), *tb = cJSON_PrintUnformatted(b);
    if (!ta || !tb || strcmp(ta, tb) != 0)
      abort();
    if (i == 0)
      check_pod(a);
    cJSON_free(ta);
    cJSON_free(tb);
    cJSON_Delete(a);
    cJSON_Delete(b);
  }
  cJSON_Delete(ur);
  cJSON_Delete(profile);
  return 0;
}
