/* Per-user state on the loop: the policy state of each user (rate bucket, streams in
 * flight, month usage) and the user's user_quotas override.
 *
 * Month usage is what PostgreSQL said in the last snapshot (all replicas' records) plus
 * this replica's calls that the snapshot did not yet include. To know which those are,
 * every charged call gets a sequence number and sits in a FIFO until a snapshot reports
 * that every record up to some sequence number was written before it summed the month;
 * those leave the FIFO. Without a database, usage simply accumulates in memory (and is
 * forgotten on restart: say so in the docs).
 */
#include "mp.h"

#include "core/error.h"

#include <stdlib.h>
#include <string.h>

mp_user_t *cp__mp_user_get(mp_app_t *a, const char *name) {
  mp_user_t *u = cp_map_get(&a->users, name);
  if (u)
    return u;
  u = calloc(1, sizeof *u);
  if (!u)
    return NULL;
  size_t n = strlen(name);
  if (n >= sizeof u->name)
    n = sizeof u->name - 1;
  memcpy(u->name, name, n);
  if (cp_map_put(&a->users, name, u, NULL) != 0) {
    free(u);
    return NULL;
  }
  return u;
}

void cp__mp_user_limits(const mp_app_t *a, const mp_user_t *u, cp_mp_limits_t *out) {
  int has =
      u->ov.has_models || u->ov.has_tokens || u->ov.has_cost || u->ov.has_rpm || u->ov.has_streams;
  cp_mp_limits_merge(&a->cfg->defaults, has ? &u->ov : NULL, out);
}

static void refresh_used(mp_user_t *u) {
  u->st.used_tokens = 0;
  u->st.used_cost = 0;
  cp_mp_policy_charge(&u->st, u->base_tokens, u->base_cost);
  cp_mp_policy_charge(&u->st, u->pend_tokens, u->pend_cost);
}

static int pend_push(mp_app_t *a, mp_user_t *u, uint64_t seq, int64_t tokens, int64_t cost) {
  if (a->pend_len == a->pend_cap) {
    size_t cap = a->pend_cap ? a->pend_cap * 2 : 256;
    struct mp_pend_s *p = malloc(cap * sizeof *p);
    if (!p)
      return CP_ENOMEM;
    for (size_t i = 0; i < a->pend_len; i++)
      p[i] = a->pend[(a->pend_head + i) % a->pend_cap];
    free(a->pend);
    a->pend = p;
    a->pend_cap = cap;
    a->pend_head = 0;
  }
  a->pend[(a->pend_head + a->pend_len) % a->pend_cap] =
      (struct mp_pend_s){.seq = seq, .u = u, .tokens = tokens, .cost = cost};
  a->pend_len++;
  return 0;
}

void cp__mp_user_charge(mp_app_t *a, mp_user_t *u, mp_record_t *rec) {
  rec->seq = ++a->seq;
  int64_t tokens = rec->prompt_tokens + rec->completion_tokens;
  if (a->db && pend_push(a, u, rec->seq, tokens, rec->cost_microusd) == 0) {
    u->pend_tokens += tokens;
    u->pend_cost += rec->cost_microusd;
  } else {
    u->base_tokens += tokens;
    u->base_cost += rec->cost_microusd;
  }
  refresh_used(u);
  if (a->db)
    cp__mp_db_enqueue(a, rec);
}

static void free_models(char **m, size_t n) {
  for (size_t i = 0; m && i < n; i++)
    free(m[i]);
  free(m);
}

static void reset_user(const char *key, void *value, void *ud) {
  (void)key;
  (void)ud;
  mp_user_t *u = value;
  u->base_tokens = u->base_cost = 0;
  free_models(u->ov_models, u->nov_models);
  u->ov_models = NULL;
  u->nov_models = 0;
  memset(&u->ov, 0, sizeof u->ov);
}

static void refresh_each(const char *key, void *value, void *ud) {
  (void)key;
  (void)ud;
  refresh_used(value);
}

void cp__mp_users_apply(mp_app_t *a, mp_snapshot_t *s) {
  cp_map_each(&a->users, reset_user, NULL);
  for (size_t i = 0; i < s->n; i++) {
    mp_snap_user_t *su = &s->users[i];
    mp_user_t *u = cp__mp_user_get(a, su->user);
    if (!u)
      continue;
    u->base_tokens = su->tokens;
    u->base_cost = su->cost;
    u->ov = su->ov;
    u->ov_models = su->models;
    u->nov_models = su->nmodels;
    u->ov.v.allowed_models = (const char *const *)su->models;
    su->models = NULL;
    su->nmodels = 0;
  }
  while (a->pend_len > 0 && a->pend[a->pend_head].seq <= s->flushed_seq) {
    struct mp_pend_s *p = &a->pend[a->pend_head];
    p->u->pend_tokens -= p->tokens;
    p->u->pend_cost -= p->cost;
    a->pend_head = (a->pend_head + 1) % a->pend_cap;
    a->pend_len--;
  }
  cp_map_each(&a->users, refresh_each, NULL);
  cp__mp_snapshot_free(s);
}

void cp__mp_snapshot_free(mp_snapshot_t *s) {
  if (!s)
    return;
  for (size_t i = 0; i < s->n; i++)
    free_models(s->users[i].models, s->users[i].nmodels);
  free(s->users);
  free(s);
}

static void free_user(void *value) {
  mp_user_t *u = value;
  free_models(u->ov_models, u->nov_models);
  free(u);
}

void cp__mp_users_free(mp_app_t *a) {
  cp_map_free(&a->users, free_user);
  free(a->pend);
  a->pend = NULL;
  a->pend_len = a->pend_cap = a->pend_head = 0;
}
