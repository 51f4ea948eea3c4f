/* cp_list_split_t: every split of a List body gives the same items and the same List
 * without them; strings, escapes and nesting do not fool it; limits and bad bodies are
 * errors, never a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "kube/listsplit.h"

/* Two items whose strings hold every character that means something to the splitter, a
 * nested array of objects, and a top-level key that ends in "items" but is not it. */
static const char body[] =
    "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"x\\\"items\":[1],\"metadata\":{"
    "\"resourceVersion\":\"42\",\"continue\":\"tok{]\"},\"items\": [ "
    "{\"metadata\":{\"name\":\"a}\",\"annotations\":{\"q\":\"\\\"{[\\\\\"}},"
    "\"spec\":{\"containers\":[{\"name\":\"c\",\"args\":[\"]\",\"}\"]}]}} ,\n"
    "{\"metadata\":{\"name\":\"b\"},\"data\":{\"k\":\"\\u00e9\\\\\"}}\n] }";
static const char item_a[] =
    "{\"metadata\":{\"name\":\"a}\",\"annotations\":{\"q\":\"\\\"{[\\\\\"}},"
    "\"spec\":{\"containers\":[{\"name\":\"c\",\"args\":[\"]\",\"}\"]}]}}";
static const char item_b[] = "{\"metadata\":{\"name\":\"b\"},\"data\":{\"k\":\"\\u00e9\\\\\"}}";

typedef struct got_s {
  int n;
  char items[4][256];
  int fail_at; /* return CP_EINTERNAL for item number fail_at (1-based); 0 = never */
} got_t;

static int record(const char *text, size_t len, void *ud) {
  got_t *g = ud;
  assert_true(g->n < 4 && len < sizeof g->items[0]);
  memcpy(g->items[g->n], text, len);
  g->items[g->n][len] = '\0';
  g->n++;
  return g->fail_at == g->n ? CP_EINTERNAL : 0;
}

/* Feeds text in pieces of step bytes; returns the feed's or end's error. */
static int split(const char *text, size_t len, size_t step, got_t *g, cJSON **list) {
  cp_list_split_t s;
  cp_list_split_init(&s, 4096, 4096);
  *list = NULL;
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < len; i += step)
    rc = cp_list_split_feed(&s, text + i, len - i < step ? len - i : step, record, g);
  if (rc == 0)
    rc = cp_list_split_end(&s, list);
  cp_list_split_free(&s);
  return rc;
}

static void every_split_gives_the_same(void **state) {
  (void)state;
  size_t len = strlen(body);
  for (size_t step = 1; step <= len; step++) {
    got_t g = {0};
    cJSON *list = NULL;
    assert_int_equal(split(body, len, step, &g, &list), 0);
    assert_int_equal(g.n, 2);
    assert_string_equal(g.items[0], item_a);
    assert_string_equal(g.items[1], item_b);
    char *rest = cJSON_PrintUnformatted(list);
    assert_string_equal(rest, "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"x\\\"items\":[1],"
                              "\"metadata\":{\"resourceVersion\":\"42\",\"continue\":\"tok{]\"},"
                              "\"items\":[]}");
    free(rest);
    cJSON_Delete(list);
  }
}

static void empty_and_missing_items(void **state) {
  (void)state;
  const char *bodies[] = {"{\"items\":[],\"metadata\":{}}", "{\"metadata\":{\"continue\":\"\"}}",
                          " {\"items\":null} \n"};
  for (size_t i = 0; i < 3; i++) {
    got_t g = {0};
    cJSON *list = NULL;
    assert_int_equal(split(bodies[i], strlen(bodies[i]), 3, &g, &list), 0);
    assert_int_equal(g.n, 0);
    assert_true(cJSON_IsObject(list));
    cJSON_Delete(list);
  }
}

static void bad_bodies_are_errors(void **state) {
  (void)state;
  const char *bodies[] = {
      "",                                     /* nothing */
      "[{\"a\":1}]",                          /* not an object */
      "{\"items\":[{\"a\":1}",                /* cut short */
      "{\"items\":[1,2]}",                    /* items that are not objects */
      "{\"items\":[\"a\"]}",                  /* a string item */
      "{\"items\":[{\"a\":1]]}",              /* an item closed by ']' */
      "{\"items\":[]} {\"items\":[]}",        /* two values */
      "{\"items\":[]]",                       /* the List closed by ']' */
      "{\"items\":[{\"a\":\"unterminated}]}", /* a string that never ends */
  };
  for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
    got_t g = {0};
    cJSON *list = (cJSON *)1;
    int rc = split(bodies[i], strlen(bodies[i]), 2, &g, &list);
    assert_int_equal(rc, CP_EPARSE);
    assert_null(list);
  }
}

static void deep_nesting_is_refused(void **state) {
  (void)state;
  size_t depth = 5000;
  char *b = malloc(depth * 2 + 1);
  memset(b, '[', depth);
  memset(b + depth, ']', depth);
  b[0] = '{';
  b[depth * 2] = '\0';
  got_t g = {0};
  cJSON *list = NULL;
  assert_int_equal(split(b, depth * 2, 64, &g, &list), CP_EPARSE);
  free(b);
}

static void limits_hold(void **state) {
  (void)state;
  /* An item over max_item, whole in one chunk or across chunks; a rest over max_rest. */
  char big[300];
  snprintf(big, sizeof big, "{\"items\":[{\"k\":\"%0200d\"}]}", 0);
  for (size_t step = 7; step <= strlen(big); step += strlen(big) - 7) {
    cp_list_split_t s;
    cp_list_split_init(&s, 100, 4096);
    got_t g = {0};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < strlen(big); i += step)
      rc = cp_list_split_feed(&s, big + i, strlen(big) - i < step ? strlen(big) - i : step, record,
                              &g);
    assert_int_equal(rc, CP_ETOOBIG);
    assert_int_equal(g.n, 0);
    cp_list_split_free(&s);
  }
  cp_list_split_t s;
  cp_list_split_init(&s, 4096, 8); /* the rest is {"items":[]}, 12 bytes */
  got_t g = {0};
  assert_int_equal(cp_list_split_feed(&s, big, strlen(big), record, &g), CP_ETOOBIG);
  cJSON *list = NULL;
  assert_int_equal(cp_list_split_end(&s, &list), CP_ETOOBIG); /* and it stays an error */
  cp_list_split_free(&s);
}

static void callback_error_stops(void **state) {
  (void)state;
  got_t g = {.fail_at = 1};
  cJSON *list = NULL;
  assert_int_equal(split(body, strlen(body), strlen(body), &g, &list), CP_EINTERNAL);
  assert_int_equal(g.n, 1);
  assert_null(list);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_split_gives_the_same),
      cmocka_unit_test(empty_and_missing_items),
      cmocka_unit_test(bad_bodies_are_errors),
      cmocka_unit_test(deep_nesting_is_refused),
      cmocka_unit_test(limits_hold),
      cmocka_unit_test(callback_error_stops),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
