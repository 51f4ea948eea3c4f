/* Drift rules: LIST objects without apiVersion/kind match, exact paths refuse extra keys,
 * "*" walks arrays pairwise, and the repaired object drops what an exact path does not own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "json/drift.h"
#include "json/json.h"

static cJSON *parse(const char *s) {
  cJSON *o = NULL;
  assert_int_equal(cp_json_parse(s, strlen(s), 1 << 20, &o), 0);
  return o;
}

static const char *NP_WANT = "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\","
                             "\"metadata\":{\"name\":\"a\",\"labels\":{\"x\":\"1\"}},"
                             "\"spec\":{\"podSelector\":{\"matchLabels\":{\"i\":\"a\"}},"
                             "\"policyTypes\":[\"Ingress\",\"Egress\"]}}";

static const cp_json_rule_t NP_RULES[] = {{"", false}, {"spec", true}, {NULL, false}};

static void list_object_without_kind_matches(void **state) {
  (void)state;
  cJSON *want = parse(NP_WANT);
  /* As a LIST returns it: no apiVersion/kind, server-set metadata. */
  cJSON *live = parse("{\"metadata\":{\"name\":\"a\",\"uid\":\"u\",\"resourceVersion\":\"7\","
                      "\"labels\":{\"x\":\"1\",\"extra\":\"ok\"}},"
                      "\"spec\":{\"podSelector\":{\"matchLabels\":{\"i\":\"a\"}},"
                      "\"policyTypes\":[\"Ingress\",\"Egress\"]}}");
  assert_null(cp_json_drift(live, want, NP_RULES));
  /* With apiVersion/kind (GET, watch), they must agree. */
  cJSON_AddStringToObject(live, "apiVersion", "networking.k8s.io/v1");
  cJSON_AddStringToObject(live, "kind", "NetworkPolicy");
  assert_null(cp_json_drift(live, want, NP_RULES));
  cJSON_ReplaceItemInObjectCaseSensitive(live, "kind", cJSON_CreateString("Other"));
  assert_string_equal(cp_json_drift(live, want, NP_RULES), "");
  assert_string_equal(cp_json_drift(NULL, want, NP_RULES), "");
  cJSON_Delete(live);
  cJSON_Delete(want);
}

static void exact_path_refuses_extra_selector_key(void **state) {
  (void)state;
  cJSON *want = parse(NP_WANT);
  cJSON *live = parse("{\"metadata\":{\"name\":\"a\",\"labels\":{\"x\":\"1\"}},"
                      "\"spec\":{\"podSelector\":{\"matchLabels\":{\"i\":\"a\",\"x\":\"nomatch\"}},"
                      "\"policyTypes\":[\"Ingress\",\"Egress\"]}}");
  /* What the old check accepted: */
  assert_true(cp_json_contains(cp_json_getv(live, "spec", NULL), cp_json_getv(want, "spec", NULL)));
  assert_string_equal(cp_json_drift(live, want, NP_RULES), "spec");
  /* The repair keeps the server's metadata, drops managedFields and the extra key. */
  cJSON_AddItemToObject(cJSON_GetObjectItem(live, "metadata"), "managedFields",
                        cJSON_CreateArray());
  cJSON_AddStringToObject(cJSON_GetObjectItem(live, "metadata"), "resourceVersion", "9");
  cJSON *fixed = cp_json_repaired(live, want, NP_RULES);
  assert_non_null(fixed);
  assert_null(cp_json_drift(fixed, want, NP_RULES));
  assert_null(cp_json_getv(fixed, "spec", "podSelector", "matchLabels", "x", NULL));
  assert_string_equal(cp_json_strv(fixed, "metadata", "resourceVersion", NULL), "9");
  assert_null(cp_json_getv(fixed, "metadata", "managedFields", NULL));
  assert_string_equal(cp_json_strv(fixed, "kind", NULL), "NetworkPolicy");
  cJSON_Delete(fixed);
  cJSON_Delete(live);
  cJSON_Delete(want);
}

static void contains_path_accepts_server_defaults(void **state) {
  (void)state;
  cJSON *want = parse("{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i:1\","
                      "\"readinessProbe\":{\"periodSeconds\":5}}]}}");
  cJSON *live = parse("{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i:1\","
                      "\"imagePullPolicy\":\"IfNotPresent\","
                      "\"readinessProbe\":{\"periodSeconds\":5,\"successThreshold\":1}}]}}");
  static const cp_json_rule_t rules[] = {{"spec/containers/*/image", true},
                                         {"spec/containers/*/readinessProbe", false},
                                         {"spec/containers/*/resources", true}, /* not owned */
                                         {NULL, false}};
  assert_null(cp_json_drift(live, want, rules));
  cJSON *c = cJSON_GetArrayItem(cp_json_getv(live, "spec", "containers", NULL), 0);
  cJSON_ReplaceItemInObjectCaseSensitive(c, "image", cJSON_CreateString("evil:1"));
  assert_string_equal(cp_json_drift(live, want, rules), "spec/containers/*/image");
  /* A second container in live is drift too: the arrays must pair up. */
  cJSON_ReplaceItemInObjectCaseSensitive(c, "image", cJSON_CreateString("i:1"));
  cJSON_AddItemToArray(cJSON_GetObjectItem(cJSON_GetObjectItem(live, "spec"), "containers"),
                       parse("{\"name\":\"d\",\"image\":\"i:1\"}"));
  assert_string_equal(cp_json_drift(live, want, rules), "spec/containers/*/image");
  cJSON_Delete(live);
  cJSON_Delete(want);
}

static void escaped_keys_and_missing_live(void **state) {
  (void)state;
  cJSON *want = parse("{\"metadata\":{\"annotations\":{\"a.io/hash\":\"h1\"}}}");
  cJSON *live = parse("{\"metadata\":{\"annotations\":{\"a.io/hash\":\"h1\",\"o\":\"x\"}}}");
  static const cp_json_rule_t rules[] = {{"metadata/annotations/a.io~1hash", true}, {NULL, false}};
  assert_null(cp_json_drift(live, want, rules));
  cJSON_DeleteItemFromObject(cJSON_GetObjectItem(live, "metadata"), "annotations");
  assert_string_equal(cp_json_drift(live, want, rules), "metadata/annotations/a.io~1hash");
  cJSON_Delete(live);
  cJSON_Delete(want);
}

/* cp_json_keep: what is on a path stays whole, the rest goes; "*" walks array elements. */
static void keep_trims_to_paths(void **state) {
  (void)state;
  static const cp_json_rule_t a[] = {{"metadata", false}, {"spec/c/*/image", false}, {NULL, false}};
  static const cp_json_rule_t b[] = {{"status/conditions/*/type", false},
                                     {"spec/v", false},
                                     {"spec/c/*/env", false},
                                     {NULL, false}};
  static const cp_json_rule_t *const tables[] = {a, b, NULL};
  cJSON *o = parse("{\"metadata\":{\"name\":\"x\",\"labels\":{\"k\":\"v\"}},"
                   "\"spec\":{\"c\":[{\"name\":\"n\",\"image\":\"i\",\"env\":[{\"name\":\"E\"}],"
                   "\"ports\":[1]},{\"image\":\"j\"}],\"v\":[{\"x\":1}],\"dns\":\"y\"},"
                   "\"status\":{\"phase\":\"P\",\"conditions\":[{\"type\":\"Ready\","
                   "\"status\":\"True\"}]},\"extra\":1}");
  cp_json_keep(o, tables);
  cJSON *want = parse("{\"metadata\":{\"name\":\"x\",\"labels\":{\"k\":\"v\"}},"
                      "\"spec\":{\"c\":[{\"image\":\"i\",\"env\":[{\"name\":\"E\"}]},"
                      "{\"image\":\"j\"}],\"v\":[{\"x\":1}]},"
                      "\"status\":{\"conditions\":[{\"type\":\"Ready\"}]}}");
  assert_true(cJSON_Compare(o, want, 1));
  cJSON_Delete(want);
  /* a named step at an array keeps the element whole; "" keeps everything */
  static const cp_json_rule_t named[] = {{"spec/c/image", false}, {NULL, false}};
  static const cp_json_rule_t *const t2[] = {named, NULL};
  cJSON *p = parse("{\"spec\":{\"c\":[{\"image\":\"i\",\"x\":1}],\"d\":2}}");
  cp_json_keep(p, t2);
  cJSON *w2 = parse("{\"spec\":{\"c\":[{\"image\":\"i\",\"x\":1}]}}");
  assert_true(cJSON_Compare(p, w2, 1));
  static const cp_json_rule_t all[] = {{"", false}, {NULL, false}};
  static const cp_json_rule_t *const t3[] = {all, NULL};
  cJSON *q = cJSON_Duplicate(o, 1);
  cp_json_keep(q, t3);
  assert_true(cJSON_Compare(q, o, 1));
  cp_json_keep(q, NULL); /* no path: nothing is kept */
  assert_null(q->child);
  cJSON_Delete(q);
  cJSON_Delete(w2);
  cJSON_Delete(p);
  cJSON_Delete(o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(list_object_without_kind_matches),
      cmocka_unit_test(exact_path_refuses_extra_selector_key),
      cmocka_unit_test(contains_path_accepts_server_defaults),
      cmocka_unit_test(escaped_keys_and_missing_live),
      cmocka_unit_test(keep_trims_to_paths),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
