/* Copying text into fixed-size fields (status reasons, messages, error texts). */
#ifndef CP_CORE_STR_H
#define CP_CORE_STR_H

#include <stddef.h>

/* Copies src (NULL counts as "") into dst of n bytes, always NUL-terminated when n > 0,
 * cutting what does not fit at a UTF-8 character boundary so the result stays valid
 * text. Returns the number of bytes copied. */
size_t cp_str_copy(char *dst, size_t n, const char *src);

#endif
