/* Kubernetes resource quantities ("250m", "1.5", "512Mi", "2Gi", "1G", "1e3").
 *
 * The grammar is the API server's (k8s.io/apimachinery resource.Quantity):
 *   [+-] digits [. digits] | [+-] [digits] . digits, then one optional suffix:
 *   binary  Ki Mi Gi Ti Pi Ei        (powers of 1024)
 *   decimal n u m "" k M G T P E     (powers of 1000)
 *   exponent e<int> or E<int>        ("1e3", "5E-2"; a bare "E" is exa)
 * No whitespace, no unit letters beyond those ("1KiB", "1mi", "1K" are garbage).
 *
 * Values are returned as int64 in milli-units rounded up (away from zero), like the
 * API server's MilliValue(): "250m" -> 250, "1" -> 1000, "1Ki" -> 1024000, "100n" -> 1.
 * That covers up to about 9.2e15 units (8 PiB of memory), far beyond any pod or volume;
 * a larger value is CP_ETOOBIG rather than a wrong number. Pure functions: no allocation,
 * no global state, safe on any thread.
 */
#ifndef CP_KUBE_QUANTITY_H
#define CP_KUBE_QUANTITY_H

#include <stdint.h>

/* Longest quantity string accepted; longer input is CP_ETOOBIG. */
#define CP_QUANTITY_MAX_LEN 64

/* Parses s into milli-units, rounded up. Returns 0, CP_EINVAL (s NULL), CP_EPARSE (not
 * a quantity), or CP_ETOOBIG (longer than CP_QUANTITY_MAX_LEN, or the value does not fit
 * int64 milli-units). *milli is written only on success. */
int cp_quantity_parse(const char *s, int64_t *milli);

/* Parses s into whole units rounded up (bytes for memory, cores for cpu), like the API
 * server's Value(): "1.5" -> 2, "512Mi" -> 536870912. Same returns as cp_quantity_parse. */
int cp_quantity_value(const char *s, int64_t *value);

/* Compares two quantities at milli-unit precision: *cmp is -1, 0 or 1 as a <, ==, > b
 * ("1Gi" == "1024Mi", "1G" < "1Gi"). Returns 0 or the first parse error; *cmp is written
 * only on success. */
int cp_quantity_cmp(const char *a, const char *b, int *cmp);

#endif
