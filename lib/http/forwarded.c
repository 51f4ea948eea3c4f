/* X-Forwarded-For read from the right, with inet_pton/inet_ntop doing all address syntax.
 *
 * The header lines are walked last to first and each one right to left; an entry is cut
 * out, trimmed, stripped of brackets and a port, and parsed. Nothing is copied out until
 * the answer is known, so a failure leaves out untouched.
 */
#include "http/forwarded.h"

#include "core/error.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

typedef struct addr_s {
  int family;
  unsigned char b[16];
} addr_t;

static int all_digits(const char *s, size_t n, size_t max) {
  if (n == 0 || n > max)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9')
      return 0;
  return 1;
}

/* Parses a bare address of n bytes (no brackets, no port). */
static int parse_bare(const char *s, size_t n, addr_t *a) {
  char buf[INET6_ADDRSTRLEN];
  if (n == 0 || n >= sizeof buf)
    return CP_EINVAL;
  memcpy(buf, s, n);
  buf[n] = '\0';
  if (inet_pton(AF_INET, buf, a->b) == 1) {
    a->family = AF_INET;
    return 0;
  }
  if (inet_pton(AF_INET6, buf, a->b) == 1) {
    a->family = AF_INET6;
    return 0;
  }
  return CP_EINVAL;
}

/* Parses one X-Forwarded-For entry: "v4", "v6", "[v6]", "[v6]:port" or "v4:port". */
static int parse_entry(const char *s, size_t n, addr_t *a) {
  if (n > 0 && s[0] == '[') {
    const char *close = memchr(s, ']', n);
    if (!close)
      return CP_EINVAL;
    size_t rest = n - (size_t)(close + 1 - s);
    if (rest && (close[1] != ':' || !all_digits(close + 2, rest - 1, 5)))
      return CP_EINVAL;
    int rc = parse_bare(s + 1, (size_t)(close - s - 1), a);
    return rc == 0 && a->family == AF_INET6 ? 0 : CP_EINVAL;
  }
  const char *colon = memchr(s, ':', n);
  if (colon && !memchr(colon + 1, ':', n - (size_t)(colon + 1 - s))) { /* one colon: v4:port */
    if (!all_digits(colon + 1, n - (size_t)(colon + 1 - s), 5))
      return CP_EINVAL;
    int rc = parse_bare(s, (size_t)(colon - s), a);
    return rc == 0 && a->family == AF_INET ? 0 : CP_EINVAL;
  }
  return parse_bare(s, n, a);
}

static int in_range(const addr_t *a, const cp_http_cidr_t *c) {
  if (a->family != c->family)
    return 0;
  unsigned full = c->bits / 8, rem = c->bits % 8;
  if (memcmp(a->b, c->addr, full) != 0)
    return 0;
  unsigned char mask = (unsigned char)(0xFF << (8 - rem));
  return rem == 0 || (a->b[full] & mask) == (c->addr[full] & mask);
}

static int trusted_addr(const addr_t *a, const cp_http_cidr_t *t, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (in_range(a, &t[i]))
      return 1;
  return 0;
}

/* The bounds of the next list element left of *end in [s, *end): trims blanks; moves
 * *end to the comma before it (or to s). */
static void prev_element(const char *s, const char **end, const char **b, const char **e) {
  const char *p = *end;
  while (p > s && p[-1] != ',')
    p--;
  *b = p;
  *e = *end;
  while (*b < *e && (**b == ' ' || **b == '\t'))
    (*b)++;
  while (*e > *b && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
    (*e)--;
  *end = p > s ? p - 1 : s;
}

static int print_addr(const addr_t *a, char *out, size_t outlen) {
  char buf[INET6_ADDRSTRLEN];
  if (!inet_ntop(a->family, a->b, buf, sizeof buf))
    return CP_EINVAL;
  size_t n = strlen(buf);
  if (n >= outlen)
    return CP_ETOOBIG;
  memcpy(out, buf, n + 1);
  return 0;
}

int cp_http_forwarded_for(const cp_http_request_t *req, const cp_http_cidr_t *trusted,
                          size_t ntrusted, char *out, size_t outlen) {
  addr_t left = {0}; /* the left-most trusted entry so far */
  for (size_t i = req ? req->nheaders : 0; i-- > 0;) {
    const cp_http_header_t *h = &req->headers[i];
    if (!h->name || !h->value || strcasecmp(h->name, "X-Forwarded-For") != 0)
      continue;
    const char *s = h->value, *end = s + strlen(s);
    while (end > s) {
      const char *b, *e;
      prev_element(s, &end, &b, &e);
      if (b == e)
        continue; /* an empty element of the list */
      addr_t a;
      if (parse_entry(b, (size_t)(e - b), &a) != 0)
        return CP_ENOTFOUND;
      if (!trusted_addr(&a, trusted, ntrusted))
        return print_addr(&a, out, outlen);
      left = a;
    }
  }
  return left.family ? print_addr(&left, out, outlen) : CP_ENOTFOUND;
}

/* Parses "addr" or "addr/bits" of n bytes. */
static int parse_cidr(const char *s, size_t n, cp_http_cidr_t *c) {
  const char *slash = memchr(s, '/', n);
  size_t alen = slash ? (size_t)(slash - s) : n;
  addr_t a;
  if (parse_bare(s, alen, &a) != 0)
    return CP_EINVAL;
  unsigned max = a.family == AF_INET ? 32 : 128, bits = max;
  if (slash) {
    size_t blen = n - alen - 1;
    if (!all_digits(slash + 1, blen, 3))
      return CP_EINVAL;
    bits = 0;
    for (size_t i = 0; i < blen; i++)
      bits = bits * 10 + (unsigned)(slash[1 + i] - '0');
    if (bits > max)
      return CP_EINVAL;
  }
  c->family = a.family;
  memcpy(c->addr, a.b, sizeof c->addr);
  c->bits = bits;
  return 0;
}

int cp_http_cidr_parse_list(const char *s, cp_http_cidr_t *out, size_t max, size_t *n) {
  size_t k = 0;
  const char *p = s ? s : "";
  while (*p == ' ' || *p == '\t')
    p++;
  if (!*p) {
    *n = 0;
    return 0;
  }
  while (1) {
    size_t len = strcspn(p, ",");
    const char *b = p, *e = p + len;
    while (b < e && (*b == ' ' || *b == '\t'))
      b++;
    while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
      e--;
    if (k == max)
      return CP_ETOOBIG;
    if (parse_cidr(b, (size_t)(e - b), &out[k]) != 0)
      return CP_EINVAL;
    k++;
    if (!p[len])
      break;
    p += len + 1;
  }
  *n = k;
  return 0;
}
