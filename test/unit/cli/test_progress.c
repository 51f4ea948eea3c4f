/* The transfer progress line: readable sizes, percentage and bar when the total is known,
 * the rate, and never wider than the terminal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "cli/progress.h"

static void sizes_in_binary_units(void **state) {
  (void)state;
  char b[32];
  cp_cli_bytes(b, sizeof b, 512);
  assert_string_equal(b, "512 B");
  cp_cli_bytes(b, sizeof b, 1536);
  assert_string_equal(b, "1.5 KiB");
  cp_cli_bytes(b, sizeof b, 10ull << 20);
  assert_string_equal(b, "10.0 MiB");
  cp_cli_bytes(b, sizeof b, 1ull << 30);
  assert_string_equal(b, "1.0 GiB");
}

static void line_with_a_total(void **state) {
  (void)state;
  char b[256];
  cp_cli_progress_line(b, sizeof b, 12ull << 20, 100ull << 20, 2.0, 80);
  assert_non_null(strstr(b, "12.0 MiB / 100.0 MiB"));
  assert_non_null(strstr(b, " 12% ["));
  assert_non_null(strstr(b, "6.0 MiB/s"));
  assert_true(strlen(b) <= 80);
  cp_cli_progress_line(b, sizeof b, 100ull << 20, 100ull << 20, 1.0, 80);
  assert_non_null(strstr(b, "100% [####"));
  assert_null(strstr(b, "#.")); /* the bar is full */
  /* a narrow terminal: the bar goes, the numbers stay */
  cp_cli_progress_line(b, sizeof b, 1, 3ull << 30, 1.0, 30);
  assert_null(strchr(b, '['));
  assert_non_null(strstr(b, "3.0 GiB"));
}

static void line_without_a_total(void **state) {
  (void)state;
  char b[256];
  cp_cli_progress_line(b, sizeof b, 5ull << 20, 0, 0, 80);
  assert_null(strchr(b, '%'));
  assert_non_null(strstr(b, "5.0 MiB"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(sizes_in_binary_units),
      cmocka_unit_test(line_with_a_total),
      cmocka_unit_test(line_without_a_total),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
