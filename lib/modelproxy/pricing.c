/* Pricing: decimal parsing without floating point for strings (exact), rounding to the
 * nearest micro-dollar for JSON numbers (which cJSON already holds as doubles), and a
 * 128-bit product so no realistic token count can overflow. */
#include "modelproxy/pricing.h"
#include "core/error.h"

#include <math.h>
#include <string.h>

static int parse_decimal(const char *s, int64_t *out) {
  int64_t whole = 0, frac = 0;
  int digits = 0, fdigits = 0;
  const char *p = s;
  for (; *p >= '0' && *p <= '9'; p++, digits++) {
    if (whole > CP_MP_PRICE_MAX_MICROUSD / 1000000)
      return CP_EINVAL;
    whole = whole * 10 + (*p - '0');
  }
  if (*p == '.') {
    for (p++; *p >= '0' && *p <= '9'; p++, fdigits++) {
      if (fdigits == 6)
        return CP_EINVAL;
      frac = frac * 10 + (*p - '0');
    }
  }
  if (*p || (digits == 0 && fdigits == 0))
    return CP_EINVAL;
  for (int i = fdigits; i < 6; i++)
    frac *= 10;
  int64_t v = whole * 1000000 + frac;
  if (v > CP_MP_PRICE_MAX_MICROUSD)
    return CP_EINVAL;
  *out = v;
  return 0;
}

int cp_mp_price_parse_usd(const cJSON *v, int64_t *out) {
  if (cJSON_IsString(v) && v->valuestring)
    return parse_decimal(v->valuestring, out);
  if (!cJSON_IsNumber(v))
    return CP_EINVAL;
  double d = v->valuedouble * 1e6;
  if (!(d >= 0) || d > (double)CP_MP_PRICE_MAX_MICROUSD)
    return CP_EINVAL;
  *out = (int64_t)llround(d);
  return 0;
}

int64_t cp_mp_cost_microusd(const cp_mp_price_t *price, int64_t prompt_tokens,
                            int64_t completion_tokens) {
  if (!price)
    return 0;
  __int128 p = prompt_tokens > 0 ? prompt_tokens : 0;
  __int128 c = completion_tokens > 0 ? completion_tokens : 0;
  __int128 pp = price->prompt_per_mtok > 0 ? price->prompt_per_mtok : 0;
  __int128 cp = price->completion_per_mtok > 0 ? price->completion_per_mtok : 0;
  __int128 total = (p * pp + c * cp + 500000) / 1000000;
  return total > INT64_MAX ? INT64_MAX : (int64_t)total;
}
