/* clawplane-apiserver internals shared by its files.
 *
 * Threads: the main thread runs one libuv loop with the HTTP server, routing, the session
 * cache, rate limiters, SSE fan-out and timers. Blocking work (PostgreSQL, Kubernetes
 * writes, password hashing) runs on libuv's thread pool; each job borrows a worker (one
 * PostgreSQL connection and one Kubernetes client) from a pool for its duration. A single
 * informer thread keeps the UserRuntime cache and hands every change to the loop.
 *
 * A request is an api_ctx_t from arrival to answer. Everything a worker reads is copied
 * into the ctx on the loop before the job is queued (a worker never touches the
 * cp_http_request_t, which the loop may abort at any time). If the client goes away while
 * a job runs, ctx->req becomes NULL and the job's completion only frees the ctx.
 */
#ifndef CP_APISERVER_API_H
#define CP_APISERVER_API_H

#include "auth/loginlimit.h"
#include "auth/token.h"
#include "core/map.h"
#include "http/forwarded.h"
#include "auth/filestoken.h"
#include "http/server.h"
#include "http/uvcurl.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/informer.h"
#include "metrics/metrics.h"
#include "pg/pg.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <uv.h>

#define API_FIELD_MANAGER "clawplane-apiserver"
#define API_ACTIVITY_MANAGER "clawplane-apiserver-activity"
#define API_NAME_MAX 64
#define API_UR_GVR ((const cp_gvr_t){"clawplane.io", "v1alpha1", "userruntimes", true})
#define API_PROFILE_GVR ((const cp_gvr_t){"clawplane.io", "v1alpha1", "runtimeprofiles", false})

typedef struct api_app_s api_app_t;
typedef struct api_ctx_s api_ctx_t;

/* What a worker thread owns while it runs a job. */
typedef struct api_worker_s {
  cp_pg_t *db;
  cp_kube_client_t *kc;
} api_worker_t;

typedef struct api_settings_s {
  const char *listen;
  const char *database_url;
  const char *kubeconfig, *context;
  const char *runtime_ns;
  const char *login_url;
  const char *runtime_host_suffix; /* forward-auth: <user><suffix> hosts a user's runtime */
  const char *default_profile;     /* profile of new runtimes when none is asked for */
  const char *modelproxy_url;      /* health: the model proxy's base URL (NULL: not probed) */
  char controller_lease_ns[API_NAME_MAX], controller_lease_name[256]; /* health */
  const char *cookie_domain; /* Domain= of the session cookie (NULL: host-only) */
  int cookie_secure;         /* the session cookie's Secure attribute (default on) */
  int workers;
  long session_ttl_s;
  double session_cache_s;
  double activity_interval_s;
  double login_per_user_per_min, login_per_user_total_per_min, login_per_client_per_min;
  long max_sse, max_sse_per_user;
  int password_cost;
  int trust_forwarded_for;
  cp_http_cidr_t trusted_proxies[16]; /* proxies in front of the one that connects to us */
  size_t ntrusted_proxies;
  double shutdown_grace_s;
  const char *files_key_file; /* the key the file services' tokens derive from */
} api_settings_t;

/* A session cache entry (loop thread only). */
typedef struct api_session_s {
  char user[API_NAME_MAX];
  char role[8];
  double expires;   /* wall clock: the session's own expiry */
  double cached_at; /* monotonic */
} api_session_t;

struct api_app_s {
  api_settings_t s;
  uv_loop_t *loop;
  cp_kubeconfig_t *kcfg;
  cp_http_server_t *http;
  cp_informer_t *informer;
  cp_metrics_t *metrics;
  cp_metric_t *m_requests, *m_duration, *m_logins, *m_sse, *m_wakes;

  /* worker pool */
  pthread_mutex_t pool_mu;
  pthread_cond_t pool_cv;
  api_worker_t *workers;
  api_worker_t **idle;
  size_t nidle;

  /* loop-thread state */
  cp_map_t sessions; /* token hash -> api_session_t* */
  cp_map_t activity; /* user -> double* (monotonic time of the last activity write) */
  cp_login_limit_t login;
  atomic_int schema_ready;
  int shutting_down;
  long inflight; /* queued jobs */

  /* informer -> loop */
  uv_async_t events_async;
  pthread_mutex_t events_mu;
  struct api_event_s *events_head, *events_tail;
  cp_map_t subs; /* runtime name -> api_sub_t* list head */
  long nsubs;
  uv_timer_t heartbeat;

  /* files.c: the file API's transfers (NULL without a files key) */
  unsigned char files_key[CP_FILES_KEY_MAX];
  size_t files_key_len;
  cp_uvcurl_t *files_curl;

  uv_signal_t sigterm, sigint;
  uv_timer_t drain_timer, startup_timer, sweep_timer;
  double drain_deadline;
  int exit_code;
};

typedef void (*api_work_fn)(api_ctx_t *c, api_worker_t *w);
typedef void (*api_done_fn)(api_ctx_t *c);
typedef void (*api_handler_fn)(api_ctx_t *c);

typedef enum api_auth_e { API_AUTH_NONE = 0, API_AUTH_USER, API_AUTH_ADMIN } api_auth_t;

struct api_ctx_s {
  uv_work_t work;
  api_app_t *app;
  cp_http_request_t *req; /* NULL once the client went away */
  double started;         /* monotonic */
  const char *route;      /* for metrics and logs */
  int queued;             /* a job is in the thread pool */
  int streaming;          /* an SSE stream is open (events.c owns the ctx) */

  /* copied from the request */
  char method[8];
  char remote[64];
  char *query;
  char *user_agent;
  cJSON *body;
  char target[API_NAME_MAX]; /* the {user} path segment, resolved ("me" -> self) */
  char item[API_NAME_MAX];   /* a second path parameter, if any */

  /* identity */
  char token_hash[CP_TOKEN_HASH_LEN + 1];
  int token_is_api;
  char user[API_NAME_MAX];
  char role[8];
  int authed;
  double session_expires;
  api_auth_t need;
  api_handler_fn then;    /* run once authenticated */
  api_handler_fn handler; /* the route's handler */
  int has_target;         /* the route has a {user} segment to authorize */
  api_handler_fn denied;  /* if set, answers a failed authentication instead of a 401 */

  /* work */
  api_work_fn work_fn;
  api_done_fn done_fn;

  /* result */
  int status;
  cJSON *out;
  char msg[512];
  char set_cookie[512];
  char location[1024];
  char retry_after[16];
  char www_auth[64];
  const char *xh[7]; /* extra response headers: name, value pairs (values live in c) */
  char allow[64];    /* a 405's Allow header */
  int evict_user;    /* after the job: drop cached sessions of ctx->target */
  int evict_self;    /* after the job: drop the cached session of ctx->token_hash */

  /* job inputs and scratch */
  long n1, n2;
  int flag;
  char s1[128], s2[128];
  char token[CP_TOKEN_LEN + 1];
  double when;
  struct api_files_s *files; /* files.c: a proxied file request (freed with the ctx) */
};

/* --- http.c: context lifecycle, answers, routing --- */

/* Dispatches one request (the HTTP server's handler). Loop thread. */
void cp__api_on_request(cp_http_request_t *req, void *ud);

/* Answers with c->status and c->out (or an error body from c->msg when out is NULL), the
 * extra headers set in c, logs the access line, and frees c. With c->req NULL only frees.
 * Loop thread. */
void cp__api_finish(api_ctx_t *c);

/* Sets an error answer: status and message (printf-style). */
void cp__api_fail(api_ctx_t *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sets the answer for a PostgreSQL failure: 503 while it is unreachable, 500 otherwise
 * (logged with the SQLSTATE, never with parameters). what names the step. */
void cp__api_fail_db(api_ctx_t *c, int rc, const cp_pg_error_t *e, const char *what);

/* Sets the answer for a Kubernetes API failure: 503 when unreachable, 422 for validation,
 * 404, 409; others 502. what names the step. */
void cp__api_fail_kube(api_ctx_t *c, int rc, const cp_status_t *st, const char *what);

/* Prints each route of the table as "METHOD PATH" on its own line (HEAD, implied by GET,
 * is not listed), for the test that compares the table with the OpenAPI document. */
void cp__api_print_routes(FILE *out);

/* Frees c (no answer). Loop thread. */
void cp__api_ctx_free(api_ctx_t *c);

/* Counts c's answer with status in the request metrics and logs the access line of a
 * write or a failure, for handlers that answer without cp__api_finish. Loop thread. */
void cp__api_observe(api_ctx_t *c, int status);

/* --- pool.c: jobs on the thread pool --- */

/* Creates the worker pool (connections open lazily). Returns 0 or CP_E*. */
int cp__api_pool_init(api_app_t *a);

/* Closes every worker's connections. */
void cp__api_pool_free(api_app_t *a);

/* Runs work(c, worker) on the thread pool, then done(c) on the loop. Returns 0, or an error
 * after which the caller answers c itself. Loop thread. */
int cp__api_queue(api_ctx_t *c, api_work_fn work, api_done_fn done);

/* Queues work and answers with cp__api_finish when it is done; on a queueing failure
 * answers 500 at once. Loop thread. */
void cp__api_run(api_ctx_t *c, api_work_fn work);

/* --- session.c: authentication, the session cache, auth endpoints --- */

/* Reads the credentials of c's request (bearer token or session cookie) into c->token_hash.
 * Returns 0, or CP_ENOTFOUND when there are none (CP_EINVAL when malformed). Loop. */
int cp__api_credentials(api_ctx_t *c, const cp_http_request_t *req);

/* Authenticates c (cache, else a database lookup job), then runs c->then on the loop;
 * answers 401/403 itself on failure. c->need says whether an admin is required. Loop. */
void cp__api_authenticate(api_ctx_t *c);

/* Looks a token hash up in the database (worker thread). Returns 0 and fills c->user,
 * c->role, c->session_expires; CP_EUNAUTHORIZED when unknown, expired or disabled. */
int cp__api_lookup_session(api_ctx_t *c, api_worker_t *w, cp_pg_error_t *e);

/* Drops cached sessions: of one user (user non-NULL) or one token hash. Loop thread. */
void cp__api_evict(api_app_t *a, const char *user, const char *token_hash);

/* Appends an audit record in its own statement (worker thread). detail may be NULL.
 * Returns 0 or the cp_pg_exec error. */
int cp__api_audit(api_worker_t *w, const api_ctx_t *c, const char *action, const char *target,
                  const char *outcome, const cJSON *detail, cp_pg_error_t *e);

/* Stores (or replaces) user's password hash, inside the caller's transaction. The one place
 * that writes password_credentials. Returns 0 or the cp_pg error, e filled. Worker thread. */
int cp__api_store_password(api_worker_t *w, const char *user, const char *hash, cp_pg_error_t *e);

void cp__api_login(api_ctx_t *c);
void cp__api_logout(api_ctx_t *c);
void cp__api_password(api_ctx_t *c);
void cp__api_user_get(api_ctx_t *c); /* the account named by {user} */

/* --- runtime.c --- */
void cp__api_runtime_get(api_ctx_t *c);
void cp__api_runtime_put(api_ctx_t *c);
void cp__api_runtime_start(api_ctx_t *c);
void cp__api_runtime_stop(api_ctx_t *c);
void cp__api_runtime_delete(api_ctx_t *c);
void cp__api_runtimes_list(api_ctx_t *c);

/* Applies state to target's runtime if it exists (worker thread); used when disabling a
 * user. Returns 0 (also when there is no runtime) or the kube error. */
int cp__api_runtime_set_state(api_ctx_t *c, api_worker_t *w, const char *user, const char *state,
                              cp_status_t *st);

/* The cached UserRuntime of user, as a new reference, or NULL. Any thread. */
cp_obj_t *cp__api_cached_runtime(api_app_t *a, const char *user);

/* --- admin.c --- */
void cp__api_users_list(api_ctx_t *c);
void cp__api_users_create(api_ctx_t *c);
void cp__api_user_disable(api_ctx_t *c);
void cp__api_user_enable(api_ctx_t *c);
void cp__api_quota_get(api_ctx_t *c);
void cp__api_quota_put(api_ctx_t *c);
void cp__api_usage(api_ctx_t *c);
void cp__api_audit_list(api_ctx_t *c);
void cp__api_invite(api_ctx_t *c);
void cp__api_invite_accept(api_ctx_t *c);
void cp__api_invitations_list(api_ctx_t *c);
void cp__api_invitation_revoke(api_ctx_t *c); /* {id} is the invited username */
void cp__api_user_delete(api_ctx_t *c);
void cp__api_usage_all(api_ctx_t *c);
void cp__api_sessions_revoke(api_ctx_t *c); /* every session of {user}: sign out everywhere */

/* --- health.c --- */
void cp__api_health(api_ctx_t *c); /* GET /api/v1/health */

/* --- tokens.c: API tokens and housekeeping --- */
void cp__api_tokens_create(api_ctx_t *c);
void cp__api_tokens_list(api_ctx_t *c);
void cp__api_tokens_revoke(api_ctx_t *c);

/* Timer callback: deletes expired sessions and long-expired invitations. Loop thread. */
void cp__api_sweep(uv_timer_t *t);

/* --- events.c: the informer bridge and SSE streams --- */

/* Sets up the async handle, the heartbeat timer and the subscriber map. Loop thread. */
int cp__api_events_init(api_app_t *a);

/* Informer handlers (informer thread): queue the change for the loop. */
void cp__api_events_on_add(cp_obj_t *obj, void *ud);
void cp__api_events_on_update(cp_obj_t *old, cp_obj_t *obj, void *ud);
void cp__api_events_on_delete(cp_obj_t *obj, void *ud);

/* GET .../runtime/events: opens the stream (authenticated already). */
void cp__api_runtime_events(api_ctx_t *c);

/* Ends every stream with a final "shutdown" event (the start of a graceful shutdown).
 * Loop thread. */
void cp__api_events_close(api_app_t *a);

/* Closes the handles and drops queued changes; the informer must be stopped already (it
 * would wake a closed handle). Loop thread. */
void cp__api_events_free(api_app_t *a);

/* --- files.c: the file API, proxied to the runtime's file service --- */

/* /api/v1/users/{user}/files[/{path}], every method (authenticated and authorized). */
void cp__api_files(api_ctx_t *c);

/* The HTTP server's stream filter: 1 for a PUT under .../files/ (its body is streamed to
 * the file service instead of buffered), else 0. */
int cp__api_files_stream_filter(const cp_http_request_t *req, void *ud);

/* The uvcurl driver's done callback for file transfers. Loop thread. */
void cp__api_files_done(CURL *easy, CURLcode result, void *ud);

/* Frees a proxied request's state (cp__api_ctx_free calls it). Accepts NULL. */
void cp__api_files_free(struct api_files_s *f);

/* --- forward.c --- */
void cp__api_forward_auth(api_ctx_t *c, cp_http_request_t *req);

/* --- loginpage.c: the page ForwardAuth sends browsers to --- */

/* Builds the page once (host_suffix may be NULL). Returns 0 or CP_ENOMEM. */
int cp__api_login_page_init(const char *host_suffix);

/* Answers a page with status, Content-Type, the given Content-Security-Policy, the
 * hardening headers every page of ours carries (no framing, no sniffing, no referrer,
 * no-store unless extra sets its own Cache-Control), then extra (name, value pairs,
 * NULL-terminated; may be NULL), and frees c.
 * Loop thread. */
void cp__api_serve_page(api_ctx_t *c, int status, const char *type, const char *csp,
                        const char *const *extra, const char *body, size_t len);
void cp__api_login_page_free(void);
void cp__api_login_page(api_ctx_t *c);   /* GET /login */
void cp__api_login_script(api_ctx_t *c); /* GET /login.js */

/* --- dashboard.c: the web dashboard's page and assets --- */
void cp__api_dashboard_page(api_ctx_t *c);  /* GET / */
void cp__api_dashboard_asset(api_ctx_t *c); /* GET /assets/{id} */

/* --- schema.c --- */

/* Applies the apiserver's migrations and bootstraps the first admin from the environment
 * when no admin exists. Worker thread. Returns 0 or CP_E* with err set. */
int cp__api_schema_setup(api_app_t *a, api_worker_t *w, char *err, size_t errlen);

/* --- openapi.c: generated at build time from api/openapi.json (cmd/CMakeLists.txt) --- */

/* The OpenAPI document, byte for byte as api/openapi.json, NUL-terminated. */
extern const char cp__api_openapi[];

#endif
