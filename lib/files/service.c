/* The file service's HTTP API (see service.h).
 *
 * A request goes: authenticate, parse the path, route by method. Quick operations (stat,
 * list, mkdir, move, delete) answer at once. Transfers get an xfer_t that lives until the
 * response is complete or the client went away (on_abort); downloads and archives are
 * pulled by the server's drain callback, uploads pushed by the body sink. */
#define _GNU_SOURCE /* O_NONBLOCK with O_PATH-free open flags, gmtime_r */
#include "files/service.h"

#include "api/body.h"
#include "auth/token.h"
#include "core/error.h"
#include "core/time.h"
#include "files/fs.h"
#include "files/path.h"
#include "files/tar.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PREFIX "/v1/files"
#define TOKEN_MAX 512
#define LIST_DEFAULT 500
#define LIST_MAX 1000
#define NAMES_MAX 1000000 /* entries of one directory we are willing to sort */

struct cp_files_service_s {
  cp_files_root_t root;
  char *root_path;
  char *token;
  uint64_t max_upload;
  size_t active;
  cp_metric_t *requests, *bytes, *transfers;
};

typedef enum xfer_kind_e { XFER_DOWNLOAD, XFER_ARCHIVE, XFER_UPLOAD } xfer_kind_t;

typedef struct xfer_s {
  cp_files_service_t *svc;
  cp_http_request_t *req;
  xfer_kind_t kind;
  int fd;             /* download */
  uint64_t off, left; /* download: next offset, bytes still to send */
  cp_files_tar_t *tar;
  cp_files_upload_t up;
  uint64_t cap, received;
  size_t held; /* upload: bytes in buf not yet written */
  bool overwrite;
  char path[CP_FILES_PATH_MAX + 1];
  char buf[]; /* CP_FILES_CHUNK: the next piece to send, or received bytes to write */
} xfer_t;

/* ---- answers -------------------------------------------------------------------------- */

static void count(cp_files_service_t *svc, const char *op) {
  if (svc->requests)
    cp_counter_add(svc->requests, CP_LABELS(op), 1);
}

static void count_bytes(cp_files_service_t *svc, const char *dir, size_t n) {
  if (svc->bytes)
    cp_counter_add(svc->bytes, CP_LABELS(dir), (double)n);
}

/* A JSON error whose message names a path: before, the path ("/" for the root), after. */
static void err_path(cp_http_request_t *req, int status, const char *before, const char *path,
                     const char *after) {
  char msg[CP_FILES_PATH_MAX + 256];
  snprintf(msg, sizeof msg, "%s%s%s", before, *path ? path : "/", after);
  cp_http_json_error(req, status, msg);
}

/* Maps a file system error on path to the contract's status and message. */
static void err_errno(cp_http_request_t *req, int e, const char *path) {
  switch (e) {
  case -ENOENT:
  case -ENOTDIR:
    err_path(req, 404, "no such file or directory: '", path, "'");
    break;
  case -EXDEV:
  case -ELOOP:
    err_path(req, 400, "'", path, "' goes through a symlink that leaves the workspace");
    break;
  case -EEXIST:
    err_path(req, 409, "'", path, "' already exists");
    break;
  case -ENOTEMPTY:
    err_path(req, 409, "directory '", path, "' is not empty; add ?recursive=true to delete it all");
    break;
  case -EISDIR:
    err_path(req, 409, "'", path, "' is a directory");
    break;
  case -ENOSPC:
  case -EDQUOT:
    err_path(req, 507, "not enough space in the workspace for '", path, "'");
    break;
  case -EACCES:
  case -EPERM:
    err_path(req, 403, "permission denied: '", path, "'");
    break;
  case -ENAMETOOLONG:
  case -EINVAL:
    err_path(req, 400, "invalid operation on '", path, "'");
    break;
  default: {
    char msg[CP_FILES_PATH_MAX + 256];
    snprintf(msg, sizeof msg, "file system error on '%s': %s", *path ? path : "/", strerror(-e));
    cp_http_json_error(req, 500, msg);
  }
  }
}

static void iso_time(int64_t ns, char *out, size_t n) {
  cp_time_format((double)(ns / 1000000000), out, n);
}

/* {"<key>": value, "type", "size", "modified", "mode", "target"?}; NULL on ENOMEM. */
static cJSON *stat_json(const char *key, const char *value, const cp_files_stat_t *st) {
  cJSON *o = cJSON_CreateObject();
  char when[40], mode[8];
  iso_time(st->mtime_ns, when, sizeof when);
  snprintf(mode, sizeof mode, "%04o", st->mode & 07777);
  if (!o || !cJSON_AddStringToObject(o, key, value) ||
      !cJSON_AddStringToObject(o, "type", cp_files_type_name(st->type)) ||
      !cJSON_AddNumberToObject(o, "size", (double)st->size) ||
      !cJSON_AddStringToObject(o, "modified", when) || !cJSON_AddStringToObject(o, "mode", mode) ||
      (st->type == CP_FILES_SYMLINK && !cJSON_AddStringToObject(o, "target", st->target))) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

/* Sends o (taken over) as JSON with status. */
static void send_json(cp_http_request_t *req, int status, cJSON *o) {
  char *s = o ? cJSON_PrintUnformatted(o) : NULL;
  cJSON_Delete(o);
  if (!s) {
    cp_http_json_error(req, 500, "out of memory");
    return;
  }
  cp_http_respond(req, status, "application/json", s, strlen(s));
  cJSON_free(s);
}

static void send_stat(cp_http_request_t *req, int status, cp_files_service_t *svc,
                      const char *path) {
  cp_files_stat_t st;
  int rc = cp_files_stat(&svc->root, path, &st);
  if (rc)
    err_errno(req, rc, path);
  else
    send_json(req, status, stat_json("path", path, &st));
}

/* ---- small parsers -------------------------------------------------------------------- */

static bool query_true(const cp_http_request_t *req, const char *key) {
  char v[16];
  return cp_api_query_get(req->query, key, v, sizeof v) == 0 &&
         (strcmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

/* Decimal u64 without sign or blanks. Returns 0 or -1. */
static int parse_u64(const char *s, uint64_t *out) {
  uint64_t v = 0;
  if (!s || !*s)
    return -1;
  for (; *s; s++) {
    if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
      return -1;
    v = v * 10 + (uint64_t)(*s - '0');
  }
  *out = v;
  return 0;
}

int cp_files_range_parse(const char *value, uint64_t size, uint64_t *start, uint64_t *len) {
  if (!value || strncmp(value, "bytes=", 6) != 0 || strchr(value, ','))
    return CP_ENOTFOUND;
  const char *spec = value + 6;
  const char *dash = strchr(spec, '-');
  if (!dash)
    return CP_ENOTFOUND;
  char a[24] = "", b[24] = "";
  size_t al = (size_t)(dash - spec), bl = strlen(dash + 1);
  if (al >= sizeof a || bl >= sizeof b)
    return CP_ENOTFOUND;
  memcpy(a, spec, al);
  memcpy(b, dash + 1, bl + 1);
  uint64_t x = 0, y = 0;
  if (al == 0) { /* suffix: the last y bytes */
    if (parse_u64(b, &y) != 0)
      return CP_ENOTFOUND;
    if (y == 0 || size == 0)
      return CP_EINVAL;
    *len = y < size ? y : size;
    *start = size - *len;
    return 0;
  }
  if (parse_u64(a, &x) != 0 || (bl && parse_u64(b, &y) != 0) || (bl && y < x))
    return CP_ENOTFOUND;
  if (x >= size)
    return CP_EINVAL;
  uint64_t last = bl && y < size - 1 ? y : size - 1;
  *start = x;
  *len = last - x + 1;
  return 0;
}

/* Percent-encodes s for filename*=UTF-8''... (RFC 5987 attr-char kept). */
static void pct_name(const char *s, char *out, size_t n) {
  static const char keep[] = "!#$&+-.^_`|~";
  size_t o = 0;
  for (; *s && o + 4 < n; s++) {
    unsigned char c = (unsigned char)*s;
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        strchr(keep, c))
      out[o++] = (char)c;
    else
      o += (size_t)snprintf(out + o, n - o, "%%%02X", c);
  }
  out[o] = '\0';
}

/* ---- transfers ------------------------------------------------------------------------ */

static xfer_t *xfer_new(cp_files_service_t *svc, cp_http_request_t *req, xfer_kind_t kind,
                        const char *path) {
  xfer_t *x = calloc(1, sizeof *x + CP_FILES_CHUNK);
  if (!x)
    return NULL;
  x->svc = svc;
  x->req = req;
  x->kind = kind;
  x->fd = -1;
  x->up.fd = x->up.dirfd = -1;
  snprintf(x->path, sizeof x->path, "%s", path);
  svc->active++;
  return x;
}

static void xfer_free(xfer_t *x) {
  if (x->fd >= 0)
    close(x->fd);
  cp_files_tar_free(x->tar);
  cp_files_upload_cancel(&x->up);
  x->svc->active--;
  free(x);
}

static void xfer_abort(cp_http_request_t *req, void *ud) {
  (void)req;
  xfer_free(ud);
}

/* Sends the next chunks while the connection has little unsent. Ends or aborts the
 * response when done or on a read error. */
static void pump(cp_http_request_t *req, void *ud) {
  xfer_t *x = ud;
  while (cp_http_stream_pending(req) <= CP_FILES_CHUNK) {
    ssize_t n;
    if (x->kind == XFER_DOWNLOAD) {
      if (x->left == 0)
        break;
      size_t want = x->left < CP_FILES_CHUNK ? (size_t)x->left : CP_FILES_CHUNK;
      n = pread(x->fd, x->buf, want, (off_t)x->off);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        goto cut; /* shrank under us: the client sees a short body */
      x->off += (uint64_t)n;
      x->left -= (uint64_t)n;
    } else {
      n = cp_files_tar_read(x->tar, x->buf, CP_FILES_CHUNK);
      if (n < 0)
        goto cut;
      if (n == 0) {
        x->left = 0;
        break;
      }
      x->left = 1;
    }
    if (cp_http_stream_write(req, x->buf, (size_t)n) != 0)
      goto cut;
    count_bytes(x->svc, "download", (size_t)n);
  }
  if (x->left == 0) {
    if (cp_http_stream_end(req) != 0)
      cp_http_abort(req);
    xfer_free(x);
  }
  return;
cut:
  cp_http_abort(req);
  xfer_free(x);
}

/* Starts pulling a download or archive response already started on req. */
static void pump_start(xfer_t *x) {
  cp_http_request_set_on_abort(x->req, xfer_abort, x);
  cp_http_stream_set_on_drain(x->req, CP_FILES_CHUNK, pump, x);
  pump(x->req, x);
}

/* ---- GET and HEAD --------------------------------------------------------------------- */

static void get_list(cp_files_service_t *svc, cp_http_request_t *req, const char *path) {
  char v[CP_FILES_NAME_MAX * 2 + 8], after[CP_FILES_NAME_MAX + 1] = "";
  char why[160];
  long limit = LIST_DEFAULT;
  int rc = cp_api_query_long(req->query, "limit", 1, LIST_MAX, &limit, why, sizeof why);
  if (rc == CP_EINVAL) {
    cp_http_json_error(req, 400, why);
    return;
  }
  rc = cp_api_query_get(req->query, "continue", v, sizeof v);
  if (rc == 0) {
    size_t n = strlen(v);
    bool ok = n % 2 == 0 && n > 0;
    for (size_t i = 0; ok && i < n; i += 2) {
      unsigned c;
      ok = sscanf(v + i, "%2x", &c) == 1 && c != 0;
      after[i / 2] = (char)c;
    }
    after[ok ? n / 2 : 0] = '\0';
    if (!ok) {
      cp_http_json_error(req, 400, "invalid continue token: pass back the one a listing returned");
      return;
    }
  } else if (rc != CP_ENOTFOUND) {
    cp_http_json_error(req, 400, "invalid continue token: pass back the one a listing returned");
    return;
  }
  char **names = NULL;
  size_t n = 0;
  int dfd = -1;
  rc = cp_files_list_names(&svc->root, path, NAMES_MAX, &names, &n, &dfd);
  if (rc == -E2BIG) {
    err_path(req, 507, "directory '", path, "' has too many entries to list");
    return;
  }
  if (rc) {
    err_errno(req, rc, path);
    return;
  }
  size_t i = 0;
  while (after[0] && i < n && strcmp(names[i], after) <= 0)
    i++;
  cJSON *o = cJSON_CreateObject();
  cJSON *arr = o ? cJSON_CreateArray() : NULL;
  bool ok = o && arr && cJSON_AddStringToObject(o, "path", path) &&
            cJSON_AddStringToObject(o, "type", "dir") && cJSON_AddItemToObject(o, "entries", arr);
  if (!ok)
    cJSON_Delete(arr);
  size_t taken = 0;
  for (; ok && i < n && taken < (size_t)limit; i++) {
    cp_files_stat_t st;
    if (cp_files_statat(dfd, names[i], &st) != 0)
      continue; /* removed meanwhile */
    cJSON *e = stat_json("name", names[i], &st);
    ok = e && cJSON_AddItemToArray(arr, e);
    taken++;
  }
  if (ok && i < n) {
    char tok[CP_FILES_NAME_MAX * 2 + 1];
    const char *last = names[i - 1];
    for (size_t k = 0; last[k]; k++)
      snprintf(tok + 2 * k, 3, "%02x", (unsigned char)last[k]);
    ok = cJSON_AddStringToObject(o, "continue", tok) != NULL;
  }
  close(dfd);
  cp_files_names_free(names, n);
  if (!ok) {
    cJSON_Delete(o);
    o = NULL;
  }
  send_json(req, 200, o);
}

static void get_archive(cp_files_service_t *svc, cp_http_request_t *req, const char *path, int fd) {
  const char *top = *path ? cp_files_path_base(path) : "workspace";
  char enc[CP_FILES_NAME_MAX * 3 + 1], disp[sizeof enc + 64];
  pct_name(top, enc, sizeof enc);
  snprintf(disp, sizeof disp, "attachment; filename*=UTF-8''%s.tar", enc);
  cp_files_tar_t *tar = NULL;
  xfer_t *x = xfer_new(svc, req, XFER_ARCHIVE, path);
  if (!x || cp_files_tar_new(fd, top, &tar) != 0) {
    close(fd);
    if (x)
      xfer_free(x);
    cp_http_json_error(req, 500, "out of memory");
    return;
  }
  x->tar = tar;
  x->left = 1;
  const char *h[] = {"Content-Type", "application/x-tar", "Content-Disposition", disp, NULL};
  if (cp_http_stream_start(req, 200, h) != 0) {
    xfer_free(x);
    cp_http_json_error(req, 500, "could not start the response");
    return;
  }
  if (strcmp(req->method, "HEAD") == 0) {
    cp_http_stream_end(req);
    xfer_free(x);
    return;
  }
  pump_start(x);
}

static void get_file(cp_files_service_t *svc, cp_http_request_t *req, const char *path, int fd,
                     const cp_files_stat_t *st) {
  char etag[64], lm[64], crange[80], enc[CP_FILES_NAME_MAX * 3 + 1], disp[sizeof enc + 64];
  snprintf(etag, sizeof etag, "\"%llx-%llx\"", (unsigned long long)st->size,
           (unsigned long long)st->mtime_ns);
  time_t secs = (time_t)(st->mtime_ns / 1000000000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  strftime(lm, sizeof lm, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  pct_name(cp_files_path_base(path), enc, sizeof enc);
  snprintf(disp, sizeof disp, "attachment; filename*=UTF-8''%s", enc);
  const char *inm = cp_http_header(req, "If-None-Match");
  if (inm && (strcmp(inm, "*") == 0 || strstr(inm, etag))) {
    close(fd);
    const char *h[] = {"ETag", etag, "Last-Modified", lm, NULL};
    cp_http_respond_headers(req, 304, h, NULL, 0);
    return;
  }
  uint64_t start = 0, len = st->size;
  int status = 200;
  int rc = cp_files_range_parse(cp_http_header(req, "Range"), st->size, &start, &len);
  if (rc == CP_EINVAL) {
    close(fd);
    snprintf(crange, sizeof crange, "bytes */%llu", (unsigned long long)st->size);
    char msg[128];
    snprintf(msg, sizeof msg,
             "{\"error\":{\"code\":416,\"message\":\"range not satisfiable: the file has %llu "
             "bytes\"}}",
             (unsigned long long)st->size);
    const char *h[] = {"Content-Type", "application/json", "Content-Range", crange, NULL};
    cp_http_respond_headers(req, 416, h, msg, strlen(msg));
    return;
  }
  if (rc == 0) {
    status = 206;
    snprintf(crange, sizeof crange, "bytes %llu-%llu/%llu", (unsigned long long)start,
             (unsigned long long)(start + len - 1), (unsigned long long)st->size);
  }
  xfer_t *x = xfer_new(svc, req, XFER_DOWNLOAD, path);
  if (!x) {
    close(fd);
    cp_http_json_error(req, 500, "out of memory");
    return;
  }
  x->fd = fd;
  x->off = start;
  x->left = len;
  const char *h[] = {"Content-Type",
                     "application/octet-stream",
                     "Last-Modified",
                     lm,
                     "ETag",
                     etag,
                     "Accept-Ranges",
                     "bytes",
                     "Content-Disposition",
                     disp,
                     status == 206 ? "Content-Range" : NULL,
                     crange,
                     NULL};
  if (cp_http_stream_start_length(req, status, h, len) != 0) {
    xfer_free(x);
    cp_http_json_error(req, 500, "could not start the response");
    return;
  }
  if (strcmp(req->method, "HEAD") == 0)
    x->left = 0;
  pump_start(x);
}

static void do_get(cp_files_service_t *svc, cp_http_request_t *req, const char *path) {
  if (query_true(req, "stat")) {
    count(svc, "stat");
    send_stat(req, 200, svc, path);
    return;
  }
  /* O_NONBLOCK: a FIFO planted in the workspace must not hang the loop */
  int fd = cp_files_open(&svc->root, path, O_RDONLY | O_NONBLOCK);
  if (fd < 0) {
    count(svc, "get");
    err_errno(req, fd, path);
    return;
  }
  cp_files_stat_t st;
  cp_files_fstat_fill(fd, &st);
  char mode[16] = "";
  cp_api_query_get(req->query, "archive", mode, sizeof mode);
  if (st.type == CP_FILES_DIR && strcmp(mode, "tar") == 0) {
    count(svc, "archive");
    get_archive(svc, req, path, fd);
  } else if (mode[0]) {
    close(fd);
    count(svc, "archive");
    cp_http_json_error(req, 400,
                       st.type == CP_FILES_DIR ? "unknown archive format: only ?archive=tar"
                                               : "?archive applies to directories only");
  } else if (st.type == CP_FILES_DIR) {
    close(fd);
    count(svc, "list");
    get_list(svc, req, path);
  } else if (st.type == CP_FILES_FILE) {
    count(svc, "download");
    get_file(svc, req, path, fd, &st);
  } else {
    close(fd);
    count(svc, "get");
    err_path(req, 400, "'", path, "' is neither a regular file nor a directory");
  }
}

/* ---- PUT ------------------------------------------------------------------------------ */

static void upload_fail(xfer_t *x, int e) {
  cp_http_request_t *req = x->req;
  char path[CP_FILES_PATH_MAX + 1];
  snprintf(path, sizeof path, "%s", x->path);
  xfer_free(x);
  err_errno(req, e, path);
}

static void upload_data(cp_http_request_t *req, const char *data, size_t len, void *ud) {
  xfer_t *x = ud;
  x->received += len;
  if (x->cap && x->received > x->cap) {
    char msg[160];
    snprintf(msg, sizeof msg, "upload larger than the limit of %llu bytes",
             (unsigned long long)x->cap);
    xfer_free(x);
    cp_http_json_error(req, 413, msg);
    return;
  }
  /* Gathered into CP_FILES_CHUNK writes: the socket hands over at most 64 KiB a time. */
  count_bytes(x->svc, "upload", len);
  while (len > 0) {
    size_t n = CP_FILES_CHUNK - x->held < len ? CP_FILES_CHUNK - x->held : len;
    memcpy(x->buf + x->held, data, n);
    x->held += n;
    data += n;
    len -= n;
    if (x->held == CP_FILES_CHUNK) {
      int rc = cp_files_upload_write(&x->up, x->buf, x->held);
      x->held = 0;
      if (rc) {
        upload_fail(x, rc);
        return;
      }
    }
  }
}

static void upload_end(cp_http_request_t *req, void *ud) {
  xfer_t *x = ud;
  bool existed = x->up.existed;
  int rc = x->held ? cp_files_upload_write(&x->up, x->buf, x->held) : 0;
  if (rc) {
    upload_fail(x, rc);
    return;
  }
  rc = cp_files_upload_commit(&x->up, x->overwrite);
  if (rc) {
    if (rc == -EEXIST) { /* created while we uploaded */
      char path[CP_FILES_PATH_MAX + 1];
      snprintf(path, sizeof path, "%s", x->path);
      xfer_free(x);
      err_path(req, 409, "'", path, "' was created meanwhile; add ?overwrite=true to replace it");
      return;
    }
    upload_fail(x, rc);
    return;
  }
  cp_files_service_t *svc = x->svc;
  char path[CP_FILES_PATH_MAX + 1];
  snprintf(path, sizeof path, "%s", x->path);
  xfer_free(x);
  send_stat(req, existed ? 200 : 201, svc, path);
}

/* The upload's cap: the flag, lowered by X-Clawplane-Max-Bytes. Returns 0 or -1 (bad). */
static int upload_cap(cp_files_service_t *svc, cp_http_request_t *req, uint64_t *cap) {
  *cap = svc->max_upload;
  const char *h = cp_http_header(req, "X-Clawplane-Max-Bytes");
  uint64_t v;
  if (!h)
    return 0;
  if (parse_u64(h, &v) != 0)
    return -1;
  if (v > 0 && (*cap == 0 || v < *cap))
    *cap = v;
  return 0;
}

static void do_put(cp_files_service_t *svc, cp_http_request_t *req, const char *path,
                   bool trailing) {
  count(svc, "upload");
  if (!*path || trailing) {
    cp_http_json_error(req, 400, "upload needs a file path (not the root, no trailing \"/\")");
    return;
  }
  uint64_t cap, clen = 0;
  if (upload_cap(svc, req, &cap) != 0) {
    cp_http_json_error(req, 400, "invalid X-Clawplane-Max-Bytes header: want a byte count");
    return;
  }
  const char *cl = cp_http_header(req, "Content-Length");
  bool known = cl && parse_u64(cl, &clen) == 0;
  if (known && cap && clen > cap) {
    char msg[160];
    snprintf(msg, sizeof msg, "upload of %llu bytes is larger than the limit of %llu bytes",
             (unsigned long long)clen, (unsigned long long)cap);
    cp_http_json_error(req, 413, msg);
    return;
  }
  bool overwrite = query_true(req, "overwrite");
  xfer_t *x = xfer_new(svc, req, XFER_UPLOAD, path);
  if (!x) {
    cp_http_json_error(req, 500, "out of memory");
    return;
  }
  x->cap = cap;
  x->overwrite = overwrite;
  int rc = cp_files_upload_begin(&svc->root, path, overwrite, &x->up);
  if (rc) {
    xfer_free(x);
    char parent[CP_FILES_PATH_MAX + 1];
    snprintf(parent, sizeof parent, "%s", path);
    char *slash = strrchr(parent, '/');
    if (slash)
      *slash = '\0';
    else
      parent[0] = '\0';
    if (rc == -ENOENT)
      err_path(req, 409, "parent directory '", parent, "' does not exist; create it first");
    else if (rc == -ENOTDIR)
      err_path(req, 409, "'", parent, "' is not a directory");
    else if (rc == -EEXIST)
      err_path(req, 409, "'", path, "' already exists; add ?overwrite=true to replace it");
    else if (rc == -EISDIR)
      err_path(req, 409, "'", path, "' is a directory");
    else
      err_errno(req, rc, path);
    return;
  }
  uint64_t avail = cp_files_free_bytes(x->up.dirfd);
  if (known && clen > avail) {
    char msg[200];
    snprintf(msg, sizeof msg, "not enough space: the upload has %llu bytes, %llu are free",
             (unsigned long long)clen, (unsigned long long)avail);
    xfer_free(x);
    cp_http_json_error(req, 507, msg);
    return;
  }
  cp_http_request_set_on_abort(req, xfer_abort, x);
  if (cp_http_request_set_body_sink(req, upload_data, upload_end, x) != 0) {
    xfer_free(x);
    cp_http_json_error(req, 500, "could not read the body");
  }
}

/* ---- POST and DELETE ------------------------------------------------------------------ */

static void do_move(cp_files_service_t *svc, cp_http_request_t *req, const char *from,
                    const cJSON *body) {
  const cJSON *jto = cJSON_GetObjectItemCaseSensitive(body, "to");
  const cJSON *jow = cJSON_GetObjectItemCaseSensitive(body, "overwrite");
  char to[CP_FILES_PATH_MAX + 1];
  const char *why = NULL;
  if (!cJSON_IsString(jto)) {
    cp_http_json_error(req, 400, "move needs \"to\": the new path");
    return;
  }
  if (jow && !cJSON_IsBool(jow)) {
    cp_http_json_error(req, 400, "\"overwrite\" must be true or false");
    return;
  }
  if (cp_files_path_plain(jto->valuestring, to, sizeof to, &why) != 0) {
    char msg[200];
    snprintf(msg, sizeof msg, "invalid \"to\": %s", why);
    cp_http_json_error(req, 400, msg);
    return;
  }
  if (!*from || !*to) {
    cp_http_json_error(req, 400, "the workspace root cannot be moved or replaced");
    return;
  }
  cp_files_stat_t st;
  int rc = cp_files_stat(&svc->root, from, &st);
  if (rc) {
    err_errno(req, rc, from);
    return;
  }
  rc = cp_files_move(&svc->root, from, to, cJSON_IsTrue(jow));
  if (rc == -EEXIST)
    err_path(req, 409, "'", to, "' already exists; set \"overwrite\":true to replace it");
  else if (rc == -ENOTEMPTY)
    err_path(req, 409, "'", to, "' is a directory that is not empty");
  else if (rc == -ENOENT)
    err_path(req, 409, "the parent directory of '", to, "' does not exist");
  else if (rc == -EINVAL)
    err_path(req, 400, "cannot move '", from, "' into itself");
  else if (rc == -ENOTDIR || rc == -EISDIR)
    err_path(req, 409, "'", to, "' exists and is of another type (file or directory)");
  else if (rc)
    err_errno(req, rc, to);
  else
    send_stat(req, 200, svc, to);
}

static void do_post(cp_files_service_t *svc, cp_http_request_t *req, const char *path) {
  cJSON *body = cJSON_ParseWithLength(req->body, req->body_len);
  const cJSON *act = cJSON_GetObjectItemCaseSensitive(body, "action");
  if (!cJSON_IsObject(body) || !cJSON_IsString(act)) {
    count(svc, "post");
    cp_http_json_error(req, 400,
                       "body must be JSON like {\"action\":\"mkdir\"} or "
                       "{\"action\":\"move\",\"to\":\"new/path\"}");
  } else if (strcmp(act->valuestring, "mkdir") == 0) {
    count(svc, "mkdir");
    int rc = *path ? cp_files_mkdir(&svc->root, path) : -EEXIST;
    if (rc == -ENOENT)
      err_path(req, 409, "the parent directory of '", path, "' does not exist");
    else if (rc)
      err_errno(req, rc, path);
    else
      send_stat(req, 201, svc, path);
  } else if (strcmp(act->valuestring, "move") == 0) {
    count(svc, "move");
    do_move(svc, req, path, body);
  } else {
    count(svc, "post");
    cp_http_json_error(req, 400, "unknown action: use \"mkdir\" or \"move\"");
  }
  cJSON_Delete(body);
}

static void do_delete(cp_files_service_t *svc, cp_http_request_t *req, const char *path) {
  count(svc, "delete");
  if (!*path) {
    cp_http_json_error(req, 400, "the workspace root cannot be deleted");
    return;
  }
  int rc = cp_files_delete(&svc->root, path, query_true(req, "recursive"));
  if (rc)
    err_errno(req, rc, path);
  else
    cp_http_respond(req, 204, NULL, NULL, 0);
}

/* ---- routing -------------------------------------------------------------------------- */

static bool authorized(const cp_files_service_t *svc, const cp_http_request_t *req) {
  char presented[TOKEN_MAX];
  const char *h = cp_http_header(req, "Authorization");
  return h && cp_bearer_get(h, presented, sizeof presented) == 0 &&
         cp_token_equal(presented, svc->token);
}

int cp_files_service_stream_filter(const cp_http_request_t *req, void *ud) {
  (void)ud;
  return strcmp(req->method, "PUT") == 0 && strncmp(req->path, PREFIX, strlen(PREFIX)) == 0;
}

void cp_files_service_handle(cp_files_service_t *svc, cp_http_request_t *req) {
  const char *rest = req->path + strlen(PREFIX);
  if (strncmp(req->path, PREFIX, strlen(PREFIX)) != 0 || (*rest && *rest != '/')) {
    count(svc, "other");
    cp_http_json_error(req, 404, "not found: the API is /v1/files/{path}");
    return;
  }
  if (!authorized(svc, req)) {
    count(svc, "denied");
    cp_http_json_error(req, 401, "missing or wrong credentials (Authorization: Bearer)");
    return;
  }
  char path[CP_FILES_PATH_MAX + 1];
  bool trailing = false;
  const char *why = NULL;
  if (cp_files_path_parse(rest, strlen(rest), path, sizeof path, &trailing, &why) != 0) {
    count(svc, "invalid");
    char msg[200];
    snprintf(msg, sizeof msg, "invalid path: %s", why);
    cp_http_json_error(req, 400, msg);
    return;
  }
  const char *m = req->method;
  if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0) {
    do_get(svc, req, path);
  } else if (strcmp(m, "PUT") == 0) {
    do_put(svc, req, path, trailing);
  } else if (strcmp(m, "POST") == 0) {
    do_post(svc, req, path);
  } else if (strcmp(m, "DELETE") == 0) {
    do_delete(svc, req, path);
  } else {
    count(svc, "other");
    const char *h[] = {"Content-Type", "application/json", "Allow", "GET, HEAD, PUT, POST, DELETE",
                       NULL};
    const char *msg = "{\"error\":{\"code\":405,\"message\":\"method not allowed: use GET, HEAD, "
                      "PUT, POST or DELETE\"}}";
    cp_http_respond_headers(req, 405, h, msg, strlen(msg));
  }
}

/* ---- life ----------------------------------------------------------------------------- */

static double active_fn(void *ud) {
  return (double)((cp_files_service_t *)ud)->active;
}

int cp_files_service_new(const cp_files_service_opts_t *o, cp_metrics_t *reg,
                         cp_files_service_t **out) {
  if (!o || !o->root || !o->token || strlen(o->token) < 32 || strlen(o->token) >= TOKEN_MAX || !out)
    return CP_EINVAL;
  cp_files_service_t *svc = calloc(1, sizeof *svc);
  if (!svc)
    return CP_ENOMEM;
  svc->root.fd = -1;
  svc->root_path = strdup(o->root);
  svc->token = strdup(o->token);
  svc->max_upload = o->max_upload;
  if (!svc->root_path || !svc->token) {
    cp_files_service_free(svc);
    return CP_ENOMEM;
  }
  if (cp_files_root_open(o->root, &svc->root) != 0) {
    cp_files_service_free(svc);
    return CP_EINVAL;
  }
  if (reg) {
    const char *op[] = {"operation", NULL}, *dir[] = {"direction", NULL};
    int rc = cp_metrics_counter(reg, "clawplane_files_requests_total", "Requests by operation.", op,
                                &svc->requests);
    rc = rc ? rc
            : cp_metrics_counter(reg, "clawplane_files_bytes_total",
                                 "File bytes transferred, by direction (upload, download).", dir,
                                 &svc->bytes);
    rc = rc ? rc
            : cp_metrics_gauge(reg, "clawplane_files_transfers_active",
                               "Uploads, downloads and archives in flight.", NULL, &svc->transfers);
    rc = rc ? rc : cp_gauge_set_func(svc->transfers, NULL, active_fn, svc);
    if (rc) {
      cp_files_service_free(svc);
      return rc;
    }
  }
  *out = svc;
  return 0;
}

int cp_files_service_ready(cp_files_service_t *svc) {
  struct stat sb;
  return svc && stat(svc->root_path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

size_t cp_files_service_active(const cp_files_service_t *svc) {
  return svc ? svc->active : 0;
}

void cp_files_service_free(cp_files_service_t *svc) {
  if (!svc)
    return;
  if (svc->transfers)
    cp_gauge_set_func(svc->transfers, NULL, NULL, NULL);
  cp_files_root_close(&svc->root);
  free(svc->root_path);
  if (svc->token) {
    memset(svc->token, 0, strlen(svc->token));
    free(svc->token);
  }
  free(svc);
}
