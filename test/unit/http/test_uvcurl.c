/* libcurl multi on libuv (http/uvcurl.h) against a lib/http server on the same loop: many
 * transfers at once, pause and resume, cancel (the server sees the client go), and closing
 * the driver with a transfer still running. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "http/server.h"
#include "http/uvcurl.h"

#define CHUNKS 50
#define CHUNK 10000

typedef struct env_s {
  uv_loop_t loop;
  cp_http_server_t *srv;
  cp_uvcurl_t *m;
  int port;
  int done, ok, aborted, closed;
  uv_timer_t stream_timer;
  cp_http_request_t *streaming;
  int sent;
} env_t;

typedef struct xfer_s {
  env_t *e;
  CURL *easy;
  size_t got;
  long status;
  int pause_every; /* refuse every n-th delivery once (then resumed by a timer) */
  int deliveries;
  uv_timer_t resume;
  int paused;
  CURLcode result;
  int finished;
} xfer_t;

static void on_server_abort(cp_http_request_t *req, void *ud) {
  (void)req;
  env_t *e = ud;
  e->aborted++;
  if (e->streaming) {
    e->streaming = NULL;
    uv_timer_stop(&e->stream_timer);
  }
}

static void stream_tick(uv_timer_t *t) {
  env_t *e = t->data;
  static char buf[CHUNK];
  memset(buf, 'x', sizeof buf);
  if (!e->streaming)
    return;
  if (e->sent == CHUNKS) {
    cp_http_stream_end(e->streaming);
    e->streaming = NULL;
    uv_timer_stop(t);
    return;
  }
  if (cp_http_stream_write(e->streaming, buf, sizeof buf) == 0)
    e->sent++;
}

static void handler(cp_http_request_t *req, void *ud) {
  env_t *e = ud;
  if (strcmp(req->path, "/ok") == 0) {
    cp_http_respond(req, 200, "text/plain", "hello", 5);
  } else if (strcmp(req->path, "/stream") == 0) {
    const char *h[] = {"Content-Type", "application/octet-stream", NULL};
    assert_int_equal(cp_http_stream_start(req, 200, h), 0);
    e->streaming = req;
    e->sent = 0;
    cp_http_request_set_on_abort(req, on_server_abort, e);
    uv_timer_start(&e->stream_timer, stream_tick, 1, 1);
  } else { /* /hang: never answers */
    cp_http_request_set_on_abort(req, on_server_abort, e);
  }
}

static void on_done(CURL *easy, CURLcode result, void *ud) {
  xfer_t *x = ud;
  x->result = result;
  x->finished = 1;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &x->status);
  x->e->done++;
  if (result == CURLE_OK && x->status == 200)
    x->e->ok++;
}

static void resume_cb(uv_timer_t *t) {
  xfer_t *x = t->data;
  x->paused = 0;
  assert_int_equal(cp_uvcurl_unpause(x->e->m, x->easy), 0);
}

static size_t on_write(char *data, size_t size, size_t n, void *ud) {
  (void)data;
  xfer_t *x = ud;
  x->deliveries++;
  if (x->pause_every && !x->paused && x->deliveries % x->pause_every == 0) {
    x->paused = 1;
    uv_timer_start(&x->resume, resume_cb, 2, 0);
    return CURL_WRITEFUNC_PAUSE;
  }
  x->got += size * n;
  return size * n;
}

static void start(env_t *e, xfer_t *x, const char *path) {
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d%s", e->port, path);
  x->e = e;
  x->easy = curl_easy_init();
  uv_timer_init(&e->loop, &x->resume);
  x->resume.data = x;
  curl_easy_setopt(x->easy, CURLOPT_URL, url);
  curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
  curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
  assert_int_equal(cp_uvcurl_add(e->m, x->easy), 0);
}

static void noop_close(uv_handle_t *h) {
  (void)h;
}

static void resume_closed(uv_handle_t *h) {
  ((xfer_t *)h->data)->finished = 2;
}

/* Cleans the transfer up; x lives on the stack, so its timer is closed before return. */
static void finish(xfer_t *x) {
  curl_easy_cleanup(x->easy);
  uv_close((uv_handle_t *)&x->resume, resume_closed);
  while (x->finished != 2)
    uv_run(&x->e->loop, UV_RUN_ONCE);
}

static void drivers_closed(void *ud) {
  ((env_t *)ud)->closed++;
}

static void run_until(env_t *e, int *flag, int want) {
  for (int i = 0; i < 20000 && *flag < want; i++)
    uv_run(&e->loop, UV_RUN_ONCE);
  assert_int_equal(*flag, want);
}

static int setup(void **state) {
  env_t *e = calloc(1, sizeof *e);
  uv_loop_init(&e->loop);
  uv_timer_init(&e->loop, &e->stream_timer);
  e->stream_timer.data = e;
  if (cp_http_server_new(&e->loop, NULL, handler, e, &e->srv) != 0 ||
      cp_http_server_listen(e->srv, "127.0.0.1", 0) != 0 ||
      cp_uvcurl_new(&e->loop, on_done, 0, &e->m) != 0)
    return -1;
  e->port = cp_http_server_port(e->srv);
  *state = e;
  return 0;
}

static int teardown(void **state) {
  env_t *e = *state;
  cp_uvcurl_close(e->m, drivers_closed, e);
  cp_http_server_close(e->srv, NULL);
  uv_close((uv_handle_t *)&e->stream_timer, noop_close);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  assert_int_equal(e->closed, 1);
  assert_int_equal(uv_loop_close(&e->loop), 0);
  free(e);
  return 0;
}

static void many_at_once(void **state) {
  env_t *e = *state;
  xfer_t x[20];
  memset(x, 0, sizeof x);
  for (int i = 0; i < 20; i++)
    start(e, &x[i], "/ok");
  assert_int_equal(cp_uvcurl_running(e->m), 20);
  run_until(e, &e->done, 20);
  assert_int_equal(e->ok, 20);
  assert_int_equal(cp_uvcurl_running(e->m), 0);
  for (int i = 0; i < 20; i++) {
    assert_int_equal(x[i].got, 5);
    finish(&x[i]);
  }
}

static void pause_and_resume(void **state) {
  env_t *e = *state;
  xfer_t x = {.pause_every = 3};
  start(e, &x, "/stream");
  run_until(e, &x.finished, 1);
  assert_int_equal(x.result, CURLE_OK);
  assert_int_equal(x.got, (size_t)CHUNKS * CHUNK); /* refused deliveries came again */
  assert_true(x.deliveries > CHUNKS / 2);
  /* with nothing running there is nothing to resume */
  assert_int_equal(cp_uvcurl_unpause(e->m, x.easy), CP_EINVAL);
  finish(&x);
}

static void cancel_reaches_the_server(void **state) {
  env_t *e = *state;
  xfer_t x = {0};
  start(e, &x, "/hang");
  for (int i = 0; i < 50; i++)
    uv_run(&e->loop, UV_RUN_NOWAIT); /* the request reaches the handler */
  assert_int_equal(cp_uvcurl_remove(e->m, x.easy), 0);
  run_until(e, &e->aborted, 1); /* the server saw its client go */
  assert_int_equal(x.finished, 0);
  assert_int_equal(e->done, 0); /* no done call for a canceled transfer */
  finish(&x);
}

static void close_with_a_transfer_running(void **state) {
  env_t *e = *state;
  xfer_t x = {0};
  start(e, &x, "/hang");
  for (int i = 0; i < 50; i++)
    uv_run(&e->loop, UV_RUN_NOWAIT);
  cp_uvcurl_close(e->m, drivers_closed, e); /* the transfer is dropped, done not called */
  e->m = NULL;
  finish(&x);
  run_until(e, &e->closed, 1);
  run_until(e, &e->aborted, 1);
  assert_int_equal(e->done, 0);
}

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(many_at_once, setup, teardown),
      cmocka_unit_test_setup_teardown(pause_and_resume, setup, teardown),
      cmocka_unit_test_setup_teardown(cancel_reaches_the_server, setup, teardown),
      cmocka_unit_test_setup_teardown(close_with_a_transfer_running, setup, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
