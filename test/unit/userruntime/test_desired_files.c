/* The file service wiring: with a files image the pod gets the `files` sidecar (restricted,
 * token from Secret N-files, the workspace on the volume, the profile's upload cap), the
 * Service names port 8090, the NetworkPolicy admits the apiserver alone on it, and Secret
 * N-files holds the token the apiserver derives itself. Without an image nothing of it. */
#include "desired_fixtures.h"
#include "auth/filestoken.h"
#include "core/error.h"

#include <openssl/evp.h>

static const unsigned char KEY[] = "0123456789abcdef0123456789abcdef-files-key";

static cp_desired_opts_t files_opts(void) {
  cp_desired_opts_t o = {.files_image = "ghcr.io/clawplane/clawplane-files:0.1.0",
                         .files_key = KEY,
                         .files_key_len = sizeof KEY - 1};
  return o;
}

static const cJSON *named(const cJSON *list, const char *name) {
  const cJSON *it;
  cJSON_ArrayForEach(it, list) {
    if (!strcmp(cp_json_strv(it, "name", NULL), name))
      return it;
  }
  return NULL;
}

static bool argv_has(const cJSON *cmd, const char *flag, const char *value) {
  for (int i = 0; i + 1 < cJSON_GetArraySize(cmd); i++)
    if (!strcmp(cJSON_GetArrayItem(cmd, i)->valuestring, flag))
      return !strcmp(cJSON_GetArrayItem(cmd, i + 1)->valuestring, value);
  return false;
}

static void sidecar_in_the_pod(void **state) {
  (void)state;
  cJSON *ur = fx_ur(), *prof = fx_profile(), *pod = NULL;
  fx_spec(prof, "files", "{\"maxUploadSize\":\"2Gi\",\"quota\":\"5Gi\"}");
  cp_desired_opts_t o = files_opts();
  char err[256] = "";
  assert_int_equal(cp_desired_pod(ur, prof, &o, &pod, err, sizeof err), 0);
  const cJSON *spec = cp_json_getv(pod, "spec", NULL);
  const cJSON *files = named(cp_json_getv(spec, "containers", NULL), "files");
  assert_non_null(files);
  assert_string_equal(cp_json_strv(files, "image", NULL), o.files_image);
  const cJSON *cmd = cp_json_getv(files, "command", NULL);
  assert_true(argv_has(cmd, "--root", "/data/workspace"));
  assert_true(argv_has(cmd, "--listen", "0.0.0.0:8090"));
  assert_true(argv_has(cmd, "--max-upload-bytes", "2147483648"));
  /* the token only by reference to Secret alice-files */
  const cJSON *env = cJSON_GetArrayItem(cp_json_getv(files, "env", NULL), 0);
  assert_string_equal(cp_json_strv(env, "name", NULL), "CLAWPLANE_FILES_TOKEN");
  assert_null(cp_json_getv(env, "value", NULL));
  assert_string_equal(cp_json_strv(env, "valueFrom", "secretKeyRef", "name", NULL), "alice-files");
  assert_string_equal(cp_json_strv(env, "valueFrom", "secretKeyRef", "key", NULL), "token");
  const cJSON *port = cJSON_GetArrayItem(cp_json_getv(files, "ports", NULL), 0);
  assert_string_equal(cp_json_strv(port, "name", NULL), "files");
  assert_int_equal((int)fx_num(port, "containerPort"), 8090);
  /* Pod Security restricted, the same uid as OpenClaw (files stay the agent's) */
  const cJSON *sc = cp_json_getv(files, "securityContext", NULL);
  assert_true(cJSON_IsTrue(cp_json_getv(sc, "runAsNonRoot", NULL)));
  assert_int_equal((int)fx_num(sc, "runAsUser"), 1000);
  assert_true(cJSON_IsFalse(cp_json_getv(sc, "allowPrivilegeEscalation", NULL)));
  assert_true(cJSON_IsTrue(cp_json_getv(sc, "readOnlyRootFilesystem", NULL)));
  assert_string_equal(
      cJSON_GetArrayItem(cp_json_getv(sc, "capabilities", "drop", NULL), 0)->valuestring, "ALL");
  assert_string_equal(cp_json_strv(sc, "seccompProfile", "type", NULL), "RuntimeDefault");
  assert_non_null(cp_json_getv(files, "resources", "limits", "memory", NULL));
  const cJSON *m = cJSON_GetArrayItem(cp_json_getv(files, "volumeMounts", NULL), 0);
  assert_string_equal(cp_json_strv(m, "name", NULL), "state");
  assert_string_equal(cp_json_strv(m, "mountPath", NULL), "/data");
  assert_string_equal(cp_json_strv(files, "readinessProbe", "httpGet", "path", NULL), "/readyz");
  assert_int_equal((int)fx_num(cp_json_getv(files, "readinessProbe", "httpGet", NULL), "port"),
                   8090);
  /* the workspace exists before either container starts */
  const cJSON *ws = named(cp_json_getv(spec, "initContainers", NULL), "workspace");
  assert_non_null(ws);
  assert_non_null(strstr(cJSON_GetArrayItem(cp_json_getv(ws, "command", NULL), 2)->valuestring,
                         "/data/workspace"));
  /* no key or token bytes anywhere in the pod */
  char *text = cJSON_PrintUnformatted(pod);
  char tok[65];
  assert_int_equal(cp_files_token(KEY, sizeof KEY - 1, "clawplane-runtimes", "alice",
                                  "6f1c1a0e-0000-4000-8000-000000000001", tok),
                   0);
  assert_null(strstr(text, tok));
  assert_null(strstr(text, (const char *)KEY));
  free(text);
  cJSON_Delete(pod);

  /* without an image: no sidecar, no workspace init, the pod as before */
  assert_int_equal(cp_desired_pod(ur, prof, NULL, &pod, err, sizeof err), 0);
  spec = cp_json_getv(pod, "spec", NULL);
  assert_int_equal(cJSON_GetArraySize(cp_json_getv(spec, "containers", NULL)), 1);
  assert_null(named(cp_json_getv(spec, "initContainers", NULL), "workspace"));
  cJSON_Delete(pod);
  cJSON_Delete(prof);
  cJSON_Delete(ur);
}

static void new_key_new_pod_hash(void **state) {
  (void)state;
  cJSON *ur = fx_ur(), *prof = fx_profile(), *a = NULL, *b = NULL;
  cp_desired_opts_t o = files_opts();
  assert_int_equal(cp_desired_pod(ur, prof, &o, &a, NULL, 0), 0);
  static const unsigned char other[] = "another-key-of-more-than-32-bytes-long!!";
  o.files_key = other;
  o.files_key_len = sizeof other - 1;
  assert_int_equal(cp_desired_pod(ur, prof, &o, &b, NULL, 0), 0);
  assert_string_not_equal(
      cp_json_strv(a, "metadata", "annotations", CP_DESIRED_HASH_ANNOTATION, NULL),
      cp_json_strv(b, "metadata", "annotations", CP_DESIRED_HASH_ANNOTATION, NULL));
  cJSON_Delete(a);
  cJSON_Delete(b);
  cJSON_Delete(prof);
  cJSON_Delete(ur);
}

static void upload_limits_from_the_profile(void **state) {
  (void)state;
  cJSON *ur = fx_ur(), *prof = fx_profile();
  cp_desired_effective_t e = {0};
  char err[256] = "";
  assert_int_equal(cp_desired_effective(ur, prof, NULL, &e, err, sizeof err), 0);
  assert_int_equal(e.files_max_upload, (int64_t)1 << 30); /* default 1Gi */
  assert_int_equal(e.files_quota, -1);                    /* no quota unless set */
  cp_desired_effective_free(&e);
  fx_spec(prof, "files", "{\"maxUploadSize\":\"100Mi\",\"quota\":\"1G\"}");
  assert_int_equal(cp_desired_effective(ur, prof, NULL, &e, err, sizeof err), 0);
  assert_int_equal(e.files_max_upload, 100 << 20);
  assert_int_equal(e.files_quota, 1000000000);
  cp_desired_effective_free(&e);
  fx_spec(prof, "files", "{\"quota\":\"lots\"}");
  assert_int_equal(cp_desired_effective(ur, prof, NULL, &e, err, sizeof err), CP_EINVAL);
  assert_non_null(strstr(err, "files.quota"));
  cJSON_Delete(prof);
  cJSON_Delete(ur);
}

static void service_names_the_files_port(void **state) {
  (void)state;
  cJSON *ur = fx_ur(), *svc = NULL;
  cp_desired_opts_t o = files_opts();
  assert_int_equal(cp_desired_service(ur, &o, &svc, NULL, 0), 0);
  const cJSON *ports = cp_json_getv(svc, "spec", "ports", NULL);
  assert_int_equal(cJSON_GetArraySize(ports), 2);
  const cJSON *p = named(ports, "files");
  assert_non_null(p);
  assert_int_equal((int)fx_num(p, "port"), 8090);
  assert_int_equal((int)fx_num(p, "targetPort"), 8090);
  cJSON_Delete(svc);
  cJSON_Delete(ur);
}

static void netpol_admits_only_the_apiserver_on_8090(void **state) {
  (void)state;
  cJSON *ur = fx_ur(), *prof = fx_profile(), *np = NULL;
  cp_desired_opts_t o = files_opts();
  o.ingress_namespace = "traefik";
  char err[256] = "";
  assert_int_equal(cp_desired_netpol(ur, prof, &o, &np, err, sizeof err), 0);
  const cJSON *ing = cp_json_getv(np, "spec", "ingress", NULL);
  assert_int_equal(cJSON_GetArraySize(ing), 2);
  /* the gateway rule unchanged: apiserver and ingress on 18789 only */
  const cJSON *gw = cJSON_GetArrayItem(ing, 0);
  assert_int_equal(cJSON_GetArraySize(cp_json_getv(gw, "from", NULL)), 2);
  assert_int_equal(cJSON_GetArraySize(cp_json_getv(gw, "ports", NULL)), 1);
  assert_int_equal((int)fx_num(cJSON_GetArrayItem(cp_json_getv(gw, "ports", NULL), 0), "port"),
                   18789);
  const cJSON *fr = cJSON_GetArrayItem(ing, 1);
  const cJSON *from = cp_json_getv(fr, "from", NULL);
  assert_int_equal(cJSON_GetArraySize(from), 1);
  const cJSON *peer = cJSON_GetArrayItem(from, 0);
  assert_string_equal(
      cp_json_strv(peer, "namespaceSelector", "matchLabels", "kubernetes.io/metadata.name", NULL),
      "clawplane-system");
  assert_string_equal(
      cp_json_strv(peer, "podSelector", "matchLabels", "app.kubernetes.io/name", NULL),
      "clawplane-apiserver");
  const cJSON *ports = cp_json_getv(fr, "ports", NULL);
  assert_int_equal(cJSON_GetArraySize(ports), 1);
  assert_int_equal((int)fx_num(cJSON_GetArrayItem(ports, 0), "port"), 8090);
  cJSON_Delete(np);
  /* without the file service there is no such rule */
  o.files_image = NULL;
  assert_int_equal(cp_desired_netpol(ur, prof, &o, &np, err, sizeof err), 0);
  assert_int_equal(cJSON_GetArraySize(cp_json_getv(np, "spec", "ingress", NULL)), 1);
  cJSON_Delete(np);
  cJSON_Delete(prof);
  cJSON_Delete(ur);
}

static void files_secret_holds_the_derived_token(void **state) {
  (void)state;
  cJSON *ur = fx_ur(), *sec = NULL;
  cp_desired_opts_t o = files_opts();
  char err[256] = "";
  assert_int_equal(cp_desired_files_secret(ur, &o, &sec, err, sizeof err), 0);
  assert_string_equal(cp_json_strv(sec, "kind", NULL), "Secret");
  fx_assert_child_meta(sec, "alice-files", true);
  const cJSON *data = cp_json_getv(sec, "data", NULL);
  assert_int_equal(cJSON_GetArraySize(data), 1);
  /* base64 decodes to what the apiserver derives from the same key and runtime */
  const char *b64 = cp_json_strv(data, "token", NULL);
  unsigned char raw[128];
  int n = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)strlen(b64));
  assert_int_equal(n, 66); /* 64 hex characters, padded to a multiple of 3 */
  char tok[65];
  assert_int_equal(cp_files_token(KEY, sizeof KEY - 1, "clawplane-runtimes", "alice",
                                  "6f1c1a0e-0000-4000-8000-000000000001", tok),
                   0);
  assert_memory_equal(raw, tok, 64);
  cJSON_Delete(sec);
  /* off without an image; refused with a short key, naming the flag */
  cJSON *out = (cJSON *)&out;
  assert_int_equal(cp_desired_files_secret(ur, NULL, &out, err, sizeof err), CP_ENOTFOUND);
  o.files_key_len = 8;
  assert_int_equal(cp_desired_files_secret(ur, &o, &out, err, sizeof err), CP_EINVAL);
  assert_non_null(strstr(err, "--files-key-file"));
  assert_ptr_equal(out, (cJSON *)&out);
  cJSON_Delete(ur);
}

static void openclaw_works_in_the_served_workspace(void **state) {
  (void)state;
  cJSON *ur = fx_ur(), *prof = fx_profile(), *cm = NULL, *doc = NULL;
  assert_int_equal(cp_desired_config(ur, prof, NULL, &cm, NULL, 0), 0);
  const char *text = cp_json_strv(cm, "data", CP_DESIRED_CONFIG_KEY, NULL);
  doc = fx_parse(text);
  assert_string_equal(cp_json_strv(doc, "agents", "defaults", "workspace", NULL),
                      "/data/workspace");
  bool listed = false;
  for (size_t i = 0; cp__desired_platform_paths[i]; i++)
    listed |= !strcmp(cp__desired_platform_paths[i], "agents.defaults.workspace");
  assert_true(listed); /* the init container writes it back at every start */
  cJSON_Delete(doc);
  cJSON_Delete(cm);
  cJSON_Delete(prof);
  cJSON_Delete(ur);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(sidecar_in_the_pod),
      cmocka_unit_test(new_key_new_pod_hash),
      cmocka_unit_test(upload_limits_from_the_profile),
      cmocka_unit_test(service_names_the_files_port),
      cmocka_unit_test(netpol_admits_only_the_apiserver_on_8090),
      cmocka_unit_test(files_secret_holds_the_derived_token),
      cmocka_unit_test(openclaw_works_in_the_served_workspace),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
