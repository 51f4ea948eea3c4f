/* Validation of the apiserver's JSON request bodies.
 *
 * Each body has a strict shape: the expected members with their types, and nothing else
 * (an unknown member is refused with its name, so a typo like "stat" never silently does
 * nothing). Validators take the parsed tree and fill a struct of pointers borrowed from it;
 * on failure they return CP_EINVAL (or CP_ETOOBIG) and write one sentence naming the
 * problem ("username must be a DNS-1123 label ...", "unknown field \"stat\"") into err,
 * which the server returns with 400. Pure: no I/O, no allocation beyond cJSON's; any
 * thread.
 */
#ifndef CP_API_BODY_H
#define CP_API_BODY_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/* Largest request body any endpoint accepts. */
#define CP_API_MAX_BODY (64 * 1024)

/* Parses a request body: must be a JSON object of at most CP_API_MAX_BODY bytes, in valid
 * UTF-8 (core/utf8.h). Returns 0 and *out (caller frees with cJSON_Delete), or CP_EPARSE
 * (not JSON, not UTF-8) / CP_ETOOBIG / CP_EINVAL (not an object) with err set. An empty
 * body is CP_EINVAL ("a JSON body is required"). */
int cp_api_body_parse(const char *body, size_t len, cJSON **out, char *err, size_t errlen);

/* 1 when s is a valid username: a DNS-1123 label that starts with a letter (so it can
 * also name the user's UserRuntime, a DNS-1035 label), 1..63 characters. */
int cp_api_valid_username(const char *s);

/* 1 when s is a valid RuntimeProfile name (DNS-1123 subdomain, at most 253 characters). */
int cp_api_valid_profile(const char *s);

typedef struct cp_api_login_s {
  const char *username, *password;
  size_t password_len;
} cp_api_login_t;

/* {"username": string, "password": string}. */
int cp_api_parse_login(const cJSON *body, cp_api_login_t *out, char *err, size_t errlen);

typedef struct cp_api_password_change_s {
  const char *current, *next;
  size_t current_len, next_len;
} cp_api_password_change_t;

/* {"current_password": string, "new_password": string}; the new one must pass
 * cp_password_check. */
int cp_api_parse_password_change(const cJSON *body, cp_api_password_change_t *out, char *err,
                                 size_t errlen);

typedef struct cp_api_user_create_s {
  const char *username;
  const char *role;     /* "user" (default) or "admin" */
  const char *password; /* NULL: none yet (the user gets an invitation or a later reset) */
  size_t password_len;
} cp_api_user_create_t;

/* {"username": string, "role"?: "user"|"admin", "password"?: string}. */
int cp_api_parse_user_create(const cJSON *body, cp_api_user_create_t *out, char *err,
                             size_t errlen);

typedef struct cp_api_runtime_put_s {
  const char *state;      /* NULL: unchanged; else "Running" or "Stopped" */
  const char *profile;    /* NULL: unchanged */
  const cJSON *resources; /* NULL: unchanged; JSON null: back to the profile's */
} cp_api_runtime_put_t;

/* {"state"?: "Running"|"Stopped", "profile"?: string, "resources"?: {"requests"?: {name:
 * quantity}, "limits"?: {name: quantity}} | null}. Resource names are cpu, memory or
 * ephemeral-storage; values Kubernetes quantities (strings, or numbers); at least one
 * member must be given. Whether the values fit the profile is the caller's check. */
int cp_api_parse_runtime_put(const cJSON *body, cp_api_runtime_put_t *out, char *err,
                             size_t errlen);

typedef struct cp_api_invite_s {
  const char *username;
  const char *role; /* default "user" */
  long ttl_hours;   /* default 72, 1..720 */
} cp_api_invite_t;

/* {"username": string, "role"?: "user"|"admin", "ttl_hours"?: integer}. */
int cp_api_parse_invite(const cJSON *body, cp_api_invite_t *out, char *err, size_t errlen);

typedef struct cp_api_accept_s {
  const char *token, *password;
  size_t password_len;
} cp_api_accept_t;

/* {"token": "cpi_...", "password": string}. */
int cp_api_parse_accept(const cJSON *body, cp_api_accept_t *out, char *err, size_t errlen);

typedef struct cp_api_token_create_s {
  const char *name; /* 1..128 printable characters */
  long ttl_days;    /* 0: no expiry; else 1..3650 */
} cp_api_token_create_t;

/* {"name": string, "ttl_days"?: integer|null}. */
int cp_api_parse_token_create(const cJSON *body, cp_api_token_create_t *out, char *err,
                              size_t errlen);

/* A quota value: absent (leave as is), null (use the default) or a value. */
typedef enum cp_api_opt_e { CP_API_ABSENT = 0, CP_API_NULL, CP_API_SET } cp_api_opt_t;

#define CP_API_MAX_MODELS 64

typedef struct cp_api_quota_s {
  cp_api_opt_t models_set;
  const char *models[CP_API_MAX_MODELS]; /* allowed_models entries */
  size_t nmodels;
  cp_api_opt_t token_budget_set, cost_budget_set, rpm_set, streams_set;
  int64_t token_budget, cost_budget; /* >= 0 */
  int64_t rpm, streams;              /* 0 .. 2^31-1 */
} cp_api_quota_t;

/* {"allowed_models"?: [string]|null, "monthly_token_budget"?: integer|null,
 * "monthly_cost_budget_microusd"?: integer|null, "requests_per_minute"?: integer|null,
 * "max_concurrent_streams"?: integer|null}. Model names are 1..256 printable characters,
 * at most CP_API_MAX_MODELS. */
int cp_api_parse_quota(const cJSON *body, cp_api_quota_t *out, char *err, size_t errlen);

/* Finds key in a raw query string ("a=1&b=x%20y") and percent-decodes its value ('+' is
 * a space) into out. Returns 0, CP_ENOTFOUND, CP_EPARSE (bad escape or a NUL byte) or
 * CP_ETOOBIG. */
int cp_api_query_get(const char *query, const char *key, char *out, size_t outlen);

/* cp_api_query_get, then a decimal integer in [lo, hi]. Returns 0 (*out set),
 * CP_ENOTFOUND, or CP_EINVAL with err naming the parameter and the range. */
int cp_api_query_long(const char *query, const char *key, long lo, long hi, long *out, char *err,
                      size_t errlen);

#endif
