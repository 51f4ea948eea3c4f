/* Runtime credentials: which user and runtime a presented model-proxy token belongs to.
 *
 * The controller gives each UserRuntime a Secret <name>-credentials whose
 * "modelproxy-token" the runtime presents as its API key. The proxy watches those Secrets
 * (an informer) and mirrors them here: only the SHA-256 of each token is kept, indexed by
 * its hex form, and a lookup confirms the digest with CRYPTO_memcmp. Deleting a Secret
 * removes its entry, so a deleted runtime's credential stops working as soon as the watch
 * reports it. Thread-safe (a mutex): the informer thread writes, the proxy loop reads.
 */
#ifndef CP_MODELPROXY_AUTH_H
#define CP_MODELPROXY_AUTH_H

#include <cjson/cJSON.h>
#include <stddef.h>

#define CP_MP_TOKEN_MAX 512 /* longest token accepted */

typedef struct cp_mp_identity_s {
  char user[64];       /* clawplane.io/user label: a DNS-1123 label */
  char namespace_[64]; /* the runtime's namespace */
  char runtime[254];   /* the UserRuntime's name (app.kubernetes.io/instance) */
} cp_mp_identity_t;

typedef struct cp_mp_auth_s cp_mp_auth_t;

/* Returns 0 and an empty table in *out, or CP_ENOMEM. */
int cp_mp_auth_new(cp_mp_auth_t **out);

/* Frees the table. Accepts NULL. No other thread may use it any more. */
void cp_mp_auth_free(cp_mp_auth_t *a);

/* Sets the credential known as key (the Secret's "namespace/name") to token (len bytes,
 * 1..CP_MP_TOKEN_MAX) for identity id, replacing what key had before. Returns 0,
 * CP_EINVAL (table unchanged) or CP_ENOMEM (key then has no credential: fail closed).
 * Any thread. */
int cp_mp_auth_put(cp_mp_auth_t *a, const char *key, const char *token, size_t len,
                   const cp_mp_identity_t *id);

/* Removes the credential known as key, if any. Any thread. */
void cp_mp_auth_del(cp_mp_auth_t *a, const char *key);

/* Looks a presented token up. Returns 0 and *id, or CP_EUNAUTHORIZED. Any thread. */
int cp_mp_auth_check(cp_mp_auth_t *a, const char *token, size_t len, cp_mp_identity_t *id);

/* Looks a credential up by its key (the Secret's "namespace/name"), for callers that
 * authenticated a runtime another way (a service-account token bound to its pod). Returns
 * 0 and *id, or CP_ENOTFOUND. Any thread. */
int cp_mp_auth_lookup_key(cp_mp_auth_t *a, const char *key, cp_mp_identity_t *id);

/* Number of credentials held. Any thread. */
size_t cp_mp_auth_len(cp_mp_auth_t *a);

/* Reads a runtime credentials Secret: labels clawplane.io/user and
 * app.kubernetes.io/instance and base64 data["modelproxy-token"]. Returns 0 with the
 * decoded token in token (NUL-terminated; wipe it after use) and *len, and *id; or
 * CP_EINVAL when the Secret is not a usable runtime credential. */
int cp_mp_auth_from_secret(const cJSON *secret, char token[CP_MP_TOKEN_MAX + 1], size_t *len,
                           cp_mp_identity_t *id);

#endif
