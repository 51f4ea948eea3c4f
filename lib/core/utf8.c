/* UTF-8 validation straight from Unicode's table 3-7 ("well-formed UTF-8 byte
 * sequences"): the lead byte fixes the length and the allowed range of the second byte,
 * which is where overlongs (E0, F0), surrogates (ED) and values past U+10FFFF (F4) are
 * cut off; every later byte is a plain continuation 80..BF.
 */
#include "core/utf8.h"

size_t cp_utf8_valid_len(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF; /* range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0)
        lo = 0xA0; /* below: overlong */
      else if (c == 0xED)
        hi = 0x9F; /* above: U+D800..U+DFFF */
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0)
        lo = 0x90; /* below: overlong */
      else if (c == 0xF4)
        hi = 0x8F; /* above: past U+10FFFF */
    } else {
      return i; /* C0, C1 (overlong), F5..FF, or a stray continuation byte */
    }
    if (n - i < len || p[i + 1] < lo || p[i + 1] > hi)
      return i;
    for (size_t k = 2; k < len; k++)
      if (p[i + k] < 0x80 || p[i + k] > 0xBF)
        return i;
    i += len;
  }
  return n;
}
