/* The informer cache: snapshots outlive replacement, list filters, refcounts balance. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <stdio.h>
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

static int labelled(const cp_obj_t *o, void *ud) {
  const char *v = cp_json_strv(o->json, "metadata", "labels", "app", NULL);
  return v && strcmp(v, ud) == 0;
}

/* A compact store keeps text and hands every reader a tree equal to what was put. */
static void compact_store_reads_like_a_plain_one(void **state) {
  (void)state;
  cp_store_t s;
  assert_int_equal(cp_store_init(&s), 0);
  cp_store_set_compact(&s);
  const char *text = "{\"metadata\":{\"name\":\"a\",\"namespace\":\"ns\","
                     "\"resourceVersion\":\"7\",\"labels\":{\"app\":\"x\"}},"
                     "\"spec\":{\"v\":[1,2,{\"k\":\"\\u00e9\"}]}}";
  cJSON *j = cJSON_Parse(text), *want = cJSON_Parse(text);
  cp_obj_t *o = NULL, *old = (cp_obj_t *)1;
  assert_int_equal(cp_obj_new(j, &o), 0);
  assert_int_equal(cp_store_put(&s, o, &old), 0);
  assert_null(old);
  cp_obj_t *g = cp_store_get(&s, "ns/a");
  assert_non_null(g);
  assert_true(cJSON_Compare(g->json, want, 1));
  assert_string_equal(g->resource_version, "7");
  assert_int_equal(cp_store_has_version(&s, "ns/a", "7"), 1);
  assert_int_equal(cp_store_has_version(&s, "ns/a", "8"), 0);
  assert_int_equal(cp_store_has_version(&s, "ns/b", "7"), 0);
  assert_int_equal(cp_store_has(&s, "ns/a"), 1);
  assert_int_equal(cp_store_has(&s, "ns/b"), 0);
  /* the stored snapshot is deflated text with its identity copied */
  cp_obj_t *c = cp_obj_compact(g, NULL);
  assert_null(c->json);
  assert_string_equal(c->key, "ns/a");
  assert_string_equal(c->namespace_, "ns");
  assert_string_equal(c->name, "a");
  assert_string_equal(c->resource_version, "7");
  /* compact snapshots of one namespace share its name; a cluster-scoped one has "" */
  cp_obj_t *b = obj("ns", "b", "9"), *cb = cp_obj_compact(b, NULL);
  cp_obj_t *k = obj(NULL, "node", "3"), *ck = cp_obj_compact(k, NULL);
  assert_ptr_equal(cb->namespace_, c->namespace_);
  assert_string_equal(cb->name, "b");
  assert_string_equal(ck->namespace_, "");
  assert_string_equal(ck->name, "node");
  assert_string_equal(ck->key, "node");
  cp_obj_unref(b);
  cp_obj_unref(cb);
  cp_obj_unref(k);
  cp_obj_unref(ck);
  cp_obj_t *e = cp_obj_expand(c);
  assert_true(cJSON_Compare(e->json, want, 1));
  cp_obj_unref(e);
  cp_obj_unref(c);
  cp_obj_unref(g);
  /* a replacement hands back the old one readable; list filters on trees; del is readable */
  cp_obj_t *o2 = obj("ns", "a", "8");
  assert_int_equal(cp_store_put(&s, o2, &old), 0);
  assert_non_null(old);
  assert_true(cJSON_Compare(old->json, want, 1));
  cp_obj_unref(old);
  cp_obj_t *o3 = NULL;
  assert_int_equal(cp_obj_new(cJSON_Parse(text), &o3), 0);
  assert_int_equal(cp_store_put(&s, o3, NULL), 0); /* back to version 7 */
  cp_store_put(&s, obj("ns", "other", "9"), NULL);
  cp_obj_t **arr;
  size_t n;
  assert_int_equal(cp_store_list(&s, labelled, "x", &arr, &n), 0);
  assert_int_equal(n, 1);
  assert_string_equal(arr[0]->name, "a");
  assert_true(cJSON_Compare(arr[0]->json, want, 1));
  cp_obj_unref(arr[0]);
  free(arr);
  cp_obj_t *d = cp_store_del(&s, "ns/a");
  assert_non_null(d);
  assert_true(cJSON_Compare(d->json, want, 1));
  cp_obj_unref(d);
  assert_int_equal(cp_store_len(&s), 1);
  cJSON_Delete(want);
  cp_store_free(&s);
}

static void count_key(const char *key, void *ud) {
  size_t *n = ud;
  *n += strlen(key);
}

/* The size a compact store reports is its text, kept right through replace and delete;
 * the key walk sees every key without expanding a snapshot. */
static void compact_store_counts_its_text(void **state) {
  (void)state;
  cp_store_t s;
  assert_int_equal(cp_store_init(&s), 0);
  cp_store_set_compact(&s);
  size_t objects = 9, bytes = 9, packed = 9;
  cp_store_size(&s, &objects, &bytes, &packed);
  assert_int_equal(objects, 0);
  assert_int_equal(bytes, 0);
  assert_int_equal(packed, 0);
  const char *a1 = "{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"1\"}}";
  const char *a2 = "{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"22\"},\"x\":1}";
  const char *b1 = "{\"metadata\":{\"name\":\"bb\",\"resourceVersion\":\"3\"}}";
  const char *texts[] = {a1, b1, a2};
  for (int i = 0; i < 3; i++) {
    cp_obj_t *o = NULL;
    assert_int_equal(cp_obj_new(cJSON_Parse(texts[i]), &o), 0);
    assert_int_equal(cp_store_put(&s, o, NULL), 0);
  }
  cp_store_size(&s, &objects, &bytes, &packed);
  assert_int_equal(objects, 2);
  assert_int_equal(bytes, strlen(a2) + strlen(b1)); /* a1 was replaced */
  assert_true(packed > 0);
  size_t keys = 0;
  cp_store_each_key(&s, count_key, &keys);
  assert_int_equal(keys, strlen("a") + strlen("bb"));
  cp_obj_unref(cp_store_del(&s, "a"));
  cp_store_size(&s, &objects, &bytes, &packed);
  assert_int_equal(objects, 1);
  assert_int_equal(bytes, strlen(b1));
  cp_store_free(&s);
}

/* A cache of alike objects holds a fraction of their text (the first one put is the
 * dictionary), and every one comes back exactly as it went in. */
static void compact_store_deflates_alike_objects(void **state) {
  (void)state;
  cp_store_t s;
  assert_int_equal(cp_store_init(&s), 0);
  cp_store_set_compact(&s);
  char text[1024], key[64];
  for (int pass = 0; pass < 2; pass++) {
    for (int i = 0; i < 300; i++) {
      snprintf(text, sizeof text,
               "{\"metadata\":{\"name\":\"rt-%d\",\"namespace\":\"users\",\"resourceVersion\":"
               "\"%d\",\"labels\":{\"app.kubernetes.io/managed-by\":\"clawplane\"}},\"spec\":{"
               "\"image\":\"ghcr.io/openclaw/openclaw:2026.9.6\",\"resources\":{\"requests\":{"
               "\"cpu\":\"500m\",\"memory\":\"1Gi\"}},\"idleTimeout\":\"1h\"},\"status\":{"
               "\"phase\":\"Running\",\"restarts\":%d}}",
               i, 1000 * pass + i, pass);
      cJSON *want = cJSON_Parse(text);
      cp_obj_t *o = NULL;
      assert_int_equal(cp_obj_new(cJSON_Parse(text), &o), 0);
      assert_int_equal(cp_store_put(&s, o, NULL), 0);
      snprintf(key, sizeof key, "users/rt-%d", i);
      cp_obj_t *g = cp_store_get(&s, key);
      assert_non_null(g);
      assert_true(cJSON_Compare(g->json, want, 1));
      cp_obj_unref(g);
      cJSON_Delete(want);
    }
  }
  size_t objects, bytes, packed;
  cp_store_size(&s, &objects, &bytes, &packed);
  assert_int_equal(objects, 300);
  assert_true(packed * 5 < bytes);
  cp_store_free(&s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(keys_for_namespaced_and_cluster_scoped),
      cmocka_unit_test(reader_keeps_old_snapshot_after_replace),
      cmocka_unit_test(list_filters_and_returns_references),
      cmocka_unit_test(compact_store_deflates_alike_objects),
      cmocka_unit_test(compact_store_reads_like_a_plain_one),
      cmocka_unit_test(compact_store_counts_its_text),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
