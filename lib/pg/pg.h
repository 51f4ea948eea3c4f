/* A small libpq wrapper: one connection that heals itself, parameterized queries,
 * transactions, and a migration runner.
 *
 * A cp_pg_t is a handle on one PostgreSQL connection made from a URL (DATABASE_URL). It
 * connects lazily and reconnects by itself: while PostgreSQL is down every call fails
 * fast with CP_EUNAVAILABLE (reconnects are spaced by a backoff of 200 ms doubling to
 * 2 s), and the first call after it is back succeeds. Before sending a statement outside
 * a transaction, a connection the server has closed while idle (a restart) is noticed and
 * replaced, so a restart costs no failed request when nothing was in flight. A connection
 * lost inside a transaction is never replaced silently: every call fails with
 * CP_EUNAVAILABLE until cp_pg_rollback, so no statement can run outside the transaction
 * it was written for.
 *
 * SQL is only ever sent with parameters (PQexecParams, text format); there is no call
 * that takes a string built at run time for execution, except cp_pg_migrate, which runs
 * the constant migration scripts compiled into a binary.
 *
 * Errors: 0 or a negative CP_E* code; an optional cp_pg_error_t gets the SQLSTATE, the
 * server's message and the violated constraint's name. SQLSTATEs map as: class 08
 * (connection), 57P01..57P03 (shutdown, cannot connect now), 53 (insufficient resources)
 * and a lost connection UNAVAILABLE; 23505 unique violation, 40001 serialization failure
 * and 40P01 deadlock CONFLICT; 23503 foreign key violation NOTFOUND; other class 23
 * (integrity) and class 22 (data exception) INVAL; 42P01 undefined table and 42703
 * undefined column NOTFOUND; 57014 query canceled (statement_timeout) TIMEOUT; 28
 * (authentication) UNAUTHORIZED; 42501 insufficient privilege FORBIDDEN; anything else
 * INTERNAL.
 *
 * Threading: a cp_pg_t may be used by one thread at a time (libpq connections are not
 * shared); threads that work in parallel each open their own. Calls block the calling
 * thread: from a libuv loop, run them on worker threads (uv_queue_work).
 */
#ifndef CP_PG_PG_H
#define CP_PG_PG_H

#include <libpq-fe.h>
#include <stddef.h>

typedef struct cp_pg_s cp_pg_t;

typedef struct cp_pg_opts_s {
  long connect_timeout_s;       /* TCP + authentication; 0 = 5 (a URL's connect_timeout wins) */
  long statement_timeout_ms;    /* set on every new connection; 0 = 30000; negative = none */
  long tcp_user_timeout_ms;     /* unacknowledged data before a dead peer is given up; 0 = 10000 */
  const char *application_name; /* NULL = "clawplane"; copied */
} cp_pg_opts_t;

/* What PostgreSQL (or libpq) said about a failed call. Fixed-size: never grows. */
typedef struct cp_pg_error_s {
  char sqlstate[6];    /* five characters, or "" when the server sent none */
  char message[256];   /* primary message, or libpq's connection error */
  char constraint[64]; /* violated constraint name, or "" */
} cp_pg_error_t;

/* Creates a handle for url (a postgresql:// URL or a key=value conninfo string; copied)
 * without connecting. Returns 0 with *out (free with cp_pg_free), CP_ECONFIG when the URL
 * does not parse (err names the problem), or CP_ENOMEM. opts may be NULL. Any thread. */
int cp_pg_new(const char *url, const cp_pg_opts_t *opts, cp_pg_t **out, cp_pg_error_t *err);

/* Closes the connection and frees the handle; the copied URL (and its password) is
 * wiped first. Accepts NULL. */
void cp_pg_free(cp_pg_t *c);

/* Connects now if not connected (subject to the reconnect backoff). Returns 0,
 * CP_EUNAVAILABLE (server unreachable, shutting down, or backoff in progress),
 * CP_EUNAUTHORIZED (authentication failed) or CP_ENOMEM; err gets libpq's message. */
int cp_pg_connect(cp_pg_t *c, cp_pg_error_t *err);

/* Runs one statement with nparams text parameters (params[i] NULL is SQL NULL; params may
 * be NULL when nparams is 0). On success, if res is non-NULL, *res owns the result (free
 * with PQclear; rows through PQntuples/PQgetvalue/PQgetisnull, PQcmdTuples for the count
 * of affected rows); otherwise it is discarded. Returns 0 or the mapping at the top. A
 * lost connection is CP_EUNAVAILABLE: outside a transaction the statement may or may not
 * have run (as with any lost connection); inside one, nothing of the transaction
 * committed. The calling thread must own c. */
int cp_pg_exec(cp_pg_t *c, const char *sql, int nparams, const char *const *params, PGresult **res,
               cp_pg_error_t *err);

/* BEGIN (READ COMMITTED). Returns 0, CP_EINVAL when a transaction is already open, or the
 * cp_pg_exec errors. */
int cp_pg_begin(cp_pg_t *c, cp_pg_error_t *err);

/* COMMIT. Returns 0; CP_EINVAL when no transaction is open; CP_EUNAVAILABLE when the
 * connection was lost (before or during the commit: the outcome of a commit whose answer
 * never came is unknown), or the server's error (e.g. a deferred constraint), in which
 * case the transaction was rolled back. Either way the transaction is over afterwards. */
int cp_pg_commit(cp_pg_t *c, cp_pg_error_t *err);

/* Ends an open transaction without committing it. Never fails: on a lost connection the
 * server has already discarded the transaction, and the next call reconnects. Does
 * nothing when no transaction is open. */
void cp_pg_rollback(cp_pg_t *c);

/* 1 while a transaction begun with cp_pg_begin is open (even if its connection broke). */
int cp_pg_in_tx(const cp_pg_t *c);

/* Returns 0 when a trivial query (SELECT 1) succeeds, else its error (see cp_pg_exec).
 * For readiness probes. */
int cp_pg_ping(cp_pg_t *c, cp_pg_error_t *err);

/* One versioned migration: version > 0, strictly increasing within a list; sql is a
 * constant script (several statements allowed; no parameters). */
typedef struct cp_pg_migration_s {
  int version;
  const char *name; /* short description, for the caller's log */
  const char *sql;
} cp_pg_migration_t;

/* Brings component's schema up to date: in one transaction holding
 * pg_advisory_xact_lock(CP_PG_MIGRATION_LOCK) (so concurrent starters take turns), creates
 * schema_migrations(component text, version int, applied_at timestamptz, primary key
 * (component, version)) if missing, then runs, in order, every migration of list whose
 * version is not recorded for component, recording each. All or nothing: a failing
 * migration rolls everything back. Versions recorded but unknown to list (a newer binary
 * ran) are left alone. Scripts must not contain transaction control (BEGIN, COMMIT).
 * Returns 0; CP_EINVAL for a bad list or an open transaction (err says which); or the
 * error of the failing statement, with err naming the migration ("apiserver 3
 * (sessions): relation ... already exists"). err may be NULL when errlen is 0. The
 * calling thread must own c. */
int cp_pg_migrate(cp_pg_t *c, const char *component, const cp_pg_migration_t *list, size_t n,
                  char *err, size_t errlen);

/* Like cp_pg_migrate, also reporting how many migrations ran (*applied, may be NULL). */
int cp_pg_migrate_count(cp_pg_t *c, const char *component, const cp_pg_migration_t *list, size_t n,
                        size_t *applied, char *err, size_t errlen);

/* The advisory lock key every cp_pg_migrate holds: one for all components, as they
 * share the schema_migrations table. */
#define CP_PG_MIGRATION_LOCK 0x636c6177706c616eLL /* "clawplan" */

/* --- pure helpers, exported for tests --- */

/* Maps a five-character SQLSTATE to a CP_E* code as described at the top (NULL or ""
 * gives CP_EUNAVAILABLE: no server answer). */
int cp_pg_sqlstate_error(const char *sqlstate);

/* Checks a migration list: versions > 0 and strictly increasing, sql and name non-NULL.
 * Returns 0 or CP_EINVAL with err (may be NULL) naming the entry. */
int cp_pg_migrations_check(const cp_pg_migration_t *list, size_t n, char *err, size_t errlen);

/* Writes url with its password replaced by "***" (URL userinfo, a password= query
 * parameter, or a password= conninfo keyword), for logs. Truncates to fit. */
void cp_pg_url_redact(const char *url, char *out, size_t outlen);

#endif
