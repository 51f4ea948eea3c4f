/* Fixtures for the desired-state builder tests: the UserRuntime and RuntimeProfile of
 * DESIGN.md as cJSON trees, plus small helpers to edit them and to check what every
 * child must carry. Header-only (static) so each test binary stays self-contained. */
#ifndef CP_TEST_DESIRED_FIXTURES_H
#define CP_TEST_DESIRED_FIXTURES_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"
#include "userruntime/desired.h"

static const char *const FX_UR =
    "{\"apiVersion\":\"clawplane.io/v1alpha1\",\"kind\":\"UserRuntime\","
    "\"metadata\":{\"name\":\"alice\",\"namespace\":\"clawplane-runtimes\","
    "\"uid\":\"6f1c1a0e-0000-4000-8000-000000000001\",\"generation\":3},"
    "\"spec\":{\"user\":\"alice\",\"state\":\"Running\",\"profile\":\"default\"}}";

static const char *const FX_PROFILE =
    "{\"apiVersion\":\"clawplane.io/v1alpha1\",\"kind\":\"RuntimeProfile\","
    "\"metadata\":{\"name\":\"default\"},\"spec\":{"
    "\"image\":\"ghcr.io/openclaw/openclaw@sha256:0123\","
    "\"resources\":{\"requests\":{\"cpu\":\"250m\",\"memory\":\"512Mi\"},"
    "\"limits\":{\"cpu\":\"1\",\"memory\":\"2Gi\"}},"
    "\"maxResources\":{\"cpu\":\"2\",\"memory\":\"4Gi\"},"
    "\"allowOverrides\":{\"image\":false,\"resources\":true},"
    "\"storage\":{\"size\":\"10Gi\",\"storageClassName\":\"\"},"
    "\"idleTimeout\":\"1h\","
    "\"network\":{\"egress\":[{\"cidr\":\"203.0.113.0/24\",\"ports\":[443]}]},"
    "\"modelProxy\":{\"url\":\"http://clawplane-modelproxy.clawplane-system.svc:8080/v1\"},"
    "\"placement\":{\"nodeSelector\":{},\"tolerations\":[],\"priorityClassName\":\"\"},"
    "\"env\":[]}}";

static inline cJSON *fx_parse(const char *s) {
  cJSON *o = NULL;
  assert_int_equal(cp_json_parse(s, strlen(s), 1 << 20, &o), 0);
  return o;
}

static inline cJSON *fx_ur(void) {
  return fx_parse(FX_UR);
}

static inline cJSON *fx_profile(void) {
  return fx_parse(FX_PROFILE);
}

/* obj.spec[key] = parsed json (replacing). */
static inline void fx_spec(cJSON *obj, const char *key, const char *json) {
  assert_int_equal(cp_json_set(cp_json_child_object(obj, "spec"), key, fx_parse(json)), 0);
}

/* The four labels and (when owned) the one controller ownerReference to alice. */
static inline void fx_assert_child_meta(const cJSON *o, const char *name, bool owned) {
  assert_string_equal(cp_json_strv(o, "metadata", "name", NULL), name);
  assert_string_equal(cp_json_strv(o, "metadata", "namespace", NULL), "clawplane-runtimes");
  const cJSON *l = cp_json_getv(o, "metadata", "labels", NULL);
  assert_int_equal(cJSON_GetArraySize(l), 4);
  assert_string_equal(cp_json_strv(l, "app.kubernetes.io/name", NULL), "openclaw");
  assert_string_equal(cp_json_strv(l, "app.kubernetes.io/instance", NULL), "alice");
  assert_string_equal(cp_json_strv(l, "app.kubernetes.io/managed-by", NULL), "clawplane");
  assert_string_equal(cp_json_strv(l, "clawplane.io/user", NULL), "alice");
  const cJSON *refs = cp_json_getv(o, "metadata", "ownerReferences", NULL);
  if (!owned) {
    assert_null(refs);
    return;
  }
  assert_int_equal(cJSON_GetArraySize(refs), 1);
  const cJSON *r = cJSON_GetArrayItem(refs, 0);
  assert_string_equal(cp_json_strv(r, "apiVersion", NULL), "clawplane.io/v1alpha1");
  assert_string_equal(cp_json_strv(r, "kind", NULL), "UserRuntime");
  assert_string_equal(cp_json_strv(r, "name", NULL), "alice");
  assert_string_equal(cp_json_strv(r, "uid", NULL), "6f1c1a0e-0000-4000-8000-000000000001");
  assert_true(cJSON_IsTrue(cp_json_getv(r, "controller", NULL)));
  assert_true(cJSON_IsTrue(cp_json_getv(r, "blockOwnerDeletion", NULL)));
}

/* Number at a path (asserts it is a number). */
static inline double fx_num(const cJSON *o, const char *key) {
  const cJSON *n = cp_json_getv(o, key, NULL);
  assert_true(cJSON_IsNumber(n));
  return n->valuedouble;
}

#endif
