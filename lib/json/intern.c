/* Open addressing over a fixed table twice the pool's size, behind a rwlock: lookups of
 * names already there (nearly all of them once a cache is warm) share the read lock. */
#include "json/intern.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS (2 * CP_JSON_INTERN_MAX)

static const char *table[SLOTS];
static unsigned count;
static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;

static uint32_t hash(const char *s) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

/* The slot holding s, or the empty slot where it would go. Caller holds the lock. */
static unsigned find(const char *s, uint32_t h) {
  unsigned i = h & (SLOTS - 1);
  while (table[i] && strcmp(table[i], s) != 0)
    i = (i + 1) & (SLOTS - 1);
  return i;
}

const char *cp_json_intern(const char *s) {
  if (!s || strlen(s) >= CP_JSON_INTERN_LEN)
    return NULL;
  uint32_t h = hash(s);
  pthread_rwlock_rdlock(&lock);
  const char *got = table[find(s, h)];
  pthread_rwlock_unlock(&lock);
  if (got)
    return got;
  pthread_rwlock_wrlock(&lock);
  unsigned i = find(s, h);
  if (!table[i] && count < CP_JSON_INTERN_MAX && (table[i] = strdup(s)) != NULL)
    count++;
  got = table[i];
  pthread_rwlock_unlock(&lock);
  return got;
}

void cp_json_intern_keys(cJSON *tree) {
  for (cJSON *it = tree ? tree->child : NULL; it; it = it->next) {
    if (it->string && !(it->type & cJSON_StringIsConst)) {
      const char *shared = cp_json_intern(it->string);
      if (shared) {
        free(it->string);
        it->string = (char *)shared;
        it->type |= cJSON_StringIsConst;
      }
    }
    cp_json_intern_keys(it);
  }
}

unsigned cp_json_intern_count(void) {
  pthread_rwlock_rdlock(&lock);
  unsigned n = count;
  pthread_rwlock_unlock(&lock);
  return n;
}
