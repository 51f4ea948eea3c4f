/* Which collection a request is about: group, version, resource (plural), and scope.
 *
 * The client is dynamic: it never needs a Go-style type per kind, only the REST path,
 * which a cp_gvr_t fully determines. The constants below are compound literals, so take
 * their address where a pointer is wanted: cp_kube_get(c, &CP_GVR_PODS, ...). Custom
 * resources are described the same way: (cp_gvr_t){"clawplane.io", "v1alpha1",
 * "userruntimes", true}.
 *
 * Paths and query strings are built with cp_kube_path and cp_kube_query_add (client.h),
 * which URL-escape every caller-supplied segment and value.
 */
#ifndef CP_KUBE_RESOURCE_H
#define CP_KUBE_RESOURCE_H

#include <stdbool.h>

typedef struct cp_gvr_s {
  const char *group;    /* "" for the core group (paths under /api) */
  const char *version;  /* "v1" */
  const char *resource; /* lower-case plural: "configmaps" */
  bool namespaced;      /* false for cluster-scoped kinds (namespaces, CRDs, nodes) */
} cp_gvr_t;

#define CP_GVR_NAMESPACES ((const cp_gvr_t){"", "v1", "namespaces", false})
#define CP_GVR_CONFIGMAPS ((const cp_gvr_t){"", "v1", "configmaps", true})
#define CP_GVR_PODS ((const cp_gvr_t){"", "v1", "pods", true})
#define CP_GVR_SERVICES ((const cp_gvr_t){"", "v1", "services", true})
#define CP_GVR_SECRETS ((const cp_gvr_t){"", "v1", "secrets", true})
#define CP_GVR_PVCS ((const cp_gvr_t){"", "v1", "persistentvolumeclaims", true})
#define CP_GVR_EVENTS ((const cp_gvr_t){"", "v1", "events", true})
#define CP_GVR_NETWORKPOLICIES                                                                     \
  ((const cp_gvr_t){"networking.k8s.io", "v1", "networkpolicies", true})
#define CP_GVR_LEASES ((const cp_gvr_t){"coordination.k8s.io", "v1", "leases", true})
#define CP_GVR_CRDS                                                                                \
  ((const cp_gvr_t){"apiextensions.k8s.io", "v1", "customresourcedefinitions", false})

#endif
