/* The informer cache: snapshots outlive replacement, list filters, refcounts balance. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "json/json.h"
#include "kube/store.h"

static cp_obj_t *obj(const char *ns, const char *name, const char *rv) {
  cJSON *j = cJSON_CreateObject();
  cJSON *m = cJSON_AddObjectToObject(j, "metadata");
  cJSON_AddStringToObject(m, "name", name);
  if (ns)
    cJSON_AddStringToObject(m, "namespace", ns);
  cJSON_AddStringToObject(m, "resourceVersion", rv);
  cp_obj_t *o = NULL;
  assert_int_equal(cp_obj_new(j, &o), 0);
  return o;
}

static void keys_for_namespaced_and_cluster_scoped(void **state) {
  (void)state;
  cp_obj_t *a = obj("runtimes", "alice", "1"), *p = obj(NULL, "default", "2");
  assert_string_equal(a->key, "runtimes/alice");
  assert_string_equal(p->key, "default");
  assert_string_equal(p->namespace_, "");
  cp_obj_unref(a);
  cp_obj_unref(p);
  cp_obj_t *bad = NULL;
  assert_int_equal(cp_obj_new(cJSON_CreateObject(), &bad), CP_EINVAL);
  assert_null(bad);
}

static void reader_keeps_old_snapshot_after_replace(void **state) {
  (void)state;
  cp_store_t s;
  assert_int_equal(cp_store_init(&s), 0);
  assert_int_equal(cp_store_put(&s, obj("ns", "a", "1"), NULL), 0);
  cp_obj_t *held = cp_store_get(&s, "ns/a");
  assert_non_null(held);
  cp_obj_t *old = NULL;
  assert_int_equal(cp_store_put(&s, obj("ns", "a", "2"), &old), 0);
  assert_ptr_equal(old, held);
  cp_obj_unref(old);
  assert_string_equal(held->resource_version, "1"); /* still valid for the reader */
  cp_obj_unref(held);
  cp_obj_t *now = cp_store_get(&s, "ns/a");
  assert_string_equal(now->resource_version, "2");
  cp_obj_unref(now);
  cp_obj_unref(cp_store_del(&s, "ns/a"));
  assert_null(cp_store_get(&s, "ns/a"));
  cp_store_free(&s);
}

static int in_ns(const cp_obj_t *o, void *ud) {
  return strcmp(o->namespace_, ud) == 0;
}

static void list_filters_and_returns_references(void **state) {
  (void)state;
  cp_store_t s;
  assert_int_equal(cp_store_init(&s), 0);
  cp_store_put(&s, obj("a", "x", "1"), NULL);
  cp_store_put(&s, obj("a", "y", "1"), NULL);
  cp_store_put(&s, obj("b", "x", "1"), NULL);
  cp_obj_t **arr;
  size_t n;
  assert_int_equal(cp_store_list(&s, in_ns, "a", &arr, &n), 0);
  assert_int_equal(n, 2);
  cp_store_free(&s); /* the list's references keep the objects alive */
  for (size_t i = 0; i < n; i++) {
    assert_string_equal(arr[i]->namespace_, "a");
    cp_obj_unref(arr[i]);
  }
  free(arr);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(keys_for_namespaced_and_cluster_scoped),
      cmocka_unit_test(reader_keeps_old_snapshot_after_replace),
      cmocka_unit_test(list_filters_and_returns_references),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
