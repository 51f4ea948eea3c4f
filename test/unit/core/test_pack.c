/* Texts deflated against a shared dictionary come back byte for byte, similar texts cost a
 * fraction of their size, and a truncated or mislabelled input is refused, not overrun. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/pack.h"

/* A pod-like JSON text for runtime i: the same shape and values but for the names and uid. */
static size_t pod(int i, char *out, size_t cap) {
  int n = snprintf(out, cap,
                   "{\"metadata\":{\"name\":\"user-%d-runtime\",\"namespace\":\"clawplane\","
                   "\"uid\":\"%08x-1b2c-4d3e-8f90-%012x\",\"labels\":{\"app.kubernetes.io/"
                   "name\":\"openclaw\",\"clawplane.io/user\":\"user-%d\"}},\"spec\":{"
                   "\"containers\":[{\"name\":\"openclaw\",\"image\":\"ghcr.io/openclaw/"
                   "openclaw:2026.9.6\",\"command\":[\"node\",\"openclaw.mjs\",\"gateway\"],"
                   "\"env\":[{\"name\":\"OPENCLAW_CONFIG_PATH\",\"value\":\"/config/"
                   "openclaw.json\"},{\"name\":\"OPENCLAW_STATE_DIR\",\"value\":\"/state\"}],"
                   "\"securityContext\":{\"runAsNonRoot\":true,\"allowPrivilegeEscalation\":"
                   "false,\"readOnlyRootFilesystem\":true,\"capabilities\":{\"drop\":[\"ALL\"]}"
                   ",\"seccompProfile\":{\"type\":\"RuntimeDefault\"}}}]},\"status\":{"
                   "\"phase\":\"Running\"}}",
                   i, (unsigned)i * 2654435761u, (unsigned)i, i);
  return (size_t)n;
}

static void round_trips_with_and_without_a_dictionary(void **state) {
  (void)state;
  char sample[2048], text[2048], back[2048];
  cp_pack_dict_t *d = cp_pack_dict_new(sample, pod(0, sample, sizeof sample));
  assert_non_null(d);
  const cp_pack_dict_t *dicts[] = {d, NULL};
  for (int k = 0; k < 2; k++) {
    size_t len = pod(12345, text, sizeof text);
    unsigned char *packed = malloc(cp_pack_bound(len));
    size_t n = cp_pack(dicts[k], text, len, packed);
    assert_true(n > 0 && n < len);
    memset(back, 'x', sizeof back);
    assert_int_equal(cp_unpack(dicts[k], packed, n, back, len), 0);
    assert_string_equal(back, text);
    free(packed);
  }
  /* empty text */
  unsigned char empty[64];
  size_t n = cp_pack(d, "", 0, empty);
  assert_true(n > 0);
  assert_int_equal(cp_unpack(d, empty, n, back, 0), 0);
  assert_string_equal(back, "");
  cp_pack_dict_free(d);
  cp_pack_dict_free(NULL);
}

/* The point of the dictionary: a thousand alike objects cost a small fraction of their text
 * (the controller's caches count on it), and far less than deflate without one. */
static void alike_texts_cost_a_fraction(void **state) {
  (void)state;
  char sample[2048], text[2048];
  cp_pack_dict_t *d = cp_pack_dict_new(sample, pod(0, sample, sizeof sample));
  size_t texts = 0, with = 0, without = 0;
  unsigned char out[4096];
  for (int i = 1; i <= 1000; i++) {
    size_t len = pod(i, text, sizeof text);
    texts += len;
    with += cp_pack(d, text, len, out);
    without += cp_pack(NULL, text, len, out);
  }
  printf("1000 texts: %zu bytes, deflated %zu, against the dictionary %zu\n", texts, without, with);
  assert_true(with * 8 < texts);
  assert_true(with * 3 < without);
  cp_pack_dict_free(d);
}

static void refuses_wrong_length_and_truncation(void **state) {
  (void)state;
  char text[2048], back[2048];
  size_t len = pod(7, text, sizeof text);
  unsigned char packed[4096];
  size_t n = cp_pack(NULL, text, len, packed);
  assert_int_equal(cp_unpack(NULL, packed, n, back, len - 1), CP_EINVAL); /* longer than said */
  assert_int_equal(cp_unpack(NULL, packed, n, back, len + 1), CP_EINVAL); /* shorter */
  assert_int_equal(cp_unpack(NULL, packed, n / 2, back, len), CP_EINVAL); /* truncated */
  unsigned char junk[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  assert_int_equal(cp_unpack(NULL, junk, sizeof junk, back, 10), CP_EINVAL);
  /* and the stream still works after a failure */
  assert_int_equal(cp_unpack(NULL, packed, n, back, len), 0);
  assert_string_equal(back, text);
}

/* Each thread has its own streams: threads packing and unpacking at once see their own. */
static void *churn(void *arg) {
  int base = *(int *)arg;
  char sample[2048], text[2048], back[2048];
  cp_pack_dict_t *d = cp_pack_dict_new(sample, pod(base, sample, sizeof sample));
  unsigned char packed[4096];
  long bad = 0;
  for (int i = 0; i < 2000; i++) {
    size_t len = pod(base + i, text, sizeof text);
    size_t n = cp_pack(d, text, len, packed);
    if (n == 0 || cp_unpack(d, packed, n, back, len) != 0 || strcmp(back, text) != 0)
      bad++;
  }
  cp_pack_dict_free(d);
  return (void *)bad;
}

static void threads_keep_their_own_streams(void **state) {
  (void)state;
  pthread_t t[4];
  int base[4] = {0, 100000, 200000, 300000};
  for (int i = 0; i < 4; i++)
    assert_int_equal(pthread_create(&t[i], NULL, churn, &base[i]), 0);
  for (int i = 0; i < 4; i++) {
    void *bad = NULL;
    pthread_join(t[i], &bad);
    assert_null(bad);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(round_trips_with_and_without_a_dictionary),
      cmocka_unit_test(alike_texts_cost_a_fraction),
      cmocka_unit_test(refuses_wrong_length_and_truncation),
      cmocka_unit_test(threads_keep_their_own_streams),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
