/* What the controller's caches keep (cp_informer_opts_t.project).
 *
 * The informer already drops managedFields and the last-applied annotation from everything.
 * Beyond that, a Pod keeps its metadata, the spec paths the drift rules compare (drift.h:
 * derived from the rule tables, so a new rule keeps its field) and the status fields
 * cp_ur_observe_pod reads: the rest of its spec and status (defaults, IPs, image IDs,
 * timestamps) is most of a Pod and nothing reads it. A Secret keeps no token: each data
 * value becomes "sha256:<hex>" of its base64 text, and a desired Secret is compared after the
 * same projection (cp_ur_project_secret on a copy), so a changed value is still drift.
 * Other kinds are compared whole ("" rules) and are kept whole.
 */
#ifndef CP_CONTROLLERS_USERRUNTIME_CACHE_H
#define CP_CONTROLLERS_USERRUNTIME_CACHE_H

#include <cjson/cJSON.h>

/* Trims a Pod in place to what reconcile and the drift check read. ud is unused. */
void cp_ur_project_pod(cJSON *pod, void *ud);

/* Replaces every data and stringData value of a Secret, in place, by "sha256:<hex>" of the
 * value as the server sends it (base64 for data). ud is unused. */
void cp_ur_project_secret(cJSON *secret, void *ud);

#endif
