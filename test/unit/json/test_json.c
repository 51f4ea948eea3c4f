/* JSON helpers: path walking with dotted keys, size caps, replace semantics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/error.h"
#include "json/json.h"

static const char *POD = "{\"metadata\":{\"name\":\"alice\",\"labels\":"
                         "{\"app.kubernetes.io/name\":\"openclaw\"}},\"spec\":{\"n\":3}}";

static void getv_walks_keys_with_dots(void **state) {
  (void)state;
  cJSON *o = NULL;
  assert_int_equal(cp_json_parse(POD, strlen(POD), 4096, &o), 0);
  assert_string_equal(cp_json_strv(o, "metadata", "name", NULL), "alice");
  assert_string_equal(cp_json_strv(o, "metadata", "labels", "app.kubernetes.io/name", NULL),
                      "openclaw");
  assert_null(cp_json_strv(o, "spec", "n", NULL));           /* number, not string */
  assert_null(cp_json_getv(o, "spec", "n", "deeper", NULL)); /* walk through a scalar */
  assert_null(cp_json_getv(o, "missing", NULL));
  cJSON_Delete(o);
}

static void parse_refuses_oversize_and_garbage(void **state) {
  (void)state;
  cJSON *o = NULL;
  assert_int_equal(cp_json_parse(POD, strlen(POD), 10, &o), CP_ETOOBIG);
  assert_int_equal(cp_json_parse("{\"a\":", 5, 100, &o), CP_EPARSE);
  assert_null(o);
  /* Not NUL-terminated input is read only up to len. */
  assert_int_equal(cp_json_parse("{}garbage", 2, 100, &o), 0);
  cJSON_Delete(o);
}

static void set_replaces_and_child_object_creates(void **state) {
  (void)state;
  cJSON *o = cJSON_CreateObject();
  assert_int_equal(cp_json_set(o, "k", cJSON_CreateString("a")), 0);
  assert_int_equal(cp_json_set(o, "k", cJSON_CreateString("b")), 0);
  assert_string_equal(cp_json_strv(o, "k", NULL), "b");
  assert_int_equal(cJSON_GetArraySize(o), 1);
  cJSON *meta = cp_json_child_object(o, "metadata");
  assert_non_null(meta);
  assert_ptr_equal(cp_json_child_object(o, "metadata"), meta);
  cJSON *k = cp_json_child_object(o, "k"); /* a string member is replaced by an object */
  assert_ptr_equal(k, cJSON_GetObjectItem(o, "k"));
  assert_true(cJSON_IsObject(cJSON_GetObjectItem(o, "k")));
  cJSON_Delete(o);
}

static void contains_ignores_server_defaults_but_not_changes(void **state) {
  (void)state;
  cJSON *have = cJSON_Parse("{\"spec\":{\"type\":\"ClusterIP\",\"clusterIP\":\"10.96.0.9\","
                            "\"ports\":[{\"port\":18789,\"protocol\":\"TCP\"}]}}");
  cJSON *same = cJSON_Parse("{\"spec\":{\"ports\":[{\"port\":18789}]}}");
  cJSON *port = cJSON_Parse("{\"spec\":{\"ports\":[{\"port\":80}]}}");
  cJSON *more = cJSON_Parse("{\"spec\":{\"ports\":[{\"port\":18789},{\"port\":80}]}}");
  cJSON *missing = cJSON_Parse("{\"spec\":{\"selector\":{\"a\":\"b\"}}}");
  assert_true(cp_json_contains(have, same));
  assert_false(cp_json_contains(have, port));
  assert_false(cp_json_contains(have, more));
  assert_false(cp_json_contains(have, missing));
  assert_false(cp_json_contains(NULL, same));
  assert_true(cp_json_contains(have, NULL));
  cJSON_Delete(have);
  cJSON_Delete(same);
  cJSON_Delete(port);
  cJSON_Delete(more);
  cJSON_Delete(missing);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(getv_walks_keys_with_dots),
      cmocka_unit_test(parse_refuses_oversize_and_garbage),
      cmocka_unit_test(set_replaces_and_child_object_creates),
      cmocka_unit_test(contains_ignores_server_defaults_but_not_changes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
