/* The standard process_* collectors, as client_golang's process collector exports them.
 *
 * Each is a scrape-time function over /proc/self: stat for CPU time, memory and start
 * time (start time is the boot time from /proc/stat plus the process' start in clock
 * ticks), the fd directory for open descriptors, getrlimit for the limit. Reads go into
 * stack buffers; only counting open descriptors allocates (opendir), and only at scrape
 * time. A value that cannot be read is NaN, which the exposition spells out.
 */
#include "metrics/metrics.h"

#include "core/error.h"

#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

typedef enum field_e { F_CPU, F_RSS, F_VSIZE, F_START } field_t;

/* Reads a small file into buf (NUL-terminated); returns its length or -1. */
static ssize_t read_small(const char *path, char *buf, size_t n) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  size_t got = 0;
  ssize_t r;
  while (got < n - 1 && (r = read(fd, buf + got, n - 1 - got)) > 0)
    got += (size_t)r;
  close(fd);
  buf[got] = '\0';
  return (ssize_t)got;
}

/* Seconds since the epoch at boot, from the btime line of /proc/stat; NaN if unknown. */
static double boot_time(void) {
  char buf[16384];
  if (read_small("/proc/stat", buf, sizeof buf) < 0)
    return NAN;
  const char *p = strstr(buf, "\nbtime ");
  if (!p)
    return NAN;
  return strtod(p + 7, NULL);
}

/* One value from /proc/self/stat. */
static double stat_field(field_t f) {
  char buf[1024];
  if (read_small("/proc/self/stat", buf, sizeof buf) <= 0)
    return NAN;
  const char *p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
  if (!p)
    return NAN;
  /* after ") " come the fields from the 3rd (state) on; keep 14..24 */
  double v[25] = {0};
  int field = 3;
  for (p += 2; field < 25; field++) {
    if (field >= 14)
      v[field] = strtod(p, NULL);
    if (!(p = strchr(p, ' ')))
      break;
    p++;
  }
  if (field < 24)
    return NAN;
  double tick = (double)sysconf(_SC_CLK_TCK);
  switch (f) {
  case F_CPU:
    return (v[14] + v[15]) / tick;
  case F_VSIZE:
    return v[23];
  case F_RSS:
    return v[24] * (double)sysconf(_SC_PAGESIZE);
  case F_START:
    return boot_time() + v[22] / tick;
  }
  return NAN;
}

static double cpu_seconds(void *ud) {
  (void)ud;
  return stat_field(F_CPU);
}

static double resident_bytes(void *ud) {
  (void)ud;
  return stat_field(F_RSS);
}

static double virtual_bytes(void *ud) {
  (void)ud;
  return stat_field(F_VSIZE);
}

static double start_time(void *ud) {
  (void)ud;
  return stat_field(F_START);
}

static double open_fds(void *ud) {
  (void)ud;
  DIR *d = opendir("/proc/self/fd");
  if (!d)
    return NAN;
  double n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    n += e->d_name[0] != '.';
  closedir(d);
  return n - 1; /* the descriptor opendir itself holds */
}

static double max_fds(void *ud) {
  (void)ud;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return NAN;
  return rl.rlim_cur == RLIM_INFINITY ? INFINITY : (double)rl.rlim_cur;
}

int cp_metrics_process(cp_metrics_t *reg) {
  static const struct {
    const char *name, *help;
    int counter;
    cp_metric_value_fn fn;
  } defs[] = {
      {"process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", 1,
       cpu_seconds},
      {"process_resident_memory_bytes", "Resident memory size in bytes.", 0, resident_bytes},
      {"process_virtual_memory_bytes", "Virtual memory size in bytes.", 0, virtual_bytes},
      {"process_open_fds", "Number of open file descriptors.", 0, open_fds},
      {"process_max_fds", "Maximum number of open file descriptors.", 0, max_fds},
      {"process_start_time_seconds", "Start time of the process since unix epoch in seconds.", 0,
       start_time},
  };
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < sizeof defs / sizeof *defs; i++) {
    cp_metric_t *m;
    if (defs[i].counter) {
      rc = cp_metrics_counter(reg, defs[i].name, defs[i].help, NULL, &m);
      if (rc == 0)
        rc = cp_counter_set_func(m, NULL, defs[i].fn, NULL);
    } else {
      rc = cp_metrics_gauge(reg, defs[i].name, defs[i].help, NULL, &m);
      if (rc == 0)
        rc = cp_gauge_set_func(m, NULL, defs[i].fn, NULL);
    }
  }
  return rc;
}
