/* Routing, the request context's life, answers and error mapping.
 *
 * Routes are a table of method, path pattern ({user} is the user segment, {id} another
 * parameter), the authentication they need and whether they take a JSON body. A request
 * is matched, its body parsed and validated for shape, its credentials checked (session
 * cache or database), the {user} segment authorized (a user may only name themselves or
 * "me"; an admin anyone, who must exist: 404 otherwise), then the handler runs. Handlers
 * answer at once or queue a job; either way cp__api_finish answers, logs one access line
 * and frees the context. Matching is lib/api/route.h: a known path with a method it does
 * not serve is 405 with Allow. Patterns are the OpenAPI document's path templates, and so
 * are the route labels of the request metrics.
 */
#include "api.h"

#include "api/body.h"
#include "api/route.h"
#include "core/error.h"
#include "core/time.h"
#include "core/utf8.h"
#include "http/negotiate.h"
#include "log/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct route_s {
  cp_api_route_t r; /* method and pattern: first, for cp_api_route_find */
  api_auth_t need;
  int body;
  api_handler_fn fn;
} route_t;

static void health(api_ctx_t *c);
static void ready(api_ctx_t *c);
static void metrics(api_ctx_t *c);
static void openapi(api_ctx_t *c);
static void forward(api_ctx_t *c);

static const route_t routes[] = {
    {{"GET", "/healthz"}, API_AUTH_NONE, 0, health},
    {{"GET", "/livez"}, API_AUTH_NONE, 0, health},
    {{"GET", "/readyz"}, API_AUTH_NONE, 0, ready},
    {{"GET", "/metrics"}, API_AUTH_NONE, 0, metrics},
    {{"GET", "/api/v1/openapi.json"}, API_AUTH_NONE, 0, openapi},
    {{"GET", "/login"}, API_AUTH_NONE, 0, cp__api_login_page},
    {{"GET", "/login.js"}, API_AUTH_NONE, 0, cp__api_login_script},
    {{"GET", "/"}, API_AUTH_NONE, 0, cp__api_dashboard_page},
    {{"GET", "/assets/{id}"}, API_AUTH_NONE, 0, cp__api_dashboard_asset},
    {{"GET", "/api/v1/health"}, API_AUTH_ADMIN, 0, cp__api_health},
    {{"GET", "/api/v1/usage"}, API_AUTH_ADMIN, 0, cp__api_usage_all},
    {{"GET", "/api/v1/invitations"}, API_AUTH_ADMIN, 0, cp__api_invitations_list},
    {{"DELETE", "/api/v1/invitations/{id}"}, API_AUTH_ADMIN, 0, cp__api_invitation_revoke},
    {{"POST", "/api/v1/auth/login"}, API_AUTH_NONE, 1, cp__api_login},
    {{"POST", "/api/v1/auth/logout"}, API_AUTH_USER, 0, cp__api_logout},
    {{"POST", "/api/v1/invitations/accept"}, API_AUTH_NONE, 1, cp__api_invite_accept},
    {{"POST", "/api/v1/invitations"}, API_AUTH_ADMIN, 1, cp__api_invite},
    {{"GET", "/api/v1/users"}, API_AUTH_ADMIN, 0, cp__api_users_list},
    {{"POST", "/api/v1/users"}, API_AUTH_ADMIN, 1, cp__api_users_create},
    {{"GET", "/api/v1/users/{user}"}, API_AUTH_USER, 0, cp__api_user_get},
    {{"DELETE", "/api/v1/users/{user}"}, API_AUTH_ADMIN, 0, cp__api_user_delete},
    {{"DELETE", "/api/v1/users/{user}/sessions"}, API_AUTH_USER, 0, cp__api_sessions_revoke},
    {{"PUT", "/api/v1/users/me/password"}, API_AUTH_USER, 1, cp__api_password},
    {{"POST", "/api/v1/users/{user}/disable"}, API_AUTH_ADMIN, 0, cp__api_user_disable},
    {{"POST", "/api/v1/users/{user}/enable"}, API_AUTH_ADMIN, 0, cp__api_user_enable},
    {{"GET", "/api/v1/users/{user}/quota"}, API_AUTH_USER, 0, cp__api_quota_get},
    {{"PUT", "/api/v1/users/{user}/quota"}, API_AUTH_ADMIN, 1, cp__api_quota_put},
    {{"GET", "/api/v1/users/{user}/usage"}, API_AUTH_USER, 0, cp__api_usage},
    {{"GET", "/api/v1/users/{user}/tokens"}, API_AUTH_USER, 0, cp__api_tokens_list},
    {{"POST", "/api/v1/users/{user}/tokens"}, API_AUTH_USER, 1, cp__api_tokens_create},
    {{"DELETE", "/api/v1/users/{user}/tokens/{id}"}, API_AUTH_USER, 0, cp__api_tokens_revoke},
    {{"GET", "/api/v1/users/{user}/runtime"}, API_AUTH_USER, 0, cp__api_runtime_get},
    {{"PUT", "/api/v1/users/{user}/runtime"}, API_AUTH_USER, 1, cp__api_runtime_put},
    {{"DELETE", "/api/v1/users/{user}/runtime"}, API_AUTH_USER, 0, cp__api_runtime_delete},
    {{"POST", "/api/v1/users/{user}/runtime/start"}, API_AUTH_USER, 0, cp__api_runtime_start},
    {{"POST", "/api/v1/users/{user}/runtime/stop"}, API_AUTH_USER, 0, cp__api_runtime_stop},
    {{"GET", "/api/v1/users/{user}/runtime/events"}, API_AUTH_USER, 0, cp__api_runtime_events},
    {{"GET", "/api/v1/users/{user}/files"}, API_AUTH_USER, 0, cp__api_files},
    {{"GET", "/api/v1/users/{user}/files/{path}"}, API_AUTH_USER, 0, cp__api_files},
    {{"PUT", "/api/v1/users/{user}/files/{path}"}, API_AUTH_USER, 0, cp__api_files},
    {{"POST", "/api/v1/users/{user}/files/{path}"}, API_AUTH_USER, 0, cp__api_files},
    {{"DELETE", "/api/v1/users/{user}/files/{path}"}, API_AUTH_USER, 0, cp__api_files},
    {{"GET", "/api/v1/runtimes"}, API_AUTH_ADMIN, 0, cp__api_runtimes_list},
    {{"GET", "/internal/auth/forward"}, API_AUTH_NONE, 0, forward},
    {{"GET", "/api/v1/audit"}, API_AUTH_ADMIN, 0, cp__api_audit_list},
};

void cp__api_print_routes(FILE *out) {
  for (size_t i = 0; i < sizeof routes / sizeof *routes; i++)
    fprintf(out, "%s %s\n", routes[i].r.method, routes[i].r.pattern);
}

void cp__api_ctx_free(api_ctx_t *c) {
  if (!c)
    return;
  cp__api_files_free(c->files);
  free(c->query);
  free(c->user_agent);
  cJSON_Delete(c->body);
  cJSON_Delete(c->out);
  free(c);
}

void cp__api_fail(api_ctx_t *c, int status, const char *fmt, ...) {
  c->status = status;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->msg, sizeof c->msg, fmt, ap);
  va_end(ap);
  cJSON_Delete(c->out);
  c->out = NULL;
}

void cp__api_fail_db(api_ctx_t *c, int rc, const cp_pg_error_t *e, const char *what) {
  const char *m = e && e->message[0] ? e->message : cp_strerror(rc);
  if (rc == CP_EUNAVAILABLE || rc == CP_ETIMEOUT) {
    cp__api_fail(c, 503, "database unavailable while trying to %s: %s; retry shortly", what, m);
    snprintf(c->retry_after, sizeof c->retry_after, "2");
  } else {
    cp_log_error("database error", "step", what, "sqlstate", e ? e->sqlstate : "", "error", m,
                 "code", cp_errname(rc), NULL);
    cp__api_fail(c, 500, "database error while trying to %s", what);
  }
}

void cp__api_fail_kube(api_ctx_t *c, int rc, const cp_status_t *st, const char *what) {
  const char *m = st && st->message[0] ? st->message : cp_strerror(rc);
  switch (rc) {
  case CP_ECONNECT:
  case CP_ETIMEOUT:
  case CP_EUNAVAILABLE:
  case CP_EIO:
  case CP_ETLS:
  case CP_ETHROTTLED:
    cp__api_fail(c, 503, "Kubernetes API unavailable while trying to %s: %s; retry shortly", what,
                 m);
    snprintf(c->retry_after, sizeof c->retry_after, "2");
    break;
  case CP_EINVALID:
  case CP_EBADREQUEST:
    cp__api_fail(c, 422, "%s refused: %s", what, m);
    break;
  case CP_ENOTFOUND:
    cp__api_fail(c, 404, "%s: not found", what);
    break;
  case CP_ECONFLICT:
    cp__api_fail(c, 409, "%s: conflicting concurrent change, retry: %s", what, m);
    break;
  default:
    cp_log_error("Kubernetes API error", "step", what, "error", cp_errname(rc), "message", m, NULL);
    cp__api_fail(c, 502, "Kubernetes API error while trying to %s: %s", what, m);
  }
}

void cp__api_observe(api_ctx_t *c, int status) {
  api_app_t *a = c->app;
  char code[8];
  snprintf(code, sizeof code, "%d", status);
  const char *route = c->route ? c->route : "other";
  cp_counter_add(a->m_requests, CP_LABELS(route, c->method, code), 1);
  cp_histogram_observe(a->m_duration, CP_LABELS(route), cp_time_mono() - c->started);
  int writes = strcmp(c->method, "GET") != 0 && strcmp(c->method, "HEAD") != 0;
  if (status >= 500 || (writes && c->route && strcmp(c->route, "/internal/auth/forward") != 0)) {
    char ms[24];
    snprintf(ms, sizeof ms, "%.1f", (cp_time_mono() - c->started) * 1000);
    cp_log(status >= 500 ? CP_LOG_WARN : CP_LOG_INFO, "request", "method", c->method, "route",
           route, "target", c->target[0] ? c->target : NULL, "status", code, "ms", ms, "user",
           c->user[0] ? c->user : NULL, "remote", c->remote, "error", status >= 400 ? c->msg : NULL,
           NULL);
  }
}

void cp__api_finish(api_ctx_t *c) {
  cp_http_request_t *req = c->req;
  if (!req) {
    cp__api_ctx_free(c);
    return;
  }
  cp_http_request_set_on_abort(req, NULL, NULL);
  c->req = NULL;
  int status = c->status ? c->status : (c->out ? 200 : 500);
  char *body = NULL;
  if (c->out) {
    body = cJSON_PrintUnformatted(c->out);
  } else {
    cJSON *root = cJSON_CreateObject();
    cJSON *err = root ? cJSON_AddObjectToObject(root, "error") : NULL;
    if (err && cJSON_AddNumberToObject(err, "code", status) &&
        cJSON_AddStringToObject(err, "message", c->msg[0] ? c->msg : "internal error"))
      body = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
  }
  const char *h[24];
  size_t n = 0;
  h[n++] = "Content-Type";
  h[n++] = "application/json";
  h[n++] = "Cache-Control";
  h[n++] = "no-store";
  if (c->set_cookie[0]) {
    h[n++] = "Set-Cookie";
    h[n++] = c->set_cookie;
  }
  if (c->location[0] && status >= 201 && status < 400) {
    h[n++] = "Location";
    h[n++] = c->location;
  }
  if (c->retry_after[0]) {
    h[n++] = "Retry-After";
    h[n++] = c->retry_after;
  }
  if (c->www_auth[0]) {
    h[n++] = "WWW-Authenticate";
    h[n++] = c->www_auth;
  }
  for (size_t i = 0; i + 1 < sizeof c->xh / sizeof *c->xh && c->xh[i]; i += 2) {
    h[n++] = c->xh[i];
    h[n++] = c->xh[i + 1];
  }
  h[n] = NULL;
  if (!body || cp_http_respond_headers(req, status, h, body, strlen(body)) != 0)
    cp_http_abort(req);
  cp__api_observe(c, status);
  cJSON_free(body);
  cp__api_ctx_free(c);
}

static void on_abort(cp_http_request_t *req, void *ud) {
  (void)req;
  api_ctx_t *c = ud;
  c->req = NULL;
  if (!c->queued)
    cp__api_ctx_free(c); /* a queued job frees it when it completes */
}

/* --- simple endpoints ----------------------------------------------------------------- */

static void text(api_ctx_t *c, int status, const char *s) {
  cp_http_request_t *req = c->req;
  cp_http_request_set_on_abort(req, NULL, NULL);
  c->req = NULL;
  cp_http_respond(req, status, "text/plain; charset=utf-8", s, strlen(s));
  cp__api_observe(c, status);
  cp__api_ctx_free(c);
}

static void health(api_ctx_t *c) {
  text(c, 200, "ok\n");
}

static void ping_work(api_ctx_t *c, api_worker_t *w) {
  cp_pg_error_t e = {0};
  int rc = cp_pg_ping(w->db, &e);
  if (rc != 0)
    snprintf(c->msg, sizeof c->msg, "database unreachable: %s\n", e.message);
}

static void ping_done(api_ctx_t *c) {
  if (!c->req) {
    cp__api_ctx_free(c);
    return;
  }
  text(c, c->msg[0] ? 503 : 200, c->msg[0] ? c->msg : "ok\n");
}

static void ready(api_ctx_t *c) {
  api_app_t *a = c->app;
  if (a->shutting_down)
    text(c, 503, "shutting down\n");
  else if (!atomic_load(&a->schema_ready))
    text(c, 503, "database schema not ready\n");
  else if (!cp_informer_synced(a->informer))
    text(c, 503, "UserRuntime informer not synced\n");
  else if (cp__api_queue(c, ping_work, ping_done) != 0)
    text(c, 503, "cannot schedule the database check\n");
}

static void metrics(api_ctx_t *c) {
  cp_buf_t out;
  cp_buf_init(&out, 16u << 20);
  cp_gauge_set(c->app->m_sse, NULL, (double)c->app->nsubs);
  cp_http_request_t *req = c->req;
  cp_http_request_set_on_abort(req, NULL, NULL);
  c->req = NULL;
  if (cp_metrics_render(c->app->metrics, &out) == 0)
    cp_http_respond(req, 200, CP_METRICS_CONTENT_TYPE, out.data ? out.data : "", out.len);
  else
    cp_http_json_error(req, 500, "could not render metrics");
  cp_buf_free(&out);
  cp__api_ctx_free(c);
}

static void openapi(api_ctx_t *c) {
  cp_http_request_t *req = c->req;
  cp_http_request_set_on_abort(req, NULL, NULL);
  c->req = NULL;
  cp_http_respond(req, 200, "application/json", cp__api_openapi, strlen(cp__api_openapi));
  cp__api_observe(c, 200);
  cp__api_ctx_free(c);
}

/* --- routing -------------------------------------------------------------------------- */

_Static_assert(API_NAME_MAX == CP_API_PARAM_MAX, "path parameters are copied into the ctx whole");

static void forward(api_ctx_t *c) {
  cp__api_forward_auth(c, c->req);
}

static void user_exists_work(api_ctx_t *c, api_worker_t *w) {
  cp_pg_error_t e = {0};
  const char *p[] = {c->target};
  PGresult *r = NULL;
  int rc = cp_pg_exec(w->db, "SELECT 1 FROM users WHERE username = $1", 1, p, &r, &e);
  if (rc != 0)
    cp__api_fail_db(c, rc, &e, "look the user up");
  else if (PQntuples(r) == 0)
    cp__api_fail(c, 404, "no such user \"%s\"", c->target);
  PQclear(r);
}

static void user_exists_done(api_ctx_t *c) {
  if (!c->req || c->status) {
    cp__api_finish(c); /* frees c when the client went away */
    return;
  }
  c->handler(c);
}

static void after_auth(api_ctx_t *c) {
  if (c->has_target) {
    if (!strcmp(c->target, "me")) {
      memcpy(c->target, c->user, sizeof c->target);
    } else if (!cp_api_valid_username(c->target)) {
      cp__api_fail(c, 400, "\"%s\" is not a valid username", c->target);
      cp__api_finish(c);
      return;
    } else if (strcmp(c->target, c->user) != 0 && strcmp(c->role, "admin") != 0) {
      cp__api_fail(c, 403, "you may only access your own account and runtime");
      cp__api_finish(c);
      return;
    }
    /* An admin naming another user: that user must exist, or every handler would answer
     * in its own way (a foreign-key 500, an empty list, a UserRuntime made for nobody).
     * Naming oneself needs no look-up: the session proves the account exists. */
    if (strcmp(c->target, c->user) != 0) {
      if (cp__api_queue(c, user_exists_work, user_exists_done) != 0) {
        cp__api_fail(c, 500, "could not schedule the request");
        cp__api_finish(c);
      }
      return;
    }
  }
  c->handler(c);
}

/* The client address without the port ("127.0.0.1", "::1"), or when X-Forwarded-For is
 * trusted its right-most entry that is not a trusted proxy (http/forwarded.h; the entries
 * left of it are the client's to forge). */
static void client_addr(api_ctx_t *c, const cp_http_request_t *req) {
  const api_settings_t *s = &c->app->s;
  if (s->trust_forwarded_for && cp_http_forwarded_for(req, s->trusted_proxies, s->ntrusted_proxies,
                                                      c->remote, sizeof c->remote) == 0)
    return;
  const char *r = req->remote ? req->remote : "";
  const char *start = r, *end;
  if (*r == '[') {
    start = r + 1;
    end = strchr(start, ']');
  } else {
    end = strrchr(r, ':');
  }
  size_t n = end ? (size_t)(end - start) : strlen(start);
  if (n >= sizeof c->remote)
    n = sizeof c->remote - 1;
  memcpy(c->remote, start, n);
  c->remote[n] = '\0';
}

void cp__api_on_request(cp_http_request_t *req, void *ud) {
  api_app_t *a = ud;
  api_ctx_t *c = calloc(1, sizeof *c);
  if (!c) {
    cp_http_json_error(req, 500, "out of memory");
    return;
  }
  c->app = a;
  c->req = req;
  c->started = cp_time_mono();
  snprintf(c->method, sizeof c->method, "%s", req->method);
  client_addr(c, req);
  cp_http_request_set_on_abort(req, on_abort, c);

  cp_api_params_t params;
  int i = cp_api_route_find(routes, sizeof routes / sizeof *routes, sizeof *routes, req->method,
                            req->path, &params, c->allow, sizeof c->allow);
  if (i < 0) {
    if (i == CP_EMETHOD) {
      cp__api_fail(c, 405, "method %s is not allowed on %s", req->method, req->path);
      c->xh[0] = "Allow";
      c->xh[1] = c->allow;
    } else {
      cp__api_fail(c, 404, "no such endpoint: %s (see /api/v1/openapi.json)", req->path);
    }
    cp__api_finish(c);
    return;
  }
  const route_t *rt = &routes[i];
  memcpy(c->target, params.user, sizeof c->target);
  memcpy(c->item, params.item, sizeof c->item);
  c->route = rt->r.pattern;
  c->need = rt->need;
  c->handler = rt->fn;
  c->has_target = strstr(rt->r.pattern, "{user}") != NULL;
  if (rt->need == API_AUTH_NONE && rt->body == 0) {
    rt->fn(c);
    return;
  }
  if (a->shutting_down) {
    cp__api_fail(c, 503, "the server is shutting down");
    cp__api_finish(c);
    return;
  }
  if (!atomic_load(&a->schema_ready)) {
    cp__api_fail(c, 503, "starting: the database is not ready yet");
    snprintf(c->retry_after, sizeof c->retry_after, "2");
    cp__api_finish(c);
    return;
  }
  if (req->query && *req->query && !(c->query = strdup(req->query))) {
    cp__api_fail(c, 500, "out of memory");
    cp__api_finish(c);
    return;
  }
  /* stored with sessions and audit rows: PostgreSQL wants valid UTF-8, so keep at most
   * 256 bytes of it and stop before the first byte that is not (or a cut character) */
  const char *ua = cp_http_header(req, "User-Agent");
  if (ua)
    c->user_agent = strndup(ua, cp_utf8_valid_len(ua, strnlen(ua, 256)));
  if (rt->body) {
    const char *ct = cp_http_header(req, "Content-Type");
    if (!ct || strncasecmp(ct, "application/json", 16) != 0) {
      cp__api_fail(c, 415, "Content-Type must be application/json");
      cp__api_finish(c);
      return;
    }
    char err[256];
    int rc = cp_api_body_parse(req->body, req->body_len, &c->body, err, sizeof err);
    if (rc != 0) {
      cp__api_fail(c, rc == CP_ETOOBIG ? 413 : 400, "%s", err);
      cp__api_finish(c);
      return;
    }
  }
  if (rt->need == API_AUTH_NONE) {
    rt->fn(c);
    return;
  }
  int rc = cp__api_credentials(c, req);
  if (rc != 0) {
    cp__api_fail(c, 401,
                 rc == CP_EINVAL ? "malformed credentials"
                                 : "authentication required: log in or send a bearer token");
    snprintf(c->www_auth, sizeof c->www_auth, "Bearer realm=\"clawplane\"");
    cp__api_finish(c);
    return;
  }
  /* A browser's write riding on the session cookie from another site (the cookie is
   * SameSite=Strict as well; this also covers same-site hosts and old browsers). */
  if (cp_http_cross_site(req)) {
    cp__api_fail(c, 403, "cross-site request refused: send it from this site's own pages");
    cp__api_finish(c);
    return;
  }
  c->then = after_auth;
  cp__api_authenticate(c);
}
