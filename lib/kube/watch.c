/* Watch stream decoding (pure) and the blocking watch / watch loop on top of it.
 *
 * Decoder invariant: d->line holds the start of the current line and never a '\n', so a
 * new chunk is searched from its first byte only and nothing buffered is scanned twice.
 * A line completed inside one chunk with nothing buffered is parsed straight from the
 * chunk. Every event line is {"type": ..., "object": {...}}; the object is detached from
 * the line's tree and handed to the callback, which may keep it.
 *
 * cp_kube_watch feeds the decoder from libcurl's write callback (through cp__kube_stream,
 * which sends only 2xx bodies to us; error answers come back as a Status). The loop adds
 * reconnects with backoff and leaves relisting to the caller.
 */
#include "kube/watch.h"
#include "core/error.h"
#include "json/json.h"

#include <openssl/rand.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* ---- decoder ---- */

void cp_watch_decoder_init(cp_watch_decoder_t *d, size_t max_line, const char *resource_version) {
  memset(d, 0, sizeof *d);
  d->max_line = max_line ? max_line : CP_WATCH_DEFAULT_MAX_LINE;
  cp_buf_init(&d->line, d->max_line);
  if (resource_version && strlen(resource_version) < sizeof d->resource_version)
    memcpy(d->resource_version, resource_version, strlen(resource_version) + 1);
}

void cp_watch_decoder_reset(cp_watch_decoder_t *d) {
  cp_buf_free(&d->line);
  d->err = 0;
  memset(&d->status, 0, sizeof d->status);
}

void cp_watch_decoder_free(cp_watch_decoder_t *d) {
  if (d)
    cp_buf_free(&d->line);
}

static int fail(cp_watch_decoder_t *d, int err) {
  d->err = err;
  cp_buf_free(&d->line);
  return err;
}

static int parse_type(const char *s, cp_watch_type_t *t) {
  static const char *const names[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (!strcmp(s, names[i])) {
      *t = (cp_watch_type_t)i;
      return 0;
    }
  return CP_EPARSE;
}

/* Decodes one complete line (without its '\n') and delivers it. */
static int handle_line(cp_watch_decoder_t *d, const char *line, size_t len, cp_watch_cb cb,
                       void *ud) {
  size_t i = 0;
  while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
    i++;
  if (i == len)
    return 0; /* blank line */
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(line, len, &end, 0);
  while (root && end < line + len && (*end == ' ' || *end == '\t' || *end == '\r'))
    end++;
  if (root && end != line + len) { /* cJSON stops after one value; more is garbage */
    cJSON_Delete(root);
    root = NULL;
  }
  cJSON *obj = cJSON_GetObjectItemCaseSensitive(root, "object");
  const char *type = cp_json_strv(root, "type", NULL);
  cp_watch_type_t t;
  if (!cJSON_IsObject(obj) || !type || parse_type(type, &t) != 0) {
    cJSON_Delete(root);
    return fail(d, CP_EPARSE);
  }
  cJSON_DetachItemViaPointer(root, obj);
  cJSON_Delete(root);

  char rv[CP_KUBE_RV_MAX] = "";
  int err = 0;
  if (t == CP_WATCH_ERROR) {
    cp_kube_status_from_json(&d->status, 0, obj);
    long code = d->status.http_code;
    err = code == 410 ? CP_EGONE : code ? cp_kube_http_error(code) : 0;
    if (err == 0)
      err = CP_EHTTP;
  } else {
    const char *v = cp_json_strv(obj, "metadata", "resourceVersion", NULL);
    size_t n = v ? strlen(v) : 0;
    if (n >= sizeof rv) {
      cJSON_Delete(obj);
      return fail(d, CP_EPARSE);
    }
    if (n)
      memcpy(rv, v, n + 1);
  }
  cp_watch_event_t ev = {t, obj, rv};
  d->events++;
  int r = cb ? cb(&ev, ud) : 0;
  cJSON_Delete(ev.object);
  if (err)
    return fail(d, err);
  if (r >= 0 && rv[0])
    memcpy(d->resource_version, rv, strlen(rv) + 1);
  if (r)
    fail(d, r < 0 ? r : CP_ECANCELED); /* the rest of the chunk is dropped: stay stopped */
  return r;
}

int cp_watch_decoder_feed(cp_watch_decoder_t *d, const char *data, size_t len, cp_watch_cb cb,
                          void *ud) {
  if (d->err)
    return d->err;
  size_t off = 0;
  while (off < len) {
    const char *p = data + off;
    size_t n = len - off;
    const char *nl = memchr(p, '\n', n);
    size_t k = nl ? (size_t)(nl - p) : n; /* bytes of this line in the chunk */
    if (k > d->max_line - d->line.len)
      return fail(d, CP_ETOOBIG);
    if (!nl || d->line.len) {
      int r = cp_buf_append(&d->line, p, k);
      if (r)
        return fail(d, r);
      if (!nl)
        return 0;
    }
    off += k + 1;
    int r = d->line.len ? handle_line(d, d->line.data, d->line.len, cb, ud)
                        : handle_line(d, p, k, cb, ud);
    if (d->line.alloc > ((size_t)1 << 20))
      cp_buf_free(&d->line); /* do not pin the memory of one huge object */
    else
      cp_buf_reset(&d->line);
    if (r)
      return r;
  }
  return 0;
}

/* ---- blocking watch ---- */

/* A uniform double in [0, 1) from OpenSSL's CSPRNG; 0.5 if it fails. */
static double jitter(void) {
  uint32_t v;
  if (RAND_bytes((unsigned char *)&v, sizeof v) != 1)
    return 0.5;
  return (double)v / 4294967296.0;
}

long cp_kube_backoff_ms(unsigned attempt, double j) {
  long full = attempt >= 6 ? 30000 : 800L << attempt;
  if (full > 30000)
    full = 30000;
  long lo = full * 3 / 4 < 800 ? 800 : full * 3 / 4;
  if (j < 0)
    j = 0;
  if (j > 1)
    j = 1;
  return full - (long)(j * (double)(full - lo));
}

typedef struct watch_ctx_s {
  cp_watch_decoder_t d;
  cp_watch_cb cb;
  void *ud;
  const cp_watch_opts_t *o;
} watch_ctx_t;

static int sink(void *ud, const char *data, size_t len) {
  watch_ctx_t *w = ud;
  if (!data && !len) { /* the response started: the stream is up */
    if (w->o->on_stream)
      w->o->on_stream(true, 0, NULL, w->o->stream_ud);
    return 0;
  }
  return cp_watch_decoder_feed(&w->d, data, len, w->cb, w->ud);
}

static void set_status(cp_status_t *st, long code, const char *msg) {
  if (!st)
    return;
  memset(st, 0, sizeof *st);
  st->http_code = code;
  snprintf(st->message, sizeof st->message, "%s", msg);
}

int cp_kube_watch(cp_kube_client_t *c, const cp_gvr_t *gvr, const char *ns,
                  const cp_watch_opts_t *opts, char *rv, cp_watch_cb cb, void *ud,
                  cp_status_t *st) {
  static const cp_watch_opts_t none = {0};
  if (!opts)
    opts = &none;
  if (!c || !rv || !cb || strnlen(rv, CP_KUBE_RV_MAX) == CP_KUBE_RV_MAX) {
    set_status(st, 0, "invalid watch arguments");
    return CP_EINVAL;
  }
  long timeout = opts->timeout_seconds > 0 ? opts->timeout_seconds : 300 + (long)(jitter() * 300);
  char tbuf[32];
  snprintf(tbuf, sizeof tbuf, "%ld", timeout);
  cp_buf_t path, q;
  cp_buf_init(&path, 4096);
  cp_buf_init(&q, 65536);
  int r = cp_kube_path(&path, gvr, ns, NULL, NULL);
  if (r) {
    set_status(st, 0, "invalid resource or namespace");
    goto out;
  }
  r = cp_kube_query_add(&q, "watch", "true");
  if (!r)
    r = cp_kube_query_add(&q, "allowWatchBookmarks", "true");
  if (!r && rv[0])
    r = cp_kube_query_add(&q, "resourceVersion", rv);
  if (!r && opts->send_initial_events)
    r = cp_kube_query_add(&q, "sendInitialEvents", "true");
  if (!r && opts->send_initial_events)
    r = cp_kube_query_add(&q, "resourceVersionMatch", "NotOlderThan");
  if (!r)
    r = cp_kube_query_add(&q, "labelSelector", opts->label_selector);
  if (!r)
    r = cp_kube_query_add(&q, "fieldSelector", opts->field_selector);
  if (!r)
    r = cp_kube_query_add(&q, "timeoutSeconds", tbuf);
  if (r) {
    set_status(st, 0, "watch query too long");
    goto out;
  }

  watch_ctx_t w = {.cb = cb, .ud = ud, .o = opts};
  cp_watch_decoder_init(&w.d, opts->max_line, rv);
  /* The server ends the stream after timeout; the client gives it 30 s more. */
  r = cp__kube_stream(c, path.data, q.data, (timeout + 30) * 1000, opts->stop, sink, &w, st);
  memcpy(rv, w.d.resource_version, strlen(w.d.resource_version) + 1);
  if (r > 0) {
    r = CP_ECANCELED;
    set_status(st, 200, "watch stopped by its callback");
  } else if (r && r == w.d.err && w.d.status.http_code) {
    if (st)
      *st = w.d.status; /* what the ERROR event said */
  } else if (r == CP_EPARSE && r == w.d.err) {
    set_status(st, 200, "malformed watch event");
  } else if (r == CP_ETOOBIG && r == w.d.err) {
    set_status(st, 200, "watch event longer than the line cap");
  }
  cp_watch_decoder_free(&w.d);
out:
  cp_buf_free(&path);
  cp_buf_free(&q);
  return r;
}

static double mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool transient(int r) {
  switch (r) {
  case CP_ECONNECT:
  case CP_ETIMEOUT:
  case CP_EIO:
  case CP_EPARSE:
  case CP_ETHROTTLED:
  case CP_EUNAVAILABLE:
  case CP_ETLS:
    return true;
  default:
    return false;
  }
}

int cp_kube_watch_loop(cp_kube_client_t *c, const cp_gvr_t *gvr, const char *ns,
                       const cp_watch_opts_t *opts, char *rv, cp_watch_cb cb, void *ud,
                       cp_status_t *st) {
  cp_watch_opts_t o = {0};
  if (opts)
    o = *opts;
  atomic_bool *stop = o.stop;
  unsigned attempt = 0;
  for (;;) {
    if (stop && atomic_load(stop)) {
      set_status(st, 0, "watch stopped");
      return CP_ECANCELED;
    }
    char before[CP_KUBE_RV_MAX];
    if (!rv || strnlen(rv, sizeof before) == sizeof before) {
      set_status(st, 0, "invalid watch arguments");
      return CP_EINVAL;
    }
    memcpy(before, rv, strlen(rv) + 1);
    double t0 = mono_s();
    int r = cp_kube_watch(c, gvr, ns, &o, rv, cb, ud, st);
    if (strcmp(before, rv) != 0) {
      attempt = 0;
      o.send_initial_events = false; /* resume from rv from now on */
    }
    if (r == 0 && mono_s() - t0 >= 1.0)
      continue;
    if (r != 0 && !transient(r))
      return r;
    if (r != 0 && o.on_stream)
      o.on_stream(false, r, st, o.stream_ud);
    long ms = cp_kube_backoff_ms(attempt, jitter());
    if (attempt < 16)
      attempt++;
    if (cp__kube_sleep_ms(ms, stop) != 0) {
      set_status(st, 0, "watch stopped");
      return CP_ECANCELED;
    }
  }
}
