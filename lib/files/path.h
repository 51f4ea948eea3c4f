/* Request paths of the file service: the part of a URL after "/v1/files", turned into a
 * path relative to the workspace root, or refused with a message a user can act on.
 *
 * Each segment is percent-decoded on its own; the result is "" (the root) or segments
 * joined by "/", never "/"-led, with no empty, "." or ".." segment, no NUL, no control
 * character (< 0x20, 0x7f), valid UTF-8, each segment at most CP_FILES_NAME_MAX bytes and
 * the whole at most CP_FILES_PATH_MAX bytes. An encoded "/" (%2F) inside a segment is
 * refused rather than turned into a separator. Pure, any thread; fuzzed.
 */
#ifndef CP_FILES_PATH_H
#define CP_FILES_PATH_H

#include <stdbool.h>
#include <stddef.h>

#define CP_FILES_NAME_MAX 255
#define CP_FILES_PATH_MAX 4096

/* Parses raw[0..len) ("", "/", "/a/b", "/a%20b/", not NUL-terminated needed) into out
 * (at least CP_FILES_PATH_MAX + 1 bytes). *trailing_slash (may be NULL) tells whether raw
 * ended in "/". Returns 0, or CP_EINVAL with *why (may be NULL) set to a static message
 * ("invalid percent-encoding in path", ...). out is untouched on failure. */
int cp_files_path_parse(const char *raw, size_t len, char *out, size_t outlen, bool *trailing_slash,
                        const char **why);

/* Checks a path given in a JSON body ("to" of a move): same rules, but raw text (no
 * percent-decoding), with or without a leading "/". Same returns. */
int cp_files_path_plain(const char *text, char *out, size_t outlen, const char **why);

/* The last segment of a parsed path ("" for the root). Borrowed from path. */
const char *cp_files_path_base(const char *path);

#endif
