/* cp_buf_t: the cap holds, the terminator is kept, consume keeps the tail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"

static void append_within_limit_is_terminated(void **state) {
  (void)state;
  cp_buf_t b;
  cp_buf_init(&b, 8);
  assert_int_equal(cp_buf_puts(&b, "abcd"), 0);
  assert_int_equal(cp_buf_puts(&b, "efgh"), 0);
  assert_int_equal(b.len, 8);
  assert_string_equal(b.data, "abcdefgh");
  cp_buf_free(&b);
}

static void append_past_limit_fails_and_keeps_data(void **state) {
  (void)state;
  cp_buf_t b;
  cp_buf_init(&b, 8);
  assert_int_equal(cp_buf_puts(&b, "abcdef"), 0);
  assert_int_equal(cp_buf_puts(&b, "xyz"), CP_ETOOBIG);
  assert_string_equal(b.data, "abcdef");
  assert_int_equal(cp_buf_append(&b, "x", SIZE_MAX), CP_ETOOBIG);
  cp_buf_free(&b);
}

static void consume_keeps_tail_and_steal_hands_over(void **state) {
  (void)state;
  cp_buf_t b;
  cp_buf_init(&b, 64);
  assert_int_equal(cp_buf_puts(&b, "line1\nline2"), 0);
  cp_buf_consume(&b, 6);
  assert_string_equal(b.data, "line2");
  char *s = cp_buf_steal(&b);
  assert_string_equal(s, "line2");
  assert_null(b.data);
  free(s);
  s = cp_buf_steal(&b);
  assert_string_equal(s, "");
  free(s);
}

static void error_names_and_messages(void **state) {
  (void)state;
  assert_string_equal(cp_errname(CP_EGONE), "CP_EGONE");
  assert_non_null(strstr(cp_strerror(CP_EGONE), "410"));
  assert_string_equal(cp_strerror(12345), "unknown error");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(append_within_limit_is_terminated),
      cmocka_unit_test(append_past_limit_fails_and_keeps_data),
      cmocka_unit_test(consume_keeps_tail_and_steal_hands_over),
      cmocka_unit_test(error_names_and_messages),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
