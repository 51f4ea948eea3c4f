/* The state volume: size and class from the effective settings, and an ownerReference
 * exactly when the user asked for the volume to go with the runtime. */
#include "desired_fixtures.h"
#include "core/error.h"

static cJSON *pvc(cJSON *ur, cJSON *profile) {
  cJSON *p = NULL;
  char err[256] = "";
  int rc = cp_desired_pvc(ur, profile, NULL, &p, err, sizeof(err));
  if (rc != 0)
    fail_msg("pvc: %s: %s", cp_errname(rc), err);
  return p;
}

static void retained_by_default_without_owner(void **state) {
  (void)state;
  cJSON *ur = fx_ur(), *profile = fx_profile();
  cJSON *p = pvc(ur, profile);
  assert_string_equal(cp_json_strv(p, "apiVersion", NULL), "v1");
  assert_string_equal(cp_json_strv(p, "kind", NULL), "PersistentVolumeClaim");
  fx_assert_child_meta(p, "alice-state", false); /* labels, but no ownerReferences */
  const cJSON *spec = cp_json_getv(p, "spec", NULL);
  const cJSON *modes = cp_json_getv(spec, "accessModes", NULL);
  assert_int_equal(cJSON_GetArraySize(modes), 1);
  assert_string_equal(cJSON_GetArrayItem(modes, 0)->valuestring, "ReadWriteOnce");
  assert_string_equal(cp_json_strv(spec, "resources", "requests", "storage", NULL), "10Gi");
  assert_null(cp_json_getv(spec, "storageClassName", NULL)); /* "" -> cluster default */
  cJSON_Delete(p);
  fx_spec(ur, "storage", "{\"retainOnDelete\":true}");
  p = pvc(ur, profile);
  assert_null(cp_json_getv(p, "metadata", "ownerReferences", NULL));
  cJSON_Delete(p);
  cJSON_Delete(ur);
  cJSON_Delete(profile);
}

static void owned_when_retain_on_delete_false(void **state) {
  (void)state;
  cJSON *ur = fx_ur(), *profile = fx_profile();
  fx_spec(ur, "storage", "{\"size\":\"25Gi\",\"retainOnDelete\":false}");
  fx_spec(profile, "storage", "{\"size\":\"10Gi\",\"storageClassName\":\"fast-ssd\"}");
  cJSON *p = pvc(ur, profile);
  fx_assert_child_meta(p, "alice-state", true);
  assert_string_equal(cp_json_strv(p, "spec", "resources", "requests", "storage", NULL), "25Gi");
  assert_string_equal(cp_json_strv(p, "spec", "storageClassName", NULL), "fast-ssd");
  cJSON_Delete(p);
  cJSON_Delete(ur);
  cJSON_Delete(profile);
}

static void refusals(void **state) {
  (void)state;
  cJSON *ur = fx_ur(), *profile = fx_profile(), *out = (cJSON *)&out;
  char err[256] = "";
  fx_spec(ur, "storage", "{\"size\":\"ten gigs\"}");
  assert_int_equal(cp_desired_pvc(ur, profile, NULL, &out, err, sizeof(err)), CP_EINVAL);
  assert_ptr_equal(out, (cJSON *)&out);
  assert_non_null(strstr(err, "spec.storage.size"));
  fx_spec(ur, "storage", "{\"size\":\"1Ti\"}");
  fx_spec(profile, "maxResources", "{\"storage\":\"100Gi\"}");
  assert_int_equal(cp_desired_pvc(ur, profile, NULL, &out, err, sizeof(err)), CP_EINVAL);
  assert_non_null(strstr(err, "storage size 1Ti exceeds the maximum 100Gi"));
  assert_int_equal(cp_desired_pvc(ur, NULL, NULL, &out, err, sizeof(err)), CP_EINVAL);
  assert_ptr_equal(out, (cJSON *)&out);
  cJSON_Delete(ur);
  cJSON_Delete(profile);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(retained_by_default_without_owner),
      cmocka_unit_test(owned_when_retain_on_delete_false),
      cmocka_unit_test(refusals),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
