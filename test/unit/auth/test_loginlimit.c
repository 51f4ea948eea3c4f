/* Login limits: a guesser at one address is slowed and stays slowed, the owner at hers
 * still logs in, and many addresses together still hit a per-user ceiling. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>

#include "auth/loginlimit.h"
#include "core/error.h"

static void guesser_cannot_lock_out_the_owner(void **state) {
  (void)state;
  cp_login_limit_t l;
  cp_login_limit_init(&l, 30, 5, 60);
  long ra = 0;
  double t = 1000;
  for (int i = 0; i < 5; i++)
    assert_int_equal(cp_login_limit_take(&l, "alice", "198.51.100.7", t, &ra), 0);
  /* client A keeps guessing: refused, for the whole minute, with a Retry-After */
  for (int i = 0; i < 100; i++) {
    ra = 0;
    assert_int_equal(cp_login_limit_take(&l, "alice", "198.51.100.7", t + i * 0.1, &ra),
                     CP_ETHROTTLED);
    assert_true(ra >= 1 && ra <= 12);
  }
  /* the owner from client B logs in at once, several times */
  for (int i = 0; i < 5; i++)
    assert_int_equal(cp_login_limit_take(&l, "alice", "203.0.113.9", t + 11, &ra), 0);
  /* client A is still limited against alice, and its 105 attempts used up its per-client
   * allowance too, so it cannot turn to bob either */
  assert_int_equal(cp_login_limit_take(&l, "alice", "198.51.100.7", t + 11, &ra), CP_ETHROTTLED);
  assert_int_equal(cp_login_limit_take(&l, "bob", "198.51.100.7", t + 11, &ra), CP_ETHROTTLED);
  assert_int_equal(cp_login_limit_take(&l, "bob", "203.0.113.9", t + 11, &ra), 0);
  /* a minute after it stopped, client A has its allowance back */
  assert_int_equal(cp_login_limit_take(&l, "alice", "198.51.100.7", t + 80, &ra), 0);
  cp_login_limit_free(&l);
}

static void many_addresses_hit_the_user_ceiling(void **state) {
  (void)state;
  cp_login_limit_t l;
  cp_login_limit_init(&l, 30, 5, 60);
  long ra = 0;
  int allowed = 0;
  char addr[32];
  for (int a = 0; a < 40; a++) {
    snprintf(addr, sizeof addr, "192.0.2.%d", a);
    for (int i = 0; i < 5; i++)
      allowed += cp_login_limit_take(&l, "alice", addr, 2000, &ra) == 0;
  }
  assert_int_equal(allowed, 60); /* 200 tries from 40 addresses, 60 let through */
  assert_int_equal(cp_login_limit_take(&l, "alice", "192.0.2.200", 2000, &ra), CP_ETHROTTLED);
  assert_true(ra >= 1);
  /* the per-client bucket still stops spraying many users from one address */
  allowed = 0;
  for (int u = 0; u < 40; u++) {
    snprintf(addr, sizeof addr, "user%d", u);
    allowed += cp_login_limit_take(&l, addr, "198.51.100.1", 3000, &ra) == 0;
  }
  assert_int_equal(allowed, 30);
  cp_login_limit_free(&l);
  cp_login_limit_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(guesser_cannot_lock_out_the_owner),
      cmocka_unit_test(many_addresses_hit_the_user_ceiling),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
