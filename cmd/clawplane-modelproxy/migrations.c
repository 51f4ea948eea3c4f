/* The model proxy's schema, as versioned migrations run by cp_pg_migrate under component
 * "modelproxy". The proxy owns usage_records (the apiserver reads it to show users their
 * usage); user_quotas belongs to the apiserver and is only read here. Never edit a
 * released migration: add the next version.
 */
#include "mp.h"

const cp_pg_migration_t cp__mp_migrations[] = {
    {1, "usage_records",
     "CREATE TABLE IF NOT EXISTS usage_records (\n"
     "  id bigserial PRIMARY KEY,\n"
     "  username text NOT NULL,\n"
     "  runtime text NOT NULL DEFAULT '',\n"
     "  model text NOT NULL,\n"
     "  prompt_tokens bigint NOT NULL DEFAULT 0,\n"
     "  completion_tokens bigint NOT NULL DEFAULT 0,\n"
     "  cost_microusd bigint NOT NULL DEFAULT 0,\n"
     "  created_at timestamptz NOT NULL DEFAULT now(),\n"
     "  request_id text UNIQUE\n"
     ");\n"
     "CREATE INDEX IF NOT EXISTS usage_records_user_time ON usage_records (username, created_at);\n"
     "CREATE INDEX IF NOT EXISTS usage_records_time ON usage_records (created_at);\n"},
};

const size_t cp__mp_nmigrations = sizeof cp__mp_migrations / sizeof cp__mp_migrations[0];
