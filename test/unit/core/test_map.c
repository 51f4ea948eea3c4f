/* cp_map_t: put/get/replace/delete, growth past many keys, tombstone reuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* A value that carries its own key, as the informer's snapshots do. */
typedef struct keyed_s {
  int n;
  char key[16];
} keyed_t;

static keyed_t *keyed(const char *key, int n) {
  keyed_t *k = malloc(sizeof *k);
  k->n = n;
  snprintf(k->key, sizeof k->key, "%s", key);
  return k;
}

/* Borrowed keys: a replace takes the new value's key, so the old value (and its key) can be
 * freed at once; growth, delete and free never free or read a key they do not own (ASan
 * reports a use after free or a double free otherwise). */
static void borrowed_keys_live_in_their_values(void **state) {
  (void)state;
  cp_map_t m;
  cp_map_init_borrowed(&m);
  char name[16];
  for (int i = 0; i < 100; i++) {
    snprintf(name, sizeof name, "k%d", i);
    keyed_t *v = keyed(name, i);
    assert_int_equal(cp_map_put(&m, v->key, v, NULL), 0);
  }
  for (int i = 0; i < 100; i += 2) { /* replace the even ones, freeing the old at once */
    snprintf(name, sizeof name, "k%d", i);
    keyed_t *v = keyed(name, 1000 + i);
    void *old = NULL;
    assert_int_equal(cp_map_put(&m, v->key, v, &old), 0);
    assert_non_null(old);
    memset(old, 'x', sizeof(keyed_t)); /* a key still borrowed from it would no longer match */
    free(old);
  }
  for (int i = 0; i < 100; i++) {
    snprintf(name, sizeof name, "k%d", i);
    keyed_t *v = cp_map_get(&m, name);
    assert_non_null(v);
    assert_int_equal(v->n, i % 2 ? i : 1000 + i);
  }
  free(cp_map_del(&m, "k3"));
  assert_null(cp_map_get(&m, "k3"));
  assert_int_equal(m.len, 99);
  cp_map_free(&m, free);
  assert_int_equal(m.borrowed, 1);
  assert_int_equal(m.len, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(put_get_replace_delete),
      cmocka_unit_test(many_keys_survive_growth_and_churn),
      cmocka_unit_test(free_calls_value_destructor),
      cmocka_unit_test(borrowed_keys_live_in_their_values),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
