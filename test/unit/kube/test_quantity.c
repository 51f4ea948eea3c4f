/* Kubernetes quantities: the forms users write for cpu, memory and storage, the
 * garbage the API server would refuse, and values too large to represent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/error.h"
#include "kube/quantity.h"

static const struct {
  const char *in;
  int64_t milli;
} GOOD[] = {
    {"250m", 250},
    {"1", 1000},
    {"1.5", 1500},
    {"0.1", 100},
    {".5", 500},
    {"1.", 1000},
    {"0", 0},
    {"+2", 2000},
    {"-1", -1000},
    {"100n", 1}, /* rounded up, like MilliValue() */
    {"1u", 1},
    {"1500u", 2},
    {"2k", 2000000},
    {"1Ki", INT64_C(1024000)},
    {"512Mi", INT64_C(536870912000)},
    {"2Gi", INT64_C(2147483648000)},
    {"1.5Gi", INT64_C(1610612736000)},
    {"1G", INT64_C(1000000000000)},
    {"1M", INT64_C(1000000000)},
    {"1T", INT64_C(1000000000000000)},
    {"1Ti", INT64_C(1099511627776000)},
    {"1e3", 1000000},
    {"1E3", 1000000},
    {"5e-1", 500},
    {"1e+2", 100000},
    {"1.50", 1500},
    {"1.05", 1050},
    {"00012", 12000},
    {"1.000000000000000000000000000", 1000},   /* trailing zeros do not overflow */
    {"0.000000000001Ei", INT64_C(1152921505)}, /* 2^60/1e12 bytes, rounded up */
    {"8Pi", INT64_C(9007199254740992000)},     /* 8 * 2^50 bytes, largest binary that fits */
};

static const char *const GARBAGE[] = {
    "",     "abc",  "1.2.3", "Mi",  "1 Mi", " 1",   "1 ",   "1mi", "1KiB", "1K",
    "--1",  "+-1",  "1e",    "1e+", "e3",   "0x10", "1Ki5", "1m5", ".",    "+",
    "1.5.", "1ee3", "1e3.5", "1i",  "1ki",  "1Ei2", "∞",    "1,5",
};

static void parses_good_forms(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof(GOOD) / sizeof(GOOD[0]); i++) {
    int64_t v = -42;
    int rc = cp_quantity_parse(GOOD[i].in, &v);
    if (rc != 0 || v != GOOD[i].milli)
      fail_msg("\"%s\": rc %d, got %lld, want %lld", GOOD[i].in, rc, (long long)v,
               (long long)GOOD[i].milli);
  }
}

static void refuses_garbage_and_leaves_out_untouched(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof(GARBAGE) / sizeof(GARBAGE[0]); i++) {
    int64_t v = -42;
    int rc = cp_quantity_parse(GARBAGE[i], &v);
    if (rc != CP_EPARSE)
      fail_msg("\"%s\": rc %s, want CP_EPARSE", GARBAGE[i], cp_errname(rc));
    assert_int_equal(v, -42);
  }
  int64_t v = -42;
  assert_int_equal(cp_quantity_parse(NULL, &v), CP_EINVAL);
  assert_int_equal(v, -42);
}

static void refuses_overflow(void **state) {
  (void)state;
  static const char *const BIG[] = {
      "1E",                   /* 1e18 units -> 1e21 milli */
      "8Ei",                  /* 2^63 */
      "16Pi",                 /* 2^54 * 1000 > 2^63 */
      "9223372036854775807",  /* INT64_MAX units */
      "9223372036854775808",  /* past INT64_MAX while reading digits */
      "99999999999999999999", /* 20 digits */
      "1e99999",              /* exponent past the cap */
      "-1E",                  /* negative overflow too */
  };
  for (size_t i = 0; i < sizeof(BIG) / sizeof(BIG[0]); i++) {
    int64_t v = -42;
    int rc = cp_quantity_parse(BIG[i], &v);
    if (rc != CP_ETOOBIG)
      fail_msg("\"%s\": rc %s, want CP_ETOOBIG", BIG[i], cp_errname(rc));
    assert_int_equal(v, -42);
  }
  char longer[CP_QUANTITY_MAX_LEN + 2];
  memset(longer, '1', sizeof(longer) - 1);
  longer[sizeof(longer) - 1] = '\0';
  int64_t v;
  assert_int_equal(cp_quantity_parse(longer, &v), CP_ETOOBIG);
}

static void value_rounds_up_to_units(void **state) {
  (void)state;
  int64_t v = 0;
  assert_int_equal(cp_quantity_value("512Mi", &v), 0);
  assert_int_equal(v, INT64_C(536870912));
  assert_int_equal(cp_quantity_value("1.5", &v), 0);
  assert_int_equal(v, 2);
  assert_int_equal(cp_quantity_value("250m", &v), 0);
  assert_int_equal(v, 1);
  assert_int_equal(cp_quantity_value("1G", &v), 0);
  assert_int_equal(v, INT64_C(1000000000));
  assert_int_equal(cp_quantity_value("4Ei", &v), 0); /* units have more headroom */
  assert_int_equal(v, INT64_C(4611686018427387904));
  assert_int_equal(cp_quantity_value("0.9Ei", &v), 0); /* 9 * 2^59 / 5 without overflow */
  assert_int_equal(v, INT64_C(1037629354146162279));
  assert_int_equal(cp_quantity_value("junk", &v), CP_EPARSE);
}

static void compares_across_suffixes(void **state) {
  (void)state;
  int c = 42;
  assert_int_equal(cp_quantity_cmp("1Gi", "1024Mi", &c), 0);
  assert_int_equal(c, 0);
  assert_int_equal(cp_quantity_cmp("1G", "1Gi", &c), 0);
  assert_int_equal(c, -1);
  assert_int_equal(cp_quantity_cmp("2", "1500m", &c), 0);
  assert_int_equal(c, 1);
  assert_int_equal(cp_quantity_cmp("1e3", "1k", &c), 0);
  assert_int_equal(c, 0);
  assert_int_equal(cp_quantity_cmp("8Gi", "4Gi", &c), 0);
  assert_int_equal(c, 1);
  c = 42;
  assert_int_equal(cp_quantity_cmp("1Gi", "lots", &c), CP_EPARSE);
  assert_int_equal(c, 42);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(parses_good_forms),
      cmocka_unit_test(refuses_garbage_and_leaves_out_untouched),
      cmocka_unit_test(refuses_overflow),
      cmocka_unit_test(value_rounds_up_to_units),
      cmocka_unit_test(compares_across_suffixes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
