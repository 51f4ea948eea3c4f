/* Fuzzes YAML to JSON conversion, and checks that every tree it returns prints as JSON
 * that cJSON parses back (so the tree is well formed). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "yaml/yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cJSON *root = NULL;
  char err[256];
  if (cp_yaml_to_json((const char *)data, size, 1 << 20, &root, err, sizeof err) != 0)
    return 0;
  char *text = cJSON_PrintUnformatted(root);
  if (text) {
    cJSON *again = cJSON_Parse(text);
    if (!again)
      abort(); /* the converter produced a tree that is not valid JSON */
    cJSON_Delete(again);
    cJSON_free(text);
  }
  cJSON_Delete(root);
  return 0;
}
