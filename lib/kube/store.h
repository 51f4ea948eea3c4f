/* The informer cache: immutable, reference-counted object snapshots behind a rwlock.
 *
 * A cp_obj_t wraps one object as the API server sent it. It is never modified after it
 * is made, so readers on any thread use it without locks for as long as they hold a
 * reference. The store maps "namespace/name" (or "name" for cluster-scoped kinds) to the
 * newest snapshot; replacing an entry never disturbs readers of the old one.
 */
#ifndef CP_KUBE_STORE_H
#define CP_KUBE_STORE_H

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "core/map.h"

typedef struct cp_obj_s {
  atomic_int refs;
  cJSON *json;                  /* owned; never modified once wrapped */
  const char *namespace_;       /* borrowed from json; "" for cluster-scoped */
  const char *name;             /* borrowed from json */
  const char *resource_version; /* borrowed from json; "" if absent */
  char key[];                   /* "namespace/name" or "name" */
} cp_obj_t;

/* Wraps json (taking ownership, even on failure) into a snapshot with one reference.
 * Returns 0, CP_EINVAL (no metadata.name) or CP_ENOMEM. */
int cp_obj_new(cJSON *json, cp_obj_t **out);

/* Adds a reference and returns o. Accepts NULL. Any thread. */
cp_obj_t *cp_obj_ref(cp_obj_t *o);

/* Drops a reference; the last one frees the snapshot. Accepts NULL. Any thread. */
void cp_obj_unref(cp_obj_t *o);

/* Writes the store key for namespace/name into out ("name" when ns is NULL or ""). */
void cp_obj_key(const char *ns, const char *name, char *out, size_t outlen);

typedef struct cp_store_s {
  pthread_rwlock_t lock;
  cp_map_t objs; /* key -> cp_obj_t* (one reference held by the store) */
} cp_store_t;

/* Initializes an empty store. Returns 0 or CP_ENOMEM. */
int cp_store_init(cp_store_t *s);

/* Returns a new reference to the object at key, or NULL. Any thread. */
cp_obj_t *cp_store_get(cp_store_t *s, const char *key);

/* Stores o (the store takes the caller's reference). *old, if non-NULL, receives the
 * replaced snapshot's reference (NULL if none); otherwise it is dropped. Returns 0 or
 * CP_ENOMEM (then the store is unchanged and the caller keeps o). */
int cp_store_put(cp_store_t *s, cp_obj_t *o, cp_obj_t **old);

/* Removes key and returns its reference (NULL if absent). */
cp_obj_t *cp_store_del(cp_store_t *s, const char *key);

/* Returns, in a new array the caller frees, references to every object for which keep
 * (if not NULL) returns nonzero; the caller unrefs each. *n gets the count. Returns 0 or
 * CP_ENOMEM. keep runs under the read lock and must not call into the store. */
int cp_store_list(cp_store_t *s, int (*keep)(const cp_obj_t *o, void *ud), void *ud,
                  cp_obj_t ***out, size_t *n);

/* Number of objects. */
size_t cp_store_len(cp_store_t *s);

/* Drops every reference and frees the store's memory. Accepts NULL. */
void cp_store_free(cp_store_t *s);

#endif
