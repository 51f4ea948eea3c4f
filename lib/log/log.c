/* A cJSON object per line, printed unformatted and written with a single write(2). */
#include "log/log.h"
#include "core/error.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static cp_log_level_t g_min = CP_LOG_INFO;
static int g_fd = 2;
static const char *const NAMES[] = {"debug", "info", "warn", "error"};

void cp_log_setup(cp_log_level_t min, int fd) {
  g_min = min;
  g_fd = fd;
}

int cp_log_parse_level(const char *s, cp_log_level_t *out) {
  for (int i = 0; s && i < 4; i++) {
    if (strcmp(s, NAMES[i]) == 0) {
      *out = (cp_log_level_t)i;
      return 0;
    }
  }
  return CP_EINVAL;
}

void cp_log(cp_log_level_t level, const char *msg, ...) {
  if (level < g_min || level > CP_LOG_ERROR)
    return;
  struct timespec ts;
  struct tm tm;
  char when[40];
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  size_t n = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(when + n, sizeof when - n, ".%03ldZ", ts.tv_nsec / 1000000);

  cJSON *o = cJSON_CreateObject();
  if (!o)
    return;
  cJSON_AddStringToObject(o, "ts", when);
  cJSON_AddStringToObject(o, "level", NAMES[level]);
  cJSON_AddStringToObject(o, "msg", msg ? msg : "");
  va_list ap;
  va_start(ap, msg);
  const char *k;
  while ((k = va_arg(ap, const char *)) != NULL) {
    const char *v = va_arg(ap, const char *);
    if (v)
      cJSON_AddStringToObject(o, k, v);
  }
  va_end(ap);
  char *line = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  if (!line)
    return;
  size_t len = strlen(line);
  line[len] = '\n'; /* overwrite the terminator: one write, no interleaving */
  ssize_t w = write(g_fd, line, len + 1);
  (void)w;
  free(line);
}
