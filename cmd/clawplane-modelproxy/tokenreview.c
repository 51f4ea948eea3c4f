/* Service-account tokens as runtime credentials (--token-review-audience): a presented
 * token that is not a known Secret token but looks like a JWT is checked with a
 * TokenReview (modelproxy/tokenreview.h says how a pod-bound token maps to a runtime).
 *
 * The review is a blocking API call, so it runs on this file's thread with its own kube
 * client; the request waits (lib/http async response, on_abort noted) and is continued on
 * the loop when the answer comes back through a uv_async. Answers are cached on the loop
 * by the token's SHA-256: a valid token until its expiry (at most 10 minutes), a refused
 * one for 10 seconds. A cached token still needs its runtime's credentials Secret, so
 * deleting the runtime revokes it at once, as for Secret tokens. Reviews in flight are
 * capped; past the cap a call gets 503.
 */
#include "mp.h"

#include "core/error.h"
#include "core/time.h"
#include "kube/client.h"
#include "log/log.h"
#include "modelproxy/tokenreview.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INFLIGHT 256
#define MAX_CACHE 10000
#define POSITIVE_MAX_S 600.0
#define NEGATIVE_S 10.0

typedef struct review_s {
  mp_app_t *a;
  cp_http_request_t *req; /* NULL once the client left */
  char *token;
  size_t len;
  char hex[2 * SHA256_DIGEST_LENGTH + 1];
  int rc;
  char ns[64];
  char pod[254];
  double exp;
  struct review_s *next;
} review_t;

typedef struct cached_s {
  int ok;
  double until; /* monotonic */
  char ns[64];
  char pod[254];
} cached_t;

struct mp_reviewer_s {
  mp_app_t *a;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool stop;
  review_t *todo, *todo_tail; /* loop -> thread */
  review_t *done;             /* thread -> loop */
  uv_async_t async;
  cp_kube_client_t *kc;
  cp_map_t cache; /* loop-owned: token digest hex -> cached_t */
  size_t inflight;
};

static void digest_hex(const char *tok, size_t len, char out[2 * SHA256_DIGEST_LENGTH + 1]) {
  static const char x[] = "0123456789abcdef";
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256((const unsigned char *)tok, len, d);
  for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
    out[2 * i] = x[d[i] >> 4];
    out[2 * i + 1] = x[d[i] & 15];
  }
  out[2 * SHA256_DIGEST_LENGTH] = '\0';
}

static void review_free(review_t *r) {
  if (!r)
    return;
  if (r->token) {
    OPENSSL_cleanse(r->token, r->len);
    free(r->token);
  }
  free(r);
}

/* --- the thread ------------------------------------------------------------------------- */

static const cp_gvr_t TOKENREVIEWS = {"authentication.k8s.io", "v1", "tokenreviews", false};

static void review_one(mp_reviewer_t *t, review_t *r) {
  cJSON *body = cp_mp_tokenreview_request(r->token, r->len, t->a->review_audience);
  cJSON *out = NULL;
  cp_status_t st = {0};
  int rc = body ? cp_kube_create(t->kc, &TOKENREVIEWS, NULL, body, &out, &st) : CP_ENOMEM;
  if (body) {
    /* The tree holds a copy of the token: wipe it before freeing. */
    cJSON *tok =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(body, "spec"), "token");
    if (cJSON_IsString(tok))
      OPENSSL_cleanse(tok->valuestring, strlen(tok->valuestring));
    cJSON_Delete(body);
  }
  if (rc == 0)
    rc = cp_mp_tokenreview_result(out, t->a->review_audience, r->ns, sizeof r->ns, r->pod,
                                  sizeof r->pod);
  else {
    char code[16];
    snprintf(code, sizeof code, "%ld", st.http_code);
    cp_log_warn("TokenReview failed", "error", cp_strerror(rc), "code", code, "reason", st.reason,
                "message", st.message, NULL);
    rc = CP_EUNAVAILABLE;
  }
  cJSON_Delete(out);
  r->rc = rc;
  r->exp = rc == 0 ? cp_mp_jwt_expiry(r->token, r->len) : 0;
  OPENSSL_cleanse(r->token, r->len);
}

static void *run(void *arg) {
  mp_reviewer_t *t = arg;
  pthread_mutex_lock(&t->mu);
  for (;;) {
    while (!t->todo && !t->stop)
      pthread_cond_wait(&t->cv, &t->mu);
    if (t->stop)
      break;
    review_t *r = t->todo;
    t->todo = r->next;
    if (!t->todo)
      t->todo_tail = NULL;
    pthread_mutex_unlock(&t->mu);
    review_one(t, r);
    pthread_mutex_lock(&t->mu);
    r->next = t->done;
    t->done = r;
    uv_async_send(&t->async);
  }
  pthread_mutex_unlock(&t->mu);
  return NULL;
}

/* --- the loop --------------------------------------------------------------------------- */

static void on_review_abort(cp_http_request_t *req, void *ud) {
  (void)req;
  ((review_t *)ud)->req = NULL;
}

/* Maps a cached answer to an identity: 0, or CP_EUNAUTHORIZED (refused, or the runtime's
 * credentials Secret is gone). */
static int identity_of(mp_app_t *a, const cached_t *c, cp_mp_identity_t *id) {
  if (!c->ok)
    return CP_EUNAUTHORIZED;
  char key[400];
  snprintf(key, sizeof key, "%s/%s-credentials", c->ns, c->pod);
  return cp_mp_auth_lookup_key(a->auth, key, id) == 0 ? 0 : CP_EUNAUTHORIZED;
}

static void cache_put(mp_reviewer_t *t, const review_t *r) {
  if (r->rc == CP_EUNAVAILABLE)
    return; /* the API server did not answer: ask again next time */
  if (t->cache.len >= MAX_CACHE)
    cp_map_free(&t->cache, free), cp_map_init(&t->cache);
  cached_t *c = calloc(1, sizeof *c);
  if (!c)
    return;
  c->ok = r->rc == 0;
  double ttl = NEGATIVE_S;
  if (c->ok) {
    ttl = r->exp > 0 ? r->exp - cp_time_now() : 60.0;
    if (ttl > POSITIVE_MAX_S)
      ttl = POSITIVE_MAX_S;
  }
  c->until = cp_time_mono() + ttl;
  snprintf(c->ns, sizeof c->ns, "%s", r->ns);
  snprintf(c->pod, sizeof c->pod, "%s", r->pod);
  void *old = NULL;
  if (ttl <= 0 || cp_map_put(&t->cache, r->hex, c, &old) != 0)
    free(c);
  free(old);
}

static void on_async(uv_async_t *h) {
  mp_reviewer_t *t = h->data;
  pthread_mutex_lock(&t->mu);
  review_t *list = t->done;
  t->done = NULL;
  pthread_mutex_unlock(&t->mu);
  while (list) {
    review_t *r = list;
    list = r->next;
    t->inflight--;
    cache_put(t, r);
    cp_counter_add(t->a->m.reviews,
                   CP_LABELS(r->rc == 0                 ? "authenticated"
                             : r->rc == CP_EUNAVAILABLE ? "error"
                                                        : "refused"),
                   1);
    if (r->req) {
      cp_http_request_set_on_abort(r->req, NULL, NULL);
      cached_t c = {.ok = r->rc == 0};
      snprintf(c.ns, sizeof c.ns, "%s", r->ns);
      snprintf(c.pod, sizeof c.pod, "%s", r->pod);
      cp_mp_identity_t id;
      if (r->rc == CP_EUNAVAILABLE)
        cp__mp_proxy_refuse_auth(t->a, r->req, 503);
      else if (identity_of(t->a, &c, &id) == 0)
        cp__mp_proxy_serve(t->a, r->req, &id);
      else
        cp__mp_proxy_refuse_auth(t->a, r->req, 401);
    }
    review_free(r);
  }
}

int cp__mp_review_auth(mp_app_t *a, cp_http_request_t *req, const char *tok, size_t len,
                       cp_mp_identity_t *id) {
  mp_reviewer_t *t = a->reviewer;
  if (!t || !cp_mp_looks_like_jwt(tok, len))
    return CP_EUNAUTHORIZED;
  char hex[2 * SHA256_DIGEST_LENGTH + 1];
  digest_hex(tok, len, hex);
  cached_t *c = cp_map_get(&t->cache, hex);
  if (c && cp_time_mono() < c->until)
    return identity_of(a, c, id);
  if (t->inflight >= MAX_INFLIGHT)
    return CP_EUNAVAILABLE;
  review_t *r = calloc(1, sizeof *r);
  if (r)
    r->token = malloc(len);
  if (!r || !r->token) {
    review_free(r);
    return CP_EUNAVAILABLE;
  }
  memcpy(r->token, tok, len);
  r->len = len;
  r->a = a;
  r->req = req;
  memcpy(r->hex, hex, sizeof hex);
  cp_http_request_set_on_abort(req, on_review_abort, r);
  t->inflight++;
  pthread_mutex_lock(&t->mu);
  if (t->todo_tail)
    t->todo_tail->next = r;
  else
    t->todo = r;
  t->todo_tail = r;
  pthread_cond_signal(&t->cv);
  pthread_mutex_unlock(&t->mu);
  return 1;
}

int cp__mp_review_start(mp_app_t *a) {
  if (!a->review_audience || !a->use_kube)
    return 0;
  mp_reviewer_t *t = calloc(1, sizeof *t);
  if (!t)
    return CP_ENOMEM;
  t->a = a;
  cp_kube_client_opts_t co = {
      .user_agent = "clawplane-modelproxy/0.1", .timeout_ms = 10000, .metrics = a->reg};
  int rc = cp_kube_client_new(a->kcfg, &co, &t->kc);
  if (rc != 0) {
    free(t);
    return rc;
  }
  pthread_mutex_init(&t->mu, NULL);
  pthread_cond_init(&t->cv, NULL);
  cp_map_init(&t->cache);
  uv_async_init(&a->loop, &t->async, on_async);
  t->async.data = t;
  uv_unref((uv_handle_t *)&t->async);
  if (pthread_create(&t->thread, NULL, run, t) != 0) {
    uv_close((uv_handle_t *)&t->async, NULL);
    cp_kube_client_free(t->kc);
    free(t);
    return CP_ENOMEM;
  }
  a->reviewer = t;
  return 0;
}

static void async_closed(uv_handle_t *h) {
  mp_reviewer_t *t = h->data;
  cp_map_free(&t->cache, free);
  free(t);
}

void cp__mp_review_stop(mp_app_t *a) {
  mp_reviewer_t *t = a->reviewer;
  if (!t)
    return;
  pthread_mutex_lock(&t->mu);
  t->stop = true;
  pthread_cond_signal(&t->cv);
  pthread_mutex_unlock(&t->mu);
  pthread_join(t->thread, NULL);
  review_t *lists[2] = {t->todo, t->done};
  for (int i = 0; i < 2; i++) {
    while (lists[i]) {
      review_t *r = lists[i];
      lists[i] = r->next;
      review_free(r); /* their requests were aborted when the server closed */
    }
  }
  cp_kube_client_free(t->kc);
  pthread_mutex_destroy(&t->mu);
  pthread_cond_destroy(&t->cv);
  a->reviewer = NULL;
  uv_close((uv_handle_t *)&t->async, async_closed);
}
