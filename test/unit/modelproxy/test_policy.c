/* Policy math: allowed-model patterns, the requests-per-minute bucket over time, streams,
 * budgets, override merging and the error each refusal maps to. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "modelproxy/policy.h"

static cp_mp_limits_t unlimited(void) {
  cp_mp_limits_t l = {.allow_all = 1,
                      .monthly_tokens = CP_MP_UNLIMITED,
                      .monthly_cost_microusd = CP_MP_UNLIMITED,
                      .requests_per_minute = CP_MP_UNLIMITED,
                      .max_streams = CP_MP_UNLIMITED};
  return l;
}

static void model_patterns(void **state) {
  (void)state;
  const char *const list[] = {"gpt-4o-mini", "claude-*"};
  cp_mp_limits_t l = unlimited();
  l.allow_all = 0;
  l.allowed_models = list;
  l.nallowed = 2;
  assert_true(cp_mp_model_allowed(&l, "gpt-4o-mini"));
  assert_false(cp_mp_model_allowed(&l, "gpt-4o"));
  assert_true(cp_mp_model_allowed(&l, "claude-3-5-haiku"));
  assert_false(cp_mp_model_allowed(&l, "claud"));
  l.nallowed = 0;
  assert_false(cp_mp_model_allowed(&l, "gpt-4o-mini")); /* an empty list allows nothing */
  cp_mp_user_state_t s = {0};
  assert_int_equal(cp_mp_policy_admit(&l, &s, "gpt-4o-mini", 0, 100, NULL), CP_MP_DENY_MODEL);
}

static void rate_bucket(void **state) {
  (void)state;
  cp_mp_limits_t l = unlimited();
  l.requests_per_minute = 3;
  cp_mp_user_state_t s = {0};
  double t = 1000, retry = 0;
  for (int i = 0; i < 3; i++)
    assert_int_equal(cp_mp_policy_admit(&l, &s, "m", 0, t, NULL), CP_MP_ALLOW);
  assert_int_equal(cp_mp_policy_admit(&l, &s, "m", 0, t, &retry), CP_MP_DENY_RATE);
  assert_true(retry > 19.9 && retry <= 20.0); /* one request per 20 s */
  assert_int_equal(cp_mp_policy_admit(&l, &s, "m", 0, t + 10, NULL), CP_MP_DENY_RATE);
  assert_int_equal(cp_mp_policy_admit(&l, &s, "m", 0, t + 20.1, NULL), CP_MP_ALLOW);
  assert_int_equal(cp_mp_policy_admit(&l, &s, "m", 0, t + 20.2, NULL), CP_MP_DENY_RATE);
  /* A long pause refills to the cap, not beyond. */
  for (int i = 0; i < 3; i++)
    assert_int_equal(cp_mp_policy_admit(&l, &s, "m", 0, t + 3600, NULL), CP_MP_ALLOW);
  assert_int_equal(cp_mp_policy_admit(&l, &s, "m", 0, t + 3600, NULL), CP_MP_DENY_RATE);
  l.requests_per_minute = 0;
  cp_mp_user_state_t z = {0};
  assert_int_equal(cp_mp_policy_admit(&l, &z, "m", 0, t, NULL), CP_MP_DENY_RATE);
}

static void streams_and_refusals_change_nothing(void **state) {
  (void)state;
  cp_mp_limits_t l = unlimited();
  l.max_streams = 1;
  l.requests_per_minute = 10;
  cp_mp_user_state_t s = {0};
  assert_int_equal(cp_mp_policy_admit(&l, &s, "m", 1, 5, NULL), CP_MP_ALLOW);
  assert_int_equal(s.active_streams, 1);
  double before = s.bucket;
  assert_int_equal(cp_mp_policy_admit(&l, &s, "m", 1, 5, NULL), CP_MP_DENY_STREAMS);
  assert_true(s.bucket == before); /* a refused call does not use up the rate */
  assert_int_equal(cp_mp_policy_admit(&l, &s, "m", 0, 5, NULL), CP_MP_ALLOW);
  cp_mp_policy_release(&s, 1);
  assert_int_equal(s.active_streams, 0);
  cp_mp_policy_release(&s, 1);
  assert_int_equal(s.active_streams, 0);
  assert_int_equal(cp_mp_policy_admit(&l, &s, "m", 1, 5, NULL), CP_MP_ALLOW);
}

static void budgets(void **state) {
  (void)state;
  cp_mp_limits_t l = unlimited();
  l.monthly_tokens = 100;
  l.monthly_cost_microusd = 5000;
  cp_mp_user_state_t s = {0};
  assert_int_equal(cp_mp_policy_admit(&l, &s, "m", 0, 1, NULL), CP_MP_ALLOW);
  cp_mp_policy_charge(&s, 99, 10);
  assert_int_equal(cp_mp_policy_admit(&l, &s, "m", 0, 1, NULL), CP_MP_ALLOW);
  cp_mp_policy_charge(&s, 500, 10); /* the call that crosses completes */
  assert_int_equal(cp_mp_policy_admit(&l, &s, "m", 0, 1, NULL), CP_MP_DENY_TOKENS);
  l.monthly_tokens = CP_MP_UNLIMITED;
  cp_mp_policy_charge(&s, 0, 4980);
  assert_int_equal(cp_mp_policy_admit(&l, &s, "m", 0, 1, NULL), CP_MP_DENY_COST);
  cp_mp_policy_charge(&s, INT64_MAX, INT64_MAX);
  assert_int_equal(s.used_tokens, INT64_MAX); /* saturates */
  l.monthly_cost_microusd = 0;
  cp_mp_user_state_t z = {0};
  assert_int_equal(cp_mp_policy_admit(&l, &z, "m", 0, 1, NULL), CP_MP_DENY_COST);
}

static void merge_and_errors(void **state) {
  (void)state;
  cp_mp_limits_t d = unlimited(), out;
  d.requests_per_minute = 60;
  const char *const only[] = {"a"};
  cp_mp_override_t o = {.v = {.allowed_models = only, .nallowed = 1, .monthly_tokens = 10},
                        .has_models = 1,
                        .has_tokens = 1};
  cp_mp_limits_merge(&d, &o, &out);
  assert_false(out.allow_all);
  assert_int_equal(out.nallowed, 1);
  assert_int_equal(out.monthly_tokens, 10);
  assert_int_equal(out.requests_per_minute, 60);
  cp_mp_limits_merge(&d, NULL, &out);
  assert_true(out.allow_all);
  int st;
  const char *type, *code;
  cp_mp_verdict_error(CP_MP_DENY_MODEL, &st, &type, &code);
  assert_int_equal(st, 403);
  assert_string_equal(code, "model_not_allowed");
  cp_mp_verdict_error(CP_MP_DENY_COST, &st, &type, &code);
  assert_int_equal(st, 429);
  assert_string_equal(code, "insufficient_quota");
  cp_mp_verdict_error(CP_MP_DENY_RATE, &st, &type, &code);
  assert_string_equal(code, "rate_limit_exceeded");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(model_patterns),
      cmocka_unit_test(rate_bucket),
      cmocka_unit_test(streams_and_refusals_change_nothing),
      cmocka_unit_test(budgets),
      cmocka_unit_test(merge_and_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
