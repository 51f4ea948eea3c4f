/* Shared member names: equal names share one copy, trees with shared names compare,
 * duplicate and delete like any other (the sanitizer build checks the frees). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "json/intern.h"
#include "json/json.h"

static cJSON *parse(const char *s) {
  cJSON *o = NULL;
  assert_int_equal(cp_json_parse(s, strlen(s), 1 << 20, &o), 0);
  return o;
}

static void equal_strings_share_one_copy(void **state) {
  (void)state;
  char a[] = "lastTransitionTime", b[] = "lastTransitionTime";
  const char *x = cp_json_intern(a), *y = cp_json_intern(b);
  assert_non_null(x);
  assert_ptr_equal(x, y);
  assert_ptr_not_equal(x, a);
  assert_string_equal(x, "lastTransitionTime");
  char longer[CP_JSON_INTERN_LEN + 1];
  memset(longer, 'k', sizeof longer - 1);
  longer[sizeof longer - 1] = '\0';
  assert_null(cp_json_intern(longer)); /* too long to share */
  assert_null(cp_json_intern(NULL));
}

static void trees_with_shared_names_behave(void **state) {
  (void)state;
  const char *text = "{\"metadata\":{\"name\":\"a\",\"labels\":{\"app\":\"x\"}},"
                     "\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}";
  cJSON *a = parse(text), *b = parse(text);
  cp_json_intern_keys(a);
  cp_json_intern_keys(a); /* twice: nothing changes */
  cp_json_intern_keys(NULL);
  cJSON *md = cJSON_GetObjectItemCaseSensitive(a, "metadata");
  assert_true(md->type & cJSON_StringIsConst);
  assert_ptr_equal(md->string, cp_json_intern("metadata"));
  assert_true(cJSON_Compare(a, b, 1));
  const cJSON *cond = cJSON_GetArrayItem(cp_json_getv(a, "status", "conditions", NULL), 0);
  assert_string_equal(cp_json_strv(cond, "type", NULL), "Ready");
  cJSON *c = cJSON_Duplicate(a, 1);
  assert_true(cJSON_Compare(c, b, 1));
  /* replacing a member of a copy leaves the shared name alone */
  assert_int_equal(
      cp_json_set(cJSON_GetObjectItemCaseSensitive(c, "metadata"), "name", cJSON_CreateString("b")),
      0);
  assert_string_equal(cp_json_strv(c, "metadata", "name", NULL), "b");
  assert_string_equal(cp_json_intern("name"), "name");
  assert_true(cp_json_intern_count() >= 8);
  cJSON_Delete(c);
  cJSON_Delete(a);
  cJSON_Delete(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(equal_strings_share_one_copy),
      cmocka_unit_test(trees_with_shared_names_behave),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
