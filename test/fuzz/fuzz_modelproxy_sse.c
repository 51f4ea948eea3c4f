/* Fuzzes the SSE splitter as an upstream stream reaches it: the input is fed in pieces
 * whose sizes come from the input itself, every event's data goes through the usage
 * reader, and the raw bytes of the events handed on must be exactly the input up to the
 * last event boundary (nothing lost, nothing invented). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "modelproxy/sse.h"
#include "modelproxy/usage.h"

typedef struct out_s {
  const uint8_t *in;
  size_t off; /* raw bytes handed on so far */
  cp_mp_usage_t usage;
} out_t;

static int on_event(const cp_sse_event_t *ev, void *ud) {
  out_t *o = ud;
  if (memcmp(o->in + o->off, ev->raw, ev->raw_len) != 0)
    abort();
  o->off += ev->raw_len;
  if (strlen(ev->data) > ev->data_len)
    abort();
  if (ev->has_data)
    cp_mp_usage_merge_text(&o->usage, ev->data, ev->data_len);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  size_t step = (size_t)(data[0] % 16) + 1;
  data++;
  size--;
  cp_sse_t p;
  cp_sse_init(&p, 4096);
  out_t o = {.in = data};
  size_t fed = 0;
  int rc = 0;
  while (fed < size && rc == 0) {
    size_t n = size - fed < step ? size - fed : step;
    rc = cp_sse_feed(&p, (const char *)data + fed, n, on_event, &o);
    fed += n;
  }
  if (rc == 0 && o.off + cp_sse_pending(&p) != size)
    abort();
  if (rc != 0 && rc != CP_ETOOBIG)
    abort();
  cp_sse_free(&p);
  return 0;
}
