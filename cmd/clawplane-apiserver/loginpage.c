/* /login: the small page ForwardAuth sends browsers to.
 *
 * A form that posts JSON to /api/v1/auth/login (which sets the session cookie) and then
 * returns to ?next=, but only to this origin, or over https to a host under
 * --runtime-host-suffix: anything else would make the page an open redirect. The script is
 * a separate static file so the Content-Security-Policy can forbid inline script; messages
 * are inserted as text, never as markup. The page is built once at start-up (the host
 * suffix is HTML-escaped into a data attribute).
 */
#include "api.h"

#include "core/buf.h"
#include "core/error.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char page_head[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    "<title>clawplane: log in</title><script src=\"/login.js\" defer></script></head>\n"
    "<body data-host-suffix=\"";

static const char page_tail[] =
    "\"><main><h1>clawplane</h1><form id=\"login\">"
    "<p><label>Username <input name=\"username\" autocomplete=\"username\" required "
    "maxlength=\"63\" autofocus></label></p>"
    "<p><label>Password <input name=\"password\" type=\"password\" "
    "autocomplete=\"current-password\" required></label></p>"
    "<p><button type=\"submit\">Log in</button></p><p id=\"msg\" role=\"status\"></p>"
    "</form></main></body></html>\n";

static const char script[] =
    "'use strict';\n"
    "function safeNext() {\n"
    "  const n = new URLSearchParams(location.search).get('next');\n"
    "  if (!n) return null;\n"
    "  try {\n"
    "    const u = new URL(n, location.origin);\n"
    "    if (u.origin === location.origin) return u.href;\n"
    "    const s = document.body.dataset.hostSuffix || '';\n"
    "    const user = u.hostname.slice(0, u.hostname.length - s.length);\n"
    "    if (s && u.protocol === 'https:' && u.hostname.endsWith(s) &&\n"
    "        /^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(user)) return u.href;\n"
    "  } catch (e) {}\n"
    "  return null;\n"
    "}\n"
    "document.addEventListener('DOMContentLoaded', () => {\n"
    "  const f = document.getElementById('login'), msg = document.getElementById('msg');\n"
    "  f.addEventListener('submit', async (ev) => {\n"
    "    ev.preventDefault();\n"
    "    msg.textContent = '';\n"
    "    const body = JSON.stringify({username: f.username.value, password: f.password.value});\n"
    "    try {\n"
    "      const r = await fetch('/api/v1/auth/login', {method: 'POST', body,\n"
    "        headers: {'Content-Type': 'application/json'}, credentials: 'same-origin'});\n"
    "      const j = await r.json();\n"
    "      if (!r.ok) { msg.textContent = (j.error && j.error.message) || 'login failed'; return; "
    "}\n"
    "      const next = safeNext();\n"
    "      if (next) location.assign(next);\n"
    "      else msg.textContent = 'Logged in as ' + j.user.username + '.';\n"
    "    } catch (e) { msg.textContent = 'the server could not be reached'; }\n"
    "  });\n"
    "});\n";

static char *page;
static size_t page_len;

int cp__api_login_page_init(const char *host_suffix) {
  cp_buf_t b;
  cp_buf_init(&b, 16384);
  int rc = cp_buf_puts(&b, page_head);
  for (const char *p = host_suffix ? host_suffix : ""; rc == 0 && *p; p++) {
    switch (*p) {
    case '&':
      rc = cp_buf_puts(&b, "&amp;");
      break;
    case '<':
      rc = cp_buf_puts(&b, "&lt;");
      break;
    case '>':
      rc = cp_buf_puts(&b, "&gt;");
      break;
    case '"':
      rc = cp_buf_puts(&b, "&quot;");
      break;
    case '\'':
      rc = cp_buf_puts(&b, "&#39;");
      break;
    default:
      rc = cp_buf_append(&b, p, 1);
    }
  }
  if (rc == 0)
    rc = cp_buf_puts(&b, page_tail);
  if (rc != 0) {
    cp_buf_free(&b);
    return rc;
  }
  page_len = b.len;
  page = cp_buf_steal(&b);
  return page ? 0 : CP_ENOMEM;
}

void cp__api_login_page_free(void) {
  free(page);
  page = NULL;
}

#define LOGIN_CSP                                                                                  \
  ("default-src 'none'; script-src 'self'; connect-src 'self'; form-action 'self'; "               \
   "frame-ancestors 'none'; base-uri 'none'") /* one value: clang's -Wstring-concatenation */

void cp__api_serve_page(api_ctx_t *c, int status, const char *type, const char *csp,
                        const char *const *extra, const char *body, size_t len) {
  static const char *const common[] = {
      "X-Frame-Options", "DENY",        "X-Content-Type-Options", "nosniff",
      "Referrer-Policy", "no-referrer", "Cache-Control",          "no-store"};
  const char *h[24];
  size_t n = 0;
  h[n++] = "Content-Type";
  h[n++] = type;
  h[n++] = "Content-Security-Policy";
  h[n++] = csp;
  int own_cache = 0; /* extra may set its own Cache-Control (the dashboard's assets do) */
  for (size_t i = 0; extra && extra[i] && extra[i + 1]; i += 2)
    own_cache |= !strcasecmp(extra[i], "Cache-Control");
  for (size_t i = 0; i < sizeof common / sizeof *common; i += 2) {
    if (own_cache && !strcmp(common[i], "Cache-Control"))
      continue;
    h[n++] = common[i];
    h[n++] = common[i + 1];
  }
  for (size_t i = 0; extra && extra[i] && extra[i + 1] && n + 2 < sizeof h / sizeof *h; i += 2) {
    h[n++] = extra[i];
    h[n++] = extra[i + 1];
  }
  h[n] = NULL;
  cp_http_request_t *req = c->req;
  if (req) {
    cp_http_request_set_on_abort(req, NULL, NULL);
    c->req = NULL;
    if (cp_http_respond_headers(req, status, h, body, len) != 0)
      cp_http_abort(req);
  }
  cp__api_ctx_free(c);
}

void cp__api_login_page(api_ctx_t *c) {
  if (!page) {
    cp__api_fail(c, 500, "login page not available");
    cp__api_finish(c);
    return;
  }
  cp__api_serve_page(c, 200, "text/html; charset=utf-8", LOGIN_CSP, NULL, page, page_len);
}

void cp__api_login_script(api_ctx_t *c) {
  cp__api_serve_page(c, 200, "text/javascript; charset=utf-8", LOGIN_CSP, NULL, script,
                     sizeof script - 1);
}
