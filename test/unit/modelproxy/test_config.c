/* The configuration file: a full example, keys from the environment and files, the
 * models list filtered by limits, and the errors that name what is wrong (never a key). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "modelproxy/config.h"
#include "modelproxy/openai.h"

static const char GOOD[] =
    "upstreams:\n"
    "  - name: litellm\n"
    "    baseURL: http://litellm:4000/v1/\n"
    "    apiKeyEnv: CP_TEST_MP_KEY\n"
    "  - {name: anthropic, baseURL: https://a.example/v1, apiKeyFile: key.txt,"
    " auth: x-api-key}\n"
    "  - {name: local, baseURL: http://ollama:11434/v1, auth: none}\n"
    "models:\n"
    "  - name: gpt-4o-mini\n"
    "    upstream: litellm\n"
    "    upstreamModel: openai/gpt-4o-mini\n"
    "    price: {prompt: \"0.15\", completion: 0.6}\n"
    "  - {name: claude-haiku, upstream: anthropic}\n"
    "  - {name: \"*\", upstream: local}\n"
    "defaults:\n"
    "  allowedModels: [\"gpt-*\"]\n"
    "  requestsPerMinute: 60\n"
    "  monthlyCostBudgetUSD: \"12.50\"\n";

static char dir[] = "/tmp/cp-mp-config-XXXXXX";

static int setup(void **state) {
  (void)state;
  if (!mkdtemp(dir))
    return -1;
  char path[128];
  snprintf(path, sizeof path, "%s/key.txt", dir);
  FILE *f = fopen(path, "w");
  if (!f)
    return -1;
  fputs("sk-ant-file-key\n", f);
  fclose(f);
  setenv("CP_TEST_MP_KEY", "sk-env-key", 1);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  char path[128];
  snprintf(path, sizeof path, "%s/key.txt", dir);
  unlink(path);
  rmdir(dir);
  return 0;
}

static void full_example(void **state) {
  (void)state;
  cp_mp_config_t *c = NULL;
  char err[256] = "";
  assert_int_equal(cp_mp_config_parse(GOOD, strlen(GOOD), dir, &c, err, sizeof err), 0);
  assert_int_equal(c->nupstreams, 3);
  assert_string_equal(c->upstreams[0].base_url, "http://litellm:4000/v1"); /* slash trimmed */
  assert_string_equal(c->upstreams[0].api_key, "sk-env-key");
  assert_string_equal(c->upstreams[1].api_key, "sk-ant-file-key");
  assert_int_equal(c->upstreams[1].auth, CP_MP_AUTH_X_API_KEY);
  assert_null(c->upstreams[2].api_key);
  const cp_mp_model_t *m = cp_mp_config_model(c, "gpt-4o-mini");
  assert_string_equal(m->upstream_model, "openai/gpt-4o-mini");
  assert_int_equal(m->price.prompt_per_mtok, 150000);
  assert_int_equal(m->price.completion_per_mtok, 600000);
  assert_ptr_equal(cp_mp_config_model(c, "llama3")->upstream, &c->upstreams[2]); /* "*" */
  assert_int_equal(c->defaults.requests_per_minute, 60);
  assert_int_equal(c->defaults.max_streams, CP_MP_UNLIMITED);
  assert_int_equal(c->defaults.monthly_cost_microusd, 12500000);
  char *list = cp_mp_models_json(c, &c->defaults);
  assert_non_null(strstr(list, "\"gpt-4o-mini\""));
  assert_null(strstr(list, "claude-haiku")); /* not allowed by default */
  assert_null(strstr(list, "\"*\""));
  cJSON_free(list);
  cp_mp_config_free(c);
}

static void errors_name_the_problem(void **state) {
  (void)state;
  struct {
    const char *doc, *want;
  } cases[] = {
      {"upstreams: []\nmodels: [{name: a, upstream: x}]\n", "upstreams must be"},
      {"upstreams: [{name: u, baseURL: ftp://x, auth: none}]\nmodels: [{name: a, upstream: u}]\n",
       "baseURL"},
      {"upstreams: [{name: u, baseURL: http://x, apiKeyEnv: CP_TEST_MP_NOPE}]\n"
       "models: [{name: a, upstream: u}]\n",
       "CP_TEST_MP_NOPE is not set"},
      {"upstreams: [{name: u, baseURL: http://x, auth: none}]\nmodels: [{name: a, upstream: v}]\n",
       "no known upstream"},
      {"upstreams: [{name: u, baseURL: http://x, auth: none}]\n"
       "models: [{name: a, upstream: u}, {name: a, upstream: u}]\n",
       "listed twice"},
      {"upstreams: [{name: u, baseURL: http://x, auth: none}]\n"
       "models: [{name: a, upstream: u, price: {prompt: \"0.0000001\"}}]\n",
       "price"},
      {"upstreams: [{name: u, baseURL: http://x, auth: none}]\nmodels: [{name: a, upstream: u}]\n"
       "defaults: {requestsPerMinute: -5}\n",
       "requestsPerMinute"},
      {"upstreams: [", "line"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cp_mp_config_t *c = (cp_mp_config_t *)1;
    char err[256] = "";
    assert_int_not_equal(
        cp_mp_config_parse(cases[i].doc, strlen(cases[i].doc), NULL, &c, err, sizeof err), 0);
    assert_ptr_equal(c, (cp_mp_config_t *)1);
    if (!strstr(err, cases[i].want))
      fail_msg("case %zu: \"%s\" does not mention \"%s\"", i, err, cases[i].want);
  }
  setenv("CP_TEST_MP_BADKEY", "sk bad\r\nX-Injected: 1", 1);
  const char *inj = "upstreams: [{name: u, baseURL: http://x, apiKeyEnv: CP_TEST_MP_BADKEY}]\n"
                    "models: [{name: a, upstream: u}]\n";
  cp_mp_config_t *c = NULL;
  char err[256] = "";
  assert_int_equal(cp_mp_config_parse(inj, strlen(inj), NULL, &c, err, sizeof err), CP_ECONFIG);
  assert_null(strstr(err, "sk bad")); /* the key is never echoed */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(full_example),
      cmocka_unit_test(errors_name_the_problem),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
