/* Per-user admission policy for model calls: allowed models, requests per minute,
 * concurrent streams and monthly token and cost budgets.
 *
 * Limits come from flags or the config file (defaults) and from PostgreSQL's user_quotas
 * (per-user overrides, NULL columns keep the default); cp_mp_limits_merge combines them.
 * Requests per minute is a token bucket of capacity rpm refilled at rpm/60 per second, so
 * a user may burst up to a minute's worth and then goes at the steady rate. Budgets are
 * checked before a call (a call that crosses the budget completes; the next is refused),
 * against usage so far this month. The state is plain data owned by one thread (the
 * proxy's loop); nothing here locks. Pure functions otherwise.
 */
#ifndef CP_MODELPROXY_POLICY_H
#define CP_MODELPROXY_POLICY_H

#include <stddef.h>
#include <stdint.h>

#define CP_MP_UNLIMITED (-1) /* a limit of -1 means no limit; 0 allows nothing */

typedef struct cp_mp_limits_s {
  /* Model names the user may call: exact names, "prefix*" or "*". allow_all set means
   * every configured model. Borrowed strings. */
  const char *const *allowed_models;
  size_t nallowed;
  int allow_all;
  int64_t monthly_tokens;        /* prompt + completion tokens per calendar month (UTC) */
  int64_t monthly_cost_microusd; /* cost per calendar month */
  int64_t requests_per_minute;
  int64_t max_streams; /* concurrent streamed calls */
} cp_mp_limits_t;

/* Which fields of an override are set (the others take the default). */
typedef struct cp_mp_override_s {
  cp_mp_limits_t v;
  int has_models, has_tokens, has_cost, has_rpm, has_streams;
} cp_mp_override_t;

typedef struct cp_mp_user_state_s {
  double bucket;          /* request tokens left */
  double bucket_at;       /* monotonic time of the last refill; 0 = full bucket */
  int64_t active_streams; /* streamed calls in flight */
  int64_t used_tokens;    /* this month, as far as known */
  int64_t used_cost;      /* micro-USD this month */
} cp_mp_user_state_t;

typedef enum cp_mp_verdict_e {
  CP_MP_ALLOW = 0,
  CP_MP_DENY_MODEL,   /* 403 model_not_allowed */
  CP_MP_DENY_TOKENS,  /* 429 insufficient_quota: monthly tokens used up */
  CP_MP_DENY_COST,    /* 429 insufficient_quota: monthly cost used up */
  CP_MP_DENY_STREAMS, /* 429 rate_limit_exceeded: too many concurrent streams */
  CP_MP_DENY_RATE,    /* 429 rate_limit_exceeded: requests per minute */
} cp_mp_verdict_t;

/* Returns 1 if limits allow model (see allowed_models), else 0. */
int cp_mp_model_allowed(const cp_mp_limits_t *l, const char *model);

/* Writes into out the defaults with every field the override sets replaced. o may be NULL. */
void cp_mp_limits_merge(const cp_mp_limits_t *defaults, const cp_mp_override_t *o,
                        cp_mp_limits_t *out);

/* Decides on one call by a user at monotonic time now. On CP_MP_ALLOW a request token is
 * taken and, for a stream, active_streams counts it (give it back with
 * cp_mp_policy_release). On CP_MP_DENY_RATE *retry_after (if not NULL) gets the seconds
 * until the next request would pass. A refused call changes nothing. */
cp_mp_verdict_t cp_mp_policy_admit(const cp_mp_limits_t *l, cp_mp_user_state_t *s,
                                   const char *model, int stream, double now, double *retry_after);

/* Ends a streamed call admitted by cp_mp_policy_admit. */
void cp_mp_policy_release(cp_mp_user_state_t *s, int stream);

/* Adds a finished call's usage to the month's totals (saturating). */
void cp_mp_policy_charge(cp_mp_user_state_t *s, int64_t tokens, int64_t cost_microusd);

/* The HTTP status, OpenAI error type and code for a refusal ("", "" and 200 for ALLOW). */
void cp_mp_verdict_error(cp_mp_verdict_t v, int *status, const char **type, const char **code);

#endif
