/* Runtime authentication by an audience-bound, pod-bound service-account token, checked
 * with the Kubernetes TokenReview API (the alternative to the Secret's token).
 *
 * A runtime pod may present a projected service-account token whose audience is the
 * proxy's (--token-review-audience). The API server says whether it is valid, for which
 * audiences, and which pod it is bound to (user.extra
 * "authentication.kubernetes.io/pod-name"); the pod's name is its UserRuntime's, so the
 * runtime is <namespace>/<pod> and its user comes from that runtime's credentials Secret.
 * These are the pure parts: the request body, reading the answer, and the token's expiry
 * (read from its payload without verifying it, which the API server did). Any thread.
 */
#ifndef CP_MODELPROXY_TOKENREVIEW_H
#define CP_MODELPROXY_TOKENREVIEW_H

#include <cjson/cJSON.h>
#include <stddef.h>

#define CP_MP_JWT_MAX 8192 /* longest service-account token considered */

/* 1 if token looks like a JWT (three non-empty base64url parts, at most CP_MP_JWT_MAX
 * bytes), else 0. Cheap: decides whether a TokenReview is worth asking for. */
int cp_mp_looks_like_jwt(const char *token, size_t len);

/* The TokenReview to POST: {"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview",
 * "spec":{"token":..,"audiences":[audience]}}. Returns a new tree or NULL on ENOMEM. */
cJSON *cp_mp_tokenreview_request(const char *token, size_t len, const char *audience);

/* Reads the API server's answer: authenticated, audience among status.audiences, a
 * service-account user "system:serviceaccount:<ns>:<sa>" and a bound pod name. Returns 0
 * with the namespace and pod name copied out, or CP_EUNAUTHORIZED (not authenticated,
 * wrong audience, not bound to a pod, names too long). */
int cp_mp_tokenreview_result(const cJSON *review, const char *audience, char *ns, size_t nslen,
                             char *pod, size_t podlen);

/* The "exp" claim of a JWT (seconds since the epoch), or 0 when absent or unreadable. */
double cp_mp_jwt_expiry(const char *token, size_t len);

#endif
