/* The map holds one reference per entry; getters hand out new references under the read
 * lock, so an entry can be replaced while a reader still uses the old snapshot. */
#include "kube/store.h"
#include "core/error.h"
#include "json/json.h"

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

int cp_store_init(cp_store_t *s) {
  cp_map_init(&s->objs);
  return pthread_rwlock_init(&s->lock, NULL) == 0 ? 0 : CP_ENOMEM;
}

cp_obj_t *cp_store_get(cp_store_t *s, const char *key) {
  pthread_rwlock_rdlock(&s->lock);
  cp_obj_t *o = cp_obj_ref(cp_map_get(&s->objs, key));
  pthread_rwlock_unlock(&s->lock);
  return o;
}

int cp_store_put(cp_store_t *s, cp_obj_t *o, cp_obj_t **old) {
  void *prev = NULL;
  pthread_rwlock_wrlock(&s->lock);
  int rc = cp_map_put(&s->objs, o->key, o, &prev);
  pthread_rwlock_unlock(&s->lock);
  if (rc != 0)
    return rc;
  if (old)
    *old = prev;
  else
    cp_obj_unref(prev);
  return 0;
}

cp_obj_t *cp_store_del(cp_store_t *s, const char *key) {
  pthread_rwlock_wrlock(&s->lock);
  cp_obj_t *o = cp_map_del(&s->objs, key);
  pthread_rwlock_unlock(&s->lock);
  return o;
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
  collect_t c = {keep, ud, malloc((s->objs.len ? s->objs.len : 1) * sizeof(cp_obj_t *)), 0};
  if (c.arr)
    cp_map_each(&s->objs, collect, &c);
  pthread_rwlock_unlock(&s->lock);
  if (!c.arr)
    return CP_ENOMEM;
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

static void unref_value(void *v) {
  cp_obj_unref(v);
}

void cp_store_free(cp_store_t *s) {
  if (!s)
    return;
  cp_map_free(&s->objs, unref_value);
  pthread_rwlock_destroy(&s->lock);
}
