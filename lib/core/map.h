/* A string-keyed hash map with open addressing (linear probing, tombstones).
 *
 * Keys are copied and owned by the map, or, in a map made by cp_map_init_borrowed, borrowed
 * from the caller (typically from the value itself, so a large cache does not hold each key
 * twice); values are opaque pointers the caller owns (cp_map_free takes an optional
 * destructor for them). Not thread-safe: callers lock.
 * Iteration order is unspecified.
 */
#ifndef CP_CORE_MAP_H
#define CP_CORE_MAP_H

#include <stddef.h>

typedef struct cp_map_slot_s {
  char *key; /* NULL: empty; CP__MAP_TOMB: deleted */
  void *value;
} cp_map_slot_t;

typedef struct cp_map_s {
  cp_map_slot_t *slots;
  size_t cap;   /* power of two, or 0 before the first put */
  size_t len;   /* live entries */
  size_t used;  /* live entries + tombstones */
  int borrowed; /* keys are the caller's (cp_map_init_borrowed) */
} cp_map_t;

/* Initializes an empty map (no allocation until the first put). */
void cp_map_init(cp_map_t *m);

/* Initializes an empty map that does not copy keys: each key passed to cp_map_put must stay
 * valid, unchanged, for as long as its entry exists. A put that replaces an entry takes
 * the new key pointer, so a key that lives inside its value may go with the old value. */
void cp_map_init_borrowed(cp_map_t *m);

/* Returns the value for key, or NULL if absent. */
void *cp_map_get(const cp_map_t *m, const char *key);

/* Returns 1 if key is present (its value may be NULL), else 0. */
int cp_map_has(const cp_map_t *m, const char *key);

/* Sets key to value. If old is not NULL it receives the previous value (NULL if the key
 * was absent). Returns 0 or CP_ENOMEM (the map is unchanged then). */
int cp_map_put(cp_map_t *m, const char *key, void *value, void **old);

/* Removes key; returns its value (NULL if absent). */
void *cp_map_del(cp_map_t *m, const char *key);

/* Calls fn(key, value, ud) for each entry; fn must not modify the map. */
void cp_map_each(const cp_map_t *m, void (*fn)(const char *key, void *value, void *ud), void *ud);

/* Frees the map's memory, calling free_value on each value when it is not NULL (after
 * which a borrowed key is not read again). Accepts NULL. The map is left empty, with the
 * same kind of keys, ready for reuse. */
void cp_map_free(cp_map_t *m, void (*free_value)(void *value));

#endif
