/* The /v1 API: authenticate, apply the user's policy, forward to the model's upstream and
 * relay the answer.
 *
 * A call (mp_call_t) joins one front request (lib/http) to one upstream transfer
 * (libcurl easy handle on the uvcurl driver). Responses are relayed as they arrive: the
 * front response starts when the first body bytes of a 2xx answer come, SSE streams are
 * cut into events (modelproxy/sse.h) so usage can be read from them and the usage-only
 * chunk dropped for clients that did not ask for it, and every other body is passed
 * through in the pieces libcurl delivers (a bounded copy is kept to read its usage).
 * Nothing ever holds a whole stream.
 *
 * Backpressure: when the front connection has too much unsent output
 * (cp_http_stream_write says CP_ETOOBIG), the bytes already taken from libcurl wait in the
 * call's small `out` buffer, and the next libcurl delivery is refused with
 * CURL_WRITEFUNC_PAUSE, which stops reading from the upstream socket. A 5 ms timer, running
 * only while some call is paused, retries the writes and resumes the transfer once `out`
 * is empty (lib/http has no drain callback, so draining is polled).
 *
 * Lifetime: a call is freed when both sides are done: the front request finished (or
 * its client went away: on_abort, which also cancels the upstream transfer, closing its
 * connection so the upstream sees the cancel) and the transfer is out of the multi handle.
 * Usage is accounted exactly once per call, whichever way it ends.
 *
 * Upstream errors never leak the upstream's credentials: 401/403 from the upstream become
 * a 502 with our own message, other error bodies are relayed with the key scrubbed out.
 */
#include "mp.h"

#include "core/buf.h"
#include "core/error.h"
#include "core/time.h"
#include "json/json.h"
#include "log/log.h"
#include "modelproxy/openai.h"
#include "modelproxy/request.h"
#include "modelproxy/sse.h"
#include "modelproxy/usage.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define OUT_LIMIT (4u << 20)  /* bytes taken from upstream that wait for the client */
#define SLICE (64u << 10)     /* largest single front write */
#define MAX_EVENT (1u << 20)  /* largest SSE event */
#define KEEP_FULL (1u << 20)  /* non-stream bodies up to this are kept whole for usage */
#define KEEP_TAIL (64u << 10) /* past it, only this much of the end */
#define ERR_BODY (64u << 10)  /* upstream error bodies kept */
#define DRAIN_MS 5
#define SWEEP_MS 250 /* idle-upstream check period */

struct mp_call_s {
  mp_app_t *a;
  cp_http_request_t *req; /* NULL once finished or abandoned by its client */
  CURL *easy;
  bool in_multi, started, upstream_done, client_gone, sse, in_paused, accounted, counted_stream;
  mp_user_t *user;
  cp_mp_identity_t id;
  const cp_mp_model_t *model;
  cp_mp_api_t api;
  cp_mp_request_t rq;
  char *body;
  size_t body_len;
  struct curl_slist *hdrs;
  char request_id[40];
  long status; /* upstream status once its headers are in */
  char ctype[128];
  int code; /* status the client got (499: client went away) */
  cp_buf_t out;
  cp_sse_t parser;
  cp_buf_t keep;
  bool keep_tail;
  cp_mp_usage_t usage;
  int64_t data_events;
  const char *local_err; /* why we aborted the transfer ourselves */
  double t0;
  double last_byte;         /* monotonic time the upstream last sent something (or was resumed) */
  mp_call_t *prev, *next;   /* a->calls */
  mp_call_t *pprev, *pnext; /* a->paused */
  char errbuf[CURL_ERROR_SIZE];
};

static const char *api_name(cp_mp_api_t api) {
  switch (api) {
  case CP_MP_API_CHAT:
    return "chat.completions";
  case CP_MP_API_COMPLETIONS:
    return "completions";
  case CP_MP_API_EMBEDDINGS:
    return "embeddings";
  case CP_MP_API_MESSAGES:
    return "messages";
  }
  return "other";
}

/* The metric label for a model: configured names only, so cardinality stays bounded. */
static const char *model_label(const mp_call_t *c) {
  return c && c->model ? c->model->name : "none";
}

static void count_request(mp_app_t *a, const char *endpoint, const char *model, int code) {
  char cs[8];
  snprintf(cs, sizeof cs, "%d", code);
  cp_counter_add(a->m.requests, CP_LABELS(endpoint, model, cs), 1);
}

static void new_request_id(char out[40]) {
  static const char hex[] = "0123456789abcdef";
  unsigned char r[12];
  if (RAND_bytes(r, sizeof r) != 1)
    memset(r, 0, sizeof r);
  memcpy(out, "mp-", 3);
  for (size_t i = 0; i < sizeof r; i++) {
    out[3 + 2 * i] = hex[r[i] >> 4];
    out[4 + 2 * i] = hex[r[i] & 15];
  }
  out[3 + 2 * sizeof r] = '\0';
}

/* Sends an OpenAI-shaped error; extra is a NULL-terminated header list or NULL. */
static void send_error(cp_http_request_t *req, int status, const char *type, const char *code,
                       const char *msg, const char *request_id, const char *retry_after) {
  char *body = cp_mp_error_json(type, code, msg);
  const char *h[9] = {"Content-Type", "application/json", NULL};
  size_t n = 2;
  if (request_id) {
    h[n++] = "X-Request-Id";
    h[n++] = request_id;
  }
  if (retry_after) {
    h[n++] = "Retry-After";
    h[n++] = retry_after;
  }
  if (status == 401) {
    h[n++] = "WWW-Authenticate";
    h[n++] = "Bearer";
  }
  h[n] = NULL;
  if (!body || cp_http_respond_headers(req, status, h, body, strlen(body)) != 0)
    cp_http_abort(req);
  cJSON_free(body);
}

/* --- paused calls and draining ------------------------------------------------------- */

static void on_drain(uv_timer_t *t);

static void paused_add(mp_call_t *c) {
  mp_app_t *a = c->a;
  if (c->in_paused)
    return;
  c->in_paused = true;
  c->pprev = NULL;
  c->pnext = a->paused;
  if (a->paused)
    a->paused->pprev = c;
  a->paused = c;
  if (!uv_is_active((uv_handle_t *)&a->drain_timer))
    uv_timer_start(&a->drain_timer, on_drain, DRAIN_MS, DRAIN_MS);
}

static void paused_del(mp_call_t *c) {
  if (!c->in_paused)
    return;
  if (c->pprev)
    c->pprev->pnext = c->pnext;
  else
    c->a->paused = c->pnext;
  if (c->pnext)
    c->pnext->pprev = c->pprev;
  c->in_paused = false;
  c->pprev = c->pnext = NULL;
}

/* Writes as much of out as the client takes. */
static void flush_out(mp_call_t *c) {
  while (c->req && c->out.len > 0) {
    size_t n = c->out.len < SLICE ? c->out.len : SLICE;
    int rc = cp_http_stream_write(c->req, c->out.data, n);
    if (rc == CP_ETOOBIG)
      return;
    if (rc != 0) {
      c->client_gone = true;
      return;
    }
    cp_buf_consume(&c->out, n);
  }
}

/* Passes bytes to the client, or keeps them in out while it is slow. */
static int emit(mp_call_t *c, const char *data, size_t len) {
  if (c->out.len == 0) {
    int rc = cp_http_stream_write(c->req, data, len);
    if (rc == 0)
      return 0;
    if (rc != CP_ETOOBIG) {
      c->client_gone = true;
      return CP_ECANCELED;
    }
  }
  int rc = cp_buf_append(&c->out, data, len);
  if (rc != 0)
    c->local_err = "the client reads too slowly";
  return rc;
}

/* --- accounting and release ---------------------------------------------------------- */

static void account(mp_call_t *c) {
  if (c->accounted)
    return;
  c->accounted = true;
  mp_app_t *a = c->a;
  double now = cp_time_mono();
  count_request(a, api_name(c->api), model_label(c), c->code);
  cp_histogram_observe(a->m.duration, CP_LABELS(model_label(c)), now - c->t0);
  if (c->status < 200 || c->status >= 300)
    return; /* no answer from the model: nothing used */
  if (!c->sse && c->keep.len > 0) {
    if (c->keep_tail)
      cp_mp_usage_merge_tail(&c->usage, c->keep.data, c->keep.len);
    else
      cp_mp_usage_merge_text(&c->usage, c->keep.data, c->keep.len);
  }
  cp_mp_usage_t u = c->usage;
  if (!u.seen) {
    /* The upstream worked but reported nothing (a client that left mid-stream, an
     * upstream without usage): estimate, so usage is never free. ~4 bytes per prompt
     * token; one streamed chunk per completion token. */
    u.prompt_tokens = (int64_t)(c->body_len / 4);
    u.completion_tokens = c->data_events;
  }
  mp_record_t rec = {
      .prompt_tokens = u.prompt_tokens,
      .completion_tokens = u.completion_tokens,
      .cost_microusd = cp_mp_cost_microusd(&c->model->price, u.prompt_tokens, u.completion_tokens),
      .at = cp_time_now()};
  memcpy(rec.request_id, c->request_id, sizeof rec.request_id);
  snprintf(rec.user, sizeof rec.user, "%s", c->id.user);
  snprintf(rec.runtime, sizeof rec.runtime, "%s", c->id.runtime);
  snprintf(rec.model, sizeof rec.model, "%s", c->rq.model);
  cp_counter_add(a->m.tokens, CP_LABELS(model_label(c), "prompt"), (double)u.prompt_tokens);
  cp_counter_add(a->m.tokens, CP_LABELS(model_label(c), "completion"), (double)u.completion_tokens);
  cp_counter_add(a->m.cost, CP_LABELS(model_label(c)), (double)rec.cost_microusd);
  cp__mp_user_charge(a, c->user, &rec);
  cp__mp_activity_mark(a, c->id.namespace_, c->id.runtime);
}

static void wipe_headers(struct curl_slist *h) {
  for (; h; h = h->next)
    if (h->data)
      OPENSSL_cleanse(h->data, strlen(h->data));
}

static void release_easy(mp_app_t *a, CURL *easy) {
  if (!easy)
    return;
  if (a->npool < sizeof a->easy_pool / sizeof a->easy_pool[0]) {
    curl_easy_reset(easy);
    a->easy_pool[a->npool++] = easy;
  } else {
    curl_easy_cleanup(easy);
  }
}

static void free_call(mp_call_t *c) {
  mp_app_t *a = c->a;
  paused_del(c);
  if (c->prev)
    c->prev->next = c->next;
  else
    a->calls = c->next;
  if (c->next)
    c->next->prev = c->prev;
  a->ncalls--;
  if (c->counted_stream) {
    a->nstreams--;
    cp_mp_policy_release(&c->user->st, 1);
  }
  cp_gauge_set(a->m.calls, NULL, (double)a->ncalls);
  cp_gauge_set(a->m.streams, NULL, (double)a->nstreams);
  release_easy(a, c->easy);
  wipe_headers(c->hdrs);
  curl_slist_free_all(c->hdrs);
  cJSON_free(c->body);
  cp_buf_free(&c->out);
  cp_buf_free(&c->keep);
  cp_sse_free(&c->parser);
  free(c);
}

/* Ends a call whose upstream finished and whose bytes all reached the client. */
static void finish_ok(mp_call_t *c) {
  if (c->req) {
    if (!c->started) {
      const char *h[] = {"Content-Type", c->ctype[0] ? c->ctype : "application/json",
                         "X-Request-Id", c->request_id, NULL};
      if (cp_http_respond_headers(c->req, (int)c->status, h, "", 0) != 0)
        cp_http_abort(c->req);
    } else if (cp_http_stream_end(c->req) != 0) {
      cp_http_abort(c->req);
    }
    c->req = NULL;
  }
  c->code = (int)c->status;
  account(c);
  free_call(c);
}

/* --- front side: the client --------------------------------------------------------- */

static void on_abort(cp_http_request_t *req, void *ud) {
  (void)req;
  mp_call_t *c = ud;
  c->req = NULL;
  c->client_gone = true;
  if (c->in_multi) {
    cp_uvcurl_remove(c->a->curl, c->easy);
    c->in_multi = false;
    cp_log_info("client went away; upstream request canceled", "request_id", c->request_id, "user",
                c->id.user, "model", c->rq.model, NULL);
  }
  c->code = 499;
  account(c);
  free_call(c);
}

static int start_client(mp_call_t *c) {
  const char *ct = c->ctype[0] ? c->ctype : c->sse ? "text/event-stream" : "application/json";
  const char *h[] = {"Content-Type", ct,  "X-Request-Id", c->request_id, "Cache-Control",
                     "no-cache",     NULL};
  if (!c->sse)
    h[4] = NULL;
  if (cp_http_stream_start(c->req, (int)c->status, h) != 0) {
    c->client_gone = true;
    return CP_ECANCELED;
  }
  c->started = true;
  c->code = (int)c->status;
  return 0;
}

/* --- upstream side: libcurl callbacks ------------------------------------------------ */

static size_t on_header(char *buf, size_t size, size_t n, void *ud) {
  mp_call_t *c = ud;
  size_t len = size * n;
  c->last_byte = cp_time_mono();
  if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
    c->ctype[0] = '\0'; /* a new response (after 100 Continue) */
  } else if (len <= 2 && (buf[0] == '\r' || buf[0] == '\n')) {
    long code = 0;
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 200 && c->status == 0) {
      c->status = code;
      c->sse = c->rq.stream && strncasecmp(c->ctype, "text/event-stream", 17) == 0;
      cp_histogram_observe(c->a->m.latency, CP_LABELS(model_label(c)), cp_time_mono() - c->t0);
    }
  } else if (len > 13 && strncasecmp(buf, "content-type:", 13) == 0) {
    const char *v = buf + 13, *e = buf + len;
    while (v < e && (*v == ' ' || *v == '\t'))
      v++;
    while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' '))
      e--;
    size_t k = (size_t)(e - v) < sizeof c->ctype - 1 ? (size_t)(e - v) : sizeof c->ctype - 1;
    memcpy(c->ctype, v, k);
    c->ctype[k] = '\0';
  }
  return len;
}

/* 1 for an OpenAI stream chunk that carries only usage: {"choices":[],"usage":{...}}. */
static int usage_only(const cJSON *j) {
  const cJSON *ch = cJSON_GetObjectItemCaseSensitive(j, "choices");
  return cJSON_IsArray(ch) && cJSON_GetArraySize(ch) == 0 &&
         cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(j, "usage"));
}

static int on_event(const cp_sse_event_t *ev, void *ud) {
  mp_call_t *c = ud;
  if (ev->has_data && strcmp(ev->data, "[DONE]") != 0) {
    c->data_events++;
    if (strstr(ev->data, "\"usage\"")) {
      cJSON *j = cJSON_ParseWithLength(ev->data, ev->data_len);
      int drop = 0;
      if (j && cp_mp_usage_merge_json(&c->usage, j))
        drop = !c->rq.client_wants_usage && c->api != CP_MP_API_MESSAGES && usage_only(j);
      cJSON_Delete(j);
      if (drop)
        return 0;
    }
  }
  return emit(c, ev->raw, ev->raw_len);
}

static void keep_copy(mp_call_t *c, const char *data, size_t len) {
  if (!c->keep_tail && c->keep.len + len <= KEEP_FULL) {
    if (cp_buf_append(&c->keep, data, len) == 0)
      return;
  }
  /* Too big to keep whole: keep the last KEEP_TAIL bytes, where usage sits. */
  c->keep_tail = true;
  if (len >= KEEP_TAIL) {
    cp_buf_reset(&c->keep);
    cp_buf_append(&c->keep, data + len - KEEP_TAIL, KEEP_TAIL);
    return;
  }
  if (c->keep.len + len > KEEP_TAIL)
    cp_buf_consume(&c->keep, c->keep.len + len - KEEP_TAIL);
  cp_buf_append(&c->keep, data, len);
}

static size_t on_write(char *data, size_t size, size_t n, void *ud) {
  mp_call_t *c = ud;
  size_t len = size * n;
  c->last_byte = cp_time_mono();
  if (!c->req || c->client_gone)
    return 0;
  if (c->status < 200 || c->status >= 300) {
    size_t room = c->keep.len < ERR_BODY ? ERR_BODY - c->keep.len : 0;
    cp_buf_append(&c->keep, data, len < room ? len : room);
    return len;
  }
  if (!c->started && start_client(c) != 0)
    return 0;
  if (c->out.len > 0) {
    flush_out(c);
    if (c->client_gone)
      return 0;
    if (c->out.len > 0) {
      paused_add(c);
      return CURL_WRITEFUNC_PAUSE;
    }
  }
  int rc;
  if (c->sse) {
    rc = cp_sse_feed(&c->parser, data, len, on_event, c);
    if (rc == CP_ETOOBIG && !c->local_err)
      c->local_err = "the upstream sent a stream event larger than 1 MiB";
  } else {
    keep_copy(c, data, len);
    rc = emit(c, data, len);
  }
  return rc == 0 ? len : 0;
}

/* Replaces every occurrence of the upstream key in body by "***". */
static void scrub(cp_buf_t *body, const char *key) {
  size_t k = key ? strlen(key) : 0;
  if (k < 4 || !body->data)
    return;
  for (size_t i = 0; i + k <= body->len; i++) {
    if (memcmp(body->data + i, key, k) == 0) {
      memset(body->data + i, '*', k);
      i += k - 1;
    }
  }
}

/* The upstream answered with an error status: relay it in a form the client can use. */
static void relay_error(mp_call_t *c) {
  long st = c->status;
  scrub(&c->keep, c->model->upstream->api_key);
  char status[8];
  snprintf(status, sizeof status, "%ld", st);
  cp_log_warn("upstream answered with an error", "request_id", c->request_id, "upstream",
              c->model->upstream->name, "model", c->rq.model, "status", status, NULL);
  if (st == 401 || st == 403 || st == 407) {
    c->code = 502;
    send_error(c->req, 502, "upstream_error", "upstream_auth_failed",
               "the model upstream refused the proxy's credentials; ask the platform team",
               c->request_id, NULL);
  } else if (st >= 500 || st < 400) {
    char msg[512];
    cJSON *j = c->keep.len ? cJSON_ParseWithLength(c->keep.data, c->keep.len) : NULL;
    const char *um = cp_json_strv(j, "error", "message", NULL);
    snprintf(msg, sizeof msg, "the model upstream failed with HTTP %ld%s%s", st, um ? ": " : "",
             um ? um : "");
    cJSON_Delete(j);
    c->code = 502;
    send_error(c->req, 502, "upstream_error", "upstream_error", msg, c->request_id, NULL);
  } else {
    c->code = (int)st;
    const char *h[] = {"Content-Type", c->ctype[0] ? c->ctype : "application/json", "X-Request-Id",
                       c->request_id, NULL};
    if (cp_http_respond_headers(c->req, (int)st, h, c->keep.data ? c->keep.data : "",
                                c->keep.len) != 0)
      cp_http_abort(c->req);
  }
  c->req = NULL;
}

static void upstream_failed(mp_call_t *c, CURLcode res) {
  mp_app_t *a = c->a;
  int timeout = res == CURLE_OPERATION_TIMEDOUT;
  char msg[256];
  if (c->local_err)
    snprintf(msg, sizeof msg, "the proxy ended the call: %s", c->local_err);
  else if (timeout)
    snprintf(msg, sizeof msg, "the model upstream sent nothing for %.0f s",
             c->status || a->upstream_timeout < a->connect_timeout ? a->upstream_timeout
                                                                   : a->connect_timeout);
  else
    snprintf(msg, sizeof msg, "the model upstream failed: %s", curl_easy_strerror(res));
  int status = timeout ? 504 : 502;
  const char *code = timeout ? "upstream_timeout" : "upstream_error";
  cp_log_warn("upstream call failed", "request_id", c->request_id, "upstream",
              c->model->upstream->name, "model", c->rq.model, "error", msg, NULL);
  c->code = status; /* counted as failed even when the 200 had already gone out */
  if (c->started) {
    if (c->sse) {
      char *ev = cp_mp_error_event(timeout ? "timeout" : "upstream_error", code, msg);
      flush_out(c);
      if (!ev || c->out.len > 0 || cp_http_stream_write(c->req, ev, strlen(ev)) != 0 ||
          cp_http_stream_end(c->req) != 0)
        cp_http_abort(c->req);
      free(ev);
    } else {
      cp_http_abort(c->req); /* a cut connection: the client never takes half a body */
    }
  } else {
    send_error(c->req, status, timeout ? "timeout" : "upstream_error", code, msg, c->request_id,
               NULL);
  }
  c->req = NULL;
  account(c);
  free_call(c);
}

static void on_done(CURL *easy, CURLcode res, void *ud) {
  (void)easy;
  mp_call_t *c = ud;
  c->in_multi = false;
  c->upstream_done = true;
  if (!c->req || c->client_gone) {
    if (!c->req) {
      account(c);
      free_call(c);
    }
    return; /* otherwise on_abort is on its way and frees the call */
  }
  if (res != CURLE_OK) {
    upstream_failed(c, res);
    return;
  }
  if (c->status < 200 || c->status >= 300) {
    relay_error(c);
    account(c);
    free_call(c);
    return;
  }
  if (c->sse && cp_sse_pending(&c->parser) > 0 && c->started)
    emit(c, c->parser.ev.data, c->parser.ev.len); /* an unterminated last event */
  if (c->out.len > 0) {
    flush_out(c);
    if (c->out.len > 0 && !c->client_gone) {
      paused_add(c); /* the drain timer ends it */
      return;
    }
  }
  finish_ok(c);
}

static void on_drain(uv_timer_t *t) {
  mp_app_t *a = t->data;
  mp_call_t *next;
  for (mp_call_t *c = a->paused; c; c = next) {
    next = c->pnext;
    flush_out(c);
    if (c->client_gone || c->out.len > 0)
      continue; /* on_abort will come for a client that left */
    paused_del(c);
    if (c->upstream_done)
      finish_ok(c);
    else {
      c->last_byte = cp_time_mono();
      curl_easy_pause(c->easy, CURLPAUSE_CONT); /* may pause (re-add) it again */
    }
  }
  if (!a->paused)
    uv_timer_stop(&a->drain_timer);
}

/* --- starting a call ----------------------------------------------------------------- */

static CURL *take_easy(mp_app_t *a) {
  return a->npool > 0 ? a->easy_pool[--a->npool] : curl_easy_init();
}

static int add_header(mp_call_t *c, const char *name, const char *value) {
  char line[8300];
  int n = snprintf(line, sizeof line, "%s: %s", name, value);
  struct curl_slist *h = NULL;
  if (n > 0 && (size_t)n < sizeof line)
    h = curl_slist_append(c->hdrs, line);
  if (n > 0)
    OPENSSL_cleanse(line, (size_t)n < sizeof line ? (size_t)n : sizeof line);
  if (!h)
    return CP_ENOMEM;
  c->hdrs = h;
  return 0;
}

static int setup_easy(mp_call_t *c, cp_http_request_t *req) {
  mp_app_t *a = c->a;
  const cp_mp_upstream_t *up = c->model->upstream;
  char url[4096];
  int n = snprintf(url, sizeof url, "%s%s", up->base_url, cp_mp_api_path(c->api));
  if (n <= 0 || (size_t)n >= sizeof url)
    return CP_EINVAL;
  c->easy = take_easy(a);
  if (!c->easy)
    return CP_ENOMEM;
  int rc = add_header(c, "Content-Type", "application/json");
  if (rc == 0)
    rc = add_header(c, "Accept", c->rq.stream ? "text/event-stream" : "application/json");
  if (rc == 0)
    rc = add_header(c, "X-Request-Id", c->request_id);
  if (rc == 0)
    c->hdrs = curl_slist_append(c->hdrs, "Expect:"), rc = c->hdrs ? 0 : CP_ENOMEM;
  static const char *const pass[] = {"anthropic-version", "anthropic-beta", "openai-beta"};
  for (size_t i = 0; rc == 0 && i < sizeof pass / sizeof pass[0]; i++) {
    const char *v = cp_http_header(req, pass[i]);
    if (v && *v && strlen(v) < 1024)
      rc = add_header(c, pass[i], v);
  }
  if (rc == 0 && up->auth == CP_MP_AUTH_BEARER) {
    char v[4200];
    int vn = snprintf(v, sizeof v, "Bearer %s", up->api_key);
    rc = add_header(c, "Authorization", v);
    OPENSSL_cleanse(v, vn > 0 && (size_t)vn < sizeof v ? (size_t)vn : sizeof v);
  } else if (rc == 0 && up->auth == CP_MP_AUTH_X_API_KEY) {
    rc = add_header(c, "x-api-key", up->api_key);
  }
  if (rc != 0)
    return rc;
  CURL *e = c->easy;
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_POST, 1L);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body);
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->body_len);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->hdrs);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "clawplane-modelproxy/0.1");
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, c);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
  curl_easy_setopt(e, CURLOPT_PRIVATE, c);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(a->connect_timeout * 1000));
  if (a->max_duration > 0)
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(a->max_duration * 1000));
  return 0;
}

static void models_list(mp_app_t *a, cp_http_request_t *req, const cp_mp_limits_t *l) {
  const char *name = req->path + strlen("/v1/models");
  char *body = NULL;
  if (*name == '\0') {
    body = cp_mp_models_json(a->cfg, l);
  } else if (*name == '/' && name[1]) {
    body = cp_mp_model_json(a->cfg, l, name + 1);
    if (!body) {
      count_request(a, "models", "none", 404);
      send_error(req, 404, "invalid_request_error", "model_not_found",
                 "The model does not exist or you do not have access to it.", NULL, NULL);
      return;
    }
  }
  if (!body) {
    count_request(a, "models", "none", 500);
    send_error(req, 500, "server_error", NULL, "out of memory", NULL, NULL);
    return;
  }
  count_request(a, "models", "none", 200);
  if (cp_http_respond(req, 200, "application/json", body, strlen(body)) != 0)
    cp_http_abort(req);
  cJSON_free(body);
}

/* Reads the presented credential: Authorization: Bearer, else x-api-key. */
static const char *presented_token(const cp_http_request_t *req) {
  const char *h = cp_http_header(req, "authorization");
  if (h && strncasecmp(h, "Bearer ", 7) == 0) {
    h += 7;
    while (*h == ' ')
      h++;
    return *h ? h : NULL;
  }
  h = cp_http_header(req, "x-api-key");
  return h && *h ? h : NULL;
}

static void refuse(mp_app_t *a, cp_http_request_t *req, const char *endpoint, const char *model,
                   cp_mp_verdict_t v, double retry_after) {
  static const char *const reasons[] = {"", "model", "tokens", "cost", "streams", "rate"};
  int status;
  const char *type, *code;
  cp_mp_verdict_error(v, &status, &type, &code);
  const char *msg = "refused";
  switch (v) {
  case CP_MP_DENY_MODEL:
    msg = "your plan does not include this model";
    break;
  case CP_MP_DENY_TOKENS:
    msg = "You exceeded your monthly token budget; it renews at the start of next month (UTC).";
    break;
  case CP_MP_DENY_COST:
    msg = "You exceeded your monthly spending budget; it renews at the start of next month (UTC).";
    break;
  case CP_MP_DENY_STREAMS:
    msg = "Too many concurrent streams: wait for one of your streams to end.";
    break;
  case CP_MP_DENY_RATE:
    msg = "Rate limit reached for requests per minute; retry after the time in Retry-After.";
    break;
  case CP_MP_ALLOW:
    break;
  }
  char ra[16];
  snprintf(ra, sizeof ra, "%.0f", ceil(retry_after > 0 ? retry_after : 1));
  cp_counter_add(a->m.refusals, CP_LABELS(reasons[v]), 1);
  count_request(a, endpoint, model, status);
  send_error(req, status, type, code, msg, NULL,
             v == CP_MP_DENY_RATE || v == CP_MP_DENY_STREAMS ? ra : NULL);
}

void cp__mp_proxy_refuse_auth(mp_app_t *a, cp_http_request_t *req, int status) {
  count_request(a, "other", "none", status);
  if (status == 503)
    send_error(req, 503, "server_error", "auth_unavailable",
               "the credential could not be checked right now; retry", NULL, "1");
  else
    send_error(req, 401, "invalid_request_error", "invalid_api_key",
               "Incorrect API key provided: use your runtime's model proxy credential.", NULL,
               NULL);
}

void cp__mp_proxy_handle(mp_app_t *a, cp_http_request_t *req) {
  if (a->draining) {
    count_request(a, "other", "none", 503);
    send_error(req, 503, "server_error", "shutting_down",
               "this model proxy replica is shutting down; retry", NULL, "1");
    return;
  }
  cp_mp_identity_t id;
  const char *tok = presented_token(req);
  if (tok && cp_mp_auth_check(a->auth, tok, strlen(tok), &id) == 0) {
    cp__mp_proxy_serve(a, req, &id);
    return;
  }
  int rc = tok ? cp__mp_review_auth(a, req, tok, strlen(tok), &id) : CP_EUNAUTHORIZED;
  if (rc == 0)
    cp__mp_proxy_serve(a, req, &id);
  else if (rc != 1) /* 1: a TokenReview continues the request */
    cp__mp_proxy_refuse_auth(a, req, rc == CP_EUNAVAILABLE ? 503 : 401);
}

void cp__mp_proxy_serve(mp_app_t *a, cp_http_request_t *req, const cp_mp_identity_t *who) {
  cp_mp_identity_t id = *who;
  mp_user_t *u = cp__mp_user_get(a, id.user);
  if (!u) {
    send_error(req, 500, "server_error", NULL, "out of memory", NULL, NULL);
    return;
  }
  cp_mp_limits_t lim;
  cp__mp_user_limits(a, u, &lim);
  if (strcmp(req->path, "/v1/models") == 0 || strncmp(req->path, "/v1/models/", 11) == 0) {
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
      send_error(req, 405, "invalid_request_error", "method_not_allowed", "use GET", NULL, NULL);
      return;
    }
    models_list(a, req, &lim);
    return;
  }
  cp_mp_api_t api;
  if (cp_mp_api_from_path(req->path, &api) != 0) {
    count_request(a, "other", "none", 404);
    send_error(req, 404, "invalid_request_error", "unknown_url",
               "Unknown request URL; this proxy serves /v1/chat/completions, /v1/completions, "
               "/v1/embeddings, /v1/messages and /v1/models.",
               NULL, NULL);
    return;
  }
  const char *ep = api_name(api);
  if (strcmp(req->method, "POST") != 0) {
    count_request(a, ep, "none", 405);
    send_error(req, 405, "invalid_request_error", "method_not_allowed", "use POST", NULL, NULL);
    return;
  }
  cJSON *root = NULL;
  cp_mp_request_t rq;
  char err[160];
  if (cp_mp_request_parse(req->body, req->body_len, (size_t)a->max_body, api, &root, &rq, err,
                          sizeof err) != 0) {
    count_request(a, ep, "none", 400);
    send_error(req, 400, "invalid_request_error", NULL, err, NULL, NULL);
    return;
  }
  const cp_mp_model_t *model = cp_mp_config_model(a->cfg, rq.model);
  if (!model) {
    cJSON_Delete(root);
    count_request(a, ep, "none", 404);
    send_error(req, 404, "invalid_request_error", "model_not_found",
               "The model does not exist or you do not have access to it.", NULL, NULL);
    return;
  }
  double retry = 0;
  cp_mp_verdict_t v = cp_mp_policy_admit(&lim, &u->st, rq.model, rq.stream, cp_time_mono(), &retry);
  if (v != CP_MP_ALLOW) {
    cJSON_Delete(root);
    refuse(a, req, ep, model->name, v, retry);
    return;
  }
  mp_call_t *c = calloc(1, sizeof *c);
  if (!c) {
    cJSON_Delete(root);
    cp_mp_policy_release(&u->st, rq.stream);
    send_error(req, 500, "server_error", NULL, "out of memory", NULL, NULL);
    return;
  }
  c->a = a;
  c->req = req;
  c->user = u;
  c->id = id;
  c->model = model;
  c->api = api;
  c->rq = rq;
  c->t0 = c->last_byte = cp_time_mono();
  c->counted_stream = rq.stream;
  cp_buf_init(&c->out, OUT_LIMIT);
  cp_buf_init(&c->keep, KEEP_FULL);
  cp_sse_init(&c->parser, MAX_EVENT);
  new_request_id(c->request_id);
  c->next = a->calls;
  if (a->calls)
    a->calls->prev = c;
  a->calls = c;
  a->ncalls++;
  if (rq.stream)
    a->nstreams++;
  cp_gauge_set(a->m.calls, NULL, (double)a->ncalls);
  cp_gauge_set(a->m.streams, NULL, (double)a->nstreams);
  int rc = cp_mp_request_rewrite(root, api, &rq, model->upstream_model, &c->body, &c->body_len);
  cJSON_Delete(root);
  if (rc == 0)
    rc = setup_easy(c, req);
  if (rc == 0)
    rc = cp_uvcurl_add(a->curl, c->easy);
  if (rc != 0) {
    c->code = 500;
    send_error(req, 500, "server_error", NULL, "cannot start the upstream request", c->request_id,
               NULL);
    c->req = NULL;
    c->accounted = true;
    count_request(a, ep, model->name, 500);
    free_call(c);
    return;
  }
  c->in_multi = true;
  cp_http_request_set_on_abort(req, on_abort, c);
  cp_log_debug("call started", "request_id", c->request_id, "user", id.user, "runtime", id.runtime,
               "model", rq.model, "upstream", model->upstream->name, "stream",
               rq.stream ? "true" : "false", NULL);
}

void cp__mp_proxy_cut_all(mp_app_t *a) {
  mp_call_t *next;
  for (mp_call_t *c = a->calls; c; c = next) {
    next = c->next;
    if (c->in_multi) {
      cp_uvcurl_remove(a->curl, c->easy);
      c->in_multi = false;
    }
    if (c->req) {
      const char *msg = "the model proxy is shutting down; retry the call";
      if (c->started && c->sse) {
        char *ev = cp_mp_error_event("server_error", "shutting_down", msg);
        flush_out(c);
        if (!ev || c->out.len > 0 || cp_http_stream_write(c->req, ev, strlen(ev)) != 0 ||
            cp_http_stream_end(c->req) != 0)
          cp_http_abort(c->req);
        free(ev);
      } else if (c->started) {
        cp_http_abort(c->req);
      } else {
        c->code = 503;
        send_error(c->req, 503, "server_error", "shutting_down", msg, c->request_id, "1");
      }
      c->req = NULL;
    }
    account(c);
    free_call(c);
  }
}

/* Ends calls whose upstream has sent nothing for --upstream-timeout (paused calls wait for
 * their client, not for the upstream, and are not timed here). libcurl's low-speed limit
 * cannot do this: it counts the uploaded request body as progress. */
static void on_sweep(uv_timer_t *t) {
  mp_app_t *a = t->data;
  double now = cp_time_mono();
  mp_call_t *next;
  for (mp_call_t *c = a->calls; c; c = next) {
    next = c->next;
    if (!c->in_multi || c->in_paused || now - c->last_byte < a->upstream_timeout)
      continue;
    cp_uvcurl_remove(a->curl, c->easy);
    c->in_multi = false;
    c->upstream_done = true;
    if (c->req && !c->client_gone)
      upstream_failed(c, CURLE_OPERATION_TIMEDOUT);
  }
}

int cp__mp_proxy_init(mp_app_t *a) {
  uv_timer_init(&a->loop, &a->drain_timer);
  uv_timer_init(&a->loop, &a->sweep_timer);
  a->drain_timer.data = a->sweep_timer.data = a;
  uv_timer_start(&a->sweep_timer, on_sweep, SWEEP_MS, SWEEP_MS);
  return cp_uvcurl_new(&a->loop, on_done, a->max_host_connections, &a->curl);
}

static void timer_closed(uv_handle_t *h) {
  (void)h;
}

void cp__mp_proxy_close(mp_app_t *a) {
  cp_uvcurl_close(a->curl, NULL, NULL);
  a->curl = NULL;
  while (a->npool > 0)
    curl_easy_cleanup(a->easy_pool[--a->npool]);
  uv_close((uv_handle_t *)&a->drain_timer, timer_closed);
  uv_close((uv_handle_t *)&a->sweep_timer, timer_closed);
}
