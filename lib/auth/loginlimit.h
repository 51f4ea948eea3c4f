/* Login attempt limits: brute force stays slow, and nobody can lock a user out.
 *
 * A limit on the username alone hands a lock-out to anyone: a few wrong passwords a
 * minute and the owner's right one gets 429 too. So attempts are counted in three token
 * buckets, each sized to one minute's allowance:
 *  - per client address, across all usernames (password spraying from one address);
 *  - per (username, client address), the tight one: one address guessing one user;
 *  - per username from all addresses, a ceiling much higher than the per-pair one, so a
 *    distributed guesser stays slow but a lock-out needs many addresses.
 * An attempt takes a token from each in that order and stops at the first refusal, so an
 * address that is already refused spends nothing from the shared per-user ceiling: the
 * owner, from her own address, still logs in while the attacker's stays limited.
 * Time is passed in (monotonic seconds). Not thread-safe: one owner (the apiserver's
 * loop thread).
 */
#ifndef CP_AUTH_LOGINLIMIT_H
#define CP_AUTH_LOGINLIMIT_H

#include "auth/ratelimit.h"

typedef struct cp_login_limit_s {
  cp_ratelimit_t client; /* client address */
  cp_ratelimit_t pair;   /* client address + username */
  cp_ratelimit_t user;   /* username, all addresses */
} cp_login_limit_t;

/* Initializes the three limiters with their allowance per minute (each also the burst). */
void cp_login_limit_init(cp_login_limit_t *l, double per_client, double per_user_and_client,
                         double per_user);

/* Counts one login attempt for user from client at time now. Returns 0 (go ahead) or
 * CP_ETHROTTLED with *retry_after (may be NULL) the seconds until the refusing bucket
 * has a token, or CP_ENOMEM. */
int cp_login_limit_take(cp_login_limit_t *l, const char *user, const char *client, double now,
                        long *retry_after);

/* Frees the buckets. Accepts NULL. */
void cp_login_limit_free(cp_login_limit_t *l);

#endif
