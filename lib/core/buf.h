/* A growable byte buffer with a hard limit.
 *
 * Everything that grows from network or user input goes through cp_buf_t so that a
 * hostile peer can never make us allocate past `limit`. The data is always kept
 * NUL-terminated (one byte past len) so text can be handed to parsers directly.
 */
#ifndef CP_CORE_BUF_H
#define CP_CORE_BUF_H

#include <stddef.h>

typedef struct cp_buf_s {
  char *data;   /* NULL until the first append; NUL-terminated after it */
  size_t len;   /* bytes in use, not counting the terminator */
  size_t alloc; /* bytes allocated */
  size_t limit; /* hard cap on len; 0 means "no data allowed" */
} cp_buf_t;

/* Initializes an empty buffer that will refuse to grow past limit bytes. */
void cp_buf_init(cp_buf_t *b, size_t limit);

/* Appends n bytes. Returns 0, CP_ETOOBIG if len would pass the limit (the buffer is
 * unchanged), or CP_ENOMEM. */
int cp_buf_append(cp_buf_t *b, const void *p, size_t n);

/* Appends a NUL-terminated string; same returns as cp_buf_append. */
int cp_buf_puts(cp_buf_t *b, const char *s);

/* Drops the first n bytes (n <= len), keeping the rest at the start of the buffer. */
void cp_buf_consume(cp_buf_t *b, size_t n);

/* Empties the buffer, keeping its memory for reuse. */
void cp_buf_reset(cp_buf_t *b);

/* Hands the data to the caller (who frees it) and leaves the buffer empty. Returns an
 * empty heap string rather than NULL when nothing was appended; NULL only on ENOMEM. */
char *cp_buf_steal(cp_buf_t *b);

/* Releases the memory. Accepts NULL. The buffer may be reused after cp_buf_init. */
void cp_buf_free(cp_buf_t *b);

#endif
