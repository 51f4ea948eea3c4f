/* Content coding, conditional requests and cross-site writes, as a server must read them:
 * gzip only when the client accepts it (q=0 refuses it, "*" stands in), a 304 only for a
 * tag the client holds, and a cookie-carrying write from another site told apart from a
 * same-origin page and from a script. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http/negotiate.h"

static void gzip_accepted(void **state) {
  (void)state;
  assert_true(cp_http_accepts_gzip("gzip"));
  assert_true(cp_http_accepts_gzip("gzip, deflate, br"));
  assert_true(cp_http_accepts_gzip("br;q=1.0, GZIP;q=0.5"));
  assert_true(cp_http_accepts_gzip("x-gzip"));
  assert_true(cp_http_accepts_gzip("*"));
  assert_true(cp_http_accepts_gzip("identity, *;q=0.1"));
  assert_true(cp_http_accepts_gzip("gzip;q=0.001"));
}

static void gzip_refused(void **state) {
  (void)state;
  assert_false(cp_http_accepts_gzip(NULL));
  assert_false(cp_http_accepts_gzip(""));
  assert_false(cp_http_accepts_gzip("identity"));
  assert_false(cp_http_accepts_gzip("br, deflate"));
  assert_false(cp_http_accepts_gzip("gzip;q=0"));
  assert_false(cp_http_accepts_gzip("gzip; q=0.000, br"));
  assert_false(cp_http_accepts_gzip("*;q=0"));
  assert_false(cp_http_accepts_gzip("gzip;q=0, *"));    /* the explicit entry wins */
  assert_false(cp_http_accepts_gzip("gzipped, xgzip")); /* whole tokens only */
}

static void etags(void **state) {
  (void)state;
  const char *tag = "\"abc123\"";
  assert_true(cp_http_etag_match("\"abc123\"", tag));
  assert_true(cp_http_etag_match("\"zzz\", W/\"abc123\"", tag));
  assert_true(cp_http_etag_match("*", tag));
  assert_false(cp_http_etag_match(NULL, tag));
  assert_false(cp_http_etag_match("\"abc1234\"", tag));
  assert_false(cp_http_etag_match("\"abc12\"", tag));
  assert_false(cp_http_etag_match("", tag));
}

static int cross(const char *method, const char *site, const char *origin, const char *auth) {
  cp_http_header_t h[4];
  size_t n = 0;
  h[n++] = (cp_http_header_t){"Host", "clawplane.example.com:8443"};
  if (site)
    h[n++] = (cp_http_header_t){"Sec-Fetch-Site", site};
  if (origin)
    h[n++] = (cp_http_header_t){"Origin", origin};
  if (auth)
    h[n++] = (cp_http_header_t){"Authorization", auth};
  cp_http_request_t req = {.method = method, .headers = h, .nheaders = n};
  return cp_http_cross_site(&req);
}

static void cross_site_writes(void **state) {
  (void)state;
  const char *self = "https://clawplane.example.com:8443";
  assert_false(cross("POST", "same-origin", self, NULL));
  assert_false(cross("DELETE", NULL, self, NULL)); /* no Sec-Fetch-Site: Origin decides */
  assert_false(cross("POST", NULL, NULL, NULL));   /* curl, clawctl */
  assert_false(cross("POST", "cross-site", NULL, "Bearer x")); /* a token is not ambient */
  assert_false(cross("GET", "cross-site", "https://evil.example", NULL)); /* reads pass */
  assert_true(cross("POST", "cross-site", NULL, NULL));
  assert_true(cross("PUT", "same-site", self, NULL)); /* another host of the same site */
  assert_true(cross("POST", NULL, "https://evil.example", NULL));
  assert_true(cross("POST", NULL, "https://clawplane.example.com", NULL)); /* other port */
  assert_true(cross("POST", NULL, "null", NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(gzip_accepted),
      cmocka_unit_test(gzip_refused),
      cmocka_unit_test(etags),
      cmocka_unit_test(cross_site_writes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
