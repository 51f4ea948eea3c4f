/* Header negotiation helpers (see negotiate.h). Values are parsed in place as lists of
 * comma-separated elements with optional ";param" parts; anything malformed simply does
 * not match, so the server falls back to the plain answer. */
#include "http/negotiate.h"

#include <string.h>
#include <strings.h>

/* Whether the q parameter starting at q ("q=...") is zero: "0", "0.", "0.000". */
static int q_is_zero(const char *q) {
  if (q[0] != '0')
    return 0;
  q++;
  if (*q == '.')
    q += 1 + strspn(q + 1, "0");
  return *q == '\0' || *q == ',' || *q == ';' || *q == ' ' || *q == '\t';
}

int cp_http_accepts_gzip(const char *v) {
  int star = 0;
  for (const char *p = v; p && *p;) {
    while (*p == ' ' || *p == '\t' || *p == ',')
      p++;
    const char *tok = p;
    while (*p && *p != ',' && *p != ';' && *p != ' ' && *p != '\t')
      p++;
    size_t n = (size_t)(p - tok);
    int zero = 0;
    while (*p && *p != ',') { /* parameters: only q matters */
      if (*p++ != ';')
        continue;
      while (*p == ' ' || *p == '\t')
        p++;
      if ((*p == 'q' || *p == 'Q') && p[1] == '=')
        zero = q_is_zero(p + 2);
    }
    if ((n == 4 && !strncasecmp(tok, "gzip", 4)) || (n == 6 && !strncasecmp(tok, "x-gzip", 6)))
      return !zero;
    if (n == 1 && *tok == '*')
      star = zero ? -1 : 1;
  }
  return star == 1;
}

int cp_http_etag_match(const char *inm, const char *etag) {
  if (!inm || !etag)
    return 0;
  size_t n = strlen(etag);
  for (const char *p = inm; *p;) {
    while (*p == ' ' || *p == '\t' || *p == ',')
      p++;
    if (*p == '*')
      return 1;
    if (!strncmp(p, "W/", 2))
      p += 2;
    if (n && !strncmp(p, etag, n) && (p[n] == '\0' || p[n] == ',' || p[n] == ' ' || p[n] == '\t'))
      return 1;
    while (*p && *p != ',')
      p++;
  }
  return 0;
}

int cp_http_cross_site(const cp_http_request_t *req) {
  if (!strcmp(req->method, "GET") || !strcmp(req->method, "HEAD") ||
      cp_http_header(req, "Authorization"))
    return 0;
  const char *site = cp_http_header(req, "Sec-Fetch-Site");
  if (site)
    return strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0;
  const char *origin = cp_http_header(req, "Origin"), *host = cp_http_header(req, "Host");
  if (!origin)
    return 0;
  const char *o = strstr(origin, "://");
  return !host || !o || strcasecmp(o + 3, host) != 0;
}
