/* The file API: /api/v1/users/{user}/files/{path} proxied to that user's file service.
 *
 * A request is authorized like the runtime endpoints (own user or admin; an admin naming an
 * unknown user gets 404), then answered from the UserRuntime cache when the runtime cannot
 * serve files: none (404), Stopped or Hibernated (409, saying how to start it), or the
 * apiserver has no --files-key-file (501). A job on the worker pool then reads the pod
 * (its address, and whether it has the `files` sidecar at all: 501 when the controller
 * runs without --files-image), the profile's limits (files.maxUploadSize, files.quota;
 * with a quota an upload first measures the workspace by listing it through the sidecar)
 * and writes the audit record of a write (PUT, POST, DELETE) before anything is changed:
 * if PostgreSQL is down nothing happens and the client gets 503.
 *
 * The transfer itself runs on the loop: one libcurl easy handle on the apiserver's uvcurl
 * driver to http://<pod IP>:8090/v1/files/<path>, with the token the apiserver derives
 * from the shared key (auth/filestoken.h), never read from a Secret. Bodies stream both
 * ways, nothing is ever held whole:
 *   upload   the client's body arrives through the HTTP server's body sink into `in`
 *            (a small buffer); past IN_HIGH bytes the client's socket is paused, and
 *            libcurl's read callback pauses the transfer when `in` is empty; each side
 *            resumes the other.
 *   download libcurl's write callback writes into the client's stream; past OUT_HIGH
 *            unsent bytes, or OUT_HIGH bytes written since the last drain callback, it
 *            pauses the transfer (CURL_WRITEFUNC_PAUSE, which stops reading the sidecar's
 *            socket), and the stream's drain callback resumes it.
 * Answers (status, Content-Type, Content-Length, Range and caching headers, errors' JSON)
 * are the sidecar's, passed through unchanged.
 *
 * Lifetime: a proxied request (fx_t) ends when the transfer is done and the answer is
 * finished, or when the client goes away (the transfer is cancelled). Loop thread only,
 * except the prepare job.
 */
#include "api.h"

#include "auth/filestoken.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/time.h"
#include "http/uvcurl.h"
#include "json/json.h"
#include "kube/quantity.h"
#include "log/log.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define IN_HIGH (1u << 20)      /* upload bytes waiting for the sidecar: pause the client */
#define IN_LOW (256u << 10)     /* ... and resume it below this */
#define IN_LIMIT (8u << 20)     /* hard cap of that buffer */
#define OUT_HIGH (512u << 10)   /* unsent download bytes: pause the sidecar */
#define OUT_LOW (128u << 10)    /* ... and resume it below this */
#define HDRS_MAX 12             /* response headers passed through */
#define HDR_BYTES 4096          /* their total size */
#define WALK_MAX_ENTRIES 100000 /* quota measurement: entries listed at most */
#define WALK_MAX_SECONDS 20
#define DEFAULT_MAX_UPLOAD ((int64_t)1 << 30)

/* Response headers of the sidecar's answer that reach the client. */
static const char *const PASS[] = {"Content-Type",  "Content-Range",        "ETag",
                                   "Last-Modified", "Accept-Ranges",        "Content-Disposition",
                                   "Allow",         "X-Clawplane-Max-Bytes"};

struct api_files_s {
  api_app_t *a;
  api_ctx_t *c; /* owned once the transfer starts */
  cp_http_request_t *req;
  CURL *easy;
  struct curl_slist *hdrs;
  bool in_multi, started, head, in_cb, gone, counted;
  /* inputs copied on the loop for the prepare job */
  char *rest;      /* "/a/b" or "" after /files, as sent (percent-encoded) */
  char *post_body; /* POST: the JSON body */
  size_t post_len;
  int64_t content_length; /* PUT: the client's Content-Length, -1 chunked */
  char ns[API_NAME_MAX], name[API_NAME_MAX], uid[64], profile[API_NAME_MAX];
  char range[128], if_none_match[256], content_type[128];
  /* results of the prepare job */
  char ip[64];
  char token[CP_FILES_TOKEN_LEN + 1];
  int64_t max_bytes; /* PUT: cap sent as X-Clawplane-Max-Bytes */
  /* client -> sidecar */
  bool streamed, body_ended, client_paused, read_paused;
  cp_buf_t in;
  size_t in_off;
  /* sidecar -> client */
  bool write_paused;
  size_t burst; /* bytes written since the last drain callback */
  char hbuf[HDR_BYTES];
  size_t hlen;
  const char *hv[2 * HDRS_MAX + 1];
  size_t nh;
  uint64_t up, down;
};

typedef struct api_files_s fx_t;

static void fx_free(fx_t *f) {
  if (!f)
    return;
  if (f->easy)
    curl_easy_cleanup(f->easy);
  curl_slist_free_all(f->hdrs);
  cp_buf_free(&f->in);
  free(f->rest);
  free(f->post_body);
  OPENSSL_cleanse(f->token, sizeof f->token);
  if (f->counted)
    f->a->inflight--;
  free(f);
}

void cp__api_files_free(struct api_files_s *f) {
  fx_free(f);
}

/* --- answers --------------------------------------------------------------------------- */

/* Ends f: frees the ctx (logging the answer) and f. The request is finished already. */
static void fx_end(fx_t *f, int status) {
  api_ctx_t *c = f->c;
  c->files = NULL;
  c->status = status;
  cp__api_observe(c, status);
  c->req = NULL;
  cp__api_ctx_free(c);
  fx_free(f);
}

/* Answers an error from the loop after the transfer was set up (or failed to be). */
static void fx_fail(fx_t *f, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fx_fail(fx_t *f, int status, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  snprintf(f->c->msg, sizeof f->c->msg, "%s", msg);
  if (f->req) {
    cp_http_request_set_on_abort(f->req, NULL, NULL);
    if (cp_http_json_error(f->req, status, msg) != 0)
      cp_http_abort(f->req);
    f->req = NULL;
  }
  fx_end(f, status);
}

/* --- sidecar -> client ----------------------------------------------------------------- */

static size_t on_header(char *p, size_t sz, size_t n, void *ud) {
  fx_t *f = ud;
  size_t len = sz * n;
  if (len >= 5 && !strncmp(p, "HTTP/", 5)) { /* a new answer (after 100 Continue) */
    f->hlen = 0;
    f->nh = 0;
    return len;
  }
  const char *colon = memchr(p, ':', len);
  if (!colon)
    return len;
  size_t nl = (size_t)(colon - p);
  for (size_t i = 0; i < sizeof PASS / sizeof *PASS; i++) {
    if (strlen(PASS[i]) != nl || strncasecmp(p, PASS[i], nl) != 0)
      continue;
    const char *v = colon + 1, *end = p + len;
    while (v < end && (*v == ' ' || *v == '\t'))
      v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
      end--;
    size_t vl = (size_t)(end - v);
    if (f->nh + 2 > 2 * HDRS_MAX || f->hlen + nl + vl + 2 > sizeof f->hbuf)
      break;
    char *name = f->hbuf + f->hlen;
    memcpy(name, PASS[i], nl + 1);
    f->hlen += nl + 1;
    char *val = f->hbuf + f->hlen;
    memcpy(val, v, vl);
    val[vl] = '\0';
    f->hlen += vl + 1;
    f->hv[f->nh++] = name;
    f->hv[f->nh++] = val;
    break;
  }
  return len;
}

static void on_drain(cp_http_request_t *req, void *ud);

/* Starts the client's answer with the sidecar's status and headers. Returns 0 or an error
 * (the request is then aborted). */
static int start(fx_t *f) {
  long status = 0;
  curl_off_t len = -1;
  curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_getinfo(f->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
  f->c->status = (int)status;
  f->hv[f->nh] = NULL;
  f->started = true;
  int rc;
  if (len >= 0)
    rc = cp_http_stream_start_length(f->req, (int)status, f->hv, (uint64_t)len);
  else
    rc = cp_http_stream_start(f->req, (int)status, f->hv);
  if (rc == 0)
    cp_http_stream_set_on_drain(f->req, OUT_LOW, on_drain, f);
  return rc;
}

static size_t on_write(char *p, size_t sz, size_t n, void *ud) {
  fx_t *f = ud;
  size_t len = sz * n;
  if (!f->req || f->gone)
    return 0; /* the client went away: fail the transfer */
  if (!f->started && start(f) != 0)
    return 0;
  /* Unsent bytes are not all: a write the socket took at once keeps its copy until its
   * callback runs on the next loop turn, and libcurl may deliver many pieces in one turn
   * (it reads while the socket has data). So at most OUT_HIGH bytes per drain cycle too. */
  if (cp_http_stream_pending(f->req) >= OUT_HIGH || f->burst >= OUT_HIGH) {
    f->write_paused = true;
    return CURL_WRITEFUNC_PAUSE;
  }
  int rc = cp_http_stream_write(f->req, p, len);
  if (rc == CP_ETOOBIG) {
    f->write_paused = true;
    return CURL_WRITEFUNC_PAUSE;
  }
  if (rc != 0)
    return 0;
  f->down += len;
  f->burst += len;
  return len;
}

static void on_drain(cp_http_request_t *req, void *ud) {
  fx_t *f = ud;
  cp_http_stream_set_on_drain(req, OUT_LOW, on_drain, f);
  f->burst = 0;
  if (f->write_paused && f->in_multi) {
    f->write_paused = false;
    cp_uvcurl_unpause(f->a->files_curl, f->easy);
  }
}

/* --- client -> sidecar ----------------------------------------------------------------- */

static void resume_transfer(fx_t *f) {
  if (f->read_paused && f->in_multi) {
    f->read_paused = false;
    cp_uvcurl_unpause(f->a->files_curl, f->easy);
  }
}

static void on_body(cp_http_request_t *req, const char *data, size_t len, void *ud) {
  fx_t *f = ud;
  if (f->in_off > 0 && f->in_off == f->in.len) {
    cp_buf_reset(&f->in);
    f->in_off = 0;
  } else if (f->in_off > IN_LOW) {
    cp_buf_consume(&f->in, f->in_off);
    f->in_off = 0;
  }
  if (cp_buf_append(&f->in, data, len) != 0) {
    f->gone = true; /* cannot happen while pausing works; fail the transfer */
    resume_transfer(f);
    return;
  }
  f->up += len;
  if (f->in.len - f->in_off >= IN_HIGH && !f->client_paused) {
    f->client_paused = true;
    cp_http_request_pause(req);
  }
  resume_transfer(f);
}

static void on_body_end(cp_http_request_t *req, void *ud) {
  (void)req;
  fx_t *f = ud;
  f->body_ended = true;
  resume_transfer(f);
}

static size_t on_read(char *buf, size_t sz, size_t n, void *ud) {
  fx_t *f = ud;
  size_t cap = sz * n, avail = f->in.len - f->in_off;
  if (f->gone || !f->req)
    return CURL_READFUNC_ABORT;
  if (avail == 0) {
    if (f->body_ended)
      return 0;
    f->read_paused = true;
    return CURL_READFUNC_PAUSE;
  }
  size_t k = avail < cap ? avail : cap;
  memcpy(buf, f->in.data + f->in_off, k);
  f->in_off += k;
  if (f->client_paused && f->in.len - f->in_off < IN_LOW) {
    f->client_paused = false;
    cp_http_request_resume(f->req); /* never re-entrant: bytes come on a later turn */
  }
  return k;
}

/* --- the transfer ---------------------------------------------------------------------- */

void cp__api_files_done(CURL *easy, CURLcode result, void *ud) {
  (void)easy;
  fx_t *f = ud;
  f->in_multi = false;
  if (!f->req) {
    fx_end(f, f->c->status ? f->c->status : 499);
    return;
  }
  cp_http_request_set_on_abort(f->req, NULL, NULL);
  if (result != CURLE_OK && !f->started) {
    cp_log_warn("file service unreachable", "user", f->c->target, "address", f->ip, "error",
                curl_easy_strerror(result), NULL);
    fx_fail(f, 502, "the file service of this runtime did not answer (%s); retry shortly",
            curl_easy_strerror(result));
    return;
  }
  if (!f->started && (f->head || f->c->status == 204 || f->c->status == 304 || !f->c->status)) {
    /* no body: a plain answer (HEAD keeps the sidecar's headers) */
    long status = 0;
    curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &status);
    f->c->status = (int)status;
    f->hv[f->nh] = NULL;
    if (cp_http_respond_headers(f->req, (int)status, f->hv, NULL, 0) != 0)
      cp_http_abort(f->req);
  } else if (!f->started && start(f) != 0) {
    cp_http_abort(f->req);
  } else if (result != CURLE_OK) {
    /* cut mid-way: close the connection so the client sees a short body */
    cp_log_warn("file transfer cut", "user", f->c->target, "error", curl_easy_strerror(result),
                NULL);
    cp_http_abort(f->req);
  } else if (cp_http_stream_end(f->req) != 0) {
    cp_http_abort(f->req);
  }
  f->req = NULL;
  fx_end(f, f->c->status);
}

static void on_abort(cp_http_request_t *req, void *ud) {
  (void)req;
  fx_t *f = ud;
  f->req = NULL;
  if (f->in_multi) {
    cp_uvcurl_remove(f->a->files_curl, f->easy);
    f->in_multi = false;
  }
  fx_end(f, 499);
}

static int add_header(fx_t *f, const char *name, const char *value) {
  char line[512];
  int n = snprintf(line, sizeof line, "%s: %s", name, value);
  if (n < 0 || (size_t)n >= sizeof line)
    return CP_ETOOBIG;
  struct curl_slist *l = curl_slist_append(f->hdrs, line);
  if (!l)
    return CP_ENOMEM;
  f->hdrs = l;
  OPENSSL_cleanse(line, sizeof line);
  return 0;
}

/* The sidecar URL of f's path: http://IP:8090/v1/files<rest>[?query]. */
static int sidecar_url(const fx_t *f, const char *rest, const char *query, char *url, size_t len) {
  bool v6 = strchr(f->ip, ':') != NULL;
  int n = snprintf(url, len, "http://%s%s%s:%d/v1/files%s%s%s", v6 ? "[" : "", f->ip, v6 ? "]" : "",
                   8090, rest, query && *query ? "?" : "", query ? query : "");
  return n < 0 || (size_t)n >= len ? CP_ETOOBIG : 0;
}

static int setup_easy(fx_t *f) {
  api_ctx_t *c = f->c;
  size_t ulen = strlen(f->rest) + (c->query ? strlen(c->query) : 0) + 128;
  char *url = malloc(ulen);
  if (!url || sidecar_url(f, f->rest, c->query, url, ulen) != 0) {
    free(url);
    return CP_ENOMEM;
  }
  char auth[CP_FILES_TOKEN_LEN + 8];
  snprintf(auth, sizeof auth, "Bearer %s", f->token);
  int rc = add_header(f, "Authorization", auth);
  OPENSSL_cleanse(auth, sizeof auth);
  if (rc == 0 && f->range[0])
    rc = add_header(f, "Range", f->range);
  if (rc == 0 && f->if_none_match[0])
    rc = add_header(f, "If-None-Match", f->if_none_match);
  if (rc == 0 && f->content_type[0])
    rc = add_header(f, "Content-Type", f->content_type);
  if (rc == 0 && !strcmp(c->method, "PUT") && f->max_bytes > 0) {
    char v[32];
    snprintf(v, sizeof v, "%" PRId64, f->max_bytes);
    rc = add_header(f, "X-Clawplane-Max-Bytes", v);
  }
  f->easy = rc == 0 ? curl_easy_init() : NULL;
  if (!f->easy) {
    free(url);
    return rc ? rc : CP_ENOMEM;
  }
  CURL *e = f->easy;
  curl_easy_setopt(e, CURLOPT_URL, url);
  free(url);
  curl_easy_setopt(e, CURLOPT_PRIVATE, f);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http");
  curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L); /* "../" reaches the sidecar, which refuses it */
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, f->hdrs);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, f);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
  curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 64L * 1024);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  /* a stalled sidecar (not a slow client: a paused transfer is not "low speed") */
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 120L);
  if (f->head) {
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else if (!strcmp(c->method, "PUT")) {
    curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(e, CURLOPT_READDATA, f);
    if (f->content_length >= 0)
      curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)f->content_length);
  } else if (!strcmp(c->method, "POST")) {
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, f->post_body ? f->post_body : "");
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)f->post_len);
  } else if (!strcmp(c->method, "DELETE")) {
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE");
  }
  return 0;
}

/* --- the prepare job (worker thread) ----------------------------------------------------- */

static int64_t profile_bytes(const cJSON *profile, const char *key, int64_t dflt) {
  const char *s = cp_json_strv(profile, "spec", "files", key, NULL);
  int64_t v;
  if (!s || cp_quantity_value(s, &v) != 0 || v <= 0)
    return dflt;
  return v;
}

typedef struct walk_s {
  CURL *easy;
  cp_buf_t body;
  int64_t used;
  long entries;
  double deadline;
} walk_t;

static size_t walk_write(char *p, size_t sz, size_t n, void *ud) {
  walk_t *w = ud;
  return cp_buf_append(&w->body, p, sz * n) == 0 ? sz * n : 0;
}

/* Sums the sizes of the files under dir (percent-encoded, "" for the root, no trailing
 * slash), listing it page by page and descending into directories. Returns 0 or an
 * error (too many entries, too slow, the sidecar refused). */
static int walk_dir(fx_t *f, walk_t *w, const char *dir, int depth) {
  char cont[1024] = "";
  if (depth > 32)
    return CP_ETOOBIG; /* each level holds ~18 KiB of this worker's stack */
  do {
    char query[1200], url[8192];
    snprintf(query, sizeof query, "limit=1000%s%s", cont[0] ? "&continue=" : "", cont);
    char rest[4200];
    snprintf(rest, sizeof rest, "%s/", dir);
    if (sidecar_url(f, rest, query, url, sizeof url) != 0)
      return CP_ETOOBIG;
    cp_buf_reset(&w->body);
    curl_easy_setopt(w->easy, CURLOPT_URL, url);
    if (curl_easy_perform(w->easy) != CURLE_OK)
      return CP_EUNAVAILABLE;
    long code = 0;
    curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &code);
    if (code == 404 && depth > 0)
      return 0; /* deleted while we walked: it holds nothing now */
    if (code != 200)
      return CP_EUNAVAILABLE;
    cJSON *doc = NULL;
    if (cp_json_parse(w->body.data ? w->body.data : "", w->body.len, w->body.limit, &doc) != 0)
      return CP_EPARSE;
    const char *next = cp_json_strv(doc, "continue", NULL);
    snprintf(cont, sizeof cont, "%s", next ? next : "");
    char *esc = cont[0] ? curl_easy_escape(w->easy, cont, 0) : NULL;
    if (esc) {
      snprintf(cont, sizeof cont, "%s", esc);
      curl_free(esc);
    }
    const cJSON *it;
    int rc = 0;
    cJSON_ArrayForEach(it, cp_json_getv(doc, "entries", NULL)) {
      if (++w->entries > WALK_MAX_ENTRIES || cp_time_mono() > w->deadline) {
        rc = CP_ETOOBIG;
        break;
      }
      const char *type = cp_json_strv(it, "type", NULL), *name = cp_json_strv(it, "name", NULL);
      const cJSON *size = cp_json_getv(it, "size", NULL);
      if (type && !strcmp(type, "file") && cJSON_IsNumber(size))
        w->used += (int64_t)size->valuedouble;
      if (type && !strcmp(type, "dir") && name) {
        char *e = curl_easy_escape(w->easy, name, 0);
        char sub[4200];
        int n = e ? snprintf(sub, sizeof sub, "%s/%s", dir, e) : -1;
        curl_free(e);
        if (n < 0 || (size_t)n >= sizeof sub)
          rc = CP_ETOOBIG;
        else
          rc = walk_dir(f, w, sub, depth + 1);
        if (rc != 0)
          break;
      }
    }
    cJSON_Delete(doc);
    if (rc != 0)
      return rc;
  } while (cont[0]);
  return 0;
}

/* Bytes in f's workspace, into *used. Blocking (worker thread). */
static int workspace_usage(fx_t *f, int64_t *used) {
  walk_t w = {.easy = curl_easy_init(), .deadline = cp_time_mono() + WALK_MAX_SECONDS};
  if (!w.easy)
    return CP_ENOMEM;
  cp_buf_init(&w.body, 16u << 20);
  struct curl_slist *h = NULL;
  char auth[CP_FILES_TOKEN_LEN + 32];
  snprintf(auth, sizeof auth, "Authorization: Bearer %s", f->token);
  h = curl_slist_append(NULL, auth);
  OPENSSL_cleanse(auth, sizeof auth);
  curl_easy_setopt(w.easy, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(w.easy, CURLOPT_PROTOCOLS_STR, "http");
  curl_easy_setopt(w.easy, CURLOPT_WRITEFUNCTION, walk_write);
  curl_easy_setopt(w.easy, CURLOPT_WRITEDATA, &w);
  curl_easy_setopt(w.easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(w.easy, CURLOPT_TIMEOUT, (long)WALK_MAX_SECONDS);
  int rc = h ? walk_dir(f, &w, "", 0) : CP_ENOMEM;
  curl_slist_free_all(h);
  curl_easy_cleanup(w.easy);
  cp_buf_free(&w.body);
  if (rc == 0)
    *used = w.used;
  return rc;
}

/* What a write is called in the audit log: files.upload, files.mkdir, files.move,
 * files.delete (files.write for a POST whose action is not known). */
static const char *audit_action(const fx_t *f, const char **to) {
  const char *m = f->c->method;
  *to = NULL;
  if (!strcmp(m, "PUT"))
    return "files.upload";
  if (!strcmp(m, "DELETE"))
    return "files.delete";
  cJSON *body = NULL;
  const char *what = "files.write";
  if (f->post_body && cp_json_parse(f->post_body, f->post_len, 16384, &body) == 0) {
    const char *act = cp_json_strv(body, "action", NULL);
    if (act && !strcmp(act, "mkdir"))
      what = "files.mkdir";
    else if (act && !strcmp(act, "move"))
      what = "files.move";
  }
  cJSON_Delete(body);
  return what;
}

static int audit(api_ctx_t *c, api_worker_t *w, fx_t *f) {
  const char *to;
  const char *action = audit_action(f, &to);
  cJSON *d = cJSON_CreateObject();
  cJSON *body = NULL;
  if (d) {
    cJSON_AddStringToObject(d, "path", *f->rest ? f->rest : "/");
    if (f->content_length >= 0 && !strcmp(c->method, "PUT"))
      cJSON_AddNumberToObject(d, "bytes", (double)f->content_length);
    if (f->post_body && cp_json_parse(f->post_body, f->post_len, 16384, &body) == 0 &&
        cp_json_strv(body, "to", NULL))
      cJSON_AddStringToObject(d, "to", cp_json_strv(body, "to", NULL));
    if (c->query && *c->query)
      cJSON_AddStringToObject(d, "query", c->query);
  }
  cJSON_Delete(body);
  cp_pg_error_t e = {0};
  int rc = cp__api_audit(w, c, action, c->target, "requested", d, &e);
  cJSON_Delete(d);
  if (rc != 0)
    cp__api_fail_db(c, rc, &e, "record the file change");
  return rc;
}

/* The pod: its address, and whether it runs the file service and that is ready. */
static int find_pod(api_ctx_t *c, api_worker_t *w, fx_t *f) {
  cp_status_t st = {0};
  cJSON *pod = NULL;
  int rc = cp_kube_get(w->kc, &CP_GVR_PODS, f->ns, f->name, NULL, &pod, &st);
  if (rc == CP_ENOTFOUND) {
    cp__api_fail(c, 503, "the runtime of %s has no pod yet; retry when it is Running", c->target);
    snprintf(c->retry_after, sizeof c->retry_after, "2");
    return rc;
  }
  if (rc != 0) {
    cp__api_fail_kube(c, rc, &st, "read the runtime's pod");
    return rc;
  }
  const cJSON *it, *found = NULL;
  cJSON_ArrayForEach(it, cp_json_getv(pod, "spec", "containers", NULL)) {
    const char *n = cp_json_strv(it, "name", NULL);
    if (n && !strcmp(n, "files"))
      found = it;
  }
  bool ready = false;
  cJSON_ArrayForEach(it, cp_json_getv(pod, "status", "containerStatuses", NULL)) {
    const char *n = cp_json_strv(it, "name", NULL);
    if (n && !strcmp(n, "files"))
      ready = cJSON_IsTrue(cp_json_getv(it, "ready", NULL));
  }
  const char *ip = cp_json_strv(pod, "status", "podIP", NULL);
  rc = CP_EUNAVAILABLE;
  if (!found) {
    cp__api_fail(c, 501,
                 "the runtime of %s has no file service: the controller runs without "
                 "--files-image (chart value images.files)",
                 c->target);
  } else if (!ip || !*ip || !ready) {
    cp__api_fail(c, 503, "the file service of %s is starting; retry shortly", c->target);
    snprintf(c->retry_after, sizeof c->retry_after, "2");
  } else {
    snprintf(f->ip, sizeof f->ip, "%s", ip);
    rc = 0;
  }
  cJSON_Delete(pod);
  return rc;
}

/* Limits from the profile; with a quota, an upload measures the workspace first. */
static int check_limits(api_ctx_t *c, api_worker_t *w, fx_t *f) {
  cp_status_t st = {0};
  cJSON *profile = NULL;
  int rc = cp_kube_get(w->kc, &API_PROFILE_GVR, NULL, f->profile, NULL, &profile, &st);
  if (rc != 0 && rc != CP_ENOTFOUND) {
    cp__api_fail_kube(c, rc, &st, "read the RuntimeProfile");
    return rc;
  }
  int64_t max = profile_bytes(profile, "maxUploadSize", DEFAULT_MAX_UPLOAD);
  int64_t quota = profile_bytes(profile, "quota", -1);
  cJSON_Delete(profile);
  if (f->content_length > max) {
    cp__api_fail(c, 413, "the file has %" PRId64 " bytes; profile %s allows at most %" PRId64,
                 f->content_length, f->profile, max);
    return CP_ETOOBIG;
  }
  f->max_bytes = max;
  if (quota < 0)
    return 0;
  int64_t used = 0;
  rc = workspace_usage(f, &used);
  if (rc != 0) {
    cp__api_fail(c, 503,
                 "could not measure the workspace of %s against its quota (%s); retry shortly",
                 c->target, cp_strerror(rc));
    return rc;
  }
  int64_t left = quota - used;
  if (left <= 0 || f->content_length > left) {
    cp__api_fail(c, 507,
                 "the files of %s use %" PRId64 " of their %" PRId64
                 " byte quota (profile %s); this upload does not fit: delete files first",
                 c->target, used, quota, f->profile);
    return CP_ETOOBIG;
  }
  if (left < f->max_bytes)
    f->max_bytes = left;
  return 0;
}

static void prepare_work(api_ctx_t *c, api_worker_t *w) {
  fx_t *f = c->files;
  bool write = strcmp(c->method, "GET") != 0 && strcmp(c->method, "HEAD") != 0;
  if (cp_files_token(c->app->files_key, c->app->files_key_len, f->ns, f->name, f->uid, f->token) !=
      0) {
    cp__api_fail(c, 500, "could not derive the file service token");
    return;
  }
  if (find_pod(c, w, f) != 0)
    return;
  if (!strcmp(c->method, "PUT") && check_limits(c, w, f) != 0)
    return;
  if (write)
    audit(c, w, f);
}

static void prepare_done(api_ctx_t *c) {
  fx_t *f = c->files;
  if (!c->req || c->status) {
    cp__api_finish(c); /* frees c and f (cp__api_ctx_free) */
    return;
  }
  f->req = c->req;
  if (setup_easy(f) != 0) {
    cp__api_fail(c, 500, "could not set up the transfer");
    cp__api_finish(c);
    return;
  }
  /* from here f owns c and answers itself */
  cp_http_request_set_on_abort(f->req, on_abort, f);
  f->a->inflight++;
  f->counted = true;
  if (f->streamed && cp_http_request_set_body_sink(f->req, on_body, on_body_end, f) != 0) {
    fx_fail(f, 500, "%s", "could not read the upload");
    return;
  }
  if (cp_uvcurl_add(f->a->files_curl, f->easy) != 0) {
    fx_fail(f, 503, "%s", "the server is shutting down");
    return;
  }
  f->in_multi = true;
}

/* --- the handler (loop) ------------------------------------------------------------------- */

/* The part of the request path after .../files ("" for the root). */
static const char *path_rest(const char *path) {
  const char *p = path + strlen("/api/v1/users/");
  p = strchr(p, '/');
  return p ? p + strlen("/files") : "";
}

/* A ".." or "." segment, raw: refused here too (the sidecar refuses encoded ones). */
static bool dot_segment(const char *rest) {
  for (const char *s = rest; *s;) {
    s += strspn(s, "/");
    size_t n = strcspn(s, "/");
    if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
      return true;
    s += n;
  }
  return false;
}

void cp__api_files(api_ctx_t *c) {
  api_app_t *a = c->app;
  cp_http_request_t *req = c->req;
  if (!a->files_key_len) {
    cp__api_fail(c, 501,
                 "the file service is not configured on this server (apiserver --files-key-file, "
                 "chart value images.files)");
    cp__api_finish(c);
    return;
  }
  if (!cp_informer_synced(a->informer)) {
    cp__api_fail(c, 503, "starting: the runtime cache is not filled yet; retry shortly");
    snprintf(c->retry_after, sizeof c->retry_after, "1");
    cp__api_finish(c);
    return;
  }
  const char *rest = path_rest(req->path);
  if (dot_segment(rest)) {
    cp__api_fail(c, 400, "\".\" and \"..\" are not allowed in file paths");
    cp__api_finish(c);
    return;
  }
  cp_obj_t *o = cp__api_cached_runtime(a, c->target);
  if (!o) {
    cp__api_fail(c, 404,
                 "user %s has no runtime, so no files; create it with `clawctl start` or POST "
                 "/api/v1/users/%s/runtime/start",
                 c->target, c->target);
    cp__api_finish(c);
    return;
  }
  const char *phase = cp_json_strv(o->json, "status", "phase", NULL);
  const char *state = cp_json_strv(o->json, "spec", "state", NULL);
  bool stopped = (state && !strcmp(state, "Stopped")) ||
                 (phase && (!strcmp(phase, "Stopped") || !strcmp(phase, "Hibernated")));
  if (stopped) {
    const char *what = phase && !strcmp(phase, "Hibernated") ? "hibernated" : "stopped";
    cp__api_fail(c, 409,
                 "the runtime of %s is %s, so its files cannot be reached; start it with "
                 "`clawctl start` or POST /api/v1/users/%s/runtime/start, then retry",
                 c->target, what, c->target);
    cp_obj_unref(o);
    cp__api_finish(c);
    return;
  }
  fx_t *f = calloc(1, sizeof *f);
  if (f) {
    f->a = a;
    f->c = c;
    f->content_length = -1;
    f->head = !strcmp(c->method, "HEAD");
    cp_buf_init(&f->in, IN_LIMIT);
    snprintf(f->ns, sizeof f->ns, "%s", o->namespace_);
    snprintf(f->name, sizeof f->name, "%s", o->name);
    snprintf(f->uid, sizeof f->uid, "%s",
             cp_json_strv(o->json, "metadata", "uid", NULL)
                 ? cp_json_strv(o->json, "metadata", "uid", NULL)
                 : "");
    const char *prof = cp_json_strv(o->json, "spec", "profile", NULL);
    snprintf(f->profile, sizeof f->profile, "%s", prof ? prof : "default");
    f->rest = strdup(rest);
    c->files = f;
  }
  cp_obj_unref(o);
  if (!f || !f->rest) {
    cp__api_fail(c, 500, "out of memory");
    cp__api_finish(c);
    return;
  }
  const char *h;
  if ((h = cp_http_header(req, "Range")))
    snprintf(f->range, sizeof f->range, "%s", h);
  if ((h = cp_http_header(req, "If-None-Match")))
    snprintf(f->if_none_match, sizeof f->if_none_match, "%s", h);
  if ((h = cp_http_header(req, "Content-Type")))
    snprintf(f->content_type, sizeof f->content_type, "%s", h);
  if (!strcmp(c->method, "PUT")) {
    f->streamed = true;
    const char *cl = cp_http_header(req, "Content-Length");
    char *end = NULL;
    if (cl) {
      unsigned long long v = strtoull(cl, &end, 10);
      if (end == cl || *end || v > INT64_MAX) {
        cp__api_fail(c, 400, "invalid Content-Length");
        cp__api_finish(c);
        return;
      }
      f->content_length = (int64_t)v;
    }
  } else if (!strcmp(c->method, "POST")) {
    f->post_body = malloc(req->body_len + 1);
    if (!f->post_body) {
      cp__api_fail(c, 500, "out of memory");
      cp__api_finish(c);
      return;
    }
    memcpy(f->post_body, req->body, req->body_len);
    f->post_body[req->body_len] = '\0';
    f->post_len = req->body_len;
  }
  if (cp__api_queue(c, prepare_work, prepare_done) != 0) {
    cp__api_fail(c, 500, "could not schedule the request");
    cp__api_finish(c);
  }
}

int cp__api_files_stream_filter(const cp_http_request_t *req, void *ud) {
  (void)ud;
  static const char prefix[] = "/api/v1/users/";
  if (strcmp(req->method, "PUT") != 0 || strncmp(req->path, prefix, sizeof prefix - 1) != 0)
    return 0;
  const char *p = strchr(req->path + sizeof prefix - 1, '/');
  return p && !strncmp(p, "/files/", 7);
}
