/* clawplane-modelproxy's internal contract between its files.
 *
 * One libuv loop (main.c) owns the HTTP front (lib/http), the upstream transfers
 * (lib/http/uvcurl: libcurl multi), the per-user policy state (users.c) and every call
 * (proxy.c). Three kinds of helper threads never touch that state directly: the Secret
 * informer (credentials.c) writes only the thread-safe credential table; the usage thread
 * (usage_db.c) takes records through a locked queue and hands back month totals and quota
 * overrides as a snapshot through a uv_async; the activity thread (activity.c) takes
 * runtime names through a locked queue. Everything prefixed cp__mp_ is shared between
 * these files only.
 */
#ifndef CP_CMD_MODELPROXY_MP_H
#define CP_CMD_MODELPROXY_MP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "core/map.h"
#include "http/server.h"
#include "http/uvcurl.h"
#include "kube/config.h"
#include "kube/informer.h"
#include "metrics/metrics.h"
#include "modelproxy/auth.h"
#include "modelproxy/config.h"
#include "modelproxy/policy.h"
#include "pg/pg.h"

typedef struct mp_call_s mp_call_t;

/* What the loop knows of one user. Lives until exit (users are few). */
typedef struct mp_user_s {
  cp_mp_user_state_t st;          /* policy state; used_* = base + pending */
  int64_t base_tokens, base_cost; /* month totals from PostgreSQL's last snapshot */
  int64_t pend_tokens, pend_cost; /* this replica's usage not yet in a snapshot */
  cp_mp_override_t ov;            /* user_quotas row */
  char **ov_models;               /* storage of ov.v.allowed_models */
  size_t nov_models;
  char name[64];
} mp_user_t;

/* One finished call's usage, as written to usage_records. */
typedef struct mp_record_s {
  uint64_t seq; /* loop-assigned, increasing */
  double at;    /* seconds since the epoch */
  int64_t prompt_tokens, completion_tokens, cost_microusd;
  char request_id[40];
  char user[64];
  char runtime[254];
  char model[256];
} mp_record_t;

/* Month totals and overrides read from PostgreSQL, handed to the loop. */
typedef struct mp_snap_user_s {
  char user[64];
  int64_t tokens, cost;
  int has_usage;
  cp_mp_override_t ov;
  char **models; /* owned */
  size_t nmodels;
} mp_snap_user_t;

typedef struct mp_snapshot_s {
  mp_snap_user_t *users;
  size_t n;
  uint64_t flushed_seq; /* every record with seq <= this is counted in the totals */
} mp_snapshot_t;

typedef struct mp_metrics_s {
  cp_metric_t *requests;      /* clawplane_modelproxy_requests_total{code,model,endpoint} */
  cp_metric_t *latency;       /* clawplane_modelproxy_upstream_latency_seconds{model} */
  cp_metric_t *duration;      /* clawplane_modelproxy_request_duration_seconds{model} */
  cp_metric_t *streams;       /* clawplane_modelproxy_active_streams */
  cp_metric_t *calls;         /* clawplane_modelproxy_active_calls */
  cp_metric_t *tokens;        /* clawplane_modelproxy_tokens_total{model,kind} */
  cp_metric_t *cost;          /* clawplane_modelproxy_cost_microusd_total{model} */
  cp_metric_t *refusals;      /* clawplane_modelproxy_policy_refusals_total{reason} */
  cp_metric_t *usage_pending; /* clawplane_modelproxy_usage_records_pending */
  cp_metric_t *usage_written; /* clawplane_modelproxy_usage_records_written_total */
  cp_metric_t *usage_errors;  /* clawplane_modelproxy_usage_write_errors_total */
  cp_metric_t *usage_dropped; /* clawplane_modelproxy_usage_records_dropped_total */
  cp_metric_t *credentials;   /* clawplane_modelproxy_credentials */
  cp_metric_t *activity;      /* clawplane_modelproxy_activity_marks_total{result} */
  cp_metric_t *reviews;       /* clawplane_modelproxy_token_reviews_total{result} */
} mp_metrics_t;

typedef struct mp_usage_db_s mp_usage_db_t;
typedef struct mp_activity_s mp_activity_t;
typedef struct mp_reviewer_s mp_reviewer_t;

typedef struct mp_app_s {
  /* settings */
  const char *config_path, *http_addr, *kubeconfig, *context, *watch_ns, *database_url;
  const char *tokens_file;
  const char *review_audience; /* accept pod-bound service-account tokens for it */
  int use_kube;
  double upstream_timeout, connect_timeout, max_duration, shutdown_grace;
  double activity_interval, quota_refresh, flush_interval;
  long usage_batch, max_body, max_host_connections;
  /* state */
  cp_mp_config_t *cfg;
  cp_kubeconfig_t *kcfg;
  cp_metrics_t *reg;
  mp_metrics_t m;
  cp_mp_auth_t *auth;
  cp_informer_t *secrets;
  atomic_bool secrets_synced;
  uv_loop_t loop;
  cp_http_server_t *http;
  cp_uvcurl_t *curl;
  cp_map_t users;    /* name -> mp_user_t* */
  cp_map_t activity; /* namespace/runtime -> heap double (last mark, monotonic) */
  mp_call_t *calls;  /* every call in flight */
  size_t ncalls, nstreams;
  mp_call_t *paused;   /* calls waiting for their client to read */
  void *easy_pool[64]; /* idle CURL easy handles for reuse */
  size_t npool;
  uv_timer_t drain_timer;
  uv_timer_t sweep_timer;
  uv_timer_t grace_timer;
  uv_signal_t sigterm, sigint;
  bool draining, closing;
  double drain_started; /* monotonic time of SIGTERM */
  uint64_t seq;
  /* usage not yet in a snapshot, oldest first (only with a database) */
  struct mp_pend_s {
    uint64_t seq;
    mp_user_t *u;
    int64_t tokens, cost;
  } * pend;
  size_t pend_head, pend_len, pend_cap;
  mp_usage_db_t *db;
  mp_activity_t *act;
  mp_reviewer_t *reviewer;
  int exit_code;
} mp_app_t;

/* --- proxy.c: the /v1 API ----------------------------------------------------------- */

/* Sets up the upstream driver and the drain timer. Returns 0 or a CP_E* code. */
int cp__mp_proxy_init(mp_app_t *a);

/* Serves one /v1 request (authenticated here). */
void cp__mp_proxy_handle(mp_app_t *a, cp_http_request_t *req);

/* Serves a /v1 request whose caller is already authenticated as id (after a TokenReview). */
void cp__mp_proxy_serve(mp_app_t *a, cp_http_request_t *req, const cp_mp_identity_t *id);

/* Refuses a request whose credential could not be accepted: 401 invalid_api_key, or 503
 * when it could not be checked (status 503). */
void cp__mp_proxy_refuse_auth(mp_app_t *a, cp_http_request_t *req, int status);

/* Ends every call still in flight: streams get an error event, others a 503. */
void cp__mp_proxy_cut_all(mp_app_t *a);

/* Closes the upstream driver (after cut_all) and the drain timer. */
void cp__mp_proxy_close(mp_app_t *a);

/* --- users.c: per-user state and usage accounting ----------------------------------- */

/* The user's state, created on first use. NULL only on ENOMEM. */
mp_user_t *cp__mp_user_get(mp_app_t *a, const char *name);

/* The user's effective limits (defaults merged with the user_quotas override). */
void cp__mp_user_limits(const mp_app_t *a, const mp_user_t *u, cp_mp_limits_t *out);

/* Charges a finished call to its user and queues its usage record. */
void cp__mp_user_charge(mp_app_t *a, mp_user_t *u, mp_record_t *rec);

/* Applies a snapshot from the usage thread (takes ownership of it). */
void cp__mp_users_apply(mp_app_t *a, mp_snapshot_t *snap);

/* Frees a snapshot. Accepts NULL. */
void cp__mp_snapshot_free(mp_snapshot_t *s);

/* Frees every user. */
void cp__mp_users_free(mp_app_t *a);

/* --- usage_db.c: usage_records and user_quotas in PostgreSQL ------------------------ */

/* Starts the usage thread (migrations, batched writes, snapshots). Returns 0 or CP_E*. */
int cp__mp_db_start(mp_app_t *a);

/* Queues a record for writing (copied). Loop thread. */
void cp__mp_db_enqueue(mp_app_t *a, const mp_record_t *rec);

/* Writes what is queued (waiting up to timeout_s for PostgreSQL), stops the thread and
 * frees it; records that could not be written are logged. Loop thread. */
void cp__mp_db_stop(mp_app_t *a, double timeout_s);

/* --- tokenreview.c: service-account tokens checked with TokenReview --------------------- */

/* Starts the review thread when --token-review-audience is set. Returns 0 or CP_E*. */
int cp__mp_review_start(mp_app_t *a);

/* Authenticates a token that is not a Secret token: 0 and *id (a cached review), 1 when a
 * review was started (the request is continued later with cp__mp_proxy_serve or refused
 * with cp__mp_proxy_refuse_auth), CP_EUNAUTHORIZED, or CP_EUNAVAILABLE (too many reviews
 * in flight). Loop thread. */
int cp__mp_review_auth(mp_app_t *a, cp_http_request_t *req, const char *tok, size_t len,
                       cp_mp_identity_t *id);

/* Stops the review thread and frees it (after the server closed). Loop thread. */
void cp__mp_review_stop(mp_app_t *a);

/* --- migrations.c: the schema, component "modelproxy" ---------------------------------- */

extern const cp_pg_migration_t cp__mp_migrations[];
extern const size_t cp__mp_nmigrations;

/* --- activity.c: status.lastActivityTime ------------------------------------------- */

/* Starts the activity thread. Returns 0 or CP_E*. */
int cp__mp_activity_start(mp_app_t *a);

/* Notes a call by namespace/runtime; the UserRuntime's status.lastActivityTime is
 * applied at most once per activity_interval per runtime. Loop thread. */
void cp__mp_activity_mark(mp_app_t *a, const char *ns, const char *runtime);

/* Applies what is queued, stops the thread and frees it. Loop thread. */
void cp__mp_activity_stop(mp_app_t *a);

/* --- credentials.c: runtime tokens from Secrets ------------------------------------- */

/* Starts the Secret informer (with a kube config) and loads --tokens-file. Returns 0 or
 * CP_E*. */
int cp__mp_creds_start(mp_app_t *a);

/* 1 once the credentials are loaded (the informer's first list done). */
int cp__mp_creds_ready(mp_app_t *a);

/* Stops the informer. */
void cp__mp_creds_stop(mp_app_t *a);

#endif
