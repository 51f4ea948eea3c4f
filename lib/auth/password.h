/* Password hashing with scrypt (OpenSSL's EVP_KDF "SCRYPT"), in a self-describing
 * string so parameters can be raised later without breaking stored hashes:
 *
 *     $scrypt$ln=15,r=8,p=1$<base64 salt>$<base64 key>
 *
 * (N = 2^ln; 16 random salt bytes; 32-byte key; standard base64 without padding.)
 * Verification recomputes the key with the stored parameters and compares in constant
 * time (CRYPTO_memcmp). Pure apart from the random salt; thread-safe.
 */
#ifndef CP_AUTH_PASSWORD_H
#define CP_AUTH_PASSWORD_H

#include <stddef.h>

/* Longest encoded hash, terminator included. */
#define CP_PASSWORD_HASH_MAX 160

/* Shortest and longest passwords accepted by cp_password_check, in characters (Unicode
 * code points, as JSON Schema's minLength and maxLength count them), and the most bytes
 * such a password takes in UTF-8. */
#define CP_PASSWORD_MIN_LEN 8
#define CP_PASSWORD_MAX_LEN 1024
#define CP_PASSWORD_MAX_BYTES (4 * CP_PASSWORD_MAX_LEN)

/* Default cost: ln=15 (N=32768), r=8, p=1: 32 MiB and a few tens of ms per hash. */
#define CP_PASSWORD_DEFAULT_LN 15

/* Returns 0 when pw (len bytes of UTF-8) is acceptable as a new password:
 * CP_PASSWORD_MIN_LEN to CP_PASSWORD_MAX_LEN characters, no NUL bytes. Otherwise CP_EINVAL with a
 * static reason in *why (may be NULL). */
int cp_password_check(const char *pw, size_t len, const char **why);

/* Hashes pw (len bytes) with cost ln (10..20; 0 = CP_PASSWORD_DEFAULT_LN) and a fresh
 * random salt into out (at least CP_PASSWORD_HASH_MAX bytes). Returns 0, CP_EINVAL (bad
 * ln or outlen), CP_ENOMEM or CP_EINTERNAL (OpenSSL failed). */
int cp_password_hash(const char *pw, size_t len, int ln, char *out, size_t outlen);

/* Returns 0 when pw matches the encoded hash, CP_EUNAUTHORIZED when it does not,
 * CP_EPARSE when encoded is not a hash this module wrote (or its parameters are out of
 * range), CP_ENOMEM / CP_EINTERNAL on failure. The comparison is constant-time. */
int cp_password_verify(const char *pw, size_t len, const char *encoded);

/* Spends the time of one verification at cost ln (0 = CP_PASSWORD_DEFAULT_LN; use the cost
 * real hashes are made with), for callers that must not reveal whether a user exists.
 * Always returns CP_EUNAUTHORIZED. */
int cp_password_verify_dummy(const char *pw, size_t len, int ln);

#endif
