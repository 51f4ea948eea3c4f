/* Confined file operations (see fs.h): openat2 beneath one root descriptor, *at calls on
 * final names from confined parents, uploads through O_TMPFILE (or a hidden temporary
 * name) renamed into place. */
#define _GNU_SOURCE /* openat2's O_PATH, O_TMPFILE, AT_EMPTY_PATH, renameat2 */
#include "files/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_DEPTH 256 /* recursive delete: directory levels */

int cp_files_root_open(const char *dir, cp_files_root_t *out) {
  if (!dir || !out)
    return -EINVAL;
  int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  out->fd = fd;
  out->no_openat2 = false;
  return 0;
}

void cp_files_root_close(cp_files_root_t *r) {
  if (r && r->fd >= 0) {
    close(r->fd);
    r->fd = -1;
  }
}

/* Fallback without openat2: one component at a time, following no symlink. */
static int open_walk(int rootfd, const char *path, int flags) {
  int cur = openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (cur < 0)
    return -errno;
  if (!*path) {
    int fd = openat(cur, ".", flags | O_CLOEXEC);
    int e = errno;
    close(cur);
    return fd < 0 ? -e : fd;
  }
  for (const char *s = path;;) {
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    char seg[CP_FILES_NAME_MAX + 1];
    if (n > CP_FILES_NAME_MAX) {
      close(cur);
      return -ENAMETOOLONG;
    }
    memcpy(seg, s, n);
    seg[n] = '\0';
    if (n == 0 || strcmp(seg, ".") == 0 || strcmp(seg, "..") == 0) {
      close(cur); /* "/"-led, "//", ".", "..": never walked, whoever calls */
      return -EXDEV;
    }
    int next = slash ? openat(cur, seg, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                     : openat(cur, seg, flags | O_NOFOLLOW | O_CLOEXEC);
    int e = errno;
    close(cur);
    if (next < 0)
      return -e;
    if (!slash)
      return next;
    cur = next;
    s = slash + 1;
  }
}

int cp_files_open(cp_files_root_t *r, const char *path, int flags) {
  if (!r || !path || (flags & O_CREAT))
    return -EINVAL;
  if (!r->no_openat2) {
    struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC),
                           .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
    long fd = syscall(SYS_openat2, r->fd, *path ? path : ".", &how, sizeof how);
    if (fd >= 0)
      return (int)fd;
    if (errno != ENOSYS)
      return -errno;
    r->no_openat2 = true;
  }
  return open_walk(r->fd, path, flags);
}

int cp_files_open_parent(cp_files_root_t *r, const char *path, const char **name) {
  if (!r || !path || !*path || !name)
    return -EINVAL;
  const char *slash = strrchr(path, '/');
  char dir[CP_FILES_PATH_MAX + 1];
  size_t n = slash ? (size_t)(slash - path) : 0;
  if (n > CP_FILES_PATH_MAX)
    return -ENAMETOOLONG;
  memcpy(dir, path, n);
  dir[n] = '\0';
  int fd = cp_files_open(r, dir, O_RDONLY | O_DIRECTORY);
  if (fd >= 0)
    *name = slash ? slash + 1 : path;
  return fd;
}

const char *cp_files_type_name(cp_files_type_t t) {
  switch (t) {
  case CP_FILES_FILE:
    return "file";
  case CP_FILES_DIR:
    return "dir";
  case CP_FILES_SYMLINK:
    return "symlink";
  default:
    return "other";
  }
}

static void fill(const struct stat *sb, cp_files_stat_t *st) {
  st->type = S_ISREG(sb->st_mode)   ? CP_FILES_FILE
             : S_ISDIR(sb->st_mode) ? CP_FILES_DIR
             : S_ISLNK(sb->st_mode) ? CP_FILES_SYMLINK
                                    : CP_FILES_OTHER;
  st->size = sb->st_size > 0 ? (uint64_t)sb->st_size : 0;
  st->mtime_ns = (int64_t)sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec;
  st->mode = (unsigned)(sb->st_mode & 07777);
  st->target[0] = '\0';
}

void cp_files_fstat_fill(int fd, cp_files_stat_t *st) {
  struct stat sb;
  memset(st, 0, sizeof *st);
  if (fstat(fd, &sb) == 0)
    fill(&sb, st);
}

int cp_files_statat(int dirfd, const char *name, cp_files_stat_t *st) {
  struct stat sb;
  if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
    return -errno;
  fill(&sb, st);
  if (st->type == CP_FILES_SYMLINK) {
    ssize_t n = readlinkat(dirfd, name, st->target, sizeof st->target - 1);
    st->target[n > 0 ? n : 0] = '\0';
  }
  return 0;
}

int cp_files_stat(cp_files_root_t *r, const char *path, cp_files_stat_t *st) {
  if (!*path) {
    struct stat sb;
    if (fstat(r->fd, &sb) != 0)
      return -errno;
    fill(&sb, st);
    return 0;
  }
  const char *name;
  int dfd = cp_files_open_parent(r, path, &name);
  if (dfd < 0)
    return dfd;
  int rc = cp_files_statat(dfd, name, st);
  close(dfd);
  return rc;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

void cp_files_names_free(char **names, size_t n) {
  for (size_t i = 0; names && i < n; i++)
    free(names[i]);
  free(names);
}

int cp_files_list_names(cp_files_root_t *r, const char *path, size_t max_names, char ***names,
                        size_t *n, int *dirfd) {
  int fd = cp_files_open(r, path, O_RDONLY | O_DIRECTORY);
  if (fd < 0)
    return fd;
  int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
  if (!d) {
    int e = errno;
    if (dup_fd >= 0)
      close(dup_fd);
    close(fd);
    return -e;
  }
  char **v = NULL;
  size_t len = 0, cap = 0;
  int rc = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    const char *s = de->d_name;
    if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0 ||
        strncmp(s, CP_FILES_TMP_PREFIX, strlen(CP_FILES_TMP_PREFIX)) == 0)
      continue;
    if (len == max_names) {
      rc = -E2BIG;
      break;
    }
    if (len == cap) {
      size_t ncap = cap ? cap * 2 : 64;
      char **nv = realloc(v, ncap * sizeof *nv);
      if (!nv) {
        rc = -ENOMEM;
        break;
      }
      v = nv;
      cap = ncap;
    }
    if (!(v[len] = strdup(s))) {
      rc = -ENOMEM;
      break;
    }
    len++;
  }
  closedir(d);
  if (rc) {
    cp_files_names_free(v, len);
    close(fd);
    return rc;
  }
  if (len)
    qsort(v, len, sizeof *v, cmp_names);
  *names = v;
  *n = len;
  *dirfd = fd;
  return 0;
}

int cp_files_mkdir(cp_files_root_t *r, const char *path) {
  const char *name;
  int dfd = cp_files_open_parent(r, path, &name);
  if (dfd < 0)
    return dfd;
  int rc = mkdirat(dfd, name, 0755) == 0 ? 0 : -errno;
  close(dfd);
  return rc;
}

int cp_files_move(cp_files_root_t *r, const char *from, const char *to, bool overwrite) {
  const char *fname, *tname;
  int fd = cp_files_open_parent(r, from, &fname);
  if (fd < 0)
    return fd;
  int td = cp_files_open_parent(r, to, &tname);
  if (td < 0) {
    close(fd);
    return td;
  }
  int rc = renameat2(fd, fname, td, tname, overwrite ? 0 : RENAME_NOREPLACE) == 0 ? 0 : -errno;
  close(fd);
  close(td);
  return rc;
}

/* Empties directory name inside pfd, never following a symlink. */
static int remove_tree(int pfd, const char *name, int depth) {
  if (depth > MAX_DEPTH)
    return -ELOOP;
  int fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? 0 : -errno;
  DIR *d = fdopendir(fd);
  if (!d) {
    int e = errno;
    close(fd);
    return -e;
  }
  int rc = 0;
  struct dirent *de;
  while (rc == 0 && (de = readdir(d)) != NULL) {
    const char *s = de->d_name;
    if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
      continue;
    struct stat sb;
    if (fstatat(fd, s, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
      rc = errno == ENOENT ? 0 : -errno;
      continue;
    }
    if (S_ISDIR(sb.st_mode)) {
      rc = remove_tree(fd, s, depth + 1);
      if (rc == 0 && unlinkat(fd, s, AT_REMOVEDIR) != 0 && errno != ENOENT)
        rc = -errno;
    } else if (unlinkat(fd, s, 0) != 0 && errno != ENOENT) {
      rc = -errno;
    }
  }
  closedir(d);
  return rc;
}

int cp_files_delete(cp_files_root_t *r, const char *path, bool recursive) {
  const char *name;
  int dfd = cp_files_open_parent(r, path, &name);
  if (dfd < 0)
    return dfd;
  struct stat sb;
  int rc = 0;
  if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
    rc = -errno;
  } else if (!S_ISDIR(sb.st_mode)) {
    rc = unlinkat(dfd, name, 0) == 0 ? 0 : -errno;
  } else {
    rc = unlinkat(dfd, name, AT_REMOVEDIR) == 0 ? 0 : -errno;
    if (rc == -EEXIST)
      rc = -ENOTEMPTY;
    /* entries created while we delete: a few more passes */
    for (int pass = 0; rc == -ENOTEMPTY && recursive && pass < 3; pass++) {
      rc = remove_tree(dfd, name, 0);
      if (rc == 0)
        rc = unlinkat(dfd, name, AT_REMOVEDIR) == 0 ? 0 : -errno;
      if (rc == -EEXIST)
        rc = -ENOTEMPTY;
    }
  }
  close(dfd);
  return rc;
}

/* ---- uploads -------------------------------------------------------------------------- */

/* Writes a fresh random hidden name into out. */
static void temp_name(char *out, size_t n) {
  unsigned long long v = 0;
  if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v)
    v = (unsigned long long)getpid() ^ (unsigned long long)(uintptr_t)out ^
        (unsigned long long)rand();
  snprintf(out, n, "%s%016llx", CP_FILES_TMP_PREFIX, v);
}

int cp_files_upload_begin(cp_files_root_t *r, const char *path, bool overwrite,
                          cp_files_upload_t *u) {
  memset(u, 0, sizeof *u);
  u->fd = u->dirfd = -1;
  const char *name;
  int dfd = cp_files_open_parent(r, path, &name);
  if (dfd < 0)
    return dfd;
  struct stat sb;
  int rc = 0;
  if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISDIR(sb.st_mode))
      rc = -EISDIR;
    else if (!overwrite)
      rc = -EEXIST;
    u->existed = true;
  } else if (errno != ENOENT) {
    rc = -errno;
  }
  if (rc) {
    close(dfd);
    return rc;
  }
  int fd = openat(dfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
  for (int i = 0; fd < 0 && i < 16; i++) {
    /* no O_TMPFILE on this file system: a hidden name, removed on failure */
    temp_name(u->tmpname, sizeof u->tmpname);
    fd = openat(dfd, u->tmpname, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0 && errno != EEXIST)
      break;
  }
  if (fd < 0) {
    rc = -errno;
    close(dfd);
    u->tmpname[0] = '\0';
    return rc;
  }
  snprintf(u->name, sizeof u->name, "%s", name);
  u->dirfd = dfd;
  u->fd = fd;
  return 0;
}

int cp_files_upload_write(cp_files_upload_t *u, const void *data, size_t len) {
  const char *p = data;
  while (len > 0) {
    ssize_t n = write(u->fd, p, len);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -errno;
    }
    p += n;
    len -= (size_t)n;
    u->written += (uint64_t)n;
  }
  return 0;
}

/* Names an O_TMPFILE file with a hidden temporary name. */
static int link_anonymous(cp_files_upload_t *u) {
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", u->fd);
  for (int i = 0; i < 16; i++) {
    temp_name(u->tmpname, sizeof u->tmpname);
    if (linkat(AT_FDCWD, proc, u->dirfd, u->tmpname, AT_SYMLINK_FOLLOW) == 0 ||
        linkat(u->fd, "", u->dirfd, u->tmpname, AT_EMPTY_PATH) == 0)
      return 0;
    if (errno != EEXIST)
      break;
  }
  int e = errno;
  u->tmpname[0] = '\0';
  return -e;
}

int cp_files_upload_commit(cp_files_upload_t *u, bool overwrite) {
  int rc = fsync(u->fd) == 0 ? 0 : -errno;
  if (rc == 0 && !u->tmpname[0])
    rc = link_anonymous(u);
  if (rc == 0 &&
      renameat2(u->dirfd, u->tmpname, u->dirfd, u->name, overwrite ? 0 : RENAME_NOREPLACE) != 0)
    rc = -errno;
  if (rc == 0) {
    u->tmpname[0] = '\0'; /* it is the real file now */
    fsync(u->dirfd);
  }
  cp_files_upload_cancel(u);
  return rc;
}

void cp_files_upload_cancel(cp_files_upload_t *u) {
  if (!u)
    return;
  if (u->fd >= 0)
    close(u->fd);
  if (u->dirfd >= 0) {
    if (u->tmpname[0])
      unlinkat(u->dirfd, u->tmpname, 0);
    close(u->dirfd);
  }
  u->fd = u->dirfd = -1;
  u->tmpname[0] = '\0';
}

uint64_t cp_files_free_bytes(int dirfd) {
  struct statvfs v;
  if (fstatvfs(dirfd, &v) != 0)
    return UINT64_MAX;
  return (uint64_t)v.f_bavail * (uint64_t)v.f_frsize;
}
