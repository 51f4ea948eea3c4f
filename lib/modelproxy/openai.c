/* OpenAI shapes built with cJSON, so messages and names are always escaped. */
#include "modelproxy/openai.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static cJSON *error_obj(const char *type, const char *code, const char *message) {
  cJSON *root = cJSON_CreateObject();
  cJSON *e = cJSON_AddObjectToObject(root, "error");
  if (!e || !cJSON_AddStringToObject(e, "message", message ? message : "") ||
      !cJSON_AddStringToObject(e, "type", type ? type : "server_error") ||
      !cJSON_AddNullToObject(e, "param") ||
      !(code ? cJSON_AddStringToObject(e, "code", code) : cJSON_AddNullToObject(e, "code"))) {
    cJSON_Delete(root);
    return NULL;
  }
  return root;
}

char *cp_mp_error_json(const char *type, const char *code, const char *message) {
  cJSON *root = error_obj(type, code, message);
  char *s = root ? cJSON_PrintUnformatted(root) : NULL;
  cJSON_Delete(root);
  return s;
}

char *cp_mp_error_event(const char *type, const char *code, const char *message) {
  char *body = cp_mp_error_json(type, code, message);
  if (!body)
    return NULL;
  size_t n = strlen(body);
  char *ev = malloc(n + 9);
  if (ev) {
    memcpy(ev, "data: ", 6);
    memcpy(ev + 6, body, n);
    memcpy(ev + 6 + n, "\n\n", 3);
  }
  cJSON_free(body);
  return ev;
}

static cJSON *model_obj(const char *name) {
  cJSON *m = cJSON_CreateObject();
  if (!m || !cJSON_AddStringToObject(m, "id", name) ||
      !cJSON_AddStringToObject(m, "object", "model") || !cJSON_AddNumberToObject(m, "created", 0) ||
      !cJSON_AddStringToObject(m, "owned_by", "clawplane")) {
    cJSON_Delete(m);
    return NULL;
  }
  return m;
}

char *cp_mp_models_json(const cp_mp_config_t *cfg, const cp_mp_limits_t *limits) {
  cJSON *root = cJSON_CreateObject();
  cJSON *data = NULL;
  int ok = root && cJSON_AddStringToObject(root, "object", "list") &&
           (data = cJSON_AddArrayToObject(root, "data")) != NULL;
  for (size_t i = 0; ok && cfg && i < cfg->nmodels; i++) {
    const char *name = cfg->models[i].name;
    if (strcmp(name, "*") == 0 || !cp_mp_model_allowed(limits, name))
      continue;
    cJSON *m = model_obj(name);
    ok = m && cJSON_AddItemToArray(data, m);
    if (!ok)
      cJSON_Delete(m);
  }
  char *s = ok ? cJSON_PrintUnformatted(root) : NULL;
  cJSON_Delete(root);
  return s;
}

char *cp_mp_model_json(const cp_mp_config_t *cfg, const cp_mp_limits_t *limits, const char *name) {
  for (size_t i = 0; cfg && name && i < cfg->nmodels; i++) {
    if (strcmp(cfg->models[i].name, name) != 0 || strcmp(name, "*") == 0 ||
        !cp_mp_model_allowed(limits, name))
      continue;
    cJSON *m = model_obj(name);
    char *s = m ? cJSON_PrintUnformatted(m) : NULL;
    cJSON_Delete(m);
    return s;
  }
  return NULL;
}
