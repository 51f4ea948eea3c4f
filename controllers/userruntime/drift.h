/* What the controller owns in each child, as drift rules (json/drift.h).
 *
 * Every child is first compared whole with "contains" semantics (the server adds defaults;
 * LIST objects lack apiVersion and kind). Where one extra member changes the meaning, the
 * rule is exact: a NetworkPolicy's whole spec (an extra podSelector key selects nothing, an
 * extra peer opens the pod), a Service's selector. A new child kind adds its own table.
 *
 * The Pod has two tables: metadata (labels, ownerReferences, annotations) that a
 * server-side apply restores on the same pod, and the spec fields a pod cannot take back
 * in place (image, command, env, security contexts, volumes and mounts), whose drift
 * means a new pod. Pod resources are not compared: the server canonicalizes quantities
 * ("0.5" becomes "500m") and the spec hash already covers a changed request.
 */
#ifndef CP_CONTROLLERS_USERRUNTIME_DRIFT_H
#define CP_CONTROLLERS_USERRUNTIME_DRIFT_H

#include "json/drift.h"

extern const cp_json_rule_t cp_ur_rules_service[];
extern const cp_json_rule_t cp_ur_rules_netpol[];
extern const cp_json_rule_t cp_ur_rules_pvc[];
extern const cp_json_rule_t cp_ur_rules_files_secret[];
extern const cp_json_rule_t cp_ur_rules_config[];
extern const cp_json_rule_t cp_ur_rules_route[];
extern const cp_json_rule_t cp_ur_rules_pod_meta[];
extern const cp_json_rule_t cp_ur_rules_pod_spec[];

#endif
