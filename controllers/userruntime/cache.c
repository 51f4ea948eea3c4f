/* The projections of cache.h. */
#include "userruntime/cache.h"
#include "json/drift.h"
#include "userruntime/drift.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

/* What reconcile reads of a Pod besides the drift rules: its identity and metadata (uid,
 * deletionTimestamp, the spec-hash and credentials annotations, labels, owners) and what
 * cp_ur_observe_pod classifies it by. */
static const cp_json_rule_t pod_read[] = {
    {"apiVersion", false},
    {"kind", false},
    {"metadata", false},
    {"status/phase", false},
    {"status/reason", false},
    {"status/message", false},
    {"status/conditions/*/type", false},
    {"status/conditions/*/status", false},
    {"status/conditions/*/reason", false},
    {"status/conditions/*/message", false},
    {"status/conditions/*/lastTransitionTime", false},
    {"status/initContainerStatuses/*/name", false},
    {"status/initContainerStatuses/*/state/waiting", false},
    {"status/initContainerStatuses/*/lastState/terminated/message", false},
    {"status/containerStatuses/*/name", false},
    {"status/containerStatuses/*/state/waiting", false},
    {"status/containerStatuses/*/lastState/terminated/message", false},
    {NULL, false}};

void cp_ur_project_pod(cJSON *pod, void *ud) {
  (void)ud;
  static const cp_json_rule_t *const keep[] = {pod_read, cp_ur_rules_pod_meta, cp_ur_rules_pod_spec,
                                               NULL};
  cp_json_keep(pod, keep);
}

static void hash_values(cJSON *obj) {
  cJSON *v;
  cJSON_ArrayForEach(v, obj) {
    if (!cJSON_IsString(v) || strncmp(v->valuestring, "sha256:", 7) == 0)
      continue; /* already a digest: projecting twice changes nothing */
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    char hex[7 + 2 * EVP_MAX_MD_SIZE + 1] = "sha256:";
    if (EVP_Digest(v->valuestring, strlen(v->valuestring), md, &n, EVP_sha256(), NULL) != 1)
      n = 0; /* no digest: the value is dropped all the same */
    for (unsigned int i = 0; i < n; i++)
      snprintf(hex + 7 + 2 * i, 3, "%02x", md[i]);
    /* cJSON_SetValuestring copies in place when the new text is not longer. */
    if (!cJSON_SetValuestring(v, hex))
      v->valuestring[0] = '\0';
  }
}

void cp_ur_project_secret(cJSON *secret, void *ud) {
  (void)ud;
  hash_values(cJSON_GetObjectItemCaseSensitive(secret, "data"));
  hash_values(cJSON_GetObjectItemCaseSensitive(secret, "stringData"));
}
