/* The file service's token: HMAC-SHA256 over "namespace/name/uid" with the shared key
 * (OpenSSL's one-shot HMAC), printed as lowercase hex. See filestoken.h. */
#include "auth/filestoken.h"
#include "core/error.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int cp_files_key_load(const char *path, unsigned char key[CP_FILES_KEY_MAX], size_t *len, char *err,
                      size_t errlen) {
  if (!path || !key || !len)
    return CP_EINVAL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (err && errlen)
      snprintf(err, errlen, "cannot read the files key %s: %s", path, strerror(errno));
    return CP_EIO;
  }
  size_t n = 0;
  int rc = 0;
  for (;;) {
    unsigned char extra;
    ssize_t r =
        n < CP_FILES_KEY_MAX ? read(fd, key + n, CP_FILES_KEY_MAX - n) : read(fd, &extra, 1);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      if (err && errlen)
        snprintf(err, errlen, "cannot read the files key %s: %s", path, strerror(errno));
      rc = CP_EIO;
      break;
    }
    if (r == 0)
      break;
    if (n >= CP_FILES_KEY_MAX) {
      if (err && errlen)
        snprintf(err, errlen, "the files key %s is longer than %d bytes", path, CP_FILES_KEY_MAX);
      rc = CP_ETOOBIG;
      break;
    }
    n += (size_t)r;
  }
  close(fd);
  while (rc == 0 && n > 0 && (key[n - 1] == '\n' || key[n - 1] == '\r'))
    n--;
  if (rc == 0 && n < CP_FILES_KEY_MIN) {
    if (err && errlen)
      snprintf(err, errlen,
               "the files key %s has %zu bytes; it needs at least %d (e.g. openssl rand -hex 32)",
               path, n, CP_FILES_KEY_MIN);
    rc = CP_EINVAL;
  }
  if (rc < 0) {
    OPENSSL_cleanse(key, CP_FILES_KEY_MAX);
    return rc;
  }
  *len = n;
  return 0;
}

static int part_ok(const char *s) {
  return s && *s && !strchr(s, '/');
}

int cp_files_token(const unsigned char *key, size_t keylen, const char *ns, const char *name,
                   const char *uid, char out[CP_FILES_TOKEN_LEN + 1]) {
  if (!key || keylen < CP_FILES_KEY_MIN || keylen > CP_FILES_KEY_MAX || !part_ok(ns) ||
      !part_ok(name) || !part_ok(uid) || !out)
    return CP_EINVAL;
  char msg[512];
  int n = snprintf(msg, sizeof msg, "%s/%s/%s", ns, name, uid);
  if (n < 0 || (size_t)n >= sizeof msg)
    return CP_EINVAL;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  if (!HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, (size_t)n, md, &mdlen) ||
      mdlen != 32) {
    OPENSSL_cleanse(md, sizeof md);
    return CP_EINTERNAL;
  }
  static const char hex[] = "0123456789abcdef";
  char text[CP_FILES_TOKEN_LEN + 1];
  for (unsigned int i = 0; i < mdlen; i++) {
    text[2 * i] = hex[md[i] >> 4];
    text[2 * i + 1] = hex[md[i] & 15];
  }
  text[CP_FILES_TOKEN_LEN] = '\0';
  memcpy(out, text, sizeof text);
  OPENSSL_cleanse(md, sizeof md);
  OPENSSL_cleanse(text, sizeof text);
  return 0;
}
