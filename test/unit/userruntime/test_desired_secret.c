/* The credentials Secret and the token generator: the tokens land in data, base64, and
 * never in an error message. */
#include "desired_fixtures.h"
#include "core/error.h"

#include <openssl/evp.h>

static void decode(const char *b64, char *out, size_t outlen) {
  unsigned char buf[256];
  int n = EVP_DecodeBlock(buf, (const unsigned char *)b64, (int)strlen(b64));
  assert_true(n >= 0);
  size_t len = strlen(b64);
  while (len > 0 && b64[len - 1] == '=') { /* EVP_DecodeBlock keeps padding bytes */
    n--;
    len--;
  }
  assert_true((size_t)n < outlen);
  memcpy(out, buf, (size_t)n);
  out[n] = '\0';
}

static void opaque_secret_with_both_tokens(void **state) {
  (void)state;
  char gw[65], mp[65];
  assert_int_equal(cp_desired_new_token(gw), 0);
  assert_int_equal(cp_desired_new_token(mp), 0);
  cJSON *ur = fx_ur(), *s = NULL;
  char err[256] = "";
  assert_int_equal(cp_desired_secret(ur, gw, mp, &s, err, sizeof(err)), 0);
  assert_string_equal(cp_json_strv(s, "apiVersion", NULL), "v1");
  assert_string_equal(cp_json_strv(s, "kind", NULL), "Secret");
  assert_string_equal(cp_json_strv(s, "type", NULL), "Opaque");
  fx_assert_child_meta(s, "alice-credentials", true);
  const cJSON *data = cp_json_getv(s, "data", NULL);
  assert_int_equal(cJSON_GetArraySize(data), 2);
  assert_null(cp_json_getv(s, "stringData", NULL));
  char got[128];
  decode(cp_json_strv(data, "gateway-token", NULL), got, sizeof(got));
  assert_string_equal(got, gw);
  decode(cp_json_strv(data, "modelproxy-token", NULL), got, sizeof(got));
  assert_string_equal(got, mp);
  cJSON_Delete(s);
  /* Same tokens, same bytes: re-applying is a no-op. */
  cJSON *a = NULL, *b = NULL;
  assert_int_equal(cp_desired_secret(ur, "t1", "t2", &a, NULL, 0), 0);
  assert_int_equal(cp_desired_secret(ur, "t1", "t2", &b, NULL, 0), 0);
  char *ta = cJSON_PrintUnformatted(a), *tb = cJSON_PrintUnformatted(b);
  assert_string_equal(ta, tb);
  assert_string_equal(cp_json_strv(a, "data", "gateway-token", NULL), "dDE=");
  free(ta);
  free(tb);
  cJSON_Delete(a);
  cJSON_Delete(b);
  cJSON_Delete(ur);
}

static void tokens_are_random_hex(void **state) {
  (void)state;
  char a[65], b[65];
  memset(a, 'X', sizeof(a));
  assert_int_equal(cp_desired_new_token(a), 0);
  assert_int_equal(cp_desired_new_token(b), 0);
  assert_int_equal(strlen(a), 64);
  assert_int_equal(strspn(a, "0123456789abcdef"), 64);
  assert_string_not_equal(a, b);
  assert_int_equal(cp_desired_new_token(NULL), CP_EINVAL);
}

static void bad_tokens_refused_without_echo(void **state) {
  (void)state;
  cJSON *ur = fx_ur(), *out = (cJSON *)&out;
  char err[512] = "";
  assert_int_equal(cp_desired_secret(ur, "", "mp-secret-value", &out, err, sizeof(err)), CP_EINVAL);
  assert_ptr_equal(out, (cJSON *)&out);
  assert_non_null(strstr(err, "gateway-token"));
  assert_null(strstr(err, "mp-secret-value"));
  assert_int_equal(cp_desired_secret(ur, "gw-secret-value", NULL, &out, err, sizeof(err)),
                   CP_EINVAL);
  assert_non_null(strstr(err, "modelproxy-token"));
  assert_null(strstr(err, "gw-secret-value"));
  char *big = malloc(CP_DESIRED_TOKEN_MAX + 2);
  memset(big, 'Q', CP_DESIRED_TOKEN_MAX + 1);
  big[CP_DESIRED_TOKEN_MAX + 1] = '\0';
  assert_int_equal(cp_desired_secret(ur, big, "x", &out, err, sizeof(err)), CP_EINVAL);
  assert_null(strstr(err, "QQQQ"));
  big[CP_DESIRED_TOKEN_MAX] = '\0'; /* exactly at the cap is accepted */
  assert_int_equal(cp_desired_secret(ur, big, "x", &out, err, sizeof(err)), 0);
  cJSON_Delete(out);
  free(big);
  cJSON_Delete(ur);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(opaque_secret_with_both_tokens),
      cmocka_unit_test(tokens_are_random_hex),
      cmocka_unit_test(bad_tokens_refused_without_echo),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
