/* The runtime's credentials: Secret N-credentials, the token generator, and Secret N-files
 * (the file service's token, derived from the shared key rather than drawn at random).
 *
 * Tokens are made once by the caller (cp_desired_new_token, 32 bytes from OpenSSL's
 * CSPRNG as hex) and kept in the live Secret; this builder only wraps the given values so
 * applying the same tokens again is a no-op. Values go into base64 `data` (OpenSSL
 * EVP_EncodeBlock), never `stringData`, which the API server does not store and so could
 * never compare equal. Stack copies of token material are wiped with OPENSSL_cleanse.
 */
#include "userruntime/desired.h"
#include "auth/filestoken.h"
#include "core/error.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

#define B64_MAX (4 * ((CP_DESIRED_TOKEN_MAX + 2) / 3) + 1)

int cp_desired_new_token(char out[65]) {
  static const char hex[] = "0123456789abcdef";
  unsigned char raw[32];
  char text[65];
  if (!out)
    return CP_EINVAL;
  if (RAND_bytes(raw, (int)sizeof(raw)) != 1) {
    OPENSSL_cleanse(raw, sizeof(raw));
    return CP_EINTERNAL;
  }
  for (size_t i = 0; i < sizeof(raw); i++) {
    text[2 * i] = hex[raw[i] >> 4];
    text[2 * i + 1] = hex[raw[i] & 15];
  }
  text[64] = '\0';
  memcpy(out, text, sizeof(text));
  OPENSSL_cleanse(raw, sizeof(raw));
  OPENSSL_cleanse(text, sizeof(text));
  return 0;
}

/* Adds data[key] = base64(token); validates the length without ever echoing the token. */
static int add_token(cJSON *data, const char *key, const char *token, bool *ok, char *err,
                     size_t errlen) {
  size_t n = token ? strnlen(token, CP_DESIRED_TOKEN_MAX + 1) : 0;
  if (n == 0 || n > CP_DESIRED_TOKEN_MAX)
    return cp__desired_err(err, errlen, CP_EINVAL, "the %s must be 1 to %d bytes long", key,
                           CP_DESIRED_TOKEN_MAX);
  unsigned char b64[B64_MAX];
  EVP_EncodeBlock(b64, (const unsigned char *)token, (int)n);
  cp__dj_str(data, key, (const char *)b64, ok);
  OPENSSL_cleanse(b64, sizeof(b64));
  return 0;
}

int cp_desired_secret(const cJSON *ur, const char *gateway_token, const char *modelproxy_token,
                      cJSON **out, char *err, size_t errlen) {
  cp__desired_ident_t id;
  int rc = cp__desired_ident(ur, &id, err, errlen);
  if (rc < 0)
    return rc;
  bool ok = true;
  cJSON *sec = cp__desired_object(&id, "v1", "Secret", CP_DESIRED_SECRET_SUFFIX, true);
  if (!sec)
    ok = false;
  cp__dj_str(sec, "type", "Opaque", &ok);
  cJSON *data = cp__dj_obj(sec, "data", &ok);
  rc = add_token(data, CP_DESIRED_KEY_GATEWAY, gateway_token, &ok, err, errlen);
  if (rc == 0)
    rc = add_token(data, CP_DESIRED_KEY_MODELPROXY, modelproxy_token, &ok, err, errlen);
  if (rc == 0 && !ok)
    rc = cp__desired_err(err, errlen, CP_ENOMEM, "out of memory");
  if (rc < 0) {
    cJSON_Delete(sec);
    return rc;
  }
  *out = sec;
  return 0;
}

int cp_desired_files_secret(const cJSON *ur, const cp_desired_opts_t *opts, cJSON **out, char *err,
                            size_t errlen) {
  cp_desired_opts_t o = cp__desired_opts(opts);
  cp__desired_ident_t id;
  int rc = cp__desired_ident(ur, &id, err, errlen);
  if (rc < 0)
    return rc;
  if (!o.files_image)
    return CP_ENOTFOUND;
  char token[CP_FILES_TOKEN_LEN + 1];
  rc = cp_files_token(o.files_key, o.files_key_len, id.ns, id.name, id.uid, token);
  if (rc < 0)
    return cp__desired_err(err, errlen, rc,
                           rc == CP_EINVAL ? "the file service needs a key of at least %d bytes "
                                             "(controller flag --files-key-file)"
                                           : "could not derive the file service token",
                           CP_FILES_KEY_MIN);
  bool ok = true;
  cJSON *sec = cp__desired_object(&id, "v1", "Secret", CP_DESIRED_FILES_SUFFIX, true);
  if (!sec)
    ok = false;
  cp__dj_str(sec, "type", "Opaque", &ok);
  rc = add_token(cp__dj_obj(sec, "data", &ok), CP_DESIRED_KEY_FILES, token, &ok, err, errlen);
  OPENSSL_cleanse(token, sizeof token);
  if (rc == 0 && !ok)
    rc = cp__desired_err(err, errlen, CP_ENOMEM, "out of memory");
  if (rc < 0) {
    cJSON_Delete(sec);
    return rc;
  }
  *out = sec;
  return 0;
}
