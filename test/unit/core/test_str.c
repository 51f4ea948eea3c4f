/* Bounded copies: terminated, never past the field, never half a UTF-8 character. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/str.h"

static void copies_and_truncates(void **state) {
  (void)state;
  char buf[6];
  assert_int_equal(cp_str_copy(buf, sizeof buf, "abc"), 3);
  assert_string_equal(buf, "abc");
  assert_int_equal(cp_str_copy(buf, sizeof buf, "abcdefgh"), 5);
  assert_string_equal(buf, "abcde");
  assert_int_equal(cp_str_copy(buf, sizeof buf, NULL), 0);
  assert_string_equal(buf, "");
  assert_int_equal(cp_str_copy(buf, 0, "x"), 0);
}

static void never_cuts_a_character(void **state) {
  (void)state;
  char buf[6];
  /* "ab" then three 2-byte characters (é): 8 bytes; 5 fit, but byte 5 would split an é. */
  assert_int_equal(cp_str_copy(buf, sizeof buf, "ab\xc3\xa9\xc3\xa9\xc3\xa9"), 4);
  assert_string_equal(buf, "ab\xc3\xa9");
  /* a 4-byte character that does not fit at all */
  assert_int_equal(cp_str_copy(buf, 4, "\xf0\x9f\x90\xbe"), 0);
  assert_string_equal(buf, "");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(copies_and_truncates),
      cmocka_unit_test(never_cuts_a_character),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
