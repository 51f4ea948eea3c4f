/* The file service's token: the controller and the apiserver must derive the same value
 * from the same key and runtime, a different runtime (or a recreated one) another, and a
 * weak or unreadable key is refused before anything starts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/filestoken.h"
#include "core/error.h"

static const char KEY[] = "k3y-of-at-least-thirty-two-bytes-long!!";
#define UID "0b9f6c1e-1111-2222-3333-444455556666"

static void matches_openssl_hmac(void **state) {
  (void)state;
  char tok[65];
  /* printf 'clawplane-runtimes/alice/<uid>' | openssl dgst -sha256 -hmac "$KEY" */
  assert_int_equal(cp_files_token((const unsigned char *)KEY, strlen(KEY), "clawplane-runtimes",
                                  "alice", UID, tok),
                   0);
  assert_string_equal(tok, "50cee8101ba57aa55bd0456dc57b61e6b5c7109eaa0faba78cc8918df946633e");
}

static void differs_per_runtime_and_uid(void **state) {
  (void)state;
  char a[65], b[65], c[65];
  const unsigned char *k = (const unsigned char *)KEY;
  assert_int_equal(cp_files_token(k, strlen(KEY), "ns", "alice", UID, a), 0);
  assert_int_equal(cp_files_token(k, strlen(KEY), "ns", "bob", UID, b), 0);
  assert_int_equal(cp_files_token(k, strlen(KEY), "ns", "alice", "other-uid", c), 0);
  assert_string_not_equal(a, b);
  assert_string_not_equal(a, c);
  /* "a/b" + "c" must not collide with "a" + "b/c": slashes in parts are refused. */
  assert_int_equal(cp_files_token(k, strlen(KEY), "ns/alice", "x", UID, a), CP_EINVAL);
  assert_int_equal(cp_files_token(k, 31, "ns", "alice", UID, a), CP_EINVAL);
  assert_int_equal(cp_files_token(k, strlen(KEY), "ns", "", UID, a), CP_EINVAL);
  assert_int_equal(cp_files_token(k, strlen(KEY), "ns", "alice", NULL, a), CP_EINVAL);
}

static char *write_tmp(const char *content) {
  char *path = strdup("/tmp/cp-filestoken-XXXXXX");
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
  close(fd);
  return path;
}

static void key_file_rules(void **state) {
  (void)state;
  unsigned char key[CP_FILES_KEY_MAX];
  size_t len = 7;
  char err[256] = "";
  char *p = write_tmp("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n");
  assert_int_equal(cp_files_key_load(p, key, &len, err, sizeof err), 0);
  assert_int_equal(len, 64); /* the newline is not part of the key */
  unlink(p);
  free(p);

  p = write_tmp("short\n");
  len = 7;
  assert_int_equal(cp_files_key_load(p, key, &len, err, sizeof err), CP_EINVAL);
  assert_int_equal(len, 7);
  assert_non_null(strstr(err, "at least 32"));
  unlink(p);
  free(p);

  assert_int_equal(cp_files_key_load("/nonexistent/key", key, &len, err, sizeof err), CP_EIO);
  assert_non_null(strstr(err, "/nonexistent/key"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(matches_openssl_hmac),
      cmocka_unit_test(differs_per_runtime_and_uid),
      cmocka_unit_test(key_file_rules),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
