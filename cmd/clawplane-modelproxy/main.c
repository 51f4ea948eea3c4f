/* clawplane-modelproxy: the OpenAI-compatible credential proxy between user runtimes and
 * the model providers.
 *
 * Runtimes call it as their model provider, with their own credential (the
 * modelproxy-token of their <runtime>-credentials Secret); it authenticates them, applies
 * their user's policy (allowed models, requests per minute, concurrent streams, monthly
 * token and cost budgets), forwards the call to the model's upstream with the platform's
 * key, relays the answer (streams chunk by chunk), and accounts the usage in PostgreSQL.
 *
 * Threads: the main thread runs one libuv loop with the HTTP server (the API plus
 * /healthz, /readyz, /metrics), every upstream transfer (libcurl multi) and the signal
 * handlers; the Secret informer, the usage writer and the activity marker have a thread
 * each (see mp.h). SIGTERM or SIGINT: /readyz turns 503 and new calls are refused with
 * 503; calls in flight get --shutdown-grace seconds to finish, then streams are ended with
 * an error event and the rest refused; then the server closes, queued usage is written
 * (and logged if PostgreSQL is away), and the process exits 0.
 */
#include "mp.h"

#include "core/error.h"
#include "core/parse.h"
#include "core/time.h"
#include "log/log.h"

#include <curl/curl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static void usage(FILE *f) {
  fprintf(
      f,
      "usage: clawplane-modelproxy --config FILE [flags]\n"
      "  --config FILE               upstreams, models, prices, default limits (YAML or JSON)\n"
      "                              [$CLAWPLANE_MODELPROXY_CONFIG]\n"
      "  --http-address H:P          API and /healthz /readyz /metrics [$CLAWPLANE_HTTP_ADDRESS, "
      ":8080]\n"
      "  --kubeconfig PATH           [$KUBECONFIG, in-cluster]\n"
      "  --context NAME              kubeconfig context\n"
      "  --namespace NS              watch runtime Secrets only here [$CLAWPLANE_WATCH_NAMESPACE, "
      "all]\n"
      "  --no-kube                   no Kubernetes: credentials from --tokens-file only, no "
      "activity marks\n"
      "  --tokens-file FILE          static credentials, lines \"token user runtime "
      "[namespace]\"\n"
      "  --token-review-audience AUD also accept pod-bound service-account tokens for AUD\n"
      "                              (checked with TokenReview) [$CLAWPLANE_MODELPROXY_AUDIENCE]\n"
      "  --database-url URL          PostgreSQL for usage and quotas [$DATABASE_URL; none: usage "
      "in memory]\n"
      "  --upstream-timeout S        give up when the upstream sends nothing for S seconds [300]\n"
      "  --connect-timeout S         upstream connection setup [10]\n"
      "  --max-duration S            longest upstream call, 0 = none [3600]\n"
      "  --max-body-bytes N          largest request body [16777216]\n"
      "  --max-host-connections N    upstream connections per host, 0 = no cap [0]\n"
      "  --default-rpm N             requests per minute per user, -1 = none [config]\n"
      "  --default-max-streams N     concurrent streams per user, -1 = none [config]\n"
      "  --default-monthly-tokens N  monthly token budget per user, -1 = none [config]\n"
      "  --default-monthly-cost-usd X  monthly cost budget per user in USD, -1 = none [config]\n"
      "  --activity-interval S       mark a runtime active at most every S seconds, 0 = never "
      "[60]\n"
      "  --quota-refresh S           re-read month totals and user_quotas every S seconds [10]\n"
      "  --usage-flush-interval S    write usage at least every S seconds [1]\n"
      "  --usage-batch N             ... or as soon as N records wait [100]\n"
      "  --shutdown-grace S          let calls finish this long after SIGTERM [20]\n"
      "  --log-level LEVEL           debug, info, warn, error [$CLAWPLANE_LOG_LEVEL, info]\n");
}

typedef struct overrides_s {
  const char *rpm, *streams, *tokens, *cost;
} overrides_t;

static int parse_flags(mp_app_t *a, overrides_t *ov, int argc, char **argv) {
  enum {
    CONFIG = 1,
    HTTP,
    KUBECONFIG,
    CONTEXT,
    NS,
    NOKUBE,
    TOKENS,
    AUDIENCE,
    DB,
    UPTIMEOUT,
    CONNTIMEOUT,
    MAXDUR,
    MAXBODY,
    MAXHOST,
    DRPM,
    DSTREAMS,
    DTOKENS,
    DCOST,
    ACTIVITY,
    QUOTA,
    FLUSH,
    BATCH,
    GRACE,
    LOGLEVEL,
    HELP
  };
  static const struct option opts[] = {{"config", required_argument, 0, CONFIG},
                                       {"http-address", required_argument, 0, HTTP},
                                       {"kubeconfig", required_argument, 0, KUBECONFIG},
                                       {"context", required_argument, 0, CONTEXT},
                                       {"namespace", required_argument, 0, NS},
                                       {"no-kube", no_argument, 0, NOKUBE},
                                       {"tokens-file", required_argument, 0, TOKENS},
                                       {"token-review-audience", required_argument, 0, AUDIENCE},
                                       {"database-url", required_argument, 0, DB},
                                       {"upstream-timeout", required_argument, 0, UPTIMEOUT},
                                       {"connect-timeout", required_argument, 0, CONNTIMEOUT},
                                       {"max-duration", required_argument, 0, MAXDUR},
                                       {"max-body-bytes", required_argument, 0, MAXBODY},
                                       {"max-host-connections", required_argument, 0, MAXHOST},
                                       {"default-rpm", required_argument, 0, DRPM},
                                       {"default-max-streams", required_argument, 0, DSTREAMS},
                                       {"default-monthly-tokens", required_argument, 0, DTOKENS},
                                       {"default-monthly-cost-usd", required_argument, 0, DCOST},
                                       {"activity-interval", required_argument, 0, ACTIVITY},
                                       {"quota-refresh", required_argument, 0, QUOTA},
                                       {"usage-flush-interval", required_argument, 0, FLUSH},
                                       {"usage-batch", required_argument, 0, BATCH},
                                       {"shutdown-grace", required_argument, 0, GRACE},
                                       {"log-level", required_argument, 0, LOGLEVEL},
                                       {"help", no_argument, 0, HELP},
                                       {0, 0, 0, 0}};
  const char *level = cp_env_or("CLAWPLANE_LOG_LEVEL", "info");
  a->config_path = cp_env_or("CLAWPLANE_MODELPROXY_CONFIG", NULL);
  a->http_addr = cp_env_or("CLAWPLANE_HTTP_ADDRESS", ":8080");
  a->kubeconfig = getenv("KUBECONFIG");
  a->watch_ns = cp_env_or("CLAWPLANE_WATCH_NAMESPACE", NULL);
  a->database_url = cp_env_or("DATABASE_URL", NULL);
  a->review_audience = cp_env_or("CLAWPLANE_MODELPROXY_AUDIENCE", NULL);
  a->use_kube = 1;
  a->upstream_timeout = 300;
  a->connect_timeout = 10;
  a->max_duration = 3600;
  a->max_body = 16L << 20;
  a->activity_interval = 60;
  a->quota_refresh = 10;
  a->flush_interval = 1;
  a->usage_batch = 100;
  a->shutdown_grace = 20;
  int c;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    int bad = 0;
    switch (c) {
    case CONFIG:
      a->config_path = optarg;
      break;
    case HTTP:
      a->http_addr = optarg;
      break;
    case KUBECONFIG:
      a->kubeconfig = optarg;
      break;
    case CONTEXT:
      a->context = optarg;
      break;
    case NS:
      a->watch_ns = *optarg ? optarg : NULL;
      break;
    case NOKUBE:
      a->use_kube = 0;
      break;
    case TOKENS:
      a->tokens_file = optarg;
      break;
    case AUDIENCE:
      a->review_audience = *optarg ? optarg : NULL;
      break;
    case DB:
      a->database_url = *optarg ? optarg : NULL;
      break;
    case UPTIMEOUT:
      bad = cp_parse_double(optarg, 1, 86400, &a->upstream_timeout);
      break;
    case CONNTIMEOUT:
      bad = cp_parse_double(optarg, 0.1, 600, &a->connect_timeout);
      break;
    case MAXDUR:
      bad = cp_parse_double(optarg, 0, 7 * 86400, &a->max_duration);
      break;
    case MAXBODY:
      bad = cp_parse_long(optarg, 1024, 1L << 30, &a->max_body);
      break;
    case MAXHOST:
      bad = cp_parse_long(optarg, 0, 100000, &a->max_host_connections);
      break;
    case DRPM:
      ov->rpm = optarg;
      break;
    case DSTREAMS:
      ov->streams = optarg;
      break;
    case DTOKENS:
      ov->tokens = optarg;
      break;
    case DCOST:
      ov->cost = optarg;
      break;
    case ACTIVITY:
      bad = cp_parse_double(optarg, 0, 86400, &a->activity_interval);
      break;
    case QUOTA:
      bad = cp_parse_double(optarg, 0.1, 86400, &a->quota_refresh);
      break;
    case FLUSH:
      bad = cp_parse_double(optarg, 0.01, 3600, &a->flush_interval);
      break;
    case BATCH:
      bad = cp_parse_long(optarg, 1, 100000, &a->usage_batch);
      break;
    case GRACE:
      bad = cp_parse_double(optarg, 0, 3600, &a->shutdown_grace);
      break;
    case LOGLEVEL:
      level = optarg;
      break;
    case 'h':
    case HELP:
      usage(stdout);
      exit(0);
    default:
      usage(stderr);
      return 2;
    }
    if (bad) {
      fprintf(stderr, "clawplane-modelproxy: invalid value \"%s\" for --%s\n", optarg,
              opts[c - 1].name);
      return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "clawplane-modelproxy: unexpected argument \"%s\"\n", argv[optind]);
    return 2;
  }
  cp_log_level_t lv;
  if (cp_log_parse_level(level, &lv) != 0) {
    fprintf(stderr, "clawplane-modelproxy: invalid log level \"%s\"\n", level);
    return 2;
  }
  cp_log_setup(lv, 2);
  if (!a->config_path) {
    fprintf(stderr, "clawplane-modelproxy: --config is required\n");
    return 2;
  }
  return 0;
}

/* Applies --default-* flags over the config file's defaults. */
static int apply_overrides(mp_app_t *a, const overrides_t *ov) {
  cp_mp_limits_t *l = &a->cfg->defaults;
  struct {
    const char *flag, *v;
    int64_t *out;
  } ints[] = {{"default-rpm", ov->rpm, &l->requests_per_minute},
              {"default-max-streams", ov->streams, &l->max_streams},
              {"default-monthly-tokens", ov->tokens, &l->monthly_tokens}};
  for (size_t i = 0; i < 3; i++) {
    long v;
    if (!ints[i].v)
      continue;
    if (cp_parse_long(ints[i].v, -1, 9000000000000000L, &v) != 0) {
      fprintf(stderr, "clawplane-modelproxy: invalid value \"%s\" for --%s\n", ints[i].v,
              ints[i].flag);
      return 2;
    }
    *ints[i].out = v;
  }
  if (ov->cost) {
    double usd;
    if (cp_parse_double(ov->cost, -1, 1e6, &usd) != 0) {
      fprintf(stderr, "clawplane-modelproxy: invalid value \"%s\" for --default-monthly-cost-usd\n",
              ov->cost);
      return 2;
    }
    l->monthly_cost_microusd = usd < 0 ? CP_MP_UNLIMITED : (int64_t)llround(usd * 1e6);
  }
  return 0;
}

static int init_metrics(mp_app_t *a) {
  static const double lat[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                               0.5,   1,      2.5,   5,    10,    30,   60,  120};
  mp_metrics_t *m = &a->m;
  cp_metrics_t *r = a->reg;
  int rc = cp_metrics_counter(r, "clawplane_modelproxy_requests_total",
                              "Model API requests by endpoint, model and HTTP status (499: the "
                              "client went away).",
                              CP_LABELS("endpoint", "model", "code", NULL), &m->requests);
  if (rc == 0)
    rc = cp_metrics_histogram(r, "clawplane_modelproxy_upstream_latency_seconds",
                              "Time from receiving a call to the upstream's response headers.",
                              CP_LABELS("model", NULL), lat, sizeof lat / sizeof lat[0],
                              &m->latency);
  if (rc == 0)
    rc = cp_metrics_histogram(r, "clawplane_modelproxy_request_duration_seconds",
                              "Time from receiving a call to its end (streams included).",
                              CP_LABELS("model", NULL), lat, sizeof lat / sizeof lat[0],
                              &m->duration);
  if (rc == 0)
    rc = cp_metrics_gauge(r, "clawplane_modelproxy_active_streams", "Streamed calls in flight.",
                          NULL, &m->streams);
  if (rc == 0)
    rc = cp_metrics_gauge(r, "clawplane_modelproxy_active_calls", "Calls in flight.", NULL,
                          &m->calls);
  if (rc == 0)
    rc = cp_metrics_counter(r, "clawplane_modelproxy_tokens_total",
                            "Tokens used, by model and kind.", CP_LABELS("model", "kind", NULL),
                            &m->tokens);
  if (rc == 0)
    rc = cp_metrics_counter(r, "clawplane_modelproxy_cost_microusd_total",
                            "Cost of calls in micro-USD, by model.", CP_LABELS("model", NULL),
                            &m->cost);
  if (rc == 0)
    rc = cp_metrics_counter(r, "clawplane_modelproxy_policy_refusals_total",
                            "Calls refused by policy, by reason (model, tokens, cost, streams, "
                            "rate).",
                            CP_LABELS("reason", NULL), &m->refusals);
  if (rc == 0)
    rc = cp_metrics_gauge(r, "clawplane_modelproxy_usage_records_pending",
                          "Usage records waiting to be written to PostgreSQL.", NULL,
                          &m->usage_pending);
  if (rc == 0)
    rc = cp_metrics_counter(r, "clawplane_modelproxy_usage_records_written_total",
                            "Usage records written to PostgreSQL.", NULL, &m->usage_written);
  if (rc == 0)
    rc = cp_metrics_counter(r, "clawplane_modelproxy_usage_write_errors_total",
                            "Failed attempts to write usage records (retried).", NULL,
                            &m->usage_errors);
  if (rc == 0)
    rc = cp_metrics_counter(r, "clawplane_modelproxy_usage_records_dropped_total",
                            "Usage records dropped because the queue was full.", NULL,
                            &m->usage_dropped);
  if (rc == 0)
    rc = cp_metrics_gauge(r, "clawplane_modelproxy_credentials", "Runtime credentials known.", NULL,
                          &m->credentials);
  if (rc == 0)
    rc = cp_metrics_counter(r, "clawplane_modelproxy_activity_marks_total",
                            "lastActivityTime applies, by result.", CP_LABELS("result", NULL),
                            &m->activity);
  if (rc == 0)
    rc = cp_metrics_counter(r, "clawplane_modelproxy_token_reviews_total",
                            "Service-account tokens checked with TokenReview, by result "
                            "(authenticated, refused, error).",
                            CP_LABELS("result", NULL), &m->reviews);
  /* Children with no labels exist from the start, so they show as 0. */
  if (rc == 0)
    rc = cp_gauge_set(m->streams, NULL, 0);
  if (rc == 0)
    rc = cp_gauge_set(m->calls, NULL, 0);
  if (rc == 0)
    rc = cp_gauge_set(m->usage_pending, NULL, 0);
  if (rc == 0)
    rc = cp_gauge_set(m->credentials, NULL, 0);
  /* Every refusal reason from the start, so a rate over them (budget alerts) has a base. */
  static const char *const reasons[] = {"model", "tokens", "cost", "streams", "rate"};
  for (size_t i = 0; rc == 0 && i < sizeof reasons / sizeof *reasons; i++)
    rc = cp_counter_add(m->refusals, CP_LABELS(reasons[i]), 0);
  return rc;
}

/* --- HTTP ------------------------------------------------------------------------------ */

static void on_http(cp_http_request_t *req, void *ud) {
  mp_app_t *a = ud;
  if (strncmp(req->path, "/v1/", 4) == 0) {
    cp__mp_proxy_handle(a, req);
    return;
  }
  if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
    cp_http_json_error(req, 405, "only GET and HEAD are served here");
    return;
  }
  if (strcmp(req->path, "/healthz") == 0 || strcmp(req->path, "/livez") == 0) {
    cp_http_respond(req, 200, "text/plain", "ok\n", 3);
  } else if (strcmp(req->path, "/readyz") == 0) {
    if (a->draining)
      cp_http_respond(req, 503, "text/plain", "shutting down\n", 14);
    else if (!cp__mp_creds_ready(a))
      cp_http_respond(req, 503, "text/plain", "credentials not loaded yet\n", 27);
    else
      cp_http_respond(req, 200, "text/plain", "ok\n", 3);
  } else if (strcmp(req->path, "/metrics") == 0) {
    cp_buf_t out;
    cp_buf_init(&out, 16u << 20);
    if (cp_metrics_render(a->reg, &out) == 0)
      cp_http_respond(req, 200, CP_METRICS_CONTENT_TYPE, out.data ? out.data : "", out.len);
    else
      cp_http_json_error(req, 500, "could not render metrics");
    cp_buf_free(&out);
  } else {
    cp_http_json_error(req, 404,
                       "not found: the API is under /v1; also /healthz, /readyz, /metrics");
  }
}

static int listen_http(mp_app_t *a) {
  char host[256];
  int port;
  if (cp_parse_hostport(a->http_addr, host, sizeof host, &port) != 0) {
    cp_log_error("invalid --http-address, want host:port", "value", a->http_addr, NULL);
    return CP_EINVAL;
  }
  cp_http_server_opts_t so = {.max_body_bytes = (size_t)a->max_body,
                              .max_connections = 8192,
                              .idle_timeout_ms = 120000,
                              .max_pending_output = 1u << 20};
  int rc = cp_http_server_new(&a->loop, &so, on_http, a, &a->http);
  if (rc == 0)
    rc = cp_http_server_listen(a->http, host, port);
  if (rc != 0) {
    cp_log_error("cannot listen", "address", a->http_addr, "error", cp_strerror(rc), NULL);
    return rc;
  }
  char bound[16];
  snprintf(bound, sizeof bound, "%d", cp_http_server_port(a->http));
  cp_log_info("serving the model API under /v1 and /healthz /readyz /metrics", "host", host, "port",
              bound, NULL);
  return 0;
}

/* --- shutdown -------------------------------------------------------------------------- */

static void close_cb(uv_handle_t *h) {
  (void)h;
}

/* Last step: close everything on the loop, so uv_run returns. */
static void on_linger(uv_timer_t *t) {
  mp_app_t *a = t->data;
  cp_http_server_close(a->http, NULL);
  a->http = NULL;
  cp__mp_proxy_close(a);
  uv_close((uv_handle_t *)&a->grace_timer, close_cb);
  uv_close((uv_handle_t *)&a->sigterm, close_cb);
  uv_close((uv_handle_t *)&a->sigint, close_cb);
}

static void finish_shutdown(mp_app_t *a) {
  if (a->closing)
    return;
  a->closing = true;
  cp__mp_proxy_cut_all(a);
  /* Give the last answers (error events of cut streams) a moment to leave before the
   * server closes every connection. */
  uv_timer_start(&a->grace_timer, on_linger, 200, 0);
}

/* Runs every 100 ms while draining: done once no call is in flight or the grace is over. */
static void on_grace(uv_timer_t *t) {
  mp_app_t *a = t->data;
  if (a->ncalls == 0 || cp_time_mono() - a->drain_started >= a->shutdown_grace) {
    if (a->ncalls > 0) {
      char n[24];
      snprintf(n, sizeof n, "%zu", a->ncalls);
      cp_log_warn("shutdown grace over; cutting calls still in flight", "calls", n, NULL);
    }
    finish_shutdown(a);
  }
}

static void on_signal(uv_signal_t *h, int sig) {
  mp_app_t *a = h->data;
  if (a->draining) {
    cp_log_info("second signal: stopping now", NULL);
    finish_shutdown(a);
    return;
  }
  char n[24];
  snprintf(n, sizeof n, "%zu", a->ncalls);
  cp_log_info("shutting down: refusing new calls, letting calls in flight finish", "signal",
              sig == SIGTERM ? "SIGTERM" : "SIGINT", "calls", n, NULL);
  a->draining = true;
  a->drain_started = cp_time_mono();
  uv_timer_start(&a->grace_timer, on_grace, 0, 100);
}

static void raise_fd_limit(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl); /* two descriptors per call: do not run out at 1000s */
  }
}

int main(int argc, char **argv) {
  static mp_app_t app; /* large (queues); static so it is not on the stack */
  mp_app_t *a = &app;
  overrides_t ov = {0};
  int rc = parse_flags(a, &ov, argc, argv);
  if (rc != 0)
    return rc;
  char err[512] = "";
  rc = cp_mp_config_load(a->config_path, &a->cfg, err, sizeof err);
  if (rc != 0) {
    cp_log_error("cannot load the configuration", "path", a->config_path, "error", err, NULL);
    return 1;
  }
  if (apply_overrides(a, &ov) != 0)
    return 2;
  if (a->use_kube) {
    rc = cp_kubeconfig_load_default(a->kubeconfig, a->context, &a->kcfg, err, sizeof err);
    if (rc != 0) {
      cp_log_error("cannot load the Kubernetes configuration (use --no-kube to run without)",
                   "error", err, NULL);
      return 1;
    }
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  signal(SIGPIPE, SIG_IGN);
  raise_fd_limit();
  cp_map_init(&a->users);
  cp_map_init(&a->activity);
  uv_loop_init(&a->loop);
  rc = cp_metrics_new(&a->reg);
  if (rc == 0)
    rc = cp_metrics_process(a->reg);
  if (rc == 0)
    rc = init_metrics(a);
  if (rc == 0)
    rc = cp__mp_proxy_init(a);
  if (rc == 0)
    rc = cp__mp_creds_start(a);
  if (rc == 0)
    rc = cp__mp_db_start(a);
  if (rc == 0)
    rc = cp__mp_activity_start(a);
  if (rc == 0)
    rc = cp__mp_review_start(a);
  if (rc != 0) {
    cp_log_error("cannot start", "error", cp_strerror(rc), NULL);
    return 1;
  }
  uv_signal_init(&a->loop, &a->sigterm);
  uv_signal_init(&a->loop, &a->sigint);
  uv_timer_init(&a->loop, &a->grace_timer);
  a->sigterm.data = a->sigint.data = a->grace_timer.data = a;
  uv_signal_start(&a->sigterm, on_signal, SIGTERM);
  uv_signal_start(&a->sigint, on_signal, SIGINT);
  if (listen_http(a) != 0)
    return 1;
  char nm[24];
  snprintf(nm, sizeof nm, "%zu", a->cfg->nmodels);
  cp_log_info("starting", "config", a->config_path, "models", nm, "kubernetes",
              a->use_kube ? a->kcfg->server : "off", "namespace",
              a->watch_ns ? a->watch_ns : "(all)", "usage",
              a->database_url ? "postgresql" : "memory", NULL);
  uv_run(&a->loop, UV_RUN_DEFAULT);
  /* The loop is idle: every call is over. Write what usage is left, then stop helpers. */
  cp__mp_db_stop(a, 10);
  cp__mp_activity_stop(a);
  cp__mp_review_stop(a);
  cp__mp_creds_stop(a);
  uv_run(&a->loop, UV_RUN_DEFAULT); /* close callbacks of the helpers' handles */
  uv_loop_close(&a->loop);
  cp__mp_users_free(a);
  cp_mp_auth_free(a->auth);
  cp_metrics_free(a->reg);
  cp_mp_config_free(a->cfg);
  cp_kubeconfig_free(a->kcfg);
  curl_global_cleanup();
  cp_log_info("stopped", NULL);
  return 0;
}
