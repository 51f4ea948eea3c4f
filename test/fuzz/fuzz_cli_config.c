/* Fuzzes clawctl's config-file parser, and checks that whatever it accepts dumps to text
 * that parses back to the same contexts (so `clawctl config use-context` never writes a
 * file it would then refuse). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cp_cli_config_t *cfg = NULL, *back = NULL;
  char err[256];
  if (cp_cli_config_parse((const char *)data, size, &cfg, err, sizeof err) != 0)
    return 0;
  char *text = cp_cli_config_dump(cfg);
  if (text) {
    if (cp_cli_config_parse(text, strlen(text), &back, err, sizeof err) != 0 ||
        back->ncontexts != cfg->ncontexts || strcmp(back->current, cfg->current) != 0)
      abort();
    for (size_t i = 0; i < cfg->ncontexts; i++)
      if (memcmp(&back->contexts[i], &cfg->contexts[i], sizeof cfg->contexts[i]) != 0)
        abort();
    cp_cli_config_free(back);
    free(text);
  }
  cp_cli_config_free(cfg);
  return 0;
}
