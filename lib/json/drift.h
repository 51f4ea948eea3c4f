/* Drift: does a live object still hold what a controller owns in it?
 *
 * A controller builds the desired object and compares it with the live one from its
 * cache. cp_json_contains answers "is every desired field there with the same value";
 * that is right where the server adds defaults (extra members are fine) but wrong where
 * an extra member changes the meaning: one more key in a label selector selects nothing,
 * so a NetworkPolicy's default deny is gone. Rules name those places: at an exact path
 * the live subtree must equal the desired one, nothing more.
 *
 * Paths are JSON Pointer-like, without the leading slash: "spec/podSelector". "~1" stands
 * for '/' and "~0" for '~' inside a key ("metadata/annotations/clawplane.io~1spec-hash").
 * A "*" step walks every element of an array pairwise (the arrays must have the same
 * length): "spec/containers/ * /image" (without the spaces). "" is the whole object.
 *
 * Objects from a LIST carry no apiVersion and kind (the List has them), objects from a
 * GET or a watch do: the top-level apiVersion and kind of the desired object are compared
 * only when the live object has them, so a freshly relisted cache matches as well as one
 * filled by watch events.
 *
 * Pure functions over borrowed trees; any thread.
 */
#ifndef CP_JSON_DRIFT_H
#define CP_JSON_DRIFT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct cp_json_rule_s {
  const char *path; /* see above; NULL ends a rule list */
  bool exact;       /* true: equal, no extra members; false: live contains desired */
} cp_json_rule_t;

/* Checks live against desired at every rule's path (a list ended by {NULL}). A path absent
 * from desired owns nothing and is skipped; absent from live where desired has it is drift.
 * Returns NULL when nothing drifted, otherwise the path of the first rule that did
 * (borrowed from rules). A NULL live drifts at the first rule. */
const char *cp_json_drift(const cJSON *live, const cJSON *desired, const cp_json_rule_t *rules);

/* The live object with desired laid over it, for a PUT that repairs drift a server-side
 * apply cannot (fields another manager owns stay under apply): objects merge member by
 * member, arrays and scalars are taken from desired, and at each exact rule's path the
 * desired subtree replaces the live one whole. metadata.managedFields (the server keeps
 * them when a PUT omits them) and status are dropped; metadata.resourceVersion stays, so a
 * concurrent change makes the PUT fail with a conflict instead of being overwritten.
 * Returns a new tree the caller owns, or NULL on ENOMEM or when either input is NULL. */
cJSON *cp_json_repaired(const cJSON *live, const cJSON *desired, const cp_json_rule_t *rules);

/* Trims obj in place to what lies on the paths of the rule tables (tables is a list ended by
 * NULL; exactness does not matter here): a member on no path is removed with everything under
 * it, "" keeps the whole object. A "*" step keeps every element of an array (or member of an
 * object) and trims each by the rest of the path; a named step at an array keeps the element
 * whole. For a cache that holds only what a controller compares and reads: a field the drift
 * rules name stays, so trimmed objects compare as the whole ones did. With more than
 * CP_JSON_KEEP_MAX paths nothing is removed. */
#define CP_JSON_KEEP_MAX 64
void cp_json_keep(cJSON *obj, const cp_json_rule_t *const *tables);

#endif
