/* libpq wrapper: lazy connect, self-healing reconnect with backoff, parameterized
 * statements, transactions that never silently straddle a reconnect, and migrations.
 *
 * State is three fields: the connection (NULL when there is none), whether a transaction
 * is open, and whether that transaction's connection broke. A broken connection is
 * dropped at once; outside a transaction the next call reconnects, inside one every call
 * fails until the caller rolls back. Notices (and the FATAL message a server sends to idle
 * clients when it shuts down) are swallowed: library code never writes to stderr.
 */
#include "pg/pg.h"

#include "core/str.h"
#include "core/error.h"
#include "core/time.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cp_pg_s {
  char *url;
  char *app;
  cp_pg_opts_t opts;
  PGconn *conn;
  int in_tx;       /* a transaction is open (from the caller's point of view) */
  int tx_broken;   /* ...and its connection was lost */
  unsigned fails;  /* consecutive failed connection attempts */
  double next_try; /* monotonic time before which no connection is attempted */
};

static void set_err(cp_pg_error_t *err, const char *state, const char *msg) {
  if (!err)
    return;
  memset(err, 0, sizeof *err);
  cp_str_copy(err->sqlstate, sizeof err->sqlstate, state);
  cp_str_copy(err->message, sizeof err->message, msg);
  /* libpq messages end with a newline; logs read better without it */
  size_t l = strlen(err->message);
  while (l && (err->message[l - 1] == '\n' || err->message[l - 1] == ' '))
    err->message[--l] = '\0';
}

static void quiet_notices(void *arg, const char *message) {
  (void)arg;
  (void)message;
}

int cp_pg_sqlstate_error(const char *s) {
  if (!s || !*s)
    return CP_EUNAVAILABLE;
  if (strlen(s) != 5)
    return CP_EINTERNAL;
  if (!strncmp(s, "08", 2) || !strncmp(s, "53", 2) || !strcmp(s, "57P01") || !strcmp(s, "57P02") ||
      !strcmp(s, "57P03"))
    return CP_EUNAVAILABLE;
  if (!strcmp(s, "23505") || !strcmp(s, "40001") || !strcmp(s, "40P01"))
    return CP_ECONFLICT;
  if (!strcmp(s, "23503") || !strcmp(s, "42P01") || !strcmp(s, "42703"))
    return CP_ENOTFOUND;
  if (!strncmp(s, "23", 2) || !strncmp(s, "22", 2))
    return CP_EINVAL;
  if (!strcmp(s, "57014"))
    return CP_ETIMEOUT;
  if (!strncmp(s, "28", 2))
    return CP_EUNAUTHORIZED;
  if (!strcmp(s, "42501"))
    return CP_EFORBIDDEN;
  return CP_EINTERNAL;
}

int cp_pg_new(const char *url, const cp_pg_opts_t *opts, cp_pg_t **out, cp_pg_error_t *err) {
  if (!url || !*url || !out) {
    set_err(err, "", "no database URL given");
    return CP_EINVAL;
  }
  char *perr = NULL;
  PQconninfoOption *info = PQconninfoParse(url, &perr);
  if (!info) {
    set_err(err, "", perr ? perr : "out of memory parsing the database URL");
    int rc = perr ? CP_ECONFIG : CP_ENOMEM;
    PQfreemem(perr);
    return rc;
  }
  PQconninfoFree(info);
  cp_pg_t *c = calloc(1, sizeof *c);
  if (!c)
    return CP_ENOMEM;
  if (opts)
    c->opts = *opts;
  if (c->opts.connect_timeout_s <= 0)
    c->opts.connect_timeout_s = 5;
  if (c->opts.statement_timeout_ms == 0)
    c->opts.statement_timeout_ms = 30000;
  if (c->opts.tcp_user_timeout_ms <= 0)
    c->opts.tcp_user_timeout_ms = 10000;
  c->url = strdup(url);
  c->app = strdup(opts && opts->application_name ? opts->application_name : "clawplane");
  c->opts.application_name = c->app;
  if (!c->url || !c->app) {
    cp_pg_free(c);
    return CP_ENOMEM;
  }
  *out = c;
  return 0;
}

static void drop(cp_pg_t *c) {
  if (c->conn) {
    PQfinish(c->conn);
    c->conn = NULL;
  }
  if (c->in_tx)
    c->tx_broken = 1;
}

void cp_pg_free(cp_pg_t *c) {
  if (!c)
    return;
  drop(c);
  if (c->url) {
    volatile char *p = c->url;
    while (*p)
      *p++ = '\0';
  }
  free(c->url);
  free(c->app);
  free(c);
}

static int run(cp_pg_t *c, const char *sql, int nparams, const char *const *params, int multi,
               PGresult **res, cp_pg_error_t *err);

int cp_pg_connect(cp_pg_t *c, cp_pg_error_t *err) {
  if (!c)
    return CP_EINVAL;
  if (c->conn && PQstatus(c->conn) == CONNECTION_OK)
    return 0;
  if (c->in_tx) {
    set_err(err, "", "connection lost inside a transaction; roll it back first");
    return CP_EUNAVAILABLE;
  }
  drop(c);
  double now = cp_time_mono();
  if (now < c->next_try) {
    set_err(err, "", "PostgreSQL is unreachable; waiting before the next connection attempt");
    return CP_EUNAVAILABLE;
  }
  char ct[24], tut[24];
  snprintf(ct, sizeof ct, "%ld", c->opts.connect_timeout_s);
  snprintf(tut, sizeof tut, "%ld", c->opts.tcp_user_timeout_ms);
  /* Our defaults first; the URL (expanded at "dbname", last) overrides any of them. */
  const char *const kw[] = {"connect_timeout",  "application_name", "tcp_user_timeout",
                            "keepalives",       "keepalives_idle",  "keepalives_interval",
                            "keepalives_count", "dbname",           NULL};
  const char *const val[] = {ct, c->app, tut, "1", "30", "10", "3", c->url, NULL};
  PGconn *pc = PQconnectdbParams(kw, val, 1);
  if (!pc)
    return CP_ENOMEM;
  if (PQstatus(pc) != CONNECTION_OK) {
    const char *m = PQerrorMessage(pc);
    int rc = strstr(m, "authentication failed") ? CP_EUNAUTHORIZED : CP_EUNAVAILABLE;
    set_err(err, "", m);
    PQfinish(pc);
    c->fails++;
    double delay = 0.2;
    for (unsigned i = 1; i < c->fails && delay < 2.0; i++)
      delay *= 2;
    c->next_try = now + (delay > 2.0 ? 2.0 : delay);
    return rc;
  }
  PQsetNoticeProcessor(pc, quiet_notices, NULL);
  c->conn = pc;
  c->fails = 0;
  c->next_try = 0;
  if (c->opts.statement_timeout_ms > 0) {
    char st[24];
    snprintf(st, sizeof st, "%ld", c->opts.statement_timeout_ms);
    const char *p[] = {st};
    int rc = run(c, "SELECT set_config('statement_timeout', $1, false)", 1, p, 0, NULL, err);
    if (rc != 0) {
      drop(c);
      return rc;
    }
  }
  return 0;
}

/* Outside a transaction: notices a connection the server closed while we were idle (a
 * restart sends FATAL 57P01 and hangs up) so the statement goes to a fresh one. */
static void drop_if_closed(cp_pg_t *c) {
  if (!c->conn)
    return;
  if (PQstatus(c->conn) != CONNECTION_OK) {
    drop(c);
    return;
  }
  struct pollfd p = {.fd = PQsocket(c->conn), .events = POLLIN};
  if (p.fd < 0) {
    drop(c);
    return;
  }
  /* The goodbye message and the end of the stream may take two reads to see. */
  for (int i = 0; i < 4 && poll(&p, 1, 0) > 0; i++) {
    if (!PQconsumeInput(c->conn) || PQstatus(c->conn) != CONNECTION_OK) {
      drop(c);
      return;
    }
    PGnotify *n;
    while ((n = PQnotifies(c->conn)) != NULL)
      PQfreemem(n);
  }
}

static int finish(cp_pg_t *c, PGresult *r, PGresult **res, cp_pg_error_t *err) {
  if (!r) {
    if (!c->conn || PQstatus(c->conn) != CONNECTION_OK) {
      set_err(err, "", c->conn ? PQerrorMessage(c->conn) : "connection lost");
      drop(c);
      return CP_EUNAVAILABLE;
    }
    return CP_ENOMEM;
  }
  ExecStatusType s = PQresultStatus(r);
  if (s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK || s == PGRES_EMPTY_QUERY) {
    if (res)
      *res = r;
    else
      PQclear(r);
    return 0;
  }
  const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
  set_err(err, state, msg ? msg : PQresultErrorMessage(r));
  if (err)
    cp_str_copy(err->constraint, sizeof err->constraint,
                PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME));
  int rc;
  if (PQstatus(c->conn) != CONNECTION_OK) {
    rc = CP_EUNAVAILABLE;
    drop(c);
  } else if (!state) {
    rc = CP_EINTERNAL;
  } else {
    rc = cp_pg_sqlstate_error(state);
    if (rc == CP_EUNAVAILABLE)
      drop(c); /* the server is going away: do not reuse this connection */
  }
  PQclear(r);
  return rc;
}

static int run(cp_pg_t *c, const char *sql, int nparams, const char *const *params, int multi,
               PGresult **res, cp_pg_error_t *err) {
  if (c->in_tx && (c->tx_broken || !c->conn)) {
    set_err(err, "", "connection lost inside a transaction; nothing of it was committed");
    return CP_EUNAVAILABLE;
  }
  if (!c->in_tx) {
    drop_if_closed(c);
    if (!c->conn) {
      int rc = cp_pg_connect(c, err);
      if (rc != 0)
        return rc;
    }
  }
  PGresult *r = multi ? PQexec(c->conn, sql)
                      : PQexecParams(c->conn, sql, nparams, NULL, params, NULL, NULL, 0);
  return finish(c, r, res, err);
}

int cp_pg_exec(cp_pg_t *c, const char *sql, int nparams, const char *const *params, PGresult **res,
               cp_pg_error_t *err) {
  if (!c || !sql || nparams < 0 || (nparams > 0 && !params))
    return CP_EINVAL;
  return run(c, sql, nparams, params, 0, res, err);
}

int cp_pg_begin(cp_pg_t *c, cp_pg_error_t *err) {
  if (!c)
    return CP_EINVAL;
  if (c->in_tx) {
    set_err(err, "", "a transaction is already open");
    return CP_EINVAL;
  }
  int rc = run(c, "BEGIN", 0, NULL, 0, NULL, err);
  if (rc == 0) {
    c->in_tx = 1;
    c->tx_broken = 0;
  }
  return rc;
}

int cp_pg_commit(cp_pg_t *c, cp_pg_error_t *err) {
  if (!c)
    return CP_EINVAL;
  if (!c->in_tx) {
    set_err(err, "", "no transaction is open");
    return CP_EINVAL;
  }
  PGresult *r = NULL;
  int rc = run(c, "COMMIT", 0, NULL, 0, &r, err);
  if (rc == 0 && strcmp(PQcmdStatus(r), "COMMIT") != 0) {
    /* COMMIT of a transaction an earlier error aborted answers ROLLBACK */
    set_err(err, "25P02", "the transaction was aborted by an earlier error and rolled back");
    rc = CP_EINTERNAL;
  }
  PQclear(r);
  c->in_tx = 0;
  c->tx_broken = 0;
  return rc;
}

void cp_pg_rollback(cp_pg_t *c) {
  if (!c || !c->in_tx)
    return;
  if (c->conn && !c->tx_broken)
    (void)run(c, "ROLLBACK", 0, NULL, 0, NULL, NULL);
  c->in_tx = 0;
  c->tx_broken = 0;
}

int cp_pg_in_tx(const cp_pg_t *c) {
  return c && c->in_tx;
}

int cp_pg_ping(cp_pg_t *c, cp_pg_error_t *err) {
  return cp_pg_exec(c, "SELECT 1", 0, NULL, NULL, err);
}

/* --- migrations ----------------------------------------------------------------------- */

int cp_pg_migrations_check(const cp_pg_migration_t *list, size_t n, char *err, size_t errlen) {
  if (n && !list) {
    if (errlen)
      snprintf(err, errlen, "migration list is NULL");
    return CP_EINVAL;
  }
  for (size_t i = 0; i < n; i++) {
    const char *why = NULL;
    if (list[i].version <= 0)
      why = "version must be > 0";
    else if (i > 0 && list[i].version <= list[i - 1].version)
      why = "versions must be strictly increasing";
    else if (!list[i].sql || !list[i].name)
      why = "sql and name are required";
    if (why) {
      if (errlen)
        snprintf(err, errlen, "migration #%zu (version %d): %s", i, list[i].version, why);
      return CP_EINVAL;
    }
  }
  return 0;
}

static int recorded(PGresult *r, int version) {
  for (int i = 0; i < PQntuples(r); i++) {
    char *end;
    long v = strtol(PQgetvalue(r, i, 0), &end, 10);
    if (*end == '\0' && v == version)
      return 1;
  }
  return 0;
}

int cp_pg_migrate_count(cp_pg_t *c, const char *component, const cp_pg_migration_t *list, size_t n,
                        size_t *applied, char *err, size_t errlen) {
  if (!c || !component || !*component) {
    if (errlen)
      snprintf(err, errlen, "a connection and a component name are required");
    return CP_EINVAL;
  }
  int rc = cp_pg_migrations_check(list, n, err, errlen);
  if (rc != 0)
    return rc;
  if (c->in_tx) {
    if (errlen)
      snprintf(err, errlen, "migrations must not run inside an open transaction");
    return CP_EINVAL;
  }
  cp_pg_error_t pe = {0};
  PGresult *have = NULL;
  size_t count = 0;
  const char *step = "begin";
  char key[32];
  snprintf(key, sizeof key, "%lld", (long long)CP_PG_MIGRATION_LOCK);
  const char *kp[] = {key};
  const char *cp[] = {component};
  rc = cp_pg_begin(c, &pe);
  if (rc != 0)
    goto out;
  step = "lock";
  rc = cp_pg_exec(c, "SELECT pg_advisory_xact_lock($1::bigint)", 1, kp, NULL, &pe);
  if (rc != 0)
    goto out;
  step = "create schema_migrations";
  rc = cp_pg_exec(c,
                  "CREATE TABLE IF NOT EXISTS schema_migrations ("
                  " component text NOT NULL,"
                  " version integer NOT NULL,"
                  " applied_at timestamptz NOT NULL DEFAULT now(),"
                  " PRIMARY KEY (component, version))",
                  0, NULL, NULL, &pe);
  if (rc != 0)
    goto out;
  step = "read schema_migrations";
  rc = cp_pg_exec(c, "SELECT version FROM schema_migrations WHERE component = $1", 1, cp, &have,
                  &pe);
  if (rc != 0)
    goto out;
  for (size_t i = 0; i < n; i++) {
    if (recorded(have, list[i].version))
      continue;
    char ver[16];
    snprintf(ver, sizeof ver, "%d", list[i].version);
    const char *ip[] = {component, ver};
    rc = run(c, list[i].sql, 0, NULL, 1, NULL, &pe);
    if (rc == 0)
      rc = cp_pg_exec(c, "INSERT INTO schema_migrations (component, version) VALUES ($1, $2)", 2,
                      ip, NULL, &pe);
    if (rc != 0) {
      if (errlen)
        snprintf(err, errlen, "%s %d (%s): %s", component, list[i].version, list[i].name,
                 pe.message);
      step = NULL;
      goto out;
    }
    count++;
  }
  step = "commit";
  rc = cp_pg_commit(c, &pe);
out:
  PQclear(have);
  cp_pg_rollback(c);
  if (rc != 0 && step && errlen)
    snprintf(err, errlen, "%s migrations: %s: %s", component, step, pe.message);
  if (rc == 0 && applied)
    *applied = count;
  return rc;
}

int cp_pg_migrate(cp_pg_t *c, const char *component, const cp_pg_migration_t *list, size_t n,
                  char *err, size_t errlen) {
  return cp_pg_migrate_count(c, component, list, n, NULL, err, errlen);
}

/* --- redaction ------------------------------------------------------------------------ */

typedef struct out_s {
  char *p;
  size_t n, len;
} out_t;

static void put(out_t *o, const char *s, size_t n) {
  for (size_t i = 0; i < n && o->len + 1 < o->n; i++)
    o->p[o->len++] = s[i];
  if (o->n)
    o->p[o->len] = '\0';
}

/* Copies s, replacing the value after each "password=" (query parameter or conninfo
 * keyword, quoted or not) with ***. */
static void redact_kv(out_t *o, const char *s, size_t n, int in_url) {
  size_t i = 0;
  while (i < n) {
    static const char kw[] = "password";
    size_t k = sizeof kw - 1;
    int at_word = i == 0 || s[i - 1] == '&' || s[i - 1] == '?' || s[i - 1] == ' ';
    if (at_word && n - i >= k && !strncmp(s + i, kw, k)) {
      size_t j = i + k;
      while (!in_url && j < n && s[j] == ' ')
        j++;
      if (j < n && s[j] == '=') {
        j++;
        while (!in_url && j < n && s[j] == ' ')
          j++;
        put(o, s + i, j - i);
        put(o, "***", 3);
        if (!in_url && j < n && s[j] == '\'') {
          for (j++; j < n && s[j] != '\''; j++)
            if (s[j] == '\\' && j + 1 < n)
              j++;
          if (j < n)
            j++;
        } else {
          while (j < n && s[j] != (in_url ? '&' : ' ') && !(in_url && s[j] == '#'))
            j++;
        }
        i = j;
        continue;
      }
    }
    put(o, s + i, 1);
    i++;
  }
}

void cp_pg_url_redact(const char *url, char *out, size_t outlen) {
  out_t o = {out, outlen, 0};
  if (outlen)
    out[0] = '\0';
  if (!url)
    return;
  size_t n = strlen(url);
  const char *scheme = strstr(url, "://");
  if (!scheme || (strncmp(url, "postgresql://", 13) != 0 && strncmp(url, "postgres://", 11) != 0)) {
    redact_kv(&o, url, n, 0);
    return;
  }
  const char *auth = scheme + 3;
  size_t alen = strcspn(auth, "/?#");
  const char *at = NULL;
  for (size_t i = 0; i < alen; i++)
    if (auth[i] == '@')
      at = auth + i;
  put(&o, url, (size_t)(auth - url));
  if (at) {
    const char *colon = memchr(auth, ':', (size_t)(at - auth));
    if (colon) {
      put(&o, auth, (size_t)(colon - auth) + 1);
      put(&o, "***", 3);
    } else {
      put(&o, auth, (size_t)(at - auth));
    }
    put(&o, at, alen - (size_t)(at - auth));
  } else {
    put(&o, auth, alen);
  }
  const char *rest = auth + alen;
  redact_kv(&o, rest, strlen(rest), 1);
}
