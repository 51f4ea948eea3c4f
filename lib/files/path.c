/* Request path parsing for the file service: decode, then check segment by segment.
 *
 * One pass over the input: each segment is decoded into the output, then checked as a
 * whole (length, ".", ".."), so a rule never sees a half-decoded name. UTF-8 validity is
 * checked on the decoded bytes, which is what reaches the file system. */
#include "files/path.h"

#include "core/error.h"
#include "core/parse.h"
#include "core/utf8.h"

#include <string.h>

/* Checks the segment seg[0..n) just written; returns NULL or why it is refused. */
static const char *check_segment(const char *seg, size_t n) {
  if (n == 0)
    return "empty path segment (\"//\")";
  if (n > CP_FILES_NAME_MAX)
    return "path segment longer than 255 bytes";
  if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
    return "\".\" and \"..\" are not allowed in paths";
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)seg[i];
    if (ch == 0)
      return "NUL byte in path";
    if (ch < 0x20 || ch == 0x7f)
      return "control character in path";
  }
  if (cp_utf8_valid_len(seg, n) != n)
    return "path is not valid UTF-8";
  return NULL;
}

/* The shared walk: decode percent escapes when pct, else take bytes as they are. */
static int parse(const char *raw, size_t len, bool pct, char *out, size_t outlen, bool *trailing,
                 const char **why) {
  const char *w = NULL;
  if (!raw || !out || outlen < CP_FILES_PATH_MAX + 1) {
    if (why)
      *why = "internal: bad arguments";
    return CP_EINVAL;
  }
  char tmp[CP_FILES_PATH_MAX + 1];
  size_t o = 0, i = 0;
  bool slash_end = len > 0 && raw[len - 1] == '/';
  if (pct && len > 0 && raw[0] != '/') {
    w = "path must start with \"/\"";
    goto fail;
  }
  if (i < len && raw[i] == '/')
    i++;
  while (i < len) {
    size_t seg = o;
    while (i < len && raw[i] != '/') {
      unsigned char ch = (unsigned char)raw[i];
      if (pct && ch == '%') {
        int hi = i + 2 < len ? cp_parse_hex_digit(raw[i + 1]) : -1;
        int lo = i + 2 < len ? cp_parse_hex_digit(raw[i + 2]) : -1;
        if (hi < 0 || lo < 0) {
          w = "invalid percent-encoding in path";
          goto fail;
        }
        ch = (unsigned char)(hi * 16 + lo);
        if (ch == '/') {
          w = "encoded \"/\" (%2F) inside a path segment";
          goto fail;
        }
        i += 3;
      } else {
        i++;
      }
      if (o >= CP_FILES_PATH_MAX) {
        w = "path longer than 4096 bytes";
        goto fail;
      }
      tmp[o++] = (char)ch;
    }
    if ((w = check_segment(tmp + seg, o - seg)) != NULL)
      goto fail;
    if (i < len) { /* at a "/" */
      i++;
      if (i < len) {
        if (o >= CP_FILES_PATH_MAX) {
          w = "path longer than 4096 bytes";
          goto fail;
        }
        tmp[o++] = '/';
      }
    }
  }
  tmp[o] = '\0';
  memcpy(out, tmp, o + 1);
  if (trailing)
    *trailing = slash_end;
  return 0;
fail:
  if (why)
    *why = w;
  return CP_EINVAL;
}

int cp_files_path_parse(const char *raw, size_t len, char *out, size_t outlen, bool *trailing_slash,
                        const char **why) {
  return parse(raw, len, true, out, outlen, trailing_slash, why);
}

int cp_files_path_plain(const char *text, char *out, size_t outlen, const char **why) {
  if (!text) {
    if (why)
      *why = "missing path";
    return CP_EINVAL;
  }
  return parse(text, strlen(text), false, out, outlen, NULL, why);
}

const char *cp_files_path_base(const char *path) {
  const char *s = path ? strrchr(path, '/') : NULL;
  return s ? s + 1 : path ? path : "";
}
