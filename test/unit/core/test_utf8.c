/* UTF-8 validation: what PostgreSQL accepts passes, everything else stops at its first
 * bad byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/utf8.h"

/* cp_utf8_valid_len of a string literal (which may hold NUL bytes) */
#define VLEN(lit) cp_utf8_valid_len(lit, sizeof lit - 1)
#define VALID(lit) assert_int_equal(VLEN(lit), sizeof lit - 1)

static void accepts_valid_text(void **state) {
  (void)state;
  assert_int_equal(cp_utf8_valid_len(NULL, 0), 0);
  VALID("");
  VALID("plain ascii {\"a\":1}");
  VALID("nul \0 is valid UTF-8");
  VALID("\x7f");
  VALID("\xc2\x80");          /* U+0080, the smallest 2-byte character */
  VALID("\xc3\xa9t\xc3\xa9"); /* été */
  VALID("\xdf\xbf");          /* U+07FF */
  VALID("\xe0\xa0\x80");      /* U+0800, the smallest 3-byte character */
  VALID("\xe2\x82\xac");      /* U+20AC euro sign */
  VALID("\xed\x9f\xbf");      /* U+D7FF, just below the surrogates */
  VALID("\xee\x80\x80");      /* U+E000, just above them */
  VALID("\xef\xbf\xbf");      /* U+FFFF (a noncharacter, but valid UTF-8) */
  VALID("\xf0\x90\x80\x80");  /* U+10000, the smallest 4-byte character */
  VALID("\xf0\x9f\x90\xbe");  /* U+1F43E */
  VALID("\xf4\x8f\xbf\xbf");  /* U+10FFFF, the largest */
}

static void refuses_overlong_forms(void **state) {
  (void)state;
  assert_int_equal(VLEN("\xc0\x80"), 0);          /* NUL in two bytes */
  assert_int_equal(VLEN("ab\xc1\xbf"), 2);        /* U+007F in two bytes */
  assert_int_equal(VLEN("\xe0\x80\x80"), 0);      /* U+0000 in three */
  assert_int_equal(VLEN("\xe0\x9f\xbf"), 0);      /* U+07FF in three */
  assert_int_equal(VLEN("\xf0\x80\x80\x80"), 0);  /* U+0000 in four */
  assert_int_equal(VLEN("x\xf0\x8f\xbf\xbf"), 1); /* U+FFFF in four */
}

static void refuses_surrogates(void **state) {
  (void)state;
  assert_int_equal(VLEN("\xed\xa0\x80"), 0);                 /* U+D800 */
  assert_int_equal(VLEN("ok\xed\xbf\xbf"), 2);               /* U+DFFF */
  assert_int_equal(VLEN("\xed\xa0\xbd\xed\xb0\x80"), 0);     /* a CESU-8 pair */
  assert_int_equal(VLEN("\xc3\xa9\xed\xb2\x80\xc3\xa9"), 2); /* lone low surrogate */
}

static void refuses_above_u10ffff(void **state) {
  (void)state;
  assert_int_equal(VLEN("\xf4\x90\x80\x80"), 0); /* U+110000 */
  assert_int_equal(VLEN("\xf5\x80\x80\x80"), 0);
  assert_int_equal(VLEN("\xf7\xbf\xbf\xbf"), 0);
  assert_int_equal(VLEN("a\xf8\x88\x80\x80\x80"), 1); /* old 5-byte form */
  assert_int_equal(VLEN("\xfc\x84\x80\x80\x80\x80"), 0);
  assert_int_equal(VLEN("\xfe"), 0);
  assert_int_equal(VLEN("\xff"), 0);
}

static void refuses_truncated_and_stray_bytes(void **state) {
  (void)state;
  assert_int_equal(VLEN("\xc3"), 0); /* end of input mid-character */
  assert_int_equal(VLEN("ab\xe2\x82"), 2);
  assert_int_equal(VLEN("ab\xf0\x9f\x90"), 2);
  assert_int_equal(VLEN("\xe2\x82x"), 0); /* a continuation replaced */
  assert_int_equal(VLEN("\xf0\x9f\x90\xc3\xa9"), 0);
  assert_int_equal(VLEN("\xc3\xa9\x80"), 2); /* stray continuation byte */
  assert_int_equal(VLEN("\xbf"), 0);
  assert_int_equal(VLEN("\xc3\xa9\xc3"), 2); /* Latin-1 é after a valid one */
  assert_int_equal(VLEN("caf\xe9"), 3);      /* Latin-1 é */
  /* the length bounds the scan: a valid character cut by n is invalid */
  assert_int_equal(cp_utf8_valid_len("\xc3\xa9", 1), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(accepts_valid_text),
      cmocka_unit_test(refuses_overlong_forms),
      cmocka_unit_test(refuses_surrogates),
      cmocka_unit_test(refuses_above_u10ffff),
      cmocka_unit_test(refuses_truncated_and_stray_bytes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
