/* Progress lines for clawctl's file transfers (see progress.h). */
#include "cli/progress.h"

#include <stdio.h>
#include <string.h>

void cp_cli_bytes(char *buf, size_t n, unsigned long long v) {
  static const char *const unit[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (v < 1024) {
    snprintf(buf, n, "%llu B", v);
    return;
  }
  double d = (double)v / 1024;
  size_t u = 0;
  while (d >= 1024 && u + 1 < sizeof unit / sizeof *unit) {
    d /= 1024;
    u++;
  }
  snprintf(buf, n, "%.1f %s", d, unit[u]);
}

void cp_cli_progress_line(char *buf, size_t n, unsigned long long done, unsigned long long total,
                          double elapsed, int width) {
  char d[32], t[32], r[32], head[96], rate[48];
  cp_cli_bytes(d, sizeof d, done);
  cp_cli_bytes(r, sizeof r, elapsed > 0 ? (unsigned long long)((double)done / elapsed) : 0);
  snprintf(rate, sizeof rate, "  %s/s", r);
  if (width < 20)
    width = 20;
  if (!total) {
    snprintf(buf, n, "  %s%s", d, rate);
    return;
  }
  cp_cli_bytes(t, sizeof t, total);
  unsigned long long pct = done >= total ? 100 : done * 100 / total;
  snprintf(head, sizeof head, "  %s / %s %3llu%% ", d, t, pct);
  int room = width - (int)strlen(head) - (int)strlen(rate) - 2; /* the brackets */
  if (room < 5) {
    snprintf(buf, n, "%s%s", head, rate);
    return;
  }
  if (room > 40)
    room = 40;
  char bar[48];
  int fill = (int)(pct * (unsigned long long)room / 100);
  for (int i = 0; i < room; i++)
    bar[i] = i < fill ? '#' : '.';
  bar[room] = '\0';
  snprintf(buf, n, "%s[%s]%s", head, bar, rate);
}
