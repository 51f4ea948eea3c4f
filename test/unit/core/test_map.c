/* cp_map_t: put/get/replace/delete, growth past many keys, tombstone reuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/map.h"

static void put_get_replace_delete(void **state) {
  (void)state;
  cp_map_t m;
  cp_map_init(&m);
  int a = 1, b = 2;
  void *old = &b;
  assert_int_equal(cp_map_put(&m, "ns/a", &a, &old), 0);
  assert_null(old);
  assert_ptr_equal(cp_map_get(&m, "ns/a"), &a);
  assert_int_equal(cp_map_put(&m, "ns/a", &b, &old), 0);
  assert_ptr_equal(old, &a);
  assert_int_equal(m.len, 1);
  assert_ptr_equal(cp_map_del(&m, "ns/a"), &b);
  assert_false(cp_map_has(&m, "ns/a"));
  assert_null(cp_map_del(&m, "ns/a"));
  cp_map_free(&m, NULL);
}

static void many_keys_survive_growth_and_churn(void **state) {
  (void)state;
  cp_map_t m;
  cp_map_init(&m);
  char k[32];
  for (int round = 0; round < 3; round++) {
    for (intptr_t i = 0; i < 5000; i++) {
      snprintf(k, sizeof k, "key-%ld", (long)i);
      assert_int_equal(cp_map_put(&m, k, (void *)(i + 1), NULL), 0);
    }
    for (intptr_t i = 0; i < 5000; i += 2) {
      snprintf(k, sizeof k, "key-%ld", (long)i);
      assert_ptr_equal(cp_map_del(&m, k), (void *)(i + 1));
    }
    assert_int_equal(m.len, 2500);
    for (intptr_t i = 1; i < 5000; i += 2) {
      snprintf(k, sizeof k, "key-%ld", (long)i);
      assert_ptr_equal(cp_map_get(&m, k), (void *)(i + 1));
    }
  }
  assert_true(m.cap < 16384); /* tombstones are reclaimed, not accumulated */
  cp_map_free(&m, NULL);
}

static void free_calls_value_destructor(void **state) {
  (void)state;
  cp_map_t m;
  cp_map_init(&m);
  assert_int_equal(cp_map_put(&m, "x", malloc(10), NULL), 0);
  assert_int_equal(cp_map_put(&m, "y", malloc(10), NULL), 0);
  cp_map_free(&m, free); /* ASan/valgrind report a leak if values are not freed */
  assert_int_equal(m.len, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(put_get_replace_delete),
      cmocka_unit_test(many_keys_survive_growth_and_churn),
      cmocka_unit_test(free_calls_value_destructor),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
