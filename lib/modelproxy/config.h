/* The model proxy's configuration file: upstreams, models, prices and default limits.
 *
 * YAML or JSON, e.g.
 *
 *   upstreams:
 *     - name: litellm
 *       baseURL: http://litellm.ai.svc:4000/v1   # the /v1 the API paths are appended to
 *       apiKeyEnv: LITELLM_MASTER_KEY            # or apiKeyFile: /etc/clawplane/keys/litellm
 *       auth: bearer                             # bearer (default) | x-api-key | none
 *   models:
 *     - name: gpt-4o-mini          # what runtimes ask for ("*": any other name)
 *       upstream: litellm
 *       upstreamModel: openai/gpt-4o-mini   # optional: the upstream's name for it
 *       price: {prompt: "0.15", completion: "0.60"}   # USD per million tokens
 *   defaults:                      # per user; user_quotas rows override them
 *     allowedModels: ["*"]         # names, "prefix*" or "*"
 *     requestsPerMinute: 60        # absent or null: no limit
 *     maxConcurrentStreams: 4
 *     monthlyTokenBudget: 2000000
 *     monthlyCostBudgetUSD: "20.00"
 *
 * Upstream keys are read when the file is loaded (from the environment or the file) and
 * kept in memory only; cp_mp_config_free wipes them. Nothing here ever prints a key.
 */
#ifndef CP_MODELPROXY_CONFIG_H
#define CP_MODELPROXY_CONFIG_H

#include <stddef.h>

#include "modelproxy/policy.h"
#include "modelproxy/pricing.h"

typedef enum cp_mp_key_style_e {
  CP_MP_AUTH_BEARER = 0, /* Authorization: Bearer <key> */
  CP_MP_AUTH_X_API_KEY,  /* x-api-key: <key> (Anthropic) */
  CP_MP_AUTH_NONE,       /* no credential (a trusted in-cluster server) */
} cp_mp_key_style_t;

typedef struct cp_mp_upstream_s {
  char *name;
  char *base_url; /* no trailing '/' */
  char *api_key;  /* NULL with CP_MP_AUTH_NONE; secret */
  cp_mp_key_style_t auth;
} cp_mp_upstream_t;

typedef struct cp_mp_model_s {
  char *name;
  char *upstream_model; /* NULL: same as name (or as asked, for "*") */
  const cp_mp_upstream_t *upstream;
  cp_mp_price_t price;
} cp_mp_model_t;

typedef struct cp_mp_config_s {
  cp_mp_upstream_t *upstreams;
  size_t nupstreams;
  cp_mp_model_t *models;
  size_t nmodels;
  const cp_mp_model_t *wildcard; /* the "*" model, or NULL */
  cp_mp_limits_t defaults;       /* allowed_models points into the config */
  char **allowed;                /* storage of defaults.allowed_models */
} cp_mp_config_t;

/* Parses a configuration document (YAML or JSON, at most 1 MiB). Keys named by apiKeyFile
 * are read relative to base_dir (NULL: the current directory), apiKeyEnv from the
 * environment. Returns 0 and *out (free with cp_mp_config_free), or CP_EPARSE /
 * CP_ECONFIG / CP_EIO / CP_ENOMEM with a sentence in err naming the problem (never a key).
 * Reads the environment: do not race it with setenv. */
int cp_mp_config_parse(const char *text, size_t len, const char *base_dir, cp_mp_config_t **out,
                       char *err, size_t errlen);

/* Reads and parses the file at path. Same returns. */
int cp_mp_config_load(const char *path, cp_mp_config_t **out, char *err, size_t errlen);

/* The model entry for name: an exact entry, else the "*" entry, else NULL. Borrowed. */
const cp_mp_model_t *cp_mp_config_model(const cp_mp_config_t *cfg, const char *name);

/* Wipes the keys and frees everything. Accepts NULL. */
void cp_mp_config_free(cp_mp_config_t *cfg);

#endif
