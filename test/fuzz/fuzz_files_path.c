/* Fuzzes the file service's request path parser (the part of a URL after /v1/files) and
 * the Range header parser. Whatever the input: no crash, and an accepted path obeys the
 * contract's rules, so the file system never sees "..", "/"-led, NUL, control bytes or
 * invalid UTF-8; parsing the accepted path again (as plain text) gives it back unchanged.
 * An accepted range lies inside the file. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "files/path.h"
#include "files/service.h"

static void check_path(const char *p) {
  size_t n = strlen(p);
  if (n > CP_FILES_PATH_MAX || p[0] == '/' || (n && p[n - 1] == '/') ||
      cp_utf8_valid_len(p, n) != n)
    abort();
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c < 0x20 || c == 0x7f)
      abort();
  }
  const char *seg = p;
  while (n && seg) {
    const char *slash = strchr(seg, '/');
    size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
    if (len == 0 || len > CP_FILES_NAME_MAX || (len == 1 && seg[0] == '.') ||
        (len == 2 && seg[0] == '.' && seg[1] == '.'))
      abort();
    seg = slash ? slash + 1 : NULL;
  }
  char again[CP_FILES_PATH_MAX + 1];
  if (cp_files_path_plain(p, again, sizeof again, NULL) != 0 || strcmp(again, p) != 0)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char out[CP_FILES_PATH_MAX + 1];
  bool trailing = false;
  const char *why = NULL;
  if (cp_files_path_parse((const char *)data, size, out, sizeof out, &trailing, &why) == 0)
    check_path(out);
  else if (!why)
    abort();
  char *s = malloc(size + 1);
  if (!s)
    return 0;
  memcpy(s, data, size);
  s[size] = '\0';
  if (cp_files_path_plain(s, out, sizeof out, &why) == 0)
    check_path(out);
  uint64_t start = 0, len = 0, fsize = size * 97u;
  if (cp_files_range_parse(s, fsize, &start, &len) == 0 &&
      (len == 0 || start >= fsize || len > fsize - start))
    abort();
  free(s);
  return 0;
}
