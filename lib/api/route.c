/* Route matching for the apiserver (see route.h). A linear walk over a table of a few
 * dozen entries: the shortest code that is obviously right, and at ~30 string compares a
 * request far below anything else the request costs. */
#include "api/route.h"

#include "core/error.h"

#include <stdio.h>
#include <string.h>

int cp_api_route_match(const char *pattern, const char *path, cp_api_params_t *params) {
  cp_api_params_t got = {{0}, {0}};
  const char *p = pattern, *s = path;
  while (*p && *s) {
    if (!strcmp(p, "{path}"))
      break; /* the rest of the path, slashes included: the caller reads it from the path */
    if (*p == '{') {
      const char *pe = strchr(p, '}');
      size_t sl = strcspn(s, "/");
      if (!pe || sl == 0 || sl >= CP_API_PARAM_MAX)
        return 0;
      char *dst = !strncmp(p, "{user}", 6) ? got.user : got.item;
      memcpy(dst, s, sl);
      dst[sl] = '\0';
      p = pe + 1;
      s += sl;
      continue;
    }
    if (*p != *s)
      return 0;
    p++;
    s++;
  }
  if (!strcmp(p, "{path}"))
    p += 6, s += strlen(s);
  if (*p || *s)
    return 0;
  if (params)
    *params = got;
  return 1;
}

/* Appends method to allow (", "-separated) unless it is there already or would not fit
 * whole. */
static void allow_add(char *allow, size_t cap, size_t *len, const char *method) {
  size_t ml = strlen(method);
  for (const char *a = allow; *a;) {
    size_t al = strcspn(a, ",");
    if (al == ml && !strncmp(a, method, ml))
      return;
    a += al;
    a += strspn(a, ", ");
  }
  size_t need = (*len ? 2 : 0) + ml;
  if (*len + need >= cap)
    return;
  *len += (size_t)snprintf(allow + *len, cap - *len, "%s%s", *len ? ", " : "", method);
}

int cp_api_route_find(const void *table, size_t n, size_t elem_size, const char *method,
                      const char *path, cp_api_params_t *params, char *allow, size_t allowlen) {
  const char *base = table;
  int path_known = 0;
  for (size_t i = 0; i < n; i++) {
    const cp_api_route_t *r = (const cp_api_route_t *)(const void *)(base + i * elem_size);
    cp_api_params_t got;
    if (!cp_api_route_match(r->pattern, path, &got))
      continue;
    path_known = 1;
    if (!strcmp(method, r->method) || (!strcmp(method, "HEAD") && !strcmp(r->method, "GET"))) {
      if (params)
        *params = got;
      return (int)i;
    }
  }
  if (!path_known)
    return CP_ENOTFOUND;
  if (allow && allowlen) {
    size_t len = 0;
    allow[0] = '\0';
    for (size_t i = 0; i < n; i++) {
      const cp_api_route_t *r = (const cp_api_route_t *)(const void *)(base + i * elem_size);
      if (!cp_api_route_match(r->pattern, path, NULL))
        continue;
      allow_add(allow, allowlen, &len, r->method);
      if (!strcmp(r->method, "GET"))
        allow_add(allow, allowlen, &len, "HEAD");
    }
  }
  return CP_EMETHOD;
}
