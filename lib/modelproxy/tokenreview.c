/* TokenReview helpers: JSON in and out with cJSON, base64url decoding of the JWT payload
 * with OpenSSL's EVP_DecodeBlock after mapping the alphabet and restoring padding. */
#include "modelproxy/tokenreview.h"
#include "core/error.h"
#include "json/json.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

static int b64url_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '=';
}

int cp_mp_looks_like_jwt(const char *token, size_t len) {
  if (!token || len < 5 || len > CP_MP_JWT_MAX)
    return 0;
  int dots = 0;
  size_t part = 0;
  for (size_t i = 0; i < len; i++) {
    if (token[i] == '.') {
      if (part == 0)
        return 0;
      dots++;
      part = 0;
    } else if (!b64url_char(token[i])) {
      return 0;
    } else {
      part++;
    }
  }
  return dots == 2 && part > 0;
}

cJSON *cp_mp_tokenreview_request(const char *token, size_t len, const char *audience) {
  char *t = malloc(len + 1);
  if (!t)
    return NULL;
  memcpy(t, token, len);
  t[len] = '\0';
  cJSON *r = cJSON_CreateObject();
  cJSON *spec = cJSON_AddObjectToObject(r, "spec");
  cJSON *auds = spec ? cJSON_AddArrayToObject(spec, "audiences") : NULL;
  cJSON *aud = cJSON_CreateString(audience ? audience : "");
  if (!auds || !aud || !cJSON_AddItemToArray(auds, aud) ||
      !cJSON_AddStringToObject(r, "apiVersion", "authentication.k8s.io/v1") ||
      !cJSON_AddStringToObject(r, "kind", "TokenReview") ||
      !cJSON_AddStringToObject(spec, "token", t)) {
    if (!auds || !cJSON_IsArray(auds) || cJSON_GetArraySize(auds) == 0)
      cJSON_Delete(aud);
    cJSON_Delete(r);
    r = NULL;
  }
  OPENSSL_cleanse(t, len);
  free(t);
  return r;
}

static int copy(const char *s, size_t n, char *out, size_t cap) {
  if (n == 0 || n >= cap)
    return CP_EUNAUTHORIZED;
  memcpy(out, s, n);
  out[n] = '\0';
  return 0;
}

int cp_mp_tokenreview_result(const cJSON *review, const char *audience, char *ns, size_t nslen,
                             char *pod, size_t podlen) {
  const cJSON *st = cp_json_getv(review, "status", NULL);
  if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(st, "authenticated")))
    return CP_EUNAUTHORIZED;
  const cJSON *auds = cJSON_GetObjectItemCaseSensitive(st, "audiences"), *it;
  int aud_ok = 0;
  cJSON_ArrayForEach(it, auds) {
    if (cJSON_IsString(it) && audience && strcmp(it->valuestring, audience) == 0)
      aud_ok = 1;
  }
  const char *user = cp_json_strv(st, "user", "username", NULL);
  const cJSON *pods =
      cp_json_getv(st, "user", "extra", "authentication.kubernetes.io/pod-name", NULL);
  const cJSON *p = cJSON_IsArray(pods) ? cJSON_GetArrayItem(pods, 0) : NULL;
  static const char pre[] = "system:serviceaccount:";
  if (!aud_ok || !user || strncmp(user, pre, sizeof pre - 1) != 0 || !cJSON_IsString(p))
    return CP_EUNAUTHORIZED;
  const char *n = user + sizeof pre - 1, *colon = strchr(n, ':');
  if (!colon)
    return CP_EUNAUTHORIZED;
  char nsb[256], podb[256];
  if (copy(n, (size_t)(colon - n), nsb, sizeof nsb) ||
      copy(p->valuestring, strlen(p->valuestring), podb, sizeof podb) ||
      copy(nsb, strlen(nsb), ns, nslen) || copy(podb, strlen(podb), pod, podlen))
    return CP_EUNAUTHORIZED;
  return 0;
}

double cp_mp_jwt_expiry(const char *token, size_t len) {
  if (!cp_mp_looks_like_jwt(token, len))
    return 0;
  const char *a = memchr(token, '.', len);
  const char *b = memchr(a + 1, '.', len - (size_t)(a + 1 - token));
  size_t n = (size_t)(b - (a + 1));
  size_t padded = (n + 3) / 4 * 4;
  unsigned char *in = malloc(padded + 1), *out = malloc(padded + 1);
  double exp = 0;
  if (in && out) {
    for (size_t i = 0; i < n; i++)
      in[i] = a[1 + i] == '-' ? '+' : a[1 + i] == '_' ? '/' : (unsigned char)a[1 + i];
    for (size_t i = n; i < padded; i++)
      in[i] = '=';
    int k = EVP_DecodeBlock(out, in, (int)padded);
    if (k > 0) {
      while (k > 0 && out[k - 1] == '\0')
        k--;
      cJSON *j = cJSON_ParseWithLength((const char *)out, (size_t)k);
      const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "exp");
      if (cJSON_IsNumber(e) && e->valuedouble > 0)
        exp = e->valuedouble;
      cJSON_Delete(j);
    }
  }
  free(in);
  free(out);
  return exp;
}
