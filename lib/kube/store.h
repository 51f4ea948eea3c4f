/* The informer cache: immutable, reference-counted object snapshots behind a rwlock.
 *
 * A cp_obj_t wraps one object as the API server sent it. It is never modified after it
 * is made, so readers on any thread use it without locks for as long as they hold a
 * reference. The store maps "namespace/name" (or "name" for cluster-scoped kinds) to the
 * newest snapshot; replacing an entry never disturbs readers of the old one. A compact
 * store keeps each snapshot as its JSON text deflated against the store's dictionary (the
 * first object's text: the objects of one cache are alike, core/pack.h) and inflates and
 * parses it for each reader.
 */
#ifndef CP_KUBE_STORE_H
#define CP_KUBE_STORE_H

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "core/map.h"
#include "core/pack.h"

typedef struct cp_obj_s {
  atomic_int refs;
  cJSON *json;                   /* owned; never modified once wrapped; NULL in a compact one */
  const unsigned char *packed;   /* a compact snapshot's deflated JSON text (in this
                                    allocation, after key), else NULL */
  unsigned packed_len, text_len; /* bytes of packed, and of the JSON text it inflates to */
  const cp_pack_dict_t *dict;    /* what packed was deflated against (borrowed; may be NULL) */
  const char *namespace_;        /* borrowed from json (or, compact: shared or after key); ""
                                    for cluster-scoped */
  const char *name;              /* borrowed from json (or, compact: the tail of key) */
  const char *resource_version;  /* borrowed from json (or key); "" if absent */
  char key[];                    /* "namespace/name" or "name" (a compact one: then the rest) */
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

/* A compact snapshot of o: its JSON text deflated against dict (NULL: none; borrowed, it must
 * outlive the snapshot) with the identity fields copied, in one allocation. A cJSON tree
 * costs about 80 bytes per node before its strings; the text a fifth of that, deflated
 * against a similar object a tenth of the text. Its json is NULL; cp_obj_expand gives a
 * readable one. Returns NULL on ENOMEM. */
cp_obj_t *cp_obj_compact(const cp_obj_t *o, const cp_pack_dict_t *dict);

/* A readable snapshot of o: a new reference to o itself when it has its tree, else a new
 * snapshot parsed from its text. NULL for NULL or on ENOMEM. */
cp_obj_t *cp_obj_expand(cp_obj_t *o);

typedef struct cp_store_s {
  pthread_rwlock_t lock;
  cp_map_t objs;        /* key -> cp_obj_t* (one reference held by the store) */
  int compact;          /* keeps compact snapshots; getters expand them */
  cp_pack_dict_t *dict; /* a compact store's dictionary, made from the first object put and
                           then never changed until cp_store_free (set under lock) */
  size_t text_bytes;    /* the compact snapshots' JSON text, summed (guarded by lock) */
  size_t packed_bytes;  /* what they hold of it, deflated, summed (guarded by lock) */
} cp_store_t;

/* Initializes an empty store. Returns 0 or CP_ENOMEM. */
int cp_store_init(cp_store_t *s);

/* From now on, cp_store_put keeps compact snapshots (cp_obj_compact) and every getter hands
 * out readable ones parsed on demand: memory for CPU, for large caches read by key. Call
 * before the first put. */
void cp_store_set_compact(cp_store_t *s);

/* Returns a new reference to the object at key, or NULL. Any thread. */
cp_obj_t *cp_store_get(cp_store_t *s, const char *key);

/* Stores o (the store takes the caller's reference). *old, if non-NULL, receives the
 * replaced snapshot's reference (NULL if none; in a compact store, a readable one, or
 * NULL when out of memory); otherwise it is dropped. Returns 0 or CP_ENOMEM (then the store
 * is unchanged and the caller keeps o). */
int cp_store_put(cp_store_t *s, cp_obj_t *o, cp_obj_t **old);

/* 1 when key is held, else 0: no copy, no parse. Any thread. */
int cp_store_has(cp_store_t *s, const char *key);

/* 1 when the object at key has resourceVersion rv, else 0: no copy, no parse. */
int cp_store_has_version(cp_store_t *s, const char *key, const char *rv);

/* Removes key and returns its reference (NULL if absent; readable, as cp_store_get). */
cp_obj_t *cp_store_del(cp_store_t *s, const char *key);

/* Returns, in a new array the caller frees, references to every object for which keep
 * (if not NULL) returns nonzero; the caller unrefs each. *n gets the count. Returns 0 or
 * CP_ENOMEM. keep must not call into the store; it runs under the read lock, except in a
 * compact store, where it sees each expanded snapshot after the lock is released. */
int cp_store_list(cp_store_t *s, int (*keep)(const cp_obj_t *o, void *ud), void *ud,
                  cp_obj_t ***out, size_t *n);

/* Number of objects. */
size_t cp_store_len(cp_store_t *s);

/* Number of objects and, in a compact store, the bytes of their JSON text and of what it
 * holds of it, deflated (0 and 0 otherwise): for the cache size metrics. */
void cp_store_size(cp_store_t *s, size_t *objects, size_t *text_bytes, size_t *packed_bytes);

/* Calls fn with every key, under the read lock (fn must not call into the store): the keys
 * without expanding a compact snapshot. */
void cp_store_each_key(cp_store_t *s, void (*fn)(const char *key, void *ud), void *ud);

/* Drops every reference and frees the store's memory. Accepts NULL. */
void cp_store_free(cp_store_t *s);

#endif
