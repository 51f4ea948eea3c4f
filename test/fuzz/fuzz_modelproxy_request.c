/* Fuzzes what the model proxy does with a request body from a runtime: parse, rewrite for
 * the upstream (which must print valid JSON naming the upstream model), and the usage
 * readers the same bytes could reach as a response body. The first byte picks the API. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "modelproxy/request.h"
#include "modelproxy/usage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  cp_mp_api_t api = (cp_mp_api_t)(data[0] % 4);
  const char *body = (const char *)data + 1;
  size_t len = size - 1;
  cJSON *root = NULL;
  cp_mp_request_t rq;
  char err[128];
  if (cp_mp_request_parse(body, len, 1 << 20, api, &root, &rq, err, sizeof err) == 0) {
    if (!rq.model[0] || strlen(rq.model) >= CP_MP_MODEL_MAX || cp_utf8_valid_len(body, len) != len)
      abort();
    char *out = NULL;
    size_t n = 0;
    if (cp_mp_request_rewrite(root, api, &rq, "upstream-model", &out, &n) == 0) {
      cJSON *again = cJSON_ParseWithLength(out, n);
      const cJSON *m = cJSON_GetObjectItemCaseSensitive(again, "model");
      if (!again || !cJSON_IsString(m) || strcmp(m->valuestring, "upstream-model") != 0)
        abort();
      cJSON_Delete(again);
      cJSON_free(out);
    }
    cJSON_Delete(root);
  }
  cp_mp_usage_t u = {0};
  cp_mp_usage_merge_text(&u, body, len);
  cp_mp_usage_merge_tail(&u, body, len);
  if (u.prompt_tokens < 0 || u.completion_tokens < 0)
    abort();
  return 0;
}
