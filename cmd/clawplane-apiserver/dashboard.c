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

#include "http/negotiate.h"

#include <stdio.h>
#include <string.h>

#define DASH_CSP                                                                                   \
  ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "               \
   "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")

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
  int gz = a->gz_len > 0 && cp_http_accepts_gzip(cp_http_header(c->req, "Accept-Encoding"));
  const char *extra[] = {"Cache-Control",    cache,  "ETag", a->etag, "Vary", "Accept-Encoding",
                         "Content-Encoding", "gzip", NULL,   NULL};
  if (!gz)
    extra[6] = NULL;
  if (cp_http_etag_match(cp_http_header(c->req, "If-None-Match"), a->etag)) {
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
