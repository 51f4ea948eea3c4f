/* The web dashboard: index.html at / and its content-hashed assets under /assets/.
 *
 * Everything is compiled in (cmake/embed_web.py from web/): a table of paths, types,
 * ETags, the bytes and their gzip. The page is one HTML document whose scripts and styles
 * are separate files, so the Content-Security-Policy forbids inline script and style.
 * index.html is revalidated on every load (no-cache with an ETag: a 304 costs a round
 * trip and no body) while assets, whose names change with their content, are cached for a
 * year as immutable. Gzip goes out when Accept-Encoding allows it, with Vary either way
 * so a shared cache keeps the two apart. The page itself is public; it asks the API who
 * is signed in and sends people to /login when nobody is, and the API refuses what the
 * caller may not see whatever the page shows.
 */
#include "api.h"
#include "dashboard.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define DASH_CSP                                                                                   \
  ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "               \
   "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")

/* Whether an Accept-Encoding value accepts gzip: a "gzip" (or "x-gzip") or "*" coding
 * whose q is not zero; an explicit gzip entry wins over "*". */
static int accepts_gzip(const char *v) {
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
      if (*p == ';') {
        p++;
        while (*p == ' ' || *p == '\t')
          p++;
        if ((*p == 'q' || *p == 'Q') && p[1] == '=') {
          const char *q = p + 2;
          zero = q[0] == '0' && (q[1] == '\0' || q[1] == ',' || q[1] == ' ' || q[1] == ';' ||
                                 (q[1] == '.' && strspn(q + 2, "0") == strcspn(q + 2, ", ;")));
        }
        continue;
      }
      p++;
    }
    if ((n == 4 && !strncasecmp(tok, "gzip", 4)) || (n == 6 && !strncasecmp(tok, "x-gzip", 6)))
      return !zero;
    if (n == 1 && *tok == '*')
      star = zero ? -1 : 1;
  }
  return star == 1;
}

/* Whether an If-None-Match value names etag (or is "*"). */
static int etag_matches(const char *inm, const char *etag) {
  if (!inm)
    return 0;
  size_t n = strlen(etag);
  for (const char *p = inm; *p;) {
    while (*p == ' ' || *p == '\t' || *p == ',')
      p++;
    if (*p == '*')
      return 1;
    if (!strncmp(p, "W/", 2))
      p += 2;
    if (!strncmp(p, etag, n) && (p[n] == '\0' || p[n] == ',' || p[n] == ' '))
      return 1;
    while (*p && *p != ',')
      p++;
  }
  return 0;
}

static void serve(api_ctx_t *c, const char *path) {
  const cp_dash_asset_t *a = cp__dash_assets;
  while (a->path && strcmp(a->path, path) != 0)
    a++;
  if (!a->path || !c->req) {
    cp__api_fail(c, 404, "no such file: %s", path);
    cp__api_finish(c);
    return;
  }
  int index = !strcmp(path, "/");
  const char *cache = index ? "no-cache" : "public, max-age=31536000, immutable";
  int gz = a->gz_len > 0 && accepts_gzip(cp_http_header(c->req, "Accept-Encoding"));
  const char *extra[] = {"Cache-Control",    cache,  "ETag", a->etag, "Vary", "Accept-Encoding",
                         "Content-Encoding", "gzip", NULL,   NULL};
  if (!gz)
    extra[6] = NULL;
  if (etag_matches(cp_http_header(c->req, "If-None-Match"), a->etag)) {
    extra[6] = NULL;
    cp__api_serve_page(c, 304, a->type, DASH_CSP, extra, "", 0);
    return;
  }
  cp__api_serve_page(c, 200, a->type, DASH_CSP, extra, gz ? a->gz : a->data,
                     gz ? a->gz_len : a->len);
}

void cp__api_dashboard_page(api_ctx_t *c) {
  serve(c, "/");
}

void cp__api_dashboard_asset(api_ctx_t *c) {
  char path[API_NAME_MAX + 16];
  snprintf(path, sizeof path, "/assets/%s", c->item);
  serve(c, path);
}
