/* Aligned text tables for clawctl's default output, kubectl style: upper-case headers,
 * columns padded to their widest cell and separated by three spaces, the last column not
 * padded, an empty cell shown as "-".
 *
 * Cells are copied in, cut at CP_CLI_CELL_MAX bytes (never inside a UTF-8 character), and
 * control characters from the server (an escape sequence in a message, a newline) are shown
 * as '?', so a hostile value cannot break the layout or drive the terminal. Widths count
 * characters, not bytes. At most CP_CLI_TABLE_MAX_ROWS rows; further rows are refused.
 */
#ifndef CP_CLI_TABLE_H
#define CP_CLI_TABLE_H

#include <stddef.h>
#include <stdio.h>

#define CP_CLI_TABLE_MAX_COLS 12
#define CP_CLI_CELL_MAX 256
#define CP_CLI_TABLE_MAX_ROWS 100000

typedef struct cp_cli_table_s cp_cli_table_t;

/* A table with ncols columns named by headers (copied). NULL on ENOMEM or ncols out of
 * 1..CP_CLI_TABLE_MAX_COLS. */
cp_cli_table_t *cp_cli_table_new(size_t ncols, const char *const *headers);

/* Adds a row of ncols cells (NULL or "" shows as "-"). Returns 0, CP_ETOOBIG past the row
 * cap, or CP_ENOMEM. */
int cp_cli_table_add(cp_cli_table_t *t, const char *const *cells);

/* Rows added so far. */
size_t cp_cli_table_rows(const cp_cli_table_t *t);

/* Writes the table (headers and rows) to f. */
void cp_cli_table_print(const cp_cli_table_t *t, FILE *f);

/* Accepts NULL. */
void cp_cli_table_free(cp_cli_table_t *t);

/* Copies src into dst (n bytes) as a table cell would show it: cut at a character
 * boundary, controls as '?'. Returns dst. */
char *cp_cli_cell_clean(char *dst, size_t n, const char *src);

#endif
