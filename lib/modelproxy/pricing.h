/* Prices of model calls, in integer micro-US-dollars so sums never drift.
 *
 * A price is what providers quote: US dollars per million tokens, separately for prompt
 * (input) and completion (output) tokens. It is kept as micro-dollars per million tokens,
 * so the cost of a call is (prompt * p + completion * c) / 1e6 micro-dollars, computed in
 * 128-bit integers and rounded half up. Pure functions, any thread.
 */
#ifndef CP_MODELPROXY_PRICING_H
#define CP_MODELPROXY_PRICING_H

#include <cjson/cJSON.h>
#include <stdint.h>

/* Largest price accepted: 1,000,000 USD per million tokens. */
#define CP_MP_PRICE_MAX_MICROUSD 1000000000000LL

typedef struct cp_mp_price_s {
  int64_t prompt_per_mtok;     /* micro-USD per million prompt tokens */
  int64_t completion_per_mtok; /* micro-USD per million completion tokens */
} cp_mp_price_t;

/* Reads a USD amount given as a JSON number (0.15) or a decimal string ("0.15", at most
 * six decimals) into micro-USD. Returns 0 and *out, or CP_EINVAL (negative, too many
 * decimals, above CP_MP_PRICE_MAX_MICROUSD, not a number). */
int cp_mp_price_parse_usd(const cJSON *v, int64_t *out);

/* The cost in micro-USD of a call with these token counts (negative counts count as 0);
 * saturates at INT64_MAX. */
int64_t cp_mp_cost_microusd(const cp_mp_price_t *price, int64_t prompt_tokens,
                            int64_t completion_tokens);

#endif
