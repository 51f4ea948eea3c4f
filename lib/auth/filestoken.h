/* The file service's credential: one shared key, one token per runtime.
 *
 * The controller and the apiserver share a key (a file of at least 32 random bytes,
 * --files-key-file). The token of runtime N in namespace NS whose UserRuntime has uid U is
 * the lowercase hex HMAC-SHA256(key, "NS/N/U"): the controller stores it in the Secret
 * N-files for the sidecar, the apiserver derives it itself and presents it as a bearer
 * token, so it never reads Secrets. A recreated UserRuntime (new uid) gets a new token.
 * Key bytes live only in the caller's buffer; stack copies are wiped. Thread-safe.
 */
#ifndef CP_AUTH_FILESTOKEN_H
#define CP_AUTH_FILESTOKEN_H

#include <stddef.h>

#define CP_FILES_KEY_MIN 32   /* bytes a key must have */
#define CP_FILES_KEY_MAX 4096 /* bytes a key may have */
#define CP_FILES_TOKEN_LEN 64 /* hex characters of a token, without the terminator */

/* Reads the key file at path into key (up to CP_FILES_KEY_MAX bytes), trailing newlines
 * (\n, \r\n) dropped so `openssl rand -hex 32 > f` and Secrets written by editors both
 * work. Returns 0 and *len, CP_EIO (unreadable; err names the path and errno),
 * CP_EINVAL (shorter than CP_FILES_KEY_MIN) or CP_ETOOBIG. On failure key is wiped and
 * *len untouched. */
int cp_files_key_load(const char *path, unsigned char key[CP_FILES_KEY_MAX], size_t *len, char *err,
                      size_t errlen);

/* Writes the token of runtime ns/name with uid into out (65 bytes: 64 hex + NUL).
 * Returns 0, CP_EINVAL (key shorter than CP_FILES_KEY_MIN, an empty or NULL part, or a
 * part containing '/') or CP_EINTERNAL (OpenSSL failed); out untouched on failure. */
int cp_files_token(const unsigned char *key, size_t keylen, const char *ns, const char *name,
                   const char *uid, char out[CP_FILES_TOKEN_LEN + 1]);

#endif
