/* Table output as a user sees it: aligned columns, "-" for empty cells, UTF-8 widths,
 * control characters from the server neutralized. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/table.h"

static char *render(const cp_cli_table_t *t) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  cp_cli_table_print(t, f);
  fclose(f);
  return buf;
}

static void aligns_columns(void **state) {
  (void)state;
  const char *h[] = {"USER", "PHASE", "MESSAGE"};
  cp_cli_table_t *t = cp_cli_table_new(3, h);
  const char *r1[] = {"alice", "Running", "ok"};
  const char *r2[] = {"bob-the-builder", "", NULL};
  assert_int_equal(cp_cli_table_add(t, r1), 0);
  assert_int_equal(cp_cli_table_add(t, r2), 0);
  assert_int_equal(cp_cli_table_rows(t), 2);
  char *out = render(t);
  assert_string_equal(out, "USER              PHASE     MESSAGE\n"
                           "alice             Running   ok\n"
                           "bob-the-builder   -         -\n");
  free(out);
  cp_cli_table_free(t);
}

static void counts_characters_not_bytes(void **state) {
  (void)state;
  const char *h[] = {"NAME", "X"};
  cp_cli_table_t *t = cp_cli_table_new(2, h);
  const char *r1[] = {"z\xc3\xa9ro", "1"}; /* "zéro": 4 characters, 5 bytes */
  const char *r2[] = {"abcd", "2"};
  cp_cli_table_add(t, r1);
  cp_cli_table_add(t, r2);
  char *out = render(t);
  assert_string_equal(out, "NAME   X\nz\xc3\xa9ro   1\nabcd   2\n");
  free(out);
  cp_cli_table_free(t);
}

static void neutralizes_controls(void **state) {
  (void)state;
  const char *h[] = {"MESSAGE"};
  cp_cli_table_t *t = cp_cli_table_new(1, h);
  const char *r[] = {"bad\x1b[2Jthing\nnext"};
  cp_cli_table_add(t, r);
  char *out = render(t);
  assert_string_equal(out, "MESSAGE\nbad?[2Jthing?next\n");
  free(out);
  cp_cli_table_free(t);
  char cell[8];
  assert_string_equal(cp_cli_cell_clean(cell, sizeof cell, "0123456789"), "0123456");
  assert_null(cp_cli_table_new(0, h));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(aligns_columns),
      cmocka_unit_test(counts_characters_not_bytes),
      cmocka_unit_test(neutralizes_controls),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
