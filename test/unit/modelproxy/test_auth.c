/* The credential table: Secrets in, tokens checked, replaced and revoked; a token shared by
 * two Secrets belongs to the newest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/error.h"
#include "modelproxy/auth.h"

static cJSON *secret(const char *ns, const char *user, const char *runtime, const char *b64) {
  cJSON *s = cJSON_CreateObject();
  cJSON *md = cJSON_AddObjectToObject(s, "metadata");
  cJSON_AddStringToObject(md, "namespace", ns);
  cJSON *l = cJSON_AddObjectToObject(md, "labels");
  if (user)
    cJSON_AddStringToObject(l, "clawplane.io/user", user);
  cJSON_AddStringToObject(l, "app.kubernetes.io/instance", runtime);
  cJSON *d = cJSON_AddObjectToObject(s, "data");
  if (b64)
    cJSON_AddStringToObject(d, "modelproxy-token", b64);
  return s;
}

static void from_secret(void **state) {
  (void)state;
  char tok[CP_MP_TOKEN_MAX + 1];
  size_t len = 0;
  cp_mp_identity_t id;
  cJSON *s = secret("rt", "alice", "alice", "dG9rLWFsaWNl"); /* tok-alice */
  assert_int_equal(cp_mp_auth_from_secret(s, tok, &len, &id), 0);
  assert_int_equal(len, 9);
  assert_string_equal(tok, "tok-alice");
  assert_string_equal(id.user, "alice");
  assert_string_equal(id.namespace_, "rt");
  cJSON_Delete(s);
  s = secret("rt", "bob", "bob", "YQ=="); /* "a": padding handled */
  assert_int_equal(cp_mp_auth_from_secret(s, tok, &len, &id), 0);
  assert_int_equal(len, 1);
  cJSON_Delete(s);
  const char *bad[] = {NULL, "", "!!!!", "YQ="};
  for (size_t i = 0; i < 4; i++) {
    s = secret("rt", "bob", "bob", bad[i]);
    assert_int_equal(cp_mp_auth_from_secret(s, tok, &len, &id), CP_EINVAL);
    cJSON_Delete(s);
  }
  s = secret("rt", NULL, "bob", "YQ==");
  assert_int_equal(cp_mp_auth_from_secret(s, tok, &len, &id), CP_EINVAL);
  cJSON_Delete(s);
}

static void put_check_replace_delete(void **state) {
  (void)state;
  cp_mp_auth_t *a = NULL;
  assert_int_equal(cp_mp_auth_new(&a), 0);
  cp_mp_identity_t alice = {.user = "alice", .namespace_ = "rt", .runtime = "alice"};
  cp_mp_identity_t bob = {.user = "bob", .namespace_ = "rt", .runtime = "bob"};
  cp_mp_identity_t got = {0};
  assert_int_equal(cp_mp_auth_put(a, "rt/alice-credentials", "t1", 2, &alice), 0);
  assert_int_equal(cp_mp_auth_check(a, "t1", 2, &got), 0);
  assert_string_equal(got.user, "alice");
  assert_int_equal(cp_mp_auth_check(a, "t2", 2, &got), CP_EUNAUTHORIZED);
  assert_int_equal(cp_mp_auth_check(a, "t", 1, &got), CP_EUNAUTHORIZED);
  /* Rotation: the old token stops working. */
  assert_int_equal(cp_mp_auth_put(a, "rt/alice-credentials", "t2", 2, &alice), 0);
  assert_int_equal(cp_mp_auth_check(a, "t1", 2, &got), CP_EUNAUTHORIZED);
  assert_int_equal(cp_mp_auth_check(a, "t2", 2, &got), 0);
  assert_int_equal(cp_mp_auth_len(a), 1);
  memset(&got, 0, sizeof got);
  assert_int_equal(cp_mp_auth_lookup_key(a, "rt/alice-credentials", &got), 0);
  assert_string_equal(got.runtime, "alice");
  assert_int_equal(cp_mp_auth_lookup_key(a, "rt/nobody-credentials", &got), CP_ENOTFOUND);
  /* Same token on another Secret: the newest owns it; deleting the older changes nothing. */
  assert_int_equal(cp_mp_auth_put(a, "rt/bob-credentials", "t2", 2, &bob), 0);
  assert_int_equal(cp_mp_auth_check(a, "t2", 2, &got), 0);
  assert_string_equal(got.user, "bob");
  cp_mp_auth_del(a, "rt/alice-credentials");
  assert_int_equal(cp_mp_auth_check(a, "t2", 2, &got), 0);
  cp_mp_auth_del(a, "rt/bob-credentials");
  assert_int_equal(cp_mp_auth_check(a, "t2", 2, &got), CP_EUNAUTHORIZED);
  assert_int_equal(cp_mp_auth_len(a), 0);
  assert_int_equal(cp_mp_auth_put(a, "k", "", 0, &bob), CP_EINVAL);
  cp_mp_auth_free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(from_secret),
      cmocka_unit_test(put_check_replace_delete),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
