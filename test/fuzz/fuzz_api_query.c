/* Fuzzes query-string lookup and decoding: a found value is never longer than the raw
 * query, never contains a NUL, and the integer reader stays within its bounds. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/body.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char q[4096];
  if (size >= sizeof q)
    size = sizeof q - 1;
  memcpy(q, data, size);
  q[size] = '\0';
  static const char *const keys[] = {"limit", "before", "wipe", "actor", "after", "a", ""};
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
    char v[64];
    if (cp_api_query_get(q, keys[i], v, sizeof v) == 0 && strlen(v) > strlen(q))
      abort();
    long n = 0;
    char err[128];
    if (cp_api_query_long(q, keys[i], -5, 500, &n, err, sizeof err) == 0 && (n < -5 || n > 500))
      abort();
  }
  return 0;
}
