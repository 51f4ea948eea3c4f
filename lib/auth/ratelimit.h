/* Keyed token buckets, for login attempts per user and per client address.
 *
 * Each key has a bucket of `burst` tokens refilled at `per_second`; an attempt takes one.
 * Time is passed in (monotonic seconds) so the limiter is pure and testable. The number of
 * keys is capped: when full, buckets that have refilled completely (idle keys, which
 * behave exactly like absent ones) are dropped; if none can be, the attempt is refused,
 * which fails closed under a flood of distinct keys. Not thread-safe: one owner (the
 * apiserver's loop thread).
 */
#ifndef CP_AUTH_RATELIMIT_H
#define CP_AUTH_RATELIMIT_H

#include <stddef.h>

#include "core/map.h"

typedef struct cp_ratelimit_s {
  cp_map_t buckets; /* key -> bucket */
  double per_second;
  double burst;
  size_t max_keys;
} cp_ratelimit_t;

/* Initializes a limiter allowing burst attempts at once and per_second sustained, for at
 * most max_keys keys (0 = 100000). */
void cp_ratelimit_init(cp_ratelimit_t *rl, double per_second, double burst, size_t max_keys);

/* Takes one token for key at time now. Returns 0 (allowed) or CP_ETHROTTLED with
 * *retry_after (may be NULL) set to the seconds until a token is available (at least 1),
 * or CP_ENOMEM. */
int cp_ratelimit_take(cp_ratelimit_t *rl, const char *key, double now, long *retry_after);

/* Forgets key (e.g. after a successful login, if the caller wants that). */
void cp_ratelimit_reset(cp_ratelimit_t *rl, const char *key);

/* Frees every bucket. Accepts NULL. */
void cp_ratelimit_free(cp_ratelimit_t *rl);

#endif
