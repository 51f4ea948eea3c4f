/* lib/api/route: a path and method find their route; a known path with another method
 * answers 405 with exactly the path's methods in Allow; TRACE and other methods no route
 * takes are refused, HEAD follows GET. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "api/route.h"
#include "core/error.h"

typedef struct {
  cp_api_route_t r;
  int id;
} entry_t;

static const entry_t table[] = {
    {{"GET", "/healthz"}, 1},
    {{"GET", "/api/v1/users"}, 2},
    {{"POST", "/api/v1/users"}, 3},
    {{"GET", "/api/v1/users/{user}"}, 4},
    {{"PUT", "/api/v1/users/me/password"}, 5},
    {{"GET", "/api/v1/users/{user}/runtime"}, 6},
    {{"PUT", "/api/v1/users/{user}/runtime"}, 7},
    {{"DELETE", "/api/v1/users/{user}/runtime"}, 8},
    {{"DELETE", "/api/v1/users/{user}/tokens/{id}"}, 9},
    {{"GET", "/internal/auth/forward"}, 10},
    {{"DELETE", "/api/v1/invitations/{id}"}, 11},
    {{"POST", "/api/v1/invitations/accept"}, 12},
};
#define N (sizeof table / sizeof *table)

static int find(const char *method, const char *path, cp_api_params_t *p, char *allow,
                size_t allowlen) {
  return cp_api_route_find(table, N, sizeof *table, method, path, p, allow, allowlen);
}

static void finds_routes_and_parameters(void **state) {
  (void)state;
  cp_api_params_t p;
  char allow[64] = "untouched";
  int i = find("DELETE", "/api/v1/users/alice/tokens/42", &p, allow, sizeof allow);
  assert_true(i >= 0);
  assert_int_equal(table[i].id, 9);
  assert_string_equal(p.user, "alice");
  assert_string_equal(p.item, "42");
  assert_string_equal(allow, "untouched");
  i = find("GET", "/api/v1/users/me", &p, allow, sizeof allow);
  assert_int_equal(table[i].id, 4);
  assert_string_equal(p.user, "me");
  assert_string_equal(p.item, "");
  /* a literal route listed before a pattern that also matches wins */
  i = find("PUT", "/api/v1/users/me/password", &p, allow, sizeof allow);
  assert_int_equal(table[i].id, 5);
  i = find("PUT", "/api/v1/users/bob/runtime", &p, allow, sizeof allow);
  assert_int_equal(table[i].id, 7);
  assert_string_equal(p.user, "bob");
}

static void head_follows_get(void **state) {
  (void)state;
  cp_api_params_t p;
  char allow[64];
  int i = find("HEAD", "/healthz", &p, allow, sizeof allow);
  assert_int_equal(table[i].id, 1);
  i = find("HEAD", "/api/v1/users/carol/runtime", &p, allow, sizeof allow);
  assert_int_equal(table[i].id, 6);
  assert_int_equal(find("HEAD", "/api/v1/users/me/password", &p, allow, sizeof allow), CP_EMETHOD);
  assert_string_equal(allow, "PUT");
}

static void unknown_paths_are_not_found(void **state) {
  (void)state;
  cp_api_params_t p = {.user = "x"};
  char allow[64] = "untouched";
  const char *paths[] = {
      "/",
      "",
      "/healthz/",
      "/healthzz",
      "/api/v1/users/alice/runtime/",
      "/api/v1/users//runtime",
      "/api/v1/users/a/b/runtime",
      "/api/v1/users/alice/tokens/",
      ("/api/v1/users/"
       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/runtime")};
  for (size_t k = 0; k < sizeof paths / sizeof *paths; k++)
    assert_int_equal(find("GET", paths[k], &p, allow, sizeof allow), CP_ENOTFOUND);
  assert_int_equal(find("TRACE", "/nowhere", &p, allow, sizeof allow), CP_ENOTFOUND);
  assert_string_equal(p.user, "x");
  assert_string_equal(allow, "untouched");
}

static void other_methods_get_405_with_allow(void **state) {
  (void)state;
  cp_api_params_t p;
  char allow[64];
  assert_int_equal(find("POST", "/healthz", &p, allow, sizeof allow), CP_EMETHOD);
  assert_string_equal(allow, "GET, HEAD");
  assert_int_equal(find("PATCH", "/api/v1/users/me/runtime", &p, allow, sizeof allow), CP_EMETHOD);
  assert_string_equal(allow, "GET, HEAD, PUT, DELETE");
  assert_int_equal(find("DELETE", "/api/v1/users", &p, allow, sizeof allow), CP_EMETHOD);
  assert_string_equal(allow, "GET, HEAD, POST");
  assert_int_equal(find("GET", "/api/v1/users/me/password", &p, allow, sizeof allow), CP_EMETHOD);
  assert_string_equal(allow, "PUT");
  const char *refused[] = {"TRACE", "OPTIONS", "CONNECT", "PATCH", "PROPFIND", "get", "", "GETX"};
  for (size_t k = 0; k < sizeof refused / sizeof *refused; k++) {
    assert_int_equal(find(refused[k], "/internal/auth/forward", &p, allow, sizeof allow),
                     CP_EMETHOD);
    assert_string_equal(allow, "GET, HEAD");
  }
}

/* A literal path wins over a pattern that would take it as a parameter: DELETE on
 * /api/v1/invitations/accept is 405 (not a revocation of the invitation "accept"), and its
 * Allow lists POST alone. */
static void the_most_specific_pattern_wins(void **state) {
  (void)state;
  cp_api_params_t p;
  char allow[64];
  int i = find("POST", "/api/v1/invitations/accept", &p, allow, sizeof allow);
  assert_true(i >= 0);
  assert_int_equal(table[i].id, 12);
  assert_int_equal(find("DELETE", "/api/v1/invitations/accept", &p, allow, sizeof allow),
                   CP_EMETHOD);
  assert_string_equal(allow, "POST");
  i = find("DELETE", "/api/v1/invitations/x1", &p, allow, sizeof allow);
  assert_true(i >= 0);
  assert_int_equal(table[i].id, 11);
  assert_string_equal(p.item, "x1");
}

static void allow_is_cut_at_a_whole_method(void **state) {
  (void)state;
  cp_api_params_t p;
  char allow[12];
  assert_int_equal(find("POST", "/api/v1/users/me/runtime", &p, allow, sizeof allow), CP_EMETHOD);
  assert_string_equal(allow, "GET, HEAD");
  char tiny[2] = "x";
  assert_int_equal(find("POST", "/healthz", &p, tiny, sizeof tiny), CP_EMETHOD);
  assert_string_equal(tiny, "");
}

/* A trailing {path} takes the rest of the path, slashes and all, or nothing. */
static void trailing_path_takes_the_rest(void **state) {
  (void)state;
  const char *pat = "/api/v1/users/{user}/files/{path}";
  cp_api_params_t p;
  assert_int_equal(cp_api_route_match(pat, "/api/v1/users/alice/files/a/b c/d.txt", &p), 1);
  assert_string_equal(p.user, "alice");
  assert_int_equal(cp_api_route_match(pat, "/api/v1/users/alice/files/", &p), 1);
  assert_int_equal(cp_api_route_match(pat, "/api/v1/users/alice/files", &p), 0);
  assert_int_equal(cp_api_route_match(pat, "/api/v1/users/alice/filesx/a", &p), 0);
  /* elsewhere it is a plain one-segment parameter */
  assert_int_equal(cp_api_route_match("/a/{path}/b", "/a/x/y/b", &p), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(finds_routes_and_parameters),
      cmocka_unit_test(head_follows_get),
      cmocka_unit_test(unknown_paths_are_not_found),
      cmocka_unit_test(other_methods_get_405_with_allow),
      cmocka_unit_test(the_most_specific_pattern_wins),
      cmocka_unit_test(allow_is_cut_at_a_whole_method),
      cmocka_unit_test(trailing_path_takes_the_rest),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
