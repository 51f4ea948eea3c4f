/* Bearer secrets: sessions, API tokens and invitations.
 *
 * A token is a type prefix and 32 random bytes in unpadded base64url: "cps_" sessions,
 * "cpt_" API tokens, "cpi_" invitations (47 characters in all). Only its SHA-256, as 64
 * lowercase hex digits, is ever stored; a presented token is hashed and looked up, and
 * hashes are compared with CRYPTO_memcmp. The helpers that pull a token out of a request
 * (Authorization: Bearer, or the session cookie) are pure string functions. Thread-safe.
 */
#ifndef CP_AUTH_TOKEN_H
#define CP_AUTH_TOKEN_H

#include <stddef.h>

#define CP_TOKEN_SESSION "cps_"
#define CP_TOKEN_API "cpt_"
#define CP_TOKEN_INVITE "cpi_"

#define CP_TOKEN_LEN 47      /* prefix (4) + 43 base64url characters */
#define CP_TOKEN_HASH_LEN 64 /* hex SHA-256, without the terminator */

/* The session cookie's name. */
#define CP_SESSION_COOKIE "clawplane_session"

/* Writes a new random token with prefix (one of the CP_TOKEN_* prefixes) into out (at
 * least CP_TOKEN_LEN + 1 bytes). Returns 0, CP_EINVAL or CP_EINTERNAL (no randomness). */
int cp_token_new(const char *prefix, char *out, size_t outlen);

/* Writes the hex SHA-256 of token into out (at least CP_TOKEN_HASH_LEN + 1 bytes).
 * Returns 0 or CP_EINVAL. */
int cp_token_hash(const char *token, char *out, size_t outlen);

/* Returns 1 when token has the shape of a token with prefix (right length, base64url
 * alphabet), else 0. Shape only: validity is a database lookup. */
int cp_token_well_formed(const char *token, const char *prefix);

/* Constant-time equality of two NUL-terminated strings of equal length (different
 * lengths compare unequal; only the length leaks). Returns 1 when equal. */
int cp_token_equal(const char *a, const char *b);

/* Finds cookie name in a Cookie header value ("a=1; clawplane_session=xyz") and copies
 * its value into out. Returns 0, CP_ENOTFOUND, or CP_ETOOBIG when it does not fit. */
int cp_cookie_get(const char *header, const char *name, char *out, size_t outlen);

/* Copies the credentials of "Bearer <token>" (scheme case-insensitive) into out.
 * Returns 0, CP_ENOTFOUND (no or another scheme) or CP_ETOOBIG. */
int cp_bearer_get(const char *authorization, char *out, size_t outlen);

#endif
