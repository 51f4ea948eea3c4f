/* Token buckets in a hash map, refilled lazily from the time of the last take. */
#include "auth/ratelimit.h"

#include "core/error.h"

#include <math.h>
#include <stdlib.h>

typedef struct bucket_s {
  double tokens;
  double at;
} bucket_t;

void cp_ratelimit_init(cp_ratelimit_t *rl, double per_second, double burst, size_t max_keys) {
  cp_map_init(&rl->buckets);
  rl->per_second = per_second > 0 ? per_second : 1;
  rl->burst = burst >= 1 ? burst : 1;
  rl->max_keys = max_keys ? max_keys : 100000;
}

static double level(const cp_ratelimit_t *rl, const bucket_t *b, double now) {
  double t = b->tokens + (now - b->at) * rl->per_second;
  return t > rl->burst ? rl->burst : t;
}

typedef struct prune_s {
  cp_ratelimit_t *rl;
  double now;
  char **keys;
  size_t n, cap;
} prune_t;

static void collect_full(const char *key, void *value, void *ud) {
  prune_t *p = ud;
  if (p->n < p->cap && level(p->rl, value, p->now) >= p->rl->burst)
    p->keys[p->n++] = (char *)key;
}

static void prune(cp_ratelimit_t *rl, double now) {
  prune_t p = {rl, now, NULL, 0, rl->buckets.len};
  p.keys = calloc(p.cap ? p.cap : 1, sizeof *p.keys);
  if (!p.keys)
    return;
  cp_map_each(&rl->buckets, collect_full, &p);
  for (size_t i = 0; i < p.n; i++)
    free(cp_map_del(&rl->buckets, p.keys[i]));
  free(p.keys);
}

int cp_ratelimit_take(cp_ratelimit_t *rl, const char *key, double now, long *retry_after) {
  bucket_t *b = cp_map_get(&rl->buckets, key);
  if (!b) {
    if (rl->buckets.len >= rl->max_keys)
      prune(rl, now);
    if (rl->buckets.len >= rl->max_keys) {
      if (retry_after)
        *retry_after = (long)ceil(1.0 / rl->per_second);
      return CP_ETHROTTLED;
    }
    b = malloc(sizeof *b);
    if (!b)
      return CP_ENOMEM;
    b->tokens = rl->burst;
    b->at = now;
    if (cp_map_put(&rl->buckets, key, b, NULL) != 0) {
      free(b);
      return CP_ENOMEM;
    }
  }
  double t = level(rl, b, now);
  b->at = now;
  if (t < 1.0) {
    b->tokens = t;
    if (retry_after) {
      long s = (long)ceil((1.0 - t) / rl->per_second);
      *retry_after = s < 1 ? 1 : s;
    }
    return CP_ETHROTTLED;
  }
  b->tokens = t - 1.0;
  return 0;
}

void cp_ratelimit_reset(cp_ratelimit_t *rl, const char *key) {
  free(cp_map_del(&rl->buckets, key));
}

void cp_ratelimit_free(cp_ratelimit_t *rl) {
  if (rl)
    cp_map_free(&rl->buckets, free);
}
