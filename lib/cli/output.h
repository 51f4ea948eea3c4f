/* Structured output for scripts: `-o json` (the server's JSON, indented) and `-o yaml`
 * (the same tree as block YAML; every string double-quoted with JSON escapes, which YAML
 * reads back the same, so no value can turn into another type or a document marker). */
#ifndef CP_CLI_OUTPUT_H
#define CP_CLI_OUTPUT_H

#include <cjson/cJSON.h>
#include <stdio.h>

/* Writes v as indented JSON and a newline. Returns 0 or CP_ENOMEM. */
int cp_cli_print_json(FILE *f, const cJSON *v);

/* Writes v as a YAML document. Returns 0 or CP_ENOMEM. */
int cp_cli_print_yaml(FILE *f, const cJSON *v);

#endif
