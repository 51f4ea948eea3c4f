/* Flag values: whole-string numbers within bounds, booleans, host:port forms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>

#include "core/error.h"
#include "core/parse.h"

static void numbers_are_whole_and_bounded(void **state) {
  (void)state;
  long n = 7;
  assert_int_equal(cp_parse_long("42", 1, 100, &n), 0);
  assert_int_equal(n, 42);
  const char *bad[] = {"", "0", "101", "4x", " 4", "99999999999999999999999", NULL};
  for (int i = 0; bad[i]; i++)
    assert_int_equal(cp_parse_long(bad[i], 1, 100, &n), CP_EINVAL);
  assert_int_equal(cp_parse_long(NULL, 1, 100, &n), CP_EINVAL);
  assert_int_equal(n, 42);
  double d = 0;
  assert_int_equal(cp_parse_double("0.5", 0, 1, &d), 0);
  assert_true(d == 0.5);
  assert_int_equal(cp_parse_double("nan", 0, 1, &d), CP_EINVAL);
  assert_int_equal(cp_parse_double("fast", 0, 1, &d), CP_EINVAL);
  assert_int_equal(cp_parse_double("2", 0, 1, &d), CP_EINVAL);
  assert_int_equal(cp_parse_double(" 0.5", 0, 1, &d), CP_EINVAL);
}

static void booleans(void **state) {
  (void)state;
  int b = 5;
  assert_int_equal(cp_parse_bool("true", &b), 0);
  assert_int_equal(b, 1);
  assert_int_equal(cp_parse_bool("0", &b), 0);
  assert_int_equal(b, 0);
  assert_int_equal(cp_parse_bool("yes", &b), CP_EINVAL);
  assert_int_equal(b, 0);
}

static void host_and_port(void **state) {
  (void)state;
  char host[64];
  int port = -1;
  assert_int_equal(cp_parse_hostport(":8080", host, sizeof host, &port), 0);
  assert_string_equal(host, "0.0.0.0");
  assert_int_equal(port, 8080);
  assert_int_equal(cp_parse_hostport("127.0.0.1:0", host, sizeof host, &port), 0);
  assert_string_equal(host, "127.0.0.1");
  assert_int_equal(port, 0);
  assert_int_equal(cp_parse_hostport("[::1]:9", host, sizeof host, &port), 0);
  assert_string_equal(host, "::1");
  const char *bad[] = {"8080", "host:", "host:65536", "::1:80", "h:80x", NULL};
  for (int i = 0; bad[i]; i++)
    assert_int_equal(cp_parse_hostport(bad[i], host, sizeof host, &port), CP_EINVAL);
  char tiny[4];
  assert_int_equal(cp_parse_hostport("localhost:1", tiny, sizeof tiny, &port), CP_EINVAL);
}

static void env_or_default(void **state) {
  (void)state;
  setenv("CP_TEST_PARSE", "", 1);
  assert_string_equal(cp_env_or("CP_TEST_PARSE", "d"), "d");
  setenv("CP_TEST_PARSE", "v", 1);
  assert_string_equal(cp_env_or("CP_TEST_PARSE", "d"), "v");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(numbers_are_whole_and_bounded),
      cmocka_unit_test(booleans),
      cmocka_unit_test(host_and_port),
      cmocka_unit_test(env_or_default),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
