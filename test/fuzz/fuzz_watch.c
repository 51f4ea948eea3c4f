/* Fuzzes the watch stream decoder. The first input byte picks a line cap and a split
 * point; the rest is the stream. The same stream is decoded three ways (whole, split in
 * two, byte by byte) and must give the same events, resourceVersion and result: the
 * decoder may not depend on how the network chunked its input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube/watch.h"

typedef struct trace_s {
  unsigned long n;
  unsigned long hash; /* of types and resourceVersions, in order */
  int take;           /* take every other object, to exercise ownership transfer */
} trace_t;

static int on_event(cp_watch_event_t *ev, void *ud) {
  trace_t *t = ud;
  t->n++;
  t->hash = t->hash * 31 + (unsigned long)ev->type;
  for (const char *p = ev->resource_version; *p; p++)
    t->hash = t->hash * 31 + (unsigned char)*p;
  if (t->take ^= 1)
    cJSON_Delete(cp_watch_event_take(ev));
  return 0;
}

static int decode(const char *s, size_t len, size_t cap, size_t step, trace_t *t, char *rv) {
  cp_watch_decoder_t d;
  cp_watch_decoder_init(&d, cap, "0");
  int r = 0;
  for (size_t off = 0; off < len && r == 0; off += step) {
    size_t n = len - off < step ? len - off : step;
    r = cp_watch_decoder_feed(&d, s + off, n, on_event, t);
  }
  memcpy(rv, d.resource_version, sizeof d.resource_version);
  cp_watch_decoder_free(&d);
  return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  size_t cap = 16 + (size_t)data[0] * 64;
  const char *s = (const char *)data + 1;
  size_t len = size - 1;
  size_t split = len ? (size_t)data[0] % len + 1 : 1;
  trace_t a = {0}, b = {0}, c = {0};
  char rva[CP_KUBE_RV_MAX], rvb[CP_KUBE_RV_MAX], rvc[CP_KUBE_RV_MAX];
  int ra = decode(s, len, cap, len ? len : 1, &a, rva);
  int rb = decode(s, len, cap, split, &b, rvb);
  int rc = decode(s, len, cap, 1, &c, rvc);
  if (ra != rb || ra != rc || a.n != b.n || a.n != c.n || a.hash != b.hash || a.hash != c.hash ||
      strcmp(rva, rvb) || strcmp(rva, rvc))
    abort();
  return 0;
}
