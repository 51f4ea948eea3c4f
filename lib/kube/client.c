/* One libcurl easy handle per client, one generic call (perform) underneath everything.
 *
 * Every transfer runs through the client's multi handle (drive), limited to one connection
 * to the server: a single call and a batch's streams (cp_kube_batch) share that HTTP/2
 * connection, as the batch's lanes wait to multiplex on it (PIPEWAIT).
 *
 * perform() builds the URL and headers, takes a token from the optional client-side
 * bucket, runs the transfer and turns the outcome into 0 or a CP_E* code plus a
 * cp_status_t. The response body goes either into a capped cp_buf_t or, for 2xx answers to
 * a streaming call (watch), to a sink; error bodies always go to the buffer so the Status
 * can be read. Options that differ between calls (method, body, headers, timeouts, size
 * cap, callbacks) are set on every call; everything else once in cp_kube_client_new.
 *
 * tls_server_name: libcurl has no SNI override, so the URL carries tls_server_name as its
 * host (SNI and certificate check use it), CURLOPT_CONNECT_TO sends the connection to the
 * real host, and an explicit Host header keeps the HTTP authority what the kubeconfig said.
 */
#include "kube/client.h"
#include "core/error.h"
#include "json/json.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_TIMEOUT_MS 30000L
#define DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define DEFAULT_MAX_BODY ((size_t)64 << 20)
#define DEFAULT_USER_AGENT "clawplane/0.1"
#define DEFAULT_MAX_RETRIES 3
#define MAX_RETRY_WAIT_S 10L
#define MAX_TOKEN_FILE 65536
#define MAX_URL 65536
#define MAX_COUNTED 16 /* (method, code) pairs whose metric children a client remembers */

/* A label tuple looked up once, so counting a request allocates nothing afterwards. */
typedef struct counted_s {
  const char *method; /* one of METHODS */
  long code;
  cp_metric_child_t *child;
} counted_t;

static const char *const METHODS[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
#define NMETHODS (sizeof METHODS / sizeof *METHODS)

struct cp_kube_client_s {
  CURL *curl;
  char *base;                    /* scheme://host[:port][/prefix], no trailing '/' */
  struct curl_slist *connect_to; /* tls_server_name:port:host:port, or NULL */
  char *host_header;             /* "Host: ..." with tls_server_name, or NULL */
  char *token;                   /* bearer token in use, or NULL; wiped on change */
  char *token_file;              /* re-read on rotation, or NULL */
  struct stat token_stat;        /* of token_file when token was read */
  char *user_agent;
  char *field_manager;
  long timeout_ms;
  size_t max_body;
  int max_retries;
  double qps, tokens, last; /* token bucket; last = monotonic seconds of last refill */
  int burst;
  char errbuf[CURL_ERROR_SIZE];
  CURLM *multi; /* runs every transfer: its pool holds the client's one connection */
  CURL *lanes[CP_KUBE_BATCH_MAX]; /* a batch's transfers, copies of curl made when needed */
  char lane_err[CP_KUBE_BATCH_MAX][CURL_ERROR_SIZE];
  cp_metric_t *m_requests, *m_duration; /* NULL without opts.metrics */
  char metric_host[256];                /* host:port of the server, the "host" label */
  counted_t counted[MAX_COUNTED];
  size_t ncounted;
  cp_metric_child_t *durations[NMETHODS];
};

/* ---- small utilities ---- */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int cp__kube_sleep_ms(long ms, atomic_bool *stop) {
  while (ms > 0) {
    if (stop && atomic_load(stop))
      return CP_ECANCELED;
    long slice = ms > 100 ? 100 : ms;
    struct timespec ts = {0, slice * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    ms -= slice;
  }
  return 0;
}

static void wipe_free(char *s) {
  if (s) {
    explicit_bzero(s, strlen(s));
    free(s);
  }
}

/* Copies at most dstlen-1 bytes of src[0..len) into dst, never cutting a UTF-8 sequence,
 * turning control bytes into spaces, and trimming trailing spaces. */
static void copy_text(char *dst, size_t dstlen, const char *src, size_t len) {
  size_t n = len < dstlen - 1 ? len : dstlen - 1;
  if (n < len)
    while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
      n--;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)src[i];
    dst[i] = (char)(ch < 0x20 || ch == 0x7f ? ' ' : ch);
  }
  while (n > 0 && dst[n - 1] == ' ')
    n--;
  dst[n] = '\0';
}

static void status_msg(cp_status_t *st, long http_code, const char *msg) {
  if (!st)
    return;
  memset(st, 0, sizeof *st);
  st->http_code = http_code;
  copy_text(st->message, sizeof st->message, msg, strlen(msg));
}

/* ---- pure helpers ---- */

int cp_kube_http_error(long code) {
  if (code >= 200 && code < 300)
    return 0;
  switch (code) {
  case 400:
    return CP_EBADREQUEST;
  case 401:
    return CP_EUNAUTHORIZED;
  case 403:
    return CP_EFORBIDDEN;
  case 404:
    return CP_ENOTFOUND;
  case 409:
    return CP_ECONFLICT;
  case 410:
    return CP_EGONE;
  case 422:
    return CP_EINVALID;
  case 429:
    return CP_ETHROTTLED;
  default:
    return code >= 500 && code < 600 ? CP_EUNAVAILABLE : CP_EHTTP;
  }
}

static int curl_error(CURLcode rc) {
  switch (rc) {
  case CURLE_OPERATION_TIMEDOUT:
    return CP_ETIMEOUT;
  case CURLE_COULDNT_RESOLVE_PROXY:
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_CONNECT:
    return CP_ECONNECT;
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_CRL_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_INVALIDCERTSTATUS:
  case CURLE_SSL_CLIENTCERT:
  case CURLE_SSL_ENGINE_NOTFOUND:
  case CURLE_SSL_ENGINE_SETFAILED:
  case CURLE_SSL_ENGINE_INITFAILED:
    return CP_ETLS;
  case CURLE_FILESIZE_EXCEEDED:
    return CP_ETOOBIG;
  case CURLE_OUT_OF_MEMORY:
    return CP_ENOMEM;
  case CURLE_ABORTED_BY_CALLBACK:
    return CP_ECANCELED;
  case CURLE_UNSUPPORTED_PROTOCOL:
  case CURLE_URL_MALFORMAT:
    return CP_ECONFIG;
  default:
    return CP_EIO;
  }
}

void cp_kube_status_from_json(cp_status_t *st, long http_code, const cJSON *status) {
  memset(st, 0, sizeof *st);
  const cJSON *code = cp_json_getv(status, "code", NULL);
  st->http_code = http_code == 0 && cJSON_IsNumber(code) ? (long)code->valuedouble : http_code;
  const char *s = cp_json_strv(status, "reason", NULL);
  if (s)
    copy_text(st->reason, sizeof st->reason, s, strlen(s));
  if ((s = cp_json_strv(status, "message", NULL)) != NULL)
    copy_text(st->message, sizeof st->message, s, strlen(s));
  const cJSON *ra = cp_json_getv(status, "details", "retryAfterSeconds", NULL);
  if (cJSON_IsNumber(ra) && ra->valuedouble > 0)
    st->retry_after = ra->valuedouble > 86400 ? 86400 : (long)ra->valuedouble;
}

void cp_kube_status_from_body(cp_status_t *st, long http_code, const char *body, size_t len) {
  cJSON *j = NULL;
  if (body && len && cp_json_parse(body, len, len, &j) == 0 && cJSON_IsObject(j) &&
      (cp_json_strv(j, "reason", NULL) || cp_json_strv(j, "message", NULL))) {
    cp_kube_status_from_json(st, http_code, j);
  } else {
    memset(st, 0, sizeof *st);
    st->http_code = http_code;
    if (body)
      copy_text(st->message, sizeof st->message, body, len);
  }
  cJSON_Delete(j);
}

long cp_kube_parse_retry_after(const char *v, time_t now) {
  if (!v)
    return 0;
  while (*v == ' ' || *v == '\t')
    v++;
  if (*v >= '0' && *v <= '9') {
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
      end++;
    if (*end)
      return 0;
    return errno == ERANGE || n > 86400 ? 86400 : (long)n;
  }
  time_t t = curl_getdate(v, NULL);
  if (t == (time_t)-1 || t <= now)
    return 0;
  return t - now > 86400 ? 86400 : (long)(t - now);
}

/* Escapes s and appends it. curl_easy_escape ignores its handle since 7.82. */
static int append_escaped(cp_buf_t *b, const char *s) {
  char *e = curl_easy_escape(NULL, s, 0);
  if (!e)
    return CP_ENOMEM;
  int r = cp_buf_puts(b, e);
  curl_free(e);
  return r;
}

int cp_kube_path(cp_buf_t *out, const cp_gvr_t *gvr, const char *ns, const char *name,
                 const char *subresource) {
  if (!gvr || !gvr->version || !gvr->resource || !*gvr->version || !*gvr->resource)
    return CP_EINVAL;
  if (ns && *ns && !gvr->namespaced)
    return CP_EINVAL;
  if (name && (!*name || !strcmp(name, ".") || !strcmp(name, "..")))
    return CP_EINVAL;
  if (subresource && (!name || !*subresource || strchr(subresource, '/')))
    return CP_EINVAL;
  bool core = !gvr->group || !*gvr->group;
  int r = cp_buf_puts(out, core ? "/api/" : "/apis/");
  if (!r && !core)
    r = append_escaped(out, gvr->group);
  if (!r && !core)
    r = cp_buf_puts(out, "/");
  if (!r)
    r = append_escaped(out, gvr->version);
  if (!r && ns && *ns)
    r = cp_buf_puts(out, "/namespaces/");
  if (!r && ns && *ns)
    r = append_escaped(out, ns);
  if (!r)
    r = cp_buf_puts(out, "/");
  if (!r)
    r = append_escaped(out, gvr->resource);
  if (!r && name)
    r = cp_buf_puts(out, "/");
  if (!r && name)
    r = append_escaped(out, name);
  if (!r && subresource)
    r = cp_buf_puts(out, "/");
  if (!r && subresource)
    r = append_escaped(out, subresource);
  return r;
}

int cp_kube_query_add(cp_buf_t *q, const char *key, const char *value) {
  if (!value)
    return 0;
  int r = q->len ? cp_buf_puts(q, "&") : 0;
  if (!r)
    r = cp_buf_puts(q, key);
  if (!r)
    r = cp_buf_puts(q, "=");
  if (!r)
    r = append_escaped(q, value);
  return r;
}

/* ---- client setup ---- */

static char *join3(const char *a, const char *b, const char *c) {
  size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
  char *s = malloc(la + lb + lc + 1);
  if (s) {
    memcpy(s, a, la);
    memcpy(s + la, b, lb);
    memcpy(s + la + lb, c, lc + 1);
  }
  return s;
}

/* Sets c->base, and with tls_server_name c->connect_to and c->host_header. */
static int setup_server(cp_kube_client_t *c, const cp_kubeconfig_t *cfg) {
  CURLU *u = curl_url();
  char *host = NULL, *port = NULL, *given_port = NULL, *url = NULL, *entry = NULL;
  int r = CP_ENOMEM;
  if (!u)
    goto out;
  r = CP_ECONFIG;
  if (curl_url_set(u, CURLUPART_URL, cfg->server, 0) != CURLUE_OK)
    goto out;
  if (cfg->tls_server_name && *cfg->tls_server_name) {
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
      goto out;
    r = CP_ENOMEM;
    size_t n = strlen(cfg->tls_server_name) + 2 * strlen(port) + strlen(host) + 4;
    if (!(entry = malloc(n)))
      goto out;
    snprintf(entry, n, "%s:%s:%s:%s", cfg->tls_server_name, port, host, port);
    struct curl_slist *l = curl_slist_append(NULL, entry);
    if (!l)
      goto out;
    c->connect_to = l;
    bool has_port = curl_url_get(u, CURLUPART_PORT, &given_port, 0) == CURLUE_OK;
    c->host_header = join3("Host: ", host, "");
    if (c->host_header && has_port) {
      char *h = join3(c->host_header, ":", given_port);
      free(c->host_header);
      c->host_header = h;
    }
    if (!c->host_header)
      goto out;
    r = CP_ECONFIG;
    if (curl_url_set(u, CURLUPART_HOST, cfg->tls_server_name, 0) != CURLUE_OK)
      goto out;
  }
  r = CP_ECONFIG;
  if (curl_url_get(u, CURLUPART_URL, &url, 0) != CURLUE_OK)
    goto out;
  size_t len = strlen(url);
  while (len > 0 && url[len - 1] == '/')
    len--;
  r = CP_ENOMEM;
  if (!(c->base = strndup(url, len)))
    goto out;
  r = 0;
out:
  curl_free(host);
  curl_free(port);
  curl_free(given_port);
  curl_free(url);
  free(entry);
  curl_url_cleanup(u);
  return r;
}

/* ---- metrics ---- */

/* Registers (or finds) the request metrics and the duration children, one per method. */
static int setup_metrics(cp_kube_client_t *c, const cp_kubeconfig_t *cfg, cp_metrics_t *reg) {
  static const double buckets[] = {0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60};
  if (!reg)
    return 0;
  const char *host = strstr(cfg->server, "://");
  host = host ? host + 3 : cfg->server;
  snprintf(c->metric_host, sizeof c->metric_host, "%.*s", (int)strcspn(host, "/?#"), host);
  int r =
      cp_metrics_counter(reg, "rest_client_requests_total",
                         "Number of HTTP requests, partitioned by status code, method, and host.",
                         CP_LABELS("code", "host", "method", NULL), &c->m_requests);
  if (r == 0)
    r = cp_metrics_histogram(reg, "rest_client_request_duration_seconds",
                             "Request latency in seconds. Broken down by verb, and host.",
                             CP_LABELS("host", "verb", NULL), buckets,
                             sizeof buckets / sizeof *buckets, &c->m_duration);
  for (size_t i = 0; r == 0 && i < NMETHODS; i++)
    r = cp_metric_child(c->m_duration, CP_LABELS(c->metric_host, METHODS[i]), &c->durations[i]);
  return r;
}

/* Counts one request answered with code (0: no answer) and, when secs >= 0, observes its
 * duration. Unknown methods are not counted (every caller here uses METHODS). */
static void count_request(cp_kube_client_t *c, const char *method, long code, double secs) {
  if (!c->m_requests)
    return;
  size_t m = 0;
  while (m < NMETHODS && strcmp(METHODS[m], method) != 0)
    m++;
  if (m == NMETHODS)
    return;
  if (secs >= 0)
    cp_metric_child_observe(c->durations[m], secs);
  for (size_t i = 0; i < c->ncounted; i++) {
    if (c->counted[i].method == METHODS[m] && c->counted[i].code == code) {
      cp_metric_child_add(c->counted[i].child, 1);
      return;
    }
  }
  char num[24];
  snprintf(num, sizeof num, "%ld", code);
  cp_metric_child_t *child;
  if (cp_metric_child(c->m_requests, CP_LABELS(code ? num : "<error>", c->metric_host, METHODS[m]),
                      &child) != 0)
    return;
  cp_metric_child_add(child, 1);
  if (c->ncounted < MAX_COUNTED)
    c->counted[c->ncounted++] = (counted_t){METHODS[m], code, child};
}

static bool set_blob(CURL *h, CURLoption opt, const cp_blob_t *b) {
  if (!b->data)
    return true;
  struct curl_blob blob = {b->data, b->len, CURL_BLOB_COPY};
  return curl_easy_setopt(h, opt, &blob) == CURLE_OK;
}

static size_t on_write(char *p, size_t size, size_t n, void *ud);
static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un);

int cp_kube_client_new(const cp_kubeconfig_t *cfg, const cp_kube_client_opts_t *opts,
                       cp_kube_client_t **out) {
  static const cp_kube_client_opts_t defaults = {0};
  if (!cfg || !cfg->server || !out)
    return CP_EINVAL;
  if (!opts)
    opts = &defaults;
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) /* thread-safe since 7.84 */
    return CP_EINTERNAL;
  cp_kube_client_t *c = calloc(1, sizeof *c);
  if (!c)
    return CP_ENOMEM;
  int r = CP_ENOMEM;
  c->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
  c->max_body = opts->max_body ? opts->max_body : DEFAULT_MAX_BODY;
  c->max_retries = opts->max_retries == 0  ? DEFAULT_MAX_RETRIES
                   : opts->max_retries < 0 ? 0
                                           : opts->max_retries;
  c->qps = opts->qps > 0 ? opts->qps : 0;
  c->burst = opts->burst > 0 ? opts->burst : 1;
  c->tokens = c->burst;
  c->last = now_s();
  if (!(c->curl = curl_easy_init()) ||
      !(c->user_agent = strdup(opts->user_agent ? opts->user_agent : DEFAULT_USER_AGENT)) ||
      (opts->field_manager && !(c->field_manager = strdup(opts->field_manager))) ||
      (cfg->token && !(c->token = strdup(cfg->token))) ||
      (cfg->token_file && !(c->token_file = strdup(cfg->token_file))))
    goto fail;
  if ((r = setup_server(c, cfg)) != 0 || (r = setup_metrics(c, cfg, opts->metrics)) != 0)
    goto fail;

  CURL *h = c->curl;
  long connect_ms =
      opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
  bool ok = curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
  ok = ok && curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf) == CURLE_OK;
  ok = ok && curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS) == CURLE_OK;
  ok = ok && curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms) == CURLE_OK;
  ok = ok && curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent) == CURLE_OK;
  ok = ok && curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "") == CURLE_OK;
  ok = ok && curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L) == CURLE_OK;
  ok = ok && curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 30L) == CURLE_OK;
  ok = ok && curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 15L) == CURLE_OK;
#if LIBCURL_VERSION_NUM >= 0x075500
  ok = ok && curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK;
#endif
  ok = ok && curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write) == CURLE_OK;
  ok = ok && curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress) == CURLE_OK;
  ok = ok && set_blob(h, CURLOPT_CAINFO_BLOB, &cfg->ca);
  ok = ok && set_blob(h, CURLOPT_SSLCERT_BLOB, &cfg->client_cert);
  ok = ok && set_blob(h, CURLOPT_SSLKEY_BLOB, &cfg->client_key);
  ok = ok && curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM") == CURLE_OK;
  ok = ok && curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM") == CURLE_OK;
  if (cfg->insecure_skip_tls_verify) {
    ok = ok && curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L) == CURLE_OK;
    ok = ok && curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L) == CURLE_OK;
  }
  if (c->connect_to)
    ok = ok && curl_easy_setopt(h, CURLOPT_CONNECT_TO, c->connect_to) == CURLE_OK;
  if (!ok) {
    r = CP_ECONFIG;
    goto fail;
  }
  r = CP_ENOMEM;
  if (!(c->multi = curl_multi_init()) ||
      curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX) != CURLM_OK ||
      curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 1L) != CURLM_OK)
    goto fail;
  *out = c;
  return 0;
fail:
  cp_kube_client_free(c);
  return r;
}

void cp_kube_client_free(cp_kube_client_t *c) {
  if (!c)
    return;
  for (size_t i = 0; i < CP_KUBE_BATCH_MAX; i++)
    curl_easy_cleanup(c->lanes[i]); /* none is in the multi between calls */
  curl_easy_cleanup(c->curl);
  curl_multi_cleanup(c->multi); /* closes the connection */
  curl_slist_free_all(c->connect_to);
  free(c->base);
  free(c->host_header);
  wipe_free(c->token);
  free(c->token_file);
  free(c->user_agent);
  free(c->field_manager);
  free(c);
}

/* ---- authentication ---- */

/* Re-reads token_file when it changed since the last read. A failed read keeps the token
 * we have; with none at all the request cannot be authenticated: CP_ECONFIG. */
static int refresh_token(cp_kube_client_t *c, cp_status_t *st) {
  struct stat sb;
  if (!c->token_file)
    return 0;
  if (stat(c->token_file, &sb) == 0 && c->token && sb.st_ino == c->token_stat.st_ino &&
      sb.st_size == c->token_stat.st_size && sb.st_mtim.tv_sec == c->token_stat.st_mtim.tv_sec &&
      sb.st_mtim.tv_nsec == c->token_stat.st_mtim.tv_nsec)
    return 0;
  char buf[MAX_TOKEN_FILE];
  ssize_t n = -1;
  int fd = open(c->token_file, O_RDONLY | O_CLOEXEC);
  if (fd >= 0 && fstat(fd, &sb) == 0 && sb.st_size < (off_t)sizeof buf) {
    size_t got = 0;
    while (got < sizeof buf - 1 && (n = read(fd, buf + got, sizeof buf - 1 - got)) > 0)
      got += (size_t)n;
    n = n < 0 ? -1 : (ssize_t)got;
  }
  if (fd >= 0)
    close(fd);
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
    n--;
  char *tok = n > 0 ? strndup(buf, (size_t)n) : NULL;
  explicit_bzero(buf, sizeof buf);
  if (tok) {
    wipe_free(c->token);
    c->token = tok;
    c->token_stat = sb;
    return 0;
  }
  if (c->token)
    return 0;
  status_msg(st, 0, "bearer token file is unreadable or empty");
  return CP_ECONFIG;
}

/* ---- the transfer ---- */

typedef struct call_s {
  const char *method;
  const char *path;
  const char *query;
  const char *content_type;
  const char *body;
  long timeout_ms;
  curl_off_t max_size;   /* declared-size cap (CURLOPT_MAXFILESIZE_LARGE); 0 = none */
  cp__kube_sink_fn sink; /* NULL: 2xx bodies go to the buffer too */
  void *sink_ud;
  atomic_bool *stop;
  int timed; /* a streamed body that ends (a LIST): counted with its duration at the end,
                not when it starts as a watch is */
} call_t;

typedef struct xfer_s {
  cp_kube_client_t *c;
  CURL *h; /* the handle running it: the client's, or a batch's lane */
  const call_t *call;
  cp_buf_t *body;
  long code; /* response code, read at the first body byte */
  int err;   /* why a callback aborted the transfer */
  int up;    /* the sink was told that a 2xx response started */
} xfer_t;

static size_t on_write(char *p, size_t size, size_t n, void *ud) {
  xfer_t *x = ud;
  size_t len = size * n;
  if (x->code == 0)
    curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->code);
  int r = x->call->sink && x->code >= 200 && x->code < 300 ? x->call->sink(x->call->sink_ud, p, len)
                                                           : cp_buf_append(x->body, p, len);
  if (r) {
    x->err = r;
    return len ? 0 : 1; /* anything but len aborts */
  }
  return len;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un) {
  (void)dt, (void)dn, (void)ut, (void)un;
  xfer_t *x = ud;
  if (x->call->sink && !x->up) {
    long code = 0;
    curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 200 && code < 300) {
      x->up = 1;
      if (!x->call->timed)
        count_request(x->c, x->call->method, code, -1);
      (void)x->call->sink(x->call->sink_ud, NULL, 0); /* headers are in: a stream is up */
    }
  }
  return x->call->stop && atomic_load(x->call->stop) ? 1 : 0;
}

/* Waits for a token from the client-side bucket. */
static void throttle(cp_kube_client_t *c) {
  if (c->qps <= 0)
    return;
  double now = now_s();
  c->tokens += (now - c->last) * c->qps;
  if (c->tokens > c->burst)
    c->tokens = c->burst;
  c->last = now;
  if (c->tokens >= 1) {
    c->tokens -= 1;
    return;
  }
  double wait = (1 - c->tokens) / c->qps;
  cp__kube_sleep_ms((long)(wait * 1000) + 1, NULL);
  c->tokens = 0;
  c->last = now + wait;
}

static int build_headers(cp_kube_client_t *c, const char *content_type, struct curl_slist **out) {
  struct curl_slist *l = NULL, *t;
  char *ct = NULL, *auth = NULL;
  int r = CP_ENOMEM;
  if (!(t = curl_slist_append(l, "Accept: application/json")))
    goto out;
  l = t;
  if (!(t = curl_slist_append(l, "Expect:"))) /* no 100-continue round trip */
    goto out;
  l = t;
  if (content_type) {
    if (!(ct = join3("Content-Type: ", content_type, "")) || !(t = curl_slist_append(l, ct)))
      goto out;
    l = t;
  }
  if (c->host_header) {
    if (!(t = curl_slist_append(l, c->host_header)))
      goto out;
    l = t;
  }
  if (c->token) {
    if (!(auth = join3("Authorization: Bearer ", c->token, "")) ||
        !(t = curl_slist_append(l, auth)))
      goto out;
    l = t;
  }
  *out = l;
  l = NULL;
  r = 0;
out:
  free(ct);
  wipe_free(auth);
  for (t = l; t; t = t->next)
    explicit_bzero(t->data, strlen(t->data));
  curl_slist_free_all(l);
  return r;
}

static void free_headers(struct curl_slist *l) {
  for (struct curl_slist *t = l; t; t = t->next)
    explicit_bzero(t->data, strlen(t->data));
  curl_slist_free_all(l);
}

/* The URL and headers of call k (the token re-read first if its file changed). */
static int prepare(cp_kube_client_t *c, const call_t *k, cp_buf_t *url, struct curl_slist **headers,
                   cp_status_t *st) {
  int r = refresh_token(c, st);
  if (r)
    return r;
  r = cp_buf_puts(url, c->base);
  if (!r)
    r = cp_buf_puts(url, k->path);
  if (!r && k->query && *k->query)
    r = cp_buf_puts(url, "?");
  if (!r && k->query && *k->query)
    r = cp_buf_puts(url, k->query);
  if (!r)
    r = build_headers(c, k->body ? k->content_type : NULL, headers);
  if (r)
    status_msg(st, 0, r == CP_ETOOBIG ? "request URL too long" : "out of memory");
  return r;
}

/* Sets what differs between calls on h. */
static int configure(CURL *h, const call_t *k, const char *url, struct curl_slist *headers,
                     cp_status_t *st) {
  bool post = k->body != NULL;
  bool ok = curl_easy_setopt(h, CURLOPT_URL, url) == CURLE_OK;
  ok = ok && curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers) == CURLE_OK;
  if (post) {
    ok = ok &&
         curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(k->body)) == CURLE_OK;
    ok = ok && curl_easy_setopt(h, CURLOPT_POSTFIELDS, k->body) == CURLE_OK;
  } else {
    ok = ok && curl_easy_setopt(h, CURLOPT_HTTPGET, 1L) == CURLE_OK;
  }
  const char *custom = strcmp(k->method, post ? "POST" : "GET") ? k->method : NULL;
  ok = ok && curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, custom) == CURLE_OK;
  ok = ok && curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, k->timeout_ms) == CURLE_OK;
  ok = ok && curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, k->max_size) == CURLE_OK;
  ok = ok && curl_easy_setopt(h, CURLOPT_NOPROGRESS, k->stop || k->sink ? 0L : 1L) == CURLE_OK;
  if (!ok) {
    status_msg(st, 0, "cannot configure the transfer");
    return CP_EINTERNAL;
  }
  return 0;
}

/* Judges a finished attempt of x (libcurl said rc, errbuf why): 0 or the CP_E* code with
 * st filled. *retry_s > 0 when the answer asks to try again after that many seconds (429,
 * 503 with Retry-After) and attempts are left. */
static int judge(xfer_t *x, CURLcode rc, const char *errbuf, int attempt, cp_status_t *st,
                 long *retry_s) {
  cp_status_t scratch;
  cp_status_t *s = st ? st : &scratch;
  cp_kube_client_t *c = x->c;
  cp_buf_t *resp = x->body;
  long code = 0;
  int r = 0;
  *retry_s = 0;
  curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &code);
  if (x->err) {
    r = x->err;
    char msg[128];
    snprintf(msg, sizeof msg, "response body larger than %zu bytes", resp->limit);
    status_msg(st, code, r == CP_ETOOBIG ? msg : cp_strerror(r));
  } else if (rc != CURLE_OK && code < 400) {
    r = curl_error(rc);
    status_msg(st, code, errbuf[0] ? errbuf : curl_easy_strerror(rc));
  } else if ((r = cp_kube_http_error(code)) != 0) {
    /* An error status counts even if its body was cut: over HTTP/2 the apiserver
     * rejects a request early (401, 403, 429) and resets the stream, and libcurl may
     * then drop the body despite RFC 9113 8.1 ("clients MUST NOT discard"). */
    cp_kube_status_from_body(s, code, resp->data, resp->len);
    if (rc != CURLE_OK && !s->message[0])
      snprintf(s->message, sizeof s->message, "HTTP %ld, response body lost: %s", code,
               errbuf[0] ? errbuf : curl_easy_strerror(rc));
    struct curl_header *ra = NULL;
    bool has_ra = curl_easy_header(x->h, "Retry-After", 0, CURLH_HEADER, -1, &ra) == CURLHE_OK;
    if (has_ra)
      s->retry_after = cp_kube_parse_retry_after(ra->value, time(NULL));
    if ((code == 429 || (code == 503 && has_ra)) && attempt < c->max_retries) {
      long wait = s->retry_after > 0 ? s->retry_after : 1;
      *retry_s = wait > MAX_RETRY_WAIT_S ? MAX_RETRY_WAIT_S : wait;
    }
    if (r == CP_EUNAUTHORIZED && c->token_file)
      c->token_stat.st_ino = 0; /* re-read the token file on the next call */
  }
  if (r == 0 && st)
    memset(st, 0, sizeof *st);
  return r;
}

/* Runs the client's multi handle until no transfer is left in it, removing each finished
 * one and handing it to done. Returns 0, or CP_EIO when libcurl's multi interface failed
 * (then what is still in it is the caller's to remove). */
static int pump(cp_kube_client_t *c, void (*done)(CURL *h, CURLcode rc, void *ud), void *ud) {
  int running = 1;
  while (running > 0) {
    if (curl_multi_perform(c->multi, &running) != CURLM_OK)
      return CP_EIO;
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
      if (m->msg != CURLMSG_DONE)
        continue;
      CURL *h = m->easy_handle; /* m is invalid once h is removed */
      CURLcode rc = m->data.result;
      curl_multi_remove_handle(c->multi, h);
      done(h, rc, ud);
    }
    if (running > 0)
      curl_multi_poll(c->multi, NULL, 0, 1000, NULL);
  }
  return 0;
}

static void one_done(CURL *h, CURLcode rc, void *ud) {
  (void)h;
  *(CURLcode *)ud = rc;
}

/* curl_easy_perform, but through the client's multi handle, so h uses the connection the
 * batches use. */
static CURLcode drive(cp_kube_client_t *c, CURL *h) {
  if (curl_multi_add_handle(c->multi, h) != CURLM_OK)
    return CURLE_FAILED_INIT;
  CURLcode rc = CURLE_RECV_ERROR; /* stays if the multi interface fails */
  if (pump(c, one_done, &rc) != 0)
    curl_multi_remove_handle(c->multi, h);
  return rc;
}

/* Runs one call with retries; resp receives the body (for 2xx only when not streaming).
 * On failure st is filled; on success it is zeroed. */
static int perform(cp_kube_client_t *c, const call_t *k, cp_buf_t *resp, cp_status_t *st) {
  struct curl_slist *headers = NULL;
  cp_buf_t url;
  cp_buf_init(&url, MAX_URL);
  CURL *h = c->curl;
  int r = prepare(c, k, &url, &headers, st);
  if (!r)
    r = configure(h, k, url.data, headers, st);
  for (int attempt = 0; r == 0; attempt++) {
    throttle(c);
    xfer_t x = {c, h, k, resp, 0, 0, 0};
    cp_buf_reset(resp);
    c->errbuf[0] = '\0';
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &x);
    double t0 = now_s();
    CURLcode rc = drive(c, h);
    long code = 0, retry_s = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    if (!x.up || k->timed) /* a watch that started was counted then */
      count_request(c, k->method, code, k->sink && !k->timed ? -1 : now_s() - t0);
    r = judge(&x, rc, c->errbuf, attempt, st, &retry_s);
    if (retry_s > 0 && cp__kube_sleep_ms(retry_s * 1000, k->stop) == 0) {
      r = 0;
      continue;
    }
    break;
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
  free_headers(headers);
  cp_buf_free(&url);
  return r;
}

/* cp_kube_request with the received body length reported (for list_all's cap). */
static int request(cp_kube_client_t *c, const char *method, const char *path, const char *query,
                   const char *content_type, const char *body, cJSON **out, size_t *got,
                   cp_status_t *st) {
  if (!c || !method || !path || *path != '/' || (body && !content_type)) {
    status_msg(st, 0, "invalid request arguments");
    return CP_EINVAL;
  }
  call_t k = {method, path, query, content_type, body, c->timeout_ms, (curl_off_t)c->max_body, NULL,
              NULL,   NULL, 0};
  cp_buf_t resp;
  cp_buf_init(&resp, c->max_body);
  int r = perform(c, &k, &resp, st);
  if (r == 0 && out) {
    cJSON *j = NULL;
    if (resp.len && (r = cp_json_parse(resp.data, resp.len, c->max_body, &j)) != 0) {
      long code = 0;
      curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &code);
      status_msg(st, code, "response is not valid JSON");
    }
    if (r == 0)
      *out = j;
  }
  if (r == 0 && got)
    *got = resp.len;
  cp_buf_free(&resp);
  return r;
}

int cp_kube_request(cp_kube_client_t *c, const char *method, const char *path, const char *query,
                    const char *content_type, const char *body, cJSON **out, cp_status_t *st) {
  return request(c, method, path, query, content_type, body, out, NULL, st);
}

static int stream(cp_kube_client_t *c, const char *path, const char *query, long timeout_ms,
                  atomic_bool *stop, cp__kube_sink_fn sink, void *ud, int timed, cp_status_t *st) {
  if (!c || !path || *path != '/' || !sink) {
    status_msg(st, 0, "invalid request arguments");
    return CP_EINVAL;
  }
  call_t k = {"GET", path, query, NULL, NULL, timeout_ms, 0, sink, ud, stop, timed};
  cp_buf_t resp; /* error bodies only */
  cp_buf_init(&resp, c->max_body);
  int r = perform(c, &k, &resp, st);
  cp_buf_free(&resp);
  return r;
}

int cp__kube_stream(cp_kube_client_t *c, const char *path, const char *query, long timeout_ms,
                    atomic_bool *stop, cp__kube_sink_fn sink, void *ud, cp_status_t *st) {
  return stream(c, path, query, timeout_ms, stop, sink, ud, 0, st);
}

/* ---- typed helpers ---- */

/* Builds the path for gvr/ns/name/sub and runs the call; q may be NULL. */
/* cp_kube_path with the failure said in st. */
static int object_path(cp_buf_t *path, const cp_gvr_t *gvr, const char *ns, const char *name,
                       const char *sub, cp_status_t *st) {
  int r = cp_kube_path(path, gvr, ns, name, sub);
  if (r)
    status_msg(st, 0, "invalid resource, namespace, name or subresource");
  return r;
}

/* The query of a write: fieldManager=fm (none when NULL), force=true with force. */
static int write_query(cp_buf_t *q, const char *fm, bool force, cp_status_t *st) {
  int r = cp_kube_query_add(q, "fieldManager", fm);
  if (!r && force)
    r = cp_kube_query_add(q, "force", "true");
  if (r)
    status_msg(st, 0, "out of memory");
  return r;
}

static int call_object(cp_kube_client_t *c, const char *method, const cp_gvr_t *gvr, const char *ns,
                       const char *name, const char *sub, const cp_buf_t *q,
                       const char *content_type, const char *body, cJSON **out, size_t *got,
                       cp_status_t *st) {
  cp_buf_t path;
  cp_buf_init(&path, 4096);
  int r = object_path(&path, gvr, ns, name, sub, st);
  if (!r)
    r = request(c, method, path.data, q ? q->data : NULL, content_type, body, out, got, st);
  cp_buf_free(&path);
  return r;
}

/* Serializes obj and sends it; fm adds fieldManager, force adds force=true. */
static int send_object(cp_kube_client_t *c, const char *method, const cp_gvr_t *gvr, const char *ns,
                       const char *name, const char *sub, const char *fm, bool force,
                       const char *content_type, const char *body, cJSON **out, cp_status_t *st) {
  if (!body) {
    status_msg(st, 0, "missing or unserializable request body");
    return CP_EINVAL;
  }
  cp_buf_t q;
  cp_buf_init(&q, MAX_URL);
  int r = write_query(&q, fm, force, st);
  if (!r)
    r = call_object(c, method, gvr, ns, name, sub, &q, content_type, body, out, NULL, st);
  cp_buf_free(&q);
  return r;
}

static int send_json(cp_kube_client_t *c, const char *method, const cp_gvr_t *gvr, const char *ns,
                     const char *name, const char *sub, const char *fm, bool force,
                     const char *content_type, const cJSON *obj, cJSON **out, cp_status_t *st) {
  char *body = obj ? cJSON_PrintUnformatted(obj) : NULL;
  int r = send_object(c, method, gvr, ns, name, sub, fm, force, content_type, body, out, st);
  free(body);
  return r;
}

int cp_kube_get(cp_kube_client_t *c, const cp_gvr_t *gvr, const char *ns, const char *name,
                const char *subresource, cJSON **out, cp_status_t *st) {
  if (!name) {
    status_msg(st, 0, "get needs a name");
    return CP_EINVAL;
  }
  return call_object(c, "GET", gvr, ns, name, subresource, NULL, NULL, NULL, out, NULL, st);
}

/* The query of one LIST page: selectors, limit, continue, resourceVersion(Match). */
static int list_query(const cp_list_opts_t *o, cp_buf_t *q, cp_status_t *st) {
  char limit[32];
  snprintf(limit, sizeof limit, "%ld", o->limit);
  int r = cp_kube_query_add(q, "labelSelector", o->label_selector);
  if (!r)
    r = cp_kube_query_add(q, "fieldSelector", o->field_selector);
  if (!r && o->limit > 0)
    r = cp_kube_query_add(q, "limit", limit);
  if (!r && o->continue_token && *o->continue_token)
    r = cp_kube_query_add(q, "continue", o->continue_token);
  if (!r)
    r = cp_kube_query_add(q, "resourceVersion", o->resource_version);
  if (!r)
    r = cp_kube_query_add(q, "resourceVersionMatch", o->resource_version_match);
  if (r)
    status_msg(st, 0, r == CP_ETOOBIG ? "list query too long" : "out of memory");
  return r;
}

static int list_page(cp_kube_client_t *c, const cp_gvr_t *gvr, const char *ns,
                     const cp_list_opts_t *o, cJSON **out, size_t *got, cp_status_t *st) {
  cp_buf_t q;
  cp_buf_init(&q, MAX_URL);
  int r = list_query(o, &q, st);
  if (!r)
    r = call_object(c, "GET", gvr, ns, NULL, NULL, &q, NULL, NULL, out, got, st);
  cp_buf_free(&q);
  return r;
}

int cp_kube_list(cp_kube_client_t *c, const cp_gvr_t *gvr, const char *ns,
                 const cp_list_opts_t *opts, cJSON **out, cp_status_t *st) {
  static const cp_list_opts_t none = {0};
  return list_page(c, gvr, ns, opts ? opts : &none, out, NULL, st);
}

#define LIST_REST_MAX ((size_t)1 << 20) /* a List without its items: kind, metadata */

typedef struct each_s {
  cp_list_split_t split;
  cp_list_item_fn fn;
  void *ud;
} each_t;

static int each_sink(void *ud, const char *data, size_t len) {
  each_t *e = ud;
  return data ? cp_list_split_feed(&e->split, data, len, e->fn, e->ud) : 0;
}

int cp_kube_list_each(cp_kube_client_t *c, const cp_gvr_t *gvr, const char *ns,
                      const cp_list_opts_t *opts, atomic_bool *stop, cp_list_item_fn fn, void *ud,
                      cJSON **list, cp_status_t *st) {
  static const cp_list_opts_t none = {0};
  *list = NULL;
  if (!c || !fn) {
    status_msg(st, 0, "invalid request arguments");
    return CP_EINVAL;
  }
  cp_buf_t path, q;
  cp_buf_init(&path, 4096);
  cp_buf_init(&q, MAX_URL);
  each_t e = {.fn = fn, .ud = ud};
  cp_list_split_init(&e.split, c->max_body, LIST_REST_MAX);
  int r = cp_kube_path(&path, gvr, ns, NULL, NULL);
  if (r)
    status_msg(st, 0, "invalid resource or namespace");
  if (!r)
    r = list_query(opts ? opts : &none, &q, st);
  if (!r)
    r = stream(c, path.data, q.data, c->timeout_ms, stop, each_sink, &e, 1, st);
  if (!r && (r = cp_list_split_end(&e.split, list)) != 0)
    status_msg(st, 200, "the list's body is not a JSON List");
  cp_list_split_free(&e.split);
  cp_buf_free(&path);
  cp_buf_free(&q);
  return r;
}

int cp_kube_list_all(cp_kube_client_t *c, const cp_gvr_t *gvr, const char *ns,
                     const cp_list_opts_t *opts, cJSON **items, char **resource_version,
                     cp_status_t *st) {
  cp_list_opts_t o = {0};
  if (opts)
    o = *opts;
  o.continue_token = NULL;
  cJSON *all = cJSON_CreateArray(), *page = NULL;
  char *cont = NULL, *rv = NULL;
  size_t total = 0;
  int r = all ? 0 : CP_ENOMEM;
  if (r)
    status_msg(st, 0, "out of memory");
  while (r == 0) {
    size_t got = 0;
    cJSON_Delete(page);
    page = NULL;
    if ((r = list_page(c, gvr, ns, &o, &page, &got, st)) != 0)
      break;
    total += got;
    if (c && total > c->max_body) {
      r = CP_ETOOBIG;
      status_msg(st, 200, "list larger than the client's max_body");
      break;
    }
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(page, "items");
    while (cJSON_IsArray(arr) && arr->child)
      cJSON_AddItemToArray(all, cJSON_DetachItemFromArray(arr, 0));
    const char *v = cp_json_strv(page, "metadata", "resourceVersion", NULL);
    const char *next = cp_json_strv(page, "metadata", "continue", NULL);
    free(rv);
    free(cont);
    rv = strdup(v ? v : "");
    cont = next && *next ? strdup(next) : NULL;
    if (!rv || (next && *next && !cont)) {
      r = CP_ENOMEM;
      status_msg(st, 0, "out of memory");
      break;
    }
    if (!cont)
      break;
    /* The continue token pins the snapshot; resourceVersion must not be sent with it. */
    o.continue_token = cont;
    o.resource_version = NULL;
    o.resource_version_match = NULL;
  }
  cJSON_Delete(page);
  free(cont);
  if (r == 0) {
    *items = all;
    if (resource_version)
      *resource_version = rv;
    else
      free(rv);
    return 0;
  }
  cJSON_Delete(all);
  free(rv);
  return r;
}

/* ---- batches ---- */

/* One write of a batch on its lane: what it sends and what came back. */
typedef struct lane_s {
  call_t k;
  cp_buf_t path, query, url, resp;
  char *body;
  struct curl_slist *headers;
  xfer_t x;
  int attempt;
  int pending; /* to be sent (again) in the next round */
  int added;   /* in the multi handle now */
  double t0;
} lane_t;

/* Makes lanes 0..n-1 where missing: copies of the client's configured handle that wait for
 * the one connection to say whether it multiplexes (PIPEWAIT) instead of queueing. */
static int lanes_ready(cp_kube_client_t *c, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (c->lanes[i])
      continue;
    CURL *h = curl_easy_duphandle(c->curl);
    if (!h || curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->lane_err[i]) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_PIPEWAIT, 1L) != CURLE_OK) {
      curl_easy_cleanup(h);
      return CP_ENOMEM;
    }
    c->lanes[i] = h;
  }
  return 0;
}

/* Builds op's request on lane l (handle h). 0, or the error with op->st filled. */
static int lane_start(cp_kube_client_t *c, CURL *h, cp_kube_op_t *op, lane_t *l) {
  static const char *const methods[] = {
      [CP_KUBE_OP_APPLY] = "PATCH", [CP_KUBE_OP_CREATE] = "POST", [CP_KUBE_OP_UPDATE] = "PUT"};
  cp_status_t *st = &op->st;
  bool apply = op->kind == CP_KUBE_OP_APPLY;
  const char *fm = apply ? op->field_manager : c->field_manager;
  if ((unsigned)op->kind > CP_KUBE_OP_UPDATE || !op->gvr || !op->obj ||
      (op->kind != CP_KUBE_OP_CREATE && !op->name) || (apply && (!fm || !*fm))) {
    status_msg(st, 0, "invalid batch operation: kind, resource, object, name or field manager");
    return CP_EINVAL;
  }
  int r = object_path(&l->path, op->gvr, op->ns, op->kind == CP_KUBE_OP_CREATE ? NULL : op->name,
                      op->subresource, st);
  if (!r)
    r = write_query(&l->query, fm, apply && op->force, st);
  if (!r && !(l->body = cJSON_PrintUnformatted(op->obj))) {
    r = CP_ENOMEM;
    status_msg(st, 0, "out of memory");
  }
  if (r)
    return r;
  l->k = (call_t){methods[op->kind],
                  l->path.data,
                  l->query.data,
                  apply ? "application/apply-patch+yaml" : "application/json",
                  l->body,
                  c->timeout_ms,
                  (curl_off_t)c->max_body,
                  NULL,
                  NULL,
                  NULL,
                  0};
  r = prepare(c, &l->k, &l->url, &l->headers, st);
  if (!r)
    r = configure(h, &l->k, l->url.data, l->headers, st);
  return r;
}

/* A round of a batch, for lane_done. */
typedef struct round_s {
  cp_kube_client_t *c;
  cp_kube_op_t *ops;
  lane_t *lanes;
  size_t n;
  long wait_s; /* the longest wait a retried op asked for */
} round_t;

/* A finished transfer of a lane: judged, counted, and its answer kept or sent again. */
static void lane_done(CURL *h, CURLcode rc, void *ud) {
  round_t *rd = ud;
  cp_kube_client_t *c = rd->c;
  size_t i = 0;
  while (i < rd->n && c->lanes[i] != h)
    i++;
  if (i == rd->n)
    return;
  cp_kube_op_t *op = &rd->ops[i];
  lane_t *l = &rd->lanes[i];
  l->added = 0;
  long code = 0, retry_s = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
  count_request(c, l->k.method, code, now_s() - l->t0);
  op->rc = judge(&l->x, rc, c->lane_err[i], l->attempt, &op->st, &retry_s);
  if (retry_s > 0) {
    l->pending = 1;
    l->attempt++;
    rd->wait_s = retry_s > rd->wait_s ? retry_s : rd->wait_s;
  } else if (op->rc == 0 && op->want_out && l->resp.len &&
             cp_json_parse(l->resp.data, l->resp.len, c->max_body, &op->out) != 0) {
    op->rc = CP_EPARSE;
    status_msg(&op->st, code, "response is not valid JSON");
  }
}

/* Runs up to CP_KUBE_BATCH_MAX ops at once, rounds repeating what asked to be retried. */
static void batch_chunk(cp_kube_client_t *c, cp_kube_op_t *ops, size_t n) {
  lane_t lanes[CP_KUBE_BATCH_MAX];
  memset(lanes, 0, sizeof lanes);
  for (size_t i = 0; i < n; i++) {
    lane_t *l = &lanes[i];
    cp_buf_init(&l->path, 4096);
    cp_buf_init(&l->query, MAX_URL);
    cp_buf_init(&l->url, MAX_URL);
    cp_buf_init(&l->resp, c->max_body);
    ops[i].rc = lane_start(c, c->lanes[i], &ops[i], l);
    l->pending = ops[i].rc == 0;
  }
  for (;;) {
    size_t busy = 0;
    for (size_t i = 0; i < n; i++) {
      lane_t *l = &lanes[i];
      if (!l->pending)
        continue;
      throttle(c);
      cp_buf_reset(&l->resp);
      l->x = (xfer_t){c, c->lanes[i], &l->k, &l->resp, 0, 0, 0};
      c->lane_err[i][0] = '\0';
      curl_easy_setopt(c->lanes[i], CURLOPT_WRITEDATA, &l->x);
      curl_easy_setopt(c->lanes[i], CURLOPT_XFERINFODATA, &l->x);
      l->pending = 0;
      l->t0 = now_s();
      if (curl_multi_add_handle(c->multi, c->lanes[i]) != CURLM_OK) {
        ops[i].rc = CP_EINTERNAL;
        status_msg(&ops[i].st, 0, "cannot start the transfer");
        continue;
      }
      lanes[i].added = 1;
      busy++;
    }
    if (!busy)
      break;
    round_t rd = {c, ops, lanes, n, 0};
    pump(c, lane_done, &rd);
    for (size_t i = 0; i < n; i++) { /* the multi failed: whatever it still holds */
      if (lanes[i].added) {
        curl_multi_remove_handle(c->multi, c->lanes[i]);
        lanes[i].added = 0;
        ops[i].rc = CP_EIO;
        status_msg(&ops[i].st, 0, "the batch's transfers failed");
      }
    }
    if (rd.wait_s > 0)
      cp__kube_sleep_ms(rd.wait_s * 1000, NULL);
  }
  for (size_t i = 0; i < n; i++) {
    curl_easy_setopt(c->lanes[i], CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c->lanes[i], CURLOPT_POSTFIELDS, NULL);
    free_headers(lanes[i].headers);
    free(lanes[i].body);
    cp_buf_free(&lanes[i].path);
    cp_buf_free(&lanes[i].query);
    cp_buf_free(&lanes[i].url);
    cp_buf_free(&lanes[i].resp);
  }
}

int cp_kube_batch(cp_kube_client_t *c, cp_kube_op_t *ops, size_t n) {
  if (!c || (n && !ops))
    return CP_EINVAL;
  for (size_t i = 0; i < n; i++) {
    ops[i].rc = 0;
    ops[i].out = NULL;
    memset(&ops[i].st, 0, sizeof ops[i].st);
  }
  int r = lanes_ready(c, n < CP_KUBE_BATCH_MAX ? n : CP_KUBE_BATCH_MAX);
  for (size_t i = 0; r && i < n; i++) {
    ops[i].rc = r;
    status_msg(&ops[i].st, 0, "out of memory");
  }
  for (size_t at = 0; !r && at < n; at += CP_KUBE_BATCH_MAX)
    batch_chunk(c, ops + at, n - at < CP_KUBE_BATCH_MAX ? n - at : CP_KUBE_BATCH_MAX);
  for (size_t i = 0; i < n; i++)
    if (ops[i].rc)
      return ops[i].rc;
  return 0;
}

int cp_kube_create(cp_kube_client_t *c, const cp_gvr_t *gvr, const char *ns, const cJSON *obj,
                   cJSON **out, cp_status_t *st) {
  return send_json(c, "POST", gvr, ns, NULL, NULL, c ? c->field_manager : NULL, false,
                   "application/json", obj, out, st);
}

int cp_kube_update(cp_kube_client_t *c, const cp_gvr_t *gvr, const char *ns, const char *name,
                   const char *subresource, const cJSON *obj, cJSON **out, cp_status_t *st) {
  if (!name) {
    status_msg(st, 0, "update needs a name");
    return CP_EINVAL;
  }
  return send_json(c, "PUT", gvr, ns, name, subresource, c ? c->field_manager : NULL, false,
                   "application/json", obj, out, st);
}

int cp_kube_apply(cp_kube_client_t *c, const cp_gvr_t *gvr, const char *ns, const char *name,
                  const char *subresource, const cJSON *obj, const char *field_manager, bool force,
                  cJSON **out, cp_status_t *st) {
  if (!name || !field_manager || !*field_manager) {
    status_msg(st, 0, "server-side apply needs a name and a field manager");
    return CP_EINVAL;
  }
  return send_json(c, "PATCH", gvr, ns, name, subresource, field_manager, force,
                   "application/apply-patch+yaml", obj, out, st);
}

int cp_kube_patch(cp_kube_client_t *c, const cp_gvr_t *gvr, const char *ns, const char *name,
                  const char *subresource, cp_patch_type_t type, const char *patch, cJSON **out,
                  cp_status_t *st) {
  static const char *const types[] = {
      [CP_PATCH_MERGE] = "application/merge-patch+json",
      [CP_PATCH_JSON] = "application/json-patch+json",
      [CP_PATCH_STRATEGIC] = "application/strategic-merge-patch+json",
  };
  if (!name || (unsigned)type > CP_PATCH_STRATEGIC) {
    status_msg(st, 0, "patch needs a name and a known patch type");
    return CP_EINVAL;
  }
  return send_object(c, "PATCH", gvr, ns, name, subresource, c ? c->field_manager : NULL, false,
                     types[type], patch, out, st);
}

int cp_kube_delete(cp_kube_client_t *c, const cp_gvr_t *gvr, const char *ns, const char *name,
                   const cp_delete_opts_t *opts, cJSON **out, cp_status_t *st) {
  if (!name) {
    status_msg(st, 0, "delete needs a name");
    return CP_EINVAL;
  }
  cJSON *o = cJSON_CreateObject();
  bool ok = o && cJSON_AddStringToObject(o, "kind", "DeleteOptions") &&
            cJSON_AddStringToObject(o, "apiVersion", "v1");
  if (ok && opts && opts->propagation_policy)
    ok = cJSON_AddStringToObject(o, "propagationPolicy", opts->propagation_policy) != NULL;
  if (ok && opts && opts->grace_period_seconds)
    ok = cJSON_AddNumberToObject(o, "gracePeriodSeconds",
                                 opts->grace_period_seconds > 0 ? (double)opts->grace_period_seconds
                                                                : 0) != NULL;
  if (ok && opts && (opts->uid || opts->resource_version)) {
    cJSON *pre = cJSON_AddObjectToObject(o, "preconditions");
    ok = pre && (!opts->uid || cJSON_AddStringToObject(pre, "uid", opts->uid)) &&
         (!opts->resource_version ||
          cJSON_AddStringToObject(pre, "resourceVersion", opts->resource_version));
  }
  int r = CP_ENOMEM;
  if (ok)
    r = send_json(c, "DELETE", gvr, ns, name, NULL, NULL, false, "application/json", o, out, st);
  else
    status_msg(st, 0, "out of memory");
  cJSON_Delete(o);
  return r;
}
