/* RFC 3339 as the API server writes it: Z, fractions, offsets; garbage refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/error.h"
#include "core/time.h"

static void parses_server_formats(void **state) {
  (void)state;
  double t = 0;
  assert_int_equal(cp_time_parse("1970-01-01T00:00:10Z", &t), 0);
  assert_true(t == 10.0);
  assert_int_equal(cp_time_parse("2026-11-22T02:35:02.250000Z", &t), 0);
  assert_true(t > 1795314901.0 && t < 1795314903.0);
  double z;
  assert_int_equal(cp_time_parse("2026-11-22T02:35:02Z", &z), 0);
  assert_true(t - z > 0.249 && t - z < 0.251);
  assert_int_equal(cp_time_parse("2026-11-22T03:35:02+01:00", &t), 0);
  assert_true(t == z);
}

static void refuses_garbage_and_keeps_out(void **state) {
  (void)state;
  double t = 42;
  const char *bad[] = {"",   "2026-11-22",           "2026-13-01T00:00:00Z",
                       NULL, "2026-11-22T02:35:02",  "2026-11-22T02:35:02Zjunk",
                       "x",  "2026-11-22T02:35:02.Z"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    assert_int_equal(cp_time_parse(bad[i], &t), CP_EPARSE);
  assert_true(t == 42);
}

static void parse_or_falls_back(void **state) {
  (void)state;
  assert_true(cp_time_parse_or("1970-01-01T00:00:10Z", 5) == 10.0);
  assert_true(cp_time_parse_or("yesterday", 5) == 5.0);
  assert_true(cp_time_parse_or(NULL, 5) == 5.0);
}

static void format_round_trips(void **state) {
  (void)state;
  char buf[32];
  cp_time_format(1795314902.9, buf, sizeof buf);
  assert_string_equal(buf, "2026-11-22T02:35:02Z");
  double t;
  assert_int_equal(cp_time_parse(buf, &t), 0);
  assert_true(t == 1795314902.0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(parses_server_formats),
      cmocka_unit_test(refuses_garbage_and_keeps_out),
      cmocka_unit_test(parse_or_falls_back),
      cmocka_unit_test(format_round_trips),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
