/* The apiserver's PostgreSQL schema (component "apiserver") and the first admin.
 *
 * Migrations are append-only: never edit one that has shipped, add the next version.
 * Secrets are stored only as hashes: passwords as scrypt strings (lib/auth/password.h),
 * session, API and invitation tokens as hex SHA-256. The audit log refuses UPDATE, DELETE
 * and TRUNCATE with a trigger (which binds the table owner too, unlike REVOKE). user_quotas
 * is read by the model proxy: NULL columns mean "the profile's default".
 *
 * The first admin comes from CLAWPLANE_BOOTSTRAP_ADMIN with CLAWPLANE_BOOTSTRAP_PASSWORD or
 * CLAWPLANE_BOOTSTRAP_PASSWORD_FILE (e.g. a mounted Secret), and is created only while no
 * admin exists, so a later restart with the variables still set changes nothing.
 */
#include "api.h"

#include "api/body.h"
#include "auth/password.h"
#include "core/error.h"
#include "log/log.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_CHECK "~ '^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$'"
#define HASH_CHECK "~ '^[0-9a-f]{64}$'"

static const cp_pg_migration_t migrations[] = {
    {1, "users, credentials, sessions, API tokens, invitations",
     "CREATE TABLE users ("
     " username text PRIMARY KEY CHECK (username " NAME_CHECK "),"
     " role text NOT NULL DEFAULT 'user' CHECK (role IN ('admin', 'user')),"
     " state text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'disabled')),"
     " created_at timestamptz NOT NULL DEFAULT now(),"
     " updated_at timestamptz NOT NULL DEFAULT now());"
     "CREATE TABLE password_credentials ("
     " username text PRIMARY KEY REFERENCES users (username) ON DELETE CASCADE,"
     " hash text NOT NULL CHECK (hash LIKE '$scrypt$%' OR hash LIKE '$argon2id$%'),"
     " updated_at timestamptz NOT NULL DEFAULT now());"
     "CREATE TABLE sessions ("
     " token_hash text PRIMARY KEY CHECK (token_hash " HASH_CHECK "),"
     " username text NOT NULL REFERENCES users (username) ON DELETE CASCADE,"
     " created_at timestamptz NOT NULL DEFAULT now(),"
     " expires_at timestamptz NOT NULL,"
     " client text,"
     " user_agent text);"
     "CREATE INDEX sessions_username ON sessions (username);"
     "CREATE INDEX sessions_expires_at ON sessions (expires_at);"
     "CREATE TABLE api_tokens ("
     " id bigserial PRIMARY KEY,"
     " token_hash text NOT NULL UNIQUE CHECK (token_hash " HASH_CHECK "),"
     " username text NOT NULL REFERENCES users (username) ON DELETE CASCADE,"
     " name text NOT NULL CHECK (length(name) BETWEEN 1 AND 128),"
     " created_at timestamptz NOT NULL DEFAULT now(),"
     " expires_at timestamptz,"
     " last_used_at timestamptz,"
     " revoked_at timestamptz);"
     "CREATE INDEX api_tokens_username ON api_tokens (username);"
     "CREATE TABLE invitations ("
     " token_hash text PRIMARY KEY CHECK (token_hash " HASH_CHECK "),"
     " username text NOT NULL CHECK (username " NAME_CHECK "),"
     " role text NOT NULL CHECK (role IN ('admin', 'user')),"
     " created_by text REFERENCES users (username),"
     " created_at timestamptz NOT NULL DEFAULT now(),"
     " expires_at timestamptz NOT NULL,"
     " accepted_at timestamptz);"},
    {2, "append-only audit log",
     "CREATE TABLE audit_log ("
     " id bigserial PRIMARY KEY,"
     " at timestamptz NOT NULL DEFAULT now(),"
     " actor text,"
     " action text NOT NULL,"
     " target text,"
     " client text,"
     " outcome text NOT NULL DEFAULT 'ok',"
     " detail jsonb NOT NULL DEFAULT '{}');"
     "CREATE INDEX audit_log_actor ON audit_log (actor, id);"
     "CREATE INDEX audit_log_action ON audit_log (action, id);"
     "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$"
     " BEGIN RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = '42501'; END $$;"
     "CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log"
     " FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();"
     "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log"
     " FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();"
     "REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC;"},
    {3, "per-user quotas (read by the model proxy)",
     "CREATE TABLE user_quotas ("
     " username text PRIMARY KEY REFERENCES users (username) ON DELETE CASCADE,"
     " allowed_models text[],"
     " monthly_token_budget bigint CHECK (monthly_token_budget >= 0),"
     " monthly_cost_budget_microusd bigint CHECK (monthly_cost_budget_microusd >= 0),"
     " requests_per_minute int CHECK (requests_per_minute >= 0),"
     " max_concurrent_streams int CHECK (max_concurrent_streams >= 0),"
     " updated_at timestamptz NOT NULL DEFAULT now());"},
};

/* Reads the bootstrap password from the environment or a file into out. Returns its
 * length, or -1 (err set). */
static long bootstrap_password(char *out, size_t outlen, char *err, size_t errlen) {
  const char *pw = getenv("CLAWPLANE_BOOTSTRAP_PASSWORD");
  const char *file = getenv("CLAWPLANE_BOOTSTRAP_PASSWORD_FILE");
  size_t n = 0;
  if (pw && *pw) {
    n = strlen(pw);
    if (n >= outlen)
      n = outlen; /* refused below as too long */
    else
      memcpy(out, pw, n + 1);
  } else if (file && *file) {
    FILE *f = fopen(file, "r");
    if (!f) {
      snprintf(err, errlen, "cannot read CLAWPLANE_BOOTSTRAP_PASSWORD_FILE %s", file);
      return -1;
    }
    n = fread(out, 1, outlen - 1, f);
    fclose(f);
    out[n] = '\0';
    while (n && (out[n - 1] == '\n' || out[n - 1] == '\r'))
      out[--n] = '\0';
  } else {
    snprintf(err, errlen,
             "CLAWPLANE_BOOTSTRAP_ADMIN is set but neither CLAWPLANE_BOOTSTRAP_PASSWORD nor "
             "CLAWPLANE_BOOTSTRAP_PASSWORD_FILE is");
    return -1;
  }
  const char *why = NULL;
  if (n >= outlen || cp_password_check(out, n, &why) != 0) {
    snprintf(err, errlen, "bootstrap password refused: %s",
             why ? why : "password must be at most 1024 bytes");
    return -1;
  }
  return (long)n;
}

static int bootstrap(api_app_t *a, api_worker_t *w, char *err, size_t errlen) {
  const char *admin = getenv("CLAWPLANE_BOOTSTRAP_ADMIN");
  if (!admin || !*admin)
    return 0;
  if (!cp_api_valid_username(admin)) {
    snprintf(err, errlen, "CLAWPLANE_BOOTSTRAP_ADMIN \"%s\" is not a valid username", admin);
    return CP_EINVAL;
  }
  cp_pg_error_t e = {0};
  PGresult *r = NULL;
  int rc = cp_pg_exec(w->db, "SELECT 1 FROM users WHERE role = 'admin' LIMIT 1", 0, NULL, &r, &e);
  int have = rc == 0 && PQntuples(r) > 0;
  PQclear(r);
  if (rc != 0 || have) {
    if (rc != 0)
      snprintf(err, errlen, "bootstrap: %s", e.message);
    return rc;
  }
  char pw[CP_PASSWORD_MAX_BYTES + 2], hash[CP_PASSWORD_HASH_MAX];
  long n = bootstrap_password(pw, sizeof pw, err, errlen);
  if (n < 0)
    return CP_EINVAL;
  rc = cp_password_hash(pw, (size_t)n, a->s.password_cost, hash, sizeof hash);
  OPENSSL_cleanse(pw, sizeof pw);
  if (rc != 0) {
    snprintf(err, errlen, "bootstrap: cannot hash the password");
    return rc;
  }
  const char *p1[] = {admin};
  rc = cp_pg_begin(w->db, &e);
  if (rc == 0)
    rc = cp_pg_exec(w->db,
                    "INSERT INTO users (username, role) VALUES ($1, 'admin')"
                    " ON CONFLICT (username) DO UPDATE SET role = 'admin', state = 'active'",
                    1, p1, NULL, &e);
  if (rc == 0)
    rc = cp__api_store_password(w, admin, hash, &e);
  if (rc == 0)
    rc = cp_pg_exec(w->db,
                    "INSERT INTO audit_log (actor, action, target, outcome)"
                    " VALUES (NULL, 'user.bootstrap_admin', $1, 'ok')",
                    1, p1, NULL, &e);
  if (rc == 0)
    rc = cp_pg_commit(w->db, &e);
  OPENSSL_cleanse(hash, sizeof hash);
  if (rc != 0) {
    cp_pg_rollback(w->db);
    snprintf(err, errlen, "bootstrap: %s", e.message);
    return rc;
  }
  cp_log_info("created the first admin from the environment", "user", admin, NULL);
  return 0;
}

int cp__api_schema_setup(api_app_t *a, api_worker_t *w, char *err, size_t errlen) {
  size_t applied = 0;
  int rc = cp_pg_migrate_count(w->db, "apiserver", migrations,
                               sizeof migrations / sizeof *migrations, &applied, err, errlen);
  if (rc != 0)
    return rc;
  if (applied) {
    char n[24];
    snprintf(n, sizeof n, "%zu", applied);
    cp_log_info("database migrations applied", "component", "apiserver", "count", n, NULL);
  }
  return bootstrap(a, w, err, errlen);
}
