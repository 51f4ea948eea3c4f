/* TokenReview helpers: which tokens are worth a review, the request body, reading the
 * answer (authenticated, audience, bound pod), and the token's expiry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/error.h"
#include "modelproxy/tokenreview.h"

static const char JWT[] = "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiBbIm1wIl0sICJleHAiOiAxNzk1MzIwMDAwLCAic3"
                          "ViIjogInN5c3RlbTpzZXJ2aWNlYWNjb3VudDpydDpkZWZhdWx0In0.c2ln";

static void jwt_shape_and_expiry(void **state) {
  (void)state;
  assert_true(cp_mp_looks_like_jwt(JWT, strlen(JWT)));
  assert_false(cp_mp_looks_like_jwt("0123456789abcdef", 16)); /* a Secret token */
  assert_false(cp_mp_looks_like_jwt("a..b", 4));
  assert_false(cp_mp_looks_like_jwt("a.b.c.d", 7));
  assert_false(cp_mp_looks_like_jwt("a.b c.d", 7));
  assert_true(cp_mp_jwt_expiry(JWT, strlen(JWT)) == 1795320000.0);
  assert_true(cp_mp_jwt_expiry("e30.e30.e30", 11) == 0); /* {} has no exp */
  assert_true(cp_mp_jwt_expiry("x.!!.y", 6) == 0);
}

static void request_body(void **state) {
  (void)state;
  cJSON *r = cp_mp_tokenreview_request("tok", 3, "clawplane-modelproxy");
  assert_non_null(r);
  assert_string_equal(cJSON_GetObjectItem(r, "kind")->valuestring, "TokenReview");
  cJSON *spec = cJSON_GetObjectItem(r, "spec");
  assert_string_equal(cJSON_GetObjectItem(spec, "token")->valuestring, "tok");
  assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(spec, "audiences"), 0)->valuestring,
                      "clawplane-modelproxy");
  cJSON_Delete(r);
}

static int result(const char *json, char *ns, char *pod) {
  cJSON *j = cJSON_Parse(json);
  int rc = cp_mp_tokenreview_result(j, "mp", ns, 64, pod, 64);
  cJSON_Delete(j);
  return rc;
}

static void answers(void **state) {
  (void)state;
  char ns[64] = "", pod[64] = "";
  assert_int_equal(result("{\"status\":{\"authenticated\":true,\"audiences\":[\"mp\"],\"user\":{"
                          "\"username\":\"system:serviceaccount:runtimes:default\",\"extra\":{"
                          "\"authentication.kubernetes.io/pod-name\":[\"alice\"]}}}}",
                          ns, pod),
                   0);
  assert_string_equal(ns, "runtimes");
  assert_string_equal(pod, "alice");
  const char *refused[] = {
      "{\"status\":{\"authenticated\":false}}",
      "{\"status\":{\"authenticated\":true,\"audiences\":[\"other\"],\"user\":{\"username\":"
      "\"system:serviceaccount:a:b\",\"extra\":{\"authentication.kubernetes.io/pod-name\":"
      "[\"p\"]}}}}",
      "{\"status\":{\"authenticated\":true,\"audiences\":[\"mp\"],\"user\":{\"username\":"
      "\"system:serviceaccount:a:b\"}}}",
      "{\"status\":{\"authenticated\":true,\"audiences\":[\"mp\"],\"user\":{\"username\":"
      "\"alice\",\"extra\":{\"authentication.kubernetes.io/pod-name\":[\"p\"]}}}}",
      "{}",
  };
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
    assert_int_equal(result(refused[i], ns, pod), CP_EUNAUTHORIZED);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(jwt_shape_and_expiry),
      cmocka_unit_test(request_body),
      cmocka_unit_test(answers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
