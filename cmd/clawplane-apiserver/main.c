/* clawplane-apiserver: the thin control plane between people and the operator.
 *
 * Users, sessions, invitations, quotas and the audit log live in PostgreSQL; desired
 * runtime state is written into UserRuntime objects with server-side apply; status is
 * read from an informer cache and streamed as Server-Sent Events; Traefik asks
 * /internal/auth/forward before proxying to a runtime. See api.h for the threads.
 *
 * Start-up: the HTTP server listens at once (/healthz answers, /readyz says why it is not
 * ready), the informer starts, and a job applies the migrations and bootstraps the first
 * admin, retrying every two seconds until PostgreSQL answers. SIGTERM/SIGINT: /readyz
 * turns 503, new requests are refused, every event stream gets a final "shutdown" event
 * and ends, requests in flight finish (up to --shutdown-grace-seconds), then the listener,
 * the informer and the connections close and the process exits 0.
 */
#include "api.h"

#include "api/body.h"
#include "core/error.h"
#include "core/parse.h"
#include "core/time.h"
#include "log/log.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
  fprintf(
      f,
      "usage: clawplane-apiserver [flags]\n"
      "  --listen H:P                  API address [$CLAWPLANE_LISTEN, :8080]\n"
      "  --database-url URL            PostgreSQL URL [$DATABASE_URL]\n"
      "  --kubeconfig PATH             kubeconfig file(s) [$KUBECONFIG, in-cluster]\n"
      "  --context NAME                kubeconfig context [current-context]\n"
      "  --runtime-namespace NS        where UserRuntimes live\n"
      "                                [$CLAWPLANE_RUNTIME_NAMESPACE, clawplane-runtimes]\n"
      "  --workers N                   database/Kubernetes worker threads [$CLAWPLANE_WORKERS, 8]\n"
      "  --session-ttl-seconds S       session lifetime [86400]\n"
      "  --session-cache-seconds S     how long a checked session is trusted without asking\n"
      "                                the database again (0: never) [5]\n"
      "  --activity-interval-seconds S at most one activity write per user per S [60]\n"
      "  --login-attempts-per-user N   per minute, per username and client address [5]\n"
      "  --login-attempts-per-user-total N  per minute, per username from all addresses\n"
      "                                (a ceiling, much higher: nobody can lock a user out) [60]\n"
      "  --login-attempts-per-client N per minute, per client address [30]\n"
      "  --max-event-streams N         open SSE streams in all [1000]\n"
      "  --max-event-streams-per-user N  [8]\n"
      "  --login-url URL               where forward-auth sends browsers [/login]\n"
      "  --runtime-host-suffix SUFFIX  forward-auth: <user>SUFFIX hosts a user's runtime\n"
      "  --cookie-domain DOMAIN   Domain of the session cookie, so a login on this host\n"
      "                           also reaches the runtime hosts (e.g. example.com when the\n"
      "                           API is clawplane.example.com and runtimes\n"
      "                           <user>.runtimes.example.com) [host-only]\n"
      "  --cookie-secure BOOL     Secure attribute of the session cookie; false only for\n"
      "                           plain-HTTP development setups [true]\n"
      "  --default-profile NAME        RuntimeProfile of new runtimes that name none\n"
      "                                [$CLAWPLANE_DEFAULT_PROFILE, the CRD's default]\n"
      "  --trust-forwarded-for BOOL    take the client address from X-Forwarded-For: its\n"
      "                                right-most entry that is not a trusted proxy [false]\n"
      "  --trusted-proxies LIST        addresses or CIDRs of further proxies in front of\n"
      "                                the one that connects to us (skipped) [none]\n"
      "  --controller-lease NS/NAME    the controller's leader-election Lease, for\n"
      "                                /api/v1/health [clawplane-system/clawplane-controller]\n"
      "  --modelproxy-url URL          the model proxy's base URL, for /api/v1/health [none]\n"
      "  --password-cost LN            scrypt cost 2^LN for new hashes, 10..20 [15]\n"
      "  --shutdown-grace-seconds S    wait for requests in flight at shutdown [10]\n"
      "  --files-key-file PATH         key (>= 32 bytes, shared with the controller) the\n"
      "                                runtimes' file service tokens derive from\n"
      "                                [$CLAWPLANE_FILES_KEY_FILE; none: the file API answers "
      "501]\n"
      "  --log-level LEVEL             debug, info, warn, error [$CLAWPLANE_LOG_LEVEL, info]\n"
      "  --print-openapi               print the OpenAPI document and exit\n"
      "  --print-routes                print the served operations (METHOD PATH) and exit\n"
      "First admin (created only while there is none): $CLAWPLANE_BOOTSTRAP_ADMIN with\n"
      "$CLAWPLANE_BOOTSTRAP_PASSWORD or $CLAWPLANE_BOOTSTRAP_PASSWORD_FILE.\n");
}

/* Returns 0, 1 (printed the document: exit 0) or 2 (bad flag, message printed). */
static int parse_flags(api_settings_t *s, int argc, char **argv) {
  enum {
    LISTEN = 1,
    DBURL,
    KUBECONFIG,
    CONTEXT,
    RTNS,
    WORKERS,
    SESSTTL,
    SESSCACHE,
    ACTIVITY,
    LOGINUSER,
    LOGINUSERTOTAL,
    LOGINCLIENT,
    MAXSSE,
    MAXSSEUSER,
    LOGINURL,
    HOSTSUFFIX,
    COOKIEDOMAIN,
    COOKIESECURE,
    DEFPROFILE,
    CTLLEASE,
    MPURL,
    TRUSTXFF,
    TRUSTEDPROXIES,
    PWCOST,
    GRACE,
    LOGLEVEL,
    OPENAPI,
    ROUTES,
    HELP,
    FILESKEY
  };
  static const struct option opts[] = {
      {"listen", required_argument, 0, LISTEN},
      {"database-url", required_argument, 0, DBURL},
      {"kubeconfig", required_argument, 0, KUBECONFIG},
      {"context", required_argument, 0, CONTEXT},
      {"runtime-namespace", required_argument, 0, RTNS},
      {"workers", required_argument, 0, WORKERS},
      {"session-ttl-seconds", required_argument, 0, SESSTTL},
      {"session-cache-seconds", required_argument, 0, SESSCACHE},
      {"activity-interval-seconds", required_argument, 0, ACTIVITY},
      {"login-attempts-per-user", required_argument, 0, LOGINUSER},
      {"login-attempts-per-user-total", required_argument, 0, LOGINUSERTOTAL},
      {"login-attempts-per-client", required_argument, 0, LOGINCLIENT},
      {"max-event-streams", required_argument, 0, MAXSSE},
      {"max-event-streams-per-user", required_argument, 0, MAXSSEUSER},
      {"login-url", required_argument, 0, LOGINURL},
      {"runtime-host-suffix", required_argument, 0, HOSTSUFFIX},
      {"cookie-domain", required_argument, 0, COOKIEDOMAIN},
      {"cookie-secure", required_argument, 0, COOKIESECURE},
      {"default-profile", required_argument, 0, DEFPROFILE},
      {"controller-lease", required_argument, 0, CTLLEASE},
      {"modelproxy-url", required_argument, 0, MPURL},
      {"trust-forwarded-for", required_argument, 0, TRUSTXFF},
      {"trusted-proxies", required_argument, 0, TRUSTEDPROXIES},
      {"password-cost", required_argument, 0, PWCOST},
      {"shutdown-grace-seconds", required_argument, 0, GRACE},
      {"log-level", required_argument, 0, LOGLEVEL},
      {"print-openapi", no_argument, 0, OPENAPI},
      {"print-routes", no_argument, 0, ROUTES},
      {"help", no_argument, 0, HELP},
      {"files-key-file", required_argument, 0, FILESKEY},
      {0, 0, 0, 0}};
  const char *level = cp_env_or("CLAWPLANE_LOG_LEVEL", "info");
  const char *workers = cp_env_or("CLAWPLANE_WORKERS", "8");
  s->files_key_file = cp_env_or("CLAWPLANE_FILES_KEY_FILE", NULL);
  long n;
  s->listen = cp_env_or("CLAWPLANE_LISTEN", ":8080");
  s->database_url = cp_env_or("DATABASE_URL", NULL);
  s->kubeconfig = getenv("KUBECONFIG");
  s->runtime_ns = cp_env_or("CLAWPLANE_RUNTIME_NAMESPACE", "clawplane-runtimes");
  s->default_profile = cp_env_or("CLAWPLANE_DEFAULT_PROFILE", NULL);
  s->login_url = "/login";
  snprintf(s->controller_lease_ns, sizeof s->controller_lease_ns, "clawplane-system");
  snprintf(s->controller_lease_name, sizeof s->controller_lease_name, "clawplane-controller");
  s->session_ttl_s = 86400;
  s->cookie_secure = 1;
  s->session_cache_s = 5;
  s->activity_interval_s = 60;
  s->login_per_user_per_min = 5;
  s->login_per_user_total_per_min = 60;
  s->login_per_client_per_min = 30;
  s->max_sse = 1000;
  s->max_sse_per_user = 8;
  s->password_cost = 15;
  s->shutdown_grace_s = 10;
  int c;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    int bad = 0;
    switch (c) {
    case LISTEN:
      s->listen = optarg;
      break;
    case DBURL:
      s->database_url = optarg;
      break;
    case KUBECONFIG:
      s->kubeconfig = optarg;
      break;
    case CONTEXT:
      s->context = optarg;
      break;
    case RTNS:
      s->runtime_ns = optarg;
      break;
    case WORKERS:
      workers = optarg;
      break;
    case SESSTTL:
      bad = cp_parse_long(optarg, 60, 86400L * 366, &s->session_ttl_s);
      break;
    case SESSCACHE:
      bad = cp_parse_double(optarg, 0, 3600, &s->session_cache_s);
      break;
    case ACTIVITY:
      bad = cp_parse_double(optarg, 0, 86400, &s->activity_interval_s);
      break;
    case LOGINUSER:
      bad = cp_parse_double(optarg, 1, 1e6, &s->login_per_user_per_min);
      break;
    case LOGINUSERTOTAL:
      bad = cp_parse_double(optarg, 1, 1e6, &s->login_per_user_total_per_min);
      break;
    case LOGINCLIENT:
      bad = cp_parse_double(optarg, 1, 1e6, &s->login_per_client_per_min);
      break;
    case MAXSSE:
      bad = cp_parse_long(optarg, 0, 1000000, &s->max_sse);
      break;
    case MAXSSEUSER:
      bad = cp_parse_long(optarg, 1, 100000, &s->max_sse_per_user);
      break;
    case LOGINURL:
      s->login_url = optarg;
      bad = strpbrk(optarg, "\r\n") != NULL || !*optarg;
      break;
    case HOSTSUFFIX:
      s->runtime_host_suffix = *optarg ? optarg : NULL;
      break;
    case COOKIEDOMAIN:
      s->cookie_domain = *optarg ? optarg : NULL;
      /* a hostname: letters, digits, '-' and '.', so nothing can end the attribute */
      bad = s->cookie_domain &&
            (strlen(optarg) > 253 ||
             strspn(optarg, "abcdefghijklmnopqrstuvwxyz0123456789-.") != strlen(optarg));
      break;
    case COOKIESECURE:
      bad = cp_parse_bool(optarg, &s->cookie_secure);
      break;
    case CTLLEASE: {
      const char *slash = strchr(optarg, '/');
      size_t nl = slash ? (size_t)(slash - optarg) : 0;
      bad = !slash || nl == 0 || nl >= sizeof s->controller_lease_ns || !slash[1] ||
            strlen(slash + 1) >= sizeof s->controller_lease_name;
      if (!bad) {
        snprintf(s->controller_lease_ns, sizeof s->controller_lease_ns, "%.*s", (int)nl, optarg);
        snprintf(s->controller_lease_name, sizeof s->controller_lease_name, "%s", slash + 1);
      }
      break;
    }
    case MPURL:
      s->modelproxy_url = *optarg ? optarg : NULL;
      bad = s->modelproxy_url && strncmp(optarg, "http://", 7) != 0 &&
            strncmp(optarg, "https://", 8) != 0;
      break;
    case DEFPROFILE:
      s->default_profile = *optarg ? optarg : NULL;
      bad = s->default_profile && !cp_api_valid_profile(optarg);
      break;
    case TRUSTXFF:
      bad = cp_parse_bool(optarg, &s->trust_forwarded_for);
      break;
    case TRUSTEDPROXIES:
      bad = cp_http_cidr_parse_list(optarg, s->trusted_proxies,
                                    sizeof s->trusted_proxies / sizeof s->trusted_proxies[0],
                                    &s->ntrusted_proxies) != 0;
      break;
    case PWCOST:
      bad = cp_parse_long(optarg, 10, 20, &n);
      s->password_cost = (int)n;
      break;
    case GRACE:
      bad = cp_parse_double(optarg, 0, 3600, &s->shutdown_grace_s);
      break;
    case LOGLEVEL:
      level = optarg;
      break;
    case FILESKEY:
      s->files_key_file = *optarg ? optarg : NULL;
      break;
    case OPENAPI:
      fputs(cp__api_openapi, stdout);
      return 1;
    case ROUTES:
      cp__api_print_routes(stdout);
      return 1;
    case 'h':
    case HELP:
      usage(stdout);
      return 1;
    default:
      usage(stderr);
      return 2;
    }
    if (bad) {
      fprintf(stderr, "clawplane-apiserver: invalid value \"%s\" for --%s\n", optarg,
              opts[c - 1].name);
      return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "clawplane-apiserver: unexpected argument \"%s\"\n", argv[optind]);
    return 2;
  }
  cp_log_level_t lv;
  if (cp_log_parse_level(level, &lv) != 0) {
    fprintf(stderr, "clawplane-apiserver: invalid log level \"%s\"\n", level);
    return 2;
  }
  cp_log_setup(lv, 2);
  if (cp_parse_long(workers, 1, 128, &n) != 0) {
    fprintf(stderr, "clawplane-apiserver: invalid worker count \"%s\" (1..128)\n", workers);
    return 2;
  }
  s->workers = (int)n;
  if (!s->database_url) {
    fprintf(stderr, "clawplane-apiserver: no database: set DATABASE_URL or --database-url\n");
    return 2;
  }
  return 0;
}

/* --- start-up: migrations and the first admin, retried until PostgreSQL answers ------- */

static void startup_retry(uv_timer_t *t);

static void startup_work(api_ctx_t *c, api_worker_t *w) {
  c->n1 = cp__api_schema_setup(c->app, w, c->msg, sizeof c->msg);
}

static void startup_done(api_ctx_t *c) {
  api_app_t *a = c->app;
  int rc = (int)c->n1;
  if (rc == 0) {
    atomic_store(&a->schema_ready, 1);
    cp_log_info("database ready", NULL);
  } else if (rc == CP_EINVAL) {
    cp_log_error("cannot start", "error", c->msg, NULL);
    a->exit_code = 1;
    raise(SIGTERM);
  } else if (!a->shutting_down) {
    cp_log_warn("database not ready; retrying in 2 s", "error", c->msg, "code", cp_errname(rc),
                NULL);
    uv_timer_start(&a->startup_timer, startup_retry, 2000, 0);
  }
  cp__api_ctx_free(c);
}

static void startup_retry(uv_timer_t *t) {
  api_app_t *a = t->data;
  api_ctx_t *c = calloc(1, sizeof *c);
  if (c) {
    c->app = a;
    if (cp__api_queue(c, startup_work, startup_done) == 0)
      return;
    free(c);
  }
  uv_timer_start(&a->startup_timer, startup_retry, 2000, 0);
}

/* --- shutdown ------------------------------------------------------------------------- */

static void closed(uv_handle_t *h) {
  (void)h;
}

static void http_closed(void *ud) {
  (void)ud;
}

static void drain(uv_timer_t *t) {
  api_app_t *a = t->data;
  if (a->inflight > 0 && cp_time_mono() < a->drain_deadline)
    return;
  uv_timer_stop(t);
  if (a->inflight > 0)
    cp_log_warn("shutting down with requests still running", NULL);
  cp_http_server_close(a->http, http_closed);
  a->http = NULL;
  cp_uvcurl_close(a->files_curl, NULL, NULL); /* its transfers went with their requests */
  a->files_curl = NULL;
  cp_informer_stop(a->informer);
  cp__api_events_free(a);
  uv_close((uv_handle_t *)&a->drain_timer, closed);
  uv_close((uv_handle_t *)&a->startup_timer, closed);
  uv_close((uv_handle_t *)&a->sweep_timer, closed);
  uv_close((uv_handle_t *)&a->sigterm, closed);
  uv_close((uv_handle_t *)&a->sigint, closed);
}

static void on_signal(uv_signal_t *h, int sig) {
  api_app_t *a = h->data;
  if (a->shutting_down)
    return;
  a->shutting_down = 1;
  cp_log_info("shutting down", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
  uv_timer_stop(&a->startup_timer);
  uv_timer_stop(&a->sweep_timer);
  cp__api_events_close(a);
  a->drain_deadline = cp_time_mono() + a->s.shutdown_grace_s;
  uv_timer_start(&a->drain_timer, drain, 0, 50);
}

/* --- main ----------------------------------------------------------------------------- */

static int listen_http(api_app_t *a) {
  char host[256];
  int port;
  if (cp_parse_hostport(a->s.listen, host, sizeof host, &port) != 0) {
    cp_log_error("invalid --listen, want host:port", "value", a->s.listen, NULL);
    return CP_EINVAL;
  }
  cp_http_server_opts_t o = {.max_body_bytes = 64 * 1024, .max_connections = 4096};
  int rc = cp_http_server_new(a->loop, &o, cp__api_on_request, a, &a->http);
  if (rc == 0 && a->files_key_len) {
    cp_http_server_set_stream_filter(a->http, cp__api_files_stream_filter, a);
    rc = cp_uvcurl_new(a->loop, cp__api_files_done, 0, &a->files_curl);
  }
  if (rc == 0)
    rc = cp_http_server_listen(a->http, host, port);
  if (rc != 0) {
    cp_log_error("cannot listen", "address", a->s.listen, "error", cp_strerror(rc), NULL);
    return rc;
  }
  char bound[16];
  snprintf(bound, sizeof bound, "%d", cp_http_server_port(a->http));
  cp_log_info("serving the API", "host", host, "port", bound, NULL);
  return 0;
}

static int setup_metrics(api_app_t *a) {
  static const double dur[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                               0.1,    0.25,  0.5,    1,     2.5,  5,     10};
  int rc = cp_metrics_new(&a->metrics);
  if (rc == 0)
    rc = cp_metrics_process(a->metrics);
  if (rc == 0)
    rc = cp_metrics_counter(a->metrics, "clawplane_apiserver_requests_total",
                            "HTTP requests by route pattern, method and status code.",
                            CP_LABELS("route", "method", "code", NULL), &a->m_requests);
  if (rc == 0)
    rc = cp_metrics_histogram(a->metrics, "clawplane_apiserver_request_duration_seconds",
                              "Time from a request's arrival to its answer, by route pattern.",
                              CP_LABELS("route", NULL), dur, sizeof dur / sizeof *dur,
                              &a->m_duration);
  if (rc == 0)
    rc = cp_metrics_counter(a->metrics, "clawplane_apiserver_logins_total",
                            "Login attempts by result (success, failure, throttled, error).",
                            CP_LABELS("result", NULL), &a->m_logins);
  if (rc == 0)
    rc = cp_metrics_gauge(a->metrics, "clawplane_apiserver_event_streams",
                          "Open Server-Sent Events streams.", NULL, &a->m_sse);
  if (rc == 0)
    rc = cp_metrics_counter(a->metrics, "clawplane_apiserver_activity_writes_total",
                            "status.lastActivityTime writes by kind (activity, wake) and result.",
                            CP_LABELS("kind", "result", NULL), &a->m_wakes);
  return rc;
}

static void informer_error(const char *what, int rc, const cp_status_t *st, void *ud) {
  (void)ud;
  cp_log_warn("UserRuntime informer failed; retrying", "step", what, "error", cp_errname(rc),
              "message", st ? st->message : NULL, NULL);
}

int main(int argc, char **argv) {
  static api_app_t app;
  api_app_t *a = &app;
  int rc = parse_flags(&a->s, argc, argv);
  if (rc != 0)
    return rc == 1 ? 0 : rc;
  char err[512], redacted[512];
  if (a->s.files_key_file && cp_files_key_load(a->s.files_key_file, a->files_key, &a->files_key_len,
                                               err, sizeof err) != 0) {
    cp_log_error("cannot load the files key", "error", err, NULL);
    return 1;
  }
  rc = cp_kubeconfig_load_default(a->s.kubeconfig, a->s.context, &a->kcfg, err, sizeof err);
  if (rc != 0) {
    cp_log_error("cannot load the Kubernetes configuration", "error", err, NULL);
    return 1;
  }
  /* one libuv pool thread per worker (must be set before the loop first uses the pool) */
  char nthreads[16];
  snprintf(nthreads, sizeof nthreads, "%d", a->s.workers);
  setenv("UV_THREADPOOL_SIZE", nthreads, 1);
  signal(SIGPIPE, SIG_IGN);

  cp_map_init(&a->sessions);
  cp_map_init(&a->activity);
  cp_login_limit_init(&a->login, a->s.login_per_client_per_min, a->s.login_per_user_per_min,
                      a->s.login_per_user_total_per_min);
  rc = setup_metrics(a);
  if (rc == 0)
    rc = cp__api_pool_init(a);
  if (rc == 0)
    rc = cp__api_login_page_init(a->s.runtime_host_suffix);
  cp_informer_opts_t io = {.gvr = API_UR_GVR, .namespace_ = a->s.runtime_ns};
  cp_kube_client_opts_t ko = {.metrics = a->metrics};
  cp_informer_handlers_t ih = {.on_add = cp__api_events_on_add,
                               .on_update = cp__api_events_on_update,
                               .on_delete = cp__api_events_on_delete,
                               .on_error = informer_error,
                               .ud = a};
  if (rc == 0)
    rc = cp_informer_new(a->kcfg, &ko, &io, &ih, &a->informer);
  if (rc != 0) {
    cp_log_error("cannot initialise", "error", cp_strerror(rc), NULL);
    return 1;
  }
  static uv_loop_t loop;
  uv_loop_init(&loop);
  a->loop = &loop;
  if (cp__api_events_init(a) != 0)
    return 1;
  uv_signal_init(a->loop, &a->sigterm);
  uv_signal_init(a->loop, &a->sigint);
  uv_timer_init(a->loop, &a->drain_timer);
  uv_timer_init(a->loop, &a->startup_timer);
  uv_timer_init(a->loop, &a->sweep_timer);
  a->sigterm.data = a->sigint.data = a->drain_timer.data = a->startup_timer.data = a;
  a->sweep_timer.data = a;
  uv_signal_start(&a->sigterm, on_signal, SIGTERM);
  uv_signal_start(&a->sigint, on_signal, SIGINT);
  if (listen_http(a) != 0)
    return 1;
  cp_pg_url_redact(a->s.database_url, redacted, sizeof redacted);
  cp_log_info("starting", "kube", a->kcfg->server, "context", a->kcfg->context, "namespace",
              a->s.runtime_ns, "database", redacted, "listen", a->s.listen, NULL);
  if (cp_informer_start(a->informer) != 0) {
    cp_log_error("cannot start the UserRuntime informer", NULL);
    return 1;
  }
  startup_retry(&a->startup_timer);
  uv_timer_start(&a->sweep_timer, cp__api_sweep, 60000, 600000);
  uv_run(a->loop, UV_RUN_DEFAULT);

  cp_informer_free(a->informer);
  cp__api_pool_free(a);
  cp__api_login_page_free();
  cp_map_free(&a->sessions, free);
  cp_map_free(&a->activity, free);
  cp_login_limit_free(&a->login);
  uv_loop_close(a->loop);
  cp_metrics_free(a->metrics);
  cp_kubeconfig_free(a->kcfg);
  cp_log_info("stopped", "exit", a->exit_code ? "1" : "0", NULL);
  return a->exit_code;
}
