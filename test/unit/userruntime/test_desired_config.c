/* The runtime's OpenClaw configuration and its Traefik route, as an operator reviewing
 * what a runtime trusts would read them: only the ingress may vouch for a user, only the
 * owner is allowed, the model key is a reference and never a value, and bad settings are
 * refused with a sentence that names them. */
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

/* The ConfigMap, and its platform.json parsed into *doc. */
static cJSON *config(fx_t *f, const cp_desired_opts_t *o, cJSON **doc) {
  cJSON *cm = NULL;
  char err[512] = "";
  int rc = cp_desired_config(f->ur, f->profile, o, &cm, err, sizeof err);
  if (rc != 0)
    fail_msg("config: %s: %s", cp_errname(rc), err);
  const char *text = cp_json_strv(cm, "data", "platform.json", NULL);
  assert_non_null(text);
  *doc = fx_parse(text);
  return cm;
}

static void gateway_trusts_only_the_ingress_for_the_owner(void **state) {
  fx_t *f = *state;
  cJSON *doc = NULL;
  cp_desired_opts_t o = {.trusted_proxies = "10.240.1.1,fd00::1/128",
                         .runtime_origin = "http://runtimes.localhost:18000"};
  cJSON *cm = config(f, &o, &doc);
  assert_string_equal(cp_json_strv(cm, "kind", NULL), "ConfigMap");
  assert_string_equal(cp_json_strv(cm, "metadata", "name", NULL), "alice-openclaw");
  fx_assert_child_meta(cm, "alice-openclaw", true);
  const cJSON *gw = cp_json_getv(doc, "gateway", NULL);
  assert_string_equal(cp_json_strv(gw, "mode", NULL), "local");
  assert_string_equal(cp_json_strv(gw, "bind", NULL), "lan");
  assert_int_equal((int)fx_num(gw, "port"), 18789);
  char *tp = cJSON_PrintUnformatted(cp_json_getv(gw, "trustedProxies", NULL));
  assert_string_equal(tp, "[\"10.240.1.1\",\"fd00::1/128\"]");
  free(tp);
  assert_string_equal(cp_json_strv(gw, "auth", "mode", NULL), "trusted-proxy");
  assert_string_equal(cp_json_strv(gw, "auth", "trustedProxy", "userHeader", NULL),
                      "X-Clawplane-User");
  char *users =
      cJSON_PrintUnformatted(cp_json_getv(gw, "auth", "trustedProxy", "allowUsers", NULL));
  assert_string_equal(users, "[\"alice\"]");
  free(users);
  char *origins = cJSON_PrintUnformatted(cp_json_getv(gw, "controlUi", "allowedOrigins", NULL));
  assert_string_equal(origins, "[\"http://alice.runtimes.localhost:18000\"]");
  free(origins);
  assert_true(
      cJSON_IsTrue(cp_json_getv(gw, "http", "endpoints", "chatCompletions", "enabled", NULL)));
  cJSON_Delete(doc);
  cJSON_Delete(cm);
}

static void model_key_is_a_reference_never_a_value(void **state) {
  fx_t *f = *state;
  cJSON *doc = NULL;
  fx_spec(f->profile, "modelProxy",
          "{\"url\":\"http://10.240.1.1:8080/v1\",\"model\":\"mock-gpt\"}");
  cJSON *cm = config(f, NULL, &doc);
  const cJSON *p = cp_json_getv(doc, "models", "providers", "clawplane", NULL);
  assert_string_equal(cp_json_strv(p, "baseUrl", NULL), "http://10.240.1.1:8080/v1");
  assert_string_equal(cp_json_strv(p, "apiKey", NULL), "${OPENAI_API_KEY}");
  assert_string_equal(cp_json_strv(p, "api", NULL), "openai-completions");
  assert_string_equal(
      cp_json_strv(cJSON_GetArrayItem(cp_json_getv(p, "models", NULL), 0), "id", NULL), "mock-gpt");
  assert_string_equal(cp_json_strv(doc, "agents", "defaults", "model", "primary", NULL),
                      "clawplane/mock-gpt");
  /* Without a profile model, the controller's default. */
  cJSON_Delete(doc);
  cJSON_Delete(cm);
  fx_spec(f->profile, "modelProxy", "{\"url\":\"http://10.240.1.1:8080/v1\"}");
  cp_desired_opts_t o = {.default_model = "local-llm"};
  cm = config(f, &o, &doc);
  assert_string_equal(cp_json_strv(doc, "agents", "defaults", "model", "primary", NULL),
                      "clawplane/local-llm");
  cJSON_Delete(doc);
  cJSON_Delete(cm);
}

static void nobody_is_trusted_by_default(void **state) {
  fx_t *f = *state;
  cJSON *doc = NULL;
  cJSON *cm = config(f, NULL, &doc);
  assert_int_equal(cJSON_GetArraySize(cp_json_getv(doc, "gateway", "trustedProxies", NULL)), 0);
  assert_int_equal(
      cJSON_GetArraySize(cp_json_getv(doc, "gateway", "controlUi", "allowedOrigins", NULL)), 0);
  cJSON_Delete(doc);
  cJSON_Delete(cm);
}

static void profile_proxies_win_over_the_flag(void **state) {
  fx_t *f = *state;
  cJSON *doc = NULL;
  fx_spec(f->profile, "ingress", "{\"trustedProxies\":[\"10.42.0.0/24\"]}");
  cp_desired_opts_t o = {.trusted_proxies = "10.240.1.1"};
  cJSON *cm = config(f, &o, &doc);
  char *tp = cJSON_PrintUnformatted(cp_json_getv(doc, "gateway", "trustedProxies", NULL));
  assert_string_equal(tp, "[\"10.42.0.0/24\"]");
  free(tp);
  cJSON_Delete(doc);
  cJSON_Delete(cm);
}

static void bad_settings_are_refused_by_name(void **state) {
  fx_t *f = *state;
  static const char *const bad[] = {"0.0.0.0/0", "10.1.2.3/8", "10.0.0.0/33",
                                    "ten",       "::/0",       "10.0.0.1/"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    cJSON *cm = NULL;
    char err[256] = "";
    cp_desired_opts_t o = {.trusted_proxies = bad[i]};
    assert_int_equal(cp_desired_config(f->ur, f->profile, &o, &cm, err, sizeof err), CP_EINVAL);
    assert_null(cm);
    assert_non_null(strstr(err, "trusted proxy"));
  }
  fx_spec(f->profile, "modelProxy", "{\"model\":\"a b\"}");
  cJSON *cm = NULL;
  char err[256] = "";
  assert_int_equal(cp_desired_config(f->ur, f->profile, NULL, &cm, err, sizeof err), CP_EINVAL);
  assert_non_null(strstr(err, "modelProxy.model"));
}

static void route_off_without_origin_or_auth(void **state) {
  fx_t *f = *state;
  cJSON *mw = NULL, *rt = NULL;
  cp_desired_opts_t o = {.runtime_origin = "https://runtimes.example.com"};
  assert_int_equal(cp_desired_route(f->ur, &o, &mw, &rt, NULL, 0), CP_ENOTFOUND);
  o = (cp_desired_opts_t){.forward_auth_url = "http://api/internal/auth/forward"};
  assert_int_equal(cp_desired_route(f->ur, &o, &mw, &rt, NULL, 0), CP_ENOTFOUND);
  assert_null(mw);
  assert_null(rt);
  o.runtime_origin = "ftp://x";
  char err[256] = "";
  assert_int_equal(cp_desired_route(f->ur, &o, &mw, &rt, err, sizeof err), CP_EINVAL);
  assert_non_null(strstr(err, "runtime origin"));
}

static void route_sends_every_request_through_forward_auth(void **state) {
  fx_t *f = *state;
  cJSON *mw = NULL, *rt = NULL;
  cp_desired_opts_t o = {.runtime_origin = "https://runtimes.example.com",
                         .forward_auth_url = "http://api.sys.svc:8080/internal/auth/forward",
                         .route_entrypoints = "websecure"};
  assert_int_equal(cp_desired_route(f->ur, &o, &mw, &rt, NULL, 0), 0);
  assert_string_equal(cp_json_strv(mw, "apiVersion", NULL), "traefik.io/v1alpha1");
  assert_string_equal(cp_json_strv(mw, "kind", NULL), "Middleware");
  fx_assert_child_meta(mw, "alice-auth", true);
  assert_string_equal(cp_json_strv(mw, "spec", "forwardAuth", "address", NULL),
                      "http://api.sys.svc:8080/internal/auth/forward");
  char *hdrs =
      cJSON_PrintUnformatted(cp_json_getv(mw, "spec", "forwardAuth", "authResponseHeaders", NULL));
  assert_string_equal(hdrs, "[\"X-Clawplane-User\",\"X-Clawplane-Role\"]");
  free(hdrs);
  assert_string_equal(cp_json_strv(rt, "kind", NULL), "IngressRoute");
  fx_assert_child_meta(rt, "alice", true);
  const cJSON *r = cJSON_GetArrayItem(cp_json_getv(rt, "spec", "routes", NULL), 0);
  assert_string_equal(cp_json_strv(r, "match", NULL), "Host(`alice.runtimes.example.com`)");
  assert_string_equal(
      cp_json_strv(cJSON_GetArrayItem(cp_json_getv(r, "middlewares", NULL), 0), "name", NULL),
      "alice-auth");
  const cJSON *svc = cJSON_GetArrayItem(cp_json_getv(r, "services", NULL), 0);
  assert_string_equal(cp_json_strv(svc, "name", NULL), "alice");
  assert_int_equal((int)fx_num(svc, "port"), 18789);
  char *eps = cJSON_PrintUnformatted(cp_json_getv(rt, "spec", "entryPoints", NULL));
  assert_string_equal(eps, "[\"websecure\"]");
  free(eps);
  cJSON_Delete(mw);
  cJSON_Delete(rt);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(gateway_trusts_only_the_ingress_for_the_owner, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(model_key_is_a_reference_never_a_value, setup, teardown),
      cmocka_unit_test_setup_teardown(nobody_is_trusted_by_default, setup, teardown),
      cmocka_unit_test_setup_teardown(profile_proxies_win_over_the_flag, setup, teardown),
      cmocka_unit_test_setup_teardown(bad_settings_are_refused_by_name, setup, teardown),
      cmocka_unit_test_setup_teardown(route_off_without_origin_or_auth, setup, teardown),
      cmocka_unit_test_setup_teardown(route_sends_every_request_through_forward_auth, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
