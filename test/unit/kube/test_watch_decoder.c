/* cp_watch_decoder_t: any split of the stream gives the same events, lines are capped,
 * bad input is an error, bookmarks move the resourceVersion, 410 means relist. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "kube/watch.h"

#define EV_ADDED                                                                                   \
  "{\"type\":\"ADDED\",\"object\":{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\","           \
  "\"resourceVersion\":\"101\"},\"data\":{\"k\":\"line\\nbreak\"}}}\n"
#define EV_MODIFIED                                                                                \
  "{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\","        \
  "\"resourceVersion\":\"102\"}}}\n"
#define EV_DELETED                                                                                 \
  "{\"type\":\"DELETED\",\"object\":{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\","         \
  "\"resourceVersion\":\"103\"}}}\n"
#define EV_BOOKMARK                                                                                \
  "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"ConfigMap\",\"metadata\":{"                       \
  "\"resourceVersion\":\"250\"}}}\n"
#define EV_GONE                                                                                    \
  "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":"          \
  "\"Failure\",\"message\":\"too old resource version: 1 (512)\",\"reason\":\"Expired\","          \
  "\"code\":410}}\n"

typedef struct rec_s {
  int n;
  cp_watch_type_t types[16];
  char names[16][16];
  char rvs[16][16];
  int stop_at; /* return 1 from the callback for event number stop_at (1-based), 0 = never */
} rec_t;

static int record(cp_watch_event_t *ev, void *ud) {
  rec_t *r = ud;
  assert_true(r->n < 16);
  r->types[r->n] = ev->type;
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(ev->object, "metadata"), "name");
  snprintf(r->names[r->n], sizeof r->names[0], "%s", cJSON_IsString(name) ? name->valuestring : "");
  snprintf(r->rvs[r->n], sizeof r->rvs[0], "%s", ev->resource_version);
  r->n++;
  return r->stop_at == r->n ? 1 : 0;
}

static const char stream3[] = EV_ADDED EV_MODIFIED EV_DELETED;

static void check_three(const rec_t *r, const cp_watch_decoder_t *d) {
  assert_int_equal(r->n, 3);
  assert_int_equal(r->types[0], CP_WATCH_ADDED);
  assert_int_equal(r->types[1], CP_WATCH_MODIFIED);
  assert_int_equal(r->types[2], CP_WATCH_DELETED);
  assert_string_equal(r->names[0], "a");
  assert_string_equal(r->rvs[0], "101");
  assert_string_equal(r->rvs[2], "103");
  assert_string_equal(d->resource_version, "103");
}

static void every_split_point_gives_same_events(void **state) {
  (void)state;
  size_t len = strlen(stream3);
  for (size_t cut = 0; cut <= len; cut++) {
    cp_watch_decoder_t d;
    rec_t r = {0};
    cp_watch_decoder_init(&d, 0, NULL);
    assert_int_equal(cp_watch_decoder_feed(&d, stream3, cut, record, &r), 0);
    assert_int_equal(cp_watch_decoder_feed(&d, stream3 + cut, len - cut, record, &r), 0);
    check_three(&r, &d);
    assert_int_equal(d.line.len, 0);
    cp_watch_decoder_free(&d);
  }
}

static void byte_by_byte(void **state) {
  (void)state;
  cp_watch_decoder_t d;
  rec_t r = {0};
  cp_watch_decoder_init(&d, 0, "7");
  assert_string_equal(d.resource_version, "7");
  for (size_t i = 0; stream3[i]; i++)
    assert_int_equal(cp_watch_decoder_feed(&d, stream3 + i, 1, record, &r), 0);
  check_three(&r, &d);
  cp_watch_decoder_free(&d);
}

static void several_events_in_one_chunk_and_blank_lines(void **state) {
  (void)state;
  static const char s[] = EV_ADDED "\n\r\n" EV_MODIFIED EV_DELETED;
  cp_watch_decoder_t d;
  rec_t r = {0};
  cp_watch_decoder_init(&d, 0, NULL);
  assert_int_equal(cp_watch_decoder_feed(&d, s, strlen(s), record, &r), 0);
  check_three(&r, &d);
  assert_int_equal(d.events, 3);
  cp_watch_decoder_free(&d);
}

static void trailing_partial_line_is_not_emitted(void **state) {
  (void)state;
  cp_watch_decoder_t d;
  rec_t r = {0};
  cp_watch_decoder_init(&d, 0, NULL);
  const char *s = EV_ADDED EV_MODIFIED;
  size_t len = strlen(s) - 1; /* drop the final '\n' */
  assert_int_equal(cp_watch_decoder_feed(&d, s, len, record, &r), 0);
  assert_int_equal(r.n, 1);
  assert_string_equal(d.resource_version, "101");
  assert_true(d.line.len > 0); /* waits for the rest */
  assert_int_equal(cp_watch_decoder_feed(&d, "\n", 1, record, &r), 0);
  assert_int_equal(r.n, 2);
  assert_string_equal(d.resource_version, "102");
  cp_watch_decoder_free(&d);
}

static void huge_line_is_toobig_with_bounded_memory(void **state) {
  (void)state;
  cp_watch_decoder_t d;
  rec_t r = {0};
  const size_t cap = 4096;
  cp_watch_decoder_init(&d, cap, NULL);
  assert_int_equal(cp_watch_decoder_feed(&d, EV_ADDED, strlen(EV_ADDED), record, &r), 0);
  char chunk[1000];
  memset(chunk, 'x', sizeof chunk);
  int rc = 0;
  size_t fed = 0;
  for (int i = 0; i < 100 && rc == 0; i++, fed += sizeof chunk) {
    rc = cp_watch_decoder_feed(&d, chunk, sizeof chunk, record, &r);
    assert_true(d.line.alloc <= cap + 1);
  }
  assert_int_equal(rc, CP_ETOOBIG);
  assert_true(fed <= cap + sizeof chunk); /* failed as soon as the cap was passed */
  assert_int_equal(r.n, 1);
  /* Sticky: more input, even a valid event, keeps failing until reset. */
  assert_int_equal(cp_watch_decoder_feed(&d, EV_MODIFIED, strlen(EV_MODIFIED), record, &r),
                   CP_ETOOBIG);
  cp_watch_decoder_reset(&d);
  assert_int_equal(cp_watch_decoder_feed(&d, EV_MODIFIED, strlen(EV_MODIFIED), record, &r), 0);
  assert_string_equal(d.resource_version, "102");
  cp_watch_decoder_free(&d);

  /* A too long line inside one chunk, newline included, fails the same way. */
  cp_watch_decoder_init(&d, 64, NULL);
  assert_int_equal(cp_watch_decoder_feed(&d, EV_ADDED, strlen(EV_ADDED), record, &r), CP_ETOOBIG);
  cp_watch_decoder_free(&d);
}

static void default_cap_holds_at_16_mib(void **state) {
  (void)state;
  cp_watch_decoder_t d;
  rec_t r = {0};
  cp_watch_decoder_init(&d, 0, NULL);
  static char chunk[1 << 16];
  memset(chunk, ' ', sizeof chunk);
  int rc = 0;
  size_t fed = 0;
  while (rc == 0 && fed < ((size_t)32 << 20)) {
    rc = cp_watch_decoder_feed(&d, chunk, sizeof chunk, record, &r);
    fed += sizeof chunk;
  }
  assert_int_equal(rc, CP_ETOOBIG);
  assert_int_equal(fed, CP_WATCH_DEFAULT_MAX_LINE + sizeof chunk);
  assert_int_equal(d.line.alloc, 0); /* released on failure */
  cp_watch_decoder_free(&d);
}

static void line_exactly_at_cap_is_accepted(void **state) {
  (void)state;
  size_t len = strlen(EV_MODIFIED) - 1;
  cp_watch_decoder_t d;
  rec_t r = {0};
  cp_watch_decoder_init(&d, len, NULL);
  assert_int_equal(cp_watch_decoder_feed(&d, EV_MODIFIED, len, record, &r), 0);
  assert_int_equal(cp_watch_decoder_feed(&d, "\n", 1, record, &r), 0);
  assert_int_equal(r.n, 1);
  cp_watch_decoder_free(&d);
}

static void garbage_is_parse_error(void **state) {
  (void)state;
  static const char *bad[] = {
      "not json\n",
      "{\"type\":\"ADDED\"}\n",                    /* no object */
      "{\"type\":\"SQUASHED\",\"object\":{}}\n",   /* unknown type */
      "{\"type\":\"ADDED\",\"object\":\"str\"}\n", /* object not an object */
      "[1,2,3]\n",
      "{\"type\":\"ADDED\",\"object\":{\"metadata\":{}}} trailing\n",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cp_watch_decoder_t d;
    rec_t r = {0};
    cp_watch_decoder_init(&d, 0, NULL);
    char s[512];
    snprintf(s, sizeof s, "%s%s", EV_ADDED, bad[i]);
    assert_int_equal(cp_watch_decoder_feed(&d, s, strlen(s), record, &r), CP_EPARSE);
    assert_int_equal(r.n, 1);
    assert_string_equal(d.resource_version, "101");
    cp_watch_decoder_free(&d);
  }
}

static void bookmark_moves_resource_version(void **state) {
  (void)state;
  cp_watch_decoder_t d;
  rec_t r = {0};
  cp_watch_decoder_init(&d, 0, "100");
  const char *s = EV_ADDED EV_BOOKMARK;
  assert_int_equal(cp_watch_decoder_feed(&d, s, strlen(s), record, &r), 0);
  assert_int_equal(r.n, 2);
  assert_int_equal(r.types[1], CP_WATCH_BOOKMARK);
  assert_string_equal(d.resource_version, "250");
  cp_watch_decoder_free(&d);
}

static void error_410_is_gone_with_status(void **state) {
  (void)state;
  cp_watch_decoder_t d;
  rec_t r = {0};
  cp_watch_decoder_init(&d, 0, "1");
  const char *s = EV_GONE EV_ADDED;
  assert_int_equal(cp_watch_decoder_feed(&d, s, strlen(s), record, &r), CP_EGONE);
  assert_int_equal(r.n, 1); /* the ERROR event was delivered, nothing after it */
  assert_int_equal(r.types[0], CP_WATCH_ERROR);
  assert_int_equal(d.status.http_code, 410);
  assert_string_equal(d.status.reason, "Expired");
  assert_non_null(strstr(d.status.message, "too old resource version"));
  assert_string_equal(d.resource_version, "1");
  cp_watch_decoder_free(&d);

  static const char other[] =
      "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":500,\"message\":\"x\"}}\n";
  cp_watch_decoder_init(&d, 0, NULL);
  assert_int_equal(cp_watch_decoder_feed(&d, other, strlen(other), record, &r), CP_EUNAVAILABLE);
  cp_watch_decoder_free(&d);
}

static int take_and_fail(cp_watch_event_t *ev, void *ud) {
  cJSON **kept = ud;
  if (ev->type == CP_WATCH_MODIFIED)
    return CP_EINTERNAL; /* e.g. the cache refused it */
  *kept = cp_watch_event_take(ev);
  return 0;
}

static void callback_takes_object_or_stops(void **state) {
  (void)state;
  cp_watch_decoder_t d;
  cJSON *kept = NULL;
  cp_watch_decoder_init(&d, 0, NULL);
  assert_int_equal(cp_watch_decoder_feed(&d, stream3, strlen(stream3), take_and_fail, &kept),
                   CP_EINTERNAL);
  assert_non_null(kept); /* still valid: the decoder let go of it */
  assert_string_equal(cJSON_GetObjectItemCaseSensitive(kept, "kind")->valuestring, "ConfigMap");
  cJSON_Delete(kept);
  /* A refused event does not advance the resourceVersion. */
  assert_string_equal(d.resource_version, "101");
  cp_watch_decoder_free(&d);

  rec_t r = {.stop_at = 2};
  cp_watch_decoder_init(&d, 0, NULL);
  assert_int_equal(cp_watch_decoder_feed(&d, stream3, strlen(stream3), record, &r), 1);
  assert_int_equal(r.n, 2);
  assert_string_equal(d.resource_version, "102"); /* a plain stop still counts as seen */
  assert_int_equal(cp_watch_decoder_feed(&d, "\n", 1, record, &r), CP_ECANCELED);
  cp_watch_decoder_free(&d);
}

static void overlong_resource_version_is_parse_error(void **state) {
  (void)state;
  char s[1024];
  char rv[CP_KUBE_RV_MAX + 1];
  memset(rv, '9', sizeof rv - 1);
  rv[sizeof rv - 1] = '\0';
  snprintf(s, sizeof s,
           "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"%s\"}}}\n", rv);
  cp_watch_decoder_t d;
  rec_t r = {0};
  cp_watch_decoder_init(&d, 0, "5");
  assert_int_equal(cp_watch_decoder_feed(&d, s, strlen(s), record, &r), CP_EPARSE);
  assert_string_equal(d.resource_version, "5");
  cp_watch_decoder_free(&d);
}

static void backoff_grows_to_cap_with_jitter(void **state) {
  (void)state;
  assert_int_equal(cp_kube_backoff_ms(0, 0), 800);
  assert_int_equal(cp_kube_backoff_ms(0, 0.99), 800);
  assert_int_equal(cp_kube_backoff_ms(1, 0), 1600);
  assert_int_equal(cp_kube_backoff_ms(1, 0.99999), 1201);
  assert_int_equal(cp_kube_backoff_ms(5, 0), 25600);
  assert_int_equal(cp_kube_backoff_ms(6, 0), 30000);
  assert_int_equal(cp_kube_backoff_ms(1000, 0), 30000);
  long low = cp_kube_backoff_ms(1000, 0.999999);
  assert_true(low >= 22500 && low < 22600);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_split_point_gives_same_events),
      cmocka_unit_test(byte_by_byte),
      cmocka_unit_test(several_events_in_one_chunk_and_blank_lines),
      cmocka_unit_test(trailing_partial_line_is_not_emitted),
      cmocka_unit_test(huge_line_is_toobig_with_bounded_memory),
      cmocka_unit_test(default_cap_holds_at_16_mib),
      cmocka_unit_test(line_exactly_at_cap_is_accepted),
      cmocka_unit_test(garbage_is_parse_error),
      cmocka_unit_test(bookmark_moves_resource_version),
      cmocka_unit_test(error_410_is_gone_with_status),
      cmocka_unit_test(callback_takes_object_or_stops),
      cmocka_unit_test(overlong_resource_version_is_parse_error),
      cmocka_unit_test(backoff_grows_to_cap_with_jitter),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
