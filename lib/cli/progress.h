/* clawctl's progress display for file transfers: pure formatting, no I/O.
 *
 * One line, redrawn in place on a terminal: bytes done of the total, the percentage and a
 * bar when the total is known, and the average rate. Sizes in binary units (KiB, MiB...)
 * with one decimal, as `ls -lh` users read them. Thread-safe.
 */
#ifndef CP_CLI_PROGRESS_H
#define CP_CLI_PROGRESS_H

#include <stddef.h>

/* Writes v bytes as "512 B", "1.5 KiB", "10.0 MiB", "1.0 GiB"... into buf (n bytes). */
void cp_cli_bytes(char *buf, size_t n, unsigned long long v);

/* Writes the progress line for done of total bytes (total 0: unknown, then no percentage
 * and no bar) after elapsed seconds into buf (n bytes), e.g.
 * "  12.0 MiB / 100.0 MiB  12% [###.........................]  45.1 MiB/s".
 * The line never exceeds width columns (bar shortened or left out; at least 20). */
void cp_cli_progress_line(char *buf, size_t n, unsigned long long done, unsigned long long total,
                          double elapsed, int width);

#endif
