/* lib/api/runtime: apply bodies carry only the fields the apiserver owns (current
 * values) plus the change, with the resourceVersion; the view splits desired from
 * observed; a hibernated runtime needs waking until newer activity is recorded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "api/runtime.h"
#include "core/time.h"
#include "json/json.h"

static const char *UR =
    "{\"apiVersion\":\"clawplane.io/v1alpha1\",\"kind\":\"UserRuntime\","
    "\"metadata\":{\"name\":\"alice\",\"namespace\":\"rt\",\"resourceVersion\":\"42\","
    "\"generation\":3,\"creationTimestamp\":\"2026-01-01T00:00:00Z\",\"managedFields\":["
    "{\"manager\":\"clawplane-apiserver\",\"operation\":\"Apply\",\"fieldsV1\":{\"f:spec\":{"
    "\"f:user\":{},\"f:state\":{},\"f:resources\":{\"f:limits\":{\"f:memory\":{}}}}}},"
    "{\"manager\":\"kubectl\",\"operation\":\"Apply\",\"fieldsV1\":{\"f:spec\":{\"f:profile\":{}}}}"
    ","
    "{\"manager\":\"clawplane-apiserver\",\"operation\":\"Apply\",\"subresource\":\"status\","
    "\"fieldsV1\":{\"f:status\":{\"f:lastActivityTime\":{}}}}]},"
    "\"spec\":{\"user\":\"alice\",\"state\":\"Running\",\"profile\":\"gpu\","
    "\"resources\":{\"limits\":{\"memory\":\"2Gi\"}},\"storage\":{\"retainOnDelete\":true},"
    "\"idleTimeout\":\"1h\"},"
    "\"status\":{\"phase\":\"Hibernated\",\"podName\":\"\",\"restarts\":0,"
    "\"lastActivityTime\":\"2026-01-01T09:00:00Z\","
    "\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\","
    "\"lastTransitionTime\":\"2026-01-01T10:00:00Z\"}]}}";

static void owned_fields_from_managed_fields(void **state) {
  (void)state;
  cJSON *ur = cJSON_Parse(UR);
  assert_int_equal(cp_api_owned_fields(ur, "clawplane-apiserver"),
                   CP_API_F_STATE | CP_API_F_RESOURCES);
  assert_int_equal(cp_api_owned_fields(ur, "kubectl"), CP_API_F_PROFILE);
  assert_int_equal(cp_api_owned_fields(ur, "nobody"), 0);
  assert_int_equal(cp_api_owned_fields(NULL, "x"), 0);
  cJSON_Delete(ur);
}

static void apply_body_keeps_owned_and_sets_change(void **state) {
  (void)state;
  cJSON *ur = cJSON_Parse(UR), *b = NULL;
  cp_api_runtime_change_t chg = {.state = "Stopped", .retain_on_delete = -1};
  assert_int_equal(
      cp_api_runtime_apply_body(ur, "rt", "alice", "alice", "clawplane-apiserver", &chg, &b), 0);
  char *s = cJSON_PrintUnformatted(b);
  assert_string_equal(s, "{\"metadata\":{\"labels\":{\"clawplane.io/user\":\"alice\"},"
                         "\"name\":\"alice\",\"namespace\":\"rt\",\"resourceVersion\":\"42\"},"
                         "\"spec\":{\"user\":\"alice\",\"state\":\"Stopped\",\"resources\":{"
                         "\"limits\":{\"memory\":\"2Gi\"}}},\"apiVersion\":\"clawplane.io/"
                         "v1alpha1\",\"kind\":\"UserRuntime\"}");
  cJSON_free(s);
  cJSON_Delete(b);
  /* giving resources up, setting retainOnDelete; the kubectl-owned profile never appears */
  cJSON *null = cJSON_CreateNull();
  chg = (cp_api_runtime_change_t){.resources = null, .retain_on_delete = 0};
  assert_int_equal(
      cp_api_runtime_apply_body(ur, "rt", "alice", "alice", "clawplane-apiserver", &chg, &b), 0);
  assert_null(cp_json_getv(b, "spec", "resources", NULL));
  assert_null(cp_json_getv(b, "spec", "profile", NULL));
  assert_string_equal(cp_json_strv(b, "spec", "state", NULL), "Running");
  assert_true(cJSON_IsFalse(cp_json_getv(b, "spec", "storage", "retainOnDelete", NULL)));
  cJSON_Delete(b);
  cJSON_Delete(null);
  /* a new object: no resourceVersion, only the change */
  chg = (cp_api_runtime_change_t){.state = "Running", .retain_on_delete = -1};
  assert_int_equal(
      cp_api_runtime_apply_body(NULL, "rt", "bob", "bob", "clawplane-apiserver", &chg, &b), 0);
  assert_null(cp_json_getv(b, "metadata", "resourceVersion", NULL));
  assert_string_equal(cp_json_strv(b, "spec", "user", NULL), "bob");
  assert_int_equal(cJSON_GetArraySize(cp_json_getv(b, "spec", NULL)), 2);
  cJSON_Delete(b);
  assert_int_equal(cp_api_runtime_apply_body(NULL, "rt", "bob", NULL, "m", &chg, &b), -998);
  cJSON_Delete(ur);
}

static void view_splits_desired_and_observed(void **state) {
  (void)state;
  cJSON *ur = cJSON_Parse(UR);
  cJSON *v = cp_api_runtime_view(ur);
  assert_string_equal(cp_json_strv(v, "name", NULL), "alice");
  assert_string_equal(cp_json_strv(v, "user", NULL), "alice");
  assert_string_equal(cp_json_strv(v, "createdAt", NULL), "2026-01-01T00:00:00Z");
  assert_string_equal(cp_json_strv(v, "desired", "profile", NULL), "gpu");
  assert_string_equal(cp_json_strv(v, "desired", "idleTimeout", NULL), "1h");
  assert_string_equal(cp_json_strv(v, "observed", "phase", NULL), "Hibernated");
  assert_string_equal(cp_json_strv(v, "observed", "ready", NULL), "False");
  assert_null(cp_json_getv(v, "metadata", NULL));
  assert_null(cp_json_getv(v, "observed", "endpoint", NULL));
  cJSON_Delete(v);
  cJSON *bare = cJSON_Parse("{\"metadata\":{\"name\":\"x\"},\"spec\":{\"user\":\"x\"}}");
  v = cp_api_runtime_view(bare);
  assert_int_equal(cJSON_GetArraySize(cp_json_getv(v, "observed", NULL)), 0);
  cJSON_Delete(v);
  cJSON_Delete(bare);
  cJSON_Delete(ur);
}

static void wake_rules(void **state) {
  (void)state;
  cJSON *ur = cJSON_Parse(UR);
  double hib, at = 0;
  assert_int_equal(cp_time_parse("2026-01-01T10:00:00Z", &hib), 0);
  /* activity older than the hibernation: wake, at a time after it */
  assert_true(cp_api_wake_needed(ur, hib + 100.2, &at));
  assert_true(at == hib + 101);
  /* a clock behind the hibernation time still writes something newer */
  assert_true(cp_api_wake_needed(ur, hib - 5, &at));
  assert_true(at == hib + 1);
  cJSON *b = cp_api_activity_body("rt", "alice", hib + 1);
  assert_string_equal(cp_json_strv(b, "status", "lastActivityTime", NULL), "2026-01-01T10:00:01Z");
  /* once newer activity is recorded, no more waking */
  cJSON_ReplaceItemInObject(cJSON_GetObjectItem(ur, "status"), "lastActivityTime",
                            cJSON_CreateString("2026-01-01T10:00:01Z"));
  assert_false(cp_api_wake_needed(ur, hib + 200, &at));
  cJSON_ReplaceItemInObject(cJSON_GetObjectItem(ur, "status"), "phase",
                            cJSON_CreateString("Running"));
  assert_false(cp_api_wake_needed(ur, hib + 200, &at));
  cJSON_Delete(b);
  cJSON_Delete(ur);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(owned_fields_from_managed_fields),
      cmocka_unit_test(apply_body_keeps_owned_and_sets_change),
      cmocka_unit_test(view_splits_desired_and_observed),
      cmocka_unit_test(wake_rules),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
