/* X-Forwarded-For: the client is the right-most entry that is not a trusted proxy, never
 * what the client itself wrote to the left of it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/error.h"
#include "http/forwarded.h"

/* xff(lines, n, trusted list): runs cp_http_forwarded_for on a request with those
 * X-Forwarded-For lines (and an unrelated header first); returns its result in out. */
static int xff(const char *const *lines, size_t n, const char *trusted, char *out, size_t outlen) {
  cp_http_header_t h[8] = {{"Host", "api.example.com"}};
  for (size_t i = 0; i < n; i++) {
    h[i + 1].name = i % 2 ? "x-forwarded-for" : "X-Forwarded-For";
    h[i + 1].value = lines[i];
  }
  cp_http_request_t req = {.method = "POST", .headers = h, .nheaders = n + 1};
  cp_http_cidr_t t[8];
  size_t nt = 0;
  assert_int_equal(cp_http_cidr_parse_list(trusted, t, 8, &nt), 0);
  return cp_http_forwarded_for(&req, t, nt, out, outlen);
}

#define ONE(v) ((const char *const[]){v}), 1

static void right_most_entry_is_the_client(void **state) {
  (void)state;
  char out[64];
  /* the client forged the first entry; the proxy appended the real address */
  assert_int_equal(xff(ONE("6.6.6.6, 198.51.100.7"), "", out, sizeof out), 0);
  assert_string_equal(out, "198.51.100.7");
  assert_int_equal(xff(ONE("198.51.100.7"), "", out, sizeof out), 0);
  assert_string_equal(out, "198.51.100.7");
  assert_int_equal(xff(ONE(" 1.1.1.1 ,2001:DB8::1 "), "", out, sizeof out), 0);
  assert_string_equal(out, "2001:db8::1"); /* canonical form */
  /* a forged second header line before the proxy's own: lines are one list */
  const char *two[] = {"6.6.6.6", "5.5.5.5, 203.0.113.9"};
  assert_int_equal(xff(two, 2, "", out, sizeof out), 0);
  assert_string_equal(out, "203.0.113.9");
  /* ports and brackets as some proxies write them */
  assert_int_equal(xff(ONE("[2001:db8::2]:4711"), "", out, sizeof out), 0);
  assert_string_equal(out, "2001:db8::2");
  assert_int_equal(xff(ONE("192.0.2.1:8080"), "", out, sizeof out), 0);
  assert_string_equal(out, "192.0.2.1");
}

static void trusted_proxies_are_skipped(void **state) {
  (void)state;
  char out[64];
  const char *chain = "6.6.6.6, 198.51.100.7, 10.0.3.4, 10.0.0.9";
  assert_int_equal(xff(ONE(chain), "10.0.0.0/8", out, sizeof out), 0);
  assert_string_equal(out, "198.51.100.7");
  assert_int_equal(xff(ONE(chain), "10.0.0.9, 10.0.3.0/24", out, sizeof out), 0);
  assert_string_equal(out, "198.51.100.7");
  assert_int_equal(xff(ONE(chain), "10.0.0.9", out, sizeof out), 0);
  assert_string_equal(out, "10.0.3.4");
  const char *v6[] = {"2001:db8::1, fd00::5"};
  assert_int_equal(xff(v6, 1, "fd00::/8", out, sizeof out), 0);
  assert_string_equal(out, "2001:db8::1");
  /* an IPv4 range never matches an IPv6 entry and the reverse */
  assert_int_equal(xff(v6, 1, "0.0.0.0/0", out, sizeof out), 0);
  assert_string_equal(out, "fd00::5");
  /* all trusted: the left-most (the request came from inside) */
  assert_int_equal(xff(ONE("10.1.1.1, 10.0.0.9"), "10.0.0.0/8", out, sizeof out), 0);
  assert_string_equal(out, "10.1.1.1");
}

static void garbage_is_never_an_address(void **state) {
  (void)state;
  char out[64] = "untouched";
  assert_int_equal(xff(NULL, 0, "", out, sizeof out), CP_ENOTFOUND);
  assert_int_equal(xff(ONE(""), "", out, sizeof out), CP_ENOTFOUND);
  assert_int_equal(xff(ONE(" , "), "", out, sizeof out), CP_ENOTFOUND);
  assert_int_equal(xff(ONE("1.2.3.4, caf\xc3\xa9"), "", out, sizeof out), CP_ENOTFOUND);
  assert_int_equal(xff(ONE("1.2.3.4, unknown"), "", out, sizeof out), CP_ENOTFOUND);
  assert_int_equal(xff(ONE("1.2.3.4, 999.1.1.1"), "", out, sizeof out), CP_ENOTFOUND);
  assert_int_equal(xff(ONE("x, 10.0.0.9"), "10.0.0.0/8", out, sizeof out), CP_ENOTFOUND);
  assert_string_equal(out, "untouched");
  char small[8];
  assert_int_equal(xff(ONE("198.51.100.7"), "", small, sizeof small), CP_ETOOBIG);
}

static void cidr_lists(void **state) {
  (void)state;
  cp_http_cidr_t t[2];
  size_t n = 99;
  assert_int_equal(cp_http_cidr_parse_list("", t, 2, &n), 0);
  assert_int_equal(n, 0);
  assert_int_equal(cp_http_cidr_parse_list("10.0.0.0/8, ::1", t, 2, &n), 0);
  assert_int_equal(n, 2);
  assert_int_equal(t[0].bits, 8);
  assert_int_equal(t[1].bits, 128);
  n = 99;
  assert_int_equal(cp_http_cidr_parse_list("10.0.0.0/33", t, 2, &n), CP_EINVAL);
  assert_int_equal(cp_http_cidr_parse_list("10.0.0.0/", t, 2, &n), CP_EINVAL);
  assert_int_equal(cp_http_cidr_parse_list("fd00::/129", t, 2, &n), CP_EINVAL);
  assert_int_equal(cp_http_cidr_parse_list("example.com", t, 2, &n), CP_EINVAL);
  assert_int_equal(cp_http_cidr_parse_list("10.0.0.1,,10.0.0.2", t, 2, &n), CP_EINVAL);
  assert_int_equal(n, 99);
  assert_int_equal(cp_http_cidr_parse_list("1.1.1.1,2.2.2.2,3.3.3.3", t, 2, &n), CP_ETOOBIG);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(right_most_entry_is_the_client),
      cmocka_unit_test(trusted_proxies_are_skipped),
      cmocka_unit_test(garbage_is_never_an_address),
      cmocka_unit_test(cidr_lists),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
