/* Request bodies: parse once with cJSON (size-capped via cp_json_parse), check the few
 * fields the proxy acts on, rewrite those in the tree, print unformatted. */
#include "modelproxy/request.h"
#include "core/error.h"
#include "core/utf8.h"
#include "json/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
  const char *path;
  cp_mp_api_t api;
} ROUTES[] = {{"/chat/completions", CP_MP_API_CHAT},
              {"/completions", CP_MP_API_COMPLETIONS},
              {"/embeddings", CP_MP_API_EMBEDDINGS},
              {"/messages", CP_MP_API_MESSAGES}};

int cp_mp_api_from_path(const char *path, cp_mp_api_t *out) {
  if (!path)
    return CP_ENOTFOUND;
  if (strncmp(path, "/v1/", 4) == 0)
    path += 3;
  for (size_t i = 0; i < sizeof ROUTES / sizeof ROUTES[0]; i++) {
    if (strcmp(path, ROUTES[i].path) == 0) {
      *out = ROUTES[i].api;
      return 0;
    }
  }
  return CP_ENOTFOUND;
}

const char *cp_mp_api_path(cp_mp_api_t api) {
  for (size_t i = 0; i < sizeof ROUTES / sizeof ROUTES[0]; i++)
    if (ROUTES[i].api == api)
      return ROUTES[i].path;
  return "/chat/completions";
}

static int fail(int rc, char *err, size_t errlen, const char *msg) {
  if (err && errlen)
    snprintf(err, errlen, "%s", msg);
  return rc;
}

int cp_mp_request_parse(const char *body, size_t len, size_t max, cp_mp_api_t api, cJSON **root,
                        cp_mp_request_t *req, char *err, size_t errlen) {
  cJSON *r = NULL;
  int rc = cp_json_parse(body, len, max, &r);
  if (rc == CP_ETOOBIG)
    return fail(rc, err, errlen, "the request body is too large");
  if (rc == 0 && cp_utf8_valid_len(body, len) != len) {
    cJSON_Delete(r);
    return fail(CP_EPARSE, err, errlen, "the request body is not valid UTF-8");
  }
  if (rc != 0)
    return fail(CP_EPARSE, err, errlen, "the request body is not valid JSON");
  cp_mp_request_t q = {0};
  const cJSON *model = cJSON_GetObjectItemCaseSensitive(r, "model");
  const cJSON *stream = cJSON_GetObjectItemCaseSensitive(r, "stream");
  const cJSON *opts = cJSON_GetObjectItemCaseSensitive(r, "stream_options");
  if (!cJSON_IsObject(r)) {
    rc = fail(CP_EPARSE, err, errlen, "the request body must be a JSON object");
  } else if (!cJSON_IsString(model) || !model->valuestring[0] ||
             strlen(model->valuestring) >= sizeof q.model) {
    rc = fail(CP_EINVAL, err, errlen,
              "you must provide a model parameter (a non-empty string of at most 255 bytes)");
  } else if (stream && !cJSON_IsBool(stream) && !cJSON_IsNull(stream)) {
    rc = fail(CP_EINVAL, err, errlen, "\"stream\" must be a boolean");
  } else if (opts && !cJSON_IsObject(opts) && !cJSON_IsNull(opts)) {
    rc = fail(CP_EINVAL, err, errlen, "\"stream_options\" must be an object");
  }
  if (rc != 0) {
    cJSON_Delete(r);
    return rc;
  }
  memcpy(q.model, model->valuestring, strlen(model->valuestring) + 1);
  q.stream = api != CP_MP_API_EMBEDDINGS && cJSON_IsTrue(stream);
  q.client_wants_usage =
      cJSON_IsObject(opts) && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(opts, "include_usage"));
  *root = r;
  *req = q;
  return 0;
}

int cp_mp_request_rewrite(cJSON *root, cp_mp_api_t api, const cp_mp_request_t *req,
                          const char *upstream_model, char **out, size_t *outlen) {
  if (!root || !req || !out)
    return CP_EINVAL;
  if (upstream_model && *upstream_model && strcmp(upstream_model, req->model) != 0) {
    if (cp_json_set(root, "model", cJSON_CreateString(upstream_model)) != 0)
      return CP_ENOMEM;
  }
  if (req->stream && (api == CP_MP_API_CHAT || api == CP_MP_API_COMPLETIONS)) {
    cJSON *opts = cp_json_child_object(root, "stream_options");
    if (!opts || cp_json_set(opts, "include_usage", cJSON_CreateTrue()) != 0)
      return CP_ENOMEM;
  }
  char *text = cJSON_PrintUnformatted(root);
  if (!text)
    return CP_ENOMEM;
  *out = text;
  if (outlen)
    *outlen = strlen(text);
  return 0;
}
