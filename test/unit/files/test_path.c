/* File service paths and ranges: what a client's URL turns into, and which URLs are
 * refused with which message (the 400 a user reads). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <string.h>

#include "core/error.h"
#include "files/path.h"
#include "files/service.h"

static void accepts(const char *raw, const char *want, bool want_trailing) {
  char out[CP_FILES_PATH_MAX + 1];
  bool trailing = !want_trailing;
  const char *why = NULL;
  int rc = cp_files_path_parse(raw, strlen(raw), out, sizeof out, &trailing, &why);
  if (rc != 0)
    fail_msg("%s refused: %s", raw, why);
  assert_string_equal(out, want);
  assert_int_equal(trailing, want_trailing);
}

static void refuses(const char *raw, const char *want_why) {
  char out[CP_FILES_PATH_MAX + 1] = "untouched";
  const char *why = NULL;
  assert_int_equal(cp_files_path_parse(raw, strlen(raw), out, sizeof out, NULL, &why), CP_EINVAL);
  assert_non_null(why);
  if (!strstr(why, want_why))
    fail_msg("%s: got \"%s\", want \"%s\"", raw, why, want_why);
  assert_string_equal(out, "untouched");
}

static void valid_paths(void **state) {
  (void)state;
  accepts("", "", false);
  accepts("/", "", true);
  accepts("/a/b.txt", "a/b.txt", false);
  accepts("/dir/", "dir", true);
  accepts("/a%20b/c", "a b/c", false);
  accepts("/caf%C3%A9/%E2%82%AC", "caf\xc3\xa9/\xe2\x82\xac", false);
  accepts("/.hidden/..x/x..", ".hidden/..x/x..", false);
  accepts("/100%25", "100%", false);
  char seg[300] = "/";
  memset(seg + 1, 'n', 255);
  seg[256] = '\0';
  accepts(seg, seg + 1, false); /* 255 bytes: the longest name */
}

static void refused_paths(void **state) {
  (void)state;
  refuses("/..", "\"..\"");
  refuses("/a/../b", "\"..\"");
  refuses("/a/.", "\"..\"");
  refuses("/%2e%2e/etc", "\"..\"");
  refuses("/%2E%2e", "\"..\"");
  refuses("//", "empty path segment");
  refuses("/a//b", "empty path segment");
  refuses("/a%2Fb", "%2F");
  refuses("/a%2f..", "%2F");
  refuses("/a%00b", "NUL");
  refuses("/a%0Ab", "control character");
  refuses("/a%7f", "control character");
  refuses("/a\tb", "control character");
  refuses("/a%ff", "not valid UTF-8");
  refuses("/a%C0%AF", "not valid UTF-8");    /* overlong "/" */
  refuses("/a%ED%A0%80", "not valid UTF-8"); /* surrogate */
  refuses("/%zz", "invalid percent-encoding");
  refuses("/a%2", "invalid percent-encoding");
  refuses("/a%", "invalid percent-encoding");
  refuses("a/b", "must start with");
  char seg[300] = "/";
  memset(seg + 1, 'n', 256);
  seg[257] = '\0';
  refuses(seg, "longer than 255");
  char longp[5000];
  size_t o = 0;
  while (o + 101 < sizeof longp - 1) {
    longp[o++] = '/';
    memset(longp + o, 'p', 100);
    o += 100;
  }
  longp[o] = '\0';
  refuses(longp, "longer than 4096");
}

static void plain_paths_from_bodies(void **state) {
  (void)state;
  char out[CP_FILES_PATH_MAX + 1];
  const char *why = NULL;
  assert_int_equal(cp_files_path_plain("new/place.txt", out, sizeof out, &why), 0);
  assert_string_equal(out, "new/place.txt");
  assert_int_equal(cp_files_path_plain("/lead/and/trail/", out, sizeof out, &why), 0);
  assert_string_equal(out, "lead/and/trail");
  assert_int_equal(cp_files_path_plain("100%20", out, sizeof out, &why), 0);
  assert_string_equal(out, "100%20"); /* not decoded */
  assert_int_equal(cp_files_path_plain("../escape", out, sizeof out, &why), CP_EINVAL);
  assert_int_equal(cp_files_path_plain("a\x01", out, sizeof out, &why), CP_EINVAL);
  assert_string_equal(cp_files_path_base("a/b/c.txt"), "c.txt");
  assert_string_equal(cp_files_path_base("top"), "top");
  assert_string_equal(cp_files_path_base(""), "");
}

static void ranges(void **state) {
  (void)state;
  uint64_t s = 0, n = 0;
  assert_int_equal(cp_files_range_parse("bytes=0-99", 1000, &s, &n), 0);
  assert_true(s == 0 && n == 100);
  assert_int_equal(cp_files_range_parse("bytes=990-2000", 1000, &s, &n), 0);
  assert_true(s == 990 && n == 10); /* the end is clamped */
  assert_int_equal(cp_files_range_parse("bytes=10-", 1000, &s, &n), 0);
  assert_true(s == 10 && n == 990);
  assert_int_equal(cp_files_range_parse("bytes=-5", 1000, &s, &n), 0);
  assert_true(s == 995 && n == 5);
  assert_int_equal(cp_files_range_parse("bytes=-5000", 1000, &s, &n), 0);
  assert_true(s == 0 && n == 1000);
  assert_int_equal(cp_files_range_parse("bytes=1000-", 1000, &s, &n), CP_EINVAL);
  assert_int_equal(cp_files_range_parse("bytes=-0", 1000, &s, &n), CP_EINVAL);
  assert_int_equal(cp_files_range_parse("bytes=0-0", 0, &s, &n), CP_EINVAL);
  assert_int_equal(cp_files_range_parse(NULL, 1000, &s, &n), CP_ENOTFOUND);
  assert_int_equal(cp_files_range_parse("bytes=5-1", 1000, &s, &n), CP_ENOTFOUND);
  assert_int_equal(cp_files_range_parse("bytes=0-1,5-6", 1000, &s, &n), CP_ENOTFOUND);
  assert_int_equal(cp_files_range_parse("items=0-1", 1000, &s, &n), CP_ENOTFOUND);
  assert_int_equal(cp_files_range_parse("bytes=x-1", 1000, &s, &n), CP_ENOTFOUND);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(valid_paths),
      cmocka_unit_test(refused_paths),
      cmocka_unit_test(plain_paths_from_bodies),
      cmocka_unit_test(ranges),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
