/* The apiserver's route matching: which entry of a route table answers a method and path,
 * and, when the path exists but the method does not, which methods it does allow.
 *
 * A table is an array of caller structs that each begin with a cp_api_route_t (like
 * bsearch, the element size is passed), so the caller keeps its handlers beside the
 * patterns and this file stays pure: no I/O, no allocation, any thread. A pattern is a
 * literal path in which a whole segment may be a parameter in braces: "{user}" is the user
 * segment, any other name ("{id}") the second parameter. A pattern ending in "{path}" matches
 * any rest of the path, slashes included, also an empty one; its value is not copied
 * (the caller takes it from the path). HEAD matches a GET route (the HTTP
 * server sends no body for it). Every other method is taken literally: TRACE, OPTIONS,
 * PATCH or a WebDAV method finds no route, so a known path answers it with 405.
 */
#ifndef CP_API_ROUTE_H
#define CP_API_ROUTE_H

#include <stddef.h>

/* Longest parameter value (bytes, with the NUL); a longer segment matches nothing. */
#define CP_API_PARAM_MAX 64

typedef struct cp_api_route_s {
  const char *method;  /* "GET", "POST", "PUT", "DELETE" */
  const char *pattern; /* "/api/v1/users/{user}/tokens/{id}" */
} cp_api_route_t;

typedef struct cp_api_params_s {
  char user[CP_API_PARAM_MAX]; /* the {user} segment, "" when the pattern has none */
  char item[CP_API_PARAM_MAX]; /* the other parameter, "" when none */
} cp_api_params_t;

/* Matches path against pattern. Returns 1 and fills *params (if non-NULL), or 0 and leaves
 * *params untouched. */
int cp_api_route_match(const char *pattern, const char *path, cp_api_params_t *params);

/* Finds the route for method and path among the n elements of table (each elem_size bytes,
 * beginning with a cp_api_route_t); the first match wins. Returns its index (>= 0) and fills
 * *params; CP_ENOTFOUND when no pattern matches the path; CP_EMETHOD when some do but none
 * takes the method, and then writes their methods to allow as an Allow header value
 * ("GET, HEAD, PUT", HEAD after GET, each once, in table order; truncated at a whole method
 * to fit allowlen). params and allow are untouched unless said. */
int cp_api_route_find(const void *table, size_t n, size_t elem_size, const char *method,
                      const char *path, cp_api_params_t *params, char *allow, size_t allowlen);

#endif
