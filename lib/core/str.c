/* A bounded copy that backs off over UTF-8 continuation bytes when it must cut. */
#include "core/str.h"

#include <string.h>

size_t cp_str_copy(char *dst, size_t n, const char *src) {
  if (!n)
    return 0;
  size_t l = src ? strlen(src) : 0;
  if (l >= n) {
    l = n - 1;
    while (l > 0 && ((unsigned char)src[l] & 0xC0) == 0x80)
      l--; /* src[l] starts the character that does not fit */
  }
  if (l)
    memcpy(dst, src, l);
  dst[l] = '\0';
  return l;
}
