/* -o json and -o yaml (see output.h). YAML is written by hand from the cJSON tree because
 * the shape is fixed and small: block mappings and sequences, flow "{}"/"[]" when empty,
 * scalars as JSON writes them. */
#include "cli/output.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

int cp_cli_print_json(FILE *f, const cJSON *v) {
  char *s = cJSON_Print(v);
  if (!s)
    return CP_ENOMEM;
  fputs(s, f);
  fputc('\n', f);
  free(s);
  return 0;
}

static int scalar(FILE *f, const cJSON *v) {
  char *s = cJSON_PrintUnformatted(v);
  if (!s)
    return CP_ENOMEM;
  fputs(s, f);
  free(s);
  return 0;
}

static int plain_key(const char *k) {
  if (!*k)
    return 0;
  for (; *k; k++)
    if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') || (*k >= '0' && *k <= '9') ||
          *k == '_' || *k == '-' || *k == '.'))
      return 0;
  return 1;
}

static int key(FILE *f, const char *k) {
  if (plain_key(k)) {
    fputs(k, f);
  } else {
    cJSON *s = cJSON_CreateString(k);
    int rc = s ? scalar(f, s) : CP_ENOMEM;
    cJSON_Delete(s);
    if (rc)
      return rc;
  }
  fputc(':', f);
  return 0;
}

static int is_block(const cJSON *v) {
  return (cJSON_IsObject(v) || cJSON_IsArray(v)) && v->child;
}

static int node(FILE *f, const cJSON *v, int indent);

/* Writes a value that follows "key:" or "- " on the same line. */
static int after_marker(FILE *f, const cJSON *v, int indent, int in_seq) {
  if (!is_block(v)) {
    fputc(' ', f);
    if (cJSON_IsObject(v))
      fputs("{}", f);
    else if (cJSON_IsArray(v))
      fputs("[]", f);
    else if (scalar(f, v))
      return CP_ENOMEM;
    fputc('\n', f);
    return 0;
  }
  if (in_seq && cJSON_IsObject(v)) { /* "- a: 1" then the other keys under it */
    fputc(' ', f);
    return node(f, v, -(indent + 2));
  }
  fputc('\n', f);
  return node(f, v, indent + 2);
}

/* indent < 0: the first line is already indented (after "- "). */
static int node(FILE *f, const cJSON *v, int indent) {
  int first_inline = indent < 0;
  if (first_inline)
    indent = -indent;
  int rc = 0;
  for (const cJSON *c = v->child; c && rc == 0; c = c->next) {
    if (!first_inline || c != v->child)
      fprintf(f, "%*s", indent, "");
    if (cJSON_IsObject(v)) {
      rc = key(f, c->string);
      rc = rc ? rc : after_marker(f, c, indent, 0);
    } else {
      fputc('-', f);
      rc = after_marker(f, c, indent, 1);
    }
  }
  return rc;
}

int cp_cli_print_yaml(FILE *f, const cJSON *v) {
  if (!is_block(v)) {
    int rc = cJSON_IsObject(v)  ? (fputs("{}", f), 0)
             : cJSON_IsArray(v) ? (fputs("[]", f), 0)
                                : scalar(f, v);
    fputc('\n', f);
    return rc;
  }
  return node(f, v, 0);
}
