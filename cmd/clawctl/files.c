/* clawctl files ls|get|put|rm|mv|mkdir: the runtime's workspace through the apiserver's
 * file API (/api/v1/users/{user}/files/{path}).
 *
 * Transfers stream between a local file and the server (lib/cli cp_cli_download and
 * cp_cli_upload): nothing is held whole. A download lands in a temporary file next to its
 * target and is renamed into place only when complete, so a failed `get` never leaves a
 * truncated file under the name asked for. On a terminal, a transfer of 1 MiB or more shows
 * a progress line on stderr, redrawn in place; otherwise nothing but the result. Remote
 * paths are relative to the workspace root ("/" is optional) and escaped per segment.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/progress.h"
#include "cli/table.h"
#include "core/error.h"
#include "core/str.h"
#include "ctl.h"
#include "json/json.h"

#define PROGRESS_MIN (1u << 20) /* smaller transfers show no progress line */
#define PATH_MAX_ESC 16384

/* "/api/v1/users/<u>/files/<escaped path>[?query]" into buf. */
static int files_path(const char *user, const char *remote, const char *query, char *buf,
                      size_t n) {
  char u[200], seg[1024];
  if (ctl_user_path(user, u, sizeof u) != 0)
    return EXIT_USAGE;
  int w = snprintf(buf, n, "/api/v1/users/%s/files/", u);
  if (w < 0 || (size_t)w >= n)
    return EXIT_USAGE;
  size_t o = (size_t)w;
  const char *p = remote ? remote : "";
  while (*p == '/')
    p++;
  while (*p) {
    size_t sl = strcspn(p, "/");
    if (sl >= sizeof seg)
      return EXIT_USAGE;
    memcpy(seg, p, sl);
    seg[sl] = '\0';
    if (cp_cli_escape(seg, buf + o, n - o) != 0)
      return EXIT_USAGE;
    o += strlen(buf + o);
    p += sl;
    if (*p == '/') {
      if (o + 1 >= n)
        return EXIT_USAGE;
      buf[o++] = '/';
      buf[o] = '\0';
      while (*p == '/')
        p++;
    }
  }
  if (query && *query) {
    w = snprintf(buf + o, n - o, "?%s", query);
    if (w < 0 || (size_t)w >= n - o)
      return EXIT_USAGE;
  }
  return 0;
}

/* --- progress -------------------------------------------------------------------------- */

typedef struct progress_s {
  int on;       /* stderr is a terminal */
  int drawn;    /* a line is on the screen */
  double start; /* monotonic seconds */
  double last;
} progress_t;

static double mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int term_width(void) {
  struct winsize ws;
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
    return ws.ws_col;
  return 80;
}

static void on_progress(unsigned long long done, unsigned long long total, void *ud) {
  progress_t *p = ud;
  double now = mono();
  if (!p->on || (total ? total : done) < PROGRESS_MIN)
    return;
  if (p->drawn && now - p->last < 0.1 && done != total)
    return;
  char line[256];
  cp_cli_progress_line(line, sizeof line, done, total, now - p->start, term_width() - 1);
  fprintf(stderr, "\r%s\033[K", line);
  fflush(stderr);
  p->drawn = 1;
  p->last = now;
}

static void progress_end(progress_t *p) {
  if (p->drawn)
    fputc('\n', stderr);
}

/* --- commands -------------------------------------------------------------------------- */

static const char *type_letter(const char *type) {
  if (!type)
    return "?";
  return !strcmp(type, "dir") ? "dir" : !strcmp(type, "symlink") ? "link" : type;
}

static void print_entries(const cJSON *entries, cp_cli_table_t *t) {
  const cJSON *e;
  cJSON_ArrayForEach(e, entries) {
    char name[CP_CLI_CELL_MAX], size[32], mod[64], mode[16], type[16];
    const char *ty = cp_json_strv(e, "type", NULL);
    ctl_str(e, "name", name, sizeof name);
    size_t nl = strlen(name);
    if (ty && !strcmp(ty, "dir") && nl + 1 < sizeof name)
      memcpy(name + nl, "/", 2);
    if (ty && !strcmp(ty, "symlink")) {
      char tgt[CP_CLI_CELL_MAX];
      ctl_str(e, "target", tgt, sizeof tgt);
      size_t l = strlen(name);
      snprintf(name + l, sizeof name - l, " -> %.200s", tgt);
    }
    const cJSON *sz = cp_json_getv(e, "size", NULL);
    if (cJSON_IsNumber(sz) && (!ty || strcmp(ty, "dir") != 0))
      cp_cli_bytes(size, sizeof size, (unsigned long long)sz->valuedouble);
    else
      size[0] = '\0';
    ctl_str(e, "modified", mod, sizeof mod);
    ctl_str(e, "mode", mode, sizeof mode);
    cp_str_copy(type, sizeof type, type_letter(ty));
    const char *row[] = {name, type, size, mode, mod};
    cp_cli_table_add(t, row);
  }
}

/* The last segment of p ("" for the root). */
static const char *last_segment(const char *p);

/* `files ls` of a file: its stat as one row (or the stat itself for -o json/yaml). */
static void ls_one(ctl_t *ctl, cJSON *stat, cp_cli_table_t *t, cJSON *all) {
  const char *p = cp_json_strv(stat, "path", NULL);
  cJSON *copy = cJSON_Duplicate(stat, 1), *one = cJSON_CreateArray();
  if (copy && one) {
    cJSON_AddStringToObject(copy, "name", last_segment(p ? p : ""));
    cJSON_AddItemToArray(one, copy);
    copy = NULL;
    if (t)
      print_entries(one, t);
    else
      cJSON_AddItemToArray(all, cJSON_Duplicate(stat, 1));
  }
  (void)ctl;
  cJSON_Delete(copy);
  cJSON_Delete(one);
}

int ctl_cmd_files_ls(ctl_t *ctl, int argc, char **argv) {
  ctl_opt_t o[] = {{"--user", 1, NULL}};
  char *pos[1] = {NULL};
  int rc = ctl_parse(ctl, argc, argv, o, 1, pos, 0, 1);
  if (rc)
    return rc;
  if ((rc = ctl_connect(ctl)))
    return rc;
  char path[PATH_MAX_ESC];
  cJSON *stat = NULL;
  if ((rc = files_path(o[0].value, pos[0], "stat=true", path, sizeof path)) ||
      (rc = ctl_call(ctl, "list files", "GET", path, NULL, &stat)))
    return rc;
  const char *h[] = {"NAME", "TYPE", "SIZE", "MODE", "MODIFIED"};
  cp_cli_table_t *t = ctl->output == OUT_TABLE ? cp_cli_table_new(5, h) : NULL;
  cJSON *all = ctl->output == OUT_TABLE ? NULL : cJSON_CreateArray();
  const char *type = cp_json_strv(stat, "type", NULL);
  char cont[2048] = "", query[2200];
  if (type && strcmp(type, "dir") != 0) {
    ls_one(ctl, stat, t, all);
  } else {
    do { /* a directory: every page */
      char esc[2048];
      if (cont[0] && cp_cli_escape(cont, esc, sizeof esc) != 0)
        break;
      snprintf(query, sizeof query, "limit=1000%s%s", cont[0] ? "&continue=" : "",
               cont[0] ? esc : "");
      if ((rc = files_path(o[0].value, pos[0], query, path, sizeof path)))
        break;
      cJSON *res = NULL;
      if ((rc = ctl_call(ctl, "list files", "GET", path, NULL, &res)))
        break;
      const cJSON *entries = cp_json_getv(res, "entries", NULL), *e;
      if (t)
        print_entries(entries, t);
      else
        cJSON_ArrayForEach(e, entries) {
          cJSON_AddItemToArray(all, cJSON_Duplicate(e, 1));
        }
      const char *next = cp_json_strv(res, "continue", NULL);
      cp_str_copy(cont, sizeof cont, next ? next : "");
      cJSON_Delete(res);
    } while (cont[0]);
  }
  if (rc == 0) {
    if (t)
      cp_cli_table_print(t, stdout);
    else
      ctl_print_structured(ctl, all);
  }
  cJSON_Delete(stat);
  cp_cli_table_free(t);
  cJSON_Delete(all);
  return rc;
}

/* The remote name's last segment (for a default local name). */
static const char *last_segment(const char *p) {
  size_t n = strlen(p);
  while (n > 0 && p[n - 1] == '/')
    n--;
  const char *s = p + n;
  while (s > p && s[-1] != '/')
    s--;
  return s;
}

int ctl_cmd_files_get(ctl_t *ctl, int argc, char **argv) {
  ctl_opt_t o[] = {{"--user", 1, NULL}, {"--archive", 0, NULL}};
  char *pos[2] = {NULL, NULL};
  int rc = ctl_parse(ctl, argc, argv, o, 2, pos, 1, 2);
  if (rc)
    return rc;
  const char *remote = pos[0];
  char def[1024];
  const char *base = last_segment(remote);
  if (!*base)
    base = "workspace";
  snprintf(def, sizeof def, "%s%s", base, o[1].value ? ".tar" : "");
  const char *local = pos[1] ? pos[1] : def;
  char path[PATH_MAX_ESC];
  if ((rc = files_path(o[0].value, remote, o[1].value ? "archive=tar" : NULL, path, sizeof path)))
    return rc;
  if ((rc = ctl_connect(ctl)))
    return rc;
  int to_stdout = !strcmp(local, "-");
  char tmp[4096];
  int fd = STDOUT_FILENO;
  if (!to_stdout) {
    struct stat sb;
    if (stat(local, &sb) == 0 && S_ISDIR(sb.st_mode)) { /* into a directory: keep the name */
      snprintf(tmp, sizeof tmp, "%s/%s", local, def);
      cp_str_copy(def, sizeof def, tmp);
      local = def;
    }
    int n = snprintf(tmp, sizeof tmp, "%s.clawctl-XXXXXX", local);
    if (n < 0 || (size_t)n >= sizeof tmp) {
      fprintf(stderr, "clawctl files get: the local name is too long\n");
      return EXIT_USAGE;
    }
    fd = mkstemp(tmp);
    if (fd < 0) {
      fprintf(stderr, "clawctl files get: cannot write next to %s: %s\n", local, strerror(errno));
      return EXIT_ERROR;
    }
  }
  progress_t pr = {.on = ctl->stderr_tty, .start = mono()};
  cp_cli_status_t st;
  int crc = cp_cli_download(ctl->client, path, fd, on_progress, &pr, &st);
  progress_end(&pr);
  if (!to_stdout) {
    if (crc == 0 && (fsync(fd) != 0 || close(fd) != 0)) {
      snprintf(st.message, sizeof st.message, "%.300s: %s", tmp, strerror(errno));
      crc = CP_EIO;
    } else if (crc != 0) {
      close(fd);
    }
    if (crc == 0 && rename(tmp, local) != 0) {
      snprintf(st.message, sizeof st.message, "%.300s: %s", local, strerror(errno));
      crc = CP_EIO;
    }
    if (crc != 0)
      unlink(tmp);
  }
  if (crc != 0) {
    char what[1200];
    snprintf(what, sizeof what, "download %s", remote);
    return ctl_fail(ctl, what, crc, &st);
  }
  if (!to_stdout && ctl->stdout_tty)
    printf("%s -> %s\n", remote, local);
  return 0;
}

int ctl_cmd_files_put(ctl_t *ctl, int argc, char **argv) {
  ctl_opt_t o[] = {{"--user", 1, NULL}, {"--overwrite", 0, NULL}};
  char *pos[2] = {NULL, NULL};
  int rc = ctl_parse(ctl, argc, argv, o, 2, pos, 1, 2);
  if (rc)
    return rc;
  const char *local = pos[0];
  int from_stdin = !strcmp(local, "-");
  if (from_stdin && !pos[1]) {
    fprintf(stderr, "clawctl files put: name the remote file when reading stdin: "
                    "clawctl files put - REMOTE\n");
    return EXIT_USAGE;
  }
  char remote[4096];
  const char *base = from_stdin ? "" : last_segment(local);
  if (!pos[1])
    cp_str_copy(remote, sizeof remote, base);
  else if (pos[1][0] && pos[1][strlen(pos[1]) - 1] == '/') /* into a directory */
    snprintf(remote, sizeof remote, "%s%s", pos[1], base);
  else
    cp_str_copy(remote, sizeof remote, pos[1]);
  char path[PATH_MAX_ESC];
  if ((rc =
           files_path(o[0].value, remote, o[1].value ? "overwrite=true" : NULL, path, sizeof path)))
    return rc;
  int fd = from_stdin ? STDIN_FILENO : open(local, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    fprintf(stderr, "clawctl files put: cannot read %s: %s\n", local, strerror(errno));
    return EXIT_ERROR;
  }
  struct stat sb;
  long long size = -1;
  if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode))
    size = (long long)sb.st_size;
  else if (!from_stdin && fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
    fprintf(stderr, "clawctl files put: %s is a directory; put files one by one\n", local);
    close(fd);
    return EXIT_USAGE;
  }
  if ((rc = ctl_connect(ctl))) {
    if (!from_stdin)
      close(fd);
    return rc;
  }
  progress_t pr = {.on = ctl->stderr_tty, .start = mono()};
  cp_cli_status_t st;
  cJSON *res = NULL;
  int crc = cp_cli_upload(ctl->client, path, fd, size, on_progress, &pr, &res, &st);
  progress_end(&pr);
  if (!from_stdin)
    close(fd);
  if (crc != 0) {
    char what[4200];
    snprintf(what, sizeof what, "upload %s", remote);
    rc = ctl_fail(ctl, what, crc, &st);
    if (crc == CP_ECONFLICT && !o[1].value)
      fprintf(stderr, "(to replace an existing file: clawctl files put --overwrite)\n");
    return rc;
  }
  if (!ctl_print_structured(ctl, res)) {
    char sz[32];
    const cJSON *s = cp_json_getv(res, "size", NULL);
    cp_cli_bytes(sz, sizeof sz, cJSON_IsNumber(s) ? (unsigned long long)s->valuedouble : 0);
    printf("%s -> %s (%s)\n", local,
           cp_json_strv(res, "path", NULL) ? cp_json_strv(res, "path", NULL) : remote, sz);
  }
  cJSON_Delete(res);
  return 0;
}

int ctl_cmd_files_rm(ctl_t *ctl, int argc, char **argv) {
  ctl_opt_t o[] = {{"--user", 1, NULL}, {"--recursive", 0, NULL}};
  char *pos[1] = {NULL};
  int rc = ctl_parse(ctl, argc, argv, o, 2, pos, 1, 1);
  if (rc)
    return rc;
  char path[PATH_MAX_ESC];
  if ((rc =
           files_path(o[0].value, pos[0], o[1].value ? "recursive=true" : NULL, path, sizeof path)))
    return rc;
  if ((rc = ctl_connect(ctl)))
    return rc;
  char what[1200];
  snprintf(what, sizeof what, "delete %s", pos[0]);
  rc = ctl_call(ctl, what, "DELETE", path, NULL, NULL);
  if (rc == EXIT_ERROR && !o[1].value)
    fprintf(stderr, "(a directory with content needs --recursive)\n");
  return rc;
}

static int post_action(ctl_t *ctl, const char *user, const char *remote, cJSON *body,
                       const char *what) {
  char path[PATH_MAX_ESC];
  int rc = files_path(user, remote, NULL, path, sizeof path);
  if (rc == 0)
    rc = ctl_connect(ctl);
  cJSON *res = NULL;
  if (rc == 0)
    rc = ctl_call(ctl, what, "POST", path, body, &res);
  if (rc == 0 && !ctl_print_structured(ctl, res) && ctl->stdout_tty)
    printf("%s\n", cp_json_strv(res, "path", NULL) ? cp_json_strv(res, "path", NULL) : remote);
  cJSON_Delete(res);
  return rc;
}

int ctl_cmd_files_mkdir(ctl_t *ctl, int argc, char **argv) {
  ctl_opt_t o[] = {{"--user", 1, NULL}};
  char *pos[1] = {NULL};
  int rc = ctl_parse(ctl, argc, argv, o, 1, pos, 1, 1);
  if (rc)
    return rc;
  cJSON *body = cJSON_CreateObject();
  if (!body || !cJSON_AddStringToObject(body, "action", "mkdir")) {
    cJSON_Delete(body);
    return EXIT_ERROR;
  }
  char what[1200];
  snprintf(what, sizeof what, "make directory %s", pos[0]);
  rc = post_action(ctl, o[0].value, pos[0], body, what);
  cJSON_Delete(body);
  return rc;
}

int ctl_cmd_files_mv(ctl_t *ctl, int argc, char **argv) {
  ctl_opt_t o[] = {{"--user", 1, NULL}, {"--overwrite", 0, NULL}};
  char *pos[2] = {NULL, NULL};
  int rc = ctl_parse(ctl, argc, argv, o, 2, pos, 2, 2);
  if (rc)
    return rc;
  cJSON *body = cJSON_CreateObject();
  const char *to = pos[1];
  while (*to == '/')
    to++;
  if (!body || !cJSON_AddStringToObject(body, "action", "move") ||
      !cJSON_AddStringToObject(body, "to", to) ||
      !cJSON_AddBoolToObject(body, "overwrite", o[1].value != NULL)) {
    cJSON_Delete(body);
    return EXIT_ERROR;
  }
  char what[2400];
  snprintf(what, sizeof what, "move %s to %s", pos[0], pos[1]);
  rc = post_action(ctl, o[0].value, pos[0], body, what);
  cJSON_Delete(body);
  return rc;
}
