/* Resource versions as numbers.
 *
 * A resourceVersion used to be opaque: clients could only test two for equality. Since
 * Kubernetes 1.35 (KEP-5504, "Comparable Resource Version", stable) a live resourceVersion
 * is a positive decimal integer without leading zeros, and two of the same resource compare
 * as those integers: the larger is the later state. That lets a cache say whether it has
 * caught up with a write (informer.h, cp_informer_wait_rv).
 */
#ifndef CP_KUBE_RV_H
#define CP_KUBE_RV_H

#include <stdint.h>

/* Parses rv as KEP-5504 defines it: one or more decimal digits, the first not 0. Returns 0
 * with *out set, or CP_EINVAL for NULL, "", "0", a leading zero, any other character or a
 * value beyond 64 bits (not comparable: callers fall back to equality). */
int cp_kube_rv_parse(const char *rv, uint64_t *out);

#endif
