/* Confinement of the file service's operations: whatever a path or a symlink in the
 * workspace says, nothing outside the root is read, written, created or deleted, also
 * while another process swaps a directory for a symlink during uploads. Each case runs
 * with openat2 and with the per-component O_NOFOLLOW fallback. Plus uploads leaving
 * nothing behind, recursive delete, and tar archives that tar(1) extracts. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "files/fs.h"
#include "files/tar.h"

typedef struct env_s {
  char base[256], root[300], outside[300];
  cp_files_root_t r;
} env_t;

static void put_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static char *slurp(const char *path) {
  static char buf[4096];
  FILE *f = fopen(path, "r");
  if (!f)
    return NULL;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  return buf;
}

static void at(char *out, size_t n, const char *dir, const char *rel) {
  snprintf(out, n, "%s/%s", dir, rel);
}

/* base/root is the workspace; base/outside holds secret.txt. Links in the root:
 * out_file -> ../outside/secret.txt, out_dir -> ../outside, abs -> /etc (absolute),
 * in_link -> sub (stays inside). */
static int setup(void **state) {
  env_t *e = calloc(1, sizeof *e);
  snprintf(e->base, sizeof e->base, "/tmp/cp-files-test-XXXXXX");
  assert_non_null(mkdtemp(e->base));
  at(e->root, sizeof e->root, e->base, "root");
  at(e->outside, sizeof e->outside, e->base, "outside");
  assert_int_equal(mkdir(e->root, 0755), 0);
  assert_int_equal(mkdir(e->outside, 0755), 0);
  char p[512];
  at(p, sizeof p, e->outside, "secret.txt");
  put_file(p, "SECRET");
  at(p, sizeof p, e->root, "sub");
  assert_int_equal(mkdir(p, 0755), 0);
  at(p, sizeof p, e->root, "sub/file.txt");
  put_file(p, "inside");
  at(p, sizeof p, e->root, "out_file");
  assert_int_equal(symlink("../outside/secret.txt", p), 0);
  at(p, sizeof p, e->root, "out_dir");
  assert_int_equal(symlink("../outside", p), 0);
  at(p, sizeof p, e->root, "abs");
  assert_int_equal(symlink("/etc", p), 0);
  at(p, sizeof p, e->root, "in_link");
  assert_int_equal(symlink("sub", p), 0);
  assert_int_equal(cp_files_root_open(e->root, &e->r), 0);
  *state = e;
  return 0;
}

static int teardown(void **state) {
  env_t *e = *state;
  cp_files_root_close(&e->r);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", e->base);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", e->base);
  free(e);
  return 0;
}

/* The outside directory still holds exactly secret.txt with its content. */
static void outside_untouched(env_t *e) {
  DIR *d = opendir(e->outside);
  assert_non_null(d);
  struct dirent *de;
  int n = 0;
  while ((de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    if (strcmp(de->d_name, "secret.txt") != 0)
      fail_msg("a write landed outside the workspace: %s", de->d_name);
    n++;
  }
  closedir(d);
  assert_int_equal(n, 1);
  char p[512];
  at(p, sizeof p, e->outside, "secret.txt");
  assert_string_equal(slurp(p), "SECRET");
}

static int upload(env_t *e, const char *path, bool overwrite, const char *text) {
  cp_files_upload_t u;
  int rc = cp_files_upload_begin(&e->r, path, overwrite, &u);
  if (rc)
    return rc;
  rc = cp_files_upload_write(&u, text, strlen(text));
  if (rc) {
    cp_files_upload_cancel(&u);
    return rc;
  }
  return cp_files_upload_commit(&u, overwrite);
}

static void confinement_checks(env_t *e, bool fallback) {
  e->r.no_openat2 = fallback;
  /* reads through links that leave the root fail; inside ones work (openat2 only) */
  assert_true(cp_files_open(&e->r, "out_file", O_RDONLY) < 0);
  assert_true(cp_files_open(&e->r, "out_dir/secret.txt", O_RDONLY) < 0);
  assert_true(cp_files_open(&e->r, "abs/passwd", O_RDONLY) < 0);
  assert_true(cp_files_open(&e->r, "abs", O_RDONLY | O_DIRECTORY) < 0);
  int fd = cp_files_open(&e->r, "in_link/file.txt", O_RDONLY);
  if (fallback) {
    assert_true(fd < 0); /* the fallback follows no symlink at all */
  } else {
    assert_true(fd >= 0);
    close(fd);
  }
  fd = cp_files_open(&e->r, "sub/file.txt", O_RDONLY);
  assert_true(fd >= 0);
  close(fd);
  /* the library is handed checked paths, but even a raw ".." or "/" cannot escape */
  assert_true(cp_files_open(&e->r, "../outside/secret.txt", O_RDONLY) < 0);
  if (!fallback)
    assert_true(cp_files_open(&e->r, "/etc/passwd", O_RDONLY) < 0);
  assert_true(cp_files_open(&e->r, "sub/../../outside/secret.txt", O_RDONLY) < 0);

  /* writes through outward links fail and create nothing outside */
  assert_true(upload(e, "out_dir/new.txt", false, "x") < 0);
  assert_true(upload(e, "out_dir/secret.txt", true, "PWNED") < 0);
  assert_true(cp_files_mkdir(&e->r, "out_dir/newdir") < 0);
  assert_true(cp_files_move(&e->r, "sub/file.txt", "out_dir/moved.txt", false) < 0);
  assert_true(cp_files_delete(&e->r, "out_dir/secret.txt", false) < 0);
  outside_untouched(e);

  /* stat reports the link itself, with its target */
  cp_files_stat_t st;
  assert_int_equal(cp_files_stat(&e->r, "out_dir", &st), 0);
  assert_int_equal(st.type, CP_FILES_SYMLINK);
  assert_string_equal(st.target, "../outside");
}

static void confined_with_openat2(void **state) {
  confinement_checks(*state, false);
}

static void confined_with_fallback(void **state) {
  confinement_checks(*state, true);
}

/* Replacing or deleting a link touches the link, never its target. */
static void links_replaced_not_followed(void **state) {
  env_t *e = *state;
  assert_int_equal(upload(e, "out_file", true, "replaced"), 0);
  char p[512];
  at(p, sizeof p, e->root, "out_file");
  struct stat sb;
  assert_int_equal(lstat(p, &sb), 0);
  assert_true(S_ISREG(sb.st_mode));
  assert_string_equal(slurp(p), "replaced");
  assert_int_equal(cp_files_delete(&e->r, "out_dir", false), 0);
  at(p, sizeof p, e->root, "out_dir");
  assert_int_equal(lstat(p, &sb), -1);
  /* a tree holding a link to outside, deleted recursively */
  assert_int_equal(cp_files_mkdir(&e->r, "tree"), 0);
  assert_int_equal(cp_files_mkdir(&e->r, "tree/deep"), 0);
  assert_int_equal(upload(e, "tree/deep/f.txt", false, "f"), 0);
  at(p, sizeof p, e->root, "tree/deep/escape");
  assert_int_equal(symlink(e->outside, p), 0);
  assert_int_equal(cp_files_delete(&e->r, "tree", false), -ENOTEMPTY);
  assert_int_equal(cp_files_delete(&e->r, "tree", true), 0);
  at(p, sizeof p, e->root, "tree");
  assert_int_equal(lstat(p, &sb), -1);
  assert_int_equal(cp_files_delete(&e->r, "", true), -EINVAL);
  outside_untouched(e);
}

/* Hidden temporary names left in dir (there must be none). */
static int temp_files(const char *dir) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL)
    n += strncmp(de->d_name, CP_FILES_TMP_PREFIX, strlen(CP_FILES_TMP_PREFIX)) == 0;
  closedir(d);
  return n;
}

static void uploads_are_atomic(void **state) {
  env_t *e = *state;
  char p[512];
  /* a cancelled upload leaves nothing: neither the target nor a temporary file */
  cp_files_upload_t u;
  assert_int_equal(cp_files_upload_begin(&e->r, "sub/cut.bin", false, &u), 0);
  assert_int_equal(cp_files_upload_write(&u, "partial", 7), 0);
  cp_files_upload_cancel(&u);
  at(p, sizeof p, e->root, "sub/cut.bin");
  assert_int_equal(access(p, F_OK), -1);
  at(p, sizeof p, e->root, "sub");
  assert_int_equal(temp_files(p), 0);
  /* exists without overwrite; a directory; a missing parent */
  assert_int_equal(upload(e, "sub/file.txt", false, "x"), -EEXIST);
  assert_int_equal(upload(e, "sub", true, "x"), -EISDIR);
  assert_int_equal(upload(e, "nope/x.txt", false, "x"), -ENOENT);
  assert_int_equal(upload(e, "sub/file.txt/x", false, "x"), -ENOTDIR);
  /* created by someone else during the upload: the commit refuses to replace it */
  assert_int_equal(cp_files_upload_begin(&e->r, "sub/race.txt", false, &u), 0);
  assert_int_equal(cp_files_upload_write(&u, "mine", 4), 0);
  at(p, sizeof p, e->root, "sub/race.txt");
  put_file(p, "theirs");
  assert_int_equal(cp_files_upload_commit(&u, false), -EEXIST);
  assert_string_equal(slurp(p), "theirs");
  at(p, sizeof p, e->root, "sub");
  assert_int_equal(temp_files(p), 0);
  /* overwrite replaces in one step */
  assert_int_equal(upload(e, "sub/race.txt", true, "mine"), 0);
  at(p, sizeof p, e->root, "sub/race.txt");
  assert_string_equal(slurp(p), "mine");
  /* the hidden-name path (file systems without O_TMPFILE) cleans up the same way */
  assert_int_equal(cp_files_upload_begin(&e->r, "sub/named.txt", false, &u), 0);
  cp_files_upload_cancel(&u);
  at(p, sizeof p, e->root, "sub");
  assert_int_equal(temp_files(p), 0);
}

/* ---- the swap race --------------------------------------------------------------------- */

typedef struct swapper_s {
  env_t *e;
  atomic_int stop;
  atomic_long swaps;
} swapper_t;

/* Flips root/swap between a real directory and a symlink to outside, about every
 * millisecond, until stopped. */
static void *swap_loop(void *arg) {
  swapper_t *s = arg;
  char dir[512], real[512];
  at(dir, sizeof dir, s->e->root, "swap");
  at(real, sizeof real, s->e->root, "swap.real");
  while (!atomic_load(&s->stop)) {
    if (rename(dir, real) == 0) {
      if (symlink(s->e->outside, dir) == 0) {
        usleep(1000); /* uploads run into the link */
        unlink(dir);
      }
      rename(real, dir);
      atomic_fetch_add(&s->swaps, 1);
      usleep(1000); /* ... and into the real directory */
    }
  }
  return NULL;
}

/* Uploads (64 KiB in pieces, so the swap also lands between begin and commit), mkdirs
 * and deletes under root/swap for a second while it flips. */
static void swap_race(env_t *e, bool fallback) {
  e->r.no_openat2 = fallback;
  char dir[512];
  at(dir, sizeof dir, e->root, "swap");
  assert_int_equal(mkdir(dir, 0755), 0);
  static char piece[8192];
  memset(piece, 'p', sizeof piece);
  swapper_t s = {.e = e};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, swap_loop, &s), 0);
  int ok = 0, refused = 0;
  struct timespec t0, now;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0;; i++) {
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - t0.tv_sec >= 2 || (now.tv_sec - t0.tv_sec == 1 && now.tv_nsec >= t0.tv_nsec))
      break;
    char path[64];
    snprintf(path, sizeof path, "swap/f%d.txt", i % 50);
    cp_files_upload_t u;
    int rc = cp_files_upload_begin(&e->r, path, true, &u);
    for (int k = 0; rc == 0 && k < 8; k++)
      rc = cp_files_upload_write(&u, piece, sizeof piece);
    if (rc == 0)
      rc = cp_files_upload_commit(&u, true);
    else
      cp_files_upload_cancel(&u);
    rc == 0 ? ok++ : refused++;
    cp_files_mkdir(&e->r, "swap/d");
    cp_files_delete(&e->r, "swap/d", true);
  }
  atomic_store(&s.stop, 1);
  pthread_join(t, NULL);
  fprintf(stderr, "  %s: %d uploads landed inside, %d refused, %ld swaps\n",
          fallback ? "fallback" : "openat2", ok, refused, atomic_load(&s.swaps));
  assert_true(atomic_load(&s.swaps) > 50);
  assert_true(ok > 0 && refused > 0); /* both states were hit */
  outside_untouched(e);
}

static void swap_race_openat2(void **state) {
  swap_race(*state, false);
}

static void swap_race_fallback(void **state) {
  swap_race(*state, true);
}

/* ---- tar ------------------------------------------------------------------------------- */

static void tar_extracts_to_same_tree(void **state) {
  env_t *e = *state;
  char longname[200];
  memset(longname, 'L', 150);
  longname[150] = '\0';
  char rel[400];
  assert_int_equal(cp_files_mkdir(&e->r, "arch"), 0);
  assert_int_equal(cp_files_mkdir(&e->r, "arch/d"), 0);
  snprintf(rel, sizeof rel, "arch/d/%s", longname);
  assert_int_equal(upload(e, rel, false, "long name"), 0);
  assert_int_equal(upload(e, "arch/empty", false, ""), 0);
  char big[3000];
  for (size_t i = 0; i < sizeof big - 1; i++)
    big[i] = (char)('a' + i % 26);
  big[sizeof big - 1] = '\0';
  assert_int_equal(upload(e, "arch/big.txt", false, big), 0);
  char p[600];
  at(p, sizeof p, e->root, "arch/link");
  assert_int_equal(symlink(e->outside, p), 0); /* stored as a link, never followed */

  int fd = cp_files_open(&e->r, "arch", O_RDONLY | O_DIRECTORY);
  assert_true(fd >= 0);
  cp_files_tar_t *t = NULL;
  assert_int_equal(cp_files_tar_new(fd, "arch", &t), 0);
  char tarpath[600];
  at(tarpath, sizeof tarpath, e->base, "a.tar");
  FILE *f = fopen(tarpath, "w");
  assert_non_null(f);
  char buf[700]; /* odd piece size: headers and data cross piece borders */
  ssize_t n;
  size_t total = 0;
  while ((n = cp_files_tar_read(t, buf, sizeof buf)) > 0) {
    fwrite(buf, 1, (size_t)n, f);
    total += (size_t)n;
  }
  assert_int_equal(n, 0);
  fclose(f);
  cp_files_tar_free(t);
  assert_int_equal(total % 512, 0);

  char out[600], cmd[1400];
  at(out, sizeof out, e->base, "x");
  assert_int_equal(mkdir(out, 0755), 0);
  snprintf(cmd, sizeof cmd, "tar -C '%s' -xf '%s'", out, tarpath);
  assert_int_equal(system(cmd), 0);
  char q[1000];
  snprintf(q, sizeof q, "%s/arch/big.txt", out);
  assert_string_equal(slurp(q), big);
  snprintf(q, sizeof q, "%s/arch/d/%s", out, longname);
  assert_string_equal(slurp(q), "long name");
  snprintf(q, sizeof q, "%s/arch/empty", out);
  assert_string_equal(slurp(q), "");
  snprintf(q, sizeof q, "%s/arch/link", out);
  char target[600];
  ssize_t k = readlink(q, target, sizeof target - 1);
  assert_true(k > 0);
  target[k] = '\0';
  assert_string_equal(target, e->outside);
  snprintf(q, sizeof q, "%s/arch/link/secret.txt", out);
  snprintf(cmd, sizeof cmd, "tar -tf '%s' | grep -c secret.txt >/dev/null", tarpath);
  assert_true(system(cmd) != 0); /* the link's target was not archived */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(confined_with_openat2, setup, teardown),
      cmocka_unit_test_setup_teardown(confined_with_fallback, setup, teardown),
      cmocka_unit_test_setup_teardown(links_replaced_not_followed, setup, teardown),
      cmocka_unit_test_setup_teardown(uploads_are_atomic, setup, teardown),
      cmocka_unit_test_setup_teardown(swap_race_openat2, setup, teardown),
      cmocka_unit_test_setup_teardown(swap_race_fallback, setup, teardown),
      cmocka_unit_test_setup_teardown(tar_extracts_to_same_tree, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
