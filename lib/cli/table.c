/* Aligned text tables (see table.h). Rows are kept as one cleaned string per cell until
 * printing, when the column widths are known. */
#include "cli/table.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/str.h"

struct cp_cli_table_s {
  size_t ncols;
  size_t nrows, alloc;
  char **cells; /* (nrows + 1) * ncols: the header row first */
};

char *cp_cli_cell_clean(char *dst, size_t n, const char *src) {
  cp_str_copy(dst, n, src);
  for (unsigned char *p = (unsigned char *)dst; *p; p++)
    if (*p < 0x20 || *p == 0x7f)
      *p = '?';
  return dst;
}

/* Characters (UTF-8 sequences) in s: continuation bytes do not count. */
static size_t width(const char *s) {
  size_t w = 0;
  for (; *s; s++)
    if (((unsigned char)*s & 0xc0) != 0x80)
      w++;
  return w;
}

static int push_row(cp_cli_table_t *t, const char *const *cells) {
  if (t->nrows + 1 > t->alloc) {
    size_t na = t->alloc ? t->alloc * 2 : 16;
    char **grown = realloc(t->cells, na * t->ncols * sizeof *grown);
    if (!grown)
      return CP_ENOMEM;
    t->cells = grown;
    t->alloc = na;
  }
  char **row = t->cells + t->nrows * t->ncols;
  for (size_t i = 0; i < t->ncols; i++) {
    char cell[CP_CLI_CELL_MAX];
    const char *v = cells[i] && cells[i][0] ? cells[i] : "-";
    row[i] = strdup(cp_cli_cell_clean(cell, sizeof cell, v));
    if (!row[i]) {
      while (i > 0)
        free(row[--i]);
      return CP_ENOMEM;
    }
  }
  t->nrows++;
  return 0;
}

cp_cli_table_t *cp_cli_table_new(size_t ncols, const char *const *headers) {
  if (ncols == 0 || ncols > CP_CLI_TABLE_MAX_COLS)
    return NULL;
  cp_cli_table_t *t = calloc(1, sizeof *t);
  if (!t)
    return NULL;
  t->ncols = ncols;
  if (push_row(t, headers) != 0) {
    cp_cli_table_free(t);
    return NULL;
  }
  return t;
}

int cp_cli_table_add(cp_cli_table_t *t, const char *const *cells) {
  if (t->nrows > CP_CLI_TABLE_MAX_ROWS)
    return CP_ETOOBIG;
  return push_row(t, cells);
}

size_t cp_cli_table_rows(const cp_cli_table_t *t) {
  return t->nrows - 1;
}

void cp_cli_table_print(const cp_cli_table_t *t, FILE *f) {
  size_t w[CP_CLI_TABLE_MAX_COLS] = {0};
  for (size_t r = 0; r < t->nrows; r++)
    for (size_t c = 0; c < t->ncols; c++) {
      size_t cw = width(t->cells[r * t->ncols + c]);
      if (cw > w[c])
        w[c] = cw;
    }
  for (size_t r = 0; r < t->nrows; r++) {
    for (size_t c = 0; c < t->ncols; c++) {
      const char *cell = t->cells[r * t->ncols + c];
      fputs(cell, f);
      if (c + 1 < t->ncols)
        fprintf(f, "%*s", (int)(w[c] - width(cell) + 3), "");
    }
    fputc('\n', f);
  }
}

void cp_cli_table_free(cp_cli_table_t *t) {
  if (!t)
    return;
  for (size_t i = 0; i < t->nrows * t->ncols; i++)
    free(t->cells[i]);
  free(t->cells);
  free(t);
}
