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

/* Path parameters in a pattern: the more a pattern has, the less specific it is. */
static size_t nparams(const char *pattern) {
  size_t k = 0;
  for (const char *p = pattern; *p; p++)
    k += *p == '{';
  return k;
}

int cp_api_route_find(const void *table, size_t n, size_t elem_size, const char *method,
                      const char *path, cp_api_params_t *params, char *allow, size_t allowlen) {
  const char *base = table;
#define ROUTE(i) ((const cp_api_route_t *)(const void *)(base + (i)*elem_size))
  /* Only the most specific patterns that match count: /api/v1/invitations/accept is that
   * path, not /api/v1/invitations/{id} with the id "accept" (so DELETE there is 405, and
   * Allow lists POST alone, as the spec has it). */
  size_t best = (size_t)-1;
  for (size_t i = 0; i < n; i++)
    if (cp_api_route_match(ROUTE(i)->pattern, path, NULL) && nparams(ROUTE(i)->pattern) < best)
      best = nparams(ROUTE(i)->pattern);
  if (best == (size_t)-1)
    return CP_ENOTFOUND;
  for (size_t i = 0; i < n; i++) {
    const cp_api_route_t *r = ROUTE(i);
    cp_api_params_t got;
    if (nparams(r->pattern) != best || !cp_api_route_match(r->pattern, path, &got))
      continue;
    if (!strcmp(method, r->method) || (!strcmp(method, "HEAD") && !strcmp(r->method, "GET"))) {
      if (params)
        *params = got;
      return (int)i;
    }
  }
  if (allow && allowlen) {
    size_t len = 0;
    allow[0] = '\0';
    for (size_t i = 0; i < n; i++) {
      const cp_api_route_t *r = ROUTE(i);
      if (nparams(r->pattern) != best || !cp_api_route_match(r->pattern, path, NULL))
        continue;
      allow_add(allow, allowlen, &len, r->method);
      if (!strcmp(r->method, "GET"))
        allow_add(allow, allowlen, &len, "HEAD");
    }
  }
#undef ROUTE
  return CP_EMETHOD;
}
