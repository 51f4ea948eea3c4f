/* What the controller owns in each child: a child as a LIST returns it (no apiVersion or
 * kind, server defaults added) is in place; hand edits that matter are drift. */
#include "desired_fixtures.h"
#include "userruntime/drift.h"

/* desired as the server would list it: no apiVersion/kind, uid and resourceVersion set. */
static cJSON *as_listed(const cJSON *desired) {
  cJSON *o = cJSON_Duplicate(desired, 1);
  assert_non_null(o);
  cJSON_DeleteItemFromObject(o, "apiVersion");
  cJSON_DeleteItemFromObject(o, "kind");
  cJSON *md = cJSON_GetObjectItem(o, "metadata");
  cJSON_AddStringToObject(md, "uid", "0000");
  cJSON_AddStringToObject(md, "resourceVersion", "42");
  return o;
}

static cJSON *build(int which) {
  cJSON *ur = fx_ur(), *prof = fx_profile(), *out = NULL;
  char err[256];
  int rc = which == 0   ? cp_desired_pod(ur, prof, NULL, &out, err, sizeof err)
           : which == 1 ? cp_desired_netpol(ur, prof, NULL, &out, err, sizeof err)
           : which == 2 ? cp_desired_service(ur, NULL, &out, err, sizeof err)
                        : cp_desired_pvc(ur, prof, NULL, &out, err, sizeof err);
  assert_int_equal(rc, 0);
  cJSON_Delete(ur);
  cJSON_Delete(prof);
  return out;
}

static void listed_children_are_in_place(void **state) {
  (void)state;
  static const cp_json_rule_t *const rules[] = {cp_ur_rules_pod_spec, cp_ur_rules_netpol,
                                                cp_ur_rules_service, cp_ur_rules_pvc};
  for (int i = 0; i < 4; i++) {
    cJSON *d = build(i), *live = as_listed(d);
    assert_null(cp_json_drift(live, d, rules[i]));
    if (i == 0)
      assert_null(cp_json_drift(live, d, cp_ur_rules_pod_meta));
    cJSON_Delete(live);
    cJSON_Delete(d);
  }
}

static void pod_server_defaults_are_not_drift(void **state) {
  (void)state;
  cJSON *d = build(0), *live = as_listed(d);
  cJSON *spec = cJSON_GetObjectItem(live, "spec");
  cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItem(spec, "containers"), 0);
  cJSON_AddStringToObject(c, "imagePullPolicy", "IfNotPresent");
  cJSON_AddStringToObject(c, "terminationMessagePath", "/dev/termination-log");
  cJSON_AddStringToObject(spec, "dnsPolicy", "ClusterFirst");
  cJSON_AddItemToObject(spec, "tolerations", fx_parse("[{\"key\":\"x\",\"operator\":\"Exists\"}]"));
  cJSON *r = cJSON_GetObjectItem(c, "resources");
  cJSON_ReplaceItemInObject(cJSON_GetObjectItem(r, "limits"), "cpu", cJSON_CreateString("1000m"));
  assert_null(cp_json_drift(live, d, cp_ur_rules_pod_spec));
  cJSON_Delete(live);
  cJSON_Delete(d);
}

static void pod_hand_edits_are_drift(void **state) {
  (void)state;
  cJSON *d = build(0), *live = as_listed(d);
  cJSON *c = cJSON_GetArrayItem(cp_json_getv(live, "spec", "containers", NULL), 0);
  cJSON_ReplaceItemInObject(c, "image", cJSON_CreateString("registry.invalid/evil:1"));
  assert_string_equal(cp_json_drift(live, d, cp_ur_rules_pod_spec), "spec/containers/*/image");
  cJSON_Delete(live);

  live = as_listed(d);
  cJSON_DeleteItemFromObject(cJSON_GetObjectItem(live, "metadata"), "ownerReferences");
  assert_null(cp_json_drift(live, d, cp_ur_rules_pod_spec)); /* repaired in place */
  assert_string_equal(cp_json_drift(live, d, cp_ur_rules_pod_meta), "metadata/ownerReferences");
  cJSON_Delete(live);

  live = as_listed(d);
  cJSON_DeleteItemFromObject((cJSON *)cp_json_getv(live, "metadata", "labels", NULL),
                             "clawplane.io/user");
  assert_string_equal(cp_json_drift(live, d, cp_ur_rules_pod_meta), "metadata/labels");
  cJSON_Delete(live);

  live = as_listed(d);
  cJSON *sc = cJSON_GetObjectItem(
      cJSON_GetArrayItem(cp_json_getv(live, "spec", "containers", NULL), 0), "securityContext");
  cJSON_AddBoolToObject(sc, "privileged", 1);
  assert_string_equal(cp_json_drift(live, d, cp_ur_rules_pod_spec),
                      "spec/containers/*/securityContext");
  cJSON_Delete(live);
  cJSON_Delete(d);
}

static void netpol_and_service_extra_keys_are_drift(void **state) {
  (void)state;
  cJSON *d = build(1), *live = as_listed(d);
  cJSON_AddStringToObject((cJSON *)cp_json_getv(live, "spec", "podSelector", "matchLabels", NULL),
                          "x", "nomatch");
  assert_string_equal(cp_json_drift(live, d, cp_ur_rules_netpol), "spec");
  cJSON_Delete(live);
  live = as_listed(d);
  cJSON *except = (cJSON *)cp_json_getv(
      cJSON_GetArrayItem(cp_json_getv(live, "spec", "egress", NULL), 2), "to", NULL);
  assert_non_null(except);
  cJSON_AddItemToObject(cJSON_GetArrayItem(except, 0), "namespaceSelector", cJSON_CreateObject());
  assert_string_equal(cp_json_drift(live, d, cp_ur_rules_netpol), "spec");
  cJSON_Delete(live);
  cJSON_Delete(d);

  d = build(2);
  live = as_listed(d);
  cJSON *spec = cJSON_GetObjectItem(live, "spec");
  cJSON_AddStringToObject(spec, "clusterIP", "10.0.0.7"); /* a server default: fine */
  assert_null(cp_json_drift(live, d, cp_ur_rules_service));
  cJSON_AddStringToObject(cJSON_GetObjectItem(spec, "selector"), "x", "nomatch");
  assert_string_equal(cp_json_drift(live, d, cp_ur_rules_service), "spec/selector");
  cJSON_Delete(live);
  cJSON_Delete(d);
}

/* The file service's Secret: in place as listed, also with an extra key nobody reads; a
 * changed token is drift (applied back). */
static void files_secret_data_is_exact(void **state) {
  (void)state;
  static const unsigned char key[] = "0123456789abcdef0123456789abcdef";
  cp_desired_opts_t o = {.files_image = "files:1", .files_key = key, .files_key_len = 32};
  cJSON *ur = fx_ur(), *d = NULL;
  assert_int_equal(cp_desired_files_secret(ur, &o, &d, NULL, 0), 0);
  cJSON *live = as_listed(d);
  assert_null(cp_json_drift(live, d, cp_ur_rules_files_secret));
  cJSON *data = cJSON_GetObjectItem(live, "data");
  cJSON_AddStringToObject(data, "extra", "c2VjcmV0");
  assert_null(cp_json_drift(live, d, cp_ur_rules_files_secret));
  cJSON_ReplaceItemInObject(data, "token", cJSON_CreateString("b3RoZXI="));
  assert_non_null(cp_json_drift(live, d, cp_ur_rules_files_secret));
  cJSON_Delete(live);
  cJSON_Delete(d);
  cJSON_Delete(ur);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(files_secret_data_is_exact),
      cmocka_unit_test(listed_children_are_in_place),
      cmocka_unit_test(pod_server_defaults_are_not_drift),
      cmocka_unit_test(pod_hand_edits_are_drift),
      cmocka_unit_test(netpol_and_service_extra_keys_are_drift),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
