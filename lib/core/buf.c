/* Doubling growth, capped at limit + 1 bytes (the terminator). */
#include "core/buf.h"
#include "core/error.h"

#include <stdlib.h>
#include <string.h>

void cp_buf_init(cp_buf_t *b, size_t limit) {
  b->data = NULL;
  b->len = 0;
  b->alloc = 0;
  b->limit = limit;
}

int cp_buf_append(cp_buf_t *b, const void *p, size_t n) {
  if (n > b->limit || b->len > b->limit - n)
    return CP_ETOOBIG;
  size_t need = b->len + n + 1;
  if (need > b->alloc) {
    size_t alloc = b->alloc ? b->alloc : 256;
    while (alloc < need)
      alloc *= 2;
    if (alloc > b->limit + 1)
      alloc = b->limit + 1;
    char *d = realloc(b->data, alloc);
    if (!d)
      return CP_ENOMEM;
    b->data = d;
    b->alloc = alloc;
  }
  if (n)
    memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

int cp_buf_puts(cp_buf_t *b, const char *s) {
  return cp_buf_append(b, s, strlen(s));
}

void cp_buf_consume(cp_buf_t *b, size_t n) {
  if (n >= b->len) {
    cp_buf_reset(b);
    return;
  }
  memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
  b->data[b->len] = '\0';
}

void cp_buf_reset(cp_buf_t *b) {
  b->len = 0;
  if (b->data)
    b->data[0] = '\0';
}

char *cp_buf_steal(cp_buf_t *b) {
  char *d = b->data;
  if (!d && !(d = calloc(1, 1)))
    return NULL;
  cp_buf_init(b, b->limit);
  return d;
}

void cp_buf_free(cp_buf_t *b) {
  if (!b)
    return;
  free(b->data);
  cp_buf_init(b, b->limit);
}
