/* Usage in PostgreSQL: one thread with its own connection (lib/pg) that
 *   - runs the "modelproxy" migrations (retrying while PostgreSQL is away),
 *   - writes usage records in batches (every --usage-flush-interval, or as soon as
 *     --usage-batch records wait) with one parameterized INSERT ... SELECT FROM
 *     json_to_recordset($1) ... ON CONFLICT (request_id) DO NOTHING, so a batch retried
 *     after a lost answer never counts twice,
 *   - and every --quota-refresh seconds reads this month's totals per user from
 *     usage_records and the overrides from user_quotas (a missing table means no
 *     overrides), handing them to the loop as a snapshot through a uv_async.
 *
 * Records wait in a bounded queue (QUEUE_CAP; past it new records are dropped and counted)
 * and leave it only once written. On shutdown the thread keeps trying until the queue is
 * empty or the deadline passes; what still could not be written is logged record by
 * record, so nothing is lost silently.
 */
#include "mp.h"

#include "core/error.h"
#include "core/time.h"
#include "log/log.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define QUEUE_CAP 100000
#define MAX_BATCH 500

struct mp_usage_db_s {
  mp_app_t *a;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool stop;
  double deadline; /* monotonic: give up writing at shutdown */
  mp_record_t *q;  /* ring of QUEUE_CAP */
  size_t head, len;
  mp_snapshot_t *ready; /* newest snapshot not yet taken by the loop */
  uv_async_t async;
  /* thread-owned */
  cp_pg_t *pg;
  bool migrated;
  uint64_t flushed_seq;
  double next_snapshot, next_migrate, last_warn;
};

static const char INSERT_SQL[] =
    "INSERT INTO usage_records (request_id, username, runtime, model, prompt_tokens,"
    " completion_tokens, cost_microusd, created_at)"
    " SELECT r.request_id, r.username, r.runtime, r.model, r.prompt_tokens, r.completion_tokens,"
    " r.cost_microusd, to_timestamp(r.at)"
    " FROM json_to_recordset($1::json) AS r(request_id text, username text, runtime text,"
    " model text, prompt_tokens bigint, completion_tokens bigint, cost_microusd bigint,"
    " at double precision)"
    " ON CONFLICT (request_id) DO NOTHING";

static const char TOTALS_SQL[] =
    "SELECT username, coalesce(sum(prompt_tokens + completion_tokens), 0)::text,"
    " coalesce(sum(cost_microusd), 0)::text FROM usage_records"
    " WHERE created_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
    " GROUP BY username";

static const char QUOTAS_SQL[] =
    "SELECT username, array_to_json(allowed_models)::text, monthly_token_budget::text,"
    " monthly_cost_budget_microusd::text, requests_per_minute::text,"
    " max_concurrent_streams::text FROM user_quotas";

static void warn_pg(mp_usage_db_t *d, const char *msg, int rc, const cp_pg_error_t *e) {
  double now = cp_time_mono();
  if (now - d->last_warn < 10)
    return; /* PostgreSQL away: say so every 10 s, not every 200 ms */
  d->last_warn = now;
  cp_log_warn(msg, "error", cp_strerror(rc), "sqlstate", e ? e->sqlstate : NULL, "message",
              e ? e->message : NULL, NULL);
}

static char *batch_json(const mp_record_t *r, size_t n) {
  cJSON *arr = cJSON_CreateArray();
  for (size_t i = 0; arr && i < n; i++) {
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToArray(arr, o) ||
        !cJSON_AddStringToObject(o, "request_id", r[i].request_id) ||
        !cJSON_AddStringToObject(o, "username", r[i].user) ||
        !cJSON_AddStringToObject(o, "runtime", r[i].runtime) ||
        !cJSON_AddStringToObject(o, "model", r[i].model) ||
        !cJSON_AddNumberToObject(o, "prompt_tokens", (double)r[i].prompt_tokens) ||
        !cJSON_AddNumberToObject(o, "completion_tokens", (double)r[i].completion_tokens) ||
        !cJSON_AddNumberToObject(o, "cost_microusd", (double)r[i].cost_microusd) ||
        !cJSON_AddNumberToObject(o, "at", r[i].at)) {
      cJSON_Delete(arr);
      return NULL;
    }
  }
  char *s = arr ? cJSON_PrintUnformatted(arr) : NULL;
  cJSON_Delete(arr);
  return s;
}

/* Writes the oldest queued records; returns 1 if some were written. */
static int flush_some(mp_usage_db_t *d) {
  mp_record_t batch[MAX_BATCH];
  pthread_mutex_lock(&d->mu);
  size_t n = d->len < MAX_BATCH ? d->len : MAX_BATCH;
  for (size_t i = 0; i < n; i++)
    batch[i] = d->q[(d->head + i) % QUEUE_CAP];
  pthread_mutex_unlock(&d->mu);
  if (n == 0)
    return 0;
  char *json = batch_json(batch, n);
  if (!json)
    return 0;
  cp_pg_error_t e = {0};
  const char *params[] = {json};
  int rc = cp_pg_exec(d->pg, INSERT_SQL, 1, params, NULL, &e);
  cJSON_free(json);
  if (rc != 0) {
    cp_counter_add(d->a->m.usage_errors, NULL, 1);
    warn_pg(d, "cannot write usage records; will retry", rc, &e);
    return 0;
  }
  pthread_mutex_lock(&d->mu);
  d->head = (d->head + n) % QUEUE_CAP;
  d->len -= n;
  size_t left = d->len;
  pthread_mutex_unlock(&d->mu);
  d->flushed_seq = batch[n - 1].seq;
  cp_counter_add(d->a->m.usage_written, NULL, (double)n);
  cp_gauge_set(d->a->m.usage_pending, NULL, (double)left);
  return 1;
}

static int64_t num(const PGresult *r, int row, int col, int *has) {
  if (PQgetisnull(r, row, col)) {
    *has = 0;
    return 0;
  }
  char *end;
  errno = 0;
  long long v = strtoll(PQgetvalue(r, row, col), &end, 10);
  *has = errno == 0 && *end == '\0' && v >= 0;
  return *has ? (int64_t)v : 0;
}

/* Finds or appends the snapshot entry for user. */
static mp_snap_user_t *snap_user(mp_snapshot_t *s, size_t *cap, cp_map_t *idx, const char *user) {
  mp_snap_user_t *u = cp_map_get(idx, user);
  if (u)
    return u;
  if (strlen(user) >= sizeof u->user)
    return NULL;
  if (s->n == *cap)
    return NULL;
  u = &s->users[s->n];
  memset(u, 0, sizeof *u);
  memcpy(u->user, user, strlen(user) + 1);
  if (cp_map_put(idx, user, u, NULL) != 0)
    return NULL;
  s->n++;
  return u;
}

static void read_models(mp_snap_user_t *u, const char *json) {
  cJSON *arr = cJSON_Parse(json);
  if (!cJSON_IsArray(arr)) {
    cJSON_Delete(arr);
    return;
  }
  size_t n = (size_t)cJSON_GetArraySize(arr);
  u->models = calloc(n ? n : 1, sizeof(char *));
  const cJSON *it;
  cJSON_ArrayForEach(it, arr) {
    if (!u->models || !cJSON_IsString(it))
      continue;
    size_t k = strlen(it->valuestring) + 1;
    char *m = malloc(k);
    if (!m)
      continue;
    memcpy(m, it->valuestring, k);
    if (strcmp(m, "*") == 0)
      u->ov.v.allow_all = 1;
    u->models[u->nmodels++] = m;
  }
  cJSON_Delete(arr);
  u->ov.v.allowed_models = (const char *const *)u->models;
  u->ov.v.nallowed = u->nmodels;
  u->ov.has_models = u->models != NULL;
}

/* Reads the month's totals and the overrides; hands them to the loop. */
static void snapshot(mp_usage_db_t *d) {
  cp_pg_error_t e = {0};
  PGresult *tot = NULL, *quo = NULL;
  uint64_t seq = d->flushed_seq;
  int rc = cp_pg_exec(d->pg, TOTALS_SQL, 0, NULL, &tot, &e);
  if (rc != 0) {
    warn_pg(d, "cannot read month usage totals; will retry", rc, &e);
    return;
  }
  int qrc = cp_pg_exec(d->pg, QUOTAS_SQL, 0, NULL, &quo, &e);
  if (qrc != 0 && qrc != CP_ENOTFOUND) {
    warn_pg(d, "cannot read user_quotas; will retry", qrc, &e);
    PQclear(tot);
    return;
  }
  size_t cap = (size_t)PQntuples(tot) + (quo ? (size_t)PQntuples(quo) : 0);
  mp_snapshot_t *s = calloc(1, sizeof *s);
  cp_map_t idx;
  cp_map_init(&idx);
  if (s)
    s->users = calloc(cap ? cap : 1, sizeof *s->users);
  if (!s || !s->users) {
    free(s);
    PQclear(tot);
    PQclear(quo);
    return;
  }
  s->flushed_seq = seq;
  for (int i = 0; i < PQntuples(tot); i++) {
    mp_snap_user_t *u = snap_user(s, &cap, &idx, PQgetvalue(tot, i, 0));
    int h1, h2;
    if (!u)
      continue;
    u->tokens = num(tot, i, 1, &h1);
    u->cost = num(tot, i, 2, &h2);
    u->has_usage = 1;
  }
  for (int i = 0; quo && i < PQntuples(quo); i++) {
    mp_snap_user_t *u = snap_user(s, &cap, &idx, PQgetvalue(quo, i, 0));
    if (!u)
      continue;
    if (!PQgetisnull(quo, i, 1))
      read_models(u, PQgetvalue(quo, i, 1));
    u->ov.v.monthly_tokens = num(quo, i, 2, &u->ov.has_tokens);
    u->ov.v.monthly_cost_microusd = num(quo, i, 3, &u->ov.has_cost);
    u->ov.v.requests_per_minute = num(quo, i, 4, &u->ov.has_rpm);
    u->ov.v.max_streams = num(quo, i, 5, &u->ov.has_streams);
  }
  cp_map_free(&idx, NULL);
  PQclear(tot);
  PQclear(quo);
  pthread_mutex_lock(&d->mu);
  mp_snapshot_t *old = d->ready;
  d->ready = s;
  pthread_mutex_unlock(&d->mu);
  cp__mp_snapshot_free(old);
  uv_async_send(&d->async);
}

static void migrate(mp_usage_db_t *d) {
  double now = cp_time_mono();
  if (now < d->next_migrate)
    return;
  char err[512] = "";
  size_t applied = 0;
  int rc = cp_pg_migrate_count(d->pg, "modelproxy", cp__mp_migrations, cp__mp_nmigrations, &applied,
                               err, sizeof err);
  if (rc != 0) {
    d->next_migrate = now + 2;
    if (now - d->last_warn >= 10) {
      d->last_warn = now;
      cp_log_warn("cannot migrate the modelproxy schema; will retry", "error", cp_strerror(rc),
                  "message", err, NULL);
    }
    return;
  }
  char n[24];
  snprintf(n, sizeof n, "%zu", applied);
  cp_log_info("modelproxy schema up to date", "applied", n, NULL);
  d->migrated = true;
}

static void *run(void *arg) {
  mp_usage_db_t *d = arg;
  mp_app_t *a = d->a;
  migrate(d); /* at once: the first snapshot (month totals, overrides) should not wait */
  double next_flush = cp_time_mono() + a->flush_interval;
  for (;;) {
    pthread_mutex_lock(&d->mu);
    while (!d->stop && (size_t)d->len < (size_t)a->usage_batch) {
      double now = cp_time_mono();
      double until = next_flush < d->next_snapshot || !d->migrated ? next_flush : d->next_snapshot;
      if (now >= until)
        break;
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      double wait = until - now;
      ts.tv_sec += (time_t)wait;
      ts.tv_nsec += (long)((wait - (double)(time_t)wait) * 1e9);
      if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
      }
      pthread_cond_timedwait(&d->cv, &d->mu, &ts);
    }
    bool stop = d->stop;
    size_t len = d->len;
    double deadline = d->deadline;
    pthread_mutex_unlock(&d->mu);
    if (stop && (len == 0 || cp_time_mono() >= deadline))
      break;
    if (!d->migrated)
      migrate(d);
    if (d->migrated) {
      while (flush_some(d))
        ;
      if (cp_time_mono() >= d->next_snapshot && !stop) {
        snapshot(d);
        d->next_snapshot = cp_time_mono() + a->quota_refresh;
      }
    }
    next_flush = cp_time_mono() + a->flush_interval;
    if (stop) {
      struct timespec ts = {0, 200 * 1000000L};
      nanosleep(&ts, NULL); /* PostgreSQL away at shutdown: retry until the deadline */
    }
  }
  return NULL;
}

static void on_async(uv_async_t *h) {
  mp_usage_db_t *d = h->data;
  pthread_mutex_lock(&d->mu);
  mp_snapshot_t *s = d->ready;
  d->ready = NULL;
  pthread_mutex_unlock(&d->mu);
  if (s)
    cp__mp_users_apply(d->a, s);
}

int cp__mp_db_start(mp_app_t *a) {
  if (!a->database_url)
    return 0;
  mp_usage_db_t *d = calloc(1, sizeof *d);
  if (!d)
    return CP_ENOMEM;
  d->q = malloc(QUEUE_CAP * sizeof *d->q);
  cp_pg_error_t e = {0};
  cp_pg_opts_t po = {.application_name = "clawplane-modelproxy", .statement_timeout_ms = 10000};
  int rc = d->q ? cp_pg_new(a->database_url, &po, &d->pg, &e) : CP_ENOMEM;
  if (rc != 0) {
    cp_log_error("bad --database-url", "error", e.message, NULL);
    free(d->q);
    free(d);
    return rc;
  }
  d->a = a;
  pthread_mutex_init(&d->mu, NULL);
  pthread_cond_init(&d->cv, NULL);
  uv_async_init(&a->loop, &d->async, on_async);
  d->async.data = d;
  uv_unref((uv_handle_t *)&d->async); /* the loop ends when the server is closed */
  if (pthread_create(&d->thread, NULL, run, d) != 0) {
    cp_pg_free(d->pg);
    free(d->q);
    free(d);
    return CP_ENOMEM;
  }
  a->db = d;
  return 0;
}

void cp__mp_db_enqueue(mp_app_t *a, const mp_record_t *rec) {
  mp_usage_db_t *d = a->db;
  if (!d)
    return;
  pthread_mutex_lock(&d->mu);
  bool full = d->len == QUEUE_CAP;
  if (!full) {
    d->q[(d->head + d->len) % QUEUE_CAP] = *rec;
    d->len++;
    if ((long)d->len >= a->usage_batch)
      pthread_cond_signal(&d->cv);
  }
  size_t len = d->len;
  pthread_mutex_unlock(&d->mu);
  cp_gauge_set(a->m.usage_pending, NULL, (double)len);
  if (full) {
    cp_counter_add(a->m.usage_dropped, NULL, 1);
    cp_log_error("usage queue full (PostgreSQL away too long); record dropped", "request_id",
                 rec->request_id, "user", rec->user, "model", rec->model, NULL);
  }
}

static void async_closed(uv_handle_t *h) {
  mp_usage_db_t *d = h->data;
  cp__mp_snapshot_free(d->ready);
  free(d->q);
  free(d);
}

void cp__mp_db_stop(mp_app_t *a, double timeout_s) {
  mp_usage_db_t *d = a->db;
  if (!d)
    return;
  pthread_mutex_lock(&d->mu);
  d->stop = true;
  d->deadline = cp_time_mono() + timeout_s;
  pthread_cond_signal(&d->cv);
  pthread_mutex_unlock(&d->mu);
  pthread_join(d->thread, NULL);
  char left[24];
  snprintf(left, sizeof left, "%zu", d->len);
  if (d->len > 0)
    cp_log_error("usage records not written at shutdown (PostgreSQL unreachable); logged here",
                 "count", left, NULL);
  for (size_t i = 0; i < d->len; i++) {
    const mp_record_t *r = &d->q[(d->head + i) % QUEUE_CAP];
    char p[24], c[24], cost[24], at[32];
    snprintf(p, sizeof p, "%lld", (long long)r->prompt_tokens);
    snprintf(c, sizeof c, "%lld", (long long)r->completion_tokens);
    snprintf(cost, sizeof cost, "%lld", (long long)r->cost_microusd);
    cp_time_format(r->at, at, sizeof at);
    cp_log_error("unwritten usage record", "request_id", r->request_id, "user", r->user, "runtime",
                 r->runtime, "model", r->model, "prompt_tokens", p, "completion_tokens", c,
                 "cost_microusd", cost, "at", at, NULL);
  }
  cp_pg_free(d->pg);
  pthread_mutex_destroy(&d->mu);
  pthread_cond_destroy(&d->cv);
  a->db = NULL;
  uv_close((uv_handle_t *)&d->async, async_closed);
}
