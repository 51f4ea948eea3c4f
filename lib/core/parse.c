/* strtol/strtod with errno and end-pointer checks; bounds checked after conversion. */
#include "core/parse.h"
#include "core/error.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* strtol and strtod skip leading blanks; a flag value must not start with one. */
static int starts_clean(const char *s) {
  return s && *s && !isspace((unsigned char)*s);
}

int cp_parse_long(const char *s, long lo, long hi, long *out) {
  if (!starts_clean(s))
    return CP_EINVAL;
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *end || v < lo || v > hi)
    return CP_EINVAL;
  *out = v;
  return 0;
}

int cp_parse_double(const char *s, double lo, double hi, double *out) {
  if (!starts_clean(s))
    return CP_EINVAL;
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || *end || isnan(v) || v < lo || v > hi)
    return CP_EINVAL;
  *out = v;
  return 0;
}

int cp_parse_bool(const char *s, int *out) {
  if (s && (!strcmp(s, "true") || !strcmp(s, "1")))
    *out = 1;
  else if (s && (!strcmp(s, "false") || !strcmp(s, "0")))
    *out = 0;
  else
    return CP_EINVAL;
  return 0;
}

int cp_parse_hostport(const char *s, char *host, size_t hostlen, int *port) {
  const char *colon = s ? strrchr(s, ':') : NULL;
  long p;
  if (!colon || cp_parse_long(colon + 1, 0, 65535, &p) != 0)
    return CP_EINVAL;
  const char *h = s;
  size_t n = (size_t)(colon - s);
  if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
    h++;
    n -= 2;
  } else if (memchr(h, ':', n)) {
    return CP_EINVAL; /* an IPv6 address needs brackets */
  }
  if (n == 0) {
    h = "0.0.0.0";
    n = 7;
  }
  if (n >= hostlen)
    return CP_EINVAL;
  memcpy(host, h, n);
  host[n] = '\0';
  *port = (int)p;
  return 0;
}

const char *cp_env_or(const char *name, const char *dflt) {
  const char *v = getenv(name);
  return v && *v ? v : dflt;
}

int cp_parse_hex_digit(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}
