/* Jobs on libuv's thread pool, each with a borrowed worker (a PostgreSQL connection and a
 * Kubernetes client).
 *
 * The pool holds as many workers as the thread pool has threads (UV_THREADPOOL_SIZE is
 * set to match before the loop first uses it), so a job never waits long for one; the
 * condition variable only covers libuv's own use of its threads. Connections open lazily
 * and heal themselves (lib/pg), so a worker stays usable across database restarts.
 */
#include "api.h"

#include "core/error.h"
#include "core/time.h"
#include "log/log.h"

#include <stdlib.h>

int cp__api_pool_init(api_app_t *a) {
  size_t n = (size_t)a->s.workers;
  a->workers = calloc(n, sizeof *a->workers);
  a->idle = calloc(n, sizeof *a->idle);
  if (!a->workers || !a->idle)
    return CP_ENOMEM;
  pthread_mutex_init(&a->pool_mu, NULL);
  pthread_cond_init(&a->pool_cv, NULL);
  cp_pg_opts_t po = {.application_name = "clawplane-apiserver", .statement_timeout_ms = 10000};
  cp_kube_client_opts_t ko = {.timeout_ms = 10000,
                              .connect_timeout_ms = 5000,
                              .user_agent = "clawplane-apiserver/0.1",
                              .max_retries = 1,
                              .metrics = a->metrics};
  for (size_t i = 0; i < n; i++) {
    cp_pg_error_t e = {0};
    int rc = cp_pg_new(a->s.database_url, &po, &a->workers[i].db, &e);
    if (rc != 0) {
      cp_log_error("invalid database URL", "error", e.message, NULL);
      return rc;
    }
    rc = cp_kube_client_new(a->kcfg, &ko, &a->workers[i].kc);
    if (rc != 0)
      return rc;
    a->idle[a->nidle++] = &a->workers[i];
  }
  return 0;
}

void cp__api_pool_free(api_app_t *a) {
  for (size_t i = 0; a->workers && i < (size_t)a->s.workers; i++) {
    cp_pg_free(a->workers[i].db);
    cp_kube_client_free(a->workers[i].kc);
  }
  free(a->workers);
  free(a->idle);
  a->workers = NULL;
  a->idle = NULL;
}

static api_worker_t *take(api_app_t *a) {
  pthread_mutex_lock(&a->pool_mu);
  while (a->nidle == 0)
    pthread_cond_wait(&a->pool_cv, &a->pool_mu);
  api_worker_t *w = a->idle[--a->nidle];
  pthread_mutex_unlock(&a->pool_mu);
  return w;
}

static void give(api_app_t *a, api_worker_t *w) {
  pthread_mutex_lock(&a->pool_mu);
  a->idle[a->nidle++] = w;
  pthread_cond_signal(&a->pool_cv);
  pthread_mutex_unlock(&a->pool_mu);
}

static void work_cb(uv_work_t *req) {
  api_ctx_t *c = req->data;
  api_worker_t *w = take(c->app);
  c->work_fn(c, w);
  /* never hand a worker back in the middle of a transaction */
  cp_pg_rollback(w->db);
  give(c->app, w);
}

static void after_cb(uv_work_t *req, int status) {
  api_ctx_t *c = req->data;
  c->queued = 0;
  c->app->inflight--;
  if (status == UV_ECANCELED && !c->msg[0])
    cp__api_fail(c, 503, "the server is shutting down");
  c->done_fn(c);
}

int cp__api_queue(api_ctx_t *c, api_work_fn work, api_done_fn done) {
  c->work_fn = work;
  c->done_fn = done;
  c->work.data = c;
  int rc = uv_queue_work(c->app->loop, &c->work, work_cb, after_cb);
  if (rc != 0)
    return CP_ENOMEM;
  c->queued = 1;
  c->app->inflight++;
  return 0;
}

void cp__api_run(api_ctx_t *c, api_work_fn work) {
  if (cp__api_queue(c, work, cp__api_finish) != 0) {
    cp__api_fail(c, 500, "could not schedule the request");
    cp__api_finish(c);
  }
}
