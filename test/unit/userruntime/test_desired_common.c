/* Effective settings and the identity every child shares: what a user sees in status
 * when the profile refuses their spec, and what they get when it does not. */
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

/* Computes effective settings expecting rc; on refusal checks out is untouched and the
 * message contains want. */
static void expect_refusal(fx_t *f, int want_rc, const char *want) {
  cp_desired_effective_t e;
  memset(&e, 0xA5, sizeof(e));
  char err[512] = "";
  int rc = cp_desired_effective(f->ur, f->profile, NULL, &e, err, sizeof(err));
  if (rc != want_rc)
    fail_msg("rc %s, want %s (%s)", cp_errname(rc), cp_errname(want_rc), err);
  if (!strstr(err, want))
    fail_msg("message \"%s\" lacks \"%s\"", err, want);
  unsigned char *b = (unsigned char *)&e;
  for (size_t i = 0; i < sizeof(e); i++)
    assert_int_equal(b[i], 0xA5);
}

static cp_desired_effective_t effective(fx_t *f) {
  cp_desired_effective_t e;
  char err[512] = "";
  int rc = cp_desired_effective(f->ur, f->profile, NULL, &e, err, sizeof(err));
  if (rc != 0)
    fail_msg("effective: %s: %s", cp_errname(rc), err);
  return e;
}

static void labels_selector_and_owner_ref(void **state) {
  fx_t *f = *state;
  cJSON *l = NULL, *s = NULL, *o = NULL;
  assert_int_equal(cp_desired_labels(f->ur, &l, NULL, 0), 0);
  assert_int_equal(cJSON_GetArraySize(l), 4);
  assert_string_equal(cp_json_strv(l, "clawplane.io/user", NULL), "alice");
  assert_string_equal(cp_json_strv(l, "app.kubernetes.io/managed-by", NULL), "clawplane");
  assert_int_equal(cp_desired_selector(f->ur, &s, NULL, 0), 0);
  assert_int_equal(cJSON_GetArraySize(s), 2);
  assert_string_equal(cp_json_strv(s, "app.kubernetes.io/instance", NULL), "alice");
  assert_string_equal(cp_json_strv(s, "app.kubernetes.io/name", NULL), "openclaw");
  assert_int_equal(cp_desired_owner_ref(f->ur, &o, NULL, 0), 0);
  assert_string_equal(cp_json_strv(o, "uid", NULL), "6f1c1a0e-0000-4000-8000-000000000001");
  assert_string_equal(cp_json_strv(o, "kind", NULL), "UserRuntime");
  assert_true(cJSON_IsTrue(cp_json_getv(o, "controller", NULL)));
  assert_true(cJSON_IsTrue(cp_json_getv(o, "blockOwnerDeletion", NULL)));
  cJSON_Delete(l);
  cJSON_Delete(s);
  cJSON_Delete(o);
}

static void identity_refusals_name_the_field(void **state) {
  (void)state;
  static const struct {
    const char *json, *want;
  } cases[] = {
      {"{\"metadata\":{\"namespace\":\"ns\",\"uid\":\"u\"},\"spec\":{\"user\":\"a\"}}",
       "no metadata.name"},
      {"{\"metadata\":{\"name\":\"Alice\",\"namespace\":\"ns\",\"uid\":\"u\"},\"spec\":{\"user\":"
       "\"a\"}}",
       "DNS-1035"},
      {"{\"metadata\":{\"name\":\"1alice\",\"namespace\":\"ns\",\"uid\":\"u\"},\"spec\":{"
       "\"user\":\"a\"}}",
       "DNS-1035"},
      {"{\"metadata\":{\"name\":\"a.b\",\"namespace\":\"ns\",\"uid\":\"u\"},\"spec\":{\"user\":"
       "\"a\"}}",
       "DNS-1035"},
      {"{\"metadata\":{\"name\":\"alice\",\"uid\":\"u\"},\"spec\":{\"user\":\"a\"}}",
       "no metadata.namespace"},
      {"{\"metadata\":{\"name\":\"alice\",\"namespace\":\"ns\"},\"spec\":{\"user\":\"a\"}}",
       "no metadata.uid"},
      {"{\"metadata\":{\"name\":\"alice\",\"namespace\":\"ns\",\"uid\":\"u\"},\"spec\":{}}",
       "spec.user is required"},
      {"{\"metadata\":{\"name\":\"alice\",\"namespace\":\"ns\",\"uid\":\"u\"},\"spec\":{\"user\":"
       "\"Bob_1\"}}",
       "DNS-1123"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    cJSON *ur = fx_parse(cases[i].json), *out = (cJSON *)&out;
    char err[256] = "";
    assert_int_equal(cp_desired_labels(ur, &out, err, sizeof(err)), CP_EINVAL);
    assert_ptr_equal(out, (cJSON *)&out);
    if (!strstr(err, cases[i].want))
      fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].want);
    cJSON_Delete(ur);
  }
}

static void defaults_come_from_the_profile(void **state) {
  fx_t *f = *state;
  cp_desired_effective_t e = effective(f);
  assert_string_equal(e.profile, "default");
  assert_string_equal(e.image, "ghcr.io/openclaw/openclaw@sha256:0123");
  assert_string_equal(cp_json_strv(e.resources, "requests", "cpu", NULL), "250m");
  assert_string_equal(cp_json_strv(e.resources, "limits", "memory", NULL), "2Gi");
  assert_int_equal(e.memory_limit, INT64_C(2147483648));
  assert_string_equal(e.storage_size, "10Gi");
  assert_null(e.storage_class); /* "" = cluster default class */
  assert_true(e.retain_on_delete);
  assert_string_equal(e.idle_timeout, "1h");
  assert_int_equal(e.idle_timeout_ms, 3600000);
  assert_int_equal(cJSON_GetArraySize(e.env), 0);
  assert_string_equal(e.model_url, "http://clawplane-modelproxy.clawplane-system.svc:8080/v1");
  cp_desired_effective_free(&e);
  cp_desired_effective_free(&e); /* zeroed by the first call */
  cp_desired_effective_free(NULL);
}

static void image_override_refused_unless_profile_allows(void **state) {
  fx_t *f = *state;
  fx_spec(f->ur, "image", "\"evil.example/openclaw:latest\"");
  expect_refusal(f, CP_EINVAL, "image overrides are not allowed by profile default");
  /* Restating the profile's own image is not an override. */
  fx_spec(f->ur, "image", "\"ghcr.io/openclaw/openclaw@sha256:0123\"");
  cp_desired_effective_t e = effective(f);
  cp_desired_effective_free(&e);
  fx_spec(f->ur, "image", "\"evil.example/openclaw:latest\"");
  fx_spec(f->profile, "allowOverrides", "{\"image\":true,\"resources\":true}");
  e = effective(f);
  assert_string_equal(e.image, "evil.example/openclaw:latest");
  cp_desired_effective_free(&e);
  fx_spec(f->ur, "image", "\"has space\"");
  expect_refusal(f, CP_EINVAL, "not a valid image reference");
}

static void image_missing_everywhere_is_refused(void **state) {
  fx_t *f = *state;
  cJSON_DeleteItemFromObject(cJSON_GetObjectItem(f->profile, "spec"), "image");
  expect_refusal(f, CP_EINVAL, "sets no image");
  cp_desired_opts_t o = {.default_image = "ghcr.io/openclaw/openclaw:stable"};
  cp_desired_effective_t e;
  assert_int_equal(cp_desired_effective(f->ur, f->profile, &o, &e, NULL, 0), 0);
  assert_string_equal(e.image, "ghcr.io/openclaw/openclaw:stable");
  cp_desired_effective_free(&e);
}

static void resources_merge_per_value(void **state) {
  fx_t *f = *state;
  fx_spec(f->ur, "resources", "{\"limits\":{\"memory\":\"3Gi\"}}");
  cp_desired_effective_t e = effective(f);
  assert_string_equal(cp_json_strv(e.resources, "limits", "memory", NULL), "3Gi");
  assert_string_equal(cp_json_strv(e.resources, "limits", "cpu", NULL), "1");
  assert_string_equal(cp_json_strv(e.resources, "requests", "memory", NULL), "512Mi");
  assert_int_equal(e.memory_limit, INT64_C(3221225472));
  cp_desired_effective_free(&e);
  /* Unquoted YAML numbers arrive as JSON numbers and become quantity strings. */
  fx_spec(f->ur, "resources", "{\"limits\":{\"cpu\":2}}");
  e = effective(f);
  assert_string_equal(cp_json_strv(e.resources, "limits", "cpu", NULL), "2");
  cp_desired_effective_free(&e);
}

static void resources_over_max_refused_naming_the_resource(void **state) {
  fx_t *f = *state;
  fx_spec(f->ur, "resources", "{\"limits\":{\"memory\":\"8Gi\"}}");
  expect_refusal(f, CP_EINVAL,
                 "resources.limits.memory 8Gi exceeds the maximum 4Gi allowed by profile default");
  fx_spec(f->ur, "resources", "{\"limits\":{\"cpu\":\"2500m\"}}");
  expect_refusal(f, CP_EINVAL, "resources.limits.cpu 2500m exceeds the maximum 2");
  fx_spec(f->ur, "resources", "{\"requests\":{\"cpu\":\"3\"},\"limits\":{\"cpu\":\"3\"}}");
  expect_refusal(f, CP_EINVAL, "resources.requests.cpu 3 exceeds the maximum 2");
  /* Exactly at the maximum is fine. */
  fx_spec(f->ur, "resources", "{\"limits\":{\"memory\":\"4096Mi\",\"cpu\":\"2\"}}");
  cp_desired_effective_t e = effective(f);
  cp_desired_effective_free(&e);
}

static void resources_other_refusals(void **state) {
  fx_t *f = *state;
  fx_spec(f->ur, "resources", "{\"requests\":{\"memory\":\"3Gi\"}}");
  expect_refusal(f, CP_EINVAL, "resources.requests.memory 3Gi exceeds resources.limits.memory 2Gi");
  fx_spec(f->ur, "resources", "{\"limits\":{\"memory\":\"lots\"}}");
  expect_refusal(f, CP_EINVAL, "spec.resources.limits.memory \"lots\" is not a valid quantity");
  fx_spec(f->ur, "resources", "{\"limits\":{\"memory\":\"-1Gi\"}}");
  expect_refusal(f, CP_EINVAL, "must not be negative");
  fx_spec(f->ur, "resources", "{\"claims\":[{\"name\":\"gpu\"}]}");
  expect_refusal(f, CP_EINVAL, "spec.resources.claims is not supported");
  fx_spec(f->ur, "resources", "{\"limits\":{\"cpu\":\"2\"}}");
  fx_spec(f->profile, "allowOverrides", "{\"image\":false,\"resources\":false}");
  expect_refusal(f, CP_EINVAL, "resource overrides are not allowed by profile default");
  /* The profile's own value restated is not an override. */
  fx_spec(f->ur, "resources", "{\"limits\":{\"cpu\":\"1000m\"}}");
  cp_desired_effective_t e = effective(f);
  cp_desired_effective_free(&e);
  fx_spec(f->ur, "resources", "{}");
  e = effective(f);
  cp_desired_effective_free(&e);
}

static void unlisted_resources_and_absent_policy_follow_the_crd(void **state) {
  fx_t *f = *state;
  /* A resource maxResources does not list has no ceiling (CRD: "by resource name"). */
  fx_spec(f->ur, "resources", "{\"limits\":{\"nvidia.com/gpu\":\"1\"}}");
  cp_desired_effective_t e = effective(f);
  assert_string_equal(cp_json_strv(e.resources, "limits", "nvidia.com/gpu", NULL), "1");
  cp_desired_effective_free(&e);
  /* No maxResources: no ceiling. No allowOverrides: resources true, image false. */
  cJSON *pspec = cJSON_GetObjectItem(f->profile, "spec");
  cJSON_DeleteItemFromObject(pspec, "maxResources");
  cJSON_DeleteItemFromObject(pspec, "allowOverrides");
  fx_spec(f->ur, "resources", "{\"limits\":{\"memory\":\"64Gi\"}}");
  e = effective(f);
  assert_string_equal(cp_json_strv(e.resources, "limits", "memory", NULL), "64Gi");
  cp_desired_effective_free(&e);
  fx_spec(f->ur, "image", "\"other/image:1\"");
  expect_refusal(f, CP_EINVAL, "image overrides are not allowed by profile default");
}

static void no_memory_limit_means_none(void **state) {
  fx_t *f = *state;
  fx_spec(f->profile, "resources", "{\"requests\":{\"cpu\":\"250m\"}}");
  cp_desired_effective_t e = effective(f);
  assert_int_equal(e.memory_limit, -1);
  assert_null(cp_json_getv(e.resources, "limits", NULL)); /* empty sections omitted */
  cp_desired_effective_free(&e);
}

static void storage_size_class_and_retain(void **state) {
  fx_t *f = *state;
  fx_spec(f->ur, "storage", "{\"size\":\"20Gi\",\"retainOnDelete\":false}");
  fx_spec(f->profile, "storage", "{\"size\":\"5Gi\",\"storageClassName\":\"fast-ssd\"}");
  cp_desired_effective_t e = effective(f);
  assert_string_equal(e.storage_size, "20Gi");
  assert_string_equal(e.storage_class, "fast-ssd");
  assert_false(e.retain_on_delete);
  cp_desired_effective_free(&e);
  fx_spec(f->ur, "storage", "{}");
  e = effective(f);
  assert_string_equal(e.storage_size, "5Gi");
  assert_true(e.retain_on_delete);
  cp_desired_effective_free(&e);
  fx_spec(f->profile, "storage", "{}");
  e = effective(f);
  assert_string_equal(e.storage_size, "10Gi");
  cp_desired_effective_free(&e);
  fx_spec(f->ur, "storage", "{\"size\":\"0\"}");
  expect_refusal(f, CP_EINVAL, "spec.storage.size must be a positive quantity");
  fx_spec(f->ur, "storage", "{\"size\":\"10 GB\"}");
  expect_refusal(f, CP_EINVAL, "spec.storage.size \"10 GB\" is not a valid quantity");
  fx_spec(f->ur, "storage", "{\"size\":\"2Ti\"}");
  fx_spec(f->profile, "maxResources", "{\"cpu\":\"2\",\"memory\":\"4Gi\",\"storage\":\"100Gi\"}");
  expect_refusal(f, CP_EINVAL, "storage size 2Ti exceeds the maximum 100Gi");
}

static void idle_timeout_spec_then_profile_then_default(void **state) {
  fx_t *f = *state;
  fx_spec(f->ur, "idleTimeout", "\"30m\"");
  cp_desired_effective_t e = effective(f);
  assert_int_equal(e.idle_timeout_ms, 1800000);
  cp_desired_effective_free(&e);
  fx_spec(f->ur, "idleTimeout", "\"0s\"");
  e = effective(f);
  assert_int_equal(e.idle_timeout_ms, 0);
  cp_desired_effective_free(&e);
  fx_spec(f->ur, "idleTimeout", "\"\"");
  fx_spec(f->profile, "idleTimeout", "\"2h\"");
  e = effective(f);
  assert_string_equal(e.idle_timeout, "2h");
  assert_int_equal(e.idle_timeout_ms, 7200000);
  cp_desired_effective_free(&e);
  cJSON_DeleteItemFromObject(cJSON_GetObjectItem(f->profile, "spec"), "idleTimeout");
  e = effective(f);
  assert_int_equal(e.idle_timeout_ms, 3600000);
  cp_desired_effective_free(&e);
  fx_spec(f->ur, "idleTimeout", "\"1d\"");
  expect_refusal(f, CP_EINVAL, "spec.idleTimeout \"1d\" is not a valid duration");
  fx_spec(f->ur, "idleTimeout", "\"-5m\"");
  expect_refusal(f, CP_EINVAL, "spec.idleTimeout \"-5m\"");
}

static void duration_parser_table(void **state) {
  (void)state;
  static const struct {
    const char *in;
    int rc;
    int64_t ms;
  } cases[] = {
      {"1h", 0, 3600000},
      {"90m", 0, 5400000},
      {"1h30m", 0, 5400000},
      {"1.5h", 0, 5400000},
      {"300ms", 0, 300},
      {"0s", 0, 0},
      {"0", 0, 0},
      {"2h45m30.5s", 0, 9930500},
      {"1500us", 0, 1},
      {"1000000ns", 0, 1},
      {"+1s", 0, 1000},
      {"-0s", 0, 0},
      {"\xc2\xb5s", CP_EINVAL, 0},
      {"1", CP_EINVAL, 0},
      {"1d", CP_EINVAL, 0},
      {"", CP_EINVAL, 0},
      {"h", CP_EINVAL, 0},
      {"1h-5m", CP_EINVAL, 0},
      {"-1h", CP_EINVAL, 0},
      {"1 h", CP_EINVAL, 0},
      {"3000000h", CP_ETOOBIG, 0},
      {"99999999999999999999s", CP_ETOOBIG, 0},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int64_t ms = -7;
    int rc = cp_desired_duration_parse(cases[i].in, &ms);
    if (rc != cases[i].rc)
      fail_msg("\"%s\": rc %s, want %s", cases[i].in, cp_errname(rc), cp_errname(cases[i].rc));
    assert_int_equal(ms, cases[i].rc == 0 ? cases[i].ms : -7);
  }
}

static void env_merges_profile_then_spec(void **state) {
  fx_t *f = *state;
  fx_spec(f->profile, "env", "[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"B\",\"value\":\"2\"}]");
  fx_spec(f->ur, "env",
          "[{\"name\":\"B\",\"value\":\"3\"},{\"name\":\"C\",\"value\":\"4\"},"
          "{\"name\":\"EMPTY\"}]");
  cp_desired_effective_t e = effective(f);
  char *text = cJSON_PrintUnformatted(e.env);
  assert_string_equal(text,
                      "[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"B\",\"value\":\"3\"},"
                      "{\"name\":\"C\",\"value\":\"4\"},{\"name\":\"EMPTY\",\"value\":\"\"}]");
  free(text);
  cp_desired_effective_free(&e);
}

static void env_reserved_names_refused(void **state) {
  fx_t *f = *state;
  static const char *const reserved[] = {
      "OPENCLAW_GATEWAY_TOKEN", "NODE_OPTIONS",      "HOME",           "OPENCLAW_CONFIG",
      "CLAWPLANE_DEBUG",        "ANTHROPIC_API_KEY", "openai_api_key", "OPENAI_API_KEY",
      "OPENAI_BASE_URL",        "MY_API_KEY_FILE",   "home",
  };
  char json[256], want[128];
  for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
    snprintf(json, sizeof(json),
             "[{\"name\":\"OK\",\"value\":\"x\"},{\"name\":\"%s\","
             "\"value\":\"sk-live-0000\"}]",
             reserved[i]);
    fx_spec(f->ur, "env", json);
    snprintf(want, sizeof(want), "spec.env[1]: %s is reserved", reserved[i]);
    expect_refusal(f, CP_EINVAL, want);
  }
  /* The API_KEY rule says why. */
  fx_spec(f->ur, "env", "[{\"name\":\"GEMINI_API_KEY\",\"value\":\"x\"}]");
  expect_refusal(f, CP_EINVAL, "no provider key reaches the runtime");
  /* Profiles obey the same rule: a platform key must go to the modelproxy instead. */
  fx_spec(f->ur, "env", "[]");
  fx_spec(f->profile, "env", "[{\"name\":\"OPENAI_API_KEY\",\"value\":\"sk-live-0000\"}]");
  expect_refusal(f, CP_EINVAL, "profile default env[0]: OPENAI_API_KEY is reserved");
}

static void env_other_refusals(void **state) {
  fx_t *f = *state;
  fx_spec(f->ur, "env",
          "[{\"name\":\"PW\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"bob-credentials\","
          "\"key\":\"gateway-token\"}}}]");
  expect_refusal(f, CP_EINVAL, "spec.env[0]: PW uses valueFrom");
  fx_spec(f->ur, "env", "[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"A\",\"value\":\"2\"}]");
  expect_refusal(f, CP_EINVAL, "spec.env lists A twice");
  fx_spec(f->ur, "env", "[{\"name\":\"1ABC\",\"value\":\"1\"}]");
  expect_refusal(f, CP_EINVAL, "spec.env[0].name must be a C identifier");
  fx_spec(f->ur, "env", "[{\"name\":\"A=B\",\"value\":\"1\"}]");
  expect_refusal(f, CP_EINVAL, "spec.env[0].name");
  fx_spec(f->ur, "env", "[{\"name\":\"A-B\",\"value\":\"1\"}]");
  expect_refusal(f, CP_EINVAL, "spec.env[0].name");
  fx_spec(f->ur, "env", "[{\"name\":\"PORT\",\"value\":8080}]");
  expect_refusal(f, CP_EINVAL, "the value of PORT must be a string");
  fx_spec(f->ur, "env", "{\"A\":\"1\"}");
  expect_refusal(f, CP_EINVAL, "spec.env must be a list");
  /* Caps: entries and value size. */
  cJSON *many = cJSON_CreateArray();
  char name[32];
  for (int i = 0; i <= CP_DESIRED_MAX_ENV; i++) {
    cJSON *e = cJSON_CreateObject();
    snprintf(name, sizeof(name), "V%d", i);
    cJSON_AddStringToObject(e, "name", name);
    cJSON_AddStringToObject(e, "value", "x");
    cJSON_AddItemToArray(many, e);
  }
  assert_int_equal(cp_json_set(cJSON_GetObjectItem(f->ur, "spec"), "env", many), 0);
  expect_refusal(f, CP_ETOOBIG, "more than 128 entries");
  char *big = malloc(CP_DESIRED_MAX_ENV_VALUE + 2);
  memset(big, 'x', CP_DESIRED_MAX_ENV_VALUE + 1);
  big[CP_DESIRED_MAX_ENV_VALUE + 1] = '\0';
  cJSON *one = fx_parse("[{\"name\":\"BIG\"}]");
  cJSON_AddStringToObject(cJSON_GetArrayItem(one, 0), "value", big);
  free(big);
  assert_int_equal(cp_json_set(cJSON_GetObjectItem(f->ur, "spec"), "env", one), 0);
  expect_refusal(f, CP_ETOOBIG, "the value of BIG is longer than");
}

static void model_url_from_profile_or_options(void **state) {
  fx_t *f = *state;
  cJSON_DeleteItemFromObject(cJSON_GetObjectItem(f->profile, "spec"), "modelProxy");
  cp_desired_opts_t o = {.modelproxy_url = "https://mp.internal:9443/v1"};
  cp_desired_effective_t e;
  assert_int_equal(cp_desired_effective(f->ur, f->profile, &o, &e, NULL, 0), 0);
  assert_string_equal(e.model_url, "https://mp.internal:9443/v1");
  cp_desired_effective_free(&e);
  fx_spec(f->profile, "modelProxy", "{\"url\":\"ftp://nope\"}");
  expect_refusal(f, CP_EINVAL, "must be an http:// or https:// URL");
}

static void endpoint_for_status(void **state) {
  fx_t *f = *state;
  char buf[128], small[8] = "keep";
  assert_int_equal(cp_desired_endpoint(f->ur, buf, sizeof(buf)), 0);
  assert_string_equal(buf, "http://alice.clawplane-runtimes.svc:18789");
  assert_int_equal(cp_desired_endpoint(f->ur, small, sizeof(small)), CP_ETOOBIG);
  assert_string_equal(small, "keep");
  assert_int_equal(cp_desired_endpoint(NULL, buf, sizeof(buf)), CP_EINVAL);
}

static void null_inputs_refused(void **state) {
  fx_t *f = *state;
  cp_desired_effective_t e;
  char err[128] = "";
  assert_int_equal(cp_desired_effective(f->ur, NULL, NULL, &e, err, sizeof(err)), CP_EINVAL);
  assert_true(strlen(err) > 0);
  assert_int_equal(cp_desired_effective(NULL, f->profile, NULL, &e, NULL, 0), CP_EINVAL);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(labels_selector_and_owner_ref),
      T(identity_refusals_name_the_field),
      T(defaults_come_from_the_profile),
      T(image_override_refused_unless_profile_allows),
      T(image_missing_everywhere_is_refused),
      T(resources_merge_per_value),
      T(resources_over_max_refused_naming_the_resource),
      T(resources_other_refusals),
      T(unlisted_resources_and_absent_policy_follow_the_crd),
      T(no_memory_limit_means_none),
      T(storage_size_class_and_retain),
      T(idle_timeout_spec_then_profile_then_default),
      T(duration_parser_table),
      T(env_merges_profile_then_spec),
      T(env_reserved_names_refused),
      T(env_other_refusals),
      T(model_url_from_profile_or_options),
      T(endpoint_for_status),
      T(null_inputs_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
