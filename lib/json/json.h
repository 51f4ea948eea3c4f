/* Small helpers over cJSON for Kubernetes objects.
 *
 * Kube objects are kept whole as cJSON trees so fields we do not model are never
 * dropped. Getters return borrowed pointers into the tree (valid while the tree lives)
 * and NULL when a step is missing or of the wrong type; they never allocate.
 */
#ifndef CP_JSON_JSON_H
#define CP_JSON_JSON_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* Walks object keys given as a NULL-terminated list: cp_json_getv(o, "metadata", "labels",
 * "app.kubernetes.io/name", NULL). Keys may contain dots. Returns the item or NULL. */
const cJSON *cp_json_getv(const cJSON *obj, ...);

/* Like cp_json_getv but returns the string value, or NULL if absent or not a string. */
const char *cp_json_strv(const cJSON *obj, ...);

/* Parses len bytes of JSON (need not be NUL-terminated). Refuses inputs longer than max
 * (CP_ETOOBIG) and nesting deeper than cJSON's limit (CP_EPARSE). On success *out owns
 * a new tree. */
int cp_json_parse(const char *data, size_t len, size_t max, cJSON **out);

/* Sets obj[key] = value, replacing an existing member. Takes ownership of value even on
 * failure. Returns 0 or CP_ENOMEM/CP_EINVAL. */
int cp_json_set(cJSON *obj, const char *key, cJSON *value);

/* Returns obj[key] if it is an object, otherwise creates (or replaces a non-object) with
 * an empty object. NULL only on ENOMEM. */
cJSON *cp_json_child_object(cJSON *obj, const char *key);

/* Returns 1 if every field of want is present in have with the same value: objects
 * recursively (extra members in have are fine: the server adds defaults), arrays element
 * by element with equal length, scalars by value. This is how a controller tells that an
 * object it would apply is already in place, so a steady state writes nothing. */
int cp_json_contains(const cJSON *have, const cJSON *want);

#endif
