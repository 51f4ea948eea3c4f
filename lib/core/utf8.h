/* UTF-8 validation of text from the network (request bodies) before it reaches code or a
 * database that needs valid text (PostgreSQL refuses invalid bytes with an error).
 *
 * Valid means RFC 3629 / Unicode 15 table 3-7: shortest form only (no overlong
 * encodings), no UTF-16 surrogates (U+D800..U+DFFF), nothing above U+10FFFF, and no
 * sequence cut short. NUL is valid UTF-8; callers that refuse it check it themselves.
 * Pure, any thread.
 */
#ifndef CP_CORE_UTF8_H
#define CP_CORE_UTF8_H

#include <stddef.h>

/* Returns the length of the longest prefix of s[0..n) made of whole, valid UTF-8
 * characters: n when all of it is valid, else the offset of the first byte of the first
 * bad sequence. s may be NULL when n is 0. */
size_t cp_utf8_valid_len(const char *s, size_t n);

#endif
