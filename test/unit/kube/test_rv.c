/* Resource versions as KEP-5504 numbers: what parses, and every form that must not (a
 * caller then falls back to equality instead of comparing garbage). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/error.h"
#include "kube/rv.h"

static void numbers_parse(void **state) {
  (void)state;
  uint64_t v = 0;
  assert_int_equal(cp_kube_rv_parse("1", &v), 0);
  assert_true(v == 1);
  assert_int_equal(cp_kube_rv_parse("133508", &v), 0);
  assert_true(v == 133508);
  assert_int_equal(cp_kube_rv_parse("18446744073709551615", &v), 0);
  assert_true(v == UINT64_MAX);
}

static void other_forms_are_refused_and_leave_out_alone(void **state) {
  (void)state;
  static const char *const bad[] = {"",
                                    "0",
                                    "007",
                                    "12a",
                                    " 12",
                                    "12 ",
                                    "-1",
                                    "+1",
                                    "1.5",
                                    "0x1f",
                                    "1e3",
                                    "18446744073709551616",
                                    "99999999999999999999999"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    uint64_t v = 42;
    assert_int_equal(cp_kube_rv_parse(bad[i], &v), CP_EINVAL);
    assert_true(v == 42);
  }
  uint64_t v = 42;
  assert_int_equal(cp_kube_rv_parse(NULL, &v), CP_EINVAL);
  assert_true(v == 42);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(numbers_parse),
      cmocka_unit_test(other_forms_are_refused_and_leave_out_alone),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
