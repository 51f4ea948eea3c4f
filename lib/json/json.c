/* Getters walk with cJSON_GetObjectItemCaseSensitive: Kubernetes keys are case-sensitive. */
#include "json/json.h"
#include "core/error.h"

#include <stdarg.h>

static const cJSON *walk(const cJSON *obj, va_list ap) {
  const char *key;
  while (obj && (key = va_arg(ap, const char *)) != NULL)
    obj = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
  return obj;
}

const cJSON *cp_json_getv(const cJSON *obj, ...) {
  va_list ap;
  va_start(ap, obj);
  const cJSON *r = walk(obj, ap);
  va_end(ap);
  return r;
}

const char *cp_json_strv(const cJSON *obj, ...) {
  va_list ap;
  va_start(ap, obj);
  const cJSON *r = walk(obj, ap);
  va_end(ap);
  return cJSON_IsString(r) ? r->valuestring : NULL;
}

int cp_json_parse(const char *data, size_t len, size_t max, cJSON **out) {
  if (!data)
    return CP_EINVAL;
  if (len > max)
    return CP_ETOOBIG;
  cJSON *root = cJSON_ParseWithLength(data, len);
  if (!root)
    return CP_EPARSE;
  *out = root;
  return 0;
}

int cp_json_set(cJSON *obj, const char *key, cJSON *value) {
  if (!value)
    return CP_ENOMEM;
  if (!cJSON_IsObject(obj)) {
    cJSON_Delete(value);
    return CP_EINVAL;
  }
  cJSON_bool ok = cJSON_GetObjectItemCaseSensitive(obj, key)
                      ? cJSON_ReplaceItemInObjectCaseSensitive(obj, key, value)
                      : cJSON_AddItemToObject(obj, key, value);
  if (!ok)
    cJSON_Delete(value);
  return ok ? 0 : CP_ENOMEM;
}

cJSON *cp_json_child_object(cJSON *obj, const char *key) {
  cJSON *c = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (cJSON_IsObject(c))
    return c;
  c = cJSON_CreateObject();
  return cp_json_set(obj, key, c) == 0 ? c : NULL;
}

int cp_json_contains(const cJSON *have, const cJSON *want) {
  if (!want)
    return 1;
  if (!have)
    return 0;
  if (cJSON_IsObject(want)) {
    if (!cJSON_IsObject(have))
      return 0;
    const cJSON *w;
    cJSON_ArrayForEach(w, want) {
      if (!cp_json_contains(cJSON_GetObjectItemCaseSensitive(have, w->string), w))
        return 0;
    }
    return 1;
  }
  if (cJSON_IsArray(want)) {
    if (!cJSON_IsArray(have) || cJSON_GetArraySize(have) != cJSON_GetArraySize(want))
      return 0;
    const cJSON *h = have->child, *w = want->child;
    for (; w; w = w->next, h = h->next)
      if (!cp_json_contains(h, w))
        return 0;
    return 1;
  }
  return cJSON_Compare(have, want, 1);
}
