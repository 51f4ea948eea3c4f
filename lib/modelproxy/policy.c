/* Policy math: a token bucket per user for requests per minute, counters for streams,
 * month totals for budgets. Checks run cheapest-first and the bucket is charged last, so
 * a call refused for any other reason does not use up the user's rate. */
#include "modelproxy/policy.h"

#include <string.h>

int cp_mp_model_allowed(const cp_mp_limits_t *l, const char *model) {
  if (!l || !model)
    return 0;
  if (l->allow_all)
    return 1;
  for (size_t i = 0; i < l->nallowed; i++) {
    const char *a = l->allowed_models[i];
    if (!a)
      continue;
    size_t n = strlen(a);
    if (n > 0 && a[n - 1] == '*') {
      if (strncmp(a, model, n - 1) == 0)
        return 1;
    } else if (strcmp(a, model) == 0) {
      return 1;
    }
  }
  return 0;
}

void cp_mp_limits_merge(const cp_mp_limits_t *defaults, const cp_mp_override_t *o,
                        cp_mp_limits_t *out) {
  cp_mp_limits_t l = *defaults;
  if (o) {
    if (o->has_models) {
      l.allowed_models = o->v.allowed_models;
      l.nallowed = o->v.nallowed;
      l.allow_all = o->v.allow_all;
    }
    if (o->has_tokens)
      l.monthly_tokens = o->v.monthly_tokens;
    if (o->has_cost)
      l.monthly_cost_microusd = o->v.monthly_cost_microusd;
    if (o->has_rpm)
      l.requests_per_minute = o->v.requests_per_minute;
    if (o->has_streams)
      l.max_streams = o->v.max_streams;
  }
  *out = l;
}

/* Refills the bucket up to now; returns the tokens it holds. */
static double refill(const cp_mp_limits_t *l, cp_mp_user_state_t *s, double now) {
  double cap = (double)l->requests_per_minute;
  if (s->bucket_at == 0 || s->bucket > cap) {
    s->bucket = cap;
  } else if (now > s->bucket_at) {
    s->bucket += (now - s->bucket_at) * cap / 60.0;
    if (s->bucket > cap)
      s->bucket = cap;
  }
  s->bucket_at = now;
  return s->bucket;
}

cp_mp_verdict_t cp_mp_policy_admit(const cp_mp_limits_t *l, cp_mp_user_state_t *s,
                                   const char *model, int stream, double now, double *retry_after) {
  if (!cp_mp_model_allowed(l, model))
    return CP_MP_DENY_MODEL;
  if (l->monthly_tokens >= 0 && s->used_tokens >= l->monthly_tokens)
    return CP_MP_DENY_TOKENS;
  if (l->monthly_cost_microusd >= 0 && s->used_cost >= l->monthly_cost_microusd)
    return CP_MP_DENY_COST;
  if (stream && l->max_streams >= 0 && s->active_streams >= l->max_streams)
    return CP_MP_DENY_STREAMS;
  if (l->requests_per_minute >= 0) {
    cp_mp_user_state_t t = *s;
    if (refill(l, &t, now) < 1.0) {
      if (retry_after)
        *retry_after = l->requests_per_minute > 0
                           ? (1.0 - t.bucket) * 60.0 / (double)l->requests_per_minute
                           : 60.0;
      return CP_MP_DENY_RATE;
    }
    t.bucket -= 1.0;
    *s = t;
  }
  if (stream)
    s->active_streams++;
  return CP_MP_ALLOW;
}

void cp_mp_policy_release(cp_mp_user_state_t *s, int stream) {
  if (stream && s->active_streams > 0)
    s->active_streams--;
}

static int64_t sat_add(int64_t a, int64_t b) {
  if (b <= 0)
    return a;
  return a > INT64_MAX - b ? INT64_MAX : a + b;
}

void cp_mp_policy_charge(cp_mp_user_state_t *s, int64_t tokens, int64_t cost_microusd) {
  s->used_tokens = sat_add(s->used_tokens, tokens);
  s->used_cost = sat_add(s->used_cost, cost_microusd);
}

void cp_mp_verdict_error(cp_mp_verdict_t v, int *status, const char **type, const char **code) {
  int st = 200;
  const char *t = "", *c = "";
  switch (v) {
  case CP_MP_ALLOW:
    break;
  case CP_MP_DENY_MODEL:
    st = 403, t = "invalid_request_error", c = "model_not_allowed";
    break;
  case CP_MP_DENY_TOKENS:
  case CP_MP_DENY_COST:
    st = 429, t = "insufficient_quota", c = "insufficient_quota";
    break;
  case CP_MP_DENY_STREAMS:
  case CP_MP_DENY_RATE:
    st = 429, t = "requests", c = "rate_limit_exceeded";
    break;
  }
  *status = st;
  *type = t;
  *code = c;
}
