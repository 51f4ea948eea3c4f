/* API tokens: long-lived bearer tokens (cpt_...) for scripts and the CLI.
 *
 * Created by their owner (or an admin for them), shown once, stored only as SHA-256.
 * Listing never returns hashes. Revoking sets revoked_at (rows stay for the record) and
 * drops the owner's cached sessions on this replica so the token stops working at once
 * here, and within --session-cache-seconds elsewhere.
 */
#include "api.h"

#include "api/body.h"
#include "core/error.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

static void create_work(api_ctx_t *c, api_worker_t *w) {
  cp_api_token_create_t in;
  char err[256];
  if (cp_api_parse_token_create(c->body, &in, err, sizeof err) != 0) {
    cp__api_fail(c, 400, "%s", err);
    return;
  }
  char hash[CP_TOKEN_HASH_LEN + 1], ttl[16];
  if (cp_token_new(CP_TOKEN_API, c->token, sizeof c->token) != 0 ||
      cp_token_hash(c->token, hash, sizeof hash) != 0) {
    cp__api_fail(c, 500, "could not create a token");
    return;
  }
  snprintf(ttl, sizeof ttl, "%ld", in.ttl_days);
  const char *p[] = {hash, c->target, in.name, in.ttl_days ? ttl : NULL};
  cp_pg_error_t e = {0};
  PGresult *r = NULL;
  cJSON *detail = cJSON_CreateObject();
  if (detail)
    cJSON_AddStringToObject(detail, "name", in.name);
  int rc = cp_pg_begin(w->db, &e);
  if (rc == 0)
    rc = cp_pg_exec(w->db,
                    "INSERT INTO api_tokens (token_hash, username, name, expires_at)"
                    " VALUES ($1, $2, $3, now() + make_interval(days => $4::int))"
                    " RETURNING id, " TS("expires_at"),
                    4, p, &r, &e);
  if (rc == 0)
    rc = cp__api_audit(w, c, "token.create", c->target, "ok", detail, &e);
  if (rc == 0)
    rc = cp_pg_commit(w->db, &e);
  cJSON_Delete(detail);
  if (rc != 0) {
    PQclear(r);
    OPENSSL_cleanse(c->token, sizeof c->token);
    cp__api_fail_db(c, rc, &e, "create the token");
    return;
  }
  c->out = cJSON_CreateObject();
  if (c->out) {
    cJSON_AddNumberToObject(c->out, "id", strtod(PQgetvalue(r, 0, 0), NULL));
    cJSON_AddStringToObject(c->out, "name", in.name);
    cJSON_AddStringToObject(c->out, "token", c->token);
    if (PQgetisnull(r, 0, 1))
      cJSON_AddNullToObject(c->out, "expires_at");
    else
      cJSON_AddStringToObject(c->out, "expires_at", PQgetvalue(r, 0, 1));
  }
  c->status = 201;
  PQclear(r);
  OPENSSL_cleanse(c->token, sizeof c->token);
}

void cp__api_tokens_create(api_ctx_t *c) {
  cp__api_run(c, create_work);
}

static void list_work(api_ctx_t *c, api_worker_t *w) {
  const char *p[] = {c->target};
  cp_pg_error_t e = {0};
  PGresult *r = NULL;
  int rc = cp_pg_exec(w->db,
                      "SELECT id, name, " TS("created_at") ", " TS("expires_at") ", " TS(
                          "last_used_at") ", revoked_at IS NOT NULL"
                                          " FROM api_tokens WHERE username = $1 ORDER BY id",
                      1, p, &r, &e);
  if (rc != 0) {
    cp__api_fail_db(c, rc, &e, "list tokens");
    return;
  }
  cJSON *items = cJSON_CreateArray();
  for (int i = 0; items && i < PQntuples(r); i++) {
    cJSON *t = cJSON_CreateObject();
    if (!t)
      break;
    cJSON_AddNumberToObject(t, "id", strtod(PQgetvalue(r, i, 0), NULL));
    cJSON_AddStringToObject(t, "name", PQgetvalue(r, i, 1));
    static const char *const ts[] = {"created_at", "expires_at", "last_used_at"};
    for (int j = 0; j < 3; j++) {
      if (PQgetisnull(r, i, j + 2))
        cJSON_AddNullToObject(t, ts[j]);
      else
        cJSON_AddStringToObject(t, ts[j], PQgetvalue(r, i, j + 2));
    }
    cJSON_AddBoolToObject(t, "revoked", !strcmp(PQgetvalue(r, i, 5), "t"));
    cJSON_AddItemToArray(items, t);
  }
  PQclear(r);
  c->out = cJSON_CreateObject();
  if (c->out && items) {
    cJSON_AddItemToObject(c->out, "items", items);
  } else {
    cJSON_Delete(items);
    cp__api_fail(c, 500, "out of memory");
  }
}

void cp__api_tokens_list(api_ctx_t *c) {
  cp__api_run(c, list_work);
}

static void revoke_work(api_ctx_t *c, api_worker_t *w) {
  const char *p[] = {c->item, c->target};
  cp_pg_error_t e = {0};
  PGresult *r = NULL;
  int rc = cp_pg_begin(w->db, &e);
  if (rc == 0)
    rc = cp_pg_exec(w->db,
                    "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now())"
                    " WHERE id = $1::bigint AND username = $2 RETURNING id",
                    2, p, &r, &e);
  if (rc == 0 && PQntuples(r) != 1) {
    PQclear(r);
    cp__api_fail(c, 404, "user %s has no token %s", c->target, c->item);
    return;
  }
  PQclear(r);
  if (rc == 0)
    rc = cp__api_audit(w, c, "token.revoke", c->target, "ok", NULL, &e);
  if (rc == 0)
    rc = cp_pg_commit(w->db, &e);
  if (rc != 0) {
    cp__api_fail_db(c, rc, &e, "revoke the token");
    return;
  }
  c->evict_user = 1;
  c->out = cJSON_CreateObject();
  if (c->out)
    cJSON_AddBoolToObject(c->out, "revoked", 1);
}

static void revoke_done(api_ctx_t *c) {
  if (c->evict_user)
    cp__api_evict(c->app, c->target, NULL);
  cp__api_finish(c);
}

void cp__api_tokens_revoke(api_ctx_t *c) {
  char *end = NULL;
  long id = strtol(c->item, &end, 10);
  if (!*c->item || *end || id <= 0) {
    cp__api_fail(c, 400, "token id must be a positive integer");
    cp__api_finish(c);
    return;
  }
  if (cp__api_queue(c, revoke_work, revoke_done) != 0) {
    cp__api_fail(c, 500, "could not schedule the request");
    cp__api_finish(c);
  }
}

/* --- housekeeping --------------------------------------------------------------------- */

static void sweep_work(api_ctx_t *c, api_worker_t *w) {
  cp_pg_error_t e = {0};
  int rc = cp_pg_exec(w->db, "DELETE FROM sessions WHERE expires_at < now()", 0, NULL, NULL, &e);
  if (rc == 0)
    rc = cp_pg_exec(w->db,
                    "DELETE FROM invitations WHERE accepted_at IS NULL"
                    " AND expires_at < now() - interval '30 days'",
                    0, NULL, NULL, &e);
  if (rc != 0)
    snprintf(c->msg, sizeof c->msg, "%s", e.message);
}

static void sweep_done(api_ctx_t *c) {
  cp__api_ctx_free(c);
}

void cp__api_sweep(uv_timer_t *t) {
  api_app_t *a = t->data;
  if (!atomic_load(&a->schema_ready) || a->shutting_down)
    return;
  api_ctx_t *c = calloc(1, sizeof *c);
  if (!c)
    return;
  c->app = a;
  if (cp__api_queue(c, sweep_work, sweep_done) != 0)
    free(c);
}
