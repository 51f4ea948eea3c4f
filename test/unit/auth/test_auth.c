/* lib/auth: scrypt hashes verify only their password and survive a round trip through
 * the encoded form; malformed hashes are refused; tokens have their shape and hash;
 * cookies and bearer credentials are extracted exactly; buckets limit and refill. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "auth/password.h"
#include "auth/ratelimit.h"
#include "auth/token.h"
#include "core/error.h"

static void passwords_hash_and_verify(void **state) {
  (void)state;
  char h[CP_PASSWORD_HASH_MAX], h2[CP_PASSWORD_HASH_MAX];
  assert_int_equal(cp_password_hash("correct horse", 13, 10, h, sizeof h), 0);
  assert_int_equal(strncmp(h, "$scrypt$ln=10,r=8,p=1$", 22), 0);
  assert_int_equal(cp_password_verify("correct horse", 13, h), 0);
  assert_int_equal(cp_password_verify("correct hors", 12, h), CP_EUNAUTHORIZED);
  assert_int_equal(cp_password_verify("Correct horse", 13, h), CP_EUNAUTHORIZED);
  /* fresh salt each time */
  assert_int_equal(cp_password_hash("correct horse", 13, 10, h2, sizeof h2), 0);
  assert_string_not_equal(h, h2);
  assert_int_equal(cp_password_hash("x", 1, 9, h2, sizeof h2), CP_EINVAL);
  assert_int_equal(cp_password_hash("x", 1, 10, h2, 10), CP_EINVAL);
}

static void malformed_hashes_are_refused(void **state) {
  (void)state;
  const char *bad[] = {
      "",
      "plain",
      "$scrypt$ln=15,r=8,p=1$",
      "$scrypt$ln=99,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      "$scrypt$ln=15,r=8,p=1$AAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      "$scrypt$ln=15,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAA",
      "$scrypt$ln=15,r=8,p=1$AAAAAAAAAAAAAAAAAAAA!!$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      "$scrypt$ln=-1,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    assert_int_equal(cp_password_verify("password", 8, bad[i]), CP_EPARSE);
  assert_int_equal(cp_password_verify_dummy("whatever", 8, 10), CP_EUNAUTHORIZED);
}

static void password_rules(void **state) {
  (void)state;
  const char *why = NULL;
  assert_int_equal(cp_password_check("short", 5, &why), CP_EINVAL);
  assert_non_null(strstr(why, "at least 8"));
  assert_int_equal(cp_password_check("long enough", 11, &why), 0);
  /* characters, not bytes: seven two-byte characters are seven, eight are enough */
  assert_int_equal(cp_password_check("\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9", 14, &why),
                   CP_EINVAL);
  assert_int_equal(cp_password_check("\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9", 16, &why),
                   0);
  assert_int_equal(cp_password_check("with\0nul!", 9, &why), CP_EINVAL);
  assert_int_equal(cp_password_check(NULL, 0, NULL), CP_EINVAL);
}

static void tokens_have_shape_and_hash(void **state) {
  (void)state;
  char t[CP_TOKEN_LEN + 1], u[CP_TOKEN_LEN + 1], h[CP_TOKEN_HASH_LEN + 1];
  assert_int_equal(cp_token_new(CP_TOKEN_SESSION, t, sizeof t), 0);
  assert_int_equal(strlen(t), CP_TOKEN_LEN);
  assert_true(cp_token_well_formed(t, CP_TOKEN_SESSION));
  assert_false(cp_token_well_formed(t, CP_TOKEN_API));
  assert_int_equal(cp_token_new(CP_TOKEN_SESSION, u, sizeof u), 0);
  assert_string_not_equal(t, u);
  assert_int_equal(cp_token_new(CP_TOKEN_SESSION, u, CP_TOKEN_LEN), CP_EINVAL);
  t[10] = '+';
  assert_false(cp_token_well_formed(t, CP_TOKEN_SESSION));
  assert_false(cp_token_well_formed("cps_short", CP_TOKEN_SESSION));
  assert_int_equal(cp_token_hash("abc", h, sizeof h), 0);
  assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  assert_true(
      cp_token_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
  assert_false(
      cp_token_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ae"));
  assert_false(cp_token_equal(h, "ba78"));
  assert_false(cp_token_equal(NULL, h));
}

static void cookies_and_bearers(void **state) {
  (void)state;
  char v[64];
  assert_int_equal(cp_cookie_get("a=1; clawplane_session=xyz; b=2", CP_SESSION_COOKIE, v, sizeof v),
                   0);
  assert_string_equal(v, "xyz");
  assert_int_equal(cp_cookie_get("clawplane_session=\"q\"", CP_SESSION_COOKIE, v, sizeof v), 0);
  assert_string_equal(v, "q");
  assert_int_equal(cp_cookie_get("xclawplane_session=1", CP_SESSION_COOKIE, v, sizeof v),
                   CP_ENOTFOUND);
  assert_int_equal(cp_cookie_get("clawplane_sessionx=1", CP_SESSION_COOKIE, v, sizeof v),
                   CP_ENOTFOUND);
  assert_int_equal(cp_cookie_get("", CP_SESSION_COOKIE, v, sizeof v), CP_ENOTFOUND);
  assert_int_equal(cp_cookie_get(";;;", CP_SESSION_COOKIE, v, sizeof v), CP_ENOTFOUND);
  assert_int_equal(cp_cookie_get("clawplane_session=0123456789", CP_SESSION_COOKIE, v, 5),
                   CP_ETOOBIG);
  assert_int_equal(cp_bearer_get("Bearer abc", v, sizeof v), 0);
  assert_string_equal(v, "abc");
  assert_int_equal(cp_bearer_get("bearer   abc  ", v, sizeof v), 0);
  assert_string_equal(v, "abc");
  assert_int_equal(cp_bearer_get("Basic YWJj", v, sizeof v), CP_ENOTFOUND);
  assert_int_equal(cp_bearer_get("Bearer ", v, sizeof v), CP_ENOTFOUND);
  assert_int_equal(cp_bearer_get(NULL, v, sizeof v), CP_ENOTFOUND);
}

static void buckets_limit_and_refill(void **state) {
  (void)state;
  cp_ratelimit_t rl;
  long ra = 0;
  cp_ratelimit_init(&rl, 0.5, 3, 2);
  for (int i = 0; i < 3; i++)
    assert_int_equal(cp_ratelimit_take(&rl, "alice", 100.0, &ra), 0);
  assert_int_equal(cp_ratelimit_take(&rl, "alice", 100.0, &ra), CP_ETHROTTLED);
  assert_int_equal(ra, 2);
  assert_int_equal(cp_ratelimit_take(&rl, "alice", 102.0, &ra), 0);
  assert_int_equal(cp_ratelimit_take(&rl, "bob", 102.0, &ra), 0);
  /* two keys max: a third is refused while both buckets are in use */
  assert_int_equal(cp_ratelimit_take(&rl, "carol", 102.0, &ra), CP_ETHROTTLED);
  /* once they have refilled they are dropped to make room */
  assert_int_equal(cp_ratelimit_take(&rl, "carol", 200.0, &ra), 0);
  cp_ratelimit_reset(&rl, "carol");
  cp_ratelimit_free(&rl);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(passwords_hash_and_verify),
      cmocka_unit_test(malformed_hashes_are_refused),
      cmocka_unit_test(password_rules),
      cmocka_unit_test(tokens_have_shape_and_hash),
      cmocka_unit_test(cookies_and_bearers),
      cmocka_unit_test(buckets_limit_and_refill),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
