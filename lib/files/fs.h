/* Confined file operations on one workspace directory.
 *
 * The root is opened once; every path (already checked by cp_files_path_parse) is
 * resolved from that descriptor with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS),
 * so neither "..", an absolute symlink nor a symlink swapped in during the call can lead
 * outside. Symlinks that stay inside are followed for intermediate components; where
 * openat2 is missing (ENOSYS) each component is opened with O_NOFOLLOW instead, which
 * follows no symlink at all. Operations on a final name (stat, mkdir, rename, unlink) work
 * on the name itself from its confined parent, so a final symlink is never followed.
 *
 * Returns: file descriptors, or 0, or a negative errno (-ENOENT, -EXDEV when a symlink
 * leads out, -ELOOP, -EEXIST, -ENOTEMPTY, -ENOSPC, ...), which the service maps to HTTP
 * statuses. Blocking system calls; any thread, no shared state beyond the root fd.
 */
#ifndef CP_FILES_FS_H
#define CP_FILES_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "files/path.h"

/* Prefix of the temporary names of uploads in progress (hidden from listings). */
#define CP_FILES_TMP_PREFIX ".clawplane-upload-"

typedef struct cp_files_root_s {
  int fd;          /* O_PATH directory */
  bool no_openat2; /* openat2 answered ENOSYS: per-component O_NOFOLLOW */
} cp_files_root_t;

/* Opens dir as the root. Returns 0 or -errno (-ENOTDIR when it is no directory). */
int cp_files_root_open(const char *dir, cp_files_root_t *out);

/* Closes the root. Accepts NULL. */
void cp_files_root_close(cp_files_root_t *r);

/* Opens path ("" is the root) beneath the root with open(2) flags (O_CLOEXEC added; no
 * O_CREAT). Returns the fd or -errno. */
int cp_files_open(cp_files_root_t *r, const char *path, int flags);

/* Opens the directory holding path's last segment (O_RDONLY | O_DIRECTORY) and points
 * *name into path at that segment. Returns the fd, -EINVAL for the root, or -errno. */
int cp_files_open_parent(cp_files_root_t *r, const char *path, const char **name);

typedef enum cp_files_type_e {
  CP_FILES_FILE,
  CP_FILES_DIR,
  CP_FILES_SYMLINK,
  CP_FILES_OTHER,
} cp_files_type_t;

/* What a listing entry or a stat reports. target is set for symlinks only. */
typedef struct cp_files_stat_s {
  cp_files_type_t type;
  uint64_t size;
  int64_t mtime_ns;
  unsigned mode; /* permission bits */
  char target[CP_FILES_PATH_MAX + 1];
} cp_files_stat_t;

/* "file", "dir", "symlink", "other". */
const char *cp_files_type_name(cp_files_type_t t);

/* Stats path without following a final symlink. Returns 0 or -errno. */
int cp_files_stat(cp_files_root_t *r, const char *path, cp_files_stat_t *st);

/* Stats name inside the open directory dirfd, like cp_files_stat. */
int cp_files_statat(int dirfd, const char *name, cp_files_stat_t *st);

/* Fills st from an open descriptor. */
void cp_files_fstat_fill(int fd, cp_files_stat_t *st);

/* Reads the names in directory path (".", ".." and uploads in progress left out), sorted
 * bytewise, into *names (an array of *n heap strings; free with cp_files_names_free).
 * At most max_names are kept (-E2BIG past it). Returns 0 or -errno. */
int cp_files_list_names(cp_files_root_t *r, const char *path, size_t max_names, char ***names,
                        size_t *n, int *dirfd);
void cp_files_names_free(char **names, size_t n);

/* Creates directory path. Returns 0, -EEXIST, -ENOENT (parent missing) or -errno. */
int cp_files_mkdir(cp_files_root_t *r, const char *path);

/* Renames from to to; with overwrite false an existing to gives -EEXIST (atomically,
 * RENAME_NOREPLACE). Returns 0 or -errno. */
int cp_files_move(cp_files_root_t *r, const char *from, const char *to, bool overwrite);

/* Deletes a file, symlink or empty directory; a non-empty directory needs recursive
 * (-ENOTEMPTY otherwise). Recursion opens each directory with O_NOFOLLOW from its
 * parent's descriptor, so a symlink inside is removed, never followed. The root itself:
 * -EINVAL. Returns 0 or -errno. */
int cp_files_delete(cp_files_root_t *r, const char *path, bool recursive);

/* ---- uploads -------------------------------------------------------------------------- */

/* One upload in progress: an unnamed (O_TMPFILE) or hidden temporary file in the target's
 * directory, named only by cp_files_upload_commit. */
typedef struct cp_files_upload_s {
  int dirfd;
  int fd;
  char name[CP_FILES_NAME_MAX + 1];
  char tmpname[64]; /* "" while the file is unnamed */
  uint64_t written;
  bool existed; /* the target existed when the upload began */
} cp_files_upload_t;

/* Starts an upload to path. Checks: the parent exists (-ENOENT) and is a directory
 * (-ENOTDIR); the target is not a directory (-EISDIR) and, unless overwrite, does not
 * exist (-EEXIST). Returns 0 or -errno; on failure nothing is left behind. */
int cp_files_upload_begin(cp_files_root_t *r, const char *path, bool overwrite,
                          cp_files_upload_t *u);

/* Appends len bytes. Returns 0 or -errno (-ENOSPC, -EDQUOT, -EIO). */
int cp_files_upload_write(cp_files_upload_t *u, const void *data, size_t len);

/* fsyncs the data and gives the file its name (RENAME_NOREPLACE unless overwrite), then
 * fsyncs the directory. Returns 0 or -errno (-EEXIST: created meanwhile); the upload is
 * finished either way (nothing is left behind on failure). */
int cp_files_upload_commit(cp_files_upload_t *u, bool overwrite);

/* Drops an unfinished upload: nothing is left behind. Accepts a finished one. */
void cp_files_upload_cancel(cp_files_upload_t *u);

/* Free bytes for an unprivileged writer on the file system of dirfd, or UINT64_MAX if
 * unknown. */
uint64_t cp_files_free_bytes(int dirfd);

#endif
