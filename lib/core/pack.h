/* Deflated copies of similar texts, each compressed against one shared dictionary.
 *
 * An informer's cache holds thousands of near-identical objects: every runtime's pod has the
 * same image, command, environment names, security context and volumes, and differs in a
 * name, a uid and some timestamps. Deflate with a typical text of the kind as its preset
 * dictionary stores what all of them repeat once, in the dictionary, and each object in a
 * fraction of its text. Raw deflate (no header, no checksum: the data never leaves the
 * process) from Debian's zlib; each thread keeps one compressor for its life, so a call
 * allocates only its result.
 */
#ifndef CP_CORE_PACK_H
#define CP_CORE_PACK_H

#include <stddef.h>

/* The longest dictionary used: deflate looks back at most its 16 KiB window, which must
 * hold the dictionary and the text after it for the whole text to find its match, so a
 * longer sample's tail is kept. */
#define CP_PACK_DICT_MAX 8192

typedef struct cp_pack_dict_s cp_pack_dict_t;

/* A dictionary from text[0..len) (copied; only its last CP_PACK_DICT_MAX bytes). NULL on
 * ENOMEM. Immutable once made: any thread may pack and unpack with it. */
cp_pack_dict_t *cp_pack_dict_new(const char *text, size_t len);

/* Frees d. Accepts NULL. Nothing packed with d can be unpacked afterwards. */
void cp_pack_dict_free(cp_pack_dict_t *d);

/* The bound on what cp_pack writes for len bytes of text. */
size_t cp_pack_bound(size_t len);

/* Deflates text[0..len) against d (NULL: no dictionary) into out, which has room for
 * cp_pack_bound(len) bytes, and returns the bytes written; 0 on ENOMEM (out is then
 * unspecified). Any thread. */
size_t cp_pack(const cp_pack_dict_t *d, const char *text, size_t len, unsigned char *out);

/* Inflates packed[0..n), made by cp_pack with the same d, into out, which has room for the
 * text's len bytes plus a terminator; out is NUL-terminated. Returns 0, CP_ENOMEM, or
 * CP_EINVAL when the data does not inflate to exactly len bytes (raw deflate carries no
 * checksum: the data is trusted, it never leaves the process). Any thread. */
int cp_unpack(const cp_pack_dict_t *d, const unsigned char *packed, size_t n, char *out,
              size_t len);

#endif
