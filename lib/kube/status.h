/* What the Kubernetes API server said about a failed request.
 *
 * Every kube call takes an optional cp_status_t out-param. On failure it holds the HTTP
 * code (0 when no response arrived), the Status object's reason and message (or the
 * transport error when there was no response), and Retry-After when the server sent one.
 * On success it is zeroed. Fixed-size fields: a hostile server cannot make it grow.
 */
#ifndef CP_KUBE_STATUS_H
#define CP_KUBE_STATUS_H

typedef struct cp_status_s {
  long http_code;    /* 0 if the request never got a response */
  char reason[64];   /* metav1.Status reason, e.g. "NotFound", "AlreadyExists", "Expired" */
  char message[512]; /* metav1.Status message, or the transport error text */
  long retry_after;  /* seconds from Retry-After, 0 if none */
} cp_status_t;

#endif
