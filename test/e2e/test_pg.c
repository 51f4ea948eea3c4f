/* lib/pg against the real PostgreSQL of hack/local-postgres (started here if needed):
 *  - migrations apply in order once, record themselves, and a failing one leaves nothing;
 *  - concurrent migrators (threads with their own connections) take turns on the lock;
 *  - parameters carry hostile text verbatim; errors map (unique violation -> CONFLICT);
 *  - transactions commit or roll back as a whole;
 *  - a restart while idle costs no failed call; inside a transaction the caller sees
 *    CP_EUNAVAILABLE until rollback, then service resumes; while the server is down calls
 *    fail fast with CP_EUNAVAILABLE and recover by themselves once it is back.
 * Each run works in its own schema (search_path) so parallel runs never collide, on a
 * private PostgreSQL instance (own directory and port) because it stops the server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/time.h"
#include "pg/pg.h"

static char url[1024];
static char schema[64];
static char pgctl[1024];

static cp_pg_t *open_conn(void) {
  cp_pg_t *c = NULL;
  cp_pg_error_t err;
  assert_int_equal(cp_pg_new(url, NULL, &c, &err), 0);
  return c;
}

static int pgctl_run(const char *verb) {
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "%s %s >/dev/null", pgctl, verb);
  return system(cmd);
}

static long count(cp_pg_t *c, const char *sql, const char *param) {
  PGresult *r = NULL;
  const char *p[] = {param};
  int rc = cp_pg_exec(c, sql, param ? 1 : 0, param ? p : NULL, &r, NULL);
  assert_int_equal(rc, 0);
  long n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
  PQclear(r);
  return n;
}

static const cp_pg_migration_t migs[] = {
    {1, "widgets", "CREATE TABLE widgets (id bigserial PRIMARY KEY, name text UNIQUE NOT NULL);"},
    {2, "colour", "ALTER TABLE widgets ADD COLUMN colour text; CREATE INDEX ON widgets (colour);"},
};

static void migrations_apply_once(void **state) {
  (void)state;
  cp_pg_t *c = open_conn();
  char err[256] = "";
  size_t applied = 99;
  assert_int_equal(cp_pg_migrate_count(c, "e2etest", migs, 2, &applied, err, sizeof err), 0);
  assert_int_equal(applied, 2);
  assert_int_equal(cp_pg_migrate_count(c, "e2etest", migs, 2, &applied, err, sizeof err), 0);
  assert_int_equal(applied, 0);
  assert_int_equal(
      count(c, "SELECT count(*) FROM schema_migrations WHERE component = $1", "e2etest"), 2);
  /* a failing third migration rolls back with the fourth's table too, and names itself */
  const cp_pg_migration_t more[] = {migs[0],
                                    migs[1],
                                    {3, "gadgets", "CREATE TABLE gadgets (id int);"},
                                    {4, "broken", "ALTER TABLE nosuchtable ADD COLUMN x int;"}};
  assert_int_equal(cp_pg_migrate(c, "e2etest", more, 4, err, sizeof err), CP_ENOTFOUND);
  assert_non_null(strstr(err, "e2etest 4 (broken)"));
  assert_non_null(strstr(err, "nosuchtable"));
  assert_int_equal(count(c, "SELECT count(*) FROM pg_tables WHERE tablename = $1", "gadgets"), 0);
  assert_int_equal(
      count(c, "SELECT count(*) FROM schema_migrations WHERE component = $1", "e2etest"), 2);
  /* the same versions under another component are separate */
  const cp_pg_migration_t other[] = {
      {1, "o1", "SELECT 1;"}, {2, "o2", "SELECT 2;"}, {3, "o3", "CREATE TABLE other3 (x int);"}};
  assert_int_equal(cp_pg_migrate(c, "other", other, 3, err, sizeof err), 0);
  assert_int_equal(count(c, "SELECT count(*) FROM schema_migrations WHERE version = $1", "3"), 1);
  cp_pg_free(c);
}

static const cp_pg_migration_t conc[] = {
    {1, "t1", "CREATE TABLE conc1 (x int); SELECT pg_sleep(0.2);"},
    {2, "t2", "CREATE TABLE conc2 (x int);"},
};
static size_t conc_applied[4];
static int conc_rc[4];

static void *migrator(void *arg) {
  size_t i = (size_t)(uintptr_t)arg;
  cp_pg_t *c = NULL;
  if (cp_pg_new(url, NULL, &c, NULL) != 0)
    return NULL;
  char err[256];
  conc_rc[i] = cp_pg_migrate_count(c, "conc", conc, 2, &conc_applied[i], err, sizeof err);
  if (conc_rc[i])
    fprintf(stderr, "migrator %zu: %s\n", i, err);
  cp_pg_free(c);
  return NULL;
}

static void concurrent_migrators_take_turns(void **state) {
  (void)state;
  pthread_t t[4];
  for (size_t i = 0; i < 4; i++)
    pthread_create(&t[i], NULL, migrator, (void *)(uintptr_t)i);
  size_t total = 0;
  for (size_t i = 0; i < 4; i++) {
    pthread_join(t[i], NULL);
    assert_int_equal(conc_rc[i], 0);
    total += conc_applied[i];
  }
  assert_int_equal(total, 2);
}

static void parameters_and_errors(void **state) {
  (void)state;
  cp_pg_t *c = open_conn();
  cp_pg_error_t err;
  const char *hostile = "x'); DROP TABLE widgets; --";
  const char *p[] = {hostile, NULL};
  assert_int_equal(
      cp_pg_exec(c, "INSERT INTO widgets (name, colour) VALUES ($1, $2)", 2, p, NULL, &err), 0);
  PGresult *r = NULL;
  assert_int_equal(
      cp_pg_exec(c, "SELECT name, colour FROM widgets WHERE name = $1", 1, p, &r, &err), 0);
  assert_int_equal(PQntuples(r), 1);
  assert_string_equal(PQgetvalue(r, 0, 0), hostile);
  assert_true(PQgetisnull(r, 0, 1));
  PQclear(r);
  assert_int_equal(
      cp_pg_exec(c, "INSERT INTO widgets (name, colour) VALUES ($1, $2)", 2, p, NULL, &err),
      CP_ECONFLICT);
  assert_string_equal(err.sqlstate, "23505");
  assert_string_equal(err.constraint, "widgets_name_key");
  const char *bad[] = {"not-a-number"};
  assert_int_equal(cp_pg_exec(c, "SELECT $1::int", 1, bad, NULL, &err), CP_EINVAL);
  assert_string_equal(err.sqlstate, "22P02");
  assert_int_equal(cp_pg_exec(c, "SELECT * FROM nosuchtable", 0, NULL, NULL, &err), CP_ENOTFOUND);
  /* the connection is still fine after errors */
  assert_int_equal(cp_pg_ping(c, &err), 0);
  cp_pg_free(c);
}

static void transactions_are_atomic(void **state) {
  (void)state;
  cp_pg_t *c = open_conn();
  cp_pg_error_t err;
  const char *a[] = {"tx-a"}, *b[] = {"tx-b"};
  assert_int_equal(cp_pg_begin(c, &err), 0);
  assert_int_equal(cp_pg_begin(c, &err), CP_EINVAL);
  assert_int_equal(cp_pg_exec(c, "INSERT INTO widgets (name) VALUES ($1)", 1, a, NULL, &err), 0);
  cp_pg_rollback(c);
  assert_int_equal(count(c, "SELECT count(*) FROM widgets WHERE name = $1", "tx-a"), 0);
  assert_int_equal(cp_pg_begin(c, &err), 0);
  assert_int_equal(cp_pg_exec(c, "INSERT INTO widgets (name) VALUES ($1)", 1, b, NULL, &err), 0);
  assert_int_equal(cp_pg_commit(c, &err), 0);
  assert_int_equal(count(c, "SELECT count(*) FROM widgets WHERE name = $1", "tx-b"), 1);
  /* an error inside the transaction: commit reports it and nothing stays */
  assert_int_equal(cp_pg_begin(c, &err), 0);
  assert_int_equal(cp_pg_exec(c, "INSERT INTO widgets (name) VALUES ($1)", 1, a, NULL, &err), 0);
  assert_int_equal(cp_pg_exec(c, "INSERT INTO widgets (name) VALUES ($1)", 1, b, NULL, &err),
                   CP_ECONFLICT);
  assert_int_not_equal(cp_pg_commit(c, &err), 0);
  assert_false(cp_pg_in_tx(c));
  assert_int_equal(count(c, "SELECT count(*) FROM widgets WHERE name = $1", "tx-a"), 0);
  cp_pg_free(c);
}

static void survives_restart_and_outage(void **state) {
  (void)state;
  cp_pg_t *idle = open_conn(), *tx = open_conn();
  cp_pg_error_t err;
  int rc;
  assert_int_equal(cp_pg_ping(idle, &err), 0);
  assert_int_equal(cp_pg_begin(tx, &err), 0);
  const char *a[] = {"during-restart"};
  assert_int_equal(cp_pg_exec(tx, "INSERT INTO widgets (name) VALUES ($1)", 1, a, NULL, &err), 0);
  assert_int_equal(pgctl_run("restart"), 0);
  /* idle connection: replaced transparently */
  rc = cp_pg_ping(idle, &err);
  if (rc)
    fprintf(stderr, "ping after restart: %s (%s)\n", err.message, err.sqlstate);
  assert_int_equal(rc, 0);
  /* the transaction is gone: every call says so until rollback, and nothing committed */
  assert_int_equal(cp_pg_exec(tx, "SELECT 1", 0, NULL, NULL, &err), CP_EUNAVAILABLE);
  assert_int_equal(cp_pg_exec(tx, "SELECT 1", 0, NULL, NULL, &err), CP_EUNAVAILABLE);
  assert_int_equal(cp_pg_commit(tx, &err), CP_EUNAVAILABLE);
  assert_false(cp_pg_in_tx(tx));
  assert_int_equal(cp_pg_ping(tx, &err), 0);
  assert_int_equal(count(tx, "SELECT count(*) FROM widgets WHERE name = $1", "during-restart"), 0);

  /* down: fast CP_EUNAVAILABLE; up: recovery without a new handle */
  assert_int_equal(pgctl_run("down"), 0);
  double t0 = cp_time_mono();
  assert_int_equal(cp_pg_ping(idle, &err), CP_EUNAVAILABLE);
  assert_int_equal(cp_pg_ping(idle, &err), CP_EUNAVAILABLE);
  assert_true(cp_time_mono() - t0 < 2.0);
  assert_int_equal(pgctl_run("up"), 0);
  rc = CP_EUNAVAILABLE;
  for (int i = 0; i < 100 && rc != 0; i++) {
    rc = cp_pg_ping(idle, &err);
    if (rc)
      usleep(100 * 1000);
  }
  assert_int_equal(rc, 0);
  cp_pg_free(idle);
  cp_pg_free(tx);
}

static int setup(void **state) {
  (void)state;
  cp_pg_t *c = NULL;
  cp_pg_error_t err;
  const char *base = getenv("DATABASE_URL");
  if (cp_pg_new(base, NULL, &c, &err) != 0)
    return -1;
  snprintf(schema, sizeof schema, "e2e_pg_%d", (int)getpid());
  const char *p[] = {schema};
  PGresult *r = NULL;
  /* CREATE SCHEMA takes an identifier, not a parameter: build it in SQL with format(). */
  int rc = cp_pg_exec(c, "SELECT format('CREATE SCHEMA %I', $1::text)", 1, p, &r, &err);
  if (rc == 0)
    rc = cp_pg_exec(c, PQgetvalue(r, 0, 0), 0, NULL, NULL, &err);
  PQclear(r);
  cp_pg_free(c);
  if (rc != 0) {
    fprintf(stderr, "create schema: %s\n", err.message);
    return -1;
  }
  snprintf(url, sizeof url, "%s%soptions=-csearch_path%%3D%s", base, strchr(base, '?') ? "&" : "?",
           schema);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  cp_pg_t *c = NULL;
  if (cp_pg_new(getenv("DATABASE_URL"), NULL, &c, NULL) != 0)
    return 0;
  const char *p[] = {schema};
  PGresult *r = NULL;
  if (cp_pg_exec(c, "SELECT format('DROP SCHEMA %I CASCADE', $1::text)", 1, p, &r, NULL) == 0)
    (void)cp_pg_exec(c, PQgetvalue(r, 0, 0), 0, NULL, NULL, NULL);
  PQclear(r);
  cp_pg_free(c);
  return 0;
}

int main(int argc, char **argv) {
  (void)argc;
  const char *data = getenv("CP_TEST_DATA");
  if (!getenv("CLAWPLANE_PG_DIR")) {
    char dir[256];
    snprintf(dir, sizeof dir, "/var/tmp/clawplane-postgres-e2e-pg-%d", (int)getuid());
    setenv("CLAWPLANE_PG_DIR", dir, 1);
    setenv("CLAWPLANE_PG_PORT", "15442", 1);
  }
  snprintf(pgctl, sizeof pgctl, "%s/../../hack/local-postgres", data ? data : "test/data");
  if (!getenv("DATABASE_URL")) {
    /* start PostgreSQL (idempotent), then run again with DATABASE_URL set */
    if (pgctl_run("up") != 0) {
      fprintf(stderr, "cannot start PostgreSQL with %s\n", pgctl);
      return 1;
    }
    char *args[] = {pgctl, "exec", argv[0], NULL};
    execv(pgctl, args);
    perror("execv");
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(migrations_apply_once),
      cmocka_unit_test(concurrent_migrators_take_turns),
      cmocka_unit_test(parameters_and_errors),
      cmocka_unit_test(transactions_are_atomic),
      cmocka_unit_test(survives_restart_and_outage),
  };
  int rc = cmocka_run_group_tests(tests, setup, teardown);
  pgctl_run("down");
  return rc;
}
