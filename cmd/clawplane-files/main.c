/* clawplane-files: the file service sidecar of a runtime pod. Serves one directory (the
 * runtime's workspace) under /v1/files to whoever holds the credential (the apiserver),
 * plus /healthz, /readyz and /metrics without auth. What it does lives in lib/files
 * (service.h); this is wiring: flags, the credential, the HTTP server, signals.
 *
 * One thread, one libuv loop. SIGTERM or SIGINT: /readyz turns 503 and new /v1 requests
 * get 503; transfers in flight get --shutdown-grace seconds, then the server closes
 * (cutting what is left: a cut upload leaves nothing behind) and the process exits 0.
 */
#include "core/error.h"
#include "core/parse.h"
#include "core/time.h"
#include "files/service.h"
#include "http/server.h"
#include "log/log.h"
#include "metrics/metrics.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VERSION "0.1.0"
#define TOKEN_FILE_MAX 4096

typedef struct app_s {
  uv_loop_t loop;
  uv_signal_t sigterm, sigint;
  uv_timer_t grace_timer;
  cp_http_server_t *http;
  cp_files_service_t *svc;
  cp_metrics_t *reg;
  const char *root, *listen, *token_file;
  char token[TOKEN_FILE_MAX];
  unsigned long long max_upload;
  long shutdown_grace;
  int draining, closing;
  double drain_started;
} app_t;

static void usage(FILE *f) {
  fprintf(f, "usage: clawplane-files --root DIR [flags]\n"
             "  --root DIR              the workspace to serve (must exist)\n"
             "  --listen HOST:PORT      API and /healthz /readyz /metrics [0.0.0.0:8090]\n"
             "  --token-file FILE       the credential (one line, >= 32 bytes) "
             "[$CLAWPLANE_FILES_TOKEN]\n"
             "  --max-upload-bytes N    per-file upload cap, 0 = only free space [1073741824]\n"
             "  --shutdown-grace S      let transfers finish this long after SIGTERM [20]\n"
             "  --log-level LEVEL       debug, info, warn, error [$CLAWPLANE_LOG_LEVEL, info]\n"
             "  --log-format json       the only format: one JSON object per line\n"
             "  --version, --help\n");
}

/* Reads the first line of path into out (trailing blanks and CR/LF dropped). */
static int read_token_file(const char *path, char *out, size_t n) {
  FILE *f = fopen(path, "r");
  if (!f)
    return CP_EIO;
  char *got = fgets(out, (int)n, f);
  fclose(f);
  if (!got)
    return CP_EIO;
  size_t len = strlen(out);
  while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == '\r' || out[len - 1] == ' ' ||
                     out[len - 1] == '\t'))
    out[--len] = '\0';
  return 0;
}

static int parse_flags(app_t *a, int argc, char **argv) {
  enum { ROOT = 1, LISTEN, TOKENFILE, MAXUP, GRACE, LOGLEVEL, LOGFORMAT, VERS, HELP };
  static const struct option opts[] = {{"root", required_argument, 0, ROOT},
                                       {"listen", required_argument, 0, LISTEN},
                                       {"token-file", required_argument, 0, TOKENFILE},
                                       {"max-upload-bytes", required_argument, 0, MAXUP},
                                       {"shutdown-grace", required_argument, 0, GRACE},
                                       {"log-level", required_argument, 0, LOGLEVEL},
                                       {"log-format", required_argument, 0, LOGFORMAT},
                                       {"version", no_argument, 0, VERS},
                                       {"help", no_argument, 0, HELP},
                                       {0, 0, 0, 0}};
  const char *level = cp_env_or("CLAWPLANE_LOG_LEVEL", "info");
  a->listen = "0.0.0.0:8090";
  a->max_upload = 1ULL << 30;
  a->shutdown_grace = 20;
  int c;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    int bad = 0;
    char *end = NULL;
    switch (c) {
    case ROOT:
      a->root = optarg;
      break;
    case LISTEN:
      a->listen = optarg;
      break;
    case TOKENFILE:
      a->token_file = optarg;
      break;
    case MAXUP:
      errno = 0;
      a->max_upload = strtoull(optarg, &end, 10);
      bad = errno || !*optarg || *end || optarg[0] == '-';
      break;
    case GRACE:
      bad = cp_parse_long(optarg, 0, 3600, &a->shutdown_grace) != 0;
      break;
    case LOGLEVEL:
      level = optarg;
      break;
    case LOGFORMAT:
      bad = strcmp(optarg, "json") != 0;
      break;
    case VERS:
      printf("clawplane-files %s\n", VERSION);
      exit(0);
    case HELP:
    case 'h':
      usage(stdout);
      exit(0);
    default:
      usage(stderr);
      return 2;
    }
    if (bad) {
      fprintf(stderr, "clawplane-files: invalid value \"%s\" for --%s\n", optarg, opts[c - 1].name);
      return 2;
    }
  }
  cp_log_level_t lv;
  if (cp_log_parse_level(level, &lv) != 0) {
    fprintf(stderr, "clawplane-files: invalid log level \"%s\"\n", level);
    return 2;
  }
  cp_log_setup(lv, 2);
  if (!a->root) {
    fprintf(stderr, "clawplane-files: --root is required\n");
    usage(stderr);
    return 2;
  }
  return 0;
}

static int load_token(app_t *a) {
  if (a->token_file) {
    if (read_token_file(a->token_file, a->token, sizeof a->token) != 0) {
      cp_log_error("cannot read --token-file", "path", a->token_file, NULL);
      return CP_ECONFIG;
    }
  } else {
    const char *env = getenv("CLAWPLANE_FILES_TOKEN");
    snprintf(a->token, sizeof a->token, "%s", env ? env : "");
  }
  if (strlen(a->token) < 32) {
    cp_log_error("refusing to start: the credential (--token-file or $CLAWPLANE_FILES_TOKEN) is "
                 "missing or shorter than 32 bytes",
                 NULL);
    return CP_ECONFIG;
  }
  return 0;
}

static void on_http(cp_http_request_t *req, void *ud) {
  app_t *a = ud;
  if (strncmp(req->path, "/v1/", 4) == 0) {
    if (a->draining)
      cp_http_json_error(req, 503, "shutting down");
    else
      cp_files_service_handle(a->svc, req);
    return;
  }
  if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
    cp_http_json_error(req, 405, "only GET and HEAD are served here");
    return;
  }
  if (strcmp(req->path, "/healthz") == 0) {
    cp_http_respond(req, 200, "text/plain", "ok\n", 3);
  } else if (strcmp(req->path, "/readyz") == 0) {
    if (a->draining)
      cp_http_respond(req, 503, "text/plain", "shutting down\n", 14);
    else if (!cp_files_service_ready(a->svc))
      cp_http_respond(req, 503, "text/plain", "the root is not a directory\n", 28);
    else
      cp_http_respond(req, 200, "text/plain", "ok\n", 3);
  } else if (strcmp(req->path, "/metrics") == 0) {
    cp_buf_t out;
    cp_buf_init(&out, 4u << 20);
    if (cp_metrics_render(a->reg, &out) == 0)
      cp_http_respond(req, 200, CP_METRICS_CONTENT_TYPE, out.data ? out.data : "", out.len);
    else
      cp_http_json_error(req, 500, "could not render metrics");
    cp_buf_free(&out);
  } else {
    cp_http_json_error(req, 404,
                       "not found: the API is /v1/files/{path}; also /healthz, "
                       "/readyz, /metrics");
  }
}

static int listen_http(app_t *a) {
  char host[256];
  int port;
  if (cp_parse_hostport(a->listen, host, sizeof host, &port) != 0) {
    cp_log_error("invalid --listen, want host:port", "value", a->listen, NULL);
    return CP_EINVAL;
  }
  cp_http_server_opts_t so = {.max_body_bytes = CP_FILES_JSON_MAX,
                              .max_connections = 256,
                              .idle_timeout_ms = 60000,
                              .max_pending_output = 1u << 20};
  int rc = cp_http_server_new(&a->loop, &so, on_http, a, &a->http);
  if (rc == 0) {
    cp_http_server_set_stream_filter(a->http, cp_files_service_stream_filter, a->svc);
    rc = cp_http_server_listen(a->http, host, port);
  }
  if (rc != 0) {
    cp_log_error("cannot listen", "address", a->listen, "error", cp_strerror(rc), NULL);
    return rc;
  }
  char bound[16];
  snprintf(bound, sizeof bound, "%d", cp_http_server_port(a->http));
  cp_log_info("serving /v1/files and /healthz /readyz /metrics", "root", a->root, "host", host,
              "port", bound, NULL);
  return 0;
}

static void close_cb(uv_handle_t *h) {
  (void)h;
}

static void finish_shutdown(app_t *a) {
  if (a->closing)
    return;
  a->closing = 1;
  cp_http_server_close(a->http, NULL); /* transfers left get their abort */
  a->http = NULL;
  uv_close((uv_handle_t *)&a->grace_timer, close_cb);
  uv_close((uv_handle_t *)&a->sigterm, close_cb);
  uv_close((uv_handle_t *)&a->sigint, close_cb);
}

/* Every 100 ms while draining: done once no transfer is in flight or the grace is over. */
static void on_grace(uv_timer_t *t) {
  app_t *a = t->data;
  size_t n = cp_files_service_active(a->svc);
  if (n == 0 || cp_time_mono() - a->drain_started >= (double)a->shutdown_grace) {
    if (n > 0) {
      char s[24];
      snprintf(s, sizeof s, "%zu", n);
      cp_log_warn("shutdown grace over; cutting transfers still in flight", "transfers", s, NULL);
    }
    finish_shutdown(a);
  }
}

static void on_signal(uv_signal_t *h, int sig) {
  app_t *a = h->data;
  if (a->draining) {
    cp_log_info("second signal: stopping now", NULL);
    finish_shutdown(a);
    return;
  }
  char s[24];
  snprintf(s, sizeof s, "%zu", cp_files_service_active(a->svc));
  cp_log_info("shutting down: refusing new requests, letting transfers finish", "signal",
              sig == SIGTERM ? "SIGTERM" : "SIGINT", "transfers", s, NULL);
  a->draining = 1;
  a->drain_started = cp_time_mono();
  uv_timer_start(&a->grace_timer, on_grace, 0, 100);
}

int main(int argc, char **argv) {
  static app_t app;
  app_t *a = &app;
  int rc = parse_flags(a, argc, argv);
  if (rc != 0)
    return rc;
  if (load_token(a) != 0)
    return 2;
  signal(SIGPIPE, SIG_IGN);
  uv_loop_init(&a->loop);
  rc = cp_metrics_new(&a->reg);
  cp_files_service_opts_t so = {.root = a->root, .token = a->token, .max_upload = a->max_upload};
  if (rc == 0)
    rc = cp_files_service_new(&so, a->reg, &a->svc);
  memset(a->token, 0, sizeof a->token); /* the service keeps its own copy */
  if (rc == CP_EINVAL) {
    cp_log_error("cannot serve --root: it must be an existing directory", "root", a->root, NULL);
    return 1;
  }
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
  uv_run(&a->loop, UV_RUN_DEFAULT);
  uv_loop_close(&a->loop);
  cp_files_service_free(a->svc);
  cp_metrics_free(a->reg);
  cp_log_info("stopped", NULL);
  return 0;
}
