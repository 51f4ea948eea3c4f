/* A streaming tar writer for "download this folder": POSIX ustar headers, with a pax
 * extended header in front of an entry whose name or link target does not fit ustar's
 * fields or whose size passes 8 GiB.
 *
 * The tree is walked from an open directory with O_NOFOLLOW at every step, so symlinks
 * are stored as symlinks and never followed. The archive is produced on demand in pieces
 * of the caller's size (cp_files_tar_read), keeping one directory descriptor per level
 * and one open file: memory stays flat whatever the tree. A file that shrinks while it is
 * read is padded with zeros to the size its header announced; growth is cut. Devices,
 * sockets, FIFOs and uploads in progress are left out. Blocking reads; one thread at a time.
 */
#ifndef CP_FILES_TAR_H
#define CP_FILES_TAR_H

#include <stddef.h>
#include <sys/types.h>

typedef struct cp_files_tar_s cp_files_tar_t;

/* Starts an archive of the directory dirfd (taken over: closed by cp_files_tar_free)
 * whose entries are named "<top>/...". Returns 0 and *out, or CP_ENOMEM / CP_EINVAL. */
int cp_files_tar_new(int dirfd, const char *top, cp_files_tar_t **out);

/* Writes the next up to cap bytes of the archive into buf. Returns the number written
 * (0 once the archive is complete) or -errno (e.g. -ELOOP past 64 directory levels). */
ssize_t cp_files_tar_read(cp_files_tar_t *t, char *buf, size_t cap);

/* Frees the writer and closes what it holds. Accepts NULL. */
void cp_files_tar_free(cp_files_tar_t *t);

#endif
