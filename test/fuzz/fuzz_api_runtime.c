/* Fuzzes what the apiserver does with UserRuntime objects from the API server (or a
 * hostile one): the user-facing view, managedFields ownership, apply bodies built on top
 * of the object, and the wake rule. None may crash; the view and the apply body are
 * always objects, and the apply body carries the user and never a status. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/runtime.h"
#include "json/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cJSON *ur = NULL;
  if (cp_json_parse((const char *)data, size, 1 << 20, &ur) != 0)
    return 0;
  cJSON *view = cp_api_runtime_view(ur);
  if (!view || !cJSON_IsObject(view))
    abort();
  cJSON_Delete(view);
  (void)cp_api_owned_fields(ur, "clawplane-apiserver");
  cJSON *res = cJSON_CreateObject();
  cp_api_runtime_change_t chg = {.state = "Running", .resources = res, .retain_on_delete = 0};
  cJSON *body = NULL;
  if (cp_api_runtime_apply_body(ur, "ns", "alice", "alice", "clawplane-apiserver", &chg, &body) !=
      0)
    abort();
  const char *user = cp_json_strv(body, "spec", "user", NULL);
  if (!user || strcmp(user, "alice") != 0 || cp_json_getv(body, "status", NULL))
    abort();
  cJSON_Delete(body);
  cJSON_Delete(res);
  double at = 0;
  if (cp_api_wake_needed(ur, 1.8e9, &at) && !(at >= 1.8e9))
    abort();
  cJSON_Delete(ur);
  return 0;
}
