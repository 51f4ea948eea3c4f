/* Fuzzes the quantity parser and checks its two scales agree: whenever the milli value
 * parses, the unit value parses too and equals it divided by 1000, rounded away from
 * zero; and every quantity compares equal to itself. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube/quantity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char s[CP_QUANTITY_MAX_LEN + 8];
  if (size >= sizeof(s))
    size = sizeof(s) - 1;
  memcpy(s, data, size);
  s[size] = '\0';
  int64_t milli, value;
  if (cp_quantity_parse(s, &milli) != 0)
    return 0;
  if (cp_quantity_value(s, &value) != 0)
    abort();
  int64_t mag = milli < 0 ? -milli : milli;
  int64_t want = mag / 1000 + (mag % 1000 != 0);
  if (value != (milli < 0 ? -want : want))
    abort();
  int cmp = 1;
  if (cp_quantity_cmp(s, s, &cmp) != 0 || cmp != 0)
    abort();
  return 0;
}
