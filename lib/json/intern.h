/* One shared, immortal copy of strings that repeat across many cached objects.
 *
 * A cache of thousands of Kubernetes objects holds the same member names ("metadata",
 * "name", "lastTransitionTime", label keys...) thousands of times, each its own allocation.
 * cp_json_intern_keys points every member name of a tree at a shared copy instead (cJSON's
 * cJSON_StringIsConst: cJSON_Delete leaves it alone) and frees the private one. The pool is
 * bounded (CP_JSON_INTERN_MAX strings of at most CP_JSON_INTERN_LEN bytes, never freed);
 * once full, further names simply stay private. Thread-safe.
 *
 * A tree with interned names is read and deleted like any other. cJSON_Duplicate keeps the
 * shared names (they outlive every tree); code that renames members in place must not be
 * given such a tree.
 */
#ifndef CP_JSON_INTERN_H
#define CP_JSON_INTERN_H

#include <cjson/cJSON.h>

#define CP_JSON_INTERN_MAX 4096
#define CP_JSON_INTERN_LEN 64

/* The shared copy of s, added to the pool if needed; NULL when s is too long or the pool is
 * full (or out of memory). */
const char *cp_json_intern(const char *s);

/* Replaces every member name in tree (recursively) by its shared copy where the pool has
 * or takes one. Accepts NULL. */
void cp_json_intern_keys(cJSON *tree);

/* Number of strings in the pool. */
unsigned cp_json_intern_count(void);

#endif
