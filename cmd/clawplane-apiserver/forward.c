/* /internal/auth/forward: Traefik's ForwardAuth check, and activity recording.
 *
 * Traefik sends the original request's headers (Cookie, Authorization, Accept, and
 * X-Forwarded-Host/-Uri/-Proto) here before proxying to a runtime. A valid session or
 * token answers 200 with X-Clawplane-User and X-Clawplane-Role, which Traefik copies onto
 * the proxied request (authResponseHeaders); no credentials answer 401, or 302 to the
 * login page when the client is a browser (Accept: text/html), with the original URL in
 * ?next=. The runtime being reached is the user's own unless the forwarded host is
 * <user><--runtime-host-suffix> or the path starts with /u/<user>/: then only that user
 * or an admin passes (403 otherwise).
 *
 * A runtime that exists but is not Ready (starting, stopped, hibernated and being woken)
 * answers 503 with Retry-After instead of 200, so Traefik never forwards to a pod that is
 * not there: a browser gets a small page that says so and reloads itself (the HTTP
 * Refresh header; no script, so the strict CSP holds), an API client a JSON error it can
 * retry on. A user without any runtime passes (other protected routes use this check).
 *
 * Every allowed access records activity on the runtime (status.lastActivityTime by
 * status server-side apply under its own field manager, with force), at most once per
 * user per --activity-interval-seconds, written in the background so the check itself
 * never waits for the Kubernetes API. A Hibernated runtime whose recorded activity is not
 * newer than its hibernation is written at once, whatever the interval, which is what
 * makes the controller wake it.
 */
#include "api.h"

#include "api/body.h"
#include "api/runtime.h"
#include "core/error.h"
#include "core/time.h"
#include "json/json.h"
#include "log/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appends s percent-encoded (unreserved characters kept) to out at *o. */
static void urlenc(char *out, size_t cap, size_t *o, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  for (; s && *s && *o + 4 < cap; s++) {
    unsigned char ch = (unsigned char)*s;
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
        strchr("-._~", ch)) {
      out[(*o)++] = (char)ch;
    } else {
      out[(*o)++] = '%';
      out[(*o)++] = hex[ch >> 4];
      out[(*o)++] = hex[ch & 15];
    }
  }
  out[*o] = '\0';
}

static void denied(api_ctx_t *c) {
  if (c->flag) { /* a browser: send it to the login page */
    c->status = 302;
    snprintf(c->msg, sizeof c->msg, "login required");
  } else {
    c->status = 401;
    c->location[0] = '\0';
    snprintf(c->msg, sizeof c->msg, "authentication required: log in or send a bearer token");
    snprintf(c->www_auth, sizeof c->www_auth, "Bearer realm=\"clawplane\"");
  }
  cJSON_Delete(c->out);
  c->out = NULL;
  cp__api_finish(c);
}

static void activity_work(api_ctx_t *c, api_worker_t *w) {
  cJSON *body = cp_api_activity_body(c->app->s.runtime_ns, c->target, c->when);
  cp_status_t st = {0};
  int rc = body ? cp_kube_apply(w->kc, &API_UR_GVR, c->app->s.runtime_ns, c->target, "status", body,
                                API_ACTIVITY_MANAGER, true, NULL, &st)
                : CP_ENOMEM;
  cJSON_Delete(body);
  if (rc != 0)
    snprintf(c->msg, sizeof c->msg, "%s: %.400s", cp_errname(rc), st.message);
}

static void activity_done(api_ctx_t *c) {
  api_app_t *a = c->app;
  const char *kind = c->flag ? "wake" : "activity";
  cp_counter_add(a->m_wakes, CP_LABELS(kind, c->msg[0] ? "error" : "ok"), 1);
  if (c->msg[0]) {
    /* forget the write so the next access tries again */
    free(cp_map_del(&a->activity, c->target));
    cp_log_warn("could not record runtime activity", "runtime", c->target, "kind", kind, "error",
                c->msg, NULL);
  } else if (c->flag) {
    cp_log_info("waking hibernated runtime", "runtime", c->target, NULL);
  }
  cp__api_ctx_free(c);
}

static void record_activity(api_app_t *a, const char *user) {
  cp_obj_t *o = cp__api_cached_runtime(a, user);
  if (!o)
    return;
  double now = cp_time_now(), mono = cp_time_mono(), at = now;
  int wake = cp_api_wake_needed(o->json, now, &at);
  cp_obj_unref(o);
  double *last = cp_map_get(&a->activity, user);
  double since = last ? mono - *last : 1e18;
  /* a wake just sent: give the informer a moment to show it before sending another */
  int due = wake ? since >= 2.0 : since >= a->s.activity_interval_s;
  if (!due)
    return;
  if (!last) {
    last = malloc(sizeof *last);
    if (!last || cp_map_put(&a->activity, user, last, NULL) != 0) {
      free(last);
      return;
    }
  }
  *last = mono;
  api_ctx_t *j = calloc(1, sizeof *j);
  if (!j)
    return;
  j->app = a;
  j->started = mono;
  snprintf(j->target, sizeof j->target, "%.63s", user);
  j->when = at;
  j->flag = wake;
  if (cp__api_queue(j, activity_work, activity_done) != 0) {
    free(cp_map_del(&a->activity, user));
    cp__api_ctx_free(j);
  }
}

/* The runtime's Ready condition is True. */
static int runtime_ready(const cJSON *ur) {
  const cJSON *cond;
  cJSON_ArrayForEach(cond, cp_json_getv(ur, "status", "conditions", NULL)) {
    const char *type = cp_json_strv(cond, "type", NULL);
    if (type && strcmp(type, "Ready") == 0) {
      const char *st = cp_json_strv(cond, "status", NULL);
      return st && strcmp(st, "True") == 0;
    }
  }
  return 0;
}

static const char starting_page[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    "<title>clawplane: starting your runtime</title></head>\n<body><main>"
    "<h1>Your runtime is starting</h1>"
    "<p>This page reloads by itself every few seconds and shows your runtime as soon as it "
    "is ready. A cold start takes up to a minute.</p></main></body></html>\n";

/* 503 for a runtime that is not Ready: the page above for a browser, JSON otherwise. */
static void starting(api_ctx_t *c, const char *phase) {
  if (!c->flag) {
    cp__api_fail(c, 503, "runtime %s is not ready yet (phase %s): it is being started, retry",
                 c->target, phase && *phase ? phase : "Pending");
    snprintf(c->retry_after, sizeof c->retry_after, "5");
    c->location[0] = '\0';
    c->xh[0] = NULL;
    cp__api_finish(c);
    return;
  }
  static const char *const extra[] = {"Retry-After", "5", "Refresh", "5", NULL};
  cp__api_serve_page(c, 503, "text/html; charset=utf-8",
                     "default-src 'none'; frame-ancestors 'none'", extra, starting_page,
                     sizeof starting_page - 1);
}

static void authorized(api_ctx_t *c) {
  const char *target = c->s1[0] ? c->s1 : c->user;
  if (strcmp(target, c->user) != 0 && strcmp(c->role, "admin") != 0) {
    cp__api_fail(c, 403, "runtime %s belongs to another user", target);
    c->location[0] = '\0';
    cp__api_finish(c);
    return;
  }
  c->location[0] = '\0';
  memcpy(c->target, target, sizeof c->target);
  c->xh[0] = "X-Clawplane-User";
  c->xh[1] = c->user;
  c->xh[2] = "X-Clawplane-Role";
  c->xh[3] = c->role;
  c->out = cJSON_CreateObject();
  if (c->out) {
    cJSON_AddStringToObject(c->out, "user", c->user);
    cJSON_AddStringToObject(c->out, "role", c->role);
  }
  c->status = 200;
  record_activity(c->app, target);
  cp_obj_t *o = cp__api_cached_runtime(c->app, target);
  if (o && !runtime_ready(o->json)) {
    char phase[32];
    const char *ph = cp_json_strv(o->json, "status", "phase", NULL);
    snprintf(phase, sizeof phase, "%s", ph ? ph : "");
    cp_obj_unref(o);
    starting(c, phase);
    return;
  }
  cp_obj_unref(o);
  cp__api_finish(c);
}

/* The runtime the forwarded request is for, from the host or the /u/<user>/ path; "" when
 * neither names one. Returns 0, or CP_EINVAL for a name that is not a username. */
static int forwarded_target(api_ctx_t *c, const char *host, const char *uri) {
  const char *suffix = c->app->s.runtime_host_suffix;
  c->s1[0] = '\0';
  size_t hl = host ? strcspn(host, ":") : 0, sl = suffix ? strlen(suffix) : 0;
  if (sl && hl > sl && !strncmp(host + hl - sl, suffix, sl)) {
    size_t n = hl - sl;
    if (n >= API_NAME_MAX)
      return CP_EINVAL;
    memcpy(c->s1, host, n);
    c->s1[n] = '\0';
  } else if (uri && !strncmp(uri, "/u/", 3)) {
    size_t n = strcspn(uri + 3, "/?#");
    if (n >= API_NAME_MAX)
      return CP_EINVAL;
    memcpy(c->s1, uri + 3, n);
    c->s1[n] = '\0';
  }
  return c->s1[0] && !cp_api_valid_username(c->s1) ? CP_EINVAL : 0;
}

void cp__api_forward_auth(api_ctx_t *c, cp_http_request_t *req) {
  api_app_t *a = c->app;
  const char *accept = cp_http_header(req, "Accept");
  c->flag = accept && strstr(accept, "text/html") != NULL;
  const char *host = cp_http_header(req, "X-Forwarded-Host");
  const char *uri = cp_http_header(req, "X-Forwarded-Uri");
  const char *proto = cp_http_header(req, "X-Forwarded-Proto");
  if (c->flag) {
    const char *login = a->s.login_url;
    size_t o = (size_t)snprintf(c->location, sizeof c->location, "%s", login);
    if (host && o + 8 < sizeof c->location) {
      char next[900];
      snprintf(next, sizeof next, "%s://%s%s", proto ? proto : "https", host, uri ? uri : "/");
      o += (size_t)snprintf(c->location + o, sizeof c->location - o,
                            "%snext=", strchr(login, '?') ? "&" : "?");
      urlenc(c->location, sizeof c->location, &o, next);
    }
  }
  if (forwarded_target(c, host, uri) != 0) {
    cp__api_fail(c, 403, "the forwarded request names no valid runtime");
    c->location[0] = '\0';
    cp__api_finish(c);
    return;
  }
  if (a->shutting_down || !atomic_load(&a->schema_ready)) {
    cp__api_fail(c, 503, "the server is not ready");
    c->location[0] = '\0';
    cp__api_finish(c);
    return;
  }
  if (cp__api_credentials(c, req) != 0) {
    denied(c);
    return;
  }
  c->need = API_AUTH_USER;
  c->then = authorized;
  c->denied = denied;
  cp__api_authenticate(c);
}
