/* Fuzzes the kubeconfig parser: YAML conversion, shape checks, context selection, base64.
 * base_dir points at a directory that does not exist, so relative file references fail
 * fast; absolute ones may read real files, which read_file caps and limits to regular
 * files. The first byte picks whether an explicit context is asked for, so both paths of
 * context selection get exercised. */
#include <stddef.h>
#include <stdint.h>

#include "kube/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *context = size > 0 && (data[0] & 1) ? "dev" : NULL;
  cp_kubeconfig_t *cfg = NULL;
  char err[256];
  if (cp_kubeconfig_parse((const char *)data, size, context, "/nonexistent/clawplane-fuzz", &cfg,
                          err, sizeof err) == 0)
    cp_kubeconfig_free(cfg);
  return 0;
}
