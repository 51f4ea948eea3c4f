/* lib/api/body: each request body validator accepts its shape and names the problem in
 * everything else; query strings decode exactly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "api/body.h"
#include "core/error.h"

static cJSON *parse(const char *s) {
  cJSON *j = NULL;
  char err[128];
  assert_int_equal(cp_api_body_parse(s, strlen(s), &j, err, sizeof err), 0);
  return j;
}

static void bodies_must_be_objects(void **state) {
  (void)state;
  cJSON *j = (cJSON *)0x1;
  char err[128];
  assert_int_equal(cp_api_body_parse("", 0, &j, err, sizeof err), CP_EINVAL);
  assert_non_null(strstr(err, "required"));
  assert_int_equal(cp_api_body_parse("{", 1, &j, err, sizeof err), CP_EPARSE);
  assert_non_null(strstr(err, "not valid JSON"));
  assert_int_equal(cp_api_body_parse("[1]", 3, &j, err, sizeof err), CP_EINVAL);
  assert_non_null(strstr(err, "object"));
  assert_int_equal(cp_api_body_parse("{}", 3, &j, err, sizeof err), CP_EPARSE); /* NUL byte */
  assert_int_equal(cp_api_body_parse("{} x", 4, &j, err, sizeof err), CP_EPARSE);
  assert_int_equal(cp_api_body_parse("{}{}", 4, &j, err, sizeof err), CP_EPARSE);
  const char *nul = "{\"password\":\"abc\\u0000def\"}";
  assert_int_equal(cp_api_body_parse(nul, strlen(nul), &j, err, sizeof err), CP_EINVAL);
  assert_non_null(strstr(err, "NUL"));
  const char *escaped = "{\"password\":\"abc\\\\u0000def\"}"; /* a backslash, then u0000 */
  assert_int_equal(cp_api_body_parse(escaped, strlen(escaped), &j, err, sizeof err), 0);
  cJSON_Delete(j);
  j = (cJSON *)0x1;
  static char big[CP_API_MAX_BODY + 10];
  memset(big, ' ', sizeof big);
  big[0] = '{';
  big[sizeof big - 1] = '}';
  assert_int_equal(cp_api_body_parse(big, sizeof big, &j, err, sizeof err), CP_ETOOBIG);
  assert_ptr_equal(j, (cJSON *)0x1);
}

/* PostgreSQL refuses bytes that are not UTF-8: a body holding them is the client's error
 * (400 naming the offset), never a database error. */
static void bodies_must_be_utf8(void **state) {
  (void)state;
  static const char *const bad[] = {
      "{\"username\":\"caf\xe9\"}",              /* Latin-1 */
      "{\"password\":\"\xc0\xafpassword\"}",     /* overlong '/' */
      "{\"name\":\"\xed\xa0\x80\"}",             /* a surrogate */
      "{\"name\":\"\xf4\x90\x80\x80\"}",         /* past U+10FFFF */
      "{\"name\":\"x\"}\xe2\x82",                /* truncated, after the object */
      "{\"allowed_models\":[\"\xf0\x9f\x90\"]}", /* truncated inside a string */
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    cJSON *j = (cJSON *)0x1;
    char err[128] = "";
    assert_int_equal(cp_api_body_parse(bad[i], strlen(bad[i]), &j, err, sizeof err), CP_EPARSE);
    assert_non_null(strstr(err, "not valid UTF-8"));
    assert_ptr_equal(j, (cJSON *)0x1);
  }
  char err[128];
  cJSON *j = NULL;
  const char *first = "{\"username\":\"caf\xe9\"}";
  assert_int_equal(cp_api_body_parse(first, strlen(first), &j, err, sizeof err), CP_EPARSE);
  assert_non_null(strstr(err, "byte 16"));
  const char *good = "{\"name\":\"\xc3\xa9t\xc3\xa9 \xf0\x9f\x90\xbe\"}";
  j = parse(good);
  assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "name")->valuestring,
                      "\xc3\xa9t\xc3\xa9 \xf0\x9f\x90\xbe");
  cJSON_Delete(j);
}

static void trailing_blanks_are_fine(void **state) {
  (void)state;
  cJSON *j = NULL;
  char err[128];
  assert_int_equal(cp_api_body_parse("{\"a\":1}\r\n ", 10, &j, err, sizeof err), 0);
  cJSON_Delete(j);
}

static void names(void **state) {
  (void)state;
  assert_true(cp_api_valid_username("alice"));
  assert_true(cp_api_valid_username("a-1"));
  assert_false(cp_api_valid_username("1alice"));
  assert_false(cp_api_valid_username("Alice"));
  assert_false(cp_api_valid_username("alice-"));
  assert_false(cp_api_valid_username(""));
  assert_false(cp_api_valid_username("a.b"));
  char long64[65];
  memset(long64, 'a', 64);
  long64[64] = '\0';
  assert_false(cp_api_valid_username(long64));
  long64[63] = '\0';
  assert_true(cp_api_valid_username(long64));
  assert_true(cp_api_valid_profile("default"));
  assert_true(cp_api_valid_profile("gpu.large"));
  assert_false(cp_api_valid_profile("gpu..large"));
  assert_false(cp_api_valid_profile(".x"));
  assert_false(cp_api_valid_profile("X"));
}

static void login_and_password_change(void **state) {
  (void)state;
  char err[128];
  cp_api_login_t l;
  cJSON *j = parse("{\"username\":\"alice\",\"password\":\"pw\"}");
  assert_int_equal(cp_api_parse_login(j, &l, err, sizeof err), 0);
  assert_string_equal(l.username, "alice");
  assert_int_equal(l.password_len, 2);
  cJSON_Delete(j);
  j = parse("{\"username\":\"alice\",\"pasword\":\"pw\"}");
  assert_int_equal(cp_api_parse_login(j, &l, err, sizeof err), CP_EINVAL);
  assert_string_equal(err, "unknown field \"pasword\"");
  cJSON_Delete(j);
  j = parse("{\"username\":\"alice\",\"password\":5}");
  assert_int_equal(cp_api_parse_login(j, &l, err, sizeof err), CP_EINVAL);
  assert_string_equal(err, "password must be a string");
  cJSON_Delete(j);
  j = parse("{\"username\":\"alice\"}");
  assert_int_equal(cp_api_parse_login(j, &l, err, sizeof err), CP_EINVAL);
  assert_string_equal(err, "password is required");
  cJSON_Delete(j);

  cp_api_password_change_t pc;
  j = parse("{\"current_password\":\"old\",\"new_password\":\"short\"}");
  assert_int_equal(cp_api_parse_password_change(j, &pc, err, sizeof err), CP_EINVAL);
  assert_non_null(strstr(err, "new_password: password must be at least 8"));
  cJSON_Delete(j);
  j = parse("{\"current_password\":\"old\",\"new_password\":\"long enough\"}");
  assert_int_equal(cp_api_parse_password_change(j, &pc, err, sizeof err), 0);
  assert_string_equal(pc.next, "long enough");
  cJSON_Delete(j);
}

static void user_create(void **state) {
  (void)state;
  char err[160];
  cp_api_user_create_t u;
  cJSON *j = parse("{\"username\":\"bob\"}");
  assert_int_equal(cp_api_parse_user_create(j, &u, err, sizeof err), 0);
  assert_string_equal(u.role, "user");
  assert_null(u.password);
  cJSON_Delete(j);
  j = parse("{\"username\":\"bob\",\"role\":\"root\"}");
  assert_int_equal(cp_api_parse_user_create(j, &u, err, sizeof err), CP_EINVAL);
  assert_non_null(strstr(err, "role must be"));
  cJSON_Delete(j);
  j = parse("{\"username\":\"Bob\"}");
  assert_int_equal(cp_api_parse_user_create(j, &u, err, sizeof err), CP_EINVAL);
  assert_non_null(strstr(err, "username must be"));
  cJSON_Delete(j);
  j = parse("{\"username\":\"bob\",\"role\":\"admin\",\"password\":\"sufficient\"}");
  assert_int_equal(cp_api_parse_user_create(j, &u, err, sizeof err), 0);
  assert_string_equal(u.role, "admin");
  assert_string_equal(u.password, "sufficient");
  cJSON_Delete(j);
}

static void runtime_put(void **state) {
  (void)state;
  char err[160];
  cp_api_runtime_put_t p;
  cJSON *j = parse("{\"state\":\"Stopped\"}");
  assert_int_equal(cp_api_parse_runtime_put(j, &p, err, sizeof err), 0);
  assert_string_equal(p.state, "Stopped");
  assert_null(p.profile);
  assert_null(p.resources);
  cJSON_Delete(j);
  j = parse("{\"stat\":\"Stopped\"}");
  assert_int_equal(cp_api_parse_runtime_put(j, &p, err, sizeof err), CP_EINVAL);
  assert_string_equal(err, "unknown field \"stat\"");
  cJSON_Delete(j);
  j = parse("{}");
  assert_int_equal(cp_api_parse_runtime_put(j, &p, err, sizeof err), CP_EINVAL);
  cJSON_Delete(j);
  j = parse("{\"state\":null}");
  assert_int_equal(cp_api_parse_runtime_put(j, &p, err, sizeof err), CP_EINVAL);
  assert_string_equal(err, "state must be a string");
  cJSON_Delete(j);
  j = parse("{\"state\":\"Paused\"}");
  assert_int_equal(cp_api_parse_runtime_put(j, &p, err, sizeof err), CP_EINVAL);
  assert_non_null(strstr(err, "state must be"));
  cJSON_Delete(j);
  j = parse("{\"profile\":\"Big\"}");
  assert_int_equal(cp_api_parse_runtime_put(j, &p, err, sizeof err), CP_EINVAL);
  cJSON_Delete(j);
  j = parse("{\"resources\":{\"limits\":{\"memory\":\"2Gi\",\"cpu\":1}}}");
  assert_int_equal(cp_api_parse_runtime_put(j, &p, err, sizeof err), 0);
  assert_non_null(p.resources);
  cJSON_Delete(j);
  j = parse("{\"resources\":{\"limits\":{\"gpu\":\"1\"}}}");
  assert_int_equal(cp_api_parse_runtime_put(j, &p, err, sizeof err), CP_EINVAL);
  assert_non_null(strstr(err, "unknown resource \"gpu\""));
  cJSON_Delete(j);
  j = parse("{\"resources\":{\"requests\":{\"memory\":\"lots\"}}}");
  assert_int_equal(cp_api_parse_runtime_put(j, &p, err, sizeof err), CP_EINVAL);
  assert_non_null(strstr(err, "resources.requests.memory"));
  cJSON_Delete(j);
  j = parse("{\"resources\":{\"requests\":{\"cpu\":\"-1\"}}}");
  assert_int_equal(cp_api_parse_runtime_put(j, &p, err, sizeof err), CP_EINVAL);
  cJSON_Delete(j);
  /* in the spec's grammar but zero or too large: unacceptable, not malformed (422) */
  j = parse("{\"resources\":{\"requests\":{\"cpu\":\"0\"},\"limits\":{\"memory\":\"100E\"}}}");
  assert_int_equal(cp_api_parse_runtime_put(j, &p, err, sizeof err), CP_EINVALID);
  cJSON_Delete(j);
  j = parse("{\"resources\":{\"requests\":{\"cpu\":\"1\"},\"extra\":{}}}");
  assert_int_equal(cp_api_parse_runtime_put(j, &p, err, sizeof err), CP_EINVAL);
  assert_string_equal(err, "unknown field \"extra\"");
  cJSON_Delete(j);
  j = parse("{\"resources\":null}");
  assert_int_equal(cp_api_parse_runtime_put(j, &p, err, sizeof err), 0);
  assert_true(cJSON_IsNull(p.resources));
  cJSON_Delete(j);
}

static void invitations_and_quotas(void **state) {
  (void)state;
  char err[160];
  cp_api_invite_t inv;
  cJSON *j = parse("{\"username\":\"carol\",\"ttl_hours\":2}");
  assert_int_equal(cp_api_parse_invite(j, &inv, err, sizeof err), 0);
  assert_int_equal(inv.ttl_hours, 2);
  cJSON_Delete(j);
  j = parse("{\"username\":\"carol\",\"ttl_hours\":1.5}");
  assert_int_equal(cp_api_parse_invite(j, &inv, err, sizeof err), CP_EINVAL);
  assert_non_null(strstr(err, "ttl_hours"));
  cJSON_Delete(j);
  cp_api_accept_t acc;
  j = parse("{\"token\":\"cpi_x\",\"password\":\"long enough\"}");
  assert_int_equal(cp_api_parse_accept(j, &acc, err, sizeof err), 0);
  cJSON_Delete(j);

  cp_api_quota_t q;
  j = parse("{\"allowed_models\":[\"gpt-4o\",\"llama3\"],\"monthly_token_budget\":1000,"
            "\"requests_per_minute\":null}");
  assert_int_equal(cp_api_parse_quota(j, &q, err, sizeof err), 0);
  assert_int_equal(q.models_set, CP_API_SET);
  assert_int_equal(q.nmodels, 2);
  assert_string_equal(q.models[1], "llama3");
  assert_int_equal(q.token_budget_set, CP_API_SET);
  assert_int_equal(q.token_budget, 1000);
  assert_int_equal(q.rpm_set, CP_API_NULL);
  assert_int_equal(q.streams_set, CP_API_ABSENT);
  cJSON_Delete(j);
  j = parse("{\"allowed_models\":[\"\"]}");
  assert_int_equal(cp_api_parse_quota(j, &q, err, sizeof err), CP_EINVAL);
  assert_non_null(strstr(err, "allowed_models[0]"));
  cJSON_Delete(j);
  j = parse("{\"monthly_token_budget\":-1}");
  assert_int_equal(cp_api_parse_quota(j, &q, err, sizeof err), CP_EINVAL);
  cJSON_Delete(j);
  j = parse("{\"requests_per_minute\":\"10\"}");
  assert_int_equal(cp_api_parse_quota(j, &q, err, sizeof err), CP_EINVAL);
  cJSON_Delete(j);
}

static void token_create(void **state) {
  (void)state;
  char err[160];
  cp_api_token_create_t t;
  cJSON *j = parse("{\"name\":\"laptop cli\",\"ttl_days\":30}");
  assert_int_equal(cp_api_parse_token_create(j, &t, err, sizeof err), 0);
  assert_string_equal(t.name, "laptop cli");
  assert_int_equal(t.ttl_days, 30);
  cJSON_Delete(j);
  j = parse("{\"name\":\"ci\"}");
  assert_int_equal(cp_api_parse_token_create(j, &t, err, sizeof err), 0);
  assert_int_equal(t.ttl_days, 0);
  cJSON_Delete(j);
  j = parse("{\"name\":\"\"}");
  assert_int_equal(cp_api_parse_token_create(j, &t, err, sizeof err), CP_EINVAL);
  cJSON_Delete(j);
  j = parse("{\"name\":\"a\\nb\"}");
  assert_int_equal(cp_api_parse_token_create(j, &t, err, sizeof err), CP_EINVAL);
  assert_non_null(strstr(err, "control"));
  cJSON_Delete(j);
  j = parse("{\"name\":\"x\",\"ttl_days\":0}");
  assert_int_equal(cp_api_parse_token_create(j, &t, err, sizeof err), CP_EINVAL);
  cJSON_Delete(j);
}

static void queries(void **state) {
  (void)state;
  char v[16], err[128];
  long n;
  assert_int_equal(cp_api_query_get("a=1&wipe=true", "wipe", v, sizeof v), 0);
  assert_string_equal(v, "true");
  assert_int_equal(cp_api_query_get("wiped=1", "wipe", v, sizeof v), CP_ENOTFOUND);
  assert_int_equal(cp_api_query_get("x=a%20b+c", "x", v, sizeof v), 0);
  assert_string_equal(v, "a b c");
  assert_int_equal(cp_api_query_get("x=%2", "x", v, sizeof v), CP_EPARSE);
  assert_int_equal(cp_api_query_get("x=%00", "x", v, sizeof v), CP_EPARSE);
  assert_int_equal(cp_api_query_get("x", "x", v, sizeof v), 0);
  assert_string_equal(v, "");
  assert_int_equal(cp_api_query_get("x=0123456789abcdefXYZ", "x", v, sizeof v), CP_ETOOBIG);
  assert_int_equal(cp_api_query_long("limit=50", "limit", 1, 500, &n, err, sizeof err), 0);
  assert_int_equal(n, 50);
  assert_int_equal(cp_api_query_long("limit=5000", "limit", 1, 500, &n, err, sizeof err),
                   CP_EINVAL);
  assert_non_null(strstr(err, "limit must be an integer from 1 to 500"));
  assert_int_equal(cp_api_query_long("limit=abc", "limit", 1, 500, &n, err, sizeof err), CP_EINVAL);
  assert_int_equal(cp_api_query_long("", "limit", 1, 500, &n, err, sizeof err), CP_ENOTFOUND);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(bodies_must_be_objects),
      cmocka_unit_test(bodies_must_be_utf8),
      cmocka_unit_test(trailing_blanks_are_fine),
      cmocka_unit_test(names),
      cmocka_unit_test(login_and_password_change),
      cmocka_unit_test(user_create),
      cmocka_unit_test(runtime_put),
      cmocka_unit_test(invitations_and_quotas),
      cmocka_unit_test(token_create),
      cmocka_unit_test(queries),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
