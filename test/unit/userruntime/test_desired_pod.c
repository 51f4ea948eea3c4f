/* The runtime Pod as a user and a security reviewer would inspect it: restricted
 * security context, no provider key anywhere, heap sized from the memory limit, and a
 * spec hash that moves exactly when the spec does. */
#include "desired_fixtures.h"
#include "core/error.h"

#include <stdio.h>

typedef struct fx_s {
  cJSON *ur, *profile;
} fx_t;

static int setup(void **state) {
  fx_t *f = calloc(1, sizeof(*f));
  f->ur = fx_ur();
  f->profile = fx_profile();
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx_t *f = *state;
  cJSON_Delete(f->ur);
  cJSON_Delete(f->profile);
  free(f);
  return 0;
}

static cJSON *pod(fx_t *f, const cp_desired_opts_t *o) {
  cJSON *p = NULL;
  char err[512] = "";
  int rc = cp_desired_pod(f->ur, f->profile, o, &p, err, sizeof(err));
  if (rc != 0)
    fail_msg("pod: %s: %s", cp_errname(rc), err);
  return p;
}

static const cJSON *container(const cJSON *p) {
  const cJSON *cs = cp_json_getv(p, "spec", "containers", NULL);
  assert_int_equal(cJSON_GetArraySize(cs), 1);
  return cJSON_GetArrayItem(cs, 0);
}

static const cJSON *env_named(const cJSON *p, const char *name) {
  const cJSON *e;
  cJSON_ArrayForEach(e, cp_json_getv(container(p), "env", NULL)) {
    if (strcmp(cp_json_strv(e, "name", NULL), name) == 0)
      return e;
  }
  return NULL;
}

static const char *hash_of(const cJSON *p) {
  return cp_json_strv(p, "metadata", "annotations", "clawplane.io/spec-hash", NULL);
}

static void metadata_labels_owner_and_hash(void **state) {
  fx_t *f = *state;
  cJSON *p = pod(f, NULL);
  assert_string_equal(cp_json_strv(p, "apiVersion", NULL), "v1");
  assert_string_equal(cp_json_strv(p, "kind", NULL), "Pod");
  fx_assert_child_meta(p, "alice", true);
  const char *h = hash_of(p);
  assert_non_null(h);
  assert_int_equal(strlen(h), 64);
  assert_int_equal(strspn(h, "0123456789abcdef"), 64);
  /* The annotation covers the rendered configuration too: a change that reaches the pod
   * only through its ConfigMap (here, the trusted proxies) still replaces the pod. */
  cp_desired_opts_t o = {.trusted_proxies = "10.0.0.7"};
  cJSON *q = pod(f, &o);
  char *a = cJSON_PrintUnformatted(cp_json_getv(p, "spec", NULL));
  char *b = cJSON_PrintUnformatted(cp_json_getv(q, "spec", NULL));
  assert_string_equal(a, b);
  assert_string_not_equal(hash_of(q), h);
  free(a);
  free(b);
  cJSON_Delete(q);
  cJSON_Delete(p);
}

static void restricted_security_exactly(void **state) {
  fx_t *f = *state;
  cJSON *p = pod(f, NULL);
  const cJSON *spec = cp_json_getv(p, "spec", NULL);
  const cJSON *psc = cp_json_getv(spec, "securityContext", NULL);
  assert_true(cJSON_IsTrue(cp_json_getv(psc, "runAsNonRoot", NULL)));
  assert_int_equal((int)fx_num(psc, "runAsUser"), 1000);
  assert_int_equal((int)fx_num(psc, "runAsGroup"), 1000);
  assert_int_equal((int)fx_num(psc, "fsGroup"), 1000);
  assert_string_equal(cp_json_strv(psc, "seccompProfile", "type", NULL), "RuntimeDefault");
  const cJSON *csc = cp_json_getv(container(p), "securityContext", NULL);
  assert_true(cJSON_IsTrue(cp_json_getv(csc, "runAsNonRoot", NULL)));
  assert_int_equal((int)fx_num(csc, "runAsUser"), 1000);
  assert_true(cJSON_IsFalse(cp_json_getv(csc, "allowPrivilegeEscalation", NULL)));
  assert_true(cJSON_IsTrue(cp_json_getv(csc, "readOnlyRootFilesystem", NULL)));
  assert_string_equal(cp_json_strv(csc, "seccompProfile", "type", NULL), "RuntimeDefault");
  const cJSON *drop = cp_json_getv(csc, "capabilities", "drop", NULL);
  assert_int_equal(cJSON_GetArraySize(drop), 1);
  assert_string_equal(cJSON_GetArrayItem(drop, 0)->valuestring, "ALL");
  assert_null(cp_json_getv(csc, "capabilities", "add", NULL));
  assert_null(cp_json_getv(csc, "privileged", NULL));
  assert_true(cJSON_IsFalse(cp_json_getv(spec, "automountServiceAccountToken", NULL)));
  assert_true(cJSON_IsFalse(cp_json_getv(spec, "enableServiceLinks", NULL)));
  assert_null(cp_json_getv(spec, "hostNetwork", NULL));
  assert_null(cp_json_getv(spec, "hostPID", NULL));
  /* Only emptyDir, the PVC and the ConfigMap: no hostPath (restricted forbids it). */
  const cJSON *v;
  cJSON_ArrayForEach(v, cp_json_getv(spec, "volumes", NULL)) {
    assert_true(cp_json_getv(v, "emptyDir", NULL) ||
                cp_json_getv(v, "persistentVolumeClaim", NULL) ||
                cp_json_getv(v, "configMap", NULL));
  }
  /* The init container runs under the same restrictions as the gateway. */
  const cJSON *init = cJSON_GetArrayItem(cp_json_getv(spec, "initContainers", NULL), 0);
  char *want = cJSON_PrintUnformatted(csc);
  char *got = cJSON_PrintUnformatted(cp_json_getv(init, "securityContext", NULL));
  assert_string_equal(got, want);
  free(want);
  free(got);
  cJSON_Delete(p);
}

static void container_shape(void **state) {
  fx_t *f = *state;
  cJSON *p = pod(f, NULL);
  const cJSON *spec = cp_json_getv(p, "spec", NULL), *c = container(p);
  assert_string_equal(cp_json_strv(spec, "hostname", NULL), "alice");
  assert_string_equal(cp_json_strv(spec, "restartPolicy", NULL), "Always");
  assert_string_equal(cp_json_strv(c, "name", NULL), "openclaw");
  assert_string_equal(cp_json_strv(c, "image", NULL), "ghcr.io/openclaw/openclaw@sha256:0123");
  char *cmd = cJSON_PrintUnformatted(cp_json_getv(c, "command", NULL));
  assert_string_equal(cmd, "[\"node\",\"openclaw.mjs\",\"gateway\",\"--bind\",\"lan\",\"--port\","
                           "\"18789\"]");
  free(cmd);
  /* The official image's WORKDIR, set explicitly. */
  assert_string_equal(cp_json_strv(c, "workingDir", NULL), "/app");
  const cJSON *port = cJSON_GetArrayItem(cp_json_getv(c, "ports", NULL), 0);
  assert_string_equal(cp_json_strv(port, "name", NULL), "gateway");
  assert_int_equal((int)fx_num(port, "containerPort"), 18789);
  assert_string_equal(cp_json_strv(c, "readinessProbe", "httpGet", "path", NULL), "/readyz");
  assert_int_equal((int)fx_num(cp_json_getv(c, "readinessProbe", "httpGet", NULL), "port"), 18789);
  assert_string_equal(cp_json_strv(c, "livenessProbe", "httpGet", "path", NULL), "/healthz");
  assert_string_equal(cp_json_strv(c, "resources", "limits", "memory", NULL), "2Gi");
  assert_string_equal(cp_json_strv(c, "resources", "requests", "cpu", NULL), "250m");
  /* Mounts: /tmp and HOME are emptyDirs, /data the PVC alice-state, the platform's
   * configuration the ConfigMap alice-openclaw, read-only. */
  static const char *const want[][2] = {{"/tmp", "emptyDir"},
                                        {"/home/node", "emptyDir"},
                                        {"/data", "pvc"},
                                        {"/etc/clawplane/openclaw", "configMap"}};
  for (size_t i = 0; i < 4; i++) {
    const cJSON *m, *found = NULL;
    cJSON_ArrayForEach(m, cp_json_getv(c, "volumeMounts", NULL)) {
      if (strcmp(cp_json_strv(m, "mountPath", NULL), want[i][0]) == 0)
        found = m;
    }
    assert_non_null(found);
    const char *vname = cp_json_strv(found, "name", NULL);
    const cJSON *v, *vol = NULL;
    cJSON_ArrayForEach(v, cp_json_getv(spec, "volumes", NULL)) {
      if (strcmp(cp_json_strv(v, "name", NULL), vname) == 0)
        vol = v;
    }
    assert_non_null(vol);
    if (strcmp(want[i][1], "pvc") == 0)
      assert_string_equal(cp_json_strv(vol, "persistentVolumeClaim", "claimName", NULL),
                          "alice-state");
    else if (strcmp(want[i][1], "configMap") == 0) {
      assert_string_equal(cp_json_strv(vol, "configMap", "name", NULL), "alice-openclaw");
      assert_true(cJSON_IsTrue(cp_json_getv(found, "readOnly", NULL)));
    } else
      assert_true(cJSON_IsObject(cp_json_getv(vol, "emptyDir", NULL)));
  }
  /* The live configuration is on the user's volume, so their own settings survive. */
  assert_string_equal(cp_json_strv(env_named(p, "OPENCLAW_CONFIG_PATH"), "value", NULL),
                      "/data/openclaw/openclaw.json");
  assert_string_equal(cp_json_strv(env_named(p, "OPENCLAW_STATE_DIR"), "value", NULL),
                      "/data/openclaw");
  /* Before the gateway, OpenClaw itself lays the platform's keys over that file, each
   * replaced whole, in the gateway's image. */
  const cJSON *inits = cp_json_getv(spec, "initContainers", NULL);
  assert_int_equal(cJSON_GetArraySize(inits), 2);
  const cJSON *init = cJSON_GetArrayItem(inits, 0);
  assert_string_equal(cp_json_strv(init, "name", NULL), "config");
  assert_string_equal(cp_json_strv(init, "image", NULL), "ghcr.io/openclaw/openclaw@sha256:0123");
  cmd = cJSON_PrintUnformatted(cp_json_getv(init, "command", NULL));
  assert_non_null(strstr(cmd, "[\"node\",\"openclaw.mjs\",\"config\",\"patch\",\"--file\","
                              "\"/etc/clawplane/openclaw/platform.json\""));
  assert_non_null(strstr(cmd, "\"--replace-path\",\"gateway.auth\""));
  assert_non_null(strstr(cmd, "\"--replace-path\",\"models.providers.clawplane\""));
  free(cmd);
  /* Then one request to the model proxy with the runtime's key: a wrong URL or a refused
   * key stops the pod before the gateway, where the user sees why. */
  const cJSON *check = cJSON_GetArrayItem(inits, 1);
  assert_string_equal(cp_json_strv(check, "name", NULL), "model-check");
  const char *js = cJSON_GetArrayItem(cp_json_getv(check, "command", NULL), 2)->valuestring;
  assert_non_null(strstr(js, "process.env.OPENAI_BASE_URL"));
  assert_non_null(strstr(js, "process.env.OPENAI_API_KEY"));
  /* No placement when the profile's is empty. */
  assert_null(cp_json_getv(spec, "nodeSelector", NULL));
  assert_null(cp_json_getv(spec, "tolerations", NULL));
  assert_null(cp_json_getv(spec, "priorityClassName", NULL));
  cJSON_Delete(p);
}

static void env_carries_no_provider_key(void **state) {
  fx_t *f = *state;
  fx_spec(f->ur, "env", "[{\"name\":\"TZ\",\"value\":\"Europe/Paris\"}]");
  cJSON *p = pod(f, NULL);
  const cJSON *gw = env_named(p, "OPENCLAW_GATEWAY_PASSWORD");
  assert_non_null(gw);
  assert_null(cp_json_getv(gw, "value", NULL));
  assert_string_equal(cp_json_strv(gw, "valueFrom", "secretKeyRef", "name", NULL),
                      "alice-credentials");
  assert_string_equal(cp_json_strv(gw, "valueFrom", "secretKeyRef", "key", NULL), "gateway-token");
  const cJSON *url = env_named(p, "OPENAI_BASE_URL");
  assert_string_equal(cp_json_strv(url, "value", NULL),
                      "http://clawplane-modelproxy.clawplane-system.svc:8080/v1");
  const cJSON *key = env_named(p, "OPENAI_API_KEY");
  assert_string_equal(cp_json_strv(key, "valueFrom", "secretKeyRef", "name", NULL),
                      "alice-credentials");
  assert_string_equal(cp_json_strv(key, "valueFrom", "secretKeyRef", "key", NULL),
                      "modelproxy-token");
  assert_string_equal(cp_json_strv(env_named(p, "TZ"), "value", NULL), "Europe/Paris");
  assert_string_equal(cp_json_strv(env_named(p, "HOME"), "value", NULL), "/home/node");
  /* Every variable that looks like a credential comes from this runtime's own Secret,
   * with one of its two keys; none has a literal value. */
  const cJSON *e;
  cJSON_ArrayForEach(e, cp_json_getv(container(p), "env", NULL)) {
    const char *name = cp_json_strv(e, "name", NULL);
    const cJSON *ref = cp_json_getv(e, "valueFrom", "secretKeyRef", NULL);
    if (strstr(name, "KEY") || strstr(name, "TOKEN") || strstr(name, "SECRET")) {
      assert_null(cp_json_getv(e, "value", NULL));
      assert_non_null(ref);
    }
    if (ref) {
      assert_string_equal(cp_json_strv(ref, "name", NULL), "alice-credentials");
      const char *k = cp_json_strv(ref, "key", NULL);
      assert_true(strcmp(k, "gateway-token") == 0 || strcmp(k, "modelproxy-token") == 0);
    }
    assert_null(cp_json_getv(e, "valueFrom", "configMapKeyRef", NULL));
  }
  /* Platform variables come after the user's, so $(VAR) in a user value cannot read them. */
  const cJSON *list = cp_json_getv(container(p), "env", NULL);
  int tz = -1, tok = -1, i = 0;
  cJSON_ArrayForEach(e, list) {
    if (strcmp(cp_json_strv(e, "name", NULL), "TZ") == 0)
      tz = i;
    if (strcmp(cp_json_strv(e, "name", NULL), "OPENCLAW_GATEWAY_PASSWORD") == 0)
      tok = i;
    i++;
  }
  assert_true(tz >= 0 && tok > tz);
  cJSON_Delete(p);
  /* A provider key cannot be smuggled in through the profile or the spec. */
  fx_spec(f->ur, "env", "[{\"name\":\"OPENAI_API_KEY\",\"value\":\"sk-live-0000\"}]");
  char err[512] = "";
  cJSON *out = (cJSON *)&out;
  assert_int_equal(cp_desired_pod(f->ur, f->profile, NULL, &out, err, sizeof(err)), CP_EINVAL);
  assert_ptr_equal(out, (cJSON *)&out);
  assert_non_null(strstr(err, "OPENAI_API_KEY is reserved"));
  assert_null(strstr(err, "sk-live"));
}

static void model_env_names_from_options(void **state) {
  fx_t *f = *state;
  cp_desired_opts_t o = {.model_url_env = "LLM_ENDPOINT", .model_key_env = "LLM_TOKEN"};
  cJSON *p = pod(f, &o);
  assert_non_null(env_named(p, "LLM_ENDPOINT"));
  assert_string_equal(
      cp_json_strv(env_named(p, "LLM_TOKEN"), "valueFrom", "secretKeyRef", "key", NULL),
      "modelproxy-token");
  assert_null(env_named(p, "OPENAI_API_KEY"));
  cJSON_Delete(p);
  /* And those names become reserved. */
  fx_spec(f->ur, "env", "[{\"name\":\"LLM_ENDPOINT\",\"value\":\"http://evil\"}]");
  char err[256];
  assert_int_equal(cp_desired_pod(f->ur, f->profile, &o, &p, err, sizeof(err)), CP_EINVAL);
}

static void node_options_from_memory_limit(void **state) {
  fx_t *f = *state;
  static const struct {
    const char *limit, *want;
  } cases[] = {
      {"2Gi", "--max-old-space-size=1536"},
      {"512Mi", "--max-old-space-size=384"},
      {"1G", "--max-old-space-size=715"}, /* 1e9 * 0.75 / 2^20 = 715.25 */
      {"4096Mi", "--max-old-space-size=3072"},
  };
  char json[256];
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    snprintf(json, sizeof(json),
             "{\"requests\":{\"cpu\":\"250m\",\"memory\":\"256Mi\"},\"limits\":{\"cpu\":\"1\","
             "\"memory\":\"%s\"}}",
             cases[i].limit);
    fx_spec(f->profile, "resources", json);
    cJSON *p = pod(f, NULL);
    assert_string_equal(cp_json_strv(env_named(p, "NODE_OPTIONS"), "value", NULL), cases[i].want);
    cJSON_Delete(p);
  }
  /* The user's override sizes the heap too. */
  fx_spec(f->ur, "resources", "{\"limits\":{\"memory\":\"3Gi\"}}");
  cJSON *p = pod(f, NULL);
  assert_string_equal(cp_json_strv(env_named(p, "NODE_OPTIONS"), "value", NULL),
                      "--max-old-space-size=2304");
  cJSON_Delete(p);
  /* No memory limit: no NODE_OPTIONS (Node picks its own default). */
  fx_spec(f->ur, "resources", "{}");
  fx_spec(f->profile, "resources", "{\"requests\":{\"memory\":\"512Mi\"}}");
  p = pod(f, NULL);
  assert_null(env_named(p, "NODE_OPTIONS"));
  cJSON_Delete(p);
}

static void hash_stable_and_sensitive(void **state) {
  fx_t *f = *state;
  cJSON *a = pod(f, NULL), *b = pod(f, NULL);
  char h0[65];
  snprintf(h0, sizeof(h0), "%s", hash_of(a));
  assert_string_equal(hash_of(b), h0);
  char *pa = cJSON_PrintUnformatted(a), *pb = cJSON_PrintUnformatted(b);
  assert_string_equal(pa, pb); /* the whole object, not only the hash */
  free(pa);
  free(pb);
  cJSON_Delete(a);
  cJSON_Delete(b);

  /* Things that do not change the spec do not change the hash. */
  assert_int_equal(
      cp_json_set(cJSON_GetObjectItem(f->ur, "metadata"), "generation", cJSON_CreateNumber(4)), 0);
  fx_spec(f->ur, "state", "\"Running\"");
  cJSON_DeleteItemFromObject(cJSON_GetObjectItem(f->profile, "spec"), "idleTimeout");
  a = pod(f, NULL);
  assert_string_equal(hash_of(a), h0);
  cJSON_Delete(a);

  /* Env changes it, and changes back. */
  fx_spec(f->ur, "env", "[{\"name\":\"TZ\",\"value\":\"UTC\"}]");
  a = pod(f, NULL);
  char h1[65];
  snprintf(h1, sizeof(h1), "%s", hash_of(a));
  assert_string_not_equal(h1, h0);
  cJSON_Delete(a);
  fx_spec(f->ur, "env", "[{\"name\":\"TZ\",\"value\":\"Europe/Paris\"}]");
  a = pod(f, NULL);
  assert_string_not_equal(hash_of(a), h1);
  cJSON_Delete(a);
  fx_spec(f->ur, "env", "[]");
  a = pod(f, NULL);
  assert_string_equal(hash_of(a), h0);
  cJSON_Delete(a);

  /* The image changes it. */
  fx_spec(f->profile, "allowOverrides", "{\"image\":true}");
  fx_spec(f->ur, "image", "\"ghcr.io/openclaw/openclaw@sha256:4567\"");
  a = pod(f, NULL);
  assert_string_not_equal(hash_of(a), h0);
  cJSON_Delete(a);
}

static void placement_from_profile(void **state) {
  fx_t *f = *state;
  fx_spec(f->profile, "placement",
          "{\"nodeSelector\":{\"pool\":\"agents\"},\"tolerations\":[{\"key\":\"agents\","
          "\"operator\":\"Exists\",\"effect\":\"NoSchedule\"}],\"priorityClassName\":\"low\"}");
  cJSON *p = pod(f, NULL);
  const cJSON *spec = cp_json_getv(p, "spec", NULL);
  assert_string_equal(cp_json_strv(spec, "nodeSelector", "pool", NULL), "agents");
  assert_string_equal(
      cp_json_strv(cJSON_GetArrayItem(cp_json_getv(spec, "tolerations", NULL), 0), "key", NULL),
      "agents");
  assert_string_equal(cp_json_strv(spec, "priorityClassName", NULL), "low");
  cJSON_Delete(p);
  fx_spec(f->profile, "placement", "{\"nodeSelector\":{\"pool\":3}}");
  char err[256] = "";
  assert_int_equal(cp_desired_pod(f->ur, f->profile, NULL, &p, err, sizeof(err)), CP_EINVAL);
  assert_non_null(strstr(err, "placement.nodeSelector"));
}

static void refusals_propagate_with_out_untouched(void **state) {
  fx_t *f = *state;
  fx_spec(f->ur, "image", "\"mine:latest\"");
  cJSON *out = (cJSON *)&out;
  char err[256] = "";
  assert_int_equal(cp_desired_pod(f->ur, f->profile, NULL, &out, err, sizeof(err)), CP_EINVAL);
  assert_ptr_equal(out, (cJSON *)&out);
  assert_string_equal(err, "image overrides are not allowed by profile default; remove spec.image");
  /* A NULL err buffer is fine. */
  assert_int_equal(cp_desired_pod(f->ur, f->profile, NULL, &out, NULL, 0), CP_EINVAL);
  assert_int_equal(cp_desired_pod(f->ur, NULL, NULL, &out, err, sizeof(err)), CP_EINVAL);
  assert_int_equal(cp_desired_spec_hash(NULL, err), CP_EINVAL);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(metadata_labels_owner_and_hash),
      T(restricted_security_exactly),
      T(container_shape),
      T(env_carries_no_provider_key),
      T(model_env_names_from_options),
      T(node_options_from_memory_limit),
      T(hash_stable_and_sensitive),
      T(placement_from_profile),
      T(refusals_propagate_with_out_untouched),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
