/* The credential table: two maps under one mutex, digest-hex -> entry and Secret key ->
 * digest-hex, so both a lookup by token and a removal by Secret are O(1). Token bytes are
 * never stored: they are hashed and the caller's copies wiped. */
#include "modelproxy/auth.h"
#include "core/error.h"
#include "core/map.h"
#include "json/json.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry_s {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  cp_mp_identity_t id;
  char key[]; /* the Secret's namespace/name */
} entry_t;

struct cp_mp_auth_s {
  pthread_mutex_t mu;
  cp_map_t by_hash; /* hex digest -> entry_t* (owned) */
  cp_map_t by_key;  /* secret key -> hex digest (owned char*) */
};

static void hex_digest(const char *token, size_t len, unsigned char d[SHA256_DIGEST_LENGTH],
                       char hex[2 * SHA256_DIGEST_LENGTH + 1]) {
  static const char x[] = "0123456789abcdef";
  SHA256((const unsigned char *)token, len, d);
  for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
    hex[2 * i] = x[d[i] >> 4];
    hex[2 * i + 1] = x[d[i] & 15];
  }
  hex[2 * SHA256_DIGEST_LENGTH] = '\0';
}

int cp_mp_auth_new(cp_mp_auth_t **out) {
  cp_mp_auth_t *a = calloc(1, sizeof *a);
  if (!a)
    return CP_ENOMEM;
  if (pthread_mutex_init(&a->mu, NULL) != 0) {
    free(a);
    return CP_ENOMEM;
  }
  cp_map_init(&a->by_hash);
  cp_map_init(&a->by_key);
  *out = a;
  return 0;
}

void cp_mp_auth_free(cp_mp_auth_t *a) {
  if (!a)
    return;
  cp_map_free(&a->by_hash, free);
  cp_map_free(&a->by_key, free);
  pthread_mutex_destroy(&a->mu);
  free(a);
}

/* Removes key's entry; mutex held. */
static void del_locked(cp_mp_auth_t *a, const char *key) {
  char *hex = cp_map_del(&a->by_key, key);
  if (!hex)
    return;
  entry_t *e = cp_map_get(&a->by_hash, hex);
  if (e && strcmp(e->key, key) == 0)
    free(cp_map_del(&a->by_hash, hex));
  free(hex);
}

int cp_mp_auth_put(cp_mp_auth_t *a, const char *key, const char *token, size_t len,
                   const cp_mp_identity_t *id) {
  if (!a || !key || !token || !id || len == 0 || len > CP_MP_TOKEN_MAX)
    return CP_EINVAL;
  size_t klen = strlen(key) + 1;
  entry_t *e = malloc(sizeof *e + klen);
  char *hex = malloc(2 * SHA256_DIGEST_LENGTH + 1);
  if (!e || !hex) {
    free(e);
    free(hex);
    return CP_ENOMEM;
  }
  hex_digest(token, len, e->digest, hex);
  e->id = *id;
  memcpy(e->key, key, klen);
  pthread_mutex_lock(&a->mu);
  del_locked(a, key);
  entry_t *other = cp_map_get(&a->by_hash, hex);
  if (other) /* another Secret carried the same token: the newest one owns it */
    del_locked(a, other->key);
  int rc = cp_map_put(&a->by_hash, hex, e, NULL);
  if (rc == 0) {
    rc = cp_map_put(&a->by_key, key, hex, NULL);
    if (rc != 0)
      cp_map_del(&a->by_hash, hex);
  }
  pthread_mutex_unlock(&a->mu);
  if (rc != 0) {
    free(e);
    free(hex);
  }
  return rc;
}

void cp_mp_auth_del(cp_mp_auth_t *a, const char *key) {
  if (!a || !key)
    return;
  pthread_mutex_lock(&a->mu);
  del_locked(a, key);
  pthread_mutex_unlock(&a->mu);
}

int cp_mp_auth_check(cp_mp_auth_t *a, const char *token, size_t len, cp_mp_identity_t *id) {
  if (!a || !token || len == 0 || len > CP_MP_TOKEN_MAX)
    return CP_EUNAUTHORIZED;
  unsigned char d[SHA256_DIGEST_LENGTH];
  char hex[2 * SHA256_DIGEST_LENGTH + 1];
  hex_digest(token, len, d, hex);
  int rc = CP_EUNAUTHORIZED;
  pthread_mutex_lock(&a->mu);
  const entry_t *e = cp_map_get(&a->by_hash, hex);
  if (e && CRYPTO_memcmp(e->digest, d, sizeof d) == 0) {
    if (id)
      *id = e->id;
    rc = 0;
  }
  pthread_mutex_unlock(&a->mu);
  return rc;
}

int cp_mp_auth_lookup_key(cp_mp_auth_t *a, const char *key, cp_mp_identity_t *id) {
  if (!a || !key)
    return CP_ENOTFOUND;
  int rc = CP_ENOTFOUND;
  pthread_mutex_lock(&a->mu);
  const char *hex = cp_map_get(&a->by_key, key);
  const entry_t *e = hex ? cp_map_get(&a->by_hash, hex) : NULL;
  if (e) {
    if (id)
      *id = e->id;
    rc = 0;
  }
  pthread_mutex_unlock(&a->mu);
  return rc;
}

size_t cp_mp_auth_len(cp_mp_auth_t *a) {
  if (!a)
    return 0;
  pthread_mutex_lock(&a->mu);
  size_t n = a->by_key.len;
  pthread_mutex_unlock(&a->mu);
  return n;
}

/* Copies a label value of at most cap-1 bytes; 0 or CP_EINVAL. */
static int label(const cJSON *secret, const char *name, char *out, size_t cap) {
  const char *v = cp_json_strv(secret, "metadata", "labels", name, NULL);
  size_t n = v ? strlen(v) : 0;
  if (n == 0 || n >= cap)
    return CP_EINVAL;
  memcpy(out, v, n + 1);
  return 0;
}

int cp_mp_auth_from_secret(const cJSON *secret, char token[CP_MP_TOKEN_MAX + 1], size_t *len,
                           cp_mp_identity_t *id) {
  cp_mp_identity_t who = {0};
  const char *ns = cp_json_strv(secret, "metadata", "namespace", NULL);
  const char *b64 = cp_json_strv(secret, "data", "modelproxy-token", NULL);
  if (!ns || strlen(ns) >= sizeof who.namespace_ || !b64 ||
      label(secret, "clawplane.io/user", who.user, sizeof who.user) ||
      label(secret, "app.kubernetes.io/instance", who.runtime, sizeof who.runtime))
    return CP_EINVAL;
  memcpy(who.namespace_, ns, strlen(ns) + 1);
  size_t blen = strlen(b64);
  if (blen == 0 || blen % 4 != 0 || blen / 4 * 3 > CP_MP_TOKEN_MAX + 2)
    return CP_EINVAL;
  unsigned char raw[CP_MP_TOKEN_MAX + 3];
  int n = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)blen);
  if (n < 0) {
    OPENSSL_cleanse(raw, sizeof raw);
    return CP_EINVAL;
  }
  if (b64[blen - 1] == '=')
    n--;
  if (b64[blen - 2] == '=')
    n--;
  if (n <= 0 || n > CP_MP_TOKEN_MAX || memchr(raw, '\0', (size_t)n)) {
    OPENSSL_cleanse(raw, sizeof raw);
    return CP_EINVAL;
  }
  memcpy(token, raw, (size_t)n);
  token[n] = '\0';
  OPENSSL_cleanse(raw, sizeof raw);
  *len = (size_t)n;
  *id = who;
  return 0;
}
