/* The libcurl-on-libuv glue, after curl's own multi-uv example with the lifetimes made
 * explicit: every socket libcurl asks about gets a sock_t holding a uv_poll_t, linked in a
 * list so close can reach the ones libcurl never removes; a poll is stopped (which takes
 * the fd out of epoll at once) before libcurl closes the fd, and freed in its close
 * callback. The driver itself is freed when its timer and all polls have closed.
 */
#include "http/uvcurl.h"
#include "core/error.h"

#include <stdbool.h>
#include <stdlib.h>

typedef struct sock_s {
  uv_poll_t poll;
  curl_socket_t fd;
  cp_uvcurl_t *m;
  struct sock_s *prev, *next;
} sock_t;

struct cp_uvcurl_s {
  uv_loop_t *loop;
  CURLM *multi;
  uv_timer_t timer;
  cp_uvcurl_done_fn done;
  sock_t *socks;
  int running; /* transfers added and not finished */
  int handles; /* open uv handles (timer + polls) */
  bool closing;
  void (*on_closed)(void *ud);
  void *closed_ud;
};

static void maybe_free(cp_uvcurl_t *m) {
  if (!m->closing || m->handles > 0)
    return;
  void (*cb)(void *) = m->on_closed;
  void *ud = m->closed_ud;
  free(m);
  if (cb)
    cb(ud);
}

static void handle_closed(uv_handle_t *h) {
  cp_uvcurl_t *m;
  if (h->type == UV_POLL) {
    sock_t *s = h->data;
    m = s->m;
    free(s);
  } else {
    m = h->data;
  }
  m->handles--;
  maybe_free(m);
}

static void drop_sock(cp_uvcurl_t *m, sock_t *s) {
  if (s->prev)
    s->prev->next = s->next;
  else
    m->socks = s->next;
  if (s->next)
    s->next->prev = s->prev;
  uv_poll_stop(&s->poll);
  uv_close((uv_handle_t *)&s->poll, handle_closed);
}

/* Hands finished transfers to the done callback. */
static void check_done(cp_uvcurl_t *m) {
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(m->multi, &left)) != NULL) {
    if (msg->msg != CURLMSG_DONE)
      continue;
    CURL *easy = msg->easy_handle;
    CURLcode result = msg->data.result;
    void *ud = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&ud);
    curl_multi_remove_handle(m->multi, easy);
    m->running--;
    m->done(easy, result, ud);
  }
}

static void on_poll(uv_poll_t *p, int status, int events) {
  sock_t *s = p->data;
  cp_uvcurl_t *m = s->m;
  int flags = 0;
  if (status < 0)
    flags = CURL_CSELECT_ERR;
  if (events & UV_READABLE)
    flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE)
    flags |= CURL_CSELECT_OUT;
  int still;
  curl_multi_socket_action(m->multi, s->fd, flags, &still);
  check_done(m);
}

static void on_timer(uv_timer_t *t) {
  cp_uvcurl_t *m = t->data;
  int still;
  curl_multi_socket_action(m->multi, CURL_SOCKET_TIMEOUT, 0, &still);
  check_done(m);
}

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
  (void)easy;
  cp_uvcurl_t *m = userp;
  sock_t *s = socketp;
  if (what == CURL_POLL_REMOVE) {
    if (s) {
      curl_multi_assign(m->multi, fd, NULL);
      drop_sock(m, s);
    }
    return 0;
  }
  if (!s) {
    s = calloc(1, sizeof *s);
    if (!s)
      return -1;
    if (uv_poll_init_socket(m->loop, &s->poll, fd) != 0) {
      free(s);
      return -1;
    }
    s->fd = fd;
    s->m = m;
    s->poll.data = s;
    s->next = m->socks;
    if (m->socks)
      m->socks->prev = s;
    m->socks = s;
    m->handles++;
    curl_multi_assign(m->multi, fd, s);
  }
  int ev = 0;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
    ev |= UV_READABLE;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
    ev |= UV_WRITABLE;
  return uv_poll_start(&s->poll, ev, on_poll) == 0 ? 0 : -1;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp) {
  (void)multi;
  cp_uvcurl_t *m = userp;
  if (timeout_ms < 0)
    uv_timer_stop(&m->timer);
  else
    uv_timer_start(&m->timer, on_timer, (uint64_t)timeout_ms, 0);
  return 0;
}

int cp_uvcurl_new(uv_loop_t *loop, cp_uvcurl_done_fn done, long max_host_connections,
                  cp_uvcurl_t **out) {
  if (!loop || !done || !out)
    return CP_EINVAL;
  cp_uvcurl_t *m = calloc(1, sizeof *m);
  if (!m)
    return CP_ENOMEM;
  m->multi = curl_multi_init();
  if (!m->multi) {
    free(m);
    return CP_ENOMEM;
  }
  m->loop = loop;
  m->done = done;
  curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
  curl_multi_setopt(m->multi, CURLMOPT_SOCKETDATA, m);
  curl_multi_setopt(m->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
  curl_multi_setopt(m->multi, CURLMOPT_TIMERDATA, m);
  if (max_host_connections > 0)
    curl_multi_setopt(m->multi, CURLMOPT_MAX_HOST_CONNECTIONS, max_host_connections);
  uv_timer_init(loop, &m->timer);
  m->timer.data = m;
  m->handles = 1;
  *out = m;
  return 0;
}

int cp_uvcurl_add(cp_uvcurl_t *m, CURL *easy) {
  if (!m || !easy || m->closing)
    return CP_EINVAL;
  CURLMcode rc = curl_multi_add_handle(m->multi, easy);
  if (rc == CURLM_OUT_OF_MEMORY)
    return CP_ENOMEM;
  if (rc != CURLM_OK)
    return CP_EINVAL;
  m->running++;
  return 0;
}

int cp_uvcurl_remove(cp_uvcurl_t *m, CURL *easy) {
  if (!m || !easy)
    return CP_EINVAL;
  if (curl_multi_remove_handle(m->multi, easy) != CURLM_OK)
    return CP_EINVAL;
  m->running--;
  return 0;
}

int cp_uvcurl_unpause(cp_uvcurl_t *m, CURL *easy) {
  if (!m || !easy || m->closing || m->running <= 0)
    return CP_EINVAL;
  if (curl_easy_pause(easy, CURLPAUSE_CONT) != CURLE_OK)
    return CP_EIO;
  /* A paused transfer's socket may have no event left to report (the bytes are already in
   * libcurl's buffer, or the upload side waits for data we now have): run the timeout
   * action on the next turn, which drives every transfer due, this one included. */
  uv_timer_start(&m->timer, on_timer, 0, 0);
  return 0;
}

int cp_uvcurl_running(const cp_uvcurl_t *m) {
  return m ? m->running : 0;
}

void cp_uvcurl_close(cp_uvcurl_t *m, void (*on_closed)(void *ud), void *ud) {
  if (!m || m->closing)
    return;
  m->on_closed = on_closed;
  m->closed_ud = ud;
  /* Cleanup closes cached connections, which may call socket_cb(REMOVE); then close the
   * sockets libcurl did not report and the timer. closing is set only now so socket_cb
   * still works during cleanup. */
  curl_multi_cleanup(m->multi);
  m->multi = NULL;
  while (m->socks)
    drop_sock(m, m->socks);
  uv_timer_stop(&m->timer);
  m->closing = true;
  uv_close((uv_handle_t *)&m->timer, handle_closed);
}
