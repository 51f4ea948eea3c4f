/* What a UserRuntime's status says, computed without I/O.
 *
 * cp_ur_observe_pod reads a Pod as the API server reports it and classifies it;
 * the reconciler turns that and the spec into a cp_ur_status_t; cp_ur_status_matches tells
 * whether the object already says exactly that (then nothing is written), and
 * cp_ur_status_body builds the server-side-apply body for the status subresource. A
 * condition keeps its lastTransitionTime while its status does not change, as
 * metav1.Condition requires. lastActivityTime is never touched: other field managers own it.
 */
#ifndef CP_CONTROLLERS_USERRUNTIME_STATUS_H
#define CP_CONTROLLERS_USERRUNTIME_STATUS_H

#include <cjson/cJSON.h>
#include <stdint.h>

typedef enum cp_pod_state_e {
  CP_POD_NONE,        /* no pod */
  CP_POD_TERMINATING, /* deletionTimestamp set */
  CP_POD_STARTING,    /* scheduled or pending, not ready yet */
  CP_POD_READY,       /* Ready=True */
  CP_POD_STUCK,       /* will not get better by itself: image pull, crash loop, unschedulable */
  CP_POD_FAILED,      /* Failed/Succeeded phase, evicted: must be replaced */
} cp_pod_state_t;

typedef struct cp_pod_obs_s {
  cp_pod_state_t state;
  char reason[64];      /* e.g. CrashLoopBackOff, ImagePullBackOff, FailedScheduling, Evicted */
  char message[256];    /* what Kubernetes said */
  char ready_since[40]; /* Ready condition's lastTransitionTime when READY, else "" */
  char hash[72];        /* the pod's clawplane.io/spec-hash annotation, "" if none */
} cp_pod_obs_t;

/* Classifies pod (NULL means no pod) into *out. Never fails. */
void cp_ur_observe_pod(const cJSON *pod, cp_pod_obs_t *out);

typedef struct cp_ur_cond_s {
  const char *status; /* "True", "False", "Unknown"; NULL: leave this condition alone */
  char reason[64];    /* CamelCase; a copy, so it never points into a caller's frame */
  char message[256];
} cp_ur_cond_t;

typedef struct cp_ur_status_s {
  const char *phase; /* Pending Starting Running Stopping Stopped Hibernated Failed; NULL: keep */
  cp_ur_cond_t ready, progressing, degraded;
  char message[256];
  char pod_name[254]; /* "" when there is no pod */
  char endpoint[320];
  char started_at[40]; /* "" : not started */
  long restarts;
  long observed_generation;
} cp_ur_status_t;

/* 1 if ur's status already says everything st says (conditions by type, status, reason,
 * message, observedGeneration; the scalar fields), else 0. */
int cp_ur_status_matches(const cJSON *ur, const cp_ur_status_t *st);

/* A 64-bit digest of everything cp_ur_status_matches compares (FNV-1a): two statuses
 * with the same digest say the same thing. The controller keeps the digest of the status
 * it last wrote, so a reconcile that runs before the cache shows that write does not write
 * it again. */
uint64_t cp_ur_status_digest(const cp_ur_status_t *st);

/* Builds {apiVersion, kind, metadata{name,namespace}, status{...}} for a status apply.
 * Conditions whose status is unchanged keep their lastTransitionTime; others get now.
 * Returns a new tree (caller frees) or NULL on ENOMEM. */
cJSON *cp_ur_status_body(const cJSON *ur, const cp_ur_status_t *st, double now);

/* Returns the condition of the given type from ur's status, or NULL (borrowed). */
const cJSON *cp_ur_condition(const cJSON *ur, const char *type);

#endif
