/* Configuration loading: YAML to cJSON (lib/yaml), then a strict walk that names the first
 * problem it meets. Keys are checked to be header-safe (printable ASCII, no spaces) so one
 * can never smuggle a header line upstream, and are wiped with OPENSSL_cleanse on free. */
#include "modelproxy/config.h"
#include "core/error.h"
#include "yaml/yaml.h"

#include <errno.h>
#include <math.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_MAX (1u << 20)
#define KEY_FILE_MAX (64u << 10)

__attribute__((format(printf, 4, 5))) static int fail(char *err, size_t errlen, int rc,
                                                      const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return rc;
}

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d)
    memcpy(d, s, n);
  return d;
}

static void wipe_free(char *s) {
  if (s) {
    OPENSSL_cleanse(s, strlen(s));
    free(s);
  }
}

void cp_mp_config_free(cp_mp_config_t *cfg) {
  if (!cfg)
    return;
  for (size_t i = 0; i < cfg->nupstreams; i++) {
    free(cfg->upstreams[i].name);
    free(cfg->upstreams[i].base_url);
    wipe_free(cfg->upstreams[i].api_key);
  }
  for (size_t i = 0; i < cfg->nmodels; i++) {
    free(cfg->models[i].name);
    free(cfg->models[i].upstream_model);
  }
  for (size_t i = 0; i < cfg->defaults.nallowed; i++)
    free(cfg->allowed[i]);
  free(cfg->allowed);
  free(cfg->upstreams);
  free(cfg->models);
  free(cfg);
}

/* A key is usable in a header: 1..4096 bytes of printable ASCII without spaces. */
static int key_ok(const char *k) {
  size_t n = 0;
  for (; k[n]; n++)
    if (k[n] < 0x21 || k[n] > 0x7e)
      return 0;
  return n > 0 && n <= 4096;
}

static int read_key_file(const char *path, const char *base_dir, char **out) {
  char full[4096];
  if (path[0] != '/' && base_dir && *base_dir)
    snprintf(full, sizeof full, "%s/%s", base_dir, path);
  else
    snprintf(full, sizeof full, "%s", path);
  FILE *f = fopen(full, "rb");
  if (!f)
    return CP_EIO;
  char *buf = malloc(KEY_FILE_MAX + 1);
  if (!buf) {
    fclose(f);
    return CP_ENOMEM;
  }
  size_t n = fread(buf, 1, KEY_FILE_MAX + 1, f);
  int bad = ferror(f) || n > KEY_FILE_MAX;
  fclose(f);
  if (bad) {
    OPENSSL_cleanse(buf, KEY_FILE_MAX + 1);
    free(buf);
    return CP_EIO;
  }
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
    n--;
  buf[n] = '\0';
  *out = buf;
  return 0;
}

static const char *str_of(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

static int parse_upstream(const cJSON *u, size_t i, const char *base_dir, cp_mp_upstream_t *up,
                          char *err, size_t errlen) {
  const char *name = str_of(u, "name"), *url = str_of(u, "baseURL");
  const char *env = str_of(u, "apiKeyEnv"), *file = str_of(u, "apiKeyFile");
  const char *auth = str_of(u, "auth");
  if (!cJSON_IsObject(u) || !name)
    return fail(err, errlen, CP_ECONFIG, "upstreams[%zu] needs a name", i);
  if (!url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
    return fail(err, errlen, CP_ECONFIG, "upstream \"%s\" needs a baseURL starting with http(s)://",
                name);
  if (!auth || strcmp(auth, "bearer") == 0)
    up->auth = CP_MP_AUTH_BEARER;
  else if (strcmp(auth, "x-api-key") == 0)
    up->auth = CP_MP_AUTH_X_API_KEY;
  else if (strcmp(auth, "none") == 0)
    up->auth = CP_MP_AUTH_NONE;
  else
    return fail(err, errlen, CP_ECONFIG, "upstream \"%s\": auth must be bearer, x-api-key or none",
                name);
  if (!(up->name = dup_str(name)) || !(up->base_url = dup_str(url)))
    return fail(err, errlen, CP_ENOMEM, "out of memory");
  size_t n = strlen(up->base_url);
  while (n > 0 && up->base_url[n - 1] == '/')
    up->base_url[--n] = '\0';
  if (up->auth == CP_MP_AUTH_NONE)
    return 0;
  if ((env != NULL) == (file != NULL))
    return fail(err, errlen, CP_ECONFIG,
                "upstream \"%s\" needs exactly one of apiKeyEnv and apiKeyFile (or auth: none)",
                name);
  if (env) {
    const char *v = getenv(env);
    if (!v || !*v)
      return fail(err, errlen, CP_ECONFIG, "upstream \"%s\": environment variable %s is not set",
                  name, env);
    if (!(up->api_key = dup_str(v)))
      return fail(err, errlen, CP_ENOMEM, "out of memory");
  } else {
    int rc = read_key_file(file, base_dir, &up->api_key);
    if (rc != 0)
      return fail(err, errlen, rc, "upstream \"%s\": cannot read apiKeyFile %s", name, file);
  }
  if (!key_ok(up->api_key))
    return fail(err, errlen, CP_ECONFIG,
                "upstream \"%s\": the API key must be printable ASCII without spaces", name);
  return 0;
}

static int parse_model(const cp_mp_config_t *cfg, const cJSON *m, size_t i, cp_mp_model_t *mo,
                       char *err, size_t errlen) {
  const char *name = str_of(m, "name"), *up = str_of(m, "upstream");
  const char *um = str_of(m, "upstreamModel");
  if (!cJSON_IsObject(m) || !name || strlen(name) >= 256)
    return fail(err, errlen, CP_ECONFIG, "models[%zu] needs a name (under 256 bytes)", i);
  for (size_t k = 0; k < i; k++)
    if (strcmp(cfg->models[k].name, name) == 0)
      return fail(err, errlen, CP_ECONFIG, "model \"%s\" is listed twice", name);
  for (size_t k = 0; up && k < cfg->nupstreams; k++)
    if (strcmp(cfg->upstreams[k].name, up) == 0)
      mo->upstream = &cfg->upstreams[k];
  if (!mo->upstream)
    return fail(err, errlen, CP_ECONFIG, "model \"%s\" names no known upstream", name);
  const cJSON *price = cJSON_GetObjectItemCaseSensitive(m, "price");
  if (price && !cJSON_IsNull(price)) {
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(price, "prompt");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(price, "completion");
    if (!cJSON_IsObject(price) || (p && cp_mp_price_parse_usd(p, &mo->price.prompt_per_mtok)) ||
        (c && cp_mp_price_parse_usd(c, &mo->price.completion_per_mtok)))
      return fail(err, errlen, CP_ECONFIG,
                  "model \"%s\": price wants {prompt, completion} in USD per million tokens "
                  "(at most 6 decimals)",
                  name);
  }
  if (!(mo->name = dup_str(name)) || (um && !(mo->upstream_model = dup_str(um))))
    return fail(err, errlen, CP_ENOMEM, "out of memory");
  return 0;
}

/* Reads defaults[key] as a limit: absent or null is unlimited. */
static int limit_of(const cJSON *d, const char *key, int64_t *out, char *err, size_t errlen) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(d, key);
  if (!v || cJSON_IsNull(v)) {
    *out = CP_MP_UNLIMITED;
    return 0;
  }
  if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 9e15 ||
      v->valuedouble != floor(v->valuedouble))
    return fail(err, errlen, CP_ECONFIG, "defaults.%s must be a whole number >= 0 or null", key);
  *out = (int64_t)v->valuedouble;
  return 0;
}

static int parse_defaults(cp_mp_config_t *cfg, const cJSON *d, char *err, size_t errlen) {
  cp_mp_limits_t *l = &cfg->defaults;
  l->allow_all = 1;
  l->monthly_tokens = l->monthly_cost_microusd = CP_MP_UNLIMITED;
  l->requests_per_minute = l->max_streams = CP_MP_UNLIMITED;
  if (!d || cJSON_IsNull(d))
    return 0;
  if (!cJSON_IsObject(d))
    return fail(err, errlen, CP_ECONFIG, "defaults must be a mapping");
  int rc;
  if ((rc = limit_of(d, "requestsPerMinute", &l->requests_per_minute, err, errlen)) ||
      (rc = limit_of(d, "maxConcurrentStreams", &l->max_streams, err, errlen)) ||
      (rc = limit_of(d, "monthlyTokenBudget", &l->monthly_tokens, err, errlen)))
    return rc;
  const cJSON *cost = cJSON_GetObjectItemCaseSensitive(d, "monthlyCostBudgetUSD");
  if (cost && !cJSON_IsNull(cost) && cp_mp_price_parse_usd(cost, &l->monthly_cost_microusd))
    return fail(err, errlen, CP_ECONFIG, "defaults.monthlyCostBudgetUSD must be a USD amount");
  const cJSON *am = cJSON_GetObjectItemCaseSensitive(d, "allowedModels");
  if (!am || cJSON_IsNull(am))
    return 0;
  if (!cJSON_IsArray(am))
    return fail(err, errlen, CP_ECONFIG, "defaults.allowedModels must be a list of names");
  size_t n = (size_t)cJSON_GetArraySize(am);
  cfg->allowed = calloc(n ? n : 1, sizeof(char *));
  if (!cfg->allowed)
    return fail(err, errlen, CP_ENOMEM, "out of memory");
  l->allow_all = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, am) {
    if (!cJSON_IsString(it) || !it->valuestring[0])
      return fail(err, errlen, CP_ECONFIG, "defaults.allowedModels must be a list of names");
    if (strcmp(it->valuestring, "*") == 0)
      l->allow_all = 1;
    if (!(cfg->allowed[l->nallowed] = dup_str(it->valuestring)))
      return fail(err, errlen, CP_ENOMEM, "out of memory");
    l->nallowed++;
  }
  l->allowed_models = (const char *const *)cfg->allowed;
  return 0;
}

static int parse_root(cp_mp_config_t *cfg, const cJSON *root, const char *base_dir, char *err,
                      size_t errlen) {
  const cJSON *ups = cJSON_GetObjectItemCaseSensitive(root, "upstreams");
  const cJSON *models = cJSON_GetObjectItemCaseSensitive(root, "models");
  if (!cJSON_IsObject(root))
    return fail(err, errlen, CP_ECONFIG, "the configuration must be a mapping");
  if (!cJSON_IsArray(ups) || cJSON_GetArraySize(ups) == 0)
    return fail(err, errlen, CP_ECONFIG, "upstreams must be a non-empty list");
  if (!cJSON_IsArray(models) || cJSON_GetArraySize(models) == 0)
    return fail(err, errlen, CP_ECONFIG, "models must be a non-empty list");
  size_t nu = (size_t)cJSON_GetArraySize(ups), nm = (size_t)cJSON_GetArraySize(models);
  cfg->upstreams = calloc(nu, sizeof *cfg->upstreams);
  cfg->models = calloc(nm, sizeof *cfg->models);
  if (!cfg->upstreams || !cfg->models)
    return fail(err, errlen, CP_ENOMEM, "out of memory");
  const cJSON *it;
  int rc;
  cJSON_ArrayForEach(it, ups) {
    size_t i = cfg->nupstreams++;
    if ((rc = parse_upstream(it, i, base_dir, &cfg->upstreams[i], err, errlen)) != 0)
      return rc;
    for (size_t k = 0; k < i; k++)
      if (strcmp(cfg->upstreams[k].name, cfg->upstreams[i].name) == 0)
        return fail(err, errlen, CP_ECONFIG, "upstream \"%s\" is listed twice",
                    cfg->upstreams[i].name);
  }
  cJSON_ArrayForEach(it, models) {
    size_t i = cfg->nmodels++;
    if ((rc = parse_model(cfg, it, i, &cfg->models[i], err, errlen)) != 0)
      return rc;
    if (strcmp(cfg->models[i].name, "*") == 0)
      cfg->wildcard = &cfg->models[i];
  }
  return parse_defaults(cfg, cJSON_GetObjectItemCaseSensitive(root, "defaults"), err, errlen);
}

int cp_mp_config_parse(const char *text, size_t len, const char *base_dir, cp_mp_config_t **out,
                       char *err, size_t errlen) {
  cJSON *root = NULL;
  char yerr[256] = "";
  int rc = cp_yaml_to_json(text, len, CONFIG_MAX, &root, yerr, sizeof yerr);
  if (rc != 0)
    return fail(err, errlen, rc == CP_ENOMEM ? rc : CP_EPARSE, "%s", yerr);
  cp_mp_config_t *cfg = calloc(1, sizeof *cfg);
  if (!cfg)
    rc = fail(err, errlen, CP_ENOMEM, "out of memory");
  else
    rc = parse_root(cfg, root, base_dir, err, errlen);
  cJSON_Delete(root);
  if (rc != 0) {
    cp_mp_config_free(cfg);
    return rc;
  }
  *out = cfg;
  return 0;
}

int cp_mp_config_load(const char *path, cp_mp_config_t **out, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return fail(err, errlen, CP_EIO, "cannot open %s: %s", path, strerror(errno));
  char *buf = malloc(CONFIG_MAX + 1);
  size_t n = buf ? fread(buf, 1, CONFIG_MAX + 1, f) : 0;
  int bad = !buf || ferror(f);
  fclose(f);
  if (bad || n > CONFIG_MAX) {
    free(buf);
    return fail(err, errlen, bad ? CP_EIO : CP_ETOOBIG, "cannot read %s (at most 1 MiB)", path);
  }
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash)
    *slash = '\0';
  int rc = cp_mp_config_parse(buf, n, slash ? dir : NULL, out, err, errlen);
  free(buf);
  return rc;
}

const cp_mp_model_t *cp_mp_config_model(const cp_mp_config_t *cfg, const char *name) {
  if (!cfg || !name)
    return NULL;
  for (size_t i = 0; i < cfg->nmodels; i++)
    if (strcmp(cfg->models[i].name, name) == 0)
      return &cfg->models[i];
  return cfg->wildcard;
}
