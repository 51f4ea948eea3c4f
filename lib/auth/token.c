/* Token generation, hashing and extraction from request headers.
 *
 * Random bytes come from OpenSSL's CSPRNG; hashing is one SHA-256 (tokens carry 256 bits
 * of entropy, so no slow hash is needed). Extraction never allocates and refuses values
 * that would not fit rather than truncating them.
 */
#include "auth/token.h"

#include "core/error.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <strings.h>
#include <string.h>

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int cp_token_new(const char *prefix, char *out, size_t outlen) {
  if (!prefix || strlen(prefix) != 4 || !out || outlen < CP_TOKEN_LEN + 1)
    return CP_EINVAL;
  unsigned char raw[33] = {0};
  if (RAND_bytes(raw, 32) != 1)
    return CP_EINTERNAL;
  memcpy(out, prefix, 4);
  size_t o = 4;
  /* 32 bytes = 10 groups of 3 plus 2 bytes: 43 characters without padding */
  for (size_t i = 0; i < 32; i += 3) {
    unsigned v = (unsigned)raw[i] << 16 | (unsigned)raw[i + 1] << 8 |
                 (i + 2 < 32 ? (unsigned)raw[i + 2] : 0u);
    out[o++] = b64url[(v >> 18) & 63];
    out[o++] = b64url[(v >> 12) & 63];
    out[o++] = b64url[(v >> 6) & 63];
    if (i + 2 < 32)
      out[o++] = b64url[v & 63];
  }
  out[o] = '\0';
  OPENSSL_cleanse(raw, sizeof raw);
  return 0;
}

int cp_token_hash(const char *token, char *out, size_t outlen) {
  if (!token || !out || outlen < CP_TOKEN_HASH_LEN + 1)
    return CP_EINVAL;
  unsigned char md[32];
  unsigned int mdlen = 0;
  if (EVP_Digest(token, strlen(token), md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
    return CP_EINTERNAL;
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < 32; i++) {
    out[2 * i] = hex[md[i] >> 4];
    out[2 * i + 1] = hex[md[i] & 15];
  }
  out[64] = '\0';
  return 0;
}

int cp_token_well_formed(const char *token, const char *prefix) {
  if (!token || !prefix || strlen(token) != CP_TOKEN_LEN || strncmp(token, prefix, 4) != 0)
    return 0;
  for (size_t i = 4; i < CP_TOKEN_LEN; i++)
    if (!strchr(b64url, token[i]) || token[i] == '\0')
      return 0;
  return 1;
}

int cp_token_equal(const char *a, const char *b) {
  if (!a || !b)
    return 0;
  size_t la = strlen(a), lb = strlen(b);
  if (la != lb)
    return 0;
  return CRYPTO_memcmp(a, b, la) == 0;
}

static int copy_out(const char *v, size_t n, char *out, size_t outlen) {
  if (n >= outlen)
    return CP_ETOOBIG;
  memcpy(out, v, n);
  out[n] = '\0';
  return 0;
}

int cp_cookie_get(const char *h, const char *name, char *out, size_t outlen) {
  if (!h || !name || !out || !outlen)
    return CP_ENOTFOUND;
  size_t nl = strlen(name);
  const char *p = h;
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == ';')
      p++;
    const char *end = strchr(p, ';');
    size_t seg = end ? (size_t)(end - p) : strlen(p);
    if (seg > nl && !strncmp(p, name, nl) && p[nl] == '=') {
      const char *v = p + nl + 1;
      size_t vl = seg - nl - 1;
      while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
        vl--;
      if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') {
        v++;
        vl -= 2;
      }
      return copy_out(v, vl, out, outlen);
    }
    p += seg;
  }
  return CP_ENOTFOUND;
}

int cp_bearer_get(const char *a, char *out, size_t outlen) {
  if (!a || !out || !outlen || strncasecmp(a, "Bearer ", 7) != 0)
    return CP_ENOTFOUND;
  const char *v = a + 7;
  while (*v == ' ')
    v++;
  size_t vl = strlen(v);
  while (vl && v[vl - 1] == ' ')
    vl--;
  if (!vl)
    return CP_ENOTFOUND;
  return copy_out(v, vl, out, outlen);
}
