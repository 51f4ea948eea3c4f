/* Request bodies (routing fields, rewrite for the upstream) and the OpenAI shapes the proxy
 * writes itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "modelproxy/openai.h"
#include "modelproxy/request.h"

static int parse(const char *body, cp_mp_api_t api, cJSON **root, cp_mp_request_t *rq) {
  char err[128];
  return cp_mp_request_parse(body, strlen(body), 4096, api, root, rq, err, sizeof err);
}

static void routes(void **state) {
  (void)state;
  cp_mp_api_t api;
  assert_int_equal(cp_mp_api_from_path("/v1/chat/completions", &api), 0);
  assert_int_equal(api, CP_MP_API_CHAT);
  assert_int_equal(cp_mp_api_from_path("/v1/messages", &api), 0);
  assert_int_equal(api, CP_MP_API_MESSAGES);
  assert_int_equal(cp_mp_api_from_path("/v1/chat/completions/x", &api), CP_ENOTFOUND);
  assert_string_equal(cp_mp_api_path(CP_MP_API_EMBEDDINGS), "/embeddings");
}

static void stream_gets_include_usage(void **state) {
  (void)state;
  cJSON *root = NULL;
  cp_mp_request_t rq;
  assert_int_equal(parse("{\"model\":\"gpt-x\",\"stream\":true,\"messages\":[{\"role\":\"user\","
                         "\"content\":\"hi\"}],\"temperature\":0.2}",
                         CP_MP_API_CHAT, &root, &rq),
                   0);
  assert_string_equal(rq.model, "gpt-x");
  assert_true(rq.stream);
  assert_false(rq.client_wants_usage);
  char *out = NULL;
  size_t n = 0;
  assert_int_equal(cp_mp_request_rewrite(root, CP_MP_API_CHAT, &rq, "upstream/gpt-x", &out, &n), 0);
  cJSON *j = cJSON_Parse(out);
  assert_string_equal(cJSON_GetObjectItem(j, "model")->valuestring, "upstream/gpt-x");
  assert_true(
      cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "stream_options"), "include_usage")));
  assert_true(cJSON_GetObjectItem(j, "temperature")->valuedouble == 0.2); /* untouched */
  assert_int_equal(n, strlen(out));
  cJSON_Delete(j);
  cJSON_free(out);
  cJSON_Delete(root);
}

static void client_usage_request_and_non_streams(void **state) {
  (void)state;
  cJSON *root = NULL;
  cp_mp_request_t rq;
  assert_int_equal(parse("{\"model\":\"m\",\"stream\":true,\"stream_options\":{\"include_usage\":"
                         "true}}",
                         CP_MP_API_COMPLETIONS, &root, &rq),
                   0);
  assert_true(rq.client_wants_usage);
  cJSON_Delete(root);
  assert_int_equal(parse("{\"model\":\"m\",\"stream\":true}", CP_MP_API_EMBEDDINGS, &root, &rq), 0);
  assert_false(rq.stream); /* embeddings never stream */
  char *out = NULL;
  assert_int_equal(cp_mp_request_rewrite(root, CP_MP_API_EMBEDDINGS, &rq, NULL, &out, NULL), 0);
  assert_null(strstr(out, "stream_options"));
  cJSON_free(out);
  cJSON_Delete(root);
  assert_int_equal(parse("{\"model\":\"claude\",\"stream\":true}", CP_MP_API_MESSAGES, &root, &rq),
                   0);
  assert_int_equal(cp_mp_request_rewrite(root, CP_MP_API_MESSAGES, &rq, "", &out, NULL), 0);
  assert_null(strstr(out, "stream_options")); /* Anthropic streams carry usage themselves */
  assert_non_null(strstr(out, "\"claude\""));
  cJSON_free(out);
  cJSON_Delete(root);
}

static void bad_bodies(void **state) {
  (void)state;
  cJSON *root = (cJSON *)1;
  cp_mp_request_t rq;
  assert_int_equal(parse("", CP_MP_API_CHAT, &root, &rq), CP_EPARSE);
  assert_int_equal(parse("[1]", CP_MP_API_CHAT, &root, &rq), CP_EPARSE);
  assert_int_equal(parse("{\"messages\":[]}", CP_MP_API_CHAT, &root, &rq), CP_EINVAL);
  assert_int_equal(parse("{\"model\":\"\"}", CP_MP_API_CHAT, &root, &rq), CP_EINVAL);
  assert_int_equal(parse("{\"model\":7}", CP_MP_API_CHAT, &root, &rq), CP_EINVAL);
  assert_int_equal(parse("{\"model\":\"m\",\"stream\":\"yes\"}", CP_MP_API_CHAT, &root, &rq),
                   CP_EINVAL);
  assert_int_equal(parse("{\"model\":\"m\",\"stream_options\":1}", CP_MP_API_CHAT, &root, &rq),
                   CP_EINVAL);
  assert_ptr_equal(root, (cJSON *)1); /* untouched on failure */
  char big[5000];
  memset(big, ' ', sizeof big);
  big[sizeof big - 1] = '\0';
  big[0] = '{';
  big[sizeof big - 2] = '}';
  assert_int_equal(parse(big, CP_MP_API_CHAT, &root, &rq), CP_ETOOBIG);
}

/* Bytes that are not UTF-8 are the client's error (400), anywhere in the body: the proxy
 * would otherwise forward them upstream and record the model name in PostgreSQL. */
static void bodies_must_be_utf8(void **state) {
  (void)state;
  static const char *const bad[] = {
      "{\"model\":\"m\xe9\"}",                                       /* Latin-1 */
      "{\"model\":\"m\",\"messages\":[{\"content\":\"\xc0\x80\"}]}", /* overlong */
      "{\"model\":\"m\",\"prompt\":\"\xed\xbf\xbf\"}",               /* a surrogate */
      "{\"model\":\"m\",\"prompt\":\"\xf7\xbf\xbf\xbf\"}",           /* past U+10FFFF */
      "{\"model\":\"m\",\"prompt\":\"\xe2\x82\"}",                   /* truncated */
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    cJSON *root = (cJSON *)1;
    cp_mp_request_t rq;
    char err[128] = "";
    assert_int_equal(cp_mp_request_parse(bad[i], strlen(bad[i]), 4096, CP_MP_API_CHAT, &root, &rq,
                                         err, sizeof err),
                     CP_EPARSE);
    assert_non_null(strstr(err, "not valid UTF-8"));
    assert_ptr_equal(root, (cJSON *)1);
  }
  cJSON *root = NULL;
  cp_mp_request_t rq;
  assert_int_equal(parse("{\"model\":\"m\",\"prompt\":\"\xc3\xa9t\xc3\xa9 \xf0\x9f\x90\xbe\"}",
                         CP_MP_API_CHAT, &root, &rq),
                   0);
  cJSON_Delete(root);
}

static void openai_shapes(void **state) {
  (void)state;
  char *e = cp_mp_error_json("insufficient_quota", "insufficient_quota", "say \"no\"");
  cJSON *j = cJSON_Parse(e);
  cJSON *err = cJSON_GetObjectItem(j, "error");
  assert_string_equal(cJSON_GetObjectItem(err, "message")->valuestring, "say \"no\"");
  assert_string_equal(cJSON_GetObjectItem(err, "code")->valuestring, "insufficient_quota");
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(err, "param")));
  cJSON_Delete(j);
  cJSON_free(e);
  char *ev = cp_mp_error_event("timeout", NULL, "slow");
  assert_int_equal(strncmp(ev, "data: {\"error\":", 15), 0);
  assert_string_equal(ev + strlen(ev) - 2, "\n\n");
  free(ev);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(routes),
      cmocka_unit_test(stream_gets_include_usage),
      cmocka_unit_test(client_usage_request_and_non_streams),
      cmocka_unit_test(bad_bodies),
      cmocka_unit_test(bodies_must_be_utf8),
      cmocka_unit_test(openai_shapes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
