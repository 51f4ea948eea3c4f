/* Accounts: users (list, create, disable, enable), quotas, usage, the audit log and
 * invitations.
 *
 * Every change is one transaction that also appends its audit record, so an account
 * change and its record commit together or not at all. Disabling a user commits first
 * (state, sessions and API tokens revoked), then stops the user's runtime; if the
 * Kubernetes API fails at that point the client gets 503 and a retry finishes the job
 * (disabling is idempotent).
 */
#include "api.h"

#include "api/body.h"
#include "auth/password.h"
#include "core/error.h"
#include "core/time.h"
#include "json/json.h"
#include "log/log.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

static void queue_or_fail(api_ctx_t *c, api_work_fn fn, api_done_fn done) {
  if (cp__api_queue(c, fn, done) != 0) {
    cp__api_fail(c, 500, "could not schedule the request");
    cp__api_finish(c);
  }
}

static void evict_done(api_ctx_t *c) {
  if (c->evict_user)
    cp__api_evict(c->app, c->target, NULL);
  cp__api_finish(c);
}

/* --- users ---------------------------------------------------------------------------- */

static void users_list_work(api_ctx_t *c, api_worker_t *w) {
  char limit[16], after[API_NAME_MAX];
  snprintf(limit, sizeof limit, "%ld", c->n1);
  int has_after = cp_api_query_get(c->query, "after", after, sizeof after) == 0;
  const char *p[] = {has_after ? after : NULL, limit};
  PGresult *r = NULL;
  cp_pg_error_t e = {0};
  int rc = cp_pg_exec(
      w->db,
      "SELECT username, role, state, " TS("created_at") " FROM users"
                                                        " WHERE ($1::text IS NULL OR username > "
                                                        "$1) ORDER BY username LIMIT $2::int",
      2, p, &r, &e);
  if (rc != 0) {
    cp__api_fail_db(c, rc, &e, "list users");
    return;
  }
  cJSON *items = cJSON_CreateArray();
  int n = PQntuples(r);
  for (int i = 0; items && i < n; i++) {
    cJSON *u = cJSON_CreateObject();
    if (!u)
      break;
    cJSON_AddStringToObject(u, "username", PQgetvalue(r, i, 0));
    cJSON_AddStringToObject(u, "role", PQgetvalue(r, i, 1));
    cJSON_AddStringToObject(u, "state", PQgetvalue(r, i, 2));
    cJSON_AddStringToObject(u, "created_at", PQgetvalue(r, i, 3));
    cp_obj_t *o = cp__api_cached_runtime(c->app, PQgetvalue(r, i, 0));
    const char *phase = o ? cp_json_strv(o->json, "status", "phase", NULL) : NULL;
    if (phase)
      cJSON_AddStringToObject(u, "runtime_phase", phase);
    else
      cJSON_AddNullToObject(u, "runtime_phase");
    cp_obj_unref(o);
    cJSON_AddItemToArray(items, u);
  }
  c->out = cJSON_CreateObject();
  if (c->out && items) {
    cJSON_AddItemToObject(c->out, "items", items);
    if (n > 0 && n == c->n1)
      cJSON_AddStringToObject(c->out, "next_after", PQgetvalue(r, n - 1, 0));
  } else {
    cJSON_Delete(items);
    cp__api_fail(c, 500, "out of memory");
  }
  PQclear(r);
}

void cp__api_users_list(api_ctx_t *c) {
  char err[160];
  c->n1 = 100;
  if (cp_api_query_long(c->query, "limit", 1, 1000, &c->n1, err, sizeof err) == CP_EINVAL) {
    cp__api_fail(c, 400, "%s", err);
    cp__api_finish(c);
    return;
  }
  cp__api_run(c, users_list_work);
}

static void users_create_work(api_ctx_t *c, api_worker_t *w) {
  cp_api_user_create_t in;
  char err[256];
  if (cp_api_parse_user_create(c->body, &in, err, sizeof err) != 0) {
    cp__api_fail(c, 400, "%s", err);
    return;
  }
  char hash[CP_PASSWORD_HASH_MAX] = "";
  if (in.password &&
      cp_password_hash(in.password, in.password_len, c->app->s.password_cost, hash, sizeof hash)) {
    cp__api_fail(c, 500, "could not hash the password");
    return;
  }
  cp_pg_error_t e = {0};
  const char *p1[] = {in.username, in.role};
  cJSON *detail = cJSON_CreateObject();
  if (detail)
    cJSON_AddStringToObject(detail, "role", in.role);
  int rc = cp_pg_begin(w->db, &e);
  if (rc == 0)
    rc = cp_pg_exec(w->db, "INSERT INTO users (username, role) VALUES ($1, $2)", 2, p1, NULL, &e);
  if (rc == 0 && hash[0])
    rc = cp__api_store_password(w, in.username, hash, &e);
  if (rc == 0)
    rc = cp__api_audit(w, c, "user.create", in.username, "ok", detail, &e);
  if (rc == 0)
    rc = cp_pg_commit(w->db, &e);
  cJSON_Delete(detail);
  OPENSSL_cleanse(hash, sizeof hash);
  if (rc == CP_ECONFLICT) {
    cp__api_fail(c, 409, "user %s already exists", in.username);
    return;
  }
  if (rc != 0) {
    cp__api_fail_db(c, rc, &e, "create the user");
    return;
  }
  c->out = cJSON_CreateObject();
  if (c->out) {
    cJSON_AddStringToObject(c->out, "username", in.username);
    cJSON_AddStringToObject(c->out, "role", in.role);
    cJSON_AddStringToObject(c->out, "state", "active");
    cJSON_AddBoolToObject(c->out, "has_password", in.password != NULL);
  }
  c->status = 201;
}

void cp__api_users_create(api_ctx_t *c) {
  cp__api_run(c, users_create_work);
}

static void set_user_state(api_ctx_t *c, api_worker_t *w, const char *state) {
  int disable = !strcmp(state, "disabled");
  cp_pg_error_t e = {0};
  const char *p[] = {c->target, state};
  PGresult *r = NULL;
  int rc = cp_pg_begin(w->db, &e);
  if (rc == 0)
    rc = cp_pg_exec(w->db,
                    "UPDATE users SET state = $2, updated_at = now() WHERE username = $1"
                    " RETURNING role",
                    2, p, &r, &e);
  if (rc == 0 && PQntuples(r) != 1) {
    PQclear(r);
    cp__api_fail(c, 404, "no user named %s", c->target);
    return;
  }
  PQclear(r);
  if (rc == 0 && disable)
    rc = cp_pg_exec(w->db, "DELETE FROM sessions WHERE username = $1", 1, p, NULL, &e);
  if (rc == 0 && disable)
    rc = cp_pg_exec(w->db,
                    "UPDATE api_tokens SET revoked_at = now()"
                    " WHERE username = $1 AND revoked_at IS NULL",
                    1, p, NULL, &e);
  if (rc == 0)
    rc = cp__api_audit(w, c, disable ? "user.disable" : "user.enable", c->target, "ok", NULL, &e);
  if (rc == 0)
    rc = cp_pg_commit(w->db, &e);
  if (rc != 0) {
    cp__api_fail_db(c, rc, &e, disable ? "disable the user" : "enable the user");
    return;
  }
  c->evict_user = 1;
  if (disable) {
    cp_status_t st = {0};
    rc = cp__api_runtime_set_state(c, w, c->target, "Stopped", &st);
    if (rc != 0) {
      cp__api_fail_kube(c, rc, &st, "stop the disabled user's runtime");
      snprintf(c->msg + strlen(c->msg), sizeof c->msg - strlen(c->msg),
               " (the user is disabled; retry to stop the runtime)");
      return;
    }
  }
  c->out = cJSON_CreateObject();
  if (c->out) {
    cJSON_AddStringToObject(c->out, "username", c->target);
    cJSON_AddStringToObject(c->out, "state", state);
  }
}

static void disable_work(api_ctx_t *c, api_worker_t *w) {
  set_user_state(c, w, "disabled");
}

static void enable_work(api_ctx_t *c, api_worker_t *w) {
  set_user_state(c, w, "active");
}

void cp__api_user_disable(api_ctx_t *c) {
  if (!strcmp(c->target, c->user)) {
    cp__api_fail(c, 409, "you cannot disable your own account");
    cp__api_finish(c);
    return;
  }
  queue_or_fail(c, disable_work, evict_done);
}

void cp__api_user_enable(api_ctx_t *c) {
  queue_or_fail(c, enable_work, evict_done);
}

/* --- quotas and usage ----------------------------------------------------------------- */

/* Reads user's quota into a new object (every field null when none is set). Returns 0,
 * CP_ENOTFOUND (no such user) or the database error. */
static int read_quota(api_worker_t *w, const char *user, cJSON **out, cp_pg_error_t *e) {
  const char *p[] = {user};
  PGresult *r = NULL;
  int rc = cp_pg_exec(w->db,
                      "SELECT array_to_json(q.allowed_models)::text, q.monthly_token_budget,"
                      " q.monthly_cost_budget_microusd, q.requests_per_minute,"
                      " q.max_concurrent_streams"
                      " FROM users u LEFT JOIN user_quotas q USING (username)"
                      " WHERE u.username = $1",
                      1, p, &r, e);
  if (rc != 0)
    return rc;
  if (PQntuples(r) != 1) {
    PQclear(r);
    return CP_ENOTFOUND;
  }
  static const char *const names[] = {"allowed_models", "monthly_token_budget",
                                      "monthly_cost_budget_microusd", "requests_per_minute",
                                      "max_concurrent_streams"};
  cJSON *q = cJSON_CreateObject();
  for (int i = 0; q && i < 5; i++) {
    cJSON *v;
    if (PQgetisnull(r, 0, i))
      v = cJSON_CreateNull();
    else if (i == 0)
      v = cJSON_Parse(PQgetvalue(r, 0, i));
    else
      v = cJSON_CreateNumber(strtod(PQgetvalue(r, 0, i), NULL));
    if (!v || !cJSON_AddItemToObject(q, names[i], v)) {
      cJSON_Delete(v);
      cJSON_Delete(q);
      q = NULL;
    }
  }
  PQclear(r);
  if (!q)
    return CP_ENOMEM;
  *out = q;
  return 0;
}

static void quota_get_work(api_ctx_t *c, api_worker_t *w) {
  cp_pg_error_t e = {0};
  cJSON *q = NULL;
  int rc = read_quota(w, c->target, &q, &e);
  if (rc == CP_ENOTFOUND)
    cp__api_fail(c, 404, "no user named %s", c->target);
  else if (rc != 0)
    cp__api_fail_db(c, rc, &e, "read the quota");
  else
    c->out = q;
}

void cp__api_quota_get(api_ctx_t *c) {
  cp__api_run(c, quota_get_work);
}

static const char *flag(cp_api_opt_t o) {
  return o != CP_API_ABSENT ? "true" : "false";
}

static void quota_put_work(api_ctx_t *c, api_worker_t *w) {
  cp_api_quota_t in;
  char err[256];
  if (cp_api_parse_quota(c->body, &in, err, sizeof err) != 0) {
    cp__api_fail(c, 400, "%s", err);
    return;
  }
  char *models = NULL;
  if (in.models_set == CP_API_SET) {
    cJSON *arr = cJSON_CreateStringArray(in.models, (int)in.nmodels);
    models = arr ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    if (!models) {
      cp__api_fail(c, 500, "out of memory");
      return;
    }
  }
  char tb[24], cb[24], rpm[24], ms[24];
  snprintf(tb, sizeof tb, "%lld", (long long)in.token_budget);
  snprintf(cb, sizeof cb, "%lld", (long long)in.cost_budget);
  snprintf(rpm, sizeof rpm, "%lld", (long long)in.rpm);
  snprintf(ms, sizeof ms, "%lld", (long long)in.streams);
  const char *p[] = {c->target,
                     models,
                     in.token_budget_set == CP_API_SET ? tb : NULL,
                     in.cost_budget_set == CP_API_SET ? cb : NULL,
                     in.rpm_set == CP_API_SET ? rpm : NULL,
                     in.streams_set == CP_API_SET ? ms : NULL,
                     flag(in.models_set),
                     flag(in.token_budget_set),
                     flag(in.cost_budget_set),
                     flag(in.rpm_set),
                     flag(in.streams_set)};
  cp_pg_error_t e = {0};
  int rc = cp_pg_begin(w->db, &e);
  if (rc == 0)
    rc = cp_pg_exec(
        w->db,
        "INSERT INTO user_quotas AS q (username, allowed_models, monthly_token_budget,"
        " monthly_cost_budget_microusd, requests_per_minute, max_concurrent_streams)"
        " VALUES ($1, CASE WHEN $2::json IS NULL THEN NULL"
        " ELSE ARRAY(SELECT json_array_elements_text($2::json)) END,"
        " $3::bigint, $4::bigint, $5::int, $6::int)"
        " ON CONFLICT (username) DO UPDATE SET"
        " allowed_models = CASE WHEN $7::bool THEN EXCLUDED.allowed_models"
        " ELSE q.allowed_models END,"
        " monthly_token_budget = CASE WHEN $8::bool THEN EXCLUDED.monthly_token_budget"
        " ELSE q.monthly_token_budget END,"
        " monthly_cost_budget_microusd = CASE WHEN $9::bool"
        " THEN EXCLUDED.monthly_cost_budget_microusd ELSE q.monthly_cost_budget_microusd END,"
        " requests_per_minute = CASE WHEN $10::bool THEN EXCLUDED.requests_per_minute"
        " ELSE q.requests_per_minute END,"
        " max_concurrent_streams = CASE WHEN $11::bool THEN EXCLUDED.max_concurrent_streams"
        " ELSE q.max_concurrent_streams END,"
        " updated_at = now()",
        11, p, NULL, &e);
  if (rc == 0)
    rc = cp__api_audit(w, c, "quota.update", c->target, "ok", c->body, &e);
  if (rc == 0)
    rc = cp_pg_commit(w->db, &e);
  cJSON_free(models);
  if (rc == CP_ENOTFOUND) {
    cp__api_fail(c, 404, "no user named %s", c->target);
    return;
  }
  if (rc != 0) {
    cp__api_fail_db(c, rc, &e, "update the quota");
    return;
  }
  quota_get_work(c, w);
}

void cp__api_quota_put(api_ctx_t *c) {
  cp__api_run(c, quota_put_work);
}

/* The columns every usage query selects after its grouping key, and their names. */
#define USAGE_SUMS                                                                                 \
  "count(*), coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0),"                \
  " coalesce(sum(cost_microusd), 0)"
/* The month a usage query covers: parameter $n ('YYYY-MM', or NULL for this month). */
#define USAGE_MONTH(n)                                                                             \
  " created_at >= coalesce(($" n "::text || '-01')::date::timestamptz,"                            \
  " date_trunc('month', now())) AND created_at < coalesce(($" n "::text || '-01')::date"           \
  "::timestamptz, date_trunc('month', now())) + interval '1 month'"

/* Runs a usage query whose rows are (key, USAGE_SUMS) and returns them as a new array of
 * {key_name: key, requests, prompt_tokens, completion_tokens, cost_microusd}, adding each
 * row to tot[4] when tot is non-NULL. usage_records belongs to the model proxy's
 * migrations: while it has not run there is no table, which reads as no usage. Returns
 * NULL (answer set in c) on a database error. */
static cJSON *usage_rows(api_ctx_t *c, api_worker_t *w, const char *sql, int np,
                         const char *const *p, const char *key_name, double *tot) {
  PGresult *r = NULL;
  cp_pg_error_t e = {0};
  int rc = cp_pg_exec(w->db, sql, np, p, &r, &e);
  if (rc != 0 && rc != CP_ENOTFOUND) {
    cp__api_fail_db(c, rc, &e, "read usage");
    return NULL;
  }
  static const char *const k[] = {"requests", "prompt_tokens", "completion_tokens",
                                  "cost_microusd"};
  cJSON *items = cJSON_CreateArray();
  for (int i = 0; r && items && i < PQntuples(r); i++) {
    cJSON *m = cJSON_CreateObject();
    if (!m || !cJSON_AddItemToArray(items, m)) {
      cJSON_Delete(m);
      break;
    }
    cJSON_AddStringToObject(m, key_name, PQgetvalue(r, i, 0));
    for (int j = 0; j < 4; j++) {
      double v = strtod(PQgetvalue(r, i, j + 1), NULL);
      if (tot)
        tot[j] += v;
      cJSON_AddNumberToObject(m, k[j], v);
    }
  }
  PQclear(r);
  if (!items)
    cp__api_fail(c, 500, "out of memory");
  return items;
}

static cJSON *totals_json(const double *tot) {
  cJSON *t = cJSON_CreateObject();
  if (t) {
    cJSON_AddNumberToObject(t, "requests", tot[0]);
    cJSON_AddNumberToObject(t, "prompt_tokens", tot[1]);
    cJSON_AddNumberToObject(t, "completion_tokens", tot[2]);
    cJSON_AddNumberToObject(t, "cost_microusd", tot[3]);
  }
  return t;
}

/* Reads ?month=YYYY-MM into c->s1 ("" when absent; an empty month=, like any value that
 * is not YYYY-MM, is 400, as the spec's pattern says). Returns 0, or answers 400 and
 * returns -1. Loop thread. */
static int month_param(api_ctx_t *c) {
  c->s1[0] = '\0';
  int rc = cp_api_query_get(c->query, "month", c->s1, sizeof c->s1);
  const char *m = c->s1;
  if (rc == CP_ENOTFOUND)
    return 0;
  if (rc != 0 || strlen(m) != 7 || strspn(m, "0123456789") != 4 || m[4] != '-' ||
      strspn(m + 5, "0123456789") != 2 || (m[5] - '0') * 10 + (m[6] - '0') < 1 ||
      (m[5] - '0') * 10 + (m[6] - '0') > 12) {
    cp__api_fail(c, 400, "query parameter month must be YYYY-MM");
    cp__api_finish(c);
    return -1;
  }
  return 0;
}

/* The month the answer covers: c->s1, or this month. */
static void month_of(const api_ctx_t *c, char *out, size_t n) {
  char now[32];
  cp_time_format(cp_time_now(), now, sizeof now);
  snprintf(out, n, "%.7s", c->s1[0] ? c->s1 : now);
}

static void usage_work(api_ctx_t *c, api_worker_t *w) {
  cp_pg_error_t e = {0};
  cJSON *quota = NULL;
  int rc = read_quota(w, c->target, &quota, &e);
  if (rc == CP_ENOTFOUND) {
    cp__api_fail(c, 404, "no user named %s", c->target);
    return;
  }
  if (rc != 0) {
    cp__api_fail_db(c, rc, &e, "read the quota");
    return;
  }
  const char *p[] = {c->target, c->s1[0] ? c->s1 : NULL};
  double tot[4] = {0};
  cJSON *items = usage_rows(c, w,
                            "SELECT model, " USAGE_SUMS " FROM usage_records WHERE username = $1"
                            " AND" USAGE_MONTH("2") " GROUP BY model ORDER BY model",
                            2, p, "model", tot);
  cJSON *months =
      items ? usage_rows(c, w,
                         "SELECT to_char(date_trunc('month', created_at), 'YYYY-MM'), " USAGE_SUMS
                         " FROM usage_records WHERE username = $1"
                         " AND created_at >= date_trunc('month', now()) - interval '11 months'"
                         " GROUP BY 1 ORDER BY 1",
                         1, p, "month", NULL)
            : NULL;
  char month[8];
  month_of(c, month, sizeof month);
  c->out = months ? cJSON_CreateObject() : NULL;
  cJSON *total = totals_json(tot);
  if (c->out && total) {
    cJSON_AddStringToObject(c->out, "username", c->target);
    cJSON_AddStringToObject(c->out, "month", month);
    cJSON_AddItemToObject(c->out, "total", total);
    cJSON_AddItemToObject(c->out, "by_model", items);
    cJSON_AddItemToObject(c->out, "months", months);
    cJSON_AddItemToObject(c->out, "quota", quota);
    return;
  }
  cJSON_Delete(items);
  cJSON_Delete(months);
  cJSON_Delete(total);
  cJSON_Delete(quota);
  cJSON_Delete(c->out);
  c->out = NULL;
  if (!c->status)
    cp__api_fail(c, 500, "out of memory");
}

void cp__api_usage(api_ctx_t *c) {
  if (month_param(c) == 0)
    cp__api_run(c, usage_work);
}

/* GET /api/v1/usage: one month across users: totals, the top spenders, by model, by day. */
static void usage_all_work(api_ctx_t *c, api_worker_t *w) {
  const char *p[] = {c->s1[0] ? c->s1 : NULL};
  double tot[4] = {0};
  cJSON *users = usage_rows(c, w,
                            "SELECT username, " USAGE_SUMS " FROM usage_records WHERE" USAGE_MONTH(
                                "1") " GROUP BY username"
                                     " ORDER BY 5 DESC, 3 + 4 DESC, username LIMIT 20",
                            1, p, "username", NULL);
  cJSON *models =
      users ? usage_rows(c, w,
                         "SELECT model, " USAGE_SUMS " FROM usage_records WHERE" USAGE_MONTH(
                             "1") " GROUP BY model ORDER BY model",
                         1, p, "model", tot)
            : NULL;
  cJSON *days =
      models ? usage_rows(c, w,
                          "SELECT to_char(created_at, 'YYYY-MM-DD'), " USAGE_SUMS
                          " FROM usage_records WHERE" USAGE_MONTH("1") " GROUP BY 1 ORDER BY 1",
                          1, p, "day", NULL)
             : NULL;
  char month[8];
  month_of(c, month, sizeof month);
  cJSON *total = totals_json(tot);
  c->out = days && total ? cJSON_CreateObject() : NULL;
  if (c->out) {
    cJSON_AddStringToObject(c->out, "month", month);
    cJSON_AddItemToObject(c->out, "total", total);
    cJSON_AddItemToObject(c->out, "top_users", users);
    cJSON_AddItemToObject(c->out, "by_model", models);
    cJSON_AddItemToObject(c->out, "by_day", days);
    return;
  }
  cJSON_Delete(users);
  cJSON_Delete(models);
  cJSON_Delete(days);
  cJSON_Delete(total);
  if (!c->status)
    cp__api_fail(c, 500, "out of memory");
}

void cp__api_usage_all(api_ctx_t *c) {
  if (month_param(c) == 0)
    cp__api_run(c, usage_all_work);
}

/* --- audit log ------------------------------------------------------------------------ */

static void audit_work(api_ctx_t *c, api_worker_t *w) {
  char before[24], limit[16], actor[API_NAME_MAX], action[64];
  int has_before = c->n2 > 0;
  snprintf(before, sizeof before, "%ld", c->n2);
  snprintf(limit, sizeof limit, "%ld", c->n1);
  int has_actor = cp_api_query_get(c->query, "actor", actor, sizeof actor) == 0;
  int has_action = cp_api_query_get(c->query, "action", action, sizeof action) == 0;
  const char *p[] = {has_before ? before : NULL, has_actor ? actor : NULL,
                     has_action ? action : NULL, limit};
  PGresult *r = NULL;
  cp_pg_error_t e = {0};
  int rc = cp_pg_exec(w->db,
                      "SELECT id, " TS("at") ", actor, action, target, client, outcome,"
                                             " detail::text FROM audit_log"
                                             " WHERE ($1::bigint IS NULL OR id < $1::bigint)"
                                             " AND ($2::text IS NULL OR actor = $2)"
                                             " AND ($3::text IS NULL OR action = $3)"
                                             " ORDER BY id DESC LIMIT $4::int",
                      4, p, &r, &e);
  if (rc != 0) {
    cp__api_fail_db(c, rc, &e, "read the audit log");
    return;
  }
  cJSON *items = cJSON_CreateArray();
  int n = PQntuples(r);
  static const char *const cols[] = {"id", "at", "actor", "action", "target", "client", "outcome"};
  for (int i = 0; items && i < n; i++) {
    cJSON *it = cJSON_CreateObject();
    if (!it)
      break;
    for (int j = 0; j < 7; j++) {
      if (PQgetisnull(r, i, j))
        cJSON_AddNullToObject(it, cols[j]);
      else if (j == 0)
        cJSON_AddNumberToObject(it, cols[j], strtod(PQgetvalue(r, i, j), NULL));
      else
        cJSON_AddStringToObject(it, cols[j], PQgetvalue(r, i, j));
    }
    cJSON *d = cJSON_Parse(PQgetvalue(r, i, 7));
    cJSON_AddItemToObject(it, "detail", d ? d : cJSON_CreateObject());
    cJSON_AddItemToArray(items, it);
  }
  c->out = cJSON_CreateObject();
  if (c->out && items) {
    cJSON_AddItemToObject(c->out, "items", items);
    if (n > 0 && n == c->n1)
      cJSON_AddNumberToObject(c->out, "next_before", strtod(PQgetvalue(r, n - 1, 0), NULL));
  } else {
    cJSON_Delete(items);
    cp__api_fail(c, 500, "out of memory");
  }
  PQclear(r);
}

void cp__api_audit_list(api_ctx_t *c) {
  char err[160];
  c->n1 = 50;
  c->n2 = 0;
  int rc = cp_api_query_long(c->query, "limit", 1, 500, &c->n1, err, sizeof err);
  if (rc != CP_EINVAL)
    rc = cp_api_query_long(c->query, "before", 1, 0x7fffffffffffffffL, &c->n2, err, sizeof err);
  if (rc == CP_EINVAL) {
    cp__api_fail(c, 400, "%s", err);
    cp__api_finish(c);
    return;
  }
  cp__api_run(c, audit_work);
}

/* --- invitations ---------------------------------------------------------------------- */

static void invite_work(api_ctx_t *c, api_worker_t *w) {
  cp_api_invite_t in;
  char err[256];
  if (cp_api_parse_invite(c->body, &in, err, sizeof err) != 0) {
    cp__api_fail(c, 400, "%s", err);
    return;
  }
  char hash[CP_TOKEN_HASH_LEN + 1], ttl[16];
  if (cp_token_new(CP_TOKEN_INVITE, c->token, sizeof c->token) != 0 ||
      cp_token_hash(c->token, hash, sizeof hash) != 0) {
    cp__api_fail(c, 500, "could not create an invitation token");
    return;
  }
  snprintf(ttl, sizeof ttl, "%ld", in.ttl_hours);
  const char *p1[] = {in.username};
  const char *p2[] = {hash, in.username, in.role, c->user, ttl};
  cp_pg_error_t e = {0};
  PGresult *r = NULL, *ins = NULL;
  int rc = cp_pg_begin(w->db, &e);
  if (rc == 0)
    rc = cp_pg_exec(w->db, "SELECT 1 FROM users WHERE username = $1", 1, p1, &r, &e);
  if (rc == 0 && PQntuples(r) > 0) {
    PQclear(r);
    cp__api_fail(c, 409, "user %s already exists", in.username);
    goto out;
  }
  PQclear(r);
  if (rc == 0)
    rc = cp_pg_exec(w->db,
                    "INSERT INTO invitations (token_hash, username, role, created_by, expires_at)"
                    " VALUES ($1, $2, $3, $4, now() + make_interval(hours => $5::int))"
                    " RETURNING " TS("expires_at"),
                    5, p2, &ins, &e);
  if (rc == 0)
    rc = cp__api_audit(w, c, "invitation.create", in.username, "ok", NULL, &e);
  if (rc == 0)
    rc = cp_pg_commit(w->db, &e);
  if (rc != 0) {
    cp__api_fail_db(c, rc, &e, "create the invitation");
    goto out;
  }
  c->out = cJSON_CreateObject();
  if (c->out) {
    cJSON_AddStringToObject(c->out, "token", c->token);
    cJSON_AddStringToObject(c->out, "username", in.username);
    cJSON_AddStringToObject(c->out, "role", in.role);
    cJSON_AddStringToObject(c->out, "expires_at", PQgetvalue(ins, 0, 0));
    cJSON_AddStringToObject(c->out, "accept", "POST /api/v1/invitations/accept");
  }
  c->status = 201;
out:
  PQclear(ins);
  OPENSSL_cleanse(c->token, sizeof c->token);
}

void cp__api_invite(api_ctx_t *c) {
  cp__api_run(c, invite_work);
}

static void accept_work(api_ctx_t *c, api_worker_t *w) {
  cp_api_accept_t in;
  char err[256];
  if (cp_api_parse_accept(c->body, &in, err, sizeof err) != 0) {
    cp__api_fail(c, 400, "%s", err);
    return;
  }
  char hash[CP_TOKEN_HASH_LEN + 1], pw[CP_PASSWORD_HASH_MAX];
  if (!cp_token_well_formed(in.token, CP_TOKEN_INVITE) ||
      cp_token_hash(in.token, hash, sizeof hash) != 0) {
    cp__api_fail(c, 400, "token is not an invitation token");
    return;
  }
  if (cp_password_hash(in.password, in.password_len, c->app->s.password_cost, pw, sizeof pw)) {
    cp__api_fail(c, 500, "could not hash the password");
    return;
  }
  const char *p1[] = {hash};
  cp_pg_error_t e = {0};
  PGresult *r = NULL;
  int rc = cp_pg_begin(w->db, &e);
  if (rc == 0)
    rc = cp_pg_exec(w->db,
                    "SELECT token_hash, username, role FROM invitations WHERE token_hash = $1"
                    " AND accepted_at IS NULL AND expires_at > now() FOR UPDATE",
                    1, p1, &r, &e);
  if (rc != 0) {
    cp__api_fail_db(c, rc, &e, "accept the invitation");
    goto out;
  }
  if (PQntuples(r) != 1 || !cp_token_equal(PQgetvalue(r, 0, 0), hash)) {
    cp__api_fail(c, 404, "invitation not found, already used or expired");
    goto out;
  }
  snprintf(c->user, sizeof c->user, "%s", PQgetvalue(r, 0, 1));
  snprintf(c->role, sizeof c->role, "%s", PQgetvalue(r, 0, 2));
  const char *p2[] = {c->user, c->role};
  rc = cp_pg_exec(w->db, "INSERT INTO users (username, role) VALUES ($1, $2)", 2, p2, NULL, &e);
  if (rc == CP_ECONFLICT) {
    cp__api_fail(c, 409, "user %s already exists", c->user);
    goto out;
  }
  if (rc == 0)
    rc = cp__api_store_password(w, c->user, pw, &e);
  if (rc == 0)
    rc = cp_pg_exec(w->db, "UPDATE invitations SET accepted_at = now() WHERE token_hash = $1", 1,
                    p1, NULL, &e);
  if (rc == 0)
    rc = cp__api_audit(w, c, "invitation.accept", c->user, "ok", NULL, &e);
  if (rc == 0)
    rc = cp_pg_commit(w->db, &e);
  if (rc != 0) {
    cp__api_fail_db(c, rc, &e, "accept the invitation");
    goto out;
  }
  c->out = cJSON_CreateObject();
  if (c->out) {
    cJSON_AddStringToObject(c->out, "username", c->user);
    cJSON_AddStringToObject(c->out, "role", c->role);
    cJSON_AddStringToObject(c->out, "state", "active");
  }
  c->status = 201;
out:
  PQclear(r);
  OPENSSL_cleanse(pw, sizeof pw);
}

void cp__api_invite_accept(api_ctx_t *c) {
  long ra = 0;
  if (cp_ratelimit_take(&c->app->login.client, c->remote, cp_time_mono(), &ra) != 0) {
    cp__api_fail(c, 429, "too many attempts; retry in %ld s", ra);
    snprintf(c->retry_after, sizeof c->retry_after, "%ld", ra);
    cp__api_finish(c);
    return;
  }
  cp__api_run(c, accept_work);
}

/* GET /api/v1/invitations: the pending ones (not accepted, not expired), newest first. */
static void invitations_list_work(api_ctx_t *c, api_worker_t *w) {
  PGresult *r = NULL;
  cp_pg_error_t e = {0};
  int rc = cp_pg_exec(
      w->db,
      "SELECT username, role, created_by, " TS("created_at") ", " TS(
          "expires_at") " FROM invitations WHERE accepted_at IS NULL AND expires_at > now()"
                        " ORDER BY created_at DESC, username LIMIT 1000",
      0, NULL, &r, &e);
  if (rc != 0) {
    cp__api_fail_db(c, rc, &e, "list invitations");
    return;
  }
  static const char *const cols[] = {"username", "role", "created_by", "created_at", "expires_at"};
  cJSON *items = cJSON_CreateArray();
  for (int i = 0; items && i < PQntuples(r); i++) {
    cJSON *it = cJSON_CreateObject();
    if (!it || !cJSON_AddItemToArray(items, it)) {
      cJSON_Delete(it);
      break;
    }
    for (int j = 0; j < 5; j++) {
      if (PQgetisnull(r, i, j))
        cJSON_AddNullToObject(it, cols[j]);
      else
        cJSON_AddStringToObject(it, cols[j], PQgetvalue(r, i, j));
    }
  }
  PQclear(r);
  c->out = items ? cJSON_CreateObject() : NULL;
  if (!c->out || !cJSON_AddItemToObject(c->out, "items", items)) {
    cJSON_Delete(items);
    cp__api_fail(c, 500, "out of memory");
  }
}

void cp__api_invitations_list(api_ctx_t *c) {
  cp__api_run(c, invitations_list_work);
}

/* DELETE /api/v1/invitations/{id}: {id} is the invited username; every pending invitation
 * for it stops working. */
static void invitation_revoke_work(api_ctx_t *c, api_worker_t *w) {
  const char *p[] = {c->item};
  PGresult *r = NULL;
  cp_pg_error_t e = {0};
  int rc = cp_pg_begin(w->db, &e);
  if (rc == 0)
    rc = cp_pg_exec(w->db,
                    "DELETE FROM invitations WHERE username = $1 AND accepted_at IS NULL"
                    " RETURNING 1",
                    1, p, &r, &e);
  int n = rc == 0 ? PQntuples(r) : 0;
  PQclear(r);
  if (rc == 0 && n == 0) {
    cp__api_fail(c, 404, "no pending invitation for %s", c->item);
    return; /* the pool rolls the open transaction back when the job ends */
  }
  if (rc == 0)
    rc = cp__api_audit(w, c, "invitation.revoke", c->item, "ok", NULL, &e);
  if (rc == 0)
    rc = cp_pg_commit(w->db, &e);
  if (rc != 0) {
    cp__api_fail_db(c, rc, &e, "revoke the invitation");
    return;
  }
  c->out = cJSON_CreateObject();
  if (c->out) {
    cJSON_AddStringToObject(c->out, "username", c->item);
    cJSON_AddBoolToObject(c->out, "revoked", 1);
  }
}

void cp__api_invitation_revoke(api_ctx_t *c) {
  if (!cp_api_valid_username(c->item)) {
    cp__api_fail(c, 400, "\"%s\" is not a valid username", c->item);
    cp__api_finish(c);
    return;
  }
  cp__api_run(c, invitation_revoke_work);
}

/* DELETE /api/v1/users/{user}: in three steps, each safe to repeat, so a retry after any
 * failure finishes the job: the account is disabled (sessions and tokens end: the user
 * can no longer start anything), the UserRuntime is deleted (its workspace follows
 * spec.storage.retainOnDelete), then the account and what hangs on it (credentials,
 * sessions, tokens, quota) are deleted with the audit record. Usage records and audit
 * entries stay: they are history. */
static void user_delete_work(api_ctx_t *c, api_worker_t *w) {
  set_user_state(c, w, "disabled");
  if (c->status >= 400)
    return;
  cJSON_Delete(c->out);
  c->out = NULL;
  cp_status_t st = {0};
  int rc = cp_kube_delete(w->kc, &API_UR_GVR, c->app->s.runtime_ns, c->target,
                          &(cp_delete_opts_t){.propagation_policy = "Background"}, NULL, &st);
  if (rc != 0 && rc != CP_ENOTFOUND) {
    cp__api_fail_kube(c, rc, &st, "delete the user's runtime");
    snprintf(c->msg + strlen(c->msg), sizeof c->msg - strlen(c->msg),
             " (the user is disabled; retry to finish deleting)");
    return;
  }
  const char *p[] = {c->target};
  cp_pg_error_t e = {0};
  rc = cp_pg_begin(w->db, &e);
  if (rc == 0)
    rc = cp_pg_exec(w->db, "UPDATE invitations SET created_by = NULL WHERE created_by = $1", 1, p,
                    NULL, &e);
  if (rc == 0)
    rc = cp_pg_exec(w->db, "DELETE FROM users WHERE username = $1", 1, p, NULL, &e);
  if (rc == 0)
    rc = cp__api_audit(w, c, "user.delete", c->target, "ok", NULL, &e);
  if (rc == 0)
    rc = cp_pg_commit(w->db, &e);
  if (rc != 0) {
    cp__api_fail_db(c, rc, &e, "delete the user");
    return;
  }
  c->out = cJSON_CreateObject();
  if (c->out) {
    cJSON_AddStringToObject(c->out, "username", c->target);
    cJSON_AddBoolToObject(c->out, "deleted", 1);
  }
}

void cp__api_user_delete(api_ctx_t *c) {
  if (!strcmp(c->target, c->user)) {
    cp__api_fail(c, 409, "you cannot delete your own account");
    cp__api_finish(c);
    return;
  }
  queue_or_fail(c, user_delete_work, evict_done);
}

/* DELETE /api/v1/users/{user}/sessions: signs the user out everywhere (every browser
 * session, this one too when it is the caller's own; API tokens stay, each is revoked on
 * its own). */
static void sessions_revoke_work(api_ctx_t *c, api_worker_t *w) {
  const char *p[] = {c->target};
  PGresult *r = NULL;
  cp_pg_error_t e = {0};
  int rc = cp_pg_begin(w->db, &e);
  if (rc == 0)
    rc = cp_pg_exec(w->db, "DELETE FROM sessions WHERE username = $1 RETURNING 1", 1, p, &r, &e);
  int n = rc == 0 ? PQntuples(r) : 0;
  PQclear(r);
  cJSON *detail = cJSON_CreateObject();
  if (detail)
    cJSON_AddNumberToObject(detail, "sessions", n);
  if (rc == 0)
    rc = cp__api_audit(w, c, "auth.logout_all", c->target, "ok", detail, &e);
  cJSON_Delete(detail);
  if (rc == 0)
    rc = cp_pg_commit(w->db, &e);
  if (rc != 0) {
    cp__api_fail_db(c, rc, &e, "end the sessions");
    return;
  }
  c->evict_user = 1;
  c->out = cJSON_CreateObject();
  if (c->out)
    cJSON_AddNumberToObject(c->out, "revoked", n);
  if (!strcmp(c->target, c->user) && !c->token_is_api)
    snprintf(c->set_cookie, sizeof c->set_cookie,
             "%s=; Path=/; Max-Age=0%s%s; HttpOnly%s; SameSite=Strict", CP_SESSION_COOKIE,
             c->app->s.cookie_domain ? "; Domain=" : "",
             c->app->s.cookie_domain ? c->app->s.cookie_domain : "",
             c->app->s.cookie_secure ? "; Secure" : "");
}

void cp__api_sessions_revoke(api_ctx_t *c) {
  queue_or_fail(c, sessions_revoke_work, evict_done);
}
