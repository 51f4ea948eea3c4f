/* The map holds one reference per entry; getters hand out new references under the read
 * lock, so an entry can be replaced while a reader still uses the old snapshot. */
#include "kube/store.h"
#include "core/error.h"
#include "json/intern.h"
#include "json/json.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cp_obj_key(const char *ns, const char *name, char *out, size_t outlen) {
  if (ns && *ns)
    snprintf(out, outlen, "%s/%s", ns, name);
  else
    snprintf(out, outlen, "%s", name);
}

int cp_obj_new(cJSON *json, cp_obj_t **out) {
  const char *name = cp_json_strv(json, "metadata", "name", NULL);
  if (!name || !*name) {
    cJSON_Delete(json);
    return CP_EINVAL;
  }
  const char *ns = cp_json_strv(json, "metadata", "namespace", NULL);
  const char *rv = cp_json_strv(json, "metadata", "resourceVersion", NULL);
  size_t keylen = (ns ? strlen(ns) + 1 : 0) + strlen(name) + 1;
  cp_obj_t *o = malloc(sizeof *o + keylen);
  if (!o) {
    cJSON_Delete(json);
    return CP_ENOMEM;
  }
  atomic_init(&o->refs, 1);
  o->json = json;
  o->packed = NULL;
  o->packed_len = o->text_len = 0;
  o->dict = NULL;
  o->namespace_ = ns ? ns : "";
  o->name = name;
  o->resource_version = rv ? rv : "";
  cp_obj_key(ns, name, o->key, keylen);
  *out = o;
  return 0;
}

cp_obj_t *cp_obj_ref(cp_obj_t *o) {
  if (o)
    atomic_fetch_add_explicit(&o->refs, 1, memory_order_relaxed);
  return o;
}

void cp_obj_unref(cp_obj_t *o) {
  if (o && atomic_fetch_sub_explicit(&o->refs, 1, memory_order_acq_rel) == 1) {
    cJSON_Delete(o->json);
    free(o);
  }
}

/* Copies s (with its terminator) to *p and returns where it went; *p moves past it. */
static const char *put_str(char **p, const char *s) {
  size_t n = strlen(s) + 1;
  memcpy(*p, s, n);
  *p += n;
  return *p - n;
}

/* A compact snapshot of o's identity and text[0..len) deflated against dict. Its name is the
 * tail of its key and its namespace the shared copy (json/intern.h) where the pool has one:
 * thousands of snapshots share a handful of namespaces. */
static cp_obj_t *compact_text(const cp_obj_t *o, const char *text, size_t len,
                              const cp_pack_dict_t *dict) {
  if (len > UINT_MAX)
    return NULL;
  unsigned char *tmp = malloc(cp_pack_bound(len));
  size_t packed = tmp ? cp_pack(dict, text, len, tmp) : 0;
  const char *ns = *o->namespace_ ? cp_json_intern(o->namespace_) : "";
  size_t keylen = strlen(o->key), namelen = strlen(o->name);
  size_t n = keylen + 1 + (ns ? 0 : strlen(o->namespace_) + 1) + strlen(o->resource_version) + 1;
  cp_obj_t *c = packed && namelen <= keylen ? malloc(sizeof *c + n + packed) : NULL;
  if (!c) {
    free(tmp);
    return NULL;
  }
  atomic_init(&c->refs, 1);
  c->json = NULL;
  char *p = c->key;
  put_str(&p, o->key);
  c->name = c->key + keylen - namelen; /* "namespace/name" or "name" */
  c->namespace_ = ns ? ns : put_str(&p, o->namespace_);
  c->resource_version = put_str(&p, o->resource_version);
  memcpy(p, tmp, packed);
  free(tmp);
  c->packed = (const unsigned char *)p;
  c->packed_len = (unsigned)packed;
  c->text_len = (unsigned)len;
  c->dict = dict;
  return c;
}

/* o's JSON text in a new string the caller frees with cJSON_free: printed from its tree or
 * inflated. NULL on ENOMEM. */
static char *obj_text(const cp_obj_t *o) {
  if (o->json)
    return cJSON_PrintUnformatted(o->json);
  char *text = cJSON_malloc((size_t)o->text_len + 1);
  if (text && cp_unpack(o->dict, o->packed, o->packed_len, text, o->text_len) != 0) {
    cJSON_free(text);
    text = NULL;
  }
  return text;
}

cp_obj_t *cp_obj_compact(const cp_obj_t *o, const cp_pack_dict_t *dict) {
  if (!o)
    return NULL;
  char *text = obj_text(o);
  cp_obj_t *c = text ? compact_text(o, text, strlen(text), dict) : NULL;
  cJSON_free(text);
  return c;
}

cp_obj_t *cp_obj_expand(cp_obj_t *o) {
  if (!o || o->json)
    return cp_obj_ref(o);
  char *text = obj_text(o);
  cJSON *j = text ? cJSON_ParseWithLength(text, o->text_len) : NULL;
  cJSON_free(text);
  cp_obj_t *e = NULL;
  return j && cp_obj_new(j, &e) == 0 ? e : NULL;
}

int cp_store_init(cp_store_t *s) {
  cp_map_init_borrowed(&s->objs); /* each key lives in its snapshot (cp_obj_t.key) */
  s->compact = 0;
  s->dict = NULL;
  s->text_bytes = 0;
  s->packed_bytes = 0;
  return pthread_rwlock_init(&s->lock, NULL) == 0 ? 0 : CP_ENOMEM;
}

void cp_store_set_compact(cp_store_t *s) {
  s->compact = 1;
}

/* The JSON text a compact snapshot stands for, and the bytes it holds of it (0 for NULL or
 * a tree). */
static size_t text_len(const cp_obj_t *o) {
  return o && !o->json ? o->text_len : 0;
}

static size_t packed_len(const cp_obj_t *o) {
  return o && !o->json ? o->packed_len : 0;
}

/* o compacted against the store's dictionary; the first object put makes the dictionary. */
static cp_obj_t *compact_for(cp_store_t *s, const cp_obj_t *o) {
  char *text = obj_text(o);
  if (!text)
    return NULL;
  size_t len = strlen(text);
  pthread_rwlock_rdlock(&s->lock);
  const cp_pack_dict_t *dict = s->dict;
  pthread_rwlock_unlock(&s->lock);
  if (!dict) {
    pthread_rwlock_wrlock(&s->lock);
    if (!s->dict)
      s->dict = cp_pack_dict_new(text, len); /* NULL (ENOMEM): packed without one */
    dict = s->dict;
    pthread_rwlock_unlock(&s->lock);
  }
  cp_obj_t *c = compact_text(o, text, len, dict);
  cJSON_free(text);
  return c;
}

/* A stored reference as readers get it: expanded in a compact store (the stored one dropped). */
static cp_obj_t *readable(cp_store_t *s, cp_obj_t *o) {
  if (!s->compact || !o)
    return o;
  cp_obj_t *e = cp_obj_expand(o);
  cp_obj_unref(o);
  return e;
}

cp_obj_t *cp_store_get(cp_store_t *s, const char *key) {
  pthread_rwlock_rdlock(&s->lock);
  cp_obj_t *o = cp_obj_ref(cp_map_get(&s->objs, key));
  pthread_rwlock_unlock(&s->lock);
  return readable(s, o);
}

int cp_store_has(cp_store_t *s, const char *key) {
  pthread_rwlock_rdlock(&s->lock);
  int has = cp_map_get(&s->objs, key) != NULL;
  pthread_rwlock_unlock(&s->lock);
  return has;
}

int cp_store_has_version(cp_store_t *s, const char *key, const char *rv) {
  pthread_rwlock_rdlock(&s->lock);
  const cp_obj_t *o = cp_map_get(&s->objs, key);
  int same = o && strcmp(o->resource_version, rv) == 0;
  pthread_rwlock_unlock(&s->lock);
  return same;
}

int cp_store_put(cp_store_t *s, cp_obj_t *o, cp_obj_t **old) {
  cp_obj_t *keep = s->compact ? compact_for(s, o) : o;
  if (!keep)
    return CP_ENOMEM;
  void *prev = NULL;
  pthread_rwlock_wrlock(&s->lock);
  int rc = cp_map_put(&s->objs, keep->key, keep, &prev);
  if (rc == 0) {
    s->text_bytes += text_len(keep) - text_len(prev);
    s->packed_bytes += packed_len(keep) - packed_len(prev);
  }
  pthread_rwlock_unlock(&s->lock);
  if (rc != 0) {
    if (keep != o)
      cp_obj_unref(keep);
    return rc;
  }
  if (keep != o)
    cp_obj_unref(o); /* the store took the caller's reference: it keeps the compact copy */
  if (old)
    *old = readable(s, prev);
  else
    cp_obj_unref(prev);
  return 0;
}

cp_obj_t *cp_store_del(cp_store_t *s, const char *key) {
  pthread_rwlock_wrlock(&s->lock);
  cp_obj_t *o = cp_map_del(&s->objs, key);
  s->text_bytes -= text_len(o);
  s->packed_bytes -= packed_len(o);
  pthread_rwlock_unlock(&s->lock);
  return readable(s, o);
}

typedef struct collect_s {
  int (*keep)(const cp_obj_t *, void *);
  void *ud;
  cp_obj_t **arr;
  size_t n;
} collect_t;

static void collect(const char *key, void *value, void *ud) {
  (void)key;
  collect_t *c = ud;
  cp_obj_t *o = value;
  if (!c->keep || c->keep(o, c->ud))
    c->arr[c->n++] = cp_obj_ref(o);
}

int cp_store_list(cp_store_t *s, int (*keep)(const cp_obj_t *, void *), void *ud, cp_obj_t ***out,
                  size_t *n) {
  pthread_rwlock_rdlock(&s->lock);
  collect_t c = {s->compact ? NULL : keep, ud,
                 malloc((s->objs.len ? s->objs.len : 1) * sizeof(cp_obj_t *)), 0};
  if (c.arr)
    cp_map_each(&s->objs, collect, &c);
  pthread_rwlock_unlock(&s->lock);
  if (!c.arr)
    return CP_ENOMEM;
  if (s->compact) { /* expand, then filter, outside the lock */
    size_t m = 0;
    for (size_t i = 0; i < c.n; i++) {
      cp_obj_t *e = readable(s, c.arr[i]);
      if (e && (!keep || keep(e, ud)))
        c.arr[m++] = e;
      else
        cp_obj_unref(e);
    }
    c.n = m;
  }
  *out = c.arr;
  *n = c.n;
  return 0;
}

size_t cp_store_len(cp_store_t *s) {
  pthread_rwlock_rdlock(&s->lock);
  size_t n = s->objs.len;
  pthread_rwlock_unlock(&s->lock);
  return n;
}

void cp_store_size(cp_store_t *s, size_t *objects, size_t *text_bytes, size_t *packed_bytes) {
  pthread_rwlock_rdlock(&s->lock);
  *objects = s->objs.len;
  *text_bytes = s->text_bytes;
  *packed_bytes = s->packed_bytes;
  pthread_rwlock_unlock(&s->lock);
}

typedef struct each_key_s {
  void (*fn)(const char *key, void *ud);
  void *ud;
} each_key_t;

static void call_with_key(const char *key, void *value, void *ud) {
  (void)value;
  const each_key_t *e = ud;
  e->fn(key, e->ud);
}

void cp_store_each_key(cp_store_t *s, void (*fn)(const char *key, void *ud), void *ud) {
  each_key_t e = {fn, ud};
  pthread_rwlock_rdlock(&s->lock);
  cp_map_each(&s->objs, call_with_key, &e);
  pthread_rwlock_unlock(&s->lock);
}

static void unref_value(void *v) {
  cp_obj_unref(v);
}

void cp_store_free(cp_store_t *s) {
  if (!s)
    return;
  cp_map_free(&s->objs, unref_value);
  cp_pack_dict_free(s->dict);
  pthread_rwlock_destroy(&s->lock);
}
