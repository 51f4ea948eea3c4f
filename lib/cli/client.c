/* The apiserver client (see client.h). One easy handle is reused for keep-alive; streams
 * run it under a multi handle so that a tick (the spinner) comes every 100 ms whether or
 * not bytes arrive. The bearer token goes through CURLOPT_XOAUTH2_BEARER, so it is never in
 * a header list of ours and curl drops it on a redirect to another host. */
#include "cli/client.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/table.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/str.h"
#include "json/json.h"
#include "kube/client.h"
#include "modelproxy/sse.h"

struct cp_cli_client_s {
  CURL *h;
  char server[512];
  char token[512];
};

int cp_cli_client_new(const char *server, const char *token, cp_cli_client_t **out) {
  static int global_done;
  if (!server || strlen(server) >= 512 || (token && strlen(token) >= 512))
    return CP_EINVAL;
  if (!global_done) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      return CP_ENOMEM;
    global_done = 1;
  }
  cp_cli_client_t *c = calloc(1, sizeof *c);
  if (!c)
    return CP_ENOMEM;
  c->h = curl_easy_init();
  if (!c->h) {
    free(c);
    return CP_ENOMEM;
  }
  cp_str_copy(c->server, sizeof c->server, server);
  size_t n = strlen(c->server);
  while (n > 0 && c->server[n - 1] == '/')
    c->server[--n] = '\0';
  cp_str_copy(c->token, sizeof c->token, token);
  *out = c;
  return 0;
}

void cp_cli_client_free(cp_cli_client_t *c) {
  if (!c)
    return;
  curl_easy_cleanup(c->h);
  OPENSSL_cleanse(c->token, sizeof c->token);
  free(c);
}

int cp_cli_escape(const char *s, char *dst, size_t n) {
  static const char hex[] = "0123456789ABCDEF";
  size_t o = 0;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    int plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                *p == '-' || *p == '.' || *p == '_' || *p == '~';
    if (o + (plain ? 1 : 3) >= n)
      return CP_ETOOBIG;
    if (plain) {
      dst[o++] = (char)*p;
    } else {
      dst[o++] = '%';
      dst[o++] = hex[*p >> 4];
      dst[o++] = hex[*p & 15];
    }
  }
  if (n == 0)
    return CP_ETOOBIG;
  dst[o] = '\0';
  return 0;
}

static int code_of_curl(CURLcode cc) {
  switch (cc) {
  case CURLE_OPERATION_TIMEDOUT:
    return CP_ETIMEOUT;
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CACERT_BADFILE:
    return CP_ETLS;
  default:
    return CP_ECONNECT;
  }
}

/* Fills st from an error body: {"error":{"message"}} if it parses, else its first line. */
static void status_from_body(cp_cli_status_t *st, long http, const cp_buf_t *b) {
  st->http = http;
  cJSON *root = NULL;
  const char *msg = NULL;
  if (b->len && cp_json_parse(b->data, b->len, CP_CLI_BODY_MAX, &root) == 0)
    msg = cp_json_strv(root, "error", "message", NULL);
  if (msg)
    cp_cli_cell_clean(st->message, sizeof st->message, msg);
  else if (b->len)
    cp_cli_cell_clean(st->message, sizeof st->message < 200 ? sizeof st->message : 200, b->data);
  else
    snprintf(st->message, sizeof st->message, "HTTP %ld", http);
  cJSON_Delete(root);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
  cp_buf_t *b = ud;
  return cp_buf_append(b, p, size * n) == 0 ? size * n : 0;
}

static int prepare_as(cp_cli_client_t *c, const char *method, const char *path, const char *accept,
                      const char *ctype, struct curl_slist **hdrs, cp_cli_status_t *st) {
  char url[2048];
  int w = snprintf(url, sizeof url, "%s%s", c->server, path);
  if (w < 0 || (size_t)w >= sizeof url) {
    snprintf(st->message, sizeof st->message, "request URL too long");
    return CP_ETOOBIG;
  }
  CURL *h = c->h;
  curl_easy_reset(h);
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "clawctl/0.1.0");
#if CURL_AT_LEAST_VERSION(7, 85, 0)
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
  if (strcmp(method, "GET") != 0)
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
  if (c->token[0]) {
    curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
    curl_easy_setopt(h, CURLOPT_XOAUTH2_BEARER, c->token);
  }
  char acc[64];
  snprintf(acc, sizeof acc, "Accept: %s", accept);
  struct curl_slist *l = curl_slist_append(NULL, acc);
  char ct[80];
  snprintf(ct, sizeof ct, "Content-Type: %s", ctype);
  struct curl_slist *l2 = l ? curl_slist_append(l, ct) : NULL;
  if (!l2) {
    curl_slist_free_all(l);
    return CP_ENOMEM;
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, l2);
  *hdrs = l2;
  return 0;
}

static int prepare(cp_cli_client_t *c, const char *method, const char *path, const char *accept,
                   struct curl_slist **hdrs, cp_cli_status_t *st) {
  return prepare_as(c, method, path, accept, "application/json", hdrs, st);
}

int cp_cli_call(cp_cli_client_t *c, const char *method, const char *path, const cJSON *body,
                cJSON **out, cp_cli_status_t *st) {
  memset(st, 0, sizeof *st);
  struct curl_slist *hdrs = NULL;
  int rc = prepare(c, method, path, "application/json", &hdrs, st);
  if (rc)
    return rc;
  char *text = NULL;
  if (body) {
    text = cJSON_PrintUnformatted(body);
    if (!text) {
      curl_slist_free_all(hdrs);
      return CP_ENOMEM;
    }
    curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, text);
  } else if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
    curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, "");
  }
  cp_buf_t b;
  cp_buf_init(&b, CP_CLI_BODY_MAX);
  curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, 60000L);
  curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &b);
  CURLcode cc = curl_easy_perform(c->h);
  long http = 0;
  curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &http);
  if (cc == CURLE_WRITE_ERROR && b.len == b.limit) {
    snprintf(st->message, sizeof st->message, "the answer is larger than %d MiB",
             CP_CLI_BODY_MAX >> 20);
    rc = CP_ETOOBIG;
  } else if (cc != CURLE_OK) {
    snprintf(st->message, sizeof st->message, "%.300s: %s", c->server, curl_easy_strerror(cc));
    rc = code_of_curl(cc);
  } else if (http < 200 || http > 299) {
    status_from_body(st, http, &b);
    rc = cp_kube_http_error(http); /* the same status mapping as the kube client's */
  } else {
    st->http = http;
    cJSON *root = NULL;
    if (b.len && cp_json_parse(b.data, b.len, CP_CLI_BODY_MAX, &root) != 0) {
      snprintf(st->message, sizeof st->message, "the server's answer is not JSON");
      rc = CP_EPARSE;
    } else if (out) {
      *out = root;
    } else {
      cJSON_Delete(root);
    }
  }
  if (text) {
    OPENSSL_cleanse(text, strlen(text)); /* a login or password body */
    free(text);
  }
  cp_buf_free(&b);
  curl_slist_free_all(hdrs);
  return rc;
}

typedef struct stream_s {
  cp_cli_client_t *c;
  cp_sse_t sse;
  cp_buf_t err; /* the body of a non-200 answer */
  long http;
  int result; /* 0 going on, 1 the callback ended it, <0 its error */
  int too_big;
  cp_cli_event_fn on_event;
  void *ud;
} stream_t;

static int on_sse(const cp_sse_event_t *ev, void *ud) {
  stream_t *s = ud;
  if (!ev->has_data && !ev->event[0])
    return 0; /* a comment (keep-alive) */
  int r = s->on_event(ev->event, ev->data, s->ud);
  if (r != 0) {
    s->result = r;
    return CP_ECANCELED;
  }
  return 0;
}

static size_t on_stream(char *p, size_t size, size_t n, void *ud) {
  stream_t *s = ud;
  size_t len = size * n;
  if (s->http == 0)
    curl_easy_getinfo(s->c->h, CURLINFO_RESPONSE_CODE, &s->http);
  if (s->http != 200)
    return cp_buf_append(&s->err, p, len) == 0 ? len : 0;
  int rc = cp_sse_feed(&s->sse, p, len, on_sse, s);
  if (rc == CP_ETOOBIG)
    s->too_big = 1;
  return rc == 0 ? len : 0;
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cp_cli_stream(cp_cli_client_t *c, const char *path, long timeout_ms, cp_cli_event_fn on_event,
                  cp_cli_tick_fn on_tick, void *ud, cp_cli_status_t *st) {
  memset(st, 0, sizeof *st);
  struct curl_slist *hdrs = NULL;
  int rc = prepare(c, "GET", path, "text/event-stream", &hdrs, st);
  if (rc)
    return rc;
  stream_t s = {.c = c, .on_event = on_event, .ud = ud};
  cp_sse_init(&s.sse, CP_CLI_EVENT_MAX);
  cp_buf_init(&s.err, 64 * 1024);
  curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_stream);
  curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &s);
  CURLM *m = curl_multi_init();
  if (!m || curl_multi_add_handle(m, c->h) != CURLM_OK) {
    rc = CP_ENOMEM;
    goto out;
  }
  long deadline = timeout_ms > 0 ? now_ms() + timeout_ms : 0;
  CURLcode cc = CURLE_OK;
  int running = 1, timed_out = 0;
  while (running) {
    if (curl_multi_perform(m, &running) != CURLM_OK)
      break;
    if (!running)
      break;
    curl_multi_poll(m, NULL, 0, 100, NULL);
    if (on_tick)
      on_tick(ud);
    if (deadline && now_ms() >= deadline) {
      timed_out = 1;
      break;
    }
  }
  int left;
  CURLMsg *msg;
  while ((msg = curl_multi_info_read(m, &left)))
    if (msg->msg == CURLMSG_DONE)
      cc = msg->data.result;
  curl_multi_remove_handle(m, c->h);
  if (s.result == 1) {
    rc = 0;
  } else if (s.result < 0) {
    rc = s.result;
  } else if (timed_out) {
    snprintf(st->message, sizeof st->message, "no answer within %ld s", timeout_ms / 1000);
    rc = CP_ETIMEOUT;
  } else if (s.too_big) {
    snprintf(st->message, sizeof st->message, "an event larger than 1 MiB");
    rc = CP_ETOOBIG;
  } else if (s.http != 0 && s.http != 200) {
    status_from_body(st, s.http, &s.err);
    rc = s.http / 100 == 2 ? CP_EHTTP : cp_kube_http_error(s.http); /* a stream wants 200 */
  } else if (cc != CURLE_OK) {
    snprintf(st->message, sizeof st->message, "%.300s: %s", c->server, curl_easy_strerror(cc));
    rc = code_of_curl(cc);
  } else {
    snprintf(st->message, sizeof st->message, "the server ended the event stream");
    rc = CP_ECANCELED;
  }
out:
  curl_multi_cleanup(m);
  cp_sse_free(&s.sse);
  cp_buf_free(&s.err);
  curl_slist_free_all(hdrs);
  return rc;
}

/* --- file transfers: bodies streamed between a file descriptor and the server ---------- */

typedef struct xfer_s {
  cp_cli_client_t *c;
  int in_fd;  /* upload: the bytes sent; -1 otherwise */
  int out_fd; /* download: where a 2xx body goes; -1: into body */
  long http;
  cp_buf_t body; /* an error answer, or an upload's JSON answer */
  int io_errno;  /* reading or writing a descriptor failed */
  cp_cli_progress_fn progress;
  void *ud;
} xfer_t;

static size_t xfer_write(char *p, size_t size, size_t n, void *ud) {
  xfer_t *x = ud;
  size_t len = size * n;
  if (x->http == 0)
    curl_easy_getinfo(x->c->h, CURLINFO_RESPONSE_CODE, &x->http);
  if (x->http < 200 || x->http > 299 || x->out_fd < 0)
    return cp_buf_append(&x->body, p, len) == 0 ? len : 0;
  for (size_t off = 0; off < len;) {
    ssize_t w = write(x->out_fd, p + off, len - off);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0) {
      x->io_errno = w < 0 ? errno : EIO;
      return 0;
    }
    off += (size_t)w;
  }
  return len;
}

static size_t xfer_read(char *p, size_t size, size_t n, void *ud) {
  xfer_t *x = ud;
  for (;;) {
    ssize_t r = read(x->in_fd, p, size * n);
    if (r >= 0)
      return (size_t)r;
    if (errno != EINTR) {
      x->io_errno = errno;
      return CURL_READFUNC_ABORT;
    }
  }
}

static int xfer_info(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                     curl_off_t ulnow) {
  xfer_t *x = ud;
  if (x->progress) {
    if (x->in_fd >= 0)
      x->progress((unsigned long long)ulnow, (unsigned long long)ultotal, x->ud);
    else
      x->progress((unsigned long long)dlnow, (unsigned long long)dltotal, x->ud);
  }
  return 0;
}

/* Runs a prepared transfer and maps its outcome like cp_cli_call. */
static int xfer_run(xfer_t *x, cJSON **out, cp_cli_status_t *st) {
  CURL *h = x->c->h;
  cp_buf_init(&x->body, 64 * 1024);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, xfer_write);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, xfer_info);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);
  CURLcode cc = curl_easy_perform(h);
  long http = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &http);
  int rc = 0;
  if (x->io_errno) {
    snprintf(st->message, sizeof st->message, "%s", strerror(x->io_errno));
    rc = CP_EIO;
  } else if (http && (http < 200 || http > 299)) {
    status_from_body(st, http, &x->body); /* also when it answered before the body was sent */
    rc = cp_kube_http_error(http);
  } else if (cc != CURLE_OK) {
    snprintf(st->message, sizeof st->message, "%.300s: %s", x->c->server, curl_easy_strerror(cc));
    rc = code_of_curl(cc);
  } else {
    st->http = http;
    cJSON *root = NULL;
    if (out && x->body.len && cp_json_parse(x->body.data, x->body.len, CP_CLI_BODY_MAX, &root) == 0)
      *out = root;
    if (x->progress) {
      curl_off_t total = 0;
      curl_easy_getinfo(h, x->in_fd >= 0 ? CURLINFO_SIZE_UPLOAD_T : CURLINFO_SIZE_DOWNLOAD_T,
                        &total);
      x->progress((unsigned long long)total, (unsigned long long)total, x->ud);
    }
  }
  cp_buf_free(&x->body);
  return rc;
}

int cp_cli_download(cp_cli_client_t *c, const char *path, int fd, cp_cli_progress_fn progress,
                    void *ud, cp_cli_status_t *st) {
  memset(st, 0, sizeof *st);
  struct curl_slist *hdrs = NULL;
  int rc = prepare(c, "GET", path, "*/*", &hdrs, st);
  if (rc)
    return rc;
  xfer_t x = {.c = c, .in_fd = -1, .out_fd = fd, .progress = progress, .ud = ud};
  rc = xfer_run(&x, NULL, st);
  curl_slist_free_all(hdrs);
  return rc;
}

int cp_cli_upload(cp_cli_client_t *c, const char *path, int fd, long long size,
                  cp_cli_progress_fn progress, void *ud, cJSON **out, cp_cli_status_t *st) {
  memset(st, 0, sizeof *st);
  struct curl_slist *hdrs = NULL;
  int rc = prepare_as(c, "PUT", path, "application/json", "application/octet-stream", &hdrs, st);
  if (rc)
    return rc;
  xfer_t x = {.c = c, .in_fd = fd, .out_fd = -1, .progress = progress, .ud = ud};
  curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, NULL);
  curl_easy_setopt(c->h, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(c->h, CURLOPT_READFUNCTION, xfer_read);
  curl_easy_setopt(c->h, CURLOPT_READDATA, &x);
  if (size >= 0)
    curl_easy_setopt(c->h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)size);
  rc = xfer_run(&x, out, st);
  curl_slist_free_all(hdrs);
  return rc;
}
