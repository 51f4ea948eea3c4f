/* Fuzzes the List splitter. The first input byte picks an item cap and a split point; the
 * rest is the body. The same body is split three ways (whole, in two pieces, byte by byte)
 * and must give the same items, the same List without them and the same outcome: the
 * splitter may not depend on how the network chunked the body. Every item handed over is
 * parsed, as the informer does. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube/listsplit.h"

typedef struct trace_s {
  unsigned long n;
  unsigned long hash; /* of the items' texts, in order */
} trace_t;

static int on_item(const char *text, size_t len, void *ud) {
  trace_t *t = ud;
  t->n++;
  for (size_t i = 0; i < len; i++)
    t->hash = t->hash * 31 + (unsigned char)text[i];
  t->hash = t->hash * 31 + 1; /* items "ab","c" differ from "a","bc" */
  cJSON_Delete(cJSON_ParseWithLength(text, len));
  return 0;
}

static int split(const char *s, size_t len, size_t cap, size_t step, trace_t *t, char **rest) {
  cp_list_split_t sp;
  cp_list_split_init(&sp, cap, 4096);
  int r = 0;
  for (size_t off = 0; off < len && r == 0; off += step)
    r = cp_list_split_feed(&sp, s + off, len - off < step ? len - off : step, on_item, t);
  cJSON *list = NULL;
  if (r == 0)
    r = cp_list_split_end(&sp, &list);
  *rest = list ? cJSON_PrintUnformatted(list) : NULL;
  cJSON_Delete(list);
  cp_list_split_free(&sp);
  return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  size_t cap = 16 + (size_t)data[0] * 64;
  const char *s = (const char *)data + 1;
  size_t len = size - 1;
  size_t at = len ? (size_t)data[0] % len + 1 : 1;
  trace_t a = {0}, b = {0}, c = {0};
  char *xa = NULL, *xb = NULL, *xc = NULL;
  int ra = split(s, len, cap, len ? len : 1, &a, &xa);
  int rb = split(s, len, cap, at, &b, &xb);
  int rc = split(s, len, cap, 1, &c, &xc);
  int same_rest = (!xa && !xb && !xc) || (xa && xb && xc && !strcmp(xa, xb) && !strcmp(xa, xc));
  /* A body with two faults may report either, depending on the chunking (a too-big item is
   * seen at a chunk's end, a bad byte where it is), and give different items before it;
   * a body that splits may only split one way. */
  if ((ra == 0) != (rb == 0) || (ra == 0) != (rc == 0) || !same_rest ||
      (ra == 0 && (a.n != b.n || a.n != c.n || a.hash != b.hash || a.hash != c.hash)))
    abort();
  free(xa);
  free(xb);
  free(xc);
  return 0;
}
