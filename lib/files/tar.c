/* Streaming tar writer (see tar.h).
 *
 * State: a stack of open directories (the walk), a staging buffer of header bytes not yet
 * handed out, and the file whose data is being copied with the bytes it still owes.
 * Each read first drains the staging buffer, then the file, then moves the walk to the
 * next entry and stages its header(s). Two zero blocks end the archive. */
#define _GNU_SOURCE /* O_NOFOLLOW, fdopendir */
#include "files/tar.h"

#include "core/error.h"
#include "files/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK 512
#define MAX_LEVELS 64
#define NAME_CAP (CP_FILES_PATH_MAX + CP_FILES_NAME_MAX + 2)
#define STAGE_CAP (4 * BLOCK + 2 * NAME_CAP + 256)

typedef struct level_s {
  DIR *dir;
  size_t name_len; /* length of t->name for this directory, with its "/" */
} level_t;

struct cp_files_tar_s {
  level_t levels[MAX_LEVELS];
  int depth;
  char name[NAME_CAP + 1]; /* "<top>/a/b/" of the current directory */
  char stage[STAGE_CAP];
  size_t stage_len, stage_off;
  int file;      /* -1 when none */
  uint64_t owed; /* data bytes still to copy from file */
  size_t pad;    /* zero bytes after the data */
  bool ended;    /* the two end blocks are staged */
};

static void octal(char *field, size_t width, uint64_t v) {
  /* width-1 digits, then NUL */
  field[width - 1] = '\0';
  for (size_t i = width - 1; i-- > 0;) {
    field[i] = (char)('0' + (v & 7));
    v >>= 3;
  }
}

/* Appends one pax record "len key=value\n" to rec. */
static size_t pax_record(char *rec, size_t cap, const char *key, const char *value) {
  size_t body = strlen(key) + strlen(value) + 3; /* space, '=', newline */
  size_t len = body + 1;
  for (;;) { /* the length counts its own digits */
    char digits[24];
    size_t d = (size_t)snprintf(digits, sizeof digits, "%zu", len);
    if (body + d == len)
      break;
    len = body + d;
  }
  if (len >= cap)
    return 0;
  snprintf(rec, cap, "%zu %s=%s\n", len, key, value);
  return len;
}

static void header(char *h, const char *name, char type, uint64_t size, unsigned mode,
                   int64_t mtime, const char *link) {
  memset(h, 0, BLOCK);
  snprintf(h, 100, "%s", name);
  octal(h + 100, 8, mode & 07777);
  octal(h + 108, 8, 0);
  octal(h + 116, 8, 0);
  octal(h + 124, 12, size);
  octal(h + 136, 12, mtime > 0 ? (uint64_t)mtime : 0);
  h[156] = type;
  if (link)
    snprintf(h + 157, 100, "%s", link);
  memcpy(h + 257, "ustar", 6);
  memcpy(h + 263, "00", 2);
  memset(h + 148, ' ', 8);
  unsigned sum = 0;
  for (int i = 0; i < BLOCK; i++)
    sum += (unsigned char)h[i];
  octal(h + 148, 7, sum);
  h[155] = ' ';
}

/* Stages the header(s) of one entry. Returns 0 or -ENAMETOOLONG. */
static int stage_entry(cp_files_tar_t *t, const char *name, char type, uint64_t size, unsigned mode,
                       int64_t mtime, const char *link) {
  char *out = t->stage;
  size_t len = 0;
  bool long_name = strlen(name) > 99, long_link = link && strlen(link) > 99;
  bool big = size > 077777777777ULL;
  if (long_name || long_link || big) {
    char rec[2 * NAME_CAP + 128];
    size_t rl = 0;
    char sz[24];
    snprintf(sz, sizeof sz, "%llu", (unsigned long long)size);
    if (long_name)
      rl += pax_record(rec + rl, sizeof rec - rl, "path", name);
    if (long_link)
      rl += pax_record(rec + rl, sizeof rec - rl, "linkpath", link);
    if (big)
      rl += pax_record(rec + rl, sizeof rec - rl, "size", sz);
    size_t blocks = (rl + BLOCK - 1) / BLOCK;
    if (BLOCK * (2 + blocks) > STAGE_CAP)
      return -ENAMETOOLONG;
    header(out, "././@PaxHeader", 'x', rl, 0644, mtime, NULL);
    memset(out + BLOCK, 0, blocks * BLOCK);
    memcpy(out + BLOCK, rec, rl);
    len = BLOCK * (1 + blocks);
  }
  header(out + len, name, type, big ? 0 : size, mode, mtime, link);
  t->stage_len = len + BLOCK;
  t->stage_off = 0;
  return 0;
}

int cp_files_tar_new(int dirfd, const char *top, cp_files_tar_t **out) {
  if (dirfd < 0 || !top || !out || strlen(top) > CP_FILES_NAME_MAX)
    return CP_EINVAL;
  cp_files_tar_t *t = calloc(1, sizeof *t);
  if (!t)
    return CP_ENOMEM;
  DIR *d = fdopendir(dirfd);
  if (!d) {
    free(t);
    return CP_ENOMEM;
  }
  struct stat sb;
  fstat(dirfd, &sb);
  t->file = -1;
  t->depth = 1;
  t->levels[0].dir = d;
  snprintf(t->name, sizeof t->name, "%s/", top);
  t->levels[0].name_len = strlen(t->name);
  stage_entry(t, t->name, '5', 0, sb.st_mode, sb.st_mtim.tv_sec, NULL);
  *out = t;
  return 0;
}

/* Moves the walk to the next entry and stages its header. Returns 0 or -errno. */
static int next_entry(cp_files_tar_t *t) {
  while (t->depth > 0) {
    level_t *lv = &t->levels[t->depth - 1];
    errno = 0;
    struct dirent *de = readdir(lv->dir);
    if (!de) {
      if (errno)
        return -errno;
      closedir(lv->dir);
      t->depth--;
      if (t->depth > 0)
        t->name[t->levels[t->depth - 1].name_len] = '\0';
      continue;
    }
    const char *s = de->d_name;
    if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0 ||
        strncmp(s, CP_FILES_TMP_PREFIX, strlen(CP_FILES_TMP_PREFIX)) == 0)
      continue;
    int dfd = dirfd(lv->dir);
    struct stat sb;
    if (fstatat(dfd, s, &sb, AT_SYMLINK_NOFOLLOW) != 0)
      continue; /* gone meanwhile */
    size_t base = lv->name_len, n = strlen(s);
    if (base + n + 1 > NAME_CAP)
      return -ENAMETOOLONG;
    memcpy(t->name + base, s, n + 1);
    if (S_ISDIR(sb.st_mode)) {
      if (t->depth == MAX_LEVELS)
        return -ELOOP;
      int fd = openat(dfd, s, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
      if (!d) {
        if (fd >= 0)
          close(fd);
        continue; /* replaced or unreadable: left out */
      }
      memcpy(t->name + base + n, "/", 2);
      t->levels[t->depth].dir = d;
      t->levels[t->depth].name_len = base + n + 1;
      t->depth++;
      return stage_entry(t, t->name, '5', 0, sb.st_mode, sb.st_mtim.tv_sec, NULL);
    }
    if (S_ISLNK(sb.st_mode)) {
      char target[CP_FILES_PATH_MAX + 1];
      ssize_t k = readlinkat(dfd, s, target, sizeof target - 1);
      if (k < 0)
        continue;
      target[k] = '\0';
      return stage_entry(t, t->name, '2', 0, 0777, sb.st_mtim.tv_sec, target);
    }
    if (!S_ISREG(sb.st_mode))
      continue;
    int fd = openat(dfd, s, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
      if (fd >= 0)
        close(fd);
      continue;
    }
    t->file = fd;
    t->owed = (uint64_t)sb.st_size;
    t->pad = (size_t)((BLOCK - (t->owed % BLOCK)) % BLOCK);
    return stage_entry(t, t->name, '0', t->owed, sb.st_mode, sb.st_mtim.tv_sec, NULL);
  }
  /* end of archive */
  memset(t->stage, 0, 2 * BLOCK);
  t->stage_len = 2 * BLOCK;
  t->stage_off = 0;
  t->ended = true;
  return 0;
}

ssize_t cp_files_tar_read(cp_files_tar_t *t, char *buf, size_t cap) {
  size_t got = 0;
  while (got < cap) {
    if (t->stage_off < t->stage_len) {
      size_t n = t->stage_len - t->stage_off;
      n = n < cap - got ? n : cap - got;
      memcpy(buf + got, t->stage + t->stage_off, n);
      t->stage_off += n;
      got += n;
      continue;
    }
    if (t->file >= 0) {
      if (t->owed > 0) {
        size_t want = cap - got < t->owed ? cap - got : (size_t)t->owed;
        ssize_t n = read(t->file, buf + got, want);
        if (n < 0 && errno == EINTR)
          continue;
        if (n <= 0) { /* shrank or unreadable: zeros keep the archive well-formed */
          memset(buf + got, 0, want);
          n = (ssize_t)want;
        }
        got += (size_t)n;
        t->owed -= (uint64_t)n;
        continue;
      }
      close(t->file);
      t->file = -1;
      memset(t->stage, 0, t->pad);
      t->stage_len = t->pad;
      t->stage_off = 0;
      continue;
    }
    if (t->ended)
      break;
    int rc = next_entry(t);
    if (rc < 0)
      return rc;
  }
  return (ssize_t)got;
}

void cp_files_tar_free(cp_files_tar_t *t) {
  if (!t)
    return;
  for (int i = 0; i < t->depth; i++)
    closedir(t->levels[i].dir);
  if (t->file >= 0)
    close(t->file);
  free(t);
}
