/* Shared helpers for unit and e2e tests: reading fixture files, unique names, and a
 * kube client for the cluster the test runs against (from $KUBECONFIG). */
#ifndef CP_TEST_TESTUTIL_H
#define CP_TEST_TESTUTIL_H

#include <stddef.h>

/* Reads a whole file into a NUL-terminated heap buffer; NULL if unreadable. */
char *cp_test_read_file(const char *path, size_t *len_out);

/* Writes a name unique to this process and call into out: "<prefix>-<pid>-<n>". */
void cp_test_unique_name(const char *prefix, char *out, size_t outlen);

#endif
