/* SSE splitting: events cut anywhere, CRLF, multi-line data, comments, the size cap, and a
 * callback error stopping the feed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "modelproxy/sse.h"

typedef struct seen_s {
  int n;
  char data[8][256];
  char event[8][64];
  char raw[4096];
  int fail_at;
} seen_t;

static int collect(const cp_sse_event_t *ev, void *ud) {
  seen_t *s = ud;
  if (s->fail_at && s->n + 1 == s->fail_at)
    return CP_ECANCELED;
  if (s->n < 8) {
    snprintf(s->data[s->n], sizeof s->data[0], "%s", ev->has_data ? ev->data : "<none>");
    snprintf(s->event[s->n], sizeof s->event[0], "%s", ev->event);
  }
  size_t have = strlen(s->raw);
  assert_true(have + ev->raw_len < sizeof s->raw);
  memcpy(s->raw + have, ev->raw, ev->raw_len);
  s->raw[have + ev->raw_len] = '\0';
  s->n++;
  return 0;
}

static const char STREAM[] = "data: {\"a\":1}\n\n"
                             ": keep-alive\n\n"
                             "event: message_delta\r\ndata: {\"b\":2}\r\n\r\n"
                             "data: one\ndata: two\n\n"
                             "data:[DONE]\n\n";

static void check_stream(const seen_t *s) {
  assert_int_equal(s->n, 5);
  assert_string_equal(s->data[0], "{\"a\":1}");
  assert_string_equal(s->data[1], "<none>");
  assert_string_equal(s->event[2], "message_delta");
  assert_string_equal(s->data[2], "{\"b\":2}");
  assert_string_equal(s->data[3], "one\ntwo");
  assert_string_equal(s->data[4], "[DONE]");
  assert_string_equal(s->raw, STREAM); /* forwarded byte for byte */
}

static void whole_feed(void **state) {
  (void)state;
  cp_sse_t p;
  seen_t s = {0};
  cp_sse_init(&p, 1024);
  assert_int_equal(cp_sse_feed(&p, STREAM, strlen(STREAM), collect, &s), 0);
  check_stream(&s);
  assert_int_equal(cp_sse_pending(&p), 0);
  cp_sse_free(&p);
}

static void byte_by_byte(void **state) {
  (void)state;
  for (size_t step = 1; step < 7; step++) {
    cp_sse_t p;
    seen_t s = {0};
    cp_sse_init(&p, 1024);
    for (size_t i = 0; i < strlen(STREAM); i += step) {
      size_t n = strlen(STREAM) - i < step ? strlen(STREAM) - i : step;
      assert_int_equal(cp_sse_feed(&p, STREAM + i, n, collect, &s), 0);
    }
    check_stream(&s);
    cp_sse_free(&p);
  }
}

static void unfinished_event_is_held(void **state) {
  (void)state;
  cp_sse_t p;
  seen_t s = {0};
  cp_sse_init(&p, 1024);
  assert_int_equal(cp_sse_feed(&p, "data: x\n", 8, collect, &s), 0);
  assert_int_equal(s.n, 0);
  assert_int_equal(cp_sse_pending(&p), 8);
  assert_int_equal(cp_sse_feed(&p, "\n", 1, collect, &s), 0);
  assert_int_equal(s.n, 1);
  cp_sse_free(&p);
}

static void cap_and_callback_error(void **state) {
  (void)state;
  cp_sse_t p;
  seen_t s = {0};
  char big[100];
  memset(big, 'x', sizeof big);
  cp_sse_init(&p, 64);
  assert_int_equal(cp_sse_feed(&p, big, sizeof big, collect, &s), CP_ETOOBIG);
  cp_sse_free(&p);
  /* Many small events in one feed are fine: only one unfinished event counts. */
  cp_sse_init(&p, 16);
  assert_int_equal(cp_sse_feed(&p, "data: 1\n\ndata: 2\n\ndata: 3\n\n", 27, collect, &s), 0);
  assert_int_equal(s.n, 3);
  cp_sse_free(&p);
  seen_t f = {.fail_at = 2};
  cp_sse_init(&p, 64);
  assert_int_equal(cp_sse_feed(&p, "data: 1\n\ndata: 2\n\ndata: 3\n\n", 27, collect, &f),
                   CP_ECANCELED);
  assert_int_equal(f.n, 1);
  cp_sse_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(whole_feed),
      cmocka_unit_test(byte_by_byte),
      cmocka_unit_test(unfinished_event_is_held),
      cmocka_unit_test(cap_and_callback_error),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
