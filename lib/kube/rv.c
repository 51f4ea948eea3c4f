/* KEP-5504 resource versions: digits only, no leading zero, and here at most 64 bits. */
#include "kube/rv.h"
#include "core/error.h"

#include <stddef.h>

int cp_kube_rv_parse(const char *rv, uint64_t *out) {
  if (!rv || rv[0] < '1' || rv[0] > '9')
    return CP_EINVAL;
  uint64_t v = 0;
  for (const char *p = rv; *p; p++) {
    if (*p < '0' || *p > '9')
      return CP_EINVAL;
    unsigned d = (unsigned)(*p - '0');
    if (v > (UINT64_MAX - d) / 10)
      return CP_EINVAL;
    v = v * 10 + d;
  }
  *out = v;
  return 0;
}
