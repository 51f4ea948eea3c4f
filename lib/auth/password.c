/* scrypt password hashes: encode, parse, derive, compare in constant time.
 *
 * The encoded form carries its own cost so verification never depends on today's
 * defaults. Parsing is strict (exact field order, bounded numbers, exact base64 lengths)
 * because the string comes from a database a bug or an attacker may have touched.
 */
#include "auth/password.h"

#include "core/error.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SALT_LEN 16
#define KEY_LEN 32
#define R 8
#define P 1

/* Characters, not bytes: every byte but UTF-8's continuation bytes (10xxxxxx) starts one. */
static size_t chars(const char *s, size_t len) {
  size_t n = 0;
  for (size_t i = 0; i < len; i++)
    n += ((unsigned char)s[i] & 0xC0) != 0x80;
  return n;
}

int cp_password_check(const char *pw, size_t len, const char **why) {
  const char *w = NULL;
  if (!pw)
    w = "a password is required";
  else if (chars(pw, len) < CP_PASSWORD_MIN_LEN)
    w = "password must be at least 8 characters";
  else if (len > CP_PASSWORD_MAX_BYTES || chars(pw, len) > CP_PASSWORD_MAX_LEN)
    w = "password must be at most 1024 characters";
  else if (memchr(pw, '\0', len))
    w = "password must not contain NUL characters";
  if (w && why)
    *why = w;
  return w ? CP_EINVAL : 0;
}

static int derive(const char *pw, size_t len, const unsigned char *salt, size_t saltlen, int ln,
                  int r, int p, unsigned char *key, size_t keylen) {
  int rc = CP_EINTERNAL;
  EVP_KDF *kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL);
  EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
  if (!ctx)
    goto out;
  uint64_t n = (uint64_t)1 << ln;
  uint32_t rr = (uint32_t)r, pp = (uint32_t)p;
  uint64_t maxmem = (uint64_t)128 * n * rr * pp + ((uint64_t)1 << 20) + (uint64_t)128 * rr * pp;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, (void *)pw, len),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, saltlen),
      OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &rr),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &pp),
      OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem),
      OSSL_PARAM_construct_end()};
  if (EVP_KDF_derive(ctx, key, keylen, params) == 1)
    rc = 0;
out:
  EVP_KDF_CTX_free(ctx);
  EVP_KDF_free(kdf);
  return rc;
}

/* Standard base64 without padding; returns the length written (out has room). */
static size_t b64(const unsigned char *in, size_t n, char *out) {
  int l = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
  while (l > 0 && out[l - 1] == '=')
    out[--l] = '\0';
  return (size_t)l;
}

/* Decodes exactly want bytes from unpadded base64 s (of slen chars). Returns 0 or -1. */
static int unb64(const char *s, size_t slen, unsigned char *out, size_t want) {
  size_t expect = (want * 4 + 2) / 3;
  if (slen != expect || slen > 64)
    return -1;
  char in[68];
  memcpy(in, s, slen);
  while (slen % 4)
    in[slen++] = '=';
  unsigned char buf[52];
  int l = EVP_DecodeBlock(buf, (const unsigned char *)in, (int)slen);
  if (l < 0 || (size_t)l < want)
    return -1;
  memcpy(out, buf, want);
  return 0;
}

int cp_password_hash(const char *pw, size_t len, int ln, char *out, size_t outlen) {
  if (!pw || !out || outlen < CP_PASSWORD_HASH_MAX)
    return CP_EINVAL;
  if (ln == 0)
    ln = CP_PASSWORD_DEFAULT_LN;
  if (ln < 10 || ln > 20)
    return CP_EINVAL;
  unsigned char salt[SALT_LEN], key[KEY_LEN];
  if (RAND_bytes(salt, sizeof salt) != 1)
    return CP_EINTERNAL;
  int rc = derive(pw, len, salt, sizeof salt, ln, R, P, key, sizeof key);
  if (rc != 0)
    return rc;
  char s64[32], k64[48];
  b64(salt, sizeof salt, s64);
  b64(key, sizeof key, k64);
  OPENSSL_cleanse(key, sizeof key);
  snprintf(out, outlen, "$scrypt$ln=%d,r=%d,p=%d$%s$%s", ln, R, P, s64, k64);
  return 0;
}

/* Parses "<int>" up to the next c, bounded. Returns the end or NULL. */
static const char *num(const char *s, char c, int lo, int hi, int *v) {
  char *end;
  if (*s < '0' || *s > '9')
    return NULL;
  long x = strtol(s, &end, 10);
  if (*end != c || x < lo || x > hi)
    return NULL;
  *v = (int)x;
  return end + 1;
}

int cp_password_verify(const char *pw, size_t len, const char *enc) {
  if (!pw || !enc)
    return CP_EINVAL;
  int ln, r, p;
  const char *s = enc;
  if (strncmp(s, "$scrypt$ln=", 11) != 0)
    return CP_EPARSE;
  s = num(s + 11, ',', 10, 20, &ln);
  if (!s || strncmp(s, "r=", 2) != 0)
    return CP_EPARSE;
  s = num(s + 2, ',', 1, 32, &r);
  if (!s || strncmp(s, "p=", 2) != 0)
    return CP_EPARSE;
  s = num(s + 2, '$', 1, 16, &p);
  if (!s)
    return CP_EPARSE;
  const char *dollar = strchr(s, '$');
  if (!dollar)
    return CP_EPARSE;
  unsigned char salt[SALT_LEN], want[KEY_LEN], got[KEY_LEN];
  if (unb64(s, (size_t)(dollar - s), salt, sizeof salt) != 0 ||
      unb64(dollar + 1, strlen(dollar + 1), want, sizeof want) != 0)
    return CP_EPARSE;
  int rc = derive(pw, len, salt, sizeof salt, ln, r, p, got, sizeof got);
  if (rc == 0)
    rc = CRYPTO_memcmp(got, want, sizeof got) == 0 ? 0 : CP_EUNAUTHORIZED;
  OPENSSL_cleanse(got, sizeof got);
  return rc;
}

int cp_password_verify_dummy(const char *pw, size_t len, int ln) {
  static const unsigned char salt[SALT_LEN] = {0};
  unsigned char key[KEY_LEN];
  if (ln < 10 || ln > 20)
    ln = CP_PASSWORD_DEFAULT_LN;
  (void)derive(pw ? pw : "", pw ? len : 0, salt, sizeof salt, ln, R, P, key, sizeof key);
  OPENSSL_cleanse(key, sizeof key);
  return CP_EUNAUTHORIZED;
}
