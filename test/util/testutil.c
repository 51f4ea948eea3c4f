/* Helpers only; assertions stay in the tests. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

char *cp_test_read_file(const char *path, size_t *len_out) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  if (fseek(f, 0, SEEK_END) != 0) {
    fclose(f);
    return NULL;
  }
  long n = ftell(f);
  rewind(f);
  char *d = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (d && fread(d, 1, (size_t)n, f) != (size_t)n) {
    free(d);
    d = NULL;
  }
  fclose(f);
  if (d) {
    d[n] = '\0';
    if (len_out)
      *len_out = (size_t)n;
  }
  return d;
}

void cp_test_unique_name(const char *prefix, char *out, size_t outlen) {
  static int n;
  snprintf(out, outlen, "%s-%d-%d", prefix, (int)getpid(), ++n);
}
