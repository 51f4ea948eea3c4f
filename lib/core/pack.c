/* Each thread makes its deflate and inflate streams on first use and resets them per call
 * (a deflate stream is about 100 KiB of state: making one per object would cost more than
 * compressing it); a thread-specific key frees them when the thread ends. A 16 KiB window
 * (CP_PACK_WINDOW_BITS) holds a whole dictionary and the object after it, and keeps each
 * thread's state small: at the default 32 KiB window and memory level a thread held about
 * 400 KiB, so a controller's handful of informer threads held 2 MiB. */
#include "core/pack.h"
#include "core/error.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define CP_PACK_WINDOW_BITS 14

/* zlib level 3: a Pod's 7.8 KB against its dictionary packs in about half the time of the
 * default level 6 (the cache's ingest CPU when a controller restarts on 10,000 runtimes)
 * into 649 bytes instead of 608. */
#define CP_PACK_LEVEL 3

struct cp_pack_dict_s {
  size_t len;
  unsigned char text[];
};

typedef struct streams_s {
  z_stream def, inf;
  int has_def, has_inf;
} streams_t;

static pthread_key_t streams_key;
static pthread_once_t streams_once = PTHREAD_ONCE_INIT;
static int streams_key_ok;

static void streams_free(void *p) {
  streams_t *s = p;
  if (s->has_def)
    deflateEnd(&s->def);
  if (s->has_inf)
    inflateEnd(&s->inf);
  free(s);
}

static void streams_key_make(void) {
  streams_key_ok = pthread_key_create(&streams_key, streams_free) == 0;
}

static streams_t *streams(void) {
  pthread_once(&streams_once, streams_key_make);
  if (!streams_key_ok)
    return NULL;
  streams_t *s = pthread_getspecific(streams_key);
  if (!s && (s = calloc(1, sizeof *s)) != NULL && pthread_setspecific(streams_key, s) != 0) {
    free(s);
    s = NULL;
  }
  return s;
}

cp_pack_dict_t *cp_pack_dict_new(const char *text, size_t len) {
  if (len > CP_PACK_DICT_MAX) {
    text += len - CP_PACK_DICT_MAX;
    len = CP_PACK_DICT_MAX;
  }
  cp_pack_dict_t *d = malloc(sizeof *d + len);
  if (d) {
    d->len = len;
    memcpy(d->text, text, len);
  }
  return d;
}

void cp_pack_dict_free(cp_pack_dict_t *d) {
  free(d);
}

size_t cp_pack_bound(size_t len) {
  return len + len / 8 + 64; /* deflate's stored blocks cost 5 bytes per 16 KiB */
}

size_t cp_pack(const cp_pack_dict_t *d, const char *text, size_t len, unsigned char *out) {
  streams_t *s = streams();
  if (!s)
    return 0;
  if (!s->has_def) {
    /* Raw deflate (negative window bits), CP_PACK_LEVEL, a smaller hash (memory level 6
     * of 9): the texts are short. */
    if (deflateInit2(&s->def, CP_PACK_LEVEL, Z_DEFLATED, -CP_PACK_WINDOW_BITS, 6,
                     Z_DEFAULT_STRATEGY) != Z_OK)
      return 0;
    s->has_def = 1;
  } else if (deflateReset(&s->def) != Z_OK) {
    return 0;
  }
  if (d && d->len && deflateSetDictionary(&s->def, d->text, (uInt)d->len) != Z_OK)
    return 0;
  s->def.next_in = (Bytef *)(uintptr_t)text; /* zlib's API is not const; it only reads */
  s->def.avail_in = (uInt)len;
  s->def.next_out = out;
  s->def.avail_out = (uInt)cp_pack_bound(len);
  if (deflate(&s->def, Z_FINISH) != Z_STREAM_END)
    return 0;
  return (size_t)s->def.total_out;
}

int cp_unpack(const cp_pack_dict_t *d, const unsigned char *packed, size_t n, char *out,
              size_t len) {
  streams_t *s = streams();
  if (!s)
    return CP_ENOMEM;
  if (!s->has_inf) {
    if (inflateInit2(&s->inf, -CP_PACK_WINDOW_BITS) != Z_OK)
      return CP_ENOMEM;
    s->has_inf = 1;
  } else if (inflateReset(&s->inf) != Z_OK) {
    return CP_EINVAL;
  }
  if (d && d->len && inflateSetDictionary(&s->inf, d->text, (uInt)d->len) != Z_OK)
    return CP_EINVAL;
  s->inf.next_in = (Bytef *)(uintptr_t)packed;
  s->inf.avail_in = (uInt)n;
  s->inf.next_out = (Bytef *)out;
  s->inf.avail_out = (uInt)len;
  int rc = inflate(&s->inf, Z_FINISH);
  if (rc == Z_MEM_ERROR)
    return CP_ENOMEM;
  if (rc != Z_STREAM_END || s->inf.total_out != len || s->inf.avail_in != 0)
    return CP_EINVAL;
  out[len] = '\0';
  return 0;
}
