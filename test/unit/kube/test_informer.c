/* What every informer cache drops on the way in: managedFields and kubectl's last-applied
 * annotation, nothing else. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "json/json.h"
#include "kube/informer.h"

static cJSON *parse(const char *s) {
  cJSON *o = NULL;
  assert_int_equal(cp_json_parse(s, strlen(s), 1 << 20, &o), 0);
  return o;
}

static void strip_drops_managed_fields_and_last_applied(void **state) {
  (void)state;
  cJSON *o =
      parse("{\"metadata\":{\"name\":\"a\",\"managedFields\":[{\"manager\":\"m\",\"fieldsV1\":{}}],"
            "\"annotations\":{\"kubectl.kubernetes.io/last-applied-configuration\":\"{}\","
            "\"clawplane.io/spec-hash\":\"h\"}},\"spec\":{\"managedFields\":1}}");
  cp_informer_strip(o);
  cJSON *want = parse("{\"metadata\":{\"name\":\"a\",\"annotations\":{"
                      "\"clawplane.io/spec-hash\":\"h\"}},\"spec\":{\"managedFields\":1}}");
  assert_true(cJSON_Compare(o, want, 1));
  cp_informer_strip(o); /* twice: the same */
  assert_true(cJSON_Compare(o, want, 1));
  cJSON_Delete(want);
  cJSON_Delete(o);
  cJSON *odd = parse("{\"metadata\":[1],\"x\":2}");
  cp_informer_strip(odd); /* not an object where metadata should be: left alone */
  cJSON_Delete(odd);
  cp_informer_strip(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(strip_drops_managed_fields_and_last_applied),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
