/* FNV-1a hashing, load factor kept under 3/4 counting tombstones; a rehash drops them. */
#include "core/map.h"
#include "core/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static char tomb_marker;
#define TOMB (&tomb_marker)

static uint64_t hash(const char *s) {
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ULL;
  }
  return h;
}

void cp_map_init(cp_map_t *m) {
  memset(m, 0, sizeof *m);
}

void cp_map_init_borrowed(cp_map_t *m) {
  cp_map_init(m);
  m->borrowed = 1;
}

static cp_map_slot_t *find(const cp_map_t *m, const char *key) {
  if (!m->cap)
    return NULL;
  size_t mask = m->cap - 1;
  for (size_t i = hash(key) & mask;; i = (i + 1) & mask) {
    cp_map_slot_t *s = &m->slots[i];
    if (!s->key)
      return NULL;
    if (s->key != TOMB && strcmp(s->key, key) == 0)
      return s;
  }
}

void *cp_map_get(const cp_map_t *m, const char *key) {
  cp_map_slot_t *s = find(m, key);
  return s ? s->value : NULL;
}

int cp_map_has(const cp_map_t *m, const char *key) {
  return find(m, key) != NULL;
}

static int grow(cp_map_t *m) {
  size_t cap = m->cap ? m->cap : 16;
  while ((m->len + 1) * 4 >= cap * 3)
    cap *= 2;
  cp_map_slot_t *slots = calloc(cap, sizeof *slots);
  if (!slots)
    return CP_ENOMEM;
  for (size_t i = 0; i < m->cap; i++) {
    char *k = m->slots[i].key;
    if (!k || k == TOMB)
      continue;
    size_t j = hash(k) & (cap - 1);
    while (slots[j].key)
      j = (j + 1) & (cap - 1);
    slots[j] = m->slots[i];
  }
  free(m->slots);
  m->slots = slots;
  m->cap = cap;
  m->used = m->len;
  return 0;
}

int cp_map_put(cp_map_t *m, const char *key, void *value, void **old) {
  cp_map_slot_t *s = find(m, key);
  if (s) {
    if (old)
      *old = s->value;
    s->value = value;
    if (m->borrowed)
      s->key = (char *)key; /* the old key may go with the old value */
    return 0;
  }
  if ((m->used + 1) * 4 >= m->cap * 3 && grow(m) != 0)
    return CP_ENOMEM;
  char *k = m->borrowed ? (char *)key : strdup(key);
  if (!k)
    return CP_ENOMEM;
  size_t mask = m->cap - 1, i = hash(key) & mask;
  while (m->slots[i].key && m->slots[i].key != TOMB)
    i = (i + 1) & mask;
  if (!m->slots[i].key)
    m->used++;
  m->slots[i].key = k;
  m->slots[i].value = value;
  m->len++;
  if (old)
    *old = NULL;
  return 0;
}

void *cp_map_del(cp_map_t *m, const char *key) {
  cp_map_slot_t *s = find(m, key);
  if (!s)
    return NULL;
  void *v = s->value;
  if (!m->borrowed)
    free(s->key);
  s->key = TOMB;
  s->value = NULL;
  m->len--;
  return v;
}

void cp_map_each(const cp_map_t *m, void (*fn)(const char *, void *, void *), void *ud) {
  for (size_t i = 0; i < m->cap; i++)
    if (m->slots[i].key && m->slots[i].key != TOMB)
      fn(m->slots[i].key, m->slots[i].value, ud);
}

void cp_map_free(cp_map_t *m, void (*free_value)(void *)) {
  if (!m)
    return;
  for (size_t i = 0; i < m->cap; i++) {
    char *k = m->slots[i].key;
    if (!k || k == TOMB)
      continue;
    if (free_value)
      free_value(m->slots[i].value);
    if (!m->borrowed)
      free(k);
  }
  free(m->slots);
  int borrowed = m->borrowed;
  cp_map_init(m);
  m->borrowed = borrowed;
}
