/* clawplane-controller: reconciles UserRuntimes into per-user Pods, Services,
 * NetworkPolicies, PVCs and Secrets.
 *
 * Threads: the main thread runs a libuv loop with the HTTP endpoints (/healthz, /readyz,
 * /metrics) and the signal handlers; one thread campaigns for the leader Lease; the
 * controller has one thread per informer and a pool of workers. Informers start at once so
 * a standby's caches are warm; workers start only while this replica leads. SIGTERM or
 * SIGINT: release the Lease, stop the workers and informers, close the listener, exit 0.
 * Losing the Lease without being asked to stop exits 1, so no two replicas ever act as
 * leader (Kubernetes restarts the pod).
 */
#include "core/error.h"
#include "core/parse.h"
#include "core/time.h"
#include "http/server.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/leader.h"
#include "log/log.h"
#include "auth/filestoken.h"
#include "metrics/metrics.h"
#include "userruntime/controller.h"

#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

typedef struct app_s {
  /* settings */
  const char *kubeconfig, *context, *watch_ns, *http_addr, *lease_ns, *lease_name;
  int workers, leader_elect;
  double qps, resync;
  int burst;
  long page_size;
  cp_desired_opts_t desired;
  const char *files_key_file;
  unsigned char files_key[CP_FILES_KEY_MAX];
  /* state */
  cp_kubeconfig_t *cfg;
  cp_metrics_t *metrics;
  cp_metric_t *m_leader;
  cp_ur_controller_t *ctl;
  uv_loop_t loop;
  uv_signal_t sigterm, sigint;
  uv_async_t leader_done;
  cp_http_server_t *http;
  pthread_t leader_thread;
  int leader_started;
  atomic_bool stop;
  int leader_rc;
  char identity[HOST_NAME_MAX + 32];
} app_t;

static void usage(FILE *f) {
  fprintf(
      f, "usage: clawplane-controller [flags]\n"
         "  --kubeconfig PATH        kubeconfig file(s), ':'-separated [$KUBECONFIG, in-cluster]\n"
         "  --context NAME           kubeconfig context [current-context]\n"
         "  --namespace NS           watch only this namespace [$CLAWPLANE_WATCH_NAMESPACE, all]\n"
         "  --workers N              reconcile workers [$CLAWPLANE_WORKERS, 4]\n"
         "  --kube-api-qps Q         API requests per second per client [50]\n"
         "  --kube-api-burst B       burst above that rate [100]\n"
         "  --resync-period S        seconds between full requeues [600]\n"
         "  --list-page-size N       objects per LIST page when caches fill [500]\n"
         "  --http-address H:P       /healthz /readyz /metrics [$CLAWPLANE_HTTP_ADDRESS, :8080]\n"
         "  --leader-elect BOOL      campaign for a Lease before reconciling [true]\n"
         "  --leader-election-namespace NS  [$POD_NAMESPACE, clawplane-system]\n"
         "  --leader-election-id NAME       Lease name [clawplane-controller]\n"
         "  --modelproxy-url URL     model proxy URL when a profile sets none\n"
         "  --system-namespace NS    where the apiserver and modelproxy run [clawplane-system]\n"
         "  --default-model ID       model when a profile names none [gpt-4o-mini]\n"
         "  --runtime-origin URL     http(s)://DOMAIN[:PORT]: user U's runtime is served at\n"
         "                           http(s)://U.DOMAIN[:PORT] [none: no routes]\n"
         "  --forward-auth-url URL   the apiserver's /internal/auth/forward as Traefik reaches\n"
         "                           it; with --runtime-origin, publishes each runtime through\n"
         "                           a Traefik IngressRoute [none: no routes]\n"
         "  --route-entrypoints L    Traefik entry points of the routes, comma-separated [all]\n"
         "  --trusted-proxies L      addresses OpenClaw trusts to vouch for the user (the\n"
         "                           ingress's source addresses), comma-separated CIDRs, when a\n"
         "                           profile lists none [none: runtimes refuse every request]\n"
         "  --ingress-namespace NS   namespace of the ingress controller's pods, admitted to\n"
         "                           the runtimes on 18789 [none]\n"
         "  --ingress-selector SEL   their labels, k=v,... [all pods of that namespace]\n"
         "  --files-image IMAGE      the file service sidecar (clawplane-files) added to every\n"
         "                           runtime pod [none: no file service]\n"
         "  --files-key-file PATH    key (>= 32 bytes) the sidecars' tokens are derived from;\n"
         "                           the apiserver has the same one [required with --files-image]\n"
         "  --log-level LEVEL        debug, info, warn, error [$CLAWPLANE_LOG_LEVEL, info]\n");
}

/* Returns 0, or 2 after printing a message naming the bad flag. */
static int parse_flags(app_t *a, int argc, char **argv) {
  enum {
    KUBECONFIG = 1,
    CONTEXT,
    NS,
    WORKERS,
    QPS,
    BURST,
    RESYNC,
    PAGE,
    HTTP,
    LE,
    LENS,
    LEID,
    MPURL,
    SYSNS,
    MODEL,
    ORIGIN,
    FWDAUTH,
    ENTRY,
    PROXIES,
    INGNS,
    INGSEL,
    LOGLEVEL,
    HELP,
    FILESIMG,
    FILESKEY
  };
  static const struct option opts[] = {{"kubeconfig", required_argument, 0, KUBECONFIG},
                                       {"context", required_argument, 0, CONTEXT},
                                       {"namespace", required_argument, 0, NS},
                                       {"workers", required_argument, 0, WORKERS},
                                       {"kube-api-qps", required_argument, 0, QPS},
                                       {"kube-api-burst", required_argument, 0, BURST},
                                       {"resync-period", required_argument, 0, RESYNC},
                                       {"list-page-size", required_argument, 0, PAGE},
                                       {"http-address", required_argument, 0, HTTP},
                                       {"leader-elect", required_argument, 0, LE},
                                       {"leader-election-namespace", required_argument, 0, LENS},
                                       {"leader-election-id", required_argument, 0, LEID},
                                       {"modelproxy-url", required_argument, 0, MPURL},
                                       {"system-namespace", required_argument, 0, SYSNS},
                                       {"default-model", required_argument, 0, MODEL},
                                       {"runtime-origin", required_argument, 0, ORIGIN},
                                       {"forward-auth-url", required_argument, 0, FWDAUTH},
                                       {"route-entrypoints", required_argument, 0, ENTRY},
                                       {"trusted-proxies", required_argument, 0, PROXIES},
                                       {"ingress-namespace", required_argument, 0, INGNS},
                                       {"ingress-selector", required_argument, 0, INGSEL},
                                       {"log-level", required_argument, 0, LOGLEVEL},
                                       {"help", no_argument, 0, HELP},
                                       {"files-image", required_argument, 0, FILESIMG},
                                       {"files-key-file", required_argument, 0, FILESKEY},
                                       {0, 0, 0, 0}};
  long n;
  const char *level = cp_env_or("CLAWPLANE_LOG_LEVEL", "info");
  const char *workers = cp_env_or("CLAWPLANE_WORKERS", "4");
  a->kubeconfig = getenv("KUBECONFIG");
  a->watch_ns = cp_env_or("CLAWPLANE_WATCH_NAMESPACE", NULL);
  a->http_addr = cp_env_or("CLAWPLANE_HTTP_ADDRESS", ":8080");
  a->lease_ns = cp_env_or("POD_NAMESPACE", "clawplane-system");
  a->lease_name = "clawplane-controller";
  a->leader_elect = 1;
  a->qps = 50;
  a->burst = 100;
  a->resync = 600;
  a->page_size = 500;
  int c;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    int bad = 0;
    switch (c) {
    case KUBECONFIG:
      a->kubeconfig = optarg;
      break;
    case CONTEXT:
      a->context = optarg;
      break;
    case NS:
      a->watch_ns = *optarg ? optarg : NULL;
      break;
    case WORKERS:
      workers = optarg;
      break;
    case QPS:
      bad = cp_parse_double(optarg, 0.1, 100000, &a->qps);
      break;
    case BURST:
      bad = cp_parse_long(optarg, 1, 100000, &n);
      a->burst = (int)n;
      break;
    case RESYNC:
      bad = cp_parse_double(optarg, 0, 86400 * 7, &a->resync);
      break;
    case PAGE:
      bad = cp_parse_long(optarg, 1, 100000, &a->page_size);
      break;
    case HTTP:
      a->http_addr = optarg;
      break;
    case LE:
      bad = cp_parse_bool(optarg, &a->leader_elect);
      break;
    case LENS:
      a->lease_ns = optarg;
      break;
    case LEID:
      a->lease_name = optarg;
      break;
    case MPURL:
      a->desired.modelproxy_url = optarg;
      break;
    case SYSNS:
      a->desired.modelproxy_namespace = optarg;
      a->desired.apiserver_namespace = optarg;
      break;
    case MODEL:
      a->desired.default_model = optarg;
      break;
    case ORIGIN:
      a->desired.runtime_origin = optarg;
      break;
    case FWDAUTH:
      a->desired.forward_auth_url = optarg;
      break;
    case ENTRY:
      a->desired.route_entrypoints = optarg;
      break;
    case PROXIES:
      a->desired.trusted_proxies = optarg;
      break;
    case INGNS:
      a->desired.ingress_namespace = *optarg ? optarg : NULL;
      break;
    case INGSEL:
      a->desired.ingress_selector = optarg;
      break;
    case LOGLEVEL:
      level = optarg;
      break;
    case FILESIMG:
      a->desired.files_image = *optarg ? optarg : NULL;
      break;
    case FILESKEY:
      a->files_key_file = *optarg ? optarg : NULL;
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
      fprintf(stderr, "clawplane-controller: invalid value \"%s\" for --%s\n", optarg,
              opts[c - 1].name);
      return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "clawplane-controller: unexpected argument \"%s\"\n", argv[optind]);
    return 2;
  }
  cp_log_level_t lv;
  if (cp_log_parse_level(level, &lv) != 0) {
    fprintf(stderr, "clawplane-controller: invalid log level \"%s\"\n", level);
    return 2;
  }
  cp_log_setup(lv, 2);
  if (cp_parse_long(workers, 1, 256, &n) != 0) {
    fprintf(stderr, "clawplane-controller: invalid worker count \"%s\" (1..256)\n", workers);
    return 2;
  }
  a->workers = (int)n;
  if (a->desired.files_image) {
    char err[512];
    if (!a->files_key_file) {
      fprintf(stderr, "clawplane-controller: --files-image needs --files-key-file (a file of at "
                      "least 32 random bytes the apiserver shares)\n");
      return 2;
    }
    if (cp_files_key_load(a->files_key_file, a->files_key, &a->desired.files_key_len, err,
                          sizeof err) != 0) {
      fprintf(stderr, "clawplane-controller: %s\n", err);
      return 2;
    }
    a->desired.files_key = a->files_key;
  }
  if (a->resync == 0)
    a->resync = -1;
  return 0;
}

/* --- HTTP endpoints ------------------------------------------------------------------- */

static void on_http(cp_http_request_t *req, void *ud) {
  app_t *a = ud;
  if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
    cp_http_json_error(req, 405, "only GET and HEAD are served here");
    return;
  }
  if (strcmp(req->path, "/healthz") == 0 || strcmp(req->path, "/livez") == 0) {
    cp_http_respond(req, 200, "text/plain", "ok\n", 3);
  } else if (strcmp(req->path, "/readyz") == 0) {
    if (cp_ur_controller_synced(a->ctl))
      cp_http_respond(req, 200, "text/plain", "ok\n", 3);
    else
      cp_http_respond(req, 503, "text/plain", "informers not synced\n", 21);
  } else if (strcmp(req->path, "/metrics") == 0) {
    cp_buf_t out;
    cp_buf_init(&out, 16u << 20);
    if (cp_metrics_render(a->metrics, &out) == 0)
      cp_http_respond(req, 200, CP_METRICS_CONTENT_TYPE, out.data ? out.data : "", out.len);
    else
      cp_http_json_error(req, 500, "could not render metrics");
    cp_buf_free(&out);
  } else {
    cp_http_json_error(req, 404, "not found: try /healthz, /readyz or /metrics");
  }
}

static int listen_http(app_t *a) {
  char host[256];
  int port;
  if (cp_parse_hostport(a->http_addr, host, sizeof host, &port) != 0) {
    cp_log_error("invalid --http-address, want host:port", "value", a->http_addr, NULL);
    return CP_EINVAL;
  }
  int rc = cp_http_server_new(&a->loop, NULL, on_http, a, &a->http);
  if (rc == 0)
    rc = cp_http_server_listen(a->http, host, port);
  if (rc != 0) {
    cp_log_error("cannot listen", "address", a->http_addr, "error", cp_strerror(rc), NULL);
    return rc;
  }
  char bound[16];
  snprintf(bound, sizeof bound, "%d", cp_http_server_port(a->http));
  cp_log_info("serving /healthz /readyz /metrics", "host", host, "port", bound, NULL);
  return 0;
}

/* --- leadership ----------------------------------------------------------------------- */

static void started_leading(void *ud) {
  app_t *a = ud;
  cp_log_info("became leader, starting workers", "lease", a->lease_name, "identity", a->identity,
              NULL);
  cp_gauge_set(a->m_leader, CP_LABELS("clawplane-controller"), 1);
  int rc = cp_ur_controller_start_workers(a->ctl);
  if (rc != 0)
    cp_log_error("cannot start workers", "error", cp_strerror(rc), NULL);
}

static void stopped_leading(void *ud) {
  app_t *a = ud;
  cp_gauge_set(a->m_leader, CP_LABELS("clawplane-controller"), 0);
  cp_log_info("leadership ended", "lease", a->lease_name, "identity", a->identity, NULL);
}

static void leader_error(int rc, const cp_status_t *st, void *ud) {
  app_t *a = ud;
  char code[16];
  snprintf(code, sizeof code, "%ld", st ? st->http_code : 0L);
  cp_log_warn("leader election attempt failed", "lease", a->lease_name, "namespace", a->lease_ns,
              "error", cp_strerror(rc), "code", code, "reason", st ? st->reason : NULL, "message",
              st ? st->message : NULL, NULL);
}

static void *campaign(void *arg) {
  app_t *a = arg;
  cp_kube_client_t *kc = NULL;
  cp_status_t st = {0};
  cp_kube_client_opts_t ko = {.metrics = a->metrics}; /* the Lease's requests are counted too */
  int rc = cp_kube_client_new(a->cfg, &ko, &kc);
  if (rc == 0) {
    cp_leader_opts_t lo = {.namespace_ = a->lease_ns,
                           .name = a->lease_name,
                           .identity = a->identity,
                           .release_on_stop = true,
                           .on_started = started_leading,
                           .on_stopped = stopped_leading,
                           .on_error = leader_error,
                           .ud = a};
    rc = cp_leader_run(kc, &lo, &a->stop, &st);
  }
  cp_kube_client_free(kc);
  a->leader_rc = rc;
  if (rc != 0)
    cp_log_error("leader election ended", "error", cp_strerror(rc), "reason", st.reason, "message",
                 st.message, NULL);
  uv_async_send(&a->leader_done);
  return NULL;
}

/* --- shutdown ------------------------------------------------------------------------- */

static void close_cb(uv_handle_t *h) {
  (void)h;
}

static void http_closed(void *ud) {
  (void)ud;
}

static void shutdown_loop(app_t *a) {
  if (a->http) {
    cp_http_server_close(a->http, http_closed);
    a->http = NULL;
  }
  uv_close((uv_handle_t *)&a->sigterm, close_cb);
  uv_close((uv_handle_t *)&a->sigint, close_cb);
  uv_close((uv_handle_t *)&a->leader_done, close_cb);
}

static void on_leader_done(uv_async_t *h) {
  app_t *a = h->data;
  if (!atomic_load(&a->stop)) {
    /* Lost the Lease while still wanting it: stop acting at once, exit non-zero. */
    cp_log_error("lost the leader Lease; exiting so a fresh replica can campaign", NULL);
    a->leader_rc = a->leader_rc ? a->leader_rc : CP_ETIMEOUT;
    cp_ur_controller_stop(a->ctl);
  }
  atomic_store(&a->stop, 1);
  shutdown_loop(a);
}

static void on_signal(uv_signal_t *h, int sig) {
  app_t *a = h->data;
  cp_log_info("shutting down", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
  /* Workers first: nothing may be written once the Lease is handed over. */
  cp_ur_controller_stop(a->ctl);
  atomic_store(&a->stop, 1);
  if (!a->leader_started)
    shutdown_loop(a); /* no campaign thread to wait for */
  /* otherwise the campaign thread releases the Lease, then wakes leader_done */
}

int main(int argc, char **argv) {
  app_t a = {0};
  int rc = parse_flags(&a, argc, argv);
  if (rc != 0)
    return rc;
  char err[512];
  rc = cp_kubeconfig_load_default(a.kubeconfig, a.context, &a.cfg, err, sizeof err);
  if (rc != 0) {
    cp_log_error("cannot load the Kubernetes configuration", "error", err, NULL);
    return 1;
  }
  char host[HOST_NAME_MAX + 1] = "controller";
  gethostname(host, sizeof host);
  host[HOST_NAME_MAX] = '\0';
  snprintf(a.identity, sizeof a.identity, "%s_%ld", host, (long)getpid());

  rc = cp_metrics_new(&a.metrics);
  if (rc == 0)
    rc = cp_metrics_process(a.metrics);
  if (rc == 0)
    rc = cp_metrics_gauge(a.metrics, "leader_election_master_status",
                          "Gauge of if the reporting system is master of the relevant lease, 0 "
                          "indicates backup, 1 indicates master.",
                          CP_LABELS("name", NULL), &a.m_leader);
  if (rc == 0)
    rc = cp_gauge_set(a.m_leader, CP_LABELS("clawplane-controller"), 0);
  cp_ur_controller_opts_t co = {.namespace_ = a.watch_ns,
                                .workers = a.workers,
                                .resync = a.resync,
                                .page_size = a.page_size,
                                .qps = a.qps,
                                .burst = a.burst,
                                .desired = a.desired,
                                .metrics = a.metrics};
  if (rc == 0)
    rc = cp_ur_controller_new(a.cfg, &co, &a.ctl);
  if (rc != 0) {
    cp_log_error("cannot create the controller", "error", cp_strerror(rc), NULL);
    return 1;
  }
  uv_loop_init(&a.loop);
  uv_signal_init(&a.loop, &a.sigterm);
  uv_signal_init(&a.loop, &a.sigint);
  uv_async_init(&a.loop, &a.leader_done, on_leader_done);
  a.sigterm.data = a.sigint.data = a.leader_done.data = &a;
  uv_signal_start(&a.sigterm, on_signal, SIGTERM);
  uv_signal_start(&a.sigint, on_signal, SIGINT);
  signal(SIGPIPE, SIG_IGN);
  if (listen_http(&a) != 0)
    return 1;
  cp_log_info("starting", "server", a.cfg->server, "context", a.cfg->context, "namespace",
              a.watch_ns ? a.watch_ns : "(all)", "http", a.http_addr, "identity", a.identity, NULL);
  rc = cp_ur_controller_start_informers(a.ctl);
  if (rc == 0 && a.leader_elect) {
    if (pthread_create(&a.leader_thread, NULL, campaign, &a) == 0)
      a.leader_started = 1;
    else
      rc = CP_ENOMEM;
  } else if (rc == 0) {
    started_leading(&a);
  }
  if (rc != 0) {
    cp_log_error("cannot start", "error", cp_strerror(rc), NULL);
    return 1;
  }
  uv_run(&a.loop, UV_RUN_DEFAULT);
  if (a.leader_started)
    pthread_join(a.leader_thread, NULL);
  cp_ur_controller_free(a.ctl);
  uv_loop_close(&a.loop);
  cp_metrics_free(a.metrics);
  cp_kubeconfig_free(a.cfg);
  int code = a.leader_rc != 0 ? 1 : 0;
  cp_log_info("stopped", "exit", code ? "1" : "0", NULL);
  return code;
}
