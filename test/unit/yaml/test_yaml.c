/* YAML to JSON: core-schema scalars, JSON input, nesting cap, aliases, one document only,
 * duplicate keys, tags, and the error messages a user would see. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "json/json.h"
#include "yaml/yaml.h"

#define MAX ((size_t)1 << 20)

static cJSON *conv_ok(const char *yaml) {
  cJSON *out = NULL;
  char err[256] = "";
  int rc = cp_yaml_to_json(yaml, strlen(yaml), MAX, &out, err, sizeof err);
  if (rc != 0)
    fail_msg("cp_yaml_to_json(%s) = %s: %s", yaml, cp_errname(rc), err);
  assert_non_null(out);
  return out;
}

/* Asserts the conversion fails with rc, leaves out untouched and names `want` in err. */
static void conv_fails(const char *yaml, int rc, const char *want) {
  cJSON *sentinel = (cJSON *)&sentinel, *out = sentinel;
  char err[256] = "";
  assert_int_equal(cp_yaml_to_json(yaml, strlen(yaml), MAX, &out, err, sizeof err), rc);
  assert_ptr_equal(out, sentinel);
  if (!strstr(err, want))
    fail_msg("error \"%s\" does not mention \"%s\"", err, want);
}

static void plain_scalars_follow_the_core_schema(void **state) {
  (void)state;
  cJSON *o = conv_ok("t: true\nT: True\nf: FALSE\nn: null\ntilde: ~\nempty:\n"
                     "i: -42\nplus: +7\nhex: 0x1F\noct: 0o17\nfl: 3.5\nexp: 1e3\ndot: .5\n"
                     "yes: yes\nword: hello world\nver: 1.2.3\ninf: .inf\nnan: .nan\n"
                     "huge: 1e400\nzeroes: 007\n");
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "t")));
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "T")));
  assert_true(cJSON_IsFalse(cJSON_GetObjectItem(o, "f")));
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "n")));
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "tilde")));
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "empty")));
  assert_true(cJSON_GetObjectItem(o, "i")->valuedouble == -42);
  assert_true(cJSON_GetObjectItem(o, "plus")->valuedouble == 7);
  assert_true(cJSON_GetObjectItem(o, "hex")->valuedouble == 31);
  assert_true(cJSON_GetObjectItem(o, "oct")->valuedouble == 15);
  assert_true(cJSON_GetObjectItem(o, "fl")->valuedouble == 3.5);
  assert_true(cJSON_GetObjectItem(o, "exp")->valuedouble == 1000);
  assert_true(cJSON_GetObjectItem(o, "dot")->valuedouble == 0.5);
  assert_true(cJSON_GetObjectItem(o, "zeroes")->valuedouble == 7);
  /* YAML 1.1 booleans and things that only look numeric stay strings. */
  assert_string_equal(cp_json_strv(o, "yes", NULL), "yes");
  assert_string_equal(cp_json_strv(o, "word", NULL), "hello world");
  assert_string_equal(cp_json_strv(o, "ver", NULL), "1.2.3");
  /* JSON has no infinity or NaN: they stay strings rather than turning into null. */
  assert_string_equal(cp_json_strv(o, "inf", NULL), ".inf");
  assert_string_equal(cp_json_strv(o, "nan", NULL), ".nan");
  assert_string_equal(cp_json_strv(o, "huge", NULL), "1e400");
  cJSON_Delete(o);
}

static void quoted_and_block_scalars_stay_strings(void **state) {
  (void)state;
  cJSON *o = conv_ok("a: \"true\"\nb: '42'\nc: \"null\"\nd: |\n  line1\n  line2\ne: ''\n"
                     "1: numeric key\ntrue: bool key\n");
  assert_string_equal(cp_json_strv(o, "a", NULL), "true");
  assert_string_equal(cp_json_strv(o, "b", NULL), "42");
  assert_string_equal(cp_json_strv(o, "c", NULL), "null");
  assert_string_equal(cp_json_strv(o, "d", NULL), "line1\nline2\n");
  assert_string_equal(cp_json_strv(o, "e", NULL), "");
  assert_string_equal(cp_json_strv(o, "1", NULL), "numeric key");
  assert_string_equal(cp_json_strv(o, "true", NULL), "bool key");
  cJSON_Delete(o);
}

static void json_input_matches_cjson(void **state) {
  (void)state;
  const char *json = "{\"a\": [1, 2.5, -3e2, true, false, null, \"s\", {\"k\": \"v\"}],"
                     " \"b\": {\"c\": \"\\u00e9\\n\"}, \"e\": []}";
  cJSON *y = conv_ok(json);
  cJSON *j = cJSON_Parse(json);
  assert_non_null(j);
  assert_true(cJSON_Compare(y, j, 1));
  cJSON_Delete(y);
  cJSON_Delete(j);
}

static void block_and_flow_collections(void **state) {
  (void)state;
  cJSON *o = conv_ok("list:\n  - a\n  - {x: 1}\n  - [2, 3]\nmap:\n  nested:\n    deep: v\n");
  cJSON *list = cJSON_GetObjectItem(o, "list");
  assert_int_equal(cJSON_GetArraySize(list), 3);
  assert_string_equal(cJSON_GetArrayItem(list, 0)->valuestring, "a");
  assert_true(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 1), "x")->valuedouble == 1);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetArrayItem(list, 2)), 2);
  assert_string_equal(cp_json_strv(o, "map", "nested", "deep", NULL), "v");
  cJSON_Delete(o);
  /* A bare scalar document is fine too. */
  o = conv_ok("just text");
  assert_string_equal(o->valuestring, "just text");
  cJSON_Delete(o);
}

static char *nested(int depth) {
  char *s = malloc((size_t)depth * 2 + 1);
  assert_non_null(s);
  for (int i = 0; i < depth; i++) {
    s[i] = '[';
    s[depth + i] = ']';
  }
  s[depth * 2] = '\0';
  return s;
}

static void nesting_is_capped(void **state) {
  (void)state;
  char *ok = nested(CP_YAML_MAX_DEPTH);
  cJSON *o = conv_ok(ok);
  cJSON_Delete(o);
  char *deep = nested(CP_YAML_MAX_DEPTH + 1);
  conv_fails(deep, CP_EPARSE, "deeper than 64 levels");
  free(ok);
  free(deep);
  /* Far deeper input fails the same way, without recursion or large allocations. */
  char *huge = nested(100000);
  conv_fails(huge, CP_EPARSE, "deeper than 64 levels");
  free(huge);
  /* Block mappings count too. */
  char block[8192];
  size_t n = 0;
  for (int i = 0; i <= CP_YAML_MAX_DEPTH; i++)
    n += (size_t)snprintf(block + n, sizeof block - n, "%*sk%d:\n", i, "", i);
  conv_fails(block, CP_EPARSE, "deeper than 64 levels");
}

static void aliases_are_refused(void **state) {
  (void)state;
  conv_fails("a: &x 1\nb: *x\n", CP_EPARSE, "aliases such as *x (line 2, column 4)");
  conv_fails("base: &b {k: v}\nmerged:\n  <<: *b\n", CP_EPARSE, "not supported");
  /* Billion laughs: refused at the first alias instead of expanding. */
  conv_fails("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
             "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
             "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
             "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
             "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
             "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
             "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
             "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
             "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n",
             CP_EPARSE, "aliases");
  /* An anchor that is never used is harmless and ignored. */
  cJSON *o = conv_ok("a: &x 1\n");
  assert_true(cJSON_GetObjectItem(o, "a")->valuedouble == 1);
  cJSON_Delete(o);
}

static void only_one_document(void **state) {
  (void)state;
  conv_fails("a: 1\n---\nb: 2\n", CP_EPARSE,
             "more than one document (the second starts at line 2)");
  conv_fails("a: 1\n---\n", CP_EPARSE, "more than one document");
  /* Explicit start and end markers around a single document are fine. */
  cJSON *o = conv_ok("---\na: 1\n...\n");
  assert_true(cJSON_GetObjectItem(o, "a")->valuedouble == 1);
  cJSON_Delete(o);
  /* No document at all gives a JSON null. */
  o = conv_ok("");
  assert_true(cJSON_IsNull(o));
  cJSON_Delete(o);
  o = conv_ok("# only a comment\n");
  assert_true(cJSON_IsNull(o));
  cJSON_Delete(o);
}

static void syntax_errors_name_line_and_column(void **state) {
  (void)state;
  conv_fails("a: 1\nb: [1, 2\nc: 3\n", CP_EPARSE, "YAML syntax error at line");
  conv_fails("a: 1\n b: 2\n", CP_EPARSE, "line 2, column 3");
  conv_fails("key: \"unterminated\n", CP_EPARSE, "line 2");
  conv_fails("a: \xff\xfe\n", CP_EPARSE, "not valid text at byte offset 3");
}

static void keys_must_be_unique_scalars(void **state) {
  (void)state;
  conv_fails("a: 1\nb: 2\na: 3\n", CP_EPARSE,
             "duplicate key \"a\" in the mapping that starts at line 1");
  conv_fails("x:\n  k: 1\n  k: 2\n", CP_EPARSE, "duplicate key \"k\"");
  conv_fails("? [a, b]\n: 1\n", CP_EPARSE, "keys must be scalars");
  /* The same key in different mappings is fine. */
  cJSON *o = conv_ok("a: {k: 1}\nb: {k: 2}\n");
  cJSON_Delete(o);
}

static void tags(void **state) {
  (void)state;
  cJSON *o = conv_ok("s: !!str 123\ni: !!int 42\nb: !!bool true\nn: !!null ~\nq: ! 7\n"
                     "m: !!map {a: 1}\nl: !!seq [1]\n");
  assert_string_equal(cp_json_strv(o, "s", NULL), "123");
  assert_true(cJSON_GetObjectItem(o, "i")->valuedouble == 42);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "b")));
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "n")));
  assert_string_equal(cp_json_strv(o, "q", NULL), "7");
  cJSON_Delete(o);
  conv_fails("i: !!int abc\n", CP_EPARSE, "does not match its tag \"tag:yaml.org,2002:int\"");
  conv_fails("x: !custom thing\n", CP_EPARSE, "unsupported YAML tag \"!custom\" at line 1");
  conv_fails("x: !!set {a: ~}\n", CP_EPARSE, "unsupported YAML tag");
  conv_fails("x: !!binary aGVsbG8=\n", CP_EPARSE, "unsupported YAML tag");
}

static void nul_characters_are_refused(void **state) {
  (void)state;
  conv_fails("a: \"x\\0y\"\n", CP_EPARSE, "contains a NUL character");
}

static void size_limit_and_arguments(void **state) {
  (void)state;
  cJSON *sentinel = (cJSON *)&sentinel, *out = sentinel;
  char err[128] = "";
  assert_int_equal(cp_yaml_to_json("a: 1234", 7, 6, &out, err, sizeof err), CP_ETOOBIG);
  assert_ptr_equal(out, sentinel);
  assert_non_null(strstr(err, "exceeds the limit of 6 bytes"));
  assert_int_equal(cp_yaml_to_json("a: 1", 4, 4, &out, NULL, 0), 0); /* err is optional */
  cJSON_Delete(out);
  assert_int_equal(cp_yaml_to_json("a", 1, 10, NULL, err, sizeof err), CP_EINVAL);
  assert_int_equal(cp_yaml_to_json(NULL, 1, 10, &out, err, sizeof err), CP_EINVAL);
  /* Input need not be NUL-terminated: only len bytes are read. */
  out = NULL;
  assert_int_equal(cp_yaml_to_json("a: 1\n[garbage", 5, 100, &out, err, sizeof err), 0);
  assert_true(cJSON_GetObjectItem(out, "a")->valuedouble == 1);
  cJSON_Delete(out);
}

static void large_flat_mapping_is_fast(void **state) {
  (void)state;
  /* 100k keys: duplicate detection must not be quadratic. */
  size_t cap = 100000 * 16, n = 0;
  char *s = malloc(cap);
  assert_non_null(s);
  for (int i = 0; i < 100000; i++)
    n += (size_t)snprintf(s + n, cap - n, "k%d: %d\n", i, i);
  cJSON *o = NULL;
  char err[128] = "";
  assert_int_equal(cp_yaml_to_json(s, n, 4 << 20, &o, err, sizeof err), 0);
  assert_int_equal(cJSON_GetArraySize(o), 100000);
  cJSON_Delete(o);
  free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(plain_scalars_follow_the_core_schema),
      cmocka_unit_test(quoted_and_block_scalars_stay_strings),
      cmocka_unit_test(json_input_matches_cjson),
      cmocka_unit_test(block_and_flow_collections),
      cmocka_unit_test(nesting_is_capped),
      cmocka_unit_test(aliases_are_refused),
      cmocka_unit_test(only_one_document),
      cmocka_unit_test(syntax_errors_name_line_and_column),
      cmocka_unit_test(keys_must_be_unique_scalars),
      cmocka_unit_test(tags),
      cmocka_unit_test(nul_characters_are_refused),
      cmocka_unit_test(size_limit_and_arguments),
      cmocka_unit_test(large_flat_mapping_is_fast),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
