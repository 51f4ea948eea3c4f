/* Authentication: credentials from the request, the session cache, the database lookup,
 * and the login, logout, me and password endpoints.
 *
 * A presented token is hashed at once; only the hash travels further (cache key, SQL
 * parameter). The cache maps hashes to (user, role, expiry) for a few seconds so hot paths
 * (runtime status, forward-auth) need no database round trip; logout, password changes
 * and disabling a user evict what they revoke on this replica at once, and other replicas
 * follow within the cache lifetime (--session-cache-seconds, 0 disables the cache).
 * Login is rate-limited per username and per client address before any work is queued,
 * and an unknown user costs the same scrypt time as a wrong password.
 */
#include "api.h"

#include "api/body.h"
#include "auth/password.h"
#include "core/error.h"
#include "core/time.h"
#include "log/log.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cp__api_credentials(api_ctx_t *c, const cp_http_request_t *req) {
  char tok[128];
  int rc = cp_bearer_get(cp_http_header(req, "Authorization"), tok, sizeof tok);
  if (rc == CP_ENOTFOUND)
    rc = cp_cookie_get(cp_http_header(req, "Cookie"), CP_SESSION_COOKIE, tok, sizeof tok);
  if (rc == CP_ETOOBIG)
    return CP_EINVAL;
  if (rc != 0)
    return CP_ENOTFOUND;
  int is_api = cp_token_well_formed(tok, CP_TOKEN_API);
  if (!is_api && !cp_token_well_formed(tok, CP_TOKEN_SESSION)) {
    OPENSSL_cleanse(tok, sizeof tok);
    return CP_EINVAL;
  }
  rc = cp_token_hash(tok, c->token_hash, sizeof c->token_hash);
  OPENSSL_cleanse(tok, sizeof tok);
  c->token_is_api = is_api;
  return rc == 0 ? 0 : CP_EINVAL;
}

int cp__api_lookup_session(api_ctx_t *c, api_worker_t *w, cp_pg_error_t *e) {
  const char *p[] = {c->token_hash};
  PGresult *r = NULL;
  int rc = cp_pg_exec(
      w->db,
      c->token_is_api ? "SELECT t.token_hash, u.username, u.role,"
                        " extract(epoch FROM coalesce(t.expires_at, now() + interval '1 day'))"
                        " FROM api_tokens t JOIN users u USING (username)"
                        " WHERE t.token_hash = $1 AND t.revoked_at IS NULL"
                        " AND (t.expires_at IS NULL OR t.expires_at > now()) AND u.state = 'active'"
                      : "SELECT s.token_hash, u.username, u.role, extract(epoch FROM s.expires_at)"
                        " FROM sessions s JOIN users u USING (username)"
                        " WHERE s.token_hash = $1 AND s.expires_at > now() AND u.state = 'active'",
      1, p, &r, e);
  if (rc != 0)
    return rc;
  /* the index found the row by hash; compare the hash itself in constant time too */
  if (PQntuples(r) != 1 || !cp_token_equal(PQgetvalue(r, 0, 0), c->token_hash)) {
    PQclear(r);
    return CP_EUNAUTHORIZED;
  }
  snprintf(c->user, sizeof c->user, "%s", PQgetvalue(r, 0, 1));
  snprintf(c->role, sizeof c->role, "%s", PQgetvalue(r, 0, 2));
  c->session_expires = strtod(PQgetvalue(r, 0, 3), NULL);
  PQclear(r);
  return 0;
}

typedef struct evict_s {
  const char *user, *hash;
  char *keys[64];
  size_t n;
} evict_t;

static void collect(const char *key, void *value, void *ud) {
  evict_t *e = ud;
  api_session_t *s = value;
  if (e->n < 64 && ((e->user && !strcmp(s->user, e->user)) || (e->hash && !strcmp(key, e->hash))))
    e->keys[e->n++] = (char *)key;
}

void cp__api_evict(api_app_t *a, const char *user, const char *token_hash) {
  for (;;) {
    evict_t e = {.user = user, .hash = token_hash};
    cp_map_each(&a->sessions, collect, &e);
    for (size_t i = 0; i < e.n; i++)
      free(cp_map_del(&a->sessions, e.keys[i]));
    if (e.n < 64)
      return;
  }
}

static void cache_put(api_ctx_t *c) {
  api_app_t *a = c->app;
  if (a->s.session_cache_s <= 0)
    return;
  if (a->sessions.len >= 100000) {
    cp_map_free(&a->sessions, free);
    cp_map_init(&a->sessions);
  }
  api_session_t *s = calloc(1, sizeof *s);
  if (!s)
    return;
  memcpy(s->user, c->user, sizeof s->user);
  memcpy(s->role, c->role, sizeof s->role);
  s->expires = c->session_expires;
  s->cached_at = cp_time_mono();
  void *old = NULL;
  if (cp_map_put(&a->sessions, c->token_hash, s, &old) != 0)
    free(s);
  free(old);
}

static void authorized(api_ctx_t *c) {
  if (c->need == API_AUTH_ADMIN && strcmp(c->role, "admin") != 0) {
    cp__api_fail(c, 403, "this endpoint is for administrators");
    cp__api_finish(c);
    return;
  }
  c->authed = 1;
  c->then(c);
}

static void lookup_work(api_ctx_t *c, api_worker_t *w) {
  cp_pg_error_t e = {0};
  int rc = cp__api_lookup_session(c, w, &e);
  if (rc == CP_EUNAUTHORIZED)
    cp__api_fail(c, 401, "session expired or invalid: log in again");
  else if (rc != 0)
    cp__api_fail_db(c, rc, &e, "check the session");
}

static void lookup_done(api_ctx_t *c) {
  if (c->req && c->status == 401 && c->denied) {
    c->denied(c);
    return;
  }
  if (!c->req || c->msg[0]) {
    if (c->status == 401)
      snprintf(c->www_auth, sizeof c->www_auth, "Bearer realm=\"clawplane\"");
    cp__api_finish(c);
    return;
  }
  cache_put(c);
  authorized(c);
}

void cp__api_authenticate(api_ctx_t *c) {
  api_app_t *a = c->app;
  api_session_t *s = cp_map_get(&a->sessions, c->token_hash);
  if (s) {
    if (cp_time_mono() - s->cached_at < a->s.session_cache_s && cp_time_now() < s->expires) {
      memcpy(c->user, s->user, sizeof c->user);
      memcpy(c->role, s->role, sizeof c->role);
      c->session_expires = s->expires;
      authorized(c);
      return;
    }
    free(cp_map_del(&a->sessions, c->token_hash));
  }
  if (cp__api_queue(c, lookup_work, lookup_done) != 0) {
    cp__api_fail(c, 500, "could not schedule the request");
    cp__api_finish(c);
  }
}

int cp__api_store_password(api_worker_t *w, const char *user, const char *hash, cp_pg_error_t *e) {
  const char *p[] = {user, hash};
  return cp_pg_exec(w->db,
                    "INSERT INTO password_credentials (username, hash) VALUES ($1, $2)"
                    " ON CONFLICT (username) DO UPDATE SET hash = $2, updated_at = now()",
                    2, p, NULL, e);
}

int cp__api_audit(api_worker_t *w, const api_ctx_t *c, const char *action, const char *target,
                  const char *outcome, const cJSON *detail, cp_pg_error_t *e) {
  char *d = detail ? cJSON_PrintUnformatted(detail) : NULL;
  const char *p[] = {
      c->user[0] ? c->user : NULL, action,      target, c->remote[0] ? c->remote : NULL,
      outcome ? outcome : "ok",    d ? d : "{}"};
  int rc = cp_pg_exec(w->db,
                      "INSERT INTO audit_log (actor, action, target, client, outcome, detail)"
                      " VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
                      6, p, NULL, e);
  cJSON_free(d);
  return rc;
}

/* --- login ---------------------------------------------------------------------------- */

static cJSON *user_json(const char *user, const char *role) {
  cJSON *u = cJSON_CreateObject();
  if (u && (!cJSON_AddStringToObject(u, "username", user) ||
            !cJSON_AddStringToObject(u, "role", role))) {
    cJSON_Delete(u);
    u = NULL;
  }
  return u;
}

static void login_work(api_ctx_t *c, api_worker_t *w) {
  api_app_t *a = c->app;
  cp_api_login_t in;
  char err[256];
  if (cp_api_parse_login(c->body, &in, err, sizeof err) != 0) {
    cp__api_fail(c, 400, "%s", err);
    return;
  }
  cp_pg_error_t e = {0};
  const char *p1[] = {in.username};
  PGresult *r = NULL;
  int rc = cp_pg_exec(w->db,
                      "SELECT u.role, u.state, c.hash FROM users u"
                      " LEFT JOIN password_credentials c USING (username) WHERE u.username = $1",
                      1, p1, &r, &e);
  if (rc != 0) {
    cp__api_fail_db(c, rc, &e, "log in");
    return;
  }
  int found = PQntuples(r) == 1 && !PQgetisnull(r, 0, 2);
  int ok = found ? cp_password_verify(in.password, in.password_len, PQgetvalue(r, 0, 2)) == 0
                 : cp_password_verify_dummy(in.password, in.password_len, a->s.password_cost) == 0;
  int disabled = found && strcmp(PQgetvalue(r, 0, 1), "active") != 0;
  char role[8] = "";
  if (found)
    snprintf(role, sizeof role, "%s", PQgetvalue(r, 0, 0));
  PQclear(r);
  snprintf(c->s1, sizeof c->s1, "%s", in.username);
  if (!ok || disabled) {
    /* the audit record names the attempted user as the target, never the password */
    (void)cp__api_audit(w, c, "auth.login", in.username, disabled && ok ? "disabled" : "denied",
                        NULL, &e);
    if (ok && disabled)
      cp__api_fail(c, 403, "this account is disabled");
    else
      cp__api_fail(c, 401, "invalid username or password");
    c->flag = 1; /* a failed attempt */
    return;
  }
  char hash[CP_TOKEN_HASH_LEN + 1], ttl[24];
  if (cp_token_new(CP_TOKEN_SESSION, c->token, sizeof c->token) != 0 ||
      cp_token_hash(c->token, hash, sizeof hash) != 0) {
    cp__api_fail(c, 500, "could not create a session token");
    return;
  }
  snprintf(ttl, sizeof ttl, "%ld", a->s.session_ttl_s);
  const char *p2[] = {hash, in.username, ttl, c->remote, c->user_agent};
  snprintf(c->user, sizeof c->user, "%s", in.username);
  PGresult *ins = NULL;
  rc = cp_pg_begin(w->db, &e);
  if (rc == 0)
    rc = cp_pg_exec(w->db,
                    "INSERT INTO sessions (token_hash, username, expires_at, client, user_agent)"
                    " VALUES ($1, $2, now() + make_interval(secs => $3::int), $4, $5)"
                    " RETURNING extract(epoch FROM expires_at)",
                    5, p2, &ins, &e);
  if (rc == 0)
    rc = cp__api_audit(w, c, "auth.login", in.username, "ok", NULL, &e);
  if (rc == 0)
    rc = cp_pg_commit(w->db, &e);
  if (rc != 0) {
    PQclear(ins);
    OPENSSL_cleanse(c->token, sizeof c->token);
    c->token[0] = '\0';
    cp__api_fail_db(c, rc, &e, "create the session");
    return;
  }
  c->when = strtod(PQgetvalue(ins, 0, 0), NULL);
  PQclear(ins);
  memcpy(c->token_hash, hash, sizeof c->token_hash);
  snprintf(c->role, sizeof c->role, "%s", role);
  c->session_expires = c->when;
}

static void login_done(api_ctx_t *c) {
  api_app_t *a = c->app;
  cp_counter_add(a->m_logins,
                 CP_LABELS(c->token[0] ? "success" : (c->status == 503 ? "error" : "failure")), 1);
  if (c->token[0]) {
    char exp[32];
    cp_time_format(c->when, exp, sizeof exp);
    c->out = cJSON_CreateObject();
    cJSON *u = user_json(c->user, c->role);
    if (c->out && u) {
      cJSON_AddStringToObject(c->out, "token", c->token);
      cJSON_AddStringToObject(c->out, "token_type", "Bearer");
      cJSON_AddStringToObject(c->out, "expires_at", exp);
      cJSON_AddItemToObject(c->out, "user", u);
    } else {
      cJSON_Delete(u);
    }
    snprintf(c->set_cookie, sizeof c->set_cookie,
             "%s=%s; Path=/; Max-Age=%ld%s%s; HttpOnly%s; SameSite=Strict", CP_SESSION_COOKIE,
             c->token, a->s.session_ttl_s, a->s.cookie_domain ? "; Domain=" : "",
             a->s.cookie_domain ? a->s.cookie_domain : "", a->s.cookie_secure ? "; Secure" : "");
    cache_put(c);
    c->status = 200;
  }
  cp__api_finish(c);
}

void cp__api_login(api_ctx_t *c) {
  api_app_t *a = c->app;
  const cJSON *u = cJSON_GetObjectItemCaseSensitive(c->body, "username");
  const char *user = cJSON_IsString(u) ? u->valuestring : "";
  long ra = 0;
  if (cp_login_limit_take(&a->login, user, c->remote, cp_time_mono(), &ra) != 0) {
    cp_counter_add(a->m_logins, CP_LABELS("throttled"), 1);
    cp__api_fail(c, 429, "too many login attempts; retry in %ld s", ra);
    snprintf(c->retry_after, sizeof c->retry_after, "%ld", ra);
    cp__api_finish(c);
    return;
  }
  if (cp__api_queue(c, login_work, login_done) != 0) {
    cp__api_fail(c, 500, "could not schedule the request");
    cp__api_finish(c);
  }
}

/* --- logout, me, password ------------------------------------------------------------- */

static void logout_work(api_ctx_t *c, api_worker_t *w) {
  cp_pg_error_t e = {0};
  const char *p[] = {c->token_hash};
  int rc =
      cp_pg_exec(w->db,
                 c->token_is_api ? "UPDATE api_tokens SET revoked_at = now() WHERE token_hash = $1"
                                 : "DELETE FROM sessions WHERE token_hash = $1",
                 1, p, NULL, &e);
  if (rc == 0)
    rc = cp__api_audit(w, c, "auth.logout", c->user, "ok", NULL, &e);
  if (rc != 0) {
    cp__api_fail_db(c, rc, &e, "log out");
    return;
  }
  c->out = cJSON_CreateObject();
  if (c->out)
    cJSON_AddBoolToObject(c->out, "logged_out", 1);
}

static void logout_done(api_ctx_t *c) {
  cp__api_evict(c->app, NULL, c->token_hash);
  if (c->out)
    snprintf(c->set_cookie, sizeof c->set_cookie,
             "%s=; Path=/; Max-Age=0%s%s; HttpOnly%s; SameSite=Strict", CP_SESSION_COOKIE,
             c->app->s.cookie_domain ? "; Domain=" : "",
             c->app->s.cookie_domain ? c->app->s.cookie_domain : "",
             c->app->s.cookie_secure ? "; Secure" : "");
  cp__api_finish(c);
}

void cp__api_logout(api_ctx_t *c) {
  if (cp__api_queue(c, logout_work, logout_done) != 0) {
    cp__api_fail(c, 500, "could not schedule the request");
    cp__api_finish(c);
  }
}

static void me_work(api_ctx_t *c, api_worker_t *w) {
  cp_pg_error_t e = {0};
  const char *p[] = {c->target};
  PGresult *r = NULL;
  int rc = cp_pg_exec(w->db,
                      "SELECT username, role, state,"
                      " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
                      " FROM users WHERE username = $1",
                      1, p, &r, &e);
  if (rc != 0) {
    cp__api_fail_db(c, rc, &e, "read the account");
    return;
  }
  if (PQntuples(r) != 1) {
    PQclear(r);
    cp__api_fail(c, 404, "user not found");
    return;
  }
  char exp[32];
  cp_time_format(c->session_expires, exp, sizeof exp);
  c->out = user_json(PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
  if (c->out) {
    cJSON_AddStringToObject(c->out, "state", PQgetvalue(r, 0, 2));
    cJSON_AddStringToObject(c->out, "created_at", PQgetvalue(r, 0, 3));
    if (!strcmp(c->target, c->user))
      cJSON_AddStringToObject(c->out, "session_expires_at", exp);
  }
  PQclear(r);
}

void cp__api_user_get(api_ctx_t *c) {
  cp__api_run(c, me_work);
}

static void password_work(api_ctx_t *c, api_worker_t *w) {
  cp_api_password_change_t in;
  char err[256];
  if (cp_api_parse_password_change(c->body, &in, err, sizeof err) != 0) {
    cp__api_fail(c, 400, "%s", err);
    return;
  }
  cp_pg_error_t e = {0};
  const char *p1[] = {c->user};
  PGresult *r = NULL;
  int rc =
      cp_pg_exec(w->db, "SELECT hash FROM password_credentials WHERE username = $1", 1, p1, &r, &e);
  if (rc != 0) {
    cp__api_fail_db(c, rc, &e, "change the password");
    return;
  }
  int ok = PQntuples(r) == 1
               ? cp_password_verify(in.current, in.current_len, PQgetvalue(r, 0, 0)) == 0
               : cp_password_verify_dummy(in.current, in.current_len, c->app->s.password_cost) == 0;
  PQclear(r);
  if (!ok) {
    cp__api_fail(c, 403, "current_password is wrong");
    return;
  }
  char hash[CP_PASSWORD_HASH_MAX];
  if (cp_password_hash(in.next, in.next_len, c->app->s.password_cost, hash, sizeof hash) != 0) {
    cp__api_fail(c, 500, "could not hash the password");
    return;
  }
  const char *p3[] = {c->user, c->token_hash};
  rc = cp_pg_begin(w->db, &e);
  if (rc == 0)
    rc = cp__api_store_password(w, c->user, hash, &e);
  /* other sessions of this user end; the one that changed the password stays */
  if (rc == 0)
    rc = cp_pg_exec(w->db, "DELETE FROM sessions WHERE username = $1 AND token_hash <> $2", 2, p3,
                    NULL, &e);
  if (rc == 0)
    rc = cp__api_audit(w, c, "auth.password_change", c->user, "ok", NULL, &e);
  if (rc == 0)
    rc = cp_pg_commit(w->db, &e);
  OPENSSL_cleanse(hash, sizeof hash);
  if (rc != 0) {
    cp__api_fail_db(c, rc, &e, "change the password");
    return;
  }
  c->out = cJSON_CreateObject();
  if (c->out)
    cJSON_AddBoolToObject(c->out, "password_changed", 1);
}

static void password_done(api_ctx_t *c) {
  if (c->out)
    cp__api_evict(c->app, c->user, NULL);
  cp__api_finish(c);
}

void cp__api_password(api_ctx_t *c) {
  if (cp__api_queue(c, password_work, password_done) != 0) {
    cp__api_fail(c, 500, "could not schedule the request");
    cp__api_finish(c);
  }
}
