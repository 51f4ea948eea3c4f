/* lib/pg without a server: SQLSTATE mapping, migration list checks, URL redaction, URL
 * parsing, and fast CP_EUNAVAILABLE (with backoff) when nothing listens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/error.h"
#include "core/time.h"
#include "pg/pg.h"

static void sqlstates_map_to_codes(void **state) {
  (void)state;
  assert_int_equal(cp_pg_sqlstate_error("23505"), CP_ECONFLICT);
  assert_int_equal(cp_pg_sqlstate_error("40001"), CP_ECONFLICT);
  assert_int_equal(cp_pg_sqlstate_error("40P01"), CP_ECONFLICT);
  assert_int_equal(cp_pg_sqlstate_error("23503"), CP_ENOTFOUND);
  assert_int_equal(cp_pg_sqlstate_error("42P01"), CP_ENOTFOUND);
  assert_int_equal(cp_pg_sqlstate_error("23514"), CP_EINVAL);
  assert_int_equal(cp_pg_sqlstate_error("22P02"), CP_EINVAL);
  assert_int_equal(cp_pg_sqlstate_error("08006"), CP_EUNAVAILABLE);
  assert_int_equal(cp_pg_sqlstate_error("57P01"), CP_EUNAVAILABLE);
  assert_int_equal(cp_pg_sqlstate_error("53300"), CP_EUNAVAILABLE);
  assert_int_equal(cp_pg_sqlstate_error("57014"), CP_ETIMEOUT);
  assert_int_equal(cp_pg_sqlstate_error("28P01"), CP_EUNAUTHORIZED);
  assert_int_equal(cp_pg_sqlstate_error("42501"), CP_EFORBIDDEN);
  assert_int_equal(cp_pg_sqlstate_error("42601"), CP_EINTERNAL);
  assert_int_equal(cp_pg_sqlstate_error(""), CP_EUNAVAILABLE);
  assert_int_equal(cp_pg_sqlstate_error(NULL), CP_EUNAVAILABLE);
  assert_int_equal(cp_pg_sqlstate_error("123"), CP_EINTERNAL);
}

static void migration_lists_are_checked(void **state) {
  (void)state;
  char err[128];
  const cp_pg_migration_t good[] = {{1, "a", "SELECT 1"}, {2, "b", "SELECT 2"}, {5, "c", "x"}};
  assert_int_equal(cp_pg_migrations_check(good, 3, err, sizeof err), 0);
  assert_int_equal(cp_pg_migrations_check(NULL, 0, err, sizeof err), 0);
  const cp_pg_migration_t dup[] = {{1, "a", "SELECT 1"}, {1, "b", "SELECT 2"}};
  assert_int_equal(cp_pg_migrations_check(dup, 2, err, sizeof err), CP_EINVAL);
  assert_non_null(strstr(err, "#1"));
  assert_non_null(strstr(err, "increasing"));
  const cp_pg_migration_t zero[] = {{0, "a", "SELECT 1"}};
  assert_int_equal(cp_pg_migrations_check(zero, 1, err, sizeof err), CP_EINVAL);
  const cp_pg_migration_t nosql[] = {{1, "a", NULL}};
  assert_int_equal(cp_pg_migrations_check(nosql, 1, NULL, 0), CP_EINVAL);
}

static void redact(const char *in, const char *want) {
  char out[256];
  cp_pg_url_redact(in, out, sizeof out);
  assert_string_equal(out, want);
}

static void urls_are_redacted(void **state) {
  (void)state;
  redact("postgresql://clawplane:s3cr3t@127.0.0.1:15432/clawplane?sslmode=disable",
         "postgresql://clawplane:***@127.0.0.1:15432/clawplane?sslmode=disable");
  redact("postgres://u:p@ss@h/db", "postgres://u:***@h/db");
  redact("postgresql://u@h/db?password=xyz&sslmode=require",
         "postgresql://u@h/db?password=***&sslmode=require");
  redact("postgresql://h/db", "postgresql://h/db");
  redact("host=h user=u password=secret dbname=d", "host=h user=u password=*** dbname=d");
  redact("host=h password = 'a b\\' c' dbname=d", "host=h password = *** dbname=d");
  char small[8];
  cp_pg_url_redact("postgresql://u:pw@host/db", small, sizeof small);
  assert_string_equal(small, "postgre");
}

static void bad_urls_are_refused(void **state) {
  (void)state;
  cp_pg_t *c = (cp_pg_t *)0x1;
  cp_pg_error_t err;
  assert_int_equal(cp_pg_new("postgresql://h:notaport/db?bogus_option=1", NULL, &c, &err),
                   CP_ECONFIG);
  assert_ptr_equal(c, (cp_pg_t *)0x1);
  assert_true(strlen(err.message) > 0);
  assert_int_equal(cp_pg_new("", NULL, &c, &err), CP_EINVAL);
  assert_int_equal(cp_pg_new(NULL, NULL, &c, NULL), CP_EINVAL);
}

static void unreachable_server_is_unavailable_then_backs_off(void **state) {
  (void)state;
  cp_pg_t *c = NULL;
  cp_pg_error_t err;
  cp_pg_opts_t o = {.connect_timeout_s = 2};
  assert_int_equal(cp_pg_new("postgresql://u:pw@127.0.0.1:1/db", &o, &c, &err), 0);
  assert_int_equal(cp_pg_exec(c, "SELECT 1", 0, NULL, NULL, &err), CP_EUNAVAILABLE);
  assert_true(strlen(err.message) > 0);
  assert_null(strstr(err.message, "pw"));
  /* within the backoff the call fails at once, without trying */
  double t0 = cp_time_mono();
  assert_int_equal(cp_pg_ping(c, &err), CP_EUNAVAILABLE);
  assert_non_null(strstr(err.message, "waiting"));
  assert_true(cp_time_mono() - t0 < 0.05);
  assert_int_equal(cp_pg_begin(c, &err), CP_EUNAVAILABLE);
  assert_false(cp_pg_in_tx(c));
  assert_int_equal(cp_pg_commit(c, &err), CP_EINVAL);
  cp_pg_rollback(c);
  assert_int_equal(cp_pg_exec(c, NULL, 0, NULL, NULL, &err), CP_EINVAL);
  assert_int_equal(cp_pg_exec(c, "SELECT $1", 1, NULL, NULL, &err), CP_EINVAL);
  char msg[128];
  const cp_pg_migration_t m[] = {{1, "a", "SELECT 1"}};
  assert_int_equal(cp_pg_migrate(c, "", m, 1, msg, sizeof msg), CP_EINVAL);
  cp_pg_free(c);
  cp_pg_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(sqlstates_map_to_codes),
      cmocka_unit_test(migration_lists_are_checked),
      cmocka_unit_test(urls_are_redacted),
      cmocka_unit_test(bad_urls_are_refused),
      cmocka_unit_test(unreachable_server_is_unavailable_then_backs_off),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
