/* The runtime Service: stable ClusterIP on 18789 selecting exactly this runtime's pod. */
#include "desired_fixtures.h"
#include "core/error.h"

static void clusterip_on_gateway_port(void **state) {
  (void)state;
  cJSON *ur = fx_ur(), *svc = NULL;
  char err[256] = "";
  assert_int_equal(cp_desired_service(ur, NULL, &svc, err, sizeof(err)), 0);
  assert_string_equal(cp_json_strv(svc, "apiVersion", NULL), "v1");
  assert_string_equal(cp_json_strv(svc, "kind", NULL), "Service");
  fx_assert_child_meta(svc, "alice", true);
  const cJSON *spec = cp_json_getv(svc, "spec", NULL);
  assert_string_equal(cp_json_strv(spec, "type", NULL), "ClusterIP");
  const cJSON *ports = cp_json_getv(spec, "ports", NULL);
  assert_int_equal(cJSON_GetArraySize(ports), 1);
  const cJSON *p = cJSON_GetArrayItem(ports, 0);
  assert_string_equal(cp_json_strv(p, "name", NULL), "gateway");
  assert_string_equal(cp_json_strv(p, "protocol", NULL), "TCP");
  assert_int_equal((int)fx_num(p, "port"), 18789);
  assert_int_equal((int)fx_num(p, "targetPort"), 18789);
  /* Selector: the instance labels and nothing else (the pod carries all four). */
  const cJSON *sel = cp_json_getv(spec, "selector", NULL);
  assert_int_equal(cJSON_GetArraySize(sel), 2);
  assert_string_equal(cp_json_strv(sel, "app.kubernetes.io/name", NULL), "openclaw");
  assert_string_equal(cp_json_strv(sel, "app.kubernetes.io/instance", NULL), "alice");
  cJSON_Delete(svc);
  cJSON_Delete(ur);
}

static void same_input_same_bytes(void **state) {
  (void)state;
  cJSON *ur = fx_ur(), *a = NULL, *b = NULL;
  assert_int_equal(cp_desired_service(ur, NULL, &a, NULL, 0), 0);
  assert_int_equal(cp_desired_service(ur, NULL, &b, NULL, 0), 0);
  char *ta = cJSON_PrintUnformatted(a), *tb = cJSON_PrintUnformatted(b);
  assert_string_equal(ta, tb);
  free(ta);
  free(tb);
  cJSON_Delete(a);
  cJSON_Delete(b);
  cJSON_Delete(ur);
}

static void refuses_a_name_a_service_cannot_have(void **state) {
  (void)state;
  cJSON *ur = fx_ur(), *out = (cJSON *)&out;
  assert_int_equal(
      cp_json_set(cJSON_GetObjectItem(ur, "metadata"), "name", cJSON_CreateString("9lives")), 0);
  char err[256] = "";
  assert_int_equal(cp_desired_service(ur, NULL, &out, err, sizeof(err)), CP_EINVAL);
  assert_ptr_equal(out, (cJSON *)&out);
  assert_non_null(strstr(err, "DNS-1035"));
  assert_int_equal(cp_desired_service(NULL, NULL, &out, err, sizeof(err)), CP_EINVAL);
  cJSON_Delete(ur);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(clusterip_on_gateway_port),
      cmocka_unit_test(same_input_same_bytes),
      cmocka_unit_test(refuses_a_name_a_service_cannot_have),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
