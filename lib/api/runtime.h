/* UserRuntime objects as the apiserver reads and writes them: a user-facing view of
 * desired and observed state, the server-side apply bodies for the spec fields the
 * apiserver manages, and the status body that records activity (and wakes a hibernated
 * runtime).
 *
 * Apply semantics shape the builders: a field manager that leaves out a field it owned
 * gives it up (and the field disappears if nobody else owns it). So every spec apply
 * repeats, with their current values, the fields the apiserver already owns (read from
 * metadata.managedFields), plus the ones being changed now, and never any other field: a
 * profile set by kubectl or a GitOps tool stays theirs. metadata.resourceVersion is sent
 * when the object exists, so two concurrent writers cannot overwrite each other's change
 * (the loser gets a 409 and retries on the fresh object). Pure; any thread.
 */
#ifndef CP_API_RUNTIME_H
#define CP_API_RUNTIME_H

#include <cjson/cJSON.h>
#include <stddef.h>

#define CP_API_UR_GROUP "clawplane.io"
#define CP_API_UR_VERSION "v1alpha1"
#define CP_API_UR_API_VERSION "clawplane.io/v1alpha1"
#define CP_API_UR_KIND "UserRuntime"
#define CP_API_USER_LABEL "clawplane.io/user"

/* spec fields the apiserver manages, as bits */
#define CP_API_F_STATE 1u
#define CP_API_F_PROFILE 2u
#define CP_API_F_RESOURCES 4u
#define CP_API_F_RETAIN 8u

/* Returns the CP_API_F_* bits of the spec fields that manager owns through an Apply
 * entry (not a status one) of ur's metadata.managedFields. 0 when ur is NULL. */
unsigned cp_api_owned_fields(const cJSON *ur, const char *manager);

typedef struct cp_api_runtime_change_s {
  const char *state;      /* NULL: unchanged; "Running" / "Stopped" */
  const char *profile;    /* NULL: unchanged */
  const cJSON *resources; /* NULL: unchanged; JSON null: give them up; an object: set */
  int retain_on_delete;   /* -1: unchanged; 0 or 1: set storage.retainOnDelete */
} cp_api_runtime_change_t;

/* Builds the apply body for UserRuntime name in ns owned by user: the change on top of
 * what manager already owns in current (may be NULL: the object does not exist yet).
 * Returns 0 and *out (caller frees), CP_EINVAL (missing name, ns or user) or CP_ENOMEM. */
int cp_api_runtime_apply_body(const cJSON *current, const char *ns, const char *name,
                              const char *user, const char *manager,
                              const cp_api_runtime_change_t *chg, cJSON **out);

/* The user-facing view of a UserRuntime:
 *   {"name","namespace","user","generation","resourceVersion","createdAt",
 *    "desired":{"state","profile","image","resources","storage","idleTimeout"},
 *    "observed":{"phase","ready","message","podName","endpoint","startedAt",
 *                "lastActivityTime","restarts","observedGeneration","conditions"}}
 * Members absent from the object are omitted (observed is {} before the controller saw
 * it). Returns a new tree (caller frees) or NULL on ENOMEM. */
cJSON *cp_api_runtime_view(const cJSON *ur);

/* The status apply body {apiVersion, kind, metadata{name, namespace}, status{
 * lastActivityTime: at}} (at formatted RFC 3339, whole seconds). NULL on ENOMEM. */
cJSON *cp_api_activity_body(const char *ns, const char *name, double at);

/* Returns 1 when ur is Hibernated and has no recorded activity newer than its
 * hibernation (the Ready condition's lastTransitionTime): an access must wake it. Then
 * *at (may be NULL) gets the activity time to write: now rounded up to a whole second,
 * and at least one second after the hibernation, so the controller sees it as newer. */
int cp_api_wake_needed(const cJSON *ur, double now, double *at);

#endif
