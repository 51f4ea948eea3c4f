/* Usage extraction (OpenAI and Anthropic shapes, streams merged by maximum, tails of big
 * bodies) and pricing (exact decimals, rounding, saturation). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/error.h"
#include "modelproxy/pricing.h"
#include "modelproxy/usage.h"

static int merge(cp_mp_usage_t *u, const char *s) {
  return cp_mp_usage_merge_text(u, s, strlen(s));
}

static void openai_shapes(void **state) {
  (void)state;
  cp_mp_usage_t u = {0};
  assert_int_equal(merge(&u, "{\"choices\":[{\"delta\":{\"content\":\"hi\"}}],\"usage\":null}"), 0);
  assert_false(u.seen);
  assert_int_equal(
      merge(&u, "{\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":34}}"), 1);
  assert_int_equal(u.prompt_tokens, 12);
  assert_int_equal(u.completion_tokens, 34);
  cp_mp_usage_t e = {0};
  assert_int_equal(merge(&e, "{\"data\":[],\"usage\":{\"prompt_tokens\":8,\"total_tokens\":8}}"),
                   1);
  assert_int_equal(e.prompt_tokens, 8);
  assert_int_equal(e.completion_tokens, 0);
}

static void anthropic_stream_merges(void **state) {
  (void)state;
  cp_mp_usage_t u = {0};
  assert_int_equal(merge(&u, "{\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":"
                             "25,\"cache_read_input_tokens\":5,\"output_tokens\":1}}}"),
                   1);
  assert_int_equal(merge(&u, "{\"type\":\"message_delta\",\"usage\":{\"output_tokens\":15}}"), 1);
  assert_int_equal(merge(&u, "{\"type\":\"message_delta\",\"usage\":{\"output_tokens\":9}}"), 1);
  assert_int_equal(u.prompt_tokens, 30);
  assert_int_equal(u.completion_tokens, 15);
}

static void nonsense_is_ignored(void **state) {
  (void)state;
  cp_mp_usage_t u = {0};
  assert_int_equal(merge(&u, "{\"usage\":{\"prompt_tokens\":-1,\"completion_tokens\":1.5}}"), 0);
  assert_int_equal(merge(&u, "{\"usage\":{\"prompt_tokens\":1e300}}"), 0);
  assert_int_equal(merge(&u, "{\"usage\": \"lots\"}"), 0);
  assert_int_equal(merge(&u, "not json \"usage\""), 0);
  assert_false(u.seen);
}

static void tail_of_a_big_body(void **state) {
  (void)state;
  const char *tail = "...0.1,0.2]}],\"usage\" : {\"prompt_tokens\": 4096, \"total_tokens\": 4096}}";
  cp_mp_usage_t u = {0};
  assert_int_equal(cp_mp_usage_merge_tail(&u, tail, strlen(tail)), 1);
  assert_int_equal(u.prompt_tokens, 4096);
  const char *cut = "xx\"usage\":{\"prompt_tok";
  cp_mp_usage_t v = {0};
  assert_int_equal(cp_mp_usage_merge_tail(&v, cut, strlen(cut)), 0);
}

static void prices(void **state) {
  (void)state;
  int64_t v = 0;
  cJSON *s = cJSON_CreateString("0.15");
  cJSON *n = cJSON_CreateNumber(2.5);
  cJSON *bad = cJSON_CreateString("0.1234567");
  cJSON *neg = cJSON_CreateNumber(-1);
  assert_int_equal(cp_mp_price_parse_usd(s, &v), 0);
  assert_int_equal(v, 150000);
  assert_int_equal(cp_mp_price_parse_usd(n, &v), 0);
  assert_int_equal(v, 2500000);
  assert_int_equal(cp_mp_price_parse_usd(bad, &v), CP_EINVAL);
  assert_int_equal(cp_mp_price_parse_usd(neg, &v), CP_EINVAL);
  assert_int_equal(v, 2500000); /* untouched on failure */
  cJSON_Delete(s);
  cJSON_Delete(n);
  cJSON_Delete(bad);
  cJSON_Delete(neg);

  /* gpt-4o-mini-like: $0.15 / $0.60 per million tokens. */
  cp_mp_price_t p = {150000, 600000};
  assert_int_equal(cp_mp_cost_microusd(&p, 1000000, 1000000), 750000);
  assert_int_equal(cp_mp_cost_microusd(&p, 10, 0), 2);  /* 1.5 rounds up */
  assert_int_equal(cp_mp_cost_microusd(&p, 3, 0), 0);   /* 0.45 rounds down */
  assert_int_equal(cp_mp_cost_microusd(&p, -5, -5), 0); /* negative counts are 0 */
  cp_mp_price_t huge = {CP_MP_PRICE_MAX_MICROUSD, CP_MP_PRICE_MAX_MICROUSD};
  assert_int_equal(cp_mp_cost_microusd(&huge, INT64_MAX, INT64_MAX), INT64_MAX);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(openai_shapes),
      cmocka_unit_test(anthropic_stream_merges),
      cmocka_unit_test(nonsense_is_ignored),
      cmocka_unit_test(tail_of_a_big_body),
      cmocka_unit_test(prices),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
